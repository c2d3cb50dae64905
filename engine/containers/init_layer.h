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
// Made once in a temp dir <parent>/init.tmp.XXXXXX and renamed into place (a kill -9 may leave the
// temp dir, which goes with the container, or with the daemon's next collect_init_layers).
//
// The layer depends only on how the image has a dozen paths (directory or not, owner, mode), so
// containers whose images agree there share one: <shared_dir>/<key>, with <container_dir>/init a
// symlink to it. That spares a container's start a dozen inodes to make and its removal a dozen to
// delete. A container made with a layer of its own (shared_dir empty, or an older container)
// keeps its <container_dir>/init directory.
#pragma once
#include <string>
#include <vector>

namespace hoist::engine {

// <container_dir>/init, made when missing from the image's layers (lowest first, overlay form;
// for the copy snapshotter the top snapshot, a full tree): a directory of the container's own
// when shared_dir is empty, else a symlink into shared_dir. Returns the layer's path (for a shared
// one, its path in shared_dir).
std::string ensure_init_layer(const std::string& container_dir, const std::vector<std::string>& layers,
                              const std::string& shared_dir = "");

// The container's init layer (the shared one its <container_dir>/init links to), or "" when
// it has none yet.
std::string init_layer_of(const std::string& container_dir);

// Removes the shared layers (and temp dirs) in shared_dir that no container in container_dirs
// links to. Called when no container is being made (the daemon's start).
void collect_init_layers(const std::string& shared_dir, const std::vector<std::string>& container_dirs);

// Puts the init layer's entries onto the full tree `target` (the copy snapshotter's rootfs),
// replacing what is there, with the layer's metadata (so the tree compares equal to the
// image with the init layer on top).
void apply_init_layer(const std::string& init_dir, const std::string& target);

}  // namespace hoist::engine
