#!/usr/bin/env bash
# Unified-log benchmark: decoding + matching of a sysdiagnose's logarchive
# (`unified_log` module) in entries/s and MB/s of tracev3, on one core and
# on two (`-j 1`, `-j 2`), with the whole scan's wall time, peak memory
# and the spool folder's peak size (members past the store's 48 MB memory
# budget; a folder input is read in place).
#
# Input: a generated sysdiagnose whose logarchive holds the real files of
# ../shared/fixtures/real/dtformats-unified-log, plus COPIES more copies of
# its 717,296-byte tracev3 (560 copies: about 400 MB of tracev3), as a
# folder and as a .tar.gz (examples/ulog_fixture.rs builds both).
#
#   benches/unified_log.sh                 # COPIES=560, RUNS=1
#   COPIES=50 benches/unified_log.sh       # a quick one
#   SCALE=1100 benches/unified_log.sh gen  # the 1 GB generated sysdiagnose only
set -euo pipefail
cd "$(dirname "$0")/.."

COPIES=${COPIES:-560}
RUNS=${RUNS:-1}
REAL=${REAL:-../shared/fixtures/real/dtformats-unified-log}
DIR=${BENCH_DIR:-target/bench-unified-log}
ROOT=sysdiagnose_2024.01.02_03-04-05+0200_iPhone-OS_iPhone_21C62

[ -n "${SKIP_BUILD:-}" ] || cargo build --release --quiet --features fixtures --bin spydar --bin spydar-fixtures --example ulog_fixture

# The unified_log summary of a scan output (records/unified_log.jsonl, or
# .jsonl.zst) and the module's time from report.json, as one line.
summarise() {
  local out=$1 rec
  rec=$(find "$out" -name 'unified_log.jsonl*' | head -1)
  local cat=cat
  case "$rec" in *.zst) cat="zstd -dcq" ;; esac
  $cat "$rec" | head -1 > "$out/summary.json"
  python3 - "$out" <<'EOF'
import json, sys, glob
out = sys.argv[1]
s = json.load(open(out + "/summary.json"))["fields"]
rep = json.load(open(glob.glob(out + "/**/report.json", recursive=True)[0]))
ms = next(m["duration_ms"] for m in rep["modules"] if m["name"] == "unified_log")
sec = max(ms, 1) / 1000
print(f"entries {s['entries']:>9}  tracev3 {s['tracev3_bytes']/1e6:7.1f} MB  module {sec:6.2f} s  "
      f"{s['entries']/sec:>9.0f} entries/s  {s['tracev3_bytes']/1e6/sec:6.1f} MB/s")
EOF
}

# scan INPUT THREADS: the fastest of RUNS, with its peak RSS.
scan() {
  local input=$1 threads=$2 best="" line=""
  for _ in $(seq "$RUNS"); do
    local out tmp tf
    out=$(mktemp -d) tmp=$(mktemp -d) tf=$(mktemp)
    # spydar exits 1 when it finds something: not a failure here.
    TMPDIR=$tmp SPYDAR_NO_MVT_INDICATORS=1 \
      /usr/bin/time -o "$tf" -f "%e %M" target/release/spydar scan "$input" -o "$out/o" --quiet -j "$threads" > /dev/null 2>&1 &
    local pid=$! spool=0 now
    # The spool folder's peak size, sampled every 0.1 s.
    while kill -0 "$pid" 2> /dev/null; do
      now=$(du -sb "$tmp" 2> /dev/null | cut -f1 || true)
      if [ "${now:-0}" -gt "$spool" ]; then spool=$now; fi
      sleep 0.1
    done
    wait "$pid" || true
    local t m
    read -r t m < <(tail -1 "$tf")
    local left
    left=$(find "$tmp" -mindepth 1 | wc -l)
    if [ -z "$best" ] || awk "BEGIN{exit !($t < $best)}"; then
      best=$t
      line="$(printf '%-8s -j %d: scan %6.2f s, peak RSS %5.0f MB, peak temp %5.0f MB (left %s) | ' "$(basename "$input" | sed 's/.*\.tar\.gz/tar.gz/; s/^sysdiagnose.*/folder/')" "$threads" "$t" "$(awk "BEGIN{print $m/1024}")" "$(awk "BEGIN{print $spool/1e6}")" "$left")$(summarise "$out")"
    fi
    rm -rf "$out" "$tmp" "$tf"
  done
  echo "$line"
}

echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "${1:-}" = gen ]; then
  SCALE=${SCALE:-1100}
  ARCHIVE="target/bench-sysdiagnose/scale-$SCALE/$ROOT.tar.gz"
  if [ ! -f "$ARCHIVE" ]; then
    mkdir -p "$(dirname "$ARCHIVE")"
    target/release/spydar-fixtures sysdiagnose "$ARCHIVE" --scale "$SCALE"
  fi
  echo "generated sysdiagnose, scale $SCALE: $(stat -c %s "$ARCHIVE") bytes"
  scan "$ARCHIVE" 2
  exit 0
fi

BASE="$DIR/copies-$COPIES"
if [ ! -f "$BASE/$ROOT.tar.gz" ]; then
  rm -rf "$BASE"
  target/release/examples/ulog_fixture "$BASE" "$REAL" "$COPIES" > /dev/null
fi
echo "input: $COPIES + 2 real tracev3 files; archive $(stat -c %s "$BASE/$ROOT.tar.gz") bytes"
for threads in 1 2; do
  scan "$BASE/$ROOT.tar.gz" "$threads"
  scan "$BASE/$ROOT" "$threads"
done
