"""volmand's configuration file (docs/operations.md, volmand.conf(5)): every
key, the precedence of flags over the environment over the file over the
defaults, --print-config and where each value came from, bad lines named by
file and line, and a daemon that takes its settings from the file alone."""

import os
import re
import subprocess

import pytest

from conftest import VOLMAND, REPO, Client, base_env, require_binaries, wait_until, _die_with_parent

EXAMPLE = os.path.join(REPO, "dist", "volmand.conf.example")

# One value per key, as a file would give it.
EVERY_KEY = {
    "root": "/srv/volman-test",
    "socket": "/run/volman-test/api.sock",
    "plugin-socket": "none",
    "prefix": "acme",
    "default-driver": "tmpfs",
    "engine": "unix:///run/docker.sock",
    "engine-driver": "volman2",
    "memory-max-total": "2g",
    "memory-max-volume": "64m",
    "socket-group": "daemon",
    "btrfs-root": "/srv/btrfs",
    "listen": "127.0.0.1:8443",
    "tls-cert": "/etc/volman/cert.pem",
    "tls-key": "/etc/volman/key.pem",
    "secret-key-file": "/etc/volman/secret.key",
    "con-init": "/opt/volman/con-init",
    "seed-ttl": "90s",
    "seed-url": "https://volman.example:8443",
    "store": "etcd://10.0.0.5:2379,10.0.0.6:2379/volman",
    "node": "n1",
    "advertise": "https://10.0.0.11:8443",
    "cluster-secret-file": "/etc/volman/cluster.secret",
    "log-level": "debug",
    "log-format": "json",
}


def volmand(*args, env=None):
    require_binaries(VOLMAND)
    p = subprocess.run([VOLMAND] + list(args), capture_output=True, text=True, env=base_env(env),
                       stdin=subprocess.DEVNULL, timeout=30)
    assert "Sanitizer" not in p.stderr and "runtime error" not in p.stderr, p.stderr
    return p.returncode, p.stdout, p.stderr


def write(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return str(path)


def effective(out):
    """{key: (value or None, origin)} from --print-config's output."""
    got = {}
    for line in out.splitlines():
        m = re.match(r'^(#\s*)?([a-z-]+) =\s*("(?:[^"\\]|\\.)*"|\S(?:.*?\S)?)?\s+# (.*)$', line)
        if m:
            value = None if m.group(1) else m.group(3)
            if value and value.startswith('"'):
                value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
            got[m.group(2)] = (value, m.group(4))
    return got


def test_every_key_from_the_file(tmp_path):
    conf = write(tmp_path / "v.conf", "# every key\n" + "".join(
        "%s = %s\n" % kv for kv in EVERY_KEY.items()))
    rc, out, err = volmand("--config", conf, "--print-config")
    assert rc == 0, err
    got = effective(out)
    assert set(got) == set(EVERY_KEY), out  # every flag has a key, and --print-config shows it
    for i, (k, v) in enumerate(EVERY_KEY.items()):
        assert got[k] == (v, "%s:%d" % (conf, i + 2)), (k, got[k])
    assert "configuration file: %s (read)" % conf in out


def test_every_key_is_in_the_example_and_every_flag_in_help(tmp_path):
    """The shipped example names every key (commented out), and uncommented
    it is a valid file; --help names every key as a flag."""
    text = open(EXAMPLE).read()
    keys = re.findall(r"^#([a-z-]+) = ", text, re.M)
    assert sorted(keys) == sorted(EVERY_KEY), keys
    rc, out, err = volmand("--config", EXAMPLE, "--print-config")
    assert rc == 0, err
    assert all(origin in ("default",) or origin.startswith("not set")
               for _, origin in effective(out).values()), out
    uncommented = write(tmp_path / "u.conf", re.sub(r"^#([a-z-]+ = )", r"\1", text, flags=re.M))
    rc, out, err = volmand("--config", uncommented, "--print-config")
    assert rc == 0, err
    assert all(origin.startswith(uncommented + ":") for _, origin in effective(out).values()), out
    rc, out, _ = volmand("--help")
    assert rc == 0
    for k in EVERY_KEY:
        assert "--" + k + " " in out, k


def test_defaults_and_precedence(tmp_path):
    conf = write(tmp_path / "v.conf", "socket = /from/file.sock\nprefix = filep\nroot = /from/file\n"
                                      "engine = unix:///from/file.sock\n")
    env = {"VOLMAN_SOCKET": "/from/env.sock", "VOLMAN_ENGINE": "unix:///from/env.sock"}
    rc, out, err = volmand("--config", conf, "--print-config", "--socket", "/from/flag.sock",
                           "--log-level=warning", env=env)
    assert rc == 0, err
    got = effective(out)
    assert got["socket"] == ("/from/flag.sock", "flag --socket")          # flag > env > file
    assert got["engine"] == ("unix:///from/env.sock", "environment VOLMAN_ENGINE")  # env > file
    assert got["prefix"] == ("filep", conf + ":2")                         # file > default
    assert got["root"] == ("/from/file", conf + ":3")
    assert got["log-level"] == ("warning", "flag --log-level")
    assert got["default-driver"] == ("local", "default")
    assert got["plugin-socket"] == ("/run/docker/plugins/volman.sock", "default")
    assert got["listen"][0] is None and got["listen"][1].startswith("not set")


def test_print_config_reads_back(tmp_path):
    """--print-config writes a configuration file: fed back, it gives the same values."""
    conf = write(tmp_path / "v.conf", 'prefix = "a # b"\nroot = /srv/x y\nlog-format = json\n')
    rc, out, err = volmand("--config", conf, "--print-config")
    assert rc == 0, err
    again = write(tmp_path / "again.conf", out)
    rc, out2, err = volmand("--config", again, "--print-config")
    assert rc == 0, err
    first, second = effective(out), effective(out2)
    assert first["prefix"][0] == "a # b" and first["root"][0] == "/srv/x y"
    assert {k: v for k, (v, _) in first.items()} == {k: v for k, (v, _) in second.items()}


@pytest.mark.parametrize("text,line,says", [
    ("root = /a\nbogus = 1\n", 2, "unknown key bogus"),
    ("\n\nlog-level = loud\n", 3, "log-level: give one of debug, info, warning, error, not loud"),
    ("log-format = xml\n", 1, "log-format: give one of text, json"),
    ("memory-max-total = lots\n", 1, "memory-max-total"),
    ("root = relative/path\n", 1, "root: give an absolute path"),
    ("plugin-socket = off\n", 1, "plugin-socket: give an absolute path or none"),
    ("root = /a\nroot = /b\n", 2, "root is set again (first on line 1)"),
    ("root /a\n", 1, "expected = after root"),
    ("prefix =\n", 1, "prefix has no value"),
    ('prefix = "open\n', 1, "closing quote is missing"),
])
def test_bad_lines_name_file_and_line(tmp_path, text, line, says):
    conf = write(tmp_path / "bad.conf", text)
    for extra in ([], ["--print-config"]):
        rc, out, err = volmand("--config", conf, *extra)
        assert rc == 2, (rc, err)
        assert "volmand: %s:%d: " % (conf, line) in err, err
        assert says in err, err


def test_bad_values_from_flags_and_derived_checks(tmp_path):
    rc, _, err = volmand("--log-format", "xml", "--print-config")
    assert rc == 2 and "--log-format: give one of text, json" in err, err
    rc, _, err = volmand("--memory-max-volume", "lots")
    assert rc == 2 and "memory-max-volume" in err, err
    # checks made when the daemon starts name the file and line too
    conf = write(tmp_path / "v.conf", "root = %s\n\nlisten = nonsense\n" % (tmp_path / "r"))
    rc, _, err = volmand("--config", conf, "--socket", str(tmp_path / "s"), "--plugin-socket", "none")
    assert rc == 2 and "%s:3: listen nonsense: give HOST:PORT" % conf in err, err
    conf = write(tmp_path / "g.conf", "socket-group = no-such-group-here\n")
    rc, _, err = volmand("--config", conf, "--root", str(tmp_path / "r"))
    assert rc == 2 and "%s:1: socket-group: no group called no-such-group-here" % conf in err, err


def test_missing_named_file_is_an_error_unsafe_file_refused(tmp_path):
    rc, _, err = volmand("--config", str(tmp_path / "nope.conf"), "--print-config")
    assert rc == 2 and "--config %s: no such file" % (tmp_path / "nope.conf") in err, err
    conf = write(tmp_path / "open.conf", "prefix = x\n", mode=0o666)
    rc, _, err = volmand("--config", conf, "--print-config")
    assert rc == 2 and "chmod go-w" in err, err
    rc, _, err = volmand("--config", str(tmp_path), "--print-config")
    assert rc == 2 and "not a regular file" in err, err
    rc, _, err = volmand("--config")
    assert rc == 2 and "--config needs a value" in err, err


def test_the_default_file_may_be_missing():
    """Without --config volmand looks for its default file and goes on
    without it (every other test starts volmand this way)."""
    rc, out, err = volmand("--print-config")
    assert rc == 0, err
    m = re.search(r"^# configuration file: (\S+) \((read|not found: nothing read from it)\)$", out, re.M)
    assert m and m.group(1).endswith("/volman/volmand.conf"), out


def test_daemon_runs_on_the_file_alone(tmp_path):
    """A daemon given only --config serves where the file says, logs as it says."""
    root, sock = tmp_path / "root", tmp_path / "api.sock"
    conf = write(tmp_path / "v.conf",
                 "root = %s\nsocket = %s\nplugin-socket = none\nprefix = filed\n"
                 "log-level = debug\nlog-format = json\nmemory-max-volume = 1m\n" % (root, sock))
    log = open(tmp_path / "log", "wb")
    p = subprocess.Popen([VOLMAND, "--config", conf], stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                         env=base_env(), preexec_fn=_die_with_parent)
    try:
        wait_until("volmand answers on the file's socket", lambda: os.path.exists(sock) and
                   Client(str(sock), keepalive=False).get("/v1/health")[0] == 200, timeout=15)
        c = Client(str(sock), keepalive=False)
        st, body = c.post("/v1/volumes", {"scope": {"tenant": "t", "env": "e", "app": "a", "path": "/d"}})
        assert st == 201 and body["name"].startswith("filed-"), (st, body)
        st, body = c.post("/v1/volumes", {"name": "big", "driver": "tmpfs", "options": {"size": "2m"}})
        assert st in (400, 507) and "1 MiB" in body["error"]["message"], body
        assert os.path.isdir(root)
    finally:
        p.terminate()
        assert p.wait(10) == 0
        log.close()
    text = open(tmp_path / "log").read()
    assert '"level":"debug"' in text and "GET /v1/health" in text, text[-2000:]
