#!/bin/bash
# build-guest.sh OUT-DIR: builds the VMM test guest (tests/vmm/guests/) into
# OUT-DIR/guest.elf, a freestanding 64-bit ELF linked at 1 MiB.  Rebuilds
# only when a source is newer.  Prints the path.
set -eu
src=$(cd "$(dirname "$0")/guests" && pwd)
out=$1
mkdir -p "$out"
elf=$out/guest.elf
if [ -f "$elf" ] && [ -z "$(find "$src" -newer "$elf" -type f)" ]; then
  echo "$elf"; exit 0
fi
# No SSE, no red zone (no IDT, but keep the ABI of kernel code), nothing
# from libc; -mno-popcnt because PVM cannot emulate POPCNT in ring 0.
${CC:-gcc} -ffreestanding -fno-pic -fno-pie -nostdlib -mno-red-zone -mgeneral-regs-only -mno-popcnt \
  -fno-stack-protector -fcf-protection=none -fno-asynchronous-unwind-tables -O2 -Wall -Wextra -Werror \
  -c "$src/guest.c" -o "$out/guest.o"
${CC:-gcc} -Wa,--noexecstack -c "$src/start.S" -o "$out/start.o"
ld -T "$src/guest.ld" -nostdlib -static --no-warn-rwx-segments -o "$elf.tmp" "$out/start.o" "$out/guest.o"
mv "$elf.tmp" "$elf"
echo "$elf"
