"""What keeps one volmand honest about its own state: the plugin socket's folder
on a fresh machine, one daemon per root, mount references voided by a reboot,
the memory budget of tmpfs volumes, a failed fsync that degrades the daemon and
takes the failed write back, and the audit trail."""

import os
import re
import stat
import subprocess
import time

from conftest import (VOLMAND, assert_error, base_env, check_invariants, mounts_below, require_root,
                      wait_removals_done)


def plugin_call(sock, route, body):
    from conftest import Client
    c = Client(sock, keepalive=False)
    return c.request("POST", route, body=body)


def test_plugin_socket_folder_is_made(make_daemon, tmp_path):
    """A fresh machine has no /run/docker/plugins: volmand makes the folders,
    mode 0755 as dockerd would, and serves the plugin there."""
    d = make_daemon(start=False)
    sock = str(tmp_path / "run" / "docker" / "plugins" / "volman.sock")
    d.plugin_socket = sock
    d.start()
    st, body = plugin_call(sock, "/Plugin.Activate", {})
    assert st == 200 and body == {"Implements": ["VolumeDriver"]}, body
    for folder in (tmp_path / "run", tmp_path / "run" / "docker", tmp_path / "run" / "docker" / "plugins"):
        assert stat.S_IMODE(os.stat(folder).st_mode) == 0o755, folder
    assert stat.S_IMODE(os.stat(sock).st_mode) == 0o660


def test_rest_is_served_when_the_plugin_socket_cannot_be(make_daemon, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where a folder would go")
    d = make_daemon(start=False)
    d.plugin_socket = str(blocker / "plugins" / "volman.sock")
    d.start()
    st, body = d.api("GET", "/v1/health")
    assert st == 200, body
    assert d.client().create("works")[0] == 201
    log = d.log_text()
    assert re.search(r"warning: the volume plugin socket .*not-a-folder.* serving the REST API only", log), log


def test_one_daemon_per_root(make_daemon, tmp_path):
    a = make_daemon()
    c = a.client()
    assert c.create("first")[0] == 201
    st, v = c.create("second")
    assert st == 201
    with open(os.path.join(v["mountpoint"], "f"), "w") as f:
        f.write("data")
    before = a.root_tree()
    db_before = os.stat(os.path.join(a.root, "volman.db")).st_mtime_ns
    b = subprocess.run([VOLMAND, "--root", a.root, "--socket", str(tmp_path / "b.sock"),
                        "--plugin-socket", str(tmp_path / "b-plugin.sock")],
                       capture_output=True, text=True, timeout=30, env=base_env())
    assert b.returncode != 0
    assert "another volmand (pid %d)" % a.proc.pid in b.stderr, b.stderr
    assert a.root in b.stderr
    assert not os.path.exists(tmp_path / "b.sock")
    assert a.root_tree() == before, "the second daemon touched the root"
    assert os.stat(os.path.join(a.root, "volman.db")).st_mtime_ns == db_before
    assert sorted(x["name"] for x in c.list_all()) == ["first", "second"]
    assert c.create("third")[0] == 201
    # and once the first one stops, the root is free
    c.close()
    a.stop()
    a.start()
    assert a.client().inspect("third")[0] == 200


def test_references_of_an_earlier_boot_are_dropped(make_daemon):
    d = make_daemon(env={"VOLMAN_BOOT_ID": "boot-one"})
    c = d.client()
    assert c.create("held")[0] == 201
    assert c.mount("held", "ctr-1")[0] == 200
    c.close()
    # a daemon restart in the same boot keeps the reference
    d.restart(env={"VOLMAN_BOOT_ID": "boot-one"})
    c = d.client()
    st, v = c.inspect("held")
    assert [(m["id"], m["owner"]) for m in v["mounts"]] == [("ctr-1", "admin")], v
    st, body = c.remove("held")
    assert_error(st, body, 409, "in_use")
    c.close()
    # after a reboot no container holds anything
    d.restart(env={"VOLMAN_BOOT_ID": "boot-two"})
    c = d.client()
    st, v = c.inspect("held")
    assert v["mounts"] == [], v
    assert "dropped 1 mount reference made before the host's last boot" in d.log_text()
    assert c.remove("held")[0] == 204
    check_invariants(d, c)


def test_memory_budget_of_tmpfs_volumes(make_daemon):
    require_root()
    budget = ["--memory-max-volume", "8m", "--memory-max-total", "12m"]
    d = make_daemon(args=budget)
    c = d.client()
    st, body = c.create("too-big", driver="tmpfs", options={"size": "16m"})
    assert_error(st, body, 507, "no_space")
    assert "8 MiB" in body["error"]["message"] and "--memory-max-volume" in body["error"]["message"], body
    st, a = c.create("a", driver="tmpfs", options={"size": "8m"})
    assert st == 201, a
    st, body = c.create("b", driver="tmpfs", options={"size": "8m"})
    assert_error(st, body, 507, "no_space")
    assert "--memory-max-total" in body["error"]["message"] and "8 MiB is taken" in body["error"]["message"]
    assert c.create("c", driver="tmpfs", options={"size": "4m"})[0] == 201  # fits exactly
    assert sorted(x["name"] for x in c.list_all()) == ["a", "c"]
    assert not [m for m in mounts_below(d.root) if "too-big" in m]
    # the budget survives a restart, and comes back when a volume goes
    c.close()
    d.restart(args=budget)
    c = d.client()
    assert_error(*c.create("b", driver="tmpfs", options={"size": "8m"}), 507, "no_space")
    assert c.remove("a")[0] == 204
    wait_removals_done(c)  # the memory comes back once the tmpfs is gone
    assert not os.path.exists(a["mountpoint"])
    st, b = c.create("b", driver="tmpfs", options={"size": "8m"})
    assert st == 201, b
    st, text = c.get("/metrics")
    assert "volman_memory_reserved_bytes %d" % (12 << 20) in text, text
    # disk-backed volumes are not counted
    assert c.create("disk", options={})[0] == 201


def test_failed_fsync_degrades_and_takes_the_write_back(make_daemon):
    d = make_daemon(env={"VOLMAN_FAILPOINT": "store-fdatasync:3=eio"})
    c = d.client()
    assert c.create("one")[0] == 201
    assert c.create("two")[0] == 201
    st, body = c.create("three")
    assert_error(st, body, 500, "internal")
    assert "fdatasync" in body["error"]["message"], body
    # the failed create left nothing: no record, no directory
    assert c.inspect("three")[0] == 404
    assert sorted(x["name"] for x in c.list_all()) == ["one", "two"]
    check_invariants_noreap = {os.path.basename(p) for p in d.driver_dirs()}
    assert len(check_invariants_noreap) == 2, check_invariants_noreap
    # degraded, and says why
    st, body = c.get("/v1/health")
    assert st == 503 and body["status"] == "degraded" and "fdatasync" in body["reason"], body
    # every later durable write is refused; reads still work
    assert_error(*c.create("four"), 500, "internal")
    assert c.remove("one")[0] == 500
    assert c.inspect("one")[0] == 200
    st, text = c.get("/metrics")
    assert "volman_degraded 1" in text
    log = d.log_text()
    assert re.search(r"error: POST /v1/volumes from uid \d+ pid \d+ answered 500", log), log[-3000:]
    # a restart (the operator's fix) is healthy again, with what was acknowledged
    c.close()
    d.restart(env={})
    c = d.client()
    assert c.get("/v1/health")[0] == 200
    vols = check_invariants(d, c)
    assert sorted(x["name"] for x in vols) == ["one", "two"]


def test_audit_trail(daemon, client):
    assert client.create("audited", labels={"x": "1"})[0] == 201
    assert client.mount("audited", "c1")[0] == 200
    assert client.remove("audited")[0] == 409
    assert client.unmount("audited", "c1")[0] == 200
    assert client.remove("audited")[0] == 204
    assert client.create("pruned", labels={"p": ""})[0] == 201
    st, body = client.post("/v1/volumes/prune", {"filters": ["label=p"]})
    assert st == 200 and body["removed"] == ["pruned"]
    daemon.stop()
    log = daemon.log_text()
    me = r"admin \(uid %d pid \d+\)" % os.geteuid()
    assert re.search(me + r" remove volume audited: failed \(in_use\): volume audited is in use", log), log
    assert re.search(me + r" remove volume audited: ok", log), log
    assert re.search(me + r" prune \(1 removed\): ok", log), log
    # creating and reading are not destructive: not in the trail
    assert not re.search(r"audit: .* create", log)


def test_refusals_name_the_volume_not_its_id(daemon, client):
    require_root()
    st, v = client.create("named")
    assert st == 201
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "x", os.path.join(v["mountpoint"])],
                   check=True)
    try:
        st, body = client.remove("named")
        assert_error(st, body, 409, "in_use")
        msg = body["error"]["message"]
        # named by its name; the id only inside the path an operator unmounts
        assert "volume named" in msg and msg.count(v["id"]) == msg.count(v["mountpoint"]) == 1, body
    finally:
        subprocess.run(["umount", v["mountpoint"]], check=True)
    assert client.remove("named")[0] == 204
