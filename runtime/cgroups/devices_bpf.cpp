// The cgroup v2 device filter: program generation (hand-assembled eBPF) and raw bpf(2) calls to
// load, attach and replace it.
#include "runtime/cgroups/devices_bpf.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/resource.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <limits>
#include <optional>

#include "common/error.h"
#include "common/fd.h"

namespace hoist::runtime::cgroups {

namespace {

// ---- instructions ----

// Registers of the program: R1 = ctx (struct bpf_cgroup_dev_ctx *), R2 = device type,
// R3 = the requested access bits not yet allowed by a rule, R4 = major, R5 = minor, R0 = result.
constexpr uint8_t R0 = BPF_REG_0, R1 = BPF_REG_1, R2 = BPF_REG_2, R3 = BPF_REG_3, R4 = BPF_REG_4, R5 = BPF_REG_5;

bpf_insn make_insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  bpf_insn i{};
  i.code = code;
  i.dst_reg = dst & 0xf;
  i.src_reg = src & 0xf;
  i.off = off;
  i.imm = imm;
  return i;
}
// dst = *(u32 *)(src + off)
bpf_insn ldx_mem_w(uint8_t dst, uint8_t src, int16_t off) { return make_insn(BPF_LDX | BPF_MEM | BPF_W, dst, src, off, 0); }
// dst = (u32)(dst <op> imm)
bpf_insn alu32_imm(uint8_t op, uint8_t dst, int32_t imm) { return make_insn(BPF_ALU | op | BPF_K, dst, 0, 0, imm); }
bpf_insn mov64_imm(uint8_t dst, int32_t imm) { return make_insn(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm); }
// if (dst <op> imm) goto pc + 1 + off
bpf_insn jmp_imm(uint8_t op, uint8_t dst, int32_t imm, int16_t off) { return make_insn(BPF_JMP | op | BPF_K, dst, 0, off, imm); }
bpf_insn exit_insn() { return make_insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0); }

constexpr uint32_t kAllAccess = BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE;

struct Rule {
  bool allow;
  uint32_t type;  // BPF_DEVCG_DEV_*; 0 = any
  std::optional<uint32_t> major, minor;
  uint32_t access;  // BPF_DEVCG_ACC_* bits
  bool matches_nothing;
};

std::optional<uint32_t> device_number(const std::optional<int64_t>& v, const char* what, bool& matches_nothing) {
  if (!v || *v < 0) return std::nullopt;
  if (*v > std::numeric_limits<uint32_t>::max())
    throw Error("invalid device rule " + std::string(what) + " " + std::to_string(*v) + ": above 4294967295");
  // The kernel's majors (12 bits) and minors (20 bits) are far below this: such a rule matches
  // no device, and a jump immediate (signed 32 bits) could not hold it anyway.
  if (*v > std::numeric_limits<int32_t>::max()) matches_nothing = true;
  return static_cast<uint32_t>(*v);
}

Rule parse_rule(const oci::DeviceRule& r) {
  Rule out{};
  out.allow = r.allow;
  if (r.type.empty() || r.type == "a")
    out.type = 0;
  else if (r.type == "c")
    out.type = BPF_DEVCG_DEV_CHAR;
  else if (r.type == "b")
    out.type = BPF_DEVCG_DEV_BLOCK;
  else
    throw Error("invalid device rule type \"" + r.type + "\"");
  out.major = device_number(r.major, "major", out.matches_nothing);
  out.minor = device_number(r.minor, "minor", out.matches_nothing);
  if (r.access.empty()) out.access = kAllAccess;
  for (char c : r.access) {
    switch (c) {
      case 'r': out.access |= BPF_DEVCG_ACC_READ; break;
      case 'w': out.access |= BPF_DEVCG_ACC_WRITE; break;
      case 'm': out.access |= BPF_DEVCG_ACC_MKNOD; break;
      default: throw Error("invalid device rule access \"" + r.access + "\"");
    }
  }
  return out;
}

// Instructions with symbolic jump targets, resolved once the layout is known.
class Assembler {
 public:
  enum Target { kNext, kDeny, kAllow };

  void emit(bpf_insn i) { insns_.push_back(i); }
  void jump(bpf_insn i, Target t) {
    fixups_.push_back({insns_.size(), t});
    insns_.push_back(i);
  }
  bool referenced(Target t) const {
    for (const auto& f : fixups_)
      if (f.target == t) return true;
    return false;
  }
  // Points the pending kNext jumps (those of the rule just emitted) here.
  void bind_next() { bind(kNext, insns_.size()); }
  void bind(Target t, size_t at) {
    for (auto it = fixups_.begin(); it != fixups_.end();) {
      if (it->target != t) {
        ++it;
        continue;
      }
      long off = static_cast<long>(at) - static_cast<long>(it->index) - 1;
      if (off > std::numeric_limits<int16_t>::max()) throw Error("too many device rules for one eBPF program");
      insns_[it->index].off = static_cast<int16_t>(off);
      it = fixups_.erase(it);
    }
  }
  size_t size() const { return insns_.size(); }
  std::vector<bpf_insn> take() { return std::move(insns_); }

 private:
  struct Fixup {
    size_t index;
    Target target;
  };
  std::vector<bpf_insn> insns_;
  std::vector<Fixup> fixups_;
};

// ---- bpf(2) ----

long sys_bpf(int cmd, union bpf_attr& attr) { return ::syscall(SYS_bpf, cmd, &attr, sizeof attr); }

uint64_t ptr(const void* p) { return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(p)); }

// A SysError with text after the errno message (the verifier log).
class LoadError : public SysError {
 public:
  LoadError(std::string_view op, std::string_view what, int err, const std::string& log)
      : SysError(op, what, err), msg_(SysError::what()) {
    if (!log.empty()) msg_ += "; verifier log:\n" + log;
  }
  const char* what() const noexcept override { return msg_.c_str(); }

 private:
  std::string msg_;
};

std::string trim_log(const char* buf, size_t cap) {
  std::string s(buf, strnlen(buf, cap));
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

long prog_load(const std::vector<bpf_insn>& insns, char* log, uint32_t log_size) {
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  attr.insns = ptr(insns.data());
  attr.insn_cnt = static_cast<uint32_t>(insns.size());
  attr.license = ptr("Apache");
  static_assert(sizeof kDeviceProgramName <= BPF_OBJ_NAME_LEN);
  std::memcpy(attr.prog_name, kDeviceProgramName, sizeof kDeviceProgramName);
  if (log) {
    attr.log_level = 1;
    attr.log_buf = ptr(log);
    attr.log_size = log_size;
    log[0] = '\0';
  }
  return sys_bpf(BPF_PROG_LOAD, attr);
}

// Kernels before 5.11 charge programs to RLIMIT_MEMLOCK: on EPERM, retry once with the limit
// raised, then put it back (the runtime's children must not inherit a raised limit).
long prog_load_memlock(const std::vector<bpf_insn>& insns, char* log, uint32_t log_size) {
  long fd = prog_load(insns, log, log_size);
  if (fd >= 0 || errno != EPERM) return fd;
  struct rlimit old;
  if (::getrlimit(RLIMIT_MEMLOCK, &old) != 0 || old.rlim_cur == RLIM_INFINITY) return errno = EPERM, -1;
  struct rlimit raised = {RLIM_INFINITY, RLIM_INFINITY};
  if (::setrlimit(RLIMIT_MEMLOCK, &raised) != 0) return errno = EPERM, -1;
  fd = prog_load(insns, log, log_size);
  int err = errno;
  ::setrlimit(RLIMIT_MEMLOCK, &old);
  errno = err;
  return fd;
}

UniqueFd load_program(const std::vector<bpf_insn>& insns, const std::string& dir) {
  std::string what = "device filter for " + dir;
  long fd = prog_load_memlock(insns, nullptr, 0);
  if (fd >= 0) return UniqueFd(static_cast<int>(fd));
  int err = errno;
  // Once more with the verifier's log, for the message.
  std::vector<char> log(1 << 20);
  fd = prog_load_memlock(insns, log.data(), static_cast<uint32_t>(log.size()));
  if (fd >= 0) return UniqueFd(static_cast<int>(fd));  // a transient failure
  throw LoadError("BPF_PROG_LOAD", what, err, trim_log(log.data(), log.size()));
}

std::vector<uint32_t> query_programs(int dirfd, const std::string& dir) {
  std::vector<uint32_t> ids(16);
  for (int tries = 0; tries < 10; ++tries) {
    union bpf_attr attr;
    std::memset(&attr, 0, sizeof attr);
    attr.query.target_fd = static_cast<uint32_t>(dirfd);
    attr.query.attach_type = BPF_CGROUP_DEVICE;
    attr.query.prog_ids = ptr(ids.data());
    attr.query.prog_cnt = static_cast<uint32_t>(ids.size());
    if (sys_bpf(BPF_PROG_QUERY, attr) == 0) {
      ids.resize(attr.query.prog_cnt);
      return ids;
    }
    if (errno != ENOSPC) throw_sys("BPF_PROG_QUERY device filters of", dir);
    ids.resize(std::max<size_t>(attr.query.prog_cnt, ids.size() * 2));  // prog_cnt = how many there are
  }
  throw Error("BPF_PROG_QUERY device filters of " + dir + ": the list keeps growing");
}

// Fds of the programs attached to the cgroup that we attached (by name and type). A program we
// may not open (EPERM/EACCES: an LSM's, say) or that is gone meanwhile is not ours to replace.
std::vector<UniqueFd> our_programs(int dirfd, const std::string& dir) {
  std::vector<UniqueFd> out;
  for (uint32_t id : query_programs(dirfd, dir)) {
    union bpf_attr attr;
    std::memset(&attr, 0, sizeof attr);
    attr.prog_id = id;
    long fd = sys_bpf(BPF_PROG_GET_FD_BY_ID, attr);
    if (fd < 0) {
      if (errno == ENOENT || errno == EPERM || errno == EACCES) continue;
      throw_sys("BPF_PROG_GET_FD_BY_ID " + std::to_string(id) + " attached to", dir);
    }
    UniqueFd prog(static_cast<int>(fd));
    bpf_prog_info info;
    std::memset(&info, 0, sizeof info);
    std::memset(&attr, 0, sizeof attr);
    attr.info.bpf_fd = static_cast<uint32_t>(prog.get());
    attr.info.info_len = sizeof info;
    attr.info.info = ptr(&info);
    if (sys_bpf(BPF_OBJ_GET_INFO_BY_FD, attr) != 0)
      throw_sys("BPF_OBJ_GET_INFO_BY_FD program " + std::to_string(id) + " attached to", dir);
    if (info.type == BPF_PROG_TYPE_CGROUP_DEVICE && std::strncmp(info.name, kDeviceProgramName, sizeof info.name) == 0)
      out.push_back(std::move(prog));
  }
  return out;
}

UniqueFd open_cgroup_dir(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) throw_sys("open", dir);
  return fd;
}

}  // namespace

std::vector<bpf_insn> build_device_program(const std::vector<oci::DeviceRule>& spec_rules) {
  std::vector<Rule> rules;
  rules.reserve(spec_rules.size());
  for (const auto& r : spec_rules) rules.push_back(parse_rule(r));

  Assembler a;
  // R2 = type (low 16 bits of access_type), R3 = access (high 16 bits), R4 = major, R5 = minor.
  a.emit(ldx_mem_w(R2, R1, offsetof(bpf_cgroup_dev_ctx, access_type)));
  a.emit(alu32_imm(BPF_AND, R2, 0xffff));
  a.emit(ldx_mem_w(R3, R1, offsetof(bpf_cgroup_dev_ctx, access_type)));
  a.emit(alu32_imm(BPF_RSH, R3, 16));
  a.emit(ldx_mem_w(R4, R1, offsetof(bpf_cgroup_dev_ctx, major)));
  a.emit(ldx_mem_w(R5, R1, offsetof(bpf_cgroup_dev_ctx, minor)));

  // Last rule first: the first rule (in this walk) that matches the device and names a
  // requested bit decides that bit. A deny rule naming a still undecided bit denies; an allow
  // rule clears the bits it names, and allows once none is left.
  bool fallback_allow = false;  // for the bits no rule decides
  for (auto it = rules.rbegin(); it != rules.rend(); ++it) {
    const Rule& r = *it;
    if (r.matches_nothing) continue;
    if (r.type == 0 && !r.major && !r.minor && r.access == kAllAccess) {
      // "a *:* rwm" decides every bit still open; the rules before it are never reached.
      fallback_allow = r.allow;
      break;
    }
    if (r.type) a.jump(jmp_imm(BPF_JNE, R2, static_cast<int32_t>(r.type), 0), Assembler::kNext);
    if (r.major) a.jump(jmp_imm(BPF_JNE, R4, static_cast<int32_t>(*r.major), 0), Assembler::kNext);
    if (r.minor) a.jump(jmp_imm(BPF_JNE, R5, static_cast<int32_t>(*r.minor), 0), Assembler::kNext);
    if (r.allow) {
      a.emit(alu32_imm(BPF_AND, R3, static_cast<int32_t>(~r.access)));
      a.jump(jmp_imm(BPF_JEQ, R3, 0, 0), Assembler::kAllow);
    } else {
      a.jump(jmp_imm(BPF_JSET, R3, static_cast<int32_t>(r.access), 0), Assembler::kDeny);
    }
    a.bind_next();
  }

  // The fallback verdict, then the other one if some rule jumps to it (the verifier rejects
  // unreachable instructions).
  auto verdict = [&](bool allow) {
    a.bind(allow ? Assembler::kAllow : Assembler::kDeny, a.size());
    a.emit(mov64_imm(R0, allow ? 1 : 0));
    a.emit(exit_insn());
  };
  bool other_needed = a.referenced(fallback_allow ? Assembler::kDeny : Assembler::kAllow);
  verdict(fallback_allow);
  if (other_needed) verdict(!fallback_allow);
  return a.take();
}

std::vector<uint32_t> attached_device_programs(const std::string& cgroup_dir) {
  UniqueFd dirfd = open_cgroup_dir(cgroup_dir);
  return query_programs(dirfd.get(), cgroup_dir);
}

void apply_device_rules_v2(const std::string& cgroup_dir, const std::vector<oci::DeviceRule>& rules) {
  if (rules.empty()) return;
  auto insns = build_device_program(rules);  // invalid rules fail first, with no privileges needed
  UniqueFd dirfd = open_cgroup_dir(cgroup_dir);
  struct statfs fs;
  if (::fstatfs(dirfd.get(), &fs) != 0) throw_sys("statfs", cgroup_dir);
  if (fs.f_type != CGROUP2_SUPER_MAGIC) return;  // a fake tree: nothing to attach to

  auto old = our_programs(dirfd.get(), cgroup_dir);
  UniqueFd prog = load_program(insns, cgroup_dir);

  // The new program goes on before the old ones come off: programs attached with
  // BPF_F_ALLOW_MULTI must all allow an access, so in between the cgroup is never less
  // restricted than by either rule set alone.
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.target_fd = static_cast<uint32_t>(dirfd.get());
  attr.attach_bpf_fd = static_cast<uint32_t>(prog.get());
  attr.attach_type = BPF_CGROUP_DEVICE;
  attr.attach_flags = BPF_F_ALLOW_MULTI;
  if (sys_bpf(BPF_PROG_ATTACH, attr) != 0) throw_sys("BPF_PROG_ATTACH device filter to", cgroup_dir);

  for (const auto& o : old) {
    std::memset(&attr, 0, sizeof attr);
    attr.target_fd = static_cast<uint32_t>(dirfd.get());
    attr.attach_bpf_fd = static_cast<uint32_t>(o.get());
    attr.attach_type = BPF_CGROUP_DEVICE;
    // ENOENT: a concurrent update detached it already.
    if (sys_bpf(BPF_PROG_DETACH, attr) != 0 && errno != ENOENT)
      throw_sys("BPF_PROG_DETACH old device filter from", cgroup_dir);
  }
}

}  // namespace hoist::runtime::cgroups
