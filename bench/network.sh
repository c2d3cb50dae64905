#!/usr/bin/env bash
# hoistd vs dockerd networking, side by side in one run, on the busybox image (plus our server). Needs root.
#  a. a published port on 127.0.0.1: an HTTP server in a container on a user-defined bridge network,
#     `-p 127.0.0.1:PORT:80`; hoistd's port is an nftables DNAT rule, dockerd's (run with
#     --iptables=false) goes through docker-proxy, its default userland proxy. The server is
#     bench/tools/httpserve.c (--server httpserve, the default: epoll workers, sendfile), built here
#     with gcc -static and added to the busybox image, or busybox httpd (--server busybox: a fork
#     per connection, which caps the requests/s of every path near its own rate).
#     Requests/s over short connections (ab -n N -c C, no keep-alive, a 1 KiB file) and one bulk
#     stream (one GET of a sparse file of --bulk-mb MiB by --bulk-client: httpget, bench/tools/httpget.c,
#     which reads 1 MiB at a time and reports its own CPU time, or curl -o /dev/null), each --runs
#     times, targets alternating; medians.
#     Control: the same against a twin container at its own address (no DNAT, no proxy): the ceiling.
#  b. the embedded DNS at 127.0.0.11 of a user-defined network with --dns-containers sleepers d1..dN
#     (--dns-containers 0: no DNS part):
#     a python UDP client in a container's network namespace (nsenter from the host) sends an A query
#     for every other container's name, timing each; from one container, from a few one after the other,
#     and from the same few at once. Median and p99 in microseconds.
# Everything is private: a temp dir, sockets and stores; a private dockerd (lib.sh: --bridge=none
# --iptables=false) and hoistd with its own default bridge (hnb<pid>, 10.236.<n>.1/24), address pool
# (10.233.0.0/16), nftables table (hoist_netbench_<pid>) and an empty resolv.conf (its DNS forwards
# nowhere); the networks are 10.235.<n>.0/24 on bridge hnn<pid> (hoist) and 10.234.<n>.0/24 on dnn<pid>
# (docker). All traffic is on 127.0.0.1 or to the script's own containers. Everything is removed on
# exit, failure or Ctrl-C: containers, networks, bridges, the nftables table, docker-proxy processes.
#   bench/network.sh [--runs N] [--requests N] [--concurrency N] [--bulk-mb N] [--bulk-client httpget|curl]
#                    [--dns-containers N] [--dns-rounds N] [--dns-from N] [--server httpserve|busybox]
#                    [--build DIR] [--tools hoist,docker] [--docker-cli PATH] [--out FILE.json]
set -euo pipefail
self=$(readlink -f "${BASH_SOURCE[0]}")
repo=$(cd "$(dirname "$self")/.." && pwd)
die() { echo "network: $*" >&2; exit 1; }
note() { echo "network: $*" >&2; }

runs=5 nreq=20000 conc=8 bulk_mb=1000 ndns=50 dns_rounds=20 dns_from=5 build=$repo/build tools=hoist,docker out=''
server=httpserve bulk_client=httpget
docker_cli=docker
usage() {
  echo "usage: $0 [--runs N] [--requests N] [--concurrency N] [--bulk-mb N] [--bulk-client httpget|curl]" \
       "[--dns-containers N] [--dns-rounds N] [--dns-from N] [--server httpserve|busybox] [--build DIR]" \
       "[--tools hoist,docker] [--docker-cli PATH] [--out FILE.json]" >&2
  exit 2
}
while [ $# -gt 0 ]; do
  case $1 in
    --runs) [ $# -ge 2 ] || usage; runs=$2; shift 2 ;;
    --requests) [ $# -ge 2 ] || usage; nreq=$2; shift 2 ;;
    --concurrency) [ $# -ge 2 ] || usage; conc=$2; shift 2 ;;
    --bulk-mb) [ $# -ge 2 ] || usage; bulk_mb=$2; shift 2 ;;
    --bulk-client) [ $# -ge 2 ] || usage; bulk_client=$2; shift 2 ;;
    --dns-containers) [ $# -ge 2 ] || usage; ndns=$2; shift 2 ;;
    --dns-rounds) [ $# -ge 2 ] || usage; dns_rounds=$2; shift 2 ;;
    --dns-from) [ $# -ge 2 ] || usage; dns_from=$2; shift 2 ;;
    --server) [ $# -ge 2 ] || usage; server=$2; shift 2 ;;
    --build) [ $# -ge 2 ] || usage; build=$2; shift 2 ;;
    --tools) [ $# -ge 2 ] || usage; tools=$2; shift 2 ;;
    --docker-cli) [ $# -ge 2 ] || usage; docker_cli=$2; shift 2 ;;
    --out) [ $# -ge 2 ] || usage; out=$2; shift 2 ;;
    *) usage ;;
  esac
done
for v in runs nreq conc bulk_mb dns_rounds dns_from; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v wants a positive integer"
done
[[ $ndns =~ ^(0|[1-9][0-9]*)$ ]] || die "--dns-containers wants a number"
[ "$ndns" -eq 0 ] || [ "$ndns" -ge 2 ] || die "--dns-containers wants 0 (no DNS part) or at least 2"
[ "$ndns" -eq 0 ] || [ "$dns_from" -le "$ndns" ] || die "--dns-from wants at most --dns-containers"
case $server in httpserve | busybox) ;; *) die "--server: unknown server '$server' (httpserve or busybox)" ;; esac
case $bulk_client in httpget | curl) ;; *) die "--bulk-client: unknown client '$bulk_client' (httpget or curl)" ;; esac
[ "$(id -u)" -eq 0 ] || die "must run as root"
want=() list=()
IFS=, read -ra list <<<"$tools"
for t in "${list[@]}"; do
  case $t in hoist | docker) want+=("$t") ;; *) die "--tools: unknown tool '$t'" ;; esac
done
on() { [[ " ${want[*]} " == *" $1 "* ]]; }
on hoist || die "--tools must include hoist (every figure is a ratio to it)"
hoistd=$build/engine/hoistd shim=$build/engine/hoist-shim cli=$build/cli/hoist runtime=$build/runtime/hoist-runtime
for b in "$hoistd" "$shim" "$cli" "$runtime"; do [ -x "$b" ] || die "no $b (build first, or pass --build DIR)"; done
need=(jq python3 busybox ab curl nsenter nft ip ss)
{ [ "$server" = httpserve ] || [ "$bulk_client" = httpget ]; } && need+=(gcc)
on docker && need+=(dockerd containerd containerd-shim-runc-v2 docker-proxy "$docker_cli")
missing=()
for t in "${need[@]}"; do command -v "$t" >/dev/null || missing+=("$t"); done
[ ${#missing[@]} -eq 0 ] || die "missing ${missing[*]}: apt-get install jq python3 busybox-static apache2-utils curl util-linux nftables iproute2 gcc libc6-dev docker.io"
unset DOCKER_HOST DOCKER_CONTEXT DOCKER_CONFIG CONTAINER_HOST CONTAINER_CONNECTION HOIST_HOST
# curl and ab must not go through a proxy of the caller's environment.
unset http_proxy HTTP_PROXY https_proxy HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY

# --- state; every path below $tmp, a short dir (unix socket paths have at most 107 bytes) ---
tmp=$(mktemp -d /tmp/hoist-net.XXXXXX)
chmod 711 "$tmp"
H=$tmp/h D=$tmp/d
cg_hoist=/hoist-netbench-$$ cg_docker=/docker-netbench-$$
hs=(-H "unix://$H/hoist.sock")
hc=("$cli" "${hs[@]}")
dk=("$docker_cli" --config "$D/client" -H "unix://$D/docker.sock")
docker_data=$D/data docker_flags=(--ip-masq=false --cgroup-parent "$cg_docker")
# shellcheck source=bench/lib.sh
source "$repo/bench/lib.sh"
hoistd_pid='' made_run_docker='' docker_pid='' client_pids=()
n=$(( $$ % 200 + 20 ))
hbridge=hnb$(( $$ % 100000 )) hnetbr=hnn$(( $$ % 100000 )) dnetbr=dnn$(( $$ % 100000 )) htable=hoist_netbench_$$
hbip=10.236.$n.1/24 hpool=10.233.0.0/16 hsubnet=10.235.$n.0/24 dsubnet=10.234.$n.0/24
declare -A port
[ -e /run/docker ] || made_run_docker=1  # dockerd creates /run/docker/plugins whatever its exec-root

# docker-proxy's command line does not name $tmp: ours are those of our dockerd, or those that
# forward one of our ports to our docker subnet (should dockerd be gone).
our_proxies() {
  local p c
  for p in /proc/[0-9]*; do
    [ "$(cat "$p/comm" 2>/dev/null)" = docker-proxy ] || continue
    c=$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null) || continue
    if { [ -n "$docker_pid" ] && [ "$(awk '/^PPid:/ { print $2 }' "$p/status" 2>/dev/null)" = "$docker_pid" ]; } ||
       { [ -n "${port[docker]:-}" ] && [[ $c == *"-host-port ${port[docker]} "* && $c == *"-container-ip ${dsubnet%.0/24}."* ]]; }; then
      echo "${p#/proc/}"
    fi
  done
  true
}

cleanup() {
  local p ids
  set +e
  trap - INT TERM
  [ ${#client_pids[@]} -eq 0 ] || kill "${client_pids[@]}" 2>/dev/null  # DNS clients still running
  if [ -n "$hoistd_pid" ] && kill -0 "$hoistd_pid" 2>/dev/null; then
    ids=$(timeout 20 "${hc[@]}" ps -aq 2>/dev/null)
    # shellcheck disable=SC2086  # one argument per id
    [ -n "$ids" ] && timeout 60 "${hc[@]}" rm -f $ids >/dev/null 2>&1
    timeout 20 "${hc[@]}" network rm benchnet >/dev/null 2>&1
  fi
  stop_pid "$hoistd_pid" 5
  if [ -S "$D/docker.sock" ]; then
    ids=$(timeout 20 "${dk[@]}" ps -aq 2>/dev/null)
    # shellcheck disable=SC2086  # one argument per id
    [ -n "$ids" ] && timeout 60 "${dk[@]}" rm -f $ids >/dev/null 2>&1
    timeout 20 "${dk[@]}" network rm benchnet >/dev/null 2>&1
  fi
  [ -d "$D" ] && stop_dockerd
  for p in $(our_proxies); do kill -TERM "$p" 2>/dev/null; done
  sleep 0.2
  for p in $(our_proxies); do kill -KILL "$p" 2>/dev/null; done
  remove_cgroup "$cg_hoist"; remove_cgroup "$cg_docker"
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    [ "$p" != $$ ] && [ "$p" != "$BASHPID" ] && is_ours "$p" && stop_pid "$p" 2
  done
  remove_cgroup "$cg_hoist"; remove_cgroup "$cg_docker"
  for dev in "$hbridge" "$hnetbr" "$dnetbr"; do
    ip link show "$dev" >/dev/null 2>&1 && { ip link del "$dev" || note "could not remove bridge $dev"; }
  done
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

mkdir -p "$H" "$D" "$tmp/tmp"
export TMPDIR=$tmp/tmp

# --- the image, made once in hoistd and moved to docker as engine.sh does (hoistd's save, docker load) ---
# busybox: the busybox OCI layout, loaded. httpserve: the same busybox root filesystem plus /httpserve
# (a static build of bench/tools/httpserve.c), one layer, imported.
"$repo/scripts/make-busybox-fixtures.sh" "$tmp/fixtures" >/dev/null
if [ "$server" = httpserve ]; then
  gcc -O2 -static -o "$tmp/httpserve" "$repo/bench/tools/httpserve.c" || die "could not build bench/tools/httpserve.c"
  file -L "$tmp/httpserve" 2>/dev/null | grep -q 'statically linked' || ldd "$tmp/httpserve" 2>&1 | grep -q 'not a dynamic' ||
    die "$tmp/httpserve is not statically linked (apt-get install libc6-dev)"
  mkdir "$tmp/rootfs"
  tar -C "$tmp/rootfs" --numeric-owner -xf "$tmp/fixtures/busybox-rootfs.tar"
  install -m 755 "$tmp/httpserve" "$tmp/rootfs/httpserve"
  tar -C "$tmp/rootfs" --mtime=@0 --sort=name --owner=0 --group=0 --numeric-owner --format=gnu -cf "$tmp/netbench-rootfs.tar" .
  rm -rf --one-file-system "$tmp/rootfs"
  img=localhost/hoist-netbench:latest
else
  img=localhost/hoist-busybox:latest
fi
if [ "$bulk_client" = httpget ]; then
  gcc -O2 -o "$tmp/httpget" "$repo/bench/tools/httpget.c" || die "could not build bench/tools/httpget.c"
fi

echo '{}' >"$H/daemon.json"
: >"$H/resolv.conf"  # no upstream: the embedded DNS answers our names and forwards nothing
setsid "$hoistd" "${hs[@]}" --config-file "$H/daemon.json" --data-root "$H/data" --exec-root "$H/run" \
  --config-dir "$H/etc" --runtime "$runtime" --shim "$shim" --cgroup-parent "$cg_hoist" --log-level warn \
  --bridge "$hbridge" --bip "$hbip" --nft-table "$htable" --default-address-pool "base=$hpool,size=24" \
  --resolv-conf "$H/resolv.conf" >"$H/hoistd.log" 2>&1 </dev/null &
hoistd_pid=$!
for ((i = 0; i < 100; i++)); do "${hc[@]}" version >/dev/null 2>&1 && break; kill -0 "$hoistd_pid" || break; sleep 0.05; done
"${hc[@]}" version >/dev/null 2>&1 || { tail -n 5 "$H/hoistd.log" >&2; die "hoistd did not start"; }
if [ "$server" = httpserve ]; then
  "${hc[@]}" import -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' -c 'CMD ["sh"]' \
    "$tmp/netbench-rootfs.tar" "$img" >/dev/null || die "hoist import failed"
else
  "${hc[@]}" load -q -i "$tmp/fixtures/busybox-oci.tar" >/dev/null || die "hoist load failed"
fi
image_id=$("${hc[@]}" image inspect --format '{{.Id}}' "$img") || die "hoist: no $img after load"

if on docker; then
  "${hc[@]}" save -o "$tmp/image-docker.tar" "$img" || die "hoist save failed"
  docker_driver=''
  for drv in overlay2 vfs; do
    if start_dockerd "$drv"; then docker_driver=$drv; break; fi
    note "private dockerd did not start with --storage-driver $drv: $(tail -n 2 "$D/dockerd.log" | tr '\n' ' ')"
    stop_dockerd; rm -rf --one-file-system "$D/data" "$D/exec"
  done
  [ -n "$docker_driver" ] || die "could not start a private dockerd"
  docker_pid=$(cat "$D/docker.pid")
  "${dk[@]}" load -q -i "$tmp/image-docker.tar" >/dev/null || die "docker load failed"
  id=$("${dk[@]}" image inspect --format '{{.Id}}' "$img") || die "docker: no $img after load"
  [ "$id" = "$image_id" ] || die "docker loaded $id, hoist has $image_id"
fi

# eng TOOL ARGS...: the client of TOOL, with a time limit (a hang is a failure, not a stuck benchmark)
eng() {
  local t=$1
  shift
  case $t in
    hoist) timeout 60 "${hc[@]}" "$@" ;;
    docker) timeout 60 "${dk[@]}" "$@" ;;
  esac
}
# One user-defined bridge network in each engine; their bridges are removed at the end whatever happens.
# Bridge names of our own, known before they exist (cleanup removes them even if an engine could not).
"${hc[@]}" network create --subnet "$hsubnet" -o "com.docker.network.bridge.name=$hnetbr" benchnet >/dev/null ||
  die "hoist network create failed"
if on docker; then
  "${dk[@]}" network create --subnet "$dsubnet" -o "com.docker.network.bridge.name=$dnetbr" benchnet >/dev/null ||
    die "docker network create failed"
fi

versions=("server: $server" "hoist: $build ($("$cli" --version 2>/dev/null | sed -n 1p), nftables DNAT)")
on docker && versions+=("dockerd $("${dk[@]}" version --format '{{.Server.Version}}') ($docker_driver, --iptables=false: docker-proxy; client $("${dk[@]}" version --format '{{.Client.Version}}'))")
versions+=("$(ab -V | sed -n 1p)" "$(curl --version | sed -n 1p | cut -d' ' -f1-2)" "python $(python3 -c 'import platform; print(platform.python_version())')")
printf '%s\n' "${versions[@]}" | paste -sd'|' - | sed 's/|/; /g'

# --- a. published port on 127.0.0.1 ---
free_port() {  # a port of 20000-32767 (below the ephemeral range) free on 127.0.0.1 and on every address
  python3 - "$@" <<'PY'
import random, socket, sys
taken = {int(a) for a in sys.argv[1:]}
for p in random.sample(range(20000, 32768), 12768):
    if p in taken: continue
    try:
        for host in ("127.0.0.1", "0.0.0.0"):
            s = socket.socket(); s.bind((host, p)); s.close()
    except OSError:
        continue
    print(p); break
else:
    sys.exit("no free port")
PY
}
small=1024
# The container writes its files and execs the server in the foreground: index.html (1 KiB) and a sparse big file.
case $server in
  httpserve) serve='/httpserve -p 80 -d /www' server_name=httpserve ;;  # one worker per CPU
  busybox) serve='httpd -f -p 80 -h /www' server_name='busybox httpd' ;;
esac
websh="mkdir -p /www && head -c $small /dev/zero | tr '\\0' x >/www/index.html && truncate -s ${bulk_mb}M /www/big && exec $serve"
for t in "${want[@]}"; do
  port[$t]=$(free_port "${port[@]}") || die "no free port"
  eng "$t" run -d --name web --network benchnet -p "127.0.0.1:${port[$t]}:80" "$img" sh -c "$websh" >/dev/null ||
    die "$t: could not start the server container"
  # The control: the same server, unpublished, reached at its own address. A container of its own, since
  # the host's own connections to web's address would share tuples with the masqueraded ones (source:
  # the bridge's address) and collide with them in conntrack (SYNs lost, 1-3 s stalls).
  eng "$t" run -d --name webd --network benchnet "$img" sh -c "$websh" >/dev/null ||
    die "$t: could not start the direct server container"
done
# Targets: each engine's published port, and (control) a twin container's own address:80 on the same
# bridge, the same server without DNAT or proxy in between: the ceiling of the published path.
declare -A listener base
targets=()
for t in "${want[@]}"; do
  a=$(eng "$t" inspect -f '{{.NetworkSettings.Networks.benchnet.IPAddress}}' webd) || die "$t: inspect webd failed"
  [[ $a == *.*.*.* ]] || die "$t: webd has address '$a'"
  base[$t]=http://127.0.0.1:${port[$t]} base[$t-direct]=http://$a:80
  targets+=("$t" "$t-direct")
done
for t in "${targets[@]}"; do
  url=${base[$t]}
  for ((i = 0; i < 100; i++)); do curl -sf -o /dev/null --max-time 2 "$url/index.html" && break; sleep 0.1; done
  got=$(curl -sf --max-time 5 "$url/index.html" | wc -c) || die "$t: no answer on $url/index.html"
  [ "$got" -eq "$small" ] || die "$t: index.html has $got bytes, wanted $small"
  len=$(curl -sfI --max-time 5 "$url/big" | tr -d '\r' | awk 'tolower($1) == "content-length:" { print $2 }')
  [ "$len" = $((bulk_mb * 1048576)) ] || die "$t: /big has Content-Length '$len', wanted $((bulk_mb * 1048576))"
  # What holds the port: nothing listening for hoist (DNAT in the kernel), docker-proxy for docker.
  [[ $t == *-direct ]] || listener[$t]=$(ss -Htlnp "sport = :${port[$t]}" | { grep -o 'users:(("[^"]*"' || true; } | cut -d'"' -f2 | sort -u | paste -sd, -)
done

# The processes on each target's path, for the CPU time a bulk GET costs: the server container's first
# process (httpserve's parent, or busybox httpd) and its children (httpserve's workers), docker-proxy
# for docker's port, and the kernel's softirq threads (ksoftirqd/N: network work deferred to them).
# Softirq work done in the context of some other process on the machine is not counted.
declare -A path_pids
softirqd=''
for p in /proc/[0-9]*; do
  if [[ $(cat "$p/comm" 2>/dev/null) == ksoftirqd/* ]]; then softirqd+=" ${p#/proc/}"; fi
done
for t in "${targets[@]}"; do
  c=web
  [[ $t == *-direct ]] && c=webd
  p=$(eng "${t%-direct}" inspect -f '{{.State.Pid}}' "$c") || die "$t: inspect $c failed"
  [[ $p =~ ^[1-9][0-9]*$ ]] || die "$t: $c has pid '$p'"
  path_pids[$t]="$p $(cat /proc/"$p"/task/*/children 2>/dev/null || true)$softirqd"
  [ "$t" = docker ] && path_pids[$t]+=" $(our_proxies | paste -sd' ' -)"
done
clk_tck=$(getconf CLK_TCK)
cpu_ticks() {  # cpu_ticks PID...: their user and system time and that of their waited-for children, in clock ticks
  local p f s=0 a
  for p in "$@"; do
    f=$(cat "/proc/$p/stat" 2>/dev/null) || continue
    read -ra a <<<"${f##*) }"  # from the state on: utime is the 12th field, then stime, cutime, cstime
    s=$((s + a[11] + a[12] + a[13] + a[14]))
  done
  echo "$s"
}

ab_rps() {  # ab_rps URL N: requests per second; fails on any failed or non-2xx request
  local o
  o=$(ab -q -r -n "$2" -c "$conc" "$1" 2>&1) || { note "ab failed: $(tail -n 3 <<<"$o")"; return 1; }
  awk -v n="$2" '
    /^Complete requests:/ { c = $3 } /^Failed requests:/ { f = $3 } /^Non-2xx responses:/ { x = $3 }
    /^Requests per second:/ { r = $4 }
    END { if (c != n || f != 0 || x != 0 || r == "") { printf "complete %s failed %s non-2xx %s\n", c, f, x > "/dev/stderr"; exit 1 }
          print r }' <<<"$o"
}
bulk_mbs() {  # bulk_mbs TARGET: "MB/s SHARE CPU" of one GET of the big file: MB/s (10^6 bytes); with
  # httpget, the client's CPU time over the wall time, and the CPU seconds per GB (10^9 bytes) of the
  # client and the processes on the path (path_pids); with curl, null null
  local o t0 t1
  # shellcheck disable=SC2086  # one argument per pid
  t0=$(cpu_ticks ${path_pids[$1]})
  case $bulk_client in
    httpget) o=$("$tmp/httpget" -t 120 "${base[$1]}/big") || return 1 ;;  # STATUS BYTES SECONDS MB/S CPU-SECONDS
    curl) o=$(curl -sS -o /dev/null --max-time 120 -w '%{http_code} %{size_download} %{time_total}' "${base[$1]}/big") || return 1 ;;
  esac
  # shellcheck disable=SC2086
  t1=$(cpu_ticks ${path_pids[$1]})
  awk -v want=$((bulk_mb * 1048576)) -v path=$((t1 - t0)) -v hz="$clk_tck" '
    { if ($1 != 200 || $2 != want) { print "HTTP " $1 ", " $2 " bytes" > "/dev/stderr"; exit 1 }
      if (NF >= 5) printf "%.1f %.3f %.3f\n", $2 / $3 / 1e6, $5 / $3, ($5 + path / hz) / ($2 / 1e9)
      else printf "%.1f null null\n", $2 / $3 / 1e6 }' <<<"$o"
}
echo
echo "a. published port 127.0.0.1:PORT -> $server_name :80 on a user-defined bridge network"
for t in "${want[@]}"; do
  echo "   $t: 127.0.0.1:${port[$t]}, listening on the host: ${listener[$t]:-nothing (kernel DNAT)}; $t-direct: ${base[$t-direct]#http://}"
done
echo "   warm-up: ab -n $((nreq / 10)) and one bulk GET each"
for t in "${targets[@]}"; do
  ab_rps "${base[$t]}/index.html" $((nreq / 10)) >/dev/null || die "$t: ab warm-up failed"
  bulk_mbs "$t" >/dev/null || die "$t: bulk warm-up failed"
done
declare -A rps mbs cpu cpugb
for ((r = 1; r <= runs; r++)); do
  for t in "${targets[@]}"; do
    v=$(ab_rps "${base[$t]}/index.html" "$nreq") || die "$t: ab run $r failed"
    rps[$t]+="$v "
    # Connections of the last ab run linger in TIME_WAIT (client, conntrack, container); let them settle a little.
    sleep 1
  done
done
for ((r = 1; r <= runs; r++)); do
  for t in "${targets[@]}"; do
    if ! read -r v c g < <(bulk_mbs "$t") || [ -z "$g" ]; then die "$t: bulk GET $r failed"; fi
    mbs[$t]+="$v " cpu[$t]+="$c " cpugb[$t]+="$g "
  done
done
for t in "${targets[@]}"; do
  printf '   %-13s req/s %s; bulk MB/s %s%s\n' "$t" "${rps[$t]}" "${mbs[$t]}" \
    "$([ "$bulk_client" = httpget ] && echo "; client CPU share ${cpu[$t]}; CPU s/GB ${cpugb[$t]}")"
done
for t in "${want[@]}"; do eng "$t" rm -f web webd >/dev/null || die "$t: could not remove the server containers"; done

# --- b. embedded DNS (not with --dns-containers 0) ---
declare -A pid_of dns_ok dns_note dns_one dns_each dns_conc
from=()
if [ "$ndns" -gt 0 ]; then  # to "fi  # b." below; not indented, for the here-documents
cat >"$tmp/dnsq.py" <<'PY'
# dnsq.py EXPECT.json SELF ROUNDS WARMUP OUT.json: from inside a container's network namespace, an A query
# to 127.0.0.11:53 for every name of EXPECT (name -> address) but SELF, ROUNDS times after WARMUP rounds;
# each answer must be NOERROR with the expected address first. Writes the times (microseconds).
import json, random, socket, struct, sys, time
expect, me, rounds, warmup, out = json.load(open(sys.argv[1])), sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
names = [n for n in expect if n != me]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect(("127.0.0.11", 53))
s.settimeout(1.0)
qid = random.randrange(65536)
def packet(name, i):
    q = b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0" + struct.pack(">HH", 1, 1)
    return struct.pack(">HHHHHH", i, 0x0100, 1, 0, 0, 0) + q, 12 + len(q)
def skip_name(m, o):
    while True:
        l = m[o]
        if l == 0: return o + 1
        if l & 0xC0 == 0xC0: return o + 2
        o += 1 + l
def check(m, i, qend, name):
    hid, flags, qd, an = struct.unpack(">HHHH", m[:8])
    if hid != i: return None  # a late answer to an earlier query
    if not flags & 0x8000 or flags & 0xF: return "rcode %d" % (flags & 0xF)
    o = qend
    for _ in range(an):
        o = skip_name(m, o)
        typ, cls, ttl, rdlen = struct.unpack(">HHIH", m[o:o + 10])
        o += 10
        if typ == 1 and rdlen == 4:
            got = socket.inet_ntoa(m[o:o + 4])
            return "" if got == expect[name] else "answered %s, expected %s" % (got, expect[name])
        o += rdlen
    return "no A record"
times, errors, first = [], 0, ""
for r in range(warmup + rounds):
    for name in names:
        qid = (qid + 1) & 0xFFFF
        pkt, qend = packet(name, qid)
        t0 = time.perf_counter_ns()
        s.send(pkt)
        try:
            while True:
                m = s.recv(4096)
                err = check(m, qid, qend, name)
                if err is not None: break
        except socket.timeout:
            err = "timeout"
        t1 = time.perf_counter_ns()
        if err:
            errors += 1
            first = first or "%s: %s" % (name, err)
        elif r >= warmup:
            times.append((t1 - t0) / 1000)
json.dump({"from": me, "times_us": times, "errors": errors, "first_error": first}, open(out, "w"))
PY
cat >"$tmp/stats.py" <<'PY'
# stats.py FILE...: median, p99 (nearest rank), mean, max and count over the times of dnsq.py's outputs
import json, math, statistics, sys
runs = [json.load(open(f)) for f in sys.argv[1:]]
t = sorted(x for r in runs for x in r["times_us"])
def pct(p): return t[max(0, math.ceil(p / 100 * len(t)) - 1)] if t else None
print(json.dumps({"queries": len(t), "errors": sum(r["errors"] for r in runs),
                  "first_error": next((r["first_error"] for r in runs if r["first_error"]), ""),
                  "median_us": statistics.median(t) if t else None, "p99_us": pct(99), "mean_us": statistics.fmean(t) if t else None,
                  "max_us": t[-1] if t else None,
                  "medians_us_by_container": {r["from"]: statistics.median(r["times_us"]) if r["times_us"] else None for r in runs}}))
PY
echo
echo "b. embedded DNS: $ndns 'sleep 3600' containers d1..d$ndns on one user-defined network each"
for t in "${want[@]}"; do
  for ((i = 1; i <= ndns; i++)); do
    eng "$t" run -d --name "d$i" --network benchnet "$img" sleep 3600 >/dev/null || die "$t: could not start d$i"
  done
done
for t in "${want[@]}"; do
  for ((i = 1; i <= ndns; i++)); do
    read -r p a < <(eng "$t" inspect -f '{{.State.Pid}} {{.NetworkSettings.Networks.benchnet.IPAddress}}' "d$i") ||
      die "$t: inspect d$i failed"
    [[ $p =~ ^[1-9][0-9]*$ && $a == *.*.*.* ]] || die "$t: d$i has pid '$p', address '$a'"
    echo "d$i $a"
  done | jq -Rn '[inputs | split(" ") | {key: .[0], value: .[1]}] | from_entries' >"$tmp/expect-$t.json"
  for ((i = 1; i <= ndns; i++)); do
    pid_of[$t.d$i]=$(eng "$t" inspect -f '{{.State.Pid}}' "d$i")
  done
done
# dnsq TOOL CONTAINER ROUNDS WARMUP OUT [EXPECT]: the client in that container's network namespace
dnsq() { timeout 300 nsenter --net="/proc/${pid_of[$1.$2]}/ns/net" python3 "$tmp/dnsq.py" "${6:-$tmp/expect-$1.json}" "$2" "$3" "$4" "$5"; }
# Does the engine's DNS answer at all? (dockerd's resolver sets up its redirect with iptables in the
# container's namespace, which --iptables=false might have switched off.)
for t in "${want[@]}"; do
  dns_ok[$t]=1
  jq '{d1, d2}' "$tmp/expect-$t.json" >"$tmp/probe-expect-$t.json"  # one query: d2 from d1
  if ! dnsq "$t" d1 1 0 "$tmp/probe-$t.json" "$tmp/probe-expect-$t.json" || [ "$(jq '.errors' "$tmp/probe-$t.json")" -ne 0 ]; then
    dns_ok[$t]=''
    dns_note[$t]="no usable answers from 127.0.0.11 ($(jq -r '.first_error' "$tmp/probe-$t.json" 2>/dev/null || echo 'client failed'))"
    [ "$t" = hoist ] && die "hoist: embedded DNS: ${dns_note[$t]}"
    note "$t: embedded DNS: ${dns_note[$t]}; reporting hoist only"
  fi
done
# The same few containers in each engine, spread over d1..dN.
for ((k = 0; k < dns_from; k++)); do from+=("d$(( dns_from > 1 ? 1 + k * (ndns - 1) / (dns_from - 1) : 1 ))"); done
for t in "${want[@]}"; do
  [ -n "${dns_ok[$t]}" ] || continue
  dnsq "$t" d1 "$dns_rounds" 2 "$tmp/one-$t.json" || die "$t: DNS client failed"
  dns_one[$t]=$(python3 "$tmp/stats.py" "$tmp/one-$t.json")
  files=()
  for c in "${from[@]}"; do
    dnsq "$t" "$c" "$dns_rounds" 1 "$tmp/each-$t-$c.json" || die "$t: DNS client in $c failed"
    files+=("$tmp/each-$t-$c.json")
  done
  dns_each[$t]=$(python3 "$tmp/stats.py" "${files[@]}")
  files=() client_pids=()
  for c in "${from[@]}"; do
    dnsq "$t" "$c" "$dns_rounds" 1 "$tmp/conc-$t-$c.json" &
    client_pids+=($!) files+=("$tmp/conc-$t-$c.json")
  done
  for p in "${client_pids[@]}"; do wait "$p" || die "$t: a concurrent DNS client failed"; done
  client_pids=()
  dns_conc[$t]=$(python3 "$tmp/stats.py" "${files[@]}")
  for j in "${dns_one[$t]}" "${dns_each[$t]}" "${dns_conc[$t]}"; do
    [ "$(jq '.errors' <<<"$j")" -eq 0 ] || die "$t: DNS errors: $(jq -r '.first_error' <<<"$j")"
  done
done
fi  # b.

# --- summary ---
# shellcheck disable=SC2086  # one number per word
nums() { printf '%s\n' $1 | jq -s .; }
objs() {  # objs ARRAY-NAME: {tool: value, ...} of an associative array of JSON values
  local -n a=$1
  local k
  for k in "${!a[@]}"; do jq -n --arg k "$k" --argjson v "${a[$k]}" '{($k): $v}'; done | jq -s 'add // {}'
}
http=$(for t in "${targets[@]}"; do
  jq -n --arg t "$t" --arg url "${base[$t]}" --arg l "${listener[$t]:-}" --argjson rps "$(nums "${rps[$t]}")" \
    --argjson mbs "$(nums "${mbs[$t]}")" --argjson cpu "$(nums "${cpu[$t]}")" \
    --argjson cpugb "$(nums "${cpugb[$t]}")" \
    'def median: sort | if length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end;
     {($t): ({url: $url, host_listener: $l, rps: $rps, rps_median: ($rps | median), bulk_mb_s: $mbs, bulk_mb_s_median: ($mbs | median)}
             + (if $cpu[0] == null then {} else {bulk_client_cpu_share: $cpu, bulk_client_cpu_share_median: ($cpu | median),
                                                     bulk_cpu_s_per_gb: $cpugb, bulk_cpu_s_per_gb_median: ($cpugb | median)} end))}'
done | jq -s add)
notes=$(for t in "${!dns_note[@]}"; do jq -n --arg t "$t" --arg v "${dns_note[$t]}" '{($t): $v}'; done | jq -s 'add // {}')
summary=$(jq -n --argjson http "$http" --argjson one "$(objs dns_one)" --argjson each "$(objs dns_each)" \
  --argjson conc "$(objs dns_conc)" --argjson notes "$notes" --arg img "$image_id" --arg server "$server" \
  --arg client "$bulk_client" \
  --argjson runs "$runs" --argjson nreq "$nreq" --argjson conc_ab "$conc" --argjson bulk "$bulk_mb" \
  --argjson ndns "$ndns" --argjson rounds "$dns_rounds" --arg from "${from[*]}" '
  def r(a; b): if a and b then a / b else null end;
  { params: {server: $server, runs: $runs, ab_requests: $nreq, ab_concurrency: $conc_ab, small_bytes: 1024, bulk_mib: $bulk, bulk_client: $client,
             dns_containers: $ndns, dns_rounds: $rounds, dns_from: ($from | split(" "))},
    http: $http,
    dns: {from_one: $one, from_each: $each, concurrent: $conc, notes: $notes},
    ratio: ({ rps_hoist_docker: r($http.hoist.rps_median; $http.docker.rps_median),
              bulk_hoist_docker: r($http.hoist.bulk_mb_s_median; $http.docker.bulk_mb_s_median),
              bulk_cpu_per_byte_docker_hoist: r($http.docker.bulk_cpu_s_per_gb_median; $http.hoist.bulk_cpu_s_per_gb_median),
              rps_control_docker: r($http["hoist-direct"].rps_median; $http.docker.rps_median),
              bulk_control_docker: r($http["hoist-direct"].bulk_mb_s_median; $http.docker.bulk_mb_s_median),
              rps_hoist_direct: r($http.hoist.rps_median; $http["hoist-direct"].rps_median),
              rps_docker_direct: r($http.docker.rps_median; $http["docker-direct"].rps_median),
              bulk_hoist_direct: r($http.hoist.bulk_mb_s_median; $http["hoist-direct"].bulk_mb_s_median),
              bulk_docker_direct: r($http.docker.bulk_mb_s_median; $http["docker-direct"].bulk_mb_s_median),
              dns_median_hoist_docker: r($one.hoist.median_us; $one.docker.median_us),
              dns_concurrent_median_hoist_docker: r($conc.hoist.median_us; $conc.docker.median_us) }
            | with_entries(select(.value != null))),
    image: $img }')

echo
echo "a. published port on 127.0.0.1, $server_name ($runs runs each, alternating; medians)"
printf '%-14s %-26s %16s %18s %11s %9s\n' target 'path' "req/s (ab -c $conc)" "bulk MB/s (${bulk_mb} MiB)" "client CPU" "CPU s/GB"
jq -r '.http | to_entries[] | [.key, (if (.key | endswith("-direct")) then "container address, no NAT"
  elif .value.host_listener == "" then "127.0.0.1, nftables DNAT" else "127.0.0.1, " + .value.host_listener end),
  .value.rps_median, .value.bulk_mb_s_median, (.value.bulk_client_cpu_share_median // "-"),
  (.value.bulk_cpu_s_per_gb_median // "-")] | @tsv' <<<"$summary" |
  while IFS=$'\t' read -r t l r m c g; do printf '%-14s %-26s %16.0f %18.0f %11s %9s\n' "$t" "$l" "$r" "$m" "$c" "$g"; done
if [ "$bulk_client" = httpget ]; then
  echo "   (bulk, medians: client CPU: httpget's CPU time over the GET's wall time, 1 if the client sets the rate;"
  echo "    CPU s/GB: CPU seconds of the client, the server, docker-proxy and ksoftirqd per 10^9 bytes)"
fi
jq -r '.ratio | [ (if .rps_hoist_docker then "req/s hoist/docker \(.rps_hoist_docker * 100 | round / 100)" else empty end),
  (if .bulk_hoist_docker then "bulk hoist/docker \(.bulk_hoist_docker * 100 | round / 100)" else empty end) ]
  | join("  ") | if . == "" then empty else "ratios (above 1: hoist faster): " + . end' <<<"$summary"
jq -r '.ratio | [ (if .rps_control_docker then "req/s \(.rps_control_docker * 100 | round / 100)" else empty end),
  (if .bulk_control_docker then "bulk \(.bulk_control_docker * 100 | round / 100)" else empty end) ]
  | join("  ") | if . == "" then empty else "the ceiling, hoist-direct/docker (a port that costs nothing): " + . end' <<<"$summary"
jq -r '.ratio | if .bulk_cpu_per_byte_docker_hoist then "bulk CPU per byte, docker/hoist: \(.bulk_cpu_per_byte_docker_hoist * 100 | round / 100)" else empty end' <<<"$summary"
jq -r '.ratio | to_entries | map(select(.key | endswith("_direct")) | "\(.key | sub("_"; " ") | sub("_direct"; "/direct")) \(.value * 100 | round / 100)")
  | join("  ") | if . == "" then empty else "published over direct (1: the port costs nothing): " + . end' <<<"$summary"
if [ "$ndns" -gt 0 ]; then
echo
echo "b. embedded DNS, A queries for the $((ndns - 1)) other names x $dns_rounds rounds, microseconds per query (python client)"
printf '%-8s %-34s %8s %10s %10s %10s\n' tool 'from' queries 'median µs' 'p99 µs' 'max µs'
for t in "${want[@]}"; do
  if [ -z "${dns_ok[$t]}" ]; then printf '%-8s %s\n' "$t" "${dns_note[$t]}"; continue; fi
  for v in one each conc; do
    case $v in one) w=d1 j=${dns_one[$t]} ;; each) w="${#from[@]} containers, one at a time" j=${dns_each[$t]} ;;
               conc) w="${#from[@]} containers at once" j=${dns_conc[$t]} ;; esac
    jq -r '[.queries, .median_us, .p99_us, .max_us] | @tsv' <<<"$j" |
      while IFS=$'\t' read -r q m p x; do printf '%-8s %-34s %8s %10.0f %10.0f %10.0f\n' "$t" "$w" "$q" "$m" "$p" "$x"; done
  done
done
echo "   (one at a time, medians by container: $(for t in "${want[@]}"; do [ -n "${dns_each[$t]:-}" ] &&
  jq -r --arg t "$t" '"\($t) " + ([.medians_us_by_container | to_entries[] | "\(.key) \(.value | round)"] | join(", "))' <<<"${dns_each[$t]}"; done | paste -sd';' - | sed 's/;/; /g'))"
jq -r '.ratio | [ (if .dns_median_hoist_docker then "median hoist/docker \(.dns_median_hoist_docker * 100 | round / 100)" else empty end),
  (if .dns_concurrent_median_hoist_docker then "at once hoist/docker \(.dns_concurrent_median_hoist_docker * 100 | round / 100)" else empty end) ]
  | join("  ") | if . == "" then empty else "ratios (below 1: hoist faster): " + . end' <<<"$summary"
fi
if [ -n "$out" ]; then jq '.' <<<"$summary" >"$out"; echo "json: $out"; fi
