#!/usr/bin/env bash
# Cold image pull: hoist-image vs docker vs podman vs skopeo, in one hyperfine session, from a private
# registry on 127.0.0.1 serving the image from bench/make-pull-image.sh (4 gzip layers, ~85 MiB).
# Every timed pull starts from an empty local store, on a scratch ext4 file system of its own. Needs root.
#   bench/image-pull.sh [--runs N] [--hoist PATH] [--tools LIST] [--scratch loop|dir] [--image-dir DIR]
#                       [--out FILE.json]
set -euo pipefail
self=$(readlink -f "${BASH_SOURCE[0]}")
repo=$(cd "$(dirname "$self")/.." && pwd)
die() { echo "image-pull: $*" >&2; exit 1; }
note() { echo "image-pull: $*" >&2; }

# --- helpers; they also serve the --prepare-store mode, which hyperfine runs before each timed pull ---
# shellcheck source=bench/lib.sh
source "$repo/bench/lib.sh"
docker_flags=()
prepare_store() {  # prepare_store TOOL: empties TOOL's local store
  case $1 in
    hoist) umount_under "$S/hoist"; rm -rf --one-file-system "$S/hoist" ;;
    podman) umount_under "$S/podman"; rm -rf --one-file-system "$S/podman" "$tmp/podman-run" ;;
    skopeo) rm -rf "$S/skopeo-out" ;;
    docker)
      "${dk[@]}" rmi -f "$ref" >/dev/null 2>&1 || true
      "${dk[@]}" image prune -af >/dev/null
      # The layers themselves must be gone, or the next pull would skip them ("Already exists").
      local left
      left=$( (find "$S/docker/image/$docker_driver/layerdb/sha256" -mindepth 1 -maxdepth 1 2>/dev/null || true) | wc -l)
      [ "$left" -eq 0 ] || { echo "image-pull: docker still holds $left layers" >&2; return 1; } ;;
  esac
  sync -f "$S"; sync  # so the write-back of one run does not land in the next run's time
}

if [ "${1:-}" = --prepare-store ]; then
  tmp=$HOIST_PULL_TMP D=$HOIST_PULL_TMP/docker S=$HOIST_PULL_TMP/fs ref=$HOIST_PULL_REF docker_data=$HOIST_PULL_TMP/fs/docker
  docker_driver=$HOIST_PULL_DOCKER_DRIVER
  dk=(docker --config "$D/client" -H "unix://$D/docker.sock")
  prepare_store "$2"
  exit
fi

runs=5 out='' hoist=${HOIST_IMAGE:-$repo/build/image/hoist-image} tools=hoist,docker,podman,skopeo scratch=loop
image_dir=$repo/build/bench/pull-image
usage() {
  echo "usage: $0 [--runs N] [--hoist PATH] [--tools hoist,docker,podman,skopeo] [--scratch loop|dir]" \
       "[--image-dir DIR] [--out FILE.json]" >&2
  exit 2
}
while [ $# -gt 0 ]; do
  case $1 in
    --runs) [ $# -ge 2 ] || usage; runs=$2; shift 2 ;;
    --hoist) [ $# -ge 2 ] || usage; hoist=$2; shift 2 ;;
    --tools) [ $# -ge 2 ] || usage; tools=$2; shift 2 ;;
    --scratch) [ $# -ge 2 ] || usage; scratch=$2; shift 2 ;;
    --image-dir) [ $# -ge 2 ] || usage; image_dir=$2; shift 2 ;;
    --out) [ $# -ge 2 ] || usage; out=$2; shift 2 ;;
    *) usage ;;
  esac
done
[[ $runs =~ ^[1-9][0-9]*$ ]] || die "--runs wants a positive integer"
[[ $scratch == loop || $scratch == dir ]] || die "--scratch wants loop or dir"
[ "$(id -u)" -eq 0 ] || die "must run as root"
want=() list=()
IFS=, read -ra list <<<"$tools"
for t in "${list[@]}"; do
  case $t in hoist | docker | podman | skopeo) want+=("$t") ;; *) die "--tools: unknown tool '$t'" ;; esac
done
on() { [[ " ${want[*]} " == *" $1 "* ]]; }
if on hoist && [ ! -x "$hoist" ]; then
  note "no hoist-image at $hoist (build it, or pass --hoist PATH / set HOIST_IMAGE); skipping the hoist row"
  want=("${want[@]/hoist/}")
fi
[ -n "${want[*]// /}" ] || die "no tool left to measure"
need=(hyperfine jq skopeo docker-registry)
on docker && need+=(dockerd docker)
on podman && need+=(podman)
missing=()
for t in "${need[@]}"; do command -v "$t" >/dev/null || missing+=("$t"); done
[ ${#missing[@]} -eq 0 ] || die "missing ${missing[*]}: apt-get install hyperfine jq skopeo docker-registry docker.io podman"

"$repo/bench/make-pull-image.sh" "$image_dir" >&2
layout=$(cd "$image_dir" && pwd)/layout

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hoist-pull.XXXXXX")
D=$tmp/docker  # dockerd's sockets go below here; a unix socket path has at most 107 bytes
S=$tmp/fs      # the stores (and $TMPDIR) of all tools: a fresh ext4 on a loop device, or a plain dir
docker_data=$S/docker
dk=(docker --config "$D/client" -H "unix://$D/docker.sock")  # --config: nothing goes to ~/.docker
reg_pid='' run_docker_made='' docker_driver='' podman_driver='' loopdev=''
[ -e /run/docker ] || run_docker_made=1  # dockerd creates /run/docker/plugins whatever its exec-root
cleanup() {
  local p
  set +e
  [ -d "$D" ] && stop_dockerd
  stop_pid "$reg_pid" 5
  for p in /proc/[0-9]*; do  # belt and braces: anything else still running from our temp dir
    p=${p#/proc/}
    [ "$p" != $$ ] && [ "$p" != "$BASHPID" ] && is_ours "$p" && stop_pid "$p" 2
  done
  umount_under "$tmp"
  [ -n "$loopdev" ] && losetup -d "$loopdev" 2>/dev/null  # on a busy device: detach when released
  rm -rf --one-file-system "$tmp"
  [ -d "$tmp" ] && note "could not remove $tmp"
  [ -n "$run_docker_made" ] && rmdir /run/docker/plugins /run/docker 2>/dev/null
  true
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
[ ${#D} -lt 60 ] || die "temp dir path too long for dockerd's sockets ($tmp); set TMPDIR to a shorter dir"
mkdir -p "$S" "$tmp/registry"
# The scratch file system: every tool writes its store there. A fresh, journalled ext4 of its own
# keeps the figures clear of the host's file system and of what other processes do to it (ext4
# without a journal, say, rescans recently deleted inodes on every file it creates). The loop device
# uses direct I/O, so the pulled data is not cached twice.
if [ "$scratch" = loop ]; then
  if command -v mkfs.ext4 >/dev/null && truncate -s 4G "$tmp/fs.img" &&
     mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0,nodiscard "$tmp/fs.img" &&
     { loopdev=$(losetup --direct-io=on -f --show "$tmp/fs.img" 2>/dev/null) ||
       loopdev=$(losetup -f --show "$tmp/fs.img"); } && mount "$loopdev" "$S"; then
    scratch_desc="ext4 on $loopdev (direct I/O $(cat "/sys/block/${loopdev#/dev/}/loop/dio" 2>/dev/null || echo ?))"
  else
    [ -n "$loopdev" ] && losetup -d "$loopdev"; loopdev=''
    note "no loop-mounted ext4 here; the stores go to $S on the host file system (--scratch dir)"
    scratch=dir
  fi
fi
[ "$scratch" = dir ] && scratch_desc="$(findmnt -no FSTYPE -T "$S") dir $S"
mkdir -p "$S/tmp"
export TMPDIR=$S/tmp  # skopeo/podman (and hoist, if it uses one) stage big files in $TMPDIR
avail_mib=$(df -Pm "$S" | awk 'NR == 2 { print $4 }')
[ "$avail_mib" -ge 2048 ] || die "only $avail_mib MiB free for the stores under $S"

# Private registry on a free loopback port.
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for _ in 1 2 3 4 5; do
  port=$((20000 + RANDOM % 40000))
  port_busy "$port" && continue
  cat >"$tmp/registry.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $tmp/registry
  cache:
    blobdescriptor: inmemory
http:
  addr: 127.0.0.1:$port
EOF
  setsid docker-registry serve "$tmp/registry.yml" >"$tmp/registry.log" 2>&1 </dev/null &
  reg_pid=$!
  for ((i = 0; i < 50; i++)); do
    kill -0 "$reg_pid" 2>/dev/null || break
    port_busy "$port" && break 2
    sleep 0.1
  done
  stop_pid "$reg_pid" 2; reg_pid=''
done
[ -n "$reg_pid" ] || { tail -n 5 "$tmp/registry.log" >&2; die "could not start docker-registry"; }
ref=127.0.0.1:$port/bench/debian:1
manifest=$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "bench") | .digest' \
  "$layout/index.json")
skopeo copy -q --dest-tls-verify=false "oci:$layout:bench" "docker://$ref" ||
  die "skopeo could not push the image to the registry"
[ "sha256:$(skopeo inspect --tls-verify=false --raw "docker://$ref" | sha256sum | cut -d' ' -f1)" = "$manifest" ] ||
  die "the registry serves a different manifest than $manifest"
nlayers=$(jq '.layers | length' "$layout/blobs/sha256/${manifest#sha256:}")
mib=$(jq '[.layers[].size] | add / 1048576 * 10 | round / 10' "$layout/blobs/sha256/${manifest#sha256:}")

if on docker; then
  for drv in overlay2 vfs; do
    if start_dockerd "$drv"; then docker_driver=$drv; break; fi
    note "private dockerd did not start with --storage-driver $drv: $(tail -n 2 "$D/dockerd.log" | tr '\n' ' ')"
    stop_dockerd; rm -rf --one-file-system "$D" "$S/docker"
  done
  [ -n "$docker_driver" ] || die "could not start a private dockerd"
fi
if on podman; then
  for drv in overlay vfs; do
    pm=(podman --root "$S/podman/root" --runroot "$tmp/podman-run" --tmpdir "$S/podman/tmp"
        --storage-driver "$drv" --events-backend none --cgroup-manager cgroupfs)
    if "${pm[@]}" info >/dev/null 2>&1; then podman_driver=$drv; break; fi
    note "podman cannot use --storage-driver $drv"
    umount_under "$S/podman"; rm -rf --one-file-system "$S/podman" "$tmp/podman-run"
  done
  [ -n "$podman_driver" ] || die "podman has no usable storage driver"
fi
export HOIST_PULL_TMP=$tmp HOIST_PULL_REF=$ref HOIST_PULL_DOCKER_DRIVER=$docker_driver

declare -A cmd
cmd[hoist]="$(printf '%q ' "$hoist" --root "$S/hoist" pull "$ref")"
cmd[docker]="$(printf '%q ' "${dk[@]}" pull "$ref")"
on podman && cmd[podman]="$(printf '%q ' "${pm[@]}" pull --tls-verify=false "$ref")"
cmd[skopeo]="$(printf '%q ' skopeo copy --src-tls-verify=false "docker://$ref" "oci:$S/skopeo-out:x")"

# Smoke runs (pull, empty the store, pull again), so a broken tool fails loudly with its own error
# message, and docker's second pull shows that emptying the store really dropped the layers.
hf=() failed=0
for t in hoist docker podman skopeo; do
  on "$t" || continue
  ok=1
  for _ in 1 2; do
    "$self" --prepare-store "$t" || { note "$t: emptying its store failed"; ok=0; break; }
    rc=0; o=$(eval "${cmd[$t]}" 2>&1 </dev/null) || rc=$?
    if [ "$rc" -ne 0 ]; then note "$t: pull failed (exit $rc): $(tail -n 5 <<<"$o")"; ok=0; break; fi
  done
  if [ "$ok" = 1 ] && [ "$t" = docker ]; then
    if grep -q 'Already exists' <<<"$o" || [ "$(grep -c 'Pull complete' <<<"$o")" -ne "$nlayers" ]; then
      note "docker: a pull after emptying the store did not download all $nlayers layers:"; echo "$o" >&2; ok=0
    fi
  fi
  [ "$ok" = 1 ] || { failed=1; continue; }
  hf+=(-n "$t" --prepare "$(printf '%q ' "$self" --prepare-store "$t")" "${cmd[$t]}")
done
[ "$failed" -eq 0 ] || exit 1

versions=()
on hoist && versions+=("hoist: $hoist ($("$hoist" --version 2>/dev/null | head -1 || true))")
on docker && versions+=("dockerd $("${dk[@]}" version --format '{{.Server.Version}}') ($docker_driver)")
on podman && versions+=("$(podman --version) ($podman_driver)")
versions+=("$(skopeo --version)")
(IFS=';'; echo "${versions[*]}" | sed 's/;/; /g')
echo "image: $ref ($nlayers gzip layers, $mib MiB, manifest $manifest)"
echo "cold pulls, $runs runs each; stores on $scratch_desc"
hyperfine -N -i --runs "$runs" --export-json "$tmp/hf.json" "${hf[@]}"

# Medians (hyperfine reports seconds) and ratios; a tool whose any run exited non-zero is FAILED.
summary=$(jq --arg dd "$docker_driver" --arg pd "$podman_driver" --arg m "$manifest" --argjson mib "$mib" \
  --arg scratch "$scratch_desc" '(.results | map({key: .command, value: .median}) | from_entries) as $r
  | def ratio(a; b): if $r[a] and $r[b] then $r[a] / $r[b] else null end;
    { median_s: $r,
      ratio: ({ hoist_docker: ratio("hoist"; "docker"), hoist_podman: ratio("hoist"; "podman"),
                hoist_skopeo: ratio("hoist"; "skopeo"), podman_docker: ratio("podman"; "docker") }
              | with_entries(select(.value != null))),
      image: {manifest: $m, compressed_mib: $mib}, scratch: $scratch,
      storage_driver: ({docker: $dd, podman: $pd} | with_entries(select(.value != ""))),
      failed: [.results[] | select(any(.exit_codes[]; . != 0)) | .command] }' "$tmp/hf.json")
echo
printf '%-8s %10s %22s %15s\n' tool 'median s' 'mean ± stddev s' 'ratio to hoist'
jq -r '(.results | map(select(.command == "hoist"))[0].median) as $h | .results[]
  | [.command, .median, .mean, (.stddev // 0), (if $h then .median / $h else "-" end),
     (if any(.exit_codes[]; . != 0) then "FAILED" else "" end)] | @tsv' "$tmp/hf.json" |
  while IFS=$'\t' read -r n med mean sd ratio bad; do
    [ "$ratio" = - ] || ratio=$(printf '%.2f' "$ratio")
    printf '%-8s %10.3f %22s %15s%s\n' "$n" "$med" "$(printf '%.3f ± %.3f' "$mean" "$sd")" "$ratio" "${bad:+  $bad}"
  done
jq -r '.ratio | to_entries | map("\(.key | sub("_"; "/")) \(.value * 100 | round / 100)") | join("  ")
  | if . == "" then empty else "ratios (median): " + . end' <<<"$summary"
if [ -n "$out" ]; then jq --argjson s "$summary" '. + {summary: $s}' "$tmp/hf.json" >"$out"; echo "json: $out"; fi
[ "$(jq '.failed | length' <<<"$summary")" -eq 0 ] || die "failed runs: $(jq -r '.failed | join(", ")' <<<"$summary")"
