#!/usr/bin/env bash
# Kaspersky's triangle-check against spydar's `triangulation_timeline` on the
# same generated backups (plain and encrypted): a planted burst, the same
# event kinds spread over days, a burst that is an ordinary message (an
# attachment file in the window), and a burst among the ten most recent
# events. Windows are compared with their start times and every event
# (time to the millisecond, type, path or process).
#
# Expected: identical windows on every case but the last, where
# triangle-check starts no window (its loop stops ten events before the end)
# and spydar reports the burst.
#
# Usage: benches/triangle-check-compare.sh
# Installs triangle-check from PyPI into bench-out/triangle-check-venv the
# first time (TRIANGLE_CHECK_PYTHON=/path/to/python uses an existing one).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${TRIANGLE_CHECK_PYTHON:-}" ]; then
  venv=bench-out/triangle-check-venv
  if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import triangle_check' 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q triangle-check
  fi
  export TRIANGLE_CHECK_PYTHON="$PWD/$venv/bin/python"
fi
echo "triangle-check: $("$TRIANGLE_CHECK_PYTHON" -m pip show triangle-check 2>/dev/null | awk '/^Version/ {print $2}')"
cargo test -q --test integration triangulation::windows_match_triangle_check -- --ignored --nocapture
