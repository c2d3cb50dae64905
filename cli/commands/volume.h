// The volume parts of the CLI that need no daemon, as docker 28's CLI has them: run's and
// create's -v, --mount, --tmpfs, --volumes-from and --volume-driver into the create body, and
// `volume ls`'s rows. The commands themselves are in volume.cpp.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/args.h"

namespace hoist::cli {

// One --mount value (docker's MountOpt: CSV "type=volume,src=x,dst=/y,readonly,volume-opt=k=v,...")
// as a HostConfig.Mounts entry; throws FlagError with docker's words ("invalid argument \"v\" for
// \"--mount\" flag: target is required").
nlohmann::json parse_mount_flag(const std::string& value);

// What run's and create's mount flags make: HostConfig.Binds (the -v values with a source; a
// relative "./x" source made absolute), Config.Volumes (the -v values that name only a path),
// HostConfig.Mounts, HostConfig.Tmpfs, HostConfig.VolumesFrom and HostConfig.VolumeDriver.
// Throws InvalidArgument for a -v docker's CLI refuses ("invalid empty volume spec", "invalid
// spec: :/x: empty section between colons"), FlagError for a bad --mount.
struct MountFlags {
  nlohmann::json binds = nlohmann::json::array();
  nlohmann::json config_volumes = nlohmann::json::object();
  nlohmann::json mounts = nlohmann::json::array();
  nlohmann::json tmpfs = nlohmann::json::object();
  nlohmann::json volumes_from = nlohmann::json::array();
  std::string volume_driver;
};
MountFlags mount_flags(const Parsed& p);
// Adds them to a create body (`config`) and its HostConfig (`host_config`), only what was given.
void apply_mount_flags(const MountFlags& m, nlohmann::json& config, nlohmann::json& host_config);

// A volume of GET /volumes as `volume ls` shows it: Name, Driver, Scope, Mountpoint, Labels
// ("a=b,c="), and N/A for what only cluster volumes and `system df` have.
nlohmann::json volume_row(const nlohmann::json& v);

}  // namespace hoist::cli
