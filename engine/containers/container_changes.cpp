#include "engine/containers/container_changes.h"

#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <exception>
#include <thread>

#include "common/error.h"
#include "common/file.h"
#include "engine/containers/init_layer.h"
#include "engine/containers/rootfs_mount.h"

namespace hoist::engine {

namespace {

bool copied(const std::string& dir) {
  return path_exists(dir + "/rootfs.copied") || path_exists(dir + "/rootfs/.hoist-copied");
}

// Mounts a read-only overlay of `lowers` (top first, paths relative to the current directory or
// absolute) on `target`.
void mount_view(const std::string& dir, const std::vector<std::string>& image_layers, const std::string& target) {
  // This thread has a working directory of its own (unshare(CLONE_NEWNS) unshares it too), so
  // the options may name the layers relative to the container's directory.
  if (::chdir(dir.c_str()) != 0) throw_sys("chdir", dir);
  auto options = [&](bool short_names) {
    std::string o = "lowerdir=upper:init";
    for (std::size_t i = image_layers.size(); i-- > 0;)
      o += ":" + (short_names ? "l/" + std::to_string(i) : image_layers[i]);
    return o;
  };
  std::string opts = options(false);
  if (static_cast<long>(opts.size()) >= ::sysconf(_SC_PAGESIZE)) {
    // The links mount_rootfs makes for the same case (l/<n>: the image's layer n).
    mkdir_all(dir + "/l", 0700);
    for (std::size_t i = 0; i < image_layers.size(); ++i) {
      std::string link = dir + "/l/" + std::to_string(i);
      ::unlink(link.c_str());
      if (::symlink(image_layers[i].c_str(), link.c_str()) != 0) throw_sys("symlink", link);
    }
    opts = options(true);
  }
  if (::mount("overlay", target.c_str(), "overlay", MS_RDONLY, opts.c_str()) != 0)
    throw_sys("mount overlay on", target + " (" + opts + ")");
}

}  // namespace

std::optional<image::ChangeSource> container_change_source(const ContainerRecord& r, const std::string& dir) {
  image::ChangeSource src;
  std::string init = dir + "/init";
  if (r.snapshot_mode == "copy") {
    if (!copied(dir) || r.layer_paths.empty()) return std::nullopt;
    src.upper = dir + "/rootfs";
    src.full_tree = true;
    src.lowers = {r.layer_paths.back()};
  } else {
    if (!path_exists(dir + "/upper")) return std::nullopt;
    src.upper = dir + "/upper";
    src.lowers = r.layer_paths;
  }
  if (path_exists(init)) src.lowers.push_back(init);
  return src;
}

void with_container_rootfs(const ContainerRecord& r, const std::string& dir, bool running,
                           const std::function<void(const std::string& root)>& fn) {
  std::string rootfs = dir + "/rootfs";
  if (r.snapshot_mode == "copy") {
    // The tree is in place (copied at the first start, or now).
    mount_rootfs(RootfsLayout{dir, r.layer_paths, true});
    return fn(rootfs);
  }
  if (running && is_mounted(rootfs)) return fn(rootfs);
  // A stopped container: the merged view, read-only, in a mount namespace of this thread's own.
  ensure_init_layer(dir, r.layer_paths);
  mkdir_all(dir + "/upper", 0755);
  mkdir_all(rootfs, 0755);
  std::exception_ptr error;
  std::thread t([&] {
    try {
      if (::unshare(CLONE_NEWNS) != 0) throw_sys("unshare", "mount namespace");
      // Nothing mounted here may reach the host's namespace.
      if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) throw_sys("make private", "/");
      mount_view(dir, r.layer_paths, rootfs);
      fn(rootfs);
    } catch (...) {
      error = std::current_exception();
    }
    // The namespace, and the mount with it, ends with this thread.
  });
  t.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace hoist::engine
