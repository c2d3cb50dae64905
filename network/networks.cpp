#include "network/networks.h"

#include <dirent.h>
#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/error.h"
#include "common/file.h"
#include "common/json.h"
#include "common/log.h"
#include "common/strings.h"
#include "network/links.h"

namespace hoist::network {

using nlohmann::json;

namespace {

std::string random_hex(std::size_t n) {
  unsigned char b[32];
  std::size_t got = 0;
  while (got < sizeof b) {
    ssize_t r = ::getrandom(b + got, sizeof b - got, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      throw_sys("getrandom");
    }
    got += static_cast<std::size_t>(r);
  }
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (std::size_t i = 0; i < n && i / 2 < sizeof b; ++i) s += hex[(i % 2 == 0 ? b[i / 2] >> 4 : b[i / 2]) & 15];
  return s;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

json str_map(const std::map<std::string, std::string>& m) {
  json j = json::object();
  for (auto& [k, v] : m) j[k] = v;
  return j;
}

std::map<std::string, std::string> map_of(const json& j) {
  std::map<std::string, std::string> m;
  if (j.is_object())
    for (auto& [k, v] : j.items())
      if (v.is_string()) m[k] = v.get<std::string>();
  return m;
}

std::vector<std::string> str_vec(const json& j) {
  std::vector<std::string> v;
  if (j.is_array())
    for (auto& e : j)
      if (e.is_string()) v.push_back(e.get<std::string>());
  return v;
}

json network_to_json(const NetworkInfo& n) {
  json j = {{"id", n.id},         {"name", n.name},         {"driver", n.driver},
            {"created", n.created}, {"bridge", n.bridge},   {"gateway", ipv4_str(n.gateway)},
            {"internal", n.internal}, {"attachable", n.attachable}, {"masquerade", n.masquerade}, {"icc", n.icc},
            {"predefined", n.predefined}, {"default_bridge", n.default_bridge}, {"mtu", n.mtu},
            {"labels", str_map(n.labels)}, {"options", str_map(n.options)}};
  if (n.subnet) j["subnet"] = n.subnet->str();
  if (n.ip_range) j["ip_range"] = n.ip_range->str();
  return j;
}

NetworkInfo network_from_json(const json& j) {
  NetworkInfo n;
  n.id = json_str(j, "id");
  n.name = json_str(j, "name");
  n.driver = json_str(j, "driver");
  n.created = json_str(j, "created");
  n.bridge = json_str(j, "bridge");
  if (j.contains("subnet")) n.subnet = Subnet::parse(json_str(j, "subnet"));
  if (j.contains("ip_range")) n.ip_range = Subnet::parse(json_str(j, "ip_range"));
  n.gateway = parse_ipv4(json_str(j, "gateway")).value_or(0);
  n.internal = json_flag(j, "internal");
  n.attachable = json_flag(j, "attachable");
  n.masquerade = j.value("masquerade", true);
  n.icc = j.value("icc", true);
  n.predefined = json_flag(j, "predefined");
  n.default_bridge = json_flag(j, "default_bridge");
  n.mtu = static_cast<int>(json_num(j, "mtu", 1500));
  n.labels = map_of(j.value("labels", json::object()));
  n.options = map_of(j.value("options", json::object()));
  return n;
}

json sandbox_to_json(const Sandbox& sb) {
  json eps = json::array();
  for (auto& e : sb.endpoints) {
    json je = {{"network_id", e.network_id}, {"network_name", e.network_name}, {"endpoint_id", e.endpoint_id},
               {"ifname", e.ifname},         {"host_ifname", e.host_ifname},   {"address", ipv4_str(e.address)},
               {"gateway", ipv4_str(e.gateway)}, {"prefix", e.prefix},         {"mac", e.mac},
               {"aliases", e.aliases},       {"dns_names", e.dns_names}};
    if (e.requested_ip) je["requested_ip"] = ipv4_str(*e.requested_ip);
    if (!e.links.empty()) je["links"] = e.links;
    eps.push_back(je);
  }
  json ports = json::array();
  for (auto& p : sb.ports)
    ports.push_back({{"proto", p.proto}, {"container_port", p.container_port}, {"host_ip", ipv4_str(p.host_ip)},
                     {"host_port", p.host_port}});
  return {{"container_id", sb.container_id}, {"container_name", sb.container_name}, {"hostname", sb.hostname},
          {"netns_path", sb.netns_path},     {"sandbox_id", sb.sandbox_id},         {"mode", sb.mode},
          {"user_dns", sb.user_dns},         {"dns_servers", sb.dns_servers},       {"endpoints", eps},
          {"ports", ports}};
}

Sandbox sandbox_from_json(const json& j) {
  Sandbox sb;
  sb.container_id = json_str(j, "container_id");
  sb.container_name = json_str(j, "container_name");
  sb.hostname = json_str(j, "hostname");
  sb.netns_path = json_str(j, "netns_path");
  sb.sandbox_id = json_str(j, "sandbox_id");
  sb.mode = json_str(j, "mode");
  sb.user_dns = json_flag(j, "user_dns");
  sb.dns_servers = str_vec(j.value("dns_servers", json::array()));
  if (j.contains("endpoints") && j["endpoints"].is_array())
    for (auto& je : j["endpoints"]) {
      Endpoint e;
      e.network_id = json_str(je, "network_id");
      e.network_name = json_str(je, "network_name");
      e.endpoint_id = json_str(je, "endpoint_id");
      e.ifname = json_str(je, "ifname");
      e.host_ifname = json_str(je, "host_ifname");
      e.address = parse_ipv4(json_str(je, "address")).value_or(0);
      e.gateway = parse_ipv4(json_str(je, "gateway")).value_or(0);
      e.prefix = static_cast<int>(json_num(je, "prefix"));
      e.mac = json_str(je, "mac");
      e.aliases = str_vec(je.value("aliases", json::array()));
      e.dns_names = str_vec(je.value("dns_names", json::array()));
      if (je.contains("requested_ip")) e.requested_ip = parse_ipv4(json_str(je, "requested_ip"));
      if (je.contains("links") && je["links"].is_array())
        for (auto& l : je["links"])
          if (l.is_array() && l.size() == 2 && l[0].is_string() && l[1].is_string())
            e.links.emplace_back(l[0].get<std::string>(), l[1].get<std::string>());
      sb.endpoints.push_back(std::move(e));
    }
  if (j.contains("ports") && j["ports"].is_array())
    for (auto& jp : j["ports"]) {
      BoundPort p;
      p.proto = json_str(jp, "proto");
      p.container_port = static_cast<std::uint16_t>(json_num(jp, "container_port"));
      p.host_ip = parse_ipv4(json_str(jp, "host_ip")).value_or(0);
      p.host_port = static_cast<std::uint16_t>(json_num(jp, "host_port"));
      sb.ports.push_back(p);
    }
  return sb;
}

std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (auto* de = ::readdir(d)) {
    std::string n = de->d_name;
    if (n != "." && n != "..") out.push_back(n);
  }
  ::closedir(d);
  return out;
}

bool valid_device_name(const std::string& n) {
  if (n.empty() || n.size() > 15) return false;
  for (char c : n)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.') return false;
  return true;
}

bool parse_bool_option(const std::string& key, const std::string& v) {
  if (v == "true" || v == "1" || v == "t" || v == "T" || v == "TRUE" || v == "True") return true;
  if (v == "false" || v == "0" || v == "f" || v == "F" || v == "FALSE" || v == "False") return false;
  throw InvalidArgument("failed to parse " + key + " value: " + v + " (strconv.ParseBool: parsing \"" + v + "\": invalid syntax)");
}

}  // namespace

EndpointRequest endpoint_request(const json& es) {
  EndpointRequest er;
  if (!es.is_object()) return er;
  if (es.contains("IPAMConfig") && es["IPAMConfig"].is_object()) {
    auto ip = json_str(es["IPAMConfig"], "IPv4Address");
    if (!ip.empty()) {
      er.ip = parse_ipv4(ip);
      if (!er.ip) throw InvalidArgument("invalid IPv4 address: " + ip);
    }
    if (!json_str(es["IPAMConfig"], "IPv6Address").empty())
      throw InvalidArgument("IPv6 addresses are not supported: networks are IPv4 only");
  }
  er.aliases = json_str_list(es, "Aliases").value_or(std::vector<std::string>{});
  er.mac = json_str(es, "MacAddress");
  er.links = json_str_list(es, "Links").value_or(std::vector<std::string>{});
  for (auto& l : er.links) parse_link(l);
  return er;
}

std::string mac_for(std::uint32_t ip) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "02:42:%02x:%02x:%02x:%02x", (ip >> 24) & 255, (ip >> 16) & 255, (ip >> 8) & 255,
                ip & 255);
  return buf;
}

// What the embedded DNS reads: a copy of the sandboxes and network names, swapped whole after
// each change, so that its thread never waits for the controller's lock (which is held while
// DNS sockets are added or removed).
struct DnsView {
  std::map<std::string, Sandbox> boxes;
  std::map<std::string, std::pair<std::string, bool>> nets;  // id → name, default bridge
};

struct NetworkController::State {
  ControllerOptions o;
  std::mutex view_mu;
  std::shared_ptr<const DnsView> view = std::make_shared<DnsView>();
  std::atomic<std::uint64_t> generation{0};
  void publish_view() {
    ++generation;
    auto v = std::make_shared<DnsView>();
    v->boxes = boxes;
    for (auto& [id, n] : nets) v->nets[id] = {n.name, n.default_bridge};
    std::lock_guard lk(view_mu);
    view = std::move(v);
  }
  std::shared_ptr<const DnsView> current_view() {
    std::lock_guard lk(view_mu);
    return view;
  }
  std::unique_ptr<DataPlane> plane;
  Ipam ipam;
  mutable std::recursive_mutex mu;
  std::map<std::string, NetworkInfo> nets;  // by id
  std::map<std::string, Sandbox> boxes;     // by container id

  State(ControllerOptions opts, std::unique_ptr<DataPlane> p)
      : o(std::move(opts)), plane(std::move(p)), ipam(o.state_dir + "/ipam.json") {}

  std::string net_file(const std::string& id) const { return o.state_dir + "/networks/" + id + ".json"; }
  std::string box_file(const std::string& cid) const { return o.state_dir + "/sandboxes/" + cid + ".json"; }
  void save_net(const NetworkInfo& n) const { write_file_atomic(net_file(n.id), dump_json(network_to_json(n)), 0600); }
  void save_box(const Sandbox& sb) const {
    write_file_atomic(box_file(sb.container_id), dump_json(sandbox_to_json(sb)), 0600, false);
  }
  void drop_box_file(const std::string& cid) const { ::unlink(box_file(cid).c_str()); }

  void event(const std::string& action, const NetworkInfo& n, const std::string& cid) const {
    if (!o.on_event) return;
    try {
      o.on_event(action, n, cid);
    } catch (...) {
    }
  }

  const NetworkInfo* find(const std::string& ref) const {
    if (auto it = nets.find(ref); it != nets.end()) return &it->second;
    for (auto& [id, n] : nets)
      if (n.name == ref) return &n;
    const NetworkInfo* hit = nullptr;
    std::size_t matches = 0;
    if (!ref.empty())
      for (auto& [id, n] : nets)
        if (id.compare(0, ref.size(), ref) == 0) {
          hit = &n;
          ++matches;
        }
    if (matches > 1)
      throw AmbiguousNetwork(ref, matches);
    return hit;
  }
  const NetworkInfo& get(const std::string& ref) const {
    auto* n = find(ref);
    if (!n) throw NotFound("network " + ref + " not found");
    return *n;
  }
  const NetworkInfo* default_bridge() const {
    for (auto& [id, n] : nets)
      if (n.default_bridge) return &n;
    return nullptr;
  }

  std::vector<Subnet> used_subnets(bool with_host_routes) const {
    std::vector<Subnet> used;
    for (auto& [id, n] : nets)
      if (n.subnet) used.push_back(*n.subnet);
    if (with_host_routes)
      for (auto& r : plane->host_routes())
        if (std::none_of(used.begin(), used.end(), [&](const Subnet& s) { return s == r; })) used.push_back(r);
    return used;
  }

  NatRules nat_rules() const {
    NatRules r;
    for (auto& [id, n] : nets)
      if (n.driver == "bridge" && n.subnet) {
        NatNetwork nn{n.bridge, *n.subnet, n.internal, n.masquerade, n.icc, {}};
        if (!n.icc)
          for (auto& [cid, sb] : boxes)
            for (auto& e : sb.endpoints)
              if (e.network_id == id) nn.ports.push_back(e.host_ifname);
        r.networks.push_back(std::move(nn));
      }
    for (auto& [cid, sb] : boxes) {
      if (sb.endpoints.empty()) continue;
      auto& ep = sb.endpoints.front();
      auto it = nets.find(ep.network_id);
      if (it == nets.end() || it->second.internal) continue;
      for (auto& p : sb.ports)
        r.ports.push_back({p.proto, p.host_ip, p.host_port, ep.address, p.container_port, it->second.bridge});
    }
    return r;
  }
  void apply_nat() { plane->apply_nat(nat_rules()); }

  void bring_up(const NetworkInfo& n) {
    if (n.driver != "bridge" || !n.subnet) return;
    plane->ensure_bridge({n.bridge, *n.subnet, n.gateway, n.mtu});
    // Published ports reached on 127.0.0.1 are DNAT'ed out of this bridge with a loopback source.
    plane->set_sysctl("net/ipv4/conf/" + n.bridge + "/route_localnet", "1");
  }

  std::vector<std::string> dns_names(const NetworkInfo& n, const std::string& cid, const std::string& name,
                                     const std::vector<std::string>& aliases) const {
    if (n.default_bridge) return {};  // as Docker: no names on the default bridge
    std::vector<std::string> v;
    if (!name.empty()) v.push_back(name);
    for (auto& a : aliases) v.push_back(a);
    v.push_back(cid.substr(0, 12));
    return v;
  }

  // Adds an endpoint on `n` to the sandbox (its netns must exist). All or nothing.
  Endpoint add_endpoint(Sandbox& sb, const NetworkInfo& n, const EndpointRequest& req, bool primary) {
    if (n.driver != "bridge" || !n.subnet)
      throw InvalidArgument("container cannot be connected to network " + n.name + " of driver " + n.driver);
    for (auto& e : sb.endpoints)
      if (e.network_id == n.id)
        throw Forbidden("endpoint with name " + sb.container_name + " already exists in network " + n.name);
    if (n.default_bridge && req.ip)
      throw InvalidArgument("user specified IP address is supported on user defined networks only");
    if (n.default_bridge && !req.aliases.empty())
      throw InvalidArgument("network-scoped alias is supported only for containers in user defined networks");
    if (req.ip && !n.subnet->contains(*req.ip))
      throw InvalidArgument("Invalid address " + ipv4_str(*req.ip) + ": It does not belong to any of this network's subnets");
    Endpoint e;
    e.network_id = n.id;
    e.network_name = n.name;
    e.endpoint_id = random_hex(64);
    e.requested_ip = req.ip;
    e.aliases = req.aliases;
    int idx = 0;
    for (;; ++idx) {
      std::string cand = "eth" + std::to_string(idx);
      if (std::none_of(sb.endpoints.begin(), sb.endpoints.end(), [&](const Endpoint& x) { return x.ifname == cand; }))
        break;
    }
    e.ifname = "eth" + std::to_string(idx);
    e.host_ifname = "veth" + random_hex(7);
    e.prefix = n.subnet->prefix;
    e.gateway = n.internal ? 0 : n.gateway;
    e.dns_names = dns_names(n, sb.container_id, sb.container_name, req.aliases);
    if (!n.default_bridge)  // dockerd: on the default bridge they are /etc/hosts lines instead
      for (auto& l : req.links) {
        auto spec = parse_link(l);
        e.links.emplace_back(spec.alias, spec.name);
      }
    try {
      e.address = ipam.allocate(n.id, sb.container_id, req.ip);
    } catch (const Conflict&) {
      throw Forbidden("Address already in use");
    }
    e.mac = req.mac.empty() ? mac_for(e.address) : req.mac;
    VethConfig vc;
    vc.bridge = n.bridge;
    vc.host_name = e.host_ifname;
    vc.netns_path = sb.netns_path;
    vc.container_name = e.ifname;
    vc.address = e.address;
    vc.prefix = e.prefix;
    if (primary && !n.internal) vc.gateway = n.gateway;
    vc.mac = e.mac;
    vc.mtu = n.mtu;
    try {
      plane->add_veth(vc);
    } catch (...) {
      ipam.release(n.id, e.address);
      throw;
    }
    return e;
  }

  void drop_endpoint(const Sandbox& sb, const Endpoint& e, bool delete_link) {
    if (delete_link) {
      try {
        plane->delete_link_in_netns(sb.netns_path, e.ifname);
      } catch (const std::exception& ex) {
        log::warn("network: " + std::string(ex.what()));
      }
    }
    try {
      ipam.release(e.network_id, e.address);
    } catch (...) {
    }
  }

  // Tears a sandbox down: DNS, ports, netns (and the container ends of its veths), leases.
  void teardown(const Sandbox& sb) {
    if (sb.user_dns) plane->dns_remove(sb.container_id);
    for (auto& p : sb.ports) plane->release_port(p.proto, p.host_ip, p.host_port);
    try {
      if (!sb.netns_path.empty()) plane->remove_netns(sb.netns_path);
    } catch (const std::exception& ex) {
      log::warn("network: " + std::string(ex.what()));
    }
    // The veth pairs go with the namespace: once its mount, its processes and our DNS sockets
    // in it are gone, the kernel deletes them (asynchronously; deleting them here would cost a
    // synchronous RCU grace period, ~10 ms, on every container's exit).
    for (auto& e : sb.endpoints) drop_endpoint(sb, e, false);
  }

  // Whether one of the sandbox's endpoints is on a network with icc off (the rules list its port).
  bool on_no_icc_network(const Sandbox& sb) const {
    for (auto& e : sb.endpoints)
      if (auto it = nets.find(e.network_id); it != nets.end() && !it->second.icc) return true;
    return false;
  }

  bool on_user_network(const Sandbox& sb) const {
    for (auto& e : sb.endpoints)
      if (auto it = nets.find(e.network_id); it != nets.end() && !it->second.default_bridge) return true;
    return false;
  }
};

NetworkController::NetworkController(ControllerOptions opts, std::unique_ptr<DataPlane> plane)
    : s_(std::make_unique<State>(std::move(opts), std::move(plane))) {}

NetworkController::~NetworkController() = default;

void NetworkController::release_except(const std::set<std::string>& live) {
  std::vector<std::string> gone;
  {
    std::lock_guard lk(s_->mu);
    for (auto& [cid, sb] : s_->boxes)
      if (!live.count(cid)) gone.push_back(cid);
  }
  for (auto& cid : gone) release(cid);
}

void NetworkController::start() {
  auto& s = *s_;
  std::lock_guard lk(s.mu);
  mkdir_all(s.o.state_dir + "/networks", 0700);
  mkdir_all(s.o.state_dir + "/sandboxes", 0700);
  mkdir_all(s.o.netns_dir, 0700);
  for (auto& name : list_dir(s.o.state_dir + "/networks")) {
    if (name.size() < 6 || name.compare(name.size() - 5, 5, ".json") != 0) continue;
    try {
      auto n = network_from_json(parse_json(read_file(s.o.state_dir + "/networks/" + name), name));
      if (!n.id.empty()) s.nets[n.id] = n;
    } catch (const std::exception& ex) {
      log::warn("network: " + std::string(ex.what()));
    }
  }
  // The predefined networks.
  auto predefined = [&](const std::string& name, const std::string& driver) -> NetworkInfo* {
    for (auto& [id, n] : s.nets)
      if (n.predefined && n.name == name) return &n;
    NetworkInfo n;
    n.id = random_hex(64);
    n.name = name;
    n.driver = driver;
    n.created = now_rfc3339();
    n.predefined = true;
    s.nets[n.id] = n;
    return &s.nets[n.id];
  };
  predefined("host", "host");
  predefined("none", "null");
  NetworkInfo* br = predefined("bridge", "bridge");
  br->default_bridge = true;
  bool re_pool = false;
  if (br->bridge != s.o.bridge_name) {
    br->bridge = s.o.bridge_name;
    re_pool = true;
  }
  if (s.o.bip_subnet && (!br->subnet || !(*br->subnet == *s.o.bip_subnet) || br->gateway != s.o.bip_gateway)) {
    br->subnet = s.o.bip_subnet;
    br->gateway = s.o.bip_gateway;
    re_pool = true;
  }
  if (!br->subnet) {
    std::vector<Subnet> used;
    for (auto& [id, n] : s.nets)
      if (n.subnet && id != br->id) used.push_back(*n.subnet);
    for (auto& r : s.plane->host_routes()) used.push_back(r);
    auto sub = choose_subnet(s.o.pools.empty() ? default_pools() : s.o.pools, used);
    if (!sub) throw Error("could not find an available, non-overlapping IPv4 address pool for the default bridge");
    br->subnet = *sub;
    br->gateway = sub->base + 1;
    re_pool = true;
  }
  br->mtu = s.o.mtu;
  br->icc = s.o.icc;
  br->options = {{"com.docker.network.bridge.default_bridge", "true"},
                 {"com.docker.network.bridge.enable_icc", s.o.icc ? "true" : "false"},
                 {"com.docker.network.bridge.enable_ip_masquerade", "true"},
                 {"com.docker.network.bridge.host_binding_ipv4", "0.0.0.0"},
                 {"com.docker.network.bridge.name", br->bridge},
                 {"com.docker.network.driver.mtu", std::to_string(br->mtu)}};
  if (re_pool && s.ipam.has_network(br->id)) s.ipam.remove_network(br->id);
  for (auto& [id, n] : s.nets) s.save_net(n);
  for (auto& [id, n] : s.nets)
    if (n.driver == "bridge" && n.subnet && !s.ipam.has_network(id)) s.ipam.add_network(id, *n.subnet, n.gateway, n.ip_range);

  s.plane->set_sysctl("net/ipv4/ip_forward", "1");
  for (auto& [id, n] : s.nets) {
    try {
      s.bring_up(n);
    } catch (const std::exception& ex) {
      log::warn("network " + n.name + ": " + ex.what());
    }
  }
  // Sandboxes: those of live containers stay (their ports are held again), the rest go.
  for (auto& name : list_dir(s.o.state_dir + "/sandboxes")) {
    if (name.size() < 6 || name.compare(name.size() - 5, 5, ".json") != 0) continue;
    std::string cid = name.substr(0, name.size() - 5);
    Sandbox sb;
    try {
      sb = sandbox_from_json(parse_json(read_file(s.o.state_dir + "/sandboxes/" + name), name));
    } catch (const std::exception& ex) {
      log::warn("network: " + std::string(ex.what()));
      ::unlink((s.o.state_dir + "/sandboxes/" + name).c_str());
      continue;
    }
    bool alive = sb.netns_path.empty() || s.plane->is_netns(sb.netns_path);
    if (!alive) {
      s.teardown(sb);
      s.drop_box_file(cid);
      continue;
    }
    std::vector<BoundPort> kept;
    for (auto& p : sb.ports) {
      try {
        s.plane->reserve_port(p.proto, p.host_ip, p.host_port);
        kept.push_back(p);
      } catch (const std::exception& ex) {
        log::warn("container " + cid.substr(0, 12) + ": port " + std::to_string(p.host_port) + ": " + ex.what());
        kept.push_back(p);  // the rule stays: connections still reach the container
      }
    }
    sb.ports = kept;
    if (sb.user_dns) {
      try {
        s.plane->dns_add(cid, sb.netns_path, sb.dns_servers);
      } catch (const std::exception& ex) {
        log::warn("container " + cid.substr(0, 12) + ": dns: " + ex.what());
      }
    }
    s.boxes[cid] = sb;
  }
  // Leases of containers that have no sandbox (an attach cut short), namespaces likewise.
  for (auto& [id, n] : s.nets) {
    if (!s.ipam.has_network(id)) continue;
    for (auto& [ip, owner] : s.ipam.leases(id))
      if (!owner.empty() && !s.boxes.count(owner)) s.ipam.release(id, ip);
  }
  std::set<std::string> kept_ns;
  for (auto& [cid, sb] : s.boxes) kept_ns.insert(sb.netns_path);
  for (auto& name : list_dir(s.o.netns_dir)) {
    std::string p = s.o.netns_dir + "/" + name;
    if (!kept_ns.count(p)) {
      try {
        s.plane->remove_netns(p);
      } catch (const std::exception& ex) {
        log::warn("network: " + std::string(ex.what()));
      }
    }
  }
  s.publish_view();
  s.apply_nat();
}

NetworkInfo NetworkController::create(const CreateRequest& r) {
  auto& s = *s_;
  std::lock_guard lk(s.mu);
  if (r.name.empty()) throw InvalidArgument("network name cannot be empty");
  if (r.driver == "host" || r.driver == "null")
    throw Forbidden("only one instance of \"" + r.driver + "\" network is allowed");
  if (r.driver != "bridge" && !r.driver.empty()) throw NotFound("plugin \"" + r.driver + "\" not found");
  for (auto& [id, n] : s.nets)
    if (n.name == r.name) {
      if (n.predefined) throw Forbidden("operation is not permitted on predefined " + r.name + " network ");
      throw Conflict("network with name " + r.name + " already exists");
    }
  NetworkInfo n;
  n.id = random_hex(64);
  n.name = r.name;
  n.driver = "bridge";
  n.created = now_rfc3339();
  n.internal = r.internal;
  n.attachable = r.attachable;
  n.labels = r.labels;
  n.options = r.options;
  n.bridge = s.o.bridge_prefix + n.id.substr(0, 12);
  n.mtu = s.o.mtu;
  for (auto& [k, v] : r.options) {
    if (k == "com.docker.network.bridge.name") {
      if (!valid_device_name(v)) throw InvalidArgument("invalid bridge name \"" + v + "\": at most 15 letters, digits, '_', '-' or '.'");
      n.bridge = v;
    } else if (k == "com.docker.network.driver.mtu") {
      long long m = 0;
      try {
        m = parse_int(v, "mtu");
      } catch (const std::exception&) {
        throw InvalidArgument("invalid mtu \"" + v + "\": strconv.Atoi: parsing \"" + v + "\": invalid syntax");
      }
      if (m < 68 || m > 65535) throw InvalidArgument("invalid mtu " + v + ": it must be from 68 to 65535");
      n.mtu = static_cast<int>(m);
    } else if (k == "com.docker.network.bridge.enable_ip_masquerade") {
      n.masquerade = parse_bool_option(k, v);
    } else if (k == "com.docker.network.bridge.enable_icc") {
      n.icc = parse_bool_option(k, v);
    } else if (k.rfind("com.docker.network.", 0) != 0) {
      // Not an option of Docker's bridge driver: kept and shown by inspect, as dockerd does.
    } else {
      throw InvalidArgument("network option " + k + " is not supported (supported: com.docker.network.bridge.name, "
                            "com.docker.network.driver.mtu, com.docker.network.bridge.enable_ip_masquerade, "
                            "com.docker.network.bridge.enable_icc)");
    }
  }
  for (auto& [id, o] : s.nets)
    if (o.driver == "bridge" && o.bridge == n.bridge)
      throw Conflict("bridge device " + n.bridge + " is already used by network " + o.name);
  if (!r.subnet.empty()) {
    n.subnet = Subnet::parse(r.subnet);
    for (auto& [id, o] : s.nets)
      if (o.subnet && o.subnet->overlaps(*n.subnet))
        throw Forbidden("invalid pool request: Pool overlaps with other one on this address space");
  } else {
    if (!r.gateway.empty() || !r.ip_range.empty())
      throw InvalidArgument("no matching subnet for " + std::string(r.gateway.empty() ? "range " + r.ip_range : "gateway " + r.gateway));
    auto sub = choose_subnet(s.o.pools.empty() ? default_pools() : s.o.pools, s.used_subnets(true));
    if (!sub) throw Forbidden("could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network");
    n.subnet = *sub;
  }
  if (!r.gateway.empty()) {
    auto g = parse_ipv4(r.gateway);
    if (!g) throw InvalidArgument("invalid gateway address " + r.gateway);
    if (!n.subnet->contains(*g)) throw InvalidArgument("no matching subnet for gateway " + r.gateway);
    n.gateway = *g;
  } else {
    n.gateway = n.subnet->base + 1;
  }
  if (!r.ip_range.empty()) {
    n.ip_range = Subnet::parse(r.ip_range);
    if (!n.subnet->contains(n.ip_range->base) || !n.subnet->contains(n.ip_range->last()))
      throw InvalidArgument("no matching subnet for range " + r.ip_range);
  }
  s.ipam.add_network(n.id, *n.subnet, n.gateway, n.ip_range);
  try {
    s.bring_up(n);
    s.nets[n.id] = n;
    s.publish_view();
    s.save_net(n);
    s.apply_nat();
  } catch (...) {
    s.nets.erase(n.id);
    ::unlink(s.net_file(n.id).c_str());
    try {
      s.plane->delete_link(n.bridge);
    } catch (...) {
    }
    s.ipam.remove_network(n.id);
    throw;
  }
  s.event("create", n, "");
  return n;
}

std::vector<NetworkInfo> NetworkController::list() const {
  std::lock_guard lk(s_->mu);
  std::vector<NetworkInfo> v;
  for (auto& [id, n] : s_->nets) v.push_back(n);
  return v;
}

NetworkInfo NetworkController::get(const std::string& ref) const {
  std::lock_guard lk(s_->mu);
  return s_->get(ref);
}

void NetworkController::remove(const std::string& ref) {
  auto& s = *s_;
  std::lock_guard lk(s.mu);
  NetworkInfo n = s.get(ref);
  if (n.predefined) throw Forbidden(n.name + " is a pre-defined network and cannot be removed");
  for (auto& [cid, sb] : s.boxes)
    for (auto& e : sb.endpoints)
      if (e.network_id == n.id)
        throw Forbidden("error while removing network: network " + n.name + " id " + n.id + " has active endpoints");
  ::unlink(s.net_file(n.id).c_str());
  s.nets.erase(n.id);
  s.publish_view();
  try {
    s.plane->delete_link(n.bridge);
  } catch (const std::exception& ex) {
    log::warn("network " + n.name + ": " + ex.what());
  }
  s.ipam.remove_network(n.id);
  s.apply_nat();
  s.event("destroy", n, "");
}

std::map<std::string, Endpoint> NetworkController::endpoints_of(const std::string& network_id) const {
  std::lock_guard lk(s_->mu);
  std::map<std::string, Endpoint> m;
  for (auto& [cid, sb] : s_->boxes)
    for (auto& e : sb.endpoints)
      if (e.network_id == network_id) m[cid] = e;
  return m;
}

std::map<std::string, std::string> NetworkController::container_names_on(const std::string& network_id) const {
  std::lock_guard lk(s_->mu);
  std::map<std::string, std::string> m;
  for (auto& [cid, sb] : s_->boxes)
    for (auto& e : sb.endpoints)
      if (e.network_id == network_id) m[cid] = sb.container_name;
  return m;
}

namespace {
// Logs at debug level how long an attach or release took.
struct DebugTimer {
  const char* what;
  std::string id;
  std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
  ~DebugTimer() {
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0).count();
    log::debug(std::string("network: ") + what + " " + id.substr(0, 12) + ": " + std::to_string(us) + " us");
  }
};
}  // namespace

Sandbox NetworkController::attach(const AttachRequest& r) {
  auto& s = *s_;
  std::lock_guard lk(s.mu);
  DebugTimer timer{"attach", r.container_id};
  if (auto it = s.boxes.find(r.container_id); it != s.boxes.end()) {
    // A sandbox left by a start that did not finish: made anew.
    s.teardown(it->second);
    s.drop_box_file(r.container_id);
    s.boxes.erase(it);
  }
  std::string mode = r.mode.empty() || r.mode == "default" ? "bridge" : r.mode;
  const NetworkInfo& primary = s.get(mode);
  if (primary.driver != "bridge") throw InvalidArgument("network mode " + mode + " has no sandbox");
  // The networks to join: the mode's first, then the other endpoints asked for.
  std::vector<std::pair<const NetworkInfo*, EndpointRequest>> joins;
  auto req_for = [&](const NetworkInfo& n) {
    for (auto& [k, v] : r.endpoints)
      if (k == n.name || k == n.id || (k.size() >= 12 && n.id.compare(0, k.size(), k) == 0)) return v;
    return EndpointRequest{};
  };
  bool mode_listed = false;
  for (auto& [k, v] : r.endpoints)
    if (k == primary.name || k == primary.id || (k.size() >= 12 && primary.id.compare(0, k.size(), k) == 0))
      mode_listed = true;
  if (r.join_mode || mode_listed) joins.push_back({&primary, req_for(primary)});
  for (auto& [k, v] : r.endpoints) {
    const NetworkInfo& n = s.get(k);
    if (n.id == primary.id) continue;
    if (n.driver != "bridge")
      throw InvalidArgument("container cannot be disconnected from host network or connected to host network");
    joins.push_back({&n, v});
  }
  Sandbox sb;
  sb.container_id = r.container_id;
  sb.container_name = r.container_name;
  sb.hostname = r.hostname;
  sb.sandbox_id = random_hex(64);
  sb.mode = mode;
  sb.dns_servers = r.dns_servers;
  sb.netns_path = s.o.netns_dir + "/" + sb.sandbox_id.substr(0, 12);
  // On a user-defined network the DNS sockets are made with the namespace, by its thread.
  for (auto& j : joins) sb.user_dns = sb.user_dns || !j.first->default_bridge;
  const DnsScope dns{sb.container_id, sb.dns_servers};
  s.plane->create_netns(sb.netns_path, sb.user_dns ? &dns : nullptr);
  try {
    for (std::size_t i = 0; i < joins.size(); ++i)
      sb.endpoints.push_back(s.add_endpoint(sb, *joins[i].first, joins[i].second, i == 0));
    if (!primary.internal) {
      for (auto& p : r.ports) {
        BoundPort b{p.proto, p.container_port, p.host_ip, 0};
        if (p.host_port_lo == 0) {
          b.host_port = s.plane->reserve_port(p.proto, p.host_ip, 0);
        } else {
          std::uint16_t hi = std::max(p.host_port_hi, p.host_port_lo);
          for (std::uint32_t port = p.host_port_lo; port <= hi; ++port) {
            try {
              b.host_port = s.plane->reserve_port(p.proto, p.host_ip, static_cast<std::uint16_t>(port));
              break;
            } catch (const Conflict&) {
              if (port == hi) throw;
            }
          }
        }
        sb.ports.push_back(b);
      }
    }
    s.boxes[sb.container_id] = sb;
    s.publish_view();
    s.apply_nat();
    s.save_box(sb);
  } catch (...) {
    s.boxes.erase(sb.container_id);
    s.publish_view();
    s.teardown(sb);
    try {
      s.apply_nat();
    } catch (...) {
    }
    throw;
  }
  for (auto& e : sb.endpoints) s.event("connect", s.nets.at(e.network_id), sb.container_id);
  return sb;
}

void NetworkController::release(const std::string& container_id) {
  auto& s = *s_;
  std::lock_guard lk(s.mu);
  DebugTimer timer{"release", container_id};
  auto it = s.boxes.find(container_id);
  if (it == s.boxes.end()) return;
  Sandbox sb = it->second;
  s.boxes.erase(it);
  s.publish_view();
  bool had_rules = !sb.ports.empty() || s.on_no_icc_network(sb);
  s.teardown(sb);
  s.drop_box_file(container_id);
  if (had_rules) {
    try {
      s.apply_nat();
    } catch (const std::exception& ex) {
      log::warn("network: " + std::string(ex.what()));
    }
  }
  for (auto& e : sb.endpoints)
    if (auto n = s.nets.find(e.network_id); n != s.nets.end()) s.event("disconnect", n->second, container_id);
}

std::optional<Sandbox> NetworkController::sandbox(const std::string& container_id) const {
  std::lock_guard lk(s_->mu);
  if (auto it = s_->boxes.find(container_id); it != s_->boxes.end()) return it->second;
  return std::nullopt;
}

Endpoint NetworkController::connect(const std::string& container_id, const std::string& network,
                                    const EndpointRequest& req) {
  auto& s = *s_;
  std::lock_guard lk(s.mu);
  auto it = s.boxes.find(container_id);
  if (it == s.boxes.end()) throw Conflict("container " + container_id + " has no network namespace to connect");
  const NetworkInfo& n = s.get(network);
  if (n.driver != "bridge")
    throw Forbidden("container cannot be disconnected from host network or connected to host network");
  Sandbox& sb = it->second;
  Endpoint e = s.add_endpoint(sb, n, req, false);
  sb.endpoints.push_back(e);
  s.publish_view();
  bool had_dns = sb.user_dns;
  sb.user_dns = s.on_user_network(sb);
  try {
    if (!n.icc) s.apply_nat();  // its port joins the ones that reach no neighbour
    if (sb.user_dns && !had_dns) s.plane->dns_add(sb.container_id, sb.netns_path, sb.dns_servers);
    s.save_box(sb);
  } catch (...) {
    sb.endpoints.pop_back();
    sb.user_dns = had_dns;
    s.publish_view();
    s.drop_endpoint(sb, e, true);
    if (!n.icc) {
      try {
        s.apply_nat();
      } catch (...) {
      }
    }
    throw;
  }
  s.event("connect", n, container_id);
  return e;
}

void NetworkController::disconnect(const std::string& container_id, const std::string& network) {
  auto& s = *s_;
  std::lock_guard lk(s.mu);
  auto it = s.boxes.find(container_id);
  const NetworkInfo& n = s.get(network);
  if (it == s.boxes.end()) throw Forbidden("container " + container_id + " is not connected to network " + n.name);
  Sandbox& sb = it->second;
  auto ep = std::find_if(sb.endpoints.begin(), sb.endpoints.end(), [&](const Endpoint& e) { return e.network_id == n.id; });
  if (ep == sb.endpoints.end())
    throw Forbidden("container " + container_id + " is not connected to network " + n.name);
  bool primary = ep == sb.endpoints.begin();
  Endpoint gone = *ep;
  sb.endpoints.erase(ep);
  s.publish_view();
  s.drop_endpoint(sb, gone, true);
  if (primary && !sb.ports.empty()) {  // the published ports led to that address
    for (auto& p : sb.ports) s.plane->release_port(p.proto, p.host_ip, p.host_port);
    sb.ports.clear();
    s.apply_nat();
  } else if (!n.icc) {
    s.apply_nat();  // its port leaves the network's list
  }
  bool had_dns = sb.user_dns;
  sb.user_dns = s.on_user_network(sb);
  if (had_dns && !sb.user_dns) s.plane->dns_remove(container_id);
  s.save_box(sb);
  s.event("disconnect", n, container_id);
}

std::string NetworkController::netns_of(const std::string& container_id) const {
  std::lock_guard lk(s_->mu);
  auto it = s_->boxes.find(container_id);
  if (it == s_->boxes.end() || it->second.netns_path.empty())
    throw Conflict("cannot join network of a non running container: " + container_id);
  return it->second.netns_path;
}

std::vector<std::uint32_t> NetworkController::lookup(const std::string& container_id, const std::string& name_in) {
  auto v = s_->current_view();
  auto it = v->boxes.find(container_id);
  if (it == v->boxes.end()) return {};
  std::string name = lower(name_in);
  std::vector<std::uint32_t> out;
  for (auto& mine : it->second.endpoints) {
    auto nit = v->nets.find(mine.network_id);
    if (nit == v->nets.end() || nit->second.second) continue;
    std::string want = name;
    std::string suffix = "." + lower(nit->second.first);
    if (want.size() > suffix.size() && want.compare(want.size() - suffix.size(), suffix.size(), suffix) == 0)
      want = want.substr(0, want.size() - suffix.size());
    for (auto& [alias, target] : mine.links)  // a link's alias: its container's names, for this one alone
      if (lower(alias) == want) {
        want = lower(target);
        break;
      }
    for (auto& [cid, sb] : v->boxes)
      for (auto& e : sb.endpoints) {
        if (e.network_id != mine.network_id) continue;
        for (auto& n : e.dns_names)
          if (lower(n) == want) {
            if (std::find(out.begin(), out.end(), e.address) == out.end()) out.push_back(e.address);
            break;
          }
      }
    if (!out.empty()) break;  // the first network (in the container's order) that knows it
  }
  return out;
}

std::optional<std::string> NetworkController::reverse(const std::string& container_id, std::uint32_t address) const {
  auto v = s_->current_view();
  auto it = v->boxes.find(container_id);
  if (it == v->boxes.end()) return std::nullopt;
  for (auto& mine : it->second.endpoints) {
    auto nit = v->nets.find(mine.network_id);
    if (nit == v->nets.end() || nit->second.second) continue;
    for (auto& [cid, sb] : v->boxes)
      for (auto& e : sb.endpoints)
        if (e.network_id == mine.network_id && e.address == address && !e.dns_names.empty())
          return e.dns_names.front() + "." + nit->second.first;
  }
  return std::nullopt;
}

std::uint64_t NetworkController::generation() const { return s_->generation.load(); }

std::uint32_t NetworkController::default_gateway() const {
  std::lock_guard lk(s_->mu);
  auto* b = s_->default_bridge();
  return b ? b->gateway : 0;
}

json network_json(const NetworkInfo& n, const std::map<std::string, Endpoint>& eps,
                  const std::map<std::string, std::string>& names) {
  json config = json::array();
  if (n.subnet) {
    json c = {{"Subnet", n.subnet->str()}, {"Gateway", ipv4_str(n.gateway)}};
    if (n.ip_range) c["IPRange"] = n.ip_range->str();
    config.push_back(c);
  }
  json containers = json::object();
  for (auto& [cid, e] : eps) {
    auto nm = names.find(cid);
    containers[cid] = {{"Name", nm == names.end() ? "" : nm->second},
                       {"EndpointID", e.endpoint_id},
                       {"MacAddress", e.mac},
                       {"IPv4Address", ipv4_str(e.address) + "/" + std::to_string(e.prefix)},
                       {"IPv6Address", ""}};
  }
  return {{"Name", n.name},
          {"Id", n.id},
          {"Created", n.created},
          {"Scope", "local"},
          {"Driver", n.driver},
          {"EnableIPv6", false},
          {"IPAM", {{"Driver", "default"}, {"Options", n.predefined ? json(nullptr) : json::object()}, {"Config", config}}},
          {"Internal", n.internal},
          {"Attachable", n.attachable},
          {"Ingress", false},
          {"ConfigFrom", {{"Network", ""}}},
          {"ConfigOnly", false},
          {"Containers", containers},
          {"Options", str_map(n.options)},
          {"Labels", str_map(n.labels)}};
}

}  // namespace hoist::network
