#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine, as root: install what is needed, build, make a
# busybox OCI bundle, and run containers with hoist-runtime.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
rt=build/runtime/hoist-runtime
scripts/make-busybox-fixtures.sh build/fixtures >/dev/null
state=$(mktemp -d /tmp/hoist-demo.XXXXXX)
trap '"$rt" --root "$state/run" delete --force demo-bg >/dev/null 2>&1 || true; rm -rf "$state"' EXIT
bundle="$state/bundle"
mkdir -p "$bundle"
jq --arg root "$PWD/build/fixtures/busybox-bundle/rootfs" \
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
