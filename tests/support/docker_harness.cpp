#include "docker_harness.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace hoist::test {

namespace fs = std::filesystem;

namespace {

bool exited(pid_t pid, int wait_ms) {
  for (int i = 0; i < wait_ms / 50; ++i) {
    if (waitpid(pid, nullptr, WNOHANG) == pid) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return waitpid(pid, nullptr, WNOHANG) == pid;
}

pid_t read_pid(const std::string& path) {
  std::ifstream f(path);
  pid_t p = -1;
  f >> p;
  return f ? p : -1;
}

}  // namespace

void unmount_below(const std::string& dir) {
  std::vector<std::string> points;
  std::ifstream mi("/proc/self/mountinfo");
  std::string line;
  while (std::getline(mi, line)) {
    std::istringstream ss(line);
    std::string a, b, c, d, mp;
    ss >> a >> b >> c >> d >> mp;
    if (mp.rfind(dir, 0) == 0) points.push_back(mp);
  }
  std::sort(points.rbegin(), points.rend());
  for (auto& p : points) umount2(p.c_str(), MNT_DETACH);
}

bool PrivateDockerd::available() { return access("/usr/sbin/dockerd", X_OK) == 0 && run_cmd({"docker", "--version"}).code == 0; }

PrivateDockerd::PrivateDockerd() {
  char tmpl[] = "/tmp/hoist-dockerd-XXXXXX";
  if (!mkdtemp(tmpl)) throw std::runtime_error("mkdtemp");
  dir_ = tmpl;
  std::ofstream(dir_ + "/daemon.json") << "{}\n";
  pid_ = fork();
  if (pid_ == 0) {
    setpgid(0, 0);
    auto log = dir_ + "/dockerd.log";
    FILE* f = freopen(log.c_str(), "w", stderr);
    (void)f;
    dup2(2, 1);
    execl("/usr/sbin/dockerd", "dockerd", "--data-root", (dir_ + "/data").c_str(), "--exec-root", (dir_ + "/exec").c_str(),
          "--pidfile", (dir_ + "/docker.pid").c_str(), "-H", ("unix://" + dir_ + "/docker.sock").c_str(),
          "--config-file", (dir_ + "/daemon.json").c_str(), "--bridge", "none", "--iptables=false",
          "--ip-masq=false", "--storage-driver", "vfs", nullptr);
    _exit(127);
  }
  for (int i = 0; i < 300; ++i) {
    if (run_cmd({"docker", "-H", "unix://" + dir_ + "/docker.sock", "version"}, "", 5).code == 0) return;
    if (waitpid(pid_, nullptr, WNOHANG) == pid_) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::ifstream logf(dir_ + "/dockerd.log");
  std::stringstream ss;
  ss << logf.rdbuf();
  stop();
  throw std::runtime_error("dockerd did not start:\n" + ss.str());
}

PrivateDockerd::~PrivateDockerd() { stop(); }

void PrivateDockerd::stop() {
  if (pid_ > 0) {
    // dockerd leaves its networks' bridges when it stops: the ones a test did not remove (it
    // failed half way, or had no reason to) are deleted once dockerd is gone.
    std::vector<std::string> bridges;
    auto nets = docker({"network", "ls", "--no-trunc", "-q", "--filter", "type=custom", "--filter", "driver=bridge"}, "", 10);
    std::istringstream ids(nets.out);
    for (std::string id; std::getline(ids, id);)
      if (id.size() >= 12) bridges.push_back("br-" + id.substr(0, 12));
    auto containerd = read_pid(dir_ + "/exec/containerd/containerd.pid");
    kill(pid_, SIGTERM);
    if (!exited(pid_, 15000)) {
      kill(-pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (containerd > 0 && kill(containerd, 0) == 0) {
      kill(containerd, SIGKILL);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    pid_ = -1;
    for (const auto& b : bridges) run_cmd({"ip", "link", "del", b}, "", 10);
  }
  if (!dir_.empty()) {
    unmount_below(dir_);
    std::error_code ec;
    fs::remove_all(dir_, ec);
    dir_.clear();
  }
}

CmdResult PrivateDockerd::docker(const std::vector<std::string>& args, const std::string& input, int timeout_s) {
  std::vector<std::string> argv{"docker", "-H", "unix://" + dir_ + "/docker.sock"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_cmd(argv, input, timeout_s);
}

}  // namespace hoist::test
