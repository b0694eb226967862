#!/usr/bin/env bash
# The whole test suite in one command: installs what is missing (including
# dockerd and Podman), builds with ASan+UBSan, runs the unit tests, then the
# integration tests (volmand and volman), the engine tests (the volume plugin
# under real dockerd and Podman), the app tests (deploys through them), the
# console tests (the web console in headless Chromium), the power-loss
# tests (volmand on lazyfs, a file system that drops unsynced writes) and the
# packaging tests (the .deb installed, run and purged; meson install).
# Run from anywhere: as root, or through sudo (it asks for it itself).
set -euo pipefail

# Root is needed (engines, mounts): a root shell runs it as it is; anyone
# else goes through sudo, if the machine has it.
if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null || { echo "test.sh: run as root (there is no sudo here)" >&2; exit 1; }
        exec sudo "$0" "$@"
fi

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
build="$repo/build-test"

log() { printf '==> %s (%s s)\n' "$*" "$SECONDS"; }

# --- dependencies -----------------------------------------------------------
# The engine and app tests drive real dockerd and Podman, the console tests
# headless Chromium (playwright-core from npm): install them too.
log "checking packages"
bash "$repo/scripts/deps.sh" --engines --console

# --- build --------------------------------------------------------------------
if [[ -f "$build/build.ninja" ]]; then
        log "reconfiguring $build"
        meson setup --reconfigure "$build" -Db_sanitize=address,undefined \
                || meson setup --wipe "$build" -Db_sanitize=address,undefined
elif [[ -e "$build" ]]; then
        log "configuring $build afresh (a half-made build directory is in the way)"
        rm -rf "$build"
        meson setup "$build" -Db_sanitize=address,undefined
else
        log "configuring $build"
        meson setup "$build" -Db_sanitize=address,undefined
fi
log "building"
ninja -C "$build"

# intercept_tls_get_addr=0: the sanitizer runtimes of GCC 12 and clang 14 take
# a thread's dynamic TLS block for a glibc-2.19 one when its address happens to
# fall on a certain offset, and LeakSanitizer's tracer then dies at exit
# ("Tracer caught signal 11") with no leak found; which binary it strikes
# depends on heap layout alone. Leaks are still found without the interceptor.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:intercept_tls_get_addr=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

# --- tests --------------------------------------------------------------------
unit_rc=0

log "unit tests"
meson test -C "$build" --print-errorlogs || unit_rc=$?

# The libFuzzer targets (fuzz/), 12 s each: a short run on every change;
# longer runs are fuzz/run.sh SECONDS, on purpose.
fuzz_rc=0
fuzz_out=$(mktemp)
log "fuzzing, ${FUZZ_SECONDS:-12} s per target"
bash "$repo/fuzz/run.sh" "${FUZZ_SECONDS:-12}" 2>&1 | tee "$fuzz_out" || fuzz_rc=${PIPESTATUS[0]}

# Each pytest suite: its exit code and pytest's own last line.
declare -A rc counts
run_suite() {
        local name=$1 dir=$2 out
        log "$name tests"
        out=$(mktemp)
        # Debian's python3, not whichever python3 comes first on PATH: only it
        # can import python3-pytest. A backstop far above the suite's minutes;
        # daemons die with pytest (PR_SET_PDEATHSIG), so a timeout leaves none.
        rc[$name]=0
        VOLMAN_BUILD="$build" timeout 1800 /usr/bin/python3 -m pytest -v -rs --durations=8 -p no:cacheprovider "$dir" \
                </dev/null 2>&1 | tee "$out" || rc[$name]=$?
        # pytest's last line: "N passed, M skipped in Ts"
        counts[$name]=$(grep -E '^=+ .*(passed|failed|error|skipped|no tests ran).* =+$' "$out" \
                | tail -n 1 | sed -E 's/^=+ //; s/ =+$//' || true)
        rm -f "$out"
}

run_suite integration tests/integration
run_suite engines tests/engines
run_suite apps tests/apps
run_suite console tests/console
run_suite powerloss tests/powerloss
# Cluster mode: a real etcd and several volmand nodes (tests/cluster).
run_suite cluster tests/cluster
# The .deb built, installed with dpkg -i, run, removed and purged; meson
# install's layout; the unit, tmpfiles entry and man pages (tests/packaging).
run_suite packaging tests/packaging

status() { if (($1 == 0)); then echo "passed"; else echo "FAILED (exit $1)"; fi; }
summary="unit tests $(status $unit_rc); fuzzing $(status $fuzz_rc)"
failed=$((unit_rc != 0 || fuzz_rc != 0))
for name in integration engines apps console powerloss cluster packaging; do
        summary+="; $name tests $(status ${rc[$name]})${counts[$name]:+ (${counts[$name]})}"
        ((rc[$name] == 0)) || failed=1
done
# A failed fuzzing step is reported again here, next to the summary: a CI log
# that keeps only its tail still shows which target failed, and how.
if ((fuzz_rc != 0)); then
        echo "fuzzing report (again):"
        if grep -q '^target  *executions' "$fuzz_out"; then
                sed -n '/^target  *executions/,$p' "$fuzz_out" | head -n 60
        else
                tail -n 30 "$fuzz_out" # it failed before running: installing or building
        fi
fi
rm -f "$fuzz_out"
echo "SUMMARY: $summary"
exit $failed
