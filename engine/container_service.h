// hoistd's container service: the wiring between the Docker API and the container lifecycle.
// It owns the ContainerManager (engine/containers/) and its health monitor, builds each
// container's OCI spec from the stored config, the image's config and the daemon's settings,
// restores the containers found on disk, publishes container events, removes AutoRemove
// containers when they exit and answers the daemon's hooks (counts, images in use). The
// /containers and /exec routes (engine/api/containers.cpp) work through it.
#pragma once
#include <map>
#include <memory>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "engine/containers/health.h"
#include "engine/containers/oci_spec.h"
#include "engine/containers/manager.h"
#include "engine/daemon.h"
#include "network/networks.h"

namespace hoist::engine {

// Create before Daemon::start() (it adds its routes); destroy after stop().
class ContainerService {
 public:
  struct Options {
    std::string shim;          // hoist-shim binary
    std::string runtime_root;  // the runtime's --root (default <exec_root>/runtime)
    std::string cgroup_parent = "/hoist";
    std::string init;          // hoist-init binary (HostConfig.Init)
    network::NetworkController* networks = nullptr;  // sandboxes of bridge-mode containers
  };
  ContainerService(Daemon& d, Options opts);
  ~ContainerService();
  ContainerManager& manager() { return *mgr_; }
  network::NetworkController& networks() { return *opts_.networks; }
  // Publishes a container event (the manager's, and those the API causes: attach, detach,
  // restart) and acts on it: health checks start and stop, AutoRemove containers go.
  void publish(const ContainerRecord& r, const std::string& action, const std::map<std::string, std::string>& attrs);

 private:
  Daemon& d_;
  Options opts_;
  std::unique_ptr<ContainerManager> mgr_;
  std::unique_ptr<HealthMonitor> health_;  // destroyed before mgr_
  void start_health(const ContainerRecord& r);
  // The container's network: its sandbox (bridge modes) or the namespace it joins; fills
  // in.netns_path and writes /etc/hosts and /etc/resolv.conf.
  void setup_network(const ContainerRecord& r, SpecInput& in);
};

// The "config" object of an image's config blob ({} when the image is gone).
nlohmann::json image_config_of(Daemon& d, const std::string& image_id);

}  // namespace hoist::engine
