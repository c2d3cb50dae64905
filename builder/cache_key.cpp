#include "builder/cache_key.h"

#include "common/digest.h"

namespace hoist::builder {

namespace {

// Each part with its length first, so that no two different part lists hash the same text.
void part(Hasher& h, const std::string& s) {
  h.update(std::to_string(s.size()));
  h.update(":");
  h.update(s);
}

}  // namespace

std::string base_cache_key(const std::string& base_id, const std::string& platform) {
  Hasher h;
  part(h, "hoist-build-cache-v1 base");
  part(h, base_id);
  part(h, platform);
  return h.digest().str();
}

std::string step_cache_key(const std::string& parent_key, const std::string& step_text,
                           const std::string& content_digest) {
  Hasher h;
  part(h, "hoist-build-cache-v1 step");
  part(h, parent_key);
  part(h, step_text);
  part(h, content_digest);
  return h.digest().str();
}

}  // namespace hoist::builder
