#!/bin/bash
# berthd-images.sh: the image commands of the real docker CLI against the
# daemon: load (docker-archive, gzip layers, OCI layout), images (columns,
# --format, -q, filters), image inspect, history, tag, rmi, save (to a fresh
# daemon), import, image prune, id prefixes.
#
# Images are made without any engine by tests/lib/mkimage.sh from Debian's
# busybox. One daemon per suite; each test uses its own repository names
# (img_name), so the tests do not depend on each other.
#
# Runs against berthd (default) or, to validate the tests, Debian's dockerd:
#   DAEMON=dockerd tests/run integration 'berthd-*'
# Berth-only assertions are marked "berth-only".
: "${TEST_TIMEOUT:=90}"
. "$(dirname "$0")/../lib/testlib.sh"
. "$(dirname "$0")/../lib/daemonlib.sh"

BUSYBOX_SIZE=$(stat -c %s "${BUSYBOX:-/bin/busybox}")

# load_ok FILE: docker load -i FILE must succeed and print only
# "Loaded image..." lines (no raw JSON: the CLI prints the stream raw when
# the answer's Content-Type is not application/json)
load_ok() {
  cap2 dk load -i "$1"
  assert_success "docker load -i $1"
  assert_not_contains "$OUT" "{" "docker load printed raw JSON (Content-Type of /images/load not application/json?)"
  assert_match "$OUT" '^Loaded image' "docker load output"
}

extra_dir() { # DIR: a small extra layer (etc/hello, usr/share/bt/data)
  mkdir -p "$1/etc" "$1/usr/share/bt"
  echo hello > "$1/etc/hello"
  head -c 5000 /dev/zero | tr '\0' x > "$1/usr/share/bt/data"
}

inspect_json() { dk image inspect "$@"; }

# --------------------------------------------------------------- load

test_load_prints_loaded_image() {
  local name id
  name=$(img_name)
  mkimage -t "$name:1" "$T/a.tar"
  id=$MKIMAGE_ID
  load_ok "$T/a.tar"
  assert_eq "Loaded image: $name:1" "$OUT" "docker load output"
  assert_eq "$id" "$(dk image inspect -f '{{.Id}}' "$name:1")" "image id = sha256 of the config"
  # from standard input, two tags
  mkimage -t "$name:2" -t "$name:3" "$T/b.tar"
  cap2 dk load < "$T/b.tar"
  assert_success "docker load < file"
  assert_eq "$(printf 'Loaded image: %s:2\nLoaded image: %s:3' "$name" "$name")" "$OUT" "two tags"
  assert_eq "$MKIMAGE_ID" "$(dk image inspect -f '{{.Id}}' "$name:3")"
  # untagged: the id
  mkimage "$T/c.tar"
  load_ok "$T/c.tar"
  assert_eq "Loaded image ID: $MKIMAGE_ID" "$OUT" "untagged image"
  # -q prints the same lines
  mkimage -t "$name:4" "$T/d.tar"
  cap2 dk load -q -i "$T/d.tar"
  assert_success "docker load -q"
  assert_eq "Loaded image: $name:4" "$OUT" "docker load -q output"
}

test_load_gzip_layers() {
  local name
  name=$(img_name)
  extra_dir "$T/extra"
  mkimage -z -t "$name:gz" -l "$T/extra" "$T/a.tar"
  load_ok "$T/a.tar"
  cap2 dk image inspect "$name:gz"
  assert_success
  local want
  want=$(printf '%s\n' "${MKIMAGE_DIFF_IDS[@]}" | jq -R . | jq -cs .)
  assert_json "$OUT" --argjson w "$want" '.[0].RootFS.Layers == $w' "RootFS.Layers are the uncompressed diff ids"
  assert_json "$OUT" --arg id "$MKIMAGE_ID" '.[0].Id == $id' "image id"
}

test_load_same_archive_twice() {
  local name
  name=$(img_name)
  mkimage -t "$name:1" "$T/a.tar"
  load_ok "$T/a.tar"
  load_ok "$T/a.tar"
  assert_eq "Loaded image: $name:1" "$OUT" "second load of the same archive"
  cap2 dk images -q --no-trunc "$name"
  assert_eq "$MKIMAGE_ID" "$OUT" "one image after loading it twice"
}

test_load_moves_existing_tag() {
  # loading another image with a tag that exists moves the tag; the old
  # image stays, untagged (dangling)
  local name a b
  name=$(img_name)
  mkimage -t "$name:1" "$T/a.tar"; a=$MKIMAGE_ID
  mkimage -t "$name:1" -x '.config.Cmd = ["true"]' "$T/b.tar"; b=$MKIMAGE_ID
  assert_ne "$a" "$b"
  load_ok "$T/a.tar"
  load_ok "$T/b.tar"
  assert_contains "$OUT" "Loaded image: $name:1"
  assert_eq "$b" "$(dk image inspect -f '{{.Id}}' "$name:1")" "the tag points at the new image"
  cap2 dk image inspect -f '{{json .RepoTags}}' "$a"
  assert_success "the old image is still there"
  assert_match "$OUT" '^(\[\]|null)$' "the old image has no tag left"
  cap2 dk images -q --no-trunc --filter dangling=true
  assert_contains "$OUT" "$a" "the old image is dangling"
}

test_load_oci_layout() {
  local name
  name=$(img_name)
  # an OCI layout that also carries a manifest.json, as `docker save` of
  # Docker 25+ writes: loads everywhere
  mkimage_oci -D -t "$name:1" "$T/a.tar"
  load_ok "$T/a.tar"
  assert_contains "$OUT" "Loaded image: $name:1"
  assert_eq "$MKIMAGE_ID" "$(dk image inspect -f '{{.Id}}' "$name:1")" "id of the OCI image"
  # berth-only: a pure OCI image layout archive (index.json, oci-layout,
  # blobs; no manifest.json). Docker 20.10 cannot load these (it falls back
  # to the legacy format and fails); Docker 25+ and berthd can.
  if is_berthd; then
    extra_dir "$T/extra"
    mkimage_oci -z -t "$name:2" -l "$T/extra" "$T/b.tar"
    local want
    want=$(printf '%s\n' "${MKIMAGE_DIFF_IDS[@]}" | jq -R . | jq -cs .)
    load_ok "$T/b.tar"
    assert_contains "$OUT" "$name:2" "docker load names the OCI image"
    cap2 dk image inspect "$name:2"
    assert_success "inspect the image loaded from an OCI layout"
    assert_json "$OUT" --arg id "$MKIMAGE_ID" '.[0].Id == $id' "id of the pure OCI image"
    assert_json "$OUT" --argjson w "$want" '.[0].RootFS.Layers == $w' "diff ids of the pure OCI image"
    # without a name annotation: loaded by id
    mkimage_oci "$T/c.tar"
    load_ok "$T/c.tar"
    assert_contains "$OUT" "$MKIMAGE_ID" "docker load of an unnamed OCI image prints its id"
    assert_eq "$MKIMAGE_ID" "$(dk image inspect -f '{{.Id}}' "$MKIMAGE_ID")"
  fi
}

# --------------------------------------------------------------- list

test_images_list() {
  local name a u
  name=$(img_name)
  mkimage -t "$name:1" -c 2020-01-02T03:04:05Z -x ".config.Labels = {\"bt.label\": \"$TEST_TAG\"}" "$T/a.tar"
  a=$MKIMAGE_ID
  mkimage "$T/u.tar"
  u=$MKIMAGE_ID
  load_ok "$T/a.tar"
  load_ok "$T/u.tar"

  cap2 dk images
  assert_success "docker images"
  assert_match "$(printf '%s\n' "$OUT" | head -n1)" '^REPOSITORY +TAG +IMAGE ID +CREATED +SIZE *$' "docker images header"
  assert_match "$OUT" "^$name +1 +${a:7:12} +[0-9]+ years ago +[0-9.]+[kMG]?B *\$" "row of $name:1 (repository, tag, short id, created, size)"
  assert_match "$OUT" "^<none> +<none> +${u:7:12} +" "row of the untagged image"

  cap2 dk images --format '{{.Repository}}:{{.Tag}}'
  assert_success
  assert_match "$OUT" "^$name:1\$" "--format Repository:Tag"
  assert_match "$OUT" '^<none>:<none>$' "--format for the untagged image"

  cap2 env TZ=UTC "$DOCKER_BIN" images --format '{{.ID}}|{{.CreatedAt}}|{{.Size}}' --filter reference="$name:1"
  assert_success
  assert_match "$OUT" "^${a:7:12}\\|2020-01-02 03:04:05 \\+0000 UTC\\|[0-9.]+[kMG]?B\$" "ID, CreatedAt (from the config's created), Size"

  cap2 dk images -q
  assert_success "docker images -q"
  assert_match "$OUT" "^${a:7:12}\$" "-q lists the short id"
  assert_match "$OUT" "^${u:7:12}\$" "-q lists the untagged image"
  assert_no_match "$OUT" '^[^0-9a-f]|^.{13,}' "-q prints only 12-character ids"
  cap2 dk images -q --no-trunc
  assert_match "$OUT" "^$a\$" "-q --no-trunc"

  cap2 dk images -q --no-trunc --filter dangling=true
  assert_success "--filter dangling=true"
  assert_match "$OUT" "^$u\$" "the untagged image is dangling"
  assert_no_match "$OUT" "^$a\$" "a tagged image is not dangling"
  cap2 dk images -q --no-trunc --filter dangling=false
  assert_success "--filter dangling=false"
  assert_match "$OUT" "^$a\$"
  assert_no_match "$OUT" "^$u\$"

  cap2 dk images --format '{{.Repository}}:{{.Tag}}' --filter reference="$name"
  assert_success "--filter reference=NAME"
  assert_eq "$name:1" "$OUT" "--filter reference=NAME lists that repository only"
  cap2 dk images --format '{{.Repository}}:{{.Tag}}' --filter reference="$TEST_TAG/*:1"
  assert_success "--filter reference=GLOB"
  assert_eq "$name:1" "$OUT" "--filter reference with a glob"
  cap2 dk images --format '{{.Repository}}:{{.Tag}}' "$name"
  assert_eq "$name:1" "$OUT" "docker images REPOSITORY"
  cap2 dk images -q --no-trunc --filter "label=bt.label=$TEST_TAG"
  assert_success "--filter label=K=V"
  assert_eq "$a" "$OUT" "--filter label"
  cap2 dk images -q --no-trunc --filter "reference=$name" --filter dangling=true
  assert_eq "" "$OUT" "two filters combine (AND)"

  cap2 dk images --filter "bogus-$TEST_TAG=1"
  assert_ne 0 "$RC" "an unknown filter must fail"
  assert_contains "$OUT$ERR" "bogus-$TEST_TAG" "the error names the bad filter"

  # the raw list
  api GET /images/json
  assert_eq 200 "$API_STATUS" "GET /images/json"
  assert_json "$API_BODY" --arg id "$a" '.[] | select(.Id == $id) |
      (.RepoTags | type) == "array" and ((.RepoDigests // []) | type) == "array" and (.Created | type) == "number"
      and (.Size | type) == "number" and .Size > 0 and (.ParentId | type) == "string"
      and (.Containers | type) == "number" and (.SharedSize | type) == "number"' "image summary fields and types"
  assert_json "$API_BODY" --arg id "$a" '.[] | select(.Id == $id) | .Created == 1577934245' "Created = the config date in unix seconds"
  assert_json "$API_BODY" --arg id "$a" --arg t "$TEST_TAG" '.[] | select(.Id == $id) | .Labels["bt.label"] == $t' "Labels"
  assert_json "$API_BODY" --arg id "$u" '.[] | select(.Id == $id) | (.RepoTags // []) | (length == 0 or . == ["<none>:<none>"])' "untagged image"
}

# -------------------------------------------------------------- inspect

test_image_inspect() {
  local name id
  name=$(img_name)
  extra_dir "$T/extra"
  mkimage -t "$name:1" -l "$T/extra" -c 2020-01-02T03:04:05Z "$T/a.tar"
  id=$MKIMAGE_ID
  local want
  want=$(printf '%s\n' "${MKIMAGE_DIFF_IDS[@]}" | jq -R . | jq -cs .)
  load_ok "$T/a.tar"
  cap2 dk image inspect "$name:1"
  assert_success "docker image inspect"
  local j=$OUT
  assert_json "$j" 'type == "array" and length == 1' "one element"
  assert_json "$j" --arg id "$id" '.[0].Id == $id' "Id"
  assert_json "$j" --arg t "$name:1" '.[0].RepoTags == [$t]' "RepoTags"
  # dockerd 20.10 gives loaded images no RepoDigests; berthd (like Docker's
  # containerd image store) gives NAME@<manifest digest>
  if is_dockerd; then
    assert_json "$j" '(.[0].RepoDigests // []) == []' "RepoDigests"
  else
    assert_json "$j" --arg n "$name" '.[0].RepoDigests | length == 1 and (.[0] | startswith($n + "@sha256:"))' "RepoDigests"
  fi
  assert_json "$j" '.[0].Config.Cmd == ["sh"]' "Config.Cmd"
  assert_json "$j" --arg p "$MKIMAGE_PATH_ENV" '.[0].Config.Env == [$p]' "Config.Env"
  assert_json "$j" '.[0].RootFS.Type == "layers"' "RootFS.Type"
  assert_json "$j" --argjson w "$want" '.[0].RootFS.Layers == $w' "RootFS.Layers = the config's diff ids"
  assert_json "$j" '.[0].RootFS.Layers | length == 2' "two layers"
  assert_json "$j" --arg a "$(_mki_arch)" '.[0].Architecture == $a' "Architecture"
  assert_json "$j" '.[0].Os == "linux"' "Os"
  assert_json "$j" --argjson b "$BUSYBOX_SIZE" '(.[0].Size | type) == "number" and .[0].Size >= $b and .[0].Size < 3 * $b' "Size (busybox plus a little)"
  assert_json "$j" '.[0].Created | startswith("2020-01-02T03:04:05")' "Created from the config"
  # -f templates
  assert_eq "$id" "$(dk image inspect -f '{{.Id}}' "$name:1")" "inspect -f {{.Id}}"
  assert_eq '["sh"]' "$(dk image inspect -f '{{json .Config.Cmd}}' "$name:1")" "inspect -f Config.Cmd"
  assert_eq 2 "$(dk image inspect -f '{{len .RootFS.Layers}}' "$name:1")" "inspect -f len RootFS.Layers"
  # two images at once
  mkimage -t "$name:2" "$T/b.tar"
  load_ok "$T/b.tar"
  cap2 dk image inspect "$name:1" "$name:2"
  assert_success
  assert_json "$OUT" --arg a "$id" --arg b "$MKIMAGE_ID" '[.[].Id] == [$a, $b]' "inspect of two images"
  # `docker inspect` without --type: the CLI asks for a container first,
  # then for an image (the daemon must answer 404 for the container)
  cap2 dk inspect -f '{{.Id}}' "$name:1"
  assert_success "docker inspect NAME (no --type)"
  assert_eq "$id" "$OUT"
  cap2 dk inspect --type image -f '{{.Id}}' "$name:1"
  assert_eq "$id" "$OUT" "docker inspect --type image"
  # unknown image
  cap2 dk image inspect "$name:nope"
  assert_ne 0 "$RC" "inspect of an unknown image must fail"
  assert_contains "$ERR" "No such image" "error for an unknown image"
  cap2 dk image inspect "$name:1" "$name:nope"
  assert_ne 0 "$RC" "inspect of a known and an unknown image must fail"
  assert_contains "$OUT" "$id" "the known image is still printed"
  assert_contains "$ERR" "No such image"
}

test_image_id_prefix() {
  local name id hex
  name=$(img_name)
  mkimage -t "$name:1" "$T/a.tar"
  id=$MKIMAGE_ID
  hex=${id#sha256:}
  load_ok "$T/a.tar"
  local ref
  for ref in "$id" "$hex" "${hex:0:12}" "sha256:${hex:0:12}" "${hex:0:8}"; do
    cap2 dk image inspect -f '{{.Id}}' "$ref"
    assert_success "inspect by '$ref'"
    assert_eq "$id" "$OUT" "inspect by '$ref'"
  done
  # tag and rmi by prefix
  cap2 dk tag "${hex:0:12}" "$name:bytag"
  assert_success "docker tag ID-PREFIX NAME"
  assert_eq "$id" "$(dk image inspect -f '{{.Id}}' "$name:bytag")"
  cap2 dk history -q "${hex:0:12}"
  assert_success "docker history ID-PREFIX"
  dk rmi "$name:bytag" >/dev/null
  cap2 dk rmi "${hex:0:12}"
  assert_success "docker rmi ID-PREFIX (one tag)"
  assert_contains "$OUT" "Untagged: $name:1"
  assert_contains "$OUT" "Deleted: $id"
  cap2 dk image inspect "$id"
  assert_ne 0 "$RC" "the image is gone"
  # a prefix that matches nothing
  cap2 dk image inspect 0000000000ff
  assert_ne 0 "$RC"
  assert_contains "$ERR" "No such image"
}

test_history() {
  local name id
  name=$(img_name)
  extra_dir "$T/extra"
  mkimage -t "$name:1" -l "$T/extra" "$T/a.tar"
  id=$MKIMAGE_ID
  load_ok "$T/a.tar"
  local nhist
  nhist=$(tar -xOf "$T/a.tar" "$MKIMAGE_CONFIG" | jq '.history | length')
  assert_eq 3 "$nhist" "mkimage wrote 3 history entries"
  cap2 dk history "$name:1"
  assert_success "docker history"
  assert_match "$(printf '%s\n' "$OUT" | head -n1)" '^IMAGE +CREATED +CREATED BY +SIZE +COMMENT *$' "history header"
  assert_eq "$nhist" "$(printf '%s\n' "$OUT" | tail -n +2 | grep -c .)" "one row per history entry"
  assert_match "$(printf '%s\n' "$OUT" | sed -n 2p)" "^${id:7:12} " "the newest row has the image id"
  assert_match "$(printf '%s\n' "$OUT" | sed -n 3p)" '^<missing> ' "older rows are <missing>"
  cap2 dk history --no-trunc --format '{{.CreatedBy}}|{{.Size}}' "$name:1"
  assert_success
  assert_eq "/bin/sh -c #(nop)  CMD [\"sh\"]|0B" "$(printf '%s\n' "$OUT" | sed -n 1p)" "newest entry: the empty CMD layer"
  assert_match "$(printf '%s\n' "$OUT" | sed -n 2p)" "^/bin/sh -c #\\(nop\\) COPY .*\\|[0-9.]+[kM]?B\$" "middle entry: the extra layer"
  assert_match "$(printf '%s\n' "$OUT" | sed -n 3p)" '^/bin/sh -c #\(nop\) ADD busybox rootfs in / \|[0-9.]+MB$' "oldest entry: the busybox layer"
  cap2 dk history -q "$name:1"
  assert_eq "$nhist" "$(printf '%s\n' "$OUT" | grep -c .)" "history -q rows"
  # the raw answer
  api GET "/images/$name:1/history"
  assert_eq 200 "$API_STATUS" "GET /images/NAME/history"
  assert_json "$API_BODY" --argjson n "$nhist" 'type == "array" and length == $n' "history entries"
  assert_json "$API_BODY" 'all(.[]; (.Id | type) == "string" and (.Created | type) == "number"
      and (.CreatedBy | type) == "string" and (.Size | type) == "number" and (.Comment | type) == "string")' "history entry fields"
  assert_json "$API_BODY" --arg id "$id" --arg t "$name:1" '.[0].Id == $id and (.[0].Tags | index($t))' "newest entry: Id and Tags"
  assert_json "$API_BODY" '.[0].Size == 0 and .[2].Size > 1000000' "sizes per entry"
}

# ---------------------------------------------------------- tag and rmi

test_tag() {
  local name other id
  name=$(img_name)
  other=$(img_name other)
  mkimage -t "$name:1" "$T/a.tar"
  id=$MKIMAGE_ID
  load_ok "$T/a.tar"
  cap2 dk tag "$name:1" "$other:x"
  assert_success "docker tag"
  assert_eq "" "$OUT" "docker tag prints nothing"
  cap2 dk images --format '{{.Repository}}:{{.Tag}} {{.ID}}'
  assert_match "$OUT" "^$name:1 ${id:7:12}\$"
  assert_match "$OUT" "^$other:x ${id:7:12}\$" "docker images shows both tags with one id"
  cap2 dk image inspect -f '{{json .RepoTags}}' "$id"
  assert_json "$OUT" --arg a "$name:1" --arg b "$other:x" 'sort == ([$a, $b] | sort)' "RepoTags after docker tag"
  # the default tag is latest; names are normalized (docker.io/, library/)
  cap2 dk tag "$name:1" "$other"
  assert_success
  assert_eq "$id" "$(dk image inspect -f '{{.Id}}' "$other:latest")" "default tag latest"
  cap2 dk tag "$name:1" "docker.io/$other:full"
  assert_success "docker tag to docker.io/NAME"
  assert_eq "$id" "$(dk image inspect -f '{{.Id}}' "$other:full")" "docker.io/NAME is NAME"
  cap2 dk images --format '{{.Repository}}:{{.Tag}}' --filter reference="$other:full"
  assert_eq "$other:full" "$OUT" "docker images shows the familiar name"
  cap2 dk tag "$name:1" "localhost:5000/$other:reg"
  assert_success "docker tag to a registry name"
  cap2 dk images --format '{{.Repository}}:{{.Tag}}' "localhost:5000/$other"
  assert_eq "localhost:5000/$other:reg" "$OUT" "registry names keep their host"
  # tag again to the same name: no-op
  cap2 dk tag "$name:1" "$name:1"
  assert_success "re-tagging to the same name"
  # unknown source
  cap2 dk tag "$name:nope" "$other:y"
  assert_ne 0 "$RC" "docker tag of an unknown image must fail"
  assert_contains "$ERR" "No such image"
  cap2 dk image inspect "$other:y"
  assert_ne 0 "$RC" "no tag was made"
}

test_rmi() {
  local name other id
  name=$(img_name)
  other=$(img_name other)
  mkimage -t "$name:1" "$T/a.tar"
  id=$MKIMAGE_ID
  load_ok "$T/a.tar"
  dk tag "$name:1" "$name:2"
  # untag one of two tags
  cap2 dk rmi "$name:2"
  assert_success "docker rmi of a tag"
  assert_eq "Untagged: $name:2" "$OUT" "only untagged"
  assert_eq "$id" "$(dk image inspect -f '{{.Id}}' "$name:1")" "the image is still there"
  # an id with tags in two repositories: refused without -f
  dk tag "$name:1" "$other:1"
  cap2 dk rmi "${id:7:12}"
  assert_ne 0 "$RC" "docker rmi ID of an image with several names must fail without -f"
  assert_match "$ERR" 'conflict|must be forced|referenced in multiple' "conflict message"
  assert_eq "$id" "$(dk image inspect -f '{{.Id}}' "$name:1")" "the image is still there after a refused rmi"
  api DELETE "/images/$id"
  assert_api_error 409 'conflict|must be forced|referenced in multiple'
  # the last tag: untagged and deleted
  dk rmi "$other:1" >/dev/null
  cap2 dk rmi "$name:1"
  assert_success "docker rmi of the last tag"
  assert_contains "$OUT" "Untagged: $name:1"
  assert_contains "$OUT" "Deleted: $id"
  assert_match "$(printf '%s\n' "$OUT" | head -n1)" '^Untagged: ' "Untagged comes first"
  cap2 dk image inspect "$id"
  assert_ne 0 "$RC" "the image is gone after rmi of its last tag"
  # -f with an id removes every name
  mkimage -t "$name:3" "$T/b.tar"
  id=$MKIMAGE_ID
  load_ok "$T/b.tar"
  dk tag "$name:3" "$other:3"
  cap2 dk rmi -f "$id"
  assert_success "docker rmi -f ID"
  assert_contains "$OUT" "Untagged: $name:3"
  assert_contains "$OUT" "Untagged: $other:3"
  assert_contains "$OUT" "Deleted: $id"
  cap2 dk image inspect "$other:3"
  assert_ne 0 "$RC"
  # raw answer shape
  mkimage -t "$name:4" "$T/c.tar"
  id=$MKIMAGE_ID
  load_ok "$T/c.tar"
  api DELETE "/images/$name:4"
  assert_eq 200 "$API_STATUS" "DELETE /images/NAME"
  assert_json "$API_BODY" --arg t "$name:4" --arg id "$id" \
    'type == "array" and .[0] == {"Untagged": $t} and ([.[] | .Deleted // empty] | index($id))' "[{Untagged}, {Deleted}...]"
}

test_rmi_unknown() {
  local name
  name=$(img_name)
  cap2 dk rmi "$name:nope"
  assert_ne 0 "$RC" "docker rmi of an unknown image must fail"
  assert_contains "$ERR" "No such image"
  # one known, one unknown: the known one is removed, the command fails
  mkimage -t "$name:1" "$T/a.tar"
  load_ok "$T/a.tar"
  cap2 dk rmi "$name:1" "$name:nope"
  assert_ne 0 "$RC"
  assert_contains "$OUT" "Untagged: $name:1"
  assert_contains "$ERR" "No such image"
  cap2 dk image inspect "$name:1"
  assert_ne 0 "$RC" "the known image was removed"
}

# ------------------------------------------------------------------ save

# check_saved_archive TAR: manifest.json present; every Config/Layers path
# exists (extracted, so that in-archive symlinks resolve: Docker writes a
# layer shared by two images once and makes the other path a relative
# symlink to it); config sha256 = image id; each layer (gunzipped) hashes
# to its diff id. Sets SAVED_MANIFEST, appends to SAVED_CONFIG_IDS.
check_saved_archive() {
  local tarf=$1 x cfg i l n chex real
  x=$(mktemp -d "$T/saved.XXXXXX")
  tar -C "$x" -xf "$tarf" || fail "docker save wrote no valid tar"
  [ -f "$x/manifest.json" ] || fail "no manifest.json in the saved archive: $(tar -tf "$tarf" | head -n 20 | tr '\n' ' ')"
  SAVED_MANIFEST=$(cat "$x/manifest.json")
  assert_json "$SAVED_MANIFEST" 'type == "array" and length >= 1' "manifest.json"
  n=$(printf '%s' "$SAVED_MANIFEST" | jq length)
  for i in $(seq 0 $((n - 1))); do
    cfg=$(printf '%s' "$SAVED_MANIFEST" | jq -r ".[$i].Config")
    [ -f "$x/$cfg" ] || fail "config $cfg is not in the archive"
    chex=$(sha256sum < "$x/$cfg" | cut -d' ' -f1)
    local -a diffs
    mapfile -t diffs < <(jq -r '.rootfs.diff_ids[]' "$x/$cfg")
    local j=0
    for l in $(printf '%s' "$SAVED_MANIFEST" | jq -r ".[$i].Layers[]"); do
      [ -f "$x/$l" ] || fail "layer $l is not in the archive"
      real=$(realpath "$x/$l")
      case $real in "$x"/*) ;; *) fail "layer path $l leaves the archive ($real)" ;; esac
      local lh
      lh=$(gzip -dcf < "$x/$l" | sha256sum | cut -d' ' -f1)
      assert_eq "${diffs[$j]:-}" "sha256:$lh" "layer $j of image $i hashes to its diff id"
      j=$((j + 1))
    done
    assert_eq "${#diffs[@]}" "$j" "one layer file per diff id"
    SAVED_CONFIG_IDS+=("sha256:$chex")
  done
  rm -rf "$x"
}

test_save_load_fresh_daemon() {
  local name id
  name=$(img_name)
  extra_dir "$T/extra"
  mkimage -t "$name:1" -l "$T/extra" "$T/a.tar"
  id=$MKIMAGE_ID
  load_ok "$T/a.tar"
  dk save "$name:1" > "$T/saved.tar"
  SAVED_CONFIG_IDS=()
  check_saved_archive "$T/saved.tar"
  assert_json "$SAVED_MANIFEST" --arg t "$name:1" 'length == 1 and .[0].RepoTags == [$t]' "RepoTags in manifest.json"
  assert_eq "$id" "${SAVED_CONFIG_IDS[0]}" "the saved config is byte for byte the image's (sha256 = id)"
  # into a fresh daemon with its own data root
  local d=$T/d2
  defer "daemon_stop '$d'"
  daemon_start "$d"
  cap2 env DOCKER_HOST="$DAEMON2_HOST" DOCKER_CONFIG="$d/cli" "$DOCKER_BIN" load -i "$T/saved.tar"
  assert_success "docker load of the saved archive into a fresh daemon"
  assert_eq "Loaded image: $name:1" "$OUT"
  cap2 env DOCKER_HOST="$DAEMON2_HOST" DOCKER_CONFIG="$d/cli" "$DOCKER_BIN" image inspect -f '{{.Id}} {{json .RootFS.Layers}}' "$name:1"
  assert_eq "$id $(dk image inspect -f '{{json .RootFS.Layers}}' "$name:1")" "$OUT" "same id and layers in the fresh daemon"
  # saving by id: an archive without names
  dk save "$id" > "$T/byid.tar"
  SAVED_CONFIG_IDS=()
  check_saved_archive "$T/byid.tar"
  assert_json "$SAVED_MANIFEST" '(.[0].RepoTags // []) == []' "no RepoTags when saved by id"
  assert_eq "$id" "${SAVED_CONFIG_IDS[0]}"
}

test_save_two_images() {
  local a b ia ib
  a=$(img_name a); b=$(img_name b)
  mkimage -t "$a:1" "$T/a.tar"; ia=$MKIMAGE_ID
  extra_dir "$T/extra"
  mkimage -t "$b:1" -l "$T/extra" "$T/b.tar"; ib=$MKIMAGE_ID
  load_ok "$T/a.tar"
  load_ok "$T/b.tar"
  cap2 dk save -o "$T/two.tar" "$a:1" "$b:1"
  assert_success "docker save -o FILE A B"
  SAVED_CONFIG_IDS=()
  check_saved_archive "$T/two.tar"
  assert_json "$SAVED_MANIFEST" --arg a "$a:1" --arg b "$b:1" \
    'length == 2 and ([.[].RepoTags[]] | sort) == ([$a, $b] | sort)' "two images in manifest.json"
  assert_eq "$(printf '%s\n' "$ia" "$ib" | sort)" "$(printf '%s\n' "${SAVED_CONFIG_IDS[@]}" | sort)" "both configs saved"
  # the shared busybox layer is written once (or at least the archive loads)
  dk rmi "$a:1" "$b:1" >/dev/null
  cap2 dk load -i "$T/two.tar"
  assert_success "docker load of the two-image archive"
  assert_contains "$OUT" "Loaded image: $a:1"
  assert_contains "$OUT" "Loaded image: $b:1"
  assert_eq "$ia" "$(dk image inspect -f '{{.Id}}' "$a:1")"
  assert_eq "$ib" "$(dk image inspect -f '{{.Id}}' "$b:1")"
  # saving an unknown image fails and writes no file
  cap2 dk save -o "$T/none.tar" "$a:nope"
  assert_ne 0 "$RC" "docker save of an unknown image must fail"
  assert_match "$ERR" "No such image|does not exist" "error of docker save of an unknown image"
  [ ! -s "$T/none.tar" ] || fail "docker save of an unknown image wrote a file"
}

# ---------------------------------------------------------------- import

test_import() {
  local name id1 id2 id3
  name=$(img_name)
  mkimage_rootfs_tar "$T/rootfs.tar"
  # from a file, with NAME:TAG
  cap2 dk import "$T/rootfs.tar" "$name:imp"
  assert_success "docker import FILE NAME:TAG"
  id1=$(printf '%s\n' "$OUT" | tail -n1)
  assert_match "$id1" '^sha256:[0-9a-f]{64}$' "docker import prints the new id"
  cap2 dk image inspect "$name:imp"
  assert_success
  assert_json "$OUT" --arg id "$id1" '.[0].Id == $id' "Id"
  assert_json "$OUT" --arg t "$name:imp" '.[0].RepoTags == [$t]' "RepoTags"
  assert_json "$OUT" '.[0].RootFS.Layers | length == 1' "one layer"
  assert_json "$OUT" '.[0].Config.Cmd == null or .[0].Config.Cmd == []' "no Cmd without --change"
  assert_json "$OUT" '.[0].Os == "linux" and (.[0].Architecture | length) > 0' "Os, Architecture"
  assert_json "$OUT" --argjson b "$BUSYBOX_SIZE" '.[0].Size >= $b' "Size"
  local layer1
  layer1=$(printf '%s' "$OUT" | jq -r '.[0].RootFS.Layers[0]')
  assert_eq "sha256:$(sha256sum "$T/rootfs.tar" | cut -d' ' -f1)" "$layer1" "the diff id is the sha256 of the imported tar"
  # from stdin, with --change and a message; NAME without tag = latest
  cap2 dk import --change 'CMD ["sh"]' --change 'ENV FOO=bar' --change 'WORKDIR /tmp' -m "imported by $TEST_TAG" - "$name-stdin" < "$T/rootfs.tar"
  assert_success "docker import --change ... - NAME"
  id2=$(printf '%s\n' "$OUT" | tail -n1)
  cap2 dk image inspect "$name-stdin"
  assert_success
  assert_json "$OUT" --arg id "$id2" '.[0].Id == $id' "Id"
  assert_json "$OUT" --arg t "$name-stdin:latest" '.[0].RepoTags == [$t]' "RepoTags (latest)"
  assert_json "$OUT" '.[0].Config.Cmd == ["sh"]' "--change CMD"
  assert_json "$OUT" '.[0].Config.Env | index("FOO=bar")' "--change ENV"
  assert_json "$OUT" '.[0].Config.WorkingDir == "/tmp"' "--change WORKDIR"
  cap2 dk history --no-trunc --format '{{.Comment}}' "$name-stdin"
  assert_contains "$OUT" "imported by $TEST_TAG" "-m message in the history"
  # a gzip-compressed tar: same layer
  gzip -c "$T/rootfs.tar" > "$T/rootfs.tar.gz"
  cap2 dk import "$T/rootfs.tar.gz" "$name-gz:1"
  assert_success "docker import of a .tar.gz"
  id3=$(printf '%s\n' "$OUT" | tail -n1)
  assert_eq "$layer1" "$(dk image inspect -f '{{index .RootFS.Layers 0}}' "$id3")" "gzip import: same diff id as the plain tar"
  # not a tar: refused, nothing added
  local before
  before=$(image_ids)
  head -c 3000 /dev/urandom > "$T/junk"
  cap2 dk import "$T/junk" "$name-junk:1"
  assert_ne 0 "$RC" "docker import of junk must fail"
  assert_eq "$before" "$(image_ids)" "no image added by a failed import"
  cap2 dk image inspect "$name-junk:1"
  assert_ne 0 "$RC"
}

# ----------------------------------------------------------------- prune

test_image_prune() {
  local name k u
  name=$(img_name)
  mkimage -t "$name:1" "$T/k.tar"; k=$MKIMAGE_ID
  mkimage "$T/u.tar"; u=$MKIMAGE_ID
  load_ok "$T/k.tar"
  load_ok "$T/u.tar"
  cap2 dk image prune -f
  assert_success "docker image prune -f"
  assert_contains "$OUT" "deleted: $u" "the dangling image is deleted"
  assert_match "$OUT" '^Total reclaimed space: [0-9.]+[kMG]?B$' "reclaimed space line"
  cap2 dk image inspect "$u"
  assert_ne 0 "$RC" "dangling image gone"
  cap2 dk image inspect "$name:1"
  assert_success "a tagged image survives prune"
  # nothing dangling left: prune does nothing
  cap2 dk image prune -f
  assert_success
  assert_not_contains "$OUT" "$k"
  # -a: every image without a container
  cap2 dk image prune -af
  assert_success "docker image prune -af"
  assert_contains "$OUT" "untagged: $name:1"
  assert_contains "$OUT" "deleted: $k"
  cap2 dk image inspect "$name:1"
  assert_ne 0 "$RC" "prune -a removed the unused tagged image"
  # until: only images created before the time
  mkimage -c 2001-01-01T00:00:00Z "$T/old.tar"; local old=$MKIMAGE_ID
  mkimage -c 2030-01-01T00:00:00Z "$T/new.tar"; local new=$MKIMAGE_ID
  load_ok "$T/old.tar"
  load_ok "$T/new.tar"
  cap2 dk image prune -f --filter until=2020-01-01T00:00:00Z
  assert_success "docker image prune --filter until=..."
  assert_contains "$OUT" "deleted: $old" "an image created before until is pruned"
  assert_not_contains "$OUT" "$new" "an image created after until is kept"
  assert_ok dk image inspect "$new"
  assert_fails dk image prune -f --filter until=not-a-time
  cap2 dk image prune -f
  assert_contains "$OUT" "deleted: $new"
  # the raw answer
  mkimage "$T/u2.tar"; u=$MKIMAGE_ID
  load_ok "$T/u2.tar"
  api POST /images/prune
  assert_eq 200 "$API_STATUS" "POST /images/prune"
  assert_json "$API_BODY" '(.SpaceReclaimed | type) == "number"' "SpaceReclaimed"
  assert_json "$API_BODY" --arg u "$u" '[.ImagesDeleted[]? | .Deleted // empty] | index($u)' "ImagesDeleted lists the image"
}

run_daemon_tests "$@"
