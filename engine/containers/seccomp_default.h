// Docker's default capability set and seccomp profile, reproduced as facts (moby profiles/seccomp).
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace hoist::engine {

// Docker's 14 default capabilities ("CAP_CHOWN", ...).
std::vector<std::string> default_capabilities();
// Every capability name the kernel headers we know of define.
const std::vector<std::string>& all_capabilities();

// Docker's default profile in Docker's own format (defaultAction, archMap, syscalls with
// includes/excludes on caps and arches).
nlohmann::json docker_default_seccomp_profile();
// A Docker-format profile → OCI linux.seccomp for the host architecture and the given caps.
nlohmann::json seccomp_profile_to_oci(const nlohmann::json& docker_profile,
                                      const std::vector<std::string>& effective_caps);
// docker_default_seccomp_profile() converted for the host.
nlohmann::json default_seccomp_profile(const std::vector<std::string>& effective_caps);

}  // namespace hoist::engine
