"""Harness for the console's browser tests: real headless Chromium (Debian's `chromium`)
driven by playwright-core (npm, no browser download) through console.test.mjs, against a
real volmand serving HTTPS on 127.0.0.1 (a random port) and deploying through a real dockerd.

One session-wide stack (tests/apps/appkit.py's Stack, with `--listen 127.0.0.1:0`):
dockerd with its own roots under a temporary directory, volmand on its own root, the global
config layer {"networkMode": "none"} (the test dockerd has no bridge), busybox imported as
localhost/bb:latest. Tokens for two tenants and an admin are made on the unix socket.

Screenshots go to $VOLMAN_ARTIFACTS (default tests/console/artifacts/).

What is missing or does not start (volmand, dockerd, node, playwright-core, chromium) fails
the tests with the reason; nothing here skips.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.append(os.path.join(os.path.dirname(HERE), "apps"))

from appkit import APPLETS, IMAGE, Stack, _fail, uniq, wait_for  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
SCRIPT = os.path.join(HERE, "console.test.mjs")
ARTIFACTS = os.path.abspath(os.environ.get("VOLMAN_ARTIFACTS") or os.path.join(HERE, "artifacts"))


@pytest.fixture(scope="session")
def bb_tarball(tmp_path_factory):
    """A busybox rootfs tarball, built without any registry (as tests/apps does)."""
    busybox = "/bin/busybox"
    if not os.path.isfile(busybox):
        _fail("/bin/busybox is missing (apt-get install -y busybox-static)")
    d = tmp_path_factory.mktemp("bbimage")
    rootfs = d / "rootfs"
    for sub in ("bin", "tmp", "proc", "dev", "sys", "etc", "run", "var/tmp", "home"):
        (rootfs / sub).mkdir(parents=True)
    shutil.copy2(busybox, rootfs / "bin" / "busybox")
    for a in APPLETS:
        os.symlink("busybox", rootfs / "bin" / a)
    tar = d / "bb.tar"
    subprocess.run(["tar", "cf", str(tar), "-C", str(rootfs), "."], check=True)
    return str(tar)


def _check_browser_tools():
    node = shutil.which("node")
    if not node:
        _fail("node is not installed (Node 20 or later)")
    if not os.path.isfile(os.path.join(HERE, "node_modules", "playwright-core", "package.json")):
        _fail("playwright-core is not installed: run scripts/deps.sh --console (npm ci in tests/console)")
    if not os.access(CHROMIUM, os.X_OK):
        _fail("%s is missing (apt-get install -y chromium, or scripts/deps.sh --console)" % CHROMIUM)
    return node


class Console:
    """The running stack, the HTTPS address, the tokens, and the node runner."""

    def __init__(self, stack, node, url, tokens, tenants):
        self.stack = stack
        self.node = node
        self.url = url
        self.tokens = tokens      # {"a": ..., "b": ..., "admin": ...}
        self.tenants = tenants    # {"a": "ta1b2c3", "b": ...}

    def run(self, scenario, **case):
        """Runs one scenario of console.test.mjs in Chromium; fails with its output unless it passed."""
        env = dict(os.environ)
        env.update({
            "VOLMAN_URL": self.url,
            "VOLMAN_TOKEN_A": self.tokens["a"], "VOLMAN_TOKEN_B": self.tokens["b"],
            "VOLMAN_TOKEN_ADMIN": self.tokens["admin"],
            "VOLMAN_TENANT_A": self.tenants["a"], "VOLMAN_TENANT_B": self.tenants["b"],
            "VOLMAN_ARTIFACTS": ARTIFACTS, "VOLMAN_IMAGE": IMAGE,
            "VOLMAN_CASE": json.dumps(case),
        })
        t0 = time.monotonic()
        try:
            r = subprocess.run([self.node, SCRIPT, scenario], cwd=HERE, env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=150)
        except subprocess.TimeoutExpired as e:
            out = (e.stdout or b"").decode(errors="replace")
            pytest.fail("console scenario %s timed out after 150 s; output:\n%s" % (scenario, out), pytrace=False)
        out = r.stdout.decode(errors="replace")
        print("---- node %s (%.1f s, exit %d) ----\n%s" % (scenario, time.monotonic() - t0, r.returncode, out))
        if r.returncode != 0:
            pytest.fail("console scenario %s failed (exit %d):\n%s" % (scenario, r.returncode, out), pytrace=False)
        return out

    # -- set-up through the unix socket (the admin's face) --

    def app_path(self, t, e, a):
        return "/v1/tenants/%s/envs/%s/apps/%s" % (t, e, a)

    def make_app(self, t, e, a, paths, deploy=False):
        """An app with writeable paths; deployed (busybox sleeping) when asked. Returns the volume names."""
        self.stack.put_config({"writeableVolumes": paths}, t, e, a)
        if deploy:
            self.stack.volman("POST", self.app_path(t, e, a) + "/deploy",
                              {"image": IMAGE, "cmd": ["sh", "-c", "exec sleep 3600"]}, expect=200)
        return [v["name"] for v in self.stack.resolved(t, e, a)["volumes"]]


@pytest.fixture(scope="session")
def console(bb_tarball):
    if os.geteuid() != 0:
        _fail("needs root to run dockerd")
    node = _check_browser_tools()
    os.makedirs(ARTIFACTS, exist_ok=True)
    for f in os.listdir(ARTIFACTS):  # this run's screenshots only (test_screenshots_were_saved)
        if f.endswith(".png"):
            os.unlink(os.path.join(ARTIFACTS, f))

    def interrupt(signum, frame):  # a SIGTERM still runs the teardown (dockerd is in its own session)
        raise KeyboardInterrupt("signal %d" % signum)
    old_handler = signal.signal(signal.SIGTERM, interrupt)
    tmp = tempfile.mkdtemp(prefix="volman-console-", dir="/tmp")
    s = Stack("docker", tmp)
    try:
        s.start_volmand(extra_args=("--listen", "127.0.0.1:0"))

        def port():
            with open(s.volmand_log, errors="replace") as f:
                m = re.search(r"serving HTTPS on 127\.0\.0\.1:(\d+)", f.read())
            return m and int(m.group(1))
        try:
            p = wait_for("volmand's HTTPS listener", port, timeout=15)
        except TimeoutError as e:
            _fail("volmand logged no HTTPS listener (%s)" % e)
        s.start_docker(bb_tarball)
        s.put_config({"networkMode": "none"})
        tenants = {"a": uniq("ta"), "b": uniq("tb")}
        tokens = {}
        for k, body in (("a", {"tenant": tenants["a"], "name": "console-a"}),
                        ("b", {"tenant": tenants["b"], "name": "console-b"}),
                        ("admin", {"admin": True, "name": "console-admin"})):
            tokens[k] = s.volman("POST", "/v1/tokens", body, expect=201)[1]["token"]
    except BaseException:
        s.stop()
        signal.signal(signal.SIGTERM, old_handler)
        raise
    yield Console(s, node, "https://127.0.0.1:%d" % p, tokens, tenants)
    errors = s.stop()
    signal.signal(signal.SIGTERM, old_handler)
    if errors:
        pytest.fail("tearing down the stack: %s" % "; ".join(errors))
