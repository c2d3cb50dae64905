#include "engine/containers/record.h"

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/file.h"

namespace hoist::engine {
using nlohmann::json;

namespace {
const char* kStates[] = {"created", "running", "paused", "restarting", "removing", "exited", "dead"};

json parse_or_object(const std::string& s) {
  auto j = json::parse(s, nullptr, false);
  return j.is_discarded() ? json::object() : j;
}
}  // namespace

const char* state_name(ContainerState s) { return kStates[static_cast<int>(s)]; }

ContainerState parse_state(const std::string& s) {
  for (int i = 0; i < 7; ++i)
    if (s == kStates[i]) return static_cast<ContainerState>(i);
  return ContainerState::Dead;
}

std::string ContainerRecord::to_json() const {
  json j = {{"ID", id},
            {"Name", name},
            {"Image", image},
            {"ImageID", image_id},
            {"LayerPaths", layer_paths},
            {"SnapshotMode", snapshot_mode},
            {"VolatileUpper", volatile_upper},
            {"NetworkModeDetached", network_mode_detached},
            {"Config", parse_or_object(config_json)},
            {"HostConfig", parse_or_object(host_config_json)},
            {"EndpointsConfig", parse_or_object(endpoints_json)},
            {"Mounts", mounts_json.empty() ? json(nullptr) : json::parse(mounts_json, nullptr, false)},
            {"OCISpec", oci_spec_json.empty() ? json(nullptr) : parse_or_object(oci_spec_json)},
            {"Created", created},
            {"State",
             {{"Status", state_name(state)},
              {"Pid", pid},
              {"ExitCode", exit_code},
              {"OOMKilled", oom_killed},
              {"Error", error},
              {"StartedAt", started_at},
              {"FinishedAt", finished_at}}},
            {"RestartCount", restart_count},
            {"ManuallyStopped", manually_stopped},
            {"Tty", tty},
            {"OpenStdin", open_stdin},
            {"StopSignal", stop_signal},
            {"StopTimeout", stop_timeout},
            {"LogPath", log_path},
            {"CgroupPath", cgroup_path}};
  if (!health_json.empty()) j["State"]["Health"] = json::parse(health_json, nullptr, false);
  return j.dump();
}

ContainerRecord ContainerRecord::from_json(const std::string& text) {
  json j = json::parse(text);
  ContainerRecord r;
  r.id = j.value("ID", "");
  r.name = j.value("Name", "");
  r.image = j.value("Image", "");
  r.image_id = j.value("ImageID", "");
  r.layer_paths = j.value("LayerPaths", std::vector<std::string>{});
  r.snapshot_mode = j.value("SnapshotMode", "overlay");
  r.volatile_upper = j.value("VolatileUpper", false);
  r.network_mode_detached = j.value("NetworkModeDetached", false);
  r.config_json = j.value("Config", json::object()).dump();
  r.host_config_json = j.value("HostConfig", json::object()).dump();
  r.endpoints_json = j.value("EndpointsConfig", json::object()).dump();
  if (j.contains("Mounts") && j["Mounts"].is_array()) r.mounts_json = j["Mounts"].dump();
  if (j.contains("OCISpec") && j["OCISpec"].is_object()) r.oci_spec_json = j["OCISpec"].dump();
  r.created = j.value("Created", "");
  auto st = j.value("State", json::object());
  r.state = parse_state(st.value("Status", "dead"));
  r.pid = st.value("Pid", 0);
  r.exit_code = st.value("ExitCode", 0);
  r.oom_killed = st.value("OOMKilled", false);
  r.error = st.value("Error", "");
  r.started_at = st.value("StartedAt", r.started_at);
  r.finished_at = st.value("FinishedAt", r.finished_at);
  if (st.contains("Health") && st["Health"].is_object()) r.health_json = st["Health"].dump();
  r.restart_count = j.value("RestartCount", 0);
  r.manually_stopped = j.value("ManuallyStopped", false);
  r.tty = j.value("Tty", false);
  r.open_stdin = j.value("OpenStdin", false);
  r.stop_signal = j.value("StopSignal", "SIGTERM");
  r.stop_timeout = j.value("StopTimeout", 10);
  r.log_path = j.value("LogPath", "");
  r.cgroup_path = j.value("CgroupPath", "");
  return r;
}

void ContainerRecord::save(const std::string& dir) const {
  write_file_atomic(dir + "/config.json", to_json(), 0600, !volatile_upper);
}

ContainerRecord ContainerRecord::load(const std::string& dir) {
  std::string path = dir + "/config.json";
  try {
    return from_json(read_file(path));
  } catch (const json::exception& e) {
    throw Error("container record " + path + ": " + e.what());
  }
}

}  // namespace hoist::engine
