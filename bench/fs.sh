#!/usr/bin/env bash
# hoistd vs dockerd on the container's file system, side by side in one run, on the busybox image.
# Needs root. Each case is a function `case_NAME ENGINE RUN` that does its set-up untimed and prints
# the milliseconds of its timed part; every case runs --runs times per engine, engines alternating,
# and the table shows the medians and hoist's time as a fraction of docker's (target: <= 0.5).
#   cp-in   `cp` of a tree (--files files, --mb MiB in all, in 50 directories) from the host into a
#           running container (a new destination each run), each engine with its own CLI
#   cp-out  `cp` of the same tree out of the container into a new host directory
# A case is added by writing its function and naming it in `all_cases` (e.g. a `commit` case).
# Everything is private: a temp dir, a private dockerd (lib.sh: --bridge=none --iptables=false) and
# hoistd with their own data roots, sockets, cgroup parents; hoistd's default bridge and nftables table
# have names of their own and go at the end. Containers run with --network none. Everything is removed
# on exit, failure or Ctrl-C.
#   bench/fs.sh [--runs N] [--files N] [--mb N] [--cases cp-in,cp-out] [--build DIR] [--docker-cli PATH]
#               [--out FILE.json]
set -euo pipefail
self=$(readlink -f "${BASH_SOURCE[0]}")
repo=$(cd "$(dirname "$self")/.." && pwd)
die() { echo "fs: $*" >&2; exit 1; }
note() { echo "fs: $*" >&2; }

runs=5 files=5000 mb=100 build=$repo/build docker_cli=docker out='' cases_arg=''
all_cases=(cp-in cp-out)
usage() {
  echo "usage: $0 [--runs N] [--files N] [--mb N] [--cases ${all_cases[*]// /,}] [--build DIR] [--docker-cli PATH]" \
       "[--out FILE.json]" >&2
  exit 2
}
while [ $# -gt 0 ]; do
  case $1 in
    --runs) [ $# -ge 2 ] || usage; runs=$2; shift 2 ;;
    --files) [ $# -ge 2 ] || usage; files=$2; shift 2 ;;
    --mb) [ $# -ge 2 ] || usage; mb=$2; shift 2 ;;
    --cases) [ $# -ge 2 ] || usage; cases_arg=$2; shift 2 ;;
    --build) [ $# -ge 2 ] || usage; build=$2; shift 2 ;;
    --docker-cli) [ $# -ge 2 ] || usage; docker_cli=$2; shift 2 ;;
    --out) [ $# -ge 2 ] || usage; out=$2; shift 2 ;;
    *) usage ;;
  esac
done
for v in runs files mb; do [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v wants a positive integer"; done
cases=("${all_cases[@]}")
if [ -n "$cases_arg" ]; then
  IFS=, read -ra cases <<<"$cases_arg"
  for c in "${cases[@]}"; do declare -F "case_${c//-/_}" >/dev/null 2>&1 || [[ " ${all_cases[*]} " == *" $c "* ]] ||
    die "--cases: unknown case '$c'"; done
fi
[ "$(id -u)" -eq 0 ] || die "must run as root"
for t in jq python3 dockerd containerd "$docker_cli"; do command -v "$t" >/dev/null || die "missing $t"; done
unset DOCKER_HOST DOCKER_CONTEXT DOCKER_CONFIG HOIST_HOST

# shellcheck source=bench/lib.sh
source "$repo/bench/lib.sh"
bench_init fs 237
mkdir -p "$tmp/out"

# --- the engines and the image (as network.sh: hoistd loads the busybox layout, docker loads hoistd's save) ---
"$repo/scripts/make-busybox-fixtures.sh" "$tmp/fixtures" >/dev/null
img=localhost/hoist-busybox:latest
start_hoistd || die "hoistd did not start"
"${hc[@]}" load -q -i "$tmp/fixtures/busybox-oci.tar" >/dev/null || die "hoist load failed"
"${hc[@]}" save -o "$tmp/busybox-docker.tar" "$img" || die "hoist save failed"
start_private_dockerd || die "could not start a private dockerd"
"${dk[@]}" load -q -i "$tmp/busybox-docker.tar" >/dev/null || die "docker load failed"

eng() {  # eng ENGINE ARGS...: that engine's own CLI, with a time limit
  local t=$1
  shift
  case $t in
    hoist) timeout 600 "${hc[@]}" "$@" ;;
    docker) timeout 600 "${dk[@]}" "$@" ;;
  esac
}
ms() { echo $(( $(date +%s%N) / 1000000 )); }

# --- the tree: $files files in 50 directories, $mb MiB in all ---
tree=$tmp/tree/src
python3 - "$tree" "$files" "$mb" <<'EOF'
import os, sys
root, n, mb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
size = mb * 1024 * 1024 // n
block = os.urandom(size)
for i in range(n):
    d = os.path.join(root, "d%02d" % (i % 50))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%05d" % i), "wb") as f:
        f.write(block[i % 97:] + block[:i % 97])
EOF
for e in hoist docker; do
  eng "$e" run -d --name fsbench --network none "$img" sleep 1000000 >/dev/null || die "$e: run failed"
  eng "$e" cp "$tree" fsbench:/src || die "$e: the first cp failed"
done

# --- the cases: set-up untimed, the timed part's milliseconds on stdout ---
# What a run copies stays until the script ends (the container and the temp dir go then): removing
# thousands of files just before the next timed run made its file creation slow on this host (ext4
# skips recently freed inodes), for both engines, and the runs' times grew run after run.
case_cp_in() {  # case_cp_in ENGINE RUN
  local t0 t1
  sync
  t0=$(ms)
  eng "$1" cp -q "$tree" "fsbench:/in-$2" || die "$1: cp in failed"
  t1=$(ms)
  echo $(( t1 - t0 ))
}
case_cp_out() {  # case_cp_out ENGINE RUN
  local t0 t1 dst=$tmp/out/$1-$2
  sync
  t0=$(ms)
  eng "$1" cp -q fsbench:/src "$dst" || die "$1: cp out failed"
  t1=$(ms)
  [ "$(find "$dst" -type f | wc -l)" -eq "$files" ] || die "$1: cp out copied $(find "$dst" -type f | wc -l) files"
  echo $(( t1 - t0 ))
}

median() { sort -n | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print int((a[NR / 2] + a[NR / 2 + 1]) / 2) }'; }
results='[]'
printf '%-10s %12s %12s %8s\n' case "hoist ms" "docker ms" ratio
for c in "${cases[@]}"; do
  fn=case_${c//-/_}
  declare -F "$fn" >/dev/null || die "no function $fn"
  declare -A times=([hoist]='' [docker]='')
  for ((r = 1; r <= runs; r++)); do
    # Alternate which engine goes first, so neither always finds a warmer cache.
    order=(hoist docker)
    [ $((r % 2)) -eq 0 ] && order=(docker hoist)
    for e in "${order[@]}"; do times[$e]+="$("$fn" "$e" "$r") "; done
  done
  hm=$(tr ' ' '\n' <<<"${times[hoist]}" | grep . | median)
  dm=$(tr ' ' '\n' <<<"${times[docker]}" | grep . | median)
  ratio=$(awk -v h="$hm" -v d="$dm" 'BEGIN { printf "%.2f", (d > 0 ? h / d : 0) }')
  printf '%-10s %12s %12s %8s\n' "$c" "$hm" "$dm" "$ratio"
  results=$(jq -c --arg c "$c" --arg h "${times[hoist]}" --arg d "${times[docker]}" --argjson hm "$hm" --argjson dm "$dm" \
    '. + [{case: $c, hoist_ms: ($h | split(" ") | map(select(. != "") | tonumber)),
           docker_ms: ($d | split(" ") | map(select(. != "") | tonumber)), hoist_median: $hm, docker_median: $dm,
           ratio: (if $dm > 0 then $hm / $dm else null end)}]' <<<"$results")
  unset times
done
echo "($runs runs each, medians; $files files, $mb MiB; docker $("${dk[@]}" version --format '{{.Server.Version}}') with $docker_driver)"
[ -z "$out" ] || jq -n --argjson r "$results" --arg files "$files" --arg mb "$mb" --arg runs "$runs" \
  '{files: ($files | tonumber), mb: ($mb | tonumber), runs: ($runs | tonumber), results: $r}' >"$out"
