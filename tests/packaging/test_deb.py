"""The .deb (scripts/deb.sh), installed on this machine for real: `dpkg -i`,
the installed volmand run under a temporary root and socket, `dpkg -r`
(the data and the conffile stay), `dpkg -P` (they go, without a question).

It touches the host's /etc/volman, /var/lib/volman and the unit's symlinks,
so it refuses to run (it fails, saying why) where they hold something of
someone's: the volman package already installed, or a /var/lib/volman with
content. An empty /var/lib/volman is put back as it was."""

import os
import signal
import subprocess
import time

import pytest

from conftest import MAN_PAGES, need, run

DATA = "/var/lib/volman"
CONF = "/etc/volman/volmand.conf"
WANTS = "/etc/systemd/system/multi-user.target.wants/volmand.service"
MASK = "/etc/systemd/system/volmand.service"
FILES = ["/usr/sbin/volmand", "/usr/bin/volman", "/lib/systemd/system/volmand.service",
         "/usr/lib/tmpfiles.d/volman.conf", "/usr/share/bash-completion/completions/volman",
         "/usr/share/zsh/vendor-completions/_volman", "/usr/share/doc/volman/copyright"] + \
    ["/usr/share/man/%s.gz" % m for m in MAN_PAGES]


def dpkg(*args):
    p = run(["dpkg"] + list(args), env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    return p


def status():
    p = run(["dpkg-query", "-W", "-f=${Status}", "volman"])
    return p.stdout.strip() if p.returncode == 0 else "not installed"


def volmand_pids(exe="/usr/sbin/volmand"):
    out = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if os.readlink("/proc/%s/exe" % pid) == exe:
                    out.append(int(pid))
            except OSError:
                pass
    return out


@pytest.fixture
def host():
    """Refuses a host where the test would harm something; afterwards
    purges the package whatever happened and puts an empty data root back."""
    if os.geteuid() != 0:
        pytest.fail("needs root: dpkg -i (run the suite as root: sudo scripts/test.sh)", pytrace=False)
    need("dpkg", "dpkg")
    if status() != "not installed":
        pytest.fail("the volman package is installed here (%s); this test installs and purges it: "
                    "remove it first (dpkg -P volman)" % status(), pytrace=False)
    had_empty = os.path.isdir(DATA)
    if had_empty and os.listdir(DATA):
        pytest.fail("%s holds data; a purge would delete it: move it away to run this test" % DATA, pytrace=False)
    if os.path.exists(CONF):
        pytest.fail("%s exists and belongs to no package: move it away to run this test" % CONF, pytrace=False)
    mode = os.stat(DATA).st_mode & 0o7777 if had_empty else None
    yield
    if status() != "not installed":
        dpkg("--purge", "volman")
    subprocess.run(["umount", "-l", os.path.join(DATA, "tmpfs", "vol")], capture_output=True)
    if had_empty and not os.path.isdir(DATA):
        os.makedirs(DATA)
        os.chmod(DATA, mode)


def test_install_run_remove_purge(deb, host, tmp_path):
    _, path = deb
    info = run(["dpkg-deb", "--field", path, "Package", "Depends"]).stdout
    assert "Package: volman" in info and "libc6" in info and "libsqlite3-0" in info, info
    # the libraries volmand dlopens, which dpkg-shlibdeps cannot see
    assert "libarchive13 (>= 3.6.2)" in info and "libgnutls30 (>= 3.7.9)" in info, info

    # ---- install: files in place, the unit enabled, nothing started ----
    before = volmand_pids()
    p = dpkg("-i", path)
    assert p.returncode == 0, p.stdout + p.stderr
    assert status() == "install ok installed"
    missing = [f for f in FILES + [CONF] if not os.path.isfile(f)]
    assert not missing, missing
    assert run(["dpkg-query", "-W", "-f=${Conffiles}", "volman"]).stdout.split()[0] == CONF
    assert os.path.islink(WANTS) and os.readlink(WANTS) == "/lib/systemd/system/volmand.service", WANTS
    time.sleep(0.5)
    assert volmand_pids() == before, "the package started volmand"
    if os.path.exists("/usr/bin/systemd-tmpfiles"):
        assert os.path.isdir("/run/volman")

    # the installed unit verifies, with its installed man page
    need("systemd-analyze", "systemd")
    p = run(["systemd-analyze", "verify", "/lib/systemd/system/volmand.service"])
    assert p.returncode == 0 and not p.stderr.strip(), p.stderr
    p = run(["man", "--warnings", "volmand"], env=dict(os.environ, MANWIDTH="80"))
    assert p.returncode == 0 and not p.stderr and "--print-config" in p.stdout, p.stderr

    # ---- the installed programs, on a temporary root and socket ----
    p = run(["/usr/sbin/volmand", "--print-config"])
    assert p.returncode == 0 and "# configuration file: %s (read)" % CONF in p.stdout, p.stdout
    sock = str(tmp_path / "volman.sock")
    log = open(tmp_path / "volmand.log", "wb")
    d = subprocess.Popen(["/usr/sbin/volmand", "--root", str(tmp_path / "root"), "--socket", sock,
                          "--plugin-socket", "none"], stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 15
        while True:
            h = run(["/usr/bin/volman", "--socket", sock, "health"])
            if h.returncode == 0 or time.monotonic() > deadline or d.poll() is not None:
                break
            time.sleep(0.1)
        assert h.returncode == 0 and h.stdout == "ok\n", (h, open(tmp_path / "volmand.log").read())
        v = run(["/usr/bin/volman", "--socket", sock, "volume", "create", "pkg-test"])
        assert v.returncode == 0 and v.stdout.strip() == "pkg-test", v
        v = run(["/usr/bin/volman", "--socket", sock, "volume", "ls", "-q"])
        assert v.stdout.split() == ["pkg-test"], v
    finally:
        d.send_signal(signal.SIGTERM)
        assert d.wait(15) == 0
        log.close()

    # what a volmand of the package would leave in its data root: a volume's
    # folder and a mounted tmpfs volume
    os.makedirs(os.path.join(DATA, "local", "vol"))
    with open(os.path.join(DATA, "local", "vol", "data"), "w") as f:
        f.write("keep me until purge")
    os.makedirs(os.path.join(DATA, "tmpfs", "vol"))
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", os.path.join(DATA, "tmpfs", "vol")], check=True)

    # ---- remove: the programs go; the data and the conffile stay ----
    p = dpkg("-r", "volman")
    assert p.returncode == 0, p.stdout + p.stderr
    assert status() == "deinstall ok config-files"
    assert not [f for f in FILES if os.path.exists(f)], [f for f in FILES if os.path.exists(f)]
    assert open(os.path.join(DATA, "local", "vol", "data")).read() == "keep me until purge"
    assert os.path.isfile(CONF)

    # ---- purge: the data root (its mounts first) and the conffile go ----
    p = dpkg("-P", "volman")
    assert p.returncode == 0, p.stdout + p.stderr
    assert status() == "not installed"
    assert not os.path.exists(DATA), os.listdir(DATA)
    assert not os.path.exists("/etc/volman")
    assert not os.path.lexists(WANTS) and not os.path.lexists(MASK)
    with open("/proc/self/mountinfo") as f:
        assert DATA not in f.read()
