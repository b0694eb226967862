"""Harness for the app tests (docs/apps.md): real container engines, real volmand.

Per engine parameter ("docker", "podman") one session-wide stack is started under a
temporary directory T:

- docker: dockerd with its own data root, exec root, pidfile and socket under T; it finds
  volman's plugin socket through /etc/docker/plugins/volman-apps-<random>.spec (removed at
  teardown), so the engine knows the driver as `volman-apps-<random>`.
- podman: `podman system service` on T/podman.sock with its own root, runroot and tmpdir
  under T and a containers.conf (CONTAINERS_CONF) naming the plugin socket.
- volmand on T/vroot, T/volman.sock and T/plugin.sock, deploying through that engine,
  with the global config layer {"networkMode": "none"} (the test dockerd has no bridge).

A busybox image, built from /bin/busybox (busybox-static) without any registry, is
imported into each engine as localhost/bb:latest.

VOLMAN_BUILD names the build directory holding volmand. What is missing (the binary, an
engine, root) or does not start fails the tests, with the reason.

Self-contained on purpose: the helpers live in appkit.py next to this file; nothing is
shared with tests/engines.
"""

import os
import shutil
import signal
import subprocess
import tempfile

import pytest

from appkit import APPLETS, CON_IMAGE, CON_IMAGE_CMD, ENGINES, Stack, _fail

# ---- the image ----


@pytest.fixture(scope="session")
def bb_tarball(tmp_path_factory):
    """A busybox rootfs tarball, built without any registry."""
    busybox = "/bin/busybox"
    if not os.path.isfile(busybox):
        _fail("/bin/busybox is missing (apt-get install -y busybox-static)")
    d = tmp_path_factory.mktemp("bbimage")
    rootfs = d / "rootfs"
    for sub in ("bin", "tmp", "proc", "dev", "sys", "etc", "run", "var/tmp", "home"):
        (rootfs / sub).mkdir(parents=True)
    shutil.copy2(busybox, rootfs / "bin" / "busybox")
    for a in APPLETS:
        os.symlink("busybox", rootfs / "bin" / a)
    tar = d / "bb.tar"
    subprocess.run(["tar", "cf", str(tar), "-C", str(rootfs), "."], check=True)
    # the /con image: the same, plus its own /con/configuration and a /srv/seed
    (rootfs / "con" / "configuration").mkdir(parents=True)
    (rootfs / "con" / "configuration" / "from-image.conf").write_text("image=1\n")
    (rootfs / "srv" / "seed" / "sub").mkdir(parents=True)
    (rootfs / "srv" / "seed" / "hello.txt").write_text("seeded from the image\n")
    (rootfs / "srv" / "seed" / "sub" / "deep.txt").write_text("deep\n")
    os.chown(rootfs / "srv" / "seed" / "hello.txt", 1000, 1000)
    con_tar = d / "bbcon.tar"
    subprocess.run(["tar", "cf", str(con_tar), "-C", str(rootfs), "."], check=True)
    return str(tar), str(con_tar)


@pytest.fixture(scope="session", params=ENGINES)
def stack(request, bb_tarball):
    if os.geteuid() != 0:
        _fail("needs root to run dockerd and podman's service")
    # A SIGTERM (e.g. from `timeout`) becomes an interrupt, so that pytest still runs the
    # teardown below: the engines run in their own sessions and would outlive it.
    def interrupt(signum, frame):
        raise KeyboardInterrupt("signal %d" % signum)
    old_handler = signal.signal(signal.SIGTERM, interrupt)
    tmp = tempfile.mkdtemp(prefix="volman-apps-%s-" % request.param, dir="/tmp")
    s = Stack(request.param, tmp)
    try:
        s.start_volmand()
        bb, bbcon = bb_tarball
        if request.param == "docker":
            s.start_docker(bb)
        else:
            s.start_podman(bb)
        s.import_image(bbcon, CON_IMAGE, "1000:1000", CON_IMAGE_CMD)
        s.put_config({"networkMode": "none"})
    except BaseException:
        s.stop()
        signal.signal(signal.SIGTERM, old_handler)
        raise
    yield s
    errors = s.stop()
    signal.signal(signal.SIGTERM, old_handler)
    if errors:
        pytest.fail("tearing down the %s stack: %s" % (request.param, "; ".join(errors)))


@pytest.fixture
def apps(stack):
    """Records (tenant, env, app) a test deploys; deletes them afterwards."""
    made = []
    yield made
    for t, e, a in made:
        try:
            st, j = stack.delete_app(t, e, a)
            if st != 200:
                print("cleaning up %s/%s/%s: %s %s" % (t, e, a, st, j))
        except Exception as ex:  # the test's own failure says more
            print("cleaning up %s/%s/%s: %s" % (t, e, a, ex))
