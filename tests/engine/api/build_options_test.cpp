// /build's options beyond the Dockerfile, with a private dockerd 20.10 doing the same builds as the
// oracle (docker's CLI, DOCKER_BUILDKIT=0, against each daemon): the step containers' resources
// (memory, swap, CPU shares/period/quota, cpusets, cgroup parent, ulimits, extra hosts, /dev/shm
// size) as the RUN steps see them and as the kept container of a failed RUN records them; the
// build cache (POST /build/prune, /system/df's BuildCache, `docker builder prune`, `system df`);
// --cache-from with images loaded on a clean daemon.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <vector>

#include "common/strings.h"
#include "docker_harness.h"
#include "hoistd_harness.h"

using hoist::trim;
using hoist::test::CmdResult;
using hoist::test::run_cmd;
using nlohmann::json;

namespace {

void put(const std::string& path, const std::string& data) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary | std::ios::trunc) << data;
}

std::string masked(const std::string& s) {
  std::string out = std::regex_replace(s, std::regex("sha256:[0-9a-f]{64}"), "<digest>");
  return std::regex_replace(out, std::regex("\\b[0-9a-f]{12}\\b"), "<id>");
}

// A cgroup made under `parent` in any hierarchy: removed, children first.
void remove_cgroup_tree(const std::string& parent) {
  std::error_code ec;
  for (const auto& h : std::filesystem::directory_iterator("/sys/fs/cgroup", ec)) {
    std::filesystem::path base = h.path() / parent.substr(parent.find_first_not_of('/'));
    if (!std::filesystem::is_directory(base, ec)) continue;
    std::vector<std::filesystem::path> dirs;
    for (auto it = std::filesystem::recursive_directory_iterator(base, ec); it != std::filesystem::end(it); ++it)
      if (it->is_directory(ec)) dirs.push_back(it->path());
    std::sort(dirs.rbegin(), dirs.rend());
    for (auto& d : dirs) ::rmdir(d.c_str());
    ::rmdir(base.c_str());
  }
}

class BuildOptionsTest : public hoist::test::DaemonTest {
 protected:
  BuildOptionsTest() : DaemonTest("bopts") {}

  void SetUp() override {
    DaemonTest::SetUp();
    if (IsSkipped()) return;
    if (!hoist::test::PrivateDockerd::available()) GTEST_SKIP() << "dockerd is not installed";
    dockerd_ = std::make_unique<hoist::test::PrivateDockerd>();
    ASSERT_EQ(dockerd_->docker({"import", hoist::test::fixtures_dir() + "/busybox-rootfs.tar", "bb:1"}).code, 0);
    ctx_ = d_->dir() + "/ctx";
  }
  void TearDown() override {
    for (bool hoist : {false, true}) {
      if (hoist && !d_) continue;
      if (!hoist && !dockerd_) continue;
      auto ids = docker(hoist, {"ps", "-aq"});
      for (const std::string& id : hoist::split(trim(ids.out), '\n'))
        if (!id.empty()) docker(hoist, {"rm", "-f", id});
    }
    dockerd_.reset();
    for (const std::string& p : cgroups_) remove_cgroup_tree(p);
    DaemonTest::TearDown();
  }

  std::string socket(bool hoist) const { return hoist ? d_->socket() : dockerd_->dir() + "/docker.sock"; }
  CmdResult build(bool hoist, const std::vector<std::string>& args) {
    std::vector<std::string> argv{"env", "DOCKER_BUILDKIT=0", "DOCKER_CONFIG=" + d_->dir() + "/docker-config",
                                  "docker", "-H", "unix://" + socket(hoist), "build"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_cmd(argv, "", 300);
  }
  CmdResult docker(bool hoist, const std::vector<std::string>& args) {
    return hoist ? d_->docker(args) : dockerd_->docker(args);
  }
  CmdResult hoist_cli(const std::vector<std::string>& args) {
    std::vector<std::string> argv{HOIST_CLI_BIN, "-H", d_->host()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_cmd(argv, "", 300);
  }

  std::unique_ptr<hoist::test::PrivateDockerd> dockerd_;
  std::string ctx_;
  std::vector<std::string> cgroups_;
};

}  // namespace

// The step containers' resources: every RUN sees the same limits, hosts, ulimits and /dev/shm
// under both daemons, and the failed RUN's kept container records the same HostConfig.
TEST_F(BuildOptionsTest, ResourcesOfRunStepsAsDockerd) {
  put(ctx_ + "/Dockerfile",
      "FROM bb:1\n"
      "RUN cd /sys/fs/cgroup && cat memory/memory.limit_in_bytes cpu/cpu.shares cpu/cpu.cfs_period_us "
      "cpu/cpu.cfs_quota_us cpuset/cpuset.cpus cpuset/cpuset.mems 2>&1; grep -c memsw memory/memory.memsw.limit_in_bytes 2>&1 >/dev/null; "
      "grep myhost /etc/hosts; ulimit -Sn; ulimit -Hn; df -k /dev/shm | tail -1 | awk '{print \"shm \" $2}'\n"
      "RUN cat /sys/fs/cgroup/memory/memory.limit_in_bytes; ulimit -n; grep other /etc/hosts; exit 7\n");
  std::map<bool, json> kept;
  std::map<bool, std::string> outs;
  for (bool hoist : {false, true}) {
    SCOPED_TRACE(hoist ? "hoistd" : "dockerd");
    std::string parent = "/hoist-test-bopts-" + std::to_string(::getpid()) + (hoist ? "-h" : "-d");
    cgroups_.push_back(parent);
    auto r = build(hoist, {"--memory", "64m", "--memory-swap", "128m", "--cpu-shares", "512", "--cpu-period", "50000",
                           "--cpu-quota", "25000", "--cpuset-cpus", "0", "--cpuset-mems", "0", "--cgroup-parent", parent,
                           "--ulimit", "nofile=512:1024", "--add-host", "myhost:10.1.2.3", "--add-host",
                           "other:10.9.8.7", "--shm-size", "32m", ctx_});
    EXPECT_NE(r.code, 0) << r.out;
    outs[hoist] = masked(r.out);
    EXPECT_NE(r.out.find("67108864\n512\n50000\n25000\n0\n0\n"), std::string::npos) << r.out << r.err;
    EXPECT_NE(r.out.find("10.1.2.3\tmyhost\n512\n1024\nshm 32768\n"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("67108864\n512\n10.9.8.7\tother\n"), std::string::npos) << "every RUN: " << r.out;
    std::string id(trim(docker(hoist, {"ps", "-aq"}).out));
    ASSERT_FALSE(id.empty()) << "the failed RUN's container is kept";
    auto in = docker(hoist, {"inspect", id});
    json j = json::parse(in.out, nullptr, false);
    ASSERT_TRUE(j.is_array() && !j.empty()) << in.out << in.err;
    json hc = j[0]["HostConfig"];
    json want;
    for (const char* k : {"Memory", "MemorySwap", "CpuShares", "CpuPeriod", "CpuQuota", "CpusetCpus", "CpusetMems",
                          "Ulimits", "ExtraHosts", "ShmSize"})
      want[k] = hc[k];
    want["CgroupParentMatches"] = hc.value("CgroupParent", "") == parent;
    kept[hoist] = want;
  }
  EXPECT_EQ(kept[true].dump(1), kept[false].dump(1));
  EXPECT_EQ(outs[true], outs[false]);
  // Bad values: refused as dockerd refuses them (the container's create).
  for (bool hoist : {false, true}) {
    auto r = build(hoist, {"--memory", "1k", ctx_});
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.out.find("Minimum memory limit allowed is 6MB") + r.err.find("Minimum memory limit allowed is 6MB"),
              2 * std::string::npos)
        << r.out << r.err;
  }
  // hoist's CLI sends the same query.
  auto h = hoist_cli({"build", "--no-cache", "--ulimit", "nofile=256", "--add-host", "myhost=10.1.2.4", "--shm-size", "16m",
                      "--memory", "64m", ctx_});
  EXPECT_NE(h.out.find("10.1.2.4\tmyhost\n256\n256\nshm 16384\n"), std::string::npos) << h.out << h.err;
  auto bad = hoist_cli({"build", "--ulimit", "bogus=1", ctx_});
  EXPECT_NE(bad.err.find("invalid argument \"bogus=1\" for \"--ulimit\" flag: invalid ulimit type: bogus"),
            std::string::npos)
      << bad.err;
}
