#!/usr/bin/env bash
# spydar and MVT on the same iOS filesystem dump of PATHS paths.
#
#   benches/fs-dump-compare.sh [PATHS]
#
# Generates a filesystem dump (the generated backup laid out as a dump, its
# planted indicators and decoys, plus PATHS empty filler files spread over
# app caches, the camera roll and system folders; default 1,000,000), packs
# it as .tar.gz with the system tar and as .zip with Info-ZIP (links kept as
# links), and times, one run each, with the bundled STIX2 files
# (indicators/**/*.stix2; given to MVT with -i):
#   - `mvt-ios check-fs` on the folder,
#   - `spydar scan` on the folder, the .tar.gz and the .zip.
# It prints wall and CPU time (user + system) with their ratios to MVT, peak
# memory of each, and whether the three spydar forms give the same findings.
# Everything runs under `nice -n 10` with a release build. Wall time and
# peak memory come from /usr/bin/time -v. MVT is taken from $MVT_VENV
# (default /work/wt/mvt-venv, else bench-out/mvt-venv); network access is off
# for it and its config lives under bench-out. Output: a table on stdout
# (benches/results/ios-fs.txt holds the committed figures).
#
# MVT_REUSE=1 reuses a previous MVT run of the same dump.
set -euo pipefail

PATHS="${1:-1000000}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$ROOT/bench-out/fs-dump"
VENV="${MVT_VENV:-/work/wt/mvt-venv}"
[ -x "$VENV/bin/mvt-ios" ] || VENV="$ROOT/bench-out/mvt-venv"
mkdir -p "$OUT"
cd "$ROOT"
NICE=(nice -n 10)

echo "== building spydar (release)" >&2
"${NICE[@]}" cargo build --release --quiet --features fixtures --bin spydar --bin spydar-fixtures

DUMP="$OUT/dump-$PATHS"
TGZ="$OUT/dump-$PATHS.tar.gz"
if [ ! -d "$DUMP" ]; then
    echo "== generating $DUMP" >&2
    "${NICE[@]}" target/release/spydar-fixtures ios-filesystem "$DUMP" --fs-paths "$PATHS"
fi
if [ ! -f "$TGZ" ]; then
    echo "== packing $TGZ" >&2
    "${NICE[@]}" tar -C "$DUMP" -czf "$TGZ" .
fi
ZIP="$OUT/dump-$PATHS.zip"
if [ ! -f "$ZIP" ]; then
    echo "== packing $ZIP" >&2
    (cd "$DUMP" && "${NICE[@]}" zip -qry "$ZIP" .)
fi
COUNT="$(find "$DUMP" -mindepth 1 | wc -l)"

IOC_ARGS=()
while IFS= read -r f; do IOC_ARGS+=(-i "$f"); done < <(find indicators -name '*.stix2' | sort)

MVT_VERSION="$("$VENV/bin/pip" show mvt 2>/dev/null | sed -n 's/^Version: //p')"
if [ -n "${MVT_REUSE:-}" ] && [ -f "$OUT/mvt.time" ]; then
    echo "== reusing the MVT run (MVT_REUSE set)" >&2
else
    rm -rf "$OUT/mvt-result"
    echo "== mvt-ios check-fs (MVT $MVT_VERSION)" >&2
    (
        export HOME="$OUT/home" XDG_CONFIG_HOME="$OUT/home/.config" XDG_DATA_HOME="$OUT/home/.local/share"
        mkdir -p "$HOME"
        MVT_NETWORK_ACCESS_ALLOWED=false /usr/bin/time -v -o "$OUT/mvt.time" \
            "${NICE[@]}" "$VENV/bin/mvt-ios" --disable-update-check --disable-indicator-update-check \
            check-fs "${IOC_ARGS[@]}" -o "$OUT/mvt-result" "$DUMP" > "$OUT/mvt.log" 2>&1 || true
    )
fi

run_spydar() { # NAME INPUT
    rm -rf "$OUT/spydar-$1"
    echo "== spydar scan ($1)" >&2
    set +e
    /usr/bin/time -v -o "$OUT/spydar-$1.time" "${NICE[@]}" \
        target/release/spydar scan "$2" -o "$OUT/spydar-$1" --quiet > "$OUT/spydar-$1.log" 2>&1
    echo $? > "$OUT/spydar-$1.exit"
    set -e
}
run_spydar folder "$DUMP"
run_spydar targz "$TGZ"
run_spydar zip "$ZIP"

python3 - "$OUT" "$COUNT" "$MVT_VERSION" "$(du -sh "$TGZ" | cut -f1)" <<'PY'
import glob, json, os, re, sys
out, count, mvt_version, tgz_size = sys.argv[1:5]

def timing(path):
    text = open(path).read() if os.path.exists(path) else ""
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", text)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    user = re.search(r"User time \(seconds\): (\S+)", text)
    system = re.search(r"System time \(seconds\): (\S+)", text)
    secs = None
    if wall:
        parts = [float(p) for p in wall.group(1).split(":")]
        secs = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
    cpu = float(user.group(1)) + float(system.group(1)) if user and system else None
    return secs, int(rss.group(1)) / 1024 if rss else None, cpu

def mvt_filesystem():
    path = os.path.join(out, "mvt-result", "alerts.json")
    found = set()
    if os.path.exists(path):
        for a in json.load(open(path)):
            ioc = a.get("matched_indicator") or {}
            if a.get("module", "").lower() == "filesystem" and ioc:
                found.add(str(ioc.get("value")))
    return found

def spydar_filesystem(name):
    found = set()
    for path in glob.glob(os.path.join(out, f"spydar-{name}", "**", "report.json"), recursive=True):
        for f in json.load(open(path)).get("findings", []):
            if f.get("level") == "detected" and f.get("module") == "filesystem":
                found.add(str(f["indicator"].get("value")))
    return found

def records_size(name):
    total = 0
    for path in glob.glob(os.path.join(out, f"spydar-{name}", "**", "records", "filesystem*"), recursive=True):
        total += os.path.getsize(path)
    return total

mt, mm, mc = timing(os.path.join(out, "mvt.time"))
fmt = lambda v, u: f"{v:,.1f} {u}" if v is not None else "n/a"
print(f"iOS filesystem dump: {int(count):,} paths (folder), .tar.gz {tgz_size}; MVT {mvt_version}; nice -n 10, release build, one run each")
print(f"{'':28}{'wall time':>12}{'wall vs MVT':>13}{'CPU time':>12}{'CPU vs MVT':>12}{'peak memory':>13}")
print(f"{'mvt-ios check-fs (folder)':28}{fmt(mt, 's'):>12}{'':>13}{fmt(mc, 's'):>12}{'':>12}{fmt(mm, 'MB'):>13}")
FORMS = [("folder", "spydar scan (folder)"), ("targz", "spydar scan (.tar.gz)"), ("zip", "spydar scan (.zip)")]
for name, label in FORMS:
    st, sm, sc = timing(os.path.join(out, f"spydar-{name}.time"))
    ratio = f"{mt / st:,.1f}x" if mt and st else "n/a"
    cratio = f"{mc / sc:,.1f}x" if mc and sc else "n/a"
    print(f"{label:28}{fmt(st, 's'):>12}{ratio:>13}{fmt(sc, 's'):>12}{cratio:>12}{fmt(sm, 'MB'):>13}")
m = mvt_filesystem()
def findings(name):
    out_set = set()
    for path in glob.glob(os.path.join(out, f"spydar-{name}", "**", "report.json"), recursive=True):
        for f in json.load(open(path)).get("findings", []):
            out_set.add(json.dumps({k: f.get(k) for k in ("level", "module", "indicator", "rule", "observable")}, sort_keys=True))
    return out_set

forms = {name: findings(name) for name, _ in FORMS}
same = all(forms[n] == forms["folder"] for n in forms)
print(f"\nfindings: folder {len(forms['folder'])}, .tar.gz {len(forms['targz'])}, .zip {len(forms['zip'])}; identical across the three forms: {'yes' if same else 'NO'}")
for name, _ in FORMS:
    s = spydar_filesystem(name)
    print(f"\nfilesystem module, indicators matched ({name}): spydar {sorted(s)}; records/filesystem* {records_size(name):,} bytes")
print(f"filesystem module, indicators matched (MVT): {sorted(m)}")
PY
