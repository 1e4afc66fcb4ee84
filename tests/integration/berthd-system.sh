#!/bin/bash
# berthd-system.sh: the daemon's system endpoints, through the real docker
# CLI and raw HTTP on the Unix socket: docker version / info / system df,
# /_ping, /version, API version negotiation and versioned paths, restart
# with the same data root.
#
# Runs against berthd (default: "$(dirname "$RUNTIME")/berthd") or, with
# DAEMON=dockerd, against Debian's dockerd 20.10 to validate the tests:
#   DAEMON=dockerd tests/run integration 'berthd-*'
# Berth-only assertions (dockerd 20.10 is older than the API berthd
# implements) are marked "berth-only" below.
: "${TEST_TIMEOUT:=90}"
. "$(dirname "$0")/../lib/testlib.sh"
. "$(dirname "$0")/../lib/daemonlib.sh"

# The API version the server must at least speak: berthd implements 1.44+
# (Docker 25+ CLIs); Debian's dockerd 20.10 speaks 1.41.
min_api() { if is_dockerd; then echo 1.41; else echo 1.44; fi; }

server_api() { api GET /version; printf '%s' "$API_BODY" | jq -r .ApiVersion; }

test_version_cli() {
  cap2 dk version
  assert_success "docker version"
  assert_contains "$OUT" "Server:" "docker version shows a Server section"
  assert_not_contains "$ERR" "Error" "docker version printed an error"
  cap2 dk version --format '{{json .}}'
  assert_success "docker version --format json"
  local v=$OUT sapi capi
  assert_json "$v" '.Server != null' "Server section"
  assert_json "$v" '(.Server.Version | type) == "string" and (.Server.Version | length) > 0' "Server.Version"
  assert_json "$v" '.Server.Os == "linux"' "Server.Os"
  assert_json "$v" '(.Server.Arch | length) > 0' "Server.Arch"
  sapi=$(printf '%s' "$v" | jq -r .Server.ApiVersion)
  assert_match "$sapi" '^1\.[0-9]+$' "server API version"
  ver_ge "$sapi" "$(min_api)" || fail "server API version $sapi < $(min_api)"
  local smin
  smin=$(printf '%s' "$v" | jq -r .Server.MinAPIVersion)
  assert_match "$smin" '^1\.[0-9]+$' "server MinAPIVersion"
  ver_ge 1.24 "$smin" || fail "server MinAPIVersion $smin > 1.24"
  # the CLI negotiated the server's version (it reads the Api-Version
  # header of /_ping; without it the CLI would fall back to 1.24)
  local cmax
  capi=$(printf '%s' "$v" | jq -r .Client.ApiVersion)
  cmax=$(printf '%s' "$v" | jq -r '.Client.DefaultAPIVersion // "1.50"')
  if ver_ge "$cmax" "$sapi"; then
    assert_eq "$sapi" "$capi" "the CLI uses the server's API version"
  else
    assert_eq "$cmax" "$capi" "the CLI uses its own maximum"
  fi
  # an Engine component is listed (the CLI adds one if the server gives none)
  assert_json "$v" '[.Server.Components[]? | select(.Name == "Engine")] | length == 1' "Engine component"
}

test_info_cli() {
  local name
  name=$(img_name)
  mkimage -t "$name:1" "$T/a.tar"
  dk load -i "$T/a.tar" >/dev/null
  cap2 dk info
  assert_success "docker info"
  assert_contains "$OUT" "Server Version:"
  assert_not_contains "$OUT" "ERROR" "docker info reported a server error"
  cap2 dk info --format '{{json .}}'
  assert_success "docker info --format json"
  local j=$OUT
  assert_json "$j" '(.ServerErrors // []) | length == 0' "no ServerErrors"
  assert_json "$j" '(.ServerVersion | type) == "string" and (.ServerVersion | length) > 0' "ServerVersion"
  assert_json "$j" '(.Driver | type) == "string" and (.Driver | length) > 0' "Driver"
  assert_json "$j" '[.Containers, .ContainersRunning, .ContainersPaused, .ContainersStopped, .Images] | all(type == "number")' "counts are numbers"
  assert_json "$j" '.Containers == .ContainersRunning + .ContainersPaused + .ContainersStopped' "container counts add up"
  assert_json "$j" '(.CgroupVersion == "1" or .CgroupVersion == "2")' "CgroupVersion"
  assert_json "$j" '(.CgroupDriver | type) == "string" and (.CgroupDriver | length) > 0' "CgroupDriver"
  assert_json "$j" '.OSType == "linux"' "OSType"
  assert_json "$j" '(.NCPU | type) == "number" and .NCPU > 0 and (.MemTotal | type) == "number" and .MemTotal > 0' "NCPU, MemTotal"
  assert_json "$j" '(.DockerRootDir | type) == "string"' "DockerRootDir"
  # Images counts every image: the same number as `docker images -a`
  local n
  n=$(image_ids | grep -c . || true)
  [ "$n" -ge 1 ] || fail "docker images lists no image after a load"
  assert_json "$j" --argjson n "$n" '.Images == $n' "Images count equals the number of image ids"
}

test_system_df() {
  local name
  name=$(img_name)
  mkimage -t "$name:1" "$T/a.tar"
  dk load -i "$T/a.tar" >/dev/null
  cap2 dk system df
  assert_success "docker system df"
  assert_match "$OUT" '^TYPE[[:space:]]+TOTAL[[:space:]]+ACTIVE[[:space:]]+SIZE[[:space:]]+RECLAIMABLE' "header"
  assert_match "$OUT" '^Images[[:space:]]+[0-9]+[[:space:]]+[0-9]+[[:space:]]+[0-9.]+[kMG]?B' "Images line"
  assert_match "$OUT" '^Containers[[:space:]]+[0-9]+' "Containers line"
  cap2 dk system df --format '{{json .}}'
  assert_success
  local n
  n=$(image_ids | grep -c . || true)
  printf '%s\n' "$OUT" | jq -se --arg n "$n" 'map(select(.Type == "Images"))[0].TotalCount == $n' >/dev/null ||
    fail "system df Images TotalCount is not $n: $OUT"
  cap2 dk system df -v
  assert_success "docker system df -v"
  assert_contains "$OUT" "Images space usage"
  assert_match "$OUT" "^$name[[:space:]]+1[[:space:]]" "system df -v lists the image"
  # the raw answer
  api GET /system/df
  assert_eq 200 "$API_STATUS" "GET /system/df"
  assert_json "$API_BODY" '(.LayersSize | type) == "number" and (.Images | type) == "array"' "system df JSON"
  assert_json "$API_BODY" --arg t "$name:1" '[.Images[] | select((.RepoTags // []) | index($t))] | length == 1' \
    "system df lists $name:1"
  assert_json "$API_BODY" --arg t "$name:1" '.Images[] | select((.RepoTags // []) | index($t)) |
     (.Size | type) == "number" and .Size > 0 and (.Containers | type) == "number"' "system df image entry"
}

test_ping_api() {
  api GET /_ping
  assert_eq 200 "$API_STATUS" "GET /_ping"
  assert_eq OK "$API_BODY" "GET /_ping body"
  assert_match "$(api_header Api-Version)" '^1\.[0-9]+$' "Api-Version header"
  assert_eq linux "$(api_header Ostype)" "Ostype header"
  api_has_header Docker-Experimental || fail "no Docker-Experimental header"
  assert_match "$(api_header Docker-Experimental)" '^(true|false)$' "Docker-Experimental header"
  # berth-only: dockerd 20.10 sends Builder-Version only with BuildKit set
  # up; berthd always says which builder it has (the CLI reads it to choose
  # the builder)
  if is_berthd; then
    api_has_header Builder-Version || fail "no Builder-Version header on /_ping"
  fi
  local v
  v=$(api_header Api-Version)
  api HEAD /_ping
  assert_eq 200 "$API_STATUS" "HEAD /_ping"
  assert_eq "$v" "$(api_header Api-Version)" "HEAD /_ping Api-Version header"
  assert_eq linux "$(api_header Ostype)" "HEAD /_ping Ostype header"
  api_has_header Docker-Experimental || fail "HEAD /_ping: no Docker-Experimental header"
  # HEAD: headers only, no body bytes after them
  raw_http 'HEAD /_ping HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'
  assert_eq 0 "$RAW_RC" "the daemon closes a 'Connection: close' connection after answering"
  assert_match "$RAW_OUT" '^HTTP/1\.[01] 200' "raw HEAD /_ping status line"
  [ "$(tail -c 4 "$RAW_FILE" | od -An -tx1 | tr -d ' \n')" = 0d0a0d0a ] ||
    fail "HEAD /_ping sent bytes after the headers: $(tail -c 100 "$RAW_FILE" | od -c | head -n 5)"
  # the version in the ping header is the one /version reports
  assert_eq "$v" "$(server_api)" "Api-Version header equals /version ApiVersion"
  # headers on other answers too
  api GET /version
  assert_match "$(api_header Api-Version)" '^1\.[0-9]+$' "Api-Version header on /version"
}

test_version_api() {
  api GET /version
  assert_eq 200 "$API_STATUS" "GET /version"
  assert_match "$API_CTYPE" '^application/json' "Content-Type of /version"
  local j=$API_BODY
  assert_json "$j" '(.Version | type) == "string" and (.Version | length) > 0' "Version"
  assert_json "$j" '(.ApiVersion | test("^1\\.[0-9]+$"))' "ApiVersion"
  assert_json "$j" '(.MinAPIVersion | test("^1\\.[0-9]+$"))' "MinAPIVersion"
  assert_json "$j" '.Os == "linux" and (.Arch | length) > 0' "Os, Arch"
  assert_json "$j" '(.KernelVersion | type) == "string"' "KernelVersion"
  local api_v min_v
  api_v=$(printf '%s' "$j" | jq -r .ApiVersion)
  min_v=$(printf '%s' "$j" | jq -r .MinAPIVersion)
  ver_ge 1.24 "$min_v" || fail "MinAPIVersion $min_v > 1.24 (the CLI's fallback version)"
  ver_ge "$api_v" "$(min_api)" || fail "ApiVersion $api_v < $(min_api)"
  ver_ge "$api_v" "$min_v" || fail "ApiVersion $api_v < MinAPIVersion $min_v"
}

test_versioned_paths() {
  local v
  v=$(server_api)
  api GET "/v$v/_ping"
  assert_eq "200 OK" "$API_STATUS $API_BODY" "GET /v$v/_ping"
  api GET /v1.24/_ping
  assert_eq "200 OK" "$API_STATUS $API_BODY" "GET /v1.24/_ping"
  api GET /v1.24/version
  assert_eq 200 "$API_STATUS" "GET /v1.24/version"
  assert_json "$API_BODY" '(.ApiVersion | length) > 0' "/v1.24/version"
  api GET "/v$v/version"
  assert_eq 200 "$API_STATUS" "GET /v$v/version"
  api GET /version
  assert_eq 200 "$API_STATUS" "GET /version (unversioned)"
  api GET /v1.24/images/json
  assert_eq 200 "$API_STATUS" "GET /v1.24/images/json"
  assert_json "$API_BODY" 'type == "array"' "/v1.24/images/json"
  # berth-only: the API version berthd implements (dockerd 20.10 answers
  # 400 "too new" for 1.44)
  if is_berthd; then
    api GET /v1.44/_ping
    assert_eq "200 OK" "$API_STATUS $API_BODY" "GET /v1.44/_ping"
    api GET /v1.44/version
    assert_eq 200 "$API_STATUS" "GET /v1.44/version"
  fi
  # a version newer than the server's: 400 with a JSON message
  api GET /v99.0/version
  assert_api_error 400 'too new|not supported|maximum|version'
  api GET /v1.99/_ping
  assert_api_error 400 'too new|not supported|maximum|version'
  # older than the minimum: 400 (dockerd 20.10 answers text/plain here, so
  # the JSON shape is berth-only)
  api GET /v1.0/version
  assert_eq 400 "$API_STATUS" "GET /v1.0/version"
  assert_match "$API_BODY" '[Tt]oo old|[Mm]inimum|not supported' "too-old message"
  if is_berthd; then assert_api_error 400 'too old|minimum|not supported'; fi
  assert_daemon_answers
}

test_restart_keeps_images() {
  # a daemon of its own with a fresh data root: empty at first; a loaded
  # image survives a stop (SIGTERM) and a restart on the same data root
  local d=$T/d name id
  name=$(img_name)
  defer "daemon_stop '$d'"
  daemon_start "$d"
  local h=$DAEMON2_HOST
  cap2 env DOCKER_HOST="$h" DOCKER_CONFIG="$d/cli" "$DOCKER_BIN" info --format '{{.Images}} {{.Containers}}'
  assert_eq "0 0" "$OUT" "a fresh data root has no images and no containers"
  mkimage -t "$name:1" "$T/a.tar"
  id=$MKIMAGE_ID
  cap2 env DOCKER_HOST="$h" DOCKER_CONFIG="$d/cli" "$DOCKER_BIN" load -i "$T/a.tar"
  assert_success "docker load into the second daemon"
  # nothing leaked into the suite's daemon
  cap2 dk image inspect "$name:1"
  assert_ne 0 "$RC" "the image must not appear in the other daemon"
  # stop with SIGTERM: the daemon must exit by itself within 15 s
  local pid i
  pid=$(cat "$d/daemon.bgpid")
  kill -TERM "$pid"
  for i in $(seq 1 150); do _dl_alive "$pid" || break; sleep 0.1; done
  ! _dl_alive "$pid" || fail "the daemon did not exit within 15 s of SIGTERM"
  # restart on the same data root
  rm -f "$d/start-error"
  _dl_launch "$d" && daemon_start_wait "$d" || { _dl_print_log "$d/daemon.log" 0 40; fail "restart failed: $(cat "$d/start-error" 2>/dev/null)"; }
  cap2 env DOCKER_HOST="$h" DOCKER_CONFIG="$d/cli" "$DOCKER_BIN" image inspect -f '{{.Id}} {{json .RepoTags}}' "$name:1"
  assert_success "the image is still there after a restart"
  assert_eq "$id [\"$name:1\"]" "$OUT" "same id and tags after a restart"
}

run_daemon_tests "$@"
