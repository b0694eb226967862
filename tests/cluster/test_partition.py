"""A network partition (docs/cluster.md, "When etcd is away"): node n3 runs in
a network namespace of its own, joined to the host by a veth pair; etcd and
n1, n2 listen on the host's end. Taking the host's end down cuts n3 off from
etcd and from the other nodes, while they keep etcd. n3 must stop changing
state once its lease has expired (503 with the reason), the others must see
it down within the lease and keep working, and when the link comes back n3
resumes without a restart."""

import ctypes
import os
import random
import shutil
import subprocess
import time
import uuid

import pytest

import conftest
from clusterkit import Cluster, Client, wait_until, free_port, itest

CLONE_NEWNET = 0x40000000


def ip(*args, ns=None):
    argv = (["ip", "netns", "exec", ns] if ns else []) + ["ip"] + list(args)
    p = subprocess.run(argv, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(argv), p.stderr.strip()))


@pytest.fixture
def net():
    """A namespace and a veth pair: host end HOST (10.231.K.1), namespace end
    10.231.K.2. Without the ip tool the test fails (a package: iproute2); a
    kernel that cannot make a network namespace or a veth pair skips it, saying
    so."""
    if not shutil.which("ip"):
        pytest.fail("the ip tool is missing (apt-get install iproute2; scripts/deps.sh does)", pytrace=False)
    k = random.randint(1, 250)
    tag = uuid.uuid4().hex[:6]
    n = {"ns": "vmp-" + tag, "host_if": "vmh" + tag, "ns_if": "vmn" + tag,
         "host": "10.231.%d.1" % k, "peer": "10.231.%d.2" % k}
    try:
        ip("netns", "add", n["ns"])
        ip("link", "add", n["host_if"], "type", "veth", "peer", "name", n["ns_if"])
        ip("link", "set", n["ns_if"], "netns", n["ns"])
        ip("addr", "add", n["host"] + "/30", "dev", n["host_if"])
        ip("link", "set", n["host_if"], "up")
        ip("addr", "add", n["peer"] + "/30", "dev", n["ns_if"], ns=n["ns"])
        ip("link", "set", n["ns_if"], "up", ns=n["ns"])
        ip("link", "set", "lo", "up", ns=n["ns"])
    except (RuntimeError, OSError) as e:
        subprocess.run(["ip", "link", "del", n["host_if"]], capture_output=True)
        subprocess.run(["ip", "netns", "del", n["ns"]], capture_output=True)
        pytest.skip("this kernel cannot make a network namespace with a veth pair: %s" % e)
    yield n
    subprocess.run(["ip", "link", "del", n["host_if"]], capture_output=True)
    subprocess.run(["ip", "netns", "del", n["ns"]], capture_output=True)


class WideEtcd(conftest.Etcd):
    """etcd listening on loopback and on the host's end of the veth."""

    def __init__(self, tmp_path, extra_host):
        super().__init__(tmp_path)
        self.extra_host = extra_host

    def args(self):
        a = super().args()
        i = a.index("--listen-client-urls") + 1
        a[i] = "%s,http://%s:%d" % (a[i], self.extra_host, self.client_port)
        return a


def enter_netns(path):
    def preexec():
        itest._die_with_parent()
        fd = os.open(path, os.O_RDONLY)
        if ctypes.CDLL(None, use_errno=True).setns(fd, CLONE_NEWNET) != 0:
            os._exit(121)
    return preexec


@pytest.fixture
def split_cluster(tmp_path, net):
    etcd = WideEtcd(tmp_path, net["host"]).start()
    prefix = "p" + uuid.uuid4().hex[:10]
    c = Cluster(tmp_path, etcd.endpoint, prefix)
    for nd in c.nodes:
        host = net["peer"] if nd.name == "n3" else net["host"]
        store = "%s:%d/%s" % (net["host"], etcd.client_port, prefix) if nd.name == "n3" else nd.store
        nd.address = "https://%s:%d" % (host, nd.port)
        nd.args = (lambda nd=nd, host=host, store=store:
                   ["--store", "etcd://" + store, "--node", nd.name, "--advertise", nd.address,
                    "--listen", "%s:%d" % (host, nd.port), "--cluster-secret-file", nd.secret])
    c.nodes[2].daemon.preexec = enter_netns("/run/netns/" + net["ns"])
    try:
        c.start()
        c.net = net
        yield c
    finally:
        errors = c.stop()
        etcd.kill()
        if errors:
            pytest.fail("node teardown:\n" + "\n".join(errors))


def test_a_partitioned_node_fences_itself_and_resumes_when_healed(split_cluster):
    n1, n2, n3 = split_cluster.nodes
    net = split_cluster.net
    # n3, in its namespace, is a full member: a create asked of n1 runs on n3
    st, v = n1.api("POST", "/v1/volumes", {"name": "over-there", "node": "n3"})
    assert st == 201 and v["node"] == "n3", v
    with open(os.path.join(v["mountpoint"], "data"), "w") as f:
        f.write("kept")
    pid = n3.daemon.proc.pid

    ip("link", "set", net["host_if"], "down")  # the partition
    t0 = time.monotonic()
    wait_until("n1 sees n3 down", lambda: n1.nodes()["n3"]["state"] == "down", timeout=20)
    assert time.monotonic() - t0 <= 12.5
    # the majority side goes on: creates land on n1 or n2, n3's volume is unavailable
    st, body = n2.api("POST", "/v1/volumes", {"name": "while-split"})
    assert st == 201 and body["node"] in ("n1", "n2"), body
    # (a node's view of the others is at most a heartbeat, 2 s, old)
    wait_until("its volume unavailable",
               lambda: n1.api("GET", "/v1/volumes/over-there")[1]["status"] == "unavailable", timeout=5)
    st, one = n1.api("GET", "/v1/volumes/over-there")
    assert one["node_state"] == "down", one
    st, body = n1.api("POST", "/v1/volumes", {"name": "nope", "node": "n3"})
    assert st == 503 and "n3 is down" in body["error"]["message"], body
    # n3, past its lease, changes nothing and says why
    wait_until("n3's lease lapsed", lambda: time.monotonic() - t0 > 11, timeout=15)
    st, body = n3.api("POST", "/v1/volumes", {"name": "from-n3", "node": "n3"})
    assert st == 503, body
    c3 = Client(n3.daemon.plugin_socket, keepalive=False)
    st, body = c3._request("POST", "/VolumeDriver.Mount", {"Name": "over-there", "ID": "c1"}, None, None)
    assert st == 500 and ("metadata store" in body["Err"] or "etcd" in body["Err"]), body
    st, body = n3.api("GET", "/v1/volumes/over-there")
    assert st == 503, body  # a read that cannot be current is refused, not served stale
    assert n3.daemon.running()

    ip("link", "set", net["host_if"], "up")  # healed
    wait_until("n3 up again for n1", lambda: n1.nodes()["n3"]["state"] == "up", timeout=20)
    wait_until("n3 writes again", lambda: n3.api("POST", "/v1/volumes", {"name": "from-n3", "node": "n3"})[0]
               == 201, timeout=10)
    st, body = c3._request("POST", "/VolumeDriver.Mount", {"Name": "over-there", "ID": "c1"}, None, None)
    assert st == 200 and body["Mountpoint"] == v["mountpoint"], body
    assert c3._request("POST", "/VolumeDriver.Unmount", {"Name": "over-there", "ID": "c1"}, None, None)[0] == 200
    assert n3.daemon.proc.pid == pid  # no restart
    with open(os.path.join(v["mountpoint"], "data")) as f:
        assert f.read() == "kept"
    # nothing written on either side was lost
    def all_ready():
        return all(n1.api("GET", "/v1/volumes/" + name)[1].get("status") == "ready"
                   for name in ("over-there", "while-split", "from-n3"))
    wait_until("every volume ready as seen from n1", all_ready, timeout=5)
    st, body = n1.api("GET", "/v1/volumes/nope")
    assert st == 404
