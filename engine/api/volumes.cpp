// /volumes endpoints: list (filters dangling, name, label, driver), create, inspect, remove,
// prune (unused volumes without driver options; anonymous ones only from API 1.42 unless
// all=true), as dockerd answers them.
#include <regex>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/json.h"
#include "common/log.h"
#include "engine/api/request_json.h"
#include "engine/api/routes.h"
#include "engine/volume_service.h"

namespace hoist::engine {

using nlohmann::json;

namespace {

// dockerd's invalidFilter: "Invalid filter 'name'" or "Invalid filter 'name=[v1 v2]'".
InvalidArgument invalid_filter(const std::string& key, const std::vector<std::string>* values = nullptr) {
  std::string msg = "Invalid filter '" + key;
  if (values) {
    msg += "=[";
    for (std::size_t i = 0; i < values->size(); ++i) msg += (i ? " " : "") + (*values)[i];
    msg += "]";
  }
  return InvalidArgument(msg + "'");
}

// Go's filters.Args.MatchKVList: every "key" or "key=value" holds for `labels`.
bool match_all_labels(const std::vector<std::string>& wanted, const std::map<std::string, std::string>& labels) {
  if (wanted.empty()) return true;
  if (labels.empty()) return false;
  for (const auto& w : wanted) {
    auto eq = w.find('=');
    auto it = labels.find(w.substr(0, eq));
    if (it == labels.end()) return false;
    if (eq != std::string::npos && it->second != w.substr(eq + 1)) return false;
  }
  return true;
}

// Go's filters.Args.Match: an exact value or a regular expression that matches.
bool match_name(const std::vector<std::string>& wanted, const std::string& name) {
  for (const auto& w : wanted) {
    if (w == name) return true;
    try {
      if (std::regex_search(name, std::regex(w, std::regex::ECMAScript))) return true;
    } catch (const std::regex_error&) {
    }
  }
  return false;
}

// The volumes `filters` keep (dockerd's filtersToBy); `accepted` names the filters allowed.
std::vector<volumes::Volume> filtered(VolumeService& svc, const Filters& filters, const std::set<std::string>& accepted) {
  for (const auto& [k, v] : filters)
    if (!accepted.count(k)) throw invalid_filter(k);
  std::optional<bool> dangling;
  if (auto it = filters.find("dangling"); it != filters.end() && !it->second.empty()) {
    auto has = [&](const char* x) { return std::find(it->second.begin(), it->second.end(), x) != it->second.end(); };
    if (has("true") || has("1")) dangling = true;
    else if (has("false") || has("0")) dangling = false;
    else throw invalid_filter("dangling", &it->second);
  }
  auto values = [&](const char* k) {
    auto it = filters.find(k);
    return it == filters.end() ? std::vector<std::string>{} : it->second;
  };
  auto drivers = values("driver"), names = values("name"), labels = values("label"), not_labels = values("label!");
  std::vector<volumes::Volume> out;
  for (auto& v : svc.store().list()) {
    if (!drivers.empty() && std::find(drivers.begin(), drivers.end(), v.driver) == drivers.end()) continue;
    if (filters.count("name") && !match_name(names, v.name)) continue;
    if (!match_all_labels(labels, v.labels)) continue;
    if (!not_labels.empty() && match_all_labels(not_labels, v.labels)) continue;
    if (dangling) {
      bool used = true;
      try {
        used = !svc.store().users(v.name).empty();
      } catch (const NotFound&) {
        continue;
      }
      if (used == *dangling) continue;
    }
    out.push_back(std::move(v));
  }
  return out;
}

std::map<std::string, std::string> string_map(const json& body, const char* key) {
  std::map<std::string, std::string> out;
  if (!body.contains(key) || body[key].is_null()) return out;
  if (!body[key].is_object())
    throw InvalidArgument(std::string("json: cannot unmarshal ") + (body[key].is_array() ? "array" : "value") +
                          " into Go struct field CreateOptions." + key + " of type map[string]string");
  for (auto& [k, v] : body[key].items()) {
    if (!v.is_string())
      throw InvalidArgument(std::string("json: cannot unmarshal value into Go struct field CreateOptions.") + key +
                            " of type string");
    out[k] = v.get<std::string>();
  }
  return out;
}

}  // namespace

json volume_json(const volumes::Volume& v) {
  auto map_or_null = [](const std::map<std::string, std::string>& m) { return m.empty() ? json(nullptr) : json(m); };
  return {{"CreatedAt", v.created_at}, {"Driver", v.driver},          {"Labels", map_or_null(v.labels)},
          {"Mountpoint", v.mountpoint}, {"Name", v.name},             {"Options", map_or_null(v.options)},
          {"Scope", "local"}};
}

void register_volume_routes(Router& rt, Daemon&, VolumeService& svc) {
  rt.get("/volumes", [&svc](Request& req, Response& res) {
    json list = json::array();
    for (const auto& v : filtered(svc, parse_filters(req.q("filters")), {"dangling", "name", "label", "driver"}))
      list.push_back(volume_json(v));
    res.json(200, json{{"Volumes", list}, {"Warnings", nullptr}}.dump() + "\n");
  });

  rt.post("/volumes/create", [&svc](Request& req, Response& res) {
    auto body = decode_body(req, BodyType::VolumeCreate);
    std::string name = body.contains("Name") && body["Name"].is_string() ? body["Name"].get<std::string>() : "";
    std::string driver = body.contains("Driver") && body["Driver"].is_string() ? body["Driver"].get<std::string>() : "";
    if (body.contains("ClusterVolumeSpec") && !body["ClusterVolumeSpec"].is_null())
      throw InvalidArgument("cluster volumes are not supported: this node is not a swarm manager");
    auto labels = string_map(body, "Labels");
    auto options = string_map(body, "DriverOpts");
    if (name.empty()) {  // dockerd names it and labels it anonymous
      name = volumes::anonymous_volume_name();
      labels[volumes::kAnonymousLabel] = "";
    }
    auto v = svc.store().create(name, driver, labels, options);
    svc.publish("create", v.name, {{"driver", v.driver}});
    res.json(201, volume_json(v).dump() + "\n");
  });

  rt.get("/volumes/{name}", [&svc](Request& req, Response& res) {
    res.json(200, volume_json(svc.store().get(req.param("name"))).dump() + "\n");
  });

  rt.del("/volumes/{name}", [&svc](Request& req, Response& res) {
    auto name = req.param("name");
    try {
      auto v = svc.store().get(name);
      svc.store().remove(name);
      svc.publish("destroy", name, {{"driver", v.driver}});
    } catch (const NotFound&) {
      if (!req.qbool("force")) throw;
    }
    res.send(204, "");
  });

  rt.post("/volumes/prune", [&svc](Request& req, Response& res) {
    auto filters = parse_filters(req.q("filters"));
    // From API 1.42 prune takes anonymous volumes only, unless all=true; before, all of them.
    bool all = !req.version.empty() && compare_versions(req.version, "1.42") < 0;
    if (auto it = filters.find("all"); it != filters.end()) {
      const auto& v = it->second;
      if (v.size() > 1) throw invalid_filter("all", &v);
      if (v.size() == 1) {
        static const std::set<std::string> yes = {"1", "t", "T", "TRUE", "true", "True"},
                                           no = {"0", "f", "F", "FALSE", "false", "False"};
        if (yes.count(v[0])) all = true;
        else if (no.count(v[0])) all = false;
        else throw invalid_filter("all", &v);
      }
      filters.erase(it);
    }
    if (!all) filters["label"].push_back(volumes::kAnonymousLabel);
    json deleted = json::array();
    std::int64_t reclaimed = 0;
    for (const auto& v : filtered(svc, filters, {"label", "label!"})) {
      // dockerd leaves volumes with driver options (a device, a tmpfs) to be removed by name.
      if (v.driver != "local" || !v.options.empty()) continue;
      try {
        if (!svc.store().users(v.name).empty()) continue;
        auto size = volumes::VolumeStore::disk_usage(v.mountpoint);
        svc.store().remove(v.name);
        deleted.push_back(v.name);
        reclaimed += size;
      } catch (const std::exception& e) {  // in use or gone meanwhile
        log::warn("prune volume " + v.name + ": " + e.what());
      }
    }
    svc.publish("prune", "", {{"reclaimed", std::to_string(reclaimed)}});
    // dockerd's field order.
    res.json(200, "{\"VolumesDeleted\":" + deleted.dump() + ",\"SpaceReclaimed\":" + std::to_string(reclaimed) + "}\n");
  });
}

}  // namespace hoist::engine
