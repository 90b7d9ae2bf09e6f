# syntax=docker/dockerfile:1
# The Tapstack app image: every app process, the admin CLI and `tapstack setup`, one image for all
# of docker-compose.yaml's app services. Non-root (uid/gid 10001). DEPLOY.md explains its use.
#   docker build -t tapstack/app:0.1.0 .

# ---- build: compile TypeScript and the native better-sqlite3 module once, then drop dev deps ----
FROM node:20.20.2-bookworm-slim AS build
# better-sqlite3 is native: when no prebuilt binary can be fetched it compiles with node-gyp.
# Versions are left to the pinned base image's Debian snapshot (pinning apt versions breaks builds
# as soon as Debian ships a security update and drops the old one).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
# node-gyp: use the headers that ship with the base image instead of downloading them.
ENV npm_config_nodedir=/usr/local
WORKDIR /src
COPY package.json package-lock.json ./
# npm can exit 0 when a fetch failed half-way: prove the tree is complete and the native module
# was really compiled, or fail the build here.
RUN npm ci --no-audit --no-fund \
 && npm ls --silent > /dev/null \
 && test -f node_modules/better-sqlite3/build/Release/better_sqlite3.node
# Sources only (.dockerignore keeps out node_modules, dist, data, tests, .git ...).
COPY . .
# `npm run build` compiles the server and, when web/ has a Vite app, builds it into web/dist.
# What nginx serves: web/dist when the app was built, else the plain web/ directory.
# Fail the build, not the first start, if the native module did not really build.
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund \
 && node -e "new (require('better-sqlite3'))(':memory:').prepare('select 1 as ok').get()" \
 && if [ -f web/dist/index.html ]; then cp -a web/dist /src/webroot; else cp -a web /src/webroot; fi \
 && test -f /src/webroot/index.html

# ---- runtime ----
FROM node:20.20.2-bookworm-slim AS runtime
# openssl: setup generates the self-signed certificate and secrets; ca-certificates: price feeds;
# rsync, openssh-client: rsync backup targets; redis-tools: redis-check-rdb in restore drills.
# Mount points of compose's volumes, owned by tapstack: Docker gives an empty named volume the
# owner and mode of the image directory it is first mounted on. /var/lib/tapstack/redis exists
# only for that (compose's setup mounts the redis volume there first); the file in it keeps the
# volume non-empty, so the redis image's own /data (uid 999) is never copied over it.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends openssl ca-certificates rsync openssh-client redis-tools zstd \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 tapstack \
 && useradd --system --uid 10001 --gid tapstack --home-dir /app --no-create-home --shell /usr/sbin/nologin tapstack \
 && mkdir -p /data /tls /run/tapstack /var/lib/tapstack/redis /var/lib/tapstack/prometheus /var/lib/tapstack/alertmanager /var/lib/tapstack/grafana /var/lib/tapstack/loki \
 && chown tapstack:tapstack /data /tls /run/tapstack /var/lib/tapstack/redis /var/lib/tapstack/prometheus /var/lib/tapstack/alertmanager /var/lib/tapstack/grafana /var/lib/tapstack/loki \
 && chmod 0700 /data /tls /run/tapstack /var/lib/tapstack/redis /var/lib/tapstack/prometheus /var/lib/tapstack/alertmanager /var/lib/tapstack/grafana /var/lib/tapstack/loki \
 && touch /var/lib/tapstack/redis/.tapstack-redis \
 && chown tapstack:tapstack /var/lib/tapstack/redis/.tapstack-redis \
 && for d in prometheus alertmanager grafana loki; do touch /var/lib/tapstack/$d/.tapstack-$d && chown tapstack:tapstack /var/lib/tapstack/$d/.tapstack-$d; done

ENV NODE_ENV=production \
    TAPSTACK_HOME=/app \
    TAPSTACK_DATA_DIR=/data \
    TAPSTACK_RUN_DIR=/run/tapstack \
    TAPSTACK_DATA_REQUIRE_MOUNT=true

WORKDIR /app
# Application files stay owned by root: the runtime user can read them, not change them.
COPY --from=build /src/package.json /app/package.json
COPY --from=build /src/node_modules /app/node_modules
COPY --from=build /src/dist /app/dist
COPY --from=build /src/bin /app/bin
COPY --from=build /src/scripts /app/scripts
COPY --from=build /src/nginx /app/nginx
COPY --from=build /src/monitoring /app/monitoring
COPY --from=build /src/webroot /app/web
RUN ln -s /app/bin/tapstack /usr/local/bin/tapstack

USER tapstack
VOLUME /data
EXPOSE 8080
# Default process is the API; compose overrides command and health check per service.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "/app/dist/healthchecks/http.js", "http://127.0.0.1:8080/readyz"]
ENTRYPOINT ["/app/scripts/entrypoint.sh"]
CMD ["node", "/app/dist/services/api/main.js"]
