"""volmand across a power loss: its root on lazyfs (README.md here), which
keeps every write not made durable in memory and drops it on `crash`.

Each test acknowledges creates (one at a time, concurrent, local and tmpfs),
deletes and mount references, then the machine "dies": volmand is killed
(-9), lazyfs drops what was not synced, and volmand starts again with another
boot id, as after a reboot. On what survived:
- every acknowledged create is listed, ready, with its directory, owner and
  mode; data a program fsync'd inside a volume is there;
- every acknowledged delete is gone, record and tree;
- no tree remains that no volume names, and no removal is left pending;
- no mount reference of the earlier boot survives.
Both metadata models run: `strict` (a directory entry is durable only when its
directory is fsync'd, or the new inode itself) and `journal` (any sync makes
every earlier metadata change durable: ext4, XFS).

A negative control runs volmand with fsync and fdatasync turned into no-ops:
the same checks must then find acknowledged volumes lost, or this harness
could not see a loss at all.
"""

import http.client
import json
import os
import signal
import socket
import stat
import subprocess
import threading
import time

import pytest

from test_lazyfs import BUILD, _mount, _unmount, _term_with_parent

VOLMAND = os.path.join(BUILD, "volmand")
START_TIMEOUT = 30.0


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=30)
        self.path_ = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        self.sock.connect(self.path_)


def call(sock, method, path, body=None):
    c = UnixHTTP(sock)
    try:
        data = json.dumps(body).encode() if body is not None else None
        c.request(method, path, body=data, headers={"Content-Type": "application/json"} if data else {})
        r = c.getresponse()
        raw = r.read()
        return r.status, (json.loads(raw) if raw else None)
    finally:
        c.close()


class Volmand:
    def __init__(self, fs, tmp):
        self.root = fs.path("root")
        self.sock = os.path.join(tmp, "v.sock")
        self.log_path = os.path.join(tmp, "volmand.log")
        self.proc = None
        self.fs = fs

    def start(self, boot, env_extra=None):
        env = dict(os.environ, VOLMAN_BOOT_ID=boot)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=0:abort_on_error=0")
        env.update(env_extra or {})
        if os.path.exists(self.sock):
            os.unlink(self.sock)
        with open(self.log_path, "a") as log:
            log.write("---- start, boot %s ----\n" % boot)
            log.flush()
            self.proc = subprocess.Popen([VOLMAND, "--root", self.root, "--socket", self.sock,
                                          "--plugin-socket", "none"],
                                         stdout=log, stderr=log, env=env, preexec_fn=_term_with_parent)
        self.fs.children.append(self.proc)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                pytest.fail("volmand exited with %d at start:\n%s" % (self.proc.returncode, self.log()),
                            pytrace=False)
            try:
                if call(self.sock, "GET", "/v1/health")[0] == 200:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("volmand did not answer in %.0f s:\n%s" % (START_TIMEOUT, self.log()),
                            pytrace=False)
            time.sleep(0.05)

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        assert self.proc.wait(timeout=30) == 0, self.log()

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def call(self, method, path, body=None):
        return call(self.sock, method, path, body)


@pytest.fixture(params=["strict", "journal"])
def machine(request, tmp_path):
    fs = _mount(request.param)
    d = Volmand(fs, str(tmp_path))
    try:
        yield fs, d
    finally:
        if d.proc and d.proc.poll() is None:
            d.proc.kill()
            d.proc.wait()
        unmount_volumes(fs)
        _unmount(fs)


def unmount_volumes(fs):
    """volmand's tmpfs volumes inside the mount, deepest first."""
    with open("/proc/self/mountinfo") as f:
        inside = [l.split()[4] for l in f if l.split()[4].startswith(fs.mnt + "/")]
    for m in sorted(inside, reverse=True):
        subprocess.run(["umount", "-l", m], capture_output=True)


def power_loss(fs, d, boot):
    d.kill9()            # no process survives a power cut
    fs.crash()           # the disk keeps only what was synced
    unmount_volumes(fs)  # and no mount survives a reboot
    d.start(boot)


def workload(d, acked, deleted, synced_files):
    """Acknowledged operations of every kind, recorded as they are answered."""
    def create(name, **fields):
        st, v = d.call("POST", "/v1/volumes", dict(fields, name=name))
        assert st == 201, (name, st, v)
        acked[name] = v

    for i in range(6):
        create("seq-%d" % i, labels={"i": str(i)}, options={"mode": "0750", "uid": "1000"})
    errors = []

    def burst(k):
        try:
            for i in range(4):
                create("par-%d-%d" % (k, i))
        except AssertionError as e:
            errors.append(e)
    ts = [threading.Thread(target=burst, args=(k,)) for k in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors, errors
    create("tmp-1", driver="tmpfs", options={"size": "1m"})
    # a program makes data durable inside a volume: fsync of the file alone
    for name in ("seq-0", "par-3-1"):
        p = os.path.join(acked[name]["mountpoint"], "data.txt")
        fd = os.open(p, os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, b"kept:" + name.encode())
        os.fsync(fd)
        os.close(fd)
        synced_files[name] = b"kept:" + name.encode()
    # deletes, one with content inside
    for name in ("seq-5", "par-0-0", "par-7-3"):
        with open(os.path.join(acked[name]["mountpoint"], "junk"), "w") as f:
            f.write("x" * 10000)
        st, _ = d.call("DELETE", "/v1/volumes/" + name)
        assert st == 204, (name, st)
        deleted[name] = acked.pop(name)
    # mount references (ordered writes, no sync)
    for name in ("seq-1", "tmp-1"):
        st, v = d.call("POST", "/v1/volumes/%s/mount" % name, {"id": "ref-" + name})
        assert st == 200, (name, st, v)


def check_survivors(fs, d, acked, deleted, synced_files):
    """What every acknowledged operation must have left; returns problems."""
    problems = []
    st, page = d.call("GET", "/v1/volumes")
    assert st == 200, page
    listed = {v["name"]: v for v in page["volumes"]}
    for name, v in acked.items():
        got = listed.get(name)
        if not got:
            problems.append("acknowledged create %s is not listed" % name)
            continue
        if got["status"] != "ready":
            problems.append("%s is %s" % (name, got["status"]))
        if got["mounts"]:
            problems.append("%s kept references of the earlier boot: %s" % (name, got["mounts"]))
        mp = got["mountpoint"]
        if mp != v["mountpoint"]:
            problems.append("%s moved: %s -> %s" % (name, v["mountpoint"], mp))
        try:
            s = os.lstat(mp)
        except FileNotFoundError:
            problems.append("%s has no directory %s" % (name, mp))
            continue
        if not stat.S_ISDIR(s.st_mode):
            problems.append("%s: %s is not a directory" % (name, mp))
        if name.startswith("seq-") and (stat.S_IMODE(s.st_mode) != 0o750 or s.st_uid != 1000):
            problems.append("%s: mode %o uid %d, made 0750 uid 1000" % (name, stat.S_IMODE(s.st_mode),
                                                                      s.st_uid))
        if name in synced_files:
            try:
                with open(os.path.join(mp, "data.txt"), "rb") as f:
                    if f.read() != synced_files[name]:
                        problems.append("%s: fsync'd data changed" % name)
            except FileNotFoundError:
                problems.append("%s: fsync'd data.txt is gone" % name)
    for name, v in deleted.items():
        if name in listed:
            problems.append("acknowledged delete %s is listed again" % name)
    # the removals left to do at start-up finish in the background
    deadline = time.monotonic() + 30
    while d.call("GET", "/v1/health")[1]["removals_pending"] and time.monotonic() < deadline:
        time.sleep(0.1)
    if d.call("GET", "/v1/health")[1]["removals_pending"]:
        problems.append("removals still pending after 30 s")
    for name, v in deleted.items():
        if os.path.lexists(v["mountpoint"]):
            problems.append("the tree of deleted %s is still there" % name)
    named = {os.path.basename(v["mountpoint"]) for v in listed.values() if v["driver"] == "local"}
    on_disk = set(os.listdir(fs.path("root", "local"))) - {"snapshots"}  # the driver's snapshots folder
    if on_disk - named:
        problems.append("trees no volume names: %s" % sorted(on_disk - named))
    return problems


def test_acknowledged_operations_survive_a_power_loss(machine, tmp_path):
    fs, d = machine
    d.start("boot-1")
    acked, deleted, synced = {}, {}, {}
    workload(d, acked, deleted, synced)
    power_loss(fs, d, "boot-2")
    problems = check_survivors(fs, d, acked, deleted, synced)
    assert not problems, "\n".join(problems) + "\n--- volmand log ---\n" + d.log()[-4000:]
    # and it goes on: a second loss right after start-up's own repairs
    st, v = d.call("POST", "/v1/volumes", {"name": "after-1"})
    assert st == 201, v
    acked["after-1"] = v
    power_loss(fs, d, "boot-3")
    problems = check_survivors(fs, d, acked, deleted, synced)
    assert not problems, "\n".join(problems) + "\n--- volmand log ---\n" + d.log()[-4000:]
    d.stop()


def test_a_loss_in_the_middle_of_a_burst(machine):
    """Creates and deletes from 8 clients when the power goes: every one that
    was answered is there (or gone); the ones in flight may be either, whole."""
    fs, d = machine
    d.start("boot-1")
    for i in range(16):
        assert d.call("POST", "/v1/volumes", {"name": "old-%d" % i})[0] == 201
    acked, deleted, lock, stop = {}, {}, threading.Lock(), threading.Event()

    def client(k):
        i = 0
        while not stop.is_set():
            try:
                if k < 2 and i < 8:
                    name = "old-%d" % (k * 8 + i)
                    st, v = d.call("GET", "/v1/volumes/" + name)
                    st2, _ = d.call("DELETE", "/v1/volumes/" + name)
                    if st2 == 204:
                        with lock:
                            deleted[name] = v
                else:
                    name = "new-%d-%d" % (k, i)
                    st, v = d.call("POST", "/v1/volumes", {"name": name})
                    if st == 201:
                        with lock:
                            acked[name] = v
            except (OSError, http.client.HTTPException):
                return  # the power went
            i += 1
    ts = [threading.Thread(target=client, args=(k,)) for k in range(8)]
    for t in ts:
        t.start()
    time.sleep(0.5)
    d.kill9()
    stop.set()
    for t in ts:
        t.join()
    for i in range(16):
        name = "old-%d" % i
        if name not in deleted:
            acked.setdefault(name, None)
    assert len(acked) > 20 and deleted, (len(acked), len(deleted))
    fs.crash()
    unmount_volumes(fs)
    d.start("boot-2")
    st, page = d.call("GET", "/v1/volumes")
    listed = {v["name"]: v for v in page["volumes"]}
    for name, v in list(acked.items()):
        if v is None:  # an old volume whose delete was in flight: either way, whole
            if name in listed:
                acked[name] = listed[name]
            else:
                acked.pop(name)
    problems = check_survivors(fs, d, acked, deleted, {})
    assert not problems, "\n".join(problems) + "\n--- volmand log ---\n" + d.log()[-4000:]
    d.stop()


def test_the_harness_sees_a_loss(machine, tmp_path):
    """Negative control: volmand whose syncs do nothing loses acknowledged
    creates at the power loss, and the checks above say so."""
    fs, d = machine
    src = tmp_path / "nosync.c"
    src.write_text("int fsync(int fd) { (void)fd; return 0; }\n"
                   "int fdatasync(int fd) { (void)fd; return 0; }\n")
    lib = str(tmp_path / "nosync.so")
    subprocess.run(["cc", "-shared", "-fPIC", "-o", lib, str(src)], check=True)
    d.start("boot-1", {"LD_PRELOAD": lib,
                       "ASAN_OPTIONS": "detect_leaks=0:abort_on_error=0:verify_asan_link_order=0"})
    acked = {}
    for i in range(8):
        st, v = d.call("POST", "/v1/volumes", {"name": "v-%d" % i})
        assert st == 201, v
        acked["v-%d" % i] = v
    power_loss(fs, d, "boot-2")
    problems = check_survivors(fs, d, acked, {}, {})
    assert any("is not listed" in p for p in problems), problems
    d.stop()
