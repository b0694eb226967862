"""Moving volumes between nodes, and draining a node (docs/cluster.md,
"Moving a volume"): three real volmand nodes on one real etcd.

A move runs on the node the volume goes to: it marks the record, buries the
new storage, pulls the export stream from the owner over the signed HTTPS
call, syncs, and flips the record in one etcd transaction. The kill tests
stop a node with SIGKILL at each of those steps (failpoints) and check the
volume is whole on exactly one node afterwards."""

import hashlib
import os
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
