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

# berthd: the real docker CLI against berth's engine, on a private socket
# and data root (a busybox image built locally: there is no registry here).
berthd=$(command -v berthd || echo "$here/build/berthd")
docker=$(command -v docker || true)
if [ -x "$berthd" ] && [ -n "$docker" ]; then
  . "$here/tests/lib/mkimage.sh"
  mkimage -t busybox:demo "$demo/busybox.tar"
  "$berthd" --host "unix://$demo/berth.sock" --data-root "$demo/data" --exec-root "$demo/exec" \
    --log-level warn 2>"$demo/berthd.log" &
  berthd_pid=$!
  trap 'kill $berthd_pid 2>/dev/null; wait $berthd_pid 2>/dev/null; grep " $demo/" /proc/self/mounts | cut -d" " -f2 | xargs -r umount -l; rm -rf "$demo"' EXIT
  export DOCKER_HOST=unix://$demo/berth.sock DOCKER_CONFIG=$demo/cli
  for _ in $(seq 1 50); do "$docker" version >/dev/null 2>&1 && break; sleep 0.1; done
  echo
  echo "\$ docker load -i busybox.tar && docker run --rm busybox:demo ...   (DOCKER_HOST=$DOCKER_HOST)"
  "$docker" load -qi "$demo/busybox.tar"
  "$docker" run --rm --name berth-demo busybox:demo sh -c 'echo "hello from berthd: $(hostname), $(id)"'
fi
