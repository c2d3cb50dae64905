// What a container knows of the network before it has one of its own: its network mode, and the
// /etc/hosts and /etc/resolv.conf that hoistd writes for it and binds in, as dockerd writes them
// (HostConfig.ExtraHosts, Dns, DnsSearch, DnsOptions). Bridges, published ports and DNS between
// containers come here with the networking issue.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace hoist::network {

enum class Mode {
  None,  // a network namespace of its own with only lo ("none", and "default" until bridges exist)
  Host,  // the host's network namespace
};

// HostConfig.NetworkMode: "" and "default" (a default network of none for now), "none", "host".
// "bridge", a network's name and "container:<id>" are refused: InvalidArgument "... not supported
// yet". Throws for an unknown form as dockerd does.
Mode parse_mode(const std::string& network_mode);

// The network fields of a HostConfig that Hoist cannot honour yet (PortBindings, PublishAllPorts,
// Links): InvalidArgument saying so, rather than a container that silently lacks them. Also checks
// NetworkMode and ExtraHosts with dockerd's messages.
void check_host_config(const nlohmann::json& host_config);

struct HostEntry {
  std::string name, address;
};
// One ExtraHosts entry, "name:address" (the address may be IPv6: "h:::1"), with dockerd's
// messages for a bad one; "host-gateway" is refused (no bridge yet).
HostEntry parse_extra_host(const std::string& spec);

// A container's /etc/hosts: Docker's localhost and IPv6 lines and the extra hosts. With the
// host's network and no extra hosts, the host's own file (`host_hosts`), as dockerd does.
std::string hosts_file(Mode mode, std::string_view host_hosts, const std::vector<HostEntry>& extra);

struct DnsConfig {
  std::vector<std::string> servers, search, options;  // HostConfig.Dns, DnsSearch, DnsOptions
};
// A container's /etc/resolv.conf from the host's (`host_resolv`). With the host's network, the
// host's file; otherwise its nameservers on loopback are dropped (unreachable from the container;
// Google's public resolvers when none is left, as dockerd). Any of Dns, DnsSearch, DnsOptions
// replaces that part ("." as the only search domain: none).
std::string resolv_conf(Mode mode, std::string_view host_resolv, const DnsConfig& dns);

}  // namespace hoist::network
