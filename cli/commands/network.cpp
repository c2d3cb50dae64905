// Networking in the CLI: the `network` group (create, ls, inspect, rm, prune, connect, disconnect)
// and `port`, with what run/create and ps share of it (network.h): docker's port specs, PORTS
// column, NetworkingConfig and network create body, in docker 28's words.
#include "cli/commands/network.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <map>
#include <optional>

#include "cli/commands/commands.h"
#include "cli/format.h"
#include "common/strings.h"

namespace hoist::cli {

namespace {

std::string lowered(std::string s) {
  for (auto& c : s) c = (char)std::tolower((unsigned char)c);
  return s;
}

// "1.41" < "1.44"?
bool api_before(const std::string& version, const std::string& than) {
  if (version.empty()) return false;  // the newest
  auto a = split(version, '.'), b = split(than, '.');
  for (size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
    long x = i < a.size() ? atol(a[i].c_str()) : 0, y = i < b.size() ? atol(b[i].c_str()) : 0;
    if (x != y) return x < y;
  }
  return false;
}

// Go's strconv.ParseUint(s, 10, 16): the value, or its error text.
std::optional<std::string> parse_uint16(std::string_view s, uint64_t& v) {
  auto err = [&](const char* why) { return "strconv.ParseUint: parsing " + json(std::string(s)).dump() + ": " + why; };
  if (s.empty()) return err("invalid syntax");
  v = 0;
  bool range = false;
  for (char c : s) {
    if (!std::isdigit((unsigned char)c)) return err("invalid syntax");
    v = v * 10 + (uint64_t)(c - '0');
    if (v > 65535) {
      range = true;
      v = 65535;
    }
  }
  if (range) return err("value out of range");
  return std::nullopt;
}

// go-connections' nat.ParsePortRange: "80" or "8000-8010"; the error text on failure.
std::optional<std::string> parse_port_range(std::string_view ports, uint64_t& start, uint64_t& end) {
  if (ports.empty()) return "empty string specified for ports";
  auto dash = ports.find('-');
  if (dash == std::string_view::npos) {
    auto e = parse_uint16(ports, start);
    end = start;
    return e;
  }
  auto rest = ports.substr(dash + 1);
  rest = rest.substr(0, rest.find('-'));  // "1-2-3" is 1-2, as Go's Split and [1]
  if (auto e = parse_uint16(ports.substr(0, dash), start)) return e;
  if (auto e = parse_uint16(rest, end)) return e;
  if (end < start) return "invalid range specified for port: " + std::string(ports);
  return std::nullopt;
}

// nat.SplitProtoPort: ("tcp", "80") for "80", ("udp", "80") for "80/udp", ("", "") for "" or "/x".
std::pair<std::string, std::string> split_proto_port(const std::string& raw) {
  auto parts = split(raw, '/');
  if (raw.empty() || parts.empty() || parts[0].empty()) return {"", ""};
  if (parts.size() == 1) return {"tcp", raw};
  if (parts[1].empty()) return {"tcp", parts[0]};
  return {parts[1], parts[0]};
}

// Go's net.ParseIP (no zone, IPv4 or IPv6).
bool is_ip(const std::string& s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

// The host of Go's net.SplitHostPort(hostport) for a hostport starting with '[' and ending in ':';
// throws InvalidArgument "invalid IP address <ip>: address <hostport>: <why>".
std::string bracketed_host(const std::string& ip) {
  std::string hp = ip + ":";
  auto fail = [&](const std::string& why) {
    return InvalidArgument("invalid IP address " + ip + ": address " + hp + ": " + why);
  };
  size_t i = hp.size() - 1;
  auto end = hp.find(']');
  if (end == std::string::npos) throw fail("missing ']' in address");
  if (end + 1 != i) throw fail(hp[end + 1] == ':' ? "too many colons in address" : "missing port in address");
  if (hp.find('[', 1) != std::string::npos) throw fail("unexpected '[' in address");
  if (hp.find(']', end + 1) != std::string::npos) throw fail("unexpected ']' in address");
  return hp.substr(1, end - 1);
}

// docker's convertToStandardNotation: "target=80,published=8080,protocol=udp" → "8080:80/udp".
std::string standard_notation(const std::string& spec) {
  if (spec.find('=') == std::string::npos) return spec;
  std::map<std::string, std::string> params = {{"protocol", "tcp"}};
  for (auto& param : split(spec, ',')) {
    auto eq = param.find('=');
    if (eq == std::string::npos || eq == 0)
      throw InvalidArgument("invalid publish opts format (should be name=value but got '" + param + "')");
    params[param.substr(0, eq)] = param.substr(eq + 1);
  }
  return params["published"] + ":" + params["target"] + "/" + params["protocol"];
}

// One IPv4 or IPv6 network of Go's net.ParseCIDR.
struct Cidr {
  int family = 0;
  std::array<unsigned char, 16> addr{};
  int bits = 0;
};

std::optional<Cidr> parse_cidr(const std::string& s) {
  auto slash = s.find('/');
  if (slash == std::string::npos) return std::nullopt;
  std::string a = s.substr(0, slash), len = s.substr(slash + 1);
  Cidr c;
  if (inet_pton(AF_INET, a.c_str(), c.addr.data()) == 1) c.family = 4;
  else if (inet_pton(AF_INET6, a.c_str(), c.addr.data()) == 1) c.family = 6;
  else return std::nullopt;
  if (len.empty() || len.size() > 3 || !std::all_of(len.begin(), len.end(), [](char ch) { return std::isdigit((unsigned char)ch); }))
    return std::nullopt;
  c.bits = std::stoi(len);
  if (c.bits > (c.family == 4 ? 32 : 128)) return std::nullopt;
  return c;
}

bool cidr_contains(const Cidr& net, int family, const unsigned char* ip) {
  if (family != net.family) return false;
  for (int b = 0; b < net.bits; ++b) {
    int mask = 0x80 >> (b % 8);
    if ((net.addr[b / 8] & mask) != (ip[b / 8] & mask)) return false;
  }
  return true;
}

// docker's subnetMatches: is `data` (an address or a CIDR's address) in `subnet`?
bool subnet_matches(const std::string& subnet, const std::string& data) {
  auto net = parse_cidr(subnet);
  if (!net) throw InvalidArgument("invalid subnet: invalid CIDR address: " + subnet);
  unsigned char ip[16];
  std::string addr = data;
  if (data.find('/') != std::string::npos) {
    auto d = parse_cidr(data);
    if (!d) throw InvalidArgument("invalid CIDR address: " + data);
    return cidr_contains(*net, d->family, d->addr.data());
  }
  if (inet_pton(AF_INET, addr.c_str(), ip) == 1) return cidr_contains(*net, 4, ip);
  if (inet_pton(AF_INET6, addr.c_str(), ip) == 1) return cidr_contains(*net, 6, ip);
  return false;
}

// "k=v" values of a map flag (-o, --aux-address), a bare "k" as "k": "".
json kv_map(const std::vector<std::string>& values) {
  json m = json::object();
  for (auto& v : values) {
    auto eq = v.find('=');
    m[v.substr(0, eq)] = eq == std::string::npos ? "" : v.substr(eq + 1);
  }
  return m;
}

// Go's net.ParseMAC for the forms a user types: 6, 8 or 20 octets separated by ':' or '-', or
// groups of 4 hex digits separated by '.'.
bool valid_mac(std::string s) {
  s = std::string(trim(s));
  auto hex = [](const std::string& x) {
    return !x.empty() && std::all_of(x.begin(), x.end(), [](char c) { return std::isxdigit((unsigned char)c); });
  };
  if (s.size() < 14) return false;
  if (s[2] == ':' || s[2] == '-') {
    auto parts = split(s, s[2]);
    if (parts.size() != 6 && parts.size() != 8 && parts.size() != 20) return false;
    return std::all_of(parts.begin(), parts.end(), [&](const std::string& x) { return x.size() == 2 && hex(x); });
  }
  if (s[4] == '.') {
    auto parts = split(s, '.');
    if (parts.size() != 3 && parts.size() != 4 && parts.size() != 10) return false;
    return std::all_of(parts.begin(), parts.end(), [&](const std::string& x) { return x.size() == 4 && hex(x); });
  }
  return false;
}

// One --network value as docker's NetworkAttachmentOpts, with what applies to it.
struct Attachment {
  std::string target;
  std::vector<std::string> aliases, links;
  std::string ip, mac;
};

// docker's NetworkOpt.Set: a name, or "name=NET,alias=A,ip=IP,mac-address=MAC".
Attachment parse_network_value(const std::string& value) {
  Attachment a;
  if (value.find('=') == std::string::npos) {
    a.target = value;
    return a;
  }
  auto bad = [&](const std::string& why) {
    return FlagError("invalid argument \"" + value + "\" for \"--network\" flag: " + why);
  };
  for (auto& field : split(lowered(value), ',')) {
    auto eq = field.find('=');
    if (eq == std::string::npos || eq == 0) throw bad("invalid field " + field);
    std::string key(trim(field.substr(0, eq))), val(trim(field.substr(eq + 1)));
    if (key == "name") a.target = val;
    else if (key == "alias") a.aliases.push_back(val);
    else if (key == "ip") a.ip = val;
    else if (key == "mac-address") a.mac = val;
    else if (key == "ip6" || key == "link-local-ip" || key == "driver-opt" || key == "gw-priority")
      throw FlagError("hoist: --network's " + key + " is not supported: hoist's networks have IPv4 addresses only, " +
                      "no link-local addresses, driver options or gateway priorities");
    else throw bad("invalid field key " + key);
  }
  return a;
}

}  // namespace

std::vector<std::string> csv_values(const std::vector<std::string>& values) {
  std::vector<std::string> r;
  for (auto& v : values)
    if (!v.empty())
      for (auto& x : split(v, ',')) r.push_back(x);
  return r;
}

PortSpecs parse_port_specs(const std::vector<std::string>& specs) {
  PortSpecs r;
  for (auto& given : specs) {
    std::string raw = standard_notation(given);
    auto parts = split(raw, ':');
    size_t n = parts.size();
    std::string ip, host_port, container_port = parts[n - 1];
    if (n == 2) host_port = parts[0];
    else if (n == 3) ip = parts[0], host_port = parts[1];
    else if (n > 3) {
      ip = join(std::vector<std::string>(parts.begin(), parts.end() - 2), ":");
      host_port = parts[n - 2];
    }
    auto [proto, port] = split_proto_port(container_port);
    if (!ip.empty() && ip[0] == '[') ip = bracketed_host(ip);
    if (!ip.empty() && !is_ip(ip)) throw InvalidArgument("invalid IP address: " + ip);
    if (port.empty()) throw InvalidArgument("no port specified: " + raw + "<empty>");
    uint64_t start = 0, end = 0, hstart = 0, hend = 0;
    if (parse_port_range(port, start, end)) throw InvalidArgument("invalid containerPort: " + port);
    if (!host_port.empty() && parse_port_range(host_port, hstart, hend))
      throw InvalidArgument("invalid hostPort: " + host_port);
    if (!host_port.empty() && end - start != hend - hstart && end != start)
      throw InvalidArgument("invalid ranges specified for container and host Ports: " + port + " and " + host_port);
    auto lproto = lowered(proto);
    if (lproto != "tcp" && lproto != "udp" && lproto != "sctp") throw InvalidArgument("invalid proto: " + proto);
    for (uint64_t i = 0; i <= end - start; ++i) {
      std::string hp = host_port.empty() ? "" : std::to_string(hstart + i);
      if (start == end && hstart != hend) hp += "-" + std::to_string(hend);
      std::string key = std::to_string(start + i) + "/" + lproto;
      r.exposed[key] = json::object();
      if (!r.bindings.contains(key)) r.bindings[key] = json::array();
      r.bindings[key].push_back({{"HostIp", ip}, {"HostPort", hp}});
    }
  }
  return r;
}

void add_exposed_ports(json& exposed, const std::vector<std::string>& specs) {
  for (auto& e : specs) {
    if (e.find(':') != std::string::npos) throw InvalidArgument("invalid port format for --expose: " + e);
    auto [proto, port] = split_proto_port(e);
    uint64_t start = 0, end = 0;
    if (auto err = parse_port_range(port, start, end))
      throw InvalidArgument("invalid range format for --expose: " + e + ", error: " + *err);
    for (uint64_t p = start; p <= end; ++p) exposed[std::to_string(p) + "/" + proto] = json::object();
  }
}

std::string join_host_port(const std::string& host, const std::string& port) {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + port;
  return host + ":" + port;
}

bool natural_less(std::string_view a, std::string_view b) {
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    char c1 = a[i], c2 = b[j];
    bool d1 = digit(c1), d2 = digit(c2);
    if (d1 != d2) return d1;
    if (!d1) {
      if (c1 != c2) return (unsigned char)c1 < (unsigned char)c2;
      ++i, ++j;
      continue;
    }
    while (i < a.size() && a[i] == '0') ++i;
    while (j < b.size() && b[j] == '0') ++j;
    size_t nz1 = i, nz2 = j;
    while (i < a.size() && digit(a[i])) ++i;
    while (j < b.size() && digit(b[j])) ++j;
    if (i - nz1 != j - nz2) return i - nz1 < j - nz2;
    auto n1 = a.substr(nz1, i - nz1), n2 = b.substr(nz2, j - nz2);
    if (n1 != n2) return n1 < n2;
    if (nz1 != nz2) return nz1 < nz2;
  }
  return a.size() < b.size();
}

std::string ports_string(const json& ports) {
  if (!ports.is_array()) return "";
  struct Port {
    std::string ip, type;
    long long priv = 0, pub = 0;
  };
  std::vector<Port> list;
  for (auto& p : ports) {
    if (!p.is_object()) continue;
    Port x;
    x.ip = p.contains("IP") && p["IP"].is_string() ? p["IP"].get<std::string>() : "";
    x.type = p.contains("Type") && p["Type"].is_string() ? p["Type"].get<std::string>() : "";
    x.priv = p.contains("PrivatePort") && p["PrivatePort"].is_number() ? p["PrivatePort"].get<long long>() : 0;
    x.pub = p.contains("PublicPort") && p["PublicPort"].is_number() ? p["PublicPort"].get<long long>() : 0;
    list.push_back(x);
  }
  std::sort(list.begin(), list.end(), [](const Port& a, const Port& b) {
    if (a.priv != b.priv) return a.priv < b.priv;
    if (a.ip != b.ip) return a.ip < b.ip;
    if (a.pub != b.pub) return a.pub < b.pub;
    return a.type < b.type;
  });
  struct Group {
    long long first, last;
  };
  std::map<std::string, Group> groups;
  std::vector<std::string> keys, result, host_mappings;
  // formGroup: "80-81/tcp", or with an address "0.0.0.0:80-81->80-81/tcp".
  auto form = [](const std::string& key, long long first, long long last) {
    auto slash = key.rfind('/');
    std::string ip = slash == std::string::npos ? "" : key.substr(0, slash);
    std::string type = slash == std::string::npos ? key : key.substr(slash + 1);
    std::string g = std::to_string(first);
    if (first != last) g += "-" + std::to_string(last);
    if (!ip.empty()) g = join_host_port(ip, g) + "->" + g;
    return g + "/" + type;
  };
  for (auto& p : list) {
    std::string key = p.type;
    if (!p.ip.empty()) {
      if (p.pub != p.priv) {
        host_mappings.push_back(join_host_port(p.ip, std::to_string(p.pub)) + "->" + std::to_string(p.priv) + "/" + p.type);
        continue;
      }
      key = p.ip + "/" + p.type;
    }
    auto it = groups.find(key);
    if (it == groups.end()) {
      groups[key] = {p.priv, p.priv};
      keys.push_back(key);
      continue;
    }
    if (p.priv == it->second.last + 1) {
      it->second.last = p.priv;
      continue;
    }
    result.push_back(form(key, it->second.first, it->second.last));
    it->second = {p.priv, p.priv};
  }
  for (auto& k : keys) result.push_back(form(k, groups[k].first, groups[k].last));
  for (auto& h : host_mappings) result.push_back(h);
  return join(result, ", ");
}

std::vector<std::string> port_lines(const json& ports) {
  std::vector<std::string> lines;
  if (!ports.is_object()) return lines;
  for (auto& [port, frontends] : ports.items()) {
    if (!frontends.is_array()) continue;
    for (auto& f : frontends)
      lines.push_back(port + " -> " + join_host_port(f.value("HostIp", ""), f.value("HostPort", "")));
  }
  std::sort(lines.begin(), lines.end(), [](const std::string& a, const std::string& b) { return natural_less(a, b); });
  return lines;
}

std::vector<std::string> link_values(const Parsed& p) {
  auto links = p.all("link");
  for (auto& l : links)
    if (l.empty() || std::count(l.begin(), l.end(), ':') > 1)
      throw FlagError("invalid argument \"" + l + "\" for \"--link\" flag: " +
                      (l.empty() ? "empty string specified for links" : "bad format for links: " + l));
  return links;
}

bool user_defined_network(std::string_view mode) {
  return mode != "default" && mode != "bridge" && mode != "host" && mode != "none" && mode.rfind("container:", 0) != 0;
}

Networking networking_config(const Parsed& p, const std::string& api_version) {
  std::string mac = p.get("mac-address");
  if (!mac.empty() && !valid_mac(mac)) throw InvalidArgument(mac + " is not a valid mac address");
  std::vector<Attachment> nets;
  for (auto* flag : {"network", "net"})
    for (auto& v : p.all(flag)) nets.push_back(parse_network_value(v));
  auto aliases = p.all("network-alias");
  auto links = link_values(p);
  std::string ip = p.get("ip");
  // docker's applyContainerOptions: the plain flags go to the first network.
  auto apply = [&](Attachment& a) {
    if (!a.aliases.empty() && !aliases.empty())
      throw InvalidArgument("conflicting options: cannot specify both --network-alias and per-network alias");
    if (!a.ip.empty() && !ip.empty())
      throw InvalidArgument("conflicting options: cannot specify both --ip and per-network IPv4 address");
    if (!a.mac.empty() && !mac.empty())
      throw InvalidArgument("conflicting options: cannot specify both --mac-address and per-network MAC address");
    if (!aliases.empty()) a.aliases = aliases;
    // --link: HostConfig.Links (container.cpp), and the links of a user-defined network's endpoint.
    if (!links.empty() && user_defined_network(a.target)) a.links = links;
    if (!ip.empty()) a.ip = ip;
    if (!mac.empty()) a.mac = mac;
  };
  // docker's parseNetworkAttachmentOpt.
  auto endpoint = [](const Attachment& a) {
    if (trim(a.target).empty()) throw InvalidArgument("no name set for network");
    if (!user_defined_network(a.target) && !a.aliases.empty())
      throw InvalidArgument("network-scoped aliases are only supported for user-defined networks");
    json ep = json::object();
    if (!a.ip.empty()) ep["IPAMConfig"] = {{"IPv4Address", a.ip}};
    if (!a.aliases.empty()) ep["Aliases"] = a.aliases;
    if (!a.links.empty()) ep["Links"] = a.links;
    if (!a.mac.empty()) {
      if (!valid_mac(a.mac)) throw InvalidArgument(a.mac + " is not a valid mac address");
      ep["MacAddress"] = a.mac;
    }
    return ep;
  };
  Networking r;
  if (nets.empty()) {
    Attachment d{.target = "default"};
    apply(d);
    r.endpoints["default"] = endpoint(d);
  }
  bool user = false, other = false;
  for (size_t i = 0; i < nets.size(); ++i) {
    auto& a = nets[i];
    (user_defined_network(a.target) ? user : other) = true;
    if (i == 0) apply(a);
    auto ep = endpoint(a);
    if (r.endpoints.contains(a.target))
      throw InvalidArgument("network \"" + a.target + "\" is specified multiple times");
    // A single network without options: no endpoint settings (the daemon makes them).
    if (i == 0 && nets.size() == 1 && ep.empty()) continue;
    r.endpoints[a.target] = ep;
  }
  if (user && other)
    throw InvalidArgument("conflicting options: cannot attach both user-defined and non-user-defined network-modes");
  r.mode = nets.empty() ? "default" : nets[0].target;
  if (api_before(api_version, "1.44")) {
    // No MacAddress per endpoint before API 1.44: the container's own (the old field) is the main
    // network's.
    for (auto& [name, ep] : r.endpoints.items()) {
      if (!ep.contains("MacAddress")) continue;
      if (name != r.mode)
        throw InvalidArgument("\"specify mac-address per network\" requires API version 1.44, but the daemon API version is " +
                              api_version);
      r.config_mac = ep["MacAddress"].get<std::string>();
      ep.erase("MacAddress");
    }
  }
  return r;
}

json network_create_body(const Parsed& p, const std::string& name, const std::string& api_version) {
  auto subnets = csv_values(p.all("subnet")), ranges = csv_values(p.all("ip-range")),
       gateways = csv_values(p.all("gateway"));
  if (subnets.size() < ranges.size() || subnets.size() < gateways.size())
    throw InvalidArgument("every ip-range or gateway must have a corresponding subnet");
  struct Pool {
    std::string subnet, range, gateway;
    json aux = json::object();
  };
  std::vector<Pool> pools;
  for (auto& s : subnets) {
    for (auto& k : pools)
      if (subnet_matches(s, k.subnet) || subnet_matches(k.subnet, s))
        throw InvalidArgument("multiple overlapping subnet configuration is not supported");
    pools.push_back({s});
  }
  for (auto& r : ranges) {
    bool match = false;
    for (auto& pool : pools) {
      if (!parse_cidr(r)) throw InvalidArgument("invalid CIDR address: " + r);
      if (!subnet_matches(pool.subnet, r)) continue;
      if (!pool.range.empty())
        throw InvalidArgument("cannot configure multiple ranges (" + r + ", " + pool.range + ") on the same subnet (" +
                              pool.subnet + ")");
      pool.range = r;
      match = true;
    }
    if (!match) throw InvalidArgument("no matching subnet for range " + r);
  }
  for (auto& g : gateways) {
    bool match = false;
    for (auto& pool : pools) {
      if (!subnet_matches(pool.subnet, g)) continue;
      if (!pool.gateway.empty())
        throw InvalidArgument("cannot configure multiple gateways (" + g + ", " + pool.gateway +
                              ") for the same subnet (" + pool.subnet + ")");
      pool.gateway = g;
      match = true;
    }
    if (!match) throw InvalidArgument("no matching subnet for gateway " + g);
  }
  json aux = kv_map(p.all("aux-address"));
  for (auto& [key, addr] : aux.items()) {
    bool match = false;
    for (auto& pool : pools) {
      if (!subnet_matches(pool.subnet, addr.get<std::string>())) continue;
      pool.aux[key] = addr;
      match = true;
    }
    if (!match) throw InvalidArgument("no matching subnet for aux-address " + addr.get<std::string>());
  }
  json config = json::array();
  for (auto& pool : pools) {
    json c = {{"Subnet", pool.subnet}};
    if (!pool.range.empty()) c["IPRange"] = pool.range;
    if (!pool.gateway.empty()) c["Gateway"] = pool.gateway;
    if (!pool.aux.empty()) c["AuxiliaryAddresses"] = pool.aux;
    config.push_back(c);
  }
  json labels = kv_map(p.all("label"));
  json b = {{"Name", name},
            {"Driver", p.get("driver", "bridge")},
            {"Scope", ""},
            {"IPAM", {{"Driver", p.get("ipam-driver", "default")}, {"Options", json::object()}, {"Config", config}}},
            {"Internal", p.flag("internal")},
            {"Attachable", p.flag("attachable")},
            {"Ingress", false},
            {"ConfigOnly", false},
            {"ConfigFrom", nullptr},
            {"Options", kv_map(p.all("opt"))},
            {"Labels", labels}};
  if (api_before(api_version, "1.44")) b["CheckDuplicate"] = true;  // always checked since 1.44
  return b;
}

std::string go_time_string_nano(std::string_view rfc3339) {
  std::string s(rfc3339);
  if (s.rfind("0001-01-01T00:00:00", 0) == 0) return "0001-01-01 00:00:00 +0000 UTC";
  std::string frac;
  auto dot = s.find('.', s.find('T') == std::string::npos ? 0 : s.find('T'));
  if (dot != std::string::npos) {
    size_t e = dot + 1;
    while (e < s.size() && std::isdigit((unsigned char)s[e])) ++e;
    frac = s.substr(dot + 1, e - dot - 1);
    s.erase(dot, e - dot);
  }
  while (!frac.empty() && frac.back() == '0') frac.pop_back();
  time_t t = (time_t)parse_rfc3339(s);
  struct tm tm {};
  localtime_r(&t, &tm);
  char date[64], zone[64];
  strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S", &tm);
  strftime(zone, sizeof zone, " %z %Z", &tm);
  return std::string(date) + (frac.empty() ? "" : "." + frac) + zone;
}

json network_row(const json& n, bool trunc) {
  auto str = [&](const char* k) { return n.contains(k) && n[k].is_string() ? n[k].get<std::string>() : std::string(); };
  auto flag = [&](const char* k) { return n.contains(k) && n[k].is_boolean() && n[k].get<bool>() ? "true" : "false"; };
  std::string id = str("Id");
  std::vector<std::string> labels;
  if (n.contains("Labels") && n["Labels"].is_object())
    for (auto& [k, v] : n["Labels"].items()) labels.push_back(k + "=" + (v.is_string() ? v.get<std::string>() : ""));
  return {{"ID", trunc ? id.substr(0, 12) : id},
          {"Name", str("Name")},
          {"Driver", str("Driver")},
          {"Scope", str("Scope")},
          {"IPv4", flag("EnableIPv4")},
          {"IPv6", flag("EnableIPv6")},
          {"Internal", flag("Internal")},
          {"Labels", join(labels, ",")},
          {"CreatedAt", go_time_string_nano(str("Created"))}};
}

// ---- the network commands ---------------------------------------------------------------------

namespace {

const char* const kNoIpv6 = "is not supported: hoist's networks are IPv4 only";
const char* const kNoSwarm = "is not supported: hoist has no swarm (ingress, scopes and config-only networks are swarm's)";

}  // namespace

const Command kNetworkCreateCommand = {
    .use = "[OPTIONS] NETWORK",
    .summary = "Create a network",
    .flags = {{"attachable", 0, "", "Enable manual container attachment"},
              {"aux-address", 0, "map", "Auxiliary IPv4 or IPv6 addresses used by Network driver", "map[]"},
              {"config-from", 0, "string", "The network from which to copy the configuration", "", true, kNoSwarm},
              {"config-only", 0, "", "Create a configuration only network", "", true, kNoSwarm},
              {"driver", 'd', "string", "Driver to manage the Network", "bridge"},
              {"gateway", 0, "strings", "IPv4 or IPv6 Gateway for the master subnet"},
              {"ingress", 0, "", "Create swarm routing-mesh network", "", true, kNoSwarm},
              {"internal", 0, "", "Restrict external access to the network"},
              {"ip-range", 0, "strings", "Allocate container ip from a sub-range"},
              {"ipam-driver", 0, "string", "IP Address Management Driver", "default"},
              {"ipam-opt", 0, "map", "Set IPAM driver specific options", "map[]", true,
               "is not supported: hoist's default IPAM driver has no options"},
              {"ipv4", 0, "", "Enable or disable IPv4 address assignment", "true"},
              {"ipv6", 0, "", "Enable or disable IPv6 address assignment", "", true, kNoIpv6},
              {"label", 0, "list", "Set metadata on a network"},
              {"opt", 'o', "map", "Set driver specific options", "map[]"},
              {"scope", 0, "string", "Control the network's scope", "", true, kNoSwarm},
              {"subnet", 0, "strings", "Subnet in CIDR format that represents a network segment"}},
    .min_args = 1,
    .max_args = 1};

int cmd_network_create(Ctx& ctx, const std::vector<std::string>& argv) {
  const auto& cmd = kNetworkCreateCommand;
  auto p = parse(ctx, cmd, argv);
  if (p.has("ipv4") && !p.flag("ipv4"))
    refuse_flag(ctx, cmd, "ipv4", "=false is not supported: hoist's networks always give containers IPv4 addresses");
  if (p.get("ipam-driver", "default") != "default")
    refuse_flag(ctx, cmd, "ipam-driver", p.get("ipam-driver") + " is not supported: hoist has the default IPAM driver only");
  for (auto& l : p.all("label")) {
    std::string key(trim(l.substr(0, l.find('='))));
    if (key.empty())
      usage_error(ctx.path, "invalid argument \"" + l + "\" for \"--label\" flag: invalid label '" + l + "': empty name");
    if (key.find_first_of(" \t\n\r\v\f") != std::string::npos)
      usage_error(ctx.path, "invalid argument \"" + l + "\" for \"--label\" flag: label '" + key + "' contains whitespaces");
  }
  auto body = network_create_body(p, p.args[0], ctx.c().version());
  auto r = ctx.c().request("POST", "/networks/create", body.dump());
  auto j = json::parse(r.body);
  if (j.contains("Warning") && j["Warning"].is_string() && !j["Warning"].get<std::string>().empty())
    errp("WARNING: " + j["Warning"].get<std::string>() + "\n");
  out(j.value("Id", "") + "\n");
  return 0;
}

const Command kNetworkLsCommand = {
    .use = "[OPTIONS]",
    .summary = "List networks",
    .aliases = {"network ls", "network list"},
    .flags = {{"filter", 'f', "filter", "Provide filter values (e.g. \"driver=bridge\")"},
              {"format", 0, "string", kFormatTableUsage},
              {"no-trunc", 0, "", "Do not truncate the output"},
              {"quiet", 'q', "", "Only display network IDs"}},
    .max_args = 0};

int cmd_network_ls(Ctx& ctx, const std::vector<std::string>& argv) {
  auto p = parse(ctx, kNetworkLsCommand, argv);
  std::string path = "/networks";
  if (p.has("filter")) path += "?filters=" + q(filters_json(p.all("filter")));
  auto list = json::parse(ctx.c().request("GET", path).body);
  std::vector<json> rows;
  if (list.is_array())
    for (auto& n : list) rows.push_back(network_row(n, !p.flag("no-trunc")));
  std::stable_sort(rows.begin(), rows.end(), [](const json& a, const json& b) {
    return natural_less(a["Name"].get<std::string>(), b["Name"].get<std::string>());
  });
  std::string fmt = p.get("format");
  bool quiet = p.flag("quiet");
  if (fmt.empty() || fmt == "table") fmt = quiet ? "{{.ID}}" : "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}";
  else if (fmt == "raw")
    fmt = quiet ? "network_id: {{.ID}}" : "network_id: {{.ID}}\nname: {{.Name}}\ndriver: {{.Driver}}\nscope: {{.Scope}}\n";
  out(format_list(fmt, rows,
                  {{"ID", "NETWORK ID"}, {"Name", "NAME"}, {"Driver", "DRIVER"}, {"Scope", "SCOPE"}, {"IPv4", "IPV4"},
                   {"IPv6", "IPV6"}, {"Internal", "INTERNAL"}, {"Labels", "LABELS"}, {"CreatedAt", "CREATED AT"}}));
  return 0;
}

const Command kNetworkInspectCommand = {
    .use = "[OPTIONS] NETWORK [NETWORK...]",
    .summary = "Display detailed information on one or more networks",
    .flags = {{"format", 'f', "string", kFormatJsonUsage}, {"verbose", 'v', "", "Verbose output for diagnostics"}},
    .min_args = 1};

int cmd_network_inspect(Ctx& ctx, const std::vector<std::string>& argv) {
  auto p = parse(ctx, kNetworkInspectCommand, argv);
  return inspect_each(ctx, p, [&](const std::string& n) {
    return "/networks/" + q(n) + (p.flag("verbose") ? "?verbose=true" : "");
  });
}

const Command kNetworkRmCommand = {.use = "NETWORK [NETWORK...]",
                                   .summary = "Remove one or more networks",
                                   .aliases = {"network rm", "network remove"},
                                   .flags = {{"force", 'f', "", "Do not error if the network does not exist"}},
                                   .min_args = 1};

int cmd_network_rm(Ctx& ctx, const std::vector<std::string>& argv) {
  auto p = parse(ctx, kNetworkRmCommand, argv);
  return remove_each(ctx, p.args, [](const std::string& n) { return "/networks/" + q(n); }, p.flag("force"));
}

const Command kNetworkPruneCommand = {
    .use = "[OPTIONS]",
    .summary = "Remove all unused networks",
    .flags = {{"filter", 0, "filter", "Provide filter values (e.g. \"until=<timestamp>\")"},
              {"force", 'f', "", "Do not prompt for confirmation"}},
    .max_args = 0};

int cmd_network_prune(Ctx& ctx, const std::vector<std::string>& argv) {
  auto p = parse(ctx, kNetworkPruneCommand, argv);
  std::string path = "/networks/prune";
  if (p.has("filter")) path += "?filters=" + q(filters_json(p.all("filter")));
  if (!p.flag("force") &&
      !confirm("WARNING! This will remove all custom networks not used by at least one container.\n"
               "Are you sure you want to continue?"))
    return 0;  // docker: cancelled, nothing printed, exit 0
  auto j = json::parse(ctx.c().request("POST", path).body);
  if (j.contains("NetworksDeleted") && j["NetworksDeleted"].is_array() && !j["NetworksDeleted"].empty()) {
    std::string o = "Deleted Networks:\n";
    for (auto& n : j["NetworksDeleted"]) o += n.get<std::string>() + "\n";
    out(o + "\n");
  }
  return 0;
}

const Command kNetworkConnectCommand = {
    .use = "[OPTIONS] NETWORK CONTAINER",
    .summary = "Connect a container to a network",
    .flags = {{"alias", 0, "strings", "Add network-scoped alias for the container"},
              {"driver-opt", 0, "strings", "driver options for the network", "", true,
               "is not supported: hoist's bridge networks take no endpoint driver options"},
              {"gw-priority", 0, "int", "Highest gw-priority provides the default gateway. Accepts positive and negative values.",
               "", true, "is not supported: hoist picks the default gateway itself"},
              {"ip", 0, "string", "IPv4 address (e.g., \"172.30.100.104\")"},
              {"ip6", 0, "string", "IPv6 address (e.g., \"2001:db8::33\")", "", true, kNoIpv6},
              {"link", 0, "list", "Add link to another container"},
              {"link-local-ip", 0, "strings", "Add a link-local address for the container", "", true,
               "is not supported: hoist gives containers no link-local addresses"}},
    .min_args = 2,
    .max_args = 2};

int cmd_network_connect(Ctx& ctx, const std::vector<std::string>& argv) {
  auto p = parse(ctx, kNetworkConnectCommand, argv);
  json ipam = json::object();
  if (!p.get("ip").empty()) ipam["IPv4Address"] = p.get("ip");
  json ep = {{"IPAMConfig", ipam}, {"Aliases", csv_values(p.all("alias"))}, {"DriverOpts", json::object()}};
  try {
    if (auto links = link_values(p); !links.empty()) ep["Links"] = links;
  } catch (const FlagError& e) {
    usage_error(ctx.path, e.what());  // docker's flag parser's error
  }
  json body = {{"Container", p.args[1]}, {"EndpointConfig", ep}};
  ctx.c().request("POST", "/networks/" + q(p.args[0]) + "/connect", body.dump());
  return 0;
}

const Command kNetworkDisconnectCommand = {
    .use = "[OPTIONS] NETWORK CONTAINER",
    .summary = "Disconnect a container from a network",
    .flags = {{"force", 'f', "", "Force the container to disconnect from a network"}},
    .min_args = 2,
    .max_args = 2};

int cmd_network_disconnect(Ctx& ctx, const std::vector<std::string>& argv) {
  auto p = parse(ctx, kNetworkDisconnectCommand, argv);
  json body = {{"Container", p.args[1]}, {"Force", p.flag("force")}};
  ctx.c().request("POST", "/networks/" + q(p.args[0]) + "/disconnect", body.dump());
  return 0;
}

const Command kPortCommand = {.use = "CONTAINER [PRIVATE_PORT[/PROTO]]",
                              .summary = "List port mappings or a specific mapping for the container",
                              .aliases = {"container port", "port"},
                              .min_args = 1,
                              .max_args = 2};

int cmd_port(Ctx& ctx, const std::vector<std::string>& argv) {
  auto p = parse(ctx, kPortCommand, argv);
  auto c = json::parse(ctx.c().request("GET", "/containers/" + q(p.args[0]) + "/json").body);
  json ports = json::object();
  if (c.contains("NetworkSettings") && c["NetworkSettings"].is_object() && c["NetworkSettings"].contains("Ports"))
    ports = c["NetworkSettings"]["Ports"];
  std::vector<std::string> lines;
  if (p.args.size() == 2) {
    const std::string& want = p.args[1];
    auto slash = want.find('/');
    std::string port = want.substr(0, slash), proto = slash == std::string::npos ? "" : want.substr(slash + 1);
    if (proto.empty()) proto = "tcp";
    uint64_t v = 0;
    if (auto err = parse_uint16(port, v)) throw ExitError{1, "Error: invalid port (" + port + "): " + *err};
    std::string key = port + "/" + proto;
    if (!ports.is_object() || !ports.contains(key) || !ports[key].is_array() || ports[key].empty())
      throw ExitError{1, "Error: No public port '" + want + "' published for " + p.args[0]};
    for (auto& f : ports[key]) lines.push_back(join_host_port(f.value("HostIp", ""), f.value("HostPort", "")));
    std::sort(lines.begin(), lines.end(), [](const std::string& a, const std::string& b) { return natural_less(a, b); });
  } else {
    lines = port_lines(ports);
  }
  if (!lines.empty()) out(join(lines, "\n") + "\n");
  return 0;
}

}  // namespace hoist::cli
