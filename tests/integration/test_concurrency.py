"""Many clients at once: the store, the drivers and the locks agree at the end."""

import os
import random
import threading
import time

from conftest import Client, check_invariants

THREADS = 16
PER_THREAD = int(os.environ.get("VOLMAN_STRESS_PER_THREAD", "250"))
DEADLINE = float(os.environ.get("VOLMAN_STRESS_SECONDS", "40"))
SHARED = ["shared-%02d" % i for i in range(8)]


def run_threads(n, fn):
    errors = []

    def wrap(i):
        try:
            fn(i)
        except BaseException as e:  # collected and re-raised in the main thread
            errors.append((i, repr(e)))

    ts = [threading.Thread(target=wrap, args=(i,), daemon=True) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(300)
        assert not t.is_alive(), "a client thread is stuck"
    assert not errors, errors[:5]


def test_many_clients(daemon):
    """16 threads, each on its own connection, create, mount, unmount and
    remove their own volumes and share a few; the end state is exactly what
    the clients believe."""
    expected = {}  # name -> set of mount refs; each thread owns its names
    lock = threading.Lock()
    stop_at = time.monotonic() + DEADLINE
    done = [0] * THREADS
    shared_ids = {}

    def worker(t):
        rnd = random.Random(t)
        c = daemon.client(timeout=60)
        mine = {}
        try:
            for i in range(PER_THREAD):
                if time.monotonic() > stop_at:
                    break
                name = "c%02d-%04d" % (t, i)
                st, v = c.create(name, labels={"thread": str(t)})
                assert st == 201, (name, st, v)
                mine[name] = set()
                r = rnd.random()
                if r < 0.5:
                    ref = "ctr-%d-%d" % (t, i)
                    st, body = c.mount(name, ref)
                    assert st == 200 and body["mountpoint"] == v["mountpoint"], (st, body)
                    mine[name].add(ref)
                    if rnd.random() < 0.5:
                        st, body = c.remove(name)
                        assert st == 409 and body["error"]["code"] == "in_use", (st, body)
                        st, _ = c.unmount(name, ref)
                        assert st == 200
                        mine[name].discard(ref)
                if r > 0.6 and not mine[name]:
                    st, body = c.remove(name)
                    assert st == 204, (name, st, body)
                    del mine[name]
                # an occasional earlier volume goes too
                if mine and rnd.random() < 0.1:
                    old = rnd.choice(sorted(mine))
                    for ref in list(mine[old]):
                        assert c.unmount(old, ref)[0] == 200
                    st, body = c.remove(old)
                    assert st == 204, (old, st, body)
                    del mine[old]
                # shared volumes: same params from every thread
                if i % 10 == 0:
                    sname = SHARED[rnd.randrange(len(SHARED))]
                    st, v = c.create(sname, labels={"shared": "yes"})
                    assert st in (200, 201), (st, v)
                    with lock:
                        assert shared_ids.setdefault(sname, v["id"]) == v["id"]
                    ref = "shared-ctr-%d-%d" % (t, i)
                    assert c.mount(sname, ref)[0] == 200
                    if rnd.random() < 0.7:
                        assert c.unmount(sname, ref)[0] == 200
                    else:
                        with lock:
                            expected.setdefault(sname, set()).add(ref)
                if i % 25 == 0:
                    st, body = c.list(filters=["label=thread=%d" % t])
                    assert st == 200
                    listed = {x["name"] for x in body["volumes"]}
                    assert listed == set(mine), "a thread's own list is wrong"
                done[t] += 1
        finally:
            c.close()
        with lock:
            expected.update(mine)

    t0 = time.monotonic()
    run_threads(THREADS, worker)
    elapsed = time.monotonic() - t0
    print("stress: %d create rounds in %.1fs, %d answers 503 (retried)"
          % (sum(done), elapsed, Client.unavailable))
    assert sum(done) >= THREADS * 10, "far too slow: %d rounds" % sum(done)

    c = daemon.client()
    vols = check_invariants(daemon, c)
    by_name = {v["name"]: v for v in vols}
    assert set(by_name) == set(expected)
    for name, refs in expected.items():
        assert {m["id"] for m in by_name[name]["mounts"]} == refs, name
    ids = [v["id"] for v in vols]
    assert len(set(ids)) == len(ids)
    for name, vid in shared_ids.items():
        assert by_name[name]["id"] == vid


def test_same_name_race(daemon):
    """16 threads create the same name at once: all succeed, one creates,
    all see the same volume."""
    for round_ in range(5):
        name = "race-%d" % round_
        barrier = threading.Barrier(THREADS, timeout=30)
        results = [None] * THREADS

        def worker(t):
            c = daemon.client(timeout=60)
            try:
                c.get("/v1/health")  # connect before the barrier
                barrier.wait()
                results[t] = c.create(name, labels={"round": str(round_)},
                                      options={"mode": "0750"})
            finally:
                c.close()

        run_threads(THREADS, worker)
        statuses = sorted(st for st, _ in results)
        assert all(st in (200, 201) for st in statuses), results
        assert statuses.count(201) == 1, statuses
        assert len({v["id"] for _, v in results}) == 1, results
    vols = check_invariants(daemon)
    assert sorted(v["name"] for v in vols) == ["race-%d" % i for i in range(5)]


def test_remove_mount_race(daemon):
    """A remove and a mount of the same volume at once: either the mount wins
    (the remove is refused, the reference is kept) or the remove wins (the
    mount is 404 and the volume is gone). Never both, never a half state."""
    c = daemon.client()
    outcomes = {"mount": 0, "remove": 0}
    for i in range(40):
        name = "rm-race-%d" % i
        assert c.create(name)[0] == 201
        barrier = threading.Barrier(2, timeout=30)
        res = {}

        def worker(t):
            cc = daemon.client(timeout=60)
            try:
                cc.get("/v1/health")
                barrier.wait()
                res[t] = cc.remove(name) if t == 0 else cc.mount(name, "ctr")
            finally:
                cc.close()

        run_threads(2, worker)
        (rst, rbody), (mst, mbody) = res[0], res[1]
        st, v = c.inspect(name)
        if rst == 204:
            assert mst == 404, (rst, mst, mbody)
            assert st == 404
            outcomes["remove"] += 1
        else:
            assert (rst, mst) == (409, 200), (rst, rbody, mst, mbody)
            assert st == 200 and [m["id"] for m in v["mounts"]] == ["ctr"]
            assert os.path.isdir(v["mountpoint"])
            outcomes["mount"] += 1
    print("remove/mount race outcomes:", outcomes)
    check_invariants(daemon, c)
