// The data plane of bridge networks over rtnetlink (libnl-route-3): network namespaces kept as
// files, bridges, veth pairs whose container end is created straight inside the container's
// namespace, addresses, routes, MTU and link state. No `ip` process. Every error names the
// operation, the device or path and the kernel's reason ("add veth vethab12cd3 (peer eth0 in
// /run/hoist/netns/ID): File exists"); the kernel's EEXIST is thrown as Conflict, its ENODEV as
// NotFound, an invalid interface name, MAC or prefix as InvalidArgument. Every call opens its own
// netlink socket in the calling thread's namespace: any thread may call, none is moved.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "network/ipam.h"

namespace hoist::network {

// A new network namespace, with `lo` up, bind-mounted at `path` (the file is created; its
// directory must exist). It lives while that mount (or a process in it) does. Conflict when
// `path` is already a namespace. Made on a thread of its own: no other thread changes namespace.
// The directory is made a private mount of its own the first time (a bind mount of itself, as
// `ip netns` does with /run/netns), so the namespace's mount never propagates to other mount
// namespaces, where a copy would keep it alive after remove_netns.
// `inside`, when given, runs on that thread in the new namespace once lo is up (what has to be
// made in the namespace, such as sockets, without entering it again); when it throws, the
// namespace is removed and the error passed on.
void create_netns(const std::string& path, const std::function<void()>& inside = {});
// Unmounts (detached) and unlinks `path`; nothing when it is absent. The kernel frees the
// namespace, and the container ends of its veth pairs with it, once no process is left in it.
void remove_netns(const std::string& path);
// Whether `path` is a mounted network namespace.
bool is_netns(const std::string& path);
// Runs `fn` on a short-lived thread that has entered the namespace at `path` (setns): sockets
// `fn` opens belong to that namespace. Exceptions from `fn` are passed on.
void in_netns(const std::string& path, const std::function<void()>& fn);

struct BridgeConfig {
  std::string name;       // e.g. "hoist0", at most 15 bytes
  Subnet subnet;          // the gateway's prefix length comes from it
  std::uint32_t gateway;  // set on the bridge as gateway/prefix
  int mtu = 0;            // 0: the kernel's default (1500)
};
// Creates the bridge when it is absent, gives it the gateway address when it lacks it, sets the
// MTU and brings it up; an existing bridge of that name is reused as it is otherwise (daemon
// restarts). Error when `name` exists and is not a bridge.
void ensure_bridge(const BridgeConfig& c);
// Deletes a link of the host's namespace; nothing when it is absent.
void delete_link(const std::string& name);
bool link_exists(const std::string& name);

struct VethConfig {
  std::string bridge;          // the host end's master
  std::string host_name;       // the host end, e.g. "veth1a2b3c4"
  std::string netns_path;      // the container's namespace (create_netns)
  std::string container_name;  // the container end, e.g. "eth0"
  std::uint32_t address = 0;   // the container end's address ...
  int prefix = 0;              // ... and prefix length
  std::optional<std::uint32_t> gateway;  // a default route through it, when given
  std::string mac;             // "02:42:ac:11:00:02"; "" leaves the kernel's random one
  int mtu = 0;                 // 0: 1500
};
// A veth pair: the host end in the bridge and up, the other end created in the container's
// namespace under `container_name`, with its address, MAC, MTU, up, and the default route.
// All or nothing: a failure part way deletes the pair before the error is thrown.
void add_veth(const VethConfig& c);
// Deletes a link inside the namespace at `netns_path` (a container's end: its host end goes
// with it); nothing when it, or the namespace, is absent.
void delete_link_in_netns(const std::string& netns_path, const std::string& name);

// The IPv4 destinations of the host's routes in the main table (the default route excluded),
// for choosing a subnet that collides with none.
std::vector<Subnet> host_routes();
// The IPv4 addresses of the host's interfaces (loopback included).
std::vector<std::uint32_t> host_addresses();

// Writes `value` to /proc/sys/<key> ("net/ipv4/ip_forward"); nothing when it already holds it
// (compared word by word: procfs separates a vector's values with tabs). /proc/sys/net is the
// calling thread's namespace's: inside in_netns it sets the container's.
void set_sysctl(const std::string& key, const std::string& value);

}  // namespace hoist::network
