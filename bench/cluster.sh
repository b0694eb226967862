#!/usr/bin/env bash
# bench/cluster.sh: cluster mode side by side with one SQLite node, in one run
# (docs/cluster.md). A benchmark, not a test: run it on purpose, as root.
#
#   creates/s with CLIENTS clients: one SQLite volmand, then three volmand
#   nodes on one etcd (the clients spread over the three nodes' sockets; the
#   placement policy puts each volume, so most creates are passed on to
#   another node over HTTPS); inspect latency on the volume's own node and on
#   another node; and a volume's move (volman volume move) from n1 to n3
#   against `tar | tar` of the same tree between the same two roots, synced.
#
# Environment: VOLBENCH_N (volumes per create run, default 3000),
# VOLBENCH_CLIENTS (default 16), VOLBENCH_TMPDIR (a real disk, default
# /var/tmp), VOLBENCH_BUILD (release build dir, default build-bench),
# VOLBENCH_OUT (default bench/results/DATE-cluster.txt), VOLBENCH_MOVE_MB
# (the moved volume's size, default 1024: a quarter in 4 MiB files, the rest
# ... see fill_tree).
set -uo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
N=${VOLBENCH_N:-3000}
CLIENTS=${VOLBENCH_CLIENTS:-16}
BENCH_TMP=${VOLBENCH_TMPDIR:-/var/tmp}
BUILD=${VOLBENCH_BUILD:-build-bench}
OUT=${VOLBENCH_OUT:-$REPO/bench/results/$(date -u +%F)-cluster.txt}

die() { echo "cluster.sh: $*" >&2; exit 1; }
[[ $(id -u) == 0 ]] || die "run as root"
command -v etcd >/dev/null || die "etcd is missing (apt-get install etcd-server)"
cd "$REPO" || die "no repo"
[[ -f $BUILD/build.ninja ]] || meson setup "$BUILD" --buildtype=release >/dev/null || die "meson setup failed"
ninja -C "$BUILD" volmand bench/volbench >/dev/null || die "build failed"
VOLMAND=$REPO/$BUILD/volmand
VOLBENCH=$REPO/$BUILD/bench/volbench

WORK=$(mktemp -d "$BENCH_TMP/cluster.XXXXXX") || die "mktemp failed"
PIDS=()
cleanup() {
        for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
        for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
        rm -rf "$WORK"
}
trap cleanup EXIT

port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
say() { echo "$*" | tee -a "$WORK/out"; }
wait_sock() { for _ in $(seq 100); do [[ -S $1 ]] && return 0; sleep 0.1; done; die "no socket $1"; }
field() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p" | head -1; }

say "cluster.sh: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(nproc) CPUs, $N creates, $CLIENTS clients,"
say "disk $(findmnt -n -o SOURCE,FSTYPE -T "$WORK" | tr -s ' ')"

# --- one SQLite node ----------------------------------------------------------
"$VOLMAND" --root "$WORK/single" --socket "$WORK/single.sock" --plugin-socket none \
        >"$WORK/single.log" 2>&1 &
PIDS+=($!)
wait_sock "$WORK/single.sock"
r=$("$VOLBENCH" -s "$WORK/single.sock" -t volman -n "$N" -c "$CLIENTS" -p s- create)
say "sqlite, one node:      creates $(field "$r" ops_s)/s"
r=$("$VOLBENCH" -s "$WORK/single.sock" -t volman -n 1000 -p s- inspect)
say "sqlite, one node:      inspect median $(field "$r" median_us) us, p99 $(field "$r" p99_us) us"

# --- etcd and three nodes -----------------------------------------------------
cp=$(port) pp=$(port)
etcd --data-dir "$WORK/etcd" --listen-client-urls "http://127.0.0.1:$cp" --advertise-client-urls \
        "http://127.0.0.1:$cp" --listen-peer-urls "http://127.0.0.1:$pp" --initial-advertise-peer-urls \
        "http://127.0.0.1:$pp" --initial-cluster "default=http://127.0.0.1:$pp" >"$WORK/etcd.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$cp/health" >/dev/null && break; sleep 0.1; done
head -c 32 /dev/urandom | base64 >"$WORK/secret"
chmod 600 "$WORK/secret"
for n in 1 2 3; do
        lp=$(port)
        "$VOLMAND" --root "$WORK/n$n" --socket "$WORK/n$n.sock" --plugin-socket none \
                --store "etcd://127.0.0.1:$cp/bench" --node "n$n" --listen "127.0.0.1:$lp" \
                --advertise "https://127.0.0.1:$lp" --cluster-secret-file "$WORK/secret" >"$WORK/n$n.log" 2>&1 &
        PIDS+=($!)
done
for n in 1 2 3; do wait_sock "$WORK/n$n.sock"; done
sleep 1
per=$((N / 3)) cl=$(((CLIENTS + 2) / 3))
start=$(date +%s.%N)
runs=()
for n in 1 2 3; do
        "$VOLBENCH" -s "$WORK/n$n.sock" -t volman -n "$per" -c "$cl" -p "c$n-" create >"$WORK/c$n" &
        runs+=($!)
done
wait "${runs[@]}"
end=$(date +%s.%N)
fails=$(grep -L "status=ok" "$WORK"/c1 "$WORK"/c2 "$WORK"/c3 | wc -l)
rate=$(echo "scale=0; $((per * 3)) / ($end - $start)" | bc)
say "etcd, three nodes:     creates ${rate}/s ($((per * 3)) volumes, $((cl * 3)) clients; $fails runs failed)"
for n in 1 2 3; do say "  node n$n: $(curl -s --unix-socket "$WORK/n1.sock" http://x/v1/nodes | \
        /usr/bin/python3 -c "import json,sys; d={x['name']:x for x in json.load(sys.stdin)['nodes']}; print(d['n$n']['volumes'], 'volumes')")"; done
# inspect answers from etcd on any node (it is never passed on)
own=$(curl -s --unix-socket "$WORK/n1.sock" "http://x/v1/volumes?limit=10000" | /usr/bin/python3 -c \
        "import json,sys; print(sum(1 for v in json.load(sys.stdin)['volumes'] if v['node']=='n1'))")
say "  ($own volumes on n1)"
r=$("$VOLBENCH" -s "$WORK/n1.sock" -t volman -n 300 -p c1- inspect)
say "etcd, asked of n1:     inspect median $(field "$r" median_us) us, p99 $(field "$r" p99_us) us ($(field "$r" status))"
r=$("$VOLBENCH" -s "$WORK/n2.sock" -t volman -n 300 -p c1- inspect)
say "etcd, asked of n2:     inspect median $(field "$r" median_us) us, p99 $(field "$r" p99_us) us ($(field "$r" status))"

# --- a move against tar | tar ---------------------------------------------------
MOVE_MB=${VOLBENCH_MOVE_MB:-1024}
# fill_tree DIR: MOVE_MB of random bytes, half in 64 MiB files, half in 64 KiB
# files over 16 directories, as a database and an upload folder would hold
fill_tree() {
        local big=$((MOVE_MB / 2 / 64)) small=$((MOVE_MB / 2 * 16)) d
        for i in $(seq "$big"); do head -c 64M /dev/urandom >"$1/big$i"; done
        for d in $(seq 16); do
                mkdir "$1/d$d"
                for i in $(seq $((small / 16))); do head -c 64K /dev/urandom >"$1/d$d/f$i"; done
        done
}
mp=$(curl -sf --unix-socket "$WORK/n1.sock" -X POST http://x/v1/volumes -H 'Content-Type: application/json' \
        -d '{"name":"moved","node":"n1"}' | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["mountpoint"])')
[[ -d $mp ]] || die "could not create the volume to move"
fill_tree "$mp"
bytes=$(du -sb "$mp" | cut -f1)
sync
mkdir -p "$WORK/n3/tar-copy"
start=$(date +%s.%N)
tar -C "$mp" -cf - . | tar -C "$WORK/n3/tar-copy" -xf - && sync -f "$WORK/n3/tar-copy"
end=$(date +%s.%N)
tar_s=$(echo "$end - $start" | bc)
rm -rf "$WORK/n3/tar-copy"
sync
start=$(date +%s.%N)
st=$(curl -s -o "$WORK/move.json" -w '%{http_code}' --unix-socket "$WORK/n2.sock" -X POST \
        http://x/v1/volumes/moved/move -H 'Content-Type: application/json' -d '{"to":"n3"}')
end=$(date +%s.%N)
move_s=$(echo "$end - $start" | bc)
[[ $st == 200 ]] || die "the move failed: $(cat "$WORK/move.json")"
mb=$(echo "scale=1; $bytes / 1048576" | bc)
say "move of $mb MiB n1 -> n3 (asked of n2): $(printf %.2f "$move_s") s, $(echo "scale=0; $mb / $move_s" | bc) MiB/s"
say "tar | tar of the same tree, synced:   $(printf %.2f "$tar_s") s, $(echo "scale=0; $mb / $tar_s" | bc) MiB/s"
say "move / tar time: $(echo "scale=2; $move_s / $tar_s" | bc)"

mkdir -p "$(dirname "$OUT")"
cp "$WORK/out" "$OUT"
echo "written to $OUT"
