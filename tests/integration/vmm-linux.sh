#!/bin/bash
# vmm-linux.sh: berth-vmm boots Linux (the project's minimal 6.1 kernel,
# scripts/build-guest-kernel.sh, cached outside the repository) with an
# initramfs, a virtio-blk disk, a virtio-net tap and the balloon.
#
# It passes when the guest kernel's console shows each virtio device bound
# to its driver and reaches "Run /init as init process".  Where guest user
# space can run (VT-x/AMD-V; not PVM, whose first guest SYSCALL faults), it
# also needs the init's markers (BERTH-INIT-OK, the disk's first bytes) and
# the poweroff exit status (0).
#
# One test, slow on purpose: the first run builds the kernel (~6 minutes on
# 2 cores), and under PVM the kernel's ring-0 code is emulated (~1 minute
# to /init).  The tap lives in a network namespace of its own, so nothing
# the guest sends leaves it.
# (set before testlib.sh, which defaults it to 60 s)
: "${TEST_TIMEOUT:=1800}"
. "$(dirname "$0")/../lib/testlib.sh"

VMM=${VMM:-$(dirname "$RUNTIME")/berth-vmm}
# How long the guest may take to reach /init (PVM: ~50 s measured).
BOOT_TIMEOUT=${BOOT_TIMEOUT:-900}
# PVM's command line (docs/vmm.md): no KASLR, no XSAVE, and no SMAP, SMEP or
# POPCNT, which its emulator cannot run in ring 0.  Harmless elsewhere.
GUEST_CMDLINE="console=ttyS0 reboot=k panic=-1 loglevel=8 nokaslr noxsave clearcpuid=smap,smep,popcnt"

is_pvm() { [ -d /sys/module/kvm_pvm ]; }

# The guest's console lines that show each device probed by its driver.
PROBE_LINES=(
  'virtio_blk virtio[0-9]+: \[vda\]'
  "bus: 'virtio': really_probe: bound device virtio[0-9]+ to driver virtio_blk"
  "bus: 'virtio': really_probe: bound device virtio[0-9]+ to driver virtio_net"
  "bus: 'virtio': really_probe: bound device virtio[0-9]+ to driver virtio_balloon"
  'Run /init as init process'
)

test_linux_boots_with_virtio_devices() {
  [ -c /dev/kvm ] || skip "/dev/kvm is missing (no KVM on this host)"
  [ -x "$VMM" ] || fail "berth-vmm is not built: $VMM"
  local kdir initrd
  kdir=$("$REPO_ROOT/scripts/build-guest-kernel.sh" 2>"$T/kbuild.log") || { tail -20 "$T/kbuild.log" >&2; fail "the guest kernel did not build"; }
  initrd=$("$REPO_ROOT/scripts/build-guest-initrd.sh" 2>"$T/ibuild.log") || { cat "$T/ibuild.log" >&2; fail "the initramfs did not build"; }
  trace "kernel $kdir/vmlinux, initrd $initrd"

  # A raw disk whose first bytes the init prints.
  local marker="BERTH-DISK-MARKER-$TEST_TAG"
  printf '%s' "$marker" > "$T/disk.img"
  truncate -s 8M "$T/disk.img"

  jq -n --arg k "$kdir/vmlinux" --arg i "$initrd" --arg c "$GUEST_CMDLINE" --arg d "$T/disk.img" '{
    "boot-source": {kernel_image_path: $k, initrd_path: $i, boot_args: $c},
    "machine-config": {vcpu_count: 1, mem_size_mib: 256},
    "drives": [{drive_id: "disk0", path_on_host: $d, is_root_device: false, is_read_only: false}],
    "network-interfaces": [{iface_id: "eth0", host_dev_name: "bvm0", guest_mac: "06:00:ac:10:00:02"}],
    "balloon": {amount_mib: 0, deflate_on_oom: true, stats_polling_interval_s: 1}
  }' > "$T/vm.json"

  # The VMM runs in a fresh network namespace with its tap: no route out.
  # shellcheck disable=SC2016 # expanded by the inner shell
  unshare --net sh -c 'ip link set lo up && ip tuntap add dev bvm0 mode tap && ip link set bvm0 up &&
    exec "$0" --config-file "$1"' "$VMM" "$T/vm.json" > "$T/console.log" 2> "$T/vmm.err" &
  local pid=$! waited=0 rc=
  defer "kill -9 $pid 2>/dev/null"
  # Wait for the last console line that can appear here, or the VMM's end.
  local goal='Run /init as init process'
  is_pvm || goal='BERTH-POWEROFF'
  while [ "$waited" -lt "$BOOT_TIMEOUT" ]; do
    grep -q "$goal" "$T/console.log" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 2
    waited=$((waited + 2))
  done
  trace "waited ${waited}s for '$goal'"
  if is_pvm; then
    # User space cannot run here: stop the guest once it got to /init
    # (SIGKILL: the guest is thrown away, and the VMM need not obey TERM).
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" || true
  else
    local t=0
    while kill -0 "$pid" 2>/dev/null && [ "$t" -lt 60 ]; do sleep 1; t=$((t + 1)); done
    kill -9 "$pid" 2>/dev/null || true
    rc=0
    wait "$pid" || rc=$?
  fi
  log "console (last lines):"
  tail -n 40 "$T/console.log" | sed 's/^/  | /' >&2
  log "vmm stderr:"
  tail -n 20 "$T/vmm.err" | sed 's/^/  2| /' >&2

  local line
  for line in "${PROBE_LINES[@]}"; do
    grep -Eq "$line" "$T/console.log" || fail "the guest console never showed: $line"
  done
  if ! is_pvm; then
    grep -q 'BERTH-INIT-OK' "$T/console.log" || fail "the init did not run (no BERTH-INIT-OK)"
    grep -q "BERTH-DISK: $marker" "$T/console.log" || fail "the init did not read the disk's marker"
    assert_eq 0 "$rc" "berth-vmm's exit status after the guest's poweroff"
  fi
}

# The initramfs's /init (scripts/guest-initrd/init.c), run on the host: it
# cannot run in a guest under PVM, so this is where its output is checked.
# berth.init-dry-run keeps it from mounting devtmpfs and from powering off;
# a tmpfs over /dev in a private mount namespace holds the fake disk.
test_guest_init_prints_markers() {
  local initrd
  initrd=$("$REPO_ROOT/scripts/build-guest-initrd.sh" 2>"$T/ibuild.log") || { cat "$T/ibuild.log" >&2; fail "the initramfs did not build"; }
  mkdir -p "$T/root"
  (cd "$T/root" && zcat "$initrd" | cpio --quiet -id) || fail "the initramfs is not a gzip'd cpio"
  [ -x "$T/root/init" ] || fail "the initramfs has no /init"
  [ -c "$T/root/dev/console" ] || fail "the initramfs has no /dev/console"
  local out
  # shellcheck disable=SC2016 # expanded by the inner shell
  out=$(unshare -m sh -c 'mount -t tmpfs none /dev && printf "MARK\000\nER\000\000" > /dev/vda && exec "$0" berth.init-dry-run' "$T/root/init") ||
    fail "init exited with $?"
  assert_eq "BERTH-INIT-OK
BERTH-DISK: MARKER
BERTH-POWEROFF" "$out" "init's output with a disk"
  # shellcheck disable=SC2016 # expanded by the inner shell
  out=$(unshare -m sh -c 'mount -t tmpfs none /dev && exec "$0" berth.init-dry-run' "$T/root/init") || fail "init exited with $?"
  assert_eq "BERTH-INIT-OK
BERTH-DISK: none
BERTH-POWEROFF" "$out" "init's output without a disk"
}

run_tests "$@"
