# shellcheck shell=bash
# testlib.sh: a tiny test framework for the integration suites.
#
# A suite is a bash file that sources this library, defines functions named
# test_* and ends with `run_tests "$@"`. Each test runs in a fresh subshell
# (its own process group) with `set -eE`, an ERR trap that tells which
# command failed, a timeout (TEST_TIMEOUT, default 60 s), and these
# variables:
#   RUNTIME   absolute path of the runtime under test (from the environment)
#   T         a private temp folder for the test (deleted afterwards)
#   ROOT      $T/state: the runtime's --root for this test (`rt` passes it)
#   TEST_TAG  a short unique word; container ids and cgroup names start with it
# After each test, whatever happened, the runner deletes every container left
# under $ROOT (runtime kill + delete --force), kills whatever is left in the
# test's cgroups (/sys/fs/cgroup/*/berth-test/$TEST_TAG-*) and removes them,
# runs the commands registered with `defer`, kills the test's process group,
# unmounts anything mounted under $T, and deletes $T.
#
# Output, one line per test: "PASS: suite: test", "FAIL: suite: test: why"
# followed by the test's log indented, or "SKIP: suite: test: reason".
# The suite label is $SUITE_LABEL, else the file name without .sh.
# Env: TEST_FILTER (glob on test names), TEST_TIMEOUT, KEEP_TMP=1 (keep $T of
# failed tests), VERBOSE=1 (print logs of passing tests too).

TESTLIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$TESTLIB_DIR/../.." && pwd)
HELPERS_DIR=${HELPERS_DIR:-$REPO_ROOT/build/tests/helpers}
TEST_TIMEOUT=${TEST_TIMEOUT:-60}
RT_TIMEOUT=${RT_TIMEOUT:-30}
CG_PARENT=berth-test
SKIP_RC=77

# shellcheck source=mkbundle.sh
. "$TESTLIB_DIR/mkbundle.sh"

# ---------------------------------------------------------------- helpers

log() { printf '# %s\n' "$*" >&2; }
# trace: a line for the test's log only (never into captured output).
trace() { printf '[%s] %s\n' "$(_tl_elapsed)" "$*" >> "$T/.log"; }
_tl_elapsed() {
  local now=${EPOCHREALTIME/./}
  now=$(( (now - ${_TL_T0:-$now}) / 1000 ))
  printf '%d.%03ds' $((now / 1000)) $((now % 1000))
}

fail() {
  printf 'ASSERTION FAILED: %s\n' "$*" >&2
  printf '%s\n' "$*" > "$T/.why" 2>/dev/null || true
  exit 1
}

# skip REASON: only for missing kernel/hardware features.
skip() {
  printf 'SKIPPED: %s\n' "$*" >&2
  printf '%s\n' "$*" > "$T/.why" 2>/dev/null || true
  exit "$SKIP_RC"
}

# cap CMD...: runs CMD, OUT = stdout+stderr, RC = exit code. Never aborts.
cap() {
  RC=0
  OUT=$("$@" 2>&1) || RC=$?
  printf '+ %s  => rc=%s\n' "$*" "$RC" >&2
  [ -z "$OUT" ] || printf '%s\n' "$OUT" | sed 's/^/  | /' | head -n 60 >&2
  return 0
}

# cap2 CMD...: like cap but OUT = stdout only, ERR = stderr only.
cap2() {
  RC=0
  OUT=$("$@" 2>"$T/.cap2.err") || RC=$?
  ERR=$(cat "$T/.cap2.err")
  printf '+ %s  => rc=%s\n' "$*" "$RC" >&2
  [ -z "$OUT" ] || printf '%s\n' "$OUT" | sed 's/^/  1| /' | head -n 60 >&2
  [ -z "$ERR" ] || printf '%s\n' "$ERR" | sed 's/^/  2| /' | head -n 60 >&2
  return 0
}

# capf CMD...: like cap, but through a file: use it for commands that leave
# a process behind holding stdout (create, run -d, exec -d), which would make
# a $(...) capture hang. OUT/RC as for cap.
capf() {
  _CAPF_N=$(( ${_CAPF_N:-0} + 1 ))
  local f="$T/.capf.$_CAPF_N"
  RC=0
  "$@" > "$f" 2>&1 || RC=$?
  OUT=$(cat "$f")
  printf '+ %s  => rc=%s\n' "$*" "$RC" >&2
  [ -z "$OUT" ] || printf '%s\n' "$OUT" | sed 's/^/  | /' | head -n 60 >&2
  return 0
}

assert_eq() { # expected actual [msg]
  [ "$1" == "$2" ] || fail "${3:-values differ}: expected '$1', got '$2'"
}
assert_ne() { # unexpected actual [msg]
  [ "$1" != "$2" ] || fail "${3:-values equal}: did not expect '$2'"
}
assert_contains() { # haystack needle [msg]
  case "$1" in *"$2"*) ;; *) fail "${3:-missing text}: '$2' not found in: $(printf '%s' "$1" | head -c 1500)" ;; esac
}
assert_not_contains() { # haystack needle [msg]
  case "$1" in *"$2"*) fail "${3:-unexpected text}: '$2' found in: $(printf '%s' "$1" | head -c 1500)" ;; *) ;; esac
}
assert_match() { # haystack ERE [msg]
  printf '%s\n' "$1" | grep -Eq -- "$2" || fail "${3:-no match}: /$2/ not in: $(printf '%s' "$1" | head -c 1500)"
}
assert_no_match() { # haystack ERE [msg]
  ! printf '%s\n' "$1" | grep -Eq -- "$2" || fail "${3:-unexpected match}: /$2/ in: $(printf '%s' "$1" | head -c 1500)"
}
assert_success() { # [msg]: the last cap/capf/run_ct exited 0
  [ "$RC" -eq 0 ] || fail "${1:-command failed}: exit $RC: $(printf '%s' "$OUT" | head -c 1500)"
}
assert_ok() { # CMD...: must exit 0 (OUT/RC set)
  cap "$@"
  [ "$RC" -eq 0 ] || fail "expected success of '$*', got exit $RC: $(printf '%s' "$OUT" | head -c 1500)"
}
assert_fails() { # CMD...: must exit non-zero (OUT/RC set)
  cap "$@"
  [ "$RC" -ne 0 ] || fail "expected '$*' to fail, it succeeded: $(printf '%s' "$OUT" | head -c 1500)"
}
assert_exit() { # CODE CMD...
  local want=$1; shift
  cap "$@"
  [ "$RC" -eq "$want" ] || fail "expected exit $want from '$*', got $RC: $(printf '%s' "$OUT" | head -c 1500)"
}
assert_exists() { [ -e "$1" ] || [ -L "$1" ] || fail "${2:-missing}: $1 does not exist"; }
assert_not_exists() { [ ! -e "$1" ] && [ ! -L "$1" ] || fail "${2:-leftover}: $1 exists"; }
assert_json() { # JSON [--arg|--argjson NAME VALUE]... JQ-BOOLEAN-EXPR [msg]
  local json=$1; shift
  local -a jargs=()
  while [ "${1:-}" = --arg ] || [ "${1:-}" = --argjson ]; do jargs+=("$1" "$2" "$3"); shift 3; done
  printf '%s' "$json" | jq -e "${jargs[@]}" "$1" >/dev/null 2>&1 ||
    fail "${2:-JSON check failed}: jq '$1' ${jargs[*]} on: $(printf '%s' "$json" | head -c 1500)"
}

# proc_alive PID: the process exists and is not a zombie (orphans here are
# reaped late by the sandbox's pid 1).
proc_alive() {
  [ -d "/proc/$1" ] || return 1
  ! grep -q '^State:[[:space:]]*[ZX]' "/proc/$1/status" 2>/dev/null
}
# marker_pids MARKER: live processes whose command line contains MARKER (the
# pattern is written so that it never matches the shell running pgrep).
marker_pids() {
  local m=$1 p out=""
  for p in $(pgrep -f -- "[${m:0:1}]${m:1}" || true); do
    proc_alive "$p" && out="$out $p"
  done
  [ -n "$out" ] && printf '%s\n' $out
}

# wait_for SECONDS CMD...: polls CMD every 0.1 s until it succeeds.
wait_for() {
  local secs=$1; shift
  local end=$(( $(date +%s%N) + secs * 1000000000 ))
  while ! "$@" >/dev/null 2>&1; do
    [ "$(date +%s%N)" -lt "$end" ] || return 1
    sleep 0.1
  done
}

# defer CMD-STRING: run by the runner after the test, last registered first,
# even if the test failed or timed out.
# free_port [tcp|udp]: a port no socket of that protocol uses, listening or
# connected. Drawn below the kernel's ephemeral range
# (net.ipv4.ip_local_port_range, 32768.. by default): a port above it can be
# taken as the source port of any outgoing connection between this check and
# the server's bind, which is how a CI run once lost a race with itself.
free_port() {
  local proto=${1:-tcp} p flag=-atn lo hi
  [ "$proto" = udp ] && flag=-aun
  read -r lo _ < /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || lo=32768
  hi=$(( lo > 21000 ? lo : 32768 ))
  for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % (hi - 20000)))
    ss -H "$flag" "sport = :$p" 2>/dev/null | grep -q . && continue
    printf '%s\n' "$p"
    return 0
  done
  fail "free_port: no free $proto port"
}
defer() { printf '%s\n' "$*" >> "$T/.defer"; }

# rt ARGS...: the runtime under test with this test's --root and a timeout.
rt() {
  trace "+ runtime $*"
  timeout --foreground -k 5 "$RT_TIMEOUT" "$RUNTIME" --root "$ROOT" "$@"
}

# rtx RUNTIME-PATH ARGS...: another runtime binary (e.g. a copy), same root.
rtx() {
  local bin=$1; shift
  trace "+ $bin $*"
  timeout --foreground -k 5 "$RT_TIMEOUT" "$bin" --root "$ROOT" "$@"
}

# rt_status ID: prints the status field of `state` (or "none").
rt_status() {
  local s
  s=$(timeout 20 "$RUNTIME" --root "$ROOT" state "$1" 2>/dev/null) || { echo none; return 0; }
  printf '%s' "$s" | jq -r .status
}
rt_pid() { timeout 20 "$RUNTIME" --root "$ROOT" state "$1" | jq -r .pid; }
status_is() { [ "$(rt_status "$1")" = "$2" ]; }
# wait_status ID STATUS [SECONDS]
wait_status() {
  wait_for "${3:-10}" status_is "$1" "$2" || fail "container $1 did not reach status $2 (now: $(rt_status "$1"))"
}

# First word of `$RUNTIME --version`: berth-runtime, runc, crun...
runtime_name() { "$RUNTIME" --version 2>/dev/null | head -n1 | awk '{print $1}'; }
is_berth() { case "$(runtime_name)" in berth*) return 0 ;; *) return 1 ;; esac; }

# bid BUNDLE-DIR: the container id (and cgroup name) to use for that bundle.
bid() { printf '%s-%s' "$TEST_TAG" "$(basename "$1")"; }
# cg_dir CONTROLLER BUNDLE-DIR-or-ID: host cgroup folder of that container.
cg_dir() {
  local name=$2
  case "$name" in */*) name=$(bid "$name") ;; esac
  if [ "$1" = unified ] || [ "$1" = v2 ]; then
    printf '/sys/fs/cgroup/unified/%s/%s' "$CG_PARENT" "$name"
  else
    printf '/sys/fs/cgroup/%s/%s/%s' "$1" "$CG_PARENT" "$name"
  fi
}
cgroup_v1_has() { [ -d "/sys/fs/cgroup/$1" ] && [ -f "/sys/fs/cgroup/$1/cgroup.procs" ] && ! grep -q cgroup2 <<<"$(stat -f -c %T "/sys/fs/cgroup/$1" 2>/dev/null)"; }

# run_ct BUNDLE-DIR [run options...]: `run` in the foreground with the
# bundle's id; OUT = combined output, RC = exit code.
run_ct() {
  local b=$1; shift
  cap rt run "$@" -b "$b" "$(bid "$b")"
}

# need_helpers: fails the test clearly if the static helpers are not built.
need_helpers() {
  local h
  for h in "$@"; do
    [ -x "$HELPERS_DIR/$h" ] || fail "helper $HELPERS_DIR/$h not built (make, or gcc -static tests/helpers/$h.c)"
  done
}

# assert_no_leftovers ID BUNDLE [MARKER]: after a failed create/run, nothing
# of ID may remain: state folder, cgroup folders, processes, mounts.
assert_no_leftovers() {
  local id=$1 bundle=$2 marker=${3:-} d
  [ ! -e "$ROOT/$id" ] || fail "state folder $ROOT/$id left behind"
  if timeout 20 "$RUNTIME" --root "$ROOT" state "$id" >/dev/null 2>&1; then
    fail "runtime state still knows $id"
  fi
  for d in /sys/fs/cgroup/*/"$CG_PARENT/$id"; do
    [ ! -d "$d" ] || fail "cgroup folder $d left behind"
  done
  if [ -n "$marker" ] && marker_pids "$marker" >/dev/null; then
    fail "process with marker $marker left behind: $(marker_pids "$marker" | xargs -r ps -o pid,stat,args -p)"
  fi
  if [ -n "$bundle" ] && grep -qF -- "$bundle" /proc/self/mountinfo; then
    fail "mount under $bundle left behind: $(grep -F -- "$bundle" /proc/self/mountinfo)"
  fi
}

# ---------------------------------------------------------------- runner

_tl_kill_cgroup() { # folder (depth first)
  local d=$1 sub p i procs
  [ -d "$d" ] || return 0
  for sub in "$d"/*/; do
    [ -d "$sub" ] && _tl_kill_cgroup "${sub%/}"
  done
  [ -f "$d/freezer.state" ] && echo THAWED > "$d/freezer.state" 2>/dev/null
  [ -f "$d/cgroup.freeze" ] && echo 0 > "$d/cgroup.freeze" 2>/dev/null
  for i in 1 2 3 4 5 6 7 8 9 10; do
    procs=$(cat "$d/cgroup.procs" 2>/dev/null)   # (cgroup files have size 0)
    [ -n "$procs" ] || break
    [ -f "$d/cgroup.kill" ] && echo 1 > "$d/cgroup.kill" 2>/dev/null
    for p in $procs; do kill -KILL "$p" 2>/dev/null; done
    sleep 0.1
  done
  rmdir "$d" 2>/dev/null || { sleep 0.3; rmdir "$d" 2>/dev/null; } || true
}

_tl_cleanup() {
  local id d line
  # 1. containers the runtime still knows (also the ones registered by
  #    tests that used another runtime binary or root: .roots lines "BIN ROOT")
  {
    printf '%s %s\n' "$RUNTIME" "$ROOT"
    [ -f "$T/.roots" ] && cat "$T/.roots"
  } | while read -r bin root; do
    [ -d "$root" ] || continue
    for id in $(timeout 20 "$bin" --root "$root" list -q 2>/dev/null) $(ls "$root" 2>/dev/null); do
      timeout 10 "$bin" --root "$root" kill "$id" KILL >/dev/null 2>&1
      timeout 20 "$bin" --root "$root" delete --force "$id" >/dev/null 2>&1
    done
  done
  # 2. deferred commands, last first
  if [ -f "$T/.defer" ]; then
    tac "$T/.defer" | while IFS= read -r line; do
      (eval "$line") </dev/null >/dev/null 2>&1 || true
    done
  fi
  # 3. cgroups of this test
  for d in /sys/fs/cgroup/*/"$CG_PARENT/$TEST_TAG"-*; do
    [ -d "$d" ] && _tl_kill_cgroup "$d"
  done
  # 4. the test's own process group
  kill -KILL -- "-$1" 2>/dev/null
  # 5. mounts under $T (deepest first)
  awk -v t="$T" '$5 == t || index($5, t "/") == 1 {print $5}' /proc/self/mountinfo | sort -r |
    while read -r d; do umount -l "$d" 2>/dev/null; done
}

_tl_list_tests() {
  grep -oE '^[[:space:]]*(function[[:space:]]+)?test_[A-Za-z0-9_]+[[:space:]]*\(\)' "$1" |
    sed -E 's/^[[:space:]]*(function[[:space:]]+)?//; s/[[:space:]]*\(\)$//'
}

run_tests() {
  local suite_file=$0 label t n=0 pid wd rc why
  label=${SUITE_LABEL:-$(basename "$suite_file" .sh)}
  if [ -z "${RUNTIME:-}" ]; then
    echo "FAIL: $label: RUNTIME is not set" ; return 1
  fi
  case "$RUNTIME" in /*) ;; *) RUNTIME=$(command -v "$RUNTIME" || echo "$PWD/$RUNTIME") ;; esac
  export RUNTIME HELPERS_DIR REPO_ROOT
  SUITE_TMP=$(mktemp -d /tmp/bt.XXXXXX)
  chmod 755 "$SUITE_TMP"   # user-namespaced containers must traverse it
  export SUITE_TMP
  local failed=0
  pid=""
  # interrupted (Ctrl-C, CI timeout): clean up the running test, then stop
  trap '[ -n "$pid" ] && { kill -KILL -- "-$pid" 2>/dev/null; _tl_cleanup "$pid" >/dev/null 2>&1; };
        rmdir /sys/fs/cgroup/*/"$CG_PARENT" 2>/dev/null; rm -rf --one-file-system "$SUITE_TMP" 2>/dev/null;
        echo "FAIL: $label: ${TEST_NAME:-suite}: interrupted"; exit 130' INT TERM HUP
  for t in $(_tl_list_tests "$suite_file"); do
    if [ $# -gt 0 ]; then
      local want=0 f
      for f in "$@"; do [[ $t == $f ]] && want=1; done
      [ $want = 1 ] || continue
    fi
    # shellcheck disable=SC2053
    [[ $t == ${TEST_FILTER:-*} ]] || continue
    n=$((n + 1))
    T=$SUITE_TMP/$n
    ROOT=$T/state
    TEST_TAG=bt$$x$n
    TEST_NAME=$t
    mkdir -p "$ROOT"
    export T ROOT TEST_TAG TEST_NAME
    set -m
    (
      set -eE
      trap 'printf "command failed (exit %s) at %s:%s: %s\n" "$?" "${BASH_SOURCE[0]##*/}" "$LINENO" "$BASH_COMMAND" >&2;
            [ -e "$T/.why" ] || printf "command failed at line %s: %s\n" "$LINENO" "$BASH_COMMAND" > "$T/.why"' ERR
      cd "$T"
      _TL_T0=${EPOCHREALTIME/./}
      "$t"
    ) >> "$T/.log" 2>&1 < /dev/null &
    pid=$!
    local t0=$SECONDS
    ( sleep "$TEST_TIMEOUT"; echo "timed out after $TEST_TIMEOUT s" > "$T/.timeout";
      kill -TERM -- "-$pid" 2>/dev/null; sleep 3; kill -KILL -- "-$pid" 2>/dev/null ) </dev/null >/dev/null 2>&1 &
    wd=$!
    set +m
    wait "$pid"; rc=$?
    kill -KILL -- "-$wd" 2>/dev/null; wait "$wd" 2>/dev/null
    _tl_cleanup "$pid" >/dev/null 2>&1
    why=""
    [ -f "$T/.why" ] && why=$(head -n1 "$T/.why")
    if [ -f "$T/.timeout" ]; then
      why=$(cat "$T/.timeout"); rc=124
    fi
    if [ "$rc" -eq 0 ]; then
      echo "PASS: $label: $t"
      [ "${VERBOSE:-0}" = 1 ] && sed 's/^/    /' "$T/.log"
    elif [ "$rc" -eq "$SKIP_RC" ]; then
      echo "SKIP: $label: $t: ${why:-no reason given}"
    else
      failed=1
      echo "FAIL: $label: $t: ${why:-exit $rc}"
      tail -n "${LOG_LINES:-80}" "$T/.log" | sed 's/^/    /'
    fi
    [ $((SECONDS - t0)) -lt 8 ] || echo "#   ($t took $((SECONDS - t0)) s)"
    if [ "$rc" -ne 0 ] && [ "${KEEP_TMP:-0}" = 1 ]; then
      echo "    (kept $T)"
    else
      rm -rf --one-file-system "$T" 2>/dev/null
    fi
  done
  # remove the shared parent cgroups if nothing else uses them
  rmdir /sys/fs/cgroup/*/"$CG_PARENT" 2>/dev/null
  [ "${KEEP_TMP:-0}" = 1 ] || rm -rf --one-file-system "$SUITE_TMP" 2>/dev/null
  return $failed
}
