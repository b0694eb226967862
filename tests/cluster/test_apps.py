"""Apps across nodes (docs/cluster.md, "Apps"): three real volmand nodes on one
real etcd, n1 and n2 each with a Podman service of its own (its own storage,
its own volume plugin entry pointing at that node's plugin socket), as hosts
with an engine each would be. n3 has no engine.

A deploy runs on the node holding the app's volumes; a first one on the node
asked for (or placement's pick); views and deletes follow the app; `volman app
ls` shows each app's node."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid

import pytest

from clusterkit import Cluster, wait_until

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "apps"))
import appkit  # noqa: E402  (the app suite's engine harness)


@pytest.fixture(scope="module")
def bb_tar(tmp_path_factory):
    busybox = "/bin/busybox"
    if not os.path.isfile(busybox):
        appkit._fail("/bin/busybox is missing (apt-get install -y busybox-static)")
    d = tmp_path_factory.mktemp("bb")
    rootfs = d / "rootfs"
    for sub in ("bin", "tmp", "proc", "dev", "sys", "etc"):
        (rootfs / sub).mkdir(parents=True)
    shutil.copy2(busybox, rootfs / "bin" / "busybox")
    for a in ("sh", "cat", "echo", "sleep", "ls"):
        os.symlink("busybox", rootfs / "bin" / a)
    tar = d / "bb.tar"
    subprocess.run(["tar", "cf", str(tar), "-C", str(rootfs), "."], check=True)
    return str(tar)


@pytest.fixture
def cluster(tmp_path, etcd, bb_tar):
    c = Cluster(tmp_path, etcd.endpoint, "a" + uuid.uuid4().hex[:10])
    engines = {}
    try:
        for nd in c.nodes[:2]:
            # (Podman wants its runroot path under 50 characters)
            st = appkit.Stack("podman", tempfile.mkdtemp(prefix="vmc-%s-" % nd.name, dir="/tmp"))
            st.driver = "volman-" + nd.name
            st.plugin_sock = nd.daemon.plugin_socket
            st.start_podman(bb_tar)
            engines[nd.name] = st
            base = nd.args
            nd.args = (lambda base=base, st=st: base() + ["--engine", "unix://" + st.engine_sock,
                                                         "--engine-driver", st.driver])
        c.start()
        c.engines = engines
        yield c
    finally:
        errors = []
        for st in engines.values():
            errors += st.stop()
        errors += c.stop()
        if errors:
            pytest.fail("teardown:\n" + "\n".join(errors))


APP = "/v1/tenants/acme/envs/prod/apps/web"
SCRIPT = ["sh", "-c", "echo run >> /data/runs; echo __READY__; exec sleep 3600"]


def engine_containers(st):
    return [c for c in st.engine_json("GET", "/containers/json?all=1")
            if c.get("Labels", {}).get("volman.app") == "web"]


def test_a_deploy_lands_on_the_node_of_its_volumes(cluster):
    n1, n2, n3 = cluster.nodes
    e1, e2 = cluster.engines["n1"], cluster.engines["n2"]
    st, body = n3.api("PUT", "/v1/config", {"networkMode": "none"})
    assert st == 200, body
    st, body = n3.api("PUT", APP + "/config", {"writeableVolumes": ["/data"]})
    assert st == 200, body
    # a first deploy asked of n3 (no engine) for n2 runs on n2, through n2's engine
    st, d = n3.api("POST", APP + "/deploy", {"image": appkit.IMAGE, "cmd": SCRIPT, "node": "n2"})
    assert st == 200, d
    assert d["generation"] == 1
    assert [c["Names"][0].lstrip("/") for c in engine_containers(e2)] == [d["container"]["name"]]
    assert engine_containers(e1) == []
    st, vols = n1.api("GET", "/v1/volumes?filter=app%3Dweb")
    assert st == 200 and len(vols["volumes"]) == 1, vols
    v = vols["volumes"][0]
    assert v["node"] == "n2" and v["mountpoint"].startswith(n2.root + "/"), v
    wait_until("the container wrote", lambda: os.path.exists(os.path.join(v["mountpoint"], "runs")), timeout=60)
    # the next deploy, asked of n1 without a node, follows the volumes to n2
    st, d2 = n1.api("POST", APP + "/deploy", {"image": appkit.IMAGE, "cmd": SCRIPT})
    assert st == 200, d2
    assert d2["generation"] == 2
    assert [c["Names"][0].lstrip("/") for c in engine_containers(e2)] == [d2["container"]["name"]]
    assert engine_containers(e1) == []
    wait_until("the second run wrote", lambda: open(os.path.join(v["mountpoint"], "runs")).read() == "run\nrun\n",
               timeout=60)
    # asking for another node is refused with the app's node named
    st, body = n1.api("POST", APP + "/deploy", {"image": appkit.IMAGE, "cmd": SCRIPT, "node": "n1"})
    assert st == 409 and "lives on node n2" in body["error"]["message"], body
    assert engine_containers(e1) == []
    # every node shows the app on n2: the list, the CLI's NODE column, one app's view
    for nd in cluster.nodes:
        st, apps = nd.api("GET", "/v1/apps")
        mine = [a for a in apps["apps"] if a["app"] == "web"]
        assert mine[0]["deployed"]["node"] == "n2", mine
    rc, out, err = n1.cli("app", "ls")
    assert rc == 0, err
    head, row = out.splitlines()[0].split(), next(l for l in out.splitlines() if " web " in l).split()
    assert head[-1] == "NODE" and row[-1] == "n2", out
    st, view = n1.api("GET", APP)
    assert st == 200 and [c["name"] for c in view["containers"]] == [d2["container"]["name"]], view
    # a delete asked of n1 is done by n2: its container and its volume go
    st, body = n1.api("DELETE", APP)
    assert st == 200 and body["removed"] == {"containers": 1, "volumes": 1, "config": True}, body
    assert engine_containers(e2) == []
    st, _ = n3.api("GET", "/v1/volumes/" + v["name"])
    assert st == 404


def test_a_deploy_to_a_node_that_cannot_take_it_is_refused(cluster):
    n1, n2, n3 = cluster.nodes
    n3.api("PUT", "/v1/config", {"networkMode": "none"})
    n3.api("PUT", APP + "/config", {"writeableVolumes": ["/data"]})
    st, body = n1.api("POST", APP + "/deploy", {"image": appkit.IMAGE, "cmd": SCRIPT, "node": "n9"})
    assert st == 404 and "no node n9" in body["error"]["message"], body
    st, body = n1.api("POST", APP + "/deploy", {"image": appkit.IMAGE, "cmd": SCRIPT, "node": "bad/name"})
    assert st == 400, body
    n2.api("POST", "/v1/nodes/n2/drain", {"draining": True})
    st, body = n1.api("POST", APP + "/deploy", {"image": appkit.IMAGE, "cmd": SCRIPT, "node": "n2"})
    assert st == 409 and "n2 is draining" in body["error"]["message"], body
    # n3 has no engine: it says so
    st, body = n1.api("POST", APP + "/deploy", {"image": appkit.IMAGE, "cmd": SCRIPT, "node": "n3"})
    assert st == 400 and "without --engine" in body["error"]["message"], body
    for st_ in cluster.engines.values():
        assert engine_containers(st_) == []
