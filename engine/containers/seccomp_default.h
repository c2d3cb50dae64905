// Docker's default capability set and seccomp profile, reproduced as facts (moby profiles/seccomp).
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace hoist::engine {

// Docker's 14 default capabilities ("CAP_CHOWN", ...).
std::vector<std::string> default_capabilities();
// Every capability name the kernel headers we know of define (index = capability number).
const std::vector<std::string>& all_capabilities();
// The capabilities hoistd can hand to a container: known to the running kernel
// (/proc/sys/kernel/cap_last_cap) and in hoistd's own bounding set, as dockerd's
// GetAllCapabilities (a daemon inside a container may lack some). What privileged and
// `--cap-add ALL` give.
const std::vector<std::string>& available_capabilities();

// Docker's default profile in Docker's own format (defaultAction, archMap, syscalls with
// includes/excludes on caps and arches).
nlohmann::json docker_default_seccomp_profile();
// A Docker-format profile → OCI linux.seccomp for the host architecture and the given caps.
nlohmann::json seccomp_profile_to_oci(const nlohmann::json& docker_profile,
                                      const std::vector<std::string>& effective_caps);
// docker_default_seccomp_profile() converted for the host.
nlohmann::json default_seccomp_profile(const std::vector<std::string>& effective_caps);

}  // namespace hoist::engine
