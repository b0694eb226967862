"""volmand's Engine API client (engine/docker.c) against the real dockerd and
Podman's compatible service, through tests/engines/engine_probe (one client
call per run): the container spec fields seen by the process, image inspect,
wait, logs and archives. Each engine test runs once per engine (the `engine`
fixture of conftest.py); Podman's API service is started here on the state
of conftest's Podman. The tests at the end drive the same client against fake
engines, for answers no engine should give (malformed log frames, a wait
that never ends, an archive past its limit)."""

import http.client
import json
import os
import secrets
import socket
import subprocess
import tarfile
import threading
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.abspath(os.environ.get("VOLMAN_BUILD") or os.path.join(REPO, "build-test"))
PROBE = os.path.join(BUILD, "tests", "engines", "engine_probe")
STATIC_INIT_C = r"""
#include <stdio.h>
#include <unistd.h>
int main(int argc, char **argv)
{
        printf("init-ran argc=%d\n", argc);
        fflush(stdout);
        if (argc > 1) {
                execv(argv[1], argv + 1);
                perror("exec");
                return 126;
        }
        return 0;
}
"""


# Small helpers kept here rather than imported from conftest: several test
# folders each have a conftest.py, and `import conftest` would be ambiguous.
def unique(prefix):
    return "%s-%s" % (prefix, secrets.token_hex(4))


def wait_for(pred, timeout, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(interval)
    return pred()


def engine_get(sock, path):
    """GET path from an engine's unix socket: (status, parsed JSON or the text)."""
    conn = http.client.HTTPConnection("localhost", timeout=30)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(sock)
    conn.sock = s
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        data = r.read()
        try:
            return r.status, json.loads(data or b"null")
        except ValueError:
            return r.status, data.decode(errors="replace")
    finally:
        conn.close()


# --- the probe -----------------------------------------------------------------------

def probe(endpoint, *args, timeout=60):
    """Runs engine_probe; returns (exit status, stdout bytes). Anything but 0
    (done) or 2 (the call failed) fails the test: a crash, a sanitizer's
    report, bad usage."""
    if not os.access(PROBE, os.X_OK):
        pytest.fail("%s is not built (set VOLMAN_BUILD to the build directory)" % PROBE, pytrace=False)
    cp = subprocess.run([PROBE, endpoint] + [str(a) for a in args], stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE, timeout=timeout, stdin=subprocess.DEVNULL)
    assert cp.returncode in (0, 2), "engine_probe %s exited %d:\n%s\n%s" % (
        " ".join(str(a) for a in args), cp.returncode, cp.stdout[-2000:], cp.stderr[-4000:].decode(errors="replace"))
    return cp.returncode, cp.stdout


def ok(endpoint, *args, **kw):
    rc, out = probe(endpoint, *args, **kw)
    assert rc == 0, "engine_probe %s failed: %s" % (args[0], out.decode(errors="replace"))
    return json.loads(out) if args[0] != "logs" else out


def fails(endpoint, *args, **kw):
    """The error of a call that must fail: {"errno", "code", "message"}."""
    rc, out = probe(endpoint, *args, **kw)
    assert rc == 2, "engine_probe %s should have failed: %s" % (args[0], out.decode(errors="replace"))
    return json.loads(out)["error"]


# --- the engines' API sockets ----------------------------------------------------------

@pytest.fixture(scope="module")
def podman_service(podman_engine):
    """Podman's Docker-compatible service on the state conftest's Podman uses."""
    sock = os.path.join(podman_engine.top, "podman-api.sock")
    log = open(os.path.join(podman_engine.top, "podman-service.log"), "w")
    proc = subprocess.Popen(podman_engine.argv() + ["system", "service", "--time=0", "unix://" + sock],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            env=podman_engine.env())

    def up():
        try:
            return engine_get(sock, "/_ping")[0] == 200
        except (OSError, ValueError, http.client.HTTPException):
            return False
    try:
        if not wait_for(lambda: proc.poll() is not None or up(), 30, 0.1) or proc.poll() is not None:
            with open(log.name) as f:
                pytest.fail("podman system service did not start: %s" % f.read()[-1500:], pytrace=False)
        yield sock
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        log.close()


class Target:
    """One engine as the client sees it."""

    def __init__(self, engine, sock):
        self.engine = engine  # conftest's Engine (its CLI)
        self.name = engine.name
        self.sock = sock
        self.endpoint = "unix://" + sock
        self.image = engine.image
        self.made = []

    def spec(self, **fields):
        s = {"name": unique("probe"), "image": self.image, "network_mode": "none",
             "labels": {"volman.test": "engine-client"}}
        s.update(fields)
        return s

    def run(self, timeout_ms=30000, log_max=65536, **fields):
        """Creates, starts, waits for and reads a container of spec fields."""
        out = ok(self.endpoint, "run", json.dumps(self.spec(**fields)), timeout_ms, log_max)
        self.made.append(out["id"])
        return out

    def create(self, **fields):
        out = ok(self.endpoint, "create", json.dumps(self.spec(**fields)))
        self.made.append(out["id"])
        return out["id"]

    def inspect_container(self, cid):
        st, body = engine_get(self.sock, "/v1.41/containers/%s/json" % cid)
        assert st == 200, body
        return body


@pytest.fixture
def target(engine, request):
    sock = engine.socket if engine.name == "docker" else request.getfixturevalue("podman_service")
    t = Target(engine, sock)
    yield t
    for cid in t.made:
        probe(t.endpoint, "remove", cid)


@pytest.fixture(scope="session")
def static_init(session_dir):
    """A static binary that says it ran and execs its arguments, as
    con-init will be bound at /con/.init."""
    src = os.path.join(session_dir, "init.c")
    exe = os.path.join(session_dir, "static-init")
    with open(src, "w") as f:
        f.write(STATIC_INIT_C)
    cp = subprocess.run(["gcc", "-static", "-O2", "-o", exe, src], stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT, text=True)
    if cp.returncode != 0:
        pytest.fail("cannot build a static binary here (gcc -static; libc6-dev has libc.a): %s" % cp.stdout[-500:])
    return exe


# --- the container spec ------------------------------------------------------------------

def test_spec_fields_reach_the_process(target):
    out = target.run(entrypoint=["/bin/sh", "-c"],
                     cmd=['echo "ep=$0"; id -u; id -g; pwd; echo "foo=$FOO"; echo "bar=$BAR"; exit 7'],
                     user="1000:1001", env=["FOO=a b=c", "BAR="], working_dir="/tmp",
                     nano_cpus=500000000)
    assert out["exit_code"] == 7 and out["status"] == "exited" and out["state_exit_code"] == 7, out
    assert out["logs"].splitlines() == ["ep=/bin/sh", "1000", "1001", "/tmp", "foo=a b=c", "bar="], out["logs"]
    cfg = target.inspect_container(out["id"])
    assert cfg["Config"]["Entrypoint"] == ["/bin/sh", "-c"]
    assert cfg["Config"]["User"] == "1000:1001"
    assert cfg["Config"]["WorkingDir"] == "/tmp"
    assert "FOO=a b=c" in cfg["Config"]["Env"]
    assert cfg["HostConfig"]["NanoCpus"] == 500000000, cfg["HostConfig"]


def test_nano_cpus_limit_the_cgroup(target):
    """Half a CPU is a CFS quota of half the period, seen inside."""
    out = target.run(cmd=["sh", "-c", "cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us"
                          " 2>/dev/null || cat /sys/fs/cgroup/cpu.max"], nano_cpus=250000000)
    nums = [int(x) for x in out["logs"].split() if x.isdigit()]
    assert len(nums) == 2, out["logs"]
    assert nums[0] * 4 == nums[1], out["logs"]  # quota/period = 0.25
    plain = target.run(cmd=["sh", "-c", "cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null || "
                            "cat /sys/fs/cgroup/cpu.max"])
    assert plain["logs"].split()[0] in ("-1", "max"), plain["logs"]  # no limit without NanoCpus


def test_read_only_binds_and_a_single_file_init(target, static_init, tmp_path):
    ro, rw = tmp_path / "ro", tmp_path / "rw"
    ro.mkdir()
    rw.mkdir()
    (ro / "f").write_text("hello\n")
    before = open(static_init, "rb").read()
    script = ("cat /data/f; "
              "touch /data/new 2>/dev/null && echo RO-WRITTEN || echo RO-REFUSED; "
              "echo x > /out/w && echo RW-WRITTEN; "
              "( echo x > /con/.init ) 2>/dev/null && echo INIT-WRITTEN || echo INIT-REFUSED; "
              "touch /rootfs-file 2>/dev/null && echo ROOTFS-WRITTEN || echo ROOTFS-REFUSED")
    out = target.run(entrypoint=["/con/.init", "/bin/sh", "-c"], cmd=[script], read_only_rootfs=True,
                     mounts=[{"bind": str(ro), "target": "/data", "read_only": True},
                             {"bind": str(rw), "target": "/out"},
                             {"bind": static_init, "target": "/con/.init", "read_only": True}])
    lines = out["logs"].splitlines()
    assert out["exit_code"] == 0, out
    assert lines[0] == "init-ran argc=4", lines  # the bound file ran, with its arguments
    assert lines[1:] == ["hello", "RO-REFUSED", "RW-WRITTEN", "INIT-REFUSED", "ROOTFS-REFUSED"], lines
    assert sorted(os.listdir(ro)) == ["f"]
    assert (rw / "w").read_text() == "x\n"
    assert open(static_init, "rb").read() == before
    mounts = {m["Destination"]: m for m in target.inspect_container(out["id"])["Mounts"]}
    assert mounts["/data"]["RW"] is False and mounts["/out"]["RW"] is True, mounts


def test_read_only_volume(target):
    vol = unique("probe-vol")
    try:
        w = target.run(cmd=["sh", "-c", "echo data > /v/f"], mounts=[{"volume": vol, "target": "/v"}])
        assert w["exit_code"] == 0, w
        r = target.run(cmd=["sh", "-c", "cat /v/f; (echo y > /v/g) 2>/dev/null && echo WRITTEN || echo REFUSED"],
                       mounts=[{"volume": vol, "target": "/v", "read_only": True}])
        assert r["logs"] == "data\nREFUSED\n", r
        assert target.inspect_container(r["id"])["Mounts"][0]["RW"] is False
    finally:
        for cid in target.made:
            probe(target.endpoint, "remove", cid)
        target.made.clear()
        target.engine.cmd("volume", "rm", "-f", vol)


def test_bad_mounts_are_refused_before_the_engine(target):
    e = fails(target.endpoint, "create", json.dumps(target.spec(cmd=["true"], mounts=[{"target": "/x"}])))
    assert e["errno"] == "EINVAL" and "mount 0" in e["message"], e
    e = fails(target.endpoint, "create", json.dumps(target.spec(
        cmd=["true"], mounts=[{"volume": "v", "bind": "/tmp", "target": "/x"}])))
    assert e["errno"] == "EINVAL", e


# --- images ------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def entry_images(busybox_tar):
    """An image with USER, ENTRYPOINT, CMD, WORKDIR and ENV, in each engine
    that is asked for, under a name with '/' and ':'."""
    name = "localhost/volman-probe/ent:v1"
    changes = ["USER 1000", 'ENTRYPOINT ["/bin/sh", "-c"]',
               'CMD ["echo from-image-cmd; id -u; pwd; echo $IMGENV"]', "WORKDIR /tmp", "ENV IMGENV=img1"]
    args = []
    for c in changes:
        args += ["--change", c]
    made = {}

    def make(engine):
        if engine.name not in made:
            engine.cmd(*(["import"] + args + [busybox_tar, name]), check=True)
            made[engine.name] = name
        return name
    return make


def test_image_inspect(target, entry_images):
    name = entry_images(target.engine)
    info = ok(target.endpoint, "inspect", name)
    assert info["id"].startswith("sha256:"), info
    assert info["entrypoint"] == ["/bin/sh", "-c"], info
    assert info["cmd"] == ["echo from-image-cmd; id -u; pwd; echo $IMGENV"], info
    assert info["user"] == "1000" and info["working_dir"] == "/tmp", info
    assert "IMGENV=img1" in info["env"], info
    # by id too
    assert ok(target.endpoint, "inspect", info["id"])["id"] == info["id"]
    # an image without any of it: empty, not an error
    plain = ok(target.endpoint, "inspect", target.image)
    assert plain["entrypoint"] is None and plain["cmd"] is None and plain["user"] is None, plain
    assert plain["working_dir"] is None, plain
    # what the engines then run
    r = target.run(image=name)
    assert r["logs"].split() == ["from-image-cmd", "1000", "/tmp", "img1"], r
    r = target.run(image=name, entrypoint=["/bin/echo", "EP"])
    assert r["logs"] == "EP\n", r  # an entrypoint drops the image's Cmd on both engines
    r = target.run(image=name, entrypoint=[], cmd=["/bin/echo", "CMD"])
    assert r["logs"] == "CMD\n", r  # no entrypoint at all (Podman ignores a bare [])


def test_image_inspect_of_a_missing_image(target):
    e = fails(target.endpoint, "inspect", "localhost/no/such:image")
    assert e["errno"] == "ENOENT", e
    assert "localhost/no/such:image" in e["message"] and "no such image" in e["message"], e


# --- wait ----------------------------------------------------------------------------------

def test_wait_returns_the_exit_code_even_after_the_end(target):
    out = target.run(cmd=["sh", "-c", "exit 7"])
    assert out["exit_code"] == 7, out
    # the container ended long before this wait: both engines still answer
    cid = target.create(cmd=["sh", "-c", "exit 5"])
    ok(target.endpoint, "start", cid)
    assert wait_for(lambda: ok(target.endpoint, "state", cid)["status"] == "exited", 30, 0.1)
    time.sleep(0.5)
    for _ in range(2):
        w = ok(target.endpoint, "wait", cid, 5000)
        assert w["exit_code"] == 5 and w["elapsed_ms"] < 3000, w
    assert ok(target.endpoint, "state", cid) == {"status": "exited", "exit_code": 5}


def test_wait_times_out(target):
    cid = target.create(cmd=["sleep", "30"])
    ok(target.endpoint, "start", cid)
    t0 = time.monotonic()
    e = fails(target.endpoint, "wait", cid, 1000)
    took = time.monotonic() - t0
    assert e["errno"] == "ETIMEDOUT", e
    assert cid[:12] in e["message"] and "1000 ms" in e["message"], e
    assert 0.9 <= took < 3.0, took
    assert ok(target.endpoint, "state", cid)["status"] == "running"


def test_wait_and_state_of_a_missing_container(target):
    assert fails(target.endpoint, "wait", "no-such-container-" + secrets.token_hex(4), 2000)["errno"] == "ENOENT"
    assert fails(target.endpoint, "state", "no-such-container-" + secrets.token_hex(4))["errno"] == "ENOENT"
    assert fails(target.endpoint, "logs", "no-such-container-" + secrets.token_hex(4), 100)["errno"] == "ENOENT"


# --- logs -------------------------------------------------------------------------------------

def test_logs_demultiplex_stdout_and_stderr(target):
    # pauses between the writes: the engines read the two pipes apart, and
    # Podman does not keep their order for writes that close together
    script = "echo out1; sleep 0.3; echo err1 >&2; sleep 0.3; printf 'out2 \\303\\251\\n'"
    out = target.run(cmd=["sh", "-c", script])
    assert out["logs"] == "out1\nerr1\nout2 \u00e9\n", out
    cid = out["id"]
    assert ok(target.endpoint, "logs", cid, 65536) == "out1\nerr1\nout2 \u00e9\n".encode()
    # the last bytes, from the start of a character
    assert ok(target.endpoint, "logs", cid, 3) == "\u00e9\n".encode()
    assert ok(target.endpoint, "logs", cid, 2) == b"\n"
    assert ok(target.endpoint, "logs", cid, 8) == "out2 \u00e9\n".encode()
    assert ok(target.endpoint, "logs", cid, 0) == b""


def test_logs_are_the_last_200_lines(target):
    # one stream: across two, each engine keeps the order its pipe readers
    # saw, and writes close together may be stored out of order
    out = target.run(cmd=["sh", "-c", "i=0; while [ $i -lt 300 ]; do i=$((i+1)); echo line$i; done"])
    assert out["logs"].splitlines() == ["line%d" % i for i in range(101, 301)], out["logs"][:200]


# --- archives --------------------------------------------------------------------------------

def _members(path):
    with tarfile.open(path) as t:
        return {m.name.rstrip("/"): m for m in t.getmembers()}


def test_archive_of_a_directory_a_file_and_nothing(target, tmp_path):
    cid = target.create(cmd=["true"])  # never started
    out = tmp_path / "dir.tar"
    ok(target.endpoint, "archive", cid, "/bin", out, 1 << 30)
    m = _members(out)
    assert m["bin"].isdir() and m["bin/busybox"].isfile(), sorted(m)
    assert m["bin/busybox"].size == os.path.getsize("/bin/busybox")
    assert m["bin/sh"].issym() and m["bin/sh"].linkname == "busybox"
    out = tmp_path / "file.tar"
    ok(target.endpoint, "archive", cid, "/bin/busybox", out, 1 << 30)
    m = _members(out)
    assert list(m) == ["busybox"], sorted(m)  # a file: just that file
    with tarfile.open(out) as t:
        assert t.extractfile("busybox").read() == open("/bin/busybox", "rb").read()
    e = fails(target.endpoint, "archive", cid, "/no/such/path", tmp_path / "none.tar", 1 << 30)
    assert e["errno"] == "ENOENT" and "/no/such/path" in e["message"], e
    e = fails(target.endpoint, "archive", cid, "/bin", tmp_path / "big.tar", 65536)
    assert e["errno"] == "EFBIG" and "65536" in e["message"], e
    assert os.path.getsize(tmp_path / "big.tar") <= 65536
    e = fails(target.endpoint, "archive", "no-such-" + secrets.token_hex(4), "/bin", tmp_path / "x.tar", 1 << 30)
    assert e["errno"] == "ENOENT", e


def test_archive_is_written_as_it_comes(target, tmp_path):
    """64 MiB go through the probe without its memory growing by as much."""
    # in /tmp: Podman's "/" is 0555, not writable with every capability dropped
    out = target.run(cmd=["sh", "-c", "dd if=/dev/zero of=/tmp/big bs=1048576 count=64 && "
                                      "echo x > /tmp/small"])
    assert out["exit_code"] == 0, out
    small = ok(target.endpoint, "archive", out["id"], "/tmp/small", tmp_path / "small.tar", 1 << 30)
    big = ok(target.endpoint, "archive", out["id"], "/tmp/big", tmp_path / "big.tar", 1 << 30)
    m = _members(tmp_path / "big.tar")
    assert m["big"].size == 64 << 20
    grew_kb = big["max_rss_kb"] - small["max_rss_kb"]
    assert grew_kb < 16 << 10, (small, big)


# --- fake engines: answers no engine should give ----------------------------------------------

class FakeEngine:
    """Answers every connection with the bytes answer(method, target) returns
    (None: read the request, then stay silent until closed)."""

    def __init__(self, path, answer):
        self.path, self.answer = path, answer
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(8)
        self.conns = []
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)
            data = b""
            while b"\r\n\r\n" not in data:
                part = c.recv(65536)
                if not part:
                    break
                data += part
            method, target = data.split(b" ")[:2]
            out = self.answer(method.decode(), target.decode())
            if out is not None:
                try:
                    c.sendall(out)
                    c.close()
                except OSError:
                    pass

    def close(self):
        self.sock.close()
        for c in self.conns:
            c.close()


@pytest.fixture
def fake(tmp_path):
    made = []

    def start(answer):
        f = FakeEngine(str(tmp_path / ("fake%d.sock" % len(made))), answer)
        made.append(f)
        return "unix://" + f.path
    yield start
    for f in made:
        f.close()


def frame(stream, data):
    return bytes([stream, 0, 0, 0]) + len(data).to_bytes(4, "big") + data


def chunked(body, size=5):
    out = b""
    for i in range(0, len(body), size):
        piece = body[i:i + size]
        out += b"%x\r\n%s\r\n" % (len(piece), piece)
    return out + b"0\r\n\r\n"


def answer(status, body, chunks=False, ctype="application/json"):
    head = b"HTTP/1.1 %d X\r\nContent-Type: %s\r\n" % (status, ctype.encode())
    if chunks:
        return head + b"Transfer-Encoding: chunked\r\n\r\n" + chunked(body)
    return head + b"Content-Length: %d\r\n\r\n" % len(body) + body


def test_fake_logs_frames_raw_and_malformed(fake):
    good = frame(1, b"out\n") + frame(2, b"err\n") + frame(0, b"") + frame(1, b"end\n")
    ep = fake(lambda m, t: answer(200, good, chunks=True))
    assert ok(ep, "logs", "c1", 1000) == b"out\nerr\nend\n"
    assert ok(ep, "logs", "c1", 4) == b"end\n"
    # a container with a TTY: no frames, the text as it is
    ep = fake(lambda m, t: answer(200, b"tty text\r\n", chunks=True))
    assert ok(ep, "logs", "c1", 1000) == b"tty text\r\n"
    for bad, words in [
            (good + bytes([7, 0, 0, 0, 0, 0, 0, 1]) + b"x", "malformed"),  # stream 7
            (good + bytes([1, 9, 0, 0, 0, 0, 0, 1]) + b"x", "malformed"),  # non-zero padding
            (good + frame(1, b"cut here")[:-3], "inside a frame"),          # payload cut
            (good + frame(1, b"x")[:5], "inside a frame"),                  # header cut
            (bytes([1, 0, 0]), "inside a frame")]:                          # not even a header
        ep = fake(lambda m, t, bad=bad: answer(200, bad, chunks=True))
        e = fails(ep, "logs", "c1", 1000)
        assert e["errno"] == "EBADMSG" and words in e["message"], (bad, e)


def test_fake_wait_never_answered_times_out(fake):
    ep = fake(lambda m, t: None)
    t0 = time.monotonic()
    e = fails(ep, "wait", "abc", 1000)
    took = time.monotonic() - t0
    assert e["errno"] == "ETIMEDOUT" and "abc" in e["message"] and "1000 ms" in e["message"], e
    assert 0.9 <= took < 3.0, took
    assert fails(ep, "wait", "abc", 0)["errno"] == "EINVAL"


def test_fake_wait_errors(fake):
    ep = fake(lambda m, t: answer(200, b'{"StatusCode":137,"Error":null}'))
    assert ok(ep, "wait", "abc", 1000)["exit_code"] == 137
    ep = fake(lambda m, t: answer(200, b'{"StatusCode":0,"Error":{"Message":"the wait broke"}}'))
    e = fails(ep, "wait", "abc", 1000)
    assert e["errno"] == "EIO" and "the wait broke" in e["message"], e
    ep = fake(lambda m, t: answer(200, b'{"nothing":1}'))
    assert fails(ep, "wait", "abc", 1000)["errno"] == "EIO"


def test_fake_archive_limits_and_errors(fake, tmp_path):
    data = os.urandom(200000)
    ep = fake(lambda m, t: answer(200, data, chunks=False, ctype="application/x-tar"))
    ok(ep, "archive", "c1", "/p", tmp_path / "a", 200000)
    assert (tmp_path / "a").read_bytes() == data
    e = fails(ep, "archive", "c1", "/p", tmp_path / "b", 199999)  # a Content-Length past the limit
    assert e["errno"] == "EFBIG" and "199999" in e["message"], e
    ep = fake(lambda m, t: answer(200, data, chunks=True, ctype="application/x-tar"))
    e = fails(ep, "archive", "c1", "/p", tmp_path / "c", 100000)  # chunks past the limit
    assert e["errno"] == "EFBIG", e
    assert os.path.getsize(tmp_path / "c") <= 100000
    ep = fake(lambda m, t: answer(500, b'{"message":"the disk is on fire"}', chunks=True))
    e = fails(ep, "archive", "c1", "/p", tmp_path / "d", 100000)
    assert e["errno"] == "EIO" and "the disk is on fire" in e["message"], e
    ep = fake(lambda m, t: answer(200, data[:1000], ctype="application/x-tar")[:-10])  # cut short
    e = fails(ep, "archive", "c1", "/p", tmp_path / "e", 100000)
    assert e["errno"] == "ECONNREFUSED" and "cut short" in e["message"], e
