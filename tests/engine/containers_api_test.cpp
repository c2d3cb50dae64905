// Containers through hoistd as a user sees them: the real docker CLI against a private hoistd
// (own data root, exec root, socket, cgroup parent), running containers from a busybox image.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/strings.h"
#include "hoistd_harness.h"

namespace fs = std::filesystem;
using hoist::trim;
using hoist::test::Hoistd;

namespace {

std::string cgroup_parent() { return "/hoist-test-" + std::to_string(getpid()) + "-api"; }

class ContainerApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root";
    if (!hoist::test::have_tool("docker")) GTEST_SKIP() << "docker CLI missing";
    d_ = std::make_unique<Hoistd>(std::vector<std::string>{"--cgroup-parent", cgroup_parent()});
    auto r = d_->docker({"import", hoist::test::fixtures_dir() + "/busybox-rootfs.tar", "bb:1"});
    ASSERT_EQ(r.code, 0) << r.err;
  }
  void TearDown() override {
    if (!d_) return;
    hoist::test::remove_all_containers(*d_);
    hoist::test::force_cleanup(*d_, cgroup_parent());
  }
  std::unique_ptr<Hoistd> d_;
};

}  // namespace

TEST_F(ContainerApiTest, RunPrintsOutputAndPassesTheExitCode) {
  auto r = d_->docker({"run", "--rm", "bb:1", "echo", "hello from hoist"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "hello from hoist\n");
  r = d_->docker({"run", "--rm", "bb:1", "sh", "-c", "echo out; echo err >&2; exit 3"});
  EXPECT_EQ(r.code, 3);
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");
  r = d_->docker({"run", "--rm", "bb:1", "no-such-command"});
  EXPECT_EQ(r.code, 127) << r.err;
  EXPECT_NE(r.err.find("executable file not found"), std::string::npos) << r.err;
  r = d_->docker({"run", "--rm", "-i", "bb:1", "cat"}, "through stdin\n");
  EXPECT_EQ(r.out, "through stdin\n");
  // --rm leaves nothing behind.
  EXPECT_EQ(trim(d_->docker({"ps", "-aq"}).out), "");
  r = d_->docker({"run", "--rm", "no-such-image:1", "true"});
  EXPECT_EQ(r.code, 125);
}

TEST_F(ContainerApiTest, DetachedLifecycleLogsInspectStopRemove) {
  auto r = d_->docker({"run", "-d", "--name", "web", "bb:1", "sh", "-c", "echo started; trap 'exit 7' TERM; while true; do sleep 0.1; done"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto id = std::string(trim(r.out));
  EXPECT_EQ(id.size(), 64u);
  auto ps = d_->docker({"ps", "--format", "{{.Names}} {{.Status}}"});
  EXPECT_EQ(ps.out.rfind("web Up", 0), 0u) << ps.out;
  // The name is taken.
  r = d_->docker({"run", "-d", "--name", "web", "bb:1", "true"});
  EXPECT_EQ(r.code, 125);
  EXPECT_NE(r.err.find("is already in use"), std::string::npos) << r.err;
  for (int i = 0; i < 50 && d_->docker({"logs", "web"}).out.empty(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(d_->docker({"logs", "web"}).out, "started\n");
  EXPECT_EQ(trim(d_->docker({"inspect", "-f", "{{.State.Running}}", "web"}).out), "true");
  r = d_->docker({"stop", "-t", "5", "web"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(trim(d_->docker({"inspect", "-f", "{{.State.ExitCode}}", "web"}).out), "7");
  EXPECT_NE(d_->docker({"ps", "-a", "--format", "{{.Status}}"}).out.find("Exited (7)"), std::string::npos);
  EXPECT_EQ(d_->docker({"rm", "web"}).code, 0);
  EXPECT_NE(d_->docker({"inspect", "web"}).code, 0);
  // Nothing of it is left mounted.
  std::ifstream mi("/proc/self/mountinfo");
  std::stringstream all;
  all << mi.rdbuf();
  EXPECT_EQ(all.str().find(d_->data_root()), std::string::npos);
}

TEST_F(ContainerApiTest, ContainersKeepRunningAcrossADaemonKill) {
  auto r = d_->docker({"run", "-d", "--name", "survivor", "bb:1", "sh", "-c", "while true; do sleep 0.1; done"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto pid = std::string(trim(d_->docker({"inspect", "-f", "{{.State.Pid}}", "survivor"}).out));
  ASSERT_NE(pid, "0");
  // kill -9 of hoistd; a new one on the same roots finds the container still running.
  auto args = std::vector<std::string>{"--cgroup-parent", cgroup_parent()};
  std::string data = d_->data_root();
  d_->stop();  // SIGTERM/SIGKILL of the daemon's process group: shims are in their own sessions
  EXPECT_EQ(kill(std::stoi(pid), 0), 0) << "the container died with the daemon";
  // (the harness restarts a daemon on its own dirs only through a new object: use the HTTP API of a
  // fresh hoistd started by hand on the same roots)
  hoist::test::ChildProcess again({HOISTD_BIN, "-H", d_->host(), "--data-root", data, "--exec-root", d_->exec_root(),
                                   "--cgroup-parent", cgroup_parent()},
                                  d_->dir() + "/hoistd2.log");
  bool up = false;
  for (int i = 0; i < 100 && !up; ++i) {
    up = d_->http("GET", "/_ping").status == 200;
    if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(up);
  EXPECT_EQ(trim(d_->docker({"inspect", "-f", "{{.State.Running}} {{.State.Pid}}", "survivor"}).out), "true " + pid);
  EXPECT_EQ(d_->docker({"kill", "survivor"}).code, 0);
  EXPECT_EQ(trim(d_->docker({"wait", "survivor"}).out), "137");
  EXPECT_EQ(d_->docker({"rm", "survivor"}).code, 0);
}

// As dockerd with runc: a bind mount over /proc or below it is accepted at create and refused
// at start (500) with the runtime's reason; the container stays created.
TEST_F(ContainerApiTest, BindMountsOverProcAreRefusedAtStart) {
  for (auto [dest, why] : {std::pair{"/proc/sys", "cannot be mounted because it is inside /proc"},
                           std::pair{"/proc", "cannot be mounted because it is not of type proc"}}) {
    SCOPED_TRACE(dest);
    std::string body = R"({"Image":"bb:1","Cmd":["true"],"HostConfig":{"Binds":[")" + d_->dir() + ":" + dest + R"("]}})";
    auto c = d_->http("POST", "/v1.41/containers/create", body, {"Content-Type: application/json"});
    ASSERT_EQ(c.status, 201) << c.body;
    std::string id = nlohmann::json::parse(c.body)["Id"];
    auto s = d_->http("POST", "/v1.41/containers/" + id + "/start");
    EXPECT_EQ(s.status, 500) << s.body;
    std::string msg = nlohmann::json::parse(s.body, nullptr, false).value("message", "");
    EXPECT_NE(msg.find(std::string("mount ") + d_->dir() + " to " + dest + ": \"" + dest + "\" " + why),
              std::string::npos)
        << s.body;
    EXPECT_EQ(trim(d_->docker({"inspect", "-f", "{{.State.Status}}", id}).out), "created");
  }
}
