#!/usr/bin/env bash
# Runs each fuzz target for a bounded time, one after the other, and prints
# per target: executions, and the crash / timeout / out-of-memory inputs
# found (files in fuzz/artifacts/<target>/).
#
#   fuzz/run.sh                 # every target, 60 s each
#   fuzz/run.sh 600             # every target, 10 minutes each
#   fuzz/run.sh 120 plist ips   # two targets, 2 minutes each
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`) and a nightly compiler, or
# a stable one with RUSTC_BOOTSTRAP=1 (set here when the toolchain is not
# nightly). Seeds come from fuzz/seed.sh (run first; run.sh runs it when a
# corpus is missing). Extra libFuzzer flags: FUZZ_ARGS="-only_ascii=1" ...
# The sanitizer defaults to none (safe Rust; faster builds and runs):
# SANITIZER=address fuzz/run.sh for ASan. SKIP_BUILD=1 runs the binaries
# already in fuzz/target as they are.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
secs="${1:-60}"
shift || true

if ! rustc --version | grep -q nightly; then
    export RUSTC_BOOTSTRAP=1
fi
sanitizer="${SANITIZER:-none}"
build_flags=(-s "$sanitizer" --codegen-units 16)

all_targets=$(cargo fuzz list)
targets=("$@")
[ ${#targets[@]} -eq 0 ] && read -r -d '' -a targets <<<"$all_targets"

# Largest input per target: a little above what the parser needs to reach
# its deep paths, small enough to keep executions fast.
max_len() {
    case "$1" in
        keybag | tombstone | uuidtext | nskeyed_mbfile | stix_pattern) echo 16384 ;;
        shutdown_log | ps) echo 32768 ;;
        tar_stream | stix) echo 131072 ;;
        *) echo 65536 ;;
    esac
}

if [ -z "${SKIP_BUILD:-}" ]; then
    echo "building fuzz targets (${build_flags[*]})..." >&2
    cargo fuzz build "${build_flags[@]}" >/dev/null 2>"$here/build.log" || {
        cat "$here/build.log" >&2
        exit 2
    }
fi
triple="$(rustc -vV | sed -n 's/^host: //p')"
bindir="$here/target/$triple/release"

[ -d "$here/corpus" ] || "$here/seed.sh" >&2

count() { find "$1" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'oom-*' -o -name 'timeout-*' -o -name 'leak-*' \) 2>/dev/null | wc -l; }

mkdir -p "$here/logs"
printf '%-16s %12s %8s %8s %8s  %s\n' target executions exec/s new total status
failed=0
for t in "${targets[@]}"; do
    if ! grep -qx "$t" <<<"$all_targets"; then
        echo "unknown target $t (known: $(tr '\n' ' ' <<<"$all_targets"))" >&2
        failed=1
        continue
    fi
    art="$here/artifacts/$t"
    mkdir -p "$art" "$here/corpus/$t"
    before=$(count "$art")
    log="$here/logs/$t.log"
    # One job, one worker: the machine may be shared. libFuzzer stops at the
    # first crash; run again to look for the next one.
    # shellcheck disable=SC2086
    "$bindir/$t" "$here/corpus/$t" \
        -max_total_time="$secs" -rss_limit_mb=2048 -malloc_limit_mb=2048 \
        -max_len="$(max_len "$t")" -timeout=10 -print_final_stats=1 \
        -artifact_prefix="$art/" ${FUZZ_ARGS:-} >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    after=$(count "$art")
    status=ok
    if [ "$rc" -ne 0 ]; then
        status="stopped (exit $rc): $(grep -m1 -E '^==[0-9]+== ?ERROR|^SUMMARY|panicked at|has overflowed its stack|out-of-memory|timeout' "$log" | cut -c1-90)"
        failed=1
    fi
    printf '%-16s %12s %8s %8s %8s  %s\n' "$t" "${execs:-?}" "${rate:-?}" "$((after - before))" "$after" "$status"
done
echo "logs: fuzz/logs/<target>.log; crashing inputs: fuzz/artifacts/<target>/" >&2
exit $failed
