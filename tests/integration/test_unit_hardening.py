"""The hardening dist/volmand.service keeps, applied as systemd would apply it
(this machine has no systemd as PID 1): volmand runs with the unit's
CapabilityBoundingSet, NoNewPrivileges and UMask, taken from the unit file
itself, and every driver still creates, mounts, unmounts and removes
volumes, with the owners and modes asked for, including trees a container
wrote with owners and modes volmand does not share."""

import os
import re
import stat
import subprocess

import pytest

import conftest
from conftest import REPO, wait_removals_done, wait_gone

UNIT = os.path.join(REPO, "dist", "volmand.service.in")

CAP_BITS = {"CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_DAC_READ_SEARCH": 2, "CAP_FOWNER": 3, "CAP_FSETID": 4,
            "CAP_KILL": 5, "CAP_SETGID": 6, "CAP_SETUID": 7, "CAP_LINUX_IMMUTABLE": 9,
            "CAP_NET_BIND_SERVICE": 10, "CAP_NET_ADMIN": 12, "CAP_SYS_MODULE": 16, "CAP_SYS_PTRACE": 19,
            "CAP_SYS_ADMIN": 21, "CAP_SYS_RESOURCE": 24, "CAP_MKNOD": 27}


def unit_settings():
    out = {}
    for line in open(UNIT):
        m = re.match(r"^([A-Za-z]+)=(.*)$", line.strip())
        if m:
            out[m.group(1)] = m.group(2)
    return out


def have_btrfs():
    with open("/proc/filesystems") as f:
        return any(line.split()[-1] == "btrfs" for line in f)


@pytest.fixture
def hardened(make_daemon, tmp_path, monkeypatch):
    """make_daemon, but volmand runs under the unit's bounding set, no new
    privileges and umask."""
    s = unit_settings()
    caps = s["CapabilityBoundingSet"].split()
    assert s["NoNewPrivileges"] == "yes" and s["UMask"] == "0077", s
    wrapper = tmp_path / "hardened-volmand"
    wrapper.write_text("#!/bin/sh\numask %s\nexec setpriv --no-new-privs --bounding-set -all,%s %s \"$@\"\n" % (
        s["UMask"], ",".join("+" + c[4:].lower() for c in caps), conftest.VOLMAND))
    wrapper.chmod(0o755)
    monkeypatch.setattr(conftest, "VOLMAND", str(wrapper))

    def factory(**kw):
        d = make_daemon(**kw)
        # what the kernel says volmand holds: the unit's set, nothing more
        status = open("/proc/%d/status" % d.proc.pid).read()
        eff = int(re.search(r"^CapEff:\s*([0-9a-f]+)$", status, re.M).group(1), 16)
        bnd = int(re.search(r"^CapBnd:\s*([0-9a-f]+)$", status, re.M).group(1), 16)
        # (the unit's set, less what this machine's root lacks itself:
        # CAP_SYS_RESOURCE on some)
        ours = int(re.search(r"^CapBnd:\s*([0-9a-f]+)$", open("/proc/self/status").read(), re.M).group(1), 16)
        want = sum(1 << CAP_BITS[c] for c in caps) & ours
        assert eff == want and bnd == want, (hex(eff), hex(want))
        assert re.search(r"^NoNewPrivs:\s*1$", status, re.M), status
        return d
    return factory


def container_tree(mountpoint):
    """What a container might leave: files and folders of another uid with
    modes that shut volmand's uid out."""
    d = os.path.join(mountpoint, "data", "deep")
    os.makedirs(d)
    with open(os.path.join(d, "f"), "w") as f:
        f.write("x" * 4096)
    for p in (os.path.join(d, "f"), d, os.path.dirname(d)):
        os.chown(p, 4242, 4242)
    os.chmod(os.path.join(d, "f"), 0)
    os.chmod(d, 0)
    os.chmod(os.path.dirname(d), 0o1700)


def test_every_driver_works_under_the_units_hardening(hardened, tmp_path):
    args = []
    btrfs_mnt = None
    if have_btrfs() and os.path.exists("/dev/loop-control"):
        img, btrfs_mnt = tmp_path / "fs.img", tmp_path / "btrfs"
        btrfs_mnt.mkdir()
        subprocess.run(["truncate", "-s", "1G", str(img)], check=True)
        subprocess.run(["mkfs.btrfs", "-q", "-f", str(img)], check=True, capture_output=True)
        subprocess.run(["mount", "-o", "loop", str(img), str(btrfs_mnt)], check=True)
        args = ["--btrfs-root", str(btrfs_mnt)]
    try:
        d = hardened(args=args)
        # the umask leaves the modes volmand means alone
        assert stat.S_IMODE(os.stat(d.socket).st_mode) == 0o660
        assert stat.S_IMODE(os.stat(d.root).st_mode) == 0o700
        c = d.client()
        st, drivers = c.get("/v1/drivers")
        assert st == 200, drivers
        available = {x["name"] for x in drivers["drivers"] if x["available"]}
        assert {"local", "tmpfs"} <= available, drivers
        volumes = [("loc", "local", {"uid": "1000", "gid": "1000", "mode": "2770"}),
                   ("mem", "tmpfs", {"size": "8m", "uid": "1000", "mode": "0750"})]
        if "loop" in available:
            volumes.append(("img", "loop", {"size": "32m", "uid": "1000", "mode": "0750"}))
        if "btrfs" in available:
            volumes.append(("sub", "btrfs", {"size": "32m", "uid": "1000", "mode": "0750"}))
        assert len(volumes) >= 3 or not os.path.exists("/dev/loop-control"), available
        for name, driver, opts in volumes:
            st, v = c.post("/v1/volumes", {"name": name, "driver": driver, "options": opts})
            assert st == 201, (driver, v)
            st, m = c.mount(name, "ctr")
            assert st == 200, (driver, m)
            mp = m["mountpoint"]
            info = os.stat(mp)
            assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (1000, int(opts["mode"], 8)), (driver, oct(info.st_mode))
            container_tree(mp)
            assert c.unmount(name, "ctr")[0] == 200
            st, body = c.remove(name)
            assert st == 204, (driver, body)
        wait_removals_done(c)
        for name, driver, _ in volumes:
            assert c.inspect(name)[0] == 404
        leftovers = [p for p in d.driver_dirs()]
        assert not leftovers, leftovers
        d.stop()
        log = d.log_text()
        assert "Operation not permitted" not in log and "Permission denied" not in log, log[-3000:]
    finally:
        if btrfs_mnt is not None:
            subprocess.run(["umount", "-l", str(btrfs_mnt)], check=False)
