// linux.seccomp -> libseccomp, with runc's semantics (see seccomp.h).
#include "runtime/seccomp.h"

#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include "common/error.h"
#include "common/fd.h"
#include "common/file.h"

namespace hoist::runtime {
namespace {

constexpr unsigned kMaxSyscallArgs = 6;

[[noreturn]] void fail(const std::string& msg) { throw Error("seccomp: " + msg); }

std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

// libseccomp returns -errno; turn it into "seccomp: <op> <what>: <strerror>".
void check(int rc, std::string_view op, std::string_view what = {}) {
  if (rc < 0) throw_sys("seccomp: " + std::string(op), what, -rc);
}

uint32_t parse_action(const std::string& name, std::optional<unsigned> errno_ret) {
  const unsigned err = errno_ret.value_or(EPERM);  // runc: ERRNO and TRACE default to EPERM
  if (err > 0xffff) fail("errnoRet " + std::to_string(err) + " out of range for " + quoted(name));
  if (name == "SCMP_ACT_KILL" || name == "SCMP_ACT_KILL_THREAD") return SCMP_ACT_KILL_THREAD;
  if (name == "SCMP_ACT_KILL_PROCESS") return SCMP_ACT_KILL_PROCESS;
  if (name == "SCMP_ACT_TRAP") return SCMP_ACT_TRAP;
  if (name == "SCMP_ACT_ERRNO") return SCMP_ACT_ERRNO(err);
  if (name == "SCMP_ACT_TRACE") return SCMP_ACT_TRACE(err);
  if (name == "SCMP_ACT_ALLOW") return SCMP_ACT_ALLOW;
  if (name == "SCMP_ACT_LOG") return SCMP_ACT_LOG;
  if (name == "SCMP_ACT_NOTIFY") return SCMP_ACT_NOTIFY;
  fail("unknown action " + quoted(name));
}

scmp_compare parse_op(const std::string& name) {
  static constexpr std::pair<const char*, scmp_compare> kOps[] = {
      {"SCMP_CMP_NE", SCMP_CMP_NE}, {"SCMP_CMP_LT", SCMP_CMP_LT}, {"SCMP_CMP_LE", SCMP_CMP_LE},
      {"SCMP_CMP_EQ", SCMP_CMP_EQ}, {"SCMP_CMP_GE", SCMP_CMP_GE}, {"SCMP_CMP_GT", SCMP_CMP_GT},
      {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
  };
  for (const auto& [n, op] : kOps)
    if (name == n) return op;
  fail("unknown operator " + quoted(name));
}

uint32_t parse_arch(const std::string& name) {
  static constexpr std::pair<const char*, uint32_t> kArchs[] = {
      {"SCMP_ARCH_X86", SCMP_ARCH_X86},
      {"SCMP_ARCH_X86_64", SCMP_ARCH_X86_64},
      {"SCMP_ARCH_X32", SCMP_ARCH_X32},
      {"SCMP_ARCH_ARM", SCMP_ARCH_ARM},
      {"SCMP_ARCH_AARCH64", SCMP_ARCH_AARCH64},
      {"SCMP_ARCH_MIPS", SCMP_ARCH_MIPS},
      {"SCMP_ARCH_MIPS64", SCMP_ARCH_MIPS64},
      {"SCMP_ARCH_MIPS64N32", SCMP_ARCH_MIPS64N32},
      {"SCMP_ARCH_MIPSEL", SCMP_ARCH_MIPSEL},
      {"SCMP_ARCH_MIPSEL64", SCMP_ARCH_MIPSEL64},
      {"SCMP_ARCH_MIPSEL64N32", SCMP_ARCH_MIPSEL64N32},
      {"SCMP_ARCH_PPC", SCMP_ARCH_PPC},
      {"SCMP_ARCH_PPC64", SCMP_ARCH_PPC64},
      {"SCMP_ARCH_PPC64LE", SCMP_ARCH_PPC64LE},
      {"SCMP_ARCH_S390", SCMP_ARCH_S390},
      {"SCMP_ARCH_S390X", SCMP_ARCH_S390X},
      {"SCMP_ARCH_PARISC", SCMP_ARCH_PARISC},
      {"SCMP_ARCH_PARISC64", SCMP_ARCH_PARISC64},
      {"SCMP_ARCH_RISCV64", SCMP_ARCH_RISCV64},
  };
  for (const auto& [n, token] : kArchs)
    if (name == n) return token;
  fail("unknown architecture " + quoted(name));
}

scmp_filter_attr parse_flag(const std::string& name) {
  if (name == "SECCOMP_FILTER_FLAG_TSYNC") return SCMP_FLTATR_CTL_TSYNC;
  if (name == "SECCOMP_FILTER_FLAG_LOG") return SCMP_FLTATR_CTL_LOG;
  if (name == "SECCOMP_FILTER_FLAG_SPEC_ALLOW") return SCMP_FLTATR_CTL_SSB;
  fail("unknown flag " + quoted(name));
}

scmp_filter_ctx ctx_of(void* p) { return static_cast<scmp_filter_ctx>(p); }

}  // namespace

SeccompFilter SeccompFilter::build(const oci::Seccomp& cfg) {
  const uint32_t def = parse_action(cfg.default_action, cfg.default_errno_ret);
  // As runc: the runtime itself would be stopped by a NOTIFY default (or on write), before
  // it could hand the listener fd over.
  if (def == SCMP_ACT_NOTIFY) fail("SCMP_ACT_NOTIFY cannot be used as default action");

  SeccompFilter f;
  f.ctx_ = seccomp_init(def);
  if (!f.ctx_) fail("init with default action " + quoted(cfg.default_action) + " failed");
  scmp_filter_ctx ctx = ctx_of(f.ctx_);

  for (const auto& a : cfg.architectures) {
    int rc = seccomp_arch_add(ctx, parse_arch(a));
    if (rc != -EEXIST) check(rc, "add architecture", quoted(a));
  }
  for (const auto& fl : cfg.flags) check(seccomp_attr_set(ctx, parse_flag(fl), 1), "set flag", quoted(fl));
  // no_new_privs is the spec's process.noNewPrivileges, applied by the caller (runc does the same).
  check(seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0), "clear no_new_privs attribute");
  if (cfg.syscalls.size() > 8) check(seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2), "set optimize");

  for (const auto& sc : cfg.syscalls) {
    const uint32_t act = parse_action(sc.action, sc.errno_ret);
    std::vector<scmp_arg_cmp> conds;
    unsigned per_index[kMaxSyscallArgs] = {};
    bool same_index = false;
    for (const auto& arg : sc.args) {
      const scmp_compare op = parse_op(arg.op);
      if (arg.index >= kMaxSyscallArgs)
        fail("argument index " + std::to_string(arg.index) + " out of range (0-5)");
      same_index |= ++per_index[arg.index] > 1;
      conds.push_back({arg.index, op, arg.value, arg.value_two});  // MASKED_EQ: mask, value
    }
    if (act == def) continue;  // libseccomp refuses rules equal to the default; they are no-ops

    for (const auto& name : sc.names) {
      if (act == SCMP_ACT_NOTIFY && name == "write") fail("SCMP_ACT_NOTIFY cannot be used for the write syscall");
      const int nr = seccomp_syscall_resolve_name(name.c_str());
      if (nr == __NR_SCMP_ERROR) continue;  // unknown to this libseccomp: skip, as runc
      const std::string what = quoted(name);
      if (!same_index) {
        // All conditions in one rule: AND.
        check(seccomp_rule_add_array(ctx, act, nr, conds.size(), conds.data()), "add rule for", what);
      } else {
        // Several conditions on one argument: one rule per condition (OR), as runc.
        for (const auto& c : conds) check(seccomp_rule_add_array(ctx, act, nr, 1, &c), "add rule for", what);
      }
      f.notify_ |= act == SCMP_ACT_NOTIFY;
    }
  }
  return f;
}

SeccompFilter::SeccompFilter(SeccompFilter&& o) noexcept
    : ctx_(std::exchange(o.ctx_, nullptr)), notify_(std::exchange(o.notify_, false)) {}

SeccompFilter& SeccompFilter::operator=(SeccompFilter&& o) noexcept {
  if (this != &o) {
    if (ctx_) seccomp_release(ctx_of(ctx_));
    ctx_ = std::exchange(o.ctx_, nullptr);
    notify_ = std::exchange(o.notify_, false);
  }
  return *this;
}

SeccompFilter::~SeccompFilter() {
  if (ctx_) seccomp_release(ctx_of(ctx_));
}

int SeccompFilter::load() {
  if (!ctx_) fail("load: empty filter");
  check(seccomp_load(ctx_of(ctx_)), "load filter");
  if (!notify_) return -1;
  const int fd = seccomp_notify_fd(ctx_of(ctx_));
  if (fd < 0) check(fd < -1 ? fd : -EBADF, "get notify fd");
  return fd;
}

namespace {

// Everything of cfg that shapes the program, as text: the cache key.
std::string profile_text(const oci::Seccomp& c) {
  // libseccomp's version and the API level it found in this kernel shape the program too.
  const scmp_version* v = seccomp_version();
  std::string s = "v1|libseccomp " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
                  std::to_string(v->micro) + "|api " + std::to_string(seccomp_api_get()) + "|" + c.default_action + "|" + (c.default_errno_ret ? std::to_string(*c.default_errno_ret) : "-");
  for (auto& a : c.architectures) s += "|a:" + a;
  for (auto& sc : c.syscalls) {
    s += "|s:" + sc.action + ":" + (sc.errno_ret ? std::to_string(*sc.errno_ret) : "-");
    for (auto& n : sc.names) s += "," + n;
    for (auto& a : sc.args)
      s += ";" + std::to_string(a.index) + "/" + a.op + "/" + std::to_string(a.value) + "/" + std::to_string(a.value_two);
  }
  return s;
}

}  // namespace

std::string SeccompFilter::cached_bpf(const oci::Seccomp& cfg, const std::string& cache_dir) {
  if (!cfg.flags.empty() || !cfg.listener_path.empty()) return {};
  for (auto& sc : cfg.syscalls)
    if (sc.action == "SCMP_ACT_NOTIFY") return {};
  std::string key = profile_text(cfg);
  std::string file = cache_dir + "/" + std::to_string(std::hash<std::string>{}(key)) + ".bpf";
  std::string head = key + '\n';
  try {
    std::string text = read_file(file);
    if (text.size() > head.size() && text.compare(0, head.size(), head) == 0 &&
        (text.size() - head.size()) % sizeof(sock_filter) == 0)
      return text.substr(head.size());
  } catch (...) {
  }
  SeccompFilter f = build(cfg);
  UniqueFd fd(memfd_create("hoist-seccomp-bpf", MFD_CLOEXEC));
  if (!fd) throw_sys("seccomp: memfd_create");
  check(seccomp_export_bpf(ctx_of(f.ctx_), fd.get()), "export bpf");
  ::lseek(fd.get(), 0, SEEK_SET);
  std::string prog = read_fd(fd.get());
  try {
    mkdir_all(cache_dir, 0700);
    write_file_atomic(file, head + prog, 0600, false);
  } catch (...) {  // a cache that cannot be written costs the next run the compile, nothing more
  }
  return prog;
}

void SeccompFilter::load_bpf(const std::string& prog) {
  sock_fprog fp{static_cast<unsigned short>(prog.size() / sizeof(sock_filter)),
                reinterpret_cast<sock_filter*>(const_cast<char*>(prog.data()))};
  if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fp) != 0) throw_sys("seccomp: load filter");
}

std::string SeccompFilter::pfc() const {
  if (!ctx_) fail("export: empty filter");
  UniqueFd fd(memfd_create("hoist-seccomp-pfc", MFD_CLOEXEC));
  if (!fd) throw_sys("seccomp: memfd_create");
  check(seccomp_export_pfc(ctx_of(ctx_), fd.get()), "export pfc");
  if (lseek(fd.get(), 0, SEEK_SET) < 0) throw_sys("seccomp: lseek pfc memfd");
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_sys("seccomp: read pfc memfd");
    if (n == 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
}

void send_seccomp_listener_fd(const std::string& listener_path, int notify_fd, const std::string& state_json) {
  const std::string what = quoted(listener_path);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (listener_path.empty() || listener_path.size() >= sizeof addr.sun_path)
    fail("invalid listener path " + what);
  if (state_json.empty()) fail("empty state for listener " + what);
  std::memcpy(addr.sun_path, listener_path.data(), listener_path.size());

  UniqueFd sock(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!sock) throw_sys("seccomp: socket for listener", what);
  if (connect(sock.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) < 0)
    throw_sys("seccomp: connect to listener", what);

  // The fd rides with the state JSON in one sendmsg; only a short write sends the rest plain.
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  iovec iov{const_cast<char*>(state_json.data()), state_json.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* cm = CMSG_FIRSTHDR(&msg);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(cm), &notify_fd, sizeof(int));

  ssize_t n;
  do n = sendmsg(sock.get(), &msg, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n < 0) throw_sys("seccomp: send notify fd to listener", what);
  for (size_t off = static_cast<size_t>(n); off < state_json.size();) {
    n = send(sock.get(), state_json.data() + off, state_json.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_sys("seccomp: send state to listener", what);
    off += static_cast<size_t>(n);
  }
}

}  // namespace hoist::runtime
