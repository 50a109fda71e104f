#!/usr/bin/env bash
# The bundle's smoke test (make bundle-test): the desktop-entry tests; `Sieve --self-test`
# offscreen from the bundle and from a hard-linked copy at a path with spaces and non-ASCII
# characters; the GUI under Xvfb (skipped when xvfb-run is missing). The user's data, settings
# and caches are not touched.
# Usage: packaging/bundle_test.sh [BUNDLE_DIR] (default dist/Sieve); SHOT=FILE.png keeps the
# screenshot of the welcome page (default build/bundle-test/welcome.png).
set -euo pipefail
cd "$(dirname "$0")/.."
BUNDLE=${1:-dist/Sieve}
SCRATCH=$PWD/build/bundle-test
SHOT=${SHOT:-$SCRATCH/welcome.png}
[ -x "$BUNDLE/Sieve" ] || { echo "bundle-test: no $BUNDLE/Sieve: run make bundle" >&2; exit 1; }
rm -rf "$SCRATCH"
mkdir -p "$SCRATCH"
export SIEVE_DATA_DIR=$SCRATCH/data XDG_CONFIG_HOME=$SCRATCH/config XDG_CACHE_HOME=$SCRATCH/cache

echo "== desktop entry and install-desktop"
"${PYTHON:-.venv/bin/python}" -m pytest -q -p no:cacheprovider packaging/tests

echo "== self-test from $BUNDLE"
QT_QPA_PLATFORM=offscreen "$BUNDLE/Sieve" --self-test
numba_cache=$XDG_CACHE_HOME/sieve/numba
[ -n "$(find "$numba_cache" -name '*.nbi' 2>/dev/null)" ] \
  || { echo "bundle-test: numba cached nothing in $numba_cache" >&2; exit 1; }
echo "numba cache: $(find "$numba_cache" -name '*.nbi' | wc -l) kernels in $numba_cache"

odd="$SCRATCH/Sieve bündle tëst/Sieve"
mkdir -p "$(dirname "$odd")"
cp -al "$BUNDLE" "$odd" 2>/dev/null || cp -a "$BUNDLE" "$odd"
echo "== self-test from $odd"
QT_QPA_PLATFORM=offscreen "$odd/Sieve" --self-test "$SCRATCH/wörk dir"
rm -rf "$(dirname "$odd")"

missing=$(for tool in xvfb-run xwininfo import identify; do command -v "$tool" >/dev/null || echo "$tool"; done)
if [ -z "$missing" ]; then
  echo "== GUI under Xvfb"
  env -u QT_QPA_PLATFORM xvfb-run -a -s "-screen 0 1600x1000x24" \
    bash packaging/gui_smoke.sh "$BUNDLE/Sieve" "$SHOT"
else
  echo "== GUI under Xvfb: skipped, missing $(echo $missing) (apt: xvfb x11-utils imagemagick)"
fi
echo "bundle-test: passed"
