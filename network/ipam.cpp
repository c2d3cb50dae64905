#include "network/ipam.h"

#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/file.h"
#include "common/json.h"

namespace hoist::network {

using nlohmann::json;

std::optional<std::uint32_t> parse_ipv4(std::string_view text) {
  in_addr a{};
  if (inet_pton(AF_INET, std::string(text).c_str(), &a) != 1) return std::nullopt;
  return ntohl(a.s_addr);
}

std::string ipv4_str(std::uint32_t ip) {
  in_addr a{htonl(ip)};
  char buf[INET_ADDRSTRLEN];
  return inet_ntop(AF_INET, &a, buf, sizeof buf);
}

Subnet Subnet::parse(std::string_view cidr) {
  auto bad = [&] { return InvalidArgument("invalid subnet " + std::string(cidr)); };
  auto slash = cidr.find('/');
  if (slash == std::string_view::npos) throw bad();
  auto ip = parse_ipv4(cidr.substr(0, slash));
  auto len = cidr.substr(slash + 1);
  if (!ip || len.empty() || len.size() > 2 || len.find_first_not_of("0123456789") != std::string_view::npos)
    throw bad();
  Subnet s;
  s.prefix = std::stoi(std::string(len));
  if (s.prefix > 32) throw bad();
  s.base = *ip & s.mask();
  if (s.base != *ip) throw bad();
  return s;
}

std::string Subnet::str() const { return ipv4_str(base) + "/" + std::to_string(prefix); }

std::vector<Subnet> default_pools() {
  std::vector<Subnet> out;
  for (std::uint32_t b = 17; b <= 31; ++b) out.push_back({(172u << 24) | (b << 16), 16});
  for (std::uint32_t c = 0; c < 256; c += 16) out.push_back({(192u << 24) | (168u << 16) | (c << 8), 20});
  return out;
}

std::optional<Subnet> choose_subnet(const std::vector<Subnet>& pools, const std::vector<Subnet>& in_use) {
  for (const auto& p : pools) {
    bool free = true;
    for (const auto& u : in_use) free = free && !p.overlaps(u);
    if (free) return p;
  }
  return std::nullopt;
}

Ipam::Ipam(std::string state_file) : file_(std::move(state_file)) {
  if (::access(file_.c_str(), F_OK) != 0) return;
  auto j = parse_json(read_file(file_), file_);
  for (const auto& [name, p] : j.items()) {
    Pool pool;
    pool.subnet = Subnet::parse(p.at("subnet").get<std::string>());
    pool.range = Subnet::parse(p.at("range").get<std::string>());
    pool.gateway = parse_ipv4(p.at("gateway").get<std::string>()).value_or(0);
    pool.last = parse_ipv4(p.value("last", "0.0.0.0")).value_or(0);
    for (const auto& [ip, owner] : p.at("leases").items())
      if (auto a = parse_ipv4(ip)) pool.leases[*a] = owner.get<std::string>();
    pools_[name] = std::move(pool);
  }
}

void Ipam::save() const {
  json j = json::object();
  for (const auto& [name, p] : pools_) {
    json leases = json::object();
    for (const auto& [ip, owner] : p.leases) leases[ipv4_str(ip)] = owner;
    j[name] = {{"subnet", p.subnet.str()}, {"range", p.range.str()}, {"gateway", ipv4_str(p.gateway)},
               {"last", ipv4_str(p.last)}, {"leases", leases}};
  }
  // Atomic (a kill -9 at any moment leaves the old file or the new one) but not synced: a power
  // loss takes every namespace and container with it, so the leases it could lose no longer
  // matter (the controller releases the leases of sandboxes that are gone at start).
  write_file_atomic(file_, dump_json(j), 0600, false);
}

void Ipam::add_network(const std::string& network, const Subnet& subnet, std::uint32_t gateway,
                       std::optional<Subnet> range) {
  std::lock_guard lk(mu_);
  if (pools_.count(network)) throw Conflict("network " + network + " already has an address pool");
  if (!subnet.contains(gateway) || gateway == subnet.base || gateway == subnet.last())
    throw InvalidArgument("gateway " + ipv4_str(gateway) + " is not a host address of subnet " + subnet.str());
  Pool p;
  p.subnet = subnet;
  p.range = range.value_or(subnet);
  if (!subnet.contains(p.range.base) || !subnet.contains(p.range.last()))
    throw InvalidArgument("ip range " + p.range.str() + " is not within subnet " + subnet.str());
  p.gateway = gateway;
  p.leases[gateway] = "";
  pools_[network] = std::move(p);
  save();
}

void Ipam::remove_network(const std::string& network) {
  std::lock_guard lk(mu_);
  if (pools_.erase(network)) save();
}

bool Ipam::has_network(const std::string& network) const {
  std::lock_guard lk(mu_);
  return pools_.count(network) != 0;
}

Ipam::Pool& Ipam::pool(const std::string& network) {
  auto it = pools_.find(network);
  if (it == pools_.end()) throw NotFound("network " + network + " has no address pool");
  return it->second;
}

std::uint32_t Ipam::allocate(const std::string& network, const std::string& owner, std::optional<std::uint32_t> want) {
  std::lock_guard lk(mu_);
  auto& p = pool(network);
  std::uint32_t ip = 0;
  const std::uint32_t last_before = p.last;
  if (want) {
    if (!p.subnet.contains(*want) || *want == p.subnet.base || *want == p.subnet.last())
      throw InvalidArgument("address " + ipv4_str(*want) + " does not belong to subnet " + p.subnet.str());
    if (p.leases.count(*want)) throw Conflict("Address already in use");
    ip = *want;
  } else {
    // The host addresses of the range, the subnet's network and broadcast addresses excluded.
    std::uint32_t lo = std::max(p.range.base, p.subnet.base + 1), hi = std::min(p.range.last(), p.subnet.last() - 1);
    if (lo > hi) throw Error("no available IPv4 addresses on network " + network);
    std::uint64_t n = std::uint64_t{hi} - lo + 1;
    std::uint32_t start = p.last >= lo && p.last < hi ? p.last + 1 : lo;
    for (std::uint64_t i = 0; i < n; ++i) {
      std::uint32_t cand = static_cast<std::uint32_t>(lo + (std::uint64_t{start} - lo + i) % n);
      if (!p.leases.count(cand)) {
        ip = cand;
        break;
      }
    }
    if (ip == 0) throw Error("no available IPv4 addresses on network " + network);
    p.last = ip;
  }
  p.leases[ip] = owner;
  try {
    save();
  } catch (...) {
    p.leases.erase(ip);  // not on disk: not handed out, and the next search starts where it did
    p.last = last_before;
    throw;
  }
  return ip;
}

void Ipam::release(const std::string& network, std::uint32_t ip) {
  std::lock_guard lk(mu_);
  auto& p = pool(network);
  if (ip == p.gateway || !p.leases.erase(ip)) return;
  save();
}

std::map<std::uint32_t, std::string> Ipam::leases(const std::string& network) const {
  std::lock_guard lk(mu_);
  auto it = pools_.find(network);
  if (it == pools_.end()) throw NotFound("network " + network + " has no address pool");
  return it->second.leases;
}

}  // namespace hoist::network
