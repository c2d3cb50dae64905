#include "engine/container_links.h"

#include <algorithm>
#include <optional>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/file.h"
#include "common/json.h"
#include "common/log.h"
#include "common/strings.h"

namespace hoist::engine {

using nlohmann::json;

namespace {

bool on_default_bridge(const std::string& mode_text) {
  return mode_text.empty() || mode_text == "default" || mode_text == "bridge";
}

std::vector<network::LinkSpec> stored_links(const json& host_config) {
  std::vector<network::LinkSpec> out;
  for (const auto& l : json_str_list(host_config, "Links").value_or(std::vector<std::string>{}))
    out.push_back(network::parse_link(l));
  return out;
}

bool running(const ContainerRecord& r) {
  return r.state == ContainerState::Running || r.state == ContainerState::Paused;
}

// The linked container as a link needs it, but its address.
network::LinkedContainer linked_info(const ContainerRecord& c) {
  network::LinkedContainer lc;
  lc.name = c.name;
  auto config = object_or_empty(c.config_json);
  lc.hostname = json_str(config, "Hostname");
  if (lc.hostname.empty()) lc.hostname = c.id.substr(0, 12);
  lc.env = json_str_list(config, "Env").value_or(std::vector<std::string>{});
  if (config.contains("ExposedPorts") && config["ExposedPorts"].is_object())
    for (auto& [key, v] : config["ExposedPorts"].items()) lc.ports.push_back(network::parse_port_key(key));
  return lc;
}

// ... with its address; Error when it is not on the default bridge.
network::LinkedContainer linked_of(network::NetworkController& ctl, const ContainerRecord& c) {
  auto lc = linked_info(c);
  auto bridge = ctl.get("bridge").id;
  if (auto sb = ctl.sandbox(c.id))
    for (auto& e : sb->endpoints)
      if (e.network_id == bridge) lc.ip = network::ipv4_str(e.address);
  if (lc.ip.empty()) throw Error("container " + c.id + " not attached to default bridge network");  // dockerd's words
  return lc;
}

// Rewrites the linking container's /etc/hosts in place (it is bound into the container): each
// line naming `names` gets `address`, or goes when `address` is empty.
void edit_hosts(const std::string& path, const std::string& names, const std::string& address) {
  std::string text;
  try {
    text = read_file(path);
  } catch (const Error&) {
    return;
  }
  std::string out;
  bool changed = false;
  for (auto& line : split(text, '\n')) {
    auto tab = line.find('\t');
    if (tab != std::string::npos && line.substr(tab + 1) == names) {
      changed = true;
      if (address.empty()) continue;
      out += address + "\t" + names + "\n";
      continue;
    }
    out += line + "\n";
  }
  while (out.size() >= 2 && out.compare(out.size() - 2, 2, "\n\n") == 0) out.pop_back();
  if (changed) write_file(path, out);
}

}  // namespace

void check_create_links(ContainerManager& m, json& host_config) {
  auto given = json_str_list(host_config, "Links");
  if (!given || given->empty()) return;
  auto mode_text = json_str(host_config, "NetworkMode");
  auto mode = network::parse_mode(mode_text);
  if (mode == network::Mode::Bridge && !on_default_bridge(mode_text)) {
    // On a user-defined network they are not kept (its endpoint's Links are the links there).
    host_config["Links"] = nullptr;
    return;
  }
  if (mode == network::Mode::Host)
    throw InvalidArgument("conflicting options: host type networking can't be used with links. This would result "
                          "in undefined behavior");
  if (mode == network::Mode::Container)
    throw InvalidArgument("conflicting options: container type network can't be used with links. This would "
                          "result in undefined behavior");
  std::vector<std::string> kept, aliases;
  for (const auto& l : *given) {
    auto spec = network::parse_link(l);
    ContainerRecord c;
    try {
      c = m.inspect(spec.name);
    } catch (const NotFound& e) {
      throw InvalidArgument("could not get container for " + spec.name + ": " + e.what());
    }
    if (std::find(aliases.begin(), aliases.end(), spec.alias) != aliases.end()) continue;
    aliases.push_back(spec.alias);
    kept.push_back(c.name + ":" + spec.alias);
  }
  host_config["Links"] = kept;
}

json links_view(const std::string& linking_name, const json& host_config) {
  json out = json::array();
  for (auto& l : stored_links(host_config)) out.push_back("/" + l.name + ":/" + linking_name + "/" + l.alias);
  return out.empty() ? json(nullptr) : out;
}

StartLinks start_links(ContainerManager& m, network::NetworkController& ctl, const ContainerRecord& r) {
  StartLinks out;
  auto hc = object_or_empty(r.host_config_json);
  auto mode_text = json_str(hc, "NetworkMode");
  if (network::parse_mode(mode_text) != network::Mode::Bridge || !on_default_bridge(mode_text)) return out;
  for (auto& l : stored_links(hc)) {
    if (l.name == r.name) throw Error("cannot link /" + r.name + " to itself");  // (its entry is locked)
    ContainerRecord c;
    try {
      c = m.inspect(l.name);
    } catch (const NotFound& e) {
      throw Error("could not get container for " + l.name + ": " + e.what());
    }
    if (!running(c)) throw Error("Cannot link to a non running container: /" + c.name + " AS /" + r.name + "/" + l.alias);
    auto lc = linked_of(ctl, c);
    out.hosts.push_back(network::link_host_entry(l.alias, lc));
    auto env = network::link_env(r.name, l.alias, lc);
    out.env.insert(out.env.end(), env.begin(), env.end());
  }
  return out;
}

void refresh_linking_hosts(ContainerManager& m, network::NetworkController& ctl, const ContainerRecord& linked) {
  std::optional<network::LinkedContainer> lc;
  for (auto& r : m.list()) {
    if (!running(r) || r.id == linked.id) continue;
    if (r.host_config_json.find("\"Links\":[") == std::string::npos) continue;  // most have none: no parse
    auto hc = object_or_empty(r.host_config_json);
    if (!on_default_bridge(json_str(hc, "NetworkMode"))) continue;
    for (auto& l : stored_links(hc)) {
      if (l.name != linked.name) continue;
      try {
        if (!lc) lc = linked_of(ctl, linked);
      } catch (const Error&) {
        return;  // no longer on the default bridge: the lines stay as they were (as dockerd)
      }
      auto entry = network::link_host_entry(l.alias, *lc);
      edit_hosts(m.container_dir(r.id) + "/hosts", entry.name, entry.address);
    }
  }
}

void rename_links(ContainerManager& m, const std::string& old_name, const std::string& new_name) {
  for (auto& r : m.list()) {
    if (r.host_config_json.find("\"Links\":[") == std::string::npos) continue;
    auto hc = object_or_empty(r.host_config_json);
    json links = json::array();
    bool changed = false;
    for (auto& l : stored_links(hc)) {
      if (l.name == old_name) {
        l.name = new_name;
        changed = true;
      }
      links.push_back(l.name + ":" + l.alias);
    }
    if (!changed) continue;
    hc["Links"] = links;
    try {
      m.set_host_config(r.id, hc.dump());
    } catch (const NotFound&) {  // removed meanwhile
    }
  }
}

std::optional<std::string> link_target(const std::string& host_config_json, const std::string& alias) {
  if (host_config_json.find("\"Links\":[") == std::string::npos) return std::nullopt;  // most have none
  for (auto& l : stored_links(object_or_empty(host_config_json)))
    if (l.alias == alias) return l.name;
  return std::nullopt;
}

std::map<std::string, std::vector<std::string>> link_names(const std::vector<ContainerRecord>& all) {
  std::map<std::string, std::vector<std::string>> out;
  for (auto& r : all) {
    if (r.host_config_json.find("\"Links\":[") == std::string::npos) continue;
    for (auto& l : stored_links(object_or_empty(r.host_config_json)))
      out[l.name].push_back("/" + r.name + "/" + l.alias);
  }
  for (auto& [name, names] : out) std::sort(names.begin(), names.end());
  return out;
}

void remove_link(ContainerManager& m, const std::string& name_in) {
  std::string name = name_in;
  if (!name.empty() && name.front() == '/') name.erase(0, 1);
  auto slash = name.rfind('/');
  if (slash == std::string::npos) {
    m.inspect(name);  // No such container
    throw Error("Conflict, cannot remove the default link name of the container");
  }
  std::string linking = name.substr(0, slash), alias = name.substr(slash + 1);
  ContainerRecord r;
  try {
    r = m.inspect(linking);
  } catch (const NotFound&) {
    throw NotFound("No such container: " + name);
  }
  if (r.name != linking) throw NotFound("No such container: " + name);  // names, not ids or prefixes
  auto hc = object_or_empty(r.host_config_json);
  json kept = json::array();
  std::optional<network::LinkSpec> gone;
  for (auto& l : stored_links(hc)) {
    if (!gone && l.alias == alias) gone = l;
    else kept.push_back(l.name + ":" + l.alias);
  }
  if (!gone) throw NotFound("No such container: " + name);
  hc["Links"] = kept.empty() ? json(nullptr) : kept;
  m.set_host_config(r.id, hc.dump());
  if (!running(r)) return;
  try {  // its /etc/hosts line goes too
    auto entry = network::link_host_entry(alias, linked_info(m.inspect(gone->name)));
    edit_hosts(m.container_dir(r.id) + "/hosts", entry.name, "");
  } catch (const Error& e) {
    log::debug("rm --link /" + linking + "/" + alias + ": " + e.what());
  }
}

}  // namespace hoist::engine
