"""The metadata store's online backup (GET /v1/store/backup, `volman store
backup`), and why it is the way to copy the store: volmand holds its database
locked against every other process (docs/architecture.md, "One process owns
the store"; docs/operations.md, "Backups")."""

import os
import sqlite3
import stat
import subprocess
import threading
import time

import pytest

from conftest import VOLMAN, Client
from test_tenants import LISTEN, TLSClient, assert_err, make_token


def backup(daemon, out, *extra):
    return subprocess.run([VOLMAN, "--socket", daemon.socket, "store", "backup", "-o", str(out), *extra],
                          capture_output=True, text=True, timeout=60)


def leftovers(daemon):
    return [f for f in os.listdir(daemon.root) if ".backup-" in f]


def volume_names(path):
    db = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return {r[0] for r in db.execute("SELECT name FROM volumes")}
    finally:
        db.close()


def test_a_backup_taken_under_writes_is_whole_and_consistent(daemon, client, tmp_path):
    for i in range(30):
        assert client.create("bk-%d" % i)[0] == 201
    assert client.mount("bk-0", "ref-a")[0] == 200
    stop = threading.Event()
    made = []

    def writer():  # creates, mounts and unmounts all the while
        c = daemon.client()
        i = 0
        while not stop.is_set():
            name = "live-%d" % i
            if c.create(name)[0] == 201:
                made.append(name)
            c.mount("bk-1", "r%d" % i)
            c.unmount("bk-1", "r%d" % i)
            i += 1
        c.close()

    t = threading.Thread(target=writer)
    t.start()
    try:
        outs = [tmp_path / ("copy-%d.db" % k) for k in range(3)]
        for out in outs:
            p = backup(daemon, out)
            assert p.returncode == 0, p.stderr
            assert "copied to" in p.stderr
    finally:
        stop.set()
        t.join()
    assert made, "the writer made nothing while the backups ran"
    for out in outs:
        assert stat.S_IMODE(os.stat(out).st_mode) == 0o600  # token hashes, sealed secrets
        assert not os.path.exists(str(out) + ".part")
        names = volume_names(out)
        assert {"bk-%d" % i for i in range(30)} <= names
        # a snapshot: each live volume in the copy is one volmand had made
        assert {n for n in names if n.startswith("live-")} <= set(made)
    # later copies hold what earlier ones held, and more
    first, last = volume_names(outs[0]), volume_names(outs[-1])
    assert first <= last
    assert leftovers(daemon) == []   # the copy volmand made is gone from its root


def test_the_database_is_locked_against_other_processes(daemon, client):
    assert client.create("locked")[0] == 201
    db = sqlite3.connect(os.path.join(daemon.root, "volman.db"), timeout=0.2)
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            db.execute("SELECT count(*) FROM volumes").fetchone()
    finally:
        db.close()
    # no -shm file: the WAL index lives in volmand's memory
    assert not os.path.exists(os.path.join(daemon.root, "volman.db-shm"))
    assert client.inspect("locked")[0] == 200


def test_volmand_refuses_a_database_another_process_has_open(daemon, client):
    assert client.create("held")[0] == 201
    daemon.stop()
    other = sqlite3.connect(os.path.join(daemon.root, "volman.db"))
    try:
        assert other.execute("SELECT count(*) FROM volumes").fetchone()[0] == 1
        t0 = time.monotonic()
        daemon.start(wait=False)
        rc = daemon.proc.wait(timeout=20)
        assert rc != 0 and time.monotonic() - t0 < 5   # at once, not after a lock timeout
        log = daemon.log_text()
        assert "is open in another process" in log and "volman store backup" in log, log
    finally:
        other.close()
    daemon.start()
    assert daemon.client().inspect("held")[0] == 200


def test_a_backup_restores_as_the_store(daemon, client, tmp_path):
    for i in range(5):
        assert client.create("keep-%d" % i, labels={"n": str(i)})[0] == 201
    out = tmp_path / "store.db"
    assert backup(daemon, out).returncode == 0
    st, after = client.create("after")               # made after the copy, with data
    assert st == 201
    with open(os.path.join(after["mountpoint"], "f"), "w") as f:
        f.write("data")
    gone = client.inspect("keep-4")[1]["mountpoint"]
    assert client.remove("keep-4")[0] == 204          # removed after the copy
    deadline = time.monotonic() + 10
    while os.path.exists(gone) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not os.path.exists(gone)
    before = {v["name"]: v for v in client.list_all()}
    daemon.stop()
    os.replace(out, os.path.join(daemon.root, "volman.db"))
    for f in ("volman.db-wal", "volman.db-shm"):   # a crash may have left a log: not this copy's
        if os.path.exists(os.path.join(daemon.root, f)):
            os.unlink(os.path.join(daemon.root, f))
    daemon.start()
    c = daemon.client()
    now = {v["name"]: v for v in c.list_all()}
    assert set(now) == {"keep-%d" % i for i in range(5)}
    for i in range(4):
        assert now["keep-%d" % i]["labels"] == {"n": str(i)}
        assert now["keep-%d" % i]["id"] == before["keep-%d" % i]["id"]
    log = daemon.log_text()
    # what differs is said: the later volume's data is kept, not deleted; the
    # volume removed after the copy is back, empty
    assert "1 orphan storage kept" in log, log
    assert open(os.path.join(after["mountpoint"], "f")).read() == "data"
    assert "1 remade empty" in log, log
    assert os.listdir(now["keep-4"]["mountpoint"]) == []
    c.close()


def test_a_backup_to_stdout_and_bad_invocations(daemon, client, tmp_path):
    assert client.create("out")[0] == 201
    out = tmp_path / "piped.db"
    with open(out, "wb") as f:
        p = subprocess.run([VOLMAN, "--socket", daemon.socket, "store", "backup", "-o", "-"], stdout=f,
                           stderr=subprocess.PIPE, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert "out" in volume_names(out)
    p = subprocess.run([VOLMAN, "--socket", daemon.socket, "store", "backup"], capture_output=True, text=True)
    assert p.returncode == 2 and "-o FILE" in p.stderr
    p = backup(daemon, tmp_path / "x.db", "extra")
    assert p.returncode == 2 and "extra" in p.stderr
    p = backup(daemon, tmp_path / "no" / "such" / "dir.db")
    assert p.returncode == 4 and "creating" in p.stderr and "No such file" in p.stderr  # exit 4: not found


def test_only_an_admin_backs_up_the_store(make_daemon):
    d = make_daemon(args=LISTEN)
    tok, _ = make_token(d, tenant="acme")
    st, body, _ = TLSClient(d, token=tok).get("/v1/store/backup")
    assert_err(st, body, 403, "forbidden")
    assert "admin" in body["error"]["message"]
    assert "back up the metadata store" in d.log_text()   # audited, refusal included
    admin, _ = make_token(d)
    st, body, h = TLSClient(d, token=admin).get("/v1/store/backup")
    assert st == 200 and h["content-type"] == ["application/vnd.sqlite3"]
    assert leftovers(d) == []


def test_a_backup_cut_short_by_a_crash_leaves_no_copy_behind(make_daemon):
    d = make_daemon(env={"VOLMAN_FAILPOINT": "store-backup-made"})
    c = Client(d.socket)
    try:
        c.get("/v1/store/backup")
    except OSError:
        pass
    assert d.wait_dead() == -9, d.log_tail()
    assert len(leftovers(d)) == 1      # the copy was made, then volmand died
    d.start()
    assert leftovers(d) == []          # start-up removes it
    assert d.api("GET", "/v1/health")[0] == 200
