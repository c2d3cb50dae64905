// Hoist's networks: the predefined ones (bridge, host, none), user-defined bridge networks, and
// each running container's sandbox (its network namespace, its endpoints on networks, its
// published ports, its names for the embedded DNS). The engine's one interface to networking:
// it creates a sandbox before a container starts and releases it once the container is gone.
//
// The kernel side (links, namespaces, nftables, port sockets, DNS sockets) sits behind DataPlane,
// so that the rules here (addresses, names, errors, what is kept across restarts) are unit tested
// without root. On disk (<state_dir>/):
//   networks/<id>.json   one per user-defined network and the default bridge
//   sandboxes/<cid>.json one per container that has a sandbox (running, or not yet released)
//   ipam.json            the address leases (network/ipam.h)
// All written atomically: after a kill -9 at any moment a restart finds each network, sandbox and
// lease whole or absent; leases whose sandbox is gone are released at start.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/error.h"
#include "network/dns.h"
#include "network/ipam.h"
#include "network/nat.h"
#include "network/netlink.h"

namespace hoist::network {

// A reference that is the prefix of several networks' ids (dockerd's 400): what() in the words
// of dockerd's lookup for run, rm, connect...; the inspect route words it its own way.
class AmbiguousNetwork : public InvalidArgument {
 public:
  AmbiguousNetwork(const std::string& ref, std::size_t matches)
      : InvalidArgument("network " + ref + " is ambiguous (" + std::to_string(matches) +
                        " matches found based on ID prefix)"),
        ref(ref), matches(matches) {}
  std::string ref;
  std::size_t matches;
};

// A container's scope of the embedded DNS server: its id, and its own upstreams (--dns; empty: the
// server's).
struct DnsScope {
  std::string scope;
  std::vector<std::string> upstreams;
};

// The kernel operations the controller needs (network/netlink.h, nat.h, dns.h); a fake in tests.
class DataPlane {
 public:
  virtual ~DataPlane() = default;
  virtual void ensure_bridge(const BridgeConfig& c) = 0;
  virtual void delete_link(const std::string& name) = 0;
  // With `dns`, the embedded DNS server serves that scope in the new namespace from the start (its
  // sockets made by the thread that made the namespace: dns_add without entering it again).
  virtual void create_netns(const std::string& path, const DnsScope* dns) = 0;
  virtual void remove_netns(const std::string& path) = 0;
  virtual bool is_netns(const std::string& path) = 0;
  virtual void add_veth(const VethConfig& c) = 0;
  virtual void delete_link_in_netns(const std::string& netns_path, const std::string& name) = 0;
  virtual void apply_nat(const NatRules& rules) = 0;
  virtual void remove_nat() = 0;
  virtual std::uint16_t reserve_port(const std::string& proto, std::uint32_t host_ip, std::uint16_t port) = 0;
  virtual void release_port(const std::string& proto, std::uint32_t host_ip, std::uint16_t port) = 0;
  virtual std::vector<Subnet> host_routes() = 0;
  virtual void set_sysctl(const std::string& key, const std::string& value) = 0;
  // The embedded DNS's sockets for container `scope` in its namespace; `upstreams`: where its
  // other names go (its --dns servers; empty: the host's resolvers).
  virtual void dns_add(const std::string& scope, const std::string& netns_path,
                       const std::vector<std::string>& upstreams) = 0;
  virtual void dns_remove(const std::string& scope) = 0;
};

// The real one: rtnetlink, an nftables table named `nft_table`, bound port sockets and a DNS
// server whose upstreams are `dns_upstreams` and whose names come from `resolver`.
std::unique_ptr<DataPlane> make_kernel_data_plane(const std::string& nft_table, DnsResolver resolver,
                                                  std::vector<std::string> dns_upstreams);

struct NetworkInfo {
  std::string id;       // 64 hex
  std::string name;
  std::string driver;   // "bridge", "host", "null"
  std::string created;  // RFC 3339
  std::string bridge;   // the device (bridge driver)
  std::optional<Subnet> subnet;
  std::uint32_t gateway = 0;
  std::optional<Subnet> ip_range;
  bool internal = false, attachable = false, masquerade = true;
  bool icc = true;  // com.docker.network.bridge.enable_icc: its containers reach each other
  bool predefined = false;  // bridge, host, none: never removed
  bool default_bridge = false;
  int mtu = 1500;
  std::map<std::string, std::string> labels, options;
};

// What a container asks of one network (NetworkingConfig.EndpointsConfig[name]).
struct EndpointRequest {
  std::optional<std::uint32_t> ip;   // IPAMConfig.IPv4Address
  std::vector<std::string> aliases;  // Aliases (--network-alias)
  std::string mac;                   // MacAddress
  // Links ("NAME:ALIAS", network/links.h): on a user-defined network the embedded DNS answers
  // ALIAS with NAME's addresses, to this container alone (dockerd's legacy links there).
  std::vector<std::string> links;
};

// One container port to publish: HostConfig.PortBindings' entry, or an exposed port with -P.
struct PortRequest {
  std::string proto = "tcp";
  std::uint16_t container_port = 0;
  std::uint32_t host_ip = 0;
  std::uint16_t host_port_lo = 0, host_port_hi = 0;  // 0: any free port; a range: the first free
};

struct Endpoint {
  std::string network_id, network_name, endpoint_id;
  std::string ifname, host_ifname;  // "eth0", "veth1a2b3c4"
  std::uint32_t address = 0, gateway = 0;
  int prefix = 0;
  std::string mac;
  std::vector<std::string> aliases;  // as asked (inspect's Aliases)
  std::vector<std::string> dns_names;  // what the embedded DNS answers for it
  std::vector<std::pair<std::string, std::string>> links;  // alias → name, for its own queries
  std::optional<std::uint32_t> requested_ip;
};

struct BoundPort {
  std::string proto;
  std::uint16_t container_port = 0;
  std::uint32_t host_ip = 0;
  std::uint16_t host_port = 0;
};

struct Sandbox {
  std::string container_id, container_name, hostname;
  std::string netns_path;  // "" for the host's network
  std::string sandbox_id;  // 64 hex
  std::string mode;        // the NetworkMode it was made for
  std::vector<Endpoint> endpoints;
  std::vector<BoundPort> ports;
  bool user_dns = false;   // on a user-defined network: resolv.conf points at 127.0.0.11
  std::vector<std::string> dns_servers;  // HostConfig.Dns: the embedded DNS forwards there
};

struct AttachRequest {
  std::string container_id, container_name, hostname;
  std::string mode;  // HostConfig.NetworkMode: "", "default", "bridge", "none", "host", a network, "container:<id>"
  // Endpoint settings by network name or id (the mode's network and any others to join).
  std::map<std::string, EndpointRequest> endpoints;
  // false: the mode's network is joined only when `endpoints` names it (the container was
  // disconnected from it while stopped, as dockerd allows: Docker Compose v1 does it to reconnect
  // with aliases).
  bool join_mode = true;
  std::vector<PortRequest> ports;
  // HostConfig.Dns: on a user-defined network the embedded DNS forwards the container's other
  // names to these (IP addresses) instead of the host's resolvers; kept across restarts.
  std::vector<std::string> dns_servers;
};

struct ControllerOptions {
  std::string state_dir;   // <data_root>/network
  std::string netns_dir;   // <exec_root>/netns
  std::string bridge_name = "hoist0";   // the default bridge's device
  std::optional<Subnet> bip_subnet;     // --bip: its subnet ...
  std::uint32_t bip_gateway = 0;        // ... and the gateway address
  std::vector<Subnet> pools;            // address pools for new networks (Docker's by default)
  int mtu = 1500;
  bool icc = true;                      // --icc: the default bridge's containers reach each other
  std::string bridge_prefix = "br-";    // user networks' devices: prefix + 12 hex of the id
  // A network event: "create", "destroy", "connect", "disconnect" (container: its id).
  std::function<void(const std::string& action, const NetworkInfo& n, const std::string& container)> on_event;
};

class NetworkController {
 public:
  NetworkController(ControllerOptions opts, std::unique_ptr<DataPlane> plane);
  ~NetworkController();

  // Loads networks, sandboxes and leases; makes the default bridge (its subnet the first pool no
  // host route overlaps, or --bip); brings every bridge up, rebuilds the nftables table and the
  // DNS sockets of the sandboxes whose namespace is still there (the rest are released).
  void start();
  // Releases the sandboxes of containers not in `live` (those that exited while hoistd was
  // down): called once the containers are restored.
  void release_except(const std::set<std::string>& live);

  // --- networks
  struct CreateRequest {
    std::string name, driver = "bridge";
    bool internal = false, attachable = false, check_duplicate = true;
    std::map<std::string, std::string> labels, options;
    // IPAM.Config[0]
    std::string subnet, gateway, ip_range;
  };
  // Docker's checks and words: Conflict "network with name X already exists", Forbidden-like
  // errors for overlapping pools (see api), InvalidArgument for bad input.
  NetworkInfo create(const CreateRequest& r);
  std::vector<NetworkInfo> list() const;
  // By full id, name, or unique id prefix (Docker's order); NotFound "network X not found",
  // AmbiguousNetwork for a prefix of several ids.
  NetworkInfo get(const std::string& ref) const;
  // Forbidden ("... is a pre-defined network and cannot be removed"), or Conflict for one in use.
  void remove(const std::string& ref);
  // The containers on a network: id → endpoint.
  std::map<std::string, Endpoint> endpoints_of(const std::string& network_id) const;
  std::map<std::string, std::string> container_names_on(const std::string& network_id) const;

  // --- containers
  // Makes the container's sandbox: Sandbox.netns_path is the namespace to run it in ("" for the
  // host's). All or nothing: on error nothing is left (addresses, links, ports, rules).
  Sandbox attach(const AttachRequest& r);
  // Releases everything attach() and connect() made; nothing when there is no sandbox.
  void release(const std::string& container_id);
  std::optional<Sandbox> sandbox(const std::string& container_id) const;
  // Joins a running container's sandbox to one more network (docker network connect).
  Endpoint connect(const std::string& container_id, const std::string& network, const EndpointRequest& req);
  void disconnect(const std::string& container_id, const std::string& network);
  // The netns a container:<id> mode joins: the sandbox of that container (NotFound / Conflict
  // when it has none).
  std::string netns_of(const std::string& container_id) const;

  // --- the embedded DNS's questions
  std::vector<std::uint32_t> lookup(const std::string& container_id, const std::string& name);
  std::optional<std::string> reverse(const std::string& container_id, std::uint32_t address) const;

  // Counts the changes of networks and sandboxes: a view made at one value is current while the
  // value stays (the API caches what `ps` shows of each container's network by it).
  std::uint64_t generation() const;

  // Options of the predefined bridge (for /etc/hosts' host-gateway): its gateway.
  std::uint32_t default_gateway() const;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

// Helpers shared with the API.
// One of NetworkingConfig.EndpointsConfig (Docker's EndpointSettings): IPAMConfig.IPv4Address,
// Aliases, MacAddress, Links (each checked: network/links.h); InvalidArgument for a bad address
// or any IPv6 one.
EndpointRequest endpoint_request(const nlohmann::json& es);
std::string mac_for(std::uint32_t ip);  // Docker's 02:42:<ip bytes>
nlohmann::json network_json(const NetworkInfo& n, const std::map<std::string, Endpoint>& eps,
                            const std::map<std::string, std::string>& names);

}  // namespace hoist::network
