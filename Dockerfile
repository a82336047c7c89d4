# One image for the api, worker, migrate and temporal-setup services of docker-compose.yml (and the
# Helm chart's pods). It runs the server compiled to JavaScript (dist/, `npm run build`) with plain
# node: no npm and no TypeScript loader between the container runtime and the service. Every stage
# is on Node 24 LTS, the release CI's second pass of the suite runs (scripts/provision/node24.ts).

# The tenant web app (web/) is built with the dev dependencies, in a stage of its own; the image
# keeps only its output, web/dist, which the API serves at /app.
FROM node:24.19.0-bookworm-slim AS web
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY web web
RUN npx vite build --config web/vite.config.ts

# The server code, compiled by tsc (a dev dependency) with the generated Prisma client; the image
# keeps only dist/.
FROM node:24.19.0-bookworm-slim AS server
WORKDIR /build
COPY package.json package-lock.json .npmrc ./
COPY scripts/postinstall.mjs scripts/postinstall.mjs
COPY prisma prisma
COPY prisma.config.ts ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY api api
COPY activities activities
COPY lib lib
COPY workers workers
COPY workflows workflows
COPY temporal-config temporal-config
COPY scripts/db-migrate.ts scripts/temporal-setup.ts scripts/
RUN npm run build

FROM node:24.19.0-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json .npmrc ./
COPY scripts/postinstall.mjs scripts/postinstall.mjs
COPY prisma prisma
COPY prisma.config.ts ./
RUN npm ci --omit=dev --no-audit --no-fund
# The sources stay beside the build for the files that are not code (prisma/migrations, the web
# chat widget's page), which dist/ reads from the project root (lib/project-root.ts).
COPY . .
COPY --from=server /build/dist dist
COPY --from=web /build/web/dist web/dist
RUN mkdir -p /var/lib/metachat/documents && chown node:node /var/lib/metachat/documents
USER node
EXPOSE 3000
# node is the container's main process (PID 1), with no init in front: the API and the worker
# handle SIGTERM themselves (a PID 1 without handlers would ignore it), start no child processes
# (documents are parsed in worker threads), so there is nothing to reap or to forward signals to.
# docker stop's SIGTERM starts the drain; compose's stop_grace_period bounds it.
STOPSIGNAL SIGTERM
CMD ["node", "dist/api/server.js"]
