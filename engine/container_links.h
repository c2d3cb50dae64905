// Legacy container links (HostConfig.Links, `docker run --link NAME[:ALIAS]`) as dockerd keeps
// them: checked at create, stored as "NAME:ALIAS" (the linked container's name when linked) and
// shown by inspect as "/NAME:/LINKING/ALIAS"; at a start on the default bridge each linked
// container must run and gives the linking one an /etc/hosts line and ALIAS_* variables
// (network/links.h); its later starts move that line to its new address; `rm --link` removes one;
// the linked container is also named "/LINKING/ALIAS" (link_target, link_names).
// On a user-defined network HostConfig.Links are dropped, as dockerd does (EndpointSettings.Links
// give names there: network/networks.h).
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "engine/containers/manager.h"
#include "network/links.h"
#include "network/networks.h"

namespace hoist::engine {

// HostConfig.Links of a create, checked with dockerd's words (the network mode; each linked
// container exists: InvalidArgument "could not get container for X: No such container: X") and
// rewritten in `host_config` as stored ("NAME:ALIAS", one per alias, the first kept).
void check_create_links(ContainerManager& m, nlohmann::json& host_config);

// Inspect's HostConfig.Links of a stored HostConfig: "/NAME:/LINKING/ALIAS" (null for none).
nlohmann::json links_view(const std::string& linking_name, const nlohmann::json& host_config);

// What a start of `r` on the default bridge gets from its links, each linked container checked
// (Error "Cannot link to a non running container: /NAME AS /LINKING/ALIAS", or one not on the
// default bridge).
struct StartLinks {
  std::vector<network::HostEntry> hosts;  // /etc/hosts lines, after the extra hosts
  std::vector<std::string> env;           // the ALIAS_* variables
};
StartLinks start_links(ContainerManager& m, network::NetworkController& ctl, const ContainerRecord& r);

// `linked` (just started) has a new address: the /etc/hosts lines of the running containers
// linked to it move there (rewritten in place: the file is bound into them).
void refresh_linking_hosts(ContainerManager& m, network::NetworkController& ctl, const ContainerRecord& linked);

// A container renamed: the links to it follow it (the linking containers' HostConfig.Links).
void rename_links(ContainerManager& m, const std::string& old_name, const std::string& new_name);

// A link's name, as dockerd gives one: the container a linking container links as `alias` is
// also named "/LINKING/ALIAS" (in lookups and in the list's Names).
// The name `host_config_json` (a linking container's stored HostConfig) links as `alias`.
std::optional<std::string> link_target(const std::string& host_config_json, const std::string& alias);
// Each linked container's link names, "/LINKING/ALIAS" sorted, by the linked container's name.
std::map<std::string, std::vector<std::string>> link_names(const std::vector<ContainerRecord>& all);

// DELETE /containers/{name}?link=1: `name` is "/LINKING/ALIAS" (or without the first "/");
// NotFound "No such container: NAME" when no such link is there, Error "Conflict, cannot remove
// the default link name of the container" for a container's own name (dockerd's 500).
void remove_link(ContainerManager& m, const std::string& name);

}  // namespace hoist::engine
