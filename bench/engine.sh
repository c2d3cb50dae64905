#!/usr/bin/env bash
# hoistd vs dockerd vs podman, in one run, on the same busybox image. Needs root.
#  1. `run --rm IMAGE true` end to end (one hyperfine -N session: client, daemon, shim, runtime, removal),
#     with --network none and on a bridge network (hoist and docker: a user-defined bridge network
#     each, 10.23x.y.0/24; dockerd runs without iptables, so neither adds NAT for it)
#  2. idle RSS of the daemons: hoistd vs dockerd + its containerd
#  3. memory per container: N detached `sleep 3600` containers each; RSS per hoist-shim,
#     containerd-shim-runc-v2 and conmon
#  4. GET /containers/json requests/s over one kept-alive connection, with those N containers present
# Everything is private: a temp dir, its own sockets and stores, its own cgroup parents, a private
# dockerd (with the containerd it spawns), podman with its own --root/--runroot; bridges of their own
# (hoistd's default bridge hbench<pid> on 10.239.<n>.0/24, nftables table hoist_bench_<pid>) removed at the end.
# podman is left out of the default tools on a hybrid cgroup host whose cgroup2 root delegates a controller
# (crun refuses to run there).
#   bench/engine.sh [--runs N] [--warmup N] [--containers N] [--requests N] [--idle S] [--build DIR]
#                   [--tools hoist,docker,podman] [--docker-cli PATH] [--out FILE.json]
set -euo pipefail
self=$(readlink -f "${BASH_SOURCE[0]}")
repo=$(cd "$(dirname "$self")/.." && pwd)
die() { echo "engine: $*" >&2; exit 1; }
note() { echo "engine: $*" >&2; }

runs=30 warmup=5 ncont=50 nreq=2000 idle=5 build=$repo/build tools=hoist,docker,podman tools_given='' out='' docker_cli=docker
usage() {
  echo "usage: $0 [--runs N] [--warmup N] [--containers N] [--requests N] [--idle S] [--build DIR]" \
       "[--tools hoist,docker,podman] [--docker-cli PATH] [--out FILE.json]" >&2
  exit 2
}
while [ $# -gt 0 ]; do
  case $1 in
    --runs) [ $# -ge 2 ] || usage; runs=$2; shift 2 ;;
    --warmup) [ $# -ge 2 ] || usage; warmup=$2; shift 2 ;;
    --containers) [ $# -ge 2 ] || usage; ncont=$2; shift 2 ;;
    --requests) [ $# -ge 2 ] || usage; nreq=$2; shift 2 ;;
    --idle) [ $# -ge 2 ] || usage; idle=$2; shift 2 ;;
    --build) [ $# -ge 2 ] || usage; build=$2; shift 2 ;;
    --tools) [ $# -ge 2 ] || usage; tools=$2 tools_given=1; shift 2 ;;
    --docker-cli) [ $# -ge 2 ] || usage; docker_cli=$2; shift 2 ;;
    --out) [ $# -ge 2 ] || usage; out=$2; shift 2 ;;
    *) usage ;;
  esac
done
for v in runs ncont nreq idle; do [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "--${v/ncont/containers} wants a positive integer"; done
[[ $warmup =~ ^[0-9]+$ ]] || die "--warmup wants a non-negative integer"
[ "$(id -u)" -eq 0 ] || die "must run as root"
want=() list=()
IFS=, read -ra list <<<"$tools"
for t in "${list[@]}"; do
  case $t in hoist | docker | podman) want+=("$t") ;; *) die "--tools: unknown tool '$t'" ;; esac
done
on() { [[ " ${want[*]} " == *" $1 "* ]]; }
on hoist || die "--tools must include hoist (every figure is a ratio to it)"
# A hybrid cgroup host whose cgroup2 root delegates a controller: crun, podman's runtime, refuses to
# run ("cgroups in hybrid mode not supported"), and the controller cannot be given back to v1 while
# it is on (bench/runtime-run.sh mounts the hugetlb v1 hierarchy when nothing has turned it on yet).
# Turning it off is the host's business: podman is left out of the default tools, an error if asked for.
if on podman && [ -n "$(cat /sys/fs/cgroup/unified/cgroup.subtree_control 2>/dev/null || true)" ]; then
  why="the hybrid cgroup2 root delegates '$(cat /sys/fs/cgroup/unified/cgroup.subtree_control)', so crun (podman's runtime) refuses to run"
  [ -z "$tools_given" ] || die "podman: $why (--tools hoist,docker leaves it out)"
  note "leaving podman out: $why"
  mapfile -t want < <(printf '%s\n' "${want[@]}" | grep -vx podman)
fi
hoistd=$build/engine/hoistd shim=$build/engine/hoist-shim cli=$build/cli/hoist runtime=$build/runtime/hoist-runtime
for b in "$hoistd" "$shim" "$cli" "$runtime"; do [ -x "$b" ] || die "no $b (build first, or pass --build DIR)"; done
need=(hyperfine jq python3 busybox)
on docker && need+=(dockerd containerd containerd-shim-runc-v2 "$docker_cli")
on podman && need+=(podman conmon)
missing=()
for t in "${need[@]}"; do command -v "$t" >/dev/null || missing+=("$t"); done
[ ${#missing[@]} -eq 0 ] || die "missing ${missing[*]}: apt-get install hyperfine jq python3 busybox-static docker.io podman"
# Nothing from the caller's environment may point the clients elsewhere.
unset DOCKER_HOST DOCKER_CONTEXT DOCKER_CONFIG CONTAINER_HOST CONTAINER_CONNECTION HOIST_HOST

# --- state; every path below $tmp, a short dir (unix socket paths have at most 107 bytes) ---
tmp=$(mktemp -d /tmp/hoist-eng.XXXXXX)
chmod 711 "$tmp"
H=$tmp/h D=$tmp/d P=$tmp/p
cg_hoist=/hoist-bench-$$ cg_docker=/docker-bench-$$ cg_podman=/podman-bench-$$
hs=(-H "unix://$H/hoist.sock")
hc=("$cli" "${hs[@]}")
dk=("$docker_cli" --config "$D/client" -H "unix://$D/docker.sock")  # --config: nothing goes to ~/.docker
docker_data=$D/data docker_flags=(--ip-masq=false --cgroup-parent "$cg_docker")
# shellcheck source=bench/lib.sh
source "$repo/bench/lib.sh"
pm=(podman --root "$P/root" --runroot "$P/run" --tmpdir "$P/tmp" --storage-driver overlay --events-backend none
    --cgroup-manager cgroupfs --log-level error)
hoistd_pid='' watchdog_pid='' made_run_docker='' podman_driver=overlay
hbridge=hbench$(( $$ % 100000 )) htable=hoist_bench_$$ hnet=$(( $$ % 200 + 20 ))
[ -e /run/docker ] || made_run_docker=1  # dockerd creates /run/docker/plugins whatever its exec-root

our_pids() {  # our_pids COMM: processes named COMM that belong to this run (command line names $tmp)
  local p
  for p in /proc/[0-9]*; do
    [ "$(cat "$p/comm" 2>/dev/null)" = "$1" ] && is_ours "${p#/proc/}" && echo "${p#/proc/}"
  done
  true
}
# A client of ours (hoist, docker, podman) that has run for over 60 s hangs: kill it, so that hyperfine
# records a failed run and goes on, and say so at the end.
watchdog() {
  local p t
  while sleep 5; do
    for p in $(our_pids hoist) $(our_pids docker) $(our_pids podman); do
      t=$(ps -o etimes= -p "$p" 2>/dev/null) || continue
      [ "${t// /}" -gt 60 ] || continue
      tr '\0' ' ' <"/proc/$p/cmdline" >>"$tmp/hung" 2>/dev/null && echo >>"$tmp/hung"
      kill -KILL "$p" 2>/dev/null
    done
  done
}
rss_kib() { local v; v=$(awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null); echo "${v:-0}"; }
pss_kib() { local v; v=$(awk '/^Pss:/ { print $2 }' "/proc/$1/smaps_rollup" 2>/dev/null); echo "${v:-0}"; }
sum_of() {  # sum_of rss|pss PID...: sum in KiB
  local f=$1 s=0 p
  shift
  for p in "$@"; do s=$((s + $("${f}_kib" "$p"))); done
  echo "$s"
}


cleanup() {
  local p ids
  set +e
  trap - INT TERM
  [ -n "$watchdog_pid" ] && kill "$watchdog_pid" 2>/dev/null
  # The clean way first: each engine removes its containers while it is still up.
  if [ -n "$hoistd_pid" ] && kill -0 "$hoistd_pid" 2>/dev/null; then
    ids=$("${hc[@]}" ps -aq 2>/dev/null)
    [ -n "$ids" ] && "${hc[@]}" rm -f $ids >/dev/null 2>&1
  fi
  stop_pid "$hoistd_pid" 5
  if [ -S "$D/docker.sock" ]; then
    ids=$(timeout 20 "${dk[@]}" ps -aq 2>/dev/null)
    [ -n "$ids" ] && timeout 60 "${dk[@]}" rm -f $ids >/dev/null 2>&1
  fi
  [ -d "$D" ] && stop_dockerd
  [ -d "$P/root" ] && timeout 60 "${pm[@]}" rm -af -t 0 >/dev/null 2>&1
  # What is left: the containers' processes (by cgroup), then shims and monitors (by command line).
  remove_cgroup "$cg_hoist"; remove_cgroup "$cg_docker"; remove_cgroup "$cg_podman"
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    [ "$p" != $$ ] && [ "$p" != "$BASHPID" ] && is_ours "$p" && stop_pid "$p" 2
  done
  remove_cgroup "$cg_hoist"; remove_cgroup "$cg_docker"; remove_cgroup "$cg_podman"
  for dev in "$hbridge" $(cat "$tmp/bridges" 2>/dev/null); do ip link del "$dev" >/dev/null 2>&1; done
  nft delete table ip "$htable" >/dev/null 2>&1
  umount_under "$tmp"
  rm -rf --one-file-system "$tmp"
  [ -d "$tmp" ] && note "could not remove $tmp"
  [ -n "$made_run_docker" ] && rmdir /run/docker/plugins /run/docker 2>/dev/null
  true
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$H" "$D" "$P/tmp" "$tmp/tmp"
export TMPDIR=$tmp/tmp  # podman load and docker's client stage files there

# --- the image: the busybox OCI layout from scripts/make-busybox-fixtures.sh, loaded into hoistd, then
# saved by hoistd as a docker-archive that docker and podman load; all three must see the same image ID.
"$repo/scripts/make-busybox-fixtures.sh" "$tmp/fixtures" >/dev/null
img=localhost/hoist-busybox:latest

echo '{}' >"$H/daemon.json"  # keeps /etc/hoist/daemon.json out
setsid "$hoistd" "${hs[@]}" --config-file "$H/daemon.json" --data-root "$H/data" --exec-root "$H/run" \
  --config-dir "$H/etc" --runtime "$runtime" --shim "$shim" --cgroup-parent "$cg_hoist" --log-level warn \
  --bridge "$hbridge" --bip "10.239.$hnet.1/24" --nft-table "$htable" \
  >"$H/hoistd.log" 2>&1 </dev/null &
hoistd_pid=$!
for ((i = 0; i < 100; i++)); do "${hc[@]}" version >/dev/null 2>&1 && break; kill -0 "$hoistd_pid" || break; sleep 0.05; done
"${hc[@]}" version >/dev/null 2>&1 || { tail -n 5 "$H/hoistd.log" >&2; die "hoistd did not start"; }
"${hc[@]}" load -q -i "$tmp/fixtures/busybox-oci.tar" >/dev/null || die "hoist load failed"
image_id=$("${hc[@]}" image inspect --format '{{.Id}}' "$img") || die "hoist: no $img after load"
"${hc[@]}" save -o "$tmp/busybox-docker.tar" "$img" || die "hoist save failed"

if on docker; then
  docker_driver=''
  for drv in overlay2 vfs; do
    if start_dockerd "$drv"; then docker_driver=$drv; break; fi
    note "private dockerd did not start with --storage-driver $drv: $(tail -n 2 "$D/dockerd.log" | tr '\n' ' ')"
    stop_dockerd; rm -rf --one-file-system "$D/data" "$D/exec"
  done
  [ -n "$docker_driver" ] || die "could not start a private dockerd"
  "${dk[@]}" load -q -i "$tmp/busybox-docker.tar" >/dev/null || die "docker load failed"
  id=$("${dk[@]}" image inspect --format '{{.Id}}' "$img") || die "docker: no $img after load"
  [ "$id" = "$image_id" ] || die "docker loaded $id, hoist has $image_id"
fi
if on podman; then
  if ! "${pm[@]}" info >/dev/null 2>&1; then
    podman_driver=vfs
    pm=("${pm[@]/#overlay/vfs}")
    umount_under "$P"; rm -rf --one-file-system "$P/root" "$P/run"
    "${pm[@]}" info >/dev/null 2>&1 || die "podman has no usable storage driver"
    note "podman cannot use overlay here, using vfs"
  fi
  "${pm[@]}" load -q -i "$tmp/busybox-docker.tar" >/dev/null || die "podman load failed"
  id=$("${pm[@]}" image inspect --format '{{.Id}}' "$img") || die "podman: no $img after load"
  [ "sha256:$id" = "$image_id" ] || [ "$id" = "$image_id" ] || die "podman loaded $id, hoist has $image_id"
fi

watchdog </dev/null >/dev/null 2>&1 &
watchdog_pid=$!

# --- 2. idle RSS of the daemons (before any container ran, images loaded) ---
daemon_rss() {  # prints "hoistd KiB" and "dockerd KiB containerd KiB"
  echo "hoistd $(rss_kib "$hoistd_pid")"
  if on docker; then echo "dockerd $(rss_kib "$(cat "$D/docker.pid")")"; echo "containerd $(rss_kib "$(containerd_pid)")"; fi
}
sleep "$idle"
idle_rss=$(daemon_rss)

# --- 1. run --rm IMAGE true ---
declare -A cmd
cmd[hoist]="$(printf '%q ' "${hc[@]}" run --rm --network none "$img" true)"
cmd[docker]="$(printf '%q ' "${dk[@]}" run --rm --network none "$img" true)"
# podman asks for nofile and nproc rlimits of 1048576, which no runtime can set without CAP_SYS_RESOURCE.
podman_run=(run --network none --cgroup-parent "$cg_podman")
(( 0x$(awk '/^CapEff:/ { print $2 }' /proc/self/status) >> 24 & 1 )) ||
  podman_run+=(--ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
cmd[podman]="$(printf '%q ' "${pm[@]}" "${podman_run[@]}" --rm "$img" true)"
# The bridge case: a user-defined bridge network in each engine.
"${hc[@]}" network create --subnet "10.238.$hnet.0/24" benchnet >/dev/null || die "hoist network create failed"
"${hc[@]}" network inspect --format '{{index .Options "com.docker.network.bridge.name"}}' benchnet >>"$tmp/bridges" 2>/dev/null ||
  echo "br-$("${hc[@]}" network inspect --format '{{.Id}}' benchnet | cut -c1-12)" >>"$tmp/bridges"
cmd[hoist-bridge]="$(printf '%q ' "${hc[@]}" run --rm --network benchnet "$img" true)"
if on docker; then
  "${dk[@]}" network create --subnet "10.237.$hnet.0/24" benchnet >/dev/null || die "docker network create failed"
  echo "br-$("${dk[@]}" network inspect --format '{{.Id}}' benchnet | cut -c1-12)" >>"$tmp/bridges"
  cmd[docker-bridge]="$(printf '%q ' "${dk[@]}" run --rm --network benchnet "$img" true)"
fi
hf=() failed=0
for t in hoist docker podman hoist-bridge docker-bridge; do  # one smoke run each, so a broken tool fails with its own message
  on "${t%-bridge}" || continue
  rc=0; o=$(eval "${cmd[$t]}" 2>&1 </dev/null) || rc=$?
  [ "$rc" -eq 0 ] || { note "$t: run failed (exit $rc): $(tail -n 5 <<<"$o")"; failed=1; }
  hf+=(-n "$t" "${cmd[$t]}")
done
[ "$failed" -eq 0 ] || exit 1
versions=("hoist: $build ($("$cli" --version 2>/dev/null | head -1), runtime hoist-runtime)")
on docker && versions+=("dockerd $("${dk[@]}" version --format '{{.Server.Version}}') ($docker_driver, runc, $(containerd --version | awk '{ print "containerd " $3 }'), client $("${dk[@]}" version --format '{{.Client.Version}}'))")
on podman && versions+=("$(podman --version) ($podman_driver, $("${pm[@]}" info --format '{{.Host.OCIRuntime.Name}}'), $(conmon --version | head -1))")
(IFS=';'; echo "${versions[*]}" | sed 's/;/; /g')
echo "image: $img ($image_id); run --rm IMAGE true with --network none (hoist, docker, podman) and --network benchnet (a user-defined bridge network: hoist-bridge, docker-bridge), $runs runs each after $warmup warm-up runs"
hyperfine -N -i --runs "$runs" --warmup "$warmup" --export-json "$tmp/hf.json" "${hf[@]}"
after_rss=$(daemon_rss)

# --- 3. memory per container: $ncont detached sleepers in each engine ---
echo
echo "starting $ncont detached 'sleep 3600' containers in each engine"
for t in "${want[@]}"; do
  for ((i = 1; i <= ncont; i++)); do
    case $t in
      hoist) "${hc[@]}" run -d --network none --name "sleep-$i" "$img" sleep 3600 ;;
      docker) "${dk[@]}" run -d --network none --name "sleep-$i" "$img" sleep 3600 ;;
      podman) "${pm[@]}" "${podman_run[@]}" -d --name "sleep-$i" "$img" sleep 3600 ;;
    esac >/dev/null || die "$t: could not start container sleep-$i"
  done
done
sleep "$idle"
declare -A running shim_n shim_rss shim_pss shim_name
running[hoist]=$("${hc[@]}" ps -q | wc -l); shim_name[hoist]=hoist-shim
on docker && { running[docker]=$("${dk[@]}" ps -q | wc -l); shim_name[docker]=containerd-shim; }  # comm is cut to 15 chars
on podman && { running[podman]=$("${pm[@]}" ps -q | wc -l); shim_name[podman]=conmon; }
for t in "${want[@]}"; do
  [ "${running[$t]}" -eq "$ncont" ] || die "$t: ${running[$t]} containers running, wanted $ncont"
  mapfile -t pids < <(our_pids "${shim_name[$t]}")
  shim_n[$t]=${#pids[@]}
  shim_rss[$t]=$(sum_of rss "${pids[@]}")
  shim_pss[$t]=$(sum_of pss "${pids[@]}")
done
busy_rss=$(daemon_rss)

# --- 4. GET /containers/json over one kept-alive connection ---
cat >"$tmp/reqs.py" <<'PY'
import http.client, json, socket, sys, time
path, n, expect = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
class Conn(http.client.HTTPConnection):
    def __init__(self): super().__init__("localhost")
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
c = Conn()
def get():
    c.request("GET", "/containers/json")
    r = c.getresponse()
    body = r.read()
    if r.status != 200: sys.exit("GET /containers/json: HTTP %d" % r.status)
    return body
body = get()
got = len(json.loads(body))
if got != expect: sys.exit("GET /containers/json listed %d containers, wanted %d" % (got, expect))
first = c.sock
for _ in range(min(200, n)): get()  # warm-up
t0, c0 = time.perf_counter(), time.process_time()
for _ in range(n): get()
t1, c1 = time.perf_counter(), time.process_time()
# http.client reconnects by itself after a "Connection: close": the socket must be the first one.
if c.sock is not first: sys.exit("the connection was not kept alive")
print(json.dumps({"requests": n, "seconds": t1 - t0, "rps": n / (t1 - t0), "client_cpu_share": (c1 - c0) / (t1 - t0),
                  "bytes": len(body)}))
PY
declare -A reqs
reqs[hoist]=$(python3 "$tmp/reqs.py" "$H/hoist.sock" "$nreq" "$ncont") || die "hoist: the request client failed"
on docker && { reqs[docker]=$(python3 "$tmp/reqs.py" "$D/docker.sock" "$nreq" "$ncont") || die "docker: the request client failed"; }

# --- summary ---
kv() { awk -v k="$1" '$1 == k { print $2 }' <<<"$2"; }
rssj() {  # rssj TEXT: {"hoistd": KiB, "docker": KiB (dockerd + containerd), ...}
  jq -n --argjson h "$(kv hoistd "$1")" --argjson d "$(kv dockerd "$1")" --argjson c "$(kv containerd "$1")" \
    '{hoistd_kib: $h} + (if $d then {dockerd_kib: $d, containerd_kib: $c, docker_total_kib: ($d + $c)} else {} end)' 2>/dev/null ||
  jq -n --argjson h "$(kv hoistd "$1")" '{hoistd_kib: $h}'
}
shims=$(for t in "${want[@]}"; do
  jq -n --arg t "$t" --arg name "${shim_name[$t]}" --argjson n "${shim_n[$t]}" --argjson c "${running[$t]}" \
    --argjson rss "${shim_rss[$t]}" --argjson pss "${shim_pss[$t]}" \
    '{($t): {process: $name, processes: $n, containers: $c, rss_kib_total: $rss, pss_kib_total: $pss,
             rss_kib_per_container: ($rss / $c), pss_kib_per_container: ($pss / $c)}}'
done | jq -s add)
reqj=$(for t in "${!reqs[@]}"; do jq -n --arg t "$t" --argjson r "${reqs[$t]}" '{($t): $r}'; done | jq -s add)
summary=$(jq --argjson idle "$(rssj "$idle_rss")" --argjson after "$(rssj "$after_rss")" --argjson busy "$(rssj "$busy_rss")" \
  --argjson shims "$shims" --argjson reqs "$reqj" --argjson n "$ncont" --arg img "$image_id" '
  (.results | map({key: .command, value: .median}) | from_entries) as $r
  | def ratio(a; b): if $r[a] and $r[b] then $r[a] / $r[b] else null end;
    def diff_ms(a; b): if $r[a] and $r[b] then ($r[a] - $r[b]) * 1000 else null end;
    { median_ms: ($r | map_values(. * 1000)),
      bridge_adds_ms: ({ hoist: diff_ms("hoist-bridge"; "hoist"), docker: diff_ms("docker-bridge"; "docker") }
                       | with_entries(select(.value != null))),
      ratio: ({ hoist_docker: ratio("hoist"; "docker"), hoist_podman: ratio("hoist"; "podman"),
                hoist_bridge_docker_bridge: ratio("hoist-bridge"; "docker-bridge"),
                hoist_bridge_hoist: ratio("hoist-bridge"; "hoist"),
                docker_bridge_docker: ratio("docker-bridge"; "docker"),
                podman_docker: ratio("podman"; "docker") } | with_entries(select(.value != null))),
      daemon_rss: {idle: $idle, after_run_bench: $after, with_containers: $busy},
      containers: $n, shims: $shims, containers_json: $reqs, image: $img,
      failed: [.results[] | select(any(.exit_codes[]; . != 0)) | .command] }' "$tmp/hf.json")

mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
echo
echo "1. run --rm $img true (end to end)"
printf '%-14s %10s %20s %14s\n' tool 'median ms' 'mean ± stddev ms' 'ratio to hoist'
jq -r '(.results | map(select(.command == "hoist"))[0].median) as $h | .results[]
  | [.command, .median * 1000, .mean * 1000, (.stddev // 0) * 1000, .median / $h,
     (if any(.exit_codes[]; . != 0) then "FAILED" else "" end)] | @tsv' "$tmp/hf.json" |
  while IFS=$'\t' read -r n med mean sd ratio bad; do
    printf '%-14s %10.1f %20s %14.2f%s\n' "$n" "$med" "$(printf '%.1f ± %.1f' "$mean" "$sd")" "$ratio" "${bad:+  $bad}"
  done
jq -r '.ratio | to_entries | map("\(.key | gsub("_bridge"; "-bridge") | sub("_"; "/")) \(.value * 100 | round / 100)") | join("  ")
  | if . == "" then empty else "ratios (median): " + . end' <<<"$summary"
jq -r '.bridge_adds_ms | to_entries | map("\(.key) +\(.value * 10 | round / 10) ms") | join("  ")
  | if . == "" then empty else "a bridge network adds (median over --network none): " + . end' <<<"$summary"
echo
echo "2. daemon RSS (VmRSS), MiB: idle ${idle} s after loading the image / after the run benchmark / with $ncont containers"
printf '%-22s %8s %8s %8s\n' daemon idle after busy
for k in hoistd dockerd containerd; do
  [ -n "$(kv "$k" "$idle_rss")" ] || continue
  printf '%-22s %8s %8s %8s\n' "$k" "$(mib "$(kv "$k" "$idle_rss")")" "$(mib "$(kv "$k" "$after_rss")")" "$(mib "$(kv "$k" "$busy_rss")")"
done
if on docker; then
  tot() { echo $(( $(kv dockerd "$1") + $(kv containerd "$1") )); }
  printf '%-22s %8s %8s %8s\n' "dockerd + containerd" "$(mib "$(tot "$idle_rss")")" "$(mib "$(tot "$after_rss")")" "$(mib "$(tot "$busy_rss")")"
  jq -r '.daemon_rss.idle | "ratio (idle): hoistd/(dockerd+containerd) \(.hoistd_kib / .docker_total_kib * 100 | round / 100)"' <<<"$summary"
fi
echo
echo "3. memory per container ($ncont detached 'sleep 3600' containers each; shim processes' sum / containers)"
printf '%-8s %-16s %10s %18s %18s\n' tool process processes 'RSS KiB/container' 'PSS KiB/container'
jq -r '.shims | to_entries[] | [.key, .value.process, .value.processes, .value.rss_kib_per_container, .value.pss_kib_per_container] | @tsv' \
  <<<"$summary" | while IFS=$'\t' read -r t p n r s; do printf '%-8s %-16s %10s %18.0f %18.0f\n' "$t" "$p" "$n" "$r" "$s"; done
jq -r '.shims as $s | [ (if $s.docker then "hoist/docker \($s.hoist.rss_kib_per_container / $s.docker.rss_kib_per_container * 100 | round / 100)" else empty end),
  (if $s.podman then "hoist/podman \($s.hoist.rss_kib_per_container / $s.podman.rss_kib_per_container * 100 | round / 100)" else empty end) ]
  | join("  ") | if . == "" then empty else "ratios (RSS): " + . end' <<<"$summary"
echo
echo "4. GET /containers/json ($ncont containers listed), $nreq requests over one kept-alive connection"
printf '%-8s %10s %12s %18s\n' daemon 'req/s' 'body bytes' 'client CPU share'
jq -r '.containers_json | to_entries[] | [.key, .value.rps, .value.bytes, .value.client_cpu_share] | @tsv' <<<"$summary" |
  while IFS=$'\t' read -r t r b c; do printf '%-8s %10.0f %12s %18.2f\n' "$t" "$r" "$b" "$c"; done
jq -r '.containers_json | if .docker then "ratio: hoistd/dockerd \(.hoist.rps / .docker.rps * 100 | round / 100)" else empty end' <<<"$summary"
if [ -n "$out" ]; then jq --argjson s "$summary" '. + {summary: $s}' "$tmp/hf.json" >"$out"; echo "json: $out"; fi
[ ! -s "$tmp/hung" ] || { note "killed after hanging for over 60 s:"; cat "$tmp/hung" >&2; }
[ "$(jq '.failed | length' <<<"$summary")" -eq 0 ] || die "failed runs: $(jq -r '.failed | join(", ")' <<<"$summary")"
