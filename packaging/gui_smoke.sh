#!/usr/bin/env bash
# Starts the bundled GUI on the current X display (run it under xvfb-run), waits until its window
# has painted (the screen is no longer one flat colour), saves a screenshot, then closes it.
# Fails when the program dies first or nothing is drawn in time. Needs ImageMagick (import,
# identify) and xwininfo. Usage: packaging/gui_smoke.sh PROGRAM SCREENSHOT.png [SECONDS]
set -euo pipefail
PROGRAM=$1
SHOT=$2
WAIT=${3:-90}
mkdir -p "$(dirname "$SHOT")"
"$PROGRAM" gui &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT
for ((second = 0; second < WAIT; second++)); do
  sleep 1
  kill -0 "$pid" 2>/dev/null || { echo "gui: the program exited before drawing" >&2; exit 1; }
  window=$(xwininfo -root -tree | awk '/"Sieve": \("Sieve"/ {print $1; exit}')
  [ -n "$window" ] || continue
  import -window "$window" "$SHOT"
  if [ "$(identify -format '%[fx:standard_deviation>0]' "$SHOT")" = 1 ]; then
    sleep 2  # let the last widgets settle, then take the picture that is kept
    import -window "$window" "$SHOT"
    echo "gui: window drawn after $((second + 1)) s; screenshot $SHOT"
    exit 0
  fi
done
echo "gui: no Sieve window drawn after ${WAIT} s" >&2
exit 1
