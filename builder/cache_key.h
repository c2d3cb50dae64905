// Build cache keys, as pure functions: a step's key is the sha256 of its parent's key, the step's
// own text (its instruction with variables substituted and, for RUN, the build args it records;
// stage_eval.h's Step::cache_text) and the digest of the content it reads (the files COPY/ADD
// take, with their metadata, as the caller hashes them; "" for steps that read none). A stage's
// first key is that of its base. Nothing else goes in: a build arg that no step of the chain
// sees changes no key.
#pragma once
#include <string>

namespace hoist::builder {

// "sha256:<hex>" of a stage's base: an image's id (its config digest), or a built stage's last
// key, and the platform built for.
std::string base_cache_key(const std::string& base_id, const std::string& platform);

// "sha256:<hex>" of a step.
std::string step_cache_key(const std::string& parent_key, const std::string& step_text,
                           const std::string& content_digest = "");

}  // namespace hoist::builder
