// hoistd's container service: the wiring between the Docker API and the container lifecycle.
// It owns the ContainerManager (engine/containers/) and its health monitor, builds each
// container's OCI spec from the stored config, the image's config and the daemon's settings,
// restores the containers found on disk, publishes container events, removes AutoRemove
// containers when they exit and answers the daemon's hooks (counts, images in use). The
// /containers and /exec routes (engine/api/containers.cpp) work through it.
#pragma once
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "engine/containers/health.h"
#include "engine/containers/oci_spec.h"
#include "engine/containers/manager.h"
#include "engine/daemon.h"
#include "network/networks.h"
#include "volumes/mounts.h"

namespace hoist::engine {

class VolumeService;

// Create before Daemon::start() (it adds its routes); destroy after stop().
class ContainerService {
 public:
  struct Options {
    std::string shim;          // hoist-shim binary
    std::string runtime_root;  // the runtime's --root (default <exec_root>/runtime)
    std::string cgroup_parent = "/hoist";
    std::string init;          // hoist-init binary (HostConfig.Init)
    network::NetworkController* networks = nullptr;  // sandboxes of bridge-mode containers
    VolumeService* volumes = nullptr;                // the containers' volumes
  };
  ContainerService(Daemon& d, Options opts);
  ~ContainerService();
  ContainerManager& manager() { return *mgr_; }
  network::NetworkController& networks() { return *opts_.networks; }
  VolumeService* volumes() { return opts_.volumes; }  // null when the daemon runs without volumes
  // Publishes a container event (the manager's, and those the API causes: attach, detach,
  // restart) and acts on it: health checks start and stop, AutoRemove containers go.
  void publish(const ContainerRecord& r, const std::string& action, const std::map<std::string, std::string>& attrs);

  // Creates a container: its mounts planned as dockerd does (VolumesFrom, Binds, Mounts, Tmpfs,
  // then an anonymous volume for each path of the container's and its image's Config.Volumes), its
  // volumes made and referenced, then its record. Nothing it made stays when it fails.
  std::string create(CreateParams p);
  // Removes a container (ContainerManager::remove); with `remove_volumes` (rm -v, --rm) its
  // anonymous volumes go too.
  void remove(const std::string& ref, bool force, bool remove_volumes);

  // The container's mounts as host paths, for whoever works on its file system (cp, archive,
  // export, diff): binds with their host source, volumes with their host directory (the volume's
  // _data, a mounted device's mount point; Source), tmpfs mounts (no host path: Source ""),
  // each with its Destination in the container, ReadOnly and Type. In the order they were
  // planned (sorted by destination). NotFound for an unknown container (id, prefix or name).
  std::vector<volumes::MountPoint> mounts_of(const std::string& container_ref) const;

  // Variables (KEY=value) the next start of container `id` gives its process without them being
  // in the container's record, inspect or commit (a build's secrets as env=): they are only in
  // the runtime's bundle under the exec root.
  void set_start_env(const std::string& id, std::vector<std::string> env);

 private:
  Daemon& d_;
  Options opts_;
  std::unique_ptr<ContainerManager> mgr_;
  std::unique_ptr<HealthMonitor> health_;  // destroyed before mgr_
  void start_health(const ContainerRecord& r);
  // The container's network: its sandbox (bridge modes) or the namespace it joins; fills
  // in.netns_path and writes /etc/hosts and /etc/resolv.conf. With `container:<X>`, the record's
  // Config takes X's Hostname and Domainname (what inspect shows then, as with dockerd).
  void setup_network(ContainerRecord& r, SpecInput& in);
  std::mutex remove_mu_;
  std::set<std::string> remove_volumes_;  // containers being removed with their anonymous volumes
  std::mutex start_env_mu_;
  std::map<std::string, std::vector<std::string>> start_env_;  // set_start_env, taken by the next start
};

// A record's mounts: those resolved at its create, or its HostConfig's binds and tmpfs for a
// record made before that.
std::vector<volumes::MountPoint> record_mounts(const ContainerRecord& r);

// The "config" object of an image's config blob ({} when the image is gone).
nlohmann::json image_config_of(Daemon& d, const std::string& image_id);

}  // namespace hoist::engine
