"""The HTTP layer itself (api/http.c), driven with raw bytes on the REST and plugin
sockets: every answer is the protocol's JSON error shape with the right status
(never an HTML page, never two status lines), ambiguous framing is refused,
inputs are bounded, slow and idle connections go within seconds, a crowd of
idle connections cannot lock new clients out, and nothing leaks."""

import json
import multiprocessing
import os
import socket
import time

import pytest

from conftest import assert_error


def exchange(sock_path, data, timeout=15.0, want=1):
    """Sends data on a fresh connection and reads until the server closes it
    or `want` answers are whole. Returns the raw bytes."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(sock_path)
    try:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        got = b""
        while True:
            try:
                part = s.recv(65536)
            except ConnectionResetError:
                break
            if not part:
                break
            got += part
            if answers_complete(got, want) and b"connection: close" not in got.lower():
                break
        return got
    finally:
        s.close()


def split_answers(got):
    """[(status, headers dict, body bytes)] of every whole answer in got."""
    out = []
    while got:
        head, sep, rest = got.partition(b"\r\n\r\n")
        if not sep:
            break
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        hdrs = {}
        for l in lines[1:]:
            k, _, v = l.partition(b":")
            hdrs[k.strip().lower().decode()] = v.strip().decode()
        n = int(hdrs.get("content-length", "0"))
        if status == 100:
            n = 0
        out.append((status, hdrs, rest[:n]))
        got = rest[n:]
    return out


def answers_complete(got, want=1):
    try:
        answers = [a for a in split_answers(got) if a[0] != 100]
    except (ValueError, IndexError):
        return False
    return len(answers) >= want


def one_error(got, status, code=None, shape="rest"):
    """got holds exactly one answer: status, JSON of the socket's error shape,
    valid UTF-8; returns the parsed body."""
    answers = split_answers(got)
    assert len(answers) == 1, got[:600]
    st, hdrs, body = answers[0]
    assert st == status, got[:600]
    assert got.endswith(b"\r\n\r\n" + body), "more than one answer: %r" % got[:600]
    assert "json" in hdrs.get("content-type", ""), hdrs
    text = body.decode("utf-8")  # strict: valid UTF-8 or a failure
    j = json.loads(text)
    if shape == "rest":
        assert isinstance(j["error"]["message"], str) and j["error"]["message"], j
        if code:
            assert j["error"]["code"] == code, j
    else:
        assert isinstance(j["Err"], str) and j["Err"], j
    return j


GET_HEALTH = b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n"


def post(path, body, extra=b""):
    return (b"POST " + path + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + extra + b"Content-Length: %d\r\n\r\n" % len(body) + body)


# ---- framing ----

@pytest.mark.parametrize("value", [b"abc", b"-1", b"", b"18446744073709551616",
                                   b"99999999999999999999", b"1 2", b"+5", b"0x10"])
def test_bad_content_length(daemon, value):
    req = b"POST /v1/volumes HTTP/1.1\r\nHost: x\r\nContent-Length: " + value + b"\r\n\r\n{}"
    j = one_error(exchange(daemon.socket, req), 400, "bad_request")
    assert "Content-Length" in j["error"]["message"]


def test_repeated_content_length_and_cl_with_te(daemon, client):
    for extra in (b"Content-Length: 2\r\nContent-Length: 40\r\n",
                  b"Content-Length: 2\r\nContent-Length: 2\r\n",
                  b"Content-Length: 2\r\nTransfer-Encoding: chunked\r\n"):
        req = b"POST /v1/volumes HTTP/1.1\r\nHost: x\r\n" + extra + b"\r\n{}"
        one_error(exchange(daemon.socket, req), 400, "bad_request")
    assert client.list_all() == []


def test_huge_declared_length_is_refused_at_once(daemon):
    """A terabyte declared: 413 before a byte of the body is read."""
    req = (b"POST /v1/volumes HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000000\r\n\r\n"
           b'{"name": "x"}')
    t0 = time.monotonic()
    one_error(exchange(daemon.socket, req), 413, "too_large")
    assert time.monotonic() - t0 < 5


def test_chunked_bodies(daemon, client):
    body = json.dumps({"name": "chunked-vol"}).encode()
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 5]), body[i:i + 5]) for i in range(0, len(body), 5))
    req = (b"POST /v1/volumes HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
           + chunks + b"0\r\nX-Trailer: ignored\r\n\r\n")
    answers = split_answers(exchange(daemon.socket, req + GET_HEALTH, want=2))
    assert [a[0] for a in answers] == [201, 200], answers
    assert client.inspect("chunked-vol")[0] == 200
    # malformed chunks
    for bad in (b"zz\r\n{}\r\n0\r\n\r\n", b"2\r\n{}XX0\r\n\r\n", b"2;\x01\r\n{}\r\n0\r\n\r\n"):
        req = b"POST /v1/volumes HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + bad
        one_error(exchange(daemon.socket, req), 400, "bad_request")
    # a chunk past the body limit
    req = (b"POST /v1/volumes HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"200000\r\n" + b"a" * 100)
    one_error(exchange(daemon.socket, req), 413, "too_large")
    # another transfer coding
    req = b"POST /v1/volumes HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n"
    one_error(exchange(daemon.socket, req), 501, "not_implemented")
    assert [v["name"] for v in client.list_all()] == ["chunked-vol"]


def test_pipelined_requests_and_expect_continue(daemon, client):
    got = exchange(daemon.socket, GET_HEALTH + post(b"/v1/volumes", b'{"name":"piped"}') + GET_HEALTH,
                   want=3)
    assert [a[0] for a in split_answers(got)] == [200, 201, 200]
    req = post(b"/v1/volumes", b'{"name":"expecting"}', b"Expect: 100-continue\r\n")
    head, _, body = req.partition(b"\r\n\r\n")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(daemon.socket)
    s.sendall(head + b"\r\n\r\n")
    assert s.recv(100).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
    s.sendall(body)
    got = b""
    while not answers_complete(got):
        got += s.recv(4096)
    s.close()
    assert split_answers(got)[0][0] == 201
    assert client.inspect("expecting")[0] == 200


def dechunk(body):
    """The payload of a chunked body; asserts the last chunk is there."""
    out = b""
    while True:
        size, _, body = body.partition(b"\r\n")
        n = int(size, 16)
        if n == 0:
            assert body == b"\r\n", body[:100]
            return out
        out += body[:n]
        assert body[n:n + 2] == b"\r\n"
        body = body[n + 2:]


def read_until_close(s):
    got = b""
    while True:
        part = s.recv(1 << 20)
        if not part:
            return got
        got += part


def test_a_large_list_is_streamed(daemon, client):
    """A list past 192 KiB goes out as it is made: chunked to an HTTP/1.1
    client, which can ask again on the same connection; ended by the close for
    HTTP/1.0. Both carry what the buffered path gives; a reader that goes away
    half-way leaves the daemon serving."""
    big = {"k%02d" % i: "v" * 1000 for i in range(8)}
    for i in range(120):
        assert client.create("big-%03d" % i, labels=big)[0] == 201
    want = client.list_all()
    assert len(want) == 120
    small_page = client.get("/v1/volumes?limit=2")
    assert small_page[0] == 200 and len(small_page[1]["volumes"]) == 2

    get11 = b"GET /v1/volumes HTTP/1.1\r\nHost: x\r\n\r\n"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(20)
    s.connect(daemon.socket)
    s.sendall(get11 + GET_HEALTH + b"GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    got = read_until_close(s)
    s.close()
    head, _, rest = got.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ") and b"transfer-encoding: chunked" in head.lower(), head
    assert b"content-length" not in head.lower() and b"connection: close" not in head.lower(), head
    end = rest.index(b"\r\n0\r\n\r\n") + 7
    j = json.loads(dechunk(rest[:end]))
    assert j["volumes"] == want and j["next"] is None
    assert len(rest[:end]) > 120 * 8000
    # the connection went on: both health answers followed, whole
    assert [a[0] for a in split_answers(rest[end:])] == [200, 200], rest[end:end + 300]

    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(20)
    s.connect(daemon.socket)
    s.sendall(b"GET /v1/volumes HTTP/1.0\r\n\r\n")
    got = read_until_close(s)
    s.close()
    head, _, body = got.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ") and b"connection: close" in head.lower(), head
    assert b"chunked" not in head.lower()
    assert json.loads(body)["volumes"] == want

    # readers that go away at once, many times over
    for _ in range(20):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(daemon.socket)
        s.sendall(get11)
        s.recv(100)
        s.close()
    assert client.get("/v1/health")[0] == 200
    assert client.list_all() == want


# ---- the request line and head ----

def test_request_line_and_version(daemon):
    one_error(exchange(daemon.socket, b"GET /v1/health HTTP/9.9\r\n\r\n"), 505, "version_not_supported")
    one_error(exchange(daemon.socket, b"GET /v1/health HTTP/2.0\r\n\r\n"), 505)
    for req in (b"\x00\x01\x02\r\n\r\n", b"GET\r\n\r\n", b"GET /v1/health\r\n\r\n",
                b"GET /v1/health HTTP/1.1\nHost: x\n\n", b"GET /v1/he alth HTTP/1.1\r\n\r\n",
                b"GET http://x/v1/health HTTP/1.1\r\n\r\n", b"G(T /v1/health HTTP/1.1\r\n\r\n",
                b"GET /v1/health HTTP/1.1\r\n Folded: x\r\n\r\n",
                b"GET /v1/health HTTP/1.1\r\nBad Header: x\r\n\r\n",
                b"GET /v1/h\xc3\xa9alth HTTP/1.1\r\n\r\n"):
        one_error(exchange(daemon.socket, req), 400, "bad_request")
    # a known path with an unknown method
    one_error(exchange(daemon.socket, b"BREW /v1/health HTTP/1.1\r\n\r\n"), 405, "method_not_allowed")
    # HTTP/1.0 is served, and closed after
    got = exchange(daemon.socket, b"GET /v1/health HTTP/1.0\r\n\r\n")
    assert split_answers(got)[0][0] == 200 and b"Connection: close" in got


def test_long_request_lines_and_heads(daemon, client):
    # past 8 KiB of target: 414, whether the line ends or not
    one_error(exchange(daemon.socket, b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n"), 414, "uri_too_long")
    one_error(exchange(daemon.socket, b"GET /" + b"a" * 9000), 414, "uri_too_long")
    # a long volume name in a path is the name's problem, not the route's
    st, body = client.get("/v1/volumes/" + "n" * 5000)
    assert_error(st, body, 400, "invalid_argument")
    assert "128" in body["error"]["message"], body
    # a 64 KiB header, and 2000 headers: 431
    one_error(exchange(daemon.socket, b"GET /v1/volumes HTTP/1.1\r\nX-Big: " + b"a" * (64 << 10)
                       + b"\r\n\r\n"), 431, "headers_too_large")
    many = b"GET /v1/volumes HTTP/1.1\r\n" + b"".join(b"X-H%d: b\r\n" % i for i in range(2000)) + b"\r\n"
    one_error(exchange(daemon.socket, many), 431, "headers_too_large")


def test_query_parameters(daemon, client):
    assert client.create("q1")[0] == 201
    # unknown ones are refused by name
    st, body = client.get("/v1/volumes?limt=5")
    assert_error(st, body, 400, "invalid_argument")
    assert '"limt"' in body["error"]["message"] and "limit" in body["error"]["message"], body
    st, body = client.get("/v1/health?x=1")
    assert_error(st, body, 400, "invalid_argument")
    # %00 in a value is refused, never cut short
    st, body = client.get("/v1/volumes?limit=5%00x")
    assert_error(st, body, 400, "invalid_argument")
    st, body = client.get("/v1/volumes/q%00")
    assert_error(st, body, 400, "invalid_argument")
    # bytes that are not UTF-8 come back as valid JSON
    got = exchange(daemon.socket, b"GET /v1/volumes?filter=%FF%FE=1 HTTP/1.1\r\n\r\n")
    j = one_error(got, 400, "invalid_argument")
    assert "\ufffd" in j["error"]["message"], j
    # too many parameters: 414 with the error shape
    q = "&".join("filter=name%%3D%d" % i for i in range(450))
    got = exchange(daemon.socket, b"GET /v1/volumes?" + q.encode() + b" HTTP/1.1\r\n\r\n")
    one_error(got, 414, "uri_too_long")
    st, body = client.get("/v1/volumes?limit=1")
    assert st == 200 and [v["name"] for v in body["volumes"]] == ["q1"]


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_many_query_parameters_leak_nothing(make_daemon):
    # ASan keeps freed memory in quarantine: without it RSS tells leaks
    daemon = make_daemon(env={"ASAN_OPTIONS": "detect_leaks=1:quarantine_size_mb=0:abort_on_error=0:intercept_tls_get_addr=0"})
    q = ("&".join("a%d=%d" % (i, i) for i in range(450))).encode()
    req = b"GET /v1/volumes?" + q + b" HTTP/1.1\r\n\r\n"
    for _ in range(200):  # warm up allocator arenas
        exchange(daemon.socket, req)
    before = rss_kib(daemon.proc.pid)
    for _ in range(2000):
        got = exchange(daemon.socket, req)
        assert got.startswith(b"HTTP/1.1 414 "), got[:200]
    after = rss_kib(daemon.proc.pid)
    # 4-8 KiB leaked per request would be 8-16 MB here
    assert after - before < 4096, "RSS grew from %d to %d KiB" % (before, after)


def test_error_messages_stay_valid_utf8(daemon, client):
    """A message that quotes the request at a bounded length may cut a UTF-8
    character in half: the body is still valid UTF-8 JSON."""
    for sock, shape, path in ((daemon.socket, "rest", b"/v1/volumes"),
                              (daemon.plugin_socket, "plugin", b"/VolumeDriver.Create")):
        key = "a" * 63 + "\u00e9"
        body = json.dumps({key: 1, "Name": "x\u00e9"}, ensure_ascii=False).encode()
        got = exchange(sock, post(path, body))
        st = split_answers(got)[0][0]
        assert st in (400, 500), got[:300]
        one_error(got, st, shape=shape)
        body = ('{"name":"\\ud8' + "\u00e9" + '00"}').encode()
        got = exchange(sock, post(path, body))
        one_error(got, split_answers(got)[0][0], shape=shape)


def test_plugin_socket_errors_are_its_own_shape(daemon):
    for req in (b"GET /Plugin.Activate HTTP/9.9\r\n\r\n",
                b"POST /VolumeDriver.Get HTTP/1.1\r\nContent-Length: x\r\n\r\n",
                b"POST /VolumeDriver.Nope HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
                b"POST /VolumeDriver.Get HTTP/1.1\r\nX-Big: " + b"a" * (64 << 10) + b"\r\n\r\n"):
        got = exchange(daemon.plugin_socket, req)
        st = split_answers(got)[0][0]
        assert st >= 400, got[:300]
        one_error(got, st, shape="plugin")


# ---- slow, idle and crowding clients ----

def test_slow_head_is_closed_within_seconds(daemon):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(20)
    s.connect(daemon.socket)
    s.sendall(b"GET /v1/health HTTP/1.1\r\nX-Slow: ")
    t0 = time.monotonic()
    got = b""
    while True:
        part = s.recv(4096)
        if not part:
            break
        got += part
    took = time.monotonic() - t0
    s.close()
    one_error(got, 408, "timeout")
    assert took < 15, "a stalled head held its connection %.1f s" % took


def test_garbage_gets_an_answer_and_a_close(daemon):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(daemon.socket)
    s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(200) + b"\r\n\r\n")
    got = b""
    while True:
        part = s.recv(4096)
        if not part:
            break
        got += part
    s.close()
    one_error(got, 400, "bad_request")


def hold_connections(path, n, ready, done):
    """In a child process: n idle connections, held until done is set."""
    socks = []
    for _ in range(n):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(path)
        socks.append(s)
    ready.set()
    done.wait(60)
    for s in socks:
        s.close()


def test_idle_crowd_cannot_lock_out_new_clients(daemon):
    """600 idle connections from ten processes (past the 512 the server holds):
    a new client is still served at once, the longest-idle ones make room."""
    ctx = multiprocessing.get_context("fork")
    done = ctx.Event()
    procs, readies = [], []
    for _ in range(10):
        ready = ctx.Event()
        p = ctx.Process(target=hold_connections, args=(daemon.socket, 60, ready, done))
        p.start()
        procs.append(p)
        readies.append(ready)
    try:
        for r in readies:
            assert r.wait(30), "a holder could not connect"
        for _ in range(5):
            t0 = time.monotonic()
            st, body = daemon.api("GET", "/v1/health")
            assert st == 200, body
            assert time.monotonic() - t0 < 5
        rc, out, err = daemon.cli("volume", "ls")
        assert rc == 0, err
    finally:
        done.set()
        for p in procs:
            p.join(30)


def connect_many(path, n, socks):
    """Appends n connections to the unix socket at path (10 s timeouts) to
    socks, which the caller closes."""
    for _ in range(n):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(path)
        socks.append(s)


def test_one_client_is_bounded(daemon):
    """One process may hold 64 connections; the 65th gets a 503 in the error
    shape, and others are not affected."""
    socks = []
    try:
        connect_many(daemon.socket, 64, socks)
        # the server has seen all 64 before the next one comes
        socks[-1].sendall(GET_HEALTH)
        got = b""
        while not answers_complete(got):
            got += socks[-1].recv(4096)
        j = one_error(exchange(daemon.socket, GET_HEALTH), 503, "unavailable")
        assert "64" in j["error"]["message"], j
    finally:
        for s in socks:
            s.close()
    # another process is served meanwhile and after
    rc, out, err = daemon.cli("health")
    assert rc == 0, err


# ---- what reaches the log ----

def test_request_bytes_cannot_forge_log_lines(daemon):
    """Names from requests are written to the log escaped: a newline or an ESC
    in a plugin Unmount's Name cannot start a line or drive a terminal."""
    name = "x\nFORGED volmand error: fake\x1b[31m"
    body = json.dumps({"Name": name, "ID": "c\x1b1"}).encode()
    got = exchange(daemon.plugin_socket, post(b"/VolumeDriver.Unmount", body))
    assert split_answers(got)[0][0] == 200
    daemon.stop()
    log = daemon.log_text()
    assert "\x1b" not in log and not any(l.startswith("FORGED") for l in log.splitlines()), log[-2000:]
    assert "\\x0aFORGED" in log, log[-2000:]


def test_a_client_that_shuts_its_side_after_a_request_is_answered_and_closed(daemon, client):
    """A keep-alive request followed at once by the client's end of sending
    (shutdown(SHUT_WR), as `nc -N` does): the answer comes, and then volmand
    closes the connection, instead of keeping it for the idle timeout (30 s)
    because the end came with the request's own bytes. A route answered by the
    event thread (health, inspect) and one a worker answers (list)."""
    assert client.create("shut-side")[0] == 201
    for path in ("/v1/health", "/v1/volumes/shut-side", "/v1/volumes"):
        for _ in range(5):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(5)  # far below the idle timeout
            try:
                s.connect(daemon.socket)
                s.sendall(("GET %s HTTP/1.1\r\nHost: volman\r\n\r\n" % path).encode())
                s.shutdown(socket.SHUT_WR)
                got = read_until_close(s)
            finally:
                s.close()
            assert got.startswith(b"HTTP/1.1 200 "), (path, got[:200])


def test_requests_handed_over_together_each_get_a_worker(make_daemon):
    """Requests handed to workers in one go, before any new worker has run,
    each start one: here eight event streams (each holds its worker for as
    long as it follows) asked for at once on a fresh daemon, several times.
    Every one is answered, none waits behind another stream for good."""
    d = make_daemon()
    for round in range(4):
        socks = []
        try:
            connect_many(d.socket, 8, socks)
            req = b"GET /v1/events HTTP/1.1\r\nHost: volman\r\n\r\n"
            for s in socks:
                s.sendall(req)
            for i, s in enumerate(socks):
                head = b""
                while b"\r\n\r\n" not in head:
                    part = s.recv(4096)
                    assert part, (round, i, head)
                    head += part
                assert head.startswith(b"HTTP/1.1 200 "), (round, i, head[:200])
        finally:
            for s in socks:
                s.close()
