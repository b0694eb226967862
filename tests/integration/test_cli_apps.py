"""The app commands of the CLI against the real daemon (docs/cli.md, docs/apps.md):
`volman config set|get`, `volman app config set|get|resolve`, `app ls`, `app rm`,
`app deploy` on a daemon without an engine, and the config file reader (YAML
and JSON turned into the JSON the daemon takes, cli/configfile.c).

Every check is on the exact exit code, the output, and the daemon's state
afterwards as its REST API reports it. Commands that must fail before
anything is sent run against a socket that does not exist (exit 2 or 6, never
3) or are checked to have left the daemon's stored layer unchanged.
"""

import itertools
import json
import os
import subprocess
import time

import pytest

from conftest import VOLMAN, base_env, require_binaries

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_NOT_FOUND, EXIT_CONFLICT, \
    EXIT_INVALID = range(7)

SANITIZER_MARKERS = ("AddressSanitizer", "LeakSanitizer", "runtime error:")
MIB = 1024 * 1024

GLOBAL = "/v1/config"


def env_path(tenant, env):
    return "/v1/tenants/%s/envs/%s/config" % (tenant, env)


def app_path(tenant, env, app):
    return "/v1/tenants/%s/envs/%s/apps/%s/config" % (tenant, env, app)


def resolved_path(tenant, env, app):
    return "/v1/tenants/%s/envs/%s/apps/%s/resolved" % (tenant, env, app)


_counter = itertools.count()


def _checked(rc, out, err):
    for m in SANITIZER_MARKERS:
        assert m not in err, err
    return rc, out, err


@pytest.fixture
def cli(daemon):
    """Runs the CLI on the test's daemon. input= (str or bytes) becomes the
    CLI's stdin, through a file."""
    require_binaries(VOLMAN)

    def run(*args, input=None, **kw):
        if input is None:
            return _checked(*daemon.cli(*args, **kw))
        path = write(daemon.tmp, "stdin.%d" % next(_counter), input)
        with open(path, "rb") as f:
            return _checked(*daemon.cli(*args, stdin=f, **kw))

    return run


@pytest.fixture
def offline(tmp_path):
    """Runs the CLI against a socket path where nothing listens, so that it
    exits 3 if it ever tries to connect. Returns (rc, stdout, stderr); the
    socket path and the working directory are its .socket and .tmp."""
    require_binaries(VOLMAN)
    sock = str(tmp_path / "absent.sock")

    def run(*args):
        p = subprocess.run([VOLMAN, "--socket", sock] + list(args), env=base_env(),
                           capture_output=True, timeout=60, stdin=subprocess.DEVNULL,
                           cwd=str(tmp_path))
        return _checked(p.returncode, p.stdout.decode("utf-8", "replace"),
                        p.stderr.decode("utf-8", "replace"))

    run.socket = sock
    run.tmp = str(tmp_path)
    return run


def write(directory, name, data):
    path = os.path.join(directory, name)
    with open(path, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)
    return path


def ok(res):
    rc, out, err = res
    assert rc == EXIT_OK, (rc, out, err)
    assert err == "", err
    return out


def fails(res, rc_want, *fragments):
    """A failure: exit code rc_want, nothing on stdout, each fragment on stderr."""
    rc, out, err = res
    assert rc == rc_want, (rc, out, err)
    assert out == "", out
    for frag in fragments:
        assert frag in err, (frag, err)
    return err


def get(client, path):
    st, body = client.get(path)
    assert st == 200, (st, body)
    return body


def put(client, path, body):
    st, saved = client.request("PUT", path, body=body)
    assert st == 200, (st, saved)
    return saved


def removed_data_gone(client, paths, timeout=30.0):
    """The data directories of removed volumes are gone. A daemon whose health
    reports `removals_pending` destroys removed data in the background: wait
    (polling, failing after timeout) until it reports none pending; a daemon
    without it has destroyed the data before answering."""
    deadline = time.monotonic() + timeout
    while True:
        health = get(client, "/v1/health")
        if not health.get("removals_pending"):
            break
        if time.monotonic() > deadline:
            pytest.fail("removed volumes' data still pending after %.0f s: %r" % (timeout, health))
        time.sleep(0.02)
    for p in paths:
        assert not os.path.lexists(p), p


def pretty(doc):
    """What `--json` prints: jansson's 4-space indent, UTF-8 as is."""
    return json.dumps(doc, indent=4, ensure_ascii=False) + "\n"


def table(rows):
    """A table as the CLI prints it: columns padded to the widest cell plus 3."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for r in rows:
        cells = [c + " " * (widths[i] - len(c) + 3) for i, c in enumerate(r[:-1])]
        lines.append("".join(cells) + r[-1])
    return "\n".join(lines) + "\n"


def usage_message(cmd, msg):
    return "volman: %s: %s\nRun 'volman %s --help' for usage.\n" % (cmd, msg, cmd)


# --- help -------------------------------------------------------------------------

HELP = [
    (("config",), "Usage: volman config COMMAND [ARG...]\n",
     ["  set          Replace the global config layer with a YAML or JSON file\n",
      "  get          Print the global config layer\n"]),
    (("config", "set"), "Usage: volman config set -f FILE\n",
     ["  -f, --file FILE   the config, YAML or JSON, at most 1 MiB; - reads stdin\n",
      "      --json        print the saved layer as JSON\n"]),
    (("config", "get"), "Usage: volman config get [--json]\n",
     ["Prints the global layer of the app container config.\n"]),
    (("app",), "Usage: volman app COMMAND [ARG...]\n",
     ["  config       Set, get or resolve an env or app config layer\n",
      "  deploy       Deploy an app's container with its writeable volumes\n",
      "  ls, list     List apps and their last deploy\n",
      "  rm, remove   Remove an app: containers, volumes, config\n"]),
    (("app", "config"), "Usage: volman app config COMMAND [ARG...]\n",
     ["  set          Replace an env or app config layer with a YAML or JSON file\n",
      "  get          Print an env or app config layer\n",
      "  resolve      Print an app's merged config and volume names\n"]),
    (("app", "config", "set"),
     "Usage: volman app config set --tenant T --env E [--app A] -f FILE\n",
     ["      --tenant T    the tenant (required)\n",
      "  -f, --file FILE   the config, YAML or JSON, at most 1 MiB; - reads stdin\n"]),
    (("app", "config", "get"),
     "Usage: volman app config get --tenant T --env E [--app A] [--json]\n",
     ["{} means the layer sets nothing.\n"]),
    (("app", "config", "resolve"),
     "Usage: volman app config resolve --tenant T --env E --app A [--json]\n",
     ["and the name of the volume each writeable path gets.\n"]),
    (("app", "deploy"), "Usage: volman app deploy --tenant T --env E --app A --image IMAGE\n",
     ["[--strategy recreate|blue-green] [--node NODE]\n", "[-- CMD ARG...]\n",
      "      --node NODE                    cluster mode, a first deploy: the node to run\n",
      "      --strategy blue-green          start the new container, then remove the old\n"]),
    (("app", "ls"), "Usage: volman app ls [--tenant T] [--json]\n",
     ["      --tenant T   only the apps of tenant T\n"]),
    (("app", "rm"), "Usage: volman app rm --tenant T --env E --app A [--json]\n",
     ["The env and global layers stay.\n"]),
]


@pytest.mark.parametrize("cmd,first,lines", HELP, ids=[" ".join(h[0]) for h in HELP])
def test_help(offline, cmd, first, lines):
    """--help prints the command's own usage on stdout and exits 0 without
    contacting the daemon."""
    out = ok(offline(*cmd, "--help"))
    assert out.startswith(first), out
    for line in lines:
        assert line in out, (line, out)


def test_help_short_aliases_and_missing_flags(offline):
    """-h is --help; `app list` and `app remove` are `app ls` and `app rm`; help
    wins over the required flags that are missing."""
    assert ok(offline("app", "list", "--help")).startswith(
        "Usage: volman app ls [--tenant T] [--json]\n")
    assert ok(offline("app", "remove", "-h")).startswith(
        "Usage: volman app rm --tenant T --env E --app A [--json]\n")
    assert ok(offline("app", "deploy", "--tenant", "acme", "--help")).startswith(
        "Usage: volman app deploy --tenant T --env E --app A --image IMAGE\n")
    assert ok(offline("app", "config", "set", "--tenant", "acme", "--help")).startswith(
        "Usage: volman app config set --tenant T --env E [--app A] -f FILE\n")


# --- usage errors -------------------------------------------------------------------

APP = ("--tenant", "acme", "--env", "prod", "--app", "orders")

USAGE = [
    (("config",), "config", "give a command (set, get)"),
    (("config", "frob"), "config", "unknown command 'frob'"),
    (("config", "set"), "config set", "-f FILE is required (- reads stdin)"),
    (("config", "set", "-f", "x.yaml", "extra"), "config set", "unexpected argument 'extra'"),
    (("config", "set", "-f"), "config set", "option -f needs a value"),
    (("config", "set", "--bogus", "-f", "x.yaml"), "config set", "unknown option --bogus"),
    (("config", "get", "extra"), "config get", "unexpected argument 'extra'"),
    (("config", "get", "-x"), "config get", "unknown option -x"),
    (("app",), "app", "give a command (config, deploy, ls, rm, file, secret)"),
    (("app", "config"), "app config", "give a command (set, get, resolve)"),
    (("app", "config", "set", "--env", "prod", "-f", "x"), "app config set",
     "--tenant is required"),
    (("app", "config", "set", "--tenant", "acme", "--env", "prod"), "app config set",
     "-f FILE is required (- reads stdin)"),
    (("app", "config", "set", "--tenant", "acme", "--env", "prod", "-f", ""), "app config set",
     "-f needs a file name"),
    (("app", "config", "set", "--tenant", "", "--env", "prod", "-f", "x"), "app config set",
     "--tenant is empty"),
    (("app", "config", "get", "--tenant", "acme"), "app config get", "--env is required"),
    (("app", "config", "get", "--tenant", "acme", "--env"), "app config get",
     "option --env needs a value"),
    (("app", "config", "resolve", "--tenant", "acme", "--env", "prod"), "app config resolve",
     "--app is required"),
    (("app", "config", "resolve") + APP + ("extra",), "app config resolve",
     "unexpected argument 'extra'"),
    (("app", "deploy") + APP, "app deploy", "--image is required"),
    (("app", "deploy", "--env", "prod", "--app", "orders", "--image", "i"), "app deploy",
     "--tenant is required"),
    (("app", "deploy") + APP + ("--image", "i", "--strategy", "green"), "app deploy",
     "--strategy 'green': expected recreate or blue-green"),
    # options end at the first argument: --tenant after it is not an option
    (("app", "deploy", "extra") + APP + ("--image", "i"), "app deploy",
     "unexpected argument 'extra' (the container's command goes after --)"),
    # a "--" that is --image's value does not end the options
    (("app", "deploy") + APP + ("--image", "--", "extra"), "app deploy",
     "unexpected argument 'extra' (the container's command goes after --)"),
    (("app", "deploy") + APP + ("--image", "a\udcff"), "app deploy",
     "--image is not valid UTF-8"),
    (("app", "deploy") + APP + ("--image", "i", "--", "sh", "b\udcfe"), "app deploy",
     "command argument 2 is not valid UTF-8"),
    (("app", "ls", "extra"), "app ls", "unexpected argument 'extra'"),
    (("app", "ls", "--env", "prod"), "app ls", "unknown option --env"),
    (("app", "remove", "--tenant", "acme", "--app", "orders"), "app rm", "--env is required"),
]


@pytest.mark.parametrize("args,cmd,msg", USAGE, ids=["-".join(u[0]) for u in USAGE])
def test_usage_error(offline, args, cmd, msg):
    """Exit 2 with `volman: CMD: MESSAGE` and the pointer to CMD's help, before
    any connection (the socket does not exist: that would be exit 3)."""
    rc, out, err = offline(*args)
    assert (rc, out) == (EXIT_USAGE, ""), (rc, out, err)
    assert err == usage_message(cmd, msg), err


# --- the daemon cannot be reached ------------------------------------------------------

def test_unreachable_daemon(offline):
    """Every app command that talks to the daemon exits 3 naming the socket. A
    config file is read first: a bad one is refused (6) before connecting."""
    write(offline.tmp, "good.yaml", "tmpSize: 64m\n")
    write(offline.tmp, "bad.yaml", "tmpSize: [64m\n")
    reach = "volman: cannot reach volmand at %s: no such file (is volmand running? " \
        "set --socket or VOLMAN_SOCKET)\n" % offline.socket
    for args in [("config", "get"),
                 ("app", "config", "set", "--tenant", "acme", "--env", "prod", "-f", "good.yaml"),
                 ("app", "config", "resolve") + APP,
                 ("app", "deploy") + APP + ("--image", "i"),
                 ("app", "ls"), ("app", "rm") + APP]:
        rc, out, err = offline(*args)
        assert (rc, out, err) == (EXIT_UNREACHABLE, "", reach), args
    err = fails(offline("config", "set", "-f", "bad.yaml"), EXIT_INVALID, "volman: bad.yaml: line ")
    assert "cannot reach" not in err


# --- volman config set|get --------------------------------------------------------------

GLOBAL_YAML = """\
# global.yaml: every app of every tenant
writeableVolumes: []
readOnlyRootfs: false   # the global layer may allow a writeable root
tmpSize: 512m
volumeDriver: local
networkMode: host
"""

GLOBAL_SAVED = {"writeableVolumes": [], "readOnlyRootfs": False, "tmpSize": "512m",
                "volumeDriver": "local", "networkMode": "host"}

GLOBAL_TEXT = """\
writeableVolumes: []
readOnlyRootfs: false
tmpSize: 512m
volumeDriver: local
networkMode: host
"""


def test_config_set_and_get_global(cli, client, daemon):
    """A layer never set prints `{}`. `config set -f FILE` replaces the global
    layer and prints it as saved; `config get` prints the same; --json (before
    or after the command) prints the daemon's object exactly."""
    assert ok(cli("config", "get")) == "{}\n"
    assert ok(cli("--json", "config", "get")) == "{}\n"
    write(daemon.tmp, "global.yaml", GLOBAL_YAML)
    assert ok(cli("config", "set", "-f", "global.yaml")) == GLOBAL_TEXT
    assert get(client, GLOBAL) == GLOBAL_SAVED
    assert ok(cli("config", "get")) == GLOBAL_TEXT
    assert ok(cli("config", "get", "--json")) == pretty(GLOBAL_SAVED)
    assert ok(cli("--json", "config", "set", "--file", "global.yaml")) == pretty(GLOBAL_SAVED)

    # the layer is replaced whole; null, ~ and nothing at all inherit (left out)
    write(daemon.tmp, "second.yaml", "tmpSize: 1g\nvolumeSize: ~\nnetworkMode:\n"
                                     "volumeDriver: null\nreadOnlyRootfs: Null\n"
                                     "writeableVolumes: NULL\n")
    assert ok(cli("config", "set", "--file=second.yaml")) == "tmpSize: 1g\n"
    assert get(client, GLOBAL) == {"tmpSize": "1g"}

    # {} empties it
    assert ok(cli("config", "set", "-f", "-", input="{}\n")) == "{}\n"
    assert get(client, GLOBAL) == {}
    # --socket after the command
    assert ok(cli("config", "get", "--socket", daemon.socket, socket_arg=False)) == "{}\n"


def test_config_set_json_file(cli, client, daemon):
    """A JSON file is YAML: read by the same parser. JSON numbers become strings,
    true/false stay booleans, null is left out."""
    write(daemon.tmp, "global.json", json.dumps({
        "writeableVolumes": ["/srv/data"], "readOnlyRootfs": True, "tmpSize": 512,
        "volumeSize": None, "networkMode": "bridge"}, indent=2))
    out = ok(cli("--json", "config", "set", "-f", "global.json"))
    saved = {"writeableVolumes": ["/srv/data"], "readOnlyRootfs": True, "tmpSize": "512",
             "networkMode": "bridge"}
    assert json.loads(out) == saved and out == pretty(saved)
    assert get(client, GLOBAL) == saved
    # for people: "512" is quoted, or YAML would read it back as a number
    assert ok(cli("config", "get")) == ('writeableVolumes:\n  - /srv/data\nreadOnlyRootfs: true\n'
                                        'tmpSize: "512"\nnetworkMode: bridge\n')
    # one line of JSON, from stdin
    ok(cli("config", "set", "-f", "-", input='{"tmpSize": "64m", "readOnlyRootfs": false}'))
    assert get(client, GLOBAL) == {"readOnlyRootfs": False, "tmpSize": "64m"}


def test_scalars_become_json(cli, client):
    """Plain true/True/TRUE/false/False/FALSE are booleans; everything else
    (numbers, yes/no/on) is a string, and a quoted or !!str value is always a
    string. (The nulls are in test_config_set_and_get_global.)"""
    def set_global(text):
        return cli("--json", "config", "set", "-f", "-", input=text)

    # (plain true and false: in every other test)
    for word, value in [("True", True), ("TRUE", True), ("False", False), ("FALSE", False)]:
        out = ok(set_global("readOnlyRootfs: %s\n" % word))
        assert json.loads(out) == {"readOnlyRootfs": value}, word
        assert get(client, GLOBAL) == {"readOnlyRootfs": value}, word

    out = ok(set_global("tmpSize: 512\nvolumeSize: 1048576\nnetworkMode: on\n"
                        "volumeDriver: 'local'\n"))
    assert json.loads(out) == {"tmpSize": "512", "volumeDriver": "local", "volumeSize": "1048576",
                               "networkMode": "on"}
    for word in ('"null"',):
        out = ok(set_global("networkMode: %s\n" % word))
        want = word.strip("'\"")
        assert json.loads(out) == {"networkMode": want}, word
        assert get(client, GLOBAL) == {"networkMode": want}, word

    # strings where the daemon wants a boolean: refused by the daemon, which
    # shows they were sent as strings; the layer stays
    for word in ("yes", '"false"', "!!str true"):
        fails(set_global("readOnlyRootfs: %s\n" % word), EXIT_INVALID,
              "volman: setting the global config: readOnlyRootfs must be true or false\n")
        assert get(client, GLOBAL) == {"networkMode": "null"}


def test_config_file_comments(cli, client):
    """Comments anywhere are ignored; a # inside a quoted value is kept."""
    text = """\
# the app layer of acme/prod/orders
writeableVolumes:        # one volume per path
  # the state first
  - /var/lib/state       # comment after an item
  - "/var/lib/a#b"
tmpSize: 512m # trailing
# volumeDriver: tmpfs
networkMode: none
"""
    out = ok(cli("app", "config", "set", *APP, "-f", "-", input=text))
    saved = {"writeableVolumes": ["/var/lib/state", "/var/lib/a#b"], "tmpSize": "512m",
             "networkMode": "none"}
    assert get(client, app_path("acme", "prod", "orders")) == saved
    assert out == ('writeableVolumes:\n  - /var/lib/state\n  - "/var/lib/a#b"\n'
                   'tmpSize: 512m\nnetworkMode: none\n')


# --- app config set|get ---------------------------------------------------------------

ORDERS_YAML = """\
# orders.yaml: the app layer of acme/prod/orders
writeableVolumes:        # one volume per path; [] means none
  - /var/lib/state
  - /var/cache/orders
readOnlyRootfs: true     # true or false
tmpSize: 512m            # size of the /tmp tmpfs
volumeDriver: local      # local or tmpfs
volumeSize: null         # null: inherit
networkMode: none        # none, bridge, ...
"""

ORDERS_TEXT = """\
writeableVolumes:
  - /var/lib/state
  - /var/cache/orders
readOnlyRootfs: true
tmpSize: 512m
volumeDriver: local
networkMode: none
"""

ORDERS_SAVED = {"writeableVolumes": ["/var/lib/state", "/var/cache/orders"],
                "readOnlyRootfs": True, "tmpSize": "512m", "volumeDriver": "local",
                "networkMode": "none"}


def test_app_config_set_and_get_layers(cli, client, daemon):
    """Without --app the env layer is set, with it the app layer; each prints as
    saved, `get` prints it back, and `get --json` is the daemon's object exactly."""
    write(daemon.tmp, "orders.yaml", ORDERS_YAML)
    assert ok(cli("app", "config", "set", *APP, "-f", "orders.yaml")) == ORDERS_TEXT
    assert get(client, app_path("acme", "prod", "orders")) == ORDERS_SAVED
    # only that layer was written
    assert get(client, env_path("acme", "prod")) == {}
    assert get(client, GLOBAL) == {}

    # the env layer, from stdin (docs/cli.md's example)
    assert ok(cli("app", "config", "set", "--tenant", "acme", "--env", "staging", "-f", "-",
                  input="writeableVolumes: []\n")) == "writeableVolumes: []\n"
    assert get(client, env_path("acme", "staging")) == {"writeableVolumes": []}
    assert get(client, app_path("acme", "staging", "orders")) == {}

    env_yaml = "writeableVolumes: [/data]\ntmpSize: 64m\nvolumeDriver: tmpfs\nvolumeSize: 32m\n"
    out = ok(cli("--json", "app", "config", "set", "--tenant", "acme", "--env", "prod",
                 "--file", "-", input=env_yaml))
    env_saved = {"writeableVolumes": ["/data"], "tmpSize": "64m", "volumeDriver": "tmpfs",
                 "volumeSize": "32m"}
    assert out == pretty(env_saved)
    assert get(client, env_path("acme", "prod")) == env_saved
    assert get(client, app_path("acme", "prod", "orders")) == ORDERS_SAVED

    assert ok(cli("app", "config", "get", *APP)) == ORDERS_TEXT
    assert ok(cli("app", "config", "get", *APP, "--json")) == pretty(ORDERS_SAVED)
    assert ok(cli("app", "config", "get", "--tenant", "acme", "--env", "prod")) == \
        "writeableVolumes:\n  - /data\ntmpSize: 64m\nvolumeDriver: tmpfs\nvolumeSize: 32m\n"
    # never set: {}
    assert ok(cli("app", "config", "get", "--tenant", "acme", "--env", "prod", "--app",
                  "billing", "--json")) == "{}\n"

    # a set replaces the layer whole
    assert ok(cli("app", "config", "set", *APP, "-f", "-", input="tmpSize: 1g\n")) == \
        "tmpSize: 1g\n"
    assert get(client, app_path("acme", "prod", "orders")) == {"tmpSize": "1g"}


def test_printed_layer_reads_back(cli, client):
    """What `get` prints for people is YAML that `set` reads back to the same
    layer: values YAML would read otherwise are quoted."""
    layer = {"writeableVolumes": ["/srv/my data", "/srv/données", "/srv/a:b", "/srv/-x",
                                  "/srv/.cache", "/srv/plain_dir-1.2"],
             "readOnlyRootfs": True, "tmpSize": "512", "volumeDriver": "local",
             "volumeSize": "1048576", "networkMode": "none"}
    put(client, app_path("acme", "prod", "orders"), layer)
    text = ok(cli("app", "config", "get", *APP))
    assert text == ('writeableVolumes:\n'
                    '  - "/srv/my data"\n'
                    '  - "/srv/données"\n'
                    '  - "/srv/a:b"\n'
                    '  - /srv/-x\n'
                    '  - /srv/.cache\n'
                    '  - /srv/plain_dir-1.2\n'
                    'readOnlyRootfs: true\n'
                    'tmpSize: "512"\n'
                    'volumeDriver: local\n'
                    'volumeSize: "1048576"\n'
                    'networkMode: none\n'), text
    put(client, app_path("acme", "prod", "orders"), {})
    assert ok(cli("app", "config", "set", *APP, "-f", "-", input=text)) == text
    assert get(client, app_path("acme", "prod", "orders")) == layer


# --- what the daemon refuses ------------------------------------------------------------

def test_daemon_refuses_bad_fields(cli, client):
    """A well-formed file with a wrong field is refused by the daemon (exit 6)
    with its message, and the layer is not saved."""
    env_before = {"writeableVolumes": ["/data"], "tmpSize": "64m"}
    app_before = {"tmpSize": "128m"}
    put(client, env_path("acme", "prod"), env_before)
    put(client, app_path("acme", "prod", "orders"), app_before)
    put(client, GLOBAL, {"networkMode": "bridge"})

    env_set = ("app", "config", "set", "--tenant", "acme", "--env", "prod", "-f", "-")
    err = fails(cli(*env_set, input="writeableVolumes: [relative/path]\n"), EXIT_INVALID)
    assert err == "volman: setting the config of acme/prod: writeableVolumes[0]: path " \
        "relative/path is not absolute\n", err
    fails(cli(*env_set, input="bogus: 1\ntmpSize: 1m\n"), EXIT_INVALID,
          'volman: setting the config of acme/prod: unknown field "bogus" in the container '
          'config (known: writeableVolumes, readOnlyRootfs, tmpSize, volumeDriver, volumeSize, '
          'networkMode')
    fails(cli(*env_set, input="tmpSize: [1m]\n"), EXIT_INVALID,
          "setting the config of acme/prod: tmpSize must be a non-empty string")
    assert get(client, env_path("acme", "prod")) == env_before

    fails(cli("app", "config", "set", *APP, "-f", "-", input="readOnlyRootfs: \"true\"\n"),
          EXIT_INVALID, "volman: setting the config of acme/prod/orders: readOnlyRootfs must "
                        "be true or false\n")
    assert get(client, app_path("acme", "prod", "orders")) == app_before

    fails(cli("config", "set", "-f", "-", input="writeableVolumes: [/tmp]\n"), EXIT_INVALID,
          "volman: setting the global config: writeableVolumes[0]: path /tmp is the container's "
          "tmpfs")
    assert get(client, GLOBAL) == {"networkMode": "bridge"}

    # names the daemon refuses: percent-encoded into the path, so the daemon
    # sees them whole and says why (not a 404 for a path with more segments)
    fails(cli("app", "config", "get", "--tenant", "a/b", "--env", "prod"), EXIT_INVALID,
          "volman: getting the config of a/b/prod: tenant may hold only lower-case letters")
    fails(cli("app", "config", "set", "--tenant", "Acme", "--env", "prod", "-f", "-",
              input="tmpSize: 1m\n"), EXIT_INVALID,
          "volman: setting the config of Acme/prod: tenant may hold only lower-case letters")


# --- the config file reader -----------------------------------------------------------

def check_refused_file(cli, client, args, text, *fragments, name="-", path=GLOBAL, before):
    """A file the CLI refuses: exit 6, the fragments on stderr, and the daemon's
    layer unchanged (nothing was sent)."""
    if name == "-":
        res = cli(*args, "-f", "-", input=text)
    else:
        res = cli(*args, "-f", name)
    err = fails(res, EXIT_INVALID, *fragments)
    assert "setting the" not in err, err  # not the daemon's refusal
    assert get(client, path) == before
    return err


def test_malformed_yaml_names_line_and_column(cli, client, daemon):
    """Invalid YAML (or JSON) is refused before anything is sent, with the file's
    name, the line and the column."""
    put(client, GLOBAL, {"tmpSize": "64m"})
    before = {"tmpSize": "64m"}
    write(daemon.tmp, "global.yaml", "writeableVolumes: [/a,\n  /b\n")
    err = check_refused_file(cli, client, ("config", "set"), None, name="global.yaml",
                             before=before)
    assert err == "volman: global.yaml: line 3, column 1: invalid YAML: flow sequence without " \
        "a closing bracket\n", err
    err = check_refused_file(cli, client, ("config", "set"),
                             'tmpSize: 1m\nnetworkMode: none\nvolumeDriver: "local\n',
                             before=before)
    assert err == "volman: stdin: line 3, column 16: invalid YAML: double-quoted scalar without " \
        "closing quote\n", err
    write(daemon.tmp, "bad.json", '{"tmpSize": "1m",\n "networkMode": "none"\n "x": 1}\n')
    check_refused_file(cli, client, ("config", "set"), None,
                       "volman: bad.json: line 3, column 3: invalid YAML: ", name="bad.json",
                       before=before)

    put(client, app_path("acme", "prod", "orders"), {"tmpSize": "1m"})
    check_refused_file(cli, client, ("app", "config", "set") + APP, "tmpSize: [64m\n",
                       "volman: stdin: line ", "invalid YAML",
                       path=app_path("acme", "prod", "orders"), before={"tmpSize": "1m"})


def test_a_file_that_crashes_the_yaml_parser_is_an_error_not_a_crash(cli, client, daemon):
    """libfyaml 0.7.12 dies on some malformed input (here: a SEGV destroying
    the parser after the parse error; fuzz/fuzz_configfile.c found it). The CLI
    converts a file in a child process, so this is exit 6 with the file named
    and nothing sent, and the CLI itself does not crash."""
    put(client, GLOBAL, {"tmpSize": "64m"})
    crash = b"? [a, b]~: \t::::::::::::::\x1a:alue\n"
    write(daemon.tmp, "crash.yaml", crash)
    err = check_refused_file(cli, client, ("config", "set"), None, name="crash.yaml",
                             before={"tmpSize": "64m"})
    assert err.startswith("volman: crash.yaml: the YAML parser failed on it ("), err
    assert "check its syntax, or write it as JSON" in err
    err = check_refused_file(cli, client, ("config", "set"), crash, before={"tmpSize": "64m"})
    assert err.startswith("volman: stdin: the YAML parser failed on it ("), err
    # the same file, fixed, goes through the same child
    write(daemon.tmp, "fixed.yaml", "tmpSize: 32m\n")
    assert cli("config", "set", "-f", "fixed.yaml")[0] == 0
    assert get(client, GLOBAL) == {"tmpSize": "32m"}


def test_missing_or_unreadable_file(cli, client, daemon):
    """A file that cannot be opened or read: exit 6 with the reason, nothing sent."""
    put(client, GLOBAL, {"tmpSize": "64m"})
    err = check_refused_file(cli, client, ("config", "set"), None, name="missing.yaml",
                             before={"tmpSize": "64m"})
    assert err == "volman: cannot open missing.yaml: No such file or directory\n", err
    os.mkdir(os.path.join(daemon.tmp, "adir"))
    err = check_refused_file(cli, client, ("config", "set"), None, name="adir",
                             before={"tmpSize": "64m"})
    assert err == "volman: cannot read adir: Is a directory\n", err
    put(client, env_path("acme", "prod"), {"tmpSize": "2m"})
    err = check_refused_file(cli, client, ("app", "config", "set", "--tenant", "acme", "--env",
                                           "prod"), None, name="/nonexistent/dir/env.yaml",
                             path=env_path("acme", "prod"), before={"tmpSize": "2m"})
    assert err == "volman: cannot open /nonexistent/dir/env.yaml: No such file or directory\n", err


def test_file_size_limit(cli, client, daemon):
    """A file of exactly 1 MiB is read; one byte more is refused (exit 6) and
    nothing is sent, from a file or from stdin."""
    put(client, GLOBAL, {"tmpSize": "64m"})
    head = "tmpSize: 128m\n#"
    exact = head + "x" * (MIB - len(head) - 1) + "\n"
    assert len(exact.encode()) == MIB
    write(daemon.tmp, "exact.yaml", exact)
    assert ok(cli("config", "set", "-f", "exact.yaml")) == "tmpSize: 128m\n"
    assert get(client, GLOBAL) == {"tmpSize": "128m"}

    over = "tmpSize: 256m\n#" + "x" * (MIB - len(head)) + "\n"
    assert len(over.encode()) == MIB + 1
    write(daemon.tmp, "over.yaml", over)
    err = check_refused_file(cli, client, ("config", "set"), None, name="over.yaml",
                             before={"tmpSize": "128m"})
    assert err == "volman: over.yaml is larger than 1 MiB\n", err
    err = check_refused_file(cli, client, ("app", "config", "set") + APP,
                             "tmpSize: 256m\n" + "#" * (3 * MIB) + "\n",
                             path=app_path("acme", "prod", "orders"), before={})
    assert err == "volman: stdin is larger than 1 MiB\n", err


def test_top_level_must_be_one_mapping(cli, client):
    """The top level must be a mapping, in one document; an empty file (or only
    comments) is refused with a hint; a single document with `---` is fine."""
    before = {"tmpSize": "64m"}
    put(client, GLOBAL, before)
    mapping = "volman: stdin: the top level must be a mapping of fields (writeableVolumes: ..., " \
        "tmpSize: ...)\n"
    empty = "volman: stdin: no config in it (write {} to set an empty layer)\n"
    for text, msg in [("- /var/lib/state\n- /data\n", mapping),
                      ("", empty),
                      ("# nothing but a comment\n\n", empty),
                      ("---\ntmpSize: 1m\n--- {}\n",
                       "volman: stdin: more than one YAML document ('---')\n")]:
        err = check_refused_file(cli, client, ("config", "set"), text, before=before)
        assert err == msg, (text, err)
    # nothing on stdin at all (it is /dev/null)
    fails(cli("config", "set", "-f", "-"), EXIT_INVALID, empty)
    assert get(client, GLOBAL) == before

    assert ok(cli("config", "set", "-f", "-", input="---\ntmpSize: 1m\n...\n")) == \
        "tmpSize: 1m\n"
    assert get(client, GLOBAL) == {"tmpSize": "1m"}


def test_tags_and_aliases_refused(cli, client):
    """!!str makes a string; any other tag is refused with its line and column.
    An alias is refused (so a small file cannot expand into a huge one)."""
    put(client, GLOBAL, {"tmpSize": "64m"})
    # the anchor itself is refused, at its own line, before any alias
    check_refused_file(cli, client, ("config", "set"), "tmpSize: &size 64m\nvolumeSize: *size\n",
                       "volman: stdin: line 1, column ",
                       ": anchors and aliases are not supported\n", before={"tmpSize": "64m"})
    check_refused_file(cli, client, ("config", "set"),
                       "writeableVolumes: &paths [/a]\nx: &list [*paths, *paths]\n",
                       ": anchors and aliases are not supported\n", before={"tmpSize": "64m"})
    err = check_refused_file(cli, client, ("config", "set"),
                             "networkMode: none\ntmpSize: !!int 512\n", before={"tmpSize": "64m"})
    assert err == "volman: stdin: line 2, column 10: the tag !!int is not supported (only " \
        "!!str)\n", err
    err = check_refused_file(cli, client, ("config", "set"), "readOnlyRootfs: !!bool true\n",
                             before={"tmpSize": "64m"})
    assert err == "volman: stdin: line 1, column 17: the tag !!bool is not supported (only " \
        "!!str)\n", err
    err = check_refused_file(cli, client, ("config", "set"), "writeableVolumes:\n  - !path /a\n",
                             before={"tmpSize": "64m"})
    assert err == "volman: stdin: line 2, column 5: the tag !path is not supported (only " \
        "!!str)\n", err
    assert json.loads(ok(cli("--json", "config", "set", "-f", "-",
                             input="tmpSize: !!str 512\nnetworkMode: !!str none\n"))) == \
        {"tmpSize": "512", "networkMode": "none"}
    # !!str and nothing else is the empty string, not null: the daemon refuses it
    fails(cli("config", "set", "-f", "-", input="tmpSize: !!str\n"), EXIT_INVALID,
          "volman: setting the global config: tmpSize must be a non-empty string")
    assert get(client, GLOBAL) == {"tmpSize": "512", "networkMode": "none"}


def test_anchor_refused(cli, client):
    """docs/cli.md: "Anchors and aliases ... are refused" (and configfile.h:
    "Anchors, aliases and other tags are refused"): an anchor is refused even
    when no alias uses it."""
    before = {"tmpSize": "64m"}
    put(client, GLOBAL, before)
    check_refused_file(cli, client, ("config", "set"), "tmpSize: &size 128m\n",
                       "volman: stdin: ", before=before)
    check_refused_file(cli, client, ("config", "set"), "writeableVolumes: &paths [/a]\n",
                       "volman: stdin: ", before=before)


def test_values_the_reader_refuses(cli, client):
    """A NUL in a key or a value, a key that is not a string, nesting deeper
    than 32: refused before anything is sent."""
    before = {"tmpSize": "64m"}
    put(client, GLOBAL, before)
    check_refused_file(cli, client, ("config", "set"), 'tmpSize: "64\\0m"\n',
                       "volman: stdin: line 1, column ", ": a value contains a NUL character\n",
                       before=before)
    check_refused_file(cli, client, ("config", "set"), '"tmp\\0Size": 64m\n',
                       "volman: stdin: line 1, column ", ": a key contains a NUL character\n",
                       before=before)
    check_refused_file(cli, client, ("config", "set"), "? [a, b]\n: 64m\n",
                       "volman: stdin: ", ": a key must be a string\n", before=before)
    deep = "writeableVolumes: " + "[" * 40 + "/a" + "]" * 40 + "\n"
    check_refused_file(cli, client, ("config", "set"), deep, "volman: stdin: ",
                       ": nested too deeply\n", before=before)
    # 32 levels are fine for the reader (the daemon then judges the field)
    ok_depth = "writeableVolumes: " + "[" * 31 + "/a" + "]" * 31 + "\n"
    fails(cli("config", "set", "-f", "-", input=ok_depth), EXIT_INVALID,
          "volman: setting the global config: writeableVolumes[0] must be a string\n")
    assert get(client, GLOBAL) == before


def test_invalid_utf8_refused(cli, client):
    """A file that is not UTF-8 is not valid YAML: refused before anything is
    sent (docs/cli.md), wherever the bad byte is; never read as a shorter file."""
    before = {"tmpSize": "64m", "networkMode": "none"}
    put(client, GLOBAL, before)
    check_refused_file(cli, client, ("config", "set"), b"tmpSize: 1m\nnetworkMode: n\xffne\n",
                       "volman: stdin: line 2, column 15: not valid UTF-8 (byte 0xff)", before=before)
    check_refused_file(cli, client, ("config", "set"), b'tmpSize: "1\xc3m"\n',
                       "volman: stdin: line 1, column 12: not valid UTF-8 (byte 0xc3)", before=before)
    # a bad byte at the start of a value: must not end the file there and send
    # {"networkMode": null} (which would empty the layer)
    check_refused_file(cli, client, ("config", "set"),
                       b"networkMode: \xff\ntmpSize: 128m\nwriteableVolumes: [/a]\n",
                       "volman: stdin: ", before=before)
    check_refused_file(cli, client, ("config", "set"), b"tmpSize: \xc3\n",
                       "volman: stdin: ", before=before)


# --- resolve --------------------------------------------------------------------------

def listing(text):
    """The fields of a printed layer, {key: value as printed} in order; a
    list's items are joined with newlines."""
    fields, key = {}, None
    for line in text.splitlines():
        if line.startswith("  - "):
            fields[key] += ("\n" if fields[key] else "") + line[4:]
        else:
            key, colon, value = line.partition(":")
            assert colon and key and not key.startswith(" "), (line, text)
            fields[key] = value.strip()
    return fields


def check_resolved(out, rest, fields, volumes):
    """What resolve prints for people: the merged config's fields in the
    daemon's order except writeableVolumes (fields maps the ones this test
    knows to their printed values; fields the daemon adds are only checked to
    be there), a blank line, then the table of paths and names."""
    text, blank, tail = out.partition("\n\n")
    assert blank, out
    got = listing(text)
    assert list(got) == [k for k in rest["config"] if k != "writeableVolumes"], out
    assert {k: got[k] for k in fields} == fields, out
    if volumes:
        assert tail == table([["PATH", "VOLUME NAME"]] + [list(v) for v in volumes]), out
    else:
        assert tail == "no writeable volumes\n", out
    assert rest["volumes"] == [{"path": p, "name": n} for p, n in volumes]


def test_resolve_merges_layers_and_names_volumes(cli, client):
    """resolve prints the merge (the most specific layer wins, then the
    defaults, null where there is none), then each writeable path's volume
    name, derived per docs/names.md, before anything exists; --json is the
    daemon's answer. A merge the daemon cannot use is refused (exit 6)."""
    def resolve(tenant, env, app):
        out = ok(cli("app", "config", "resolve", "--tenant", tenant, "--env", env, "--app", app))
        return out, get(client, resolved_path(tenant, env, app))

    # no layer at all: the defaults
    out, rest = resolve("acme", "prod", "orders")
    check_resolved(out, rest, {"readOnlyRootfs": "true", "tmpSize": "256m",
                               "volumeDriver": "local", "volumeSize": "null",
                               "networkMode": "null"}, [])
    assert out.startswith("readOnlyRootfs: true\ntmpSize: 256m\nvolumeDriver: local\n"
                          "volumeSize: null\nnetworkMode: null\n"), out

    ok(cli("config", "set", "-f", "-",
           input="readOnlyRootfs: false\ntmpSize: 512m\nnetworkMode: bridge\n"))
    ok(cli("app", "config", "set", "--tenant", "acme", "--env", "prod", "-f", "-",
           input="writeableVolumes: [/data]\nvolumeDriver: tmpfs\nvolumeSize: 64m\n"))
    ok(cli("app", "config", "set", *APP, "-f", "-",
           input="writeableVolumes:\n  - /var/lib/state\n  - /var/lib/kafka-streams\n"
                 "  - /my_data\nreadOnlyRootfs: true\nnetworkMode: none\n"))
    orders_volumes = [("/var/lib/state", "volman-acme-prod-orders-var-lib-state"),
                      ("/var/lib/kafka-streams", "volman-acme-prod-orders-var-lib-kafka--streams"),
                      ("/my_data", "volman-acme-prod-orders-my_5fdata")]
    out, rest = resolve("acme", "prod", "orders")
    check_resolved(out, rest, {"readOnlyRootfs": "true", "tmpSize": "512m",
                               "volumeDriver": "tmpfs", "volumeSize": "64m",
                               "networkMode": "none"}, orders_volumes)
    assert (rest["tenant"], rest["env"], rest["app"]) == ("acme", "prod", "orders")
    assert rest["config"]["writeableVolumes"] == [p for p, _ in orders_volumes]
    assert ok(cli("app", "config", "resolve", *APP, "--json")) == pretty(rest)

    # another app of the env inherits the env layer's path, with its own name
    out, rest = resolve("acme", "prod", "billing")
    check_resolved(out, rest, {"readOnlyRootfs": "false", "tmpSize": "512m",
                               "volumeDriver": "tmpfs", "volumeSize": "64m",
                               "networkMode": "bridge"},
                   [("/data", "volman-acme-prod-billing-data")])

    # writeableVolumes: [] overrides the env layer's list
    ok(cli("app", "config", "set", *APP, "-f", "-", input="writeableVolumes: []\n"))
    out, rest = resolve("acme", "prod", "orders")
    check_resolved(out, rest, {"readOnlyRootfs": "false", "tmpSize": "512m",
                               "volumeDriver": "tmpfs"}, [])
    assert json.loads(ok(cli("--json", "app", "config", "resolve", *APP)))["volumes"] == []
    # resolving creates nothing
    assert client.names() == []

    # a merge the daemon cannot use (a size with the local driver), or a bad
    # name, is refused with exit 6
    ok(cli("app", "config", "set", "--tenant", "globex", "--env", "dev", "-f", "-",
           input="volumeSize: 64m\n"))
    fails(cli("app", "config", "resolve", "--tenant", "globex", "--env", "dev", "--app", "web"),
          EXIT_INVALID, "volman: resolving the config of globex/dev/web: volumeSize 64m needs "
                        "a driver that enforces a size limit")
    fails(cli("app", "config", "resolve", "--tenant", "globex", "--env", "dev", "--app", "Web"),
          EXIT_INVALID, "volman: resolving the config of globex/dev/Web: app may hold only")


# --- app ls ---------------------------------------------------------------------------

def test_app_ls(cli, client):
    """Lists the apps with an app layer (not those with only an env layer),
    --tenant keeps one tenant's, --json is the daemon's array."""
    header = ["TENANT", "ENV", "APP", "CONFIG", "GENERATION", "CONTAINER", "IMAGE"]
    assert ok(cli("app", "ls")) == table([header])
    assert ok(cli("app", "ls", "--json")) == "[]\n"

    for t, e, a in [("acme", "prod", "orders"), ("acme", "dev", "web"),
                    ("globex", "prod", "orders")]:
        put(client, app_path(t, e, a), {"tmpSize": "64m"})
    put(client, env_path("initech", "prod"), {"tmpSize": "64m"})

    listed = get(client, "/v1/apps")["apps"]
    assert sorted((x["tenant"], x["env"], x["app"]) for x in listed) == \
        [("acme", "dev", "web"), ("acme", "prod", "orders"), ("globex", "prod", "orders")]
    rows = [[x["tenant"], x["env"], x["app"], "yes", "-", "-", "-"] for x in listed]
    assert ok(cli("app", "ls")) == table([header] + rows)
    assert ok(cli("app", "list")) == table([header] + rows)
    assert ok(cli("--json", "app", "ls")) == pretty(listed)
    assert all(x["config"] is True and x["deployed"] is None for x in listed)

    acme = get(client, "/v1/apps?tenant=acme")["apps"]
    assert sorted((x["env"], x["app"]) for x in acme) == [("dev", "web"), ("prod", "orders")]
    assert ok(cli("app", "ls", "--tenant", "acme")) == \
        table([header] + [["acme", x["env"], x["app"], "yes", "-", "-", "-"] for x in acme])
    assert ok(cli("app", "ls", "--tenant", "initech")) == table([header])
    # the tenant is percent-encoded: the daemon gets "acme&x=1" whole and
    # refuses it, instead of listing tenant acme
    fails(cli("app", "ls", "--tenant", "acme&x=1"), EXIT_INVALID,
          "volman: listing apps: tenant may hold only")


# --- app rm ---------------------------------------------------------------------------

def test_app_rm_removes_volumes_and_config(cli, client, daemon):
    """rm removes exactly the app's scoped volumes (and their data) and its app
    layer; other apps, envs, tenants, unscoped volumes and the env and global
    layers stay. A second rm removes nothing and exits 0."""
    put(client, GLOBAL, {"tmpSize": "512m"})
    put(client, env_path("acme", "prod"), {"volumeDriver": "local"})
    put(client, app_path("acme", "prod", "orders"),
        {"writeableVolumes": ["/var/lib/state", "/var/cache/orders"]})
    put(client, app_path("acme", "prod", "billing"), {"writeableVolumes": ["/var/lib/state"]})
    names = {}
    for t, e, a, p in [("acme", "prod", "orders", "/var/lib/state"),
                       ("acme", "prod", "orders", "/var/cache/orders"),
                       ("acme", "prod", "billing", "/var/lib/state"),
                       ("acme", "staging", "orders", "/var/lib/state"),
                       ("globex", "prod", "orders", "/var/lib/state")]:
        st, v = client.create(scope={"tenant": t, "env": e, "app": a, "path": p})
        assert st in (200, 201), (st, v)
        names[(t, e, a, p)] = v["name"]
    assert names[("acme", "prod", "orders", "/var/lib/state")] == \
        "volman-acme-prod-orders-var-lib-state"
    st, v = client.create("web-data")
    assert st in (200, 201), (st, v)
    mine = sorted(n for k, n in names.items() if k[:3] == ("acme", "prod", "orders"))
    assert mine == ["volman-acme-prod-orders-var-cache-orders",
                    "volman-acme-prod-orders-var-lib-state"]
    mountpoints = []
    for n in mine:
        st, vol = client.inspect(n)
        assert st == 200
        mountpoints.append(vol["mountpoint"])
        write(vol["mountpoint"], "state.txt", "kept across deploys\n")

    out = ok(cli("app", "rm", *APP))
    assert out == "acme/prod/orders: removed 0 containers, 2 volumes, the app config\n", out

    rest = sorted(set(names.values()) - set(mine)) + ["web-data"]
    assert client.names() == sorted(rest)
    assert sorted(ok(cli("volume", "ls", "-q")).split()) == sorted(rest)
    assert ok(cli("volume", "ls", "-q", "-f", "tenant=acme", "-f", "app=orders")).split() == \
        ["volman-acme-staging-orders-var-lib-state"]
    removed_data_gone(client, mountpoints)
    for n in mine:
        assert client.inspect(n)[0] == 404
    assert get(client, app_path("acme", "prod", "orders")) == {}
    assert get(client, app_path("acme", "prod", "billing")) == \
        {"writeableVolumes": ["/var/lib/state"]}
    assert get(client, env_path("acme", "prod")) == {"volumeDriver": "local"}
    assert get(client, GLOBAL) == {"tmpSize": "512m"}
    assert [(x["tenant"], x["env"], x["app"]) for x in get(client, "/v1/apps")["apps"]] == \
        [("acme", "prod", "billing")]

    # already gone: nothing removed, exit 0
    assert ok(cli("app", "rm", *APP)) == \
        "acme/prod/orders: removed 0 containers, 0 volumes, no app config\n"
    assert ok(cli("--json", "app", "remove", *APP)) == \
        pretty({"removed": {"containers": 0, "volumes": 0, "config": False}})
    assert client.names() == sorted(rest)

    # --json, and an app with only volumes (no layer)
    out = ok(cli("app", "rm", "--tenant", "globex", "--env", "prod", "--app", "orders", "--json"))
    assert out == pretty({"removed": {"containers": 0, "volumes": 1, "config": False}})
    assert "volman-globex-prod-orders-var-lib-state" not in client.names()


def test_app_rm_in_use_then_finished(cli, client):
    """A volume with a mount reference stops the removal (exit 5, the daemon's
    message, the app layer kept); once unmounted, rm again finishes it."""
    ok(cli("app", "config", "set", *APP, "-f", "-",
           input="writeableVolumes: [/var/lib/state]\n"))
    name = ok(cli("volume", "create", "--tenant", "acme", "--env", "prod", "--app", "orders",
                  "--path", "/var/lib/state")).strip()
    assert name == "volman-acme-prod-orders-var-lib-state"
    st, _ = client.mount(name, "c0ffee")
    assert st == 200
    fails(cli("app", "rm", *APP), EXIT_CONFLICT,
          "volman: removing app acme/prod/orders: ", "volume %s is in use" % name)
    assert client.names() == [name]
    assert get(client, app_path("acme", "prod", "orders")) == \
        {"writeableVolumes": ["/var/lib/state"]}
    st, _ = client.unmount(name, "c0ffee")
    assert st == 200
    assert ok(cli("app", "rm", *APP)) == \
        "acme/prod/orders: removed 0 containers, 1 volume, the app config\n"
    assert client.names() == []
    assert get(client, app_path("acme", "prod", "orders")) == {}
    # a name the daemon refuses
    fails(cli("app", "rm", "--tenant", "acme", "--env", "prod", "--app", "Orders"),
          EXIT_INVALID, "volman: removing app acme/prod/Orders: app may hold only")


# --- deploy without an engine ---------------------------------------------------------------

def test_deploy_needs_an_engine(cli, client):
    """volmand without --engine refuses every deploy: exit 6, a message saying
    deploys need an engine, and nothing created or recorded. The image, the
    command after -- (flags included) and the strategy are sent as given."""
    ok(cli("app", "config", "set", *APP, "-f", "-",
           input="writeableVolumes: [/var/lib/state]\n"))
    for extra in [(),
                  ("--", "nginx", "-g", "daemon off;"), ("--json",)]:
        err = fails(cli("app", "deploy", *APP, "--image", "nginx:1.27", *extra), EXIT_INVALID,
                    "volman: deploying acme/prod/orders: ", "--engine", "deploys need")
        assert err.count("\n") == 1, err
    assert client.names() == []
    listed = get(client, "/v1/apps")["apps"]
    assert listed == [{"tenant": "acme", "env": "prod", "app": "orders", "config": True,
                       "deployed": None}]
    assert get(client, app_path("acme", "prod", "orders")) == \
        {"writeableVolumes": ["/var/lib/state"]}

    # The body reaches the daemon as documented: it checks the image and the
    # command before it looks for an engine, so its refusals show what was sent.
    fails(cli("app", "deploy", *APP, "--image", "bad image"), EXIT_INVALID,
          "volman: deploying acme/prod/orders: image has a space or a control character\n")
    # everything after -- is the command, flags included: argument 2 is the long one
    long_arg = "y" * 4097
    fails(cli("app", "deploy", *APP, "--image", "i", "--strategy", "blue-green", "--",
              "sh", "--tenant", long_arg), EXIT_INVALID,
          "volman: deploying acme/prod/orders: command argument 2 is longer than 4096 bytes\n")
    # a "--" after --image's value "--" ends the options: the image is "--"
    fails(cli("app", "deploy", *APP, "--image", "--", "--", "sh", "--tenant", long_arg),
          EXIT_INVALID, "command argument 2 is longer than 4096 bytes\n")
    # names are checked by the daemon (percent-encoded whole)
    fails(cli("app", "deploy", "--tenant", "acme", "--env", "prod/x", "--app", "orders",
              "--image", "i"), EXIT_INVALID,
          "volman: deploying acme/prod/x/orders: env may hold only")
    assert client.names() == []
    assert get(client, "/v1/apps")["apps"] == listed
