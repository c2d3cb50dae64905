#include "engine/build_resources.h"

#include <nlohmann/json.hpp>

#include "common/error.h"

namespace hoist::engine {

using nlohmann::json;

std::vector<BuildUlimit> BuildResources::parse_ulimits(const std::string& text) {
  std::vector<BuildUlimit> out;
  if (text.empty()) return out;
  json j = json::parse(text, nullptr, false);
  auto bad = [](const std::string& why) { return InvalidArgument("error reading ulimit settings: " + why); };
  if (j.is_discarded()) throw bad("invalid JSON");
  if (j.is_null()) return out;
  if (!j.is_array()) throw bad("json: cannot unmarshal " + std::string(j.type_name()) + " into []*units.Ulimit");
  for (const json& u : j) {
    if (u.is_null()) continue;
    if (!u.is_object()) throw bad("json: cannot unmarshal " + std::string(u.type_name()) + " into units.Ulimit");
    BuildUlimit l;
    for (auto& [k, v] : u.items()) {
      if (k == "Name") {
        if (!v.is_string()) throw bad("json: cannot unmarshal into Go struct field Ulimit.Name of type string");
        l.name = v.get<std::string>();
      } else if (k == "Soft" || k == "Hard") {
        if (!v.is_number_integer()) throw bad("json: cannot unmarshal into Go struct field Ulimit." + k + " of type int64");
        (k == "Soft" ? l.soft : l.hard) = v.get<std::int64_t>();
      }
    }
    out.push_back(l);
  }
  return out;
}

std::string step_host_config_json(const BuildResources& r) {
  json hc = json::object();
  auto num = [&](const char* key, std::int64_t v) {
    if (v != 0) hc[key] = v;
  };
  num("Memory", r.memory);
  num("MemorySwap", r.memory_swap);
  num("CpuShares", r.cpu_shares);
  num("CpuPeriod", r.cpu_period);
  num("CpuQuota", r.cpu_quota);
  num("ShmSize", r.shm_size);
  if (!r.cpuset_cpus.empty()) hc["CpusetCpus"] = r.cpuset_cpus;
  if (!r.cpuset_mems.empty()) hc["CpusetMems"] = r.cpuset_mems;
  if (!r.cgroup_parent.empty()) hc["CgroupParent"] = r.cgroup_parent;
  if (!r.ulimits.empty()) {
    json list = json::array();
    for (const BuildUlimit& u : r.ulimits) list.push_back({{"Name", u.name}, {"Soft", u.soft}, {"Hard", u.hard}});
    hc["Ulimits"] = list;
  }
  if (!r.extra_hosts.empty()) hc["ExtraHosts"] = r.extra_hosts;
  return hc.dump();
}

}  // namespace hoist::engine
