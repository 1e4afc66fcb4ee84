#!/bin/bash
# runtime-spec.sh: config.json features, each checked from inside the
# container (the process's own output).
. "$(dirname "$0")/../lib/testlib.sh"

# run_in BUNDLE-NAME [mkbundle opts...] -- ARGS...: makes $T/NAME, runs it in
# the foreground; OUT/RC.
run_in() {
  local name=$1; shift
  local -a opts=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do opts+=("$1"); shift; done
  [ "${1:-}" = "--" ] && shift
  mkbundle "${opts[@]}" "$T/$name" -- "$@"
  run_ct "$T/$name"
}

test_hostname_domainname() {
  run_in b -x '.hostname = "h-test" | .domainname = "dom.example"' -- \
    sh -c 'hostname; cat /proc/sys/kernel/domainname; uname -n'
  assert_success
  assert_eq "h-test
dom.example
h-test" "$OUT"
  assert_ne h-test "$(hostname)" "host hostname changed"
}

test_env() {
  TEST_LEAK_CHECK=leaked-from-host run_in b -x '.process.env = ["PATH=/bin:/usr/bin", "FOO=bar baz", "EMPTY=", "HOME=/root"]' -- env
  assert_success
  assert_match "$OUT" '^FOO=bar baz$' "FOO"
  assert_match "$OUT" '^EMPTY=$' "EMPTY"
  assert_match "$OUT" '^PATH=/bin:/usr/bin$' "PATH"
  assert_not_contains "$OUT" "TEST_TAG=" "host environment leaked"
  assert_not_contains "$OUT" "leaked-from-host" "host environment leaked"
}

test_cwd() {
  run_in b -x '.process.cwd = "/home/user"' -- pwd
  assert_success
  assert_eq /home/user "$OUT"
}

test_user_ids() {
  run_in b -x '.process.user = {uid: 1000, gid: 1000, additionalGids: [1001, 2000]}' -- \
    sh -c 'id -u; id -g; grep ^Groups: /proc/self/status; grep -E "^(Uid|Gid):" /proc/self/status'
  assert_success
  assert_eq 1000 "$(printf '%s\n' "$OUT" | sed -n 1p)" "uid"
  assert_eq 1000 "$(printf '%s\n' "$OUT" | sed -n 2p)" "gid"
  local groups
  groups=$(printf '%s\n' "$OUT" | sed -n 's/^Groups:[[:space:]]*//p' | tr -s ' \t' '\n' | grep . | sort -n | tr '\n' ' ')
  assert_eq "1001 2000 " "$groups" "additional gids"
  assert_match "$OUT" '^Uid:[[:space:]]+1000[[:space:]]+1000[[:space:]]+1000[[:space:]]+1000' "real/effective/saved/fs uid"
  assert_match "$OUT" '^Gid:[[:space:]]+1000[[:space:]]+1000[[:space:]]+1000[[:space:]]+1000' "real/effective/saved/fs gid"
  # a non-root user cannot write where root owns
  run_in c -x '.process.user = {uid: 1000, gid: 1000}' -- sh -c 'touch /etc/x 2>&1; echo rc=$?'
  assert_contains "$OUT" "rc=1" "uid 1000 could write /etc"
}

test_umask() {
  run_in b -x '.process.user.umask = 23' -- sh -c 'umask; touch /tmp/f; stat -c %a /tmp/f'
  assert_success
  assert_eq "0027
640" "$OUT" "umask 027"
  run_in c -x '.process.user.umask = 0' -- sh -c 'umask'
  assert_eq 0000 "$OUT" "umask 0"
}

# Capability numbers (linux/capability.h).
declare -A CAPNUM=([CAP_CHOWN]=0 [CAP_DAC_OVERRIDE]=1 [CAP_DAC_READ_SEARCH]=2 [CAP_FOWNER]=3
  [CAP_FSETID]=4 [CAP_KILL]=5 [CAP_SETGID]=6 [CAP_SETUID]=7 [CAP_SETPCAP]=8
  [CAP_LINUX_IMMUTABLE]=9 [CAP_NET_BIND_SERVICE]=10 [CAP_NET_BROADCAST]=11 [CAP_NET_ADMIN]=12
  [CAP_NET_RAW]=13 [CAP_IPC_LOCK]=14 [CAP_IPC_OWNER]=15 [CAP_SYS_MODULE]=16 [CAP_SYS_RAWIO]=17
  [CAP_SYS_CHROOT]=18 [CAP_SYS_PTRACE]=19 [CAP_SYS_PACCT]=20 [CAP_SYS_ADMIN]=21 [CAP_SYS_BOOT]=22
  [CAP_SYS_NICE]=23 [CAP_SYS_RESOURCE]=24 [CAP_SYS_TIME]=25 [CAP_SYS_TTY_CONFIG]=26 [CAP_MKNOD]=27
  [CAP_LEASE]=28 [CAP_AUDIT_WRITE]=29 [CAP_AUDIT_CONTROL]=30 [CAP_SETFCAP]=31)
capmask() { # CAP_X... -> 16 hex digits as in /proc/self/status
  local m=0 c
  for c in "$@"; do m=$(( m | (1 << ${CAPNUM[$c]}) )); done
  printf '%016x' "$m"
}
capjson() { printf '%s\n' "$@" | jq -R . | jq -sc .; }

check_caps() { # OUT-of-grep-Cap expected: inh prm eff bnd amb
  assert_match "$OUT" "^CapInh:[[:space:]]+$1\$" "CapInh"
  assert_match "$OUT" "^CapPrm:[[:space:]]+$2\$" "CapPrm"
  assert_match "$OUT" "^CapEff:[[:space:]]+$3\$" "CapEff"
  assert_match "$OUT" "^CapBnd:[[:space:]]+$4\$" "CapBnd"
  assert_match "$OUT" "^CapAmb:[[:space:]]+$5\$" "CapAmb"
}

test_capabilities() {
  local bnd=(CAP_CHOWN CAP_DAC_OVERRIDE CAP_KILL CAP_NET_BIND_SERVICE CAP_NET_RAW CAP_SYS_ADMIN CAP_AUDIT_WRITE)
  local prm=(CAP_CHOWN CAP_KILL CAP_NET_BIND_SERVICE CAP_NET_RAW)
  local inh=(CAP_KILL CAP_NET_RAW)
  local amb=(CAP_KILL)
  local caps
  caps=$(jq -nc --argjson b "$(capjson "${bnd[@]}")" --argjson p "$(capjson "${prm[@]}")" \
    --argjson i "$(capjson "${inh[@]}")" --argjson a "$(capjson "${amb[@]}")" \
    '{bounding: $b, permitted: $p, effective: $p, inheritable: $i, ambient: $a}')
  # root with noNewPrivileges: after execve the permitted and effective sets
  # are exactly the configured permitted set
  run_in root -j "caps=$caps" -x '.process.capabilities = $caps | .process.noNewPrivileges = true' -- grep ^Cap /proc/self/status
  assert_success
  check_caps "$(capmask "${inh[@]}")" "$(capmask "${prm[@]}")" "$(capmask "${prm[@]}")" "$(capmask "${bnd[@]}")" "$(capmask "${amb[@]}")"
  # a non-root user keeps only the ambient set as permitted/effective
  run_in user -j "caps=$caps" -x '.process.capabilities = $caps | .process.user = {uid: 1000, gid: 1000}' -- grep ^Cap /proc/self/status
  assert_success
  check_caps "$(capmask "${inh[@]}")" "$(capmask "${amb[@]}")" "$(capmask "${amb[@]}")" "$(capmask "${bnd[@]}")" "$(capmask "${amb[@]}")"
  # a real effect: without CAP_CHOWN root cannot chown
  local nochown
  nochown=$(jq -nc '{bounding: ["CAP_KILL"], permitted: ["CAP_KILL"], effective: ["CAP_KILL"]}')
  run_in nochown -j "caps=$nochown" -x '.process.capabilities = $caps' -- sh -c 'touch /tmp/f; chown 1000 /tmp/f 2>&1; echo rc=$?'
  assert_contains "$OUT" "rc=1" "chown without CAP_CHOWN"
  run_in chown -j "caps=$caps" -x '.process.capabilities = $caps' -- sh -c 'touch /tmp/f; chown 1000 /tmp/f 2>&1; echo rc=$?'
  assert_contains "$OUT" "rc=0" "chown with CAP_CHOWN"
}

test_rlimits() {
  # the sandbox has no CAP_SYS_RESOURCE: only lower limits than the host's
  run_in b -x '.process.rlimits = [{type: "RLIMIT_NOFILE", soft: 100, hard: 200}, {type: "RLIMIT_CORE", soft: 0, hard: 0}]' -- \
    sh -c 'ulimit -n; ulimit -Hn; grep -E "^Max (open files|core file size)" /proc/self/limits'
  assert_success
  assert_eq 100 "$(printf '%s\n' "$OUT" | sed -n 1p)" "soft NOFILE"
  assert_eq 200 "$(printf '%s\n' "$OUT" | sed -n 2p)" "hard NOFILE"
  assert_match "$OUT" '^Max open files +100 +200 +files' "/proc/self/limits NOFILE"
  assert_match "$OUT" '^Max core file size +0 +0 +bytes' "/proc/self/limits CORE"
}

test_no_new_privileges() {
  run_in on -x '.process.noNewPrivileges = true' -- grep ^NoNewPrivs: /proc/self/status
  assert_match "$OUT" '^NoNewPrivs:[[:space:]]+1$' "noNewPrivileges true"
  run_in off -x '.process.noNewPrivileges = false' -- grep ^NoNewPrivs: /proc/self/status
  assert_match "$OUT" '^NoNewPrivs:[[:space:]]+0$' "noNewPrivileges false"
}

test_oom_score_adj() {
  run_in b -x '.process.oomScoreAdj = 500' -- cat /proc/self/oom_score_adj
  assert_success
  assert_eq 500 "$OUT"
}

test_readonly_root() {
  run_in b -x '.root.readonly = true' -- sh -c 'touch /x 2>&1; echo rc=$?; touch /tmp/x 2>&1; echo rc=$?; echo ok > /dev/shm/x && cat /dev/shm/x'
  assert_success
  assert_match "$OUT" 'Read-only file system' "error names the read-only fs"
  assert_eq 2 "$(printf '%s\n' "$OUT" | grep -c '^rc=1$')" "both touches fail"
  assert_match "$OUT" '^ok$' "/dev/shm is still writable"
  assert_not_exists "$T/b/rootfs/x" "file created in the read-only rootfs"
  run_in w -- sh -c 'touch /x && echo writable'
  assert_eq writable "$OUT" "root.readonly=false is writable"
}

test_mount_bind_ro() {
  mkdir -p "$T/host"
  echo "host-data" > "$T/host/file"
  run_in b -a "src=$T/host" -x '.mounts += [{destination: "/ro", type: "bind", source: $src, options: ["rbind", "ro"]},
                                             {destination: "/rw", type: "bind", source: $src, options: ["rbind", "rw"]}]' -- \
    sh -c 'cat /ro/file; touch /ro/new 2>&1; echo rc=$?; echo from-ct > /rw/rwfile; echo done'
  assert_success
  assert_contains "$OUT" host-data
  assert_contains "$OUT" "rc=1" "writing to a ro bind succeeded"
  assert_contains "$OUT" "Read-only file system"
  assert_not_exists "$T/host/new"
  assert_eq from-ct "$(cat "$T/host/rwfile")" "rw bind writes through to the host"
}

test_mount_tmpfs_size() {
  run_in b -x '.mounts += [{destination: "/scratch", type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev", "size=1m", "mode=1770"]}]' -- \
    sh -c 'grep " /scratch " /proc/self/mountinfo; stat -c %a /scratch; df -k /scratch | tail -n1; dd if=/dev/zero of=/scratch/big bs=1024 count=2048 2>&1; echo dd=$?'
  assert_success
  assert_match "$OUT" ' /scratch .* - tmpfs ' "tmpfs mounted at /scratch"
  assert_match "$OUT" 'size=1024k' "size option"
  assert_match "$OUT" '^1770$' "mode option"
  assert_match "$OUT" '[[:space:]]1024[[:space:]]' "df shows 1024 KiB"
  assert_contains "$OUT" "No space left on device" "writing 2 MiB into a 1 MiB tmpfs"
  assert_match "$OUT" '^dd=1$' "dd fails"
}

test_mount_propagation() {
  mkdir -p "$T/prop/sub" "$T/priv/sub"
  # host side: make both folders shared mount points
  mount --bind "$T/prop" "$T/prop" && mount --make-shared "$T/prop"
  mount --bind "$T/priv" "$T/priv" && mount --make-shared "$T/priv"
  defer "umount -l '$T/prop'; umount -l '$T/priv'"
  mkbundle -s "$T/shared" -a "p=$T/prop" -a "q=$T/priv" \
    -x '.mounts += [{destination: "/prop", type: "bind", source: $p, options: ["rbind", "rslave"]},
                    {destination: "/priv", type: "bind", source: $q, options: ["rbind", "rprivate"]}]' \
    "$T/b" -- sh -c 'echo ready > /shared/ready; exec sleep 1000'
  local id
  id=$(bid "$T/b")
  capf rt run -d -b "$T/b" "$id"
  assert_success
  wait_for 10 test -e "$T/shared/ready" || fail "not started"
  mount -t tmpfs -o size=1m bt-prop "$T/prop/sub"
  mount -t tmpfs -o size=1m bt-priv "$T/priv/sub"
  echo visible > "$T/prop/sub/f"
  assert_ok rt exec "$id" cat /proc/self/mountinfo
  assert_match "$OUT" ' /prop/sub .* - tmpfs bt-prop ' "host mount did not propagate into an rslave bind"
  assert_no_match "$OUT" ' /priv/sub .* tmpfs bt-priv ' "host mount propagated into an rprivate bind"
  assert_ok rt exec "$id" cat /prop/sub/f
  assert_eq visible "$OUT"
}

masked_check_script='
for p in "$@"; do
  if [ ! -e "$p" ]; then echo "$p absent"
  elif [ -d "$p" ]; then echo "$p dir entries=$(ls -A "$p" | wc -l)"
  else echo "$p file bytes=$(head -c 64 "$p" 2>/dev/null | wc -c) type=$(stat -c %F "$p")"
  fi
done'

readonly_check_script='
for p in "$@"; do
  [ -e "$p" ] || { echo "$p absent"; continue; }
  opts=$(awk -v p="$p" "\$5 == p {print \$6}" /proc/self/mountinfo | tail -n1)
  case ",$opts," in *,ro,*) echo "$p ro";; *) echo "$p NOT-ro ($opts)";; esac
done'

# check_masked OUT PATHS...: each masked path that exists must be empty
check_masked() {
  local out=$1 p line; shift
  for p in "$@"; do
    line=$(printf '%s\n' "$out" | grep -F "$p " | head -n1)
    [ -n "$line" ] || fail "no result for $p"
    case $line in
      *" absent") ;;
      *" dir entries=0") ;;
      *" file bytes=0 "*) ;;
      *) fail "masked path not masked: $line" ;;
    esac
  done
}

# check_masked_real OUT PATHS...: the masked paths that exist on the host
# (at least one must) are seen masked inside; /proc/kcore when the kernel has it
check_masked_real() {
  local out=$1 p n=0; shift
  for p in "$@"; do
    [ -e "$p" ] || continue
    n=$((n + 1))
    if [ -f "$p" ] && [ "$(head -c 64 "$p" 2>/dev/null | wc -c)" -gt 0 ]; then
      assert_contains "$out" "$p file bytes=0 type=character special file" "$p (readable on the host) masked with /dev/null"
    fi
    if [ -d "$p" ] && [ -n "$(ls -A "$p")" ]; then
      assert_contains "$out" "$p dir entries=0" "$p (not empty on the host) masked"
    fi
  done
  [ $n -gt 0 ] || fail "none of the masked paths exists on the host: nothing was tested"
  if [ -e /proc/kcore ]; then
    assert_match "$out" '^/proc/kcore file bytes=0 ' "/proc/kcore masked"
  else
    log "/proc/kcore: this kernel has none"
  fi
}

test_masked_readonly_default() {
  local masked ro_paths
  # default lists from `spec`
  mkbundle "$T/probe"
  masked=$(jq -r '.linux.maskedPaths // [] | .[]' "$T/probe/config.json")
  ro_paths=$(jq -r '.linux.readonlyPaths // [] | .[]' "$T/probe/config.json")
  [ -n "$masked" ] || fail "spec has no maskedPaths"
  # shellcheck disable=SC2086
  run_in m -- sh -c "$masked_check_script" sh $masked
  assert_success
  # shellcheck disable=SC2086
  check_masked "$OUT" $masked
  check_masked_real "$OUT" $masked
  # shellcheck disable=SC2086
  run_in r -- sh -c "$readonly_check_script" sh $ro_paths
  assert_success
  assert_not_contains "$OUT" "NOT-ro" "readonly paths"
  assert_contains "$OUT" "/proc/sys ro"
  run_in w -- sh -c 'echo 1 > /proc/sys/kernel/shm_rmid_forced 2>&1; echo rc=$?'
  assert_contains "$OUT" "rc=1" "/proc/sys writable"
}

DOCKER_MASKED="/proc/asound /proc/acpi /proc/kcore /proc/keys /proc/latency_stats /proc/timer_list /proc/timer_stats /proc/sched_debug /proc/scsi /sys/firmware"
DOCKER_READONLY="/proc/bus /proc/fs /proc/irq /proc/sys /proc/sysrq-trigger"

test_masked_readonly_docker() {
  local m r
  m=$(printf '%s\n' $DOCKER_MASKED | jq -R . | jq -sc .)
  r=$(printf '%s\n' $DOCKER_READONLY | jq -R . | jq -sc .)
  # shellcheck disable=SC2086
  run_in m -j "m=$m" -j "r=$r" -x '.linux.maskedPaths = $m | .linux.readonlyPaths = $r' -- \
    sh -c "$masked_check_script; set -- $DOCKER_READONLY; $readonly_check_script" sh $DOCKER_MASKED
  assert_success
  # shellcheck disable=SC2086
  check_masked "$OUT" $DOCKER_MASKED
  assert_not_contains "$OUT" "NOT-ro" "readonly paths"
  local p
  for p in $DOCKER_READONLY; do
    [ -e "$p" ] && assert_contains "$OUT" "$p ro"
  done
  # shellcheck disable=SC2086
  check_masked_real "$OUT" $DOCKER_MASKED
}

test_ns_pid() {
  run_in b -- sh -c 'echo $$; ps -o pid,comm | sed -n 2p; cat /proc/1/cmdline | tr "\0" " "'
  assert_success
  assert_eq 1 "$(printf '%s\n' "$OUT" | sed -n 1p)" "container process is pid 1"
  assert_match "$(printf '%s\n' "$OUT" | sed -n 2p)" '^ *1 +sh' "ps shows pid 1 is sh"
  assert_match "$OUT" 'sh -c echo' "/proc/1 is the container process"
  run_in h -x '.linux.namespaces |= map(select(.type != "pid"))' -- sh -c 'echo $$'
  assert_ne 1 "$OUT" "without a pid namespace the process is not pid 1"
}

ns_of() { readlink "/proc/self/ns/$1"; }

test_ns_uts() {
  run_in b -x '.process.capabilities.bounding += ["CAP_SYS_ADMIN"] | .process.capabilities.effective += ["CAP_SYS_ADMIN"] | .process.capabilities.permitted += ["CAP_SYS_ADMIN"]' -- \
    sh -c 'readlink /proc/self/ns/uts; hostname changed-inside; hostname'
  assert_success
  assert_ne "$(ns_of uts)" "$(printf '%s\n' "$OUT" | sed -n 1p)" "uts namespace"
  assert_eq changed-inside "$(printf '%s\n' "$OUT" | tail -n1)"
  assert_ne changed-inside "$(hostname)" "host hostname changed"
}

test_ns_ipc() {
  # a SysV shm segment of the host must not be visible inside
  local shmid
  shmid=$(ipcmk -M 4096 | grep -o '[0-9]*$')
  [ -n "$shmid" ] || fail "ipcmk failed"
  defer "ipcrm -m $shmid"
  grep -qE "^ *[0-9-]+ +$shmid " /proc/sysvipc/shm || fail "host shm $shmid not in /proc/sysvipc/shm"
  run_in b -- sh -c 'readlink /proc/self/ns/ipc; tail -n +2 /proc/sysvipc/shm | wc -l'
  assert_success
  assert_ne "$(ns_of ipc)" "$(printf '%s\n' "$OUT" | sed -n 1p)" "ipc namespace"
  assert_eq 0 "$(printf '%s\n' "$OUT" | sed -n 2p)" "shm segments visible in a new ipc namespace"
}

test_ns_net() {
  run_in b -- sh -c 'readlink /proc/self/ns/net; ip -o link | cut -d: -f2 | tr -d " "; echo ---; tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " "'
  assert_success
  assert_ne "$(ns_of net)" "$(printf '%s\n' "$OUT" | sed -n 1p)" "net namespace"
  assert_eq "lo
---
lo" "$(printf '%s\n' "$OUT" | sed 1d)" "only lo"
}

test_ns_cgroup() {
  run_in b -x '.linux.namespaces |= (map(select(.type != "cgroup")) + [{type: "cgroup"}])' -- sh -c 'readlink /proc/self/ns/cgroup; cat /proc/self/cgroup'
  assert_success
  assert_ne "$(ns_of cgroup)" "$(printf '%s\n' "$OUT" | sed -n 1p)" "cgroup namespace"
  local bad
  bad=$(printf '%s\n' "$OUT" | sed 1d | grep -v ':/$' || true)
  [ -z "$bad" ] || fail "cgroup paths are not / inside a cgroup namespace: $bad"
}

test_ns_time() {
  [ -e /proc/self/ns/time ] || skip "kernel has no time namespaces"
  run_in b -x '.linux.namespaces |= (map(select(.type != "time")) + [{type: "time"}]) | .linux.timeOffsets = {monotonic: {secs: 864000, nanosecs: 0}, boottime: {secs: 7200, nanosecs: 0}}' -- \
    sh -c 'readlink /proc/self/ns/time; cat /proc/self/timens_offsets; cut -d. -f1 /proc/uptime'
  assert_success
  assert_ne "$(ns_of time)" "$(printf '%s\n' "$OUT" | sed -n 1p)" "time namespace"
  assert_match "$OUT" '^monotonic +864000 +0$' "monotonic offset"
  assert_match "$OUT" '^boottime +7200 +0$' "boottime offset"
  local up host
  up=$(printf '%s\n' "$OUT" | tail -n1)
  host=$(cut -d. -f1 /proc/uptime)
  [ "$up" -ge $((host + 7000)) ] || fail "uptime inside ($up) is not host uptime ($host) + 7200"
}

test_ns_user() {
  run_in b -x '.linux.namespaces |= (map(select(.type != "user")) + [{type: "user"}])
      | .linux.uidMappings = [{containerID: 0, hostID: 100000, size: 65536}]
      | .linux.gidMappings = [{containerID: 0, hostID: 100000, size: 65536}]
      | .mounts |= map(select(.type != "cgroup"))' -- \
    sh -c 'cat /proc/self/uid_map; cat /proc/self/gid_map; id -u; readlink /proc/self/ns/user; echo $$'
  assert_success
  assert_match "$OUT" '^ *0 +100000 +65536$' "uid_map"
  assert_eq 2 "$(printf '%s\n' "$OUT" | grep -Ec '^ *0 +100000 +65536$')" "uid_map and gid_map"
  assert_match "$OUT" '^0$' "root inside"
  assert_ne "$(ns_of user)" "$(printf '%s\n' "$OUT" | sed -n 4p)" "user namespace"
}

test_ns_join_netns_path() {
  local ns="bt-$TEST_TAG"
  ip netns add "$ns" || fail "ip netns add failed"
  defer "ip netns del '$ns'"
  if ! ip -n "$ns" link add bt-dummy0 type dummy 2>/dev/null; then
    ip -n "$ns" link add bt-dummy0 type veth peer name bt-peer0 || fail "cannot create a link in $ns"
  fi
  ip -n "$ns" addr add 10.253.254.1/32 dev bt-dummy0
  run_in b -a "p=/run/netns/$ns" -x '.linux.namespaces = [.linux.namespaces[] | if .type == "network" then .path = $p else . end]' -- \
    sh -c 'readlink /proc/self/ns/net; ip -o link | cut -d: -f2 | cut -d@ -f1 | tr -d " "; ip -o addr'
  assert_success
  assert_eq "$(ip netns exec "$ns" readlink /proc/self/ns/net)" "$(printf '%s\n' "$OUT" | sed -n 1p)" "joined the netns by path"
  assert_match "$OUT" '^bt-dummy0$' "interface created in the netns is visible"
  assert_contains "$OUT" 10.253.254.1
}

test_devices_custom() {
  local devs
  devs='{path: "/dev/mydev", type: "c", major: 1, minor: 3, fileMode: 416, uid: 1000, gid: 1000},
        {path: "/dev/mynull", type: "c", major: 1, minor: 3, fileMode: 438, uid: 0, gid: 0}'
  if [ -c /dev/fuse ]; then
    devs="$devs, {path: \"/dev/fuse\", type: \"c\", major: 10, minor: 229, fileMode: 438, uid: 0, gid: 0}"
  fi
  run_in b -x ".linux.devices = [$devs]
      | .linux.resources.devices += [{allow: true, type: \"c\", major: 10, minor: 229, access: \"rwm\"}]" -- \
    sh -c 'stat -c "%n %F %t:%T %a %u:%g" /dev/mydev /dev/mynull; echo data > /dev/mynull && echo write-ok;
           [ -e /dev/fuse ] && stat -c "%n %F %t:%T %a" /dev/fuse; exec 3<>/dev/fuse && echo fuse-open-ok'
  assert_success
  assert_match "$OUT" '^/dev/mydev character special file 1:3 640 1000:1000$' "/dev/mydev"
  assert_match "$OUT" '^/dev/mynull character special file 1:3 666 0:0$' "/dev/mynull"
  assert_contains "$OUT" write-ok
  local out1=$OUT
  # the owner (uid 1000) can write it
  run_in u -x '.linux.devices = [{path: "/dev/mydev", type: "c", major: 1, minor: 3, fileMode: 416, uid: 1000, gid: 1000}]
      | .process.user = {uid: 1000, gid: 1000}' -- sh -c 'echo data > /dev/mydev && echo user-write-ok'
  assert_contains "$OUT" user-write-ok "uid 1000 owns /dev/mydev"
  if [ -c /dev/fuse ]; then
    assert_match "$out1" '^/dev/fuse character special file a:e5 666$' "/dev/fuse"
    assert_contains "$out1" fuse-open-ok "device cgroup allows /dev/fuse"
  fi
}

test_devices_default() {
  run_in b -- sh -c 'for d in null zero full random urandom tty; do stat -c "%n %t:%T" /dev/$d; done;
      head -c 8 /dev/zero | wc -c; echo x > /dev/null && echo null-ok; echo x > /dev/full 2>&1 || echo full-enospc;
      for l in fd stdin stdout stderr; do readlink /dev/$l; done; [ -d /dev/shm ] && echo shm-ok'
  assert_success
  assert_contains "$OUT" "/dev/null 1:3"
  assert_contains "$OUT" "/dev/zero 1:5"
  assert_contains "$OUT" "/dev/full 1:7"
  assert_contains "$OUT" "/dev/random 1:8"
  assert_contains "$OUT" "/dev/urandom 1:9"
  assert_contains "$OUT" "/dev/tty 5:0"
  assert_match "$OUT" '^8$' "read /dev/zero"
  assert_contains "$OUT" null-ok
  assert_contains "$OUT" full-enospc
  assert_contains "$OUT" "/proc/self/fd"
  assert_contains "$OUT" "/proc/self/fd/0"
  assert_contains "$OUT" shm-ok
  # devices not in the list are not there and cannot be created
  run_in c -- sh -c 'ls /dev; mknod /dev/sdz b 8 0 2>&1; echo rc=$?'
  assert_contains "$OUT" "rc=1" "mknod of a block device"
  assert_no_match "$OUT" '^(sda|vda|kmsg|mem)$' "host devices visible"
}

test_dev_pts() {
  run_in b -- sh -c 'grep " /dev/pts " /proc/self/mountinfo; stat -c "%F" /dev/ptmx; ls -d /dev/pts/ptmx'
  assert_success
  assert_match "$OUT" ' /dev/pts .* - devpts ' "/dev/pts is devpts"
  assert_match "$OUT" 'newinstance|ptmxmode' "devpts is a new instance"
  assert_match "$OUT" '^(character special file|symbolic link)$' "/dev/ptmx"
  assert_contains "$OUT" /dev/pts/ptmx
}

test_sysctl() {
  local before
  before=$(cat /proc/sys/net/ipv4/ip_forward)
  run_in b -x '.linux.sysctl = {"net.ipv4.ip_forward": "1", "kernel.shm_rmid_forced": "1"}' -- \
    cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shm_rmid_forced
  assert_success
  assert_eq "1
1" "$OUT"
  assert_eq "$before" "$(cat /proc/sys/net/ipv4/ip_forward)" "host ip_forward changed"
  # a sysctl outside the container's namespaces must be refused
  mkbundle -x '.linux.sysctl = {"kernel.panic": "5"}' "$T/bad" -- true
  cap rt run -b "$T/bad" "$(bid "$T/bad")"
  [ "$RC" -ne 0 ] || fail "a host-wide sysctl (kernel.panic) was accepted"
}

test_personality() {
  need_helpers sysprobe
  run_in b -H -x '.linux.personality = {domain: "LINUX32"}' -- sh -c 'uname -m; sysprobe personality'
  assert_success
  assert_eq i686 "$(printf '%s\n' "$OUT" | sed -n 1p)" "uname -m under LINUX32"
  assert_contains "$OUT" "personality=0x8"
  run_in c -H -x '.linux.personality = {domain: "LINUX"}' -- uname -m
  assert_eq x86_64 "$OUT"
}

test_scheduling() {
  # SCHED_BATCH (policy 3) with nice 5, I/O class idle, CPU affinity 0
  run_in b -x '.process.scheduler = {policy: "SCHED_BATCH", nice: 5}
      | .process.ioPriority = {class: "IOPRIO_CLASS_IDLE", priority: 0}
      | .process.execCPUAffinity = {initial: "0", final: "0"}' -- \
    sh -c 'cut -d" " -f41 /proc/$$/stat; cut -d" " -f19 /proc/$$/stat; ionice -p $$; grep Cpus_allowed_list /proc/$$/status'
  assert_success
  assert_eq 3 "$(printf '%s\n' "$OUT" | sed -n 1p)" "scheduling policy SCHED_BATCH"
  assert_eq 5 "$(printf '%s\n' "$OUT" | sed -n 2p)" "nice value"
  assert_contains "$OUT" "idle" "I/O priority class"
  assert_match "$OUT" 'Cpus_allowed_list:[[:space:]]+0$' "final CPU affinity"
  run_in c -x '.process.scheduler = {policy: "SCHED_NOPE"}' -- true
  assert_ne 0 "$RC" "unknown scheduling policy must fail"
  assert_contains "$OUT" "SCHED_NOPE"
}

SECCOMP_ARCHES='["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]'

test_seccomp_errno() {
  run_in b -x ".linux.seccomp = {defaultAction: \"SCMP_ACT_ALLOW\", architectures: $SECCOMP_ARCHES,
      syscalls: [{names: [\"mkdir\", \"mkdirat\"], action: \"SCMP_ACT_ERRNO\", errnoRet: 1}]}" -- \
    sh -c 'mkdir /tmp/x 2>&1; echo rc=$?; touch /tmp/y && echo touch-ok; grep ^Seccomp: /proc/self/status'
  assert_success
  assert_contains "$OUT" "Operation not permitted" "mkdir error"
  assert_contains "$OUT" "rc=1"
  assert_contains "$OUT" touch-ok "other syscalls allowed"
  assert_match "$OUT" '^Seccomp:[[:space:]]+2$' "seccomp filter mode"
  assert_not_exists "$T/b/rootfs/tmp/x"
  # errnoRet other than EPERM
  run_in c -x ".linux.seccomp = {defaultAction: \"SCMP_ACT_ALLOW\", architectures: $SECCOMP_ARCHES,
      syscalls: [{names: [\"mkdir\", \"mkdirat\"], action: \"SCMP_ACT_ERRNO\", errnoRet: 13}]}" -- \
    sh -c 'mkdir /tmp/x 2>&1; echo rc=$?'
  assert_contains "$OUT" "Permission denied" "errnoRet 13 gives EACCES"
}

test_seccomp_arg_rule() {
  need_helpers sysprobe
  run_in b -H -x ".linux.seccomp = {defaultAction: \"SCMP_ACT_ALLOW\", architectures: $SECCOMP_ARCHES,
      syscalls: [{names: [\"chmod\"], action: \"SCMP_ACT_ERRNO\", errnoRet: 1, args: [{index: 1, value: 511, op: \"SCMP_CMP_EQ\"}]}]}" -- \
    sh -c 'touch /tmp/f; sysprobe chmod /tmp/f 777; sysprobe chmod /tmp/f 644; stat -c %a /tmp/f'
  assert_success
  assert_match "$(printf '%s\n' "$OUT" | sed -n 1p)" '^errno=EPERM' "chmod 0777 blocked"
  assert_match "$(printf '%s\n' "$OUT" | sed -n 2p)" '^ok' "chmod 0644 allowed"
  assert_eq 644 "$(printf '%s\n' "$OUT" | sed -n 3p)"
  # default action errno with an allow list
  run_in c -H -x ".linux.seccomp = {defaultAction: \"SCMP_ACT_ALLOW\", architectures: $SECCOMP_ARCHES,
      syscalls: [{names: [\"getpriority\"], action: \"SCMP_ACT_ERRNO\", errnoRet: 38}]}" -- sysprobe getpriority
  assert_match "$OUT" 'errno=ENOSYS' "getpriority gives ENOSYS"
}

run_tests "$@"
