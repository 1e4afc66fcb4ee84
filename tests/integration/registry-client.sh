#!/bin/bash
# registry-client: the daemon as a registry client, through the docker CLI:
# docker push / pull / login / logout against berth-registry (no auth,
# basic, token) and Debian's docker-registry; layers written by skopeo
# (gzip, zstd, uncompressed); pull by digest, by platform from an index,
# --all-tags; the JSON progress stream; bad input (unknown names, a corrupt
# blob, a registry killed mid-pull: an error, nothing stored, a retry that
# works).  DAEMON=dockerd runs the same tests against Debian's dockerd.
# Each test runs a registry of its own (reg_start: a loopback port, which
# both daemons treat as an insecure registry: plain HTTP).
. "$(dirname "$0")/../lib/testlib.sh"
. "$(dirname "$0")/../lib/daemonlib.sh"
. "$(dirname "$0")/../lib/registrylib.sh"

export TEST_TIMEOUT=${REGISTRY_CLIENT_TIMEOUT:-180}
sk() { timeout -k 5 120 skopeo --insecure-policy "$@"; }
need_skopeo() { command -v skopeo >/dev/null || fail "skopeo is not installed (scripts/deps.sh)"; }

# load_image NAME [mkimage options]: a busybox image with an extra layer
# of random data (file /data/random.bin, its sum in $T/random.sum), loaded
# into the daemon as NAME.
load_image() {
  local name=$1; shift
  mkdir -p "$T/extra/data"; head -c 3000000 /dev/urandom > "$T/extra/data/random.bin"
  sha256sum < "$T/extra/data/random.bin" | cut -d' ' -f1 > "$T/random.sum"
  mkimage -t "$name" -l "$T/extra" "$@" "$T/load.tar"
  assert_ok dk load -i "$T/load.tar"
}

# ran_sum IMAGE [DOCKER_HOST]: the sum of /data/random.bin inside a container
ran_sum() {
  local h=${2:-$DOCKER_HOST}
  DOCKER_HOST=$h dk run --rm "$1" sha256sum /data/random.bin | cut -d' ' -f1
}

# fresh daemon for pulls: $T/d2, DOCKER_HOST of it in $D2
fresh_daemon() {
  daemon_start "$T/d2"
  defer "daemon_stop '$T/d2'"
  D2=$DAEMON2_HOST
}
dk2() { DOCKER_HOST=$D2 DOCKER_CONFIG=$T/d2/cli dk "$@"; }

image_id() { dk image inspect -f '{{.Id}}' "$1"; }

test_push_pull_roundtrip() {
  reg_start "$T/r"; defer "reg_stop '$T/r'"
  local img empty; img=$R_ADDR/$(img_name):v1
  empty=$(store_state)
  load_image "$img"
  local id; id=$(image_id "$img")
  assert_ok dk push "$img"
  assert_contains "$OUT" "The push refers to repository [$R_ADDR/$(img_name)]"
  assert_match "$OUT" "v1: digest: sha256:[0-9a-f]{64} size: [0-9]+"
  assert_match "$OUT" "Pushed"
  local pushed; pushed=$(grep -oE 'sha256:[0-9a-f]{64}' <<<"$OUT" | tail -1)
  # a second push finds everything there and sends the same manifest
  assert_ok dk push "$img"
  assert_match "$OUT" "Layer already exists"
  assert_not_contains "$OUT" "Pushed"
  assert_contains "$OUT" "v1: digest: $pushed"
  # rmi removes what the push added to the store (the compressed layers)
  assert_ok dk rmi "$img"
  assert_eq "$empty" "$(store_state)" "the store after rmi"
  assert_ok dk load -i "$T/load.tar"
  # the registry has what the CLI says
  req GET "http://$R_ADDR/v2/$(img_name)/manifests/v1" -H 'Accept: application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json'
  assert_status 200
  assert_eq "$pushed" "$(hdr Docker-Content-Digest)" "manifest digest"
  assert_json "$HTTP_BODY" --arg id "$id" '.config.digest == $id and (.layers | length == 2) and (.layers | all(.mediaType | test("gzip")))' "gzip layers and the config"
  # a fresh daemon pulls it back: same image, same content
  fresh_daemon
  DOCKER_HOST=$D2 assert_ok dk pull "$img"
  assert_contains "$OUT" "v1: Pulling from $(img_name)"
  assert_contains "$OUT" "Digest: $pushed"
  assert_contains "$OUT" "Status: Downloaded newer image for $img"
  assert_eq "$id" "$(DOCKER_HOST=$D2 dk image inspect -f '{{.Id}}' "$img")" "image id after the round trip"
  assert_eq "$R_ADDR/$(img_name)@$pushed" "$(DOCKER_HOST=$D2 dk image inspect -f '{{index .RepoDigests 0}}' "$img")" "RepoDigests"
  assert_eq "$(cat "$T/random.sum")" "$(ran_sum "$img" "$D2")" "file content in a container"
  # again: nothing to do
  DOCKER_HOST=$D2 assert_ok dk pull "$img"
  assert_contains "$OUT" "Status: Image is up to date for $img"
  # the pulled image pushes to another repository by mounting its blobs
  DOCKER_HOST=$D2 assert_ok dk tag "$img" "$R_ADDR/$(img_name other):v1"
  DOCKER_HOST=$D2 assert_ok dk push "$R_ADDR/$(img_name other):v1"
  assert_match "$OUT" "Mounted from $(img_name)|Layer already exists"
  assert_contains "$OUT" "v1: digest: $pushed"
}

# The JSON progress lines, as the CLI reads them.
test_progress_stream() {
  reg_start "$T/r"; defer "reg_stop '$T/r'"
  local img; img=$R_ADDR/$(img_name):p
  load_image "$img"
  assert_ok dk push "$img"
  fresh_daemon
  local sock=${D2#unix://}
  pull_api() { curl -sS --unix-socket "$sock" -X POST -o "$T/body" -w '%{http_code}' "http://d/images/create?fromImage=$R_ADDR/$(img_name)&tag=p"; }
  local status; status=$(pull_api)
  assert_eq 200 "$status" "pull status: $(cat "$T/body")"
  local s; s=$(jq -s -c '.' < "$T/body") || fail "not JSON lines: $(cat "$T/body")"
  assert_json "$s" '.[0].status == "Pulling from '"$(img_name)"'" and .[0].id == "p"' "first line"
  assert_json "$s" '[.[] | select(.status == "Pulling fs layer")] | length == 2' "one 'Pulling fs layer' per layer"
  assert_json "$s" '[.[] | select(.status == "Downloading") | .progressDetail | (.current > 0 and .total > 0)] | all and length > 0' "Downloading with current/total"
  local id
  for id in $(jq -r '.[] | select(.status == "Pulling fs layer") | .id' <<<"$s"); do
    assert_match "$id" '^[0-9a-f]{12}$' "layer id"
    assert_json "$s" --arg id "$id" '[.[] | select(.id == $id) | .status] as $st | ($st | index("Download complete")) != null and ($st | index("Pull complete")) > ($st | index("Download complete"))' "layer $id: Download complete then Pull complete"
  done
  assert_json "$s" '[.[] | .status // ""] | any(test("^Digest: sha256:[0-9a-f]{64}$"))' "Digest line"
  assert_json "$s" '.[-1].status | test("^Status: Downloaded newer image for ")' "final status"
  # the whole image there: no layer lines, "up to date"
  assert_eq 200 "$(pull_api)"
  s=$(jq -s -c '.' < "$T/body")
  assert_json "$s" '[.[] | select(.id != null and .id != "p")] | length == 0' "no layer lines"
  assert_json "$s" '.[-1].status | test("^Status: Image is up to date for ")'
  # another image on the same base layer: that one "Already exists"
  mkimage -t "$R_ADDR/$(img_name):q" "$T/q.tar"
  assert_ok dk load -i "$T/q.tar"
  assert_ok dk push "$R_ADDR/$(img_name):q"
  status=$(curl -sS --unix-socket "$sock" -X POST -o "$T/body" -w '%{http_code}' "http://d/images/create?fromImage=$R_ADDR/$(img_name)&tag=q")
  assert_eq 200 "$status"
  s=$(jq -s -c '.' < "$T/body")
  assert_json "$s" '[.[] | select(.status == "Already exists")] | length == 1' "the base layer already exists"
  assert_json "$s" '.[-1].status | test("^Status: Downloaded newer image for ")'
}

# skopeo writes the layers: gzip, zstd or uncompressed.
test_pull_layer_formats() {
  need_skopeo
  mkdir -p "$T/extra/data"; head -c 2000000 /dev/urandom > "$T/extra/data/random.bin"
  local sum; sum=$(sha256sum < "$T/extra/data/random.bin" | cut -d' ' -f1)
  mkimage_oci -t img:v1 -l "$T/extra" "$T/oci.tar"
  # (a registry per format: skopeo would reuse the blobs it already
  # pushed to a registry in another format)
  mkdir "$T/oci"; tar -C "$T/oci" -xf "$T/oci.tar"
  local fmt
  for fmt in gzip zstd plain; do
    reg_start "$T/r-$fmt"; defer "reg_stop '$T/r-$fmt'"
    if [ "$fmt" = plain ]; then
      # skopeo always compresses for a registry: upload the layout's own
      # (uncompressed) blobs and manifest
      local m b; m=$(jq -r '.manifests[0].digest' "$T/oci/index.json")
      for b in $(jq -r '.config.digest, .layers[].digest' "$T/oci/blobs/sha256/${m#sha256:}"); do
        blob_put "$R_ADDR" "$(img_name)" "$T/oci/blobs/sha256/${b#sha256:}" >/dev/null
      done
      req PUT "http://$R_ADDR/v2/$(img_name)/manifests/$fmt" -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary "@$T/oci/blobs/sha256/${m#sha256:}"
      assert_status 201
    else
      assert_ok sk copy --dest-tls-verify=false --dest-compress --dest-compress-format "$fmt" oci:"$T/oci":v1 "docker://$R_ADDR/$(img_name):$fmt"
    fi
    assert_ok sk inspect --tls-verify=false --raw "docker://$R_ADDR/$(img_name):$fmt"
    case $fmt in
      gzip) assert_json "$OUT" '.layers | all(.mediaType | test("gzip"))' ;;
      zstd) assert_json "$OUT" '.layers | all(.mediaType | test("zstd"))' ;;
      plain) assert_json "$OUT" '.layers | all(.mediaType | test("gzip|zstd") | not)' ;;
    esac
    assert_ok dk pull "$R_ADDR/$(img_name):$fmt"
    assert_eq "$(printf '%s\n' "${MKIMAGE_DIFF_IDS[@]}")" "$(dk image inspect -f '{{range .RootFS.Layers}}{{println .}}{{end}}' "$R_ADDR/$(img_name):$fmt" | sed '/^$/d')" "$fmt: diff ids"
    assert_eq "$sum" "$(ran_sum "$R_ADDR/$(img_name):$fmt")" "$fmt: content"
  done
}

test_pull_by_digest() {
  reg_start "$T/r"; defer "reg_stop '$T/r'"
  local repo; repo=$R_ADDR/$(img_name)
  load_image "$repo:v1"
  assert_ok dk push "$repo:v1"
  local digest; digest=$(grep -oE 'sha256:[0-9a-f]{64}' <<<"$OUT" | tail -1)
  local id; id=$(image_id "$repo:v1")
  fresh_daemon
  DOCKER_HOST=$D2 assert_ok dk pull "$repo@$digest"
  assert_contains "$OUT" "Status: Downloaded newer image for $repo@$digest"
  assert_eq "$id" "$(DOCKER_HOST=$D2 dk image inspect -f '{{.Id}}' "$repo@$digest")"
  assert_eq "[]" "$(DOCKER_HOST=$D2 dk image inspect -f '{{json .RepoTags}}' "$repo@$digest")" "no tag from a digest pull"
  # a digest the registry does not have
  DOCKER_HOST=$D2 assert_fails dk pull "$repo@sha256:$(printf '%064d' 0 | tr 0 a)"
  assert_match "$OUT" "not found|unknown"
}

# An index with two platforms: the host's and a made-up arm64 one.
test_pull_platform_from_index() {
  need_skopeo
  reg_start "$T/r"; defer "reg_stop '$T/r'"
  local repo arch; repo=$(img_name)
  arch=$(dk version -f '{{.Server.Arch}}')
  [ "$arch" != arm64 ] || fail "this test assumes a host that is not arm64"
  mkimage_oci -z -t img:a "$T/a.tar"; mkdir "$T/a"; tar -C "$T/a" -xf "$T/a.tar"
  mkimage_oci -z -t img:b -x '.architecture = "arm64" | .variant = "v8"' "$T/b.tar"; mkdir "$T/b"; tar -C "$T/b" -xf "$T/b.tar"
  assert_ok sk copy --dest-tls-verify=false oci:"$T/a":a "docker://$R_ADDR/$repo:host"
  assert_ok sk copy --dest-tls-verify=false oci:"$T/b":b "docker://$R_ADDR/$repo:arm"
  local da sa db sb
  req GET "http://$R_ADDR/v2/$repo/manifests/host" -H 'Accept: application/vnd.oci.image.manifest.v1+json'
  da=$(hdr Docker-Content-Digest); sa=$(printf '%s' "$HTTP_BODY" | wc -c)
  req GET "http://$R_ADDR/v2/$repo/manifests/arm" -H 'Accept: application/vnd.oci.image.manifest.v1+json'
  db=$(hdr Docker-Content-Digest); sb=$(printf '%s' "$HTTP_BODY" | wc -c)
  jq -n -c --arg da "$da" --argjson sa "$sa" --arg db "$db" --argjson sb "$sb" --arg arch "$arch" '{schemaVersion: 2,
    mediaType: "application/vnd.oci.image.index.v1+json", manifests: [
    {mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $db, size: $sb, platform: {os: "linux", architecture: "arm64", variant: "v8"}},
    {mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $da, size: $sa, platform: {os: "linux", architecture: $arch}}]}' > "$T/index.json"
  req PUT "http://$R_ADDR/v2/$repo/manifests/multi" -H 'Content-Type: application/vnd.oci.image.index.v1+json' --data-binary "@$T/index.json"
  assert_status 201
  local index; index=$(hdr Docker-Content-Digest)
  assert_ok dk pull "$R_ADDR/$repo:multi"
  assert_contains "$OUT" "Digest: $index"
  assert_eq "$arch" "$(dk image inspect -f '{{.Architecture}}' "$R_ADDR/$repo:multi")" "default platform"
  assert_ok dk pull --platform linux/arm64 "$R_ADDR/$repo:multi"
  assert_eq "arm64" "$(dk image inspect -f '{{.Architecture}}' "$R_ADDR/$repo:multi")" "--platform linux/arm64"
  assert_fails dk pull --platform linux/s390x "$R_ADDR/$repo:multi"
  assert_match "$OUT" "no matching manifest"
}

test_pull_all_tags() {
  # Two tags per page: the client must follow the Link headers.
  reg_start "$T/r" --max-page 2; defer "reg_stop '$T/r'"
  local repo; repo=$R_ADDR/$(img_name)
  load_image "$repo:one"
  assert_ok dk tag "$repo:one" "$repo:two"
  mkimage -t "$repo:three" "$T/three.tar"; assert_ok dk load -i "$T/three.tar"
  local t; for t in one two three; do assert_ok dk push "$repo:$t"; done
  assert_contains "$(curl -sS -D - -o /dev/null "http://$R_ADDR/v2/$(img_name)/tags/list")" 'rel="next"' "the tag list is paginated"
  fresh_daemon
  DOCKER_HOST=$D2 assert_ok dk pull --all-tags "$repo"
  assert_contains "$OUT" "one: Pulling from $(img_name)"
  assert_contains "$OUT" "three: Pulling from $(img_name)"
  assert_eq "one three two" "$(DOCKER_HOST=$D2 dk images --format '{{.Tag}}' "$repo" | sort | xargs)" "every tag"
  assert_eq "$(image_id "$repo:one")" "$(DOCKER_HOST=$D2 dk image inspect -f '{{.Id}}' "$repo:two")"
  DOCKER_HOST=$D2 assert_fails dk pull --all-tags "$repo:one"
}

test_unknown_names() {
  reg_start "$T/r"; defer "reg_stop '$T/r'"
  local repo; repo=$R_ADDR/$(img_name)
  load_image "$repo:v1"
  assert_ok dk push "$repo:v1"
  assert_fails dk pull "$repo:nosuchtag"
  assert_match "$OUT" "manifest for $repo:nosuchtag not found|not found: manifest unknown"
  assert_fails dk pull "$R_ADDR/$(img_name nosuchrepo):v1"
  assert_match "$OUT" "not found|unknown|does not exist"
  assert_fails dk push "$repo:nosuchtag"
  assert_match "$OUT" "does not exist|No such image"
  # nothing answers on this port
  assert_fails dk pull "127.0.0.1:$(free_port)/x/y:v1"
  assert_daemon_answers
}

test_basic_auth_login() {
  htpasswd -Bbc "$T/htpasswd" alice s3cret 2>/dev/null || fail "htpasswd is not installed (apache2-utils)"
  reg_start "$T/r" --htpasswd "$T/htpasswd"; defer "reg_stop '$T/r'"
  local img; img=$R_ADDR/$(img_name):v1
  load_image "$img"
  assert_fails dk push "$img"
  assert_match "$OUT" "[Uu]nauthorized|authentication required|no basic auth credentials"
  assert_fails dk login -u alice -p wrong "$R_ADDR"
  assert_match "$OUT" "unauthorized|incorrect|401"
  assert_ok dk login -u alice -p s3cret "$R_ADDR"
  assert_contains "$OUT" "Login Succeeded"
  assert_ok dk push "$img"
  assert_ok dk rmi "$img"
  assert_ok dk pull "$img"
  assert_eq "$(cat "$T/random.sum")" "$(ran_sum "$img")"
  assert_ok dk logout "$R_ADDR"
  assert_ok dk rmi "$img"
  assert_fails dk pull "$img"
}

test_token_auth_login() {
  htpasswd -Bbc "$T/htpasswd" bob pa55 2>/dev/null || fail "htpasswd is not installed (apache2-utils)"
  head -c 48 /dev/urandom | base64 > "$T/key"
  reg_start "$T/r" --auth token --htpasswd "$T/htpasswd" --token-key "$T/key"; defer "reg_stop '$T/r'"
  local img; img=$R_ADDR/$(img_name):v1
  load_image "$img"
  assert_fails dk push "$img"
  assert_fails dk login -u bob -p nope "$R_ADDR"
  assert_ok dk login -u bob -p pa55 "$R_ADDR"
  assert_ok dk push "$img"
  assert_ok dk tag "$img" "$R_ADDR/$(img_name copy):v1"
  assert_ok dk push "$R_ADDR/$(img_name copy):v1"
  assert_ok dk rmi "$img" "$R_ADDR/$(img_name copy):v1"
  assert_ok dk pull "$img"
  assert_eq "$(cat "$T/random.sum")" "$(ran_sum "$img")"
  assert_ok dk logout "$R_ADDR"
  assert_ok dk rmi "$img"
  assert_fails dk pull "$img"
}

# layer folders and blobs of the daemon of DIR (berthd)
store_state() {
  is_berthd || return 0
  (cd "${1:-$DAEMON_DIR}/data/image" && ls layers/sha256 blobs/sha256 2>/dev/null | sort | md5sum)
}

test_corrupt_blob() {
  reg_start "$T/r"; defer "reg_stop '$T/r'"
  local img; img=$R_ADDR/$(img_name):v1
  load_image "$img"
  assert_ok dk push "$img"
  fresh_daemon
  local before; before=$(store_state "$T/d2")
  # flip one byte in the middle of the largest blob (the random layer)
  local blob; blob=$(find "$T/r/root/blobs" -type f -printf '%s %p\n' | sort -n | tail -1 | cut -d' ' -f2)
  cp "$blob" "$T/good"
  printf 'X' | dd of="$blob" bs=1 seek=100000 conv=notrunc 2>/dev/null
  cmp -s "$blob" "$T/good" && printf 'Y' | dd of="$blob" bs=1 seek=100000 conv=notrunc 2>/dev/null
  DOCKER_HOST=$D2 assert_fails dk pull "$img"
  assert_match "$OUT" "digest|verification failed"
  DOCKER_HOST=$D2 assert_fails dk image inspect "$img"
  assert_eq "$before" "$(store_state "$T/d2")" "nothing stored"
  cp "$T/good" "$blob"
  DOCKER_HOST=$D2 assert_ok dk pull "$img"
  assert_eq "$(cat "$T/random.sum")" "$(ran_sum "$img" "$D2")"
}

# A proxy in front of the registry that kills it once a blob answer has
# passed LIMIT bytes (the registry dying mid-pull).
start_killer_proxy() { # LISTEN-PORT REGISTRY-ADDR REGISTRY-PID LIMIT
  perl -MIO::Socket::INET -MIO::Select -e '
    my ($port, $up, $pid, $limit) = @ARGV; $SIG{CHLD} = "IGNORE";
    my $l = IO::Socket::INET->new(LocalAddr => "127.0.0.1:$port", Listen => 16, ReuseAddr => 1) or die "listen: $!";
    while (my $c = $l->accept) {
      next if fork;
      my $u = IO::Socket::INET->new(PeerAddr => $up) or exit 1;
      my $s = IO::Select->new($c, $u); my $down = 0;
      while (1) { for my $h ($s->can_read) { my $n = sysread($h, my $buf, 65536); exit 0 unless $n;
        if ($h == $u) { $down += $n; if ($down > $limit) { kill 9, $pid; exit 0 } syswrite($c, $buf) } else { syswrite($u, $buf) } } }
    }' "$@" </dev/null >/dev/null 2>&1 &
  echo $!
}

test_registry_killed_mid_pull() {
  if is_dockerd; then
    # dockerd retries a failed download with back-off for minutes: the
    # retry half of this test does not apply to it
    log "dockerd retries downloads itself: only the berthd behaviour is checked"
    return 0
  fi
  reg_start "$T/r"; defer "reg_stop '$T/r'"
  local repo
  repo=$(img_name)
  mkdir -p "$T/extra/data"; head -c 20000000 /dev/urandom > "$T/extra/data/random.bin"
  sha256sum < "$T/extra/data/random.bin" | cut -d' ' -f1 > "$T/random.sum"
  mkimage -t "$R_ADDR/$repo:v1" -l "$T/extra" "$T/load.tar"
  assert_ok dk load -i "$T/load.tar"
  assert_ok dk push "$R_ADDR/$repo:v1"
  fresh_daemon
  local port pp before; port=$(free_port)
  before=$(store_state "$T/d2")
  pp=$(start_killer_proxy "$port" "$R_ADDR" "$R_PID" 5000000); defer "kill $pp 2>/dev/null"
  wait_for 10 curl -s -o /dev/null "http://127.0.0.1:$port/v2/" || fail "proxy did not start"
  # the proxy's name for the same repository
  DOCKER_HOST=$D2 assert_fails dk pull "127.0.0.1:$port/$repo:v1"
  kill -0 "$R_PID" 2>/dev/null && fail "the registry survived the pull (the proxy did not cut it)"
  DOCKER_HOST=$D2 assert_fails dk image inspect "127.0.0.1:$port/$repo:v1"
  assert_eq "$before" "$(store_state "$T/d2")" "nothing stored"
  local left; left=$(find "$T/d2/data/image/tmp-dist" -mindepth 2 2>/dev/null | head -3)
  [ -z "$left" ] || fail "partial files left behind: $left"
  kill "$pp" 2>/dev/null
  reg_start "$T/r"   # same address and root
  pp=$(start_killer_proxy "$port" "$R_ADDR" "$R_PID" 1000000000000); defer "kill $pp 2>/dev/null"
  wait_for 10 curl -s -o /dev/null "http://127.0.0.1:$port/v2/" || fail "proxy did not start again"
  DOCKER_HOST=$D2 assert_ok dk pull "127.0.0.1:$port/$repo:v1"
  assert_eq "$(cat "$T/random.sum")" "$(ran_sum "127.0.0.1:$port/$repo:v1" "$D2")"
}

# A loopback registry that speaks TLS (self-signed): insecure, so used
# over HTTPS without checking the certificate, as dockerd does.
test_tls_loopback_registry() {
  command -v openssl >/dev/null || fail "openssl is not installed"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
    -keyout "$T/key.pem" -out "$T/cert.pem" 2>/dev/null || fail "openssl could not make a certificate"
  reg_start "$T/r" --tls-cert "$T/cert.pem" --tls-key "$T/key.pem"; defer "reg_stop '$T/r'"
  local img; img=$R_ADDR/$(img_name):v1
  load_image "$img"
  assert_ok dk push "$img"
  fresh_daemon
  DOCKER_HOST=$D2 assert_ok dk pull "$img"
  assert_eq "$(cat "$T/random.sum")" "$(ran_sum "$img" "$D2")"
}

# Debian's docker-registry (CNCF distribution 2.8) as the registry.
test_docker_registry_peer() {
  command -v docker-registry >/dev/null || fail "docker-registry is not installed (scripts/deps.sh)"
  local addr; addr=127.0.0.1:$(free_port)
  mkdir -p "$T/peer"
  printf 'version: 0.1\nlog: {level: error}\nstorage:\n  filesystem: {rootdirectory: %s}\nhttp: {addr: %s}\n' "$T/peer/data" "$addr" > "$T/peer/config.yml"
  docker-registry serve "$T/peer/config.yml" > "$T/peer/log" 2>&1 &
  local pid=$!; defer "kill $pid 2>/dev/null; wait $pid 2>/dev/null || true"
  wait_for 10 curl -sf "http://$addr/v2/" || fail "docker-registry did not start: $(tail -5 "$T/peer/log")"
  local img; img=$addr/$(img_name):v1
  load_image "$img"
  local id; id=$(image_id "$img")
  assert_ok dk push "$img"
  assert_ok dk tag "$img" "$addr/$(img_name other):v1"
  assert_ok dk push "$addr/$(img_name other):v1"
  assert_match "$OUT" "Mounted from $(img_name)|Layer already exists"
  fresh_daemon
  DOCKER_HOST=$D2 assert_ok dk pull "$img"
  assert_eq "$id" "$(DOCKER_HOST=$D2 dk image inspect -f '{{.Id}}' "$img")"
  assert_eq "$(cat "$T/random.sum")" "$(ran_sum "$img" "$D2")"
}

run_daemon_tests "$@"
