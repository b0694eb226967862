#!/usr/bin/python3
"""The soak: CLIENTS processes hammer one volmand for SECONDS with a random mix
of creates (local and tmpfs, scoped and not), inspects, lists, mounts and
unmounts (REST and plugin faces), removals and prunes, each on its own
kept-alive connection. Every answer must be one the API documents for that
request; at the end the daemon's state must be consistent (no transitional
status, every volume's directory there, no storage without a volume once the
background removals are done) and its RSS must not have grown past a bound
after the warm-up. Prints one summary line per minute and a final report.

Usage: bench/soak.py --socket S --plugin-socket P --pid PID --root ROOT
                     [--seconds 480] [--clients 16] [--report FILE]
"""

import argparse
import http.client
import json
import multiprocessing
import os
import random
import socket
import sys
import time

OK = {
    "create": {200, 201, 409, 507},  # 409: taken in a race; 507: memory budget
    "inspect": {200, 404},
    "list": {200},
    "mount": {200, 404, 409},
    "unmount": {200, 404},
    "remove": {204, 404, 409},
    "prune": {200},
    "pmount": {200, 500},  # the plugin's errors are 500 with Err
    "punmount": {200},
}


class Conn(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=60)
        self.path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(60)
        s.connect(self.path)
        self.sock = s


def call(conn, method, path, body=None):
    for attempt in range(3):
        try:
            data = json.dumps(body).encode() if body is not None else None
            conn.request(method, path, body=data,
                         headers={"Content-Type": "application/json"} if data else {})
            r = conn.getresponse()
            raw = r.read()
            return r.status, raw
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            conn.close()  # an idle connection the server closed: once more
    raise RuntimeError("%s %s: the connection kept failing" % (method, path))


def worker(idx, sock, psock, seconds, out):
    rnd = random.Random(idx)
    rest, plug = Conn(sock), Conn(psock)
    counts, bad = {}, []
    names = ["s%02d-%03d" % (idx % 4, i) for i in range(60)]  # shared with 3 other workers
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        name = rnd.choice(names)
        op = rnd.choices(["create", "inspect", "list", "mount", "unmount", "remove", "prune",
                          "pmount", "punmount"], [20, 25, 3, 10, 10, 15, 1, 8, 8])[0]
        if op == "create":
            body = {"name": name}
            if rnd.random() < 0.2:
                body.update(driver="tmpfs", options={"size": "1m"})
            if rnd.random() < 0.1:
                body = {"scope": {"tenant": "t%d" % (idx % 3), "env": "e", "app": "a%d" % rnd.randrange(5),
                                  "path": "/p%d" % rnd.randrange(3)}}
            st, raw = call(rest, "POST", "/v1/volumes", body)
        elif op == "inspect":
            st, raw = call(rest, "GET", "/v1/volumes/" + name)
        elif op == "list":
            st, raw = call(rest, "GET", "/v1/volumes?limit=500")
        elif op == "mount":
            st, raw = call(rest, "POST", "/v1/volumes/%s/mount" % name, {"id": "w%d" % idx})
        elif op == "unmount":
            st, raw = call(rest, "POST", "/v1/volumes/%s/unmount" % name, {"id": "w%d" % idx})
        elif op == "remove":
            st, raw = call(rest, "DELETE", "/v1/volumes/" + name)
        elif op == "prune":
            st, raw = call(rest, "POST", "/v1/volumes/prune", {"filters": ["name=s%02d" % (idx % 4)]})
        elif op == "pmount":
            st, raw = call(plug, "POST", "/VolumeDriver.Mount", {"Name": name, "ID": "p%d" % idx})
        else:
            st, raw = call(plug, "POST", "/VolumeDriver.Unmount", {"Name": name, "ID": "p%d" % idx})
        counts[op] = counts.get(op, 0) + 1
        if st not in OK[op] or (st >= 400 and not raw):
            bad.append("%s %s -> %d %s" % (op, name, st, raw[:200]))
            if len(bad) > 20:
                break
    out.put((counts, bad))


def rss(pid):
    with open("/proc/%d/status" % pid) as f:
        return {l.split(":")[0]: int(l.split()[1]) for l in f if l.startswith(("VmRSS", "VmHWM"))}


def consistency(sock, root):
    c = Conn(sock)
    deadline = time.monotonic() + 120
    while True:
        st, raw = call(c, "GET", "/v1/health")
        if json.loads(raw)["removals_pending"] == 0:
            break
        if time.monotonic() > deadline:
            return ["removals still pending after 120 s"]
        time.sleep(0.2)
    vols, after = [], None
    while True:
        st, raw = call(c, "GET", "/v1/volumes?limit=10000" + ("&after=" + after if after else ""))
        j = json.loads(raw)
        vols += j["volumes"]
        after = j["next"]
        if not after:
            break
    problems = []
    mps = set()
    for v in vols:
        if v["status"] != "ready":
            problems.append("%s is %s" % (v["name"], v["status"]))
        if not os.path.isdir(v["mountpoint"]):
            problems.append("%s has no directory" % v["name"])
        mps.add(os.path.realpath(v["mountpoint"]))
    for drv in ("local", "tmpfs"):
        d = os.path.join(root, drv)
        for e in os.listdir(d) if os.path.isdir(d) else []:
            if os.path.realpath(os.path.join(d, e)) not in mps:
                problems.append("storage %s/%s has no volume" % (drv, e))
    return problems, len(vols)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket", required=True)
    ap.add_argument("--plugin-socket", required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--root", required=True)
    ap.add_argument("--seconds", type=int, default=480)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--report", default="")
    a = ap.parse_args()
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    t0 = time.monotonic()
    procs = [ctx.Process(target=worker, args=(i, a.socket, a.plugin_socket, a.seconds, out))
             for i in range(a.clients)]
    for p in procs:
        p.start()
    samples = []
    while any(p.is_alive() for p in procs):
        samples.append((time.monotonic() - t0, rss(a.pid)["VmRSS"]))
        if len(samples) % 6 == 1:
            print("t=%4.0fs RSS %d KiB" % samples[-1], flush=True)
        time.sleep(10)
        if time.monotonic() - t0 > a.seconds + 120:
            break
    results = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(10)
    took = time.monotonic() - t0
    counts, bad = {}, []
    for c, b in results:
        for k, n in c.items():
            counts[k] = counts.get(k, 0) + n
        bad += b
    total = sum(counts.values())
    problems, n_vols = consistency(a.socket, a.root)
    warm = [r for t, r in samples if t >= min(60, a.seconds / 4)]
    growth = (max(warm) - min(warm)) if warm else 0
    lines = [
        "# volman soak: %d clients, %d s, %s" % (a.clients, a.seconds, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())),
        "operations: %d (%.0f/s): %s" % (total, total / took, ", ".join("%s %d" % kv for kv in sorted(counts.items()))),
        "unexpected answers: %d%s" % (len(bad), (": " + "; ".join(bad[:5])) if bad else ""),
        "RSS: start %d KiB, end %d KiB, after warm-up min %d max %d KiB (growth %d KiB), peak %d KiB"
        % (samples[0][1], samples[-1][1], min(warm) if warm else 0, max(warm) if warm else 0, growth,
           rss(a.pid)["VmHWM"]),
        "consistency at the end: %d volumes, %s" % (n_vols, "; ".join(problems[:5]) if problems else "consistent"),
    ]
    text = "\n".join(lines) + "\n"
    print(text, end="")
    if a.report:
        with open(a.report, "w") as f:
            f.write(text)
    return 1 if bad or problems or growth > 16384 else 0


if __name__ == "__main__":
    sys.exit(main())
