#!/usr/bin/env bash
# `commit` of a container that changed 50 MiB: hoist (hoist CLI -> hoistd; and docker's CLI -> hoistd,
# "hoist-dockercli") against docker (docker CLI -> a private dockerd with overlay2, vfs if overlay2
# cannot start), in one hyperfine session, on the same
# busybox rootfs imported into both. Before each timed commit (untimed, hyperfine --prepare) a
# fresh container writes its 50 MiB (40 files of 1 MiB and 1,000 of 10 KiB, random bytes) and
# exits, and `sync` flushes every dirty page, so each commit starts from a clean page cache
# whichever engine ran before. Containers and images stay until the end (about 150 MiB per run and
# engine under /tmp). Needs root.
#   bench/commit.sh [--runs N] [--warmup N] [--build DIR] [--docker-cli PATH] [--out FILE.json]
set -euo pipefail
self=$(readlink -f "${BASH_SOURCE[0]}")
repo=$(cd "$(dirname "$self")/.." && pwd)
die() { echo "commit: $*" >&2; exit 1; }
note() { echo "commit: $*" >&2; }

runs=10 warmup=1 build=$repo/build out='' docker_cli=docker
usage() { echo "usage: $0 [--runs N] [--warmup N] [--build DIR] [--docker-cli PATH] [--out FILE.json]" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case $1 in
    --runs) [ $# -ge 2 ] || usage; runs=$2; shift 2 ;;
    --warmup) [ $# -ge 2 ] || usage; warmup=$2; shift 2 ;;
    --build) [ $# -ge 2 ] || usage; build=$2; shift 2 ;;
    --docker-cli) [ $# -ge 2 ] || usage; docker_cli=$2; shift 2 ;;
    --out) [ $# -ge 2 ] || usage; out=$2; shift 2 ;;
    *) usage ;;
  esac
done
[[ $runs =~ ^[1-9][0-9]*$ ]] || die "--runs wants a positive integer"
[[ $warmup =~ ^[0-9]+$ ]] || die "--warmup wants a non-negative integer"
[ "$(id -u)" -eq 0 ] || die "must run as root"
missing=()
for t in hyperfine jq busybox dockerd containerd containerd-shim-runc-v2 "$docker_cli"; do
  command -v "$t" >/dev/null || missing+=("$t")
done
[ ${#missing[@]} -eq 0 ] || die "missing ${missing[*]}: apt-get install hyperfine jq busybox-static docker.io"
unset DOCKER_HOST DOCKER_CONTEXT DOCKER_CONFIG HOIST_HOST

# shellcheck source=bench/lib.sh
source "$repo/bench/lib.sh"
bench_init bc 236

"$repo/scripts/make-busybox-fixtures.sh" "$tmp/fixtures" >/dev/null
rootfs=$tmp/fixtures/busybox-rootfs.tar img=bench-base:1

start_hoistd || die "hoistd did not start"
"${hc[@]}" import "$rootfs" "$img" >/dev/null || die "hoist import failed"

start_private_dockerd || die "could not start a private dockerd"
"${dk[@]}" import "$rootfs" "$img" >/dev/null || die "docker import failed"

# The container's work: 40 MiB in 40 files, 10 MiB in 1,000 files.
work='mkdir -p /data/big /data/small; dd if=/dev/urandom of=/data/all bs=1M count=50 2>/dev/null;
i=0; while [ $i -lt 40 ]; do dd if=/data/all of=/data/big/f$i bs=1M skip=$i count=1 2>/dev/null; i=$((i+1)); done;
i=0; while [ $i -lt 1000 ]; do head -c 10240 /dev/urandom >/data/small/f$i; i=$((i+1)); done; rm /data/all'
for t in hoist docker; do
  if [ $t = hoist ]; then c=("${hc[@]}"); else c=("${dk[@]}"); fi
  # The last run's container is renamed, not removed, and its image stays: deleting thousands of
  # files just before a timed run makes the next file creations slow on some file systems (ext4
  # without a journal skips recently freed inodes), which would time the clean-up, not the commit.
  { printf '%q ' "${c[@]}"; echo 'rename cb "cb-$(date +%s%N)" >/dev/null 2>&1'
    printf '%q ' "${c[@]}"; printf 'run --name cb --network none %q sh -c %q >/dev/null || exit 1\n' "$img" "$work"
    echo 'sync'; } >"$tmp/prepare-$t.sh"
done
# hoist-dockercli: hoistd through docker's own CLI, to tell the daemon's time from the client's.
cp "$tmp/prepare-hoist.sh" "$tmp/prepare-hoist-dockercli.sh"
declare -A cmd
cmd[hoist]="$(printf '%q ' "${hc[@]}" commit cb bench-commit:latest)"
cmd[hoist-dockercli]="$(printf '%q ' "$docker_cli" --config "$D/client" -H "unix://$H/hoist.sock" commit cb bench-commit:latest)"
cmd[docker]="$(printf '%q ' "${dk[@]}" commit cb bench-commit:latest)"
hf=()
for t in hoist hoist-dockercli docker; do  # one run each first: a broken engine fails with its own message
  bash "$tmp/prepare-$t.sh" || die "$t: the container's work failed"
  rc=0; o=$(eval "${cmd[$t]}" 2>&1 </dev/null) || rc=$?
  [ "$rc" -eq 0 ] || die "$t: commit failed (exit $rc): $(tail -n 5 <<<"$o")"
  hf+=(-n "$t" --prepare "bash $tmp/prepare-$t.sh" "${cmd[$t]}")
done
echo "hoist: $build ($("$cli" --version 2>/dev/null | head -1)); dockerd $("${dk[@]}" version --format '{{.Server.Version}}') ($docker_driver, client $("${dk[@]}" version --format '{{.Client.Version}}'))"
echo "commit of a container that wrote 50 MiB (40 x 1 MiB + 1,000 x 10 KiB, random), $runs runs each after $warmup warm-up runs; page cache flushed (sync) before each run"
hyperfine -N --runs "$runs" --warmup "$warmup" --export-json "$tmp/hf.json" "${hf[@]}"
summary=$(jq '(.results | map({key: .command, value: .median}) | from_entries) as $r
  | {median_ms: ($r | map_values(. * 1000)),
     ratio: {hoist_docker: ($r.hoist / $r.docker), hoist_dockercli_docker: ($r["hoist-dockercli"] / $r.docker)},
     failed: [.results[] | select(any(.exit_codes[]; . != 0)) | .command]}' "$tmp/hf.json")
jq -r 'def r1: . * 10 | round / 10; def r2: . * 100 | round / 100;
  "medians: hoist \(.median_ms.hoist | r1) ms, hoist through docker'"'"'s CLI \(.median_ms["hoist-dockercli"] | r1) ms, docker \(.median_ms.docker | r1) ms; hoist/docker \(.ratio.hoist_docker | r2), hoist-dockercli/docker \(.ratio.hoist_dockercli_docker | r2)"' <<<"$summary"
[ -n "$out" ] && jq --argjson s "$summary" '. + {summary: $s}' "$tmp/hf.json" >"$out"
[ "$(jq '.failed | length' <<<"$summary")" -eq 0 ]
