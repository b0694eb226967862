"""The web console (web/), in real headless Chromium against real volmand and dockerd.

Each test sets up what it needs through the unix socket (the admin's face), runs one
scenario of console.test.mjs (which drives the page and checks it, also through the HTTPS
API with bearer tokens), then checks the outcome here through the API and the engine.
"""

import os
import urllib.parse

from appkit import uniq

ARTIFACTS = os.path.abspath(os.environ.get("VOLMAN_ARTIFACTS")
                            or os.path.join(os.path.dirname(os.path.abspath(__file__)), "artifacts"))


def volume_names(stack, **filters):
    q = "&".join("filter=%s" % urllib.parse.quote("%s=%s" % kv, safe="") for kv in sorted(filters.items()))
    st, j = stack.volman("GET", "/v1/volumes?" + q, expect=200)
    return sorted(v["name"] for v in j["volumes"])


def app_listed(stack, t, e, a):
    apps = stack.volman("GET", "/v1/apps?tenant=%s" % t, expect=200)[1]["apps"]
    return any((x["env"], x["app"]) == (e, a) for x in apps)


# ---- 1. log in ----

def test_login(console):
    """A bad token shows the API's message; a good one the apps page; a reload keeps the
    session (and its CSRF token); log out ends it."""
    console.run("login")


# ---- 2. a path's volume name, before saving ----

def test_add_path_shows_volume_name_before_saving(console):
    t, e, a = console.tenants["a"], "prod", uniq("orders")
    console.run("add-path", env=e, app=a)
    # nothing was saved: no app, no config, no volume
    assert not app_listed(console.stack, t, e, a)
    assert console.stack.get_config(t, e, a) == {}
    assert volume_names(console.stack, tenant=t, env=e, app=a) == []


# ---- 3. a bad path ----

def test_bad_path_shows_api_message_and_saves_nothing(console):
    t, e, a = console.tenants["a"], "stage", uniq("billing")
    console.make_app(t, e, a, ["/data"])
    console.run("bad-path", env=e, app=a)
    assert console.stack.get_config(t, e, a) == {"writeableVolumes": ["/data"]}


# ---- 4. save, deploy, see it running and its volume in use ----

def test_save_deploy_running_and_volume_in_use(console):
    t, e, a = console.tenants["a"], "prod", uniq("shop")
    out = console.run("deploy", env=e, app=a)
    assert "deployed" in out
    s = console.stack
    assert s.get_config(t, e, a) == {"writeableVolumes": ["/var/lib/state"]}
    name = "volman-%s-%s-%s-var-lib-state" % (t, e, a)
    cs = s.containers(t, e, a)
    assert len(cs) == 1 and cs[0]["State"] == "running", cs
    assert cs[0]["Names"][0].lstrip("/") == "volman-%s-%s-%s-1" % (t, e, a)
    assert s.volume(name)["mounts"], s.volume(name)
    # leave nothing running for the later tests
    s.delete_app(t, e, a)


# ---- 5. delete, after the confirmation that lists the volumes ----

def test_delete_app_lists_volumes_then_removes_everything(console):
    t, e, a = console.tenants["a"], "prod", uniq("gone")
    s = console.stack
    names = console.make_app(t, e, a, ["/var/lib/one", "/opt/two"], deploy=True)
    assert volume_names(s, tenant=t, env=e, app=a) == sorted(names)
    console.run("delete", env=e, app=a, volumes=names)
    assert not app_listed(s, t, e, a)
    assert s.get_config(t, e, a) == {}
    assert volume_names(s, tenant=t, env=e, app=a) == []
    assert s.containers(t, e, a) == []
    engine_vols = s.engine_volume_names()
    assert not set(names) & set(engine_vols), engine_vols


# ---- 6. tenant isolation ----

def test_tenant_sees_nothing_of_another_tenant(console):
    ta, tb = console.tenants["a"], console.tenants["b"]
    s = console.stack
    a_app, b_app = uniq("secret"), uniq("mine")
    a_vols = console.make_app(ta, "prod", a_app, ["/var/lib/hidden"], deploy=True)
    a_container = s.containers(ta, "prod", a_app)[0]["Names"][0].lstrip("/")
    b_vols = console.make_app(tb, "prod", b_app, ["/var/lib/visible"], deploy=True)
    try:
        console.run("isolation", a_app=a_app, a_vols=a_vols, a_container=a_container,
                    b_app=b_app, b_vols=b_vols)
    finally:
        s.delete_app(ta, "prod", a_app)
        s.delete_app(tb, "prod", b_app)


# ---- 7. the admin sees every tenant and switches ----

def test_admin_sees_both_tenants_and_switches(console):
    ta, tb = console.tenants["a"], console.tenants["b"]
    a_app, b_app = uniq("alpha"), uniq("beta")
    a_vols = console.make_app(ta, "dev", a_app, ["/srv/a"], deploy=True)
    b_vols = console.make_app(tb, "dev", b_app, ["/srv/b"], deploy=True)
    try:
        console.run("admin", a_app=a_app, a_vols=a_vols, b_app=b_app, b_vols=b_vols)
    finally:
        console.stack.delete_app(ta, "dev", a_app)
        console.stack.delete_app(tb, "dev", b_app)


# ---- the volumes page: filters, size limit, unused, delete, prune ----

def test_volumes_page_filters_delete_and_prune(console):
    t = console.tenants["a"]
    s = console.stack
    app = uniq("web")
    kept = console.make_app(t, "qa", app, ["/var/cache/web"], deploy=True)
    # unused volumes of apps that do not exist (any more): what prune takes
    orphans = {}
    for key, driver, opts in (("local", "local", {}), ("tmpfs", "tmpfs", {"size": "16m"}), ("victim", "local", {})):
        body = {"driver": driver, "options": opts,
                "scope": {"tenant": t, "env": "qa", "app": uniq("old"), "path": "/data"}}
        orphans[key] = s.volman("POST", "/v1/volumes", body, expect=201)[1]["name"]
    try:
        console.run("volumes", app=app, in_use=kept[0], orphans=orphans)
        assert s.volume(orphans["victim"]) is None
        assert s.volume(orphans["local"]) is None and s.volume(orphans["tmpfs"]) is None
        assert s.volume(kept[0]) is not None
    finally:
        s.delete_app(t, "qa", app)
        for n in orphans.values():
            s.volman("DELETE", "/v1/volumes/" + n)


# ---- 8. the screenshots ----

def test_screenshots_were_saved(console):
    """Each page and dialog, and the app page at phone width, as PNG test artifacts."""
    want = ["login", "login-error", "apps", "app-new", "app-bad-path", "app", "app-phone", "volumes",
            "volumes-phone", "dialog-delete-app", "dialog-delete-volume", "dialog-prune", "not-found",
            "admin-apps", "admin-volumes"]
    missing = []
    for w in want:
        p = os.path.join(ARTIFACTS, w + ".png")
        if not os.path.isfile(p):
            missing.append(w)
            continue
        with open(p, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n", p
        assert os.path.getsize(p) > 2000, p
    assert not missing, "screenshots missing under %s: %s" % (ARTIFACTS, missing)
