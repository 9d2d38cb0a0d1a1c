# syntax=docker/dockerfile:1
# burrow: build, production dependencies, slim Node 22 runtime.

# --- build: compile TypeScript ---------------------------------------------
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the image already has Node 22, so the `node` devDependency's
# binary download is skipped; classic-level ships prebuilt binaries.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npx tsc -p tsconfig.json

# --- production dependencies only --------------------------------------------
FROM node:22-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# --- runtime -------------------------------------------------------------------
FROM node:22-bookworm-slim
ENV NODE_ENV=production \
    BURROW_HOME=/home/burrow/.burrow
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY bootstrap ./bootstrap
RUN ln -s /app/bin/burrow.js /usr/local/bin/burrow \
 && useradd --create-home --uid 10001 burrow \
 && mkdir -p /home/burrow/.burrow && chown -R burrow:burrow /home/burrow && chmod 700 /home/burrow/.burrow
USER burrow
VOLUME ["/home/burrow/.burrow"]
EXPOSE 4001/tcp
ENTRYPOINT ["burrow", "daemon"]
