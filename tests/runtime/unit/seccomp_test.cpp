// SeccompFilter: translation (checked through the pfc text), errors, and real filters
// loaded in forked children (no root needed: the child sets no_new_privs first).
#include "runtime/seccomp.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <seccomp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <string>

#include "common/error.h"
#include "common/fd.h"

namespace hoist::runtime {
namespace {

using oci::Seccomp;
using oci::SeccompArg;
using oci::SeccompSyscall;

SeccompSyscall rule(std::vector<std::string> names, std::string action, std::optional<unsigned> err = {},
                    std::vector<SeccompArg> args = {}) {
  SeccompSyscall s;
  s.names = std::move(names);
  s.action = std::move(action);
  s.errno_ret = err;
  s.args = std::move(args);
  return s;
}

SeccompArg arg(unsigned index, std::string op, uint64_t value, uint64_t value_two = 0) {
  SeccompArg a;
  a.index = index;
  a.op = std::move(op);
  a.value = value;
  a.value_two = value_two;
  return a;
}

Seccomp profile(std::string def, std::vector<SeccompSyscall> rules = {}) {
  Seccomp s;
  s.default_action = std::move(def);
  s.syscalls = std::move(rules);
  return s;
}

std::string pfc_of(const Seccomp& s) { return SeccompFilter::build(s).pfc(); }

// The pfc block for one syscall on the native arch: from its header to the next header or the default.
std::string section(const std::string& pfc, const std::string& name) {
  const auto start = pfc.find("# filter for syscall \"" + name + "\"");
  if (start == std::string::npos) return {};
  auto end = pfc.find("# filter for syscall", start + 1);
  end = std::min(end, pfc.find("# default action", start));
  return pfc.substr(start, end - start);
}

// The action printed after "# default action" (first arch block).
std::string default_action_line(const std::string& pfc) {
  const auto p = pfc.find("# default action\n");
  if (p == std::string::npos) return {};
  const auto line = p + std::strlen("# default action\n");
  std::string l = pfc.substr(line, pfc.find('\n', line) - line);
  return l.substr(l.find_first_not_of(' '));
}

size_t count(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (auto p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + 1)) ++n;
  return n;
}

std::string error_of(const Seccomp& s) {
  try {
    SeccompFilter::build(s);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

// ---- translation ----

TEST(SeccompTranslate, DefaultAction) {
  EXPECT_EQ(default_action_line(pfc_of(profile("SCMP_ACT_ALLOW"))), "action ALLOW;");
  EXPECT_EQ(default_action_line(pfc_of(profile("SCMP_ACT_KILL_PROCESS"))), "action KILL_PROCESS;");
  EXPECT_EQ(default_action_line(pfc_of(profile("SCMP_ACT_ERRNO"))), "action ERRNO(1);");  // EPERM
  auto s = profile("SCMP_ACT_ERRNO");
  s.default_errno_ret = 38;
  EXPECT_EQ(default_action_line(pfc_of(s)), "action ERRNO(38);");
}

TEST(SeccompTranslate, EveryRuleAction) {
  struct Case {
    const char* action;
    std::optional<unsigned> err;
    const char* def;
    const char* expect;
  };
  const Case cases[] = {
      {"SCMP_ACT_KILL", {}, "SCMP_ACT_ALLOW", "action KILL;"},
      {"SCMP_ACT_KILL_THREAD", {}, "SCMP_ACT_ALLOW", "action KILL;"},
      {"SCMP_ACT_KILL_PROCESS", {}, "SCMP_ACT_ALLOW", "action KILL_PROCESS;"},
      {"SCMP_ACT_TRAP", {}, "SCMP_ACT_ALLOW", "action TRAP;"},
      {"SCMP_ACT_ERRNO", {}, "SCMP_ACT_ALLOW", "action ERRNO(1);"},
      {"SCMP_ACT_ERRNO", 13, "SCMP_ACT_ALLOW", "action ERRNO(13);"},
      {"SCMP_ACT_TRACE", {}, "SCMP_ACT_ALLOW", "action TRACE(1);"},
      {"SCMP_ACT_TRACE", 7, "SCMP_ACT_ALLOW", "action TRACE(7);"},
      {"SCMP_ACT_ALLOW", {}, "SCMP_ACT_ERRNO", "action ALLOW;"},
      {"SCMP_ACT_LOG", {}, "SCMP_ACT_ALLOW", "action LOG;"},
      {"SCMP_ACT_NOTIFY", {}, "SCMP_ACT_ALLOW", "action 0x7fc00000;"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.action);
    const auto f = SeccompFilter::build(profile(c.def, {rule({"mkdir"}, c.action, c.err)}));
    const auto sec = section(f.pfc(), "mkdir");
    EXPECT_NE(sec.find(c.expect), std::string::npos) << sec;
    EXPECT_EQ(f.uses_notify(), std::string(c.action) == "SCMP_ACT_NOTIFY");
  }
}

TEST(SeccompTranslate, ArgumentComparisons) {
  const auto pfc = pfc_of(profile("SCMP_ACT_ALLOW", {
      rule({"close"}, "SCMP_ACT_LOG", {}, {arg(1, "SCMP_CMP_EQ", 7)}),
      rule({"fstat"}, "SCMP_ACT_LOG", {}, {arg(1, "SCMP_CMP_GT", 7)}),
      rule({"stat"}, "SCMP_ACT_LOG", {}, {arg(1, "SCMP_CMP_GE", 7)}),
      rule({"umask"}, "SCMP_ACT_LOG", {}, {arg(0, "SCMP_CMP_MASKED_EQ", 0xff, 0x12)}),
      rule({"read"}, "SCMP_ACT_LOG", {}, {arg(2, "SCMP_CMP_NE", 9)}),
      rule({"write"}, "SCMP_ACT_LOG", {}, {arg(2, "SCMP_CMP_LT", 9)}),
      rule({"open"}, "SCMP_ACT_LOG", {}, {arg(2, "SCMP_CMP_LE", 9)}),
  }));
  EXPECT_NE(section(pfc, "close").find("if ($a1.lo32 == 7)"), std::string::npos) << pfc;
  EXPECT_NE(section(pfc, "fstat").find("if ($a1.lo32 > 7)"), std::string::npos) << pfc;
  EXPECT_NE(section(pfc, "stat").find("if ($a1.lo32 >= 7)"), std::string::npos) << pfc;
  // OCI value is the mask, valueTwo the value compared.
  EXPECT_NE(section(pfc, "umask").find("if ($a0.lo32 & 0x000000ff == 18)"), std::string::npos) << pfc;
  // NE/LT/LE are printed as the inverted test with the action on the else branch.
  for (const char* name : {"read", "write", "open"}) {
    const auto sec = section(pfc, name);
    EXPECT_NE(sec.find("$a2.lo32"), std::string::npos) << sec;
    EXPECT_NE(sec.find("9"), std::string::npos) << sec;
    EXPECT_NE(sec.find("else"), std::string::npos) << sec;
    EXPECT_NE(sec.find("action LOG;"), std::string::npos) << sec;
  }
  EXPECT_NE(section(pfc, "read").find("if ($a2.lo32 == 9)"), std::string::npos);
  EXPECT_NE(section(pfc, "write").find("if ($a2.lo32 >= 9)"), std::string::npos);
  EXPECT_NE(section(pfc, "open").find("if ($a2.lo32 > 9)"), std::string::npos);
}

TEST(SeccompTranslate, SameIndexArgsAreOred) {
  const auto sec = section(pfc_of(profile("SCMP_ACT_ALLOW", {rule({"getpgid"}, "SCMP_ACT_ERRNO", 13,
                                                                  {arg(0, "SCMP_CMP_EQ", 111), arg(0, "SCMP_CMP_EQ", 222)})})),
                           "getpgid");
  EXPECT_NE(sec.find("$a0.lo32 == 111"), std::string::npos) << sec;
  EXPECT_NE(sec.find("$a0.lo32 == 222"), std::string::npos) << sec;
  EXPECT_EQ(count(sec, "action ERRNO(13);"), 2u) << sec;  // one rule per condition
}

TEST(SeccompTranslate, DifferentIndexArgsAreAnded) {
  const auto sec = section(pfc_of(profile("SCMP_ACT_ALLOW", {rule({"getpriority"}, "SCMP_ACT_ERRNO", 13,
                                                                  {arg(0, "SCMP_CMP_EQ", 0), arg(1, "SCMP_CMP_EQ", 4242)})})),
                           "getpriority");
  EXPECT_NE(sec.find("$a0.lo32 == 0"), std::string::npos) << sec;
  EXPECT_NE(sec.find("$a1.lo32 == 4242"), std::string::npos) << sec;
  EXPECT_EQ(count(sec, "action ERRNO(13);"), 1u) << sec;  // one rule, nested conditions
}

TEST(SeccompTranslate, RuleEqualToDefaultIsSkipped) {
  auto s = profile("SCMP_ACT_ERRNO", {rule({"mkdir"}, "SCMP_ACT_ERRNO"), rule({"rmdir"}, "SCMP_ACT_ERRNO", 38)});
  const auto pfc = pfc_of(s);
  EXPECT_EQ(section(pfc, "mkdir"), "");  // ERRNO(1) == default ERRNO(1)
  EXPECT_NE(section(pfc, "rmdir").find("action ERRNO(38);"), std::string::npos) << pfc;
}

TEST(SeccompTranslate, UnknownSyscallSkipped) {
  const auto pfc = pfc_of(profile("SCMP_ACT_ALLOW", {rule({"hoist_no_such_syscall", "mkdir"}, "SCMP_ACT_ERRNO", 38)}));
  EXPECT_EQ(pfc.find("hoist_no_such_syscall"), std::string::npos);
  EXPECT_NE(section(pfc, "mkdir").find("action ERRNO(38);"), std::string::npos) << pfc;
}

TEST(SeccompTranslate, ArchitecturesAndFlags) {
#ifndef __x86_64__
  GTEST_SKIP() << "expects an x86_64 host";
#endif
  auto s = profile("SCMP_ACT_ALLOW", {rule({"mkdir"}, "SCMP_ACT_ERRNO", 38)});
  s.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"};  // native one: EEXIST ignored
  s.flags = {"SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"};
  const auto pfc = pfc_of(s);
  EXPECT_NE(pfc.find("# filter for arch x86 ("), std::string::npos) << pfc;
  EXPECT_NE(pfc.find("# filter for arch x32 ("), std::string::npos) << pfc;
  EXPECT_NE(pfc.find("# filter for syscall \"mkdir\" (39)"), std::string::npos) << pfc;  // i386 number
  for (const char* a : {"SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64", "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64N32",
                        "SCMP_ARCH_PPC64LE", "SCMP_ARCH_RISCV64"}) {
    s.architectures = {a};
    EXPECT_NO_THROW(SeccompFilter::build(s)) << a;
  }
  // A big-endian arch cannot share a filter with a little-endian one: libseccomp says EDOM.
  s.architectures = {"SCMP_ARCH_S390X"};
  EXPECT_EQ(error_of(s), "seccomp: add architecture \"SCMP_ARCH_S390X\": Numerical argument out of domain");
}

TEST(SeccompTranslate, MoveTransfersOwnership) {
  auto a = SeccompFilter::build(profile("SCMP_ACT_ALLOW", {rule({"chdir"}, "SCMP_ACT_NOTIFY")}));
  SeccompFilter b(std::move(a));
  EXPECT_TRUE(b.uses_notify());
  EXPECT_FALSE(a.uses_notify());
  EXPECT_THROW(a.pfc(), Error);
  a = std::move(b);
  EXPECT_NE(section(a.pfc(), "chdir"), "");
}

// ---- errors ----

TEST(SeccompErrors, NameWhatFailed) {
  EXPECT_EQ(error_of(profile("SCMP_ACT_FOO")), "seccomp: unknown action \"SCMP_ACT_FOO\"");
  EXPECT_EQ(error_of(profile("SCMP_ACT_ALLOW", {rule({"mkdir"}, "SCMP_ACT_FOO")})),
            "seccomp: unknown action \"SCMP_ACT_FOO\"");
  EXPECT_EQ(error_of(profile("SCMP_ACT_ALLOW", {rule({"mkdir"}, "SCMP_ACT_ERRNO", {}, {arg(0, "SCMP_CMP_XX", 1)})})),
            "seccomp: unknown operator \"SCMP_CMP_XX\"");
  EXPECT_EQ(error_of(profile("SCMP_ACT_ALLOW", {rule({"mkdir"}, "SCMP_ACT_ERRNO", {}, {arg(6, "SCMP_CMP_EQ", 1)})})),
            "seccomp: argument index 6 out of range (0-5)");
  auto s = profile("SCMP_ACT_ALLOW");
  s.architectures = {"SCMP_ARCH_VAX"};
  EXPECT_EQ(error_of(s), "seccomp: unknown architecture \"SCMP_ARCH_VAX\"");
  s = profile("SCMP_ACT_ALLOW");
  s.flags = {"SECCOMP_FILTER_FLAG_BOGUS"};
  EXPECT_EQ(error_of(s), "seccomp: unknown flag \"SECCOMP_FILTER_FLAG_BOGUS\"");
  // libseccomp refuses errno > 4095: the error names the syscall.
  EXPECT_EQ(error_of(profile("SCMP_ACT_ALLOW", {rule({"mkdir"}, "SCMP_ACT_ERRNO", 4096)})),
            "seccomp: add rule for \"mkdir\": Invalid argument");
  EXPECT_EQ(error_of(profile("SCMP_ACT_ALLOW", {rule({"mkdir"}, "SCMP_ACT_ERRNO", 70000)})),
            "seccomp: errnoRet 70000 out of range for \"SCMP_ACT_ERRNO\"");
  // As runc: NOTIFY would stop the runtime itself.
  EXPECT_EQ(error_of(profile("SCMP_ACT_NOTIFY")), "seccomp: SCMP_ACT_NOTIFY cannot be used as default action");
  EXPECT_EQ(error_of(profile("SCMP_ACT_ALLOW", {rule({"write"}, "SCMP_ACT_NOTIFY")})),
            "seccomp: SCMP_ACT_NOTIFY cannot be used for the write syscall");
}

// ---- behaviour: load in a forked child ----

// Runs body in a child with no_new_privs set; returns its exit code (or 128+signal).
int in_child(const std::function<int()>& body) {
  const pid_t pid = fork();
  if (pid < 0) throw_sys("fork");
  if (pid == 0) {
    int rc = 100;
    try {
      if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) _exit(99);
      rc = body();
    } catch (...) {
      rc = 98;
    }
    _exit(rc);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// True if the call failed with `err`.
bool fails_with(long rc, int err) { return rc == -1 && errno == err; }

TEST(SeccompLoad, ErrnoRuleBlocksMkdirOnly) {
  auto f = SeccompFilter::build(profile("SCMP_ACT_ALLOW", {rule({"mkdir", "mkdirat"}, "SCMP_ACT_ERRNO", 38)}));
  char dir[] = "/tmp/hoist-seccomp-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string sub = std::string(dir) + "/sub";
  const int rc = in_child([&] {
    if (f.load() != -1) return 1;
    if (!fails_with(mkdir(sub.c_str(), 0700), 38)) return 2;
    if (!fails_with(syscall(SYS_mkdirat, AT_FDCWD, sub.c_str(), 0700), 38)) return 3;
    if (syscall(SYS_getpid) != getpid() || getpid() <= 0) return 4;
    if (syscall(SYS_rmdir, sub.c_str()) != -1 || errno != ENOENT) return 5;  // other syscalls run
    return 0;
  });
  EXPECT_EQ(rc, 0);
  struct stat st;
  EXPECT_NE(stat(sub.c_str(), &st), 0);
  EXPECT_EQ(mkdir(sub.c_str(), 0700), 0);  // the parent has no filter
  rmdir(sub.c_str());
  rmdir(dir);
}

TEST(SeccompLoad, DefaultErrnoRetWithAllowList) {
  auto s = profile("SCMP_ACT_ERRNO", {rule({"exit", "exit_group", "getpid", "rt_sigreturn"}, "SCMP_ACT_ALLOW")});
  s.default_errno_ret = EACCES;
  s.flags = {"SECCOMP_FILTER_FLAG_TSYNC"};
  auto f = SeccompFilter::build(s);
  EXPECT_EQ(in_child([&] {
              if (f.load() != -1) return 1;
              if (syscall(SYS_getpid) <= 0) return 2;
              if (!fails_with(syscall(SYS_getppid), EACCES)) return 3;
              if (!fails_with(syscall(SYS_getuid), EACCES)) return 4;
              return 0;
            }),
            0);
}

TEST(SeccompLoad, ArgConditionMatchesOnlyThatValue) {
  auto f = SeccompFilter::build(
      profile("SCMP_ACT_ALLOW", {rule({"getpgid"}, "SCMP_ACT_ERRNO", EACCES, {arg(0, "SCMP_CMP_EQ", 54321)})}));
  EXPECT_EQ(in_child([&] {
              f.load();
              if (!fails_with(syscall(SYS_getpgid, 54321), EACCES)) return 1;
              if (syscall(SYS_getpgid, 0) < 0) return 2;
              if (syscall(SYS_getpgid, getpid()) < 0) return 3;
              return 0;
            }),
            0);
}

TEST(SeccompLoad, SameIndexOrAndDifferentIndexAnd) {
  auto f = SeccompFilter::build(profile(
      "SCMP_ACT_ALLOW",
      {rule({"getpgid"}, "SCMP_ACT_ERRNO", EACCES, {arg(0, "SCMP_CMP_EQ", 111111), arg(0, "SCMP_CMP_EQ", 222222)}),
       rule({"getpriority"}, "SCMP_ACT_ERRNO", EACCES, {arg(0, "SCMP_CMP_EQ", PRIO_PROCESS), arg(1, "SCMP_CMP_EQ", 424242)}),
       rule({"getsid"}, "SCMP_ACT_ERRNO", EACCES, {arg(0, "SCMP_CMP_MASKED_EQ", 0xff, 0x42)})}));
  EXPECT_EQ(in_child([&] {
              f.load();
              if (!fails_with(syscall(SYS_getpgid, 111111), EACCES)) return 1;
              if (!fails_with(syscall(SYS_getpgid, 222222), EACCES)) return 2;
              if (syscall(SYS_getpgid, 0) < 0) return 3;
              if (!fails_with(syscall(SYS_getpriority, PRIO_PROCESS, 424242), EACCES)) return 4;
              if (syscall(SYS_getpriority, PRIO_PROCESS, 0) < 0) return 5;
              errno = 0;
              if (syscall(SYS_getpriority, PRIO_PGRP, 424242) == -1 && errno == EACCES) return 6;
              if (!fails_with(syscall(SYS_getsid, 0x7742), EACCES)) return 7;  // low byte 0x42
              if (syscall(SYS_getsid, 0) < 0) return 8;
              return 0;
            }),
            0);
}

// ---- listener fd ----

struct Listener {
  std::string dir, path;
  UniqueFd fd;
  Listener() {
    char tmpl[] = "/tmp/hoist-seccomp-XXXXXX";
    if (!mkdtemp(tmpl)) throw_sys("mkdtemp");
    dir = tmpl;
    path = dir + "/agent.sock";
    fd.reset(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strcpy(a.sun_path, path.c_str());
    if (bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) < 0) throw_sys("bind", path);
    if (listen(fd.get(), 1) < 0) throw_sys("listen", path);
  }
  ~Listener() {
    unlink(path.c_str());
    rmdir(dir.c_str());
  }
  // Accepts one connection and reads the message and the fd it carries.
  std::pair<std::string, UniqueFd> receive(int timeout_ms = 10000) {
    pollfd p{fd.get(), POLLIN, 0};
    if (poll(&p, 1, timeout_ms) != 1) throw Error("listener: no connection");
    UniqueFd conn(accept4(fd.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn) throw_sys("accept", path);
    char buf[4096];
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
    iovec iov{buf, sizeof buf};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    const ssize_t n = recvmsg(conn.get(), &msg, MSG_CMSG_CLOEXEC);
    if (n < 0) throw_sys("recvmsg", path);
    UniqueFd got;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
        int v;
        std::memcpy(&v, CMSG_DATA(c), sizeof v);
        got.reset(v);
      }
    }
    return {std::string(buf, static_cast<size_t>(n)), std::move(got)};
  }
};

TEST(SeccompListener, SendsStateAndFd) {
  Listener l;
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  UniqueFd rd(p[0]), wr(p[1]);
  send_seccomp_listener_fd(l.path, wr.get(), R"({"id":"c1"})");
  auto [data, fd] = l.receive();
  EXPECT_EQ(data, R"({"id":"c1"})");
  ASSERT_TRUE(fd.valid());
  EXPECT_NE(fd.get(), wr.get());
  ASSERT_EQ(write(fd.get(), "x", 1), 1);  // the received fd is the pipe's write end
  char c = 0;
  ASSERT_EQ(read(rd.get(), &c, 1), 1);
  EXPECT_EQ(c, 'x');
}

TEST(SeccompListener, ErrorNamesPath) {
  try {
    send_seccomp_listener_fd("/nonexistent/hoist/agent.sock", 0, "{}");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "seccomp: connect to listener \"/nonexistent/hoist/agent.sock\": No such file or directory");
  }
}

// NOTIFY end to end: the child loads, hands its notify fd to the listener, then calls mkdir;
// the parent (the agent) answers EROFS.
TEST(SeccompLoad, NotifyFdReachesListener) {
  Listener l;
  auto f = SeccompFilter::build(profile("SCMP_ACT_ALLOW", {rule({"mkdir", "mkdirat"}, "SCMP_ACT_NOTIFY")}));
  ASSERT_TRUE(f.uses_notify());
  const std::string target = l.dir + "/made";
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    int rc = 0;
    try {
      if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) _exit(99);
      UniqueFd nfd(f.load());
      if (!nfd) _exit(1);
      send_seccomp_listener_fd(l.path, nfd.get(), R"({"pid":1})");
      nfd.reset();
      rc = fails_with(mkdir(target.c_str(), 0700), EROFS) ? 0 : 2;
    } catch (...) {
      rc = 98;
    }
    _exit(rc);
  }
  struct Reap {
    pid_t pid;
    int status = -1;
    ~Reap() {
      if (status == -1) {
        kill(pid, SIGKILL);
        waitpid(pid, nullptr, 0);
      }
    }
  } reap{pid};

  auto [data, nfd] = l.receive();
  EXPECT_EQ(data, R"({"pid":1})");
  ASSERT_TRUE(nfd.valid());
  pollfd p{nfd.get(), POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 10000), 1) << "no notification";
  seccomp_notif* req = nullptr;
  seccomp_notif_resp* resp = nullptr;
  ASSERT_EQ(seccomp_notify_alloc(&req, &resp), 0);
  ASSERT_EQ(seccomp_notify_receive(nfd.get(), req), 0);
  EXPECT_EQ(req->pid, static_cast<uint32_t>(pid));
#ifdef SYS_mkdir
  EXPECT_TRUE(req->data.nr == SYS_mkdir || req->data.nr == SYS_mkdirat) << req->data.nr;
#else
  EXPECT_EQ(req->data.nr, SYS_mkdirat);
#endif
  resp->id = req->id;
  resp->val = 0;
  resp->error = -EROFS;
  resp->flags = 0;
  EXPECT_EQ(seccomp_notify_respond(nfd.get(), resp), 0);
  seccomp_notify_free(req, resp);

  ASSERT_EQ(waitpid(pid, &reap.status, 0), pid);
  ASSERT_TRUE(WIFEXITED(reap.status)) << reap.status;
  EXPECT_EQ(WEXITSTATUS(reap.status), 0);
  struct stat st;
  EXPECT_NE(stat(target.c_str(), &st), 0);
}

}  // namespace
}  // namespace hoist::runtime
