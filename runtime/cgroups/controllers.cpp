// The resource writers: one function per controller and cgroup version; what both versions
// write the same way (cpuset, pids, hugetlb, swap handling) is shared.
#include <fcntl.h>

#include <algorithm>
#include <charconv>

#include "common/error.h"
#include "common/fd.h"
#include "common/file.h"
#include "common/strings.h"
#include "runtime/cgroups/cgroups.h"
#include "runtime/cgroups/devices_bpf.h"

namespace hoist::runtime::cgroups::detail {

using oci::Resources;
using std::to_string;

void write_value(const std::string& dir, const std::string& file, std::string_view value) {
  std::string path = dir + "/" + file;
  std::string what = path + " \"" + std::string(value) + "\"";
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC));
  if (!fd) throw_sys("write", what);
  write_all(fd.get(), value, what);
}

std::string read_value(const std::string& dir, const std::string& file) {
  return std::string(trim(read_file(dir + "/" + file)));
}

namespace {

bool has_file(const std::string& dir, const std::string& file) { return path_exists(dir + "/" + file); }

// runc treats 0 as "not set" for most numeric settings; so do we.
template <class T>
bool given(const std::optional<T>& v) {
  return v && *v != 0;
}

// v2 spelling of a limit: negative = "max".
std::string max_or(int64_t v) { return v < 0 ? "max" : to_string(v); }

std::string device(int64_t major, int64_t minor) { return to_string(major) + ":" + to_string(minor); }

// The first of two file names that exists (the first if neither does, so the error names it).
std::string pick(const std::string& dir, const std::string& file, const std::string& fallback) {
  return has_file(dir, file) || !has_file(dir, fallback) ? file : fallback;
}

uint64_t read_u64(const std::string& dir, const std::string& file) {
  std::string s = read_value(dir, file);
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty())
    throw Error("read " + dir + "/" + file + ": not a number: \"" + s + "\"");
  return v;
}

// Without swap accounting the kernel has no swap file; a request for "no swap" or "unlimited
// swap" is then moot rather than an error.
void write_swap(const std::string& dir, const char* file, const std::string& value, bool moot) {
  if (moot && !has_file(dir, file)) return;
  write_value(dir, file, value);
}

// ---- memory ----

bool memory_wanted(const Resources& r) {
  if (!r.memory) return false;
  const auto& m = *r.memory;
  return given(m.limit) || given(m.reservation) || given(m.swap) || m.kernel || m.kernel_tcp || m.swappiness ||
         m.disable_oom_killer.value_or(false);
}

// The kernel keeps memsw >= limit at every step: when the new swap is above the current limit
// (raising), memsw goes first; otherwise the limit does.
void memory_limit_and_swap_v1(const std::string& dir, const oci::Memory& m) {
  constexpr const char* kMemsw = "memory.memsw.limit_in_bytes";
  constexpr const char* kLimit = "memory.limit_in_bytes";
  std::optional<int64_t> limit = given(m.limit) ? m.limit : std::nullopt;
  std::optional<int64_t> swap = given(m.swap) ? m.swap : std::nullopt;
  if (!swap && limit == -1 && has_file(dir, kMemsw)) swap = -1;  // unlimited memory: swap too (runc)
  auto set_limit = [&] {
    if (limit) write_value(dir, kLimit, to_string(*limit));
  };
  auto set_swap = [&] {
    if (swap) write_swap(dir, kMemsw, to_string(*swap), *swap == -1 || swap == limit);
  };
  bool swap_first = limit && swap && (*swap == -1 || read_u64(dir, kLimit) < static_cast<uint64_t>(*swap));
  if (swap_first) {
    set_swap();
    set_limit();
  } else {
    set_limit();
    set_swap();
  }
}

void memory_v1(const std::string& dir, const Resources& r) {
  const auto& m = *r.memory;
  memory_limit_and_swap_v1(dir, m);
  if (given(m.reservation)) write_value(dir, "memory.soft_limit_in_bytes", to_string(*m.reservation));
  // Kernel memory limits are gone from recent kernels: set only where the files still exist.
  if (m.kernel && has_file(dir, "memory.kmem.limit_in_bytes"))
    write_value(dir, "memory.kmem.limit_in_bytes", to_string(*m.kernel));
  if (m.kernel_tcp && has_file(dir, "memory.kmem.tcp.limit_in_bytes"))
    write_value(dir, "memory.kmem.tcp.limit_in_bytes", to_string(*m.kernel_tcp));
  if (m.swappiness) {
    if (*m.swappiness > 100)
      throw Error("invalid memory.swappiness " + to_string(*m.swappiness) + ": the range is 0-100");
    write_value(dir, "memory.swappiness", to_string(*m.swappiness));
  }
  if (m.disable_oom_killer.value_or(false)) write_value(dir, "memory.oom_control", "1");
}

// memory.swap.max holds swap alone; the spec's swap is memory+swap, as on v1. -1 = unlimited.
std::optional<int64_t> swap_only(const oci::Memory& m) {
  int64_t limit = m.limit.value_or(0), swap = m.swap.value_or(0);
  if (limit == -1 && swap == 0) return -1;  // unlimited memory: swap too (runc)
  if (swap == -1) return -1;
  if (swap == 0) return std::nullopt;
  if (limit <= 0) throw Error("cannot set memory.swap " + to_string(swap) + " without a memory limit");
  if (swap < limit)
    throw Error("memory.swap " + to_string(swap) + " is below memory.limit " + to_string(limit) +
                " (it counts memory+swap)");
  return swap - limit;
}

// Swappiness, kernel memory and the OOM killer switch have no v2 files: ignored, as runc does.
void memory_v2(const std::string& dir, const Resources& r) {
  const auto& m = *r.memory;
  if (auto swap = swap_only(m)) write_swap(dir, "memory.swap.max", max_or(*swap), *swap <= 0);
  if (given(m.limit)) write_value(dir, "memory.max", max_or(*m.limit));
  if (given(m.reservation)) write_value(dir, "memory.low", max_or(*m.reservation));
}

// ---- cpu ----

bool cpu_wanted(const Resources& r) {
  if (!r.cpu) return false;
  const auto& c = *r.cpu;
  return given(c.shares) || given(c.quota) || given(c.period) || c.burst || given(c.realtime_runtime) ||
         given(c.realtime_period) || c.idle;
}

// Period before quota; a shorter period can be refused (EINVAL) while old quota / new period
// exceeds the parent's ratio, so with a quota coming it is retried after the quota (as runc).
void cpu_bandwidth_v1(const std::string& dir, const oci::Cpu& c) {
  std::string retry_period;
  if (given(c.period)) {
    try {
      write_value(dir, "cpu.cfs_period_us", to_string(*c.period));
    } catch (const SysError& e) {
      if (e.code() != EINVAL || !given(c.quota)) throw;
      retry_period = to_string(*c.period);
    }
  }
  if (!given(c.quota)) return;
  write_value(dir, "cpu.cfs_quota_us", to_string(*c.quota));
  if (!retry_period.empty()) write_value(dir, "cpu.cfs_period_us", retry_period);
}

void cpu_v1(const std::string& dir, const Resources& r) {
  const auto& c = *r.cpu;
  if (given(c.shares)) write_value(dir, "cpu.shares", to_string(*c.shares));
  cpu_bandwidth_v1(dir, c);
  if (c.burst) write_value(dir, "cpu.cfs_burst_us", to_string(*c.burst));
  if (given(c.realtime_period)) write_value(dir, "cpu.rt_period_us", to_string(*c.realtime_period));
  if (given(c.realtime_runtime)) write_value(dir, "cpu.rt_runtime_us", to_string(*c.realtime_runtime));
  if (c.idle) write_value(dir, "cpu.idle", to_string(*c.idle));
}

// "quota period", "max period" for no quota, or just "quota" (the kernel keeps the period).
std::string cpu_max(const oci::Cpu& c) {
  std::string s = given(c.quota) && *c.quota > 0 ? to_string(*c.quota) : "max";
  if (given(c.period)) s += " " + to_string(*c.period);
  return s;
}

void cpu_v2(const std::string& dir, const Resources& r) {
  const auto& c = *r.cpu;
  if (given(c.realtime_runtime) || given(c.realtime_period))
    throw Error("cannot set cpu.realtimeRuntime / cpu.realtimePeriod: not supported on cgroup v2");
  if (given(c.shares)) write_value(dir, "cpu.weight", to_string(shares_to_weight(*c.shares)));
  if (c.idle) write_value(dir, "cpu.idle", to_string(*c.idle));
  if (given(c.quota) || given(c.period)) write_value(dir, "cpu.max", cpu_max(c));
  if (c.burst) write_value(dir, "cpu.max.burst", to_string(*c.burst));
}

// ---- cpuset, pids, hugetlb: the same files (or nearly) on both versions ----

bool cpuset_wanted(const Resources& r) { return r.cpu && (!r.cpu->cpus.empty() || !r.cpu->mems.empty()); }

void cpuset(const std::string& dir, const Resources& r) {
  if (!r.cpu->cpus.empty()) write_value(dir, "cpuset.cpus", r.cpu->cpus);
  if (!r.cpu->mems.empty()) write_value(dir, "cpuset.mems", r.cpu->mems);
}

bool pids_wanted(const Resources& r) { return r.pids_limit.has_value(); }

void pids(const std::string& dir, const Resources& r) {
  write_value(dir, "pids.max", *r.pids_limit > 0 ? to_string(*r.pids_limit) : "max");
}

bool hugetlb_wanted(const Resources& r) { return !r.hugepage_limits.empty(); }

void hugetlb(const std::string& dir, const Resources& r, const char* suffix) {
  for (const auto& h : r.hugepage_limits) {
    if (h.page_size.empty() || h.page_size.find('/') != std::string::npos || h.page_size.find("..") != std::string::npos)
      throw Error("invalid hugepage size \"" + h.page_size + "\"");
    write_value(dir, "hugetlb." + h.page_size + "." + suffix, to_string(h.limit));
  }
}

void hugetlb_v1(const std::string& dir, const Resources& r) { hugetlb(dir, r, "limit_in_bytes"); }
void hugetlb_v2(const std::string& dir, const Resources& r) { hugetlb(dir, r, "max"); }

// ---- blkio / io ----

struct Throttle {
  std::vector<oci::BlkioThrottleDevice> oci::Blkio::*list;
  const char* v1_file;
  const char* v2_key;
};
constexpr Throttle kThrottles[] = {
    {&oci::Blkio::throttle_read_bps, "blkio.throttle.read_bps_device", "rbps"},
    {&oci::Blkio::throttle_write_bps, "blkio.throttle.write_bps_device", "wbps"},
    {&oci::Blkio::throttle_read_iops, "blkio.throttle.read_iops_device", "riops"},
    {&oci::Blkio::throttle_write_iops, "blkio.throttle.write_iops_device", "wiops"},
};

bool blkio_wanted(const Resources& r) {
  if (!r.blkio) return false;
  const auto& b = *r.blkio;
  return given(b.weight) || given(b.leaf_weight) || !b.weight_device.empty() ||
         std::any_of(std::begin(kThrottles), std::end(kThrottles), [&](const Throttle& t) { return !(b.*t.list).empty(); });
}

void blkio_v1(const std::string& dir, const Resources& r) {
  const auto& b = *r.blkio;
  if (given(b.weight)) write_value(dir, pick(dir, "blkio.weight", "blkio.bfq.weight"), to_string(*b.weight));
  if (given(b.leaf_weight)) write_value(dir, "blkio.leaf_weight", to_string(*b.leaf_weight));
  for (const auto& d : b.weight_device) {
    std::string dev = device(d.major, d.minor);
    if (given(d.weight))
      write_value(dir, pick(dir, "blkio.weight_device", "blkio.bfq.weight_device"), dev + " " + to_string(*d.weight));
    if (given(d.leaf_weight)) write_value(dir, "blkio.leaf_weight_device", dev + " " + to_string(*d.leaf_weight));
  }
  for (const auto& t : kThrottles)
    for (const auto& d : b.*t.list) write_value(dir, t.v1_file, device(d.major, d.minor) + " " + to_string(d.rate));
}

// One io.max line per device: "8:0 rbps=1048576 wiops=max" (rate 0 = no limit, as on v1).
std::vector<std::string> io_max_lines(const oci::Blkio& b) {
  std::vector<std::pair<std::string, std::string>> lines;  // device, line
  for (const auto& t : kThrottles) {
    for (const auto& d : b.*t.list) {
      std::string dev = device(d.major, d.minor);
      auto it = std::find_if(lines.begin(), lines.end(), [&](const auto& l) { return l.first == dev; });
      if (it == lines.end()) it = lines.insert(lines.end(), {dev, dev});
      it->second += std::string(" ") + t.v2_key + "=" + (d.rate ? to_string(d.rate) : "max");
    }
  }
  std::vector<std::string> out;
  for (auto& l : lines) out.push_back(std::move(l.second));
  return out;
}

// Leaf weights have no v2 counterpart and are ignored, as runc does.
void io_v2(const std::string& dir, const Resources& r) {
  const auto& b = *r.blkio;
  if (given(b.weight)) write_value(dir, "io.weight", to_string(blkio_weight_to_io_weight(*b.weight)));
  for (const auto& d : b.weight_device)
    if (given(d.weight))
      write_value(dir, "io.weight", device(d.major, d.minor) + " " + to_string(blkio_weight_to_io_weight(*d.weight)));
  for (const auto& line : io_max_lines(b)) write_value(dir, "io.max", line);
}

// ---- net_cls, net_prio (v1 only) ----

bool net_cls_wanted(const Resources& r) { return given(r.net_cls_classid); }

void net_cls(const std::string& dir, const Resources& r) {
  write_value(dir, "net_cls.classid", to_string(*r.net_cls_classid));
}

bool net_prio_wanted(const Resources& r) { return !r.net_priorities.empty(); }

void net_prio(const std::string& dir, const Resources& r) {
  for (const auto& p : r.net_priorities) {
    if (p.name.empty() || p.name.find_first_of(" \t\n") != std::string::npos)
      throw Error("invalid interface name \"" + p.name + "\" in netPriorities");
    write_value(dir, "net_prio.ifpriomap", p.name + " " + to_string(p.priority));
  }
}

// ---- devices ----

bool devices_wanted(const Resources& r) { return !r.devices.empty(); }

void devices_v1(const std::string& dir, const Resources& r) {
  for (const auto& rule : r.devices) write_value(dir, rule.allow ? "devices.allow" : "devices.deny", device_rule(rule));
}

// v2 has no devices files: the rules become an eBPF program attached to the cgroup. A hybrid
// host never gets here when it has the v1 devices controller (V1Manager writes the v1 files).
void devices_v2(const std::string& dir, const Resources& r) { apply_device_rules_v2(dir, r.devices); }

}  // namespace

std::string device_rule(const oci::DeviceRule& rule) {
  std::string type = rule.type.empty() ? "a" : rule.type;
  if (type != "a" && type != "c" && type != "b") throw Error("invalid device rule type \"" + rule.type + "\"");
  std::string access = rule.access.empty() ? "rwm" : rule.access;
  if (access.find_first_not_of("rwm") != std::string::npos)
    throw Error("invalid device rule access \"" + rule.access + "\"");
  auto id = [](const std::optional<int64_t>& v) { return v && *v >= 0 ? to_string(*v) : std::string("*"); };
  return type + " " + id(rule.major) + ":" + id(rule.minor) + " " + access;
}

const std::vector<Group>& groups() {
  static const std::vector<Group> kGroups = {
      {"cpuset", "cpuset", "cpuset", cpuset_wanted, cpuset, cpuset},
      {"devices", "devices", nullptr, devices_wanted, devices_v1, devices_v2},
      {"memory", "memory", "memory", memory_wanted, memory_v1, memory_v2},
      {"cpu", "cpu", "cpu", cpu_wanted, cpu_v1, cpu_v2},
      {"pids", "pids", "pids", pids_wanted, pids, pids},
      {"blockIO", "blkio", "io", blkio_wanted, blkio_v1, io_v2},
      {"hugepageLimits", "hugetlb", "hugetlb", hugetlb_wanted, hugetlb_v1, hugetlb_v2},
      {"network.classID", "net_cls", nullptr, net_cls_wanted, net_cls, nullptr},
      {"network.priorities", "net_prio", nullptr, net_prio_wanted, net_prio, nullptr},
  };
  return kGroups;
}

}  // namespace hoist::runtime::cgroups::detail
