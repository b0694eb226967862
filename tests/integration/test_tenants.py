"""Tenants as callers over the HTTPS listener (volmand --listen): tokens, console
sessions, and isolation on every route (docs/api.md, "Tokens and the HTTPS listener").

Every request here goes over real TLS to a real volmand, verified against the
certificate volmand made under its root."""

import http.client
import json
import os
import re
import socket
import sqlite3
import ssl
import stat
import subprocess
import time

import pytest

from conftest import VOLMAN, Client, q

LISTEN = ["--listen", "127.0.0.1:0"]


def fingerprint(daemon):
    listen_port(daemon)  # the line that names the port names the certificate
    return re.search(r"certificate (SHA256 [0-9A-F:]{95})", daemon.log_text()).group(1)


def listen_port(daemon, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = re.search(r"serving HTTPS on 127\.0\.0\.1:(\d+)", daemon.log_text())
        if m:
            return int(m.group(1))
        time.sleep(0.05)
    pytest.fail("volmand did not log its HTTPS port:\n" + daemon.log_tail())


class TLSClient:
    """One kept-alive HTTPS connection, verified against volmand's certificate."""

    def __init__(self, daemon, token=None, cookie=None, csrf=None, cafile=None):
        self.port = listen_port(daemon)
        self.ctx = ssl.create_default_context(cafile=cafile or os.path.join(daemon.root, "tls", "cert.pem"))
        self.token, self.cookie, self.csrf = token, cookie, csrf
        self.conn = None

    def close(self):
        if self.conn:
            self.conn.close()
            self.conn = None

    def request(self, method, path, body=None, headers=None, raw=None):
        """(status, parsed body, response headers as a dict of lists)."""
        hdrs = {}
        if self.token:
            hdrs["Authorization"] = "Bearer " + self.token
        if self.cookie:
            hdrs["Cookie"] = "volman_session=" + self.cookie
        if self.csrf:
            hdrs["X-CSRF-Token"] = self.csrf
        hdrs.update(headers or {})
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        if data is not None:
            hdrs.setdefault("Content-Type", "application/json")
        if self.conn is None:
            self.conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=30)
        self.conn.request(method, path, body=data, headers=hdrs)
        resp = self.conn.getresponse()
        payload = resp.read()
        heads = {}
        for k, v in resp.getheaders():
            heads.setdefault(k.lower(), []).append(v)
        if resp.will_close:
            self.close()
        text = payload.decode("utf-8", "replace")
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = text
        return resp.status, parsed, heads

    def get(self, path, **kw):
        return self.request("GET", path, **kw)


def make_token(daemon, tenant=None, name=None):
    st, body = daemon.api("POST", "/v1/tokens",
                          {"tenant": tenant, **({"name": name} if name else {})} if tenant
                          else {"admin": True, **({"name": name} if name else {})})
    assert st == 201, body
    assert re.fullmatch(r"vmt_[0-9a-f]{12}_[0-9a-f]{64}", body["token"]), body
    return body["token"], body["id"]


def assert_err(st, body, want, code):
    assert st == want, (st, body)
    assert isinstance(body, dict) and body["error"]["code"] == code and body["error"]["message"], body


@pytest.fixture
def tls(make_daemon):
    return make_daemon(args=LISTEN)


# ---- the listener ---------------------------------------------------------------


def test_no_credential_is_401_with_the_error_shape_and_security_headers(tls):
    c = TLSClient(tls)
    st, body, h = c.get("/v1/volumes")
    assert_err(st, body, 401, "unauthorized")
    assert "Bearer" in h["www-authenticate"][0]
    csp = h["content-security-policy"][0]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert h["x-frame-options"] == ["DENY"]
    assert h["x-content-type-options"] == ["nosniff"]
    # the console's page is public, with the same headers
    st, page, h = c.get("/")
    assert st == 200 and "<html" in page and h["content-type"][0].startswith("text/html")
    assert h["x-frame-options"] == ["DENY"]
    # the unix socket stays the admin's, without headers meant for browsers
    st, body = tls.api("GET", "/v1/volumes")
    assert st == 200


def test_certificate_is_made_once_kept_and_verified(make_daemon):
    d = make_daemon(args=LISTEN)
    cert = os.path.join(d.root, "tls", "cert.pem")
    key = os.path.join(d.root, "tls", "key.pem")
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    fp1 = fingerprint(d)
    assert "a new self-signed" in d.log_text()
    # a client that checks the name and chain accepts it for 127.0.0.1
    ctx = ssl.create_default_context(cafile=cert)
    with socket.create_connection(("127.0.0.1", listen_port(d))) as s:
        with ctx.wrap_socket(s, server_hostname="127.0.0.1") as t:
            der = t.getpeercert(binary_form=True)
            assert t.version() in ("TLSv1.2", "TLSv1.3")
    import hashlib
    assert hashlib.sha256(der).hexdigest().upper() == fp1.split()[1].replace(":", "")
    # a client that trusts the system's CAs only refuses it
    with socket.create_connection(("127.0.0.1", listen_port(d))) as s:
        with pytest.raises(ssl.SSLCertVerificationError):
            ssl.create_default_context().wrap_socket(s, server_hostname="127.0.0.1")
    d.stop()
    d.start(args=LISTEN)
    fp2 = fingerprint(d)
    assert fp2 == fp1 and "a new self-signed" not in d.log_text()


def test_given_certificate_is_used_and_a_wrong_pair_is_refused(make_daemon):
    maker = make_daemon(args=LISTEN, subdir="maker")
    cert = os.path.join(maker.root, "tls", "cert.pem")
    key = os.path.join(maker.root, "tls", "key.pem")
    fp = fingerprint(maker)
    other = make_daemon(args=LISTEN, subdir="other")
    other_key = os.path.join(other.root, "tls", "key.pem")
    fingerprint(other)
    maker.stop()
    other.stop()

    d = make_daemon(args=LISTEN + ["--tls-cert", cert, "--tls-key", key], subdir="given")
    assert fingerprint(d) == fp and not os.path.exists(os.path.join(d.root, "tls"))
    st, body, _ = TLSClient(d, cafile=cert).get("/v1/volumes")
    assert st == 401

    bad = make_daemon(subdir="bad", start=False)
    bad.start(args=LISTEN + ["--tls-cert", cert, "--tls-key", other_key], wait=False)
    assert bad.proc.wait(timeout=30) == 1
    assert cert in bad.log_text() and other_key in bad.log_text(), bad.log_text()
    for args, why in ((["--tls-cert", cert], "go together"), (["--listen", "nonsense"], "HOST:PORT")):
        p = subprocess.run([d.proc.args[0], "--root", "/tmp/unused-root", *args], capture_output=True, text=True)
        assert p.returncode == 2 and why in p.stderr, p.stderr


def test_plaintext_on_the_tls_port_gets_no_http_answer(tls):
    with socket.create_connection(("127.0.0.1", listen_port(tls)), timeout=10) as s:
        s.sendall(b"GET /v1/volumes HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        try:
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        except (ConnectionResetError, socket.timeout):
            pass
    assert b"HTTP/1.1" not in data and b"volumes" not in data


def test_a_stalled_handshake_is_closed(tls):
    with socket.create_connection(("127.0.0.1", listen_port(tls)), timeout=15) as s:
        t0 = time.monotonic()
        got = b""
        while True:  # closed by volmand (at most an alert first), not by our timeout
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
        assert time.monotonic() - t0 < 14 and len(got) < 64


def test_oversized_body_is_refused_over_tls(tls):
    tok, _ = make_token(tls, tenant="acme")
    c = TLSClient(tls, token=tok)
    st, body, _ = c.request("POST", "/v1/volumes", raw=b"{" + b" " * (1 << 20) + b"}")
    assert_err(st, body, 413, "too_large")


# ---- tokens -----------------------------------------------------------------------


def test_bad_and_malformed_tokens_are_401(tls):
    good, tid = make_token(tls, tenant="acme")
    wrong_secret = good[:-1] + ("0" if good[-1] != "0" else "1")
    unknown_id = "vmt_000000000000_" + good[17:]
    for hdr in ("Bearer " + wrong_secret, "Bearer " + unknown_id, "Bearer nonsense",
                "Bearer " + good.upper(), "Basic " + good, "Bearer " + good + "x"):
        c = TLSClient(tls)
        st, body, h = c.request("GET", "/v1/volumes", headers={"Authorization": hdr})
        assert_err(st, body, 401, "unauthorized")
        assert "www-authenticate" in h
    st, body, _ = TLSClient(tls, token=good).get("/v1/volumes")
    assert st == 200
    assert "auth: the token is unknown or revoked from 127.0.0.1" in tls.log_text()


def test_revocation_takes_effect_on_the_next_request(tls):
    tok, tid = make_token(tls, tenant="acme", name="ci")
    c = TLSClient(tls, token=tok)
    assert c.get("/v1/volumes")[0] == 200
    p = subprocess.run([VOLMAN, "--socket", tls.socket, "token", "rm", tid], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    # the same kept-alive connection: no cache outlives the revocation
    st, body, _ = c.get("/v1/volumes")
    assert_err(st, body, 401, "unauthorized")
    p = subprocess.run([VOLMAN, "--socket", tls.socket, "token", "rm", tid], capture_output=True, text=True)
    assert p.returncode == 4 and "not found" in p.stderr


def test_failed_attempts_are_rate_limited_per_address(tls):
    good, _ = make_token(tls, tenant="acme")
    bad = "vmt_000000000000_" + "0" * 64
    for _ in range(10):
        st, body, _ = TLSClient(tls, token=bad).get("/v1/volumes")
        assert st == 401
    st, body, h = TLSClient(tls, token=good).get("/v1/volumes")
    assert_err(st, body, 429, "too_many_requests")
    assert h["retry-after"] == ["60"]
    assert "refusing its credentials" in tls.log_text()
    # the unix socket is not affected
    assert tls.api("GET", "/v1/volumes")[0] == 200


def test_token_cli_create_ls_rm_and_tokens_survive_restart_hashed(tls):
    p = subprocess.run([VOLMAN, "--socket", tls.socket, "token", "create", "--tenant", "acme", "--name", "ci"],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    tok = p.stdout.strip()
    assert re.fullmatch(r"vmt_[0-9a-f]{12}_[0-9a-f]{64}", tok) and "only this once" in p.stderr
    tid = tok[4:16]
    for args, why in ((["--tenant", "acme", "--admin"], "one of them"), ([], "one of them"),
                      (["--tenant", "Bad Tenant"], "tenant"), (["--tenant", "acme", "--name", "a b"], "name")):
        p = subprocess.run([VOLMAN, "--socket", tls.socket, "token", "create", *args], capture_output=True, text=True)
        assert p.returncode != 0 and why in p.stderr, (args, p.stderr)
    assert TLSClient(tls, token=tok).get("/v1/volumes")[0] == 200
    p = subprocess.run([VOLMAN, "--socket", tls.socket, "--json", "token", "ls"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    rows = json.loads(p.stdout)
    mine = [r for r in rows if r["id"] == tid]
    assert mine and mine[0]["tenant"] == "acme" and mine[0]["name"] == "ci" and mine[0]["last_used"]
    assert tok[17:] not in p.stdout and "hash" not in p.stdout
    p = subprocess.run([VOLMAN, "--socket", tls.socket, "token", "ls"], capture_output=True, text=True)
    assert tid in p.stdout and "acme" in p.stdout and tok[17:] not in p.stdout
    tls.stop()
    db = os.path.join(tls.root, "volman.db")
    blob = b"".join(open(os.path.join(tls.root, f), "rb").read() for f in os.listdir(tls.root)
                    if f.startswith("volman.db"))
    assert tok[17:].encode() not in blob and tok.encode() not in blob  # only the hash is kept
    conn = sqlite3.connect(db)   # closed before volmand starts: it must be the only one to open it
    try:
        assert conn.execute("select count(*) from docs where kind='token'").fetchone()[0] == 1
    finally:
        conn.close()
    tls.start(args=LISTEN)
    assert TLSClient(tls, token=tok).get("/v1/volumes")[0] == 200


def test_socket_group(make_daemon):
    d = make_daemon(args=["--socket-group", "daemon"])
    st = os.stat(d.socket)
    import grp
    assert st.st_gid == grp.getgrnam("daemon").gr_gid and stat.S_IMODE(st.st_mode) == 0o660
    p = subprocess.run([d.proc.args[0], "--socket-group", "no-such-group-here"], capture_output=True, text=True)
    assert p.returncode == 2 and "no group called no-such-group-here" in p.stderr


# ---- isolation --------------------------------------------------------------------


def snapshot(daemon):
    """Everything a tenant could change, as the admin sees it."""
    c = daemon.client()
    st, vols = c.get("/v1/volumes")
    assert st == 200
    state = {"volumes": sorted((v["name"], json.dumps(v["mounts"], sort_keys=True)) for v in vols["volumes"])}
    state["snapshots"] = {v["name"]: c.get("/v1/volumes/%s/snapshots" % q(v["name"]))[1] for v in vols["volumes"]}
    for path in ("/v1/config", "/v1/tenants/acme/envs/prod/config", "/v1/tenants/acme/envs/prod/apps/web/config",
                 "/v1/apps", "/v1/tokens"):
        st, body = c.get(path)
        assert st == 200, (path, body)
        if path == "/v1/tokens":
            for t in body["tokens"]:
                t.pop("last_used")
        state[path] = body
    c.close()
    return state


@pytest.fixture
def two_tenants(tls):
    """acme (with an app, an env layer, a scoped volume and a mounted one),
    globex, an admin token, and an unscoped volume."""
    acme, _ = make_token(tls, tenant="acme")
    globex, _ = make_token(tls, tenant="globex")
    admin, _ = make_token(tls)
    a = TLSClient(tls, token=acme)
    assert a.request("PUT", "/v1/tenants/acme/envs/prod/config", {"memory": "512m"})[0] == 200
    assert a.request("PUT", "/v1/tenants/acme/envs/prod/apps/web/config",
                     {"writeableVolumes": ["/data", "/cache"]})[0] == 200
    scope = {"tenant": "acme", "env": "prod", "app": "web", "path": "/data"}
    st, vol, _ = a.request("POST", "/v1/volumes", {"scope": scope})
    assert st == 201, vol
    st, vol2, _ = a.request("POST", "/v1/volumes", {"scope": dict(scope, path="/cache")})
    assert st == 201, vol2
    st, _, _ = a.request("POST", "/v1/volumes/%s/mount" % q(vol2["name"]), {"id": "acme-ref"})
    assert st == 200
    assert a.request("POST", "/v1/volumes/%s/snapshots" % q(vol["name"]), {"name": "s1"})[0] == 201
    assert tls.api("POST", "/v1/volumes", {"name": "plain"})[0] == 201
    return {"acme": acme, "globex": globex, "admin": admin, "vol": vol["name"], "mounted": vol2["name"],
            "daemon": tls}


def test_another_tenants_things_are_404_on_every_route_and_nothing_changes(two_tenants):
    t = two_tenants
    d = t["daemon"]
    before = snapshot(d)
    g = TLSClient(d, token=t["globex"])
    v, m = q(t["vol"]), q(t["mounted"])
    app = "/v1/tenants/acme/envs/prod/apps/web"
    env = "/v1/tenants/acme/envs/prod"
    not_found = [
        ("GET", "/v1/volumes/" + v, None), ("GET", "/v1/volumes/" + v + "?usage=true", None),
        ("DELETE", "/v1/volumes/" + v, None), ("DELETE", "/v1/volumes/" + m, None),
        ("POST", "/v1/volumes/%s/mount" % v, {"id": "x"}), ("POST", "/v1/volumes/%s/unmount" % m, {"id": "acme-ref"}),
        ("POST", "/v1/volumes/%s/snapshots" % v, {"name": "x"}), ("GET", "/v1/volumes/%s/snapshots" % v, None),
        ("DELETE", "/v1/volumes/%s/snapshots/s1" % v, None), ("POST", "/v1/volumes/%s/snapshots/s1/restore" % v, None),
        ("POST", "/v1/volumes/%s/clone" % v, {"name": "stolen"}),
        ("POST", "/v1/volumes/%s/clone" % v, {"scope": {"tenant": "globex", "env": "e", "app": "a", "path": "/d"}}),
        ("POST", "/v1/volumes/%s/resize" % v, {"size": "1g"}),
        ("GET", "/v1/volumes/%s/export" % v, None),
        ("GET", "/v1/volumes/plain", None), ("DELETE", "/v1/volumes/plain", None),
        ("POST", "/v1/volumes/plain/mount", {"id": "x"}),
        ("GET", env + "/config", None), ("PUT", env + "/config", {"memory": "128m"}),
        ("GET", app + "/config", None), ("PUT", app + "/config", {"writeableVolumes": []}),
        ("GET", app + "/resolved", None), ("POST", app + "/config/check", {"writeableVolumes": ["/x"]}),
        ("POST", app + "/deploy", {"image": "busybox"}), ("DELETE", app, None), ("GET", app, None),
        ("GET", "/v1/tenants/acme/envs/other/apps/web/config", None),
    ]
    for method, path, body in not_found:
        st, got, _ = g.request(method, path, body)
        assert_err(st, got, 404, "not_found")
        text = json.dumps(got)
        assert "acme-ref" not in text and "/data" not in text, (path, got)
    # lists show nothing of acme's (or the unscoped volume), whatever the filter
    # (both list paths: stored JSON copied for simple filters, decoded rows for the others)
    for path in ("/v1/volumes", "/v1/volumes?filter=tenant=acme", "/v1/volumes?filter=app=web",
                 "/v1/volumes?filter=name=plain", "/v1/volumes?filter=dangling=true",
                 "/v1/volumes?filter=dangling=false", "/v1/volumes?filter=tenant=acme&filter=dangling=true",
                 "/v1/volumes?limit=1", "/v1/volumes?after=a"):
        st, got, _ = g.get(path)
        assert st == 200 and got["volumes"] == [], (path, got)
    for path in ("/v1/apps", "/v1/apps?tenant=acme"):
        st, got, _ = g.get(path)
        assert st == 200 and got["apps"] == [], (path, got)
    # prune limited to globex's own volumes: acme's unused one stays
    st, got, _ = g.request("POST", "/v1/volumes/prune", {"filters": ["tenant=acme"]})
    assert st == 200 and got["removed"] == [] and got["kept"] == [], got
    st, got, _ = g.request("POST", "/v1/volumes/prune", {"all": True})
    assert st == 200 and got["removed"] == [], got
    assert snapshot(d) == before


def test_admin_only_routes_and_scope_rules_for_tenants(two_tenants):
    t = two_tenants
    d = t["daemon"]
    before = snapshot(d)
    g = TLSClient(d, token=t["globex"])
    for method, path, body in (("GET", "/v1/tokens", None), ("POST", "/v1/tokens", {"admin": True}),
                               ("POST", "/v1/tokens", {"tenant": "globex"}), ("DELETE", "/v1/tokens/000000000000", None),
                               ("GET", "/metrics", None), ("PUT", "/v1/config", {"readOnlyRootfs": False})):
        st, got, _ = g.request(method, path, body)
        assert_err(st, got, 403, "forbidden")
    # the global layer is readable, never writable
    st, got, _ = g.get("/v1/config")
    assert st == 200
    # volumes only inside its own scope
    for body in ({"name": "mine"}, {"scope": {"tenant": "acme", "env": "prod", "app": "x", "path": "/d"}}):
        st, got, _ = g.request("POST", "/v1/volumes", body)
        assert_err(st, got, 403, "forbidden")
    # no loosening of hardening
    st, got, _ = g.request("PUT", "/v1/tenants/globex/envs/prod/apps/x/config", {"readOnlyRootfs": False})
    assert_err(st, got, 403, "forbidden")
    assert "readOnlyRootfs" in got["error"]["message"]
    st, got, _ = g.request("PUT", "/v1/tenants/globex/envs/prod/apps/x/config", {"networkMode": "host"})
    assert_err(st, got, 403, "forbidden")
    assert snapshot(d) == before
    # its own things work
    st, got, _ = g.request("POST", "/v1/volumes", {"scope": {"tenant": "globex", "env": "dev", "app": "x", "path": "/d"}})
    assert st == 201 and got["scope"]["tenant"] == "globex"
    st, got, _ = g.get("/v1/volumes")
    assert len(got["volumes"]) == 1 and got["volumes"][0]["scope"]["tenant"] == "globex"
    st, got, _ = g.request("DELETE", "/v1/volumes/" + q(got["volumes"][0]["name"]))
    assert st == 204


def test_a_tenant_clones_its_own_volume_into_its_own_scope_only(two_tenants):
    t = two_tenants
    d = t["daemon"]
    a = TLSClient(d, token=t["acme"])
    v = q(t["vol"])
    before = {x["name"] for x in d.api("GET", "/v1/volumes")[1]["volumes"]}
    # into another tenant's scope, or out of any scope: refused, nothing made
    for body in ({"scope": {"tenant": "globex", "env": "prod", "app": "web", "path": "/data"}},
                 {"name": "unscoped-copy"}):
        st, got, _ = a.request("POST", "/v1/volumes/%s/clone" % v, body)
        assert_err(st, got, 403, "forbidden")
    assert {x["name"] for x in d.api("GET", "/v1/volumes")[1]["volumes"]} == before
    # into its own scope: a new volume of acme's
    scope = {"tenant": "acme", "env": "staging", "app": "web", "path": "/data"}
    st, got, _ = a.request("POST", "/v1/volumes/%s/clone" % v, {"scope": scope})
    assert st == 201, got
    assert got["scope"]["tenant"] == "acme" and got["scope"]["env"] == "staging", got
    st, got, _ = a.get("/v1/volumes")
    assert len(got["volumes"]) == 3 and all(x["scope"]["tenant"] == "acme" for x in got["volumes"]), got
    st, got, _ = TLSClient(d, token=t["globex"]).get("/v1/volumes")
    assert got["volumes"] == []


def test_a_tenant_sees_its_own_and_the_admin_token_sees_all(two_tenants):
    t = two_tenants
    d = t["daemon"]
    a = TLSClient(d, token=t["acme"])
    st, got, _ = a.get("/v1/volumes")
    assert sorted(x["name"] for x in got["volumes"]) == sorted([t["vol"], t["mounted"]])
    st, got, _ = a.get("/v1/volumes?filter=dangling=false")
    assert [x["name"] for x in got["volumes"]] == [t["mounted"]]
    st, got, _ = a.get("/v1/volumes?filter=dangling=true")
    assert [x["name"] for x in got["volumes"]] == [t["vol"]]  # not "plain", which is dangling too
    st, got, _ = a.get("/v1/volumes/plain")
    assert st == 404
    # long operations: each caller sees its own
    st, got, _ = a.request("POST", "/v1/volumes/%s/snapshots" % q(t["vol"]), {"name": "op"},
                           headers={"X-Volman-Operation": "acme-snap-1"})
    assert st == 201
    st, got, _ = a.get("/v1/operations/acme-snap-1")
    assert st == 200 and got["kind"] == "snapshot" and got["state"] == "done"
    g = TLSClient(d, token=t["globex"])
    assert g.get("/v1/operations/acme-snap-1")[0] == 404
    assert g.get("/v1/operations")[1]["operations"] == []
    # events: each tenant sees its own tenant's only
    time.sleep(1.2)
    until = int(time.time()) + 1
    for who, token, want in (("acme", t["acme"], True), ("globex", t["globex"], False)):
        st, body, h = TLSClient(d, token=token).get("/v1/events?since=1h&until=%d" % until)
        assert st == 200 and h["content-type"] == ["application/x-ndjson"]
        evs = [json.loads(l) for l in body.splitlines() if l] if isinstance(body, str) else [body] if body else []
        assert all(e["tenant"] == who for e in evs), (who, evs)
        assert any(e["name"] == t["vol"] for e in evs) == want, (who, evs)
    st, got, _ = a.get("/v1/tenants/acme/envs/prod/apps/web")
    assert st == 200
    assert sorted((x["path"], x["exists"], x["in_use"]) for x in got["volumes"]) == \
        [("/cache", True, True), ("/data", True, False)]
    # a tenant drops only its own references; the volume is in use until then
    st, got, _ = a.request("DELETE", "/v1/volumes/" + q(t["mounted"]))
    assert_err(st, got, 409, "in_use")
    adm = TLSClient(d, token=t["admin"])
    st, got, _ = adm.request("POST", "/v1/volumes/%s/unmount" % q(t["mounted"]), {"id": "acme-ref"})
    assert_err(st, got, 403, "forbidden")  # the admin is another face than the tenant
    st, got, _ = a.request("POST", "/v1/volumes/%s/unmount" % q(t["mounted"]), {"id": "acme-ref"})
    assert st == 200
    st, got, _ = adm.get("/v1/volumes")
    assert {x["name"] for x in got["volumes"]} == {t["vol"], t["mounted"], "plain"}
    assert adm.get("/metrics")[0] == 200
    st, got, _ = adm.get("/v1/tokens")
    assert st == 200 and len(got["tokens"]) == 3


# ---- console sessions -------------------------------------------------------------


def login(daemon, token):
    c = TLSClient(daemon)
    st, body, h = c.request("POST", "/v1/session", {"token": token})
    return st, body, h


def test_session_cookie_attributes_and_csrf(tls):
    tok, tid = make_token(tls, tenant="acme")
    st, body, h = login(tls, "vmt_000000000000_" + "0" * 64)
    assert_err(st, body, 401, "unauthorized")
    assert "set-cookie" not in h
    st, body, h = login(tls, tok)
    assert st == 200 and body["tenant"] == "acme" and body["admin"] is False, body
    cookie = h["set-cookie"][0]
    for attr in ("Secure", "HttpOnly", "SameSite=Strict", "Path=/"):
        assert attr in cookie, cookie
    sid = re.match(r"volman_session=([0-9a-f]{64});", cookie).group(1)
    csrf = body["csrf"]
    assert re.fullmatch(r"[0-9a-f]{64}", csrf) and csrf != sid

    s = TLSClient(tls, cookie=sid)
    st, me, _ = s.get("/v1/session")
    assert st == 200 and me["tenant"] == "acme" and me["csrf"] == csrf
    assert s.get("/v1/volumes")[0] == 200
    scope = {"scope": {"tenant": "acme", "env": "prod", "app": "web", "path": "/data"}}
    # a change without the CSRF token (or with another) is refused and changes nothing
    for bad in (None, "0" * 64, csrf[:-1]):
        s.csrf = bad
        st, got, _ = s.request("POST", "/v1/volumes", scope)
        assert_err(st, got, 403, "forbidden")
        assert "CSRF" in got["error"]["message"]
    assert tls.api("GET", "/v1/volumes")[1]["volumes"] == []
    s.csrf = csrf
    st, got, _ = s.request("POST", "/v1/volumes", scope)
    assert st == 201, got
    # a bearer token needs no CSRF token (it is not sent by a browser on its own)
    b = TLSClient(tls, token=tok)
    assert b.request("DELETE", "/v1/volumes/" + q(got["name"]))[0] == 204
    # logging out ends the session
    st, got, h = s.request("DELETE", "/v1/session")
    assert st == 200 and "Max-Age=0" in h["set-cookie"][0]
    assert s.get("/v1/volumes")[0] == 401


def test_revoking_a_token_ends_its_sessions(tls):
    tok, tid = make_token(tls, tenant="acme")
    st, body, h = login(tls, tok)
    sid = re.match(r"volman_session=([0-9a-f]{64});", h["set-cookie"][0]).group(1)
    s = TLSClient(tls, cookie=sid)
    assert s.get("/v1/volumes")[0] == 200
    assert tls.api("DELETE", "/v1/tokens/" + tid)[0] == 200
    st, got, _ = s.get("/v1/volumes")
    assert_err(st, got, 401, "unauthorized")
    # a forged cookie is no session
    st, got, _ = TLSClient(tls, cookie="a" * 64).get("/v1/volumes")
    assert_err(st, got, 401, "unauthorized")
