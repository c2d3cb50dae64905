#!/usr/bin/env bash
# `compose up -d` and `compose down` of a three-service app: hoist compose (-> hoistd) against Docker's
# compose tool (Debian's docker-compose -> a private dockerd), and docker-compose -> hoistd to tell the
# daemon's share from the client's; then `hoist compose ps` and `config` on their own (target: <= 20 ms).
# The app: a project network, a named volume, three busybox services (one with two replicas), each
# exiting on SIGTERM at once. Each up runs on a project that is down (hyperfine --prepare), each down on
# one that is up. Everything is private (a temp dir, daemons with their own data roots, sockets, cgroup
# parents, hoistd's bridge and nft table) and removed on exit, failure or Ctrl-C. Needs root.
# The ratio target: hoist compose <= 0.2 x docker-compose.
#   bench/compose.sh [--runs N] [--build DIR] [--out FILE.json]
set -euo pipefail
self=$(readlink -f "${BASH_SOURCE[0]}")
repo=$(cd "$(dirname "$self")/.." && pwd)
die() { echo "compose: $*" >&2; exit 1; }
note() { echo "compose: $*" >&2; }

runs=5 build=$repo/build out=''
usage() { echo "usage: $0 [--runs N] [--build DIR] [--out FILE.json]" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case $1 in
    --runs) [ $# -ge 2 ] || usage; runs=$2; shift 2 ;;
    --build) [ $# -ge 2 ] || usage; build=$2; shift 2 ;;
    --out) [ $# -ge 2 ] || usage; out=$2; shift 2 ;;
    *) usage ;;
  esac
done
[[ $runs =~ ^[1-9][0-9]*$ ]] || die "--runs wants a positive integer"
[ "$(id -u)" -eq 0 ] || die "must run as root"
docker_cli=docker
for t in hyperfine jq dockerd containerd docker-compose "$docker_cli"; do command -v "$t" >/dev/null || die "missing $t"; done
unset DOCKER_HOST DOCKER_CONTEXT DOCKER_CONFIG HOIST_HOST COMPOSE_PROJECT_NAME COMPOSE_FILE

# shellcheck source=bench/lib.sh
source "$repo/bench/lib.sh"
bench_init bm 233
mkdir -p "$tmp/app"

# --- the engines and the image (hoistd loads the busybox layout, dockerd loads hoistd's save) ---
"$repo/scripts/make-busybox-fixtures.sh" "$tmp/fixtures" >/dev/null
img=localhost/hoist-busybox:latest
# Project networks come from address pools of their own, off the host's routes and the tests' ranges.
start_hoistd --default-address-pool base=10.232.0.0/16,size=24 || die "hoistd did not start"
"${hc[@]}" load -q -i "$tmp/fixtures/busybox-oci.tar" >/dev/null || die "hoist load failed"
"${hc[@]}" save -o "$tmp/busybox-docker.tar" "$img" || die "hoist save failed"
docker_flags+=(--default-address-pool "base=10.231.0.0/16,size=24")
start_private_dockerd || die "could not start a private dockerd"
"${dk[@]}" load -q -i "$tmp/busybox-docker.tar" >/dev/null || die "docker load failed"

cat >"$tmp/app/compose.yaml" <<YAML
services:
  db:
    image: $img
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"]
    volumes: ["data:/data"]
  api:
    image: $img
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"]
    depends_on: [db]
    deploy:
      replicas: 2
  web:
    image: $img
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"]
    depends_on: [api]
volumes:
  data: {}
YAML

q() { printf '%q ' "$@"; }
declare -A up down
up[hoist]="$(q "${hc[@]}" compose --project-directory "$tmp/app" -p bh up -d)"
down[hoist]="$(q "${hc[@]}" compose --project-directory "$tmp/app" -p bh down)"
up[docker-compose]="$(q env DOCKER_HOST="unix://$D/docker.sock" docker-compose --project-directory "$tmp/app" -p bd up -d)"
down[docker-compose]="$(q env DOCKER_HOST="unix://$D/docker.sock" docker-compose --project-directory "$tmp/app" -p bd down)"
up[compose-hoistd]="$(q env DOCKER_HOST="unix://$H/hoist.sock" docker-compose --project-directory "$tmp/app" -p bc up -d)"
down[compose-hoistd]="$(q env DOCKER_HOST="unix://$H/hoist.sock" docker-compose --project-directory "$tmp/app" -p bc down)"
tools=(hoist docker-compose compose-hoistd)
for t in "${tools[@]}"; do  # one round each first: a broken tool fails with its own message
  for c in "${up[$t]}" "${down[$t]}"; do
    rc=0; o=$(cd "$tmp/app" && eval "$c" 2>&1 </dev/null) || rc=$?
    [ "$rc" -eq 0 ] || die "$t: '$c' failed (exit $rc): $(tail -n 5 <<<"$o")"
  done
done

echo "hoist: $build ($("$cli" --version 2>/dev/null | head -1)); dockerd $("${dk[@]}" version --format '{{.Server.Version}}') ($docker_driver); $(docker-compose version --short 2>/dev/null | sed 's/^/docker-compose /')"
echo "three services (four containers), a network, a volume; $runs runs each"
hf_up=() hf_down=()
for t in "${tools[@]}"; do
  hf_up+=(-n "$t" --prepare "${down[$t]}" "${up[$t]}")
  hf_down+=(-n "$t" --prepare "${up[$t]}" "${down[$t]}")
done
cd "$tmp/app"
hyperfine -N --runs "$runs" --export-json "$tmp/up.json" "${hf_up[@]}" >/dev/null
hyperfine -N --runs "$runs" --export-json "$tmp/down.json" "${hf_down[@]}" >/dev/null
eval "${up[hoist]}" >/dev/null 2>&1
hyperfine -N --runs $((runs * 4)) --warmup 2 --export-json "$tmp/ro.json" \
  -n ps "$(q "${hc[@]}" compose --project-directory "$tmp/app" -p bh ps)" \
  -n config "$(q "${hc[@]}" compose --project-directory "$tmp/app" -p bh config)" >/dev/null
eval "${down[hoist]}" >/dev/null 2>&1
summary=$(jq -n --slurpfile u "$tmp/up.json" --slurpfile d "$tmp/down.json" --slurpfile r "$tmp/ro.json" '
  def med($f): $f[0].results | map({key: .command, value: (.median * 1000)}) | from_entries;
  {up_ms: med($u), down_ms: med($d), hoist_ms: med($r)}
  | .ratio = {up: (.up_ms.hoist / .up_ms["docker-compose"]), down: (.down_ms.hoist / .down_ms["docker-compose"])}
  | .failed = [($u[0].results + $d[0].results + $r[0].results)[] | select(any(.exit_codes[]; . != 0)) | .command]')
jq -r 'def r: . * 10 | round / 10; def r2: . * 100 | round / 100;
  "up -d:  hoist \(.up_ms.hoist | r) ms, docker-compose \(.up_ms["docker-compose"] | r) ms, docker-compose on hoistd \(.up_ms["compose-hoistd"] | r) ms; hoist/docker-compose \(.ratio.up | r2)",
  "down:   hoist \(.down_ms.hoist | r) ms, docker-compose \(.down_ms["docker-compose"] | r) ms, docker-compose on hoistd \(.down_ms["compose-hoistd"] | r) ms; hoist/docker-compose \(.ratio.down | r2)",
  "hoist compose ps \(.hoist_ms.ps | r) ms, config \(.hoist_ms.config | r) ms"' <<<"$summary"
[ -n "$out" ] && jq -n --argjson s "$summary" --arg runs "$runs" '{runs: ($runs | tonumber)} + $s' >"$out"
[ "$(jq '.failed | length' <<<"$summary")" -eq 0 ]
