#!/usr/bin/python3
"""bench/storage.py: snapshots, export and import, clones, measured (run by bench/storage.sh).

1. Snapshot of a btrfs volume holding 1 GiB in 10,000 files: POST .../snapshots, then DELETE
   it, ROUNDS times; median of the snapshot calls. Target: <= 50 ms.
2. Export and import of a local volume holding the same tree, against `tar -c` and `tar -x`
   of the same tree on the same disk, alternating, ROUNDS times each; medians. Both sides
   make their result durable (volman's CLI fsyncs the archive it writes, and volmand syncs
   an imported volume before it answers; tar is followed by `sync FILE` and `sync -f DIR`).
   Targets: volman's throughput >= 80% of tar's, both ways.
3. Clone of a loop volume holding 1 GiB: with the data root on btrfs (reflinks) against the
   data root on the bench disk (a plain copy); median of ROUNDS.

Usage: storage.py BUILD_DIR WORK_DIR BTRFS_MOUNT ROUNDS"""

import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time

BUILD, WORK, BTRFS, ROUNDS = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
FILES, FILE_SIZE = 10_000, 100 * 1024  # 10,000 files of 100 KiB: ~1 GiB


class Unix(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=600)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


def call(sock, method, path, body=None, want=(200, 201, 204)):
    c = Unix(sock)
    c.request(method, path, body=json.dumps(body) if body is not None else None)
    r = c.getresponse()
    data = r.read()
    c.close()
    if r.status not in want:
        sys.exit("%s %s: %d %s" % (method, path, r.status, data[:300]))
    return json.loads(data) if data else None


def start(root, name, extra=()):
    sock = os.path.join(WORK, name + ".sock")
    log = open(os.path.join(WORK, name + ".log"), "w")
    p = subprocess.Popen([os.path.join(BUILD, "volmand"), "--root", root, "--socket", sock,
                          "--plugin-socket", "none", *extra], stdout=log, stderr=log)
    for _ in range(200):
        try:
            call(sock, "GET", "/v1/health")
            return p, sock
        except (OSError, SystemExit):
            time.sleep(0.05)
    sys.exit("volmand %s did not start" % name)


def fill(path):
    block = os.urandom(FILE_SIZE)
    for i in range(FILES):
        d = os.path.join(path, "d%02d" % (i % 100))
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "f%05d" % i), "wb") as f:
            f.write(block[i % 4096:] + block[:i % 4096])  # no two files alike
    os.sync()


def timed(fn):
    t0 = time.monotonic()
    fn()
    return time.monotonic() - t0


def ms(x):
    return "%.1f ms" % (x * 1000)


def mbs(nbytes, secs):
    return "%.0f MB/s" % (nbytes / secs / 1e6)


def main():
    total = FILES * FILE_SIZE
    volman = os.path.join(BUILD, "cli", "volman")
    print("# %d files of %d KiB (%.2f GiB), %d rounds, medians" % (FILES, FILE_SIZE >> 10, total / 2**30, ROUNDS))

    # 1. btrfs snapshot
    p, sock = start(os.path.join(WORK, "root-b"), "b", ["--btrfs-root", BTRFS])
    v = call(sock, "POST", "/v1/volumes", {"name": "snap-src", "driver": "btrfs"})
    fill(v["mountpoint"])
    times = []
    for i in range(ROUNDS):
        times.append(timed(lambda: call(sock, "POST", "/v1/volumes/snap-src/snapshots", {"name": "s%d" % i})))
        call(sock, "DELETE", "/v1/volumes/snap-src/snapshots/s%d" % i)
    print("snapshot of a btrfs volume of 1 GiB in 10,000 files: median %s (target <= 50 ms); rounds %s"
          % (ms(statistics.median(times)), ", ".join(ms(t) for t in times)))
    p.terminate()
    p.wait()

    # 2. export and import against tar, on the bench disk
    p, sock = start(os.path.join(WORK, "root-l"), "l")
    v = call(sock, "POST", "/v1/volumes", {"name": "x-src"})
    fill(v["mountpoint"])
    arch, tar_arch = os.path.join(WORK, "x.tar"), os.path.join(WORK, "t.tar")
    exp, tarc, imp, tarx = [], [], [], []
    for i in range(ROUNDS):
        for f in (arch, tar_arch):
            if os.path.exists(f):
                os.unlink(f)
        exp.append(timed(lambda: subprocess.run([volman, "--socket", sock, "volume", "export", "x-src", "-o", arch,
                                                 "--quiet"], check=True)))
        # tar's archive synced too: volman's CLI syncs the archive it writes before naming it
        tarc.append(timed(lambda: subprocess.run("tar -cf %s -C %s . && sync %s" % (tar_arch, v["mountpoint"], tar_arch),
                                                 shell=True, check=True)))
        name = "x-imp-%d" % i
        imp.append(timed(lambda: subprocess.run([volman, "--socket", sock, "volume", "import", name, "-i", arch,
                                                 "--quiet"], check=True, capture_output=True)))
        dest = os.path.join(WORK, "tar-x-%d" % i)
        os.makedirs(dest)
        # and its files synced: an import is durable before volmand answers
        tarx.append(timed(lambda: subprocess.run("tar -xf %s -C %s && sync -f %s" % (tar_arch, dest, dest),
                                                 shell=True, check=True)))
        call(sock, "DELETE", "/v1/volumes/" + name)
        shutil.rmtree(dest)
    e, tc, im, tx = (statistics.median(x) for x in (exp, tarc, imp, tarx))
    print("export: volman %s (%s), tar -c %s (%s): %.0f%% of tar's throughput (target >= 80%%)"
          % (ms(e), mbs(total, e), ms(tc), mbs(total, tc), 100 * tc / e))
    print("import: volman %s (%s), tar -x %s (%s): %.0f%% of tar's throughput (target >= 80%%)"
          % (ms(im), mbs(total, im), ms(tx), mbs(total, tx), 100 * tx / im))
    p.terminate()
    p.wait()

    # 3. clone of a loop volume: reflinks (root on btrfs) against a copy (root on the bench disk)
    results = {}
    for label, root in (("reflink (root on btrfs)", os.path.join(BTRFS, "loop-root")),
                        ("plain copy (root on the bench disk)", os.path.join(WORK, "root-c"))):
        p, sock = start(root, "c" + str(len(results)))
        v = call(sock, "POST", "/v1/volumes", {"name": "c-src", "driver": "loop", "options": {"size": "1280m"}})
        fill(v["mountpoint"])
        times = []
        for i in range(ROUNDS):
            times.append(timed(lambda: call(sock, "POST", "/v1/volumes/c-src/clone", {"name": "c-%d" % i})))
            call(sock, "DELETE", "/v1/volumes/c-%d" % i)
        results[label] = statistics.median(times)
        print("clone of a 1 GiB loop volume, %s: median %s; rounds %s"
              % (label, ms(results[label]), ", ".join(ms(t) for t in times)))
        call(sock, "DELETE", "/v1/volumes/c-src")
        p.terminate()
        p.wait()


main()
