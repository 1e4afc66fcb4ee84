#!/bin/bash
# berth-cli-build.sh: `berth build` (berth's own CLI) against the daemon:
# the options of docker build (-t several times, -f, -f -, --build-arg,
# --target, --label, --no-cache, -q, --iidfile, a context folder or a tar
# or a Dockerfile on stdin), which files of the context are sent
# (.dockerignore), the output and the exit codes.
#
# Runs against berthd (default) or, to validate the tests and the CLI
# against Docker's classic builder, Debian's dockerd:
#   DAEMON=dockerd tests/run integration 'berth-cli-build*'
: "${TEST_TIMEOUT:=120}"
. "$(dirname "$0")/../lib/testlib.sh"
. "$(dirname "$0")/../lib/daemonlib.sh"
. "$(dirname "$0")/../lib/containerlib.sh"
. "$(dirname "$0")/../lib/buildlib.sh"

BERTH_CLI=${BERTH_CLI:-$(dirname "$RUNTIME")/berth}

# bb ARGS...: berth build (OUT = stdout, ERR = stderr, RC).
bb() { cap2 timeout 120 "$BERTH_CLI" -H "$DOCKER_HOST" build "$@"; }

test_build_tags_args_labels_target() {
  local img base d
  base=$(busybox_image); img=$(img_name)
  d=$(ctx <<EOF
FROM $base AS first
ARG WHO=nobody
ARG FROM_ENV
ENV GREETING="hello \${WHO}" FE=\${FROM_ENV:-unset}
CMD ["sh", "-c", "echo \$GREETING \$FE"]
FROM first AS second
RUN exit 7
EOF
)
  FROM_ENV=from-env bb -t "$img:a" --tag "$img:b" --build-arg WHO=world --build-arg FROM_ENV \
    --label com.example.k=v --label empty --target first "$d"
  assert_success "berth build"
  assert_contains "$OUT" "Sending build context to Docker daemon"
  assert_match "$OUT" "Step 1/[0-9]+ : FROM $base" "step lines"
  assert_contains "$OUT" "Successfully tagged $img:a"
  assert_contains "$OUT" "Successfully tagged $img:b"
  assert_eq "$(dk image inspect -f '{{.Id}}' "$img:a")" "$(dk image inspect -f '{{.Id}}' "$img:b")" "both tags"
  assert_eq "v|" "$(dk image inspect -f '{{index .Config.Labels "com.example.k"}}|{{index .Config.Labels "empty"}}' "$img:a")" "labels"
  runi "$img:a"
  assert_eq "hello world from-env" "$OUT" "build args (one from the environment)"
}

test_build_quiet_and_iidfile() {
  local img base d id
  base=$(busybox_image); img=$(img_name)
  d=$(ctx <<EOF
FROM $base
RUN echo built > /f
EOF
)
  bb -q --iidfile "$T/iid" -t "$img" "$d"
  assert_success "berth build -q"
  id=$(dk image inspect -f '{{.Id}}' "$img")
  assert_eq "$id" "$OUT" "-q prints only the image id"
  assert_eq "$id" "$(cat "$T/iid")" "--iidfile"
  bb --no-cache -t "$img:2" "$d"
  assert_success "--no-cache"
  assert_not_contains "$OUT" "Using cache"
  bb -t "$img:3" "$d"
  assert_contains "$OUT" "Using cache" "a rebuild uses the cache"
}

test_build_dockerignore_context() {
  local img base d
  base=$(busybox_image); img=$(img_name)
  d=$(ctx <<EOF
FROM $base
COPY . /c/
CMD ["sh", "-c", "cd /c && find . | sort"]
EOF
)
  mkdir -p "$d/secret/deeper" "$d/keep" "$d/logs/sub" "$d/node_modules/m"
  echo s > "$d/secret/key"; echo s > "$d/secret/deeper/x"; echo k > "$d/keep/k"
  echo l > "$d/x.log"; echo i > "$d/important.log"; echo l > "$d/logs/a.log"; echo l > "$d/logs/sub/b.log"
  echo m > "$d/node_modules/m/i.js"; echo t > "$d/temp1"; echo t > "$d/tempxx"; echo r > "$d/README.md"
  ln -s keep/k "$d/link"
  # Docker's rules: comments, leading "/", **, ?, exceptions, last match
  # wins, an excluded folder with an exception inside; Dockerfile and
  # .dockerignore are sent even when excluded.
  cat > "$d/.dockerignore" <<'EOF'
# comment
/secret
**/*.log
!important.log
node_modules
temp?
*.md
Dockerfile
.dockerignore
logs
!logs/sub
EOF
  bb -t "$img" "$d"
  assert_success "berth build"
  runi "$img"
  local sent=$OUT
  # (the daemon drops an excluded Dockerfile and .dockerignore after
  # reading them; logs/sub/b.log: the exception re-includes logs/sub)
  assert_eq "$(printf '.\n./important.log\n./keep\n./keep/k\n./link\n./logs\n./logs/sub\n./logs/sub/b.log\n./tempxx')" "$sent" "files sent"
  # the docker CLI sends the same files
  cap2 env DOCKER_BUILDKIT=0 timeout 120 "$DOCKER_BIN" build -q -t "$img:docker" "$d"
  assert_success "docker build"
  runi "$img:docker"
  assert_eq "$sent" "$OUT" "berth and the docker CLI send the same context"
  runi "$img" readlink /c/link
  assert_eq "keep/k" "$OUT" "a symlink is sent as a symlink"
}

test_build_dockerfile_options() {
  local img base d
  base=$(busybox_image); img=$(img_name)
  d=$(ctx <<EOF
FROM $base
CMD ["echo", "default"]
EOF
)
  echo data > "$d/data"
  printf 'FROM %s\nCOPY data /\nCMD ["cat", "/data"]\n' "$base" > "$d/Other.dockerfile"
  cd "$d" || fail "cd"
  bb -f Other.dockerfile -t "$img:f" .
  cd - >/dev/null || fail "cd -"
  assert_success "-f FILE (relative to the current folder)"
  runi "$img:f"
  assert_eq "data" "$OUT"
  # a Dockerfile outside the context
  printf 'FROM %s\nCOPY data /d2\nCMD ["cat", "/d2"]\n' "$base" > "$T/outside.Dockerfile"
  bb -f "$T/outside.Dockerfile" -t "$img:o" "$d"
  assert_success "-f outside the context"
  runi "$img:o"
  assert_eq "data" "$OUT"
  # -f -: the Dockerfile from stdin, the context from the folder
  printf 'FROM %s\nCOPY data /d3\nCMD ["cat", "/d3"]\n' "$base" | bb -f - -t "$img:s" "$d"
  assert_success "-f -"
  runi "$img:s"
  assert_eq "data" "$OUT"
  # a context tar on stdin, with -f naming the Dockerfile inside
  tar -C "$d" -cf "$T/ctx.tar" Other.dockerfile data
  bb -f Other.dockerfile -t "$img:t" - < "$T/ctx.tar"
  assert_success "context tar from stdin"
  runi "$img:t"
  assert_eq "data" "$OUT"
  # a compressed context
  gzip -c "$T/ctx.tar" > "$T/ctx.tgz"
  bb -f Other.dockerfile -t "$img:z" - < "$T/ctx.tgz"
  assert_success "gzip context from stdin"
  # a plain Dockerfile on stdin: no context
  printf 'FROM %s\nCMD ["echo", "from-stdin"]\n' "$base" | bb -t "$img:p" -
  assert_success "Dockerfile on stdin"
  runi "$img:p"
  assert_eq "from-stdin" "$OUT"
}

test_build_errors() {
  local img base d
  base=$(busybox_image); img=$(img_name)
  d=$(ctx <<EOF
FROM $base
RUN echo output-before-failing; exit 3
EOF
)
  bb -t "$img" "$d"
  assert_eq 3 "$RC" "the exit code of the failing RUN"
  assert_contains "$OUT" "output-before-failing"
  assert_contains "$ERR" "returned a non-zero code: 3"
  bb -q -t "$img" "$d"
  assert_eq 3 "$RC" "-q: the same exit code"
  assert_eq "" "$OUT" "-q: nothing on stdout"
  assert_contains "$ERR" "output-before-failing" "-q: the build output is shown on failure"

  d=$(ctx 2 <<EOF
FROM $base
FOO bar
EOF
)
  bb "$d"
  assert_ne 0 "$RC"
  assert_contains "$ERR" "dockerfile parse error line 2: unknown instruction: FOO"
  bb "$T/no-such-folder"
  assert_ne 0 "$RC"
  assert_contains "$ERR" "unable to prepare context"
  bb -f - - < /dev/null
  assert_ne 0 "$RC"
  assert_contains "$ERR" "can't use stdin for both build context and dockerfile"
  mkdir -p "$T/empty"
  bb "$T/empty"
  assert_ne 0 "$RC"
  assert_contains "$ERR" "Dockerfile"
  bb --bogus "$d"
  assert_ne 0 "$RC"
  # a .dockerignore with a bad pattern
  printf '[unclosed\n' > "$d/.dockerignore"
  bb "$d"
  assert_ne 0 "$RC"
  assert_contains "$ERR" "syntax error in pattern"
  # an unreadable file is an error before anything is built
  rm -f "$d/.dockerignore"
  echo x > "$d/unreadable"; chmod 000 "$d/unreadable"
  if [ "$(id -u)" != 0 ]; then
    bb "$d"
    assert_ne 0 "$RC"
    assert_contains "$ERR" "unreadable"
  fi
}

run_daemon_tests "$@"
