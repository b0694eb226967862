#!/usr/bin/env bash
# Removal of a big volume against `rm -rf` of the same tree, side by side on
# one disk: a benchmark, not a test. The tree has REMOVE_DIRS empty sibling
# directories and REMOVE_FILES small files (100,000 each by default): flat
# on purpose, since siblings are what made the old walk quadratic.
#
# volmand answers a removal once it is recorded; the tree goes in the
# background. Measured here: from the DELETE to the directory's disappearance
# (the whole walk), and for rm -rf from its start to its end. Also measured:
# the latency of mounting another volume while the walk runs (it must not wait
# for it).
#
#   sudo bench/remove.sh                       # 100,000 + 100,000, 3 rounds
#   sudo REMOVE_DIRS=20000 REMOVE_FILES=20000 REMOVE_ROUNDS=1 bench/remove.sh
#
# The report goes to stdout and to bench/results/YYYY-MM-DD-remove.txt.
set -euo pipefail
[ "$(id -u)" = 0 ] || exec sudo "$0" "$@"
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

DIRS=${REMOVE_DIRS:-100000}
FILES=${REMOVE_FILES:-100000}
ROUNDS=${REMOVE_ROUNDS:-3}
BUILD=${REMOVE_BUILD:-$repo/build-bench}
PY=/usr/bin/python3

scripts/deps.sh >/dev/null
[ -f "$BUILD/build.ninja" ] || meson setup "$BUILD" --buildtype=release >/dev/null
ninja -C "$BUILD" volmand >/dev/null

top=$(mktemp -d /var/tmp/volman-remove.XXXXXX)
[ "$(stat -f -c %T "$top")" != tmpfs ] || { echo "remove.sh: $top is tmpfs; use a disk" >&2; exit 1; }
pid=
cleanup() {
        [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
        rm -rf "$top"
}
trap cleanup EXIT
sock=$top/volman.sock
"$BUILD/volmand" --root "$top/root" --socket "$sock" --plugin-socket none 2>"$top/volmand.log" &
pid=$!
for _ in $(seq 100); do
        curl -sf --unix-socket "$sock" http://x/v1/health >/dev/null 2>&1 && break
        sleep 0.05
done

# Fills a directory with the tree; prints nothing.
fill() {
        "$PY" - "$1" "$DIRS" "$FILES" <<'PY'
import os, sys
top, dirs, files = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
os.makedirs(os.path.join(top, "dirs"), exist_ok=True)
os.makedirs(os.path.join(top, "files"), exist_ok=True)
for i in range(dirs):
    os.mkdir(os.path.join(top, "dirs", "d%07d" % i))
for i in range(files):
    fd = os.open(os.path.join(top, "files", "f%07d" % i), os.O_CREAT | os.O_WRONLY, 0o644)
    os.write(fd, b"x" * 64)
    os.close(fd)
PY
        sync
}

api() { curl -sf --unix-socket "$sock" -X "$1" ${3:+-d "$3"} "http://x$2"; }
now() { date +%s.%N; }

# Median of the arguments.
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

volman_times=() rm_times=() mount_lat=()
api POST /v1/volumes '{"name":"neighbour"}' >/dev/null
for r in $(seq "$ROUNDS"); do
        mp=$(api POST /v1/volumes '{"name":"big"}' | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["mountpoint"])')
        fill "$mp"
        t0=$(now)
        api DELETE /v1/volumes/big >/dev/null
        # another volume's mount while the walk runs
        m0=$(now)
        api POST /v1/volumes/neighbour/mount '{"id":"bench"}' >/dev/null
        m1=$(now)
        api POST /v1/volumes/neighbour/unmount '{"id":"bench"}' >/dev/null
        while [ -e "$mp" ]; do sleep 0.005; done
        t1=$(now)
        volman_times+=("$(echo "$t1 - $t0" | bc -l)")
        mount_lat+=("$(echo "($m1 - $m0) * 1000" | bc -l)")

        plain=$top/plain
        mkdir -p "$plain"
        fill "$plain"
        t0=$(now)
        rm -rf "$plain"
        t1=$(now)
        rm_times+=("$(echo "$t1 - $t0" | bc -l)")
        echo "round $r: volman ${volman_times[-1]} s, rm -rf ${rm_times[-1]} s, a neighbour's mount during the walk ${mount_lat[-1]} ms" >&2
done

v=$(median "${volman_times[@]}")
p=$(median "${rm_times[@]}")
m=$(median "${mount_lat[@]}")
ratio=$(echo "$v / $p" | bc -l)
verdict=$(echo "$ratio <= 2" | bc -l)
fs=$(stat -f -c %T "$top")
out=$(mktemp)
{
        echo "# volman: removing a volume of $DIRS empty directories and $FILES files of 64 bytes"
        echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ), $(uname -r), $(nproc) cores, $fs under $top, $ROUNDS rounds (medians)"
        echo
        printf '%-44s %12s\n' "volman (DELETE to directory gone)" "$(printf '%.3f s' "$v")"
        printf '%-44s %12s\n' "rm -rf of the same tree" "$(printf '%.3f s' "$p")"
        printf '%-44s %12s\n' "ratio volman / rm -rf (target <= 2x)" "$(printf '%.2fx %s' "$ratio" "$([ "$verdict" = 1 ] && echo met || echo MISSED)")"
        printf '%-44s %12s\n' "another volume's mount during the walk" "$(printf '%.2f ms' "$m")"
        echo
        echo "rounds: volman ${volman_times[*]}; rm -rf ${rm_times[*]}; mount ms ${mount_lat[*]}"
} | tee "$out"
mkdir -p bench/results
cp "$out" "bench/results/$(date -u +%Y-%m-%d)-remove.txt"
rm -f "$out"
