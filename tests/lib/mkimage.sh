#!/bin/bash
# mkimage.sh: builds image archives from Debian's static busybox, without any
# container engine (tar, jq and sha256sum only).
#
# Source it and call the functions, or run it as a command:
#   tests/lib/mkimage.sh [options] OUT.tar          (docker-archive)
#   tests/lib/mkimage.sh --oci [options] OUT.tar    (OCI image layout)
#
# mkimage [options] OUT.tar
#   Writes a docker-archive, the format of `docker save` / `docker load`:
#     manifest.json      [{"Config": "<hex>.json", "RepoTags": [...],
#                          "Layers": ["<hex>/layer.tar", ...]}]
#     <hex>.json         the image config; <hex> = sha256 of the file
#     <hex>/layer.tar    one folder per layer (<hex> = sha256 of the layer
#                        file), with the legacy VERSION and json files
#     repositories       {"name": {"tag": "<top layer folder>"}} (tagged only)
#   Layer 1 is a busybox root file system: bin/busybox, a symlink per applet,
#   sbin, usr/bin, usr/sbin -> bin, etc/passwd, etc/group, etc/hosts, empty
#   proc sys dev tmp root home/user mnt var/tmp. The config has
#   Env [PATH=...], Cmd ["sh"], architecture/os of this machine, created,
#   one history entry per layer plus an empty_layer entry for the CMD, and
#   rootfs.diff_ids = sha256 of each uncompressed layer tar.
# Options:
#   -t NAME:TAG    tag (repeatable; none: an untagged image, RepoTags null)
#   -l DIR         an extra layer made from the contents of DIR (repeatable,
#                  bottom first)
#   -L TAR         an extra layer taken as is from a tar file (repeatable;
#                  -l and -L layers keep their command-line order)
#   -z             gzip the layer files (diff_ids stay the uncompressed sums)
#   -c DATE        created date (RFC 3339; default: now, with nanoseconds, so
#                  that two calls give two different image ids)
#   -x JQ-EXPR     edit the config with jq before it is written (repeatable;
#                  e.g. -x '.config.Cmd = ["true"]')
#   -m JQ-EXPR     edit manifest.json with jq before it is written
#   -n             no base layer (only the -l/-L layers)
#   -K DIR         keep the archive's folder tree in DIR instead of a temp
#                  folder (to corrupt it and tar it again: mkimage_pack)
# Prints nothing; sets MKIMAGE_ID (sha256:<config hex>), MKIMAGE_DIFF_IDS
# (array) and MKIMAGE_CONFIG (config file name in the archive).
#
# mkimage_oci [options] OUT.tar
#   Writes an OCI image layout archive: oci-layout, index.json (one manifest,
#   annotated with org.opencontainers.image.ref.name = TAG and
#   io.containerd.image.name = the full reference), blobs/sha256/<hex> for
#   the manifest, the config and the layers (media types
#   application/vnd.oci.image.*; layers tar or tar+gzip with -z).
#   Same options as mkimage (one -t at most), plus:
#   -D             also write a manifest.json (Config/Layers pointing into
#                  blobs/sha256), as `docker save` of Docker 25+ does; such an
#                  archive loads into older engines (Docker 20.10) too
#
# mkimage_rootfs_tar OUT.tar: the busybox root file system as one plain tar
#   (for `docker import`).
# mkimage_pack DIR OUT.tar: tars an archive folder tree (from -K) again.
# mkimage_rawtar OUT.tar ENTRY...: writes a ustar archive entry by entry,
#   exactly as given (no name cleaning: for hostile archives). Entries:
#     f NAME CONTENT      regular file (CONTENT "@PATH": the file at PATH)
#     d NAME              folder
#     l NAME TARGET       symbolic link
#     h NAME TARGET       hard link
#     c NAME MAJOR MINOR  character device;  b NAME MAJOR MINOR  block device
#     p NAME              FIFO
#   Names and targets up to 100 bytes. Modes: 0644 files, 0755 folders.

BUSYBOX=${BUSYBOX:-/bin/busybox}
MKIMAGE_PATH_ENV="PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

_mki_arch() {
  case "$(uname -m)" in
    x86_64) echo amd64 ;; aarch64) echo arm64 ;; armv7l|armv6l) echo arm ;;
    i?86) echo 386 ;; ppc64le) echo ppc64le ;; s390x) echo s390x ;; riscv64) echo riscv64 ;;
    *) uname -m ;;
  esac
}

_mki_sha() { sha256sum "$1" | cut -d' ' -f1; }

# deterministic tar of a folder's contents (names without "./")
_mki_tar_dir() { # DIR OUT
  local dir=$1 out=$2
  local -a names=()
  mapfile -t names < <(cd "$dir" && LC_ALL=C ls -A)
  if [ ${#names[@]} -eq 0 ]; then
    tar -cf "$out" -T /dev/null
  else
    tar -C "$dir" --sort=name --mtime=@1700000000 --numeric-owner --format=posix \
      --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
      -cf "$out" -- "${names[@]}"
  fi
}

_mki_cache_dir() {
  local base=${SUITE_TMP:-${TMPDIR:-/tmp}}
  if [ -n "${SUITE_TMP:-}" ]; then printf '%s/.mkimage' "$base"; else printf '%s/.berth-mkimage-%s' "$base" "$(id -u)"; fi
}

# the busybox root file system, built once per suite run
_mki_rootfs() {
  local c tmp
  c=$(_mki_cache_dir)
  if [ ! -x "$c/rootfs/bin/busybox" ]; then
    mkdir -p "$c" || return 1
    tmp=$(mktemp -d "$c/.rootfs.XXXXXX") || return 1
    chmod 0755 "$tmp"
    mkdir -p "$tmp"/{bin,etc,proc,sys,dev,tmp,root,home/user,mnt,var/tmp,usr}
    chmod 1777 "$tmp/tmp" "$tmp/var/tmp"
    chmod 0700 "$tmp/root"
    chown 1000:1000 "$tmp/home/user"
    cp "$BUSYBOX" "$tmp/bin/busybox" || return 1
    chmod 0755 "$tmp/bin/busybox"
    # one symlink per applet (perl: one process instead of ~400 `ln`)
    perl -e 'chdir shift or die; for (@ARGV) { next if $_ eq "busybox"; symlink("busybox", $_) or die "$_: $!" }' \
      "$tmp/bin" $("$BUSYBOX" --list) || return 1
    ln -s bin "$tmp/sbin"
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
nogroup:x:65534:
EOF
    echo "127.0.0.1 localhost" > "$tmp/etc/hosts"
    find "$tmp" -exec touch -h -d @1700000000 {} +
    mkdir -p "$c/rootfs.d"
    if [ -x "$c/rootfs/bin/busybox" ]; then rm -rf "$tmp"
    else rm -rf "$c/rootfs"; mv -T "$tmp" "$c/rootfs" 2>/dev/null || rm -rf "$tmp"; fi
  fi
  printf '%s/rootfs' "$c"
}

# the base layer tar (cached)
_mki_base_layer() {
  local c rootfs tmp
  c=$(_mki_cache_dir)
  if [ ! -s "$c/base-layer.tar" ]; then
    rootfs=$(_mki_rootfs) || return 1
    tmp=$(mktemp "$c/.base.XXXXXX") || return 1
    _mki_tar_dir "$rootfs" "$tmp" || { rm -f "$tmp"; return 1; }
    chmod 0644 "$tmp"; mv -f "$tmp" "$c/base-layer.tar"
  fi
  printf '%s/base-layer.tar' "$c"
}

mkimage_rootfs_tar() {
  local out=${1:?usage: mkimage_rootfs_tar OUT.tar} base
  base=$(_mki_base_layer) || return 1
  cp "$base" "$out"
}

mkimage_rawtar() { # OUT.tar ENTRY...
  local out=${1:?usage: mkimage_rawtar OUT.tar ENTRY...}; shift
  perl -e '
    use strict; use warnings;
    my $out = shift @ARGV;
    open(my $fh, ">", $out) or die "mkimage_rawtar: $out: $!\n";
    binmode $fh;
    sub hdr {
      my ($name, $mode, $size, $type, $link, $maj, $min) = @_;
      die "mkimage_rawtar: name too long: $name\n" if length($name) > 100;
      die "mkimage_rawtar: link too long: $link\n" if length($link) > 100;
      my $h = pack("a100 a8 a8 a8 a12 a12 a8 a1 a100 a6 a2 a32 a32 a8 a8 a155 a12",
        $name, sprintf("%07o", $mode), sprintf("%07o", 0), sprintf("%07o", 0),
        sprintf("%011o", $size), sprintf("%011o", 1700000000), " " x 8, $type, $link,
        "ustar", "00", "root", "root", sprintf("%07o", $maj), sprintf("%07o", $min), "", "");
      my $sum = unpack("%32C*", $h);
      substr($h, 148, 8) = sprintf("%06o", $sum) . "\0 ";
      return $h;
    }
    while (@ARGV) {
      my $t = shift @ARGV; my $name = shift @ARGV;
      defined $name or die "mkimage_rawtar: entry $t without a name\n";
      if ($t eq "f") {
        my $c = shift @ARGV; defined $c or die "mkimage_rawtar: f $name: no content\n";
        if ($c =~ /^@(.*)$/s) { open(my $in, "<", $1) or die "mkimage_rawtar: $1: $!\n"; binmode $in; local $/; $c = <$in>; $c = "" unless defined $c; }
        print $fh hdr($name, 0644, length($c), "0", "", 0, 0), $c, "\0" x ((512 - length($c) % 512) % 512);
      } elsif ($t eq "d") { print $fh hdr($name, 0755, 0, "5", "", 0, 0);
      } elsif ($t eq "l" || $t eq "h") {
        my $target = shift @ARGV; defined $target or die "mkimage_rawtar: $t $name: no target\n";
        print $fh hdr($name, 0777, 0, $t eq "l" ? "2" : "1", $target, 0, 0);
      } elsif ($t eq "c" || $t eq "b") {
        my ($maj, $min) = (shift @ARGV, shift @ARGV); defined $min or die "mkimage_rawtar: $t $name: major minor\n";
        print $fh hdr($name, 0666, 0, $t eq "c" ? "3" : "4", "", $maj, $min);
      } elsif ($t eq "p") { print $fh hdr($name, 0644, 0, "6", "", 0, 0);
      } else { die "mkimage_rawtar: unknown entry type $t\n"; }
    }
    print $fh "\0" x 1024;
    close($fh) or die "mkimage_rawtar: $out: $!\n";
  ' "$out" "$@"
}

mkimage_pack() { # DIR OUT.tar
  local dir=${1:?usage: mkimage_pack DIR OUT.tar} out=${2:?usage: mkimage_pack DIR OUT.tar}
  local -a names=()
  mapfile -t names < <(cd "$dir" && LC_ALL=C ls -A)
  tar -C "$dir" --sort=name --numeric-owner -cf "$out" -- "${names[@]}"
}

# _mki_build FORMAT OUT ARGS...: the common part of mkimage / mkimage_oci
_mki_build() {
  local format=$1; shift
  local OPTIND=1 opt gz=0 created="" nobase=0 keep="" dockerman=0 mexpr='.'
  local -a tags=() layers=() xexprs=()
  while getopts "t:l:L:zc:x:m:nK:D" opt; do
    case $opt in
      t) tags+=("$OPTARG") ;;
      l) layers+=("dir:$OPTARG") ;;
      L) layers+=("tar:$OPTARG") ;;
      z) gz=1 ;;
      c) created=$OPTARG ;;
      x) xexprs+=("$OPTARG") ;;
      m) mexpr=$OPTARG ;;
      n) nobase=1 ;;
      K) keep=$OPTARG ;;
      D) dockerman=1 ;;
      *) echo "mkimage: bad option" >&2; return 2 ;;
    esac
  done
  shift $((OPTIND - 1))
  local out=${1:?usage: mkimage [-t name:tag]... [-l dir]... [-L tar]... [-z] [-c date] [-x jq] OUT.tar}
  case $out in /*) ;; *) out=$PWD/$out ;; esac
  [ "$format" = docker ] || [ ${#tags[@]} -le 1 ] || { echo "mkimage_oci: one -t at most" >&2; return 2; }
  [ -n "$created" ] || created=$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)

  local work
  if [ -n "$keep" ]; then
    rm -rf "$keep"; mkdir -p "$keep" || return 1; work=$keep
  else
    work=$(mktemp -d "${SUITE_TMP:-${TMPDIR:-/tmp}}/.mkimage-work.XXXXXX") || return 1
  fi
  local stage=$work.stage
  rm -rf "$stage"; mkdir -p "$stage" || return 1

  # 1. the layer tars (uncompressed) with their diff ids
  local -a ltars=() lcomment=()
  local base
  if [ $nobase = 0 ]; then
    base=$(_mki_base_layer) || { rm -rf "$stage"; return 1; }
    ltars+=("$base")
    lcomment+=("ADD busybox rootfs in / ")
  fi
  local l i=0
  for l in "${layers[@]}"; do
    i=$((i + 1))
    case $l in
      dir:*) _mki_tar_dir "${l#dir:}" "$stage/extra$i.tar" || { rm -rf "$stage"; return 1; }
             ltars+=("$stage/extra$i.tar"); lcomment+=("COPY ${l#dir:} / ") ;;
      tar:*) ltars+=("${l#tar:}"); lcomment+=("ADD $(basename "${l#tar:}") / ") ;;
    esac
  done
  [ ${#ltars[@]} -gt 0 ] || { echo "mkimage: no layers" >&2; rm -rf "$stage"; return 1; }

  local -a diffids=() blobhex=() blobsize=()
  local t d f hex
  for i in "${!ltars[@]}"; do
    t=${ltars[$i]}
    [ -f "$t" ] || { echo "mkimage: layer $t missing" >&2; rm -rf "$stage"; return 1; }
    d=$(_mki_sha "$t")
    diffids+=("sha256:$d")
    if [ $gz = 1 ]; then
      f=$stage/layer$i.gz
      gzip -n -c "$t" > "$f"
    else
      f=$t
    fi
    hex=$(_mki_sha "$f")
    blobhex+=("$hex")
    blobsize+=("$(stat -c %s "$f")")
    if [ "$format" = docker ]; then
      mkdir -p "$work/$hex"
      if [ $gz = 1 ]; then cp "$f" "$work/$hex/layer.tar.gz"; else cp "$f" "$work/$hex/layer.tar"; fi
      printf '1.0' > "$work/$hex/VERSION"
      printf '{"id":"%s","created":"%s"}' "$hex" "$created" > "$work/$hex/json"
    else
      mkdir -p "$work/blobs/sha256"
      cp "$f" "$work/blobs/sha256/$hex"
    fi
  done

  # 2. the config
  local diffjson comments cfg xe
  diffjson=$(printf '%s\n' "${diffids[@]}" | jq -R . | jq -cs .)
  comments=$(printf '%s\n' "${lcomment[@]}" | jq -R . | jq -cs .)
  local filter='{
      architecture: $arch, os: "linux", created: $created,
      config: {Env: [$path], Cmd: ["sh"]},
      rootfs: {type: "layers", diff_ids: $diffids},
      history: ([$comments[] | {created: $created, created_by: ("/bin/sh -c #(nop) " + .)}]
                + [{created: $created, created_by: "/bin/sh -c #(nop)  CMD [\"sh\"]", empty_layer: true}])
    }'
  for xe in "${xexprs[@]}"; do filter="$filter | ($xe)"; done
  cfg=$(jq -cn --arg arch "$(_mki_arch)" --arg created "$created" --arg path "$MKIMAGE_PATH_ENV" \
          --argjson diffids "$diffjson" --argjson comments "$comments" "$filter") ||
    { echo "mkimage: config jq failed" >&2; rm -rf "$stage"; return 1; }
  printf '%s' "$cfg" > "$stage/config.json"
  local chex csize
  chex=$(_mki_sha "$stage/config.json")
  csize=$(stat -c %s "$stage/config.json")
  MKIMAGE_ID=sha256:$chex
  MKIMAGE_DIFF_IDS=("${diffids[@]}")

  local tagsjson
  if [ ${#tags[@]} -gt 0 ]; then
    tagsjson=$(printf '%s\n' "${tags[@]}" | jq -R . | jq -cs .)
  else
    tagsjson=null
  fi

  if [ "$format" = docker ]; then
    MKIMAGE_CONFIG=$chex.json
    cp "$stage/config.json" "$work/$chex.json"
    local layerpaths
    layerpaths=$(for i in "${!blobhex[@]}"; do
                   if [ $gz = 1 ]; then echo "${blobhex[$i]}/layer.tar.gz"; else echo "${blobhex[$i]}/layer.tar"; fi
                 done | jq -R . | jq -cs .)
    jq -cn --arg cfg "$chex.json" --argjson tags "$tagsjson" --argjson layers "$layerpaths" \
      "[{Config: \$cfg, RepoTags: \$tags, Layers: \$layers}] | ($mexpr)" > "$work/manifest.json" ||
      { echo "mkimage: manifest jq failed" >&2; rm -rf "$stage"; return 1; }
    if [ ${#tags[@]} -gt 0 ]; then
      local top=${blobhex[$(( ${#blobhex[@]} - 1 ))]}
      printf '%s\n' "${tags[@]}" | jq -R . | jq -cs --arg top "$top" '
        reduce .[] as $t ({}; ($t | capture("^(?<n>.+):(?<t>[^:/]+)$")) as $m | .[$m.n][$m.t] = $top)' \
        > "$work/repositories"
    fi
  else
    MKIMAGE_CONFIG=blobs/sha256/$chex
    cp "$stage/config.json" "$work/blobs/sha256/$chex"
    local ltype=application/vnd.oci.image.layer.v1.tar
    [ $gz = 0 ] || ltype=$ltype+gzip
    local layersjson man mhex msize
    layersjson=$(for i in "${!blobhex[@]}"; do
                   jq -cn --arg t "$ltype" --arg d "sha256:${blobhex[$i]}" --argjson s "${blobsize[$i]}" \
                     '{mediaType: $t, digest: $d, size: $s}'
                 done | jq -cs .)
    man=$(jq -cn --arg cd "sha256:$chex" --argjson cs "$csize" --argjson layers "$layersjson" '{
        schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
        config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $cd, size: $cs},
        layers: $layers}')
    printf '%s' "$man" > "$stage/manifest"
    mhex=$(_mki_sha "$stage/manifest")
    msize=$(stat -c %s "$stage/manifest")
    cp "$stage/manifest" "$work/blobs/sha256/$mhex"
    MKIMAGE_MANIFEST_DIGEST=sha256:$mhex
    printf '{"imageLayoutVersion":"1.0.0"}' > "$work/oci-layout"
    local ref="" tag="" full=""
    if [ ${#tags[@]} -gt 0 ]; then
      ref=${tags[0]}
      tag=${ref##*:}
      full=$ref
      # io.containerd.image.name carries the full, normalized name
      case ${ref%%/*} in
        *.*|*:*|localhost) [ "${ref%%/*}" != "$ref" ] || full=docker.io/library/$ref ;;
        *) if [ "${ref#*/}" = "$ref" ]; then full=docker.io/library/$ref; else full=docker.io/$ref; fi ;;
      esac
    fi
    jq -cn --arg md "sha256:$mhex" --argjson ms "$msize" --arg tag "$tag" --arg full "$full" '{
        schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json",
        manifests: [{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $md, size: $ms}
          + (if $tag != "" then {annotations: {"io.containerd.image.name": $full,
                                               "org.opencontainers.image.ref.name": $tag}} else {} end)]}' \
      > "$work/index.json"
    if [ $dockerman = 1 ]; then
      local layerpaths
      layerpaths=$(printf 'blobs/sha256/%s\n' "${blobhex[@]}" | jq -R . | jq -cs .)
      jq -cn --arg cfg "blobs/sha256/$chex" --argjson tags "$tagsjson" --argjson layers "$layerpaths" \
        "[{Config: \$cfg, RepoTags: \$tags, Layers: \$layers}] | ($mexpr)" > "$work/manifest.json"
    fi
  fi
  rm -rf "$stage"
  mkimage_pack "$work" "$out" || { [ -n "$keep" ] || rm -rf "$work"; return 1; }
  [ -n "$keep" ] || rm -rf "$work"
  return 0
}

mkimage() { _mki_build docker "$@"; }
mkimage_oci() { _mki_build oci "$@"; }

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -e
  if [ "${1:-}" = --oci ]; then shift; mkimage_oci "$@"; else mkimage "$@"; fi
  echo "$MKIMAGE_ID"
fi
