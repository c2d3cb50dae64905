// Behaviour of an OCI runtime seen from inside and outside its containers. These tests run the
// runtime named by $HOIST_TEST_RUNTIME (default: our hoist-runtime), so runc must pass them too.
#include <fcntl.h>
#include <sys/capability.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "harness.h"

namespace hoist::test {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

void set_args(json& j, const std::string& script) { j["process"]["args"] = {"sh", "-c", script}; }

// A new user namespace: container ids 0-65535 are host ids 100000-165535.
void add_userns(json& j) {
  j["linux"]["namespaces"].push_back({{"type", "user"}});
  j["linux"]["uidMappings"] = {{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}};
  j["linux"]["gidMappings"] = j["linux"]["uidMappings"];
}

void add_tmpfs(json& j, const std::string& dest, const std::string& size = "size=16m") {
  j["mounts"].push_back({{"destination", dest}, {"type", "tmpfs"}, {"source", "tmpfs"}, {"options", {"nosuid", size}}});
}

std::string status_line(const std::string& out, const std::string& key) {
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0) {
      auto v = line.substr(key.size());
      return v.substr(v.find_first_not_of(" \t"));
    }
  return "";
}

class Runtime : public RuntimeFixture {};

TEST_F(Runtime, ProcessIsPid1WithTheConfiguredHostname) {
  auto r = run_container("pid1", [](json& j) {
    j["hostname"] = "box-one";
    set_args(j, "echo pid=$$; hostname");
  });
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "pid=1\nbox-one\n");
}

TEST_F(Runtime, ExitCodeOfTheProcessIsTheExitCodeOfRun) {
  auto r = run_container("exitcode", [](json& j) { set_args(j, "exit 42"); });
  EXPECT_EQ(r.code, 42) << r.err;
}

TEST_F(Runtime, MountTableHasTheConfiguredMounts) {
  auto r = run_container("mounts", [](json& j) { set_args(j, "cat /proc/self/mountinfo"); });
  ASSERT_EQ(r.code, 0) << r.err;
  // field 5 is the mount point, then options; after " - " the type.
  auto has = [&](const std::string& point, const std::string& type) {
    std::istringstream in(r.out);
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream f(line);
      std::string a, b, c, d, mp;
      f >> a >> b >> c >> d >> mp;
      auto dash = line.find(" - ");
      if (mp == point && dash != std::string::npos && line.substr(dash + 3, type.size()) == type) return line;
    }
    return std::string();
  };
  EXPECT_NE(has("/proc", "proc"), "") << r.out;
  EXPECT_NE(has("/dev", "tmpfs"), "") << r.out;
  EXPECT_NE(has("/dev/pts", "devpts"), "") << r.out;
  EXPECT_NE(has("/dev/shm", "tmpfs"), "") << r.out;
  EXPECT_NE(has("/dev/mqueue", "mqueue"), "") << r.out;
  std::string sys = has("/sys", "sysfs");
  ASSERT_NE(sys, "") << r.out;
  EXPECT_NE(sys.find(" ro,"), std::string::npos) << sys;
  std::string root = has("/", "");
  ASSERT_NE(root, "") << r.out;
  EXPECT_NE(root.find(" ro,"), std::string::npos) << "root should be read-only: " << root;
}

TEST_F(Runtime, EffectiveCapabilitiesAreExactlyTheConfiguredSet) {
  json caps = {"CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"};
  auto r = run_container("caps", [&](json& j) {
    j["process"]["capabilities"] = {{"bounding", caps}, {"effective", caps}, {"permitted", caps}};
    set_args(j, "grep -E '^Cap(Eff|Bnd|Prm)' /proc/self/status");
  });
  ASSERT_EQ(r.code, 0) << r.err;
  unsigned long long want = (1ULL << CAP_CHOWN) | (1ULL << CAP_KILL) | (1ULL << CAP_NET_RAW);
  char hex[32];
  snprintf(hex, sizeof hex, "%016llx", want);
  EXPECT_EQ(status_line(r.out, "CapEff:"), hex) << r.out;
  EXPECT_EQ(status_line(r.out, "CapPrm:"), hex) << r.out;
  EXPECT_EQ(status_line(r.out, "CapBnd:"), hex) << r.out;
}

TEST_F(Runtime, SeccompFilterDeniesWithTheConfiguredErrno) {
  // Twice: hoist-runtime compiles the profile once and loads the stored program the second time
  // (its seccomp cache under --root); both runs must enforce it alike.
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE("run " + std::to_string(round + 1));
    auto r = run_container("seccomp" + std::to_string(round), [](json& j) {
      add_tmpfs(j, "/tmp");
      j["linux"]["seccomp"] = {
          {"defaultAction", "SCMP_ACT_ALLOW"},
          {"architectures", {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86"}},
          {"syscalls", {{{"names", {"mkdir", "mkdirat"}}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", 38}}}}};
      set_args(j, "grep '^Seccomp:' /proc/self/status; mkdir /tmp/x 2>&1; echo rc=$?; touch /tmp/y && echo touched");
    });
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(status_line(r.out, "Seccomp:"), "2") << r.out;
    EXPECT_NE(r.out.find("Function not implemented"), std::string::npos) << r.out;  // ENOSYS = 38
    EXPECT_NE(r.out.find("rc=1"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("touched"), std::string::npos) << r.out;
  }
  if (runtime_is_hoist()) {
    std::error_code ec;
    int programs = 0;
    for (auto& f : std::filesystem::directory_iterator(root_ + "/seccomp-cache", ec))
      programs += f.path().extension() == ".bpf";
    EXPECT_EQ(programs, 1) << "one stored program for the one profile";
  }
}

TEST_F(Runtime, MemoryLimitKillsTheProcessThatExceedsIt) {
  // tmpfs pages are charged to the writer's memory cgroup; there is no swap to escape to.
  auto r = run_container("oom", [](json& j) {
    add_tmpfs(j, "/fill", "size=256m");
    j["linux"]["resources"]["memory"] = {{"limit", 32 << 20}, {"swap", 32 << 20}};
    set_args(j, "cat /sys/fs/cgroup/memory/memory.limit_in_bytes; exec dd if=/dev/zero of=/fill/x bs=1M count=100");
  }, 60);
  EXPECT_EQ(r.out, std::to_string(32 << 20) + "\n") << r.err;
  EXPECT_EQ(r.code, 137) << "the writer should have been OOM-killed: " << r.out << r.err;
}

TEST_F(Runtime, PidsLimitStopsForks) {
  auto r = run_container("pids", [](json& j) {
    j["linux"]["resources"]["pids"] = {{"limit", 5}};
    set_args(j, "cat /sys/fs/cgroup/pids/pids.max; for i in 1 2 3 4 5 6 7 8 9 10; do sleep 2 & done; wait");
  });
  EXPECT_EQ(r.out, "5\n") << r.err;
  EXPECT_NE(r.err.find("fork"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("Resource temporarily unavailable"), std::string::npos) << r.err;
}

TEST_F(Runtime, ReadOnlyRootfsRefusesWrites) {
  auto r = run_container("rofs", [](json& j) { set_args(j, "touch /newfile 2>&1; echo rc=$?"); });
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("Read-only file system"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("rc=1"), std::string::npos) << r.out;
}

TEST_F(Runtime, MaskedPathsShowNothingAndReadonlyPathsRefuseWrites) {
  auto r = run_container("masked", [](json& j) {
    j["linux"]["maskedPaths"].push_back("/proc/version");
    set_args(j, "echo version=$(cat /proc/version); echo firmware=$(ls /sys/firmware | wc -l); "
                "(echo 1 > /proc/sys/kernel/ns_last_pid) 2>&1; echo rc=$?");
  });
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("version=\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("firmware=0\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Read-only file system"), std::string::npos) << r.out;
}

// A read-only path keeps the nosuid, nodev and noexec of the mount it binds (as docker's /proc).
TEST_F(Runtime, ReadonlyPathsKeepNosuidNodevNoexec) {
  auto r = run_container("rosys", [](json& j) {
    for (auto& m : j["mounts"])
      if (m["destination"] == "/proc") m["options"] = {"nosuid", "noexec", "nodev"};
    set_args(j, "grep ' /proc/sys ' /proc/self/mountinfo");
  });
  ASSERT_EQ(r.code, 0) << r.err;
  std::istringstream f(r.out);
  std::string id, parent, dev, root, point, opts;
  f >> id >> parent >> dev >> root >> point >> opts;
  ASSERT_EQ(point, "/proc/sys") << r.out;
  for (const char* o : {"ro", "nosuid", "nodev", "noexec"})
    EXPECT_NE(("," + opts + ",").find(std::string(",") + o + ","), std::string::npos) << o << " missing: " << r.out;
}

// runc's guard (CVE-2019-16884, CVE-2019-19921): nothing but proc over /proc, nothing below it
// but the files lxcfs emulates, also when the destination reaches /proc through a symlink.
TEST_F(Runtime, MountsOverProcAreRefused) {
  auto refused = [&](const std::string& id, const std::string& rootfs, const json& m, const std::string& why) {
    auto r = run_container(id, [&](json& j) {
      if (!rootfs.empty()) j["root"]["path"] = rootfs;
      j["mounts"].push_back(m);
      set_args(j, "echo ran");
    });
    EXPECT_NE(r.code, 0) << id << ": " << r.out;
    EXPECT_EQ(r.out.find("ran"), std::string::npos) << id;
    EXPECT_NE(r.err.find("cannot be mounted because it is " + why), std::string::npos) << id << ": " << r.err;
  };
  auto bind = [](const std::string& src, const std::string& dst) {
    return json{{"destination", dst}, {"type", "bind"}, {"source", src}, {"options", {"rbind"}}};
  };
  refused("onproc", "", bind(dir_, "/proc"), "not of type proc");
  refused("onsys", "", bind(dir_, "/proc/sys"), "inside /proc");
  refused("onsysdot", "", bind(dir_, "/proc/./sys/"), "inside /proc");
  if (runtime_is_hoist()) {  // runc 1.1 checks bind mounts only; 1.2 every type
    refused("tmpfs", "", {{"destination", "/proc/sys/kernel"}, {"type", "tmpfs"}, {"source", "tmpfs"}}, "inside /proc");
    refused("sysfs", "", {{"destination", "/proc/sys"}, {"type", "sysfs"}, {"source", "sysfs"}}, "inside /proc");
  }
  // A rootfs of our own with /evil -> /proc/sys.
  std::string rootfs = dir_ + "/rootfs-link";
  ASSERT_EQ(run_cmd({"cp", "-a", busybox_rootfs(), rootfs}).code, 0);
  fs::create_symlink("/proc/sys", rootfs + "/evil");
  refused("symlink", rootfs, bind(dir_, "/evil"), "inside /proc");
  // Over the files lxcfs emulates: allowed.
  std::ofstream(dir_ + "/cpuinfo") << "fake cpuinfo\n";
  auto ok = run_container("lxcfs", [&](json& j) {
    j["mounts"].push_back(bind(dir_ + "/cpuinfo", "/proc/cpuinfo"));
    set_args(j, "cat /proc/cpuinfo");
  });
  EXPECT_EQ(ok.code, 0) << ok.err;
  EXPECT_EQ(ok.out, "fake cpuinfo\n");
}

TEST_F(Runtime, UserNamespaceMapsRootToAnUnprivilegedHostId) {
  auto r = run_container("userns", [](json& j) {
    add_userns(j);
    set_args(j, "cat /proc/self/uid_map /proc/self/gid_map; id -u; ls -ln /bin/busybox");
  });
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("0     100000      65536"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\n0\n"), std::string::npos) << r.out;
  // Host root owns the rootfs; it is not mapped, so the overflow id shows.
  EXPECT_NE(r.out.find("65534"), std::string::npos) << r.out;
}

TEST_F(Runtime, ExecJoinsTheUserNamespace) {
  std::string b = make_bundle("usexec", [](json& j) {
    add_userns(j);
    j["process"]["args"] = {"sleep", "100"};
  });
  track("usexec");
  ASSERT_EQ(rt({"run", "--detach", "--bundle", b, "usexec"}).code, 0);
  auto r = rt({"exec", "usexec", "sh", "-c", "id -u; cat /proc/self/uid_map"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("0\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("100000"), std::string::npos) << r.out;
  auto u = rt({"exec", "--user", "1000:1000", "usexec", "id"});
  ASSERT_EQ(u.code, 0) << u.err;
  EXPECT_EQ(u.out, "uid=1000 gid=1000\n");
}

TEST_F(Runtime, LifeCycleCreateStartKillDelete) {
  std::string b = make_bundle("life", [](json& j) { j["process"]["args"] = {"sleep", "100"}; });
  track("life");
  auto c = rt({"create", "--bundle", b, "--pid-file", dir_ + "/pid", "life"});
  ASSERT_EQ(c.code, 0) << c.err;
  json s = state("life");
  EXPECT_EQ(s["status"], "created") << s;
  EXPECT_EQ(s["id"], "life");
  int pid = s["pid"].get<int>();
  EXPECT_GT(pid, 0);
  std::string pidfile;
  std::ifstream(dir_ + "/pid") >> pidfile;
  EXPECT_EQ(pidfile, std::to_string(pid));
  EXPECT_EQ(fs::canonical(s["bundle"].get<std::string>()), fs::canonical(b));

  EXPECT_NE(rt({"create", "--bundle", b, "life"}).code, 0) << "a second container with the same id";
  auto ls = rt({"list", "--format", "json"});
  ASSERT_EQ(ls.code, 0) << ls.err;
  json all = json::parse(ls.out);
  ASSERT_EQ(all.size(), 1u) << ls.out;
  EXPECT_EQ(all[0]["id"], "life");
  EXPECT_EQ(all[0]["status"], "created");
  EXPECT_EQ(rt({"list", "-q"}).out, "life\n");
  ASSERT_EQ(rt({"start", "life"}).code, 0);
  EXPECT_EQ(state("life")["status"], "running");
  EXPECT_NE(rt({"start", "life"}).code, 0) << "start twice";
  EXPECT_NE(rt({"delete", "life"}).code, 0) << "delete of a running container without --force";

  ASSERT_EQ(rt({"kill", "life", "KILL"}).code, 0);
  EXPECT_EQ(wait_status("life", "stopped"), "stopped");
  EXPECT_NE(rt({"kill", "life", "KILL"}).code, 0) << "kill of a stopped container";
  ASSERT_EQ(rt({"delete", "life"}).code, 0);
  EXPECT_NE(rt({"state", "life"}).code, 0) << "state after delete";
  // Gone, or a zombie waiting for whoever inherited it: not running in any case.
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string pidf, comm, st_field;
  if (stat >> pidf >> comm >> st_field) {
    EXPECT_EQ(st_field, "Z") << "init process still running";
  }
}

TEST_F(Runtime, ExecRunsInTheContainersNamespaces) {
  std::string b = make_bundle("exec", [](json& j) {
    j["hostname"] = "exec-box";
    j["process"]["args"] = {"sleep", "100"};
  });
  track("exec");
  ASSERT_EQ(rt({"run", "--detach", "--bundle", b, "exec"}).code, 0);
  auto r = rt({"exec", "exec", "sh", "-c", "hostname; cat /proc/1/cmdline | tr '\\0' ' '; echo; echo $$"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("exec-box\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("sleep 100"), std::string::npos) << r.out;
  auto code = rt({"exec", "exec", "sh", "-c", "exit 7"});
  EXPECT_EQ(code.code, 7) << code.err;
  auto ps = rt({"ps", "--format", "json", "exec"});
  ASSERT_EQ(ps.code, 0) << ps.err;
  EXPECT_EQ(json::parse(ps.out).size(), 1u) << ps.out;
  EXPECT_EQ(rt({"delete", "--force", "exec"}).code, 0);
}

TEST_F(Runtime, TerminalGoesThroughTheConsoleSocket) {
  std::string sock = dir_ + "/console.sock";
  int ls = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  strcpy(addr.sun_path, sock.c_str());
  ASSERT_EQ(bind(ls, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(ls, 1), 0);
  int master = -1;
  std::thread receiver([&] {
    int c = accept(ls, nullptr, nullptr);
    if (c < 0) return;
    char buf[256];
    struct iovec iov{buf, sizeof buf};
    alignas(cmsghdr) char cbuf[CMSG_SPACE(sizeof(int))];
    struct msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf;
    msg.msg_controllen = sizeof cbuf;
    if (recvmsg(c, &msg, 0) > 0)
      if (auto* cm = CMSG_FIRSTHDR(&msg); cm && cm->cmsg_type == SCM_RIGHTS) memcpy(&master, CMSG_DATA(cm), sizeof(int));
    close(c);
  });
  std::string b = make_bundle("tty", [](json& j) {
    j["process"]["terminal"] = true;
    set_args(j, "tty; echo columns=$(stty size)");
    j["process"]["consoleSize"] = {{"height", 30}, {"width", 100}};
  });
  track("tty");
  auto c = rt({"create", "--console-socket", sock, "--bundle", b, "tty"});
  receiver.join();
  close(ls);
  ASSERT_EQ(c.code, 0) << c.err;
  ASSERT_GE(master, 0) << "no pty master received";
  ASSERT_EQ(rt({"start", "tty"}).code, 0);
  std::string out;
  char buf[1024];
  ssize_t n;
  while ((n = read(master, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  close(master);
  EXPECT_NE(out.find("/dev/pts/"), std::string::npos) << out;
  EXPECT_NE(out.find("columns=30 100"), std::string::npos) << out;
}

TEST_F(Runtime, ForegroundRunWithATerminalRelaysItsOutput) {
  std::string b = make_bundle("fgtty", [](json& j) {
    j["process"]["terminal"] = true;
    set_args(j, "tty; test -t 0 && echo stdin-is-a-tty");
  });
  track("fgtty");
  // As from an interactive shell: the runtime itself runs on a terminal (script(1) gives it one).
  std::string cmd = runtime_path() + " --root " + root_ + " run --bundle " + b + " fgtty";
  auto r = run_cmd({"script", "-qefc", cmd, "/dev/null"});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("/dev/pts/0"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("stdin-is-a-tty"), std::string::npos) << r.out;
}

// Whatever the runtime blocks or ignores for itself (signal forwarding in `run`, SIGPIPE while it
// feeds hooks) must not reach the container's process: both survive execve.
TEST_F(Runtime, ProcessStartsWithNoBlockedOrIgnoredSignals) {
  auto r = run_container("signals", [](json& j) {
    j["hooks"] = {{"startContainer", {{{"path", "/bin/true"}}}}};
    j["process"]["args"] = {"grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"};
  });
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n");
}

TEST_F(Runtime, HooksGetTheStateOnStdin) {
  std::string out = dir_ + "/hooks";
  fs::create_directories(out);
  auto hook = [&](const std::string& name) {
    return json{{"path", "/bin/sh"}, {"args", {"sh", "-c", "cat > " + out + "/" + name + ".json"}}};
  };
  auto r = run_container("hooks", [&](json& j) {
    j["hooks"] = {{"prestart", {hook("prestart")}}, {"poststart", {hook("poststart")}}, {"poststop", {hook("poststop")}}};
    set_args(j, "true");
  });
  ASSERT_EQ(r.code, 0) << r.err;
  for (std::string k : {"prestart", "poststart", "poststop"}) {
    std::ifstream f(out + "/" + k + ".json");
    ASSERT_TRUE(f.good()) << k << " hook did not run";
    json s = json::parse(f);
    EXPECT_EQ(s["id"], "hooks") << k;
    if (k != "poststop") {
      EXPECT_GT(s.value("pid", 0), 0) << k;  // the spec wants a pid while it runs
    }
    EXPECT_TRUE(s.contains("bundle")) << k;
  }
}

TEST_F(Runtime, MissingExecutableIsReportedByName) {
  auto r = run_container("noexec", [](json& j) { j["process"]["args"] = {"/no/such/binary"}; });
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("/no/such/binary"), std::string::npos) << r.err;
  EXPECT_NE(rt({"state", "noexec"}).code, 0) << "a failed run must leave no container behind";
}

// CVE-2019-5736: a process in the container holds /proc/<init>/exe and writes through it once the
// runtime has gone. The runtime binary must not be writable that way.
TEST_F(Runtime, RuntimeBinaryCannotBeOverwrittenThroughProcExe) {
  std::string b = make_bundle("exe", [](json& j) { j["process"]["args"] = {"sleep", "100"}; });
  track("exe");
  ASSERT_EQ(rt({"create", "--bundle", b, "exe"}).code, 0);
  int pid = state("exe")["pid"].get<int>();
  int fd = open(("/proc/" + std::to_string(pid) + "/exe").c_str(), O_PATH | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(rt({"delete", "--force", "exe"}).code, 0);
  int w = open(("/proc/self/fd/" + std::to_string(fd)).c_str(), O_WRONLY | O_CLOEXEC);
  bool wrote = false;
  if (w >= 0) {
    // Write back the byte that is there: harmless if the protection is missing.
    char c;
    int r = open(("/proc/self/fd/" + std::to_string(fd)).c_str(), O_RDONLY | O_CLOEXEC);
    if (r >= 0 && pread(r, &c, 1, 0) == 1) wrote = pwrite(w, &c, 1, 0) == 1;
    if (r >= 0) close(r);
    close(w);
  }
  close(fd);
  EXPECT_FALSE(wrote) << "the runtime binary was writable through /proc/<pid>/exe";
}

}  // namespace
}  // namespace hoist::test

namespace hoist::test {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

class RuntimeMore : public RuntimeFixture {
 protected:
  bool cgroup_exists(const std::string& id) {
    for (auto& h : fs::directory_iterator("/sys/fs/cgroup"))
      if (fs::exists(h.path().string() + cgroup_parent() + "/" + id)) return true;
    return false;
  }
};

TEST_F(RuntimeMore, PauseFreezesAndResumeThaws) {
  std::string b = make_bundle("frz", [](json& j) { j["process"]["args"] = {"sleep", "100"}; });
  track("frz");
  ASSERT_EQ(rt({"run", "--detach", "--bundle", b, "frz"}).code, 0);
  ASSERT_EQ(rt({"pause", "frz"}).code, 0);
  EXPECT_EQ(state("frz")["status"], "paused");
  int pid = state("frz")["pid"].get<int>();
  std::ifstream st("/proc/" + std::to_string(pid) + "/stat");
  std::string a, b2, s;
  st >> a >> b2 >> s;
  EXPECT_TRUE(s == "D" || s == "S") << "frozen task state " << s;
  EXPECT_NE(rt({"exec", "frz", "true"}).code, 0) << "exec into a paused container";
  EXPECT_NE(rt({"pause", "frz"}).code, 0) << "pause twice";
  ASSERT_EQ(rt({"resume", "frz"}).code, 0);
  EXPECT_EQ(state("frz")["status"], "running");
  EXPECT_EQ(rt({"exec", "frz", "true"}).code, 0);
  EXPECT_EQ(rt({"delete", "--force", "frz"}).code, 0);
  EXPECT_FALSE(cgroup_exists("frz")) << "cgroup left after delete";
}

// The init and an exec'd process are in the container's cgroup in every hierarchy, whichever
// way they got there: moved by the runtime (a user namespace), or moving themselves into the v1
// hierarchies and born in the cgroup2 one.
TEST_F(RuntimeMore, InitAndExecAreInTheCgroupOfEveryHierarchy) {
  for (bool userns : {false, true}) {
    std::string id = userns ? "cgus" : "cgin";
    SCOPED_TRACE(id);
    std::string b = make_bundle(id, [&](json& j) {
      if (userns) add_userns(j);
      j["process"]["args"] = {"sleep", "100"};
    });
    track(id);
    ASSERT_EQ(rt({"run", "--detach", "--bundle", b, id}).code, 0);
    auto r = rt({"exec", "--detach", "--pid-file", dir_ + "/" + id + ".exec", id, "sleep", "100"});
    ASSERT_EQ(r.code, 0) << r.err;
    std::string exec_pid;
    std::ifstream(dir_ + "/" + id + ".exec") >> exec_pid;
    std::string want = cgroup_parent() + "/" + id;
    for (std::string pid : {std::to_string(state(id)["pid"].get<int>()), exec_pid}) {
      std::ifstream in("/proc/" + pid + "/cgroup");
      std::string line;
      int lines = 0;
      while (std::getline(in, line)) {
        ++lines;
        auto path = line.substr(line.find(':', line.find(':') + 1) + 1);
        EXPECT_EQ(path, want) << "process " << pid << ": " << line;
      }
      EXPECT_GT(lines, 0) << "process " << pid;
    }
    EXPECT_EQ(rt({"delete", "--force", id}).code, 0);
    EXPECT_FALSE(cgroup_exists(id)) << "cgroup left after delete";
  }
}

TEST_F(RuntimeMore, KillAllSignalsEveryProcess) {
  std::string b = make_bundle("kall", [](json& j) {
    j["process"]["args"] = {"sh", "-c", "sleep 100 & sleep 100 & wait"};
  });
  track("kall");
  ASSERT_EQ(rt({"run", "--detach", "--bundle", b, "kall"}).code, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto ps = rt({"ps", "--format", "json", "kall"});
  ASSERT_EQ(ps.code, 0) << ps.err;
  EXPECT_EQ(json::parse(ps.out).size(), 3u) << ps.out;
  ASSERT_EQ(rt({"kill", "--all", "kall", "KILL"}).code, 0);
  EXPECT_EQ(wait_status("kall", "stopped"), "stopped");
  EXPECT_EQ(rt({"delete", "kall"}).code, 0);
}

TEST_F(RuntimeMore, FailedCreateLeavesNothingBehind) {
  std::string b = make_bundle("bad", [](json& j) {
    j["mounts"].push_back({{"destination", "/mnt"}, {"type", "bind"}, {"source", "/no/such/source"}, {"options", {"bind"}}});
  });
  track("bad");
  auto r = rt({"create", "--bundle", b, "bad"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("/no/such/source"), std::string::npos) << r.err;
  EXPECT_NE(rt({"state", "bad"}).code, 0);
  EXPECT_FALSE(cgroup_exists("bad")) << "cgroup left after a failed create";
}

// kill -9 of `create` half-way (here: while a prestart hook runs) leaves nothing that
// `delete --force` cannot clean up: no process of the container, no cgroup.
TEST_F(RuntimeMore, CreateKilledHalfWayIsCleanedUpByDelete) {
  if (!runtime_is_hoist()) GTEST_SKIP() << "runc 1.1 forgets the cgroup of a create killed during a hook";
  std::string flag = dir_ + "/hook-started";
  std::string b = make_bundle("killed", [&](json& j) {
    // The hook waits forever, named by the flag file so that the test can end it.
    j["hooks"] = {{"prestart", {{{"path", "/bin/sh"}, {"args", {"sh", "-c", "touch " + flag + "; exec tail -f " + flag}}}}}};
    j["process"]["args"] = {"sleep", "100"};
  });
  track("killed");
  pid_t pid = fork();
  if (pid == 0) {
    execlp(runtime_path().c_str(), "runtime", "--root", root_.c_str(), "create", "--bundle", b.c_str(), "killed", nullptr);
    _exit(127);
  }
  for (int i = 0; i < 500 && !fs::exists(flag); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_TRUE(fs::exists(flag)) << "the hook never ran";
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  auto d = rt({"delete", "--force", "killed"});
  EXPECT_NE(rt({"state", "killed"}).code, 0) << "still known after delete: " << d.err;
  // Processes of the container would still be in its cgroup.
  EXPECT_FALSE(cgroup_exists("killed")) << "cgroup left behind (with the init still in it?)";
  // The orphaned hook is the test's to end.
  for (auto& p : fs::directory_iterator("/proc")) {
    std::ifstream f(p.path() / "cmdline");
    std::string cmd((std::istreambuf_iterator<char>(f)), {});
    if (cmd.find(flag) != std::string::npos && cmd.rfind("tail", 0) == 0) kill(std::stoi(p.path().filename()), SIGKILL);
  }
}

TEST_F(RuntimeMore, FailingPrestartHookStopsTheContainer) {
  std::string b = make_bundle("hookfail", [](json& j) {
    j["hooks"] = {{"prestart", {{{"path", "/bin/false"}}}}};
    j["process"]["args"] = {"true"};
  });
  track("hookfail");
  auto r = rt({"run", "--bundle", b, "hookfail"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(rt({"state", "hookfail"}).code, 0);
  EXPECT_FALSE(cgroup_exists("hookfail"));
}

TEST_F(RuntimeMore, UnsettableOomScoreAdjIsReportedWithItsCause) {
  if (!runtime_is_hoist()) GTEST_SKIP() << "runc hides the cause";
  // This host's root lacks CAP_SYS_RESOURCE; where it has it, lowering works and there is no error.
  auto r = run_container("oomadj", [](json& j) {
    j["process"]["oomScoreAdj"] = -999;
    j["process"]["args"] = {"cat", "/proc/self/oom_score_adj"};
  });
  if (r.code == 0) {
    EXPECT_EQ(r.out, "-999\n");
  } else {
    EXPECT_NE(r.err.find("oom_score_adj"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("CAP_SYS_RESOURCE"), std::string::npos) << r.err;
  }
}

TEST_F(RuntimeMore, JoinsANamespaceByPath) {
  // A first container's network and uts namespaces, joined by a second.
  std::string b1 = make_bundle("ns1", [](json& j) {
    j["hostname"] = "owner";
    j["process"]["args"] = {"sleep", "100"};
  });
  track("ns1");
  ASSERT_EQ(rt({"run", "--detach", "--bundle", b1, "ns1"}).code, 0);
  int pid = state("ns1")["pid"].get<int>();
  auto r = run_container("ns2", [&](json& j) {
    for (auto& ns : j["linux"]["namespaces"])
      if (ns["type"] == "uts" || ns["type"] == "network") ns["path"] = "/proc/" + std::to_string(pid) + "/ns/" + (ns["type"] == "uts" ? "uts" : "net");
    j.erase("hostname");
    j["process"]["args"] = {"sh", "-c", "hostname; readlink /proc/self/ns/net"};
  });
  ASSERT_EQ(r.code, 0) << r.err;
  std::string net = fs::read_symlink("/proc/" + std::to_string(pid) + "/ns/net");
  EXPECT_EQ(r.out, "owner\n" + net + "\n");
}

}  // namespace
}  // namespace hoist::test

namespace hoist::test {
namespace {

using nlohmann::json;

class RuntimeConfig : public RuntimeFixture {};

TEST_F(RuntimeConfig, UserGroupsUmaskRlimitsAndNoNewPrivs) {
  auto r = run_container("user", [](json& j) {
    j["process"]["user"] = {{"uid", 1000}, {"gid", 1001}, {"additionalGids", {2000, 2001}}, {"umask", 63}};
    j["process"]["rlimits"] = {{{"type", "RLIMIT_NOFILE"}, {"hard", 1000}, {"soft", 500}}};
    j["process"]["noNewPrivileges"] = true;
    j["process"]["args"] = {"sh", "-c", "id; umask; ulimit -n; ulimit -Hn; grep NoNewPrivs /proc/self/status"};
  });
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "uid=1000 gid=1001 groups=2000,2001\n0077\n500\n1000\nNoNewPrivs:\t1\n");
}

TEST_F(RuntimeConfig, SysctlsDevicesAndCgroupLimitsAreApplied) {
  auto r = run_container("knobs", [](json& j) {
    j["linux"]["sysctl"] = {{"net.ipv4.ip_forward", "1"}};
    j["linux"]["devices"] = {{{"path", "/dev/fuse"}, {"type", "c"}, {"major", 10}, {"minor", 229}, {"fileMode", 0600}}};
    j["linux"]["resources"]["cpu"] = {{"shares", 512}, {"quota", 50000}, {"period", 100000}, {"cpus", "0"}};
    j["process"]["args"] = {"sh", "-c",
                            "cat /proc/sys/net/ipv4/ip_forward; stat -c '%F %t:%T %a' /dev/fuse; "
                            "cat /sys/fs/cgroup/cpu/cpu.shares /sys/fs/cgroup/cpu/cpu.cfs_quota_us "
                            "/sys/fs/cgroup/cpu/cpu.cfs_period_us /sys/fs/cgroup/cpuset/cpuset.cpus; "
                            "ls -l /dev/ptmx /dev/fd | sed 's/.* -> //'"};
  });
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "1\ncharacter special file a:e5 600\n512\n50000\n100000\n0\n/proc/self/fd\npts/ptmx\n");
}

TEST_F(RuntimeConfig, RecursiveReadOnlyBindCoversSubmounts) {
  if (!runtime_is_hoist()) GTEST_SKIP() << "runc 1.1 has no rro";
  // A host tree with a submount, bind-mounted "rbind,rro": the submount must be read-only too.
  // The submount lives in a private mount namespace of the test's own (unshare -m).
  std::string src = dir_ + "/tree";
  std::filesystem::create_directories(src + "/sub");
  std::string b = make_bundle("rro", [&](json& j) {
    j["mounts"].push_back({{"destination", "/mnt"}, {"type", "bind"}, {"source", src}, {"options", {"rbind", "rro"}}});
    j["process"]["args"] = {"sh", "-c", "touch /mnt/sub/x 2>&1; echo rc=$?"};
  });
  track("rro");
  std::string inner = "mount -t tmpfs t " + src + "/sub && exec " + runtime_path() + " --root " + root_ +
                      " run --bundle " + b + " rro";
  auto r = run_cmd({"unshare", "-m", "--propagation", "private", "/bin/sh", "-c", inner});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("Read-only file system"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("rc=1"), std::string::npos) << r.out;
}

TEST_F(RuntimeConfig, PreservedFdsReachTheProcess) {
  std::string b = make_bundle("fds", [](json& j) { j["process"]["args"] = {"sh", "-c", "cat <&3; cat <&4"}; });
  track("fds");
  std::string cmd = "exec 3</proc/version 4<<EOF\nfour\nEOF\n" + runtime_path() + " --root " + root_ +
                    " run --preserve-fds 2 --bundle " + b + " fds";
  auto r = run_cmd({"/bin/sh", "-c", cmd});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.substr(0, 13), "Linux version");
  EXPECT_NE(r.out.find("four\n"), std::string::npos) << r.out;
}

TEST_F(RuntimeConfig, NoPivotUsesChroot) {
  std::string b = make_bundle("nopivot", [](json& j) { j["process"]["args"] = {"sh", "-c", "ls /bin/busybox && echo ok"}; });
  track("nopivot");
  auto r = rt({"run", "--no-pivot", "--bundle", b, "nopivot"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "/bin/busybox\nok\n");
}

TEST_F(RuntimeConfig, TimeNamespaceOffsetsTheBoottimeClock) {
  if (!runtime_is_hoist()) GTEST_SKIP() << "time namespaces are newer than runc 1.1";
  auto r = run_container("timens", [](json& j) {
    j["linux"]["namespaces"].push_back({{"type", "time"}});
    j["linux"]["timeOffsets"] = {{"boottime", {{"secs", 10000000}, {"nanosecs", 0}}}};
    j["process"]["args"] = {"cat", "/proc/uptime"};
  });
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_GT(std::stod(r.out), 10000000.0) << r.out;
}

TEST_F(RuntimeConfig, AnAppArmorProfileThatCannotBeAppliedIsAnError) {
  if (std::filesystem::exists("/sys/kernel/security/apparmor")) GTEST_SKIP() << "AppArmor is enabled here";
  auto r = run_container("aa", [](json& j) {
    j["process"]["apparmorProfile"] = "no-such-profile";
    j["process"]["args"] = {"echo", "unconfined"};
  });
  EXPECT_NE(r.code, 0);
  EXPECT_EQ(r.out.find("unconfined"), std::string::npos) << "ran without the requested confinement";
  if (runtime_is_hoist()) {
    EXPECT_NE(r.err.find("no-such-profile"), std::string::npos) << r.err;
  }
}

// CVE-2024-21626: a directory fd the runtime inherited must not become the process's way out.
TEST_F(RuntimeConfig, CwdThroughAnInheritedFdCannotLeaveTheRoot) {
  std::string host = dir_ + "/host-dir";
  std::filesystem::create_directories(host);
  std::ofstream(host + "/host-marker") << "x";
  std::string b = make_bundle("cwdfd", [](json& j) {
    j["process"]["cwd"] = "/proc/self/fd/7";
    j["process"]["args"] = {"ls"};
  });
  track("cwdfd");
  std::string cmd = "exec 7<" + host + "; exec " + runtime_path() + " --root " + root_ + " run --bundle " + b + " cwdfd";
  auto r = run_cmd({"/bin/sh", "-c", cmd});
  EXPECT_EQ(r.out.find("host-marker"), std::string::npos) << "the container saw the host directory";
  EXPECT_NE(r.code, 0) << r.out;
}

TEST_F(RuntimeConfig, HookTimeoutFailsTheCreate) {
  std::string b = make_bundle("hooktime", [](json& j) {
    j["hooks"] = {{"createRuntime", {{{"path", "/bin/sleep"}, {"args", {"sleep", "10"}}, {"timeout", 1}}}}};
  });
  track("hooktime");
  auto start = std::chrono::steady_clock::now();
  auto r = rt({"create", "--bundle", b, "hooktime"});
  EXPECT_NE(r.code, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(8));
  EXPECT_NE(rt({"state", "hooktime"}).code, 0);
}

TEST_F(RuntimeConfig, SpecWritesAConfigThatRuns) {
  std::string b = dir_ + "/spec";
  std::filesystem::create_directories(b);
  auto s = run_cmd({runtime_path(), "spec", "--bundle", b});
  ASSERT_EQ(s.code, 0) << s.err;
  json j = json::parse(std::ifstream(b + "/config.json"));
  EXPECT_EQ(j["root"]["path"], "rootfs");
  EXPECT_TRUE(j["process"]["terminal"].get<bool>());
  EXPECT_NE(run_cmd({runtime_path(), "spec", "--bundle", b}).code, 0) << "overwrote an existing config.json";
  j["root"]["path"] = busybox_rootfs();
  j["process"]["terminal"] = false;
  j["process"]["args"] = {"echo", "from spec"};
  j["linux"]["cgroupsPath"] = cgroup_parent() + "/fromspec";
  std::ofstream(b + "/config.json") << j.dump();
  track("fromspec");
  auto r = rt({"run", "--bundle", b, "fromspec"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "from spec\n");
}

}  // namespace
}  // namespace hoist::test
