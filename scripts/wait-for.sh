#!/bin/sh
# Start order follows readiness: wait until every named AIO program answers its health probe
# (healthchecks/probes.ts), then exec the command. Gives up after TAPSTACK_START_TIMEOUT_SECONDS
# (exit 1: supervisord retries, and a program that never starts ends FATAL).
#   wait-for.sh redis api -- node dist/services/api/main.js
set -eu
home=$(cd "$(dirname "$0")/.." && pwd)
deps=""
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
  deps="$deps $1"
  shift
done
if [ "${1:-}" != "--" ] || [ $# -lt 2 ]; then
  echo "usage: wait-for.sh <program>... -- <command> [args...]" >&2
  exit 2
fi
shift
timeout=${TAPSTACK_START_TIMEOUT_SECONDS:-60}
started=$(date +%s)
# shellcheck disable=SC2086 # $deps is a list of words on purpose
until node "$home/dist/healthchecks/check.js" $deps 2>/dev/null; do
  if [ $(( $(date +%s) - started )) -ge "$timeout" ]; then
    echo "wait-for:$deps not healthy after ${timeout}s:" >&2
    node "$home/dist/healthchecks/check.js" $deps || true
    exit 1
  fi
  sleep 0.5
done
exec "$@"
