#!/usr/bin/env bash
# `build` of a 10-instruction Dockerfile: hoist (hoist CLI -> hoistd) against dockerd's BuildKit
# (docker 20.10's CLI with DOCKER_BUILDKIT=1) and dockerd's classic builder (DOCKER_BUILDKIT=0), in
# one run, on the same busybox image loaded into both daemons. The Dockerfile:
#   FROM busybox, 2 ENV, WORKDIR, COPY of a 51 MiB directory (50 files of random bytes), 3 RUN (one
#   reads all 51 MiB), a COPY of one small file, LABEL
# and three cases, each a hyperfine session of the three builders:
#   cold     --no-cache
#   cached   nothing changed since the last build: every step from the cache
#   touched  the small file changed before each run (untimed): the steps from its COPY on rebuild
# The table gives medians and hoist's time as a fraction of each peer's (target: <= 0.5 of BuildKit).
# RUN steps get --network none on all builders (the private dockerd has no bridge). Everything is
# private (a temp dir, daemons with their own data roots, sockets, cgroup parents, bridge, nft table)
# and removed on exit, failure or Ctrl-C. Needs root.
#   bench/build.sh [--runs N] [--cases cold,cached,touched] [--build DIR] [--out FILE.json]
set -euo pipefail
self=$(readlink -f "${BASH_SOURCE[0]}")
repo=$(cd "$(dirname "$self")/.." && pwd)
die() { echo "build: $*" >&2; exit 1; }
note() { echo "build: $*" >&2; }

runs=5 build=$repo/build out='' cases_arg=cold,cached,touched
usage() { echo "usage: $0 [--runs N] [--cases cold,cached,touched] [--build DIR] [--out FILE.json]" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case $1 in
    --runs) [ $# -ge 2 ] || usage; runs=$2; shift 2 ;;
    --cases) [ $# -ge 2 ] || usage; cases_arg=$2; shift 2 ;;
    --build) [ $# -ge 2 ] || usage; build=$2; shift 2 ;;
    --out) [ $# -ge 2 ] || usage; out=$2; shift 2 ;;
    *) usage ;;
  esac
done
[[ $runs =~ ^[1-9][0-9]*$ ]] || die "--runs wants a positive integer"
IFS=, read -ra cases <<<"$cases_arg"
for c in "${cases[@]}"; do [[ $c =~ ^(cold|cached|touched)$ ]] || die "--cases: unknown case '$c'"; done
[ "$(id -u)" -eq 0 ] || die "must run as root"
docker_cli=/usr/bin/docker  # 20.10: BuildKit built into the CLI (the 28.2 CLI here has no buildx)
for t in hyperfine jq python3 dockerd containerd "$docker_cli"; do command -v "$t" >/dev/null || die "missing $t"; done
unset DOCKER_HOST DOCKER_CONTEXT DOCKER_CONFIG HOIST_HOST DOCKER_BUILDKIT

# shellcheck source=bench/lib.sh
source "$repo/bench/lib.sh"
bench_init bb 235

# --- the engines and the image (hoistd loads the busybox layout, dockerd loads hoistd's save) ---
"$repo/scripts/make-busybox-fixtures.sh" "$tmp/fixtures" >/dev/null
img=localhost/hoist-busybox:latest
start_hoistd || die "hoistd did not start"
"${hc[@]}" load -q -i "$tmp/fixtures/busybox-oci.tar" >/dev/null || die "hoist load failed"
"${hc[@]}" save -o "$tmp/busybox-docker.tar" "$img" || die "hoist save failed"
start_private_dockerd || die "could not start a private dockerd"
"${dk[@]}" load -q -i "$tmp/busybox-docker.tar" >/dev/null || die "docker load failed"

# --- the context ---
ctx=$tmp/ctx
mkdir -p "$ctx/data"
python3 - "$ctx/data" <<'PY'
import os, sys
for i in range(50):
    with open(os.path.join(sys.argv[1], "f%02d" % i), "wb") as f:
        f.write(os.urandom(51 * 1024 * 1024 // 50))
PY
echo 1 >"$ctx/small.txt"
cat >"$ctx/Dockerfile" <<DF
FROM $img
ENV APP=/app
ENV MODE=bench
WORKDIR /app
COPY data/ /app/data/
RUN mkdir -p /app/out && echo built > /app/out/stamp
RUN sha1sum /app/data/* > /app/out/sums
RUN ls -la /app > /app/out/listing
COPY small.txt /app/small.txt
LABEL bench=build
DF

declare -A cmd
cmd[hoist]="$(printf '%q ' "${hc[@]}" build -q --network none -t bench-build:hoist "$ctx")"
cmd[buildkit]="$(printf '%q ' env DOCKER_BUILDKIT=1 "${dk[@]}" build -q --network none -t bench-build:buildkit "$ctx")"
cmd[classic]="$(printf '%q ' env DOCKER_BUILDKIT=0 "${dk[@]}" build -q --network none -t bench-build:classic "$ctx")"
builders=(hoist buildkit classic)

# One build each first (and a check that all three made the same files): a broken builder fails
# with its own message, and the cached case starts from a full cache.
for b in "${builders[@]}"; do
  rc=0; o=$(eval "${cmd[$b]}" 2>&1 </dev/null) || rc=$?
  [ "$rc" -eq 0 ] || die "$b: build failed (exit $rc): $(tail -n 5 <<<"$o")"
done
sums_h=$("${hc[@]}" run --rm --network none bench-build:hoist cat /app/out/sums)
for b in buildkit classic; do
  [ "$("${dk[@]}" run --rm --network none "bench-build:$b" cat /app/out/sums)" = "$sums_h" ] ||
    die "$b's image differs from hoist's (/app/out/sums)"
done

echo "hoist: $build ($("$cli" --version 2>/dev/null | head -1)); dockerd $("${dk[@]}" version --format '{{.Server.Version}}') ($docker_driver, client $("${dk[@]}" version --format '{{.Client.Version}}'))"
echo "10-instruction build with a 51 MiB COPY; $runs runs per builder and case"
summary='{}'
for c in "${cases[@]}"; do
  hf=()
  for b in "${builders[@]}"; do
    case $c in
      cold) hf+=(-n "$b" "${cmd[$b]/ build / build --no-cache }") ;;
      cached) hf+=(-n "$b" "${cmd[$b]}") ;;
      touched) hf+=(-n "$b" --prepare "sh -c 'date +%s%N >$ctx/small.txt'" "${cmd[$b]}") ;;
    esac
  done
  echo "== $c"
  hyperfine -N --runs "$runs" --warmup 1 --export-json "$tmp/hf-$c.json" "${hf[@]}" >/dev/null
  summary=$(jq --arg c "$c" --argjson s "$summary" '(.results | map({key: .command, value: .median}) | from_entries) as $r
    | $s + {($c): {median_ms: ($r | map_values(. * 1000)), hoist_buildkit: ($r.hoist / $r.buildkit),
                    hoist_classic: ($r.hoist / $r.classic),
                    failed: [.results[] | select(any(.exit_codes[]; . != 0)) | .command]}}' "$tmp/hf-$c.json")
done
printf '%-8s %10s %10s %10s %14s %14s\n' case hoist buildkit classic hoist/buildkit hoist/classic
jq -r 'to_entries[] | [.key, (.value.median_ms.hoist | round), (.value.median_ms.buildkit | round),
  (.value.median_ms.classic | round), (.value.hoist_buildkit * 100 | round / 100),
  (.value.hoist_classic * 100 | round / 100)] | @tsv' <<<"$summary" |
  while IFS=$'\t' read -r c h b k rb rk; do printf '%-8s %8s ms %8s ms %8s ms %14s %14s\n' "$c" "$h" "$b" "$k" "$rb" "$rk"; done
[ -n "$out" ] && jq -n --argjson s "$summary" --arg runs "$runs" '{runs: ($runs | tonumber), cases: $s}' >"$out"
[ "$(jq '[.[].failed[]] | length' <<<"$summary")" -eq 0 ]
