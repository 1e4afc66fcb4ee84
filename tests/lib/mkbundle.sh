#!/bin/bash
# mkbundle.sh: makes an OCI bundle from Debian's static busybox.
#
# Source it and call the functions, or run it as a command:
#   tests/lib/mkbundle.sh [options] DIR [-- ARGS...]
#
# mkbundle [options] DIR [-- ARGS...]
#   DIR/rootfs gets bin/busybox (a copy of /bin/busybox) and a symlink for
#   every applet in bin/, /etc/passwd and /etc/group (root, user 1000:1000,
#   nobody 65534), /etc/hostname-less, empty /proc /sys /dev /tmp (1777) /root
#   /home/user /mnt; DIR/config.json comes from `$SPEC_RUNTIME spec` (default
#   $RUNTIME), edited with jq: process.args = ARGS (default: ["true"]),
#   process.terminal = false, root.readonly = false, and
#   linux.cgroupsPath = /berth-test/NAME (NAME: -c, else $TEST_TAG-basename(DIR)
#   when TEST_TAG is set; left unset with -C).
# Options:
#   -x JQ-EXPR     apply a jq filter to config.json (repeatable, in order;
#                  use $T/$ROOT etc. through --arg: see -a)
#   -a NAME=VALUE  define $NAME for the jq filters (string, repeatable)
#   -j NAME=JSON   define $NAME for the jq filters (JSON value, repeatable)
#   -H             copy the static test helpers (build/tests/helpers/*) into
#                  rootfs/bin (see bundle_add_helpers)
#   -c NAME        cgroup name (linux.cgroupsPath = /berth-test/NAME)
#   -C             do not set linux.cgroupsPath
#   -r             rootless spec (`spec --rootless`)
#   -s HOSTDIR     bind-mount HOSTDIR (created if missing) read-write at
#                  /shared in the container
#
# bundle_add_helpers DIR [NAMES...]: copies the static helpers (all, or the
# named ones) from $HELPERS_DIR (default build/tests/helpers) into
# DIR/rootfs/bin.
# bundle_jq DIR JQ-EXPR [jq options...]: edits DIR/config.json in place.

_MKB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${HELPERS_DIR:=$(cd "$_MKB_DIR/../.." && pwd)/build/tests/helpers}"
BUSYBOX=${BUSYBOX:-/bin/busybox}

# A template rootfs is built once per process tree (per suite run) and
# copied with cp -a, which is much faster than 270 `ln` calls per bundle.
_mkb_template() {
  local base=${SUITE_TMP:-${TMPDIR:-/tmp}} tpl
  if [ -n "${SUITE_TMP:-}" ]; then tpl=$base/.rootfs-template; else tpl=$base/.berth-rootfs-template; fi
  if [ ! -x "$tpl/bin/busybox" ]; then
    local tmp
    tmp=$(mktemp -d "$base/.rootfs-tpl.XXXXXX") || return 1
    chmod 0755 "$tmp"
    mkdir -p "$tmp"/{bin,etc,proc,sys,dev,tmp,root,home/user,mnt,var/tmp}
    chmod 1777 "$tmp/tmp" "$tmp/var/tmp"
    chmod 0700 "$tmp/root"
    chown 1000:1000 "$tmp/home/user"
    cp "$BUSYBOX" "$tmp/bin/busybox" || return 1
    # one symlink per applet (perl: one process instead of ~270 `ln`)
    perl -e 'chdir shift or die; for (@ARGV) { next if $_ eq "busybox"; symlink("busybox", $_) or die "$_: $!" }' \
      "$tmp/bin" $("$BUSYBOX" --list) || return 1
    ln -s bin "$tmp/sbin"
    mkdir -p "$tmp/usr"
    ln -s ../bin "$tmp/usr/bin"
    ln -s ../bin "$tmp/usr/sbin"
    cat > "$tmp/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
user:x:1000:1000:user:/home/user:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
    cat > "$tmp/etc/group" <<'EOF'
root:x:0:
user:x:1000:
extra:x:1001:user
nogroup:x:65534:
EOF
    echo "127.0.0.1 localhost" > "$tmp/etc/hosts"
    if [ -x "$tpl/bin/busybox" ]; then rm -rf "$tmp"; else mv -T "$tmp" "$tpl" 2>/dev/null || rm -rf "$tmp"; fi
  fi
  printf '%s' "$tpl"
}

bundle_add_helpers() {
  local dir=$1; shift
  local h names=("$@")
  if [ ${#names[@]} -eq 0 ]; then
    for h in "$HELPERS_DIR"/*; do [ -f "$h" ] && [ -x "$h" ] && names+=("$(basename "$h")"); done
  fi
  [ ${#names[@]} -gt 0 ] || { echo "mkbundle: no helpers in $HELPERS_DIR (build them first)" >&2; return 1; }
  for h in "${names[@]}"; do
    [ -x "$HELPERS_DIR/$h" ] || { echo "mkbundle: helper $HELPERS_DIR/$h missing" >&2; return 1; }
    cp "$HELPERS_DIR/$h" "$dir/rootfs/bin/$h" || return 1
  done
}

bundle_jq() {
  local dir=$1 expr=$2; shift 2
  jq "$@" "$expr" "$dir/config.json" > "$dir/config.json.new" && mv "$dir/config.json.new" "$dir/config.json"
}

mkbundle() {
  local OPTIND=1 opt helpers=0 cgname="" nocg=0 rootless=0 shared=""
  local -a exprs=() jqargs=()
  while getopts "x:a:j:Hc:Crs:" opt; do
    case $opt in
      x) exprs+=("$OPTARG") ;;
      a) jqargs+=(--arg "${OPTARG%%=*}" "${OPTARG#*=}") ;;
      j) jqargs+=(--argjson "${OPTARG%%=*}" "${OPTARG#*=}") ;;
      H) helpers=1 ;;
      c) cgname=$OPTARG ;;
      C) nocg=1 ;;
      r) rootless=1 ;;
      s) shared=$OPTARG ;;
      *) echo "mkbundle: bad option" >&2; return 2 ;;
    esac
  done
  shift $((OPTIND - 1))
  local dir=${1:?usage: mkbundle [options] DIR [-- ARGS...]}; shift
  [ "${1:-}" = "--" ] && shift
  local -a args=("$@")
  [ ${#args[@]} -gt 0 ] || args=(true)
  local specrt=${SPEC_RUNTIME:-${RUNTIME:?mkbundle: RUNTIME (or SPEC_RUNTIME) must be set}}
  local tpl
  tpl=$(_mkb_template) || { echo "mkbundle: cannot build the rootfs template" >&2; return 1; }
  mkdir -p "$dir" || return 1
  rm -rf "$dir/rootfs" "$dir/config.json"
  cp -a "$tpl" "$dir/rootfs" || return 1
  local specargs=()
  [ $rootless = 1 ] && specargs=(--rootless)
  (cd "$dir" && "$specrt" spec "${specargs[@]}") || { echo "mkbundle: '$specrt spec' failed" >&2; return 1; }
  [ -s "$dir/config.json" ] || { echo "mkbundle: '$specrt spec' wrote no config.json" >&2; return 1; }
  if [ $nocg = 0 ] && [ -z "$cgname" ] && [ -n "${TEST_TAG:-}" ]; then
    cgname="$TEST_TAG-$(basename "$dir")"
  fi
  # all edits in one jq run (jq takes ~0.1 s to start here)
  local -a named=()
  local i filter
  for i in "${!args[@]}"; do named+=(--arg "mkb_arg_$i" "${args[$i]}"); done
  filter='.process.args = ([$ARGS.named | to_entries[] | select(.key | startswith("mkb_arg_"))
        | {k: (.key | ltrimstr("mkb_arg_") | tonumber), v: .value}] | sort_by(.k) | map(.v))
    | .process.terminal = false | .root.readonly = false
    | if $mkb_cg != "" then .linux.cgroupsPath = "/berth-test/" + $mkb_cg else . end
    | if $mkb_shared != "" then .mounts += [{"destination": "/shared", "type": "bind", "source": $mkb_shared, "options": ["rbind", "rw"]}] else . end'
  if [ -n "$shared" ]; then
    mkdir -p "$shared" && shared=$(cd "$shared" && pwd) || return 1
  fi
  local e
  for e in "${exprs[@]}"; do filter="$filter | ($e)"; done
  bundle_jq "$dir" "$filter" "${named[@]}" --arg mkb_cg "$cgname" --arg mkb_shared "$shared" "${jqargs[@]}" ||
    { echo "mkbundle: jq edit failed: $filter" >&2; return 1; }
  if [ $helpers = 1 ]; then
    bundle_add_helpers "$dir" || return 1
  fi
  return 0
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -e
  mkbundle "$@"
fi
