#include "engine/containers/stats.h"

#include <unistd.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "common/clock.h"
#include "common/error.h"
#include "common/file.h"
#include "common/strings.h"

namespace hoist::engine {
using nlohmann::json;

namespace {

constexpr const char* kRoot = "/sys/fs/cgroup";

std::string read_or_empty(const std::string& path) {
  try {
    return read_file(path);
  } catch (const Error&) {
    return "";
  }
}

std::int64_t to_i64(std::string_view v) {
  try {
    auto t = std::string(trim(v));
    if (t.empty() || t == "max") return 0;
    auto x = std::stoull(t);
    return x > static_cast<unsigned long long>(INT64_MAX) ? INT64_MAX : static_cast<std::int64_t>(x);
  } catch (const std::exception&) {
    return 0;
  }
}

std::int64_t num(const std::string& path) { return to_i64(read_or_empty(path)); }

// "key value" lines (memory.stat, cpu.stat, cpuacct.stat).
std::map<std::string, std::uint64_t> key_values(const std::string& text) {
  std::map<std::string, std::uint64_t> out;
  std::istringstream in(text);
  std::string k;
  std::uint64_t v = 0;
  while (in >> k >> v) out[k] = v;
  return out;
}

std::uint64_t get(const std::map<std::string, std::uint64_t>& m, const std::string& k) {
  auto it = m.find(k);
  return it == m.end() ? 0 : it->second;
}

// blkio.throttle.* of cgroup v1: "8:0 Read 4096" lines, then "Total N".
std::vector<BlkioEntry> blkio_v1(const std::string& text) {
  std::vector<BlkioEntry> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    auto f = split(std::string(trim(line)), ' ');
    if (f.size() != 3) continue;
    auto colon = f[0].find(':');
    if (colon == std::string::npos) continue;
    BlkioEntry e;
    e.major = static_cast<std::uint64_t>(to_i64(f[0].substr(0, colon)));
    e.minor = static_cast<std::uint64_t>(to_i64(f[0].substr(colon + 1)));
    e.op = f[1];
    e.value = static_cast<std::uint64_t>(to_i64(f[2]));
    out.push_back(std::move(e));
  }
  return out;
}

// io.stat of cgroup v2: "8:0 rbytes=1 wbytes=2 rios=3 wios=4 ..." → dockerd's read/write entries.
void io_v2(const std::string& text, ContainerStats& s) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    auto f = split(std::string(trim(line)), ' ');
    if (f.empty()) continue;
    auto colon = f[0].find(':');
    if (colon == std::string::npos) continue;
    auto major = static_cast<std::uint64_t>(to_i64(f[0].substr(0, colon)));
    auto minor = static_cast<std::uint64_t>(to_i64(f[0].substr(colon + 1)));
    for (std::size_t i = 1; i < f.size(); ++i) {
      auto eq = f[i].find('=');
      if (eq == std::string::npos) continue;
      auto k = f[i].substr(0, eq);
      auto v = static_cast<std::uint64_t>(to_i64(f[i].substr(eq + 1)));
      if (k == "rbytes") s.io_service_bytes.push_back({major, minor, "read", v});
      if (k == "wbytes") s.io_service_bytes.push_back({major, minor, "write", v});
      if (k == "rios") s.io_serviced.push_back({major, minor, "read", v});
      if (k == "wios") s.io_serviced.push_back({major, minor, "write", v});
    }
  }
}

std::int64_t host_memory() {
  auto text = read_or_empty("/proc/meminfo");
  auto k = text.find("MemTotal:");
  if (k == std::string::npos) return 0;
  return to_i64(text.substr(k + 9, text.find("kB", k) - k - 9)) * 1024;
}

// The host's CPU time as dockerd counts it: the first seven fields of /proc/stat's "cpu" line.
std::int64_t system_cpu_ns() {
  auto text = read_or_empty("/proc/stat");
  if (text.rfind("cpu ", 0) != 0) return 0;
  std::istringstream in(text.substr(4, text.find('\n') - 4));
  std::uint64_t total = 0, v = 0;
  for (int i = 0; i < 7 && in >> v; ++i) total += v;
  long hz = sysconf(_SC_CLK_TCK);
  return static_cast<std::int64_t>(total) * (1000000000LL / (hz > 0 ? hz : 100));
}

json blkio_json(const std::vector<BlkioEntry>& v, bool null_when_empty) {
  if (v.empty()) return null_when_empty ? json(nullptr) : json::array();
  json a = json::array();
  for (auto& e : v) a.push_back({{"major", e.major}, {"minor", e.minor}, {"op", e.op}, {"value", e.value}});
  return a;
}

}  // namespace

ContainerStats read_cgroup_stats(const std::string& cgroup_path) {
  std::string cg = cgroup_path.empty() || cgroup_path[0] == '/' ? cgroup_path : "/" + cgroup_path;
  ContainerStats s;
  s.read = now_rfc3339();
  s.system_cpu_ns = system_cpu_ns();
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  s.online_cpus = n > 0 ? static_cast<int>(n) : 1;
  long hz = sysconf(_SC_CLK_TCK);
  std::int64_t tick_ns = 1000000000LL / (hz > 0 ? hz : 100);
  std::int64_t limit = 0;
  if (path_exists(std::string(kRoot) + "/cgroup.controllers")) {
    std::string d = kRoot + cg;
    s.memory_usage = num(d + "/memory.current");
    s.memory_max_usage = num(d + "/memory.peak");
    limit = num(d + "/memory.max");
    s.memory_stat = key_values(read_or_empty(d + "/memory.stat"));
    auto cpu = key_values(read_or_empty(d + "/cpu.stat"));
    s.cpu_usage_ns = static_cast<std::int64_t>(get(cpu, "usage_usec")) * 1000;
    s.cpu_user_ns = static_cast<std::int64_t>(get(cpu, "user_usec")) * 1000;
    s.cpu_kernel_ns = static_cast<std::int64_t>(get(cpu, "system_usec")) * 1000;
    s.throttle_periods = static_cast<std::int64_t>(get(cpu, "nr_periods"));
    s.throttled_periods = static_cast<std::int64_t>(get(cpu, "nr_throttled"));
    s.throttled_time_ns = static_cast<std::int64_t>(get(cpu, "throttled_usec")) * 1000;
    s.pids = num(d + "/pids.current");
    s.pids_limit = num(d + "/pids.max");
    io_v2(read_or_empty(d + "/io.stat"), s);
  } else {
    std::string mem = std::string(kRoot) + "/memory" + cg;
    s.memory_usage = num(mem + "/memory.usage_in_bytes");
    s.memory_max_usage = num(mem + "/memory.max_usage_in_bytes");
    s.memory_failcnt = num(mem + "/memory.failcnt");
    limit = num(mem + "/memory.limit_in_bytes");
    s.memory_stat = key_values(read_or_empty(mem + "/memory.stat"));
    std::string acct = std::string(kRoot) + "/cpuacct" + cg;
    if (!path_exists(acct)) acct = std::string(kRoot) + "/cpu,cpuacct" + cg;
    s.cpu_usage_ns = num(acct + "/cpuacct.usage");
    std::istringstream percpu(read_or_empty(acct + "/cpuacct.usage_percpu"));
    for (std::uint64_t v = 0; percpu >> v;) s.percpu_ns.push_back(v);
    auto ticks = key_values(read_or_empty(acct + "/cpuacct.stat"));
    s.cpu_user_ns = static_cast<std::int64_t>(get(ticks, "user")) * tick_ns;
    s.cpu_kernel_ns = static_cast<std::int64_t>(get(ticks, "system")) * tick_ns;
    std::string cpu = std::string(kRoot) + "/cpu" + cg;
    if (!path_exists(cpu)) cpu = std::string(kRoot) + "/cpu,cpuacct" + cg;
    auto th = key_values(read_or_empty(cpu + "/cpu.stat"));
    s.throttle_periods = static_cast<std::int64_t>(get(th, "nr_periods"));
    s.throttled_periods = static_cast<std::int64_t>(get(th, "nr_throttled"));
    s.throttled_time_ns = static_cast<std::int64_t>(get(th, "throttled_time"));
    std::string pids = std::string(kRoot) + "/pids" + cg;
    s.pids = num(pids + "/pids.current");
    s.pids_limit = num(pids + "/pids.max");
    std::string blkio = std::string(kRoot) + "/blkio" + cg;
    s.io_service_bytes = blkio_v1(read_or_empty(blkio + "/blkio.throttle.io_service_bytes_recursive"));
    s.io_serviced = blkio_v1(read_or_empty(blkio + "/blkio.throttle.io_serviced_recursive"));
  }
  // No limit (or one above the host's memory): the host's memory, as dockerd reports it.
  std::int64_t host = host_memory();
  s.memory_limit = limit > 0 && (host == 0 || limit < host) ? limit : host;
  return s;
}

std::string stats_json(const std::string& id, const std::string& name, const ContainerStats* cur,
                       const ContainerStats* prev) {
  const char* zero_time = "0001-01-01T00:00:00Z";
  auto cpu_json = [](const ContainerStats* s) {
    json usage = {{"total_usage", s ? s->cpu_usage_ns : 0},
                  {"usage_in_kernelmode", s ? s->cpu_kernel_ns : 0},
                  {"usage_in_usermode", s ? s->cpu_user_ns : 0}};
    if (s && !s->percpu_ns.empty()) usage["percpu_usage"] = s->percpu_ns;
    json out = {{"cpu_usage", usage},
                {"throttling_data",
                 {{"periods", s ? s->throttle_periods : 0},
                  {"throttled_periods", s ? s->throttled_periods : 0},
                  {"throttled_time", s ? s->throttled_time_ns : 0}}}};
    if (s) {
      out["system_cpu_usage"] = s->system_cpu_ns;
      out["online_cpus"] = s->online_cpus;
    }
    return out;
  };
  json pids = json::object(), memory = json::object();
  if (cur) {
    pids["current"] = cur->pids;
    if (cur->pids_limit > 0) pids["limit"] = cur->pids_limit;
    memory["usage"] = cur->memory_usage;
    if (cur->memory_max_usage > 0) memory["max_usage"] = cur->memory_max_usage;
    memory["stats"] = cur->memory_stat;
    if (cur->memory_failcnt > 0) memory["failcnt"] = cur->memory_failcnt;
    memory["limit"] = cur->memory_limit;
  }
  bool none = cur == nullptr;  // dockerd: null lists for a container that does not run
  json blkio = {{"io_service_bytes_recursive", blkio_json(cur ? cur->io_service_bytes : std::vector<BlkioEntry>{}, none)},
                {"io_serviced_recursive", blkio_json(cur ? cur->io_serviced : std::vector<BlkioEntry>{}, none)}};
  for (const char* k : {"io_queue_recursive", "io_service_time_recursive", "io_wait_time_recursive",
                        "io_merged_recursive", "io_time_recursive", "sectors_recursive"})
    blkio[k] = none ? json(nullptr) : json::array();
  json out = {{"read", cur ? cur->read : zero_time},
              {"preread", cur && prev ? prev->read : zero_time},
              {"pids_stats", pids},
              {"blkio_stats", blkio},
              {"num_procs", 0},
              {"storage_stats", json::object()},
              {"cpu_stats", cpu_json(cur)},
              {"precpu_stats", cpu_json(cur ? prev : nullptr)},
              {"memory_stats", memory},
              {"name", "/" + name},
              {"id", id}};
  return out.dump() + "\n";
}

}  // namespace hoist::engine
