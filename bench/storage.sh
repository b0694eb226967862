#!/usr/bin/env bash
# bench/storage.sh: snapshots, export and import, clones, measured against what they
# replace (bench/storage.py says what and the targets). A benchmark, not a test: run it on
# purpose, as root (`sudo bench/storage.sh`). It makes a 6 GiB btrfs image under the
# bench folder and removes everything at the end.
#
# Environment (all optional):
#   STORAGE_BENCH_ROUNDS=5           rounds of each measure
#   STORAGE_BENCH_TMPDIR=/var/tmp    the bench disk (export, import, tar, the plain-copy clone)
#   STORAGE_BENCH_BUILD=build-bench  build directory (release)
#   STORAGE_BENCH_OUT=bench/results/YYYY-MM-DD-storage.txt
set -uo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${STORAGE_BENCH_ROUNDS:-5}
BENCH_TMP=${STORAGE_BENCH_TMPDIR:-/var/tmp}
BUILD=${STORAGE_BENCH_BUILD:-build-bench}
OUT=${STORAGE_BENCH_OUT:-$REPO/bench/results/$(date -u +%F)-storage.txt}

die() { echo "storage.sh: $*" >&2; exit 1; }
[[ $(id -u) == 0 ]] || die "run me as root (sudo bench/storage.sh): mounts need it"
grep -qw btrfs /proc/filesystems || die "this kernel has no btrfs: the snapshot and reflink figures need it"

cd "$REPO" || die "no repo at $REPO"
bash scripts/deps.sh || die "installing the build's packages failed"
[[ -f $BUILD/build.ninja ]] || meson setup "$BUILD" --buildtype=release >/dev/null || die "meson setup failed"
ninja -C "$BUILD" volmand cli/volman >/dev/null || die "building failed"

T=$(mktemp -d "$BENCH_TMP/volman-storage-bench.XXXXXX") || die "mktemp failed"
cleanup() {
        pkill -f "volmand --root $T" 2>/dev/null
        sleep 0.5
        for m in $(grep -o " $T[^ ]*" /proc/self/mounts | sort -r); do umount -l "$m" 2>/dev/null; done
        rm -rf "$T"
}
trap cleanup EXIT
truncate -s 6G "$T/btrfs.img" && mkfs.btrfs -q -f "$T/btrfs.img" && mkdir "$T/btrfs" &&
        mount -o loop "$T/btrfs.img" "$T/btrfs" || die "making the btrfs filesystem failed"

{
        echo "# bench/storage.sh, $(date -u +%FT%TZ), $(nproc) CPUs, $(uname -r), volmand $(git rev-parse --short HEAD)"
        echo "# release build; bench disk $(df --output=fstype "$BENCH_TMP" | tail -1) ($BENCH_TMP); btrfs on a loop image there"
        /usr/bin/python3 bench/storage.py "$REPO/$BUILD" "$T" "$T/btrfs" "$ROUNDS"
} | tee "$OUT"
((PIPESTATUS[0] == 0)) || die "the bench failed"
echo "storage.sh: results in $OUT" >&2
