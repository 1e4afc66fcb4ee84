#!/bin/bash
# berthd-lifecycle.sh: containers across daemon restarts and crashes, and
# what a daemon leaves on the host.
#
# Each test starts a private daemon of its own (daemon_start -r: for dockerd
# that adds --live-restore, berthd's containers always outlive it: they are
# watched by berth-monitor) and stops or kills it (daemon_restart, which
# starts it again on the same data and exec roots):
#   - a running container survives SIGTERM and SIGKILL of the daemon: still
#     running, same pid, logs and stop still work
#   - a container that exited while the daemon was down shows its exit code
#   - restart policies after a daemon restart: always comes back (also if it
#     died while the daemon was down, and if it was stopped by hand),
#     unless-stopped stopped by hand stays stopped
#   - SIGKILL right after `docker create`: the container exists afterwards
#   - after `docker rm -f` and a restart no mounts are left under the roots
#   - nothing about a container is written outside the daemon's roots
#
# Runs against berthd (default) or, to validate the tests, Debian's dockerd:
#   DAEMON=dockerd tests/run integration 'berthd-lifecycle*'
: "${TEST_TIMEOUT:=90}"
. "$(dirname "$0")/../lib/testlib.sh"
. "$(dirname "$0")/../lib/daemonlib.sh"
. "$(dirname "$0")/../lib/containerlib.sh"

# own_daemon: starts this test's private daemon (D = its folder) and points
# the CLI and `api` at it; stopped after the test.
own_daemon() {
  D=$(mktemp -d /tmp/bd.XXXXXX)
  chmod 0711 "$D"
  defer "daemon_stop '$D'"
  daemon_start -r "$D"
  export DOCKER_HOST=$DAEMON2_HOST
  export DOCKER_CONFIG=$D/cli
  API_SOCK=${DAEMON2_HOST#unix://}
  IMG=$(busybox_image)
}

# own_daemon_log: the last lines of the private daemon's log (for failures)
own_daemon_log() { _dl_print_log "$D/daemon.log" 0 30; }

_survives() { # SIGNAL
  local sig=$1 name pid
  own_daemon
  name=$(ct_name)
  ct_run_d "$name" "$IMG" sh -c 'echo before-restart; trap "exit 0" TERM; while :; do sleep 0.1; done'
  wait_log "$name" before-restart
  pid=$(ct_state "$name" Pid)
  daemon_restart "$D" "$sig"
  proc_alive "$pid" || fail "the container's process died with the daemon (SIG$sig)"
  cap2 dk container inspect -f '{{.State.Status}} {{.State.Running}} {{.State.Pid}}' "$name"
  [ "$RC" -eq 0 ] || own_daemon_log
  assert_eq "running true $pid" "$OUT" "after SIG$sig of the daemon: still running, same pid"
  cap2 dk logs "$name"
  assert_eq before-restart "$OUT" "docker logs after the restart"
  cap2 dk exec "$name" echo exec-ok
  assert_eq exec-ok "$OUT" "docker exec after the restart"
  assert_ok dk stop -t 5 "$name"
  assert_eq "exited 0" "$(ct_inspect "$name" '{{.State.Status}} {{.State.ExitCode}}')" "docker stop after the restart"
  proc_alive "$pid" && fail "the container's process still runs after docker stop"
  return 0
}

test_container_survives_daemon_sigterm() { _survives TERM; }
test_container_survives_daemon_sigkill() { _survives KILL; }

test_exit_while_daemon_down() {
  local name pid
  own_daemon
  name=$(ct_name)
  ct_run_d "$name" -i "$IMG" sh -c 'echo up; read x; exit 9'
  wait_log "$name" up
  pid=$(ct_state "$name" Pid)
  daemon_kill "$D" KILL
  # the container's stdin is held by the daemon's side (shim or monitor):
  # end the container from outside instead
  kill -TERM "$pid" 2>/dev/null
  kill -KILL "$pid" 2>/dev/null
  wait_for 10 eval '! proc_alive '"$pid" || fail "the container did not end"
  daemon_relaunch "$D"
  cap2 dk container inspect -f '{{.State.Status}} {{.State.Running}} {{.State.ExitCode}} {{.State.Pid}}' "$name"
  assert_eq "exited false 137 0" "$OUT" "a container killed while the daemon was down"
  assert_match "$(ct_state "$name" FinishedAt)" '^[0-9]{4}-' "FinishedAt"
  cap2 dk ps -a --filter "name=$name" --format '{{.Status}}'
  assert_match "$OUT" '^Exited \(137\)' "docker ps"
}

test_exit_code_while_daemon_down() {
  local name pid
  own_daemon
  name=$(ct_name)
  ct_run_d "$name" "$IMG" sh -c 'echo up; sleep 2; echo bye; exit 9'
  wait_log "$name" up
  pid=$(ct_state "$name" Pid)
  daemon_kill "$D" TERM
  wait_for 15 eval '! proc_alive '"$pid" || fail "the container did not end"
  sleep 0.5
  daemon_relaunch "$D"
  cap2 dk container inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$name"
  assert_eq "exited 9" "$OUT" "the exit code of a container that exited while the daemon was down"
  # (output written while the daemon was down: dockerd 20.10 loses it, so
  # only what came before is checked)
  cap2 dk logs "$name"
  assert_success
  assert_match "$OUT" '^up$' "the log after the restart"
}

test_restart_policies_after_daemon_restart() {
  local always stopped unless pid
  own_daemon
  always=$(ct_name always)
  stopped=$(ct_name always-stopped)
  unless=$(ct_name unless-stopped)
  ct_run_d "$always" --restart always "$IMG" sleep 100
  ct_run_d "$stopped" --restart always "$IMG" sleep 100
  ct_run_d "$unless" --restart unless-stopped "$IMG" sleep 100
  assert_ok dk stop -t 0 "$stopped" "$unless"
  pid=$(ct_state "$always" Pid)
  daemon_kill "$D" TERM
  # the always container dies while the daemon is down
  kill -KILL "$pid"
  wait_for 10 eval '! proc_alive '"$pid"
  daemon_relaunch "$D"
  wait_ct_status "$always" running 20
  assert_ne "$pid" "$(ct_state "$always" Pid)" "the always container was started again"
  wait_ct_status "$stopped" running 20
  sleep 1
  assert_eq exited "$(ct_state "$unless" Status)" "unless-stopped, stopped by hand, stays stopped"
}

test_sigkill_right_after_create() {
  local name id
  own_daemon
  name=$(ct_name)
  ct_create "$name" "$IMG" sh -c 'echo made-it'
  id=$CT_ID
  daemon_kill "$D" KILL
  daemon_relaunch "$D"
  assert_eq "$id created" "$(ct_inspect "$name" '{{.Id}} {{.State.Status}}')" "the created container after SIGKILL"
  cap2 dk start -a "$name"
  assert_success
  assert_eq made-it "$OUT" "it starts"
}

# _mounts_under DIR: mount points under DIR, sorted
_mounts_under() {
  awk -v d="$1" '$5 == d || index($5, d "/") == 1 {print $5}' /proc/self/mountinfo | sort
}

test_no_mounts_left_after_rm() {
  local name before id
  own_daemon
  before=$(_mounts_under "$D")
  mkdir "$T/bind"
  name=$(ct_name)
  ct_run_d "$name" -v "$T/bind:/b" --tmpfs /scratch "$IMG" sleep 100
  id=$CT_ID
  dk exec "$name" true
  assert_ok dk rm -f "$name"
  assert_eq "$before" "$(_mounts_under "$D")" "mounts under the daemon's folder after rm -f"
  daemon_restart "$D" TERM
  assert_eq "$before" "$(_mounts_under "$D")" "mounts under the daemon's folder after rm -f and a restart"
  grep -F "$id" /proc/self/mountinfo && fail "a mount naming the container is left: $(grep -F "$id" /proc/self/mountinfo)"
  grep -F "$T/bind" /proc/self/mountinfo && fail "the bind mount source is still mounted somewhere"
  return 0
}

test_no_mounts_left_after_daemon_kill_and_rm() {
  local name before
  own_daemon
  before=$(_mounts_under "$D")
  name=$(ct_name)
  ct_run_d "$name" --tmpfs /scratch "$IMG" sleep 100
  daemon_restart "$D" KILL
  assert_ok dk rm -f "$name"
  daemon_restart "$D" TERM
  assert_eq "$before" "$(_mounts_under "$D")" "mounts under the daemon's folder"
}

# what the daemon may touch outside its data and exec roots: nothing that
# names the container. Paths searched: /run /var/run /var/lib /var/log /etc
# and the first levels of /tmp (other test suites run there in parallel,
# so only names with this container's id count).
test_nothing_written_outside_roots() {
  local name id found
  own_daemon
  mkdir "$T/bind"
  touch "$T/marker"
  sleep 1
  name=$(ct_name)
  ct_run_d "$name" -v "$T/bind:/b" -l bt=1 "$IMG" sh -c 'echo x > /b/f; sleep 100'
  id=$CT_ID
  dk exec "$name" sh -c 'echo y' >/dev/null
  dk logs "$name" >/dev/null
  dk pause "$name" >/dev/null && dk unpause "$name" >/dev/null
  dk stop -t 0 "$name" >/dev/null
  dk start "$name" >/dev/null
  assert_ok dk rm -f "$name"
  found=$( {
      find /run /var/run /var/lib /var/log /etc -xdev -newer "$T/marker" 2>/dev/null
      find /tmp -maxdepth 3 -xdev -newer "$T/marker" 2>/dev/null
    } | grep -v -e "^$D" -e "^$T" | grep -F -e "$id" -e "${id:0:12}" | head -n 20)
  [ -z "$found" ] || fail "written outside the daemon's roots: $found"
  found=$(find /run /var/run /var/lib /var/log /etc -xdev -newer "$T/marker" -iname '*berth*' 2>/dev/null | head -n 20)
  [ -z "$found" ] || fail "berth files written outside the daemon's roots: $found"
}

run_daemon_tests "$@"
