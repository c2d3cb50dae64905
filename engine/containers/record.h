// The persistent record of a container: <data_root>/containers/<id>/config.json, written
// atomically on every change (before the change is reported).
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace hoist::engine {

enum class ContainerState { Created, Running, Paused, Restarting, Removing, Exited, Dead };
const char* state_name(ContainerState s);  // Docker's words: "created", "running", ...
ContainerState parse_state(const std::string& s);

struct ContainerRecord {
  std::string id;          // 64 hex
  std::string name;        // without the leading "/"
  std::string image;       // the image as the user named it
  std::string image_id;    // sha256:...
  std::vector<std::string> layer_paths;  // lowest first
  std::string snapshot_mode = "overlay";  // or "copy"
  // The overlay is mounted `volatile` (no sync of the upper file system at unmount, nor at
  // syncfs), and the record is written without fsync: for containers nobody needs after a crash,
  // a build's steps (the build service removes those an interrupted build left; a record cut
  // short by a crash is an empty file, which restore takes for a create that did not finish).
  bool volatile_upper = false;
  // Disconnected from its NetworkMode's network while stopped: that network is joined at start
  // only when the endpoints name it again (AttachRequest::join_mode).
  bool network_mode_detached = false;
  std::string config_json = "{}";      // Docker's Config
  std::string host_config_json = "{}"; // Docker's HostConfig
  std::string endpoints_json = "{}";   // NetworkingConfig.EndpointsConfig: the networks to join at start
  // The mounts resolved at create (volumes/mounts.h mounts_to_json): volumes named, sources as host
  // paths. "" for a record made before mounts were resolved (then HostConfig's binds and tmpfs).
  std::string mounts_json;
  std::string oci_spec_json;           // the spec to run (root.path filled in at start)
  std::string created;     // RFC 3339
  ContainerState state = ContainerState::Created;
  pid_t pid = 0;
  int exit_code = 0;
  bool oom_killed = false;
  std::string error;
  std::string started_at = "0001-01-01T00:00:00Z";
  std::string finished_at = "0001-01-01T00:00:00Z";
  int restart_count = 0;
  bool manually_stopped = false;
  std::string health_json;  // State.Health ({"Status","FailingStreak","Log"}), "" without a health check  // by stop/kill: restart policies leave it alone (Docker's HasBeenManuallyStopped)
  bool tty = false;
  bool open_stdin = false;
  std::string stop_signal = "SIGTERM";
  int stop_timeout = 10;  // seconds
  std::string log_path;
  std::string cgroup_path;  // linux.cgroupsPath of the spec, for stats

  std::string to_json() const;
  static ContainerRecord from_json(const std::string& text);
  // Atomic write to <dir>/config.json, durable unless volatile_upper.
  void save(const std::string& dir) const;
  static ContainerRecord load(const std::string& dir);
};

}  // namespace hoist::engine
