#include "runtime/process.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <sched.h>
#include <signal.h>
#include <sys/capability.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstring>

#include "common/error.h"
#include "common/fd.h"
#include "common/log.h"
#include "common/file.h"
#include "common/strings.h"
#include "runtime/seccomp.h"
#include "runtime/terminal.h"

namespace hoist::runtime {
namespace {

struct RlimitName { const char* name; int res; };
constexpr RlimitName kRlimits[] = {
    {"RLIMIT_AS", RLIMIT_AS}, {"RLIMIT_CORE", RLIMIT_CORE}, {"RLIMIT_CPU", RLIMIT_CPU},
    {"RLIMIT_DATA", RLIMIT_DATA}, {"RLIMIT_FSIZE", RLIMIT_FSIZE}, {"RLIMIT_LOCKS", RLIMIT_LOCKS},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK}, {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_NOFILE", RLIMIT_NOFILE}, {"RLIMIT_NPROC", RLIMIT_NPROC}, {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO}, {"RLIMIT_RTTIME", RLIMIT_RTTIME},
    {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING}, {"RLIMIT_STACK", RLIMIT_STACK}};

std::string env_value(const std::vector<std::string>& env, std::string_view key) {
  for (auto it = env.rbegin(); it != env.rend(); ++it)
    if (it->size() > key.size() && it->compare(0, key.size(), key) == 0 && (*it)[key.size()] == '=')
      return it->substr(key.size() + 1);
  return {};
}

void apply_scheduler(const oci::Scheduler& s) {
  struct SchedAttr {
    uint32_t size; uint32_t sched_policy; uint64_t sched_flags; int32_t sched_nice; uint32_t sched_priority;
    uint64_t sched_runtime, sched_deadline, sched_period;
  } attr{};
  attr.size = sizeof attr;
  static const std::pair<const char*, int> kPolicies[] = {
      {"SCHED_OTHER", 0}, {"SCHED_FIFO", 1}, {"SCHED_RR", 2}, {"SCHED_BATCH", 3}, {"SCHED_ISO", 4},
      {"SCHED_IDLE", 5}, {"SCHED_DEADLINE", 6}};
  auto it = std::find_if(std::begin(kPolicies), std::end(kPolicies), [&](auto& p) { return s.policy == p.first; });
  if (it == std::end(kPolicies)) throw Error("scheduler: unknown policy \"" + s.policy + "\"");
  attr.sched_policy = static_cast<uint32_t>(it->second);
  static const std::pair<const char*, uint64_t> kFlags[] = {
      {"SCHED_FLAG_RESET_ON_FORK", 1}, {"SCHED_FLAG_RECLAIM", 2}, {"SCHED_FLAG_DL_OVERRUN", 4},
      {"SCHED_FLAG_KEEP_POLICY", 8}, {"SCHED_FLAG_KEEP_PARAMS", 16}, {"SCHED_FLAG_UTIL_CLAMP_MIN", 32},
      {"SCHED_FLAG_UTIL_CLAMP_MAX", 64}};
  for (auto& f : s.flags) {
    auto fi = std::find_if(std::begin(kFlags), std::end(kFlags), [&](auto& p) { return f == p.first; });
    if (fi == std::end(kFlags)) throw Error("scheduler: unknown flag \"" + f + "\"");
    attr.sched_flags |= fi->second;
  }
  attr.sched_nice = s.nice;
  attr.sched_priority = static_cast<uint32_t>(s.priority);
  attr.sched_runtime = s.runtime;
  attr.sched_deadline = s.deadline;
  attr.sched_period = s.period;
  if (::syscall(SYS_sched_setattr, 0, &attr, 0) != 0) throw_sys("sched_setattr", s.policy);
}

void apply_io_priority(const oci::IoPriority& p) {
  int klass;
  if (p.klass == "IOPRIO_CLASS_RT") klass = 1;
  else if (p.klass == "IOPRIO_CLASS_BE") klass = 2;
  else if (p.klass == "IOPRIO_CLASS_IDLE") klass = 3;
  else throw Error("ioPriority: unknown class \"" + p.klass + "\"");
  if (::syscall(SYS_ioprio_set, 1 /*IOPRIO_WHO_PROCESS*/, 0, (klass << 13) | p.priority) != 0)
    throw_sys("ioprio_set", p.klass + " " + std::to_string(p.priority));
}

std::vector<cap_value_t> cap_list(const std::vector<std::string>& names) {
  std::vector<cap_value_t> out;
  int last = static_cast<int>(cap_max_bits()) - 1;
  for (auto& n : names) {
    int v = capability_value(n);
    if (v < 0) throw Error("capabilities: unknown capability \"" + n + "\"");
    if (v > last) continue;  // known name, but this kernel does not have it
    out.push_back(v);
  }
  return out;
}

// AppArmor confines the process from its execve on. A profile that cannot be applied is an error:
// the caller asked for confinement we cannot give.
void apply_apparmor(const std::string& profile) {
  if (profile.empty()) return;
  std::string cmd = "exec " + profile;
  int err = ENOENT;
  for (const char* path : {"/proc/thread-self/attr/apparmor/exec", "/proc/thread-self/attr/exec"}) {
    try {
      write_file(path, cmd);
      return;
    } catch (const SysError& e) {
      err = e.code();
      if (err != ENOENT) break;
    }
  }
  if (err == ENOENT || err == EINVAL)
    throw Error("apparmor profile \"" + profile + "\": AppArmor is not enabled on this host, or has no such profile");
  throw Error(sys_message("apply apparmor profile", "\"" + profile + "\"", err));
}

}  // namespace

int rlimit_resource(const std::string& name) {
  for (auto& r : kRlimits)
    if (name == r.name) return r.res;
  return -1;
}

int capability_value(const std::string& name) {
  std::string lower;
  for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  cap_value_t v;
  if (cap_from_name(lower.c_str(), &v) != 0) return -1;
  return v;
}

void apply_rlimits(const std::vector<oci::Rlimit>& limits) {
  for (auto& l : limits) {
    int res = rlimit_resource(l.type);
    if (res < 0) throw Error("rlimit: unknown type \"" + l.type + "\"");
    struct rlimit rl{static_cast<rlim_t>(l.soft), static_cast<rlim_t>(l.hard)};
    if (::setrlimit(res, &rl) != 0) {
      int err = errno;
      struct rlimit cur;
      ::getrlimit(res, &cur);
      std::string why;
      if (err == EPERM && rl.rlim_max > cur.rlim_max)
        why = " (raising the hard limit above " + std::to_string(cur.rlim_max) + " needs CAP_SYS_RESOURCE)";
      throw Error(sys_message("setrlimit", l.type + " soft=" + std::to_string(l.soft) + " hard=" +
                                               std::to_string(l.hard), err) + why);
    }
  }
}

void apply_oom_score_adj(int value) {
  std::string cur = trim(read_file("/proc/self/oom_score_adj")).data();
  if (parse_int(cur, "oom_score_adj") == value) return;
  try {
    write_file("/proc/self/oom_score_adj", std::to_string(value));
  } catch (const SysError& e) {
    std::string why;
    if (e.code() == EACCES || e.code() == EPERM)
      why = " (lowering oom_score_adj below the current " + std::string(trim(cur)) + " needs CAP_SYS_RESOURCE)";
    throw Error(sys_message("write", "/proc/self/oom_score_adj \"" + std::to_string(value) + "\"", e.code()) + why);
  }
}

void apply_capabilities_and_user(const oci::Process& p) {
  const auto* caps = p.capabilities ? &*p.capabilities : nullptr;
  if (caps) {
    auto keep = cap_list(caps->bounding);
    int last = static_cast<int>(cap_max_bits()) - 1;
    for (int c = 0; c <= last; ++c) {
      if (std::find(keep.begin(), keep.end(), c) != keep.end()) continue;
      if (::prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0 && errno != EINVAL)
        throw_sys("drop capability from the bounding set", std::to_string(c));
    }
    if (::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) throw_sys("prctl", "PR_SET_KEEPCAPS");
  }
  const auto& u = p.user;
  // In a user namespace with setgroups denied, an empty list cannot be set either: not an error.
  if (::setgroups(u.additional_gids.size(), u.additional_gids.data()) != 0 &&
      !(errno == EPERM && u.additional_gids.empty()))
    throw_sys("setgroups");
  if (::setresgid(u.gid, u.gid, u.gid) != 0) throw_sys("setgid", std::to_string(u.gid));
  if (::setresuid(u.uid, u.uid, u.uid) != 0) throw_sys("setuid", std::to_string(u.uid));
  if (!caps) return;
  if (::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0) throw_sys("prctl", "PR_SET_KEEPCAPS");
  cap_t c = cap_init();
  if (!c) throw_sys("cap_init");
  auto set = [&](const std::vector<std::string>& names, cap_flag_t flag) {
    auto vals = cap_list(names);
    if (!vals.empty() && cap_set_flag(c, flag, static_cast<int>(vals.size()), vals.data(), CAP_SET) != 0) {
      cap_free(c);
      throw_sys("cap_set_flag");
    }
  };
  set(caps->effective, CAP_EFFECTIVE);
  set(caps->permitted, CAP_PERMITTED);
  set(caps->inheritable, CAP_INHERITABLE);
  int rc = cap_set_proc(c);
  int err = errno;
  cap_free(c);
  if (rc != 0) throw_sys("capset", "", err);
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
    throw_sys("prctl", "PR_CAP_AMBIENT_CLEAR_ALL");
  // A capability can only be ambient if it is permitted and inheritable; like runc, a profile
  // that lists more (runc's own default does) is not an error.
  for (auto v : cap_list(caps->ambient))
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, v, 0, 0) != 0) {
      if (errno != EPERM && errno != EINVAL) throw_sys("raise ambient capability", cap_to_name(v));
      log::debug(std::string("ambient capability ") + cap_to_name(v) + " not raised: not permitted and inheritable");
    }
}

std::vector<std::string> exec_candidates(const std::string& arg0, const std::vector<std::string>& env) {
  if (arg0.find('/') != std::string::npos) return {arg0};
  std::string path = env_value(env, "PATH");
  if (path.empty()) path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  std::vector<std::string> out;
  for (auto& dir : split(path, ':')) out.push_back((dir.empty() ? "." : dir) + "/" + arg0);
  return out;
}

void finalize_and_exec(const ExecOptions& o) {
  const oci::Process& p = *o.process;
  if (::chdir(p.cwd.c_str()) != 0) {
    int err = errno;
    if (err != EACCES || p.user.uid == 0)
      throw Error(sys_message("chdir to cwd", "\"" + p.cwd + "\" set in config.json", err));
  }
  apply_rlimits(p.rlimits);
  if (p.scheduler) apply_scheduler(*p.scheduler);
  if (p.io_priority) apply_io_priority(*p.io_priority);

  std::optional<SeccompFilter> filter;
  bool raw = o.seccomp && !o.seccomp_bpf.empty();
  if (o.seccomp && !raw) filter.emplace(SeccompFilter::build(*o.seccomp));
  auto load_filter = [&] {
    if (raw) return SeccompFilter::load_bpf(o.seccomp_bpf);
    int nfd = filter->load();
    if (nfd >= 0) {
      UniqueFd guard(nfd);
      if (!o.seccomp->listener_path.empty()) send_seccomp_listener_fd(o.seccomp->listener_path, nfd, o.state_json);
    }
  };
  if ((filter || raw) && !p.no_new_privileges) load_filter();
  apply_capabilities_and_user(p);
  if (::chdir(p.cwd.c_str()) != 0) throw Error(sys_message("chdir to cwd", "\"" + p.cwd + "\" set in config.json", errno));
  // A cwd reached through an inherited fd (/proc/self/fd/N) could lie outside the container's
  // root (CVE-2024-21626); the kernel then cannot name it from our root.
  char cwd_buf[PATH_MAX];
  if (!::getcwd(cwd_buf, sizeof cwd_buf) && errno == ENOENT)
    throw Error("cwd \"" + p.cwd + "\" set in config.json is outside the container's root");
  if (p.no_new_privileges && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) throw_sys("prctl", "PR_SET_NO_NEW_PRIVS");
  if (p.user.umask) ::umask(*p.user.umask);
  apply_apparmor(p.apparmor_profile);
  if ((filter || raw) && p.no_new_privileges) load_filter();

  // Nothing of ours may leak into the container beyond the preserved fds, nor our signal mask.
  ::syscall(SYS_close_range, 3 + o.preserve_fds, ~0U, CLOSE_RANGE_CLOEXEC);
  // The process starts with default dispositions (ignored ones would survive execve), as runc's.
  for (int sig = 1; sig < NSIG; ++sig)
    if (sig != SIGKILL && sig != SIGSTOP) ::signal(sig, SIG_DFL);
  unblock_all_signals();

  std::vector<char*> argv, envp;
  for (auto& a : p.args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (auto& e : p.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  int first_err = 0;
  for (auto& cand : exec_candidates(p.args[0], p.env)) {
    ::execve(cand.c_str(), argv.data(), envp.data());
    if (errno != ENOENT && errno != ENOTDIR && !first_err) first_err = errno;
  }
  if (p.args[0].find('/') == std::string::npos && !first_err)
    throw Error("exec: \"" + p.args[0] + "\": executable file not found in $PATH");
  throw Error(sys_message("exec", "\"" + p.args[0] + "\"", first_err ? first_err : ENOENT));
}

}  // namespace hoist::runtime
