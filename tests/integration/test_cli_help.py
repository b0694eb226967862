"""`--help` on every command and subcommand of volman (found by walking the
help itself, so a new command is covered the day it is added) and of
volmand: exit 0, the usage on stdout, an example, and no daemon needed."""

import functools
import re
import subprocess

from conftest import VOLMAN, VOLMAND, base_env, require_binaries


def help_of(binary, *words):
    p = subprocess.run([binary] + list(words) + ["--help"], capture_output=True, text=True, timeout=30,
                       env=base_env({"VOLMAN_SOCKET": "/nonexistent/volman.sock"}), stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout, p.stderr


def subcommands(text):
    """The names listed under "Commands:" (an alias after a comma too)."""
    out, on = [], False
    for line in text.splitlines():
        if line.startswith("Commands:"):
            on = True
            continue
        if on and line and not line.startswith(" "):
            on = False
        if on and line.strip():
            m = re.match(r"^\s+([a-z-]+)(?:, ([a-z-]+))?\s", line)
            assert m, line
            out += [g for g in m.groups() if g]
    return out


@functools.lru_cache(maxsize=1)
def _walk():
    todo, seen = [()], []
    while todo:
        path = todo.pop()
        rc, out, err = help_of(VOLMAN, *path)
        seen.append((path, rc, out, err))
        todo += [path + (c,) for c in subcommands(out)]
    return tuple(seen)


def every_command():
    """Every command path, depth first, with its help text (walked once per
    run: the completion tests ask for it too)."""
    require_binaries(VOLMAN)
    return list(_walk())


def test_every_command_has_help_with_an_example():
    commands = every_command()
    paths = {" ".join(p) for p, *_ in commands}
    # the walk found the groups, their subcommands and the aliases
    for p in ("volume create", "volume ls", "volume list", "volume snapshot restore", "app config resolve",
              "config set", "token rm", "driver ls", "health", "version", "doctor"):
        assert p in paths, sorted(paths)
    bad = []
    for path, rc, out, err in commands:
        name = " ".join(("volman",) + path)
        # (an alias prints its command's usage: `volume list` that of `volume ls`)
        if rc != 0 or err or not out.startswith("Usage: " + " ".join(("volman",) + path[:-1])) or "Example" not in out:
            bad.append((name, rc, out[-300:], err))
        # each example runs the command it documents
        ex = out[out.find("Example"):]
        if "Example" in out and not re.search(r"^\s+volman\b", ex, re.M):
            bad.append((name, "example does not show a volman command", ex))
    assert not bad, bad


def test_help_flag_forms():
    rc, out, _ = help_of(VOLMAN)
    assert rc == 0 and "doctor" in out
    p = subprocess.run([VOLMAN, "volume", "create", "-h"], capture_output=True, text=True)
    assert p.returncode == 0 and "Example:" in p.stdout


def test_volmand_help_has_every_flag_and_an_example():
    require_binaries(VOLMAND)
    rc, out, err = help_of(VOLMAND)
    assert rc == 0 and not err, err
    assert out.startswith("Usage: volmand") and "Example:" in out and "\n  volmand --" in out
    for flag in ("--config", "--print-config", "--log-level", "--log-format", "--root", "--socket",
                 "--plugin-socket", "--btrfs-root", "--listen"):
        assert flag in out, flag
