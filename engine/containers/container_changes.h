// A container's changes and whole file system as diff, commit and export see them.
//
// The writable layer is upper/ over the init layer and the image's layers (overlay), or, for the
// copy snapshotter, the copied rootfs/ compared with the image's top snapshot and the init layer.
// The whole file system of a running (or paused) container is its mounted rootfs/ (hoistd mounts
// it in its own mount namespace; the container's binds, volumes and tmpfs live in the
// container's namespace only, so only their mount points show, as with dockerd). For a stopped
// container a read-only overlay of upper/, the init layer and the image's layers is mounted for
// the duration of the read, in a private mount namespace of a thread of its own: a start of the
// container meanwhile is not disturbed, and if hoistd dies the mount goes with the namespace.
#pragma once
#include <functional>
#include <optional>
#include <string>

#include "engine/containers/record.h"
#include "image/layer_maker.h"

namespace hoist::engine {

// The layer maker's view of the container's changes; nullopt when it has no writable layer yet
// (created, never started: nothing changed).
std::optional<image::ChangeSource> container_change_source(const ContainerRecord& r, const std::string& dir);

// Calls `fn` with the path of the container's whole file system (see above). `running`: the
// container's rootfs is mounted (running or paused). Rethrows what `fn` throws.
void with_container_rootfs(const ContainerRecord& r, const std::string& dir, bool running,
                           const std::function<void(const std::string& root)>& fn);

}  // namespace hoist::engine
