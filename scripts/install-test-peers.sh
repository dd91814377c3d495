#!/usr/bin/env bash
# Installs the Debian packages the integration tests run against (sipp, baresip, Kamailio,
# redis-server, sox, tshark; openssl makes the TLS tests' certificate; chromium is the browser of
# the WebRTC tests), only when one is missing, and drachtio-server (the drachtio engine's tests),
# which no package carries: its prebuilt binary from the peers folder beside this checkout
# (DRACHTIO_PEER_DIR, or ../shared/peers/drachtio). Needs root or sudo.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
if ! command -v drachtio >/dev/null 2>&1; then
  peer="${DRACHTIO_PEER_DIR:-$root/../shared/peers/drachtio}"
  if [ ! -f "$peer/install.sh" ]; then
    echo "drachtio-server is missing and $peer/install.sh is not there:" >&2
    echo "  set DRACHTIO_PEER_DIR to the folder with drachtio-server's install.sh" >&2
    exit 1
  fi
  bash "$peer/install.sh"
fi
need=()
for bin in sipp:sip-tester baresip:baresip-core kamailio:kamailio redis-server:redis-server \
  sox:sox dumpcap:tshark xxd:xxd openssl:openssl chromium:chromium; do
  command -v "${bin%%:*}" >/dev/null 2>&1 || need+=("${bin#*:}")
done
[ ${#need[@]} -eq 0 ] && exit 0
echo "installing test peers: ${need[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
