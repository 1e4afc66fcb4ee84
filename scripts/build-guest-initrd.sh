#!/bin/bash
# Build the tiny initramfs of the VMM's Linux boot test and bench/vmm:
# busybox-static, scripts/guest-initrd/init (prints BERTH-INIT-OK, the first
# bytes of /dev/vda as "BERTH-DISK: ...", then powers off) and a static
# helper that writes berth-vmm's shutdown port.
#
#   scripts/build-guest-initrd.sh     build if needed; print the path of
#                                     initrd.cpio.gz
#
# Cached under $BERTH_GUEST_CACHE/../guest-initrd/<hash of the inputs>/.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache_root=$(dirname "${BERTH_GUEST_CACHE:-/var/cache/berth/guest-kernel}")/guest-initrd
busybox=/bin/busybox

log () { echo "build-guest-initrd: $*" >&2; }

dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q "install ok installed" || {
  log "installing busybox-static"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >&2
}

key=$(cat "$0" "$here/guest-initrd/init" "$here/guest-initrd/poweroff.c" "$busybox" | sha256sum | cut -c1-16)
out=$cache_root/$key/initrd.cpio.gz
if [ -f "$out" ]; then
  echo "$out"
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root/bin" "$root/dev" "$root/proc" "$root/sys"
# The kernel opens /dev/console for init before anything is mounted.
mknod -m 600 "$root/dev/console" c 5 1
cp "$busybox" "$root/bin/busybox"
for applet in sh mount echo dd tr cat poweroff; do
  ln -s busybox "$root/bin/$applet"
done
install -m 0755 "$here/guest-initrd/init" "$root/init"
cc -static -Os -o "$root/bin/berth-poweroff" "$here/guest-initrd/poweroff.c"
strip "$root/bin/berth-poweroff"
mkdir -p "$(dirname "$out")"
(cd "$root" && find . | LC_ALL=C sort | busybox cpio -o -H newc -R 0:0 2>/dev/null) | gzip -9 >"$out.tmp"
mv "$out.tmp" "$out"
log "built $out ($(stat -c %s "$out") bytes)"
echo "$out"
