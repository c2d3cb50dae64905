// The networking parts of the CLI that need no daemon, as docker's CLI has them: -p/--publish and
// --expose (go-connections' nat.ParsePortSpecs), the PORTS column of ps and the lines of `port`,
// --network/--ip/--network-alias/--mac-address into NetworkingConfig, `network create`'s body and
// `network ls`'s rows. The commands themselves are in network.cpp and container.cpp.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "cli/args.h"

namespace hoist::cli {

// Config.ExposedPorts ({"80/tcp": {}}) and HostConfig.PortBindings ({"80/tcp": [{"HostIp": "",
// "HostPort": "8000"}]}) of -p values ("[ip:][hostPort[-end]:]containerPort[-end][/proto]", an IPv6
// address in brackets, or docker's "target=80,published=8080,protocol=udp"); throws InvalidArgument
// with docker's words ("invalid containerPort: x", "invalid hostPort: x", "invalid proto: x", ...).
struct PortSpecs {
  nlohmann::json exposed = nlohmann::json::object();
  nlohmann::json bindings = nlohmann::json::object();
};
PortSpecs parse_port_specs(const std::vector<std::string>& specs);
// --expose values ("80", "80/udp", "7000-7010") added to `exposed`; throws InvalidArgument.
void add_exposed_ports(nlohmann::json& exposed, const std::vector<std::string>& specs);

// ps's PORTS column from /containers/json's Ports, as docker's DisplayablePorts: sorted by private
// port, runs of consecutive ports published on the same numbers grouped ("0.0.0.0:80-81->80-81/tcp",
// "7000-7002/tcp"), the other mappings after them ("127.0.0.1:8000->80/tcp").
std::string ports_string(const nlohmann::json& ports);
// `hoist port CONTAINER`'s lines from NetworkSettings.Ports ("80/tcp -> 0.0.0.0:8000", an IPv6 host
// address in brackets), in docker's natural order.
std::vector<std::string> port_lines(const nlohmann::json& ports);
// Go's net.JoinHostPort: "[::1]:80" for an IPv6 host.
std::string join_host_port(const std::string& host, const std::string& port);
// sortorder.NaturalLess: digit runs compare as numbers ("80/tcp" < "443/tcp").
bool natural_less(std::string_view a, std::string_view b);

// What run's and create's networking flags make, as docker 28's CLI builds it: HostConfig.NetworkMode
// (the first --network, "default" without one), NetworkingConfig.EndpointsConfig (an entry per
// --network; "default" without one; none for a single network without options), and for an API older
// than 1.44 (no MacAddress per endpoint) the container's Config.MacAddress. Throws InvalidArgument
// with docker's words (conflicts, aliases on a network that is not user-defined, a bad MAC address),
// FlagError for a --network value docker's flag parser refuses.
struct Networking {
  std::string mode;
  nlohmann::json endpoints = nlohmann::json::object();
  std::string config_mac;  // Config.MacAddress ("" for none)
};
// `api_version` "" means the newest.
Networking networking_config(const Parsed& p, const std::string& api_version);
// The --link values (docker's ValidateLink: "NAME[:ALIAS]"; its words for a bad one).
std::vector<std::string> link_values(const Parsed& p);
// A network mode that names a network of the user's ("mynet"), not bridge/default/host/none/container:X.
bool user_defined_network(std::string_view mode);

// POST /networks/create's body for `network create`'s flags (docker's createIPAMConfig checks, in its
// words; CheckDuplicate for APIs before 1.44). Throws InvalidArgument.
nlohmann::json network_create_body(const Parsed& p, const std::string& name, const std::string& api_version);

// A network of GET /networks as `network ls` shows it: ID (12 digits unless !trunc), Name, Driver,
// Scope, IPv4, IPv6, Internal ("true"/"false"), Labels ("a=b,c="), CreatedAt (Go's time String).
nlohmann::json network_row(const nlohmann::json& n, bool trunc);
// An RFC 3339 time ("2026-12-06T06:37:49.271921657Z") as Go's time.String() in local time, its
// fraction kept without trailing zeros: "2026-12-06 06:37:49.271921657 +0000 UTC".
std::string go_time_string_nano(std::string_view rfc3339);

// pflag's "strings" flags: each value split at commas.
std::vector<std::string> csv_values(const std::vector<std::string>& values);

}  // namespace hoist::cli
