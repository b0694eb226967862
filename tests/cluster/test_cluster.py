"""Cluster mode: three real volmand nodes on one real etcd (docs/cluster.md).

Each test gets its own key prefix in etcd and its own nodes, with their own
roots, sockets and HTTPS listeners on loopback."""

import os
import subprocess
import threading
import time
import uuid

import pytest

from clusterkit import Cluster, Node, Client, wait_until, VOLMAN, itest


@pytest.fixture
def cluster(tmp_path, etcd):
    c = Cluster(tmp_path, etcd.endpoint, "c" + uuid.uuid4().hex[:10]).start()
    yield c
    errors = c.stop()
    if errors:
        pytest.fail("node teardown:\n" + "\n".join(errors))


def volume_on(node, name, **fields):
    body = dict(fields, name=name, node=node.name)
    st, v = node.api("POST", "/v1/volumes", body)
    assert st == 201, v
    assert v["node"] == node.name
    return v


def test_every_node_lists_and_inspects_the_whole_cluster(cluster):
    made = {}
    for nd in cluster.nodes:
        v = volume_on(nd, "vol-" + nd.name, labels={"from": nd.name})
        made[v["name"]] = v
        assert v["mountpoint"].startswith(nd.root + "/"), v  # the bytes are on its own disk
        assert os.path.isdir(v["mountpoint"])
    for nd in cluster.nodes:
        st, body = nd.api("GET", "/v1/volumes")
        assert st == 200, body
        seen = {v["name"]: v for v in body["volumes"]}
        assert set(seen) == set(made), (nd.name, seen)
        for name, v in made.items():
            assert seen[name]["node"] == v["node"]
            assert seen[name]["id"] == v["id"]
            assert seen[name]["node_state"] == "up"
            st, one = nd.api("GET", "/v1/volumes/" + name)
            assert st == 200 and one["id"] == v["id"] and one["node"] == v["node"], one
    # the CLI shows the node
    rc, out, err = cluster[0].cli("volume", "ls")
    assert rc == 0, err
    assert "NODE" in out.splitlines()[0]
    for name, v in made.items():
        line = next(l for l in out.splitlines() if l.split()[1] == name)
        assert line.split()[5] == v["node"], line


def test_create_race_on_one_name_has_one_winner_and_no_orphan(cluster):
    for round_ in range(5):
        name = "race-%d" % round_
        results = {}
        barrier = threading.Barrier(len(cluster.nodes))

        def go(nd):
            barrier.wait()
            results[nd.name] = nd.api("POST", "/v1/volumes", {"name": name, "node": nd.name})

        threads = [threading.Thread(target=go, args=(nd,)) for nd in cluster.nodes]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        winners = [n for n, (st, _) in results.items() if st == 201]
        assert len(winners) == 1, results
        for n, (st, body) in results.items():
            if n not in winners:
                assert st == 409, results
        st, v = cluster[0].api("GET", "/v1/volumes/" + name)
        assert st == 200 and v["node"] == winners[0], v
        # the bytes exist on the winner's disk alone
        holders = [nd.name for nd in cluster.nodes if v["mountpoint"] in nd.local_dirs()]
        assert holders == winners
    total_dirs = sum(len(nd.local_dirs()) for nd in cluster.nodes)
    assert total_dirs == 5, [nd.local_dirs() for nd in cluster.nodes]


def total_volumes(node):
    return sum(n["volumes"] for n in node.nodes().values())


def test_placement_by_node_and_by_policy_and_draining(cluster):
    n1, n2, n3 = cluster.nodes
    rc, out, err = n1.cli("volume", "create", "--node", "n2", "pinned")
    assert rc == 0, err
    st, v = n3.api("GET", "/v1/volumes/pinned")
    assert v["node"] == "n2" and v["mountpoint"] in n2.local_dirs(), v
    # the policy: the up node with the fewest volumes
    wait_until("counts", lambda: total_volumes(n1) == 1, timeout=10)
    placed = []
    for i in range(5):
        st, v = n1.api("POST", "/v1/volumes", {"name": "p%d" % i})
        assert st == 201, v
        placed.append(v["node"])
        wait_until("the count of %d volumes" % (i + 2), lambda: total_volumes(n1) == i + 2, timeout=10)
    counts = {n: placed.count(n) + (1 if n == "n2" else 0) for n in ("n1", "n2", "n3")}
    assert counts == {"n1": 2, "n2": 2, "n3": 2}, placed
    # draining: nothing new lands there, by policy or by name
    rc, out, err = n1.cli("node", "drain", "n3")
    assert rc == 0, err
    assert n2.nodes()["n3"]["state"] == "draining"
    for i in range(4):
        st, v = n2.api("POST", "/v1/volumes", {"name": "d%d" % i})
        assert st == 201 and v["node"] != "n3", v
    st, body = n1.api("POST", "/v1/volumes", {"name": "to-n3", "node": "n3"})
    assert st == 409 and "n3 is draining" in body["error"]["message"], body
    st, body = n1.api("POST", "/v1/volumes", {"name": "to-nowhere", "node": "n9"})
    assert st == 404 and "no node n9" in body["error"]["message"], body
    rc, out, err = n1.cli("node", "drain", "--undo", "n3")
    assert rc == 0, err
    st, v = n1.api("POST", "/v1/volumes", {"name": "to-n3", "node": "n3"})
    assert st == 201 and v["node"] == "n3", v


def test_calls_that_touch_bytes_go_to_the_owner(cluster):
    n1, n2, n3 = cluster.nodes
    v = volume_on(n2, "owned")
    with open(os.path.join(v["mountpoint"], "f"), "w") as f:
        f.write("on n2")
    # a snapshot asked of n1 is made by n2
    st, body = n1.api("POST", "/v1/volumes/owned/snapshots", {"name": "s1"})
    assert st in (200, 201), body
    st, one = n3.api("GET", "/v1/volumes/owned")
    assert [s["name"] for s in one.get("snapshots", [])] == ["s1"], one
    # a removal asked of n3 is done by n2: its directory goes from n2's disk
    st, body = n3.api("DELETE", "/v1/volumes/owned")
    assert st == 204, body
    wait_until("n2 destroyed the tree", lambda: v["mountpoint"] not in n2.local_dirs(), timeout=15)
    for nd in cluster.nodes:
        st, _ = nd.api("GET", "/v1/volumes/owned")
        assert st == 404


def test_an_engine_on_the_wrong_node_is_refused_with_the_node_named(cluster):
    n1, n2, _ = cluster.nodes
    v = volume_on(n2, "pinned-here")
    c = Client(n1.daemon.plugin_socket, keepalive=False)
    st, body = c._request("POST", "/VolumeDriver.Mount", {"Name": "pinned-here", "ID": "ctr1"}, None, None)
    assert st == 500 and "lives on node n2" in body["Err"], body
    st, one = n1.api("GET", "/v1/volumes/pinned-here")
    assert one["mounts"] == [], one  # no reference was recorded
    # on its own node the engine mounts it
    c2 = Client(n2.daemon.plugin_socket, keepalive=False)
    st, body = c2._request("POST", "/VolumeDriver.Mount", {"Name": "pinned-here", "ID": "ctr1"}, None, None)
    assert st == 200 and body["Mountpoint"] == v["mountpoint"], body
    st, body = c2._request("POST", "/VolumeDriver.Unmount", {"Name": "pinned-here", "ID": "ctr1"}, None, None)
    assert st == 200, body


def test_a_killed_node_is_down_within_the_ttl_and_its_volumes_unavailable(cluster):
    n1, n2, n3 = cluster.nodes
    v = volume_on(n2, "on-n2")
    with open(os.path.join(v["mountpoint"], "data"), "w") as f:
        f.write("kept")
    n2.kill9()
    t0 = time.monotonic()
    wait_until("n1 sees n2 down", lambda: n1.nodes()["n2"]["state"] == "down", timeout=20)
    took = time.monotonic() - t0
    # a lease of 10 s, renewed every 2 s: down at most 10 s after the kill,
    # seen by the next read of the nodes
    assert took <= 12.5, took
    wait_until("its volume unavailable", lambda: n3.api("GET", "/v1/volumes/on-n2")[1]["status"] == "unavailable",
               timeout=5)
    st, one = n3.api("GET", "/v1/volumes/on-n2")
    assert one["node"] == "n2" and one["node_state"] == "down", one
    st, body = n1.api("DELETE", "/v1/volumes/on-n2")
    assert st == 503 and "node n2 is down" in body["error"]["message"], body
    st, body = n1.api("POST", "/v1/volumes", {"name": "x", "node": "n2"})
    assert st == 503 and "n2 is down" in body["error"]["message"], body
    # nothing recreated elsewhere
    assert not any(v["id"] in d for nd in (n1, n3) for d in nd.local_dirs())
    rc, out, err = n1.cli("node", "ls")
    assert rc == 0, err
    row = next(l for l in out.splitlines() if l.split()[0] == "n2")
    assert row.split()[1] == "down", out
    # back: up again, the data as it was
    n2.start()
    wait_until("n2 up again", lambda: n1.nodes()["n2"]["state"] == "up", timeout=10)
    st, one = n1.api("GET", "/v1/volumes/on-n2")
    assert one["status"] == "ready" or st == 200
    with open(os.path.join(v["mountpoint"], "data")) as f:
        assert f.read() == "kept"
    wait_until("ready again", lambda: n1.api("GET", "/v1/volumes/on-n2")[1]["status"] == "ready", timeout=5)


def test_node_calls_need_the_cluster_secret(cluster):
    n1 = cluster[0]
    st, body = n1.https("GET", "/v1/volumes")
    assert st == 401, body
    ident = {"X-Volman-Identity": "admin who=test"}
    st, body = n1.https("GET", "/v1/volumes", headers=dict(ident, Authorization="Volman-Node n2 %d %s"
                                                            % (int(time.time()), "0" * 64)))
    assert st == 401 and "wrong signature" in body["error"]["message"], body
    st, body = n1.https("GET", "/v1/volumes", headers=dict(ident, Authorization="Volman-Node n2 12 " + "0" * 64))
    assert st == 401 and "clock" in body["error"]["message"], body
    st, body = n1.https("GET", "/v1/volumes", headers={"Authorization": "Volman-Node n2 junk"})
    assert st == 401, body


def test_the_store_backup_points_at_etcds_own_tools(cluster):
    # an etcd store is copied with etcdctl snapshot save, not through a node
    rc, out, err = cluster[0].cli("store", "backup", "-o", "-")
    assert rc != 0 and "backed up with its own tools" in err and out == "", (rc, out, err)
    st, body = cluster[0].api("GET", "/v1/store/backup")
    assert st == 400 and body["error"]["code"] == "not_supported", body


def test_tenants_stay_apart_across_nodes(cluster):
    n1, n2, n3 = cluster.nodes
    rc, tok_a, err = n1.cli("token", "create", "--tenant", "acme")
    assert rc == 0, err
    rc, tok_b, err = n1.cli("token", "create", "--tenant", "other")
    assert rc == 0, err
    a = {"Authorization": "Bearer " + tok_a.strip()}
    b = {"Authorization": "Bearer " + tok_b.strip()}
    scope = {"tenant": "acme", "env": "prod", "app": "web", "path": "/data"}
    # acme, talking to n1, creates a volume placed on n2: passed on as acme
    st, v = n1.https("POST", "/v1/volumes", {"scope": scope, "node": "n2"}, headers=a)
    assert st == 201 and v["node"] == "n2" and v["scope"]["tenant"] == "acme", v
    st, body = n1.https("GET", "/v1/volumes/" + v["name"], headers=b)
    assert st == 404, body
    st, body = n1.https("DELETE", "/v1/volumes/" + v["name"], headers=b)
    assert st == 404, body
    st, body = n1.https("POST", "/v1/volumes/%s/snapshots" % v["name"], {"name": "s"}, headers=b)
    assert st == 404, body
    st, body = n1.https("DELETE", "/v1/volumes/" + v["name"], headers=a)
    assert st == 204, body
    # a token made on one node works on every node; revoked on one, on none
    st, body = n2.https("GET", "/v1/volumes", headers=a)
    assert st == 200, body
    rc, out, err = n3.cli("token", "ls")
    assert rc == 0 and out.count("acme") == 1, (out, err)
    tok_id = tok_a.strip()[4:16]
    rc, out, err = n3.cli("token", "rm", tok_id)
    assert rc == 0, err
    for nd in (n1, n2):
        st, body = nd.https("GET", "/v1/volumes", headers=a)
        assert st == 401 and "unknown or revoked" in body["error"]["message"], body


def test_etcd_stopped_and_started_loses_no_acknowledged_write(cluster, etcd):
    n1, n2, n3 = cluster.nodes
    acked = []
    stop = threading.Event()

    def writer(nd):
        i = 0
        while not stop.is_set():
            name = "w-%s-%d" % (nd.name, i)
            try:
                st, _ = nd.api("POST", "/v1/volumes", {"name": name, "node": nd.name})
            except OSError:
                st = None
            if st == 201:
                acked.append(name)
            i += 1
            time.sleep(0.02)

    threads = [threading.Thread(target=writer, args=(nd,)) for nd in cluster.nodes]
    for t in threads:
        t.start()
    time.sleep(1.0)
    etcd.stop()
    # while etcd is away: writes are refused with the reason, never taken
    st, body = n1.api("POST", "/v1/volumes", {"name": "while-down", "node": "n1"})
    assert st == 503 and "etcd" in body["error"]["message"], body
    time.sleep(12)  # past the lease: the nodes fence themselves
    st, body = n1.api("POST", "/v1/volumes", {"name": "while-down", "node": "n1"})
    assert st == 503, body
    etcd.start()
    wait_until("every node up again, without a restart",
               lambda: all(x["state"] == "up" for x in n2.nodes().values()), timeout=20)
    time.sleep(1.0)
    stop.set()
    for t in threads:
        t.join()
    assert len(acked) > 10, acked
    st, body = n3.api("GET", "/v1/volumes")
    names = {v["name"] for v in body["volumes"]}
    missing = [n for n in acked if n not in names]
    assert not missing, missing
    st, v = n1.api("POST", "/v1/volumes", {"name": "after", "node": "n1"})
    assert st == 201, v
    assert all(nd.daemon.running() for nd in cluster.nodes)


@pytest.mark.parametrize("args,why", [
    (["--node", "n1"], "needs --listen"),
    (["--store", "etcd://127.0.0.1:1/x"], "give this one a name (--node)"),
    (["--store", "mysql://x"], "sqlite, or etcd://"),
    (["--advertise", "https://127.0.0.1:1"], "are for a cluster node"),
])
def test_cluster_flags_are_checked(tmp_path, args, why):
    d = itest.Daemon(tmp_path)
    d.start(args=args, wait=False)
    rc = d.proc.wait(15)
    assert rc != 0 and why in d.log_text(), d.log_text()


def test_a_bad_secret_or_address_stops_the_node(tmp_path, etcd):
    secret = tmp_path / "s"
    secret.write_text("short\n")
    os.chmod(secret, 0o600)
    base = ["--store", "etcd://%s/bad" % etcd.endpoint, "--node", "n1", "--listen", "127.0.0.1:0"]
    cases = [
        (["--advertise", "https://127.0.0.1:9", "--cluster-secret-file", str(secret)], "at least 16 are needed"),
        (["--advertise", "http://127.0.0.1:9", "--cluster-secret-file", str(secret)], "an https://ADDR:PORT URL"),
        (["--advertise", "https://127.0.0.1:9"], "--node needs --cluster-secret-file"),
    ]
    for i, (extra, why) in enumerate(cases):
        d = itest.Daemon(tmp_path / ("d%d" % i))
        d.start(args=base + extra, wait=False)
        rc = d.proc.wait(15)
        assert rc != 0 and why in d.log_text(), d.log_text()
    secret.write_text(os.urandom(20).hex())
    os.chmod(secret, 0o644)
    d = itest.Daemon(tmp_path / "open")
    d.start(args=base + ["--advertise", "https://127.0.0.1:9", "--cluster-secret-file", str(secret)], wait=False)
    assert d.proc.wait(15) != 0 and "chmod 600" in d.log_text(), d.log_text()
