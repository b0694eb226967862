"""What each change costs the metadata store, counted by volmand itself
(/metrics: volman_store_writes_total, _commits_total, _syncs_total) and
checked against docs/architecture.md, "Durability: one synced write per change,
none per mount": a create and a delete are one synced write each, a mount and
an unmount one ordered write and no sync, and the events of all of them are
written back in pages, not one write per event."""

import os
import re
import subprocess
import threading
import time

from conftest import Client, UnixHTTPConnection, require_root, wait_until  # noqa: F401

# Writes volmand may make on its own during a test: the events' history is
# written back at most once a second (a page and, past 40 pages, the removal
# of the oldest one) and a flush may fall either side of a test's figures.
BACKGROUND_ORDERED = 8


def counters(client):
    st, text = client.get("/metrics")
    assert st == 200, text
    out = {}
    for key, pat in (("full", r'^volman_store_writes_total\{sync="full"\} (\d+)$'),
                     ("ordered", r'^volman_store_writes_total\{sync="ordered"\} (\d+)$'),
                     ("commits", r"^volman_store_commits_total (\d+)$"),
                     ("syncs", r"^volman_store_syncs_total (\d+)$")):
        m = re.search(pat, text, re.M)
        assert m, "/metrics lacks %s:\n%s" % (key, text)
        out[key] = int(m.group(1))
    return out


def delta(a, b):
    return {k: b[k] - a[k] for k in a}


def test_a_create_is_one_synced_write_and_a_delete_too(client):
    n = 40
    before = counters(client)
    for i in range(n):
        assert client.create("sc-%d" % i)[0] == 201
    d = delta(before, counters(client))
    assert d["full"] == n, d            # the ready record, nothing else synced
    assert d["syncs"] == n, d           # one flush each: one client waits for its own
    assert d["ordered"] <= BACKGROUND_ORDERED, d   # no intent, no event written per create
    before = counters(client)
    for i in range(n):
        assert client.remove("sc-%d" % i)[0] == 204
    d = delta(before, counters(client))
    assert d["full"] == n, d            # the removal and its tombstone, in one write
    assert d["syncs"] == n, d
    # the background removal drops each tombstone with an ordered write (or
    # fewer, when it drops several at once)
    assert d["ordered"] <= n + BACKGROUND_ORDERED, d


def test_mount_and_unmount_never_sync(client):
    assert client.create("sc-m")[0] == 201
    before = counters(client)
    for i in range(50):
        assert client.mount("sc-m", "ref-%d" % i)[0] == 200
        assert client.unmount("sc-m", "ref-%d" % i)[0] == 200
    d = delta(before, counters(client))
    assert d["full"] == 0 and d["syncs"] == 0, d
    assert 100 <= d["ordered"] <= 100 + BACKGROUND_ORDERED, d


def test_plugin_mount_and_unmount_never_sync(daemon, client):
    assert client.create("sc-p")[0] == 201
    plugin = Client(daemon.plugin_socket)
    before = counters(client)
    for i in range(50):
        st, body = plugin.post("/VolumeDriver.Mount", {"Name": "sc-p", "ID": "c%d" % i})
        assert st == 200 and body["Err"] == "", body
        st, body = plugin.post("/VolumeDriver.Unmount", {"Name": "sc-p", "ID": "c%d" % i})
        assert st == 200 and body["Err"] == "", body
    d = delta(before, counters(client))
    assert d["full"] == 0 and d["syncs"] == 0, d
    assert 100 <= d["ordered"] <= 100 + BACKGROUND_ORDERED, d
    assert client.inspect("sc-p")[1]["mounts"] == []


def test_a_plugin_mount_never_makes_the_event_thread_wait_for_the_writer(make_daemon, tmp_path):
    """The plugin's event thread writes a mount reference itself only while the
    store's writer is idle. Here a delete is held in its commit (the filesystem
    under the store is frozen, so its log write cannot finish): a Mount that
    comes meanwhile is passed to a worker, and the event thread goes on
    answering the plugin's other calls while the freeze lasts. Once thawed,
    both writes finish. (Were the event thread to queue its write behind the
    held one, or lead a batch holding a synced write and flush it, every
    connection of the plugin socket would wait for the disk.)"""
    require_root("mount(2) of an ext4 image, fsfreeze(8)")
    # the root alone on the filesystem to freeze: the daemon's log and sockets stay writable
    where = tmp_path / "frozen" / "root"
    where.mkdir(parents=True)
    img = tmp_path / "ext4.img"
    subprocess.run(["truncate", "-s", "64M", str(img)], check=True)
    subprocess.run(["mkfs.ext4", "-q", "-F", str(img)], check=True, capture_output=True)
    subprocess.run(["mount", "-o", "loop", str(img), str(where)], check=True)
    frozen = False
    try:
        d = make_daemon(subdir="frozen", args=["--log-level", "debug"])
        c = d.client()
        for name in ("held", "other"):
            assert c.create(name)[0] == 201
        before = counters(c)
        subprocess.run(["fsfreeze", "-f", str(where)], check=True)
        frozen = True
        answers = {}

        def call(key, fn):
            answers[key] = fn()

        deleting = threading.Thread(target=call, args=("delete", lambda: d.client(timeout=120).remove("held")))
        deleting.start()
        # the delete's synced write is queued, and held in its commit by the freeze
        wait_until("the delete's write queued", lambda: counters(c)["full"] == before["full"] + 1)
        mounting = threading.Thread(target=call, args=("mount", lambda: Client(d.plugin_socket, timeout=120).post(
            "/VolumeDriver.Mount", {"Name": "other", "ID": "frozen-1"})))
        mounting.start()
        wait_until("the Mount passed to a worker",
                   lambda: "plugin Mount of other passed to a worker" in open(d.log_path, errors="replace").read(),
                   timeout=20)
        # the event thread is free: the plugin's other calls are answered while the freeze lasts
        plugin = Client(d.plugin_socket, timeout=10)
        st, body = plugin.post("/VolumeDriver.Get", {"Name": "other"})
        assert st == 200 and body["Err"] == "", body
        st, body = plugin.post("/VolumeDriver.Path", {"Name": "held"})
        assert st == 200 and body["Err"] == "", body
        assert deleting.is_alive() and mounting.is_alive(), answers  # both still held by the freeze
        subprocess.run(["fsfreeze", "-u", str(where)], check=True)
        frozen = False
        deleting.join(60)
        mounting.join(60)
        assert answers["delete"][0] == 204, answers
        st, body = answers["mount"]
        assert st == 200 and body["Err"] == "" and body["Mountpoint"], body
        st, v = c.inspect("other")
        assert st == 200 and [m["id"] for m in v["mounts"]] == ["frozen-1"], v
        assert c.inspect("held")[0] == 404
        c.close()
        d.stop(check=True)
    finally:
        if frozen:
            subprocess.run(["fsfreeze", "-u", str(where)], check=False)
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_a_plugin_mount_is_not_written_by_the_event_thread_under_a_flush(make_daemon):
    """While the store flushes its log, a write to that log can wait in the
    kernel for the flush's pages; so a Mount that comes during a flush is
    passed to a worker (an ordered write there need not wait for the flush
    to end), and the plugin's event thread stays free. The flush is held by
    the `store-fdatasync=stall` failpoint (2 s each)."""
    d = make_daemon(args=["--log-level", "debug"], env={"VOLMAN_FAILPOINT": "store-fdatasync=stall"})
    c = d.client(timeout=60)
    for name in ("held", "other"):
        assert c.create(name)[0] == 201
    before = counters(c)
    answers = {}
    deleting = threading.Thread(target=lambda: answers.update(delete=d.client(timeout=60).remove("held")))
    t0 = time.monotonic()
    deleting.start()
    # the delete's synced write is committed, and its flush held
    wait_until("the delete's write queued", lambda: counters(c)["full"] == before["full"] + 1)
    time.sleep(0.3)
    plugin = Client(d.plugin_socket, timeout=60)
    st, body = plugin.post("/VolumeDriver.Mount", {"Name": "other", "ID": "under-flush"})
    assert st == 200 and body["Err"] == "" and body["Mountpoint"], body
    assert deleting.is_alive() and time.monotonic() - t0 < 1.8, "the flush ended before the Mount was asked"
    assert "plugin Mount of other passed to a worker" in d.log_text(), \
        "the event thread wrote the reference under a running flush"
    deleting.join(30)
    assert answers["delete"][0] == 204, answers
    st, v = c.inspect("other")
    assert st == 200 and [m["id"] for m in v["mounts"]] == ["under-flush"], v
    c.close()


def create_concurrently(daemon, prefix, threads, each):
    """threads clients, each on its own connection, create `each` volumes
    PREFIX-cT-I; returns the answers that were not 201."""
    errors = []

    def run(t):
        c = daemon.client()
        try:
            for i in range(each):
                st, body = c.create("%s-c%d-%d" % (prefix, t, i))
                if st != 201:
                    errors.append((st, body))
        finally:
            c.close()

    ts = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return errors


def test_concurrent_creates_share_their_syncs(daemon, client):
    threads, each = 16, 20
    before = counters(client)
    errors = create_concurrently(daemon, "sc", threads, each)
    assert not errors, errors[:3]
    d = delta(before, counters(client))
    assert d["full"] == threads * each, d
    # group commit: a flush covers every write committed before it began
    assert d["syncs"] < threads * each, d
    assert d["commits"] < threads * each + BACKGROUND_ORDERED, d


def ahead(client):
    st, text = client.get("/metrics")
    assert st == 200, text
    m = re.search(r"^volman_store_commits_ahead_total (\d+)$", text, re.M)
    assert m, "/metrics lacks volman_store_commits_ahead_total"
    return int(m.group(1))


def test_a_batch_is_committed_under_the_running_flush(daemon, client):
    """16 clients fall into groups, each waiting for its own flush: the next
    group's creates are committed while the current flush runs (as soon as
    as many wait as it covers), so its flush starts when that one ends
    instead of after a commit of its own. One client never has a batch
    ahead: nothing of its is waiting while its flush runs."""
    before = ahead(client)
    for i in range(30):
        assert client.create("alone-%d" % i)[0] == 201
    assert ahead(client) == before

    errors = create_concurrently(daemon, "ahead", 16, 40)
    assert not errors, errors[:3]
    assert ahead(client) > before


def test_plugin_mount_of_a_driver_that_mounts_for_real(daemon, client):
    """A tmpfs volume's Mount does mount(2): the event thread hands it to a
    worker, and the answer is the same."""
    st, v = client.create("sc-t", driver="tmpfs", options={"size": "4m"})
    assert st == 201, v
    plugin = Client(daemon.plugin_socket)
    before = counters(client)
    for i in range(3):
        st, body = plugin.post("/VolumeDriver.Mount", {"Name": "sc-t", "ID": "t%d" % i})
        assert st == 200 and body == {"Mountpoint": v["mountpoint"], "Err": ""}, body
    with open("/proc/self/mountinfo") as f:
        assert any(line.split()[4] == v["mountpoint"] for line in f), "no tmpfs on " + v["mountpoint"]
    assert sorted(m["id"] for m in client.inspect("sc-t")[1]["mounts"]) == ["t0", "t1", "t2"]
    for i in range(3):
        st, body = plugin.post("/VolumeDriver.Unmount", {"Name": "sc-t", "ID": "t%d" % i})
        assert st == 200 and body == {"Err": ""}, body
    assert client.inspect("sc-t")[1]["mounts"] == []
    d = delta(before, counters(client))
    assert d["syncs"] == 0 and 6 <= d["ordered"] <= 6 + BACKGROUND_ORDERED, d
    # errors are answered the same way from either thread
    st, body = plugin.post("/VolumeDriver.Mount", {"Name": "sc-none", "ID": "x"})
    assert st == 500 and "sc-none" in body["Err"], body


def test_a_create_of_a_taken_name_changes_nothing(daemon, client):
    """A new local volume is made without reading its name first (the insert
    refuses a taken name): a second create of the name answers the volume that
    is there, or why not, and leaves no directory behind."""
    import os
    st, v = client.create("sc-x", labels={"a": "1"})
    assert st == 201, v
    local = os.path.join(daemon.root, "local")
    dirs = sorted(os.listdir(local))
    before = counters(client)
    st, again = client.create("sc-x", labels={"a": "1"})
    assert st == 200 and again["id"] == v["id"], again
    st, err = client.create("sc-x", labels={"a": "2"})
    assert st == 409 and "labels" in err["error"]["message"], err
    st, err = client.create("sc-x", driver="tmpfs")
    assert st == 409, err
    assert sorted(os.listdir(local)) == dirs
    d = delta(before, counters(client))
    assert d["syncs"] == 0, d  # a refused insert is never flushed
    assert client.inspect("sc-x")[1]["labels"] == {"a": "1"}


def checkpoints(client):
    st, text = client.get("/metrics")
    m = re.search(r"^volman_store_checkpoints_total (\d+)$", text, re.M)
    assert m, "/metrics lacks volman_store_checkpoints_total:\n%s" % text
    return int(m.group(1))


def test_a_stream_of_mounts_checkpoints_once_per_thousand_log_pages(daemon, client):
    """A mount writes one page of the log (the row alone: no index entry is
    rewritten), and the checkpointer copies the log back once per 1,000 pages
    and lets it start again: not once every few commits, each with two
    flushes, as when a checkpoint that copied what was there when it began
    never caught what came meanwhile (docs/architecture.md, "Durability")."""
    assert client.create("sc-w")[0] == 201
    plugin = Client(daemon.plugin_socket)
    n = 2500
    before = checkpoints(client)
    for i in range(n):
        assert plugin.post("/VolumeDriver.Mount", {"Name": "sc-w", "ID": "w%d" % i})[0] == 200
        assert plugin.post("/VolumeDriver.Unmount", {"Name": "sc-w", "ID": "w%d" % i})[0] == 200
    made = checkpoints(client) - before
    # 5,000 one-page commits (and the events' pages): about 5 checkpoints;
    # 2 pages per mount would make 10, a checkpointer that never caught up hundreds
    print("checkpoints for %d mount+unmount pairs: %d" % (n, made))
    assert 3 <= made <= 8, made
    wal = os.path.getsize(os.path.join(daemon.root, "volman.db-wal"))
    assert wal < 3 * 1000 * 4120, wal   # the log restarts: a few thousand pages at most


def test_a_pause_in_writes_copies_the_log_back(daemon, client):
    """Once writes pause (20 ms), 64 or more log pages waiting are copied back
    into the database, so that reads (a mapped list) find every page there;
    fewer wait for more, since a checkpoint costs two flushes of its own."""
    assert client.create("sc-i")[0] == 201
    time.sleep(0.5)                      # what start-up and the create left is settled
    before = checkpoints(client)
    for i in range(10):                  # ~10 pages (and the events' page): too few
        assert client.mount("sc-i", "f%d" % i)[0] == 200
    time.sleep(0.5)
    assert checkpoints(client) == before
    for i in range(150):                 # 300 one-page commits: over 64, under 1,000
        assert client.mount("sc-i", "r%d" % i)[0] == 200
        assert client.unmount("sc-i", "r%d" % i)[0] == 200
    deadline = time.monotonic() + 5
    while checkpoints(client) == before and time.monotonic() < deadline:
        time.sleep(0.05)
    # one at the end (or two, if this slow client paused 20 ms half-way)
    time.sleep(0.3)
    settled = checkpoints(client)
    assert before + 1 <= settled <= before + 2, (before, settled)
    time.sleep(0.5)                      # and nothing more while nothing is written
    assert checkpoints(client) == settled
