#!/bin/bash
# build-pvh-guest.sh OUT-DIR: builds the VMM's PVH test guest
# (tests/vmm/guests/pvh.S, pvh.ld) into OUT-DIR/pvh-guest.elf: a 64-bit ELF
# linked at 1 MiB with a Xen PVH note (XEN_ELFNOTE_PHYS32_ENTRY) naming its
# 32-bit entry.  Rebuilds only when a source is newer.  Prints the path.
set -eu
src=$(cd "$(dirname "$0")/guests" && pwd)
out=$1
mkdir -p "$out"
elf=$out/pvh-guest.elf
if [ -f "$elf" ] && [ -z "$(find "$src/pvh.S" "$src/pvh.ld" "$0" -newer "$elf" -type f)" ]; then
  echo "$elf"; exit 0
fi
${CC:-gcc} -Wa,--noexecstack -c "$src/pvh.S" -o "$out/pvh.o"
ld -T "$src/pvh.ld" -nostdlib -static --no-warn-rwx-segments -o "$elf.tmp" "$out/pvh.o"
mv "$elf.tmp" "$elf"
echo "$elf"
