#include "builder/image_config.h"

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/json.h"

namespace hoist::builder {

using nlohmann::json;

namespace {

const char* const kManaged[] = {"User",        "WorkingDir", "StopSignal", "Env",     "Cmd",    "Entrypoint",
                                "Shell",       "OnBuild",    "Healthcheck", "ExposedPorts", "Volumes", "Labels",
                                "ArgsEscaped"};

std::vector<std::string> strings(const json& v, const char* field) {
  if (!v.is_array()) throw InvalidArgument(std::string("image config: ") + field + ": not a list of strings");
  std::vector<std::string> out;
  for (auto& e : v) {
    if (!e.is_string()) throw InvalidArgument(std::string("image config: ") + field + ": not a list of strings");
    out.push_back(e.get<std::string>());
  }
  return out;
}

std::optional<std::vector<std::string>> opt_strings(const json& c, const char* field) {
  if (!c.contains(field) || c[field].is_null()) return std::nullopt;
  if (c[field].is_string()) return std::vector<std::string>{c[field].get<std::string>()};  // Docker's StrSlice
  return strings(c[field], field);
}

std::optional<std::set<std::string>> key_set(const json& c, const char* field) {
  if (!c.contains(field) || c[field].is_null()) return std::nullopt;
  if (!c[field].is_object()) throw InvalidArgument(std::string("image config: ") + field + ": not an object");
  std::set<std::string> out;
  for (auto& [k, v] : c[field].items()) out.insert(k);
  return out;
}

std::string str(const json& c, const char* field) {
  if (!c.contains(field) || c[field].is_null()) return {};
  if (!c[field].is_string()) throw InvalidArgument(std::string("image config: ") + field + ": not a string");
  return c[field].get<std::string>();
}

}  // namespace

ImageConfig ImageConfig::from_json(std::string_view text) {
  ImageConfig ic;
  if (text.empty()) return ic;
  json c = parse_json(text, "image config");
  if (c.is_null()) return ic;
  if (!c.is_object()) throw InvalidArgument("image config: not an object");
  ic.user = str(c, "User");
  ic.working_dir = str(c, "WorkingDir");
  ic.stop_signal = str(c, "StopSignal");
  if (auto env = opt_strings(c, "Env")) ic.env = *env;
  ic.cmd = opt_strings(c, "Cmd");
  ic.entrypoint = opt_strings(c, "Entrypoint");
  ic.shell = opt_strings(c, "Shell");
  ic.on_build = opt_strings(c, "OnBuild");
  ic.exposed_ports = key_set(c, "ExposedPorts");
  ic.volumes = key_set(c, "Volumes");
  if (c.contains("Labels") && !c["Labels"].is_null()) {
    if (!c["Labels"].is_object()) throw InvalidArgument("image config: Labels: not an object");
    std::map<std::string, std::string> labels;
    for (auto& [k, v] : c["Labels"].items()) {
      if (!v.is_string()) throw InvalidArgument("image config: Labels: not a map of strings");
      labels[k] = v.get<std::string>();
    }
    ic.labels = labels;
  }
  if (c.contains("Healthcheck") && c["Healthcheck"].is_object()) {
    const json& h = c["Healthcheck"];
    HealthConfig hc;
    if (auto t = opt_strings(h, "Test")) hc.test = *t;
    hc.interval = json_num(h, "Interval");
    hc.timeout = json_num(h, "Timeout");
    hc.start_period = json_num(h, "StartPeriod");
    hc.start_interval = json_num(h, "StartInterval");
    hc.retries = static_cast<int>(json_num(h, "Retries"));
    ic.healthcheck = hc;
  }
  ic.args_escaped = json_flag(c, "ArgsEscaped");
  for (auto* k : kManaged) c.erase(k);
  ic.others = dump_json(c);
  return ic;
}

std::string ImageConfig::to_json() const {
  json c = parse_json(others.empty() ? "{}" : others, "image config");
  if (!c.is_object()) c = json::object();
  // Docker's container.Config: User, WorkingDir, Env, Cmd, Entrypoint, OnBuild, Volumes and
  // Labels are always written (null when unset), the others only when set.
  c["User"] = user;
  c["WorkingDir"] = working_dir;
  if (!stop_signal.empty()) c["StopSignal"] = stop_signal;
  c["Env"] = env.empty() ? json(nullptr) : json(env);
  c["Cmd"] = cmd ? json(*cmd) : json(nullptr);
  c["Entrypoint"] = entrypoint ? json(*entrypoint) : json(nullptr);
  if (shell) c["Shell"] = *shell;
  c["OnBuild"] = on_build ? json(*on_build) : json(nullptr);
  if (healthcheck) {
    json h = {{"Test", healthcheck->test}};
    if (healthcheck->interval) h["Interval"] = healthcheck->interval;
    if (healthcheck->timeout) h["Timeout"] = healthcheck->timeout;
    if (healthcheck->start_period) h["StartPeriod"] = healthcheck->start_period;
    if (healthcheck->start_interval) h["StartInterval"] = healthcheck->start_interval;
    if (healthcheck->retries) h["Retries"] = healthcheck->retries;
    c["Healthcheck"] = h;
  }
  if (exposed_ports && !exposed_ports->empty()) {
    json p = json::object();
    for (auto& k : *exposed_ports) p[k] = json::object();
    c["ExposedPorts"] = p;
  }
  if (volumes) {
    json v = json::object();
    for (auto& k : *volumes) v[k] = json::object();
    c["Volumes"] = v;
  } else {
    c["Volumes"] = nullptr;
  }
  c["Labels"] = labels ? json(*labels) : json(nullptr);
  if (args_escaped) c["ArgsEscaped"] = true;
  return dump_json(c);  // a value that is not UTF-8 (a Dockerfile may hold one) does not throw
}

std::optional<std::string> ImageConfig::getenv(std::string_view key) const {
  for (auto it = env.rbegin(); it != env.rend(); ++it) {
    auto eq = it->find('=');
    if (std::string_view(*it).substr(0, eq) == key) return eq == std::string::npos ? "" : it->substr(eq + 1);
  }
  return std::nullopt;
}

void ImageConfig::setenv(const std::string& key, const std::string& value) {
  for (auto& e : env) {
    auto eq = e.find('=');
    if (std::string_view(e).substr(0, eq) == key) {
      e = key + "=" + value;
      return;
    }
  }
  env.push_back(key + "=" + value);
}

bool operator==(const HealthConfig& a, const HealthConfig& b) {
  return a.test == b.test && a.interval == b.interval && a.timeout == b.timeout && a.start_period == b.start_period &&
         a.start_interval == b.start_interval && a.retries == b.retries;
}

bool operator==(const ImageConfig& a, const ImageConfig& b) {
  return a.user == b.user && a.working_dir == b.working_dir && a.stop_signal == b.stop_signal && a.env == b.env &&
         a.cmd == b.cmd && a.entrypoint == b.entrypoint && a.shell == b.shell && a.on_build == b.on_build &&
         a.healthcheck == b.healthcheck && a.exposed_ports == b.exposed_ports && a.volumes == b.volumes &&
         a.labels == b.labels && a.args_escaped == b.args_escaped && a.others == b.others;
}

}  // namespace hoist::builder
