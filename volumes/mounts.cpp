#include "volumes/mounts.h"

#include <sys/stat.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/json.h"
#include "common/strings.h"

namespace hoist::volumes {

using nlohmann::json;

namespace {

const std::set<std::string> kPropagations = {"shared", "rshared", "slave", "rslave", "private", "rprivate"};

void check_abs(const std::string& p, const std::string& type) {
  if (p.empty() || p[0] != '/')
    throw InvalidArgument("invalid mount config for type \"" + type + "\": invalid mount path: '" + p +
                          "' mount path must be absolute");
}

}  // namespace

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
  auto parts = split(spec, ':');
  if (parts.size() < 2 || parts.size() > 3) throw InvalidArgument("invalid volume specification: '" + spec + "'");
  MountPoint m;
  m.source = parts[0];
  m.destination = parts[1];
  if (m.source.empty() || m.source[0] != '/')
    throw InvalidArgument("invalid volume specification: '" + spec + "': named volumes are not supported yet");
  check_abs(m.destination, "bind");
  if (m.destination == "/") throw InvalidArgument("invalid specification: destination can't be '/'");
  m.propagation = "rprivate";
  if (parts.size() == 3) {
    m.mode = parts[2];
    for (const auto& o : split(parts[2], ',')) {
      if (o == "ro") m.read_only = true;
      else if (o == "rw") m.read_only = false;
      else if (o == "z" || o == "Z" || o == "nocopy" || o == "consistent" || o == "cached" || o == "delegated") {}
      else if (kPropagations.count(o)) m.propagation = o;
      else throw InvalidArgument("invalid mode: " + o);
    }
  }
  return m;
}

MountPoint parse_api_mount(const json& j, bool check_source) {
  std::string type = json_str(j, "Type");
  MountPoint m;
  m.destination = json_str(j, "Target");
  m.read_only = json_flag(j, "ReadOnly");
  check_abs(m.destination, type);
  if (type == "bind") {
    m.source = json_str(j, "Source");
    if (m.source.empty() || m.source[0] != '/')
      throw InvalidArgument("invalid mount config for type \"bind\": invalid mount path: '" + m.source +
                            "' mount path must be absolute");
    struct stat st {};
    if (check_source && ::stat(m.source.c_str(), &st) != 0)
      throw InvalidArgument("invalid mount config for type \"bind\": bind source path does not exist: " + m.source);
    m.propagation = "rprivate";
    if (j.contains("BindOptions") && j["BindOptions"].is_object()) {
      std::string p = json_str(j["BindOptions"], "Propagation");
      if (!p.empty()) {
        if (!kPropagations.count(p)) throw InvalidArgument("invalid propagation mode: " + p);
        m.propagation = p;
      }
      if (json_flag(j["BindOptions"], "NonRecursive")) m.recursive = false;
    }
    return m;
  }
  if (type == "tmpfs") {
    m.type = MountPoint::Type::Tmpfs;
    std::vector<std::string> opts = {"noexec", "nosuid", "nodev", "rprivate"};
    if (j.contains("TmpfsOptions") && j["TmpfsOptions"].is_object()) {
      std::int64_t size = json_num(j["TmpfsOptions"], "SizeBytes");
      if (size > 0) opts.push_back("size=" + std::to_string(size / 1024) + "k");
      std::int64_t mode = json_num(j["TmpfsOptions"], "Mode");
      if (mode > 0) {
        std::ostringstream o;
        o << std::oct << mode;
        opts.push_back("mode=" + o.str());
      }
    }
    if (m.read_only) opts.push_back("ro");
    m.options = merge_tmpfs_options(opts);
    return m;
  }
  throw InvalidArgument("mount type \"" + type + "\" is not supported");
}

MountPoint parse_tmpfs(const std::string& destination, const std::string& options) {
  check_abs(destination, "tmpfs");
  MountPoint m;
  m.type = MountPoint::Type::Tmpfs;
  m.destination = destination;
  std::vector<std::string> opts = {"noexec", "nosuid", "nodev", "rprivate"};
  for (auto& o : split(options, ',')) opts.push_back(o);
  m.options = merge_tmpfs_options(opts);
  return m;
}

std::vector<MountPoint> user_mounts(const json& hc) {
  std::vector<MountPoint> out;
  if (auto binds = json_str_list(hc, "Binds"))
    for (const auto& b : *binds) out.push_back(parse_bind(b));
  if (hc.contains("Mounts") && hc["Mounts"].is_array())
    for (const auto& m : hc["Mounts"]) out.push_back(parse_api_mount(m));
  if (hc.contains("Tmpfs") && hc["Tmpfs"].is_object())
    for (const auto& [dst, opts] : hc["Tmpfs"].items())
      out.push_back(parse_tmpfs(dst, opts.is_string() ? opts.get<std::string>() : ""));
  return out;
}

json inspect_mounts(const json& hc) {
  json out = json::array();
  auto add = [&](const MountPoint& m, const std::string& type) {
    bool bind = m.type == MountPoint::Type::Bind;
    out.push_back({{"Type", type}, {"Source", m.source}, {"Destination", m.destination}, {"Mode", m.mode},
                   {"RW", !m.read_only}, {"Propagation", bind ? m.propagation : ""}});
  };
  std::optional<std::vector<std::string>> binds;
  try {
    binds = json_str_list(hc, "Binds");
  } catch (const Error&) {
  }
  for (const auto& b : binds.value_or(std::vector<std::string>{})) {
    try {
      add(parse_bind(b), "bind");
    } catch (const Error&) {
    }
  }
  if (hc.contains("Mounts") && hc["Mounts"].is_array()) {
    for (const auto& j : hc["Mounts"]) {
      try {
        add(parse_api_mount(j, false), json_str(j, "Type"));
      } catch (const Error&) {
      }
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const json& a, const json& b) {
    return a["Destination"].get<std::string>() < b["Destination"].get<std::string>();
  });
  return out;
}

}  // namespace hoist::volumes
