#!/bin/bash
# berthd-build.sh: `DOCKER_BUILDKIT=0 docker build` (the classic builder's
# POST /build) against the daemon: the image config a Dockerfile sets up
# (env, user, workdir, entrypoint/cmd), COPY (modes, owners, --from,
# wildcards), RUN layers with deletions, multi-stage builds, ONBUILD,
# .dockerignore, build args, labels, the layer cache, -q/--iidfile, the
# Dockerfile or the context from stdin, and bad input.
#
# The busybox base image comes from tests/lib/mkimage.sh (no registry).
# Runs against berthd (default) or, to validate the tests, Debian's dockerd:
#   DAEMON=dockerd tests/run integration 'berthd-build*'
: "${TEST_TIMEOUT:=120}"
. "$(dirname "$0")/../lib/testlib.sh"
. "$(dirname "$0")/../lib/daemonlib.sh"
. "$(dirname "$0")/../lib/containerlib.sh"
. "$(dirname "$0")/../lib/buildlib.sh"
. "$(dirname "$0")/../lib/registrylib.sh"

# bld ARGS...: the classic builder through the docker CLI (OUT, ERR, RC).
export DOCKER_BUILDKIT=0
bld() { cap2 dk build "$@"; }

# ------------------------------------------------------------ config

test_build_env_user_workdir_cmd() {
  local img base d
  base=$(busybox_image); img=$(img_name)
  d=$(ctx <<EOF
FROM $base
ENV A=1 B="two words"
ENV C=\${A}-x
WORKDIR /app
WORKDIR sub
USER user
CMD ["sh", "-c", "echo \$A \$B \$C; pwd; id -u"]
EOF
)
  bld -t "$img" "$d"
  assert_success "build"
  assert_match "$OUT" '^Step 1/7 : FROM ' "step lines"
  assert_match "$OUT" "Successfully tagged $img:latest" "tag line"
  runi "$img"
  assert_eq "$(printf '1 two words 1-x\n/app/sub\n1000')" "$OUT" "env, workdir, user"
  assert_eq '"user"' "$(dk image inspect -f '{{json .Config.User}}' "$img")" "Config.User"
  assert_eq '"/app/sub"' "$(dk image inspect -f '{{json .Config.WorkingDir}}' "$img")" "Config.WorkingDir"
}

test_build_entrypoint_cmd_and_metadata() {
  local img base d
  base=$(busybox_image); img=$(img_name)
  d=$(ctx 1 <<EOF
FROM $base
ENTRYPOINT ["echo", "ep"]
EOF
)
  bld -t "$img" "$d"
  assert_success "build"
  assert_eq "null" "$(dk image inspect -f '{{json .Config.Cmd}}' "$img")" "ENTRYPOINT resets the base image's CMD"
  runi "$img"
  assert_eq "ep" "$OUT" "entrypoint only"
  d=$(ctx 2 <<EOF
FROM $base
CMD ["a1"]
ENTRYPOINT ["echo", "ep"]
CMD ["a2", "a3"]
EOF
)
  bld -t "$img:2" "$d"
  assert_success "build 2"
  runi "$img:2"
  assert_eq "ep a2 a3" "$OUT" "entrypoint + cmd"
  d=$(ctx 3 <<EOF
FROM $base
SHELL ["/bin/sh", "-ec"]
CMD echo shell form
EXPOSE 80 53/udp
STOPSIGNAL SIGUSR1
VOLUME /data
LABEL a=b "c d"=e
EOF
)
  bld -t "$img:3" "$d"
  assert_success "build 3"
  assert_eq '["/bin/sh","-ec","echo shell form"]' "$(dk image inspect -f '{{json .Config.Cmd}}' "$img:3")" "shell form CMD with SHELL"
  assert_eq '{"53/udp":{},"80/tcp":{}}' "$(dk image inspect -f '{{json .Config.ExposedPorts}}' "$img:3")" "EXPOSE"
  assert_eq 'SIGUSR1' "$(dk image inspect -f '{{.Config.StopSignal}}' "$img:3")" "STOPSIGNAL"
  assert_eq '{"/data":{}}' "$(dk image inspect -f '{{json .Config.Volumes}}' "$img:3")" "VOLUME"
  assert_eq '{"a":"b","c d":"e"}' "$(dk image inspect -f '{{json .Config.Labels}}' "$img:3")" "LABEL"
}

# ------------------------------------------------------------ files

test_build_copy_modes_and_owners() {
  local img base d
  base=$(busybox_image); img=$(img_name)
  d=$(ctx <<EOF
FROM $base
COPY f1 /dst/
COPY --chown=1000:1000 dir /tree
COPY f2 /f2
COPY f*.txt /glob/
RUN mkdir /existing
COPY f1 /existing
EOF
)
  echo one > "$d/f1"; chmod 0750 "$d/f1"
  echo two > "$d/f2"
  mkdir -p "$d/dir/sub"; echo deep > "$d/dir/sub/deep"; chmod 0741 "$d/dir/sub/deep"
  echo a > "$d/fa.txt"; echo b > "$d/fb.txt"; echo c > "$d/fc.md"
  chown -R 4321:4321 "$d"
  bld -t "$img" "$d"
  assert_success "build"
  runi "$img" sh -c 'stat -c "%n %a %u:%g" /dst/f1 /tree/sub /tree/sub/deep /f2 /existing/f1; ls /glob; cat /tree/sub/deep'
  assert_eq "$(printf '/dst/f1 750 0:0\n/tree/sub 755 1000:1000\n/tree/sub/deep 741 1000:1000\n/f2 644 0:0\n/existing/f1 750 0:0\nfa.txt\nfb.txt\ndeep')" "$OUT" "modes and owners"
  # berth-only: --chmod (dockerd 20.10's classic builder requires BuildKit for it)
  is_berthd || return 0
  printf 'FROM %s\nCOPY --chmod=600 f2 /f2\n' "$base" > "$d/Dockerfile"
  bld -t "$img:chmod" "$d"
  assert_success "build with --chmod"
  runi "$img:chmod" stat -c '%a %u:%g' /f2
  assert_eq "600 0:0" "$OUT" "COPY --chmod"
}

# The extractor fails before it reads the tar (an unknown --chown user):
# its own error is the build's, not the tar writer's broken pipe.
test_build_copy_chown_unknown_user_fails_clearly() {
  local base d
  base=$(busybox_image)
  d=$(ctx <<EOF
FROM $base
COPY --chown=nosuchuser big /big
EOF
)
  head -c 4194304 /dev/zero > "$d/big"
  bld -t "$(img_name)" "$d"
  assert_ne 0 "$RC" "the build must fail"
  assert_contains "$ERR" "nosuchuser" "the error names the user"
  assert_not_contains "$ERR" "pipe" "the error is not the tar writer's"
}

test_build_run_layers_record_deletions() {
  local img base d
  base=$(busybox_image); img=$(img_name)
  d=$(ctx <<EOF
FROM $base
RUN mkdir -p /w/keep /w/gone && echo x > /w/gone/f && echo y > /w/file && echo z > /w/keep/z
RUN rm -r /w/gone /w/file /etc/group && rm /w/keep/z && echo new > /w/keep/n
EOF
)
  bld -t "$img" "$d"
  assert_success "build"
  assert_contains "$OUT" "Removing intermediate container" "RUN output"
  runi "$img" sh -c 'ls -a /w /w/keep; test -e /etc/group && echo group-still-there; true'
  assert_eq "$(printf '/w:\n.\n..\nkeep\n\n/w/keep:\n.\n..\nn')" "$OUT" "deleted files are gone in the image"
  assert_eq "$(( $(dk image inspect -f '{{len .RootFS.Layers}}' "$base") + 2 ))" \
    "$(dk image inspect -f '{{len .RootFS.Layers}}' "$img")" "one layer per RUN"
}

test_build_multistage_and_target() {
  local img base d
  base=$(busybox_image); img=$(img_name)
  d=$(ctx <<EOF
FROM $base AS builder
RUN echo built-in-stage > /artifact
FROM builder AS second
RUN echo second > /second
FROM $base
COPY --from=builder /artifact /out/a
COPY --from=1 /second /out/s
CMD ["cat", "/out/a", "/out/s"]
EOF
)
  bld -t "$img" "$d"
  assert_success "build"
  runi "$img"
  assert_eq "$(printf 'built-in-stage\nsecond')" "$OUT" "files from earlier stages"
  bld -t "$img:t" --target builder "$d"
  assert_success "build --target"
  runi "$img:t" cat /artifact
  assert_eq "built-in-stage" "$OUT" "target stage"
  cap2 dk run --rm "$img:t" test -e /second
  assert_ne 0 "$RC" "stages after the target are not built"
}

test_build_onbuild_triggers() {
  local img base d
  base=$(busybox_image); img=$(img_name)
  d=$(ctx <<EOF
FROM $base
ONBUILD RUN echo triggered > /trig
ONBUILD ENV FROM_TRIGGER=yes
EOF
)
  bld -t "$img-parent" "$d"
  assert_success "parent build"
  assert_eq 'RUN echo triggered > /trig|ENV FROM_TRIGGER=yes' \
    "$(dk image inspect "$img-parent" | jq -r '.[0].Config.OnBuild | join("|")')" "stored triggers"
  d=$(ctx 2 <<EOF
FROM $img-parent
RUN cat /trig
EOF
)
  bld -t "$img" "$d"
  assert_success "child build"
  runi "$img" sh -c 'cat /trig; echo $FROM_TRIGGER'
  assert_eq "$(printf 'triggered\nyes')" "$OUT" "triggers ran"
  assert_match "$(dk image inspect -f '{{json .Config.OnBuild}}' "$img")" '^(null|\[\])$' "triggers are not inherited further"
}

test_build_dockerignore() {
  local img base d
  base=$(busybox_image); img=$(img_name)
  d=$(ctx <<EOF
FROM $base
COPY . /c/
EOF
)
  mkdir -p "$d/secret" "$d/keep"
  echo s > "$d/secret/key"; echo k > "$d/keep/k"; echo l > "$d/x.log"; echo i > "$d/important.log"
  printf 'secret\n*.log\n!important.log\n' > "$d/.dockerignore"
  bld -t "$img" "$d"
  assert_success "build"
  runi "$img" sh -c 'cd /c && find . -type f | sort'
  assert_eq "$(printf './.dockerignore\n./Dockerfile\n./important.log\n./keep/k')" "$OUT" "ignored files are not copied"
}

# ------------------------------------------------------------ args, labels, output

test_build_args() {
  local img base d
  base=$(busybox_image); img=$(img_name)
  d=$(ctx <<EOF
ARG BASE=$base
FROM \${BASE}
ARG X=default
ARG Y
ENV FROM_ENV=\$X
RUN echo "\$X/\$Y" > /args
EOF
)
  bld -t "$img" "$d"
  assert_success "build with defaults"
  runi "$img" sh -c 'cat /args; echo $FROM_ENV; echo "[$X]"'
  assert_eq "$(printf 'default/\ndefault\n[]')" "$OUT" "defaults; ARGs are not in the image's env"
  bld -t "$img:2" --build-arg X=given --build-arg Y=why --build-arg UNUSED=1 "$d"
  assert_success "build with args"
  assert_contains "$OUT$ERR" "[Warning] One or more build-args [UNUSED] were not consumed" "unused arg warning"
  runi "$img:2" cat /args
  assert_eq "given/why" "$OUT" "--build-arg values"
  assert_contains "$(dk history --no-trunc "$img:2")" "|2 X=given Y=why /bin/sh -c echo" "RUN history names the args"
}

test_build_labels_quiet_iidfile() {
  local img base d
  base=$(busybox_image); img=$(img_name)
  d=$(ctx <<EOF
FROM $base
RUN echo quiet-output
EOF
)
  bld -q --label l1=v1 --label "l2=v 2" --iidfile "$T/iid" -t "$img" -t "$img:second" "$d"
  assert_success "build -q"
  assert_match "$OUT" '^sha256:[0-9a-f]{64}$' "-q prints only the id"
  assert_eq "$OUT" "$(cat "$T/iid")" "--iidfile"
  assert_eq "$OUT" "$(dk image inspect -f '{{.Id}}' "$img:second")" "every -t"
  assert_eq '{"l1":"v1","l2":"v 2"}' "$(dk image inspect -f '{{json .Config.Labels}}' "$img")" "--label"
}

test_build_dockerfile_and_context_from_stdin() {
  local img base d
  base=$(busybox_image); img=$(img_name)
  d=$T/ctxs; mkdir -p "$d"; echo from-context > "$d/file"
  cap2 dk build -t "$img" -f - "$d" <<EOF
FROM $base
COPY file /file
EOF
  assert_success "Dockerfile from stdin"
  runi "$img" cat /file
  assert_eq "from-context" "$OUT" "context with a Dockerfile from stdin"
  printf 'FROM %s\nCOPY file /f2\nCMD ["cat", "/f2"]\n' "$base" > "$d/Dockerfile"
  tar -C "$d" -cf "$T/ctx.tar" .
  cap2 dk build -t "$img:tar" - < "$T/ctx.tar"
  assert_success "context from stdin"
  runi "$img:tar"
  assert_eq "from-context" "$OUT" "context tar from stdin"
}

# ------------------------------------------------------------ cache

test_build_cache_hits_and_misses() {
  local img base d id1
  base=$(busybox_image); img=$(img_name)
  d=$(ctx <<EOF
FROM $base
ENV X=1
RUN echo run-one > /one
COPY f /f
RUN echo run-two > /two
EOF
)
  echo v1 > "$d/f"
  bld -t "$img" "$d"
  assert_success "first build"
  assert_not_contains "$OUT" "Using cache" "first build"
  id1=$(dk image inspect -f '{{.Id}}' "$img")
  bld -t "$img" "$d"
  assert_success "rebuild"
  assert_eq 4 "$(grep -c 'Using cache' <<< "$OUT")" "every step is a cache hit"
  assert_not_contains "$OUT" "Running in" "no RUN step ran"
  assert_eq "$id1" "$(dk image inspect -f '{{.Id}}' "$img")" "same image"
  echo v2 > "$d/f"
  bld -t "$img" "$d"
  assert_success "build after a change"
  assert_eq 2 "$(grep -c 'Using cache' <<< "$OUT")" "steps before the changed COPY hit"
  assert_contains "$OUT" "Running in" "the RUN after the changed COPY ran"
  runi "$img" cat /f
  assert_eq "v2" "$OUT" "new content"
  bld --no-cache -t "$img" "$d"
  assert_success "--no-cache"
  assert_not_contains "$OUT" "Using cache" "--no-cache"
}

# A folder of many files (listed by the filesystem in no fixed order) and
# a COPY --from of it: a rebuild hits the cache for both; a changed file
# misses both; the copied tree is complete.
test_build_cache_hits_for_large_folders_and_copy_from() {
  local img base d i
  base=$(busybox_image); img=$(img_name)
  d=$(ctx <<EOF
FROM $base AS one
COPY tree /out/tree
FROM $base
COPY --from=one /out /srv
EOF
)
  mkdir -p "$d/tree/sub"
  for i in $(seq 1 300); do echo "file $i" > "$d/tree/f$i"; done
  ln -s f1 "$d/tree/sub/link"
  bld -t "$img" "$d"
  assert_success "first build"
  bld -t "$img" "$d"
  assert_success "rebuild"
  assert_eq 2 "$(grep -c 'Using cache' <<< "$OUT")" "both COPY steps hit"
  echo changed > "$d/tree/f150"
  bld -t "$img" "$d"
  assert_success "build after a change"
  assert_not_contains "$OUT" "Using cache" "both COPY steps miss after a change"
  runi "$img" sh -c 'ls /srv/tree | wc -l; cat /srv/tree/f150 /srv/tree/f7; readlink /srv/tree/sub/link'
  assert_eq "$(printf '301\nchanged\nfile 7\nf1')" "$(sed 's/^ *//' <<< "$OUT")" "the copied tree"
}

# WORKDIR makes its folder (Docker's classic builder commits it), so the
# image has it without any RUN; an existing folder adds no layer.
test_build_workdir_creates_folder() {
  local img base d n
  base=$(busybox_image); img=$(img_name)
  d=$(ctx <<EOF
FROM $base
WORKDIR /app/data
WORKDIR sub
WORKDIR /etc
CMD ["pwd"]
EOF
)
  bld -t "$img" "$d"
  assert_success "build"
  runi "$img"
  assert_eq "/etc" "$OUT" "working folder"
  runi "$img" stat -c '%n %a %u:%g' /app/data /app/data/sub
  assert_eq "$(printf '/app/data 755 0:0\n/app/data/sub 755 0:0')" "$OUT" "folders made by WORKDIR"
  cap2 dk image inspect -f '{{len .RootFS.Layers}}' "$img"
  n=$OUT
  cap2 dk image inspect -f '{{len .RootFS.Layers}}' "$base"
  assert_eq "$(( OUT + 2 ))" "$n" "a layer per created folder, none for /etc"
}

# ------------------------------------------------------------ bad input

test_build_syntax_error_names_line() {
  local base d
  base=$(busybox_image)
  d=$(ctx <<EOF
FROM $base
RUN true
NOSUCHINSTR foo
EOF
)
  bld "$d"
  assert_ne 0 "$RC" "build must fail"
  assert_match "$ERR" 'line 3' "error names the line"
  assert_match "$ERR" '[Nn][Oo][Ss][Uu][Cc][Hh][Ii][Nn][Ss][Tt][Rr]' "error names the instruction"
}

test_build_missing_copy_source() {
  local base d before
  base=$(busybox_image)
  before=$(dk images -q | sort)
  d=$(ctx <<EOF
FROM $base
COPY nothere /x
EOF
)
  bld -t "$(img_name)" "$d"
  assert_ne 0 "$RC" "build must fail"
  assert_contains "$ERR" "nothere" "error names the source"
  assert_eq "$before" "$(dk images -q | sort)" "no image left behind"
}

test_build_failing_run() {
  local base d before img
  base=$(busybox_image); img=$(img_name)
  before=$(dk images -q | sort)
  d=$(ctx <<EOF
FROM $base
RUN echo output-before-failure && false
EOF
)
  bld -t "$img" "$d"
  assert_ne 0 "$RC" "build must fail"
  assert_contains "$OUT" "output-before-failure" "the RUN's output is shown"
  assert_contains "$ERR" "The command '/bin/sh -c echo output-before-failure && false' returned a non-zero code: 1" "exit code reported"
  assert_eq "$before" "$(dk images -q | sort)" "no half-built image"
  assert_fails dk image inspect "$img"
  assert_eq "" "$(dk ps -q)" "no container left running"
}

test_build_unknown_stage_or_target() {
  local base d
  base=$(busybox_image)
  d=$(ctx <<EOF
FROM $base AS one
COPY --from=nosuchstage /x /x
EOF
)
  bld "$d"
  assert_ne 0 "$RC" "unknown --from must fail"
  assert_contains "$ERR" "nosuchstage" "error names the stage"
  bld --target nosuchtarget "$d"
  assert_ne 0 "$RC" "unknown --target must fail"
  assert_contains "$ERR" "nosuchtarget" "error names the target"
}

test_build_context_with_dotdot_is_refused() {
  local base
  base=$(busybox_image)
  mkimage_rawtar "$T/evil.tar" f Dockerfile "FROM $base" f ../escape pwned
  api POST "/build?t=$(img_name)" --data-binary "@$T/evil.tar" -H 'Content-Type: application/x-tar'
  if is_dockerd; then
    # dockerd 20.10 cleans the name and builds (the file lands inside the
    # context); berth refuses the tar, as the issue asks
    assert_not_exists "$DAEMON_DIR/escape" "written outside"
    return
  fi
  case "$API_STATUS" in
    200) assert_contains "$API_BODY" '"error' "a 200 stream must end with an error" ;;
    4*|5*) ;;
    *) fail "unexpected status $API_STATUS" ;;
  esac
  assert_not_contains "$API_BODY" "Successfully built" "the build must not succeed"
  assert_contains "$API_BODY" "escape" "the error names the entry"
  assert_not_exists "$DAEMON_DIR/escape" "written outside"
  assert_not_exists "$DAEMON_DIR/data/escape" "written outside"
  assert_daemon_answers
}

# A plain context is extracted in a chrooted thread of berthd (context.c):
# every hostile entry must be refused or stay inside the context.
test_build_context_hostile_links_stay_inside() {
  local base tag entry
  base=$(busybox_image)
  tag=escape-$$-$RANDOM
  for entry in "l up ../../../../../../../../tmp" "h up ../../../../../../../../tmp" "c up 1 3"; do
    # shellcheck disable=SC2086 # the entry's fields are mkimage_rawtar's words
    mkimage_rawtar "$T/evil.tar" f Dockerfile "FROM $base" $entry f "up/$tag" pwned
    api POST "/build?t=$(img_name)" --data-binary "@$T/evil.tar" -H 'Content-Type: application/x-tar'
    assert_not_contains "$API_BODY" "Successfully built" "a context with \"$entry\" must not build"
    assert_contains "$API_BODY" "up" "the error names the entry \"$entry\""
    assert_not_exists "/tmp/$tag" "written outside through \"$entry\""
  done
  # an absolute symlink is joined to the context (as Docker does): a file
  # written through it lands inside, and COPY finds it there
  mkimage_rawtar "$T/abs.tar" f Dockerfile "FROM $base
COPY tmp/$tag /got
CMD [\"cat\", \"/got\"]" l abs / d tmp f "abs/tmp/$tag" inside
  api POST "/build?t=$(img_name abs)" --data-binary "@$T/abs.tar" -H 'Content-Type: application/x-tar'
  assert_contains "$API_BODY" "Successfully built" "a context with an absolute symlink builds"
  assert_not_exists "/tmp/$tag" "written outside through an absolute symlink"
  runi "$(img_name abs)"
  assert_eq "inside" "$OUT" "the file written through the absolute symlink"
  assert_daemon_answers
}

# ------------------------------------------------------------ ADD

test_build_add_url_mode_name_and_cache() {
  local base img d id1
  base=$(busybox_image); img=$(img_name)
  mkdir -p "$T/www/sub"
  printf 'remote v1\n' > "$T/www/sub/hello.txt"
  chmod 0644 "$T/www/sub/hello.txt"
  http_serve "$T/www"
  d=$(ctx <<EOF
FROM $base
ADD $HTTP_URL/sub/hello.txt /dl/
ADD $HTTP_URL/sub/hello.txt?x=1 /named
CMD ["sh", "-c", "cat /dl/hello.txt /named; stat -c '%a %u:%g' /dl/hello.txt /named"]
EOF
)
  bld -t "$img" "$d"
  assert_success "build with ADD of URLs"
  runi "$img"
  assert_eq "$(printf 'remote v1\nremote v1\n600 0:0\n600 0:0')" "$OUT" "the downloads: content, mode 0600, root's, named after the URL path or the destination"
  id1=$(dk image inspect -f '{{.Id}}' "$img")
  # unchanged remote file: downloaded again, and the cache hits
  : > "$T/http.log"
  bld -t "$img" "$d"
  assert_success "rebuild"
  assert_eq "$id1" "$(dk image inspect -f '{{.Id}}' "$img")" "an unchanged download hits the cache"
  assert_match "$(cat "$T/http.log")" 'GET /sub/hello.txt ' "the URL is fetched again on a rebuild"
  # a changed remote file must not hit a stale cache
  printf 'remote v2\n' > "$T/www/sub/hello.txt"
  bld -t "$img" "$d"
  assert_success "rebuild after the remote file changed"
  runi "$img"
  assert_eq "$(printf 'remote v2\nremote v2\n600 0:0\n600 0:0')" "$OUT" "the new content, not a stale cache entry"
  assert_ne "$id1" "$(dk image inspect -f '{{.Id}}' "$img")" "a new image"
}

test_build_add_url_not_found() {
  local base img d before
  base=$(busybox_image); img=$(img_name)
  mkdir -p "$T/www"
  http_serve "$T/www"
  before=$(image_ids)
  d=$(ctx <<EOF
FROM $base
ADD $HTTP_URL/missing.txt /x
EOF
)
  bld -t "$img" "$d"
  assert_ne 0 "$RC" "an ADD of a URL answering 404 must fail"
  assert_contains "$ERR" "$HTTP_URL/missing.txt" "the error names the URL"
  assert_contains "$ERR" "404" "the error names the status"
  assert_fails dk image inspect "$img"
  assert_eq "$before" "$(image_ids)" "no new image"
}

test_build_add_local_archive_is_extracted() {
  local base img d
  base=$(busybox_image); img=$(img_name)
  mkdir -p "$T/arch/dir" "$T/www"
  printf 'inside\n' > "$T/arch/dir/a.txt"
  ln -s a.txt "$T/arch/dir/link"
  tar -C "$T/arch" -czf "$T/www/arch.tar.gz" dir
  http_serve "$T/www"
  # a remote archive is not extracted (Docker's rule)
  d=$(ctx <<EOF
FROM $base
ADD arch.tar.gz /ex/
ADD plain.tar /ex2
ADD notar.txt /plain/
ADD $HTTP_URL/arch.tar.gz /remote/
EOF
)
  cp "$T/www/arch.tar.gz" "$d/"
  tar -C "$T/arch" -cf "$d/plain.tar" dir
  printf 'just text\n' > "$d/notar.txt"
  bld -t "$img" "$d"
  assert_success "build with ADD of archives"
  runi "$img" sh -c 'cat /ex/dir/a.txt /ex2/dir/a.txt; readlink /ex/dir/link; cat /plain/notar.txt; ls /remote; test -f /remote/arch.tar.gz && echo file'
  assert_eq "$(printf 'inside\ninside\na.txt\njust text\narch.tar.gz\nfile')" "$OUT" "local archives extracted, other files and URLs copied as they are"
}

# ------------------------------------------------------------ output

# norm_output: OUT with ids as ID, the context size as X, no CRs (the
# CLI redraws the "Sending build context" line)
norm_output() {
  printf '%s\n' "$OUT" | tr -d '\r' | sed -E 's/.*Sending build context/Sending build context/; s/\b[0-9a-f]{12}\b/ID/g; s/daemon  [0-9.]+kB/daemon  XkB/'
}

# The classic builder's output, line by line (ids as ID), the same from
# both daemons: a cold build, then a cached one.
test_build_output_lines_as_dockerd() {
  local base img d want
  base=$(busybox_image); img=$(img_name)
  d=$(ctx <<EOF
FROM $base
ENV A=1
RUN echo hi
COPY f /f
CMD ["true"]
EOF
)
  echo data > "$d/f"
  bld -t "$img" "$d"
  assert_success "build"
  want="Sending build context to Docker daemon  XkB
Step 1/5 : FROM $base
 ---> ID
Step 2/5 : ENV A=1
 ---> Running in ID
Removing intermediate container ID
 ---> ID
Step 3/5 : RUN echo hi
 ---> Running in ID
hi
Removing intermediate container ID
 ---> ID
Step 4/5 : COPY f /f
 ---> ID
Step 5/5 : CMD [\"true\"]
 ---> Running in ID
Removing intermediate container ID
 ---> ID
Successfully built ID
Successfully tagged $img:latest"
  assert_eq "$want" "$(norm_output)" "cold build output"
  bld -t "$img" "$d"
  assert_success "rebuild"
  want="Sending build context to Docker daemon  XkB
Step 1/5 : FROM $base
 ---> ID
Step 2/5 : ENV A=1
 ---> Using cache
 ---> ID
Step 3/5 : RUN echo hi
 ---> Using cache
 ---> ID
Step 4/5 : COPY f /f
 ---> Using cache
 ---> ID
Step 5/5 : CMD [\"true\"]
 ---> Using cache
 ---> ID
Successfully built ID
Successfully tagged $img:latest"
  assert_eq "$want" "$(norm_output)" "cached build output"
}

# ------------------------------------------------------------ FROM a registry

# push_base NAME [LABEL]: the busybox image (with LABEL v=LABEL in a layer
# of config only when given) pushed to the test's registry as NAME, and
# its local tag removed; prints nothing
push_base() {
  local name=$1 base d
  base=$(busybox_image)
  if [ -n "${2:-}" ]; then
    d=$(ctx "push$2" <<EOF
FROM $base
LABEL v=$2
EOF
)
    bld -q -t "$name" "$d"
    assert_success "build of the base v$2"
  else
    dk tag "$base" "$name" || fail "docker tag"
  fi
  cap dk push "$name"
  assert_success "docker push $name"
  dk rmi "$name" >/dev/null || fail "docker rmi $name"
}

test_build_from_pulls_a_missing_base() {
  local img d remote
  img=$(img_name)
  reg_start "$T/r"; defer "reg_stop '$T/r'"
  remote=$R_ADDR/$(img_name base):v1
  push_base "$remote"
  assert_fails dk image inspect "$remote"
  d=$(ctx <<EOF
FROM $remote
RUN echo built > /built
EOF
)
  bld -t "$img" "$d"
  assert_success "build FROM an image that is only in the registry"
  assert_contains "$OUT" "Step 1/2 : FROM $remote"
  assert_contains "$OUT" "v1: Pulling from $(img_name base)" "pull progress in the build output"
  assert_contains "$OUT" "Status: Downloaded newer image for $remote" "pull status in the build output"
  dk image inspect "$remote" >/dev/null || fail "the pulled base is a local image afterwards"
  runi "$img" cat /built
  assert_eq "built" "$OUT"
  # -q: the pull's progress is not printed either
  dk rmi "$remote" >/dev/null || fail "docker rmi"
  bld -q --no-cache -t "$img" "$d"
  assert_success "quiet build with a pull"
  assert_match "$OUT" '^sha256:[0-9a-f]{64}$' "-q prints only the id"
}

# docker build sends its logins as X-Registry-Config; FROM's pull uses the
# one for the image's registry.
test_build_from_pulls_with_the_clients_login() {
  local img d remote
  img=$(img_name)
  htpasswd -Bbc "$T/htpasswd" alice s3cret 2>/dev/null || fail "htpasswd is not installed (apache2-utils)"
  reg_start "$T/r" --htpasswd "$T/htpasswd"; defer "reg_stop '$T/r'"
  remote=$R_ADDR/$(img_name base):v1
  dk login -u alice -p s3cret "$R_ADDR" >/dev/null 2>&1 || fail "docker login"
  defer "dk logout '$R_ADDR' >/dev/null 2>&1"
  push_base "$remote"
  d=$(ctx <<EOF
FROM $remote
RUN echo built > /built
EOF
)
  bld -t "$img" "$d"
  assert_success "build FROM a registry that needs the login"
  assert_contains "$OUT" "Status: Downloaded newer image for $remote"
  runi "$img" cat /built
  assert_eq "built" "$OUT"
  # without the login the pull is refused, and no image is left
  dk rmi "$img" "$remote" >/dev/null || fail "docker rmi"
  dk logout "$R_ADDR" >/dev/null 2>&1 || fail "docker logout"
  bld -t "$img" "$d"
  [ "$RC" -ne 0 ] || fail "build FROM that registry without a login succeeded"
  assert_match "$ERR" "[Uu]nauthorized|authentication required|no basic auth credentials|denied"
  assert_fails dk image inspect "$remote"
  # a malformed X-Registry-Config is refused before the context is read
  # (berthd: 400; dockerd 20.10 answers 500)
  api POST "/build?t=x" -H "X-Registry-Config: %%%" -H "Content-Type: application/x-tar" --data-binary @/dev/null
  if is_berthd; then assert_eq 400 "$API_STATUS" "malformed X-Registry-Config"; else assert_match "$API_STATUS" '^[45][0-9][0-9]$'; fi
}

test_build_pull_flag_gets_a_newer_base() {
  local img d remote
  img=$(img_name)
  reg_start "$T/r"; defer "reg_stop '$T/r'"
  remote=$R_ADDR/$(img_name base):v1
  push_base "$remote"
  d=$(ctx <<EOF
FROM $remote
CMD ["true"]
EOF
)
  bld -t "$img" "$d"
  assert_success "first build (pulls v1)"
  assert_eq "" "$(dk image inspect -f '{{index .Config.Labels "v"}}' "$img")" "built on v1"
  # the registry gets a newer image under the same name; the local one is v1
  local old; old=$(dk image inspect -f '{{.Id}}' "$remote")
  push_base "$remote" 2
  dk tag "$old" "$remote" || fail "docker tag"
  bld -t "$img" "$d"
  assert_success "build without --pull"
  assert_eq "" "$(dk image inspect -f '{{index .Config.Labels "v"}}' "$img")" "without --pull: the local base"
  assert_not_contains "$OUT" "Pulling from" "without --pull: no pull"
  bld --pull -t "$img" "$d"
  assert_success "build with --pull"
  assert_contains "$OUT" "Pulling from $(img_name base)" "--pull pulls"
  assert_eq "2" "$(dk image inspect -f '{{index .Config.Labels "v"}}' "$img")" "with --pull: the registry's newer base"
  bld --pull -t "$img" "$d"
  assert_success "build with --pull, base up to date"
  assert_contains "$OUT" "Status: Image is up to date for $remote"
}

test_build_from_unknown_remote_image_fails() {
  local img d before
  img=$(img_name)
  reg_start "$T/r"; defer "reg_stop '$T/r'"
  before=$(image_ids)
  d=$(ctx <<EOF
FROM $R_ADDR/$(img_name nosuch):v1
RUN true
EOF
)
  bld -t "$img" "$d"
  assert_ne 0 "$RC" "FROM an image no registry has must fail"
  assert_contains "$ERR" "$(img_name nosuch)" "the error names the image"
  assert_fails dk image inspect "$img"
  assert_eq "$before" "$(image_ids)" "no image left behind"
}

run_daemon_tests "$@"
