// The container's filesystem: mounts, devices, pivot_root, masked and read-only paths.
// Runs in the container's mount namespace, in the init process.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "common/fd.h"
#include "runtime/cgroups/cgroups.h"
#include "runtime/spec.h"

namespace hoist::runtime {

struct RootfsContext {
  const oci::Spec* spec = nullptr;
  std::string rootfs;         // absolute host path of root.path
  bool userns = false;        // mknod is not possible; devices are bind-mounted
  bool new_cgroupns = false;  // cgroup mounts show the container's own cgroup as root
  cgroups::Layout layout;
  std::string cgroup_path;    // as from cgroups::resolve_path
  std::function<void()> before_cgroup_mount;  // waits until the cgroup exists and is joined
};

// Before pivot_root: root propagation, the rootfs bind mount, every spec mount, devices.
void prepare_rootfs(const RootfsContext& ctx);
// pivot_root into the rootfs (or MS_MOVE + chroot when no_pivot) and drop the old root.
void enter_rootfs(const std::string& rootfs, bool no_pivot);
// After pivot_root: masked and read-only paths, rootfs propagation, a read-only root.
void finish_rootfs(const RootfsContext& ctx);

// Opens (O_PATH) `path` inside the directory tree at root_fd, never leaving it: symlinks are
// resolved as if root_fd were "/" (openat2 RESOLVE_IN_ROOT). Missing components are created as
// directories, the last one as a file when `file` is set.
UniqueFd open_in_root(int root_fd, const std::string& path, bool create, bool file);
std::string fd_path(int fd);  // "/proc/self/fd/N"

// What a "cgroup" mount shows on a v1 or hybrid host: under a tmpfs, one bind mount per
// hierarchy of the container's own cgroup directory, named after its controllers, with
// symlinks for co-mounted ones (cpu -> cpu,cpuacct), and "unified" for a hybrid host's cgroup2.
struct CgroupBind {
  std::string name;                // directory under the mount point
  std::string source;              // host directory bound there
  std::vector<std::string> links;  // symlinks to `name`
};
std::vector<CgroupBind> cgroup_v1_binds(const cgroups::Layout& layout, const std::string& cgroup_path);

}  // namespace hoist::runtime
