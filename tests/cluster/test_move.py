"""Moving volumes between nodes, and draining a node (docs/cluster.md,
"Moving a volume"): three real volmand nodes on one real etcd.

A move runs on the node the volume goes to: it marks the record, buries the
new storage, pulls the export stream from the owner over the signed HTTPS
call, syncs, and flips the record in one etcd transaction. The kill tests
stop a node with SIGKILL at each of those steps (failpoints) and check the
volume is whole on exactly one node afterwards."""

import hashlib
import os
import socket
import subprocess
import threading
import time
import uuid

import pytest

from clusterkit import Cluster, Client, wait_until, itest


@pytest.fixture
def cluster(tmp_path, etcd):
    c = Cluster(tmp_path, etcd.endpoint, "m" + uuid.uuid4().hex[:10]).start()
    yield c
    errors = c.stop()
    if errors:
        pytest.fail("node teardown:\n" + "\n".join(errors))


def volume_on(node, name, **fields):
    st, v = node.api("POST", "/v1/volumes", dict(fields, name=name, node=node.name))
    assert st == 201, v
    return v


def fill(path, files=40, size=300_000):
    """Writes files of random bytes, a subdirectory, a symlink, a hard link
    and odd modes and owners into path; returns its fingerprint."""
    os.makedirs(os.path.join(path, "sub/deeper"), exist_ok=True)
    for i in range(files):
        with open(os.path.join(path, "sub" if i % 2 else "", "f%03d" % i), "wb") as f:
            f.write(os.urandom(size if i % 5 == 0 else 1000 + i))
    os.symlink("/etc/shadow", os.path.join(path, "sub/hostile-link"))
    os.link(os.path.join(path, "f000"), os.path.join(path, "sub/deeper/hard"))
    os.chmod(os.path.join(path, "f002"), 0o640)
    os.chown(os.path.join(path, "f004"), 1234, 5678)
    return fingerprint(path)


def fingerprint(path):
    """Every entry's relative path, type, mode, owner, link target and content hash."""
    out = []
    for root, dirs, files in os.walk(path):
        dirs.sort()
        for n in sorted(dirs + files):
            p = os.path.join(root, n)
            st = os.lstat(p)
            rel = os.path.relpath(p, path)
            if os.path.islink(p):
                out.append((rel, "l", os.readlink(p)))
            elif os.path.isdir(p):
                out.append((rel, "d", st.st_mode, st.st_uid, st.st_gid))
            else:
                with open(p, "rb") as f:
                    h = hashlib.sha256(f.read()).hexdigest()
                out.append((rel, "f", st.st_mode, st.st_uid, st.st_gid, st.st_nlink, h))
    return out


def holders(cluster, vid=None):
    """{node name: [volume directories]} of every node's disk."""
    return {nd.name: nd.local_dirs() for nd in cluster.nodes}


def whole_on_one(cluster, name, want_print):
    """The volume is ready on exactly one node, with the content it had, and
    no other node's disk keeps a directory for it once reaping is done."""
    st, v = cluster[0].api("GET", "/v1/volumes/" + name)
    assert st == 200, v
    assert v["status"] == "ready" and v["mounts"] == [], v
    owner = cluster.by_name(v["node"])
    assert v["mountpoint"].startswith(owner.root + "/"), v
    assert fingerprint(v["mountpoint"]) == want_print
    for nd in cluster.nodes:
        if nd is not owner and nd.daemon.running():
            nd.api("POST", "/v1/nodes/%s/reap" % nd.name)
    def others_clean():
        return all(not d for nd in cluster.nodes if nd is not owner for d in nd.local_dirs())
    wait_until("no copy left on the other nodes", others_clean, timeout=20)
    return v


def test_a_move_copies_the_content_and_flips_the_owner(cluster):
    n1, n2, n3 = cluster.nodes
    v = volume_on(n1, "pgdata", labels={"app": "db"})
    want = fill(v["mountpoint"])
    rc, out, err = n2.cli("volume", "move", "pgdata", "--to", "n3", "-q")  # asked of a third node
    assert rc == 0, err
    assert "pgdata is on node n3" in out, out
    for nd in cluster.nodes:
        st, one = nd.api("GET", "/v1/volumes/pgdata")
        assert st == 200 and one["node"] == "n3" and one["labels"] == {"app": "db"}, one
    moved = whole_on_one(cluster, "pgdata", want)
    assert moved["id"] != v["id"]  # new storage, new id
    assert not os.path.exists(v["mountpoint"])  # the old copy went from n1's disk
    # the hostile symlink came as a link, not followed
    assert os.readlink(os.path.join(moved["mountpoint"], "sub/hostile-link")) == "/etc/shadow"
    # the engine on n3 mounts it now; on n1 it is refused, naming n3
    c3 = Client(n3.daemon.plugin_socket, keepalive=False)
    st, body = c3._request("POST", "/VolumeDriver.Mount", {"Name": "pgdata", "ID": "c1"}, None, None)
    assert st == 200 and body["Mountpoint"] == moved["mountpoint"], body
    c1 = Client(n1.daemon.plugin_socket, keepalive=False)
    st, body = c1._request("POST", "/VolumeDriver.Mount", {"Name": "pgdata", "ID": "c2"}, None, None)
    assert st == 500 and "lives on node n3" in body["Err"], body
    st, body = c3._request("POST", "/VolumeDriver.Unmount", {"Name": "pgdata", "ID": "c1"}, None, None)
    assert st == 200, body
    # node counts follow
    wait_until("n3 counts it", lambda: n1.nodes()["n3"]["volumes"] == 1, timeout=40)


def start_with(node, env):
    node.daemon.start(env=env, args=node.args(), wait=True)


def restart_plain(node):
    if node.daemon.running():
        node.daemon.kill9()
    node.start()


def mount_on(node, name, ref):
    c = Client(node.daemon.plugin_socket, keepalive=False)
    return c._request("POST", "/VolumeDriver.Mount", {"Name": name, "ID": ref}, None, None)


def unmount_on(node, name, ref):
    c = Client(node.daemon.plugin_socket, keepalive=False)
    return c._request("POST", "/VolumeDriver.Unmount", {"Name": name, "ID": ref}, None, None)


# (failpoint on the destination, where the volume is afterwards)
DEST_STEPS = [
    ("move-after-mark", "n1"),
    ("move-after-bury", "n1"),
    ("move-copying:3", "n1"),
    ("move-before-flip", "n1"),
    ("move-after-flip", "n3"),
]


@pytest.mark.parametrize("failpoint,ends_on", DEST_STEPS, ids=[s[0] for s in DEST_STEPS])
def test_a_destination_killed_at_each_step_leaves_the_volume_whole_on_one_node(cluster, failpoint, ends_on):
    n1, n2, n3 = cluster.nodes
    v = volume_on(n1, "moving")
    want = fill(v["mountpoint"])
    n3.daemon.stop()
    start_with(n3, {"VOLMAN_FAILPOINT": failpoint})
    st, body = n2.api("POST", "/v1/volumes/moving/move", {"to": "n3"})
    assert st >= 500, body  # the node doing the move died under the call
    assert n3.daemon.wait_dead() == -9
    restart_plain(n3)
    wait_until("n3 up", lambda: n1.nodes()["n3"]["state"] == "up", timeout=15)
    moved = whole_on_one(cluster, "moving", want)
    assert moved["node"] == ends_on, moved
    # nothing stuck: the mark is gone, the volume mounts on its node and moves again
    owner = cluster.by_name(moved["node"])
    st, body = mount_on(owner, "moving", "after")
    assert st == 200, body
    assert unmount_on(owner, "moving", "after")[0] == 200
    other = "n2"
    st, body = n1.api("POST", "/v1/volumes/moving/move", {"to": other})
    assert st == 200 and body["node"] == other, body
    whole_on_one(cluster, "moving", want)


def test_a_source_killed_while_it_streams_keeps_the_volume(cluster):
    n1, n2, n3 = cluster.nodes
    v = volume_on(n1, "src-dies")
    want = fill(v["mountpoint"])
    n1.daemon.stop()
    start_with(n1, {"VOLMAN_FAILPOINT": "export-streaming:3"})
    st, body = n2.api("POST", "/v1/volumes/src-dies/move", {"to": "n3"})
    assert st >= 400 and "from node n1" in body["error"]["message"], body
    assert n1.daemon.wait_dead() == -9
    # n3 threw its partial copy away at once
    assert n3.local_dirs() == []
    restart_plain(n1)
    wait_until("n1 up", lambda: n2.nodes()["n1"]["state"] == "up", timeout=15)
    moved = whole_on_one(cluster, "src-dies", want)
    assert moved["node"] == "n1" and moved["id"] == v["id"], moved


def test_a_mark_left_by_a_dead_destination_lapses_with_its_node(cluster):
    n1, n2, n3 = cluster.nodes
    v = volume_on(n1, "orphan-mark")
    want = fill(v["mountpoint"])
    n3.daemon.stop()
    start_with(n3, {"VOLMAN_FAILPOINT": "move-copying:2"})
    n1.api("POST", "/v1/volumes/orphan-mark/move", {"to": "n3"})
    assert n3.daemon.wait_dead() == -9
    # while n3 may still come back, the volume is busy with its move
    st, one = n1.api("GET", "/v1/volumes/orphan-mark")
    assert [m["owner"] for m in one["mounts"]] == ["move"], one
    st, body = mount_on(n1, "orphan-mark", "c1")
    assert st == 500 and "being moved to node n3" in body["Err"], body
    st, body = n1.api("DELETE", "/v1/volumes/orphan-mark")
    assert st == 409, body
    # once n3 is down, the mark is a dead move's: the mount goes through
    wait_until("n3 down", lambda: n1.nodes()["n3"]["state"] == "down", timeout=20)
    # (n1's view of the nodes is at most a heartbeat, 2 s, old)
    wait_until("the mount goes through", lambda: mount_on(n1, "orphan-mark", "c1")[0] == 200, timeout=5)
    st, body = mount_on(n1, "orphan-mark", "c1")
    assert st == 200 and body["Mountpoint"] == v["mountpoint"], body
    st, one = n1.api("GET", "/v1/volumes/orphan-mark")
    assert [m["owner"] for m in one["mounts"]] == ["plugin"], one
    assert unmount_on(n1, "orphan-mark", "c1")[0] == 200
    # n3 back: its buried partial copy is destroyed at start
    restart_plain(n3)
    wait_until("n3's partial copy reaped", lambda: n3.local_dirs() == [], timeout=20)
    whole_on_one(cluster, "orphan-mark", want)


def test_a_client_gone_mid_move_leaves_the_volume_whole_on_one_node(cluster):
    n1, n2, n3 = cluster.nodes
    v = volume_on(n1, "big")
    want = fill(v["mountpoint"], files=30, size=8 << 20)
    # the whole request sent to n2 (which passes it to n3), then the client goes
    # once the move is under way: its mark is on the record
    body = b'{"to": "n3"}'
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.connect(n2.daemon.socket)
    client.sendall(b"POST /v1/volumes/big/move HTTP/1.1\r\nHost: volman\r\nContent-Type: application/json\r\n"
                   b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    def marked_or_moved():
        one = n1.api("GET", "/v1/volumes/big")[1]
        return one["node"] == "n3" or any(m["owner"] == "move" for m in one["mounts"])
    wait_until("the move under way", marked_or_moved, timeout=20)
    client.close()
    def settled():
        st, one = n1.api("GET", "/v1/volumes/big")
        return not any(m["owner"] == "move" for m in one["mounts"])
    wait_until("the move ended, one way or the other", settled, timeout=60)
    whole_on_one(cluster, "big", want)


def test_a_move_is_refused_with_the_reason_and_changes_nothing(cluster, tmp_path):
    n1, n2, n3 = cluster.nodes
    v = volume_on(n1, "stays")
    want = fill(v["mountpoint"], files=6, size=1000)
    def refused(body, status, words, node=n2):
        st, ans = node.api("POST", "/v1/volumes/stays/move", body)
        assert st == status and words in ans["error"]["message"], (st, ans)
    # mounted
    assert mount_on(n1, "stays", "c1")[0] == 200
    refused({"to": "n3"}, 409, "moves only unmounted")
    assert unmount_on(n1, "stays", "c1")[0] == 200
    # with a snapshot
    st, body = n1.api("POST", "/v1/volumes/stays/snapshots", {"name": "s1"})
    assert st in (200, 201), body
    refused({"to": "n3"}, 409, "has 1 snapshot (first: s1)")
    st, body = n1.api("DELETE", "/v1/volumes/stays/snapshots/s1")
    assert st in (200, 204), body
    # to where it is, to nowhere, to a bad name, with bad JSON or fields
    refused({"to": "n1"}, 409, "on node n1 already")
    refused({"to": "n9"}, 404, "no node n9 in this cluster")
    refused({"to": "../n3"}, 400, "node")
    refused({"to": "n3", "force": True}, 400, "force")
    st, ans = n2.api("POST", "/v1/volumes/stays/move", "{not json")
    assert st == 400, ans
    st, ans = n2.api("POST", "/v1/volumes/nope/move", {"to": "n3"})
    assert st == 404, ans
    # to a draining node
    st, _ = n3.api("POST", "/v1/nodes/n3/drain", {"draining": True})
    assert st == 200
    refused({"to": "n3"}, 409, "n3 is draining")
    n3.api("POST", "/v1/nodes/n3/drain", {"draining": False})
    # a tenant may not move volumes
    rc, out, err = n1.cli("token", "create", "--tenant", "acme", "--name", "t", "--json")
    assert rc == 0, err
    import json as _json
    tok = _json.loads(out)["token"]
    st, ans = n2.https("POST", "/v1/volumes/stays/move", {"to": "n3"},
                       headers={"Authorization": "Bearer " + tok})
    assert st in (403, 404), ans
    # nothing changed
    st, one = n3.api("GET", "/v1/volumes/stays")
    assert one["node"] == "n1" and one["id"] == v["id"] and one["mounts"] == [], one
    assert fingerprint(v["mountpoint"]) == want
    assert n2.local_dirs() == [] and n3.local_dirs() == []


def test_a_move_shows_its_progress_where_it_runs(cluster):
    n1, n2, n3 = cluster.nodes
    v = volume_on(n1, "watched")
    fill(v["mountpoint"], files=6, size=1 << 20)
    # the operation id travels with the forwarded call; its record is on n3
    c = Client(n2.daemon.socket, keepalive=False)
    st, body = c._request("POST", "/v1/volumes/watched/move", {"to": "n3"}, None,
                          {"X-Volman-Operation": "op-move-1"})
    assert st == 200, body
    st, op = n2.api("GET", "/v1/operations/op-move-1?node=n3")
    assert st == 200 and op["kind"] == "move" and op["state"] == "done", op
    assert op["bytes"] >= 2 << 20, op
    st, op = n2.api("GET", "/v1/operations/op-move-1")
    assert st == 404, op  # not n2's


def test_drain_moves_every_unmounted_volume_and_names_what_stays(cluster):
    n1, n2, n3 = cluster.nodes
    prints = {}
    for i in range(4):
        v = volume_on(n2, "d%d" % i)
        prints["d%d" % i] = fill(v["mountpoint"], files=6, size=2000)
    assert mount_on(n2, "d3", "busy")[0] == 200
    rc, out, err = n1.cli("node", "drain", "n2", "-q")
    assert rc != 0, out  # d3 stays
    assert "left  d3: mounted" in out and "3 volumes moved, 1 left" in out, out
    assert n1.nodes()["n2"]["state"] == "draining"
    spread = {}
    for i in range(3):
        st, one = n1.api("GET", "/v1/volumes/d%d" % i)
        assert one["node"] in ("n1", "n3"), one
        spread[one["node"]] = spread.get(one["node"], 0) + 1
        whole = cluster.by_name(one["node"])
        assert fingerprint(one["mountpoint"]) == prints["d%d" % i]
    assert set(spread) == {"n1", "n3"}, spread  # placement spread them
    # nothing new lands on n2
    st, body = n1.api("POST", "/v1/volumes", {"name": "new-one"})
    assert st == 201 and body["node"] != "n2", body
    # freed, a second drain finishes the job
    assert unmount_on(n2, "d3", "busy")[0] == 200
    rc, out, err = n1.cli("node", "drain", "n2", "-q")
    assert rc == 0, out + err
    assert "1 volume moved, 0 left" in out, out
    wait_until("n2's disk empty", lambda: (n2.api("POST", "/v1/nodes/n2/reap"), n2.local_dirs() == [])[1],
               timeout=20)


def test_a_volume_on_a_down_node_does_not_move_and_keeps_no_mark(cluster):
    n1, n2, n3 = cluster.nodes
    v = volume_on(n1, "stranded")
    want = fill(v["mountpoint"], files=6, size=1000)
    n1.kill9()
    wait_until("n1 down", lambda: n2.nodes()["n1"]["state"] == "down", timeout=20)
    st, body = n2.api("POST", "/v1/volumes/stranded/move", {"to": "n3"})
    assert st == 503 and "node n1 is down" in body["error"]["message"], body
    st, one = n3.api("GET", "/v1/volumes/stranded")
    assert one["mounts"] == [] and one["node"] == "n1", one  # no mark, nothing recreated
    assert n3.local_dirs() == []
    n1.start()
    wait_until("n1 up", lambda: n2.nodes()["n1"]["state"] == "up", timeout=15)
    whole_on_one(cluster, "stranded", want)
