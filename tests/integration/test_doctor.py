"""`volman doctor` (docs/operations.md) on a healthy set-up and on broken
ones: what it says works, what it says is broken and how to fix it, and its
exit code (1 when something volman needs is missing)."""

import json
import os
import subprocess

from conftest import VOLMAN, base_env, require_binaries


def doctor(socket, *args, env=None, text=False):
    require_binaries(VOLMAN)
    e = {"DOCKER_HOST": "unix:///nonexistent/docker.sock"}
    e.update(env or {})
    argv = [VOLMAN, "--socket", socket] + ([] if text else ["--json"]) + ["doctor"] + list(args)
    p = subprocess.run(argv, capture_output=True, text=True, env=base_env(e), timeout=60)
    assert "Sanitizer" not in p.stderr and "runtime error" not in p.stderr, p.stderr
    if text:
        return p.returncode, p.stdout, p.stderr
    return p.returncode, json.loads(p.stdout), p.stderr


def by_area(report, area):
    return [c for c in report["checks"] if c["area"] == area]


def containers_conf(tmp_path, socket):
    path = tmp_path / "containers.conf"
    path.write_text('[engine]\nruntime = "runc"\n\n[engine.volume_plugins]\nvolman = "%s"\n' % socket)
    return str(path)


def test_healthy(daemon, tmp_path):
    rc, r, err = doctor(daemon.socket, "--root", daemon.root, "--plugin-socket", daemon.plugin_socket,
                        env={"CONTAINERS_CONF": containers_conf(tmp_path, daemon.plugin_socket)})
    assert rc == 0, (r, err)
    assert r["problems"] == 0 and not [c for c in r["checks"] if c["status"] == "fail"], r
    kernel = {c["detail"].split(":")[0]: c["status"] for c in by_area(r, "kernel")}
    assert kernel["openat2 with RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS"] == "ok", kernel
    assert kernel["tmpfs"] == "ok", kernel
    socket_check = by_area(r, "volmand")[0]
    assert socket_check["status"] == "ok" and "mode 0660" in socket_check["detail"], socket_check
    assert by_area(r, "store")[0]["status"] == "ok" and "healthy" in by_area(r, "store")[0]["detail"], r
    root = by_area(r, "root")[0]
    assert root["status"] == "ok" and root["detail"].startswith("free space under " + daemon.root), root
    # Podman is told about the plugin by the containers.conf given, and the plugin answers
    assert any(c["status"] == "ok" and "podman sees the volman plugin at " + daemon.plugin_socket in c["detail"]
               for c in by_area(r, "podman")), by_area(r, "podman")
    # every check that is not ok says how to fix it
    assert all(c.get("fix") for c in r["checks"] if c["status"] != "ok"), r


def test_text_report(daemon):
    rc, out, err = doctor(daemon.socket, "--root", daemon.root, text=True)
    assert rc == 0, (out, err)
    assert "ok    kernel   openat2" in out and "ok    store    volmand" in out, out
    assert out.rstrip().endswith("volman can work here"), out


def test_volmand_not_running(tmp_path):
    missing = str(tmp_path / "volman.sock")
    rc, r, err = doctor(missing, "--root", str(tmp_path / "root"))
    assert rc == 1, r
    fail = [c for c in r["checks"] if c["status"] == "fail"]
    assert [c["area"] for c in fail] == ["volmand"], fail
    assert fail[0]["detail"] == "REST socket %s: missing" % missing and "start volmand" in fail[0]["fix"], fail
    assert "doctor: 1 problem found" in err
    # the kernel checks still ran and said what works
    assert by_area(r, "kernel") and by_area(r, "kernel")[0]["status"] == "ok"
    rc, out, _ = doctor(missing, text=True)
    assert rc == 1 and "FAIL  volmand  REST socket %s: missing" % missing in out, out
    assert "fix: start volmand" in out and "volman cannot work here until the problems are fixed" in out, out


def test_socket_path_is_a_plain_file(tmp_path):
    path = tmp_path / "volman.sock"
    path.write_text("not a socket")
    rc, r, _ = doctor(str(path))
    assert rc == 1
    fail = [c for c in r["checks"] if c["status"] == "fail"]
    assert fail and fail[0]["detail"] == "REST socket %s: not a socket" % path, fail


def test_socket_open_to_everyone(daemon):
    os.chmod(daemon.socket, 0o666)
    rc, r, _ = doctor(daemon.socket, "--root", daemon.root)
    assert rc == 1
    fail = [c for c in r["checks"] if c["status"] == "fail"]
    assert len(fail) == 1 and "mode 0666 lets every user control every volume" in fail[0]["detail"], fail


def test_degraded_store(make_daemon):
    d = make_daemon(env={"VOLMAN_FAILPOINT": "store-fdatasync:1=eio"})
    assert d.client().create("x")[0] == 500
    rc, r, _ = doctor(d.socket, "--root", d.root)
    assert rc == 1
    store = by_area(r, "store")[0]
    assert store["status"] == "fail" and "degraded" in store["detail"] and "fdatasync" in store["detail"], store


def test_engines_that_do_not_see_the_plugin(daemon, tmp_path):
    """Podman told of a plugin socket that does not answer, the plugin where
    dockerd does not look: warnings with fixes, not failures."""
    gone = str(tmp_path / "gone.sock")
    rc, r, _ = doctor(daemon.socket, "--root", daemon.root, "--plugin-socket", daemon.plugin_socket,
                      env={"CONTAINERS_CONF": containers_conf(tmp_path, gone)})
    assert rc == 0, r
    podman = [c for c in by_area(r, "podman") if c["status"] == "warn"]
    assert podman and "names the volman plugin at %s, which does not answer: missing" % gone in podman[0]["detail"], r
    empty = tmp_path / "empty.conf"
    empty.write_text("[engine]\n")
    rc, r, _ = doctor(daemon.socket, "--root", daemon.root, env={"CONTAINERS_CONF": str(empty)})
    podman = by_area(r, "podman")
    if any("installed" in c["detail"] for c in podman):  # only said when podman is there
        assert any(c["status"] == "warn" and "[engine.volume_plugins]" in c["fix"] for c in podman), podman
    docker = by_area(r, "docker")
    if docker[0]["detail"] != "dockerd: not installed (nothing to check)":
        assert any(c["status"] == "warn" and "does not answer on /nonexistent/docker.sock" in c["detail"]
                   for c in docker), docker
