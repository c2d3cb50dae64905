// hoistd's volumes: the VolumeStore (volumes/volume_store.h) under <data-root>/volumes, its events
// on the daemon's bus, the /volumes routes (engine/api/volumes.cpp), system df's Volumes, and what
// the container service asks of it through a container's life:
//   create   make the volumes of a container's mount plan and reference them (make_volumes)
//   start    mount each volume (a device for volumes with options), copy the image's files into an
//            empty one, bind a subpath through a private mount point (attach)
//   stop     undo the start (detach)
//   remove   drop the references; rm -v and --rm remove the anonymous volumes (container_removed)
// A container's references are rebuilt from the records at start (restore).
#pragma once
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "engine/daemon.h"
#include "volumes/mounts.h"
#include "volumes/volume_store.h"

namespace hoist::engine {

class VolumeService {
 public:
  // Opens the store and registers the /volumes routes and the df hook. Create before Daemon::start().
  explicit VolumeService(Daemon& d);
  ~VolumeService();
  volumes::VolumeStore& store() { return *store_; }

  // Makes (or finds) each volume of `plan` with its options and labels (anonymous ones labelled
  // com.docker.volume.anonymous), references it for `holder` and fills in its Source. The names of
  // the volumes made here go to `made` (so that a failed create can take them back: abandon).
  void make_volumes(std::vector<volumes::MountPoint>& plan, const std::string& holder, std::vector<std::string>& made);
  // The holder is now the container `id`.
  void adopt(const std::string& holder, const std::string& id);
  // A create failed: the holder's references go, and the volumes it made.
  void abandon(const std::string& holder, const std::vector<std::string>& made);

  // A container starts on `rootfs` (mounted): each volume is mounted (event "mount"), an empty one
  // gets the image's files at its destination (unless nocopy), a subpath is bound on a private
  // mount point under <exec-root>/volume-mounts/<id>/, a missing bind source of -v is made.
  // Returns the mounts with the host paths to bind. On failure what was done is undone.
  std::vector<volumes::MountPoint> attach(const std::string& id, std::vector<volumes::MountPoint> mounts,
                                          const std::string& rootfs);
  // The container's run is over: its volumes are unmounted (event "unmount"). Harmless when it had
  // not attached.
  void detach(const std::string& id);
  // A container was removed: its references go; with `remove_anonymous` its anonymous volumes too,
  // unless another container uses them (as dockerd).
  void container_removed(const std::string& id, const std::vector<volumes::MountPoint>& mounts, bool remove_anonymous);
  // hoistd started: `mounts` of every container, `running` the ids that run now (live restore).
  void restore(const std::map<std::string, std::vector<volumes::MountPoint>>& mounts, const std::set<std::string>& running);

  // Publishes a volume event (create, destroy, mount, unmount, prune).
  void publish(const std::string& action, const std::string& name, std::map<std::string, std::string> attrs);

 private:
  void detach_locked(const std::string& id);

  Daemon& d_;
  std::unique_ptr<volumes::VolumeStore> store_;
  std::string staging_root_;  // <exec-root>/volume-mounts
  struct Attached {
    std::vector<std::string> volumes;  // names mounted for the container
    std::vector<std::string> staged;   // private mount points of its subpaths
  };
  std::mutex mu_;
  std::map<std::string, Attached> attached_;  // by container id
};

// The "Volumes" of system/df: each volume with UsageData {Size, RefCount}.
std::string volumes_df_json(VolumeService& v);

}  // namespace hoist::engine
