"""Crash safety: the daemon dies at each failpoint of docs/api.md (and by a
plain kill -9 under load); after a restart every acknowledged operation holds,
nothing is left half-done, and no storage is orphaned."""

import http.client
import os
import random
import re
import threading
import time

import pytest

from conftest import Client, check_invariants, require_root

CONN_ERRORS = (ConnectionError, http.client.HTTPException, OSError)


def write_file(v, name="data", content=None):
    content = content or ("content of %s" % v["name"])
    with open(os.path.join(v["mountpoint"], name), "w") as f:
        f.write(content)
        f.flush()
        os.fsync(f.fileno())
    return content


def read_file(mountpoint, name="data"):
    with open(os.path.join(mountpoint, name)) as f:
        return f.read()


def expect_crash(daemon, fn):
    """Runs fn (one request), which must die with the daemon: a connection
    error, no answer. Returns nothing; fails if an answer came."""
    try:
        st, body = fn()
    except CONN_ERRORS:
        pass
    else:
        pytest.fail("the request was answered (%s %r) though its failpoint should have "
                    "killed the daemon first:\n%s" % (st, body, daemon.log_tail()))
    rc = daemon.wait_dead()
    assert rc == -9, "volmand died with %s, not SIGKILL:\n%s" % (rc, daemon.log_tail())


def start_with_failpoint(daemon, fp, n=1):
    """Starts volmand with VOLMAN_FAILPOINT=fp:n. If the failpoint fires during
    start-up (the store may commit while reconciling), counts past it."""
    for k in range(n, n + 6):
        daemon.start(env={"VOLMAN_FAILPOINT": "%s:%d" % (fp, k)}, wait=False)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if daemon.proc.poll() is not None:
                break
            try:
                st, _ = daemon.api("GET", "/v1/health")
                if st == 200:
                    return k
            except OSError:
                pass
            time.sleep(0.05)
        else:
            pytest.fail("volmand with %s:%d not healthy:\n%s" % (fp, k, daemon.log_tail()))
    pytest.fail("failpoint %s keeps firing at start-up" % fp)


# (failpoint, operation, expected outcome for the victim, does restart repair?)
# "remove" dies before the answer; "reap" answers the removal, then dies while
# destroying the data in the background.
FAILPOINTS = {
    "create-after-intent": ("create", "absent", True),
    "create-after-driver": ("create", "absent", True),
    "create-after-commit": ("create", "present", False),
    "remove-before-commit": ("remove", "present", False),
    "remove-after-commit": ("remove", "absent", True),
    "remove-tree-descend:3": ("reap", "absent", True),
    "reap-after-driver": ("reap", "absent", True),
    "mount-after-commit": ("mount", "mounted", False),
    "unmount-after-commit": ("unmount", "unmounted", False),
    "store-before-commit": ("create", "absent", False),
}

# A local create records no intent (its storage is an empty directory, which
# start-up removes when no record names it): create-after-intent is tmpfs's.
CASES = [(fp, "local") for fp in FAILPOINTS if fp != "create-after-intent"] + [
    ("create-after-intent", "tmpfs"), ("create-after-driver", "tmpfs"), ("create-after-commit", "tmpfs"),
    ("remove-after-commit", "tmpfs"), ("reap-after-driver", "tmpfs"),
]


@pytest.mark.parametrize("fp,driver", CASES, ids=["%s-%s" % c for c in CASES])
def test_failpoint(make_daemon, fp, driver):
    op, outcome, repairs = FAILPOINTS[fp]
    if driver == "tmpfs":
        require_root()
    opts = {"size": "4m"} if driver == "tmpfs" else {}
    d = make_daemon()
    c = d.client()

    # Before: volumes acknowledged by a daemon that then stopped cleanly.
    acked = {}
    for name in ("pre-a", "pre-b", "victim"):
        st, v = c.create(name, driver=driver, options=opts, labels={"k": name})
        assert st == 201, v
        acked[name] = (v, write_file(v))
    assert c.mount("pre-b", "ref-b")[0] == 200
    c.close()
    d.stop()

    # A tree in the victim, for a kill in the middle of its destruction.
    for i in range(5):
        os.makedirs(os.path.join(acked["victim"][0]["mountpoint"], "t%d" % i, "sub"))

    # The daemon with the failpoint: acknowledged work first, then the victim.
    first = 1
    if fp.startswith("create-"):
        first = 3  # two creates are answered, the third dies
    fp_name, _, fp_count = fp.partition(":")
    if fp_count:
        first = int(fp_count)
    k = start_with_failpoint(d, fp_name, first)
    c = d.client()
    if fp != "store-before-commit" and op != "reap" and (k == first):
        for name in ("ack-1", "ack-2"):
            st, v = c.create(name, driver=driver, options=opts)
            assert st == 201, (name, st, v, d.log_tail())
            acked[name] = (v, write_file(v))
    if op == "create":
        expect_crash(d, lambda: c.create("crash-vol", driver=driver, options=opts))
    elif op == "remove":
        expect_crash(d, lambda: c.remove("victim"))
    elif op == "reap":
        # The reaper may start before the answer is written: whether the
        # answer came or not, the removal was committed before the death.
        try:
            st, body = c.remove("victim")
            assert st == 204, (st, body)
        except CONN_ERRORS:
            pass
        rc = d.wait_dead()
        assert rc == -9, "volmand died with %s, not SIGKILL:\n%s" % (rc, d.log_tail())
    elif op == "mount":
        expect_crash(d, lambda: c.mount("pre-a", "ref-crash"))
    elif op == "unmount":
        expect_crash(d, lambda: c.unmount("pre-b", "ref-b"))
    c.close()

    # After a restart without the failpoint.
    d.start()
    c = d.client()
    vols = check_invariants(d, c)
    by_name = {v["name"]: v for v in vols}
    for name, (v, content) in acked.items():
        if op in ("remove", "reap") and name == "victim" and outcome == "absent":
            continue
        assert name in by_name, "acknowledged volume %s lost" % name
        w = by_name[name]
        assert w["id"] == v["id"] and w["mountpoint"] == v["mountpoint"]
        assert read_file(w["mountpoint"]) == content, name
        if driver == "tmpfs":
            assert os.path.ismount(w["mountpoint"]), name

    if op == "create":
        if outcome == "present":
            w = by_name.get("crash-vol")
            assert w is not None, "a committed create was lost"
            assert w["status"] == "ready" and os.path.isdir(w["mountpoint"])
            if driver == "tmpfs":
                assert os.path.ismount(w["mountpoint"])
        else:
            assert "crash-vol" not in by_name, "an unacknowledged, uncommitted create survived"
            assert c.inspect("crash-vol")[0] == 404
        # either way, creating it again works
        st, w = c.create("crash-vol", driver=driver, options=opts)
        assert st in (200, 201), (st, w)
        assert st == (200 if outcome == "present" else 201)
    elif op in ("remove", "reap") and outcome == "absent":
        assert "victim" not in by_name, "a remove past its commit came back"
        assert not os.path.lexists(acked["victim"][0]["mountpoint"]), "its data was not destroyed"
        # the name is free
        st, w = c.create("victim", driver=driver, options=opts)
        assert st == 201, (st, w)
    elif op == "remove":
        assert by_name["victim"]["status"] == "ready", "a refused-by-crash remove changed the volume"
        assert os.path.isdir(os.path.join(by_name["victim"]["mountpoint"], "t4", "sub"))
    elif op == "mount":
        assert "ref-crash" in {m["id"] for m in by_name["pre-a"]["mounts"]}
        st, body = c.remove("pre-a")
        assert st == 409, (st, body)
    elif op == "unmount":
        assert by_name["pre-b"]["mounts"] == []
        assert c.remove("pre-b")[0] == 204

    log = d.log_text()
    if repairs:
        assert re.search("reconcil", log, re.I), (
            "restart repaired a %s crash but its log does not say so:\n%s" % (fp, log[-3000:]))
    check_invariants(d, c)
    c.close()


def test_kill9_under_load(make_daemon):
    """kill -9 in the middle of creates and removes from several threads:
    every acknowledged create is there with its data, every acknowledged
    remove is gone, and nothing is half-done."""
    d = make_daemon()
    acked_create = {}
    acked_remove = set()
    remove_sent = set()  # asked; unanswered ones may be there or gone
    lock = threading.Lock()
    dead = threading.Event()

    def worker(t):
        rnd = random.Random(t)
        c = d.client(timeout=30)
        i = 0
        mine = []
        while not dead.is_set():
            name = "k%d-%05d" % (t, i)
            i += 1
            try:
                st, v = c.create(name, labels={"t": str(t)})
            except CONN_ERRORS:
                return
            assert st == 201, (st, v)
            with lock:
                acked_create[name] = (v, write_file(v))
            mine.append(name)
            if len(mine) > 3 and rnd.random() < 0.3:
                victim = mine.pop(rnd.randrange(len(mine) - 1))
                with lock:
                    remove_sent.add(victim)
                try:
                    st, body = c.remove(victim)
                except CONN_ERRORS:
                    return
                assert st == 204, (st, body)
                with lock:
                    acked_remove.add(victim)

    ts = [threading.Thread(target=worker, args=(t,), daemon=True) for t in range(4)]
    for t in ts:
        t.start()
    deadline = time.monotonic() + 20
    while len(acked_create) < 60 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)
    d.kill9()
    dead.set()
    for t in ts:
        t.join(60)
        assert not t.is_alive()
    assert len(acked_create) >= 10, "too few creates before the kill"

    d.start()
    c = d.client()
    vols = check_invariants(d, c)
    by_name = {v["name"]: v for v in vols}
    for name, (v, content) in acked_create.items():
        if name in acked_remove:
            assert name not in by_name, "an acknowledged remove came back: %s" % name
            assert not os.path.lexists(v["mountpoint"])
            continue
        if name in remove_sent and name not in by_name:
            # a remove cut short by the kill, rolled forward at restart
            assert not os.path.lexists(v["mountpoint"])
            continue
        assert name in by_name, "acknowledged create lost: %s" % name
        assert by_name[name]["id"] == v["id"]
        assert read_file(by_name[name]["mountpoint"]) == content
    # nothing the clients never asked for
    assert all(n.startswith("k") for n in by_name)
    print("kill -9: %d acknowledged creates, %d removes, %d listed"
          % (len(acked_create), len(acked_remove), len(vols)))
    c.close()


def test_kill9_keeps_every_acknowledged_plugin_mount_and_unmount(make_daemon):
    """The plugin's Mount and Unmount are answered once their reference is
    written, without a flush: written by the event thread itself while the
    store's writer is idle, else by a worker. Under a load of creates (so that
    both ways are taken), kill -9 comes in the middle of the calls: after the
    restart every acknowledged Mount's reference is there and every
    acknowledged Unmount's is gone; a reference whose call went unanswered may
    be either."""
    d = make_daemon(args=["--log-level", "debug"])
    c = d.client()
    vols = ["pm-%d" % i for i in range(3)]
    for name in vols:
        assert c.create(name)[0] == 201
    mounted, unmounted, unsure = {}, {}, {}
    lock = threading.Lock()
    dead = threading.Event()

    def call(p, what, name, ref, done_to):
        """One plugin call, unsure until answered, then in done_to (and out of
        mounted when it is an Unmount). False when the daemon died under it."""
        with lock:
            unsure[ref] = name
        try:
            st, body = p.post("/VolumeDriver." + what, {"Name": name, "ID": ref})
        except CONN_ERRORS:
            return False
        assert st == 200 and body["Err"] == "", body
        assert what != "Mount" or body["Mountpoint"], body
        with lock:
            del unsure[ref]
            mounted.pop(ref, None)
            done_to[ref] = name
        return True

    def plugin_caller(t):
        p = Client(d.plugin_socket, timeout=30)
        name = vols[t]
        i = 0
        while not dead.is_set():
            ref = "t%d-%05d" % (t, i)
            i += 1
            if not call(p, "Mount", name, ref, mounted):
                return
            # every other reference is dropped again
            if i % 2 == 0 and not call(p, "Unmount", name, ref, unmounted):
                return

    def creator(t):
        cc = d.client(timeout=30)
        i = 0
        while not dead.is_set():
            try:
                st, _ = cc.create("load-%d-%05d" % (t, i))
            except CONN_ERRORS:
                return
            assert st == 201
            i += 1

    ts = [threading.Thread(target=plugin_caller, args=(t,), daemon=True) for t in range(len(vols))]
    ts += [threading.Thread(target=creator, args=(t,), daemon=True) for t in range(4)]
    for t in ts:
        t.start()
    deadline = time.monotonic() + 30

    def deferred():
        return d.log_text().count("passed to a worker: it would wait")

    def answered():  # Mounts, and Unmounts (each of a reference mounted first)
        return len(mounted) + 2 * len(unmounted)

    while (answered() < 400 or deferred() < 5) and time.monotonic() < deadline:
        time.sleep(0.05)
    d.kill9()
    dead.set()
    for t in ts:
        t.join(60)
        assert not t.is_alive()
    n_deferred = deferred()
    # both ways were taken: by the event thread, and passed to a worker
    assert n_deferred >= 1, "no plugin call was passed to a worker under the load"
    assert answered() > n_deferred, "no plugin call was answered by the event thread"

    d.start()
    c = d.client()
    check_invariants(d, c)
    refs = {}
    for name in vols:
        st, v = c.inspect(name)
        assert st == 200, v
        refs[name] = {m["id"] for m in v["mounts"]}
    for ref, name in mounted.items():
        assert ref in refs[name], "an acknowledged Mount's reference was lost: %s on %s" % (ref, name)
    for ref, name in unmounted.items():
        assert ref not in refs[name], "an acknowledged Unmount's reference came back: %s on %s" % (ref, name)
    known = set(mounted) | set(unmounted) | set(unsure)
    for name in vols:
        assert refs[name] <= known, refs[name] - known
    print("kill -9: %d Mounts kept, %d Unmounts kept, %d unanswered, %d passed to a worker"
          % (len(mounted), len(unmounted), len(unsure), n_deferred))
    c.close()


def test_orphan_storage_is_reported(make_daemon):
    """Storage with no record (e.g. left by a crash of an older version) is
    logged at start-up; the records that exist are untouched."""
    d = make_daemon()
    c = d.client()
    st, v = c.create("real")
    assert st == 201
    write_file(v)
    c.close()
    d.stop()
    stray_id = "0b5e55ed-0000-4000-8000-000000000001"
    stray = os.path.join(d.root, "local", stray_id)
    os.mkdir(stray, 0o700)
    with open(os.path.join(stray, "f"), "w") as f:
        f.write("stray")
    d.start()
    log = d.log_text()
    assert stray_id in log or re.search("orphan", log, re.I), log[-3000:]
    c = d.client()
    st, w = c.inspect("real")
    assert st == 200 and w["id"] == v["id"]
    assert read_file(w["mountpoint"]) == "content of real"
    assert [x["name"] for x in c.list_all()] == ["real"]
    c.close()


def test_reconcile_cleans_empty_traces_and_keeps_data(daemon, client):
    """Storage with no record after a crash or a power loss: an empty directory can only
    be the trace of a create that was never answered, and goes; one holding data is kept
    and reported, never deleted."""
    st, v = client.create("kept-volume")
    assert st == 201, v
    write_file(v)
    daemon.stop()
    client.close()  # its kept-alive connection dies with the daemon
    local = os.path.join(daemon.root, "local")
    empty = os.path.join(local, "0b8f6c1e-0000-4000-8000-000000000001")
    full = os.path.join(local, "0b8f6c1e-0000-4000-8000-000000000002")
    os.mkdir(empty, 0o700)
    os.mkdir(full, 0o700)
    with open(os.path.join(full, "precious"), "w") as f:
        f.write("someone's data")
    daemon.start()
    assert not os.path.exists(empty), "an empty directory with no record was kept"
    with open(os.path.join(full, "precious")) as f:
        assert f.read() == "someone's data", "data with no record was touched"
    log = daemon.log_text()
    assert "0b8f6c1e-0000-4000-8000-000000000001" in log and "removed" in log, log
    assert "0b8f6c1e-0000-4000-8000-000000000002" in log and "kept" in log, log
    # the volume with a record is untouched
    st, w = client.inspect("kept-volume")
    assert st == 200 and read_file(w["mountpoint"]) == "content of kept-volume"
    # tidy up what the invariants checker would call an orphan
    for p in os.listdir(full):
        os.unlink(os.path.join(full, p))
    os.rmdir(full)


def test_lost_empty_storage_is_made_again(make_daemon):
    """A create syncs only its record: a power loss may drop the new, empty
    directory. At start-up a ready local volume whose directory is gone gets it
    back, empty, with its recorded owner and mode, and the log says so."""
    d = make_daemon()
    c = d.client()
    st, v = c.create("fresh", options={"mode": "0750", "uid": "1234", "gid": "2345"})
    assert st == 201, v
    st, keep = c.create("kept")
    assert st == 201
    write_file(keep)
    c.close()
    d.stop()
    os.rmdir(v["mountpoint"])  # what a power loss before any sync inside it leaves
    d.start()
    c = d.client()
    st, w = c.inspect("fresh")
    assert st == 200 and w["id"] == v["id"] and w["status"] == "ready", w
    s = os.stat(w["mountpoint"])
    assert (s.st_mode & 0o7777, s.st_uid, s.st_gid) == (0o750, 1234, 2345)
    assert os.listdir(w["mountpoint"]) == []
    assert read_file(c.inspect("kept")[1]["mountpoint"]) == "content of kept"
    log = d.log_text()
    assert "volume fresh had lost its storage" in log and "made again, empty" in log, log[-2000:]
    check_invariants(d, c)
    c.close()
