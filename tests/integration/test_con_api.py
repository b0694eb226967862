"""The /con interface's REST routes for files and secrets, against a real volmand
(api/con.c, service/con_files.c, service/secrets.c).

Files of the configuration and context areas and secrets live at an env's level
(/v1/tenants/T/envs/E/...) and at an app's (.../apps/A/...). Bodies of PUT are raw
bytes; a GET of a file answers raw bytes. A secret's value is never answered to
an API caller: only the app's seed token (minted by deploys, which need a container
engine this suite does not have) may read it. So where a test must know what a
secret's sealed box holds, it opens the box itself with libsodium and the root's
secret.key, reading the store read-only.

Limits: 1 MiB per file or secret (the HTTP body limit too), 16 MiB and 256 files per
area and level (-E2BIG: 413 too_large)."""

import base64
import ctypes
import ctypes.util
import hashlib
import http.client
import json
import os
import re
import socket
import sqlite3
import ssl
import stat
import subprocess
import threading
import time
import uuid

import pytest

from conftest import VOLMAN, UnixHTTPConnection

MiB = 1 << 20
LISTEN = ["--listen", "127.0.0.1:0"]
ENV = "/v1/tenants/acme/envs/prod"
APP = ENV + "/apps/web"
ALL_BYTES = bytes(range(256))


# ---- talking to volmand -----------------------------------------------------------


class Api:
    """The files and secrets routes, over the unix socket (the admin) or the TLS
    listener (a token's caller). One connection per request: threads may share it."""

    def __init__(self, daemon, token=None):
        self.daemon = daemon
        self.token = token
        self.port = listen_port(daemon) if token else None

    def _conn(self):
        if self.token is None:
            return UnixHTTPConnection(self.daemon.socket, timeout=60)
        ctx = ssl.create_default_context(cafile=os.path.join(self.daemon.root, "tls", "cert.pem"))
        return http.client.HTTPSConnection("127.0.0.1", self.port, context=ctx, timeout=60)

    def request(self, method, path, data=None, retry_cut=True):
        """(status, body bytes, content type). A 503 (the store busy, or too many
        connections of this client) is retried; so is a
        connection volmand closed while the request was still being sent (what a
        client past its connection limit sees when its body is larger than the
        socket's buffer: volmand answered 503 without reading it) unless
        retry_cut is False."""
        for attempt in range(50):
            conn = self._conn()
            try:
                hdrs = {"Connection": "close"}
                if self.token:
                    hdrs["Authorization"] = "Bearer " + self.token
                if data is not None:
                    hdrs["Content-Type"] = "application/octet-stream"
                try:
                    conn.request(method, path, body=data, headers=hdrs)
                except (BrokenPipeError, ConnectionResetError):
                    if not retry_cut or attempt == 49:
                        raise
                    time.sleep(min(0.01 * (attempt + 1), 0.2))
                    continue
                resp = conn.getresponse()
                body = resp.read()
                ctype = resp.getheader("Content-Type", "")
            finally:
                conn.close()
            if resp.status != 503:
                return resp.status, body, ctype
            time.sleep(min(0.01 * (attempt + 1), 0.2))
        return resp.status, body, ctype

    def json(self, method, path, data=None):
        st, body, _ = self.request(method, path, data)
        return st, (json.loads(body) if body else None)

    # files
    def put_file(self, level, area, name, data):
        return self.json("PUT", "%s/files/%s/%s" % (level, area, name), data)

    def get_file(self, level, area, name):
        st, body, ctype = self.request("GET", "%s/files/%s/%s" % (level, area, name))
        return st, body, ctype

    def delete_file(self, level, area, name):
        return self.json("DELETE", "%s/files/%s/%s" % (level, area, name))

    def list_files(self, level, area=None):
        return self.json("GET", "%s/files%s" % (level, "?area=" + area if area else ""))

    def files(self, level, area=None):
        st, body = self.list_files(level, area)
        assert st == 200, (level, area, st, body)
        return body["files"]

    # secrets
    def put_secret(self, level, name, data):
        return self.json("PUT", "%s/secrets/%s" % (level, name), data)

    def delete_secret(self, level, name):
        return self.json("DELETE", "%s/secrets/%s" % (level, name))

    def list_secrets(self, level):
        return self.json("GET", "%s/secrets" % level)

    def secrets(self, level):
        st, body = self.list_secrets(level)
        assert st == 200, (level, st, body)
        return body["secrets"]


def listen_port(daemon, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = re.search(r"serving HTTPS on 127\.0\.0\.1:(\d+)", daemon.log_text())
        if m:
            return int(m.group(1))
        time.sleep(0.05)
    pytest.fail("volmand did not log its HTTPS port:\n" + daemon.log_tail())


def make_token(daemon, tenant):
    st, body = daemon.api("POST", "/v1/tokens", {"tenant": tenant})
    assert st == 201, body
    return body["token"]


def error_of(st, body, want_status, code):
    """An API error: the status, the code, and a message (returned)."""
    if isinstance(body, bytes):
        body = json.loads(body) if body else None
    assert st == want_status, (st, body)
    assert isinstance(body, dict) and isinstance(body.get("error"), dict), body
    assert body["error"]["code"] == code, body
    msg = body["error"]["message"]
    assert isinstance(msg, str) and msg, body
    return msg


def sha(data):
    return hashlib.sha256(data).hexdigest()


def assert_record(rec, area, name, data):
    assert set(rec) == {"area", "name", "size", "updated", "sha256"}, rec
    assert rec["area"] == area and rec["name"] == name, rec
    assert rec["size"] == len(data), rec
    assert rec["sha256"] == sha(data), rec
    assert isinstance(rec["updated"], int) and abs(rec["updated"] - time.time()) < 120, rec


def state(api, levels):
    """Everything the file and secret routes show at these levels, as the admin
    sees it: the records, every file's bytes, the secrets' records."""
    out = {}
    for level in levels:
        recs = api.files(level)
        out[level] = {
            "files": recs,
            "bytes": {(r["area"], r["name"]): sha(api.get_file(level, r["area"], r["name"])[1]) for r in recs},
            "secrets": api.secrets(level),
        }
    return out


def search_root(root, needles):
    """The files under root whose bytes hold any of needles."""
    hits = []
    for dirpath, _, filenames in os.walk(root):
        for n in filenames:
            p = os.path.join(dirpath, n)
            if os.path.islink(p) or not os.path.isfile(p):
                continue
            with open(p, "rb") as f:
                data = f.read()
            for needle in needles:
                if needle in data:
                    hits.append((p, needle))
    return hits


# ---- opening a sealed secret the way volmand does --------------------------------

_sodium = None


def sodium():
    global _sodium
    if _sodium is None:
        name = ctypes.util.find_library("sodium") or "libsodium.so.23"
        try:
            lib = ctypes.CDLL(name)
        except OSError as e:
            pytest.fail("libsodium (volmand's own dependency) is not loadable from Python (%s): cannot open a sealed box" % e)
        assert lib.sodium_init() >= 0
        _sodium = lib
    return _sodium


def store_file(d):
    """The daemon's store as it is now, as a file to read: the database itself
    when volmand is stopped, else a copy made by `volman store backup` (volmand
    holds its database locked against other processes)."""
    if not d.running():
        return os.path.join(d.root, "volman.db")
    out = os.path.join(os.path.dirname(d.root), "store-copy.db")
    p = subprocess.run([VOLMAN, "--socket", d.socket, "store", "backup", "-o", out],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return out


def stored_secret(d, key):
    """(record, value) of the secret stored under key ("tenant/env/app-or-*/name"),
    read from daemon d's store (read-only) and opened with its secret.key; (None,
    None) when there is no record. Fails the test when the box does not open or is
    not bound to key."""
    root = d.root
    db = sqlite3.connect("file:%s?mode=ro" % store_file(d), uri=True, timeout=10)
    try:
        rec = db.execute("SELECT body FROM docs WHERE kind = 'secret' AND key = ?", (key,)).fetchone()
        # the record names the slot ({key}@a or {key}@b) of its current box
        slot = json.loads(rec[0]).get("slot") if rec else None
        box = db.execute("SELECT body FROM docs WHERE kind = 'secret-data' AND key = ?",
                         ("%s@%s" % (key, slot),)).fetchone() if rec else None
    finally:
        db.close()
    if rec is None:
        return None, None
    assert box is not None, "secret %s has a record but no sealed box" % key
    with open(os.path.join(root, "secret.key"), "rb") as f:
        k = f.read()
    o = json.loads(box[0])
    nonce, c = base64.b64decode(o["nonce"]), base64.b64decode(o["box"])
    assert len(nonce) == 24 and len(c) >= 16, o
    m = ctypes.create_string_buffer(len(c) - 16 or 1)
    rc = sodium().crypto_secretbox_open_easy(m, c, ctypes.c_ulonglong(len(c)), nonce, k)
    assert rc == 0, "the sealed box of %s does not open with the root's key" % key
    plain = m.raw[:len(c) - 16]
    assert plain.startswith(key.encode() + b"\0"), "the box of %s is not bound to its key" % key
    return json.loads(rec[0]), plain[len(key) + 1:]


# ---- files: round trips ------------------------------------------------------------


def test_files_round_trip_byte_exact_at_both_levels(daemon):
    api = Api(daemon)
    for level in (ENV, APP):
        blob = ALL_BYTES * 17 + b"\x00\r\n\xff"
        st, rec = api.put_file(level, "configuration", "app.bin", blob)
        assert st == 200, rec
        assert_record(rec, "configuration", "app.bin", blob)
        st, got, ctype = api.get_file(level, "configuration", "app.bin")
        assert st == 200 and got == blob
        assert ctype.startswith("application/octet-stream"), ctype
        assert api.files(level) == [rec]

        # an overwrite keeps one record, with the new sum
        blob2 = os.urandom(5000) + ALL_BYTES
        st, rec2 = api.put_file(level, "configuration", "app.bin", blob2)
        assert st == 200, rec2
        assert_record(rec2, "configuration", "app.bin", blob2)
        assert api.files(level) == [rec2]
        assert api.get_file(level, "configuration", "app.bin")[1] == blob2

        # an empty file is a file
        st, rec3 = api.put_file(level, "context", "empty", b"")
        assert st == 200, rec3
        assert_record(rec3, "context", "empty", b"")
        st, got, _ = api.get_file(level, "context", "empty")
        assert st == 200 and got == b""

        # delete, then 404 everywhere
        st, body = api.delete_file(level, "configuration", "app.bin")
        assert st == 204, body
        st, got, _ = api.get_file(level, "configuration", "app.bin")
        error_of(st, got, 404, "not_found")
        st, body = api.delete_file(level, "configuration", "app.bin")
        error_of(st, body, 404, "not_found")
        assert api.files(level) == [rec3]
        assert api.delete_file(level, "context", "empty")[0] == 204
        assert api.files(level) == []


def test_list_filters_by_area_and_levels_are_separate(daemon):
    api = Api(daemon)
    put = lambda level, area, name, data: api.put_file(level, area, name, data)[0]
    assert put(ENV, "configuration", "shared.conf", b"env-conf") == 200
    assert put(ENV, "context", "shared.conf", b"env-ctx") == 200  # same name, other area: another file
    assert put(ENV, "context", "a.txt", b"a") == 200
    assert put(APP, "configuration", "own.conf", b"app-conf") == 200
    assert put(APP, "configuration", "shared.conf", b"app-wins") == 200

    names = lambda recs: [(r["area"], r["name"]) for r in recs]
    assert names(api.files(ENV)) == [("configuration", "shared.conf"), ("context", "a.txt"),
                                     ("context", "shared.conf")]
    assert names(api.files(ENV, "configuration")) == [("configuration", "shared.conf")]
    assert names(api.files(ENV, "context")) == [("context", "a.txt"), ("context", "shared.conf")]
    assert names(api.files(APP)) == [("configuration", "own.conf"), ("configuration", "shared.conf")]
    assert names(api.files(APP, "context")) == []
    assert api.get_file(ENV, "configuration", "shared.conf")[1] == b"env-conf"
    assert api.get_file(ENV, "context", "shared.conf")[1] == b"env-ctx"
    assert api.get_file(APP, "configuration", "shared.conf")[1] == b"app-wins"
    # the app level does not answer the env's files, nor the env the app's
    st, got, _ = api.get_file(APP, "context", "a.txt")
    error_of(st, got, 404, "not_found")
    st, got, _ = api.get_file(ENV, "configuration", "own.conf")
    error_of(st, got, 404, "not_found")
    # names that share a prefix are other levels
    for level in (ENV + "/apps/we", ENV + "/apps/web2", "/v1/tenants/acme/envs/prod2",
                  "/v1/tenants/acme/envs/pro", "/v1/tenants/acm/envs/prod", "/v1/tenants/acme2/envs/prod"):
        assert api.files(level) == [], level
    # a bad area in the filter
    for area in ("data", "proc", "secret", "bogus", "Configuration"):
        st, body = api.list_files(ENV, area)
        error_of(st, body, 400, "invalid_argument")
    # deleting at one level leaves the other
    assert api.delete_file(APP, "configuration", "shared.conf")[0] == 204
    assert api.get_file(ENV, "configuration", "shared.conf")[1] == b"env-conf"


# ---- bad input changes nothing --------------------------------------------------------


BAD_NAMES = ["DEFAULT", ".hidden", "a%2Fb", "x" * 129, "..", "%2E%2E", "a%20b", "a%3Ab", "%C3%A9", "a%0Ab"]
BAD_SCOPES = [("Acme", "prod", "web"), ("acme", "Prod", "web"), ("acme", "prod", "we_b"), ("-acme", "prod", "web"),
              ("acme", "prod-", "web"), ("a" * 64, "prod", "web"), ("acme", "prod", "web.x"),
              ("acme", "pr%2Fod", "web")]


def test_bad_areas_names_and_scopes_change_nothing(daemon):
    api = Api(daemon)
    assert api.put_file(ENV, "configuration", "a.conf", b"A" * 100)[0] == 200
    assert api.put_file(APP, "context", "b.txt", ALL_BYTES)[0] == 200
    assert api.put_secret(ENV, "s1", b"one")[0] == 200
    assert api.put_secret(APP, "s2", b"two")[0] == 200
    levels = (ENV, APP)
    before = state(api, levels)

    for level in levels:
        # areas without files, unknown areas, paths for areas
        for area in ("data", "proc", "secret", "seed", "log", "var", "bogus", "Configuration", "..%2Fx", "%2E%2E",
                     "configuration%2Fx"):
            for method, data in (("PUT", b"x"), ("GET", None), ("DELETE", None)):
                st, body, _ = api.request(method, "%s/files/%s/a.conf" % (level, area), data)
                msg = error_of(st, body, 400, "invalid_argument")
                assert "area" in msg or "configuration" in msg, msg
        # bad file names
        for name in BAD_NAMES:
            for method, data in (("PUT", b"x"), ("GET", None), ("DELETE", None)):
                st, body, _ = api.request(method, "%s/files/configuration/%s" % (level, name), data)
                msg = error_of(st, body, 400, "invalid_argument")
                assert "name" in msg, msg
        # bad secret names
        for name in BAD_NAMES:
            for method, data in (("PUT", b"x"), ("DELETE", None)):
                st, body, _ = api.request(method, "%s/secrets/%s" % (level, name), data)
                msg = error_of(st, body, 400, "invalid_argument")
                assert "secret" in msg, msg
        # a NUL in a name: refused by the HTTP parser already
        for path in ("%s/files/configuration/a%%00b" % level, "%s/secrets/a%%00b" % level):
            for method, data in (("PUT", b"x"), ("GET", None), ("DELETE", None)):
                st, body, _ = api.request(method, path, data)
                error_of(st, body, 400, "invalid_argument")
        # dot segments in the raw path are not a way out of the level
        for path in ("%s/files/../files/configuration/a.conf" % level, "%s/files/configuration/../x" % level,
                     "%s/secrets/../s1" % level):
            for method, data in (("PUT", b"x"), ("DELETE", None)):
                st, body, _ = api.request(method, path, data)
                assert st in (400, 404, 405), (method, path, st, body)

    # tenants, envs and apps that are not DNS labels
    for tenant, env, app in BAD_SCOPES:
        e = "/v1/tenants/%s/envs/%s" % (tenant, env)
        a = e + "/apps/" + app
        bad_part = "tenant" if tenant != "acme" else "env" if env != "prod" else "app"
        routes = [("GET", a + "/files", None), ("PUT", a + "/files/configuration/x", b"x"),
                  ("GET", a + "/files/configuration/x", None), ("DELETE", a + "/files/configuration/x", None),
                  ("GET", a + "/secrets", None), ("PUT", a + "/secrets/x", b"x"), ("DELETE", a + "/secrets/x", None),
                  ("GET", a + "/secrets/x", None)]
        if bad_part != "app":
            routes += [("GET", e + "/files", None),
                       ("PUT", e + "/files/configuration/x", b"x"), ("GET", e + "/files/configuration/x", None),
                       ("DELETE", e + "/files/configuration/x", None), ("GET", e + "/secrets", None),
                       ("PUT", e + "/secrets/x", b"x"), ("DELETE", e + "/secrets/x", None)]
        for method, path, data in routes:
            st, body, _ = api.request(method, path, data)
            msg = error_of(st, body, 400, "invalid_argument")
            assert bad_part in msg, (path, msg)

    assert state(api, levels) == before


def raw_head(sock_path, method, path, content_length):
    """Sends only a request head announcing content_length bytes and returns the
    status of the answer (volmand must refuse before reading the body)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    try:
        s.connect(sock_path)
        s.sendall(("%s %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
                   "Content-Length: %d\r\n\r\n" % (method, path, content_length)).encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    m = re.match(rb"HTTP/1\.1 (\d{3}) ", data)
    assert m, data[:200]
    return int(m.group(1)), data


# Each limit on a daemon of its own: once an area holds megabytes every store
# operation slows down (see the note above test_concurrent_puts...).


def test_a_file_or_secret_holds_at_most_1_mib(daemon):
    api = Api(daemon)
    big = "/v1/tenants/acme/envs/big"
    st, rec = api.put_file(big, "context", "max.bin", os.urandom(MiB))
    assert st == 200 and rec["size"] == MiB, rec
    for path in (big + "/files/context/over.bin", big + "/files/context/max.bin", big + "/secrets/over"):
        st, data = raw_head(daemon.socket, "PUT", path, MiB + 1)
        assert st == 413, data[:300]
    # the whole body sent: refused all the same (or the connection is cut while sending)
    try:
        st, body, _ = api.request("PUT", big + "/files/context/over.bin", os.urandom(MiB + 1), retry_cut=False)
        error_of(st, body, 413, "too_large")
    except (ConnectionError, http.client.HTTPException):
        pass
    assert [r["name"] for r in api.files(big, "context")] == ["max.bin"]
    assert api.files(big, "context")[0]["sha256"] == rec["sha256"]
    assert api.delete_file(big, "context", "max.bin")[0] == 204
    st, rec = api.put_secret(big, "max", os.urandom(MiB))
    assert st == 200 and rec["size"] == MiB, rec
    assert [r["name"] for r in api.secrets(big)] == ["max"]


def test_an_area_holds_at_most_16_mib_per_level(daemon):
    api = Api(daemon)
    big = "/v1/tenants/acme/envs/big"
    # 16 files of 1 MiB, and the 17th refused
    blobs = {}
    for i in range(16):
        blobs["f%02d" % i] = os.urandom(MiB)
        st, body = api.put_file(big, "configuration", "f%02d" % i, blobs["f%02d" % i])
        assert st == 200, (i, body)
    st, body = api.put_file(big, "configuration", "f16", os.urandom(MiB))
    msg = error_of(st, body, 413, "too_large")
    assert "16 MiB" in msg, msg
    st, body = api.put_file(big, "configuration", "tiny", b"x")
    error_of(st, body, 413, "too_large")
    recs = api.files(big, "configuration")
    assert {r["name"]: r["sha256"] for r in recs} == {n: sha(b) for n, b in blobs.items()}
    assert sum(r["size"] for r in recs) == 16 * MiB
    for n in ("f00", "f07", "f15"):
        assert api.get_file(big, "configuration", n)[1] == blobs[n]
    st, got, _ = api.get_file(big, "configuration", "f16")
    error_of(st, got, 404, "not_found")
    # an overwrite of the same size replaces, it does not add
    blobs["f03"] = os.urandom(MiB)
    st, body = api.put_file(big, "configuration", "f03", blobs["f03"])
    assert st == 200, body
    assert api.get_file(big, "configuration", "f03")[1] == blobs["f03"]
    # the limit is per area and per level
    assert api.put_file(big, "context", "c.bin", os.urandom(MiB))[0] == 200
    assert api.put_file(big + "/apps/web", "configuration", "a.bin", os.urandom(MiB))[0] == 200
    # room made, room used
    assert api.delete_file(big, "configuration", "f00")[0] == 204
    assert api.put_file(big, "configuration", "f16", os.urandom(MiB))[0] == 200



def test_an_area_holds_at_most_256_files_per_level(daemon):
    api = Api(daemon)
    many = "/v1/tenants/acme/envs/many"
    for i in range(256):
        st, body = api.put_file(many, "context", "n%03d" % i, b"%d" % i)
        assert st == 200, (i, body)
    st, body = api.put_file(many, "context", "n256", b"x")
    msg = error_of(st, body, 413, "too_large")
    assert "256" in msg, msg
    recs = api.files(many, "context")
    assert len(recs) == 256 and "n256" not in {r["name"] for r in recs}
    assert api.put_file(many, "context", "n000", b"again")[0] == 200  # an overwrite still works
    assert api.get_file(many, "context", "n000")[1] == b"again"
    assert api.put_file(many, "configuration", "other-area", b"x")[0] == 200
    assert api.delete_file(many, "context", "n100")[0] == 204
    assert api.put_file(many, "context", "n256", b"x")[0] == 200
    assert len(api.files(many, "context")) == 256


def test_secrets_hold_at_most_16_mib_per_level(daemon):
    api = Api(daemon)
    big = "/v1/tenants/acme/envs/bigsecrets"
    sizes = {}
    for i in range(16):
        st, body = api.put_secret(big, "s%02d" % i, os.urandom(MiB))
        assert st == 200, (i, body)
        sizes["s%02d" % i] = MiB
    st, body = api.put_secret(big, "s16", os.urandom(MiB))
    msg = error_of(st, body, 413, "too_large")
    assert "16 MiB" in msg, msg
    st, body = api.put_secret(big, "tiny", b"x")
    error_of(st, body, 413, "too_large")
    assert {r["name"]: r["size"] for r in api.secrets(big)} == sizes
    # an overwrite of the same size replaces, it does not add
    assert api.put_secret(big, "s03", os.urandom(MiB))[0] == 200
    # the limit is per level: the app's secrets are bounded apart from the env's
    assert api.put_secret(big + "/apps/web", "a", os.urandom(MiB))[0] == 200
    # room made, room used
    assert api.delete_secret(big, "s00")[0] == 204
    assert api.put_secret(big, "s16", os.urandom(MiB))[0] == 200
    assert len(api.secrets(big)) == 16


def test_secrets_hold_at_most_256_per_level(daemon):
    api = Api(daemon)
    many = "/v1/tenants/acme/envs/manysecrets"
    for i in range(256):
        st, body = api.put_secret(many, "n%03d" % i, b"%d" % i)
        assert st == 200, (i, body)
    st, body = api.put_secret(many, "n256", b"x")
    msg = error_of(st, body, 413, "too_large")
    assert "256" in msg, msg
    names = {r["name"] for r in api.secrets(many)}
    assert len(names) == 256 and "n256" not in names
    assert api.put_secret(many, "n000", b"again")[0] == 200  # an overwrite still works
    assert api.put_secret(many + "/apps/web", "n256", b"x")[0] == 200  # another level
    assert api.delete_secret(many, "n100")[0] == 204
    assert api.put_secret(many, "n256", b"x")[0] == 200
    assert len(api.secrets(many)) == 256


def test_a_writeable_volume_under_con_is_refused_with_con_on(daemon):
    """writeableVolumes at or under /con while the merged con is on: refused when the
    layer is put (naming the path and why), nothing stored; the same path is fine with
    con off, and an env layer that turns con on later makes the app's resolve fail."""
    env = "/v1/tenants/acme/envs/conpaths"
    app = env + "/apps/web"

    def layer(path):
        st, body = daemon.api("GET", path + "/config")
        assert st == 200, body
        return body

    good = {"con": True, "writeableVolumes": ["/data"]}
    assert daemon.api("PUT", app + "/config", good)[0] == 200
    for paths in (["/con/data"], ["/data", "/con"], ["/con/cache/x"]):
        st, body = daemon.api("PUT", app + "/config", {"con": True, "writeableVolumes": paths})
        msg = error_of(st, body, 400, "invalid_argument")
        bad = [p for p in paths if p.startswith("/con")][0]
        assert ("lists %s," % bad) in msg and "/con belongs to the /con interface" in msg, msg
        assert layer(app) == good
    # con turned on by the env, the path in the app's layer: the app layer is refused
    assert daemon.api("PUT", env + "/config", {"con": True})[0] == 200
    st, body = daemon.api("PUT", app + "/config", {"writeableVolumes": ["/con/log"]})
    assert "/con/log" in error_of(st, body, 400, "invalid_argument")
    assert layer(app) == good
    # both in one env layer: refused, nothing stored
    st, body = daemon.api("PUT", env + "/config", {"con": {"log": False}, "writeableVolumes": ["/con/log"]})
    assert "/con/log" in error_of(st, body, 400, "invalid_argument")
    assert layer(env) == {"con": True}
    # /conf is not /con; and with con off, /con/... is an ordinary path
    assert daemon.api("PUT", app + "/config", {"writeableVolumes": ["/conf"]})[0] == 200
    assert daemon.api("PUT", env + "/config", {"con": False})[0] == 200
    assert daemon.api("PUT", app + "/config", {"writeableVolumes": ["/con/data"]})[0] == 200
    st, body = daemon.api("GET", app + "/resolved")
    assert st == 200, body
    # an env layer put later turns con on for that app: its resolve says why
    assert daemon.api("PUT", env + "/config", {"con": True})[0] == 200
    st, body = daemon.api("GET", app + "/resolved")
    assert "/con/data" in error_of(st, body, 400, "invalid_argument")


# ---- secrets ------------------------------------------------------------------------


def test_secrets_are_listed_never_shown_never_stored_in_clear_and_kept(make_daemon):
    d = make_daemon()
    api = Api(d)
    marker = "SECRET-%s" % uuid.uuid4()
    env_value = marker.encode()
    app_value = os.urandom(300) + ("%s-app" % marker).encode() + os.urandom(300)
    t0 = int(time.time())
    st, body, _ = api.request("PUT", ENV + "/secrets/db-password", env_value)
    assert st == 200 and marker.encode() not in body, body
    env_rec = json.loads(body)
    assert set(env_rec) == {"name", "size", "created", "updated"}, env_rec
    assert env_rec["name"] == "db-password" and env_rec["size"] == len(env_value)
    assert env_rec["created"] == env_rec["updated"] and abs(env_rec["created"] - t0) < 60, env_rec
    st, app_rec = api.put_secret(APP, "api-key", app_value)
    assert st == 200 and app_rec["size"] == len(app_value), app_rec

    # lists: names, sizes and dates, never the value
    for level, rec in ((ENV, env_rec), (APP, app_rec)):
        st, body, _ = api.request("GET", level + "/secrets")
        assert st == 200 and marker.encode() not in body
        assert json.loads(body)["secrets"] == [rec]
    assert api.secrets(ENV + "/apps/other") == []

    # the value is for the app's seed token alone: not the admin on the socket
    for path in (APP + "/secrets/api-key", APP + "/secrets/db-password"):
        st, body, _ = api.request("GET", path)
        error_of(st, body, 403, "forbidden")
        assert marker.encode() not in body
    st, body, _ = api.request("GET", ENV + "/secrets/db-password")  # no such route at an env's level
    assert st in (404, 405) and marker.encode() not in body, (st, body)

    # the key: {root}/secret.key, 32 bytes, root's alone
    key = os.path.join(d.root, "secret.key")
    ks = os.lstat(key)
    assert stat.S_ISREG(ks.st_mode) and stat.S_IMODE(ks.st_mode) == 0o400, oct(ks.st_mode)
    assert ks.st_size == 32 and ks.st_uid == os.geteuid()

    # the value's bytes are nowhere under the root, nor in the logs: live (WAL), then stopped
    needles = [marker.encode(), marker.encode().hex().encode(), base64.b64encode(env_value)]
    assert search_root(d.root, needles) == []
    d.stop()
    assert search_root(d.root, needles) == []
    for log in d.logs:
        with open(log, "rb") as f:
            assert marker.encode() not in f.read(), log

    # a restart on the same root keeps them (and their sealed boxes open)
    d.start()
    assert api.secrets(ENV) == [env_rec] and api.secrets(APP) == [app_rec]
    assert stored_secret(d, "acme/prod/*/db-password")[1] == env_value
    assert stored_secret(d, "acme/prod/web/api-key")[1] == app_value
    assert os.lstat(key).st_ino == ks.st_ino  # not made again

    # an overwrite keeps created and moves updated
    while int(time.time()) <= env_rec["updated"]:
        time.sleep(0.05)
    marker2 = "SECRET-%s" % uuid.uuid4()
    st, rec2 = api.put_secret(ENV, "db-password", marker2.encode() * 2)
    assert st == 200, rec2
    assert rec2["created"] == env_rec["created"], (rec2, env_rec)
    assert rec2["updated"] > env_rec["updated"], (rec2, env_rec)
    assert rec2["size"] == 2 * len(marker2)
    assert api.secrets(ENV) == [rec2]
    d.restart()
    assert api.secrets(ENV) == [rec2]
    assert search_root(d.root, [marker.encode(), marker2.encode()]) == []

    # delete, then 404
    assert api.delete_secret(ENV, "db-password")[0] == 204
    error_of(*api.delete_secret(ENV, "db-password"), 404, "not_found")
    assert api.secrets(ENV) == [] and api.secrets(APP) == [app_rec]


def test_secret_key_file_must_exist_hold_32_bytes_and_be_private(make_daemon, tmp_path):
    d = make_daemon(start=False, subdir="d")

    def refused(path, why):
        d.start(args=["--secret-key-file", path], wait=False)
        try:
            rc = d.proc.wait(timeout=30)
        except Exception:
            d.kill9()
            pytest.fail("volmand started with the key file %s (%s)" % (path, why))
        assert rc != 0, (path, why, d.log_text())
        assert path in d.log_text(), "the message does not name %s:\n%s" % (path, d.log_text())
        assert not os.path.exists(os.path.join(d.root, "secret.key"))

    missing = str(tmp_path / "no-such.key")
    refused(missing, "missing")
    open_key = str(tmp_path / "open.key")
    with open(open_key, "wb") as f:
        f.write(os.urandom(32))
    os.chmod(open_key, 0o644)
    refused(open_key, "mode 0644")
    os.chmod(open_key, 0o440)
    refused(open_key, "mode 0440")
    short = str(tmp_path / "short.key")
    with open(short, "wb") as f:
        f.write(os.urandom(31))
    os.chmod(short, 0o400)
    refused(short, "31 bytes")
    refused(str(tmp_path), "a directory")

    # a good one is used, and no key is made under the root
    good = str(tmp_path / "good.key")
    with open(good, "wb") as f:
        f.write(os.urandom(32))
    os.chmod(good, 0o400)
    d.start(args=["--secret-key-file", good])
    assert Api(d).put_secret(ENV, "s", b"v")[0] == 200
    assert not os.path.exists(os.path.join(d.root, "secret.key"))
    d.stop()


# ---- tenants --------------------------------------------------------------------------


def test_tenant_isolation_for_files_and_secrets(make_daemon):
    d = make_daemon(args=LISTEN)
    admin = Api(d)
    acme = Api(d, make_token(d, "acme"))
    globex = Api(d, make_token(d, "globex"))
    marker = ("SECRET-%s" % uuid.uuid4()).encode()
    content = b"CONTENT-" + uuid.uuid4().hex.encode() + ALL_BYTES

    # a tenant manages its own
    for level in (ENV, APP):
        st, rec = acme.put_file(level, "configuration", "app.conf", content)
        assert st == 200, rec
        assert acme.get_file(level, "configuration", "app.conf")[1] == content
        assert acme.files(level) == [rec]
        st, srec = acme.put_secret(level, "token", marker)
        assert st == 200, srec
        assert acme.secrets(level) == [srec]
    # but cannot read a secret's value either
    st, body, _ = acme.request("GET", APP + "/secrets/token")
    error_of(st, body, 403, "forbidden")
    assert marker not in body

    levels = (ENV, APP)
    before = state(admin, levels)
    routes = []
    for level in levels:
        routes += [("GET", level + "/files", None), ("GET", level + "/files?area=configuration", None),
                   ("GET", level + "/files/configuration/app.conf", None),
                   ("PUT", level + "/files/configuration/app.conf", b"stolen"),
                   ("PUT", level + "/files/context/new.txt", b"planted"),
                   ("DELETE", level + "/files/configuration/app.conf", None),
                   ("DELETE", level + "/files/configuration/none", None),
                   ("GET", level + "/secrets", None), ("PUT", level + "/secrets/token", b"stolen"),
                   ("PUT", level + "/secrets/new", b"planted"), ("DELETE", level + "/secrets/token", None)]
    routes += [("PUT", "/v1/tenants/acme/envs/staging/files/configuration/x", b"planted"),
               ("PUT", "/v1/tenants/acme/envs/staging/apps/x/secrets/x", b"planted"),
               ("GET", "/v1/tenants/acme/envs/staging/files", None)]
    for method, path, data in routes:
        st, body, _ = globex.request(method, path, data)
        error_of(st, body, 404, "not_found")
        assert marker not in body and content not in body and b"app.conf" not in body, (path, body)
    assert state(admin, levels) == before
    assert admin.files("/v1/tenants/acme/envs/staging") == []
    assert admin.secrets("/v1/tenants/acme/envs/staging/apps/x") == []

    # globex has its own, which acme does not see
    gl = "/v1/tenants/globex/envs/prod"
    assert globex.put_file(gl, "context", "g.txt", b"g")[0] == 200
    assert globex.put_secret(gl, "g", b"g")[0] == 200
    for method, path in (("GET", gl + "/files"), ("GET", gl + "/files/context/g.txt"), ("GET", gl + "/secrets"),
                         ("DELETE", gl + "/files/context/g.txt"), ("DELETE", gl + "/secrets/g")):
        st, body, _ = acme.request(method, path)
        error_of(st, body, 404, "not_found")
    assert globex.files(gl)[0]["name"] == "g.txt" and globex.secrets(gl)[0]["name"] == "g"

    # acme deletes its own
    for level in levels:
        assert acme.delete_file(level, "configuration", "app.conf")[0] == 204
        assert acme.delete_secret(level, "token")[0] == 204
        assert acme.files(level) == [] and acme.secrets(level) == []


def test_another_tenants_secret_value_route_is_404_too(make_daemon):
    """GET .../apps/A/secrets/NAME, like every other route, does not exist for
    another tenant (service/con.h: "another tenant's files and secrets do not
    exist for it (-ENOENT)"); only the owner hears that values are for seed
    tokens alone."""
    d = make_daemon(args=LISTEN)
    acme = Api(d, make_token(d, "acme"))
    globex = Api(d, make_token(d, "globex"))
    marker = ("SECRET-%s" % uuid.uuid4()).encode()
    assert acme.put_secret(APP, "token", marker)[0] == 200
    st, body, _ = acme.request("GET", APP + "/secrets/token")
    error_of(st, body, 403, "forbidden")
    for path in (APP + "/secrets/token", APP + "/secrets/none", "/v1/tenants/acme/envs/staging/apps/x/secrets/x"):
        st, body, _ = globex.request("GET", path)
        assert marker not in body
        error_of(st, body, 404, "not_found")


# ---- crash safety ---------------------------------------------------------------------


def put_dropped(api, path, data):
    """A put that the failpoint kills: no answer, the connection dropped."""
    with pytest.raises((ConnectionError, http.client.HTTPException)):
        st, body, _ = api.request("PUT", path, data, retry_cut=False)
        pytest.fail("the put was answered %s %r although its failpoint should have killed volmand" % (st, body))


def assert_files_consistent(api, level):
    """Every listed file's GET answers exactly the bytes its record describes."""
    for r in api.files(level):
        st, got, _ = api.get_file(level, r["area"], r["name"])
        assert st == 200, (r, st, got)
        assert len(got) == r["size"] and sha(got) == r["sha256"], (
            "file %s/%s: the record says %d bytes %s, GET answers %d bytes %s"
            % (r["area"], r["name"], r["size"], r["sha256"][:16], len(got), sha(got)[:16]))


def test_file_put_killed_between_data_and_record_new_name(make_daemon):
    d = make_daemon(env={"VOLMAN_FAILPOINT": "con-file-put-between=kill"})
    api = Api(d)
    put_dropped(api, ENV + "/files/configuration/new.conf", os.urandom(4000))
    d.wait_dead()
    d.start()
    assert api.files(ENV) == []
    assert_files_consistent(api, ENV)
    st, got, _ = api.get_file(ENV, "configuration", "new.conf")
    error_of(st, got, 404, "not_found")
    v = os.urandom(4321)
    assert api.put_file(ENV, "configuration", "new.conf", v)[0] == 200
    assert api.get_file(ENV, "configuration", "new.conf")[1] == v
    assert_files_consistent(api, ENV)


def test_file_put_killed_between_data_and_record_overwrite(make_daemon):
    d = make_daemon(env={"VOLMAN_FAILPOINT": "con-file-put-between:2=kill"})
    api = Api(d)
    v1, v2 = os.urandom(3000), os.urandom(5000)
    st, rec1 = api.put_file(ENV, "configuration", "app.conf", v1)
    assert st == 200, rec1
    put_dropped(api, ENV + "/files/configuration/app.conf", v2)
    d.wait_dead()
    d.start()
    recs = api.files(ENV)
    assert len(recs) == 1 and recs[0]["name"] == "app.conf", recs
    st, got, _ = api.get_file(ENV, "configuration", "app.conf")
    assert st == 200
    # the old version whole, or the new one whole: never the record of one and the bytes of the other
    assert (recs[0]["sha256"], got) in ((sha(v1), v1), (sha(v2), v2)), (
        "after a crash between the data and the record: the record says %d bytes %s..., GET answers %d bytes "
        "(the %s version)" % (recs[0]["size"], recs[0]["sha256"][:16], len(got),
                              "new" if got == v2 else "old" if got == v1 else "unknown"))
    v3 = os.urandom(777)
    assert api.put_file(ENV, "configuration", "app.conf", v3)[0] == 200
    assert api.get_file(ENV, "configuration", "app.conf")[1] == v3
    assert_files_consistent(api, ENV)


def test_file_put_eio_between_data_and_record_new_name(make_daemon):
    d = make_daemon(env={"VOLMAN_FAILPOINT": "con-file-put-between=eio"})
    api = Api(d)
    st, body = api.put_file(APP, "context", "new.txt", b"never")
    error_of(st, body, 500, "internal")
    assert api.files(APP) == []
    st, got, _ = api.get_file(APP, "context", "new.txt")
    error_of(st, got, 404, "not_found")
    d.restart()
    assert api.files(APP) == []
    assert api.put_file(APP, "context", "new.txt", b"now")[0] == 200
    assert api.get_file(APP, "context", "new.txt")[1] == b"now"


def test_file_put_eio_between_data_and_record_overwrite(make_daemon):
    d = make_daemon(env={"VOLMAN_FAILPOINT": "con-file-put-between:2=eio"})
    api = Api(d)
    v1, v2 = os.urandom(1000), os.urandom(2000)
    assert api.put_file(APP, "context", "app.txt", v1)[0] == 200
    before = api.files(APP)
    st, body = api.put_file(APP, "context", "app.txt", v2)
    error_of(st, body, 500, "internal")
    assert api.files(APP) == before
    st, got, _ = api.get_file(APP, "context", "app.txt")
    assert st == 200
    assert got == v1, ("a put answered an error, yet GET now answers %d bytes (the %s version) under the old "
                       "record of %d bytes" % (len(got), "new" if got == v2 else "unknown", len(v1)))


def assert_secret_consistent(d, key, rec, values):
    """The stored secret under key: its record's size is its box's value's, and the
    value is one of values."""
    stored, value = stored_secret(d, key)
    assert stored is not None, key
    assert rec is None or stored["size"] == rec["size"]
    assert value in values, "secret %s holds a value the test never put" % key
    assert len(value) == stored["size"], (
        "secret %s: the record says %d bytes, its sealed box holds %d (the %s version)"
        % (key, stored["size"], len(value), ["old", "new", "other"][min(values.index(value), 2)]))


def test_secret_put_killed_between_box_and_record_new_name(make_daemon):
    d = make_daemon(env={"VOLMAN_FAILPOINT": "secret-put-between=kill"})
    api = Api(d)
    put_dropped(api, APP + "/secrets/new", b"never-" + os.urandom(8))
    d.wait_dead()
    d.start()
    assert api.secrets(APP) == []
    assert stored_secret(d, "acme/prod/web/new") == (None, None)
    assert api.delete_secret(APP, "new")[0] == 404
    st, rec = api.put_secret(APP, "new", b"now")
    assert st == 200 and api.secrets(APP) == [rec]
    assert stored_secret(d, "acme/prod/web/new")[1] == b"now"


def test_secret_put_killed_between_box_and_record_overwrite(make_daemon):
    d = make_daemon(env={"VOLMAN_FAILPOINT": "secret-put-between:2=kill"})
    api = Api(d)
    v1, v2 = b"old-" + os.urandom(7), b"new-" + os.urandom(19)
    st, rec1 = api.put_secret(ENV, "pw", v1)
    assert st == 200, rec1
    put_dropped(api, ENV + "/secrets/pw", v2)
    d.wait_dead()
    d.start()
    recs = api.secrets(ENV)
    assert len(recs) == 1 and recs[0]["name"] == "pw", recs
    assert_secret_consistent(d, "acme/prod/*/pw", recs[0], [v1, v2])
    v3 = b"v3"
    st, rec3 = api.put_secret(ENV, "pw", v3)
    assert st == 200 and api.secrets(ENV) == [rec3]
    assert stored_secret(d, "acme/prod/*/pw")[1] == v3


def test_secret_put_eio_between_box_and_record(make_daemon):
    d = make_daemon(env={"VOLMAN_FAILPOINT": "secret-put-between:2=eio"})
    api = Api(d)
    v1, v2 = b"old-" + os.urandom(7), b"new-" + os.urandom(19)
    assert api.put_secret(ENV, "pw", v1)[0] == 200
    before = api.secrets(ENV)
    # a new name: an error, nothing listed
    st, body = api.put_secret(ENV, "other", b"x")
    error_of(st, body, 500, "internal")
    assert api.secrets(ENV) == before
    assert stored_secret(d, "acme/prod/*/other") == (None, None)
    # an overwrite: an error, the list unchanged, the old value still what is stored
    st, body = api.put_secret(ENV, "pw", v2)
    error_of(st, body, 500, "internal")
    assert api.secrets(ENV) == before
    assert_secret_consistent(d, "acme/prod/*/pw", before[0], [v1, v2])
    assert stored_secret(d, "acme/prod/*/pw")[1] == v1


# ---- concurrency ------------------------------------------------------------------------


def run_together(fn, args):
    """Runs fn(arg) for each arg, each in its thread, all released at once; returns
    {arg index: fn's result, or the exception's repr}."""
    results = {}
    barrier = threading.Barrier(len(args))

    def one(i):
        barrier.wait()
        try:
            results[i] = fn(args[i])
        except Exception as e:  # reported by the caller's assertions
            results[i] = (None, repr(e))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(args))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(results) == len(args), "threads still running"
    return results


# Every put here is serialised on its area's lock, and once the store holds
# megabytes of files each store operation slows down (the docs table is WITHOUT
# ROWID: a B-tree descent reads the whole big rows it compares against), so the
# phase with small files runs first.
def test_concurrent_puts_keep_an_area_within_its_limits(daemon):
    api = Api(daemon)

    # concurrent overwrites of one name: one record, whose bytes are one writer's, whole
    one = "/v1/tenants/acme/envs/busy2"
    versions = [os.urandom(1000 + i) for i in range(50)]
    results = run_together(lambda v: api.put_file(one, "context", "same", v), versions)
    assert sorted(st for st, _ in results.values()) == [200] * len(versions), results
    recs = api.files(one)
    assert len(recs) == 1
    got = api.get_file(one, "context", "same")[1]
    assert got in versions and sha(got) == recs[0]["sha256"] and len(got) == recs[0]["size"]

    # 100 new files at once, 20 MiB in all: exactly the 81 that fit in 16 MiB are taken
    level = "/v1/tenants/acme/envs/busy"
    size = 200 * 1024
    names = ["f%03d" % i for i in range(100)]
    blobs = {n: os.urandom(size) for n in names}
    results = run_together(lambda n: api.put_file(level, "configuration", n, blobs[n]), names)
    accepted = sorted(names[i] for i, (st, _) in results.items() if st == 200)
    for i, (st, body) in results.items():
        if st != 200:
            error_of(st, body, 413, "too_large")
    recs = api.files(level)
    assert sum(r["size"] for r in recs) <= 16 * MiB
    assert sorted(r["name"] for r in recs) == accepted
    assert len(accepted) == (16 * MiB) // size, len(accepted)
    for r in recs:
        assert r["sha256"] == sha(blobs[r["name"]]) and r["size"] == size
    assert_files_consistent(api, level)
