#!/bin/bash
# Build the tiny initramfs of the VMM's Linux boot test and bench/vmm: one
# freestanding static /init (scripts/guest-initrd/init.c: prints
# BERTH-INIT-OK, the first bytes of /dev/vda as "BERTH-DISK: ...", then
# powers off through berth-vmm's shutdown port) and /dev/console.
#
#   scripts/build-guest-initrd.sh     build if needed; print the path of
#                                     initrd.cpio.gz
#
# Cached under $BERTH_GUEST_CACHE/../guest-initrd/<hash of the inputs>/.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache_root=$(dirname "${BERTH_GUEST_CACHE:-/var/cache/berth/guest-kernel}")/guest-initrd
src=$here/guest-initrd/init.c

log () { echo "build-guest-initrd: $*" >&2; }

command -v cpio >/dev/null || {
  log "installing cpio"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq cpio >&2
}

# No libc: raw system calls, no stack protector or CET notes to set up.
INIT_CFLAGS="-static -nostdlib -ffreestanding -fno-builtin -fno-stack-protector -fno-tree-loop-distribute-patterns -fcf-protection=none -Os -no-pie -Wall -Wextra -Werror -Wl,--build-id=none -s"

key=$( (cat "$0" "$src"; cc --version) | sha256sum | cut -c1-16)
out=$cache_root/$key/initrd.cpio.gz
if [ -f "$out" ]; then
  echo "$out"
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root/dev"
# The kernel opens /dev/console for init before anything is mounted.
mknod -m 600 "$root/dev/console" c 5 1
# shellcheck disable=SC2086 # a list of flags
cc $INIT_CFLAGS -o "$root/init" "$src"
mkdir -p "$(dirname "$out")"
(cd "$root" && find . | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0) | gzip -9 >"$out.tmp"
mv "$out.tmp" "$out"
log "built $out ($(stat -c %s "$out") bytes)"
echo "$out"
