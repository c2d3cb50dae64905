#include "builder/config_merge.h"

#include <string>

namespace hoist::builder {
using nlohmann::json;

namespace {

// Go's len(x) == 0 for a string, list or map field: missing, null or empty.
bool empty(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return true;
  // (json::empty() is false for any string: a string's emptiness is its text's.)
  if (it->is_string()) return it->get_ref<const std::string&>().empty();
  if (it->is_array() || it->is_object()) return it->empty();
  return false;
}

// Go's x == nil for a slice: missing or null.
bool nil(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it == obj.end() || it->is_null();
}

bool zero(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return true;
  if (it->is_number()) return *it == 0;
  return empty(obj, key);
}

std::string env_name(const json& entry) {
  std::string s = entry.is_string() ? entry.get<std::string>() : std::string();
  return s.substr(0, s.find('='));
}

}  // namespace

void merge_config(json& user, const json& base) {
  if (!user.is_object()) user = json::object();
  if (!base.is_object()) return;
  auto take = [&](const char* key) {
    if (base.contains(key)) user[key] = base[key];
  };
  if (empty(user, "User")) take("User");

  if (empty(user, "ExposedPorts")) {
    take("ExposedPorts");
  } else if (base.contains("ExposedPorts") && base["ExposedPorts"].is_object()) {
    for (auto& [port, v] : base["ExposedPorts"].items())
      if (!user["ExposedPorts"].contains(port)) user["ExposedPorts"][port] = v;
  }

  if (empty(user, "Env")) {
    take("Env");
  } else if (user["Env"].is_array() && base.contains("Env") && base["Env"].is_array()) {
    json add = json::array();
    for (const json& b : base["Env"]) {
      bool found = false;
      for (const json& u : user["Env"])
        if (env_name(u) == env_name(b)) found = true;
      if (!found) add.push_back(b);
    }
    for (json& a : add) user["Env"].push_back(std::move(a));
  }

  if (!user.contains("Labels") || !user["Labels"].is_object()) user["Labels"] = json::object();
  if (base.contains("Labels") && base["Labels"].is_object())
    for (auto& [k, v] : base["Labels"].items())
      if (!user["Labels"].contains(k)) user["Labels"][k] = v;

  if (empty(user, "Entrypoint")) {
    if (empty(user, "Cmd")) take("Cmd");
    if (nil(user, "Entrypoint")) take("Entrypoint");
  }

  if (!nil(base, "Healthcheck") && base["Healthcheck"].is_object()) {
    if (nil(user, "Healthcheck") || !user["Healthcheck"].is_object()) {
      user["Healthcheck"] = base["Healthcheck"];
    } else {
      json& hc = user["Healthcheck"];
      for (const char* k : {"Test", "Interval", "Timeout", "StartPeriod", "StartInterval", "Retries"})
        if (zero(hc, k) && base["Healthcheck"].contains(k)) hc[k] = base["Healthcheck"][k];
    }
  }

  if (empty(user, "WorkingDir")) take("WorkingDir");

  if (empty(user, "Volumes")) {
    take("Volumes");
  } else if (base.contains("Volumes") && base["Volumes"].is_object()) {
    for (auto& [k, v] : base["Volumes"].items()) user["Volumes"][k] = v;
  }

  if (empty(user, "StopSignal")) take("StopSignal");
}

}  // namespace hoist::builder
