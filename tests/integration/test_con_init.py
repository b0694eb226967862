"""con-init, the init volmand puts at /con/.init in app containers, run for
real: warnings for DEFAULT areas, the ENV files of /con/configuration and
/con/secret (parsed, never run), the app's exit status, signals forwarded,
orphans reaped, and a static binary. Each test gives its own --con DIR under
a temporary directory; con-init is not PID 1 here, so reaping relies on its
PR_SET_CHILD_SUBREAPER."""

import os
import signal
import struct
import subprocess
import time

import pytest

from conftest import BUILD, require_binaries

CON_INIT = os.path.join(BUILD, "con-init", "con-init")
AREAS = ("configuration", "context", "secret", "seed", "proc", "data", "log", "var")
FIRST_LINES = {
    "configuration": "Default configuration directory in use.",
    "context": "Default context directory in use.",
    "secret": "Default secret directory in use.",
    "seed": "Default seed directory in use.",
    "proc": "Default proc directory in use.",
    "data": "WARNING: Non persistent data directory in use! Data loss on restart!",
    "log": "WARNING: Non persistent log directory in use! Logs are lost on restart!",
    "var": "WARNING: Non persistent var directory in use! Data loss on restart!",
}
MIB = 1 << 20
ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}


@pytest.fixture
def con(tmp_path):
    """A /con tree with every area's directory, no DEFAULT file, no ENV."""
    require_binaries(CON_INIT)
    d = tmp_path / "con"
    for a in AREAS:
        (d / a).mkdir(parents=True)
    return d


def run(con, *argv, timeout=10):
    return subprocess.run([CON_INIT, "--con", str(con), "--", *argv], env=ENV,
                          capture_output=True, timeout=timeout)


def start(con, *argv, ignored=()):
    """con-init running argv; ignored: signals con-init itself starts with
    ignored, as a shell's background job or nohup would start it."""
    def preexec():
        for s in ignored:
            signal.signal(s, signal.SIG_IGN)
    # its own process group: kill_group() takes the program and its children too
    return subprocess.Popen([CON_INIT, "--con", str(con), "--", *argv], env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=preexec,
                            start_new_session=True)


def kill_group(p):
    """Kills con-init's whole process group (what it runs outlives a SIGKILL
    of con-init alone, which cannot pass it on) and reaps con-init."""
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    p.wait()


def wait_until(cond, what, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            pytest.fail("timed out waiting for " + what)
        time.sleep(0.01)


def env_of(con, *names):
    """The values of names as the program sees them (None: unset), and
    con-init's stderr."""
    script = 'for n in "$@"; do eval "v=\\${$n-UNSET}"; printf "%s=%s\\0" "$n" "$v"; done'
    r = run(con, "sh", "-c", script, "sh", *names)
    assert r.returncode == 0, r.stderr
    out = {}
    for item in r.stdout.split(b"\0")[:-1]:
        k, v = item.decode().split("=", 1)
        out[k] = None if v == "UNSET" else v
    return out, r.stderr.decode()


# --- warnings ------------------------------------------------------------------

def test_warns_for_default_areas_only(con):
    (con / "data" / "DEFAULT").touch()
    (con / "configuration" / "DEFAULT").touch()
    r = run(con, "true")
    assert r.returncode == 0
    assert r.stderr.decode() == (
        "Default configuration directory in use.\n"
        "Configurations can be provided via volume at %(c)s/configuration.\n"
        "ENVs will be read from %(c)s/configuration/ENV.\n"
        ">>>\n"
        "WARNING: Non persistent data directory in use! Data loss on restart!\n"
        "Please substitute %(c)s/data with a volume.\n"
        ">>>\n" % {"c": con})


def test_no_default_files_no_warnings(con):
    (con / "data" / "README").touch()  # other files are no DEFAULT
    r = run(con, "true")
    assert r.returncode == 0
    assert r.stderr == b""


def test_every_area_warns_in_order(con):
    for a in AREAS:
        (con / a / "DEFAULT").touch()
    r = subprocess.run([CON_INIT, "--con", str(con) + "/", "--", "true"], env=ENV,
                       capture_output=True, timeout=10)
    assert r.returncode == 0
    blocks = r.stderr.decode().split(">>>\n")
    assert blocks[-1] == ""
    assert [b.split("\n")[0] for b in blocks[:-1]] == [FIRST_LINES[a] for a in AREAS]
    assert "Please substitute %s/var with a volume." % con in blocks[7]
    assert "Secure ENVs will be read from %s/secret/ENV." % con in blocks[2]
    assert "//" not in r.stderr.decode()


def test_missing_areas_are_passed_over(tmp_path):
    require_binaries(CON_INIT)
    (tmp_path / "con" / "log").mkdir(parents=True)
    (tmp_path / "con" / "log" / "DEFAULT").touch()
    r = run(tmp_path / "con", "true")
    assert r.returncode == 0
    assert r.stderr.decode().split("\n")[0] == FIRST_LINES["log"]
    assert r.stderr.decode().count(">>>") == 1
    r = run(tmp_path / "nothing-here", "true")
    assert (r.returncode, r.stderr) == (0, b"")


# --- ENV files -----------------------------------------------------------------

def test_env_files_reach_the_program_secret_wins(con):
    (con / "configuration" / "ENV").write_text("A=from-conf\nB=from-conf\nexport E=1\n")
    (con / "secret" / "ENV").write_text("B=from-secret\nC='from secret'\n")
    env, err = env_of(con, "A", "B", "C", "E")
    assert env == {"A": "from-conf", "B": "from-secret", "C": "from secret", "E": "1"}
    assert err == ""
    r = run(con, "env")
    assert b"B=from-secret\n" in r.stdout


def test_env_values_are_never_executed(con, tmp_path):
    pwned = [tmp_path / ("pwned%d" % i) for i in range(4)]
    (con / "configuration" / "ENV").write_text(
        "X=$(touch %s)\n" % pwned[0] +
        "Y=`touch %s`\n" % pwned[1] +
        'Z="$(touch %s)"\n' % pwned[2] +
        "W=x; touch %s\n" % pwned[3])
    env, err = env_of(con, "X", "Y", "Z", "W")
    assert env == {"X": "$(touch %s)" % pwned[0], "Y": "`touch %s`" % pwned[1],
                   "Z": "$(touch %s)" % pwned[2], "W": "x; touch %s" % pwned[3]}
    assert err == ""
    for p in pwned:
        assert not p.exists(), "%s was created: an ENV value was run" % p


def test_bad_lines_reported_and_skipped(con):
    (con / "configuration" / "ENV").write_text(
        "# comment\n"
        "GOOD1=1\n"
        "KEY = v\n"
        "GOOD2=2\n"
        "1BAD=x\n"
        "GOOD3=\"3\"\n"
        "Q=\"unterminated\n")
    env, err = env_of(con, "GOOD1", "GOOD2", "GOOD3", "KEY", "Q")
    assert env == {"GOOD1": "1", "GOOD2": "2", "GOOD3": "3", "KEY": None, "Q": None}
    lines = err.splitlines()
    path = "%s/configuration/ENV" % con
    assert len(lines) == 3, err
    for line, n in zip(lines, (3, 5, 7)):
        assert line.startswith("con-init: %s line %d: " % (path, n)), line
        assert line.endswith(" (skipped)"), line


def test_secret_values_never_on_stderr(con):
    (con / "secret" / "ENV").write_text(
        "DB_PASSWORD=s3cr3t-good\n"
        'TOKEN="s3cr3t-unterminated\n'
        "s3cr3t-loose-line\n"
        "K = s3cr3t-spaced\n"
        'E="s3cr3t\\qescape"\n'
        "T='s3cr3t'trailing\n")
    env, err = env_of(con, "DB_PASSWORD", "TOKEN")
    assert env == {"DB_PASSWORD": "s3cr3t-good", "TOKEN": None}
    assert len(err.splitlines()) == 5, err
    assert "s3cr3t" not in err
    assert 'key "TOKEN"' in err  # a valid key may be named


def test_crlf_env_file(con):
    (con / "configuration" / "ENV").write_bytes(b"A=one\r\nB=\"two\"\r\n# c\r\n\r\nC='three'\r\n")
    env, err = env_of(con, "A", "B", "C")
    assert env == {"A": "one", "B": "two", "C": "three"}
    assert err == ""


def test_env_file_over_1_mib_refused(con):
    head = b"BIG=loaded\n"
    (con / "configuration" / "ENV").write_bytes(head + b"#" * (MIB + 1 - len(head)))
    (con / "secret" / "ENV").write_bytes(b"S=ok\n")
    env, err = env_of(con, "BIG", "S")
    assert env == {"BIG": None, "S": "ok"}
    assert "%s/configuration/ENV" % con in err and "not loaded" in err
    # At exactly 1 MiB it loads.
    (con / "configuration" / "ENV").write_bytes(head + b"#" * (MIB - len(head)))
    env, err = env_of(con, "BIG")
    assert env == {"BIG": "loaded"}
    assert err == ""


def test_env_symlink_and_fifo_not_loaded(con, tmp_path):
    target = tmp_path / "elsewhere"
    target.write_text("LINKED=1\n")
    (con / "configuration" / "ENV").symlink_to(target)
    os.mkfifo(con / "secret" / "ENV")  # must not hang the start
    env, err = env_of(con, "LINKED")
    assert env == {"LINKED": None}
    assert "configuration/ENV: a symbolic link, not loaded" in err
    assert "secret/ENV: not a regular file, not loaded" in err


# --- the program's status ------------------------------------------------------

def test_exit_code_passes_through(con):
    assert run(con, "sh", "-c", "exit 7").returncode == 7
    assert run(con, "true").returncode == 0


def test_killed_program_gives_128_plus_signal(con):
    r = run(con, "sh", "-c", "kill -KILL $$")
    assert r.returncode == 128 + signal.SIGKILL


def test_missing_program(con):
    r = run(con, "no-such-program-here")
    assert r.returncode == 127
    assert b"con-init: cannot run no-such-program-here: No such file or directory" in r.stderr


def test_program_not_executable(con, tmp_path):
    f = tmp_path / "plain"
    f.write_text("not a program\n")
    r = run(con, str(f))
    assert r.returncode == 126
    assert b"cannot run" in r.stderr


def test_path_comes_from_the_env_file(con, tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    prog = bindir / "only-here"
    prog.write_text("#!/bin/sh\nexit 5\n")
    prog.chmod(0o755)
    (con / "configuration" / "ENV").write_text("PATH=%s:/bin:/usr/bin\n" % bindir)
    assert run(con, "only-here").returncode == 5


# --- signals and reaping -------------------------------------------------------

@pytest.mark.parametrize("inherited", ["default", "ignored"])
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1])
def test_signal_reaches_the_program(con, tmp_path, sig, inherited):
    # a program gets the signals con-init forwards at their default action,
    # even when con-init was started with them ignored (a shell that cannot
    # trap a signal ignored at its start would never see it)
    mark, ready = tmp_path / "mark", tmp_path / "ready"
    name = signal.Signals(sig).name[3:]
    p = start(con, "sh", "-c", 'trap "echo got >%s; exit 0" %s; touch %s; '
              "while :; do sleep 0.05; done" % (mark, name, ready),
              ignored=(sig,) if inherited == "ignored" else ())
    try:
        wait_until(ready.exists, "the program to start")
        p.send_signal(sig)
        assert p.wait(timeout=5) == 0
    finally:
        kill_group(p)
    assert mark.read_text() == "got\n"


def test_signal_that_kills_the_program(con, tmp_path):
    ready = tmp_path / "ready"
    p = start(con, "sh", "-c", "touch %s; exec sleep 30" % ready)
    try:
        wait_until(ready.exists, "the program to start")
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=5) == 128 + signal.SIGTERM
    finally:
        kill_group(p)


def children_state(pid):
    """{child pid: state letter} of the processes whose parent is pid."""
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) == pid:
            out[int(entry)] = fields[0]
    return out


def test_orphans_are_reaped(con, tmp_path):
    orphan_pid, ready, stop = tmp_path / "orphan", tmp_path / "ready", tmp_path / "stop"
    # The subshell exits at once: its child (the orphan) is reparented to
    # con-init, lives 0.3 s, and must then be reaped while the program runs.
    script = ("(sh -c 'echo $$ >%s.tmp; mv %s.tmp %s; exec sleep 0.3' &); touch %s; "
              "while [ ! -e %s ]; do sleep 0.05; done"
              % (orphan_pid, orphan_pid, orphan_pid, ready, stop))
    p = start(con, "sh", "-c", script)
    try:
        wait_until(lambda: ready.exists() and orphan_pid.exists(), "the program to start")
        orphan = int(orphan_pid.read_text())
        wait_until(lambda: children_state(p.pid).get(orphan) is not None or
                   not os.path.exists("/proc/%d" % orphan),
                   "the orphan to be reparented to con-init")
        # Gone from /proc entirely: a zombie would stay listed until reaped.
        wait_until(lambda: not os.path.exists("/proc/%d" % orphan), "the orphan to be reaped")
        zombies = [c for c, state in children_state(p.pid).items() if state == "Z"]
        assert zombies == []
        assert p.poll() is None  # con-init is still running its program
        stop.touch()
        assert p.wait(timeout=5) == 0
    finally:
        kill_group(p)


def test_orphan_is_reparented_to_con_init(con, tmp_path):
    """con-init is a subreaper: a grandchild whose parent exits becomes its child."""
    orphan_pid, stop = tmp_path / "orphan", tmp_path / "stop"
    script = ("(sh -c 'echo $$ >%s.tmp; mv %s.tmp %s; while [ ! -e %s ]; do sleep 0.05; done' &); "
              "while [ ! -e %s ]; do sleep 0.05; done"
              % (orphan_pid, orphan_pid, orphan_pid, stop, stop))
    p = start(con, "sh", "-c", script)
    try:
        wait_until(orphan_pid.exists, "the orphan to start")
        orphan = int(orphan_pid.read_text())
        wait_until(lambda: orphan in children_state(p.pid), "the orphan to be reparented")
    finally:
        stop.touch()
        try:
            assert p.wait(timeout=5) == 0
        finally:
            kill_group(p)


# --- the binary and its arguments -------------------------------------------------

def test_binary_is_static():
    require_binaries(CON_INIT)
    with open(CON_INIT, "rb") as f:
        elf = f.read()
    assert elf[:4] == b"\x7fELF" and elf[4] == 2  # ELF64
    phoff, = struct.unpack_from("<Q", elf, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", elf, 0x36)
    types = [struct.unpack_from("<I", elf, phoff + i * phentsize)[0] for i in range(phnum)]
    PT_INTERP = 3
    assert PT_INTERP not in types, "con-init has a program interpreter: not static"


def test_runs_in_an_empty_root(tmp_path):
    """No libc, no loader, nothing but itself: it runs itself as the program."""
    require_binaries(CON_INIT)
    if os.geteuid() != 0:
        pytest.fail("chroot(2) needs root: run the suite as root, as .ci/run does")
    root = tmp_path / "root"
    root.mkdir()
    with open(CON_INIT, "rb") as src, open(root / "init", "wb") as dst:
        dst.write(src.read())
    os.chmod(root / "init", 0o755)
    r = subprocess.run(["/init", "--", "/init", "--", "/missing"], env={},
                       capture_output=True, timeout=10,
                       preexec_fn=lambda: (os.chroot(str(root)), os.chdir("/")))
    assert r.returncode == 127
    assert b"cannot run /missing" in r.stderr


@pytest.mark.parametrize("argv, message", [
    (["--help"], b"Usage: con-init"),
    (["--con", "/tmp"], b"missing --"),
    (["true"], b"missing --"),
    (["--"], b"no program to run"),
    (["--con"], b"--con needs a directory"),
    (["--bogus", "--", "true"], b"unknown option"),
])
def test_usage_errors(argv, message, tmp_path):
    require_binaries(CON_INIT)
    r = subprocess.run([CON_INIT, *argv], env=ENV, capture_output=True, timeout=10,
                       cwd=tmp_path)
    assert r.returncode == 2
    assert message in r.stdout + r.stderr
    assert b"Usage: con-init [--con DIR] -- PROGRAM [ARGS...]" in r.stdout + r.stderr


def test_no_program_runs_without_the_separator(tmp_path):
    require_binaries(CON_INIT)
    r = subprocess.run([CON_INIT, "touch", str(tmp_path / "ran")], env=ENV,
                       capture_output=True, timeout=10)
    assert r.returncode == 2
    assert not (tmp_path / "ran").exists()
