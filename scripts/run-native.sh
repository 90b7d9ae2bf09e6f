#!/usr/bin/env bash
# Run the all-in-one runtime natively: the very entrypoint, supervisord.conf and nginx template the
# AIO image uses, with native defaults (data in ./data, unprivileged ports on loopback, a private
# Redis on 6380 so a system Redis on 6379 is left alone). Every default can be overridden from the
# environment. Expects a built checkout (scripts/setup.sh).
set -euo pipefail
TAPSTACK_HOME=$(cd "$(dirname "$0")/.." && pwd)
export TAPSTACK_HOME
export TAPSTACK_DATA_DIR=${TAPSTACK_DATA_DIR:-$TAPSTACK_HOME/data}
export TAPSTACK_NGINX_LISTEN=${TAPSTACK_NGINX_LISTEN:-127.0.0.1}
export TAPSTACK_NGINX_HTTP_PORT=${TAPSTACK_NGINX_HTTP_PORT:-8000}
export TAPSTACK_NGINX_HTTPS_PORT=${TAPSTACK_NGINX_HTTPS_PORT:-8443}
export TAPSTACK_REDIS_URL=${TAPSTACK_REDIS_URL:-redis://127.0.0.1:6380/0}
export TAPSTACK_PUBLIC_ORIGIN=${TAPSTACK_PUBLIC_ORIGIN:-https://localhost:$TAPSTACK_NGINX_HTTPS_PORT}

# Natively the data directory is a plain directory, not a volume: create it (setup refuses a
# missing one, which in a container means a forgotten volume).
(umask 077 && mkdir -p "$TAPSTACK_DATA_DIR")

echo "tapstack: starting natively on $TAPSTACK_PUBLIC_ORIGIN (data in $TAPSTACK_DATA_DIR)"
exec "$TAPSTACK_HOME/scripts/entrypoint.sh"
