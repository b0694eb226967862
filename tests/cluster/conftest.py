"""Harness for the cluster tests: a real etcd (3.4, /usr/bin/etcd) on free
loopback ports, with its own data directory under the test's tmp_path.

The `etcd` fixture starts one per test, waits until it answers /health
(bounded; the test fails with etcd's log if it does not), and yields an Etcd:
`endpoint` ("127.0.0.1:PORT"), `location(prefix)` (what the etcd store
opens), and `stop()` / `start()` (a restart on the same data directory and
ports). Teardown kills it by PID. An etcd that cannot be started fails the
test; it never skips.

VOLMAN_BUILD names the build directory holding the binaries (default: build/
at the top of the repository), as in tests/integration/conftest.py.
"""

import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
BUILD = os.path.abspath(os.environ.get("VOLMAN_BUILD") or os.path.join(REPO, "build"))
STORE_CONTRACT = os.path.join(BUILD, "tests", "store", "store-contract")

# The integration harness's helpers (binaries, environment, sanitizers,
# children that die with pytest), loaded under another module name so that
# this folder keeps its own conftest.
_spec = importlib.util.spec_from_file_location(
    "volman_itest_harness", os.path.join(REPO, "tests", "integration", "conftest.py"))
_itest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_itest)
_fail = _itest._fail
_die_with_parent = _itest._die_with_parent
base_env = _itest.base_env

ETCD_START_TIMEOUT = 20.0
ETCD_STOP_TIMEOUT = 10.0


def require_binary(path):
    _itest.require_binaries(path)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sanitizer_free(text):
    """Sanitizer reports are failures even when the exit status hides them."""
    for marker in _itest.SANITIZER_MARKERS:
        assert marker not in text, "sanitizer report:\n" + text[-4000:]


class Etcd:
    """One etcd member: a single-node cluster of its own."""

    def __init__(self, tmp_path):
        self.binary = shutil.which("etcd") or "/usr/bin/etcd"
        if not os.access(self.binary, os.X_OK):
            _fail("etcd is not installed (apt-get install etcd-server)")
        self.dir = os.path.join(str(tmp_path), "etcd")
        os.makedirs(self.dir, exist_ok=True)
        self.data_dir = os.path.join(self.dir, "data")
        self.log_path = os.path.join(self.dir, "etcd.log")
        self.client_port = free_port()
        self.peer_port = free_port()
        self.endpoint = "127.0.0.1:%d" % self.client_port
        self.proc = None

    def location(self, prefix):
        """What the etcd store opens: HOST:PORT/PREFIX."""
        return "%s/%s" % (self.endpoint, prefix)

    def args(self):
        client = "http://127.0.0.1:%d" % self.client_port
        peer = "http://127.0.0.1:%d" % self.peer_port
        return [self.binary, "--name", "default", "--data-dir", self.data_dir,
                "--listen-client-urls", client, "--advertise-client-urls", client,
                "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                "--initial-cluster", "default=" + peer, "--logger=zap", "--log-outputs=stderr"]

    def log_tail(self, n=4000):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-n:]
        except OSError:
            return "(no log)"

    def healthy(self):
        try:
            with urllib.request.urlopen("http://%s/health" % self.endpoint, timeout=1) as r:
                return json.loads(r.read()).get("health") == "true"
        except (OSError, ValueError):
            return False

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self):
        assert not self.running(), "etcd is already running"
        log = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(self.args(), stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         preexec_fn=_die_with_parent)
        except OSError as e:
            _fail("starting etcd: %s" % e)
        finally:
            log.close()
        deadline = time.monotonic() + ETCD_START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail("etcd exited with %d at start:\n%s" % (self.proc.returncode, self.log_tail()),
                            pytrace=False)
            if self.healthy():
                return self
            time.sleep(0.05)
        self.kill()
        pytest.fail("etcd was not healthy within %.0f s:\n%s" % (ETCD_START_TIMEOUT, self.log_tail()),
                    pytrace=False)

    def stop(self):
        """SIGTERM, then SIGKILL if it lingers; waits until it is gone."""
        if not self.running():
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(ETCD_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def kill(self):
        if self.running():
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


@pytest.fixture
def etcd(tmp_path):
    e = Etcd(tmp_path)
    e.start()
    try:
        yield e
    finally:
        e.kill()


def run_store_contract(*args, timeout=300, env=None):
    """Runs store-contract ARGS...; returns the CompletedProcess (text), with no
    sanitizer report in its output."""
    require_binary(STORE_CONTRACT)
    cp = subprocess.run([STORE_CONTRACT] + [str(a) for a in args], stdin=subprocess.DEVNULL,
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout,
                        env=base_env(env))
    sanitizer_free(cp.stdout + cp.stderr)
    return cp
