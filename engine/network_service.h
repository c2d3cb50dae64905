// hoistd's networks: the NetworkController (network/networks.h) on the kernel's data plane, set
// up from the daemon's flags, its events on the daemon's bus, and the /networks routes
// (engine/api/networks.cpp, registered by the ContainerService that joins containers to them).
#pragma once
#include <memory>
#include <set>
#include <string>

#include "engine/daemon.h"
#include "network/networks.h"

namespace hoist::engine {

class NetworkService {
 public:
  // Loads and brings up the networks (NetworkController::start). Create before the
  // ContainerService (whose restore may start containers).
  explicit NetworkService(Daemon& d);
  ~NetworkService();
  network::NetworkController& controller() { return *ctl_; }

 private:
  Daemon& d_;
  std::unique_ptr<network::NetworkController> ctl_;
};

// "172.17.0.1/16" (--bip) → the subnet and the gateway; InvalidArgument otherwise.
std::pair<network::Subnet, std::uint32_t> parse_bip(const std::string& bip);
// dockerd's --default-address-pool "base=10.10.0.0/16,size=24" → its subnets, in order.
std::vector<network::Subnet> parse_address_pool(const std::string& spec);

}  // namespace hoist::engine
