#!/usr/bin/env bash
# The whole test suite in one command: installs what is missing, builds with
# ASan+UBSan, runs the unit tests, then the integration tests against the real
# binaries. Run from anywhere as root: `sudo scripts/test.sh`.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
build="$repo/build-test"

log() { printf '==> %s\n' "$*"; }

# --- dependencies -----------------------------------------------------------
packages=(meson ninja-build pkg-config libmicrohttpd-dev libsqlite3-dev libjansson-dev
          libcurl4-openssl-dev uuid-dev libcmocka-dev python3-pytest python3-requests sqlite3)
missing=()
for p in "${packages[@]}"; do
        if ! dpkg -s "$p" >/dev/null 2>&1; then
                missing+=("$p")
        fi
done
if ((${#missing[@]})); then
        if [[ $(id -u) -ne 0 ]]; then
                echo "missing packages: ${missing[*]}; run as root (sudo $0) or install them" >&2
                exit 1
        fi
        log "installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -q
        apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
fi

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

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

# --- tests --------------------------------------------------------------------
unit_rc=0
integration_rc=0

log "unit tests"
meson test -C "$build" --print-errorlogs || unit_rc=$?

log "integration tests"
# Debian's python3, not whichever python3 comes first on PATH: only it can
# import python3-pytest and python3-requests.
pytest_log=$(mktemp)
trap 'rm -f "$pytest_log"' EXIT
# A backstop far above the suite's few minutes; daemons die with pytest
# (PR_SET_PDEATHSIG), so a timeout leaves none behind.
VOLMAN_BUILD="$build" timeout 1800 /usr/bin/python3 -m pytest -v -rs -p no:cacheprovider tests/integration \
        </dev/null 2>&1 | tee "$pytest_log" || integration_rc=$?
# pytest's own last line: "N passed, M skipped in Ts"
counts=$(grep -E '^=+ .*(passed|failed|error|skipped|no tests ran).* =+$' "$pytest_log" | tail -n 1 \
        | sed -E 's/^=+ //; s/ =+$//' || true)

status() { if (($1 == 0)); then echo "passed"; else echo "FAILED (exit $1)"; fi; }
echo "SUMMARY: unit tests $(status $unit_rc); integration tests $(status $integration_rc)${counts:+ ($counts)}"
if ((unit_rc != 0 || integration_rc != 0)); then
        exit 1
fi
