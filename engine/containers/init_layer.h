// A container's init layer, as dockerd makes it: a read-only layer between the image and the
// container's writable layer holding the mount points the runtime binds over (/etc/hosts,
// /etc/resolv.conf, /etc/hostname, /dev/console, /dev/pts, /dev/shm, /proc, /sys), the
// /etc/mtab -> /proc/mounts link and /.dockerenv. Being below the writable layer, these never
// show in `diff` and never go into a committed image, while `export` has them, as with dockerd.
//
// What it holds is what dockerd's set-up leaves on top of the image: each path's parents that
// the image lacks (or has as something other than a directory) are made 0755 root directories,
// parents the image has are copied up (mode and owner); a path the image has as a directory is
// kept, anything else there is replaced: directories 0755, files empty 0755, the symlink.
// Built once per container in a temp dir <dir>/init.tmp.XXXXXX and renamed to <dir>/init (a
// kill -9 may leave the temp dir, which goes with the container).
#pragma once
#include <string>
#include <vector>

namespace hoist::engine {

// <container_dir>/init, made when missing from the image's layers (lowest first, overlay form;
// for the copy snapshotter the top snapshot, a full tree). Returns its path.
std::string ensure_init_layer(const std::string& container_dir, const std::vector<std::string>& layers);

// Puts the init layer's entries onto the full tree `target` (the copy snapshotter's rootfs),
// replacing what is there, with the layer's metadata (so the tree compares equal to the
// image with the init layer on top).
void apply_init_layer(const std::string& init_dir, const std::string& target);

}  // namespace hoist::engine
