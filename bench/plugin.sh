#!/usr/bin/env bash
# bench/plugin.sh: volmand as a Docker volume plugin, measured. A benchmark, not a test:
# run it on purpose, as root (`sudo bench/plugin.sh`).
#
#  1. Mount and Unmount latency over the plugin socket: POST /VolumeDriver.Mount {"Name","ID"}
#     then /VolumeDriver.Unmount on one keep-alive connection, N times with distinct IDs (as
#     dockerd does), with bench/plugin_bench. Target: median <= 50 us for each.
#  2. Wall time of `docker run --rm -v V:/d bb:latest true` with a volman volume against the
#     same with a `local` volume, alternating, RUNS runs each, on one dockerd.
#     Target: volman's median <= 5% slower than local's.
#
# Environment (all optional):
#   PLUGIN_BENCH_N=3000        Mount/Unmount pairs (after 100 untimed ones)
#   PLUGIN_BENCH_RUNS=30       docker runs per volume kind (after 3 untimed ones each)
#   PLUGIN_BENCH_TMPDIR=/var/tmp   where the temporary roots go (must be a real disk)
#   PLUGIN_BENCH_BUILD=build-bench-plugin   build directory (release)
#   PLUGIN_BENCH_OUT=bench/results/YYYY-MM-DD-plugin.txt
set -uo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
N=${PLUGIN_BENCH_N:-3000}
RUNS=${PLUGIN_BENCH_RUNS:-30}
BENCH_TMP=${PLUGIN_BENCH_TMPDIR:-/var/tmp}
BUILD=${PLUGIN_BENCH_BUILD:-build-bench-plugin}
OUT=${PLUGIN_BENCH_OUT:-$REPO/bench/results/$(date -u +%F)-plugin.txt}
T_MOUNT_US=50
T_RUN_SLOWER_PCT=5
SPEC_DIR=/etc/docker/plugins

die() { echo "plugin.sh: $*" >&2; exit 1; }
log() { echo "plugin.sh: $*" >&2; }

for v in N RUNS; do
        [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive number (got '${!v}')"
done
[[ $(id -u) == 0 ]] || die "run me as root (sudo bench/plugin.sh): dockerd and mounts need it"

# ---------------------------------------------------------------------------- tools
need_pkgs=()
command -v meson >/dev/null || need_pkgs+=(meson)
command -v ninja >/dev/null || need_pkgs+=(ninja-build)
command -v dockerd >/dev/null || need_pkgs+=(docker.io)
[[ -x /bin/busybox ]] || need_pkgs+=(busybox-static)
command -v curl >/dev/null || need_pkgs+=(curl)
if ((${#need_pkgs[@]})); then
        log "installing ${need_pkgs[*]}"
        apt-get update -qq || die "apt-get update failed"
        apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null ||
                die "cannot install ${need_pkgs[*]}"
fi
DOCKER_CLI=/usr/bin/docker
[[ -x $DOCKER_CLI ]] || DOCKER_CLI=$(command -v docker) || die "no docker CLI"

# ---------------------------------------------------------------------------- build
cd "$REPO" || die "no repo at $REPO"
if [[ ! -f $BUILD/build.ninja ]]; then
        meson setup "$BUILD" --buildtype=release >/dev/null || die "meson setup $BUILD failed"
fi
ninja -C "$BUILD" volmand bench/plugin_bench >"$BENCH_TMP/plugin-bench-build.$$.log" 2>&1 || {
        tail -30 "$BENCH_TMP/plugin-bench-build.$$.log" >&2
        rm -f "$BENCH_TMP/plugin-bench-build.$$.log"
        die "build failed"
}
rm -f "$BENCH_TMP/plugin-bench-build.$$.log"
VOLMAND=$REPO/$BUILD/volmand
PLUGIN_BENCH=$REPO/$BUILD/bench/plugin_bench

# ---------------------------------------------------------------------------- temp dir + cleanup
TMP=$(mktemp -d "$BENCH_TMP/volman-plugin.XXXXXX") || die "mktemp failed"
FSTYPE=$(stat -f -c %T "$TMP")
[[ $FSTYPE != tmpfs ]] || { rm -rf "$TMP"; die "$BENCH_TMP is tmpfs: fsync would cost nothing there"; }
DRIVER=volman-bench-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
SPEC=$SPEC_DIR/$DRIVER.spec
VOLMAND_PID=
DOCKERD_PID=
DOCKER=("$DOCKER_CLI" -H "unix://$TMP/docker/docker.sock")

stop_pid() { # PID: SIGTERM, wait up to 30 s, then SIGKILL
        local pid=$1 i
        [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
        kill -TERM "$pid" 2>/dev/null
        for ((i = 0; i < 300; i++)); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
        done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        return 0
}

cleanup() {
        trap - EXIT INT TERM
        if [[ -n $DOCKERD_PID ]] && kill -0 "$DOCKERD_PID" 2>/dev/null; then
                local ids
                ids=$("${DOCKER[@]}" ps -aq 2>/dev/null)
                [[ -n $ids ]] && "${DOCKER[@]}" rm -f $ids >/dev/null 2>&1
        fi
        stop_pid "$DOCKERD_PID"
        stop_pid "$VOLMAND_PID"
        # Anything else started under our directory (dockerd's containerd, if dockerd died).
        local pid
        for pid in $(grep -lsF -- "$TMP" /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3); do
                [[ $pid != "$$" ]] && stop_pid "$pid"
        done
        rm -f "$SPEC"
        # dockerd leaves mounts in its exec-root; volmand leaves its tmpfs volumes mounted.
        local mp
        for _ in 1 2 3; do
                mp=$(awk -v t="$TMP" '$5 == t || index($5, t "/") == 1 {print $5}' /proc/self/mountinfo |
                        awk '{print gsub("/", "/"), $0}' | sort -rn | cut -d' ' -f2-)
                [[ -z $mp ]] && break
                while read -r m; do umount -R "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done <<<"$mp"
        done
        if awk -v t="$TMP" 'index($5, t) == 1 {f=1} END {exit !f}' /proc/self/mountinfo; then
                log "mounts are left under $TMP; not removing it"
        else
                rm -rf "$TMP"
        fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_http() { # SOCKET URL METHOD SECONDS
        local i
        for ((i = 0; i < $4 * 10; i++)); do
                curl -sf --max-time 2 -X "$3" --unix-socket "$1" "http://localhost$2" >/dev/null 2>&1 && return 0
                sleep 0.1
        done
        return 1
}

# Nearest-rank percentile of the numbers on stdin: pct P
pct() { sort -n | awk -v p="$1" '{a[NR] = $1} END {r = int(p / 100 * NR + 0.999999); if (r < 1) r = 1; print a[r]}'; }

# ---------------------------------------------------------------------------- volmand
mkdir -p "$TMP/volman" "$TMP/docker"
"$VOLMAND" --root "$TMP/volman/root" --socket "$TMP/volman/volman.sock" \
        --plugin-socket "$TMP/volman/plugin.sock" >"$TMP/volman/volmand.log" 2>&1 &
VOLMAND_PID=$!
wait_http "$TMP/volman/volman.sock" /v1/health GET 15 || { cat "$TMP/volman/volmand.log" >&2; die "volmand did not start"; }
wait_http "$TMP/volman/plugin.sock" /Plugin.Activate POST 5 || die "volmand's plugin socket does not answer"
api() { curl -sS --max-time 60 --unix-socket "$TMP/volman/volman.sock" "$@"; }

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------------------- 1. mount/unmount
api -X POST -d '{"name":"plugin-bench-mount"}' http://localhost/v1/volumes | grep -q '"status":"ready"' ||
        die "cannot create the mount volume"
log "fsync floor: 2000 in-place 4 KiB writes + fdatasync in $TMP"
FLOOR_RAW=$("$PLUGIN_BENCH" -f "$TMP/fsync-floor" -n 2000)
echo "$FLOOR_RAW" >&2
FLOOR_MED=$(echo "$FLOOR_RAW" | grep -o 'median_us=[0-9]*' | cut -d= -f2)
FLOOR_P99=$(echo "$FLOOR_RAW" | grep -o 'p99_us=[0-9]*' | cut -d= -f2)
log "mount/unmount: $N pairs on one connection"
MOUNT_RAW=$(timeout 600 "$PLUGIN_BENCH" -s "$TMP/volman/plugin.sock" -v plugin-bench-mount -n "$N")
MOUNT_RC=$?
echo "$MOUNT_RAW" >&2
LEFT_REFS=$(api http://localhost/v1/volumes/plugin-bench-mount | grep -o '"mounts":\[[^]]*\]')
field() { # OP KEY
        echo "$MOUNT_RAW" | awk -v op="$1" -v k="$2" '$2 == "op=" op {for (i = 1; i <= NF; i++) {split($i, kv, "="); if (kv[1] == k) print kv[2]}}'
}

# ---------------------------------------------------------------------------- 2. docker run
mkdir -p "$SPEC_DIR"
echo "unix://$TMP/volman/plugin.sock" >"$SPEC"
dockerd --iptables=false --ip-masq=false --bridge=none --storage-driver=vfs \
        --host "unix://$TMP/docker/docker.sock" --data-root "$TMP/docker/data" \
        --exec-root "$TMP/docker/exec" --pidfile "$TMP/docker/docker.pid" \
        >"$TMP/docker/dockerd.log" 2>&1 &
DOCKERD_PID=$!
wait_http "$TMP/docker/docker.sock" /_ping GET 20 || { tail -20 "$TMP/docker/dockerd.log" >&2; die "dockerd did not answer /_ping in 20 s"; }

rootfs=$TMP/rootfs
mkdir -p "$rootfs"/{bin,tmp,proc,dev,sys,etc}
cp /bin/busybox "$rootfs/bin/"
for a in sh true cat echo ls; do ln -s busybox "$rootfs/bin/$a"; done
tar cf "$TMP/bb.tar" -C "$rootfs" . || die "tar failed"
timeout 120 "${DOCKER[@]}" import "$TMP/bb.tar" bb:latest >/dev/null || die "docker import failed"
timeout 120 "${DOCKER[@]}" volume create -d "$DRIVER" bench-volman >/dev/null || die "cannot create the volman volume"
timeout 120 "${DOCKER[@]}" volume create bench-local >/dev/null || die "cannot create the local volume"

run_once() { # VOLUME -> prints milliseconds (3 decimals), or FAIL
        local t0 t1
        t0=$(date +%s%N)
        if timeout 120 "${DOCKER[@]}" run --rm --network none -v "$1:/d" bb:latest true >/dev/null 2>"$TMP/run.err"; then
                t1=$(date +%s%N)
                awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f\n", (b - a) / 1e6}'
        else
                echo FAIL
                cat "$TMP/run.err" >&2
        fi
}
log "docker run: 3 untimed runs of each, then $RUNS of each, alternating"
for _ in 1 2 3; do run_once bench-volman >/dev/null; run_once bench-local >/dev/null; done
: >"$TMP/volman.ms"
: >"$TMP/local.ms"
RUN_FAILS=0
for ((i = 0; i < RUNS; i++)); do
        # Alternate which goes first, so neither always follows the other.
        if ((i % 2)); then order=(local volman); else order=(volman local); fi
        for k in "${order[@]}"; do
                ms=$(run_once "bench-$k")
                if [[ $ms == FAIL ]]; then RUN_FAILS=$((RUN_FAILS + 1)); else echo "$ms" >>"$TMP/$k.ms"; fi
        done
done
RUN_REFS=$(api http://localhost/v1/volumes/bench-volman | grep -o '"mounts":\[[^]]*\]')
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
VOLMAND_LOG_ERRORS=$(grep -ciE 'error|warning' "$TMP/volman/volmand.log")

# ---------------------------------------------------------------------------- report
judge_max() { # VALUE TARGET -> met/MISSED with margin in percent of the target
        awk -v v="$1" -v t="$2" 'BEGIN {
                if (v == "") { print "MISSED (no figure)"; exit }
                d = (t - v) / t * 100
                if (v <= t) printf "met (%.0f%% under)\n", d; else printf "MISSED (%.0f%% over)\n", -d }'
}
vm_med=$(pct 50 <"$TMP/volman.ms"); vm_p90=$(pct 90 <"$TMP/volman.ms")
lo_med=$(pct 50 <"$TMP/local.ms"); lo_p90=$(pct 90 <"$TMP/local.ms")
vm_n=$(wc -l <"$TMP/volman.ms"); lo_n=$(wc -l <"$TMP/local.ms")
slower=$(awk -v a="$vm_med" -v b="$lo_med" 'BEGIN {if (b > 0) printf "%+.1f", (a - b) / b * 100}')
slower_p90=$(awk -v a="$vm_p90" -v b="$lo_p90" 'BEGIN {if (b > 0) printf "%+.1f", (a - b) / b * 100}')
m_med=$(field mount median_us); u_med=$(field unmount median_us)
if ((MOUNT_RC)); then m_judge="MISSED (failed requests)"; u_judge=$m_judge
else m_judge=$(judge_max "$m_med" "$T_MOUNT_US"); u_judge=$(judge_max "$u_med" "$T_MOUNT_US"); fi
if ((RUN_FAILS)) || [[ -z $slower ]]; then r_judge="MISSED ($RUN_FAILS failed runs)"
else r_judge=$(awk -v s="$slower" -v t="$T_RUN_SLOWER_PCT" 'BEGIN {if (s <= t) printf "met (%+.1f%% vs a limit of +%d%%)\n", s, t; else printf "MISSED (%+.1f%% vs a limit of +%d%%)\n", s, t}'); fi

report() {
        echo "# volmand as a Docker volume plugin — $(date -u +%FT%TZ)"
        echo
        echo "host:      $(uname -sr), $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)"
        echo "volmand:   $("$VOLMAND" --version 2>&1 | head -1) (release build in $BUILD)"
        echo "dockerd:   $(dockerd --version)"
        echo "storage:   $TMP ($FSTYPE); dockerd --storage-driver=vfs"
        echo "load avg:  start $LOAD_START, end $LOAD_END"
        echo
        echo "## 1. Mount / Unmount over the plugin socket"
        echo "$N pairs after 100 untimed ones, one keep-alive connection, a fresh ID per Mount"
        echo "(dockerd's pattern), each pair followed by a Get of the volume (one store read, no"
        echo "write: what Mount and Unmount cost beyond it is their write). Each Mount and each"
        echo "Unmount commits its mount reference to SQLite's WAL before answering, without an"
        echo "fsync: in-use protection survives a crash of volmand; a power loss ends every"
        echo "container, and references of an earlier boot are dropped at start-up."
        echo
        printf '%-9s %10s %10s %10s %10s %10s  %s\n' call median_us p90_us p99_us max_us mean_us "target: median <= ${T_MOUNT_US} us"
        for op in mount unmount get; do
                j=$m_judge; [[ $op == unmount ]] && j=$u_judge
                [[ $op == get ]] && j="no target: the same exchange with a read and no write"
                printf '%-9s %10s %10s %10s %10s %10s  %s\n' "$op" "$(field $op median_us)" \
                        "$(field $op p90_us)" "$(field $op p99_us)" "$(field $op max_us)" "$(field $op mean_us)" "$j"
        done
        echo "mount references left after the run: ${LEFT_REFS:-?} (expected none)"
        echo "the floor on this disk, one in-place 4 KiB write + fdatasync: median ${FLOOR_MED:-?} us,"
        echo "p99 ${FLOOR_P99:-?} us (plugin_bench -f). Mount and Unmount pay no fdatasync: they are"
        echo "not bounded by this floor."
        echo
        echo "## 2. docker run --rm --network none -v V:/d bb:latest true"
        echo "$RUNS runs per volume after 3 untimed ones each, alternating volman/local (order"
        echo "flipped every round), one dockerd; wall time of the docker CLI call, in ms."
        echo
        printf '%-14s %5s %10s %10s\n' volume runs median_ms p90_ms
        printf '%-14s %5s %10s %10s\n' "volman" "$vm_n" "$vm_med" "$vm_p90"
        printf '%-14s %5s %10s %10s\n' "local" "$lo_n" "$lo_med" "$lo_p90"
        echo "volman vs local: median ${slower}%, p90 ${slower_p90}%  target: <= +${T_RUN_SLOWER_PCT}% at the median: $r_judge"
        echo "failed runs: $RUN_FAILS; mount references on the volman volume after the runs: ${RUN_REFS:-?}"
        echo
        echo "## Raw"
        echo "$FLOOR_RAW"
        echo "$MOUNT_RAW"
        echo "volman_ms: $(sort -n "$TMP/volman.ms" | tr '\n' ' ')"
        echo "local_ms:  $(sort -n "$TMP/local.ms" | tr '\n' ' ')"
        echo "volmand log lines with error/warning: $VOLMAND_LOG_ERRORS"
        echo
        echo "## Caveats"
        echo "- Mount/Unmount latency is a SQLite commit without fsync (one WAL frame) and the HTTP"
        echo "  exchange, answered on volmand's event thread with no hand-off to a worker; other"
        echo "  load on the two cores moves it, and on a virtual machine so does the host."
        echo "- A docker run also costs a Get (and a Mount and an Unmount) per volman volume, each"
        echo "  on a new connection from dockerd; the local driver does none of that."
        echo "- Other load on the machine moves every figure: see the load averages above."
}
mkdir -p "$(dirname "$OUT")"
report | tee "$OUT"
log "report written to $OUT"
