#!/bin/sh
# Start order follows readiness: wait until every named AIO program serves (healthchecks/probes.ts;
# one polling process, healthchecks/check.js --wait), then exec the command. Gives up after
# TAPSTACK_START_TIMEOUT_SECONDS (exit 1: supervisord retries, and a program that never starts ends
# FATAL). SIGTERM while waiting ends the wait at once (exit 143).
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
# shellcheck disable=SC2086 # $deps is a list of words on purpose
node "$home/dist/healthchecks/check.js" --wait "$timeout" $deps &
waiter=$!
trap 'kill "$waiter" 2>/dev/null; exit 143' TERM INT
status=0
wait "$waiter" || status=$?
trap - TERM INT
[ "$status" -eq 0 ] || exit 1
exec "$@"
