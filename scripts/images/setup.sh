#!/usr/bin/env bash
# Prepare this machine for the images test tier (test/images). Idempotent; needs root.
#   1. the podman packages (scripts/setup.sh --test installs the same list; this covers a
#      machine set up before they were added);
#   2. the stand-in base images (standins.sh; kept when their recipe hash matches);
#   3. proof that a container can run at all: if not, exit 3 saying so (the tier fails, never skips).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export CONTAINERS_CONF="$here/containers.conf"

packages=(podman uidmap slirp4netns fuse-overlayfs debootstrap netavark aardvark-dns containernetworking-plugins catatonit runc docker-compose)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "images: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
fi

"$here/standins.sh"

if ! out=$(podman run --rm --network=none --pull=never localhost/tapstack-standin/debian:bookworm-slim true 2>&1); then
  echo "images: containers cannot run on this machine (podman run failed): $out" >&2
  exit 3
fi
echo "images: podman $(podman version --format '{{.Client.Version}}') ready"
