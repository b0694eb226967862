#!/usr/bin/env bash
# Installs the Debian packages volman needs, if missing (run as root).
#   scripts/deps.sh            build and unit/integration test dependencies
#   scripts/deps.sh --engines  also dockerd, Podman, runc and busybox, for the
#                              engine and app tests (tests/engines, tests/apps)
set -euo pipefail
base=(meson ninja-build pkg-config gcc libsqlite3-dev libjansson-dev
      libcurl4-openssl-dev libgnutls28-dev uuid-dev libcmocka-dev libfyaml-dev python3-pytest python3-requests
      sqlite3 curl fuse3 libfuse3-dev)
# Podman as shared/RECIPES.md installs it (with its recommended helpers);
# docker.io without recommends (no containerd shims, no cgroupfs-mount).
engines=(podman runc busybox-static)
engines_norec=(docker.io)

missing() { for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done; }

want_engines=0
[ "${1:-}" = --engines ] && want_engines=1

m_base=($(missing "${base[@]}"))
m_eng=() m_norec=()
if ((want_engines)); then
    m_eng=($(missing "${engines[@]}"))
    m_norec=($(missing "${engines_norec[@]}"))
fi
if ((${#m_base[@]} + ${#m_eng[@]} + ${#m_norec[@]} == 0)); then
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
