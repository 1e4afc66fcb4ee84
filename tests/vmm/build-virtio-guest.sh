#!/bin/bash
# build-virtio-guest.sh OUT-DIR: builds the virtio driver guest
# (tests/vmm/guests/virtio-guest.c, with guest.c's start.S and guest.ld)
# into OUT-DIR/virtio-guest.elf.  Same flags as build-guest.sh: no SSE, no
# red zone, no POPCNT (PVM cannot emulate it in ring 0), nothing from libc.
# Rebuilds only when a source is newer.  Prints the path.
set -eu
src=$(cd "$(dirname "$0")/guests" && pwd)
out=$1
mkdir -p "$out"
elf=$out/virtio-guest.elf
if [ -f "$elf" ] && [ -z "$(find "$src" -newer "$elf" -type f)" ]; then
  echo "$elf"; exit 0
fi
${CC:-gcc} -ffreestanding -fno-pic -fno-pie -nostdlib -mno-red-zone -mgeneral-regs-only -mno-popcnt \
  -fno-stack-protector -fcf-protection=none -fno-asynchronous-unwind-tables -fno-builtin -O2 -Wall -Wextra -Werror \
  -c "$src/virtio-guest.c" -o "$out/virtio-guest.o"
${CC:-gcc} -Wa,--noexecstack -c "$src/start.S" -o "$out/virtio-start.o"
ld -T "$src/guest.ld" -nostdlib -static --no-warn-rwx-segments -o "$elf.tmp" "$out/virtio-start.o" "$out/virtio-guest.o"
mv "$elf.tmp" "$elf"
echo "$elf"
