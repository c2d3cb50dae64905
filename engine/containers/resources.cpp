#include "engine/containers/resources.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <limits>
#include <mutex>

#include "common/error.h"
#include "common/file.h"
#include "common/strings.h"

namespace hoist::engine {
using nlohmann::json;

namespace {

constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();

const char* json_kind(const json& v) {
  if (v.is_string()) return "string";
  if (v.is_boolean()) return "bool";
  if (v.is_array()) return "array";
  if (v.is_object()) return "object";
  return "number";
}

[[noreturn]] void bad_type(const json& v, const std::string& key, const char* go_type) {
  throw InvalidArgument(std::string("json: cannot unmarshal ") + json_kind(v) + " into Go struct field Resources." + key +
                        " of type " + go_type);
}

// An int64 field: 0 when absent or null; any other type (or a number out of range) is an error.
std::int64_t i64(const json& hc, const char* key) {
  auto it = hc.find(key);
  if (it == hc.end() || it->is_null()) return 0;
  if (it->is_number_integer()) {
    if (it->is_number_unsigned() && it->get<std::uint64_t>() > static_cast<std::uint64_t>(kMax))
      throw InvalidArgument(std::string("json: cannot unmarshal number ") + it->dump() +
                            " into Go struct field Resources." + key + " of type int64");
    return it->get<std::int64_t>();
  }
  bad_type(*it, key, "int64");
}

bool has(const json& hc, const char* key) {
  auto it = hc.find(key);
  return it != hc.end() && !it->is_null();
}

std::string str(const json& hc, const char* key) {
  auto it = hc.find(key);
  if (it == hc.end() || it->is_null()) return "";
  if (!it->is_string()) bad_type(*it, key, "string");
  return it->get<std::string>();
}

bool flag(const json& hc, const char* key) {
  auto it = hc.find(key);
  if (it == hc.end() || it->is_null()) return false;
  if (!it->is_boolean()) bad_type(*it, key, "bool");
  return it->get<bool>();
}

std::string read_trimmed(const std::string& path) {
  try {
    return std::string(trim(read_file(path)));
  } catch (const Error&) {
    return "";
  }
}

bool subset(const std::string& requested, const std::string& available, const char* what) {
  std::vector<int> req, avail;
  if (!parse_cpuset(requested, req)) throw InvalidArgument("Invalid value " + requested + " for cpuset " + what);
  if (!parse_cpuset(available, avail)) return true;  // unknown: the kernel decides
  return std::all_of(req.begin(), req.end(), [&](int c) { return std::binary_search(avail.begin(), avail.end(), c); });
}

}  // namespace

bool parse_cpuset(const std::string& s, std::vector<int>& out) {
  out.clear();
  if (s.empty()) return true;
  for (auto& part : split(s, ',')) {
    auto dash = part.find('-');
    auto num = [](const std::string& t, int& v) {
      if (t.empty() || t.size() > 6 || t.find_first_not_of("0123456789") != std::string::npos) return false;
      v = std::stoi(t);
      return true;
    };
    int a = 0, b = 0;
    if (dash == std::string::npos) {
      if (!num(part, a)) return false;
      b = a;
    } else if (!num(part.substr(0, dash), a) || !num(part.substr(dash + 1), b) || b < a) {
      return false;
    }
    for (int c = a; c <= b; ++c) out.push_back(c);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return true;
}

HostResources HostResources::probe() {
  static std::once_flag once;
  static HostResources h;
  std::call_once(once, [] {
    cpu_set_t set;
    CPU_ZERO(&set);
    h.ncpu = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
    if (h.ncpu < 1) h.ncpu = 1;
    const std::string root = "/sys/fs/cgroup";
    if (path_exists(root + "/cgroup.controllers")) {  // v2
      auto ctl = " " + read_trimmed(root + "/cgroup.controllers") + " ";
      auto on = [&](const char* c) { return ctl.find(std::string(" ") + c + " ") != std::string::npos; };
      h.memory = on("memory");
      h.swap = h.memory && path_exists(root + "/init.scope/memory.swap.max");
      if (!h.swap) {
        // any child with the file tells the same
        h.swap = h.memory && path_exists(root + "/system.slice/memory.swap.max");
      }
      h.memory_reservation = h.memory;
      h.swappiness = false;
      h.kernel_memory = false;
      h.cpu_shares = h.cpu_cfs = on("cpu");
      h.pids = on("pids");
      h.blkio_weight = on("io") && (path_exists(root + "/system.slice/io.bfq.weight") ||
                                    path_exists(root + "/system.slice/io.weight"));
      if (auto c = read_trimmed(root + "/cpuset.cpus.effective"); !c.empty()) h.cpus = c;
      if (auto m = read_trimmed(root + "/cpuset.mems.effective"); !m.empty()) h.mems = m;
    } else {
      h.memory = path_exists(root + "/memory/memory.limit_in_bytes");
      h.swap = path_exists(root + "/memory/memory.memsw.limit_in_bytes");
      h.memory_reservation = path_exists(root + "/memory/memory.soft_limit_in_bytes");
      h.swappiness = path_exists(root + "/memory/memory.swappiness");
      h.kernel_memory = path_exists(root + "/memory/memory.kmem.limit_in_bytes");
      h.cpu_shares = path_exists(root + "/cpu/cpu.shares");
      h.cpu_cfs = path_exists(root + "/cpu/cpu.cfs_quota_us");
      h.pids = path_exists(root + "/pids");
      h.blkio_weight = path_exists(root + "/blkio/blkio.weight") || path_exists(root + "/blkio/blkio.bfq.weight");
      if (auto c = read_trimmed(root + "/cpuset/cpuset.cpus"); !c.empty()) h.cpus = c;
      if (auto m = read_trimmed(root + "/cpuset/cpuset.mems"); !m.empty()) h.mems = m;
    }
  });
  return h;
}

std::vector<std::string> validate_resources(json& hc, const HostResources& host, bool update) {
  if (!hc.is_object()) throw InvalidArgument("resources must be a JSON object");
  std::vector<std::string> warnings;
  auto drop = [&](const char* key, const std::string& warning) {
    warnings.push_back(warning);
    hc.erase(key);
  };

  // Memory.
  std::int64_t memory = i64(hc, "Memory"), swap = i64(hc, "MemorySwap");
  if (memory != 0 && memory < kMinMemory) throw InvalidArgument("Minimum memory limit allowed is 6MB");
  if (memory > 0 && !host.memory) {
    drop("Memory", "Your kernel does not support memory limit capabilities or the cgroup is not mounted. Limitation discarded.");
    hc.erase("MemorySwap");
    memory = swap = 0;
  }
  if (memory > 0 && swap != -1 && !host.swap) {
    warnings.push_back(
        "Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.");
    hc["MemorySwap"] = -1;
    swap = -1;
  }
  if (memory > 0 && swap > 0 && swap < memory)
    throw InvalidArgument("Minimum memoryswap limit should be larger than memory limit, see usage");
  if (memory == 0 && swap > 0 && !update)
    throw InvalidArgument("You should always set the Memory limit when using Memoryswap limit, see usage");
  if (has(hc, "MemorySwappiness")) {
    std::int64_t s = i64(hc, "MemorySwappiness");
    if (!host.swappiness) {
      drop("MemorySwappiness",
           "Your kernel does not support memory swappiness capabilities or the cgroup is not mounted. Memory swappiness discarded.");
    } else if (s != -1 && (s < 0 || s > 100)) {
      throw InvalidArgument("Invalid value: " + std::to_string(s) + ", valid memory swappiness range is 0-100");
    }
  }
  std::int64_t reservation = i64(hc, "MemoryReservation");
  if (reservation > 0 && !host.memory_reservation) {
    drop("MemoryReservation",
         "Your kernel does not support memory soft limit capabilities or the cgroup is not mounted. Limitation discarded.");
    reservation = 0;
  }
  if (reservation > 0 && reservation < kMinMemory) throw InvalidArgument("Minimum memory reservation allowed is 6MB");
  if (memory > 0 && reservation > 0 && memory < reservation)
    throw InvalidArgument("Minimum memory limit can not be less than memory reservation limit, see usage");
  std::int64_t kernel = i64(hc, "KernelMemory");
  if (kernel > 0 && !host.kernel_memory) {
    drop("KernelMemory",
         "Your kernel does not support kernel memory limit capabilities or the cgroup is not mounted. Limitation discarded.");
    kernel = 0;
  }
  if (kernel > 0 && kernel < kMinMemory) throw InvalidArgument("Minimum kernel memory limit allowed is 6MB");
  if (flag(hc, "OomKillDisable") && memory == 0)
    warnings.push_back(
        "OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources.");

  // PIDs.
  if (has(hc, "PidsLimit") && !host.pids) {
    if (i64(hc, "PidsLimit") > 0)
      warnings.push_back(
          "Your kernel does not support pids limit capabilities or the cgroup is not mounted. PIDs limit discarded.");
    hc.erase("PidsLimit");
  }

  // CPU.
  std::int64_t shares = i64(hc, "CpuShares");
  if (shares > 0 && !host.cpu_shares) {
    drop("CpuShares", "Your kernel does not support CPU shares or the cgroup is not mounted. Shares discarded.");
    shares = 0;
  }
  if (shares > 0 && shares < 2) throw InvalidArgument("the minimum allowed cpu-shares is 2");
  if (shares > 262144) throw InvalidArgument("the maximum allowed cpu-shares is 262144");
  std::int64_t nano = i64(hc, "NanoCpus"), period = i64(hc, "CpuPeriod"), quota = i64(hc, "CpuQuota");
  if (nano > 0 && period > 0) throw InvalidArgument("Conflicting options: Nano CPUs and CPU Period cannot both be set");
  if (nano > 0 && quota > 0) throw InvalidArgument("Conflicting options: Nano CPUs and CPU Quota cannot both be set");
  if (nano > 0 && !host.cpu_cfs)
    throw InvalidArgument("NanoCPUs can not be set, as your kernel does not support CPU CFS scheduler or the cgroup is not mounted");
  // ncpu * 1e9 fits an int64 for any CPU count a machine has.
  if (nano < 0 || nano > static_cast<std::int64_t>(host.ncpu) * 1000000000LL)
    throw InvalidArgument("Range of CPUs is from 0.01 to " + std::to_string(host.ncpu) + ".00, as there are only " +
                          std::to_string(host.ncpu) + " CPUs available");
  if ((period > 0 || quota > 0) && !host.cpu_cfs) {
    if (period > 0)
      drop("CpuPeriod", "Your kernel does not support CPU cfs period or the cgroup is not mounted. Period discarded.");
    if (quota > 0)
      drop("CpuQuota", "Your kernel does not support CPU cfs quota or the cgroup is not mounted. Quota discarded.");
    period = quota = 0;
  }
  if (period != 0 && (period < 1000 || period > 1000000))
    throw InvalidArgument("CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)");
  if (quota > 0 && quota < 1000) throw InvalidArgument("CPU cfs quota can not be less than 1ms (i.e. 1000)");
  if (i64(hc, "CpuPercent") > 0) drop("CpuPercent", "linux does not support CPU percent. Percent discarded.");
  if (i64(hc, "CpuCount") > 0) drop("CpuCount", "linux does not support CPU count. Count discarded.");
  if (auto cpus = str(hc, "CpusetCpus"); !cpus.empty() && !subset(cpus, host.cpus, "cpus"))
    throw InvalidArgument("Requested CPUs are not available - requested " + cpus + ", available: " + host.cpus);
  if (auto mems = str(hc, "CpusetMems"); !mems.empty() && !subset(mems, host.mems, "mems"))
    throw InvalidArgument("Requested memory nodes are not available - requested " + mems + ", available: " + host.mems);

  // Block I/O.
  std::int64_t weight = i64(hc, "BlkioWeight");
  if (weight > 0 && !host.blkio_weight) {
    drop("BlkioWeight", "Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.");
    weight = 0;
  }
  if (weight > 0 && (weight < 10 || weight > 1000)) throw InvalidArgument("Range of blkio weight is from 10 to 1000");
  return warnings;
}

void validate_update_restart_policy(const json& update) {
  auto it = update.find("RestartPolicy");
  if (it == update.end() || it->is_null()) return;
  if (!it->is_object()) bad_type(*it, "RestartPolicy", "container.RestartPolicy");
  std::string name = str(*it, "Name");
  std::int64_t max = i64(*it, "MaximumRetryCount");
  if (name == "always" || name == "unless-stopped" || name == "no") {
    if (max != 0) throw InvalidArgument("maximum retry count cannot be used with restart policy '" + name + "'");
  } else if (name == "on-failure") {
    if (max < 0) throw InvalidArgument("maximum retry count cannot be negative");
  } else if (!name.empty()) {
    throw InvalidArgument("invalid restart policy '" + name + "'");
  }
}

json merge_update(const json& current, const json& update) {
  json out = current.is_object() ? current : json::object();
  // Docker stores a memory limit's default swap (twice the limit) at create; a record without it
  // has that swap in force.
  std::int64_t cur_memory = i64(out, "Memory"), cur_swap = i64(out, "MemorySwap");
  if (cur_memory > 0 && cur_swap == 0) cur_swap = cur_memory > kMax / 2 ? -1 : cur_memory * 2;
  auto conflict = [](const std::string& msg) { throw Conflict(msg); };
  std::int64_t nano = i64(update, "NanoCpus"), period = i64(update, "CpuPeriod"), quota = i64(update, "CpuQuota");
  if (nano > 0 && i64(out, "CpuPeriod") > 0)
    conflict("Conflicting options: Nano CPUs cannot be updated as CPU Period has already been set");
  if (nano > 0 && i64(out, "CpuQuota") > 0)
    conflict("Conflicting options: Nano CPUs cannot be updated as CPU Quota has already been set");
  if (period > 0 && i64(out, "NanoCpus") > 0)
    conflict("Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set");
  if (quota > 0 && i64(out, "NanoCpus") > 0)
    conflict("Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set");
  std::int64_t memory = i64(update, "Memory"), swap = i64(update, "MemorySwap");
  if (memory != 0 && memory > cur_swap && swap == 0)
    conflict("Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time");
  for (const char* k : {"BlkioWeight", "CpuShares", "NanoCpus", "CpuPeriod", "CpuQuota", "Memory", "MemorySwap",
                        "MemoryReservation", "KernelMemory", "CpuRealtimePeriod", "CpuRealtimeRuntime"})
    if (i64(update, k) != 0) out[k] = i64(update, k);
  if (memory != 0 && swap == 0) out["MemorySwap"] = cur_swap;
  for (const char* k : {"CpusetCpus", "CpusetMems"})
    if (!str(update, k).empty()) out[k] = str(update, k);
  if (has(update, "PidsLimit")) out["PidsLimit"] = i64(update, "PidsLimit");
  if (auto it = update.find("RestartPolicy"); it != update.end() && it->is_object() && !str(*it, "Name").empty()) {
    std::string name = str(*it, "Name");
    if (flag(out, "AutoRemove") && name != "no")
      conflict("Restart policy cannot be updated because AutoRemove is enabled for the container");
    out["RestartPolicy"] = {{"Name", name}, {"MaximumRetryCount", i64(*it, "MaximumRetryCount")}};
  }
  return out;
}

json oci_resources(const json& hc) {
  json res = json::object();
  json mem = json::object();
  std::int64_t memory = i64(hc, "Memory"), swap = i64(hc, "MemorySwap");
  if (memory > 0) {
    mem["limit"] = memory;
    if (swap == 0) swap = memory > kMax / 2 ? -1 : memory * 2;  // Docker's default: as much swap again
    mem["swap"] = swap;
  } else if (swap == -1) {
    mem["swap"] = -1;
  }
  if (std::int64_t r = i64(hc, "MemoryReservation"); r > 0) mem["reservation"] = r;
  if (has(hc, "MemorySwappiness")) {
    std::int64_t s = i64(hc, "MemorySwappiness");
    if (s >= 0 && s <= 100) mem["swappiness"] = s;
  }
  if (std::int64_t k = i64(hc, "KernelMemory"); k > 0) mem["kernel"] = k;
  if (flag(hc, "OomKillDisable")) mem["disableOOMKiller"] = true;
  if (!mem.empty()) res["memory"] = mem;

  json cpu = json::object();
  if (std::int64_t shares = i64(hc, "CpuShares"); shares > 0) cpu["shares"] = shares;
  if (std::int64_t nano = i64(hc, "NanoCpus"); nano > 0) {
    cpu["period"] = 100000;
    cpu["quota"] = std::max<std::int64_t>(nano / 10000, 1000);  // nano * 100000 / 1e9, without overflow
  } else {
    if (std::int64_t p = i64(hc, "CpuPeriod"); p > 0) cpu["period"] = p;
    if (std::int64_t q = i64(hc, "CpuQuota"); q != 0) cpu["quota"] = q;
  }
  if (std::int64_t p = i64(hc, "CpuRealtimePeriod"); p > 0) cpu["realtimePeriod"] = p;
  if (std::int64_t r = i64(hc, "CpuRealtimeRuntime"); r > 0) cpu["realtimeRuntime"] = r;
  if (auto c = str(hc, "CpusetCpus"); !c.empty()) cpu["cpus"] = c;
  if (auto m = str(hc, "CpusetMems"); !m.empty()) cpu["mems"] = m;
  if (!cpu.empty()) res["cpu"] = cpu;

  if (has(hc, "PidsLimit")) {
    std::int64_t p = i64(hc, "PidsLimit");
    res["pids"] = {{"limit", p > 0 ? p : -1}};
  }
  if (std::int64_t w = i64(hc, "BlkioWeight"); w > 0) res["blockIO"] = {{"weight", w}};
  return res;
}

}  // namespace hoist::engine
