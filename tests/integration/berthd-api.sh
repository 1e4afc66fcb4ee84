#!/bin/bash
# berthd-api.sh: bad input through the Docker API (curl and raw HTTP on the
# Unix socket, and `docker load` of hostile archives). Every error must be
# clear ({"message": ...} with the right status, or a JSON stream error
# for streamed answers), must change nothing, must create nothing outside
# the daemon's data root, and the daemon must still answer /_ping.
# Also checks the exact answer shapes the CLI relies on (JSON streams,
# status codes, content types, chunked request bodies).
#
# Runs against berthd (default) or, to validate the tests, Debian's dockerd:
#   DAEMON=dockerd tests/run integration 'berthd-*'
# dockerd 20.10 accepts some hostile archives that berth's policy refuses
# (it unpacks in a chroot, so they are contained there): "../" and absolute
# entries, a hard link to ../../etc/passwd inside a layer, device nodes in
# layers, a config whose file name is not its sha256. For those the refusal
# is asserted only for berthd ("berth-only"); the "nothing escaped" checks
# apply to both daemons. dockerd 20.10 also answers 500 where newer Docker
# and berthd answer 400 (invalid filters JSON, invalid reference format).
: "${TEST_TIMEOUT:=90}"
. "$(dirname "$0")/../lib/testlib.sh"
. "$(dirname "$0")/../lib/daemonlib.sh"

# status for "bad parameter": 400; dockerd 20.10 maps some to 500
bad_param_status() { if is_dockerd; then echo '400|500'; else echo 400; fi; }

# ------------------------------------------------------- hostile loads

# sentinel: a word unique to this test for file names in hostile archives
# (TEST_TAG plus a letter, so that test 1's word is not part of test 10's)
sentinel() { printf '%sq' "$TEST_TAG"; }

# hostile_load FILE: `docker load -i FILE`, remembering the image ids,
# /etc/passwd and a time stamp before. LOAD_RC, OUT, ERR.
hostile_load() {
  HL_BEFORE=$(image_ids)
  HL_PASSWD="$(stat -c '%h %i %s' /etc/passwd) $(sha256sum < /etc/passwd)"
  touch "$T/.stamp"
  sleep 0.05
  cap2 dk load -i "$1"
  LOAD_RC=$RC
}

# assert_load_refused: the last hostile_load failed with a message and
# added no image
assert_load_refused() {
  [ "$LOAD_RC" -ne 0 ] || fail "docker load of a hostile archive succeeded: $OUT"
  [ -n "$ERR$OUT" ] || fail "docker load failed without a message"
  assert_eq "$HL_BEFORE" "$(image_ids)" "no image may be added by a refused load"
}

# assert_no_escape U: nothing named *U* outside the data/exec roots, nothing
# new in $DAEMON_DIR outside them, /etc/passwd untouched and not linked
# from anywhere under $DAEMON_DIR, the daemon still answers. Berth-only:
# after a refused load nothing named *U* is left even inside the data root
# (its temp files are cleaned).
assert_no_escape() {
  local u=$1 found
  found=$(find /tmp /etc / /root /var/tmp -maxdepth 1 -name "*$u*" 2>/dev/null)
  [ -z "$found" ] || fail "archive entries escaped: $found"
  # ($DAEMON_DIR/tmp: dockerd's TMPDIR)
  found=$(find "$DAEMON_DIR" -mindepth 1 \( -path "$DAEMON_DIR/data" -o -path "$DAEMON_DIR/exec" -o -path "$DAEMON_DIR/cli" \
            -o -path "$DAEMON_DIR/tmp" \) -prune \
            -o \( -name "*$u*" -o -newer "$T/.stamp" \) ! -name daemon.log ! -name '*.sock' -print 2>/dev/null)
  [ -z "$found" ] || fail "created in the daemon folder outside the data root: $found"
  assert_eq "$HL_PASSWD" "$(stat -c '%h %i %s' /etc/passwd) $(sha256sum < /etc/passwd)" "/etc/passwd changed"
  found=$(find "$DAEMON_DIR" -xdev -samefile /etc/passwd 2>/dev/null | head -n 3)
  [ -z "$found" ] || fail "hard link to the host's /etc/passwd: $found"
  if is_berthd && [ "$LOAD_RC" -ne 0 ]; then
    wait_for 5 sh -c "[ -z \"\$(find '$DAEMON_DIR' -name '*$u*' 2>/dev/null | head -n1)\" ]" ||
      fail "a refused load left files behind: $(find "$DAEMON_DIR" -name "*$u*" | head -n 5)"
  fi
  assert_daemon_answers
}

# good_with_outer ENTRY...: a valid image archive with extra raw entries
# in front (outer archive level) -> $T/evil.tar
good_with_outer() {
  mkimage -t "$(img_name):1" "$T/good.tar"
  mkimage_rawtar "$T/evil.tar" "$@"
  tar -Af "$T/evil.tar" "$T/good.tar" 2>/dev/null
}

# with_layer ENTRY...: a valid image whose second layer is the raw entries
# -> $T/evil.tar
with_layer() {
  mkimage_rawtar "$T/layer.tar" "$@"
  mkimage -t "$(img_name):1" -L "$T/layer.tar" "$T/evil.tar"
}

test_load_not_a_tar() {
  local u
  u=$(sentinel)
  printf 'this is not a tar archive %s\n' "$u" > "$T/junk"
  hostile_load "$T/junk"
  assert_load_refused
  assert_no_escape "$u"
  head -c 100000 /dev/urandom > "$T/random"
  hostile_load "$T/random"
  assert_load_refused
  : > "$T/empty"
  hostile_load "$T/empty"
  assert_load_refused
  assert_daemon_answers
  # the raw answer: an error status with {"message"}, or (as Docker does
  # once it has started streaming) 200 with a JSON stream ending in
  # {"errorDetail": {"message": ...}, "error": ...}
  api POST /images/load -H 'Content-Type: application/x-tar' --data-binary @"$T/junk"
  assert_load_error_answer
  api POST '/images/load?quiet=1' -H 'Content-Type: application/x-tar' --data-binary @"$T/random"
  assert_load_error_answer
  assert_daemon_answers
}

assert_load_error_answer() {
  if [ "$API_STATUS" = 200 ]; then
    case $API_CTYPE in application/json*) ;; *) fail "load error stream has Content-Type '$API_CTYPE'" ;; esac
    printf '%s\n' "$API_BODY" | grep . | tail -n1 | jq -e '(.errorDetail.message | type) == "string" and (.errorDetail.message | length) > 0 and (.error | type) == "string"' >/dev/null 2>&1 ||
      fail "status 200 but the stream does not end with an errorDetail message: $(printf '%s' "$API_BODY" | head -c 500)"
    printf '%s' "$API_BODY" | grep -Eqi 'tar|archive|header|EOF|invalid|format|manifest|repositories|json' ||
      fail "the load error does not say what is wrong: $(printf '%s' "$API_BODY" | head -c 500)"
  else
    assert_api_error '4[0-9][0-9]|5[0-9][0-9]' 'tar|archive|header|EOF|invalid|format|manifest|repositories|json'
  fi
}

test_load_truncated_archive() {
  mkimage -t "$(img_name):1" "$T/good.tar"
  local size
  size=$(stat -c %s "$T/good.tar")
  head -c $((size / 2)) "$T/good.tar" > "$T/half.tar"
  hostile_load "$T/half.tar"
  assert_load_refused
  assert_no_escape "$(sentinel)"
  # the manifest, config and layers, but cut inside the layer tar
  mkimage -t "$(img_name):2" -K "$T/k" "$T/good2.tar"
  local l
  l=$(jq -r '.[0].Layers[0]' "$T/k/manifest.json")
  head -c 100000 "$T/k/$l" > "$T/k/$l.cut" && mv "$T/k/$l.cut" "$T/k/$l"
  mkimage_pack "$T/k" "$T/cutlayer.tar"
  hostile_load "$T/cutlayer.tar"
  assert_load_refused
  assert_daemon_answers
}

test_load_outer_dotdot_entry() {
  local u
  u=$(sentinel)
  good_with_outer f "../../../../../../../../../../tmp/$u-escape" x f "../$u-escape1" y
  hostile_load "$T/evil.tar"
  # berth-only: dockerd 20.10 unpacks the archive in a chroot and loads it
  if is_berthd; then assert_load_refused; fi
  assert_no_escape "$u"
}

test_load_outer_absolute_entry() {
  local u
  u=$(sentinel)
  good_with_outer f "/tmp/$u-abs" x
  hostile_load "$T/evil.tar"
  if is_berthd; then assert_load_refused; fi   # berth-only (dockerd: chroot)
  assert_no_escape "$u"
}

test_load_outer_hardlink_escape() {
  good_with_outer h "hl-$(sentinel)" ../../etc/passwd
  hostile_load "$T/evil.tar"
  assert_load_refused
  assert_no_escape "$(sentinel)"
}

test_load_outer_symlink_escape() {
  # a symlink to /tmp, then a file through it
  local u
  u=$(sentinel)
  good_with_outer l lnk /tmp f "lnk/$u-through" x
  hostile_load "$T/evil.tar"
  assert_load_refused
  assert_no_escape "$u"
}

test_load_layer_dotdot_entry() {
  local u
  u=$(sentinel)
  with_layer f "../../../../../../../../../../tmp/$u-lescape" x
  hostile_load "$T/evil.tar"
  if is_berthd; then assert_load_refused; fi   # berth-only (dockerd: chroot)
  assert_no_escape "$u"
}

test_load_layer_absolute_entry() {
  local u
  u=$(sentinel)
  with_layer f "/tmp/$u-labs" x
  hostile_load "$T/evil.tar"
  if is_berthd; then assert_load_refused; fi   # berth-only (dockerd: chroot)
  assert_no_escape "$u"
}

test_load_layer_hardlink_escape() {
  with_layer h "evil-$(sentinel)" ../../etc/passwd
  hostile_load "$T/evil.tar"
  # berth-only: dockerd resolves the link inside the image (chroot)
  if is_berthd; then assert_load_refused; fi
  assert_no_escape "$(sentinel)"
}

test_load_layer_symlink_escape() {
  # absolute symlinks are normal in layers; writing THROUGH one must stay
  # inside the image (or be refused)
  local u
  u=$(sentinel)
  with_layer l etc2 /etc f "etc2/$u-through" x l tmp2 ../../../../../../tmp f "tmp2/$u-through2" y
  hostile_load "$T/evil.tar"
  assert_no_escape "$u"
}

test_load_layer_device_nodes() {
  with_layer c "dev-$(sentinel)-null" 1 3 b "dev-$(sentinel)-sda" 8 0
  hostile_load "$T/evil.tar"
  # berth-only: berth refuses block/char devices in layers; dockerd
  # creates them
  if is_berthd; then
    assert_load_refused
    local found
    found=$(find "$DAEMON_DIR/data" \( -type b -o -type c \) 2>/dev/null | head -n 3)
    [ -z "$found" ] || fail "device nodes in the data root: $found"
  fi
  assert_no_escape "$(sentinel)"
}

test_load_diffid_mismatch() {
  mkimage_rawtar "$T/l.tar" f "file-$(sentinel)" hello
  mkimage -t "$(img_name):1" -L "$T/l.tar" \
    -x '.rootfs.diff_ids[-1] = "sha256:0000000000000000000000000000000000000000000000000000000000000000"' "$T/evil.tar"
  hostile_load "$T/evil.tar"
  assert_load_refused
  assert_match "$ERR" '[Dd]iff ?[Ii][Dd]|digest|sha256|mismatch|does not match' "the error names the digest problem"
  assert_no_escape "$(sentinel)"
  # a layer list shorter than the diff ids
  mkimage -t "$(img_name):2" -L "$T/l.tar" -m '.[0].Layers |= .[:1]' "$T/evil2.tar"
  hostile_load "$T/evil2.tar"
  assert_load_refused
  assert_daemon_answers
}

test_load_config_digest_mismatch() {
  # the config's file name is not its sha256 (the image id would lie)
  mkimage -t "$(img_name):1" -K "$T/k" "$T/good.tar"
  local cfg wrong
  cfg=$(jq -r '.[0].Config' "$T/k/manifest.json")
  wrong=$(printf 'a%.0s' $(seq 64))
  mv "$T/k/$cfg" "$T/k/$wrong.json"
  jq -c --arg c "$wrong.json" '.[0].Config = $c' "$T/k/manifest.json" > "$T/k/m" && mv "$T/k/m" "$T/k/manifest.json"
  mkimage_pack "$T/k" "$T/evil.tar"
  hostile_load "$T/evil.tar"
  # berth-only: dockerd 20.10 computes the id from the content and ignores
  # the file name
  if is_berthd; then assert_load_refused; fi
  assert_no_escape "$(sentinel)"
  # same for an OCI layout whose config blob does not match its digest
  if is_berthd; then
    mkimage_oci -t "$(img_name):2" -K "$T/o" "$T/good-oci.tar"
    local c
    c=$(basename "$MKIMAGE_CONFIG")
    jq -c '.config.Cmd = ["evil"]' "$T/o/blobs/sha256/$c" > "$T/o/cfg" && mv "$T/o/cfg" "$T/o/blobs/sha256/$c"
    mkimage_pack "$T/o" "$T/evil-oci.tar"
    hostile_load "$T/evil-oci.tar"
    assert_load_refused
    # and a layer blob that does not match its digest
    mkimage_oci -t "$(img_name):3" -K "$T/o2" "$T/good-oci2.tar"
    local m l
    m=$(jq -r '.manifests[0].digest | sub("sha256:"; "")' "$T/o2/index.json")
    l=$(jq -r '.layers[0].digest | sub("sha256:"; "")' "$T/o2/blobs/sha256/$m")
    printf 'X' | dd of="$T/o2/blobs/sha256/$l" bs=1 seek=600 conv=notrunc 2>/dev/null
    mkimage_pack "$T/o2" "$T/evil-oci2.tar"
    hostile_load "$T/evil-oci2.tar"
    assert_load_refused
  fi
  assert_daemon_answers
}

test_load_manifest_path_escape() {
  mkimage -t "$(img_name):1" -m '.[0].Layers[0] = "../../../../../../../../etc/hostname"' "$T/evil.tar"
  hostile_load "$T/evil.tar"
  assert_load_refused
  assert_no_escape "$(sentinel)"
  mkimage -t "$(img_name):2" -m '.[0].Config = "/etc/hostname"' "$T/evil2.tar"
  hostile_load "$T/evil2.tar"
  assert_load_refused
  # (a fresh second layer: dockerd skips reading layers it already has)
  mkimage_rawtar "$T/l.tar" f "file-$(sentinel)" hello
  mkimage -t "$(img_name):3" -L "$T/l.tar" -m '.[0].Layers[1] = "/etc/passwd"' "$T/evil3.tar"
  hostile_load "$T/evil3.tar"
  assert_load_refused
  assert_no_escape "$(sentinel)"
}

test_load_oversized_manifest() {
  # a 20 MiB manifest.json (valid JSON padded with spaces): refused as too
  # large, or loaded; either way the daemon survives and stays consistent
  local name
  name=$(img_name)
  mkimage -t "$name:1" -K "$T/k" "$T/good.tar"
  head -c $((20 * 1024 * 1024)) /dev/zero | tr '\0' ' ' >> "$T/k/manifest.json"
  mkimage_pack "$T/k" "$T/big.tar"
  hostile_load "$T/big.tar"
  assert_daemon_answers
  if [ "$LOAD_RC" -eq 0 ]; then
    assert_eq "$MKIMAGE_ID" "$(dk image inspect -f '{{.Id}}' "$name:1")" "loaded image"
  else
    assert_eq "$HL_BEFORE" "$(image_ids)" "a refused load adds no image"
  fi
}

# --------------------------------------------------------- bad requests

test_api_unknown_endpoint() {
  local v
  api GET /version
  v=$(printf '%s' "$API_BODY" | jq -r .ApiVersion)
  api GET /nonexistent
  assert_api_error 404
  api GET "/v$v/nonexistent/deeper/path"
  assert_api_error 404
  api POST /nonexistent -H 'Content-Type: application/json' --data '{"a": 1}'
  assert_api_error 404
  api GET /
  assert_api_error 404
  api GET /images
  assert_api_error 404
  assert_daemon_answers
}

test_api_wrong_method() {
  # Docker answers 404 for a known path with the wrong method; 405 is fine
  api DELETE /_ping
  assert_api_error '404|405'
  api PUT /images/json
  assert_api_error '404|405'
  api POST /version
  assert_api_error '404|405'
  api PATCH /images/json
  assert_api_error '404|405'
  api GET /images/load
  assert_api_error '404|405'
  assert_daemon_answers
}

test_api_no_such_image() {
  local n
  n=$(img_name nonexistent)
  api GET "/images/$n/json"
  assert_api_error 404 'No such image'
  api GET /images/nonexistent/json
  assert_api_error 404 'No such image'
  api GET "/images/$n/history"
  assert_api_error 404 'No such image'
  api DELETE "/images/$n"
  assert_api_error 404 'No such image'
  api POST "/images/$n/tag?repo=$(img_name other)&tag=1"
  assert_api_error 404 'No such image'
  api GET "/images/sha256:0000000000000000000000000000000000000000000000000000000000000000/json"
  assert_api_error 404 'No such image'
  assert_daemon_answers
}

test_api_bad_parameters() {
  local name
  name=$(img_name)
  mkimage -t "$name:1" "$T/a.tar"
  dk load -i "$T/a.tar" >/dev/null
  # filters that are not JSON
  api GET '/images/json?filters=%7Bbad'
  assert_api_error "$(bad_param_status)"
  # an unknown filter
  api GET '/images/json?filters=%7B%22foo-bt%22%3A%5B%22bar%22%5D%7D'
  assert_api_error 400 'foo-bt'
  # bad target references for tag
  api POST "/images/$name:1/tag?repo=UPPER-$TEST_TAG&tag=x"
  assert_api_error "$(bad_param_status)" 'invalid|reference|lowercase'
  api POST "/images/$name:1/tag?repo=$(img_name other)&tag=bad:tag"
  assert_api_error "$(bad_param_status)" 'invalid|tag|reference'
  api POST "/images/$name:1/tag"
  assert_api_error "$(bad_param_status)" 'invalid|reference|repo'
  # nothing was tagged
  cap2 dk images --format '{{.Repository}}:{{.Tag}}' --filter "reference=$name"
  assert_eq "$name:1" "$OUT" "no tag was added by the refused requests"
  assert_daemon_answers
}

test_api_image_shapes() {
  # the exact answers the CLI depends on
  local name id
  name=$(img_name)
  mkimage -t "$name:1" "$T/a.tar"
  id=$MKIMAGE_ID
  # load: 200, application/json, a stream of JSON objects with
  # {"stream": "Loaded image: NAME:TAG\n"}
  api POST /images/load -H 'Content-Type: application/x-tar' --data-binary @"$T/a.tar"
  assert_eq 200 "$API_STATUS" "POST /images/load"
  assert_match "$API_CTYPE" '^application/json' "Content-Type of the load stream"
  printf '%s\n' "$API_BODY" | grep . | jq -e . >/dev/null 2>&1 || fail "the load answer is not a stream of JSON objects: $API_BODY"
  printf '%s\n' "$API_BODY" | grep . | jq -se --arg s "Loaded image: $name:1"$'\n' 'map(.stream) | index($s)' >/dev/null ||
    fail "no {\"stream\": \"Loaded image: $name:1\\n\"} in: $API_BODY"
  # the same with a chunked request body (what the CLI sends for a file or
  # stdin of unknown length)
  dk rmi "$name:1" >/dev/null
  api POST '/images/load?quiet=1' -H 'Content-Type: application/x-tar' -H 'Transfer-Encoding: chunked' --data-binary @"$T/a.tar"
  assert_eq 200 "$API_STATUS" "POST /images/load with a chunked body"
  assert_contains "$API_BODY" "Loaded image: $name:1"
  assert_eq "$id" "$(dk image inspect -f '{{.Id}}' "$name:1")"
  # tag: 201 Created
  api POST "/images/$name:1/tag?repo=$(img_name other)&tag=t"
  assert_eq 201 "$API_STATUS" "POST /images/NAME/tag"
  # inspect
  api GET "/images/$name:1/json"
  assert_eq 200 "$API_STATUS"
  assert_match "$API_CTYPE" '^application/json'
  assert_json "$API_BODY" --arg id "$id" '.Id == $id and (.RepoTags | length) == 2 and (.Config | type) == "object"
      and (.RootFS.Layers | type) == "array" and (.Size | type) == "number" and (.Created | type) == "string"' "image inspect object"
  # save: application/x-tar
  api GET "/images/get?names=$name:1"
  assert_eq 200 "$API_STATUS" "GET /images/get"
  assert_match "$API_CTYPE" '^application/x-tar' "Content-Type of docker save"
  tar -tf "$T/.api.body" | grep -qx manifest.json || fail "GET /images/get is not a tar with manifest.json"
  api GET "/images/$name:1/get"
  assert_eq 200 "$API_STATUS" "GET /images/NAME/get"
  tar -tf "$T/.api.body" | grep -qx manifest.json || fail "GET /images/NAME/get is not a tar with manifest.json"
  # import: a JSON stream whose status is the new id
  mkimage_rootfs_tar "$T/rootfs.tar"
  api POST "/images/create?fromSrc=-&repo=$(img_name imp)&tag=1" -H 'Content-Type: application/x-tar' --data-binary @"$T/rootfs.tar"
  assert_eq 200 "$API_STATUS" "POST /images/create?fromSrc=-"
  assert_match "$API_CTYPE" '^application/json' "Content-Type of the import stream"
  local impid
  impid=$(printf '%s\n' "$API_BODY" | grep . | jq -rs 'map(.status // empty) | last')
  assert_match "$impid" '^sha256:[0-9a-f]{64}$' "import stream status"
  assert_eq "$impid" "$(dk image inspect -f '{{.Id}}' "$(img_name imp):1")" "imported image"
  # delete: [{"Untagged": ...}, ...]
  api DELETE "/images/$(img_name other):t"
  assert_eq 200 "$API_STATUS" "DELETE /images/NAME"
  assert_json "$API_BODY" --arg t "$(img_name other):t" '. == [{"Untagged": $t}]' "DELETE answer"
  # headers of every answer
  assert_match "$(api_header Api-Version)" '^1\.[0-9]+$' "Api-Version header on DELETE /images"
}

test_api_large_bodies() {
  # 20 MiB bodies to endpoints that take none: refused or ignored, never a
  # crash; the daemon answers afterwards
  head -c $((20 * 1024 * 1024)) /dev/zero | tr '\0' ' ' > "$T/big.json"
  printf '{"a": 1}' >> "$T/big.json"
  api POST /nonexistent -H 'Content-Type: application/json' --data-binary @"$T/big.json"
  assert_match "$API_STATUS" '^(000|4[0-9][0-9])$' "20 MiB to an unknown endpoint"
  assert_daemon_answers
  api POST /images/prune -H 'Content-Type: application/json' --data-binary @"$T/big.json"
  assert_match "$API_STATUS" '^(000|200|4[0-9][0-9])$' "20 MiB to POST /images/prune"
  assert_daemon_answers
  api POST "/images/$(img_name)/tag?repo=x" -H 'Content-Type: application/json' --data-binary @"$T/big.json"
  assert_match "$API_STATUS" '^(000|4[0-9][0-9]|500)$' "20 MiB to POST /images/NAME/tag"
  assert_daemon_answers
  # 20 MiB of junk as an import
  api POST "/images/create?fromSrc=-&repo=$(img_name junk)&tag=1" -H 'Content-Type: application/x-tar' --data-binary @"$T/big.json"
  assert_daemon_answers
  cap2 dk image inspect "$(img_name junk):1"
  assert_ne 0 "$RC" "junk was not imported"
}

test_api_malformed_http() {
  # complete but malformed requests: an error answer or a closed
  # connection within 10 s, and the daemon carries on
  raw_http 'GARBAGE\r\n\r\n'
  assert_closed_or_4xx "garbage request line"
  raw_http 'GET /_ping HTTP/1.1\r\nHost: localhost\r\nContent-Length: abc\r\n\r\n'
  assert_closed_or_4xx "bad Content-Length"
  raw_http 'GET /_ping HTTP/1.1\r\nHost: localhost\r\nContent-Length: -5\r\n\r\n'
  assert_closed_or_4xx "negative Content-Length"
  raw_http "GET /$(head -c 100000 /dev/zero | tr '\0' a) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
  assert_closed_or_4xx "100 KB path"
  raw_http "GET /_ping HTTP/1.1\r\nHost: localhost\r\nX-Big: $(head -c 2000000 /dev/zero | tr '\0' a)\r\nConnection: close\r\n\r\n"
  assert_closed_or_4xx "2 MB header"
  raw_http 'POST /images/load HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nContent-Type: application/x-tar\r\nConnection: close\r\n\r\nzz\r\n\r\n'
  if [ "$RAW_RC" = 2 ] && [ -z "$RAW_OUT" ]; then fail "bad chunk size: no answer and the connection stays open"; fi
  if printf '%s' "$RAW_OUT" | grep -q '^HTTP/1\.[01] 200'; then
    assert_contains "$RAW_OUT" errorDetail "200 for a bad chunk must carry an error stream"
  fi
  assert_daemon_answers
  # a client that goes away in the middle of a load: nothing added
  local before
  before=$(image_ids)
  mkimage -t "$(img_name cut):1" "$T/a.tar"
  { printf 'POST /images/load HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-tar\r\nContent-Length: %s\r\n\r\n' \
      "$(stat -c %s "$T/a.tar")"; head -c 700000 "$T/a.tar"; } > "$T/partial.req"
  raw_http -t 2 -f "$T/partial.req"
  assert_daemon_answers
  assert_eq "$before" "$(image_ids)" "an interrupted load adds no image"
  # the daemon still does real work
  cap2 dk load -i "$T/a.tar"
  assert_success "docker load after the interrupted one"
}

assert_closed_or_4xx() { # WHAT
  [ "$RAW_RC" != 1 ] || fail "$1: cannot connect to the daemon"
  [ "$RAW_RC" != 2 ] || [ -n "$RAW_OUT" ] || fail "$1: no answer within 10 s and the connection stays open"
  if [ -n "$RAW_OUT" ]; then
    assert_match "$(printf '%s\n' "$RAW_OUT" | head -n1)" '^HTTP/1\.[01] 4[0-9][0-9]' "$1: answer"
  fi
  assert_daemon_answers
}

test_api_slow_client_does_not_block() {
  # a client that sends half a request and waits must not stop the daemon
  # from serving others
  perl -e '
    use IO::Socket::UNIX;
    my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM(), Peer => $ARGV[0]) or die;
    syswrite($s, "GET /_ping HTTP/1.1\r\nHost: local");
    sleep 20;' "$DAEMON_SOCK" &
  local p1=$!
  mkimage -t "$(img_name):1" "$T/a.tar"
  { printf 'POST /images/load HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-tar\r\nContent-Length: %s\r\n\r\n' \
      "$(stat -c %s "$T/a.tar")"; head -c 5000 "$T/a.tar"; } > "$T/partial.req"
  perl -e '
    use IO::Socket::UNIX;
    my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM(), Peer => $ARGV[0]) or die;
    open(my $f, "<", $ARGV[1]) or die; binmode $f; local $/; my $r = <$f>;
    syswrite($s, $r);
    sleep 20;' "$DAEMON_SOCK" "$T/partial.req" &
  local p2=$!
  defer "kill $p1 $p2 2>/dev/null"
  sleep 0.5
  local t0=$SECONDS
  cap2 timeout 10 curl -sS --noproxy '*' --unix-socket "$DAEMON_SOCK" http://localhost/_ping
  assert_eq OK "$OUT" "/_ping answers while two slow clients hold connections"
  cap2 dk images -q
  assert_success "docker images while a load is stalled"
  [ $((SECONDS - t0)) -le 8 ] || fail "the daemon took $((SECONDS - t0)) s to answer while slow clients wait"
  kill "$p1" "$p2" 2>/dev/null
  wait "$p1" "$p2" 2>/dev/null || true
  assert_daemon_answers
  cap2 dk image inspect "$(img_name):1"
  assert_ne 0 "$RC" "the stalled load added no image"
}

run_daemon_tests "$@"
