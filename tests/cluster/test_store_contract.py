"""The etcd store against store/store.h's contract, the same one SQLite keeps
(store-contract, tests/store/store_contract.c, checks it through the ops
table), on a real etcd: the whole contract on both backends, concurrent
creates and compare-and-swap increments from several handles, etcd stopped
and started under an open store, a session document that lapses, and the
errors of a store that cannot be reached or loaded."""

import os
import re
import select
import signal
import subprocess
import time

from conftest import BUILD, STORE_CONTRACT, base_env, free_port, require_binary, run_store_contract, sanitizer_free

RACERS = 8


def assert_ok(cp):
    assert cp.returncode == 0, "store-contract failed (%d):\nstdout: %s\nstderr: %s" % (
        cp.returncode, cp.stdout[-3000:], cp.stderr[-3000:])


def test_contract_on_sqlite(tmp_path):
    cp = run_store_contract("sqlite", tmp_path / "volman.db")
    assert_ok(cp)
    assert "contract held on sqlite" in cp.stdout


def test_contract_on_etcd(etcd):
    cp = run_store_contract("etcd", etcd.location("contract"))
    assert_ok(cp)
    assert "contract held on etcd" in cp.stdout
    # each run needs a fresh store (a second run on one prefix finds the first
    # one's records and fails), so the default prefix is a store of its own
    assert_ok(run_store_contract("etcd", etcd.endpoint))
    again = run_store_contract("etcd", etcd.location("contract"))
    assert again.returncode == 1 and "already exists" in again.stderr, again.stderr


def test_contract_with_a_dead_endpoint_first(etcd):
    # nothing listens on the first endpoint: every request moves on to the second
    dead = "127.0.0.1:%d" % free_port()
    cp = run_store_contract("etcd", "%s,%s/failover" % (dead, etcd.endpoint))
    assert_ok(cp)


def race_retries(cp):
    assert_ok(cp)
    m = re.search(r"1 of %d creates won, counter %d, retries=(\d+)" % (RACERS, RACERS * 200), cp.stdout)
    assert m, cp.stdout
    return int(m.group(1))


def test_race_on_sqlite(tmp_path):
    # contention did happen (retries), and no update was lost (the counter)
    assert race_retries(run_store_contract("race", "sqlite", tmp_path / "race.db", RACERS)) > 0


def test_race_on_etcd(etcd):
    assert race_retries(run_store_contract("race", "etcd", etcd.location("race"), RACERS)) > 0


class Conversation:
    """store-contract down or hung: a line out, a line in."""

    def __init__(self, args):
        require_binary(STORE_CONTRACT)
        self.proc = subprocess.Popen([STORE_CONTRACT] + args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=base_env())

    def read_line(self, timeout=30.0):
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if ready else ""
        if not line:
            self.proc.kill()
            out, err = self.proc.communicate()
            raise AssertionError("store-contract said nothing (rc %s):\n%s\n%s" % (self.proc.returncode, out, err))
        return line.strip()

    def send(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def finish(self, timeout=60):
        out, err = self.proc.communicate(timeout=timeout)
        sanitizer_free(out + err)
        return self.proc.returncode, out, err


def test_etcd_stopped_and_started_under_an_open_store(etcd):
    conv = Conversation(["down", "etcd", etcd.location("down")])
    assert conv.read_line() == "written 20"
    # killed, not asked to stop: what it acknowledged was committed, not held in memory
    etcd.kill()
    conv.send("stopped")
    line = conv.read_line()
    m = re.match(r"down-ok (\d+) (.*)", line)
    assert m, line
    # the failure is quick (a refused connection, not a timeout) and says where and why
    assert int(m.group(1)) < 5000, line
    msg = m.group(2)
    assert "metadata store: etcd at %s cannot be reached" % etcd.endpoint in msg, msg
    assert "onnect" in msg, msg  # curl's reason: "Couldn't connect to server"
    etcd.start()
    conv.send("started")
    assert conv.read_line().startswith("up-ok")
    rc, out, err = conv.finish()
    assert rc == 0, out + err


def test_a_frozen_etcd_times_out(etcd):
    conv = Conversation(["hung", "etcd", etcd.location("hung")])
    assert conv.read_line() == "written 20"
    os.kill(etcd.proc.pid, signal.SIGSTOP)
    try:
        conv.send("stopped")
        line = conv.read_line(timeout=40)
    finally:
        os.kill(etcd.proc.pid, signal.SIGCONT)
    m = re.match(r"down-ok (\d+) (.*)", line)
    assert m, line
    # the connection is taken (the kernel accepts it), the answer never comes:
    # the read gives up after the whole-request timeout (5 s), not sooner, not much later
    assert 4500 <= int(m.group(1)) <= 8000, line
    assert "metadata store: etcd at %s cannot be reached" % etcd.endpoint in m.group(2), line
    assert "imed out" in m.group(2), line  # curl's "Operation timed out ..."
    conv.send("started")
    assert conv.read_line().startswith("up-ok")
    rc, out, err = conv.finish()
    assert rc == 0, out + err


def test_large_documents_are_listed_whole(etcd, tmp_path):
    # 40 documents of 1.4 MB: more than one answer of etcd's may hold (64 MiB)
    for backend, location in (("etcd", etcd.location("big")), ("sqlite", tmp_path / "big.db")):
        cp = run_store_contract("bigdocs", backend, location)
        assert_ok(cp)
        assert "listed 40 documents" in cp.stdout


def test_a_session_document_lapses_when_renewals_stop(etcd):
    ttl = 3
    cp = run_store_contract("session", "etcd", etcd.location("session"), ttl, timeout=120)
    assert_ok(cp)
    m = re.search(r"vanished-after-ms=(\d+)", cp.stdout)
    assert m, cp.stdout
    assert ttl * 1000 - 1000 <= int(m.group(1)) <= ttl * 1000 + 2000


def test_open_fails_when_etcd_cannot_be_reached(tmp_path):
    endpoint = "127.0.0.1:%d" % free_port()
    start = time.monotonic()
    cp = run_store_contract("etcd", endpoint + "/nobody")
    assert cp.returncode == 1
    assert time.monotonic() - start < 10
    assert "opening etcd" in cp.stderr
    # -EAGAIN (-11), naming the endpoint
    assert "last store error -11: metadata store: etcd at %s cannot be reached" % endpoint in cp.stderr, cp.stderr


def test_open_refuses_a_bad_location():
    cp = run_store_contract("etcd", "etcd://127.0.0.1:2379")
    assert cp.returncode == 1
    assert "without a scheme" in cp.stderr and "last store error -22" in cp.stderr, cp.stderr
    cp = run_store_contract("etcd", "127.0.0.1:2379/Bad_Prefix")
    assert cp.returncode == 1
    assert "the prefix \"Bad_Prefix\" must be" in cp.stderr, cp.stderr


def test_without_libcurl_the_etcd_store_says_what_to_install(etcd):
    cp = run_store_contract("etcd", etcd.location("nolib"), env={"VOLMAN_LIBCURL": "/nonexistent/libcurl.so.4"})
    assert cp.returncode == 1
    assert "the etcd metadata store needs libcurl" in cp.stderr, cp.stderr
    assert "install the Debian package libcurl4" in cp.stderr, cp.stderr
    # the SQLite store does not need it
    assert_ok(run_store_contract("sqlite", os.path.join(etcd.dir, "volman.db"),
                                 env={"VOLMAN_LIBCURL": "/nonexistent/libcurl.so.4"}))


def test_volmand_does_not_link_libcurl():
    volmand = os.path.join(BUILD, "volmand")
    require_binary(volmand)
    out = subprocess.run(["readelf", "-d", volmand], stdout=subprocess.PIPE, text=True, check=True).stdout
    needed = re.findall(r"\(NEEDED\).*\[(.*)\]", out)
    assert needed, out
    assert not [n for n in needed if "curl" in n], needed
