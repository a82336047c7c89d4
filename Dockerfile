# One image for the api, worker and migrate services of docker-compose.yml.

# The tenant web app (web/) is built with the dev dependencies, in a stage of its own; the image
# keeps only its output, web/dist, which the API serves at /app.
FROM node:20-bookworm-slim AS web
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY web web
RUN npx vite build --config web/vite.config.ts

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
COPY scripts/postinstall.mjs scripts/postinstall.mjs
COPY prisma prisma
COPY prisma.config.ts ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY . .
COPY --from=web /build/web/dist web/dist
RUN mkdir -p /var/lib/metachat/documents && chown node:node /var/lib/metachat/documents
USER node
EXPOSE 3000
CMD ["npm", "run", "start:api"]
