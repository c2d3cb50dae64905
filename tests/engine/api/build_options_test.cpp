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
#include <thread>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <vector>

#include "build_test_support.h"
#include "common/strings.h"
#include "docker_harness.h"
#include "hoistd_harness.h"

using hoist::trim;
using hoist::test::CmdResult;
using hoist::test::masked;
using hoist::test::put;
using hoist::test::run_cmd;
using nlohmann::json;

namespace {

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

class BuildOptionsTest : public hoist::test::BuildOracleTest {
 protected:
  BuildOptionsTest() : BuildOracleTest("bopts") {}

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
    BuildOracleTest::TearDown();
  }

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

namespace {

// `curl` of hoistd's or dockerd's API: the body, the status on the last line.
std::pair<int, std::string> api(const std::string& sock, const std::string& method, const std::string& path) {
  auto r = run_cmd({"curl", "-s", "-w", "\n%{http_code}", "-X", method, "--unix-socket", sock, "http://x" + path});
  std::size_t nl = r.out.rfind('\n');
  if (nl == std::string::npos) return {0, r.out};
  return {std::atoi(r.out.c_str() + nl + 1), r.out.substr(0, nl)};
}

json records(const json& df, const std::string& type) {
  json out = json::array();
  if (df.contains("BuildCache") && df["BuildCache"].is_array())
    for (const json& b : df["BuildCache"])
      if (b.value("Type", "") == type) out.push_back(b);
  return out;
}

}  // namespace

// The build cache in /system/df and POST /build/prune: the step entries (regular, shared while a
// tagged image needs them) and the RUN cache mounts (exec.cachemount), pruned as dockerd's API
// answers (its shapes and words compared), with docker's CLIs (20.10 and 28) against hoistd; a
// cache mount a running build uses is never pruned.
TEST_F(BuildOptionsTest, BuildCachePruneAndDf) {
  std::string hs = socket(true), ds = socket(false);
  // The empty cache's answers, and a bad filter's, as dockerd's.
  {
    auto dp = api(ds, "POST", "/v1.41/build/prune"), hp = api(hs, "POST", "/v1.41/build/prune");
    EXPECT_EQ(hp.first, dp.first);
    EXPECT_EQ(hp.second, dp.second);
  }
  auto dbad = api(ds, "POST", "/v1.41/build/prune?filters=%7B%22bogus%22%3A%5B%22x%22%5D%7D");
  auto hbad = api(hs, "POST", "/v1.41/build/prune?filters=%7B%22bogus%22%3A%5B%22x%22%5D%7D");
  EXPECT_EQ(hbad.first, dbad.first);
  EXPECT_EQ(hbad.second, dbad.second);
  json ddf = json::parse(api(ds, "GET", "/v1.41/system/df").second, nullptr, false);
  json hdf = json::parse(api(hs, "GET", "/v1.41/system/df").second, nullptr, false);
  EXPECT_EQ(hdf["BuildCache"], ddf["BuildCache"]) << "an empty cache";
  EXPECT_EQ(hdf.contains("BuilderSize"), ddf.contains("BuilderSize"));

  put(ctx_ + "/Dockerfile",
      "FROM bb:1\n"
      "RUN --mount=type=cache,target=/cache dd if=/dev/zero of=/cache/big bs=1024 count=200 2>/dev/null\n"
      "RUN echo one > /one\n");
  auto b = hoist_cli({"build", "-t", "c:1", ctx_});
  ASSERT_EQ(b.code, 0) << b.out << b.err;
  json df = json::parse(api(hs, "GET", "/v1.43/system/df").second, nullptr, false);
  json mounts = records(df, "exec.cachemount"), steps = records(df, "regular");
  ASSERT_EQ(mounts.size(), 1u) << df.dump(1);
  EXPECT_GE(mounts[0].value("Size", 0), 200 * 1024);
  EXPECT_EQ(mounts[0].value("Description", ""),
            "cached mount /cache from exec /bin/sh -c dd if=/dev/zero of=/cache/big bs=1024 count=200 2>/dev/null");
  EXPECT_FALSE(mounts[0].value("InUse", true));
  EXPECT_FALSE(mounts[0].value("Shared", true));
  ASSERT_EQ(steps.size(), 2u) << df.dump(1);
  for (const json& s : steps) {
    EXPECT_TRUE(s.value("Shared", false)) << "c:1 needs it: " << s.dump();
    EXPECT_EQ(s["ID"].get<std::string>().size(), 25u);
    EXPECT_FALSE(s.contains("Parent"));
    EXPECT_TRUE(s["CreatedAt"].is_string());
  }
  bool linked = steps[1].value("Parents", json::array()) == json::array({steps[0]["ID"]}) ||
                steps[0].value("Parents", json::array()) == json::array({steps[1]["ID"]});
  EXPECT_TRUE(linked) << steps.dump(1);
  json old = json::parse(api(hs, "GET", "/v1.41/system/df").second, nullptr, false);
  std::int64_t sum = 0;
  for (const json& r : old["BuildCache"]) {
    sum += r.value("Size", std::int64_t{0});
    EXPECT_FALSE(r.contains("Parents"));
  }
  EXPECT_EQ(old.value("BuilderSize", std::int64_t{0}), sum);
  // A second build uses the entries: counted, and shown by docker's system df -v.
  ASSERT_EQ(hoist_cli({"build", "-t", "c:1", ctx_}).code, 0);
  df = json::parse(api(hs, "GET", "/v1.43/system/df").second, nullptr, false);
  for (const json& s : records(df, "regular")) {
    EXPECT_EQ(s.value("UsageCount", 0), 1) << s.dump();
    EXPECT_TRUE(s["LastUsedAt"].is_string()) << s.dump();
  }
  auto dfv = d_->docker({"system", "df", "-v"});
  EXPECT_EQ(dfv.code, 0) << dfv.err;
  EXPECT_NE(dfv.out.find("Build cache usage:"), std::string::npos) << dfv.out;
  // hoist system df (and -v) prints docker 28's tables byte for byte (once more when a second
  // ticked between the two).
  ASSERT_EQ(d_->docker({"volume", "create", "dfvol"}).code, 0);
  ASSERT_EQ(d_->docker({"create", "--name", "dfc", "-v", "dfvol:/v", "c:1", "true"}).code, 0);
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"system", "df"}, std::vector<std::string>{"system", "df", "-v"}})
    for (int i = 0; i < 2; ++i) {
      auto want = d_->docker(args);
      auto got = hoist_cli(args);
      ASSERT_EQ(got.code, 0) << got.err;
      if (got.out == want.out && i == 0) break;
      EXPECT_EQ(got.out, want.out);
    }
  EXPECT_NE(hoist_cli({"system", "df", "-v", "--format", "{{.Images}}"}).code, 0);
  // type= (API 1.42): only the parts asked for, the others null; an unknown type is a 400.
  json vols = json::parse(api(hs, "GET", "/v1.43/system/df?type=volume&type=container").second, nullptr, false);
  EXPECT_TRUE(vols["Images"].is_null()) << vols.dump();
  EXPECT_TRUE(vols["BuildCache"].is_null()) << vols.dump();
  EXPECT_EQ(vols["LayersSize"], 0);
  EXPECT_EQ(vols["Volumes"].size(), 1u) << vols.dump();
  EXPECT_EQ(vols["Containers"].size(), 1u) << vols.dump();
  json cached = json::parse(api(hs, "GET", "/v1.43/system/df?type=build-cache").second, nullptr, false);
  EXPECT_TRUE(cached["Volumes"].is_null() && cached["Containers"].is_null()) << cached.dump();
  EXPECT_FALSE(cached["BuildCache"].empty()) << cached.dump();
  json before = json::parse(api(hs, "GET", "/v1.41/system/df?type=volume").second, nullptr, false);
  EXPECT_TRUE(before["Images"].is_array()) << "type= is API 1.42's";
  auto bogus = api(hs, "GET", "/v1.43/system/df?type=bogus");
  EXPECT_EQ(bogus.first, 400);
  EXPECT_EQ(bogus.second, "{\"message\":\"unknown object type: bogus\"}\n");
  ASSERT_EQ(d_->docker({"rm", "-v", "dfc"}).code, 0);
  ASSERT_EQ(d_->docker({"volume", "rm", "dfvol"}).code, 0);
  EXPECT_NE(dfv.out.find(mounts[0]["ID"].get<std::string>().substr(0, 12)), std::string::npos) << dfv.out;
  auto old_cli = run_cmd({"/usr/bin/docker", "-H", d_->host(), "system", "df"});
  EXPECT_EQ(old_cli.code, 0) << old_cli.err;
  EXPECT_NE(old_cli.out.find("Build Cache"), std::string::npos) << old_cli.out;

  // An orphaned step (c:1 now names another image): unshared, pruned with its image.
  put(ctx_ + "/Dockerfile", "FROM bb:1\nRUN echo one > /one\nRUN echo two > /two\n");
  std::string orphan(trim(d_->docker({"image", "inspect", "-f", "{{.Id}}", "c:1"}).out));
  ASSERT_EQ(hoist_cli({"build", "-t", "c:1", ctx_}).code, 0);
  // A build that holds its cache mount while prune runs.
  put(d_->dir() + "/ctx2/Dockerfile", "FROM bb:1\nRUN --mount=type=cache,target=/held,id=held sh -c 'echo x > /held/x; sleep 4'\n");
  CmdResult held;
  std::thread bg([&] { held = hoist_cli({"build", d_->dir() + "/ctx2"}); });
  bool saw_in_use = false;
  for (int i = 0; i < 60 && !saw_in_use; ++i) {
    json now = json::parse(api(hs, "GET", "/v1.43/system/df").second, nullptr, false);
    for (const json& m : records(now, "exec.cachemount")) saw_in_use = saw_in_use || m.value("InUse", false);
    if (!saw_in_use) ::usleep(100000);
  }
  EXPECT_TRUE(saw_in_use);
  auto pr = run_cmd({"docker", "-H", d_->host(), "builder", "prune", "-f"});
  EXPECT_EQ(pr.code, 0) << pr.err;
  EXPECT_NE(pr.out.find("Deleted build cache objects:"), std::string::npos) << pr.out;
  EXPECT_NE(pr.out.find(mounts[0]["ID"].get<std::string>()), std::string::npos) << pr.out;
  EXPECT_NE(pr.out.find("Total reclaimed space:"), std::string::npos) << pr.out;
  bg.join();
  EXPECT_EQ(held.code, 0) << held.out << held.err;
  EXPECT_NE(d_->docker({"image", "inspect", orphan}).code, 0) << "the orphaned step's image went with its entry";
  df = json::parse(api(hs, "GET", "/v1.43/system/df").second, nullptr, false);
  mounts = records(df, "exec.cachemount");
  ASSERT_EQ(mounts.size(), 1u) << "the held one stayed: " << df.dump(1);
  for (const json& s : records(df, "regular"))  // c:1's, and the held build's own step
    EXPECT_TRUE(s.value("Shared", false) || s.value("Description", "").find("/held") != std::string::npos) << s.dump();
  // A filter: only the cache mounts.
  auto f = run_cmd({"/usr/bin/docker", "-H", d_->host(), "builder", "prune", "-f", "--filter", "type=exec.cachemount"});
  EXPECT_EQ(f.code, 0) << f.err;
  df = json::parse(api(hs, "GET", "/v1.43/system/df").second, nullptr, false);
  EXPECT_TRUE(records(df, "exec.cachemount").empty()) << df.dump(1);
  EXPECT_FALSE(records(df, "regular").empty());
  // -a: the entries c:1 needs stay (pruning them would free nothing), as dockerd's classic
  // builder's step images stay through `builder prune -a`: the next build, on either daemon, is
  // all cached and makes no new image; the answer is dockerd's for nothing removed.
  ASSERT_EQ(build(false, {"-t", "c:1", ctx_}).code, 0);
  std::map<bool, std::string> images_before;
  for (bool hoist : {true, false}) {
    auto a = hoist ? hoist_cli({"builder", "prune", "-a", "-f"})
                   : run_cmd({"/usr/bin/docker", "-H", "unix://" + ds, "builder", "prune", "-a", "-f"});
    EXPECT_EQ(a.code, 0) << a.err;
    images_before[hoist] = docker(hoist, {"images", "-aq"}).out;
  }
  auto dpa = api(ds, "POST", "/v1.41/build/prune?all=1"), hpa = api(hs, "POST", "/v1.41/build/prune?all=1");
  EXPECT_EQ(hpa.second, dpa.second);
  EXPECT_EQ(hpa.second, "{\"CachesDeleted\":null,\"SpaceReclaimed\":0}\n");
  df = json::parse(api(hs, "GET", "/v1.43/system/df").second, nullptr, false);
  EXPECT_EQ(records(df, "regular").size(), 2u) << df.dump(1);
  EXPECT_EQ(d_->docker({"run", "--rm", "--network", "none", "c:1", "cat", "/two"}).out, "two\n");
  for (bool hoist : {true, false}) {
    auto again = build(hoist, {"-t", "c:1", ctx_});
    ASSERT_EQ(again.code, 0) << again.err;
    std::size_t hits = 0;
    for (std::size_t at = 0; (at = again.out.find(" ---> Using cache", at)) != std::string::npos; ++at) ++hits;
    EXPECT_EQ(hits, 2u) << (hoist ? "hoistd" : "dockerd") << again.out;
    EXPECT_EQ(docker(hoist, {"images", "-aq"}).out, images_before[hoist]);
  }
  // hoist builder prune prints what docker 28's does (ids masked), with and without anything to remove.
  std::map<bool, std::string> printed, printed_empty;
  for (bool docker_cli : {false, true}) {
    put(d_->dir() + "/ctx4/Dockerfile", std::string("FROM bb:1\nRUN --mount=type=cache,target=/bp,id=bp") +
                                            (docker_cli ? "2" : "1") + " touch /bp/f\n");
    ASSERT_EQ(hoist_cli({"build", d_->dir() + "/ctx4"}).code, 0);
    std::vector<std::string> args{"builder", "prune", "-f", "--filter", "type=exec.cachemount"};
    auto r = docker_cli ? d_->docker(args) : hoist_cli(args);
    EXPECT_EQ(r.code, 0) << r.err;
    printed[docker_cli] = std::regex_replace(r.out, std::regex("[0-9a-f]{25}"), "<id>");
    auto e = docker_cli ? d_->docker(args) : hoist_cli(args);
    printed_empty[docker_cli] = e.out;
  }
  EXPECT_EQ(printed[false], printed[true]);
  EXPECT_EQ(printed_empty[false], printed_empty[true]);
  // system prune takes the build cache too (hoist's CLI and docker 20.10's).
  for (bool docker_cli : {false, true}) {
    put(d_->dir() + "/ctx3/Dockerfile", std::string("FROM bb:1\nRUN --mount=type=cache,target=/sp,id=sp") +
                                            (docker_cli ? "2" : "1") + " touch /sp/f\n");
    ASSERT_EQ(hoist_cli({"build", d_->dir() + "/ctx3"}).code, 0);
    df = json::parse(api(hs, "GET", "/v1.43/system/df").second, nullptr, false);
    ASSERT_EQ(records(df, "exec.cachemount").size(), 1u) << df.dump(1);
    auto sp = docker_cli ? run_cmd({"/usr/bin/docker", "-H", d_->host(), "system", "prune", "-f"})
                         : hoist_cli({"system", "prune", "-f"});
    EXPECT_EQ(sp.code, 0) << sp.err;
    EXPECT_NE(sp.out.find(records(df, "exec.cachemount")[0]["ID"].get<std::string>()), std::string::npos) << sp.out;
    df = json::parse(api(hs, "GET", "/v1.43/system/df").second, nullptr, false);
    EXPECT_TRUE(records(df, "exec.cachemount").empty()) << df.dump(1);
  }
}

// --cache-from: an image built by dockerd, saved and loaded on a clean daemon, serves every step
// of the same build as cache ("Using cache", the same final image); both daemons alike; a
// missing cache source is skipped; a changed file runs the steps from its COPY on.
TEST_F(BuildOptionsTest, CacheFromLoadedImageAsDockerd) {
  put(ctx_ + "/a.txt", "alpha\n");
  put(ctx_ + "/Dockerfile",
      "FROM bb:1\n"
      "ENV A=1\n"
      "COPY a.txt /a.txt\n"
      "RUN echo built > /built\n"
      "WORKDIR /w\n"
      "CMD [\"cat\", \"/built\"]\n");
  auto first = build(false, {"-t", "app:1", ctx_});
  ASSERT_EQ(first.code, 0) << first.out << first.err;
  std::string want_id(trim(dockerd_->docker({"image", "inspect", "-f", "{{.Id}}", "app:1"}).out));
  std::string tar = d_->dir() + "/app.tar";
  ASSERT_EQ(dockerd_->docker({"save", "-o", tar, "app:1", "bb:1"}).code, 0);
  std::map<bool, std::string> outs;
  for (bool hoist : {false, true}) {
    SCOPED_TRACE(hoist ? "hoistd" : "dockerd");
    if (!hoist) {
      ASSERT_EQ(docker(false, {"rmi", "app:1", "bb:1"}).code, 0);
    } else {
      docker(true, {"rmi", "bb:1"});
    }
    auto l = docker(hoist, {"load", "-i", tar});
    ASSERT_EQ(l.code, 0) << l.err;
    auto r = build(hoist, {"--cache-from", "app:1", "--cache-from", "missing:1", "-t", "app:2", ctx_});
    ASSERT_EQ(r.code, 0) << r.out << r.err;
    std::size_t hits = 0;
    for (std::size_t at = 0; (at = r.out.find(" ---> Using cache\n", at)) != std::string::npos; ++at) ++hits;
    EXPECT_EQ(hits, 5u) << r.out;
    EXPECT_EQ(r.out.find("Running in"), std::string::npos) << r.out;
    EXPECT_EQ(trim(docker(hoist, {"image", "inspect", "-f", "{{.Id}}", "app:2"}).out), want_id);
    EXPECT_EQ(docker(hoist, {"run", "--rm", "--network", "none", "app:2"}).out, "built\n");
    outs[hoist] = masked(r.out);
  }
  EXPECT_EQ(outs[true], outs[false]);
  // A changed file: the steps from its COPY on run.
  put(ctx_ + "/a.txt", "changed\n");
  auto changed = hoist_cli({"build", "--cache-from", "app:1", "-t", "app:3", ctx_});
  ASSERT_EQ(changed.code, 0) << changed.out << changed.err;
  std::size_t hits = 0;
  for (std::size_t at = 0; (at = changed.out.find(" ---> Using cache\n", at)) != std::string::npos; ++at) ++hits;
  EXPECT_EQ(hits, 1u) << "ENV only: " << changed.out;
  EXPECT_EQ(d_->docker({"run", "--rm", "--network", "none", "app:3", "cat", "/a.txt"}).out, "changed\n");
}
