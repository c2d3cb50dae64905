#include "runtime/namespaces.h"

#include <fcntl.h>
#include <sched.h>
#include <linux/sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/error.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

namespace hoist::runtime {

const std::vector<NsKind>& ns_kinds() {
  static const std::vector<NsKind> kinds = {
      {"user", "user", CLONE_NEWUSER}, {"ipc", "ipc", CLONE_NEWIPC},       {"uts", "uts", CLONE_NEWUTS},
      {"network", "net", CLONE_NEWNET}, {"pid", "pid", CLONE_NEWPID},      {"cgroup", "cgroup", CLONE_NEWCGROUP},
      {"time", "time", CLONE_NEWTIME}, {"mount", "mnt", CLONE_NEWNS}};
  return kinds;
}

const NsKind* ns_by_spec_name(const std::string& name) {
  for (auto& k : ns_kinds())
    if (name == k.spec_name) return &k;
  return nullptr;
}

std::vector<NsJoin> open_ns_paths(const oci::Spec& spec) {
  std::vector<NsJoin> out;
  if (!spec.linux) return out;
  for (auto& k : ns_kinds()) {
    const oci::Namespace* ns = spec.find_namespace(k.spec_name);
    if (!ns || ns->path.empty()) continue;
    int fd = ::open(ns->path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw_sys(std::string("open ") + k.spec_name + " namespace", ns->path);
    out.push_back({k.flag, ns->path, UniqueFd(fd)});
  }
  return out;
}

int new_ns_flags(const oci::Spec& spec) {
  int flags = 0;
  if (!spec.linux) return flags;
  for (auto& ns : spec.linux->namespaces)
    if (ns.path.empty())
      if (auto* k = ns_by_spec_name(ns.type)) flags |= k->flag;
  return flags;
}

void join_namespaces(std::vector<NsJoin>& joins) {
  for (auto& j : joins) {
    if (::setns(j.fd.get(), j.flag) != 0) throw_sys("setns", j.path);
    j.fd.reset();
  }
}

std::vector<NsJoin> open_process_namespaces(pid_t pid) {
  std::vector<NsJoin> out;
  for (auto& k : ns_kinds()) {
    std::string theirs = "/proc/" + std::to_string(pid) + "/ns/" + k.proc_name;
    std::string ours = std::string("/proc/self/ns/") + k.proc_name;
    struct stat a, b;
    if (::stat(theirs.c_str(), &a) != 0) {
      if (errno == ENOENT) continue;  // kernel without this namespace kind
      throw_sys("stat", theirs);
    }
    if (::stat(ours.c_str(), &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev) continue;
    int fd = ::open(theirs.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw_sys("open", theirs);
    out.push_back({k.flag, theirs, UniqueFd(fd)});
  }
  return out;
}

pid_t clone_child(int ns_flags, int cgroup_fd, bool* into) {
  *into = false;
  if (cgroup_fd >= 0) {
    struct clone_args args;
    std::memset(&args, 0, sizeof args);
    args.flags = static_cast<unsigned>(ns_flags) | CLONE_INTO_CGROUP;
    args.exit_signal = SIGCHLD;
    args.cgroup = static_cast<unsigned>(cgroup_fd);
    long r = ::syscall(SYS_clone3, &args, sizeof args);
    if (r >= 0) {
      *into = r > 0;
      return static_cast<pid_t>(r);
    }
    // Before Linux 5.3 (no clone3) or 5.7 (no CLONE_INTO_CGROUP): a plain clone below. A real
    // error repeats there and is reported from it.
    if (errno != ENOSYS && errno != E2BIG && errno != EINVAL) return -1;
  }
  return static_cast<pid_t>(::syscall(SYS_clone, ns_flags | SIGCHLD, nullptr, nullptr, nullptr, nullptr));
}

}  // namespace hoist::runtime
