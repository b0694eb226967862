"""volmand's log (docs/operations.md): levels, text and JSON, the <N>
priority prefixes journald reads, one line per request at debug, destructive
operations at info with the caller, every 5xx at error, and control
characters escaped in every format."""

import json
import os
import pty
import re
import subprocess
import time

from conftest import VOLMAND, Client, base_env, require_binaries, wait_until, _die_with_parent

TEXT_LINE = re.compile(r"^<(\d)>(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ )?volmand (debug|info|warning|error): ")
PRIORITY = {"debug": "7", "info": "6", "warning": "4", "error": "3"}


def lines(daemon):
    return [l for l in daemon.log_text().splitlines() if l]


def test_text_on_a_file_has_priorities_and_times(make_daemon):
    d = make_daemon()
    c = d.client()
    assert c.create("doomed")[0] == 201
    assert c.remove("doomed")[0] == 204
    d.stop()
    out = lines(d)
    assert out, "no log"
    for l in out:
        m = TEXT_LINE.match(l)
        assert m and m.group(2), l  # a prefix and a time on every line
        assert m.group(1) == PRIORITY[m.group(3)], l
    # the destructive operation, at info, with who asked; the request lines are debug only
    me = r"admin \(uid %d pid \d+\)" % os.geteuid()
    assert any(re.match(r"^<6>\S+ volmand info: audit: " + me + " remove volume doomed: ok$", l) for l in out), out
    assert not any(" debug: " in l for l in out), out


def test_journal_stream_drops_the_time_and_json_gets_the_prefix(make_daemon, tmp_path):
    """With JOURNAL_STREAM naming its stderr, lines carry the priority and no
    time (the journal keeps its own); JSON lines get the prefix there only."""
    d = make_daemon(start=False)
    # The fixture opens a new log file per start: name that file's device and
    # inode, as systemd does for the stream it connects.
    path = os.path.join(d.tmp, "volmand.1.log")
    open(path, "wb").close()
    st = os.stat(path)
    d.start(env={"JOURNAL_STREAM": "%d:%d" % (st.st_dev, st.st_ino)})
    d.stop()
    out = lines(d)
    assert out and all(re.match(r"^<[3-7]>volmand (info|warning|error): ", l) for l in out), out

    d.start(env={"JOURNAL_STREAM": "1:2"}, args=["--log-format", "json"])  # another stream: not the journal
    d.stop()
    for l in lines(d):
        assert l.startswith("{"), l
        rec = json.loads(l)
        assert set(rec) == {"time", "level", "message"} and rec["level"] in PRIORITY, rec
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", rec["time"]), rec

    path = os.path.join(d.tmp, "volmand.3.log")
    open(path, "wb").close()
    st = os.stat(path)
    d.start(env={"JOURNAL_STREAM": "%d:%d" % (st.st_dev, st.st_ino)}, args=["--log-format", "json"])
    d.stop()
    for l in lines(d):
        m = re.match(r"^<(\d)>(\{.*\})$", l)
        assert m, l
        assert m.group(1) == PRIORITY[json.loads(m.group(2))["level"]], l


def test_a_terminal_gets_no_prefix(tmp_path):
    """On a terminal, lines are for people: no <N>."""
    require_binaries(VOLMAND)
    master, slave = pty.openpty()
    sock = str(tmp_path / "s")
    p = subprocess.Popen([VOLMAND, "--root", str(tmp_path / "root"), "--socket", sock, "--plugin-socket", "none"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=slave, env=base_env(),
                         preexec_fn=_die_with_parent)
    os.close(slave)
    try:
        wait_until("volmand answers", lambda: os.path.exists(sock) and
                   Client(sock, keepalive=False).get("/v1/health")[0] == 200, timeout=15)
    finally:
        p.terminate()
        assert p.wait(10) == 0
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    text = out.decode("utf-8", "replace").replace("\r\n", "\n")
    assert "volmand info: volmand" in text and "serving the API" in text, text
    assert not re.search(r"^<\d>", text, re.M), text


def test_levels_and_requests_at_debug(make_daemon):
    d = make_daemon(args=["--log-level", "debug"])
    c = d.client()
    assert c.create("seen")[0] == 201
    assert c.get("/v1/volumes?filter=name%3Dse&limit=5")[0] == 200
    assert c.inspect("missing")[0] == 404
    d.stop()
    out = d.log_text()
    me = r"uid %d pid \d+ \(admin\)" % os.geteuid()
    assert re.search(r"^<7>\S+ volmand debug: POST /v1/volumes from " + me + r" answered 201 in \d+\.\d{3} s$",
                     out, re.M), out
    assert re.search(r"debug: GET /v1/volumes\?filter=name=se&limit=5 from " + me + r" answered 200", out), out
    assert re.search(r"debug: GET /v1/volumes/missing from " + me + r" answered 404", out), out

    # warning: neither the requests nor the info lines; error: errors only
    d.start(args=["--log-level", "warning"])
    d.client().get("/v1/volumes")
    d.stop()
    out = d.log_text()
    assert " debug: " not in out and " info: " not in out, out


def test_5xx_at_error_even_when_quiet(make_daemon):
    d = make_daemon(env={"VOLMAN_FAILPOINT": "store-fdatasync:1=eio"}, args=["--log-level", "error"])
    c = d.client()
    assert c.create("one")[0] == 500
    c.close()
    d.stop()
    out = d.log_text()
    assert re.search(r"^<3>\S+ volmand error: POST /v1/volumes from uid \d+ pid \d+ answered 500 in \d+\.\d+ s: "
                     r"\{\"error\"", out, re.M), out
    assert " info: " not in out and " debug: " not in out, out


def test_control_characters_are_escaped_in_both_formats(make_daemon):
    """A request's bytes reach the log escaped: ESC and C1 controls never
    reach a terminal, a newline never forges a line."""
    d = make_daemon(args=["--log-level", "debug"])
    c = d.client()
    evil = "%1B%5B31m%0Aforged%C2%9B"
    assert c.get("/v1/volumes?filter=name%3D" + evil)[0] == 200
    d.stop()
    raw = open(d.log_path, "rb").read()
    assert b"\x1b" not in raw and b"\xc2\x9b" not in raw, raw[-2000:]
    text = raw.decode()
    assert "name=\\x1b[31m\\x0aforged\\u009b from" in text, text
    assert not any(l.startswith("forged") for l in text.splitlines())

    d.start(args=["--log-level", "debug", "--log-format", "json"])
    c = d.client()
    assert c.get("/v1/volumes?filter=name%3D" + evil)[0] == 200
    d.stop()
    raw = open(d.log_path, "rb").read()
    assert b"\x1b" not in raw and b"\xc2\x9b" not in raw, raw[-2000:]
    recs = [json.loads(l) for l in raw.decode().splitlines() if l]
    assert any("name=\x1b[31m\nforged\u009b from" in r["message"] for r in recs), recs


def test_destructive_operations_at_info_with_the_caller(make_daemon):
    """Each destructive operation is one info line naming who asked: a
    remove, each volume a prune removes (by name), a config layer replaced."""
    d = make_daemon()
    c = d.client()
    for name in ("gone", "pruned-a", "pruned-b"):
        assert c.create(name, labels={"p": "1"} if name.startswith("pruned") else {})[0] == 201
    assert c.remove("gone")[0] == 204
    st, body = c.post("/v1/volumes/prune", {"filters": ["label=p"]})
    assert st == 200 and sorted(body["removed"]) == ["pruned-a", "pruned-b"], body
    st, body = c.request("PUT", "/v1/config", body={"tmpSize": "64m"})
    assert st == 200, body
    c.close()
    d.stop()
    out = d.log_text()
    me = r"^<6>\S+ volmand info: audit: admin \(uid %d pid \d+\) " % os.geteuid()
    for what in (r"remove volume gone: ok", r"remove volume pruned-a \(prune\): ok",
                 r"remove volume pruned-b \(prune\): ok", r"prune \(2 removed\): ok",
                 r"replace config layer \S+: ok"):
        assert re.search(me + what + "$", out, re.M), (what, out)
