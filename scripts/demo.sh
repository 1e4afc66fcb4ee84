#!/bin/bash
# Demo: run a busybox container with berth-runtime and show what it sees.
set -e
here=$(cd "$(dirname "$0")/.." && pwd)
runtime=${RUNTIME:-$(command -v berth-runtime || echo "$here/build/berth-runtime")}
demo=$(mktemp -d /tmp/berth-demo.XXXXXX)
trap 'rm -rf "$demo"' EXIT
RUNTIME=$runtime "$here/tests/lib/mkbundle.sh" -C "$demo/bundle" -- \
  sh -c 'echo "hello from $(hostname): pid $$, uid $(id -u)"; echo "processes:"; ps -o pid,comm; echo "mounts: $(wc -l < /proc/self/mounts)"' >/dev/null
cd "$demo/bundle"
jq '.hostname = "berth-demo"' config.json > config.tmp && mv config.tmp config.json
echo "\$ berth-runtime run demo"
"$runtime" --root "$demo/state" run "demo-$$"
