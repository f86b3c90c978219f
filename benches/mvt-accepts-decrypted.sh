#!/usr/bin/env bash
# Interoperability of spydar's encrypted-backup support with MVT, both ways:
#  1. `mvt-ios check-backup` accepts the output of `spydar decrypt`;
#  2. `mvt-ios decrypt-backup` decrypts spydar's generated encrypted backup
#     (so the generator's encryption side is the format MVT knows), with the
#     password and with the key file `spydar decrypt --save-key` wrote, and
#     gets the same bytes as `spydar decrypt`.
#
# Usage: benches/mvt-accepts-decrypted.sh [WORKDIR]   (default bench-out/mvt-check)
# Installs MVT from PyPI into bench-out/mvt-venv the first time.
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-bench-out/mvt-check}
venv=bench-out/mvt-venv
password=spydar-mvt-check
if [ ! -x "$venv/bin/mvt-ios" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q mvt
fi
mvt=("$venv/bin/mvt-ios" --disable-update-check --disable-indicator-update-check)
echo "MVT: $("$venv/bin/pip" show mvt | awk '/^Version/ {print $2}')"

cargo build -q --release --features fixtures --bin spydar --bin spydar-fixtures
rm -rf "$work"
mkdir -p "$work"
printf '%s\n' "$password" >"$work/password.txt"
target/release/spydar-fixtures ios-backup "$work/encrypted" --password "$password"
target/release/spydar decrypt "$work/encrypted" -o "$work/spydar-decrypted" \
  --password-file "$work/password.txt" --save-key "$work/backup.key"

fail=0
check() { # name, command...
  local name=$1
  shift
  if "$@" >"$work/$name.log" 2>&1; then
    echo "ok   $name"
  else
    echo "FAIL $name (exit $?; see $work/$name.log)"
    fail=1
  fi
}

# 1. MVT reads spydar's plain output as a backup.
check check-backup "${mvt[@]}" check-backup -o "$work/mvt-results" "$work/spydar-decrypted"
if grep -qi "appears to be encrypted\|not a valid\|No backup found" "$work/check-backup.log"; then
  echo "FAIL check-backup: MVT did not read it as a plain backup"
  fail=1
fi
if [ -s "$work/mvt-results/manifest.json" ]; then
  echo "     MVT manifest module: $(python3 -c "import json,sys;print(len(json.load(open(sys.argv[1]))))" "$work/mvt-results/manifest.json") Manifest.db rows"
else
  echo "FAIL check-backup: no manifest.json"
  fail=1
fi

# 2. MVT decrypts spydar's encrypted fixture, with the password and with the saved key.
check decrypt-password "${mvt[@]}" decrypt-backup -p "$password" -d "$work/mvt-decrypted-pw" "$work/encrypted"
check decrypt-keyfile "${mvt[@]}" decrypt-backup -k "$work/backup.key" -d "$work/mvt-decrypted-key" "$work/encrypted"
for d in mvt-decrypted-pw mvt-decrypted-key; do
  [ -d "$work/$d" ] || continue
  # Same stored files, byte for byte (the plists differ on purpose: MVT copies
  # Manifest.plist unchanged, with IsEncrypted still true).
  if diff -r -q -x '*.plist' -x 'Manifest.db' "$work/spydar-decrypted" "$work/$d" >"$work/$d.diff"; then
    echo "ok   $d: stored files identical to spydar decrypt's ($(find "$work/$d" -mindepth 2 -type f | wc -l) files)"
  else
    echo "FAIL $d differs from spydar decrypt's output (see $work/$d.diff)"
    fail=1
  fi
done
exit $fail
