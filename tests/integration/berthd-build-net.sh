#!/bin/bash
# berthd-build-net.sh: the network of RUN steps in `DOCKER_BUILDKIT=0 docker
# build` (and `berth build`): by default the daemon's default bridge (a RUN
# reaches a container on it and the host at the bridge's gateway), the
# same /etc/resolv.conf and /etc/hosts as a `docker run` container gets,
# `--network none` (only lo) and `--network host` (the host's links), and
# no endpoint left on the bridge after a build, failed or not.
#
# The daemon runs with networking (DAEMON_NET=1, tests/lib/daemonlib.sh):
# its default bridge has a random name and a random free /24. Traffic goes
# only to the test's own containers and to listeners on the bridge's
# gateway address (netlib.sh); no RUN asks a DNS server anything.
#
# Runs against berthd (default) or, to validate the tests, Debian's dockerd:
#   DAEMON=dockerd tests/run integration 'berthd-build-net*'
: "${TEST_TIMEOUT:=120}"
# shellcheck disable=SC2034 # (read by daemonlib.sh's start_daemon)
DAEMON_NET=1
. "$(dirname "$0")/../lib/testlib.sh"
. "$(dirname "$0")/../lib/daemonlib.sh"
. "$(dirname "$0")/../lib/containerlib.sh"
. "$(dirname "$0")/../lib/netlib.sh"
. "$(dirname "$0")/../lib/buildlib.sh"

export DOCKER_BUILDKIT=0
bld() { cap2 dk build "$@"; }

# no_bridge_ports: nothing is attached to the daemon's bridge any more
no_bridge_ports() {
  local left
  left=$(bridge_ports "$DAEMON_BRIDGE" | tr '\n' ' ')
  assert_eq "" "$left" "no endpoint left on $DAEMON_BRIDGE after the build"
}

test_build_run_reaches_a_container_on_the_default_bridge() {
  local base img d ip web
  base=$(busybox_image); img=$(img_name); web=$(ct_name web)
  ct_httpd "$web"
  ip=$(ct_ip "$web" bridge)
  [ -n "$ip" ] || fail "no address for $web"
  d=$(ctx <<EOF
FROM $base
RUN timeout 5 wget -q -O /got http://$ip/ && ip route > /route
EOF
)
  bld --no-cache -t "$img" "$d"
  assert_success "build whose RUN fetches from a container on the bridge"
  runi "$img" cat /got
  assert_eq "hello from $web" "$OUT" "what the RUN fetched"
  runi "$img" cat /route
  assert_match "$OUT" "^default via $DAEMON_GATEWAY " "the RUN's default route is the bridge's gateway"
  dk rm -f "$web" >/dev/null
  no_bridge_ports
}

test_build_run_reaches_the_host_at_the_gateway() {
  local base img d port
  base=$(busybox_image); img=$(img_name)
  port=$(free_port)
  host_httpd "$DAEMON_GATEWAY" "$port"
  d=$(ctx <<EOF
FROM $base
RUN timeout 5 wget -q -O /got http://$DAEMON_GATEWAY:$port/
EOF
)
  bld --network default -t "$img" "$d"
  assert_success "build with --network default"
  runi "$img" cat /got
  assert_eq "hello from the host" "$OUT" "RUN on the default network reaches the host"
  d=$(ctx 2 <<EOF
FROM $base
RUN timeout 5 wget -q -O - http://$DAEMON_GATEWAY:$port/ && echo again
EOF
)
  bld --network bridge -t "$img" "$d"
  assert_success "build with --network bridge"
  assert_contains "$OUT" "again"
  no_bridge_ports
}

test_build_run_resolv_conf_and_hosts_as_docker_run() {
  local base img d want addr host
  base=$(busybox_image); img=$(img_name)
  d=$(ctx <<EOF
FROM $base
RUN cp /etc/resolv.conf /resolv && cp /etc/hosts /hosts && hostname > /hostname && ip -4 -o addr show eth0 > /addr
EOF
)
  bld --no-cache -t "$img" "$d"
  assert_success "build"
  want=$(dk run --rm "$base" cat /etc/resolv.conf)
  runi "$img" cat /resolv
  assert_eq "$want" "$OUT" "RUN's resolv.conf is docker run's"
  host=$(dk run --rm "$img" cat /hostname)
  addr=$(dk run --rm "$img" cat /addr | awk '{ print $4 }')
  addr=${addr%/*}
  case $addr in "${DAEMON_GATEWAY%.1}".*) ;; *) fail "the RUN's eth0 address '$addr' is not on the bridge's subnet $DAEMON_SUBNET" ;; esac
  runi "$img" cat /hosts
  assert_match "$OUT" "127\.0\.0\.1[[:space:]]+localhost" "localhost in the RUN's hosts"
  assert_match "$OUT" "$addr[[:space:]]+$host" "the RUN's own address and hostname in its hosts"
}

test_build_network_none_has_only_lo() {
  local base img d port
  base=$(busybox_image); img=$(img_name)
  port=$(free_port)
  host_httpd "$DAEMON_GATEWAY" "$port"
  d=$(ctx <<EOF
FROM $base
RUN ls /sys/class/net > /links; if timeout 3 wget -q -O - http://$DAEMON_GATEWAY:$port/; then echo reached; else echo unreachable; fi > /reach
EOF
)
  bld --no-cache --network none -t "$img" "$d"
  assert_success "build with --network none"
  runi "$img" cat /links
  assert_eq "lo" "$OUT" "only lo with --network none"
  runi "$img" cat /reach
  assert_eq "unreachable" "$OUT" "the host is not reachable with --network none"
}

test_build_network_host_sees_the_hosts_links() {
  local base img d
  base=$(busybox_image); img=$(img_name)
  d=$(ctx <<EOF
FROM $base
RUN ls /sys/class/net > /links
EOF
)
  bld --no-cache --network host -t "$img" "$d"
  assert_success "build with --network host"
  runi "$img" cat /links
  assert_contains "$OUT" "$DAEMON_BRIDGE" "the host's bridge is seen with --network host"
}

test_build_failing_run_leaves_no_endpoint() {
  local base d port
  base=$(busybox_image)
  port=$(free_port)
  host_httpd "$DAEMON_GATEWAY" "$port"
  d=$(ctx <<EOF
FROM $base
RUN timeout 5 wget -q -O - http://$DAEMON_GATEWAY:$port/ && exit 3
EOF
)
  bld -t "$(img_name)" "$d"
  assert_ne 0 "$RC" "the build must fail"
  assert_contains "$OUT" "hello from the host" "the RUN ran on the bridge"
  assert_contains "$ERR" "returned a non-zero code: 3"
  no_bridge_ports
  assert_eq "" "$(dk ps -q)" "no container left running"
}

# berthd killed during a RUN step: the step's sandbox and veth are gone
# after the restart, while a running container's stay.
test_build_step_endpoint_gone_after_daemon_killed() {
  is_dockerd && return 0 # (dockerd's own builder containers: not this test's subject)
  local D img d br name i
  D=$(mktemp -d /tmp/bd.XXXXXX)
  chmod 0711 "$D"
  defer "daemon_stop '$D'"
  daemon_start -r -n "$D"
  export DOCKER_HOST=$DAEMON2_HOST DOCKER_CONFIG=$D/cli
  br=$(net_env "$D" BRIDGE)
  img=$(busybox_image)
  name=$(ct_name keep)
  ct_run_d "$name" "$img" sh -c 'trap "exit 0" TERM; while :; do sleep 0.1; done'
  assert_eq 1 "$(bridge_ports "$br" | wc -l)" "the container's endpoint"
  d=$(ctx <<EOF
FROM $img
RUN sleep 30
EOF
)
  dk build --no-cache -t "$(img_name)" "$d" >/dev/null 2>&1 &
  for i in $(seq 1 100); do [ "$(bridge_ports "$br" | wc -l)" -ge 2 ] && break; sleep 0.1; done
  assert_eq 2 "$(bridge_ports "$br" | wc -l)" "the RUN step's endpoint joined the bridge"
  daemon_kill "$D" KILL
  wait
  assert_eq 2 "$(bridge_ports "$br" | wc -l)" "the step's endpoint outlived berthd"
  daemon_relaunch "$D"
  assert_eq 1 "$(bridge_ports "$br" | wc -l)" "only the container's endpoint after the restart"
  assert_eq 1 "$(find "$D/exec/netns" -mindepth 1 | wc -l)" "only the container's sandbox after the restart"
  cap2 dk exec "$name" ip -o -4 addr show eth0
  assert_contains "$OUT" "inet " "the container keeps its address"
}

test_build_unknown_network_fails() {
  local base d
  base=$(busybox_image)
  d=$(ctx <<EOF
FROM $base
RUN true
EOF
)
  bld --network "nosuchnet-$TEST_TAG" -t "$(img_name)" "$d"
  assert_ne 0 "$RC" "a build on an unknown network must fail"
  assert_contains "$ERR" "nosuchnet-$TEST_TAG" "the error names the network"
  assert_fails dk image inspect "$(img_name)"
  no_bridge_ports
}

test_berth_build_network_flag() {
  local base img d cli
  cli=${BERTH_CLI:-$(dirname "$RUNTIME")/berth}
  base=$(busybox_image); img=$(img_name)
  d=$(ctx <<EOF
FROM $base
RUN ls /sys/class/net > /links
EOF
)
  cap2 timeout 120 "$cli" -H "$DOCKER_HOST" build --no-cache --network none -t "$img" "$d"
  assert_success "berth build --network none"
  runi "$img" cat /links
  assert_eq "lo" "$OUT" "berth build --network none: only lo"
  d=$(ctx 2 <<EOF
FROM $base
RUN ls /sys/class/net | sort > /links
EOF
)
  cap2 timeout 120 "$cli" -H "$DOCKER_HOST" build --no-cache -t "$img" "$d"
  assert_success "berth build (default network)"
  runi "$img" cat /links
  assert_eq "$(printf 'eth0\nlo')" "$OUT" "berth build: the default bridge"
}

run_daemon_tests "$@"
