#!/bin/bash
# runtime-badinput.sh: wrong configs, ids and command sequences must fail
# with a clear message and a non-zero exit, and a failed create must leave
# nothing behind (state folder, cgroups, processes, mounts).
. "$(dirname "$0")/../lib/testlib.sh"

# failing_create BUNDLE: create must fail and leave nothing; the container
# process is marked with a unique word so a leftover can be found.
failing_create() {
  local b=$1 id
  id=$(bid "$b")
  capf rt create -b "$b" "$id"
  [ "$RC" -ne 0 ] || fail "create succeeded: $OUT"
  [ -n "$OUT" ] || fail "create failed without any message"
  assert_no_leftovers "$id" "$b" "$MARK"
  capf rt run -b "$b" "$id"
  [ "$RC" -ne 0 ] || fail "run succeeded: $OUT"
  assert_no_leftovers "$id" "$b" "$MARK"
}

mark() { MARK="mark-$TEST_TAG-$RANDOM"; }

test_invalid_json() {
  mark
  mkbundle "$T/b" -- sh -c "sleep 100; : $MARK"
  printf '{"ociVersion": "1.0.2", "process": {' > "$T/b/config.json"
  failing_create "$T/b"
  local msg=$OUT
  # valid JSON of the wrong shape
  echo '[1, 2, 3]' > "$T/b/config.json"
  failing_create "$T/b"
  echo '{"ociVersion": "1.0.2", "process": {"args": "not-an-array"}, "root": {"path": "rootfs"}}' > "$T/b/config.json"
  failing_create "$T/b"
  assert_match "$msg" 'config\.json|JSON|json' "error for a truncated config mentions config.json / JSON"
}

test_missing_config() {
  mkbundle "$T/b" -- true
  rm "$T/b/config.json"
  failing_create "$T/b"
  assert_contains "$OUT" config.json "error names config.json"
}

test_config_without_root() {
  mark
  mkbundle -x 'del(.root)' "$T/b" -- sh -c "sleep 100; : $MARK"
  failing_create "$T/b"
  assert_match "$OUT" '[Rr]oot' "error mentions root"
}

test_config_without_process_args() {
  mkbundle -x 'del(.process.args)' "$T/b" -- true
  failing_create "$T/b"
  mkbundle -x '.process.args = []' "$T/c" -- true
  failing_create "$T/c"
}

test_missing_rootfs() {
  mark
  mkbundle "$T/b" -- sh -c "sleep 100; : $MARK"
  rm -rf "$T/b/rootfs"
  failing_create "$T/b"
  assert_match "$OUT" 'rootfs|no such file|No such file' "error mentions the rootfs"
}

test_missing_executable() {
  mkbundle "$T/b" -- /no/such/binary
  local id
  id=$(bid "$T/b")
  capf rt run -b "$T/b" "$id"
  [ "$RC" -ne 0 ] || fail "run of a missing executable succeeded"
  assert_contains "$OUT" /no/such/binary "error names the executable"
  assert_no_leftovers "$id" "$T/b"
}

test_bad_ids() {
  mkbundle "$T/b" -- true
  local id
  for id in "a/b" ".." "../x" "x/../../y" "" "." "a..b/c" "/abs"; do
    capf rt create -b "$T/b" "$id"
    [ "$RC" -ne 0 ] || fail "id '$id' accepted"
    [ -n "$OUT" ] || fail "id '$id' refused without a message"
    [ -z "$id" ] || assert_not_exists "$ROOT/$id/state.json"
  done
  # nothing was written outside --root
  assert_not_exists "$T/y"
  assert_not_exists "$T/x"
  assert_eq "" "$(ls -A "$ROOT")" "state left under --root"
  # a long but valid id works
  id=$(printf 'x%.0s' $(seq 1 100))-$TEST_TAG
  capf rt run -b "$T/b" "$id"
  assert_success "100+ character id"
}

test_duplicate_id() {
  mkbundle -s "$T/shared" "$T/b" -- sh -c 'echo ready > /shared/ready; exec sleep 1000'
  mkbundle "$T/c" -- true
  local id pid
  id=$(bid "$T/b")
  capf rt run -d -b "$T/b" "$id"
  assert_success
  wait_for 10 test -e "$T/shared/ready" || fail "not started"
  pid=$(rt_pid "$id")
  capf rt create -b "$T/c" "$id"
  [ "$RC" -ne 0 ] || fail "second create with the same id succeeded"
  assert_match "$OUT" 'exist|already|in use' "error says the id exists"
  capf rt run -b "$T/c" "$id"
  [ "$RC" -ne 0 ] || fail "run with an existing id succeeded"
  # the first one is intact
  assert_eq running "$(rt_status "$id")"
  assert_eq "$pid" "$(rt_pid "$id")"
  assert_json "$(rt state "$id")" --arg b "$T/b" '.bundle == $b' "bundle of the first container"
  assert_ok rt exec "$id" cat /shared/ready
  assert_eq ready "$OUT"
}

test_start_twice() {
  mkbundle -s "$T/shared" "$T/b" -- sh -c 'echo x >> /shared/starts; exec sleep 1000'
  local id
  id=$(bid "$T/b")
  capf rt create -b "$T/b" "$id"
  assert_success
  capf rt start "$id"
  assert_success
  wait_for 10 test -e "$T/shared/starts" || fail "not started"
  capf rt start "$id"
  [ "$RC" -ne 0 ] || fail "second start succeeded"
  [ -n "$OUT" ] || fail "second start failed silently"
  sleep 0.3
  assert_eq 1 "$(wc -l < "$T/shared/starts")" "process started twice"
  assert_eq running "$(rt_status "$id")"
}

test_start_stopped() {
  mkbundle "$T/b" -- true
  local id
  id=$(bid "$T/b")
  capf rt create -b "$T/b" "$id"
  assert_success
  capf rt start "$id"
  assert_success
  wait_status "$id" stopped
  capf rt start "$id"
  [ "$RC" -ne 0 ] || fail "start of a stopped container succeeded"
  [ -n "$OUT" ] || fail "failed silently"
  assert_eq stopped "$(rt_status "$id")"
}

test_delete_running_without_force() {
  mkbundle -s "$T/shared" "$T/b" -- sh -c 'echo ready > /shared/ready; exec sleep 1000'
  local id pid
  id=$(bid "$T/b")
  capf rt run -d -b "$T/b" "$id"
  wait_for 10 test -e "$T/shared/ready" || fail "not started"
  pid=$(rt_pid "$id")
  capf rt delete "$id"
  [ "$RC" -ne 0 ] || fail "delete of a running container without --force succeeded"
  assert_match "$OUT" 'running|force|stop' "error explains"
  assert_eq running "$(rt_status "$id")" "container no longer running"
  proc_alive "$pid" || fail "container process $pid died"
  assert_ok rt exec "$id" true
}

test_unknown_ids() {
  local id="nosuch-$TEST_TAG"
  local cmd
  for cmd in "kill $id KILL" "start $id" "state $id" "delete $id" "exec $id true" "pause $id" "resume $id" "ps $id" "update --pids-limit 10 $id"; do
    # shellcheck disable=SC2086
    capf rt $cmd
    [ "$RC" -ne 0 ] || fail "'$cmd' on an unknown id succeeded"
    [ -n "$OUT" ] || fail "'$cmd' failed silently"
  done
  capf rt kill "$id" KILL
  assert_match "$OUT" 'not exist|not found|no such|No such' "kill of an unknown id says so"
  # delete --force of an unknown id is allowed to succeed (runc) or fail
  capf rt delete --force "$id"
  assert_not_exists "$ROOT/$id"
}

test_exec_stopped() {
  mkbundle "$T/b" -- true
  local id
  id=$(bid "$T/b")
  capf rt create -b "$T/b" "$id"
  capf rt start "$id"
  wait_status "$id" stopped
  capf rt exec "$id" true
  [ "$RC" -ne 0 ] || fail "exec into a stopped container succeeded"
  assert_match "$OUT" 'stopped|not running|running' "error says it is stopped"
  # and into a created (not started) one: allowed by runc, but then must work
  mkbundle "$T/c" -- sleep 1000
  capf rt create -b "$T/c" "$(bid "$T/c")"
  capf rt exec "$(bid "$T/c")" echo exec-in-created
  [ "$RC" -ne 0 ] || assert_contains "$OUT" exec-in-created
}

test_unknown_command_and_flag() {
  cap rt no-such-command
  [ "$RC" -ne 0 ] || fail "unknown command accepted"
  assert_contains "$OUT" no-such-command "error names the command"
  cap "$RUNTIME" --root "$ROOT" --no-such-flag list
  [ "$RC" -ne 0 ] || fail "unknown global flag accepted"
  assert_contains "$OUT" no-such-flag "error names the flag"
  cap rt list --no-such-flag
  [ "$RC" -ne 0 ] || fail "unknown command flag accepted"
  assert_contains "$OUT" no-such-flag "error names the flag"
  cap rt create
  [ "$RC" -ne 0 ] || fail "create without an id accepted"
  cap rt kill
  [ "$RC" -ne 0 ] || fail "kill without an id accepted"
  mkbundle "$T/b" -- true
  cap rt kill "$(bid "$T/b")" NOSUCHSIGNAL
  [ "$RC" -ne 0 ] || fail "unknown signal accepted"
  capf rt create -b "$T/b" "$(bid "$T/b")"
  cap rt kill "$(bid "$T/b")" NOSUCHSIGNAL
  [ "$RC" -ne 0 ] || fail "unknown signal accepted"
  assert_eq created "$(rt_status "$(bid "$T/b")")"
}

test_terminal_without_console_socket() {
  mark
  mkbundle -x '.process.terminal = true' "$T/b" -- sh -c "sleep 100; : $MARK"
  local id
  id=$(bid "$T/b")
  capf rt create -b "$T/b" "$id"
  [ "$RC" -ne 0 ] || fail "create with terminal=true and no --console-socket succeeded"
  assert_match "$OUT" '[Cc]onsole|tty|terminal' "error explains"
  assert_no_leftovers "$id" "$T/b" "$MARK"
  # a console socket that does not exist
  capf rt create --console-socket "$T/no.sock" -b "$T/b" "$id"
  [ "$RC" -ne 0 ] || fail "create with a missing console socket succeeded"
  assert_no_leftovers "$id" "$T/b" "$MARK"
}

test_bad_mount_and_namespace() {
  mark
  mkbundle -x '.mounts += [{destination: "/m", type: "nosuchfs", source: "none"}]' "$T/b" -- sh -c "sleep 100; : $MARK"
  failing_create "$T/b"
  mkbundle -x '.mounts += [{destination: "/m", type: "bind", source: "/no/such/source", options: ["bind"]}]' "$T/c" -- sh -c "sleep 100; : $MARK"
  failing_create "$T/c"
  assert_contains "$OUT" /no/such/source "error names the missing source"
  mkbundle -x '.linux.namespaces = [.linux.namespaces[] | if .type == "network" then .path = "/no/such/netns" else . end]' "$T/d" -- sh -c "sleep 100; : $MARK"
  failing_create "$T/d"
  mkbundle -x '.linux.namespaces += [{type: "nosuchns"}]' "$T/e" -- sh -c "sleep 100; : $MARK"
  failing_create "$T/e"
  mkbundle -x '.process.rlimits = [{type: "RLIMIT_NOSUCH", soft: 1, hard: 1}]' "$T/f" -- sh -c "sleep 100; : $MARK"
  failing_create "$T/f"
  mkbundle -x '.linux.seccomp = {defaultAction: "SCMP_ACT_NOSUCH"}' "$T/h" -- sh -c "sleep 100; : $MARK"
  failing_create "$T/h"
}

test_failed_start_hook_cleans_up() {
  mark
  mkbundle -x '.hooks = {createRuntime: [{path: "/bin/false", args: ["false"]}]}' "$T/b" -- sh -c "sleep 100; : $MARK"
  failing_create "$T/b"
  mkbundle -x '.hooks = {prestart: [{path: "/no/such/hook"}]}' "$T/c" -- sh -c "sleep 100; : $MARK"
  failing_create "$T/c"
}

test_unsupported_features_refused() {
  local b=$T/b id
  mkbundle -x '.linux.intelRdt = {closID: "x"}' "$b" -- true >/dev/null
  id=$(bid "$b")
  capf rt run -b "$b" "$id"
  assert_ne 0 "$RC" "linux.intelRdt must be refused, not ignored"
  assert_contains "$OUT" "intelRdt"
  assert_no_leftovers "$id" "$b"
}

run_tests "$@"
