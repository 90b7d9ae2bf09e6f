#!/bin/sh
# The one entrypoint of the AIO image, the compose services and the native run
# (scripts/run-native.sh): `tapstack setup` (verify the data volume, secrets, TLS, render the
# nginx/redis configs, migrate; exit codes in cli/setup/exit-codes.ts), then
#   no arguments  -> supervisord with every process (AIO image, native run)
#   a command     -> that command (a compose service, or a one-off such as `tapstack migrate --status`)
# It defaults only TAPSTACK_HOME (the checkout or image root) and TAPSTACK_RUN_DIR (rendered configs,
# pid files, sockets; default <data dir>/run, where bin/tapstack finds cli.env); every other
# setting comes from the environment and is validated by setup.
set -eu

if [ -z "${TAPSTACK_HOME:-}" ]; then
  self=$(readlink -f "$0")
  TAPSTACK_HOME=$(cd "$(dirname "$self")/.." && pwd)
fi
export TAPSTACK_HOME

# supervisord starts its programs in TAPSTACK_HOME: make a relative data directory mean the same
# thing to them as to us.
if [ -n "${TAPSTACK_DATA_DIR:-}" ]; then
  case "$TAPSTACK_DATA_DIR" in
    /*) ;;
    *) TAPSTACK_DATA_DIR="$(pwd)/$TAPSTACK_DATA_DIR"; export TAPSTACK_DATA_DIR ;;
  esac
fi
if [ -z "${TAPSTACK_RUN_DIR:-}" ]; then
  TAPSTACK_RUN_DIR="${TAPSTACK_DATA_DIR:-$TAPSTACK_HOME/data}/run"
fi
case "$TAPSTACK_RUN_DIR" in
  /*) ;;
  *) TAPSTACK_RUN_DIR="$(pwd)/$TAPSTACK_RUN_DIR" ;;
esac
export TAPSTACK_RUN_DIR

# Secrets, the database and everything the processes create stay private to their user.
umask 077

"$TAPSTACK_HOME/bin/tapstack" setup

# Hand the processes the Redis address and the password file setup generated (the same file
# bin/tapstack reads); settings given explicitly win.
cli_env="$TAPSTACK_RUN_DIR/cli.env"
if [ -r "$cli_env" ]; then
  while IFS='=' read -r key value; do
    case "$key" in
      TAPSTACK_REDIS_URL) [ -n "${TAPSTACK_REDIS_URL:-}" ] || export TAPSTACK_REDIS_URL="$value" ;;
      TAPSTACK_REDIS_PASSWORD_FILE)
        if [ -z "${TAPSTACK_REDIS_PASSWORD:-}" ] && [ -z "${TAPSTACK_REDIS_PASSWORD_FILE:-}" ]; then export TAPSTACK_REDIS_PASSWORD_FILE="$value"; fi ;;
    esac
  done < "$cli_env"
fi

if [ "$#" -eq 0 ]; then
  exec supervisord -n -c "$TAPSTACK_HOME/supervisord.conf"
fi
exec "$@"
