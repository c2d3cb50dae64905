// OCI runtime spec (config.json) generation from Docker's API inputs, as dockerd does it
// (daemon/oci_linux.go, oci/defaults.go).
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/containers/seccomp_default.h"
#include "volumes/mounts.h"

namespace hoist::engine {

struct SpecInput {
  std::string id;                  // container id (64 hex)
  nlohmann::json config;           // Docker's container Config
  nlohmann::json host_config;      // Docker's HostConfig
  nlohmann::json image_config;     // the image config's "config" object
  std::string rootfs;              // absolute path of the mounted rootfs
  std::string hostname;            // default: first 12 chars of id (or Config.Hostname)
  std::string hosts_path, resolv_conf_path, hostname_path;  // binds ("" = none)
  std::string cgroup_parent;       // "/hoist" → cgroupsPath "/hoist/<id>"
  std::string init_path;           // static init bound at /sbin/docker-init for HostConfig.Init
  std::string netns_path;          // "" → new netns; NetworkMode "host" → no netns
  // The container's own mounts, resolved (binds and volumes by host path); null → HostConfig's
  // binds and tmpfs.
  const std::vector<volumes::MountPoint>* mounts = nullptr;
  // Variables of the container's legacy links (engine/container_links.h): after PATH, HOSTNAME
  // and TERM, before the image's and the container's own, which replace them by name (dockerd's).
  std::vector<std::string> link_env;
};

// Merges image and container config (Entrypoint/Cmd, Env, WorkingDir, User) and builds the spec.
// Throws hoist::InvalidArgument with Docker's messages for bad input.
nlohmann::json build_oci_spec(const SpecInput& in);

// One of HostConfig.DeviceCgroupRules ("c 1:3 mr", "a *:* rwm") as an OCI device cgroup rule;
// InvalidArgument with dockerd's message for a malformed one.
nlohmann::json device_cgroup_rule(const std::string& rule);

// Docker's default masked and read-only paths (those of an unprivileged container).
const std::vector<std::string>& default_masked_paths();
const std::vector<std::string>& default_readonly_paths();

// Process args after Entrypoint/Cmd merging (inspect's Path + Args). Empty when nothing to run.
std::vector<std::string> resolve_command(const nlohmann::json& config, const nlohmann::json& image_config);

// Docker's Env merge: image first, container entries replace by key.
std::vector<std::string> merge_env(const nlohmann::json& image_env, const nlohmann::json& container_env);

// Effective capability list: defaults (or all available when privileged) + add - drop. "ALL"
// supported (the available ones), names case-insensitive with or without "CAP_". Throws
// InvalidArgument for unknown names and for names not in `available` (dockerd's words for both).
std::vector<std::string> effective_capabilities(const nlohmann::json& cap_add, const nlohmann::json& cap_drop,
                                                bool privileged);
std::vector<std::string> effective_capabilities(const nlohmann::json& cap_add, const nlohmann::json& cap_drop,
                                                bool privileged, const std::vector<std::string>& available);

struct ResolvedUser {
  uint32_t uid = 0, gid = 0;
  std::vector<uint32_t> additional_gids;
};
// "name", "uid", "name:group", "uid:gid" resolved against <rootfs>/etc/passwd and /etc/group,
// read with every path confined to the rootfs. group_add: names or numbers.
ResolvedUser resolve_user(const std::string& rootfs, const std::string& user,
                          const std::vector<std::string>& group_add = {});

}  // namespace hoist::engine
