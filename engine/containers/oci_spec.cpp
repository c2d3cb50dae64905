// OCI spec generation from Docker's Config/HostConfig, following dockerd's behaviour
// (daemon/oci_linux.go, oci/defaults.go, container env, caps and security-opt parsing).
#include "engine/containers/oci_spec.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "common/error.h"
#include "common/fd.h"
#include "common/file.h"
#include "common/json.h"
#include "engine/containers/resources.h"
#include "volumes/mounts.h"

namespace hoist::engine {
namespace {
using json = nlohmann::json;

constexpr const char* kDefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
constexpr int64_t kDefaultShmSize = 64 * 1024 * 1024;

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  std::istringstream in(s);
  while (std::getline(in, cur, sep)) out.push_back(cur);
  if (!s.empty() && s.back() == sep) out.emplace_back();
  return out;
}

bool parse_u32(const std::string& s, uint32_t& out) {
  if (s.empty() || s.size() > 10) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v > 0xffffffffULL) return false;
  out = static_cast<uint32_t>(v);
  return true;
}

// Reads <rootfs>/<rel> with every component resolved inside the rootfs (symlinks included).
// nullopt when missing.
std::optional<std::string> read_in_root(const std::string& rootfs, const std::string& rel) {
  UniqueFd root(::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) {
    if (errno == ENOENT) return std::nullopt;
    throw_sys("open", rootfs);
  }
  struct open_how how {};
  how.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  int fd;
  do {
    fd = static_cast<int>(::syscall(SYS_openat2, root.get(), rel.c_str(), &how, sizeof how));
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR) return std::nullopt;
    throw_sys("open", rootfs + "/" + rel);
  }
  UniqueFd f(fd);
  struct stat st {};
  if (::fstat(f.get(), &st) != 0) throw_sys("stat", rootfs + "/" + rel);
  if (!S_ISREG(st.st_mode)) return std::nullopt;
  return read_fd(f.get());
}

struct PasswdEntry { std::string name; uint32_t uid, gid; };
struct GroupEntry { std::string name; uint32_t gid; std::vector<std::string> members; };

std::vector<PasswdEntry> parse_passwd(const std::string& text) {
  std::vector<PasswdEntry> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto f = split(line, ':');
    if (f.size() < 4) continue;
    PasswdEntry e{f[0], 0, 0};
    if (!parse_u32(f[2], e.uid) || !parse_u32(f[3], e.gid)) continue;
    out.push_back(e);
  }
  return out;
}

std::vector<GroupEntry> parse_group(const std::string& text) {
  std::vector<GroupEntry> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto f = split(line, ':');
    if (f.size() < 3) continue;
    GroupEntry g{f[0], 0, {}};
    if (!parse_u32(f[2], g.gid)) continue;
    if (f.size() >= 4 && !f[3].empty())
      for (auto& m : split(f[3], ',')) if (!m.empty()) g.members.push_back(m);
    out.push_back(g);
  }
  return out;
}

struct SecurityOpts {
  bool no_new_privileges = false;
  std::optional<std::string> apparmor;
  std::optional<std::string> seccomp;
  bool systempaths_unconfined = false;
  std::optional<bool> writable_cgroups;
};

std::optional<bool> parse_bool(const std::string& v) {
  static const std::set<std::string> t = {"1", "t", "T", "true", "TRUE", "True"};
  static const std::set<std::string> f = {"0", "f", "F", "false", "FALSE", "False"};
  if (t.count(v)) return true;
  if (f.count(v)) return false;
  return std::nullopt;
}

SecurityOpts parse_security_opts(const json& host_config) {
  SecurityOpts so;
  auto opts = json_str_list(host_config, "SecurityOpt").value_or(std::vector<std::string>{});
  for (const auto& opt : opts) {
    if (opt == "no-new-privileges") { so.no_new_privileges = true; continue; }
    if (opt == "disable") continue;  // SELinux label disable: no SELinux here
    std::string k, v;
    auto eq = opt.find('='), colon = opt.find(':');
    if (eq != std::string::npos) { k = opt.substr(0, eq); v = opt.substr(eq + 1); }
    else if (colon != std::string::npos) { k = opt.substr(0, colon); v = opt.substr(colon + 1); }
    else throw InvalidArgument("invalid --security-opt 1: \"" + opt + "\"");
    if (k == "label") continue;  // SELinux labels: accepted, not applied (no SELinux support)
    if (k == "apparmor") { so.apparmor = v; continue; }
    if (k == "seccomp") { so.seccomp = v; continue; }
    if (k == "no-new-privileges") {
      auto b = parse_bool(v);
      if (!b) throw InvalidArgument("invalid --security-opt 2: \"" + opt + "\"");
      so.no_new_privileges = *b;
      continue;
    }
    if (k == "systempaths" && v == "unconfined") { so.systempaths_unconfined = true; continue; }
    if (k == "writable-cgroups") {
      auto b = parse_bool(v);
      if (!b) throw InvalidArgument("invalid --security-opt 2: \"" + opt + "\"");
      so.writable_cgroups = *b;
      continue;
    }
    throw InvalidArgument("invalid --security-opt 2: \"" + opt + "\"");
  }
  return so;
}

std::string normalize_cap(const std::string& c, const std::vector<std::string>& available) {
  std::string u = upper(c);
  if (u == "ALL") return u;
  if (u.rfind("CAP_", 0) != 0) u = "CAP_" + u;
  const auto& all = all_capabilities();
  if (std::find(all.begin(), all.end(), u) == all.end())
    throw InvalidArgument("unknown capability: \"" + c + "\"");
  if (std::find(available.begin(), available.end(), u) == available.end())
    throw InvalidArgument("capability not supported by your kernel or not available in the current environment: \"" +
                          u + "\"");
  return u;
}

bool cgroup_v2_host() { return path_exists("/sys/fs/cgroup/cgroup.controllers"); }

bool apparmor_enabled() {
  try {
    std::string s = read_file("/sys/module/apparmor/parameters/enabled");
    return !s.empty() && s[0] == 'Y';
  } catch (const std::exception&) {
    return false;
  }
}

json mount(const std::string& dst, const std::string& type, const std::string& src,
           std::vector<std::string> opts) {
  return json{{"destination", dst}, {"type", type}, {"source", src}, {"options", opts}};
}

const std::map<std::string, std::string> kRlimits = {
    {"core", "RLIMIT_CORE"},       {"cpu", "RLIMIT_CPU"},         {"data", "RLIMIT_DATA"},
    {"fsize", "RLIMIT_FSIZE"},     {"locks", "RLIMIT_LOCKS"},     {"memlock", "RLIMIT_MEMLOCK"},
    {"msgqueue", "RLIMIT_MSGQUEUE"}, {"nice", "RLIMIT_NICE"},     {"nofile", "RLIMIT_NOFILE"},
    {"nproc", "RLIMIT_NPROC"},     {"rss", "RLIMIT_RSS"},         {"rtprio", "RLIMIT_RTPRIO"},
    {"rttime", "RLIMIT_RTTIME"},   {"sigpending", "RLIMIT_SIGPENDING"}, {"stack", "RLIMIT_STACK"},
    {"as", "RLIMIT_AS"}};

json device_rule(bool allow, const std::string& type, std::optional<int64_t> major,
                 std::optional<int64_t> minor, const std::string& access) {
  json r{{"allow", allow}, {"access", access}};
  if (!type.empty()) r["type"] = type;
  if (major) r["major"] = *major;
  if (minor) r["minor"] = *minor;
  return r;
}

// HostConfig's per-device Blkio* fields as OCI blockIO entries (devices named by major:minor).
json block_io_devices(const json& hc) {
  json b = json::object();
  auto device = [](const json& d, const char* value_key) {
    std::string path = json_str(d, "Path");
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
      throw InvalidArgument("blkio device " + path + ": " + std::strerror(errno));
    if (!S_ISBLK(st.st_mode)) throw InvalidArgument("blkio device " + path + ": not a block device");
    json out = {{"major", static_cast<int64_t>(major(st.st_rdev))}, {"minor", static_cast<int64_t>(minor(st.st_rdev))}};
    out[std::string(value_key) == "Weight" ? "weight" : "rate"] = json_num(d, value_key);
    return out;
  };
  if (hc.contains("BlkioWeightDevice") && hc["BlkioWeightDevice"].is_array())
    for (const auto& d : hc["BlkioWeightDevice"]) b["weightDevice"].push_back(device(d, "Weight"));
  for (auto [key, oci] : {std::pair{"BlkioDeviceReadBps", "throttleReadBpsDevice"},
                          std::pair{"BlkioDeviceWriteBps", "throttleWriteBpsDevice"},
                          std::pair{"BlkioDeviceReadIOps", "throttleReadIOPSDevice"},
                          std::pair{"BlkioDeviceWriteIOps", "throttleWriteIOPSDevice"}})
    if (hc.contains(key) && hc[key].is_array())
      for (const auto& d : hc[key]) b[oci].push_back(device(d, "Rate"));
  return b;
}

}  // namespace

const std::vector<std::string>& default_masked_paths() {
  static const std::vector<std::string> v = {
      "/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
      "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
      "/sys/devices/virtual/powercap"};
  return v;
}

const std::vector<std::string>& default_readonly_paths() {
  static const std::vector<std::string> v = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"};
  return v;
}

json device_cgroup_rule(const std::string& rule) {
  // Docker's form: "TYPE MAJOR:MINOR ACCESS", TYPE a|b|c, MAJOR/MINOR a number or '*', ACCESS of rwm.
  auto bad = [&] { return InvalidArgument("invalid device cgroup format '" + rule + "'"); };
  auto parts = split(rule, ' ');
  if (parts.size() != 3 || parts[0].size() != 1 || std::string("abc").find(parts[0][0]) == std::string::npos)
    throw bad();
  auto colon = parts[1].find(':');
  if (colon == std::string::npos) throw bad();
  auto number = [&](const std::string& v) -> std::optional<int64_t> {
    if (v == "*") return std::nullopt;
    if (v.empty() || v.size() > 9 || v.find_first_not_of("0123456789") != std::string::npos) throw bad();
    return std::stoll(v);
  };
  auto ma = number(parts[1].substr(0, colon));
  auto mi = number(parts[1].substr(colon + 1));
  const std::string& access = parts[2];
  if (access.empty() || access.size() > 3 || access.find_first_not_of("rwm") != std::string::npos) throw bad();
  return device_rule(true, parts[0], ma, mi, access);
}

std::vector<std::string> resolve_command(const json& config, const json& image_config) {
  auto entrypoint = json_str_list(config, "Entrypoint");
  auto cmd = json_str_list(config, "Cmd");
  // `--entrypoint ""` arrives as [""]: an explicitly empty entrypoint.
  if (entrypoint && entrypoint->size() == 1 && (*entrypoint)[0].empty()) entrypoint->clear();
  std::vector<std::string> ep, args;
  if (!entrypoint || entrypoint->empty()) {
    if (!cmd || cmd->empty()) cmd = json_str_list(image_config, "Cmd");
    if (!entrypoint) entrypoint = json_str_list(image_config, "Entrypoint");
  }
  if (entrypoint) ep = *entrypoint;
  if (cmd) args = *cmd;
  ep.insert(ep.end(), args.begin(), args.end());
  return ep;
}

std::vector<std::string> merge_env(const json& image_env, const json& container_env) {
  std::vector<std::string> out;
  auto put = [&](const std::string& kv) {
    std::string key = kv.substr(0, kv.find('='));
    for (auto& e : out)
      if (e.substr(0, e.find('=')) == key) { e = kv; return; }
    out.push_back(kv);
  };
  for (const json* src : {&image_env, &container_env})
    if (src->is_array())
      for (const auto& e : *src) if (e.is_string()) put(e.get<std::string>());
  return out;
}

std::vector<std::string> effective_capabilities(const json& cap_add, const json& cap_drop, bool privileged) {
  return effective_capabilities(cap_add, cap_drop, privileged, available_capabilities());
}

std::vector<std::string> effective_capabilities(const json& cap_add, const json& cap_drop, bool privileged,
                                                const std::vector<std::string>& available) {
  if (privileged) return available;
  auto norm_list = [&](const json& j) {
    std::vector<std::string> out;
    if (j.is_array())
      for (const auto& c : j) if (c.is_string()) out.push_back(normalize_cap(c.get<std::string>(), available));
    return out;
  };
  auto adds = norm_list(cap_add), drops = norm_list(cap_drop);
  auto has = [](const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
  };
  std::vector<std::string> base;
  if (has(adds, "ALL")) base = available;
  else if (!has(drops, "ALL")) base = default_capabilities();
  std::vector<std::string> out;
  for (const auto& c : all_capabilities()) {  // canonical order
    bool in = has(base, c) || has(adds, c);
    if (has(drops, "ALL") && !has(adds, "ALL")) in = has(adds, c);
    if (has(drops, c)) in = false;
    if (in) out.push_back(c);
  }
  return out;
}

ResolvedUser resolve_user(const std::string& rootfs, const std::string& user,
                          const std::vector<std::string>& group_add) {
  ResolvedUser r;
  std::string u = user, g;
  bool group_given = false;
  if (auto c = user.find(':'); c != std::string::npos) {
    u = user.substr(0, c);
    g = user.substr(c + 1);
    group_given = true;
  }
  auto passwd_text = read_in_root(rootfs, "/etc/passwd");
  auto group_text = read_in_root(rootfs, "/etc/group");
  auto passwd = passwd_text ? parse_passwd(*passwd_text) : std::vector<PasswdEntry>{};
  auto groups = group_text ? parse_group(*group_text) : std::vector<GroupEntry>{};

  std::string name;
  uint32_t n = 0;
  if (u.empty()) {
    r.uid = 0;
    for (const auto& p : passwd) if (p.uid == 0) { name = p.name; r.gid = p.gid; break; }
  } else if (parse_u32(u, n)) {
    r.uid = n;
    for (const auto& p : passwd) if (p.uid == n) { name = p.name; r.gid = p.gid; break; }
  } else {
    bool found = false;
    for (const auto& p : passwd)
      if (p.name == u) { name = p.name; r.uid = p.uid; r.gid = p.gid; found = true; break; }
    if (!found) throw InvalidArgument("unable to find user " + u + ": no matching entries in passwd file");
  }
  if (group_given) {
    if (g.empty()) throw InvalidArgument("invalid user specification: \"" + user + "\"");
    if (parse_u32(g, n)) {
      r.gid = n;
    } else {
      bool found = false;
      for (const auto& gr : groups) if (gr.name == g) { r.gid = gr.gid; found = true; break; }
      if (!found) throw InvalidArgument("unable to find group " + g + ": no matching entries in group file");
    }
  } else if (!name.empty()) {
    for (const auto& gr : groups)
      if (std::find(gr.members.begin(), gr.members.end(), name) != gr.members.end() &&
          std::find(r.additional_gids.begin(), r.additional_gids.end(), gr.gid) == r.additional_gids.end())
        r.additional_gids.push_back(gr.gid);
  }
  for (const auto& ga : group_add) {
    uint32_t gid = 0;
    if (!parse_u32(ga, gid)) {
      bool found = false;
      for (const auto& gr : groups) if (gr.name == ga) { gid = gr.gid; found = true; break; }
      if (!found) throw InvalidArgument("Unable to find group " + ga + ": no matching entries in group file");
    }
    if (std::find(r.additional_gids.begin(), r.additional_gids.end(), gid) == r.additional_gids.end())
      r.additional_gids.push_back(gid);
  }
  return r;
}

json build_oci_spec(const SpecInput& in) {
  const json& cfg = in.config.is_object() ? in.config : json::object();
  const json& hc = in.host_config.is_object() ? in.host_config : json::object();
  const json& img = in.image_config.is_object() ? in.image_config : json::object();
  const bool privileged = json_flag(hc, "Privileged");
  const bool tty = json_flag(cfg, "Tty");

  // --- process args
  std::vector<std::string> args = resolve_command(cfg, img);
  if (args.empty()) throw InvalidArgument("No command specified");
  json mounts_extra = json::array();
  if (json_flag(hc, "Init")) {
    if (in.init_path.empty())
      throw InvalidArgument("could not find init binary for --init (no docker-init configured)");
    args.insert(args.begin(), {"/sbin/docker-init", "--"});
    mounts_extra.push_back(mount("/sbin/docker-init", "bind", in.init_path, {"bind", "ro"}));
  }

  // --- hostname and env
  std::string hostname = json_str(cfg, "Hostname");
  if (hostname.empty()) hostname = in.hostname.empty() ? in.id.substr(0, 12) : in.hostname;
  std::vector<std::string> env = {kDefaultPath, "HOSTNAME=" + hostname};
  if (tty) env.push_back("TERM=xterm");
  env.insert(env.end(), in.link_env.begin(), in.link_env.end());
  auto merged = merge_env(img.contains("Env") ? img["Env"] : json(), cfg.contains("Env") ? cfg["Env"] : json());
  for (const auto& kv : merged) {
    std::string key = kv.substr(0, kv.find('='));
    bool replaced = false;
    for (auto& e : env)
      if (e.substr(0, e.find('=')) == key) { e = kv; replaced = true; break; }
    if (!replaced) env.push_back(kv);
  }

  // --- cwd and user
  std::string cwd = json_str(cfg, "WorkingDir");
  if (cwd.empty()) cwd = json_str(img, "WorkingDir");
  if (cwd.empty()) cwd = "/";
  if (cwd[0] != '/')
    throw InvalidArgument("the working directory '" + cwd + "' is invalid, it needs to be an absolute path");
  std::string user = json_str(cfg, "User");
  if (user.empty()) user = json_str(img, "User");
  std::vector<std::string> group_add = json_str_list(hc, "GroupAdd").value_or(std::vector<std::string>{});
  ResolvedUser ru = resolve_user(in.rootfs, user, group_add);

  // --- security
  SecurityOpts so = parse_security_opts(hc);
  auto caps = effective_capabilities(hc.contains("CapAdd") ? hc["CapAdd"] : json(),
                                     hc.contains("CapDrop") ? hc["CapDrop"] : json(), privileged);

  json process;
  process["terminal"] = tty;
  json juser{{"uid", ru.uid}, {"gid", ru.gid}};
  if (!ru.additional_gids.empty()) juser["additionalGids"] = ru.additional_gids;
  process["user"] = juser;
  process["args"] = args;
  process["env"] = env;
  process["cwd"] = cwd;
  process["capabilities"] = {{"bounding", caps}, {"effective", caps}, {"permitted", caps}};
  process["noNewPrivileges"] = so.no_new_privileges;
  if (hc.contains("OomScoreAdj") && hc["OomScoreAdj"].is_number()) {
    int64_t adj = json_int64(hc["OomScoreAdj"], "OomScoreAdj");
    if (adj < -1000 || adj > 1000)
      throw InvalidArgument("Invalid value " + std::to_string(adj) + ", range for oom score adj is [-1000, 1000]");
    if (adj != 0) process["oomScoreAdj"] = adj;
  }
  if (hc.contains("Ulimits") && hc["Ulimits"].is_array()) {
    json rl = json::array();
    for (const auto& u : hc["Ulimits"]) {
      std::string name = json_str(u, "Name");
      auto it = kRlimits.find(name);
      if (it == kRlimits.end()) throw InvalidArgument("invalid ulimit type: " + name);
      int64_t soft = json_num(u, "Soft"), hard = json_num(u, "Hard");
      if (soft > hard) throw InvalidArgument("ulimit soft limit must be less than or equal to hard limit: " +
                                             std::to_string(soft) + " > " + std::to_string(hard));
      rl.push_back({{"type", it->second}, {"hard", static_cast<uint64_t>(hard)}, {"soft", static_cast<uint64_t>(soft)}});
    }
    if (!rl.empty()) process["rlimits"] = rl;
  }
  if (apparmor_enabled()) {
    if (privileged) process["apparmorProfile"] = so.apparmor.value_or("unconfined");
    else process["apparmorProfile"] = so.apparmor.value_or("docker-default");
  }

  json spec;
  spec["ociVersion"] = "1.1.0";
  spec["process"] = process;
  spec["root"] = {{"path", in.rootfs}, {"readonly", json_flag(hc, "ReadonlyRootfs")}};

  // --- namespaces
  const std::string net_mode = json_str(hc, "NetworkMode");
  const std::string ipc_mode = json_str(hc, "IpcMode");
  const std::string pid_mode = json_str(hc, "PidMode");
  const std::string uts_mode = json_str(hc, "UTSMode");
  std::string cgroupns_mode = json_str(hc, "CgroupnsMode");
  const bool v2 = cgroup_v2_host();
  if (cgroupns_mode.empty()) cgroupns_mode = v2 ? "private" : "host";
  if (cgroupns_mode != "private" && cgroupns_mode != "host")
    throw InvalidArgument("invalid cgroup namespace mode: " + cgroupns_mode);
  for (const auto* m : {&ipc_mode, &pid_mode, &uts_mode})
    if (!m->empty() && *m != "host" && *m != "private" && *m != "shareable" && *m != "none")
      throw InvalidArgument("mode \"" + *m + "\" is not supported");
  json ns = json::array();
  if (pid_mode != "host") ns.push_back({{"type", "pid"}});
  if (net_mode != "host") {
    json n{{"type", "network"}};
    if (!in.netns_path.empty() && in.netns_path != "host") n["path"] = in.netns_path;
    ns.push_back(n);
  }
  if (ipc_mode != "host") ns.push_back({{"type", "ipc"}});
  if (uts_mode != "host") ns.push_back({{"type", "uts"}});
  ns.push_back({{"type", "mount"}});
  if (cgroupns_mode == "private") ns.push_back({{"type", "cgroup"}});
  if (uts_mode != "host") spec["hostname"] = hostname;
  if (!json_str(cfg, "Domainname").empty()) spec["domainname"] = json_str(cfg, "Domainname");

  // --- mounts: Docker's defaults, replaced by user mounts at the same destination
  int64_t shm = json_num(hc, "ShmSize");
  if (shm < 0) throw InvalidArgument("SHM size can not be less than 0");
  if (shm == 0) shm = kDefaultShmSize;
  bool cgroup_rw = privileged || so.writable_cgroups.value_or(false);
  std::vector<json> mounts = {
      mount("/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}),
      mount("/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}),
      mount("/dev/pts", "devpts", "devpts",
            {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}),
      privileged ? mount("/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev"})
                 : mount("/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}),
      cgroup_rw ? mount("/sys/fs/cgroup", "cgroup", "cgroup", {"nosuid", "noexec", "nodev"})
                : mount("/sys/fs/cgroup", "cgroup", "cgroup", {"ro", "nosuid", "noexec", "nodev"}),
      mount("/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}),
  };
  if (ipc_mode == "host")
    mounts.push_back(mount("/dev/shm", "bind", "/dev/shm", {"rbind", "rprivate"}));
  else if (ipc_mode != "none")
    mounts.push_back(mount("/dev/shm", "tmpfs", "shm",
                           {"nosuid", "noexec", "nodev", "mode=1777", "size=" + std::to_string(shm)}));
  std::vector<json> user_mounts;
  if (!in.resolv_conf_path.empty())
    user_mounts.push_back(mount("/etc/resolv.conf", "bind", in.resolv_conf_path, {"rbind", "rprivate"}));
  if (!in.hostname_path.empty())
    user_mounts.push_back(mount("/etc/hostname", "bind", in.hostname_path, {"rbind", "rprivate"}));
  if (!in.hosts_path.empty())
    user_mounts.push_back(mount("/etc/hosts", "bind", in.hosts_path, {"rbind", "rprivate"}));
  for (const auto& m : in.mounts ? *in.mounts : volumes::user_mounts(hc)) {
    if (m.type == volumes::MountPoint::Type::Tmpfs) {
      user_mounts.push_back(mount(m.destination, "tmpfs", "tmpfs", m.options));
      continue;
    }
    // A volume is bound from its host path, as dockerd does (rbind, rprivate).
    std::vector<std::string> opts = {m.recursive ? "rbind" : "bind", m.propagation.empty() ? "rprivate" : m.propagation};
    if (m.read_only) opts.push_back("ro");
    user_mounts.push_back(mount(m.destination, "bind", m.source, opts));
  }
  for (const auto& m : mounts_extra) user_mounts.push_back(m);
  std::set<std::string> seen;
  for (const auto& um : user_mounts) {
    std::string d = um["destination"];
    if (!seen.insert(d).second) throw InvalidArgument("Duplicate mount point: " + d);
  }
  json jm = json::array();
  for (const auto& m : mounts)
    if (!seen.count(m["destination"].get<std::string>())) jm.push_back(m);
  // Parents before children: sort user mounts by path depth (stable).
  std::stable_sort(user_mounts.begin(), user_mounts.end(), [](const json& a, const json& b) {
    auto depth = [](const std::string& p) { return std::count(p.begin(), p.end(), '/'); };
    return depth(a["destination"].get<std::string>()) < depth(b["destination"].get<std::string>());
  });
  for (const auto& m : user_mounts) jm.push_back(m);
  spec["mounts"] = jm;

  // --- linux
  json lx;
  lx["namespaces"] = ns;
  std::string parent = json_str(hc, "CgroupParent");
  if (parent.empty()) parent = in.cgroup_parent.empty() ? "/hoist" : in.cgroup_parent;
  if (parent[0] != '/') parent = "/" + parent;
  if (parent.size() > 1 && parent.back() == '/') parent.pop_back();
  lx["cgroupsPath"] = (parent == "/" ? "" : parent) + "/" + in.id;

  json res;
  json devrules = json::array();
  json lxdevices = json::array();
  if (privileged) {
    devrules.push_back(device_rule(true, "", std::nullopt, std::nullopt, "rwm"));
  } else {
    devrules.push_back(device_rule(false, "", std::nullopt, std::nullopt, "rwm"));
    devrules.push_back(device_rule(true, "c", std::nullopt, std::nullopt, "m"));
    devrules.push_back(device_rule(true, "b", std::nullopt, std::nullopt, "m"));
    // moby's oci defaults (zero, null, urandom, random, tty, console; fuse denied), then the
    // rules runc adds itself (full, pts/*, ptmx, net/tun) so the spec is complete on its own.
    const std::pair<int64_t, int64_t> rwm[] = {{1, 5}, {1, 3}, {1, 9}, {1, 8}, {5, 0}, {5, 1}};
    for (auto [ma, mi] : rwm) devrules.push_back(device_rule(true, "c", ma, mi, "rwm"));
    devrules.push_back(device_rule(false, "c", 10, 229, "rwm"));
    devrules.push_back(device_rule(true, "c", 1, 7, "rwm"));
    devrules.push_back(device_rule(true, "c", 136, std::nullopt, "rwm"));
    devrules.push_back(device_rule(true, "c", 5, 2, "rwm"));
    devrules.push_back(device_rule(true, "c", 10, 200, "rwm"));
  }
  if (hc.contains("Devices") && hc["Devices"].is_array()) {
    for (const auto& d : hc["Devices"]) {
      std::string host = json_str(d, "PathOnHost"), ctr = json_str(d, "PathInContainer"), perms = json_str(d, "CgroupPermissions");
      if (ctr.empty()) ctr = host;
      if (perms.empty()) perms = "rwm";
      if (perms.find_first_not_of("rwm") != std::string::npos)
        throw InvalidArgument("invalid device mode: " + perms);
      struct stat st {};
      if (::stat(host.c_str(), &st) != 0)
        throw InvalidArgument("error gathering device information while adding custom device \"" + host +
                              "\": no such file or directory");
      if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode))
        throw InvalidArgument("error gathering device information while adding custom device \"" + host +
                              "\": not a device node");
      std::string type = S_ISCHR(st.st_mode) ? "c" : "b";
      int64_t ma = major(st.st_rdev), mi = minor(st.st_rdev);
      lxdevices.push_back({{"path", ctr}, {"type", type}, {"major", ma}, {"minor", mi},
                           {"fileMode", st.st_mode & 07777}, {"uid", st.st_uid}, {"gid", st.st_gid}});
      devrules.push_back(device_rule(true, type, ma, mi, perms));
    }
  }
  if (auto rules = json_str_list(hc, "DeviceCgroupRules"))
    for (const auto& rule : *rules) devrules.push_back(device_cgroup_rule(rule));
  res["devices"] = devrules;
  if (!lxdevices.empty()) lx["devices"] = lxdevices;

  // Memory, CPU, pids and block I/O weight: checked as dockerd checks them, then as OCI resources.
  json checked = hc;
  validate_resources(checked);
  json limits = oci_resources(checked);
  for (auto& [k, v] : limits.items()) res[k] = v;
  if (int64_t v = json_num(hc, "CpuRealtimePeriod"); v > 0) res["cpu"]["realtimePeriod"] = v;
  if (int64_t v = json_num(hc, "CpuRealtimeRuntime"); v != 0) res["cpu"]["realtimeRuntime"] = v;
  json blkio_devices = block_io_devices(hc);
  for (auto& [k, v] : blkio_devices.items()) res["blockIO"][k] = v;
  for (const char* k : {"KernelMemory", "KernelMemoryTCP", "CpuCount", "CpuPercent", "IOMaximumIOps",
                        "IOMaximumBandwidth"})
    if (json_num(hc, k) != 0) throw InvalidArgument(std::string(k) + " is not supported");
  if (hc.contains("DeviceRequests") && hc["DeviceRequests"].is_array() && !hc["DeviceRequests"].empty())
    throw InvalidArgument("could not select device driver \"" + json_str(hc["DeviceRequests"][0], "Driver") +
                          "\" with capabilities: " + hc["DeviceRequests"][0].value("Capabilities", json::array()).dump());
  lx["resources"] = res;

  if (hc.contains("Sysctls") && hc["Sysctls"].is_object() && !hc["Sysctls"].empty()) {
    json s = json::object();
    for (const auto& [k, v] : hc["Sysctls"].items()) {
      if (net_mode == "host" && k.rfind("net.", 0) == 0)
        throw InvalidArgument("sysctl '" + k + "' not allowed in host network mode");
      s[k] = v.is_string() ? v.get<std::string>() : v.dump();
    }
    lx["sysctl"] = s;
  }

  if (!privileged && !so.systempaths_unconfined) {
    // HostConfig.MaskedPaths / ReadonlyPaths replace the defaults when given (as dockerd).
    lx["maskedPaths"] = json_str_list(hc, "MaskedPaths").value_or(default_masked_paths());
    lx["readonlyPaths"] = json_str_list(hc, "ReadonlyPaths").value_or(default_readonly_paths());
  }

  if (!privileged) {
    std::string prof = so.seccomp.value_or("");
    if (prof == "unconfined") {
      // no filter
    } else if (prof.empty() || prof == "builtin") {
      lx["seccomp"] = default_seccomp_profile(caps);
    } else {
      json p;
      try {
        p = json::parse(prof);
      } catch (const json::exception& e) {
        throw InvalidArgument(std::string("Decoding seccomp profile failed: ") + e.what());
      }
      lx["seccomp"] = seccomp_profile_to_oci(p, caps);
    }
  }
  spec["linux"] = lx;
  return spec;
}

}  // namespace hoist::engine
