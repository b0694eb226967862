"""The /con commands of the CLI against the real daemon (docs/cli.md, "/con
files and secrets"): `volman app file put|ls|get|rm` and `volman app secret
put|ls|rm`, at an env's level and an app's.

Contents are checked byte for byte (every byte value, through a file and
through stdin) both in what the CLI prints and in what the daemon's REST API
holds afterwards. Commands that must fail before anything is sent run
against a socket where nothing listens: they exit 2 or 6, never 3 (which
would mean they tried to connect). A secret's value is a unique marker that
no output of any command may contain.
"""

import hashlib
import json
import os
import socket
import subprocess
import threading
import time

import pytest

from conftest import VOLMAN, UnixHTTPConnection, base_env, q, require_binaries

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_NOT_FOUND, EXIT_CONFLICT, \
    EXIT_INVALID = range(7)

SANITIZER_MARKERS = ("AddressSanitizer", "LeakSanitizer", "runtime error:")
MIB = 1024 * 1024
EVERY_BYTE = bytes(range(256)) * 3 + b"\x00\n\r\x00"  # NULs inside and at the end


class Run:
    """One CLI run: exit code, stdout as bytes (byte-exact), stderr as text."""

    def __init__(self, rc, out, err):
        self.rc, self.out, self.err = rc, out, err
        for m in SANITIZER_MARKERS:
            assert m not in err, err

    @property
    def text(self):
        return self.out.decode("utf-8")

    def ok(self):
        assert self.rc == EXIT_OK and self.err == "", (self.rc, self.out[-500:], self.err)
        return self

    def fails(self, rc, *fragments):
        """Exit code rc, nothing on stdout, each fragment on stderr."""
        assert self.rc == rc, (self.rc, self.out[-500:], self.err)
        assert self.out == b"", self.out[-500:]
        for f in fragments:
            assert f in self.err, (f, self.err)
        return self


def run_cli(sock, args, input=None, stdin=None, cwd=None):
    require_binaries(VOLMAN)
    argv = [VOLMAN, "--socket", sock] + list(args)
    if input is not None:
        p = subprocess.run(argv, input=input, capture_output=True, timeout=60, env=base_env(), cwd=cwd)
    else:
        p = subprocess.run(argv, stdin=stdin if stdin is not None else subprocess.DEVNULL,
                           capture_output=True, timeout=60, env=base_env(), cwd=cwd)
    return Run(p.returncode, p.stdout, p.stderr.decode("utf-8", "replace"))


@pytest.fixture
def cli(daemon):
    """Runs the CLI on the test's daemon; input= (bytes) is its stdin. Every
    output is kept in cli.outputs, for the secret checks."""
    outputs = []

    def run(*args, input=None, stdin=None):
        r = run_cli(daemon.socket, args, input=input, stdin=stdin, cwd=daemon.tmp)
        outputs.append(r)
        return r

    run.outputs = outputs
    run.tmp = daemon.tmp
    return run


@pytest.fixture
def offline(tmp_path):
    """Runs the CLI against a socket path where nothing listens: a command
    that tries to connect exits 3."""
    sock = str(tmp_path / "absent.sock")
    return lambda *args, input=None: run_cli(sock, args, input=input, cwd=str(tmp_path))


def raw(daemon, method, path, body=None):
    """A raw request: (status, body bytes)."""
    c = UnixHTTPConnection(daemon.socket)
    try:
        c.request(method, path, body=body)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def write(directory, name, data):
    path = os.path.join(directory, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


def level_args(level):
    return ["--tenant", "acme", "--env", "prod"] + (["--app", "orders"] if level == "app" else [])


def level_url(level):
    return "/v1/tenants/acme/envs/prod" + ("/apps/orders" if level == "app" else "")


def level_text(level):
    return "acme/prod" + ("/orders" if level == "app" else "")


def api_files(daemon, level, area=None):
    st, body = raw(daemon, "GET", level_url(level) + "/files" + ("?area=" + area if area else ""))
    assert st == 200, (st, body)
    return json.loads(body)["files"]


def api_secrets(daemon, level):
    st, body = raw(daemon, "GET", level_url(level) + "/secrets")
    assert st == 200, (st, body)
    return json.loads(body)["secrets"]


def table(rows):
    """A table as the CLI prints it: columns padded to the widest cell plus 3."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for r in rows:
        cells = [c + " " * (widths[i] - len(c) + 3) for i, c in enumerate(r[:-1])]
        lines.append("".join(cells) + r[-1])
    return "\n".join(lines) + "\n"


def utc(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def usage(cmd, msg):
    return "volman: %s: %s\nRun 'volman %s --help' for usage.\n" % (cmd, msg, cmd)


# --- files ---------------------------------------------------------------------------

@pytest.mark.parametrize("level", ["env", "app"])
def test_file_round_trip_byte_exact(daemon, cli, level):
    lv = level_args(level)
    other = "app" if level == "env" else "env"
    conf = write(cli.tmp, "every-byte", EVERY_BYTE)
    ctx_bytes = EVERY_BYTE[::-1]

    # put through a file, and through stdin
    r = cli("app", "file", "put", *lv, "--area", "configuration", "bin.dat", "-f", conf).ok()
    sha = hashlib.sha256(EVERY_BYTE).hexdigest()
    assert r.text == "%s: configuration/bin.dat stored, %d bytes, sha256 %s\n" % (
        level_text(level), len(EVERY_BYTE), sha)
    cli("app", "file", "put", "--area", "context", *lv, "rev.dat", "-f", "-", input=ctx_bytes).ok()

    # the daemon holds exactly those bytes, at that level only
    assert raw(daemon, "GET", level_url(level) + "/files/configuration/bin.dat") == (200, EVERY_BYTE)
    assert raw(daemon, "GET", level_url(level) + "/files/context/rev.dat") == (200, ctx_bytes)
    assert api_files(daemon, other) == []

    # get gives them back byte for byte on stdout
    assert cli("app", "file", "get", *lv, "--area", "configuration", "bin.dat").ok().out == EVERY_BYTE
    assert cli("app", "file", "get", *lv, "--area", "context", "rev.dat").ok().out == ctx_bytes

    # ls: the table, the JSON and the --area filter
    files = api_files(daemon, level)
    assert [(f["area"], f["name"], f["size"], f["sha256"]) for f in files] == [
        ("configuration", "bin.dat", len(EVERY_BYTE), sha),
        ("context", "rev.dat", len(ctx_bytes), hashlib.sha256(ctx_bytes).hexdigest())]
    rows = [["AREA", "NAME", "SIZE", "UPDATED", "SHA256"]] + [
        [f["area"], f["name"], str(f["size"]), utc(f["updated"]), f["sha256"][:12]] for f in files]
    assert cli("app", "file", "ls", *lv).ok().text == table(rows)
    assert cli("app", "file", "list", *lv, "--area", "context").ok().text == table([rows[0], rows[2]])
    assert json.loads(cli("app", "file", "ls", *lv, "--json").ok().text) == files
    assert json.loads(cli("--json", "app", "file", "ls", *lv, "--area", "configuration").ok().text) == files[:1]

    # rm, then it is gone from the daemon and from ls
    r = cli("app", "file", "rm", *lv, "--area", "configuration", "bin.dat").ok()
    assert r.text == "%s: file configuration/bin.dat removed\n" % level_text(level)
    assert raw(daemon, "GET", level_url(level) + "/files/configuration/bin.dat")[0] == 404
    assert cli("app", "file", "remove", *lv, "--area", "context", "rev.dat", "--json").ok().text == "{}\n"
    assert api_files(daemon, level) == []
    assert cli("app", "file", "ls", *lv).ok().text == table([rows[0]])


def test_put_json_and_replace(daemon, cli):
    lv = level_args("app")
    r = cli("app", "file", "put", *lv, "--area", "context", "n.txt", "-f", "-", "--json", input=b"one\n").ok()
    rec = json.loads(r.text)
    assert rec == api_files(daemon, "app")[0] and rec["size"] == 4, rec
    # a put of the same name replaces it; the empty content is a content
    cli("app", "file", "put", *lv, "--area", "context", "n.txt", "-f", "/dev/null").ok()
    assert raw(daemon, "GET", level_url("app") + "/files/context/n.txt") == (200, b"")
    assert cli("app", "file", "get", *lv, "--area", "context", "n.txt").ok().out == b""
    assert [f["size"] for f in api_files(daemon, "app")] == [0]


def test_get_output_file(daemon, cli):
    lv = level_args("env")
    cli("app", "file", "put", *lv, "--area", "configuration", "a.bin", "-f", "-", input=EVERY_BYTE).ok()
    out = os.path.join(cli.tmp, "out.bin")
    # written whole over a longer file that was there
    write(cli.tmp, "out.bin", b"x" * 10000)
    r = cli("app", "file", "get", *lv, "--area", "configuration", "a.bin", "-o", out).ok()
    assert r.out == b""
    with open(out, "rb") as f:
        assert f.read() == EVERY_BYTE
    # --output, relative to the working directory
    cli("app", "file", "get", *lv, "--area", "configuration", "--output", "rel.bin", "a.bin").ok()
    with open(os.path.join(cli.tmp, "rel.bin"), "rb") as f:
        assert f.read() == EVERY_BYTE
    # -o - is stdout
    assert cli("app", "file", "get", *lv, "--area", "configuration", "a.bin", "-o", "-").ok().out == EVERY_BYTE
    # a failed get leaves the file as it was, and makes none
    cli("app", "file", "get", *lv, "--area", "configuration", "nope", "-o", out).fails(
        EXIT_NOT_FOUND, "getting file configuration/nope of acme/prod: ", "not found")
    with open(out, "rb") as f:
        assert f.read() == EVERY_BYTE
    cli("app", "file", "get", *lv, "--area", "context", "a.bin", "-o", "new.bin").fails(EXIT_NOT_FOUND)
    assert not os.path.exists(os.path.join(cli.tmp, "new.bin"))
    # a place that cannot be written: exit 1, named
    cli("app", "file", "get", *lv, "--area", "configuration", "a.bin", "-o", "/nonexistent/dir/x").fails(
        EXIT_FAIL, "cannot write /nonexistent/dir/x: No such file or directory")


def test_one_mib_is_the_most(daemon, cli, offline):
    lv = level_args("app")
    exact = os.urandom(MIB)
    big = write(cli.tmp, "big", exact + b"!")
    # refused before anything is sent: against no daemon it is still 6, not 3
    msg = "volman: %s is larger than 1 MiB, the most a file or secret may hold; nothing was sent\n" % big
    assert offline("app", "file", "put", *lv, "--area", "context", "big", "-f", big).fails(EXIT_INVALID).err == msg
    # and against the daemon, through a file and stdin, for files and secrets
    assert cli("app", "file", "put", *lv, "--area", "context", "big", "-f", big).fails(EXIT_INVALID).err == msg
    cli("app", "file", "put", *lv, "--area", "context", "big", "-f", "-", input=exact * 3).fails(
        EXIT_INVALID, "stdin is larger than 1 MiB")
    cli("app", "secret", "put", *lv, "big", "-f", big).fails(EXIT_INVALID, "big is larger than 1 MiB")
    assert api_files(daemon, "app") == [] and api_secrets(daemon, "app") == []
    # exactly 1 MiB goes, byte for byte
    cli("app", "file", "put", *lv, "--area", "context", "exact", "-f", "-", input=exact).ok()
    assert cli("app", "file", "get", *lv, "--area", "context", "exact").ok().out == exact
    assert raw(daemon, "GET", level_url("app") + "/files/context/exact") == (200, exact)


def test_stdin_is_read_no_further_than_one_byte_past_the_limit(daemon, cli, tmp_path):
    """The CLI reads 1 MiB + 1 bytes of stdin at most: the offset of a file
    given as stdin (shared with the CLI) says how far it read."""
    path = write(str(tmp_path), "huge", b"z" * (3 * MIB))
    with open(path, "rb") as f:
        cli("app", "file", "put", *level_args("env"), "--area", "context", "h", "-f", "-", stdin=f).fails(
            EXIT_INVALID, "stdin is larger than 1 MiB")
        assert os.lseek(f.fileno(), 0, os.SEEK_CUR) == MIB + 1
    # and an endless pipe ends promptly
    p = subprocess.Popen([VOLMAN, "--socket", daemon.socket, "app", "secret", "put", *level_args("env"), "s",
                          "-f", "-"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=base_env())

    def feed():
        try:
            while True:
                p.stdin.write(b"y" * 65536)
        except (BrokenPipeError, ValueError, OSError):
            pass

    t = threading.Thread(target=feed, daemon=True)
    t.start()
    watchdog = threading.Timer(30, p.kill)  # a CLI that reads on forever fails, not hangs
    watchdog.start()
    try:
        out, err = p.stdout.read(), p.stderr.read()
        rc = p.wait()
    finally:
        watchdog.cancel()
    assert rc == EXIT_INVALID and out == b"", (rc, out, err)
    assert b"stdin is larger than 1 MiB" in err, err
    assert api_secrets(daemon, "env") == []


USAGE = [
    (["app", "file", "put", "--env", "prod", "--area", "context", "n", "-f", "x"],
     "app file put", "--tenant is required"),
    (["app", "file", "put", "--tenant", "acme", "--area", "context", "n", "-f", "x"],
     "app file put", "--env is required"),
    (["app", "file", "put", "--tenant", "acme", "--env", "prod", "n", "-f", "x"],
     "app file put", "--area is required (configuration or context)"),
    (["app", "file", "put", "--tenant", "acme", "--env", "prod", "--area", "context", "n"],
     "app file put", "-f FILE is required (- reads stdin)"),
    (["app", "file", "put", "--tenant", "acme", "--env", "prod", "--area", "context", "-f", "x"],
     "app file put", "give the file's NAME"),
    (["app", "file", "put", "--tenant", "acme", "--env", "prod", "--area", "context", "a", "b", "-f", "x"],
     "app file put", "unexpected argument 'b'"),
    (["app", "file", "put", "--tenant", "acme", "--env", "prod", "--area", "data", "n", "-f", "x"],
     "app file put", "--area 'data': expected configuration or context"),
    (["app", "file", "put", "--tenant", "acme", "--env", "prod", "--area", "secret", "n", "-f", "x"],
     "app file put", "--area 'secret': expected configuration or context"),
    (["app", "file", "put", "--tenant", "acme", "--env", "prod", "--area", "context", "", "-f", "x"],
     "app file put", "the file's NAME is empty"),
    (["app", "file", "put", "--tenant", "", "--env", "prod", "--area", "context", "n", "-f", "x"],
     "app file put", "--tenant is empty"),
    (["app", "file", "put", "--tenant", "acme", "--env", "prod", "--area", "context", "n", "-f", ""],
     "app file put", "-f needs a file name (- reads stdin)"),
    (["app", "file", "put", "--tenant", "acme", "--env", "prod", "--area", "context", "n", "-f"],
     "app file put", "option -f needs a value"),
    (["app", "file", "put", "--tenant", "acme", "--env", "prod", "--area", "context", "n", "-f", "x", "-o", "y"],
     "app file put", "unknown option -o"),
    (["app", "file", "ls", "--tenant", "acme", "--env", "prod", "--area", "Context"],
     "app file ls", "--area 'Context': expected configuration or context"),
    (["app", "file", "ls", "--tenant", "acme", "--env", "prod", "--bogus"],
     "app file ls", "unknown option --bogus"),
    (["app", "file", "ls", "--tenant", "acme", "--env", "prod", "extra"],
     "app file ls", "unexpected argument 'extra'"),
    (["app", "file", "get", "--tenant", "acme", "--env", "prod", "n"],
     "app file get", "--area is required (configuration or context)"),
    (["app", "file", "get", "--tenant", "acme", "--env", "prod", "--area", "context", "n", "-o", ""],
     "app file get", "-o needs a file name (- is stdout)"),
    (["app", "file", "get", "--tenant", "acme", "--env", "prod", "--area", "context", "n", "-f", "x"],
     "app file get", "unknown option -f"),
    (["app", "file", "rm", "--tenant", "acme", "--area", "context", "n"],
     "app file rm", "--env is required"),
    (["app", "file", "rm", "--tenant", "acme", "--env", "prod", "--area", "context"],
     "app file rm", "give the file's NAME"),
    (["app", "file", "frobnicate"], "app file", "unknown command 'frobnicate'"),
    (["app", "file"], "app file", "give a command (put, ls, get, rm)"),
    (["app", "secret", "put", "--tenant", "acme", "--env", "prod", "s"],
     "app secret put", "-f FILE is required (- reads stdin)"),
    (["app", "secret", "put", "--env", "prod", "s", "-f", "x"], "app secret put", "--tenant is required"),
    (["app", "secret", "put", "--tenant", "acme", "--env", "prod", "-f", "x"],
     "app secret put", "give the secret's NAME"),
    (["app", "secret", "put", "--tenant", "acme", "--env", "prod", "--area", "context", "s", "-f", "x"],
     "app secret put", "unknown option --area"),
    (["app", "secret", "ls", "--tenant", "acme"], "app secret ls", "--env is required"),
    (["app", "secret", "rm", "--tenant", "acme", "--env", "prod"], "app secret rm", "give the secret's NAME"),
    (["app", "secret", "rm", "--tenant", "acme", "--env", "prod", "a", "b"],
     "app secret rm", "unexpected argument 'b'"),
]


@pytest.mark.parametrize("args,cmd,msg", USAGE, ids=[" ".join(u[0][:3]) + ": " + u[2] for u in USAGE])
def test_usage_errors(offline, args, cmd, msg):
    # exit 2 with the message and the pointer to --help, and no connection
    # tried (that would be exit 3)
    assert offline(*args).fails(EXIT_USAGE).err == usage(cmd, msg)


def test_unreadable_input_is_refused_before_sending(offline, cli, daemon):
    lv = level_args("env")
    assert offline("app", "file", "put", *lv, "--area", "context", "n", "-f", "no-such-file").fails(
        EXIT_INVALID).err == "volman: cannot open no-such-file: No such file or directory; nothing was sent\n"
    cli("app", "secret", "put", *lv, "s", "-f", cli.tmp).fails(
        EXIT_INVALID, "cannot read %s: Is a directory; nothing was sent" % cli.tmp)
    assert api_files(daemon, "env") == [] and api_secrets(daemon, "env") == []


BAD_NAMES = [".hidden", "..", ".", "DEFAULT", "a/b", "a b", "a%2Fb", "é", "x" * 129, "a?b=c"]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_names_are_refused_by_the_daemon(daemon, cli, name):
    # sent percent-encoded, so each reaches the daemon as the one name it is
    # and is refused as a name (400, exit 6), not routed elsewhere (404)
    lv = level_args("app")
    cli("app", "file", "put", *lv, "--area", "configuration", name, "-f", "-", input=b"data").fails(
        EXIT_INVALID, "volman: putting file configuration/%s of acme/prod/orders: " % name, "name")
    cli("app", "file", "get", *lv, "--area", "configuration", name).fails(EXIT_INVALID)
    cli("app", "file", "rm", *lv, "--area", "configuration", name).fails(EXIT_INVALID)
    cli("app", "secret", "put", *lv, name, "-f", "-", input=b"v4lue-%s" % os.urandom(8).hex().encode()).fails(
        EXIT_INVALID, "volman: putting secret %s of acme/prod/orders: " % name)
    cli("app", "secret", "rm", *lv, name).fails(EXIT_INVALID)
    assert api_files(daemon, "app") == [] and api_secrets(daemon, "app") == []


def test_bad_level_is_refused_by_the_daemon(daemon, cli):
    cli("app", "file", "ls", "--tenant", "Acme", "--env", "prod").fails(
        EXIT_INVALID, "listing the files of Acme/prod: ", "tenant")
    cli("app", "secret", "put", "--tenant", "acme", "--env", "prod", "--app", "a/b", "s", "-f", "-",
        input=b"x").fails(EXIT_INVALID, "putting secret s of acme/prod/a/b: ")


def test_rm_and_get_of_missing_ones_are_not_found(daemon, cli):
    for level in ("env", "app"):
        lv = level_args(level)
        cli("app", "file", "rm", *lv, "--area", "context", "nope.txt").fails(
            EXIT_NOT_FOUND, "volman: removing file context/nope.txt of %s: " % level_text(level), "not found")
        cli("app", "file", "get", *lv, "--area", "context", "nope.txt").fails(EXIT_NOT_FOUND, "not found")
        cli("app", "secret", "rm", *lv, "nope").fails(
            EXIT_NOT_FOUND, "volman: removing secret nope of %s: " % level_text(level), "not found")
    # a file of the other area or level is another file
    cli("app", "file", "put", *level_args("env"), "--area", "context", "n", "-f", "-", input=b"x").ok()
    cli("app", "file", "rm", *level_args("env"), "--area", "configuration", "n").fails(EXIT_NOT_FOUND)
    cli("app", "file", "rm", *level_args("app"), "--area", "context", "n").fails(EXIT_NOT_FOUND)
    cli("app", "file", "rm", *level_args("env"), "--area", "context", "n").ok()
    cli("app", "file", "rm", *level_args("env"), "--area", "context", "n").fails(EXIT_NOT_FOUND)


# --- secrets -----------------------------------------------------------------------

def test_secrets_put_ls_rm_never_show_the_value(daemon, cli):
    marker = "s3cr3t-" + os.urandom(12).hex()
    value_file = write(cli.tmp, "value", marker.encode())
    binary = EVERY_BYTE + marker.encode()

    r = cli("app", "secret", "put", *level_args("env"), "db-password", "-f", value_file).ok()
    assert r.text == "acme/prod: secret db-password stored, %d bytes\n" % len(marker)
    r = cli("app", "secret", "put", *level_args("app"), "blob", "-f", "-", input=binary).ok()
    assert r.text == "acme/prod/orders: secret blob stored, %d bytes\n" % len(binary)
    rec = json.loads(cli("app", "secret", "put", *level_args("app"), "db-password", "-f", "-", "--json",
                         input=marker.encode() + b"\n").ok().text)
    assert set(rec) == {"name", "size", "created", "updated"} and rec["size"] == len(marker) + 1, rec

    # the levels hold their own
    env, app = api_secrets(daemon, "env"), api_secrets(daemon, "app")
    assert [(s["name"], s["size"]) for s in env] == [("db-password", len(marker))]
    assert [(s["name"], s["size"]) for s in app] == [("blob", len(binary)), ("db-password", len(marker) + 1)]

    rows = [["NAME", "SIZE", "CREATED", "UPDATED"]] + [
        [s["name"], str(s["size"]), utc(s["created"]), utc(s["updated"])] for s in app]
    assert cli("app", "secret", "ls", *level_args("app")).ok().text == table(rows)
    assert json.loads(cli("app", "secret", "list", *level_args("app"), "--json").ok().text) == app
    assert json.loads(cli("--json", "app", "secret", "ls", *level_args("env")).ok().text) == env

    # failures name the secret, never its value
    cli("app", "secret", "put", *level_args("env"), "DEFAULT", "-f", value_file).fails(EXIT_INVALID)
    cli("app", "secret", "put", "--tenant", "NOPE", "--env", "prod", "x", "-f", value_file).fails(EXIT_INVALID)

    r = cli("app", "secret", "rm", *level_args("app"), "db-password").ok()
    assert r.text == "acme/prod/orders: secret db-password removed\n"
    assert cli("app", "secret", "remove", *level_args("env"), "db-password", "--json").ok().text == "{}\n"
    assert api_secrets(daemon, "env") == [] and [s["name"] for s in api_secrets(daemon, "app")] == ["blob"]
    cli("app", "secret", "rm", *level_args("app"), "db-password").fails(EXIT_NOT_FOUND)

    # no output of any of those commands held the value
    assert len(cli.outputs) == 11
    for o in cli.outputs:
        assert marker.encode() not in o.out and marker not in o.err, (o.out, o.err)
    # and the CLI offers no way to read one back
    cli("app", "secret", "get", *level_args("app"), "blob").fails(EXIT_USAGE, "unknown command 'get'")


# --- reaching the daemon -----------------------------------------------------------

def test_unreachable_daemon(tmp_path, offline):
    lv = level_args("env")
    data = write(str(tmp_path), "data", b"x")
    for args in (["app", "file", "put", *lv, "--area", "context", "n", "-f", data],
                 ["app", "file", "get", *lv, "--area", "context", "n"],
                 ["app", "file", "ls", *lv],
                 ["app", "file", "rm", *lv, "--area", "context", "n"],
                 ["app", "secret", "put", *lv, "s", "-f", data],
                 ["app", "secret", "ls", *lv]):
        offline(*args).fails(EXIT_UNREACHABLE, "cannot reach volmand at %s: no such file" % (tmp_path / "absent.sock"))
    # a socket nobody accepts on: the put's own connection is refused
    path = str(tmp_path / "refusing.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)  # bound, never listening: connect() is refused
    try:
        for args in (["app", "file", "put", *lv, "--area", "context", "n", "-f", data],
                     ["app", "secret", "put", *lv, "s", "-f", "-"]):
            r = run_cli(path, args, input=b"v")
            r.fails(EXIT_UNREACHABLE, "cannot reach volmand at %s: connection refused" % path)
    finally:
        s.close()


# --- help and completion -----------------------------------------------------------

def test_help_lists_the_groups_and_commands():
    require_binaries(VOLMAN)

    def help_of(*words):
        p = subprocess.run([VOLMAN] + list(words) + ["--help"], capture_output=True, text=True,
                           env=base_env({"VOLMAN_SOCKET": "/nonexistent.sock"}))
        assert p.returncode == 0 and p.stderr == "", p
        return p.stdout

    app = help_of("app")
    assert "  file         Put, list, get or remove /con configuration and context files\n" in app
    assert "  secret       Put, list or remove /con secrets (never their values)\n" in app
    f = help_of("app", "file")
    assert f.startswith("Usage: volman app file COMMAND [ARG...]\n")
    for line in ("  put          ", "  ls, list     ", "  get          ", "  rm, remove   "):
        assert line in f, f
    assert f.endswith("\nExample:\n  volman app file ls --tenant acme --env prod --app orders\n"), f
    s = help_of("--json", "app", "secret")
    assert "  put          " in s and "  ls, list     " in s and "  rm, remove   " in s and "  get" not in s
    assert s.count("Example:") == 1
    put = help_of("app", "file", "put")
    assert put.startswith("Usage: volman app file put --tenant T --env E [--app A] --area AREA NAME -f FILE\n")
    assert "  -f, --file FILE     the content, at most 1 MiB; - reads stdin (required)\n" in put
    assert "  -o, --output FILE   write to FILE (created or truncated); - is stdout\n" in help_of("app", "file", "get")


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_completion_of_areas_and_names(daemon, cli, shell):
    from test_completion import run_batch

    cli("app", "file", "put", *level_args("env"), "--area", "configuration", "env.yaml", "-f", "-", input=b"a").ok()
    cli("app", "file", "put", *level_args("app"), "--area", "context", "notes.txt", "-f", "-", input=b"b").ok()
    cli("app", "file", "put", *level_args("app"), "--area", "configuration", "app.yaml", "-f", "-", input=b"c").ok()
    cli("app", "secret", "put", *level_args("app"), "db-password", "-f", "-", input=b"d").ok()
    s = ("--socket", daemon.socket)
    queries = [
        s + ("app", "file", "put", "--area", ""),
        s + ("app", "file", "get", "--tenant", "acme", "--env", "prod", "--area", "configuration", ""),
        s + ("app", "file", "rm", "--tenant=acme", "--env", "prod", "--app", "orders", ""),
        s + ("app", "file", "get", "--tenant", "acme", "--env", "prod", "--app", "orders", "--area", "context", ""),
        s + ("app", "file", "get", "--tenant", "acme", "--env", "prod", "--area", "configuration", "env.yaml", ""),
        s + ("app", "secret", "rm", "--tenant", "acme", "--env", "prod", "--app", "orders", ""),
        s + ("app", "secret", "rm", "--tenant", "acme", "--env", "prod", ""),
        s + ("app", "file", "get", ""),  # no level: nothing, and no error
        s + ("app", "file", "get", "-o", ""),
    ]
    got = run_batch(shell, queries)
    assert got[0] == ["configuration", "context"], got
    assert got[1] == ["env.yaml"], got
    assert got[2] == ["app.yaml", "notes.txt"], got
    assert got[3] == ["notes.txt"], got
    assert got[4] == [], got  # one NAME only
    assert got[5] == ["db-password"], got
    assert got[6] == [], got
    assert got[7] == [], got
    if shell == "zsh":
        assert got[8] == ["@files"], got  # _files does the rest
    else:
        assert got[8] and set(got[8]) <= set(os.listdir(".")), got  # file names
