#include "network/container_files.h"

#include <arpa/inet.h>

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

const char* const kNotYet = "is not supported yet: containers have no network of their own until networking lands "
                            "(use --network none or host)";

}  // namespace

Mode parse_mode(const std::string& m) {
  if (m.empty() || m == "default" || m == "none") return Mode::None;
  if (m == "host") return Mode::Host;
  if (m == "bridge") throw InvalidArgument(std::string("network mode \"bridge\" ") + kNotYet);
  if (m.rfind("container:", 0) == 0) {
    if (m.size() == 10) throw InvalidArgument("invalid network mode: " + m);
    throw InvalidArgument("network mode \"" + m + "\" " + kNotYet);
  }
  throw NotFound("network " + m + " not found");
}

HostEntry parse_extra_host(const std::string& spec) {
  // As dockerd: the name up to the first ':', the address after it (IPv6 addresses have colons).
  auto c = spec.find(':');
  if (c == std::string::npos || c == 0) throw InvalidArgument("bad format for add-host: \"" + spec + "\"");
  HostEntry e{spec.substr(0, c), spec.substr(c + 1)};
  if (e.address == "host-gateway")
    throw InvalidArgument("add-host \"" + spec + "\": host-gateway " + kNotYet);
  if (!is_ip(e.address)) throw InvalidArgument("invalid IP address in add-host: \"" + e.address + "\"");
  return e;
}

void check_host_config(const json& hc) {
  parse_mode(json_str(hc, "NetworkMode"));
  if (auto hosts = json_str_list(hc, "ExtraHosts"))
    for (const auto& h : *hosts) parse_extra_host(h);
  json_str_list(hc, "Dns");
  json_str_list(hc, "DnsSearch");
  json_str_list(hc, "DnsOptions");
  if (hc.contains("PortBindings") && hc["PortBindings"].is_object()) {
    for (const auto& [port, bindings] : hc["PortBindings"].items())
      if (!bindings.is_null() && !(bindings.is_array() && bindings.empty()))
        throw InvalidArgument("published ports (" + port + ") " + kNotYet);
  }
  if (json_flag(hc, "PublishAllPorts")) throw InvalidArgument(std::string("publishing all ports (-P) ") + kNotYet);
  if (auto links = json_str_list(hc, "Links"); links && !links->empty())
    throw InvalidArgument(std::string("links ") + kNotYet);
}

std::string hosts_file(Mode mode, std::string_view host_hosts, const std::vector<HostEntry>& extra) {
  if (mode == Mode::Host && extra.empty()) return std::string(host_hosts);
  std::string out =
      "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n"
      "ff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n";
  for (const auto& e : extra) out += e.address + "\t" + e.name + "\n";
  return out;
}

std::string resolv_conf(Mode mode, std::string_view host_resolv, const DnsConfig& dns) {
  std::string base;
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
