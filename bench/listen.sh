#!/usr/bin/env bash
# bench/listen.sh: the HTTPS listener (volmand --listen) measured. A benchmark, not a
# test: run it on purpose, as root (`sudo bench/listen.sh`).
#
#  1. Inspect of one volume on one kept-alive connection: over TLS with a tenant's
#     bearer token against the same over the unix socket, interleaved round by round.
#     Target: TLS median <= 2x unix median.
#  2. The console's data calls over TLS with the token at 10,000 volumes (whoami, the
#     app list, an app's page, a layer's check, a page of volumes, a filtered page).
#     Target: every call's median <= 20 ms.
#
# Environment (all optional):
#   LISTEN_BENCH_VOLUMES=10000   volumes of the tenant
#   LISTEN_BENCH_ROUNDS=5        rounds of inspects
#   LISTEN_BENCH_REQUESTS=5000   inspects per round and transport (a tenth per console call)
#   LISTEN_BENCH_TMPDIR=/var/tmp where the temporary root goes (a real disk)
#   LISTEN_BENCH_BUILD=build-bench   build directory (release)
#   LISTEN_BENCH_OUT=bench/results/YYYY-MM-DD-listen.txt
set -uo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
VOLUMES=${LISTEN_BENCH_VOLUMES:-10000}
ROUNDS=${LISTEN_BENCH_ROUNDS:-5}
REQUESTS=${LISTEN_BENCH_REQUESTS:-5000}
BENCH_TMP=${LISTEN_BENCH_TMPDIR:-/var/tmp}
BUILD=${LISTEN_BENCH_BUILD:-build-bench}
OUT=${LISTEN_BENCH_OUT:-$REPO/bench/results/$(date -u +%F)-listen.txt}

die() { echo "listen.sh: $*" >&2; exit 1; }
log() { echo "listen.sh: $*" >&2; }
[[ $(id -u) == 0 ]] || die "run me as root (sudo bench/listen.sh)"

cd "$REPO" || die "no repo at $REPO"
bash scripts/deps.sh || die "installing the build's packages failed"
if [[ ! -f $BUILD/build.ninja ]]; then
        meson setup "$BUILD" --buildtype=release >/dev/null || die "meson setup $BUILD failed"
fi
ninja -C "$BUILD" volmand cli/volman bench/listen_bench >/dev/null || die "building failed"

T=$(mktemp -d "$BENCH_TMP/volman-listen-bench.XXXXXX") || die "mktemp failed"
PID=
cleanup() { [[ -n $PID ]] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT

"$BUILD/volmand" --root "$T/root" --socket "$T/volman.sock" --plugin-socket none \
        --listen 127.0.0.1:0 >"$T/volmand.log" 2>&1 &
PID=$!
for _ in $(seq 100); do
        PORT=$(grep -o 'serving HTTPS on 127.0.0.1:[0-9]*' "$T/volmand.log" | grep -o '[0-9]*$')
        [[ -n $PORT ]] && break
        sleep 0.1
done
[[ -n ${PORT:-} ]] || { cat "$T/volmand.log" >&2; die "volmand did not start its listener"; }
TOKEN=$("$BUILD/cli/volman" --socket "$T/volman.sock" token create --tenant acme --name bench 2>/dev/null) ||
        die "making a token failed"

{
        echo "# bench/listen.sh, $(date -u +%FT%TZ), $(nproc) CPUs, $(uname -r), volmand $(git rev-parse --short HEAD)"
        echo "# release build; root on $(df --output=fstype "$BENCH_TMP" | tail -1) ($BENCH_TMP)"
        "$BUILD/bench/listen_bench" --socket "$T/volman.sock" --port "$PORT" --ca "$T/root/tls/cert.pem" \
                --token "$TOKEN" --tenant acme --volumes "$VOLUMES" --rounds "$ROUNDS" --requests "$REQUESTS"
} | tee "$OUT"
rc=${PIPESTATUS[0]}
((rc == 0)) || die "listen_bench failed (see $T/volmand.log)"
log "results in $OUT"
