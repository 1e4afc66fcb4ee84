# shellcheck shell=bash
# registrylib.sh: runs berth-registry for the registry-* integration suites.
#
# A suite sources testlib.sh and this file, defines test_* functions and
# ends with `run_registry_tests "$@"`: that starts ONE private registry for
# the whole suite (no auth, 127.0.0.1 on a free port, a temp --root; tests
# stay independent by using repository names of their own: repo_name),
# runs the tests, checks that SIGTERM stops it cleanly with no sanitizer
# report (a "registry_shutdown" result), and stops it whatever happens
# (EXIT trap).
#
# The binary: $REGISTRY_BIN, default "$(dirname "$RUNTIME")/berth-registry"
# (build/ or build/asan/ under tests/run).
#
# For the tests: REG (127.0.0.1:PORT of the suite registry), REG_ROOT,
# REG_LOG, REG_PID.
# Helpers:
#   repo_name [SUFFIX]          a repository name unique to this test
#   reg_start DIR [ARGS...]     another registry (root DIR/root, log
#                               DIR/log) with extra flags; sets R_ADDR,
#                               R_PID; `defer "reg_stop DIR"` after it.
#                               Waits until /v2/ answers (any status).
#                               With --tls-cert, waits over https.
#   reg_stop DIR [SIG]          stops it (TERM default) and waits
#   req METHOD URL [curl args]  one request (curl): sets HTTP_STATUS,
#                               HTTP_BODY, HTTP_HEADERS (raw, CRs removed)
#   hdr NAME                    a header of the last req (first match)
#   assert_status CODE          the last req answered CODE
#   assert_error CODE STATUS    ...a spec error {"errors":[{"code":CODE}]}
#   blob_put ADDR NAME FILE     monolithic upload; prints the digest
#   sha FILE                    "sha256:<hex>" of FILE

REGISTRYLIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=mkimage.sh
. "$REGISTRYLIB_DIR/mkimage.sh"
export NO_PROXY='*' no_proxy='*'
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY

registry_bin() {
  if [ -n "${REGISTRY_BIN:-}" ]; then printf '%s' "$REGISTRY_BIN"
  else printf '%s/berth-registry' "$(dirname "${RUNTIME:-$REPO_ROOT/build/berth-runtime}")"; fi
}

repo_name() { printf 'reg/%s%s' "$TEST_TAG" "${1:+/$1}"; }
sha() { printf 'sha256:%s' "$(sha256sum "$1" | cut -d' ' -f1)"; }

# _rl_launch DIR ARGS...: starts a registry; DIR/pid, DIR/addr, DIR/scheme
_rl_launch() {
  local d=$1; shift
  local bin scheme=http a
  bin=$(registry_bin)
  [ -x "$bin" ] || { echo "berth-registry not built: $bin" > "$d/start-error"; return 1; }
  for a in "$@"; do [ "$a" != --tls-cert ] || scheme=https; done
  mkdir -p "$d/root"
  [ -s "$d/addr" ] || echo "127.0.0.1:$(free_port)" > "$d/addr"
  echo "$scheme" > "$d/scheme"
  "$bin" --listen "$(cat "$d/addr")" --root "$d/root" --log-level debug "$@" </dev/null >> "$d/log" 2>&1 &
  echo "$!" > "$d/pid"
  local i
  for i in $(seq 1 100); do
    if curl -sk -o /dev/null --max-time 2 "$scheme://$(cat "$d/addr")/v2/"; then return 0; fi
    kill -0 "$(cat "$d/pid")" 2>/dev/null || { echo "berth-registry exited during start-up: $(tail -n 5 "$d/log")" > "$d/start-error"; return 1; }
    sleep 0.1
  done
  echo "berth-registry did not answer within 10 s" > "$d/start-error"
  return 1
}

reg_start() {
  local d=$1; shift
  mkdir -p "$d"
  _rl_launch "$d" "$@" || fail "$(cat "$d/start-error" 2>/dev/null)"
  R_ADDR=$(cat "$d/addr")
  R_PID=$(cat "$d/pid")
}

reg_stop() {
  local d=$1 sig=${2:-TERM} pid i
  pid=$(cat "$d/pid" 2>/dev/null) || return 0
  kill -"$sig" "$pid" 2>/dev/null
  for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  return 0
}

req() {
  local method=$1 url=$2; shift 2
  local out=$T/.req.$$
  local -a m=(-X "$method")
  [ "$method" != HEAD ] || m=(-I)   # curl -X HEAD would wait for a body
  HTTP_STATUS=$(curl -sS -k "${m[@]}" -o "$out.body" -D "$out.hdr" -w '%{http_code}' --max-time 30 "$@" "$url") || HTTP_STATUS=000
  HTTP_BODY=$(cat "$out.body" 2>/dev/null)
  HTTP_HEADERS=$(tr -d '\r' < "$out.hdr" 2>/dev/null)
  printf '+ %s %s => %s %s\n' "$method" "$url" "$HTTP_STATUS" "$(head -c 300 <<<"$HTTP_BODY")" >&2
}
hdr() { awk -v n="$(tr 'A-Z' 'a-z' <<<"$1")" 'BEGIN{FS=": "} tolower($1)==n {sub(/^[^:]*: /,""); print; exit}' <<<"$HTTP_HEADERS"; }
assert_status() { [ "$HTTP_STATUS" = "$1" ] || fail "expected HTTP $1, got $HTTP_STATUS: $(head -c 500 <<<"$HTTP_BODY")"; }
assert_error() { # CODE STATUS
  assert_status "$2"
  assert_json "$HTTP_BODY" --arg c "$1" '.errors[0].code == $c' "expected error $1"
  assert_eq "application/json" "$(hdr Content-Type)" "error content type"
}

blob_put() { # ADDR NAME FILE
  local d
  d=$(sha "$3")
  req POST "http://$1/v2/$2/blobs/uploads/?digest=$d" --data-binary "@$3" -H 'Content-Type: application/octet-stream'
  [ "$HTTP_STATUS" = 201 ] || fail "blob upload of $3 to $2: HTTP $HTTP_STATUS $HTTP_BODY"
  printf '%s' "$d"
}

_rl_shutdown_check() {
  local label=${SUITE_LABEL:-$(basename "$0" .sh)} pid rc=0 i
  pid=$(cat "$REG_DIR/pid" 2>/dev/null)
  [ -n "$pid" ] || return 0
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "FAIL: $label: registry_shutdown: the registry died during the suite"; tail -n 30 "$REG_DIR/log" | sed 's/^/    /'; return 1
  fi
  kill -TERM "$pid"
  for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  wait "$pid"; rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "FAIL: $label: registry_shutdown: exit status $rc after SIGTERM"; tail -n 30 "$REG_DIR/log" | sed 's/^/    /'; return 1
  fi
  if grep -qE 'AddressSanitizer|runtime error:|LeakSanitizer' "$REG_DIR/log"; then
    echo "FAIL: $label: registry_shutdown: sanitizer report"; grep -E -A20 'AddressSanitizer|runtime error:' "$REG_DIR/log" | head -40 | sed 's/^/    /'; return 1
  fi
  echo "PASS: $label: registry_shutdown"
}

run_registry_tests() {
  local label=${SUITE_LABEL:-$(basename "$0" .sh)} rc=0
  REG_DIR=$(mktemp -d /tmp/breg.XXXXXX)
  trap 'reg_stop "$REG_DIR" KILL; rm -rf "$REG_DIR"' EXIT
  if ! _rl_launch "$REG_DIR"; then
    echo "FAIL: $label: registry: $(cat "$REG_DIR/start-error")"
    return 1
  fi
  REG=$(cat "$REG_DIR/addr"); REG_ROOT=$REG_DIR/root; REG_LOG=$REG_DIR/log; REG_PID=$(cat "$REG_DIR/pid")
  export REG REG_ROOT REG_LOG REG_PID
  run_tests "$@" || rc=1
  _rl_shutdown_check || rc=1
  return $rc
}
