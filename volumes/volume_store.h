// Named volumes of the `local` driver, as dockerd's local driver and volume store keep them.
//
// On disk, under `root` (<data-root>/volumes):
//   <name>/_data       the volume's files (or, for a volume with options, where its device is mounted)
//   <name>/meta.json   {Name, Driver, Labels, Options, CreatedAt}
// A volume is made in ".tmp-<name>-<random>/" and appears by rename, complete; a removal renames
// it to ".rm-<random>/" first. Names never start with '.', so a kill -9 at any point leaves the
// old state or the new one plus leftovers that opening the store removes.
//
// Users: the containers that reference a volume (in use: remove refuses it), kept in memory and
// rebuilt by the engine from its container records at start. Mounts: a volume with options
// (type/device/o) has its device mounted on _data while at least one container that runs uses it,
// as dockerd's local driver does; the store counts those users by container id.
//
// Thread-safe (one mutex).
#pragma once
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace hoist::volumes {

struct Volume {
  std::string name;
  std::string driver = "local";
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> options;  // type, device, o
  std::string created_at;                      // RFC 3339, seconds
  std::string mountpoint;                      // <root>/<name>/_data
  bool anonymous() const;                      // has the com.docker.volume.anonymous label
};

// The local driver's options checked as dockerd checks them (keys type/device/o; type and device
// together; o needs device; size refused without quotas). InvalidArgument with its words.
void check_local_options(const std::map<std::string, std::string>& options);

// "o" of a volume's options split as mount(8) would: flags (MS_*) and the rest as data.
struct MountOptions {
  unsigned long flags = 0;       // without propagation flags
  unsigned long propagation = 0; // MS_SHARED etc., applied by a second call
  std::string data;
};
MountOptions parse_mount_options(const std::string& o);

class VolumeStore {
 public:
  // Opens (creates) the store: loads every volume, removes leftovers of interrupted creates and
  // removals. A volume whose meta.json cannot be read is skipped with a warning (its files stay).
  explicit VolumeStore(std::string root);
  ~VolumeStore();
  VolumeStore(const VolumeStore&) = delete;
  VolumeStore& operator=(const VolumeStore&) = delete;

  const std::string& root() const { return root_; }

  // Creates the volume or returns the one of that name (dockerd keeps the existing volume's labels
  // and options). `created` says which. Errors as dockerd's: "create NAME: <why>" (InvalidArgument
  // for a bad name or option, NotFound for a driver other than local).
  Volume create(const std::string& name, const std::string& driver, const std::map<std::string, std::string>& labels,
                const std::map<std::string, std::string>& options, bool* created = nullptr);
  // NotFound "get NAME: no such volume".
  Volume get(const std::string& name) const;
  bool exists(const std::string& name) const;
  std::vector<Volume> list() const;  // sorted by name
  // Conflict "remove NAME: volume is in use - [ids]"; NotFound "get NAME: no such volume" (a
  // caller with force ignores it).
  void remove(const std::string& name);

  // References by container id (in use while any). add_user throws NotFound when the volume is gone.
  void add_user(const std::string& name, const std::string& container_id);
  void remove_user(const std::string& name, const std::string& container_id);
  // Replaces a placeholder user (a container being created) by the container's id everywhere.
  void rename_user(const std::string& from, const std::string& to);
  std::vector<std::string> users(const std::string& name) const;

  // The host path to bind for a container that starts: a volume with options gets its device
  // mounted on _data for the first one (mount(2); errors as dockerd's "failed to mount local
  // volume: ..."). Counted per container id, so a repeated call is harmless.
  std::string mount(const std::string& name, const std::string& container_id);
  // The container stopped: the last one out unmounts the device. A container that did not mount
  // it is ignored.
  void unmount(const std::string& name, const std::string& container_id);
  // After a restart: the containers that run now with each volume they use. Devices of volumes no
  // running container uses are unmounted; the counts start from these users.
  void set_mounted_users(const std::map<std::string, std::set<std::string>>& running_users);

  // Bytes of the files under `path`, not following symlinks, not crossing into other mounts.
  static std::int64_t disk_usage(const std::string& path);

 private:
  struct Entry {
    Volume v;
    std::set<std::string> users;    // containers that reference it
    std::set<std::string> mounted;  // running containers that use it (volumes with options)
  };
  Entry& entry(const std::string& name, const char* op);
  const Entry& entry(const std::string& name, const char* op) const;
  void load();
  bool device_mounted(const Entry& e) const;

  std::string root_;
  mutable std::mutex mu_;
  std::map<std::string, Entry> vols_;
};

}  // namespace hoist::volumes
