#!/usr/bin/env bash
# Installs the Debian packages volman needs, if missing (run as root).
#   scripts/deps.sh            build and unit/integration test dependencies
#   scripts/deps.sh --engines  also dockerd, Podman, runc and busybox, for the
#                              engine and app tests (tests/engines, tests/apps)
#   scripts/deps.sh --console  also Chromium and playwright-core (npm ci in
#                              tests/console), for the console's browser tests
#                              (flags combine: --engines --console)
set -euo pipefail
base=(meson ninja-build pkg-config gcc libsqlite3-dev libjansson-dev
      libcurl4-openssl-dev libgnutls28-dev libbtrfsutil-dev libarchive-dev libzstd-dev libsodium-dev btrfs-progs e2fsprogs libcmocka-dev libfyaml-dev python3-pytest python3-requests
      sqlite3 curl fuse3 libfuse3-dev)
# Operations (docs/operations.md): the man pages (scdoc; man-db renders them in
# the tests), the zsh completion's tests, the .deb (dpkg-dev: dpkg-shlibdeps),
# systemd-analyze and systemd-tmpfiles for the unit's tests.
base+=(scdoc man-db groff-base zsh dpkg-dev systemd)
# Cluster mode's store (docs/cluster.md): the tests start their own etcd; the
# partition test cuts a node off in a network namespace (ip, from iproute2).
base+=(etcd-server iproute2)
# Podman as shared/RECIPES.md installs it (with its recommended helpers);
# docker.io without recommends (no containerd shims, no cgroupfs-mount).
engines=(podman runc busybox-static)
engines_norec=(docker.io)

missing() { for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done; }

want_engines=0 want_console=0
for arg in "$@"; do
    case $arg in
    --engines) want_engines=1 ;;
    --console) want_console=1 ;;
    *) echo "deps: unknown flag $arg (--engines, --console)" >&2; exit 2 ;;
    esac
done
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# The console tests' npm packages (tests/console/package-lock.json): playwright-core
# only, which downloads no browser; they drive Debian's chromium. Node 20 and npm come
# with the machine (a nodesource build): Debian's npm package would conflict with it.
npm_console() {
    ((want_console)) || return 0
    [ -d "$repo/tests/console/node_modules/playwright-core" ] && return 0
    if ! command -v npm >/dev/null; then
        echo "deps: npm is missing: the console tests need Node 20 or later with npm" >&2
        exit 1
    fi
    echo "deps: npm ci in tests/console"
    (cd "$repo/tests/console" && npm ci --no-audit --no-fund </dev/null)
}

m_base=($(missing "${base[@]}"))
m_eng=() m_norec=()
if ((want_engines)); then
    m_eng=($(missing "${engines[@]}"))
    m_norec=($(missing "${engines_norec[@]}"))
fi
if ((want_console)); then
    m_eng+=($(missing chromium))  # with its recommends (fonts), as shared/RECIPES.md installs it
fi
if ((${#m_base[@]} + ${#m_eng[@]} + ${#m_norec[@]} == 0)); then
    npm_console
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "deps: missing packages: ${m_base[*]} ${m_eng[*]} ${m_norec[*]}; run as root" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q </dev/null
if ((${#m_base[@]})); then
    echo "deps: installing ${m_base[*]}"
    apt-get install -y -q --no-install-recommends "${m_base[@]}" </dev/null
fi
if ((${#m_eng[@]})); then
    echo "deps: installing ${m_eng[*]}"
    apt-get install -y -q "${m_eng[@]}" </dev/null
fi
if ((${#m_norec[@]})); then
    echo "deps: installing ${m_norec[*]}"
    apt-get install -y -q --no-install-recommends "${m_norec[@]}" </dev/null
fi
npm_console
