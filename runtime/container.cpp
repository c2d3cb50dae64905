#include "runtime/container.h"

#include <algorithm>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/error.h"
#include "common/signals.h"
#include "common/file.h"
#include "common/log.h"
#include "common/strings.h"
#include "runtime/cgroups/cgroups.h"
#include "runtime/hooks.h"
#include "runtime/init.h"
#include "runtime/namespaces.h"
#include "runtime/process.h"
#include "runtime/state.h"
#include "runtime/sync.h"
#include "runtime/terminal.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

namespace hoist::runtime {
namespace {

using nlohmann::json;

std::string abs_path(const std::string& p) {
  char buf[PATH_MAX];
  if (!::realpath(p.c_str(), buf)) throw_sys("resolve path", p);
  return buf;
}

// A unix socket path that fits sun_path even under a long --root: go through the dir fd.
struct SockAddr {
  struct sockaddr_un addr{};
  UniqueFd dirfd;
  SockAddr(const std::string& dir, const char* name) {
    addr.sun_family = AF_UNIX;
    std::string p = dir + "/" + name;
    if (p.size() >= sizeof addr.sun_path) {
      dirfd = open_file(dir, O_PATH | O_DIRECTORY);
      p = "/proc/self/fd/" + std::to_string(dirfd.get()) + "/" + name;
    }
    std::memcpy(addr.sun_path, p.c_str(), p.size() + 1);
  }
  const struct sockaddr* get() const { return reinterpret_cast<const struct sockaddr*>(&addr); }
};

void write_id_maps(pid_t pid, const oci::Linux& l) {
  auto fmt = [](const std::vector<oci::IdMapping>& m) {
    std::string s;
    for (auto& x : m) s += std::to_string(x.container_id) + " " + std::to_string(x.host_id) + " " + std::to_string(x.size) + "\n";
    return s;
  };
  std::string base = "/proc/" + std::to_string(pid);
  if (!l.uid_mappings.empty()) write_file(base + "/uid_map", fmt(l.uid_mappings));
  if (!l.gid_mappings.empty()) write_file(base + "/gid_map", fmt(l.gid_mappings));
}

void write_pid_file(const std::string& path, pid_t pid) {
  if (path.empty()) return;
  std::string p = path[0] == '/' ? path : abs_path(".") + "/" + path;
  write_file_atomic(p, std::to_string(pid), 0644, /*durable=*/false);
}

std::unique_ptr<cgroups::Manager> open_cgroup(const ContainerState& s) {
  return cgroups::open(cgroups::Layout::detect(), s.cgroup_path);
}

// Waits up to timeout_ms for a process (not necessarily our child) to exit.
bool wait_gone(pid_t pid, unsigned long long start, int timeout_ms) {
  int pfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pfd >= 0) {
    UniqueFd g(pfd);
    if (process_start_time(pid) != start) return true;
    struct pollfd p{pfd, POLLIN, 0};
    int r;
    do r = ::poll(&p, 1, timeout_ms);
    while (r < 0 && errno == EINTR);
    return r > 0;
  }
  long long end = monotonic_ms() + timeout_ms;
  while (monotonic_ms() < end) {
    if (process_start_time(pid) != start) return true;
    ::usleep(1000);
  }
  return process_start_time(pid) != start;
}

// Sends a signal to the recorded init process, refusing a reused pid.
void signal_init(const ContainerState& s, int sig) {
  int pfd = static_cast<int>(::syscall(SYS_pidfd_open, s.pid, 0));
  if (pfd < 0) {
    if (errno == ESRCH) return;
    throw_sys("pidfd_open", std::to_string(s.pid));
  }
  UniqueFd g(pfd);
  if (process_start_time(s.pid) != s.pid_start) return;
  if (::syscall(SYS_pidfd_send_signal, pfd, sig, nullptr, 0) != 0 && errno != ESRCH)
    throw_sys("kill", "pid " + std::to_string(s.pid) + " signal " + std::to_string(sig));
}

std::string saved_config_path(const StateStore& store, const std::string& id) { return store.dir(id) + "/config.json"; }

oci::Spec saved_spec(const StateStore& store, const ContainerState& s) {
  return oci::parse_spec(read_file(saved_config_path(store, s.id)), s.bundle);
}

// The spec's device rules, then what every container needs (as runc allows): mknod of anything,
// the standard character devices, ptys, tun, and the devices listed in linux.devices. A config
// without device rules leaves device access alone (on cgroup v2 a rule list means a filter).
oci::Resources with_default_devices(const oci::Linux& l) {
  oci::Resources r = *l.resources;
  if (r.devices.empty()) return r;
  auto allow = [&](const char* type, std::optional<int64_t> major, std::optional<int64_t> minor, const char* access) {
    r.devices.push_back(oci::DeviceRule{true, type, major, minor, access});
  };
  allow("c", std::nullopt, std::nullopt, "m");
  allow("b", std::nullopt, std::nullopt, "m");
  for (auto [maj, min] : {std::pair{1, 3}, {1, 5}, {1, 7}, {1, 8}, {1, 9}, {5, 0}, {5, 1}, {5, 2}, {10, 200}})
    allow("c", maj, min, "rwm");
  allow("c", 136, std::nullopt, "rwm");
  for (auto& d : l.devices)
    if (d.type == "c" || d.type == "b" || d.type == "u") allow(d.type == "b" ? "b" : "c", d.major, d.minor, "rwm");
  return r;
}

// ---------------------------------------------------------------------------------------
// create: everything up to a container waiting for `start`.

struct Launched {
  ContainerState state;
  oci::Hooks hooks;     // for `run`: poststart and poststop without reading the config again
  UniqueFd pty_master;  // foreground run with a terminal
};

class CreateGuard {
 public:
  CreateGuard(const StateStore& store, std::string id) : store_(store), id_(std::move(id)) {}
  ~CreateGuard() {
    if (done_) return;
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (cg_) {
      try {
        cg_->kill_all(SIGKILL);
        cg_->destroy();
      } catch (const std::exception& e) {
        log::warn(e.what());
      }
    }
    try {
      store_.remove(id_);
    } catch (const std::exception& e) {
      log::warn(e.what());
    }
  }
  void set_pid(pid_t p) { pid_ = p; }
  void set_cgroup(cgroups::Manager* m) { cg_ = m; }
  void commit() { done_ = true; }

 private:
  const StateStore& store_;
  std::string id_;
  pid_t pid_ = -1;
  cgroups::Manager* cg_ = nullptr;
  bool done_ = false;
};

Launched launch(const GlobalOptions& g, const CreateOptions& o, bool foreground) {
  validate_id(o.id);
  std::string bundle = abs_path(o.bundle);
  std::string config_text;
  try {
    config_text = read_file(bundle + "/config.json");
  } catch (const Error& e) {
    throw Error(std::string("load config: ") + e.what());
  }
  oci::Spec spec = oci::parse_spec(config_text, bundle);
  if (!spec.process) throw Error("config: process: is required to create a container");
  std::string rootfs = abs_path(spec.root->path);

  StateStore store(g.root);
  store.create_dir(o.id);
  std::unique_ptr<cgroups::Manager> cg;  // outlives the guard, which may need it
  CreateGuard guard(store, o.id);
  write_file(saved_config_path(store, o.id), config_text, O_CREAT);

  ContainerState st;
  st.id = o.id;
  st.bundle = bundle;
  st.rootfs = rootfs;
  st.created = now_rfc3339();
  st.owner = ::geteuid();
  st.annotations = spec.annotations;
  st.systemd_cgroup = g.systemd_cgroup;

  // The socket `start` connects to.
  int ls = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (ls < 0) throw_sys("socket", "start");
  UniqueFd listener(ls);
  {
    SockAddr sa(store.dir(o.id), "start.sock");
    if (::bind(ls, sa.get(), sizeof sa.addr) != 0) throw_sys("bind", store.dir(o.id) + "/start.sock");
  }
  if (::listen(ls, 4) != 0) throw_sys("listen", store.dir(o.id) + "/start.sock");

  UniqueFd console;
  bool pty_to_parent = false;
  if (spec.process->terminal) {
    if (!o.console_socket.empty()) console = connect_unix(o.console_socket);
    else if (foreground) pty_to_parent = true;
    else throw Error("process.terminal is true: a --console-socket is required to create the container");
  }

  int new_flags = new_ns_flags(spec);
  auto joins = open_ns_paths(spec);
  // A network namespace joined by path alone (an engine's prepared sandbox) needs no
  // intermediate process: the runtime enters it just for the clone and comes back, so the init
  // is born in it (a process of its own later, ~5 ms less per start).
  bool net_only = !joins.empty() && std::all_of(joins.begin(), joins.end(), [](const NsJoin& j) {
    return j.flag == CLONE_NEWNET;
  });
  bool two_step = (!joins.empty() && !net_only) || (new_flags & CLONE_NEWTIME);

  SyncChannel parent_ch, child_ch;
  SyncChannel::make_pair(parent_ch, child_ch);
  cgroups::Layout layout = cgroups::Layout::detect();
  st.cgroup_path = cgroups::resolve_path(spec.linux ? spec.linux->cgroups_path : "", o.id, g.systemd_cgroup);
  InitParams ip;
  ip.config_text = config_text;
  ip.bundle = bundle;
  ip.id = o.id;
  ip.rootfs = rootfs;
  ip.no_pivot = o.no_pivot;
  ip.no_new_keyring = o.no_new_keyring;
  ip.preserve_fds = o.preserve_fds;
  ip.start_listener = ls;
  ip.console_fd = console.get();
  ip.pty_to_parent = pty_to_parent;
  ip.layout = layout;
  ip.cgroup_path = st.cgroup_path;
  ip.new_flags = new_flags;
  ip.seccomp_cache = g.root + "/seccomp-cache";
  bool userns = spec.has_namespace("user");
  auto become_init = [&]() { exec_init(child_ch, new_flags, userns, {ls, console.get()}); };

  // The cgroup exists before the clone, so that the child is born in its cgroup2 directory: a
  // move would cost an RCU grace period (see cgroups::Manager::add_pid_to). The limits are
  // written below, while the init re-executes and mounts.
  cg = cgroups::open(layout, st.cgroup_path);
  cg->create();
  guard.set_cgroup(cg.get());
  UniqueFd cg_v2 = cg->open_v2();
  bool born_in_v2 = false;

  // Namespaces we create at clone time. The cgroup namespace waits until the cgroup is joined;
  // the time namespace (and anything joined by path) needs the two-step path.
  int clone_flags = new_flags & ~(CLONE_NEWCGROUP | CLONE_NEWTIME);
  pid_t child;
  if (!two_step) {
    UniqueFd own_net;
    if (!joins.empty()) {  // net_only
      own_net = UniqueFd(::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
      if (!own_net) throw_sys("open", "/proc/self/ns/net");
      if (::setns(joins.front().fd.get(), CLONE_NEWNET) != 0) throw_sys("setns", joins.front().path);
    }
    child = clone_child(clone_flags, cg_v2.get(), &born_in_v2);
    if (child == 0) {
      parent_ch.close();
      become_init();
    }
    int clone_errno = errno;
    // Back in the runtime's own namespace before anything else (hooks run there).
    if (own_net && ::setns(own_net.get(), CLONE_NEWNET) != 0) {
      if (child > 0) ::kill(child, SIGKILL);
      throw_sys("setns", "/proc/self/ns/net (back to the runtime's own)");
    }
    if (child < 0) throw_sys("clone", "container init", clone_errno);
  } else {
    // Intermediate process: join namespaces by path, unshare the new ones, fork the init (which
    // is born in the intermediate's cgroups).
    child = clone_child(0, cg_v2.get(), &born_in_v2);
    if (child < 0) throw_sys("fork", "container init");
    if (child == 0) {
      parent_ch.close();
      try {
        join_namespaces(joins);
        int unshare_flags = new_flags & ~CLONE_NEWCGROUP;
        if (unshare_flags && ::unshare(unshare_flags) != 0) throw_sys("unshare", "namespaces");
        if (new_flags & CLONE_NEWUSER) {
          child_ch.send(SyncType::Pid, std::to_string(::getpid()));
          child_ch.expect(SyncType::Go);
        }
        if (new_flags & CLONE_NEWTIME) {
          std::string offs;
          for (auto& [clock, off] : spec.linux->time_offsets)
            offs += clock + " " + std::to_string(off.secs) + " " + std::to_string(off.nanosecs) + "\n";
          if (!offs.empty()) write_file("/proc/self/timens_offsets", offs);
        }
        pid_t init = ::fork();
        if (init < 0) throw_sys("fork", "container init");
        if (init == 0) become_init();
        child_ch.send(SyncType::Pid, std::to_string(init));
        _exit(0);
      } catch (const std::exception& e) {
        try {
          child_ch.send(SyncType::Err, e.what());
        } catch (...) {
        }
        _exit(1);
      }
    }
  }
  guard.set_pid(child);
  child_ch.close();
  console.reset();

  pid_t init_pid = child;
  if (two_step) {
    if (new_flags & CLONE_NEWUSER) {
      parent_ch.expect(SyncType::Pid);
      write_id_maps(child, *spec.linux);
      parent_ch.send(SyncType::Go);
    }
    init_pid = static_cast<pid_t>(parse_int(parent_ch.expect(SyncType::Pid).payload, "pid"));
    int status;
    ::waitpid(child, &status, 0);
    guard.set_pid(init_pid);
  } else if (new_flags & CLONE_NEWUSER) {
    write_id_maps(init_pid, *spec.linux);
  }
  parent_ch.send(SyncType::Go);
  parent_ch.send(SyncType::Init, ip.serialize());

  // The limits, while the init re-executes and mounts; it waits for Joined only where it needs
  // the cgroup (its cgroup mount and namespace). An init in the host's user namespace moves
  // itself into the v1 hierarchies, which costs no grace period. One in a user namespace of its
  // own cannot write the host's cgroup files, and one in a mount namespace joined by path may
  // not see them: those are moved.
  if (spec.linux && spec.linux->resources) cg->apply(with_default_devices(*spec.linux));
  bool init_joins_v1 = !userns && std::none_of(joins.begin(), joins.end(), [](const NsJoin& j) {
    return j.flag == CLONE_NEWNS;
  });
  cg->add_pid_to(init_pid, !init_joins_v1, !born_in_v2);
  parent_ch.send(SyncType::Joined, init_joins_v1 ? kJoinYourself : "");

  // Recorded while still creating, so that a `create` killed from here on leaves a container
  // that `delete` can find and clean up (its init, its cgroup).
  st.pid = init_pid;
  st.pid_start = process_start_time(init_pid);
  st.creating = true;
  store.save(st);
  parent_ch.expect(SyncType::Hooks);
  // The state these hooks see says "created", as the runtime-tools suite and crun have it: the
  // container exists and its process waits, though `create` has not returned yet.
  std::string created = state_json(st, Status::Created);
  if (spec.hooks) {
    run_hooks(spec.hooks->prestart, "prestart", created);
    run_hooks(spec.hooks->create_runtime, "createRuntime", created);
  }
  parent_ch.send(SyncType::HooksDone, created);
  Launched out;
  if (pty_to_parent) out.pty_master = std::move(parent_ch.expect(SyncType::Pty).fd);
  parent_ch.expect(SyncType::Ready);
  st.creating = false;
  store.save(st);
  write_pid_file(o.pid_file, init_pid);
  guard.commit();
  out.state = st;
  if (spec.hooks) out.hooks = *spec.hooks;
  return out;
}

void do_start(const StateStore& store, const ContainerState& s) {
  Status cur = current_status(store, s);
  if (cur != Status::Created)
    throw Error("cannot start container " + s.id + ": it is " + status_name(cur) + ", not created");
  int fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd < 0) throw_sys("socket");
  UniqueFd sock(fd);
  SockAddr sa(store.dir(s.id), "start.sock");
  if (::connect(fd, sa.get(), sizeof sa.addr) != 0) throw_sys("connect", store.dir(s.id) + "/start.sock");
  send_fd(fd, -1, state_json(s, Status::Created));
  std::string reply;
  recv_fd(fd, &reply);
  ::unlink((store.dir(s.id) + "/start.sock").c_str());
  // EOF without a message: the connection was closed by the execve (it is close-on-exec).
  if (!reply.empty()) throw Error(reply);
}

// The hooks of a container from the config saved at create (none if it cannot be read).
oci::Hooks saved_hooks(const StateStore& store, const ContainerState& s) {
  try {
    return saved_spec(store, s).hooks.value_or(oci::Hooks{});
  } catch (const Error& e) {
    log::warn(e.what());
    return {};
  }
}

void run_poststart(const oci::Hooks& hooks, const ContainerState& s) {
  if (!hooks.poststart.empty()) run_hooks_warn(hooks.poststart, "poststart", state_json(s, Status::Running));
}

// Kills what is left, removes the cgroup, runs poststop hooks, forgets the container.
void destroy(const StateStore& store, const ContainerState& s, const oci::Hooks& hooks) {
  auto cg = open_cgroup(s);
  if (cg->exists()) {
    if (cg->frozen()) cg->freeze(false);
    cg->kill_all(SIGKILL);
  }
  if (process_start_time(s.pid) == s.pid_start) {
    signal_init(s, SIGKILL);
    wait_gone(s.pid, s.pid_start, 5000);
  }
  cg->destroy();
  if (!hooks.poststop.empty()) run_hooks_warn(hooks.poststop, "poststop", state_json(s, Status::Stopped));
  store.remove(s.id);
}

}  // namespace

int cmd_create(const GlobalOptions& g, const CreateOptions& o) {
  launch(g, o, false);
  return 0;
}

int cmd_start(const GlobalOptions& g, const std::string& id) {
  StateStore store(g.root);
  ContainerState s = store.load(id);
  do_start(store, s);
  run_poststart(saved_hooks(store, s), s);
  return 0;
}

int cmd_run(const GlobalOptions& g, const CreateOptions& o, bool detach, bool keep) {
  StateStore store(g.root);
  if (!detach) {
    ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    block_forwarded_signals();
  }
  Launched l = launch(g, o, !detach);
  try {
    do_start(store, l.state);
  } catch (...) {
    destroy(store, l.state, l.hooks);
    throw;
  }
  run_poststart(l.hooks, l.state);
  if (detach) return 0;
  int code = foreground_wait(l.state.pid, l.pty_master.get());
  if (!keep) destroy(store, l.state, l.hooks);
  return code;
}

int cmd_state(const GlobalOptions& g, const std::string& id) {
  StateStore store(g.root);
  ContainerState s = store.load(id);
  std::cout << state_json(s, current_status(store, s), true) << "\n";
  return 0;
}

int cmd_kill(const GlobalOptions& g, const std::string& id, const std::string& signal, bool all) {
  int sig = parse_signal(signal);
  StateStore store(g.root);
  ContainerState s = store.load(id);
  Status st = current_status(store, s);
  if (st == Status::Stopped && !all) throw Error("container " + id + " is not running");
  if (all) {
    auto cg = open_cgroup(s);
    if (cg->exists()) cg->kill_all(sig);
  } else {
    signal_init(s, sig);
  }
  return 0;
}

int cmd_delete(const GlobalOptions& g, const std::string& id, bool force) {
  StateStore store(g.root);
  ContainerState s;
  try {
    s = store.load(id);
  } catch (const Error&) {
    if (force) return 0;
    throw;
  }
  Status st = current_status(store, s);
  if ((st == Status::Running || st == Status::Paused) && !force)
    throw Error("cannot delete container " + id + " that is not stopped: " + status_name(st));
  destroy(store, s, saved_hooks(store, s));
  return 0;
}

int cmd_pause(const GlobalOptions& g, const std::string& id, bool pause) {
  StateStore store(g.root);
  ContainerState s = store.load(id);
  Status st = current_status(store, s);
  if (pause && st != Status::Running) throw Error("cannot pause container " + id + ": it is " + status_name(st));
  if (!pause && st != Status::Paused) throw Error("cannot resume container " + id + ": it is " + status_name(st) + ", not paused");
  open_cgroup(s)->freeze(pause);
  return 0;
}

int cmd_ps(const GlobalOptions& g, const std::string& id, const std::string& format, const std::vector<std::string>& ps_args) {
  StateStore store(g.root);
  ContainerState s = store.load(id);
  auto pids = open_cgroup(s)->pids();
  if (format == "json") {
    std::cout << json(pids).dump() << "\n";
    return 0;
  }
  if (format != "table") throw Error("invalid format \"" + format + "\": want table or json");
  std::string cmd = "ps " + (ps_args.empty() ? std::string("-ef") : join(ps_args, " "));
  FILE* f = ::popen(cmd.c_str(), "r");
  if (!f) throw_sys("run", cmd);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  if (::pclose(f) != 0) throw Error("ps: " + cmd + " failed");
  auto lines = split(out, '\n');
  if (lines.empty()) return 0;
  auto header = split(lines[0], ' ');
  int col = -1, i = 0;
  for (auto& h : header) {
    if (h.empty()) continue;
    if (h == "PID") col = i;
    ++i;
  }
  if (col < 0) throw Error("ps: no PID column in the output of " + cmd);
  std::cout << lines[0] << "\n";
  for (size_t k = 1; k < lines.size(); ++k) {
    std::vector<std::string> fields;
    for (auto& w : split(lines[k], ' '))
      if (!w.empty()) fields.push_back(w);
    if (static_cast<int>(fields.size()) <= col) continue;
    pid_t p = static_cast<pid_t>(std::atoi(fields[static_cast<size_t>(col)].c_str()));
    if (std::find(pids.begin(), pids.end(), p) != pids.end()) std::cout << lines[k] << "\n";
  }
  return 0;
}

int cmd_list(const GlobalOptions& g, const std::string& format, bool quiet) {
  StateStore store(g.root);
  json arr = json::array();
  std::vector<std::vector<std::string>> rows{{"ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"}};
  for (auto& id : store.list()) {
    ContainerState s;
    try {
      s = store.load(id);
    } catch (const Error& e) {
      log::warn(e.what());
      continue;
    }
    Status st = current_status(store, s);
    if (quiet) {
      std::cout << id << "\n";
      continue;
    }
    json j = json::parse(state_json(s, st));
    arr.push_back(j);
    rows.push_back({id, std::to_string(st == Status::Stopped ? 0 : s.pid), status_name(st), s.bundle, s.created,
                    j["owner"].get<std::string>()});
  }
  if (quiet) return 0;
  if (format == "json") {
    std::cout << arr.dump() << "\n";
    return 0;
  }
  if (format != "table") throw Error("invalid format \"" + format + "\": want table or json");
  std::vector<size_t> w(rows[0].size(), 0);
  for (auto& r : rows)
    for (size_t i = 0; i < r.size(); ++i) w[i] = std::max(w[i], r[i].size());
  for (auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(w[i] - r[i].size() + 4, ' ');
    }
    std::cout << line << "\n";
  }
  return 0;
}

int cmd_exec(const GlobalOptions& g, const ExecOptions2& o) {
  StateStore store(g.root);
  ContainerState s = store.load(o.id);
  Status st = current_status(store, s);
  if (st == Status::Stopped) throw Error("cannot exec in a stopped container " + o.id);
  if (st == Status::Paused && !o.ignore_paused) throw Error("cannot exec in a paused container " + o.id);
  oci::Spec spec = saved_spec(store, s);

  oci::Process proc;
  if (!o.process_file.empty()) {
    proc = oci::parse_process(read_file(o.process_file));
  } else {
    proc = *spec.process;
    proc.args = o.args;
    if (proc.args.empty()) throw Error("exec: no command given");
    proc.terminal = o.tty;
    proc.console_size.reset();
    for (auto& e : o.env) proc.env.push_back(e);
    if (!o.cwd.empty()) proc.cwd = o.cwd;
    if (!o.user.empty()) {
      auto parts = split(o.user, ':');
      proc.user.uid = static_cast<uid_t>(parse_int(parts[0], "user"));
      proc.user.gid = parts.size() > 1 ? static_cast<gid_t>(parse_int(parts[1], "group")) : 0;
    }
    if (!o.additional_gids.empty()) proc.user.additional_gids.assign(o.additional_gids.begin(), o.additional_gids.end());
    if (o.no_new_privs) proc.no_new_privileges = true;
    if (!o.caps.empty()) {
      if (!proc.capabilities) proc.capabilities.emplace();
      for (auto* set : {&proc.capabilities->bounding, &proc.capabilities->effective, &proc.capabilities->permitted,
                        &proc.capabilities->inheritable, &proc.capabilities->ambient})
        for (auto& c : o.caps) set->push_back(c);
    }
  }
  UniqueFd console;
  bool pty_to_parent = false;
  if (proc.terminal) {
    if (!o.console_socket.empty()) console = connect_unix(o.console_socket);
    else if (!o.detach) pty_to_parent = true;
    else throw Error("exec: a terminal in detached mode needs --console-socket");
  }

  auto nss = open_process_namespaces(s.pid);
  // pid and time namespaces apply to children: join them here, before the fork.
  for (auto& n : nss)
    if ((n.flag == CLONE_NEWPID || n.flag == CLONE_NEWTIME) && ::setns(n.fd.get(), n.flag) != 0)
      throw_sys("setns", n.path);
  if (!o.detach) block_forwarded_signals();

  SyncChannel parent_ch, child_ch;
  SyncChannel::make_pair(parent_ch, child_ch);
  int ep[2];
  if (::pipe2(ep, O_CLOEXEC) != 0) throw_sys("pipe");
  UniqueFd err_rd(ep[0]), err_wr(ep[1]);
  // The process is born in the container's cgroup2 directory and moves itself into the v1
  // hierarchies, before it enters the container's mount and user namespaces: neither costs the
  // RCU grace period that moving it from here would (see cgroups::Manager::add_pid_to).
  auto cg = open_cgroup(s);
  UniqueFd cg_v2 = cg->open_v2();
  bool born_in_v2 = false;
  pid_t pid = clone_child(0, cg_v2.get(), &born_in_v2);
  if (pid < 0) throw_sys("fork", "exec process");
  if (pid == 0) {
    parent_ch.close();
    err_rd.reset();
    try {
      cg->join_self_v1();
      for (auto& n : nss)
        if (n.flag != CLONE_NEWPID && n.flag != CLONE_NEWTIME && ::setns(n.fd.get(), n.flag) != 0)
          throw_sys("setns", n.path);
      nss.clear();
      child_ch.expect(SyncType::Go);
      if (proc.terminal) {
        Pty pty = open_pty();
        if (proc.console_size) set_winsize(pty.master.get(), proc.console_size->height, proc.console_size->width);
        if (console) send_fd(console.get(), pty.master.get(), "hoist-console");
        if (pty_to_parent) child_ch.send(SyncType::Pty, {}, pty.master.get());
        pty.master.reset();
        attach_to_tty(pty.slave.get());
      }
      console.reset();
      child_ch.close();
      if (proc.oom_score_adj) apply_oom_score_adj(*proc.oom_score_adj);
      ExecOptions eo;
      eo.process = &proc;
      eo.seccomp = spec.linux && spec.linux->seccomp ? &*spec.linux->seccomp : nullptr;
      eo.preserve_fds = o.preserve_fds;
      eo.state_json = state_json(s, Status::Running);
      finalize_and_exec(eo);
    } catch (const std::exception& e) {
      std::string m = e.what();
      ssize_t r = ::write(err_wr.get(), m.data(), m.size());
      (void)r;
    }
    _exit(255);
  }
  child_ch.close();
  err_wr.reset();
  console.reset();
  try {
    cg->add_pid_to(pid, false, !born_in_v2);
    parent_ch.send(SyncType::Go);
  } catch (...) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    throw;
  }
  UniqueFd master;
  if (pty_to_parent) {
    try {
      master = std::move(parent_ch.expect(SyncType::Pty).fd);
    } catch (const Error&) {
      // fall through to the error pipe for the real reason
    }
  }
  std::string err = read_fd(err_rd.get());
  if (!err.empty()) {
    ::waitpid(pid, nullptr, 0);
    throw Error(err);
  }
  write_pid_file(o.pid_file, pid);
  if (o.detach) return 0;
  return foreground_wait(pid, master.get());
}

int cmd_update(const GlobalOptions& g, const std::string& id, const std::string& resources_file) {
  StateStore store(g.root);
  ContainerState s = store.load(id);
  std::string text = resources_file == "-" ? read_fd(0) : read_file(resources_file);
  // Reuse the config parser: wrap the resources in a minimal spec.
  std::string wrapped = R"({"ociVersion":"1.1.0","root":{"path":"/"},"linux":{"resources":)" + text + "}}";
  oci::Spec spec = oci::parse_spec(wrapped);
  // New device rules replace the old ones: keep what every container needs after them.
  oci::Linux l = *spec.linux;
  if (!l.resources->devices.empty()) l.devices = saved_spec(store, s).linux.value_or(oci::Linux{}).devices;
  open_cgroup(s)->apply(l.resources->devices.empty() ? *l.resources : with_default_devices(l));
  return 0;
}

}  // namespace hoist::runtime
