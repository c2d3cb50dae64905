// Per-container state kept by the runtime under --root: <root>/<id>/state.json (atomic writes).
#pragma once
#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace hoist::runtime {

enum class Status { Creating, Created, Running, Paused, Stopped };
const char* status_name(Status s);

struct ContainerState {
  std::string id;
  pid_t pid = 0;
  unsigned long long pid_start = 0;  // /proc/<pid>/stat starttime, against pid reuse
  std::string bundle;
  std::string rootfs;
  std::string created;  // RFC 3339
  uid_t owner = 0;
  std::string cgroup_path;
  bool systemd_cgroup = false;
  bool creating = false;  // `create` has not finished (or was killed before it did)
  std::map<std::string, std::string> annotations;
};

class StateStore {
 public:
  explicit StateStore(std::string root) : root_(std::move(root)) {}
  const std::string& root() const { return root_; }
  std::string dir(const std::string& id) const { return root_ + "/" + id; }

  // Creates <root>/<id> exclusively; "container with id X already exists" if taken.
  void create_dir(const std::string& id) const;
  void save(const ContainerState& s) const;
  // Throws Error("container X does not exist") if there is none.
  ContainerState load(const std::string& id) const;
  bool exists(const std::string& id) const;
  std::vector<std::string> list() const;
  void remove(const std::string& id) const;

 private:
  std::string root_;
};

// Live status of a container from its recorded pid, the start socket and the freezer.
Status current_status(const StateStore& store, const ContainerState& s);
// starttime field of /proc/<pid>/stat (0 if the process is gone); zombie counts as gone.
unsigned long long process_start_time(pid_t pid);
// The OCI state JSON (with runc's extra fields) for `state`, hooks and `list`.
std::string state_json(const ContainerState& s, Status st, bool pretty = false);
// Validates a container id: [A-Za-z0-9_+-.] and not "." / "..".
void validate_id(const std::string& id);

}  // namespace hoist::runtime
