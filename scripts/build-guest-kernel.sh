#!/bin/bash
# Build berth's minimal guest kernel (Linux 6.1 from Debian's
# linux-source-6.1) for the VMM's Linux boot test and bench/vmm.
#
#   scripts/build-guest-kernel.sh      build if needed; print the directory
#                                      holding vmlinux and bzImage
#
# The kernel is tinyconfig plus scripts/guest-kernel.config.  It is cached
# outside the repository under $BERTH_GUEST_CACHE (default
# /var/cache/berth/guest-kernel)/<hash>/, where <hash> covers the config
# fragment and RECIPE below: it is rebuilt only when one of them changes.
#
# One change to the source, for PVM (docs/vmm.md): int3_selftest() is not
# called, since PVM's ring-0 emulator cannot run INT3 in kernel mode.  The
# kernel is otherwise unmodified; the rest of what PVM needs is on the
# command line (nokaslr noxsave clearcpuid=smap,smep,popcnt).
#
# linux-source-6.1 (a 140 MB tarball) and the kernel's build tools are
# installed here, not by scripts/deps.sh: only this optional test needs them.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
fragment=$here/guest-kernel.config
cache_root=${BERTH_GUEST_CACHE:-/var/cache/berth/guest-kernel}
tarball=/usr/src/linux-source-6.1.tar.xz
jobs=${JOBS:-$(nproc)}

log () { echo "build-guest-kernel: $*" >&2; }

install_deps () {
  local missing=() p
  for p in linux-source-6.1 flex bison bc libelf-dev build-essential; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
}

# Bump when the steps below change what is built (not for comments).
RECIPE="berth-guest-kernel 1: linux-source-6.1, tinyconfig + fragment, no int3_selftest, vmlinux bzImage"
key=$( (cat "$fragment"; echo "$RECIPE") | sha256sum | cut -c1-16)
out=$cache_root/$key
if [ -f "$out/vmlinux" ] && [ -f "$out/bzImage" ]; then
  echo "$out"
  exit 0
fi

mkdir -p "$cache_root"
# One build at a time; a second caller waits and then finds the result.
exec 9>"$cache_root/.lock"
flock 9
if [ -f "$out/vmlinux" ] && [ -f "$out/bzImage" ]; then
  echo "$out"
  exit 0
fi

install_deps
work=$cache_root/build-$key
rm -rf "$work"
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT
log "unpacking $tarball"
tar -xJf "$tarball" -C "$work"
src=$work/linux-source-6.1

# PVM: no INT3 self-test (see above).  Fail if the call moved, rather than
# building a kernel that hangs at boot.
alt=$src/arch/x86/kernel/alternative.c
grep -q '^	int3_selftest();$' "$alt" || { log "int3_selftest() call not found in $alt"; exit 1; }
sed -i 's|^	int3_selftest();$|	/* int3_selftest(); berth: disabled, PVM cannot emulate INT3 in ring 0 */|' "$alt"

log "configuring (tinyconfig + $(basename "$fragment"))"
make -C "$src" -s ARCH=x86_64 tinyconfig >&2
"$src/scripts/kconfig/merge_config.sh" -m -O "$src" "$src/.config" "$fragment" >/dev/null
make -C "$src" -s ARCH=x86_64 olddefconfig >&2
# Every option the fragment asks for must have survived olddefconfig.
lost=0
while IFS= read -r line; do
  case "$line" in
    CONFIG_*=*) grep -qx "$line" "$src/.config" || { log "option lost: $line"; lost=1; } ;;
    "# CONFIG_"*" is not set")
      opt=${line#\# }; opt=${opt%% *}
      ! grep -q "^$opt=" "$src/.config" || { log "option still set: $opt"; lost=1; } ;;
  esac
done <"$fragment"
[ "$lost" = 0 ] || exit 1

log "building with $jobs jobs (several minutes)"
make -C "$src" -s ARCH=x86_64 -j"$jobs" vmlinux bzImage >&2
mkdir -p "$out.tmp"
cp "$src/vmlinux" "$src/arch/x86/boot/bzImage" "$src/.config" "$out.tmp/"
mv "$out.tmp" "$out"
log "done: $out"
echo "$out"
