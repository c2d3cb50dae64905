#include "harness.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <mutex>

namespace hoist::test {
namespace fs = std::filesystem;
using nlohmann::json;

CmdResult run_cmd(const std::vector<std::string>& argv, const std::string& input, int timeout_s) {
  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC)) throw std::runtime_error("pipe");
  pid_t pid = fork();
  if (pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    setpgid(0, 0);
    signal(SIGPIPE, SIG_DFL);  // the harness ignores it for itself; the command must not inherit that
    std::vector<char*> a;
    for (auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
    a.push_back(nullptr);
    execvp(a[0], a.data());
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  close(err[1]);
  signal(SIGPIPE, SIG_IGN);
  if (!input.empty()) {
    ssize_t w = write(in[1], input.data(), input.size());
    (void)w;
  }
  close(in[1]);
  CmdResult r;
  // Read until the command exits; what it left running (a created container's init holds
  // our pipes) must not keep us waiting, so after exit only what is buffered is drained.
  for (int fd : {out[0], err[0]}) fcntl(fd, F_SETFL, O_NONBLOCK);
  struct pollfd p[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  time_t deadline = time(nullptr) + timeout_s;
  bool killed = false, exited = false;
  int status = 0;
  auto drain = [&] {
    for (int i = 0; i < 2; ++i) {
      if (p[i].fd < 0) continue;
      char buf[8192];
      ssize_t n;
      while ((n = read(p[i].fd, buf, sizeof buf)) > 0) (i == 0 ? r.out : r.err).append(buf, static_cast<size_t>(n));
      if (n == 0) {
        close(p[i].fd);
        p[i].fd = -1;
      }
    }
  };
  while (!exited) {
    if (time(nullptr) >= deadline) {
      kill(-pid, SIGKILL);
      kill(pid, SIGKILL);
      killed = true;
      waitpid(pid, &status, 0);
      break;
    }
    poll(p, 2, 20);
    drain();
    exited = waitpid(pid, &status, WNOHANG) == pid;
  }
  // Whatever the process wrote just before exiting; keep reading while the pipes stay open
  // and data keeps coming, briefly.
  for (int i = 0; i < 5 && (p[0].fd >= 0 || p[1].fd >= 0); ++i) {
    if (poll(p, 2, 10) <= 0) break;
    drain();
  }
  for (auto& x : p)
    if (x.fd >= 0) close(x.fd);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (killed) r.err += "\n[harness: killed after " + std::to_string(timeout_s) + "s]";
  return r;
}

std::string runtime_path() {
  const char* e = getenv("HOIST_TEST_RUNTIME");
  return e && *e ? e : HOIST_RUNTIME_BIN;
}

bool runtime_is_hoist() { return runtime_path().find("hoist-runtime") != std::string::npos; }

std::string busybox_rootfs() {
  static std::once_flag once;
  static std::string rootfs;
  std::call_once(once, [] {
    const char* pre = getenv("HOIST_TEST_FIXTURES");
    std::string dir = pre && *pre ? pre : (fs::temp_directory_path() / ("hoist-fixtures-" + std::to_string(getpid()))).string();
    if (!fs::exists(dir + "/busybox-bundle/rootfs/bin/busybox")) {
      auto r = run_cmd({std::string(HOIST_SOURCE_DIR) + "/scripts/make-busybox-fixtures.sh", dir}, "", 120);
      if (r.code != 0) throw std::runtime_error("make-busybox-fixtures failed: " + r.err);
      if (!pre) {
        // Removed when the test binary exits.
        static struct Cleanup {
          std::string d;
          ~Cleanup() { std::error_code ec; fs::remove_all(d, ec); }
        } cleanup{dir};
      }
    }
    rootfs = dir + "/busybox-bundle/rootfs";
  });
  return rootfs;
}

void RuntimeFixture::SetUp() {
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  char tmpl[] = "/tmp/hoist-it-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  dir_ = tmpl;
  root_ = dir_ + "/state";
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  cgroup_parent_ = "/hoist-test-" + std::to_string(getpid()) + "-" + info->name();
  ASSERT_FALSE(busybox_rootfs().empty());
}

void RuntimeFixture::TearDown() {
  if (dir_.empty()) return;
  for (auto& id : ids_) run_cmd({runtime_path(), "--root", root_, "delete", "--force", id}, "", 30);
  // The cgroup parent we used, in every hierarchy (children first are gone with delete).
  for (auto& h : fs::directory_iterator("/sys/fs/cgroup")) {
    std::error_code ec;
    fs::path p = h.path().string() + cgroup_parent_;
    if (!fs::exists(p, ec)) continue;
    // Leftover leaf dirs of containers that were never deleted.
    for (auto& c : fs::directory_iterator(p, ec))
      if (c.is_directory()) rmdir(c.path().c_str());
    rmdir(p.c_str());
  }
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

json RuntimeFixture::default_config(const std::string& id) const {
  json j = json::parse(std::ifstream(fs::path(busybox_rootfs()).parent_path() / "config.json"));
  j["root"]["path"] = busybox_rootfs();
  j["linux"]["cgroupsPath"] = cgroup_parent_ + "/" + id;
  return j;
}

std::string RuntimeFixture::make_bundle(const std::string& name, const std::function<void(json&)>& edit) {
  std::string b = dir_ + "/bundle-" + name;
  fs::create_directories(b);
  json j = default_config(name);
  if (edit) edit(j);
  std::ofstream(b + "/config.json") << j.dump(2);
  return b;
}

CmdResult RuntimeFixture::rt(const std::vector<std::string>& args, const std::string& input, int timeout_s) {
  std::vector<std::string> argv{runtime_path(), "--root", root_};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_cmd(argv, input, timeout_s);
}

CmdResult RuntimeFixture::run_container(const std::string& id, const std::function<void(json&)>& edit, int timeout_s) {
  std::string b = make_bundle(id, edit);
  track(id);
  return rt({"run", "--bundle", b, id}, "", timeout_s);
}

json RuntimeFixture::state(const std::string& id) {
  auto r = rt({"state", id});
  if (r.code != 0) return json{{"error", r.err}};
  return json::parse(r.out);
}

std::string RuntimeFixture::wait_status(const std::string& id, const std::string& want) {
  std::string st;
  for (int i = 0; i < 100; ++i) {
    st = state(id).value("status", "");
    if (st == want) break;
    usleep(20000);
  }
  return st;
}

}  // namespace hoist::test
