#!/usr/bin/env bash
# Builds the image that bench/image-pull.sh pulls: an OCI image layout OUTDIR/layout, ref "bench",
# four gzip layers, about 85 MiB compressed:
#   1. a Debian 12 rootfs from `debootstrap --variant=minbase bookworm` (cached in OUTDIR/cache)
#   2. /opt/bench-data: 23 MiB of pseudo-random (incompressible) files plus 8 MiB of text
#   3. whiteouts: deletes /usr/share/doc, some files of layers 1 and 2, and makes /usr/share/locale
#      opaque (.wh..wh..opq); adds two small files
#   4. /usr/src/bench-small: 8,000 small files in 200 directories, with some symlinks and hardlinks
# Layers 2-4 are reproducible (fixed data, mtimes, owners, order; gzip -n). Layer 1 is whatever
# debootstrap produced the first time; its tarball is cached, so rebuilding the layout gives the
# same digests. Does nothing if OUTDIR/layout already holds the image. Needs root (debootstrap)
# and the Debian mirror (the one apt uses: scripts/debian-mirror.sh, or $MIRROR).
#   bench/make-pull-image.sh OUTDIR
set -euo pipefail
umask 022  # the modes in the layers, hence their digests, must not depend on the caller
die() { echo "make-pull-image: $*" >&2; exit 1; }
[ $# -eq 1 ] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
out=$1
layout=$out/layout cache=$out/cache
rootfs_tgz=$cache/bookworm-minbase.tar.gz

if [ -f "$layout/index.json" ] &&
   jq -e '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "bench")' \
     "$layout/index.json" >/dev/null 2>&1; then
  echo "make-pull-image: $layout already holds the image (ref bench); remove it to rebuild"
  exit 0
fi
missing=()
for t in jq openssl gzip sha256sum skopeo; do command -v "$t" >/dev/null || missing+=("$t"); done
[ -f "$rootfs_tgz" ] || command -v debootstrap >/dev/null || missing+=(debootstrap)
[ ${#missing[@]} -eq 0 ] || die "missing ${missing[*]}"

mkdir -p "$out" "$cache"
out=$(cd "$out" && pwd)
layout=$out/layout cache=$out/cache rootfs_tgz=$out/cache/bookworm-minbase.tar.gz
# shellcheck source=scripts/debootstrap-tmp.sh
source "$(dirname "$0")/../scripts/debootstrap-tmp.sh"
debootstrap_tmp "$out"

epoch=1700000000  # mtime of every file in layers 2-4, and the clamp for layer 1
created=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)
# Reproducible tar of the paths listed (NUL-terminated) on stdin, relative to directory $1, to stdout.
# Entries carry no "./" prefix, like the layers docker and buildkit write.
tar_list() {
  tar -C "$1" --no-recursion --null -T - --format=posix \
    --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
    --mtime="@$epoch" --clamp-mtime --owner=0 --group=0 --numeric-owner -cf -
}
# Every path under directory $1 (not $1 itself), sorted bytewise, NUL-terminated; the contents (not
# the directory itself) of each further argument, a directory relative to $1, are left out.
list_tree() {
  local prune=() p
  for p in "${@:2}"; do prune+=(-path "./$p/*" -prune -o); done
  (cd "$1" && find . -mindepth 1 "${prune[@]}" -printf '%P\0' | LC_ALL=C sort -z)
}
# $2 bytes of AES-CTR keystream (reproducible pseudo-random data), seeded by $1, to stdout.
prng() {
  head -c "$2" /dev/zero |
    openssl enc -aes-128-ctr -nosalt -K 000102030405060708090a0b0c0d0e0f -iv "$(printf '%032x' "$1")"
}

# Layer 1: Debian 12 minbase, built once and cached as the gzip layer itself.
if [ ! -f "$rootfs_tgz" ]; then
  mirror=$("$(dirname "$0")/../scripts/debian-mirror.sh")
  [ "$(id -u)" -eq 0 ] || die "debootstrap needs root"
  echo "make-pull-image: debootstrap --variant=minbase bookworm from $mirror (once; cached in $cache)"
  debootstrap --variant=minbase bookworm "$tmp/rootfs" "$mirror" >"$tmp/debootstrap.log" 2>&1 ||
    { tail -n 20 "$tmp/debootstrap.log" >&2; die "debootstrap failed (log above)"; }
  # A container image carries no device nodes, no apt lists or caches, and no debootstrap leftovers.
  rm -rf "$tmp/rootfs/debootstrap" "$tmp/rootfs/var/log/bootstrap.log" "$tmp/rootfs/var/cache/apt/"*.bin "$tmp/rootfs/var/lib/apt/lists/"*
  find "$tmp/rootfs/var/cache/apt/archives" -name '*.deb' -delete
  list_tree "$tmp/rootfs" dev proc sys |
    tar_list "$tmp/rootfs" | gzip -n >"$tmp/rootfs.tar.gz"
  rm -rf --one-file-system "$tmp/rootfs"
  mv "$tmp/rootfs.tar.gz" "$rootfs_tgz"
  echo "$mirror" >"$cache/bookworm-minbase.mirror"
fi

mkdir -p "$tmp/l2/opt/bench-data" "$tmp/l3" "$tmp/l4/usr/src/bench-small"
# Layer 2: 4 directories of 8 pseudo-random files, 256 KiB to 1.25 MiB (23 MiB in all; gzip can't
# shrink them), and 8 MiB of text logs.
d=$tmp/l2/opt/bench-data
for i in $(seq 0 31); do
  mkdir -p "$d/blob$((i / 8))"
  prng "$i" $(((i % 5 + 1) * 256 * 1024)) >"$d/blob$((i / 8))/part$((i % 8)).bin"
done
mkdir -p "$d/logs"
for i in 0 1 2 3; do  # 22,000 lines, about 2 MiB, each
  prng $((100 + i)) $((22000 * 16)) | od -An -tu4 -w16 -v |
    awk -v day="$i" '{ printf "2024-01-%02d %02d:%02d:%02d.%03d host%d worker[%d]: request id=%d status=%d bytes=%d took=%dms\n",
                       day + 1, $1 % 24, $2 % 60, $3 % 60, $4 % 1000, $1 % 7, $2 % 64, $3 % 1000000000,
                       ($4 % 3 ? 200 : 404), $1 % 100000, $2 % 2000 }' >"$d/logs/day$i.log"
done
echo "bench data layer" >"$d/README"

# Layer 3: whiteouts over layers 1 and 2, an opaque directory, and two new files.
l3=$tmp/l3
mkdir -p "$l3/usr/share/locale" "$l3/opt/bench-data/blob1" "$l3/opt/bench-data/logs" "$l3/var/cache/debconf" "$l3/etc"
: >"$l3/usr/share/.wh.doc"                          # a whole directory tree of layer 1
: >"$l3/usr/share/locale/.wh..wh..opq"              # opaque: hide everything layer 1 had there
echo "locale data removed by the bench image" >"$l3/usr/share/locale/README"
: >"$l3/var/cache/debconf/.wh.templates.dat"        # a single file of layer 1
: >"$l3/opt/bench-data/blob1/.wh.part3.bin"         # files of layer 2
: >"$l3/opt/bench-data/blob1/.wh.part4.bin"
: >"$l3/opt/bench-data/logs/.wh.day3.log"
printf 'hoist image-pull benchmark image\n' >"$l3/etc/hoist-bench"

# Layer 4: 8,000 small files (200 directories of 40; 100 B to 4 KiB of base64 text), plus symlinks
# and hardlinks.
l4=$tmp/l4/usr/src/bench-small
prng 200 $((14 * 1024 * 1024)) | base64 -w 64 | awk -v root="$l4" '
  function next_file() {
    if (f != "") close(f)
    if (n == 8000) { done = 1; return }
    dir = sprintf("%s/pkg%03d", root, int(n / 40))
    if (n % 40 == 0) system("mkdir -p \"" dir "\"")
    f = sprintf("%s/file%02d.txt", dir, n % 40)
    left = 100 + (n * 7919) % 4000
    n++
  }
  done { next }  # keep reading: an early exit would fail the pipeline (pipefail)
  { if (f == "" || left <= 0) next_file(); if (!done) { print > f; left -= 65 } }
  END { if (f != "" && !done) close(f) }'
[ "$(find "$l4" -type f | wc -l)" -eq 8000 ] || die "layer 4: expected 8000 files"
for i in $(seq 0 9); do
  ln -s "../pkg$(printf %03d $((i * 20)))/file00.txt" "$l4/pkg199/link$i.txt"
  ln "$l4/pkg$(printf %03d $((i * 20 + 1)))/file01.txt" "$l4/pkg198/hard$i.txt"
done
ln -s pkg000 "$l4/current"

# OCI layout: the four layers, a config, a manifest, and an index naming the manifest "bench".
oci=$tmp/layout
mkdir -p "$oci/blobs/sha256"
digest() { sha256sum "$1" | cut -d' ' -f1; }
size() { stat -c %s "$1"; }
blob() { local d; d=$(digest "$1"); mv "$1" "$oci/blobs/sha256/$d"; echo "$d"; }
cp "$rootfs_tgz" "$tmp/layer1.tar.gz"
for n in 2 3 4; do list_tree "$tmp/l$n" | tar_list "$tmp/l$n" | gzip -n >"$tmp/layer$n.tar.gz"; done
layers='[]' diff_ids='[]'
for n in 1 2 3 4; do
  diff_id=$(gzip -dc "$tmp/layer$n.tar.gz" | sha256sum | cut -d' ' -f1)
  s=$(size "$tmp/layer$n.tar.gz")
  d=$(blob "$tmp/layer$n.tar.gz")
  layers=$(jq -c --arg d "sha256:$d" --argjson s "$s" \
    '. + [{mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: $d, size: $s}]' <<<"$layers")
  diff_ids=$(jq -c --arg d "sha256:$diff_id" '. + [$d]' <<<"$diff_ids")
done
case $(dpkg --print-architecture 2>/dev/null || uname -m) in
  amd64 | x86_64) arch=amd64 ;; arm64 | aarch64) arch=arm64 ;; *) arch=$(dpkg --print-architecture) ;;
esac
jq -cn --arg t "$created" --arg a "$arch" --argjson ids "$diff_ids" '{
  created: $t, architecture: $a, os: "linux",
  config: {Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], Cmd: ["bash"]},
  rootfs: {type: "layers", diff_ids: $ids},
  history: [{created: $t, created_by: "debootstrap --variant=minbase bookworm"},
            {created: $t, created_by: "bench/make-pull-image.sh: /opt/bench-data"},
            {created: $t, created_by: "bench/make-pull-image.sh: whiteouts"},
            {created: $t, created_by: "bench/make-pull-image.sh: /usr/src/bench-small"}]
}' >"$tmp/config.json"
config_size=$(size "$tmp/config.json")
config=$(blob "$tmp/config.json")
jq -cn --arg c "sha256:$config" --argjson cs "$config_size" --argjson l "$layers" '{
  schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
  config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $c, size: $cs},
  layers: $l
}' >"$tmp/manifest.json"
manifest_size=$(size "$tmp/manifest.json")
manifest=$(blob "$tmp/manifest.json")
jq -cn --arg m "sha256:$manifest" --argjson ms "$manifest_size" --arg a "$arch" '{
  schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json",
  manifests: [{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $m, size: $ms,
               platform: {architecture: $a, os: "linux"},
               annotations: {"org.opencontainers.image.ref.name": "bench"}}]
}' >"$oci/index.json"
echo '{"imageLayoutVersion":"1.0.0"}' >"$oci/oci-layout"

skopeo inspect "oci:$oci:bench" >/dev/null || die "skopeo cannot read the layout it built"
rm -rf "$layout"
mv "$oci" "$layout"
echo "make-pull-image: $layout (ref bench, manifest sha256:$manifest)"
jq -r '.layers | to_entries[] | "  layer \(.key + 1): \(.value.size / 1048576 * 100 | round / 100) MiB  \(.value.digest)"' \
  "$layout/blobs/sha256/$manifest"
jq -r '"  total: \([.layers[].size] | add / 1048576 * 100 | round / 100) MiB compressed"' "$layout/blobs/sha256/$manifest"
