// /networks: list, inspect, create, remove, prune, connect, disconnect (Docker's API).
#include <algorithm>
#include <ctime>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/error.h"
#include "common/json.h"
#include "engine/api/request_json.h"
#include "engine/api/routes.h"
#include "engine/container_service.h"
#include "network/container_files.h"

namespace hoist::engine {

using nlohmann::json;
namespace net = hoist::network;

namespace {

json inspect_json(net::NetworkController& ctl, const net::NetworkInfo& n) {
  return net::network_json(n, ctl.endpoints_of(n.id), ctl.container_names_on(n.id));
}

bool label_match(const std::map<std::string, std::string>& labels, const std::string& v) {
  auto eq = v.find('=');
  auto it = labels.find(v.substr(0, eq));
  if (it == labels.end()) return false;
  return eq == std::string::npos || it->second == v.substr(eq + 1);
}

// Docker's network filters: driver, id, label, name, scope, type, dangling.
bool keep(const Filters& f, const net::NetworkInfo& n, bool in_use) {
  auto any = [&](const char* key, const std::function<bool(const std::string&)>& pred) {
    auto it = f.find(key);
    if (it == f.end()) return true;
    return std::any_of(it->second.begin(), it->second.end(), pred);
  };
  // Every label filter must match (dockerd's MatchKVList).
  auto all = [&](const char* key, const std::function<bool(const std::string&)>& pred) {
    auto it = f.find(key);
    return it == f.end() || std::all_of(it->second.begin(), it->second.end(), pred);
  };
  return any("driver", [&](auto& v) { return n.driver == v; }) &&
         any("id", [&](auto& v) { return n.id.find(v) != std::string::npos; }) &&
         any("name", [&](auto& v) { return n.name.find(v) != std::string::npos; }) &&
         all("label", [&](auto& v) { return label_match(n.labels, v); }) &&
         any("scope", [&](auto& v) { return v == "local"; }) &&
         any("type", [&](auto& v) { return v == (n.predefined ? "builtin" : "custom"); }) &&
         any("dangling", [&](auto& v) {
           bool d = v == "true" || v == "1";
           return d == (!n.predefined && !in_use);
         });
}

void check_filters(const Filters& f, std::initializer_list<const char*> allowed) {
  for (auto& entry : f) {
    const std::string& k = entry.first;
    if (std::none_of(allowed.begin(), allowed.end(), [&](const char* a) { return k == a; }))
      throw InvalidArgument("invalid filter '" + k + "'");
  }
  if (auto it = f.find("type"); it != f.end())
    for (auto& v : it->second)
      if (v != "custom" && v != "builtin") throw InvalidArgument("invalid filter: 'type'='" + v + "'");
  if (auto it = f.find("dangling"); it != f.end())
    for (auto& v : it->second)
      if (v != "true" && v != "false" && v != "1" && v != "0")
        throw InvalidArgument("invalid filter 'dangling=" + v + "'");
}

std::map<std::string, std::string> string_map(const json& body, const char* key) {
  std::map<std::string, std::string> m;
  if (!body.contains(key) || body[key].is_null()) return m;
  if (!body[key].is_object()) throw InvalidArgument(std::string(key) + ": an object of strings is expected");
  for (auto& [k, v] : body[key].items()) {
    if (!v.is_string()) throw InvalidArgument(std::string(key) + "[" + k + "]: a string is expected");
    m[k] = v.get<std::string>();
  }
  return m;
}

}  // namespace

// Checks a container create's network settings against the networks (dockerd's words): the
// mode's network exists, the default bridge takes no fixed address or alias.
void check_container_networks(net::NetworkController& ctl, const json& host_config, const json& endpoints) {
  auto mode_text = json_str(host_config, "NetworkMode");
  auto mode = net::parse_mode(mode_text);
  if (mode != net::Mode::Bridge) {
    if (endpoints.is_object())
      for (auto& [name, es] : endpoints.items())
        if (name != mode_text && name != "host" && name != "none")
          throw InvalidArgument("container cannot be connected to network " + name + " in network mode " + mode_text);
    return;
  }
  // A network that does not exist (yet) is dockerd's error at start, not at create.
  std::string primary = mode_text.empty() || mode_text == "default" ? "bridge" : mode_text;
  try {
    auto n = ctl.get(primary);
    if (n.driver == "host" || n.driver == "null")
      throw InvalidArgument("network mode " + primary + " names the " + n.name + " network: use --network " + n.name);
  } catch (const NotFound&) {
  }
  if (!endpoints.is_object()) return;
  for (auto& [name, es] : endpoints.items()) {
    net::NetworkInfo en;
    try {
      en = ctl.get(name);
    } catch (const NotFound&) {
      continue;
    }
    auto er = net::endpoint_request(es);
    if (en.default_bridge && er.ip) throw InvalidArgument("user specified IP address is supported on user defined networks only");
    if (en.default_bridge && !er.aliases.empty())
      throw InvalidArgument("network-scoped alias is supported only for containers in user defined networks");
    if (er.ip && en.subnet && !en.subnet->contains(*er.ip))
      throw InvalidArgument("Invalid address " + net::ipv4_str(*er.ip) + ": It does not belong to any of this network's subnets");
    if (en.driver != "bridge")
      throw InvalidArgument("container cannot be connected to network " + name + " of driver " + en.driver);
  }
}

void register_network_routes(Router& rt, ContainerService& svc) {
  auto& ctl = svc.networks();

  rt.get("/networks", [&](Request& req, Response& res) {
    auto f = parse_filters(req.q("filters"));
    check_filters(f, {"driver", "id", "label", "name", "scope", "type", "dangling"});
    json out = json::array();
    for (auto& n : ctl.list()) {
      bool in_use = !ctl.endpoints_of(n.id).empty();
      if (!keep(f, n, in_use)) continue;
      json j = net::network_json(n, {}, {});
      out.push_back(j);
    }
    res.json(200, out.dump());
  });
  rt.get("/networks/{id}", [&](Request& req, Response& res) {
    auto scope = req.q("scope");
    if (!scope.empty() && scope != "local") throw NotFound("network " + req.param("id") + " not found");
    try {
      res.json(200, inspect_json(ctl, ctl.get(req.param("id"))).dump());
    } catch (const net::AmbiguousNetwork& e) {  // dockerd's inspect words it so
      throw InvalidArgument(std::to_string(e.matches) + " matches found based on ID prefix: network " + e.ref +
                            " is ambiguous");
    }
  });
  rt.post("/networks/create", [&](Request& req, Response& res) {
    auto body = decode_body(req, BodyType::NetworkCreate, false);
    net::NetworkController::CreateRequest r;
    r.name = json_str(body, "Name");
    if (r.name.empty()) throw InvalidArgument("network name cannot be empty");
    r.driver = json_str(body, "Driver");
    if (r.driver.empty()) r.driver = "bridge";
    r.internal = json_flag(body, "Internal");
    r.attachable = json_flag(body, "Attachable");
    if (json_flag(body, "Ingress")) throw Forbidden("ingress networks need swarm mode, which Hoist does not have");
    if (json_flag(body, "ConfigOnly") || (body.contains("ConfigFrom") && body["ConfigFrom"].is_object() &&
                                          !json_str(body["ConfigFrom"], "Network").empty()))
      throw InvalidArgument("config-only networks are not supported");
    if (json_flag(body, "EnableIPv6")) throw InvalidArgument("IPv6 networks are not supported: networks are IPv4 only");
    auto scope = json_str(body, "Scope");
    if (!scope.empty() && scope != "local") throw InvalidArgument("scope " + scope + " is not supported (local only)");
    r.labels = string_map(body, "Labels");
    r.options = string_map(body, "Options");
    if (body.contains("IPAM") && body["IPAM"].is_object()) {
      auto& ipam = body["IPAM"];
      auto drv = json_str(ipam, "Driver");
      if (!drv.empty() && drv != "default") throw NotFound("plugin \"" + drv + "\" not found");
      if (!string_map(ipam, "Options").empty()) throw InvalidArgument("IPAM options are not supported");
      if (ipam.contains("Config") && ipam["Config"].is_array()) {
        if (ipam["Config"].size() > 1)
          throw InvalidArgument("one IPAM config (one IPv4 subnet) per network is supported");
        for (auto& c : ipam["Config"]) {
          r.subnet = json_str(c, "Subnet");
          r.gateway = json_str(c, "Gateway");
          r.ip_range = json_str(c, "IPRange");
          if (r.subnet.find(':') != std::string::npos)
            throw InvalidArgument("IPv6 subnets are not supported: networks are IPv4 only");
          if (!string_map(c, "AuxiliaryAddresses").empty())
            throw InvalidArgument("auxiliary addresses are not supported");
        }
      }
    }
    auto n = ctl.create(r);
    res.json(201, json{{"Id", n.id}, {"Warning", ""}}.dump());
  });
  rt.del("/networks/{id}", [&](Request& req, Response& res) {
    ctl.remove(req.param("id"));
    res.send(204, "");
  });
  rt.post("/networks/prune", [&](Request& req, Response& res) {
    auto f = parse_filters(req.q("filters"));
    check_filters(f, {"until", "label", "label!"});
    std::int64_t until = 0;
    if (auto it = f.find("until"); it != f.end() && !it->second.empty()) {
      const auto& v = it->second.front();
      try {
        until = parse_rfc3339_ns(v) / 1'000'000'000;
      } catch (const std::exception&) {
        until = static_cast<std::int64_t>(std::time(nullptr)) - parse_go_duration_ns(v) / 1'000'000'000;
      }
    }
    json deleted = json::array();
    for (auto& n : ctl.list()) {
      if (n.predefined || !ctl.endpoints_of(n.id).empty()) continue;
      if (until && parse_rfc3339_ns(n.created) / 1'000'000'000 >= until) continue;
      if (auto it = f.find("label"); it != f.end() &&
                                     !std::all_of(it->second.begin(), it->second.end(), [&](auto& v) { return label_match(n.labels, v); }))
        continue;
      if (auto it = f.find("label!"); it != f.end() &&
                                      std::any_of(it->second.begin(), it->second.end(), [&](auto& v) { return label_match(n.labels, v); }))
        continue;
      try {
        ctl.remove(n.id);
        deleted.push_back(n.name);
      } catch (const std::exception&) {  // in use by now
      }
    }
    res.json(200, json{{"NetworksDeleted", deleted}}.dump());
  });
  rt.post("/networks/{id}/connect", [&](Request& req, Response& res) {
    auto body = decode_body(req, BodyType::NetworkConnect, false);
    auto n = ctl.get(req.param("id"));
    auto c = svc.manager().inspect(json_str(body, "Container"));
    json es = body.contains("EndpointConfig") && body["EndpointConfig"].is_object() ? body["EndpointConfig"] : json::object();
    auto er = net::endpoint_request(es);
    auto mode = net::parse_mode(json_str(object_or_empty(c.host_config_json), "NetworkMode"));
    if (n.driver == "host" || n.driver == "null" || mode == net::Mode::Host || mode == net::Mode::None)
      throw Forbidden("container cannot be disconnected from host network or connected to host network");
    if (mode == net::Mode::Container) throw Forbidden("conflicting options: container type network can't be used with other networks");
    if (n.default_bridge && er.ip) throw InvalidArgument("user specified IP address is supported on user defined networks only");
    if (n.default_bridge && !er.aliases.empty())
      throw InvalidArgument("network-scoped alias is supported only for containers in user defined networks");
    auto eps = object_or_empty(c.endpoints_json);
    if (ctl.sandbox(c.id)) {
      ctl.connect(c.id, n.id, er);
    } else {
      for (auto& [name, v] : eps.items())
        if (name == n.name || name == n.id)
          throw Forbidden("endpoint with name " + c.name + " already exists in network " + n.name);
      if (er.ip && n.subnet && !n.subnet->contains(*er.ip))
        throw InvalidArgument("Invalid address " + net::ipv4_str(*er.ip) + ": It does not belong to any of this network's subnets");
    }
    eps[n.name] = es;
    svc.manager().set_endpoints(c.id, eps.dump());
    res.send(200, "");
  });
  rt.post("/networks/{id}/disconnect", [&](Request& req, Response& res) {
    auto body = decode_body(req, BodyType::NetworkConnect, false);
    auto n = ctl.get(req.param("id"));
    auto c = svc.manager().inspect(json_str(body, "Container"));
    auto mode = net::parse_mode(json_str(object_or_empty(c.host_config_json), "NetworkMode"));
    if (n.driver == "host" || n.driver == "null" || mode == net::Mode::Host)
      throw Forbidden("container cannot be disconnected from host network or connected to host network");
    auto eps = object_or_empty(c.endpoints_json);
    bool listed = false;
    for (auto it = eps.begin(); it != eps.end();) {
      if (it.key() == n.name || it.key() == n.id) {
        it = eps.erase(it);
        listed = true;
      } else {
        ++it;
      }
    }
    auto sb = ctl.sandbox(c.id);
    bool attached = sb && std::any_of(sb->endpoints.begin(), sb->endpoints.end(),
                                      [&](const net::Endpoint& e) { return e.network_id == n.id; });
    auto mode_text = json_str(object_or_empty(c.host_config_json), "NetworkMode");
    bool is_mode = (mode_text.empty() || mode_text == "default" ? "bridge" : mode_text) == n.name || mode_text == n.id;
    if (is_mode && !listed && c.network_mode_detached) is_mode = false;  // disconnected before
    if (!listed && !attached && !is_mode)
      throw Forbidden("container " + c.id + " is not connected to network " + n.name);
    if (attached) ctl.disconnect(c.id, n.id);
    // Leaving its mode's network: the next start joins it only if connected again (dockerd's).
    svc.manager().set_endpoints(c.id, eps.dump(), is_mode);
    res.send(200, "");
  });
}

}  // namespace hoist::engine
