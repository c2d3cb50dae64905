// A container's Config as dockerd keeps it: what the client sent, completed from its image's
// config at create (dockerd's merge), so that inspect, commit and the container's later starts
// all see one config.
#pragma once
#include <nlohmann/json.hpp>

namespace hoist::engine {

// dockerd's rules: User, WorkingDir and StopSignal from the image when empty; ExposedPorts and
// Volumes the union (the container's win); Env the container's, then the image's entries whose
// key it lacks; Labels the image's under the container's; with no Entrypoint given, Cmd from the
// image when none given, and the image's Entrypoint unless one was given as empty; Healthcheck
// the image's, or the container's with its unset fields (empty Test, zero durations and retries)
// from the image's. Non-object inputs count as empty.
nlohmann::json merge_image_config(nlohmann::json container, const nlohmann::json& image);

}  // namespace hoist::engine
