#!/bin/bash
# net-lib.sh: libberth-net against the real kernel, driven through
# build[/asan]/tests/nettool (tests/net/nettool.c).  Every test uses names
# made from its TEST_TAG (links "<tag>b1"..., nftables table
# "berthtest_<tag>"), 10.231.x.0/24 subnets that no host route touches,
# and talks only between the host and namespaces it made.  Everything is
# removed by deferred commands, also when a test fails.
. "$(dirname "$0")/../lib/testlib.sh"

NETTOOL=$(dirname "$RUNTIME")/tests/nettool

nt() { "$NETTOOL" "$@"; }

need_net() {
  [ -x "$NETTOOL" ] || fail "nettool not built: $NETTOOL (make)"
  command -v nft >/dev/null || skip "no nft command to inspect the table"
  command -v busybox >/dev/null || skip "no busybox (ping, httpd, wget)"
}

# ------------------------------------------------------------------ names

# free_net: a "10.231.X" prefix whose /24 no host route touches and that
# this test has not used yet.
free_net() {
  local i x routes
  routes=$(ip -4 route show table all)
  for i in $(seq 100); do
    x=$((RANDOM % 256))
    grep -q "10\.231\.$x\." <<<"$routes" && continue
    grep -qx "$x" "$T/.nets" 2>/dev/null && continue
    echo "$x" >> "$T/.nets"
    echo "10.231.$x"
    return 0
  done
  fail "no free 10.231.x.0/24 on this host"
}

mk_sandbox() { # NAME: sandbox at $T/NAME
  defer "'$NETTOOL' sandbox-destroy '$T/$1'"
  nt sandbox-create "$T/$1" || fail "sandbox-create $1"
}

mk_bridge() { # NAME GW/PREFIX
  defer "'$NETTOOL' link-delete '$1'"
  nt bridge-ensure "$1" "$2" || fail "bridge-ensure $1 $2"
}

attach() { # SANDBOX BRIDGE HOSTIF CTIF IP/PREFIX GW [options]
  defer "'$NETTOOL' detach '$3'"
  nt attach "$T/$1" "${@:2}" || fail "attach $*"
}

in_sb() { # SANDBOX CMD...
  local sb=$1; shift
  nsenter --net="$T/$sb" "$@"
}

pings() { # SANDBOX|host IP
  if [ "$1" = host ]; then
    busybox ping -c1 -W1 "$2" >/dev/null 2>&1
  else
    in_sb "$1" busybox ping -c1 -W1 "$2" >/dev/null 2>&1
  fi
}

links_with_tag() { ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | grep "^$TEST_TAG" || true; }

# host_ip: the host's first global address that is not on a test bridge.
host_ip() {
  ip -4 -o addr show scope global | awk -v t="$TEST_TAG" 'index($2, t) != 1 {sub(/\/.*/, "", $4); print $4; exit}'
}

# ---------------------------------------------------------------- firewall

# start_fw: net_fw_open of table berthtest_<tag> in a coprocess that takes
# one command per line (see nettool.c); fw_cmd sends one, FW_REPLY answers.
start_fw() {
  TABLE=berthtest_$TEST_TAG
  defer "nft delete table ip $TABLE"
  coproc FW { exec "$NETTOOL" fw "$TABLE" 2>&1; }
  IFS= read -r -t 10 FW_REPLY <&"${FW[0]}" || fail "nettool fw did not start"
  [ "$FW_REPLY" = ok ] || fail "fw open: $FW_REPLY"
}
fw_cmd() {
  printf '%s\n' "$*" >&"${FW[1]}"
  IFS= read -r -t 10 FW_REPLY <&"${FW[0]}" || fail "no answer from nettool fw to: $*"
  trace "fw: $* -> $FW_REPLY"
}
fw_ok() {
  fw_cmd "$@"
  [ "$FW_REPLY" = ok ] || fail "fw $*: $FW_REPLY"
}

# reserve PROTO IP PORT: holds the port in the background until
# release_ports; RESERVED = the port it got.
reserve() {
  local n=${#RESERVE_FDS[@]}
  mkfifo "$T/.hold$n"
  # the holder must not inherit the other holders' fifo ends, or closing
  # one of them would not release its port
  (
    for fd in "${RESERVE_FDS[@]}"; do eval "exec $fd>&-"; done
    exec "$NETTOOL" port-reserve "$@" < "$T/.hold$n" > "$T/.port$n" 2>&1
  ) &
  exec {fd}> "$T/.hold$n"
  RESERVE_FDS+=("$fd")
  wait_for 5 grep -q . "$T/.port$n" || fail "port-reserve $* printed nothing"
  RESERVED=$(cat "$T/.port$n")
  [[ $RESERVED =~ ^[0-9]+$ ]] || fail "port-reserve $*: $RESERVED"
}
RESERVE_FDS=()

http_get() { curl -s --noproxy '*' --max-time 3 "$@"; }
# (busybox wget -T crashes on a timeout, so curl is used inside too)
sb_get() { in_sb "$1" curl -s --noproxy '*' --max-time 3 "$2"; }

# serve_http SANDBOX: busybox httpd on port 80 inside, serving $T/www/x
serve_http() {
  mkdir -p "$T/www"
  echo "hello from $1" > "$T/www/x"
  in_sb "$1" busybox httpd -f -p 80 -h "$T/www" &
  wait_for 5 sb_get "$1" http://127.0.0.1/x || fail "httpd did not start in $1"
}

# ------------------------------------------------------------------ tests

test_sandbox_lifecycle() {
  need_net
  mk_sandbox sb
  assert_exists "$T/sb"
  grep -q " $T/sb " /proc/self/mountinfo || fail "sandbox is not a mount point"
  local host_ns sb_ns
  host_ns=$(readlink /proc/self/ns/net)
  sb_ns=$(in_sb sb readlink /proc/self/ns/net)
  assert_ne "$host_ns" "$sb_ns" "the sandbox has a namespace of its own"
  cap in_sb sb ip -o link show
  assert_match "$OUT" '^1: lo: <LOOPBACK,UP' "lo is up inside"
  assert_eq 1 "$(printf '%s\n' "$OUT" | grep -c .)" "only lo inside"
  in_sb sb busybox ping -c1 -W1 127.0.0.1 >/dev/null || fail "127.0.0.1 unreachable inside"
  # the namespace outlives every process: a second look finds the same one
  assert_eq "$sb_ns" "$(in_sb sb readlink /proc/self/ns/net)" "same namespace again"

  assert_fails nt sandbox-create "$T/sb"
  assert_contains "$OUT" "File exists"
  assert_fails nt sandbox-create "$T/missing/sb"
  assert_not_exists "$T/missing"

  assert_ok nt sandbox-destroy "$T/sb"
  assert_not_exists "$T/sb"
  ! grep -q " $T/sb " /proc/self/mountinfo || fail "mount left behind"
  assert_ok nt sandbox-destroy "$T/sb"   # a missing one is fine
}

test_two_sandboxes_ping() {
  need_net
  local n; n=$(free_net)
  mk_bridge "${TEST_TAG}b1" "$n.1/24"
  mk_sandbox a; mk_sandbox b
  attach a "${TEST_TAG}b1" "${TEST_TAG}h1" eth0 "$n.2/24" "$n.1"
  attach b "${TEST_TAG}b1" "${TEST_TAG}h2" eth0 "$n.3/24" "$n.1" --mtu 1400

  pings a "$n.3" || fail "a cannot ping b"
  pings b "$n.2" || fail "b cannot ping a"
  pings host "$n.2" || fail "host cannot ping a"
  pings a "$n.1" || fail "a cannot ping the gateway"

  cap in_sb a ip -o addr show eth0
  assert_contains "$OUT" "inet $n.2/24"
  cap in_sb a ip -o link show eth0
  local mac; mac=$(printf '02:42:0a:e7:%02x:02' "${n##*.}")
  assert_contains "$OUT" "link/ether $mac" "MAC from the IP"
  assert_contains "$OUT" "mtu 1500" "default MTU"
  assert_contains "$OUT" ",UP"
  cap in_sb b ip -o link show eth0
  assert_contains "$OUT" "mtu 1400" "--mtu inside"
  cap ip -o link show "${TEST_TAG}h2"
  assert_contains "$OUT" "mtu 1400" "--mtu outside"
  assert_contains "$OUT" "master ${TEST_TAG}b1" "host end on the bridge"
  assert_contains "$OUT" "state UP"
  cap ip -d -o link show "${TEST_TAG}h1"
  assert_contains "$OUT" "hairpin on"
  cap in_sb a ip route
  assert_contains "$OUT" "default via $n.1 dev eth0"

  # bridge sysctls
  assert_eq 1 "$(cat /proc/sys/net/ipv4/ip_forward)" "ip_forward"
  assert_eq 1 "$(cat "/proc/sys/net/ipv4/conf/${TEST_TAG}b1/route_localnet")" "route_localnet"
}

test_bridge_ensure_adopts_and_refuses_non_bridges() {
  need_net
  local n; n=$(free_net)
  mk_bridge "${TEST_TAG}b1" "$n.1/24"
  assert_ok nt bridge-ensure "${TEST_TAG}b1" "$n.1/24"
  cap ip -4 -o addr show dev "${TEST_TAG}b1"
  assert_eq 1 "$(printf '%s\n' "$OUT" | grep -c "inet $n.1/24")" "address once"
  cap ip -d -o link show "${TEST_TAG}b1"
  assert_contains "$OUT" "bridge"
  # a link of another kind with the name is not taken over
  defer "ip link delete ${TEST_TAG}v1"
  ip link add "${TEST_TAG}v1" type veth peer name "${TEST_TAG}v2"
  assert_fails nt bridge-ensure "${TEST_TAG}v1" "$n.1/24"
  assert_contains "$OUT" 'a link of type "veth"'
  cap ip -4 -o addr show dev "${TEST_TAG}v1"
  assert_eq "" "$OUT" "no address on the veth"
  # a failed configuration of a new bridge removes it again
  assert_fails nt bridge-ensure "${TEST_TAG}b2" "$n.1/33"
  ! ip link show "${TEST_TAG}b2" >/dev/null 2>&1 || fail "bridge b2 left behind"
  assert_fails nt bridge-ensure "${TEST_TAG}name_far_too_long" "$n.1/24"
  assert_contains "$OUT" "invalid bridge interface name"
}

test_attach_failures_leave_nothing() {
  need_net
  local n; n=$(free_net)
  mk_bridge "${TEST_TAG}b1" "$n.1/24"
  mk_sandbox a; mk_sandbox b
  attach a "${TEST_TAG}b1" "${TEST_TAG}h1" eth0 "$n.2/24" "$n.1"
  local before_host before_b
  before_host=$(links_with_tag)
  before_b=$(in_sb b ip -o link show | wc -l)

  # the host name is taken
  assert_fails nt attach "$T/b" "${TEST_TAG}b1" "${TEST_TAG}h1" eth0 "$n.3/24" "$n.1"
  assert_contains "$OUT" "host interface ${TEST_TAG}h1 already exists"
  # the inside name is taken
  assert_fails nt attach "$T/a" "${TEST_TAG}b1" "${TEST_TAG}h2" eth0 "$n.3/24" "$n.1"
  assert_contains "$OUT" "interface eth0 already exists in sandbox"
  # no such bridge, no such sandbox, a bad name
  assert_fails nt attach "$T/b" "${TEST_TAG}nob" "${TEST_TAG}h3" eth0 "$n.3/24" "$n.1"
  assert_contains "$OUT" "find bridge ${TEST_TAG}nob"
  assert_fails nt attach "$T/none" "${TEST_TAG}b1" "${TEST_TAG}h4" eth0 "$n.3/24" "$n.1"
  assert_contains "$OUT" "$T/none"
  assert_fails nt attach "$T/b" "${TEST_TAG}b1" "${TEST_TAG}h5_is_too_long" eth0 "$n.3/24" "$n.1"
  # configuration inside fails (the gateway is not on the link): the pair goes
  assert_fails nt attach "$T/b" "${TEST_TAG}b1" "${TEST_TAG}h6" eth0 "$n.3/24" 192.0.2.99
  assert_contains "$OUT" "default route"

  assert_eq "$before_host" "$(links_with_tag)" "host links unchanged"
  assert_eq "$before_b" "$(in_sb b ip -o link show | wc -l)" "sandbox b links unchanged"
  pings a "$n.1" || fail "the first endpoint was disturbed"
}

test_detach_and_destroy_leave_no_links() {
  need_net
  local n; n=$(free_net)
  mk_bridge "${TEST_TAG}b1" "$n.1/24"
  mk_sandbox a; mk_sandbox b
  attach a "${TEST_TAG}b1" "${TEST_TAG}h1" eth0 "$n.2/24" "$n.1"
  attach b "${TEST_TAG}b1" "${TEST_TAG}h2" eth0 "$n.3/24" "$n.1"
  attach b "${TEST_TAG}b1" "${TEST_TAG}h3" eth1 "$n.4/24" "$n.1" --no-route

  cap nt link-list "${TEST_TAG}h"
  assert_eq "$(printf '%s\n' "${TEST_TAG}h1" "${TEST_TAG}h2" "${TEST_TAG}h3")" "$(sort <<<"$OUT")" "link-list"

  assert_ok nt detach "${TEST_TAG}h1"
  ! ip link show "${TEST_TAG}h1" >/dev/null 2>&1 || fail "h1 still there"
  cap in_sb a ip -o link show
  assert_not_contains "$OUT" "eth0" "the inside end went with it"
  assert_ok nt detach "${TEST_TAG}h1"   # a missing link is fine

  # destroying the sandbox frees its namespace, which takes the pairs along
  assert_ok nt sandbox-destroy "$T/b"
  wait_for 10 sh -c "! ip link show ${TEST_TAG}h2 && ! ip link show ${TEST_TAG}h3" ||
    fail "host ends of a destroyed sandbox remain: $(links_with_tag)"

  assert_ok nt link-delete "${TEST_TAG}b1"
  assert_ok nt link-delete "${TEST_TAG}b1"
  assert_eq "" "$(links_with_tag)" "no link of this test left"
  cap nt link-list "${TEST_TAG}"
  assert_eq "" "$OUT" "link-list after the cleanup"
}

# cover X: aligned CIDRs that together hold 10.231.0.0 to 10.231.(X-1).255
cover() {
  local x=$1 start=0 b p
  for b in 128 64 32 16 8 4 2 1; do
    if [ $((x & b)) -ne 0 ]; then
      p=$((24 - $(awk -v b="$b" 'BEGIN{print log(b)/log(2)}')))
      echo "10.231.$start.0/$p"
      start=$((start + b))
    fi
  done
}

test_host_routes_and_subnet_choice() {
  need_net
  local n x
  n=$(free_net); x=${n##*.}
  [ "$x" -lt 255 ] || skip "picked 10.231.255"
  ip -4 route show table all | grep -q "10\.231\.$((x + 1))\." && skip "10.231.$((x + 1)).0/24 is routed here"
  mk_bridge "${TEST_TAG}b1" "$n.1/24"

  assert_fails nt check-routes "$n.0/24"
  assert_contains "$OUT" "dev ${TEST_TAG}b1"
  assert_fails nt check-routes "$n.128/25"
  assert_fails nt check-routes "10.231.0.0/16"
  assert_ok nt check-routes "10.231.$((x + 1)).0/24"
  cap ip -4 route show default
  [ -z "$OUT" ] || assert_ok nt check-routes "203.0.113.0/24"   # the default route is no conflict

  # every pool before 10.231.X taken: the bridge's own subnet is skipped
  # because of its route, and the next one is chosen
  # shellcheck disable=SC2046
  assert_ok nt pick-subnet 24 10.192.0.0/11 10.224.0.0/14 10.228.0.0/15 10.230.0.0/16 $(cover "$x")
  assert_eq "10.231.$((x + 1)).0/24" "$OUT" "pick-subnet"
}

test_port_reserve() {
  need_net
  reserve tcp 127.0.0.1 0
  local p=$RESERVED
  [ "$p" -gt 0 ] || fail "no port"
  read -r lo hi < /proc/sys/net/ipv4/ip_local_port_range
  [ "$p" -ge "$lo" ] && [ "$p" -le "$hi" ] || fail "port $p outside $lo-$hi"
  assert_fails nt port-reserve tcp 127.0.0.1 "$p" </dev/null
  assert_contains "$OUT" "Bind for 127.0.0.1:$p failed: port is already allocated"
  assert_fails nt port-reserve tcp 0.0.0.0 "$p" </dev/null
  assert_contains "$OUT" "Bind for 0.0.0.0:$p failed: port is already allocated"
  # a reservation does not listen: nobody is answered on it
  ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || fail "the reserved TCP port accepts connections"

  reserve udp 0.0.0.0 0
  local u=$RESERVED
  assert_fails nt port-reserve udp 0.0.0.0 "$u" </dev/null
  assert_contains "$OUT" "port is already allocated"
  assert_fails nt port-reserve udp 127.0.0.1 "$u" </dev/null

  # released when its holder closes it
  eval "exec ${RESERVE_FDS[0]}>&-"
  wait_for 5 sh -c "'$NETTOOL' port-reserve tcp 127.0.0.1 $p </dev/null" || fail "port $p not free after release"
  assert_fails nt port-reserve sctpx 0.0.0.0 0 </dev/null
}

# one bridge network with a sandbox serving HTTP on port 80
setup_served_network() {
  NET=$(free_net)
  mk_bridge "${TEST_TAG}b1" "$NET.1/24"
  mk_sandbox a; mk_sandbox b
  attach a "${TEST_TAG}b1" "${TEST_TAG}h1" eth0 "$NET.2/24" "$NET.1"
  attach b "${TEST_TAG}b1" "${TEST_TAG}h2" eth0 "$NET.3/24" "$NET.1"
  start_fw
  fw_ok add-network "${TEST_TAG}b1" "$NET.0/24"
  serve_http a
}

test_published_tcp_port() {
  need_net
  setup_served_network
  reserve tcp 0.0.0.0 0
  local p=$RESERVED hip
  hip=$(host_ip)
  http_get "http://127.0.0.1:$p/x" && fail "answered before the port was published"
  fw_ok add-port tcp 0.0.0.0 "$p" "$NET.2" 80

  assert_eq "hello from a" "$(http_get "http://127.0.0.1:$p/x")" "via 127.0.0.1"
  if [ -n "$hip" ]; then
    assert_eq "hello from a" "$(http_get "http://$hip:$p/x")" "via the host address $hip"
    # from a neighbour and from the container itself, through the host address
    assert_eq "hello from a" "$(sb_get b "http://$hip:$p/x")" "from b via $hip"
    assert_eq "hello from a" "$(sb_get a "http://$hip:$p/x")" "hairpin via $hip"
  fi
  assert_eq "hello from a" "$(sb_get b "http://$NET.1:$p/x")" "from b via the gateway"

  # the same mapping again is fine, another target for it is not
  fw_ok add-port tcp 0.0.0.0 "$p" "$NET.2" 80
  fw_cmd add-port tcp 0.0.0.0 "$p" "$NET.3" 80
  assert_contains "$FW_REPLY" "port is already allocated"

  # bound to one host address only
  reserve tcp 127.0.0.1 0
  local q=$RESERVED
  fw_ok add-port tcp 127.0.0.1 "$q" "$NET.2" 80
  assert_eq "hello from a" "$(http_get "http://127.0.0.1:$q/x")" "127.0.0.1-only port"
  if [ -n "$hip" ]; then
    http_get "http://$hip:$q/x" && fail "127.0.0.1-only port answered on $hip"
  fi

  fw_ok remove-port tcp 0.0.0.0 "$p" "$NET.2" 80
  http_get "http://127.0.0.1:$p/x" && fail "still answered after remove-port"
  fw_ok remove-port tcp 0.0.0.0 "$p" "$NET.2" 80   # twice is fine
  assert_eq "hello from a" "$(http_get "http://127.0.0.1:$q/x")" "the other port is untouched"
}

test_published_udp_port() {
  need_net
  setup_served_network
  in_sb a true
  nt udp-echo-in "$T/a" 5353 > "$T/echo.out" 2>&1 &
  wait_for 5 grep -q ready "$T/echo.out" || fail "udp-echo-in: $(cat "$T/echo.out")"
  # the socket made through net_sandbox_run is inside: the host's port is free
  reserve udp 0.0.0.0 5353 || true
  reserve udp 0.0.0.0 0
  local p=$RESERVED hip
  fw_ok add-port udp 0.0.0.0 "$p" "$NET.2" 5353
  assert_ok nt udp-ask 127.0.0.1 "$p" hello
  assert_eq "from $NET.1 hello" "$OUT" "127.0.0.1 is masqueraded to the gateway"
  hip=$(host_ip)
  if [ -n "$hip" ]; then
    assert_ok nt udp-ask "$hip" "$p" there
    assert_eq "from $hip there" "$OUT" "via the host address"
  fi
  # a TCP mapping of the same port does not carry UDP and vice versa
  fw_ok remove-port udp 0.0.0.0 "$p" "$NET.2" 5353
  fw_ok add-port tcp 0.0.0.0 "$p" "$NET.2" 5353
  assert_fails nt udp-ask 127.0.0.1 "$p" hello
}

test_bridges_are_isolated() {
  need_net
  local n1 n2
  n1=$(free_net); n2=$(free_net)
  mk_bridge "${TEST_TAG}b1" "$n1.1/24"
  mk_bridge "${TEST_TAG}b2" "$n2.1/24"
  mk_sandbox a; mk_sandbox b
  attach a "${TEST_TAG}b1" "${TEST_TAG}h1" eth0 "$n1.2/24" "$n1.1"
  attach b "${TEST_TAG}b2" "${TEST_TAG}h2" eth0 "$n2.2/24" "$n2.1"
  # routed between the bridges before the firewall knows them
  pings a "$n2.2" || fail "no routing between the bridges to begin with"
  start_fw
  fw_ok add-network "${TEST_TAG}b1" "$n1.0/24"
  fw_ok add-network "${TEST_TAG}b2" "$n2.0/24"
  pings a "$n2.2" && fail "a reaches b across bridges"
  pings b "$n1.2" && fail "b reaches a across bridges"
  pings a "$n1.1" || fail "a cannot reach its gateway"
  pings host "$n2.2" || fail "the host cannot reach b"
  # a published port is reachable from the other bridge, as with Docker
  serve_http b
  reserve tcp 0.0.0.0 0
  fw_ok add-port tcp 0.0.0.0 "$RESERVED" "$n2.2" 80
  assert_eq "hello from b" "$(sb_get a "http://$n1.1:$RESERVED/x")" "published port across bridges"
  # isolation ends with the network
  fw_ok remove-network "${TEST_TAG}b2"
  pings a "$n2.2" || fail "still isolated after remove-network"
  fw_ok remove-network "${TEST_TAG}b2"   # twice is fine
}

test_internal_network() {
  need_net
  local ni no
  ni=$(free_net); no=$(free_net)
  mk_bridge "${TEST_TAG}bi" "$ni.1/24"
  mk_bridge "${TEST_TAG}bo" "$no.1/24"
  mk_sandbox i1; mk_sandbox i2; mk_sandbox o
  attach i1 "${TEST_TAG}bi" "${TEST_TAG}h1" eth0 "$ni.2/24" "$ni.1" --no-route
  attach i2 "${TEST_TAG}bi" "${TEST_TAG}h2" eth0 "$ni.3/24" "$ni.1"
  attach o "${TEST_TAG}bo" "${TEST_TAG}h3" eth0 "$no.2/24" "$no.1"

  cap in_sb i1 ip route
  assert_not_contains "$OUT" "default" "no default route with --no-route"
  cap in_sb i1 busybox ping -c1 -W1 "$no.2"
  assert_contains "$OUT" "unreachable" "no route out"

  pings i2 "$no.2" || fail "routed before the firewall knows the networks"
  start_fw
  fw_ok add-network "${TEST_TAG}bi" "$ni.0/24" internal
  pings i2 "$no.2" && fail "the internal network routes out"
  pings o "$ni.3" && fail "the internal network is reached from outside it"
  pings i2 "$ni.2" || fail "inside the internal network"
  cap nft list set ip "$TABLE" internal
  assert_contains "$OUT" "\"${TEST_TAG}bi\""
  cap nft list set ip "$TABLE" masq
  assert_not_contains "$OUT" "$ni.0/24" "an internal subnet is not masqueraded"
  # re-adding the bridge as a normal network replaces its rules
  fw_ok add-network "${TEST_TAG}bi" "$ni.0/24"
  cap nft list set ip "$TABLE" internal
  assert_not_contains "$OUT" "\"${TEST_TAG}bi\""
  cap nft list set ip "$TABLE" masq
  assert_contains "$OUT" "$ni.0/24"
}

test_masquerade_to_the_outside() {
  need_net
  local nc no
  nc=$(free_net); no=$(free_net)
  mk_bridge "${TEST_TAG}b1" "$nc.1/24"
  mk_sandbox a
  attach a "${TEST_TAG}b1" "${TEST_TAG}h1" eth0 "$nc.2/24" "$nc.1"
  # "the outside": a namespace on a bridge berth's firewall does not know,
  # with no route back to the container's subnet
  mk_bridge "${TEST_TAG}bx" "$no.1/24"
  mk_sandbox out
  attach out "${TEST_TAG}bx" "${TEST_TAG}h2" eth0 "$no.2/24" "$no.1" --no-route
  nt udp-echo-in "$T/out" 7777 > "$T/echo.out" 2>&1 &
  wait_for 5 grep -q ready "$T/echo.out" || fail "udp-echo-in: $(cat "$T/echo.out")"

  assert_fails in_sb a "$NETTOOL" udp-ask "$no.2" 7777 hi   # no way back without NAT
  start_fw
  fw_ok add-network "${TEST_TAG}b1" "$nc.0/24"
  assert_ok in_sb a "$NETTOOL" udp-ask "$no.2" 7777 hi
  assert_eq "from $no.1 hi" "$OUT" "the container's traffic leaves as the host"
  fw_ok remove-network "${TEST_TAG}b1"
  assert_fails in_sb a "$NETTOOL" udp-ask "$no.2" 7778 hi
}

test_fw_table_lifecycle() {
  need_net
  local n; n=$(free_net)
  start_fw
  assert_ok nft list table ip "$TABLE"
  assert_contains "$OUT" "chain prerouting"
  fw_ok add-network "${TEST_TAG}b1" "$n.0/24"
  fw_ok add-port tcp 0.0.0.0 40123 "$n.2" 80
  fw_ok add-port udp 127.0.0.1 40124 "$n.2" 53
  cap nft list table ip "$TABLE"
  assert_contains "$OUT" "40123 : $n.2 . 80"
  assert_contains "$OUT" "127.0.0.1 . 40124 : $n.2 . 53"
  assert_contains "$OUT" "$n.0/24"
  fw_cmd add-network "bad\"name" "$n.0/24"
  assert_contains "$FW_REPLY" "invalid bridge name"
  fw_cmd add-port tcp 0.0.0.0 40125 "$n.2"
  assert_match "$FW_REPLY" '^error: '

  # a second open starts from an empty table (berthd's restart)
  local other
  other=$(printf 'add-network %sb2 %s.0/24\n' "$TEST_TAG" "$n" | nt fw "$TABLE")
  assert_eq "$(printf 'ok\nok')" "$other" "second open"
  cap nft list table ip "$TABLE"
  assert_not_contains "$OUT" "40123" "elements of the first open are gone"
  assert_contains "$OUT" "\"${TEST_TAG}b2\""

  fw_ok destroy
  assert_fails nft list table ip "$TABLE"
  fw_ok destroy   # twice is fine

  assert_fails nt fw "bad name;"
  assert_contains "$OUT" "invalid nftables table name"
  cap nft list tables
  assert_not_contains "$OUT" "bad" "nothing made for a bad name"
}

run_tests "$@"
