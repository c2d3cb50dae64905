// The engines that drive runc drive our runtime too: podman (through conmon) and containerd
// (through its runc shim), each run fully isolated in the test's temp dir, with the image made by
// scripts/make-busybox-fixtures.sh. Like the other integration tests these run the runtime named
// by $HOIST_TEST_RUNTIME (default: our hoist-runtime), so runc must pass them too.
//
// Whatever a test leaves behind, TearDown removes: the engine's containers (through the engine),
// the containerd it started, any process whose command line names the temp dir (conmon, shims,
// podman's exit commands), the processes and cgroups under the test's cgroup parent, the mounts
// under the temp dir, and the shim sockets containerd keeps outside its state dir.
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"

namespace hoist::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const std::string kImage = "localhost/hoist-busybox:latest";  // the name the OCI fixture gives itself

// The absolute path of `name` (as on $PATH, or a path already), or "" if there is none.
std::string which(const std::string& name) {
  if (name.find('/') != std::string::npos) return access(name.c_str(), X_OK) == 0 ? fs::absolute(name).string() : "";
  const char* path = getenv("PATH");
  std::istringstream in(path ? path : "/usr/sbin:/usr/bin:/sbin:/bin");
  std::string d;
  while (std::getline(in, d, ':'))
    if (!d.empty() && access((d + "/" + name).c_str(), X_OK) == 0) return d + "/" + name;
  return "";
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}

std::string tail(const std::string& s, size_t n = 3000) { return s.size() > n ? s.substr(s.size() - n) : s; }

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// Processes (not this one) whose command line contains `needle`.
std::vector<pid_t> pids_with_cmdline(const std::string& needle) {
  std::vector<pid_t> pids;
  for (auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    pid_t pid = std::stoi(name);
    if (pid == getpid()) continue;
    std::string cmd = read_file(e.path() / "cmdline");
    std::replace(cmd.begin(), cmd.end(), '\0', ' ');
    if (cmd.find(needle) != std::string::npos) pids.push_back(pid);
  }
  return pids;
}

bool alive(pid_t pid) {
  std::ifstream st("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(st, line)) return false;
  auto rp = line.rfind(')');
  return rp != std::string::npos && rp + 2 < line.size() && line[rp + 2] != 'Z';
}

void wait_gone(const std::vector<pid_t>& pids, std::chrono::milliseconds max) {
  auto end = std::chrono::steady_clock::now() + max;
  while (std::chrono::steady_clock::now() < end &&
         std::any_of(pids.begin(), pids.end(), [](pid_t p) { return alive(p); }))
    std::this_thread::sleep_for(20ms);
}

// Every mount at or under `dir`, deepest first, lazily detached (mountinfo escapes ' ' as \040).
void unmount_under(const std::string& dir) {
  for (int pass = 0; pass < 5; ++pass) {
    std::vector<std::string> points;
    std::istringstream in(read_file("/proc/self/mountinfo"));
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream f(line);
      std::string a, b, c, d, mp, raw;
      f >> a >> b >> c >> d >> raw;
      for (size_t i = 0; i < raw.size(); ++i) {
        if (raw[i] == '\\' && i + 3 < raw.size()) {
          mp += static_cast<char>(std::stoi(raw.substr(i + 1, 3), nullptr, 8));
          i += 3;
        } else {
          mp += raw[i];
        }
      }
      if (mp == dir || mp.rfind(dir + "/", 0) == 0) points.push_back(mp);
    }
    if (points.empty()) return;
    std::sort(points.begin(), points.end(), [](auto& x, auto& y) { return x.size() > y.size(); });
    for (auto& p : points) umount2(p.c_str(), MNT_DETACH);
  }
}

// The cgroup `parent` in every hierarchy: thaw it, kill what is in it, remove it deepest first.
void remove_cgroup_tree(const std::string& parent) {
  std::vector<fs::path> dirs;
  std::error_code ec;
  for (auto& h : fs::directory_iterator("/sys/fs/cgroup", ec)) {
    fs::path top = h.path().string() + parent;
    if (!fs::is_directory(top, ec)) continue;
    dirs.push_back(top);
    for (auto it = fs::recursive_directory_iterator(top, ec); it != fs::recursive_directory_iterator(); it.increment(ec))
      if (it->is_directory(ec)) dirs.push_back(it->path());
  }
  if (dirs.empty()) return;
  for (auto& d : dirs) {
    if (fs::exists(d / "freezer.state")) std::ofstream(d / "freezer.state") << "THAWED";
    if (fs::exists(d / "cgroup.freeze")) std::ofstream(d / "cgroup.freeze") << "0";
  }
  std::vector<pid_t> pids;
  for (auto& d : dirs) {
    std::istringstream in(read_file(d / "cgroup.procs"));
    for (pid_t p; in >> p;) pids.push_back(p);
  }
  for (pid_t p : pids) kill(p, SIGKILL);
  wait_gone(pids, 3s);
  std::sort(dirs.begin(), dirs.end(), [](auto& x, auto& y) { return x.string().size() > y.string().size(); });
  for (auto& d : dirs) rmdir(d.c_str());
}

std::string sha256_hex(const std::string& s) {
  auto r = run_cmd({"sha256sum"}, s, 10);
  return r.out.substr(0, 64);
}

// The pids in the cgroup `path` of the pids hierarchy (v1) or the unified one.
std::string cgroup_procs(const std::string& path) {
  for (std::string h : {"/sys/fs/cgroup/pids", "/sys/fs/cgroup"})
    if (fs::exists(h + path + "/cgroup.procs")) return read_file(h + path + "/cgroup.procs");
  return "";
}

class Peers : public RuntimeFixture {
 protected:
  void SetUp() override {
    RuntimeFixture::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    runtime_ = which(runtime_path());
    ASSERT_FALSE(runtime_.empty()) << "runtime " << runtime_path() << " not found";
  }

  void TearDown() override {
    if (!dir_.empty()) {
      // Through the engines first, so that they tidy what they know about; then by force.
      for (auto it = cleanups_.rbegin(); it != cleanups_.rend(); ++it) (*it)();
      cleanups_.clear();
      stop_containerd();
      std::vector<pid_t> left = pids_with_cmdline(dir_ + "/");
      for (pid_t p : left) kill(p, SIGKILL);
      wait_gone(left, 3s);
      // Containers the runtime may still have state for: in the root containerd's shim was
      // given, and, for podman's, in the runtime's default root.
      std::error_code ec;
      for (auto& e : fs::directory_iterator(runc_root_ + "/" + ns_, ec))
        run_cmd({runtime_, "--root", runc_root_ + "/" + ns_, "delete", "--force", e.path().filename()}, "", 10);
      for (auto& e : fs::directory_iterator(dir_ + "/podman/storage/vfs-containers", ec)) {
        std::string id = e.path().filename();
        if (e.is_directory() && id.size() == 64 && id.find_first_not_of("0123456789abcdef") == std::string::npos)
          run_cmd({runtime_, "delete", "--force", id}, "", 10);
      }
      remove_cgroup_tree(cgroup_parent());
      unmount_under(dir_);
      // containerd 1.6 puts shim sockets in /run/containerd/s/, named by the hash of
      // address/namespace/id; a shim that was killed leaves its socket there.
      if (!sock_.empty())
        for (auto& id : ids_) {
          std::string s = "/run/containerd/s/" + sha256_hex(sock_ + "/" + ns_ + "/" + id);
          struct stat st;
          if (lstat(s.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) unlink(s.c_str());
        }
    }
    RuntimeFixture::TearDown();
  }

  // The OCI image archive: the shared fixture's, or, if that predates it, a private one.
  std::string oci_archive() {
    fs::path shared = fs::path(busybox_rootfs()).parent_path().parent_path() / "busybox-oci.tar";
    if (fs::exists(shared)) return shared;
    std::string own = dir_ + "/fixtures";
    auto r = run_cmd({std::string(HOIST_SOURCE_DIR) + "/scripts/make-busybox-fixtures.sh", own}, "", 120);
    EXPECT_EQ(r.code, 0) << r.err;
    return own + "/busybox-oci.tar";
  }

  // containerd, started by us and stopped by pid: SIGTERM, then SIGKILL after 5 s.
  pid_t start_containerd(const std::string& config, const std::string& log) {
    pid_t pid = fork();
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);  // dies with the test binary, however that ends
      int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (fd < 0 || null < 0) _exit(127);
      dup2(null, 0);
      dup2(fd, 1);
      dup2(fd, 2);
      setpgid(0, 0);
      execlp("containerd", "containerd", "--config", config.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    containerd_pid_ = pid;
    return pid;
  }

  void stop_containerd() {
    if (containerd_pid_ <= 0) return;
    kill(containerd_pid_, SIGTERM);
    int status;
    for (int i = 0; i < 250 && waitpid(containerd_pid_, &status, WNOHANG) == 0; ++i) std::this_thread::sleep_for(20ms);
    if (waitpid(containerd_pid_, &status, WNOHANG) == 0) {
      kill(containerd_pid_, SIGKILL);
      waitpid(containerd_pid_, &status, 0);
    }
    containerd_pid_ = -1;
  }

  // ---- podman ----

  // A podman that sees nothing of the host's: storage, state, locks, networks, volumes, config
  // and signature policy all live in dir_ (CONTAINERS_CONF replaces the host's containers.conf;
  // it also reaches conmon's exit command, which must agree on the lock type).
  void setup_podman() {
    std::string d = dir_ + "/podman";
    fs::create_directories(d + "/tmp");
    std::ofstream(d + "/containers.conf") << "[engine]\n"
                                          << "lock_type = \"file\"\n"
                                          << "static_dir = \"" << d << "/storage/libpod\"\n"
                                          << "tmp_dir = \"" << d << "/libpod\"\n"
                                          << "volume_path = \"" << d << "/volumes\"\n"
                                          << "image_copy_tmp_dir = \"" << d << "/tmp\"\n"
                                          << "events_logger = \"none\"\n"
                                          << "cgroup_manager = \"cgroupfs\"\n"
                                          << "[network]\n"
                                          << "network_config_dir = \"" << d << "/networks\"\n";
    std::ofstream(d + "/storage.conf") << "[storage]\ndriver = \"vfs\"\ngraphroot = \"" << d << "/storage\"\n"
                                       << "runroot = \"" << d << "/run\"\n";
    std::ofstream(d + "/registries.conf") << "unqualified-search-registries = []\n";
    std::ofstream(d + "/policy.json") << R"({"default": [{"type": "insecureAcceptAnything"}]})";
    podman_ = {"env",
               "CONTAINERS_CONF=" + d + "/containers.conf",
               "CONTAINERS_STORAGE_CONF=" + d + "/storage.conf",
               "CONTAINERS_REGISTRIES_CONF=" + d + "/registries.conf",
               "TMPDIR=" + d + "/tmp",
               "podman",
               "--root", d + "/storage",
               "--runroot", d + "/run",
               "--tmpdir", d + "/libpod",
               "--volumepath", d + "/volumes",
               "--network-config-dir", d + "/networks",
               "--storage-driver", "vfs",
               "--cgroup-manager", "cgroupfs",
               "--events-backend", "none",
               "--runtime", runtime_};
    // The runtime keeps its state in its default root: podman passes --runtime-flag to the
    // runtime, but not to the exit command conmon runs (`podman container cleanup`), whose
    // `delete` would then miss the container. Container ids are random; TearDown deletes by
    // force whatever ids podman's storage (in dir_) still knows.
    // Not `system reset`: it also deletes the static dir and every network of the configuration
    // in use, which on a host with its own containers.conf need not be ours. rm -af is enough;
    // everything else is in dir_.
    cleanups_.push_back([this] { podman({"rm", "--all", "--force", "--time", "0"}, 60); });
  }

  CmdResult podman(const std::vector<std::string>& args, int timeout_s = 30) {
    auto argv = podman_;
    argv.insert(argv.end(), args.begin(), args.end());
    return run_cmd(argv, "", timeout_s);
  }

  // `podman load` copies through c/image, which keeps a blob-info cache at the fixed path
  // /var/lib/containers/cache (for root; no flag or config moves it in podman 4.3) and unpacks
  // OCI archives in /var/tmp. It runs in a mount namespace of its own where both are empty
  // tmpfs; the image itself lands in our storage, which that namespace shares.
  CmdResult podman_load(const std::string& archive) {
    std::vector<std::string> argv{"unshare", "--mount", "--propagation", "private", "--", "sh", "-ec",
                                  "mount -t tmpfs -o mode=1777 tmpfs /var/tmp\n"
                                  "if [ -d /var/lib/containers ]; then mount -t tmpfs tmpfs /var/lib/containers\n"
                                  "else mount -t tmpfs tmpfs /var/lib; fi\n"
                                  "exec \"$@\"",
                                  "sh"};
    argv.insert(argv.end(), podman_.begin(), podman_.end());
    argv.insert(argv.end(), {"load", "--signature-policy", dir_ + "/podman/policy.json", "-i", archive});
    return run_cmd(argv, "", 60);
  }

  std::string status(const std::string& name) {
    return trim(podman({"inspect", "--format", "{{.State.Status}}", name}).out);
  }

  // ---- containerd ----

  // A containerd of our own: root, state, socket, opt dir and the runtime's root in dir_; no CRI,
  // no TCP; the snapshotters that would probe the host (modprobe, zfs, dm) are off.
  void setup_containerd() {
    std::string d = dir_ + "/containerd";
    fs::create_directories(d);
    sock_ = d + "/c.sock";
    ASSERT_LT(sock_.size() + std::string(".ttrpc").size(), 108u) << "socket path too long for sun_path: " << sock_;
    std::ofstream(d + "/config.toml")
        << "version = 2\n"
        << "root = \"" << d << "/root\"\n"
        << "state = \"" << d << "/state\"\n"
        << "disabled_plugins = [\"io.containerd.grpc.v1.cri\", \"io.containerd.snapshotter.v1.aufs\",\n"
        << "  \"io.containerd.snapshotter.v1.btrfs\", \"io.containerd.snapshotter.v1.zfs\",\n"
        << "  \"io.containerd.snapshotter.v1.devmapper\"]\n"
        << "[grpc]\n  address = \"" << sock_ << "\"\n  tcp_address = \"\"\n"
        << "[plugins.\"io.containerd.internal.v1.opt\"]\n  path = \"" << d << "/opt\"\n";
    runc_root_ = dir_ + "/runc";
    start_containerd(d + "/config.toml", d + "/log");
    cleanups_.push_back([this] {
      for (auto& id : ids_) {
        ctr({"task", "rm", "--force", id}, 20);
        ctr({"containers", "rm", id}, 20);
      }
    });
    auto end = std::chrono::steady_clock::now() + 15s;
    CmdResult v;
    while (std::chrono::steady_clock::now() < end) {
      v = ctr({"version"}, 5);
      if (v.code == 0) break;
      int st;
      ASSERT_EQ(waitpid(containerd_pid_, &st, WNOHANG), 0) << "containerd exited: " << tail(read_file(d + "/log"));
      std::this_thread::sleep_for(100ms);
    }
    ASSERT_EQ(v.code, 0) << "containerd does not answer: " << v.err << tail(read_file(d + "/log"));
  }

  CmdResult ctr(const std::vector<std::string>& args, int timeout_s = 30) {
    std::vector<std::string> argv{"ctr", "--address", sock_, "--namespace", ns_};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_cmd(argv, "", timeout_s);
  }

  std::vector<std::string> run_args(const std::string& id) {
    track(id);
    return {"--snapshotter", "native", "--runc-binary", runtime_, "--runc-root", runc_root_,
            "--fifo-dir", dir_ + "/fifo", "--cgroup", cgroup_parent() + "/" + id};
  }

  // Field `n` of the task's row in `ctr task ls` (TASK PID STATUS).
  std::string task_field(const std::string& id, int n) {
    std::istringstream in(ctr({"task", "ls"}).out);
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream f(line);
      std::string fields[3];
      if (f >> fields[0] >> fields[1] >> fields[2] && fields[0] == id) return fields[n];
    }
    return "";
  }
  std::string task_status(const std::string& id) { return task_field(id, 2); }

  std::string log() { return tail(read_file(dir_ + "/containerd/log")); }

  std::string runtime_;  // absolute path of the runtime under test
  std::vector<std::function<void()>> cleanups_;
  pid_t containerd_pid_ = -1;
  std::vector<std::string> podman_;
  std::string sock_, runc_root_, ns_ = "hoist-test";
};

TEST_F(Peers, PodmanDrivesTheRuntime) {
  if (which("podman").empty() || which("conmon").empty()) GTEST_SKIP() << "podman (and conmon) not installed";
  setup_podman();
  auto load = podman_load(oci_archive());
  ASSERT_EQ(load.code, 0) << load.out << load.err;
  EXPECT_NE(load.out.find("Loaded image: " + kImage), std::string::npos) << load.out;

  // This host's root lacks CAP_SYS_RESOURCE, so podman's default rlimits (nofile and nproc
  // 1048576, above our hard limits) cannot be set by any runtime, runc included: ask for less.
  const std::vector<std::string> flags = {"--network", "none", "--cgroup-parent", cgroup_parent(),
                                          "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"};
  auto with = [&](std::vector<std::string> pre, std::vector<std::string> post) {
    pre.insert(pre.end(), flags.begin(), flags.end());
    pre.insert(pre.end(), post.begin(), post.end());
    return pre;
  };

  auto run = podman(with({"run", "--rm", "--hostname", "podman-box"}, {kImage, "sh", "-c", "echo hello; hostname"}), 60);
  ASSERT_EQ(run.code, 0) << run.out << run.err;
  EXPECT_EQ(run.out, "hello\npodman-box\n");

  auto det = podman(with({"run", "-d", "--name", "sleeper"}, {kImage, "sleep", "100"}), 60);
  ASSERT_EQ(det.code, 0) << det.out << det.err;
  EXPECT_EQ(trim(det.out).size(), 64u) << "a container id: " << det.out;
  EXPECT_EQ(status("sleeper"), "running");
  // In the cgroup podman asked the runtime for: <parent>/libpod-<id>.
  std::string pid = trim(podman({"inspect", "--format", "{{.State.Pid}}", "sleeper"}).out);
  EXPECT_NE(cgroup_procs(cgroup_parent() + "/libpod-" + trim(det.out)).find(pid + "\n"), std::string::npos) << pid;

  auto ex = podman({"exec", "sleeper", "sh", "-c", "echo from-exec; tr '\\0' ' ' < /proc/1/cmdline"});
  ASSERT_EQ(ex.code, 0) << ex.out << ex.err;
  EXPECT_EQ(ex.out, "from-exec\nsleep 100 ");  // in the container's pid namespace
  EXPECT_EQ(podman({"exec", "sleeper", "sh", "-c", "exit 3"}).code, 3);

  auto pause = podman({"pause", "sleeper"});
  ASSERT_EQ(pause.code, 0) << pause.err;
  EXPECT_EQ(status("sleeper"), "paused");
  auto unpause = podman({"unpause", "sleeper"});
  ASSERT_EQ(unpause.code, 0) << unpause.err;
  EXPECT_EQ(status("sleeper"), "running");

  // sleep as pid 1 ignores SIGTERM: podman kills it after the 1 s grace.
  auto stop = podman({"stop", "-t", "1", "sleeper"});
  ASSERT_EQ(stop.code, 0) << stop.err;
  EXPECT_EQ(status("sleeper"), "exited");
  auto rm = podman({"rm", "sleeper"});
  ASSERT_EQ(rm.code, 0) << rm.err;
  EXPECT_EQ(cgroup_procs(cgroup_parent() + "/libpod-" + trim(det.out)), "") << "cgroup left after rm";
  EXPECT_FALSE(fs::exists("/sys/fs/cgroup/pids" + cgroup_parent() + "/libpod-" + trim(det.out))) << "cgroup left after rm";
  auto ps = podman({"ps", "-a", "--format", "{{.Names}}"});
  EXPECT_EQ(ps.code, 0) << ps.err;
  EXPECT_EQ(ps.out, "");
}

TEST_F(Peers, ContainerdShimDrivesTheRuntime) {
  for (auto bin : {"containerd", "ctr", "containerd-shim-runc-v2"})
    if (which(bin).empty()) GTEST_SKIP() << bin << " not installed";
  ASSERT_NO_FATAL_FAILURE(setup_containerd());

  auto imp = ctr({"images", "import", "--snapshotter", "native", oci_archive()}, 60);
  ASSERT_EQ(imp.code, 0) << imp.out << imp.err << log();
  EXPECT_NE(imp.out.find(kImage), std::string::npos) << imp.out;

  auto args = run_args("once");
  args.insert(args.begin(), {"run", "--rm"});
  args.insert(args.end(), {kImage, "once", "sh", "-c", "echo hello-containerd"});
  auto run = ctr(args, 60);
  ASSERT_EQ(run.code, 0) << run.out << run.err << log();
  EXPECT_EQ(run.out, "hello-containerd\n");

  args = run_args("sleeper");
  args.insert(args.begin(), {"run", "-d"});
  args.insert(args.end(), {kImage, "sleeper", "sleep", "100"});
  auto det = ctr(args, 60);
  ASSERT_EQ(det.code, 0) << det.out << det.err << log();
  EXPECT_EQ(task_status("sleeper"), "RUNNING");
  // In the cgroup ctr asked the runtime for.
  std::string pid = task_field("sleeper", 1);
  EXPECT_NE(cgroup_procs(cgroup_parent() + "/sleeper").find(pid + "\n"), std::string::npos) << pid;

  auto ex = ctr({"task", "exec", "--exec-id", "e1", "--fifo-dir", dir_ + "/fifo", "sleeper", "sh", "-c", "echo from-exec"});
  ASSERT_EQ(ex.code, 0) << ex.out << ex.err << log();
  EXPECT_EQ(ex.out, "from-exec\n");
  auto ex2 = ctr({"task", "exec", "--exec-id", "e2", "--fifo-dir", dir_ + "/fifo", "sleeper", "sh", "-c", "exit 5"});
  EXPECT_EQ(ex2.code, 5) << ex2.err;

  auto pause = ctr({"task", "pause", "sleeper"});
  ASSERT_EQ(pause.code, 0) << pause.err << log();
  EXPECT_EQ(task_status("sleeper"), "PAUSED");
  auto resume = ctr({"task", "resume", "sleeper"});
  ASSERT_EQ(resume.code, 0) << resume.err << log();
  EXPECT_EQ(task_status("sleeper"), "RUNNING");

  auto kill = ctr({"task", "kill", "-s", "KILL", "sleeper"});
  ASSERT_EQ(kill.code, 0) << kill.err << log();
  std::string st;
  for (int i = 0; i < 100 && (st = task_status("sleeper")) != "STOPPED"; ++i) std::this_thread::sleep_for(50ms);
  EXPECT_EQ(st, "STOPPED");
  auto trm = ctr({"task", "rm", "sleeper"});
  ASSERT_EQ(trm.code, 0) << trm.out << trm.err << log();
  EXPECT_FALSE(fs::exists("/sys/fs/cgroup/pids" + cgroup_parent() + "/sleeper")) << "cgroup left after task rm";
  auto crm = ctr({"containers", "rm", "sleeper"});
  ASSERT_EQ(crm.code, 0) << crm.err << log();
  EXPECT_EQ(ctr({"containers", "ls", "-q"}).out, "");
  EXPECT_EQ(ctr({"task", "ls", "-q"}).out, "");
}

// A hybrid host's cgroup2 hierarchy is shared: crun refuses to run while its root has any
// controller ("cgroups in hybrid mode not supported"), which a host fixes by giving those
// controllers to v1 (mounting their v1 hierarchy) -- and that fails with EBUSY once a runtime has
// enabled one of them in cgroup2. The runtime must leave the controllers of the cgroups it did
// not create as it found them (the root's, and here the test's own parent's, which it sets up
// empty), and crun and runc must still run afterwards.
TEST_F(Peers, HybridHostStaysUsableForCrunAndRunc) {
  const std::string unified = "/sys/fs/cgroup/unified";
  if (!fs::exists(unified + "/cgroup.subtree_control")) GTEST_SKIP() << "not a hybrid cgroup host";
  for (auto bin : {"crun", "runc", "unshare"})
    if (which(bin).empty()) GTEST_SKIP() << bin << " not installed";
  const std::string parent = unified + cgroup_parent();
  const std::string before = trim(read_file(unified + "/cgroup.subtree_control"));
  // Whatever happens, what the runtime turned on in the root is turned off again (possible once
  // no cgroup below has it on: the test's cgroups go first).
  struct Restore {
    std::string unified, parent, before;
    ~Restore() {
      remove_cgroup_tree(parent);
      std::istringstream now(read_file(unified + "/cgroup.subtree_control"));
      for (std::string c; now >> c;)
        if (("," + before + ",").find("," + c + ",") == std::string::npos)
          std::ofstream(unified + "/cgroup.subtree_control") << "-" << c;
    }
  } restore{unified, cgroup_parent(), [&] {
              std::string b = before;
              std::replace(b.begin(), b.end(), ' ', ',');
              return b;
            }()};
  ASSERT_TRUE(fs::create_directory(parent)) << parent;
  auto r = run_container("first", [](nlohmann::json& j) { j["process"]["args"] = {"echo", "hoist"}; });
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "hoist\n");
  EXPECT_EQ(trim(read_file(unified + "/cgroup.subtree_control")), before)
      << "the runtime changed " << unified << "/cgroup.subtree_control";
  EXPECT_EQ(trim(read_file(parent + "/cgroup.subtree_control")), "")
      << "the runtime changed " << parent << "/cgroup.subtree_control";
  if (!before.empty()) {
    std::cerr << "the cgroup2 root delegates \"" << before << "\" (turned on by someone else): crun cannot run "
              << "here whatever the runtime does; crun and runc not run\n";
    return;
  }

  // The controllers cgroup2 holds go to a v1 hierarchy mounted in a private mount namespace
  // (released with it: no cgroup is left in it, so the controllers return to cgroup2).
  std::string controllers = trim(read_file(unified + "/cgroup.controllers"));
  std::replace(controllers.begin(), controllers.end(), ' ', ',');
  std::string crun_b = make_bundle("crun-box", [](nlohmann::json& j) { j["process"]["args"] = {"echo", "crun"}; });
  std::string runc_b = make_bundle("runc-box", [](nlohmann::json& j) { j["process"]["args"] = {"echo", "runc"}; });
  const char* script = R"(set -e
d=$1 ctrls=$2 crun_bundle=$3 runc_bundle=$4
mkdir -p "$d/v1"
if [ -n "$ctrls" ]; then
  mount -t cgroup -o "$ctrls" hoist-test "$d/v1" || { echo "mount the v1 $ctrls hierarchy: failed" >&2; exit 1; }
  trap 'find "$d/v1" -mindepth 1 -depth -type d -exec rmdir {} + 2>/dev/null; umount "$d/v1"' EXIT
fi
(cd "$crun_bundle" && crun --root "$d/crun" run crun-box)
(cd "$runc_bundle" && runc --root "$d/runc" run runc-box)
)";
  auto peers = run_cmd({"unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script, "sh", dir_, controllers,
                        crun_b, runc_b},
                       "", 60);
  EXPECT_EQ(peers.code, 0) << peers.out << peers.err;
  EXPECT_EQ(peers.out, "crun\nrunc\n") << peers.err;
}

}  // namespace
}  // namespace hoist::test
