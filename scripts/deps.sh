#!/bin/sh
# Install the Debian 12 packages berth builds, tests and benchmarks with.
set -e
PKGS="build-essential pkg-config libjansson-dev libseccomp-dev libcap-dev \
  libarchive-dev libssl-dev libmicrohttpd-dev libcurl4-openssl-dev \
  libmnl-dev libnftables-dev libldns-dev nftables iperf3 \
  busybox-static runc docker.io jq iproute2 procps curl libclang-rt-14-dev \
  libcrypt-dev skopeo docker-registry apache2-utils openssl bc qemu-system-x86"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq $missing >/dev/null
fi
