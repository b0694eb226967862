"""docs/engines.md's guarantees at the protocol level, on volmand's plugin socket,
without an engine: what dockerd and Podman rely on when they call it."""

import secrets


def unique(prefix):
    return "%s-%s" % (prefix, secrets.token_hex(4))


def call(plugin, route, body):
    st, ans = plugin.request("POST", "/VolumeDriver." + route, body)
    return st, ans


def test_errors_are_500_with_err(plugin, api):
    name = unique("p-err")
    for route, body in [("Mount", {"Name": name, "ID": "x"}),
                        ("Get", {"Name": name}),
                        ("Path", {"Name": name}),
                        ("Remove", {"Name": name}),
                        ("Create", {"Name": name, "Opts": {"bogus": "1"}})]:
        st, ans = call(plugin, route, body)
        assert st == 500, (route, st, ans)
        assert isinstance(ans, dict) and isinstance(ans.get("Err"), str) and ans["Err"], (route, ans)
    st, ans = call(plugin, "Create", {"Name": name, "Opts": {"bogus": "1"}})
    assert "bogus" in ans["Err"]
    assert api.get_volume(name)[0] == 404


def test_unmount_never_fails(plugin, api):
    st, ans = call(plugin, "Unmount", {"Name": unique("p-nosuch"), "ID": "x"})
    assert st == 200 and ans.get("Err", "") == "", ans
    name = unique("p-unm")
    assert api.create_volume(name)[0] == 201
    st, ans = call(plugin, "Unmount", {"Name": name, "ID": "never-mounted"})
    assert st == 200 and ans.get("Err", "") == "", ans
    api.delete_volume(name)


def test_docker_style_ids_are_one_reference_each(plugin, api, volmand):
    name = unique("p-ids")
    st, ans = call(plugin, "Create", {"Name": name, "Opts": {}})
    assert st == 200 and ans.get("Err", "") == "", ans
    mps = set()
    for ref in ("c1", "c2"):
        st, ans = call(plugin, "Mount", {"Name": name, "ID": ref})
        assert st == 200 and ans.get("Err", "") == "", ans
        mps.add(ans["Mountpoint"])
    st, v = api.get_volume(name)
    assert sorted(m["id"] for m in v["mounts"]) == ["c1", "c2"]
    assert mps == {v["mountpoint"]}

    # Podman calls Mount with the same ID again: still one reference for it.
    st, ans = call(plugin, "Mount", {"Name": name, "ID": "c1"})
    assert st == 200
    assert len(api.get_volume(name)[1]["mounts"]) == 2

    assert call(plugin, "Unmount", {"Name": name, "ID": "c1"})[0] == 200
    st, ans = call(plugin, "Remove", {"Name": name})
    assert st == 500 and "in use" in ans["Err"], ans
    assert volmand.cli("volume", "rm", name).returncode == 5

    assert call(plugin, "Unmount", {"Name": name, "ID": "c2"})[0] == 200
    st, ans = call(plugin, "Remove", {"Name": name})
    assert st == 200 and ans.get("Err", "") == "", ans
    assert api.get_volume(name)[0] == 404


def test_create_is_idempotent_and_conflicts_are_errors(plugin, api):
    name = unique("p-idem")
    opts = {"driver": "tmpfs", "size": "4m"}
    for _ in range(2):
        st, ans = call(plugin, "Create", {"Name": name, "Opts": opts})
        assert st == 200 and ans.get("Err", "") == "", ans
    st, ans = call(plugin, "Create", {"Name": name, "Opts": {"driver": "tmpfs", "size": "8m"}})
    assert st == 500 and ans["Err"], ans
    assert api.get_volume(name)[1]["options"] == {"size": "4m"}
    api.delete_volume(name)


def test_get_and_list_shapes(plugin, api):
    name = unique("p-get")
    st, v = api.create_volume(name, labels={"k": "v"})
    assert st == 201
    st, ans = call(plugin, "Get", {"Name": name})
    assert st == 200, ans
    vol = ans["Volume"]
    assert vol["Name"] == name and vol["Mountpoint"] == v["mountpoint"]
    assert vol["Status"]["id"] == v["id"] and vol["Status"]["labels"] == {"k": "v"}
    st, ans = call(plugin, "List", {})
    assert st == 200, ans
    listed = {x["Name"]: x for x in ans["Volumes"]}
    assert listed[name]["Mountpoint"] == v["mountpoint"]
    st, ans = call(plugin, "Path", {"Name": name})
    assert st == 200 and ans["Mountpoint"] == v["mountpoint"]
    st, ans = plugin.request("POST", "/VolumeDriver.Capabilities", {})
    assert st == 200 and ans["Capabilities"]["Scope"] == "local"
    api.delete_volume(name)


def test_references_belong_to_their_face(plugin, api, volmand):
    """A reference made through the plugin socket is the engine's: a REST
    caller cannot drop it (and so cannot remove the volume under a running
    container); the engine's own Unmount can. inspect names each owner."""
    name = unique("p-own")
    assert api.create_volume(name)[0] == 201
    st, ans = call(plugin, "Mount", {"Name": name, "ID": "docker-ctr-1"})
    assert st == 200 and ans.get("Err", "") == "", ans
    st, ans = api.request("POST", "/v1/volumes/%s/mount" % name, {"id": "admin-ref"})
    assert st == 200, ans
    st, v = api.get_volume(name)
    assert sorted((m["id"], m["owner"]) for m in v["mounts"]) == [
        ("admin-ref", "admin"), ("docker-ctr-1", "plugin")], v["mounts"]

    st, ans = api.request("POST", "/v1/volumes/%s/unmount" % name, {"id": "docker-ctr-1"})
    assert st == 403 and ans["error"]["code"] == "forbidden", (st, ans)
    assert "plugin" in ans["error"]["message"]
    assert volmand.cli("volume", "unmount", name, "--id", "docker-ctr-1").returncode != 0
    assert len(api.get_volume(name)[1]["mounts"]) == 2, "the engine's reference was dropped"
    st, ans = api.request("DELETE", "/v1/volumes/%s" % name)
    assert st == 409, (st, ans)
    # the engine cannot drop the admin's either: its Unmount succeeds (engines
    # never retry) and changes nothing
    st, ans = call(plugin, "Unmount", {"Name": name, "ID": "admin-ref"})
    assert st == 200 and ans.get("Err", "") == "", ans
    assert len(api.get_volume(name)[1]["mounts"]) == 2

    assert call(plugin, "Unmount", {"Name": name, "ID": "docker-ctr-1"})[0] == 200
    assert api.request("POST", "/v1/volumes/%s/unmount" % name, {"id": "admin-ref"})[0] == 200
    assert api.get_volume(name)[1]["mounts"] == []
    api.delete_volume(name)


def test_scoped_names_refused_without_scope(plugin, api):
    name = "volman-" + unique("squat")
    st, ans = call(plugin, "Create", {"Name": name, "Opts": {}})
    assert st == 500 and "reserved for scoped volumes" in ans["Err"], ans
    assert api.get_volume(name)[0] == 404
    # with its scope, the name comes from the scope
    opts = {"tenant": "acme", "env": "prod", "app": "orders", "path": "/data"}
    st, ans = call(plugin, "Create", {"Name": "volman-acme-prod-orders-data", "Opts": opts})
    assert st == 200 and ans.get("Err", "") == "", ans
    st, v = api.get_volume("volman-acme-prod-orders-data")
    assert st == 200 and v["scope"] == opts, v
    api.delete_volume("volman-acme-prod-orders-data")
