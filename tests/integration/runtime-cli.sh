#!/bin/bash
# runtime-cli.sh: the runc command-line contract (version, spec, lifecycle,
# run, kill, delete, exec, ps, list, pause/resume, update, features, logging,
# console socket, preserve-fds, hooks). Every check reads a real effect:
# output of the container's process, files it writes into a bind-mounted
# host folder (/shared), or the host's cgroup folders.
. "$(dirname "$0")/../lib/testlib.sh"

# Loop that proves the process runs: writes /shared/ready, then sleeps.
SLEEPER='echo ready > /shared/ready; exec sleep 1000'

start_sleeper() { # bundle-dir [mkbundle opts...]: run -d a sleeping container
  local b=$1; shift
  mkbundle -s "$T/shared" "$@" "$b" -- sh -c "$SLEEPER"
  capf rt run -d -b "$b" "$(bid "$b")"
  [ "$RC" -eq 0 ] || fail "run -d failed: $OUT"
  wait_for 10 test -e "$T/shared/ready" || fail "container process did not start"
  rm -f "$T/shared/ready"
}

test_version() {
  cap2 "$RUNTIME" --version
  assert_success "--version exit code"
  local first
  first=$(printf '%s\n' "$OUT" | head -n1)
  assert_match "$first" '^[A-Za-z0-9_.+-]+ version [0-9]+\.[0-9]+' "first line is '<name> version X'"
  assert_match "$OUT" '^commit: .+' "a 'commit:' line"
  assert_match "$OUT" '^spec: 1\.[0-9]+\.[0-9]+' "a 'spec: 1.x.y' line"
  if is_berth; then
    assert_eq 3 "$(printf '%s\n' "$OUT" | grep -c .)" "berth prints exactly three lines"
    assert_match "$first" '^berth-runtime version ' "berth's first word"
    assert_eq "commit:" "$(printf '%s\n' "$OUT" | sed -n 2p | cut -d' ' -f1)" "second line"
    assert_eq "spec:" "$(printf '%s\n' "$OUT" | sed -n 3p | cut -d' ' -f1)" "third line"
  fi
  cap2 "$RUNTIME" -v
  assert_success "-v exit code"
  assert_eq "$first" "$(printf '%s\n' "$OUT" | head -n1)" "-v prints the same"
}

test_spec() {
  mkdir s && cd s
  assert_ok rt spec
  assert_exists config.json
  local c
  c=$(cat config.json)
  assert_json "$c" '.ociVersion | test("^1\\.[0-9]+\\.[0-9]+")' "ociVersion"
  assert_json "$c" '.root.path == "rootfs"' "root.path"
  assert_json "$c" '(.process.args | length) > 0 and (.process.cwd == "/")' "process"
  assert_json "$c" '[.linux.namespaces[].type] | (index("pid") != null and index("mount") != null and index("network") != null and index("ipc") != null and index("uts") != null)' "namespaces"
  assert_json "$c" '[.mounts[].destination] | (index("/proc") != null and index("/dev") != null)' "mounts"
  assert_json "$c" '(.linux.maskedPaths | index("/proc/kcore")) != null and (.linux.readonlyPaths | index("/proc/sys")) != null' "masked/readonly paths"
  assert_json "$c" '[.linux.namespaces[].type] | index("user") == null' "no user namespace by default"
  # refuses to overwrite
  assert_fails rt spec
  assert_eq "$c" "$(cat config.json)" "config.json unchanged after a refused spec"
  # --bundle writes elsewhere
  mkdir "$T/other"
  assert_ok rt spec --bundle "$T/other"
  assert_exists "$T/other/config.json"
  assert_json "$(cat "$T/other/config.json")" '.root.path == "rootfs"'
}

test_spec_rootless() {
  mkdir s && cd s
  assert_ok rt spec --rootless
  local c
  c=$(cat config.json)
  assert_json "$c" '[.linux.namespaces[].type] | index("user") != null' "user namespace"
  assert_json "$c" '(.linux.uidMappings | length) > 0 and (.linux.gidMappings | length) > 0' "uid/gid mappings"
  assert_json "$c" '.linux.uidMappings[0].size >= 1 and .linux.uidMappings[0].containerID == 0' "maps root"
}

test_lifecycle() {
  mkbundle -s "$T/shared" "$T/b" -- sh -c 'echo started > /shared/started; exec sleep 1000'
  local id
  id=$(bid "$T/b")
  capf rt create -b "$T/b" "$id"
  assert_success "create"
  local st
  st=$(rt state "$id")
  assert_json "$st" '.status == "created"' "status after create"
  assert_json "$st" --arg id "$id" '.id == $id' "state id"
  assert_json "$st" '.ociVersion | test("^1\\.")' "state ociVersion"
  assert_json "$st" '(.pid | type) == "number" and .pid > 0' "state pid"
  assert_json "$st" '.created | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+")' "state created (RFC 3339)"
  printf '%s' "$st" | jq -e --arg b "$T/b" '.bundle == $b' >/dev/null || fail "state bundle is not $T/b: $st"
  local pid
  pid=$(printf '%s' "$st" | jq -r .pid)
  [ -d "/proc/$pid" ] || fail "init pid $pid does not exist"
  sleep 0.3
  assert_not_exists "$T/shared/started" "user process ran before start"
  capf rt start "$id"
  assert_success "start"
  wait_for 10 test -e "$T/shared/started" || fail "process did not run after start"
  assert_eq running "$(rt_status "$id")" "status after start"
  assert_eq "$pid" "$(rt_pid "$id")" "pid unchanged by start"
  assert_ok rt kill "$id" KILL
  wait_status "$id" stopped
  assert_json "$(rt state "$id")" '.status == "stopped"'
  assert_ok rt delete "$id"
  assert_fails rt state "$id"
  assert_not_exists "$ROOT/$id" "state folder after delete"
  local d
  for d in /sys/fs/cgroup/*/berth-test/"$id"; do assert_not_exists "$d" "cgroup after delete"; done
  ! proc_alive "$pid" || fail "init pid $pid still exists"
}

test_run_exit_code() {
  mkbundle "$T/b" -- sh -c 'echo to-stdout; echo to-stderr >&2; exit 3'
  run_ct "$T/b"
  assert_eq 3 "$RC" "exit code of 'sh -c exit 3'"
  assert_contains "$OUT" to-stdout
  assert_contains "$OUT" to-stderr
  assert_eq none "$(rt_status "$(bid "$T/b")")" "run removes the container"
  mkbundle "$T/b0" -- sh -c 'exit 0'
  run_ct "$T/b0"
  assert_success "exit 0"
  # a process killed by a signal gives 128+signal
  mkbundle "$T/b9" -- sleep 1000
  local id9
  id9=$(bid "$T/b9")
  ( RC=0; rt run -b "$T/b9" "$id9" > "$T/fg.out" 2>&1 || RC=$?; echo "$RC" > "$T/fg.rc" ) &
  wait_status "$id9" running
  assert_ok rt kill "$id9" KILL
  wait_for 10 test -s "$T/fg.rc" || fail "foreground run did not return after kill"
  assert_eq 137 "$(cat "$T/fg.rc")" "exit code of a SIGKILLed process (128+9)"
  # stdin is passed through in the foreground
  mkbundle "$T/bi" -- sh -c 'read line; echo "got:$line"'
  RC=0
  OUT=$(echo hello-stdin | rt run -b "$T/bi" "$(bid "$T/bi")" 2>&1) || RC=$?
  assert_success
  assert_contains "$OUT" "got:hello-stdin"
}

test_run_detach() {
  mkbundle -s "$T/shared" "$T/b" -- sh -c 'echo $$ > /shared/pid; exec sleep 1000'
  local id
  id=$(bid "$T/b")
  capf rt run -d -b "$T/b" "$id"
  assert_success "run -d returns"
  wait_for 10 test -s "$T/shared/pid" || fail "process did not start"
  assert_eq 1 "$(cat "$T/shared/pid")" "process is pid 1 in its namespace"
  assert_eq running "$(rt_status "$id")"
  assert_ok rt kill "$id" KILL
  wait_status "$id" stopped
  assert_ok rt delete "$id"
}

test_create_pid_file() {
  mkbundle "$T/b" -- sleep 1000
  local id
  id=$(bid "$T/b")
  capf rt create --pid-file "$T/pidfile" -b "$T/b" "$id"
  assert_success
  assert_exists "$T/pidfile"
  local p
  p=$(cat "$T/pidfile")
  assert_match "$p" '^[0-9]+$' "pid file holds a number"
  assert_eq "$(rt_pid "$id")" "$p" "pid file matches state"
  # (own bundle: each container gets its own cgroup)
  mkbundle "$T/b2" -- sleep 1000
  capf rt run -d --pid-file "$T/pidfile2" -b "$T/b2" "$(bid "$T/b2")"
  assert_success
  assert_eq "$(rt_pid "$(bid "$T/b2")")" "$(cat "$T/pidfile2")" "run -d --pid-file"
  grep -q sleep "/proc/$(cat "$T/pidfile2")/cmdline" || fail "pid file of run -d does not point at the container process"
}

test_kill_signal_names() {
  local form b id
  for form in KILL SIGKILL 9; do
    b=$T/b-$form
    mkbundle "$b" -- sleep 1000
    id=$(bid "$b")
    capf rt run -d -b "$b" "$id"
    assert_success
    assert_ok rt kill "$id" "$form"
    wait_status "$id" stopped
    assert_ok rt delete "$id"
  done
  # delivery of a caught signal, by name, SIG-name and number
  mkbundle -s "$T/shared" "$T/u" -- sh -c 'trap "echo USR1 >> /shared/sig" USR1; trap "echo TERM >> /shared/sig; exit 0" TERM; echo ready > /shared/ready; while :; do sleep 0.1; done'
  id=$(bid "$T/u")
  capf rt run -d -b "$T/u" "$id"
  wait_for 10 test -e "$T/shared/ready" || fail "not started"
  local n=0
  for form in USR1 SIGUSR1 10; do
    n=$((n + 1))
    assert_ok rt kill "$id" "$form"
    # one at a time: pending signals of one kind merge
    wait_for 10 sh -c "[ \$(grep -c USR1 '$T/shared/sig' 2>/dev/null) -ge $n ]" || fail "kill $form: USR1 not received: $(cat "$T/shared/sig" 2>&1)"
  done
  # default signal is TERM
  assert_ok rt kill "$id"
  wait_for 10 grep -q TERM "$T/shared/sig" || fail "default signal is not TERM"
  wait_status "$id" stopped
}

test_kill_signal_flag() {
  mkbundle -s "$T/shared" "$T/b" -- sh -c 'trap "echo USR1 >> /shared/sig" USR1; echo ready > /shared/ready; while :; do sleep 0.1; done'
  local id
  id=$(bid "$T/b")
  capf rt run -d -b "$T/b" "$id"
  wait_for 10 test -e "$T/shared/ready" || fail "not started"
  assert_ok rt kill --signal USR1 "$id"
  wait_for 10 grep -q USR1 "$T/shared/sig" || fail "kill --signal USR1 not delivered"
  assert_ok rt kill --signal KILL "$id"
  wait_status "$id" stopped
}

test_kill_all() {
  mkbundle -s "$T/shared" "$T/b" -- sh -c 'trap "echo init-USR1 >> /shared/log" USR1; sleep 1000 & echo $! > /shared/child; echo ready > /shared/ready; while :; do sleep 0.1; done'
  local id
  id=$(bid "$T/b")
  capf rt run -d -b "$T/b" "$id"
  wait_for 10 test -e "$T/shared/ready" || fail "not started"
  local child
  child=$(cat "$T/shared/child")
  assert_ok rt exec "$id" kill -0 "$child"
  assert_ok rt kill --all "$id" USR1
  wait_for 10 grep -q init-USR1 "$T/shared/log" || fail "init did not get USR1"
  # the background sleep had no handler: it died
  wait_for 10 sh -c "! timeout 20 '$RUNTIME' --root '$ROOT' exec '$id' kill -0 '$child'" || fail "child still alive after kill --all"
  assert_eq running "$(rt_status "$id")" "init survives a caught signal"
  assert_ok rt kill --all "$id" KILL
  wait_status "$id" stopped
  local procs=/sys/fs/cgroup/pids/berth-test/$id/cgroup.procs
  if [ -f "$procs" ]; then
    wait_for 5 sh -c "[ ! -s '$procs' ]" || fail "processes left in $procs: $(cat "$procs")"
  fi
}

test_delete_force_running() {
  start_sleeper "$T/b"
  local id pid
  id=$(bid "$T/b")
  pid=$(rt_pid "$id")
  [ -d "/proc/$pid" ] || fail "no init process"
  assert_ok rt delete --force "$id"
  assert_fails rt state "$id"
  wait_for 5 eval '! proc_alive "$pid"' || fail "process $pid still alive"
  assert_not_exists "$ROOT/$id"
  local d
  for d in /sys/fs/cgroup/*/berth-test/"$id"; do assert_not_exists "$d" "cgroup after delete --force"; done
}

test_exec_basic() {
  start_sleeper "$T/b"
  local id
  id=$(bid "$T/b")
  cap rt exec "$id" sh -c 'echo exec-$((40+2)); echo err-out >&2; exit 5'
  assert_eq 5 "$RC" "exec exit code propagates"
  assert_contains "$OUT" exec-42
  assert_contains "$OUT" err-out
  assert_exit 0 rt exec "$id" true
  assert_ok rt exec "$id" cat /proc/1/cmdline
  assert_contains "$OUT" sleep "exec joins the container's pid namespace"
  assert_ok rt exec "$id" hostname
  assert_eq "$(jq -r .hostname "$T/b/config.json")" "$OUT" "exec joins the uts namespace"
  assert_ok rt exec "$id" sh -c 'echo $$; pwd; id -u'
  assert_ne 1 "$(printf '%s\n' "$OUT" | head -n1)" "exec process is not pid 1"
  assert_fails rt exec "$id" /nonexistent-binary
  assert_eq running "$(rt_status "$id")" "container still running after a failed exec"
}

test_exec_process_file() {
  start_sleeper "$T/b"
  local id
  id=$(bid "$T/b")
  cat > "$T/process.json" <<'EOF'
{
  "terminal": false,
  "user": {"uid": 1000, "gid": 1000},
  "args": ["sh", "-c", "echo foo=$FOO; pwd; id -u; id -g; exit 4"],
  "env": ["PATH=/bin:/usr/bin", "FOO=from-process-json"],
  "cwd": "/tmp"
}
EOF
  cap rt exec --process "$T/process.json" "$id"
  assert_eq 4 "$RC" "exit code"
  assert_contains "$OUT" "foo=from-process-json"
  assert_eq "/tmp
1000
1000" "$(printf '%s\n' "$OUT" | sed -n '2,4p')" "cwd/uid/gid from process.json"
}

test_exec_env_cwd_user() {
  start_sleeper "$T/b"
  local id
  id=$(bid "$T/b")
  assert_ok rt exec -e FOO=bar -e OTHER=x --cwd /home -u 1000:1000 "$id" sh -c 'echo "$FOO/$OTHER"; pwd; id -u; id -g'
  assert_eq "bar/x
/home
1000
1000" "$OUT"
  assert_ok rt exec --user 1000 "$id" id -u
  assert_eq 1000 "$OUT" "--user 1000"
  assert_ok rt exec "$id" id -u
  assert_eq 0 "$OUT" "default user"
}

test_exec_detach_pidfile() {
  start_sleeper "$T/b"
  local id
  id=$(bid "$T/b")
  capf rt exec -d --pid-file "$T/exec.pid" "$id" sh -c 'echo $$ > /shared/exec-inner; exec sleep 999'
  assert_success "exec -d"
  wait_for 10 test -s "$T/shared/exec-inner" || fail "detached exec did not run"
  local p init
  p=$(cat "$T/exec.pid")
  init=$(rt_pid "$id")
  assert_match "$p" '^[0-9]+$'
  [ -d "/proc/$p" ] || fail "exec pid $p not running"
  assert_eq "$(readlink "/proc/$init/ns/pid")" "$(readlink "/proc/$p/ns/pid")" "exec -d process in the container's pid namespace"
  grep -q 999 "/proc/$p/cmdline" || fail "pid file does not name the exec'd process"
  assert_ok rt exec "$id" sh -c "kill -0 $(cat "$T/shared/exec-inner")"
}

test_ps() {
  start_sleeper "$T/b"
  local id init
  id=$(bid "$T/b")
  init=$(rt_pid "$id")
  assert_ok rt ps --format json "$id"
  assert_json "$OUT" --argjson p "$init" 'type == "array" and any(.[]; . == $p)' "ps json lists the init pid"
  capf rt exec -d "$id" sleep 998
  wait_for 10 sh -c "timeout 20 '$RUNTIME' --root '$ROOT' ps --format json '$id' | jq -e 'length >= 2'" || fail "ps json does not list the exec'd process"
  assert_ok rt ps "$id"
  assert_match "$(printf '%s\n' "$OUT" | head -n1)" 'PID' "ps table header"
  assert_match "$OUT" "[[:space:]]${init}[[:space:]].*sleep 1000" "ps table has the init process"
  assert_match "$OUT" "sleep 998" "ps table has the exec'd process"
}

test_list() {
  mkbundle "$T/c" -- sleep 1000
  start_sleeper "$T/r"
  local ic ir
  ic=$(bid "$T/c")
  ir=$(bid "$T/r")
  capf rt create -b "$T/c" "$ic"
  assert_success
  assert_ok rt list
  assert_match "$(printf '%s\n' "$OUT" | head -n1)" '^ID[[:space:]]+PID[[:space:]]+STATUS' "list header"
  assert_match "$OUT" "^${ic}[[:space:]]+[0-9]+[[:space:]]+created" "created container listed"
  assert_match "$OUT" "^${ir}[[:space:]]+[0-9]+[[:space:]]+running" "running container listed"
  assert_ok rt list --format json
  assert_json "$OUT" --arg c "$ic" --arg r "$ir" 'type == "array" and length == 2
      and (map(select(.id == $c))[0].status == "created") and (map(select(.id == $r))[0].status == "running")
      and (map(select(.id == $r))[0].pid > 0)' "list json"
  assert_ok rt list -q
  assert_eq "$(printf '%s\n%s\n' "$ic" "$ir" | sort)" "$(printf '%s\n' "$OUT" | sort)" "list -q"
  assert_ok rt delete --force "$ic"
  assert_ok rt list -q
  assert_eq "$ir" "$OUT" "list after delete"
}

test_pause_resume() {
  mkbundle -s "$T/shared" "$T/b" -- sh -c 'while :; do echo x >> /shared/count; usleep 20000; done'
  local id a b c
  id=$(bid "$T/b")
  capf rt run -d -b "$T/b" "$id"
  assert_success
  wait_for 10 test -s "$T/shared/count" || fail "counter not running"
  assert_ok rt pause "$id"
  assert_eq paused "$(rt_status "$id")" "status after pause"
  sleep 0.3
  a=$(wc -l < "$T/shared/count")
  sleep 1
  b=$(wc -l < "$T/shared/count")
  assert_eq "$a" "$b" "counter advanced while paused"
  assert_ok rt ps --format json "$id"
  assert_ok rt resume "$id"
  assert_eq running "$(rt_status "$id")" "status after resume"
  sleep 1
  c=$(wc -l < "$T/shared/count")
  [ "$c" -gt "$b" ] || fail "counter did not advance after resume ($b -> $c)"
  # a paused container can be killed and deleted
  assert_ok rt pause "$id"
  assert_ok rt delete --force "$id"
  assert_fails rt state "$id"
}

# Reads a cgroup value from inside the container: v1 path, else v2 path.
cg_inside() { # id v1-relative-path v2-file
  rt exec "$1" sh -c "cat /sys/fs/cgroup/$2 2>/dev/null || cat /sys/fs/cgroup/$3"
}

test_update_memory_pids() {
  start_sleeper "$T/b"
  local id
  id=$(bid "$T/b")
  assert_ok rt update --memory 67108864 --memory-swap 67108864 "$id"
  cap cg_inside "$id" memory/memory.limit_in_bytes memory.max
  assert_eq 67108864 "$OUT" "memory limit seen inside"
  if [ -d "$(cg_dir memory "$id")" ]; then
    assert_eq 67108864 "$(cat "$(cg_dir memory "$id")/memory.limit_in_bytes")" "host memory cgroup"
  fi
  assert_ok rt update --pids-limit 42 "$id"
  cap cg_inside "$id" pids/pids.max pids.max
  assert_eq 42 "$OUT" "pids limit seen inside"
  if [ -d "$(cg_dir pids "$id")" ]; then
    assert_eq 42 "$(cat "$(cg_dir pids "$id")/pids.max")" "host pids cgroup"
  fi
}

test_update_resources_file() {
  start_sleeper "$T/b"
  local id
  id=$(bid "$T/b")
  cat > "$T/res.json" <<'EOF'
{"memory": {"limit": 50331648, "swap": 50331648}, "pids": {"limit": 33}, "cpu": {"shares": 512}}
EOF
  assert_ok rt update --resources "$T/res.json" "$id"
  cap cg_inside "$id" memory/memory.limit_in_bytes memory.max
  assert_eq 50331648 "$OUT" "memory limit from --resources"
  cap cg_inside "$id" pids/pids.max pids.max
  assert_eq 33 "$OUT" "pids limit from --resources"
  cap cg_inside "$id" cpu/cpu.shares cpu.weight
  if [ -f /sys/fs/cgroup/cpu/cpu.shares ]; then
    assert_eq 512 "$OUT" "cpu shares from --resources"
  fi
  # from stdin too
  echo '{"pids": {"limit": 34}}' | rt update --resources - "$id"
  cap cg_inside "$id" pids/pids.max pids.max
  assert_eq 34 "$OUT" "pids limit from --resources -"
}

test_features() {
  assert_ok rt features
  assert_json "$OUT" '(.ociVersionMin | test("^1\\.[0-9]+\\.[0-9]+")) and (.ociVersionMax | test("^1\\.[0-9]+\\.[0-9]+"))' "ociVersionMin/Max"
  assert_json "$OUT" '(.hooks | index("prestart")) != null and (.hooks | index("poststop")) != null' "hooks"
  assert_json "$OUT" '(.linux.namespaces | index("pid")) != null' "linux.namespaces"
  assert_json "$OUT" '(.mountOptions | index("bind")) != null' "mountOptions"
}

test_log_json() {
  mkbundle "$T/b" -- /nonexistent-binary-xyz
  local id
  id=$(bid "$T/b")
  cap rt --log "$T/log.json" --log-format json run -b "$T/b" "$id"
  [ "$RC" -ne 0 ] || fail "running a missing binary succeeded"
  [ -s "$T/log.json" ] || fail "--log file is empty"
  local line n=0
  while IFS= read -r line; do
    [ -n "$line" ] || continue
    printf '%s' "$line" | jq -e 'type == "object"' >/dev/null 2>&1 || fail "log line is not a JSON object: $line"
    n=$((n + 1))
  done < "$T/log.json"
  [ $n -gt 0 ] || fail "no JSON lines in log"
  assert_contains "$(cat "$T/log.json")" nonexistent-binary-xyz "log names the failing executable"
  assert_no_leftovers "$id" "$T/b"
}

test_systemd_cgroup() {
  mkbundle -C -x '.linux.cgroupsPath = "system.slice:berth-test:" + $id' -a "id=$TEST_TAG-sd" "$T/b" -- echo systemd-ok
  local id
  id=$(bid "$T/b")
  cap rt --systemd-cgroup run -b "$T/b" "$id"
  if [ "$RC" -eq 0 ]; then
    assert_contains "$OUT" systemd-ok
  else
    [ -n "$OUT" ] || fail "--systemd-cgroup failed silently"
    assert_match "$OUT" '[Ss]ystemd|[Dd][Bb]us|cgroup' "error explains the systemd problem"
    assert_no_leftovers "$id" "$T/b"
  fi
}

# start_recvtty SOCKET TEXT OUTFILE: background console receiver; sets RT_PID
start_recvtty() {
  need_helpers recvtty
  "$HELPERS_DIR/recvtty" -t 20 -w "$2" "$1" > "$3" 2> "$3.err" &
  RT_PID=$!
  wait_for 5 test -S "$1" || fail "recvtty did not listen on $1"
}

test_console_socket_create() {
  mkbundle -x '.process.terminal = true' "$T/b" -- sh
  local id
  id=$(bid "$T/b")
  start_recvtty "$T/c.sock" 'tty; [ -t 0 ] && echo stdin-is-tty; echo tty-$((6*7)); exit 0\n' "$T/tty.out"
  capf rt create --console-socket "$T/c.sock" -b "$T/b" "$id"
  assert_success "create with --console-socket"
  capf rt start "$id"
  assert_success "start"
  wait "$RT_PID" || fail "recvtty failed: $(cat "$T/tty.out.err")"
  local o
  o=$(tr -d '\r' < "$T/tty.out")
  log "tty output: $o"
  assert_contains "$o" "tty-42" "command output through the pty"
  assert_contains "$o" "stdin-is-tty"
  assert_match "$o" '^/dev/pts/[0-9]+$' "tty prints a /dev/pts device"
  wait_status "$id" stopped
}

test_console_socket_run() {
  mkbundle -x '.process.terminal = true' "$T/b" -- sh
  local id
  id=$(bid "$T/b")
  start_recvtty "$T/c.sock" 'echo run-tty-$((7*7)); stty size; exit 0\n' "$T/tty.out"
  capf rt run -d --console-socket "$T/c.sock" -b "$T/b" "$id"
  assert_success "run -d with --console-socket"
  wait "$RT_PID" || fail "recvtty failed: $(cat "$T/tty.out.err")"
  assert_contains "$(tr -d '\r' < "$T/tty.out")" "run-tty-49"
  wait_status "$id" stopped
}

test_exec_tty() {
  start_sleeper "$T/b"
  local id
  id=$(bid "$T/b")
  start_recvtty "$T/e.sock" 'tty; echo exec-tty-$((8*8)); exit 0\n' "$T/tty.out"
  capf rt exec -t -d --console-socket "$T/e.sock" "$id" sh
  assert_success "exec -t -d --console-socket"
  wait "$RT_PID" || fail "recvtty failed: $(cat "$T/tty.out.err")"
  local o
  o=$(tr -d '\r' < "$T/tty.out")
  assert_contains "$o" "exec-tty-64"
  assert_match "$o" '^/dev/pts/[0-9]+$' "exec'd process has a pty"
  # the container's own process has no terminal
  assert_ok rt exec "$id" sh -c '[ -t 0 ] && echo tty || echo notty'
  assert_eq notty "$OUT"
}

test_preserve_fds() {
  need_helpers fdlist
  echo "host-file-content-$TEST_TAG" > "$T/hostfile"
  mkbundle -H "$T/b" -- fdlist -r 3
  local id
  id=$(bid "$T/b")
  RC=0
  OUT=$(rt run --preserve-fds 1 -b "$T/b" "$id" 3< "$T/hostfile" 2>&1) || RC=$?
  log "$OUT"
  assert_success "run --preserve-fds 1"
  assert_match "$OUT" '^3 -> ' "fd 3 is open in the container"
  assert_contains "$OUT" "host-file-content-$TEST_TAG" "fd 3 reads the host file"
  assert_no_match "$OUT" '^[4-9] -> |^[1-9][0-9]+ -> ' "no other fds"
  # without the flag fd 3 is not there
  mkbundle -H "$T/c" -- fdlist
  RC=0
  OUT=$(rt run -b "$T/c" "$(bid "$T/c")" 3< "$T/hostfile" 2>&1) || RC=$?
  log "$OUT"
  assert_success
  assert_no_match "$OUT" '^3 -> ' "fd 3 leaked without --preserve-fds"
  assert_match "$OUT" '^0 -> ' "fd 0 listed"
  # exec --preserve-fds
  start_sleeper "$T/e" -H
  RC=0
  OUT=$(rt exec --preserve-fds 1 "$(bid "$T/e")" fdlist -r 3 3< "$T/hostfile" 2>&1) || RC=$?
  assert_success "exec --preserve-fds 1"
  assert_contains "$OUT" "host-file-content-$TEST_TAG" "exec: fd 3 reads the host file"
}

# Hook that records what it saw: NAME's stdin (state JSON), its mount
# namespace, its mountinfo and its view of /. Writes into $T/marks when that
# path exists in its view, else into /marks (the container's bind mount).
hook_json() { # name
  jq -nc --arg n "$1" --arg t "$T/marks" '{path: "/bin/sh", args: ["sh", "-c",
    "d=\($t); [ -d $d ] || d=/marks; cat > $d/\($n).json; readlink /proc/self/ns/mnt > $d/\($n).mnt; cat /proc/self/mountinfo > $d/\($n).mountinfo; ls / > $d/\($n).ls; echo $PPID > $d/\($n).ran",
    "hook-\($n)"]}'
}

test_hooks() {
  mkdir -p "$T/marks"
  local h
  mkbundle -s "$T/shared" \
    -x '.mounts += [{"destination": "/marks", "type": "bind", "source": $m, "options": ["rbind", "rw"]}]' -a "m=$T/marks" \
    -j "pre=$(hook_json prestart)" -j "cr=$(hook_json createRuntime)" -j "cc=$(hook_json createContainer)" \
    -j "sc=$(hook_json startContainer)" -j "ps=$(hook_json poststart)" -j "po=$(hook_json poststop)" \
    -x '.hooks = {prestart: [$pre], createRuntime: [$cr], createContainer: [$cc], startContainer: [$sc], poststart: [$ps], poststop: [$po]}' \
    "$T/b" -- sh -c 'grep SigIgn /proc/self/status > /shared/sigign; echo started > /shared/started; exec sleep 1000'
  local id
  id=$(bid "$T/b")
  capf rt create -b "$T/b" "$id"
  assert_success "create with hooks"
  for h in prestart createRuntime createContainer; do
    assert_exists "$T/marks/$h.ran" "$h hook did not run at create"
    assert_json "$(cat "$T/marks/$h.json")" --arg id "$id" '.id == $id and (.pid > 0) and (.bundle | length > 0)' "$h state on stdin"
  done
  for h in startContainer poststop; do
    assert_not_exists "$T/marks/$h.ran" "$h ran too early (at create)"
  done
  # checked at the end, so that the rest is tested even for runtimes (runc
  # 1.1) that run poststart at create time
  local poststart_early=0
  [ ! -e "$T/marks/poststart.ran" ] || poststart_early=1
  local init hostns ctns
  init=$(rt_pid "$id")
  hostns=$(readlink /proc/self/ns/mnt)
  ctns=$(readlink "/proc/$init/ns/mnt")
  assert_eq "$hostns" "$(cat "$T/marks/prestart.mnt")" "prestart runs in the runtime's mount namespace"
  assert_eq "$hostns" "$(cat "$T/marks/createRuntime.mnt")" "createRuntime runs in the runtime's mount namespace"
  assert_eq "$ctns" "$(cat "$T/marks/createContainer.mnt")" "createContainer runs in the container's mount namespace"
  assert_match "$(cat "$T/marks/createContainer.mountinfo")" ' (/marks|[^ ]*/rootfs/marks) ' "createContainer sees the container's mounts"
  capf rt start "$id"
  assert_success "start"
  wait_for 10 test -e "$T/shared/started" || fail "process did not start"
  wait_for 10 test -e "$T/marks/poststart.ran" || fail "poststart did not run"
  assert_exists "$T/marks/startContainer.ran" "startContainer did not run"
  # hooks run by the init must not leave it ignoring SIGPIPE (bit 13 -> 0x1000),
  # which the container process would inherit through execve
  if ! grep -q 'SigIgn:.*[1-9a-f]...$' /proc/$$/status || [ $(( 0x$(awk '/SigIgn/ {print $2}' /proc/$$/status) & 0x1000 )) -eq 0 ]; then
    local ign
    ign=$(awk '{print $2}' "$T/shared/sigign")
    [ $(( 0x$ign & 0x1000 )) -eq 0 ] || fail "the container process ignores SIGPIPE after hooks ran (SigIgn $ign)"
  fi
  assert_eq "$ctns" "$(cat "$T/marks/startContainer.mnt")" "startContainer runs in the container's mount namespace"
  assert_contains "$(cat "$T/marks/startContainer.ls")" marks "startContainer sees the container's root (has /marks)"
  assert_contains "$(cat "$T/marks/startContainer.ls")" shared "startContainer sees the container's root (has /shared)"
  assert_eq "$hostns" "$(cat "$T/marks/poststart.mnt")" "poststart runs in the runtime's mount namespace"
  for h in startContainer poststart; do
    assert_json "$(cat "$T/marks/$h.json")" --arg id "$id" '.id == $id' "$h state on stdin"
  done
  assert_not_exists "$T/marks/poststop.ran" "poststop ran before delete"
  assert_ok rt kill "$id" KILL
  wait_status "$id" stopped
  assert_ok rt delete "$id"
  wait_for 10 test -e "$T/marks/poststop.ran" || fail "poststop did not run at delete"
  assert_json "$(cat "$T/marks/poststop.json")" --arg id "$id" '.id == $id' "poststop state on stdin"
  assert_eq 0 "$poststart_early" "poststart hook ran at create, before start"
}

test_hook_timeout() {
  local marker="5.000$RANDOM${RANDOM}1"
  mkbundle -x '.hooks = {createRuntime: [{path: "/bin/sh", args: ["sh", "-c", "exec sleep " + $m], timeout: 1}]}' -a "m=$marker" \
    "$T/b" -- sleep 1000
  local id t0 t1
  id=$(bid "$T/b")
  t0=$(date +%s%N)
  capf rt create -b "$T/b" "$id"
  t1=$(date +%s%N)
  [ "$RC" -ne 0 ] || fail "create succeeded although a hook timed out"
  [ $(( (t1 - t0) / 1000000 )) -lt 4900 ] || fail "create waited for the hook ($(( (t1 - t0) / 1000000 )) ms) instead of timing out after 1 s"
  wait_for 5 eval '! marker_pids "$marker"' || fail "timed-out hook still running"
  assert_no_leftovers "$id" "$T/b"
}

run_tests "$@"
