#!/usr/bin/env bash
# The background helpers of one images-tier run, owned by one process so that one PID stops them:
#   - podman's Docker-API service on SOCKET (docker-compose talks to it);
#   - the health-check loop: podman 4.3 runs HEALTHCHECKs from systemd timers, and there is no
#     systemd here, so run `podman healthcheck run` for each running container of this run (name
#     prefix PREFIX) at the container's own check interval (never more often than every SECONDS),
#     as the timer would; without it health stays `starting` forever.
# Stops itself (and the service) on SIGTERM or when its parent, the test process, is gone.
#   scripts/images/helpers.sh SOCKET PREFIX [SECONDS]
set -u
socket=$1 prefix=$2 every=${3:-5}
here=$(cd "$(dirname "$0")" && pwd)
export CONTAINERS_CONF="$here/containers.conf"
parent=$PPID
podman system service --time=0 "unix://$socket" &
service=$!
stop() { kill "$service" 2>/dev/null; wait "$service" 2>/dev/null; exit 0; }
trap stop TERM INT HUP
declare -A running=() interval=() last=()
while kill -0 "$parent" 2>/dev/null && kill -0 "$service" 2>/dev/null; do
  for id in $(podman ps -q --filter "name=^$prefix" --filter status=running 2>/dev/null); do
    # One check at a time per container (a check may take up to its timeout).
    if [ -n "${running[$id]:-}" ] && kill -0 "${running[$id]}" 2>/dev/null; then continue; fi
    if [ -z "${interval[$id]:-}" ]; then
      ns=$(podman inspect --format '{{json .Config.Healthcheck.Interval}}' "$id" 2>/dev/null || true)
      case "$ns" in ''|*[!0-9]*) ns=0 ;; esac
      interval[$id]=$((ns / 1000000000 > every ? ns / 1000000000 : every))
      last[$id]=$SECONDS
    fi
    [ $((SECONDS - last[$id])) -ge "${interval[$id]}" ] || continue
    last[$id]=$SECONDS
    podman healthcheck run "$id" > /dev/null 2>&1 &
    running[$id]=$!
  done
  wait_until=$((SECONDS + every))
  while [ "$SECONDS" -lt "$wait_until" ]; do sleep 0.5 & wait $!; done
done
stop
