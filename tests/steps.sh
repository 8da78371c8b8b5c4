#!/usr/bin/env bash
# What `make test` runs. sanity, units, lint and molecule each keep one core busy, so sanity runs beside the other three
# (CI has two cores), its output held back until it ends; integration, which keeps both cores busy, runs last.
# Each step's wall time is printed, so that a CI log shows where the time goes. The first failure ends the run.
set -uo pipefail
MAKE=${MAKE:-make}

step() {
  local start status
  start=$(date +%s)
  "$MAKE" --no-print-directory "$1"
  status=$?
  echo "make test: $1 took $(( $(date +%s) - start )) s$([ "$status" -eq 0 ] || echo ", exit $status")"
  return "$status"
}

mkdir -p .build/logs
step sanity > .build/logs/sanity.log 2>&1 &
sanity=$!
status=0
for name in units lint molecule; do
  step "$name" || { status=$?; break; }
done
wait "$sanity"
sanity_status=$?
cat .build/logs/sanity.log
[ "$status" -eq 0 ] || exit "$status"
[ "$sanity_status" -eq 0 ] || exit "$sanity_status"
step integration
