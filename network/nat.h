// NAT and filtering for bridge networks in an nftables table of Hoist's own (libnftables, one
// transaction per change: no `nft` or `iptables` process), and the host ports that published
// ports hold.
//
// The table (family ip) does:
// - masquerade: traffic from a network's subnet leaving through any other device (not for
//   --internal networks, nor with masquerade off);
// - published ports: DNAT of host_ip:host_port (any local address when host_ip is 0, 127.0.0.1
//   included, for traffic from outside (prerouting) and from the host itself (output)) to the
//   container's address and port; traffic DNAT'ed to a container from the host's own addresses
//   (127.0.0.1 above all) or from a container of the same bridge (hairpin) is masqueraded so
//   that replies come back through the host; a loopback destination from outside is never
//   DNAT'ed (a port published on 127.0.0.1 is the host's alone);
// - isolation: nothing is forwarded between two different networks' bridges, except to a
//   published port (DNAT'ed: open to every network, as with dockerd's userland proxy); an
//   --internal network's bridge forwards nothing to or from any other device, published ports
//   included; nothing from a bridge reaches the host's 127.0.0.0/8;
// - inter-container communication off (com.docker.network.bridge.enable_icc=false, hoistd --icc
//   for the default bridge): the containers of that bridge do not reach each other, except
//   through a published port (hairpin). Frames between two ports of one bridge are switched, not
//   routed: a table of family bridge of the same name drops every frame forwarded from one of
//   that bridge's container ports (listed by name: NatNetwork.ports); the ip table drops what is
//   routed from the bridge back to it. A hairpin connection is routed with br_netfilter off, but
//   bridged with it on (the kernel bridges a packet DNAT'ed to a neighbour of its own bridge): the
//   ip table's forward chain (which br_netfilter runs for bridged frames) sets kIccHairpinMark on
//   DNAT'ed packets of such a bridge, and the bridge table lets marked frames through (clearing
//   the mark).
//
// What the table needs of the devices (the data plane's part, not done here): each bridge has
// net.ipv4.conf.<bridge>.route_localnet=1 (the replies to 127.0.0.1's connections come from the
// bridge), each container's bridge port has hairpin mode on (where br_netfilter is active a
// hairpin packet is bridged back out of the port it came in by), and net.ipv4.ip_forward=1.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "common/fd.h"
#include "network/ipam.h"
#include "network/nft_lib.h"

namespace hoist::network {

struct NatNetwork {
  std::string bridge;  // device name
  Subnet subnet;
  bool internal = false;    // no way out (and no published ports)
  bool masquerade = true;   // com.docker.network.bridge.enable_ip_masquerade
  bool icc = true;          // com.docker.network.bridge.enable_icc
  std::vector<std::string> ports;  // with icc off: the bridge's container ports (host veth names)
  bool operator==(const NatNetwork&) const = default;
};

// The packet mark bit that lets a hairpin connection of an icc=false bridge through the bridge
// table when br_netfilter is on (set and cleared again within the forward hook).
inline constexpr std::uint32_t kIccHairpinMark = 0x00100000;

struct PortMapping {
  std::string proto;            // "tcp" or "udp"
  std::uint32_t host_ip = 0;    // 0: every address of the host
  std::uint16_t host_port = 0;
  std::uint32_t container_ip = 0;
  std::uint16_t container_port = 0;
  std::string bridge;           // the container's network's bridge
  bool operator==(const PortMapping&) const = default;
};

struct NatRules {
  std::vector<NatNetwork> networks;
  std::vector<PortMapping> ports;
  bool operator==(const NatRules&) const = default;
};

// The nft script that replaces table `table` (family ip, and family bridge when a network has
// icc off; none otherwise) with these rules in one transaction (pure; the unit tests read it).
// Includes the sysctl-free parts only. InvalidArgument for a table or device
// name that is not plain (letters, digits, '_', '.', '-'; a device at most 15 bytes, a table a
// letter first and at most 64), a protocol other than tcp and udp, or a mapping without host port,
// container address or container port: no input can add syntax to the script.
std::string render_ruleset(const std::string& table, const NatRules& rules);

// Deletes the IPv4 conntrack entries of the calling thread's network namespace whose original
// direction is `proto` to port `port` (and to address `host_ip` unless it is 0); returns how many
// went. A UDP "connection" lives as long as datagrams keep coming, so without this a client that
// keeps sending from one port stays DNAT'ed to the container that published the port first, after
// it is gone and another one publishes it. Error when netlink fails.
std::size_t delete_conntrack(const std::string& proto, std::uint32_t host_ip, std::uint16_t port);

// The table of one daemon. apply() replaces the whole table atomically, then deletes the conntrack
// entries of each UDP mapping that is new or changed (as dockerd does when it maps a UDP port);
// remove() deletes it (and the bridge table of that name; nothing when absent). Errors carry libnftables' message.
class Nftables {
 public:
  explicit Nftables(std::string table);
  Nftables(const Nftables&) = delete;
  Nftables& operator=(const Nftables&) = delete;
  void apply(const NatRules& rules);
  void remove();
  // Runs an nft command (for tests and diagnostics: "list table ip T"); returns its output.
  std::string run(const std::string& cmd);

 private:
  std::string exec(const std::string& script, const std::string& what);  // the output buffer

  std::string table_;
  std::mutex mu_;  // one command at a time
  NftRunner nft_;
  std::optional<NatRules> applied_;  // what the table holds (for the UDP mappings' conntrack)
};

// Host ports held by published ports: a bound socket per (proto, host_ip, port), so that no host
// process and no other container can take a port a container publishes (and a port some process
// holds already is refused). Connections never reach these sockets: DNAT comes first.
class PortReservations {
 public:
  // Binds proto/host_ip:port (port 0: a free port in the kernel's ephemeral range); returns the
  // port. Conflict "Bind for 0.0.0.0:8000 failed: port is already allocated" when this object
  // holds it already (or the same port on every address, or on one address for a request of every
  // address); Conflict "listen tcp4 0.0.0.0:8000: bind: address already in use" (as dockerd's
  // words) when some other socket has it; InvalidArgument for a protocol other than tcp and udp.
  std::uint16_t reserve(const std::string& proto, std::uint32_t host_ip, std::uint16_t port);
  void release(const std::string& proto, std::uint32_t host_ip, std::uint16_t port);
  bool held(const std::string& proto, std::uint32_t host_ip, std::uint16_t port) const;

 private:
  mutable std::mutex mu_;
  std::map<std::tuple<std::string, std::uint32_t, std::uint16_t>, UniqueFd> held_;
};

}  // namespace hoist::network
