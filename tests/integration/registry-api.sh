#!/bin/bash
# registry-api: OCI distribution-spec conformance of berth-registry, with
# curl against a private registry (tests/lib/registrylib.sh).
. "$(dirname "$0")/../lib/testlib.sh"
. "$(dirname "$0")/../lib/registrylib.sh"

OCI_MANIFEST=application/vnd.oci.image.manifest.v1+json
OCI_INDEX=application/vnd.oci.image.index.v1+json
DOCKER_MANIFEST=application/vnd.docker.distribution.manifest.v2+json

# image ADDR NAME [TAG] [EXTRA-JQ]: pushes a config and a random layer and
# an OCI manifest (tagged TAG if given). Sets IMG_DIGEST, IMG_FILE,
# IMG_CONFIG, IMG_LAYER (digests).
image() {
  local addr=$1 name=$2 tag=${3:-} extra=${4:-.}
  local dir; dir=$(mktemp -d "$T/img.XXXX")
  printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"n":"%s"}' "$RANDOM$RANDOM" > "$dir/config"
  head -c 3000 /dev/urandom > "$dir/layer"
  IMG_CONFIG=$(blob_put "$addr" "$name" "$dir/config")
  IMG_LAYER=$(blob_put "$addr" "$name" "$dir/layer")
  jq -cn --arg c "$IMG_CONFIG" --argjson cs "$(stat -c %s "$dir/config")" --arg l "$IMG_LAYER" \
    --argjson ls "$(stat -c %s "$dir/layer")" --arg mt "$OCI_MANIFEST" '{schemaVersion:2, mediaType:$mt,
      config:{mediaType:"application/vnd.oci.image.config.v1+json", digest:$c, size:$cs},
      layers:[{mediaType:"application/vnd.oci.image.layer.v1.tar", digest:$l, size:$ls}]}' |
    jq -c "$extra" > "$dir/manifest"
  IMG_FILE=$dir/manifest
  IMG_DIGEST=$(sha "$dir/manifest")
  req PUT "http://$addr/v2/$name/manifests/${tag:-$IMG_DIGEST}" -H "Content-Type: $(jq -r '.mediaType // "application/vnd.oci.image.manifest.v1+json"' "$dir/manifest")" \
    --data-binary "@$dir/manifest"
  assert_status 201
}

test_base_endpoint() {
  req GET "http://$REG/v2/"
  assert_status 200
  assert_eq "registry/2.0" "$(hdr Docker-Distribution-API-Version)"
  req GET "http://$REG/v2/nothing/here/at/all"
  assert_eq 404 "$HTTP_STATUS"
  assert_eq "registry/2.0" "$(hdr Docker-Distribution-API-Version)" "every answer has the API header"
}

test_monolithic_upload_head_get() {
  local n; n=$(repo_name)
  head -c 100000 /dev/urandom > blob
  local d; d=$(sha blob)
  req HEAD "http://$REG/v2/$n/blobs/$d"
  assert_status 404
  req POST "http://$REG/v2/$n/blobs/uploads/?digest=$d" --data-binary @blob
  assert_status 201
  assert_eq "/v2/$n/blobs/$d" "$(hdr Location)"
  assert_eq "$d" "$(hdr Docker-Content-Digest)"
  req HEAD "http://$REG/v2/$n/blobs/$d"
  assert_status 200
  assert_eq 100000 "$(hdr Content-Length)"
  assert_eq "$d" "$(hdr Docker-Content-Digest)"
  curl -sS -o got "http://$REG/v2/$n/blobs/$d"
  cmp blob got || fail "GET returned other bytes"
  # POST + single PUT with the body
  head -c 5000 /dev/urandom > blob2
  req POST "http://$REG/v2/$n/blobs/uploads/"
  assert_status 202
  local loc; loc=$(hdr Location)
  assert_match "$loc" "^/v2/$n/blobs/uploads/[0-9a-f]{32}$"
  assert_eq "0-0" "$(hdr Range)"
  req PUT "http://$REG$loc?digest=$(sha blob2)" --data-binary @blob2 -H 'Content-Type: application/octet-stream'
  assert_status 201
  req GET "http://$REG/v2/$n/blobs/$(sha blob2)"
  assert_status 200
  assert_eq "$(sha blob2)" "$(printf '%s' "$HTTP_BODY" | head -c 0; sha "$T/.req.$$.body")"
}

test_chunked_upload_and_status() {
  local n; n=$(repo_name)
  head -c 300000 /dev/urandom > blob
  head -c 100000 blob > c1; tail -c +100001 blob | head -c 150000 > c2; tail -c +250001 blob > c3
  req POST "http://$REG/v2/$n/blobs/uploads/"
  local loc; loc=$(hdr Location)
  req PATCH "http://$REG$loc" -H 'Content-Type: application/octet-stream' -H 'Content-Range: 0-99999' --data-binary @c1
  assert_status 202
  assert_eq "0-99999" "$(hdr Range)"
  loc=$(hdr Location)
  req GET "http://$REG$loc"
  assert_status 204
  assert_eq "0-99999" "$(hdr Range)"
  assert_eq "${loc##*/}" "$(hdr Docker-Upload-UUID)"
  # a chunk without Content-Range (streamed) is appended too
  req PATCH "http://$REG$loc" -H 'Content-Type: application/octet-stream' --data-binary @c2
  assert_status 202
  assert_eq "0-249999" "$(hdr Range)"
  req PUT "http://$REG$loc?digest=$(sha blob)" -H 'Content-Range: 250000-299999' --data-binary @c3
  assert_status 201
  curl -sS -o got "http://$REG/v2/$n/blobs/$(sha blob)"
  cmp blob got || fail "chunked upload stored other bytes"
  req GET "http://$REG$loc"
  assert_error BLOB_UPLOAD_UNKNOWN 404
}

test_chunk_out_of_order_416() {
  local n; n=$(repo_name)
  printf 'abcdefghij' > blob
  req POST "http://$REG/v2/$n/blobs/uploads/"
  local loc; loc=$(hdr Location)
  req PATCH "http://$REG$loc" -H 'Content-Range: 0-4' --data-binary abcde
  assert_status 202
  req PATCH "http://$REG$loc" -H 'Content-Range: 7-9' --data-binary hij
  assert_error BLOB_UPLOAD_INVALID 416
  assert_eq "0-4" "$(hdr Range)" "416 tells where the upload stands"
  req PATCH "http://$REG$loc" -H 'Content-Range: 0-4' --data-binary abcde
  assert_status 416
  req PATCH "http://$REG$loc" -H 'Content-Range: 5-9' --data-binary fghij
  assert_status 202
  req PUT "http://$REG$loc?digest=$(sha blob)"
  assert_status 201
}

test_cancelled_upload() {
  local n; n=$(repo_name)
  req POST "http://$REG/v2/$n/blobs/uploads/"
  local loc; loc=$(hdr Location)
  req PATCH "http://$REG$loc" --data-binary 'some bytes'
  assert_status 202
  req DELETE "http://$REG$loc"
  assert_status 204
  req GET "http://$REG$loc"
  assert_error BLOB_UPLOAD_UNKNOWN 404
  req PATCH "http://$REG$loc" --data-binary 'more'
  assert_error BLOB_UPLOAD_UNKNOWN 404
  req DELETE "http://$REG$loc"
  assert_error BLOB_UPLOAD_UNKNOWN 404
  [ -z "$(ls "$REG_ROOT/repositories/$n/_uploads" 2>/dev/null)" ] || fail "upload folder left: $(ls "$REG_ROOT/repositories/$n/_uploads")"
  req GET "http://$REG/v2/$n/blobs/uploads/../../../../etc"
  assert_ne 200 "$HTTP_STATUS"
  req GET "http://$REG/v2/$n/blobs/uploads/0123456789abcdef0123456789abcdeg"
  assert_error BLOB_UPLOAD_UNKNOWN 404
}

test_wrong_digest_not_committed() {
  local n; n=$(repo_name)
  printf 'real content' > blob
  local wrong=sha256:0000000000000000000000000000000000000000000000000000000000000001
  req POST "http://$REG/v2/$n/blobs/uploads/?digest=$wrong" --data-binary @blob
  assert_error DIGEST_INVALID 400
  req HEAD "http://$REG/v2/$n/blobs/$wrong"
  assert_status 404
  req HEAD "http://$REG/v2/$n/blobs/$(sha blob)"
  assert_status 404
  [ ! -e "$REG_ROOT/blobs/sha256/00/${wrong#sha256:}" ] || fail "a blob was committed under the wrong digest"
  # chunked: the final PUT checks it
  req POST "http://$REG/v2/$n/blobs/uploads/"
  local loc; loc=$(hdr Location)
  req PATCH "http://$REG$loc" --data-binary @blob
  req PUT "http://$REG$loc?digest=$wrong"
  assert_error DIGEST_INVALID 400
  req HEAD "http://$REG/v2/$n/blobs/$(sha blob)"
  assert_status 404
  req PUT "http://$REG/v2/$n/blobs/uploads/${loc##*/}?digest=sha256:xyz"
  assert_ne 201 "$HTTP_STATUS"
  req POST "http://$REG/v2/$n/blobs/uploads/?digest=md5:abc" --data-binary @blob
  assert_error DIGEST_INVALID 400
}

test_range_get() {
  local n; n=$(repo_name)
  printf '0123456789abcdefghij' > blob
  local d; d=$(blob_put "$REG" "$n" blob)
  req GET "http://$REG/v2/$n/blobs/$d" -H 'Range: bytes=5-9'
  assert_status 206
  assert_eq "56789" "$HTTP_BODY"
  assert_eq "bytes 5-9/20" "$(hdr Content-Range)"
  req GET "http://$REG/v2/$n/blobs/$d" -H 'Range: bytes=15-'
  assert_status 206
  assert_eq "fghij" "$HTTP_BODY"
  req GET "http://$REG/v2/$n/blobs/$d" -H 'Range: bytes=-3'
  assert_eq "hij" "$HTTP_BODY"
  req GET "http://$REG/v2/$n/blobs/$d" -H 'Range: bytes=30-40'
  assert_status 416
  assert_eq "bytes */20" "$(hdr Content-Range)"
  req GET "http://$REG/v2/$n/blobs/$d" -H 'Range: bytes=10-500'
  assert_status 206
  assert_eq "abcdefghij" "$HTTP_BODY"
}

test_cross_repo_mount() {
  local a b; a=$(repo_name a); b=$(repo_name b)
  head -c 4096 /dev/urandom > blob
  local d; d=$(blob_put "$REG" "$a" blob)
  req HEAD "http://$REG/v2/$b/blobs/$d"
  assert_status 404 # the blob is not in b until mounted
  req POST "http://$REG/v2/$b/blobs/uploads/?mount=$d&from=$a"
  assert_status 201
  assert_eq "/v2/$b/blobs/$d" "$(hdr Location)"
  assert_eq "$d" "$(hdr Docker-Content-Digest)"
  req HEAD "http://$REG/v2/$b/blobs/$d"
  assert_status 200
  # from a repository without it: an ordinary upload starts instead
  local c; c=$(repo_name c)
  req POST "http://$REG/v2/$c/blobs/uploads/?mount=$d&from=$(repo_name nowhere)"
  assert_status 202
  assert_match "$(hdr Location)" "^/v2/$c/blobs/uploads/"
}

test_blob_delete() {
  local n; n=$(repo_name)
  printf 'delete me' > blob
  local d; d=$(blob_put "$REG" "$n" blob)
  req DELETE "http://$REG/v2/$n/blobs/$d"
  assert_status 202
  req HEAD "http://$REG/v2/$n/blobs/$d"
  assert_status 404
  req GET "http://$REG/v2/$n/blobs/$d"
  assert_error BLOB_UNKNOWN 404
  req DELETE "http://$REG/v2/$n/blobs/$d"
  assert_error BLOB_UNKNOWN 404
  req GET "http://$REG/v2/$n/blobs/sha256:notadigest"
  assert_error DIGEST_INVALID 400
}

test_manifest_by_tag_and_digest() {
  local n; n=$(repo_name)
  image "$REG" "$n" v1
  assert_eq "$IMG_DIGEST" "$(hdr Docker-Content-Digest)"
  assert_eq "/v2/$n/manifests/$IMG_DIGEST" "$(hdr Location)"
  req GET "http://$REG/v2/$n/manifests/v1" -H "Accept: $OCI_MANIFEST"
  assert_status 200
  assert_eq "$OCI_MANIFEST" "$(hdr Content-Type)"
  assert_eq "$IMG_DIGEST" "$(hdr Docker-Content-Digest)"
  assert_eq "$(cat "$IMG_FILE")" "$HTTP_BODY"
  req HEAD "http://$REG/v2/$n/manifests/$IMG_DIGEST"
  assert_status 200
  assert_eq "$(stat -c %s "$IMG_FILE")" "$(hdr Content-Length)"
  assert_eq "$IMG_DIGEST" "$(hdr Docker-Content-Digest)"
  req GET "http://$REG/v2/$n/manifests/v2"
  assert_error MANIFEST_UNKNOWN 404
  # PUT by digest, and a digest that does not match the body
  req PUT "http://$REG/v2/$n/manifests/$IMG_DIGEST" -H "Content-Type: $OCI_MANIFEST" --data-binary "@$IMG_FILE"
  assert_status 201
  req PUT "http://$REG/v2/$n/manifests/sha256:1111111111111111111111111111111111111111111111111111111111111111" \
    -H "Content-Type: $OCI_MANIFEST" --data-binary "@$IMG_FILE"
  assert_error DIGEST_INVALID 400
  # retag
  req PUT "http://$REG/v2/$n/manifests/latest" -H "Content-Type: $OCI_MANIFEST" --data-binary "@$IMG_FILE"
  req GET "http://$REG/v2/$n/manifests/latest"
  assert_eq "$IMG_DIGEST" "$(hdr Docker-Content-Digest)"
}

test_docker_schema2_and_index() {
  local n; n=$(repo_name)
  image "$REG" "$n" "" ".mediaType = \"$DOCKER_MANIFEST\" | .config.mediaType = \"application/vnd.docker.container.image.v1+json\""
  local child=$IMG_DIGEST size; size=$(stat -c %s "$IMG_FILE")
  req GET "http://$REG/v2/$n/manifests/$child"
  assert_eq "$DOCKER_MANIFEST" "$(hdr Content-Type)"
  jq -cn --arg d "$child" --argjson s "$size" --arg mt "$DOCKER_MANIFEST" '{schemaVersion:2,
    mediaType:"application/vnd.docker.distribution.manifest.list.v2+json",
    manifests:[{mediaType:$mt, digest:$d, size:$s, platform:{architecture:"amd64",os:"linux"}}]}' > list
  req PUT "http://$REG/v2/$n/manifests/multi" -H 'Content-Type: application/vnd.docker.distribution.manifest.list.v2+json' --data-binary @list
  assert_status 201
  req GET "http://$REG/v2/$n/manifests/multi"
  assert_eq "application/vnd.docker.distribution.manifest.list.v2+json" "$(hdr Content-Type)"
  # an OCI index naming a manifest the repository does not have
  jq -cn --arg mt "$OCI_INDEX" '{schemaVersion:2, mediaType:$mt, manifests:[{mediaType:"application/vnd.oci.image.manifest.v1+json",
    digest:"sha256:2222222222222222222222222222222222222222222222222222222222222222", size:10}]}' > index
  req PUT "http://$REG/v2/$n/manifests/idx" -H "Content-Type: $OCI_INDEX" --data-binary @index
  assert_error MANIFEST_BLOB_UNKNOWN 400
}

test_manifest_missing_blob() {
  local n; n=$(repo_name)
  image "$REG" "$n" ok
  jq -c '.layers[0].digest = "sha256:3333333333333333333333333333333333333333333333333333333333333333"' "$IMG_FILE" > m
  req PUT "http://$REG/v2/$n/manifests/bad" -H "Content-Type: $OCI_MANIFEST" --data-binary @m
  assert_error MANIFEST_BLOB_UNKNOWN 400
  assert_contains "$HTTP_BODY" "sha256:3333"
  req GET "http://$REG/v2/$n/manifests/bad"
  assert_status 404
  # a blob of another repository does not count
  local o; o=$(repo_name other)
  req PUT "http://$REG/v2/$o/manifests/x" -H "Content-Type: $OCI_MANIFEST" --data-binary "@$IMG_FILE"
  assert_error MANIFEST_BLOB_UNKNOWN 400
}

test_manifest_invalid() {
  local n; n=$(repo_name)
  image "$REG" "$n" ok
  req PUT "http://$REG/v2/$n/manifests/x" -H "Content-Type: $OCI_MANIFEST" --data-binary '{"schemaVersion":2,'
  assert_error MANIFEST_INVALID 400
  req PUT "http://$REG/v2/$n/manifests/x" -H "Content-Type: $DOCKER_MANIFEST" --data-binary "@$IMG_FILE"
  assert_error MANIFEST_INVALID 400 # body says OCI, header says Docker
  jq -c '.schemaVersion = 1' "$IMG_FILE" > m
  req PUT "http://$REG/v2/$n/manifests/x" -H "Content-Type: $OCI_MANIFEST" --data-binary @m
  assert_error MANIFEST_INVALID 400
  jq -c '.config.size = 1' "$IMG_FILE" > m
  req PUT "http://$REG/v2/$n/manifests/x" -H "Content-Type: $OCI_MANIFEST" --data-binary @m
  assert_error MANIFEST_INVALID 400
  req PUT "http://$REG/v2/$n/manifests/bad:tag" -H "Content-Type: $OCI_MANIFEST" --data-binary "@$IMG_FILE"
  assert_error MANIFEST_INVALID 400
  req GET "http://$REG/v2/$n/manifests/x"
  assert_error MANIFEST_UNKNOWN 404
}

test_manifest_oversized() {
  local n; n=$(repo_name)
  image "$REG" "$n" ok
  head -c 4300000 /dev/zero | tr '\0' a > pad
  jq -c --rawfile pad pad '.annotations = {pad: $pad}' "$IMG_FILE" > big
  [ "$(stat -c %s big)" -gt 4194304 ] || fail "test manifest too small"
  req PUT "http://$REG/v2/$n/manifests/big" -H "Content-Type: $OCI_MANIFEST" --data-binary @big
  assert_status 413
  assert_json "$HTTP_BODY" '.errors[0].code == "MANIFEST_INVALID"'
  req GET "http://$REG/v2/$n/manifests/big"
  assert_status 404
  req GET "http://$REG/v2/"
  assert_status 200
}

test_manifest_delete() {
  local n; n=$(repo_name)
  image "$REG" "$n" v1
  req PUT "http://$REG/v2/$n/manifests/v2" -H "Content-Type: $OCI_MANIFEST" --data-binary "@$IMG_FILE"
  # deleting a tag leaves the manifest
  req DELETE "http://$REG/v2/$n/manifests/v2"
  assert_status 202
  req GET "http://$REG/v2/$n/manifests/v2"
  assert_status 404
  req GET "http://$REG/v2/$n/manifests/$IMG_DIGEST"
  assert_status 200
  req DELETE "http://$REG/v2/$n/manifests/$IMG_DIGEST"
  assert_status 202
  req GET "http://$REG/v2/$n/manifests/$IMG_DIGEST"
  assert_error MANIFEST_UNKNOWN 404
  req GET "http://$REG/v2/$n/manifests/v1"
  assert_error MANIFEST_UNKNOWN 404
  req DELETE "http://$REG/v2/$n/manifests/$IMG_DIGEST"
  assert_error MANIFEST_UNKNOWN 404
}

test_tags_pagination() {
  local n t; n=$(repo_name)
  image "$REG" "$n" a
  for t in e c b d; do
    req PUT "http://$REG/v2/$n/manifests/$t" -H "Content-Type: $OCI_MANIFEST" --data-binary "@$IMG_FILE"
    assert_status 201
  done
  req GET "http://$REG/v2/$n/tags/list"
  assert_status 200
  assert_json "$HTTP_BODY" --arg n "$n" '.name == $n and .tags == ["a","b","c","d","e"]'
  [ -z "$(hdr Link)" ] || fail "a Link header without a next page"
  req GET "http://$REG/v2/$n/tags/list?n=2"
  assert_json "$HTTP_BODY" '.tags == ["a","b"]'
  assert_eq "</v2/$n/tags/list?n=2&last=b>; rel=\"next\"" "$(hdr Link)"
  req GET "http://$REG/v2/$n/tags/list?n=2&last=b"
  assert_json "$HTTP_BODY" '.tags == ["c","d"]'
  req GET "http://$REG/v2/$n/tags/list?n=2&last=d"
  assert_json "$HTTP_BODY" '.tags == ["e"]'
  [ -z "$(hdr Link)" ] || fail "a Link header on the last page"
  req GET "http://$REG/v2/$n/tags/list?n=0"
  assert_json "$HTTP_BODY" '.tags == []'
  req GET "http://$REG/v2/$(repo_name nothing)/tags/list"
  assert_error NAME_UNKNOWN 404
}

test_catalog_pagination() {
  reg_start "$T/r"
  defer "reg_stop '$T/r'"
  local r
  for r in zeta alpha mid/one mid alpha/two; do image "$R_ADDR" "$r" latest; done
  req GET "http://$R_ADDR/v2/_catalog"
  assert_status 200
  assert_json "$HTTP_BODY" '.repositories == ["alpha","alpha/two","mid","mid/one","zeta"]'
  req GET "http://$R_ADDR/v2/_catalog?n=2"
  assert_json "$HTTP_BODY" '.repositories == ["alpha","alpha/two"]'
  assert_eq '</v2/_catalog?n=2&last=alpha/two>; rel="next"' "$(hdr Link)"
  req GET "http://$R_ADDR/v2/_catalog?n=2&last=alpha/two"
  assert_json "$HTTP_BODY" '.repositories == ["mid","mid/one"]'
  req GET "http://$R_ADDR/v2/_catalog?n=10&last=mid/one"
  assert_json "$HTTP_BODY" '.repositories == ["zeta"]'
  # --max-page caps a page whatever the client asks, with a Link to the rest
  reg_stop "$T/r"
  reg_start "$T/r" --max-page 3
  req GET "http://$R_ADDR/v2/_catalog"
  assert_json "$HTTP_BODY" '.repositories == ["alpha","alpha/two","mid"]'
  assert_eq '</v2/_catalog?n=3&last=mid>; rel="next"' "$(hdr Link)"
  req GET "http://$R_ADDR/v2/_catalog?n=100&last=mid"
  assert_json "$HTTP_BODY" '.repositories == ["mid/one","zeta"]'
  local bad
  for bad in 0 -1 x 99999999; do
    assert_fails "$(registry_bin)" --max-page "$bad" --root "$T/bad" --listen 127.0.0.1:1
    assert_contains "$OUT" "--max-page"
  done
}

test_referrers() {
  local n; n=$(repo_name)
  image "$REG" "$n" base
  local subject=$IMG_DIGEST ssize; ssize=$(stat -c %s "$IMG_FILE")
  req GET "http://$REG/v2/$n/referrers/$subject"
  assert_status 200
  assert_json "$HTTP_BODY" '.manifests == [] and .schemaVersion == 2'
  assert_eq "$OCI_INDEX" "$(hdr Content-Type)"
  # two artifacts with a subject
  image "$REG" "$n" "" ".artifactType = \"application/vnd.example.sbom\" | .subject = {mediaType: \"$OCI_MANIFEST\", digest: \"$subject\", size: $ssize} | .annotations = {\"x\": \"1\"}"
  assert_eq "$subject" "$(hdr OCI-Subject)"
  local sbom=$IMG_DIGEST
  image "$REG" "$n" "" ".artifactType = \"application/vnd.example.sig\" | .subject = {mediaType: \"$OCI_MANIFEST\", digest: \"$subject\", size: $ssize}"
  local sig=$IMG_DIGEST
  req GET "http://$REG/v2/$n/referrers/$subject"
  assert_json "$HTTP_BODY" --arg a "$sbom" --arg b "$sig" '[.manifests[].digest] | sort == ([$a, $b] | sort)'
  assert_json "$HTTP_BODY" --arg a "$sbom" '.manifests[] | select(.digest == $a) | .artifactType == "application/vnd.example.sbom" and .annotations.x == "1"'
  [ -z "$(hdr OCI-Filters-Applied)" ] || fail "filter header without a filter"
  req GET "http://$REG/v2/$n/referrers/$subject?artifactType=application/vnd.example.sig"
  assert_json "$HTTP_BODY" --arg b "$sig" '[.manifests[].digest] == [$b]'
  assert_eq "artifactType" "$(hdr OCI-Filters-Applied)"
  # a deleted referrer disappears
  req DELETE "http://$REG/v2/$n/manifests/$sig"
  req GET "http://$REG/v2/$n/referrers/$subject"
  assert_json "$HTTP_BODY" --arg a "$sbom" '[.manifests[].digest] == [$a]'
  req GET "http://$REG/v2/$n/referrers/sha256:bad"
  assert_error DIGEST_INVALID 400
}

test_bad_names() {
  local bad
  for bad in 'Upper/case' 'a/../b' '..' 'a//b' 'a/' '-a' 'a-' 'a__-b' '.hidden' 'a/_layers'; do
    req GET "http://$REG/v2/$bad/tags/list" --path-as-is
    [ "$HTTP_STATUS" = 400 ] || [ "$HTTP_STATUS" = 404 ] || fail "name '$bad': HTTP $HTTP_STATUS"
    if [ "$HTTP_STATUS" = 400 ]; then assert_json "$HTTP_BODY" '.errors[0].code == "NAME_INVALID"'; fi
  done
  req GET "http://$REG/v2/Upper/tags/list"
  assert_error NAME_INVALID 400
  req GET "http://$REG/v2/a/../../../etc/manifests/passwd" --path-as-is
  assert_error NAME_INVALID 400
  req GET "http://$REG/v2/a/%2e%2e/%2e%2e/manifests/latest" --path-as-is
  assert_error NAME_INVALID 400
  req POST "http://$REG/v2/a/..%2f..%2fx/blobs/uploads/" --path-as-is
  assert_error NAME_INVALID 400
  req PUT "http://$REG/v2/ok/manifests/..%2f..%2fx" --path-as-is -H "Content-Type: $OCI_MANIFEST" --data-binary '{}'
  [ "$HTTP_STATUS" = 400 ] || [ "$HTTP_STATUS" = 404 ] || fail "tag ../../x: HTTP $HTTP_STATUS"
  req PUT "http://$REG/v2/ok/manifests/.x" -H "Content-Type: $OCI_MANIFEST" --data-binary '{}'
  assert_error MANIFEST_INVALID 400
  # nothing was created outside the store
  [ -z "$(find "$REG_ROOT/.." -maxdepth 1 -newer "$REG_ROOT" -name 'x*')" ] || fail "a file escaped the root"
  # valid unusual names work
  local n; n="$(repo_name)/a.b/c__d/e--f"
  printf 'x' > blob
  blob_put "$REG" "$n" blob >/dev/null
  req PATCH "http://$REG/v2/" --data-binary 'x'
  assert_error UNSUPPORTED 405
}

test_crash_during_upload() {
  reg_start "$T/r"
  defer "reg_stop '$T/r' KILL"
  head -c 20000000 /dev/urandom > blob
  local d; d=$(sha blob)
  req POST "http://$R_ADDR/v2/crash/blobs/uploads/"
  local loc; loc=$(hdr Location)
  # a slow PATCH, killed in the middle
  curl -sS -X PATCH --limit-rate 2M --data-binary @blob "http://$R_ADDR$loc" -o /dev/null 2>/dev/null &
  local cpid=$!
  sleep 1.5
  local part; part=$(stat -c %s "$T/r/root/repositories/crash/_uploads/${loc##*/}/data")
  [ "$part" -gt 0 ] && [ "$part" -lt 20000000 ] || fail "the upload was not in progress ($part bytes)"
  kill -9 "$R_PID"
  wait "$cpid" 2>/dev/null || true
  reg_stop "$T/r" KILL
  reg_start "$T/r"
  req HEAD "http://$R_ADDR/v2/crash/blobs/$d"
  assert_status 404
  [ -z "$(find "$T/r/root/blobs" -type f)" ] || fail "a blob file exists after the crash: $(find "$T/r/root/blobs" -type f)"
  # the interrupted upload can be resumed where it stands ...
  req GET "http://$R_ADDR$loc"
  assert_status 204
  local have; have=$(hdr Range); have=$(( ${have#0-} + 1 ))
  tail -c +$((have + 1)) blob > rest
  req PUT "http://$R_ADDR$loc?digest=$d" -H "Content-Range: $have-19999999" --data-binary @rest
  assert_status 201
  curl -sS -o got "http://$R_ADDR/v2/crash/blobs/$d"
  cmp blob got || fail "resumed upload stored other bytes"
  # ... and a fresh retry succeeds too
  local d2; d2=$(blob_put "$R_ADDR" crash2 blob)
  assert_eq "$d" "$d2"
}

test_garbage_collect() {
  reg_start "$T/r"
  local a=$R_ADDR root=$T/r/root
  image "$a" gc/keep v1
  local keep_m=$IMG_DIGEST keep_l=$IMG_LAYER keep_c=$IMG_CONFIG
  image "$a" gc/drop v1
  local drop_m=$IMG_DIGEST drop_l=$IMG_LAYER
  image "$a" gc/untagged
  local untagged_m=$IMG_DIGEST untagged_l=$IMG_LAYER
  printf 'orphan' > orphan
  local orphan; orphan=$(blob_put "$a" gc/keep orphan)
  req DELETE "http://$a/v2/gc/drop/manifests/$drop_m"
  assert_status 202
  reg_stop "$T/r"
  local bin; bin=$(registry_bin)
  blobfile() { printf '%s/blobs/sha256/%s/%s' "$root" "${1:7:2}" "${1#sha256:}"; }
  assert_ok "$bin" garbage-collect --root "$root" --dry-run
  assert_contains "$OUT" "$orphan"
  assert_contains "$OUT" "$drop_l"
  assert_exists "$(blobfile "$orphan")" "dry run deleted"
  assert_ok "$bin" garbage-collect --root "$root"
  assert_not_exists "$(blobfile "$orphan")"
  assert_not_exists "$(blobfile "$drop_l")"
  assert_not_exists "$(blobfile "$drop_m")"
  assert_exists "$(blobfile "$keep_m")"
  assert_exists "$(blobfile "$keep_l")"
  assert_exists "$(blobfile "$keep_c")"
  assert_exists "$(blobfile "$untagged_l")" "untagged manifests are kept without --delete-untagged"
  assert_ok "$bin" garbage-collect --root "$root" --delete-untagged
  assert_contains "$OUT" "$untagged_m"
  assert_not_exists "$(blobfile "$untagged_l")"
  assert_exists "$(blobfile "$keep_l")"
  reg_start "$T/r"
  defer "reg_stop '$T/r'"
  req GET "http://$R_ADDR/v2/gc/keep/manifests/v1"
  assert_status 200
  req HEAD "http://$R_ADDR/v2/gc/keep/blobs/$keep_l"
  assert_status 200
  req HEAD "http://$R_ADDR/v2/gc/keep/blobs/$orphan"
  assert_status 404
  req GET "http://$R_ADDR/v2/gc/untagged/manifests/$untagged_m"
  assert_status 404
  assert_fails "$bin" garbage-collect --root "$T/nonexistent"
}

run_registry_tests "$@"
