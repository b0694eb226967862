#!/usr/bin/env bash
# bench/run.sh: volmand and Podman's REST API side by side, on this machine, in one run.
# A benchmark, not a test: run it on purpose, as root (`sudo bench/run.sh`). See README.md.
#
# Environment (all optional):
#   VOLBENCH_N=2000             volumes for the sequential create/inspect/delete
#   VOLBENCH_ROUNDS=3           rounds of the sequential runs; the median round is reported
#   VOLBENCH_LIST_COUNT=10000   volumes present for the list measurement (made by the
#                               concurrent create, so it is also that run's size)
#   VOLBENCH_LIST_RUNS=11       list runs; the median is reported
#   VOLBENCH_CLIENTS=16         concurrent clients (one connection each)
#   VOLBENCH_RSS_COUNT=100000   volumes in volmand when its RSS is read
#   VOLBENCH_TARGETS="volman podman"   which servers to run (e.g. "podman" alone)
#   VOLBENCH_TMPDIR=/var/tmp    where the temporary roots go (must be a real disk)
#   VOLBENCH_BUILD=build-bench  build directory (release)
#   VOLBENCH_OUT=bench/results/YYYY-MM-DD-core.txt
#   VOLMAND=PATH                a volmand binary to use instead of building one
#   VOLMAND_ARGS=""             extra volmand arguments
# shellcheck disable=SC2317 # cleanup and its helpers run from the EXIT trap
set -uo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
N=${VOLBENCH_N:-2000}
ROUNDS=${VOLBENCH_ROUNDS:-3}
LIST_COUNT=${VOLBENCH_LIST_COUNT:-10000}
LIST_RUNS=${VOLBENCH_LIST_RUNS:-11}
CLIENTS=${VOLBENCH_CLIENTS:-16}
RSS_COUNT=${VOLBENCH_RSS_COUNT:-100000}
TARGETS=${VOLBENCH_TARGETS:-volman podman}
BENCH_TMP=${VOLBENCH_TMPDIR:-/var/tmp}
BUILD=${VOLBENCH_BUILD:-build-bench}
OUT=${VOLBENCH_OUT:-$REPO/bench/results/$(date -u +%F)-core.txt}
read -r -a VOLMAND_EXTRA <<<"${VOLMAND_ARGS:-}"

# Targets (see README.md; issue "performance at the floor").
T_CREATE_RATIO=4
T_INSPECT_RATIO=10
T_DELETE_RATIO=4
T_LIST_MS=5
T_LIST_RATIO=15
T_CONC_OPS=8000
T_RSS_KB=20000 # 20 MB, in the KiB that VmRSS is counted in (slightly stricter than 20 MiB)

die() { echo "run.sh: $*" >&2; exit 1; }
has_target() { [[ " $TARGETS " == *" $1 "* ]]; }

for v in N ROUNDS LIST_COUNT LIST_RUNS CLIENTS RSS_COUNT; do
        [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive number (got '${!v}')"
done
((RSS_COUNT >= LIST_COUNT)) || die "VOLBENCH_RSS_COUNT must be >= VOLBENCH_LIST_COUNT"
((LIST_COUNT <= 10000)) || die "VOLBENCH_LIST_COUNT is at most 10000 (volman's list page)"
for t in $TARGETS; do [[ $t == volman || $t == podman ]] || die "unknown target '$t'"; done
[[ $(id -u) == 0 ]] || die "run me as root (sudo bench/run.sh): rootful Podman needs it"

# ---------------------------------------------------------------------------- tools
need_pkgs=()
command -v meson >/dev/null || need_pkgs+=(meson)
command -v ninja >/dev/null || need_pkgs+=(ninja-build)
if has_target podman; then
        command -v podman >/dev/null || need_pkgs+=(podman)
        command -v runc >/dev/null || need_pkgs+=(runc)
fi
command -v unshare >/dev/null || need_pkgs+=(util-linux)
command -v curl >/dev/null || need_pkgs+=(curl)
if ((${#need_pkgs[@]})); then
        echo "run.sh: installing ${need_pkgs[*]}" >&2
        apt-get update -qq || die "apt-get update failed"
        apt-get install -y -qq "${need_pkgs[@]}" >/dev/null || die "cannot install ${need_pkgs[*]}"
fi

# ---------------------------------------------------------------------------- build
cd "$REPO" || die "no repo at $REPO"
if [[ ! -f $BUILD/build.ninja ]]; then
        meson setup "$BUILD" --buildtype=release >/dev/null || die "meson setup $BUILD failed"
fi
ninja_targets=(bench/volbench)
has_target volman && [[ -z ${VOLMAND:-} ]] && ninja_targets+=(volmand)
ninja -C "$BUILD" "${ninja_targets[@]}" >"$BENCH_TMP/volbench-build.$$.log" 2>&1 || {
        tail -30 "$BENCH_TMP/volbench-build.$$.log" >&2
        rm -f "$BENCH_TMP/volbench-build.$$.log"
        die "build failed (VOLBENCH_TARGETS=podman runs the Podman half alone)"
}
rm -f "$BENCH_TMP/volbench-build.$$.log"
VOLBENCH=$REPO/$BUILD/bench/volbench
VOLMAND=${VOLMAND:-$REPO/$BUILD/volmand}
BUILDTYPE=$(grep -o '"name": "buildtype", "value": "[a-z]*"' "$BUILD/meson-info/intro-buildoptions.json" |
        head -1 | sed 's/.*"value": "//; s/"$//')
[[ $BUILDTYPE == release ]] || echo "run.sh: warning: $BUILD is a '$BUILDTYPE' build, not release" >&2

# ---------------------------------------------------------------------------- work dir
WORK=$(mktemp -d "$BENCH_TMP/volbench.XXXXXX") || die "mktemp in $BENCH_TMP failed"
FSTYPE=$(stat -f -c %T "$WORK")
case $FSTYPE in
tmpfs | ramfs) rm -rf "$WORK"; die "$BENCH_TMP is $FSTYPE: creates must hit a real disk (set VOLBENCH_TMPDIR)" ;;
esac
FSDEV=$(df --output=source "$WORK" | tail -1)
# stat -f names ext4 "ext2/ext3" (one magic number for all three); the mount table knows.
FSMOUNT=$(findmnt -n -o FSTYPE,OPTIONS -T "$WORK" 2>/dev/null | awk '{print $1 " (" $2 ")"}')
VOLMAN_PID=
PODMAN_PID=
DONE=0
ORDER=()

stop_pid() { # PID NAME: SIGTERM, then SIGKILL after 15 s
        local pid=$1 name=$2 i
        [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
        kill -TERM "$pid" 2>/dev/null
        for ((i = 0; i < 150; i++)); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
                echo "run.sh: $name ($pid) ignored SIGTERM for 15 s: SIGKILL" >&2
                kill -KILL "$pid" 2>/dev/null
        fi
        wait "$pid" 2>/dev/null
        return 0
}

cleanup() {
        trap - EXIT INT TERM
        if [[ -n $PODMAN_PID ]] && kill -0 "$PODMAN_PID" 2>/dev/null; then
                # Whatever volumes a failed run left: remove them through Podman itself.
                curl -s -m 60 -X POST --unix-socket "$WORK/podman/podman.sock" \
                        http://d/v1.41/volumes/prune >/dev/null 2>&1
        fi
        stop_pid "$PODMAN_PID" "podman system service"
        stop_pid "$VOLMAN_PID" volmand
        # Nothing should be mounted in this namespace under WORK (Podman's storage mounts stay
        # in its own namespace); if something is, unmount it rather than fail to remove it.
        findmnt -rn -o TARGET | grep -F "$WORK/" | sort -r | while IFS= read -r m; do
                umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
        done
        rm -rf "$WORK"
        if ((!DONE)) && [[ -s $OUT ]]; then
                echo "run.sh: run interrupted; partial results in $OUT" >&2
        fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$(dirname "$OUT")"
: >"$OUT"
say() { printf '%s\n' "$*" | tee -a "$OUT"; }

# ---------------------------------------------------------------------------- servers
start_volmand() {
        local -a plugin=()
        mkdir -p "$WORK/volman/root"
        # The plugin socket defaults to the machine-wide /run/docker/plugins/volman.sock, which
        # an engine or another volmand may be using: the benchmark needs none.
        "$VOLMAND" --help 2>&1 | grep -q -- --plugin-socket && plugin=(--plugin-socket none)
        "$VOLMAND" --root "$WORK/volman/root" --socket "$WORK/volman/volman.sock" \
                "${plugin[@]}" "${VOLMAND_EXTRA[@]}" </dev/null >"$WORK/volman/volmand.log" 2>&1 &
        VOLMAN_PID=$!
        "$VOLBENCH" -s "$WORK/volman/volman.sock" -t volman -w 30 ping || {
                tail -20 "$WORK/volman/volmand.log" >&2
                die "volmand did not become healthy"
        }
}

start_podman() {
        local d=$WORK/podman
        mkdir -p "$d/root" "$d/runroot" "$d/tmp"
        # num_locks: every Podman volume holds a lock, and the default 2048 would stop the
        # list measurement at 2048 volumes. The lock segment lives in /dev/shm and is shared
        # by every rootful podman on the machine, so the service gets a private /dev/shm (its
        # own mount namespace) instead of resizing the machine's segment under other users.
        cat >"$d/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
[engine]
cgroup_manager = "cgroupfs"
runtime = "runc"
num_locks = 32768
tmp_dir = "$d/tmp"
events_logger = "file"
events_logfile_path = "$d/events.log"
EOF
        # shellcheck disable=SC2016 # $1 is expanded by the inner sh
        CONTAINERS_CONF=$d/containers.conf unshare --mount --propagation private sh -c '
                mount -t tmpfs -o size=64m,mode=1777 volbench-shm /dev/shm || exit 1
                exec podman --root "$1/root" --runroot "$1/runroot" system service --time=0 "unix://$1/podman.sock"
        ' podman-service "$d" </dev/null >"$d/service.log" 2>&1 &
        PODMAN_PID=$!
        "$VOLBENCH" -s "$d/podman.sock" -t podman -w 60 ping || {
                tail -20 "$d/service.log" >&2
                die "podman system service did not answer"
        }
}

sock_of() { [[ $1 == volman ]] && echo "$WORK/volman/volman.sock" || echo "$WORK/podman/podman.sock"; }

# bench KEY TARGET VOLBENCH-ARGS...: runs volbench, keeps its RESULT line in $WORK/r/KEY.
bench() {
        local key=$1 target=$2 line rc
        shift 2
        mkdir -p "$WORK/r"
        line=$("$VOLBENCH" -s "$(sock_of "$target")" -t "$target" "$@" 2>"$WORK/r/$key.err")
        rc=$?
        if [[ -z $line ]]; then
                line="RESULT target=$target key=$key status=FAILED error=no-output"
        fi
        printf '%s\n' "$line" >"$WORK/r/$key"
        ORDER+=("$key")
        printf '  %-16s %s\n' "$key" "${line#RESULT }" >&2
        if ((rc != 0)) && [[ -s $WORK/r/$key.err ]]; then
                sed 's/^/      /' "$WORK/r/$key.err" >&2
        fi
        return 0
}

# get KEY FIELD: a field of a kept RESULT line ("" when absent).
get() {
        [[ -f $WORK/r/$1 ]] || return 0
        tr ' ' '\n' <"$WORK/r/$1" | sed -n "s/^$2=//p" | head -1
}
ok() { [[ $(get "$1" status) == ok ]]; }

# pick_median KEY: KEY becomes the round KEY.1..KEY.ROUNDS with the median ops/s, or the
# first failed round.
pick_median() {
        local key=$1 k r chosen
        local -a rows=()
        for ((r = 1; r <= ROUNDS; r++)); do
                k=$key.$r
                if ! ok "$k"; then
                        cp "$WORK/r/$k" "$WORK/r/$key"
                        return 0
                fi
                rows+=("$(get "$k" ops_s) $k")
        done
        chosen=$(printf '%s\n' "${rows[@]}" | sort -g | sed -n "$(((ROUNDS + 1) / 2))p" | cut -d' ' -f2)
        cp "$WORK/r/$chosen" "$WORK/r/$key"
}

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null; }
hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status" 2>/dev/null; }
# "anon+file": heap and stacks, then pages of files mapped (libraries, the store)
rss_split() { awk '/^RssAnon:/ {a = $2} /^RssFile:/ {f = $2} END {printf "%d+%d", a, f}' "/proc/$1/status" 2>/dev/null; }

# ---------------------------------------------------------------------------- facts
T0=$(date +%s)
say "volbench: volmand vs Podman, $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
say ""
say "Machine"
say "  nproc:            $(nproc)"
say "  cpu:              $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
say "  memory:           $(awk '/^MemTotal:/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
say "  kernel:           $(uname -r)"
say "  roots:            $WORK on $FSDEV: ${FSMOUNT:-$FSTYPE}, not tmpfs"
say "  repo:             $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$REPO" diff --quiet HEAD 2>/dev/null || echo ' + uncommitted changes')"
say "  build:            $BUILD (buildtype=$BUILDTYPE)"
if has_target podman; then
        PODMAN_VERSION=$(podman --version 2>/dev/null | awk '{print $NF}')
        say "  podman:           $PODMAN_VERSION, runc $(runc --version 2>/dev/null | awk 'NR==1 {print $3}')"
fi
# What one synchronous 4 KiB write costs on the roots' disk: the floor under a durable create.
SYNC_US=$(dd if=/dev/zero of="$WORK/sync-probe" bs=4k count=500 oflag=dsync 2>&1 |
        LC_ALL=C awk '/copied/ { sub(/.*copied, /, ""); printf "%.0f", $1 * 1e6 / 500 }')
rm -f "$WORK/sync-probe"
say "  disk sync:        ${SYNC_US:-?} us per 4 KiB O_DSYNC write (dd, 500 writes)"
say "  load at start:    $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min; other work on the machine skews every figure)"
say "  workload:         N=$N sequential (median of $ROUNDS rounds), $CLIENTS clients x $LIST_COUNT creates, list at $LIST_COUNT (median of $LIST_RUNS), RSS at $RSS_COUNT"

has_target volman && start_volmand
has_target podman && start_podman
if has_target podman; then
        # From the running service: a podman command run here would init its storage (a bind
        # mount) and its lock segment in the machine's namespace.
        BACKEND=$(curl -s -m 10 --unix-socket "$WORK/podman/podman.sock" http://d/v4.0.0/libpod/info |
                grep -o '"databaseBackend": *"[^"]*"' | head -1 | sed 's/.*: *"//; s/"$//')
        [[ -n $BACKEND ]] || BACKEND="boltdb (podman $PODMAN_VERSION has no DatabaseBackend field; boltdb is its only backend)"
        say "  podman database:  $BACKEND"
fi
if has_target volman; then
        say "  volmand:          $(curl -s --unix-socket "$WORK/volman/volman.sock" http://d/v1/health 2>/dev/null)"
        RSS_START=$(rss_kb "$VOLMAN_PID")
fi
say ""

# ---------------------------------------------------------------------------- runs
echo "Running (raw figures on stderr as they come):" >&2
# Rounds alternate between the servers so that a burst of other load on the machine hits
# both; the round with the median ops/s stands for each (a failed round fails the figure).
for ((r = 1; r <= ROUNDS; r++)); do
        for t in $TARGETS; do
                bench "$t.create.$r" "$t" -p "seq$r-" -n "$N" create
                bench "$t.inspect.$r" "$t" -p "seq$r-" -n "$N" inspect
                bench "$t.delete.$r" "$t" -p "seq$r-" -n "$N" delete
        done
done
for t in $TARGETS; do
        for op in create inspect delete; do
                pick_median "$t.$op"
        done
done
for t in $TARGETS; do
        bench "$t.ccreate" "$t" -p par- -n "$LIST_COUNT" -c "$CLIENTS" create
        bench "$t.list" "$t" -r "$LIST_RUNS" -e "$LIST_COUNT" list
done
if has_target podman; then
        PODMAN_RSS=$(rss_kb "$PODMAN_PID")
        # Also the cleanup of Podman's volumes, through its API.
        bench podman.cdelete podman -p par- -n "$LIST_COUNT" -c "$CLIENTS" delete
fi
if has_target volman; then
        RSS_BEFORE=$(rss_kb "$VOLMAN_PID")
        if ((RSS_COUNT > LIST_COUNT)); then
                bench volman.cfill volman -p par- -o "$LIST_COUNT" -n $((RSS_COUNT - LIST_COUNT)) \
                        -c "$CLIENTS" create
        fi
        sleep 1
        RSS_AFTER=$(rss_kb "$VOLMAN_PID")
        SPLIT_AFTER=$(rss_split "$VOLMAN_PID")
        HWM_AFTER=$(hwm_kb "$VOLMAN_PID")
fi
DIED=()
has_target volman && ! kill -0 "$VOLMAN_PID" 2>/dev/null && DIED+=("volmand:$WORK/volman/volmand.log")
has_target podman && ! kill -0 "$PODMAN_PID" 2>/dev/null && DIED+=("podman:$WORK/podman/service.log")

# ---------------------------------------------------------------------------- report
# fmt NUMBER: thousands separators, no decimals.
fmt() { [[ -n $1 ]] && LC_ALL=C awk -v x="$1" 'BEGIN { s = sprintf("%.0f", x); o = "";
        while (length(s) > 3) { o = "," substr(s, length(s) - 2) o; s = substr(s, 1, length(s) - 3) }
        print s o }' || echo "-"; }
ratio() { LC_ALL=C awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) printf "%.1fx", a / b; else print "-" }'; }
cell() { # KEY FIELD: the field, or FAILED
        if [[ ! -f $WORK/r/$1 ]]; then echo "-"
        elif ok "$1"; then fmt "$(get "$1" "$2")"
        else echo "FAILED($(get "$1" fail))"; fi
}
row() { printf '  %-38s %14s %14s %9s\n' "$@" | tee -a "$OUT"; }

say "Figures (volmand | Podman | volmand/Podman; latencies in microseconds, one keep-alive connection)"
row "" "volmand" "podman" "ratio"
for op in create inspect delete; do
        row "$op: ops/s (N=$N, median round)" "$(cell volman.$op ops_s)" "$(cell podman.$op ops_s)" \
                "$(ratio "$(get volman.$op ops_s)" "$(get podman.$op ops_s)")"
        row "$op: median us" "$(cell volman.$op median_us)" "$(cell podman.$op median_us)" \
                "$(ratio "$(get podman.$op median_us)" "$(get volman.$op median_us)")"
        row "$op: p99 us" "$(cell volman.$op p99_us)" "$(cell podman.$op p99_us)" \
                "$(ratio "$(get podman.$op p99_us)" "$(get volman.$op p99_us)")"
        row "$op: max us" "$(cell volman.$op max_us)" "$(cell podman.$op max_us)" ""
done
row "list of $LIST_COUNT: median us" "$(cell volman.list median_us)" "$(cell podman.list median_us)" \
        "$(ratio "$(get podman.list median_us)" "$(get volman.list median_us)")"
row "list of $LIST_COUNT: body bytes" "$(cell volman.list bytes)" "$(cell podman.list bytes)" ""
row "create, $CLIENTS clients: ops/s" "$(cell volman.ccreate ops_s)" "$(cell podman.ccreate ops_s)" \
        "$(ratio "$(get volman.ccreate ops_s)" "$(get podman.ccreate ops_s)")"
row "create, $CLIENTS clients: p99 us" "$(cell volman.ccreate p99_us)" "$(cell podman.ccreate p99_us)" ""
has_target podman && row "delete, $CLIENTS clients: ops/s" "-" "$(cell podman.cdelete ops_s)" ""
if has_target volman; then
        ((RSS_COUNT > LIST_COUNT)) &&
                row "create $LIST_COUNT..$RSS_COUNT, $CLIENTS cl: ops/s" "$(cell volman.cfill ops_s)" "-" ""
        row "RSS kB at start" "$(fmt "$RSS_START")" "-" ""
        row "RSS kB at $LIST_COUNT volumes" "$(fmt "$RSS_BEFORE")" "$(fmt "${PODMAN_RSS:-}")" ""
        row "RSS kB at $RSS_COUNT volumes (peak)" "$(fmt "$RSS_AFTER") ($(fmt "$HWM_AFTER"))" "-" ""
        row "  of which anon+file kB" "$SPLIT_AFTER" "-" ""
fi
say ""

# verdict NAME GOT TARGET CMP UNIT FAILED_KEYS...: CMP is ge or le.
MET=0
MISSED=0
verdict() {
        local name=$1 got=$2 want=$3 cmp=$4 unit=$5 k v
        shift 5
        for k in "$@"; do
                if ! ok "$k"; then
                        v="MISSED  (run $k failed: $(get "$k" fail) failed requests; not a figure)"
                        printf '  %-42s %s\n' "$name" "$v" | tee -a "$OUT"
                        MISSED=$((MISSED + 1))
                        return
                fi
        done
        if [[ -z $got ]]; then
                printf '  %-42s %s\n' "$name" "MISSED  (no figure)" | tee -a "$OUT"
                MISSED=$((MISSED + 1))
                return
        fi
        v=$(LC_ALL=C awk -v g="$got" -v w="$want" -v c="$cmp" -v u="$unit" 'BEGIN {
                met = (c == "ge") ? (g >= w) : (g <= w)
                gap = (c == "ge") ? (g - w) / w * 100 : (w - g) / w * 100
                fmt = (g < 100) ? "%.2f" : "%.0f"
                printf "%s  got " fmt "%s, target %s %s%s: %s%.0f%%\n", met ? "met   " : "MISSED", g, u,
                        c == "ge" ? ">=" : "<=", w, u, met ? "margin " : "short by ", met ? gap : -gap }')
        printf '  %-42s %s\n' "$name" "$v" | tee -a "$OUT"
        [[ $v == met* ]] && MET=$((MET + 1)) || MISSED=$((MISSED + 1))
}
if has_target volman && has_target podman; then
        say "Targets"
        for spec in "create:$T_CREATE_RATIO" "inspect:$T_INSPECT_RATIO" "delete:$T_DELETE_RATIO"; do
                op=${spec%%:*}
                want=${spec#*:}
                got=$(LC_ALL=C awk -v a="$(get "volman.$op" ops_s)" -v b="$(get "podman.$op" ops_s)" \
                        'BEGIN { if (b > 0) printf "%.3f", a / b }')
                verdict "$op >= ${want}x Podman's ops/s" "$got" "$want" ge x "volman.$op" "podman.$op"
        done
elif has_target volman; then
        say "Targets (Podman not run: no ratios)"
fi
if has_target volman; then
        got=$(LC_ALL=C awk -v u="$(get volman.list median_us)" 'BEGIN { if (u != "") printf "%.3f", u / 1000 }')
        verdict "list of $LIST_COUNT <= ${T_LIST_MS} ms" "$got" "$T_LIST_MS" le " ms" volman.list
        if has_target podman; then
                got=$(LC_ALL=C awk -v a="$(get volman.list median_us)" -v b="$(get podman.list median_us)" \
                        'BEGIN { if (a > 0) printf "%.3f", b / a }')
                verdict "list of $LIST_COUNT >= ${T_LIST_RATIO}x Podman" "$got" "$T_LIST_RATIO" ge x volman.list podman.list
        fi
        verdict "create, $CLIENTS clients >= $T_CONC_OPS/s" "$(get volman.ccreate ops_s)" "$T_CONC_OPS" ge "/s" volman.ccreate
        rss_keys=()
        ((RSS_COUNT > LIST_COUNT)) && rss_keys=(volman.cfill)
        verdict "RSS at $RSS_COUNT volumes <= 20 MB" "$RSS_AFTER" "$T_RSS_KB" le " kB" "${rss_keys[@]}"
        say "  => $MET met, $MISSED missed"
else
        say "Targets: volmand not run (VOLBENCH_TARGETS=$TARGETS): none judged"
fi
say ""

say "Raw volbench results"
for k in "${ORDER[@]}"; do
        say "  $k: $(sed 's/^RESULT //' "$WORK/r/$k")"
done
for f in "$WORK"/r/*.err; do
        [[ -s $f ]] || continue
        say "  errors of $(basename "$f" .err):"
        while IFS= read -r l; do say "    $l"; done <"$f"
done
for log in "$WORK/volman/volmand.log" "$WORK/podman/service.log"; do
        [[ -s $log ]] || continue
        n=$(grep -ciE 'error|warn|panic|fatal' "$log" || true)
        say "  $(basename "$(dirname "$log")") log: $(wc -l <"$log") lines, $n with error/warn/panic/fatal"
        grep -iE 'error|warn|panic|fatal' "$log" | sort | uniq -c | sort -rn | head -5 |
                while IFS= read -r l; do say "    $l"; done
done
for d in "${DIED[@]}"; do
        say "  ${d%%:*} DIED during the run; the end of its log:"
        tail -15 "${d#*:}" | while IFS= read -r l; do say "    $l"; done
done
say ""
say "Load at end: $(cut -d' ' -f1-3 /proc/loadavg)."
say "Elapsed: $(($(date +%s) - T0)) s. Written to ${OUT#"$REPO"/}."
DONE=1
# Missed targets are figures, not errors; failed requests are errors.
for k in "${ORDER[@]}"; do ok "$k" || exit 1; done
exit 0
