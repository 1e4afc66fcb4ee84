#!/bin/bash
# build-guest.sh OUT-DIR: builds the VMM test guest (tests/vmm/guests/) into
# OUT-DIR/guest.elf, a freestanding 64-bit ELF linked at 1 MiB, and
# OUT-DIR/guest.bzImage, the same code as a bzImage (a boot-protocol 2.15
# setup header, no real-mode code: the VMM enters it at its 64-bit entry,
# 0x200 into the protected-mode part).  Rebuilds only when a source is
# newer.  Prints the ELF's path.
set -eu
src=$(cd "$(dirname "$0")/guests" && pwd)
out=$1
mkdir -p "$out"
elf=$out/guest.elf
bz=$out/guest.bzImage
if [ -f "$elf" ] && [ -f "$bz" ] && [ -z "$(find "$src" "$0" -newer "$bz" -type f)" ]; then
  echo "$elf"; exit 0
fi
# No SSE, no red zone (no IDT, but keep the ABI of kernel code), nothing
# from libc; -mno-popcnt because PVM cannot emulate POPCNT in ring 0.
${CC:-gcc} -ffreestanding -fno-pic -fno-pie -nostdlib -mno-red-zone -mgeneral-regs-only -mno-popcnt \
  -fno-stack-protector -fcf-protection=none -fno-asynchronous-unwind-tables -O2 -Wall -Wextra -Werror \
  -c "$src/guest.c" -o "$out/guest.o"
${CC:-gcc} -Wa,--noexecstack -c "$src/start.S" -o "$out/start.o"
ld -T "$src/guest.ld" -nostdlib -static --no-warn-rwx-segments -o "$elf.tmp" "$out/start.o" "$out/guest.o"
objcopy -O binary "$elf.tmp" "$out/guest.bin"
python3 - "$out/guest.bin" "$bz.tmp" <<'PY'
import struct, sys
payload = open(sys.argv[1], "rb").read()
setup_sects = 4
setup = bytearray((setup_sects + 1) * 512)
def put(off, fmt, *v):
    struct.pack_into("<" + fmt, setup, off, *v)
put(0x1f1, "B", setup_sects)
put(0x1f4, "I", (len(payload) + 15) // 16)  # syssize
put(0x1fe, "H", 0xAA55)                    # boot_flag
put(0x200, "BB", 0xEB, 0x66)               # jump: the header ends at 0x268
put(0x202, "4s", b"HdrS")
put(0x206, "H", 0x020F)                    # boot protocol 2.15
put(0x211, "B", 0x01)                      # loadflags: LOADED_HIGH
put(0x214, "I", 0x100000)                  # code32_start
put(0x22C, "I", 0x37FFFFFF)                # initrd_addr_max
put(0x230, "I", 0x200000)                  # kernel_alignment
put(0x236, "H", 0x0001)                    # xloadflags: XLF_KERNEL_64
put(0x238, "I", 2047)                      # cmdline_size
put(0x260, "I", 0x200000)                  # init_size: code, data, bss
open(sys.argv[2], "wb").write(bytes(setup) + payload)
PY
mv "$bz.tmp" "$bz"
mv "$elf.tmp" "$elf"
echo "$elf"
