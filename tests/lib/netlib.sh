# shellcheck shell=bash
# netlib.sh: helpers for the networking suite (berthd-network). Source it
# after testlib.sh, daemonlib.sh and containerlib.sh; the suite sets
# DAEMON_NET=1 (see daemonlib.sh: DAEMON_BRIDGE, DAEMON_SUBNET,
# DAEMON_GATEWAY, DAEMON_NFT_TABLE).
#
# Traffic goes only between the host and the containers and namespaces the
# tests make: every address used is the host's own, a container's, or a
# bridge gateway of the daemon's; names are resolved by the embedded DNS
# server or by the fake resolver the test runs itself (fake_dns).
#
#   net_name [SUFFIX]      a network name unique to this test
#   net_prefix             claims a free /24 for this test ("10.234.17":
#                          then $p.0/24, gateway $p.1), given back after it
#   net_create NAME ARGS...  `docker network create ARGS... NAME` (fails
#                          the test if it fails), removed after the test;
#                          NET_ID = its id
#   net_bridge NETWORK     the host bridge device of a bridge network
#                          (its com.docker.network.bridge.name option, else
#                          Docker's default name br-<first 12 hex of id>)
#   ct_ip CT [NETWORK]     the container's IPv4 address on NETWORK (default:
#                          its only network)
#   ct_links CT            the interface names inside CT (/sys/class/net)
#   netns_of_pid PID       the inode of PID's network namespace
#   ct_httpd NAME ARGS...  `docker run -d --name NAME ARGS... IMAGE`: busybox
#                          httpd on port 80 serving "hello from NAME" at /;
#                          waits until it answers inside; CT_ID
#   nettools_image         busybox_image plus the static helper udplisten
#                          at /udplisten (tests/helpers/udplisten.c: prints
#                          each UDP datagram, answers "ack ..."; Debian's
#                          busybox nc has no -u), once per suite; prints
#                          its name
#   ct_sleeper NAME ARGS...  a container that sleeps (to exec into); CT_ID
#   ct_wget CT URL [SECS]  `docker exec CT timeout SECS wget -q -O - URL`
#                          (default 5 s); OUT, RC
#   free_port [tcp|udp]    (testlib.sh) a free host port below the ephemeral range
#   host_addr              the host's own global IPv4 address (not on a
#                          bridge); empty if it has none
#   host_httpd IP PORT     busybox httpd on the host at IP:PORT, serving
#                          "hello from the host" at /; stopped after the test
#   fake_dns IP            a fake DNS server on the host at IP:53/udp: A
#                          queries for names under fake.test get 198.51.100.7
#                          (TEST-NET-2: only ever looked up, never
#                          contacted), every other query NXDOMAIN; logs
#                          "NAME TYPE from ADDR" per query to
#                          $T/fake-dns.log; stopped after the test. Give it
#                          (--dns) to every container that may ask the
#                          embedded DNS server for a name it does not know,
#                          so that no query leaves the host.
#   outside_ns             "the outside world" without leaving the host: a
#                          network namespace of the test's own joined to the
#                          host by a veth pair in a /24 of its own (host end
#                          .1, namespace end .2, default route to the host),
#                          with busybox httpd on .2:80 serving "hello from
#                          outside"; sets OUTSIDE_IP (the .2); removed after
#                          the test. Traffic from a container to it is
#                          routed (forwarded) by the host as traffic to the
#                          internet would be.
#   udp_send IP PORT TEXT  one UDP datagram from the host (bash /dev/udp)
#   http_get URL [SECS]    curl from the host (default 5 s); OUT, RC
#   nft_table_text         berthd: `nft list table ip $DAEMON_NFT_TABLE`

net_name() { printf '%s-%s' "${TEST_TAG:?}" "${1:-net}"; }

net_prefix() {
  local p
  p=$(net_free_prefix24) || fail "net_prefix: no free /24 in 10.230-239.x.0"
  defer "net_release_prefix24 '$p'"
  printf '%s' "$p"
}

net_create() {
  local name=$1; shift
  defer "dk network rm '$name'"
  cap2 dk network create "$@" "$name"
  [ "$RC" -eq 0 ] || fail "docker network create $* $name failed (exit $RC): $(printf '%s %s' "$OUT" "$ERR" | head -c 1000)"
  NET_ID=$(printf '%s\n' "$OUT" | tail -n1)
  printf '%s' "$NET_ID" | grep -Eq '^[0-9a-f]{64}$' || fail "docker network create did not print a network id: $OUT"
}

net_bridge() {
  local j name
  j=$(dk network inspect "$1") || fail "cannot inspect network $1"
  name=$(printf '%s' "$j" | jq -r '.[0].Options["com.docker.network.bridge.name"] // empty')
  [ -n "$name" ] || name=br-$(printf '%s' "$j" | jq -r '.[0].Id' | cut -c1-12)
  printf '%s' "$name"
}

ct_ip() {
  local net=${2:-}
  if [ -n "$net" ]; then
    dk container inspect "$1" | jq -r --arg n "$net" '.[0].NetworkSettings.Networks[$n].IPAddress // empty'
  else
    dk container inspect "$1" | jq -r '[.[0].NetworkSettings.Networks[].IPAddress] | map(select(. != "")) | .[0] // empty'
  fi
}

ct_links() { dk exec "$1" ls /sys/class/net | tr -s ' \t' '\n' | sort; }

netns_of_pid() { stat -L -c %i "/proc/$1/ns/net"; }

ct_httpd() {
  local name=$1 img; shift
  img=$(busybox_image)
  ct_run_d "$name" "$@" "$img" sh -c \
    "mkdir -p /www && echo 'hello from $name' > /www/index.html && exec httpd -f -p 80 -h /www"
  wait_for 10 dk exec "$name" timeout 2 wget -q -O /dev/null http://127.0.0.1/ ||
    fail "httpd in $name does not answer inside the container: $(dk logs "$name" 2>&1 | tail -n 3)"
}

BT_NETTOOLS_IMAGE=bt-nettools:latest

nettools_image() {
  local tar=$SUITE_TMP/nettools-image.tar
  need_helpers udplisten
  (
    flock 9
    if [ ! -s "$tar" ]; then
      mkdir -p "$SUITE_TMP/nettools-layer" &&
        cp "$HELPERS_DIR/udplisten" "$SUITE_TMP/nettools-layer/udplisten" &&
        mkimage -t "$BT_NETTOOLS_IMAGE" -l "$SUITE_TMP/nettools-layer" "$tar.part" >&2 &&
        mv "$tar.part" "$tar"
    fi
  ) 9> "$SUITE_TMP/.nettools-image.lock" || fail "nettools_image: mkimage failed"
  if ! dk image inspect "$BT_NETTOOLS_IMAGE" >/dev/null 2>&1; then
    dk load -q -i "$tar" >&2 || fail "nettools_image: docker load failed"
  fi
  printf '%s' "$BT_NETTOOLS_IMAGE"
}

ct_sleeper() {
  local name=$1 img; shift
  img=$(busybox_image)
  ct_run_d "$name" "$@" "$img" sleep 600
}

# (busybox's timeout applet, not wget -T: Debian's busybox 1.35 wget
# crashes with -T)
ct_wget() { cap dk exec "$1" timeout "${3:-5}" wget -q -O - "$2"; }

http_get() { cap curl -sS --noproxy '*' --max-time "${2:-5}" "$1"; }

host_addr() {
  local bridges
  bridges=$(ip -o link show type bridge 2>/dev/null | awk -F': ' '{ print $2 }' | sed 's/@.*//')
  ip -o -4 addr show scope global 2>/dev/null | awk '{ print $2, $4 }' |
    while read -r dev addr; do
      printf '%s\n' "$bridges" | grep -qxF "$dev" && continue
      case $dev in veth*) continue ;; esac
      printf '%s\n' "${addr%/*}"
    done | head -n1
}

host_httpd() {
  local ip=$1 port=$2
  mkdir -p "$T/host-www"
  echo "hello from the host" > "$T/host-www/index.html"
  setsid "$BUSYBOX" httpd -f -p "$ip:$port" -h "$T/host-www" </dev/null >/dev/null 2>&1 &
  defer "kill $!"
  wait_for 5 curl -sf --noproxy '*' --max-time 1 "http://$ip:$port/" || fail "host httpd on $ip:$port does not answer"
}

fake_dns() {
  local ip=$1
  : > "$T/fake-dns.log"
  python3 - "$ip" "$T/fake-dns.log" >"$T/fake-dns.err" 2>&1 <<'EOF' &
import socket, struct, sys
ip, logf = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((ip, 53))
open(logf + ".ready", "w").close()
while True:
    q, peer = s.recvfrom(4096)
    if len(q) < 12:
        continue
    qid, flags, qd = struct.unpack("!HHH", q[:6])
    # the question: labels up to the zero byte, then type and class
    i, labels = 12, []
    while i < len(q) and q[i] != 0:
        n = q[i]
        labels.append(q[i + 1:i + 1 + n].decode("ascii", "replace"))
        i += 1 + n
    qtype, qclass = struct.unpack("!HH", q[i + 1:i + 5])
    question = q[12:i + 5]
    name = ".".join(labels)
    with open(logf, "a") as f:
        f.write("%s %d from %s\n" % (name, qtype, peer[0]))
    rd = flags & 0x0100
    if not (name.lower() + ".").endswith(".fake.test."):
        s.sendto(struct.pack("!HHHHHH", qid, 0x8083 | rd, 1, 0, 0, 0) + question, peer)
    elif qtype == 1:
        ans = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + socket.inet_aton("198.51.100.7")
        s.sendto(struct.pack("!HHHHHH", qid, 0x8080 | rd, 1, 1, 0, 0) + question + ans, peer)
    else:
        s.sendto(struct.pack("!HHHHHH", qid, 0x8080 | rd, 1, 0, 0, 0) + question, peer)
EOF
  defer "kill $!"
  wait_for 5 test -e "$T/fake-dns.log.ready" || fail "the fake DNS server on $ip:53 did not start: $(cat "$T/fake-dns.err")"
}

outside_ns() {
  local q ns hv
  q=$(net_prefix)
  ns=$TEST_TAG-out
  hv=vo$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
  defer "ip netns delete '$ns'"
  defer "ip link delete '$hv'"
  ip netns add "$ns" || fail "outside_ns: ip netns add $ns failed"
  ip link add "$hv" type veth peer name eth0 netns "$ns" || fail "outside_ns: cannot make the veth pair"
  ip addr add "$q.1/24" dev "$hv" && ip link set "$hv" up || fail "outside_ns: host end"
  ip -n "$ns" link set lo up && ip -n "$ns" addr add "$q.2/24" dev eth0 && ip -n "$ns" link set eth0 up &&
    ip -n "$ns" route add default via "$q.1" || fail "outside_ns: namespace end"
  mkdir -p "$T/outside-www"
  echo "hello from outside" > "$T/outside-www/index.html"
  setsid ip netns exec "$ns" "$BUSYBOX" httpd -f -p "$q.2:80" -h "$T/outside-www" </dev/null >/dev/null 2>&1 &
  defer "kill $!"
  OUTSIDE_IP=$q.2
  wait_for 5 curl -sf --noproxy '*' --max-time 1 "http://$OUTSIDE_IP/" || fail "outside_ns: httpd on $OUTSIDE_IP does not answer"
}

udp_send() { printf '%s\n' "$3" > "/dev/udp/$1/$2"; }

nft_table_text() { nft list table ip "$DAEMON_NFT_TABLE" 2>&1; }
