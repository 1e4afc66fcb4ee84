#!/bin/bash
# berthd-streams.sh: the stdio streams of containers through the real
# docker CLI: run -i with piped stdin (small, 1 MiB byte-exact, half-close),
# separate stdout/stderr, TTYs (-t, -it on a pseudo-terminal, resize),
# attach, start -ai, exec (output, exit codes, -e -w -u -i -t -d, paused
# containers, the exec inspect API), logs of a TTY container, wait, and the
# raw framing of POST /containers/{id}/attach.
#
# Interactive terminals are driven by pty_run (tests/lib/containerlib.sh).
# Runs against berthd (default) or, to validate the tests, Debian's dockerd:
#   DAEMON=dockerd tests/run integration 'berthd-streams*'
: "${TEST_TIMEOUT:=60}"
. "$(dirname "$0")/../lib/testlib.sh"
. "$(dirname "$0")/../lib/daemonlib.sh"
. "$(dirname "$0")/../lib/containerlib.sh"

# ------------------------------------------------------------- run -i

test_run_stdin_piped() {
  local img
  img=$(busybox_image)
  RC=0
  OUT=$(echo hi | dk run -i --rm "$img" cat 2>&1) || RC=$?
  assert_eq 0 "$RC" "echo hi | docker run -i cat"
  assert_eq hi "$OUT"
  # without -i the container's stdin is empty
  OUT=$(echo hi | dk run --rm "$img" sh -c 'cat; echo end' 2>&1)
  assert_eq end "$OUT" "without -i stdin is not forwarded"
}

test_run_stdin_large_byte_exact() {
  local img sum
  img=$(busybox_image)
  head -c 1048576 /dev/urandom > "$T/in"
  sum=$(md5sum < "$T/in" | cut -d' ' -f1)
  dk run -i --rm "$img" cat < "$T/in" > "$T/out" 2>"$T/err" || fail "docker run -i cat failed: $(cat "$T/err")"
  assert_eq 1048576 "$(stat -c %s "$T/out")" "bytes through cat"
  assert_eq "$sum" "$(md5sum < "$T/out" | cut -d' ' -f1)" "1 MiB through cat, byte for byte"
  # and the container sees the same bytes
  cap2 dk run -i --rm "$img" md5sum < "$T/in"
  assert_eq "$sum  -" "$OUT" "md5sum inside the container"
}

test_run_stdin_half_close() {
  local img
  img=$(busybox_image)
  RC=0
  OUT=$(printf 'a\nb\n' | dk run -i --rm "$img" sh -c 'cat; echo done' 2>&1) || RC=$?
  assert_eq 0 "$RC"
  assert_eq "$(printf 'a\nb\ndone')" "$OUT" "output after stdin's end still arrives"
  # output long after the end of stdin
  OUT=$(printf 'x\n' | dk run -i --rm "$img" sh -c 'cat; sleep 1; echo later; exit 4' 2>&1) || RC=$?
  assert_eq 4 "$RC" "exit code after a half-close"
  assert_eq "$(printf 'x\nlater')" "$OUT"
}

test_run_stdout_stderr_separated() {
  local img
  img=$(busybox_image)
  OUT=$(dk run --rm "$img" sh -c 'echo out; echo err >&2' 2>/dev/null)
  assert_eq out "$OUT" "stdout only"
  OUT=$(dk run --rm "$img" sh -c 'echo out; echo err >&2' 2>&1 >/dev/null)
  assert_eq err "$OUT" "stderr only"
  # interleaved lines keep their order within each stream
  dk run --rm "$img" sh -c 'for i in 1 2 3 4 5 6 7 8 9 10; do echo o$i; echo e$i >&2; done' > "$T/o" 2> "$T/e"
  assert_eq "$(seq 1 10 | sed 's/^/o/')" "$(cat "$T/o")"
  assert_eq "$(seq 1 10 | sed 's/^/e/')" "$(cat "$T/e")"
  # -a: only the streams asked for
  OUT=$(dk run --rm -a stderr "$img" sh -c 'echo out; echo err >&2' 2>&1)
  assert_eq err "$OUT" "-a stderr"
}

# ---------------------------------------------------------------- TTY

test_run_tty_output() {
  local img
  img=$(busybox_image)
  dk run -t --rm "$img" sh -c 'echo hi; echo err >&2' > "$T/out" 2>"$T/err"
  assert_eq "$(printf 'hi\r\nerr\r\n' | od -An -c)" "$(od -An -c < "$T/out")" "TTY output: \\r\\n, stderr merged into stdout"
  assert_eq "" "$(cat "$T/err")" "nothing on stderr with a TTY"
  assert_exit 3 dk run -t --rm "$img" sh -c 'exit 3'
  dk run -t --rm "$img" sh -c 'test -t 0 && test -t 1 && echo tty; tty' > "$T/out"
  assert_match "$(tr -d '\r' < "$T/out")" '^tty$' "stdin and stdout are terminals"
  assert_match "$(tr -d '\r' < "$T/out")" '^/dev/pts/[0-9]+$' "tty name"
}

test_run_interactive_tty() {
  local img
  img=$(busybox_image)
  pty_run 'expect:# ' 'send:echo $((6*7))\r' 'expect:\r\n42\r\n' 'send:exit 5\r' -- dk run -it --rm "$img" sh
  assert_eq 5 "$RC" "exit code of docker run -it"
  assert_contains "$PTY_OUT" "42" "the shell's answer"
  # ^D ends the shell
  pty_run 'expect:# ' 'send:\x04' -- dk run -it --rm "$img" sh
  assert_eq 0 "$RC" "^D ends docker run -it"
}

test_run_interactive_detach_keys() {
  local img name
  img=$(busybox_image)
  name=$(ct_name)
  defer "dk rm -f $name"
  # ctrl-p ctrl-q detaches the client; the container keeps running
  pty_run 'expect:# ' 'send:echo a\x10b\r' 'expect:\r\na.?b\r\n' 'send:\x10\x11' -- dk run -it --name "$name" "$img" sh
  assert_eq 0 "$RC" "docker run -it after the detach keys"
  assert_eq running "$(ct_state "$name" Status)" "the container after the client detached"
  # custom keys through docker attach
  pty_run 'send:\r' 'expect:# ' 'send:\x18' -- dk attach --detach-keys ctrl-x "$name"
  assert_contains "$PTY_OUT" "read escape sequence" "docker attach --detach-keys ctrl-x"
  assert_eq running "$(ct_state "$name" Status)" "the container after a second detach"
}

test_run_interactive_tty_resize() {
  local img
  img=$(busybox_image)
  pty_run -s 30x100 'expect:# ' 'send:stty size\r' 'expect:30 100\r\n' \
    'resize:40x120' 'sleep:1' 'send:stty size\r' 'expect:40 120\r\n' 'send:exit\r' \
    -- dk run -it --rm "$img" sh
  assert_eq 0 "$RC" "docker run -it with a resize"
}

test_logs_of_tty_container() {
  local img name
  img=$(busybox_image)
  name=$(ct_name)
  ct_run_d "$name" -t "$img" sh -c 'echo tty-out; echo tty-err >&2'
  wait_ct_status "$name" exited
  dk logs "$name" > "$T/out" 2> "$T/err"
  assert_eq "$(printf 'tty-out\r\ntty-err\r\n' | od -An -c)" "$(od -An -c < "$T/out")" "logs of a TTY container"
  assert_eq "" "$(cat "$T/err")" "no stderr in the log of a TTY container"
}

# ------------------------------------------------------ attach / start

test_attach_running_container() {
  local img name
  img=$(busybox_image)
  name=$(ct_name)
  ct_run_d "$name" -i "$img" sh -c 'read l; echo got:$l; echo to-err >&2; exit 7'
  assert_eq true "$(ct_state "$name" Running)"
  RC=0
  # (stdin stays open until the container has ended: dockerd 20.10 may drop
  # the output of an attach whose stdin ended first)
  (echo hello; sleep 1.5) | dk attach "$name" > "$T/out" 2> "$T/err" || RC=$?
  assert_eq 7 "$RC" "docker attach exits with the container's code"
  assert_eq got:hello "$(cat "$T/out")" "attach: stdin in, stdout out"
  assert_eq to-err "$(cat "$T/err")" "attach: stderr"
  assert_eq exited "$(ct_state "$name" Status)"
}

test_attach_sees_only_new_output() {
  local img name
  img=$(busybox_image)
  name=$(ct_name)
  ct_run_d "$name" -i "$img" sh -c 'echo before; read l; echo after-$l'
  wait_log "$name" before
  (echo x; sleep 1.5) | dk attach "$name" > "$T/out" 2>&1 || true
  assert_eq after-x "$(cat "$T/out")" "attach shows the output from now on"
}

test_start_attach_interactive() {
  local img name
  img=$(busybox_image)
  name=$(ct_name)
  ct_create "$name" -i "$img" sh -c 'while read l; do echo got:$l; done; echo eof'
  RC=0
  OUT=$(printf 'one\ntwo\n' | dk start -ai "$name" 2>&1) || RC=$?
  assert_eq 0 "$RC"
  assert_eq "$(printf 'got:one\ngot:two\neof')" "$OUT" "docker start -ai"
  # a second time: a fresh stdin
  OUT=$(printf 'three\n' | dk start -ai "$name" 2>&1)
  assert_eq "$(printf 'got:three\neof')" "$OUT" "docker start -ai again"
}

test_start_attach_tty() {
  local img name
  img=$(busybox_image)
  name=$(ct_name)
  ct_create "$name" -it "$img" sh
  pty_run 'expect:# ' 'send:echo tty-$((2*21))\r' 'expect:tty-42' 'send:exit 2\r' -- dk start -ai "$name"
  assert_eq 2 "$RC" "docker start -ai on a TTY container"
}

# --------------------------------------------------------------- exec

test_exec_output_and_exit_code() {
  local img name
  img=$(busybox_image)
  name=$(ct_name)
  ct_run_d "$name" "$img" sleep 100
  cap2 dk exec "$name" sh -c 'echo out; echo err >&2'
  assert_success
  assert_eq out "$OUT"
  assert_eq err "$ERR"
  assert_exit 5 dk exec "$name" sh -c 'exit 5'
  # (a missing binary: 127 from Docker 23 on, 126 from dockerd 20.10)
  cap dk exec "$name" /no/such/binary
  assert_match "$RC" '^12[67]$' "exit status of exec of a missing binary"
  assert_contains "$OUT" "no such file or directory"
  assert_exit 126 dk exec "$name" /etc/passwd
  # the exec runs in the container: same pid namespace, same hostname
  cap2 dk exec "$name" sh -c 'cat /proc/1/cmdline | tr "\0" " "; echo; hostname'
  assert_eq "$(printf 'sleep 100 \n%s' "${CT_ID:0:12}")" "$OUT" "exec sees the container"
}

test_exec_env_workdir_user() {
  local img name
  img=$(busybox_image)
  name=$(ct_name)
  ct_run_d "$name" -e FROM_RUN=r -w /tmp "$img" sleep 100
  cap2 dk exec -e X=1 -e FROM_RUN=over "$name" sh -c 'echo $X $FROM_RUN $BT_IMAGE_ENV; pwd'
  assert_eq "$(printf '1 over from-image\n/tmp')" "$OUT" "exec -e; the container's env and workdir"
  cap2 dk exec -w /etc "$name" pwd
  assert_eq /etc "$OUT" "exec -w"
  cap2 dk exec -u 1000 "$name" sh -c 'echo $(id -u):$(id -g)'
  assert_eq 1000:1000 "$OUT" "exec -u 1000"
  cap2 dk exec -u nobody:nogroup "$name" sh -c 'echo $(id -u):$(id -g)'
  assert_eq 65534:65534 "$OUT" "exec -u nobody:nogroup"
  # the container's user by default
  local u
  u=$(ct_name user)
  ct_run_d "$u" -u 1000 "$img" sleep 100
  cap2 dk exec "$u" id -u
  assert_eq 1000 "$OUT" "exec runs as the container's user"
}

test_exec_stdin() {
  local img name
  img=$(busybox_image)
  name=$(ct_name)
  ct_run_d "$name" "$img" sleep 100
  RC=0
  OUT=$(printf 'l1\nl2\n' | dk exec -i "$name" sh -c 'cat; echo done' 2>&1) || RC=$?
  assert_eq 0 "$RC"
  assert_eq "$(printf 'l1\nl2\ndone')" "$OUT" "exec -i"
  head -c 300000 /dev/urandom > "$T/in"
  dk exec -i "$name" cat < "$T/in" > "$T/out"
  assert_eq "$(md5sum < "$T/in")" "$(md5sum < "$T/out")" "300 kB through exec -i cat"
}

test_exec_tty() {
  local img name
  img=$(busybox_image)
  name=$(ct_name)
  ct_run_d "$name" "$img" sleep 100
  dk exec -t "$name" sh -c 'echo hi; tty' > "$T/out"
  assert_match "$(head -n1 "$T/out" | od -An -c)" 'h +i +\\r +\\n' "exec -t: \\r\\n"
  assert_match "$(tr -d '\r' < "$T/out")" '^/dev/pts/[0-9]+$' "exec -t gets a terminal"
  pty_run -s 20x70 'expect:# ' 'send:stty size; echo x$((3*3))\r' 'expect:20 70\r\nx9' 'send:exit 4\r' \
    -- dk exec -it "$name" sh
  assert_eq 4 "$RC" "exec -it exit code"
}

test_exec_detached() {
  local img name
  img=$(busybox_image)
  name=$(ct_name)
  ct_run_d "$name" "$img" sleep 100
  capf dk exec -d "$name" sh -c 'sleep 1; echo written > /tmp/f'
  assert_success
  assert_eq "" "$OUT" "exec -d prints nothing"
  wait_for 10 dk exec "$name" test -s /tmp/f || fail "the detached exec did not run"
  assert_eq written "$(dk exec "$name" cat /tmp/f)"
}

test_exec_in_paused_container_fails() {
  local img name
  img=$(busybox_image)
  name=$(ct_name)
  ct_run_d "$name" "$img" sleep 100
  assert_ok dk pause "$name"
  assert_exit 1 dk exec "$name" true
  assert_contains "$OUT" "Container $name is paused, unpause the container before exec"
  api POST "/containers/$name/exec" -H 'Content-Type: application/json' -d '{"Cmd": ["true"]}'
  assert_api_error 409 "is paused"
  assert_ok dk unpause "$name"
  assert_ok dk exec "$name" true
}

test_exec_inspect_api() {
  local img name eid
  img=$(busybox_image)
  name=$(ct_name)
  ct_run_d "$name" "$img" sleep 100
  api POST "/containers/$name/exec" -H 'Content-Type: application/json' \
    -d '{"Cmd": ["sh", "-c", "echo x; exit 3"], "AttachStdout": true, "AttachStderr": true}'
  assert_eq 201 "$API_STATUS" "POST /containers/{id}/exec"
  eid=$(printf '%s' "$API_BODY" | jq -r .Id)
  assert_match "$eid" '^[0-9a-f]{64}$' "exec id"
  api GET "/exec/$eid/json"
  assert_eq 200 "$API_STATUS"
  assert_json "$API_BODY" --arg c "$CT_ID" --arg e "$eid" '
    .ID == $e and .Running == false and .ExitCode == null and .ContainerID == $c and
    .ProcessConfig.entrypoint == "sh" and .ProcessConfig.arguments == ["-c", "echo x; exit 3"]' "exec before its start"
  api POST "/exec/$eid/start" -H 'Content-Type: application/json' -d '{"Detach": false, "Tty": false}'
  assert_eq 200 "$API_STATUS" "POST /exec/{id}/start"
  assert_contains "$API_BODY" "x" "the exec's output"
  api GET "/exec/$eid/json"
  assert_json "$API_BODY" '.Running == false and .ExitCode == 3' "exec after its end"
  # a running exec
  api POST "/containers/$name/exec" -H 'Content-Type: application/json' -d '{"Cmd": ["sleep", "30"]}'
  eid=$(printf '%s' "$API_BODY" | jq -r .Id)
  api POST "/exec/$eid/start" -H 'Content-Type: application/json' -d '{"Detach": true}'
  assert_match "$API_STATUS" '^20[04]$' "detached exec start"
  api GET "/exec/$eid/json"
  assert_json "$API_BODY" '.Running == true and .Pid > 0' "a running exec"
  # starting it again: 409
  api POST "/exec/$eid/start" -H 'Content-Type: application/json' -d '{"Detach": true}'
  assert_api_error 409
  api GET "/exec/nosuchexec$TEST_TAG/json"
  assert_api_error 404 "No such exec instance"
}

# --------------------------------------------------------------- wait

test_wait_for_later_exit() {
  local img name t0
  img=$(busybox_image)
  name=$(ct_name)
  ct_run_d "$name" "$img" sh -c 'sleep 2; exit 12'
  t0=$(date +%s%N)
  cap2 dk wait "$name"
  assert_success
  assert_eq 12 "$OUT"
  [ $(( ($(date +%s%N) - t0) / 1000000 )) -ge 1000 ] || fail "docker wait returned before the exit"
  # several waiters at once
  local n2
  n2=$(ct_name 2)
  ct_run_d "$n2" "$img" sh -c 'sleep 1; exit 13'
  dk wait "$n2" > "$T/w1" &
  dk wait "$n2" > "$T/w2" &
  wait
  assert_eq 13 "$(cat "$T/w1")"
  assert_eq 13 "$(cat "$T/w2")"
}

test_wait_conditions_api() {
  local img name
  img=$(busybox_image)
  name=$(ct_name)
  ct_create "$name" "$img" sh -c 'exit 8'
  # condition=next-exit on a created container waits for its run
  api POST "/containers/$name/wait?condition=not-running"
  assert_eq 200 "$API_STATUS"
  assert_json "$API_BODY" '.StatusCode == 0' "not-running on a created container answers at once"
  ( sleep 1; dk start "$name" >/dev/null ) &
  api POST "/containers/$name/wait?condition=next-exit"
  wait
  assert_eq 200 "$API_STATUS"
  assert_json "$API_BODY" '.StatusCode == 8' "next-exit"
}

# ------------------------------------------------------ raw attach API

# _http_body FILE: the bytes after the first blank line (the HTTP headers)
_http_body() {
  perl -e 'binmode STDIN; binmode STDOUT; local $/; my $r = <STDIN>; my $i = index($r, "\r\n\r\n"); print substr($r, $i + 4) if $i >= 0' < "$1"
}

test_attach_api_framing() {
  local img name
  img=$(busybox_image)
  name=$(ct_name)
  defer "dk rm -f $name"
  cap2 dk run --name "$name" "$img" sh -c 'echo out; sleep 0.3; echo err12 >&2'
  assert_success
  raw_http "POST /containers/$name/attach?stream=0&stdout=1&stderr=1&logs=1 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n"
  assert_eq 0 "$RAW_RC" "the daemon closes the stream after the logs"
  assert_match "$(head -n1 "$RAW_FILE" | tr -d '\r')" '^HTTP/1.1 (101 (UPGRADED|Switching Protocols)|200 OK)$' "status line"
  assert_match "$(tr -d '\r' < "$RAW_FILE")" '(^|\n)Content-Type: application/vnd.docker.(raw|multiplexed)-stream' "Content-Type"
  _http_body "$RAW_FILE" > "$T/body"
  # stdout frame: 01 00 00 00, length 4 big-endian, "out\n"; stderr: 02 ...
  assert_eq "$(printf '\1\0\0\0\0\0\0\4out\n\2\0\0\0\0\0\0\6err12\n' | od -An -tx1)" "$(od -An -tx1 < "$T/body")" \
    "8-byte framed stdout and stderr"
  # only stderr asked for
  raw_http "POST /containers/$name/attach?stream=0&stdout=0&stderr=1&logs=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
  _http_body "$RAW_FILE" > "$T/body"
  assert_eq "$(printf '\2\0\0\0\0\0\0\6err12\n' | od -An -tx1)" "$(od -An -tx1 < "$T/body")" "stderr=1 only"
}

test_attach_api_tty_raw() {
  local img name
  img=$(busybox_image)
  name=$(ct_name)
  defer "dk rm -f $name"
  dk run -t --name "$name" "$img" sh -c 'echo tty1; echo tty2 >&2' > /dev/null
  raw_http "POST /containers/$name/attach?stream=0&stdout=1&stderr=1&logs=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
  assert_eq 0 "$RAW_RC"
  assert_match "$(tr -d '\r' < "$RAW_FILE")" '(^|\n)Content-Type: application/vnd.docker.raw-stream' "Content-Type of a TTY stream"
  _http_body "$RAW_FILE" > "$T/body"
  assert_eq "$(printf 'tty1\r\ntty2\r\n' | od -An -tx1)" "$(od -An -tx1 < "$T/body")" "raw bytes, no frame headers"
}

test_logs_api_framing() {
  local img name
  img=$(busybox_image)
  name=$(ct_name)
  defer "dk rm -f $name"
  dk run --name "$name" "$img" sh -c 'echo o; echo e >&2' >/dev/null 2>&1
  raw_http "GET /containers/$name/logs?stdout=1&stderr=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
  assert_match "$(head -n1 "$RAW_FILE" | tr -d '\r')" '^HTTP/1.1 200 OK$'
  _http_body "$RAW_FILE" > "$T/body"
  # (the body may be chunked: look for the frames inside it)
  assert_contains "$(od -An -tx1 < "$T/body" | tr -s ' \n' ' ')" "01 00 00 00 00 00 00 02 6f 0a" "stdout frame in /logs"
  assert_contains "$(od -An -tx1 < "$T/body" | tr -s ' \n' ' ')" "02 00 00 00 00 00 00 02 65 0a" "stderr frame in /logs"
}

run_daemon_tests "$@"
