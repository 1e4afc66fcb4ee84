#!/bin/bash
# runtime-cgroups.sh: linux.resources, checked in the host's cgroup folder of
# the container (linux.cgroupsPath = /berth-test/<id>, under
# /sys/fs/cgroup/<controller>/ on cgroup v1 or /sys/fs/cgroup[/unified]/ on
# v2) and from inside (the default spec mounts the container's cgroups at
# /sys/fs/cgroup), plus the effect of the limit on the process.
. "$(dirname "$0")/../lib/testlib.sh"

# v1 controller folder, or the v2 folder when the controller is on v2
cg_host() { # controller bundle-dir v1-file v2-file -> prints path of the file
  local c=$1 b=$2 f1=$3 f2=$4 d
  d=$(cg_dir "$c" "$b")
  if [ -f "$d/$f1" ]; then printf '%s' "$d/$f1"; return 0; fi
  for d in "/sys/fs/cgroup/$CG_PARENT/$(bid "$b")" "$(cg_dir unified "$b")"; do
    if [ -f "$d/$f2" ]; then printf '%s' "$d/$f2"; return 0; fi
  done
  printf '%s' "$(cg_dir "$c" "$b")/$f1"
}

# start a sleeping container from bundle $T/NAME with extra jq; sets ID
start_ct() { # name jq-expr [mkbundle opts]
  local name=$1 expr=$2; shift 2
  mkbundle -s "$T/shared" -x "$expr" "$@" "$T/$name" -- sh -c 'echo ready > /shared/ready; exec sleep 1000'
  ID=$(bid "$T/$name")
  capf rt run -d -b "$T/$name" "$ID"
  [ "$RC" -eq 0 ] || fail "run -d failed: $OUT"
  wait_for 10 test -e "$T/shared/ready" || fail "container process did not start"
  rm -f "$T/shared/ready"
}

inside() { rt exec "$ID" sh -c "$1"; }

test_memory_limit() {
  start_ct b '.linux.resources.memory = {limit: 33554432, swap: 33554432}
      | .mounts += [{destination: "/big", type: "tmpfs", source: "tmpfs", options: ["size=128m"]}]'
  local f
  f=$(cg_host memory "$T/b" memory.limit_in_bytes memory.max)
  assert_exists "$f" "host memory cgroup file"
  assert_eq 33554432 "$(cat "$f")" "host memory limit"
  cap inside 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max'
  assert_eq 33554432 "$OUT" "memory limit seen inside"
  if [ -f "$(dirname "$f")/memory.memsw.limit_in_bytes" ]; then
    assert_eq 33554432 "$(cat "$(dirname "$f")/memory.memsw.limit_in_bytes")" "memsw limit"
  fi
  # 8 MiB in tmpfs fits, 64 MiB does not (tmpfs pages are charged to the cgroup)
  cap inside 'dd if=/dev/zero of=/big/small bs=1M count=8 2>/dev/null && echo small-ok'
  assert_contains "$OUT" small-ok
  cap inside 'dd if=/dev/zero of=/big/large bs=1M count=64 2>&1; echo dd-rc=$?'
  assert_not_contains "$OUT" "dd-rc=0" "64 MiB written under a 32 MiB limit"
  local dir hits=0 x
  dir=$(dirname "$f")
  for x in memory.failcnt memory.memsw.failcnt; do
    [ -f "$dir/$x" ] && hits=$((hits + $(cat "$dir/$x")))
  done
  [ -f "$dir/memory.oom_control" ] && hits=$((hits + $(awk '$1 == "oom_kill" {print $2}' "$dir/memory.oom_control")))
  [ -f "$dir/memory.events" ] && hits=$((hits + $(awk '$1 == "max" || $1 == "oom" {s += $2} END {print s + 0}' "$dir/memory.events")))
  [ "$hits" -gt 0 ] || fail "memory cgroup never hit its limit"
}

test_memory_reservation() {
  start_ct b '.linux.resources.memory = {limit: 67108864, reservation: 33554432}'
  local d
  d=$(cg_dir memory "$T/b")
  [ -d "$d" ] || skip "memory controller is not on cgroup v1 here"
  assert_eq 33554432 "$(cat "$d/memory.soft_limit_in_bytes")" "memory reservation (soft limit)"
  assert_eq 67108864 "$(cat "$d/memory.limit_in_bytes")"
}

test_cpu_shares_quota() {
  # 20% of a CPU: throttling shows even when the machine is busy
  start_ct b '.linux.resources.cpu = {shares: 512, quota: 20000, period: 100000}'
  local d
  d=$(cg_dir cpu "$T/b")
  if [ -d "$d" ]; then
    assert_eq 512 "$(cat "$d/cpu.shares")" "host cpu.shares"
    assert_eq 20000 "$(cat "$d/cpu.cfs_quota_us")" "host cpu.cfs_quota_us"
    assert_eq 100000 "$(cat "$d/cpu.cfs_period_us")" "host cpu.cfs_period_us"
    cap inside 'cat /sys/fs/cgroup/cpu/cpu.shares /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us'
    assert_eq "512
20000
100000" "$OUT" "cpu settings seen inside"
  else
    local v2
    v2=$(cg_host cpu "$T/b" cpu.shares cpu.max)
    assert_eq "20000 100000" "$(cat "$v2")" "cpu.max"
    cap inside 'cat /sys/fs/cgroup/cpu.max'
    assert_eq "20000 100000" "$OUT"
  fi
  # effect: a busy loop is throttled
  cap inside 'cat /proc/self/stat >/dev/null; (timeout 2 sh -c "while :; do :; done") ; cat /sys/fs/cgroup/cpu/cpu.stat 2>/dev/null || cat /sys/fs/cgroup/cpu.stat'
  assert_match "$OUT" 'nr_throttled [1-9]' "the quota throttled the busy loop"
}

test_pids_limit() {
  start_ct b '.linux.resources.pids = {limit: 20}'
  local f
  f=$(cg_host pids "$T/b" pids.max pids.max)
  assert_eq 20 "$(cat "$f")" "host pids.max"
  cap inside 'cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max'
  assert_eq 20 "$OUT" "pids.max inside"
  # fork bomb, bounded: try 60 background sleeps; the limit stops it
  cap inside 'sh -c "i=0; while [ \$i -lt 60 ]; do sleep 4 & i=\$((i+1)); done; echo loop-finished" 2>&1'
  assert_match "$OUT" "can't fork|Resource temporarily unavailable|Cannot allocate" "fork failed at the limit"
  assert_not_contains "$OUT" loop-finished "60 processes started under pids.max=20"
  local cur
  cur=$(cat "$(dirname "$f")/pids.current")
  [ -n "$cur" ] && [ "$cur" -le 20 ] && [ "$cur" -ge 10 ] || fail "pids.current ($cur) not at the limit"
  local ev
  ev=$(cat "$(dirname "$f")/pids.events" 2>/dev/null || echo "max 1")
  assert_match "$ev" 'max [1-9]' "pids.events counts refused forks"
}

test_cpuset() {
  start_ct b '.linux.resources.cpu = {cpus: "0", mems: "0"}'
  local f
  f=$(cg_host cpuset "$T/b" cpuset.cpus cpuset.cpus)
  assert_eq 0 "$(cat "$f")" "host cpuset.cpus"
  assert_eq 0 "$(cat "$(dirname "$f")/$(basename "$f" | sed 's/cpus$/mems/')")" "host cpuset.mems"
  cap inside 'grep ^Cpus_allowed_list: /proc/self/status; nproc'
  assert_match "$OUT" '^Cpus_allowed_list:[[:space:]]+0$' "the process may run on CPU 0 only"
  assert_match "$OUT" '^1$' "nproc"
}

test_blkio() {
  local dev
  dev=$(for d in /sys/block/*; do case ${d##*/} in loop*|ram*|zram*) continue ;; esac; cat "$d/dev"; break; done)
  [ -n "$dev" ] || skip "no block device"
  local maj=${dev%%:*} min=${dev##*:}
  start_ct b ".linux.resources.blockIO = {throttleReadBpsDevice: [{major: $maj, minor: $min, rate: 1048576}],
                                          throttleWriteIOPSDevice: [{major: $maj, minor: $min, rate: 100}]}"
  local d
  d=$(cg_dir blkio "$T/b")
  if [ -d "$d" ]; then
    assert_contains "$(cat "$d/blkio.throttle.read_bps_device")" "$dev 1048576" "read bps throttle"
    assert_contains "$(cat "$d/blkio.throttle.write_iops_device")" "$dev 100" "write iops throttle"
    cap inside 'cat /sys/fs/cgroup/blkio/blkio.throttle.read_bps_device'
    assert_contains "$OUT" "$dev 1048576" "throttle seen inside"
  else
    local f
    f=$(cg_host io "$T/b" io.max io.max)
    assert_match "$(cat "$f")" "^$dev .*rbps=1048576" "io.max rbps"
  fi
}

test_blkio_weight() {
  start_ct b '.linux.resources.blockIO = {weight: 300}'
  local d f
  d=$(cg_dir blkio "$T/b")
  for f in "$d/blkio.weight" "$d/blkio.bfq.weight" "$(cg_dir unified "$T/b")/io.bfq.weight" "$(cg_dir unified "$T/b")/io.weight"; do
    [ -f "$f" ] && break
  done
  [ -f "$f" ] || skip "no blkio/io weight file (kernel without CFQ/BFQ)"
  assert_match "$(cat "$f")" '(^| )300$' "$f"
}

test_cgroups_removed() {
  start_ct b '.linux.resources.memory = {limit: 67108864} | .linux.resources.pids = {limit: 50}'
  local dirs d
  dirs=$(ls -d /sys/fs/cgroup/*/"$CG_PARENT/$ID" 2>/dev/null)
  [ -n "$dirs" ] || fail "no cgroup folder for $ID"
  assert_contains "$dirs" "/memory/" "memory cgroup created"
  assert_contains "$dirs" "/pids/" "pids cgroup created"
  local pid
  pid=$(rt_pid "$ID")
  for d in $dirs; do
    grep -qx "$pid" "$d/cgroup.procs" || fail "init $pid not in $d"
  done
  # the process's own view
  assert_match "$(cat "/proc/$pid/cgroup")" "memory:/$CG_PARENT/$ID\$" "/proc/PID/cgroup names the container cgroup"
  assert_ok rt kill "$ID" KILL
  wait_status "$ID" stopped
  assert_ok rt delete "$ID"
  for d in $dirs; do
    assert_not_exists "$d" "cgroup folder after delete"
  done
  # run (foreground) cleans up too
  mkbundle -x '.linux.resources.pids = {limit: 50}' "$T/r" -- true
  run_ct "$T/r"
  assert_success
  for d in /sys/fs/cgroup/*/"$CG_PARENT/$(bid "$T/r")"; do
    assert_not_exists "$d" "cgroup folder after run"
  done
}

run_tests "$@"
