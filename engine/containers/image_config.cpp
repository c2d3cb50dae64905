#include "engine/containers/image_config.h"

#include <string>

namespace hoist::engine {

namespace {

using nlohmann::json;

bool empty_value(const json& j) {
  // (json::empty() is false for every string: a string's own emptiness is asked.)
  return j.is_null() || ((j.is_array() || j.is_object()) && j.empty()) ||
         (j.is_string() && j.get_ref<const std::string&>().empty()) || (j.is_number() && j.get<double>() == 0);
}
bool unset(const json& o, const char* key) { return !o.contains(key) || empty_value(o[key]); }
std::string env_key(const json& kv) {
  if (!kv.is_string()) return "";
  const auto& s = kv.get_ref<const std::string&>();
  return s.substr(0, s.find('='));
}

}  // namespace

json merge_image_config(json c, const json& image) {
  if (!c.is_object()) c = json::object();
  if (!image.is_object()) return c;
  auto from_image_when_unset = [&](const char* key) {
    if (unset(c, key) && image.contains(key) && !empty_value(image[key])) c[key] = image[key];
  };
  from_image_when_unset("User");
  from_image_when_unset("WorkingDir");
  from_image_when_unset("StopSignal");
  for (const char* key : {"ExposedPorts", "Volumes"}) {
    if (!image.contains(key) || !image[key].is_object() || image[key].empty()) continue;
    if (!c.contains(key) || !c[key].is_object()) c[key] = json::object();
    for (auto& [k, v] : image[key].items())
      if (!c[key].contains(k)) c[key][k] = v;
  }
  if (image.contains("Env") && image["Env"].is_array() && !image["Env"].empty()) {
    if (unset(c, "Env") || !c["Env"].is_array()) {
      c["Env"] = image["Env"];
    } else {
      json add = json::array();
      for (const auto& ie : image["Env"]) {
        bool found = false;
        for (const auto& ue : c["Env"])
          if (env_key(ue) == env_key(ie)) {
            found = true;
            break;
          }
        if (!found) add.push_back(ie);
      }
      for (auto& e : add) c["Env"].push_back(e);
    }
  }
  if (image.contains("Labels") && image["Labels"].is_object()) {
    if (!c.contains("Labels") || !c["Labels"].is_object()) c["Labels"] = json::object();
    for (auto& [k, v] : image["Labels"].items())
      if (!c["Labels"].contains(k)) c["Labels"][k] = v;
  }
  if (unset(c, "Entrypoint")) {
    if (unset(c, "Cmd") && image.contains("Cmd")) c["Cmd"] = image["Cmd"];
    // An Entrypoint given as [] stays empty; only an absent (null) one takes the image's.
    if ((!c.contains("Entrypoint") || c["Entrypoint"].is_null()) && image.contains("Entrypoint"))
      c["Entrypoint"] = image["Entrypoint"];
  }
  if (image.contains("Healthcheck") && image["Healthcheck"].is_object()) {
    const json& ih = image["Healthcheck"];
    if (!c.contains("Healthcheck") || !c["Healthcheck"].is_object()) {
      c["Healthcheck"] = ih;
    } else {
      for (const char* key : {"Test", "Interval", "Timeout", "StartPeriod", "StartInterval", "Retries"})
        if (unset(c["Healthcheck"], key) && ih.contains(key) && !empty_value(ih[key])) c["Healthcheck"][key] = ih[key];
    }
  }
  return c;
}

}  // namespace hoist::engine
