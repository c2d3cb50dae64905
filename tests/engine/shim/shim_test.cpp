// hoist-shim on its own: the ready fd, the attach socket protocol, exit.json, runtime cleanup.
#include "engine/shim/client.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/error.h"
#include "common/file.h"
#include "harness.h"

namespace hoist::engine {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

class ShimProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root";
    char t[] = "/tmp/hoist-shim-XXXXXX";
    ASSERT_NE(mkdtemp(t), nullptr);
    dir_ = t;
    state_ = dir_ + "/state";
    rt_ = dir_ + "/rt";
    mkdir_all(state_);
    cgroup_ = "/hoist-test-" + std::to_string(getpid()) + "-" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name();
  }
  void TearDown() override {
    if (dir_.empty()) return;
    try {
      auto s = read_file(state_ + "/shim.pid");
      int shim = std::atoi(s.c_str()), init = std::atoi(s.substr(s.find(' ') + 1).c_str());
      if (init > 0) ::kill(init, SIGKILL);
      if (shim > 0) ::kill(shim, SIGKILL);
    } catch (...) {
    }
    test::run_cmd({test::runtime_path(), "--root", rt_, "delete", "--force", "shimtest"});
    std::error_code ec;
    for (auto& h : fs::directory_iterator("/sys/fs/cgroup", ec)) {
      fs::path p = h.path().string() + cgroup_;
      if (!fs::exists(p, ec)) continue;
      for (auto& c : fs::directory_iterator(p, ec))
        if (c.is_directory()) ::rmdir(c.path().c_str());
      ::rmdir(p.c_str());
    }
    fs::remove_all(dir_, ec);
  }

  // Writes the bundle and runs the shim; returns the ready line.
  std::string run_shim(const std::vector<std::string>& args, bool tty = false, bool in = false,
                       const std::vector<std::string>& extra = {}) {
    json spec = json::parse(std::ifstream(fs::path(test::busybox_rootfs()).parent_path() / "config.json"));
    spec["root"]["path"] = test::busybox_rootfs();
    spec["process"]["args"] = args;
    spec["process"]["terminal"] = tty;
    spec["linux"]["cgroupsPath"] = cgroup_ + "/shimtest";
    write_file_atomic(state_ + "/config.json", spec.dump(), 0644, false);
    std::vector<std::string> argv = {HOIST_SHIM_BIN, "--id", "shimtest", "--bundle", state_, "--runtime",
                                     test::runtime_path(), "--runtime-root", rt_, "--state-dir", state_,
                                     "--log-path", dir_ + "/log.json", "--ready-fd", "3"};
    if (tty) argv.push_back("--tty");
    if (in) argv.push_back("--stdin");
    argv.insert(argv.end(), extra.begin(), extra.end());
    int p[2];
    EXPECT_EQ(pipe2(p, O_CLOEXEC), 0);
    pid_t pid = fork();
    if (pid == 0) {
      dup2(p[1], 3);
      std::vector<char*> a;
      for (auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
      a.push_back(nullptr);
      execv(a[0], a.data());
      _exit(127);
    }
    close(p[1]);
    int st;
    waitpid(pid, &st, 0);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    std::string out;
    char buf[512];
    ssize_t n;
    while ((n = read(p[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
    close(p[0]);
    return out;
  }

  std::string dir_, state_, rt_, cgroup_;
};

TEST_F(ShimProcessTest, ProtocolWaitExitFileAndCleanup) {
  std::string ready = run_shim({"sh", "-c", "echo out; echo err >&2; read x; exit 5"}, false, true);
  ASSERT_EQ(ready.rfind("ok ", 0), 0u) << ready;
  auto st = shim_status(state_);
  EXPECT_TRUE(st.running);
  EXPECT_EQ(st.pid, std::atoi(ready.c_str() + 3));
  EXPECT_EQ(shim_request(state_, "bogus"), "error unknown request");
  EXPECT_EQ(shim_request(state_, "resize 10 10"), "error the container has no terminal");
  UniqueFd w = shim_wait_begin(state_);
  shim_close_stdin(state_);  // `read` gets EOF
  auto ex = shim_wait_read(w.get());
  ASSERT_TRUE(ex);
  EXPECT_EQ(ex->exit_code, 5);
  EXPECT_FALSE(ex->exited_at.empty());
  // exit.json is there; the shim and the runtime's state go.
  auto file = read_exit_file(state_);
  ASSERT_TRUE(file);
  EXPECT_EQ(file->exit_code, 5);
  json j = json::parse(read_file(state_ + "/exit.json"));
  EXPECT_EQ(j["exit_code"], 5);
  EXPECT_EQ(j["oom_killed"], false);
  for (int i = 0; i < 50 && fs::exists(state_ + "/attach.sock"); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(fs::exists(state_ + "/attach.sock"));
  EXPECT_NE(test::run_cmd({test::runtime_path(), "--root", rt_, "state", "shimtest"}).code, 0);
  std::string log = read_file(dir_ + "/log.json");
  EXPECT_NE(log.find("\"log\":\"out\\n\",\"stream\":\"stdout\""), std::string::npos) << log;
  EXPECT_NE(log.find("\"log\":\"err\\n\",\"stream\":\"stderr\""), std::string::npos) << log;
}

TEST_F(ShimProcessTest, OutputHeldForAnAttachIsNotReportedAsFinished) {
  // docker run attaches after the start: a container that exits at once has its output held for
  // the attach, and a "wait" must not be answered before that (the engine would remove it).
  std::string ready = run_shim({"echo", "held for you"}, false, false, {"--attach-wait", "5000"});
  ASSERT_EQ(ready.rfind("ok ", 0), 0u) << ready;
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // it has exited by now
  UniqueFd w = shim_wait_begin(state_);
  pollfd p{w.get(), POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 300), 0) << "the wait was answered while the output was held";
  UniqueFd a = shim_attach(state_, false, true, true, false);
  std::string got;
  char buf[256];
  ssize_t n;
  while ((n = ::read(a.get(), buf, sizeof buf)) > 0) got.append(buf, static_cast<size_t>(n));
  EXPECT_NE(got.find("held for you\n"), std::string::npos);
  auto ex = shim_wait_read(w.get());
  ASSERT_TRUE(ex);
  EXPECT_EQ(ex->exit_code, 0);
}

TEST_F(ShimProcessTest, ReportsRuntimeErrors) {
  std::string ready = run_shim({"/no/such/binary"});
  EXPECT_EQ(ready.rfind("error ", 0), 0u) << ready;
  EXPECT_FALSE(fs::exists(state_ + "/attach.sock"));
}

TEST_F(ShimProcessTest, TtyRawStream) {
  std::string ready = run_shim({"sh", "-c", "read x; echo got-$x"}, true, true);
  ASSERT_EQ(ready.rfind("ok ", 0), 0u) << ready;
  shim_resize(state_, 30, 90);
  UniqueFd s = shim_attach(state_, true, true, true, false);
  UniqueFd w = shim_wait_begin(state_);
  write_all(s.get(), "abc\n", "attach");
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (out.find("got-abc") == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    pollfd p{s.get(), POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    char buf[256];
    ssize_t n = read(s.get(), buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  EXPECT_NE(out.find("got-abc\r\n"), std::string::npos) << out;  // raw: no frame headers
  EXPECT_NE(out[0], '\x01');
  auto ex = shim_wait_read(w.get());
  ASSERT_TRUE(ex);
  EXPECT_EQ(ex->exit_code, 0);
}

}  // namespace
}  // namespace hoist::engine
