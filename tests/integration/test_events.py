"""GET /v1/events and `volman events` (docs/api.md, "Events"): order, filters,
since and until, history across restarts, a slow reader, the CLI."""

import json
import socket
import subprocess
import time

import pytest

from conftest import UnixHTTPConnection


class Follower:
    """GET /v1/events on a raw socket, read line by line (chunked framing undone)."""

    def __init__(self, daemon, query=""):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(20)
        self.sock.connect(daemon.socket)
        self.sock.sendall(b"GET /v1/events%s HTTP/1.1\r\nHost: x\r\n\r\n" % (("?" + query).encode() if query else b""))
        self.buf = b""
        head = self._until(b"\r\n\r\n")
        self.status = int(head.split(b" ")[1])
        self.body = b""  # decoded, not yet split into lines
        self.ended = False

    def _until(self, sep):
        while sep not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk
        i = self.buf.index(sep)
        out, self.buf = self.buf[:i], self.buf[i + len(sep):]
        return out

    def _chunk(self):
        size = int(self._until(b"\r\n"), 16)
        if size == 0:
            self.ended = True
            return
        while len(self.buf) < size + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk
        self.body += self.buf[:size]
        self.buf = self.buf[size + 2:]

    def next(self):
        """The next event, or None at the end of the stream."""
        while b"\n" not in self.body:
            if self.ended:
                return None
            try:
                self._chunk()
            except EOFError:
                return None
        line, self.body = self.body.split(b"\n", 1)
        return json.loads(line)

    def take(self, n):
        return [self.next() for _ in range(n)]

    def close(self):
        self.sock.close()


def test_events_come_in_order_with_what_happened(daemon):
    f = Follower(daemon)
    assert f.status == 200
    c = daemon.client()
    c.post("/v1/volumes", {"name": "e1", "labels": {"k": "v"}})
    c.post("/v1/volumes/e1/mount", {"id": "r1"})
    c.post("/v1/volumes/e1/unmount", {"id": "r1"})
    c.post("/v1/volumes/e1/snapshots", {"name": "s"})
    c.delete("/v1/volumes/e1")
    evs = f.take(5)
    assert [(e["type"], e["action"]) for e in evs] == [
        ("volume", "create"), ("volume", "mount"), ("volume", "unmount"), ("snapshot", "create"), ("volume", "remove")]
    assert all(e["name"] == "e1" and e["actor"]["face"] == "admin" for e in evs)
    assert [e["seq"] for e in evs] == sorted(e["seq"] for e in evs) and len({e["seq"] for e in evs}) == 5
    assert evs[1]["attributes"]["id"] == "r1" and evs[3]["attributes"]["snapshot"] == "s"
    assert evs[0]["time"].endswith("Z") and evs[0]["time_us"] > 0
    f.close()


def test_filters_since_and_until(daemon):
    c = daemon.client()
    for n in ("a", "b"):
        c.post("/v1/volumes", {"name": n})
    c.delete("/v1/volumes/a")
    time.sleep(1.2)  # past the next write-back of the history (each second)
    f = Follower(daemon, "since=1h&until=%d&filter=action=create" % (int(time.time()) + 1))
    got = []
    while True:
        e = f.next()
        if e is None:
            break
        got.append((e["action"], e["name"]))
    assert got == [("create", "a"), ("create", "b")]  # then the stream ends: until has passed
    f = Follower(daemon, "since=1h&until=%d&filter=name=a&filter=name=zzz" % (int(time.time()) + 1))
    names = []
    while (e := f.next()) is not None:
        names.append((e["action"], e["name"]))
    assert names == [("create", "a"), ("remove", "a")]
    for bad, words in (("filter=color=red", "unknown key"), ("since=yesterday", "RFC 3339"),
                       ("filter=novalue", "KEY=VALUE"), ("bogus=1", "bogus")):
        st, body = c.get("/v1/events?" + bad)
        assert st == 400 and words in body["error"]["message"], (bad, body)


def test_history_survives_a_restart_and_seq_goes_on(daemon):
    c = daemon.client()
    c.post("/v1/volumes", {"name": "h1"})
    c.post("/v1/volumes", {"name": "h2"})
    daemon.stop()  # a clean stop writes the last events back
    daemon.start()
    c = daemon.client()
    c.post("/v1/volumes", {"name": "h3"})
    f = Follower(daemon, "since=1h&until=%d&filter=type=volume" % (int(time.time()) + 1))
    evs = []
    while (e := f.next()) is not None:
        evs.append(e)
    assert [e["name"] for e in evs] == ["h1", "h2", "h3"]
    assert [e["seq"] for e in evs] == sorted(e["seq"] for e in evs) and evs[2]["seq"] > evs[1]["seq"]


def test_reconcile_findings_are_an_event(make_daemon):
    d = make_daemon(start=False)
    d.start(env={"VOLMAN_FAILPOINT": "remove-after-commit=kill"})
    c = d.client()
    c.post("/v1/volumes", {"name": "t"})
    try:
        c.delete("/v1/volumes/t")
    except OSError:
        pass
    d.wait_dead()
    d.start()
    f = Follower(d, "since=1h&until=%d&filter=type=reconcile" % (int(time.time()) + 1))
    e = f.next()
    assert e and e["action"] == "findings" and e["attributes"]["tombstones"] == "1", e


def test_a_slow_reader_is_dropped_and_told_never_slowing_volmand(daemon):
    c = daemon.client()
    c.post("/v1/volumes", {"name": "busy"})
    f = Follower(daemon)
    f.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    # the reader reads nothing while more events happen than volmand keeps for readers
    t0 = time.monotonic()
    for i in range(1300):
        assert c.post("/v1/volumes/busy/mount", {"id": "r%d" % i})[0] == 200
        assert c.post("/v1/volumes/busy/unmount", {"id": "r%d" % i})[0] == 200
    elapsed = time.monotonic() - t0
    # then it reads: some events, then the notice, then the end
    seen, last = 0, None
    while (e := f.next()) is not None:
        last = e
        seen += 1
    assert last["type"] == "events" and last["action"] == "dropped", last
    assert int(last["attributes"]["missed"]) > 0 and seen < 2601
    # and the writes never waited for it: the same work with no reader at all takes as long
    f.close()
    t0 = time.monotonic()
    for i in range(1300):
        c.post("/v1/volumes/busy/mount", {"id": "q%d" % i})
        c.post("/v1/volumes/busy/unmount", {"id": "q%d" % i})
    alone = time.monotonic() - t0
    assert elapsed < alone * 3 + 5, (elapsed, alone)


def test_cli_events(daemon, cli_bin):
    c = daemon.client()
    c.post("/v1/volumes", {"name": "cli-ev"})
    time.sleep(1.2)
    until = str(int(time.time()) + 1)
    p = subprocess.run([cli_bin, "--socket", daemon.socket, "events", "--since", "1h", "--until", until,
                        "--format", "json"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    lines = [json.loads(l) for l in p.stdout.splitlines()]
    assert [(e["action"], e["name"]) for e in lines] == [("create", "cli-ev")]
    p = subprocess.run([cli_bin, "--socket", daemon.socket, "events", "--since", "1h", "--until", until,
                        "--filter", "type=volume"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert "volume create cli-ev" in p.stdout and "driver=local" in p.stdout
    p = subprocess.run([cli_bin, "--socket", daemon.socket, "events", "--since", "nonsense"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode != 0 and "RFC 3339" in p.stderr
