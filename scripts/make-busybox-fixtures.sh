#!/usr/bin/env bash
# Builds the test fixtures from Debian's busybox-static: a busybox root filesystem with the
# applet links installed, packed as a tarball, as an OCI bundle (rootfs/ + config.json), and as
# an OCI image layout (busybox-oci/, and busybox-oci.tar for `ctr images import`/`podman load`)
# named localhost/hoist-busybox:latest. The image's digests are reproducible (fixed mtimes,
# owners, order; gzip -n).
#   scripts/make-busybox-fixtures.sh [OUTDIR]     (default: build/fixtures)
set -euo pipefail
umask 022  # the modes in the image layer, hence its digest, must not depend on the caller
out=${1:-build/fixtures}
bb=/bin/busybox
[ -x "$bb" ] || { echo "make-busybox-fixtures: $bb missing (apt-get install busybox-static)" >&2; exit 1; }
file -L "$bb" 2>/dev/null | grep -q 'statically linked' || ldd "$bb" 2>&1 | grep -q 'not a dynamic' || {
  echo "make-busybox-fixtures: $bb is not statically linked (install busybox-static)" >&2; exit 1; }

mkdir -p "$out"
tmp=$(mktemp -d "$out/.busybox.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
root="$tmp/rootfs"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,root,home,var,run}
chmod 1777 "$root/tmp"
cp "$bb" "$root/bin/busybox"
# One link per applet, where busybox itself would install it.
"$bb" --list-full | while read -r applet; do
  [ "$applet" = bin/busybox ] && continue
  ln -sf /bin/busybox "$root/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$root/etc/passwd"
printf 'root:x:0:\ntty:x:5:\nnogroup:x:65534:\n' > "$root/etc/group"
printf '127.0.0.1 localhost\n' > "$root/etc/hosts"
: > "$root/etc/resolv.conf"

tar -C "$root" --numeric-owner -cf "$tmp/busybox-rootfs.tar" .

bundle="$tmp/busybox-bundle"
mkdir -p "$bundle"
cp -a "$root" "$bundle/rootfs"
cat > "$bundle/config.json" <<'JSON'
{
  "ociVersion": "1.1.0",
  "process": {
    "terminal": false,
    "user": {"uid": 0, "gid": 0},
    "args": ["sh"],
    "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
    "cwd": "/",
    "capabilities": {
      "bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      "effective": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      "permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      "ambient": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    },
    "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
    "noNewPrivileges": true
  },
  "root": {"path": "rootfs", "readonly": true},
  "hostname": "busybox",
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
    {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
    {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
    {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
  ],
  "linux": {
    "resources": {"devices": [{"allow": false, "access": "rwm"}]},
    "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"}],
    "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
                    "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
    "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
  }
}
JSON

# OCI image layout: one gzip layer, its config, a manifest, and an index naming it.
oci="$tmp/busybox-oci"
mkdir -p "$oci/blobs/sha256"
repro=(--mtime=@0 --sort=name --owner=0 --group=0 --numeric-owner --format=gnu)
tar -C "$root" "${repro[@]}" -cf "$tmp/layer.tar" .
digest() { sha256sum "$1" | cut -d' ' -f1; }
size() { stat -c %s "$1"; }
# Stores file $1 as a blob; prints its digest.
blob() { local d; d=$(digest "$1"); mv "$1" "$oci/blobs/sha256/$d"; echo "$d"; }
diff_id=$(digest "$tmp/layer.tar")
gzip -n -9 -c "$tmp/layer.tar" > "$tmp/layer.tar.gz"
rm "$tmp/layer.tar"
layer_size=$(size "$tmp/layer.tar.gz")
layer=$(blob "$tmp/layer.tar.gz")
jq -cn --arg diff "sha256:$diff_id" '{
  created: "1970-01-01T00:00:00Z", architecture: "amd64", os: "linux",
  config: {Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], Cmd: ["sh"]},
  rootfs: {type: "layers", diff_ids: [$diff]},
  history: [{created: "1970-01-01T00:00:00Z", created_by: "scripts/make-busybox-fixtures.sh"}]
}' > "$tmp/config.json"
config_size=$(size "$tmp/config.json")
config=$(blob "$tmp/config.json")
jq -cn --arg c "sha256:$config" --argjson cs "$config_size" --arg l "sha256:$layer" --argjson ls "$layer_size" '{
  schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
  config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $c, size: $cs},
  layers: [{mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: $l, size: $ls}]
}' > "$tmp/manifest.json"
manifest_size=$(size "$tmp/manifest.json")
manifest=$(blob "$tmp/manifest.json")
jq -cn --arg m "sha256:$manifest" --argjson ms "$manifest_size" '{
  schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json",
  manifests: [{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $m, size: $ms,
               platform: {architecture: "amd64", os: "linux"},
               annotations: {"io.containerd.image.name": "localhost/hoist-busybox:latest",
                             "org.opencontainers.image.ref.name": "latest"}}]
}' > "$oci/index.json"
echo '{"imageLayoutVersion":"1.0.0"}' > "$oci/oci-layout"
tar -C "$oci" "${repro[@]}" -cf "$tmp/busybox-oci.tar" oci-layout index.json blobs

rm -rf "$out/busybox-rootfs.tar" "$out/busybox-bundle" "$out/busybox-oci" "$out/busybox-oci.tar"
mv "$tmp/busybox-rootfs.tar" "$tmp/busybox-bundle" "$tmp/busybox-oci" "$tmp/busybox-oci.tar" "$out/"
echo "fixtures in $out: busybox-rootfs.tar busybox-bundle/ busybox-oci/ busybox-oci.tar (localhost/hoist-busybox:latest, manifest sha256:$manifest)"
