"""volmand and the service manager (dist/volmand.service, Type=notify):
READY=1 only once the REST and plugin sockets answer, STATUS= lines on the
way, STOPPING=1 at the end, and WATCHDOG=1 pings at half of WATCHDOG_USEC
while the REST socket answers. The test plays systemd: it listens on the
NOTIFY_SOCKET it gives volmand."""

import os
import socket
import threading
import time

import pytest

from conftest import Client


class Notifications:
    """A datagram socket like systemd's notify socket, at a path or abstract
    (@name). Each datagram is kept with the moment it arrived and, for
    READY=1, what the daemon's sockets answered right then."""

    def __init__(self, tmp_path, abstract=False, on_ready=None):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            name = "volman-test-notify-%d-%d" % (os.getpid(), time.monotonic_ns())
            self.sock.bind("\0" + name)
            self.address = "@" + name
        else:
            self.address = str(tmp_path / "notify.sock")
            self.sock.bind(self.address)
        self.sock.settimeout(0.1)
        self.messages = []  # (monotonic time, text)
        self.at_ready = None
        self.on_ready = on_ready
        self.done = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.done:
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            text = data.decode()
            if "READY=1" in text.split("\n") and self.on_ready and self.at_ready is None:
                self.at_ready = self.on_ready()
            self.messages.append((time.monotonic(), text))

    def fields(self, key):
        return [line[len(key) + 1:] for _, text in self.messages for line in text.split("\n")
                if line.startswith(key + "=")]

    def count(self, line):
        return sum(1 for _, text in self.messages if line in text.split("\n"))

    def wait_for(self, line, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.count(line):
                return
            time.sleep(0.01)
        pytest.fail("no %s from volmand within %d s: %r" % (line, timeout, self.messages))

    def close(self):
        self.done = True
        self.thread.join(2)
        self.sock.close()


def answers(path, target="/v1/health", method="GET", body=None):
    """The status the socket at path answers with, or the error."""
    try:
        return Client(path, timeout=2, keepalive=False).request(method, target, body=body)[0]
    except OSError as e:
        return repr(e)


@pytest.mark.parametrize("abstract", [False, True], ids=["path", "abstract"])
def test_ready_only_once_every_socket_answers(make_daemon, tmp_path, abstract):
    d = make_daemon(start=False)
    n = Notifications(tmp_path, abstract, on_ready=lambda: (
        answers(d.socket), answers(d.plugin_socket, "/Plugin.Activate", "POST", {})))
    try:
        d.start(env={"NOTIFY_SOCKET": n.address}, wait=False)
        n.wait_for("READY=1")
        # at the moment READY=1 arrived, both sockets already answered
        assert n.at_ready == (200, 200), n.at_ready
        statuses = n.fields("STATUS")
        assert any(s.startswith("opening the store and reconciling volumes under " + d.root) for s in statuses), statuses
        assert "starting the listeners" in statuses, statuses
        ready = [text for _, text in n.messages if "READY=1" in text.split("\n")]
        assert len(ready) == 1 and "STATUS=serving the API on %s, the volume plugin on %s" % (
            d.socket, d.plugin_socket) in ready[0], ready
        # the STATUS lines come in order, READY last of the start
        order = [i for i, (_, t) in enumerate(n.messages) if "STATUS=opening" in t or "READY=1" in t]
        assert order == sorted(order) and len(order) == 2, n.messages
        assert n.count("WATCHDOG=1") == 0  # no WATCHDOG_USEC: no pings
        d.stop()
        n.wait_for("STOPPING=1")
        assert any(s.startswith("shutting down (signal 15)") for s in n.fields("STATUS")), n.messages
    finally:
        n.close()


def test_watchdog_pings_while_the_api_answers(make_daemon, tmp_path):
    n = Notifications(tmp_path)
    try:
        d = make_daemon(env={"NOTIFY_SOCKET": n.address, "WATCHDOG_USEC": "400000"})
        n.wait_for("READY=1")
        time.sleep(1.5)
        pings = [t for t, text in n.messages if text == "WATCHDOG=1"]
        # every 0.2 s: about 7 in 1.5 s; fewer than 4 means it does not keep time
        assert len(pings) >= 4, n.messages
        gaps = [b - a for a, b in zip(pings, pings[1:])]
        assert max(gaps) < 0.4, gaps  # never as long as the timeout itself
        # the REST socket gone: the daemon cannot be reached, so it stops
        # pinging and systemd would restart it
        os.unlink(d.socket)
        time.sleep(0.3)
        before = n.count("WATCHDOG=1")
        time.sleep(1.0)
        assert n.count("WATCHDOG=1") == before, n.messages[-5:]
        assert "watchdog: the API socket %s did not answer" % d.socket in d.log_text()
        d.stop()
    finally:
        n.close()


def test_watchdog_for_another_pid_is_not_ours(make_daemon, tmp_path):
    n = Notifications(tmp_path)
    try:
        make_daemon(env={"NOTIFY_SOCKET": n.address, "WATCHDOG_USEC": "200000", "WATCHDOG_PID": "1"})
        n.wait_for("READY=1")
        time.sleep(0.6)
        assert n.count("WATCHDOG=1") == 0, n.messages
    finally:
        n.close()


def test_failed_start_says_why(make_daemon, tmp_path):
    """A second volmand on a locked root tells the service manager why it failed."""
    first = make_daemon()
    n = Notifications(tmp_path)
    try:
        second = make_daemon(start=False, subdir="second")
        second.root = first.root
        second.start(env={"NOTIFY_SOCKET": n.address}, wait=False)
        assert second.proc.wait(15) == 1
        time.sleep(0.2)
        failed = [s for s in n.fields("STATUS") if s.startswith("failed: ")]
        assert failed and str(first.proc.pid) in failed[0], n.messages
        assert n.count("READY=1") == 0
    finally:
        n.close()
