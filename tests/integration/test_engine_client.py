"""volmand's HTTP client to the container engine, against a server on a unix
socket that answers as told: well-formed answers cut into tiny chunks and
interim 100s, and answers no engine should give (a bad status line, a body
past the limit, a body cut short, a connection closed at once). The real
engines (dockerd and Podman) are driven in tests/engines and tests/apps; this
is the client's handling of what they might send on a bad day."""
import json
import os
import socket
import threading

import pytest

DEPLOY = "/v1/tenants/acme/envs/prod/apps/web/deploy"
BODY = {"image": "localhost/bb:latest", "cmd": ["true"]}


class Engine:
    """Answers each connection with answer(method, path, head, body) -> bytes
    (None: close without a word). Records the requests."""

    def __init__(self, path, answer):
        self.path, self.answer, self.requests = path, answer, []
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(16)
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with c:
                c.settimeout(10)
                data = b""
                while b"\r\n\r\n" not in data:
                    part = c.recv(65536)
                    if not part:
                        break
                    data += part
                head, _, body = data.partition(b"\r\n\r\n")
                lines = head.decode().split("\r\n")
                hdrs = {k.lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
                n = int(hdrs.get("content-length", "0"))
                while len(body) < n:
                    body += c.recv(65536)
                method, target, version = lines[0].split(" ")
                self.requests.append((method, target, version, hdrs, body))
                out = self.answer(method, target, hdrs, body)
                if out is not None:
                    try:
                        for piece in out if isinstance(out, list) else [out]:
                            c.sendall(piece)
                    except OSError:
                        pass

    def close(self):
        self.sock.close()


@pytest.fixture
def engine(make_daemon, tmp_path):
    """(start(answer) -> (Engine, Daemon, Client))"""
    made = []

    def start(answer):
        from conftest import Client
        e = Engine(str(tmp_path / "engine.sock"), answer)
        made.append(e)
        d = make_daemon(args=["--engine", "unix://" + e.path], subdir="d")
        c = Client(d.socket)
        c.RETRIES_503 = 1  # see each answer: a 503 here is the engine's failure
        return e, d, c

    yield start
    for e in made:
        e.close()


def chunked(data, size=1):
    """data as a chunked body of size-byte chunks, with an extension and a trailer."""
    out = [b"%x;x=y\r\n%s\r\n" % (len(data[i:i + size]), data[i:i + size]) for i in range(0, len(data), size)]
    return out + [b"0\r\nX-Trailer: t\r\n\r\n"]


def good_engine(method, target, hdrs, body):
    """A working engine, giving every answer as chunks of one byte after a 100."""
    if method == "GET" and target.startswith("/v1.41/images/") and target.endswith("/json"):
        return [b"HTTP/1.1 100 Continue\r\n\r\n",
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"] \
            + chunked(json.dumps({"Id": "sha256:bb", "Config": {"Cmd": ["sh"], "User": ""}}).encode(), 2)
    if method == "GET" and target.startswith("/v1.41/containers/json"):
        return [b"HTTP/1.1 100 Continue\r\n\r\n",
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"] \
            + chunked(b"[]")
    if method == "POST" and target.startswith("/v1.41/containers/create?name="):
        return [b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"] \
            + chunked(json.dumps({"Id": "c0ffee", "Warnings": []}).encode(), 3)
    if method == "POST" and target == "/v1.41/containers/c0ffee/start":
        return b"HTTP/1.1 204 No Content\r\n\r\n"
    return b"HTTP/1.1 404 Not Found\r\nContent-Length: 24\r\n\r\n{\"message\":\"no such it\"}"


def test_a_deploy_through_chunked_and_interim_answers(engine):
    e, d, client = engine(good_engine)
    st, j = client.post(DEPLOY, BODY)
    assert st == 200, (st, j)
    assert j["container"]["id"] == "c0ffee" and j["generation"] == 1, j
    methods = [(m, t.split("?")[0]) for m, t, _, _, _ in e.requests]
    assert methods == [("GET", "/v1.41/containers/json"), ("GET", "/v1.41/images/localhost%2Fbb%3Alatest/json"),
                       ("POST", "/v1.41/containers/create"), ("POST", "/v1.41/containers/c0ffee/start")], methods
    for m, t, version, hdrs, body in e.requests:
        assert version == "HTTP/1.1" and hdrs["connection"] == "close" and hdrs["host"]
        if m == "POST":
            assert int(hdrs["content-length"]) == len(body)
    create = e.requests[2]
    assert create[3]["content-type"] == "application/json"
    spec = json.loads(create[4])
    assert spec["Image"] == "localhost/bb:latest" and spec["HostConfig"]["ReadonlyRootfs"] is True
    # the filter went escaped in the query, and came back whole
    q = e.requests[0][1].split("filters=", 1)[1]
    assert "{" not in q and "%7B" in q


BAD = [
    ("bad status line", b"HTTP/1.1 OK\r\n\r\n", "status line"),
    ("no head at all", b"", "ended before its head"),
    ("closed at once", None, "ended before its head"),
    ("bare LF", b"HTTP/1.1 200 OK\nContent-Length: 2\n\n[]", "bare LF"),
    ("too large", b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000\r\n\r\n[", "larger than"),
    ("cut short", b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n[1,2", "cut short"),
    ("bad chunk", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n[]\r\n0\r\n\r\n",
     "chunk size"),
    ("chunks cut short", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n[]\r\n", "cut short"),
    ("smuggling", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n[]",
     "both Content-Length and chunked"),
    ("gzip", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "transfer coding"),
]


@pytest.mark.parametrize("name,answer,words", BAD, ids=[b[0] for b in BAD])
def test_bad_answers_are_named_and_change_nothing(engine, name, answer, words):
    e, d, client = engine(lambda *a: answer)
    st, j = client.post(DEPLOY, BODY)
    assert st == 503 and j["error"]["code"] == "unavailable", (st, j)
    msg = j["error"]["message"]
    assert "container engine at unix://" + e.path in msg and words in msg, msg
    assert len(e.requests) == 1  # it stopped at the first bad answer
    st, apps = client.get("/v1/apps")
    assert st == 200 and apps["apps"] == [], apps  # no deploy was recorded
    assert client.get("/v1/health")[0] == 200


def test_an_answer_past_the_limit_without_a_length(engine):
    """A body ended by the close, larger than the limit: refused once it passes
    it, not read to the end."""
    big = [b"HTTP/1.1 200 OK\r\n\r\n["] + [b"1," * 32768] * 520
    e, d, client = engine(lambda *a: big)
    st, j = client.post(DEPLOY, BODY)
    assert st == 503 and "larger than 16777216 bytes" in j["error"]["message"], (st, j)


def test_no_engine_at_the_socket(make_daemon, tmp_path):
    from conftest import Client
    path = str(tmp_path / "absent.sock")
    d = make_daemon(args=["--engine", "unix://" + path], subdir="d")
    c = Client(d.socket)
    c.RETRIES_503 = 1
    st, j = c.post(DEPLOY, BODY)
    assert st == 503, (st, j)
    assert path in j["error"]["message"] and "No such file" in j["error"]["message"], j
    assert not os.path.exists(path)
