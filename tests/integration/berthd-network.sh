#!/bin/bash
# berthd-network.sh: container networking through the real docker CLI, with
# real traffic: the default bridge, --network none|host|container:ID, user
# networks (create/ls/inspect/rm/prune/connect/disconnect, --subnet,
# --gateway, --ip-range, --internal, --label, bridge name), addresses (--ip,
# release), the embedded DNS server (names, aliases, forwarding to a fake
# resolver of the test's own), /etc/hosts, /etc/resolv.conf, /etc/hostname,
# published TCP and UDP ports (-p, -P, docker port), isolation between
# networks, bad input, and that nothing is left on the host (veths, bridges,
# rules) after docker rm -f, network rm and a daemon restart.
#
# The daemon runs with networking (DAEMON_NET=1, tests/lib/daemonlib.sh):
# its default bridge has a random name and a random free /24. Each test
# takes /24s of its own (net_prefix) for its networks and removes its
# containers and networks afterwards. Traffic goes only between the host
# and the test's containers (tests/lib/netlib.sh); containers that may ask
# the embedded DNS server for a name it does not know get a fake resolver
# of the test's own (--dns), so no query leaves the host.
#
# Berth-only assertions (berthd's nftables table) are marked so; where
# Debian's dockerd 20.10 checks the same through iptables it says so.
#
# Runs against berthd (default) or, to validate the tests, Debian's dockerd:
#   DAEMON=dockerd tests/run integration 'berthd-network*'
: "${TEST_TIMEOUT:=90}"
# shellcheck disable=SC2034 # (read by daemonlib.sh's start_daemon)
DAEMON_NET=1
. "$(dirname "$0")/../lib/testlib.sh"
. "$(dirname "$0")/../lib/daemonlib.sh"
. "$(dirname "$0")/../lib/containerlib.sh"
. "$(dirname "$0")/../lib/netlib.sh"

# in_prefix24 IP PREFIX: IP is a host address of PREFIX.0/24 (not .0/.255)
in_prefix24() {
  case $1 in "$2".*) ;; *) return 1 ;; esac
  local last=${1##*.}
  [ "$last" -ge 1 ] && [ "$last" -le 254 ]
}

# host_veth_of CT: the host end of the container's eth0 (its peer's name)
host_veth_of() {
  local idx
  idx=$(dk exec "$1" cat /sys/class/net/eth0/iflink) || fail "cannot read eth0's peer index in $1"
  ip -o link show | awk -F': ' -v i="$idx" '$1 == i { sub(/@.*/, "", $2); print $2 }'
}

# ------------------------------------------------------ built-in networks

test_default_bridge_address_and_gateway() {
  local ip gw j veth port p=${DAEMON_GATEWAY%.1}
  ct_sleeper "$(ct_name)"
  local c=$CT_ID
  ip=$(ct_ip "$c" bridge)
  in_prefix24 "$ip" "$p" || fail "the container's address '$ip' is not in the daemon's subnet $DAEMON_SUBNET"
  assert_ne "$DAEMON_GATEWAY" "$ip" "the container does not get the gateway's address"
  gw=$(ct_inspect "$c" '{{.NetworkSettings.Networks.bridge.Gateway}}')
  assert_eq "$DAEMON_GATEWAY" "$gw" "Gateway of the default bridge"
  j=$(dk network inspect bridge)
  assert_json "$j" --arg s "$DAEMON_SUBNET" '.[0].IPAM.Config[0].Subnet == $s' "the bridge network's subnet is the daemon's"
  assert_json "$j" --arg b "$DAEMON_BRIDGE" '.[0].Options["com.docker.network.bridge.name"] == $b' "the bridge device's name"
  assert_json "$j" '.[0].Driver == "bridge"' "driver of the bridge network"
  # inside: address, default route through the gateway
  cap dk exec "$c" ip -4 addr show eth0
  assert_contains "$OUT" "inet $ip/24" "eth0's address inside"
  cap dk exec "$c" ip route
  assert_match "$OUT" "^default via $DAEMON_GATEWAY " "default route through the gateway"
  # on the host: the veth peer is on the daemon's bridge
  veth=$(host_veth_of "$c")
  [ -n "$veth" ] || fail "no host link is the peer of the container's eth0"
  bridge_ports "$DAEMON_BRIDGE" | grep -qxF "$veth" || fail "the host end $veth is not on the bridge $DAEMON_BRIDGE: $(bridge_ports "$DAEMON_BRIDGE" | tr '\n' ' ')"
  # the container reaches the host at the gateway address
  port=$(free_port)
  host_httpd "$DAEMON_GATEWAY" "$port"
  ct_wget "$c" "http://$DAEMON_GATEWAY:$port/"
  assert_success "wget from the container to the host at the gateway"
  assert_eq "hello from the host" "$OUT"
  # and what lies beyond the host (forwarded and masqueraded)
  outside_ns
  ct_wget "$c" "http://$OUTSIDE_IP/"
  assert_success "wget from the container to the outside"
  assert_eq "hello from outside" "$OUT"
}

test_network_none_has_only_lo() {
  local img
  img=$(busybox_image)
  cap2 dk run --rm --network none "$img" ls /sys/class/net
  assert_success
  assert_eq "lo" "$(printf '%s' "$OUT" | tr -s ' \n' ' ' | sed 's/ $//')" "interfaces with --network none"
  cap2 dk run --rm --network none "$img" ip -4 -o addr
  assert_success
  assert_eq "1" "$(printf '%s\n' "$OUT" | grep -c 'inet ')" "only one IPv4 address (lo's)"
  assert_contains "$OUT" "inet 127.0.0.1/8" "lo has 127.0.0.1"
  ct_sleeper "$(ct_name)" --network none
  assert_json "$(dk container inspect "$CT_ID")" '.[0].NetworkSettings.Networks | keys == ["none"]' "Networks of a --network none container"
  assert_eq "" "$(ct_ip "$CT_ID")" "no IP address with --network none"
}

test_network_host_shares_the_host_namespace() {
  local img host_ns ct_ns links dev
  img=$(busybox_image)
  host_ns=$(netns_of_pid $$)
  cap2 dk run --rm --network host "$img" sh -c 'stat -L -c %i /proc/self/ns/net; ls /sys/class/net'
  assert_success
  ct_ns=$(printf '%s\n' "$OUT" | head -n1)
  assert_eq "$host_ns" "$ct_ns" "network namespace of a --network host container"
  links=$(printf '%s\n' "$OUT" | tail -n +2 | tr -s ' \t' '\n')
  for dev in lo "$DAEMON_BRIDGE" $(ip -o -4 addr show scope global | awk '{print $2}' | sort -u); do
    printf '%s\n' "$links" | grep -qxF "$dev" || fail "host interface $dev not seen with --network host: $links"
  done
  ct_sleeper "$(ct_name)" --network host
  assert_json "$(dk container inspect "$CT_ID")" '.[0].NetworkSettings.Networks | keys == ["host"]' "Networks of a --network host container"
}

test_network_container_shares_a_namespace() {
  local a b ipa
  a=$(ct_name a); b=$(ct_name b)
  ct_httpd "$a"
  local ida=$CT_ID
  ipa=$(ct_ip "$a")
  ct_sleeper "$b" --network "container:$a"
  assert_eq "$(netns_of_pid "$(ct_state "$a" Pid)")" "$(netns_of_pid "$(ct_state "$b" Pid)")" \
    "network namespace of --network container:A and A"
  assert_eq "container:$ida" "$(ct_inspect "$b" '{{.HostConfig.NetworkMode}}')" "NetworkMode (the id of A)"
  cap dk exec "$b" ip -4 addr show eth0
  assert_contains "$OUT" "inet $ipa/" "B sees A's address"
  ct_wget "$b" http://127.0.0.1/
  assert_success "B reaches A's server on 127.0.0.1"
  assert_eq "hello from $a" "$OUT"
}

# ------------------------------------------------------- user networks

test_network_create_inspect_ls_rm() {
  local n p br j c ip last
  n=$(net_name); p=$(net_prefix)
  br=bn$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
  net_create "$n" --driver bridge --subnet "$p.0/24" --gateway "$p.254" --ip-range "$p.128/25" \
    --label "bt.test=$TEST_TAG" --label bt.other=x -o "com.docker.network.bridge.name=$br"
  local id=$NET_ID
  j=$(dk network inspect "$n")
  assert_json "$j" --arg n "$n" --arg id "$id" '.[0].Name == $n and .[0].Id == $id' "Name and Id"
  assert_json "$j" '.[0].Driver == "bridge" and .[0].Scope == "local"' "Driver and Scope"
  assert_json "$j" --arg s "$p.0/24" --arg g "$p.254" --arg r "$p.128/25" \
    '.[0].IPAM.Config == [{"Subnet": $s, "IPRange": $r, "Gateway": $g}]' "IPAM.Config"
  assert_json "$j" '.[0].Internal == false' "Internal"
  assert_json "$j" --arg t "$TEST_TAG" '.[0].Labels == {"bt.test": $t, "bt.other": "x"}' "Labels"
  assert_json "$j" --arg b "$br" '.[0].Options["com.docker.network.bridge.name"] == $b' "Options: the bridge name"
  assert_eq "$br" "$(net_bridge "$n")"
  # the bridge is on the host with the gateway's address
  cap ip -4 addr show dev "$br"
  assert_success "the bridge $br exists on the host"
  assert_contains "$OUT" "inet $p.254/24" "the gateway address on the bridge"
  # ls: by name and by label
  cap2 dk network ls --filter "name=$n" --format '{{.Name}} {{.Driver}} {{.Scope}}'
  assert_eq "$n bridge local" "$OUT" "network ls --filter name"
  cap2 dk network ls -q --no-trunc --filter "label=bt.test=$TEST_TAG"
  assert_eq "$id" "$OUT" "network ls --filter label"
  # an address from the range, the gateway as given
  c=$(ct_name)
  ct_sleeper "$c" --network "$n"
  ip=$(ct_ip "$c" "$n")
  last=${ip##*.}
  in_prefix24 "$ip" "$p" && [ "$last" -ge 128 ] && [ "$last" -le 253 ] ||
    fail "address $ip is not in the --ip-range $p.128/25 (gateway .254 excluded)"
  assert_eq "$p.254" "$(ct_inspect "$c" "{{(index .NetworkSettings.Networks \"$n\").Gateway}}")" "the container's gateway"
  cap dk exec "$c" ip route
  assert_match "$OUT" "^default via $p.254 " "default route through the given gateway"
  assert_json "$(dk network inspect "$n")" --arg id "$CT_ID" '.[0].Containers | has($id)' "inspect lists the container"
  assert_ok dk rm -f "$c"
  assert_ok dk network rm "$n"
  assert_fails dk network inspect "$n"
  assert_match "$OUT" "(not found|No such network)" "inspect after rm"
  cap2 dk network ls -q --filter "name=$n"
  assert_eq "" "$OUT" "network ls after rm"
  ! ip link show dev "$br" >/dev/null 2>&1 || fail "the bridge $br is still on the host after network rm"
}

test_network_internal_has_no_way_out() {
  local n p m q c d port
  n=$(net_name int); p=$(net_prefix)
  m=$(net_name ext); q=$(net_prefix)
  net_create "$n" --internal --subnet "$p.0/24"
  net_create "$m" --subnet "$q.0/24"
  assert_json "$(dk network inspect "$n")" '.[0].Internal == true' "Internal"
  assert_json "$(dk network inspect "$m")" '.[0].Internal == false' "Internal of a plain network"
  c=$(ct_name int); d=$(ct_name ext)
  ct_sleeper "$c" --network "$n"
  ct_sleeper "$d" --network "$m"
  # "the outside": a namespace behind the host, reached through forwarding
  outside_ns
  ct_wget "$d" "http://$OUTSIDE_IP/"
  assert_success "control: a container on a plain network reaches the outside"
  assert_eq "hello from outside" "$OUT"
  ct_wget "$c" "http://$OUTSIDE_IP/" 3
  [ "$RC" -ne 0 ] || fail "a container on an --internal network reached the outside $OUTSIDE_IP: $OUT"
  # peers on the internal network still reach each other
  ct_httpd "$(ct_name int2)" --network "$n"
  ct_wget "$c" "http://$(ct_name int2)/"
  assert_success "peers on an --internal network"
  if is_dockerd; then
    # dockerd 20.10 differs: it gives containers of an --internal network
    # a default route to the bridge and filters only forwarded traffic, so
    # they reach the host's own addresses. berthd: no default route, and
    # the host is not reachable at another network's gateway.
    return 0
  fi
  cap dk exec "$c" ip route
  assert_success
  assert_no_match "$OUT" '^default' "a container on an --internal network has no default route"
  port=$(free_port)
  host_httpd "$DAEMON_GATEWAY" "$port"
  ct_wget "$d" "http://$DAEMON_GATEWAY:$port/"
  assert_success "control: a container on a plain network reaches the host at the default bridge's gateway"
  ct_wget "$c" "http://$DAEMON_GATEWAY:$port/" 3
  [ "$RC" -ne 0 ] || fail "a container on an --internal network reached the host at $DAEMON_GATEWAY:$port: $OUT"
}

test_network_prune_removes_unused_only() {
  local used unused p1 p2 bru
  used=$(net_name used); unused=$(net_name unused)
  p1=$(net_prefix); p2=$(net_prefix)
  net_create "$used" --subnet "$p1.0/24" --label "bt.test=$TEST_TAG"
  net_create "$unused" --subnet "$p2.0/24" --label "bt.test=$TEST_TAG"
  bru=$(net_bridge "$unused")
  ip link show dev "$bru" >/dev/null 2>&1 || fail "bridge $bru of the unused network is not on the host"
  ct_sleeper "$(ct_name)" --network "$used"
  # until: only networks created before the time (a duration before now)
  cap2 dk network prune -f --filter "label=bt.test=$TEST_TAG" --filter until=1h
  assert_success
  assert_not_contains "$OUT" "$unused" "prune --filter until=1h keeps a network made just now"
  assert_ok dk network inspect "$unused"
  assert_fails dk network prune -f --filter until=yesterday
  cap2 dk network prune -f --filter "label=bt.test=$TEST_TAG"
  assert_success
  assert_contains "$OUT" "$unused" "prune names the network it removed"
  assert_not_contains "$OUT" "$used" "prune does not remove a network in use"
  assert_fails dk network inspect "$unused"
  assert_ok dk network inspect "$used"
  ! ip link show dev "$bru" >/dev/null 2>&1 || fail "the bridge $bru is still on the host after prune"
}

test_network_bad_subnets_and_gateways() {
  local n p q before after name
  n=$(net_name); p=$(net_prefix); q=$(net_prefix)
  net_create "$n" --subnet "$p.0/24"
  before=$(ip -o link show type bridge | awk -F': ' '{print $2}' | sort)
  # (each attempt is named after the test: none may be left in ls)
  assert_fails dk network create --subnet "$p.128/25" "$(net_name overlap)"
  assert_match "$OUT" "(overlap|in use|conflict)" "overlapping subnet"
  assert_fails dk network create --subnet "$p.0/24" "$(net_name same)"
  assert_match "$OUT" "(overlap|in use|conflict)" "the same subnet again"
  assert_fails dk network create --subnet 10.300.0.0/24 "$(net_name bad1)"
  assert_match "$OUT" "(invalid|bad|parse)" "subnet 10.300.0.0/24"
  assert_fails dk network create --subnet notacidr "$(net_name bad2)"
  assert_match "$OUT" "(invalid|bad|parse)" "subnet notacidr"
  assert_fails dk network create --subnet "$q.0/33" "$(net_name bad3)"
  assert_match "$OUT" "(invalid|bad|parse)" "prefix /33"
  assert_fails dk network create --subnet "$q.0/24" --gateway "$p.1" "$(net_name gwout)"
  assert_match "$OUT" "gateway" "gateway outside the subnet"
  assert_fails dk network create --subnet "$q.0/24" --gateway 10.1.1.300 "$(net_name gwbad)"
  assert_match "$OUT" "(invalid|gateway)" "an invalid gateway"
  assert_fails dk network create --subnet "$q.0/24" --ip-range "$p.0/25" "$(net_name rangeout)"
  assert_match "$OUT" "range" "--ip-range outside the subnet"
  assert_fails dk network create --driver nosuchdriver "$(net_name drv)"
  assert_match "$OUT" "(nosuchdriver|driver)" "an unknown driver"
  assert_fails dk network create --subnet "$q.0/24" "$n"
  assert_match "$OUT" "(exists|in use|conflict)" "a name that is taken"
  # nothing half made: no network, no new bridge
  cap2 dk network ls --format '{{.Name}}'
  for name in overlap same bad1 bad2 bad3 gwout gwbad rangeout drv; do
    printf '%s\n' "$OUT" | grep -qxF "$(net_name "$name")" && fail "network $(net_name "$name") was made despite the error"
  done
  after=$(ip -o link show type bridge | awk -F': ' '{print $2}' | sort)
  assert_eq "$before" "$after" "bridges on the host after the failed creates"
  # the subnet of a failed create is free: it can be used now
  net_create "$(net_name ok)" --subnet "$q.0/24" --gateway "$q.1"
}

test_network_mtu_option() {
  local n p mtu img veth
  img=$(busybox_image)
  # the default bridge: the MTU it shows is the containers' eth0 MTU
  mtu=$(dk network inspect bridge -f '{{index .Options "com.docker.network.driver.mtu"}}')
  [ -n "$mtu" ] || fail "the default bridge shows no com.docker.network.driver.mtu option"
  cap2 dk run --rm "$img" cat /sys/class/net/eth0/mtu
  assert_success
  assert_eq "$mtu" "$OUT" "eth0's MTU on the default bridge"
  # a user network's own MTU, inside and at the host end
  n=$(net_name); p=$(net_prefix)
  net_create "$n" --subnet "$p.0/24" -o com.docker.network.driver.mtu=1400
  ct_sleeper "$(ct_name)" --network "$n"
  cap dk exec "$CT_ID" cat /sys/class/net/eth0/mtu
  assert_eq "1400" "$OUT" "eth0's MTU on a network with mtu 1400"
  veth=$(host_veth_of "$CT_ID")
  assert_eq "1400" "$(cat "/sys/class/net/$veth/mtu")" "the host end's MTU"
  # bad values are refused and leave nothing behind
  assert_fails dk network create --subnet "$(net_prefix).0/24" -o com.docker.network.driver.mtu=abc "$(net_name badmtu)"
  assert_match "$OUT" "(MTU|mtu|invalid|parsing)" "mtu abc"
  cap2 dk network ls --format '{{.Name}}'
  printf '%s\n' "$OUT" | grep -qxF "$(net_name badmtu)" && fail "a network with a bad MTU was made"
  return 0
}

test_network_rm_in_use_and_unknown_names() {
  local n p c img ghost
  n=$(net_name); p=$(net_prefix)
  net_create "$n" --subnet "$p.0/24"
  c=$(ct_name)
  ct_sleeper "$c" --network "$n"
  local br
  br=$(net_bridge "$n")
  assert_fails dk network rm "$n"
  assert_match "$OUT" "(active endpoints|in use)" "rm of a network in use"
  assert_ok dk network inspect "$n"
  assert_eq "true" "$(ct_state "$c" Running)" "the container still runs"
  in_prefix24 "$(ct_ip "$c" "$n")" "$p" || fail "the container lost its address on $n"
  ip link show dev "$br" >/dev/null 2>&1 || fail "the bridge $br went away"
  # unknown networks
  img=$(busybox_image)
  ghost=$(net_name ghost)
  capf dk run -d --name "$(ct_name r)" --network "$ghost" "$img" sleep 60
  defer "dk rm -f '$(ct_name r)'"
  [ "$RC" -ne 0 ] || fail "run --network of an unknown network succeeded"
  assert_match "$OUT" "not found" "run --network of an unknown network"
  if dk container inspect "$(ct_name r)" >/dev/null 2>&1; then
    assert_ne "true" "$(ct_state "$(ct_name r)" Running)" "a container on an unknown network runs"
  fi
  assert_fails dk network connect "$ghost" "$c"
  assert_match "$OUT" "not found" "connect to an unknown network"
  assert_fails dk network rm "$ghost"
  assert_match "$OUT" "(not found|No such network)" "rm of an unknown network"
  assert_fails dk network connect "$n" "$(ct_name nosuchct)"
  assert_match "$OUT" "(No such container|not found)" "connect of an unknown container"
  # once the container is gone, rm works
  assert_ok dk rm -f "$c"
  assert_ok dk network rm "$n"
}

test_network_connect_twice_fails() {
  local n p c
  n=$(net_name); p=$(net_prefix)
  net_create "$n" --subnet "$p.0/24"
  c=$(ct_name)
  ct_sleeper "$c" --network "$n"
  assert_fails dk network connect "$n" "$c"
  assert_match "$OUT" "(already exists|already connected|already attached)" "connect twice"
  assert_eq "$(printf 'eth0\nlo')" "$(ct_links "$c")" "interfaces after the second connect"
  assert_json "$(dk container inspect "$c")" --arg n "$n" '.[0].NetworkSettings.Networks | keys == [$n]' "still one network"
}

# ------------------------------------------------------ names and addresses

test_user_network_peers_by_name_and_alias() {
  local n p s c
  n=$(net_name); p=$(net_prefix)
  net_create "$n" --subnet "$p.0/24"
  s=$(ct_name srv); c=$(ct_name cli)
  ct_httpd "$s" --network "$n" --network-alias web --network-alias "www.$TEST_TAG.test"
  ct_sleeper "$c" --network "$n"
  ct_wget "$c" "http://$s/"
  assert_success "wget by container name"
  assert_eq "hello from $s" "$OUT"
  ct_wget "$c" "http://web/"
  assert_success "wget by --network-alias"
  assert_eq "hello from $s" "$OUT"
  ct_wget "$c" "http://www.$TEST_TAG.test/"
  assert_success "wget by a dotted --network-alias"
  assert_eq "hello from $s" "$OUT"
  assert_json "$(dk container inspect "$s")" --arg n "$n" '.[0].NetworkSettings.Networks[$n].Aliases | index("web") != null' "Aliases in inspect"
  # and the other way round
  ct_httpd "$(ct_name srv2)" --network "$n"
  ct_wget "$s" "http://$(ct_name srv2)/"
  assert_success "wget by name from the first server"
}

test_network_connect_alias_and_disconnect() {
  local a b pa pb s c ip links
  a=$(net_name a); b=$(net_name b)
  pa=$(net_prefix); pb=$(net_prefix)
  net_create "$a" --subnet "$pa.0/24"
  net_create "$b" --subnet "$pb.0/24"
  # c asks for names that are not its network's: its queries go to a
  # fake resolver of ours on b's gateway (NXDOMAIN), not off the host
  fake_dns "$pb.1"
  s=$(ct_name s); c=$(ct_name c)
  ct_httpd "$s" --network "$a"
  ct_sleeper "$c" --network "$b" --dns "$pb.1"
  ct_wget "$c" "http://svc/" 3
  [ "$RC" -ne 0 ] || fail "svc resolved on $b before the connect: $OUT"
  assert_ok dk network connect --alias svc "$b" "$s"
  ip=$(ct_ip "$s" "$b")
  in_prefix24 "$ip" "$pb" || fail "connect gave $s the address '$ip', not one of $pb.0/24"
  assert_json "$(dk container inspect "$s")" --arg n "$b" '.[0].NetworkSettings.Networks[$n].Aliases | index("svc") != null' "connect --alias in inspect"
  links=$(ct_links "$s")
  assert_eq "$(printf 'eth0\neth1\nlo')" "$links" "interfaces after connect"
  cap dk exec "$s" ip -4 addr show eth1
  assert_contains "$OUT" "inet $ip/24" "eth1 has the new address"
  ct_wget "$c" "http://svc/"
  assert_success "wget by the alias given at connect"
  assert_eq "hello from $s" "$OUT"
  ct_wget "$c" "http://$s/"
  assert_success "wget by name after connect"
  # disconnect: the interface, the address and the names go
  assert_ok dk network disconnect "$b" "$s"
  assert_eq "$(printf 'eth0\nlo')" "$(ct_links "$s")" "interfaces after disconnect"
  assert_json "$(dk container inspect "$s")" --arg n "$b" '.[0].NetworkSettings.Networks | has($n) | not' "inspect after disconnect"
  ct_wget "$c" "http://svc/" 3
  [ "$RC" -ne 0 ] || fail "svc still answers after disconnect: $OUT"
  ct_wget "$c" "http://$ip/" 3
  [ "$RC" -ne 0 ] || fail "the released address $ip still answers after disconnect: $OUT"
  # disconnecting again is an error
  assert_fails dk network disconnect "$b" "$s"
  # the server still serves on its first network
  ct_sleeper "$(ct_name d)" --network "$a"
  ct_wget "$(ct_name d)" "http://$s/"
  assert_success "the server still answers on its first network"
}

test_static_ip() {
  local n m p q s c img
  n=$(net_name n); m=$(net_name m)
  p=$(net_prefix); q=$(net_prefix)
  net_create "$n" --subnet "$p.0/24"
  net_create "$m" --subnet "$q.0/24"
  s=$(ct_name s); c=$(ct_name c)
  ct_httpd "$s" --network "$n" --ip "$p.77"
  assert_eq "$p.77" "$(ct_ip "$s" "$n")" "IPAddress with --ip"
  assert_eq "$p.77" "$(ct_inspect "$s" "{{(index .NetworkSettings.Networks \"$n\").IPAMConfig.IPv4Address}}")" "IPAMConfig.IPv4Address"
  cap dk exec "$s" ip -4 addr show eth0
  assert_contains "$OUT" "inet $p.77/24" "the address inside"
  ct_sleeper "$c" --network "$n"
  ct_wget "$c" "http://$p.77/"
  assert_success "wget to the static address"
  assert_eq "hello from $s" "$OUT"
  # connect --ip
  assert_ok dk network connect --ip "$q.88" "$m" "$c"
  assert_eq "$q.88" "$(ct_ip "$c" "$m")" "connect --ip"
  cap dk exec "$c" ip -4 addr show eth1
  assert_contains "$OUT" "inet $q.88/24" "the connect --ip address inside"
  # errors: taken, outside the subnet, on the default bridge
  img=$(busybox_image)
  capf dk run -d --name "$(ct_name dup)" --network "$n" --ip "$p.77" "$img" sleep 60
  defer "dk rm -f '$(ct_name dup)'"
  [ "$RC" -ne 0 ] || fail "a second container got the address $p.77"
  assert_match "$OUT" "(in use|already|allocated)" "--ip of an address in use"
  capf dk run -d --name "$(ct_name out)" --network "$n" --ip "$q.5" "$img" sleep 60
  defer "dk rm -f '$(ct_name out)'"
  [ "$RC" -ne 0 ] || fail "--ip outside the subnet was accepted"
  capf dk run -d --name "$(ct_name dflt)" --ip "$p.99" "$img" sleep 60
  defer "dk rm -f '$(ct_name dflt)'"
  [ "$RC" -ne 0 ] || fail "--ip on the default bridge was accepted"
  assert_match "$OUT" "user.defined|user.specified|user configured" "--ip on the default bridge"
  local x
  for x in dup out dflt; do
    if dk container inspect "$(ct_name "$x")" >/dev/null 2>&1; then
      assert_ne "true" "$(ct_state "$(ct_name "$x")" Running)" "container $(ct_name "$x") runs after the error"
    fi
  done
  assert_eq "$p.77" "$(ct_ip "$s" "$n")" "the first owner keeps $p.77"
}

test_ip_addresses_released_when_containers_go() {
  local n p img i c
  n=$(net_name); p=$(net_prefix)
  # a /29: .1 the gateway, .2 to .6 for containers
  net_create "$n" --subnet "$p.0/29"
  img=$(busybox_image)
  for i in $(seq 1 12); do
    cap dk run --rm --network "$n" "$img" true
    [ "$RC" -eq 0 ] || fail "run number $i on a /29 failed (addresses not released?): $OUT"
  done
  for i in 1 2 3 4 5; do
    ct_sleeper "$(ct_name "f$i")" --network "$n"
  done
  capf dk run -d --name "$(ct_name extra)" --network "$n" "$img" sleep 60
  defer "dk rm -f '$(ct_name extra)'"
  [ "$RC" -ne 0 ] || fail "a sixth container got an address on a full /29"
  assert_match "$OUT" "(no available|exhausted|no free|no more)" "the error on a full network"
  dk rm -f "$(ct_name extra)" >/dev/null 2>&1 || true
  c=$(ct_name f3)
  local freed
  freed=$(ct_ip "$c" "$n")
  assert_ok dk rm -f "$c"
  ct_sleeper "$(ct_name again)" --network "$n"
  assert_eq "$freed" "$(ct_ip "$(ct_name again)" "$n")" "the only free address is the one released"
}

# ------------------------------------------------------------- DNS

test_embedded_dns_resolves_names_and_aliases() {
  local n p a b ipa dnsip
  n=$(net_name); p=$(net_prefix)
  net_create "$n" --subnet "$p.0/24"
  fake_dns "$p.1"
  a=$(ct_name a); b=$(ct_name b)
  ct_sleeper "$a" --network "$n" --network-alias alias-a --dns "$p.1"
  ct_sleeper "$b" --network "$n" --dns "$p.1"
  ipa=$(ct_ip "$a" "$n")
  cap dk exec "$b" cat /etc/resolv.conf
  assert_match "$OUT" '^nameserver 127\.0\.0\.11$' "resolv.conf on a user network"
  assert_eq "1" "$(printf '%s\n' "$OUT" | grep -c '^nameserver')" "one nameserver, the embedded one: $OUT"
  for dnsip in "" 127.0.0.11; do
    cap dk exec "$b" nslookup "$a" $dnsip
    assert_success "nslookup $a $dnsip"
    assert_match "$OUT" "^Address:? *(1: )?$ipa\$" "nslookup of the peer's name"
  done
  cap dk exec "$b" nslookup alias-a
  assert_success "nslookup of an alias"
  assert_match "$OUT" "^Address:? *(1: )?$ipa\$" "nslookup of the peer's alias"
  # the embedded server answered itself: nothing was forwarded
  assert_no_match "$(cat "$T/fake-dns.log")" "^($a|alias-a)[. ]" "names of the network forwarded to the upstream resolver"
}

test_embedded_dns_follows_a_rename() {
  local n p a b ipa
  n=$(net_name); p=$(net_prefix)
  net_create "$n" --subnet "$p.0/24"
  fake_dns "$p.1"
  a=$(ct_name a); b=$(ct_name b)
  ct_sleeper "$a" --network "$n" --dns "$p.1"
  ct_sleeper "$b" --network "$n" --dns "$p.1"
  ipa=$(ct_ip "$a" "$n")
  cap dk exec "$b" nslookup "$a"
  assert_match "$OUT" "^Address:? *(1: )?$ipa\$" "nslookup of the peer's name before the rename"
  cap2 dk rename "$a" "$a-new"
  assert_success "docker rename"
  defer "dk rm -f '$a-new'"
  cap dk exec "$b" nslookup "$a-new"
  assert_success "nslookup of the new name"
  assert_match "$OUT" "^Address:? *(1: )?$ipa\$" "the new name resolves to the renamed container"
  cap dk exec "$b" nslookup "$a"
  assert_no_match "$OUT" "^Address:? *(1: )?$ipa\$" "the old name no longer resolves to the renamed container"
}

test_network_events_at_start_and_stop() {
  local n p c since until ev
  n=$(net_name); p=$(net_prefix)
  net_create "$n" --subnet "$p.0/24"
  since=$(date +%s)
  c=$(ct_name)
  ct_sleeper "$c" --network "$n"
  dk stop -t 1 "$c" >/dev/null || fail "docker stop"
  sleep 1
  until=$(( $(date +%s) + 1 ))
  cap dk events --since "$since" --until "$until" --filter type=network --filter "network=$NET_ID" \
    --format '{{.Action}} {{index .Actor.Attributes "container"}}'
  assert_success "docker events"
  ev=$(printf '%s\n' "$OUT" | grep -v '^create ')
  assert_match "$ev" "^connect $CT_ID\$" "a network connect event when the container starts"
  assert_match "$ev" "^disconnect $CT_ID\$" "a network disconnect event when it stops"
}

test_embedded_dns_forwards_other_names() {
  local n p c
  n=$(net_name); p=$(net_prefix)
  net_create "$n" --subnet "$p.0/24"
  # the upstream: a fake resolver of ours on the network's gateway
  fake_dns "$p.1"
  c=$(ct_name)
  ct_sleeper "$c" --network "$n" --dns "$p.1"
  cap dk exec "$c" cat /etc/resolv.conf
  assert_match "$OUT" '^nameserver 127\.0\.0\.11$' "--dns on a user network: still the embedded server in resolv.conf"
  assert_no_match "$OUT" "^nameserver $p\\.1\$" "--dns on a user network is the embedded server's upstream, not in resolv.conf"
  cap dk exec "$c" nslookup "up.$TEST_TAG.fake.test"
  assert_success "nslookup of a name only the upstream knows"
  assert_contains "$OUT" "198.51.100.7" "the upstream's answer"
  assert_match "$(cat "$T/fake-dns.log")" "^up\\.$TEST_TAG\\.fake\\.test 1 " "the upstream got the A query"
  cap dk exec "$c" nslookup "nx.$TEST_TAG.example"
  [ "$RC" -ne 0 ] || assert_not_contains "$OUT" "198.51.100.7" "an NXDOMAIN from the upstream"
  assert_match "$(cat "$T/fake-dns.log")" "^nx\\.$TEST_TAG\\.example 1 " "the upstream got the second query"
}

test_hosts_resolv_hostname_files() {
  local img n p ip
  img=$(busybox_image)
  # (198.51.100.53 is TEST-NET-2, only written into resolv.conf; nothing
  # is looked up here)
  cap2 dk run --rm --hostname "myhost-$TEST_TAG" --add-host extra.example:10.1.2.3 --add-host two.example:10.1.2.4 \
    --dns 198.51.100.53 --dns-search search.example --dns-search s2.example "$img" sh -c \
    'echo "hostname=$(hostname)"; echo "etc-hostname=$(cat /etc/hostname)"; ip -4 -o addr show eth0; echo ---; cat /etc/hosts; echo ---; cat /etc/resolv.conf'
  assert_success
  assert_contains "$OUT" "hostname=myhost-$TEST_TAG" "hostname"
  assert_contains "$OUT" "etc-hostname=myhost-$TEST_TAG" "/etc/hostname"
  ip=$(printf '%s\n' "$OUT" | sed -n 's/.* inet \([0-9.]*\)\/.*/\1/p' | head -n1)
  [ -n "$ip" ] || fail "no address of eth0 in: $OUT"
  local hosts resolv
  hosts=$(printf '%s\n' "$OUT" | awk '/^---$/ {n++; next} n == 1')
  resolv=$(printf '%s\n' "$OUT" | awk '/^---$/ {n++; next} n == 2')
  assert_match "$hosts" '^127\.0\.0\.1[[:space:]]+localhost' "/etc/hosts: localhost"
  assert_match "$hosts" "^10\\.1\\.2\\.3[[:space:]]+extra\\.example\$" "/etc/hosts: --add-host"
  assert_match "$hosts" "^10\\.1\\.2\\.4[[:space:]]+two\\.example\$" "/etc/hosts: a second --add-host"
  assert_match "$hosts" "^${ip//./\\.}[[:space:]]+myhost-$TEST_TAG(\$|[[:space:]])" "/etc/hosts: the container's address and hostname"
  assert_match "$resolv" '^nameserver 198\.51\.100\.53$' "resolv.conf: --dns on the default bridge"
  assert_eq "1" "$(printf '%s\n' "$resolv" | grep -c '^nameserver')" "resolv.conf: only the --dns server"
  assert_match "$resolv" '^search search\.example s2\.example$' "resolv.conf: --dns-search"
  # the default: the host's name servers on the default bridge
  cap2 dk run --rm "$img" cat /etc/resolv.conf
  assert_no_match "$OUT" '127\.0\.0\.11' "the default bridge has no embedded DNS server"
  # a user network: the embedded server, the search domains, hosts entry
  n=$(net_name); p=$(net_prefix)
  net_create "$n" --subnet "$p.0/24"
  cap2 dk run --rm --network "$n" --ip "$p.9" --hostname "h-$TEST_TAG" --dns-search search.example \
    --add-host extra.example:10.1.2.3 "$img" sh -c 'cat /etc/hosts; echo ---; cat /etc/resolv.conf; echo ---; cat /etc/hostname'
  assert_success
  hosts=$(printf '%s\n' "$OUT" | awk '/^---$/ {n++; next} n == 0')
  resolv=$(printf '%s\n' "$OUT" | awk '/^---$/ {n++; next} n == 1')
  assert_match "$hosts" "^${p//./\\.}\\.9[[:space:]]+h-$TEST_TAG(\$|[[:space:]])" "/etc/hosts on a user network"
  assert_match "$hosts" "^10\\.1\\.2\\.3[[:space:]]+extra\\.example\$" "/etc/hosts: --add-host on a user network"
  assert_match "$resolv" '^nameserver 127\.0\.0\.11$' "resolv.conf on a user network"
  assert_match "$resolv" '^search search\.example$' "--dns-search on a user network"
  assert_eq "h-$TEST_TAG" "$(printf '%s\n' "$OUT" | awk '/^---$/ {n++; next} n == 2')" "/etc/hostname on a user network"
}

# ------------------------------------------------------- the berth CLI

# berth's own network commands and `berth port` (the same API, so this
# runs against dockerd too)
test_berth_cli_network_and_port() {
  local cli n p id c port
  cli=$(dirname "$RUNTIME")/berth
  [ -x "$cli" ] || fail "the berth CLI is not built at $cli"
  bt() { timeout 60 "$cli" -H "$DOCKER_HOST" "$@"; }
  n=$(net_name cli); p=$(net_prefix)
  defer "dk network rm '$n'"
  cap bt network create --subnet "$p.0/24" --gateway "$p.1" --label "k=$TEST_TAG" -o com.docker.network.driver.mtu=1400 "$n"
  assert_success "berth network create"
  id=$OUT
  assert_match "$id" '^[0-9a-f]{64}$' "berth network create prints the id"
  cap bt network ls
  assert_match "$OUT" "^${id:0:12} +$n +bridge +local\$" "berth network ls"
  cap bt network ls -q
  assert_contains "$OUT" "${id:0:12}" "berth network ls -q"
  cap bt network inspect "$n"
  assert_success
  assert_json "$OUT" --arg s "$p.0/24" '.[0].IPAM.Config[0].Subnet == $s' "subnet from berth network create"
  assert_json "$OUT" --arg t "$TEST_TAG" '.[0].Labels.k == $t' "label from berth network create"
  assert_json "$OUT" '.[0].Options["com.docker.network.driver.mtu"] == "1400"' "option from berth network create"
  c=$(ct_name); port=$(free_port)
  ct_httpd "$c" -p "$port:80"
  cap bt network connect --alias "web-$TEST_TAG" --ip "$p.10" "$n" "$c"
  assert_success "berth network connect"
  assert_eq "$p.10" "$(ct_ip "$c" "$n")" "the address berth network connect asked for"
  assert_json "$(dk container inspect "$c")" --arg n "$n" --arg a "web-$TEST_TAG" \
    '.[0].NetworkSettings.Networks[$n].Aliases | index($a) != null' "the alias berth network connect asked for"
  assert_fails bt network rm "$n"
  cap bt network disconnect "$n" "$c"
  assert_success "berth network disconnect"
  assert_eq "" "$(ct_ip "$c" "$n")" "no address on $n after berth network disconnect"
  # ports
  cap bt port "$c"
  assert_success "berth port"
  assert_match "$OUT" "^80/tcp -> 0\.0\.0\.0:$port\$" "berth port CONTAINER"
  cap bt port "$c" 80
  assert_match "$OUT" "^0\.0\.0\.0:$port\$" "berth port CONTAINER 80"
  assert_fails bt port "$c" 81/tcp
  assert_contains "$OUT" "81/tcp"
  # removal, and errors
  cap bt network rm "$n"
  assert_success "berth network rm"
  assert_fails bt network inspect "$n"
  assert_fails bt network rm "$n"
  assert_contains "$OUT" "$n"
  assert_fails bt network create --label novalue "$(net_name bad)"
}

# ------------------------------------------------------- published ports

test_publish_tcp_port() {
  local c port port2 ha
  c=$(ct_name)
  port=$(free_port); port2=$(free_port)
  ct_httpd "$c" -p "$port:80" -p "127.0.0.1:$port2:80"
  http_get "http://127.0.0.1:$port/"
  assert_success "curl http://127.0.0.1:$port/ from the host"
  assert_eq "hello from $c" "$OUT"
  ha=$(host_addr)
  if [ -n "$ha" ]; then
    http_get "http://$ha:$port/"
    assert_success "curl the published port at the host's address $ha"
    assert_eq "hello from $c" "$OUT"
  else
    log "the host has no global IPv4 address outside bridges: only 127.0.0.1 checked"
  fi
  http_get "http://$DAEMON_GATEWAY:$port/"
  assert_success "curl the published port at the bridge gateway (a host address too)"
  # bound to 127.0.0.1 only
  http_get "http://127.0.0.1:$port2/"
  assert_success "curl the port published on 127.0.0.1"
  if [ -n "$ha" ]; then
    http_get "http://$ha:$port2/" 3
    [ "$RC" -ne 0 ] || fail "a port published on 127.0.0.1 answers at $ha: $OUT"
  fi
  cap2 dk port "$c" 80/tcp
  assert_success
  assert_match "$OUT" "^0\\.0\\.0\\.0:$port\$" "docker port: the port on every address"
  assert_match "$OUT" "^127\\.0\\.0\\.1:$port2\$" "docker port: the port on 127.0.0.1"
  assert_json "$(dk container inspect "$c")" --arg p "$port" --arg q "$port2" \
    '[.[0].NetworkSettings.Ports["80/tcp"][] | .HostIp + ":" + .HostPort] | (index("0.0.0.0:" + $p) != null) and (index("127.0.0.1:" + $q) != null)' \
    "NetworkSettings.Ports"
  # gone with the container
  assert_ok dk rm -f "$c"
  http_get "http://127.0.0.1:$port/" 3
  [ "$RC" -ne 0 ] || fail "the published port still answers after rm -f: $OUT"
}

test_publish_udp_port() {
  local img c port port2 ha msg
  img=$(nettools_image)
  c=$(ct_name)
  port=$(free_port udp); port2=$(free_port udp)
  ct_run_d "$c" -p "$port:5000/udp" -p "$port2:5001/udp" "$img" sh -c \
    '/udplisten 5000 "got5000 " & /udplisten 5001 "got5001 " & wait'
  wait_for 10 sh -c "'$DOCKER_BIN' exec '$c' netstat -lun | grep -q ':5001 '" ||
    fail "the UDP listeners did not start: $(dk exec "$c" netstat -lun 2>&1) $(dk logs "$c" 2>&1 | tail -n 3)"
  msg="udp-hello-$TEST_TAG"
  udp_exchange "$c" 127.0.0.1 "$port" "$msg" "got5000 $msg"
  ha=$(host_addr)
  if [ -n "$ha" ]; then
    udp_exchange "$c" "$ha" "$port2" "$msg-2" "got5001 $msg-2"
  else
    log "the host has no global IPv4 address outside bridges: only 127.0.0.1 checked"
  fi
  cap2 dk port "$c" 5000/udp
  assert_match "$OUT" "^0\\.0\\.0\\.0:$port\$" "docker port of a UDP port"
  # TCP on the same number is not published
  http_get "http://127.0.0.1:$port/" 2
  [ "$RC" -ne 0 ] || fail "a UDP publish answers TCP on $port"
}

# udp_exchange CT IP PORT TEXT LOGTEXT: sends TEXT from one host socket
# (every 0.2 s, 10 s at most) until the container answers "ack TEXT" on it
# (the way back through NAT), then LOGTEXT must be in CT's log
udp_exchange() {
  local c=$1 ip=$2 port=$3 text=$4 want=$5
  cap python3 -c '
import socket, sys, time
ip, port, text = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect((ip, port))
s.settimeout(0.2)
end = time.time() + 10
while time.time() < end:
    try:
        s.send((text + "\n").encode())
        reply = s.recv(2048).decode().strip()
    except (socket.timeout, ConnectionRefusedError):
        continue
    if reply == "ack " + text:
        print(reply)
        sys.exit(0)
print("no answer")
sys.exit(1)' "$ip" "$port" "$text"
  assert_success "UDP '$text' to $ip:$port: no answer from the container"
  wait_log "$c" "$want" 5
}

test_publish_all_exposed_ports() {
  local img c hp j
  img=$(img_name exposed):latest
  mkimage -t "$img" -x '.config.ExposedPorts = {"80/tcp": {}, "5000/udp": {}}' "$T/exposed.tar" ||
    fail "mkimage failed"
  assert_ok dk load -i "$T/exposed.tar"
  defer "dk rmi -f '$img'"
  c=$(ct_name)
  ct_run_d "$c" -P "$img" sh -c "mkdir -p /www && echo 'hello from $c' > /www/index.html && exec httpd -f -p 80 -h /www"
  wait_for 10 dk exec "$c" timeout 2 wget -q -O /dev/null http://127.0.0.1/ || fail "httpd did not start"
  j=$(dk container inspect "$c")
  assert_json "$j" '.[0].NetworkSettings.Ports | has("80/tcp") and has("5000/udp")' "both EXPOSEd ports published"
  assert_json "$j" '[.[0].NetworkSettings.Ports[][] | .HostPort | tonumber] | length >= 2 and all(. > 0)' "host ports chosen"
  cap2 dk port "$c" 80/tcp
  hp=$(printf '%s\n' "$OUT" | sed -n 's/^0\.0\.0\.0:\([0-9]*\)$/\1/p' | head -n1)
  [ -n "$hp" ] || fail "docker port $c 80/tcp: no 0.0.0.0 binding: $OUT"
  http_get "http://127.0.0.1:$hp/"
  assert_success "curl the port -P chose"
  assert_eq "hello from $c" "$OUT"
  cap2 dk port "$c"
  assert_match "$OUT" "^80/tcp -> 0\\.0\\.0\\.0:$hp\$" "docker port lists 80/tcp"
  assert_match "$OUT" '^5000/udp -> 0\.0\.0\.0:[0-9]+$' "docker port lists 5000/udp"
}

test_publish_port_in_use() {
  local img c port port2 a before after
  img=$(busybox_image)
  port=$(free_port)
  # something of the host's own holds the port
  setsid "$BUSYBOX" nc -l -p "$port" </dev/null >/dev/null 2>&1 &
  defer "kill $!"
  wait_for 5 sh -c "ss -Hltn 'sport = :$port' | grep -q ." || fail "the host listener on $port did not start"
  before=$(bridge_ports "$DAEMON_BRIDGE" | sort)
  c=$(ct_name c)
  capf dk run -d --name "$c" -p "$port:80" "$img" httpd -f -p 80
  defer "dk rm -f '$c'"
  [ "$RC" -ne 0 ] || fail "publishing a host port that is in use succeeded"
  assert_match "$OUT" "(in use|already allocated|already in use)" "the error names the busy port"
  if dk container inspect "$c" >/dev/null 2>&1; then
    assert_ne "true" "$(ct_state "$c" Running)" "the container runs although its port is taken"
    assert_eq "" "$(ct_ip "$c")" "the failed container keeps an address"
  fi
  after=$(bridge_ports "$DAEMON_BRIDGE" | sort)
  assert_eq "$before" "$after" "veths on the bridge after the failed start"
  # a port that a container of the daemon publishes already
  port2=$(free_port)
  a=$(ct_name a)
  ct_httpd "$a" -p "$port2:80"
  capf dk run -d --name "$(ct_name b)" -p "$port2:80" "$img" httpd -f -p 80
  defer "dk rm -f '$(ct_name b)'"
  [ "$RC" -ne 0 ] || fail "two containers published the host port $port2"
  assert_match "$OUT" "(already allocated|in use)" "the second publish of a port"
  http_get "http://127.0.0.1:$port2/"
  assert_success "the first container still answers on $port2"
  assert_eq "hello from $a" "$OUT"
}

# ------------------------------------------------------------- isolation

test_isolation_between_user_networks() {
  local a b pa pb s c d ips ipc
  a=$(net_name a); b=$(net_name b)
  pa=$(net_prefix); pb=$(net_prefix)
  net_create "$a" --subnet "$pa.0/24"
  net_create "$b" --subnet "$pb.0/24"
  s=$(ct_name s); c=$(ct_name c); d=$(ct_name d)
  ct_httpd "$s" --network "$a"
  ct_httpd "$c" --network "$b"
  ct_sleeper "$d" --network "$a"
  ips=$(ct_ip "$s" "$a"); ipc=$(ct_ip "$c" "$b")
  ct_wget "$d" "http://$ips/"
  assert_success "control: a peer on the same network reaches the server"
  ct_wget "$c" "http://$ips/" 3
  [ "$RC" -ne 0 ] || fail "a container on $b reached $ips on $a: $OUT"
  ct_wget "$s" "http://$ipc/" 3
  [ "$RC" -ne 0 ] || fail "a container on $a reached $ipc on $b: $OUT"
  # nor the default bridge's containers
  ct_sleeper "$(ct_name e)"
  ct_wget "$(ct_name e)" "http://$ips/" 3
  [ "$RC" -ne 0 ] || fail "a container on the default bridge reached $ips on $a: $OUT"
}

# ------------------------------------------------------------- leftovers

test_rm_leaves_no_veth_or_rule() {
  local n p br a b ipa ipb port va vb
  n=$(net_name); p=$(net_prefix)
  br=bn$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
  net_create "$n" --subnet "$p.0/24" -o "com.docker.network.bridge.name=$br"
  a=$(ct_name a); b=$(ct_name b)
  port=$(free_port)
  ct_httpd "$a" --network "$n" -p "$port:80"
  ct_httpd "$b"
  ipa=$(ct_ip "$a" "$n"); ipb=$(ct_ip "$b" bridge)
  va=$(host_veth_of "$a"); vb=$(host_veth_of "$b")
  assert_eq "$va" "$(bridge_ports "$br")" "the veth of $a on $br"
  bridge_ports "$DAEMON_BRIDGE" | grep -qxF "$vb" || fail "the veth $vb of $b is not on $DAEMON_BRIDGE"
  # the rules know the published port now (so that the check after rm
  # can fail)
  if is_berthd; then
    # berth-only: berthd's own nftables table
    assert_contains "$(nft_table_text)" "$ipa" "berthd's table $DAEMON_NFT_TABLE has the DNAT to $ipa"
  else
    assert_contains "$(iptables-save -t nat)" "$ipa" "dockerd's nat rules have the DNAT to $ipa"
  fi
  assert_ok dk rm -f "$a" "$b"
  assert_eq "" "$(bridge_ports "$br")" "veths left on $br after rm -f"
  ! ip link show dev "$va" >/dev/null 2>&1 || fail "veth $va left after rm -f"
  ! ip link show dev "$vb" >/dev/null 2>&1 || fail "veth $vb left after rm -f"
  if is_berthd; then
    local t
    t=$(nft_table_text)
    assert_not_contains "$t" "$ipa" "berthd's table still names $a's address after rm -f"
    assert_not_contains "$t" "$ipb" "berthd's table still names $b's address after rm -f"
    assert_no_match "$t" "dport $port([^0-9]|\$)|[^0-9.]$port :" "berthd's table still has the published port $port"
  else
    assert_not_contains "$(iptables-save)" "$ipa" "dockerd's rules still name $a's address"
  fi
  http_get "http://127.0.0.1:$port/" 3
  [ "$RC" -ne 0 ] || fail "the published port answers after rm -f"
  assert_ok dk network rm "$n"
  ! ip link show dev "$br" >/dev/null 2>&1 || fail "the bridge $br is still there after network rm"
  if is_berthd; then
    assert_not_contains "$(nft_table_text)" "$br" "berthd's table still names the removed bridge $br"
  fi
}

test_daemon_restart_finds_and_cleans_networks() {
  # a daemon of this test's own (networking; containers outlive it: for
  # dockerd --live-restore). A second dockerd runs without iptables (see
  # daemonlib.sh): its published ports are not checked here.
  local d=$T/d2 br table n p s c port ips vs vc
  daemon_start -r -n "$d"
  defer "daemon_stop '$d'"
  export DOCKER_HOST=$DAEMON2_HOST DOCKER_CONFIG=$d/cli
  br=$(net_env "$d" BRIDGE); table=$(net_env "$d" NFT_TABLE)
  n=$(net_name); p=$(net_prefix)
  local nbr
  nbr=bn$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
  net_create "$n" --subnet "$p.0/24" -o "com.docker.network.bridge.name=$nbr"
  s=$(ct_name s); c=$(ct_name c)
  port=$(free_port)
  ct_httpd "$s" --network "$n" -p "$port:80"
  ct_sleeper "$c" --network "$n"
  ct_sleeper "$(ct_name b)"
  ips=$(ct_ip "$s" "$n")
  vs=$(host_veth_of "$s"); vc=$(host_veth_of "$c")
  [ -n "$vs" ] && [ -n "$vc" ] || fail "no host veths for the containers"
  # killed, started again: the containers and their networking are found
  daemon_restart "$d" KILL
  wait_ct_status "$s" running 20
  wait_for 20 dk exec "$c" timeout 2 wget -q -O /dev/null "http://$s/" ||
    fail "after the restart, $c does not reach $s by name: $(dk exec "$c" timeout 2 wget -q -O - "http://$s/" 2>&1)"
  if is_berthd; then
    http_get "http://127.0.0.1:$port/"
    assert_success "the published port answers after the restart"
    assert_contains "$(nft list table ip "$table" 2>&1)" "$ips" "berth-only: the DNAT to $ips is in $table after the restart"
  fi
  assert_ok dk rm -f "$s" "$c" "$(ct_name b)"
  assert_eq "" "$(bridge_ports "$nbr")" "veths left on $nbr after rm -f"
  assert_eq "" "$(bridge_ports "$br")" "veths left on the default bridge $br after rm -f"
  ! ip link show dev "$vs" >/dev/null 2>&1 || fail "veth $vs left after rm -f"
  # stopped and started again: still nothing
  daemon_restart "$d" TERM
  assert_eq "" "$(bridge_ports "$nbr")" "veths on $nbr after a restart"
  assert_eq "" "$(bridge_ports "$br")" "veths on $br after a restart"
  if is_berthd; then
    local t
    t=$(nft list table ip "$table" 2>&1)
    assert_not_contains "$t" "$ips" "berth-only: $table still names $s's address after rm -f and a restart"
    assert_no_match "$t" "dport $port([^0-9]|\$)|[^0-9.]$port :" "berth-only: $table still has port $port after rm -f and a restart"
  fi
  # the network was found again; rm takes its bridge
  assert_ok dk network inspect "$n"
  assert_ok dk network rm "$n"
  ! ip link show dev "$nbr" >/dev/null 2>&1 || fail "the bridge $nbr is still there after network rm"
  # killed with no container: a restart leaves nothing either
  daemon_restart "$d" KILL
  assert_eq "" "$(bridge_ports "$br")" "veths on $br after a kill and restart"
  ! ip link show dev "$nbr" >/dev/null 2>&1 || fail "the removed network's bridge $nbr came back after a restart"
}

run_daemon_tests "$@"
