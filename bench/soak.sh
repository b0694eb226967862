#!/usr/bin/env bash
# The soak (bench/soak.py) against a release volmand on a temporary root on
# disk: CLIENTS processes of random operations for SECONDS, then a consistency
# check; the report goes to stdout and to bench/results/YYYY-MM-DD-soak.txt.
#
#   sudo bench/soak.sh                         # 16 clients, 8 minutes
#   sudo SOAK_SECONDS=60 bench/soak.sh         # a short one
set -euo pipefail
[ "$(id -u)" = 0 ] || exec sudo "$0" "$@"
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
SECONDS_=${SOAK_SECONDS:-480}
CLIENTS=${SOAK_CLIENTS:-16}
BUILD=${SOAK_BUILD:-$repo/build-bench}
scripts/deps.sh >/dev/null
[ -f "$BUILD/build.ninja" ] || meson setup "$BUILD" --buildtype=release >/dev/null
ninja -C "$BUILD" volmand >/dev/null
top=$(mktemp -d /var/tmp/volman-soak.XXXXXX)
pid=
cleanup() {
        [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
        grep -o '/var/tmp/volman-soak[^ ]*' /proc/self/mountinfo 2>/dev/null | sort -r | xargs -r umount -l 2>/dev/null || true
        rm -rf "$top"
}
trap cleanup EXIT
"$BUILD/volmand" --root "$top/root" --socket "$top/v.sock" --plugin-socket "$top/p.sock" \
        --memory-max-total 64m 2>"$top/volmand.log" &
pid=$!
for _ in $(seq 100); do
        curl -sf --unix-socket "$top/v.sock" http://x/v1/health >/dev/null 2>&1 && break
        sleep 0.05
done
mkdir -p bench/results
rc=0
/usr/bin/python3 bench/soak.py --socket "$top/v.sock" --plugin-socket "$top/p.sock" --pid "$pid" \
        --root "$top/root" --seconds "$SECONDS_" --clients "$CLIENTS" \
        --report "bench/results/$(date -u +%Y-%m-%d)-soak.txt" || rc=$?
echo "volmand log: $(grep -c ' error: ' "$top/volmand.log" || true) error lines, $(wc -l <"$top/volmand.log") lines"
exit $rc
