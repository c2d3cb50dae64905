// Request parsing: the request target (path, /vX.Y prefix, query) and the "filters" parameter;
// /build's ulimits and /build/prune's filters.
#include "engine/api/router.h"
#include "engine/build_prune.h"
#include "engine/build_resources.h"
#include "fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  auto s = hoist::fuzz::as_text(data, size);
  hoist::fuzz::expect_only_input_errors([&] { (void)hoist::engine::parse_filters(std::string(s)); });
  hoist::fuzz::expect_only_input_errors([&] {
    auto t = hoist::engine::parse_target(s);
    if (auto it = t.query.find("filters"); it != t.query.end()) (void)hoist::engine::parse_filters(it->second);
  });
  hoist::fuzz::expect_only_input_errors([&] { (void)hoist::engine::query_values(s, "names"); });
  hoist::fuzz::expect_only_input_errors([&] { (void)hoist::engine::BuildResources::parse_ulimits(std::string(s)); });
  hoist::fuzz::expect_only_input_errors([&] {
    hoist::engine::BuildPruneOptions o;
    o.read_filters(hoist::engine::parse_filters(std::string(s)));
  });
  return 0;
}
