#!/usr/bin/env bash
# Prepare the data directory (secrets, schema) and run redis + the services under supervisord,
# from the same supervisord.conf the AIO image uses. Expects a built checkout (scripts/setup.sh).
set -euo pipefail
TAPSTACK_HOME=$(cd "$(dirname "$0")/.." && pwd)
export TAPSTACK_HOME
export TAPSTACK_DATA_DIR=${TAPSTACK_DATA_DIR:-$TAPSTACK_HOME/data}
export TAPSTACK_RUN_DIR=${TAPSTACK_RUN_DIR:-$TAPSTACK_DATA_DIR/run}
# Native default: a private Redis on 6380 so a system Redis on 6379 is left alone.
export TAPSTACK_REDIS_URL=${TAPSTACK_REDIS_URL:-redis://127.0.0.1:6380/0}

umask 077
mkdir -p "$TAPSTACK_DATA_DIR/secrets" "$TAPSTACK_DATA_DIR/redis" "$TAPSTACK_RUN_DIR"

# Secrets: generated once, kept in the data directory, never printed.
secret_file="$TAPSTACK_DATA_DIR/secrets/redis-password"
if [ ! -s "$secret_file" ]; then
  openssl rand -hex 32 > "$secret_file.tmp"
  mv "$secret_file.tmp" "$secret_file"
  echo "tapstack: generated a Redis password in $secret_file"
fi
export TAPSTACK_REDIS_PASSWORD_FILE="$secret_file"

redis_port=$(node -e 'console.log(new URL(process.argv[1]).port || 6379)' "$TAPSTACK_REDIS_URL")
cat > "$TAPSTACK_RUN_DIR/redis.conf" <<CONF
bind 127.0.0.1
port $redis_port
protected-mode yes
dir $TAPSTACK_DATA_DIR/redis
requirepass $(cat "$secret_file")
appendonly yes
appendfsync everysec
save 900 1 300 100
maxmemory 512mb
maxmemory-policy noeviction
CONF

# What the admin CLI needs to reach this runtime (bin/tapstack reads it when these are unset).
cat > "$TAPSTACK_RUN_DIR/cli.env" <<ENV
TAPSTACK_REDIS_URL=$TAPSTACK_REDIS_URL
TAPSTACK_REDIS_PASSWORD_FILE=$secret_file
ENV

"$TAPSTACK_HOME/bin/tapstack" migrate

echo "tapstack: starting (API on http://${TAPSTACK_HTTP_HOST:-127.0.0.1}:${TAPSTACK_HTTP_PORT:-8080}, data in $TAPSTACK_DATA_DIR)"
exec supervisord -n -c "$TAPSTACK_HOME/supervisord.conf"
