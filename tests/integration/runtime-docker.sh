#!/bin/bash
# runtime-docker.sh: Debian's dockerd (20.10) uses the runtime under test as
# an extra runtime ("berth"). dockerd runs on a private socket, data root and
# exec root inside the test folder, without networking (--bridge=none,
# --network none, no iptables), with the cgroupfs driver (no systemd here),
# the vfs storage driver, and its own managed containerd. The image is built
# by the test from the busybox rootfs (docker import). Everything is stopped
# and removed afterwards.
: "${TEST_TIMEOUT:=180}"   # dockerd start-up can be slow on a busy machine
. "$(dirname "$0")/../lib/testlib.sh"

DOCKER_BIN=${DOCKER_BIN:-$(command -v docker)}

# start_dockerd DIR: starts dockerd, waits for its API; sets DOCKER_HOST
start_dockerd() {
  local d=$1
  mkdir -p "$d/cli"
  export DOCKER_HOST="unix://$d/docker.sock" DOCKER_CONFIG="$d/cli"
  # leave /run as we found it
  local p
  for p in /run/containerd /run/containerd/s /run/docker /run/docker/plugins; do
    [ -e "$p" ] || defer "rmdir '$p' 2>/dev/null"
  done
  defer "stop_dockerd '$d'"
  dockerd --host "$DOCKER_HOST" --data-root "$d/data" --exec-root "$d/exec" --pidfile "$d/dockerd.pid" \
    --bridge=none --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false \
    --userland-proxy=false --storage-driver=vfs --exec-opt native.cgroupdriver=cgroupfs \
    --add-runtime "berth=$RUNTIME" --log-level warn > "$d/dockerd.log" 2>&1 &
  DOCKERD_PID=$!
  echo "$DOCKERD_PID" > "$d/dockerd.bgpid"
  local i
  for i in $(seq 1 300); do
    if "$DOCKER_BIN" version >/dev/null 2>&1; then
      return 0
    fi
    if ! kill -0 "$DOCKERD_PID" 2>/dev/null; then
      log "dockerd exited; log:"
      sed 's/^/  dockerd| /' "$d/dockerd.log" | tail -n 40 >&2
      if grep -qiE 'kernel does not support|operation not supported by the kernel|no such device' "$d/dockerd.log"; then
        skip "dockerd cannot start on this kernel: $(grep -iE 'kernel|not supported' "$d/dockerd.log" | tail -n1)"
      fi
      fail "dockerd did not start"
    fi
    sleep 0.1
  done
  fail "dockerd API not up after 30 s: $(tail -n 5 "$d/dockerd.log")"
}

stop_dockerd() {
  local d=$1 pid i
  pid=$(cat "$d/dockerd.pid" 2>/dev/null || cat "$d/dockerd.bgpid" 2>/dev/null)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    # remove whatever containers are left, then stop the daemon (it stops
    # its containerd)
    DOCKER_HOST="unix://$d/docker.sock" timeout 30 "$DOCKER_BIN" ps -aq 2>/dev/null |
      xargs -r env DOCKER_HOST="unix://$d/docker.sock" timeout 30 "$DOCKER_BIN" rm -f >/dev/null 2>&1
    kill -TERM "$pid" 2>/dev/null
    for i in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
  fi
  # containerd and shims started for this daemon (their command lines name $d)
  for pid in $(pgrep -f -- "$d/exec" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
  awk -v t="$d" 'index($5, t "/") == 1 {print $5}' /proc/self/mountinfo | sort -r | while read -r m; do umount -l "$m"; done
  rm -rf --one-file-system "$d"
}

dk() {
  trace "+ docker $*"
  timeout --foreground -k 5 120 "$DOCKER_BIN" "$@"
}

# Docker's state root for the "berth" runtime (where dockerd's shim tells the
# runtime to keep its state): the folder under $D/exec holding ID/
find_runtime_root() { # D container-id
  local f
  f=$(find "$1/exec" -maxdepth 4 -type d -name "$2" 2>/dev/null | grep -v '/containerd/' | head -n1)
  [ -n "$f" ] && dirname "$f"
}

test_docker_busybox() {
  command -v dockerd >/dev/null || fail "dockerd is not installed"
  [ -n "$DOCKER_BIN" ] || fail "docker CLI is not installed"
  local D=$T/d
  start_dockerd "$D"
  # image: the test's own busybox rootfs
  mkbundle "$T/img"
  tar -C "$T/img/rootfs" -c . | dk import - berth-test/busybox:latest >/dev/null || fail "docker import failed"
  local img=berth-test/busybox:latest

  # run --rm: output and exit code
  cap dk run --rm --runtime berth --network none "$img" echo hello
  assert_success "docker run echo hello"
  assert_eq hello "$OUT"
  cap dk run --rm --runtime berth --network none "$img" sh -c 'echo to-stderr >&2; exit 7'
  assert_eq 7 "$RC" "exit code propagates through docker run"
  assert_contains "$OUT" to-stderr
  cap dk run --rm --runtime berth --network none "$img" sh -c 'cat /proc/self/status | grep -E "^(NoNewPrivs|CapEff)"; hostname; ip -o link | wc -l'
  assert_success
  assert_match "$OUT" '^CapEff:[[:space:]]+00000000a80425fb$' "Docker's default capability set"
  assert_match "$OUT" '^1$' "--network none: only lo"

  # run -d, exec, stop
  local cid
  cap dk run -d --runtime berth --network none --name "bt-$TEST_TAG" "$img" \
    sh -c 'trap "echo got-term; exit 0" TERM; echo started; while :; do sleep 0.1; done'
  assert_success "docker run -d"
  cid=$OUT
  assert_match "$cid" '^[0-9a-f]{64}$' "container id"
  assert_eq "berth true" "$(dk inspect -f '{{.HostConfig.Runtime}} {{.State.Running}}' "$cid")" "running with runtime berth"
  # the runtime under test really manages it: its state root knows the id
  local rroot
  rroot=$(find_runtime_root "$D" "$cid")
  [ -n "$rroot" ] || fail "no runtime state folder for $cid under $D/exec"
  assert_ok "$RUNTIME" --root "$rroot" state "$cid"
  assert_json "$OUT" '.status == "running"' "runtime state of the docker container"
  cap dk exec "$cid" sh -c 'echo in-exec $((6*7)); cat /proc/1/cmdline | tr "\0" " "'
  assert_success "docker exec"
  assert_contains "$OUT" "in-exec 42"
  assert_contains "$OUT" "trap"
  cap dk exec "$cid" sh -c 'exit 4'
  assert_eq 4 "$RC" "docker exec exit code"
  cap dk exec -e FOO=bar -u 1000:1000 -w /tmp "$cid" sh -c 'echo $FOO $(id -u) $(pwd)'
  assert_eq "bar 1000 /tmp" "$OUT" "docker exec -e -u -w"
  cap dk stop -t 10 "$cid"
  assert_success "docker stop"
  assert_eq "0 false" "$(dk inspect -f '{{.State.ExitCode}} {{.State.Running}}' "$cid")" "stopped by SIGTERM, exit 0"
  cap dk logs "$cid"
  assert_contains "$OUT" started
  assert_contains "$OUT" got-term "the process got SIGTERM from docker stop"
  cap dk rm "$cid"
  assert_success "docker rm"
  [ ! -d "$rroot/$cid" ] || fail "runtime state of $cid left after docker rm"

  # docker kill of a process that ignores TERM
  cap dk run -d --runtime berth --network none "$img" sh -c 'trap "" TERM; while :; do sleep 0.1; done'
  cid=$OUT
  cap dk kill "$cid"
  assert_success "docker kill"
  wait_for 20 sh -c "[ \"\$(timeout 20 '$DOCKER_BIN' inspect -f '{{.State.Running}}' '$cid')\" = false ]" || fail "container not killed"
  assert_eq 137 "$(dk inspect -f '{{.State.ExitCode}}' "$cid")" "exit code after SIGKILL"
  dk rm -f "$cid" >/dev/null
}

run_tests "$@"
