#!/usr/bin/env bash
# Soak test of hoistd: N cycles of
#   1. hoist run --rm IMAGE true
#   2. hoist run -d IMAGE sleep 3600; hoist exec ID true; hoist rm -f ID
#   3. kill -9 hoistd, then start it again on the same roots (every --restart-every cycles; 1 = each)
# and a check that nothing leaked. Fails (exit 1) when, after the cycles, there is any more than
# before of: mounts under its dir, cgroups below its cgroup parent, veth interfaces, hoist-shim
# processes, zombies (children of hoistd, its shims or this script), container records (the data
# root's containers/, the exec root's containers/ and the runtime's state dirs); or when hoistd's
# open fds grew, or its RSS grew by more than 1 MiB. hoistd's fds and RSS are taken at the same
# point of a cycle (after step 2), in cycle W (--warmup, default 1; cycle 0 is a warm-up too) and
# in the last. With a long-lived hoistd (--restart-every K > 75) take W = 100: the daemon's event
# history (the last 1024 events, ~14 a cycle) is full by then and stops growing.
# Everything is private (temp dir, socket, data/exec roots, cgroup parent) and removed on exit.
#   bench/soak.sh [--build DIR] [--restart-every K] [--warmup W] N
# Needs root, jq and busybox-static; uses the binaries of build/ (scripts/build.sh).
set -euo pipefail
self=$(readlink -f "${BASH_SOURCE[0]}")
repo=$(cd "$(dirname "$self")/.." && pwd)
die() { echo "soak: $*" >&2; exit 1; }
note() { echo "soak: $*" >&2; }
usage() { echo "usage: $0 [--build DIR] [--restart-every K] [--warmup W] N" >&2; exit 2; }

build=$repo/build every=1 warmup=1 n=''
while [ $# -gt 0 ]; do
  case $1 in
    --build) [ $# -ge 2 ] || usage; build=$2; shift 2 ;;
    --restart-every) [ $# -ge 2 ] || usage; every=$2; shift 2 ;;
    --warmup) [ $# -ge 2 ] || usage; warmup=$2; shift 2 ;;
    -*) usage ;;
    *) [ -z "$n" ] || usage; n=$1; shift ;;
  esac
done
[[ $n =~ ^[1-9][0-9]*$ ]] || usage
[[ $every =~ ^[1-9][0-9]*$ ]] || die "--restart-every wants a positive integer"
[[ $warmup =~ ^[1-9][0-9]*$ ]] && ((warmup <= n)) || die "--warmup wants a positive integer, at most N"
[ "$(id -u)" -eq 0 ] || die "must run as root"
hoistd=$build/engine/hoistd shim=$build/engine/hoist-shim cli=$build/cli/hoist runtime=$build/runtime/hoist-runtime
for b in "$hoistd" "$shim" "$cli" "$runtime"; do [ -x "$b" ] || die "no $b (build first, or pass --build DIR)"; done
unset DOCKER_HOST HOIST_HOST

tmp=$(mktemp -d /tmp/hoist-soak.XXXXXX)
chmod 711 "$tmp"
H=$tmp/h cg=/hoist-soak-$$
hc=("$cli" -H "unix://$H/hoist.sock")
# shellcheck source=bench/lib.sh
source "$repo/bench/lib.sh"
hoistd_pid=''

start_hoistd() {
  setsid "$hoistd" -H "unix://$H/hoist.sock" --config-file "$H/daemon.json" --data-root "$H/data" \
    --exec-root "$H/run" --config-dir "$H/etc" --runtime "$runtime" --shim "$shim" --cgroup-parent "$cg" \
    --log-level warn >>"$H/hoistd.log" 2>&1 </dev/null &
  hoistd_pid=$!
  local i
  for ((i = 0; i < 200; i++)); do
    "${hc[@]}" version >/dev/null 2>&1 && return 0
    kill -0 "$hoistd_pid" 2>/dev/null || break
    sleep 0.05
  done
  tail -n 5 "$H/hoistd.log" >&2
  die "hoistd did not start"
}
cgroup_dirs() { find /sys/fs/cgroup -mindepth 1 -maxdepth 3 -type d -path "*${cg}" 2>/dev/null; }
container_cgroups() {  # how many cgroups there are below the parent, in every hierarchy
  cgroup_dirs | while read -r d; do find "$d" -mindepth 1 -type d; done | wc -l
}
remove_cgroups() {
  local d i
  cgroup_dirs | xargs -r -I{} find {} -depth -type d | while read -r d; do
    for ((i = 0; i < 20; i++)); do
      [ -s "$d/cgroup.procs" ] || break
      xargs -r kill -9 <"$d/cgroup.procs" 2>/dev/null || true
      sleep 0.1
    done
    rmdir "$d" 2>/dev/null || note "could not remove cgroup $d"
  done
}
cleanup() {
  local p ids
  set +e
  trap - INT TERM
  if [ -n "$hoistd_pid" ] && kill -0 "$hoistd_pid" 2>/dev/null; then
    ids=$("${hc[@]}" ps -aq 2>/dev/null)
    [ -n "$ids" ] && "${hc[@]}" rm -f $ids >/dev/null 2>&1
  fi
  stop_pid "$hoistd_pid" 5
  remove_cgroups
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    [ "$p" != $$ ] && [ "$p" != "$BASHPID" ] && is_ours "$p" && stop_pid "$p" 2
  done
  remove_cgroups
  umount_under "$tmp"
  rm -rf --one-file-system "$tmp"
  [ -d "$tmp" ] && note "could not remove $tmp"
  true
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- what is counted ---
ours_named() {  # ours_named COMM: pids of processes named COMM whose command line names $tmp
  local p
  for p in /proc/[0-9]*; do
    [ "$(cat "$p/comm" 2>/dev/null)" = "$1" ] && is_ours "${p#/proc/}" && echo "${p#/proc/}"
  done
  true
}
zombies() {  # Z processes whose parent is hoistd, one of our shims or this script
  local parents p
  parents=" $hoistd_pid $$ $(ours_named hoist-shim | tr '\n' ' ') "
  for p in /proc/[0-9]*/stat; do
    awk -v P="$parents" '$3 == "Z" && index(P, " " $4 " ") { print $1 }' "$p" 2>/dev/null
  done | wc -l
}
count() {  # prints "mounts cgroups veths shims zombies records"
  local mounts cgroups veths shims zs records
  mounts=$(findmnt -rno TARGET | awk -v p="$tmp/" 'index($0, p) == 1' | wc -l)
  cgroups=$(container_cgroups)
  veths=$(ip -o link show type veth 2>/dev/null | wc -l)
  shims=$(ours_named hoist-shim | wc -l)
  zs=$(zombies)
  # the runtime's root also holds caches (compiled seccomp programs): only container ids count there
  records=$( (find "$H/data/containers" "$H/run/containers" -mindepth 1 -maxdepth 1 2>/dev/null
    find "$H/run/runtime" -mindepth 1 -maxdepth 1 -regextype egrep -regex '.*/[0-9a-f]{64}' 2>/dev/null) | wc -l)
  echo "$mounts $cgroups $veths $shims $zs $records"
}
fds() { ls "/proc/$hoistd_pid/fd" 2>/dev/null | wc -l; }
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$hoistd_pid/status"; }

# --- the image and the daemon ---
mkdir -p "$H"
echo '{}' >"$H/daemon.json"
"$repo/scripts/make-busybox-fixtures.sh" "$tmp/fixtures" >/dev/null
img=localhost/hoist-busybox:latest
before=$(count)
start_hoistd
"${hc[@]}" load -q -i "$tmp/fixtures/busybox-oci.tar" >/dev/null || die "hoist load failed"

failures=0
cycle() {  # cycle I: one cycle; measures hoistd when I is 1 or the last
  local i=$1 id out
  out=$("${hc[@]}" run --rm "$img" true 2>&1) || { note "cycle $i: run --rm: $out"; failures=$((failures + 1)); }
  if id=$("${hc[@]}" run -d "$img" sleep 3600 2>&1); then
    out=$("${hc[@]}" exec "$id" true 2>&1) || { note "cycle $i: exec: $out"; failures=$((failures + 1)); }
    out=$("${hc[@]}" rm -f "$id" 2>&1) || { note "cycle $i: rm -f: $out"; failures=$((failures + 1)); }
  else
    note "cycle $i: run -d: $id"
    failures=$((failures + 1))
  fi
  if [ "$i" -eq "$warmup" ] || [ "$i" -eq "$n" ]; then
    sleep 1  # monitor threads and connections of the cycle wind down
    echo "$(fds) $(rss)" >"$tmp/measure.$([ "$i" -eq "$warmup" ] && echo first || echo last)"
  fi
  if ((i % every == 0)); then
    kill -KILL "$hoistd_pid"
    wait "$hoistd_pid" 2>/dev/null || true
    start_hoistd
  fi
}
start=$(date +%s)
cycle 0  # warm-up: first-use allocations, caches
for ((c = 1; c <= n; c++)); do
  cycle "$c"
  ((c % 100 == 0)) && note "$c/$n cycles, $(($(date +%s) - start)) s, $failures failed steps"
done
elapsed=$(($(date +%s) - start))
sleep 1
after=$(count)
read -r fd1 rss1 <"$tmp/measure.first"
read -r fd2 rss2 <"$tmp/measure.last"
[ "$n" -eq "$warmup" ] && { fd2=$fd1; rss2=$rss1; }

status=0
names=(mounts cgroups veths shims zombies records)
read -ra b <<<"$before"
read -ra a <<<"$after"
printf 'soak: %d cycles in %d s (restart every %d; hoistd measured at cycles %d and %d), %d failed steps\n' \
  "$n" "$elapsed" "$every" "$warmup" "$n" "$failures"
printf '%-10s %8s %8s\n' what before after
for k in "${!names[@]}"; do
  mark=''
  ((a[k] > b[k])) && { mark='  LEAK'; status=1; }
  printf '%-10s %8d %8d%s\n' "${names[k]}" "${b[k]}" "${a[k]}" "$mark"
done
mark=''
((fd2 > fd1)) && { mark='  LEAK'; status=1; }
printf '%-10s %8d %8d%s\n' "hoistd fds" "$fd1" "$fd2" "$mark"
mark=''
((rss2 - rss1 > 1024)) && { mark='  GROWTH > 1 MiB'; status=1; }
printf '%-10s %8d %8d KiB%s\n' "hoistd rss" "$rss1" "$rss2" "$mark"
((failures == 0)) || status=1
exit "$status"
