#include "engine/network_service.h"

#include "common/error.h"
#include "common/file.h"
#include "common/log.h"
#include "common/strings.h"

namespace hoist::engine {

std::pair<network::Subnet, std::uint32_t> parse_bip(const std::string& bip) {
  auto slash = bip.find('/');
  auto ip = network::parse_ipv4(bip.substr(0, slash));
  long long prefix = -1;
  if (slash != std::string::npos) {
    try {
      prefix = parse_int(bip.substr(slash + 1), "prefix");
    } catch (const std::exception&) {
    }
  }
  if (!ip || prefix < 1 || prefix > 30) throw InvalidArgument("invalid --bip " + bip + ": gateway/prefix expected (172.17.0.1/16)");
  network::Subnet s;
  s.prefix = static_cast<int>(prefix);
  s.base = *ip & s.mask();
  if (*ip == s.base || *ip == s.last()) throw InvalidArgument("invalid --bip " + bip + ": the gateway must be a host address");
  return {s, *ip};
}

std::vector<network::Subnet> parse_address_pool(const std::string& spec) {
  std::string base;
  long long size = -1;
  for (auto& part : split(spec, ',')) {
    auto eq = part.find('=');
    std::string k = part.substr(0, eq), v = eq == std::string::npos ? "" : part.substr(eq + 1);
    if (k == "base") base = v;
    else if (k == "size") {
      try {
        size = parse_int(v, "size");
      } catch (const std::exception&) {
      }
    } else {
      throw InvalidArgument("invalid default address pool " + spec + ": unknown key " + k);
    }
  }
  auto b = network::Subnet::parse(base);
  if (size < b.prefix || size > 30) throw InvalidArgument("invalid default address pool " + spec + ": size must be from the base's prefix to 30");
  std::vector<network::Subnet> out;
  std::uint64_t count = std::uint64_t{1} << (size - b.prefix);
  if (count > 65536) count = 65536;
  for (std::uint64_t i = 0; i < count; ++i)
    out.push_back({static_cast<std::uint32_t>(b.base + (i << (32 - size))), static_cast<int>(size)});
  return out;
}

namespace {

// The nameservers of the host's resolv.conf: the embedded DNS's upstreams.
std::vector<std::string> nameservers(const std::string& resolv_conf) {
  std::vector<std::string> out;
  std::string text;
  try {
    text = read_file(resolv_conf);
  } catch (const std::exception& ex) {
    log::warn("embedded DNS: " + std::string(ex.what()));
  }
  for (auto& line : split(text, '\n')) {
    auto words = split(std::string(trim(line)), ' ');
    if (words.size() >= 2 && words[0] == "nameserver" && network::parse_ipv4(words[1])) out.push_back(words[1]);
  }
  return out;
}

}  // namespace

NetworkService::NetworkService(Daemon& d) : d_(d) {
  const auto& cfg = d.config();
  network::ControllerOptions o;
  o.state_dir = cfg.data_root + "/network";
  o.netns_dir = cfg.exec_root + "/netns";
  o.bridge_name = cfg.bridge_name;
  if (!cfg.bip.empty()) {
    auto [sub, gw] = parse_bip(cfg.bip);
    o.bip_subnet = sub;
    o.bip_gateway = gw;
  }
  for (auto& p : cfg.default_address_pools)
    for (auto& s : parse_address_pool(p)) o.pools.push_back(s);
  o.mtu = cfg.mtu;
  o.icc = cfg.icc;
  o.on_event = [this](const std::string& action, const network::NetworkInfo& n, const std::string& container) {
    Event e;
    e.type = "network";
    e.action = action;
    e.actor_id = n.id;
    e.attributes = {{"name", n.name}, {"type", n.driver}};
    if (!container.empty()) e.attributes["container"] = container;
    d_.events().publish(std::move(e));
  };
  network::DnsResolver resolver;
  // The DNS server's thread asks the controller, which exists by the time a socket is open.
  auto* ctl_slot = &ctl_;
  resolver.lookup = [ctl_slot](const std::string& scope, const std::string& name) {
    return *ctl_slot ? (*ctl_slot)->lookup(scope, name) : std::vector<std::uint32_t>{};
  };
  resolver.reverse = [ctl_slot](const std::string& scope, std::uint32_t a) -> std::optional<std::string> {
    return *ctl_slot ? (*ctl_slot)->reverse(scope, a) : std::nullopt;
  };
  auto plane = network::make_kernel_data_plane(cfg.nft_table, std::move(resolver), nameservers(cfg.resolv_conf));
  ctl_ = std::make_unique<network::NetworkController>(std::move(o), std::move(plane));
  ctl_->start();
}

NetworkService::~NetworkService() = default;

}  // namespace hoist::engine
