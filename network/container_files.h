// A container's network mode and published ports as its HostConfig gives them, and the
// /etc/hosts and /etc/resolv.conf that hoistd writes for it and binds in, as dockerd writes them
// (HostConfig.ExtraHosts, Dns, DnsSearch, DnsOptions; the embedded DNS on user-defined networks).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace hoist::network {

enum class Mode {
  None,       // a network namespace of its own with only lo ("none")
  Host,       // the host's network namespace
  Bridge,     // a sandbox on a bridge network: "", "default", "bridge" or a network's name/id
  Container,  // another container's namespace ("container:<name|id>")
};

// HostConfig.NetworkMode. Whether a named network exists is the caller's question.
// InvalidArgument "invalid network mode: container:" for a container mode without a name.
Mode parse_mode(const std::string& network_mode);
// The name or id after "container:".
std::string mode_container(const std::string& network_mode);

// One published port as HostConfig.PortBindings gives it.
struct PortBindingSpec {
  std::string proto = "tcp";
  std::uint16_t container_port = 0;
  std::string host_ip;                               // "" or an IPv4 address
  std::uint16_t host_port_lo = 0, host_port_hi = 0;  // 0: any free port
};
// "80/tcp" → (80, "tcp"); dockerd's words for a bad one ("invalid port specification: ...").
std::pair<std::uint16_t, std::string> parse_port_key(const std::string& key);
// Every binding of HostConfig.PortBindings, checked as dockerd does.
std::vector<PortBindingSpec> port_bindings(const nlohmann::json& host_config);

// Checks the network fields of a HostConfig with dockerd's messages: NetworkMode, ExtraHosts,
// Dns* (each Dns entry an IPv4 or IPv6 address), PortBindings, Links (a list of strings: the
// engine checks the links themselves). `network_mode` ports on "host"/"none"/"container:" are
// dockerd's errors.
void check_host_config(const nlohmann::json& host_config);

struct HostEntry {
  std::string name, address;
};
// One ExtraHosts entry, "name:address" (the address may be IPv6: "h:::1"; "host-gateway": the
// caller puts the default bridge's gateway there), with dockerd's messages for a bad one.
HostEntry parse_extra_host(const std::string& spec);

// A container's /etc/hosts: Docker's localhost and IPv6 lines, the extra hosts and the
// container's own address and names (`self`, when it has an address). With the host's network
// and no extra hosts, the host's own file (`host_hosts`), as dockerd does.
std::string hosts_file(Mode mode, std::string_view host_hosts, const std::vector<HostEntry>& extra,
                       const std::vector<HostEntry>& self = {});

struct DnsConfig {
  std::vector<std::string> servers, search, options;  // HostConfig.Dns, DnsSearch, DnsOptions
};
// A container's /etc/resolv.conf from the host's (`host_resolv`). With the host's network, the
// host's file; otherwise its nameservers on loopback are dropped (unreachable from the container;
// Google's public resolvers when none is left, as dockerd). Any of Dns, DnsSearch, DnsOptions
// replaces that part ("." as the only search domain: none).
// `embedded_dns`: the container is on a user-defined network: its only nameserver is 127.0.0.11
// (the embedded DNS, which forwards to Dns when given, else to the host's resolvers: the caller
// hands Dns to it), DnsSearch/DnsOptions or the host's search and options, "ndots:0" added
// unless an ndots option is there, as dockerd writes it.
std::string resolv_conf(Mode mode, std::string_view host_resolv, const DnsConfig& dns, bool embedded_dns = false);

}  // namespace hoist::network
