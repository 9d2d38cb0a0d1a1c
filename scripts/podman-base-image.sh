#!/usr/bin/env bash
# Builds a local stand-in for the Dockerfile's base image (node:22-bookworm-slim) where no
# container registry is reachable (this project's CI): a Debian bookworm minbase from
# debootstrap, the Node 22 binary of the npm `node` package in node_modules, and the npm
# that the host runs. Tagged with the real name, so `podman build --pull=never` uses it;
# labelled burrow.stand-in=1 so nobody mistakes it for the real one. Kept in podman's
# store: a second run does nothing. Needs root, podman, debootstrap.
#   usage: scripts/podman-base-image.sh [IMAGE]
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGE=${1:-docker.io/library/node:22-bookworm-slim}

if podman image exists "$IMAGE"; then
  echo "base image $IMAGE: present"
  exit 0
fi

node_bin=node_modules/node/bin/node
[ -x "$node_bin" ] || { echo "podman-base-image: $node_bin missing: run 'npm install' first" >&2; exit 1; }
major=$("$node_bin" -p 'process.versions.node.split(".")[0]')
[ "$major" = 22 ] || { echo "podman-base-image: $node_bin is Node $major, not 22" >&2; exit 1; }
npm_dir="$(npm root -g)/npm"
[ -f "$npm_dir/bin/npm-cli.js" ] || { echo "podman-base-image: no npm at $npm_dir" >&2; exit 1; }

work=$(mktemp -d /var/tmp/burrow-base.XXXXXX)
trap 'rm -rf "$work"' EXIT
echo "base image $IMAGE: debootstrap --variant=minbase bookworm (about 30 s)"
if ! debootstrap --variant=minbase bookworm "$work/root" >"$work/debootstrap.log" 2>&1; then
  tail -n 20 "$work/debootstrap.log" >&2
  echo "podman-base-image: debootstrap failed: check that Debian's package mirror is reachable" >&2
  exit 1
fi
root=$work/root
install -m 0755 "$node_bin" "$root/usr/local/bin/node"
mkdir -p "$root/usr/local/lib/node_modules"
cp -a "$npm_dir" "$root/usr/local/lib/node_modules/npm"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
# A machine whose TLS to the npm registry passes a proxy with its own CA (this project's CI)
# names that CA in NODE_EXTRA_CA_CERTS or npm's cafile: the stand-in trusts it too, so the
# Dockerfile's `npm ci` works here unchanged. The real base image needs nothing of the kind.
ca_changes=()
ca=${NODE_EXTRA_CA_CERTS:-$(npm config get cafile 2>/dev/null || true)}
if [ -n "$ca" ] && [ "$ca" != null ] && [ -f "$ca" ]; then
  mkdir -p "$root/usr/local/share/burrow-ca"
  cp "$ca" "$root/usr/local/share/burrow-ca/ca.crt"
  ca_changes=(--change 'ENV NODE_EXTRA_CA_CERTS=/usr/local/share/burrow-ca/ca.crt')
fi
tar -C "$root" -c . | podman import "${ca_changes[@]}" \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV NODE_VERSION='"$("$node_bin" -p process.versions.node)" \
  --change 'LABEL burrow.stand-in=1' \
  --change 'CMD ["node"]' \
  --quiet - "$IMAGE" >/dev/null
echo "base image $IMAGE: built ($(podman image inspect --format '{{.Size}}' "$IMAGE") bytes)"
