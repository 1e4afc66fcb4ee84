#!/bin/bash
# berthd-containers.sh: the container commands of the real docker CLI
# against the daemon: run (exit codes, output, -d, --rm, env, workdir, user,
# names, entrypoint, hostname, binds, tmpfs, read-only root, resources,
# capabilities, seccomp, no-new-privileges, --init, labels, stop signal and
# timeout, restart policies, runtimes), create/start, stop, kill, restart,
# rm, ps, inspect, logs, top, stats, cp, rename, pause/unpause, update,
# wait, prune, export, diff, and the errors of all of these.
#
# The busybox image comes from tests/lib/mkimage.sh (no registry). One
# daemon per suite; each test names its containers after itself (ct_name)
# and removes them afterwards.
#
# Runs against berthd (default) or, to validate the tests, Debian's dockerd:
#   DAEMON=dockerd tests/run integration 'berthd-containers*'
: "${TEST_TIMEOUT:=60}"
. "$(dirname "$0")/../lib/testlib.sh"
. "$(dirname "$0")/../lib/daemonlib.sh"
. "$(dirname "$0")/../lib/containerlib.sh"

# ----------------------------------------------------------------- run

test_run_exit_code_propagates() {
  local img
  img=$(busybox_image)
  assert_exit 3 dk run --rm "$img" sh -c 'exit 3'
  assert_exit 0 dk run --rm "$img" true
  assert_exit 1 dk run --rm "$img" false
  # a command that does not exist: 127; not executable: 126
  assert_exit 127 dk run --rm "$img" /no/such/binary
  assert_exit 126 dk run --rm "$img" /etc/passwd
}

test_run_stdout_and_stderr() {
  local img
  img=$(busybox_image)
  cap2 dk run --rm "$img" sh -c 'echo out1; echo err1 >&2; echo out2'
  assert_success
  assert_eq "$(printf 'out1\nout2')" "$OUT" "stdout of the container"
  assert_eq "err1" "$ERR" "stderr of the container"
}

test_run_detached_prints_id() {
  local img name
  img=$(busybox_image)
  name=$(ct_name)
  ct_run_d "$name" "$img" sleep 100
  assert_eq "true" "$(ct_state "$name" Running)" "the container runs"
  assert_eq "$CT_ID" "$(ct_inspect "$name" '{{.Id}}')" "the id printed by run -d"
  cap dk ps -q --no-trunc
  assert_contains "$OUT" "$CT_ID" "docker ps lists the container"
  proc_alive "$(ct_state "$name" Pid)" || fail "the container's process is not alive on the host"
}

test_run_rm_removes_after_exit() {
  local img name
  img=$(busybox_image)
  name=$(ct_name)
  defer "dk rm -f $name"
  assert_exit 4 dk run --rm --name "$name" "$img" sh -c 'exit 4'
  assert_fails dk container inspect "$name"
  assert_contains "$OUT" "No such container"
  cap dk ps -aq --filter "name=^/$name\$"
  assert_eq "" "$OUT" "the container is gone from ps -a"
}

test_run_env() {
  local img
  img=$(busybox_image)
  printf 'FROM_FILE=file value\n# a comment\nFROM_HOST_VIA_FILE\n' > "$T/env"
  FROM_HOST=host-value FROM_HOST_VIA_FILE=hv cap2 dk run --rm -e A=1 -e "B=two words" -e FROM_HOST \
    --env-file "$T/env" "$img" env
  assert_success
  assert_contains "$OUT" $'\nA=1\n' "-e A=1"
  assert_contains "$OUT" "B=two words" "-e with a space"
  assert_contains "$OUT" "FROM_HOST=host-value" "-e NAME takes the value from the CLI's environment"
  assert_contains "$OUT" "FROM_FILE=file value" "--env-file"
  assert_contains "$OUT" "FROM_HOST_VIA_FILE=hv" "--env-file NAME takes the CLI's value"
  assert_contains "$OUT" "BT_IMAGE_ENV=from-image" "the image's ENV is kept"
  assert_match "$OUT" '^PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin$' "the image's PATH"
  assert_match "$OUT" '^HOSTNAME=' "HOSTNAME is set"
  # -e overrides the image's value
  cap2 dk run --rm -e BT_IMAGE_ENV=mine "$img" sh -c 'echo "$BT_IMAGE_ENV"'
  assert_eq "mine" "$OUT" "-e overrides the image ENV"
}

test_run_workdir() {
  local img
  img=$(busybox_image)
  cap2 dk run --rm -w /tmp "$img" pwd
  assert_eq "/tmp" "$OUT" "-w /tmp"
  # a missing working directory is created
  cap2 dk run --rm -w /new/work/dir "$img" sh -c 'pwd; test -d /new/work/dir && echo isdir'
  assert_success
  assert_eq "$(printf '/new/work/dir\nisdir')" "$OUT" "-w creates a missing folder"
  cap2 dk run --rm "$img" pwd
  assert_eq "/" "$OUT" "default working directory"
}

test_run_user() {
  local img
  img=$(busybox_image)
  cap2 dk run --rm "$img" sh -c 'echo $(id -u):$(id -g)'
  assert_eq "0:0" "$OUT" "default user is root"
  cap2 dk run --rm -u 1000 "$img" sh -c 'echo $(id -u):$(id -g)'
  assert_eq "1000:1000" "$OUT" "-u 1000 (group from /etc/passwd)"
  cap2 dk run --rm -u 1234 "$img" sh -c 'echo $(id -u):$(id -g)'
  assert_eq "1234:0" "$OUT" "-u 1234 (no passwd entry: gid 0)"
  cap2 dk run --rm -u 1000:1001 "$img" sh -c 'echo $(id -u):$(id -g)'
  assert_eq "1000:1001" "$OUT" "-u 1000:1001"
  cap2 dk run --rm -u nobody "$img" sh -c 'echo $(id -u):$(id -g)'
  assert_eq "65534:65534" "$OUT" "-u nobody"
  cap2 dk run --rm -u nobody:root "$img" sh -c 'echo $(id -u):$(id -g)'
  assert_eq "65534:0" "$OUT" "-u nobody:root"
  assert_fails dk run --rm -u nosuchuser "$img" true
  assert_match "$OUT" "nosuchuser" "an unknown user name is reported"
}

test_run_name_and_conflict() {
  local img name
  img=$(busybox_image)
  name=$(ct_name)
  ct_run_d "$name" "$img" sleep 100
  assert_eq "/$name" "$(ct_inspect "$CT_ID" '{{.Name}}')" "Name has a leading /"
  defer "dk rm -f ${name}x"
  assert_exit 125 dk run --name "$name" "$img" true
  assert_contains "$OUT" "Conflict. The container name \"/$name\" is already in use by container \"$CT_ID\". You have to remove (or rename) that container to be able to reuse that name."
  api POST "/containers/create?name=$name" -H 'Content-Type: application/json' -d "{\"Image\": \"$img\"}"
  assert_api_error 409 "Conflict. The container name \"/$name\" is already in use"
  # the name resolves in every verb
  assert_eq "$CT_ID" "$(ct_inspect "$name" '{{.Id}}')"
  # an invalid name
  assert_exit 125 dk run --rm --name 'bad/name' "$img" true
  assert_contains "$OUT" "Invalid container name"
}

test_run_entrypoint() {
  local img name
  img=$(busybox_image)
  cap2 dk run --rm --entrypoint echo "$img" hello world
  assert_eq "hello world" "$OUT" "--entrypoint echo + args"
  cap2 dk run --rm --entrypoint /bin/pwd "$img"
  assert_eq "/" "$OUT" "--entrypoint without a command: the image's Cmd is dropped"
  name=$(ct_name)
  ct_create "$name" --entrypoint /bin/sh "$img" -c 'exit 0'
  assert_eq '["/bin/sh"] ["-c","exit 0"]' "$(ct_inspect "$name" '{{json .Config.Entrypoint}} {{json .Config.Cmd}}')"
  assert_eq '/bin/sh ["-c","exit 0"]' "$(ct_inspect "$name" '{{.Path}} {{json .Args}}')" "Path and Args"
}

test_run_hostname() {
  local img name
  img=$(busybox_image)
  cap2 dk run --rm --hostname myhost.example "$img" sh -c 'hostname; echo $HOSTNAME; cat /etc/hostname'
  assert_eq "$(printf 'myhost.example\nmyhost.example\nmyhost.example')" "$OUT" "--hostname"
  # default: the first 12 digits of the id
  name=$(ct_name)
  ct_run_d "$name" "$img" sleep 100
  cap2 dk exec "$name" hostname
  assert_eq "${CT_ID:0:12}" "$OUT" "default hostname"
}

test_run_bind_mount_rw() {
  local img
  img=$(busybox_image)
  mkdir "$T/host"
  echo from-host > "$T/host/in"
  cap2 dk run --rm -v "$T/host:/data" "$img" sh -c 'cat /data/in; echo from-ct > /data/out'
  assert_success
  assert_eq "from-host" "$OUT" "the container reads the host file"
  assert_eq "from-ct" "$(cat "$T/host/out")" "the host sees the container's write"
  # --mount type=bind works too
  cap2 dk run --rm --mount "type=bind,source=$T/host,target=/m" "$img" cat /m/out
  assert_eq "from-ct" "$OUT" "--mount type=bind"
}

test_run_bind_mount_ro() {
  local img
  img=$(busybox_image)
  mkdir "$T/host"
  echo x > "$T/host/in"
  cap2 dk run --rm -v "$T/host:/data:ro" "$img" sh -c 'cat /data/in; touch /data/new'
  assert_ne 0 "$RC" "writing to a :ro bind mount fails"
  assert_eq "x" "$OUT"
  assert_contains "$ERR" "Read-only file system"
  assert_not_exists "$T/host/new"
  cap2 dk run --rm -v "$T/host:/data:ro" "$img" sh -c 'grep " /data " /proc/self/mounts'
  assert_match "$OUT" ' ro[, ]' "the mount is read-only"
}

test_run_bind_mount_missing_source() {
  local img
  img=$(busybox_image)
  # -v creates a missing host folder; --mount refuses it
  cap2 dk run --rm -v "$T/created:/data" "$img" true
  assert_success
  [ -d "$T/created" ] || fail "-v did not create the missing host folder"
  assert_exit 125 dk run --rm --mount "type=bind,source=$T/missing,target=/m" "$img" true
  assert_contains "$OUT" "bind source path does not exist"
}

test_run_tmpfs() {
  local img
  img=$(busybox_image)
  cap2 dk run --rm --tmpfs /scratch "$img" sh -c 'grep " /scratch " /proc/self/mounts; echo hi > /scratch/f && cat /scratch/f'
  assert_success
  assert_match "$OUT" '^tmpfs /scratch tmpfs ' "/scratch is a tmpfs"
  assert_contains "$OUT" $'\nhi' "the tmpfs is writable"
  cap2 dk run --rm --tmpfs /scratch:size=1m "$img" sh -c 'df -k /scratch | tail -n1'
  assert_match "$OUT" '[[:space:]]1024[[:space:]]' "size=1m"
}

test_run_read_only() {
  local img
  img=$(busybox_image)
  cap2 dk run --rm --read-only "$img" touch /newfile
  assert_ne 0 "$RC" "writing into a read-only root fails"
  assert_contains "$ERR" "Read-only file system"
  cap2 dk run --rm --read-only --tmpfs /tmp "$img" sh -c 'echo ok > /tmp/f && cat /tmp/f'
  assert_success "a tmpfs in a read-only root is writable"
  assert_eq "ok" "$OUT"
  assert_eq "true" "$(dk run --rm --read-only "$img" sh -c 'grep -q " / [^ ]* ro[, ]" /proc/self/mounts && echo true')" \
    "/ is mounted read-only"
}

test_run_memory_limit() {
  local img name f
  img=$(busybox_image)
  name=$(ct_name)
  ct_run_d "$name" -m 32m "$img" sleep 100
  assert_eq 33554432 "$(ct_inspect "$name" '{{.HostConfig.Memory}}')" "HostConfig.Memory"
  f=$(ct_cgroup_file "$name" memory memory.limit_in_bytes)
  if [ -e "$f" ]; then
    assert_eq 33554432 "$(cat "$f")" "memory.limit_in_bytes of the container's cgroup"
  else
    f=$(ct_cgroup_file "$name" unified memory.max)
    assert_eq 33554432 "$(cat "$f")" "memory.max of the container's cgroup"
  fi
}

test_run_cpus() {
  local img name f
  img=$(busybox_image)
  name=$(ct_name)
  ct_run_d "$name" --cpus 0.5 "$img" sleep 100
  assert_eq 500000000 "$(ct_inspect "$name" '{{.HostConfig.NanoCpus}}')" "HostConfig.NanoCpus"
  f=$(ct_cgroup_file "$name" cpu cpu.cfs_quota_us)
  if [ -e "$f" ]; then
    local period
    period=$(cat "$(dirname "$f")/cpu.cfs_period_us")
    assert_eq $((period / 2)) "$(cat "$f")" "cfs quota = half the period"
  else
    f=$(ct_cgroup_file "$name" unified cpu.max)
    assert_match "$(cat "$f")" '^50000 100000$' "cpu.max"
  fi
}

test_run_pids_limit() {
  local img name f
  img=$(busybox_image)
  name=$(ct_name)
  ct_run_d "$name" --pids-limit 10 "$img" sleep 100
  assert_eq 10 "$(ct_inspect "$name" '{{.HostConfig.PidsLimit}}')" "HostConfig.PidsLimit"
  f=$(ct_cgroup_file "$name" pids pids.max)
  [ -e "$f" ] || f=$(ct_cgroup_file "$name" unified pids.max)
  assert_eq 10 "$(cat "$f")" "pids.max"
}

# capeff ARGS...: CapEff of a container run with ARGS (hex, no leading 0s)
capeff() {
  local v
  v=$(dk run --rm "$@" "$(busybox_image)" sh -c 'grep ^CapEff: /proc/self/status' | awk '{print $2}')
  printf '%x' "$((16#$v))"
}

test_run_capabilities() {
  # Docker's default set: chown dac_override fowner fsetid kill setgid
  # setuid setpcap net_bind_service net_raw sys_chroot mknod audit_write
  # setfcap
  assert_eq a80425fb "$(capeff)" "default capabilities"
  assert_eq 0 "$(capeff --cap-drop ALL)" "--cap-drop ALL"
  assert_eq a80425fa "$(capeff --cap-drop CHOWN)" "--cap-drop CHOWN"
  assert_eq a80435fb "$(capeff --cap-add NET_ADMIN)" "--cap-add NET_ADMIN (bit 12)"
  assert_eq a80435fb "$(capeff --cap-add cap_net_admin)" "--cap-add cap_net_admin"
  assert_eq 1000 "$(capeff --cap-drop ALL --cap-add NET_ADMIN)" "--cap-drop ALL --cap-add NET_ADMIN"
}

test_run_no_new_privileges() {
  local img
  img=$(busybox_image)
  assert_match "$(dk run --rm "$img" grep NoNewPrivs: /proc/self/status)" 'NoNewPrivs:[[:space:]]+0$' "default"
  assert_match "$(dk run --rm --security-opt no-new-privileges "$img" grep NoNewPrivs: /proc/self/status)" \
    'NoNewPrivs:[[:space:]]+1$' "--security-opt no-new-privileges"
  assert_match "$(dk run --rm --security-opt no-new-privileges:true "$img" grep NoNewPrivs: /proc/self/status)" \
    'NoNewPrivs:[[:space:]]+1$' "--security-opt no-new-privileges:true"
}

test_run_seccomp_default_and_unconfined() {
  local img
  img=$(busybox_image)
  assert_match "$(dk run --rm "$img" grep '^Seccomp:' /proc/self/status)" 'Seccomp:[[:space:]]+2$' "seccomp filter on by default"
  assert_match "$(dk run --rm --security-opt seccomp=unconfined "$img" grep '^Seccomp:' /proc/self/status)" \
    'Seccomp:[[:space:]]+0$' "seccomp=unconfined"
  # the default confinement: no mount (CAP_SYS_ADMIN dropped, seccomp)
  cap2 dk run --rm "$img" mount -t tmpfs none /mnt
  assert_ne 0 "$RC" "mount is denied in a default container"
}

test_run_seccomp_profile_file() {
  local img
  img=$(busybox_image)
  cat > "$T/profile.json" <<'EOF'
{
  "defaultAction": "SCMP_ACT_ALLOW",
  "syscalls": [
    {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}
  ]
}
EOF
  cap2 dk run --rm --security-opt "seccomp=$T/profile.json" "$img" mkdir /tmp/x
  assert_ne 0 "$RC" "mkdir is denied by the profile"
  assert_contains "$ERR" "Operation not permitted"
  cap2 dk run --rm --security-opt "seccomp=$T/profile.json" "$img" sh -c 'touch /tmp/f && echo touched'
  assert_eq "touched" "$OUT" "other calls are allowed"
  # a profile file that is not JSON
  echo 'not json' > "$T/bad.json"
  assert_fails dk run --rm --security-opt "seccomp=$T/bad.json" "$img" true
}

test_run_init() {
  local img
  img=$(busybox_image)
  cap2 dk run --rm --init "$img" sh -c 'echo $$ $PPID; cat /proc/1/comm'
  assert_success
  local pid ppid comm
  read -r pid ppid <<<"$(printf '%s\n' "$OUT" | head -n1)"
  comm=$(printf '%s\n' "$OUT" | sed -n 2p)
  assert_ne 1 "$pid" "with --init the command is not PID 1"
  assert_eq 1 "$ppid" "the command is a child of PID 1 (the init)"
  assert_ne sh "$comm" "PID 1 is the init, not the shell"
  assert_eq true "$(dk run --rm --init "$img" sh -c 'test $$ != 1 && echo true')"
  # without --init the command is PID 1
  assert_eq 1 "$(dk run --rm "$img" sh -c 'echo $$')" "without --init"
  # the init forwards the exit code
  assert_exit 7 dk run --rm --init "$img" sh -c 'exit 7'
}

test_run_labels() {
  local img name other
  img=$(busybox_image)
  name=$(ct_name)
  other=$(ct_name other)
  ct_run_d "$name" -l "bt.tag=$TEST_TAG" -l bt.flag "$img" sleep 100
  ct_run_d "$other" -l "bt.tag=other-$TEST_TAG" "$img" sleep 100
  cap2 dk container inspect -f '{{json .Config.Labels}}' "$name"
  assert_json "$OUT" --arg t "$TEST_TAG" '.["bt.tag"] == $t and .["bt.flag"] == ""' "Config.Labels"
  cap2 dk ps --filter "label=bt.tag=$TEST_TAG" --format '{{.Names}}'
  assert_eq "$name" "$OUT" "ps --filter label=KEY=VALUE"
  cap2 dk ps --filter "label=bt.flag" --format '{{.Names}}'
  assert_eq "$name" "$OUT" "ps --filter label=KEY"
}

test_run_stop_timeout() {
  local img name t0 t1
  img=$(busybox_image)
  name=$(ct_name)
  # PID 1 ignores SIGTERM (no handler): stop waits, then kills
  ct_run_d "$name" --stop-timeout 2 "$img" sleep 100
  assert_eq 2 "$(ct_inspect "$name" '{{.Config.StopTimeout}}')" "Config.StopTimeout"
  t0=$(date +%s%N)
  assert_ok dk stop "$name"
  t1=$(date +%s%N)
  assert_eq "$name" "$OUT" "docker stop prints the name given"
  local ms=$(( (t1 - t0) / 1000000 ))
  [ "$ms" -ge 1800 ] && [ "$ms" -lt 8000 ] || fail "docker stop took $ms ms, expected about 2 s"
  assert_eq 137 "$(ct_state "$name" ExitCode)" "killed: 137"
  assert_eq exited "$(ct_state "$name" Status)"
  # docker stop -t overrides it
  assert_ok dk start "$name"
  t0=$(date +%s%N)
  assert_ok dk stop -t 0 "$name"
  t1=$(date +%s%N)
  [ $(( (t1 - t0) / 1000000 )) -lt 1500 ] || fail "docker stop -t 0 took $(( (t1 - t0) / 1000000 )) ms"
}

test_run_stop_signal() {
  local img name
  img=$(busybox_image)
  name=$(ct_name)
  ct_run_d "$name" --stop-signal USR1 "$img" sh -c 'trap "echo got-usr1; exit 5" USR1; echo ready; while :; do sleep 0.1; done'
  assert_match "$(ct_inspect "$name" '{{.Config.StopSignal}}')" '^(SIG)?USR1$' "Config.StopSignal"
  wait_log "$name" ready
  assert_ok dk stop -t 10 "$name"
  assert_eq 5 "$(ct_state "$name" ExitCode)" "the trap ran: exit 5"
  assert_contains "$(dk logs "$name" 2>&1)" got-usr1
}

# restart_count ID
restart_count() { ct_inspect "$1" '{{.RestartCount}}'; }
_ct_restarts_ge() { [ "$(restart_count "$1" 2>/dev/null || echo -1)" -ge "$2" ]; }

test_run_restart_on_failure() {
  local img name
  img=$(busybox_image)
  name=$(ct_name)
  ct_run_d "$name" --restart on-failure:2 "$img" sh -c 'exit 3'
  assert_eq "on-failure 2" "$(ct_inspect "$name" '{{.HostConfig.RestartPolicy.Name}} {{.HostConfig.RestartPolicy.MaximumRetryCount}}')"
  wait_for 20 _ct_restarts_ge "$name" 2 || fail "RestartCount did not reach 2: $(restart_count "$name")"
  wait_ct_status "$name" exited 20
  sleep 1.5
  assert_eq exited "$(ct_state "$name" Status)" "stays exited after 2 restarts"
  assert_eq 2 "$(restart_count "$name")" "RestartCount"
  assert_eq 3 "$(ct_state "$name" ExitCode)"
}

test_run_restart_on_failure_success_not_restarted() {
  local img name
  img=$(busybox_image)
  name=$(ct_name)
  ct_run_d "$name" --restart on-failure "$img" true
  wait_ct_status "$name" exited 10
  sleep 1.5
  assert_eq "exited 0" "$(ct_inspect "$name" '{{.State.Status}} {{.RestartCount}}')" "exit 0 is not restarted"
}

test_run_restart_always() {
  local img name
  img=$(busybox_image)
  name=$(ct_name)
  ct_run_d "$name" --restart always "$img" sh -c 'sleep 0.2; exit 0'
  wait_for 20 _ct_restarts_ge "$name" 2 || fail "an always container was not restarted twice: $(restart_count "$name")"
  # docker stop ends it for good
  assert_ok dk stop -t 1 "$name"
  local n
  n=$(restart_count "$name")
  sleep 1.5
  assert_eq exited "$(ct_state "$name" Status)" "stopped by hand: not restarted"
  assert_eq "$n" "$(restart_count "$name")"
}

test_run_restart_no() {
  local img name
  img=$(busybox_image)
  name=$(ct_name)
  ct_run_d "$name" --restart no "$img" sh -c 'exit 1'
  wait_ct_status "$name" exited 10
  sleep 1
  assert_eq "exited 0 no" "$(ct_inspect "$name" '{{.State.Status}} {{.RestartCount}} {{.HostConfig.RestartPolicy.Name}}')"
}

test_run_runtime_runc() {
  [ -x /usr/sbin/runc ] || [ -x /usr/bin/runc ] || skip "runc is not installed"
  local img name
  img=$(busybox_image)
  cap2 dk info --format '{{json .Runtimes}}'
  assert_json "$OUT" 'has("runc")' "the daemon has a runtime named runc"
  name=$(ct_name)
  defer "dk rm -f $name"
  cap2 dk run --name "$name" --runtime runc "$img" sh -c 'echo in-runc'
  assert_success
  assert_eq in-runc "$OUT"
  assert_eq runc "$(ct_inspect "$name" '{{.HostConfig.Runtime}}')" "HostConfig.Runtime"
  assert_exit 125 dk run --rm --runtime nosuchruntime "$img" true
  assert_contains "$OUT" "Unknown runtime specified nosuchruntime"
}

# ------------------------------------------------------ create / start

test_create_then_start() {
  local img name
  img=$(busybox_image)
  name=$(ct_name)
  ct_create "$name" "$img" sh -c 'echo started; sleep 100'
  assert_eq "created false 0" "$(ct_inspect "$name" '{{.State.Status}} {{.State.Running}} {{.State.Pid}}')" "after create"
  assert_eq "0001-01-01T00:00:00Z" "$(ct_state "$name" StartedAt)" "StartedAt before the first start"
  cap dk ps -q
  assert_not_contains "$OUT" "${CT_ID:0:12}" "ps without -a hides created containers"
  cap dk ps -aq
  assert_contains "$OUT" "${CT_ID:0:12}" "ps -a shows created containers"
  assert_ok dk start "$name"
  assert_eq "$name" "$OUT" "docker start prints the name"
  assert_eq "running true" "$(ct_inspect "$name" '{{.State.Status}} {{.State.Running}}')" "after start"
  wait_log "$name" started
}

test_start_attach() {
  local img name
  img=$(busybox_image)
  name=$(ct_name)
  ct_create "$name" "$img" sh -c 'echo out; echo err >&2; exit 6'
  cap2 dk start -a "$name"
  assert_eq 6 "$RC" "docker start -a exits with the container's code"
  assert_eq out "$OUT"
  assert_eq err "$ERR"
  # started again: runs again
  cap2 dk start -a "$name"
  assert_eq 6 "$RC"
  assert_eq out "$OUT"
}

test_start_running_is_noop() {
  local img name pid
  img=$(busybox_image)
  name=$(ct_name)
  ct_run_d "$name" "$img" sleep 100
  pid=$(ct_state "$name" Pid)
  assert_ok dk start "$name"
  assert_eq "$pid" "$(ct_state "$name" Pid)" "same process after start of a running container"
  api POST "/containers/$name/start"
  assert_eq 304 "$API_STATUS" "POST /start of a running container: 304 Not Modified"
}

# ------------------------------------------------------ stop / kill / restart

test_stop_running() {
  local img name pid
  img=$(busybox_image)
  name=$(ct_name)
  # a shell with a TERM handler exits at once
  ct_run_d "$name" "$img" sh -c 'trap "exit 0" TERM; while :; do sleep 0.1; done'
  pid=$(ct_state "$name" Pid)
  assert_ok dk stop "$name"
  assert_eq "exited false 0 0" "$(ct_inspect "$name" '{{.State.Status}} {{.State.Running}} {{.State.Pid}} {{.State.ExitCode}}')"
  proc_alive "$pid" && fail "the container's process $pid still runs after stop"
  assert_match "$(ct_state "$name" FinishedAt)" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$' "FinishedAt"
  # stop of a stopped container is fine
  assert_ok dk stop "$name"
  assert_eq "$name" "$OUT"
  api POST "/containers/$name/stop"
  assert_eq 304 "$API_STATUS" "POST /stop of a stopped container: 304"
}

test_kill() {
  local img name
  img=$(busybox_image)
  name=$(ct_name)
  ct_run_d "$name" "$img" sleep 100
  assert_ok dk kill "$name"
  assert_eq "$name" "$OUT"
  wait_ct_status "$name" exited
  assert_eq 137 "$(ct_state "$name" ExitCode)" "SIGKILL: 137"
  # -s: a signal the container handles
  ct_run_d "$(ct_name 2)" "$img" sh -c 'trap "echo hup; exit 9" HUP; echo ready; while :; do sleep 0.1; done'
  wait_log "$(ct_name 2)" ready
  assert_ok dk kill -s HUP "$(ct_name 2)"
  wait_ct_status "$(ct_name 2)" exited
  assert_eq 9 "$(ct_state "$(ct_name 2)" ExitCode)"
  assert_contains "$(dk logs "$(ct_name 2)")" hup
  # kill of a stopped container: 409
  assert_fails dk kill "$name"
  assert_match "$OUT" "is not running"
  api POST "/containers/$name/kill"
  assert_api_error 409 "is not running"
}

test_kill_bad_signal() {
  local img name
  img=$(busybox_image)
  name=$(ct_name)
  ct_run_d "$name" "$img" sleep 100
  assert_fails dk kill -s NOSUCHSIG "$name"
  assert_match "$OUT" "[Ii]nvalid signal"
  assert_eq true "$(ct_state "$name" Running)" "still running"
}

test_restart_command() {
  local img name pid started
  img=$(busybox_image)
  name=$(ct_name)
  ct_run_d "$name" "$img" sleep 100
  pid=$(ct_state "$name" Pid)
  started=$(ct_state "$name" StartedAt)
  sleep 1
  assert_ok dk restart -t 1 "$name"
  assert_eq "$name" "$OUT"
  assert_eq true "$(ct_state "$name" Running)"
  assert_ne "$pid" "$(ct_state "$name" Pid)" "a new process after restart"
  assert_ne "$started" "$(ct_state "$name" StartedAt)" "a new StartedAt"
  # restart of a stopped container starts it
  assert_ok dk stop -t 0 "$name"
  assert_ok dk restart "$name"
  assert_eq true "$(ct_state "$name" Running)"
}

# --------------------------------------------------------------- rm

test_rm() {
  local img name
  img=$(busybox_image)
  name=$(ct_name)
  ct_run_d "$name" "$img" sleep 100
  assert_exit 1 dk rm "$name"
  assert_contains "$OUT" "You cannot remove a running container $CT_ID. Stop the container before attempting removal or force remove"
  api DELETE "/containers/$name"
  assert_api_error 409 "You cannot remove a running container"
  assert_ok dk rm -f "$name"
  assert_eq "$name" "$OUT" "docker rm prints the name given"
  assert_fails dk container inspect "$name"
  # a created and an exited container go without -f
  ct_create "$(ct_name 2)" "$img" true
  assert_ok dk rm "$(ct_name 2)"
  ct_run_d "$(ct_name 3)" "$img" true
  wait_ct_status "$(ct_name 3)" exited
  assert_ok dk rm "$(ct_name 3)"
  assert_fails dk container inspect "$(ct_name 3)"
  # the name is free again
  ct_run_d "$name" "$img" true
}

test_rm_removes_log_and_state() {
  local img name log
  img=$(busybox_image)
  name=$(ct_name)
  ct_run_d "$name" "$img" sh -c 'echo something'
  wait_ct_status "$name" exited
  log=$(ct_inspect "$name" '{{.LogPath}}')
  assert_exists "$log" "LogPath exists"
  assert_ok dk rm "$name"
  assert_not_exists "$log" "the log file after rm"
  case $log in "$DAEMON_DIR"/*) ;; *) fail "LogPath $log is not under the daemon's folders $DAEMON_DIR" ;; esac
  assert_not_exists "$(dirname "$log")" "the container's folder after rm"
}

# --------------------------------------------------------------- ps

test_ps_list_and_filters() {
  local img run ex
  img=$(busybox_image)
  run=$(ct_name run)
  ex=$(ct_name ex)
  ct_run_d "$run" -l "bt.ps=$TEST_TAG" "$img" sleep 100
  local run_id=$CT_ID
  ct_run_d "$ex" -l "bt.ps=$TEST_TAG" "$img" sh -c 'exit 2'
  local ex_id=$CT_ID
  wait_ct_status "$ex" exited
  cap2 dk ps -q --filter "label=bt.ps=$TEST_TAG"
  assert_eq "${run_id:0:12}" "$OUT" "ps -q: running only, 12-digit ids"
  cap2 dk ps -aq --no-trunc --filter "label=bt.ps=$TEST_TAG"
  assert_eq "$(printf '%s\n%s' "$ex_id" "$run_id")" "$OUT" "ps -a --no-trunc: newest first"
  cap2 dk ps -a --filter "label=bt.ps=$TEST_TAG" --filter status=exited --format '{{.Names}}'
  assert_eq "$ex" "$OUT" "--filter status=exited"
  cap2 dk ps -a --filter "name=$run" --format '{{.Names}}'
  assert_eq "$run" "$OUT" "--filter name="
  cap2 dk ps -a --filter "id=${ex_id:0:12}" --format '{{.ID}}'
  assert_eq "${ex_id:0:12}" "$OUT" "--filter id="
  cap2 dk ps -a --filter "label=bt.ps=$TEST_TAG" --format '{{.Names}}|{{.Status}}|{{.Image}}|{{.Command}}'
  assert_match "$OUT" "^$ex\\|Exited \\(2\\) [^|]+ ago\\|$img\\|\"sh -c 'exit 2'\"\$" "exited row"
  assert_match "$OUT" "^$run\\|Up [^|]+\\|$img\\|\"sleep 100\"\$" "running row"
  # the default table
  cap2 dk ps --filter "label=bt.ps=$TEST_TAG"
  assert_match "$(printf '%s\n' "$OUT" | head -n1)" '^CONTAINER ID +IMAGE +COMMAND +CREATED +STATUS +PORTS +NAMES$' "header"
  assert_match "$(printf '%s\n' "$OUT" | sed -n 2p)" "^${run_id:0:12} +$img +\"sleep 100\" +.* ago +Up .* +$run\$" "row"
}

test_ps_json_fields() {
  local img name
  img=$(busybox_image)
  name=$(ct_name)
  ct_run_d "$name" -l a=b "$img" sleep 100
  api GET "/containers/json?filters=$(printf '{"name":["%s"]}' "$name" | jq -sRr @uri)"
  assert_eq 200 "$API_STATUS"
  assert_json "$API_BODY" --arg id "$CT_ID" --arg n "/$name" --arg img "$img" '
    length == 1 and .[0].Id == $id and .[0].Names == [$n] and .[0].Image == $img and
    (.[0].ImageID | startswith("sha256:")) and .[0].Command == "sleep 100" and
    (.[0].Created | type) == "number" and .[0].State == "running" and
    (.[0].Status | startswith("Up")) and .[0].Labels == {"a": "b"} and (.[0].Ports | type) == "array"' "GET /containers/json"
}

# ------------------------------------------------------------ inspect

test_inspect_fields() {
  local img name out
  img=$(busybox_image)
  name=$(ct_name)
  ct_run_d "$name" -e X=1 -m 64m "$img" sleep 100
  out=$(dk container inspect "$name")
  assert_json "$out" --arg id "$CT_ID" --arg n "/$name" --arg img "$img" '
    length == 1 and .[0] as $c |
    $c.Id == $id and $c.Name == $n and $c.Path == "sleep" and $c.Args == ["100"] and
    $c.State.Status == "running" and $c.State.Running == true and $c.State.Paused == false and
    $c.State.Restarting == false and $c.State.OOMKilled == false and $c.State.Dead == false and
    $c.State.Pid > 0 and $c.State.ExitCode == 0 and
    ($c.State.StartedAt | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T")) and
    $c.State.FinishedAt == "0001-01-01T00:00:00Z" and
    ($c.Created | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T")) and
    ($c.Image | startswith("sha256:")) and $c.RestartCount == 0 and
    $c.Config.Image == $img and $c.Config.Cmd == ["sleep", "100"] and
    ($c.Config.Env | index("X=1") != null) and ($c.Config.Env | index("BT_IMAGE_ENV=from-image") != null) and
    $c.Config.Hostname == ($id[0:12]) and
    $c.HostConfig.Memory == 67108864 and $c.HostConfig.RestartPolicy.Name == "no" and
    ($c.LogPath | length) > 0 and $c.Driver != null' "docker inspect of a running container"
  assert_exists "$(printf '%s' "$out" | jq -r '.[0].LogPath')" "LogPath"
  # prefixes of the id work
  assert_eq "$CT_ID" "$(ct_inspect "${CT_ID:0:8}" '{{.Id}}')" "an id prefix"
  # after the exit
  assert_ok dk kill "$name"
  wait_ct_status "$name" exited
  out=$(dk container inspect "$name")
  assert_json "$out" '.[0].State as $s | $s.Running == false and $s.Pid == 0 and $s.ExitCode == 137 and
    ($s.FinishedAt | test("^[0-9]{4}-")) and $s.FinishedAt != "0001-01-01T00:00:00Z"' "State after the exit"
}

# --------------------------------------------------------------- logs

test_logs_stdout_stderr() {
  local img name
  img=$(busybox_image)
  name=$(ct_name)
  ct_run_d "$name" "$img" sh -c 'echo out1; echo err1 >&2; echo out2'
  wait_ct_status "$name" exited
  cap2 dk logs "$name"
  assert_success
  assert_eq "$(printf 'out1\nout2')" "$OUT" "stdout of docker logs"
  assert_eq "err1" "$ERR" "stderr of docker logs"
}

test_logs_tail_timestamps_since() {
  local img name
  img=$(busybox_image)
  name=$(ct_name)
  ct_run_d "$name" "$img" sh -c 'for i in 1 2 3 4 5; do echo line$i; done; sleep 2; echo late'
  wait_ct_status "$name" exited
  cap2 dk logs --tail 2 "$name"
  assert_eq "$(printf 'line5\nlate')" "$OUT" "--tail 2"
  cap2 dk logs --tail 0 "$name"
  assert_eq "" "$OUT" "--tail 0"
  cap2 dk logs -t "$name"
  assert_match "$(printf '%s\n' "$OUT" | head -n1)" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]+Z line1$' "-t"
  # --since: the time of the last line minus a second keeps only it
  local late_ts since
  late_ts=$(printf '%s\n' "$OUT" | awk '$2 == "late" {print $1}')
  since=$(( $(date -d "$late_ts" +%s) - 1 ))
  cap2 dk logs --since "$since" "$name"
  assert_eq late "$OUT" "--since"
  cap2 dk logs --until "$since" "$name"
  assert_eq "$(printf 'line1\nline2\nline3\nline4\nline5')" "$OUT" "--until"
}

test_logs_follow() {
  local img name
  img=$(busybox_image)
  name=$(ct_name)
  ct_run_d "$name" "$img" sh -c 'echo first; sleep 2; echo second; sleep 1; exit 0'
  local t0=$SECONDS
  cap2 dk logs -f "$name"
  assert_success
  assert_eq "$(printf 'first\nsecond')" "$OUT" "logs -f shows everything"
  [ $((SECONDS - t0)) -ge 1 ] || fail "logs -f returned before the container exited"
  assert_eq exited "$(ct_state "$name" Status)" "logs -f returned once the container exited"
}

# -------------------------------------------------- top / stats / cp

test_top() {
  local img name
  img=$(busybox_image)
  name=$(ct_name)
  ct_run_d "$name" "$img" sleep 123
  cap2 dk top "$name"
  assert_success
  assert_match "$(printf '%s\n' "$OUT" | head -n1)" '^UID +PID +PPID +C +STIME +TTY +TIME +CMD$' "header"
  assert_match "$OUT" "[[:space:]]$(ct_state "$name" Pid)[[:space:]].*sleep 123\$" "the container's process"
  cap2 dk top "$name" -o pid,comm
  assert_match "$OUT" "sleep" "ps options"
  ct_create "$(ct_name 2)" "$img" true
  assert_fails dk top "$(ct_name 2)"
  assert_match "$OUT" "is not running"
}

test_stats_no_stream() {
  local img name
  img=$(busybox_image)
  name=$(ct_name)
  ct_run_d "$name" -m 64m "$img" sleep 100
  cap2 dk stats --no-stream --format '{{.Name}}|{{.ID}}|{{.MemUsage}}|{{.PIDs}}' "$name"
  assert_success
  assert_match "$OUT" "^$name\\|${CT_ID:0:12}\\|[0-9.]+[KMG]?i?B / 64MiB\\|1\$" "stats line"
  api GET "/containers/$name/stats?stream=false"
  assert_eq 200 "$API_STATUS"
  assert_json "$API_BODY" '.memory_stats.limit == 67108864 and .pids_stats.current == 1 and (.cpu_stats.cpu_usage.total_usage | type) == "number" and (.read | type) == "string"' "stats JSON"
}

test_cp_both_directions() {
  local img name
  img=$(busybox_image)
  name=$(ct_name)
  ct_run_d "$name" "$img" sh -c 'mkdir -p /srv/dir/sub && echo in-ct > /srv/file && echo deep > /srv/dir/sub/f; sleep 100'
  wait_for 10 dk exec "$name" test -f /srv/dir/sub/f
  # out of the container: a file, a folder
  assert_ok dk cp "$name:/srv/file" "$T/file"
  assert_eq in-ct "$(cat "$T/file")"
  assert_ok dk cp "$name:/srv/dir" "$T/dir"
  assert_eq deep "$(cat "$T/dir/sub/f")" "a folder copied out"
  # into the container
  echo from-host > "$T/hostfile"
  mkdir -p "$T/hostdir/x"; echo hx > "$T/hostdir/x/y"
  assert_ok dk cp "$T/hostfile" "$name:/tmp/hostfile"
  assert_ok dk cp "$T/hostdir" "$name:/tmp/"
  cap2 dk exec "$name" sh -c 'cat /tmp/hostfile /tmp/hostdir/x/y'
  assert_eq "$(printf 'from-host\nhx')" "$OUT" "copied in"
  # to stdout as a tar
  dk cp "$name:/srv/file" - > "$T/out.tar"
  assert_eq in-ct "$(tar -xOf "$T/out.tar" file)" "cp to - writes a tar"
  # errors
  assert_fails dk cp "$name:/no/such/file" "$T/x"
  assert_match "$OUT" "[Nn]o such|[Cc]ould not find"
}

test_cp_stopped_container() {
  local img name
  img=$(busybox_image)
  name=$(ct_name)
  ct_run_d "$name" "$img" sh -c 'echo kept > /kept'
  wait_ct_status "$name" exited
  assert_ok dk cp "$name:/kept" "$T/kept"
  assert_eq kept "$(cat "$T/kept")" "cp out of an exited container"
  echo new > "$T/new"
  assert_ok dk cp "$T/new" "$name:/new"
  cap2 dk start -a "$name"
  assert_ok dk cp "$name:/new" "$T/back"
  assert_eq new "$(cat "$T/back")" "cp into an exited container"
}

test_rename() {
  local img name new
  img=$(busybox_image)
  name=$(ct_name)
  new=$(ct_name renamed)
  defer "dk rm -f $new"
  ct_run_d "$name" "$img" sleep 100
  assert_ok dk rename "$name" "$new"
  assert_eq "/$new" "$(ct_inspect "$CT_ID" '{{.Name}}')"
  assert_fails dk container inspect "$name"
  # to a name in use: 409
  ct_run_d "$(ct_name other)" "$img" sleep 100
  assert_fails dk rename "$new" "$(ct_name other)"
  assert_contains "$OUT" "Conflict."
  api POST "/containers/$new/rename?name=$(ct_name other)"
  assert_api_error 409 "Conflict"
}

test_pause_unpause() {
  local img name n1 n2 n3
  img=$(busybox_image)
  name=$(ct_name)
  mkdir "$T/d"
  # the container appends a byte every 50 ms: the file's size counts them
  ct_run_d "$name" -v "$T/d:/d" "$img" sh -c 'while :; do echo -n . >> /d/n; sleep 0.05; done'
  wait_for 10 test -s "$T/d/n"
  assert_ok dk pause "$name"
  assert_eq "paused true true" "$(ct_inspect "$name" '{{.State.Status}} {{.State.Paused}} {{.State.Running}}')" "State while paused"
  sleep 0.3
  n1=$(stat -c %s "$T/d/n")
  sleep 1
  n2=$(stat -c %s "$T/d/n")
  assert_eq "$n1" "$n2" "a paused container does not run"
  cap2 dk ps --filter "name=$name" --format '{{.Status}}'
  assert_match "$OUT" '\(Paused\)$' "ps shows (Paused)"
  # pausing twice: 409
  assert_fails dk pause "$name"
  assert_match "$OUT" "is already paused"
  assert_ok dk unpause "$name"
  assert_eq "running false" "$(ct_inspect "$name" '{{.State.Status}} {{.State.Paused}}')"
  sleep 0.5
  n3=$(stat -c %s "$T/d/n")
  [ "$n3" -gt "$n2" ] || fail "the container did not run again after unpause ($n2 -> $n3)"
}

test_pause_stopped_container_fails() {
  local img name
  img=$(busybox_image)
  name=$(ct_name)
  ct_create "$name" "$img" true
  assert_exit 1 dk pause "$name"
  assert_contains "$OUT" "Container $CT_ID is not running"
  api POST "/containers/$name/pause"
  assert_api_error 409 "is not running"
  assert_exit 1 dk unpause "$name"
  assert_contains "$OUT" "Container $CT_ID is not paused"
}

test_update() {
  local img name f
  img=$(busybox_image)
  name=$(ct_name)
  ct_run_d "$name" -m 32m "$img" sleep 100
  assert_ok dk update --memory 48m --cpus 1 --restart on-failure:3 "$name"
  assert_eq "$name" "$OUT"
  assert_eq "50331648 1000000000 on-failure 3" \
    "$(ct_inspect "$name" '{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.RestartPolicy.Name}} {{.HostConfig.RestartPolicy.MaximumRetryCount}}')"
  f=$(ct_cgroup_file "$name" memory memory.limit_in_bytes)
  if [ -e "$f" ]; then
    assert_eq 50331648 "$(cat "$f")" "the cgroup limit follows the update"
  else
    assert_eq 50331648 "$(cat "$(ct_cgroup_file "$name" unified memory.max)")"
  fi
  assert_ok dk update --restart always "$name"
  assert_eq always "$(ct_inspect "$name" '{{.HostConfig.RestartPolicy.Name}}')"
  assert_fails dk update --memory 48m "nosuch-$TEST_TAG"
  assert_contains "$OUT" "No such container"
}

test_wait() {
  local img name
  img=$(busybox_image)
  name=$(ct_name)
  ct_run_d "$name" "$img" sh -c 'sleep 1; exit 42'
  cap2 dk wait "$name"
  assert_success
  assert_eq 42 "$OUT" "docker wait prints the exit code"
  # on an exited container: at once
  cap2 dk wait "$name"
  assert_eq 42 "$OUT"
  api POST "/containers/$name/wait"
  assert_eq 200 "$API_STATUS"
  assert_json "$API_BODY" '.StatusCode == 42' "POST /wait"
}

test_container_prune() {
  local img run ex cr
  img=$(busybox_image)
  run=$(ct_name run); ex=$(ct_name ex); cr=$(ct_name cr)
  ct_run_d "$run" -l "bt.prune=$TEST_TAG" "$img" sleep 100
  ct_run_d "$ex" -l "bt.prune=$TEST_TAG" "$img" true
  local ex_id=$CT_ID
  ct_create "$cr" -l "bt.prune=$TEST_TAG" "$img" true
  local cr_id=$CT_ID
  wait_ct_status "$ex" exited
  cap2 dk container prune -f --filter "label=bt.prune=$TEST_TAG" --filter until=1h
  assert_success
  assert_not_contains "$OUT" "$ex_id" "prune --filter until=1h keeps a container made just now"
  cap2 dk container prune -f --filter "label=bt.prune=$TEST_TAG"
  assert_success
  assert_contains "$OUT" "Deleted Containers:"
  assert_contains "$OUT" "$ex_id"
  assert_contains "$OUT" "$cr_id"
  assert_match "$OUT" "Total reclaimed space: " "reclaimed space line"
  cap2 dk ps -a --filter "label=bt.prune=$TEST_TAG" --format '{{.Names}}'
  assert_eq "$run" "$OUT" "only the running container is left"
}

test_export() {
  local img name
  img=$(busybox_image)
  name=$(ct_name)
  ct_run_d "$name" "$img" sh -c 'echo exported > /marker'
  wait_ct_status "$name" exited
  dk export "$name" > "$T/fs.tar" || fail "docker export failed"
  tar -tf "$T/fs.tar" > "$T/list"
  grep -qx 'bin/busybox' "$T/list" || fail "bin/busybox missing from the export: $(head -n 20 "$T/list")"
  assert_eq exported "$(tar -xOf "$T/fs.tar" marker)" "the container's change is in the export"
}

test_diff() {
  local img name
  img=$(busybox_image)
  name=$(ct_name)
  ct_run_d "$name" "$img" sh -c 'echo x > /added; rm /etc/hosts.bt-none 2>/dev/null; echo y >> /etc/group'
  wait_ct_status "$name" exited
  cap2 dk diff "$name"
  assert_success
  assert_match "$OUT" '^A /added$' "an added file"
  assert_match "$OUT" '^C /etc/group$' "a changed file"
  assert_match "$OUT" '^C /etc$' "its folder"
}

# -------------------------------------------------------------- errors

test_run_unknown_image() {
  # a registry on a closed loopback port: no traffic leaves the machine
  local ref=localhost:1/bt-no-such-image:$TEST_TAG
  assert_exit 125 dk run --rm "$ref" true
  assert_contains "$OUT" "Unable to find image '$ref' locally"
  assert_match "$OUT" "docker: Error response from daemon: .+"
  assert_fails dk create "$ref"
  assert_match "$OUT" "Unable to find image|No such image"
  api POST "/containers/create" -H 'Content-Type: application/json' -d "{\"Image\": \"$ref\"}"
  assert_api_error 404 "No such image: $ref"
}

test_unknown_container_every_verb() {
  local c=nosuch-$TEST_TAG verb
  local -a verbs=(start stop kill restart rm pause unpause logs top wait port diff export)
  for verb in "${verbs[@]}"; do
    cap dk "$verb" "$c"
    assert_eq 1 "$RC" "docker $verb $c exit status"
    assert_contains "$OUT" "No such container: $c" "docker $verb"
  done
  cap dk container inspect "$c"
  assert_eq 1 "$RC"
  assert_contains "$OUT" "No such container: $c" "docker container inspect"
  for verb in "exec $c true" "rename $c $c-2" "update --cpus 1 $c" "cp $c:/x $T/x" "stats --no-stream $c" "attach $c"; do
    # shellcheck disable=SC2086
    cap dk $verb
    assert_ne 0 "$RC" "docker $verb"
    assert_match "$OUT" "No such container|failed to rename container named $c" "docker $verb"
  done
  for verb in json top logs changes export stats; do
    api GET "/containers/$c/$verb?stream=false&stdout=1"
    assert_api_error 404 "No such container: $c"
  done
  # (attach left out: dockerd answers its 404 as a raw stream)
  for verb in start stop restart kill pause unpause wait "resize?h=10&w=10"; do
    api POST "/containers/$c/$verb"
    assert_api_error 404 "No such container: $c"
  done
  api DELETE "/containers/$c"
  assert_api_error 404 "No such container: $c"
}

test_exec_in_stopped_container_fails() {
  local img name
  img=$(busybox_image)
  name=$(ct_name)
  ct_create "$name" "$img" true
  assert_exit 1 dk exec "$name" true
  assert_contains "$OUT" "Container $CT_ID is not running"
  api POST "/containers/$name/exec" -H 'Content-Type: application/json' -d '{"Cmd": ["true"]}'
  assert_api_error 409 "is not running"
}

test_run_invalid_options() {
  local img
  img=$(busybox_image)
  assert_exit 125 dk run --restart bogus "$img" true
  assert_contains "$OUT" "invalid restart policy"
  assert_exit 125 dk run --rm -m 1k "$img" true
  assert_contains "$OUT" "Minimum memory limit allowed is 6MB"
  assert_exit 125 dk run --cap-add FOO "$img" true
  assert_contains "$OUT" 'unknown capability: "CAP_FOO"'
  # --rm with a restart policy
  assert_exit 125 dk run --rm --restart always "$img" true
  assert_match "$OUT" "[Cc]onflicting options"
  # nothing was left behind by the failures
  cap2 dk ps -aq --filter "ancestor=$img" --filter status=created
  assert_eq "" "$OUT" "no container left by failed runs"
}

test_create_api_errors() {
  local img
  img=$(busybox_image)
  # (berthd: 400; dockerd 20.10 answers 500 to a body that is not JSON)
  api POST "/containers/create" -H 'Content-Type: application/json' -d '{not json'
  assert_api_error '400|500'
  api POST "/containers/create" -H 'Content-Type: application/json' -d '{"Image": ""}'
  assert_api_error '400|404'
  api POST "/containers/create?name=$(ct_name)" -H 'Content-Type: application/json' \
    -d "{\"Image\": \"$img\", \"HostConfig\": {\"Memory\": 1024}}"
  assert_api_error 400 "Minimum memory limit allowed is 6MB"
  cap2 dk ps -aq --filter "name=$(ct_name)"
  assert_eq "" "$OUT" "no container left by a refused create"
}

test_health_checks() {
  local img ok bad i
  img=$(busybox_image)
  ok=$(ct_name ok)
  bad=$(ct_name bad)
  ct_run_d "$ok" --health-cmd 'test -f /tmp/ready' --health-interval 200ms --health-retries 100 "$img" \
    sh -c 'sleep 1; touch /tmp/ready; sleep 100'
  ct_run_d "$bad" --health-cmd 'echo sick; exit 1' --health-interval 200ms --health-retries 2 "$img" sleep 100
  ct_run_d "$(ct_name st)" --health-cmd true --health-interval 1h "$img" sleep 100
  assert_eq starting "$(ct_inspect "$(ct_name st)" '{{.State.Health.Status}}')" "health before the first probe"
  for i in $(seq 1 50); do
    [ "$(ct_inspect "$ok" '{{.State.Health.Status}}')" = healthy ] &&
      [ "$(ct_inspect "$bad" '{{.State.Health.Status}}')" = unhealthy ] && break
    sleep 0.2
  done
  assert_eq healthy "$(ct_inspect "$ok" '{{.State.Health.Status}}')" "a passing check"
  assert_eq unhealthy "$(ct_inspect "$bad" '{{.State.Health.Status}}')" "a failing check"
  assert_json "$(dk inspect -f '{{json .State.Health}}' "$bad")" \
    '.FailingStreak >= 2 and (.Log | length) >= 1 and (.Log | length) <= 5 and .Log[-1].ExitCode == 1
     and (.Log[-1].Output | startswith("sick"))' "the failing check's log"
  cap dk ps --filter "name=$bad" --format '{{.Status}}'
  assert_contains "$OUT" "(unhealthy)"
  cap dk ps --filter health=unhealthy --format '{{.Names}}'
  assert_contains "$OUT" "$bad"
  assert_not_contains "$OUT" "$ok"
  cap dk ps --filter health=healthy --format '{{.Names}}'
  assert_contains "$OUT" "$ok"
}

test_ps_size() {
  local img name
  img=$(busybox_image)
  name=$(ct_name)
  ct_run_d "$name" "$img" sh -c 'head -c 300000 /dev/zero > /big; sleep 100'
  for _ in $(seq 1 50); do dk exec "$name" test -f /big && break; sleep 0.1; done
  sleep 0.3
  cap dk ps --size --filter "name=$name" --format '{{.Size}}'
  assert_match "$OUT" '^(29[0-9]|30[0-9])kB' "ps --size shows the writable layer"
}

test_stop_and_rm_paused_container() {
  local img a b
  img=$(busybox_image)
  a=$(ct_name a)
  b=$(ct_name b)
  ct_run_d "$a" "$img" sleep 100
  ct_run_d "$b" "$img" sleep 100
  dk pause "$a" "$b" >/dev/null
  assert_eq paused "$(ct_state "$a" Status)"
  cap2 dk stop -t 1 "$a"
  assert_success "docker stop of a paused container"
  assert_eq exited "$(ct_state "$a" Status)"
  cap2 dk rm -f "$b"
  assert_success "docker rm -f of a paused container"
  assert_exit 1 dk inspect "$b"
}

test_system_prune() {
  local img run ex dangling
  img=$(busybox_image)
  run=$(ct_name run)
  ex=$(ct_name ex)
  ct_run_d "$run" "$img" sleep 100
  cap2 dk run --name "$ex" "$img" true
  assert_success
  # a dangling image: untagged, used by no container
  mkimage "$T/dangling.tar"
  dangling=$MKIMAGE_ID
  cap dk load -i "$T/dangling.tar"
  assert_success
  cap2 dk system prune -f
  assert_success "docker system prune"
  assert_eq "running" "$(ct_state "$run" Status)" "the running container is kept"
  assert_exit 1 dk inspect "$ex"
  assert_exit 1 dk image inspect "$dangling"
  dk image inspect "$img" >/dev/null || fail "the image a container uses is kept"
}

test_create_bad_input() {
  local img
  img=$(busybox_image)
  # (dockerd 20.10 answers malformed JSON with a 500; berthd with a 400)
  local bad_json=400
  is_berthd || bad_json='400|500'
  api POST /containers/create -H 'Content-Type: application/json' --data-binary '{"Image": '
  assert_api_error "$bad_json"
  api POST /containers/create -H 'Content-Type: application/json' --data-binary '[1, 2]'
  assert_api_error "$bad_json"
  api POST "/containers/create?name=bad%2Fname" -H 'Content-Type: application/json' \
    --data-binary "{\"Image\": \"$img\", \"Cmd\": [\"true\"]}"
  assert_api_error 400 "Invalid container name"
  api POST /containers/create -H 'Content-Type: application/json' \
    --data-binary "{\"Image\": \"$img\", \"Cmd\": \"true\", \"HostConfig\": {\"Memory\": \"lots\"}}"
  assert_api_error "$bad_json"
  api POST /containers/nosuch/start
  assert_api_error 404 "No such container"
  assert_daemon_answers
}

run_daemon_tests "$@"
