#include "engine/volume_service.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/file.h"
#include "common/log.h"
#include "engine/api/routes.h"
#include "image/layer.h"

namespace hoist::engine {

using nlohmann::json;
using volumes::MountPoint;

namespace {

// `rel` opened below `root` as if `root` were "/": no symlink or ".." leads out of it.
// Invalid fd with errno set when it fails.
UniqueFd open_beneath(int root, const std::string& rel, std::uint64_t flags) {
  struct open_how how {};
  how.flags = flags | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  std::string path = rel.empty() ? "." : rel;
  int fd;
  do {
    fd = static_cast<int>(::syscall(SYS_openat2, root, path.c_str(), &how, sizeof how));
  } while (fd < 0 && errno == EINTR);
  return UniqueFd(fd);
}

bool dir_is_empty(const std::string& path) {
  DIR* d = ::opendir(path.c_str());
  if (!d) throw_sys("open", path);
  bool empty = true;
  while (auto* e = ::readdir(d)) {
    std::string_view n = e->d_name;
    if (n != "." && n != "..") {
      empty = false;
      break;
    }
  }
  ::closedir(d);
  return empty;
}

// Docker's copy-up: the image's files at `destination` (resolved inside `rootfs`) into the empty
// volume directory `dir`, with owners, modes, times, xattrs, symlinks and the directory's own
// owner and mode. Nothing when the image has no such path.
void copy_up(const std::string& rootfs, const std::string& destination, const std::string& dir) {
  UniqueFd root(::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) throw_sys("open", rootfs);
  UniqueFd src = open_beneath(root.get(), destination.substr(1), O_PATH);
  if (!src) {
    if (errno == ENOENT) return;
    throw_sys("open", rootfs + destination);
  }
  struct stat st {};
  if (::fstat(src.get(), &st) != 0) throw_sys("stat", rootfs + destination);
  if (!S_ISDIR(st.st_mode))
    throw InvalidArgument("cannot mount volume over existing file, file exists " + rootfs + destination);
  if (!dir_is_empty(dir)) return;
  // The fd's magic link names the directory it holds, wherever a symlink in the image pointed.
  image::copy_tree("/proc/self/fd/" + std::to_string(src.get()), dir);
}

}  // namespace

VolumeService::VolumeService(Daemon& d)
    : d_(d),
      store_(std::make_unique<volumes::VolumeStore>(d.config().data_root + "/volumes")),
      staging_root_(d.config().exec_root + "/volume-mounts") {
  d.add_routes([this](Router& r, Daemon& dm) { register_volume_routes(r, dm, *this); });
  d.hooks().df_volumes = [this] { return volumes_df_json(*this); };
}

VolumeService::~VolumeService() = default;

void VolumeService::publish(const std::string& action, const std::string& name, std::map<std::string, std::string> attrs) {
  Event e;
  e.type = "volume";
  e.action = action;
  e.actor_id = name;
  e.attributes = std::move(attrs);
  d_.events().publish(std::move(e));
}

void VolumeService::make_volumes(std::vector<MountPoint>& plan, const std::string& holder, std::vector<std::string>& made) {
  for (auto& m : plan) {
    if (m.type != MountPoint::Type::Volume) continue;
    auto labels = m.volume_labels;
    if (m.anonymous) labels[volumes::kAnonymousLabel] = "";
    bool created = false;
    auto v = store_->create(m.name, m.driver, labels, m.volume_options, &created);
    if (created) made.push_back(v.name);
    store_->add_user(v.name, holder);
    publish("create", v.name, {{"driver", v.driver}});  // dockerd reports every create, made or found
    m.source = v.mountpoint;
    m.driver = v.driver;
  }
}

void VolumeService::adopt(const std::string& holder, const std::string& id) { store_->rename_user(holder, id); }

void VolumeService::abandon(const std::string& holder, const std::vector<std::string>& made) {
  for (const auto& v : store_->list()) store_->remove_user(v.name, holder);
  for (const auto& name : made) {
    try {
      store_->remove(name);
    } catch (const std::exception& ex) {
      log::warn("volume " + name + ": " + ex.what());
    }
  }
}

std::vector<MountPoint> VolumeService::attach(const std::string& id, std::vector<MountPoint> mounts,
                                              const std::string& rootfs) {
  std::lock_guard lk(mu_);
  detach_locked(id);  // what a start cut short left
  auto& a = attached_[id];
  try {
    for (std::size_t i = 0; i < mounts.size(); ++i) {
      auto& m = mounts[i];
      if (m.type == MountPoint::Type::Bind && m.create_source && !path_exists(m.source)) mkdir_all(m.source, 0755);
      if (m.type != MountPoint::Type::Volume) continue;
      std::string path;
      try {
        path = store_->mount(m.name, id);
      } catch (const NotFound&) {
        throw;
      } catch (const Error& e) {
        throw Error("error while mounting volume '" + m.source + "': " + e.what());
      }
      a.volumes.push_back(m.name);
      publish("mount", m.name,
              {{"container", id}, {"destination", m.destination}, {"driver", m.driver}, {"propagation", ""},
               {"read/write", m.read_only ? "false" : "true"}});
      if (!m.subpath.empty()) {
        UniqueFd root(::open(path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (!root) throw_sys("open", path);
        UniqueFd sub = open_beneath(root.get(), m.subpath, O_PATH);
        if (!sub)
          throw Error("error while mounting volume '" + m.source + "': " +
                      sys_message("cannot access path", path + "/" + m.subpath, errno));
        struct stat st {};
        if (::fstat(sub.get(), &st) != 0) throw_sys("stat", path + "/" + m.subpath);
        std::string dir = staging_root_ + "/" + id;
        mkdir_all(dir, 0700);
        std::string point = dir + "/" + std::to_string(i);
        if (S_ISDIR(st.st_mode)) {
          if (::mkdir(point.c_str(), 0700) != 0 && errno != EEXIST) throw_sys("mkdir", point);
        } else {
          UniqueFd f(::open(point.c_str(), O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600));
          if (!f) throw_sys("create", point);
        }
        std::string fd_path = "/proc/self/fd/" + std::to_string(sub.get());
        if (::mount(fd_path.c_str(), point.c_str(), nullptr, MS_BIND, nullptr) != 0)
          throw_sys("mount", path + "/" + m.subpath);
        a.staged.push_back(point);
        path = point;
      }
      if (m.copy_data) {
        struct stat st {};
        if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) copy_up(rootfs, m.destination, path);
      }
      m.source = path;
    }
  } catch (...) {
    detach_locked(id);
    throw;
  }
  return mounts;
}

void VolumeService::detach_locked(const std::string& id) {
  auto it = attached_.find(id);
  if (it == attached_.end()) return;
  for (auto p = it->second.staged.rbegin(); p != it->second.staged.rend(); ++p) {
    if (::umount2(p->c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT)
      log::warn("volume subpath: " + sys_message("unmount", *p, errno));
    // Only the empty mount point goes: never a recursive removal through a mount.
    if (::rmdir(p->c_str()) != 0 && errno == ENOTDIR) ::unlink(p->c_str());
  }
  if (!it->second.staged.empty()) ::rmdir((staging_root_ + "/" + id).c_str());
  for (const auto& name : it->second.volumes) {
    std::string driver = "local";
    try {
      store_->unmount(name, id);
    } catch (const std::exception& ex) {
      log::warn("volume " + name + ": " + ex.what());
    }
    publish("unmount", name, {{"container", id}, {"driver", driver}});
  }
  attached_.erase(it);
}

void VolumeService::detach(const std::string& id) {
  std::lock_guard lk(mu_);
  detach_locked(id);
}

void VolumeService::container_removed(const std::string& id, const std::vector<MountPoint>& mounts,
                                      bool remove_anonymous) {
  for (const auto& m : mounts)
    if (m.type == MountPoint::Type::Volume) store_->remove_user(m.name, id);
  if (!remove_anonymous) return;
  for (const auto& m : mounts) {
    if (m.type != MountPoint::Type::Volume || !m.anonymous) continue;
    try {
      store_->remove(m.name);
      publish("destroy", m.name, {{"driver", m.driver}});
    } catch (const Conflict&) {  // another container uses it: not an error (dockerd)
    } catch (const NotFound&) {
    } catch (const std::exception& ex) {
      log::warn("remove volume " + m.name + ": " + ex.what());
    }
  }
}

void VolumeService::restore(const std::map<std::string, std::vector<MountPoint>>& mounts,
                            const std::set<std::string>& running) {
  std::map<std::string, std::set<std::string>> running_users;
  std::lock_guard lk(mu_);
  for (const auto& [id, list] : mounts) {
    for (std::size_t i = 0; i < list.size(); ++i) {
      const auto& m = list[i];
      if (m.type != MountPoint::Type::Volume) continue;
      try {
        store_->add_user(m.name, id);
      } catch (const NotFound&) {
        log::warn("container " + id.substr(0, 12) + ": its volume " + m.name + " is gone");
        continue;
      }
      if (!running.count(id)) continue;
      running_users[m.name].insert(id);
      auto& a = attached_[id];
      if (std::find(a.volumes.begin(), a.volumes.end(), m.name) == a.volumes.end()) a.volumes.push_back(m.name);
      if (!m.subpath.empty()) {
        auto point = staging_root_ + "/" + id + "/" + std::to_string(i);
        if (std::find(a.staged.begin(), a.staged.end(), point) == a.staged.end()) a.staged.push_back(point);
      }
    }
  }
  store_->set_mounted_users(running_users);
  // Private mount points of containers that no longer run.
  if (DIR* d = ::opendir(staging_root_.c_str())) {
    std::vector<std::string> gone;
    while (auto* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != ".." && !running.count(n)) gone.push_back(n);
    }
    ::closedir(d);
    for (const auto& id : gone) {
      std::string dir = staging_root_ + "/" + id;
      if (DIR* s = ::opendir(dir.c_str())) {
        std::vector<std::string> points;
        while (auto* e = ::readdir(s)) {
          std::string n = e->d_name;
          if (n != "." && n != "..") points.push_back(dir + "/" + n);
        }
        ::closedir(s);
        for (const auto& p : points) {
          ::umount2(p.c_str(), MNT_DETACH);
          if (::rmdir(p.c_str()) != 0 && errno == ENOTDIR) ::unlink(p.c_str());
        }
      }
      ::rmdir(dir.c_str());
    }
  }
}

std::string volumes_df_json(VolumeService& v) {
  json out = json::array();
  for (const auto& vol : v.store().list()) {
    json j = volume_json(vol);
    std::size_t refs = 0;
    try {
      refs = v.store().users(vol.name).size();
    } catch (const NotFound&) {  // removed meanwhile
      continue;
    }
    j["UsageData"] = {{"RefCount", refs}, {"Size", volumes::VolumeStore::disk_usage(vol.mountpoint)}};
    out.push_back(std::move(j));
  }
  return out.dump();
}

}  // namespace hoist::engine
