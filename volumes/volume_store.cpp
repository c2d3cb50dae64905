#include "volumes/volume_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cstring>
#include <ctime>
#include <random>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/fd.h"
#include "common/file.h"
#include "common/json.h"
#include "common/log.h"
#include "common/strings.h"
#include "volumes/mounts.h"

namespace hoist::volumes {

using nlohmann::json;

namespace {

// Go's time.Format(time.RFC3339) of now in local time: "2026-12-06T10:02:11Z" or "...+01:00".
std::string rfc3339_local_now() {
  std::time_t t = std::time(nullptr);
  struct tm tm {};
  localtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  long off = tm.tm_gmtoff;
  if (off == 0) return std::string(buf) + "Z";
  char z[48];
  std::snprintf(z, sizeof z, "%c%02ld:%02ld", off < 0 ? '-' : '+', std::labs(off) / 3600, (std::labs(off) % 3600) / 60);
  return std::string(buf) + z;
}

std::string random_suffix() {
  std::random_device rd;
  char buf[17];
  std::snprintf(buf, sizeof buf, "%08x%08x", rd(), rd());
  return buf;
}

// Go's error text for an errno: strerror with a lower-case first letter ("no such file or directory").
std::string go_errno(int err) {
  std::string s = std::strerror(err);
  if (!s.empty()) s[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[0])));
  return s;
}

std::string hex(unsigned long v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%lx", v);
  return buf;
}

void fsync_dir(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd) ::fsync(fd.get());
}

json meta_json(const Volume& v) {
  return {{"Name", v.name}, {"Driver", v.driver}, {"Labels", v.labels}, {"Options", v.options}, {"CreatedAt", v.created_at}};
}

std::map<std::string, std::string> string_map(const json& j, const char* key) {
  std::map<std::string, std::string> out;
  if (j.contains(key) && j[key].is_object())
    for (auto& [k, v] : j[key].items())
      if (v.is_string()) out[k] = v.get<std::string>();
  return out;
}

}  // namespace

bool Volume::anonymous() const { return labels.count(kAnonymousLabel) > 0; }

void check_local_options(const std::map<std::string, std::string>& options) {
  for (const auto& [k, v] : options)
    if (k != "type" && k != "device" && k != "o" && k != "size") throw InvalidArgument("invalid option: \"" + k + "\"");
  // dockerd's mandatory options: device needs type, type and o need device.
  if (options.count("device") && !options.count("type")) throw InvalidArgument("missing required option: \"type\"");
  if ((options.count("type") || options.count("o")) && !options.count("device"))
    throw InvalidArgument("missing required option: \"device\"");
  if (options.count("size")) throw InvalidArgument("quota size requested but no quota support");
}

MountOptions parse_mount_options(const std::string& o) {
  struct Flag {
    bool clear;
    unsigned long flag;
  };
  static const std::map<std::string, Flag> flags = {
      {"defaults", {false, 0}},           {"ro", {false, MS_RDONLY}},          {"rw", {true, MS_RDONLY}},
      {"suid", {true, MS_NOSUID}},        {"nosuid", {false, MS_NOSUID}},      {"dev", {true, MS_NODEV}},
      {"nodev", {false, MS_NODEV}},       {"exec", {true, MS_NOEXEC}},         {"noexec", {false, MS_NOEXEC}},
      {"sync", {false, MS_SYNCHRONOUS}},  {"async", {true, MS_SYNCHRONOUS}},   {"dirsync", {false, MS_DIRSYNC}},
      {"remount", {false, MS_REMOUNT}},   {"mand", {false, MS_MANDLOCK}},      {"nomand", {true, MS_MANDLOCK}},
      {"atime", {true, MS_NOATIME}},      {"noatime", {false, MS_NOATIME}},    {"diratime", {true, MS_NODIRATIME}},
      {"nodiratime", {false, MS_NODIRATIME}}, {"bind", {false, MS_BIND}},      {"rbind", {false, MS_BIND | MS_REC}},
      {"relatime", {false, MS_RELATIME}}, {"norelatime", {true, MS_RELATIME}}, {"strictatime", {false, MS_STRICTATIME}},
      {"nostrictatime", {true, MS_STRICTATIME}}};
  static const std::map<std::string, unsigned long> propagation = {
      {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC}, {"private", MS_PRIVATE},
      {"rprivate", MS_PRIVATE | MS_REC}, {"shared", MS_SHARED},              {"rshared", MS_SHARED | MS_REC},
      {"slave", MS_SLAVE},               {"rslave", MS_SLAVE | MS_REC}};
  MountOptions out;
  std::vector<std::string> data;
  for (const auto& opt : split(o, ',')) {
    if (opt.empty()) continue;
    if (auto it = flags.find(opt); it != flags.end()) {
      if (it->second.clear) out.flags &= ~it->second.flag;
      else out.flags |= it->second.flag;
    } else if (auto p = propagation.find(opt); p != propagation.end()) {
      out.propagation |= p->second;
    } else {
      data.push_back(opt);
    }
  }
  out.data = join(data, ",");
  return out;
}

VolumeStore::VolumeStore(std::string root) : root_(std::move(root)) {
  mkdir_all(root_, 0701);
  load();
}

VolumeStore::~VolumeStore() = default;

void VolumeStore::load() {
  DIR* d = ::opendir(root_.c_str());
  if (!d) throw_sys("open", root_);
  std::vector<std::string> names;
  while (auto* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(n);
  }
  ::closedir(d);
  for (const auto& n : names) {
    std::string dir = root_ + "/" + n;
    if (n[0] == '.') {  // an interrupted create or removal
      try {
        if (n.rfind(".tmp-", 0) == 0 || n.rfind(".rm-", 0) == 0) remove_all(dir);
      } catch (const std::exception& ex) {
        log::warn(std::string("volumes: ") + ex.what());
      }
      continue;
    }
    try {
      auto j = parse_json(read_file(dir + "/meta.json"), dir + "/meta.json");
      Entry e;
      e.v.name = n;
      e.v.driver = json_str(j, "Driver");
      if (e.v.driver.empty()) e.v.driver = "local";
      e.v.labels = string_map(j, "Labels");
      e.v.options = string_map(j, "Options");
      e.v.created_at = json_str(j, "CreatedAt");
      e.v.mountpoint = dir + "/_data";
      vols_.emplace(n, std::move(e));
    } catch (const std::exception& ex) {
      log::warn(std::string("volumes: skipped ") + n + ": " + ex.what());
    }
  }
}

VolumeStore::Entry& VolumeStore::entry(const std::string& name, const char* op) {
  auto it = vols_.find(name);
  if (it == vols_.end()) throw NotFound(std::string(op) + " " + name + ": no such volume");
  return it->second;
}

const VolumeStore::Entry& VolumeStore::entry(const std::string& name, const char* op) const {
  return const_cast<VolumeStore*>(this)->entry(name, op);
}

Volume VolumeStore::create(const std::string& name, const std::string& driver,
                           const std::map<std::string, std::string>& labels,
                           const std::map<std::string, std::string>& options, bool* created) {
  auto fail = [&](const std::string& why) { return "create " + name + ": " + why; };
  try {
    check_volume_name(name);
  } catch (const InvalidArgument& e) {
    throw InvalidArgument(fail(e.what()));
  }
  if (!driver.empty() && driver != "local")
    throw NotFound(fail("error looking up volume plugin " + driver + ": plugin \"" + driver + "\" not found"));
  std::lock_guard lk(mu_);
  if (auto it = vols_.find(name); it != vols_.end()) {
    if (created) *created = false;
    return it->second.v;
  }
  try {
    check_local_options(options);
  } catch (const InvalidArgument& e) {
    throw InvalidArgument(fail(e.what()));
  }
  Entry e;
  e.v.name = name;
  e.v.labels = labels;
  e.v.options = options;
  e.v.created_at = rfc3339_local_now();
  e.v.mountpoint = root_ + "/" + name + "/_data";
  std::string tmp = root_ + "/.tmp-" + name + "-" + random_suffix();
  try {
    if (::mkdir(tmp.c_str(), 0701) != 0) throw_sys("mkdir", tmp);
    if (::mkdir((tmp + "/_data").c_str(), 0755) != 0) throw_sys("mkdir", tmp + "/_data");
    write_file_atomic(tmp + "/meta.json", meta_json(e.v).dump(), 0600, true);
    fsync_dir(tmp);
    if (::rename(tmp.c_str(), (root_ + "/" + name).c_str()) != 0) throw_sys("rename", tmp);
    fsync_dir(root_);
  } catch (const std::exception& ex) {
    try {
      remove_all(tmp);
    } catch (...) {
    }
    throw Error(fail(ex.what()));
  }
  Volume v = e.v;
  vols_.emplace(name, std::move(e));
  if (created) *created = true;
  return v;
}

Volume VolumeStore::get(const std::string& name) const {
  std::lock_guard lk(mu_);
  return entry(name, "get").v;
}

bool VolumeStore::exists(const std::string& name) const {
  std::lock_guard lk(mu_);
  return vols_.count(name) > 0;
}

std::vector<Volume> VolumeStore::list() const {
  std::lock_guard lk(mu_);
  std::vector<Volume> out;
  for (const auto& [n, e] : vols_) out.push_back(e.v);
  return out;
}

bool VolumeStore::device_mounted(const Entry& e) const {
  struct statx sx {};
  if (::statx(AT_FDCWD, e.v.mountpoint.c_str(), AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &sx) != 0) return false;
  return (sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) && (sx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

void VolumeStore::remove(const std::string& name) {
  std::lock_guard lk(mu_);
  auto& e = entry(name, "get");
  if (!e.users.empty()) {
    std::string ids;
    for (const auto& u : e.users) ids += (ids.empty() ? "" : " ") + u;
    throw Conflict("remove " + name + ": volume is in use - [" + ids + "]");
  }
  // Never delete through a mount: a bind-backed volume's device is someone's directory.
  if (device_mounted(e) && ::umount2(e.v.mountpoint.c_str(), MNT_DETACH) != 0)
    throw Error("remove " + name + ": " + sys_message("unmount", e.v.mountpoint, errno));
  if (device_mounted(e)) throw Error("remove " + name + ": " + e.v.mountpoint + " is still a mount point");
  std::string dir = root_ + "/" + name, gone = root_ + "/.rm-" + random_suffix();
  if (::rename(dir.c_str(), gone.c_str()) != 0) throw Error("remove " + name + ": " + sys_message("rename", dir, errno));
  fsync_dir(root_);
  vols_.erase(name);
  try {
    remove_all(gone);
  } catch (const std::exception& ex) {
    log::warn("remove volume " + name + ": " + ex.what() + " (removed at the next start)");
  }
}

void VolumeStore::add_user(const std::string& name, const std::string& container_id) {
  std::lock_guard lk(mu_);
  entry(name, "get").users.insert(container_id);
}

void VolumeStore::remove_user(const std::string& name, const std::string& container_id) {
  std::lock_guard lk(mu_);
  if (auto it = vols_.find(name); it != vols_.end()) it->second.users.erase(container_id);
}

void VolumeStore::rename_user(const std::string& from, const std::string& to) {
  std::lock_guard lk(mu_);
  for (auto& [n, e] : vols_)
    if (e.users.erase(from)) e.users.insert(to);
}

std::vector<std::string> VolumeStore::users(const std::string& name) const {
  std::lock_guard lk(mu_);
  const auto& e = entry(name, "get");
  return {e.users.begin(), e.users.end()};
}

std::string VolumeStore::mount(const std::string& name, const std::string& container_id) {
  std::lock_guard lk(mu_);
  auto& e = entry(name, "get");
  if (e.v.options.empty()) return e.v.mountpoint;
  if (!device_mounted(e)) {
    const std::string& device = e.v.options["device"];
    const std::string& type = e.v.options["type"];
    auto mo = parse_mount_options(e.v.options.count("o") ? e.v.options["o"] : "");
    auto fail = [&](const std::string& op, const std::string& src, unsigned long flags, const std::string& data) {
      std::string msg = "failed to mount local volume: " + op + " " + (src.empty() ? "" : src + ":") + e.v.mountpoint;
      if (flags) msg += ", flags: 0x" + hex(flags);
      if (!data.empty()) msg += ", data: " + data;
      return Error(msg + ": " + go_errno(errno));
    };
    if (device.empty()) throw Error("missing device in volume options");
    if (::mount(device.c_str(), e.v.mountpoint.c_str(), type.c_str(), mo.flags, mo.data.empty() ? nullptr : mo.data.c_str()) != 0)
      throw fail("mount", device, mo.flags, mo.data);
    if (mo.propagation && ::mount("", e.v.mountpoint.c_str(), nullptr, mo.propagation, nullptr) != 0) {
      auto err = fail("mount", "", mo.propagation, "");
      ::umount2(e.v.mountpoint.c_str(), MNT_DETACH);
      throw err;
    }
    // A read-only bind needs a remount to be read-only.
    if ((mo.flags & (MS_BIND | MS_RDONLY)) == (MS_BIND | MS_RDONLY) &&
        ::mount("", e.v.mountpoint.c_str(), nullptr, mo.flags | MS_REMOUNT, nullptr) != 0) {
      auto err = fail("remount-ro", "", mo.flags | MS_REMOUNT, "");
      ::umount2(e.v.mountpoint.c_str(), MNT_DETACH);
      throw err;
    }
    e.mounted.clear();
  }
  e.mounted.insert(container_id);
  return e.v.mountpoint;
}

void VolumeStore::unmount(const std::string& name, const std::string& container_id) {
  std::lock_guard lk(mu_);
  auto it = vols_.find(name);
  if (it == vols_.end() || it->second.v.options.empty()) return;
  auto& e = it->second;
  if (!e.mounted.erase(container_id) || !e.mounted.empty()) return;
  if (device_mounted(e) && ::umount2(e.v.mountpoint.c_str(), MNT_DETACH) != 0)
    log::warn("volume " + name + ": " + sys_message("unmount", e.v.mountpoint, errno));
}

void VolumeStore::set_mounted_users(const std::map<std::string, std::set<std::string>>& running_users) {
  std::lock_guard lk(mu_);
  for (auto& [name, e] : vols_) {
    if (e.v.options.empty()) continue;
    auto it = running_users.find(name);
    e.mounted = it == running_users.end() ? std::set<std::string>{} : it->second;
    if (e.mounted.empty() && device_mounted(e) && ::umount2(e.v.mountpoint.c_str(), MNT_DETACH) != 0)
      log::warn("volume " + name + ": " + sys_message("unmount", e.v.mountpoint, errno));
  }
}

namespace {

std::int64_t usage_at(int dirfd, dev_t dev, std::set<std::pair<dev_t, ino_t>>& seen) {
  std::int64_t total = 0;
  int fd = ::dup(dirfd);
  if (fd < 0) return 0;
  DIR* d = ::fdopendir(fd);
  if (!d) {
    ::close(fd);
    return 0;
  }
  while (auto* e = ::readdir(d)) {
    std::string_view n = e->d_name;
    if (n == "." || n == "..") continue;
    struct stat st {};
    if (::fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      if (st.st_dev != dev) continue;  // another mount
      UniqueFd sub(::openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (sub) total += usage_at(sub.get(), dev, seen);
      continue;
    }
    if (st.st_nlink > 1 && !seen.insert({st.st_dev, st.st_ino}).second) continue;
    total += st.st_size;
  }
  ::closedir(d);
  return total;
}

}  // namespace

std::int64_t VolumeStore::disk_usage(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  struct stat st {};
  if (!fd || ::fstat(fd.get(), &st) != 0) return 0;
  std::set<std::pair<dev_t, ino_t>> seen;
  return usage_at(fd.get(), st.st_dev, seen);
}

}  // namespace hoist::volumes
