"""The /con interface (docs/con.md) in real deploys on dockerd and Podman: the areas a
container sees (modes, memory-backed secret and seed, read-only where the table says),
data that survives redeploys, files and secrets that reach the next deploy, secrets
absent from every byte on disk, the seed token, ENV files, DEFAULT areas and con-init's
warnings, side containers, volumes that start from an image's content, and con-init as
PID 1 (signals, zombies)."""
import glob
import json
import os
import re
import ssl
import time
import http.client
import urllib.parse
import uuid

import pytest

from appkit import CON_IMAGE, IMAGE, SEED_TTL, _json, http_unix, uniq, wait_for

DATA_WARNING = "WARNING: Non persistent data directory in use! Data loss on restart!"

# What a container reports about its /con: one line per fact, parsed by facts().
REPORT = (
    'for a in configuration context secret seed proc data log var; do '
    '  d=/con/$a; '
    '  echo "AREA $a mode=$(stat -c %a $d) uid=$(stat -c %u $d) default=$(test -e $d/DEFAULT && echo y || echo n)"; '
    '  if touch $d/.w 2>/dev/null; then echo "WRITE $a ok"; rm -f $d/.w; else echo "WRITE $a refused"; fi; '
    'done; '
    'while read -r dev mp fs opts rest; do case "$mp" in /con/*) echo "MOUNT $mp $fs $opts";; esac; done '
    '< /proc/mounts; '
    'for f in /con/secret/* /con/seed/*; do [ -f "$f" ] && echo "FILE $f mode=$(stat -c %a $f) uid=$(stat -c %u $f)"; done; '
    'echo "ENV FOO=$FOO"; echo "ENV SHARED=$SHARED"; echo "ENV DBPASS_LEN=${#DBPASS}"; '
    'echo "PID1 $(cat /proc/1/cmdline | tr "\\0" " ")"; '
    'echo "CPUS $(grep -c ^processor /con/proc/cpuinfo)"; '
    'echo "MEMTOTAL $(grep ^MemTotal: /con/proc/meminfo)"; '
)


def kernel_has_tmpfs_noswap():
    """Whether this kernel's tmpfs takes noswap: mounts one to see."""
    import subprocess
    import tempfile
    d = tempfile.mkdtemp(prefix="noswap-")
    try:
        ok = subprocess.run(["mount", "-t", "tmpfs", "-o", "noswap,size=1m", "tmpfs", d],
                            stderr=subprocess.DEVNULL).returncode == 0
        if ok:
            subprocess.run(["umount", d])
        else:
            print("this kernel's tmpfs has no noswap: not checked")
        return ok
    finally:
        os.rmdir(d)


def facts(out):
    """{area: {...}} from REPORT's lines, plus mounts, files and env."""
    f = {"area": {}, "write": {}, "mount": {}, "file": {}, "env": {}}
    for line in out.splitlines():
        p = line.split(" ")
        if p[0] == "AREA":
            f["area"][p[1]] = dict(kv.split("=", 1) for kv in p[2:])
        elif p[0] == "WRITE":
            f["write"][p[1]] = p[2]
        elif p[0] == "MOUNT":
            f["mount"][p[1]] = (p[2], p[3].split(","))
        elif p[0] == "FILE":
            f["file"][p[1]] = dict(kv.split("=", 1) for kv in p[2:])
        elif p[0] == "ENV":
            k, v = line[4:].split("=", 1)
            f["env"][k] = v
    return f


def app_path(t, e, a=None):
    return "/v1/tenants/%s/envs/%s" % (t, e) + ("/apps/%s" % a if a else "")


def put_file(stack, level, area, name, data, expect=200):
    st, j = http_unix(stack.volman_sock, "PUT", "%s/files/%s/%s" % (level, area, name), data)
    assert st == expect, (st, j)
    return _json(j)


def put_secret(stack, level, name, data, expect=200):
    st, j = http_unix(stack.volman_sock, "PUT", "%s/secrets/%s" % (level, name), data)
    assert st == expect, (st, j)


def deploy(stack, t, e, a, script, image=IMAGE, strategy=None, expect=200):
    # (the marker split in the script: REPORT prints PID 1's command line, which holds it)
    body = {"image": image, "cmd": ["sh", "-c", script.rstrip("; ") + '; echo "__REA""DY__"; exec sleep 3600']}
    if strategy:
        body["strategy"] = strategy
    return stack.volman("POST", app_path(t, e, a) + "/deploy", body, expect=expect)[1]


def running(stack, t, e, a):
    return [c for c in stack.containers(t, e, a) if c["State"] == "running"]


def con_dirs(stack):
    return sorted(os.listdir(os.path.join(stack.vroot, "con"))) if os.path.isdir(
        os.path.join(stack.vroot, "con")) else []


def test_full_layout_modes_env_and_fallbacks(stack, apps):
    t, e, a = uniq("t"), "prod", "web"
    apps.append((t, e, a))
    stack.put_config({"con": True}, t, e, a)
    put_file(stack, app_path(t, e), "configuration", "shared.conf", b"shared=1\n")
    put_file(stack, app_path(t, e), "configuration", "ENV", b"SHARED=from-env-level\nFOO=env-level\n")
    put_file(stack, app_path(t, e, a), "configuration", "ENV", b"FOO=bar\n# comment\nbad line\nSHARED=app\n")
    secret = "S3cret-%s" % uuid.uuid4().hex
    put_secret(stack, app_path(t, e, a), "ENV", ("DBPASS=%s\n" % secret).encode())
    put_secret(stack, app_path(t, e, a), "tls.key", b"-----KEY-----\n")
    res = deploy(stack, t, e, a, REPORT, image=CON_IMAGE)
    out = stack.wait_ready(res["container"]["id"])
    f = facts(out)

    # persistent areas: volumes, writable; read-only areas refuse writes
    for area in ("data", "log", "var"):
        assert f["write"][area] == "ok", out
        assert f["area"][area]["default"] == "n", out
    for area in ("configuration", "context", "secret", "seed", "proc"):
        assert f["write"][area] == "refused", (area, out)
    # secret and seed: tmpfs, noexec/nosuid/nodev, directory 0500 and files 0400 of the user
    for area in ("secret", "seed"):
        fs, opts = f["mount"]["/con/" + area]
        assert fs == "tmpfs" and "ro" in opts, (area, fs, opts)
        for o in ("nosuid", "nodev", "noexec"):
            assert o in opts, (area, o, opts)
        assert f["area"][area]["mode"] == "500" and f["area"][area]["uid"] == "1000", (area, out)
    assert f["file"]["/con/secret/tls.key"] == {"mode": "400", "uid": "1000"}, out
    assert f["file"]["/con/seed/token"] == {"mode": "400", "uid": "1000"}, out
    # configuration: the env's files and the app's, no DEFAULT; context: DEFAULT (no files)
    assert f["area"]["configuration"]["default"] == "n", out
    assert f["area"]["context"]["default"] == "y", out
    # ENV files: configuration then secret, the app's ENV winning over the env's
    assert f["env"]["FOO"] == "bar", out
    assert f["env"]["SHARED"] == "app", out
    assert f["env"]["DBPASS_LEN"] == str(len(secret)), out
    assert "line 3" in out and "skipped" in out, out  # the bad ENV line, by number
    # con-init is PID 1 and the secret's value is nowhere in the container's config
    assert re.search(r"PID1 /con/\.init -- sh -c", out), out
    insp = stack.inspect(res["container"]["id"])
    assert secret not in json.dumps(insp), "the secret's value is in the engine's inspect"
    # the warnings: exactly for the DEFAULT areas
    assert "Default context directory in use." in out, out
    assert "Default configuration directory in use." not in out, out
    assert DATA_WARNING not in out, out
    # /con/proc: MemTotal from the memory limit (default 1g), one processor per CPU
    assert re.search(r"^MEMTOTAL MemTotal:\s+1048576 kB$", out, re.M), out
    assert "CPUS %d" % os.cpu_count() in out, out
    # secrets never reach swap where the kernel can say so (tmpfs noswap, Linux 6.4+)
    if kernel_has_tmpfs_noswap():
        host = os.path.join(stack.vroot, "con", res["container"]["name"], "secret")
        with open("/proc/self/mountinfo") as fh:
            line = [l for l in fh if l.split()[4] == host]
        assert line and "noswap" in line[0], line


def test_data_survives_recreate_and_blue_green_and_files_change(stack, apps):
    t, e, a = uniq("t"), "prod", "api"
    apps.append((t, e, a))
    stack.put_config({"con": True}, t, e, a)
    put_file(stack, app_path(t, e, a), "configuration", "app.conf", b"version=1\n")
    r1 = deploy(stack, t, e, a, 'cat /con/configuration/app.conf; echo kept > /con/data/mark; '
                'echo logline-1 >> /con/log/app.log; echo state-1 > /con/var/state')
    out = stack.wait_ready(r1["container"]["id"])
    assert "version=1" in out
    put_file(stack, app_path(t, e, a), "configuration", "app.conf", b"version=2\n")
    put_secret(stack, app_path(t, e, a), "token", b"second")
    r2 = deploy(stack, t, e, a, 'cat /con/configuration/app.conf; cat /con/data/mark; cat /con/secret/token; echo; '
                'echo "VAR=$(cat /con/var/state)"; echo logline-2 >> /con/log/app.log; '
                'echo state-2 >> /con/var/state')
    out = stack.wait_ready(r2["container"]["id"])
    assert "version=2" in out and "kept" in out and "second" in out, out
    assert "VAR=state-1" in out, out  # var survives a recreate
    r3 = deploy(stack, t, e, a, 'cat /con/data/mark; '
                'echo "LOG=$(sed -n 1p /con/log/app.log),$(sed -n 2p /con/log/app.log)"; '
                'echo "VAR=$(sed -n 1p /con/var/state),$(sed -n 2p /con/var/state)"', strategy="blue-green")
    out = stack.wait_ready(r3["container"]["id"])
    assert "kept" in out, out
    # log and var: both generations' lines, through a recreate and a blue-green
    assert "LOG=logline-1,logline-2" in out and "VAR=state-1,state-2" in out, out
    for area in ("data", "log", "var"):
        assert "Non persistent %s directory" % area not in out and DATA_WARNING not in out, out
    assert [c["Id"] for c in running(stack, t, e, a)] == [r3["container"]["id"]]
    # only the running generation keeps its /con directory
    mine = [d for d in con_dirs(stack) if d.startswith(r3["container"]["name"].rsplit("-", 1)[0] + "-")]
    assert mine == [r3["container"]["name"]], mine

    # the app goes: its /con volumes, its own files and secrets, its /con directory
    vols = {v["path"]: v["name"] for v in stack.resolved(t, e, a)["volumes"]}
    assert set(vols) >= {"/con/data", "/con/log", "/con/var"}, vols
    for area in ("data", "log", "var"):
        assert vols["/con/" + area].endswith("-con-" + area), vols
        assert stack.volume(vols["/con/" + area]) is not None
    put_file(stack, app_path(t, e), "configuration", "env.conf", b"stays\n")
    put_secret(stack, app_path(t, e), "envkey", b"stays")
    st, j = stack.delete_app(t, e, a)
    assert st == 200, (st, j)
    apps.remove((t, e, a))
    con_vols = [vols["/con/" + area] for area in ("data", "log", "var")]
    for name in con_vols:
        assert stack.volume(name) is None, name
    assert not set(con_vols) & set(stack.volman_volume_names()), con_vols
    assert not set(con_vols) & set(stack.engine_volume_names()), con_vols
    st, j = stack.volman("GET", app_path(t, e, a) + "/files")
    assert st == 404 or j["files"] == [], (st, j)
    st, j = stack.volman("GET", app_path(t, e, a) + "/secrets")
    assert st == 404 or j["secrets"] == [], (st, j)
    assert not [d for d in con_dirs(stack) if d.startswith(r3["container"]["name"].rsplit("-", 1)[0] + "-")]
    # the env's files and secrets are its other apps': they stay
    assert [f["name"] for f in stack.volman("GET", app_path(t, e) + "/files", expect=200)[1]["files"]] == ["env.conf"]
    assert [x["name"] for x in stack.volman("GET", app_path(t, e) + "/secrets", expect=200)[1]["secrets"]] == ["envkey"]


def test_secret_plaintext_never_on_disk(stack, apps):
    t, e, a = uniq("t"), "prod", "vault"
    apps.append((t, e, a))
    stack.put_config({"con": True}, t, e, a)
    marker = ("PLAINTEXT-%s" % uuid.uuid4().hex).encode()
    put_secret(stack, app_path(t, e, a), "password", marker)
    res = deploy(stack, t, e, a, 'cat /con/secret/password; echo')
    out = stack.wait_ready(res["container"]["id"])
    assert marker.decode() in out  # the app has it
    found = []
    for dirpath, dirnames, filenames in os.walk(stack.vroot):
        # the generation's secret area is a tmpfs: memory, not disk (checked below)
        if dirpath.startswith(os.path.join(stack.vroot, "con")):
            continue
        for n in filenames:
            p = os.path.join(dirpath, n)
            try:
                with open(p, "rb") as fh:
                    if marker in fh.read():
                        found.append(p)
            except OSError:
                pass
    assert not found, "the secret's plaintext is on disk: %s" % found
    with open(stack.volmand_log, "rb") as fh:
        assert marker not in fh.read()
    secret_dir = os.path.join(stack.vroot, "con", res["container"]["name"], "secret")
    with open("/proc/self/mountinfo") as fh:
        mounts = [l.split() for l in fh]
    assert any(m[4] == secret_dir and m[m.index("-") + 1] == "tmpfs" for m in mounts), secret_dir
    # the app goes: its tmpfs goes with it
    stack.delete_app(t, e, a)
    apps.remove((t, e, a))
    with open("/proc/self/mountinfo") as fh:
        assert secret_dir not in fh.read()
    assert not os.path.exists(secret_dir)


def tls_get(stack, path, token):
    port = None
    with open(stack.volmand_log) as fh:
        m = re.search(r"serving HTTPS on 127\.0\.0\.1:(\d+)", fh.read())
    assert m, "volmand logged no HTTPS port"
    ctx = ssl.create_default_context(cafile=os.path.join(stack.vroot, "tls", "cert.pem"))
    c = http.client.HTTPSConnection("127.0.0.1", int(m.group(1)), context=ctx, timeout=10)
    c.request("GET", path, headers={"Authorization": "Bearer " + token})
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, body


def test_seed_token_reads_own_secrets_only_until_it_expires(stack, apps):
    t, e = uniq("t"), "prod"
    apps.extend([(t, e, "one"), (t, e, "two")])
    for a in ("one", "two"):
        stack.put_config({"con": True}, t, e, a)
        put_secret(stack, app_path(t, e, a), "key", ("value-of-%s" % a).encode())
    put_secret(stack, app_path(t, e), "envwide", b"for-every-app")
    res = deploy(stack, t, e, "one", "true")
    deploy(stack, t, e, "two", "true")
    start = time.monotonic()
    with open(os.path.join(stack.vroot, "con", res["container"]["name"], "seed", "token")) as fh:
        token = fh.read()
    assert token.startswith("vmt_")
    base = app_path(t, e, "one") + "/secrets/"
    st, body = tls_get(stack, base + "key", token)
    assert (st, body) == (200, b"value-of-one"), (st, body)
    st, body = tls_get(stack, base + "envwide", token)
    assert (st, body) == (200, b"for-every-app"), (st, body)
    # nothing else: another app's secret, any other route
    st, body = tls_get(stack, app_path(t, e, "two") + "/secrets/key", token)
    assert st == 403 and b"value-of-two" not in body, (st, body)
    for path in ("/v1/volumes", app_path(t, e, "one") + "/secrets", app_path(t, e, "one"),
                 app_path(t, e, "one") + "/config"):
        st, body = tls_get(stack, path, token)
        assert st in (403, 404) or (st == 200 and json.loads(body).get("volumes") == []), (path, st, body)
    # after its time: refused
    time.sleep(max(0.0, SEED_TTL + 1 - (time.monotonic() - start)))
    st, body = tls_get(stack, base + "key", token)
    assert st == 401 and b"expired" in body, (st, body)


def test_default_areas_and_warnings(stack, apps):
    t, e, a = uniq("t"), "prod", "bare"
    apps.append((t, e, a))
    stack.put_config({"con": {"data": False, "secret": False}}, t, e, a)
    put_secret(stack, app_path(t, e, a), "unused", b"x")  # area off: not given
    res = deploy(stack, t, e, a, REPORT + 'echo scratch > /con/data/x && echo DATA-WRITABLE; '
                 'ls /con/configuration', image=CON_IMAGE)
    out = stack.wait_ready(res["container"]["id"])
    f = facts(out)
    assert f["area"]["data"]["default"] == "y" and "DATA-WRITABLE" in out, out
    assert f["mount"]["/con/data"][0] == "tmpfs", out
    assert f["area"]["secret"]["default"] == "y" and not any(k.startswith("/con/secret/u") for k in f["file"]), out
    assert f["area"]["log"]["default"] == "n", out
    # the image's own /con/configuration is kept, plus DEFAULT
    assert "from-image.conf" in out and f["area"]["configuration"]["default"] == "y", out
    assert out.count(DATA_WARNING) == 1, out
    assert "Default secret directory in use." in out and "Default configuration directory in use." in out
    assert "Non persistent log directory" not in out and "Non persistent var directory" not in out, out
    # data is not a volume here: none was made for it
    names = [v["path"] for v in stack.resolved(t, e, a)["volumes"]]
    assert "/con/data" not in names and "/con/log" in names, names


def test_env_level_files_and_secrets_reach_the_container(stack, apps):
    t, e, a = uniq("t"), "prod", "envlvl"
    apps.append((t, e, a))
    stack.put_config({"con": True}, t, e, a)
    env, app = app_path(t, e), app_path(t, e, a)
    put_file(stack, env, "configuration", "env-only.conf", b"from-the-env\n")
    put_file(stack, env, "configuration", "both.conf", b"env-version\n")
    put_file(stack, app, "configuration", "both.conf", b"app-version\n")
    put_file(stack, env, "context", "env-ctx.sh", b"env-context\n")
    put_secret(stack, env, "env-only", b"env-secret")
    put_secret(stack, env, "both", b"env-secret-value")
    put_secret(stack, app, "both", b"app-secret-value")
    res = deploy(stack, t, e, a, REPORT + 'for f in /con/configuration/* /con/context/* /con/secret/*; do '
                 'echo "CONTENT $f $(cat $f)"; done', image=CON_IMAGE)
    out = stack.wait_ready(res["container"]["id"])
    got = dict(l.split(" ", 2)[1:] for l in out.splitlines() if l.startswith("CONTENT ") and l.count(" ") >= 2)
    assert got == {"/con/configuration/env-only.conf": "from-the-env", "/con/configuration/both.conf": "app-version",
                   "/con/context/env-ctx.sh": "env-context", "/con/secret/env-only": "env-secret",
                   "/con/secret/both": "app-secret-value"}, out
    f = facts(out)
    for area in ("configuration", "context", "secret"):
        assert f["area"][area]["default"] == "n", (area, out)
    assert f["file"]["/con/secret/env-only"] == {"mode": "400", "uid": "1000"}, out
    assert "Default configuration directory" not in out and "Default context directory" not in out, out
    assert "Default secret directory" not in out, out


def test_every_fallback_and_its_warning(stack, apps):
    """log, var, seed and proc off, secret on with no secret: each is DEFAULT and warned
    about; data (on) and configuration (a file put) are not."""
    t, e, a = uniq("t"), "prod", "fallback"
    apps.append((t, e, a))
    stack.put_config({"con": {"log": False, "var": False, "seed": False, "proc": False}}, t, e, a)
    put_file(stack, app_path(t, e, a), "configuration", "app.conf", b"x=1\n")
    res = deploy(stack, t, e, a, REPORT + 'echo l > /con/log/l && echo LOG-WRITABLE; '
                 'echo v > /con/var/v && echo VAR-WRITABLE; '
                 'for x in seed/token proc/meminfo proc/cpuinfo; do test -e /con/$x && echo "HAS $x"; done')
    out = stack.wait_ready(res["container"]["id"])
    f = facts(out)
    for area in ("log", "var", "seed", "proc", "secret", "context"):
        assert f["area"][area]["default"] == "y", (area, out)
    for area in ("data", "configuration"):
        assert f["area"][area]["default"] == "n", (area, out)
    # log and var: small writable memory-backed directories, no volumes
    assert "LOG-WRITABLE" in out and "VAR-WRITABLE" in out, out
    assert f["mount"]["/con/log"][0] == "tmpfs" and f["mount"]["/con/var"][0] == "tmpfs", out
    paths = [v["path"] for v in stack.resolved(t, e, a)["volumes"]]
    assert "/con/log" not in paths and "/con/var" not in paths and "/con/data" in paths, paths
    # seed and proc off: no token, no meminfo; secret on but empty: no file but DEFAULT
    assert not re.search(r"^HAS ", out, re.M), out
    assert not [k for k in f["file"] if k != "/con/secret/DEFAULT" and k != "/con/seed/DEFAULT"], out
    # exactly one warning per DEFAULT area, none for the others
    for line in ("WARNING: Non persistent log directory in use! Logs are lost on restart!",
                 "WARNING: Non persistent var directory in use! Data loss on restart!",
                 "Default seed directory in use.", "Default proc directory in use.",
                 "Default secret directory in use.", "Default context directory in use."):
        assert out.count(line) == 1, (line, out)
    assert DATA_WARNING not in out and "Default configuration directory in use." not in out, out


def test_before_side_output_and_failure(stack, apps):
    t, e, a = uniq("t"), "prod", "tmpl"
    apps.append((t, e, a))
    # the side may write configuration and context; it renders configuration only
    render = {"name": "render", "image": IMAGE, "when": "before", "writes": ["configuration", "context"],
              "cmd": ["sh", "-c", "echo rendered-by-side > /con/configuration/app.conf"]}
    stack.put_config({"con": True, "sides": [render]}, t, e, a)
    r1 = deploy(stack, t, e, a, REPORT + "cat /con/configuration/app.conf; ls /con/configuration; "
                "touch /con/configuration/x || echo RO", image=CON_IMAGE)
    out = stack.wait_ready(r1["container"]["id"])
    f = facts(out)
    assert "rendered-by-side" in out and "RO" in out, out
    # the area the side rendered is not DEFAULT (and the image's own /con/configuration,
    # which a DEFAULT area would show, is not copied under the side's output)
    assert f["area"]["configuration"]["default"] == "n", out
    assert "Default configuration directory in use." not in out, out
    assert "from-image.conf" not in out, out
    # the area it may write but left empty is DEFAULT once it ran; untouched ones too
    assert f["area"]["context"]["default"] == "y", out
    assert "Default context directory in use." in out, out
    assert f["area"]["secret"]["default"] == "y" and "Default secret directory in use." in out, out
    # the side ran and went: only the app runs
    assert [c["Id"] for c in running(stack, t, e, a)] == [r1["container"]["id"]]
    failing = dict(render, cmd=["sh", "-c", "echo template broken >&2; exit 3"])
    stack.put_config({"con": True, "sides": [failing]}, t, e, a)
    st, j = stack.volman("POST", app_path(t, e, a) + "/deploy", {"image": IMAGE, "cmd": ["true"]})
    assert st >= 400, (st, j)
    msg = j["error"]["message"]
    assert "render" in msg and "code 3" in msg and "template broken" in msg, msg
    # the old generation still runs, alone
    assert [c["Id"] for c in running(stack, t, e, a)] == [r1["container"]["id"]]
    assert r1["container"]["name"] in con_dirs(stack)


def test_along_side_runs_beside_the_app_and_is_replaced(stack, apps):
    t, e, a = uniq("t"), "prod", "ship"
    apps.append((t, e, a))
    # the side ships the app's log and writes the context area, which the app sees read-only
    shipper = {"name": "shipper", "image": IMAGE, "when": "along", "writes": ["context"],
               "cmd": ["sh", "-c", "echo from-along > /con/context/along.txt; "
                       "while :; do cat /con/log/app.log 2>/dev/null; sleep 0.2; done"]}
    stack.put_config({"con": True, "sides": [shipper]}, t, e, a)
    r1 = deploy(stack, t, e, a, "echo shipped-line >> /con/log/app.log; "
                "i=0; while [ ! -f /con/context/along.txt ] && [ $i -lt 150 ]; do sleep 0.2; i=$((i+1)); done; "
                "cat /con/context/along.txt; "
                "if echo x > /con/context/app-wrote 2>/dev/null; then echo CTX-WRITABLE; else echo CTX-RO; fi; "
                "if touch /con/context/along.txt 2>/dev/null; then echo CTX-TOUCHED; fi")
    out = stack.wait_ready(r1["container"]["id"])
    assert "from-along" in out, out  # what the side writes reaches the app
    assert "CTX-RO" in out and "CTX-WRITABLE" not in out and "CTX-TOUCHED" not in out, out
    # an area an along side fills is not DEFAULT
    assert "Default context directory in use." not in out, out
    assert "Default configuration directory in use." in out, out
    def side():
        return [c for c in stack.containers(t, e, a) if c["Labels"].get("volman.side") == "shipper"]
    wait_for("the along side running", lambda: [c["State"] for c in side()] == ["running"], timeout=30)
    sid = side()[0]["Id"]
    wait_for("the side reads the app's log", lambda: "shipped-line" in stack.logs(sid), timeout=30)
    r2 = deploy(stack, t, e, a, "true")
    stack.wait_ready(r2["container"]["id"])
    now = side()
    assert len(now) == 1 and now[0]["Id"] != sid and now[0]["Labels"]["volman.generation"] == str(r2["generation"])


def test_volume_starts_from_image_content_once(stack, apps):
    t, e, a = uniq("t"), "prod", "seeded"
    apps.append((t, e, a))
    stack.put_config({"con": {"data": {"from": CON_IMAGE + ":/srv/seed"}}}, t, e, a)
    r1 = deploy(stack, t, e, a, "cat /con/data/hello.txt /con/data/sub/deep.txt; stat -c %u /con/data/hello.txt; "
                "echo changed > /con/data/hello.txt", image=CON_IMAGE)
    out = stack.wait_ready(r1["container"]["id"])
    assert "seeded from the image" in out and "deep" in out, out
    assert "\n1000\n" in out, out  # owners survive
    r2 = deploy(stack, t, e, a, "cat /con/data/hello.txt", image=CON_IMAGE)
    out = stack.wait_ready(r2["container"]["id"])
    assert "changed" in out and "seeded from the image" not in out, out


def test_con_init_forwards_sigterm_and_reaps(stack, apps):
    t, e, a = uniq("t"), "prod", "init"
    apps.append((t, e, a))
    stack.put_config({"con": True}, t, e, a)
    script = ('trap "echo got-TERM; exit 0" TERM; (sleep 0.2 &); sleep 1; '
              'z=$(grep -l "^State:.*Z" /proc/[0-9]*/status 2>/dev/null | wc -l); echo "ZOMBIES=$z"; '
              'echo __READY__; while :; do sleep 0.1; done')
    body = {"image": IMAGE, "cmd": ["sh", "-c", script]}
    res = stack.volman("POST", app_path(t, e, a) + "/deploy", body, expect=200)[1]
    out = stack.wait_ready(res["container"]["id"])
    assert "ZOMBIES=0" in out, out
    st, data = stack.engine("POST", "/containers/%s/stop?t=20" % res["container"]["id"])
    assert st in (204, 304), (st, data)
    state = stack.inspect(res["container"]["id"])["State"]
    assert state["ExitCode"] == 0, state
    assert "got-TERM" in stack.logs(res["container"]["id"])


def test_bad_con_config_is_refused_and_changes_nothing(stack, apps):
    t, e, a = uniq("t"), "prod", "bad"
    apps.append((t, e, a))
    stack.put_config({"con": True}, t, e, a)
    bad = [
        ({"con": "yes"}, "con must be"),
        ({"con": {"cache": True}}, "not a /con area"),
        ({"con": {"configuration": {"from": "img:/x"}}}, "persistent areas"),
        ({"con": {"data": {"from": "no-path"}}}, "IMAGE:/path"),
        ({"sides": [{"name": "s", "image": IMAGE, "when": "later"}]}, "before"),
        ({"sides": [{"name": "s", "image": IMAGE, "when": "before", "writes": ["seed"]}]}, "seed"),
        ({"sides": [{"name": "Bad_Name", "image": IMAGE, "when": "along"}]}, "side name"),
        ({"con": True, "writeableVolumes": ["/con/data"]}, "/con belongs"),
    ]
    for cfg, needle in bad:
        st, j = stack.volman("PUT", stack.config_path(t, e, a), cfg)
        assert st == 400 and needle in j["error"]["message"], (cfg, st, j)
        assert stack.get_config(t, e, a) == {"con": True}, cfg
    assert "/con/data" in stack.volman("PUT", stack.config_path(t, e, a), bad[-1][0])[1]["error"]["message"]


def test_redeploy_revokes_the_old_seed_and_a_restart_sweeps_gone_generations(stack, apps):
    t, e, a = uniq("t"), "prod", "crash"
    apps.append((t, e, a))
    stack.put_config({"con": True}, t, e, a)
    put_secret(stack, app_path(t, e, a), "k", b"v1")
    r1 = deploy(stack, t, e, a, "true")
    with open(os.path.join(stack.vroot, "con", r1["container"]["name"], "seed", "token")) as fh:
        old = fh.read()
    r2 = deploy(stack, t, e, a, "true")
    st, body = tls_get(stack, app_path(t, e, a) + "/secrets/k", old)
    assert st == 401 and b"revoked" in body, (st, body)
    assert r1["container"]["name"] not in con_dirs(stack)
    # the app's container goes behind volmand's back, and volmand is killed before it
    # notices: the next volmand finds the generation's /con left over and unmounts it
    secret_dir = os.path.join(stack.vroot, "con", r2["container"]["name"], "secret")
    with open("/proc/self/mountinfo") as fh:
        assert (" %s " % secret_dir) in fh.read()
    st, data = stack.engine("DELETE", "/containers/%s?force=1" % r2["container"]["id"])
    assert st == 204, (st, data)
    stack.restart_volmand()
    with open("/proc/self/mountinfo") as fh:
        assert (" %s " % secret_dir) not in fh.read(), "the gone container's secrets are still mounted"
    assert r2["container"]["name"] not in con_dirs(stack)
    # and the app deploys again
    r3 = deploy(stack, t, e, a, "cat /con/secret/k; echo")
    assert "v1" in stack.wait_ready(r3["container"]["id"])


def test_con_init_runs_the_images_own_command(stack, apps):
    t, e, a = uniq("t"), "prod", "imgcmd"
    apps.append((t, e, a))
    stack.put_config({"con": True}, t, e, a)
    put_file(stack, app_path(t, e, a), "configuration", "ENV", b"FOO=from-env-file\n")
    res = stack.volman("POST", app_path(t, e, a) + "/deploy", {"image": CON_IMAGE}, expect=200)[1]
    out = stack.wait_ready(res["container"]["id"])
    assert "IMAGE-CMD uid=1000 FOO=from-env-file" in out, out
    cmdline = stack.inspect(res["container"]["id"])
    assert cmdline["Path"] == "/con/.init", cmdline["Path"]
    # an image with neither entrypoint nor command, and no command given: a clear refusal
    st, j = stack.volman("POST", app_path(t, e, a) + "/deploy", {"image": IMAGE})
    assert st == 400 and "nothing to run" in j["error"]["message"], (st, j)
    assert [c["Id"] for c in running(stack, t, e, a)] == [res["container"]["id"]]
