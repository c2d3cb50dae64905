#!/usr/bin/env bash
# Builds the Debian test fixture: a Debian 12 root filesystem (`debootstrap --variant=minbase
# bookworm` with redis-server, redis-tools and busybox from Debian's packages; without docs,
# manuals and translations), packed as a gzip tarball for `docker import` / `hoist import`:
# OUTDIR/debian-rootfs.tar.gz.
#
# debootstrap takes minutes and the mirror's bandwidth, so the tarball is cached outside the build
# tree, in $HOIST_FIXTURE_CACHE (default /var/cache/hoist-fixtures), under a name keyed on the
# suite, variant and package list: a fresh clone on the same machine reuses it. OUTDIR gets a hard
# link (or a copy) of it. Does nothing if OUTDIR already holds the current one. Needs root
# (debootstrap) and the Debian mirror apt uses (scripts/debian-mirror.sh, or $MIRROR).
#   scripts/make-debian-fixtures.sh [OUTDIR]     (default: build/fixtures)
set -euo pipefail
umask 022
die() { echo "make-debian-fixtures: $*" >&2; exit 1; }
out=${1:-build/fixtures}
here=$(cd "$(dirname "$0")" && pwd)
suite=bookworm variant=minbase packages=busybox,redis-server,redis-tools
key=$(printf '%s %s %s v2\n' "$suite" "$variant" "$packages" | sha256sum | cut -c1-16)
cache=${HOIST_FIXTURE_CACHE:-/var/cache/hoist-fixtures}
cached=$cache/debian-$suite-$key.tar.gz
mkdir -p "$out" "$cache"
target=$out/debian-rootfs.tar.gz

if [ ! -f "$cached" ]; then
  command -v debootstrap >/dev/null || die "debootstrap missing (scripts/install-deps.sh installs it)"
  [ "$(id -u)" -eq 0 ] || die "debootstrap needs root"
  # One builder at a time (test binaries may start together); the second finds the cache made.
  exec 9>"$cache/.lock"
  flock 9
fi
if [ ! -f "$cached" ]; then
  mirror=$("$here/debian-mirror.sh")
  # shellcheck source=scripts/debootstrap-tmp.sh
  source "$here/debootstrap-tmp.sh"
  debootstrap_tmp "$cache"
  echo "make-debian-fixtures: debootstrap --variant=$variant --include=$packages $suite from $mirror" \
    "(once; cached in $cache)" >&2
  debootstrap --variant="$variant" --include="$packages" "$suite" "$tmp/rootfs" "$mirror" \
    >"$tmp/debootstrap.log" 2>&1 || { tail -n 20 "$tmp/debootstrap.log" >&2; die "debootstrap failed (log above)"; }
  # A container image carries no device nodes, no apt lists or caches, no debootstrap leftovers;
  # and, as Debian's slim images, no documentation, manuals or translations (a third of the size:
  # a daemon with the vfs storage driver copies the whole tree for each container).
  rm -rf "$tmp/rootfs/debootstrap" "$tmp/rootfs/var/log/bootstrap.log" "$tmp/rootfs/var/cache/apt/"*.bin \
    "$tmp/rootfs/var/lib/apt/lists/"* "$tmp/rootfs/usr/share/"{doc,man,info,locale}/*
  find "$tmp/rootfs/var/cache/apt/archives" -name '*.deb' -delete
  (cd "$tmp/rootfs" && find . -mindepth 1 \( -path ./dev/\* -o -path ./proc/\* -o -path ./sys/\* \) -prune -o \
    -printf '%P\0' | LC_ALL=C sort -z) |
    tar -C "$tmp/rootfs" --no-recursion --null -T - --numeric-owner -cf - | gzip -n -1 >"$tmp/rootfs.tar.gz"
  mv "$tmp/rootfs.tar.gz" "$cached"
  echo "$mirror" >"${cached%.tar.gz}.mirror"
fi
if [ ! "$target" -ef "$cached" ] && ! cmp -s "$target" "$cached"; then
  rm -f "$target"
  ln "$cached" "$target" 2>/dev/null || cp "$cached" "$target"
fi
echo "make-debian-fixtures: $target (debian $suite $variant + $packages)" >&2
