"""Export and import (docs/api.md, "Export and import"): round trips compared
byte for byte and attribute for attribute, hostile archives refused with no
volume left behind, through the REST API and the CLI."""

import hashlib
import io
import os
import stat
import subprocess
import tarfile
import time

import pytest

from conftest import Client, q
from test_storage import btrfs_dir, have_btrfs, needs_btrfs, needs_loop, sd  # noqa: F401 (fixtures)


def full_tree(path):
    """Per relative path: type, content or target, mode, owner, mtime, user xattrs, and
    which paths share an inode."""
    out, inodes = {}, {}
    for root, dirs, files in os.walk(path, followlinks=False):
        for n in dirs + files:
            p = os.path.join(root, n)
            rel = os.path.relpath(p, path)
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                what = ("link", os.readlink(p))
            elif stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    what = ("file", hashlib.sha256(f.read()).hexdigest())
                inodes.setdefault(st.st_ino, []).append(rel)
            elif stat.S_ISDIR(st.st_mode):
                what = ("dir", None)
            else:
                what = ("other", stat.S_IFMT(st.st_mode))
            xattrs = {}
            if not stat.S_ISLNK(st.st_mode):
                for k in os.listxattr(p):
                    if k.startswith("user."):
                        xattrs[k] = os.getxattr(p, k)
            mtime = None if stat.S_ISDIR(st.st_mode) and rel == "." else st.st_mtime_ns
            out[rel] = (what, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, mtime, tuple(sorted(xattrs.items())))
    links = sorted(tuple(sorted(v)) for v in inodes.values() if len(v) > 1)
    return out, links


def assert_same_tree(src, dst):
    (a, la), (b, lb) = full_tree(src), full_tree(dst)
    diff = [(k, a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
    assert not diff, "entries differ (path, source, copy): %r" % diff
    assert la == lb, "hard links differ: %r != %r" % (la, lb)


def fill_rich(path):
    os.makedirs(os.path.join(path, "dir/sub"))
    with open(os.path.join(path, "dir/sub/random.bin"), "wb") as f:
        f.write(os.urandom(2_500_000))
    with open(os.path.join(path, "sparse"), "wb") as f:
        f.seek(8 << 20)
        f.write(b"end")
    with open(os.path.join(path, "owned"), "w") as f:
        f.write("owned by 1234:5678\n")
    os.chown(os.path.join(path, "owned"), 1234, 5678)
    os.chmod(os.path.join(path, "owned"), 0o4750)
    os.link(os.path.join(path, "owned"), os.path.join(path, "dir/hardlink"))
    os.symlink("/etc/shadow", os.path.join(path, "out-link"))
    os.symlink("dir/sub", os.path.join(path, "in-link"))
    os.mkfifo(os.path.join(path, "fifo"))
    try:
        os.setxattr(os.path.join(path, "owned"), "user.team", b"payments")
    except OSError:
        pass  # a filesystem without user xattrs: compared as absent on both sides
    os.chown(os.path.join(path, "dir"), 42, 43)
    os.chmod(os.path.join(path, "dir"), 0o711)
    os.utime(os.path.join(path, "dir/sub/random.bin"), ns=(1_600_000_000_123_456_789, 1_600_000_000_123_456_789))
    os.utime(os.path.join(path, "dir/sub"), ns=(1_500_000_000_000_000_000, 1_500_000_000_000_000_000))


def export(c, name, comp=None):
    conn = c.conn
    st, body = c.request("GET", "/v1/volumes/%s/export%s" % (q(name), "?compression=" + comp if comp else ""))
    return st, body


def raw_export(daemon, name, comp=None):
    """The export's bytes, read raw (the test client decodes JSON)."""
    import http.client
    from conftest import UnixHTTPConnection
    conn = UnixHTTPConnection(daemon.socket, 60)
    conn.request("GET", "/v1/volumes/%s/export%s" % (q(name), "?compression=" + comp if comp else ""))
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, r.getheader("Content-Type"), data


def raw_import(daemon, query, data, chunked=False):
    from conftest import UnixHTTPConnection
    import json as _json
    conn = UnixHTTPConnection(daemon.socket, 120)
    if chunked:
        conn.putrequest("POST", "/v1/volumes/import?" + query)
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        for i in range(0, len(data), 100_000):
            piece = data[i:i + 100_000]
            conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
        conn.send(b"0\r\n\r\n")
    else:
        conn.request("POST", "/v1/volumes/import?" + query, body=data)
    r = conn.getresponse()
    body = r.read()
    conn.close()
    return r.status, _json.loads(body) if body else None


TARGETS = [pytest.param("local", "", id="local"),
           pytest.param("loop", "&opt=size=64m", id="loop", marks=needs_loop),
           pytest.param("btrfs", "&opt=size=64m", id="btrfs", marks=needs_btrfs)]


@pytest.mark.parametrize("comp", [None, "zstd"])
@pytest.mark.parametrize("driver,opts", TARGETS)
def test_round_trip_keeps_everything(sd, driver, opts, comp):
    c = sd.client()
    st, src = c.post("/v1/volumes", {"name": "src"})
    assert st == 201
    fill_rich(src["mountpoint"])
    st, ctype, data = raw_export(sd, "src", comp)
    assert st == 200 and ctype == ("application/zstd" if comp else "application/x-tar")
    if comp:
        assert data[:4] == b"\x28\xb5\x2f\xfd"  # the zstd frame magic
    else:
        names = tarfile.open(fileobj=io.BytesIO(data)).getnames()
        assert "dir/sub/random.bin" in names and "lost+found" not in names
    st, v = raw_import(sd, "name=dst&driver=%s%s" % (driver, opts), data, chunked=bool(comp))
    assert st == 201, v
    assert v["driver"] == driver
    assert_same_tree(src["mountpoint"], v["mountpoint"])
    assert os.readlink(os.path.join(v["mountpoint"], "out-link")) == "/etc/shadow"
    with open(os.path.join(v["mountpoint"], "sparse"), "rb") as f:
        f.seek(8 << 20)
        assert f.read() == b"end"
    # sparse stays sparse (far fewer blocks than its size)
    assert os.stat(os.path.join(v["mountpoint"], "sparse")).st_blocks * 512 < 4 << 20


def test_export_errors_are_json_before_the_stream(daemon):
    c = daemon.client()
    st, body = c.get("/v1/volumes/nosuch/export")
    assert st == 404 and body["error"]["code"] == "not_found"
    c.post("/v1/volumes", {"name": "e"})
    st, body = c.get("/v1/volumes/e/export?compression=rar")
    assert st == 400 and "zstd or none" in body["error"]["message"]


def tar_of(*members):
    """A tar archive of (TarInfo, bytes or None) pairs, built by hand."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for info, data in members:
            info.size = len(data) if data else 0
            t.addfile(info, io.BytesIO(data) if data else None)
    return buf.getvalue()


def ti(name, kind=tarfile.REGTYPE, **kw):
    info = tarfile.TarInfo(name)
    info.type = kind
    for k, v in kw.items():
        setattr(info, k, v)
    return info


HOSTILE = {
    "dotdot": (tar_of((ti("ok"), b"fine"), (ti("../escaped"), b"evil")), ".."),
    "dotdot-inside": (tar_of((ti("a/../../escaped"), b"evil"),), ".."),
    "absolute": (tar_of((ti("/tmp/volman-import-escaped"), b"evil"),), "absolute"),
    "through-symlink": (tar_of((ti("link", tarfile.SYMTYPE, linkname="/tmp"), None),
                               (ti("link/volman-import-escaped"), b"evil")), "symlink"),
    "device": (tar_of((ti("dev", tarfile.CHRTYPE, devmajor=1, devminor=3), None),), "device node"),
    "twice": (tar_of((ti("same"), b"one"), (ti("same"), b"two")), "twice"),
    "hardlink-out": (tar_of((ti("h", tarfile.LNKTYPE, linkname="../../etc/passwd"), None),), ".."),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_archives_are_refused_and_leave_nothing(daemon, case):
    data, words = HOSTILE[case]
    st, body = raw_import(daemon, "name=h", data)
    assert st == 400, body
    assert body["error"]["code"] == "invalid_argument" and words in body["error"]["message"], body
    c = daemon.client()
    assert c.get("/v1/volumes/h")[0] == 404
    assert not os.path.exists("/tmp/volman-import-escaped")
    assert [e for e in os.listdir(os.path.join(daemon.root, "local")) if e != "snapshots"] == []


@needs_loop
def test_size_bomb_past_the_volume_limit_is_refused(sd):
    big = tar_of((ti("bomb"), os.urandom(40 << 20)),)
    st, body = raw_import(sd, "name=small&driver=loop&opt=size=24m", big)
    assert st == 507 and body["error"]["code"] == "no_space", body
    assert "more than volume small can take" in body["error"]["message"]
    c = sd.client()
    assert c.get("/v1/volumes/small")[0] == 404
    assert [e for e in os.listdir(os.path.join(sd.root, "loop")) if e != "snapshots"] == []


def test_broken_uploads_leave_nothing(daemon):
    for data in (b"this is not an archive at all" * 100, tar_of((ti("f"), b"x" * 100_000),)[:30_000]):
        st, body = raw_import(daemon, "name=broken", data)
        assert st == 400, body
        assert daemon.client().get("/v1/volumes/broken")[0] == 404


def test_import_rules(daemon):
    c = daemon.client()
    c.post("/v1/volumes", {"name": "taken"})
    st, body = raw_import(daemon, "name=taken", tar_of((ti("f"), b"x"),))
    assert st == 409, body
    st, body = raw_import(daemon, "name=x&opt=nonsense", tar_of((ti("f"), b"x"),))
    assert st == 400 and "KEY=VALUE" in body["error"]["message"]
    st, body = raw_import(daemon, "name=x&tenant=acme", tar_of((ti("f"), b"x"),))
    assert st == 400 and "scope needs" in body["error"]["message"]
    st, body = raw_import(daemon, "name=x&bogus=1", tar_of((ti("f"), b"x"),))
    assert st == 400 and "bogus" in body["error"]["message"]
    # a scoped import is named after its scope
    st, body = raw_import(daemon, "tenant=acme&env=prod&app=web&path=/data", tar_of((ti("f"), b"x"),))
    assert st == 201 and body["scope"]["tenant"] == "acme", body


def test_crash_during_import_leaves_no_volume(make_daemon):
    d = make_daemon(env={"VOLMAN_FAILPOINT": "create-after-driver=kill"})
    try:
        raw_import(d, "name=half", tar_of((ti("f"), b"x" * 1000),))
    except Exception:
        pass
    d.wait_dead()
    d.start()
    assert d.client().get("/v1/volumes/half")[0] == 404
    assert "rolled back the interrupted create of half" in d.log_text()


def test_cli_export_import(daemon, cli_bin, tmp_path):
    c = daemon.client()
    st, src = c.post("/v1/volumes", {"name": "cli-src"})
    fill_rich(src["mountpoint"])
    for fname in ("a.tar", "a.tar.zst"):
        out = tmp_path / fname
        p = subprocess.run([cli_bin, "--socket", daemon.socket, "volume", "export", "cli-src", "-o", str(out)],
                           capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        assert p.stderr == ""  # no progress bar when stderr is not a terminal
        assert not os.path.exists(str(out) + ".part")
        with open(out, "rb") as f:
            head = f.read(512)
        if fname.endswith(".zst"):
            assert head[:4] == b"\x28\xb5\x2f\xfd", head[:4]  # zstd's magic
        else:
            assert head[257:262] == b"ustar", head[:300]  # a plain tar
        dst = "cli-dst-" + fname.replace(".", "-")
        p = subprocess.run([cli_bin, "--socket", daemon.socket, "volume", "import", dst, "-i", str(out), "--quiet"],
                           capture_output=True, text=True)
        assert p.returncode == 0 and p.stdout.strip() == dst, p.stderr
        v = c.get("/v1/volumes/" + dst)[1]
        assert_same_tree(src["mountpoint"], v["mountpoint"])
    # stdin and stdout
    p = subprocess.run("%s --socket %s volume export cli-src -o - | %s --socket %s volume import piped -i -"
                       % (cli_bin, daemon.socket, cli_bin, daemon.socket), shell=True, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert_same_tree(src["mountpoint"], c.get("/v1/volumes/piped")[1]["mountpoint"])
    p = subprocess.run([cli_bin, "--socket", daemon.socket, "volume", "export", "nosuch", "-o", str(tmp_path / "n.tar")],
                       capture_output=True, text=True)
    assert p.returncode == 4 and "not found" in p.stderr and not os.path.exists(tmp_path / "n.tar")


def run_on_terminal(argv, timeout=120):
    """Runs argv with its stderr on a pseudo-terminal; returns (rc, stdout, what the terminal showed)."""
    import pty
    import select
    from conftest import base_env
    master, slave = pty.openpty()
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave, env=base_env())
    os.close(slave)
    shown = b""
    try:
        while select.select([master], [], [], timeout)[0]:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            shown += data
    finally:
        os.close(master)
    out = p.stdout.read()
    p.wait(timeout)
    return p.returncode, out.decode(), shown.decode("utf-8", "replace")


@needs_loop
def test_cli_progress_bars_on_a_terminal(sd, cli_bin, tmp_path):
    import re
    c = sd.client()
    st, v = c.post("/v1/volumes", {"name": "big", "driver": "loop", "options": {"size": "128m"}})
    assert st == 201, v
    for i in range(6):
        with open(os.path.join(v["mountpoint"], "f%d" % i), "wb") as f:
            f.write(os.urandom(8 << 20))
    base = [cli_bin, "--socket", sd.socket, "volume"]
    out = str(tmp_path / "big.tar")
    rc, stdout, shown = run_on_terminal(base + ["export", "big", "-o", out])
    assert rc == 0, shown
    # bytes, the volume's usage as the total, a rate and an ETA, ending at the whole
    bar = r"exporting: [\d.]+ (B|KiB|MiB) of [\d.]+ MiB \(\s*\d+%\), [\d.]+ (B|KiB|MiB|GiB)/s, ETA \d+:\d\d"
    assert re.search(bar, shown), shown[-500:]
    last = shown.strip().split("\r")[-1]
    assert re.match(r"exporting: (4[89]|5\d)\.\d MiB", last), last  # the whole archive, at the end
    rc, stdout, shown = run_on_terminal(base + ["import", "big-copy", "-i", out, "--driver", "loop",
                                                "--opt", "size=128m"])
    assert rc == 0 and stdout.strip() == "big-copy", shown
    size = os.path.getsize(out) / (1 << 20)
    assert re.search(r"importing: [\d.]+ (B|KiB|MiB) of %.1f MiB \(\s*\d+%%\), [\d.]+ (B|KiB|MiB|GiB)/s, "
                     r"ETA \d+:\d\d" % size, shown), shown[-500:]
    assert "%.1f MiB of %.1f MiB (100%%)" % (size, size) in shown, shown[-500:]
    # --quiet (-q): nothing on the terminal
    os.unlink(out)
    rc, stdout, shown = run_on_terminal(base + ["export", "big", "-o", out, "-q"])
    assert rc == 0 and shown == "" and os.path.getsize(out) > 48 << 20, shown
    rc, stdout, shown = run_on_terminal(base + ["import", "big-copy2", "-i", out, "--quiet"])
    assert rc == 0 and shown == "" and stdout.strip() == "big-copy2", shown


def test_a_running_import_shows_its_progress(daemon):
    """GET /v1/operations/{id} while the upload is half sent, then once it is done."""
    from conftest import UnixHTTPConnection
    import json as _json
    data = tar_of((ti("a"), os.urandom(3 << 20)), (ti("b"), os.urandom(3 << 20)))
    conn = UnixHTTPConnection(daemon.socket, 120)
    conn.putrequest("POST", "/v1/volumes/import?name=progress")
    conn.putheader("Transfer-Encoding", "chunked")
    conn.putheader("X-Volman-Operation", "import-0001")
    conn.endheaders()
    half = len(data) // 2
    conn.send(b"%x\r\n%s\r\n" % (half, data[:half]))
    c = daemon.client()

    def seen():
        st, op = c.get("/v1/operations/import-0001")
        return op if st == 200 and op["bytes"] > 0 else None
    from conftest import wait_until
    op = wait_until("the import's progress", seen)
    assert op["kind"] == "import" and op["state"] == "running" and op["volume"] == "progress"
    assert 0 < op["bytes"] <= half and op["finished_at"] is None
    assert [o["id"] for o in c.get("/v1/operations")[1]["operations"]] == ["import-0001"]
    conn.send(b"%x\r\n%s\r\n0\r\n\r\n" % (len(data) - half, data[half:]))
    r = conn.getresponse()
    assert r.status == 201, r.read()
    r.read()
    conn.close()
    st, op = c.get("/v1/operations/import-0001")
    assert st == 200 and op["state"] == "done" and op["bytes"] == 6 << 20 and op["entries"] == 2, op
    st, body = c.get("/v1/operations/nosuch-op")
    assert st == 404
    st, body = c.get("/v1/operations/BAD")
    assert st == 400


def test_cli_import_from_a_pipe_sends_as_it_reads(daemon, cli_bin):
    """`volman volume import -i -` sends what the pipe has, not a full buffer:
    a slow producer (an export over a slow link) must not leave volmand
    waiting on an upload that sends nothing (it drops one after 10 s)."""
    c = daemon.client()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        first = b"first entry\n" * 1000
        ti = tarfile.TarInfo("first")
        ti.size = len(first)
        t.addfile(ti, io.BytesIO(first))
        big = os.urandom(1 << 20)
        ti = tarfile.TarInfo("big")
        ti.size = len(big)
        t.addfile(ti, io.BytesIO(big))
    data = buf.getvalue()
    p = subprocess.Popen([cli_bin, "--socket", daemon.socket, "volume", "import", "slow", "-i", "-", "--quiet"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        p.stdin.write(data[:64 << 10])  # "first" whole, and the start of "big"
        p.stdin.flush()
        # the import is under way (its record says so) and has written "first"
        # out of the part sent so far, while the rest is still to come
        seen = None
        deadline = time.monotonic() + 8  # less than volmand's 10 s for a silent upload
        while time.monotonic() < deadline:
            st, v = c.get("/v1/volumes/slow")
            if st == 200 and os.path.exists(os.path.join(v["mountpoint"], "first")):
                with open(os.path.join(v["mountpoint"], "first"), "rb") as f:
                    seen = f.read()
                if seen == first:
                    break
            time.sleep(0.05)
        assert seen == first, "nothing of the first 64 KiB reached volmand before the end of the input"
        assert v["status"] == "creating", v
        p.stdin.write(data[64 << 10:])
        p.stdin.close()
        p.wait(timeout=60)
        out, err = p.stdout.read(), p.stderr.read()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0 and out.decode().strip() == "slow", err
    st, v = c.get("/v1/volumes/slow")
    assert st == 200 and v["status"] == "ready", v
    with open(os.path.join(v["mountpoint"], "big"), "rb") as f:
        assert f.read() == big
