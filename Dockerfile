# One image for every Herald service; docker-compose picks the entry point per service.
# Build:  docker build -t herald .
FROM node:20-bookworm-slim AS deps
WORKDIR /app
# Manifests first, so dependencies are cached until one changes.
COPY package.json package-lock.json ./
COPY shared/package.json shared/
COPY cli/package.json cli/
COPY services/publisher/package.json services/publisher/
COPY services/email/package.json services/email/
COPY services/sms/package.json services/sms/
COPY services/push/package.json services/push/
COPY services/stand-ins/package.json services/stand-ins/
COPY services/local/package.json services/local/
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules node_modules
COPY --from=deps /app/package.json package.json
COPY shared shared
COPY cli cli
COPY services services
# Not root: the node image's own unprivileged user.
USER node
# Services run as `node --import tsx <entry>` (set per service), never through npm, so that
# SIGTERM reaches them and they drain.
CMD ["node", "--import", "tsx", "services/publisher/src/main.ts"]
