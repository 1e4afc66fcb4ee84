# shellcheck shell=bash
# daemonlib.sh: runs a Docker-API daemon for the berthd-* integration suites.
#
# A suite sources testlib.sh, then this file, defines test_* functions and
# ends with `run_daemon_tests "$@"` (instead of `run_tests "$@"`): that
# starts ONE private daemon for the whole suite (tests stay independent by
# using their own image names: see img_name), runs the tests with
# run_tests, and stops the daemon, whatever happens (EXIT trap).
#
# The daemon under test (env DAEMON):
#   DAEMON=dockerd  Debian's dockerd, to validate the tests themselves:
#                   dockerd --host unix://$D/docker.sock --data-root $D/data
#                   --exec-root $D/exec --pidfile $D/pid, no networking
#                   (--bridge=none, no iptables/ip forwarding/masquerading/
#                   userland proxy), --storage-driver=vfs, cgroupfs driver,
#                   --cgroup-parent /NAME-OF-DIR (each daemon's containers
#                   in cgroups of their own, removed by daemon_stop), and
#                   its own containerd (stopped afterwards). Containers run
#                   with dockerd's default network mode, which is "none"
#                   with --bridge=none.
#   anything else   berthd: $BERTHD, default "$(dirname "$RUNTIME")/berthd"
#                   (build/berthd or build/asan/berthd under tests/run):
#                   berthd --host unix://$D/berth.sock --data-root $D/data
#                   --exec-root $D/exec --bridge none --log-level debug
#                   If that binary does not exist, every test FAILs with
#                   "berthd not built".
# Networking (DAEMON_NET=1, set by the suite before run_daemon_tests; the
# berthd-network suite): the daemon gets a default bridge of its own, a
# random name (bt + 6 hex, DAEMON_BRIDGE) with a random free /24
# (10.230-239.x.0/24, in no route of the host: DAEMON_SUBNET, gateway
# DAEMON_GATEWAY):
#   dockerd   iptables, ip forwarding and masquerading on (the defaults),
#             --userland-proxy=false kept; its default bridge is the
#             bridge made here beforehand (--bridge NAME: dockerd takes
#             the subnet from the bridge's address; its own docker0
#             would collide with any other dockerd on the host). Only one
#             dockerd with iptables may run on a host at a time (each one
#             flushes the DOCKER chains at start): the suite waits for the
#             host-wide lock $BERTH_DOCKERD_NET_LOCK; a second networking
#             dockerd inside a test (daemon_start -n) runs with
#             --iptables=false for that reason. daemon_stop removes what
#             dockerd added to iptables (the rules and chains that were not
#             there before it started) and the bridge.
#   berthd    --bip GATEWAY/24 --bridge-name NAME (the contract with berthd:
#             dockerd's "bip" flag/key, and berthd's own "bridge-name"
#             naming its default bridge, default berth0). Its nftables
#             table is "ip berth" for berth0, else "ip berth-NAME"
#             (DAEMON_NFT_TABLE).
#   daemon_stop of a networking daemon first removes every container
#   (docker rm -f) and unused network (docker network prune), then stops
#   the daemon, then removes what is left: the default bridge, berthd's
#   nftables table (and says so on stderr, since berthd should not have
#   left veths on it).
# The daemon's stdout+stderr go to $D/daemon.log (log level
# DAEMON_LOG_LEVEL, default debug; bench/network uses these functions
# too). $D is a fresh /tmp/bd.XXXXXX folder. The daemon is up when
# `docker version` answers (DAEMON_START_TIMEOUT, default 20 s).
#
# For the tests (exported): DOCKER_HOST=unix://..., DOCKER_CONFIG (a private
# CLI config folder), DAEMON_DIR ($D), DAEMON_SOCK (socket path),
# DAEMON_LOG, DAEMON_PID, DAEMON_KIND (dockerd|berthd); with DAEMON_NET=1
# also DAEMON_BRIDGE, DAEMON_SUBNET, DAEMON_GATEWAY, DAEMON_NFT_TABLE.
# Each test is wrapped: it FAILs at once if the daemon could not be started
# or has died; it FAILs if the daemon dies during the test, or (berthd)
# if a sanitizer report appears in the daemon log during the test; a failing
# test prints the last lines the daemon logged during it.
#
# Helpers:
#   dk ARGS...            the docker CLI with a timeout (DK_TIMEOUT, 60 s)
#   is_dockerd / is_berthd  which daemon is under test
#   img_name [SUFFIX]     a repository name unique to this test
#   api METHOD PATH [curl args...]   one request over the Unix socket (curl);
#                         sets API_STATUS, API_BODY, API_CTYPE, API_HEADERS
#   assert_api_error STATUS-ERE [MESSAGE-ERE]  the last `api` answered an
#                         error with that status, Content-Type
#                         application/json and {"message": "..."} (message
#                         matched case-insensitively)
#   assert_daemon_answers  GET /_ping still answers 200 "OK"
#   image_ids             `docker images -qa --no-trunc`, sorted, unique
#   daemon_start [-r] [-n] DIR / daemon_stop DIR   another private daemon (e.g.
#                         a fresh data root inside a test): daemon_start sets
#                         DAEMON2_HOST (unix://...); call `defer "daemon_stop
#                         'DIR'"` right after. daemon_start_wait DIR waits
#                         for its API. -r: containers outlive the daemon
#                         (dockerd: --live-restore; berthd: always so).
#                         -n: with networking (as DAEMON_NET=1; its bridge,
#                         subnet and table in DIR/net.env: net_env DIR).
#                         daemon_stop also kills what the daemon left
#                         running (containerd, shims, monitors, containers).
#   daemon_kill DIR [SIG] / daemon_relaunch DIR / daemon_restart DIR [SIG]
#                         stop the daemon of DIR with a signal (TERM default,
#                         KILL...) leaving its containers and folders; start
#                         it again on the same folders; both in one.
#   raw_http [-t SECS] [-f FILE | REQUEST]   raw bytes over the socket (perl)
#   api_header NAME / api_has_header NAME     headers of the last `api`
#   ver_ge A B            version A >= version B (1.44 style)
# After the tests, a "daemon_shutdown" result: SIGTERM stops the daemon
# within 15 s (berthd: exit status 0, no sanitizer report).

DAEMONLIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=mkimage.sh
. "$DAEMONLIB_DIR/mkimage.sh"

DOCKER_BIN=${DOCKER_BIN:-$(command -v docker || echo /usr/local/bin/docker)}
DAEMON_START_TIMEOUT=${DAEMON_START_TIMEOUT:-20}
DK_TIMEOUT=${DK_TIMEOUT:-60}

# the CLI: no contexts, hints, TLS or proxies from the environment
unset DOCKER_CONTEXT DOCKER_TLS_VERIFY DOCKER_CERT_PATH DOCKER_API_VERSION DOCKER_DEFAULT_PLATFORM
export DOCKER_CLI_HINTS=false
export NO_PROXY='*' no_proxy='*'

daemon_kind() { if [ "${DAEMON:-}" = dockerd ]; then echo dockerd; else echo berthd; fi; }
is_dockerd() { [ "$(daemon_kind)" = dockerd ]; }
is_berthd() { [ "$(daemon_kind)" = berthd ]; }

berthd_bin() {
  if [ -n "${BERTHD:-}" ]; then printf '%s' "$BERTHD"
  else printf '%s/berthd' "$(dirname "${RUNTIME:-$REPO_ROOT/build/berth-runtime}")"; fi
}

ver_ge() { # A B: A >= B
  [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -n1)" = "$2" ]
}

dk() {
  [ -n "${T:-}" ] && [ -d "$T" ] && trace "+ docker $*"
  timeout --foreground -k 5 "$DK_TIMEOUT" "$DOCKER_BIN" "$@"
}

# ---------------------------------------------------------------- daemons

# _dl_exec CMD...: exec CMD (run in the background: $! is CMD's pid)
# without the suite's lock file descriptor, which a daemon that outlives
# the suite must not keep holding
_dl_exec() {
  if [ -n "${_DL_NET_LOCK_FD:-}" ]; then exec "$@" {_DL_NET_LOCK_FD}>&-; else exec "$@"; fi
}

# _dl_launch DIR: starts the daemon in the background; DIR/daemon.bgpid
_dl_launch() {
  local d=$1 kind bin
  kind=$(daemon_kind)
  mkdir -p "$d" "$d/cli" || return 1
  printf -- '---- %s starting (%s) ----\n' "$kind" "$(date -u +%FT%TZ)" >> "$d/daemon.log"
  if [ "$kind" = dockerd ]; then
    bin=$(command -v dockerd) || { echo "dockerd is not installed (apt-get install docker.io)" > "$d/start-error"; return 1; }
    command -v containerd >/dev/null || { echo "containerd is not installed (apt-get install containerd)" > "$d/start-error"; return 1; }
    # remember what dockerd adds to the host, to remove it again
    local p
    for p in /run/containerd /run/docker/plugins /run/docker /etc/docker/key.json /etc/docker; do
      [ -e "$p" ] || echo "$p" >> "$d/host-leftovers"
    done
    # (TMPDIR: containerd writes stack dumps there when dockerd restarts it)
    mkdir -p "$d/tmp"
    # containers under a cgroup parent of their own (named after $d), so
    # that daemon_stop can kill and remove exactly this daemon's leftovers
    echo "/$(basename "$d")" > "$d/cgroup-parent"
    local -a extra=() netopts=(--bridge=none --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false)
    [ ! -f "$d/live-restore" ] || extra+=(--live-restore)
    if [ -f "$d/net.env" ]; then
      _dl_net_bridge_ensure "$d" || { echo "cannot make the bridge $(net_env "$d" BRIDGE)" > "$d/start-error"; return 1; }
      netopts=(--bridge "$(net_env "$d" BRIDGE)" --ip6tables=false)
      [ "$(net_env "$d" IPTABLES)" = 1 ] || netopts+=(--iptables=false)
    fi
    TMPDIR=$d/tmp _dl_exec "$bin" --host "unix://$d/docker.sock" --data-root "$d/data" --exec-root "$d/exec" --pidfile "$d/pid" \
      "${netopts[@]}" \
      --userland-proxy=false --storage-driver=vfs --exec-opt native.cgroupdriver=cgroupfs \
      --cgroup-parent "$(cat "$d/cgroup-parent")" "${extra[@]}" \
      --log-level "${DAEMON_LOG_LEVEL:-debug}" </dev/null >> "$d/daemon.log" 2>&1 &
    echo "$!" > "$d/daemon.bgpid"
    echo "unix://$d/docker.sock" > "$d/host"
  else
    bin=$(berthd_bin)
    if [ ! -x "$bin" ]; then
      echo "berthd not built: $bin does not exist (run make; or DAEMON=dockerd to validate the tests)" > "$d/start-error"
      return 1
    fi
    # without networking, no default bridge: as dockerd's --bridge=none above
    local -a netopts=(--bridge none)
    if [ -f "$d/net.env" ]; then
      netopts=(--bip "$(net_env "$d" GATEWAY)/24" --bridge-name "$(net_env "$d" BRIDGE)")
    fi
    _dl_exec "$bin" --host "unix://$d/berth.sock" --data-root "$d/data" --exec-root "$d/exec" "${netopts[@]}" \
      --log-level "${DAEMON_LOG_LEVEL:-debug}" </dev/null >> "$d/daemon.log" 2>&1 &
    echo "$!" > "$d/daemon.bgpid"
    echo "unix://$d/berth.sock" > "$d/host"
  fi
  return 0
}

# daemon_start_wait DIR: waits until `docker version` answers on DIR's socket
daemon_start_wait() {
  local d=$1 pid host end
  pid=$(cat "$d/daemon.bgpid" 2>/dev/null)
  host=$(cat "$d/host" 2>/dev/null)
  [ -n "$pid" ] && [ -n "$host" ] || return 1
  end=$(( $(date +%s%N) + DAEMON_START_TIMEOUT * 1000000000 ))
  while :; do
    if DOCKER_HOST=$host DOCKER_CONFIG=$d/cli timeout -k 2 10 "$DOCKER_BIN" version >/dev/null 2>&1; then
      return 0
    fi
    if ! _dl_alive "$pid"; then
      echo "$(daemon_kind) exited during start-up" > "$d/start-error"
      return 1
    fi
    if [ "$(date +%s%N)" -ge "$end" ]; then
      echo "$(daemon_kind) did not answer 'docker version' within $DAEMON_START_TIMEOUT s" > "$d/start-error"
      return 1
    fi
    sleep 0.1
  done
}

# daemon_start [-r] DIR: starts another private daemon and waits for it; sets
# DAEMON2_HOST. Fails the test (with the log) if it does not come up.
# -r: its containers outlive the daemon (dockerd: --live-restore, remembered
# for daemon_restart; berthd always works that way).
daemon_start() {
  local live=0 net=0
  while :; do
    case $1 in -r) live=1; shift ;; -n) net=1; shift ;; *) break ;; esac
  done
  local d=$1
  mkdir -p "$d" || fail "cannot create $d"
  [ $live = 0 ] || touch "$d/live-restore"
  if [ $net = 1 ]; then
    # a second dockerd with iptables would flush the suite dockerd's chains
    local ipt=1
    [ ! -f "${DAEMON_DIR:-/nonexistent}/net.env" ] || ipt=0
    _dl_net_setup "$d" "$ipt" || fail "cannot set up networking for the daemon of $d"
  fi
  if ! _dl_launch "$d" || ! daemon_start_wait "$d"; then
    _dl_print_log "$d/daemon.log" 0 40
    fail "$(cat "$d/start-error" 2>/dev/null || echo "daemon did not start")"
  fi
  DAEMON2_HOST=$(cat "$d/host")
}

# daemon_kill DIR [SIGNAL]: sends SIGNAL (default TERM) to the daemon
# started in DIR and waits (15 s at most) until it has exited; leaves its
# containers, data and exec roots alone. Fails the test if it does not exit.
daemon_kill() {
  local d=$1 sig=${2:-TERM} pid i
  pid=$(cat "$d/daemon.bgpid" 2>/dev/null)
  _dl_alive "$pid" || fail "daemon_kill: the daemon of $d is not running"
  kill -"$sig" "$pid" 2>/dev/null
  for i in $(seq 1 150); do _dl_alive "$pid" || break; sleep 0.1; done
  _dl_alive "$pid" && fail "daemon_kill: the daemon of $d did not exit within 15 s of SIG$sig"
  wait "$pid" 2>/dev/null
  # dockerd's own containerd dies with it, but here orphans are reaped late:
  # a restarted dockerd takes a zombie containerd for a live one and waits
  # for it in vain. Wait for it to go, else drop its stale pid file.
  local cpid cf=$d/exec/containerd/containerd.pid
  cpid=$(cat "$cf" 2>/dev/null)
  if [ -n "$cpid" ]; then
    for i in $(seq 1 50); do _dl_alive "$cpid" || break; sleep 0.1; done
    for i in $(seq 1 20); do [ -d "/proc/$cpid" ] || break; sleep 0.1; done
    _dl_alive "$cpid" || rm -f "$cf"
  fi
  return 0
}

# daemon_restart DIR [SIGNAL]: daemon_kill DIR SIGNAL, then daemon_relaunch.
daemon_restart() {
  daemon_kill "$1" "${2:-TERM}"
  daemon_relaunch "$1"
}

# daemon_relaunch DIR: starts the (stopped) daemon of DIR again, with the
# same folders and options, and waits for its API.
daemon_relaunch() {
  local d=$1
  if ! _dl_launch "$d" || ! daemon_start_wait "$d"; then
    _dl_print_log "$d/daemon.log" 0 40
    fail "$(cat "$d/start-error" 2>/dev/null || echo "daemon did not start again")"
  fi
}

# _dl_pid_tree PID...: those pids and all their descendants.
_dl_pid_tree() {
  local f line state ppid
  for f in /proc/[0-9]*/stat; do
    read -r line 2>/dev/null < "$f" || continue
    read -r state ppid _ <<<"${line##*) }"
    f=${f#/proc/}
    printf '%s %s\n' "${f%/stat}" "$ppid"
  done | awk -v roots="$*" '
    { parent[$1] = $2; pids[NR] = $1 }
    END {
      n = split(roots, r, " "); for (i = 1; i <= n; i++) keep[r[i]] = 1
      do { grew = 0
        for (i = 1; i <= NR; i++) { p = pids[i]; if (!(p in keep) && (parent[p] in keep)) { keep[p] = 1; grew = 1 } }
      } while (grew)
      for (p in keep) print p
    }'
}

# _dl_kill_containers DIR: kills what a daemon started in DIR left running:
# the processes whose command line names DIR (containerd and its shims,
# berth-monitor) with all their descendants (the containers), and what is
# left in dockerd's cgroup parent (containers orphaned earlier), which it
# then removes.
_dl_kill_containers() {
  local d=$1 p i cg left roots
  for i in 1 2 3; do
    roots=$(pgrep -f -- "$d/" 2>/dev/null | tr '\n' ' ')
    [ -n "$roots" ] || break
    # shellcheck disable=SC2046,SC2086
    kill -KILL $(_dl_pid_tree $roots) 2>/dev/null
    sleep 0.2
  done
  [ -f "$d/cgroup-parent" ] || return 0
  cg=$(cat "$d/cgroup-parent")
  [ -n "$cg" ] && [ "$cg" != / ] || return 0
  for i in 1 2 3 4 5 6 7 8 9 10; do
    left=0
    for p in /sys/fs/cgroup/*"$cg" /sys/fs/cgroup/unified"$cg"; do
      [ -d "$p" ] || continue
      # shellcheck disable=SC2046
      kill -KILL $(find "$p" -name cgroup.procs -exec cat {} + 2>/dev/null) 2>/dev/null
      find "$p" -depth -type d -exec rmdir {} \; 2>/dev/null
      [ ! -d "$p" ] || left=1
    done
    [ $left = 1 ] || break
    sleep 0.2
  done
  return 0
}

_dl_alive() { # PID (a status file that vanishes while read: reaped, dead)
  local st
  [ -n "$1" ] && st=$(grep '^State:' "/proc/$1/status" 2>/dev/null) && [ -n "$st" ] &&
    ! printf '%s\n' "$st" | grep -q '^State:[[:space:]]*[ZX]'
}

# daemon_stop DIR: stops the daemon started in DIR (TERM, then KILL after
# 15 s), kills its containerd/shims (dockerd), unmounts everything under
# DIR and removes DIR and what dockerd added to /run and /etc.
daemon_stop() {
  local d=$1 pid i p m
  [ -n "$d" ] && [ -d "$d" ] || return 0
  pid=$(cat "$d/daemon.bgpid" 2>/dev/null)
  if _dl_alive "$pid" && [ -f "$d/net.env" ]; then
    # through the daemon first: it undoes its veths, rules and bridges
    _dl_net_remove_all "$d"
  fi
  if _dl_alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null
    for i in $(seq 1 150); do _dl_alive "$pid" || break; sleep 0.1; done
    if _dl_alive "$pid"; then
      echo "daemon $pid did not stop within 15 s of SIGTERM: killed" >> "$d/daemon.log"
      kill -KILL "$pid" 2>/dev/null
    fi
  fi
  # reap it if it is our child (no-op otherwise)
  [ -n "$pid" ] && wait "$pid" 2>/dev/null
  # containerd, shims, monitors and the containers left running (live
  # restore, a test that did not clean up)
  _dl_kill_containers "$d"
  awk -v t="$d" '$5 == t || index($5, t "/") == 1 {print $5}' /proc/self/mountinfo | sort -r |
    while read -r m; do umount -l "$m" 2>/dev/null; done
  if [ -f "$d/host-leftovers" ]; then
    while read -r p; do
      case $p in
        /etc/docker/key.json) rm -f "$p" ;;
        *) rmdir "$p" 2>/dev/null ;;
      esac
    done < "$d/host-leftovers"
  fi
  [ ! -f "$d/net.env" ] || _dl_net_host_cleanup "$d"
  rm -rf --one-file-system "$d" 2>/dev/null || { sleep 0.5; rm -rf --one-file-system "$d" 2>/dev/null; }
  return 0
}

# ------------------------------------------------------------ networking

BERTH_DOCKERD_NET_LOCK=${BERTH_DOCKERD_NET_LOCK:-/tmp/.berth-dockerd-net.lock}

# net_env DIR KEY: a value of DIR/net.env (BRIDGE, SUBNET, GATEWAY,
# NFT_TABLE, IPTABLES) of a networking daemon
net_env() { sed -n "s/^$2=//p" "$1/net.env" 2>/dev/null; }

# net_free_prefix24: the first three octets ("10.234.17") of a random /24 in
# 10.230.0.0/16 .. 10.239.0.0/16 that no route of the host overlaps (a
# default route aside) and that no other caller took (a claim file in
# /tmp: suites running side by side draw from the same range)
net_free_prefix24() {
  local i p claim
  for i in $(seq 1 200); do
    p=10.$((230 + RANDOM % 10)).$((RANDOM % 256))
    [ -z "$(ip -4 route show root "$p.0/24" 2>/dev/null)" ] || continue
    [ -z "$(ip -4 route show match "$p.0/24" 2>/dev/null | grep -v '^default')" ] || continue
    claim=/tmp/.berth-net-claim.$p
    # a claim older than 3 hours is stale (its suite did not clean up)
    find "$claim" -maxdepth 0 -mmin +180 -delete 2>/dev/null
    ( set -o noclobber; echo $$ > "$claim" ) 2>/dev/null || continue
    printf '%s' "$p"
    return 0
  done
  return 1
}
# net_release_prefix24 PREFIX: gives a claimed /24 back
net_release_prefix24() { [ -n "$1" ] && rm -f "/tmp/.berth-net-claim.$1"; }

# _dl_net_setup DIR IPTABLES(1|0): chooses the bridge name and subnet of a
# networking daemon (DIR/net.env); for dockerd with iptables, remembers the
# host's iptables and ip_forward to undo dockerd's changes afterwards
_dl_net_setup() {
  local d=$1 ipt=$2 p br
  p=$(net_free_prefix24) || { echo "no free /24 in 10.230-239.x.0" > "$d/start-error"; return 1; }
  br=bt$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
  {
    echo "BRIDGE=$br"
    echo "PREFIX=$p"
    echo "SUBNET=$p.0/24"
    echo "GATEWAY=$p.1"
    if [ "$br" = berth0 ]; then echo "NFT_TABLE=berth"; else echo "NFT_TABLE=berth-$br"; fi
    echo "IPTABLES=$ipt"
  } > "$d/net.env"
  if [ "$(daemon_kind)" = dockerd ] && [ "$ipt" = 1 ]; then
    iptables-save -t filter > "$d/iptables.filter.before" 2>/dev/null
    iptables-save -t nat > "$d/iptables.nat.before" 2>/dev/null
    cat /proc/sys/net/ipv4/ip_forward > "$d/ip_forward.before" 2>/dev/null
  fi
  return 0
}

# _dl_net_suite_setup: DAEMON_NET=1 for the suite's daemon: a networking
# dockerd first waits (10 min at most) for the host-wide lock
_dl_net_suite_setup() {
  if is_dockerd; then
    exec {_DL_NET_LOCK_FD}>>"$BERTH_DOCKERD_NET_LOCK"
    if ! flock -w 600 "$_DL_NET_LOCK_FD"; then
      DAEMON_START_ERROR="another networking dockerd held $BERTH_DOCKERD_NET_LOCK for 10 minutes"
      return 1
    fi
  fi
  if ! _dl_net_setup "$DAEMON_DIR" 1; then
    DAEMON_START_ERROR=$(cat "$DAEMON_DIR/start-error" 2>/dev/null)
    return 1
  fi
}

# _dl_net_bridge_ensure DIR: dockerd's default bridge, made here with the
# gateway address (dockerd's --bridge takes an existing bridge)
_dl_net_bridge_ensure() {
  local d=$1 br gw
  br=$(net_env "$d" BRIDGE); gw=$(net_env "$d" GATEWAY)
  if ! ip link show dev "$br" >/dev/null 2>&1; then
    ip link add name "$br" type bridge || return 1
    touch "$d/bridge-made"
  fi
  ip -4 addr show dev "$br" | grep -qF " $gw/24 " || ip addr add "$gw/24" dev "$br" || return 1
  ip link set dev "$br" up
}

# _dl_net_remove_all DIR: every container and unused network of the
# daemon, through its API
_dl_net_remove_all() {
  local d=$1 host ids
  host=$(cat "$d/host" 2>/dev/null) || return 0
  ids=$(DOCKER_HOST=$host DOCKER_CONFIG=$d/cli timeout -k 2 30 "$DOCKER_BIN" ps -aq 2>/dev/null)
  # shellcheck disable=SC2086
  [ -z "$ids" ] || DOCKER_HOST=$host DOCKER_CONFIG=$d/cli timeout -k 5 120 "$DOCKER_BIN" rm -f $ids >/dev/null 2>&1
  DOCKER_HOST=$host DOCKER_CONFIG=$d/cli timeout -k 5 60 "$DOCKER_BIN" network prune -f >/dev/null 2>&1
}

# bridge_ports BRIDGE: the links attached to BRIDGE on the host (veths)
bridge_ports() { ip -o link show master "$1" 2>/dev/null | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }'; }

# _dl_net_host_cleanup DIR: after the daemon has stopped: its default
# bridge, berthd's nftables table, dockerd's iptables rules and chains
_dl_net_host_cleanup() {
  local d=$1 br table ports t line chain
  br=$(net_env "$d" BRIDGE); table=$(net_env "$d" NFT_TABLE)
  if [ "$(daemon_kind)" = berthd ]; then
    ports=$(bridge_ports "$br" | tr '\n' ' ')
    # (berthd may keep its bridge and table when it stops, as dockerd
    # keeps docker0; veths are another matter: every container is gone)
    [ -z "$ports" ] || echo "# daemon_stop: berthd left veths on its bridge $br: $ports" >&2
    nft delete table ip "$table" 2>/dev/null
  elif [ "$(net_env "$d" IPTABLES)" = 1 ]; then
    # what dockerd added: rules of the built-in chains that were not there
    # before, then its own chains (flushed, then deleted)
    for t in filter nat; do
      [ -f "$d/iptables.$t.before" ] || continue
      iptables-save -t "$t" 2>/dev/null | grep '^-A ' | grep -vxF -f <(grep '^-A ' "$d/iptables.$t.before") |
        while IFS= read -r line; do
          chain=${line#-A }; chain=${chain%% *}
          grep -q "^:$chain " "$d/iptables.$t.before" || continue   # in a chain of dockerd's: flushed below
          printf '*%s\n-D %s\nCOMMIT\n' "$t" "${line#-A }" | iptables-restore --noflush 2>/dev/null
        done
      for chain in $(iptables-save -t "$t" 2>/dev/null | sed -n 's/^:\([^ ]*\) - .*/\1/p'); do
        grep -q "^:$chain " "$d/iptables.$t.before" && continue
        iptables -t "$t" -F "$chain" 2>/dev/null
      done
      for chain in $(iptables-save -t "$t" 2>/dev/null | sed -n 's/^:\([^ ]*\) - .*/\1/p'); do
        grep -q "^:$chain " "$d/iptables.$t.before" && continue
        iptables -t "$t" -X "$chain" 2>/dev/null
      done
      # dockerd sets FORWARD to DROP when it turns ip forwarding on
      if [ "$t" = filter ] && grep -q '^:FORWARD ACCEPT' "$d/iptables.filter.before" &&
         iptables-save -t filter 2>/dev/null | grep -q '^:FORWARD DROP'; then
        iptables -P FORWARD ACCEPT
      fi
    done
  fi
  if [ -f "$d/bridge-made" ] || [ "$(daemon_kind)" = berthd ]; then
    ip link delete "$br" 2>/dev/null
  fi
  # ip forwarding back off if it was, unless other bridges need it now
  if [ "$(cat "$d/ip_forward.before" 2>/dev/null)" = 0 ] && [ -z "$(ip -o link show type bridge 2>/dev/null)" ]; then
    echo 0 > /proc/sys/net/ipv4/ip_forward
  fi
  net_release_prefix24 "$(net_env "$d" PREFIX)"
  return 0
}

_dl_print_log() { # LOG OFFSET LINES
  local log=$1 off=${2:-0} n=${3:-30}
  [ -s "$log" ] || return 0
  printf -- '---- last %s lines of the daemon log (%s) ----\n' "$n" "$(daemon_kind)" >&2
  tail -c +"$((off + 1))" "$log" 2>/dev/null | tail -n "$n" | cut -c1-400 | sed 's/^/  daemon| /' >&2
  printf -- '---- end of the daemon log ----\n' >&2
}

# ----------------------------------------------------------- suite daemon

start_daemon() {
  DAEMON_DIR=$(mktemp -d /tmp/bd.XXXXXX) || { DAEMON_START_ERROR="cannot create a temp folder"; return 1; }
  chmod 0711 "$DAEMON_DIR"
  DAEMON_LOG=$DAEMON_DIR/daemon.log
  DAEMON_KIND=$(daemon_kind)
  DAEMON_START_ERROR=""
  trap 'stop_daemon' EXIT
  # (killed through a closed output pipe: still clean up)
  trap 'stop_daemon; exit 141' PIPE
  if [ "${DAEMON_NET:-0}" = 1 ] && ! _dl_net_suite_setup; then
    : # DAEMON_START_ERROR set: every test fails with it
  elif _dl_launch "$DAEMON_DIR" && daemon_start_wait "$DAEMON_DIR"; then
    DAEMON_PID=$(cat "$DAEMON_DIR/daemon.bgpid")
  else
    DAEMON_START_ERROR=$(cat "$DAEMON_DIR/start-error" 2>/dev/null || echo "daemon did not start")
    DAEMON_PID=$(cat "$DAEMON_DIR/daemon.bgpid" 2>/dev/null)
  fi
  if [ -f "$DAEMON_DIR/net.env" ]; then
    DAEMON_BRIDGE=$(net_env "$DAEMON_DIR" BRIDGE)
    DAEMON_SUBNET=$(net_env "$DAEMON_DIR" SUBNET)
    DAEMON_GATEWAY=$(net_env "$DAEMON_DIR" GATEWAY)
    DAEMON_NFT_TABLE=$(net_env "$DAEMON_DIR" NFT_TABLE)
    export DAEMON_BRIDGE DAEMON_SUBNET DAEMON_GATEWAY DAEMON_NFT_TABLE
  fi
  local host
  host=$(cat "$DAEMON_DIR/host" 2>/dev/null || echo "unix://$DAEMON_DIR/none.sock")
  DOCKER_HOST=$host
  DAEMON_SOCK=${host#unix://}
  DOCKER_CONFIG=$DAEMON_DIR/cli
  export DOCKER_HOST DOCKER_CONFIG DAEMON_DIR DAEMON_SOCK DAEMON_LOG DAEMON_PID DAEMON_KIND DAEMON_START_ERROR
  [ -z "$DAEMON_START_ERROR" ]
}

stop_daemon() {
  [ -n "${DAEMON_DIR:-}" ] || return 0
  daemon_stop "$DAEMON_DIR"
  DAEMON_DIR=""
  if [ -n "${_DL_NET_LOCK_FD:-}" ]; then exec {_DL_NET_LOCK_FD}>&-; _DL_NET_LOCK_FD=""; fi
}

# the wrapper around every test of the suite
_dl_run_test() {
  local orig=$1
  if [ -n "${DAEMON_START_ERROR:-}" ]; then
    _dl_print_log "$DAEMON_LOG" 0 40
    fail "$DAEMON_START_ERROR"
  fi
  if ! _dl_alive "$DAEMON_PID"; then
    _dl_print_log "$DAEMON_LOG" 0 40
    fail "the $(daemon_kind) under test is not running any more (it died during an earlier test)"
  fi
  _DL_LOG_OFF=$(stat -c %s "$DAEMON_LOG" 2>/dev/null || echo 0)
  trap '_dl_test_exit' EXIT
  "$orig"
}

_dl_test_exit() {
  local rc=$? why=""
  trap - EXIT
  if ! _dl_alive "$DAEMON_PID"; then
    why="the $(daemon_kind) under test died during this test"
  elif is_berthd && tail -c +"$((_DL_LOG_OFF + 1))" "$DAEMON_LOG" 2>/dev/null |
         grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|WARNING: ThreadSanitizer'; then
    why="sanitizer report in the daemon log during this test"
  fi
  if [ -n "$why" ]; then
    printf 'ASSERTION FAILED: %s\n' "$why" >&2
    if [ "$rc" -ne 0 ] && [ -s "$T/.why" ]; then
      printf '%s; the test said: %s\n' "$why" "$(head -n1 "$T/.why")" > "$T/.why.new" && mv -f "$T/.why.new" "$T/.why"
    else
      printf '%s\n' "$why" > "$T/.why"
    fi
    [ "$rc" -ne 0 ] && [ "$rc" -ne "$SKIP_RC" ] || rc=1
  fi
  if [ "$rc" -ne 0 ] && [ "$rc" -ne "$SKIP_RC" ]; then
    _dl_print_log "$DAEMON_LOG" "${_DL_LOG_OFF:-0}" "${DAEMON_LOG_LINES:-25}"
  fi
  exit "$rc"
}

# run_daemon_tests ARGS...: the suite's last line.
run_daemon_tests() {
  local t n=0 rc=0 f want
  for t in $(_tl_list_tests "$0"); do
    declare -F "$t" >/dev/null || continue
    eval "_dl_orig_$t() $(declare -f "$t" | tail -n +2)"
    eval "$t() { _dl_run_test _dl_orig_$t; }"
    # count the tests that will run (no daemon for an empty selection)
    if [ $# -gt 0 ]; then
      want=0
      for f in "$@"; do [[ $t == $f ]] && want=1; done
      [ $want = 1 ] || continue
    fi
    # shellcheck disable=SC2053
    [[ $t == ${TEST_FILTER:-*} ]] || continue
    n=$((n + 1))
  done
  [ $n -gt 0 ] || return 0
  start_daemon
  run_tests "$@" || rc=$?
  _dl_shutdown_check || rc=1
  stop_daemon
  trap - EXIT PIPE
  return $rc
}

# After the tests: SIGTERM must stop the daemon within 15 s; berthd must
# exit with status 0 and without a sanitizer report. One result line,
# "daemon_shutdown", when the daemon was up.
_dl_shutdown_check() {
  local label=${SUITE_LABEL:-$(basename "$0" .sh)} pid=$DAEMON_PID off st=0 why="" i
  [ -z "${DAEMON_START_ERROR:-}" ] && [ -n "$pid" ] || return 0
  _dl_alive "$pid" || return 0   # died during a test: that test failed
  off=$(stat -c %s "$DAEMON_LOG" 2>/dev/null || echo 0)
  kill -TERM "$pid" 2>/dev/null
  for i in $(seq 1 150); do _dl_alive "$pid" || break; sleep 0.1; done
  if _dl_alive "$pid"; then
    why="did not exit within 15 s of SIGTERM"
    kill -KILL "$pid" 2>/dev/null
  fi
  wait "$pid" 2>/dev/null; st=$?
  if [ -z "$why" ] && is_berthd; then
    if [ "$st" -ne 0 ]; then
      why="exited with status $st after SIGTERM"
    elif tail -c +"$((off + 1))" "$DAEMON_LOG" 2>/dev/null |
           grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:'; then
      why="sanitizer report in the daemon log at shutdown"
    fi
  fi
  if [ -z "$why" ]; then
    echo "PASS: $label: daemon_shutdown"
    return 0
  fi
  echo "FAIL: $label: daemon_shutdown: $(daemon_kind) $why"
  _dl_print_log "$DAEMON_LOG" "$off" 40 2>&1 | sed 's/^/    /'
  return 1
}

# ----------------------------------------------------------- test helpers

img_name() { printf '%s/%s' "${TEST_TAG:?}" "${1:-img}"; }

image_ids() { dk images -qa --no-trunc | sort -u; }

# api METHOD PATH [curl args...]
api() {
  local method=$1 path=$2; shift 2
  local hf=$T/.api.headers bf=$T/.api.body
  local -a m=(-X "$method")
  [ "$method" != HEAD ] || m=(-I)   # (curl reads no body after HEAD: see raw_http)
  rm -f "$hf" "$bf"
  API_STATUS=$(curl -sS --noproxy '*' --max-time "${API_TIMEOUT:-60}" --unix-socket "${API_SOCK:-$DAEMON_SOCK}" \
                 "${m[@]}" -D "$hf" -o "$bf" -w '%{http_code}' "$@" "http://localhost$path" 2>"$T/.api.err") || true
  API_BODY=$(head -c 200000 "$bf" 2>/dev/null | tr -d '\0')
  API_HEADERS=$(tr -d '\r' < "$hf" 2>/dev/null)
  API_CTYPE=$(printf '%s\n' "$API_HEADERS" | sed -n 's/^[Cc][Oo][Nn][Tt][Ee][Nn][Tt]-[Tt][Yy][Pp][Ee]:[[:space:]]*//p' | tail -n1)
  printf '+ curl -X %s %s %s => %s [%s] %s\n' "$method" "$path" "$*" "${API_STATUS:-none}" "$API_CTYPE" \
    "$(printf '%s' "$API_BODY" | head -c 300 | tr '\n' ' ')" >&2
  [ -s "$T/.api.err" ] && sed 's/^/  curl| /' "$T/.api.err" >&2
  return 0
}

# raw_http [-s SOCKET] [-t SECONDS] [-f FILE | REQUEST]: sends REQUEST
# (printf %b escapes like \r\n expanded), or the bytes of FILE, over the
# Unix socket (never half-closing it), reads
# until the daemon closes the connection or SECONDS (default 10) pass;
# RAW_OUT = the raw answer (NULs and trailing newlines dropped), RAW_FILE =
# the file holding it byte for byte, RAW_RC = 0 if the daemon closed
# the connection, 2 on timeout, 1 if it could not connect.
raw_http() {
  local sock=${API_SOCK:-$DAEMON_SOCK} secs=10 file=""
  while [ $# -gt 0 ]; do
    case $1 in -s) sock=$2; shift 2 ;; -t) secs=$2; shift 2 ;; -f) file=$2; shift 2 ;; *) break ;; esac
  done
  RAW_RC=0
  if [ -n "$file" ]; then cp "$file" "$T/.raw.req"; else printf '%b' "$1" > "$T/.raw.req"; fi
  perl -e '
      use strict; use IO::Socket::UNIX; use IO::Select;
      my ($path, $secs, $reqf) = @ARGV;
      my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM(), Peer => $path) or exit 1;
      open(my $f, "<", $reqf) or exit 1; binmode $f; local $/; my $req = <$f>; $req = "" unless defined $req;
      $SIG{PIPE} = "IGNORE";
      my $off = 0;
      while ($off < length($req)) { my $n = syswrite($s, $req, 65536, $off); last unless defined $n && $n > 0; $off += $n; }
      my $sel = IO::Select->new($s); my $end = time + $secs; my $buf;
      binmode STDOUT;
      while (1) {
        my $left = $end - time; if ($left <= 0) { exit 2 }
        if ($sel->can_read($left)) { my $n = sysread($s, $buf, 65536); exit 0 unless $n; print $buf; }
      }' "$sock" "$secs" "$T/.raw.req" > "$T/.raw.out" 2>/dev/null || RAW_RC=$?
  RAW_OUT=$(head -c 200000 "$T/.raw.out" | tr -d '\0')
  RAW_FILE=$T/.raw.out
  printf '+ raw_http %q => rc=%s: %s\n' "$(head -c 120 "$T/.raw.req" | tr -d '\0')" "$RAW_RC" \
    "$(printf '%s' "$RAW_OUT" | head -c 300 | tr '\r\n' '  ')" >&2
  return 0
}

# api_header NAME: value of that header in the last answer (empty if none)
api_header() {
  printf '%s\n' "$API_HEADERS" | awk -v n="$(printf '%s' "$1" | tr 'A-Z' 'a-z')" '
    { i = index($0, ":"); if (i > 0 && tolower(substr($0, 1, i - 1)) == n) { v = substr($0, i + 1); sub(/^[ \t]+/, "", v); print v } }' | tail -n1
}
api_has_header() {
  printf '%s\n' "$API_HEADERS" | grep -qi "^$1:"
}

assert_api_error() { # STATUS-ERE [MESSAGE-ERE]
  local st=$1 msg=${2:-}
  printf '%s\n' "$API_STATUS" | grep -Eq "^($st)\$" ||
    fail "expected HTTP status /$st/, got ${API_STATUS:-none}: $(printf '%s' "$API_BODY" | head -c 500)"
  case $API_CTYPE in
    application/json*) ;;
    *) fail "error answer (status $API_STATUS) has Content-Type '$API_CTYPE', not application/json: $(printf '%s' "$API_BODY" | head -c 300)" ;;
  esac
  printf '%s' "$API_BODY" | jq -e '(.message | type) == "string" and (.message | length) > 0' >/dev/null 2>&1 ||
    fail "error answer (status $API_STATUS) is not {\"message\": \"...\"}: $(printf '%s' "$API_BODY" | head -c 500)"
  if [ -n "$msg" ]; then
    printf '%s' "$API_BODY" | jq -r .message | grep -Eqi -- "$msg" ||
      fail "error message does not match /$msg/: $(printf '%s' "$API_BODY" | head -c 500)"
  fi
}

assert_daemon_answers() {
  local st body
  st=$(curl -sS --noproxy '*' --max-time 20 --unix-socket "$DAEMON_SOCK" -o "$T/.ping" -w '%{http_code}' \
         http://localhost/_ping 2>&1) || true
  body=$(cat "$T/.ping" 2>/dev/null)
  [ "$st" = 200 ] && [ "$body" = OK ] ||
    fail "the daemon does not answer GET /_ping any more (status '$st', body '$(printf '%s' "$body" | head -c 200)')"
}
