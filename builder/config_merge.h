// dockerd's merge of a container config with its image's config: what a container's Config holds
// after create (the image's Env, Cmd, Entrypoint, ... filled in where the request left them
// out), and what `docker commit` does with the new image's config and the container's.
#pragma once
#include <nlohmann/json.hpp>

namespace hoist::builder {

// Fills `user` (a container.Config object) from `base` as dockerd's merge does: User,
// WorkingDir, StopSignal when empty; ExposedPorts and Volumes joined (base's entries added);
// Env entries of `base` whose name `user` lacks appended; Labels of `base` that `user` lacks
// added (Labels is {} at least); Cmd taken from `base` only when `user` has neither Entrypoint nor
// Cmd, Entrypoint when `user` has none at all (an explicit [] stays); Healthcheck taken, or its
// empty fields filled.
void merge_config(nlohmann::json& user, const nlohmann::json& base);

}  // namespace hoist::builder
