"""Harness for the engine tests: real dockerd and real Podman talk to a real
volmand over its volume plugin socket (docs/engines.md).

One session starts, under one temporary directory T:
  - volmand --root T/root --socket T/volman.sock --plugin-socket T/plugin.sock
    (VOLMAN_BUILD names the build directory holding volmand and cli/volman);
  - dockerd with its own data-root, exec-root, pidfile and socket under T/docker,
    finding volman through /etc/docker/plugins/volman-test-<random>.spec (the
    driver name is unique per run; /run/docker/plugins is never touched);
  - Podman with its own containers.conf (ulimits, cgroupfs, runc, file locks,
    the plugin under the same driver name) and --root/--runroot/--tmpdir under
    T/podman for every call;
  - a busybox image built from /bin/busybox, imported into both engines.

The `engine` fixture is parametrized over ["docker", "podman"]. Whatever
cannot be started fails the tests with the reason. Teardown stops every daemon
by PID, removes the spec file and unmounts what the daemons left under T.
"""

import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.abspath(os.environ.get("VOLMAN_BUILD") or os.path.join(REPO, "build-test"))
VOLMAND = os.path.join(BUILD, "volmand")
VOLMAN = os.path.join(BUILD, "cli", "volman")
SPEC_DIR = "/etc/docker/plugins"
BUSYBOX = "/bin/busybox"
BUSYBOX_APPLETS = ("sh", "cat", "echo", "ls", "mkdir", "touch", "mount", "sleep", "id", "dd",
                   "rm", "stat", "wc", "head", "tail", "true")
CMD_TIMEOUT = 120


def _fail(reason):
    """A fixture that cannot start what it tests fails the tests; it never skips."""
    pytest.fail("cannot run the suite: " + reason, pytrace=False)


def run_cmd(argv, env=None, timeout=CMD_TIMEOUT, check=False):
    """Runs argv; returns the CompletedProcess (text). `check` asserts rc 0."""
    cp = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                        text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if check:
        assert cp.returncode == 0, "%s failed (%d):\nstdout: %s\nstderr: %s" % (
            " ".join(argv), cp.returncode, cp.stdout[-2000:], cp.stderr[-2000:])
    return cp


def unique(prefix):
    return "%s-%s" % (prefix, secrets.token_hex(4))


# --- HTTP over a unix socket ---------------------------------------------------

class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=30.0):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


class Client:
    """One keep-alive connection to a unix socket. Not thread-safe."""

    def __init__(self, path, timeout=30.0):
        self.path = path
        self.timeout = timeout
        self.conn = None

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def request(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        hdrs = {"Content-Type": "application/json"} if data is not None else {}
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = UnixHTTPConnection(self.path, self.timeout)
            try:
                self.conn.request(method, path, body=data, headers=hdrs)
                resp = self.conn.getresponse()
                payload = resp.read()
                break
            except (ConnectionError, http.client.RemoteDisconnected, BrokenPipeError):
                # A kept-alive connection to a restarted daemon: reconnect once.
                self.close()
                if attempt:
                    raise
        if resp.will_close:
            self.close()
        text = payload.decode("utf-8", "replace")
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = text
        return resp.status, parsed

    def get_volume(self, name):
        return self.request("GET", "/v1/volumes/" + urllib.parse.quote(name, safe=""))

    def create_volume(self, name, **fields):
        body = dict(fields)
        body["name"] = name
        return self.request("POST", "/v1/volumes", body)

    def delete_volume(self, name):
        return self.request("DELETE", "/v1/volumes/" + urllib.parse.quote(name, safe=""))


def wait_for(pred, timeout, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(interval)
    return pred()


def _answers(path, method, url, ok=(200,)):
    c = Client(path, timeout=2.0)
    try:
        st, _ = c.request(method, url)
        return st in ok
    except OSError:
        return False
    finally:
        c.close()


# --- mounts and processes left behind ----------------------------------------------

def mounts_under(top):
    """Mount points at or below `top`, deepest first (from /proc/self/mountinfo)."""
    top = os.path.realpath(top)
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4].encode().decode("unicode_escape")
            if mp == top or mp.startswith(top + "/"):
                out.append(mp)
    return sorted(set(out), key=lambda p: (-p.count("/"), p))


def unmount_under(top):
    for _ in range(3):
        left = mounts_under(top)
        if not left:
            return []
        for mp in left:
            if subprocess.run(["umount", "-R", mp], stderr=subprocess.DEVNULL).returncode:
                subprocess.run(["umount", "-l", mp], stderr=subprocess.DEVNULL)
    return mounts_under(top)


def pids_mentioning(path):
    """PIDs whose command line names `path` (our own temporary directory, so
    only processes this session started: a containerd or conmon orphaned by
    a daemon that died)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == os.getpid():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                cmd = f.read().decode("utf-8", "replace")
        except OSError:
            continue
        if path in cmd:
            out.append(int(d))
    return out


def stop_pid(proc_or_pid, timeout=20.0):
    """SIGTERM, wait, then SIGKILL. Accepts a Popen or a PID."""
    if isinstance(proc_or_pid, subprocess.Popen):
        p = proc_or_pid
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(10)
        return
    pid = proc_or_pid
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    if not wait_for(lambda: not os.path.exists("/proc/%d" % pid) or _zombie(pid), timeout, 0.1):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _zombie(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


# --- the image -----------------------------------------------------------------------

@pytest.fixture(scope="session")
def session_dir():
    if os.geteuid() != 0:
        _fail("the engine tests need root (dockerd, rootful Podman, mounts)")
    d = tempfile.mkdtemp(prefix="volman-eng-")
    yield d
    left = unmount_under(d)
    if left:
        print("WARNING: mounts left under %s: %s" % (d, left))
    else:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def busybox_tar(session_dir):
    """A one-layer busybox rootfs tarball, as shared/RECIPES.md builds it."""
    if not os.path.isfile(BUSYBOX):
        _fail("%s is missing (apt-get install -y busybox-static)" % BUSYBOX)
    rootfs = os.path.join(session_dir, "rootfs")
    for sub in ("bin", "tmp", "proc", "dev", "sys", "etc"):
        os.makedirs(os.path.join(rootfs, sub), exist_ok=True)
    shutil.copy(BUSYBOX, os.path.join(rootfs, "bin", "busybox"))
    for a in BUSYBOX_APPLETS:
        os.symlink("busybox", os.path.join(rootfs, "bin", a))
    tar = os.path.join(session_dir, "bb.tar")
    run_cmd(["tar", "cf", tar, "-C", rootfs, "."], check=True)
    return tar


@pytest.fixture(scope="session")
def driver_name():
    """The plugin's name in both engines, unique per run."""
    return "volman-test-" + secrets.token_hex(4)


# --- volmand ---------------------------------------------------------------------------

class Volmand:
    """volmand on T/root with T/volman.sock and T/plugin.sock; restartable."""

    def __init__(self, top, btrfs_root=None):
        self.top = top
        self.btrfs_root = btrfs_root
        self.root = os.path.join(top, "root")
        self.socket = os.path.join(top, "volman.sock")
        self.plugin_socket = os.path.join(top, "plugin.sock")
        self.proc = None
        self.starts = 0
        self.log_path = None

    def start(self):
        self.starts += 1
        self.log_path = os.path.join(self.top, "volmand-%d.log" % self.starts)
        env = dict(os.environ)
        for k in ("VOLMAN_FAILPOINT", "VOLMAN_SOCKET", "VOLMAN_PLUGIN_SOCKET"):
            env.pop(k, None)
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen(
                [VOLMAND, "--root", self.root, "--socket", self.socket,
                 "--plugin-socket", self.plugin_socket] +
                (["--btrfs-root", self.btrfs_root] if self.btrfs_root else []),
                stdout=log, stderr=subprocess.STDOUT, env=env, stdin=subprocess.DEVNULL)
        ok = wait_for(lambda: self.proc.poll() is not None or
                      (_answers(self.socket, "GET", "/v1/health") and
                       _answers(self.plugin_socket, "POST", "/Plugin.Activate")), 15.0)
        if not ok or self.proc.poll() is not None:
            raise RuntimeError("volmand did not start: %s" % self.log())

    def stop(self):
        if self.proc is not None:
            stop_pid(self.proc)
            rc = self.proc.returncode
            self.proc = None
            return rc
        return None

    def restart(self):
        rc = self.stop()
        assert rc == 0, "volmand exited %r on SIGTERM: %s" % (rc, self.log())
        self.start()

    def log(self):
        try:
            with open(self.log_path) as f:
                return f.read()[-4000:]
        except (OSError, TypeError):
            return ""

    def client(self):
        return Client(self.socket)

    def cli(self, *args, timeout=60):
        return run_cmd([VOLMAN, "--socket", self.socket] + list(args), timeout=timeout)


def have_btrfs():
    with open("/proc/filesystems") as f:
        return any(line.split()[-1] == "btrfs" for line in f) and os.path.exists("/dev/loop-control")


@pytest.fixture(scope="session")
def btrfs_root(session_dir):
    """A loop-mounted btrfs filesystem for the btrfs driver, or None on a kernel
    without btrfs (the tests that need it skip, saying so)."""
    if not have_btrfs():
        yield None
        return
    img, mnt = os.path.join(session_dir, "btrfs.img"), os.path.join(session_dir, "btrfs")
    os.makedirs(mnt)
    run_cmd(["truncate", "-s", "1G", img], check=True)
    run_cmd(["mkfs.btrfs", "-q", "-f", img], check=True)
    run_cmd(["mount", "-o", "loop", img, mnt], check=True)
    yield mnt
    run_cmd(["umount", "-l", mnt])


@pytest.fixture(scope="session")
def volmand(session_dir, btrfs_root):
    for p in (VOLMAND, VOLMAN):
        if not (os.path.isfile(p) and os.access(p, os.X_OK)):
            _fail("%s is not built (set VOLMAN_BUILD to an absolute build directory)" % p)
    d = Volmand(session_dir, btrfs_root)
    d.start()
    yield d
    d.stop()
    unmount_under(d.root)


@pytest.fixture
def api(volmand):
    c = volmand.client()
    yield c
    c.close()


@pytest.fixture
def plugin(volmand):
    """A keep-alive client of volmand's plugin socket, as an engine would use it."""
    c = Client(volmand.plugin_socket)
    yield c
    c.close()


# --- the engines --------------------------------------------------------------------------

class Engine:
    """One engine's CLI, aimed at this session's daemon and state."""

    name = None
    image = None

    def __init__(self, driver):
        self.driver = driver

    def cmd(self, *args, timeout=CMD_TIMEOUT, check=False):
        return run_cmd(self.argv() + list(args), env=self.env(), timeout=timeout, check=check)

    def argv(self):
        raise NotImplementedError

    def env(self):
        return None

    def create_volume(self, name, opts):
        raise NotImplementedError

    def create_volume_ok(self, name, opts):
        cp = self.create_volume(name, opts)
        assert cp.returncode == 0, "%s volume create %s %r: %s" % (self.name, name, opts, cp.stderr)
        return cp

    def inspect_volume(self, name):
        cp = self.cmd("volume", "inspect", name, check=True)
        data = json.loads(cp.stdout)
        assert isinstance(data, list) and len(data) == 1, cp.stdout
        return data[0]

    def volume_names(self):
        """Every volume name the engine lists (Podman reloads from plugins first)."""
        cp = self.cmd("volume", "ls", "--format", "{{.Name}}", check=True)
        return set(cp.stdout.split())

    def reload(self):
        pass

    def run(self, volume, script, timeout=CMD_TIMEOUT):
        """Runs a container with VOLUME on /d; returns the CompletedProcess."""
        return self.cmd("run", "--rm", "--network", "none", "-v", volume + ":/d", self.image,
                        "sh", "-c", script, timeout=timeout)

    def run_detached(self, cname, volume, script):
        cp = self.cmd("run", "-d", "--name", cname, "--network", "none", "-v", volume + ":/d",
                      self.image, "sh", "-c", script)
        assert cp.returncode == 0, cp.stderr
        return cp.stdout.strip()

    def remove_container(self, cname):
        raise NotImplementedError

    def remove_volume(self, name):
        return self.cmd("volume", "rm", name)

    def cleanup_volume(self, api, name):
        """Best effort at the end of a test: the engine forgets the volume and
        volman removes it."""
        self.remove_volume(name)
        api.delete_volume(name)


class Docker(Engine):
    name = "docker"
    image = "bb:latest"

    def __init__(self, driver, top):
        super().__init__(driver)
        self.top = top
        self.socket = os.path.join(top, "docker.sock")
        self.binary = "/usr/bin/docker" if os.path.exists("/usr/bin/docker") else shutil.which("docker")
        self.proc = None
        self.spec = os.path.join(SPEC_DIR, driver + ".spec")

    def argv(self):
        return [self.binary, "-H", "unix://" + self.socket]

    def env(self):
        env = dict(os.environ)
        env.pop("DOCKER_HOST", None)
        env.pop("DOCKER_CONTEXT", None)
        env["DOCKER_CONFIG"] = os.path.join(self.top, "cli-config")
        return env

    def create_volume(self, name, opts):
        args = ["volume", "create", "-d", self.driver]
        for k, v in opts.items():
            args += ["-o", "%s=%s" % (k, v)]
        return self.cmd(*(args + [name]))

    def remove_container(self, cname):
        return self.cmd("rm", "-f", cname)


class Podman(Engine):
    name = "podman"
    image = "localhost/bb:latest"

    def __init__(self, driver, top, plugin_socket):
        super().__init__(driver)
        self.top = top
        self.conf = os.path.join(top, "containers.conf")
        with open(self.conf, "w") as f:
            f.write(
                "[containers]\n"
                'default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]\n'
                "[engine]\n"
                'cgroup_manager = "cgroupfs"\n'
                'runtime = "runc"\n'
                'events_logger = "file"\n'
                # File locks under --tmpdir: the default SHM segment in
                # /dev/shm is shared by every rootful podman on the machine.
                'lock_type = "file"\n'
                "[engine.volume_plugins]\n"
                '"%s" = "%s"\n' % (driver, plugin_socket))

    def argv(self):
        return ["podman", "--root", os.path.join(self.top, "root"),
                "--runroot", os.path.join(self.top, "runroot"),
                "--tmpdir", os.path.join(self.top, "tmp")]

    def env(self):
        env = dict(os.environ)
        env["CONTAINERS_CONF"] = self.conf
        env.pop("CONTAINER_HOST", None)
        env.pop("CONTAINER_CONNECTION", None)
        return env

    def create_volume(self, name, opts):
        args = ["volume", "create", "--driver", self.driver]
        for k, v in opts.items():
            args += ["-o", "%s=%s" % (k, v)]
        return self.cmd(*(args + [name]))

    def reload(self):
        self.cmd("volume", "reload", check=True)

    def volume_names(self):
        self.reload()
        return super().volume_names()

    def remove_container(self, cname):
        # Stop first: `rm -f` of a running container can deadlock with the
        # container's own cleanup process over the volume's lock.
        self.cmd("stop", "-t", "0", cname)
        return self.cmd("rm", "-f", cname)

    def cleanup_volume(self, api, name):
        self.remove_volume(name)
        api.delete_volume(name)
        self.reload()


def _podman_cleanup(p):
    p.cmd("stop", "-a", "-t", "0", timeout=60)
    p.cmd("rm", "-a", "-f", timeout=60)


@pytest.fixture(scope="session")
def docker_engine(session_dir, busybox_tar, volmand, driver_name):
    dockerd = shutil.which("dockerd")
    if not dockerd:
        _fail("dockerd is not installed (apt-get install -y --no-install-recommends docker.io)")
    top = os.path.join(session_dir, "docker")
    os.makedirs(top)
    eng = Docker(driver_name, top)
    if not eng.binary:
        _fail("the docker CLI is not installed")
    os.makedirs(SPEC_DIR, exist_ok=True)
    with open(eng.spec, "w") as f:
        f.write("unix://%s\n" % volmand.plugin_socket)
    log = open(os.path.join(top, "dockerd.log"), "w")
    proc = subprocess.Popen(
        [dockerd, "--iptables=false", "--ip-masq=false", "--bridge=none",
         "--storage-driver=vfs", "--host", "unix://" + eng.socket,
         "--data-root", os.path.join(top, "data"), "--exec-root", os.path.join(top, "exec"),
         "--pidfile", os.path.join(top, "docker.pid")],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=eng.env())
    eng.proc = proc
    try:
        if not wait_for(lambda: proc.poll() is not None or
                        _answers(eng.socket, "GET", "/_ping"), 20.0, 0.1) or proc.poll() is not None:
            with open(log.name) as f:
                tail = f.read()[-1500:]
            _fail("dockerd did not answer /_ping within 20 s: %s" % tail)
        eng.cmd("import", busybox_tar, eng.image, check=True)
        yield eng
    finally:
        try:
            if proc.poll() is None:
                cp = eng.cmd("ps", "-aq", timeout=30)
                ids = cp.stdout.split()
                if ids:
                    eng.cmd(*(["rm", "-f"] + ids), timeout=60)
        finally:
            stop_pid(proc, timeout=30)
            log.close()
            for pid in pids_mentioning(top):  # e.g. its containerd, if dockerd was killed
                stop_pid(pid)
            try:
                os.unlink(eng.spec)
            except FileNotFoundError:
                pass
            unmount_under(top)


@pytest.fixture(scope="session")
def podman_engine(session_dir, busybox_tar, volmand, driver_name):
    if not shutil.which("podman"):
        _fail("podman is not installed (apt-get install -y podman runc)")
    if not shutil.which("runc"):
        _fail("runc is not installed (apt-get install -y runc): crun refuses hybrid cgroups")
    top = os.path.join(session_dir, "podman")
    os.makedirs(top)
    eng = Podman(driver_name, top, volmand.plugin_socket)
    try:
        cp = eng.cmd("import", busybox_tar, eng.image)
        if cp.returncode != 0:
            _fail("podman cannot import an image here: %s" % cp.stderr[-1000:])
        yield eng
    finally:
        try:
            _podman_cleanup(eng)
        finally:
            for pid in pids_mentioning(top):  # conmon or cleanup processes
                stop_pid(pid)
            unmount_under(top)


@pytest.fixture(scope="session", params=["docker", "podman"])
def engine(request):
    return request.getfixturevalue(request.param + "_engine")


@pytest.fixture
def volumes(engine, volmand):
    """Names made by a test; each is removed through the engine and volman at
    the end, whatever happened."""
    made = []
    yield made
    c = volmand.client()
    try:
        for n in made:
            engine.cleanup_volume(c, n)
    finally:
        c.close()


@pytest.fixture
def containers(engine):
    """Container names made by a test; removed at the end."""
    made = []
    yield made
    for n in made:
        engine.remove_container(n)
