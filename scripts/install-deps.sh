#!/usr/bin/env bash
# Installs every build, test and run dependency from Debian 12 packages. Idempotent; run as root.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
PKGS=(
  build-essential cmake pkg-config clang-format
  libssl-dev openssl libp11-kit-dev softhsm2 opensc
  libbotan-2-dev liblmdb-dev lmdb-utils libmicrohttpd-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev googletest
  pebble certbot lego dehydrated uacme caddy python3-acme curl dnsutils
  chromium chromium-driver
  wrk nginx-light python3-aiosmtpd
  postgresql-15-auto-failover pg-auto-failover-cli haproxy  # issue 20, the pair: monitor, keepers, load balancer
  clang libfuzzer-14-dev libclang-rt-14-dev libcurl4-openssl-dev faketime
  mmdebstrap systemd-container systemd procps iproute2
  libgnutls28-dev jq
  postgresql-15 postgresql-client-15 libpq-dev
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
