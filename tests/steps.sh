#!/usr/bin/env bash
# What `make test` runs. All of it runs at once, in three streams: integration (two pytest workers), sanity, and
# units -> lint -> molecule -> compat, sharing CI's two cores (which integration alone keeps about 88 % busy).
# The output of integration and sanity is held back in .build/logs and printed when each ends. Each step's wall time
# is printed, so that a CI log shows where the time goes. A failure ends the run, with the first failing step's code.
set -uo pipefail
MAKE=${MAKE:-make}
LOGS=.build/logs

step() {
  local start status
  start=$(date +%s)
  "$MAKE" --no-print-directory "$1"
  status=$?
  echo "make test: $1 took $(( $(date +%s) - start )) s$([ "$status" -eq 0 ] || echo ", exit $status")"
  return "$status"
}

# Waits for a background step, prints its output, and returns its exit code.
finish() {
  local status
  wait "$2"
  status=$?
  cat "$LOGS/$1.log"
  return "$status"
}

# Job control gives each background step a process group of its own, which stop_all ends with all it started.
set -m
stop_all() {
  local pid
  for pid in "$@"; do kill -- "-$pid" 2>/dev/null; done
  wait 2>/dev/null
}

mkdir -p "$LOGS"
step integration > "$LOGS/integration.log" 2>&1 &
integration=$!
step sanity > "$LOGS/sanity.log" 2>&1 &
sanity=$!
status=0
for name in units lint molecule compat; do
  step "$name" || { status=$?; break; }
done
if [ "$status" -ne 0 ]; then
  stop_all "$integration" "$sanity"
  exit "$status"
fi
finish sanity "$sanity" || { status=$?; stop_all "$integration"; exit "$status"; }
finish integration "$integration"
