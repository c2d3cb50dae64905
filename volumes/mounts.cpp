#include "volumes/mounts.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/fd.h"
#include "common/file.h"
#include "common/json.h"
#include "common/strings.h"

namespace hoist::volumes {

using nlohmann::json;

namespace {

const std::set<std::string> kPropagations = {"shared", "rshared", "slave", "rslave", "private", "rprivate"};

// dockerd's errMountConfig: "invalid mount config for type "bind": why".
InvalidArgument mount_config_error(const std::string& type, const std::string& why) {
  return InvalidArgument("invalid mount config for type \"" + type + "\": " + why);
}

// dockerd's checks of a mount target: not "/", absolute.
void check_target(const std::string& target, const std::string& type) {
  if (target.empty()) throw mount_config_error(type, "field Target must not be empty");
  if (target[0] == '/' && clean_path(target) == "/")
    throw mount_config_error(type, "invalid specification: destination can't be '/'");
  if (target[0] != '/')
    throw mount_config_error(type, "invalid mount path: '" + target + "' mount path must be absolute");
}

// dockerd's linuxValidMountMode: at most one of each kind, nothing unknown.
bool valid_mode(const std::string& mode) {
  if (mode.empty()) return true;
  int rw = 0, label = 0, prop = 0, copy = 0, consistency = 0;
  for (const auto& o : split(mode, ',')) {
    if (o == "ro" || o == "rw") ++rw;
    else if (o == "z" || o == "Z") ++label;
    else if (kPropagations.count(o)) ++prop;
    else if (o == "nocopy") ++copy;
    else if (o == "consistent" || o == "cached" || o == "delegated") ++consistency;
    else return false;
  }
  return rw <= 1 && label <= 1 && prop <= 1 && copy <= 1 && consistency <= 1;
}

bool has_option(const std::string& mode, const std::string& what) {
  for (const auto& o : split(mode, ','))
    if (o == what) return true;
  return false;
}

}  // namespace

std::string anonymous_volume_name() {
  unsigned char b[32];
  UniqueFd fd(::open("/dev/urandom", O_RDONLY | O_CLOEXEC));
  if (!fd || ::read(fd.get(), b, sizeof b) != static_cast<ssize_t>(sizeof b)) throw_sys("read", "/dev/urandom");
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (unsigned char c : b) {
    s += hex[c >> 4];
    s += hex[c & 15];
  }
  return s;
}

namespace {

const std::map<std::string, std::string>* object_map(const json& j, const char* key,
                                                     std::map<std::string, std::string>& out) {
  if (!j.contains(key) || !j[key].is_object()) return nullptr;
  for (auto& [k, v] : j[key].items()) out[k] = v.is_string() ? v.get<std::string>() : v.dump();
  return &out;
}

// Docker's filepath.IsLocal for a volume subpath: relative, not empty, never above its root.
bool local_subpath(const std::string& p) {
  if (p.empty() || p[0] == '/') return false;
  int depth = 0;
  for (const auto& part : split(p, '/')) {
    if (part == "..") {
      if (--depth < 0) return false;
    } else if (!part.empty() && part != ".") {
      ++depth;
    }
  }
  return true;
}

}  // namespace

void check_volume_name(const std::string& name) {
  if (name.size() == 1)
    throw InvalidArgument("volume name is too short, names should be at least two alphanumeric characters");
  auto ok = [](char c, bool first) {
    return std::isalnum(static_cast<unsigned char>(c)) || (!first && (c == '_' || c == '.' || c == '-'));
  };
  bool good = !name.empty();
  for (std::size_t i = 0; good && i < name.size(); ++i) good = ok(name[i], i == 0);
  if (!good)
    throw InvalidArgument("\"" + name +
                          "\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" "
                          "are allowed. If you intended to pass a host directory, use absolute path");
}

std::vector<std::string> merge_tmpfs_options(const std::vector<std::string>& in) {
  static const std::map<std::string, std::string> opposite = {
      {"exec", "noexec"}, {"noexec", "exec"}, {"suid", "nosuid"}, {"nosuid", "suid"},
      {"dev", "nodev"}, {"nodev", "dev"}, {"ro", "rw"}, {"rw", "ro"},
      {"atime", "noatime"}, {"noatime", "atime"}};
  std::vector<std::string> out;
  for (const auto& o : in) {
    if (o.empty()) continue;
    auto key = o.substr(0, o.find('='));
    out.erase(std::remove_if(out.begin(), out.end(), [&](const std::string& e) {
                auto ek = e.substr(0, e.find('='));
                if (ek == key) return true;
                auto it = opposite.find(o);
                return it != opposite.end() && e == it->second;
              }), out.end());
    out.push_back(o);
  }
  return out;
}

MountPoint parse_bind(const std::string& spec) {
  auto invalid_spec = [&] { return InvalidArgument("invalid volume specification: '" + spec + "'"); };
  auto parts = split(spec, ':');
  if (spec.empty() || parts[0].empty()) throw invalid_spec();
  std::string source, target, mode;
  switch (parts.size()) {
    case 1:
      target = parts[0];
      break;
    case 2:
      if (valid_mode(parts[1])) throw invalid_spec();  // "/dst:ro": a volume cannot have only a mode
      source = parts[0];
      target = parts[1];
      break;
    case 3:
      source = parts[0];
      target = parts[1];
      mode = parts[2];
      break;
    default:
      throw invalid_spec();
  }
  if (!valid_mode(mode)) throw InvalidArgument("invalid mode: " + mode);
  MountPoint m;
  bool bind = !source.empty() && source[0] == '/';
  std::string type = bind ? "bind" : "volume";
  try {
    check_target(target, type);
    if (bind && has_option(mode, "nocopy")) throw mount_config_error(type, "field VolumeOptions must not be specified");
    std::string prop;
    for (const auto& o : split(mode, ','))
      if (kPropagations.count(o)) prop = o;
    if (!bind && !prop.empty()) throw mount_config_error(type, "field BindOptions must not be specified");
    m.propagation = bind ? (prop.empty() ? "rprivate" : prop) : "";
  } catch (const InvalidArgument& e) {
    throw InvalidArgument("invalid volume specification: '" + spec + "': " + e.what());
  }
  m.destination = clean_path(target);
  m.read_only = has_option(mode, "ro");
  m.mode = mode;
  if (bind) {
    m.type = MountPoint::Type::Bind;
    m.source = clean_path(source);
    m.create_source = true;
    return m;
  }
  m.type = MountPoint::Type::Volume;
  m.name = source;
  m.driver = "local";
  m.anonymous = source.empty();
  m.copy_data = !has_option(mode, "nocopy");
  if (m.mode.empty()) m.mode = "z";  // dockerd's setBindModeIfNull for local volumes
  return m;
}

MountPoint parse_api_mount(const json& j, bool check_source) {
  std::string type = json_str(j, "Type");
  MountPoint m;
  std::string target = json_str(j, "Target");
  m.read_only = json_flag(j, "ReadOnly");
  auto has = [&](const char* k) { return j.contains(k) && !j[k].is_null(); };
  if (type != "bind" && type != "volume" && type != "tmpfs") throw mount_config_error(type, "mount type unknown");
  check_target(target, type);
  m.destination = clean_path(target);
  std::string source = json_str(j, "Source");
  if (type != "volume" && has("VolumeOptions")) throw mount_config_error(type, "field VolumeOptions must not be specified");
  if (type != "bind" && has("BindOptions")) throw mount_config_error(type, "field BindOptions must not be specified");
  if (type != "tmpfs" && has("TmpfsOptions")) throw mount_config_error(type, "field TmpfsOptions must not be specified");
  if (type == "bind") {
    if (source.empty()) throw mount_config_error(type, "field Source must not be empty");
    if (source[0] != '/') throw mount_config_error(type, "invalid mount path: '" + source + "' mount path must be absolute");
    struct stat st {};
    if (check_source && ::stat(source.c_str(), &st) != 0)
      throw mount_config_error(type, "bind source path does not exist: " + source);
    m.source = clean_path(source);
    m.propagation = "rprivate";
    if (has("BindOptions") && j["BindOptions"].is_object()) {
      std::string p = json_str(j["BindOptions"], "Propagation");
      if (!p.empty()) {
        if (!kPropagations.count(p)) throw mount_config_error(type, "invalid propagation mode: " + p);
        m.propagation = p;
      }
      if (json_flag(j["BindOptions"], "NonRecursive")) m.recursive = false;
    }
    return m;
  }
  if (type == "volume") {
    if (source.empty() && m.read_only)
      throw mount_config_error(type, "must not set ReadOnly mode when using anonymous volumes");
    m.type = MountPoint::Type::Volume;
    m.name = source;
    m.anonymous = source.empty();
    m.driver = "local";
    if (has("VolumeOptions") && j["VolumeOptions"].is_object()) {
      const auto& vo = j["VolumeOptions"];
      m.copy_data = !json_flag(vo, "NoCopy");
      object_map(vo, "Labels", m.volume_labels);
      if (vo.contains("DriverConfig") && vo["DriverConfig"].is_object()) {
        std::string driver = json_str(vo["DriverConfig"], "Name");
        if (!driver.empty()) m.driver = driver;
        object_map(vo["DriverConfig"], "Options", m.volume_options);
      }
      m.subpath = json_str(vo, "Subpath");
      if (!m.subpath.empty() && !local_subpath(m.subpath))
        throw mount_config_error(type, "subpath must be a relative path within the volume");
    }
    m.mode = "z";  // dockerd's setBindModeIfNull
    return m;
  }
  if (!source.empty()) throw mount_config_error(type, "field Source must not be specified");
  m.type = MountPoint::Type::Tmpfs;
  std::vector<std::string> opts = {"noexec", "nosuid", "nodev", "rprivate"};
  if (has("TmpfsOptions") && j["TmpfsOptions"].is_object()) {
    std::int64_t size = json_num(j["TmpfsOptions"], "SizeBytes");
    if (size < 0) throw mount_config_error(type, "invalid tmpfs option: size must not be negative");
    if (size > 0) opts.push_back("size=" + std::to_string(size / 1024) + "k");
    std::int64_t mode = json_num(j["TmpfsOptions"], "Mode");
    if (mode > 0) {
      std::ostringstream o;
      o << std::oct << (mode & 07777);
      opts.push_back("mode=" + o.str());
    }
  }
  if (m.read_only) opts.push_back("ro");
  m.options = merge_tmpfs_options(opts);
  return m;
}

MountPoint parse_tmpfs(const std::string& destination, const std::string& options) {
  check_target(destination, "tmpfs");
  MountPoint m;
  m.type = MountPoint::Type::Tmpfs;
  m.destination = clean_path(destination);
  m.shown = false;
  std::vector<std::string> opts = {"noexec", "nosuid", "nodev", "rprivate"};
  for (auto& o : split(options, ',')) opts.push_back(o);
  m.options = merge_tmpfs_options(opts);
  return m;
}

std::vector<MountPoint> user_mounts(const json& hc) {
  std::vector<MountPoint> out;
  std::set<std::string> tmpfs, taken;
  if (hc.contains("Tmpfs") && hc["Tmpfs"].is_object())
    for (const auto& [dst, opts] : hc["Tmpfs"].items()) tmpfs.insert(dst);
  auto add = [&](MountPoint m, const std::string& as_given) {
    if (!taken.insert(m.destination).second || tmpfs.count(m.destination))
      throw InvalidArgument("Duplicate mount point: " + as_given);
    out.push_back(std::move(m));
  };
  if (auto binds = json_str_list(hc, "Binds"))
    for (const auto& b : *binds) {
      auto m = parse_bind(b);
      add(m, m.destination);
    }
  if (hc.contains("Mounts") && hc["Mounts"].is_array())
    for (const auto& j : hc["Mounts"]) add(parse_api_mount(j), json_str(j, "Target"));
  if (hc.contains("Tmpfs") && hc["Tmpfs"].is_object())
    for (const auto& [dst, opts] : hc["Tmpfs"].items())
      out.push_back(parse_tmpfs(dst, opts.is_string() ? opts.get<std::string>() : ""));
  return out;
}

std::pair<std::string, std::string> parse_volumes_from(const std::string& spec) {
  if (spec.empty()) throw InvalidArgument("volumes-from specification cannot be an empty string");
  auto colon = spec.find(':');
  std::string id = spec.substr(0, colon), mode = colon == std::string::npos ? "" : spec.substr(colon + 1);
  if (colon != std::string::npos) {
    if (!valid_mode(mode)) throw InvalidArgument("invalid mode: " + mode);
    for (const auto& o : split(mode, ','))
      if (kPropagations.count(o) || o == "nocopy") throw InvalidArgument("invalid volume specification: '" + spec + "'");
  }
  return {id, mode};
}

std::vector<MountPoint> plan_mounts(const json& hc, const std::vector<std::string>& config_volumes,
                                    const MountsOf& mounts_of) {
  std::string driver = json_str(hc, "VolumeDriver");
  auto user = user_mounts(hc);
  std::vector<std::string> froms;
  if (auto v = json_str_list(hc, "VolumesFrom")) froms = *v;
  std::vector<std::pair<std::string, std::string>> from_specs;
  for (const auto& f : froms) from_specs.push_back(parse_volumes_from(f));
  for (auto& v : config_volumes) check_target(v, "volume");

  std::map<std::string, MountPoint> plan;  // by destination
  for (const auto& [container, mode] : from_specs) {
    bool rw = !has_option(mode, "ro");
    for (auto m : mounts_of(container)) {
      if (!m.shown) continue;  // HostConfig.Tmpfs entries are the container's own
      m.read_only = m.read_only || !rw;
      m.mode = "";
      m.copy_data = false;
      m.create_source = false;
      plan[m.destination] = std::move(m);
    }
  }
  for (auto& m : user) {
    if (m.type == MountPoint::Type::Volume && m.driver == "local" && !driver.empty()) m.driver = driver;
    plan[m.destination] = std::move(m);
  }
  for (const auto& v : config_volumes) {
    auto dst = clean_path(v);
    if (plan.count(dst)) continue;
    MountPoint m;
    m.type = MountPoint::Type::Volume;
    m.destination = dst;
    m.driver = driver.empty() ? "local" : driver;
    m.anonymous = true;
    plan[dst] = std::move(m);
  }
  std::vector<MountPoint> out;
  for (auto& [dst, m] : plan) {
    if (m.type == MountPoint::Type::Volume) {
      if (m.name.empty()) m.name = anonymous_volume_name();
      try {
        check_volume_name(m.name);
      } catch (const InvalidArgument& e) {
        throw InvalidArgument("create " + m.name + ": " + e.what());
      }
      if (m.driver != "local")
        throw NotFound("create " + m.name + ": error looking up volume plugin " + m.driver + ": plugin \"" + m.driver +
                       "\" not found");
    }
    out.push_back(std::move(m));
  }
  return out;
}

json inspect_mounts(const std::vector<MountPoint>& mounts) {
  json out = json::array();
  for (const auto& m : mounts) {
    if (!m.shown) continue;
    switch (m.type) {
      case MountPoint::Type::Bind:
        out.push_back({{"Type", "bind"}, {"Source", m.source}, {"Destination", m.destination}, {"Mode", m.mode},
                       {"RW", !m.read_only}, {"Propagation", m.propagation}});
        break;
      case MountPoint::Type::Volume:
        out.push_back({{"Type", "volume"}, {"Name", m.name}, {"Source", m.source}, {"Destination", m.destination},
                       {"Driver", m.driver}, {"Mode", m.mode}, {"RW", !m.read_only}, {"Propagation", ""}});
        break;
      case MountPoint::Type::Tmpfs:
        out.push_back({{"Type", "tmpfs"}, {"Source", ""}, {"Destination", m.destination}, {"Mode", ""},
                       {"RW", !m.read_only}, {"Propagation", ""}});
        break;
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const json& a, const json& b) {
    return a["Destination"].get<std::string>() < b["Destination"].get<std::string>();
  });
  return out;
}

json inspect_mounts(const json& hc) {
  std::vector<MountPoint> list;
  std::optional<std::vector<std::string>> binds;
  try {
    binds = json_str_list(hc, "Binds");
  } catch (const Error&) {
  }
  for (const auto& b : binds.value_or(std::vector<std::string>{})) {
    try {
      list.push_back(parse_bind(b));
    } catch (const Error&) {
    }
  }
  if (hc.contains("Mounts") && hc["Mounts"].is_array()) {
    for (const auto& j : hc["Mounts"]) {
      try {
        list.push_back(parse_api_mount(j, false));
      } catch (const Error&) {
      }
    }
  }
  return inspect_mounts(list);
}

namespace {

const char* type_name(MountPoint::Type t) {
  return t == MountPoint::Type::Bind ? "bind" : t == MountPoint::Type::Volume ? "volume" : "tmpfs";
}

}  // namespace

json mounts_to_json(const std::vector<MountPoint>& mounts) {
  json out = json::array();
  for (const auto& m : mounts) {
    json j = {{"Type", type_name(m.type)}, {"Source", m.source}, {"Destination", m.destination},
              {"ReadOnly", m.read_only}, {"Mode", m.mode}, {"Propagation", m.propagation},
              {"Recursive", m.recursive}, {"Options", m.options}, {"CreateSource", m.create_source},
              {"Shown", m.shown}};
    if (m.type == MountPoint::Type::Volume) {
      j["Name"] = m.name;
      j["Driver"] = m.driver;
      j["Subpath"] = m.subpath;
      j["CopyData"] = m.copy_data;
      j["Anonymous"] = m.anonymous;
      j["VolumeOptions"] = m.volume_options;
      j["VolumeLabels"] = m.volume_labels;
    }
    out.push_back(std::move(j));
  }
  return out;
}

std::vector<MountPoint> mounts_from_json(const json& j) {
  std::vector<MountPoint> out;
  if (!j.is_array()) throw InvalidArgument("mounts: not an array");
  for (const auto& e : j) {
    if (!e.is_object()) throw InvalidArgument("mounts: an entry is not an object");
    MountPoint m;
    auto type = json_str(e, "Type");
    if (type == "bind") m.type = MountPoint::Type::Bind;
    else if (type == "volume") m.type = MountPoint::Type::Volume;
    else if (type == "tmpfs") m.type = MountPoint::Type::Tmpfs;
    else throw InvalidArgument("mounts: unknown type \"" + type + "\"");
    m.source = json_str(e, "Source");
    m.destination = json_str(e, "Destination");
    m.read_only = json_flag(e, "ReadOnly");
    m.mode = json_str(e, "Mode");
    m.propagation = json_str(e, "Propagation");
    m.recursive = e.value("Recursive", true);
    m.options = json_str_list(e, "Options").value_or(std::vector<std::string>{});
    m.create_source = json_flag(e, "CreateSource");
    m.shown = e.value("Shown", true);
    m.name = json_str(e, "Name");
    m.driver = json_str(e, "Driver");
    m.subpath = json_str(e, "Subpath");
    m.copy_data = e.value("CopyData", true);
    m.anonymous = json_flag(e, "Anonymous");
    object_map(e, "VolumeOptions", m.volume_options);
    object_map(e, "VolumeLabels", m.volume_labels);
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace hoist::volumes
