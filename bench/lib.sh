# Helpers shared by the benchmark scripts (sourced). A script that runs hoistd and dockerd side by
# side calls bench_init (below), which sets everything these helpers use; a script with set-up of
# its own (engine.sh, network.sh) sets these itself:
#   tmp           its private temp dir: processes whose command line names it are "ours"
#   D             the private dockerd's dir (daemon.json, sockets, exec root, client config)
#   docker_data   the private dockerd's data root
#   docker_flags  extra dockerd flags (an array; may be empty)
#   dk            the docker client command (an array) pointed at unix://$D/docker.sock
# The script defines note() and die() for messages.

# Whether process $1 is one this script started: its command line names our temp dir.
is_ours() { tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline" | grep -qF "$tmp/"; }
stop_pid() {  # stop_pid PID SECONDS: TERM, wait, then KILL; only processes of ours
  local pid=$1 i
  [ -n "$pid" ] && is_ours "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < $2 * 10; i++)); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 20; i++)); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
}
remove_cgroup() {  # remove_cgroup NAME: kills what runs in /sys/fs/cgroup/*/NAME (any depth) and removes it
  local d i
  find /sys/fs/cgroup -mindepth 1 -maxdepth 2 -type d -name "${1#/}" 2>/dev/null | while read -r top; do
    find "$top" -depth -type d | while read -r d; do
      for ((i = 0; i < 20; i++)); do
        [ -n "$(cat "$d/cgroup.procs" 2>/dev/null)" ] || break  # (cgroup files have no size: -s is always false)
        xargs -r kill -9 <"$d/cgroup.procs" 2>/dev/null || true
        sleep 0.1
      done
      rmdir "$d" 2>/dev/null || { sleep 0.3; rmdir "$d" 2>/dev/null; } || note "could not remove cgroup $d"
    done
  done
}
umount_under() {  # unmounts $1 and everything mounted below it, deepest first (lazily if busy)
  local m
  findmnt -rno TARGET | awk -v p="$1" '$0 == p || index($0, p "/") == 1' | sort -r | while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || note "could not unmount $m"
  done
}
# Private dockerd: own data/exec roots, socket, containerd and config; no bridge, no iptables.
start_dockerd() {  # start_dockerd DRIVER: returns 0 once the daemon answers
  local i pid flags=("${docker_flags[@]}")
  mkdir -p "$docker_data" "$D/exec" "$D/client"
  # An own daemon.json keeps /etc/docker/daemon.json out; the key path keeps /etc/docker/key.json out.
  jq -n --arg k "$D/key.json" '{"deprecated-key-path": $k}' >"$D/daemon.json"
  dockerd --help 2>&1 | grep -q -- '--ip6tables' && flags+=(--ip6tables=false)
  setsid dockerd --config-file "$D/daemon.json" --data-root "$docker_data" --exec-root "$D/exec" \
    --pidfile "$D/docker.pid" -H "unix://$D/docker.sock" --bridge=none --iptables=false "${flags[@]}" \
    --storage-driver "$1" --log-level warn >>"$D/dockerd.log" 2>&1 </dev/null &
  pid=$!
  for ((i = 0; i < 300; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    "${dk[@]}" version >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  stop_dockerd "$pid"
  return 1
}
containerd_pid() { cat "$D/exec/containerd/containerd.pid" 2>/dev/null || true; }
stop_dockerd() {  # stop_dockerd [PID]: the daemon of the pidfile (or PID), then its containerd
  local d c
  d=${1:-$(cat "$D/docker.pid" 2>/dev/null || true)}
  c=$(containerd_pid)
  stop_pid "$d" 20  # dockerd stops its containerd and unmounts its data root on the way out
  stop_pid "$c" 5
  umount_under "$docker_data"
  umount_under "$D/exec"
}

# --- a private hoistd and dockerd side by side, and the clean-up after them ---
# Besides the above: H (hoistd's dir), hoistd shim cli runtime (binaries), hc (the hoist CLI command,
# an array, pointed at unix://$H/hoist.sock), cg_hoist and cg_docker (cgroup parents), hbridge, hbip,
# htable (hoistd's bridge, its address, its nft table); hoistd_pid and made_run_docker (set when
# /run/docker did not exist before).

# bench_init TAG OCTET: the binaries of $build (checked), a private temp dir $tmp
# ($HOIST_BENCH_DIR/hoist-TAG.*, short: unix socket paths have at most 107 bytes; the daemons' data
# roots go there: /var/lib/hoist-bench by default, beside where data roots live in production, as
# a file system's inode allocation can cost far more in /tmp's much-churned directories, see
# README.md "Build") with H, D, TMPDIR below it, cgroup parents,
# bridge hb<TAG><n> on 10.OCTET.<n>.0/24 and nft table hoist_b<TAG>_<pid> of this run's own, the
# client commands hc and dk (for $docker_cli), and bench_cleanup on exit, Ctrl-C or TERM.
bench_init() {
  local tag=$1 b
  hoistd=$build/engine/hoistd shim=$build/engine/hoist-shim cli=$build/cli/hoist runtime=$build/runtime/hoist-runtime
  for b in "$hoistd" "$shim" "$cli" "$runtime"; do [ -x "$b" ] || die "no $b (build first, or pass --build DIR)"; done
  bench_dir=${HOIST_BENCH_DIR:-/var/lib/hoist-bench}
  mkdir -p "$bench_dir"
  tmp=$(mktemp -d "$bench_dir/hoist-$tag.XXXXXX")
  chmod 711 "$tmp"
  H=$tmp/h D=$tmp/d
  cg_hoist=/hoist-bench-$tag-$$ cg_docker=/docker-bench-$tag-$$
  hc=("$cli" -H "unix://$H/hoist.sock")
  dk=("$docker_cli" --config "$D/client" -H "unix://$D/docker.sock")
  docker_data=$D/data docker_flags=(--cgroup-parent "$cg_docker")
  hoistd_pid='' made_run_docker=''
  hbridge=hb$tag$(( $$ % 100000 )) htable=hoist_b${tag}_$$ hbip=10.$2.$(( $$ % 200 + 20 )).1/24
  [ -e /run/docker ] || made_run_docker=1
  trap bench_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  mkdir -p "$H" "$D" "$tmp/tmp"
  export TMPDIR=$tmp/tmp
}

start_hoistd() {  # start_hoistd [HOISTD FLAGS...]: returns once it answers; sets hoistd_pid
  local i
  mkdir -p "$H"
  echo '{}' >"$H/daemon.json"  # keeps /etc/hoist/daemon.json out
  : >"$H/resolv.conf"          # no upstream resolvers: nothing leaves the machine
  setsid "$hoistd" -H "unix://$H/hoist.sock" --config-file "$H/daemon.json" --data-root "$H/data" \
    --exec-root "$H/run" --config-dir "$H/etc" --runtime "$runtime" --shim "$shim" --cgroup-parent "$cg_hoist" \
    --log-level warn --bridge "$hbridge" --bip "$hbip" --nft-table "$htable" --resolv-conf "$H/resolv.conf" "$@" \
    >"$H/hoistd.log" 2>&1 </dev/null &
  hoistd_pid=$!
  for ((i = 0; i < 100; i++)); do
    "${hc[@]}" version >/dev/null 2>&1 && return 0
    kill -0 "$hoistd_pid" || break
    sleep 0.05
  done
  tail -n 5 "$H/hoistd.log" >&2
  return 1
}
start_private_dockerd() {  # overlay2, else vfs; sets docker_driver; 1 when neither starts
  local drv
  docker_driver=''
  for drv in overlay2 vfs; do
    if start_dockerd "$drv"; then docker_driver=$drv; return 0; fi
    note "private dockerd did not start with --storage-driver $drv: $(tail -n 2 "$D/dockerd.log" | tr '\n' ' ')"
    stop_dockerd; rm -rf --one-file-system "$D/data" "$D/exec"
  done
  return 1
}
bench_cleanup() {  # the engines' containers, the daemons, cgroups, our processes, bridge, table, $tmp
  local p ids dev
  set +e
  trap - INT TERM
  # The clean way first: each engine removes its containers while it is still up.
  if [ -n "$hoistd_pid" ] && kill -0 "$hoistd_pid" 2>/dev/null; then
    ids=$(timeout 20 "${hc[@]}" ps -aq 2>/dev/null)
    [ -n "$ids" ] && timeout 60 "${hc[@]}" rm -f $ids >/dev/null 2>&1
  fi
  stop_pid "$hoistd_pid" 10
  if [ -S "$D/docker.sock" ]; then
    ids=$(timeout 20 "${dk[@]}" ps -aq 2>/dev/null)
    [ -n "$ids" ] && timeout 60 "${dk[@]}" rm -f $ids >/dev/null 2>&1
  fi
  [ -d "$D" ] && stop_dockerd
  # What is left: the containers' processes (by cgroup), then shims and monitors (by command line).
  remove_cgroup "$cg_hoist"; remove_cgroup "$cg_docker"
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    [ "$p" != $$ ] && [ "$p" != "$BASHPID" ] && is_ours "$p" && stop_pid "$p" 2
  done
  for dev in "$hbridge" $(cat "$tmp/bridges" 2>/dev/null); do
    ip link show "$dev" >/dev/null 2>&1 && { ip link del "$dev" || note "could not remove bridge $dev"; }
  done
  nft delete table ip "$htable" >/dev/null 2>&1
  umount_under "$tmp"
  rm -rf --one-file-system "$tmp"
  [ -z "${HOIST_BENCH_DIR:-}" ] && rmdir "$bench_dir" 2>/dev/null  # the default dir, when no other run uses it
  [ -d "$tmp" ] && note "could not remove $tmp"
  [ -n "$made_run_docker" ] && rmdir /run/docker/plugins /run/docker 2>/dev/null
  true
}
