#!/bin/bash
# registry-interop: real clients against berth-registry: skopeo copies
# images in and out byte for byte, with basic auth, bearer tokens and TLS;
# and Debian's docker-registry as a peer (copies between the two).
. "$(dirname "$0")/../lib/testlib.sh"
. "$(dirname "$0")/../lib/registrylib.sh"

SKOPEO_TIMEOUT=${SKOPEO_TIMEOUT:-120}
sk() { timeout -k 5 "$SKOPEO_TIMEOUT" skopeo --insecure-policy "$@"; }

need_skopeo() { command -v skopeo >/dev/null || fail "skopeo is not installed (scripts/deps.sh)"; }

# oci_image DIR [mkimage options]: an OCI layout folder with one image
# tagged "v1" (busybox base + a random layer, gzip).
oci_image() {
  local dir=$1; shift
  mkdir -p "$T/extra"; head -c 200000 /dev/urandom > "$T/extra/random.bin"
  mkimage_oci -z -t "img:v1" -l "$T/extra" "$@" "$T/image.tar"
  mkdir -p "$dir"; tar -C "$dir" -xf "$T/image.tar"
}

# same_oci A B: the two layouts' v1 images have the same manifest digest
# and every blob of A is in B byte for byte.
same_oci() {
  local a=$1 b=$2 ma mb f
  ma=$(jq -r '.manifests[0].digest' "$a/index.json")
  mb=$(jq -r '.manifests[0].digest' "$b/index.json")
  assert_eq "$ma" "$mb" "manifest digest after the round trip"
  for f in "$a"/blobs/sha256/*; do
    cmp "$f" "$b/blobs/sha256/$(basename "$f")" || fail "blob $(basename "$f") differs or is missing"
  done
}

test_skopeo_oci_roundtrip() {
  need_skopeo
  oci_image src
  assert_ok sk copy --dest-tls-verify=false oci:src:v1 "docker://$REG/$(repo_name)/img:v1"
  assert_ok sk copy --src-tls-verify=false "docker://$REG/$(repo_name)/img:v1" oci:back:v1
  same_oci src back
  # a second push finds every blob present (HEAD) and still works
  assert_ok sk copy --dest-tls-verify=false oci:src:v1 "docker://$REG/$(repo_name)/img:v2"
  assert_ok sk inspect --tls-verify=false "docker://$REG/$(repo_name)/img:v2"
  assert_json "$OUT" '.Layers | length == 2'
  # cross-repository push mounts the blobs
  assert_ok sk copy --src-tls-verify=false --dest-tls-verify=false "docker://$REG/$(repo_name)/img:v1" "docker://$REG/$(repo_name)/other:v1"
  assert_ok sk copy --src-tls-verify=false "docker://$REG/$(repo_name)/other:v1" oci:back2:v1
  same_oci src back2
  assert_ok sk list-tags --tls-verify=false "docker://$REG/$(repo_name)/img"
  assert_json "$OUT" '.Tags | sort == ["v1","v2"]'
}

test_skopeo_docker_archive() {
  need_skopeo
  mkimage -t img:v1 "$T/image.tar"
  local id=$MKIMAGE_ID
  assert_ok sk copy --dest-tls-verify=false "docker-archive:$T/image.tar" "docker://$REG/$(repo_name):v1"
  assert_ok sk inspect --tls-verify=false --raw "docker://$REG/$(repo_name):v1"
  assert_json "$OUT" '.mediaType == "application/vnd.docker.distribution.manifest.v2+json"'
  assert_json "$OUT" --arg id "$id" '.config.digest == $id'
  assert_ok sk copy --src-tls-verify=false "docker://$REG/$(repo_name):v1" "docker-archive:$T/back.tar:img:v1"
  mkdir back; tar -C back -xf back.tar
  local cfg; cfg=$(jq -r '.[0].Config' back/manifest.json)
  assert_eq "${id#sha256:}" "$(sha256sum "back/$cfg" | cut -d' ' -f1)" "the image config (and its diff ids) came back unchanged"
  # the layers' contents are what was pushed (diff ids of the config)
  local l i=0
  for l in $(jq -r '.[0].Layers[]' back/manifest.json); do
    assert_eq "${MKIMAGE_DIFF_IDS[$i]}" "sha256:$(sha256sum "back/$l" | cut -d' ' -f1)" "layer $i"
    i=$((i + 1))
  done
}

test_basic_auth() {
  need_skopeo
  command -v htpasswd >/dev/null || fail "htpasswd is not installed (apache2-utils)"
  htpasswd -Bbc "$T/htpasswd" alice s3cret 2>/dev/null
  reg_start "$T/r" --htpasswd "$T/htpasswd"
  defer "reg_stop '$T/r'"
  req GET "http://$R_ADDR/v2/"
  assert_error UNAUTHORIZED 401
  assert_match "$(hdr WWW-Authenticate)" '^Basic realm='
  req GET "http://$R_ADDR/v2/" -u alice:wrong
  assert_status 401
  req GET "http://$R_ADDR/v2/" -u alice:s3cret
  assert_status 200
  oci_image src
  assert_fails sk copy --dest-tls-verify=false oci:src:v1 "docker://$R_ADDR/private/img:v1"
  assert_fails sk copy --dest-tls-verify=false --dest-creds alice:nope oci:src:v1 "docker://$R_ADDR/private/img:v1"
  assert_ok sk copy --dest-tls-verify=false --dest-creds alice:s3cret oci:src:v1 "docker://$R_ADDR/private/img:v1"
  assert_fails sk copy --src-tls-verify=false "docker://$R_ADDR/private/img:v1" oci:back:v1
  assert_ok sk copy --src-tls-verify=false --src-creds alice:s3cret "docker://$R_ADDR/private/img:v1" oci:back:v1
  same_oci src back
}

test_token_auth() {
  need_skopeo
  htpasswd -Bbc "$T/htpasswd" bob pa55 2>/dev/null
  head -c 48 /dev/urandom | base64 > "$T/key"
  reg_start "$T/r" --auth token --htpasswd "$T/htpasswd" --token-key "$T/key"
  defer "reg_stop '$T/r'"
  local realm="http://$R_ADDR/token"
  req GET "http://$R_ADDR/v2/tok/img/tags/list"
  assert_error UNAUTHORIZED 401
  assert_eq "Bearer realm=\"$realm\",service=\"berth-registry\",scope=\"repository:tok/img:pull\"" "$(hdr WWW-Authenticate)"
  req GET "$realm?service=berth-registry&scope=repository:tok/img:pull,push" -u bob:wrong
  assert_status 401
  # a pull-only token cannot push: 403 DENIED
  req GET "$realm?service=berth-registry&scope=repository:tok/img:pull" -u bob:pa55
  assert_status 200
  local pull; pull=$(jq -r .token <<<"$HTTP_BODY")
  req POST "http://$R_ADDR/v2/tok/img/blobs/uploads/" -H "Authorization: Bearer $pull"
  assert_error DENIED 403
  req GET "http://$R_ADDR/v2/tok/other/tags/list" -H "Authorization: Bearer $pull"
  assert_error DENIED 403
  # a forged token (signature of another key) is refused
  local forged="${pull%.*}.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
  req GET "http://$R_ADDR/v2/tok/img/tags/list" -H "Authorization: Bearer $forged"
  assert_status 401
  req GET "http://$R_ADDR/v2/tok/img/tags/list" -H "Authorization: Bearer not.a.jwt"
  assert_status 401
  oci_image src
  assert_fails sk copy --dest-tls-verify=false oci:src:v1 "docker://$R_ADDR/tok/img:v1"
  assert_ok sk copy --dest-tls-verify=false --dest-creds bob:pa55 oci:src:v1 "docker://$R_ADDR/tok/img:v1"
  assert_ok sk copy --src-tls-verify=false --src-creds bob:pa55 "docker://$R_ADDR/tok/img:v1" oci:back:v1
  same_oci src back
  req GET "http://$R_ADDR/v2/tok/img/tags/list" -H "Authorization: Bearer $pull"
  assert_status 200
  assert_json "$HTTP_BODY" '.tags == ["v1"]'
}

test_tls() {
  need_skopeo
  command -v openssl >/dev/null || fail "openssl is not installed"
  mkdir certs
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
    -keyout key.pem -out certs/ca.crt 2>/dev/null || fail "openssl could not make a certificate"
  reg_start "$T/r" --tls-cert "$T/certs/ca.crt" --tls-key "$T/key.pem"
  defer "reg_stop '$T/r'"
  local out
  out=$(curl -sS --cacert certs/ca.crt -D - "https://$R_ADDR/v2/" | tr -d '\r') || fail "https GET /v2/ failed"
  assert_contains "$out" "Docker-Distribution-API-Version: registry/2.0"
  if curl -sS -o /dev/null "http://$R_ADDR/v2/" --max-time 5 2>/dev/null; then fail "plain HTTP answered on the TLS port"; fi
  oci_image src
  assert_fails sk copy oci:src:v1 "docker://$R_ADDR/tls/img:v1"    # unknown CA
  assert_ok sk copy --dest-cert-dir "$T/certs" oci:src:v1 "docker://$R_ADDR/tls/img:v1"
  assert_ok sk copy --src-cert-dir "$T/certs" "docker://$R_ADDR/tls/img:v1" oci:back:v1
  same_oci src back
  # a large blob over TLS, ranged
  head -c 5000000 /dev/urandom > big
  local d; d=$(sha big)
  out=$(curl -sS --cacert certs/ca.crt -X POST -o /dev/null -w '%{http_code}' --data-binary @big "https://$R_ADDR/v2/tls/big/blobs/uploads/?digest=$d")
  assert_eq 201 "$out"
  curl -sS --cacert certs/ca.crt -o got "https://$R_ADDR/v2/tls/big/blobs/$d"
  cmp big got || fail "blob over TLS differs"
}

# Debian's docker-registry (CNCF distribution 2.8) as a peer.
peer_start() {
  command -v docker-registry >/dev/null || fail "docker-registry is not installed (scripts/deps.sh)"
  PEER_ADDR=127.0.0.1:$(free_port)
  mkdir -p "$T/peer"
  cat > "$T/peer/config.yml" <<YML
version: 0.1
log: {level: error}
storage:
  filesystem: {rootdirectory: $T/peer/data}
  delete: {enabled: true}
http: {addr: $PEER_ADDR}
YML
  docker-registry serve "$T/peer/config.yml" > "$T/peer/log" 2>&1 &
  PEER_PID=$!
  defer "kill $PEER_PID 2>/dev/null; wait $PEER_PID 2>/dev/null"
  wait_for 10 curl -sf "http://$PEER_ADDR/v2/" || fail "docker-registry did not start: $(tail -5 "$T/peer/log")"
}

test_docker_registry_peer() {
  need_skopeo
  peer_start
  oci_image src
  assert_ok sk copy --dest-tls-verify=false oci:src:v1 "docker://$REG/$(repo_name)/img:v1"
  # berth → docker-registry → back: the same bytes throughout
  assert_ok sk copy --src-tls-verify=false --dest-tls-verify=false "docker://$REG/$(repo_name)/img:v1" "docker://$PEER_ADDR/img:v1"
  assert_ok sk copy --src-tls-verify=false "docker://$PEER_ADDR/img:v1" oci:viapeer:v1
  same_oci src viapeer
  # both answer the same error codes and statuses for the same mistakes
  local addr n codes=()
  for addr in "$REG" "$PEER_ADDR"; do
    n=img; [ "$addr" != "$REG" ] || n=$(repo_name)/img
    req GET "http://$addr/v2/$n/manifests/nosuchtag"
    codes+=("$HTTP_STATUS $(jq -r '.errors[0].code' <<<"$HTTP_BODY")")
    req GET "http://$addr/v2/$n/blobs/sha256:4444444444444444444444444444444444444444444444444444444444444444"
    codes+=("$HTTP_STATUS")
    # (a POST ?digest= with the body is optional: docker-registry 2.8
    # starts a session instead, berth takes it; so compare POST + PUT)
    req POST "http://$addr/v2/$n/blobs/uploads/"
    local loc; loc=$(hdr Location); loc=${loc#http://$addr}
    req PUT "http://$addr$loc$(case $loc in *\?*) echo '&' ;; *) echo '?' ;; esac)digest=sha256:4444444444444444444444444444444444444444444444444444444444444444" -H "Content-Type: application/octet-stream" --data-binary x
    codes+=("$HTTP_STATUS $(jq -r '.errors[0].code' <<<"$HTTP_BODY")")
    req GET "http://$addr/v2/$n/tags/list?n=1"
    codes+=("$HTTP_STATUS $(jq -c '.tags' <<<"$HTTP_BODY") $(hdr Link | sed 's/<[^?]*?/</')")
  done
  assert_eq "${codes[0]}" "${codes[4]}" "unknown tag"
  assert_eq "${codes[1]}" "${codes[5]}" "unknown blob"
  assert_eq "${codes[2]}" "${codes[6]}" "wrong digest"
  assert_eq "${codes[3]}" "${codes[7]}" "paginated tags"
}

run_registry_tests "$@"
