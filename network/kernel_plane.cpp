// The DataPlane of a running hoistd: netlink.h, nat.h and dns.h together.
#include <mutex>

#include "network/networks.h"

namespace hoist::network {

namespace {

class KernelPlane : public DataPlane {
 public:
  KernelPlane(const std::string& table, DnsResolver resolver, std::vector<std::string> upstreams)
      : nft_(table), dns_(std::move(resolver), std::move(upstreams)) {}
  void ensure_bridge(const BridgeConfig& c) override { network::ensure_bridge(c); }
  void delete_link(const std::string& name) override { network::delete_link(name); }
  void create_netns(const std::string& path, const DnsScope* dns) override {
    if (!dns) return network::create_netns(path);
    network::create_netns(path, [&] { dns_.add_here(dns->scope, path, "127.0.0.11", 53, dns->upstreams); });
  }
  void remove_netns(const std::string& path) override { network::remove_netns(path); }
  bool is_netns(const std::string& path) override { return network::is_netns(path); }
  void add_veth(const VethConfig& c) override { network::add_veth(c); }
  void delete_link_in_netns(const std::string& netns_path, const std::string& name) override {
    network::delete_link_in_netns(netns_path, name);
  }
  void apply_nat(const NatRules& rules) override {
    if (rules == last_) return;  // nothing changed: no transaction
    nft_.apply(rules);
    last_ = rules;
  }
  void remove_nat() override {
    nft_.remove();
    last_.reset();
  }
  std::uint16_t reserve_port(const std::string& proto, std::uint32_t host_ip, std::uint16_t port) override {
    std::lock_guard lk(ports_mu_);
    return ports_.reserve(proto, host_ip, port);
  }
  void release_port(const std::string& proto, std::uint32_t host_ip, std::uint16_t port) override {
    std::lock_guard lk(ports_mu_);
    ports_.release(proto, host_ip, port);
  }
  std::vector<Subnet> host_routes() override { return network::host_routes(); }
  void set_sysctl(const std::string& key, const std::string& value) override { network::set_sysctl(key, value); }
  void dns_add(const std::string& scope, const std::string& netns_path,
               const std::vector<std::string>& upstreams) override {
    dns_.add(scope, netns_path, "127.0.0.11", 53, upstreams);
  }
  void dns_remove(const std::string& scope) override { dns_.remove(scope); }

 private:
  Nftables nft_;
  std::optional<NatRules> last_;
  std::mutex ports_mu_;
  PortReservations ports_;
  DnsServer dns_;
};

}  // namespace

std::unique_ptr<DataPlane> make_kernel_data_plane(const std::string& nft_table, DnsResolver resolver,
                                                  std::vector<std::string> dns_upstreams) {
  return std::make_unique<KernelPlane>(nft_table, std::move(resolver), std::move(dns_upstreams));
}

}  // namespace hoist::network
