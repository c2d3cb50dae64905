# Helpers shared by the benchmark scripts (sourced). The caller sets:
#   tmp           its private temp dir: processes whose command line names it are "ours"
#   D             the private dockerd's dir (daemon.json, sockets, exec root, client config)
#   docker_data   the private dockerd's data root
#   docker_flags  extra dockerd flags (an array; may be empty)
#   dk            the docker client command (an array) pointed at unix://$D/docker.sock
# and defines note() for messages.

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
