#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ and runs each for a while.
#   fuzz/run.sh [SECONDS] [TARGET...]     (default: 20 seconds, every target)
# TARGET is fuzz_json_in, fuzz_names, fuzz_appconfig, fuzz_configfile, fuzz_http, fuzz_event or fuzz_envfile (the
# fuzz_ may be left out). As root it installs what is missing (the project's
# packages through scripts/deps.sh, clang and libclang-rt-14-dev). It builds
# in build-fuzz/ (FUZZ_BUILD), copies each seed corpus to a scratch corpus
# under build-fuzz/results/TARGET/ (FUZZ_RESULTS; the repository's corpus is
# never written), runs up to FUZZ_JOBS targets at once (default: 2 on two or
# more cores), and prints one line per target. A crash, leak, timeout or
# broken invariant leaves the input in results/TARGET/artifacts/, is printed
# in hex with its report, and makes the script exit 1.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
all_targets=(fuzz_json_in fuzz_names fuzz_appconfig fuzz_configfile fuzz_http fuzz_event fuzz_envfile)

usage() {
        sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
        exit 2
}

secs=20
if [[ $# -gt 0 && $1 =~ ^[0-9]+$ ]]; then
        secs=$1
        shift
fi
[[ $secs -ge 1 ]] || usage
targets=()
for t in "$@"; do
        case $t in -h | --help) usage ;; esac
        t=fuzz_${t#fuzz_}
        [[ " ${all_targets[*]} " == *" $t "* ]] || { echo "run.sh: no target $t" >&2; usage; }
        targets+=("$t")
done
[[ ${#targets[@]} -gt 0 ]] || targets=("${all_targets[@]}")

build=${FUZZ_BUILD:-$repo/build-fuzz}
results=${FUZZ_RESULTS:-$build/results}
cores=$(nproc 2>/dev/null || echo 1)
jobs=${FUZZ_JOBS:-$((cores >= 2 ? 2 : 1))}

log() { printf '==> %s\n' "$*"; }

# --- packages -----------------------------------------------------------------
missing=()
command -v clang >/dev/null 2>&1 || missing+=(clang)
dpkg -s libclang-rt-14-dev >/dev/null 2>&1 || missing+=(libclang-rt-14-dev)
if [[ $(id -u) == 0 ]]; then
        bash "$repo/scripts/deps.sh"
        if [[ ${#missing[@]} -gt 0 ]]; then
                log "installing ${missing[*]}"
                export DEBIAN_FRONTEND=noninteractive
                apt-get install -y -q "${missing[@]}" </dev/null ||
                        { apt-get update -q </dev/null && apt-get install -y -q "${missing[@]}" </dev/null; }
        fi
elif [[ ${#missing[@]} -gt 0 ]]; then
        echo "run.sh: missing ${missing[*]}; run as root to install them" >&2
        exit 1
fi

# --- build --------------------------------------------------------------------
# The whole build directory is instrumented (c_args), so libFuzzer sees
# coverage inside core/ and ASan checks it; fuzz/meson.build explains why.
opts=(-Dfuzz=true -Db_lundef=false -Dbuildtype=debugoptimized
      "-Dc_args=['-fsanitize=fuzzer-no-link,address,undefined','-fno-sanitize-recover=undefined','-fno-omit-frame-pointer']"
      "-Dc_link_args=['-fsanitize=address,undefined']")
configure_afresh() {
        if [[ -e $build && ! -d $build/meson-private ]] && [[ -n $(ls -A "$build" 2>/dev/null) ]]; then
                echo "run.sh: $build exists and is not a meson build directory; move it away" >&2
                exit 1
        fi
        rm -rf "$build"
        log "configuring $build"
        CC=clang meson setup "$build" "${opts[@]}" >"$build.setup.log" 2>&1 ||
                { cat "$build.setup.log" >&2; exit 1; }
        rm -f "$build.setup.log"
}
if [[ -f $build/build.ninja ]] && meson setup --reconfigure "$build" "${opts[@]}" >/dev/null 2>&1; then
        log "reconfigured $build"
else
        configure_afresh
fi
log "building ${targets[*]}"
ninja -C "$build" "${targets[@]/#/fuzz/}" >/dev/null ||
        { ninja -C "$build" "${targets[@]/#/fuzz/}" >&2 || true; exit 1; }

# --- run ----------------------------------------------------------------------
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0:symbolize=1:intercept_tls_get_addr=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1:symbolize=1}
# Known leaks inside system libraries (fuzz/lsan.supp), unless asked to see them.
if [[ ${VOLMAN_FUZZ_KNOWN:-} != 1 ]]; then
        export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$repo/fuzz/lsan.supp:print_suppressions=0}
fi
for s in llvm-symbolizer /usr/lib/llvm-14/bin/llvm-symbolizer; do
        if command -v "$s" >/dev/null 2>&1; then
                export ASAN_SYMBOLIZER_PATH=${ASAN_SYMBOLIZER_PATH:-$(command -v "$s")}
                break
        fi
done

run_one() {
        local t=$1 out=$results/$1
        rm -rf "$out"
        mkdir -p "$out/corpus" "$out/artifacts"
        cp -R "$repo/fuzz/corpus/$t/." "$out/corpus/"
        local args=(-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
                    -artifact_prefix="$out/artifacts/")
        [[ -f $repo/fuzz/$t.dict ]] && args+=(-dict="$repo/fuzz/$t.dict")
        local rc=0
        # A backstop far above libFuzzer's own limits, in case one of them fails.
        (cd "$out" && exec timeout -k 10 $((secs + 300)) "$build/fuzz/$t" "${args[@]}" "$out/corpus") \
                >"$out/log" 2>&1 </dev/null || rc=$?
        echo "$rc" >"$out/rc"
}

log "running ${targets[*]} for ${secs}s each, $jobs at a time; results in $results"
mkdir -p "$results"
running=0
for t in "${targets[@]}"; do
        if [[ $running -ge $jobs ]]; then
                wait -n || true
                running=$((running - 1))
        fi
        run_one "$t" &
        running=$((running + 1))
done
wait || true

# --- report -------------------------------------------------------------------
stat_of() { sed -n "s/^stat::$1: *//p" "$2" | tail -n 1; }
failed=0
echo
printf '%-16s %12s %9s %6s %7s %14s  %s\n' target executions exec/s cov ft corpus result
for t in "${targets[@]}"; do
        out=$results/$t
        rc=$(cat "$out/rc" 2>/dev/null || echo '?')
        execs=$(stat_of number_of_executed_units "$out/log")
        rate=$(stat_of average_exec_per_sec "$out/log")
        last=$(grep -E '^#[0-9]+[[:space:]].*cov: ' "$out/log" | tail -n 1 || true)
        cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
        ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
        corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9]*[a-zA-Z]*\).*/\1/p' <<<"$last")
        # After a crash libFuzzer may print no final stats: the last status line then.
        [[ -n $execs ]] || execs=$(sed -n 's/^#\([0-9]*\).*/\1/p' <<<"$last")
        [[ -n $rate ]] || rate=$(sed -n 's/.* exec\/s: \([0-9]*\).*/\1/p' <<<"$last")
        artifacts=$(find "$out/artifacts" -type f | sort)
        if [[ $rc == 0 && -z $artifacts ]]; then
                result=ok
        else
                result="FOUND (exit $rc)"
                failed=1
        fi
        printf '%-16s %12s %9s %6s %7s %14s  %s\n' "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" \
                "${ft:-?}" "${corp:-?}" "$result"
done
for t in "${targets[@]}"; do
        out=$results/$t
        rc=$(cat "$out/rc" 2>/dev/null || echo '?')
        artifacts=$(find "$out/artifacts" -type f | sort)
        [[ $rc == 0 && -z $artifacts ]] && continue
        echo
        echo "=== $t: exit $rc; log $out/log"
        # The report: from the sanitizer's or the invariant's first line to libFuzzer's summary.
        report=$(sed -n '/invariant broken\|==ERROR\|ERROR: libFuzzer\|runtime error\|ALARM\|out-of-memory\|Tracer caught/,/^SUMMARY/p' \
                "$out/log" | head -n 80)
        # No report recognised (a sanitizer's own failure, a kill): the log's last lines.
        [[ -n $report ]] || report=$(tail -n 25 "$out/log")
        printf '%s\n' "$report"
        for a in $artifacts; do
                echo "--- input $a ($(stat -c %s "$a") bytes), reproduce: $build/fuzz/$t $a"
                # head leaves od writing to a closed pipe: not a failure of the script
                od -A x -t x1z -v "$a" | head -n 64 || true
                echo "hex: $(od -A n -t x1 -v "$a" | tr -d ' \n' | head -c 2048)"
        done
done
exit $failed
