# shellcheck shell=bash
# containerlib.sh: helpers for the container suites (berthd-containers,
# berthd-streams, berthd-lifecycle). Source it after testlib.sh and
# daemonlib.sh.
#
#   busybox_image        builds the busybox test image once per suite (a
#                        docker-archive in $SUITE_TMP, made by mkimage.sh),
#                        loads it into the daemon of $DOCKER_HOST if that
#                        daemon does not have it yet, and prints its name.
#                        Image config: Cmd ["sh"], Env PATH and
#                        BT_IMAGE_ENV=from-image; users root, user (1000),
#                        nobody (65534).
#   ct_name [SUFFIX]     a container name unique to this test
#   ct_run_d NAME ARGS...  `docker run -d --name NAME ARGS...` (fails the
#                        test if it fails), removed after the test; CT_ID =
#                        the id it printed
#   ct_create NAME ARGS... the same with `docker create`
#   ct_state ID FIELD    a field of .State (Status, Running, ExitCode, Pid...)
#   ct_inspect ID GO-TEMPLATE   `docker container inspect -f`
#   wait_ct_status ID STATUS [SECONDS]   waits for .State.Status (fails after
#                        SECONDS, default 15)
#   wait_log ID TEXT [SECONDS]   waits until `docker logs ID` (stdout and
#                        stderr) contains TEXT (fails after SECONDS, default 10)
#   ct_cgroup_file ID CONTROLLER FILE   path on the host of FILE in the
#                        container's cgroup (from /proc/PID/cgroup of its
#                        init: cgroup v1 CONTROLLER, else the v2 hierarchy)

BT_BUSYBOX_IMAGE=bt-busybox:latest

busybox_image() {
  local tar=$SUITE_TMP/busybox-image.tar
  (
    flock 9
    if [ ! -s "$tar" ]; then
      mkimage -t "$BT_BUSYBOX_IMAGE" -x '.config.Env += ["BT_IMAGE_ENV=from-image"]' "$tar.part" >&2 &&
        mv "$tar.part" "$tar"
    fi
  ) 9> "$SUITE_TMP/.busybox-image.lock" || fail "busybox_image: mkimage failed"
  if ! dk image inspect "$BT_BUSYBOX_IMAGE" >/dev/null 2>&1; then
    (
      flock 9
      dk image inspect "$BT_BUSYBOX_IMAGE" >/dev/null 2>&1 || dk load -q -i "$tar" >&2
    ) 9> "$SUITE_TMP/.busybox-load.lock" || fail "busybox_image: docker load failed"
  fi
  printf '%s' "$BT_BUSYBOX_IMAGE"
}

ct_name() { printf '%s-%s' "${TEST_TAG:?}" "${1:-c}"; }

# _ct_new VERB NAME ARGS...
_ct_new() {
  local verb=$1 name=$2; shift 2
  defer "dk rm -f '$name'"
  capf dk "$verb" --name "$name" "$@"
  [ "$RC" -eq 0 ] || fail "docker $verb --name $name $* failed (exit $RC): $(printf '%s' "$OUT" | head -c 1000)"
  CT_ID=$(printf '%s\n' "$OUT" | tail -n1)
  printf '%s' "$CT_ID" | grep -Eq '^[0-9a-f]{64}$' || fail "docker $verb did not print a container id: $OUT"
}
ct_run_d() { _ct_new run "$1" -d "${@:2}"; }
ct_create() { _ct_new create "$@"; }

ct_inspect() { dk container inspect -f "$2" "$1"; }
ct_state() { dk container inspect -f "{{.State.$2}}" "$1"; }

_ct_status_is() { [ "$(ct_state "$1" Status 2>/dev/null)" = "$2" ]; }
wait_ct_status() {
  wait_for "${3:-15}" _ct_status_is "$1" "$2" ||
    fail "container $1 did not reach status $2 (now: $(ct_state "$1" Status 2>&1))"
}

_ct_log_has() { dk logs "$1" 2>&1 | grep -qF -- "$2"; }
wait_log() {
  wait_for "${3:-10}" _ct_log_has "$1" "$2" ||
    fail "'$2' did not appear in the log of $1: $(dk logs "$1" 2>&1 | tail -n 5)"
}

ct_cgroup_file() {
  local id=$1 ctl=$2 file=$3 pid path
  pid=$(ct_state "$id" Pid) || fail "cannot inspect $id"
  [ "${pid:-0}" -gt 0 ] || fail "container $id has no pid"
  path=$(awk -F: -v c="$ctl" '{ n = split($2, a, ","); for (i = 1; i <= n; i++) if (a[i] == c) print $3 }' "/proc/$pid/cgroup")
  if [ -n "$path" ]; then
    printf '/sys/fs/cgroup/%s%s/%s' "$ctl" "$path" "$file"
  else
    path=$(awk -F: '$1 == "0" { print $3 }' "/proc/$pid/cgroup")
    if [ -d /sys/fs/cgroup/unified ]; then
      printf '/sys/fs/cgroup/unified%s/%s' "$path" "$file"
    else
      printf '/sys/fs/cgroup%s/%s' "$path" "$file"
    fi
  fi
}

# pty_run [-s ROWSxCOLS] [-t SECONDS] STEP... -- CMD ARGS...: runs CMD on a
# new pseudo-terminal (its controlling terminal, size ROWSxCOLS, default
# 24x80) and plays the STEPs in order:
#   send:TEXT        writes TEXT (printf %b escapes: \r, \x04...)
#   expect:ERE       waits until the output since the last expect matches
#                    (Python regex); fails after SECONDS (default 15)
#   resize:ROWSxCOLS sets the terminal size (the CLI gets SIGWINCH)
#   sleep:SECS
# then waits for CMD to exit (SECONDS at most). PTY_OUT = everything CMD
# wrote, RC = its exit status (124: an expect or the exit timed out; 125:
# the driver failed).
pty_run() {
  local size=24x80 secs=15
  while [ $# -gt 0 ]; do
    case $1 in -s) size=$2; shift 2 ;; -t) secs=$2; shift 2 ;; *) break ;; esac
  done
  local -a steps=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do steps+=("$(printf '%b' "$1")"); shift; done
  [ "${1:-}" = -- ] && shift
  local -a cmd=("$@")
  [ "$(type -t "${cmd[0]}")" = function ] && [ "${cmd[0]}" = dk ] && cmd=(timeout -k 5 "$DK_TIMEOUT" "$DOCKER_BIN" "${cmd[@]:1}")
  RC=0
  /usr/bin/python3 - "$size" "$secs" "$T/.pty.out" "${#steps[@]}" "${steps[@]}" "${cmd[@]}" <<'EOF' || RC=$?
import os, pty, sys, time, re, select, struct, fcntl, termios, signal
size, secs, outf, nsteps = sys.argv[1], float(sys.argv[2]), sys.argv[3], int(sys.argv[4])
steps = sys.argv[5:5 + nsteps]
cmd = sys.argv[5 + nsteps:]
def winsz(fd, s):
    r, c = (int(x) for x in s.split("x"))
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", r, c, 0, 0))
pid, fd = pty.fork()
if pid == 0:
    try:
        winsz(0, size)
        os.execvp(cmd[0], cmd)
    finally:
        os._exit(125)
out = b""
mark = 0
def pump(timeout):
    global out
    r, _, _ = select.select([fd], [], [], timeout)
    if not r:
        return True
    try:
        data = os.read(fd, 65536)
    except OSError:
        return False
    if not data:
        return False
    out += data
    return True
rc = 0
try:
    winsz(fd, size)
    for st in steps:
        kind, _, arg = st.partition(":")
        if kind == "send":
            os.write(fd, arg.encode())
        elif kind == "sleep":
            end = time.time() + float(arg)
            while time.time() < end and pump(max(0.0, end - time.time())):
                pass
        elif kind == "resize":
            winsz(fd, arg)
            os.kill(pid, signal.SIGWINCH)
        elif kind == "expect":
            end = time.time() + secs
            rx = re.compile(arg.encode())
            while True:
                m = rx.search(out, mark)
                if m:
                    mark = m.end()
                    break
                left = end - time.time()
                if left <= 0 or not pump(min(left, 0.2)):
                    m = rx.search(out, mark)
                    if m:
                        mark = m.end()
                        break
                    sys.stderr.write("pty_run: timed out waiting for /%s/\n" % arg)
                    rc = 124
                    break
            if rc:
                break
        else:
            sys.stderr.write("pty_run: bad step %r\n" % st)
            rc = 125
            break
    end = time.time() + secs
    status = None
    while rc == 0:
        wpid, st = os.waitpid(pid, os.WNOHANG)
        if wpid == pid:
            status = st
            while pump(0.05):
                if not select.select([fd], [], [], 0)[0]:
                    break
            break
        if time.time() > end:
            sys.stderr.write("pty_run: the command did not exit\n")
            rc = 124
            break
        pump(0.1)
    if rc == 0:
        rc = os.waitstatus_to_exitcode(status)
        if rc < 0:
            rc = 128 - rc
finally:
    if rc != 0:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except OSError:
            pass
    with open(outf, "wb") as f:
        f.write(out)
sys.exit(rc)
EOF
  PTY_OUT=$(tr -d '\0' < "$T/.pty.out" 2>/dev/null)
  printf '+ pty_run %s => rc=%s\n' "${cmd[*]}" "$RC" >&2
  [ -z "$PTY_OUT" ] || printf '%s\n' "$PTY_OUT" | cat -v | sed 's/^/  pty| /' | head -n 40 >&2
  return 0
}
