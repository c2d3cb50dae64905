// The resources a build gives every step's container, as dockerd's classic builder takes them from
// /build's query (memory, memswap, cpushares, cpusetcpus, cpusetmems, cpuperiod, cpuquota,
// cgroupparent, ulimits, extrahosts, shmsize) and puts them in the HostConfig of each container it
// creates (hostConfigFromOptions): a RUN's process runs under them; the containers of COPY/ADD and
// metadata steps are never started. The container service checks them as a create's.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace hoist::engine {

struct BuildUlimit {
  std::string name;  // "nofile" (docker's names, no RLIMIT_)
  std::int64_t soft = 0, hard = 0;
};

struct BuildResources {
  std::int64_t memory = 0, memory_swap = 0, cpu_shares = 0, cpu_period = 0, cpu_quota = 0, shm_size = 0;
  std::string cpuset_cpus, cpuset_mems, cgroup_parent;
  std::vector<BuildUlimit> ulimits;
  std::vector<std::string> extra_hosts;  // "host:ip"

  // /build's `ulimits` ([{"Name":...,"Soft":...,"Hard":...}], or null): InvalidArgument as
  // dockerd's "error reading ulimit settings: ...".
  static std::vector<BuildUlimit> parse_ulimits(const std::string& json_text);
};

// The HostConfig (JSON text) of a step's container: the resources set, nothing for those unset.
std::string step_host_config_json(const BuildResources& r);

}  // namespace hoist::engine
