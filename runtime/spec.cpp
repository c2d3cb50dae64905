#include "runtime/spec.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/json.h"
#include "common/error.h"
#include "common/file.h"

namespace hoist::oci {
namespace {

using nlohmann::json;

// Typed field access with the field's path in every error ("process.user.uid: ...").
struct Obj {
  const json& j;
  std::string where;

  Obj(const json& j_, std::string w) : j(j_), where(std::move(w)) {
    if (!j.is_object()) throw Error("config: " + where + ": must be an object");
  }
  std::string path(const char* k) const { return where.empty() ? k : where + "." + k; }
  const json* find(const char* k) const {
    auto it = j.find(k);
    return it == j.end() || it->is_null() ? nullptr : &*it;
  }
  [[noreturn]] void bad(const char* k, const char* must) const {
    throw Error("config: " + path(k) + ": must be " + must);
  }
  std::string str(const char* k, std::string def = {}) const {
    auto* v = find(k);
    if (!v) return def;
    if (!v->is_string()) bad(k, "a string");
    return v->get<std::string>();
  }
  bool boolean(const char* k, bool def = false) const {
    auto* v = find(k);
    if (!v) return def;
    if (!v->is_boolean()) bad(k, "a boolean");
    return v->get<bool>();
  }
  template <class T>
  std::optional<T> num(const char* k) const {
    auto* v = find(k);
    if (!v) return std::nullopt;
    if (!v->is_number_integer()) bad(k, "an integer");
    if constexpr (std::is_unsigned_v<T>) {
      if (v->is_number_unsigned()) return static_cast<T>(v->get<uint64_t>());
      auto s = v->get<int64_t>();
      if (s < 0) bad(k, "a non-negative integer");
      return static_cast<T>(s);
    } else {
      if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
        return static_cast<T>(-1);  // e.g. 18446744073709551615 used as "unlimited"
      return static_cast<T>(v->get<int64_t>());
    }
  }
  std::vector<std::string> strs(const char* k) const {
    std::vector<std::string> out;
    auto* v = find(k);
    if (!v) return out;
    if (!v->is_array()) bad(k, "an array of strings");
    for (auto& e : *v) {
      if (!e.is_string()) bad(k, "an array of strings");
      out.push_back(e.get<std::string>());
    }
    return out;
  }
  std::map<std::string, std::string> str_map(const char* k) const {
    std::map<std::string, std::string> out;
    auto* v = find(k);
    if (!v) return out;
    if (!v->is_object()) bad(k, "an object of strings");
    for (auto& [key, val] : v->items()) {
      if (!val.is_string()) bad(k, "an object of strings");
      out[key] = val.get<std::string>();
    }
    return out;
  }
  template <class F>
  void each(const char* k, F f) const {
    auto* v = find(k);
    if (!v) return;
    if (!v->is_array()) bad(k, "an array");
    size_t i = 0;
    for (auto& e : *v) f(Obj(e, path(k) + "[" + std::to_string(i++) + "]"));
  }
  std::optional<Obj> sub(const char* k) const {
    auto* v = find(k);
    if (!v) return std::nullopt;
    return Obj(*v, path(k));
  }
};

std::vector<IdMapping> id_mappings(const Obj& o, const char* k) {
  std::vector<IdMapping> out;
  o.each(k, [&](const Obj& m) {
    IdMapping x;
    x.container_id = m.num<uint32_t>("containerID").value_or(0);
    x.host_id = m.num<uint32_t>("hostID").value_or(0);
    x.size = m.num<uint32_t>("size").value_or(0);
    out.push_back(x);
  });
  return out;
}

Hook parse_hook(const Obj& o) {
  Hook h;
  h.path = o.str("path");
  if (h.path.empty() || h.path[0] != '/') throw Error("config: " + o.path("path") + ": must be an absolute path");
  h.args = o.strs("args");
  h.env = o.strs("env");
  if (auto t = o.num<int>("timeout")) {
    if (*t <= 0) throw Error("config: " + o.path("timeout") + ": must be greater than zero");
    h.timeout = t;
  }
  return h;
}

Process parse_process_obj(const Obj& o) {
  Process p;
  p.terminal = o.boolean("terminal");
  if (auto cs = o.sub("consoleSize"))
    p.console_size = ConsoleSize{cs->num<unsigned>("height").value_or(0), cs->num<unsigned>("width").value_or(0)};
  p.cwd = o.str("cwd", "/");
  p.env = o.strs("env");
  p.args = o.strs("args");
  if (auto u = o.sub("user")) {
    p.user.uid = u->num<uid_t>("uid").value_or(0);
    p.user.gid = u->num<gid_t>("gid").value_or(0);
    if (auto m = u->num<mode_t>("umask")) p.user.umask = *m;
    if (auto* g = u->find("additionalGids")) {
      if (!g->is_array()) u->bad("additionalGids", "an array of integers");
      for (auto& e : *g) {
        if (!e.is_number_unsigned()) u->bad("additionalGids", "an array of integers");
        p.user.additional_gids.push_back(e.get<gid_t>());
      }
    }
  }
  if (auto c = o.sub("capabilities")) {
    Capabilities caps;
    caps.bounding = c->strs("bounding");
    caps.effective = c->strs("effective");
    caps.inheritable = c->strs("inheritable");
    caps.permitted = c->strs("permitted");
    caps.ambient = c->strs("ambient");
    p.capabilities = std::move(caps);
  }
  o.each("rlimits", [&](const Obj& r) {
    Rlimit l;
    l.type = r.str("type");
    l.hard = r.num<uint64_t>("hard").value_or(0);
    l.soft = r.num<uint64_t>("soft").value_or(0);
    p.rlimits.push_back(l);
  });
  p.no_new_privileges = o.boolean("noNewPrivileges");
  p.apparmor_profile = o.str("apparmorProfile");
  p.oom_score_adj = o.num<int>("oomScoreAdj");
  p.selinux_label = o.str("selinuxLabel");
  if (auto s = o.sub("scheduler")) {
    Scheduler sc;
    sc.policy = s->str("policy");
    sc.nice = s->num<int>("nice").value_or(0);
    sc.priority = s->num<int>("priority").value_or(0);
    sc.flags = s->strs("flags");
    sc.runtime = s->num<uint64_t>("runtime").value_or(0);
    sc.deadline = s->num<uint64_t>("deadline").value_or(0);
    sc.period = s->num<uint64_t>("period").value_or(0);
    p.scheduler = sc;
  }
  if (auto s = o.sub("ioPriority")) p.io_priority = IoPriority{s->str("class"), s->num<int>("priority").value_or(0)};
  return p;
}

void validate_process(const Process& p, const std::string& where) {
  if (p.args.empty()) throw Error("config: " + where + ".args: must not be empty");
  if (p.cwd.empty() || p.cwd[0] != '/') throw Error("config: " + where + ".cwd: must be an absolute path, got \"" + p.cwd + "\"");
  static const char* kRlimits[] = {"RLIMIT_AS", "RLIMIT_CORE", "RLIMIT_CPU", "RLIMIT_DATA", "RLIMIT_FSIZE",
                                   "RLIMIT_LOCKS", "RLIMIT_MEMLOCK", "RLIMIT_MSGQUEUE", "RLIMIT_NICE",
                                   "RLIMIT_NOFILE", "RLIMIT_NPROC", "RLIMIT_RSS", "RLIMIT_RTPRIO",
                                   "RLIMIT_RTTIME", "RLIMIT_SIGPENDING", "RLIMIT_STACK"};
  std::vector<std::string> seen;
  for (auto& r : p.rlimits) {
    if (std::find(std::begin(kRlimits), std::end(kRlimits), r.type) == std::end(kRlimits))
      throw Error("config: " + where + ".rlimits: unknown rlimit type \"" + r.type + "\"");
    if (std::find(seen.begin(), seen.end(), r.type) != seen.end())
      throw Error("config: " + where + ".rlimits: duplicate type \"" + r.type + "\"");
    if (r.soft > r.hard) throw Error("config: " + where + ".rlimits: " + r.type + " soft limit is above the hard limit");
    seen.push_back(r.type);
  }
  for (auto& e : p.env)
    if (e.find('=') == std::string::npos) throw Error("config: " + where + ".env: \"" + e + "\" is not KEY=VALUE");
}

Resources parse_resources(const Obj& o) {
  Resources r;
  o.each("devices", [&](const Obj& d) {
    DeviceRule x;
    x.allow = d.boolean("allow");
    x.type = d.str("type", "a");
    x.major = d.num<int64_t>("major");
    x.minor = d.num<int64_t>("minor");
    x.access = d.str("access", "rwm");
    if (x.type != "a" && x.type != "b" && x.type != "c")
      throw Error("config: " + d.path("type") + ": invalid device type \"" + x.type + "\"");
    if (x.access.find_first_not_of("rwm") != std::string::npos)
      throw Error("config: " + d.path("access") + ": invalid access \"" + x.access + "\"");
    r.devices.push_back(x);
  });
  if (auto m = o.sub("memory")) {
    Memory mem;
    mem.limit = m->num<int64_t>("limit");
    mem.reservation = m->num<int64_t>("reservation");
    mem.swap = m->num<int64_t>("swap");
    mem.kernel = m->num<int64_t>("kernel");
    mem.kernel_tcp = m->num<int64_t>("kernelTCP");
    mem.swappiness = m->num<uint64_t>("swappiness");
    if (m->find("disableOOMKiller")) mem.disable_oom_killer = m->boolean("disableOOMKiller");
    if (m->find("useHierarchy")) mem.use_hierarchy = m->boolean("useHierarchy");
    if (m->find("checkBeforeUpdate")) mem.check_before_update = m->boolean("checkBeforeUpdate");
    if (mem.swappiness && *mem.swappiness > 100)
      throw Error("config: " + m->path("swappiness") + ": must be between 0 and 100");
    r.memory = mem;
  }
  if (auto c = o.sub("cpu")) {
    Cpu cpu;
    cpu.shares = c->num<uint64_t>("shares");
    cpu.quota = c->num<int64_t>("quota");
    cpu.burst = c->num<uint64_t>("burst");
    cpu.period = c->num<uint64_t>("period");
    cpu.realtime_runtime = c->num<int64_t>("realtimeRuntime");
    cpu.realtime_period = c->num<uint64_t>("realtimePeriod");
    cpu.cpus = c->str("cpus");
    cpu.mems = c->str("mems");
    cpu.idle = c->num<int64_t>("idle");
    r.cpu = cpu;
  }
  if (auto p = o.sub("pids")) r.pids_limit = p->num<int64_t>("limit");
  if (auto b = o.sub("blockIO")) {
    Blkio bio;
    bio.weight = b->num<uint16_t>("weight");
    bio.leaf_weight = b->num<uint16_t>("leafWeight");
    b->each("weightDevice", [&](const Obj& d) {
      bio.weight_device.push_back({d.num<int64_t>("major").value_or(0), d.num<int64_t>("minor").value_or(0),
                                   d.num<uint16_t>("weight"), d.num<uint16_t>("leafWeight")});
    });
    auto throttle = [&](const char* k, std::vector<BlkioThrottleDevice>& out) {
      b->each(k, [&](const Obj& d) {
        out.push_back({d.num<int64_t>("major").value_or(0), d.num<int64_t>("minor").value_or(0),
                       d.num<uint64_t>("rate").value_or(0)});
      });
    };
    throttle("throttleReadBpsDevice", bio.throttle_read_bps);
    throttle("throttleWriteBpsDevice", bio.throttle_write_bps);
    throttle("throttleReadIOPSDevice", bio.throttle_read_iops);
    throttle("throttleWriteIOPSDevice", bio.throttle_write_iops);
    r.blkio = bio;
  }
  o.each("hugepageLimits", [&](const Obj& h) {
    r.hugepage_limits.push_back({h.str("pageSize"), h.num<uint64_t>("limit").value_or(0)});
  });
  if (auto n = o.sub("network")) {
    r.net_cls_classid = n->num<uint32_t>("classID");
    n->each("priorities", [&](const Obj& p) {
      r.net_priorities.push_back({p.str("name"), p.num<uint32_t>("priority").value_or(0)});
    });
  }
  r.unified = o.str_map("unified");
  return r;
}

Seccomp parse_seccomp(const Obj& o) {
  Seccomp s;
  s.default_action = o.str("defaultAction");
  if (s.default_action.empty()) throw Error("config: " + o.path("defaultAction") + ": is required");
  s.default_errno_ret = o.num<unsigned>("defaultErrnoRet");
  s.architectures = o.strs("architectures");
  s.flags = o.strs("flags");
  s.listener_path = o.str("listenerPath");
  s.listener_metadata = o.str("listenerMetadata");
  o.each("syscalls", [&](const Obj& sc) {
    SeccompSyscall x;
    x.names = sc.strs("names");
    x.action = sc.str("action");
    if (x.action.empty()) throw Error("config: " + sc.path("action") + ": is required");
    x.errno_ret = sc.num<unsigned>("errnoRet");
    sc.each("args", [&](const Obj& a) {
      SeccompArg arg;
      arg.index = a.num<unsigned>("index").value_or(0);
      arg.value = a.num<uint64_t>("value").value_or(0);
      arg.value_two = a.num<uint64_t>("valueTwo").value_or(0);
      arg.op = a.str("op");
      if (arg.index > 5) throw Error("config: " + a.path("index") + ": must be between 0 and 5");
      x.args.push_back(arg);
    });
    s.syscalls.push_back(std::move(x));
  });
  return s;
}

Linux parse_linux(const Obj& o) {
  Linux l;
  static const char* kNs[] = {"pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time"};
  o.each("namespaces", [&](const Obj& n) {
    Namespace ns{n.str("type"), n.str("path")};
    if (std::find(std::begin(kNs), std::end(kNs), ns.type) == std::end(kNs))
      throw Error("config: " + n.path("type") + ": unknown namespace type \"" + ns.type + "\"");
    for (auto& prev : l.namespaces)
      if (prev.type == ns.type) throw Error("config: linux.namespaces: duplicate namespace \"" + ns.type + "\"");
    l.namespaces.push_back(ns);
  });
  l.uid_mappings = id_mappings(o, "uidMappings");
  l.gid_mappings = id_mappings(o, "gidMappings");
  if (auto t = o.sub("timeOffsets")) {
    for (auto& [k, v] : t->j.items()) {
      Obj off(v, t->path(k.c_str()));
      l.time_offsets[k] = TimeOffset{off.num<int64_t>("secs").value_or(0), off.num<uint32_t>("nanosecs").value_or(0)};
    }
  }
  o.each("devices", [&](const Obj& d) {
    Device dev;
    dev.type = d.str("type");
    dev.path = d.str("path");
    dev.major = d.num<int64_t>("major").value_or(0);
    dev.minor = d.num<int64_t>("minor").value_or(0);
    if (auto m = d.num<mode_t>("fileMode")) dev.file_mode = *m;
    if (auto u = d.num<uid_t>("uid")) dev.uid = *u;
    if (auto g = d.num<gid_t>("gid")) dev.gid = *g;
    if (dev.type != "c" && dev.type != "b" && dev.type != "u" && dev.type != "p")
      throw Error("config: " + d.path("type") + ": invalid device type \"" + dev.type + "\"");
    if (dev.path.empty() || dev.path[0] != '/')
      throw Error("config: " + d.path("path") + ": must be an absolute path");
    l.devices.push_back(dev);
  });
  l.cgroups_path = o.str("cgroupsPath");
  if (auto r = o.sub("resources")) l.resources = parse_resources(*r);
  l.rootfs_propagation = o.str("rootfsPropagation");
  if (!l.rootfs_propagation.empty()) {
    static const char* kProp[] = {"private", "rprivate", "slave", "rslave", "shared", "rshared", "unbindable", "runbindable"};
    if (std::find(std::begin(kProp), std::end(kProp), l.rootfs_propagation) == std::end(kProp))
      throw Error("config: linux.rootfsPropagation: invalid value \"" + l.rootfs_propagation + "\"");
  }
  if (auto s = o.sub("seccomp")) l.seccomp = parse_seccomp(*s);
  l.sysctl = o.str_map("sysctl");
  l.masked_paths = o.strs("maskedPaths");
  l.readonly_paths = o.strs("readonlyPaths");
  l.mount_label = o.str("mountLabel");
  if (auto p = o.sub("personality")) l.personality_domain = p->str("domain");
  return l;
}

void validate(const Spec& s) {
  if (s.oci_version.empty()) throw Error("config: ociVersion: is required");
  if (s.oci_version.rfind("1.", 0) != 0)
    throw Error("config: ociVersion: unsupported version \"" + s.oci_version + "\" (want 1.x)");
  if (!s.root || s.root->path.empty()) throw Error("config: root.path: is required");
  if (s.process) validate_process(*s.process, "process");
  if (!s.hostname.empty() && !s.has_namespace("uts"))
    throw Error("config: hostname: setting a hostname needs a new uts namespace");
  for (auto& m : s.mounts)
    if (m.destination.empty()) throw Error("config: mounts: destination is required");
  if (s.linux) {
    bool userns = s.has_namespace("user");
    if (userns && s.find_namespace("user")->path.empty() &&
        (s.linux->uid_mappings.empty() || s.linux->gid_mappings.empty()))
      throw Error("config: linux.uidMappings/gidMappings: a new user namespace needs uid and gid mappings");
    if (!userns && (!s.linux->uid_mappings.empty() || !s.linux->gid_mappings.empty()))
      throw Error("config: linux.uidMappings: mappings given but no user namespace is configured");
    if (!s.linux->time_offsets.empty() && !s.has_namespace("time"))
      throw Error("config: linux.timeOffsets: needs a time namespace");
    for (auto& [k, v] : s.linux->sysctl) {
      if (k.find("..") != std::string::npos || k.find('/') != std::string::npos)
        throw Error("config: linux.sysctl: invalid key \"" + k + "\"");
    }
  }
}

}  // namespace

bool Spec::has_namespace(const std::string& type) const { return find_namespace(type) != nullptr; }

const Namespace* Spec::find_namespace(const std::string& type) const {
  if (!linux) return nullptr;
  for (auto& n : linux->namespaces)
    if (n.type == type) return &n;
  return nullptr;
}

Spec parse_spec(const std::string& text, const std::string& bundle) {
  json j = hoist::parse_json(text, "config");
  Obj o(j, "");
  Spec s;
  s.oci_version = o.str("ociVersion");
  if (auto r = o.sub("root")) {
    Root root{r->str("path"), r->boolean("readonly")};
    if (!root.path.empty() && root.path[0] != '/' && !bundle.empty()) root.path = bundle + "/" + root.path;
    s.root = root;
  }
  o.each("mounts", [&](const Obj& m) {
    Mount mt;
    mt.destination = m.str("destination");
    if (!mt.destination.empty() && mt.destination[0] != '/') mt.destination = "/" + mt.destination;
    mt.type = m.str("type");
    mt.source = m.str("source");
    mt.options = m.strs("options");
    auto maps = [&](const char* k) {
      std::vector<Mount::IdMap> out;
      for (auto& x : id_mappings(m, k)) out.push_back({x.container_id, x.host_id, x.size});
      return out;
    };
    mt.uid_mappings = maps("uidMappings");
    mt.gid_mappings = maps("gidMappings");
    s.mounts.push_back(std::move(mt));
  });
  if (auto p = o.sub("process")) s.process = parse_process_obj(*p);
  s.hostname = o.str("hostname");
  s.domainname = o.str("domainname");
  if (auto h = o.sub("hooks")) {
    Hooks hooks;
    auto list = [&](const char* k, std::vector<Hook>& out) { h->each(k, [&](const Obj& x) { out.push_back(parse_hook(x)); }); };
    list("prestart", hooks.prestart);
    list("createRuntime", hooks.create_runtime);
    list("createContainer", hooks.create_container);
    list("startContainer", hooks.start_container);
    list("poststart", hooks.poststart);
    list("poststop", hooks.poststop);
    s.hooks = std::move(hooks);
  }
  s.annotations = o.str_map("annotations");
  if (auto l = o.sub("linux")) s.linux = parse_linux(*l);
  validate(s);
  return s;
}

Spec load_spec(const std::string& bundle) {
  std::string path = bundle + "/config.json";
  std::string text;
  try {
    text = read_file(path);
  } catch (const Error& e) {
    throw Error(std::string("load config: ") + e.what());
  }
  return parse_spec(text, bundle);
}

Process parse_process(const std::string& text) {
  json j = hoist::parse_json(text, "process");
  Process p = parse_process_obj(Obj(j, "process"));
  validate_process(p, "process");
  return p;
}

}  // namespace hoist::oci
