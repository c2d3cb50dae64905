#!/usr/bin/env bash
# hoist-runtime vs crun vs runc, measured in one hyperfine session, on a busybox OCI bundle. Needs root.
#   --op run  (default) start-to-exit latency of `RUNTIME run` of a container running `true`
#   --op exec latency of `RUNTIME exec ID true` into a running container
#   --gap MS  a pause before each timed run (default 0: back to back). Starts spaced like a build's
#             steps pay for what back-to-back ones share, e.g. the RCU grace period of a cgroup move
#             (a move within one grace period of the last one does not wait for another).
#   bench/runtime-run.sh [--op run|exec] [--runs N] [--gap MS] [--hoist PATH] [--out FILE.json]
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runs=100 warmup=10 out='' hoist=$repo/build/runtime/hoist-runtime op=run gap=0
usage() { echo "usage: $0 [--op run|exec] [--runs N] [--gap MS] [--hoist PATH] [--out FILE.json]" >&2; exit 2; }
die() { echo "runtime-run: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
  case $1 in
    --runs) [ $# -ge 2 ] || usage; runs=$2; shift 2 ;;
    --hoist) [ $# -ge 2 ] || usage; hoist=$2; shift 2 ;;
    --out) [ $# -ge 2 ] || usage; out=$2; shift 2 ;;
    --op) [ $# -ge 2 ] || usage; op=$2; shift 2 ;;
    --gap) [ $# -ge 2 ] || usage; gap=$2; shift 2 ;;
    *) usage ;;
  esac
done
[[ $runs =~ ^[1-9][0-9]*$ ]] || die "--runs wants a positive integer"
[[ $op == run || $op == exec ]] || die "--op wants run or exec"
[[ $gap =~ ^[0-9]+$ ]] || die "--gap wants milliseconds"
[ "$(id -u)" -eq 0 ] || die "must run as root"
missing=()
for t in hyperfine jq crun runc; do command -v "$t" >/dev/null || missing+=("$t"); done
[ ${#missing[@]} -eq 0 ] || die "missing ${missing[*]}: apt-get install ${missing[*]} (or scripts/install-deps.sh)"
[ -x "$hoist" ] || die "no hoist-runtime at $hoist (build it, or pass --hoist PATH)"

# Hybrid cgroups: crun refuses while cgroup2 holds controllers; giving hugetlb a v1 hierarchy empties it.
ctl=/sys/fs/cgroup/unified/cgroup.controllers
if [ -n "$(cat "$ctl" 2>/dev/null || true)" ]; then
  if awk '$3 == "cgroup" && $4 ~ /(^|,)hugetlb(,|$)/ { f = 1 } END { exit !f }' /proc/mounts; then
    echo "warning: cgroup2 holds '$(cat "$ctl")' and hugetlb is already mounted; crun may refuse hybrid mode" >&2
  else
    mkdir -p /sys/fs/cgroup/hugetlb && mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb
    echo "note: hybrid cgroups: mounted the hugetlb v1 hierarchy at /sys/fs/cgroup/hugetlb so crun runs" \
         "(cgroup2 controllers now: '$(cat "$ctl")'; left mounted)"
  fi
fi

names=(hoist crun runc)
bins=("$hoist" crun runc)
tmp=$(mktemp -d)
cleanup() {
  local i d
  for i in 0 1 2; do
    "${bins[i]}" --root "$tmp/state-${names[i]}" delete --force "bench-${names[i]}" >/dev/null 2>&1 || true
  done
  # Belt and braces: nothing may survive in (or as) a bench-* cgroup.
  while read -r d; do
    xargs -r kill -9 <"$d/cgroup.procs" 2>/dev/null || true
    rmdir "$d" 2>/dev/null || { sleep 0.2; rmdir "$d" 2>/dev/null; } ||
      echo "runtime-run: could not remove cgroup $d" >&2
  done < <(find /sys/fs/cgroup -depth -type d \( -name bench-hoist -o -name bench-crun -o -name bench-runc \) 2>/dev/null)
  rm -rf --one-file-system "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$repo/scripts/make-busybox-fixtures.sh" "$tmp" >/dev/null
bundle=$tmp/busybox-bundle
process='["true"]'
[ "$op" = exec ] && process='["sleep", "3600"]'
jq --argjson p "$process" '.process.args = $p' "$bundle/config.json" >"$tmp/config.json"
mv "$tmp/config.json" "$bundle/config.json"

# One smoke run each, so a broken runtime fails loudly with its own error message.
cmds=() failed=0
for i in 0 1 2; do
  state=(--root "$tmp/state-${names[i]}")
  if [ "$op" = exec ]; then
    "${bins[i]}" "${state[@]}" run --detach --bundle "$bundle" "bench-${names[i]}" </dev/null >/dev/null 2>&1 ||
      { echo "runtime-run: ${names[i]} could not start the container to exec into" >&2; failed=1; }
    args=("${bins[i]}" "${state[@]}" exec "bench-${names[i]}" true)
  else
    args=("${bins[i]}" "${state[@]}" run --bundle "$bundle" "bench-${names[i]}")
  fi
  err=$("${args[@]}" 2>&1 </dev/null) || { echo "runtime-run: ${names[i]} failed ($?): $err" >&2; failed=1; }
  cmds+=(-n "${names[i]}" "$(printf '%q ' "${args[@]}")")
done
[ "$failed" -eq 0 ] || exit 1

echo "hoist: $hoist ($("$hoist" --version | head -1)); $(crun --version | head -1); $(runc --version | head -1)"
echo "op: $op; bundle: busybox, process.args $process; runs $runs, warm-up $warmup, gap $gap ms"
spacing=()
[ "$gap" -gt 0 ] && spacing=(--prepare "sleep $(printf '%d.%03d' $((gap / 1000)) $((gap % 1000)))")
hyperfine -N -i --runs "$runs" --warmup "$warmup" "${spacing[@]}" --export-json "$tmp/hf.json" "${cmds[@]}"

# Medians (hyperfine reports seconds) and ratios; a runtime whose any run exited non-zero is FAILED.
summary=$(jq '(.results | map({key: .command, value: .}) | from_entries) as $r
  | { median_ms: ($r | map_values(.median * 1000)),
      ratio: { hoist_crun: ($r.hoist.median / $r.crun.median), hoist_runc: ($r.hoist.median / $r.runc.median),
               runc_crun: ($r.runc.median / $r.crun.median) },
      failed: [.results[] | select(any(.exit_codes[]; . != 0)) | .command] }' "$tmp/hf.json")
echo
printf '%-8s %10s %20s %12s\n' runtime 'median ms' 'mean ± stddev ms' 'ratio/crun'
jq -r '(.results | map(select(.command == "crun"))[0].median) as $c | .results[]
  | [.command, .median * 1000, .mean * 1000, (.stddev // 0) * 1000, .median / $c,
     (if any(.exit_codes[]; . != 0) then "FAILED" else "" end)] | @tsv' "$tmp/hf.json" |
  while IFS=$'\t' read -r n med mean sd ratio bad; do
    printf '%-8s %10.2f %20s %12.2f%s\n' "$n" "$med" "$(printf '%.2f ± %.2f' "$mean" "$sd")" "$ratio" "${bad:+  $bad}"
  done
jq -r '.ratio | "ratios (median): hoist/crun \(.hoist_crun * 100 | round / 100)  hoist/runc \(.hoist_runc * 100 | round / 100)  runc/crun \(.runc_crun * 100 | round / 100)"' <<<"$summary"
if [ -n "$out" ]; then jq --argjson s "$summary" '. + {summary: $s}' "$tmp/hf.json" >"$out"; echo "json: $out"; fi
[ "$(jq '.failed | length' <<<"$summary")" -eq 0 ] || die "failed runs: $(jq -r '.failed | join(", ")' <<<"$summary")"
