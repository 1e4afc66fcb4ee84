#!/bin/bash
# vmm-boot: berth-vmm boots the project's tiny test guest (tests/vmm/guests,
# a freestanding 64-bit ELF entered in long mode) under KVM and checks what
# the guest sees and how the VMM ends: serial output and input, the exit
# statuses of poweroff / reboot / triple fault / panic, the MP table for
# several vCPUs, guest memory from 16 MiB to above 4 GiB (the PCI hole),
# CPU templates, the PVH entry (tests/vmm/guests/pvh.S, a 32-bit entry
# named by a Xen ELF note), and bad input (missing, corrupt or truncated kernels, too
# much memory, bad flags): a clear error and status 2, never a crash.
#
# The binary: $VMM_BIN, default "$(dirname "$RUNTIME")/berth-vmm".
. "$(dirname "$0")/../lib/testlib.sh"

VMM=${VMM_BIN:-$(dirname "$RUNTIME")/berth-vmm}
GUEST_DIR=$REPO_ROOT/build/tests/vmm
GUEST=$GUEST_DIR/guest.elf
GUEST_BZ=$GUEST_DIR/guest.bzImage
PVH_GUEST=$GUEST_DIR/pvh-guest.elf
VMM_TIMEOUT=${VMM_TIMEOUT:-30}

need_vmm() {
  [ -x "$VMM" ] || fail "$VMM is not built"
}

need_kvm() {
  need_vmm
  if ! [ -c /dev/kvm ] || ! [ -w /dev/kvm ]; then skip "no usable /dev/kvm on this host"; fi
  [ -f "$GUEST" ] || fail "the test guest did not build (see the suite's first lines)"
}

# vmm ARGS...: run berth-vmm (stdin /dev/null); OUT stdout, ERR stderr, RC
vmm() {
  cap2 timeout -k 5 "$VMM_TIMEOUT" "$VMM" "$@" </dev/null
  [ "$RC" -ne 124 ] || fail "berth-vmm did not end within ${VMM_TIMEOUT}s"
}

# guest TEST [ARGS...]: the test guest running test=TEST
guest() {
  local t=$1; shift
  vmm --kernel "$GUEST" --cmdline "test=$t" "$@"
}

# bad ARGS...: berth-vmm must refuse with status 2, a message, no crash
bad() {
  vmm "$@"
  assert_eq 2 "$RC" "exit status of: berth-vmm $*"
  assert_match "$ERR" '^berth-vmm: .+' "an error message"
  assert_not_contains "$ERR" "Sanitizer" "no sanitizer report"
}

# ------------------------------------------------------------------ boot

test_hello_serial_and_poweroff() {
  need_kvm
  guest hello
  assert_eq 0 "$RC" "guest poweroff is exit status 0"
  assert_eq "Hello from the berth test guest" "$OUT" "the guest's serial output, exactly"
  assert_eq "" "$ERR" "nothing on stderr"
}

test_serial_input_stdio() {
  need_kvm
  RC=0
  OUT=$(printf 'typed line\n' | timeout -k 5 "$VMM_TIMEOUT" "$VMM" --kernel "$GUEST" --cmdline test=echo) || RC=$?
  assert_eq 0 "$RC"
  assert_eq "$(printf 'ready\ngot 10: typed line')" "$OUT" "the guest read stdin through the UART"
  # more than the UART's 64-byte FIFO: input pauses and resumes
  OUT=$( (printf 'y%.0s' $(seq 300); printf '\n') | timeout -k 5 "$VMM_TIMEOUT" "$VMM" --kernel "$GUEST" --cmdline test=echo) || RC=$?
  assert_eq 0 "$RC"
  assert_eq "$(printf 'ready\ngot 300: %s' "$(printf 'y%.0s' $(seq 63))")" "$OUT" "300 bytes of input all arrived"
}

test_serial_socket() {
  need_kvm
  timeout -k 5 "$VMM_TIMEOUT" "$VMM" --kernel "$GUEST" --cmdline test=echo --serial "$T/console.sock" \
    </dev/null >"$T/vmm.out" 2>"$T/vmm.err" &
  local pid=$!
  wait_for 10 test -S "$T/console.sock" || fail "no console socket"
  cap python3 - "$T/console.sock" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.settimeout(20)
buf = b""
while b"ready\n" not in buf:
    buf += s.recv(100)
s.sendall(b"over the socket\n")
while True:
    d = s.recv(100)
    if not d:
        break
    buf += d
sys.stdout.write(buf.decode())
PY
  assert_success "console client"
  local rc=0
  wait "$pid" || rc=$?
  assert_eq 0 "$rc" "berth-vmm exit status"
  assert_eq "$(printf 'ready\ngot 15: over the socket')" "$OUT" "console over the socket"
  assert_eq "" "$(cat "$T/vmm.out")" "nothing on stdout"
  assert_not_exists "$T/console.sock" "the socket is removed at exit"
}

test_reboot_i8042_reset() {
  need_kvm
  guest reboot
  assert_eq 3 "$RC" "i8042 reset is exit status 3"
  assert_eq "rebooting" "$OUT"
}

test_reboot_triple_fault() {
  need_kvm
  guest triplefault
  assert_eq 3 "$RC" "a triple fault is exit status 3"
}

test_panic_console() {
  need_kvm
  guest panic
  assert_eq 4 "$RC" "a kernel panic on the console is exit status 4"
  assert_contains "$OUT" "Kernel panic - not syncing"
}

test_panic_pvpanic() {
  need_kvm
  guest pvpanic
  assert_eq 4 "$RC" "a pvpanic write is exit status 4"
  assert_eq "pvpanic supported=1" "$OUT" "the port says PANICKED is supported"
}

test_unknown_guest_test_still_powers_off() {
  need_kvm
  guest nosuchtest
  assert_eq 0 "$RC"
  assert_eq "unknown test: nosuchtest" "$OUT" "the command line reached the guest"
}

# The API starts the guest, then SendCtrlAltDel reaches it through the
# i8042 (the guest polls the controller and prints the bytes).
test_api_start_and_ctrl_alt_del() {
  need_kvm
  local sock=$T/api.sock
  timeout -k 5 "$VMM_TIMEOUT" "$VMM" --api-sock "$sock" </dev/null >"$T/vmm.out" 2>"$T/vmm.err" &
  local pid=$!
  wait_for 10 test -S "$sock" || fail "no API socket"
  api() { curl -sS --unix-socket "$sock" -o "$T/body" -w '%{http_code}' -X "$1" "http://localhost$2" -d "$3"; }
  assert_eq 204 "$(api PUT /boot-source "{\"kernel_image_path\":\"$GUEST\",\"boot_args\":\"test=keyboard\"}")"
  assert_eq 400 "$(api PUT /actions '{"action_type":"SendCtrlAltDel"}')" "SendCtrlAltDel before the start"
  assert_eq 204 "$(api PUT /actions '{"action_type":"InstanceStart"}')"
  wait_for 10 grep -q "waiting for keys" "$T/vmm.out" || fail "the guest did not start"
  assert_eq 204 "$(api PUT /actions '{"action_type":"SendCtrlAltDel"}')"
  local rc=0
  wait "$pid" || rc=$?
  assert_eq 0 "$rc" "berth-vmm exit status"
  assert_eq "$(printf 'waiting for keys\nkeys 0x14 0x11 0xe0 0x71')" "$(cat "$T/vmm.out")" \
    "Ctrl, Alt, Del (set-2 make codes) from the i8042"
}

# ------------------------------------------------------------------ images

test_initrd_and_zero_page() {
  need_kvm
  printf 'INITRD-CONTENT\nmore bytes' > "$T/initrd"
  guest bootparams --initrd "$T/initrd"
  assert_eq 0 "$RC"
  assert_eq "loader=0xff initrd_size=25 initrd_aligned=1 initrd=INITRD-CONTENT" "$OUT" \
    "type_of_loader 0xff, the initrd page-aligned with its bytes"
  guest bootparams
  assert_eq "loader=0xff initrd_size=0" "$OUT" "no initrd"
  head -c $((20 << 20)) /dev/zero > "$T/big-initrd"
  bad --kernel "$GUEST" --initrd "$T/big-initrd" --mem 16M
  assert_contains "$ERR" "does not fit"
}

test_bzimage_boots() {
  need_kvm
  [ -f "$GUEST_BZ" ] || fail "the bzImage guest did not build"
  vmm --kernel "$GUEST_BZ" --cmdline test=hello
  assert_eq 0 "$RC"
  assert_eq "Hello from the berth test guest" "$OUT" "entered at the bzImage's 64-bit entry"
  printf 'INITRD-CONTENT\n' > "$T/initrd"
  vmm --kernel "$GUEST_BZ" --cmdline test=bootparams --initrd "$T/initrd"
  assert_eq "loader=0xff initrd_size=15 initrd_aligned=1 initrd=INITRD-CONTENT" "$OUT"
  vmm --kernel "$GUEST_BZ" --cmdline test=memory --mem 4608M
  assert_contains "$OUT" "high memory ok at 0x100000000"
  # the image cut short
  head -c $(( $(stat -c %s "$GUEST_BZ") - 100 )) "$GUEST_BZ" > "$T/short.bz"
  bad --kernel "$T/short.bz"
  assert_contains "$ERR" "truncated"
}

# ------------------------------------------------------------------ PVH

need_pvh_guest() {
  need_kvm
  [ -f "$PVH_GUEST" ] || fail "the PVH test guest did not build"
}

# pvh_expect MEM-MIB INITRD-SIZE: what the PVH guest prints for
# test=pvh with an initrd of that size (the initrd sits page-aligned at
# the top of RAM, as boot.h documents) in guest memory below 3 GiB
pvh_expect() {
  printf '%s\n' "pvh magic=ok version=1 ebx=0x6000 paging=off cs=0x8" "cmdline: test=pvh with words" \
    "modules=1 initrd=$(printf '0x%x' $(( (($1 << 20) - $2) & ~0xfff ))) size=$2 bytes=PVH-INITRD-BYTES" \
    "memmap entries=3" "memmap 0x0 0x9fc00 1" "memmap 0x9fc00 0x60400 2" \
    "memmap 0x100000 $(printf '0x%x' $(( ($1 << 20) - 0x100000 ))) 1"
}

# The guest checks EBX's hvm_start_info (magic), that it runs with paging
# off in the 32-bit code segment, and echoes the command line, the initrd
# module (address, size, bytes) and the memory map.
test_pvh_boot() {
  need_pvh_guest
  printf 'PVH-INITRD-BYTES' > "$T/initrd"
  vmm --kernel "$PVH_GUEST" --boot-protocol pvh --cmdline "test=pvh with words" --initrd "$T/initrd" --mem 64M
  assert_eq 0 "$RC" "the PVH guest powered off"
  assert_eq "$(pvh_expect 64 16)" "$OUT" "start info, command line, initrd module and memory map"
  assert_eq "" "$ERR" "nothing on stderr"
}

test_pvh_memory_above_4g_and_no_initrd() {
  need_pvh_guest
  vmm --kernel "$PVH_GUEST" --boot-protocol pvh --cmdline "" --mem 4608M --cpus 2
  assert_eq 0 "$RC"
  assert_eq "$(printf '%s\n' "pvh magic=ok version=1 ebx=0x6000 paging=off cs=0x8" "cmdline: " "modules=0" \
    "memmap entries=4" "memmap 0x0 0x9fc00 1" "memmap 0x9fc00 0x60400 2" "memmap 0x100000 0xbff00000 1" \
    "memmap 0x100000000 0x60000000 1")" "$OUT" "no module; the memory map around the PCI hole (the e820 map)"
}

# auto and linux64 take the 64-bit ELF entry even when the PVH note is there
test_pvh_note_unused_without_the_flag() {
  need_pvh_guest
  vmm --kernel "$PVH_GUEST"
  assert_eq 0 "$RC"
  assert_eq "linux64 entry" "$OUT" "auto: the 64-bit entry"
  vmm --kernel "$PVH_GUEST" --boot-protocol linux64
  assert_eq "linux64 entry" "$OUT" "linux64: the 64-bit entry"
  vmm --kernel "$PVH_GUEST" --boot-protocol pvh --boot-protocol auto
  assert_eq "linux64 entry" "$OUT" "the last flag wins"
}

test_pvh_config_file_and_api() {
  need_pvh_guest
  printf 'PVH-INITRD-BYTES' > "$T/initrd"
  jq -n --arg k "$PVH_GUEST" --arg i "$T/initrd" '{"boot-source": {kernel_image_path: $k, initrd_path: $i,
    boot_args: "test=pvh with words", boot_protocol: "pvh"}, "machine-config": {vcpu_count: 1, mem_size_mib: 32}}' \
    > "$T/vm.json"
  vmm --config-file "$T/vm.json"
  assert_eq 0 "$RC"
  assert_eq "$(pvh_expect 32 16)" "$OUT" "boot_protocol from the config file"
  vmm --config-file "$T/vm.json" --boot-protocol linux64
  assert_eq "linux64 entry" "$OUT" "the flag overrides the file"
  jq '."boot-source".boot_protocol = "PVH"' "$T/vm.json" > "$T/bad.json"
  bad --config-file "$T/bad.json"
  assert_contains "$ERR" "boot-source.boot_protocol"

  local sock=$T/api.sock
  timeout -k 5 "$VMM_TIMEOUT" "$VMM" --api-sock "$sock" </dev/null >"$T/vmm.out" 2>"$T/vmm.err" &
  local pid=$!
  wait_for 10 test -S "$sock" || fail "no API socket"
  api() { curl -sS --unix-socket "$sock" -o "$T/body" -w '%{http_code}' -X "$1" "http://localhost$2" -d "$3"; }
  assert_eq 400 "$(api PUT /boot-source "{\"kernel_image_path\":\"$PVH_GUEST\",\"boot_protocol\":\"xen\"}")"
  assert_contains "$(cat "$T/body")" '"fault_message":"boot_protocol: expected'
  assert_eq 204 "$(api PUT /boot-source "{\"kernel_image_path\":\"$PVH_GUEST\",\"initrd_path\":\"$T/initrd\",\"boot_args\":\"test=pvh with words\",\"boot_protocol\":\"pvh\"}")"
  assert_eq 204 "$(api PUT /machine-config '{"vcpu_count":1,"mem_size_mib":32}')"
  assert_eq 204 "$(api PUT /actions '{"action_type":"InstanceStart"}')"
  local rc=0
  wait "$pid" || rc=$?
  assert_eq 0 "$rc" "berth-vmm exit status"
  assert_eq "$(pvh_expect 32 16)" "$(cat "$T/vmm.out")" "boot_protocol from PUT /boot-source"
}

test_pvh_bad_input() {
  need_pvh_guest
  bad --kernel "$GUEST" --boot-protocol pvh
  assert_contains "$ERR" "no PVH entry note"
  bad --kernel "$GUEST_BZ" --boot-protocol pvh
  assert_contains "$ERR" "not a bzImage"
  bad --kernel "$PVH_GUEST" --boot-protocol xen
  assert_contains "$ERR" "--boot-protocol: expected auto, linux64 or pvh"
  bad --kernel "$PVH_GUEST" --boot-protocol
  # the note's entry moved outside the loaded image (the note's
  # descriptor is the last 4 bytes of the PT_NOTE segment)
  cp "$PVH_GUEST" "$T/outside.elf"
  local off
  off=$(python3 -c 'import struct, sys
d = open(sys.argv[1], "rb").read()
phoff, = struct.unpack_from("<Q", d, 32); n, = struct.unpack_from("<H", d, 56)
for i in range(n):
    t, _, o, _, _, fsz = struct.unpack_from("<IIQQQQ", d, phoff + 56 * i)
    if t == 4: print(o + fsz - 4)' "$T/outside.elf")
  [ -n "$off" ] || fail "no PT_NOTE in the PVH guest"
  poke "$T/outside.elf" "$off" 0x00 0x00 0x00 0x40   # 0x40000000: 1 GiB, past the image
  bad --kernel "$T/outside.elf" --boot-protocol pvh
  assert_contains "$ERR" "not in a loaded segment"
  vmm --kernel "$T/outside.elf"
  assert_eq 0 "$RC" "the 64-bit entry still boots it"
  assert_eq "linux64 entry" "$OUT"
}

# ------------------------------------------------------------------ vCPUs

test_vcpus_in_mptable() {
  need_kvm
  local n
  for n in 1 2 4; do
    guest cpus --cpus "$n"
    assert_eq 0 "$RC"
    assert_eq "mptable checksum=ok cpus=$n ioapics=1 irqs=24" "$OUT" "MP table with $n vCPUs"
  done
}

test_cpu_templates() {
  need_kvm
  local t
  for t in None T2 C3; do
    guest hello --cpu-template "$t" --cpus 2
    assert_eq 0 "$RC" "template $t"
    assert_eq "Hello from the berth test guest" "$OUT" "template $t"
  done
}

# What CPUID the guest sees from the VMM: topology and the KVM leaves.
# (Which feature bits a template hides is test_vmm_boot's: PVM shows the
# guest some of the host's bits whatever the VMM sets.)
test_cpuid_topology_and_kvm_leaves() {
  need_kvm
  guest cpuid --cpus 3
  assert_eq 0 "$RC"
  assert_match "$OUT" '^apic=0 logical=3 .* hypervisor=1 .* kvm=KVMKVMKVM kvmclock2=1$' "leaf 1 and the KVM leaves"
}

# ------------------------------------------------------------------ devices

test_virtio_devices_mmio() {
  need_kvm
  truncate -s 1M "$T/disk.img"
  guest devices --drive "$T/disk.img" --drive "$T/disk.img,ro,id=second" --balloon 4 --rng
  assert_eq 0 "$RC"
  assert_eq "$(printf '%s\n' 'mmio 0xd0000000 version=2 device=2' 'mmio 0xd0001000 version=2 device=2' \
    'mmio 0xd0002000 version=2 device=5' 'mmio 0xd0003000 version=2 device=4' \
    'cmdline: test=devices virtio_mmio.device=4K@0xd0000000:5 virtio_mmio.device=4K@0xd0001000:6 virtio_mmio.device=4K@0xd0002000:7 virtio_mmio.device=4K@0xd0003000:8')" \
    "$OUT" "virtio-mmio windows (blk, blk, balloon, rng) and their command-line declarations"
}

test_virtio_devices_pci() {
  need_kvm
  truncate -s 1M "$T/disk.img"
  guest devices --drive "$T/disk.img" --rng --transport pci
  assert_eq 0 "$RC"
  assert_eq "$(printf '%s\n' 'pci 00:0x0 0x8086:0xd57' 'pci 00:0x1 0x1af4:0x1042' 'pci 00:0x2 0x1af4:0x1044' \
    'cmdline: test=devices')" "$OUT" "host bridge, virtio-blk and virtio-rng (modern ids) on PCI bus 0"
  guest cpus --drive "$T/disk.img" --rng --transport pci --cpus 2
  assert_eq "mptable checksum=ok cpus=2 ioapics=1 irqs=26" "$OUT" "the MP table routes both INTA lines"
}

test_bad_device_files() {
  need_kvm
  truncate -s 1M "$T/disk.img"
  bad --kernel "$GUEST" --drive "$T/disk.img" --drive "$T/disk.img,id=drive0"
  # (a valid interface name, at most 15 characters, that no device has)
  bad --kernel "$GUEST" --net "nosuchtap$((RANDOM % 100000))"
  assert_contains "$ERR" "does not exist"
  bad --kernel "$GUEST" --net "a-name-longer-than-ifnamsiz"
}

# ------------------------------------------------------------------ memory

test_memory_16m() {
  need_kvm
  guest memory --mem 16M
  assert_eq 0 "$RC"
  assert_eq "$(printf '%s\n' 'e820 0x0 0x9fc00 ram' 'e820 0x9fc00 0x100000 reserved' \
    'e820 0x100000 0x1000000 ram' 'hole=0xffffffff' 'no memory above 4 GiB')" "$OUT" "e820 map of 16 MiB"
}

test_memory_above_4g() {
  need_kvm
  # 4.5 GiB: 3 GiB below the PCI hole, 1.5 GiB from 4 GiB up
  guest memory --mem 4608M
  assert_eq 0 "$RC"
  assert_contains "$OUT" "e820 0x100000 0xc0000000 ram" "low RAM ends at the hole"
  assert_contains "$OUT" "e820 0x100000000 0x160000000 ram" "the rest above 4 GiB"
  assert_contains "$OUT" "hole=0xffffffff" "the hole is not RAM"
  assert_contains "$OUT" "high memory ok at 0x100000000 and 0x13ffffff8" "the guest wrote and read above 4 GiB"
}

# ------------------------------------------------------------------ config file

test_config_file() {
  need_kvm
  jq -n --arg k "$GUEST" '{"boot-source": {kernel_image_path: $k, boot_args: "test=cpus"},
    "machine-config": {vcpu_count: 3, mem_size_mib: 64}}' > "$T/vm.json"
  vmm --config-file "$T/vm.json"
  assert_eq 0 "$RC"
  assert_eq "mptable checksum=ok cpus=3 ioapics=1 irqs=24" "$OUT"
  # flags override the file
  vmm --config-file "$T/vm.json" --cpus 2
  assert_eq "mptable checksum=ok cpus=2 ioapics=1 irqs=24" "$OUT"
  printf '{"boot-source": {"kernel_image_path": 5}}' > "$T/bad.json"
  bad --config-file "$T/bad.json"
  printf '{"boot-source": ' > "$T/trunc.json"
  bad --config-file "$T/trunc.json"
}

# ------------------------------------------------------------------ bad input

test_bad_kernel_files() {
  need_vmm
  bad --kernel "$T/nonexistent"
  assert_contains "$ERR" "No such file"
  printf 'just some text, not a kernel\n%.0s' $(seq 10) > "$T/text"
  bad --kernel "$T/text"
  assert_contains "$ERR" "not a kernel"
  bad --kernel "$T"
  : > "$T/empty"
  bad --kernel "$T/empty"
  head -c 100000 /dev/urandom > "$T/random"
  bad --kernel "$T/random"
}

test_bad_truncated_elf() {
  need_kvm
  local n
  for n in 20 64 100 3000; do
    head -c "$n" "$GUEST" > "$T/trunc.elf"
    bad --kernel "$T/trunc.elf"
    assert_match "$ERR" "ELF|not a kernel" "truncated to $n bytes"
  done
  # a program header that points past the end of the file
  cp "$GUEST" "$T/lying.elf"
  printf '\xff\xff\xff\x7f' | dd of="$T/lying.elf" bs=1 seek=$((64 + 32)) conv=notrunc status=none
  bad --kernel "$T/lying.elf"
  assert_contains "$ERR" "ELF kernel"
}

# a file with a bzImage setup header: protocol VERSION, SETUP_SECTS, LEN bytes
fake_bzimage() { # out version setup_sects len
  head -c "$4" /dev/zero > "$1"
  # setup_sects at 0x1f1, boot flag 0xaa55 at 0x1fe, header end at 0x201,
  # "HdrS" at 0x202, version at 0x206, loadflags LOADED_HIGH at 0x211,
  # xloadflags XLF_KERNEL_64 at 0x236
  poke "$1" $((0x1f1)) "$3"
  poke "$1" $((0x1fe)) 0x55 0xaa 0x00 0x66 0x48 0x64 0x72 0x53
  poke "$1" $((0x206)) $(($2 & 255)) $(($2 >> 8))
  poke "$1" $((0x211)) 1
  poke "$1" $((0x236)) 1
}

# poke FILE OFFSET BYTE...: write bytes (numbers) at OFFSET
poke() {
  local f=$1 off=$2 b esc=""; shift 2
  for b in "$@"; do esc+=$(printf '\\%03o' "$b"); done
  printf '%b' "$esc" | dd of="$f" bs=1 seek="$off" conv=notrunc status=none
}

test_bad_bzimage() {
  need_kvm
  fake_bzimage "$T/trunc" $((0x020f)) 30 4096   # 31 sectors of setup, file of 8
  bad --kernel "$T/trunc"
  assert_contains "$ERR" "truncated"
  fake_bzimage "$T/old" $((0x0204)) 4 8192
  bad --kernel "$T/old"
  assert_contains "$ERR" "too old"
  head -c 600 "$T/old" > "$T/short"
  bad --kernel "$T/short"
}

test_bad_memory() {
  need_vmm
  bad --kernel "$GUEST" --mem 100000G
  assert_contains "$ERR" "more than this host allows"
  bad --kernel "$GUEST" --mem 8M
  bad --kernel "$GUEST" --mem 0
  bad --kernel "$GUEST" --mem 12X
  bad --kernel "$GUEST" --mem 99999999999999999999G
}

test_bad_flags() {
  need_vmm
  bad
  bad --bogus
  bad --kernel
  bad --kernel "$GUEST" --cpus 0
  bad --kernel "$GUEST" --cpus 33
  bad --kernel "$GUEST" --cpus two
  bad --kernel "$GUEST" --transport carrier-pigeon
  bad --kernel "$GUEST" --cpu-template Z9
  bad --kernel "$GUEST" --initrd "$T/nonexistent"
  bad --kernel "$GUEST" --drive "$T/nonexistent"
  bad --kernel "$GUEST" --drive "$GUEST,sideways"
  bad --kernel "$GUEST" --net tap0,mac=zz
  bad --kernel "$GUEST" --vsock 2
  bad --kernel "$GUEST" --balloon lots
  bad --kernel "$GUEST" stray-argument
}

test_help_version() {
  need_vmm
  vmm --help
  assert_eq 0 "$RC"
  assert_contains "$OUT" "Usage: berth-vmm --kernel PATH"
  assert_contains "$OUT" "--api-sock PATH"
  vmm --version
  assert_eq 0 "$RC"
  assert_match "$OUT" '^berth-vmm version [0-9]+\.[0-9]+'
}

# The guest is built once for the suite (a failed build fails the tests
# that need it, through need_kvm).
"$REPO_ROOT/tests/vmm/build-guest.sh" "$GUEST_DIR" >/dev/null || rm -f "$GUEST"
"$REPO_ROOT/tests/vmm/build-pvh-guest.sh" "$GUEST_DIR" >/dev/null || rm -f "$PVH_GUEST"
run_tests "$@"
