"""`meson install` (docs/operations.md): the programs, the systemd unit, the
tmpfiles.d entry, the man pages, the completions and the example
configuration go in the usual places under --prefix, into DESTDIR, and
nowhere else; the unit passes `systemd-analyze verify`; the man pages render
without a warning."""

import os
import re
import subprocess

import pytest

from conftest import MAN_PAGES, REPO, need, run


def installed(root):
    out = set()
    for d, _, files in os.walk(root):
        for f in files:
            out.add(os.path.relpath(os.path.join(d, f), root))
    return out


@pytest.fixture(scope="module")
def opt_install(tmp_path_factory):
    """A build with --prefix=/opt/volman and every other folder left to
    meson's defaults, installed with DESTDIR."""
    need("meson", "meson")
    d = tmp_path_factory.mktemp("prefix")
    build, dest = d / "build", d / "dest"
    p = run(["meson", "setup", str(build), "--prefix=/opt/volman", "--buildtype=release", "-Db_sanitize=none"],
            cwd=REPO)
    assert p.returncode == 0, p.stdout + p.stderr
    targets = ["volmand", "cli/volman", "con-init/con-init"] + ["man/" + os.path.basename(m) for m in MAN_PAGES]
    p = run(["ninja", "-C", str(build)] + targets)
    assert p.returncode == 0, p.stdout + p.stderr
    p = run(["meson", "install", "-C", str(build), "--no-rebuild", "--quiet"],
            env=dict(os.environ, DESTDIR=str(dest)))
    assert p.returncode == 0, p.stdout + p.stderr
    return str(dest)


def test_prefix_and_destdir_are_honoured(opt_install):
    files = installed(opt_install)
    want = {"opt/volman/sbin/volmand", "opt/volman/bin/volman",
            "opt/volman/lib/systemd/system/volmand.service", "opt/volman/lib/tmpfiles.d/volman.conf",
            "opt/volman/share/bash-completion/completions/volman", "opt/volman/share/zsh/site-functions/_volman",
            "opt/volman/share/doc/volman/examples/volmand.conf.example", "opt/volman/libexec/volman/con-init"}
    want |= {"opt/volman/share/man/" + m for m in MAN_PAGES}
    assert want <= files, sorted(want - files)
    assert not [f for f in files if not f.startswith("opt/volman/")], files  # nothing outside the prefix
    assert not [f for f in files if "/tests/" in f or "bench" in f or "lazyfs" in f], files
    unit = open(os.path.join(opt_install, "opt/volman/lib/systemd/system/volmand.service")).read()
    assert "\nExecStart=/opt/volman/sbin/volmand\n" in unit and "@" not in unit.split("[Unit]")[1], unit
    # the programs look for the configuration file under the prefix
    p = run([os.path.join(opt_install, "opt/volman/sbin/volmand"), "--print-config"])
    assert p.returncode == 0 and "configuration file: /opt/volman/etc/volman/volmand.conf" in p.stdout, p
    # ... and con-init, which deploys mount into /con containers, where it is installed
    assert "con-init = /opt/volman/libexec/volman/con-init " in p.stdout, p.stdout
    assert open(os.path.join(opt_install, "opt/volman/share/doc/volman/examples/volmand.conf.example")).read() == \
        open(os.path.join(REPO, "dist/volmand.conf.example")).read()


def test_package_layout(deb, tmp_path):
    """The package's build (prefix /usr, Debian's folders) installs where Debian looks."""
    build, _ = deb
    dest = tmp_path / "dest"
    p = run(["meson", "install", "-C", build, "--no-rebuild", "--quiet"], env=dict(os.environ, DESTDIR=str(dest)))
    assert p.returncode == 0, p.stdout + p.stderr
    files = installed(str(dest))
    want = {"usr/sbin/volmand", "usr/bin/volman", "lib/systemd/system/volmand.service",
            "usr/lib/tmpfiles.d/volman.conf", "usr/share/bash-completion/completions/volman",
            "usr/share/zsh/vendor-completions/_volman", "usr/share/doc/volman/examples/volmand.conf.example",
            "usr/libexec/volman/con-init"}
    want |= {"usr/share/man/" + m for m in MAN_PAGES}
    assert want <= files, sorted(want - files)


def test_units_verify(opt_install, tmp_path):
    """systemd-analyze verify: the unit as installed, its ExecStart pointed at
    the DESTDIR copy (it must exist) and its man page found in DESTDIR."""
    need("systemd-analyze", "systemd")
    src = os.path.join(opt_install, "opt/volman/lib/systemd/system/volmand.service")
    unit = tmp_path / "volmand.service"
    unit.write_text(open(src).read().replace("ExecStart=/opt/volman/sbin/volmand",
                                             "ExecStart=" + os.path.join(opt_install, "opt/volman/sbin/volmand")))
    p = run(["systemd-analyze", "verify", str(unit)],
            env=dict(os.environ, MANPATH=os.path.join(opt_install, "opt/volman/share/man")))
    assert p.returncode == 0 and not p.stdout.strip() and not p.stderr.strip(), p
    # and the verification is not toothless: a broken directive is reported
    unit.write_text(unit.read_text().replace("Type=notify", "Type=notifyy"))
    p = run(["systemd-analyze", "verify", str(unit)],
            env=dict(os.environ, MANPATH=os.path.join(opt_install, "opt/volman/share/man")))
    assert "notifyy" in p.stderr, p


def test_unit_contract():
    """What docs/operations.md promises of the unit."""
    unit = open(os.path.join(REPO, "dist", "volmand.service.in")).read()
    for line in ("Type=notify", "NotifyAccess=main", "Before=docker.service podman.service", "Restart=on-failure",
                 "WatchdogSec=30s", "ExecStart=@sbindir@/volmand", "RestartPreventExitStatus=2"):
        assert "\n" + line + "\n" in unit, line
    # every hardening directive kept has a comment, every one left out is named
    for left_out in ("ProtectSystem", "PrivateTmp", "PrivateDevices", "ProtectClock", "RestrictSUIDSGID",
                     "SystemCallFilter", "PrivateUsers"):
        assert re.search(r"^#.*\b%s\b" % left_out, unit, re.M) and not re.search(r"^%s=" % left_out, unit, re.M)


def test_tmpfiles_entry(tmp_path):
    need("systemd-tmpfiles", "systemd")
    p = run(["systemd-tmpfiles", "--create", "--root", str(tmp_path), os.path.join(REPO, "dist", "volman.conf")])
    assert p.returncode == 0 and not p.stderr, p
    st = os.stat(tmp_path / "run" / "volman")
    assert oct(st.st_mode & 0o7777) == "0o755" and st.st_uid == 0


def test_man_pages_render_without_warnings(opt_install):
    need("man", "man-db")
    mandir = os.path.join(opt_install, "opt/volman/share/man")
    for m in MAN_PAGES:
        p = run(["man", "--warnings", "-l", os.path.join(mandir, m)], env=dict(os.environ, MANWIDTH="80"))
        assert p.returncode == 0 and p.stderr == "", (m, p.stderr)
        assert "NAME" in p.stdout and "SEE ALSO" in p.stdout, m
    # volman(1) covers the commands without a page of their own
    p = run(["man", "-l", os.path.join(mandir, "man1/volman.1")], env=dict(os.environ, MANWIDTH="80"))
    for cmd in ("health", "version", "volume", "app", "config", "token", "driver", "doctor"):
        assert re.search(r"^\s+%s\b" % cmd, p.stdout, re.M), cmd
