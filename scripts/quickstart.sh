#!/usr/bin/env bash
# Installs what is missing, builds volman, starts volmand on its default
# root (/var/lib/volman) and socket (/run/volman/volman.sock), and shows a
# volume being created, listed and removed through the CLI. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
# Root is needed (volmand mounts under /var/lib/volman): a root shell runs it
# as it is; anyone else goes through sudo, if the machine has it.
if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "quickstart: run as root (there is no sudo here)" >&2; exit 1; }
    exec sudo "$0" "$@"
fi

scripts/deps.sh
[ -d build/meson-private ] || meson setup build --buildtype=release >/dev/null
ninja -C build volmand cli/volman >/dev/null

sock=/run/volman/volman.sock
if ! curl -sf --unix-socket "$sock" http://localhost/v1/health >/dev/null 2>&1; then
    mkdir -p /run/volman
    nohup build/volmand >/run/volman/volmand.log 2>&1 &
    echo $! >/run/volman/volmand.pid
    for _ in $(seq 50); do
        curl -sf --unix-socket "$sock" http://localhost/v1/health >/dev/null 2>&1 && break
        sleep 0.1
    done
    echo "volmand started (pid $(cat /run/volman/volmand.pid), log /run/volman/volmand.log)"
fi

set -x
build/cli/volman volume create --label demo=quickstart demo-data
build/cli/volman volume create --tenant acme --env prod --app orders --path /var/lib/state
build/cli/volman volume ls
build/cli/volman volume inspect demo-data
build/cli/volman volume rm demo-data volman-acme-prod-orders-var-lib-state
build/cli/volman volume ls
{ set +x; } 2>/dev/null
echo "volmand keeps running; stop it with: kill \$(cat /run/volman/volmand.pid)"
