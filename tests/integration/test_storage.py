"""Storage drivers with hard limits (loop, btrfs), snapshots, clones and resizes,
on real filesystems the tests make (docs/api.md, "Storage").

btrfs runs on an image the fixture formats and loop-mounts; the loop driver uses
the host's loop devices. A host whose kernel lacks btrfs or loop devices skips
what needs them, saying so."""

import json
import os
import stat
import subprocess
import time

import pytest

from conftest import Client, q, wait_removals_done, wait_until


def have_btrfs():
    with open("/proc/filesystems") as f:
        return any(line.split()[-1] == "btrfs" for line in f)


needs_loop = pytest.mark.skipif(not os.path.exists("/dev/loop-control"),
                                reason="this kernel has no loop devices (/dev/loop-control)")
needs_btrfs = pytest.mark.skipif(not have_btrfs() or not os.path.exists("/dev/loop-control"),
                                 reason="this kernel has no btrfs (or no loop device to hold one)")


@pytest.fixture
def btrfs_dir(tmp_path_factory):
    """A fresh 1 GiB btrfs filesystem, loop-mounted; unmounted at teardown."""
    if not have_btrfs():
        pytest.skip("this kernel has no btrfs")
    d = tmp_path_factory.mktemp("btrfs")
    img, mnt = d / "fs.img", d / "mnt"
    mnt.mkdir()
    subprocess.run(["truncate", "-s", "1G", str(img)], check=True)
    subprocess.run(["mkfs.btrfs", "-q", "-f", str(img)], check=True, capture_output=True)
    subprocess.run(["mount", "-o", "loop", str(img), str(mnt)], check=True)
    yield str(mnt)
    subprocess.run(["umount", "-l", str(mnt)], check=False)


@pytest.fixture
def sd(btrfs_dir, make_daemon):
    """volmand with every driver available."""
    return make_daemon(args=["--btrfs-root", btrfs_dir])


def create(c, name, driver, **opts):
    st, body = c.post("/v1/volumes", {"name": name, "driver": driver, "options": opts})
    assert st == 201, body
    return body


def inspect(c, name, usage=False):
    st, body = c.get("/v1/volumes/%s%s" % (q(name), "?usage=true" if usage else ""))
    assert st == 200, body
    return body


def tree(path):
    """Everything a volume holds: per relative path, type, mode, owner, content or target."""
    out = {}
    for root, dirs, files in os.walk(path, followlinks=False):
        for n in dirs + files:
            p = os.path.join(root, n)
            st = os.lstat(p)
            rel = os.path.relpath(p, path)
            if rel == "lost+found":
                continue
            if stat.S_ISLNK(st.st_mode):
                what = ("link", os.readlink(p))
            elif stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    what = ("file", f.read())
            else:
                what = ("dir", None)
            out[rel] = (what, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)
    return out


def fill(path):
    """Files, a hard link, a symlink out of the volume, modes and owners."""
    os.makedirs(os.path.join(path, "a/b"))
    with open(os.path.join(path, "a/b/data.bin"), "wb") as f:
        f.write(os.urandom(300_000))
    with open(os.path.join(path, "note.txt"), "w") as f:
        f.write("first\n")
    os.chmod(os.path.join(path, "note.txt"), 0o640)
    os.chown(os.path.join(path, "note.txt"), 1234, 5678)
    os.link(os.path.join(path, "note.txt"), os.path.join(path, "a/hard"))
    os.symlink("/etc/shadow", os.path.join(path, "escape"))


def assert_err(st, body, want, code):
    assert st == want, (st, body)
    assert body["error"]["code"] == code and body["error"]["message"], body


# ---- drivers ---------------------------------------------------------------------


def test_driver_list_says_what_works_and_why_not(daemon, cli_bin):
    c = daemon.client()
    st, body = c.get("/v1/drivers")
    assert st == 200
    by = {d["name"]: d for d in body["drivers"]}
    assert set(by) == {"local", "tmpfs", "loop", "btrfs"}
    assert by["btrfs"]["available"] is False and "--btrfs-root" in by["btrfs"]["reason"]
    assert by["local"]["available"] and "size_limit" not in by["local"]["capabilities"]
    assert "snapshot" in by["local"]["capabilities"] and "size_limit" in by["tmpfs"]["capabilities"]
    st, body = c.post("/v1/volumes", {"name": "x", "driver": "btrfs", "options": {"size": "10m"}})
    assert_err(st, body, 400, "not_supported")
    assert "btrfs is not available on this host: no --btrfs-root" in body["error"]["message"]
    p = subprocess.run([cli_bin, "--socket", daemon.socket, "driver", "ls"], capture_output=True, text=True)
    assert p.returncode == 0 and "btrfs" in p.stdout and "no --btrfs-root" in p.stdout


def test_local_refuses_a_size_naming_the_drivers_that_can(daemon):
    st, body = daemon.client().post("/v1/volumes", {"name": "x", "options": {"size": "1g"}})
    assert_err(st, body, 400, "invalid_argument")
    msg = body["error"]["message"]
    assert "local cannot enforce a size limit" in msg and "tmpfs" in msg and "loop" in msg and "btrfs" in msg
    assert daemon.client().get("/v1/volumes")[1]["volumes"] == []


def test_btrfs_root_that_is_not_btrfs_is_unavailable(make_daemon, tmp_path):
    d = make_daemon(args=["--btrfs-root", str(tmp_path)])
    by = {x["name"]: x for x in d.client().get("/v1/drivers")[1]["drivers"]}
    assert by["btrfs"]["available"] is False and "not on a btrfs filesystem" in by["btrfs"]["reason"]


def test_local_usage_walk_stops_at_128_levels_and_says_so(daemon):
    c = daemon.client()
    v = create(c, "deep", "local")
    top = v["mountpoint"]
    shallow = os.path.join(top, *["d"] * 100)
    os.makedirs(shallow)
    with open(os.path.join(shallow, "counted"), "wb") as f:
        f.write(b"c" * (1 << 20))
    st, body = c.get("/v1/volumes/deep?usage=true")
    assert st == 200 and "note" not in body and body["usage"]["bytes"] >= 1 << 20, body
    deep = os.path.join(shallow, *["d"] * 60)  # 160 levels
    os.makedirs(deep)
    with open(os.path.join(deep, "uncounted"), "wb") as f:
        f.write(b"u" * (4 << 20))
    t0 = time.monotonic()
    st, body = c.get("/v1/volumes/deep?usage=true")
    assert st == 200 and time.monotonic() - t0 < 10, body
    assert "usage is partial" in body["note"] and "128" in body["note"], body
    assert (1 << 20) <= body["usage"]["bytes"] < (4 << 20), body  # what lies past the bound is not counted
    st, body = c.get("/v1/volumes?usage=true")
    assert st == 200 and "usage is partial" in body["volumes"][0]["note"], body


# ---- hard limits -----------------------------------------------------------------


def write_until_full(path, limit):
    """Writes 1 MiB blocks until the filesystem refuses; returns (bytes written, errno)."""
    n = 0
    block = b"\xa5" * (1 << 20)
    try:
        with open(os.path.join(path, "fill"), "wb") as f:
            while n < limit * 4:
                f.write(block)
                f.flush()
                os.fsync(f.fileno())
                n += len(block)
    except OSError as e:
        return n, e.errno
    return n, None


@needs_loop
def test_loop_volume_is_hard_limited(sd):
    c = sd.client()
    st, body = c.post("/v1/volumes", {"name": "nosize", "driver": "loop"})
    assert_err(st, body, 400, "invalid_argument")
    assert "needs the size option" in body["error"]["message"]
    v = create(c, "lv", "loop", size="48m", uid="1000", mode="0750")
    mp = v["mountpoint"]
    st_ = os.stat(mp)
    assert st_.st_uid == 1000 and stat.S_IMODE(st_.st_mode) == 0o750
    assert os.listdir(mp) == []  # no lost+found: a volume starts empty
    info = inspect(c, "lv", usage=True)
    assert info["size_limit_bytes"] == 48 << 20 and "usage" in info
    written, err = write_until_full(mp, 48 << 20)
    import errno
    assert err == errno.ENOSPC and written <= 48 << 20, (written, err)
    # a full volume breaks nothing else
    assert inspect(c, "lv", usage=True)["usage"]["bytes"] > 32 << 20
    create(c, "other", "local")


@needs_btrfs
def test_btrfs_volume_is_hard_limited_by_its_qgroup(sd):
    c = sd.client()
    v = create(c, "bv", "btrfs", size="32m")
    written, err = write_until_full(v["mountpoint"], 32 << 20)
    import errno
    assert err == errno.EDQUOT and written <= 32 << 20, (written, err)
    info = inspect(c, "bv", usage=True)
    assert info["size_limit_bytes"] == 32 << 20
    assert info["usage"]["bytes"] >= 16 << 20  # from the qgroup, without a walk


# ---- snapshots -------------------------------------------------------------------

DRIVERS = [pytest.param("local", {}, id="local"),
           pytest.param("loop", {"size": "64m"}, id="loop", marks=needs_loop),
           pytest.param("btrfs", {"size": "64m"}, id="btrfs", marks=needs_btrfs)]


@pytest.mark.parametrize("driver,opts", DRIVERS)
def test_snapshot_write_restore_gives_the_tree_back(sd, driver, opts):
    c = sd.client()
    v = create(c, "sv", driver, **opts)
    mp = v["mountpoint"]
    fill(mp)
    before = tree(mp)
    st, snap = c.post("/v1/volumes/sv/snapshots", {"name": "s1"})
    assert st == 201 and snap["name"] == "s1" and snap["ready"], snap
    # change everything
    with open(os.path.join(mp, "note.txt"), "w") as f:
        f.write("second\n")
    os.unlink(os.path.join(mp, "escape"))
    os.makedirs(os.path.join(mp, "new"))
    assert tree(mp) != before
    assert [s["name"] for s in inspect(c, "sv")["snapshots"]] == ["s1"]
    st, body = c.post("/v1/volumes/sv/snapshots/s1/restore")
    assert st == 200, body
    assert tree(mp) == before
    assert os.readlink(os.path.join(mp, "escape")) == "/etc/shadow"  # a link, not what it points to
    assert os.stat(os.path.join(mp, "a/hard")).st_ino == os.stat(os.path.join(mp, "note.txt")).st_ino


@pytest.mark.parametrize("driver,opts", DRIVERS)
def test_snapshot_rules(sd, driver, opts):
    c = sd.client()
    create(c, "sv", driver, **opts)
    st, body = c.post("/v1/volumes/sv/snapshots", {"name": "a"})
    assert st == 201
    st, body = c.post("/v1/volumes/sv/snapshots", {"name": "a"})
    assert_err(st, body, 409, "conflict")
    for bad in ("", "-x", "a/b", "../x", "x" * 65, "a b"):
        st, body = c.post("/v1/volumes/sv/snapshots", {"name": bad})
        assert_err(st, body, 400, "invalid_argument")
    st, body = c.post("/v1/volumes/sv/snapshots", {})
    assert st == 201 and body["name"].endswith("Z")  # named after the time
    st, body = c.post("/v1/volumes/sv/mount", {"id": "holder-1"})
    assert st == 200
    st, body = c.post("/v1/volumes/sv/snapshots/a/restore")
    assert_err(st, body, 409, "in_use")
    assert "holder-1" in body["error"]["message"] and "admin" in body["error"]["message"]
    assert c.post("/v1/volumes/sv/unmount", {"id": "holder-1"})[0] == 200
    st, body = c.post("/v1/volumes/sv/snapshots/nope/restore")
    assert_err(st, body, 404, "not_found")
    assert c.delete("/v1/volumes/sv/snapshots/a")[0] == 204
    st, body = c.get("/v1/volumes/sv/snapshots")
    assert [s["name"] for s in body["snapshots"]] != [] and "a" not in [s["name"] for s in body["snapshots"]]
    st, body = c.post("/v1/volumes/nosuch/snapshots", {"name": "a"})
    assert_err(st, body, 404, "not_found")


def test_snapshot_cap_per_volume(sd):
    c = sd.client()
    create(c, "many", "local")
    for i in range(64):
        st, body = c.post("/v1/volumes/many/snapshots", {"name": "s%02d" % i})
        assert st == 201, body
    st, body = c.post("/v1/volumes/many/snapshots", {"name": "one-more"})
    assert_err(st, body, 413, "too_large")
    assert "64" in body["error"]["message"]


def test_tmpfs_cannot_snapshot(sd):
    c = sd.client()
    create(c, "t", "tmpfs", size="8m")
    st, body = c.post("/v1/volumes/t/snapshots", {"name": "a"})
    assert_err(st, body, 400, "not_supported")
    assert "local" in body["error"]["message"] and "btrfs" in body["error"]["message"]


@pytest.mark.parametrize("driver,opts", DRIVERS)
def test_snapshots_go_with_their_volume(sd, btrfs_dir, driver, opts):
    c = sd.client()
    create(c, "gone", driver, **opts)
    for n in ("a", "b"):
        assert c.post("/v1/volumes/gone/snapshots", {"name": n})[0] == 201
    snapdir = os.path.join(btrfs_dir, "snapshots") if driver == "btrfs" else \
        os.path.join(sd.root, driver, "snapshots")
    assert len(os.listdir(snapdir)) == 2
    assert c.delete("/v1/volumes/gone")[0] == 204
    wait_removals_done(c)
    wait_until("snapshots destroyed", lambda: os.listdir(snapdir) == [])
    # a new volume of that name has none
    create(c, "gone", driver, **opts)
    assert c.get("/v1/volumes/gone/snapshots")[1]["snapshots"] == []


@needs_btrfs
def test_btrfs_snapshot_is_read_only(sd, btrfs_dir):
    import errno
    c = sd.client()
    v = create(c, "ro", "btrfs", size="32m")
    with open(os.path.join(v["mountpoint"], "f"), "w") as f:
        f.write("x")
    assert c.post("/v1/volumes/ro/snapshots", {"name": "s"})[0] == 201
    [snap] = os.listdir(os.path.join(btrfs_dir, "snapshots"))
    path = os.path.join(btrfs_dir, "snapshots", snap)
    p = subprocess.run(["btrfs", "property", "get", "-ts", path, "ro"], capture_output=True, text=True)
    assert p.stdout.strip() == "ro=true", (p.stdout, p.stderr)
    for attempt in (lambda: open(os.path.join(path, "new"), "w"), lambda: open(os.path.join(path, "f"), "a"),
                    lambda: os.unlink(os.path.join(path, "f"))):
        with pytest.raises(OSError) as e:
            attempt()
        assert e.value.errno == errno.EROFS
    with open(os.path.join(path, "f")) as f:
        assert f.read() == "x"


def qgroups(path):
    p = subprocess.run(["btrfs", "qgroup", "show", path], capture_output=True, text=True, check=True)
    return {l.split()[0] for l in p.stdout.splitlines() if l.startswith("0/")}


def subvol_id(path):
    import re
    p = subprocess.run(["btrfs", "subvolume", "show", path], capture_output=True, text=True, check=True)
    return int(re.search(r"Subvolume ID:\s+(\d+)", p.stdout).group(1))


@needs_btrfs
def test_stale_qgroups_of_deleted_subvolumes_are_destroyed(btrfs_dir, make_daemon):
    # a kernel that destroys a dropped subvolume's qgroup itself leaves nothing to test
    subprocess.run(["btrfs", "quota", "enable", btrfs_dir], check=True)
    probe = os.path.join(btrfs_dir, "probe")
    subprocess.run(["btrfs", "subvolume", "create", probe], check=True, capture_output=True)
    pid = subvol_id(probe)
    subprocess.run(["btrfs", "subvolume", "delete", probe], check=True, capture_output=True)
    # a commit first wakes the cleaner, which would otherwise wait for the 30 s commit interval
    subprocess.run(["btrfs", "filesystem", "sync", btrfs_dir], check=True, capture_output=True)
    subprocess.run(["btrfs", "subvolume", "sync", btrfs_dir], check=True, capture_output=True)
    if "0/%d" % pid not in qgroups(btrfs_dir):
        print("skipped: this kernel (%s) destroys a dropped subvolume's qgroup itself" % os.uname().release)
        pytest.skip("this kernel (%s) destroys a deleted subvolume's qgroup itself: no stale qgroup "
                    "can be made for volmand to clean" % os.uname().release)
    # the probe's stale qgroup goes at start-up
    d = make_daemon(args=["--btrfs-root", btrfs_dir])
    assert "0/%d" % pid not in qgroups(btrfs_dir)
    # and a removed volume's, once btrfs has let go of its subvolume (at the latest at the next start)
    c = d.client()
    v = create(c, "qg", "btrfs", size="16m")
    vid = subvol_id(v["mountpoint"])
    assert "0/%d" % vid in qgroups(btrfs_dir)
    assert c.delete("/v1/volumes/qg")[0] == 204
    wait_removals_done(c)
    # a commit first wakes the cleaner, which would otherwise wait for the 30 s commit interval
    subprocess.run(["btrfs", "filesystem", "sync", btrfs_dir], check=True, capture_output=True)
    subprocess.run(["btrfs", "subvolume", "sync", btrfs_dir], check=True, capture_output=True)
    d.stop()
    d.start(args=d.args)
    assert "0/%d" % vid not in qgroups(btrfs_dir)


# ---- clones ----------------------------------------------------------------------


@pytest.mark.parametrize("driver,opts", DRIVERS)
def test_clone_is_a_copy_and_independent(sd, driver, opts):
    c = sd.client()
    v = create(c, "src", driver, **opts)
    fill(v["mountpoint"])
    st, cl = c.post("/v1/volumes/src/clone", {"name": "dst", "labels": {"kind": "copy"}})
    assert st == 201, cl
    assert cl["driver"] == driver and cl["options"] == v["options"] and cl["labels"] == {"kind": "copy"}
    assert tree(cl["mountpoint"]) == tree(v["mountpoint"])
    with open(os.path.join(cl["mountpoint"], "note.txt"), "w") as f:
        f.write("clone's\n")
    with open(os.path.join(v["mountpoint"], "a/b/data.bin"), "wb") as f:
        f.write(b"source's")
    with open(os.path.join(v["mountpoint"], "note.txt")) as f:
        assert f.read() == "first\n"
    with open(os.path.join(cl["mountpoint"], "a/b/data.bin"), "rb") as f:
        assert len(f.read()) == 300_000
    st, body = c.post("/v1/volumes/src/clone", {"name": "dst"})
    assert_err(st, body, 409, "conflict")
    st, body = c.post("/v1/volumes/src/clone", {"name": "src"})
    assert_err(st, body, 409, "conflict")
    # the source can go; the clone stays whole
    assert c.delete("/v1/volumes/src")[0] == 204
    with open(os.path.join(cl["mountpoint"], "note.txt")) as f:
        assert f.read() == "clone's\n"


# ---- resize ----------------------------------------------------------------------


@needs_btrfs
def test_btrfs_resize_grows_and_refuses_to_shrink_below_usage(sd):
    c = sd.client()
    v = create(c, "rb", "btrfs", size="16m")
    written, _ = write_until_full(v["mountpoint"], 16 << 20)
    os.unlink(os.path.join(v["mountpoint"], "fill"))
    with open(os.path.join(v["mountpoint"], "keep"), "wb") as f:
        f.write(b"k" * (10 << 20))
        os.fsync(f.fileno())
    subprocess.run(["btrfs", "filesystem", "sync", v["mountpoint"]], check=True)
    st, body = c.post("/v1/volumes/rb/resize", {"size": "4m"})
    assert_err(st, body, 507, "no_space")
    assert inspect(c, "rb")["options"]["size"] == "16m"
    st, body = c.post("/v1/volumes/rb/resize", {"size": "64m"})
    assert st == 200 and body["options"]["size"] == "64m", body
    assert inspect(c, "rb")["size_limit_bytes"] == 64 << 20
    written2, _ = write_until_full(v["mountpoint"], 64 << 20)
    assert written2 > 32 << 20


@needs_loop
def test_loop_resize_grows_unmounted_and_refuses_in_use(sd):
    c = sd.client()
    v = create(c, "rl", "loop", size="32m")
    with open(os.path.join(v["mountpoint"], "keep"), "w") as f:
        f.write("kept")
    assert c.post("/v1/volumes/rl/mount", {"id": "c1"})[0] == 200
    st, body = c.post("/v1/volumes/rl/resize", {"size": "64m"})
    assert_err(st, body, 409, "in_use")
    assert c.post("/v1/volumes/rl/unmount", {"id": "c1"})[0] == 200
    st, body = c.post("/v1/volumes/rl/resize", {"size": "96m"})
    assert st == 200, body
    sv = os.statvfs(v["mountpoint"])
    assert sv.f_blocks * sv.f_frsize > 80 << 20
    with open(os.path.join(v["mountpoint"], "keep")) as f:
        assert f.read() == "kept"
    st, body = c.post("/v1/volumes/rl/resize", {"size": "nonsense"})
    assert_err(st, body, 400, "invalid_argument")
    st, body = c.post("/v1/volumes/rl/resize", {"size": "1m"})
    assert_err(st, body, 400, "invalid_argument")


@needs_loop
def test_loop_shrink_below_usage_is_refused_and_changes_nothing(sd):
    c = sd.client()
    v = create(c, "sl", "loop", size="96m")
    with open(os.path.join(v["mountpoint"], "keep"), "wb") as f:
        f.write(os.urandom(20 << 20))
        os.fsync(f.fileno())
    st, body = c.post("/v1/volumes/sl/resize", {"size": "16m"})
    assert_err(st, body, 507, "no_space")
    assert "not shrunk" in body["error"]["message"]
    info = inspect(c, "sl", usage=True)
    assert info["options"]["size"] == "96m" and info["size_limit_bytes"] == 96 << 20
    assert os.path.ismount(v["mountpoint"]) and os.path.getsize(os.path.join(v["mountpoint"], "keep")) == 20 << 20
    sv = os.statvfs(v["mountpoint"])
    assert sv.f_blocks * sv.f_frsize > 80 << 20  # the filesystem was not shrunk either
    # a shrink the data fits is done (resize2fs wants room for its metadata too)
    st, body = c.post("/v1/volumes/sl/resize", {"size": "64m"})
    assert st == 200 and body["options"]["size"] == "64m", body
    assert os.path.getsize(v["mountpoint"] + ".img") == 64 << 20


def test_resize_of_a_driver_without_it(daemon):
    c = daemon.client()
    create(c, "plain", "local")
    st, body = c.post("/v1/volumes/plain/resize", {"size": "1g"})
    assert_err(st, body, 400, "not_supported")
    assert "loop" in body["error"]["message"]


# ---- the CLI, end to end ---------------------------------------------------------


@needs_loop
def test_cli_snapshots_clone_and_update(sd):
    import re
    c = sd.client()
    v = create(c, "cv", "loop", size="32m")
    mp = v["mountpoint"]
    with open(os.path.join(mp, "note"), "w") as f:
        f.write("one")
    rc, out, err = sd.cli("volume", "snapshot", "create", "cv", "s1")
    assert (rc, out) == (0, "s1\n"), err
    rc, out, err = sd.cli("volume", "snapshot", "create", "cv", "-q")
    assert rc == 0 and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ\n", out), (out, err)
    auto = out.strip()
    rc, out, err = sd.cli("volume", "snapshot", "ls", "cv")
    lines = out.splitlines()
    assert rc == 0 and lines[0].split() == ["NAME", "CREATED", "STATE"], out
    # (oldest first at the second; two made in one second come by name)
    assert sorted(l.split()[0] for l in lines[1:]) == sorted(["s1", auto])
    assert all(l.split()[-1] == "ready" for l in lines[1:]), out
    rc, out, err = sd.cli("volume", "snapshot", "ls", "cv", "--json")
    assert rc == 0 and sorted(s["name"] for s in json.loads(out)) == sorted(["s1", auto])
    rc, out, err = sd.cli("volume", "snapshot", "create", "cv", "s1")
    assert rc == 5 and "s1" in err, (rc, err)  # 409: the name is taken
    # restore: the content goes back to s1's
    with open(os.path.join(mp, "note"), "w") as f:
        f.write("two")
    rc, out, err = sd.cli("volume", "snapshot", "restore", "cv", "s1")
    assert (rc, out) == (0, ""), err
    with open(os.path.join(mp, "note")) as f:
        assert f.read() == "one"
    assert c.post("/v1/volumes/cv/mount", {"id": "holder"})[0] == 200
    rc, out, err = sd.cli("volume", "snapshot", "restore", "cv", "s1")
    assert rc == 5 and "holder" in err, (rc, err)
    assert c.post("/v1/volumes/cv/unmount", {"id": "holder"})[0] == 200
    # rm: each name on its own; one missing fails the command, not the others
    rc, out, err = sd.cli("volume", "snapshot", "rm", "cv", "s1", "nosuch")
    assert rc == 4 and out == "s1\n" and "nosuch" in err, (rc, out, err)
    assert [s["name"] for s in c.get("/v1/volumes/cv/snapshots")[1]["snapshots"]] == [auto]
    # clone: a new, independent volume with the content and the labels asked
    rc, out, err = sd.cli("volume", "clone", "cv", "cv2", "--label", "k=v", "-q")
    assert (rc, out) == (0, "cv2\n"), err
    cl = inspect(c, "cv2")
    assert cl["driver"] == "loop" and cl["labels"] == {"k": "v"} and cl["options"]["size"] == "32m"
    with open(os.path.join(cl["mountpoint"], "note"), "w") as f:
        f.write("clone's")
    with open(os.path.join(mp, "note")) as f:
        assert f.read() == "one"
    rc, out, err = sd.cli("volume", "clone", "cv", "cv2")
    assert rc == 5, (rc, err)
    # update --size: the image and its filesystem grow
    rc, out, err = sd.cli("volume", "update", "cv", "--size", "96m")
    assert (rc, out) == (0, "cv\n"), err
    assert inspect(c, "cv")["options"]["size"] == "96m" and inspect(c, "cv")["size_limit_bytes"] == 96 << 20
    sv = os.statvfs(mp)
    assert sv.f_blocks * sv.f_frsize > 80 << 20
    with open(os.path.join(mp, "note")) as f:
        assert f.read() == "one"
    rc, out, err = sd.cli("volume", "update", "cv", "--size", "1m")
    assert rc == 6 and "between 16m and 16t" in err, (rc, err)
    rc, out, err = sd.cli("volume", "update", "cv")
    assert rc == 2 and "--size" in err
    create(c, "plain", "local")
    rc, out, err = sd.cli("volume", "update", "plain", "--size", "1g")
    assert rc == 6 and "loop" in err, (rc, err)


# ---- start-up and crashes --------------------------------------------------------


@needs_loop
def test_loop_volumes_are_attached_again_at_start(sd):
    c = sd.client()
    v = create(c, "persist", "loop", size="32m")
    with open(os.path.join(v["mountpoint"], "f"), "w") as f:
        f.write("still here")
        os.fsync(f.fileno())
    sd.stop()
    # a reboot detaches every loop device: unmount as it would
    subprocess.run(["umount", v["mountpoint"]], check=True)
    assert not os.path.ismount(v["mountpoint"])
    sd.start(args=sd.args)
    assert os.path.ismount(v["mountpoint"])
    with open(os.path.join(v["mountpoint"], "f")) as f:
        assert f.read() == "still here"


def finding(daemon, kind):
    """The count of one kind of start-up finding, from /metrics."""
    import re
    st, text = daemon.client().get("/metrics")
    m = re.search(r'^volman_reconcile_findings\{kind="%s"\} (\d+)$' % kind, text, re.M)
    assert st == 200 and m, (kind, text[-2000:])
    return int(m.group(1))


@needs_loop
def test_loop_image_that_cannot_mount_is_reported_and_the_rest_served(sd):
    c = sd.client()
    bad = create(c, "bad", "loop", size="32m")
    good = create(c, "good", "loop", size="32m")
    with open(os.path.join(good["mountpoint"], "f"), "w") as f:
        f.write("fine")
    sd.stop()
    for v in (bad, good):  # a reboot detaches every image
        subprocess.run(["umount", v["mountpoint"]], check=True)
    img = bad["mountpoint"] + ".img"
    with open(img, "r+b") as f:  # the ext4 superblock: 1 KiB at offset 1024
        f.seek(1024)
        f.write(b"\0" * 1024)
        os.fsync(f.fileno())
    sd.start(args=sd.args)
    log = sd.log_text()
    assert "reconcile: volume bad (loop) cannot be made usable: mounting the image of volume bad" in log, log
    assert finding(sd, "unusable") == 1
    assert not os.path.ismount(bad["mountpoint"])
    # no loop device is left holding the image it could not mount
    p = subprocess.run(["losetup", "-j", img], capture_output=True, text=True)
    assert p.stdout.strip() == "", p.stdout
    # the rest is served
    assert os.path.ismount(good["mountpoint"])
    with open(os.path.join(good["mountpoint"], "f")) as f:
        assert f.read() == "fine"
    create(sd.client(), "after", "loop", size="32m")
    st, body = sd.client().post("/v1/volumes/bad/mount", {"id": "c1"})
    assert st >= 400 and "mounting the image of volume bad" in body["error"]["message"], body
    # and the broken one can still be removed
    assert sd.client().delete("/v1/volumes/bad")[0] == 204


@needs_loop
def test_loop_mounts_whose_image_is_gone_are_found_at_start(sd, tmp_path):
    import uuid
    c = sd.client()
    kept = create(c, "kept", "loop", size="32m")
    sd.stop()
    os.unlink(kept["mountpoint"] + ".img")  # deleted while mounted: the mount holds it
    # a mount with no record and no image
    stray = os.path.join(sd.root, "loop", str(uuid.uuid4()))
    os.mkdir(stray)
    img = str(tmp_path / "stray.img")
    subprocess.run(["truncate", "-s", "32m", img], check=True)
    subprocess.run(["mkfs.ext4", "-q", "-F", img], check=True, capture_output=True)
    subprocess.run(["mount", "-o", "loop", img, stray], check=True)
    os.unlink(img)
    sd.start(args=sd.args)
    log = sd.log_text()
    assert "volume kept has a record but its storage %s is missing" % kept["mountpoint"] in log, log
    assert "storage loop/%s has no record and holds data" % os.path.basename(stray) in log, log
    assert finding(sd, "missing") == 1 and finding(sd, "orphans") == 1
    assert os.path.ismount(stray)  # reported, not destroyed: its data lives only in the mount


def crash_at(daemon, fp):
    """Starts volmand so that it kills itself at failpoint fp."""
    daemon.stop()
    daemon.start(env={"VOLMAN_FAILPOINT": fp + "=kill"}, args=daemon.args)


@pytest.mark.parametrize("fp", ["snapshot-after-intent", "snapshot-after-driver"])
@pytest.mark.parametrize("driver,opts", DRIVERS)
def test_crash_during_snapshot_leaves_none(sd, btrfs_dir, driver, opts, fp):
    c = sd.client()
    create(c, "cv", driver, **opts)
    crash_at(sd, fp)
    try:
        Client(sd.socket, keepalive=False).post("/v1/volumes/cv/snapshots", {"name": "half"})
    except OSError:
        pass
    sd.wait_dead()
    sd.start(args=sd.args)
    c = sd.client()
    assert c.get("/v1/volumes/cv/snapshots")[1]["snapshots"] == []
    snapdir = os.path.join(btrfs_dir, "snapshots") if driver == "btrfs" else os.path.join(sd.root, driver, "snapshots")
    assert os.listdir(snapdir) == []
    assert "rolled back the interrupted snapshot half" in sd.log_text()
    # and a snapshot of that name can be made
    assert c.post("/v1/volumes/cv/snapshots", {"name": "half"})[0] == 201


@needs_btrfs
def test_crash_during_resize_is_finished_at_start(sd):
    c = sd.client()
    create(c, "cr", "btrfs", size="16m")
    crash_at(sd, "resize-after-driver")
    try:
        Client(sd.socket, keepalive=False).post("/v1/volumes/cr/resize", {"size": "48m"})
    except OSError:
        pass
    sd.wait_dead()
    sd.start(args=sd.args)
    info = inspect(sd.client(), "cr")
    assert info["options"]["size"] == "48m" and info["size_limit_bytes"] == 48 << 20
    assert "finished resizing volume cr to 48m" in sd.log_text()


def clone_killed_at(sd, failpoint):
    """Clones cs to cd with volmand set to die at failpoint; returns once it has."""
    crash_at(sd, failpoint)
    try:
        Client(sd.socket, keepalive=False).post("/v1/volumes/cs/clone", {"name": "cd"})
    except OSError:
        pass
    sd.wait_dead()


@pytest.mark.parametrize("driver,opts", DRIVERS)
def test_crash_during_clone_leaves_no_volume(sd, driver, opts):
    c = sd.client()
    v = create(c, "cs", driver, **opts)
    fill(v["mountpoint"])
    clone_killed_at(sd, "create-after-driver")
    sd.start(args=sd.args)
    c = sd.client()
    assert c.get("/v1/volumes/cd")[0] == 404
    assert [x["name"] for x in c.get("/v1/volumes")[1]["volumes"]] == ["cs"]
    st, cl = c.post("/v1/volumes/cs/clone", {"name": "cd"})
    assert st == 201 and tree(cl["mountpoint"]) == tree(v["mountpoint"])


def storage_left(sd, btrfs_dir, driver):
    """The entries of a driver's directory (not its snapshots) and the mounts below it."""
    from conftest import mounts_below
    top = os.path.join(btrfs_dir, "volumes") if driver == "btrfs" else os.path.join(sd.root, driver)
    return sorted(e for e in os.listdir(top) if e != "snapshots"), sorted(mounts_below(top))


def left_for(mountpoint):
    """What a volume of mountpoint leaves in storage_left."""
    base = os.path.basename(mountpoint)
    loop = os.path.basename(os.path.dirname(mountpoint)) == "loop"
    return sorted([base, base + ".img"] if loop else [base]), [mountpoint] if loop else []


@pytest.mark.parametrize("driver,opts", DRIVERS)
def test_crash_inside_the_driver_clone_leaves_no_half_clone(sd, btrfs_dir, driver, opts):
    c = sd.client()
    v = create(c, "cs", driver, **opts)
    fill(v["mountpoint"])
    clone_killed_at(sd, "clone-before-rename")
    entries, mounts = storage_left(sd, btrfs_dir, driver)
    assert any(e.endswith(".tmp") for e in entries), entries  # the crash came with the copy whole, unnamed
    sd.start(args=sd.args)
    c = sd.client()
    assert c.get("/v1/volumes/cd")[0] == 404
    assert [x["name"] for x in c.get("/v1/volumes")[1]["volumes"]] == ["cs"]
    assert storage_left(sd, btrfs_dir, driver) == left_for(v["mountpoint"])
    st, cl = c.post("/v1/volumes/cs/clone", {"name": "cd"})
    assert st == 201 and tree(cl["mountpoint"]) == tree(v["mountpoint"])


def is_frozen(mp):
    """FIFREEZE of a frozen filesystem is EBUSY."""
    p = subprocess.run(["fsfreeze", "--freeze", mp], capture_output=True, text=True)
    if p.returncode == 0:
        subprocess.run(["fsfreeze", "--unfreeze", mp], check=True)
        return False
    assert "busy" in p.stderr.lower(), p.stderr
    return True


@needs_loop
@pytest.mark.parametrize("op", ["snapshot", "clone"])
def test_crash_while_a_loop_volume_is_frozen_thaws_it_at_start(sd, op):
    c = sd.client()
    v = create(c, "fz", "loop", size="32m")
    mp = v["mountpoint"]
    with open(os.path.join(mp, "f"), "w") as f:
        f.write("before")
    crash_at(sd, "snapshot-frozen")
    try:
        if op == "snapshot":
            Client(sd.socket, keepalive=False).post("/v1/volumes/fz/snapshots", {"name": "half"})
        else:
            Client(sd.socket, keepalive=False).post("/v1/volumes/fz/clone", {"name": "fz-copy"})
    except OSError:
        pass
    sd.wait_dead()
    assert is_frozen(mp), "the failpoint fired outside the freeze window"
    sd.start(args=sd.args)
    try:
        p = subprocess.run(["sh", "-c", "echo after > '%s/g' && sync -f '%s/g'" % (mp, mp)], timeout=10)
        assert p.returncode == 0
    except subprocess.TimeoutExpired:
        subprocess.run(["fsfreeze", "--unfreeze", mp])
        pytest.fail("volume fz is still frozen after a restart")
    with open(os.path.join(mp, "f")) as f:
        assert f.read() == "before"
    c = sd.client()
    assert c.get("/v1/volumes/fz/snapshots")[1]["snapshots"] == []
    assert os.listdir(os.path.join(sd.root, "loop", "snapshots")) == []
    assert c.get("/v1/volumes/fz-copy")[0] == 404
    assert storage_left(sd, "", "loop") == left_for(mp)


@pytest.mark.parametrize("driver,opts", DRIVERS)
def test_crash_part_way_through_an_import_leaves_nothing(sd, btrfs_dir, driver, opts):
    from test_transfer import raw_import, tar_of, ti
    data = tar_of(*[(ti("f%d" % i), os.urandom(200_000)) for i in range(6)])
    query = "name=half&driver=%s" % driver + "".join("&opt=%s=%s" % kv for kv in opts.items())
    crash_at(sd, "import-after-entry:3")
    try:
        raw_import(sd, query, data)
    except Exception:
        pass
    sd.wait_dead()
    entries, _ = storage_left(sd, btrfs_dir, driver)
    assert entries, "the crash came before the volume was made"
    sd.start(args=sd.args)
    c = sd.client()
    assert c.get("/v1/volumes/half")[0] == 404
    assert "rolled back the interrupted create of half" in sd.log_text()
    assert storage_left(sd, btrfs_dir, driver) == ([], [])
    st, body = raw_import(sd, query, data)
    assert st == 201, body
    assert sorted(os.listdir(body["mountpoint"])) == ["f%d" % i for i in range(6)]


@needs_btrfs
def test_usage_in_lists_and_metrics(sd, cli_bin):
    c = sd.client()
    lv = create(c, "u-loop", "loop", size="32m")
    bv = create(c, "u-btrfs", "btrfs", size="40m")
    create(c, "u-local", "local")
    for v in (lv, bv):
        with open(os.path.join(v["mountpoint"], "f"), "wb") as f:
            f.write(os.urandom(8 << 20))
            os.fsync(f.fileno())
    subprocess.run(["btrfs", "filesystem", "sync", bv["mountpoint"]], check=True)
    st, body = c.get("/v1/volumes?usage=true")
    assert st == 200
    by = {v["name"]: v for v in body["volumes"]}
    assert by["u-loop"]["size_limit_bytes"] == 32 << 20 and by["u-loop"]["usage"]["bytes"] >= 8 << 20
    assert by["u-btrfs"]["size_limit_bytes"] == 40 << 20 and by["u-btrfs"]["usage"]["bytes"] >= 8 << 20
    assert "size_limit_bytes" not in by["u-local"] and "usage" in by["u-local"]
    # without ?usage a list stays the stored view
    st, body = c.get("/v1/volumes")
    assert all("usage" not in v and "size_limit_bytes" not in v for v in body["volumes"])
    p = subprocess.run([cli_bin, "--socket", sd.socket, "volume", "ls", "--usage"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    line = [l for l in p.stdout.splitlines() if "u-loop" in l][0]
    import re
    assert "LIMIT" in p.stdout and "32M" in line and re.search(r" (8|9)\.\dM$", line), p.stdout
    st, text = c.get("/metrics")
    assert 'volman_volume_limit_bytes{volume="u-loop",driver="loop"} %d' % (32 << 20) in text
    assert 'volman_volume_limit_bytes{volume="u-btrfs",driver="btrfs"} %d' % (40 << 20) in text
    assert 'volman_volume_used_bytes{volume="u-loop",driver="loop"}' in text
    assert 'volman_driver_limit_bytes{driver="loop"} %d' % (32 << 20) in text
    for drv, limit in (("loop", 32 << 20), ("btrfs", 40 << 20)):  # the sums count what was written
        m = re.search(r'^volman_driver_used_bytes\{driver="%s"\} (\d+)$' % drv, text, re.M)
        assert m and 8 << 20 <= int(m.group(1)) <= limit, (drv, m and m.group(0))
    assert 'volume="u-local"' not in text  # a scrape never walks a local volume


@pytest.mark.parametrize("fp", ["restore-before-driver", "restore-before-switch", "restore-after-switch"])
@pytest.mark.parametrize("driver,opts", DRIVERS)
def test_crash_during_restore_leaves_old_or_new_content(sd, driver, opts, fp):
    c = sd.client()
    v = create(c, "rv", driver, **opts)
    mp = v["mountpoint"]
    fill(mp)
    snap_tree = tree(mp)
    assert c.post("/v1/volumes/rv/snapshots", {"name": "s"})[0] == 201
    with open(os.path.join(mp, "note.txt"), "w") as f:
        f.write("changed after the snapshot\n")
    os.makedirs(os.path.join(mp, "later"))
    os.sync()
    changed_tree = tree(mp)
    crash_at(sd, fp)
    try:
        Client(sd.socket, keepalive=False).post("/v1/volumes/rv/snapshots/s/restore")
    except OSError:
        pass
    sd.wait_dead()
    sd.start(args=sd.args)
    now = tree(mp)
    want = changed_tree if fp != "restore-after-switch" else snap_tree
    assert now == want, "after a crash at %s the volume is neither as it was nor as asked" % fp
    # no temporary is left, and the volume still works both ways
    top = os.path.dirname(mp)
    assert not [e for e in os.listdir(top) if e.endswith(".tmp")], os.listdir(top)
    st, body = sd.client().post("/v1/volumes/rv/snapshots/s/restore")
    assert st == 200, body
    assert tree(mp) == snap_tree


def test_a_clone_and_a_snapshot_report_their_copy(sd):
    """A local clone or snapshot copies file by file: GET /v1/operations/{id} counts it."""
    c = sd.client()
    v = create(c, "p-src", "local")
    for i in range(20):
        with open(os.path.join(v["mountpoint"], "f%02d" % i), "wb") as f:
            f.write(os.urandom(100_000))
    st, body = c.request("POST", "/v1/volumes/p-src/clone", {"name": "p-dst"},
                         headers={"X-Volman-Operation": "clone-progress-1"})
    assert st == 201, body
    st, op = c.get("/v1/operations/clone-progress-1")
    assert st == 200 and op["kind"] == "clone" and op["state"] == "done", op
    assert op["bytes"] == 20 * 100_000 and op["entries"] == 20 and op["volume"] == "p-dst", op
    st, body = c.request("POST", "/v1/volumes/p-src/snapshots", {"name": "s"},
                         headers={"X-Volman-Operation": "snap-progress-1"})
    assert st == 201
    st, op = c.get("/v1/operations/snap-progress-1")
    assert op["kind"] == "snapshot" and op["bytes"] == 20 * 100_000 and op["entries"] == 20, op


def test_metrics_count_the_new_operations(sd):
    import re
    c = sd.client()
    create(c, "m-src", "local")
    assert c.post("/v1/volumes/m-src/snapshots", {"name": "s"})[0] == 201
    assert c.post("/v1/volumes/m-src/clone", {"name": "m-dst"})[0] == 201
    assert c.post("/v1/volumes/m-src/clone", {"name": "m-dst"})[0] == 409
    from test_transfer import raw_export
    assert raw_export(sd, "m-src")[0] == 200
    st, text = c.get("/metrics")

    def val(name, op):
        m = re.search(r'^%s\{op="%s"\} (\d+)$' % (name, op), text, re.M)
        assert m, (name, op)
        return int(m.group(1))
    assert val("volman_operations_total", "snapshot") == 1
    assert val("volman_operations_total", "clone") == 2 and val("volman_operation_errors_total", "clone") == 1
    assert val("volman_operations_total", "export") == 1
    assert re.search(r'^volman_tenant_volumes\{tenant=""\} 2$', text, re.M)
    assert re.search(r'^volman_engine_requests_total 0$', text, re.M)  # this volmand has no engine


# ---- the drivers' directories and the filesystem's allocator ----

FS_IOC_GETFLAGS = 0x80086601  # _IOR('f', 1, long)
FS_IOC_SETFLAGS = 0x40086602  # _IOW('f', 2, long)
FS_TOPDIR_FL = 0x00020000     # chattr +T


def inode_flags(path):
    import fcntl
    import struct
    import errno
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        return struct.unpack("i", fcntl.ioctl(fd, FS_IOC_GETFLAGS, b"\0" * 8)[:4])[0]
    except OSError as e:
        if e.errno in (errno.ENOTTY, errno.EOPNOTSUPP):  # a filesystem without inode flags
            return 0
        raise
    finally:
        os.close(fd)


@pytest.mark.parametrize("fs", ["ext4-nojournal", "ext4", "tmpfs"])
def test_drivers_directories_are_marked_apart_where_ext4_has_no_journal(make_daemon, tmp_path, fs):
    """Volumes share nothing. On an ext4 without a journal the directory that
    holds a driver's volumes is marked FS_TOPDIR_FL, so the allocator places
    each new volume apart instead of searching the parent's block group past
    every inode freed in the last seconds (creates after removals paid for
    each removal). With a journal ext4 makes no such search, and the mark
    would only add a scan of every block group to each mkdir: it is not set.
    On a filesystem without inode flags (tmpfs) volmand starts and creates as
    before."""
    where = tmp_path / fs
    where.mkdir()
    if fs.startswith("ext4"):
        img = tmp_path / "ext4.img"
        subprocess.run(["truncate", "-s", "64M", str(img)], check=True)
        features = ["-O", "^has_journal"] if fs == "ext4-nojournal" else []
        subprocess.run(["mkfs.ext4", "-q", "-F", *features, str(img)], check=True, capture_output=True)
        subprocess.run(["mount", "-o", "loop", str(img), str(where)], check=True)
    else:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "volman-topdir-test", str(where)], check=True)
    try:
        d = make_daemon(subdir=fs)
        for driver in ("local", "tmpfs", "loop"):
            marked = bool(inode_flags(os.path.join(d.root, driver)) & FS_TOPDIR_FL)
            assert marked == (fs == "ext4-nojournal"), driver
        c = d.client()
        assert c.create("apart")[0] == 201
        st, v = c.inspect("apart")
        assert st == 200 and os.path.isdir(v["mountpoint"])
        c.close()
        d.stop(check=True)
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)
