"""The libraries volmand loads on first use (docs/architecture.md, "Libraries
loaded on first use"): libarchive (export, import, a /con volume's content
from an image) and GnuTLS (the HTTPS listener) are mapped only once something
needs them, and a missing one is an error that names its Debian package,
never a crash. What is mapped is read from /proc/PID/maps of the real daemon.

VOLMAN_LIBARCHIVE and VOLMAN_LIBGNUTLS, test hooks of the loaders, name the
file dlopen loads in place of libarchive.so.13 and libgnutls.so.30: a path
that does not exist is a machine without the library."""

import http.client
import io
import json
import os
import re
import ssl
import subprocess
import tarfile
import time

import pytest

from conftest import VOLMAN, UnixHTTPConnection, q, require_binaries

LISTEN = ["--listen", "127.0.0.1:0"]
MISSING_ARCHIVE = "/nonexistent/libarchive.so.13"
MISSING_GNUTLS = "/nonexistent/libgnutls.so.30"

# What libarchive brings (libxml2, ICU, liblzma) and what GnuTLS brings
# (p11-kit, nettle, hogweed, GMP, libtasn1, libidn2, libunistring).
ARCHIVE_LIBS = ("libarchive.so", "libxml2.so", "libicuuc.so", "libicudata.so", "liblzma.so")
GNUTLS_LIBS = ("libgnutls.so", "libp11-kit.so", "libhogweed.so", "libgmp.so", "libtasn1.so",
               "libidn2.so", "libunistring.so")


def mapped(daemon, prefixes):
    """The files of daemon's mappings whose names start with one of prefixes."""
    assert daemon.running(), daemon.log_tail()
    with open("/proc/%d/maps" % daemon.proc.pid) as f:
        files = {line.split(None, 5)[5].strip() for line in f if len(line.split(None, 5)) == 6}
    return sorted(p for p in files if os.path.basename(p).startswith(prefixes))


def export_bytes(daemon, name):
    conn = UnixHTTPConnection(daemon.socket, 60)
    conn.request("GET", "/v1/volumes/%s/export" % q(name))
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, data


def post_raw(daemon, path, data):
    conn = UnixHTTPConnection(daemon.socket, 60)
    conn.request("POST", path, body=data)
    r = conn.getresponse()
    body = r.read()
    conn.close()
    return r.status, body


def https_port(daemon, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = re.search(r"serving HTTPS on 127\.0\.0\.1:(\d+)", daemon.log_text())
        if m:
            return int(m.group(1))
        time.sleep(0.05)
    pytest.fail("volmand did not log its HTTPS port:\n" + daemon.log_tail())


def test_an_idle_volmand_maps_neither_library(daemon, client):
    # a volmand at work without exports or TLS: volumes made, mounted, listed, removed
    st, _ = client.create("idle")
    assert st == 201
    st, _ = client.mount("idle", "r1")
    assert st == 200
    assert client.list()[0] == 200
    st, _ = client.unmount("idle", "r1")
    assert st == 200
    st, _ = client.remove("idle")
    assert st in (200, 204)
    assert mapped(daemon, ARCHIVE_LIBS + GNUTLS_LIBS + ("libnettle.so",)) == []


def test_an_export_loads_libarchive_and_not_gnutls(daemon, client):
    st, v = client.create("src")
    assert st == 201
    with open(os.path.join(v["mountpoint"], "hello.txt"), "w") as f:
        f.write("hello\n")
    assert mapped(daemon, ("libarchive.so",)) == []
    st, data = export_bytes(daemon, "src")
    assert st == 200
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        assert t.extractfile("hello.txt").read() == b"hello\n"
    assert mapped(daemon, ("libarchive.so.13",)), "the export ran on libarchive"
    assert mapped(daemon, ("libxml2.so",)), "libarchive's own libraries come with it"
    assert mapped(daemon, GNUTLS_LIBS) == []

    # loaded once, it serves the next import and export too
    st, body = post_raw(daemon, "/v1/volumes/import?name=dst", data)
    assert st == 201, body
    st, again = export_bytes(daemon, "dst")
    assert st == 200 and b"hello\n" in again


def test_the_https_listener_loads_gnutls_and_not_libarchive(make_daemon, tmp_path):
    # LD_DEBUG shows which object each symbol bound to: GnuTLS's constructor
    # must find volmand's _gnutls_global_init_skip (GNUTLS_SKIP_GLOBAL_INIT,
    # exported for a dlopen'ed GnuTLS), not its own that says "do not skip"
    trace = str(tmp_path / "ld-debug")
    d = make_daemon(args=LISTEN, env={"LD_DEBUG": "bindings", "LD_DEBUG_OUTPUT": trace})
    port = https_port(d)
    assert mapped(d, ("libgnutls.so",)), "the listener runs on GnuTLS"
    assert mapped(d, ("libp11-kit.so",))
    assert mapped(d, ARCHIVE_LIBS) == []

    ctx = ssl.create_default_context(cafile=os.path.join(d.root, "tls", "cert.pem"))
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=30)
    conn.request("GET", "/v1/volumes")
    assert conn.getresponse().status == 401  # TLS works; the API wants a token
    conn.close()

    text = ""
    for name in os.listdir(tmp_path):
        if name.startswith("ld-debug."):
            with open(tmp_path / name, errors="replace") as f:
                text += "".join(line for line in f if "_gnutls_global_init_skip" in line)
    m = re.search(r"binding file \S*libgnutls\.so\.30 \[\d+\] to (\S+) \[\d+\]: normal symbol "
                  r"`_gnutls_global_init_skip'", text)
    assert m, "GnuTLS's constructor bound no _gnutls_global_init_skip:\n" + text
    assert os.path.basename(m.group(1)) == "volmand", m.group(0)


def test_without_libarchive_exports_and_imports_fail_with_the_package_to_install(make_daemon, tmp_path):
    d = make_daemon(env={"VOLMAN_LIBARCHIVE": MISSING_ARCHIVE})
    c = d.client()
    st, _ = c.create("a")
    assert st == 201

    # an export answers the error before its stream starts
    st, data = export_bytes(d, "a")
    assert st == 500, data[:200]
    err = json.loads(data)["error"]["message"]
    assert err.startswith("volume export needs libarchive (%s: cannot open shared object file" % MISSING_ARCHIVE), err
    assert err.endswith("install the Debian package libarchive13"), err

    # an import refuses before it makes a volume
    st, body = post_raw(d, "/v1/volumes/import?name=b", b"\0" * 1024)
    assert st == 500, body
    err = json.loads(body)["error"]["message"]
    assert err.startswith("volume import needs libarchive (") and "libarchive13" in err, err
    st, _ = c.inspect("b")
    assert st == 404

    # the CLI says it too
    require_binaries(VOLMAN)
    p = subprocess.run([VOLMAN, "--socket", d.socket, "volume", "export", "a", "-o", str(tmp_path / "a.tar")],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode != 0 and "install the Debian package libarchive13" in p.stderr, (p.returncode, p.stderr)

    # the daemon is whole: it answers, keeps its volumes, never loaded the library
    assert d.running()
    st, _ = c.get("/v1/health")
    assert st == 200
    st, v = c.inspect("a")
    assert st == 200 and v["status"] == "ready"
    assert mapped(d, ARCHIVE_LIBS) == []
    c.close()


def test_without_gnutls_the_listener_fails_to_start_and_volmand_without_it_runs(make_daemon):
    d = make_daemon(start=False, subdir="tls")
    d.start(env={"VOLMAN_LIBGNUTLS": MISSING_GNUTLS}, args=LISTEN, wait=False)
    assert d.proc.wait(timeout=30) == 1
    log = d.log_text()
    assert ("volmand: --listen: the HTTPS listener needs GnuTLS (%s: cannot open shared object file" % MISSING_GNUTLS
            in log), log
    assert "install the Debian package libgnutls30" in log, log

    # without --listen nothing needs GnuTLS: the same environment serves
    plain = make_daemon(env={"VOLMAN_LIBGNUTLS": MISSING_GNUTLS}, subdir="plain")
    c = plain.client()
    st, _ = c.create("v")
    assert st == 201
    c.close()
    assert mapped(plain, GNUTLS_LIBS) == []
