#include "engine/build_mounts.h"

#include <fcntl.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/digest.h"
#include "common/error.h"
#include "common/file.h"
#include "common/log.h"
#include "common/strings.h"
#include "builder/go_match.h"
#include "builder/go_text.h"
#include "engine/containers/container_fs.h"
#include "engine/daemon.h"
#include "volumes/volume_store.h"

namespace hoist::engine {

namespace {

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

CacheMounts::CacheMounts(std::string root) : root_(std::move(root)) { load_index(); }

void CacheMounts::load_index() {
  std::string path = root_ + "/index.json";
  if (!path_exists(path)) return;
  try {
    auto j = nlohmann::json::parse(read_file(path));
    for (auto& [k, v] : j.items()) {
      if (!v.is_object()) continue;
      Meta m;
      m.cache_id = v.value("id", "");
      m.sharing = v.value("sharing", "");
      m.description = v.value("description", "");
      m.created_ns = v.value("created", std::int64_t{0});
      m.last_used_ns = v.value("last_used", std::int64_t{0});
      m.usage = v.value("usage", 0);
      meta_[k] = m;
    }
  } catch (const std::exception& e) {
    log::warn("build cache mounts " + path + ": " + e.what() + " (their times are lost)");
  }
}

void CacheMounts::save_index_locked() {
  nlohmann::json j = nlohmann::json::object();
  for (auto& [k, m] : meta_)
    j[k] = {{"id", m.cache_id}, {"sharing", m.sharing}, {"description", m.description}, {"created", m.created_ns},
            {"last_used", m.last_used_ns}, {"usage", m.usage}};
  try {
    mkdir_all(root_, 0700);
    write_file_atomic(root_ + "/index.json", j.dump(), 0600, false);
  } catch (const std::exception& e) {
    log::warn(std::string("build cache mounts: ") + e.what());
  }
}

std::vector<CacheMounts::Record> CacheMounts::list() {
  std::vector<Record> out;
  std::error_code ec;
  for (const auto& k : std::filesystem::directory_iterator(root_, ec)) {
    if (!k.is_directory(ec)) continue;
    std::string key = k.path().filename().string();
    for (const auto& i : std::filesystem::directory_iterator(k.path(), ec)) {
      std::string name = i.path().filename().string();
      if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;  // new-*, *.old-*
      Record r;
      r.key = key;
      r.instance = std::stoi(name);
      r.path = i.path().string();
      out.push_back(r);
    }
  }
  std::lock_guard lk(mu_);
  for (Record& r : out) {
    auto m = meta_.find(r.key + "/" + std::to_string(r.instance));
    if (m != meta_.end()) {
      r.cache_id = m->second.cache_id;
      r.sharing = m->second.sharing;
      r.description = m->second.description;
      r.created_ns = m->second.created_ns;
      r.last_used_ns = m->second.last_used_ns;
      r.usage = m->second.usage;
    }
    if (r.created_ns == 0) {  // made before the index: the directory's times
      struct stat st {};
      if (::stat(r.path.c_str(), &st) == 0) r.created_ns = std::int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    }
    auto u = uses_.find(r.key);
    if (u != uses_.end()) {
      auto i = u->second.find(r.instance);
      r.in_use = i != u->second.end() && i->second.users > 0;
    }
  }
  return out;
}

std::optional<std::int64_t> CacheMounts::remove(const std::string& key, int instance) {
  std::string path = root_ + "/" + key + "/" + std::to_string(instance);
  std::string aside = root_ + "/" + key + "/" + std::to_string(instance) + ".old-prune-" + std::to_string(::getpid());
  {
    std::lock_guard lk(mu_);
    auto u = uses_.find(key);
    if (u != uses_.end()) {
      auto i = u->second.find(instance);
      if (i != u->second.end() && i->second.users > 0) return std::nullopt;
    }
    if (!path_exists(path)) return std::nullopt;
    remove_all(aside);
    if (::rename(path.c_str(), aside.c_str()) != 0) throw_sys("rename", path);
    meta_.erase(key + "/" + std::to_string(instance));
    save_index_locked();
  }
  std::int64_t size = volumes::VolumeStore::disk_usage(aside);
  remove_all(aside);
  ::rmdir((root_ + "/" + key).c_str());  // the last instance of the id: its directory too
  return size;
}

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
  if (!made.seed.empty()) {
    h.update(std::string_view("\0", 1));
    h.update(made.seed);
  }
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
  {
    std::lock_guard lk(mu_);
    Meta& m = meta_[key + "/" + std::to_string(instance)];
    std::int64_t now = now_ns();
    if (m.created_ns == 0 || !path_exists(root_ + "/" + key + "/" + std::to_string(instance))) {
      m = Meta{};
      m.created_ns = now;
    } else {
      m.last_used_ns = now;
      ++m.usage;
    }
    m.cache_id = id;
    m.sharing = sharing.empty() ? "shared" : sharing;
    if (m.description.empty()) m.description = made.description;
    save_index_locked();
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

namespace {

using builder::Step;
using nlohmann::json;

std::string secret_id(const builder::Mount& m) {
  if (!m.source.empty()) return m.source;
  if (!m.cache_id.empty()) return m.cache_id;
  return base_name(builder::go_clean(m.target));
}

// Where a mount goes in the container: BuildKit's target, relative ones below WORKDIR. `ssh_index`:
// the mount's place among the step's ssh mounts (BuildKit's default target).
std::string mount_target(const builder::Mount& m, const Step& s, std::size_t ssh_index) {
  std::string t = m.target;
  if (t.empty() && m.type == builder::MountType::Ssh) t = "/run/buildkit/ssh_agent." + std::to_string(ssh_index);
  if (t.empty() && m.type == builder::MountType::Secret) {
    if (m.env) return "";
    t = "/run/secrets/" + base_name(secret_id(m));
  }
  if (t.empty() || t[0] != '/') t = (s.workdir.empty() ? "/" : s.workdir) + "/" + t;
  t = builder::go_clean(t);
  if (t == "/") throw Error("invalid mount target " + builder::go::quote(t));  // BuildKit's words
  return t;
}

// A copy of a resolved source in a new directory of the build (rw binds, caches made from a
// stage); returns the copy's top.
std::string copy_of(const ResolvedSource& r, const std::string& dir) {
  UniqueFd d(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!d) throw_sys("open", dir);
  ContainerFs fs(d.get(), false, {});
  std::string name = r.dir ? "" : base_name(r.resolved);
  extract_made(fs, [&](int fd) { write_copy_tar(fd, {}, {TarPart{&r, name}}, std::nullopt); });
  return name.empty() ? dir : dir + "/" + name;
}

std::string host_path(const SourceTree& tree, const ResolvedSource& r) {
  return r.resolved == "." ? tree.real() : tree.real() + "/" + r.resolved;
}

}  // namespace

void RunMounts::release() {
  ssh.clear();
  caches.clear();
  sources.clear();
  tree_of.clear();
  for (auto& t : trees)
    if (t) t->reset();
  trees.clear();
  for (const std::string& d : dirs) {
    try {
      remove_all(d);
    } catch (const std::exception& e) {
      log::warn("build: remove " + d + ": " + e.what());
    }
  }
  dirs.clear();
}

void resolve_mounts(const StepTrees& trees, const Step& s, RunMounts& rm, std::vector<std::string>& hashes) {
  for (std::size_t i = 0; i < s.mounts.size(); ++i) {
    const builder::Mount& m = s.mounts[i];
    rm.trees.emplace_back();
    rm.sources.emplace_back();
    rm.tree_of.push_back(nullptr);
    bool reads = m.type == builder::MountType::Bind || (m.type == builder::MountType::Cache && !m.from.empty());
    if (!reads) continue;
    const builder::SourceRef& ref = s.mount_sources[i];
    rm.trees[i] = std::make_unique<TreeHold>();
    const SourceTree* tree = rm.tree_of[i] = trees.hold(ref, *rm.trees[i]);
    std::string rel = rel_of(m.source);
    try {
      bool ctx = ref.kind == builder::SourceRef::Context;
      rm.sources[i] = resolve_source(*tree, rel, ctx, nullptr, ctx ? trees.ws.stats() : nullptr);
    } catch (const NotFound&) {
      throw Error("failed to compute cache key: \"/" + rel + "\" not found: not found");
    }
    hashes.push_back(std::to_string(i) + ":" + rm.sources[i]->hash);
  }
}

void prepare_mounts(BuildWorkspace& ws, CacheMounts& caches, const Step& s, RunMounts& rm) {
  auto bind = [&](const std::string& src, const std::string& target, bool ro) {
    rm.mounts.push_back({{"Type", "bind"}, {"Source", src}, {"Target", target}, {"ReadOnly", ro}});
  };
  std::size_t ssh_mounts = 0;
  for (std::size_t i = 0; i < s.mounts.size(); ++i) {
    const builder::Mount& m = s.mounts[i];
    std::string target = mount_target(m, s, ssh_mounts);
    switch (m.type) {
      case builder::MountType::Bind: {
        const ResolvedSource& r = *rm.sources[i];
        std::string src = host_path(*rm.tree_of[i], r);
        if (!m.read_only) {  // writes go to a copy the step's end removes
          std::string dir = ws.new_path();
          if (::mkdir(dir.c_str(), 0755) != 0) throw_sys("mkdir", dir);
          rm.dirs.push_back(dir);
          src = copy_of(r, dir);
        }
        bind(src, target, m.read_only);
        if (!r.dir) rm.file_targets.push_back(target);
        break;
      }
      case builder::MountType::Cache: {
        CacheMounts::NewDir nd;
        nd.mode = m.mode ? static_cast<unsigned>(*m.mode) : 0755;
        nd.uid = m.uid ? static_cast<uid_t>(*m.uid) : 0;
        nd.gid = m.gid ? static_cast<gid_t>(*m.gid) : 0;
        if (rm.sources[i]) {
          const ResolvedSource* r = &*rm.sources[i];
          nd.seed = r->hash;
          nd.init = [r](const std::string& dir) {
            if (r->dir) {
              copy_of(*r, dir);
            } else {
              throw Error("RUN --mount=type=cache: source " + r->name + " is not a directory");
            }
          };
        }
        nd.description = "cached mount " + target + " from exec " + join(s.argv, " ");  // BuildKit's
        std::string id = m.cache_id.empty() ? m.target : m.cache_id;
        // --no-cache: the cache starts empty (and stays so for later builds), as BuildKit's.
        rm.caches.push_back(caches.acquire(id, m.sharing, nd, ws.options().nocache));
        bind(rm.caches.back().path(), target, m.read_only);
        break;
      }
      case builder::MountType::Tmpfs: {
        // BuildKit's tmpfs is nosuid only (Docker's --mount type=tmpfs adds noexec and nodev).
        std::string o = "exec,dev,nosuid";
        if (m.size_limit > 0) o += ",size=" + std::to_string(m.size_limit / 1024) + "k";
        rm.tmpfs[target] = o;
        break;
      }
      case builder::MountType::Secret: {
        std::string id = secret_id(m);
        auto it = ws.options().secrets.find(id);
        if (it == ws.options().secrets.end()) {
          if (m.required) throw Error("secret " + id + " not found: not found");
          break;
        }
        if (m.env) rm.env.push_back(*m.env + "=" + it->second);
        if (target.empty()) break;
        // In the daemon's run directory (memory, never the data root), the step's own.
        std::string base = ws.daemon().config().exec_root + "/build-secrets";
        mkdir_all(base, 0700);
        std::string tmpl = base + "/XXXXXX";
        if (!::mkdtemp(tmpl.data())) throw_sys("mkdtemp", base);
        rm.dirs.push_back(tmpl);
        std::string file = tmpl + "/secret";
        UniqueFd f(::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
        if (!f) throw_sys("open", file);
        write_all(f.get(), it->second, file);
        if (::fchown(f.get(), m.uid ? static_cast<uid_t>(*m.uid) : 0, m.gid ? static_cast<gid_t>(*m.gid) : 0) != 0)
          throw_sys("fchown", file);
        if (::fchmod(f.get(), m.mode ? static_cast<mode_t>(*m.mode & 07777) : 0400) != 0) throw_sys("fchmod", file);
        bind(file, target, true);
        rm.file_targets.push_back(target);
        break;
      }
      case builder::MountType::Ssh: {
        // BuildKit's SSH_AUTH_SOCK: the first ssh mount's target, unless the step's env has one
        // (set whether or not the client forwards the id).
        if (ssh_mounts++ == 0 && std::none_of(s.env.begin(), s.env.end(), [](const std::string& e) {
              return e.rfind("SSH_AUTH_SOCK=", 0) == 0;
            }))
          rm.env.push_back("SSH_AUTH_SOCK=" + target);
        std::string id = m.cache_id.empty() ? "default" : m.cache_id;
        const std::shared_ptr<SshSession>& ssh = ws.options().ssh;
        if (!ssh || !ssh->forwards(id)) {
          if (!m.required) break;  // BuildKit's optional ssh mount: none
          require_ssh_forward(ssh.get(), id);
        }
        rm.ssh.push_back(ssh->listen(id, ws.daemon().config().exec_root + "/build-ssh",
                                     m.uid ? static_cast<uid_t>(*m.uid) : 0, m.gid ? static_cast<gid_t>(*m.gid) : 0,
                                     m.mode ? static_cast<mode_t>(*m.mode) : 0600));
        bind(rm.ssh.back()->path(), target, true);
        rm.file_targets.push_back(target);
        break;
      }
    }
  }
  if (!s.inline_files.empty()) {  // heredoc scripts, read-only under /dev/pipes/ (BuildKit's way)
    std::string dir = ws.new_path();
    if (::mkdir(dir.c_str(), 0755) != 0) throw_sys("mkdir", dir);
    rm.dirs.push_back(dir);
    for (const builder::InlineFile& f : s.inline_files) {
      std::string path = dir + "/" + base_name(f.path);
      UniqueFd fd = open_file(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
      write_all(fd.get(), f.data, path);
      if (::fchmod(fd.get(), f.mode & 07777) != 0) throw_sys("fchmod", path);
    }
    bind(dir, "/dev/pipes", true);
  }
}

}  // namespace hoist::engine
