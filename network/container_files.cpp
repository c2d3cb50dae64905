#include "network/container_files.h"

#include <arpa/inet.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/json.h"
#include "common/strings.h"

namespace hoist::network {

using nlohmann::json;

namespace {

bool is_ip(const std::string& s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

bool is_loopback(const std::string& s) {
  unsigned char buf[16];
  if (inet_pton(AF_INET, s.c_str(), buf) == 1) return buf[0] == 127;
  return s == "::1";
}

// The words after `key` on the resolv.conf lines that start with it.
std::vector<std::string> resolv_values(std::string_view text, std::string_view key) {
  std::vector<std::string> out;
  for (auto& line : split(text, '\n')) {
    auto words = split(std::string(trim(line)), ' ');
    if (words.size() < 2 || words[0] != key) continue;
    for (std::size_t i = 1; i < words.size(); ++i)
      if (!words[i].empty()) out.push_back(words[i]);
  }
  return out;
}

}  // namespace

Mode parse_mode(const std::string& m) {
  if (m == "none") return Mode::None;
  if (m == "host") return Mode::Host;
  if (m.rfind("container:", 0) == 0) {
    if (m.size() == 10) throw InvalidArgument("invalid network mode: " + m);
    return Mode::Container;
  }
  return Mode::Bridge;
}

std::string mode_container(const std::string& m) { return m.rfind("container:", 0) == 0 ? m.substr(10) : ""; }

HostEntry parse_extra_host(const std::string& spec) {
  // As dockerd: the name up to the first ':', the address after it (IPv6 addresses have colons).
  auto c = spec.find(':');
  if (c == std::string::npos || c == 0) throw InvalidArgument("bad format for add-host: \"" + spec + "\"");
  HostEntry e{spec.substr(0, c), spec.substr(c + 1)};
  if (e.address == "host-gateway") return e;
  if (!is_ip(e.address)) throw InvalidArgument("invalid IP address in add-host: \"" + e.address + "\"");
  return e;
}

std::pair<std::uint16_t, std::string> parse_port_key(const std::string& key) {
  auto slash = key.find('/');
  std::string port = key.substr(0, slash), proto = slash == std::string::npos ? "tcp" : key.substr(slash + 1);
  if (proto != "tcp" && proto != "udp") {
    if (proto == "sctp") throw InvalidArgument("published sctp ports are not supported (tcp and udp are)");
    throw InvalidArgument("invalid proto: " + proto);
  }
  long long n = -1;
  try {
    n = parse_int(port, "port");
  } catch (const std::exception&) {
  }
  if (n < 1 || n > 65535) {
    if (port.find('-') != std::string::npos)
      throw InvalidArgument("invalid port specification: \"" + key + "\": a port range is not a port");
    throw InvalidArgument("invalid port specification: \"" + port + "\"");
  }
  return {static_cast<std::uint16_t>(n), proto};
}

std::vector<PortBindingSpec> port_bindings(const json& hc) {
  std::vector<PortBindingSpec> out;
  if (!hc.contains("PortBindings") || !hc["PortBindings"].is_object()) return out;
  for (const auto& [key, list] : hc["PortBindings"].items()) {
    auto [port, proto] = parse_port_key(key);
    if (list.is_null()) continue;
    if (!list.is_array()) throw InvalidArgument("PortBindings[" + key + "]: a list of bindings is expected");
    for (const auto& b : list) {
      PortBindingSpec p;
      p.proto = proto;
      p.container_port = port;
      if (!b.is_object()) throw InvalidArgument("PortBindings[" + key + "]: a binding is an object");
      p.host_ip = json_str(b, "HostIp");
      if (!p.host_ip.empty()) {
        unsigned char buf[16];
        if (inet_pton(AF_INET, p.host_ip.c_str(), buf) != 1) {
          if (inet_pton(AF_INET6, p.host_ip.c_str(), buf) == 1)
            throw InvalidArgument("published ports on IPv6 addresses are not supported (" + p.host_ip + ")");
          throw InvalidArgument("invalid host IP address: " + p.host_ip);
        }
        if (p.host_ip == "0.0.0.0") p.host_ip.clear();
      }
      std::string hp = json_str(b, "HostPort");
      if (!hp.empty()) {
        auto dash = hp.find('-');
        auto num = [&](const std::string& t) {
          long long n = -1;
          try {
            n = parse_int(t, "port");
          } catch (const std::exception&) {
          }
          if (n < 0 || n > 65535) throw InvalidArgument("invalid port specification: \"" + hp + "\"");
          return static_cast<std::uint16_t>(n);
        };
        p.host_port_lo = num(hp.substr(0, dash));
        p.host_port_hi = dash == std::string::npos ? p.host_port_lo : num(hp.substr(dash + 1));
        if (p.host_port_hi < p.host_port_lo)
          throw InvalidArgument("invalid port specification: \"" + hp + "\": the range ends before it starts");
      }
      out.push_back(p);
    }
  }
  return out;
}

void check_host_config(const json& hc) {
  auto mode_text = json_str(hc, "NetworkMode");
  auto mode = parse_mode(mode_text);
  if (auto hosts = json_str_list(hc, "ExtraHosts"))
    for (const auto& h : *hosts) parse_extra_host(h);
  for (const auto& s : json_str_list(hc, "Dns").value_or(std::vector<std::string>{}))
    if (!is_ip(s)) throw InvalidArgument("bad nameserver address " + s + ": not an IP address");
  json_str_list(hc, "DnsSearch");
  json_str_list(hc, "DnsOptions");
  auto ports = port_bindings(hc);
  bool publish = !ports.empty() || json_flag(hc, "PublishAllPorts");
  if (publish && mode == Mode::Container)
    throw Conflict("conflicting options: port publishing and the container type network mode");
  if (mode == Mode::Container && (!json_str_list(hc, "Dns").value_or(std::vector<std::string>{}).empty() ||
                                  !json_str_list(hc, "ExtraHosts").value_or(std::vector<std::string>{}).empty()))
    throw Conflict("conflicting options: dns and the network mode");
  if (hc.contains("Links") && !hc["Links"].is_null() &&
      (!hc["Links"].is_array() || std::any_of(hc["Links"].begin(), hc["Links"].end(), [](const json& l) { return !l.is_string(); })))
    throw InvalidArgument("HostConfig.Links: a list of strings is expected");
}

std::string hosts_file(Mode mode, std::string_view host_hosts, const std::vector<HostEntry>& extra,
                       const std::vector<HostEntry>& self) {
  if (mode == Mode::Host && extra.empty()) return std::string(host_hosts);
  std::string out =
      "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n"
      "ff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n";
  for (const auto& e : extra) out += e.address + "\t" + e.name + "\n";
  for (const auto& e : self) out += e.address + "\t" + e.name + "\n";
  return out;
}

std::string resolv_conf(Mode mode, std::string_view host_resolv, const DnsConfig& dns, bool embedded_dns) {
  std::string base;
  if (embedded_dns) {
    // dockerd: the embedded server in place of any nameserver (it forwards to Dns, or to the
    // host's), the host's search domains and options kept unless given, ndots:0 added.
    auto search = dns.search.empty() ? resolv_values(host_resolv, "search") : dns.search;
    auto options = dns.options.empty() ? resolv_values(host_resolv, "options") : dns.options;
    if (search.size() == 1 && search[0] == ".") search.clear();
    std::string out;
    if (!search.empty()) out += "search " + join(search, " ") + "\n";
    out += "nameserver 127.0.0.11\n";
    bool ndots = false;
    for (auto& o : options) ndots = ndots || o.rfind("ndots:", 0) == 0;
    if (!ndots) options.push_back("ndots:0");
    out += "options " + join(options, " ") + "\n";
    return out;
  }
  if (mode == Mode::Host) {
    base = std::string(host_resolv);
  } else {
    // dockerd's FilterResolvDNS: loopback nameservers go, the rest of the file stays.
    bool any = false;
    for (auto& line : split(host_resolv, '\n')) {
      auto words = split(std::string(trim(line)), ' ');
      if (words.size() >= 2 && words[0] == "nameserver") {
        if (is_loopback(words[1])) continue;
        any = true;
      }
      base += line + "\n";
    }
    while (base.size() >= 2 && base.compare(base.size() - 2, 2, "\n\n") == 0) base.pop_back();
    if (base == "\n") base.clear();
    if (!any) base += "\nnameserver 8.8.8.8\nnameserver 8.8.4.4";  // dockerd's text, to the byte
  }
  if (dns.servers.empty() && dns.search.empty() && dns.options.empty()) return base;
  // Any of them given: the file is built anew, the parts not given taken from the base.
  auto servers = dns.servers.empty() ? resolv_values(base, "nameserver") : dns.servers;
  auto search = dns.search.empty() ? resolv_values(base, "search") : dns.search;
  auto options = dns.options.empty() ? resolv_values(base, "options") : dns.options;
  if (search.size() == 1 && search[0] == ".") search.clear();
  std::string out;
  if (!search.empty()) out += "search " + join(search, " ") + "\n";
  for (const auto& s : servers) out += "nameserver " + s + "\n";
  if (!options.empty()) out += "options " + join(options, " ") + "\n";
  return out;
}

}  // namespace hoist::network
