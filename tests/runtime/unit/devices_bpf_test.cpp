// The cgroup v2 device filter. DeviceBpfProgram: the generated program, run by a small
// interpreter here against a reference model of the rule semantics (no privileges needed).
// DeviceBpfKernel: the real thing, as root, in a scratch cgroup on the host's cgroup2 mount
// (skipped without root or when bpf() is not permitted).
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <linux/magic.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/error.h"
#include "common/fd.h"
#include "common/file.h"
#include "runtime/cgroups/cgroups.h"
#include "runtime/cgroups/devices_bpf.h"

namespace cg = hoist::runtime::cgroups;
using hoist::Error;
using hoist::oci::DeviceRule;

namespace {

constexpr uint32_t kBlock = BPF_DEVCG_DEV_BLOCK, kChar = BPF_DEVCG_DEV_CHAR;
constexpr uint32_t kM = BPF_DEVCG_ACC_MKNOD, kR = BPF_DEVCG_ACC_READ, kW = BPF_DEVCG_ACC_WRITE;

DeviceRule rule(bool allow, std::string type, std::optional<int64_t> major, std::optional<int64_t> minor,
                std::string access) {
  return DeviceRule{allow, std::move(type), major, minor, std::move(access)};
}
DeviceRule allow_all() { return rule(true, "a", {}, {}, "rwm"); }
DeviceRule deny_all() { return rule(false, "a", {}, {}, "rwm"); }

// ---- an interpreter for the instructions the generator emits ----

// The program's verdict (0 / 1) for one access, or -1 (with a test failure) if it does
// something the generator should never emit.
int run(const std::vector<bpf_insn>& prog, uint32_t type, uint32_t major, uint32_t minor, uint32_t access) {
  const uint32_t ctx[3] = {(access << 16) | type, major, minor};
  uint64_t reg[11] = {};
  bool is_ctx[11] = {};
  is_ctx[BPF_REG_1] = true;
  size_t pc = 0;
  for (int steps = 0; steps < 100000; ++steps) {
    if (pc >= prog.size()) {
      ADD_FAILURE() << "ran off the end of the program";
      return -1;
    }
    const bpf_insn& i = prog[pc++];
    uint64_t& dst = reg[i.dst_reg];
    uint64_t imm64 = static_cast<uint64_t>(static_cast<int64_t>(i.imm));  // sign-extended, as the kernel does
    switch (i.code) {
      case BPF_LDX | BPF_MEM | BPF_W:
        if (!is_ctx[i.src_reg] || i.off < 0 || i.off > 8 || i.off % 4) {
          ADD_FAILURE() << "bad load at " << pc - 1;
          return -1;
        }
        dst = ctx[i.off / 4];
        is_ctx[i.dst_reg] = false;
        break;
      case BPF_ALU | BPF_AND | BPF_K: dst = static_cast<uint32_t>(dst & static_cast<uint32_t>(i.imm)); break;
      case BPF_ALU | BPF_RSH | BPF_K: dst = static_cast<uint32_t>(dst) >> i.imm; break;
      case BPF_ALU64 | BPF_MOV | BPF_K:
        dst = imm64;
        is_ctx[i.dst_reg] = false;
        break;
      case BPF_JMP | BPF_JNE | BPF_K: if (dst != imm64) pc += i.off; break;
      case BPF_JMP | BPF_JEQ | BPF_K: if (dst == imm64) pc += i.off; break;
      case BPF_JMP | BPF_JSET | BPF_K: if (dst & imm64) pc += i.off; break;
      case BPF_JMP | BPF_JA: pc += i.off; break;
      case BPF_JMP | BPF_EXIT:
        if (reg[0] > 1) ADD_FAILURE() << "verdict " << reg[0];
        return static_cast<int>(reg[0]);
      default:
        ADD_FAILURE() << "unexpected opcode 0x" << std::hex << int(i.code) << " at " << std::dec << pc - 1;
        return -1;
    }
  }
  ADD_FAILURE() << "the program does not end";
  return -1;
}

int run(const std::vector<DeviceRule>& rules, uint32_t type, uint32_t major, uint32_t minor, uint32_t access) {
  return run(cg::build_device_program(rules), type, major, minor, access);
}

// ---- the reference semantics ----

uint32_t access_bits(const std::string& a) {
  if (a.empty()) return kM | kR | kW;
  uint32_t bits = 0;
  for (char c : a) bits |= c == 'r' ? kR : c == 'w' ? kW : kM;
  return bits;
}

bool rule_matches(const DeviceRule& r, uint32_t type, uint32_t major, uint32_t minor) {
  if (r.type == "c" && type != kChar) return false;
  if (r.type == "b" && type != kBlock) return false;
  if (r.major && *r.major >= 0 && static_cast<uint32_t>(*r.major) != major) return false;
  if (r.minor && *r.minor >= 0 && static_cast<uint32_t>(*r.minor) != minor) return false;
  return true;
}

// Each requested bit is decided by the last rule that matches the device and names it
// (none: denied); the access is allowed if every bit is.
bool model(const std::vector<DeviceRule>& rules, uint32_t type, uint32_t major, uint32_t minor, uint32_t access) {
  for (uint32_t bit : {kM, kR, kW}) {
    if (!(access & bit)) continue;
    bool allowed = false;
    for (const auto& r : rules)
      if (rule_matches(r, type, major, minor) && (access_bits(r.access) & bit)) allowed = r.allow;
    if (!allowed) return false;
  }
  return true;
}

}  // namespace

// ---- program shape ----

TEST(DeviceBpfProgram, Shape) {
  auto prog = cg::build_device_program({deny_all(), rule(true, "c", 1, 3, "rwm"), rule(false, "b", 8, {}, "w")});
  ASSERT_GT(prog.size(), 8u);
  // Starts by reading the context, ends with "r0 = verdict; exit".
  EXPECT_EQ(prog[0].code, BPF_LDX | BPF_MEM | BPF_W);
  EXPECT_EQ(prog[0].src_reg, BPF_REG_1);
  EXPECT_EQ(prog.back().code, BPF_JMP | BPF_EXIT);
  EXPECT_EQ(prog[prog.size() - 2].code, BPF_ALU64 | BPF_MOV | BPF_K);
  EXPECT_EQ(prog[prog.size() - 2].dst_reg, BPF_REG_0);
  // Every jump lands inside the program, forwards (no loops).
  for (size_t pc = 0; pc < prog.size(); ++pc) {
    const auto& i = prog[pc];
    if (BPF_CLASS(i.code) != BPF_JMP || BPF_OP(i.code) == BPF_EXIT) continue;
    EXPECT_GE(i.off, 0) << "at " << pc;
    EXPECT_LT(pc + 1 + i.off, prog.size()) << "at " << pc;
  }
}

TEST(DeviceBpfProgram, CatchAllRuleEndsTheWalk) {
  // "a *:* rwm" last: nothing before it matters; the program is the prologue and one verdict.
  auto prog = cg::build_device_program({rule(true, "c", 1, 3, "rwm"), deny_all()});
  ASSERT_EQ(prog.size(), 8u);
  EXPECT_EQ(prog[6].imm, 0);
  prog = cg::build_device_program({deny_all(), allow_all()});
  ASSERT_EQ(prog.size(), 8u);
  EXPECT_EQ(prog[6].imm, 1);
}

TEST(DeviceBpfProgram, InvalidRulesThrow) {
  EXPECT_THROW(cg::build_device_program({rule(true, "x", 1, 3, "rwm")}), Error);
  EXPECT_THROW(cg::build_device_program({rule(true, "c", 1, 3, "rwx")}), Error);
  EXPECT_THROW(cg::build_device_program({rule(true, "c", int64_t{1} << 33, 3, "rwm")}), Error);
  EXPECT_THROW(cg::build_device_program({rule(true, "c", 1, int64_t{1} << 40, "r")}), Error);
  EXPECT_NO_THROW(cg::build_device_program({rule(true, "", {}, {}, "")}));
}

// ---- program behaviour (interpreted) ----

TEST(DeviceBpfProgram, DenyAllThenAllowNull) {
  std::vector<DeviceRule> rules = {deny_all(), rule(true, "c", 1, 3, "rwm")};
  EXPECT_EQ(run(rules, kChar, 1, 3, kR | kW), 1);
  EXPECT_EQ(run(rules, kChar, 1, 3, kM), 1);
  EXPECT_EQ(run(rules, kChar, 1, 5, kR), 0);
  EXPECT_EQ(run(rules, kBlock, 1, 3, kR), 0);
}

TEST(DeviceBpfProgram, AllowAllDenyZeroWrite) {
  std::vector<DeviceRule> rules = {allow_all(), rule(false, "c", 1, 5, "w")};
  EXPECT_EQ(run(rules, kChar, 1, 5, kR), 1);
  EXPECT_EQ(run(rules, kChar, 1, 5, kW), 0);
  EXPECT_EQ(run(rules, kChar, 1, 5, kR | kW), 0);  // a partial match of a deny rule denies
  EXPECT_EQ(run(rules, kChar, 1, 3, kR | kW), 1);
  EXPECT_EQ(run(rules, kBlock, 1, 5, kW), 1);
}

TEST(DeviceBpfProgram, LaterRuleOverridesEarlier) {
  std::vector<DeviceRule> rules = {deny_all(), rule(true, "c", 1, 5, "rwm"), rule(false, "c", 1, 5, "rwm"),
                                   rule(false, "c", 1, {}, "rw"), rule(true, "c", 1, 3, "rw")};
  EXPECT_EQ(run(rules, kChar, 1, 5, kR), 0);
  EXPECT_EQ(run(rules, kChar, 1, 3, kR | kW), 1);
  EXPECT_EQ(run(rules, kChar, 1, 3, kM), 0);  // "m" was never allowed
  EXPECT_EQ(run(rules, kChar, 1, 7, kR), 0);

  // An allow-all in the middle overrides everything before it, not after it.
  rules = {rule(true, "c", 1, 3, "rwm"), deny_all(), allow_all(), rule(false, "b", {}, {}, "m")};
  EXPECT_EQ(run(rules, kChar, 9, 9, kM), 1);
  EXPECT_EQ(run(rules, kBlock, 8, 0, kM), 0);
  EXPECT_EQ(run(rules, kBlock, 8, 0, kR | kW), 1);
}

TEST(DeviceBpfProgram, NoCatchAllMeansDefaultDeny) {
  std::vector<DeviceRule> rules = {rule(true, "c", 1, 3, "rwm")};
  EXPECT_EQ(run(rules, kChar, 1, 3, kR), 1);
  EXPECT_EQ(run(rules, kChar, 1, 5, kR), 0);
  EXPECT_EQ(run(rules, kBlock, 1, 3, kR), 0);
  rules = {rule(false, "c", 1, 3, "rwm")};
  EXPECT_EQ(run(rules, kChar, 1, 5, kR), 0);
}

TEST(DeviceBpfProgram, AccessBitsAreDecidedSeparately) {
  // "r" and "w" from two rules together allow "rw".
  std::vector<DeviceRule> rules = {deny_all(), rule(true, "c", 1, 3, "r"), rule(true, "c", 1, {}, "w")};
  EXPECT_EQ(run(rules, kChar, 1, 3, kR | kW), 1);
  EXPECT_EQ(run(rules, kChar, 1, 5, kR | kW), 0);
  EXPECT_EQ(run(rules, kChar, 1, 5, kW), 1);
  // A later "r" allow does not undo an earlier "w" deny.
  rules = {allow_all(), rule(false, "c", 1, 3, "rw"), rule(true, "c", 1, 3, "r")};
  EXPECT_EQ(run(rules, kChar, 1, 3, kR), 1);
  EXPECT_EQ(run(rules, kChar, 1, 3, kR | kW), 0);
}

TEST(DeviceBpfProgram, TypeAWithNumbersMatchesBothTypes) {
  std::vector<DeviceRule> rules = {deny_all(), rule(true, "a", 7, {}, "r")};
  EXPECT_EQ(run(rules, kChar, 7, 1, kR), 1);
  EXPECT_EQ(run(rules, kBlock, 7, 2, kR), 1);
  EXPECT_EQ(run(rules, kBlock, 8, 2, kR), 0);
  EXPECT_EQ(run(rules, kBlock, 7, 2, kW), 0);
}

TEST(DeviceBpfProgram, MatchesTheReferenceModel) {
  std::mt19937 rng(12345);
  auto pick = [&](int n) { return static_cast<int>(rng() % n); };
  const char* types[] = {"a", "b", "c", ""};
  const char* accesses[] = {"r", "w", "m", "rw", "rm", "wm", "rwm", ""};
  const uint32_t majors[] = {1, 5, 7}, minors[] = {0, 3, 5};
  for (int round = 0; round < 400; ++round) {
    std::vector<DeviceRule> rules;
    int n = 1 + pick(6);
    for (int k = 0; k < n; ++k) {
      std::optional<int64_t> major, minor;
      if (pick(3)) major = majors[pick(3)];
      if (pick(3)) minor = pick(4) ? std::optional<int64_t>(minors[pick(3)]) : std::optional<int64_t>(-1);
      rules.push_back(rule(pick(2), types[pick(4)], major, minor, accesses[pick(8)]));
    }
    auto prog = cg::build_device_program(rules);
    for (uint32_t type : {kBlock, kChar})
      for (uint32_t major : majors)
        for (uint32_t minor : minors)
          for (uint32_t access = 1; access <= 7; ++access) {
            int got = run(prog, type, major, minor, access);
            ASSERT_EQ(got, model(rules, type, major, minor, access) ? 1 : 0)
                << "round " << round << " type " << type << " " << major << ":" << minor << " access " << access;
          }
  }
}

// ---- in the kernel ----

namespace {

bool is_cgroup2(const std::string& dir) {
  struct statfs fs;
  return ::statfs(dir.c_str(), &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC;
}

std::vector<std::string> lines_of(const std::string& path) {
  std::vector<std::string> out;
  std::string text;
  try {
    text = hoist::read_file(path);
  } catch (const Error&) {
    return out;
  }
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    if (nl > start) out.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

// A scratch cgroup, removed whatever happens: processes left in it go back to the root first.
class TestCgroup {
 public:
  TestCgroup(const std::string& root, const std::string& tag)
      : root_(root), dir_(root + "/hoist-bpftest-" + std::to_string(::getpid()) + "-" + tag) {
    remove();  // a leftover of a crashed run
    if (::mkdir(dir_.c_str(), 0755) != 0) hoist::throw_sys("mkdir", dir_);
  }
  ~TestCgroup() { remove(); }
  TestCgroup(const TestCgroup&) = delete;
  TestCgroup& operator=(const TestCgroup&) = delete;
  const std::string& dir() const { return dir_; }

 private:
  void remove() {
    for (int attempt = 0; attempt < 50; ++attempt) {
      for (const auto& pid : lines_of(dir_ + "/cgroup.procs")) {
        try {
          hoist::write_file(root_ + "/cgroup.procs", pid);
        } catch (const Error&) {
        }
      }
      if (::rmdir(dir_.c_str()) == 0 || errno == ENOENT) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ADD_FAILURE() << "could not remove " << dir_ << ": " << std::strerror(errno);
  }

  std::string root_, dir_;
};

// One thing the child tries: returns 0 or an errno.
struct Check {
  std::string what;
  std::function<int()> op;
  int expect;  // 0 = must succeed, else the errno it must fail with
};

Check open_check(const char* path, int flags, int expect) {
  std::string mode = flags == O_RDONLY ? "O_RDONLY" : flags == O_WRONLY ? "O_WRONLY" : "O_RDWR";
  return {std::string("open ") + path + " " + mode, [=] {
            int fd = ::open(path, flags | O_CLOEXEC);
            if (fd < 0) return errno;
            ::close(fd);
            return 0;
          },
          expect};
}

Check mknod_check(const std::string& path, mode_t type, unsigned major, unsigned minor, int expect) {
  return {"mknod " + path, [=] {
            ::unlink(path.c_str());
            if (::mknod(path.c_str(), type | 0600, makedev(major, minor)) != 0) return errno;
            ::unlink(path.c_str());
            return 0;
          },
          expect};
}

// Forks a child that joins the cgroup and runs the checks; "" if all came out as expected,
// else what went wrong (reported by the child through a pipe, and its exit code).
std::string run_in_cgroup(const std::string& dir, const std::vector<Check>& checks) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return "pipe failed";
  pid_t pid = ::fork();
  if (pid < 0) return "fork failed";
  if (pid == 0) {
    ::close(p[0]);
    auto fail = [&](const std::string& msg, int code) {
      (void)!::write(p[1], msg.data(), msg.size());
      ::_exit(code);
    };
    int fd = ::open((dir + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0 || ::write(fd, "0", 1) != 1) fail("joining " + dir + ": " + std::strerror(errno), 100);
    ::close(fd);
    for (size_t k = 0; k < checks.size(); ++k) {
      int err = checks[k].op();
      if (err != checks[k].expect)
        fail(checks[k].what + ": got " + (err ? std::strerror(err) : "success") + ", want " +
                 (checks[k].expect ? std::strerror(checks[k].expect) : "success"),
             static_cast<int>(k + 1));
    }
    ::_exit(0);
  }
  ::close(p[1]);
  std::string msg;
  char buf[256];
  ssize_t n;
  while ((n = ::read(p[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
    if (n > 0) msg.append(buf, n);
  ::close(p[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return "";
  if (msg.empty()) msg = "child status " + std::to_string(status);
  return msg;
}

// A program of our own making that allows everything, under another name ("someone else's").
hoist::UniqueFd load_foreign_program() {
  bpf_insn insns[2] = {};
  insns[0].code = BPF_ALU64 | BPF_MOV | BPF_K;
  insns[0].dst_reg = BPF_REG_0;
  insns[0].imm = 1;
  insns[1].code = BPF_JMP | BPF_EXIT;
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  attr.insns = reinterpret_cast<uintptr_t>(insns);
  attr.insn_cnt = 2;
  attr.license = reinterpret_cast<uintptr_t>("Apache");
  std::strcpy(attr.prog_name, "foreign");
  return hoist::UniqueFd(static_cast<int>(::syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof attr)));
}

class DeviceBpfKernel : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    root_ = cg::Layout::detect().unified;
    if (root_.empty() || !is_cgroup2(root_)) GTEST_SKIP() << "no cgroup2 mount";
  }
  std::string root_;
};

// Applies the rules; a bpf() refused with EPERM skips the test.
#define APPLY_OR_SKIP(dir, rules)                                                    \
  do {                                                                               \
    try {                                                                            \
      cg::apply_device_rules_v2(dir, rules);                                         \
    } catch (const hoist::SysError& e) {                                             \
      if (e.code() == EPERM) GTEST_SKIP() << "bpf() not permitted: " << e.what();   \
      throw;                                                                         \
    }                                                                                \
  } while (0)

}  // namespace

TEST_F(DeviceBpfKernel, DenyAllThenAllowNull) {
  TestCgroup c(root_, "null");
  APPLY_OR_SKIP(c.dir(), (std::vector<DeviceRule>{deny_all(), rule(true, "c", 1, 3, "rwm")}));
  EXPECT_EQ(cg::attached_device_programs(c.dir()).size(), 1u);
  EXPECT_EQ(run_in_cgroup(c.dir(), {open_check("/dev/null", O_RDWR, 0), open_check("/dev/zero", O_RDONLY, EPERM)}), "");
}

TEST_F(DeviceBpfKernel, AllowAllDenyZeroWrite) {
  TestCgroup c(root_, "zero");
  APPLY_OR_SKIP(c.dir(), (std::vector<DeviceRule>{allow_all(), rule(false, "c", 1, 5, "w")}));
  EXPECT_EQ(run_in_cgroup(c.dir(), {open_check("/dev/zero", O_RDONLY, 0), open_check("/dev/zero", O_WRONLY, EPERM),
                                    open_check("/dev/zero", O_RDWR, EPERM), open_check("/dev/null", O_RDWR, 0)}),
            "");
}

TEST_F(DeviceBpfKernel, LaterRuleOverridesEarlier) {
  TestCgroup c(root_, "order");
  APPLY_OR_SKIP(c.dir(), (std::vector<DeviceRule>{deny_all(), rule(true, "c", 1, 5, "rwm"), rule(false, "c", 1, 5, "rwm"),
                                                  rule(false, "c", 1, 3, "rwm"), rule(true, "c", 1, 3, "r")}));
  EXPECT_EQ(run_in_cgroup(c.dir(), {open_check("/dev/zero", O_RDONLY, EPERM), open_check("/dev/null", O_RDONLY, 0),
                                    open_check("/dev/null", O_WRONLY, EPERM)}),
            "");
}

TEST_F(DeviceBpfKernel, MknodAccess) {
  char tmpl[] = "/tmp/hoist-bpftest-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string tmp = tmpl;
  struct Cleanup {
    std::string d;
    ~Cleanup() { hoist::remove_all(d); }
  } cleanup{tmp};
  std::string node = tmp + "/node";
  if (::mknod(node.c_str(), S_IFCHR | 0600, makedev(1, 3)) != 0) GTEST_SKIP() << "no mknod here: " << std::strerror(errno);
  ::unlink(node.c_str());

  TestCgroup c(root_, "mknod");
  APPLY_OR_SKIP(c.dir(), (std::vector<DeviceRule>{allow_all(), rule(false, "c", {}, {}, "m")}));
  EXPECT_EQ(run_in_cgroup(c.dir(), {mknod_check(node, S_IFCHR, 1, 3, EPERM), mknod_check(node, S_IFBLK, 7, 200, 0),
                                    open_check("/dev/null", O_RDWR, 0)}),
            "");
}

TEST_F(DeviceBpfKernel, ReapplyReplacesTheProgram) {
  TestCgroup c(root_, "reapply");
  APPLY_OR_SKIP(c.dir(), (std::vector<DeviceRule>{deny_all(), rule(true, "c", 1, 3, "rwm")}));
  auto first = cg::attached_device_programs(c.dir());
  ASSERT_EQ(first.size(), 1u);
  std::vector<DeviceRule> second = {allow_all(), rule(false, "c", 1, 3, "rwm")};
  cg::apply_device_rules_v2(c.dir(), second);
  cg::apply_device_rules_v2(c.dir(), second);
  auto now = cg::attached_device_programs(c.dir());
  ASSERT_EQ(now.size(), 1u);
  EXPECT_NE(now[0], first[0]);
  EXPECT_EQ(run_in_cgroup(c.dir(), {open_check("/dev/null", O_RDONLY, EPERM), open_check("/dev/zero", O_RDWR, 0)}), "");
  // No rules: what is attached stays.
  cg::apply_device_rules_v2(c.dir(), {});
  EXPECT_EQ(cg::attached_device_programs(c.dir()), now);
}

TEST_F(DeviceBpfKernel, ForeignProgramsStayAttached) {
  TestCgroup c(root_, "foreign");
  hoist::UniqueFd foreign = load_foreign_program();
  if (!foreign && errno == EPERM) GTEST_SKIP() << "bpf() not permitted";
  ASSERT_TRUE(foreign) << std::strerror(errno);
  hoist::UniqueFd dirfd(::open(c.dir().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(dirfd);
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.target_fd = dirfd.get();
  attr.attach_bpf_fd = foreign.get();
  attr.attach_type = BPF_CGROUP_DEVICE;
  attr.attach_flags = BPF_F_ALLOW_MULTI;
  ASSERT_EQ(::syscall(SYS_bpf, BPF_PROG_ATTACH, &attr, sizeof attr), 0) << std::strerror(errno);
  auto before = cg::attached_device_programs(c.dir());
  ASSERT_EQ(before.size(), 1u);

  APPLY_OR_SKIP(c.dir(), (std::vector<DeviceRule>{deny_all(), rule(true, "c", 1, 3, "rwm")}));
  cg::apply_device_rules_v2(c.dir(), {allow_all(), rule(false, "c", 1, 5, "rwm")});
  auto after = cg::attached_device_programs(c.dir());
  EXPECT_EQ(after.size(), 2u);
  EXPECT_NE(std::find(after.begin(), after.end(), before[0]), after.end());
  // Both must allow: ours decides.
  EXPECT_EQ(run_in_cgroup(c.dir(), {open_check("/dev/zero", O_RDONLY, EPERM), open_check("/dev/null", O_RDWR, 0)}), "");
}

TEST_F(DeviceBpfKernel, ErrorsNameTheOperationAndCgroup) {
  std::string missing = root_ + "/hoist-bpftest-" + std::to_string(::getpid()) + "-missing";
  try {
    cg::apply_device_rules_v2(missing, {deny_all()});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "open " + missing + ": No such file or directory");
  }
  // Invalid rules fail before anything is loaded.
  TestCgroup c(root_, "invalid");
  EXPECT_THROW(cg::apply_device_rules_v2(c.dir(), {rule(true, "q", 1, 1, "r")}), Error);
  EXPECT_TRUE(cg::attached_device_programs(c.dir()).empty());
}

TEST_F(DeviceBpfKernel, V2ManagerApplyAttachesTheFilter) {
  std::string path = "/hoist-bpftest-" + std::to_string(::getpid()) + "-mgr";
  TestCgroup c(root_, "mgr");  // the same directory; removed whatever happens
  ASSERT_EQ(c.dir(), root_ + path);
  cg::Layout layout;
  layout.unified = root_;
  auto m = cg::open(layout, path);
  m->create();
  hoist::oci::Resources r;
  r.devices = {deny_all(), rule(true, "c", 1, 3, "rwm")};
  try {
    m->apply(r);
  } catch (const hoist::SysError& e) {
    if (e.code() == EPERM) GTEST_SKIP() << e.what();
    throw;
  }
  auto ids = cg::attached_device_programs(c.dir());
  EXPECT_EQ(ids.size(), 1u);
  m->apply(r);
  EXPECT_EQ(cg::attached_device_programs(c.dir()).size(), 1u);
  m->apply(hoist::oci::Resources{});  // no device rules: the filter stays
  EXPECT_EQ(cg::attached_device_programs(c.dir()).size(), 1u);
  EXPECT_EQ(run_in_cgroup(c.dir(), {open_check("/dev/null", O_RDWR, 0), open_check("/dev/zero", O_RDONLY, EPERM)}), "");
}

TEST_F(DeviceBpfKernel, HybridHostUsesTheV1Controller) {
  auto detected = cg::Layout::detect();
  auto dev = detected.v1.find("devices");
  if (dev == detected.v1.end()) GTEST_SKIP() << "no v1 devices controller (not a hybrid host)";
  std::string path = "/hoist-bpftest-" + std::to_string(::getpid()) + "-hybrid";
  TestCgroup c(root_, "hybrid");
  cg::Layout layout;
  layout.unified = root_;
  layout.v1 = {{"devices", dev->second}};
  auto m = cg::open(layout, path);
  struct Destroy {
    cg::Manager* m;
    ~Destroy() {
      try {
        m->destroy();
      } catch (const Error&) {
      }
    }
  } destroy{m.get()};
  m->create();
  hoist::oci::Resources r;
  r.devices = {deny_all(), rule(true, "c", 1, 3, "rwm")};
  m->apply(r);
  EXPECT_TRUE(cg::attached_device_programs(c.dir()).empty());
  EXPECT_EQ(hoist::read_file(dev->second + path + "/devices.list"), "c 1:3 rwm\n");
}
