# Herald's services, compiled, on Node.js 24. docker-compose picks the entry point per service.
#   docker build -t herald .                       # the services (the default target)
#   docker build --target stand-ins -t herald-stand-ins .   # the local protocol peers (development)
# test/deploy/image.test.ts does what this file does, without a Docker engine: the same
# production-only install, the same folders, each entry point started with node.

# 1. Compile every workspace (TypeScript to dist/, with the Lua scripts and pages beside it).
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.base.json tsconfig.build.json ./
COPY scripts scripts
COPY client client
COPY shared shared
COPY cli cli
COPY services services
RUN npm ci --no-audit --no-fund && npm run build

# 2. Every workspace's manifest (npm ci checks the lock file against all of them), then the
# production dependencies of the services alone: no stand-ins, no local stack, no CLI, no
# TypeScript, tsx or test tools.
FROM node:24-bookworm-slim AS manifests
WORKDIR /app
COPY package.json package-lock.json ./
COPY client/package.json client/
COPY shared/package.json shared/
COPY cli/package.json cli/
COPY services/publisher/package.json services/publisher/
COPY services/email/package.json services/email/
COPY services/sms/package.json services/sms/
COPY services/push/package.json services/push/
COPY services/stand-ins/package.json services/stand-ins/
COPY services/local/package.json services/local/

FROM manifests AS deps
RUN npm ci --omit=dev --no-audit --no-fund --workspace client --workspace shared --workspace services/publisher --workspace services/email --workspace services/sms --workspace services/push

# 3. The image: those dependencies and the compiled services, nothing else.
FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules node_modules
COPY --from=deps /app/package.json package.json
COPY --from=build /app/client/package.json client/package.json
COPY --from=build /app/client/dist client/dist
COPY --from=build /app/shared/package.json shared/package.json
COPY --from=build /app/shared/dist shared/dist
COPY --from=build /app/services/publisher/package.json services/publisher/package.json
COPY --from=build /app/services/publisher/dist services/publisher/dist
COPY --from=build /app/services/email/package.json services/email/package.json
COPY --from=build /app/services/email/dist services/email/dist
COPY --from=build /app/services/sms/package.json services/sms/package.json
COPY --from=build /app/services/sms/dist services/sms/dist
COPY --from=build /app/services/push/package.json services/push/package.json
COPY --from=build /app/services/push/dist services/push/dist
# Not root: the node image's own unprivileged user.
USER node
# Services run as `node <entry>` (set per service), never through npm, so that SIGTERM reaches
# them and they drain.
CMD ["node", "services/publisher/dist/main.js"]

# The stand-ins, for docker-compose's local profile only: a target of its own, so the services'
# image carries none of them.
FROM manifests AS stand-ins
ENV NODE_ENV=production
RUN npm ci --omit=dev --no-audit --no-fund --workspace services/stand-ins
COPY --from=build /app/services/stand-ins/dist services/stand-ins/dist
USER node
CMD ["node", "services/stand-ins/dist/main.js"]
