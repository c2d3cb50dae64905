// EXPOSE's port specs, read as dockerd reads them (go-connections' nat.ParsePortSpec): "80",
// "80/udp", "8000-8010", and the publish forms "[ip:]host:container[/proto]" of which only the
// container port counts.
#pragma once
#include <string>
#include <vector>

namespace hoist::builder {

// The exposed ports of one spec ("80/tcp", ...). Throws InvalidArgument with nat's messages
// ("Invalid containerPort: x", "Invalid proto: x", ...).
std::vector<std::string> exposed_ports(const std::string& spec);

}  // namespace hoist::builder
