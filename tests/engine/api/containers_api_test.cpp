// Containers through hoistd as a user sees them: the real docker CLI against a private hoistd
// (own data root, exec root, socket, cgroup parent), running containers from a busybox image.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <fstream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/strings.h"
#include "docker_harness.h"
#include "hoistd_harness.h"

namespace fs = std::filesystem;
using hoist::trim;
using hoist::test::Hoistd;
using nlohmann::json;

namespace {

class ContainerApiTest : public hoist::test::DaemonTest {
 protected:
  ContainerApiTest() : DaemonTest("api") {}
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
  std::vector<std::string> argv = {HOISTD_BIN, "-H", d_->host(), "--data-root", data, "--exec-root", d_->exec_root(),
                                   "--cgroup-parent", cgroup_parent()};
  for (auto& a : d_->network_args()) argv.push_back(a);
  hoist::test::ChildProcess again(argv, d_->dir() + "/hoistd2.log");
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

// ---- dockerd's answers: docker update, stats' shape, prune's reclaimed space, swarm endpoints
// outside a swarm, import --change, load of a bad archive (a private dockerd is the reference
// where it can run).

namespace {

std::string run_detached(Hoistd& d, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"run", "-d"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = d.docker(argv);
  EXPECT_EQ(r.code, 0) << r.err;
  return std::string(trim(r.out));
}

std::string inspect(Hoistd& d, const std::string& c, const std::string& format) {
  return std::string(trim(d.docker({"inspect", "-f", format, c}).out));
}

std::string read_trimmed(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return std::string(trim(ss.str()));
}

bool v2() { return access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0; }

// A file of the container's cgroup in `controller` (v1) or its unified directory (v2).
std::string cgroup_file(Hoistd& d, const std::string& c, const std::string& controller, const std::string& file) {
  std::ifstream in("/proc/" + inspect(d, c, "{{.State.Pid}}") + "/cgroup");
  std::string line, path;
  while (std::getline(in, line)) {
    auto a = line.find(':'), b = line.find(':', a + 1);
    auto ctrls = "," + line.substr(a + 1, b - a - 1) + ",";
    if (ctrls.find("," + controller + ",") != std::string::npos)
      return read_trimmed("/sys/fs/cgroup/" + controller + line.substr(b + 1) + "/" + file);
    if (ctrls == ",,") path = "/sys/fs/cgroup" + line.substr(b + 1) + "/" + file;
  }
  return read_trimmed(path);
}

std::set<std::string> keys(const json& j) {
  std::set<std::string> out;
  if (j.is_object())
    for (auto& [k, v] : j.items()) out.insert(k);
  return out;
}

std::string joined(const std::set<std::string>& s) {
  std::string out;
  for (auto& k : s) out += (out.empty() ? "" : ",") + k;
  return out;
}

}  // namespace

TEST_F(ContainerApiTest, UpdateAppliesLimitsAndRestartPolicyAndKeepsThem) {
  run_detached(*d_, {"--name", "upd", "-m", "32m", "bb:1", "sleep", "1000"});
  auto r = d_->docker({"update", "--memory", "64m", "--cpus", "0.5", "--restart", "always", "upd"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(trim(r.out), "upd");
  EXPECT_EQ(inspect(*d_, "upd", "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.RestartPolicy.Name}}"),
            "67108864 500000000 always");
  auto check_cgroup = [&] {
    if (v2()) {
      EXPECT_EQ(cgroup_file(*d_, "upd", "memory", "memory.max"), "67108864");
      EXPECT_EQ(cgroup_file(*d_, "upd", "cpu", "cpu.max"), "50000 100000");
    } else {
      EXPECT_EQ(cgroup_file(*d_, "upd", "memory", "memory.limit_in_bytes"), "67108864");
      EXPECT_EQ(cgroup_file(*d_, "upd", "cpu", "cpu.cfs_quota_us"), "50000");
      EXPECT_EQ(cgroup_file(*d_, "upd", "cpu", "cpu.cfs_period_us"), "100000");
    }
  };
  check_cgroup();
  // A restart builds the container's cgroup from the record again: the new limits stay.
  ASSERT_EQ(d_->docker({"restart", "-t", "0", "upd"}).code, 0);
  check_cgroup();
  // The restart policy is the one in force: a container killed behind the daemon's back comes back.
  auto pid = inspect(*d_, "upd", "{{.State.Pid}}");
  ASSERT_EQ(::kill(std::stoi(pid), SIGKILL), 0);
  bool back = false;
  for (int i = 0; i < 100 && !back; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    back = inspect(*d_, "upd", "{{.State.Running}} {{.RestartCount}}") == "true 1";
  }
  EXPECT_TRUE(back) << inspect(*d_, "upd", "{{.State.Status}} {{.RestartCount}}");

  // A stopped container takes an update too; its next start has it.
  run_detached(*d_, {"--name", "stopped", "-m", "32m", "bb:1", "sleep", "1000"});
  ASSERT_EQ(d_->docker({"stop", "-t", "0", "stopped"}).code, 0);
  r = d_->docker({"update", "--memory", "48m", "stopped"});
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_EQ(d_->docker({"start", "stopped"}).code, 0);
  EXPECT_EQ(cgroup_file(*d_, "stopped", "memory", v2() ? "memory.max" : "memory.limit_in_bytes"), "50331648");

  // dockerd's checks and messages.
  r = d_->docker({"update", "--memory", "1k", "upd"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("Minimum memory limit allowed is 6MB"), std::string::npos) << r.err;
  run_detached(*d_, {"--name", "nolimit", "bb:1", "sleep", "1000"});
  r = d_->docker({"update", "--memory", "64m", "nolimit"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("Cannot update container " + inspect(*d_, "nolimit", "{{.Id}}") +
                       ": Memory limit should be smaller than already set memoryswap limit, update the memoryswap at "
                       "the same time"),
            std::string::npos)
      << r.err;
  r = d_->docker({"update", "--cpus", "100000", "upd"});
  EXPECT_NE(r.err.find("Range of CPUs is from 0.01 to"), std::string::npos) << r.err;
  r = d_->docker({"update", "--cpu-period", "100000", "upd"});
  EXPECT_NE(r.err.find("Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set"),
            std::string::npos)
      << r.err;
  auto h = d_->http("POST", "/v1.41/containers/upd/update", R"({"RestartPolicy":{"Name":"bogus"}})",
                    {"Content-Type: application/json"});
  EXPECT_EQ(h.status, 400) << h.body;
  EXPECT_NE(h.body.find("invalid restart policy 'bogus'"), std::string::npos) << h.body;
  h = d_->http("POST", "/v1.41/containers/upd/update", R"({"Memory":9223372036854775807,"MemorySwap":-1})",
               {"Content-Type: application/json"});
  EXPECT_EQ(h.status, 200) << h.body;
  EXPECT_EQ(json::parse(h.body), json({{"Warnings", nullptr}}));
  EXPECT_EQ(d_->http("POST", "/v1.41/containers/nosuch/update", "{}", {"Content-Type: application/json"}).status, 404);
  EXPECT_TRUE(d_->running());
  // docker-py: the same endpoint, its own way.
  auto py = d_->python(R"(
import docker, os
c = docker.DockerClient(base_url=os.environ["HOIST_HOST"]).containers.get("upd")
c.update(mem_limit="80m", memswap_limit="160m", cpu_shares=512)
c.reload()
print(c.attrs["HostConfig"]["Memory"], c.attrs["HostConfig"]["MemorySwap"], c.attrs["HostConfig"]["CpuShares"])
)");
  EXPECT_EQ(py.code, 0) << py.err;
  EXPECT_EQ(trim(py.out), "83886080 167772160 512");
  if (!v2()) {
    EXPECT_EQ(cgroup_file(*d_, "upd", "cpu", "cpu.shares"), "512");
  }
  r = d_->docker({"update", "--pids-limit", "20", "upd"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(cgroup_file(*d_, "upd", "pids", "pids.max"), "20");
}

TEST_F(ContainerApiTest, SwarmEndpointsAnswerAsANodeOutsideASwarm) {
  const std::string not_manager = "This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\"";
  for (auto args : std::vector<std::vector<std::string>>{{"node", "ls"}, {"service", "ls"}, {"secret", "ls"},
                                                         {"config", "ls"}, {"swarm", "unlock-key"}}) {
    auto r = d_->docker(args);
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.err.find(not_manager), std::string::npos) << args[0] << ": " << r.err;
  }
  for (auto path : {"/swarm", "/nodes", "/services", "/tasks", "/secrets", "/configs", "/nodes/x", "/tasks/x"}) {
    auto h = d_->http("GET", std::string("/v1.41") + path);
    EXPECT_EQ(h.status, 503) << path;
    EXPECT_EQ(json::parse(h.body)["message"].get<std::string>().rfind(not_manager, 0), 0u) << path << ": " << h.body;
  }
  auto leave = d_->docker({"swarm", "leave"});
  EXPECT_NE(leave.err.find("This node is not part of a swarm"), std::string::npos) << leave.err;
  auto h = d_->http("POST", "/v1.41/services/x/update", "{}", {"Content-Type: application/json"});
  EXPECT_EQ(h.status, 400);
  EXPECT_NE(h.body.find("invalid service version ''"), std::string::npos) << h.body;
  // docker info still works and says the swarm is inactive.
  EXPECT_EQ(trim(d_->docker({"info", "-f", "{{.Swarm.LocalNodeState}}"}).out), "inactive");
}

TEST_F(ContainerApiTest, StatsHaveDockerdsShape) {
  auto id = run_detached(*d_, {"--name", "st", "bb:1", "sh", "-c", "while true; do sleep 0.1; done"});
  auto h = d_->http("GET", "/v1.41/containers/st/stats?stream=0");
  ASSERT_EQ(h.status, 200) << h.body;
  auto two = json::parse(h.body);
  h = d_->http("GET", "/v1.41/containers/st/stats?stream=0&one-shot=1");
  ASSERT_EQ(h.status, 200) << h.body;
  auto one = json::parse(h.body);
  EXPECT_EQ(d_->http("GET", "/v1.41/containers/st/stats?stream=1&one-shot=1").status, 400);

  // The reference: a private dockerd's answer for a running busybox without a network.
  std::set<std::string> top = {"read", "preread", "pids_stats", "blkio_stats", "num_procs", "storage_stats",
                               "cpu_stats", "precpu_stats", "memory_stats", "name", "id"};
  std::set<std::string> cpu = {"cpu_usage", "system_cpu_usage", "online_cpus", "throttling_data"};
  std::set<std::string> precpu_one_shot = {"cpu_usage", "throttling_data"};
  std::set<std::string> blkio = {"io_service_bytes_recursive", "io_serviced_recursive", "io_queue_recursive",
                                 "io_service_time_recursive", "io_wait_time_recursive", "io_merged_recursive",
                                 "io_time_recursive", "sectors_recursive"};
  std::set<std::string> memory = {"usage", "max_usage", "stats", "limit"};
  if (v2()) memory.erase("max_usage");
  if (hoist::test::PrivateDockerd::available()) {
    hoist::test::PrivateDockerd dd;
    ASSERT_EQ(dd.docker({"import", hoist::test::fixtures_dir() + "/busybox-rootfs.tar", "bb:1"}).code, 0);
    ASSERT_EQ(dd.docker({"run", "-d", "--network", "none", "--name", "st", "bb:1", "sh", "-c",
                         "while true; do sleep 0.1; done"})
                  .code,
              0);
    auto get = [&](const std::string& q) {
      auto r = hoist::test::run_cmd({"curl", "-s", "--unix-socket", dd.dir() + "/docker.sock",
                                     "http://localhost/v1.41/containers/st/stats?" + q});
      return json::parse(r.out);
    };
    auto ref = get("stream=0");
    top = keys(ref);
    cpu = keys(ref["cpu_stats"]);
    blkio = keys(ref["blkio_stats"]);
    memory = keys(ref["memory_stats"]);
    precpu_one_shot = keys(get("stream=0&one-shot=1")["precpu_stats"]);
    dd.docker({"rm", "-f", "st"});
  }
  EXPECT_EQ(joined(keys(two)), joined(top));
  EXPECT_FALSE(two.contains("networks"));  // no network, as with --network none
  EXPECT_EQ(joined(keys(two["cpu_stats"])), joined(cpu));
  EXPECT_EQ(joined(keys(two["precpu_stats"])), joined(cpu));  // two samples: the previous one is filled
  EXPECT_EQ(joined(keys(two["blkio_stats"])), joined(blkio));
  EXPECT_EQ(joined(keys(two["memory_stats"])), joined(memory));
  EXPECT_FALSE(two["memory_stats"]["stats"].empty());
  EXPECT_NE(two["preread"], "0001-01-01T00:00:00Z");
  EXPECT_GE(two["cpu_stats"]["cpu_usage"]["total_usage"].get<std::int64_t>(),
            two["precpu_stats"]["cpu_usage"]["total_usage"].get<std::int64_t>());
  EXPECT_GT(two["pids_stats"]["current"].get<int>(), 0);
  EXPECT_EQ(two["id"], id);
  EXPECT_EQ(two["name"], "/st");
  // one-shot: one sample, an empty previous one.
  EXPECT_EQ(joined(keys(one["precpu_stats"])), joined(precpu_one_shot));
  EXPECT_EQ(one["preread"], "0001-01-01T00:00:00Z");
  // docker stats --no-stream computes its columns from it.
  auto r = d_->docker({"stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}} {{.BlockIO}} {{.NetIO}}", "st"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("st ", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("0B / 0B"), std::string::npos) << r.out;
}

TEST_F(ContainerApiTest, ContainerPruneReportsTheSpaceOfTheWritableLayers) {
  auto r = d_->docker({"run", "--name", "w1", "bb:1", "sh", "-c",
                       "dd if=/dev/zero of=/data bs=1k count=100 2>/dev/null; echo x > /etc/y"});
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_EQ(d_->docker({"run", "--name", "w2", "bb:1", "true"}).code, 0);
  // The same sizes as docker ps -s and inspect -s show them.
  EXPECT_EQ(inspect(*d_, "w1", "{{.SizeRw}}"), "<nil>");  // without --size, as dockerd
  EXPECT_EQ(trim(d_->docker({"inspect", "-s", "-f", "{{.SizeRw}}", "w1"}).out), "102402");
  EXPECT_EQ(trim(d_->docker({"inspect", "-s", "-f", "{{.SizeRw}}", "w2"}).out), "0");
  auto ps = d_->docker({"ps", "-as", "--format", "{{.Names}} {{.Size}}"});
  EXPECT_NE(ps.out.find("w1 102kB (virtual "), std::string::npos) << ps.out;
  EXPECT_NE(ps.out.find("w2 0B (virtual "), std::string::npos) << ps.out;
  // Filters: a label that none has keeps them all.
  auto h = d_->http("POST", "/v1.41/containers/prune?filters=%7B%22label%22%3A%5B%22nosuch%22%5D%7D");
  EXPECT_EQ(h.body, R"({"ContainersDeleted":null,"SpaceReclaimed":0})");
  EXPECT_EQ(d_->http("POST", "/v1.41/containers/prune?filters=%7B%22bogus%22%3A%5B%22x%22%5D%7D").status, 400);
  h = d_->http("POST", "/v1.41/containers/prune");
  ASSERT_EQ(h.status, 200) << h.body;
  auto j = json::parse(h.body);
  EXPECT_EQ(j["ContainersDeleted"].size(), 2u) << h.body;
  EXPECT_EQ(j["SpaceReclaimed"], 102400 + 2) << h.body;  // dockerd says 102402 for the same two
  r = d_->docker({"container", "prune", "-f"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("Total reclaimed space: 0B"), std::string::npos) << r.out;
}

TEST_F(ContainerApiTest, ImportAppliesChangesAndLoadReportsABadArchiveInTheStream) {
  auto tar = hoist::test::fixtures_dir() + "/busybox-rootfs.tar";
  auto r = d_->docker({"import", "--change", "CMD [\"sh\", \"-c\", \"echo $A\"]", "--change", "ENV A=b C=\"d e\"",
                       "--change", "WORKDIR /tmp", "--change", "EXPOSE 80 90/udp", "--change", "LABEL x=y",
                       "--change", "USER nobody", "--change", "VOLUME /v", "--change", "ENTRYPOINT []", tar, "chg:1"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto cfg = json::parse(d_->docker({"inspect", "-f", "{{json .Config}}", "chg:1"}).out);
  EXPECT_EQ(cfg["Cmd"], json({"sh", "-c", "echo $A"}));
  EXPECT_EQ(cfg["Env"], json({"A=b", "C=d e"}));
  EXPECT_EQ(cfg["WorkingDir"], "/tmp");
  EXPECT_EQ(cfg["ExposedPorts"], json({{"80/tcp", json::object()}, {"90/udp", json::object()}}));
  EXPECT_EQ(cfg["Labels"], json({{"x", "y"}}));
  EXPECT_EQ(cfg["User"], "nobody");
  EXPECT_EQ(cfg["Volumes"], json({{"/v", json::object()}}));
  // The image runs with them.
  r = d_->docker({"run", "--rm", "--user", "0", "chg:1"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "b\n");
  // A container's Config is the image's completed by what the client gave, as dockerd keeps it.
  r = d_->docker({"create", "--name", "chgc", "-e", "C=mine", "--label", "z=1", "chg:1"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto cc = json::parse(d_->docker({"inspect", "-f", "{{json .Config}}", "chgc"}).out);
  EXPECT_EQ(cc["Env"], json({"C=mine", "A=b"}));
  EXPECT_EQ(cc["Cmd"], json({"sh", "-c", "echo $A"}));
  EXPECT_EQ(cc["WorkingDir"], "/tmp");
  EXPECT_EQ(cc["User"], "nobody");
  EXPECT_EQ(cc["Labels"], json({{"x", "y"}, {"z", "1"}}));
  EXPECT_EQ(cc["ExposedPorts"], cfg["ExposedPorts"]);
  EXPECT_EQ(cc["Volumes"], cfg["Volumes"]);
  EXPECT_EQ(d_->docker({"rm", "chgc"}).code, 0);
  r = d_->docker({"import", "--change", "CMD echo hi", tar, "chg:2"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(trim(d_->docker({"inspect", "-f", "{{json .Config.Cmd}}", "chg:2"}).out), R"(["/bin/sh","-c","echo hi"])");
  // What dockerd refuses, with its messages.
  for (auto [change, msg] : std::vector<std::pair<std::string, std::string>>{
           {"RUN echo", "run is not a valid change command"},
           {"STOPSIGNAL 9", "stopsignal is not a valid change command"},
           {"ENV", "ENV requires at least one argument"},
           {"EXPOSE abc", "Invalid containerPort: abc"},
           {"ONBUILD FROM x", "FROM isn't allowed as an ONBUILD trigger"}}) {
    r = d_->docker({"import", "--change", change, tar, "chg:bad"});
    EXPECT_NE(r.code, 0) << change;
    EXPECT_NE(r.err.find(msg), std::string::npos) << change << ": " << r.err;
  }
  EXPECT_NE(d_->docker({"inspect", "chg:bad"}).code, 0);

  // docker load of garbage: an error in the 200 stream, which the CLI and docker-py report.
  auto h = d_->http("POST", "/v1.41/images/load", "not a tar\n", {"Content-Type: application/x-tar"});
  EXPECT_EQ(h.status, 200) << h.body;
  EXPECT_TRUE(json::parse(h.body.substr(0, h.body.find('\n'))).contains("error")) << h.body;
  r = d_->docker({"load"}, "not a tar\n");
  EXPECT_EQ(r.code, 1);
  EXPECT_FALSE(trim(r.err).empty());
  auto py = d_->python(R"(
import docker, os
c = docker.DockerClient(base_url=os.environ["HOIST_HOST"])
try:
    c.images.load(b"not a tar\n")
    print("loaded")
except docker.errors.ImageLoadError as e:
    print("ImageLoadError")
)");
  EXPECT_EQ(trim(py.out), "ImageLoadError") << py.err;
}
