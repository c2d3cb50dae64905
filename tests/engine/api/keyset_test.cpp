// The JSON a client reads from hoistd has dockerd's shape: the same steps on a private dockerd and a
// private hoistd, then the key sets (with each value's JSON type) of inspect (container and image),
// containers/json, images/json, info, version, system/df and events compared. A key dockerd has and
// hoistd lacks, or a value of another type (null where dockerd has [] included), fails the test;
// keys only hoistd has are printed (newer API versions add some).
#include <gtest/gtest.h>
#include <unistd.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "common/strings.h"
#include "docker_harness.h"
#include "hoistd_harness.h"

using hoist::test::Hoistd;
using hoist::test::PrivateDockerd;
using hoist::test::run_cmd;
using nlohmann::json;

namespace {

std::string cgroup_parent() { return "/hoist-test-" + std::to_string(getpid()) + "-keyset"; }

// Values that are maps of user data (their keys are data, not fields): not descended into.
const std::set<std::string> kDataMaps = {
    "Labels", "Config.Labels", "ContainerConfig.Labels", "Config.ExposedPorts", "Config.Volumes",
    "ContainerConfig.ExposedPorts", "ContainerConfig.Volumes", "NetworkSettings.Networks",
    "NetworkSettings.Ports", "HostConfig.PortBindings", "HostConfig.LogConfig.Config", "GraphDriver.Data",
    "HostConfig.Sysctls", "HostConfig.Tmpfs", "HostConfig.StorageOpt", "Runtimes", "Actor.Attributes",
    "[].Labels", "[].NetworkSettings.Networks", "Images.[].Labels", "Containers.[].Labels",
    "Containers.[].NetworkSettings.Networks", "Volumes.[].Labels", "RegistryConfig.IndexConfigs",
    "Images.[].Containers", "Plugins", "Swarm", "DefaultAddressPools", "Metadata"};

// Fields whose type legitimately follows the data (e.g. null when empty in both, but one side may
// have data): compared by presence only.
const std::set<std::string> kAnyType = {"ExecIDs", "State.Health", "[].Mounts.[]", "RepoDigests",
                                       "Config.Cmd", "Config.Entrypoint", "ContainerConfig.Cmd",
                                       "ContainerConfig.Entrypoint", "Config.OnBuild", "ContainerConfig.OnBuild",
                                       "Config.Env", "ContainerConfig.Env", "Parent", "Comment",
                                       "HostConfig.Binds", "HostConfig.Mounts", "Mounts", "[].Mounts",
                                       "BuildCache", "Volumes", "Warnings", "GraphDriver.Data",
                                       "DriverStatus"};

std::string type_of(const json& v) {
  if (v.is_null()) return "null";
  if (v.is_object()) return "object";
  if (v.is_array()) return v.empty() ? "array(empty)" : "array";
  if (v.is_string()) return "string";
  if (v.is_boolean()) return "boolean";
  return "number";
}

void collect(const json& v, const std::string& path, std::map<std::string, std::string>& out) {
  if (!path.empty()) out[path] = type_of(v);
  if (kDataMaps.count(path)) return;
  if (v.is_object()) {
    for (auto& [k, x] : v.items()) collect(x, path.empty() ? k : path + "." + k, out);
  } else if (v.is_array()) {
    for (auto& x : v) collect(x, path.empty() ? "[]" : path + ".[]", out);
  }
}

// Differences: "missing K (docker: T)", "type K: docker T, hoist U"; extras go to `extra`.
std::vector<std::string> diff(const json& docker, const json& hoist, std::vector<std::string>& extra) {
  std::map<std::string, std::string> a, b;
  collect(docker, "", a);
  collect(hoist, "", b);
  std::vector<std::string> out;
  for (auto& [k, t] : a) {
    auto it = b.find(k);
    if (it == b.end()) {
      out.push_back("missing " + k + " (docker: " + t + ")");
      continue;
    }
    if (kAnyType.count(k)) continue;
    auto norm = [](std::string s) { return s == "array(empty)" ? std::string("array") : s; };
    // An empty list on one side and a filled one on the other is data, not shape.
    if (norm(t) == norm(it->second)) continue;
    out.push_back("type " + k + ": docker " + t + ", hoist " + it->second);
  }
  for (auto& [k, t] : b)
    if (!a.count(k)) extra.push_back(k);
  return out;
}

std::string curl(const std::string& sock, const std::string& path) {
  auto r = run_cmd({"curl", "-sS", "--max-time", "20", "--unix-socket", sock, "http://d" + path});
  return r.out;
}

class KeySetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root";
    if (!PrivateDockerd::available()) GTEST_SKIP() << "docker/dockerd not installed";
    if (!hoist::test::have_tool("curl")) GTEST_SKIP() << "curl missing";
    dockerd_ = std::make_unique<PrivateDockerd>();
    hoistd_ = std::make_unique<Hoistd>(std::vector<std::string>{"--cgroup-parent", cgroup_parent()});
  }
  void TearDown() override {
    if (hoistd_) {
      hoist::test::remove_all_containers(*hoistd_);
      hoist::test::force_cleanup(*hoistd_, cgroup_parent());
    }
    if (dockerd_) dockerd_->docker({"rm", "-f", "k-run", "k-exited"});
  }
  // The same steps on both.
  template <class D>
  void steps(D& d, const std::string& bind_dir) {
    auto r = d.docker({"import", hoist::test::fixtures_dir() + "/busybox-rootfs.tar", "bb:1"});
    ASSERT_EQ(r.code, 0) << r.err;
    r = d.docker({"run", "-d", "--name", "k-run", "--label", "a=b", "-v", bind_dir + ":/d:ro", "--health-cmd", "true",
                  "--health-interval", "1s", "bb:1", "sleep", "300"});
    ASSERT_EQ(r.code, 0) << r.err;
    r = d.docker({"run", "--name", "k-exited", "bb:1", "sh", "-c", "echo hi; exit 3"});
    ASSERT_EQ(r.code, 3) << r.err;
    d.docker({"exec", "k-run", "true"});
    sleep(2);  // a health check result
  }
  std::unique_ptr<PrivateDockerd> dockerd_;
  std::unique_ptr<Hoistd> hoistd_;
};

}  // namespace

TEST_F(KeySetTest, ResponsesHaveDockersKeysAndTypes) {
  hoist::test::TempDir bind;
  steps(*dockerd_, bind.path());
  steps(*hoistd_, bind.path());
  std::string dsock = dockerd_->dir() + "/docker.sock";
  std::string hsock = hoistd_->socket();
  const std::vector<std::string> paths = {
      "/v1.41/containers/k-run/json",  "/v1.41/containers/k-exited/json", "/v1.41/containers/json?all=1",
      "/v1.41/images/json",            "/v1.41/images/bb:1/json",         "/v1.41/info",
      "/v1.41/version",                "/v1.41/system/df",                "/v1.41/images/bb:1/history",
      "/v1.41/containers/k-run/top"};
  std::ostringstream report;
  int problems = 0;
  for (auto& p : paths) {
    json dj = json::parse(curl(dsock, p), nullptr, false);
    json hj = json::parse(curl(hsock, p), nullptr, false);
    ASSERT_FALSE(dj.is_discarded()) << "dockerd " << p;
    ASSERT_FALSE(hj.is_discarded()) << "hoistd " << p;
    std::vector<std::string> extra;
    auto d = diff(dj, hj, extra);
    problems += static_cast<int>(d.size());
    for (auto& x : d) report << p << ": " << x << "\n";
    for (auto& x : extra) std::cout << p << ": only in hoist: " << x << "\n";
  }
  // Events: one of each kind seen on both, compared by (Type, Action).
  auto events = [&](const std::string& sock) {
    std::map<std::string, json> by_kind;
    auto text = curl(sock, "/v1.41/events?since=0&until=" + std::to_string(time(nullptr)));
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
      auto e = json::parse(line, nullptr, false);
      if (!e.is_object()) continue;
      std::string action = e.value("Action", "");
      action = action.substr(0, action.find(':'));
      by_kind.emplace(e.value("Type", "") + "/" + action, e);
    }
    return by_kind;
  };
  auto de = events(dsock), he = events(hsock);
  EXPECT_FALSE(de.empty());
  for (auto& [kind, e] : de) {
    // dockerd logs "detach" when an attach ends by its context being cancelled, which races with
    // the container's exit for an attached `run`: seen on some runs and not on others.
    if (kind == "container/detach") continue;
    auto it = he.find(kind);
    if (it == he.end()) {
      report << "events: no " << kind << " event\n";
      ++problems;
      continue;
    }
    std::vector<std::string> extra;
    for (auto& x : diff(e, it->second, extra)) {
      report << "events " << kind << ": " << x << "\n";
      ++problems;
    }
  }
  EXPECT_EQ(problems, 0) << report.str();
}
