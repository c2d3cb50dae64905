// Where the cgroup hierarchies are mounted, and where a container's cgroup goes inside them.
#include <algorithm>
#include <set>

#include "common/error.h"
#include "common/file.h"
#include "common/strings.h"
#include "runtime/cgroups/cgroups.h"

namespace hoist::runtime::cgroups {

namespace {

std::vector<std::string> words(std::string_view s, char sep) {
  std::vector<std::string> out;
  for (auto& w : split(s, sep))
    if (!w.empty()) out.push_back(std::move(w));
  return out;
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    auto octal = [&](size_t j) { return j < s.size() && s[j] >= '0' && s[j] <= '7'; };
    if (s[i] == '\\' && octal(i + 1) && octal(i + 2) && octal(i + 3)) {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

// The controllers (and "name=..." of a named hierarchy) among a v1 mount's super options.
std::vector<std::string> v1_controllers(std::string_view super_options) {
  static const std::set<std::string, std::less<>> kFlags = {
      "rw", "ro", "none", "noprefix", "clone_children", "xattr", "cpuset_v2_mode", "favordynmods"};
  std::vector<std::string> out;
  for (auto& opt : words(super_options, ',')) {
    bool named = opt.starts_with("name=");
    if (kFlags.contains(opt) || (!named && opt.find('=') != std::string::npos)) continue;
    out.push_back(std::move(opt));
  }
  return out;
}

std::string join_path(const std::string& parent, const std::string& child) {
  return parent == "/" ? "/" + child : parent + "/" + child;
}

// systemd's slice nesting: "a-b.slice" -> "/a.slice/a-b.slice"; "-.slice" -> "/".
std::string expand_slice(const std::string& slice) {
  constexpr std::string_view kSuffix = ".slice";
  auto invalid = [&] { return Error("invalid systemd slice name \"" + slice + "\""); };
  if (slice.size() <= kSuffix.size() || !slice.ends_with(kSuffix) || slice.find('/') != std::string::npos)
    throw invalid();
  std::string name = slice.substr(0, slice.size() - kSuffix.size());
  if (name == "-") return "/";
  std::string path, prefix;
  for (const auto& part : split(name, '-')) {
    if (part.empty()) throw invalid();  // "a--b.slice", "-a.slice"
    path += "/" + prefix + part + std::string(kSuffix);
    prefix += part + "-";
  }
  return path;
}

std::string systemd_path(const std::string& cgroups_path, const std::string& id) {
  if (cgroups_path.empty()) return join_path(expand_slice("system.slice"), "hoist-runtime-" + id + ".scope");
  auto parts = split(cgroups_path, ':');
  if (parts.size() != 3)
    throw Error("invalid cgroupsPath \"" + cgroups_path + "\": expected \"slice:prefix:name\" with systemd cgroups");
  const auto& [slice, prefix, name] = std::tie(parts[0], parts[1], parts[2]);
  if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..")
    throw Error("invalid cgroupsPath \"" + cgroups_path + "\": bad unit name \"" + name + "\"");
  std::string unit = name.ends_with(".slice") ? name : (prefix.empty() ? name : prefix + "-" + name) + ".scope";
  return join_path(expand_slice(slice.empty() ? "system.slice" : slice), unit);
}

}  // namespace

Layout Layout::detect() { return parse_mountinfo(read_file("/proc/self/mountinfo")); }

// Line: id parent major:minor root mount-point options [optional...] - fstype source super-options
Layout Layout::parse_mountinfo(const std::string& mountinfo) {
  Layout layout;
  for (const auto& line : split(mountinfo, '\n')) {
    auto f = words(line, ' ');
    if (f.size() < 10) continue;
    auto dash = std::find(f.begin() + 6, f.end(), "-");
    if (f.end() - dash < 4) continue;
    // Only the host's own hierarchies: bind mounts of a sub-cgroup (root != "/") are views into them.
    if (f[3] != "/") continue;
    std::string mount_point = unescape(f[4]);
    const std::string& fstype = dash[1];
    if (fstype == "cgroup2" && layout.unified.empty()) layout.unified = mount_point;
    if (fstype != "cgroup") continue;
    for (const auto& c : v1_controllers(dash[3])) layout.v1.emplace(c, mount_point);  // first mount wins
  }
  return layout;
}

std::string resolve_path(const std::string& cgroups_path, const std::string& id, bool systemd) {
  if (systemd) return systemd_path(cgroups_path, id);
  if (cgroups_path.empty()) return clean_path("/" + id);  // as crun: no shared parent to create and remove
  return clean_path(cgroups_path);
}

uint64_t shares_to_weight(uint64_t shares) {
  if (shares == 0) return 0;  // unset
  shares = std::clamp<uint64_t>(shares, 2, 262144);
  return 1 + ((shares - 2) * 9999) / 262142;
}

uint64_t blkio_weight_to_io_weight(uint64_t w) {
  if (w == 0) return 0;  // unset
  w = std::clamp<uint64_t>(w, 10, 1000);
  return 1 + (w - 10) * 9999 / 990;
}

}  // namespace hoist::runtime::cgroups
