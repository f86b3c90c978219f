#!/usr/bin/env bash
# Compares spydar with MVT (`mvt-android check-androidqf`) on a generated
# androidqf acquisition whose bugreport holds a ~100 MB dumpstate.
# Both tools get the same indicators (the .stix2 files under indicators/).
# Prints wall time, peak memory (max RSS) and detections side by side.
#
#   bash benches/compare-mvt-android.sh [SCALE]     (default 100: ~100 MB dumpstate)
#
# Needs python3 with venv (MVT is installed with pip into ./bench-out/mvt-venv
# the first time) and GNU time (/usr/bin/time).
set -euo pipefail
cd "$(dirname "$0")/.."
SCALE="${1:-100}"
OUT=bench-out/android
VENV=bench-out/mvt-venv
mkdir -p "$OUT"

if [ ! -x "$VENV/bin/mvt-android" ]; then
  echo "installing MVT into $VENV ..." >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q mvt
fi
MVT_VERSION=$("$VENV/bin/pip" show mvt 2>/dev/null | awk '/^Version:/ {print $2}')

cargo build --release -q --features fixtures --bin spydar --bin spydar-fixtures
SPYDAR=target/release/spydar

ACQ="$OUT/acq-scale$SCALE"
if [ ! -d "$ACQ" ]; then
  target/release/spydar-fixtures androidqf "$ACQ" --scale "$SCALE"
fi
DUMPSTATE_MB=$(unzip -l "$ACQ/bugreport.zip" | awk '/bugreport-.*\.txt$/ {printf "%.1f", $1/1e6}')
ZIP_MB=$(du -m "$ACQ/bugreport.zip" | cut -f1)
ACQ_MB=$(du -sm "$ACQ" | cut -f1)

IOC_ARGS=()
while IFS= read -r f; do IOC_ARGS+=(-i "$f"); done < <(find indicators -name '*.stix2' | sort)
NIOC=$(( ${#IOC_ARGS[@]} / 2 ))

measure() { # name logfile cmd...   -> "wall_s cpu_s maxrss_kb"
  local name=$1 log=$2; shift 2
  /usr/bin/time -f "%e %U %S %M" -o "$OUT/$name.time" "$@" >"$log" 2>&1 || true
  # GNU time prefixes "Command exited with non-zero status N" when N != 0.
  read -r WALL USR SYS RSS < <(tail -n 1 "$OUT/$name.time")
  echo "$WALL $(python3 -c "print(round($USR + $SYS, 2))") $RSS"
}

rm -rf "$OUT/mvt-out" "$OUT/spydar-out"
read -r MVT_WALL MVT_CPU MVT_RSS < <(measure mvt "$OUT/mvt.log" env MVT_NETWORK_ACCESS_ALLOWED=False \
  "$VENV/bin/mvt-android" --disable-update-check --disable-indicator-update-check \
  check-androidqf -n "${IOC_ARGS[@]}" -o "$OUT/mvt-out" "$ACQ")
# spydar runs three times (the machine may be shared); the median run counts.
RUNS=()
for i in 1 2 3; do
  rm -rf "$OUT/spydar-out"
  RUNS+=("$(measure spydar "$OUT/spydar.log" "$SPYDAR" scan "$ACQ" --kind androidqf -o "$OUT/spydar-out" --json)")
done
read -r SP_WALL SP_CPU SP_RSS < <(printf '%s\n' "${RUNS[@]}" | sort -n | sed -n 2p)

MVT_CRIT=$(python3 - "$OUT/mvt-out/alerts.json" <<'PY'
import json, sys
try:
    alerts = json.load(open(sys.argv[1]))
except Exception:
    print("0 0 -"); sys.exit()
crit = [a for a in alerts if a.get("level") == "CRITICAL"]
other = [a for a in alerts if a.get("level") != "CRITICAL"]
vals = sorted({(a.get("matched_indicator") or {}).get("value", "?") for a in crit})
print(len(crit), len(other), ",".join(vals))
PY
)
SP_DET=$(python3 - "$OUT/spydar-out" <<'PY'
import json, sys, glob
reps = glob.glob(sys.argv[1] + "/*/report.json")
if not reps:
    print("0 0 -"); sys.exit()
r = json.load(open(reps[0]))
f = r.get("findings", [])
det = [x for x in f if x.get("level") == "detected"]
warn = [x for x in f if x.get("level") == "warning"]
def val(x):
    ind = x.get("indicator") or {}
    return ind.get("value") or (x.get("observable") or {}).get("value") or "?"
print(len(det), len(warn), ",".join(sorted({val(x) for x in det})))
PY
)
read -r MVT_NCRIT MVT_NOTHER MVT_VALS <<<"$MVT_CRIT"
read -r SP_NDET SP_NWARN SP_VALS <<<"$SP_DET"

echo
echo "androidqf acquisition: $ACQ ($ACQ_MB MB; bugreport.zip $ZIP_MB MB, dumpstate ${DUMPSTATE_MB} MB); $NIOC STIX2 files"
printf '%-24s %12s %12s\n' "" "MVT $MVT_VERSION" "spydar"
printf '%-24s %12s %12s\n' "wall time (s)" "$MVT_WALL" "$SP_WALL"
printf '%-24s %12s %12s\n' "CPU time (s, user+sys)" "$MVT_CPU" "$SP_CPU"
printf '%-24s %12s %12s\n' "peak memory (MB)" "$((MVT_RSS / 1024))" "$((SP_RSS / 1024))"
printf '%-24s %12s %12s\n' "detections" "$MVT_NCRIT" "$SP_NDET"
printf '%-24s %12s %12s\n' "other alerts/warnings" "$MVT_NOTHER" "$SP_NWARN"
python3 -c "import sys; a=[float(x) for x in sys.argv[1:]]; print(f'speed-up: {a[0]/max(a[1],1e-3):.1f}x wall, {a[2]/max(a[3],1e-3):.1f}x CPU (target >= 20x)')" "$MVT_WALL" "$SP_WALL" "$MVT_CPU" "$SP_CPU"
echo "load average during the run: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
echo "MVT matched:    $MVT_VALS"
echo "spydar matched: $SP_VALS"
echo "logs: $OUT/mvt.log $OUT/spydar.log"
