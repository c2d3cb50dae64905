#include "engine/build_mounts.h"

#include <sys/stat.h>
#include <unistd.h>

#include "common/digest.h"
#include "common/error.h"
#include "common/file.h"

namespace hoist::engine {

CacheMounts::CacheMounts(std::string root) : root_(std::move(root)) {}

CacheMounts::Lease::Lease(Lease&& o) noexcept
    : owner_(o.owner_), key_(std::move(o.key_)), instance_(o.instance_), path_(std::move(o.path_)) {
  o.owner_ = nullptr;
}

CacheMounts::Lease::~Lease() {
  if (owner_) owner_->release(key_, instance_);
}

void CacheMounts::release(const std::string& key, int instance) {
  std::lock_guard lk(mu_);
  Use& u = uses_[key][instance];
  if (u.users > 0) --u.users;
  if (u.users == 0) u.exclusive = false;
  cv_.notify_all();
}

CacheMounts::Lease CacheMounts::acquire(const std::string& id, const std::string& sharing, const NewDir& made,
                                        bool fresh) {
  Hasher h;
  h.update(id);
  std::string key = h.digest().hex;
  int instance = 0;
  bool alone = false;
  {
    std::unique_lock lk(mu_);
    auto& uses = uses_[key];
    if (sharing == "locked") {
      cv_.wait(lk, [&] { return uses[0].users == 0; });
      uses[0].users = 1;
      uses[0].exclusive = true;
    } else if (sharing == "private") {
      while (uses[instance].users > 0) ++instance;
      uses[instance].users = 1;
      uses[instance].exclusive = true;
    } else {
      cv_.wait(lk, [&] { return !uses[0].exclusive; });
      ++uses[0].users;
    }
    alone = uses[instance].users == 1;
  }
  Lease lease(this, key, instance, root_ + "/" + key + "/" + std::to_string(instance));
  if (fresh && alone && path_exists(lease.path())) {
    std::string old = lease.path() + ".old-" + std::to_string(::getpid());
    if (::rename(lease.path().c_str(), old.c_str()) != 0) throw_sys("rename", lease.path());
    remove_all(old);
  }
  if (!path_exists(lease.path())) {
    // Made aside and renamed into place: a directory that is there is complete.
    std::string parent = root_ + "/" + key;
    mkdir_all(parent, 0700);
    std::string part = parent + "/new-" + std::to_string(instance) + "-" + std::to_string(::getpid());
    remove_all(part);
    if (::mkdir(part.c_str(), 0755) != 0) throw_sys("mkdir", part);
    try {
      if (made.init) made.init(part);
      if (::chown(part.c_str(), made.uid, made.gid) != 0) throw_sys("chown", part);
      if (::chmod(part.c_str(), made.mode & 07777) != 0) throw_sys("chmod", part);
      if (::rename(part.c_str(), lease.path().c_str()) != 0) throw_sys("rename", lease.path());
    } catch (...) {
      remove_all(part);
      throw;
    }
  }
  return lease;
}

}  // namespace hoist::engine
