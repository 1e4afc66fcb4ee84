#!/bin/bash
# berthd as a process: configuration, socket, identity, shutdown.
. "$(dirname "$0")/../lib/testlib.sh"

BERTHD=${BERTHD:-$(dirname "$RUNTIME")/berthd}

need_berthd() {
  [ -x "$BERTHD" ] || fail "berthd not built at $BERTHD"
}

# start_berthd ARGS...: starts berthd on $T/s.sock with a private data root;
# waits for /_ping.  PID in $BPID.
start_berthd() {
  "$BERTHD" --host "unix://$T/s.sock" --data-root "$T/data" --exec-root "$T/exec" "$@" 2> "$T/berthd.log" &
  BPID=$!
  defer "kill -9 $BPID 2>/dev/null"
  local i
  for i in $(seq 100); do
    curl -sf --unix-socket "$T/s.sock" http://x/_ping >/dev/null 2>&1 && return 0
    kill -0 "$BPID" 2>/dev/null || fail "berthd exited: $(cat "$T/berthd.log")"
    sleep 0.1
  done
  fail "berthd did not answer on $T/s.sock: $(cat "$T/berthd.log")"
}

stop_berthd() {
  kill -TERM "$BPID"
  wait_for 10 sh -c "! kill -0 $BPID 2>/dev/null" || fail "berthd did not stop on SIGTERM"
}

test_socket_mode_and_shutdown() {
  need_berthd
  start_berthd
  assert_eq 660 "$(stat -c %a "$T/s.sock")" "socket mode"
  stop_berthd
  assert_not_exists "$T/s.sock" "socket removed on shutdown"
}

test_engine_id_is_stable() {
  need_berthd
  start_berthd
  local id1 id2
  id1=$(DOCKER_HOST="unix://$T/s.sock" docker info --format '{{.ID}}')
  stop_berthd
  start_berthd
  id2=$(DOCKER_HOST="unix://$T/s.sock" docker info --format '{{.ID}}')
  assert_match "$id1" '^[0-9a-f]{32}$' "engine id format"
  assert_eq "$id1" "$id2" "engine id survives a restart"
  stop_berthd
}

test_config_file() {
  need_berthd
  mkdir -p "$T/cfg"
  printf '{"data-root": "%s", "log-level": "debug"}\n' "$T/data-from-file" > "$T/cfg/daemon.json"
  "$BERTHD" --config-file "$T/cfg/daemon.json" --host "unix://$T/s.sock" --exec-root "$T/exec" 2> "$T/berthd.log" &
  BPID=$!
  defer "kill -9 $BPID 2>/dev/null"
  wait_for 10 test -S "$T/s.sock" || fail "no socket: $(cat "$T/berthd.log")"
  wait_for 10 sh -c "DOCKER_HOST=unix://$T/s.sock docker info --format '{{.DockerRootDir}}' | grep -qx '$T/data-from-file'" \
    || fail "data-root from daemon.json not used: $(DOCKER_HOST=unix://$T/s.sock docker info --format '{{.DockerRootDir}}')"
  assert_contains "$(cat "$T/berthd.log")" "debug" "log-level from daemon.json"
  stop_berthd
}

test_bad_configuration_is_refused() {
  need_berthd
  mkdir -p "$T/cfg"
  printf '{"no-such-option": 1}\n' > "$T/cfg/bad.json"
  cap "$BERTHD" --config-file "$T/cfg/bad.json" --host "unix://$T/s.sock" --data-root "$T/data"
  assert_ne 0 "$RC" "unknown daemon.json key"
  assert_contains "$OUT" "no-such-option"
  printf '{"data-root": ' > "$T/cfg/broken.json"
  cap "$BERTHD" --config-file "$T/cfg/broken.json" --host "unix://$T/s.sock" --data-root "$T/data"
  assert_ne 0 "$RC" "malformed daemon.json"
  assert_contains "$OUT" "broken.json"
  cap "$BERTHD" --host tcp://127.0.0.1:2375 --data-root "$T/data"
  assert_ne 0 "$RC" "tcp host refused"
  assert_contains "$OUT" "unix://"
  cap "$BERTHD" --bogus-flag
  assert_ne 0 "$RC" "unknown flag"
  assert_contains "$OUT" "bogus-flag"
  for m in 10 70000 abc ""; do
    cap "$BERTHD" --mtu "$m" --host "unix://$T/s.sock" --data-root "$T/data"
    assert_ne 0 "$RC" "--mtu '$m'"
    assert_contains "$OUT" "--mtu"
  done
  printf '{"mtu": 70000}\n' > "$T/cfg/mtu.json"
  cap "$BERTHD" --config-file "$T/cfg/mtu.json" --host "unix://$T/s.sock" --data-root "$T/data"
  assert_ne 0 "$RC" "mtu 70000 in daemon.json"
  assert_contains "$OUT" "mtu"
  cap "$BERTHD" --config-file "$T/cfg/missing.json"
  assert_ne 0 "$RC" "missing --config-file"
  assert_not_exists "$T/s.sock"
}

# "insecure-registries" (daemon.json) and --insecure-registry: shown by
# GET /info as dockerd shows them; a value of the wrong type is refused.
test_insecure_registries() {
  need_berthd
  printf '{"insecure-registries": ["reg.lan:5000", "10.9.0.0/16"]}' > "$T/daemon.json"
  start_berthd --config-file "$T/daemon.json" --insecure-registry other.lan --bridge none
  local info; info=$(curl -sf --unix-socket "$T/s.sock" http://x/info) || fail "GET /info failed"
  assert_json "$info" '.RegistryConfig.InsecureRegistryCIDRs == ["127.0.0.0/8", "10.9.0.0/16"]'
  assert_json "$info" '.RegistryConfig.IndexConfigs["reg.lan:5000"].Secure == false and .RegistryConfig.IndexConfigs["other.lan"].Secure == false'
  stop_berthd
  printf '{"insecure-registries": "reg.lan:5000"}' > "$T/bad.json"
  assert_fails "$BERTHD" --config-file "$T/bad.json" --host "unix://$T/s2.sock" --data-root "$T/data2" --exec-root "$T/exec2"
  assert_contains "$OUT" "insecure-registries"
}

test_requests_on_unknown_routes_and_methods() {
  need_berthd
  start_berthd
  cap curl -s -o "$T/body" -w '%{http_code}' --unix-socket "$T/s.sock" http://x/v1.44/no/such/thing
  assert_eq 404 "$OUT" "unknown route"
  assert_json "$(cat "$T/body")" '.message | test("not found")' "JSON error body"
  cap curl -s -o "$T/body" -w '%{http_code}' -X DELETE --unix-socket "$T/s.sock" http://x/_ping
  assert_eq 404 "$OUT" "wrong method"
  cap curl -s -o /dev/null -w '%{http_code}' --unix-socket "$T/s.sock" http://x/_ping
  assert_eq 200 "$OUT" "still serving"
  stop_berthd
}

# No containers yet: `docker ps` lists none and `docker inspect` of an
# unknown name falls through the container lookup (a 404) to "No such object".
test_containers_empty() {
  need_berthd
  start_berthd
  cap env DOCKER_HOST="unix://$T/s.sock" docker ps -a
  assert_success "docker ps"
  assert_eq 1 "$(printf '%s\n' "$OUT" | wc -l)" "only the header"
  cap env DOCKER_HOST="unix://$T/s.sock" docker inspect "nothing-$TEST_TAG"
  assert_ne 0 "$RC"
  assert_contains "$OUT" "No such object"
  cap curl -s -o /dev/null -w '%{http_code}' --unix-socket "$T/s.sock" "http://x/v1.44/containers/nothing/json"
  assert_eq 404 "$OUT"
  stop_berthd
}

run_tests "$@"
