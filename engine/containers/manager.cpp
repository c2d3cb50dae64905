#include "engine/containers/manager.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/clock.h"
#include "common/error.h"
#include "common/signals.h"
#include "common/file.h"
#include "common/log.h"
#include "common/strings.h"
#include "engine/containers/init_layer.h"
#include "engine/containers/log_attrs.h"
#include "engine/containers/logs.h"
#include "engine/containers/oci_spec.h"
#include "engine/containers/resources.h"
#include "engine/containers/rootfs_mount.h"
#include "engine/shim/client.h"

namespace hoist::engine {
using nlohmann::json;

struct ContainerManager::Entry {
  std::mutex mu;
  std::condition_variable cv;
  ContainerRecord rec;
  std::string dir;        // container dir
  std::string state_dir;  // exec_root/<id>
  std::thread monitor;
  UniqueFd wait_fd;       // the monitor's "wait" connection; shutdown() stops the monitor
  std::uint64_t exits = 0;
  bool removed = false;
  bool expect_attach = false;  // see ContainerManager::expect_attach
  bool restart_cancel = false;  // stop/kill/rm during the back-off of a restart
  int restart_delay_ms = 0;     // the back-off: 100 ms doubling up to 1 min; reset after 10 s up
  int rootfs_leases = 0;        // RootfsLease holders: the rootfs stays mounted while > 0
  // rec.host_config_json under the manager's mu_ (not mu): what get_linked() reads, so that a
  // lookup never waits for a container's lock (its holder may be the one looking up).
  std::string shared_host_config;
};

struct ContainerManager::Exec {
  std::mutex mu;
  std::condition_variable cv;
  std::string id, container_id, state_dir;
  ExecParams p;
  bool started = false, running = false;
  std::optional<int> exit_code;
  pid_t pid = 0;
  std::thread waiter;
  UniqueFd wait_fd;

  // Ends the waiter thread (shuts its "wait" connection down) and joins it.
  void stop_waiter() {
    std::thread t;
    {
      std::lock_guard lk(mu);
      if (wait_fd) ::shutdown(wait_fd.get(), SHUT_RDWR);
      t = std::move(waiter);
    }
    if (t.joinable()) t.join();
  }
  // ...and removes its state dir.
  void forget() {
    stop_waiter();
    try {
      remove_all(state_dir);
    } catch (...) {
    }
  }
};

namespace {

std::string random_id() {
  unsigned char b[32];
  std::size_t got = 0;
  while (got < sizeof b) {
    ssize_t n = ::getrandom(b + got, sizeof b - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_sys("getrandom");
    got += static_cast<std::size_t>(n);
  }
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (unsigned char c : b) s += hex[c >> 4], s += hex[c & 15];
  return s;
}

bool valid_name(const std::string& n) {
  if (n.size() < 2) return false;
  if (n.empty() || !std::isalnum(static_cast<unsigned char>(n[0]))) return false;
  for (char c : n)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') return false;
  return true;
}

std::string generated_name(const std::string& id) {
  static const char* adj[] = {"brave", "calm", "eager", "fancy", "gentle", "happy", "jolly", "kind", "lucid", "merry",
                              "nifty", "proud", "quirky", "sharp", "sleepy", "vivid", "witty", "zealous"};
  static const char* noun[] = {"babbage", "curie", "darwin", "euler", "fermi", "gauss", "hopper", "kepler", "lovelace",
                               "noether", "pascal", "ritchie", "shannon", "turing", "wozniak", "yalow"};
  unsigned a = static_cast<unsigned>(std::stoul(id.substr(0, 4), nullptr, 16));
  unsigned b = static_cast<unsigned>(std::stoul(id.substr(4, 4), nullptr, 16));
  return std::string(adj[a % std::size(adj)]) + "_" + noun[b % std::size(noun)];
}

std::string strip_slash(const std::string& n) { return !n.empty() && n[0] == '/' ? n.substr(1) : n; }

int signal_number(const std::string& in) { return in.empty() ? SIGKILL : parse_signal(in); }

bool running_state(ContainerState s) { return s == ContainerState::Running || s == ContainerState::Paused; }

// The pid in <state_dir>/shim.pid if that process is still this state dir's shim, else 0. The
// file outlives its shim, and a pid that was reused since must never be waited for or killed:
// the process must name the state dir on its command line (the shim's --state-dir). A zombie
// shim has an empty command line and counts as gone.
pid_t read_shim_pid(const std::string& state_dir) {
  try {
    auto parts = split(std::string(trim(read_file(state_dir + "/" + std::string(kShimPidFile)))), ' ');
    if (parts.empty()) return 0;
    auto pid = static_cast<pid_t>(parse_int(parts[0], "shim pid"));
    std::string cmdline = '\0' + read_file("/proc/" + std::to_string(pid) + "/cmdline");
    return cmdline.find('\0' + state_dir + '\0') != std::string::npos ? pid : 0;
  } catch (...) {
    return 0;
  }
}

// Waits up to timeout_ms for process `pid` to exit; true when it has (or never was). kill(pid, 0)
// cannot tell: it succeeds on a zombie (a shim between its exit and the reaper's wait, or one of
// an earlier daemon, which init reaps). A pidfd becomes readable when the process exits, zombie
// or not.
bool wait_gone(pid_t pid, int timeout_ms) {
  if (pid <= 0) return true;
  UniqueFd pfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!pfd) return errno == ESRCH;
  pollfd p{pfd.get(), POLLIN, 0};
  int r;
  do r = ::poll(&p, 1, timeout_ms);
  while (r < 0 && errno == EINTR);
  return r > 0;
}

// Stops what a start cut short by a crash of the engine may have left running: the shim of
// `state_dir` with its process group (the runtime it runs, a container init still in it).
void stop_stray_shim(const std::string& state_dir) {
  pid_t sp = read_shim_pid(state_dir);
  // A shim of the last run may still be finishing (the rest of the output to attached clients,
  // at most about a second); one whose engine died during a start undoes it and exits.
  if (sp <= 0 || wait_gone(sp, 1500)) return;
  pid_t pg = ::getpgid(sp);
  if (pg > 1) ::kill(-pg, SIGKILL);
  ::kill(sp, SIGKILL);
  wait_gone(sp, 2000);
}

// The shims this daemon spawned stay its children (not double-forked away to init, which may
// take its time to reap them: dozens of zombies in a loop of short runs), and one thread reaps
// each as it exits. A shim outlives a restart of the daemon (its own session, no parent-death
// signal); the shims of an earlier daemon are init's to reap.
class ShimReaper {
 public:
  static ShimReaper& instance() {
    static ShimReaper* r = new ShimReaper;  // never destroyed: its thread runs until the process ends
    return *r;
  }

  void adopt(pid_t pid) {
    UniqueFd pfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
    if (!pfd) {  // cannot watch it: reap it now if it is done, else leave it
      ::waitpid(pid, nullptr, WNOHANG);
      return;
    }
    std::lock_guard lk(mu_);
    adopted_.emplace_back(pid, std::move(pfd));
    uint64_t one = 1;
    (void)!::write(wake_.get(), &one, sizeof one);
  }

 private:
  ShimReaper() : wake_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
    if (!wake_) throw_sys("eventfd", "shim reaper");
    std::thread([this] { run(); }).detach();
  }

  void run() {
    std::vector<std::pair<pid_t, UniqueFd>> watched;
    for (;;) {
      {
        std::lock_guard lk(mu_);
        for (auto& a : adopted_) watched.push_back(std::move(a));
        adopted_.clear();
      }
      std::vector<pollfd> fds{{wake_.get(), POLLIN, 0}};
      for (auto& [pid, fd] : watched) fds.push_back({fd.get(), POLLIN, 0});
      if (::poll(fds.data(), fds.size(), -1) < 0) continue;
      uint64_t n;
      (void)!::read(wake_.get(), &n, sizeof n);
      std::vector<std::pair<pid_t, UniqueFd>> left;
      for (std::size_t i = 0; i < watched.size(); ++i) {
        if (fds[i + 1].revents && ::waitpid(watched[i].first, nullptr, WNOHANG) != 0) continue;  // reaped (or not ours)
        left.push_back(std::move(watched[i]));
      }
      watched = std::move(left);
    }
  }

  UniqueFd wake_;
  std::mutex mu_;
  std::vector<std::pair<pid_t, UniqueFd>> adopted_;
};

bool is_zero_time(const std::string& t) { return t.empty() || t.rfind("0001-01-01", 0) == 0; }

std::string join_cmd(const std::vector<std::string>& v) {
  std::string s;
  for (auto& a : v) s += (s.empty() ? "" : " ") + a;
  return s;
}

}  // namespace

RestartPolicy RestartPolicy::from_host_config(const std::string& host_config_json) {
  RestartPolicy p;
  json hc = json::parse(host_config_json, nullptr, false);
  if (!hc.is_object() || !hc.contains("RestartPolicy") || !hc["RestartPolicy"].is_object()) return p;
  auto& rp = hc["RestartPolicy"];
  if (rp.contains("Name") && rp["Name"].is_string()) p.name = rp["Name"].get<std::string>();
  if (rp.contains("MaximumRetryCount") && rp["MaximumRetryCount"].is_number_integer())
    p.max_retries = rp["MaximumRetryCount"].get<int>();
  return p;
}

bool RestartPolicy::should_restart(int exit_code, bool manually_stopped, int restart_count, bool boot) const {
  if (name == "always") return boot || !manually_stopped;  // a manual stop holds until the daemon restarts
  if (name == "unless-stopped") return !manually_stopped;
  if (name == "on-failure")
    return (boot || !manually_stopped) && exit_code != 0 && (max_retries <= 0 || restart_count < max_retries);
  return false;
}

ContainerManager::ContainerManager(ManagerOptions opts) : opts_(std::move(opts)) {
  mkdir_all(opts_.data_root + "/containers", 0710);
  mkdir_all(opts_.exec_root, 0700);
}

ContainerManager::~ContainerManager() {
  closing_ = true;
  std::vector<std::shared_ptr<Entry>> all;
  {
    std::lock_guard lk(mu_);
    for (auto& [id, e] : ids_) all.push_back(e);
  }
  for (auto& e : all) {
    std::thread t;
    {
      std::lock_guard lk(e->mu);
      if (e->wait_fd) ::shutdown(e->wait_fd.get(), SHUT_RDWR);
      e->cv.notify_all();
      t = std::move(e->monitor);
    }
    if (t.joinable()) t.join();
  }
  std::vector<std::shared_ptr<Exec>> execs;
  {
    std::lock_guard lk(mu_);
    for (auto& [id, x] : execs_) execs.push_back(x);
  }
  for (auto& x : execs) x->stop_waiter();
}

void ContainerManager::event(const ContainerRecord& r, const std::string& what,
                             const std::map<std::string, std::string>& attrs) {
  if (!opts_.on_event) return;
  try {
    opts_.on_event(r, what, attrs);
  } catch (const std::exception& e) {
    log::warn("container event hook (" + what + "): " + e.what());
  }
}

void ContainerManager::persist(Entry& e) { e.rec.save(e.dir); }

void ContainerManager::runtime_cmd(const std::vector<std::string>& args, bool check) {
  std::vector<std::string> argv = {opts_.runtime, "--root", opts_.runtime_root};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> a;
  for (auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
  a.push_back(nullptr);
  int errp[2];
  if (::pipe2(errp, O_CLOEXEC) < 0) throw_sys("pipe");
  pid_t pid = ::fork();
  if (pid < 0) throw_sys("fork", opts_.runtime);
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    int null = ::open("/dev/null", O_RDWR);
    ::dup2(null, 0);
    ::dup2(null, 1);
    ::dup2(errp[1], 2);
    ::execv(a[0], a.data());
    _exit(127);
  }
  ::close(errp[1]);
  UniqueFd r(errp[0]);
  std::string err = read_fd(r.get());
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
  if (check && !(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
    std::string msg(trim(err));
    if (msg.rfind("hoist-runtime: ", 0) == 0) msg = msg.substr(15);
    throw Error("runtime " + args[0] + ": " + (msg.empty() ? "failed" : msg));
  }
}

std::shared_ptr<ContainerManager::Entry> ContainerManager::get(const std::string& ref) const {
  {
    std::lock_guard lk(mu_);
    if (ref.empty()) throw NotFound("No such container: " + ref);
    if (auto it = ids_.find(ref); it != ids_.end()) return it->second;
    if (auto it = names_.find(strip_slash(ref)); it != names_.end()) return ids_.at(it->second);
    std::shared_ptr<Entry> found;
    for (auto it = ids_.lower_bound(ref); it != ids_.end() && it->first.rfind(ref, 0) == 0; ++it) {
      if (found) throw InvalidArgument("multiple IDs found with provided prefix: " + ref);
      found = it->second;
    }
    if (found) return found;
  }
  if (auto e = get_linked(ref)) return e;
  throw NotFound("No such container: " + ref);
}

std::shared_ptr<ContainerManager::Entry> ContainerManager::get_linked(const std::string& ref) const {
  std::string path = strip_slash(ref);
  auto slash = path.find('/');
  if (!opts_.link_target || slash == std::string::npos) return nullptr;
  std::lock_guard lk(mu_);
  auto it = names_.find(path.substr(0, slash));
  if (it == names_.end()) return nullptr;
  auto target = opts_.link_target(ids_.at(it->second)->shared_host_config, path.substr(slash + 1));
  if (!target) return nullptr;
  it = names_.find(*target);
  return it == names_.end() ? nullptr : ids_.at(it->second);
}

void ContainerManager::share_host_config(Entry& e) {
  std::lock_guard lk(mu_);
  e.shared_host_config = e.rec.host_config_json;
}

std::string ContainerManager::resolve(const std::string& ref) const {
  auto e = get(ref);
  std::lock_guard lk(e->mu);
  return e->rec.id;
}

ContainerRecord ContainerManager::inspect(const std::string& ref) const {
  auto e = get(ref);
  std::lock_guard lk(e->mu);
  return e->rec;
}

std::vector<ContainerRecord> ContainerManager::list() const {
  std::vector<std::shared_ptr<Entry>> all;
  {
    std::lock_guard lk(mu_);
    for (auto& [id, e] : ids_) all.push_back(e);
  }
  std::vector<ContainerRecord> out;
  for (auto& e : all) {
    std::lock_guard lk(e->mu);
    if (!e->removed) out.push_back(e->rec);
  }
  return out;
}

pid_t ContainerManager::shim_pid(const std::string& ref) const {
  auto e = get(ref);
  return read_shim_pid(e->state_dir);
}

std::string ContainerManager::create(const CreateParams& p) {
  auto e = std::make_shared<Entry>();
  ContainerRecord& r = e->rec;
  {
    std::lock_guard lk(mu_);
    do r.id = random_id();
    while (ids_.count(r.id));
    std::string name = strip_slash(p.name);
    if (name.empty()) {
      name = generated_name(r.id);
      for (int i = 2; names_.count(name); ++i) name = generated_name(r.id) + std::to_string(i);
    } else if (!valid_name(name)) {
      throw InvalidArgument("Invalid container name (" + name + "), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
    }
    if (auto it = names_.find(name); it != names_.end())
      throw Conflict("Conflict. The container name \"/" + name + "\" is already in use by container \"" + it->second +
                     "\". You have to remove (or rename) that container to be able to reuse that name.");
    r.name = name;
    names_[name] = r.id;  // reserved; released below on failure
    ids_[r.id] = e;
    e->shared_host_config = p.host_config_json;
  }
  try {
    r.image = p.image;
    r.image_id = p.image_id;
    r.layer_paths = p.layer_paths;
    r.snapshot_mode = p.copy_snapshot ? "copy" : "overlay";
    r.volatile_upper = p.volatile_upper;
    r.config_json = p.config_json.empty() ? "{}" : p.config_json;
    r.host_config_json = p.host_config_json.empty() ? "{}" : p.host_config_json;
    r.endpoints_json = p.endpoints_json.empty() ? "{}" : p.endpoints_json;
    r.mounts_json = p.mounts_json;
    r.oci_spec_json = p.oci_spec_json;
    r.created = now_rfc3339();
    r.tty = p.tty;
    r.open_stdin = p.open_stdin;
    r.stop_signal = p.stop_signal.empty() ? "SIGTERM" : p.stop_signal;
    r.stop_timeout = p.stop_timeout;
    e->dir = container_dir(r.id);
    e->state_dir = state_dir(r.id);
    r.log_path = e->dir + "/" + r.id + "-json.log";
    mkdir_all(e->dir, 0710);
    persist(*e);
  } catch (...) {
    std::lock_guard lk(mu_);
    names_.erase(r.name);
    ids_.erase(r.id);
    try {
      remove_all(e->dir);
    } catch (...) {
    }
    throw;
  }
  event(r, "create");
  return r.id;
}

pid_t ContainerManager::spawn_shim(std::vector<std::string> argv, const std::string& state_dir, const std::string& what) {
  argv.insert(argv.begin(), opts_.shim);
  argv.push_back("--ready-fd");
  argv.push_back("3");
  argv.push_back("--foreground");  // our child, in a session of its own (set up below)
  std::vector<char*> a;
  for (auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
  a.push_back(nullptr);
  int p[2];
  if (::pipe2(p, O_CLOEXEC) < 0) throw_sys("pipe");
  UniqueFd rd(p[0]), wr(p[1]);
  pid_t pid = ::fork();
  if (pid < 0) throw_sys("fork", opts_.shim);
  if (pid == 0) {
    // Only async-signal-safe calls: hoistd has threads.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    int null = ::open("/dev/null", O_RDWR);
    if (wr.get() == 3) fcntl(3, F_SETFD, 0);
    else ::dup2(wr.get(), 3);
    ::dup2(null, 0);
    ::dup2(null, 1);
    ::dup2(null, 2);
    ::setsid();
    ::execv(a[0], a.data());
    _exit(127);
  }
  wr.reset();
  // Reaped by the reaper once it exits, unless waited for here (it failed before reporting).
  bool waited = false;
  struct Adopt {
    pid_t pid;
    bool& waited;
    ~Adopt() {
      try {
        if (!waited) ShimReaper::instance().adopt(pid);
      } catch (const std::exception& e) {
        log::warn("shim pid " + std::to_string(pid) + " is left for init to reap: " + e.what());
      }
    }
  } adopt{pid, waited};
  std::string reply;
  long long deadline = monotonic_ms() + 120000;
  for (;;) {
    long long left = deadline - monotonic_ms();
    if (left <= 0) throw Error(what + ": the shim did not report within 120 s");
    pollfd pf{rd.get(), POLLIN, 0};
    int n = ::poll(&pf, 1, static_cast<int>(left));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) continue;
    char buf[4096];
    ssize_t k = ::read(rd.get(), buf, sizeof buf);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) break;
    reply.append(buf, static_cast<std::size_t>(k));
  }
  reply = std::string(trim(reply));
  if (reply.rfind("ok ", 0) == 0) return static_cast<pid_t>(parse_int(reply.substr(3), "process pid"));
  // No "ok": the shim has exited, or is about to.
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
  waited = true;
  if (reply.rfind("error ", 0) == 0) throw Error(reply.substr(6));
  if (WIFEXITED(st) && WEXITSTATUS(st) == 127) throw Error(what + ": cannot execute " + opts_.shim);
  std::string shim_log;
  try {
    shim_log = std::string(trim(read_file(state_dir + "/shim.log")));
  } catch (...) {
  }
  throw Error(what + ": the shim exited without reporting" + (shim_log.empty() ? "" : ": " + shim_log));
}

bool ContainerManager::start(const std::string& ref) {
  auto e = get(ref);
  std::unique_lock lk(e->mu);
  if (e->removed) throw NotFound("No such container: " + ref);
  if (running_state(e->rec.state) || e->rec.state == ContainerState::Restarting) return false;
  if (e->monitor.joinable()) {  // the previous run's monitor is finishing
    auto t = std::move(e->monitor);
    lk.unlock();
    t.join();
    lk.lock();
    if (e->removed) throw NotFound("No such container: " + ref);
    if (running_state(e->rec.state) || e->rec.state == ContainerState::Restarting) return false;
  }
  // A start by the user: restart policies apply again, from a count of zero.
  e->rec.manually_stopped = false;
  e->rec.restart_count = 0;
  e->restart_delay_ms = 0;
  UniqueFd wfd = run_container(*e);
  start_monitor(e, std::move(wfd));
  ContainerRecord copy = e->rec;
  lk.unlock();
  event(copy, "start");
  return true;
}

UniqueFd ContainerManager::run_container(Entry& e) {
  ContainerRecord& r = e.rec;
  long long t0 = monotonic_ms();
  RootfsLayout layout{e.dir, r.layer_paths, r.snapshot_mode == "copy", r.volatile_upper, init_layers_dir()};
  mount_rootfs(layout);
  long long t_mount = monotonic_ms();
  long long t_spec = 0;
  RootfsGuard guard(layout.rootfs());
  try {
    // Leftovers of a start that a crash of the engine interrupted: its shim, the runtime's state.
    stop_stray_shim(e.state_dir);
    if (path_exists(opts_.runtime_root + "/" + r.id)) runtime_cmd({"delete", "--force", r.id}, false);
    // The bundle: exec_root/<id>/config.json; state files of the last run go.
    mkdir_all(e.state_dir, 0700);
    for (const char* f : {"exit.json", "attach.sock", "shim.pid", "init.pid", "console.sock"})
      ::unlink((e.state_dir + "/" + f).c_str());
    std::string spec_text = opts_.spec_builder ? opts_.spec_builder(r, layout.rootfs()) : r.oci_spec_json;
    if (spec_text.empty()) throw InvalidArgument("container " + r.id + " has no OCI spec");
    json spec = json::parse(spec_text);
    spec["root"]["path"] = layout.rootfs();
    if (!spec["root"].contains("readonly")) spec["root"]["readonly"] = false;
    spec["process"]["terminal"] = r.tty;
    if (spec.contains("linux") && spec["linux"].contains("cgroupsPath"))
      r.cgroup_path = spec["linux"]["cgroupsPath"].get<std::string>();
    write_file_atomic(e.state_dir + "/config.json", spec.dump(), 0600, false);
    std::vector<std::string> argv = {"--id",        r.id,        "--bundle",   e.state_dir, "--runtime",
                                     opts_.runtime, "--runtime-root", opts_.runtime_root, "--state-dir", e.state_dir,
                                     "--log-path",  r.log_path};
    if (r.tty) argv.push_back("--tty");
    if (r.open_stdin) argv.push_back("--stdin");
    if (e.expect_attach) {
      argv.push_back("--attach-wait");
      argv.push_back("5000");
      e.expect_attach = false;
    }
    std::int64_t max_size = opts_.log_max_size;
    int max_files = 1;
    std::map<std::string, std::string> log_opts;
    json hc = json::parse(r.host_config_json, nullptr, false);
    if (hc.is_object() && hc.contains("LogConfig") && hc["LogConfig"].is_object() &&
        hc["LogConfig"].contains("Config") && hc["LogConfig"]["Config"].is_object())
      for (auto& [k, v] : hc["LogConfig"]["Config"].items())
        if (v.is_string()) log_opts[k] = v.get<std::string>();
    if (log_opts.count("max-size")) max_size = parse_log_max_size(log_opts["max-size"]);
    if (log_opts.count("max-file")) max_files = parse_log_max_file(log_opts["max-file"]);
    if (max_size > 0) {
      argv.push_back("--log-max-size");
      argv.push_back(std::to_string(max_size));
      argv.push_back("--log-max-files");
      argv.push_back(std::to_string(max_files));
    }
    if (log_compress(log_opts, max_size, max_files)) argv.push_back("--log-compress");
    auto given = [&](const char* k) { return log_opts.count(k) ? &log_opts[k] : nullptr; };
    if (auto ring = log_ring_bytes(given("mode"), given("max-buffer-size")); ring >= 0) {
      argv.push_back("--log-buffer");  // mode=non-blocking
      argv.push_back(std::to_string(ring));
    }
    // attrs only for a container that asks for them: no JSON parsed on other starts.
    if (log_opts.count("labels") || log_opts.count("labels-regex") || log_opts.count("env") ||
        log_opts.count("env-regex") || log_opts.count("tag")) {
      LogContainerInfo info{r.id, r.name, r.image_id, r.image, {}, {}};
      json cfg = json::parse(r.config_json, nullptr, false);
      if (cfg.is_object() && cfg.contains("Labels") && cfg["Labels"].is_object())
        for (auto& [k, v] : cfg["Labels"].items())
          if (v.is_string()) info.labels[k] = v.get<std::string>();
      if (cfg.is_object() && cfg.contains("Env") && cfg["Env"].is_array())
        for (auto& v : cfg["Env"])
          if (v.is_string()) info.env.push_back(v.get<std::string>());
      if (auto attrs = log_attrs_json(log_opts, info); !attrs.empty()) {
        argv.push_back("--log-attrs");
        argv.push_back(attrs);
      }
    }
    t_spec = monotonic_ms();
    r.pid = spawn_shim(argv, e.state_dir, "start " + r.id);
  } catch (const std::exception& ex) {
    r.error = ex.what();
    if (opts_.on_stopped) {
      try {
        opts_.on_stopped(r);
      } catch (const std::exception& ex2) {
        log::warn("container " + r.id.substr(0, 12) + ": " + ex2.what());
      }
    }
    try {
      persist(e);
    } catch (...) {
    }
    throw;
  }
  r.state = ContainerState::Running;
  if (!r.health_json.empty()) r.health_json = R"({"Status":"starting","FailingStreak":0,"Log":[]})";
  r.error.clear();
  r.exit_code = 0;
  r.oom_killed = false;
  r.started_at = now_rfc3339();
  long long t_shim = monotonic_ms();
  persist(e);
  e.cv.notify_all();  // wait_started
  guard.release();
  log::debug("start " + r.id.substr(0, 12) + ": rootfs " + std::to_string(t_mount - t0) + " ms, bundle " +
             std::to_string(t_spec - t_mount) + " ms, shim+runtime " + std::to_string(t_shim - t_spec) +
             " ms, record " + std::to_string(monotonic_ms() - t_shim) + " ms");
  UniqueFd wfd;
  try {
    wfd = shim_wait_begin(e.state_dir);
  } catch (...) {
    // Exited (and the shim gone) already: the monitor reads exit.json.
  }
  return wfd;
}

void ContainerManager::start_monitor(const std::shared_ptr<Entry>& e, UniqueFd wait_fd) {
  // Called with e->mu held.
  e->wait_fd = std::move(wait_fd);
  e->monitor = std::thread([this, e] { monitor(e); });
}

void ContainerManager::monitor(std::shared_ptr<Entry> e) {
  for (;;) {
    int fd;
    {
      std::lock_guard lk(e->mu);
      fd = e->wait_fd.get();
    }
    std::optional<ShimExit> ex;
    if (fd >= 0) ex = shim_wait_read(fd);
    if (closing_) return;  // the manager goes away; the shim keeps running
    if (!ex && !read_exit_file(e->state_dir)) {
      // No reply and no exit.json: while the shim lives, the container may too (a wait
      // connection can fail); ask again rather than declare an exit that did not happen.
      pid_t sp = read_shim_pid(e->state_dir);
      if (sp > 0 && !wait_gone(sp, 0)) {
        log::debug("container " + e->rec.id.substr(0, 12) + ": the shim's wait gave no status; waiting again");
        UniqueFd again;
        try {
          again = shim_wait_begin(e->state_dir);
        } catch (...) {
          wait_gone(sp, 100);  // finishing: its socket is gone; exit.json is there or comes
        }
        std::lock_guard lk(e->mu);
        if (again) e->wait_fd = std::move(again);
        else e->wait_fd.reset();
        if (e->wait_fd || !wait_gone(sp, 0)) continue;
      }
    }
    if (!ex) {
      // The shim finished between our connect and its reply, or died. exit.json is written
      // before the shim lets go of anything; give a dying shim a moment.
      pid_t sp = read_shim_pid(e->state_dir);
      for (int i = 0; i < 50 && !(ex = read_exit_file(e->state_dir)); ++i) {
        if (i > 5 && wait_gone(sp, 0)) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        if (closing_) return;
      }
    }
    ContainerRecord copy;
    bool restart = false;
    int delay_ms = 0;
    {
      std::lock_guard lk(e->mu);
      if (!running_state(e->rec.state)) return;
      auto policy = RestartPolicy::from_host_config(e->rec.host_config_json);
      int code = ex ? ex->exit_code : 255;
      restart = !e->removed &&
                policy.should_restart(code, e->rec.manually_stopped, e->rec.restart_count, false);
      if (restart) {
        // Docker's back-off: 100 ms, doubled at each restart up to a minute; a run of 10 s or
        // more starts it over.
        std::int64_t ran_ns = 0;
        try {
          ran_ns = parse_rfc3339_ns(now_rfc3339()) - parse_rfc3339_ns(e->rec.started_at);
        } catch (...) {
        }
        if (ran_ns >= 10'000'000'000LL) e->restart_delay_ms = 0;
        e->restart_delay_ms = e->restart_delay_ms == 0 ? 100 : std::min(e->restart_delay_ms * 2, 60000);
        delay_ms = e->restart_delay_ms;
      }
      auto final_state = restart ? ContainerState::Restarting : ContainerState::Exited;
      if (ex) mark_exited(*e, ex->exit_code, ex->exited_at, ex->oom_killed, "", final_state);
      else mark_exited(*e, 255, now_rfc3339(), false, "the container's shim exited without a status", final_state);
      copy = e->rec;
    }
    event(copy, "die");
    forget_execs(copy.id);  // their processes died with the container
    if (!restart) return;
    {
      std::unique_lock lk(e->mu);
      e->cv.wait_for(lk, std::chrono::milliseconds(delay_ms),
                     [&] { return closing_.load() || e->restart_cancel || e->removed; });
      if (closing_) return;  // the record says Restarting: the next daemon applies the policy
      if (e->restart_cancel || e->removed) {
        e->restart_cancel = false;
        if (!e->removed) {
          e->rec.state = ContainerState::Exited;
          persist(*e);
        }
        e->cv.notify_all();
        return;
      }
      try {
        ++e->rec.restart_count;
        e->wait_fd = run_container(*e);
      } catch (const std::exception& ex2) {
        log::warn("restart " + e->rec.id + ": " + ex2.what());
        e->rec.state = ContainerState::Exited;
        e->rec.error = ex2.what();
        try {
          persist(*e);
        } catch (...) {
        }
        e->cv.notify_all();
        return;
      }
      e->cv.notify_all();
      copy = e->rec;
    }
    event(copy, "start");
  }
}

void ContainerManager::cancel_restart(Entry& e, std::unique_lock<std::mutex>& lk) {
  if (e.rec.state != ContainerState::Restarting) return;
  e.restart_cancel = true;
  e.cv.notify_all();
  if (e.monitor.joinable()) {
    e.cv.wait_for(lk, std::chrono::seconds(30), [&] { return e.rec.state != ContainerState::Restarting; });
  } else {
    // Restored from disk in this state (no monitor waiting).
    e.rec.state = ContainerState::Exited;
    e.restart_cancel = false;
    persist(e);
  }
}

void ContainerManager::cleanup_after_exit(Entry& e) {
  // The shim deletes the runtime's container before it reports the exit; only a shim that died
  // (or a start cut short) leaves the runtime's state behind.
  if (path_exists(opts_.runtime_root + "/" + e.rec.id)) {
    try {
      runtime_cmd({"delete", "--force", e.rec.id}, false);
    } catch (...) {
    }
  }
  try {
    if (e.rec.snapshot_mode != "copy" && e.rootfs_leases == 0) unmount_rootfs(e.dir + "/rootfs");
  } catch (const std::exception& ex) {
    log::warn(std::string("container ") + e.rec.id + ": " + ex.what());
  }
  if (opts_.on_stopped) {
    try {
      opts_.on_stopped(e.rec);
    } catch (const std::exception& ex) {
      log::warn(std::string("container ") + e.rec.id + ": " + ex.what());
    }
  }
}

void ContainerManager::mark_exited(Entry& e, int code, const std::string& at, bool oom, const std::string& error,
                                   ContainerState state) {
  // With e.mu held.
  cleanup_after_exit(e);
  e.rec.state = state;
  if (!e.rec.health_json.empty()) {  // a container that does not run is not healthy (as Docker)
    json h = json::parse(e.rec.health_json, nullptr, false);
    if (h.is_object()) {
      h["Status"] = "unhealthy";
      e.rec.health_json = h.dump();
    }
  }
  e.rec.exit_code = code;
  e.rec.oom_killed = oom;
  e.rec.pid = 0;
  e.rec.finished_at = at.empty() ? now_rfc3339() : at;
  if (!error.empty()) e.rec.error = error;
  try {
    persist(e);
  } catch (const std::exception& ex) {
    log::error(std::string("container ") + e.rec.id + ": " + ex.what());
  }
  ++e.exits;
  e.cv.notify_all();
}

void ContainerManager::kill(const std::string& ref, const std::string& signal) {
  int sig = signal_number(signal);
  auto e = get(ref);
  ContainerRecord copy;
  std::uint64_t exits = 0;
  {
    std::unique_lock lk(e->mu);
    if (e->rec.state == ContainerState::Restarting) {
      // Between two runs: the signal has no process; the restart is called off (as Docker).
      e->rec.manually_stopped = true;
      cancel_restart(*e, lk);
      return;
    }
    if (!running_state(e->rec.state)) throw Conflict("Container " + e->rec.id + " is not running");
    int stop_sig = SIGTERM;
    try {
      stop_sig = signal_number(e->rec.stop_signal);
    } catch (...) {
    }
    if ((sig == SIGKILL || sig == stop_sig) && !e->rec.manually_stopped) {
      e->rec.manually_stopped = true;  // no restart by policy after this exit
      persist(*e);
    }
    exits = e->exits;
    runtime_cmd({"kill", e->rec.id, std::to_string(sig)}, true);
    if (e->rec.state == ContainerState::Paused && sig == SIGKILL) runtime_cmd({"resume", e->rec.id}, false);
    copy = e->rec;
  }
  event(copy, "kill", {{"signal", std::to_string(sig)}});
  if (sig != SIGKILL) return;
  // As dockerd: a SIGKILL is answered once the container has stopped, so an inspect or rm that
  // follows sees it exited.
  std::unique_lock lk(e->mu);
  auto exited = [&] { return e->exits != exits || !running_state(e->rec.state); };
  if (!e->cv.wait_for(lk, std::chrono::seconds(30), exited))
    throw Error("kill " + e->rec.id + ": the container did not exit after SIGKILL");
}

bool ContainerManager::stop(const std::string& ref, std::optional<int> timeout_s) {
  auto e = get(ref);
  std::unique_lock lk(e->mu);
  if (e->rec.state == ContainerState::Restarting) {
    e->rec.manually_stopped = true;
    cancel_restart(*e, lk);
    ContainerRecord copy = e->rec;
    lk.unlock();
    event(copy, "stop");
    return true;
  }
  if (!running_state(e->rec.state)) return false;
  if (!e->rec.manually_stopped) {
    e->rec.manually_stopped = true;  // no restart by policy after this exit
    persist(*e);
  }
  int timeout = timeout_s ? *timeout_s : e->rec.stop_timeout;
  std::uint64_t exits = e->exits;
  auto exited = [&] { return e->exits != exits || !running_state(e->rec.state); };
  int sig = SIGTERM;
  try {
    sig = signal_number(e->rec.stop_signal);
  } catch (...) {
  }
  bool paused = e->rec.state == ContainerState::Paused;
  try {
    runtime_cmd({"kill", e->rec.id, std::to_string(sig)}, true);
    if (paused) runtime_cmd({"resume", e->rec.id}, false);
    event(e->rec, "kill", {{"signal", std::to_string(sig)}});  // as Docker: kill, die, stop
  } catch (const std::exception& ex) {
    log::warn(std::string("stop ") + e->rec.id + ": " + ex.what());
  }
  bool done = timeout < 0 ? (e->cv.wait(lk, exited), true) : e->cv.wait_for(lk, std::chrono::seconds(timeout), exited);
  if (!done) {
    try {
      runtime_cmd({"kill", e->rec.id, std::to_string(SIGKILL)}, true);
      event(e->rec, "kill", {{"signal", std::to_string(SIGKILL)}});
    } catch (const std::exception& ex) {
      log::warn(std::string("stop ") + e->rec.id + ": " + ex.what());
    }
    if (!e->cv.wait_for(lk, std::chrono::seconds(30), exited))
      throw Error("stop " + e->rec.id + ": the container did not exit after SIGKILL");
  }
  ContainerRecord copy = e->rec;
  // The monitor publishes "die" once it has let go of e->mu: let it finish, so that "stop" comes
  // after "die" as with Docker (no restart follows a manual stop, so it ends).
  std::thread t = std::move(e->monitor);
  lk.unlock();
  if (t.joinable()) t.join();
  event(copy, "stop");
  return true;
}

void ContainerManager::pause(const std::string& ref) {
  auto e = get(ref);
  ContainerRecord copy;
  {
    std::lock_guard lk(e->mu);
    if (e->rec.state == ContainerState::Paused) throw Conflict("Container " + e->rec.id + " is already paused");
    if (e->rec.state != ContainerState::Running) throw Conflict("Container " + e->rec.id + " is not running");
    runtime_cmd({"pause", e->rec.id}, true);
    e->rec.state = ContainerState::Paused;
    persist(*e);
    copy = e->rec;
  }
  event(copy, "pause");
}

void ContainerManager::unpause(const std::string& ref) {
  auto e = get(ref);
  ContainerRecord copy;
  {
    std::lock_guard lk(e->mu);
    if (e->rec.state != ContainerState::Paused) throw Conflict("Container " + e->rec.id + " is not paused");
    runtime_cmd({"resume", e->rec.id}, true);
    e->rec.state = ContainerState::Running;
    persist(*e);
    copy = e->rec;
  }
  event(copy, "unpause");
}

void ContainerManager::remove(const std::string& ref, bool force) {
  auto e = get(ref);
  std::unique_lock lk(e->mu);
  if (e->removed) throw NotFound("No such container: " + ref);
  if (e->rec.state == ContainerState::Restarting) {
    if (!force)
      throw Conflict("You cannot remove a restarting container " + e->rec.id +
                     ". Stop the container before attempting removal or force remove");
    e->rec.manually_stopped = true;
    cancel_restart(*e, lk);
  }
  if (running_state(e->rec.state)) {
    if (!force)
      throw Conflict("You cannot remove a " + std::string(state_name(e->rec.state)) + " container " + e->rec.id +
                     ". Stop the container before attempting removal or force remove");
    e->rec.manually_stopped = true;  // no restart by policy
    std::uint64_t exits = e->exits;
    runtime_cmd({"kill", e->rec.id, std::to_string(SIGKILL)}, false);
    if (e->rec.state == ContainerState::Paused) runtime_cmd({"resume", e->rec.id}, false);
    if (!e->cv.wait_for(lk, std::chrono::seconds(30), [&] { return e->exits != exits || !running_state(e->rec.state); }))
      throw Error("remove " + e->rec.id + ": the container did not exit after SIGKILL");
  }
  std::thread t = std::move(e->monitor);
  lk.unlock();
  if (t.joinable()) t.join();
  lk.lock();
  if (e->removed) throw NotFound("No such container: " + ref);
  e->rec.state = ContainerState::Removing;
  // The shim of the last run finishes (runtime delete, the rest of the output to attached
  // clients) in its state dir: let it end before that dir goes; without holding the container,
  // which an attach that the shim is waiting for needs.
  if (pid_t sp = read_shim_pid(e->state_dir); sp > 0 && !wait_gone(sp, 0)) {
    lk.unlock();
    if (!wait_gone(sp, 3000)) {
      std::string shim_log;
      try {
        shim_log = std::string(trim(read_file(e->state_dir + "/shim.log")));
      } catch (...) {
      }
      log::warn("remove " + e->rec.id.substr(0, 12) + ": its shim did not finish within 3 s; killed" +
                (shim_log.empty() ? "" : " (shim log: " + shim_log + ")"));
      ::kill(sp, SIGKILL);
      wait_gone(sp, 1000);
    }
    lk.lock();
    if (e->removed) throw NotFound("No such container: " + ref);
  }
  cleanup_after_exit(*e);
  unmount_rootfs(e->dir + "/rootfs");
  remove_all(e->state_dir);
  remove_all(e->dir);
  e->removed = true;
  e->wait_fd.reset();
  ContainerRecord copy = e->rec;
  {
    std::lock_guard mlk(mu_);
    names_.erase(copy.name);
    ids_.erase(copy.id);
  }
  e->cv.notify_all();
  lk.unlock();
  forget_execs(copy.id);
  event(copy, "destroy");
}

void ContainerManager::update(const std::string& ref,
                              const std::function<std::string(const ContainerRecord&)>& merge) {
  auto e = get(ref);
  std::unique_lock lk(e->mu);
  if (e->removed) throw NotFound("No such container: " + ref);
  const std::string& id = e->rec.id;
  if (e->rec.state == ContainerState::Removing || e->rec.state == ContainerState::Dead)
    throw Conflict("Cannot update container " + id + ": container is marked for removal and cannot be \"update\"");
  std::string host_config;
  try {
    host_config = merge(e->rec);
  } catch (const Conflict& ex) {
    throw Conflict("Cannot update container " + id + ": " + ex.what());
  }
  if (running_state(e->rec.state)) {
    std::string file = e->state_dir + "/update-resources.json";
    write_file_atomic(file, oci_resources(json::parse(host_config)).dump(), 0600, false);
    try {
      runtime_cmd({"update", "--resources", file, id}, true);
    } catch (const std::exception& ex) {
      ::unlink(file.c_str());
      throw Error("Cannot update container " + id + ": " + ex.what());
    }
    ::unlink(file.c_str());
  }
  e->rec.host_config_json = std::move(host_config);
  persist(*e);
  share_host_config(*e);
  ContainerRecord copy = e->rec;
  lk.unlock();
  event(copy, "update");
}

void ContainerManager::set_config(const std::string& ref, const std::string& config_json) {
  auto e = get(ref);
  std::lock_guard lk(e->mu);
  if (e->removed) throw NotFound("No such container: " + ref);
  if (running_state(e->rec.state)) throw Conflict("container " + e->rec.id + " is running");
  e->rec.config_json = config_json;
  persist(*e);
}

void ContainerManager::rename(const std::string& ref, const std::string& new_name_in) {
  std::string name = strip_slash(new_name_in);
  if (!valid_name(name))
    throw InvalidArgument("Invalid container name (" + name + "), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
  auto e = get(ref);
  std::lock_guard lk(e->mu);
  std::string old = e->rec.name;
  if (old == name) throw Conflict("Renaming a container with the same name as its current name");
  {
    std::lock_guard mlk(mu_);
    if (auto it = names_.find(name); it != names_.end())
      throw Conflict("Conflict. The container name \"/" + name + "\" is already in use by container \"" + it->second +
                     "\". You have to remove (or rename) that container to be able to reuse that name.");
    names_[name] = e->rec.id;
  }
  e->rec.name = name;
  try {
    persist(*e);
  } catch (...) {
    e->rec.name = old;
    std::lock_guard mlk(mu_);
    names_.erase(name);
    throw;
  }
  {
    std::lock_guard mlk(mu_);
    names_.erase(old);
  }
  event(e->rec, "rename");
}

int ContainerManager::wait(const std::string& ref, WaitCondition cond, const std::atomic<bool>* cancel) {
  auto e = get(ref);
  std::unique_lock lk(e->mu);
  std::uint64_t exits = e->exits;
  auto done = [&] {
    switch (cond) {
      case WaitCondition::NotRunning: return !running_state(e->rec.state);
      case WaitCondition::NextExit: return e->exits != exits;
      case WaitCondition::Removed: return e->removed;
    }
    return true;
  };
  while (!done()) {
    if (cancel && cancel->load()) throw Error("wait cancelled");
    if (closing_) throw Error("wait cancelled: the engine is shutting down");
    e->cv.wait_for(lk, std::chrono::milliseconds(100));
  }
  return e->rec.exit_code;
}

void ContainerManager::logs(const std::string& ref, const LogReadOptions& opts,
                            const std::function<bool(const LogEntry&)>& sink, const std::atomic<bool>* cancel) {
  auto e = get(ref);
  std::string path;
  {
    std::lock_guard lk(e->mu);
    path = e->rec.log_path;
  }
  read_logs(path, opts, sink,
            [e] {
              std::lock_guard lk(e->mu);
              return running_state(e->rec.state) && !e->removed;
            },
            cancel);
}

TopResult ContainerManager::top(const std::string& ref) {
  auto e = get(ref);
  std::string id;
  {
    std::lock_guard lk(e->mu);
    if (!running_state(e->rec.state)) throw Conflict("Container " + e->rec.id + " is not running");
    id = e->rec.id;
  }
  // The pids from the runtime (the container's cgroup), details from /proc.
  std::vector<std::string> argv = {opts_.runtime, "--root", opts_.runtime_root, "ps", "--format", "json", id};
  std::vector<char*> a;
  for (auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
  a.push_back(nullptr);
  int p[2];
  if (::pipe2(p, O_CLOEXEC) < 0) throw_sys("pipe");
  pid_t pid = ::fork();
  if (pid < 0) throw_sys("fork");
  if (pid == 0) {
    ::dup2(p[1], 1);
    int null = ::open("/dev/null", O_RDWR);
    ::dup2(null, 0);
    ::dup2(null, 2);
    ::execv(a[0], a.data());
    _exit(127);
  }
  ::close(p[1]);
  UniqueFd rd(p[0]);
  std::string out = read_fd(rd.get());
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) throw Error("top " + id + ": runtime ps failed");
  TopResult t;
  t.titles = {"UID", "PID", "PPID", "CMD"};
  json pids = json::parse(out, nullptr, false);
  if (!pids.is_array()) return t;
  for (auto& pj : pids) {
    if (!pj.is_number_integer()) continue;
    std::string ps = std::to_string(pj.get<long long>());
    std::string stat, cmdline, status;
    try {
      stat = read_file("/proc/" + ps + "/stat");
      cmdline = read_file("/proc/" + ps + "/cmdline");
      status = read_file("/proc/" + ps + "/status");
    } catch (...) {
      continue;  // gone meanwhile
    }
    std::string ppid, uid, comm;
    auto rp = stat.rfind(')');
    auto lp = stat.find('(');
    if (lp != std::string::npos && rp != std::string::npos) comm = stat.substr(lp + 1, rp - lp - 1);
    if (rp != std::string::npos) {
      auto f = split(stat.substr(rp + 2), ' ');
      if (f.size() > 1) ppid = f[1];
    }
    auto u = status.find("\nUid:");
    if (u != std::string::npos) {
      auto f = split(std::string(trim(status.substr(u + 5, status.find('\n', u + 1) - u - 5))), '\t');
      if (!f.empty()) uid = f[0];
    }
    for (auto& c : cmdline)
      if (c == '\0') c = ' ';
    std::string cmd(trim(cmdline));
    if (cmd.empty()) cmd = "[" + comm + "]";
    t.processes.push_back({uid, ps, ppid, cmd});
  }
  return t;
}

std::int64_t ContainerManager::writable_size(const std::string& ref) const {
  auto e = get(ref);
  RootfsLayout layout;
  {
    std::lock_guard lk(e->mu);
    layout = RootfsLayout{e->dir, {}, e->rec.snapshot_mode == "copy"};
  }
  return writable_layer_size(layout);
}

ContainerStats ContainerManager::stats(const std::string& ref) {
  auto e = get(ref);
  std::string cg;
  {
    std::lock_guard lk(e->mu);
    cg = e->rec.cgroup_path.empty() ? "/" + e->rec.id : e->rec.cgroup_path;
  }
  return read_cgroup_stats(cg);
}

UniqueFd ContainerManager::attach(const std::string& ref, bool in, bool out, bool err, bool close_stdin,
                                  const std::string& detach_keys) {
  auto e = get(ref);
  bool running;
  {
    std::lock_guard lk(e->mu);
    running = running_state(e->rec.state);
  }
  try {
    AttachRequest r;
    r.in = in;
    r.out = out;
    r.err = err;
    r.close_stdin = close_stdin;
    r.detach_keys = detach_keys;
    return shim_attach(e->state_dir, r);
  } catch (const std::exception&) {
    // A shim that is still there may hold the output of a container that has just exited.
    if (running) throw;
    throw Conflict("You cannot attach to a stopped container, start it first");
  }
}

void ContainerManager::resize(const std::string& ref, unsigned rows, unsigned cols) {
  auto e = get(ref);
  {
    std::lock_guard lk(e->mu);
    if (!running_state(e->rec.state)) throw Conflict("Container " + e->rec.id + " is not running");
  }
  shim_resize(e->state_dir, rows, cols);
}

void ContainerManager::restore() {
  std::string root = opts_.data_root + "/containers";
  DIR* d = ::opendir(root.c_str());
  if (!d) return;
  std::vector<std::string> dirs;
  while (auto* de = ::readdir(d)) {
    std::string n = de->d_name;
    if (n.size() == 64) dirs.push_back(n);
  }
  ::closedir(d);
  {
    // Shared init layers no container links to any more (and a kill -9's temp dirs) go.
    std::vector<std::string> container_dirs;
    for (const std::string& id : dirs) container_dirs.push_back(root + "/" + id);
    collect_init_layers(init_layers_dir(), container_dirs);
  }
  for (auto& id : dirs) {
    auto e = std::make_shared<Entry>();
    e->dir = root + "/" + id;
    e->state_dir = state_dir(id);
    struct stat rst {};
    if (::stat((e->dir + "/config.json").c_str(), &rst) != 0 || rst.st_size == 0) {
      // A create cut short before its record was written (atomically): never acknowledged. An
      // empty record is one written without fsync (a build step's) that the crash cut short.
      try {
        remove_all(e->dir);
      } catch (const std::exception& ex) {
        log::warn(std::string("restore: ") + ex.what());
      }
      continue;
    }
    try {
      e->rec = ContainerRecord::load(e->dir);
    } catch (const std::exception& ex) {
      log::warn(std::string("restore: ") + ex.what());
      continue;
    }
    if (e->rec.id != id) continue;
    {
      std::lock_guard lk(mu_);
      if (ids_.count(id)) continue;
      ids_[id] = e;
      names_[e->rec.name] = id;
      e->shared_host_config = e->rec.host_config_json;
    }
    std::unique_lock lk(e->mu);
    if (e->rec.state == ContainerState::Removing) {
      // A remove that did not finish.
      cleanup_after_exit(*e);
      try {
        remove_all(e->state_dir);
        remove_all(e->dir);
      } catch (...) {
      }
      e->removed = true;
      std::lock_guard mlk(mu_);
      names_.erase(e->rec.name);
      ids_.erase(id);
      continue;
    }
    if (!running_state(e->rec.state)) {
      // A start cut short by a crash after the shim reported but before the record said so: the
      // shim (and container) or runtime state may be left. Neither outlives the restart; the
      // next start begins clean. (A shim that had not reported yet finds the ready pipe closed
      // and tears its container down itself.)
      pid_t sp = read_shim_pid(e->state_dir);
      if ((sp > 0 && !wait_gone(sp, 0)) || path_exists(opts_.runtime_root + "/" + id)) {
        stop_stray_shim(e->state_dir);
        cleanup_after_exit(*e);
      }
      continue;
    }
    // A live shim answers on its socket.
    UniqueFd wfd;
    try {
      ShimStatus st = shim_status(e->state_dir);
      if (st.running) wfd = shim_wait_begin(e->state_dir);
    } catch (...) {
    }
    if (wfd) {
      start_monitor(e, std::move(wfd));
      continue;
    }
    // The shim is gone (or finishing): its exit.json, else unknown.
    pid_t sp = read_shim_pid(e->state_dir);
    std::optional<ShimExit> ex;
    for (int i = 0; i < 30 && !(ex = read_exit_file(e->state_dir)); ++i) {
      if (wait_gone(sp, 0)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (ex) mark_exited(*e, ex->exit_code, ex->exited_at, ex->oom_killed, "");
    else mark_exited(*e, 255, now_rfc3339(), false, "the container's shim was gone when the engine restarted");
  }
  // Restart policies at daemon start: "always" (even after a manual stop), "unless-stopped" and
  // "on-failure" (after a failure) containers that are not running start again.
  std::vector<std::shared_ptr<Entry>> all;
  {
    std::lock_guard lk(mu_);
    for (auto& [id, e] : ids_) all.push_back(e);
  }
  for (auto& e : all) {
    std::unique_lock lk(e->mu);
    auto& r = e->rec;
    if (e->removed || running_state(r.state) || e->monitor.joinable() || is_zero_time(r.started_at)) continue;
    if (r.state == ContainerState::Restarting) {
      r.state = ContainerState::Exited;
      persist(*e);
    }
    if (!RestartPolicy::from_host_config(r.host_config_json).should_restart(r.exit_code, r.manually_stopped,
                                                                           r.restart_count, true))
      continue;
    try {
      UniqueFd wfd = run_container(*e);
      start_monitor(e, std::move(wfd));
    } catch (const std::exception& ex) {
      log::warn("restart " + r.id + " at daemon start: " + ex.what());
      continue;
    }
    ContainerRecord copy = r;
    lk.unlock();
    event(copy, "start");
  }
}

std::optional<ContainerRecord> ContainerManager::wait_started(const std::string& ref, const std::string& prev_started_at,
                                                             int timeout_ms, const std::function<bool()>& cancel) {
  auto e = get(ref);
  std::unique_lock lk(e->mu);
  long long deadline = monotonic_ms() + timeout_ms;
  for (;;) {
    if (e->removed) return std::nullopt;
    auto st = e->rec.state;
    if (st == ContainerState::Running || st == ContainerState::Paused ||
        (st == ContainerState::Exited && e->rec.started_at != prev_started_at))
      return e->rec;
    long long left = deadline - monotonic_ms();
    if (left <= 0 || closing_) return std::nullopt;
    e->cv.wait_for(lk, std::chrono::milliseconds(std::min<long long>(left, 100)));
    if (cancel) {
      lk.unlock();
      bool stop = cancel();
      lk.lock();
      if (stop) return std::nullopt;
    }
  }
}

void ContainerManager::expect_attach(const std::string& ref, bool expected) {
  auto e = get(ref);
  std::lock_guard lk(e->mu);
  e->expect_attach = expected;
}

// ---------- exec

std::shared_ptr<ContainerManager::Exec> ContainerManager::get_exec(const std::string& id) const {
  std::lock_guard lk(mu_);
  auto it = execs_.find(id);
  if (it == execs_.end()) throw NotFound("No such exec instance: " + id);
  return it->second;
}

std::string ContainerManager::exec_create(const std::string& ref, const ExecParams& p) {
  auto e = get(ref);
  ContainerRecord copy;
  auto x = std::make_shared<Exec>();
  {
    std::lock_guard lk(e->mu);
    if (e->rec.state == ContainerState::Paused)
      throw Conflict("Container " + e->rec.id + " is paused, unpause the container before exec");
    if (e->rec.state != ContainerState::Running) throw Conflict("Container " + e->rec.id + " is not running");
    if (p.cmd.empty()) throw InvalidArgument("No exec command specified");
    x->container_id = e->rec.id;
    x->p = p;
    std::lock_guard mlk(mu_);
    do x->id = random_id();
    while (execs_.count(x->id));
    x->state_dir = e->state_dir + "/exec/" + x->id;
    execs_[x->id] = x;
    copy = e->rec;
  }
  event(copy, "exec_create: " + join_cmd(p.cmd), {{"execID", x->id}});
  return x->id;
}

ExecInfo ContainerManager::exec_inspect(const std::string& exec_id) const {
  auto x = get_exec(exec_id);
  std::lock_guard lk(x->mu);
  ExecInfo i;
  i.id = x->id;
  i.container_id = x->container_id;
  i.params = x->p;
  i.started = x->started;
  i.running = x->running;
  i.exit_code = x->exit_code;
  i.pid = x->pid;
  return i;
}

std::vector<std::string> ContainerManager::exec_ids(const std::string& container_id) const {
  std::lock_guard lk(mu_);
  std::vector<std::string> out;
  for (auto& [id, x] : execs_)
    if (x->container_id == container_id) out.push_back(id);
  return out;
}

void ContainerManager::exec_start(const std::string& exec_id, bool attach, unsigned rows, unsigned cols) {
  auto x = get_exec(exec_id);
  std::shared_ptr<Entry> e;
  try {
    e = get(x->container_id);
  } catch (const NotFound&) {
    throw Conflict("Container " + x->container_id + " is not running");
  }
  std::unique_lock xlk(x->mu);
  if (x->started)
    throw Conflict("Error: Exec command " + x->id + (x->running ? " is already running" : " has already run"));
  ContainerRecord rec;
  json process;
  {
    std::lock_guard lk(e->mu);
    if (e->rec.state == ContainerState::Paused)
      throw Conflict("Container " + e->rec.id + " is paused, unpause the container before exec");
    if (e->rec.state != ContainerState::Running) throw Conflict("Container " + e->rec.id + " is not running");
    rec = e->rec;
    json spec = json::parse(read_file(e->state_dir + "/config.json"));
    process = spec.value("process", json::object());
    process.erase("consoleSize");
    if (x->p.tty && rows && cols) process["consoleSize"] = {{"height", rows}, {"width", cols}};
    process["terminal"] = x->p.tty;
    process["args"] = x->p.cmd;
    process["env"] = merge_env(process.value("env", json::array()), json(x->p.env));
    if (!x->p.workdir.empty()) process["cwd"] = x->p.workdir;
    if (!x->p.user.empty()) {
      auto u = resolve_user(spec["root"]["path"].get<std::string>(), x->p.user);
      process["user"] = {{"uid", u.uid}, {"gid", u.gid}, {"additionalGids", u.additional_gids}};
    }
    if (x->p.privileged) {
      auto caps = effective_capabilities(json::array(), json::array(), true);
      process["capabilities"] = {{"bounding", caps}, {"effective", caps}, {"permitted", caps}};
    }
  }
  mkdir_all(x->state_dir, 0700);
  std::string process_file = x->state_dir + "/process.json";
  write_file_atomic(process_file, process.dump(), 0600, false);
  std::vector<std::string> argv = {"--id",        rec.id,        "--exec-process", process_file, "--runtime",
                                   opts_.runtime, "--runtime-root", opts_.runtime_root, "--state-dir", x->state_dir};
  if (x->p.tty) argv.push_back("--tty");
  if (x->p.attach_stdin) argv.push_back("--stdin");
  if (attach) {
    argv.push_back("--attach-wait");
    argv.push_back("5000");
  }
  x->started = true;
  try {
    x->pid = spawn_shim(argv, x->state_dir, "exec " + x->id);
  } catch (...) {
    x->exit_code = 126;
    x->cv.notify_all();
    throw;
  }
  x->running = true;
  try {
    x->wait_fd = shim_wait_begin(x->state_dir);
  } catch (...) {
  }
  int fd = x->wait_fd.get();
  x->waiter = std::thread([this, x, rec, fd] {
    std::optional<ShimExit> ex;
    if (fd >= 0) ex = shim_wait_read(fd);
    if (closing_) return;
    for (int i = 0; !ex && i < 50; ++i) {  // finishing between our connect and its reply
      if ((ex = read_exit_file(x->state_dir))) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    int code = ex ? ex->exit_code : 255;
    {
      std::lock_guard lk(x->mu);
      x->running = false;
      x->exit_code = code;
      x->cv.notify_all();
    }
    event(rec, "exec_die", {{"execID", x->id}, {"exitCode", std::to_string(code)}});
  });
  xlk.unlock();
  event(rec, "exec_start: " + join_cmd(x->p.cmd), {{"execID", x->id}});
}

UniqueFd ContainerManager::exec_attach(const std::string& exec_id, std::optional<bool> raw_stream,
                                       const std::string& detach_keys) {
  auto x = get_exec(exec_id);
  AttachRequest r;
  {
    std::lock_guard lk(x->mu);
    if (!x->started) throw Conflict("exec " + exec_id + " has not been started");
    r.in = x->p.attach_stdin;
    r.out = x->p.attach_stdout;
    r.err = x->p.attach_stderr;
  }
  r.close_stdin = true;
  if (raw_stream) {
    r.mux = !*raw_stream;
    if (*raw_stream) r.err = false;
  }
  r.detach_keys = detach_keys;
  return shim_attach(x->state_dir, r);
}

bool ContainerManager::exec_shim_running(const std::string& exec_id) const {
  auto x = get_exec(exec_id);
  try {
    return shim_status(x->state_dir).running;
  } catch (const std::exception&) {
    return false;  // finished: its socket is gone
  }
}

void ContainerManager::exec_resize(const std::string& exec_id, unsigned rows, unsigned cols) {
  auto x = get_exec(exec_id);
  {
    std::lock_guard lk(x->mu);
    if (!x->running) throw Conflict("exec " + exec_id + " is not running");
  }
  shim_resize(x->state_dir, rows, cols);
}

int ContainerManager::exec_wait(const std::string& exec_id) {
  auto x = get_exec(exec_id);
  std::unique_lock lk(x->mu);
  while (!x->exit_code && !closing_) x->cv.wait_for(lk, std::chrono::milliseconds(200));
  return x->exit_code.value_or(255);
}

void ContainerManager::forget_execs(const std::string& container_id) {
  std::vector<std::shared_ptr<Exec>> gone;
  {
    std::lock_guard lk(mu_);
    for (auto it = execs_.begin(); it != execs_.end();) {
      if (it->second->container_id == container_id) {
        gone.push_back(it->second);
        it = execs_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& x : gone) x->forget();
}

void ContainerManager::exec_forget(const std::string& exec_id) {
  std::shared_ptr<Exec> x;
  {
    std::lock_guard lk(mu_);
    auto it = execs_.find(exec_id);
    if (it == execs_.end()) return;
    x = it->second;
    execs_.erase(it);
  }
  x->forget();
}

bool ContainerManager::set_health(const std::string& id, const std::string& health_json) {
  std::shared_ptr<Entry> e;
  try {
    e = get(id);
  } catch (const NotFound&) {
    return false;
  }
  std::lock_guard lk(e->mu);
  if (e->removed || e->rec.state != ContainerState::Running) return false;
  e->rec.health_json = health_json;
  persist(*e);
  return true;
}

void ContainerManager::set_host_config(const std::string& ref, const std::string& host_config_json) {
  auto e = get(ref);
  std::lock_guard lk(e->mu);
  if (e->removed) throw NotFound("No such container: " + ref);
  std::string before = e->rec.host_config_json;
  e->rec.host_config_json = host_config_json;
  try {
    persist(*e);
  } catch (...) {
    e->rec.host_config_json = before;
    throw;
  }
  share_host_config(*e);
}

void ContainerManager::set_endpoints(const std::string& ref, const std::string& endpoints_json, bool mode_detached) {
  auto e = get(ref);
  std::lock_guard lk(e->mu);
  if (e->removed) throw NotFound("No such container: " + ref);
  std::string before = e->rec.endpoints_json;
  bool detached_before = e->rec.network_mode_detached;
  e->rec.endpoints_json = endpoints_json;
  if (mode_detached) e->rec.network_mode_detached = true;
  try {
    persist(*e);
  } catch (...) {
    e->rec.endpoints_json = before;
    e->rec.network_mode_detached = detached_before;
    throw;
  }
}

}  // namespace hoist::engine

namespace hoist::engine {

ContainerManager::RootfsLease ContainerManager::lease_rootfs(const std::string& ref) {
  auto e = get(ref);
  std::lock_guard lk(e->mu);
  if (e->removed) throw NotFound("No such container: " + ref);
  RootfsLease lease(nullptr);
  RootfsLayout layout{e->dir, e->rec.layer_paths, e->rec.snapshot_mode == "copy", e->rec.volatile_upper,
                      init_layers_dir()};
  // Running (or paused, or between restarts): mounted already. Otherwise mounted here, kept
  // while leased (mount_rootfs keeps a mount that is there).
  bool mounted_here = !running_state(e->rec.state) && e->rootfs_leases == 0 && !layout.copy;
  if (!running_state(e->rec.state)) mount_rootfs(layout);
  lease.fd_ = UniqueFd(::open(layout.rootfs().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!lease.fd_) {
    int err = errno;
    if (mounted_here) unmount_rootfs(layout.rootfs());
    throw SysError("open", layout.rootfs(), err);
  }
  lease.rec_ = e->rec;
  lease.dir_ = e->dir;
  ++e->rootfs_leases;
  lease.e_ = e;  // from here the destructor gives the lease back (with e->mu free again)
  return lease;
}

ContainerManager::RootfsLease::~RootfsLease() {
  if (!e_) return;
  fd_.reset();
  std::lock_guard lk(e_->mu);
  if (--e_->rootfs_leases > 0 || e_->removed || e_->rec.snapshot_mode == "copy") return;
  if (running_state(e_->rec.state)) return;
  try {
    unmount_rootfs(e_->dir + "/rootfs");
  } catch (const std::exception& ex) {
    log::warn("container " + e_->rec.id.substr(0, 12) + ": " + ex.what());
  }
}

}  // namespace hoist::engine
