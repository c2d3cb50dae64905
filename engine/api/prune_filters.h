// The filters the /…/prune endpoints share with dockerd: `until` (a time, or a duration before
// now) and `label` / `label!` (a key, or key=value). Each endpoint adds its own (images:
// dangling; volumes: all) and refuses any other key with dockerd's words.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "engine/api/router.h"

namespace hoist::engine {

struct PruneFilters {
  std::int64_t until_ns = 0;  // 0: no until
  std::vector<std::string> label, label_not;

  // Reads until/label/label! from `f`; any key neither those nor in `own` is InvalidArgument
  // "Invalid filter 'k'"; two untils InvalidArgument; an until that is neither a time nor a
  // duration is dockerd's 500 "failed to parse value as time or duration".
  static PruneFilters parse(const Filters& f, const std::vector<std::string>& own = {});
  // Whether an object with these labels (an object, or null) made at `created_ns` is to go.
  bool selects(const nlohmann::json& labels, std::int64_t created_ns) const;
};

}  // namespace hoist::engine
