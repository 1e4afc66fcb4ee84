# shellcheck shell=bash
# buildlib.sh: helpers of the build suites (berthd-build.sh,
# berth-cli-build.sh), sourced after daemonlib.sh and containerlib.sh.
#
#   ctx [N]          a fresh context folder $T/ctx[N] holding the Dockerfile
#                    read from stdin; prints its path
#   runi IMAGE ARGS  docker run --rm, which must succeed (OUT = its stdout)

ctx() {
  local d=$T/ctx${1:-}
  mkdir -p "$d"
  cat > "$d/Dockerfile"
  printf '%s' "$d"
}

runi() { cap2 dk run --rm "$@"; assert_success "docker run $*"; }
