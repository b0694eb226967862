"""Hardening that only the platform may loosen, and the volumes a deploy will use,
on real engines (docs/apps.md): tenant layers only tighten; deployed containers
drop every capability but the granted ones, cannot gain privileges, and run
under pids and memory limits; a deploy refuses a volume that is not exactly the
one its config asks for; prune never takes an existing app's volumes."""

import urllib.parse

import pytest

from appkit import uniq

from test_app_volumes import deploy_ready, volumes_of


def refused(stack, method, path, body, status, code, *needles):
    st, j = stack.volman(method, path, body)
    assert st == status, (path, body, st, j)
    assert j["error"]["code"] == code, j
    for n in needles:
        assert n in j["error"]["message"], (n, j)
    return j


@pytest.mark.parametrize("layer", ["env", "app"])
def test_tenant_layers_cannot_loosen(stack, apps, layer):
    t, e, a = uniq("hl"), "prod", "api"
    apps.append((t, e, a))
    ref = (t, e) if layer == "env" else (t, e, a)
    good = {"writeableVolumes": ["/data"], "tmpSize": "64m"}
    stack.put_config(good, *ref)
    path = stack.config_path(*ref)
    for body, needle in (({"readOnlyRootfs": False}, "readOnlyRootfs"),
                         ({"networkMode": "host"}, "networkMode host"),
                         ({"networkMode": "container:other-tenants-app"}, "container:other-tenants-app"),
                         ({"capAdd": ["SYS_ADMIN"]}, "SYS_ADMIN"),
                         ({"pidsLimit": 100000}, "pidsLimit"),
                         ({"memory": "64g"}, "memory 64g")):
        refused(stack, "PUT", path, dict(good, **body), 403, "forbidden", needle, "%s layer" % layer)
        assert stack.get_config(*ref) == good, "a refused layer changed what was stored"
    # the same values are the platform's to set
    before = stack.get_config()
    try:
        stack.put_config(dict(before, readOnlyRootfs=False, capAdd=["CHOWN"], pidsLimit=9000))
    finally:
        stack.put_config(before)


def test_capabilities_and_limits_in_the_container(stack, apps):
    t, e, a = uniq("cap"), "prod", "api"
    apps.append((t, e, a))
    before = stack.get_config()
    stack.put_config(dict(before, capAdd=["NET_BIND_SERVICE", "CHOWN"], pidsLimit=2000, memory="512m"))
    try:
        # the tenant takes one of the granted capabilities and lowers the limits
        stack.put_config({"capAdd": ["chown"], "pidsLimit": 64, "memory": "96m"}, t, e, a)
        d, out = deploy_ready(stack, t, e, a, "echo limited", caps=("CHOWN",), pids=64,
                              memory=96 << 20)
        # a capability the platform took back is refused at resolve and deploy
        stack.put_config(dict(before, capAdd=["NET_BIND_SERVICE"]))
        j = refused(stack, "GET", "/v1/tenants/%s/envs/%s/apps/%s/resolved" % (t, e, a), None, 403,
                    "forbidden", "CHOWN")
        gen = d["generation"]
        st, j = stack.volman("POST", "/v1/tenants/%s/envs/%s/apps/%s/deploy" % (t, e, a),
                             {"image": "localhost/bb:latest", "cmd": ["true"]})
        assert st == 403 and "CHOWN" in j["error"]["message"], (st, j)
        cs = stack.containers(t, e, a)
        assert [c["Labels"]["volman.generation"] for c in cs] == [str(gen)], "a refused deploy changed"
    finally:
        stack.put_config(before)
    # without any grant: every capability dropped, the defaults' limits
    stack.put_config({}, t, e, a)
    deploy_ready(stack, t, e, a, "echo defaults")


def scoped(stack, t, e, a, path, driver="local", options=None):
    st, v = stack.volman("POST", "/v1/volumes", {
        "driver": driver, "options": options or {},
        "scope": {"tenant": t, "env": e, "app": a, "path": path}})
    assert st == 201, (st, v)
    return v


def test_deploy_uses_only_the_volume_its_config_asks_for(stack, apps):
    t, e, a = uniq("sq"), "prod", "api"
    apps.append((t, e, a))
    # a volume of this scope made beforehand with another driver and size
    v = scoped(stack, t, e, a, "/data", driver="tmpfs", options={"size": "16m"})
    stack.put_config({"writeableVolumes": ["/data"]}, t, e, a)
    st, j = stack.volman("POST", "/v1/tenants/%s/envs/%s/apps/%s/deploy" % (t, e, a),
                         {"image": "localhost/bb:latest", "cmd": ["true"]})
    assert st == 409 and j["error"]["code"] == "conflict", (st, j)
    msg = j["error"]["message"]
    assert v["name"] in msg and "tmpfs" in msg and "16m" in msg and "local" in msg, msg
    assert stack.containers(t, e, a) == [], "a refused deploy made a container"
    assert stack.volume(v["name"])["options"] == {"size": "16m"}, "the volume was changed"

    # the config that matches it deploys on it
    stack.put_config({"writeableVolumes": ["/data"], "volumeDriver": "tmpfs", "volumeSize": "16m"},
                     t, e, a)
    d, _ = deploy_ready(stack, t, e, a, "echo on-tmpfs > /data/f")
    assert volumes_of(d) == {"/data": v["name"]}
    gen = d["generation"]
    # a changed size is refused, never applied to the volume in place
    stack.put_config({"writeableVolumes": ["/data"], "volumeDriver": "tmpfs", "volumeSize": "32m"},
                     t, e, a)
    st, j = stack.volman("POST", "/v1/tenants/%s/envs/%s/apps/%s/deploy" % (t, e, a),
                         {"image": "localhost/bb:latest", "cmd": ["true"]})
    assert st == 409 and "16m" in j["error"]["message"] and "32m" in j["error"]["message"], (st, j)
    cs = stack.containers(t, e, a)
    assert [c["Labels"]["volman.generation"] for c in cs] == [str(gen)]
    assert cs[0]["State"] == "running", "the running generation was touched"


def test_prune_keeps_the_volumes_of_existing_apps(stack, apps):
    t, e = uniq("pr"), "prod"
    apps.append((t, e, "live"))
    stack.put_config({"writeableVolumes": ["/data"]}, t, e, "live")
    d, _ = deploy_ready(stack, t, e, "live", "echo x > /data/f")
    live = volumes_of(d)["/data"]
    # the app's container goes away (as a stopped and removed container does):
    # its volume has no mount reference any more
    for c in stack.containers(t, e, "live"):
        stack.engine("DELETE", "/containers/%s?force=1" % c["Id"])
    assert stack.volume(live)["mounts"] == []
    # a volume of a scope whose app has no config and no deploy
    orphan = scoped(stack, t, e, "gone", "/data")["name"]
    st, j = stack.volman("POST", "/v1/volumes/prune",
                         {"filters": ["tenant=%s" % t], "all": True})
    assert st == 200, j
    assert j["removed"] == [orphan], j
    assert [k["name"] for k in j["kept"]] == [live] and "config" in j["kept"][0]["reason"], j
    assert stack.volume(live) is not None and stack.volume(orphan) is None
    # once the app is deleted, its volumes go with it
    st, j = stack.delete_app(t, e, "live")
    assert st == 200 and stack.volume(live) is None, j


def test_plugin_cannot_squat_scoped_names(stack):
    """Through the engine (and so the plugin face): a volume named like a scope
    but made without one is refused."""
    name = "volman-%s-prod-api-data" % uniq("sq")
    st, data = stack.engine("POST", "/volumes/create", {"Name": name, "Driver": stack.driver})
    assert st >= 400, (st, data)
    assert b"reserved for scoped volumes" in data, data
    assert stack.volume(name) is None
    st, _ = stack.engine("GET", "/volumes/%s" % urllib.parse.quote(name, safe=""))
    assert st == 404
