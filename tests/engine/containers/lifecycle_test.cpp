// exec, restart policies, --init and HEALTHCHECK through hoistd, each scenario run twice: with
// the real docker CLI and with `hoist`, against the same kind of private daemon.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/strings.h"
#include "hoistd_harness.h"

namespace fs = std::filesystem;
using hoist::trim;
using hoist::test::CmdResult;
using hoist::test::Hoistd;
using nlohmann::json;

namespace {

std::string cgroup_parent() { return "/hoist-test-" + std::to_string(getpid()) + "-life"; }

// Polls `f` until it returns true or `seconds` pass.
bool eventually(const std::function<bool()>& f, int seconds = 10) {
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < end) {
    if (f()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return f();
}

// The parameter: which client drives the daemon.
class LifecycleTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root";
    if (GetParam() == "docker" && !hoist::test::have_tool("docker")) GTEST_SKIP() << "docker CLI missing";
    d_ = std::make_unique<Hoistd>(std::vector<std::string>{"--cgroup-parent", cgroup_parent()});
    auto r = cli({"import", hoist::test::fixtures_dir() + "/busybox-rootfs.tar", "bb:1"});
    ASSERT_EQ(r.code, 0) << r.err;
  }
  void TearDown() override {
    if (!d_) return;
    hoist::test::remove_all_containers(*d_);
    hoist::test::force_cleanup(*d_, cgroup_parent());
  }
  CmdResult cli(const std::vector<std::string>& args, const std::string& input = "", int timeout_s = 60) {
    if (GetParam() == "docker") return d_->docker(args, input, timeout_s);
    std::vector<std::string> argv{HOIST_CLI_BIN, "-H", d_->host()};
    argv.insert(argv.end(), args.begin(), args.end());
    return hoist::test::run_cmd(argv, input, timeout_s);
  }
  std::string out(const std::vector<std::string>& args) {
    auto r = cli(args);
    EXPECT_EQ(r.code, 0) << "args: " << hoist::join(args, " ") << "\n" << r.err;
    return std::string(trim(r.out));
  }
  json inspect(const std::string& name) {
    auto h = d_->http("GET", "/v1.41/containers/" + name + "/json");
    EXPECT_EQ(h.status, 200) << h.body;
    return json::parse(h.body, nullptr, false);
  }
  std::unique_ptr<Hoistd> d_;
};

}  // namespace

TEST_P(LifecycleTest, ExecRunsInTheContainerWithItsOptions) {
  ASSERT_EQ(cli({"run", "-d", "--name", "x1", "-e", "A=from-run", "bb:1", "sleep", "300"}).code, 0);
  // Output, both streams, and the process's exit code.
  auto r = cli({"exec", "x1", "sh", "-c", "echo out; echo err >&2; exit 3"});
  EXPECT_EQ(r.code, 3);
  EXPECT_EQ(trim(r.out), "out");
  EXPECT_NE(r.err.find("err"), std::string::npos) << r.err;
  // The container's environment, namespaces and root; -e, -w, -u.
  EXPECT_EQ(out({"exec", "x1", "sh", "-c", "echo $A"}), "from-run");
  EXPECT_EQ(out({"exec", "-e", "A=from-exec", "-w", "/tmp", "x1", "sh", "-c", "echo $A $(pwd)"}), "from-exec /tmp");
  EXPECT_EQ(out({"exec", "-u", "nobody", "x1", "id", "-un"}), "nobody");
  EXPECT_EQ(out({"exec", "x1", "hostname"}), out({"inspect", "-f", "{{.Config.Hostname}}", "x1"}));
  EXPECT_NE(out({"exec", "x1", "ps"}).find("sleep 300"), std::string::npos);
  // stdin with -i.
  r = cli({"exec", "-i", "x1", "sh", "-c", "tr a-z A-Z"}, "piped in\n");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(trim(r.out), "PIPED IN");
  // -d: runs in the background.
  EXPECT_EQ(cli({"exec", "-d", "x1", "sh", "-c", "echo bg > /tmp/bg"}).code, 0);
  EXPECT_TRUE(eventually([&] { return cli({"exec", "x1", "cat", "/tmp/bg"}).out == "bg\n"; }));
  // A command that does not exist: 126 and the runtime's reason, as with Docker.
  r = cli({"exec", "x1", "no-such-command"});
  EXPECT_EQ(r.code, 126);
  EXPECT_NE((r.out + r.err).find("no-such-command"), std::string::npos) << r.out << r.err;
  // Not running: refused with Docker's message.
  ASSERT_EQ(cli({"create", "--name", "x2", "bb:1", "true"}).code, 0);
  r = cli({"exec", "x2", "true"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("is not running"), std::string::npos) << r.err;
  r = cli({"exec", "nosuch", "true"});
  EXPECT_NE(r.err.find("No such container: nosuch"), std::string::npos) << r.err;
}

TEST_P(LifecycleTest, ExecInspectOverTheApi) {
  ASSERT_EQ(cli({"run", "-d", "--name", "x3", "bb:1", "sleep", "300"}).code, 0);
  auto c = d_->http("POST", "/v1.41/containers/x3/exec", R"({"Cmd":["sh","-c","exit 7"]})",
                    {"Content-Type: application/json"});
  ASSERT_EQ(c.status, 201) << c.body;
  auto id = json::parse(c.body)["Id"].get<std::string>();
  auto i = json::parse(d_->http("GET", "/v1.41/exec/" + id + "/json").body);
  EXPECT_FALSE(i["Running"].get<bool>());
  EXPECT_TRUE(i["ExitCode"].is_null());
  EXPECT_EQ(i["ProcessConfig"]["entrypoint"], "sh");
  // Nothing attached, not detached: the answer comes when the process has ended.
  auto s = d_->http("POST", "/v1.41/exec/" + id + "/start", R"({"Detach":false})", {"Content-Type: application/json"});
  EXPECT_EQ(s.status, 200) << s.body;
  i = json::parse(d_->http("GET", "/v1.41/exec/" + id + "/json").body);
  EXPECT_EQ(i["ExitCode"], 7);
  // A second start is refused.
  s = d_->http("POST", "/v1.41/exec/" + id + "/start", R"({"Detach":true})", {"Content-Type: application/json"});
  EXPECT_EQ(s.status, 409) << s.body;
  EXPECT_EQ(d_->http("GET", "/v1.41/exec/0123456789/json").status, 404);
  auto ids = inspect("x3")["ExecIDs"];
  ASSERT_TRUE(ids.is_array());
  EXPECT_EQ(ids[0], id);
  // Bad input.
  EXPECT_EQ(d_->http("POST", "/v1.41/containers/x3/exec", R"({"Cmd":[]})", {"Content-Type: application/json"}).status,
            400);
  EXPECT_EQ(d_->http("POST", "/v1.41/containers/x3/exec", "{nope", {"Content-Type: application/json"}).status, 400);
}

TEST_P(LifecycleTest, RestartPolicies) {
  // on-failure:2 restarts a failing container twice, then leaves it exited.
  ASSERT_EQ(cli({"run", "-d", "--name", "r1", "--restart", "on-failure:2", "bb:1", "sh", "-c", "echo ran; exit 3"}).code, 0);
  EXPECT_TRUE(eventually([&] {
    auto j = inspect("r1");
    return j["RestartCount"] == 2 && j["State"]["Status"] == "exited";
  }));
  auto j = inspect("r1");
  EXPECT_EQ(j["State"]["ExitCode"], 3);
  EXPECT_EQ(cli({"logs", "r1"}).out, "ran\nran\nran\n");
  // on-failure does not restart a success.
  ASSERT_EQ(cli({"run", "-d", "--name", "r2", "--restart", "on-failure", "bb:1", "true"}).code, 0);
  EXPECT_TRUE(eventually([&] { return inspect("r2")["State"]["Status"] == "exited"; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(inspect("r2")["RestartCount"], 0);
  // always: restarted after it exits on its own, and after a kill of its process from inside;
  // a `stop` ends it for good.
  ASSERT_EQ(cli({"run", "-d", "--name", "r3", "--restart", "always", "bb:1", "sh", "-c", "sleep 0.3"}).code, 0);
  EXPECT_TRUE(eventually([&] { return inspect("r3")["RestartCount"].get<int>() >= 2; }));
  EXPECT_EQ(cli({"stop", "-t", "1", "r3"}).code, 0);
  EXPECT_EQ(inspect("r3")["State"]["Status"], "exited");
  int count = inspect("r3")["RestartCount"];
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  EXPECT_EQ(inspect("r3")["RestartCount"], count);
  EXPECT_EQ(inspect("r3")["State"]["Status"], "exited");
  // A start by the user counts from zero again.
  ASSERT_EQ(cli({"start", "r3"}).code, 0);
  EXPECT_TRUE(eventually([&] {
    auto s = inspect("r3");
    return s["RestartCount"].get<int>() >= 1 && s["RestartCount"].get<int>() < count + 1;
  }));
  EXPECT_EQ(cli({"rm", "-f", "r3"}).code, 0);
  // Invalid combinations are refused at create.
  auto r = cli({"run", "--rm", "--restart", "always", "bb:1", "true"});
  EXPECT_NE(r.code, 0);
  r = cli({"run", "--restart", "sometimes", "bb:1", "true"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("restart policy"), std::string::npos) << r.err;
}

TEST_P(LifecycleTest, RestartPoliciesAtDaemonStart) {
  // "always" comes back after the daemon restarts even when it was stopped by hand;
  // "unless-stopped" does not; a running "unless-stopped" one just keeps running.
  ASSERT_EQ(cli({"run", "-d", "--name", "al", "--restart", "always", "bb:1", "sleep", "300"}).code, 0);
  ASSERT_EQ(cli({"run", "-d", "--name", "un", "--restart", "unless-stopped", "bb:1", "sleep", "300"}).code, 0);
  ASSERT_EQ(cli({"run", "-d", "--name", "un2", "--restart", "unless-stopped", "bb:1", "sleep", "300"}).code, 0);
  ASSERT_EQ(cli({"stop", "-t", "0", "al"}).code, 0);
  ASSERT_EQ(cli({"stop", "-t", "0", "un"}).code, 0);
  std::string u2_pid = out({"inspect", "-f", "{{.State.Pid}}", "un2"});
  d_->kill9();
  d_->restart();
  EXPECT_TRUE(eventually([&] { return inspect("al")["State"]["Status"] == "running"; }));
  EXPECT_EQ(inspect("un")["State"]["Status"], "exited");
  EXPECT_EQ(out({"inspect", "-f", "{{.State.Status}} {{.State.Pid}}", "un2"}), "running " + u2_pid);
  // The manual stop of "u" holds across another restart too.
  d_->restart();
  EXPECT_EQ(inspect("un")["State"]["Status"], "exited");
  EXPECT_EQ(inspect("al")["State"]["Status"], "running");
}

TEST_P(LifecycleTest, InitReapsAndPassesTheExitCode) {
  EXPECT_EQ(out({"run", "--rm", "--init", "bb:1", "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '"}),
            "/sbin/docker-init -- sh -c cat /proc/1/cmdline | tr '\\0' ' '");
  auto r = cli({"run", "--rm", "--init", "bb:1", "sh", "-c", "exit 9"});
  EXPECT_EQ(r.code, 9);
  // Signals reach the command through the init: stop ends it at once, not after the timeout.
  ASSERT_EQ(cli({"run", "-d", "--name", "i1", "--init", "bb:1", "sh", "-c",
                 "trap 'exit 42' TERM; touch /tmp/ready; while :; do sleep 0.1; done"})
                .code,
            0);
  ASSERT_TRUE(eventually([&] { return cli({"exec", "i1", "test", "-f", "/tmp/ready"}).code == 0; }));
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(cli({"stop", "-t", "10", "i1"}).code, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  EXPECT_EQ(inspect("i1")["State"]["ExitCode"], 42);
  // Orphans are reaped: no zombies pile up under the init.
  ASSERT_EQ(cli({"run", "-d", "--name", "i2", "--init", "bb:1", "sh", "-c", "for i in 1 2 3 4 5; do (sleep 0 &) ; done; sleep 300"}).code, 0);
  EXPECT_TRUE(eventually([&] {
    auto ps = cli({"exec", "i2", "ps", "-o", "stat"}).out;
    return ps.find('Z') == std::string::npos;
  }));
}

TEST_P(LifecycleTest, HealthCheckStatusAndEvents) {
  ASSERT_EQ(cli({"run", "-d", "--name", "h1", "--health-cmd", "cat /tmp/ok", "--health-interval", "200ms",
                 "--health-retries", "2", "bb:1", "sleep", "300"})
                .code,
            0);
  EXPECT_EQ(inspect("h1")["State"]["Health"]["Status"], "starting");
  EXPECT_TRUE(eventually([&] { return inspect("h1")["State"]["Health"]["Status"] == "unhealthy"; }));
  EXPECT_NE(out({"ps", "--format", "{{.Status}}"}).find("(unhealthy)"), std::string::npos);
  ASSERT_EQ(cli({"exec", "h1", "sh", "-c", "echo fine > /tmp/ok"}).code, 0);
  EXPECT_TRUE(eventually([&] { return inspect("h1")["State"]["Health"]["Status"] == "healthy"; }));
  auto h = inspect("h1")["State"]["Health"];
  EXPECT_EQ(h["FailingStreak"], 0);
  ASSERT_TRUE(h["Log"].is_array());
  EXPECT_LE(h["Log"].size(), 5u);
  EXPECT_EQ(h["Log"].back()["Output"], "fine\n");
  EXPECT_EQ(h["Log"].back()["ExitCode"], 0);
  EXPECT_EQ(out({"ps", "--filter", "health=healthy", "--format", "{{.Names}}"}), "h1");
  auto ev = cli({"events", "--since", "0", "--until", std::to_string(time(nullptr) + 1), "--filter", "event=health_status",
                 "--format", "{{.Action}}"});
  EXPECT_NE(ev.out.find("health_status: unhealthy"), std::string::npos) << ev.out << ev.err;
  EXPECT_NE(ev.out.find("health_status: healthy"), std::string::npos) << ev.out;
  // A probe that outlives its timeout fails with Docker's message.
  ASSERT_EQ(cli({"run", "-d", "--name", "h2", "--health-cmd", "sleep 5", "--health-interval", "200ms",
                 "--health-timeout", "300ms", "--health-retries", "1", "bb:1", "sleep", "300"})
                .code,
            0);
  EXPECT_TRUE(eventually([&] { return inspect("h2")["State"]["Health"]["Status"] == "unhealthy"; }));
  EXPECT_EQ(inspect("h2")["State"]["Health"]["Log"][0]["ExitCode"], -1);
  EXPECT_EQ(inspect("h2")["State"]["Health"]["Log"][0]["Output"], "Health check exceeded timeout (300ms)");
}

// The daemon reaps the shims it spawns: each is its child while it runs, and none is left a
// zombie (for init to collect, at its own pace) once its container has finished.
TEST_P(LifecycleTest, ShimsAreTheDaemonsChildrenAndAreReaped) {
  auto stat_of = [](pid_t pid) {  // "<state> <ppid>", "" once the process is gone
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(f, line) || line.rfind(')') == std::string::npos) return std::string();
    std::istringstream rest(line.substr(line.rfind(')') + 1));
    std::string state, ppid;
    rest >> state >> ppid;
    return state + " " + ppid;
  };
  auto shim_of = [&](const std::string& id) {
    std::ifstream f(d_->exec_root() + "/containers/" + id + "/shim.pid");
    pid_t pid = 0;
    f >> pid;
    return pid;
  };
  std::string sleeper = out({"run", "-d", "bb:1", "sleep", "300"});
  pid_t shim = shim_of(sleeper);
  ASSERT_GT(shim, 0);
  EXPECT_EQ(stat_of(shim).substr(2), std::to_string(d_->pid())) << "shim " << shim << ": " << stat_of(shim);
  std::vector<pid_t> shims{shim};
  for (int i = 0; i < 5; ++i) {
    std::string id = out({"run", "-d", "bb:1", "true"});
    shims.push_back(shim_of(id));
  }
  out({"rm", "-f", sleeper});
  EXPECT_TRUE(eventually([&] {
    for (pid_t p : shims)
      if (!stat_of(p).empty()) return false;
    return true;
  }, 5)) << [&] {
    std::string s;
    for (pid_t p : shims) s += std::to_string(p) + ": " + stat_of(p) + "\n";
    return s;
  }();
}

TEST_P(LifecycleTest, TtyOutputOfAnInstantExitIsNotLost) {
  // A pty hangs up when the container's last process exits; what it printed before the client
  // was attached must still reach the client (and the log).
  for (int i = 0; i < 3; ++i) {
    auto r = cli({"run", "--rm", "-t", "bb:1", "sh", "-c", "tty; echo hello; exit 4"});
    EXPECT_EQ(r.code, 4) << r.err;
    EXPECT_EQ(r.out, "/dev/pts/0\r\nhello\r\n");
  }
  auto r = cli({"exec", "-t", "nosuch", "true"});
  EXPECT_NE(r.code, 0);
}

INSTANTIATE_TEST_SUITE_P(Clients, LifecycleTest, ::testing::Values("docker", "hoist"),
                         [](const auto& info) { return info.param; });
