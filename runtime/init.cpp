#include "runtime/init.h"

#include <fcntl.h>
#include <limits.h>
#include <linux/keyctl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/file.h"
#include "common/log.h"
#include "runtime/cloned_binary.h"
#include "runtime/hooks.h"
#include "runtime/process.h"
#include "runtime/rootfs.h"
#include "runtime/seccomp.h"
#include "runtime/spec.h"
#include "runtime/terminal.h"

extern char** environ;

namespace hoist::runtime {
namespace {

using nlohmann::json;

[[noreturn]] void init_main(SyncChannel& sync, const InitParams& a) {
  UniqueFd conn;
  try {
    oci::Spec spec = oci::parse_spec(a.config_text, a.bundle);
    bool userns = a.new_flags & CLONE_NEWUSER || spec.has_namespace("user");
    // The runtime writes the cgroup's limits while we mount. The cgroup namespace must wait for
    // the cgroup (its root is our cgroup at unshare time), and so must a cgroup2 mount in it (on
    // v1 the cgroup mounts are binds of the cgroup directories).
    bool joined = false;
    auto wait_joined = [&] {
      if (joined) return;
      if (sync.expect(SyncType::Joined).payload == kJoinYourself) cgroups::open(a.layout, a.cgroup_path)->join_self_v1();
      joined = true;
      if (a.new_flags & CLONE_NEWCGROUP && ::unshare(CLONE_NEWCGROUP) != 0) throw_sys("unshare", "cgroup namespace");
    };
    if (a.layout.is_v2()) wait_joined();
    if (!spec.hostname.empty() && ::sethostname(spec.hostname.data(), spec.hostname.size()) != 0)
      throw_sys("sethostname", spec.hostname);
    if (!spec.domainname.empty() && ::setdomainname(spec.domainname.data(), spec.domainname.size()) != 0)
      throw_sys("setdomainname", spec.domainname);
    if (!a.no_new_keyring) {
      std::string name = "_ses." + a.id;
      ::syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.c_str());
    }
    bool mntns = spec.has_namespace("mount");
    RootfsContext rc;
    rc.spec = &spec;
    rc.rootfs = a.rootfs;
    rc.userns = userns;
    rc.new_cgroupns = a.new_flags & CLONE_NEWCGROUP;
    rc.layout = a.layout;
    rc.cgroup_path = a.cgroup_path;
    rc.before_cgroup_mount = wait_joined;
    if (mntns) prepare_rootfs(rc);
    wait_joined();

    sync.send(SyncType::Hooks);
    std::string state = sync.expect(SyncType::HooksDone).payload;
    if (spec.hooks) run_hooks(spec.hooks->create_container, "createContainer", state);

    // The seccomp program, while the host's file system (the cache) is still in view; compiling
    // it here, at create, also keeps the compile out of the start-to-exec path.
    std::string seccomp_bpf;
    if (spec.linux && spec.linux->seccomp && !a.seccomp_cache.empty())
      seccomp_bpf = SeccompFilter::cached_bpf(*spec.linux->seccomp, a.seccomp_cache);
    if (mntns) {
      enter_rootfs(a.rootfs, a.no_pivot);
    } else {
      if (::chroot(a.rootfs.c_str()) != 0) throw_sys("chroot", a.rootfs);
      if (::chdir("/") != 0) throw_sys("chdir", "/");
    }
    // Before /proc/sys turns read-only.
    if (spec.linux) {
      for (auto& [k, v] : spec.linux->sysctl) {
        std::string path = "/proc/sys/" + k;
        for (size_t i = 10; i < path.size(); ++i)
          if (path[i] == '.') path[i] = '/';
        write_file(path, v);
      }
    }
    if (mntns) finish_rootfs(rc);
    const oci::Process& proc = *spec.process;
    if (proc.terminal) {
      Pty pty = open_pty();
      if (proc.console_size) set_winsize(pty.master.get(), proc.console_size->height, proc.console_size->width);
      if (a.console_fd >= 0) send_fd(a.console_fd, pty.master.get(), "hoist-console");
      if (a.pty_to_parent) sync.send(SyncType::Pty, {}, pty.master.get());
      pty.master.reset();
      attach_to_tty(pty.slave.get());
    }
    if (a.console_fd >= 0) ::close(a.console_fd);
    if (proc.oom_score_adj) apply_oom_score_adj(*proc.oom_score_adj);
    if (spec.linux && spec.linux->personality_domain) {
      const auto& d = *spec.linux->personality_domain;
      unsigned long pers = d == "LINUX32" ? 0x0008 : d == "LINUX" ? 0 : ~0UL;
      if (pers == ~0UL) throw Error("personality: unknown domain \"" + d + "\"");
      if (::personality(pers) < 0) throw_sys("personality", d);
    }
    sync.send(SyncType::Ready);
    sync.close();

    // Wait for `start`.
    int c;
    do c = ::accept4(a.start_listener, nullptr, nullptr, SOCK_CLOEXEC);
    while (c < 0 && errno == EINTR);
    if (c < 0) throw_sys("accept", "start socket");
    conn.reset(c);
    ::close(a.start_listener);
    std::string start_state;
    recv_fd(conn.get(), &start_state);
    if (spec.hooks) run_hooks(spec.hooks->start_container, "startContainer", start_state);
    ExecOptions eo;
    eo.process = &proc;
    eo.seccomp = spec.linux && spec.linux->seccomp ? &*spec.linux->seccomp : nullptr;
    eo.preserve_fds = a.preserve_fds;
    eo.state_json = start_state;
    eo.seccomp_bpf = std::move(seccomp_bpf);
    // conn is close-on-exec: `start` sees EOF once the process runs.
    finalize_and_exec(eo);
  } catch (const std::exception& e) {
    std::string msg = e.what();
    try {
      if (conn) send_fd(conn.get(), -1, msg);
      else if (sync.fd() >= 0) sync.send(SyncType::Err, msg);
      else log::error(msg);
    } catch (...) {
    }
  }
  _exit(1);
}

}  // namespace

std::string InitParams::serialize() const {
  json j = {{"config", config_text}, {"bundle", bundle}, {"id", id}, {"rootfs", rootfs},
            {"no_pivot", no_pivot}, {"no_new_keyring", no_new_keyring}, {"preserve_fds", preserve_fds},
            {"start_listener", start_listener}, {"console_fd", console_fd}, {"pty_to_parent", pty_to_parent},
            {"unified", layout.unified}, {"v1", layout.v1}, {"cgroup_path", cgroup_path}, {"new_flags", new_flags},
            {"seccomp_cache", seccomp_cache}};
  return j.dump();
}

InitParams InitParams::parse(const std::string& text) {
  json j = json::parse(text);
  InitParams p;
  p.config_text = j.at("config");
  p.bundle = j.at("bundle");
  p.id = j.at("id");
  p.rootfs = j.at("rootfs");
  p.no_pivot = j.at("no_pivot");
  p.no_new_keyring = j.at("no_new_keyring");
  p.preserve_fds = j.at("preserve_fds");
  p.start_listener = j.at("start_listener");
  p.console_fd = j.at("console_fd");
  p.pty_to_parent = j.at("pty_to_parent");
  p.layout.unified = j.at("unified");
  p.layout.v1 = j.at("v1").get<std::map<std::string, std::string>>();
  p.cgroup_path = j.at("cgroup_path");
  p.new_flags = j.at("new_flags");
  p.seccomp_cache = j.value("seccomp_cache", "");
  return p;
}

void exec_init(SyncChannel& sync, int new_flags, bool userns, std::initializer_list<int> keep_fds) {
  try {
    // Still with the runtime's own ids (a new user namespace has no maps yet), so the binary's
    // path is reachable.
    // A mount namespace we created is ours to bind in; one joined by path belongs to another
    // container, so there a sealed copy serves.
    UniqueFd exe = new_flags & CLONE_NEWNS ? readonly_self() : sealed_self_copy();
    sync.expect(SyncType::Go);
    // Root of a new user namespace once the runtime has written the maps: the exec that follows
    // must keep our capabilities there.
    if (userns) {
      if (::setresgid(0, 0, 0) != 0) throw_sys("setgid", "0 in the user namespace");
      if (::setresuid(0, 0, 0) != 0) throw_sys("setuid", "0 in the user namespace");
    }
    for (int fd : keep_fds)
      if (fd >= 0 && ::fcntl(fd, F_SETFD, 0) != 0) throw_sys("fcntl", "fd " + std::to_string(fd));
    if (::fcntl(sync.fd(), F_SETFD, 0) != 0) throw_sys("fcntl", "sync fd");
    std::string fd = std::to_string(sync.fd());
    char arg0[] = "hoist-runtime", arg1[] = "__init";
    char* argv[] = {arg0, arg1, fd.data(), nullptr};
    ::syscall(SYS_execveat, exe.get(), "", argv, environ, AT_EMPTY_PATH);
    throw_sys("execute", "runtime as the container init");
  } catch (const std::exception& e) {
    try {
      sync.send(SyncType::Err, e.what());
    } catch (...) {
    }
  }
  _exit(1);
}

void init_entry(int sync_fd) {
  ::fcntl(sync_fd, F_SETFD, FD_CLOEXEC);
  SyncChannel sync{UniqueFd(sync_fd)};
  InitParams p;
  try {
    p = InitParams::parse(sync.expect(SyncType::Init).payload);
    for (int fd : {p.start_listener, p.console_fd})
      if (fd >= 0) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  } catch (const std::exception& e) {
    try {
      sync.send(SyncType::Err, std::string("init: ") + e.what());
    } catch (...) {
    }
    _exit(1);
  }
  init_main(sync, p);
}

}  // namespace hoist::runtime
