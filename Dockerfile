# syntax=docker/dockerfile:1
# Multi-stage build: compile TypeScript in a build stage, ship only production dependencies.
# test/ops/packaging.test.ts repeats these steps without a Docker engine.

FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# The image already runs Node 24: skip the `node` devDependency's binary download.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY config ./config
# Non-root (uid 1000; Kubernetes needs the number: deploy/kubernetes sets runAsUser 1000). The
# image runs on a read-only root filesystem: traced under strace, the gateway and the simulator
# open files for reading only (no write, create, mkdir, rename or unlink anywhere) and log to
# stdout; /tmp is the one writable place to give them (a tmpfs or emptyDir) in case Node needs it.
USER node
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/server.js"]
