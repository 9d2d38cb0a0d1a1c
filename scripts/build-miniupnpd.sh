#!/usr/bin/env bash
# Builds the NAT lab's second home router: miniupnpd 2.3.9 from Debian's own source tarball
# (trixie's package; its binary needs a newer glibc than bookworm has), into
# /usr/local/lib/burrow-lab/ (or $BURROW_LAB_TOOLS). Run as root by .ci/run, after the
# Debian packages it builds against (gcc, make, curl, libmnl-dev, libnftnl-dev, uuid-dev).
#
# The double-NAT lab needs it: 2.3.1 (bookworm's) refuses every mapping while its WAN address
# is private or 100.64/10, as OpenWrt does by default; 2.3.9 has `ext_allow_private_ipv4`,
# which makes it map anyway, as many consumer routers behind a carrier-grade NAT do. The
# tarball's SHA-256 is pinned below.
#
# Idempotent: a second run keeps the built router.
set -euo pipefail

if [ "$(id -u)" != 0 ]; then
  echo "build-miniupnpd: run as root (it installs into /usr/local/lib); without it the double-NAT mapping test skips" >&2
  exit 1
fi

MINIUPNPD_VERSION=2.3.9
MINIUPNPD_SHA256=66cb3c3d697ab2bb3a61d3c48628166d6ba328d7c2dbeb95898fdf2a3202af7b
MINIUPNPD_URL="http://deb.debian.org/debian/pool/main/m/miniupnpd/miniupnpd_${MINIUPNPD_VERSION}.orig.tar.gz"
DEST="${BURROW_LAB_TOOLS:-/usr/local/lib/burrow-lab}/miniupnpd-${MINIUPNPD_VERSION}"

if [ -x "$DEST/miniupnpd" ] && "$DEST/miniupnpd" --version 2>&1 | grep -q "miniupnpd ${MINIUPNPD_VERSION}"; then
  echo "build-miniupnpd: miniupnpd ${MINIUPNPD_VERSION} already built at $DEST/miniupnpd"
  exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "build-miniupnpd: building miniupnpd ${MINIUPNPD_VERSION} (nftables backend) into $DEST"
curl -fsSL --retry 3 -o "$work/src.tar.gz" "$MINIUPNPD_URL"
echo "${MINIUPNPD_SHA256}  $work/src.tar.gz" | sha256sum -c --quiet -
tar -xzf "$work/src.tar.gz" -C "$work"
(
  cd "$work/miniupnpd-${MINIUPNPD_VERSION}"
  # the options Debian builds its nftables package with (debian/rules), minus regex (libpcre)
  ./configure --ipv6 --igd2 --leasefile --vendorcfg --pcp-peer --portinuse --firewall=nftables >/dev/null
  make -s -f Makefile.linux_nft -j"$(nproc)" miniupnpd >/dev/null 2>&1
)
install -D -m 0755 "$work/miniupnpd-${MINIUPNPD_VERSION}/miniupnpd" "$DEST/miniupnpd"
"$DEST/miniupnpd" --version 2>&1 | head -1
