#!/bin/sh
# Set-up on a fresh Debian 12 machine: packages, build, install into
# /usr/local/bin, then a short demo.
set -e
cd "$(dirname "$0")/.."
scripts/deps.sh
make -j"$(nproc)"
make install
scripts/demo.sh
