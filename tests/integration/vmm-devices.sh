#!/bin/bash
# vmm-devices: berth-vmm's virtio devices driven from inside a VM by the
# project's own minimal virtio-mmio driver (tests/vmm/guests/virtio-guest.c,
# a freestanding ring-0 guest): a virtio-blk sector written and read back
# (and seen in the image file), a frame sent through virtio-net to a tap
# the test made in its own network namespace (and captured there), and the
# balloon inflated over dirtied guest pages (the VMM's RSS drops by them).
#
# The binary: $VMM_BIN, default "$(dirname "$RUNTIME")/berth-vmm".
. "$(dirname "$0")/../lib/testlib.sh"

VMM=${VMM_BIN:-$(dirname "$RUNTIME")/berth-vmm}
GUEST_DIR=$REPO_ROOT/build/tests/vmm
GUEST=$GUEST_DIR/virtio-guest.elf
VMM_TIMEOUT=${VMM_TIMEOUT:-60}

need_kvm() {
  [ -x "$VMM" ] || fail "$VMM is not built"
  { [ -c /dev/kvm ] && [ -w /dev/kvm ]; } || skip "no usable /dev/kvm on this host"
  [ -f "$GUEST" ] || fail "the virtio test guest did not build (see the suite's first lines)"
}

# guest TEST [ARGS...]: the driver guest running test=TEST; OUT, ERR, RC
guest() {
  local t=$1; shift
  cap2 timeout -k 5 "$VMM_TIMEOUT" "$VMM" --kernel "$GUEST" --cmdline "test=$t" "$@" </dev/null
  [ "$RC" -ne 124 ] || fail "berth-vmm did not end within ${VMM_TIMEOUT}s"
  assert_not_contains "$ERR" "Sanitizer" "no sanitizer report"
}

# ------------------------------------------------------------------ blk

test_blk_sector_written_and_read_back() {
  need_kvm
  truncate -s 1M "$T/disk.img"
  guest blk --drive "$T/disk.img"
  assert_eq 0 "$RC" "guest poweroff"
  assert_eq "blk: sector 1 reads back: berth virtio-blk sector, written by the guest" "$OUT"
  local on_disk
  on_disk=$(dd if="$T/disk.img" bs=512 skip=1 count=1 status=none | tr -d '\0')
  assert_eq "berth virtio-blk sector, written by the guest" "$on_disk" "the sector in the image file"
  assert_eq 0 "$(dd if="$T/disk.img" bs=512 count=1 status=none | tr -d '\0' | wc -c)" "sector 0 untouched"
}

test_blk_read_only_drive_refuses_the_write() {
  need_kvm
  truncate -s 1M "$T/disk.img"
  guest blk --drive "$T/disk.img,ro"
  assert_eq 0 "$RC"
  assert_eq "blk: write failed" "$OUT" "the device answered IOERR"
  assert_eq 0 "$(tr -d '\0' < "$T/disk.img" | wc -c)" "the image is still all zeros"
}

test_blk_completion_interrupt_reaches_the_guest() {
  need_kvm
  truncate -s 1M "$T/disk.img"
  # The guest programs the IOAPIC pin of the device's GSI (5: the first
  # device) and waits with interrupts on for its handler to run.
  guest blk-irq --drive "$T/disk.img"
  assert_eq 0 "$RC"
  assert_eq "blk-irq: interrupt received, interrupt status 1" "$OUT" \
    "the used-buffer interrupt, with bit 0 of InterruptStatus"
}

# ------------------------------------------------------------------ net

test_net_frame_reaches_the_tap() {
  need_kvm
  command -v ip >/dev/null || skip "no ip(8)"
  [ -c /dev/net/tun ] || skip "no /dev/net/tun"
  local ns=bvmm$$
  ip netns add "$ns" || skip "cannot create network namespaces here"
  defer "ip netns del $ns"
  ip -n "$ns" tuntap add dev vmtap0 mode tap
  ip -n "$ns" link set vmtap0 up
  ip netns exec "$ns" sh -c 'echo 1 > /proc/sys/net/ipv6/conf/vmtap0/disable_ipv6' || true
  # The host side: capture the guest's frame (our ethertype only) on the tap.
  ip netns exec "$ns" python3 - > "$T/captured" 2>&1 <<'PY' &
import socket
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x88b5))
s.bind(("vmtap0", 0x88b5))
s.settimeout(30)
f = s.recv(2048)
print(f[0:6].hex(":"), f[6:12].hex(":"), f[14:31].decode())
PY
  local cap_pid=$!
  sleep 0.5
  cap2 ip netns exec "$ns" timeout -k 5 "$VMM_TIMEOUT" "$VMM" --kernel "$GUEST" --cmdline test=net \
    --net vmtap0,mac=02:00:00:00:00:07 </dev/null
  assert_eq 0 "$RC" "guest poweroff"
  assert_eq "net: frame sent" "$OUT"
  wait "$cap_pid" || true
  assert_eq "ff:ff:ff:ff:ff:ff 02:00:00:00:00:07 berth guest frame" "$(cat "$T/captured")" \
    "the frame on the tap: broadcast, from the configured MAC"
}

# ------------------------------------------------------------------ balloon

test_balloon_inflation_drops_the_vmm_rss() {
  need_kvm
  cap timeout -k 5 "$VMM_TIMEOUT" "$REPO_ROOT/tests/vmm/balloon-rss.py" "$VMM" "$GUEST" balloon
  assert_contains "$OUT" "balloon: inflated, pages read zero" "the guest sees zero pages after inflating"
  assert_contains "$OUT" "exit 0"
  local before after
  before=$(printf '%s\n' "$OUT" | awk '/^rss-touched/ {print $2}')
  after=$(printf '%s\n' "$OUT" | awk '/^rss-after/ {print $2}')
  # 2048 pages (8 MiB) went to the balloon: at least 6 MiB must be gone.
  [ $((before - after)) -ge 6144 ] || fail "RSS went from $before KiB to $after KiB only"
  # Control: the same pages dirtied but not inflated stay resident.
  cap timeout -k 5 "$VMM_TIMEOUT" "$REPO_ROOT/tests/vmm/balloon-rss.py" "$VMM" "$GUEST" touch
  assert_contains "$OUT" "balloon: not inflated"
  before=$(printf '%s\n' "$OUT" | awk '/^rss-touched/ {print $2}')
  after=$(printf '%s\n' "$OUT" | awk '/^rss-after/ {print $2}')
  [ $((before - after)) -lt 1024 ] || fail "RSS dropped from $before KiB to $after KiB without a balloon"
}

# The driver guest is built once for the suite (a failed build fails the
# tests that need it, through need_kvm).
"$REPO_ROOT/tests/vmm/build-virtio-guest.sh" "$GUEST_DIR" >/dev/null || rm -f "$GUEST"
run_tests "$@"
