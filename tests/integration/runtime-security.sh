#!/bin/bash
# runtime-security.sh: each test tries a known container-escape attack and
# checks that it fails.
. "$(dirname "$0")/../lib/testlib.sh"

# CVE-2019-5736: a container process overwrites the host runtime binary
# through /proc/PID/exe of a runtime process that joined the container
# (runtime exec of a "#!/proc/self/exe" script). The attack runs against a
# copy of the runtime, never the real one.
test_cve_2019_5736_exe_overwrite() {
  need_helpers exe_overwrite
  local copy=$T/rt-copy/runtime
  mkdir -p "$T/rt-copy"
  cp "$RUNTIME" "$copy"
  chmod 0755 "$copy"
  local sum0
  sum0=$(sha256sum < "$copy")
  mkbundle -H "$T/b" -- exe_overwrite 8
  # the runtime's shared libraries, so that "#!/proc/self/exe" can really
  # run the runtime binary inside the container (as in the original exploit)
  local lib
  for lib in $(ldd "$copy" 2>/dev/null | grep -oE '/[^ ]+' || true); do
    [ -f "$lib" ] || continue
    mkdir -p "$T/b/rootfs$(dirname "$lib")"
    cp -L "$lib" "$T/b/rootfs$lib"
  done
  # The runtime binary that "#!/proc/self/exe" starts inside the container
  # must stay alive long enough to be attacked: its --log is a FIFO in the
  # container that nobody opens for reading, so it blocks opening it.
  mkfifo "$T/b/rootfs/hold"
  printf '#!/proc/self/exe --log=/hold\n' > "$T/b/rootfs/evil"
  chmod 0755 "$T/b/rootfs/evil"
  local id
  id=$(bid "$T/b")
  # the waiting init (created, not started) must not run the runtime binary
  # from the host file system
  capf rtx "$copy" create -b "$T/b" "$id"
  assert_success "create with the runtime copy"
  local init exe
  init=$(rt_pid "$id")
  exe=$(readlink "/proc/$init/exe")
  log "exe of the waiting init: $exe"
  if is_berth; then
    assert_contains "$exe" "memfd:" "/proc/<init>/exe of a created container is a memfd"
  fi
  [ "$exe" != "$copy" ] || fail "created container's init runs the host runtime binary $copy"
  capf rtx "$copy" start "$id"
  assert_success "start"
  local i
  for i in 1 2 3; do
    sleep 0.5
    cap rtx "$copy" exec -d "$id" /evil
  done
  wait_for 20 status_is "$id" stopped || fail "attacker did not finish"
  assert_eq "$sum0" "$(sha256sum < "$copy")" "the runtime binary (copy) was modified by the container"
  # the attack must have had something to attack: the helper's log is the
  # container's stdout, captured by capf's file for `start`/`create`
  local log
  log=$(cat "$T"/.capf.* 2>/dev/null)
  log "attacker output: $log"
  assert_contains "$log" "exe_overwrite: seen=" "the attacker ran"
  assert_no_match "$log" 'exe_overwrite: seen=0 ' "the attacker saw no runtime process join the container"
  # and the container could not write to the runtime while it ran either
  assert_ok cmp "$copy" "$RUNTIME"
}

# CVE-2024-21626 (1): no host file descriptor leaks into the container.
test_cve_2024_21626_no_leaked_fds() {
  need_helpers fdlist
  mkbundle -H "$T/b" -- fdlist
  run_ct "$T/b"
  assert_success
  assert_eq "0 1 2" "$(printf '%s\n' "$OUT" | awk '/ -> /{print $1}' | sort -n | tr '\n' ' ' | sed 's/ $//')" "fds of the container process"
  # exec'd processes too
  mkbundle -H -s "$T/shared" "$T/e" -- sh -c 'echo ready > /shared/ready; exec sleep 1000'
  local id
  id=$(bid "$T/e")
  capf rt run -d -b "$T/e" "$id"
  wait_for 10 test -e "$T/shared/ready" || fail "not started"
  assert_ok rt exec "$id" fdlist
  assert_eq "0 1 2" "$(printf '%s\n' "$OUT" | awk '/ -> /{print $1}' | sort -n | tr '\n' ' ' | sed 's/ $//')" "fds of an exec'd process"
  # only the preserved ones are added
  RC=0
  OUT=$(rt exec --preserve-fds 2 "$id" fdlist 3</dev/null 4</dev/null 2>&1) || RC=$?
  assert_success
  assert_eq "0 1 2 3 4" "$(printf '%s\n' "$OUT" | awk '/ -> /{print $1}' | sort -n | tr '\n' ' ' | sed 's/ $//')" "fds with --preserve-fds 2"
}

# CVE-2024-21626 (2): process.cwd (or exec --cwd) set to /proc/self/fd/N
# must not give access to the host through a leaked directory fd.
cwd_escape_script='pwd; cat ../../../../etc/os-release ../../../../../etc/os-release 2>/dev/null; cat ../../../../etc/hostname 2>/dev/null; ls ../../../../ 2>/dev/null | tr "\n" " "; echo'

check_no_escape() { # OUT RC what
  local out=$1 rc=$2 what=$3
  if [ "$rc" -ne 0 ]; then
    return 0 # refusing to start is fine
  fi
  assert_not_contains "$out" "unreachable" "$what: cwd outside the container's root"
  assert_not_contains "$out" "PRETTY_NAME=" "$what: read the host's /etc/os-release"
  if [ -s /etc/hostname ]; then
    assert_no_match "$out" "^$(head -n1 /etc/hostname)\$" "$what: read the host's /etc/hostname"
  fi
}

test_cve_2024_21626_cwd_proc_self_fd() {
  local n
  for n in 3 4 5 6 7 8 9 10; do
    mkbundle -a "cwd=/proc/self/fd/$n" -x '.process.cwd = $cwd' "$T/b$n" -- sh -c "$cwd_escape_script"
    [ ! -e "$T/b$n/rootfs/etc/os-release" ] || fail "test rootfs must not have /etc/os-release"
    run_ct "$T/b$n"
    check_no_escape "$OUT" "$RC" "process.cwd=/proc/self/fd/$n"
  done
  # the same through exec --cwd
  mkbundle -s "$T/shared" "$T/e" -- sh -c 'echo ready > /shared/ready; exec sleep 1000'
  local id
  id=$(bid "$T/e")
  capf rt run -d -b "$T/e" "$id"
  wait_for 10 test -e "$T/shared/ready" || fail "not started"
  for n in 3 4 5 6 7 8 9 10; do
    cap rt exec --cwd "/proc/self/fd/$n" "$id" sh -c "$cwd_escape_script"
    check_no_escape "$OUT" "$RC" "exec --cwd /proc/self/fd/$n"
  done
}

# CVE-2021-30465: a mount destination through a symlink in the rootfs must
# be resolved inside the rootfs, never on the host.
test_cve_2021_30465_symlink_mount_dest() {
  local hostdir
  hostdir=$(mktemp -d /tmp/bt-evil.XXXXXX)
  defer "umount -R '$hostdir/sub' 2>/dev/null; rm -rf '$hostdir'"
  mkbundle -x '.mounts += [{destination: "/evil/sub", type: "tmpfs", source: "tmpfs", options: ["size=1m"]}]' "$T/b" -- \
    sh -c 'echo inside > /evil/sub/f && cat /evil/sub/f; stat -f -c %T /evil/sub; readlink /evil'
  ln -s "$hostdir" "$T/b/rootfs/evil"
  run_ct "$T/b"
  assert_not_exists "$hostdir/sub" "a folder was created on the host through the rootfs symlink"
  assert_eq "" "$(ls -A "$hostdir")" "host folder changed"
  grep -qF "$hostdir" /proc/self/mountinfo && fail "a mount appeared on the host at $hostdir"
  if [ "$RC" -eq 0 ]; then
    assert_contains "$OUT" inside
    assert_contains "$OUT" tmpfs "the tmpfs is inside the container"
    assert_exists "$T/b/rootfs$hostdir/sub" "mount point created inside the rootfs"
  else
    log "runtime refused the symlinked destination (fine)"
  fi
  # a destination with .. must not climb out either
  local dd="/tmp/bt-dotdot-$TEST_TAG"
  defer "umount '$dd' 2>/dev/null; rmdir '$dd' 2>/dev/null"
  mkbundle -a "d=/../../../../../../../../$dd" -x '.mounts += [{destination: $d, type: "tmpfs", source: "tmpfs", options: ["size=1m"]}]' "$T/c" -- \
    sh -c "echo x > $dd/f && echo wrote"
  run_ct "$T/c"
  assert_not_exists "$dd" "mount destination with .. escaped the rootfs"
}

test_proc_symlink_rejected() {
  mkdir -p "$T/procdst"
  mkbundle "$T/b" -- true
  rmdir "$T/b/rootfs/proc"
  ln -s "$T/procdst" "$T/b/rootfs/proc"
  local id
  id=$(bid "$T/b")
  capf rt create -b "$T/b" "$id"
  [ "$RC" -ne 0 ] || fail "create succeeded with /proc a symlink to $T/procdst"
  grep -qF "$T/procdst" /proc/self/mountinfo && fail "proc was mounted on the host at $T/procdst"
  assert_eq "" "$(ls -A "$T/procdst")" "host folder changed"
  assert_no_leftovers "$id" "$T/b"
}

test_dev_null_bind_then_mask() {
  echo "not a device" > "$T/fake-null"
  mkbundle -a "f=$T/fake-null" -x '.mounts += [{destination: "/dev/null", type: "bind", source: $f, options: ["bind", "rw"]}]' "$T/b" -- \
    sh -c 'echo started; cat /proc/timer_list | head -n 2'
  local id
  id=$(bid "$T/b")
  run_ct "$T/b"
  [ "$RC" -ne 0 ] || fail "container started with a regular file bound on /dev/null used for masking: $OUT"
  assert_not_contains "$OUT" started "the container process ran"
  assert_contains "$OUT" "/dev/null" "the error names /dev/null"
  assert_eq "not a device" "$(cat "$T/fake-null")" "host file changed"
  assert_no_leftovers "$id" "$T/b"
}

# The init is non-dumpable while it is being set up and waits for start:
# its /proc entries then belong to root even though it already runs as the
# container user, so no process of the container can ptrace it or open its
# /proc/<pid>/exe, fds or memory.  After execve it is dumpable again.
test_init_not_dumpable_during_setup() {
  mkbundle -x '.process.user = {uid: 1000, gid: 1000}' "$T/b" -- sleep 1000
  local id pid
  id=$(bid "$T/b")
  capf rt create -b "$T/b" "$id"
  assert_success "create"
  pid=$(rt_pid "$id")
  assert_eq "1000" "$(awk '/^Uid:/ {print $2}' "/proc/$pid/status")" "the waiting init already runs as the container user"
  assert_eq "0" "$(stat -c %u "/proc/$pid/fd")" "/proc/<init>/fd owned by root: the waiting init is non-dumpable"
  capf rt start "$id"
  assert_success "start"
  wait_for 10 sh -c "[ \"\$(stat -c %u /proc/$pid/fd)\" = 1000 ]" || fail "after execve the process should be dumpable (/proc/<pid>/fd owned by 1000), is $(stat -c %u "/proc/$pid/fd")"
}

run_tests "$@"
