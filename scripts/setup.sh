#!/usr/bin/env bash
# Install what Tapstack needs on a Debian machine with Node 20, then build. Idempotent.
#   scripts/setup.sh           runtime packages + npm ci + build
#   scripts/setup.sh --test    also the packages the test suite uses
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(redis-server redis-tools supervisor nginx sqlite3 openssl curl ca-certificates rsync openssh-client zstd)
if [ "${1:-}" = "--test" ]; then
  # Validators and probes the test suite runs (TOOLING.md): compose 1.29, sslscan, shellcheck, wrk.
  # chromium: the web app's end-to-end tests (playwright-core drives Debian's browser).
  packages+=(procps docker-compose sslscan shellcheck wrk age openssh-server util-linux chromium)
  # Monitoring (test/unit/monitoring.test.ts, test/e2e/monitoring.test.ts): promtool, amtool and
  # the real Prometheus and Alertmanager the live test starts on loopback.
  packages+=(prometheus prometheus-alertmanager)
  # The images tier (test/images, TOOLING.md "Building and running the images with podman"):
  # podman with runc, its networking, and debootstrap for the stand-in base images.
  packages+=(podman uidmap slirp4netns fuse-overlayfs debootstrap netavark aardvark-dns containernetworking-plugins catatonit runc)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "setup: Node.js >= 20 is required (found $(node --version))" >&2
  exit 1
fi

# npm ci is the slow part: skip it when node_modules matches the lockfile already.
stamp=node_modules/.tapstack-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] || [ ! -f node_modules/better-sqlite3/build/Release/better_sqlite3.node ]; then
  npm ci --no-audit --no-fund
  echo "$want" > "$stamp"
fi
npm run --silent build
