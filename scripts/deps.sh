#!/usr/bin/env bash
# Installs the Debian packages volman needs to build and test, if missing.
# Usage: scripts/deps.sh [extra-package...]   (run as root)
set -euo pipefail
pkgs=(meson ninja-build pkg-config gcc libmicrohttpd-dev libsqlite3-dev libjansson-dev
      libcurl4-openssl-dev libfyaml-dev uuid-dev libcmocka-dev python3-pytest python3-requests sqlite3 curl "$@")
missing=()
for p in "${pkgs[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
