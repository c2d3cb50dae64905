// Legacy container links (`docker run --link NAME[:ALIAS]`, HostConfig.Links) as dockerd makes
// them on the default bridge: the link's text, the linked container's /etc/hosts line in the
// linking container, and the ALIAS_* environment variables it gets.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "network/container_files.h"

namespace hoist::network {

struct LinkSpec {
  std::string name;   // the linked container's name or id, without a leading "/"
  std::string alias;  // the name it has in the linking container
};

// One HostConfig.Links entry, as dockerd's ParseLink reads it: "NAME", "NAME:ALIAS", or the
// form inspect shows ("/NAME:/LINKING/ALIAS"). Error (dockerd's 500) "bad format for links: X"
// for more than one ':' and "empty string specified for links" for "".
LinkSpec parse_link(const std::string& spec);

// What a link needs of the linked container.
struct LinkedContainer {
  std::string name;      // without the leading "/"
  std::string hostname;  // its Config.Hostname (its id's first 12 characters by default)
  std::string ip;        // its address on the default bridge
  std::vector<std::string> env;                              // its Config.Env (KEY=value)
  std::vector<std::pair<std::uint16_t, std::string>> ports;  // its exposed ports (number, "tcp"/"udp")
};

// The linking container's /etc/hosts line for the link: "IP\tALIAS HOSTNAME NAME" (NAME only
// when it is not the alias), as dockerd writes it.
HostEntry link_host_entry(const std::string& alias, const LinkedContainer& c);

// The variables dockerd gives the linking container `linking` (its name, without "/") for a
// link: <ALIAS>_PORT, <ALIAS>_PORT_<n>_<PROTO>{,_ADDR,_PORT,_PROTO}, the _START/_END ones of a
// run of 3 or more consecutive ports, <ALIAS>_NAME=/linking/alias and <ALIAS>_ENV_<VAR> for the
// linked container's variables but HOME and PATH, each name once. ALIAS: the alias upper-cased,
// '-' as '_'.
std::vector<std::string> link_env(const std::string& linking, const std::string& alias, LinkedContainer c);

}  // namespace hoist::network
