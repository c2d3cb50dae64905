// A container's own mounts as Docker's API gives them (HostConfig.Binds, HostConfig.Mounts,
// HostConfig.Tmpfs, HostConfig.VolumesFrom and the Config.Volumes of the container and its image),
// parsed and checked with dockerd's rules and messages, merged into the container's mount plan as
// dockerd does at create, and Docker's "Mounts" view of them (container inspect, ps). The engine
// makes the plan's volumes (volume_store.h), keeps the resolved plan in the container's record and
// turns each MountPoint into an OCI mount at start.
#pragma once
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace hoist::volumes {

struct MountPoint {
  enum class Type { Bind, Volume, Tmpfs };
  Type type = Type::Bind;
  std::string source;       // bind: an absolute host path; volume: the volume's host path once made
  std::string destination;  // absolute, cleaned path in the container
  bool read_only = false;
  std::string mode;         // -v's mode text as given ("ro,rshared"); inspect's Mode
  std::string propagation;  // bind: "rprivate" unless given
  bool recursive = true;    // bind: rbind (BindOptions.NonRecursive: bind)
  std::vector<std::string> options;  // tmpfs: mount options (Docker's merge applied)
  bool create_source = false;  // bind from Binds: a missing host directory is made at start (as -v)
  bool shown = true;           // false for HostConfig.Tmpfs entries: not in inspect's Mounts
  // Volumes.
  std::string name;         // "" until the engine makes an anonymous volume
  std::string driver;       // "local"
  std::string subpath;      // VolumeOptions.Subpath: the part of the volume mounted
  bool copy_data = true;    // copy the image's files at the destination into an empty volume (not nocopy)
  bool anonymous = false;   // no source was named (-v /path, image VOLUME): rm -v and --rm remove it
  std::map<std::string, std::string> volume_options;  // VolumeOptions.DriverConfig.Options: for a volume made here
  std::map<std::string, std::string> volume_labels;   // VolumeOptions.Labels: likewise
};

// The label dockerd (23 and later) gives the volumes it names itself.
inline constexpr const char* kAnonymousLabel = "com.docker.volume.anonymous";

// "-v SRC:DST[:MODE]" or "-v DST" (an anonymous volume): a bind when SRC is absolute, else the
// volume SRC. MODE as dockerd's: at most one each of ro/rw, z/Z, a propagation, nocopy and a
// consistency; a propagation only for binds, nocopy only for volumes. Throws InvalidArgument
// with dockerd's words ("invalid volume specification: 'x'", "invalid mode: x").
MountPoint parse_bind(const std::string& spec);
// One HostConfig.Mounts entry (Type bind, volume or tmpfs). A bind's source must exist unless
// `check_source` is false.
MountPoint parse_api_mount(const nlohmann::json& m, bool check_source = true);
// One HostConfig.Tmpfs entry: destination and its "opt,opt" text.
MountPoint parse_tmpfs(const std::string& destination, const std::string& options);
// Every user mount of a HostConfig: Binds, then Mounts, then Tmpfs, with dockerd's checks
// (including "Duplicate mount point: /x"). Throws InvalidArgument with dockerd's message.
std::vector<MountPoint> user_mounts(const nlohmann::json& host_config);
// "CONTAINER[:ro|rw]" of HostConfig.VolumesFrom → container and mode ("" , "ro" or "rw").
std::pair<std::string, std::string> parse_volumes_from(const std::string& spec);

// Everything a container create mounts, as dockerd's registerMountPoints and its Config.Volumes
// step decide it: the mounts of each VolumesFrom container (`mounts_of` gives them by name; it
// throws for an unknown one), replaced by the user's mounts at the same destination, then an
// anonymous volume for each path of `config_volumes` (the container's and its image's
// Config.Volumes) that nothing else mounts. HostConfig.VolumeDriver must be "" or "local".
// Volumes keep an empty name until the engine makes them.
using MountsOf = std::function<std::vector<MountPoint>(const std::string& container)>;
std::vector<MountPoint> plan_mounts(const nlohmann::json& host_config, const std::vector<std::string>& config_volumes,
                                    const MountsOf& mounts_of);

// A volume name as dockerd's local driver takes it ([a-zA-Z0-9][a-zA-Z0-9_.-]+); InvalidArgument
// with its words ("volume name is too short, ...") otherwise, without the "create NAME: " prefix.
void check_volume_name(const std::string& name);

// A name for a volume nobody named: 64 random hex digits, as dockerd's.
std::string anonymous_volume_name();

// Docker's tmpfs option merge: a later flag wins over its opposite, key=value by key.
std::vector<std::string> merge_tmpfs_options(const std::vector<std::string>& in);

// The "Mounts" of container inspect and ps: Type, Name, Source, Destination, Driver, Mode, RW,
// Propagation as dockerd reports them (Name and Driver for volumes only), sorted by destination.
nlohmann::json inspect_mounts(const std::vector<MountPoint>& mounts);
// The same for a HostConfig of a record made before mounts were resolved at create. Lenient: an
// entry that does not parse is left out.
nlohmann::json inspect_mounts(const nlohmann::json& host_config);

// The record form of a resolved plan, and back (an entry it cannot read throws InvalidArgument).
nlohmann::json mounts_to_json(const std::vector<MountPoint>& mounts);
std::vector<MountPoint> mounts_from_json(const nlohmann::json& j);

}  // namespace hoist::volumes
