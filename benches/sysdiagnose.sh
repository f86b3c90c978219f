#!/usr/bin/env bash
# Sysdiagnose benchmark: a full `spydar scan` of a generated ~1 GB archive
# against decompressing the same archive to nothing with the same
# decompressor (flate2 MultiGzDecoder, zlib-rs). Target: scan <= 1.3x the
# decompression time, peak memory < 200 MB.
#
#   benches/sysdiagnose.sh            # SCALE=1100 (about 1 GB compressed)
#   SCALE=200 RUNS=1 benches/sysdiagnose.sh
set -euo pipefail
cd "$(dirname "$0")/.."

SCALE=${SCALE:-1100}
RUNS=${RUNS:-3}
DIR=${BENCH_DIR:-target/bench-sysdiagnose}
ARCHIVE="$DIR/scale-$SCALE/sysdiagnose_2024.01.02_03-04-05+0200_iPhone-OS_iPhone_21C62.tar.gz"

cargo build --release --quiet --features fixtures --bin spydar --bin spydar-fixtures --example gunzip_null
if [ ! -f "$ARCHIVE" ]; then
  mkdir -p "$(dirname "$ARCHIVE")"
  echo "generating $ARCHIVE (scale $SCALE)..." >&2
  target/release/spydar-fixtures sysdiagnose "$ARCHIVE" --scale "$SCALE"
fi
SIZE=$(stat -c %s "$ARCHIVE")

# Runs a command RUNS times with a warm page cache; prints "seconds max_rss_kb
# cpu_seconds" of the fastest run.
measure() {
  local best="" rss="" cpu=""
  for _ in $(seq "$RUNS"); do
    cat "$ARCHIVE" > /dev/null
    local tf out
    tf=$(mktemp)
    # spydar exits 1 when it finds something: not a failure here.
    /usr/bin/time -o "$tf" -f "%e %M %U %S" "$@" > /dev/null 2>&1 || true
    out=$(tail -1 "$tf")
    rm -f "$tf"
    local t m u sy
    read -r t m u sy <<< "$out"
    if [ -z "$best" ] || awk "BEGIN{exit !($t < $best)}"; then
      best=$t; rss=$m; cpu=$(awk "BEGIN{print $u + $sy}")
    fi
  done
  echo "$best $rss $cpu"
}

OUT="$DIR/out"
read -r GZ_S GZ_KB GZ_CPU < <(measure target/release/examples/gunzip_null "$ARCHIVE")
RAW=$(target/release/examples/gunzip_null "$ARCHIVE" | awk '{print $1}')
read -r SCAN_S SCAN_KB SCAN_CPU < <(measure sh -c "rm -rf '$OUT'; exec target/release/spydar scan '$ARCHIVE' -o '$OUT' --quiet")

echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
awk -v gzcpu="$GZ_CPU" -v scancpu="$SCAN_CPU" -v cores="$(nproc)" -v size="$SIZE" -v raw="$RAW" -v gz="$GZ_S" -v gzkb="$GZ_KB" -v scan="$SCAN_S" -v scankb="$SCAN_KB" 'BEGIN {
  printf "archive:            %.0f MB compressed, %.0f MB uncompressed\n", size/1e6, raw/1e6
  printf "decompress to null: %6.2f s  %6.0f MB/s compressed  %6.0f MB/s uncompressed  peak %4.0f MB\n", gz, size/1e6/gz, raw/1e6/gz, gzkb/1024
  printf "spydar scan:        %6.2f s  %6.0f MB/s compressed  %6.0f MB/s uncompressed  peak %4.0f MB\n", scan, size/1e6/scan, raw/1e6/scan, scankb/1024
  printf "cpu time:           decompress %.2f s, scan %.2f s (scan cpu / cores / decompress cpu = %.2fx: the ratio on an idle machine when the reader thread is not the bottleneck)\n", gzcpu, scancpu, (scancpu/cores < gzcpu ? 1 : scancpu/cores/gzcpu)
  printf "ratio scan/decompress: %.2fx (target <= 1.3x); peak memory %s (target < 200 MB)\n", scan/gz, (scankb/1024 < 200 ? "ok" : "OVER")
}'
