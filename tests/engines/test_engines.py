"""docs/engines.md, checked against real dockerd and real Podman: each test
runs once per engine (the `engine` fixture), on daemons shared by the session,
with volume names unique to the test."""

import os
import secrets
import stat
import threading
import time

import pytest


# Small helpers kept here rather than imported from conftest: several test
# folders each have a conftest.py, and `import conftest` would be ambiguous.
def unique(prefix):
    return "%s-%s" % (prefix, secrets.token_hex(4))


def wait_for(pred, timeout, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(interval)
    return pred()


def volman_view(api, name):
    st, v = api.get_volume(name)
    assert st == 200, (st, v)
    return v


def assert_absent(api, name):
    st, body = api.get_volume(name)
    assert st == 404, "volume %s should not exist in volman: %s %s" % (name, st, body)


def split_engine_opts(opts):
    """The engine's -o options as volman should store them: (driver, options, labels)."""
    driver = opts.get("driver", "local")
    labels = {k[len("label."):]: v for k, v in opts.items() if k.startswith("label.")}
    scope_keys = ("tenant", "env", "app", "path")
    options = {k: v for k, v in opts.items()
               if k != "driver" and not k.startswith("label.") and k not in scope_keys}
    return driver, options, labels


# 1 ----------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["tmpfs", "local"])
def test_create_with_options_matches_volman(engine, api, volumes, kind):
    if kind == "tmpfs":
        opts = {"driver": "tmpfs", "size": "4m", "label.team": "web"}
    else:
        opts = {"uid": "1000", "mode": "0750"}
    name = unique("t1-%s-%s" % (engine.name, kind))
    volumes.append(name)
    engine.create_volume_ok(name, opts)

    v = volman_view(api, name)
    driver, options, labels = split_engine_opts(opts)
    assert v["name"] == name
    assert v["driver"] == driver
    assert v["options"] == options
    assert v["labels"] == labels
    assert v["status"] == "ready"
    assert v["scope"] is None
    assert v["mounts"] == []

    ins = engine.inspect_volume(name)
    assert ins["Name"] == name
    assert ins["Driver"] == engine.driver
    assert ins["Options"] == opts  # what the engine was given, kept by the engine
    # Status holds volman's own volume object (docs/engines.md: inspect -> Get).
    status = ins["Status"]
    for key in ("name", "driver", "options", "labels", "mountpoint", "id"):
        assert status[key] == v[key], key
    if engine.name == "docker":
        assert ins["Mountpoint"] == v["mountpoint"]
    else:
        # Podman shows a plugin volume's Mountpoint only while it is mounted.
        assert ins["Mountpoint"] in ("", v["mountpoint"])

    st = os.stat(v["mountpoint"])
    assert stat.S_ISDIR(st.st_mode)
    if kind == "local":
        assert st.st_uid == 1000
        assert stat.S_IMODE(st.st_mode) == 0o750
    else:
        # the tmpfs is mounted with the size asked for
        sv = os.statvfs(v["mountpoint"])
        assert sv.f_blocks * sv.f_frsize == 4 << 20


# 2 ----------------------------------------------------------------------------------

def test_container_writes_are_on_host_and_shared(engine, api, volumes):
    name = unique("t2-%s" % engine.name)
    volumes.append(name)
    engine.create_volume_ok(name, {})
    mp = volman_view(api, name)["mountpoint"]
    word = "written-by-%s" % name

    cp = engine.run(name, "echo %s > /d/file && sync" % word)
    assert cp.returncode == 0, cp.stderr
    with open(os.path.join(mp, "file")) as f:
        assert f.read().strip() == word

    cp = engine.run(name, "cat /d/file")
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout.strip() == word
    # both containers are gone: every mount reference was dropped
    assert volman_view(api, name)["mounts"] == []


# 3 ----------------------------------------------------------------------------------

def test_in_use_volume_is_never_removed(engine, api, volmand, volumes, containers):
    name = unique("t3-%s" % engine.name)
    volumes.append(name)
    engine.create_volume_ok(name, {"driver": "tmpfs", "size": "8m"})
    mp = volman_view(api, name)["mountpoint"]
    cname = unique("t3c-%s" % engine.name)
    containers.append(cname)
    engine.run_detached(cname, name, "echo up > /d/up; exec sleep 300")
    assert wait_for(lambda: os.path.exists(os.path.join(mp, "up")), 20), "container never wrote"

    v = volman_view(api, name)
    assert len(v["mounts"]) >= 1, v
    assert all(m.get("id") and m.get("since") for m in v["mounts"]), v

    cp = engine.remove_volume(name)
    assert cp.returncode != 0, "%s removed a volume in use" % engine.name
    cp = volmand.cli("volume", "rm", name)
    assert cp.returncode == 5, (cp.returncode, cp.stdout, cp.stderr)
    assert "in use" in cp.stderr, cp.stderr
    v = volman_view(api, name)
    assert v["status"] == "ready" and len(v["mounts"]) >= 1
    assert os.path.exists(os.path.join(mp, "up"))

    engine.remove_container(cname)
    containers.remove(cname)
    assert wait_for(lambda: volman_view(api, name)["mounts"] == [], 20), volman_view(api, name)

    # Docker removes through the engine, Podman through volman: both work.
    if engine.name == "docker":
        cp = engine.remove_volume(name)
        assert cp.returncode == 0, cp.stderr
    else:
        cp = volmand.cli("volume", "rm", name)
        assert cp.returncode == 0, (cp.returncode, cp.stderr)
        engine.reload()
        assert name not in engine.volume_names()
    assert_absent(api, name)
    # the data goes in the background, after the answer
    assert wait_for(lambda: not os.path.exists(mp), 30), mp


def test_reference_from_volman_api_blocks_engine_remove(engine, api, volumes):
    """The engine knows of no container, but volman holds a mount reference:
    the engine's Remove reaches volman, which refuses with its reason."""
    name = unique("t3b-%s" % engine.name)
    volumes.append(name)
    engine.create_volume_ok(name, {})
    st, body = api.request("POST", "/v1/volumes/%s/mount" % name, {"id": "api-ref-1"})
    assert st == 200, (st, body)

    cp = engine.remove_volume(name)
    assert cp.returncode != 0, "%s removed a volume volman holds a reference to" % engine.name
    assert "in use" in cp.stderr, cp.stderr
    assert volman_view(api, name)["status"] == "ready"

    st, body = api.request("POST", "/v1/volumes/%s/unmount" % name, {"id": "api-ref-1"})
    assert st == 200, (st, body)
    cp = engine.remove_volume(name)
    assert cp.returncode == 0, cp.stderr
    assert_absent(api, name)


# 4 ----------------------------------------------------------------------------------

def test_tmpfs_size_is_enforced_in_container(engine, api, volumes):
    name = unique("t4-%s" % engine.name)
    volumes.append(name)
    engine.create_volume_ok(name, {"driver": "tmpfs", "size": "4m"})
    mp = volman_view(api, name)["mountpoint"]

    cp = engine.run(name, "dd if=/dev/zero of=/d/small bs=1M count=1 2>&1")
    assert cp.returncode == 0, (cp.stdout, cp.stderr)
    assert os.path.getsize(os.path.join(mp, "small")) == 1 << 20

    cp = engine.run(name, "dd if=/dev/zero of=/d/big bs=1M count=8 2>&1")
    assert cp.returncode != 0, "an 8 MiB write into a 4m volume succeeded: %s" % cp.stdout
    assert "No space left on device" in cp.stdout + cp.stderr, (cp.stdout, cp.stderr)
    assert os.path.getsize(os.path.join(mp, "big")) < 4 << 20


@pytest.mark.parametrize("driver,full", [("loop", "No space left on device"), ("btrfs", "Disk quota exceeded")])
def test_hard_size_is_enforced_in_container(engine, api, volumes, btrfs_root, driver, full):
    if driver == "btrfs" and not btrfs_root:
        pytest.skip("this kernel has no btrfs")
    if not os.path.exists("/dev/loop-control"):
        pytest.skip("this kernel has no loop devices")
    name = unique("hard-%s-%s" % (driver, engine.name))
    volumes.append(name)
    engine.create_volume_ok(name, {"driver": driver, "size": "24m"})
    mp = volman_view(api, name)["mountpoint"]
    cp = engine.run(name, "dd if=/dev/zero of=/d/small bs=1M count=4 conv=fsync 2>&1")
    assert cp.returncode == 0, (cp.stdout, cp.stderr)
    assert os.path.getsize(os.path.join(mp, "small")) == 4 << 20
    cp = engine.run(name, "dd if=/dev/zero of=/d/big bs=1M count=64 conv=fsync 2>&1")
    assert cp.returncode != 0, "a 64 MiB write into a 24m volume succeeded: %s" % cp.stdout
    assert full in cp.stdout + cp.stderr, (cp.stdout, cp.stderr)
    assert os.path.getsize(os.path.join(mp, "big")) <= 24 << 20
    # the full volume breaks nothing else: it still reads, and frees space
    cp = engine.run(name, "rm /d/big && ls /d")
    assert cp.returncode == 0 and "small" in cp.stdout, (cp.stdout, cp.stderr)


# 5 ----------------------------------------------------------------------------------

BAD_OPTIONS = [
    ({"bogus": "1"}, ["bogus"]),
    ({"driver": "tmpfs", "size": "12x"}, ["12x"]),
    ({"size": "12x"}, ["size"]),
    ({"tenant": "acme"}, ["tenant", "env", "app", "path"]),
    ({"size": "1m"}, ["size"]),
    ({"driver": "nosuchdriver"}, ["nosuchdriver"]),
]


@pytest.mark.parametrize("opts,words", BAD_OPTIONS,
                         ids=["bogus", "tmpfs-size-12x", "local-size-12x", "tenant-alone",
                              "local-size", "unknown-driver"])
def test_bad_options_are_refused_with_volmans_reason(engine, api, volumes, opts, words):
    name = unique("t5-%s" % engine.name)
    volumes.append(name)
    cp = engine.create_volume(name, opts)
    assert cp.returncode != 0, "%s created %s with %r" % (engine.name, name, opts)
    for w in words:
        assert w in cp.stderr, "the error does not name %r: %s" % (w, cp.stderr)
    assert_absent(api, name)
    st, body = api.request("GET", "/v1/volumes?filter=name=" + name)
    assert st == 200 and body["volumes"] == [], body
    assert name not in engine.volume_names()


# 6 ----------------------------------------------------------------------------------

WRITER = ("i=0; while true; do echo line-$i >> /d/log; i=$((i+1)); sleep 0.1; done")


def _lines(path):
    try:
        with open(path) as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return []


@pytest.mark.parametrize("kind", ["local", "tmpfs"])
def test_volmand_restart_keeps_references_and_data(engine, volmand, volumes, containers, kind):
    api = volmand.client()
    try:
        name = unique("t6-%s-%s" % (engine.name, kind))
        volumes.append(name)
        engine.create_volume_ok(name, {"driver": kind})
        mp = volman_view(api, name)["mountpoint"]
        log = os.path.join(mp, "log")
        cname = unique("t6c-%s" % engine.name)
        containers.append(cname)
        engine.run_detached(cname, name, WRITER)
        assert wait_for(lambda: len(_lines(log)) >= 5, 20), "the container is not writing"
        refs = sorted(m["id"] for m in volman_view(api, name)["mounts"])
        assert refs, "no mount reference while the container runs"

        volmand.restart()
        api.close()
        before = _lines(log)

        v = volman_view(api, name)
        assert sorted(m["id"] for m in v["mounts"]) == refs, (v["mounts"], refs)
        assert v["mountpoint"] == mp and v["status"] == "ready"
        cp = volmand.cli("volume", "rm", name)
        assert cp.returncode == 5, (cp.returncode, cp.stderr)
        assert "in use" in cp.stderr

        # the data written before the restart is intact, and writing goes on
        assert before[:5] == ["line-%d" % i for i in range(5)], before[:10]
        assert wait_for(lambda: len(_lines(log)) >= len(before) + 5, 20), \
            "the container stopped writing after the restart"
        after = _lines(log)[:-1]  # the last line may be half written
        assert after[:len(before) - 1] == before[:-1]
        assert after == ["line-%d" % i for i in range(len(after))], after[-5:]

        engine.remove_container(cname)
        containers.remove(cname)
        assert wait_for(lambda: volman_view(api, name)["mounts"] == [], 20)
        cp = engine.remove_volume(name)
        assert cp.returncode == 0, cp.stderr
        assert_absent(api, name)
        assert wait_for(lambda: not os.path.exists(mp), 30), mp
    finally:
        api.close()


# 7 ----------------------------------------------------------------------------------

def test_volume_made_through_volman_is_seen_and_usable(engine, api, volumes):
    name = unique("t7-%s" % engine.name)
    volumes.append(name)
    st, v = api.create_volume(name, labels={"made": "rest"})
    assert st == 201, (st, v)

    assert name in engine.volume_names()  # Podman: after `volume reload`
    ins = engine.inspect_volume(name)
    assert ins["Name"] == name
    assert ins["Driver"] == engine.driver
    assert ins["Status"]["mountpoint"] == v["mountpoint"]

    cp = engine.run(name, "echo via-rest > /d/f")
    assert cp.returncode == 0, cp.stderr
    with open(os.path.join(v["mountpoint"], "f")) as f:
        assert f.read() == "via-rest\n"
    # the engine used volman's volume, not a `local` one of the same name
    assert engine.inspect_volume(name)["Driver"] == engine.driver
    assert volman_view(api, name)["mounts"] == []


# 8 ----------------------------------------------------------------------------------

def test_scope_options_give_the_scope(engine, api, volumes):
    # a scoped volume must carry its scope's name (docs/names.md): a tenant unique to
    # this run, without hyphens, so the name is simply volman-{tenant}-prod-orders-...
    tenant = "t8%s%s" % (engine.name, secrets.token_hex(4))
    name = "volman-%s-prod-orders-var-lib-state" % tenant
    volumes.append(name)
    scope = {"tenant": tenant, "env": "prod", "app": "orders", "path": "/var/lib/state"}
    # any other name is refused, with the expected one in the engine's message
    cp = engine.create_volume(unique("t8-wrong"), scope)
    assert cp.returncode != 0 and name in (cp.stderr + cp.stdout), cp
    engine.create_volume_ok(name, dict(scope, **{"label.tier": "db"}))
    v = volman_view(api, name)
    assert v["name"] == name
    assert v["scope"] == scope
    assert v["options"] == {}
    assert v["labels"] == {"tier": "db"}
    st, body = api.request("GET", "/v1/volumes?filter=tenant=%s&filter=app=orders&filter=name=%s" % (tenant, name))
    assert st == 200 and [x["name"] for x in body["volumes"]] == [name], body


# 9 ----------------------------------------------------------------------------------

MANY = 1000
MANY_THREADS = 4


def _in_threads(volmand, names, fn):
    errors = []

    def work(chunk):
        c = volmand.client()
        try:
            for n in chunk:
                st, body = fn(c, n)
                if st not in (200, 201, 204, 404):
                    errors.append((n, st, body))
        finally:
            c.close()

    threads = [threading.Thread(target=work, args=(names[i::MANY_THREADS],))
               for i in range(MANY_THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_thousand_volumes_listed_by_engine(engine, volmand, api):
    prefix = unique("t9-%s" % engine.name)
    names = ["%s-%04d" % (prefix, i) for i in range(MANY)]
    try:
        errors = _in_threads(volmand, names, lambda c, n: c.create_volume(n))
        assert not errors, errors[:5]

        t0 = time.monotonic()
        listed = engine.volume_names()  # Podman: `volume reload`, then `volume ls`
        ins = engine.inspect_volume(names[MANY // 2])
        elapsed = time.monotonic() - t0
        missing = [n for n in names if n not in listed]
        assert not missing, "%d of %d missing, e.g. %s" % (len(missing), MANY, missing[:3])
        assert ins["Name"] == names[MANY // 2]
        assert ins["Status"]["name"] == names[MANY // 2]
        assert elapsed < 60, "listing %d volumes took %.1f s" % (MANY, elapsed)
        print("%s: list + inspect of %d volumes in %.2f s" % (engine.name, MANY, elapsed))
    finally:
        _in_threads(volmand, names, lambda c, n: c.delete_volume(n))
        engine.reload()
