// A container's changes as diff and commit see them: the writable layer is upper/ over the init
// layer and the image's layers (overlay), or, for the copy snapshotter, the copied rootfs/
// compared with the image's top snapshot and the init layer. (export reads the whole file system
// through ContainerManager::lease_rootfs, as cp does.)
#pragma once
#include <optional>
#include <string>

#include "engine/containers/record.h"
#include "image/layer_maker.h"

namespace hoist::engine {

// The layer maker's view of the container's changes; nullopt when it has no writable layer yet
// (created, never started: nothing changed).
std::optional<image::ChangeSource> container_change_source(const ContainerRecord& r, const std::string& dir);

}  // namespace hoist::engine
