#include "runtime/state.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/file.h"
#include "common/strings.h"
#include "runtime/cgroups/cgroups.h"
#include "runtime/spec.h"

namespace hoist::runtime {

using nlohmann::json;

const char* status_name(Status s) {
  switch (s) {
    case Status::Creating: return "creating";
    case Status::Created: return "created";
    case Status::Running: return "running";
    case Status::Paused: return "paused";
    case Status::Stopped: return "stopped";
  }
  return "unknown";
}

void validate_id(const std::string& id) {
  if (id.empty() || id == "." || id == ".." || id.size() > 1024 ||
      !std::all_of(id.begin(), id.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' || c == '+';
      }))
    throw Error("invalid container id \"" + id + "\"");
}

void StateStore::create_dir(const std::string& id) const {
  mkdir_all(root_, 0711);
  if (::mkdir(dir(id).c_str(), 0711) != 0) {
    if (errno == EEXIST) throw Error("container with id " + id + " already exists");
    throw_sys("mkdir", dir(id));
  }
}

void StateStore::save(const ContainerState& s) const {
  json j = {{"id", s.id},           {"pid", s.pid},         {"pid_start", s.pid_start},
            {"bundle", s.bundle},   {"rootfs", s.rootfs},   {"created", s.created},
            {"owner", s.owner},     {"cgroup_path", s.cgroup_path}, {"systemd_cgroup", s.systemd_cgroup}, {"creating", s.creating},
            {"annotations", s.annotations}};
  // Runtime state describes live processes: it need not survive a power loss, only a kill.
  write_file_atomic(dir(s.id) + "/state.json", j.dump(), 0600, /*durable=*/false);
}

bool StateStore::exists(const std::string& id) const { return path_exists(dir(id) + "/state.json"); }

ContainerState StateStore::load(const std::string& id) const {
  validate_id(id);
  std::string text;
  try {
    text = read_file(dir(id) + "/state.json");
  } catch (const SysError& e) {
    if (e.code() == ENOENT) throw Error("container " + id + " does not exist");
    throw;
  }
  try {
    json j = json::parse(text);
    ContainerState s;
    s.id = j.at("id").get<std::string>();
    s.pid = j.at("pid").get<pid_t>();
    s.pid_start = j.value("pid_start", 0ULL);
    s.bundle = j.value("bundle", "");
    s.rootfs = j.value("rootfs", "");
    s.created = j.value("created", "");
    s.owner = j.value("owner", 0u);
    s.cgroup_path = j.value("cgroup_path", "");
    s.systemd_cgroup = j.value("systemd_cgroup", false);
    s.creating = j.value("creating", false);
    s.annotations = j.value("annotations", std::map<std::string, std::string>{});
    return s;
  } catch (const json::exception& e) {
    throw Error("read state of container " + id + ": " + dir(id) + "/state.json: " + e.what());
  }
}

std::vector<std::string> StateStore::list() const {
  std::vector<std::string> out;
  DIR* d = ::opendir(root_.c_str());
  if (!d) {
    if (errno == ENOENT) return out;
    throw_sys("open", root_);
  }
  while (auto* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n == "." || n == "..") continue;
    if (path_exists(root_ + "/" + n + "/state.json")) out.push_back(n);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

void StateStore::remove(const std::string& id) const { remove_all(dir(id)); }

unsigned long long process_start_time(pid_t pid) {
  if (pid <= 0) return 0;
  std::string stat;
  try {
    stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  } catch (const Error&) {
    return 0;
  }
  auto rp = stat.rfind(')');
  if (rp == std::string::npos) return 0;
  auto fields = split(std::string_view(stat).substr(rp + 2), ' ');
  // fields[0] is the state (field 3); starttime is field 22.
  if (fields.size() < 20 || fields[0] == "Z" || fields[0] == "X") return 0;
  return std::stoull(fields[19]);
}

Status current_status(const StateStore& store, const ContainerState& s) {
  if (s.pid <= 0) return Status::Stopped;
  unsigned long long st = process_start_time(s.pid);
  if (st == 0 || (s.pid_start && st != s.pid_start)) return Status::Stopped;
  if (s.creating) return Status::Creating;
  if (path_exists(store.dir(s.id) + "/start.sock")) return Status::Created;
  if (!s.cgroup_path.empty()) {
    auto mgr = cgroups::open(cgroups::Layout::detect(), s.cgroup_path);
    if (mgr->frozen()) return Status::Paused;
  }
  return Status::Running;
}

std::string state_json(const ContainerState& s, Status st, bool pretty) {
  json j = {{"ociVersion", oci::kOciVersion},
            {"id", s.id},
            {"pid", st == Status::Stopped ? 0 : s.pid},
            {"status", status_name(st)},
            {"bundle", s.bundle},
            {"rootfs", s.rootfs},
            {"created", s.created},
            {"owner", s.owner == 0 ? "root" : std::to_string(s.owner)}};
  if (!s.annotations.empty()) j["annotations"] = s.annotations;
  return pretty ? j.dump(2) : j.dump();
}


}  // namespace hoist::runtime
