#!/bin/bash
# berth, berth's own CLI, against berthd.
. "$(dirname "$0")/../lib/testlib.sh"
. "$(dirname "$0")/../lib/daemonlib.sh"

BERTH_CLI=${BERTH_CLI:-$(dirname "$RUNTIME")/berth}

bt() { timeout 60 "$BERTH_CLI" -H "$DOCKER_HOST" "$@"; }

test_version_and_info() {
  is_berthd || skip "berth talks to berthd only"
  cap bt version
  assert_success
  assert_match "$OUT" '^Server: berthd [0-9.]+ \(API 1\.44' "server line"
  cap bt info
  assert_success
  assert_contains "$OUT" "Cgroup Driver: cgroupfs"
}

test_image_lifecycle() {
  is_berthd || skip "berth talks to berthd only"
  local name
  name=$(img_name)
  mkimage -t "$name:1" "$T/a.tar"
  cap bt load -i "$T/a.tar"
  assert_success "berth load"
  assert_contains "$OUT" "Loaded image: $name:1"
  cap bt images
  assert_match "$OUT" "^$name +1 +${MKIMAGE_ID:7:12} " "berth images row"
  cap bt tag "$name:1" "$name:2"
  assert_success "berth tag"
  assert_eq "${MKIMAGE_ID}" "$(bt inspect "$name:2" | jq -r '.[0].Id')" "inspect the new tag"
  cap bt history "$name:1"
  assert_success "berth history"
  assert_contains "$OUT" "CREATED BY"
  bt save -o "$T/out.tar" "$name:1"
  tar tf "$T/out.tar" | grep -qx manifest.json || fail "saved archive has no manifest.json"
  cap bt rmi "$name:2"
  assert_contains "$OUT" "Untagged: $name:2"
  cap bt rmi "$name:1"
  assert_contains "$OUT" "Deleted: $MKIMAGE_ID"
}

test_import_with_change() {
  is_berthd || skip "berth talks to berthd only"
  local name
  name=$(img_name)
  mkimage_rootfs_tar "$T/rootfs.tar"
  cap bt import -c 'CMD ["echo","hi"]' "$T/rootfs.tar" "$name:imp"
  assert_success "berth import"
  assert_json "$(bt inspect "$name:imp")" '.[0].Config.Cmd == ["echo","hi"]' "the change is in the config"
}

test_errors() {
  is_berthd || skip "berth talks to berthd only"
  cap bt inspect "no-such-image-$TEST_TAG"
  assert_ne 0 "$RC"
  assert_match "$OUT" "No such (image|object)"  # (inspect: a container, else an image)
  cap bt load -i /nonexistent.tar
  assert_ne 0 "$RC"
  cap "$BERTH_CLI" -H unix:///nonexistent.sock version
  assert_ne 0 "$RC"
  assert_contains "$OUT" "cannot reach berthd"
  cap bt frobnicate
  assert_ne 0 "$RC"
  assert_contains "$OUT" "unknown command"
}

run_daemon_tests "$@"
