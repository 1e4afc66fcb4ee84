#!/bin/bash
# berth-cli-containers.sh: the container commands of berth's own CLI
# (run, create, start, stop, kill, restart, rm, ps, logs, exec, wait,
# inspect, top, pause, unpause, rename) against a Docker-API daemon: the
# streams (attach and exec over hijacked connections, stdin, the 8-byte
# framing, -t with a terminal from script(1)), exit codes like docker's
# (125 daemon errors, 126/127 for commands that cannot run, the container's
# own otherwise), and the create body (every run option must arrive in the
# daemon's inspect output).
#
# Runs against berthd (default) or, as the reference, Debian's dockerd:
#   DAEMON=dockerd tests/run integration 'berth-cli-containers*'
# Containers run with --network none (dockerd here has no bridge).
: "${TEST_TIMEOUT:=120}"
. "$(dirname "$0")/../lib/testlib.sh"
. "$(dirname "$0")/../lib/daemonlib.sh"

BERTH_CLI=${BERTH_CLI:-$(dirname "$RUNTIME")/berth}

bt() { timeout 60 "$BERTH_CLI" -H "$DOCKER_HOST" "$@"; }

# an image for this test: busybox, loaded; IMG = its name
setup_image() {
  IMG=$(img_name):1
  mkimage -t "$IMG" "$T/img.tar"
  IMG_ID=$MKIMAGE_ID
  cap dk load -i "$T/img.tar"
  assert_success "docker load"
}

# ctr NAME: a container name of this test, removed afterwards
ctr() {
  local n="$TEST_TAG-$1"
  defer "timeout 30 '$BERTH_CLI' -H '$DOCKER_HOST' rm -f '$n' >/dev/null 2>&1"
  printf '%s' "$n"
}

# in_tty COMMAND: runs the shell COMMAND on a 33x111 pseudo-terminal
in_tty() {
  timeout 60 script -qec "stty rows 33 cols 111; $1" /dev/null
}

# in_tty_typing TEXT COMMAND: in_tty, with the line TEXT typed after a
# second (script(1) stops copying output once its input ends: the input
# stays open a while longer)
in_tty_typing() {
  { sleep 1; printf '%s\n' "$1"; sleep 4; } | in_tty "$2"
}

state_of() { dk inspect -f '{{.State.Status}}' "$1" 2>/dev/null; }

# ----------------------------------------------------------------- run

test_run_streams_and_exit_code() {
  setup_image
  cap2 bt run --rm --network none "$IMG" sh -c 'echo out; echo err >&2; exit 3'
  assert_eq 3 "$RC" "the container's exit code"
  assert_eq out "$OUT" "stdout"
  assert_eq err "$ERR" "stderr"
  cap2 bt run --rm --network none "$IMG" echo hello
  assert_success
  assert_eq hello "$OUT"
  # a large output arrives whole (many frames)
  cap2 bt run --rm --network none "$IMG" sh -c 'seq 1 20000'
  assert_success
  assert_eq "$(seq 1 20000 | md5sum)" "$(printf '%s\n' "$OUT" | md5sum)" "large output"
  # --rm: nothing left
  assert_eq "" "$(dk ps -aq --filter "ancestor=$IMG")" "containers left behind by --rm"
}

test_run_stdin() {
  setup_image
  cap2 bt run -i --rm --network none "$IMG" sh -c 'cat; echo end'  <<< "from stdin"
  assert_success
  assert_eq "$(printf 'from stdin\nend')" "$OUT" "stdin reaches the container, EOF ends cat"
  # without -i the container gets no stdin
  cap2 bt run --rm --network none "$IMG" sh -c 'cat; echo end' <<< "ignored"
  assert_success
  assert_eq end "$OUT"
}

test_run_exit_codes_like_docker() {
  local name
  setup_image
  name=$(ctr nf)
  cap bt run --name "$name" --network none "$IMG" no-such-command
  assert_eq 127 "$RC" "a command that does not exist"
  assert_contains "$OUT" "no-such-command"
  cap bt run --rm --network none "$IMG" /etc
  assert_eq 126 "$RC" "a command that cannot be executed"
  cap bt run --rm --network none "no-such-image-$TEST_TAG"
  assert_eq 125 "$RC" "an unknown image"
  assert_contains "$OUT" "Error response from daemon"
  cap bt run --rm --network none -m lots "$IMG" true
  assert_eq 125 "$RC" "an invalid option value"
  cap bt run --rm --network none --frobnicate "$IMG" true
  assert_eq 125 "$RC" "an unknown option"
  cap bt run --rm --init --network none "$IMG" sh -c 'kill -9 $$'
  assert_eq 137 "$RC" "killed by a signal: 128 + 9"
}

test_run_detached_ps_logs_stop_rm() {
  local name id
  setup_image
  name=$(ctr d)
  cap bt run -d --name "$name" --network none "$IMG" sh -c 'trap "exit 0" TERM; echo one; echo two >&2; while :; do sleep 0.1; done'
  assert_success "run -d"
  id=$OUT
  assert_match "$id" '^[0-9a-f]{64}$' "run -d prints the id"
  wait_for 10 eval '[ "$(state_of '"$name"')" = running ]' || fail "not running: $(state_of "$name")"
  cap bt ps
  assert_success
  assert_match "$OUT" "^CONTAINER ID +IMAGE +COMMAND +CREATED +STATUS +PORTS +NAMES" "ps header"
  assert_match "$OUT" "^${id:0:12} +$IMG +\"sh -c .* Up .* $name\$" "ps row"
  cap bt ps -q
  assert_contains "$OUT" "${id:0:12}"
  wait_for 10 eval '[ -n "$(bt logs '"$name"' 2>&1)" ]'
  cap2 bt logs "$name"
  assert_success
  assert_eq one "$OUT" "logs: stdout"
  assert_eq two "$ERR" "logs: stderr"
  cap2 bt logs --tail 1 -t "$name"
  assert_match "$OUT$ERR" '^20[0-9-]+T[0-9:.]+Z (one|two)$' "logs -t --tail 1"
  cap bt stop -t 5 "$name"
  assert_success
  assert_eq "$name" "$OUT" "stop prints the name"
  assert_eq exited "$(state_of "$name")"
  cap bt wait "$name"
  assert_eq 0 "$OUT" "wait: the exit code"
  cap bt ps -a
  assert_match "$OUT" "Exited \(0\).* $name\$"
  cap bt ps
  assert_not_contains "$OUT" "$name" "a stopped container in ps without -a"
  cap bt rm "$name"
  assert_success
  assert_eq "$name" "$OUT"
  cap bt rm "$name"
  assert_eq 1 "$RC"
  assert_contains "$OUT" "No such container"
}

test_create_start_attach() {
  local name id
  setup_image
  name=$(ctr c)
  cap bt create --name "$name" --network none "$IMG" sh -c 'echo started; exit 7'
  assert_success
  id=$OUT
  assert_match "$id" '^[0-9a-f]{64}$'
  assert_eq created "$(state_of "$name")"
  cap2 bt start -a "$name"
  assert_eq 7 "$RC" "start -a: the container's exit code"
  assert_eq started "$OUT"
  cap bt start "$name"
  assert_success
  assert_eq "$name" "$OUT" "start prints the name"
  cap bt wait "$name"
  assert_eq 7 "$OUT"
  # start -a -i with a container created with -i
  name=$(ctr ci)
  cap bt create -i --name "$name" --network none "$IMG" sh -c 'read x; echo "got $x"'
  assert_success
  cap2 bt start -a -i "$name" <<< "input"
  assert_success
  assert_eq "got input" "$OUT"
}

# ----------------------------------------------------------------- exec

test_exec() {
  local name
  setup_image
  name=$(ctr e)
  cap bt run -d --name "$name" --network none -e FOO=bar "$IMG" sleep 1000
  assert_success
  cap2 bt exec "$name" sh -c 'echo $FOO; echo err >&2; exit 4'
  assert_eq 4 "$RC" "exec: the command's exit code"
  assert_eq bar "$OUT" "exec sees the container's env"
  assert_eq err "$ERR"
  cap2 bt exec -e X=1 -w /tmp -u nobody "$name" sh -c 'echo $X $(pwd) $(id -u)'
  assert_success
  assert_eq "1 /tmp 65534" "$OUT" "-e -w -u"
  cap2 bt exec -i "$name" sh -c 'tr a-z A-Z' <<< "shout"
  assert_success
  assert_eq SHOUT "$OUT" "exec -i"
  cap bt exec -d "$name" sh -c 'echo detached > /tmp/d'
  assert_success
  assert_eq "" "$OUT" "exec -d prints nothing"
  wait_for 10 bt exec "$name" test -f /tmp/d || fail "exec -d did not run"
  cap bt exec "$name" no-such-command
  assert_ne 0 "$RC"
  cap bt stop -t 0 "$name"
  cap bt exec "$name" true
  assert_ne 0 "$RC" "exec in a stopped container"
  assert_contains "$OUT" "Error response from daemon"
}

# ----------------------------------------------------------------- tty

test_tty() {
  command -v script >/dev/null || fail "script(1) is needed (util-linux)"
  setup_image
  # (the size goes in the create body, HostConfig.ConsoleSize, and by a
  # resize after the start: daemons older than API 1.42 only get the
  # latter, hence the sleep)
  cap in_tty "'$BERTH_CLI' -H '$DOCKER_HOST' run -t --rm --network none '$IMG' sh -c 'tty; sleep 0.5; stty size </dev/tty; echo x'"
  assert_success
  assert_contains "$OUT" $'/dev/pts/0\r\n' "a TTY, with its CRLF line ends"
  assert_contains "$OUT" $'33 111\r\n' "the terminal's size reached the container"
  # a resized terminal (SIGWINCH) is resized in the container too
  cap in_tty "(sleep 1.5; stty rows 40 cols 90 </dev/tty) & '$BERTH_CLI' -H '$DOCKER_HOST' run -t --rm --network none '$IMG' sh -c 'sleep 3; stty size </dev/tty'"
  assert_success
  assert_contains "$OUT" "40 90" "the new size after SIGWINCH"
  cap in_tty_typing 42 "'$BERTH_CLI' -H '$DOCKER_HOST' run -it --rm --network none '$IMG' sh -c 'read x; echo typed-\$x; exit 5'"
  assert_eq 5 "$RC" "run -it: the container's exit code"
  assert_contains "$OUT" "typed-42" "typed input reached the container"
  local name
  name=$(ctr t)
  cap bt run -d -t --name "$name" --network none "$IMG" sleep 1000
  assert_success
  cap in_tty "'$BERTH_CLI' -H '$DOCKER_HOST' exec -t '$name' sh -c 'sleep 0.5; stty size </dev/tty'"
  assert_success
  assert_contains "$OUT" "33 111" "exec -t: the terminal's size"
  # logs of a TTY container are raw (no frames)
  name=$(ctr tl)
  cap bt run -t --name "$name" --network none "$IMG" echo ttylog
  cap bt logs "$name"
  assert_eq $'ttylog\r' "$OUT" "TTY logs"
}

# ------------------------------------------------------- create options

test_create_options_reach_the_daemon() {
  local name runtime j
  setup_image
  name=$(ctr o)
  runtime=$(dk info -f '{{.DefaultRuntime}}')
  mkdir -p "$T/bind"
  cap bt create --name "$name" --network none -e A=1 -e B=two -w /tmp -u 1000:1000 --hostname hh \
    --entrypoint /bin/sh -v "$T/bind:/mnt/b:ro" -v /anon --tmpfs /run:size=1m --read-only -m 64m --cpus 1.5 \
    --pids-limit 50 --cap-add SYS_TIME --cap-drop NET_RAW --security-opt no-new-privileges \
    --restart on-failure:3 --init -l tier=front -l solo --stop-signal SIGUSR1 --stop-timeout 7 \
    --runtime "$runtime" "$IMG" -c 'echo hi'
  assert_success "create with every option"
  j=$(bt inspect "$name")
  assert_json "$j" '.[0].Config | .Env[0:2] == ["A=1","B=two"] and .WorkingDir == "/tmp" and .User == "1000:1000"
    and .Hostname == "hh" and .Entrypoint == ["/bin/sh"] and .Cmd == ["-c","echo hi"]
    and .Labels == {"tier":"front","solo":""} and .StopSignal == "SIGUSR1" and .StopTimeout == 7
    and (.Volumes | has("/anon")) and .Tty == false and .OpenStdin == false' "Config"
  assert_json "$j" --arg bind "$T/bind:/mnt/b:ro" --arg rt "$runtime" '.[0].HostConfig |
    .Binds == [$bind] and .Tmpfs == {"/run":"size=1m"} and .ReadonlyRootfs == true and .Memory == 67108864
    and .NanoCpus == 1500000000 and .PidsLimit == 50 and .CapAdd == ["SYS_TIME"] and .CapDrop == ["NET_RAW"]
    and .SecurityOpt == ["no-new-privileges"] and .RestartPolicy == {"Name":"on-failure","MaximumRetryCount":3}
    and .Init == true and .Runtime == $rt and .NetworkMode == "none" and .AutoRemove == false' "HostConfig"
  name=$(ctr o2)
  cap bt create --name "$name" --network none --rm -it "$IMG"
  assert_success
  assert_json "$(bt inspect "$name")" '.[0] | .HostConfig.AutoRemove == true and .Config.Tty == true
    and .Config.OpenStdin == true and .Config.Cmd == ["sh"] and .Config.Image != ""' "--rm -it, the image's Cmd"
}

# ------------------------------------------- lifecycle and inspection

test_kill_pause_top_rename_restart() {
  local name new
  setup_image
  name=$(ctr k)
  new=$(ctr k2)
  cap bt run -d --name "$name" --network none "$IMG" sh -c 'trap "echo usr1; exit 9" USR1; while :; do sleep 0.1; done'
  assert_success
  cap bt top "$name"
  assert_success
  assert_match "$OUT" '^UID +PID +PPID' "top titles"
  assert_contains "$OUT" "while :" "top shows the container's shell"
  cap bt pause "$name"
  assert_eq "$name" "$OUT"
  assert_eq paused "$(state_of "$name")"
  cap bt unpause "$name"
  assert_eq running "$(state_of "$name")"
  cap bt rename "$name" "$new"
  assert_success
  assert_eq "/$new" "$(dk inspect -f '{{.Name}}' "$new")"
  cap bt restart -t 1 "$new"
  assert_success
  assert_eq "$new" "$OUT"
  assert_eq running "$(state_of "$new")"
  cap bt kill -s USR1 "$new"
  assert_success
  cap bt wait "$new"
  assert_eq 9 "$OUT" "kill -s USR1: the trap's exit code"
  cap bt logs "$new"
  assert_contains "$OUT" usr1
  cap bt start "$new"
  cap bt kill "$new"
  assert_success
  cap bt wait "$new"
  assert_eq 137 "$OUT" "kill: SIGKILL by default"
}

test_inspect_container_then_image() {
  local name j
  setup_image
  name=$(ctr i)
  cap bt create --name "$name" --network none "$IMG" true
  assert_success
  j=$(bt inspect "$name" "$IMG")
  assert_json "$j" --arg n "/$name" --arg id "$IMG_ID" 'length == 2 and .[0].Name == $n and .[1].Id == $id'
  cap2 bt inspect "$name" "nothing-$TEST_TAG"
  assert_eq 1 "$RC" "a missing object"
  assert_contains "$ERR" "No such object: nothing-$TEST_TAG"
  assert_json "$OUT" 'length == 1' "the found ones are still printed"
}

test_logs_follow_until_exit() {
  local name
  setup_image
  name=$(ctr f)
  cap bt run -d --name "$name" --network none "$IMG" sh -c 'for i in 1 2 3; do echo l$i; sleep 0.3; done'
  assert_success
  cap2 bt logs -f "$name"
  assert_success "logs -f ends when the container exits"
  assert_eq "$(printf 'l1\nl2\nl3')" "$OUT"
  cap2 bt logs --tail 2 "$name"
  assert_eq "$(printf 'l2\nl3')" "$OUT" "--tail 2"
}

test_errors() {
  cap bt stop "nothing-$TEST_TAG"
  assert_eq 1 "$RC"
  assert_contains "$OUT" "No such container"
  cap bt logs "nothing-$TEST_TAG"
  assert_eq 1 "$RC"
  cap bt exec "nothing-$TEST_TAG" true
  assert_eq 1 "$RC"
  cap bt run
  assert_eq 125 "$RC" "run without an image"
  cap bt exec onlyone
  assert_eq 1 "$RC" "exec without a command"
  cap bt rename a
  assert_eq 1 "$RC"
  assert_daemon_answers
}

run_daemon_tests "$@"
