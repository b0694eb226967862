"""The CLI against the real daemon: commands, output forms and exit codes
(0 ok, 1 daemon error, 2 usage, 3 unreachable, 4 not found, 5 conflict or in
use, 6 invalid input)."""

import json
import os

import pytest

from conftest import wait_gone, VOLMAN, base_env, require_binaries

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_NOT_FOUND, EXIT_CONFLICT, \
    EXIT_INVALID = range(7)


@pytest.fixture
def cli(daemon):
    require_binaries(VOLMAN)

    def run(*args, **kw):
        rc, out, err = daemon.cli(*args, **kw)
        assert "AddressSanitizer" not in err and "runtime error:" not in err, err
        return rc, out, err

    return run


def ok(res):
    rc, out, err = res
    assert rc == EXIT_OK, (rc, out, err)
    return out


def as_list(doc):
    """A JSON listing: an array, or an object holding `volumes`."""
    if isinstance(doc, dict):
        doc = doc["volumes"]
    assert isinstance(doc, list), doc
    return doc


def test_round_trip(cli, client, daemon):
    out = ok(cli("volume", "create", "--label", "team=web", "-l", "tier=front",
                 "--opt", "mode=0750", "web-data"))
    assert "web-data" in out
    st, v = client.inspect("web-data")
    assert st == 200
    assert v["labels"] == {"team": "web", "tier": "front"}
    assert v["options"] == {"mode": "0750"}

    # create again with the same parameters: fine, same volume
    ok(cli("volume", "create", "-l", "team=web", "-l", "tier=front", "-o", "mode=0750",
           "web-data"))
    ok(cli("volume", "create", "-d", "local", "other"))

    out = ok(cli("volume", "ls"))
    assert "web-data" in out and "other" in out

    out = ok(cli("volume", "ls", "-q"))
    assert out.split() == ["other", "web-data"], out
    assert [line for line in out.splitlines() if line.strip()] == ["other", "web-data"]

    out = ok(cli("volume", "ls", "-q", "--filter", "label=team=web"))
    assert out.split() == ["web-data"]
    out = ok(cli("volume", "ls", "-q", "-f", "label=team", "-f", "name=other"))
    assert out.split() == []

    out = ok(cli("--json", "volume", "ls"))
    listed = as_list(json.loads(out))
    assert sorted(x["name"] for x in listed) == ["other", "web-data"]

    out = ok(cli("--json", "volume", "inspect", "web-data"))
    doc = json.loads(out)
    if isinstance(doc, list):
        assert len(doc) == 1
        doc = doc[0]
    assert doc["id"] == v["id"] and doc["mountpoint"] == v["mountpoint"]
    assert doc["labels"] == v["labels"]

    out = ok(cli("volume", "inspect", "web-data"))
    assert v["id"] in out

    out = ok(cli("volume", "rm", "web-data"))
    assert "web-data" in out
    assert client.inspect("web-data")[0] == 404
    wait_gone(v["mountpoint"])
    assert ok(cli("volume", "ls", "-q")).split() == ["other"]


def test_create_json_and_scope(cli, client):
    out = ok(cli("--json", "volume", "create", "--tenant", "acme", "--env", "prod",
                 "--app", "orders", "--path", "/var/lib/kafka-streams"))
    doc = json.loads(out)
    assert doc["name"] == "volman-acme-prod-orders-var-lib-kafka--streams"
    assert doc["scope"] == {"tenant": "acme", "env": "prod", "app": "orders",
                            "path": "/var/lib/kafka-streams"}
    st, v = client.inspect(doc["name"])
    assert st == 200 and v["id"] == doc["id"]
    out = ok(cli("volume", "ls", "-q", "-f", "tenant=acme"))
    assert out.split() == [doc["name"]]


def test_mount_unmount_and_rm_in_use(cli, client):
    ok(cli("volume", "create", "busy"))
    out = ok(cli("volume", "mount", "busy", "--id", "ctr-1"))
    st, v = client.inspect("busy")
    assert out.strip() == v["mountpoint"]
    assert [m["id"] for m in v["mounts"]] == ["ctr-1"]

    rc, out, err = cli("volume", "rm", "busy")
    assert rc == EXIT_CONFLICT, (rc, out, err)
    assert err.strip(), "no message on stderr"
    rc, _, _ = cli("volume", "rm", "--force", "busy")
    assert rc == EXIT_CONFLICT
    assert client.inspect("busy")[0] == 200

    ok(cli("volume", "unmount", "busy", "--id", "ctr-1"))
    ok(cli("volume", "unmount", "busy", "--id", "never"))
    ok(cli("volume", "rm", "busy"))
    assert client.inspect("busy")[0] == 404


def test_prune(cli, client):
    for n, lbl in (("t1", "tmp=1"), ("t2", "tmp=2"), ("keep", "keep=1")):
        ok(cli("volume", "create", "-l", lbl, n))
    rc, out, err = cli("volume", "prune")
    assert rc != EXIT_OK, (rc, out, err)
    assert client.names() == ["keep", "t1", "t2"]
    out = ok(cli("volume", "prune", "--all", "--dry-run"))
    assert "t1" in out and "keep" in out
    assert client.names() == ["keep", "t1", "t2"]
    out = ok(cli("volume", "prune", "-f", "label=tmp"))
    assert "t1" in out and "t2" in out
    assert client.names() == ["keep"]
    ok(cli("volume", "prune", "--all"))
    assert client.names() == []


def test_health_and_socket_env(cli, daemon):
    ok(cli("health"))
    rc, out, err = daemon.cli("health", socket_arg=False, env={"VOLMAN_SOCKET": daemon.socket})
    assert rc == EXIT_OK, (rc, out, err)
    rc, out, err = daemon.cli("volume", "ls", "-q", socket_arg=False,
                              env={"VOLMAN_SOCKET": daemon.socket})
    assert rc == EXIT_OK, (rc, out, err)


def test_unreachable_daemon_is_3(cli_bin, tmp_path):
    sock = str(tmp_path / "no-daemon-here.sock")
    import subprocess
    for args in (["health"], ["volume", "ls"], ["volume", "create", "x"]):
        p = subprocess.run([cli_bin, "--socket", sock] + args, capture_output=True,
                           env=base_env(), timeout=30, stdin=subprocess.DEVNULL)
        err = p.stderr.decode()
        assert p.returncode == EXIT_UNREACHABLE, (args, p.returncode, err)
        assert sock in err, "the message does not name the socket: %r" % err
    p = subprocess.run([cli_bin, "health"], capture_output=True, timeout=30,
                       env=base_env({"VOLMAN_SOCKET": sock}), stdin=subprocess.DEVNULL)
    assert p.returncode == EXIT_UNREACHABLE and sock in p.stderr.decode()


def test_not_found_is_4(cli):
    for args in (("volume", "inspect", "ghost"), ("volume", "rm", "ghost"),
                 ("volume", "mount", "ghost", "--id", "c"),
                 ("volume", "unmount", "ghost", "--id", "c")):
        rc, out, err = cli(*args)
        assert rc == EXIT_NOT_FOUND, (args, rc, out, err)
        assert "ghost" in err, err


def test_conflict_is_5(cli):
    ok(cli("volume", "create", "-l", "a=1", "dup"))
    rc, out, err = cli("volume", "create", "-l", "a=2", "dup")
    assert rc == EXIT_CONFLICT, (rc, out, err)


@pytest.mark.parametrize("args", [
    ("volume", "create", "bad/name"), ("volume", "create", ".hidden"),
    ("volume", "create", "a" * 129), ("volume", "create", "-o", "bogus=1", "x"),
    ("volume", "create", "--tenant", "Acme", "--env", "prod", "--app", "a", "--path", "/x"),
    ("volume", "create", "-d", "tmpfs", "-o", "size=lots", "x"),
    ("volume", "ls", "-f", "bogus=1"),
    ("volume", "mount", "x", "--id", "has space"),
])
def test_invalid_input_is_6(cli, client, args):
    client.create("x")
    before = client.names()
    rc, out, err = cli(*args)
    assert rc == EXIT_INVALID, (rc, out, err)
    assert err.strip()
    assert client.names() == before


@pytest.mark.parametrize("args", [
    (), ("frobnicate",), ("volume",), ("volume", "frobnicate"), ("volume", "create", "--bogus"),
    ("volume", "inspect"), ("volume", "rm"), ("volume", "mount", "x"),
    ("volume", "create", "-o", "novalue", "x"), ("--socket",),
    ("volume", "ls", "-f", "nokv"),
])
def test_usage_error_is_2(cli, args):
    rc, out, err = cli(*args)
    assert rc == EXIT_USAGE, (args, rc, out, err)
    assert err.strip(), "a usage error says what is wrong on stderr"


def test_help_is_0(cli):
    rc, out, err = cli("--help")
    assert rc == EXIT_OK and "volume" in out
