#!/usr/bin/env bash
# The fixed cost of every scan (indicator loading, matcher build, setup),
# two spydar binaries compared on the same minute: runs interleaved, CPU
# time of all threads (perf stat task-clock; else user+sys of
# /usr/bin/time), wall time and peak RSS, medians and minimums.
#
#   benches/fixed-costs.sh OLD_BIN NEW_BIN [RUNS] [SCALE400_RUNS]
#
# Measures `indicators list`, a scan of testdata/ios_backup, and scans of
# bench-out/ios-backup-scale400 and -scale1600 (or the same names under
# /work/bench-data) when they exist (scale 1600: half as many runs). Per-phase CPU and heap: `cargo run --release --example
# fixed_costs`. Results: benches/results/fixed-costs.txt.
set -euo pipefail
old=${1:?old binary}
new=${2:?new binary}
runs=${3:-12}
big_runs=${4:-4}
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
have_perf=0
if perf stat -x, -e task-clock true 2>/dev/null >/dev/null; then have_perf=1; fi

one() { # label binary args...
    local label=$1 bin=$2
    shift 2
    if [ $have_perf = 1 ]; then
        perf stat -x, -e task-clock -o "$tmp/p" /usr/bin/time -f "%e %M" -o "$tmp/t" \
            nice -n 10 "$bin" "$@" >/dev/null 2>&1 || true
        echo "$label $(grep task-clock "$tmp/p" | cut -d, -f1) $(tail -1 "$tmp/t")" >>"$tmp/log"
    else
        /usr/bin/time -f "%U %S %e %M" -o "$tmp/t" nice -n 10 "$bin" "$@" >/dev/null 2>&1 || true
        read -r u s e m <"$tmp/t"
        echo "$label $(echo "($u + $s) * 1000" | bc) $e $m" >>"$tmp/log"
    fi
}

compare() { # title runs args...
    local title=$1 n=$2
    shift 2
    : >"$tmp/log"
    for _ in $(seq "$n"); do
        one old "$old" "$@"
        one new "$new" "$@"
    done
    echo "== $title ($n interleaved runs each): spydar $*"
    python3 - "$tmp/log" <<'PY'
import statistics as st, sys
d = {}
for line in open(sys.argv[1]):
    v, cpu, wall, rss = line.split()
    d.setdefault(v, []).append((float(cpu), float(wall) * 1000, int(rss) / 1024))
for v in ("old", "new"):
    r = d[v]
    c, w, m = ([x[i] for x in r] for i in range(3))
    print(f"  {v}: CPU ms median {st.median(c):7.1f} min {min(c):7.1f} | "
          f"wall ms median {st.median(w):7.1f} min {min(w):7.1f} | "
          f"peak RSS MB median {st.median(m):6.1f} min {min(m):6.1f} max {max(m):6.1f}")
PY
}

out="$tmp/out"
compare "indicators list" "$runs" indicators list
compare "tiny iOS backup scan" "$runs" scan testdata/ios_backup -o "$out" --overwrite --quiet
for scale in 400 1600; do
    n=$big_runs
    [ "$scale" = 1600 ] && n=$(((big_runs + 1) / 2))
    for big in bench-out/ios-backup-scale$scale /work/bench-data/ios-backup-scale$scale; do
        if [ -d "$big" ]; then
            compare "iOS backup scale $scale" "$n" scan "$big" -o "$out" --overwrite --quiet
            break
        fi
    done
done
