"""Removing a volume whose content a container wrote to trap the daemon:
symlinks out of the volume (absolute and relative), loops, a very deep tree,
fifos, unreadable files. The removal succeeds, follows nothing, and leaves
everything outside the volume untouched."""

import hashlib
import os
import stat
import subprocess
import threading
import time

import pytest

from conftest import check_invariants, require_root, wait_gone

DEPTH = 2000


@pytest.fixture(autouse=True)
def remove_leftovers(tmp_path):
    """A failed removal leaves a tree too deep for pytest's own cleanup."""
    yield
    for p in tmp_path.glob("root/*/*"):
        subprocess.run(["rm", "-rf", "--one-file-system", str(p)], capture_output=True)


def make_canaries(base):
    os.makedirs(os.path.join(base, "dir", "sub"))
    files = {"file.txt": b"canary file\n", "dir/a": b"a" * 1000, "dir/sub/b": b"b",
             "dir/.hidden": b"h"}
    for rel, data in files.items():
        with open(os.path.join(base, rel), "wb") as f:
            f.write(data)
    os.chmod(os.path.join(base, "file.txt"), 0o644)
    return snapshot(base)


def snapshot(base):
    """Every path under base with its type, mode, owner and content hash."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(base, followlinks=False):
        for n in dirnames + filenames + ["."]:
            p = os.path.normpath(os.path.join(dirpath, n))
            st = os.lstat(p)
            digest = None
            if stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    digest = hashlib.sha256(f.read()).hexdigest()
            out[os.path.relpath(p, base)] = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode),
                                             st.st_uid, st.st_gid, st.st_nlink, digest)
    return out


def deep_tree(top, depth, leaf_link):
    """depth nested directories below top, made with *at calls (the path is
    far beyond PATH_MAX); a symlink to leaf_link and a file at the bottom."""
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(depth):
            os.mkdir("d", dir_fd=fd)
            nfd = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = nfd
        os.symlink(leaf_link, "escape", dir_fd=fd)
        wfd = os.open("leaf", os.O_WRONLY | os.O_CREAT, 0o600, dir_fd=fd)
        os.write(wfd, b"bottom")
        os.close(wfd)
    finally:
        os.close(fd)


def plant_traps(mp, canary):
    cfile = os.path.join(canary, "file.txt")
    cdir = os.path.join(canary, "dir")
    # absolute links out
    os.symlink(cfile, os.path.join(mp, "abs-file"))
    os.symlink(cdir, os.path.join(mp, "abs-dir"))
    os.symlink(canary, os.path.join(mp, "abs-canary"))
    # relative links out: computed to hit the canary, and a plain climb
    os.symlink(os.path.relpath(cdir, mp), os.path.join(mp, "rel-dir"))
    os.symlink(os.path.relpath(cfile, mp), os.path.join(mp, "rel-file"))
    os.symlink("../../..", os.path.join(mp, "up3"))
    os.makedirs(os.path.join(mp, "nested", "deeper"))
    os.symlink(os.path.relpath(cdir, os.path.join(mp, "nested", "deeper")),
               os.path.join(mp, "nested", "deeper", "rel-dir"))
    os.symlink(cdir, os.path.join(mp, "nested", "abs-dir"))
    # loops and dangling
    os.symlink("loop-b", os.path.join(mp, "loop-a"))
    os.symlink("loop-a", os.path.join(mp, "loop-b"))
    os.symlink(".", os.path.join(mp, "self"))
    os.symlink("..", os.path.join(mp, "nested", "parent"))
    os.symlink("/nonexistent/target", os.path.join(mp, "dangling"))
    # a hard link to the canary file (same filesystem for local volumes)
    try:
        os.link(cfile, os.path.join(mp, "hard"))
    except OSError:
        pass  # another filesystem (tmpfs)
    # special files
    os.mkfifo(os.path.join(mp, "fifo"))
    os.mkfifo(os.path.join(mp, "nested", "fifo"))
    # unreadable: a 000 file in a 000 directory, and a 000 directory tree.
    # Only as root: volmand runs as root, and a non-root daemon cannot open
    # a directory its mode forbids.
    if os.geteuid() == 0:
        plant_locked(mp, cdir)
    # a sticky world-writable dir
    os.makedirs(os.path.join(mp, "sticky"))
    os.chmod(os.path.join(mp, "sticky"), 0o1777)
    # a very deep tree with an escape at the bottom
    deep_tree(mp, DEPTH, cdir)


def plant_locked(mp, cdir):
    locked = os.path.join(mp, "locked")
    os.makedirs(os.path.join(locked, "inner"))
    with open(os.path.join(locked, "secret"), "w") as f:
        f.write("s")
    os.symlink(cdir, os.path.join(locked, "inner", "esc"))
    os.chmod(os.path.join(locked, "secret"), 0)
    os.chmod(os.path.join(locked, "inner"), 0)
    os.chmod(locked, 0)


@pytest.mark.parametrize("driver", ["local", "tmpfs"])
def test_remove_follows_nothing(daemon, client, tmp_path, driver):
    if driver == "tmpfs":
        require_root()
    canary = str(tmp_path / "canary")
    before = make_canaries(canary)
    opts = {"size": "64m"} if driver == "tmpfs" else {}
    st, v = client.create("trap-" + driver, driver=driver, options=opts)
    assert st == 201, v
    st, keep = client.create("neighbour-" + driver, driver=driver, options=opts)
    assert st == 201, keep
    with open(os.path.join(keep["mountpoint"], "n"), "w") as f:
        f.write("neighbour")
    mp = v["mountpoint"]
    plant_traps(mp, canary)
    # the volume's own symlink to its neighbour must not be followed either
    os.symlink(keep["mountpoint"], os.path.join(mp, "neighbour"))

    st, body = client.remove("trap-" + driver)
    assert st == 204, body
    wait_gone(mp)
    assert snapshot(canary) == before, "something outside the volume changed"
    with open(os.path.join(keep["mountpoint"], "n")) as f:
        assert f.read() == "neighbour"
    st, body = client.inspect("trap-" + driver)
    assert st == 404
    vols = check_invariants(daemon, client)
    assert [x["name"] for x in vols] == ["neighbour-" + driver]


def test_prune_follows_nothing(daemon, client, tmp_path):
    canary = str(tmp_path / "canary")
    before = make_canaries(canary)
    st, v = client.create("trap-prune", labels={"trap": ""})
    assert st == 201
    plant_traps(v["mountpoint"], canary)
    st, body = client.post("/v1/volumes/prune", {"filters": ["label=trap"]})
    assert st == 200 and body["removed"] == ["trap-prune"], body
    wait_gone(v["mountpoint"])
    assert snapshot(canary) == before


def test_mountpoint_replaced_by_symlink(daemon, client, tmp_path):
    """If the volume's directory itself was swapped for a symlink (a host-side
    attack), remove must not delete what the link points to."""
    canary = str(tmp_path / "canary")
    before = make_canaries(canary)
    st, v = client.create("swapped")
    assert st == 201
    mp = v["mountpoint"]
    os.rmdir(mp)
    os.symlink(os.path.join(canary, "dir"), mp)
    st, body = client.remove("swapped")
    # the record goes; the symlink is removed as a link, its target untouched
    assert st == 204, (st, body)
    assert client.inspect("swapped")[0] == 404
    wait_gone(mp)
    assert snapshot(canary) == before
    check_invariants(daemon, client)


def tree_of(top):
    """{relative path: file content or None for a directory} of top's tree."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for d in dirnames:
            out[os.path.relpath(os.path.join(dirpath, d), top)] = None
        for f in filenames:
            p = os.path.join(dirpath, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, top)] = fh.read()
    return out


def test_bind_mount_inside_is_never_entered(daemon, client, tmp_path):
    """A bind mount of the same filesystem inside a volume (a privileged container
    with a shared mount, or a host tool) has the volume's own st_dev: removal must
    still see the mount and refuse with in_use before touching anything: the
    volume stays ready with all its own data, and nothing behind the mount moves."""
    require_root()
    canary = str(tmp_path / "canary")
    before = make_canaries(canary)
    st, v = client.create("bound")
    assert st == 201, v
    mp = v["mountpoint"]
    os.makedirs(os.path.join(mp, "a", "x"))
    with open(os.path.join(mp, "a", "own"), "w") as f:
        f.write("own data")
    with open(os.path.join(mp, "top-file"), "w") as f:
        f.write("top")
    target = os.path.join(mp, "a", "x")
    subprocess.run(["mount", "--bind", canary, target], check=True)
    try:
        assert os.stat(target).st_dev == os.stat(mp).st_dev, "the test needs a same-device mount"
        own_before = {k: x for k, x in tree_of(mp).items() if not k.startswith("a/x/")}
        st, body = client.remove("bound")
        assert st == 409 and body["error"]["code"] == "in_use", (st, body)
        assert "mounted inside" in body["error"]["message"] and target in body["error"]["message"], body
        # refused before the first unlink: nothing of the volume's own is gone
        assert {k: x for k, x in tree_of(mp).items() if not k.startswith("a/x/")} == own_before
        assert snapshot(canary) == before, "removal went through the bind mount"
        st, w = client.inspect("bound")
        assert st == 200 and w["status"] == "ready" and w["id"] == v["id"], w
        # a prune refuses it the same way, and says why
        st, body = client.post("/v1/volumes/prune", {"filters": ["name=bound"]})
        assert st == 200 and body["removed"] == [], body
        assert [k["name"] for k in body["kept"]] == ["bound"] and "mounted inside" in body["kept"][0]["reason"]
        assert client.inspect("bound")[0] == 200
        # and nothing is left for a restart to finish
        client.close()
        daemon.restart()
        assert client.inspect("bound")[0] == 200
        with open(os.path.join(mp, "a", "own")) as f:
            assert f.read() == "own data"
    finally:
        subprocess.run(["umount", target], check=True)
    assert snapshot(canary) == before
    # with the mount gone, the removal goes through
    st, body = client.remove("bound")
    assert st == 204, body
    wait_gone(mp)
    check_invariants(daemon, client)


def test_removal_sees_mounts_made_and_gone_since_its_last_look(daemon, client, tmp_path):
    """volmand keeps the mount table between removals and reads it again only
    when the kernel reports a change: a mount made after a removal looked (the
    table is kept) still refuses the next removal, and once it is gone the
    removal after that goes through."""
    require_root()
    canary = str(tmp_path / "canary")
    before = make_canaries(canary)
    for name in ("first", "second"):
        st, v = client.create(name)
        assert st == 201, v
    mp = client.inspect("second")[1]["mountpoint"]
    os.makedirs(os.path.join(mp, "x"))
    assert client.remove("first")[0] == 204  # a removal reads the table now
    for round in range(3):  # each round: a mount the kept table lacks, then its absence
        target = os.path.join(mp, "x")
        subprocess.run(["mount", "--bind", canary, target], check=True)
        try:
            st, body = client.remove("second")
            assert st == 409 and body["error"]["code"] == "in_use", (round, st, body)
            assert "mounted inside" in body["error"]["message"] and target in body["error"]["message"], body
        finally:
            subprocess.run(["umount", target], check=True)
        if round < 2:  # a look with the mount gone, the volume kept for the next round
            st, v = client.create("probe-%d" % round)
            assert st == 201 and client.remove("probe-%d" % round)[0] == 204
    assert snapshot(canary) == before
    st, body = client.remove("second")
    assert st == 204, body
    wait_gone(mp)
    check_invariants(daemon, client)


@pytest.mark.parametrize("driver", ["local", "tmpfs"])
def test_mount_on_the_volume_directory_is_never_entered(daemon, client, tmp_path, driver):
    """A filesystem mounted on the volume's own directory (over it) hides the
    volume: removal refuses before anything, and never wipes the mounted one."""
    require_root()
    opts = {"size": "16m"} if driver == "tmpfs" else {}
    st, v = client.create("covered-" + driver, driver=driver, options=opts)
    assert st == 201, v
    mp = v["mountpoint"]
    with open(os.path.join(mp, "own"), "w") as f:
        f.write("under the mount")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "intruder", mp], check=True)
    try:
        with open(os.path.join(mp, "theirs"), "w") as f:
            f.write("the mounted filesystem's")
        st, body = client.remove("covered-" + driver)
        assert st == 409 and body["error"]["code"] == "in_use", (st, body)
        assert "mounted on the directory" in body["error"]["message"], body
        with open(os.path.join(mp, "theirs")) as f:
            assert f.read() == "the mounted filesystem's"
        assert client.inspect("covered-" + driver)[1]["status"] == "ready"
    finally:
        subprocess.run(["umount", mp], check=True)
    with open(os.path.join(mp, "own")) as f:
        assert f.read() == "under the mount", "the volume's own data was touched"
    st, body = client.remove("covered-" + driver)
    assert st == 204, body
    wait_gone(mp)
    check_invariants(daemon, client)


def test_symlink_swaps_during_removal(daemon, client, tmp_path):
    """A process swaps directories for symlinks (to a canary outside) while the
    removal walks the tree: nothing outside the volume changes, and the
    volume is gone in the end."""
    canary = str(tmp_path / "canary")
    before = make_canaries(canary)
    st, v = client.create("racy")
    assert st == 201, v
    mp = v["mountpoint"]
    # a wide and deep tree, so the walk takes a while
    for i in range(60):
        d = os.path.join(mp, "d%02d" % i)
        os.makedirs(os.path.join(d, "x", "y"))
        for j in range(40):
            with open(os.path.join(d, "x", "f%02d" % j), "w") as f:
                f.write("x")
    stop = threading.Event()
    swaps = [0]

    def swapper():
        target = os.path.join(canary, "dir")
        while not stop.is_set():
            for i in range(60):
                d = os.path.join(mp, "d%02d" % i)
                moved = d + ".moved"
                try:
                    os.rename(d, moved)
                    os.symlink(target, d)
                    swaps[0] += 1
                    os.unlink(d)
                    os.rename(moved, d)
                except OSError:
                    pass
                # and a symlink where a subdirectory is walked into
                try:
                    x = os.path.join(mp, "d%02d" % i, "x")
                    os.rename(x, x + ".m")
                    os.symlink(target, x)
                except OSError:
                    pass

    t = threading.Thread(target=swapper, daemon=True)
    t.start()
    try:
        while swaps[0] < 20:
            time.sleep(0.001)
        st, body = client.remove("racy")
        assert st == 204, body
        wait_gone(mp, timeout=60)
    finally:
        stop.set()
        t.join(10)
    assert swaps[0] > 20, "the swapper never raced"
    assert snapshot(canary) == before, "something outside the volume changed"
    check_invariants(daemon, client)


