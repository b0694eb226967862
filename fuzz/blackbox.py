#!/usr/bin/python3
"""Black-box fuzzing of a running volmand over both of its sockets.

Sends malformed and mutated HTTP requests (broken request lines, headers and
framing, random bytes, hostile JSON bodies, long and odd names, bad escapes) to
the REST socket and the plugin socket, each on its own connection, and checks
after every answer:

  - an answer is one HTTP/1.1 status line, headers, and a body that is valid
    UTF-8 JSON in the socket's error shape for every status >= 400 (or the
    connection closes without a byte: allowed only after a refusal);
  - never a 5xx for a request the daemon could parse but refused;
  - the daemon is alive and healthy every REPORT requests, its RSS stays
    bounded, and its log has no sanitizer report.

Usage: fuzz/blackbox.py --socket S --plugin-socket P --pid PID [--requests N]
       [--seconds T] [--seed N] [--log FILE]
Exit status 0 when nothing went wrong, 1 with the first failing input shown.
"""

import argparse
import json
import os
import random
import socket
import sys
import time

METHODS = [b"GET", b"POST", b"PUT", b"DELETE", b"HEAD", b"OPTIONS", b"PATCH", b"BREW", b"G\x00T", b""]
PATHS = [b"/v1/health", b"/v1/volumes", b"/v1/volumes/x", b"/v1/volumes/prune", b"/v1/volumes/x/mount",
         b"/v1/volumes/x/unmount", b"/metrics", b"/v1/config", b"/v1/apps",
         b"/v1/tenants/t/envs/e/apps/a/config", b"/v1/tenants/t/envs/e/apps/a/resolved",
         b"/Plugin.Activate", b"/VolumeDriver.Create", b"/VolumeDriver.Get", b"/VolumeDriver.List",
         b"/VolumeDriver.Mount", b"/VolumeDriver.Unmount", b"/VolumeDriver.Remove"]
BODIES = [b"", b"{}", b'{"name":"fz"}', b'{"Name":"fz","Opts":{"size":"1m"}}', b'{"id":"r"}',
          b'{"filters":["label=x"],"dry_run":true}', b'{"writeableVolumes":["/data"]}',
          b'{"name":"\\ud800"}', b'{"name":"' + b"a" * 5000 + b'"}', b"[1,2,3]", b"null",
          b'{"labels":{"k":"\xff"}}', b'{"a":' * 200 + b"1" + b"}" * 200]
HEADER_NAMES = [b"Host", b"Content-Length", b"Transfer-Encoding", b"Connection", b"Expect",
                b"Content-Type", b"X-A", b"Bad Name", b""]


def mutate(b, rnd):
    b = bytearray(b)
    for _ in range(rnd.randint(1, 4)):
        op = rnd.random()
        if not b or op < 0.3:
            b[rnd.randint(0, len(b)):rnd.randint(0, len(b))] = bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 8)))
        elif op < 0.6:
            i = rnd.randrange(len(b))
            b[i] = rnd.randrange(256)
        elif op < 0.8:
            i = rnd.randrange(len(b))
            del b[i:i + rnd.randint(1, 16)]
        else:
            i = rnd.randrange(len(b))
            b[i:i] = b[i:i + rnd.randint(1, 64)] * rnd.randint(1, 50)
    return bytes(b)


def make_request(rnd):
    method = rnd.choice(METHODS)
    path = rnd.choice(PATHS)
    if rnd.random() < 0.3:
        path += b"?" + b"&".join(b"%s=%s" % (rnd.choice([b"filter", b"limit", b"after", b"x", b"%00", b"%ff"]),
                                             rnd.choice([b"1", b"name=a", b"%FF%FE", b"5%00x", b"", b"+"]))
                                 for _ in range(rnd.choice([1, 2, 40, 500])))
    if rnd.random() < 0.1:
        path += b"/" + b"x" * rnd.choice([100, 9000])
    version = rnd.choice([b"HTTP/1.1"] * 8 + [b"HTTP/1.0", b"HTTP/9.9", b"HTTP/1", b""])
    body = rnd.choice(BODIES)
    headers = [b"Host: x"]
    framing = rnd.random()
    if framing < 0.6:
        headers.append(b"Content-Length: %d" % len(body))
    elif framing < 0.75:
        headers.append(b"Transfer-Encoding: chunked")
        chunks = b""
        i = 0
        while i < len(body):
            n = rnd.randint(1, 64)
            chunks += b"%x\r\n%s\r\n" % (len(body[i:i + n]), body[i:i + n])
            i += n
        body = chunks + b"0\r\n\r\n"
    elif framing < 0.85:
        headers.append(b"Content-Length: " + rnd.choice([b"abc", b"-1", b"", b"18446744073709551616",
                                                         b"1 1", b"99999999999"]))
    elif framing < 0.9:
        headers += [b"Content-Length: %d" % len(body), b"Content-Length: %d" % (len(body) + 1)]
    for _ in range(rnd.choice([0, 0, 1, 3, 100])):
        headers.append(rnd.choice(HEADER_NAMES) + b": " + rnd.choice([b"v", b"x" * 1000, b"\x01", b" "]))
    req = method + b" " + path + b" " + version + b"\r\n" + b"\r\n".join(headers) + b"\r\n\r\n" + body
    if rnd.random() < 0.5:
        req = mutate(req, rnd)
    return req


def exchange(path, data, timeout):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    got = b""
    try:
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass
        while True:
            try:
                part = s.recv(65536)
            except ConnectionResetError:
                break
            if not part:
                break
            got += part
    finally:
        s.close()
    return got


def check_answer(got, plugin):
    """'' when got is a well-formed sequence of answers, else what is wrong."""
    if not got:
        return ""  # closed without a word: allowed (e.g. the client sent nothing whole)
    while got:
        head, sep, rest = got.partition(b"\r\n\r\n")
        if not sep:
            return "an answer without an end of head"
        lines = head.split(b"\r\n")
        if not lines[0].startswith(b"HTTP/1.1 "):
            return "no status line: %r" % lines[0][:80]
        status = int(lines[0].split(b" ")[1])
        hdrs = {}
        for l in lines[1:]:
            k, _, v = l.partition(b":")
            hdrs[k.strip().lower()] = v.strip()
        if status == 100:
            got = rest
            continue
        n = int(hdrs.get(b"content-length", b"-1"))
        if n < 0 or len(rest) < n:
            return "body shorter than Content-Length"
        body, got = rest[:n], rest[n:]
        if status >= 400:
            if b"json" not in hdrs.get(b"content-type", b""):
                return "an error answer that is not JSON"
            try:
                j = json.loads(body.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as e:
                return "an error body that is not UTF-8 JSON: %s" % e
            if plugin:
                if not isinstance(j.get("Err"), str) or not j["Err"]:
                    return "a plugin error without Err"
            elif not isinstance(j.get("error", {}).get("message"), str):
                return "a REST error without error.message"
    return ""


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def healthy(sock):
    got = exchange(sock, b"GET /v1/health HTTP/1.1\r\nConnection: close\r\n\r\n", 10)
    return got.startswith(b"HTTP/1.1 200 ")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket", required=True)
    ap.add_argument("--plugin-socket", required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--requests", type=int, default=100000)
    ap.add_argument("--seconds", type=float, default=0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--log", default="")
    ap.add_argument("--rss-max-mib", type=int, default=512)
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    t0 = time.monotonic()
    sent = statuses = 0
    by_status = {}
    rss0 = rss_kib(a.pid)
    rss_peak = rss0
    for i in range(a.requests):
        if a.seconds and time.monotonic() - t0 > a.seconds:
            break
        plugin = rnd.random() < 0.4
        sock = a.plugin_socket if plugin else a.socket
        req = make_request(rnd)
        try:
            got = exchange(sock, req, 20)
        except socket.timeout:
            print("FAIL: no answer and no close within 20 s to %r" % req[:300])
            return 1
        sent += 1
        why = check_answer(got, plugin)
        if why:
            print("FAIL: %s\n  request: %r\n  answer: %r" % (why, req[:600], got[:600]))
            return 1
        if got:
            st = int(got.split(b" ")[1])
            by_status[st] = by_status.get(st, 0) + 1
            statuses += 1
        if i % 2000 == 0:
            if not os.path.exists("/proc/%d" % a.pid) or not healthy(a.socket):
                print("FAIL: volmand is not healthy after %d requests; last %r" % (sent, req[:300]))
                return 1
            rss_peak = max(rss_peak, rss_kib(a.pid))
            if rss_peak > a.rss_max_mib * 1024:
                print("FAIL: RSS %d KiB past %d MiB" % (rss_peak, a.rss_max_mib))
                return 1
    if a.log:
        with open(a.log, errors="replace") as f:
            text = f.read()
        for m in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
            if m in text:
                print("FAIL: %s in %s" % (m, a.log))
                return 1
    took = time.monotonic() - t0
    print("blackbox: %d requests in %.0f s (%.0f/s), %d answered; statuses %s; RSS %d -> %d KiB (peak %d)"
          % (sent, took, sent / took if took else 0, statuses,
             ", ".join("%d:%d" % kv for kv in sorted(by_status.items())), rss0, rss_kib(a.pid), rss_peak))
    return 0


if __name__ == "__main__":
    sys.exit(main())
