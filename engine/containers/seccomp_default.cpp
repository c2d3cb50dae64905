// Docker's default seccomp profile and capability set (facts from moby's profiles/seccomp and
// oci/caps), expressed in Docker's profile format and converted to OCI form for the host.
#include "engine/containers/seccomp_default.h"

#include <sys/prctl.h>
#include <sys/utsname.h>

#include <algorithm>
#include <cstdio>
#include <map>

#include "common/error.h"

namespace hoist::engine {
namespace {
using json = nlohmann::json;

const char* const kAllowed[] = {
    "accept", "accept4", "access", "adjtimex", "alarm", "bind", "brk", "cachestat", "capget",
    "capset", "chdir", "chmod", "chown", "chown32", "clock_adjtime", "clock_adjtime64",
    "clock_getres", "clock_getres_time64", "clock_gettime", "clock_gettime64", "clock_nanosleep",
    "clock_nanosleep_time64", "close", "close_range", "connect", "copy_file_range", "creat", "dup",
    "dup2", "dup3", "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_pwait",
    "epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd", "eventfd2", "execve", "execveat",
    "exit", "exit_group", "faccessat", "faccessat2", "fadvise64", "fadvise64_64", "fallocate",
    "fanotify_mark", "fchdir", "fchmod", "fchmodat", "fchmodat2", "fchown", "fchown32", "fchownat",
    "fcntl", "fcntl64", "fdatasync", "fgetxattr", "flistxattr", "flock", "fork", "fremovexattr",
    "fsetxattr", "fstat", "fstat64", "fstatat64", "fstatfs", "fstatfs64", "fsync", "ftruncate",
    "ftruncate64", "futex", "futex_requeue", "futex_time64", "futex_wait", "futex_waitv",
    "futex_wake", "futimesat", "getcpu", "getcwd", "getdents", "getdents64", "getegid",
    "getegid32", "geteuid", "geteuid32", "getgid", "getgid32", "getgroups", "getgroups32",
    "getitimer", "getpeername", "getpgid", "getpgrp", "getpid", "getppid", "getpriority",
    "getrandom", "getresgid", "getresgid32", "getresuid", "getresuid32", "getrlimit",
    "get_robust_list", "getrusage", "getsid", "getsockname", "getsockopt", "get_thread_area",
    "gettid", "gettimeofday", "getuid", "getuid32", "getxattr", "inotify_add_watch",
    "inotify_init", "inotify_init1", "inotify_rm_watch", "io_cancel", "ioctl", "io_destroy",
    "io_getevents", "io_pgetevents", "io_pgetevents_time64", "ioprio_get", "ioprio_set",
    "io_setup", "io_submit", "ipc", "kill", "landlock_add_rule", "landlock_create_ruleset",
    "landlock_restrict_self", "lchown", "lchown32", "lgetxattr", "link", "linkat", "listen",
    "listxattr", "llistxattr", "_llseek", "lremovexattr", "lseek", "lsetxattr", "lstat", "lstat64",
    "madvise", "map_shadow_stack", "membarrier", "memfd_create", "memfd_secret", "mincore",
    "mkdir", "mkdirat", "mknod", "mknodat", "mlock", "mlock2", "mlockall", "mmap", "mmap2",
    "mprotect", "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive",
    "mq_timedreceive_time64", "mq_timedsend", "mq_timedsend_time64", "mq_unlink", "mremap",
    "msgctl", "msgget", "msgrcv", "msgsnd", "msync", "munlock", "munlockall", "munmap",
    "name_to_handle_at", "nanosleep", "newfstatat", "_newselect", "open", "openat", "openat2",
    "pause", "pidfd_open", "pidfd_send_signal", "pipe", "pipe2", "pkey_alloc", "pkey_free",
    "pkey_mprotect", "poll", "ppoll", "ppoll_time64", "prctl", "pread64", "preadv", "preadv2",
    "prlimit64", "process_mrelease", "pselect6", "pselect6_time64", "pwrite64", "pwritev",
    "pwritev2", "read", "readahead", "readlink", "readlinkat", "readv", "recv", "recvfrom",
    "recvmmsg", "recvmmsg_time64", "recvmsg", "remap_file_pages", "removexattr", "rename",
    "renameat", "renameat2", "restart_syscall", "rmdir", "rseq", "rt_sigaction", "rt_sigpending",
    "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait",
    "rt_sigtimedwait_time64", "rt_tgsigqueueinfo", "sched_getaffinity", "sched_getattr",
    "sched_getparam", "sched_get_priority_max", "sched_get_priority_min", "sched_getscheduler",
    "sched_rr_get_interval", "sched_rr_get_interval_time64", "sched_setaffinity",
    "sched_setattr", "sched_setparam", "sched_setscheduler", "sched_yield", "seccomp", "select",
    "semctl", "semget", "semop", "semtimedop", "semtimedop_time64", "send", "sendfile",
    "sendfile64", "sendmmsg", "sendmsg", "sendto", "setfsgid", "setfsgid32", "setfsuid",
    "setfsuid32", "setgid", "setgid32", "setgroups", "setgroups32", "setitimer", "setpgid",
    "setpriority", "setregid", "setregid32", "setresgid", "setresgid32", "setresuid",
    "setresuid32", "setreuid", "setreuid32", "setrlimit", "set_robust_list", "setsid",
    "setsockopt", "set_thread_area", "set_tid_address", "setuid", "setuid32", "setxattr", "shmat",
    "shmctl", "shmdt", "shmget", "shutdown", "sigaltstack", "signalfd", "signalfd4",
    "sigprocmask", "sigreturn", "socketcall", "socketpair", "splice", "stat", "stat64", "statfs",
    "statfs64", "statx", "symlink", "symlinkat", "sync", "sync_file_range", "syncfs", "sysinfo",
    "tee", "tgkill", "time", "timer_create", "timer_delete", "timer_getoverrun", "timer_gettime",
    "timer_gettime64", "timer_settime", "timer_settime64", "timerfd_create", "timerfd_gettime",
    "timerfd_gettime64", "timerfd_settime", "timerfd_settime64", "times", "tkill", "truncate",
    "truncate64", "ugetrlimit", "umask", "uname", "unlink", "unlinkat", "utime", "utimensat",
    "utimensat_time64", "utimes", "vfork", "vmsplice", "wait4", "waitid", "waitpid", "write",
    "writev"};

json allow(std::vector<std::string> names) {
  return json{{"names", names}, {"action", "SCMP_ACT_ALLOW"}};
}
json allow_if_cap(std::vector<std::string> names, std::vector<std::string> caps) {
  json r = allow(std::move(names));
  r["includes"] = {{"caps", caps}};
  return r;
}
json allow_if_arch(std::vector<std::string> names, std::vector<std::string> arches) {
  json r = allow(std::move(names));
  r["includes"] = {{"arches", arches}};
  return r;
}
json arg(unsigned index, uint64_t value, uint64_t value_two, const char* op) {
  return json{{"index", index}, {"value", value}, {"valueTwo", value_two}, {"op", op}};
}

std::string host_arch() {
#if defined(__x86_64__)
  return "amd64";
#elif defined(__aarch64__)
  return "arm64";
#elif defined(__i386__)
  return "386";
#elif defined(__arm__)
  return "arm";
#elif defined(__powerpc64__)
  return "ppc64le";
#elif defined(__s390x__)
  return "s390x";
#elif defined(__riscv)
  return "riscv64";
#else
  return "unknown";
#endif
}

// Host kernel (major, minor) from uname.
std::pair<int, int> kernel_version() {
  struct utsname u {};
  if (::uname(&u) != 0) return {0, 0};
  int ma = 0, mi = 0;
  std::sscanf(u.release, "%d.%d", &ma, &mi);
  return {ma, mi};
}

// Docker's "arches" names → libseccomp architectures (matching archMap entries).
bool arch_matches(const std::string& want, const std::string& host) { return want == host; }

}  // namespace

std::vector<std::string> default_capabilities() {
  return {"CAP_CHOWN",  "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
          "CAP_MKNOD",  "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
          "CAP_SETFCAP", "CAP_SETPCAP",     "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
          "CAP_KILL",   "CAP_AUDIT_WRITE"};
}

const std::vector<std::string>& all_capabilities() {
  static const std::vector<std::string> caps = {
      "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
      "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
      "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
      "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
      "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
      "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
      "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
      "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
      "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE"};
  return caps;
}

const std::vector<std::string>& available_capabilities() {
  static const std::vector<std::string> caps = [] {
    const auto& all = all_capabilities();
    int last = static_cast<int>(all.size()) - 1;
    if (FILE* f = std::fopen("/proc/sys/kernel/cap_last_cap", "re")) {
      int v = 0;
      if (std::fscanf(f, "%d", &v) == 1 && v >= 0) last = std::min(last, v);
      std::fclose(f);
    }
    std::vector<std::string> out;
    for (int c = 0; c <= last; ++c)
      if (::prctl(PR_CAPBSET_READ, c, 0, 0, 0) == 1) out.push_back(all[static_cast<size_t>(c)]);
    return out;
  }();
  return caps;
}

json docker_default_seccomp_profile() {
  json p;
  p["defaultAction"] = "SCMP_ACT_ERRNO";
  p["defaultErrnoRet"] = 1;
  p["archMap"] = json::array({
      {{"architecture", "SCMP_ARCH_X86_64"}, {"subArchitectures", {"SCMP_ARCH_X86", "SCMP_ARCH_X32"}}},
      {{"architecture", "SCMP_ARCH_AARCH64"}, {"subArchitectures", {"SCMP_ARCH_ARM"}}},
      {{"architecture", "SCMP_ARCH_MIPS64"}, {"subArchitectures", {"SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64N32"}}},
      {{"architecture", "SCMP_ARCH_MIPSEL64"}, {"subArchitectures", {"SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64N32"}}},
      {{"architecture", "SCMP_ARCH_PPC64LE"}, {"subArchitectures", json::array()}},
      {{"architecture", "SCMP_ARCH_S390X"}, {"subArchitectures", {"SCMP_ARCH_S390"}}},
      {{"architecture", "SCMP_ARCH_RISCV64"}, {"subArchitectures", json::array()}},
  });
  json s = json::array();
  s.push_back(allow({std::begin(kAllowed), std::end(kAllowed)}));
  { json r = allow({"process_vm_readv", "process_vm_writev", "ptrace"}); r["includes"] = {{"minKernel", "4.8"}}; s.push_back(r); }
  // socket: everything but AF_VSOCK (40).
  { json r = allow({"socket"}); r["args"] = {arg(0, 40, 0, "SCMP_CMP_NE")}; s.push_back(r); }
  // personality: PER_LINUX, PER_LINUX32, UNAME26, UNAME26|PER_LINUX32, query (0xffffffff).
  for (uint64_t v : {0ULL, 8ULL, 131072ULL, 131080ULL, 4294967295ULL}) {
    json r = allow({"personality"});
    r["args"] = {arg(0, v, 0, "SCMP_CMP_EQ")};
    s.push_back(r);
  }
  s.push_back(allow_if_arch({"sync_file_range2", "swapcontext"}, {"ppc64le"}));
  s.push_back(allow_if_arch({"arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2",
                             "breakpoint", "cacheflush", "set_tls"}, {"arm", "arm64"}));
  s.push_back(allow_if_arch({"arch_prctl"}, {"amd64", "x32"}));
  s.push_back(allow_if_arch({"modify_ldt"}, {"amd64", "x32", "x86"}));
  s.push_back(allow_if_arch({"s390_pci_mmio_read", "s390_pci_mmio_write", "s390_runtime_instr"},
                            {"s390", "s390x"}));
  s.push_back(allow_if_arch({"riscv_flush_icache"}, {"riscv64"}));
  s.push_back(allow_if_cap({"open_by_handle_at"}, {"CAP_DAC_READ_SEARCH"}));
  s.push_back(allow_if_cap({"bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount",
                            "fsopen", "fspick", "lookup_dcookie", "mount", "mount_setattr",
                            "move_mount", "open_tree", "perf_event_open", "quotactl",
                            "quotactl_fd", "setdomainname", "sethostname", "setns", "syslog",
                            "umount", "umount2", "unshare"},
                           {"CAP_SYS_ADMIN"}));
  {  // clone without namespace flags (CLONE_NEWNS|UTS|IPC|USER|PID|NET|CGROUP = 0x7E020000).
    json r = allow({"clone"});
    r["args"] = {arg(0, 2114060288ULL, 0, "SCMP_CMP_MASKED_EQ")};
    r["excludes"] = {{"caps", {"CAP_SYS_ADMIN"}}, {"arches", {"s390", "s390x"}}};
    s.push_back(r);
    json r390 = allow({"clone"});
    r390["args"] = {arg(1, 2114060288ULL, 0, "SCMP_CMP_MASKED_EQ")};
    r390["includes"] = {{"arches", {"s390", "s390x"}}};
    r390["excludes"] = {{"caps", {"CAP_SYS_ADMIN"}}};
    s.push_back(r390);
    // clone3 can't be filtered on its flags: ENOSYS so libcs fall back to clone.
    json c3{{"names", {"clone3"}}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", 38}};
    c3["excludes"] = {{"caps", {"CAP_SYS_ADMIN"}}};
    s.push_back(c3);
  }
  s.push_back(allow_if_cap({"reboot"}, {"CAP_SYS_BOOT"}));
  s.push_back(allow_if_cap({"chroot"}, {"CAP_SYS_CHROOT"}));
  s.push_back(allow_if_cap({"delete_module", "init_module", "finit_module"}, {"CAP_SYS_MODULE"}));
  s.push_back(allow_if_cap({"acct"}, {"CAP_SYS_PACCT"}));
  s.push_back(allow_if_cap({"kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv",
                            "process_vm_writev", "ptrace"}, {"CAP_SYS_PTRACE"}));
  s.push_back(allow_if_cap({"iopl", "ioperm"}, {"CAP_SYS_RAWIO"}));
  s.push_back(allow_if_cap({"settimeofday", "stime", "clock_settime", "clock_settime64"},
                           {"CAP_SYS_TIME"}));
  s.push_back(allow_if_cap({"vhangup"}, {"CAP_SYS_TTY_CONFIG"}));
  s.push_back(allow_if_cap({"get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"},
                           {"CAP_SYS_NICE"}));
  s.push_back(allow_if_cap({"syslog"}, {"CAP_SYSLOG"}));
  s.push_back(allow_if_cap({"bpf"}, {"CAP_BPF"}));
  s.push_back(allow_if_cap({"perf_event_open"}, {"CAP_PERFMON"}));
  p["syscalls"] = s;
  return p;
}

json seccomp_profile_to_oci(const json& prof, const std::vector<std::string>& caps) {
  if (!prof.is_object()) throw InvalidArgument("Error parsing seccomp profile: not a JSON object");
  if (prof.contains("architectures") && prof.contains("archMap") &&
      !prof["architectures"].empty() && !prof["archMap"].empty())
    throw InvalidArgument("'architectures' and 'archMap' were specified in the seccomp profile, use either 'architectures' or 'archMap'");
  const std::string arch = host_arch();
  static const std::map<std::string, std::string> kGoToSeccomp = {
      {"amd64", "SCMP_ARCH_X86_64"}, {"arm64", "SCMP_ARCH_AARCH64"}, {"386", "SCMP_ARCH_X86"},
      {"arm", "SCMP_ARCH_ARM"}, {"ppc64le", "SCMP_ARCH_PPC64LE"}, {"s390x", "SCMP_ARCH_S390X"},
      {"riscv64", "SCMP_ARCH_RISCV64"}};
  json out;
  out["defaultAction"] = prof.value("defaultAction", "");
  if (out["defaultAction"] == "") throw InvalidArgument("Error parsing seccomp profile: missing defaultAction");
  if (prof.contains("defaultErrnoRet")) out["defaultErrnoRet"] = prof["defaultErrnoRet"];
  json arches = json::array();
  if (prof.contains("architectures")) arches = prof["architectures"];
  auto it = kGoToSeccomp.find(arch);
  if (prof.contains("archMap") && it != kGoToSeccomp.end()) {
    for (const auto& a : prof["archMap"]) {
      if (a.value("architecture", "") != it->second) continue;
      arches.push_back(a["architecture"]);
      for (const auto& sub : a.value("subArchitectures", json::array())) arches.push_back(sub);
    }
  }
  out["architectures"] = arches;
  if (prof.contains("flags")) out["flags"] = prof["flags"];
  if (prof.contains("listenerPath")) out["listenerPath"] = prof["listenerPath"];
  if (prof.contains("listenerMetadata")) out["listenerMetadata"] = prof["listenerMetadata"];
  auto has_cap = [&](const std::string& c) {
    return std::find(caps.begin(), caps.end(), c) != caps.end();
  };
  auto has_arch = [&](const json& list) {
    for (const auto& a : list)
      if (a.is_string() && arch_matches(a.get<std::string>(), arch)) return true;
    return false;
  };
  json syscalls = json::array();
  for (const auto& sc : prof.value("syscalls", json::array())) {
    if (sc.contains("name") && sc.contains("names") && !sc["names"].empty())
      throw InvalidArgument("Use either 'name' or 'names'");
    if (sc.contains("includes")) {
      const json& inc = sc["includes"];
      if (inc.contains("arches") && !inc["arches"].empty() && !has_arch(inc["arches"])) continue;
      bool all = true;
      for (const auto& c : inc.value("caps", json::array())) all = all && has_cap(c.get<std::string>());
      if (!all) continue;
      if (inc.contains("minKernel") && inc["minKernel"].is_string()) {
        int ma = 0, mi = 0;
        std::sscanf(inc["minKernel"].get<std::string>().c_str(), "%d.%d", &ma, &mi);
        if (kernel_version() < std::make_pair(ma, mi)) continue;
      }
    }
    if (sc.contains("excludes")) {
      const json& exc = sc["excludes"];
      if (exc.contains("arches") && has_arch(exc["arches"])) continue;
      bool any = false;
      for (const auto& c : exc.value("caps", json::array())) any = any || has_cap(c.get<std::string>());
      if (any) continue;
    }
    json o;
    if (sc.contains("names")) o["names"] = sc["names"];
    else if (sc.contains("name")) o["names"] = json::array({sc["name"]});
    else throw InvalidArgument("Error parsing seccomp profile: syscall entry without names");
    o["action"] = sc.value("action", "");
    if (sc.contains("errnoRet")) o["errnoRet"] = sc["errnoRet"];
    if (sc.contains("args") && !sc["args"].is_null()) {
      json args = json::array();
      for (const auto& a : sc["args"])
        args.push_back(json{{"index", a.value("index", 0)}, {"value", a.value("value", uint64_t{0})},
                            {"valueTwo", a.value("valueTwo", uint64_t{0})}, {"op", a.value("op", "")}});
      if (!args.empty()) o["args"] = args;
    }
    syscalls.push_back(o);
  }
  out["syscalls"] = syscalls;
  return out;
}

json default_seccomp_profile(const std::vector<std::string>& caps) {
  return seccomp_profile_to_oci(docker_default_seccomp_profile(), caps);
}

}  // namespace hoist::engine
