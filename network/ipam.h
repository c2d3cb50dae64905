// IPv4 address management for bridge networks: subnets, Docker's default address pools, and
// the leases of each network's addresses. Pure and persistent: no device is touched here. The
// networking issue's bridges use it; nothing in the engine does yet.
#pragma once
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hoist::network {

// An IPv4 address in host byte order; "10.1.2.3" ⇄ uint32_t.
std::optional<std::uint32_t> parse_ipv4(std::string_view text);
std::string ipv4_str(std::uint32_t ip);

struct Subnet {
  std::uint32_t base = 0;  // the network address (host bits zero)
  int prefix = 0;          // 0 to 32
  // "172.17.0.0/16"; InvalidArgument "invalid subnet X" otherwise (host bits set included, as
  // dockerd refuses "172.17.0.1/16" for --subnet).
  static Subnet parse(std::string_view cidr);
  std::string str() const;
  std::uint32_t mask() const { return prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - prefix); }
  std::uint32_t last() const { return base | ~mask(); }  // the broadcast address
  bool contains(std::uint32_t ip) const { return (ip & mask()) == base; }
  bool overlaps(const Subnet& o) const { return contains(o.base) || o.contains(base); }
  bool operator==(const Subnet&) const = default;
};

// Docker's default address pools, in order: 172.17.0.0/16 to 172.31.0.0/16, then
// 192.168.0.0/20 to 192.168.240.0/20.
std::vector<Subnet> default_pools();
// The first pool that overlaps none of `in_use` (the subnets of other networks and of the host's
// routes), or nullopt when every pool is taken.
std::optional<Subnet> choose_subnet(const std::vector<Subnet>& pools, const std::vector<Subnet>& in_use);

// The leases of every network in one JSON file, written atomically (temp + fsync + rename) before
// an address is handed out or taken back: after a crash at any point an address is either still
// leased or free, never leased twice.
class Ipam {
 public:
  // Loads `state_file` when it exists.
  explicit Ipam(std::string state_file);

  // A network's pool: its subnet, its gateway (leased to the network itself) and the range its
  // automatic addresses come from (the subnet when not given). InvalidArgument naming both when
  // the gateway or the range lies outside the subnet; Conflict when the network is known.
  void add_network(const std::string& network, const Subnet& subnet, std::uint32_t gateway,
                   std::optional<Subnet> range = std::nullopt);
  void remove_network(const std::string& network);
  bool has_network(const std::string& network) const;

  // Leases an address to `owner`: `want` when given (anywhere in the subnet; Conflict "Address
  // already in use" when leased), otherwise the next free one in the range after the last handed
  // out, wrapping around (so a released address is not reused at once). Error when the range is full.
  std::uint32_t allocate(const std::string& network, const std::string& owner,
                         std::optional<std::uint32_t> want = std::nullopt);
  void release(const std::string& network, std::uint32_t ip);
  // address → owner ("" for the gateway's network itself).
  std::map<std::uint32_t, std::string> leases(const std::string& network) const;

 private:
  struct Pool {
    Subnet subnet, range;
    std::uint32_t gateway = 0, last = 0;
    std::map<std::uint32_t, std::string> leases;
  };
  Pool& pool(const std::string& network);  // NotFound for an unknown one
  void save() const;

  std::string file_;
  mutable std::mutex mu_;
  std::map<std::string, Pool> pools_;
};

}  // namespace hoist::network
