// Dockerfile instructions applied to an image config: the `changes` of docker import (and of
// docker commit), as dockerd 20.10 takes them. Allowed: CMD, ENTRYPOINT, ENV, EXPOSE, HEALTHCHECK,
// LABEL, ONBUILD, USER, VOLUME, WORKDIR (JSON or shell form where Dockerfiles allow both); any
// other is refused with dockerd's "<cmd> is not a valid change command".
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace hoist::builder {

// Applies `changes` (one instruction each) to `config` (an image config's "config" object).
// Throws InvalidArgument with dockerd's message for a refused or malformed instruction.
void apply_config_changes(nlohmann::json& config, const std::vector<std::string>& changes);

}  // namespace hoist::builder
