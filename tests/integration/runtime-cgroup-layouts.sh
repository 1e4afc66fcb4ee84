#!/bin/bash
# The same container behaviour on cgroup v1, v2 and hybrid hosts.
#
# Our machines are hybrid (v1 controllers + cgroup2 at /sys/fs/cgroup/unified).
# Each runtime command of a test runs in a private mount namespace where
# /sys/fs/cgroup is made to look like the layout under test:
#   v1:     the cgroup2 mount at /sys/fs/cgroup/unified is detached;
#   v2:     the cgroup2 hierarchy is bind-mounted over /sys/fs/cgroup;
#   hybrid: as the host is.
# The cgroups themselves are the host's real ones, so what the runtime does
# is checked from the host.
. "$(dirname "$0")/../lib/testlib.sh"

# in_layout LAYOUT CMD...: CMD with /sys/fs/cgroup shaped as LAYOUT.
in_layout() {
  local layout=$1; shift
  local setup=
  case $layout in
    v1) setup='umount -l /sys/fs/cgroup/unified' ;;
    v2) setup='mount --bind /sys/fs/cgroup/unified /sys/fs/cgroup' ;;
    hybrid) setup=: ;;
  esac
  unshare -m --propagation private sh -c "$setup && exec \"\$@\"" in_layout "$@"
}

# lrt LAYOUT ARGS...: the runtime under test in LAYOUT.
lrt() {
  local layout=$1; shift
  trace "+ [$layout] runtime $*"
  in_layout "$layout" timeout -k 5 "$RT_TIMEOUT" "$RUNTIME" --root "$ROOT" "$@"
}

need_layouts() {
  [ -f /sys/fs/cgroup/unified/cgroup.procs ] || skip "host has no hybrid cgroup layout to derive v1/v2 from"
}

# The path of the container in the hierarchy that holds CONTROLLER
# (pids, or "" for the cgroup2 one), read from the host.
cgroup_of() { # pid controller
  awk -F: -v c="$2" '$2 == c { print $3 }' "/proc/$1/cgroup"
}

check_placement() { # layout
  local layout=$1 b=$T/b id pid
  mkbundle "$b" -- sleep 1000 >/dev/null
  id=$(bid "$b")
  capf lrt "$layout" run -d -b "$b" "$id"
  assert_success "run -d in $layout"
  pid=$(in_layout "$layout" "$RUNTIME" --root "$ROOT" state "$id" | jq -r .pid)
  local v1path v2path
  v1path=$(cgroup_of "$pid" pids)
  v2path=$(cgroup_of "$pid" "")
  case $layout in
    v1) assert_eq "/$CG_PARENT/$id" "$v1path" "v1: pids hierarchy"
        assert_ne "/$CG_PARENT/$id" "$v2path" "v1: the cgroup2 hierarchy is not used" ;;
    v2) assert_eq "/$CG_PARENT/$id" "$v2path" "v2: unified hierarchy"
        assert_ne "/$CG_PARENT/$id" "$v1path" "v2: v1 hierarchies are not used" ;;
    hybrid) assert_eq "/$CG_PARENT/$id" "$v1path" "hybrid: pids hierarchy"
        assert_eq "/$CG_PARENT/$id" "$v2path" "hybrid: unified hierarchy" ;;
  esac
  # pause/resume through the layout's freezer
  capf lrt "$layout" pause "$id"
  assert_success "pause in $layout"
  assert_eq paused "$(in_layout "$layout" "$RUNTIME" --root "$ROOT" state "$id" | jq -r .status)" "state after pause"
  case $layout in
    v2) assert_eq 1 "$(cat "/sys/fs/cgroup/unified/$CG_PARENT/$id/cgroup.freeze")" "v2 cgroup.freeze" ;;
    *) assert_eq FROZEN "$(cat "/sys/fs/cgroup/freezer/$CG_PARENT/$id/freezer.state")" "v1 freezer.state" ;;
  esac
  capf lrt "$layout" resume "$id"
  assert_success "resume in $layout"
  assert_eq running "$(in_layout "$layout" "$RUNTIME" --root "$ROOT" state "$id" | jq -r .status)" "state after resume"
  # ps lists the init through the layout's hierarchy
  capf lrt "$layout" ps --format json "$id"
  assert_json "$OUT" --argjson p "$pid" 'index($p) != null' "ps lists the init in $layout"
  capf lrt "$layout" delete --force "$id"
  assert_success "delete --force in $layout"
  local d
  for d in /sys/fs/cgroup/*/"$CG_PARENT/$id"; do
    [ ! -d "$d" ] || fail "$layout: cgroup $d left behind"
  done
}

test_placement_pause_delete_v1() { need_layouts; check_placement v1; }
test_placement_pause_delete_v2() { need_layouts; check_placement v2; }
test_placement_pause_delete_hybrid() { need_layouts; check_placement hybrid; }

# Device rules: a device node the container makes itself (an unregistered
# minor of the mem major) must be refused by the cgroup (EPERM) with a
# deny-all rule, whatever the layout (v1 devices.deny / v2 eBPF program);
# without rules the open reaches the driver and fails with ENXIO.
MKNOD_CAPS='.process.capabilities.bounding += ["CAP_MKNOD"] | .process.capabilities.effective += ["CAP_MKNOD"] | .process.capabilities.permitted += ["CAP_MKNOD"]'
check_devices() { # layout
  local layout=$1 b=$T/b-$1
  local probe='mknod /tmp/dev c 1 250 && (head -c1 /tmp/dev 2>&1; true)'
  mkbundle -x "$MKNOD_CAPS" -x '.linux.resources.devices = [{"allow": false, "access": "rwm"}]' \
    "$b" -- sh -c "$probe" >/dev/null
  cap lrt "$layout" run -b "$b" "$(bid "$b")"
  assert_eq 0 "$RC" "run in $layout"
  assert_contains "$OUT" "Operation not permitted" "$layout: device denied by the cgroup"
  mkbundle -x "$MKNOD_CAPS" -x 'del(.linux.resources.devices)' "$b-open" -- sh -c "$probe" >/dev/null
  cap lrt "$layout" run -b "$b-open" "$(bid "$b-open")"
  assert_eq 0 "$RC" "run without device rules in $layout"
  assert_contains "$OUT" "No such device" "$layout: without rules the open reaches the driver"
}

test_devices_v1() { need_layouts; check_devices v1; }
test_devices_v2() { need_layouts; check_devices v2; }
test_devices_hybrid() { need_layouts; check_devices hybrid; }

# A memory limit lands in whichever hierarchy has the memory controller;
# where no hierarchy has it (our v2 view: the memory controller is bound to
# v1), create fails clearly and leaves nothing behind.
test_memory_limit_per_layout() {
  need_layouts
  local layout b id
  for layout in v1 hybrid; do
    b=$T/m-$layout
    mkbundle -x '.linux.resources.memory = {"limit": 67108864}' "$b" -- sleep 1000 >/dev/null
    id=$(bid "$b")
    capf lrt "$layout" run -d -b "$b" "$id"
    assert_success "run with a memory limit in $layout"
    assert_eq 67108864 "$(cat "/sys/fs/cgroup/memory/$CG_PARENT/$id/memory.limit_in_bytes")" "$layout: memory.limit_in_bytes"
    capf lrt "$layout" delete --force "$id"
  done
  if grep -qw memory /sys/fs/cgroup/unified/cgroup.controllers; then
    return 0 # memory is available on cgroup2 here: nothing to refuse
  fi
  b=$T/m-v2
  mkbundle -x '.linux.resources.memory = {"limit": 67108864}' "$b" -- true >/dev/null
  id=$(bid "$b")
  cap lrt v2 run -b "$b" "$id"
  assert_ne 0 "$RC" "v2 without a memory controller must refuse a memory limit"
  assert_contains "$OUT" "memory" "the error names the controller"
  assert_no_leftovers "$id" "$b"
}

run_tests "$@"
