// Container statistics from the container's cgroup (v1 or v2), and the JSON of Docker's
// GET /containers/{id}/stats (dockerd 20.10's shape: pids, blkio, cpu, memory, num_procs,
// storage_stats; no `networks` for a container without a network).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace hoist::engine {

struct BlkioEntry {
  std::uint64_t major = 0, minor = 0;
  std::string op;  // "Read", "Write", "Sync", "Async", "Discard", "Total"
  std::uint64_t value = 0;
};

struct ContainerStats {
  std::string read;  // RFC 3339 time of the sample
  std::int64_t memory_usage = 0, memory_max_usage = 0, memory_limit = 0, memory_failcnt = 0;  // limit 0: none
  std::map<std::string, std::uint64_t> memory_stat;  // memory.stat
  std::int64_t cpu_usage_ns = 0, cpu_user_ns = 0, cpu_kernel_ns = 0;
  std::vector<std::uint64_t> percpu_ns;  // cgroup v1 only
  std::int64_t throttle_periods = 0, throttled_periods = 0, throttled_time_ns = 0;
  std::int64_t system_cpu_ns = 0;  // the host's, from /proc/stat
  int online_cpus = 0;
  std::int64_t pids = 0, pids_limit = 0;  // limit 0: none
  std::vector<BlkioEntry> io_service_bytes, io_serviced;
};

// Reads the cgroup at `cgroup_path` ("/parent/id", below the hierarchy roots). Missing files read as 0.
ContainerStats read_cgroup_stats(const std::string& cgroup_path);

// One stats object as dockerd sends it. `cur` null: a container that does not run (all zero, as
// dockerd answers for it); `prev` null: no previous sample (precpu_stats empty, preread zero).
std::string stats_json(const std::string& id, const std::string& name, const ContainerStats* cur,
                       const ContainerStats* prev);

}  // namespace hoist::engine
