"""Hostile and malformed input: each request gets a 4xx with the error JSON of
docs/api.md and changes nothing (the list and the data root are identical
before and after), and the daemon keeps serving."""

import json
import socket
import time

import pytest

from conftest import assert_error


@pytest.fixture
def world(daemon, client):
    """A daemon holding a few volumes, and a check that nothing changed."""
    assert client.create("existing", labels={"team": "web"})[0] == 201
    assert client.create("mounted")[0] == 201
    assert client.mount("mounted", "ctr-1")[0] == 200

    def snapshot():
        return json.dumps(client.list_all(), sort_keys=True), daemon.root_tree()

    before = snapshot()

    def unchanged():
        after = snapshot()
        assert after[0] == before[0], "the volume list changed"
        new = after[1] - before[1]
        gone = before[1] - after[1]
        assert not new and not gone, "data root changed: new %r gone %r" % (
            sorted(new)[:10], sorted(gone)[:10])
        st, body = client.get("/v1/health")
        assert st == 200, "daemon stopped answering"

    return unchanged


def post_raw(client, path, raw, want=400, code="invalid_argument"):
    st, body = client.request("POST", path, raw=raw)
    assert_error(st, body, want, code)
    return body


# --- bodies of POST /v1/volumes ------------------------------------------------------

MALFORMED = [
    b"", b"{", b'{"name": "x"', b"{name: x}", b"{'name': 'x'}", b'{"name": "x",}',
    b'{"name": "x"} trailing', b"\xff\xfe{}", b'{"name": "\xff"}', b"nul\x00l",
]


@pytest.mark.parametrize("raw", MALFORMED, ids=range(len(MALFORMED)))
def test_malformed_json(world, client, raw):
    post_raw(client, "/v1/volumes", raw)
    world()


@pytest.mark.parametrize("raw", [b"[]", b'["name"]', b'"web"', b"42", b"null", b"true"])
def test_json_not_an_object(world, client, raw):
    post_raw(client, "/v1/volumes", raw)
    world()


WRONG_TYPES = [
    {"name": 42}, {"name": None}, {"name": ["a"]}, {"name": {"x": 1}},
    {"name": "t", "driver": 5}, {"name": "t", "driver": ["local"]},
    {"name": "t", "labels": []}, {"name": "t", "labels": "team=web"},
    {"name": "t", "labels": {"a": 1}}, {"name": "t", "labels": {"a": None}},
    {"name": "t", "labels": {"a": {"b": "c"}}},
    {"name": "t", "options": "mode=0700"}, {"name": "t", "options": {"mode": 448}},
    {"name": "t", "options": {"uid": True}},
    {"name": "t", "scope": "acme"}, {"name": "t", "scope": []},
    {"scope": {"tenant": 1, "env": "prod", "app": "orders", "path": "/x"}},
    {"scope": {"tenant": "acme", "env": "prod", "app": "orders", "path": 7}},
]


@pytest.mark.parametrize("body", WRONG_TYPES, ids=range(len(WRONG_TYPES)))
def test_wrong_field_types(world, client, body):
    post_raw(client, "/v1/volumes", json.dumps(body))
    world()


@pytest.mark.parametrize("body,field", [
    ({"name": "t", "colour": "red"}, "colour"),
    ({"name": "t", "Name": "u"}, "Name"),
    ({"name": "t", "labels": {}, "lables": {"a": "b"}}, "lables"),
    ({"scope": {"tenant": "acme", "env": "prod", "app": "orders", "path": "/x",
                "region": "eu"}}, "region"),
])
def test_unknown_fields_are_named(world, client, body, field):
    err = post_raw(client, "/v1/volumes", json.dumps(body))
    assert field in err["error"]["message"], err
    world()


def test_neither_name_nor_scope(world, client):
    for body in ({}, {"driver": "local"}, {"labels": {"a": "b"}}):
        post_raw(client, "/v1/volumes", json.dumps(body))
    world()


def raw_exchange(sock_path, data, timeout=10.0, chunk=65536):
    """Sends data on a fresh connection (tolerating the server closing it
    early) and returns (status or None, everything read)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(sock_path)
    try:
        try:
            for i in range(0, len(data), chunk):
                s.sendall(data[i:i + chunk])
        except (BrokenPipeError, ConnectionResetError):
            pass
        got = b""
        try:
            while b"\r\n\r\n" not in got or not _complete(got):
                part = s.recv(65536)
                if not part:
                    break
                got += part
        except (ConnectionResetError, socket.timeout):
            pass
    finally:
        s.close()
    status = None
    if got.startswith(b"HTTP/1."):
        status = int(got.split(b" ", 2)[1])
    return status, got


def _complete(got):
    head, _, body = got.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":", 1)[1])
    return False


def _error_body(got):
    return json.loads(got.partition(b"\r\n\r\n")[2].decode())


def test_body_over_1mib_is_413(world, daemon):
    body = json.dumps({"name": "big", "labels": {"k": "x" * (1 << 20)}}).encode()
    req = (b"POST /v1/volumes HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
           b"Content-Length: %d\r\n\r\n" % len(body)) + body
    status, got = raw_exchange(daemon.socket, req)
    assert status == 413, got[:300]
    assert _error_body(got)["error"]["code"] == "too_large"
    world()


def test_huge_declared_length(world, daemon):
    """Declares a terabyte, sends a few bytes: 413 too_large at once, in the
    error shape, before the body is read."""
    req = (b"POST /v1/volumes HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
           b"Content-Length: 1000000000000\r\n\r\n{\"name\": \"x\"}")
    status, got = raw_exchange(daemon.socket, req, timeout=5)
    assert status == 413, got[:300]
    assert _error_body(got)["error"]["code"] == "too_large"
    world()


# --- names ------------------------------------------------------------------------------------

BAD_NAMES = ["a/b", "/abs", "..", ".", ".hidden", "../../etc", "a\u0000b", "v\u00e9lo",
             "\u0432\u043e\u043b", "with space", " lead", "trail ", "-lead", "_lead", "",
             "a" * 129, "tab\there", "new\nline", "a:b", "a%2Fb", "\U0001f600"]


@pytest.mark.parametrize("name", BAD_NAMES, ids=range(len(BAD_NAMES)))
def test_bad_names(world, client, name):
    post_raw(client, "/v1/volumes", json.dumps({"name": name}))
    world()


def test_name_of_128_bytes_is_fine(daemon, client):
    n = "a" * 128
    st, v = client.create(n)
    assert st == 201, v
    assert client.inspect(n)[1]["name"] == n


@pytest.mark.parametrize("path", ["/v1/volumes/..%2F..%2Froot", "/v1/volumes/%2E%2E",
                                  "/v1/volumes/a%00b", "/v1/volumes/existing%2F..",
                                  "/v1/volumes/.%2Fexisting"])
def test_bad_names_in_paths(world, client, daemon, path):
    for method in ("DELETE", "GET"):
        st, body = client.request(method, path)
        assert st in (400, 404), (method, path, st, body)
        assert_error(st, body, st)
    st, body = client.request("POST", path + "/mount", body={"id": "x"})
    assert st in (400, 404), (path, st, body)
    world()


# --- labels, options, scope --------------------------------------------------------------------

def test_too_many_labels(world, client):
    labels = {"k%05d" % i: "v" for i in range(10000)}
    st, body = client.create("many", labels=labels)
    assert st in (400, 413), (st, body)
    assert_error(st, body, st)
    st, body = client.create("many", labels={"k%02d" % i: "v" for i in range(65)})
    assert st in (400, 413), (st, body)
    assert_error(st, body, st)
    world()


def test_64_labels_are_fine(daemon, client):
    st, v = client.create("labels-64", labels={"k%02d" % i: "v" for i in range(64)})
    assert st == 201, v
    assert len(v["labels"]) == 64


BAD_LABELS = [{"a=b": "c"}, {"": "v"}, {"a b": "c"}, {"k\n": "v"}, {"k": "line\nbreak"},
              {"k": "nul\u0000"}, {"k" * 256: "v"}, {"k": "v" * 4097}, {"k\u0007": "v"}]


@pytest.mark.parametrize("labels", BAD_LABELS, ids=range(len(BAD_LABELS)))
def test_bad_labels(world, client, labels):
    post_raw(client, "/v1/volumes", json.dumps({"name": "lbl", "labels": labels}))
    world()


@pytest.mark.parametrize("driver,options,named", [
    ("local", {"size": "1m"}, "size"),
    ("local", {"bogus": "1"}, "bogus"),
    ("local", {"uid": "1", "o": "bind"}, "o"),
    ("tmpfs", {"bogus": "1"}, "bogus"),
    ("tmpfs", {"size": "1m", "nr_inodes": "10"}, "nr_inodes"),
])
def test_unknown_options_are_named(world, client, driver, options, named):
    err = post_raw(client, "/v1/volumes",
                   json.dumps({"name": "opt", "driver": driver, "options": options}))
    assert named in err["error"]["message"], err
    world()


@pytest.mark.parametrize("driver,options", [
    ("tmpfs", {"size": "lots"}), ("tmpfs", {"size": "-5m"}), ("tmpfs", {"size": "1x"}),
    ("tmpfs", {"size": ""}), ("tmpfs", {"size": "99999999999999999999999t"}),
    ("tmpfs", {"size": "1m,nosuid"}),
    ("local", {"uid": "abc"}), ("local", {"uid": "-1"}), ("local", {"gid": "1.5"}),
    ("local", {"mode": "999"}), ("local", {"mode": "rwx"}), ("local", {"mode": ""}),
    ("local", {"mode": "077777"}),
    ("tmpfs", {"mode": "8"}), ("tmpfs", {"uid": "x"}),
])
def test_bad_option_values(world, client, driver, options):
    post_raw(client, "/v1/volumes",
             json.dumps({"name": "optv", "driver": driver, "options": options}))
    world()


def test_unknown_driver(world, client):
    for drv in ("zfs", "", "Local", "../local", "local/..", "x" * 40):
        st, body = client.create("drv", driver=drv)
        assert st in (400,), (drv, st, body)
        assert_error(st, body, 400)
    world()


def scope(**kw):
    s = {"tenant": "acme", "env": "prod", "app": "orders", "path": "/var/lib/state"}
    s.update(kw)
    return {k: v for k, v in s.items() if v is not None}


BAD_SCOPES = [
    scope(path="var/lib"), scope(path="/"), scope(path="/var/../etc"), scope(path=".."),
    scope(path="/var/lib/"), scope(path="//var"), scope(path="/var//lib"),
    scope(path="/var/./lib"), scope(path=""), scope(path="/a\u0000b"), scope(path="/a\nb"),
    scope(tenant="Acme"), scope(tenant="ACME"), scope(tenant="-acme"), scope(tenant="acme-"),
    scope(tenant="ac_me"), scope(tenant=""), scope(tenant="a" * 64), scope(env="pr od"),
    scope(app="orders/x"), scope(app="\u00e9"), scope(path=None), scope(tenant=None),
    {},
]


@pytest.mark.parametrize("sc", BAD_SCOPES, ids=range(len(BAD_SCOPES)))
def test_bad_scopes(world, client, sc):
    post_raw(client, "/v1/volumes", json.dumps({"scope": sc}))
    post_raw(client, "/v1/volumes", json.dumps({"name": "named", "scope": sc}))
    world()


# --- mount, prune, list --------------------------------------------------------------------------

@pytest.mark.parametrize("raw", [
    b"", b"{}", b'{"id": ""}', b'{"id": "has space"}', b'{"id": 5}', b'{"id": null}',
    b'{"id": "a\\u0000b"}', b'{"id": "\xc3\xa9"}', b'{"id": "x", "extra": 1}', b"[]",
    json.dumps({"id": "a" * 257}).encode(), b'{"id": "tab\\t"}',
])
def test_bad_mount_bodies(world, client, raw):
    for op in ("mount", "unmount"):
        post_raw(client, "/v1/volumes/mounted/" + op, raw)
        post_raw(client, "/v1/volumes/existing/" + op, raw)
    world()


def test_mount_id_of_256_bytes_is_fine(daemon, client):
    assert client.create("m256")[0] == 201
    st, body = client.mount("m256", "a" * 256)
    assert st == 200, body


@pytest.mark.parametrize("body", [
    {"filters": "label=tmp"}, {"filters": [1]}, {"filters": ["bogus=1"]}, {"all": "yes"},
    {"dry_run": 1, "all": True}, {"filters": ["label=tmp"], "force": True}, [],
    {"filters": ["dangling=perhaps"]},
])
def test_bad_prune_bodies(world, client, body):
    post_raw(client, "/v1/volumes/prune", json.dumps(body))
    world()


def test_too_many_filters(world, client):
    st, body = client.post("/v1/volumes/prune",
                           {"filters": ["label=k%d" % i for i in range(10000)]})
    assert st in (400, 413), (st, body)
    assert_error(st, body, st)
    world()


# --- the transport ------------------------------------------------------------------------------------

def test_header_of_64k(world, daemon):
    req = (b"GET /v1/volumes HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"a" * (64 << 10)
           + b"\r\n\r\n")
    status, got = raw_exchange(daemon.socket, req, timeout=10)
    assert status == 431, got[:300]
    assert _error_body(got)["error"]["code"] == "headers_too_large"
    many = b"GET /v1/volumes HTTP/1.1\r\nHost: localhost\r\n" + b"".join(
        b"X-H%d: %s\r\n" % (i, b"b" * 60) for i in range(2000)) + b"\r\n"
    status, got = raw_exchange(daemon.socket, many, timeout=10)
    assert status == 431, got[:300]
    assert _error_body(got)["error"]["code"] == "headers_too_large"
    world()


def test_short_body_does_not_block_others(world, daemon):
    """A client that declares more than it sends must not hang the daemon."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(3)
    s.connect(daemon.socket)
    s.sendall(b"POST /v1/volumes HTTP/1.1\r\nHost: localhost\r\n"
              b"Content-Type: application/json\r\nContent-Length: 500000\r\n\r\n"
              b'{"name": "slow"')
    t0 = time.monotonic()
    # others are served while the slow client holds its connection open
    st, body = daemon.api("GET", "/v1/health")
    assert st == 200, body
    assert time.monotonic() - t0 < 5
    s.close()
    st, body = daemon.api("GET", "/v1/health")
    assert st == 200
    world()


def test_garbage_request_lines(world, daemon):
    for req, want in ((b"\x00\x01\x02\r\n\r\n", 400), (b"GET\r\n\r\n", 400),
                      (b"GET /v1/health HTTP/9.9\r\n\r\n", 505),
                      (b"POST /v1/volumes HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400),
                      (b"POST /v1/volumes HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                       b"zz\r\n{}\r\n0\r\n\r\n", 400)):
        status, got = raw_exchange(daemon.socket, req, timeout=5)
        assert status == want, (req, got[:300])
        assert _error_body(got)["error"]["message"], got
    world()
