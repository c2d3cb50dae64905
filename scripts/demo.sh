#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine, as root: install what is needed, build; start hoistd on
# its default data root and socket (/var/lib/hoist, /run/hoist/hoist.sock), make a busybox image with
# `hoist import` from Debian's busybox-static when there is none (no registry is contacted), and run
# containers through `hoist`; then push an image to a private registry on loopback and pull it back
# with hoist-image, and run containers from it with hoist-runtime directly.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
rt=build/runtime/hoist-runtime
scripts/make-busybox-fixtures.sh build/fixtures >/dev/null
state=$(mktemp -d /tmp/hoist-demo.XXXXXX)
reg_pid=
hoistd_pid=
hoist=build/cli/hoist  # the default socket, unix:///run/hoist/hoist.sock
cleanup() {
  set +e
  "$rt" --root "$state/run" delete --force demo-bg >/dev/null 2>&1
  if [ -n "$reg_pid" ]; then kill "$reg_pid" 2>/dev/null; wait "$reg_pid" 2>/dev/null; fi
  $hoist rm -f demo-web demo-exec demo-http demo-commit >/dev/null 2>&1
  $hoist volume rm demo-www >/dev/null 2>&1
  $hoist rmi demo-committed:1 >/dev/null 2>&1
  [ -f "$state/compose/compose.yaml" ] && $hoist compose -f "$state/compose/compose.yaml" -p demo down -v -t 1 >/dev/null 2>&1
  $hoist rm -f demo-app >/dev/null 2>&1
  $hoist volume rm demo-logs >/dev/null 2>&1
  $hoist rmi demo-app:1 >/dev/null 2>&1
  if [ -n "$hoistd_pid" ]; then
    # We started it: stop it again (containers of others would keep running: live restore).
    kill "$hoistd_pid" 2>/dev/null; wait "$hoistd_pid" 2>/dev/null
    # Its cgroup parent, deepest first; a container's cgroup can take a moment to empty.
    for _ in 1 2 3 4 5 6 7 8 9 10; do
      find /sys/fs/cgroup/*/hoist /sys/fs/cgroup/unified/hoist -depth -type d -exec rmdir {} + 2>/dev/null
      compgen -G '/sys/fs/cgroup/*/hoist' >/dev/null || [ -d /sys/fs/cgroup/unified/hoist ] || break
      sleep 0.2
    done
    # What the daemon keeps for its next start (as dockerd keeps docker0 and its rules): the default
    # bridge, its nftables table and the bind mount that holds network namespaces.
    ip link del hoist0 2>/dev/null
    nft delete table ip hoist 2>/dev/null
    umount /run/hoist/netns 2>/dev/null
  fi
  rm -rf "$state"
}
trap cleanup EXIT

echo "== hoistd and hoist: the daemon on its default data root, a busybox image, containers"
if $hoist version >/dev/null 2>&1; then
  echo "(a hoistd already answers on /run/hoist/hoist.sock: using it)"
else
  build/engine/hoistd > "$state/hoistd.log" 2>&1 &
  hoistd_pid=$!
  for _ in $(seq 100); do $hoist version >/dev/null 2>&1 && break; sleep 0.05; done
fi
if ! $hoist image inspect busybox:latest >/dev/null 2>&1; then
  # No registry is assumed to be reachable: the image is made from Debian's busybox-static.
  $hoist import --change 'CMD ["sh"]' build/fixtures/busybox-rootfs.tar busybox:latest
fi
$hoist run --rm busybox sh -c 'echo "hello from $(hostname), pid $$"'
$hoist run -d --name demo-web --restart on-failure --health-cmd 'test -f /tmp/up' --health-interval 1s \
  busybox sh -c 'echo serving; touch /tmp/up; sleep 300'
$hoist exec demo-web sh -c 'echo "exec in demo-web: $(ps | wc -l) lines of ps"'
$hoist ps
sleep 1.5
$hoist ps --format '{{.Names}}: {{.Status}}'
$hoist logs demo-web
$hoist stop -t 1 demo-web
$hoist ps -a --filter name=demo- --format '{{.Names}}: {{.Status}}'
$hoist rm demo-web
$hoist images
echo "== a named volume and a published port: one container writes a page into the volume, busybox httpd serves it"
wport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
$hoist volume create demo-www
$hoist run --rm -v demo-www:/www busybox sh -c 'echo "hello from a volume over a published port" > /www/index.html'
$hoist run -d --name demo-http -p "127.0.0.1:$wport:80" -v demo-www:/www:ro busybox httpd -f -p 80 -h /www
$hoist port demo-http
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$wport/" && break; sleep 0.1; done
$hoist cp demo-http:/www/index.html "$state/index.html"
echo "hoist cp copied out: $(cat "$state/index.html")"
$hoist rm -f demo-http
$hoist volume rm demo-www

echo "== commit: a container's changes as a new image"
$hoist run --name demo-commit busybox sh -c 'echo "made in a container, kept by commit" > /greeting; rm /bin/vi'
$hoist diff demo-commit
$hoist commit -c 'CMD ["cat", "/greeting"]' demo-commit demo-committed:1 >/dev/null
$hoist run --rm demo-committed:1
$hoist rm demo-commit
$hoist rmi demo-committed:1 >/dev/null

echo "== build: a Dockerfile built by hoistd, its image run with a published port and a volume"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
mkdir -p "$state/app"
cat > "$state/app/Dockerfile" <<'DOCKERFILE'
FROM busybox
WORKDIR /www
COPY index.html .
EXPOSE 80
CMD ["sh", "-c", "date > /logs/started; exec httpd -f -p 80 -h /www"]
DOCKERFILE
echo "hello from an image hoist built" > "$state/app/index.html"
$hoist build -t demo-app:1 "$state/app"
aport=$(free_port)
$hoist run -d --name demo-app -p "127.0.0.1:$aport:80" -v demo-logs:/logs demo-app:1
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$aport/" && break; sleep 0.1; done
$hoist rm -f demo-app
$hoist volume rm demo-logs

echo "== compose: a two-service app from a compose file"
cport=$(free_port)
mkdir -p "$state/compose"
cat > "$state/compose/compose.yaml" <<YAML
services:
  web:
    image: demo-app:1
    ports: ["127.0.0.1:$cport:80"]
    volumes: [logs:/logs]
    depends_on: [worker]
  worker:
    image: busybox
    command: ["sh", "-c", "ping -c 1 web >/dev/null 2>&1; sleep 300"]
volumes:
  logs: {}
YAML
compose() { $hoist compose -f "$state/compose/compose.yaml" -p demo "$@"; }
compose up -d
compose ps
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$cport/" && break; sleep 0.1; done
compose down -v -t 1
$hoist rmi demo-app:1 >/dev/null

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
