# syntax=docker/dockerfile:1
# burrow: build, production dependencies, slim Node 22 runtime.
#   docker build -t burrow .            (podman: podman build --format docker -t burrow .;
#                                        the docker format keeps the HEALTHCHECK)
#   docker run -d --name burrow --network host -v burrow-home:/home/burrow/.burrow burrow
# Port mapping (UPnP/NAT-PMP/PCP) needs --network host: behind a container's own NAT
# the router never sees the daemon. See the README's "Docker and podman" section.

# --- build: compile TypeScript ---------------------------------------------
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the image already has Node 22, so the `node` devDependency's
# binary download is skipped; classic-level ships prebuilt binaries. --omit=peer: see below.
RUN npm ci --omit=peer --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npx tsc -p tsconfig.json

# --- production dependencies only --------------------------------------------
FROM node:22-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# --omit=peer: @libp2p/webrtc depends on react-native-webrtc, whose peer dependency
# react-native (and its ~600 packages, ~100 MB) npm would install; burrow runs on Node,
# where @libp2p/webrtc uses node-datachannel and never loads either. Optional
# dependencies stay: node-datachannel's native binary comes as one.
RUN npm ci --omit=dev --omit=peer --ignore-scripts --no-audit --no-fund \
 && if [ -e node_modules/react-native ]; then echo "react-native in production node_modules" >&2; exit 1; fi

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
# 4001/tcp: libp2p (TCP); 3478/udp and 3479/udp: the STUN server a relay node serves (stunPort and
# stunPort + 1, its alternate port).
EXPOSE 4001/tcp 3478/udp 3479/udp
# Healthy while the daemon answers on its control socket.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
  CMD ["burrow", "status"]
ENTRYPOINT ["burrow", "daemon"]
