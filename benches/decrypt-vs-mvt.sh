#!/usr/bin/env bash
# Times `spydar decrypt` against `mvt-ios decrypt-backup` on the same
# generated encrypted backup of FILES stored files (default 200,000; 64 B to
# 8 KiB each; small key-derivation counts, so this measures decryption), and
# checks both write the same bytes.
#
# Usage: benches/decrypt-vs-mvt.sh [FILES]
# MVT is installed from PyPI into bench-out/mvt-venv the first time.
set -euo pipefail
cd "$(dirname "$0")/.."
files=${1:-200000}
work=bench-out/decrypt-vs-mvt
venv=bench-out/mvt-venv
if [ ! -x "$venv/bin/mvt-ios" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q mvt
fi
rm -rf "$work"
mkdir -p "$work"
cargo build -q --release --bin spydar
echo "== generating an encrypted backup of $files files"
SPYDAR_BENCH_FILES="$files" SPYDAR_BENCH_DIR="$work" SPYDAR_BENCH_KEEP="$PWD/$work/encrypted" \
  cargo bench -q --bench ios_encrypted -- decrypt | grep -v '^$'
printf 'bench\n' >"$work/password.txt"
sync
echo "== $(nproc) cores"
/usr/bin/time -f "spydar decrypt:         %e s wall, %U s user, %M KB peak RSS" \
  target/release/spydar decrypt -q "$work/encrypted" -o "$work/spydar-out" --password-file "$work/password.txt"
sync
/usr/bin/time -o "$work/mvt.time" -f "mvt-ios decrypt-backup: %e s wall, %U s user, %M KB peak RSS" \
  "$venv/bin/mvt-ios" --disable-update-check --disable-indicator-update-check \
  decrypt-backup -p bench -d "$work/mvt-out" "$work/encrypted" >"$work/mvt.log" 2>&1
cat "$work/mvt.time"
if diff -r -q -x '*.plist' -x 'Manifest.db' "$work/spydar-out" "$work/mvt-out" >"$work/diff.txt"; then
  echo "same decrypted files from both ($(find "$work/spydar-out" -mindepth 2 -type f | wc -l) files)"
else
  echo "outputs differ: see $work/diff.txt"
  exit 1
fi
