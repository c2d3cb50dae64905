// Runs OCI hooks: the container state JSON on stdin, optional timeout.
#pragma once
#include <string>
#include <vector>

#include "runtime/spec.h"

namespace hoist::runtime {

// Runs each hook in order; the first failure throws Error naming the hook kind and path.
void run_hooks(const std::vector<oci::Hook>& hooks, const char* kind, const std::string& state_json);
// Runs them all, logging failures as warnings (poststart, poststop).
void run_hooks_warn(const std::vector<oci::Hook>& hooks, const char* kind, const std::string& state_json);

}  // namespace hoist::runtime
