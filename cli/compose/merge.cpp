// The compose specification's merge rules (merge.md) on canonical trees: mappings merge key by
// key; command, entrypoint and healthcheck.test are replaced; ports, volumes, secrets and configs
// merge by their unique key (ports: ip, target, published, protocol; the others: target); other
// sequences are appended, without repeating an entry; `!reset` removes what came before and
// `!override` replaces it.
#include <functional>
#include <set>

#include "cli/compose/internal.h"

namespace hoist::compose::detail {

namespace {

std::string mount_target(const json& e, const char* default_dir) {
  if (e.contains("target") && e["target"].is_string()) {
    std::string t = e["target"];
    if (default_dir && !t.starts_with("/")) return std::string(default_dir) + "/" + t;
    return t;
  }
  if (default_dir && e.contains("source") && e["source"].is_string()) return std::string(default_dir) + "/" + e["source"].get<std::string>();
  return e.dump();
}

std::string port_key(const json& p) {
  return p.value("host_ip", "") + "|" + (p.contains("target") ? p["target"].dump() : "") + "|" +
         (p.contains("published") ? p["published"].dump() : "") + "|" + p.value("protocol", "tcp");
}

// Appends `over`'s entries to `base`, an entry whose key is already there replacing (merging
// into) it.
void merge_keyed(json& base, const json& over, const std::function<std::string(const json&)>& key, bool merge_entries) {
  for (const auto& e : over) {
    std::string k = key(e);
    bool found = false;
    for (auto& b : base) {
      if (key(b) == k) {
        if (merge_entries && b.is_object() && e.is_object()) merge_into(b, e, {});
        else b = e;
        found = true;
        break;
      }
    }
    if (!found) base.push_back(e);
  }
}

void merge_at(json& base, const json& over, const std::vector<std::string>& path);

void merge_map(json& base, const json& over, std::vector<std::string>& path) {
  for (const auto& [k, v] : over.items()) {
    if (is_reset(v)) {
      base.erase(k);
      continue;
    }
    if (is_override(v) || !base.contains(k) || base[k].is_null()) {
      base[k] = v;
      continue;
    }
    path.push_back(k);
    merge_at(base[k], v, path);
    path.pop_back();
  }
}

void merge_at(json& base, const json& over, const std::vector<std::string>& path) {
  if (over.is_null()) return;
  // services.<name>.<key>: the service-level rules.
  if (path.size() == 3 && path[0] == "services") {
    const std::string& key = path[2];
    if (key == "command" || key == "entrypoint") {
      base = over;
      return;
    }
    if (base.is_array() && over.is_array()) {
      if (key == "ports") return merge_keyed(base, over, port_key, true);
      if (key == "volumes") return merge_keyed(base, over, [](const json& e) { return mount_target(e, nullptr); }, true);
      if (key == "secrets") return merge_keyed(base, over, [](const json& e) { return mount_target(e, "/run/secrets"); }, true);
      if (key == "configs") return merge_keyed(base, over, [](const json& e) { return mount_target(e, "/"); }, true);
      if (key == "env_file") return merge_keyed(base, over, [](const json& e) { return e.value("path", e.dump()); }, false);
    }
    if (key == "logging" && base.is_object() && over.is_object()) {
      // A different driver drops the options of the old one.
      if (over.contains("driver") && base.contains("driver") && over["driver"] != base["driver"]) {
        base = over;
        return;
      }
    }
  }
  if (path.size() == 4 && path[0] == "services" && path[2] == "healthcheck" && path[3] == "test") {
    base = over;
    return;
  }
  if (base.is_object() && over.is_object()) {
    auto p = path;
    merge_map(base, over, p);
    return;
  }
  if (base.is_array() && over.is_array()) {
    std::set<std::string> seen;
    for (const auto& e : base) seen.insert(e.dump());
    for (const auto& e : over)
      if (seen.insert(e.dump()).second) base.push_back(e);
    return;
  }
  base = over;
}

}  // namespace

void merge_into(json& base, const json& over, std::vector<std::string> path) {
  if (!base.is_object() || !over.is_object()) {
    base = over;
    return;
  }
  merge_map(base, over, path);
}

void strip_markers(json& v) {
  if (is_override(v)) {
    json inner = v[kOverrideKey];
    v = std::move(inner);
    strip_markers(v);
    return;
  }
  if (v.is_object()) {
    for (auto it = v.begin(); it != v.end();) {
      if (is_reset(it.value())) {
        it = v.erase(it);
        continue;
      }
      strip_markers(it.value());
      ++it;
    }
  } else if (v.is_array()) {
    for (auto it = v.begin(); it != v.end();) {
      if (is_reset(*it)) {
        it = v.erase(it);
        continue;
      }
      strip_markers(*it);
      ++it;
    }
  }
}

}  // namespace hoist::compose::detail
