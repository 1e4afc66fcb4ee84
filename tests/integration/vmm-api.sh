#!/bin/bash
# vmm-api.sh: berth-vmm --api-sock driven with curl --unix-socket, the way
# Firecracker users drive Firecracker: configure, InstanceStart a tiny
# guest (tests/vmm/guests), GET /, calls in the wrong state, bad JSON, a
# missing kernel: HTTP 400 with {"fault_message": ...}, never a crash.
. "$(dirname "$0")/../lib/testlib.sh"

VMM=${VMM:-$(dirname "$RUNTIME")/berth-vmm}
GUESTS=$REPO_ROOT/tests/vmm/guests

need_vmm() {
  [ -c /dev/kvm ] || skip "/dev/kvm is missing (no KVM on this host)"
  [ -x "$VMM" ] || fail "berth-vmm is not built: $VMM"
}

# The test guests: "guest" (test=NAME on its command line, then poweroff)
# and "idle" (prints BERTH-IDLE and halts until the VMM is stopped).
build_guests() {
  # shellcheck disable=SC2054 # commas inside -Wl, options
  local flags=(-O2 -ffreestanding -fno-pic -no-pie -nostdlib -static -fno-stack-protector -mno-red-zone
    -mgeneral-regs-only -Wl,--build-id=none -Wl,--no-warn-rwx-segments -T "$GUESTS/guest.ld")
  gcc "${flags[@]}" -o "$T/guest" "$GUESTS/start.S" "$GUESTS/guest.c" 2>"$T/cc.log" || { cat "$T/cc.log" >&2; fail "cannot build the test guest"; }
  gcc "${flags[@]}" -o "$T/idle" "$GUESTS/idle.S" 2>"$T/cc.log" || { cat "$T/cc.log" >&2; fail "cannot build the idle guest"; }
}

# start_api [ARGS...]: berth-vmm --api-sock $T/api.sock ARGS in the
# background; VMM_PID, console in $T/console.log, log in $T/vmm.err.
start_api() {
  SOCK=$T/api.sock
  "$VMM" --api-sock "$SOCK" "$@" > "$T/console.log" 2> "$T/vmm.err" &
  VMM_PID=$!
  defer "kill -9 $VMM_PID 2>/dev/null"
  wait_for 10 test -S "$SOCK" || { cat "$T/vmm.err" >&2; fail "berth-vmm did not create its API socket"; }
}

# api METHOD PATH [BODY]: STATUS = HTTP status, BODY = response body.
api() {
  local args=(-s -S --max-time 30 --unix-socket "$SOCK" -X "$1" -o "$T/resp" -w '%{http_code}')
  [ $# -lt 3 ] || args+=(-H 'Content-Type: application/json' --data-binary "$3")
  STATUS=$(curl "${args[@]}" "http://localhost$2") || STATUS=000
  BODY=$(cat "$T/resp" 2>/dev/null || true)
  trace "$1 $2 ${3:-} -> $STATUS $BODY"
}

# expect_fault METHOD PATH BODY NEEDLE: 400 with a fault_message holding NEEDLE.
expect_fault() {
  api "$1" "$2" "$3"
  assert_eq 400 "$STATUS" "$1 $2 $3: status"
  local msg
  msg=$(jq -er .fault_message <<<"$BODY") || fail "$1 $2: no fault_message in '$BODY'"
  assert_contains "$msg" "$4" "$1 $2: fault_message"
}

expect_status() { # WANT METHOD PATH [BODY]
  local want=$1
  shift
  api "$@"
  assert_eq "$want" "$STATUS" "$1 $2: status (body: $BODY)"
}

# wait_exit: the VMM's exit status (after at most 30 s).
wait_exit() {
  local t=0
  while kill -0 "$VMM_PID" 2>/dev/null && [ $t -lt 300 ]; do sleep 0.1; t=$((t + 1)); done
  EXIT=0
  wait "$VMM_PID" || EXIT=$?
}

test_configure_and_start_a_guest() {
  need_vmm
  build_guests
  start_api
  expect_status 200 GET /
  assert_json "$BODY" '.state == "Not started" and .app_name == "berth-vmm" and (.vmm_version | type) == "string" and (.id | type) == "string"'
  expect_status 204 PUT /boot-source "{\"kernel_image_path\": \"$T/guest\", \"boot_args\": \"test=hello\"}"
  expect_status 204 PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64}'
  expect_status 204 PATCH /machine-config '{"mem_size_mib": 32}'
  expect_status 200 GET /machine-config
  assert_json "$BODY" '.vcpu_count == 1 and .mem_size_mib == 32 and .smt == false'
  expect_status 200 GET /vm/config
  # shellcheck disable=SC2016 # a jq program
  assert_json "$BODY" --arg k "$T/guest" '."boot-source".kernel_image_path == $k and ."machine-config".mem_size_mib == 32'
  expect_status 204 PUT /actions '{"action_type": "InstanceStart"}'
  # The hello guest prints and powers off: the VMM exits 0, socket gone.
  wait_exit
  assert_eq 0 "$EXIT" "berth-vmm's exit status after the guest's poweroff"
  assert_contains "$(cat "$T/console.log")" "Hello from the berth test guest"
  assert_not_exists "$SOCK" "API socket after exit"
}

test_running_guest_and_wrong_state() {
  need_vmm
  build_guests
  start_api
  expect_status 204 PUT /boot-source "{\"kernel_image_path\": \"$T/idle\"}"
  expect_status 204 PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 32}'
  expect_status 204 PUT /balloon '{"amount_mib": 0, "deflate_on_oom": false}'
  # Runtime-only calls before the start.
  expect_fault PATCH /balloon '{"amount_mib": 8}' "not supported before starting the microVM"
  expect_fault PUT /actions '{"action_type": "SendCtrlAltDel"}' "not supported before starting the microVM"
  expect_fault GET /balloon/statistics "" "not supported before starting the microVM"
  expect_status 204 PUT /actions '{"action_type": "InstanceStart"}'
  wait_for 10 grep -q BERTH-IDLE "$T/console.log" || fail "the idle guest printed nothing"
  expect_status 200 GET /
  assert_json "$BODY" '.state == "Running"'
  # Pre-boot-only calls after the start.
  expect_fault PUT /boot-source "{\"kernel_image_path\": \"$T/guest\"}" "not supported after starting the microVM"
  expect_fault PUT /machine-config '{"vcpu_count": 2, "mem_size_mib": 64}' "not supported after starting the microVM"
  expect_fault PUT /drives/d0 '{"drive_id": "d0", "path_on_host": "/x", "is_root_device": false}' "after starting"
  expect_fault PUT /actions '{"action_type": "InstanceStart"}' "not supported after starting the microVM"
  # Runtime calls reach the VMM.
  expect_status 204 PATCH /balloon '{"amount_mib": 8}'
  expect_status 200 GET /balloon
  assert_json "$BODY" '.amount_mib == 8'
  expect_status 204 PUT /actions '{"action_type": "SendCtrlAltDel"}'
  expect_status 200 GET /machine-config
  assert_json "$BODY" '.mem_size_mib == 32'
  # SIGTERM ends a running VMM with 128+15, and the socket goes.
  kill -TERM "$VMM_PID"
  wait_exit
  assert_eq 143 "$EXIT" "exit status after SIGTERM while running"
  assert_not_exists "$SOCK" "API socket after exit"
}

test_bad_input_gets_400() {
  need_vmm
  build_guests
  start_api
  expect_fault PUT /boot-source '{"kernel_image_path": ' "invalid JSON"
  expect_fault PUT /boot-source '[1, 2]' "expected a JSON object"
  expect_fault PUT /boot-source "" "body is empty"
  expect_fault PUT /boot-source '{"kernel_image_path": "/k", "kernel": "x"}' "kernel: unknown field"
  expect_fault PUT /machine-config '{"vcpu_count": "one", "mem_size_mib": 64}' "vcpu_count: expected an integer"
  expect_fault PUT /machine-config '{"vcpu_count": 99, "mem_size_mib": 64}' "out of range"
  expect_fault PUT /network-interfaces/eth0 '{"iface_id": "eth1", "host_dev_name": "tap0"}' "does not match"
  expect_fault PUT /vsock '{"guest_cid": 2, "uds_path": "/tmp/v.sock"}' "guest_cid"
  expect_fault GET /no/such/thing "" "Invalid request method and/or path"
  expect_fault DELETE /boot-source "" "Invalid request method and/or path"
  expect_fault PUT /actions '{"action_type": "Reboot"}' "unknown action"
  # InstanceStart without a kernel, with a missing one, with a file that
  # is no kernel, with more memory than the host has.
  expect_fault PUT /actions '{"action_type": "InstanceStart"}' "no kernel configured"
  expect_status 204 PUT /boot-source '{"kernel_image_path": "/nonexistent/vmlinux"}'
  expect_fault PUT /actions '{"action_type": "InstanceStart"}' "/nonexistent/vmlinux"
  head -c 4096 /dev/urandom > "$T/garbage"
  expect_status 204 PUT /boot-source "{\"kernel_image_path\": \"$T/garbage\"}"
  expect_fault PUT /actions '{"action_type": "InstanceStart"}' "Cannot start the microVM"
  expect_status 204 PUT /boot-source "{\"kernel_image_path\": \"$T/idle\"}"
  expect_status 204 PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 4194304}'
  expect_fault PUT /actions '{"action_type": "InstanceStart"}' "more than this host allows"
  # Still serving, still not started.
  expect_status 200 GET /
  assert_json "$BODY" '.state == "Not started"'
  kill -TERM "$VMM_PID"
  wait_exit
  assert_eq 0 "$EXIT" "exit status after SIGTERM before start"
  assert_not_exists "$SOCK" "API socket after exit"
}

test_config_file_then_api() {
  need_vmm
  build_guests
  jq -n --arg k "$T/guest" '{"boot-source": {kernel_image_path: $k, boot_args: "test=hello"},
    "machine-config": {vcpu_count: 1, mem_size_mib: 48}}' > "$T/vm.json"
  start_api --config-file "$T/vm.json"
  expect_status 200 GET /vm/config
  # shellcheck disable=SC2016 # a jq program
  assert_json "$BODY" --arg k "$T/guest" '."boot-source".kernel_image_path == $k and ."machine-config".mem_size_mib == 48'
  expect_status 204 PUT /actions '{"action_type": "InstanceStart"}'
  wait_exit
  assert_eq 0 "$EXIT" "exit status"
  assert_contains "$(cat "$T/console.log")" "Hello from the berth test guest"
}

run_tests "$@"
