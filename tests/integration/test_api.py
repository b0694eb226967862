"""Every route and error path of docs/api.md, against the real daemon."""

import datetime
import errno
import os
import re
import stat
import subprocess
import time

import pytest

from conftest import wait_gone, wait_removals_done, assert_error, check_invariants, mounts_below, require_root

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
SCOPE = {"tenant": "acme", "env": "prod", "app": "orders", "path": "/var/lib/kafka-streams"}
SCOPED_NAME = "volman-acme-prod-orders-var-lib-kafka--streams"


def parse_time(s):
    assert TIME_RE.match(s), s
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def check_volume_object(daemon, v, name, driver="local", labels=None, options=None, scope=None):
    assert UUID_RE.match(v["id"]), v
    assert v["name"] == name
    assert v["driver"] == driver
    assert v["status"] == "ready"
    assert v["labels"] == (labels or {})
    assert v["options"] == (options or {})
    assert v["scope"] == scope
    assert abs(parse_time(v["created_at"]) - time.time()) < 300, v["created_at"]
    assert isinstance(v["mounts"], list)
    mp = v["mountpoint"]
    assert os.path.isabs(mp) and os.path.realpath(mp).startswith(
        os.path.realpath(daemon.root) + "/"), mp
    assert os.path.isdir(mp), mp


# --- health, routing -------------------------------------------------------------

def test_health(daemon, client):
    st, body = client.get("/v1/health")
    assert st == 200
    assert body == {"status": "ok", "version": "0.1.0", "removals_pending": 0}
    # whoever can open the socket administers every volume: mode 0660
    s = os.stat(daemon.socket)
    assert stat.S_ISSOCK(s.st_mode) and stat.S_IMODE(s.st_mode) == 0o660, oct(s.st_mode)


@pytest.mark.parametrize("path", ["/v1/nope", "/", "/v2/volumes", "/v1/volumes/a/b/c",
                                  "/v1/volumes/x/frobnicate"])
def test_unknown_route_is_404(client, path):
    st, body = client.get(path)
    assert_error(st, body, 404, "not_found")


@pytest.mark.parametrize("method,path", [("PUT", "/v1/volumes"), ("DELETE", "/v1/volumes"),
                                         ("POST", "/v1/health"), ("PATCH", "/v1/volumes/x"),
                                         ("GET", "/v1/volumes/x/mount"),
                                         ("DELETE", "/metrics")])
def test_wrong_method_is_405(client, method, path):
    st, body = client.request(method, path, raw=b"{}" if method in ("PUT", "POST", "PATCH")
                              else None)
    assert_error(st, body, 405, "method_not_allowed")


# --- create and inspect ---------------------------------------------------------------

def test_create_and_inspect_every_field(daemon, client):
    st, v = client.create("web-data", labels={"team": "web"}, options={"mode": "0750"})
    assert st == 201, v
    check_volume_object(daemon, v, "web-data", labels={"team": "web"}, options={"mode": "0750"})
    assert v["mounts"] == []

    with open(os.path.join(v["mountpoint"], "blob"), "wb") as f:
        f.write(b"x" * 20000)
    st, w = client.inspect("web-data")
    assert st == 200, w
    check_volume_object(daemon, w, "web-data", labels={"team": "web"}, options={"mode": "0750"})
    assert w["id"] == v["id"] and w["mountpoint"] == v["mountpoint"]
    assert w["created_at"] == v["created_at"]
    assert w["persistent"] is True
    assert w.get("note") in (None, ""), w  # a note is for non-persistent drivers
    # usage is never computed unasked (a walk of the whole tree for local)...
    assert "usage" not in w, w
    # ...and appears with ?usage=true when the driver can tell: local can
    st, u = client.get("/v1/volumes/web-data?usage=true")
    assert st == 200, u
    assert u["id"] == v["id"]
    assert u["usage"]["bytes"] >= 20000, u.get("usage")
    assert u["usage"]["inodes"] >= 2, u["usage"]  # the directory and the blob
    # list entries carry persistent too
    st, body = client.list(filters=["name=web-data"])
    assert st == 200 and body["volumes"][0]["persistent"] is True, body

    # names in paths are percent-decoded
    st, p = client.get("/v1/volumes/web%2Ddata")
    assert st == 200 and p["id"] == v["id"], p


def test_inspect_missing_is_404(client):
    st, body = client.inspect("no-such-volume")
    assert_error(st, body, 404, "not_found")
    assert "no-such-volume" in body["error"]["message"]


def test_create_is_idempotent_and_conflicts(client):
    params = dict(labels={"a": "1"}, options={"mode": "0755"})
    st, v = client.create("idem", **params)
    assert st == 201, v
    st, w = client.create("idem", **params)
    assert st == 200, w
    assert w["id"] == v["id"]

    for other in (dict(labels={"a": "2"}, options={"mode": "0755"}),
                  dict(labels={"a": "1", "b": "1"}, options={"mode": "0755"}),
                  dict(labels={}, options={"mode": "0755"}),
                  dict(labels={"a": "1"}, options={"mode": "0700"}),
                  dict(labels={"a": "1"})):
        st, body = client.create("idem", **other)
        assert_error(st, body, 409, "conflict")
    # with a scope the name must be the scope's: refused before any conflict check
    st, body = client.create("idem", scope=SCOPE, **params)
    assert_error(st, body, 400, "invalid_argument")
    st, w = client.inspect("idem")
    assert st == 200 and w["id"] == v["id"] and w["labels"] == {"a": "1"}
    assert w["options"] == {"mode": "0755"} and w["scope"] is None



def test_scoped_names_belong_to_scopes(daemon, client):
    """A name of the scoped form ({prefix}-...) cannot be taken without its
    scope, so no unscoped volume can squat a tenant's name; the refusal
    changes nothing, and the scope then gets its name."""
    for name in (SCOPED_NAME, "volman-x", "volman-acme-prod-orders-var-lib-state"):
        st, body = client.create(name)
        assert_error(st, body, 400, "invalid_argument")
        assert "reserved for scoped volumes" in body["error"]["message"], body
        assert client.inspect(name)[0] == 404
    assert client.list_all() == []
    # names that only look alike are anyone's
    for name in ("volman", "volmanx-a", "Volman-a", "my-volman-a"):
        st, v = client.create(name)
        assert st == 201, (name, v)
    st, v = client.create(scope=SCOPE)
    assert st == 201 and v["name"] == SCOPED_NAME and v["scope"] == SCOPE, v
    # through the CLI too
    rc, out, err = daemon.cli("volume", "create", "volman-squat")
    assert rc == 6 and "reserved for scoped volumes" in err, (rc, out, err)
    assert client.inspect("volman-squat")[0] == 404


def test_create_conflict_on_driver(client):
    require_root()
    st, v = client.create("drv")
    assert st == 201, v
    st, body = client.create("drv", driver="tmpfs")
    assert_error(st, body, 409, "conflict")
    st, w = client.create("drv", driver="local")
    assert st == 200 and w["id"] == v["id"]


def test_scoped_name_is_derived(daemon, client):
    st, v = client.create(scope=SCOPE)
    assert st == 201, v
    check_volume_object(daemon, v, SCOPED_NAME, scope=SCOPE)
    # the same scope again: the same volume
    st, w = client.create(scope=SCOPE)
    assert st == 200 and w["id"] == v["id"] and w["name"] == SCOPED_NAME
    # a scoped volume is named after its scope: the same name is accepted (the same
    # volume), any other is refused and names the one expected, and nothing is made
    st, n = client.create(SCOPED_NAME, scope=SCOPE)
    assert st == 200 and n["id"] == v["id"], n
    st, n = client.create("explicit", scope=SCOPE)
    assert st == 400 and n["error"]["code"] == "invalid_argument", n
    assert SCOPED_NAME in n["error"]["message"], n
    other = dict(SCOPE, tenant="globex")
    st, n = client.create(SCOPED_NAME, scope=other)   # a name claiming another tenant
    assert st == 400, n
    st, n = client.inspect("explicit")
    assert st == 404, n
    # scope is null without one
    st, u = client.create("unscoped")
    assert st == 201 and u["scope"] is None


# --- list ------------------------------------------------------------------------------

def test_list_filters(client):
    require_root()
    made = {
        "f-web": dict(labels={"team": "web", "tier": "front"}),
        "f-db": dict(labels={"team": "db"}),
        "f-none": dict(),
        "f-tmp": dict(driver="tmpfs", labels={"team": "web"}, options={"size": "1m"}),
    }
    # scoped volumes carry their scope's name (docs/names.md)
    scoped = {
        "volman-acme-prod-orders-data": dict(scope={"tenant": "acme", "env": "prod", "app": "orders",
                                                    "path": "/data"}),
        "volman-globex-dev-orders-data": dict(scope={"tenant": "globex", "env": "dev",
                                                     "app": "orders", "path": "/data"}),
    }
    for n, p in made.items():
        st, v = client.create(n, **p)
        assert st == 201, (n, v)
    for n, p in scoped.items():
        st, v = client.create(**p)
        assert st == 201 and v["name"] == n, (n, v)
    plain = dict(made)
    made.update(scoped)
    st, _ = client.mount("f-db", "ctr-1")
    assert st == 200

    def names(*filters):
        return sorted(set(client.names(filters)))

    assert names() == sorted(made)
    assert names("label=team") == ["f-db", "f-tmp", "f-web"]
    assert names("label=team=web") == ["f-tmp", "f-web"]
    assert names("label=team=web", "label=tier") == ["f-web"]
    assert names("label=team=nobody") == []
    assert names("driver=tmpfs") == ["f-tmp"]
    assert names("driver=local") == sorted(set(made) - {"f-tmp"})
    assert names("tenant=acme") == ["volman-acme-prod-orders-data"]
    assert names("env=dev") == ["volman-globex-dev-orders-data"]
    assert names("app=orders") == sorted(scoped)
    assert names("app=orders", "tenant=globex") == ["volman-globex-dev-orders-data"]
    assert names("name=web") == ["f-web"]
    assert names("name=f-") == sorted(plain)
    assert names("dangling=false") == ["f-db"]
    assert names("dangling=true") == sorted(set(made) - {"f-db"})
    assert names("dangling=true", "label=team") == ["f-tmp", "f-web"]
    st, body = client.list()
    assert st == 200 and body["next"] is None


def test_list_pagination_covers_everything_once(client):
    want = sorted("page-%03d" % i for i in range(37))
    for n in reversed(want):
        st, v = client.create(n)
        assert st == 201, v
    for limit in (1, 5, 7, 36, 37, 10000):
        seen, after, pages = [], None, 0
        while True:
            st, body = client.list(limit=limit, after=after)
            assert st == 200, body
            pages += 1
            assert len(body["volumes"]) <= limit
            seen.extend(v["name"] for v in body["volumes"])
            after = body["next"]
            if after is None:
                break
            assert after == body["volumes"][-1]["name"]
            assert pages < 100
        assert seen == want, limit  # every volume once, in name order
    st, body = client.list(after="page-030")
    assert [v["name"] for v in body["volumes"]] == want[31:]
    st, body = client.list(limit=3, filters=["name=page-01"])
    assert [v["name"] for v in body["volumes"]] == ["page-010", "page-011", "page-012"]
    assert body["next"] == "page-012"


@pytest.mark.parametrize("query", ["limit=0", "limit=10001", "limit=abc", "limit=-1",
                                   "filter=bogus=1", "filter=dangling=maybe", "filter=nofilter"])
def test_list_bad_query_is_400(client, query):
    st, body = client.get("/v1/volumes?" + query)
    assert_error(st, body, 400, "invalid_argument")


# --- remove ----------------------------------------------------------------------------

def test_remove(client):
    st, v = client.create("gone-soon")
    assert st == 201
    with open(os.path.join(v["mountpoint"], "f"), "w") as f:
        f.write("data")
    os.mkdir(os.path.join(v["mountpoint"], "sub"))
    st, body = client.remove("gone-soon")
    assert st == 204, body
    assert body is None
    # the name is free at once; the data goes in the background
    st, body = client.inspect("gone-soon")
    assert_error(st, body, 404, "not_found")
    st, body = client.remove("gone-soon")
    assert_error(st, body, 404, "not_found")
    st, again = client.create("gone-soon")
    assert st == 201 and again["id"] != v["id"] and again["mountpoint"] != v["mountpoint"], again
    wait_removals_done(client)
    assert not os.path.lexists(v["mountpoint"])
    assert os.path.isdir(again["mountpoint"])


def test_remove_in_use_is_refused_even_with_force(client):
    st, v = client.create("busy")
    assert st == 201
    st, body = client.mount("busy", "ctr-a")
    assert st == 200, body
    for query in ("", "?force=1", "?force=true"):
        st, body = client.remove("busy", query)
        assert_error(st, body, 409, "in_use")
    st, w = client.inspect("busy")
    assert st == 200 and w["id"] == v["id"] and w["status"] == "ready"
    assert os.path.isdir(v["mountpoint"])
    st, _ = client.unmount("busy", "ctr-a")
    assert st == 200
    st, _ = client.remove("busy")
    assert st == 204
    wait_gone(v["mountpoint"])


# --- mount / unmount -----------------------------------------------------------------------

def test_mount_and_unmount(client):
    st, v = client.create("mnt")
    assert st == 201
    st, body = client.mount("mnt", "ctr-1")
    assert st == 200, body
    assert body["mountpoint"] == v["mountpoint"]
    st, w = client.inspect("mnt")
    assert [m["id"] for m in w["mounts"]] == ["ctr-1"]
    assert abs(parse_time(w["mounts"][0]["since"]) - time.time()) < 300

    st, body = client.mount("mnt", "ctr-1")  # the same id again: one reference
    assert st == 200 and body["mountpoint"] == v["mountpoint"]
    st, w = client.inspect("mnt")
    assert [m["id"] for m in w["mounts"]] == ["ctr-1"]

    st, _ = client.mount("mnt", "ctr-2")
    assert st == 200
    st, w = client.inspect("mnt")
    assert sorted(m["id"] for m in w["mounts"]) == ["ctr-1", "ctr-2"]

    st, body = client.unmount("mnt", "never-mounted")
    assert st == 200 and body == {}, body
    st, body = client.unmount("mnt", "ctr-1")
    assert st == 200 and body == {}, body
    st, w = client.inspect("mnt")
    assert [m["id"] for m in w["mounts"]] == ["ctr-2"]
    st, body = client.unmount("mnt", "ctr-1")  # again: still fine
    assert st == 200
    st, _ = client.unmount("mnt", "ctr-2")
    st, w = client.inspect("mnt")
    assert w["mounts"] == []


def test_mount_unmount_missing_volume_is_404(client):
    st, body = client.mount("nope", "ctr-1")
    assert_error(st, body, 404, "not_found")
    st, body = client.unmount("nope", "ctr-1")
    assert_error(st, body, 404, "not_found")


# --- prune -----------------------------------------------------------------------------------

def test_prune(client):
    for n, labels in (("p-tmp1", {"tmp": ""}), ("p-tmp2", {"tmp": "x"}), ("p-keep", {}),
                      ("p-mounted", {"tmp": ""}), ("p-other", {"tmp": "", "team": "x"})):
        st, _ = client.create(n, labels=labels)
        assert st == 201
    st, _ = client.mount("p-mounted", "ctr")
    assert st == 200
    everything = client.names()

    # refused without a filter unless all
    for body in ({}, {"filters": []}, {"all": False}, {"filters": [], "dry_run": True}):
        st, resp = client.post("/v1/volumes/prune", body)
        assert_error(st, resp, 400)
    assert client.names() == everything

    # dry run: names what it would remove, removes nothing
    st, resp = client.post("/v1/volumes/prune", {"filters": ["label=tmp"], "dry_run": True})
    assert st == 200, resp
    assert sorted(resp["removed"]) == ["p-other", "p-tmp1", "p-tmp2"]
    assert resp["dry_run"] is True
    assert client.names() == everything
    st, resp = client.post("/v1/volumes/prune", {"all": True, "dry_run": True})
    assert st == 200 and sorted(resp["removed"]) == sorted(set(everything) - {"p-mounted"})
    assert client.names() == everything

    # scoped by every filter
    st, resp = client.post("/v1/volumes/prune", {"filters": ["label=tmp", "label=team=x"]})
    assert st == 200, resp
    assert resp["removed"] == ["p-other"] and resp["dry_run"] is False
    st, resp = client.post("/v1/volumes/prune", {"filters": ["label=tmp"]})
    assert st == 200 and sorted(resp["removed"]) == ["p-tmp1", "p-tmp2"]
    assert client.names() == ["p-keep", "p-mounted"]

    # all: everything unmounted, never a mounted volume
    st, resp = client.post("/v1/volumes/prune", {"all": True})
    assert st == 200 and resp["removed"] == ["p-keep"]
    assert client.names() == ["p-mounted"]


# --- metrics -------------------------------------------------------------------------------------

def metric(text, name, **labels):
    """The value of the sample `name` whose labels include `labels`, or None."""
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)", line)
        if not m or m.group(1) != name:
            continue
        got = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        if all(got.get(k) == v for k, v in labels.items()):
            return float(m.group(4))
    return None


def test_metrics(client):
    st, text = client.get("/metrics")
    assert st == 200 and isinstance(text, str), text
    before = metric(text, "volman_operations_total", op="create") or 0.0
    for n in ("m-1", "m-2"):
        assert client.create(n)[0] == 201
    st, text = client.get("/metrics")
    assert st == 200
    assert metric(text, "volman_operations_total", op="create") >= before + 2
    assert metric(text, "volman_volumes", driver="local", status="ready") == 2
    for op in ("create", "inspect", "list", "remove", "prune", "mount", "unmount"):
        assert metric(text, "volman_operations_total", op=op) is not None, op
        assert metric(text, "volman_operation_errors_total", op=op) is not None, op
    assert "volman_operation_duration_seconds_bucket" in text
    errs = metric(text, "volman_operation_errors_total", op="inspect")
    client.inspect("missing")
    st, text = client.get("/metrics")
    assert metric(text, "volman_operation_errors_total", op="inspect") >= errs + 1
    client.remove("m-1")
    st, text = client.get("/metrics")
    assert metric(text, "volman_volumes", driver="local", status="ready") == 1


# --- the local driver ---------------------------------------------------------------------------------

def test_local_default_mode_is_0700(client):
    st, v = client.create("mode-default")
    assert st == 201
    s = os.stat(v["mountpoint"])
    assert stat.S_IMODE(s.st_mode) == 0o700, oct(s.st_mode)


def test_local_modes_whatever_the_daemons_umask(make_daemon):
    """A mode is the mode asked for, whether mkdir(2) can give it at once (no
    chmod after it) or the daemon's umask clears some of its bits."""
    for mask in (0o022, 0o077):
        old = os.umask(mask)
        try:
            d = make_daemon(subdir="umask-%o" % mask)
        finally:
            os.umask(old)
        c = d.client()
        for mode in ("0700", "0755", "0777", "0750", "1777", "2770"):
            st, v = c.create("m-%s" % mode, options={"mode": mode})
            assert st == 201, v
            got = stat.S_IMODE(os.stat(v["mountpoint"]).st_mode)
            assert got == int(mode, 8), (oct(mask), mode, oct(got))
        c.close()
        d.stop()


def test_local_uid_gid_mode(client):
    require_root("chown(2) to another uid")
    st, v = client.create("owned", options={"uid": "1234", "gid": "2345", "mode": "0750"})
    assert st == 201, v
    s = os.stat(v["mountpoint"])
    assert (s.st_uid, s.st_gid, stat.S_IMODE(s.st_mode)) == (1234, 2345, 0o750)


def test_local_data_survives_restart(daemon, client):
    st, v = client.create("keep", labels={"k": "v"})
    assert st == 201
    with open(os.path.join(v["mountpoint"], "f"), "w") as f:
        f.write("persisted")
    assert client.mount("keep", "ctr")[0] == 200
    client.close()
    daemon.restart()
    c = daemon.client()
    st, w = c.inspect("keep")
    assert st == 200 and w["id"] == v["id"] and w["labels"] == {"k": "v"}
    assert [m["id"] for m in w["mounts"]] == ["ctr"]
    with open(os.path.join(w["mountpoint"], "f")) as f:
        assert f.read() == "persisted"
    check_invariants(daemon, c)


# --- the tmpfs driver ------------------------------------------------------------------------------------

def test_tmpfs_size_persistent_note_restart(daemon, client):
    require_root()
    st, v = client.create("ram", driver="tmpfs", options={"size": "1m", "mode": "0755"})
    assert st == 201, v
    mp = v["mountpoint"]
    assert os.path.ismount(mp), mp
    assert stat.S_IMODE(os.stat(mp).st_mode) == 0o755
    st, w = client.inspect("ram")
    assert st == 200
    assert w["persistent"] is False
    assert isinstance(w.get("note"), str) and w["note"], w
    st, body = client.list(filters=["driver=tmpfs"])
    assert st == 200 and [x["persistent"] for x in body["volumes"]] == [False], body

    with open(os.path.join(mp, "small"), "w") as f:
        f.write("hello")
    with pytest.raises(OSError) as e:
        with open(os.path.join(mp, "big"), "wb") as f:
            for _ in range(4):
                f.write(b"\0" * (1 << 20))
                f.flush()
                os.fsync(f.fileno())
    assert e.value.errno == errno.ENOSPC
    os.unlink(os.path.join(mp, "big"))

    assert client.mount("ram", "ctr")[0] == 200
    client.close()
    daemon.restart()
    c = daemon.client()
    st, w = c.inspect("ram")
    assert st == 200 and w["id"] == v["id"] and w["status"] == "ready"
    assert os.path.ismount(mp)
    with open(os.path.join(mp, "small")) as f:
        assert f.read() == "hello"
    assert c.unmount("ram", "ctr")[0] == 200
    st, _ = c.remove("ram")
    assert st == 204
    wait_gone(mp)
    assert mp not in mounts_below(daemon.tmp)


def test_tmpfs_default_size_is_64m(client):
    require_root()
    st, v = client.create("ram-default", driver="tmpfs")
    assert st == 201, v
    sv = os.statvfs(v["mountpoint"])
    assert sv.f_blocks * sv.f_frsize == 64 << 20
    assert stat.S_IMODE(os.stat(v["mountpoint"]).st_mode) == 0o700
    st, w = client.inspect("ram-default")
    assert w["persistent"] is False


def test_tmpfs_lost_at_reboot_is_made_again(daemon, client):
    """A host reboot loses a tmpfs: after it (simulated by unmounting while the
    daemon is down), the volume is still listed, ready, and a mount makes it
    usable again, empty."""
    require_root()
    st, v = client.create("ram-reboot", driver="tmpfs", options={"size": "2m"})
    assert st == 201, v
    mp = v["mountpoint"]
    with open(os.path.join(mp, "lost"), "w") as f:
        f.write("gone after reboot")
    client.close()
    daemon.stop()
    assert subprocess.run(["umount", mp]).returncode == 0
    daemon.start()
    c = daemon.client()
    check_invariants(daemon, c)
    st, body = c.mount("ram-reboot", "ctr")
    assert st == 200 and body["mountpoint"] == mp, body
    assert os.path.ismount(mp), "mount did not make the tmpfs again"
    assert not os.path.exists(os.path.join(mp, "lost"))
    sv = os.statvfs(mp)
    assert sv.f_blocks * sv.f_frsize == 2 << 20, "the size option was not applied again"
    with open(os.path.join(mp, "new"), "w") as f:
        f.write("x")
    st, w = c.inspect("ram-reboot")
    assert st == 200 and w["status"] == "ready" and w["persistent"] is False
    c.close()


def test_list_paths_agree(daemon, client):
    """A list is served from the JSON the store keeps with each volume, unless
    a filter needs the volume decoded: both give the same objects, which are
    what inspect gives (without usage), but for what only inspect adds: the
    size limit and the snapshots (docs/storage.md)."""
    require_root()
    client.create("a-local", labels={"team": "web", "x": "\u00e9"}, options={"mode": "0750"})
    client.create("b-tmpfs", driver="tmpfs", options={"size": "4m"})
    client.create(scope=SCOPE)
    assert client.mount("a-local", "ref-1")[0] == 200
    fast = client.list_all()
    # a name filter needs each volume decoded; "-" is in every name here
    slow = client.list_all(filters=["name=-"])
    assert len(fast) == 3 and fast == slow
    for v in fast:
        st, w = client.inspect(v["name"])
        assert st == 200
        limit = w.pop("size_limit_bytes", None)
        assert limit == (4 << 20 if v["driver"] == "tmpfs" else None), w
        assert "snapshots" not in w  # none made
        assert w == v, (v, w)
    # after a change, the stored JSON follows
    assert client.unmount("a-local", "ref-1")[0] == 200
    assert [v["mounts"] for v in client.list_all() if v["name"] == "a-local"] == [[]]


def test_store_of_an_older_volmand_is_upgraded(daemon, client):
    """A store written before volumes kept their JSON (schema 3) is filled in
    at open, and lists the same."""
    client.create("old-1", labels={"k": "v"})
    client.create("old-2")
    assert client.mount("old-2", "r")[0] == 200
    before = client.list_all()
    client.close()
    daemon.stop()
    db = os.path.join(daemon.root, "volman.db")
    subprocess.run(["sqlite3", db, "ALTER TABLE volumes DROP COLUMN json; PRAGMA user_version=3;"],
                   check=True)
    daemon.start()
    assert client.list_all() == before
    st, v = client.inspect("old-2")
    assert st == 200 and v == [x for x in before if x["name"] == "old-2"][0]


def test_grafana_dashboard_asks_only_for_served_metrics(daemon, client):
    """contrib/grafana/volman.json: every metric a panel's query names is one /metrics serves."""
    import json
    import re
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(repo, "contrib", "grafana", "volman.json")) as f:
        dash = json.load(f)
    # make every family show up: a volume with a size limit, a scoped one, a deploy-free app
    assert client.create("g-tmpfs", driver="tmpfs", options={"size": "4m"})[0] == 201
    st, text = client.get("/metrics")
    assert st == 200
    served = set(re.findall(r"^# TYPE (volman_[a-z_]+) (?:counter|gauge|histogram)", text, re.M))
    histograms = set(re.findall(r"^# TYPE (volman_[a-z_]+) histogram", text, re.M))
    for h in histograms:
        served |= {h + "_bucket", h + "_sum", h + "_count"}
    asked = set()
    for p in dash["panels"]:
        for t in p["targets"]:
            asked |= set(re.findall(r"\bvolman_[a-z_]+", t["expr"]))
    assert asked, "the dashboard asks for nothing"
    missing = sorted(asked - served)
    assert not missing, "the dashboard asks for metrics volmand does not serve: %r" % missing
    # and each family it serves is drawn somewhere, but for the ones only a person reads
    unused = sorted(n for n in served - asked if not n.endswith(("_bucket", "_sum", "_count")) and n not in histograms)
    assert not unused, "metrics no panel shows: %r" % unused
