"""Harness of the packaging tests: what `meson install` and scripts/deb.sh
make, installed for real (tests/packaging/test_deb.py installs the .deb with
dpkg and removes it again).

The package is built once per session, in release mode without sanitizers,
as an operator would get it. A test whose tools are missing fails, naming
the package that has them (scripts/deps.sh installs them all)."""

import os
import shutil
import subprocess

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# What meson installs (relative to the prefix) besides the two programs.
MAN_PAGES = ["man8/volmand.8", "man5/volmand.conf.5", "man1/volman.1", "man1/volman-volume.1",
             "man1/volman-app.1", "man1/volman-config.1", "man1/volman-token.1", "man1/volman-driver.1",
             "man1/volman-doctor.1", "man1/volman-node.1"]


def need(tool, package):
    if not shutil.which(tool):
        pytest.fail("%s is missing (apt-get install %s; scripts/deps.sh does)" % (tool, package), pytrace=False)


def run(argv, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 900)
    return subprocess.run(argv, stdin=subprocess.DEVNULL, **kw)


@pytest.fixture(scope="session")
def deb(tmp_path_factory):
    """scripts/deb.sh's package: (build dir, .deb path)."""
    for tool, package in (("meson", "meson"), ("dpkg-deb", "dpkg"), ("dpkg-shlibdeps", "dpkg-dev"),
                          ("scdoc", "scdoc")):
        need(tool, package)
    d = tmp_path_factory.mktemp("deb")
    p = run(["bash", os.path.join(REPO, "scripts", "deb.sh"), "--build", str(d / "build"), "--out", str(d)])
    assert p.returncode == 0, p.stdout + p.stderr
    path = p.stdout.strip().splitlines()[-1]
    assert os.path.isfile(path) and path.endswith(".deb"), p.stdout
    return str(d / "build"), path
