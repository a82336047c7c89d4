# One image for the api, worker and migrate services of docker-compose.yml.
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
COPY scripts/postinstall.mjs scripts/postinstall.mjs
COPY prisma prisma
COPY prisma.config.ts ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY . .
RUN mkdir -p /var/lib/metachat/documents && chown node:node /var/lib/metachat/documents
USER node
EXPOSE 3000
CMD ["npm", "run", "start:api"]
