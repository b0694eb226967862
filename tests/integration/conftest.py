"""Harness for the integration tests: the real volmand on a temporary root and
socket, talked to over raw HTTP on its unix socket and through the real CLI.

VOLMAN_BUILD names the build directory holding `volmand` and `cli/volman`
(default: build-test at the top of the repository). Tests fail, with the
reason, when the binaries are not built or the suite does not run as root:
a harness that cannot start what it tests never skips.
"""

import ctypes
import http.client
import json
import os
import signal
import socket
import subprocess
import time
import urllib.parse

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.abspath(os.environ.get("VOLMAN_BUILD") or os.path.join(REPO, "build-test"))
VOLMAND = os.path.join(BUILD, "volmand")
VOLMAN = os.path.join(BUILD, "cli", "volman")

START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0
# Sanitizer reports in a log are failures even when the exit code hides them
# (e.g. after a SIGKILL).
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")
TRANSITIONAL = ("creating", "deleting")


def _fail(reason):
    pytest.fail("cannot run: " + reason, pytrace=False)


def require_binaries(*paths):
    for p in paths:
        if not (os.path.isfile(p) and os.access(p, os.X_OK)):
            _fail("%s is not built (set VOLMAN_BUILD to the build directory)" % p)


def require_root(why="mount(2) of a tmpfs"):
    if os.geteuid() != 0:
        _fail("needs root for %s (run the suite as root: sudo scripts/test.sh)" % why)


def base_env(extra=None):
    env = dict(os.environ)
    for k in ("VOLMAN_FAILPOINT", "VOLMAN_SOCKET", "VOLMAN_PLUGIN_SOCKET"):
        env.pop(k, None)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0:intercept_tls_get_addr=0")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    if extra:
        env.update(extra)
    return env


def _die_with_parent():
    """In the child before exec: SIGKILL when pytest dies, so that no daemon
    outlives an interrupted run."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


# --- HTTP over a unix socket ---------------------------------------------------

class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=30.0):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        # With a timeout Python's socket is non-blocking underneath, so a full
        # listen backlog gives EAGAIN instead of waiting: wait here instead.
        deadline = time.monotonic() + (self.timeout or 30)
        while True:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(self.timeout)
            try:
                s.connect(self.unix_path)
                break
            except BlockingIOError:
                s.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
            except BaseException:
                s.close()
                raise
        self.sock = s


def decode_body(resp, data):
    if not data:
        return None
    ctype = resp.getheader("Content-Type", "") or ""
    text = data.decode("utf-8", "replace")
    if "json" in ctype or text[:1] in ("{", "["):
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


class Client:
    """One HTTP connection (kept alive) to the daemon. Not thread-safe: give
    each thread its own."""

    def __init__(self, sock_path, timeout=30.0, keepalive=True):
        self.sock_path = sock_path
        self.timeout = timeout
        self.keepalive = keepalive
        self.conn = None

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    # 503 `unavailable` means "the store is busy, retry" and changed nothing
    # (docs/api.md): retried, like an engine would, and counted.
    RETRIES_503 = 50
    unavailable = 0  # 503 answers seen, across all clients

    def request(self, method, path, body=None, raw=None, headers=None):
        """Returns (status, parsed JSON or text or None). `body` is sent as
        JSON; `raw` (bytes or str) as is. Connection errors propagate. A 503
        is retried with a back-off."""
        for attempt in range(self.RETRIES_503):
            st, parsed = self._request(method, path, body, raw, headers)
            if st != 503:
                return st, parsed
            Client.unavailable += 1
            time.sleep(min(0.01 * (attempt + 1), 0.2))
        return st, parsed

    def _request(self, method, path, body, raw, headers):
        hdrs = dict(headers or {})
        data = None
        if raw is not None:
            data = raw.encode() if isinstance(raw, str) else raw
        elif body is not None:
            data = json.dumps(body).encode()
        if data is not None:
            hdrs.setdefault("Content-Type", "application/json")
        if not self.keepalive:
            hdrs["Connection"] = "close"
        if self.conn is None:
            self.conn = UnixHTTPConnection(self.sock_path, self.timeout)
        try:
            self.conn.request(method, path, body=data, headers=hdrs)
            resp = self.conn.getresponse()
            payload = resp.read()
        except Exception:
            self.close()
            raise
        if not self.keepalive or resp.will_close:
            self.close()
        return resp.status, decode_body(resp, payload)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body=body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    # Helpers on the API ------------------------------------------------------

    def create(self, name=None, **fields):
        body = dict(fields)
        if name is not None:
            body["name"] = name
        return self.post("/v1/volumes", body)

    def inspect(self, name):
        return self.get("/v1/volumes/" + q(name))

    def remove(self, name, query=""):
        return self.delete("/v1/volumes/" + q(name) + query)

    def mount(self, name, ref):
        return self.post("/v1/volumes/%s/mount" % q(name), {"id": ref})

    def unmount(self, name, ref):
        return self.post("/v1/volumes/%s/unmount" % q(name), {"id": ref})

    def list(self, filters=(), limit=None, after=None):
        params = [("filter", f) for f in filters]
        if limit is not None:
            params.append(("limit", str(limit)))
        if after is not None:
            params.append(("after", after))
        path = "/v1/volumes"
        if params:
            path += "?" + urllib.parse.urlencode(params)
        return self.get(path)

    def list_all(self, filters=(), limit=None):
        """Every volume, following `next` pages. Asserts each page is 200."""
        out, after = [], None
        for _ in range(100000):
            st, body = self.list(filters, limit=limit, after=after)
            assert st == 200, (st, body)
            out.extend(body["volumes"])
            after = body.get("next")
            if after is None:
                return out
        raise AssertionError("pagination never ended")

    def names(self, filters=()):
        return sorted(v["name"] for v in self.list_all(filters))


def q(name):
    return urllib.parse.quote(name, safe="")


def assert_error(status, body, want_status, code=None):
    """An error answer: the status and the JSON error body of docs/api.md."""
    assert status == want_status, (status, body)
    assert isinstance(body, dict) and isinstance(body.get("error"), dict), body
    assert isinstance(body["error"].get("message"), str) and body["error"]["message"], body
    if code is not None:
        assert body["error"].get("code") == code, body


# --- the daemon ------------------------------------------------------------------

class Daemon:
    """volmand on TMP/root and TMP/volman.sock. Each start logs to its own file."""

    def __init__(self, tmp_path):
        require_binaries(VOLMAND)
        self.tmp = str(tmp_path)
        self.root = os.path.join(self.tmp, "root")
        self.socket = os.path.join(self.tmp, "volman.sock")
        self.plugin_socket = os.path.join(self.tmp, "plugin.sock")
        os.makedirs(self.root, mode=0o700, exist_ok=True)
        self.proc = None
        self.starts = 0
        # what the child runs before exec (the cluster tests add entering a
        # network namespace)
        self.preexec = _die_with_parent
        self.log_path = None
        self.logs = []
        self.env = {}
        self.args = []

    # lifecycle
    def start(self, env=None, args=None, wait=True):
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.env = dict(env or {})
        self.args = list(args or [])
        self.starts += 1
        self.log_path = os.path.join(self.tmp, "volmand.%d.log" % self.starts)
        self.logs.append(self.log_path)
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [VOLMAND, "--root", self.root, "--socket", self.socket,
                 # never the default /run/docker/plugins/volman.sock
                 "--plugin-socket", self.plugin_socket] + self.args,
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                env=base_env(self.env), cwd=self.tmp, preexec_fn=self.preexec)
        if wait:
            self.wait_healthy()
        return self

    def wait_healthy(self, timeout=START_TIMEOUT):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail("volmand exited with %s while starting:\n%s"
                            % (self.proc.returncode, self.log_tail()))
            try:
                st, body = Client(self.socket, timeout=2, keepalive=False).get("/v1/health")
                if st == 200:
                    return
                last = (st, body)
            except OSError as e:
                last = e
            time.sleep(0.05)
        pytest.fail("volmand not healthy after %.0fs (last: %r):\n%s"
                    % (timeout, last, self.log_tail()))

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, check=True):
        """SIGTERM; a clean shutdown exits 0 within STOP_TIMEOUT."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                if check:
                    pytest.fail("volmand did not exit within %.0fs of SIGTERM:\n%s"
                                % (STOP_TIMEOUT, self.log_tail()))
                return self.proc.returncode
        rc = self.proc.returncode
        if check:
            assert rc == 0, ("volmand exited %s after SIGTERM (with ASan, 23 is a leak):\n%s"
                             % (rc, self.log_tail(60)))
            self.check_sanitizers()
        return rc

    def kill9(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def wait_dead(self, timeout=10.0):
        """Waits for a failpoint to kill the daemon; returns its exit status."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pytest.fail("volmand still alive %.0fs after its failpoint should have fired:\n%s"
                        % (timeout, self.log_tail()))

    def restart(self, env=None, args=None):
        if self.running():
            self.stop()
        return self.start(env=env, args=args)

    # diagnostics
    def log_text(self, path=None):
        try:
            with open(path or self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except (OSError, TypeError):
            return ""

    def log_tail(self, n=40):
        return "\n".join(self.log_text().splitlines()[-n:])

    def check_sanitizers(self):
        for p in self.logs:
            text = self.log_text(p)
            for m in SANITIZER_MARKERS:
                assert m not in text, "sanitizer report in %s:\n%s" % (p, text[-6000:])

    # clients
    def client(self, **kw):
        return Client(self.socket, **kw)

    def api(self, method, path, body=None, **kw):
        return Client(self.socket, keepalive=False).request(method, path, body=body, **kw)

    def cli(self, *args, env=None, socket_arg=True, timeout=60, stdin=None):
        """Runs the CLI; returns (rc, stdout, stderr)."""
        require_binaries(VOLMAN)
        argv = [VOLMAN] + (["--socket", self.socket] if socket_arg else []) + list(args)
        p = subprocess.run(argv, env=base_env(env), capture_output=True, timeout=timeout,
                           stdin=subprocess.DEVNULL if stdin is None else stdin, cwd=self.tmp)
        return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")

    # the data root
    def driver_dirs(self):
        """{path: driver} for every volume's entry directly under ROOT/local and
        ROOT/tmpfs (not their snapshots folder, which holds snapshots by their
        own ids: the snapshot tests check it)."""
        out = {}
        for drv in ("local", "tmpfs"):
            d = os.path.join(self.root, drv)
            if os.path.isdir(d):
                for e in os.listdir(d):
                    if e != "snapshots":
                        out[os.path.join(d, e)] = drv
        return out

    def root_tree(self):
        """Every path under the root except the store's own files."""
        out = set()
        for dirpath, dirnames, filenames in os.walk(self.root):
            for n in dirnames + filenames:
                p = os.path.join(dirpath, n)
                if os.path.dirname(p) == self.root and n.startswith("volman.db"):
                    continue
                out.add(p)
        return out

    def cleanup_mounts(self):
        """Unmounts whatever is still mounted below the temporary directory
        (tmpfs volumes outlive the daemon by design)."""
        for mp in sorted(mounts_below(self.tmp), key=len, reverse=True):
            subprocess.run(["umount", "-l", mp], capture_output=True)


def mounts_below(prefix):
    out = []
    prefix = os.path.realpath(prefix)
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                mp = line.split()[4].encode().decode("unicode_escape")
                if mp == prefix or mp.startswith(prefix + "/"):
                    out.append(mp)
    except OSError:
        pass
    return out


def owner_of(path, mountpoints):
    for mp in mountpoints:
        if mp == path or mp.startswith(path + "/"):
            return mp
    return None


def wait_until(what, fn, timeout=30.0, interval=0.02):
    """Polls fn until it returns something true and returns that; fails the
    test, naming what, if it never does within timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    pytest.fail("%s: still not after %.0f s (last: %r)" % (what, timeout, last))


def wait_removals_done(client, timeout=30.0):
    """Waits until volmand has destroyed the data of every removed volume
    (removals answer once recorded; the tree goes in the background)."""
    def done():
        st, body = client.get("/v1/health")
        assert st in (200, 503), (st, body)
        return body["removals_pending"] == 0
    wait_until("removed volumes' data destroyed", done, timeout)


def wait_gone(path, timeout=30.0):
    """Waits until path no longer exists (a removed volume's directory)."""
    wait_until("%s removed" % path, lambda: not os.path.lexists(path), timeout)


def check_invariants(daemon, client=None):
    """The state every restart must leave: no transitional status, every
    directory under ROOT/local and ROOT/tmpfs belongs to a listed volume (once
    the background removals are done), and every listed volume's mountpoint
    exists. Returns the listed volumes."""
    c = client or daemon.client()
    wait_removals_done(c)
    vols = c.list_all()
    stuck = [(v["name"], v["status"]) for v in vols if v["status"] != "ready"]
    assert not stuck, "volumes left in a transitional status: %r" % stuck
    mps = {}
    for v in vols:
        mp = os.path.realpath(v["mountpoint"])
        assert mp.startswith(os.path.realpath(daemon.root) + "/"), v
        mps[mp] = v
    orphans = [p for p in daemon.driver_dirs() if owner_of(os.path.realpath(p), mps) is None]
    assert not orphans, "storage with no listed volume: %r" % orphans
    missing = [v["name"] for mp, v in mps.items() if not os.path.isdir(mp)]
    assert not missing, "listed volumes without a mountpoint directory: %r" % missing
    names = [v["name"] for v in vols]
    assert len(names) == len(set(names)), "a name listed twice"
    return vols


# --- fixtures ----------------------------------------------------------------------

@pytest.fixture
def make_daemon(tmp_path):
    """A factory: make_daemon(env=..., args=..., start=True) -> Daemon. Every
    daemon is stopped at teardown and must exit 0 on SIGTERM."""
    made = []

    def factory(env=None, args=None, start=True, subdir=None):
        d = Daemon(tmp_path / subdir if subdir else tmp_path)
        made.append(d)
        if start:
            d.start(env=env, args=args)
        return d

    yield factory
    errors = []
    for d in made:
        try:
            if d.running():
                d.stop(check=True)
            else:
                d.check_sanitizers()
        except BaseException as e:  # report every daemon, then fail
            errors.append(str(e))
        finally:
            d.kill9()
            d.cleanup_mounts()
    if errors:
        pytest.fail("daemon teardown:\n" + "\n".join(errors))


@pytest.fixture
def daemon(make_daemon):
    return make_daemon()


@pytest.fixture
def client(daemon):
    c = daemon.client()
    yield c
    c.close()


@pytest.fixture
def cli_bin():
    require_binaries(VOLMAN)
    return VOLMAN
