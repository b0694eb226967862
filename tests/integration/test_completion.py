"""The bash and zsh completions (dist/completion/): they load without errors,
complete every command, subcommand and flag volman's help lists, and
volume, driver, app and token names from a running volmand."""

import os
import shlex
import shutil
import subprocess

import pytest

from conftest import REPO, VOLMAN, require_binaries
from test_cli_help import every_command

BASH = os.path.join(REPO, "dist", "completion", "volman.bash")
ZSH = os.path.join(REPO, "dist", "completion", "_volman")


def need(prog):
    if not shutil.which(prog):
        pytest.fail("%s is not installed (scripts/deps.sh installs it)" % prog, pytrace=False)


def run_batch(shell, queries):
    """What `shell` completion offers for the last word of each query (a
    tuple of words after `volman`), all in one shell, so volman's help is
    asked once per command as in an interactive shell."""
    need(shell)
    if shell == "bash":
        body = ('source "$1"; shift; while IFS= read -r line; do eval "q=($line)"; COMP_WORDS=("$@" "${q[@]}"); '
                'COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMPREPLY=(); _volman; '
                'printf "%s\\n" "${COMPREPLY[@]}"; echo "--end--"; done')
        argv = ["bash", "--norc", "--noprofile", "-c", body, "bash", BASH, VOLMAN]
    else:
        body = ('source "$1"; shift; local line; while IFS= read -r line; do local -a q; q=("${(@Q)${(z)line}}"); '
                '_volman_candidates "$@" "${q[@]}"; print -r -- "--end--"; done')
        argv = ["zsh", "-f", "-c", "function batch { %s }; batch \"$@\"" % body, "zsh", ZSH, VOLMAN]
    text = "".join(" ".join(shlex.quote(w) for w in q) + "\n" for q in queries)
    # The shells run volman's --help once per command: what is tested here is
    # the completion scripts, and test_cli_help runs every command's help
    # with the leak checker on; its pass at each exit doubled this test's time.
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = ":".join([o for o in env.get("ASAN_OPTIONS", "").split(":")
                                    if o and not o.startswith("detect_leaks=")] + ["detect_leaks=0"])
    p = subprocess.run(argv, input=text, capture_output=True, text=True, timeout=600, env=env)
    assert p.returncode == 0 and not p.stderr, p.stderr
    out, cur = [], []
    for l in p.stdout.splitlines():
        if l == "--end--":
            out.append(cur)
            cur = []
        elif l:
            cur.append(l)
    assert len(out) == len(queries), (len(out), len(queries), p.stdout[-500:])
    return out


def test_they_load_without_errors(tmp_path):
    need("bash")
    p = subprocess.run(["bash", "--norc", "--noprofile", "-c", 'source "$1" && complete -p volman', "bash", BASH],
                       capture_output=True, text=True)
    assert p.returncode == 0 and not p.stderr and p.stdout.strip() == "complete -F _volman volman", p
    need("zsh")
    # as zsh's completion system loads it: from $fpath, by compinit
    p = subprocess.run(["zsh", "-f", "-c", 'fpath=("$1" $fpath); autoload -Uz compinit; compinit -u -d "$2"; '
                        'print -r -- $_comps[volman]; autoload -Uz +X _volman && print loaded',
                        "zsh", os.path.dirname(ZSH), str(tmp_path / "zcompdump")],
                       capture_output=True, text=True)
    assert p.returncode == 0 and not p.stderr and p.stdout.split() == ["_volman", "loaded"], p


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_every_command_and_flag(shell):
    require_binaries(VOLMAN)
    commands = every_command()
    queries = []
    for path, *_ in commands:
        queries += [path + ("",), path + ("-",)]
    answers = run_batch(shell, queries)
    for i, (path, rc, out, _) in enumerate(commands):
        subs = [p[-1] for p, *_ in commands if len(p) == len(path) + 1 and p[:-1] == path]
        offered, flags = answers[2 * i], set(answers[2 * i + 1])
        assert set(subs) <= set(offered), (path, subs, offered)
        # every long flag the help's option lines name is offered
        for line in out.splitlines():
            if line.startswith("  ") and line.lstrip().startswith("-"):
                head = line.strip().split("  ")[0]
                for w in head.replace(",", " ").split():
                    if w.startswith("--") and len(w) > 2:
                        assert w in flags, (path, w, sorted(flags))
        assert {"--json", "--socket", "--help"} <= flags, (path, flags)


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_names_from_the_daemon(daemon, client, shell):
    assert client.create("web-data")[0] == 201
    assert client.create("scratch", driver="tmpfs", options={"size": "1m"})[0] == 201
    assert client.create(scope={"tenant": "acme", "env": "prod", "app": "orders", "path": "/d"})[0] == 201
    s = ("--socket", daemon.socket)
    queries = {
        "commands": s + ("",),
        "rm": s + ("volume", "rm", ""),
        "inspect 2nd": s + ("volume", "inspect", "web-data", ""),
        "snapshot": s + ("volume", "snapshot", "create", ""),
        "snapshot name": s + ("volume", "snapshot", "create", "web-data", ""),
        "driver": s + ("volume", "create", "-d", ""),
        "filter": s + ("volume", "ls", "--filter", ""),
        "strategy": s + ("app", "deploy", "--strategy", ""),
        "no daemon": ("--socket", "/nonexistent.sock", "volume", "rm", ""),
    }
    got = dict(zip(queries, run_batch(shell, list(queries.values()))))
    assert "volume" in got["commands"] and "doctor" in got["commands"], got
    assert {"web-data", "scratch"} <= set(got["rm"]), got
    assert "web-data" in got["inspect 2nd"]  # several names
    assert "web-data" in got["snapshot"]
    assert "web-data" not in got["snapshot name"]  # then a new name
    assert {"local", "tmpfs"} <= set(got["driver"]), got
    assert "driver=tmpfs" in got["filter"]
    assert got["strategy"] == ["recreate", "blue-green"]
    assert got["no daemon"] == []  # nothing offered, no error


def test_app_and_token_names(make_daemon, tmp_path):
    d = make_daemon()
    c = d.client()
    st, body = c.request("PUT", "/v1/tenants/acme/envs/prod/apps/orders/config", body={"writeableVolumes": ["/d"]})
    assert st == 200, body
    st, tok = c.post("/v1/tokens", {"tenant": "acme", "name": "ci"})
    assert st == 201, tok
    s = ("--socket", d.socket)
    queries = [s + ("app", "rm", "--tenant", ""), s + ("app", "rm", "--env", ""),
               s + ("app", "config", "get", "--app", ""), s + ("token", "rm", "")]
    for shell in ("bash", "zsh"):
        assert run_batch(shell, queries) == [["acme"], ["prod"], ["orders"], [tok["id"]]], shell
