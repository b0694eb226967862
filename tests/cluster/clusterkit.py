"""Several real volmand nodes on one real etcd: each with its own root, unix
socket, plugin socket and HTTPS listener on loopback, sharing a cluster
secret and a key prefix of their own in etcd.

The daemon harness is the integration suite's (tests/integration/conftest.py),
loaded under another module name so that this folder keeps its own conftest.
"""

import importlib.util
import os
import socket
import ssl
import http.client
import json
import time

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location(
    "volman_itest", os.path.join(os.path.dirname(HERE), "integration", "conftest.py"))
itest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(itest)

Daemon = itest.Daemon
Client = itest.Client
wait_until = itest.wait_until
VOLMAN = itest.VOLMAN


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Node:
    """One volmand of the cluster."""

    def __init__(self, tmp, name, store, secret):
        self.name = name
        self.port = free_port()
        self.address = "https://127.0.0.1:%d" % self.port
        self.daemon = Daemon(os.path.join(tmp, name))
        self.store = store
        self.secret = secret

    def args(self):
        return ["--store", "etcd://" + self.store, "--node", self.name, "--advertise", self.address,
                "--listen", "127.0.0.1:%d" % self.port, "--cluster-secret-file", self.secret]

    def start(self, wait=True):
        self.daemon.start(args=self.args(), wait=wait)
        return self

    def kill9(self):
        self.daemon.kill9()

    def restart(self):
        if self.daemon.running():
            self.daemon.stop()
        return self.start()

    @property
    def root(self):
        return self.daemon.root

    def api(self, method, path, body=None):
        """One request on the unix socket, without the 503 retries of
        Client.request: a 503 here is an answer the test looks at."""
        return Client(self.daemon.socket, keepalive=False)._request(method, path, body, None, None)

    def cli(self, *args, **kw):
        return self.daemon.cli(*args, **kw)

    def https(self, method, path, body=None, headers=None):
        """A request on the node's HTTPS listener (its certificate is self-signed)."""
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=ctx, timeout=30)
        hdrs = dict(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        try:
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            return resp.status, itest.decode_body(resp, resp.read())
        finally:
            conn.close()

    def local_dirs(self):
        """Volume directories on this node's disk (local driver)."""
        return sorted(p for p, drv in self.daemon.driver_dirs().items() if drv == "local")

    def nodes(self):
        st, body = self.api("GET", "/v1/nodes")
        assert st == 200, body
        return {n["name"]: n for n in body["nodes"]}


class Cluster:
    def __init__(self, tmp, etcd_endpoint, prefix, n=3):
        self.tmp = str(tmp)
        self.secret = os.path.join(self.tmp, "cluster.secret")
        with open(self.secret, "w") as f:
            f.write(os.urandom(24).hex() + "\n")
        os.chmod(self.secret, 0o600)
        self.store = "%s/%s" % (etcd_endpoint, prefix)
        self.nodes = [Node(self.tmp, "n%d" % (i + 1), self.store, self.secret) for i in range(n)]

    def start(self):
        for nd in self.nodes:
            nd.start()
        wait_until("every node up on every node",
                   lambda: all(all(x["state"] == "up" for x in nd.nodes().values())
                               and len(nd.nodes()) == len(self.nodes) for nd in self.nodes),
                   timeout=15)
        return self

    def __getitem__(self, i):
        return self.nodes[i]

    def by_name(self, name):
        return next(nd for nd in self.nodes if nd.name == name)

    def stop(self):
        errors = []
        for nd in self.nodes:
            try:
                if nd.daemon.running():
                    nd.daemon.stop(check=True)
                else:
                    nd.daemon.check_sanitizers()
            except BaseException as e:
                errors.append("%s: %s" % (nd.name, e))
            finally:
                nd.daemon.kill9()
                nd.daemon.cleanup_mounts()
        return errors
