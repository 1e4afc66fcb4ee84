#!/bin/bash
# berthd-events.sh: `docker events` against the daemon: the image events
# Docker logs (tag, untag, delete, load, import) and their JSON shape,
# --since/--until replay, the filters (event, type, image), a live stream
# that receives an event that happens after it started, --until in the
# future ending the stream, a daemon stopping with streams open, and
# invalid arguments.
#
# One daemon per suite; each test uses its own repository names (img_name)
# and looks only at its own time window or its own names.
#
# Runs against berthd (default) or, to validate the tests, Debian's dockerd:
#   DAEMON=dockerd tests/run integration 'berthd-events*'
# Berth-only assertions are marked "berth-only".
: "${TEST_TIMEOUT:=90}"
. "$(dirname "$0")/../lib/testlib.sh"
. "$(dirname "$0")/../lib/daemonlib.sh"
. "$(dirname "$0")/../lib/containerlib.sh"

now() { date +%s.%N; }

# load_image NAME:TAG: a fresh busybox image, loaded; sets IMG_ID
load_image() {
  mkimage -t "$1" "$T/img.tar"
  IMG_ID=$MKIMAGE_ID
  cap dk load -i "$T/img.tar"
  assert_success "docker load"
}

# past_events SINCE UNTIL [ARGS...]: `docker events` over a closed window,
# one line per event as FORMAT (default: Action and Actor name); OUT
past_events() {
  local since=$1 until=$2; shift 2
  cap2 dk events --since "$since" --until "$until" "$@"
  assert_success "docker events --since $since --until $until $*"
}

fmt_short='{{.Type}} {{.Action}} {{.Actor.Attributes.name}}'

# ---------------------------------------------------------------- replay

test_tag_event_replayed_with_since_until() {
  local name s u
  name=$(img_name)
  load_image "$name:1"
  s=$(now)
  cap dk tag "$name:1" "$name:2"
  assert_success "docker tag"
  u=$(now)
  past_events "$s" "$u" --format '{{json .}}'
  assert_eq 1 "$(printf '%s\n' "$OUT" | grep -c .)" "exactly the tag event in the window"
  assert_json "$OUT" --arg id "$IMG_ID" --arg n "$name:2" \
    '.status == "tag" and .id == $id and .Type == "image" and .Action == "tag" and .Actor.ID == $id
     and .Actor.Attributes.name == $n and .scope == "local"' "the tag event's fields"
  assert_json "$OUT" --argjson s "${s%.*}" --argjson u "${u%.*}" \
    '(.time | type) == "number" and .time >= $s and .time <= $u and (.timeNano / 1000000000 | floor) == .time' \
    "time and timeNano"
  # --until alone replays too; a window before the tag is empty
  cap2 dk events --until "$u" --filter "image=$name" --format "$fmt_short"
  assert_success
  assert_contains "$OUT" "image tag $name:2"
  past_events "$(( ${s%.*} - 100 ))" "$(( ${s%.*} - 50 ))"
  assert_eq "" "$OUT" "no event in a window before the test"
}

test_api_returns_json_lines() {
  local name s u
  name=$(img_name)
  load_image "$name:1"
  s=$(now)
  dk tag "$name:1" "$name:a" && dk tag "$name:1" "$name:b"
  u=$(now)
  api GET "/events?since=$s&until=$u"
  assert_eq 200 "$API_STATUS" "GET /events"
  assert_match "$API_CTYPE" '^application/json' "Content-Type"
  assert_eq 2 "$(printf '%s\n' "$API_BODY" | grep -c .)" "one line per event"
  printf '%s\n' "$API_BODY" | jq -e -s --arg n "$name" \
    'map(.Actor.Attributes.name) == [$n + ":a", $n + ":b"]' >/dev/null ||
    fail "events are not in order, one JSON object per line: $API_BODY"
}

# ---------------------------------------------------------------- events

test_untag_and_delete_events() {
  local name s u want="" line
  name=$(img_name)
  load_image "$name:1"
  dk tag "$name:1" "$name:2"
  s=$(now)
  cap dk rmi "$name:2"
  assert_success
  assert_eq "Untagged: $name:2" "$OUT"
  want="untag $IMG_ID $IMG_ID"
  # one untag event per reference the daemon reports (a store may also
  # hold name@digest references), then the delete
  cap dk rmi "$name:1"
  assert_success
  assert_contains "$OUT" "Deleted: $IMG_ID"
  while read -r line; do
    case $line in Untagged:*) want="$want"$'\n'"untag $IMG_ID $IMG_ID" ;; esac
  done <<< "$OUT"
  want="$want"$'\n'"delete $IMG_ID $IMG_ID"
  u=$(now)
  past_events "$s" "$u" --format '{{.Action}} {{.Actor.ID}} {{.Actor.Attributes.name}}'
  assert_eq "$want" "$OUT" "untag per removed reference then delete, named by the image id"
}

test_load_and_import_events() {
  local name s u id
  name=$(img_name)
  mkimage -t "$name:1" -t "$name:2" "$T/img.tar"
  s=$(now)
  cap dk load -i "$T/img.tar"
  assert_success
  u=$(now)
  past_events "$s" "$u" --format '{{.Action}} {{.Actor.ID}} {{.Actor.Attributes.name}}'
  assert_eq "load $MKIMAGE_ID $MKIMAGE_ID" "$OUT" "one load event per image, named by its id"
  mkimage_rootfs_tar "$T/rootfs.tar"
  s=$(now)
  cap dk import "$T/rootfs.tar" "$name:imp"
  assert_success
  u=$(now)
  id=$(dk image inspect -f '{{.Id}}' "$name:imp")
  past_events "$s" "$u" --format '{{.Action}} {{.Actor.ID}} {{.Actor.Attributes.name}}'
  assert_eq "$(printf 'tag %s %s:imp\nimport %s %s' "$id" "$name" "$id" "$id")" "$OUT" "import: tag then import"
}

# --------------------------------------------------------------- filters

test_filters() {
  local name other s u
  name=$(img_name)
  other=$(img_name other)
  load_image "$name:1"
  s=$(now)
  dk tag "$name:1" "$name:2"
  dk tag "$name:1" "$other:1"
  dk rmi "$name:2" >/dev/null
  u=$(now)
  past_events "$s" "$u" --filter event=tag --format "$fmt_short"
  assert_eq "$(printf 'image tag %s:2\nimage tag %s:1' "$name" "$other")" "$OUT" "event=tag"
  past_events "$s" "$u" --filter type=image --format '{{.Action}}'
  assert_eq "$(printf 'tag\ntag\nuntag')" "$OUT" "type=image"
  past_events "$s" "$u" --filter type=container
  assert_eq "" "$OUT" "type=container: no image event"
  past_events "$s" "$u" --filter "image=$other" --format "$fmt_short"
  assert_eq "image tag $other:1" "$OUT" "image=NAME (the repository, without tag)"
  past_events "$s" "$u" --filter "image=$name:2" --format "$fmt_short"
  assert_eq "image tag $name:2" "$OUT" "image=NAME:TAG"
  past_events "$s" "$u" --filter "image=$IMG_ID" --format '{{.Action}}'
  assert_eq "$(printf 'tag\ntag\nuntag')" "$OUT" "image=ID"
  # values of one key are alternatives, keys must all match
  past_events "$s" "$u" --filter event=untag --filter event=tag --filter "image=$name" --format "$fmt_short"
  assert_eq "image tag $name:2" "$OUT" "event=untag|tag and image=NAME"
}

# ------------------------------------------------------------------ live

test_live_stream_gets_new_events() {
  local name pid i
  name=$(img_name)
  load_image "$name:1"
  dk events --filter event=tag --filter "image=$name" --format '{{json .}}' > "$T/live.out" 2> "$T/live.err" &
  pid=$!
  defer "kill $pid 2>/dev/null"
  # the stream may not be subscribed yet: tag until an event arrives
  for i in 1 2 3 4 5 6 7 8 9 10; do
    dk tag "$name:1" "$name:live$i"
    wait_for 1 grep -q . "$T/live.out" && break
  done
  grep -q . "$T/live.out" || fail "no event arrived on the live stream: $(cat "$T/live.err")"
  proc_alive "$pid" || fail "docker events ended: $(cat "$T/live.err")"
  assert_json "$(head -n1 "$T/live.out")" --arg id "$IMG_ID" \
    '.Action == "tag" and .Actor.ID == $id and (.Actor.Attributes.name | startswith("'"$name"':live"))'
  # an event the filter excludes does not arrive; the next tag does
  dk tag "$name:1" "$(img_name other):1"
  dk tag "$name:1" "$name:last"
  wait_for 10 grep -q "$name:last" "$T/live.out" || fail "the second event did not arrive"
  assert_not_contains "$(cat "$T/live.out")" "$(img_name other)" "the filter let another image through"
  kill "$pid"
}

test_until_in_the_future_ends_the_stream() {
  local name start end u
  name=$(img_name)
  load_image "$name:1"
  start=$(date +%s)
  u=$(( start + 3 ))
  dk events --since "$start" --until "$u" --filter "image=$name" --format "$fmt_short" > "$T/until.out" 2>&1 &
  sleep 1
  dk tag "$name:1" "$name:during"
  wait $! || fail "docker events --until failed: $(cat "$T/until.out")"
  end=$(date +%s)
  [ "$end" -ge "$u" ] && [ "$end" -le $(( u + 5 )) ] || fail "the stream ended at $end, --until was $u"
  assert_contains "$(cat "$T/until.out")" "image tag $name:during" "the event during the window"
}

test_shutdown_ends_live_streams() {
  local d=$T/d2 pid epid i
  daemon_start "$d"
  defer "daemon_stop '$d'"
  pid=$(cat "$d/daemon.bgpid")
  DOCKER_HOST=$DAEMON2_HOST dk events > "$T/ev.out" 2>&1 &
  epid=$!
  DOCKER_HOST=$DAEMON2_HOST dk events --filter type=network > /dev/null 2>&1 &
  sleep 1
  proc_alive "$epid" || fail "docker events ended early: $(cat "$T/ev.out")"
  kill -TERM "$pid"
  for i in $(seq 1 150); do proc_alive "$pid" || break; sleep 0.1; done
  proc_alive "$pid" && fail "the daemon did not stop within 15 s of SIGTERM with streams open"
  wait_for 10 eval "! proc_alive $epid" || fail "docker events still runs after the daemon stopped"
  return 0
}

# ---------------------------------------------------------------- errors

test_invalid_arguments() {
  cap dk events --filter foo
  assert_eq 125 "$RC" "malformed --filter"
  assert_contains "$OUT" "bad format of filter"
  api GET "/events?since=200&until=100"
  assert_api_error 400 'cannot be after'
  api GET "/events?filters=notjson&until=1"
  assert_api_error '400|500'
  api GET "/events?since=yesterday&until=1"
  assert_api_error '400|500'
  if is_berthd; then   # berth-only: dockerd 20.10 ignores unknown keys
    api GET "/events?until=1&filters=%7B%22frob%22%3A%5B%22x%22%5D%7D"
    assert_api_error 400 "invalid filter 'frob'"
    cap dk events --until 1 --filter frob=x
    assert_ne 0 "$RC"
    assert_contains "$OUT" "invalid filter 'frob'"
  fi
  assert_daemon_answers
}

# ------------------------------------------------------------ containers

test_exec_events_name_the_command() {
  local img name s u
  img=$(busybox_image)
  name=$(ct_name)
  ct_run_d "$name" "$img" sleep 100
  s=$(now)
  cap dk exec "$name" echo hello-exec
  assert_success
  u=$(now)
  past_events "$s" "$u" --filter "container=$name" --filter event=exec_start --format '{{.Action}}'
  assert_eq "exec_start: echo hello-exec" "$OUT" "the exec_start action"
  past_events "$s" "$u" --filter "container=$name" --format '{{.Action}}'
  assert_contains "$OUT" "exec_create: echo hello-exec"
  assert_contains "$OUT" "exec_die"
}

test_container_lifecycle_events() {
  local img name s u id
  img=$(busybox_image)
  name=$(ct_name)
  s=$(now)
  cap2 dk run --name "$name" "$img" sh -c 'exit 3'
  assert_eq 3 "$RC" "exit status of the container"
  id=$(ct_inspect "$name" '{{.Id}}')
  cap dk rm "$name"
  assert_success "docker rm"
  u=$(now)
  past_events "$s" "$u" --filter "container=$name" --format '{{.Type}} {{.Action}} {{.Actor.Attributes.name}}'
  local create start die destroy
  create=$(printf '%s\n' "$OUT" | grep -n "^container create $name\$" | cut -d: -f1 | head -n1)
  start=$(printf '%s\n' "$OUT" | grep -n "^container start $name\$" | cut -d: -f1 | head -n1)
  die=$(printf '%s\n' "$OUT" | grep -n "^container die $name\$" | cut -d: -f1 | head -n1)
  destroy=$(printf '%s\n' "$OUT" | grep -n "^container destroy $name\$" | cut -d: -f1 | head -n1)
  [ -n "$create" ] && [ -n "$start" ] && [ -n "$die" ] && [ -n "$destroy" ] ||
    fail "create, start, die and destroy events expected: $OUT"
  [ "$create" -lt "$start" ] && [ "$start" -lt "$die" ] && [ "$die" -lt "$destroy" ] ||
    fail "events out of order: $OUT"
  past_events "$s" "$u" --filter "container=$name" --filter event=die --format '{{json .}}'
  assert_json "$OUT" --arg id "$id" --arg img "$img" \
    '.Type == "container" and .Action == "die" and .Actor.ID == $id and .Actor.Attributes.exitCode == "3"
     and .Actor.Attributes.image == $img and .id == $id and .status == "die"' "the die event's fields"
  # --filter type=image leaves them out
  past_events "$s" "$u" --filter type=image --format '{{.Type}}'
  assert_not_contains "$OUT" container
}

run_daemon_tests "$@"
