// A container's own mounts as Docker's API gives them (HostConfig.Binds, HostConfig.Mounts,
// HostConfig.Tmpfs), parsed and checked with dockerd's rules and messages, and Docker's "Mounts"
// view of them (container inspect, ps). The engine turns each MountPoint into an OCI mount.
// Named volumes, volume drivers and copy-up come here with the volumes issue.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace hoist::volumes {

struct MountPoint {
  enum class Type { Bind, Tmpfs };
  Type type = Type::Bind;
  std::string source;       // bind: an absolute host path
  std::string destination;  // absolute path in the container
  bool read_only = false;
  std::string mode;         // -v's mode text as given ("ro,rshared"); inspect's Mode
  std::string propagation;  // bind: "rprivate" unless given
  bool recursive = true;    // bind: rbind (BindOptions.NonRecursive: bind)
  std::vector<std::string> options;  // tmpfs: mount options (Docker's merge applied)
};

// "-v /src:/dst[:opts]" (opts: ro, rw, a propagation, z/Z/nocopy/consistent/cached/delegated
// accepted as dockerd does). Named volumes are refused ("not supported yet").
MountPoint parse_bind(const std::string& spec);
// One HostConfig.Mounts entry (Type bind or tmpfs). A bind's source must exist unless
// `check_source` is false.
MountPoint parse_api_mount(const nlohmann::json& m, bool check_source = true);
// One HostConfig.Tmpfs entry: destination and its "opt,opt" text.
MountPoint parse_tmpfs(const std::string& destination, const std::string& options);
// Every user mount of a HostConfig: Binds, then Mounts, then Tmpfs. Throws InvalidArgument with
// dockerd's message for a bad one.
std::vector<MountPoint> user_mounts(const nlohmann::json& host_config);

// Docker's tmpfs option merge: a later flag wins over its opposite, key=value by key.
std::vector<std::string> merge_tmpfs_options(const std::vector<std::string>& in);

// The "Mounts" of container inspect and ps for a HostConfig: Type, Source, Destination, Mode,
// RW, Propagation as dockerd reports them, sorted by destination. Lenient: an entry that does not
// parse (a record from an older version) is left out.
nlohmann::json inspect_mounts(const nlohmann::json& host_config);

}  // namespace hoist::volumes
