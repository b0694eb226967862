"""Helpers of the app tests: HTTP over unix sockets, the volmand + engine stack,
the hardening probe. Used by conftest.py (fixtures) and the tests."""


import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import time
import urllib.parse

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.abspath(os.environ.get("VOLMAN_BUILD") or os.path.join(REPO, "build-test"))
VOLMAND = os.path.join(BUILD, "volmand")
CON_INIT = os.path.join(BUILD, "con-init", "con-init")
SEED_TTL = 12  # seconds a deploy's seed token lives in these tests
IMAGE = "localhost/bb:latest"
APPLETS = ("sh", "cat", "echo", "sleep", "touch", "grep", "wc", "ls", "mkdir", "id", "rm", "env", "stat",
           "printf", "kill", "ps", "head", "test", "true", "false", "cp", "sed")
# The /con image (tests/apps/conftest.py): busybox running as uid 1000, with its own
# /con/configuration and a /srv/seed to start volumes from.
CON_IMAGE = "localhost/bbcon:latest"
# ... and its own command, which con-init runs when a deploy gives none
CON_IMAGE_CMD = '["sh", "-c", "echo IMAGE-CMD uid=$(id -u) FOO=$FOO; echo __READY__; exec sleep 3600"]'
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")
ENGINES = ("docker", "podman")


def _fail(reason):
    """A fixture that cannot start what it tests fails the tests; it never skips."""
    pytest.fail("cannot run the suite: " + reason, pytrace=False)


# ---- HTTP over a unix socket ----


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self._unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self._unix_path)
        self.sock = s


def http_unix(sock_path, method, path, body=None, headers=None, timeout=150):
    """One request; returns (status, raw body bytes)."""
    h = dict(headers or {})
    if body is not None and not isinstance(body, (bytes, bytearray)):
        body = json.dumps(body).encode()
        h.setdefault("Content-Type", "application/json")
    conn = _UnixConnection(sock_path, timeout)
    try:
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def _json(data):
    if not data:
        return None
    try:
        return json.loads(data)
    except ValueError:
        return None


def demux_logs(data):
    """Engine logs as text: docker-style frames (8-byte headers) or a plain stream."""
    def framed_at(i):
        return (i + 8 <= len(data) and data[i] in (0, 1, 2) and data[i + 1:i + 4] == b"\0\0\0")

    if not framed_at(0):
        return data.decode(errors="replace")
    out, i = [], 0
    while i < len(data):
        if not framed_at(i):
            return data.decode(errors="replace")
        size = struct.unpack(">I", data[i + 4:i + 8])[0]
        out.append(data[i + 8:i + 8 + size])
        i += 8 + size
    return b"".join(out).decode(errors="replace")


def wait_for(what, fn, timeout=30.0, interval=0.1):
    """Polls fn until it returns something true; returns it, or fails naming what."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = fn()
            if last:
                return last
        except (OSError, http.client.HTTPException) as e:
            last = e
        if time.monotonic() > deadline:
            raise TimeoutError("%s: not after %.0f s (last: %r)" % (what, timeout, last))
        time.sleep(interval)


def uniq(prefix):
    """A fresh DNS label for a tenant or app."""
    return "%s%s" % (prefix, secrets.token_hex(3))


# ---- processes ----


def _tail(path, n=30):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return "(no log)"


def _stop(proc, timeout=20.0):
    """SIGTERM the process we started (by its PID), SIGKILL if it lingers."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    except ProcessLookupError:
        pass


def _mounts_under(root):
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4].replace("\\040", " ")
            if mp == root or mp.startswith(root + "/"):
                out.append(mp)
    return out


def _unmount_under(root):
    """Unmounts whatever an engine left below root, deepest first."""
    for _ in range(3):
        mps = _mounts_under(root)
        if not mps:
            return
        for mp in sorted(set(mps), key=len, reverse=True):
            subprocess.run(["umount", "-l", mp], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# ---- one stack per engine ----


class Stack:
    """volmand plus one engine. Methods talk to both over their sockets."""

    def __init__(self, kind, tmp):
        self.kind = kind
        self.tmp = tmp
        self.tag = secrets.token_hex(4)
        self.driver = "volman-apps-%s" % self.tag
        self.volman_sock = os.path.join(tmp, "volman.sock")
        self.plugin_sock = os.path.join(tmp, "plugin.sock")
        self.engine_sock = os.path.join(tmp, "%s.sock" % kind)
        self.vroot = os.path.join(tmp, "vroot")
        self.volmand = None
        self.engine_proc = None
        self.spec_file = None
        self.made_dirs = []  # that we made, deepest first
        self.env = dict(os.environ)
        for k in ("VOLMAN_FAILPOINT", "VOLMAN_SOCKET", "VOLMAN_PLUGIN_SOCKET", "VOLMAN_ENGINE",
                  "DOCKER_HOST", "CONTAINERS_CONF"):
            self.env.pop(k, None)
        self.podman_global = []

    # -- volman --

    def volman(self, method, path, body=None, expect=None):
        st, data = http_unix(self.volman_sock, method, path, body)
        j = _json(data)
        if expect is not None and st != expect:
            raise AssertionError("%s %s: want %d, got %d: %s" % (method, path, expect, st,
                                                               data.decode(errors="replace")))
        return st, j

    def put_config(self, cfg, tenant=None, env=None, app=None, expect=200):
        return self.volman("PUT", self.config_path(tenant, env, app), cfg, expect=expect)[1]

    def get_config(self, tenant=None, env=None, app=None):
        return self.volman("GET", self.config_path(tenant, env, app), expect=200)[1]

    @staticmethod
    def config_path(tenant=None, env=None, app=None):
        if tenant is None:
            return "/v1/config"
        if app is None:
            return "/v1/tenants/%s/envs/%s/config" % (tenant, env)
        return "/v1/tenants/%s/envs/%s/apps/%s/config" % (tenant, env, app)

    def resolved(self, tenant, env, app):
        return self.volman("GET", "/v1/tenants/%s/envs/%s/apps/%s/resolved" % (tenant, env, app),
                           expect=200)[1]

    def deploy(self, tenant, env, app, script, strategy=None):
        """Deploys busybox running `sh -c PROBE; script; echo __READY__; sleep`."""
        body = {"image": IMAGE, "cmd": ["sh", "-c", PROBE + script + "; echo __READY__; exec sleep 3600"]}
        if strategy:
            body["strategy"] = strategy
        return self.volman("POST", "/v1/tenants/%s/envs/%s/apps/%s/deploy" % (tenant, env, app), body,
                           expect=200)[1]

    def delete_app(self, tenant, env, app):
        return self.volman("DELETE", "/v1/tenants/%s/envs/%s/apps/%s" % (tenant, env, app))

    def wait_removals_done(self):
        """Removed volumes answer at once; their data goes in the background."""
        wait_for("removed volumes' data destroyed",
                 lambda: self.volman("GET", "/v1/health", expect=200)[1]["removals_pending"] == 0,
                 timeout=30)

    def volume(self, name):
        """volman's volume object, or None on 404."""
        st, j = self.volman("GET", "/v1/volumes/%s" % urllib.parse.quote(name, safe=""))
        if st == 404:
            return None
        assert st == 200, (name, st, j)
        return j

    def volman_volume_names(self, **filters):
        q = "&".join("filter=%s" % urllib.parse.quote("%s=%s" % kv, safe="") for kv in sorted(filters.items()))
        st, j = self.volman("GET", "/v1/volumes" + ("?" + q if q else ""), expect=200)
        assert j["next"] is None
        return sorted(v["name"] for v in j["volumes"])

    # -- the engine --

    def engine(self, method, path, body=None, headers=None, timeout=150):
        st, data = http_unix(self.engine_sock, method, "/v1.41" + path, body, headers, timeout)
        return st, data

    def engine_json(self, method, path, body=None, expect=200):
        st, data = self.engine(method, path, body)
        if st != expect:
            raise AssertionError("engine %s %s: want %d, got %d: %s" % (method, path, expect, st,
                                                                      data.decode(errors="replace")))
        return _json(data)

    def engine_volume_names(self):
        j = self.engine_json("GET", "/volumes")
        return sorted(v["Name"] for v in (j.get("Volumes") or []))

    def containers(self, tenant, env=None, app=None):
        labels = ["volman.tenant=%s" % tenant]
        if env:
            labels.append("volman.env=%s" % env)
        if app:
            labels.append("volman.app=%s" % app)
        q = urllib.parse.quote(json.dumps({"label": labels}), safe="")
        return self.engine_json("GET", "/containers/json?all=1&filters=%s" % q)

    def inspect(self, cid):
        return self.engine_json("GET", "/containers/%s/json" % cid)

    def logs(self, cid):
        st, data = self.engine("GET", "/containers/%s/logs?stdout=1&stderr=1" % cid)
        assert st == 200, (cid, st, data[:300])
        return demux_logs(data)

    def wait_ready(self, cid, timeout=90.0):
        """Waits for the container's __READY__ line; returns its output."""
        deadline = time.monotonic() + timeout
        while True:
            out = self.logs(cid)
            if "__READY__" in out:
                return out
            state = self.inspect(cid).get("State", {})
            if state.get("Status") in ("exited", "dead") or time.monotonic() > deadline:
                raise AssertionError("container %s never got ready (state %s); output:\n%s"
                                     % (cid[:12], state.get("Status"), out))
            time.sleep(0.2)

    def all_container_ids(self):
        st, data = self.engine("GET", "/containers/json?all=1")
        j = _json(data) if st == 200 else None
        return [c["Id"] for c in (j or [])]

    # -- life cycle --

    def restart_volmand(self):
        """kill -9 of volmand, then a new one on the same root and sockets."""
        self.volmand.kill()
        self.volmand.wait(timeout=30)
        self.start_volmand(self.volmand_args)

    def start_volmand(self, extra_args=()):
        if not (os.path.isfile(VOLMAND) and os.access(VOLMAND, os.X_OK)):
            _fail("%s is not built (set VOLMAN_BUILD to the build directory)" % VOLMAND)
        self.volmand_args = tuple(extra_args)
        os.makedirs(self.vroot, exist_ok=True)
        self.volmand_log = os.path.join(self.tmp, "volmand.log")
        env = dict(self.env)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0:intercept_tls_get_addr=0")
        with open(self.volmand_log, "ab") as log:
            self.volmand = subprocess.Popen(
                [VOLMAND, "--root", self.vroot, "--socket", self.volman_sock,
                 "--plugin-socket", self.plugin_sock, "--engine", "unix://" + self.engine_sock,
                 "--engine-driver", self.driver, "--con-init", CON_INIT,
                 "--listen", "127.0.0.1:0", "--seed-ttl", "%ds" % SEED_TTL, *extra_args],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            wait_for("volmand health", lambda: self.volmand.poll() is None and
                     http_unix(self.volman_sock, "GET", "/v1/health", timeout=5)[0] == 200, timeout=15)
        except TimeoutError:
            _fail("volmand did not start: %s" % _tail(self.volmand_log))

    def start_docker(self, tarball):
        dockerd = shutil.which("dockerd")
        if not dockerd:
            _fail("dockerd is not installed (apt-get install -y --no-install-recommends docker.io)")
        spec_dir = "/etc/docker/plugins"
        for d in ("/etc/docker", spec_dir):
            if not os.path.isdir(d):
                os.mkdir(d)
                self.made_dirs.insert(0, d)
        self.spec_file = os.path.join(spec_dir, "%s.spec" % self.driver)
        with open(self.spec_file, "w") as f:
            f.write("unix://%s\n" % self.plugin_sock)
        d = os.path.join(self.tmp, "d")
        os.makedirs(d)
        self.engine_log = os.path.join(self.tmp, "dockerd.log")
        with open(self.engine_log, "wb") as log:
            self.engine_proc = subprocess.Popen(
                [dockerd, "--iptables=false", "--ip-masq=false", "--bridge=none",
                 "--storage-driver=vfs", "--host", "unix://" + self.engine_sock,
                 "--data-root", os.path.join(d, "data"), "--exec-root", os.path.join(d, "exec"),
                 "--pidfile", os.path.join(d, "docker.pid")],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=self.env,
                start_new_session=True)
        self._wait_engine("dockerd")
        docker = shutil.which("docker")
        if docker:
            r = subprocess.run([docker, "-H", "unix://" + self.engine_sock, "import", tarball, IMAGE],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=self.env, timeout=120)
            ok = r.returncode == 0
            msg = r.stdout.decode(errors="replace")
        else:
            with open(tarball, "rb") as f:
                st, data = self.engine("POST", "/images/create?fromSrc=-&repo=localhost/bb&tag=latest",
                                       f.read(), {"Content-Type": "application/x-tar"})
            ok, msg = st == 200, data.decode(errors="replace")
        if not ok:
            _fail("importing busybox into dockerd failed: %s" % msg)

    def start_podman(self, tarball):
        podman = shutil.which("podman")
        if not podman or not shutil.which("runc"):
            _fail("podman or runc is not installed (apt-get install -y podman runc)")
        conf = os.path.join(self.tmp, "containers.conf")
        with open(conf, "w") as f:
            f.write('[containers]\n'
                    'default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]\n'
                    '[engine]\n'
                    'cgroup_manager = "cgroupfs"\n'
                    'runtime = "runc"\n'
                    'events_logger = "file"\n'
                    '[engine.volume_plugins]\n'
                    '%s = "%s"\n' % (self.driver, self.plugin_sock))
        self.env["CONTAINERS_CONF"] = conf
        self.podman_global = [podman, "--root", os.path.join(self.tmp, "proot"),
                              "--runroot", os.path.join(self.tmp, "prunroot"),
                              "--tmpdir", os.path.join(self.tmp, "ptmp")]
        r = subprocess.run(self.podman_global + ["import", tarball, IMAGE], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, env=self.env, timeout=120)
        if r.returncode != 0:
            # overlay may not work where T lives (overlay on overlay): vfs always does
            first = r.stdout.decode(errors="replace")
            _unmount_under(self.tmp)
            for sub in ("proot", "prunroot", "ptmp"):
                shutil.rmtree(os.path.join(self.tmp, sub), ignore_errors=True)
            self.podman_global.append("--storage-driver=vfs")
            r = subprocess.run(self.podman_global + ["import", tarball, IMAGE], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, env=self.env, timeout=120)
            if r.returncode != 0:
                _fail("podman import failed: %s; with vfs: %s" % (first, r.stdout.decode(errors="replace")))
        self.engine_log = os.path.join(self.tmp, "podman.log")
        with open(self.engine_log, "wb") as log:
            self.engine_proc = subprocess.Popen(
                self.podman_global + ["system", "service", "--time=0", "unix://" + self.engine_sock],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=self.env,
                start_new_session=True)
        self._wait_engine("podman system service")

    def import_image(self, tarball, name, user, cmd_json=None):
        """Imports tarball as image name, running as user ("uid:gid"), with the
        command cmd_json (a JSON list) when given."""
        changes = ["USER %s" % user] + (["CMD %s" % cmd_json] if cmd_json else [])
        if self.kind == "docker":
            cmd = [shutil.which("docker"), "-H", "unix://" + self.engine_sock, "import"]
        else:
            cmd = self.podman_global + ["import"]
        for c in changes:
            cmd += ["--change", c]
        cmd += [tarball, name]
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=self.env, timeout=120)
        if r.returncode != 0:
            _fail("importing %s into %s failed: %s" % (name, self.kind, r.stdout.decode(errors="replace")))

    def _wait_engine(self, what):
        def up():
            if self.engine_proc.poll() is not None:
                raise TimeoutError("exited with %s" % self.engine_proc.returncode)
            return self.engine("GET", "/_ping", timeout=5)[0] == 200
        try:
            wait_for("%s ping" % what, up, timeout=60, interval=0.2)
        except TimeoutError as e:
            _fail("%s did not start (%s): %s" % (what, e, _tail(self.engine_log)))

    def stop(self):
        """Containers first (so the engine unmounts its volumes while volmand
        runs), then the engine, what it left mounted, volmand, the spec file."""
        errors = []
        if self.engine_proc is not None and self.engine_proc.poll() is None:
            try:
                for cid in self.all_container_ids():
                    self.engine("DELETE", "/containers/%s?force=1" % cid, timeout=60)
            except (OSError, http.client.HTTPException) as e:
                errors.append("removing containers: %s" % e)
        _stop(self.engine_proc, timeout=30)
        if self.kind == "podman" and self.podman_global:
            # Containers the service could not remove (it is gone now).
            subprocess.run(self.podman_global + ["rm", "-af", "-t", "0"], env=self.env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
        _unmount_under(self.tmp)
        _stop(self.volmand)
        if self.spec_file:
            try:
                os.unlink(self.spec_file)
            except FileNotFoundError:
                pass
            for d in self.made_dirs:
                try:
                    os.rmdir(d)
                except OSError:
                    pass  # not empty: someone else uses it now
        _unmount_under(self.tmp)
        log = _tail(getattr(self, "volmand_log", ""), 100000)
        for m in SANITIZER_MARKERS:
            if m in log:
                errors.append("volmand log has %r:\n%s" % (m, log))
        if not _mounts_under(self.tmp):
            shutil.rmtree(self.tmp, ignore_errors=True)
        else:
            errors.append("left mounted: %s" % _mounts_under(self.tmp))
        return errors


# Run first in every deployed container: the evidence of the hardening, in its output.
PROBE = (
    'if e=$(touch /.volman-rootfs-probe 2>&1); then echo ROOTFS=writable; '
    'else echo "ROOTFS=refused $e"; fi; '
    'if echo x > /tmp/.volman-probe; then echo TMP=writable; else echo TMP=refused; fi; '
    'while read -r dev mp fs opts rest; do [ "$mp" = /tmp ] && echo "TMPMOUNT=$fs $opts"; done '
    '< /proc/mounts; '
    'while read -r k v rest; do case "$k" in CapEff:|CapBnd:|NoNewPrivs:) echo "PROC=$k$v";; esac; done '
    '< /proc/self/status; '
)

# Capability bits (linux/capability.h) the tests name.
CAP_BITS = {"CHOWN": 0, "DAC_OVERRIDE": 1, "NET_BIND_SERVICE": 10, "NET_RAW": 13}


def check_hardening(out, tmp_kib=262144, read_only=True, caps=()):
    """The PROBE's evidence: / is read-only, /tmp a writable nosuid,nodev tmpfs of tmp_kib,
    every capability dropped but caps (effective and bounding sets), no-new-privileges."""
    lines = out.splitlines()
    proc = dict(l[len("PROC="):].split(":", 1) for l in lines if l.startswith("PROC="))
    want = sum(1 << CAP_BITS[c] for c in caps)
    assert int(proc.get("CapEff", "-1"), 16) == want, ("effective capabilities", proc, out)
    assert int(proc.get("CapBnd", "-1"), 16) == want, ("bounding capabilities", proc, out)
    assert proc.get("NoNewPrivs") == "1", ("no-new-privileges", proc, out)
    root = [l for l in lines if l.startswith("ROOTFS=")]
    assert len(root) == 1, out
    if read_only:
        assert root[0].startswith("ROOTFS=refused") and "Read-only file system" in root[0], out
    else:
        assert root[0] == "ROOTFS=writable", out
    assert "TMP=writable" in lines, out
    mounts = [l[len("TMPMOUNT="):].split() for l in lines if l.startswith("TMPMOUNT=")]
    assert mounts, "no /tmp mount in /proc/mounts:\n" + out
    for fs, opts in mounts:
        o = opts.split(",")
        assert fs == "tmpfs", out
        assert "rw" in o and "nosuid" in o and "nodev" in o, out
        assert "size=%dk" % tmp_kib in o, out
