// The cgroup managers: V2Manager for the unified hierarchy, V1Manager for v1 hierarchies (with a
// V2Manager for the unified part of a hybrid host). Resource writing lives in controllers.cpp.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <set>
#include <thread>

#include "common/error.h"
#include "common/file.h"
#include "common/strings.h"
#include "runtime/cgroups/cgroups.h"

namespace hoist::runtime::cgroups {

namespace {

using namespace std::chrono_literals;
using detail::Group;
using detail::read_value;
using detail::write_value;

constexpr auto kFreezeTimeout = 2s;
constexpr auto kKillTimeout = 5s;

std::string under(const std::string& root, const std::string& path) { return path == "/" ? root : root + path; }

bool is_dir(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::vector<std::string> words(std::string_view s) {
  std::vector<std::string> out;
  for (auto& line : split(s, '\n'))
    for (auto& w : split(line, ' '))
      if (!w.empty()) out.push_back(std::move(w));
  return out;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

Error unavailable(const std::string& what, const std::string& controller) {
  return Error("cannot set " + what + ": cgroup controller \"" + controller + "\" is not available");
}

// Polls done() with a growing delay (1 ms .. 50 ms) until it holds or `limit` has passed.
template <class F>
bool poll_until(F done, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  for (auto delay = 1ms;; delay = std::min(delay * 2, std::chrono::milliseconds(50))) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(delay);
  }
}

// cgroup.procs of dir; a cgroup that is gone has no processes.
std::vector<pid_t> read_pids(const std::string& dir) {
  std::string text;
  try {
    text = read_file(dir + "/cgroup.procs");
  } catch (const SysError& e) {
    if (e.code() == ENOENT) return {};
    throw;
  }
  std::vector<pid_t> out;
  for (const auto& w : words(text)) out.push_back(static_cast<pid_t>(parse_int(w, "pid in " + dir + "/cgroup.procs")));
  return out;
}

void signal_pids(const std::vector<pid_t>& pids, int sig) {
  for (pid_t pid : pids)
    if (::kill(pid, sig) != 0 && errno != ESRCH) throw_sys("kill", "pid " + std::to_string(pid));
}

void make_dir(const std::string& path) {
  if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) throw_sys("mkdir", path);
}

// rmdir of a cgroup, child cgroups first (the files inside are not removable, and need not be).
// EBUSY is retried a few times: the kernel may still be releasing the last exiting task.
void remove_cgroup(const std::string& dir) {
  // The common case, a leaf: one rmdir.
  if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return;
  if (errno != EBUSY && errno != ENOTEMPTY) throw_sys("rmdir", dir);
  DIR* d = ::opendir(dir.c_str());
  if (!d) {
    if (errno == ENOENT) return;
    throw_sys("open", dir);
  }
  std::vector<std::string> children;
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    bool dir_entry = e->d_type == DT_DIR || (e->d_type == DT_UNKNOWN && is_dir(dir + "/" + name));
    if (dir_entry) children.push_back(dir + "/" + name);
  }
  ::closedir(d);
  for (const auto& child : children) remove_cgroup(child);
  for (auto delay = 10ms;; delay *= 2) {
    if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return;
    if (errno != EBUSY || delay > 160ms) throw_sys("rmdir", dir);
    std::this_thread::sleep_for(delay);
  }
}

// Runs every step, then rethrows the first failure.
class FirstError {
 public:
  template <class F>
  void run(F step) {
    try {
      step();
    } catch (...) {
      if (!first_) first_ = std::current_exception();
    }
  }
  void rethrow() {
    if (first_) std::rethrow_exception(first_);
  }

 private:
  std::exception_ptr first_;
};

// What v1 and v2 share: killing, on top of each version's freeze and pids.
class Base : public Manager {
 public:
  void kill_all(int sig) override {
    if (sig == SIGKILL && kill_at_once()) return wait_until_empty();
    if (pids().empty()) return;  // the common case at delete: nothing left to signal or freeze
    bool was_frozen = frozen_or_false();
    // Frozen processes cannot fork while we signal them one by one.
    bool froze = !was_frozen && try_freeze();
    signal_pids(pids(), sig);
    // Dying processes must run to exit; otherwise restore the state we found.
    if (froze || (was_frozen && sig == SIGKILL)) freeze(false);
    if (sig == SIGKILL) wait_until_empty();
  }

 protected:
  // Kills everything with one write where the kernel can (cgroup.kill); false if it cannot.
  virtual bool kill_at_once() { return false; }

  // Writes the freeze request until the kernel reports the cgroup frozen; thaws and throws on timeout.
  template <class F>
  void freeze_and_wait(F request, const std::string& where) {
    if (poll_until([&] { request(); return frozen(); }, kFreezeTimeout)) return;
    try {
      freeze(false);
    } catch (const Error&) {
    }
    throw Error("freeze " + where + ": timed out waiting for the processes to stop");
  }

 private:
  bool frozen_or_false() const {
    try {
      return frozen();
    } catch (const Error&) {
      return false;  // no freezer
    }
  }
  bool try_freeze() {
    try {
      freeze(true);
      return true;
    } catch (const Error&) {
      return false;  // no freezer, or it timed out (and thawed): signal anyway
    }
  }
  // Until cgroup.procs is empty (re-sending SIGKILL to stragglers) or kKillTimeout passes; a
  // process that outlives that makes destroy() fail with EBUSY, which names the cgroup.
  void wait_until_empty() {
    poll_until(
        [&] {
          auto left = pids();
          signal_pids(left, SIGKILL);
          return left.empty();
        },
        kKillTimeout);
  }
};

class V2Manager final : public Base {
 public:
  // delegate: enable controllers on the way down (a v2 host). The unified part of a hybrid host
  // is shared with the v1 hierarchies and with other runtimes: a controller enabled there is
  // taken from v1 (its hierarchy can no longer be mounted) and makes crun and podman refuse to
  // run ("cgroups in hybrid mode not supported"), so there only what the host already
  // delegates is used, and no cgroup.subtree_control is written (as runc does).
  V2Manager(std::string root, std::string path, bool delegate)
      : root_(std::move(root)), path_(std::move(path)), dir_(under(root_, path_)), delegate_(delegate) {}

  // Enables every controller the parent has, at each level down to (not in) the leaf: the leaf
  // holds processes, and a cgroup with processes cannot delegate controllers.
  void create() override {
    std::string cur = root_;
    for (const auto& part : split(path_, '/')) {
      if (part.empty()) continue;
      if (delegate_) enable_controllers(cur);
      cur += "/" + part;
      make_dir(cur);
    }
  }

  void add_pid_to(pid_t pid, bool, bool v2) override {
    if (v2) write_value(dir_, "cgroup.procs", std::to_string(pid));
  }
  void join_self_v1() override {}
  UniqueFd open_v2() const override {
    int fd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) throw_sys("open", dir_);
    return UniqueFd(fd);
  }

  void apply(const oci::Resources& r) override {
    for (const auto& g : detail::groups())
      if (g.wanted(r)) apply_group(g, r);
    apply_unified(r.unified);
  }

  void apply_group(const Group& g, const oci::Resources& r) {
    if (!g.write_v2) throw unavailable(g.what, g.v1);
    if (g.v2 && !contains(controllers(), g.v2)) throw unavailable(g.what, g.v2);
    g.write_v2(dir_, r);
  }

  // linux.resources.unified: written verbatim, last (so they win), after checking each key.
  void apply_unified(const std::map<std::string, std::string>& kv) {
    if (kv.empty()) return;
    auto available = controllers();
    for (const auto& [key, value] : kv) {
      check_unified_key(key, available);
      write_value(dir_, key, value);
    }
  }

  void freeze(bool on) override {
    if (!on) return write_value(dir_, "cgroup.freeze", "0");
    freeze_and_wait([&] { write_value(dir_, "cgroup.freeze", "1"); }, dir_);
  }

  bool frozen() const override {
    auto w = words(read_value(dir_, "cgroup.events"));
    auto it = std::find(w.begin(), w.end(), "frozen");
    return it != w.end() && it + 1 != w.end() && it[1] == "1";
  }

  std::vector<pid_t> pids() const override { return read_pids(dir_); }
  void destroy() override { remove_cgroup(dir_); }
  std::string dir(const std::string&) const override { return dir_; }
  bool exists() const override { return is_dir(dir_); }

  // Whether the hierarchy has `controller` at all (the root's cgroup.controllers).
  bool root_has(const std::string& controller) const {
    try {
      return contains(words(read_value(root_, "cgroup.controllers")), controller);
    } catch (const Error&) {
      return false;
    }
  }

 protected:
  bool kill_at_once() override {
    if (!path_exists(dir_ + "/cgroup.kill")) return false;  // before Linux 5.14
    write_value(dir_, "cgroup.kill", "1");
    return true;
  }

 private:
  std::vector<std::string> controllers() const { return words(read_value(dir_, "cgroup.controllers")); }

  static void enable_controllers(const std::string& dir) {
    auto ctrls = words(read_value(dir, "cgroup.controllers"));
    if (ctrls.empty()) return;
    for (auto& c : ctrls) c = "+" + c;
    try {
      write_value(dir, "cgroup.subtree_control", join(ctrls, " "));
    } catch (const Error&) {
      // One controller that cannot be enabled (e.g. cpu with realtime tasks around) fails the
      // whole write: enable the others one by one; apply() reports whatever is then missing.
      for (const auto& c : ctrls) {
        try {
          write_value(dir, "cgroup.subtree_control", c);
        } catch (const Error&) {
        }
      }
    }
  }

  void check_unified_key(const std::string& key, const std::vector<std::string>& available) const {
    auto dot = key.find('.');
    if (key.find('/') != std::string::npos || key.find("..") != std::string::npos || dot == std::string::npos || dot == 0)
      throw Error("invalid linux.resources.unified key \"" + key + "\"");
    std::string controller = key.substr(0, dot);
    if (controller != "cgroup" && !contains(available, controller))
      throw Error("cannot set linux.resources.unified \"" + key + "\": cgroup controller \"" + controller +
                  "\" is not available in " + dir_);
  }

  std::string root_, path_, dir_;
  bool delegate_;
};

class V1Manager final : public Base {
 public:
  V1Manager(const Layout& layout, std::string path) : v1_(layout.v1), path_(std::move(path)) {
    std::set<std::string> mounts;
    for (const auto& [controller, mount] : v1_)
      if (mounts.insert(mount).second) dirs_.push_back(under(mount, path_));
    if (!layout.unified.empty()) unified_ = std::make_unique<V2Manager>(layout.unified, path_, false);
  }

  void create() override {
    for (const auto& d : dirs_) mkdir_all(d);
    if (auto it = v1_.find("cpuset"); it != v1_.end()) copy_cpuset_down(it->second);
    if (unified_) unified_->create();
  }

  void add_pid_to(pid_t pid, bool v1, bool v2) override {
    if (v1)
      for (const auto& d : dirs_) write_value(d, "cgroup.procs", std::to_string(pid));
    if (unified_ && v2) unified_->add_pid(pid);
  }
  void join_self_v1() override {
    for (const auto& d : dirs_) write_value(d, "tasks", "0");
  }
  UniqueFd open_v2() const override { return unified_ ? unified_->open_v2() : UniqueFd(); }

  // Each group goes to its v1 hierarchy, else (hybrid host) to the unified one.
  void apply(const oci::Resources& r) override {
    for (const auto& g : detail::groups()) {
      if (!g.wanted(r)) continue;
      if (auto it = v1_.find(g.v1); it != v1_.end())
        g.write_v1(under(it->second, path_), r);
      else if (unified_ && g.write_v2)
        unified_->apply_group(g, r);
      else
        throw unavailable(g.what, g.v1);
    }
    if (r.unified.empty()) return;
    if (!unified_) throw Error("cannot set linux.resources.unified: the host has no cgroup v2 hierarchy");
    unified_->apply_unified(r.unified);
  }

  void freeze(bool on) override {
    std::string d = dir("freezer");
    if (!v1_.contains("freezer")) {
      if (!unified_) throw unavailable("the freezer state", "freezer");
      return unified_->freeze(on);
    }
    if (!on) return write_value(d, "freezer.state", "THAWED");
    freeze_and_wait([&] { write_value(d, "freezer.state", "FROZEN"); }, d);
  }

  bool frozen() const override {
    if (!v1_.contains("freezer")) {
      if (!unified_) throw unavailable("the freezer state", "freezer");
      return unified_->frozen();
    }
    return read_value(dir("freezer"), "freezer.state") == "FROZEN";
  }

  std::vector<pid_t> pids() const override { return read_pids(dir("")); }

  void destroy() override {
    FirstError errors;
    for (const auto& d : dirs_) errors.run([&] { remove_cgroup(d); });
    if (unified_) errors.run([&] { unified_->destroy(); });
    errors.rethrow();
  }

  // "" = the pids hierarchy (or memory, or any); on a hybrid host the unified one.
  std::string dir(const std::string& controller) const override {
    if (controller.empty()) {
      if (unified_) return unified_->dir("");
      for (const char* c : {"pids", "memory"})
        if (auto it = v1_.find(c); it != v1_.end()) return under(it->second, path_);
      return dirs_.empty() ? "" : dirs_.front();
    }
    if (auto it = v1_.find(controller); it != v1_.end()) return under(it->second, path_);
    return unified_ && unified_->root_has(controller) ? unified_->dir(controller) : "";
  }

  bool exists() const override {
    return std::any_of(dirs_.begin(), dirs_.end(), is_dir) || (unified_ && unified_->exists());
  }

 private:
  // A new v1 cpuset cgroup starts with empty cpus and mems, and no task can join it until they
  // are set: copy them down from the parent into every level where they are empty.
  void copy_cpuset_down(const std::string& mount) const {
    std::string parent = mount;
    for (const auto& part : split(path_, '/')) {
      if (part.empty()) continue;
      std::string cur = parent + "/" + part;
      for (const char* file : {"cpuset.cpus", "cpuset.mems"})
        if (read_value(cur, file).empty()) write_value(cur, file, read_value(parent, file));
      parent = cur;
    }
  }

  std::map<std::string, std::string> v1_;  // controller -> mount point
  std::string path_;
  std::vector<std::string> dirs_;  // this cgroup in each v1 hierarchy
  std::unique_ptr<V2Manager> unified_;
};

}  // namespace

std::unique_ptr<Manager> open(const Layout& layout, const std::string& path) {
  if (path.empty() || path[0] != '/' || contains(split(path, '/'), ".."))
    throw Error("invalid cgroup path \"" + path + "\"");
  if (layout.is_v2()) return std::make_unique<V2Manager>(layout.unified, path, true);
  if (!layout.v1.empty()) return std::make_unique<V1Manager>(layout, path);
  throw Error("no cgroup hierarchy is mounted");
}

}  // namespace hoist::runtime::cgroups
