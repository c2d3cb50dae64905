// The OCI runtime configuration (config.json, runtime-spec 1.1), Linux parts.
// Plain data; parsing and validation live in spec.cpp so that no JSON header leaks out.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace hoist::oci {

inline constexpr const char* kOciVersion = "1.1.0";

struct Root {
  std::string path;  // resolved against the bundle by load_spec
  bool readonly = false;
};

struct Mount {
  std::string destination;
  std::string type;
  std::string source;
  std::vector<std::string> options;
  struct IdMap { uint32_t container_id = 0, host_id = 0, size = 0; };
  std::vector<IdMap> uid_mappings, gid_mappings;
};

struct Rlimit {
  std::string type;
  uint64_t hard = 0, soft = 0;
};

struct Capabilities {
  std::vector<std::string> bounding, effective, inheritable, permitted, ambient;
};

struct User {
  uid_t uid = 0;
  gid_t gid = 0;
  std::optional<mode_t> umask;
  std::vector<gid_t> additional_gids;
};

struct ConsoleSize { unsigned height = 0, width = 0; };

struct Scheduler {
  std::string policy;
  int nice = 0, priority = 0;
  std::vector<std::string> flags;
  uint64_t runtime = 0, deadline = 0, period = 0;
};

struct IoPriority {
  std::string klass;  // IOPRIO_CLASS_RT, IOPRIO_CLASS_BE, IOPRIO_CLASS_IDLE
  int priority = 0;
};

struct Process {
  bool terminal = false;
  std::optional<ConsoleSize> console_size;
  std::string cwd = "/";
  std::vector<std::string> env;
  std::vector<std::string> args;
  User user;
  std::optional<Capabilities> capabilities;
  std::vector<Rlimit> rlimits;
  bool no_new_privileges = false;
  std::string apparmor_profile;
  std::optional<int> oom_score_adj;
  std::string selinux_label;
  std::optional<Scheduler> scheduler;
  std::optional<IoPriority> io_priority;
};

struct Hook {
  std::string path;
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::optional<int> timeout;
};

struct Hooks {
  std::vector<Hook> prestart, create_runtime, create_container, start_container, poststart, poststop;
};

struct Namespace {
  std::string type;  // pid network mount ipc uts user cgroup time
  std::string path;
};

struct IdMapping { uint32_t container_id = 0, host_id = 0, size = 0; };

struct Device {
  std::string type;  // c b u p
  std::string path;
  int64_t major = 0, minor = 0;
  std::optional<mode_t> file_mode;
  std::optional<uid_t> uid;
  std::optional<gid_t> gid;
};

struct DeviceRule {
  bool allow = false;
  std::string type;  // a c b ("" = a)
  std::optional<int64_t> major, minor;
  std::string access;  // rwm
};

struct Memory {
  std::optional<int64_t> limit, reservation, swap, kernel, kernel_tcp;
  std::optional<uint64_t> swappiness;
  std::optional<bool> disable_oom_killer, use_hierarchy, check_before_update;
};

struct Cpu {
  std::optional<uint64_t> shares;
  std::optional<int64_t> quota;
  std::optional<uint64_t> burst;
  std::optional<uint64_t> period;
  std::optional<int64_t> realtime_runtime;
  std::optional<uint64_t> realtime_period;
  std::string cpus, mems;
  std::optional<int64_t> idle;
};

struct BlkioWeightDevice { int64_t major = 0, minor = 0; std::optional<uint16_t> weight, leaf_weight; };
struct BlkioThrottleDevice { int64_t major = 0, minor = 0; uint64_t rate = 0; };

struct Blkio {
  std::optional<uint16_t> weight, leaf_weight;
  std::vector<BlkioWeightDevice> weight_device;
  std::vector<BlkioThrottleDevice> throttle_read_bps, throttle_write_bps, throttle_read_iops, throttle_write_iops;
};

struct HugepageLimit { std::string page_size; uint64_t limit = 0; };
struct NetPriority { std::string name; uint32_t priority = 0; };

struct Resources {
  std::vector<DeviceRule> devices;
  std::optional<Memory> memory;
  std::optional<Cpu> cpu;
  std::optional<int64_t> pids_limit;
  std::optional<Blkio> blkio;
  std::vector<HugepageLimit> hugepage_limits;
  std::optional<uint32_t> net_cls_classid;
  std::vector<NetPriority> net_priorities;
  std::map<std::string, std::string> unified;
};

struct SeccompArg {
  unsigned index = 0;
  uint64_t value = 0, value_two = 0;
  std::string op;  // SCMP_CMP_*
};

struct SeccompSyscall {
  std::vector<std::string> names;
  std::string action;
  std::optional<unsigned> errno_ret;
  std::vector<SeccompArg> args;
};

struct Seccomp {
  std::string default_action;
  std::optional<unsigned> default_errno_ret;
  std::vector<std::string> architectures;
  std::vector<std::string> flags;
  std::string listener_path;
  std::string listener_metadata;
  std::vector<SeccompSyscall> syscalls;
};

struct TimeOffset { int64_t secs = 0; uint32_t nanosecs = 0; };

struct Linux {
  std::vector<Namespace> namespaces;
  std::vector<IdMapping> uid_mappings, gid_mappings;
  std::map<std::string, TimeOffset> time_offsets;  // "monotonic", "boottime"
  std::vector<Device> devices;
  std::string cgroups_path;
  std::optional<Resources> resources;
  std::string rootfs_propagation;
  std::optional<Seccomp> seccomp;
  std::map<std::string, std::string> sysctl;
  std::vector<std::string> masked_paths;
  std::vector<std::string> readonly_paths;
  std::string mount_label;
  std::optional<std::string> personality_domain;
};

struct Spec {
  std::string oci_version;
  std::optional<Root> root;
  std::vector<Mount> mounts;
  std::optional<Process> process;
  std::string hostname;
  std::string domainname;
  std::optional<Hooks> hooks;
  std::map<std::string, std::string> annotations;
  std::optional<Linux> linux;

  bool has_namespace(const std::string& type) const;
  const Namespace* find_namespace(const std::string& type) const;
};

// Reads <bundle>/config.json, parses and validates it; root.path becomes absolute.
Spec load_spec(const std::string& bundle);
// Parses and validates JSON text (the bundle is used only to resolve root.path).
Spec parse_spec(const std::string& json_text, const std::string& bundle = "");
// Parses a process object (as in `exec --process`).
Process parse_process(const std::string& json_text);
// The default config.json that `spec` writes (runc's defaults; rootless variant on request).
std::string default_spec_json(bool rootless);

}  // namespace hoist::oci
