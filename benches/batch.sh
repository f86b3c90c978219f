#!/usr/bin/env bash
# A helpdesk's batch (issue 15 §4): 50 generated devices of mixed kinds
# (20 iOS backups, 15 sysdiagnose archives, 15 androidqf acquisitions;
# about 10 GB in all) scanned by ONE `spydar scan` call, and the memory
# formula checked:
#
#   peak RSS <= base + jobs x per-device cap
#
# where base is spydar's own footprint (indicators and matcher; measured on
# a tiny device) and the per-device cap is the largest peak above base of
# any device of the batch's kinds scanned alone (the largest of each kind,
# measured here with the same --jobs). Devices are streamed: at most `jobs`
# in flight, each one's folder written as it finishes, so the run's memory
# does not grow with the number of devices.
#
#   benches/batch.sh                      # JOBS=2, devices in bench-out/batch
#   JOBS=2 BASELINE=path/to/old/spydar benches/batch.sh   # also the old binary
#
# Prints devices/hour, wall, CPU (user+sys), peak RSS, and checks that every
# device has a complete report (summary entry, report.json, report.html,
# records, every module's status). Devices are generated once
# (bench-out/batch/devices, reused; delete bench-out/batch to regenerate).
# Release build under `nice -n 10`; on a shared machine compare CPU time and
# peak RSS, wall time is an indication only.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${BENCH_OUT:-$ROOT/bench-out}/batch
DEV=$OUT/devices
JOBS=${JOBS:-2}
N=50

nice -n 10 cargo build --release --quiet --features fixtures --bin spydar --bin spydar-fixtures
BIN=$ROOT/target/release

# The plan: "name kind scale seed clean". Scales vary (as a helpdesk's
# devices do) and were chosen so the batch is about 10 GB: iOS backups
# 100-650 (~0.5 MB a unit), sysdiagnose 150-550 (~0.9 MB a unit),
# androidqf 150-450 (~0.35 MB a unit). Every fifth device is clean.
plan() {
    local i kind scale name clean
    for i in $(seq 0 $((N - 1))); do
        clean=$([ $((i % 5)) -eq 4 ] && echo 1 || echo 0)
        case $((i % 10)) in
            0 | 3 | 5 | 8)
                kind=ios-backup
                scale=$((100 + (i * 37) % 551))
                name=$(printf 'iphone-%02d' "$i")
                ;;
            1 | 4 | 7)
                kind=sysdiagnose
                scale=$((150 + (i * 53) % 401))
                name=$(printf 'sysdiagnose_2024.01.%02d_03-%02d-05+0200_iPhone-OS_iPhone_21C62.tar.gz' $((i % 28 + 1)) "$i")
                ;;
            *)
                kind=androidqf
                scale=$((150 + (i * 29) % 301))
                name=$(printf 'android-%02d' "$i")
                ;;
        esac
        echo "$name $kind $scale $((i + 1)) $clean"
    done
}

gen() {
    local name=$1 kind=$2 scale=$3 seed=$4 clean=$5
    local flags=(--scale "$scale" --seed "$seed")
    [ "$clean" = 1 ] && flags+=(--clean)
    nice -n 10 "$BIN/spydar-fixtures" "$kind" "$DEV/$name" "${flags[@]}"
}
export -f gen
export BIN DEV

if [ ! -f "$OUT/devices.done" ]; then
    echo "== generating $N devices into $DEV (2 at a time)" >&2
    rm -rf "$DEV"
    mkdir -p "$DEV"
    plan | xargs -P 2 -L 1 bash -c 'gen "$@"' _
    plan > "$OUT/devices.done"
fi
if [ ! -d "$OUT/tiny" ]; then
    "$BIN/spydar-fixtures" ios-backup "$OUT/tiny" --clean
fi

mb() { awk "BEGIN{printf \"%.1f\", $1 / 1024}"; }
# Runs a scan under /usr/bin/time -v; sets WALL (s), CPU (s), RSS (KB), CODE.
measure() {
    local tf=$OUT/time.txt
    CODE=0
    /usr/bin/time -v -o "$tf" nice -n 10 "$@" || CODE=$?
    RSS=$(awk -F': ' '/Maximum resident set size/{print $2}' "$tf")
    CPU=$(awk -F': ' '/User time/{u=$2} /System time/{s=$2} END{printf "%.2f", u + s}' "$tf")
    WALL=$(awk -F': ' '/Elapsed \(wall clock\)/{n=split($2, p, ":"); s=0; for (k = 1; k <= n; k++) s = s * 60 + p[k]; printf "%.2f", s}' "$tf")
}

TOTAL=$(du -sb "$DEV" | cut -f1)
echo "# benches/batch.sh (JOBS=$JOBS), $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); spydar $(git rev-parse --short HEAD)$(git diff --quiet || echo '+changes')"
echo "input: $N devices, $(awk "BEGIN{printf \"%.2f\", $TOTAL / 1e9}") GB: $(awk '{print $2}' "$OUT/devices.done" | sort | uniq -c | awk '{printf "%s %s, ", $1, $2}')"
for kind in ios-backup sysdiagnose androidqf; do
    bytes=0
    while read -r name k _; do
        [ "$k" = "$kind" ] && bytes=$((bytes + $(du -sb "$DEV/$name" | cut -f1)))
    done < "$OUT/devices.done"
    echo "  $kind: $(awk "BEGIN{printf \"%.2f\", $bytes / 1e9}") GB"
done

# Base and per-device caps: the tiny device, and the largest of each kind alone.
measure "$BIN/spydar" scan "$OUT/tiny" -o "$OUT/alone" --overwrite --quiet -j "$JOBS"
BASE=$RSS
echo "base (tiny iOS backup alone): peak $(mb "$BASE") MB"
CAP=0
for kind in ios-backup sysdiagnose androidqf; do
    largest=$(awk -v k="$kind" '$2 == k {print $3, $1}' "$OUT/devices.done" | sort -n | tail -1 | cut -d' ' -f2)
    rm -rf "$OUT/alone"
    measure "$BIN/spydar" scan "$DEV/$largest" -o "$OUT/alone" --quiet -j "$JOBS"
    above=$((RSS - BASE))
    [ "$above" -gt "$CAP" ] && CAP=$above
    echo "largest $kind alone ($largest, $(du -sm "$DEV/$largest" | cut -f1) MB): ${WALL} s wall, ${CPU} s CPU, peak $(mb "$RSS") MB ($(mb "$above") MB above base)"
done
rm -rf "$OUT/alone"

run_batch() {
    local label=$1 bin=$2
    rm -rf "$OUT/result"
    measure "$bin" scan "$DEV" -o "$OUT/result" --quiet -j "$JOBS"
    echo
    echo "== $label: one \`spydar scan $DEV -o OUT -j $JOBS\`, exit code $CODE"
    echo "wall ${WALL} s, CPU ${CPU} s (user+sys), peak RSS $(mb "$RSS") MB"
    awk -v n="$N" -v w="$WALL" -v c="$CPU" -v j="$JOBS" 'BEGIN{
        printf "devices/hour: %.0f (wall); %.0f if the %d cores were all this run'"'"'s (CPU-bound: %d x 3600 / (CPU / %d))\n",
            n * 3600 / w, n * 3600 / (c / j), j, n, j }'
    local predicted=$((BASE + JOBS * CAP))
    echo "memory formula: base $(mb "$BASE") MB + $JOBS jobs x per-device cap $(mb "$CAP") MB = $(mb "$predicted") MB; peak $(mb "$RSS") MB: $([ "$RSS" -le "$predicted" ] && echo within || echo EXCEEDED)"
    python3 - "$OUT/result" "$DEV" "$N" <<'EOF'
import json, os, sys
from collections import Counter
out, dev, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = json.load(open(os.path.join(out, "summary.json")))
entries = s["devices"]
problems = []
statuses = Counter()
verdicts = Counter()
errors = Counter()
if len(entries) != n:
    problems.append(f"{len(entries)} summary entries for {n} devices")
for e in entries:
    if e.get("status") != "scanned" or not e.get("report"):
        problems.append(f"{e['input_path']}: {e.get('status')} {e.get('error')}")
        continue
    folder = os.path.join(out, os.path.dirname(e["report"]))
    for f in ["report.json", "report.html", "records", ".spydar-report"]:
        if not os.path.exists(os.path.join(folder, f)):
            problems.append(f"{folder}: no {f}")
    r = json.load(open(os.path.join(out, e["report"])))
    verdicts[r["summary"]["verdict"]] += 1
    for m in r["modules"]:
        statuses[m["status"]] += 1
        if m["status"] not in ("ok", "missing", "error"):
            problems.append(f"{folder}: module {m['name']}: no status")
        if m["status"] == "error":
            errors[m["name"]] += 1
left = [x for x in os.listdir(out) if x.startswith(".")]
if left:
    problems.append(f"left in OUTDIR: {left}")
print(f"reports: {sum(verdicts.values())}/{n} complete; verdicts {dict(sorted(verdicts.items()))}; "
      f"module statuses {dict(sorted(statuses.items()))}")
print("every device report complete (files, summary entry, a status per module): " + ("yes" if not problems else "NO"))
if errors:
    print(f"module errors (a status, said in the report): {dict(errors)}")
for p in problems[:20]:
    print("  problem: " + p)
EOF
}

run_batch "this build" "$BIN/spydar"
if [ -n "${BASELINE:-}" ]; then
    run_batch "baseline $BASELINE" "$BASELINE"
fi
rm -rf "$OUT/result"
