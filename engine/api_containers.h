// The container endpoints of the Docker Engine API, over ContainerManager.
#pragma once
#include <map>
#include <memory>
#include <string>

#include "engine/containers.h"
#include "engine/daemon.h"
#include "engine/health.h"

namespace hoist::engine {

// Owns the ContainerManager of a daemon: restores the containers found on disk, registers the
// /containers routes and the daemon hooks (counts, images in use), publishes container events,
// removes AutoRemove containers when they exit. Create before Daemon::start(); destroy after stop().
class ContainerService {
 public:
  struct Options {
    std::string shim;          // hoist-shim binary
    std::string runtime_root;  // the runtime's --root (default <exec_root>/runtime)
    std::string cgroup_parent = "/hoist";
    std::string init;          // hoist-init binary (HostConfig.Init)
  };
  ContainerService(Daemon& d, Options opts);
  ~ContainerService();
  ContainerManager& manager() { return *mgr_; }

 private:
  Daemon& d_;
  Options opts_;
  std::unique_ptr<ContainerManager> mgr_;
  std::unique_ptr<HealthMonitor> health_;  // destroyed before mgr_
  void start_health(const ContainerRecord& r);
  void on_event(const ContainerRecord& r, const std::string& action, const std::map<std::string, std::string>& attrs);
};

// "Up 3 seconds", "Exited (0) 2 minutes ago", "Created": the Status column of `docker ps`.
std::string container_status(const ContainerRecord& r, std::int64_t now_unix);
// Docker's units.HumanDuration: "Less than a second", "About a minute", "3 hours", ...
std::string human_duration(std::int64_t seconds);

}  // namespace hoist::engine
