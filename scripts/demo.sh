#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine, as root: install what is needed, build; start hoistd,
# make a busybox image with `hoist import` and run containers through `hoist`; push the image to a
# private registry on loopback and pull it back with hoist-image; run containers from the pulled
# image with hoist-runtime directly.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
rt=build/runtime/hoist-runtime
scripts/make-busybox-fixtures.sh build/fixtures >/dev/null
state=$(mktemp -d /tmp/hoist-demo.XXXXXX)
reg_pid=
hoistd_pid=
cgroup_parent=
cleanup() {
  set +e
  "$rt" --root "$state/run" delete --force demo-bg >/dev/null 2>&1
  if [ -n "$reg_pid" ]; then kill "$reg_pid" 2>/dev/null; wait "$reg_pid" 2>/dev/null; fi
  if [ -n "$hoistd_pid" ]; then
    build/cli/hoist -H "unix://$state/hoist.sock" rm -f demo-web >/dev/null 2>&1
    kill "$hoistd_pid" 2>/dev/null; wait "$hoistd_pid" 2>/dev/null
    for d in /sys/fs/cgroup/*"$cgroup_parent" /sys/fs/cgroup/unified"$cgroup_parent"; do [ -d "$d" ] && rmdir "$d"; done
  fi
  rm -rf "$state"
}
trap cleanup EXIT

echo "== hoistd and hoist: start the daemon, make a busybox image (no registry needed), run containers"
hoist="build/cli/hoist -H unix://$state/hoist.sock"
cgroup_parent=/hoist-demo-$$
build/engine/hoistd -H "unix://$state/hoist.sock" --data-root "$state/hoistd" --exec-root "$state/hoistd-run" \
  --cgroup-parent "$cgroup_parent" > "$state/hoistd.log" 2>&1 &
hoistd_pid=$!
for _ in $(seq 100); do [ -S "$state/hoist.sock" ] && break; sleep 0.05; done
$hoist import build/fixtures/busybox-rootfs.tar busybox:demo
$hoist run --rm busybox:demo sh -c 'echo "hello from $(hostname), pid $$"'
$hoist run -d --name demo-web busybox:demo sh -c 'echo serving; sleep 300'
$hoist ps
sleep 0.3
$hoist logs demo-web
$hoist stop -t 1 demo-web
$hoist ps -a --format '{{.Names}}: {{.Status}}'
$hoist rm demo-web
$hoist images

echo "== hoist-image: import a busybox rootfs, push it to a private registry, remove it, pull it back"
hi() { build/image/hoist-image --root "$state/images" --config-dir "$state/etc" "$@"; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat > "$state/registry.yml" <<YML
version: 0.1
storage: {filesystem: {rootdirectory: $state/registry}}
http: {addr: 127.0.0.1:$port}
YML
docker-registry serve "$state/registry.yml" > "$state/registry.log" 2>&1 &
reg_pid=$!
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done
ref=127.0.0.1:$port/demo/busybox:1
hi import build/fixtures/busybox-rootfs.tar "$ref"
hi push "$ref"
hi rmi "$ref"
hi pull "$ref"
hi images
rootfs=$(hi inspect "$ref" | jq -r '.Layers[-1].path')

bundle="$state/bundle"
mkdir -p "$bundle"
jq --arg root "$rootfs" \
   '.root.path = $root | .process.args = ["sh", "-c", "echo \"hello from $(hostname), pid $$, as $(id -un)\"; grep -E \"^(CapEff|Seccomp):\" /proc/self/status"]' \
   build/fixtures/busybox-bundle/config.json > "$bundle/config.json"

echo "== hoist-runtime run (foreground)"
"$rt" --root "$state/run" run --bundle "$bundle" demo-fg

echo "== hoist-runtime run --detach, state, exec, kill, delete"
jq '.process.args = ["sleep", "30"]' "$bundle/config.json" > "$bundle/c.json" && mv "$bundle/c.json" "$bundle/config.json"
"$rt" --root "$state/run" run --detach --bundle "$bundle" demo-bg
"$rt" --root "$state/run" state demo-bg
"$rt" --root "$state/run" exec demo-bg sh -c 'echo "exec sees: $(ps | wc -l) lines of ps"'
"$rt" --root "$state/run" list
"$rt" --root "$state/run" kill demo-bg KILL
"$rt" --root "$state/run" delete --force demo-bg
echo "== done"
