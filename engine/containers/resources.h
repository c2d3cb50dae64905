// Resource limits of a container (HostConfig's Memory, NanoCpus, CpuShares, PidsLimit, ...):
// dockerd's checks with its messages (daemon/daemon_unix.go), the merge of `docker update` into a
// container's HostConfig (container/container.go), and the OCI `linux.resources` they become.
//
// All arithmetic is overflow-safe: any int64 value (Memory = 2^63-1 included) is taken.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace hoist::engine {

// What the host offers, as dockerd's sysinfo sees it; probe() reads the machine, tests make their own.
struct HostResources {
  int ncpu = 1;                    // CPUs this process may run on
  std::string cpus = "0";          // cpuset.cpus of the root cgroup ("0-3")
  std::string mems = "0";          // cpuset.mems of the root cgroup
  bool memory = true;              // memory limits
  bool swap = true;                // memory+swap limits (memsw / memory.swap.max)
  bool memory_reservation = true;
  bool swappiness = true;          // memory.swappiness (cgroup v1 only)
  bool kernel_memory = true;       // memory.kmem.* (cgroup v1 only)
  bool cpu_shares = true;
  bool cpu_cfs = true;             // CFS period and quota
  bool pids = true;
  bool blkio_weight = false;       // blkio.weight / io.weight (needs CFQ or BFQ)
  static HostResources probe();    // cached after the first call
};

// dockerd's minimum for memory limits and reservations (6 MiB).
constexpr std::int64_t kMinMemory = 6 * 1024 * 1024;

// Checks the resources of `hc` (a HostConfig or the body of /containers/{id}/update) as dockerd
// does for create (`update` false) and update. Throws InvalidArgument with dockerd's message;
// returns its warnings, for settings the host cannot apply (those are dropped from `hc`, as
// dockerd drops them). A field of the wrong JSON type is an InvalidArgument too.
std::vector<std::string> validate_resources(nlohmann::json& hc, const HostResources& host = HostResources::probe(),
                                            bool update = false);

// RestartPolicy checks of `docker update` (dockerd 20.10's messages). No policy: nothing to check.
void validate_update_restart_policy(const nlohmann::json& update);

// The HostConfig after `docker update`: the fields `update` sets (non-zero, as dockerd reads
// them) replace those of `current`. Conflict for what dockerd refuses to change (NanoCpus against
// CpuPeriod/CpuQuota already set and back, a memory limit above the swap limit in force with no
// new swap limit, a restart policy on an AutoRemove container).
nlohmann::json merge_update(const nlohmann::json& current, const nlohmann::json& update);

// linux.resources of the OCI spec (memory, cpu, pids, blockIO weight) for the HostConfig `hc`.
// Memory without MemorySwap gets as much swap again (dockerd's default), saturating at unlimited.
nlohmann::json oci_resources(const nlohmann::json& hc);

// A cpuset list ("0-3,5") as its members in order; nullopt-like empty result with ok=false when
// malformed. Exposed for tests.
bool parse_cpuset(const std::string& s, std::vector<int>& out);

}  // namespace hoist::engine
