// Cgroup management for containers: cgroup v1, v2 and hybrid hosts, detected at run time.
// Every filesystem root is taken from a Layout so the writers can be tested on a fake tree.
#pragma once
#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/fd.h"
#include "runtime/spec.h"

namespace hoist::runtime::cgroups {

struct Layout {
  // cgroup2 mount point: the whole tree on a v2 host, e.g. /sys/fs/cgroup/unified on a hybrid
  // host, empty when there is none.
  std::string unified;
  // v1 hierarchies: controller name -> mount point ("cpu" -> /sys/fs/cgroup/cpu,
  // "cpuacct" -> ..., "name=systemd" -> ...). Co-mounted controllers share a mount point.
  std::map<std::string, std::string> v1;

  bool is_v2() const { return v1.empty() && !unified.empty(); }
  // Reads /proc/self/mountinfo (or the given text, for tests).
  static Layout detect();
  static Layout parse_mountinfo(const std::string& mountinfo);
};

// Turns linux.cgroupsPath into the path below each hierarchy's root.
//  - systemd style ("slice:prefix:name", with --systemd-cgroup) -> "/a.slice/a-b.slice/prefix-name.scope"
//    (slice "" = system.slice, "-.slice" = the root; a name ending in ".slice" is used as is;
//    prefix "" -> "name.scope"; empty cgroupsPath -> "/system.slice/hoist-runtime-<id>.scope")
//  - absolute -> itself; relative -> "/" + it (as runc's cgroupfs driver does), cleaned lexically
//    so that ".." cannot climb above the hierarchy root
//  - empty -> "/<id>"
std::string resolve_path(const std::string& cgroups_path, const std::string& id, bool systemd);

class Manager {
 public:
  virtual ~Manager() = default;
  // Creates the cgroup (and its parents) in every hierarchy; on v1 copies cpuset.cpus/mems
  // down from the parent where they are empty, on v2 enables the controllers on the way down
  // (not in the unified part of a hybrid host, which other runtimes share: that one is left as
  // the host set it).
  virtual void create() = 0;
  // Moves a process into the cgroup (every hierarchy).
  void add_pid(pid_t pid) { add_pid_to(pid, true, true); }
  // Moves a process into the cgroup in the v1 hierarchies (v1) and the cgroup2 one (v2). Moving
  // another process takes the kernel's global cgroup_threadgroup_rwsem for writing, which waits
  // for an RCU grace period (8-15 ms here) unless another move just did: see join_self_v1() and
  // open_v2() for the ways around it.
  virtual void add_pid_to(pid_t pid, bool v1, bool v2) = 0;
  // Moves the calling thread into the cgroup in every v1 hierarchy by writing 0 to `tasks`, which
  // moves one thread and takes no global lock: no grace period. For a process of one thread
  // (the runtime's init or exec child, before it starts others), in the host's user namespace
  // and with the host's cgroup mounts in view. Nothing to do on a v2 host.
  virtual void join_self_v1() = 0;
  // This cgroup's directory in the cgroup2 hierarchy (create() first), for clone3's
  // CLONE_INTO_CGROUP: a child born there needs no move, so no grace period. An empty fd when
  // the host has no cgroup2 hierarchy.
  virtual UniqueFd open_v2() const = 0;
  // Writes the resource limits; an unsupported setting throws Error naming the file and value.
  virtual void apply(const oci::Resources& r) = 0;
  virtual void freeze(bool frozen) = 0;
  virtual bool frozen() const = 0;
  // Processes in the cgroup (from cgroup.procs of the pids / memory / unified hierarchy).
  virtual std::vector<pid_t> pids() const = 0;
  // Sends sig to every process in the cgroup.
  virtual void kill_all(int sig) = 0;
  // Removes the cgroup directories (children first); tolerant of parts already gone.
  virtual void destroy() = 0;
  // The directory of this cgroup in the hierarchy that holds `controller` ("" = any / unified).
  virtual std::string dir(const std::string& controller) const = 0;
  // True if the cgroup exists on disk.
  virtual bool exists() const = 0;
};

// path: as returned by resolve_path.
std::unique_ptr<Manager> open(const Layout& layout, const std::string& path);

// Conversions used by the v2 writers (exposed for tests).
uint64_t shares_to_weight(uint64_t shares);       // cpu.shares -> cpu.weight
uint64_t blkio_weight_to_io_weight(uint64_t w);  // blkio.weight -> io.weight

// Internals shared by the cgroup sources (and reachable from the unit tests).
namespace detail {

// Writes value to dir/file (no O_CREAT: cgroupfs files exist or the setting is unsupported).
// Errors read: write /sys/fs/cgroup/memory/x/memory.limit_in_bytes "100": Device or resource busy
void write_value(const std::string& dir, const std::string& file, std::string_view value);
// Contents of dir/file without surrounding whitespace.
std::string read_value(const std::string& dir, const std::string& file);
// A v1 devices.allow / devices.deny line: "c 1:3 rwm", "a *:* rwm".
std::string device_rule(const oci::DeviceRule& rule);

// The resource settings of one controller. A v1 host writes them into the controller's own
// hierarchy; a v2 host, or the unified part of a hybrid host, into the unified directory.
struct Group {
  const char* what;  // for messages: "memory", "hugepageLimits", ...
  const char* v1;    // v1 controller
  const char* v2;    // v2 controller; nullptr = none needed
  bool (*wanted)(const oci::Resources&);
  void (*write_v1)(const std::string& dir, const oci::Resources&);
  void (*write_v2)(const std::string& dir, const oci::Resources&);  // nullptr = not on v2
};
// In the order they are applied.
const std::vector<Group>& groups();

}  // namespace detail

}  // namespace hoist::runtime::cgroups
