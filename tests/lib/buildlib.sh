# shellcheck shell=bash
# buildlib.sh: helpers of the build suites (berthd-build.sh,
# berth-cli-build.sh), sourced after daemonlib.sh and containerlib.sh.
#
#   ctx [N]          a fresh context folder $T/ctx[N] holding the Dockerfile
#                    read from stdin; prints its path
#   runi IMAGE ARGS  docker run --rm, which must succeed (OUT = its stdout)
#   http_serve DIR   a static HTTP server (python3 http.server) on
#                    127.0.0.1 and a free port serving DIR, stopped after
#                    the test; HTTP_URL = http://127.0.0.1:PORT, its
#                    request log in $T/http.log

ctx() {
  local d=$T/ctx${1:-}
  mkdir -p "$d"
  cat > "$d/Dockerfile"
  printf '%s' "$d"
}

runi() { cap2 dk run --rm "$@"; assert_success "docker run $*"; }

http_serve() {
  local dir=$1 port
  port=$(free_port)
  setsid python3 -m http.server --bind 127.0.0.1 --directory "$dir" "$port" </dev/null >"$T/http.log" 2>&1 &
  defer "kill $!"
  HTTP_URL=http://127.0.0.1:$port
  wait_for 10 curl -s --noproxy '*' --max-time 1 -o /dev/null "$HTTP_URL/" ||
    fail "http_serve: python3 http.server on 127.0.0.1:$port does not answer"
}
