#!/usr/bin/env bash
# The largest iOS backups users report (issue 15 §5): 873,010 files, a
# 1.2 GB Manifest.db and a 20 MB sms.db. Generates the backup at two
# Manifest sizes (a quarter, 218,253 files, and the full 873,010; same
# sms.db), scans each with one `spydar scan`, and prints time, CPU and peak
# memory, so the growth of memory with the Manifest can be read off:
#
#   benches/largest-backup.sh                  # FILES="218253 873010"
#   FILES="873010" JOBS=1 benches/largest-backup.sh
#
# Backups are generated once into bench-out/largest (about 1.5 GB; delete
# it to regenerate). Release build under `nice -n 10`; on a shared machine
# compare CPU time and peak RSS, wall time is an indication only.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${BENCH_OUT:-$ROOT/bench-out}/largest
FILES=${FILES:-"218253 873010"}
# Scale 200 gives a ~20 MB sms.db (100,000 messages), as in the report.
SCALE=${SCALE:-200}
JOBS=${JOBS:-2}

nice -n 10 cargo build --release --quiet --features fixtures --bin spydar --bin spydar-fixtures
BIN=$ROOT/target/release
mkdir -p "$OUT"

mb() { awk "BEGIN{printf \"%.1f\", $1 / 1048576}"; }
echo "# benches/largest-backup.sh (SCALE=$SCALE, JOBS=$JOBS), $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); spydar $(git rev-parse --short HEAD)$(git diff --quiet || echo '+changes')"
for files in $FILES; do
    B="$OUT/backup-$files-s$SCALE"
    if [ ! -f "$B.done" ]; then
        echo "== generating $B" >&2
        rm -rf "$B"
        nice -n 10 "$BIN/spydar-fixtures" ios-backup "$B" --scale "$SCALE" --manifest-files "$files"
        touch "$B.done"
    fi
    sms=$(sqlite3 -readonly "file:$B/Manifest.db?immutable=1" \
        "SELECT fileID FROM Files WHERE domain='HomeDomain' AND relativePath='Library/SMS/sms.db'" 2>/dev/null || true)
    rows=$(sqlite3 -readonly "file:$B/Manifest.db?immutable=1" "SELECT count(*) FROM Files" 2>/dev/null || echo "?")
    echo
    echo "== $files files: Manifest.db $(mb "$(stat -c %s "$B/Manifest.db")") MB ($rows rows), sms.db $( [ -n "$sms" ] && mb "$(stat -c %s "$B/${sms:0:2}/$sms")" || echo '?') MB, backup $(du -sm "$B" | cut -f1) MB"
    rm -rf "$OUT/result"
    tf=$OUT/time.txt
    code=0
    /usr/bin/time -v -o "$tf" nice -n 10 "$BIN/spydar" scan "$B" -o "$OUT/result" --quiet -j "$JOBS" || code=$?
    rss=$(awk -F': ' '/Maximum resident set size/{print $2}' "$tf")
    cpu=$(awk -F': ' '/User time/{u=$2} /System time/{s=$2} END{printf "%.2f", u + s}' "$tf")
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/{n=split($2, p, ":"); s=0; for (k = 1; k <= n; k++) s = s * 60 + p[k]; printf "%.2f", s}' "$tf")
    echo "spydar scan: exit $code, ${wall} s wall, ${cpu} s CPU (user+sys), peak RSS $(awk "BEGIN{printf \"%.1f\", $rss / 1024}") MB"
    echo "$files $rss $cpu" >> "$OUT/points.txt.new"
    python3 - "$OUT/result" <<'EOF'
import json, os, sys
out = sys.argv[1]
s = json.load(open(os.path.join(out, "summary.json")))
e = s["devices"][0]
r = json.load(open(os.path.join(out, e["report"])))
mods = sorted(r["modules"], key=lambda m: -(m.get("duration_ms") or 0))
bad = [m["name"] for m in r["modules"] if m["status"] == "error"]
print(f"verdict {r['summary']['verdict']}, {len(r['modules'])} modules, errors: {bad or 'none'}")
print("slowest modules: " + ", ".join(f"{m['name']} {m.get('duration_ms')} ms ({m.get('records', m.get('record_count', '?'))} records)" for m in mods[:5]))
EOF
done
mv "$OUT/points.txt.new" "$OUT/points.txt"
if [ "$(wc -l < "$OUT/points.txt")" -ge 2 ]; then
    awk 'NR == 1 {f1 = $1; r1 = $2} END {
        printf "\nmemory growth with the Manifest: %.1f MB more for %d more files (%.0f bytes a file)\n",
            ($2 - r1) / 1024, $1 - f1, ($2 - r1) * 1024 / ($1 - f1) }' "$OUT/points.txt"
fi
rm -rf "$OUT/result"
