#!/usr/bin/env bash
# Installs the Debian packages the integration tests run against (sipp, baresip, Kamailio,
# redis-server, sox, tshark; openssl makes the TLS tests' certificate; chromium is the browser of
# the WebRTC tests), only when one is missing. Needs root or sudo.
set -euo pipefail
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
