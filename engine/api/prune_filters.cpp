#include "engine/api/prune_filters.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/error.h"
#include "engine/containers/logs.h"

namespace hoist::engine {

namespace {

bool label_match(const nlohmann::json& labels, const std::string& f) {
  auto eq = f.find('=');
  auto k = f.substr(0, eq);
  if (!labels.is_object() || !labels.contains(k)) return false;
  return eq == std::string::npos || labels[k] == f.substr(eq + 1);
}

}  // namespace

PruneFilters PruneFilters::parse(const Filters& f, const std::vector<std::string>& own) {
  PruneFilters p;
  for (const auto& [k, values] : f) {
    if (k == "label") {
      p.label = values;
    } else if (k == "label!") {
      p.label_not = values;
    } else if (k == "until") {
      if (values.empty()) continue;
      if (values.size() > 1) throw InvalidArgument("more than one until filter specified");
      const auto& v = values.front();
      p.until_ns = parse_time_arg_ns(v);
      if (p.until_ns < 0) {
        try {
          p.until_ns = parse_rfc3339_ns(now_rfc3339()) - parse_go_duration_ns(v);
        } catch (const InvalidArgument&) {
          throw Error("failed to parse value as time or duration: \"" + v + "\"");  // dockerd: a 500
        }
      }
    } else if (std::find(own.begin(), own.end(), k) == own.end()) {
      throw InvalidArgument("Invalid filter '" + k + "'");
    }
  }
  return p;
}

bool PruneFilters::selects(const nlohmann::json& labels, std::int64_t created_ns) const {
  if (until_ns > 0 && created_ns >= until_ns) return false;
  for (const auto& f : label)
    if (!label_match(labels, f)) return false;
  for (const auto& f : label_not)
    if (label_match(labels, f)) return false;
  return true;
}

}  // namespace hoist::engine
