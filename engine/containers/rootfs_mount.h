// A container's root filesystem: an overlay of the image's layers and the container's init layer
// (read-only lowerdirs, highest first; engine/containers/init_layer.h) with upper/ and work/ in the
// container's directory, mounted on <dir>/rootfs.
// The copy snapshotter's fallback: the top snapshot (a full tree) copied once into <dir>/rootfs,
// the init layer's entries put over it.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace hoist::engine {

struct RootfsLayout {
  std::string dir;  // the container's directory (holds rootfs/, upper/, work/, l/, init/)
  std::vector<std::string> layers;  // the image's, lowest first (mount_rootfs adds the init layer)
  bool copy = false;  // copy snapshotter: no mount
  bool volatile_upper = false;  // overlay option volatile (ContainerRecord::volatile_upper)
  std::string init_layers;  // where shared init layers live (init_layer.h); empty: one of its own
  std::string rootfs() const { return dir + "/rootfs"; }
};

// Mounts (or copies) the rootfs; idempotent (an existing mount is kept). When the overlay
// option string would exceed a page, the lowerdirs are reached through short symlinks
// <dir>/l/<n> and the mount is made from a child process chdir'ed into <dir>.
void mount_rootfs(const RootfsLayout& l);
// The copy snapshotter: whether the container's tree in `container_dir`/rootfs was copied whole
// (its marker beside the tree, or at its root for older containers).
bool rootfs_copied(const std::string& container_dir);
// Unmounts if mounted (lazy detach when busy). Never throws for "not mounted".
void unmount_rootfs(const std::string& rootfs);
bool is_mounted(const std::string& path);
// The overlay options for `l` (exposed for tests); `relative`: with l/<n> links and relative paths.
std::string overlay_options(const RootfsLayout& l, bool relative);

// Bytes in the container's writable layer (the overlay's upper/), counted as dockerd counts a
// directory's size: every entry but directories, a hard-linked file once. 0 for the copy
// snapshotter (no separate layer) or when the directory is gone.
std::int64_t writable_layer_size(const RootfsLayout& l);

// Unmounts in the destructor unless release()d: for the error paths of start.
class RootfsGuard {
 public:
  explicit RootfsGuard(std::string rootfs) : rootfs_(std::move(rootfs)) {}
  ~RootfsGuard() {
    if (!rootfs_.empty()) {
      try {
        unmount_rootfs(rootfs_);
      } catch (...) {
      }
    }
  }
  void release() { rootfs_.clear(); }

 private:
  std::string rootfs_;
};

}  // namespace hoist::engine
