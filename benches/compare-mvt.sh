#!/usr/bin/env bash
# Compare spydar with MVT on the same generated input and the same indicators.
#
#   benches/compare-mvt.sh [ios|android] [SCALE]
#
# ios (default): generates an iOS backup at SCALE (default 400: 200,000
# Manifest rows, 200,000 messages, 80,000 Safari visits, 2,000 processes)
# with planted indicators and decoys, runs `mvt-ios check-backup` and
# `spydar scan` on it with the bundled STIX2 files (indicators/**/*.stix2,
# given to MVT with -i), and prints wall time, peak memory (/usr/bin/time -v)
# and each side's detections. MVT is installed from PyPI into
# bench-out/mvt-venv if missing. Network access is off for MVT (no URL
# unshortening, no update checks) and its config/indicator folders live
# under bench-out, so the machine's own MVT setup is not used.
#
# MVT_REUSE=1 reuses a previous MVT run of the same backup (it takes minutes);
# a run of another scale (bench-out/mvt.scale) is not reused.
# SKIP_BUILD=1 uses the release binaries already in target/release.
#
# Printed: wall time, CPU time (user + sys) and peak resident memory of
# both tools, their ratios, the load average (wall time means something
# only on a quiet machine), and each side's detections side by side.
#
# android: runs benches/compare-mvt-android.sh if it exists.
set -euo pipefail

CASE="${1:-ios}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
if [ "$CASE" = "android" ]; then
    if [ -x "$ROOT/benches/compare-mvt-android.sh" ]; then
        exec "$ROOT/benches/compare-mvt-android.sh" "${@:2}"
    fi
    echo "compare-mvt: benches/compare-mvt-android.sh is not there yet" >&2
    exit 2
fi
if [ "$CASE" != "ios" ]; then
    echo "usage: $0 [ios|android] [SCALE]" >&2
    exit 2
fi
SCALE="${2:-400}"
OUT="$ROOT/bench-out"
VENV="$OUT/mvt-venv"
mkdir -p "$OUT"
cd "$ROOT"

if [ ! -x "$VENV/bin/mvt-ios" ]; then
    echo "== installing MVT from PyPI into $VENV" >&2
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet mvt
fi
MVT_VERSION="$("$VENV/bin/pip" show mvt 2>/dev/null | sed -n 's/^Version: //p')"

if [ -z "${SKIP_BUILD:-}" ]; then
    echo "== building spydar (release)" >&2
    cargo build --release --quiet --features fixtures --bin spydar --bin spydar-fixtures
fi

BACKUP="$OUT/ios-backup-scale$SCALE"
if [ ! -d "$BACKUP" ]; then
    echo "== generating $BACKUP" >&2
    target/release/spydar-fixtures ios-backup "$BACKUP" --scale "$SCALE"
fi

IOC_ARGS=()
while IFS= read -r f; do IOC_ARGS+=(-i "$f"); done < <(find indicators -name '*.stix2' | sort)

rm -rf "$OUT/spydar-result"
# Both tools start from the same state: the backup's files in the page
# cache (read once here, so neither pays for the first read), and no dirty
# pages of an earlier run's output being written back while one is timed
# (`sync` before each tool: on 2 cores the kernel's writeback of MVT's
# results otherwise lands in spydar's half-second).
find "$BACKUP" -type f -exec cat {} + > /dev/null
sync
MVT_SCALE="$(cat "$OUT/mvt.scale" 2>/dev/null || echo "$SCALE")"
if [ -n "${MVT_REUSE:-}" ] && [ -f "$OUT/mvt-result/alerts.json" ] && [ -f "$OUT/mvt.time" ] \
    && [ "$MVT_SCALE" = "$SCALE" ]; then
    echo "== reusing the MVT run in $OUT/mvt-result (MVT_REUSE set)" >&2
else
    rm -rf "$OUT/mvt-result"
    echo "== mvt-ios check-backup (MVT $MVT_VERSION)" >&2
    (
        export HOME="$OUT/home" XDG_CONFIG_HOME="$OUT/home/.config" XDG_DATA_HOME="$OUT/home/.local/share"
        mkdir -p "$HOME"
        MVT_NETWORK_ACCESS_ALLOWED=false /usr/bin/time -v -o "$OUT/mvt.time" \
            "$VENV/bin/mvt-ios" --disable-update-check --disable-indicator-update-check \
            check-backup "${IOC_ARGS[@]}" -o "$OUT/mvt-result" "$BACKUP" > "$OUT/mvt.log" 2>&1 || true
    )
    echo "$SCALE" > "$OUT/mvt.scale"
fi

echo "== spydar scan" >&2
sync
set +e
/usr/bin/time -v -o "$OUT/spydar.time" \
    target/release/spydar scan "$BACKUP" -o "$OUT/spydar-result" --quiet > "$OUT/spydar.log" 2>&1
SPYDAR_EXIT=$?
set -e

python3 - "$OUT" "$SCALE" "$MVT_VERSION" "$SPYDAR_EXIT" <<'PY'
import glob, json, os, re, sys
out, scale, mvt_version, spydar_exit = sys.argv[1:5]

def timing(path):
    """(wall s, peak MB, CPU s = user + sys) from a `/usr/bin/time -v` file."""
    text = open(path).read() if os.path.exists(path) else ""
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", text)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    user = re.search(r"User time \(seconds\): ([\d.]+)", text)
    sys_ = re.search(r"System time \(seconds\): ([\d.]+)", text)
    secs = None
    if wall:
        parts = [float(p) for p in wall.group(1).split(":")]
        secs = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
    cpu = float(user.group(1)) + float(sys_.group(1)) if user and sys_ else None
    return secs, int(rss.group(1)) / 1024 if rss else None, cpu

def mvt_detections():
    """(module, indicator value) -> number of MVT alerts with a matched indicator."""
    path = os.path.join(out, "mvt-result", "alerts.json")
    found = {}
    if os.path.exists(path):
        for a in json.load(open(path)):
            ioc = a.get("matched_indicator")
            if ioc:
                key = (a.get("module", "?"), str(ioc.get("value", "?")).lower())
                found[key] = found.get(key, 0) + 1
    return found

def spydar_detections():
    """(module, indicator value) -> number of distinct observables spydar detected."""
    seen = {}
    for path in glob.glob(os.path.join(out, "spydar-result", "**", "report.json"), recursive=True):
        for f in json.load(open(path)).get("findings", []):
            if f.get("level") == "detected" and f.get("indicator"):
                key = (f.get("module", "?"), str(f["indicator"].get("value", "?")).lower())
                seen.setdefault(key, set()).add((f.get("observable") or {}).get("value"))
    return {k: len(v) for k, v in seen.items()}

mt, mm, mc = timing(os.path.join(out, "mvt.time"))
st, sm, sc = timing(os.path.join(out, "spydar.time"))
fmt = lambda v, u: f"{v:,.2f} {u}" if v is not None else "n/a"
ratio = lambda a, b: f"{a / b:,.1f}x" if a and b else "n/a"
print(f"iOS backup, scale {scale} ({out}/ios-backup-scale{scale}); MVT {mvt_version}")
print(f"{'':18}{'MVT':>16}{'spydar':>16}{'ratio':>10}{'target':>10}")
print(f"{'wall time':18}{fmt(mt, 's'):>16}{fmt(st, 's'):>16}{ratio(mt, st):>10}{'>= 100x':>10}")
print(f"{'CPU (user+sys)':18}{fmt(mc, 's'):>16}{fmt(sc, 's'):>16}{ratio(mc, sc):>10}")
print(f"{'peak memory':18}{fmt(mm, 'MB'):>16}{fmt(sm, 'MB'):>16}{ratio(mm, sm):>10}{'>= 20x':>10}")
try:
    load = open("/proc/loadavg").read().split()[:3]
    print(f"load average now: {' '.join(load)} (on {os.cpu_count()} CPUs; wall time is only meaningful on a quiet machine)")
except OSError:
    pass
print(f"spydar exit code: {spydar_exit}")
# The longest modules (report.json `duration_ms`): on 2 cores the wall time
# is bounded below by the longest one and by half the CPU time.
for path in glob.glob(os.path.join(out, "spydar-result", "**", "report.json"), recursive=True):
    r = json.load(open(path))
    mods = sorted(r.get("modules", []), key=lambda x: -x.get("duration_ms", 0))[:8]
    print("spydar scan " + str(r.get("scan", {}).get("duration_ms")) + " ms; longest modules (ms): "
          + ", ".join(f"{x['name']} {x.get('duration_ms')}" for x in mods))
m, s = mvt_detections(), spydar_detections()
print(f"\ndetections (module, indicator): MVT {len(m)}, spydar {len(s)}; numbers are alerts (MVT) / distinct matched values (spydar)")
print(f"{'module':34}{'indicator':44}{'MVT':>5}{'spydar':>8}")
for mod, val in sorted(set(m) | set(s)):
    print(f"{mod:34}{val[:43]:44}{m.get((mod, val), '-'):>5}{s.get((mod, val), '-'):>8}")
PY
