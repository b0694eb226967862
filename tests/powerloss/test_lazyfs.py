"""Tests of lazyfs itself: each one proves a claim of its model (README.md here).

Every test mounts lazyfs on a temporary directory of its own and unmounts it
(fusermount3 -u) at the end, whatever happens. The binary is
$VOLMAN_BUILD/tests/powerloss/lazyfs (default: build-test at the top of the
repository). A test that cannot mount lazyfs fails; none skips.

Run as root: /usr/bin/python3 -m pytest tests/powerloss
"""

import ctypes
import errno
import fcntl
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.abspath(os.environ.get("VOLMAN_BUILD") or os.path.join(REPO, "build-test"))
LAZYFS = os.path.join(BUILD, "tests", "powerloss", "lazyfs")
CTL = ".lazyfs-ctl"
MOUNT_TIMEOUT = 10.0
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")
NOBODY = 65534
_libc = ctypes.CDLL(None, use_errno=True)


def _fail(reason):
    pytest.fail("cannot run: " + reason, pytrace=False)


def _term_with_parent():
    """In the child before exec: SIGTERM when pytest dies (lazyfs then unmounts itself)."""
    try:
        _libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _mounted(path):
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == path for line in f)


class Lazyfs:
    """One lazyfs mount: BASE/backing on BASE/mnt, its stderr in BASE/lazyfs.log."""

    def __init__(self, meta):
        self.meta = meta
        # mkdtemp is 0700; the non-root test needs to walk into the mount
        self.base = tempfile.mkdtemp(prefix="lazyfs-test-")
        os.chmod(self.base, 0o755)
        self.backing = os.path.join(self.base, "backing")
        self.mnt = os.path.join(self.base, "mnt")
        os.mkdir(self.backing, 0o755)
        os.mkdir(self.mnt, 0o755)
        self.log_path = os.path.join(self.base, "lazyfs.log")
        self.proc = None
        self.children = []  # processes of the test that use the mount: killed before the unmount

    def start(self):
        if not os.path.exists("/dev/fuse"):
            pytest.skip("this kernel offers no FUSE (/dev/fuse is missing): no power-loss tests")
        if os.geteuid() != 0:
            _fail("lazyfs tests need root (allow_other, the backing directory's owners)")
        if not (os.path.isfile(LAZYFS) and os.access(LAZYFS, os.X_OK)):
            _fail("%s is not built (set VOLMAN_BUILD to the build directory)" % LAZYFS)
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0:intercept_tls_get_addr=0")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        log = open(self.log_path, "w")
        self.proc = subprocess.Popen([LAZYFS, self.backing, self.mnt, "--meta=" + self.meta, "-f"],
                                     stdout=log, stderr=log, env=env, preexec_fn=_term_with_parent)
        log.close()
        deadline = time.monotonic() + MOUNT_TIMEOUT
        while not _mounted(self.mnt):
            if self.proc.poll() is not None:
                _fail("lazyfs exited with %s before mounting:\n%s" % (self.proc.returncode, self.log()))
            if time.monotonic() > deadline:
                _fail("lazyfs did not mount %s in %.0f s:\n%s" % (self.mnt, MOUNT_TIMEOUT, self.log()))
            time.sleep(0.02)

    def stop(self):
        problems = []
        for child in self.children:
            if child.poll() is None:
                child.kill()
            child.wait()
        if self.proc is not None:
            if _mounted(self.mnt):
                r = subprocess.run(["fusermount3", "-u", self.mnt], capture_output=True, text=True)
                if r.returncode != 0:
                    problems.append("fusermount3 -u: " + r.stderr.strip())
                    subprocess.run(["fusermount3", "-u", "-z", self.mnt], capture_output=True)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                problems.append("lazyfs did not exit after its unmount")
            if self.proc.returncode not in (0, None):
                problems.append("lazyfs exited with %d" % self.proc.returncode)
        log = self.log()
        if any(m in log for m in SANITIZER_MARKERS):
            problems.append("sanitizer report in the lazyfs log")
        if "failed" in log:
            problems.append("lazyfs reported a failure")
        if not problems:
            shutil.rmtree(self.base, ignore_errors=True)
        return problems, log

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def path(self, *parts):
        return os.path.join(self.mnt, *parts)

    def bpath(self, *parts):
        return os.path.join(self.backing, *parts)

    def ctl(self, command):
        with open(self.path(CTL), "w") as f:
            f.write(command)

    def crash(self):
        self.ctl("crash")

    def stats(self):
        """The counters lazyfs writes to stderr on SIGUSR1."""
        before = self.log().count("lazyfs: stats ")
        self.proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 5
        while self.log().count("lazyfs: stats ") == before:
            assert time.monotonic() < deadline, "no stats line after SIGUSR1"
            time.sleep(0.02)
        line = self.log().splitlines()
        line = [l for l in line if l.startswith("lazyfs: stats ")][-1]
        return {k: (int(v) if v.isdigit() else v) for k, v in re.findall(r"(\w+)=(\w+)", line)}


def _mount(meta):
    fs = Lazyfs(meta)
    try:
        fs.start()
    except BaseException:
        fs.stop()
        raise
    return fs


def _unmount(fs):
    problems, log = fs.stop()
    if problems:
        pytest.fail("lazyfs on %s: %s\n--- lazyfs log ---\n%s" % (fs.base, "; ".join(problems), log),
                    pytrace=False)


@pytest.fixture(params=["strict", "journal"])
def lazy(request):
    fs = _mount(request.param)
    try:
        yield fs
    finally:
        _unmount(fs)


@pytest.fixture
def strict():
    fs = _mount("strict")
    try:
        yield fs
    finally:
        _unmount(fs)


@pytest.fixture
def journal():
    fs = _mount("journal")
    try:
        yield fs
    finally:
        _unmount(fs)


# --- helpers -----------------------------------------------------------------

def write(path, data, sync=None, mode=0o644):
    """Writes data to path (truncating), then fsyncs or fdatasyncs it if asked."""
    if isinstance(data, str):
        data = data.encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
        if sync == "fsync":
            os.fsync(fd)
        elif sync == "fdatasync":
            os.fdatasync(fd)
    finally:
        os.close(fd)


def fsync_path(path):
    """fsync of a file or a directory (FUSE fsync or fsyncdir)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def durable_dir(fs, *names):
    """Directories made durable in both models: created, then their parent fsynced."""
    for name in names:
        os.mkdir(fs.path(name))
        fsync_path(fs.path(os.path.dirname(name)) if os.path.dirname(name) else fs.mnt)
    for name in names:
        assert os.path.isdir(fs.bpath(name))


# --- file data -----------------------------------------------------------------

def test_unsynced_data_is_gone_after_crash(lazy):
    durable_dir(lazy, "p")
    write(lazy.path("p", "f"), "old", sync="fsync")
    # not synced: an overwrite, an append to another synced file, a new file
    write(lazy.path("p", "f"), "new and longer")
    write(lazy.path("p", "g"), "g1", sync="fsync")
    with open(lazy.path("p", "g"), "ab") as f:
        f.write(b" appended")
    write(lazy.path("p", "h"), "never synced")
    # the page-cache view shows everything ...
    assert read(lazy.path("p", "f")) == b"new and longer"
    assert read(lazy.path("p", "g")) == b"g1 appended"
    # ... the backing only what was synced
    assert read(lazy.bpath("p", "f")) == b"old"
    assert read(lazy.bpath("p", "g")) == b"g1"
    lazy.crash()
    assert read(lazy.path("p", "f")) == b"old"
    assert read(lazy.path("p", "g")) == b"g1"
    # h's data was never synced; its entry is gone too in both models (no sync came after it)
    assert not os.path.exists(lazy.path("p", "h"))
    st = lazy.stats()
    assert st["crashes"] == 1 and st["dropped_bytes"] >= 3 * 4096 and st["pending_bytes"] == 0


def test_fsynced_data_survives_crash(lazy):
    durable_dir(lazy, "p")
    data = os.urandom(3 * 4096 + 123)
    write(lazy.path("p", "f"), data, sync="fsync")
    lazy.crash()
    assert read(lazy.path("p", "f")) == data


def test_fdatasynced_data_survives_crash(lazy):
    durable_dir(lazy, "p")
    data = os.urandom(70000)
    write(lazy.path("p", "f"), data, sync="fdatasync")
    lazy.crash()
    assert read(lazy.path("p", "f")) == data
    assert lazy.stats()["fdatasyncs"] >= 1


def test_truncate_is_pending_until_fsync(lazy):
    durable_dir(lazy, "p")
    f = lazy.path("p", "f")
    write(f, b"x" * 10000, sync="fsync")
    os.truncate(f, 100)
    with open(f, "r+b") as h:  # extend again: the cut bytes must read as zeros
        h.seek(5000)
        h.write(b"y")
    assert read(f) == b"x" * 100 + b"\0" * 4900 + b"y"
    lazy.crash()
    assert read(f) == b"x" * 10000
    os.truncate(f, 100)
    fsync_path(f)
    lazy.crash()
    assert read(f) == b"x" * 100


def test_open_with_o_trunc_truncates(lazy):
    durable_dir(lazy, "p")
    f = lazy.path("p", "f")
    write(f, "a long first content", sync="fsync")
    write(f, "ab")  # O_TRUNC
    assert read(f) == b"ab"
    lazy.crash()
    assert read(f) == b"a long first content"
    write(f, "ab", sync="fdatasync")
    lazy.crash()
    assert read(f) == b"ab"


def test_fsync_of_one_file_leaves_others_pending(lazy):
    durable_dir(lazy, "p")
    write(lazy.path("p", "a"), "a0", sync="fsync")
    write(lazy.path("p", "b"), "b0", sync="fsync")
    write(lazy.path("p", "a"), "a1")
    write(lazy.path("p", "b"), "b1", sync="fsync")
    lazy.crash()
    assert read(lazy.path("p", "a")) == b"a0"
    assert read(lazy.path("p", "b")) == b"b1"


def test_open_descriptors_are_stale_after_crash(lazy):
    durable_dir(lazy, "p")
    write(lazy.path("p", "f"), "durable", sync="fsync")
    fd = os.open(lazy.path("p", "f"), os.O_RDWR)
    try:
        lazy.crash()
        with pytest.raises(OSError) as e:
            os.pread(fd, 10, 0)
        assert e.value.errno == errno.ESTALE
    finally:
        os.close(fd)
    assert read(lazy.path("p", "f")) == b"durable"


# --- namespace operations ---------------------------------------------------------

def test_strict_mkdir_is_lost_without_parent_fsync(strict):
    durable_dir(strict, "p")
    os.mkdir(strict.path("p", "d"))
    write(strict.path("other"), "x", sync="fsync")  # a sync elsewhere does not help in strict
    assert os.path.isdir(strict.path("p", "d"))
    assert not os.path.exists(strict.bpath("p", "d"))
    strict.crash()
    assert os.path.isdir(strict.path("p"))
    assert not os.path.exists(strict.path("p", "d"))


def test_strict_mkdir_survives_parent_fsync(strict):
    durable_dir(strict, "p")
    os.mkdir(strict.path("p", "d"))
    fsync_path(strict.path("p"))
    strict.crash()
    assert os.path.isdir(strict.path("p", "d"))


def test_strict_new_file_fsync_makes_its_entry_and_new_parents_durable(strict):
    os.makedirs(strict.path("a", "b"))
    write(strict.path("a", "b", "f"), "data", sync="fsync")
    os.mkdir(strict.path("a", "unsynced"))
    strict.crash()
    assert read(strict.path("a", "b", "f")) == b"data"
    assert not os.path.exists(strict.path("a", "unsynced"))


def test_strict_dir_fsync_keeps_entries_not_data(strict):
    durable_dir(strict, "p")
    write(strict.path("p", "f"), "unsynced data")
    fsync_path(strict.path("p"))
    strict.crash()
    assert read(strict.path("p", "f")) == b""  # the entry survived, its data did not


@pytest.mark.parametrize("sync", ["fsync", "fdatasync"])
def test_journal_any_sync_keeps_earlier_mkdirs(journal, sync):
    durable_dir(journal, "p", "q")
    os.mkdir(journal.path("p", "d1"))
    os.mkdir(journal.path("q", "d2"))
    write(journal.path("unrelated"), "x", sync=sync)
    os.mkdir(journal.path("p", "d3"))  # after the last sync
    journal.crash()
    assert os.path.isdir(journal.path("p", "d1"))
    assert os.path.isdir(journal.path("q", "d2"))
    assert not os.path.exists(journal.path("p", "d3"))


def test_strict_unrelated_sync_keeps_no_mkdir(strict):
    durable_dir(strict, "p", "q")
    os.mkdir(strict.path("p", "d1"))
    os.mkdir(strict.path("q", "d2"))
    write(strict.path("unrelated"), "x", sync="fsync")
    strict.crash()
    assert not os.path.exists(strict.path("p", "d1"))
    assert not os.path.exists(strict.path("q", "d2"))
    assert read(strict.path("unrelated")) == b"x"


def _durable_file(fs, name, data):
    write(fs.path(name), data, sync="fsync")
    fsync_path(fs.path(os.path.dirname(name)))


def test_strict_rename_needs_the_directory_fsync(strict):
    durable_dir(strict, "p")
    _durable_file(strict, "p/old", "content")
    os.rename(strict.path("p", "old"), strict.path("p", "new"))
    write(strict.path("elsewhere"), "x", sync="fsync")
    strict.crash()
    assert read(strict.path("p", "old")) == b"content"
    assert not os.path.exists(strict.path("p", "new"))
    os.rename(strict.path("p", "old"), strict.path("p", "new"))
    fsync_path(strict.path("p"))
    strict.crash()
    assert read(strict.path("p", "new")) == b"content"
    assert not os.path.exists(strict.path("p", "old"))


def test_strict_cross_directory_rename_is_durable_at_the_destination_fsync(strict):
    durable_dir(strict, "p", "q")
    _durable_file(strict, "p/f", "content")
    os.rename(strict.path("p", "f"), strict.path("q", "f"))
    fsync_path(strict.path("p"))  # the source only: not enough
    strict.crash()
    assert os.path.exists(strict.path("p", "f")) and not os.path.exists(strict.path("q", "f"))
    os.rename(strict.path("p", "f"), strict.path("q", "f"))
    fsync_path(strict.path("q"))
    strict.crash()
    assert not os.path.exists(strict.path("p", "f")) and read(strict.path("q", "f")) == b"content"


def test_journal_rename_kept_by_any_fsync(journal):
    durable_dir(journal, "p")
    _durable_file(journal, "p/old", "content")
    os.rename(journal.path("p", "old"), journal.path("p", "new"))
    write(journal.path("elsewhere"), "x", sync="fsync")
    journal.crash()
    assert read(journal.path("p", "new")) == b"content"
    assert not os.path.exists(journal.path("p", "old"))


def test_atomic_replace_idiom(lazy):
    """write tmp, fsync tmp, rename over the target, fsync the directory."""
    durable_dir(lazy, "p")
    _durable_file(lazy, "p/conf", "v1")
    write(lazy.path("p", "conf.tmp"), "v2", sync="fsync")
    os.rename(lazy.path("p", "conf.tmp"), lazy.path("p", "conf"))
    fsync_path(lazy.path("p"))
    lazy.crash()
    assert read(lazy.path("p", "conf")) == b"v2"
    assert sorted(os.listdir(lazy.path("p"))) == ["conf"]


def test_rename_over_without_fsync_of_the_new_data(journal):
    """The classic bug the model must catch: the rename is durable, the data not."""
    durable_dir(journal, "p")
    _durable_file(journal, "p/conf", "v1")
    write(journal.path("p", "conf.tmp"), "v2")  # no fsync
    os.rename(journal.path("p", "conf.tmp"), journal.path("p", "conf"))
    write(journal.path("other"), "x", sync="fsync")  # commits the rename
    journal.crash()
    assert read(journal.path("p", "conf")) == b""


def test_strict_unlink_needs_the_directory_fsync(strict):
    durable_dir(strict, "p")
    _durable_file(strict, "p/f", "content")
    os.unlink(strict.path("p", "f"))
    assert not os.path.exists(strict.path("p", "f"))
    strict.crash()
    assert read(strict.path("p", "f")) == b"content"
    os.unlink(strict.path("p", "f"))
    fsync_path(strict.path("p"))
    strict.crash()
    assert not os.path.exists(strict.path("p", "f"))


def test_journal_unlink_kept_by_any_fsync(journal):
    durable_dir(journal, "p")
    _durable_file(journal, "p/f", "content")
    os.unlink(journal.path("p", "f"))
    write(journal.path("other"), "x", sync="fdatasync")
    journal.crash()
    assert not os.path.exists(journal.path("p", "f"))


def test_rmdir_and_nested_pending_tree(lazy):
    durable_dir(lazy, "p")
    os.makedirs(lazy.path("p", "a", "b"))
    write(lazy.path("p", "a", "b", "f"), "x")
    os.unlink(lazy.path("p", "a", "b", "f"))
    os.rmdir(lazy.path("p", "a", "b"))
    os.mkdir(lazy.path("p", "a", "c"))
    fsync_path(lazy.path("p", "a"))  # a is new: its fsync makes its entry durable too
    lazy.crash()
    assert os.listdir(lazy.path("p", "a")) == ["c"]


def test_symlink_and_hard_link(lazy):
    durable_dir(lazy, "p")
    _durable_file(lazy, "p/f", "content")
    os.symlink("f", lazy.path("p", "s"))
    os.link(lazy.path("p", "f"), lazy.path("p", "h"))
    assert os.stat(lazy.path("p", "f")).st_nlink == 2
    assert os.stat(lazy.path("p", "h")).st_ino == os.stat(lazy.path("p", "f")).st_ino
    with open(lazy.path("p", "h"), "ab") as f:  # through the link: one inode, one overlay
        f.write(b"+")
    assert read(lazy.path("p", "f")) == b"content+"
    lazy.crash()
    assert sorted(os.listdir(lazy.path("p"))) == ["f"]
    os.symlink("f", lazy.path("p", "s"))
    os.link(lazy.path("p", "f"), lazy.path("p", "h"))
    fsync_path(lazy.path("p"))
    lazy.crash()
    assert os.readlink(lazy.path("p", "s")) == "f"
    assert read(lazy.path("p", "s")) == b"content"
    assert os.stat(lazy.path("p", "h")).st_ino == os.stat(lazy.path("p", "f")).st_ino
    assert os.path.samefile(lazy.bpath("p", "h"), lazy.bpath("p", "f"))


def test_strict_new_link_is_applied_before_the_old_name_goes(strict):
    """p/a is the only durable name of an inode; link p/a -> q/b (pending until q is fsynced);
    rename p/c over p/a. Applying the rename alone would leave the backing inode without a
    name, and q/b could never be linked: the rename depends on the link."""
    durable_dir(strict, "p", "q")
    _durable_file(strict, "p/a", "first")
    os.link(strict.path("p", "a"), strict.path("q", "b"))
    write(strict.path("p", "c"), "second", sync="fsync")
    os.rename(strict.path("p", "c"), strict.path("p", "a"))
    fsync_path(strict.path("p"))
    fsync_path(strict.path("q"))
    strict.crash()
    assert read(strict.path("q", "b")) == b"first"
    assert read(strict.path("p", "a")) == b"second"
    assert strict.stats()["errors"] == 0


def test_chmod_is_lazy(strict):
    durable_dir(strict, "p")
    _durable_file(strict, "p/f", "x")
    os.chmod(strict.path("p", "f"), 0o600)
    assert os.stat(strict.path("p", "f")).st_mode & 0o777 == 0o600
    strict.crash()
    assert os.stat(strict.path("p", "f")).st_mode & 0o777 == 0o644
    os.chmod(strict.path("p", "f"), 0o600)
    fsync_path(strict.path("p", "f"))
    strict.crash()
    assert os.stat(strict.path("p", "f")).st_mode & 0o777 == 0o600


def test_directory_calls_volmand_makes(lazy):
    """mkdirat, openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS), fstatat, unlinkat, on descriptors."""
    durable_dir(lazy, "root")
    dfd = os.open(lazy.path("root"), os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.mkdir("vol", 0o700, dir_fd=dfd)
        prog = r"""
import ctypes, os, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
dfd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
how = struct.pack("QQQ", os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, 0, 0x08 | 0x04)  # BENEATH|NO_SYMLINKS
fd = libc.syscall(437, dfd, b"vol", how, len(how))
if fd < 0:
    sys.exit("openat2: %s" % os.strerror(ctypes.get_errno()))
bad = libc.syscall(437, dfd, b"../..", how, len(how))
print(fd >= 0, bad < 0 and ctypes.get_errno())
"""
        r = subprocess.run([sys.executable, "-c", prog, lazy.path("root")], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        assert r.stdout.split() == ["True", str(errno.EXDEV)]
        st = os.stat("vol", dir_fd=dfd, follow_symlinks=False)
        assert st.st_mode & 0o777 == 0o700
        os.symlink("/etc", "link", dir_fd=dfd)
        os.unlink("link", dir_fd=dfd)
        os.rmdir("vol", dir_fd=dfd)
        os.fsync(dfd)
    finally:
        os.close(dfd)
    lazy.crash()
    assert os.listdir(lazy.path("root")) == []


def test_flock_works_on_the_mount(lazy):
    write(lazy.path("lock"), "")
    a = open(lazy.path("lock"), "rb")
    b = open(lazy.path("lock"), "rb")
    try:
        fcntl.flock(a, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(BlockingIOError):
            fcntl.flock(b, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(a, fcntl.LOCK_UN)
        fcntl.flock(b, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        a.close()
        b.close()


def test_many_threads_writing_at_once(lazy):
    durable_dir(lazy, "p")
    n = 16
    blobs = {i: os.urandom(20000 + i) for i in range(n)}
    shared = lazy.path("p", "shared")
    write(shared, b"\0" * (n * 8192), sync="fsync")
    errors = []

    def worker(i):
        try:
            write(lazy.path("p", "f%d" % i), blobs[i], sync="fsync" if i % 2 == 0 else None)
            fd = os.open(shared, os.O_WRONLY)
            try:
                os.pwrite(fd, bytes([i + 1]) * 8192, i * 8192)
            finally:
                os.close(fd)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    expect_shared = b"".join(bytes([i + 1]) * 8192 for i in range(n))
    assert read(shared) == expect_shared
    fsync_path(shared)
    lazy.crash()
    assert read(shared) == expect_shared
    for i in range(n):
        p = lazy.path("p", "f%d" % i)
        if i % 2 == 0:
            assert read(p) == blobs[i]
        elif lazy.meta == "strict":
            assert not os.path.exists(p)
        else:  # journal: the entry came with a later fsync, the data did not
            assert read(p) == b""


def _tree(root):
    """Every entry below root: type, content, link count, mode."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            if os.path.islink(p):
                out[os.path.relpath(p, root)] = ("link", os.readlink(p))
            elif os.path.isdir(p):
                out[os.path.relpath(p, root)] = ("dir", st.st_nlink, st.st_mode & 0o7777)
            else:
                out[os.path.relpath(p, root)] = ("file", read(p), st.st_nlink, st.st_mode & 0o7777)
    return out


RENAME_EXCHANGE = 2


def _exchange(a, b):
    if _libc.renameat2(-100, a.encode(), -100, b.encode(), RENAME_EXCHANGE) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e), a)


def _random_ops(roots, seed, count):
    """Runs the same random operations under every root; returns the ones whose outcomes differ."""
    rnd = random.Random(seed)
    names = ["a", "b", "c", "d"]

    def rpath():
        return os.path.join(*[rnd.choice(names) for _ in range(rnd.randint(1, 3))])

    def pwrite(path, data, off):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            os.pwrite(fd, data, off)
        finally:
            os.close(fd)

    def sync(path, data_only):
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        try:
            (os.fdatasync if data_only else os.fsync)(fd)
        finally:
            os.close(fd)

    ops = {
        "mkdir": lambda a, b, k: os.mkdir(a),
        "write": lambda a, b, k: pwrite(a, k["data"], k["off"]),
        "truncate": lambda a, b, k: os.truncate(a, k["size"]),
        "rename": lambda a, b, k: os.rename(a, b),
        "exchange": lambda a, b, k: _exchange(a, b),
        "unlink": lambda a, b, k: os.unlink(a),
        "rmdir": lambda a, b, k: os.rmdir(a),
        "link": lambda a, b, k: os.link(a, b),
        "symlink": lambda a, b, k: os.symlink(k["target"], a),
        "chmod": lambda a, b, k: os.chmod(a, 0o600 | (k["size"] & 0o155)),
        "sync": lambda a, b, k: sync(a, k["size"] % 2 == 1),
    }
    weights = {"mkdir": 3, "write": 4, "truncate": 1, "rename": 3, "exchange": 1, "unlink": 2, "rmdir": 2,
               "link": 2, "symlink": 1, "chmod": 1, "sync": 3}
    differ = []
    for i in range(count):
        op = rnd.choices(list(weights), weights=list(weights.values()))[0]
        p1, p2 = rpath(), rpath()
        k = {"data": rnd.randbytes(rnd.randint(0, 9000)), "off": rnd.randint(0, 12000),
             "size": rnd.randint(0, 15000), "target": p2}
        outcomes = []
        for root in roots:
            try:
                ops[op](os.path.join(root, p1), os.path.join(root, p2), k)
                outcomes.append(0)
            except OSError as e:
                outcomes.append(e.errno)
        if len(set(outcomes)) != 1:
            differ.append((i, op, p1, p2, outcomes))
    return differ


def test_behaves_like_a_plain_directory_across_crashes(lazy):
    """Random operations, on the mount and on a plain directory: same outcomes, same trees.
    After each crash the mount is the backing directory, whose copy becomes the reference;
    every partial commit in between must apply cleanly (the log shows no failure)."""
    ref = os.path.join(lazy.base, "reference")
    os.mkdir(ref)
    for rnd in range(4):
        differ = _random_ops([lazy.mnt, ref], 900 + rnd, 250)  # 900: reaches a link/rename-over order
        assert not differ, differ[:5]
        live = _tree(lazy.mnt)
        assert live == _tree(ref)
        lazy.crash()
        assert _tree(lazy.mnt) == _tree(lazy.backing)
        shutil.rmtree(ref)
        subprocess.run(["cp", "-a", lazy.backing, ref], check=True)
    _random_ops([lazy.mnt, ref], 2000, 250)
    lazy.ctl("sync")
    assert _tree(lazy.backing) == _tree(ref)
    assert lazy.stats()["errors"] == 0


def test_sync_command_makes_everything_durable(lazy):
    os.makedirs(lazy.path("a", "b"))
    write(lazy.path("a", "b", "f"), "pending")
    lazy.ctl("sync")
    assert read(lazy.bpath("a", "b", "f")) == b"pending"
    lazy.crash()
    assert read(lazy.path("a", "b", "f")) == b"pending"
    assert lazy.stats()["dropped_ops"] == 0


# --- SQLite in WAL mode ---------------------------------------------------------------

SQLITE_WRITER = r"""
import os, sqlite3, sys, time
path, sync, durable_rows, rows = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
db = sqlite3.connect(path, isolation_level=None)
assert db.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal"
db.execute("PRAGMA synchronous=FULL")
db.execute("CREATE TABLE IF NOT EXISTS t (i INTEGER PRIMARY KEY, who TEXT, v BLOB)")
for i in range(durable_rows):        # committed at FULL: durable
    db.execute("INSERT INTO t (who, v) VALUES (?, ?)", (sys.argv[5], os.urandom(300)))
db.execute("PRAGMA synchronous=" + sync)
for i in range(rows):                # committed at the mode under test
    db.execute("INSERT INTO t (who, v) VALUES (?, ?)", (sys.argv[5], os.urandom(300)))
print("committed", flush=True)
time.sleep(600)                      # killed here: no close, no checkpoint
"""


def _sqlite_writer(fs, path, sync, durable_rows, rows, who="w"):
    p = subprocess.Popen([sys.executable, "-c", SQLITE_WRITER, path, sync, str(durable_rows), str(rows), who],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    fs.children.append(p)
    line = p.stdout.readline()
    if line.strip() != "committed":
        p.kill()
        _, err = p.communicate()
        pytest.fail("the SQLite writer failed: %s" % err)
    return p


def _kill(p):
    p.kill()
    p.wait()
    p.stdout.close()
    p.stderr.close()


def _count(path, who=None):
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        if who:
            return db.execute("SELECT count(*) FROM t WHERE who = ?", (who,)).fetchone()[0]
        return db.execute("SELECT count(*) FROM t").fetchone()[0]
    finally:
        db.close()


def test_sqlite_wal_synchronous_full_keeps_every_committed_row(lazy):
    durable_dir(lazy, "db")
    path = lazy.path("db", "test.db")
    w = _sqlite_writer(lazy, path, "FULL", 0, 200)
    _kill(w)
    lazy.crash()
    assert _count(path) == 200


def test_sqlite_wal_synchronous_off_loses_unsynced_rows(lazy):
    durable_dir(lazy, "db")
    path = lazy.path("db", "test.db")
    w = _sqlite_writer(lazy, path, "OFF", 10, 200)
    assert _count(path) == 210  # every row was committed and readable before the crash
    _kill(w)
    lazy.crash()
    assert _count(path) == 10


def test_sqlite_wal_two_processes_share_the_mmapped_index(lazy):
    """Two writers at once: the -shm wal-index is shared through the mount's page cache."""
    durable_dir(lazy, "db")
    path = lazy.path("db", "test.db")
    init = sqlite3.connect(path, isolation_level=None)
    init.execute("PRAGMA journal_mode=WAL")
    init.execute("CREATE TABLE t (i INTEGER PRIMARY KEY, who TEXT, v BLOB)")
    init.close()
    a = _sqlite_writer(lazy, path, "FULL", 0, 150, who="a")
    b = _sqlite_writer(lazy, path, "FULL", 0, 150, who="b")
    _kill(a)
    _kill(b)
    lazy.crash()
    assert _count(path, "a") == 150 and _count(path, "b") == 150


# --- the control file ------------------------------------------------------------------

def test_control_file_is_root_only_and_hidden(lazy):
    assert CTL not in os.listdir(lazy.mnt)
    with pytest.raises(PermissionError):
        open(lazy.path(CTL), "rb")
    with pytest.raises(OSError):
        os.unlink(lazy.path(CTL))
    # the unprivileged user can use the mount, but not the control file
    os.mkdir(lazy.path("nobody"))
    os.chown(lazy.path("nobody"), NOBODY, NOBODY)
    write(lazy.path("pending"), "not synced")
    as_nobody = ["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups"]
    ok = subprocess.run(as_nobody + ["sh", "-c", "echo hi > %s && cat %s" % (lazy.path("nobody", "f"),
                                                                             lazy.path("nobody", "f"))],
                        capture_output=True, text=True)
    assert ok.returncode == 0 and ok.stdout == "hi\n", ok.stderr
    for cmd in ("crash", "sync"):
        r = subprocess.run(as_nobody + ["sh", "-c", "printf %s > %s" % (cmd, lazy.path(CTL))],
                           capture_output=True, text=True)
        assert r.returncode != 0 and "Permission denied" in r.stderr, (r.returncode, r.stderr)
    st = lazy.stats()
    assert st["crashes"] == 0
    assert read(lazy.path("pending")) == b"not synced"
    assert not os.path.exists(lazy.bpath("pending"))  # no sync happened either
    with pytest.raises(OSError) as e:
        lazy.ctl("reboot")
    assert e.value.errno == errno.EINVAL


def test_stats_on_sigusr1(lazy):
    durable_dir(lazy, "p")
    write(lazy.path("p", "f"), b"x" * 5000, sync="fsync")
    write(lazy.path("p", "g"), b"y" * 5000)
    st = lazy.stats()
    assert st["meta"] == lazy.meta
    assert st["fsyncs"] >= 1 and st["fsyncdirs"] >= 1
    assert st["pending_bytes"] == 2 * 4096 and st["pending_ops"] >= 1
    lazy.crash()
    st = lazy.stats()
    assert st["dropped_bytes"] == 2 * 4096 and st["dropped_ops"] >= 1
    assert st["pending_bytes"] == 0 and st["pending_ops"] == 0
