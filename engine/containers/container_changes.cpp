#include "engine/containers/container_changes.h"

#include "common/file.h"
#include "engine/containers/init_layer.h"
#include "engine/containers/rootfs_mount.h"

namespace hoist::engine {

std::optional<image::ChangeSource> container_change_source(const ContainerRecord& r, const std::string& dir) {
  image::ChangeSource src;
  std::string init = init_layer_of(dir);
  if (r.snapshot_mode == "copy") {
    if (!rootfs_copied(dir) || r.layer_paths.empty()) return std::nullopt;
    src.upper = dir + "/rootfs";
    src.full_tree = true;
    src.lowers = {r.layer_paths.back()};
  } else {
    if (!path_exists(dir + "/upper")) return std::nullopt;
    src.upper = dir + "/upper";
    src.lowers = r.layer_paths;
  }
  if (!init.empty()) src.lowers.push_back(init);
  return src;
}

}  // namespace hoist::engine
