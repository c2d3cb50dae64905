// hoist's volume commands against a daemon, with docker 28's own CLI as the oracle on the same
// daemon (`volume create/ls/inspect/rm/prune`, run's --mount errors), each run against a private
// dockerd (the reference) and a private hoistd; and the volume JSON of the API (create, inspect,
// list, errors) and a container's Mounts compared field by field between a private dockerd and a
// private hoistd doing the same steps.
//
// What differs by nature is normalised: CreatedAt (checked for its form), the data roots in paths,
// anonymous volumes' random names, the ids in messages. What differs on purpose: hoistd labels
// anonymous volumes com.docker.volume.anonymous (dockerd 23 and later do; the private dockerd is
// 20.10), and answers bad mount specs with 400 (dockerd 23 and later; 20.10 says 500).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "cli_daemon_test.h"
#include "common/strings.h"
#include "docker_harness.h"
#include "harness.h"
#include "hoistd_harness.h"

namespace {

using hoist::test::CmdResult;
using hoist::test::run_cmd;
using json = nlohmann::json;

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

// The daemon a test runs against: "dockerd" or "hoistd".
class VolumeCli : public hoist::test::CliDaemonTest {
 protected:
  VolumeCli() : CliDaemonTest("volcli") {}
  void TearDown() override {
    if (dockerd_ || hoistd_) {
      for (auto& id : lines(docker({"ps", "-aq"}).out)) docker({"rm", "-f", "-v", id});
      for (auto& v : lines(docker({"volume", "ls", "-q"}).out)) docker({"volume", "rm", "-f", v});
    }
    CliDaemonTest::TearDown();
  }
  void expect_same(const std::vector<std::string>& args) {
    SCOPED_TRACE(hoist::join(args, " "));
    auto h = hoist(args), d = docker(args);
    EXPECT_EQ(h.code, d.code) << h.err;
    EXPECT_EQ(h.out, d.out);
    EXPECT_EQ(h.err, d.err);
  }
};

TEST_P(VolumeCli, CreateLsInspectRmPruneAsDocker) {
  auto made = hoist({"volume", "create", "--label", "tier=db", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o",
                     "o=size=1m", "vc-one"});
  ASSERT_EQ(made.code, 0) << made.err;
  EXPECT_EQ(made.out, "vc-one\n");
  ASSERT_EQ(docker({"volume", "create", "vc-two"}).code, 0);
  // What hoist made is what docker would have made.
  EXPECT_EQ(docker({"volume", "inspect", "-f", "{{.Driver}} {{json .Labels}} {{json .Options}} {{.Scope}}", "vc-one"}).out,
            "local {\"tier\":\"db\"} {\"device\":\"tmpfs\",\"o\":\"size=1m\",\"type\":\"tmpfs\"} local\n");
  ASSERT_EQ(docker({"create", "--name", "vc-user", "-v", "vc-two:/d", "bb:1", "true"}).code, 0);
  for (std::vector<std::string> args :
       {std::vector<std::string>{"volume", "ls"},
        {"volume", "ls", "-q"},
        {"volume", "list", "--format", "json"},
        {"volume", "ls", "--format", "{{.Name}}|{{.Driver}}|{{.Scope}}|{{.Mountpoint}}|{{.Labels}}|{{.Links}}|{{.Size}}"},
        {"volume", "ls", "--format", "table {{.Name}}\t{{.Labels}}\t{{.Mountpoint}}"},
        {"volume", "ls", "-f", "label=tier=db"},
        {"volume", "ls", "-f", "label=tier", "-f", "label=nope", "-q"},
        {"volume", "ls", "-f", "dangling=true", "-q"},
        {"volume", "ls", "-f", "dangling=false", "-q"},
        {"volume", "ls", "-f", "name=two", "-q"},
        {"volume", "ls", "-f", "name=^vc-o", "-q"},
        {"volume", "ls", "-f", "driver=local", "-q"},
        {"volume", "ls", "-f", "dangling=maybe"},
        {"volume", "ls", "-f", "bogus=1"},
        {"volume", "inspect", "vc-one", "vc-two"},
        {"volume", "inspect", "--format", "json", "vc-one"},
        {"volume", "inspect", "-f", "{{.Name}} {{.Mountpoint}} {{.Labels}}", "vc-one", "nosuch", "vc-two"},
        {"volume", "inspect", "nosuch"},
        {"volume", "create", "-d", "foo", "vc-x"},
        {"volume", "create", "-o", "foo=bar", "vc-x"},
        {"volume", "create", "x"},
        {"volume", "create", "--name", "vc-n", "vc-n"},
        {"volume", "rm", "vc-two"},
        {"volume", "rm", "-f", "nosuch"}})
    expect_same(args);
  // rm: the names removed, errors for the others; prune.
  ASSERT_EQ(docker({"volume", "create", "vc-three"}).code, 0);
  auto rm = hoist({"volume", "rm", "vc-three", "nosuch"});
  EXPECT_EQ(rm.code, 1);
  EXPECT_EQ(rm.out, "vc-three\n");
  EXPECT_EQ(rm.err, "Error response from daemon: get nosuch: no such volume\n");
  ASSERT_EQ(docker({"rm", "vc-user"}).code, 0);
  expect_same({"volume", "prune", "-f", "--filter", "label=nomatch"});
  // The CLI asks first (the daemon's API version decides the words); "n" keeps everything.
  expect_same({"volume", "prune"});
  // Volumes with driver options are not pruned (dockerd's rule); the others are, with a label filter.
  ASSERT_EQ(docker({"volume", "create", "--label", "tier=db", "vc-four"}).code, 0);
  auto pruned = hoist({"volume", "prune", "-f", "--filter", "label=tier=db"});
  const std::string deleted = "Deleted Volumes:\nvc-four\n\nTotal reclaimed space: 0B\n", none = "Total reclaimed space: 0B\n";
  // API 1.41 (dockerd 20.10): every unused volume; 1.43 (hoistd): anonymous ones only, unless -a.
  EXPECT_EQ(pruned.out, dockerd_ ? deleted : none) << pruned.err;
  if (hoistd_) {
    pruned = hoist({"volume", "prune", "-a", "-f", "--filter", "label=tier=db"});
    EXPECT_EQ(pruned.out, deleted) << pruned.err;
  }
  EXPECT_EQ(docker({"volume", "ls", "-q"}).out, "vc-one\nvc-two\n");
  expect_same({"volume", "prune", "-a", "-f", "--filter", "all=1"});
}

TEST_P(VolumeCli, RunMountFlagsAsDocker) {
  // docker's CLI refuses these itself; its first line and exit status, as hoist's.
  for (std::string m : {"type=volume", "dst=/x,foo=bar", "type=bind,dst=/x,volume-nocopy", "type=volume,dst=/x,readonly=maybe",
                        "type=volume,src=vv,dst=/x,bind-propagation=shared", "type=tmpfs,dst=/x,tmpfs-size=abc",
                        "type=tmpfs,dst=/x,tmpfs-mode=99", "dst=/x,novalue", "dst=/x,a\"b", "\"dst=/x",
                        "type=volume,dst=/x,image-subpath=a", "type=bind,src=/tmp,dst=/x,bind-recursive=foo",
                        "type=bind,src=/tmp,dst=/x,bind-recursive=readonly,readonly"}) {
    SCOPED_TRACE(m);
    auto h = hoist({"create", "--mount", m, "bb:1", "true"}), d = docker({"create", "--mount", m, "bb:1", "true"});
    EXPECT_EQ(h.code, d.code) << h.err;
    EXPECT_EQ(first_line(h.err), first_line(d.err));
  }
  for (std::string v : {"", ":/x", "v1::/x"}) {
    SCOPED_TRACE(v);
    auto h = hoist({"create", "-v", v, "bb:1", "true"}), d = docker({"create", "-v", v, "bb:1", "true"});
    EXPECT_EQ(h.code, d.code) << h.err;
    std::string want = first_line(d.err);
    for (size_t at; (at = want.find("docker")) != std::string::npos;) want.replace(at, 6, "hoist");
    EXPECT_EQ(first_line(h.err), want);
  }
  EXPECT_EQ(docker({"ps", "-aq"}).out, "");
  // What hoist's flags send is what docker's send: the daemon shows the same container.
  std::string dir = hoistd_ ? hoistd_->dir() : dockerd_->dir();
  for (auto* cli : {"hoist", "docker"}) {
    std::vector<std::string> args = {"create", "--name", std::string("vf-") + cli, "-v", "vf-named:/n:ro", "-v", "/anon",
                                     "-v", dir + ":/h:rslave", "--mount",
                                     "type=volume,src=vf-m,dst=/m,volume-nocopy,volume-label=k=v",
                                     "--mount", "type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=1770", "--tmpfs", "/tt:size=2m",
                                     "bb:1", "true"};
    auto r = std::string(cli) == "hoist" ? hoist(args) : docker(args);
    ASSERT_EQ(r.code, 0) << r.err;
  }
  auto sent = [&](const std::string& name) {
    auto c = json::parse(docker({"inspect", "-f", "{{json .}}", name}).out);
    auto binds = c["HostConfig"]["Binds"];
    std::sort(binds.begin(), binds.end());  // docker's CLI sends them in map order
    return json{{"Binds", binds}, {"Mounts", c["HostConfig"]["Mounts"]}, {"Tmpfs", c["HostConfig"]["Tmpfs"]},
                {"Volumes", c["Config"]["Volumes"]}};
  };
  EXPECT_EQ(sent("vf-hoist"), sent("vf-docker"));
}

INSTANTIATE_TEST_SUITE_P(Daemons, VolumeCli, ::testing::Values("dockerd", "hoistd"),
                         [](const ::testing::TestParamInfo<std::string>& i) { return i.param; });

// ---- the API's JSON: dockerd and hoistd side by side

struct Answer {
  long status = 0;
  json body;
};

// One request over a daemon's socket (curl), its status and JSON body (null when there is none).
Answer call(const std::string& sock, const std::string& method, const std::string& path, const std::string& body = "") {
  std::vector<std::string> argv = {"curl", "-s", "-o", "-", "-w", "\n%{http_code}", "--unix-socket", sock, "-X", method};
  if (!body.empty()) argv.insert(argv.end(), {"-H", "Content-Type: application/json", "-d", body});
  argv.push_back("http://d" + path);
  auto r = run_cmd(argv);
  Answer a;
  auto nl = r.out.rfind('\n');
  if (nl == std::string::npos) return a;
  a.status = std::atol(r.out.c_str() + nl + 1);
  a.body = json::parse(r.out.substr(0, nl), nullptr, false);
  if (a.body.is_discarded()) a.body = nullptr;
  return a;
}

// What differs between two daemons by nature: the data root, random names, ids, times.
json normalised(json j, const std::string& volumes_root) {
  static const std::regex hex64("[0-9a-f]{64}");
  if (j.is_string()) {
    auto s = j.get<std::string>();
    for (size_t at; (at = s.find(volumes_root)) != std::string::npos;) s.replace(at, volumes_root.size(), "<volumes>");
    return std::regex_replace(s, hex64, "<id>");
  }
  if (j.is_array()) {
    for (auto& e : j) e = normalised(e, volumes_root);
    return j;
  }
  if (!j.is_object()) return j;
  json out = json::object();
  for (auto& [k, v] : j.items()) {
    if (k == "CreatedAt") {
      EXPECT_TRUE(std::regex_match(v.get<std::string>(), std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d))")))
          << v;
      out[k] = "<time>";
      continue;
    }
    out[std::regex_replace(k, hex64, "<id>")] = normalised(v, volumes_root);
  }
  // hoistd labels anonymous volumes as dockerd 23+ does; the 20.10 oracle does not.
  if (out.contains("Labels") && out["Labels"].is_object()) {
    out["Labels"].erase("com.docker.volume.anonymous");
    if (out["Labels"].empty()) out["Labels"] = nullptr;
  }
  // dockerd lists these in map order.
  if (out.contains("Volumes") && out["Volumes"].is_array())
    std::sort(out["Volumes"].begin(), out["Volumes"].end(), [](const json& a, const json& b) { return a["Name"] < b["Name"]; });
  if (out.contains("VolumesDeleted") && out["VolumesDeleted"].is_array())
    std::sort(out["VolumesDeleted"].begin(), out["VolumesDeleted"].end());
  if (out.contains("Mounts") && out["Mounts"].is_array())
    std::sort(out["Mounts"].begin(), out["Mounts"].end(),
              [](const json& a, const json& b) { return a["Destination"] < b["Destination"]; });
  return out;
}

TEST(VolumeJson, HoistdAnswersAsDockerd) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root (private daemons)";
  if (!hoist::test::PrivateDockerd::available()) GTEST_SKIP() << "dockerd is not installed";
  hoist::test::PrivateDockerd dockerd;
  std::string cg = "/hoist-test-" + std::to_string(getpid()) + "-voljson";
  hoist::test::Hoistd hoistd({"--cgroup-parent", cg});
  struct Side {
    std::string sock, volumes_root;
    std::function<CmdResult(const std::vector<std::string>&)> docker;
  };
  std::vector<Side> sides = {
      {dockerd.dir() + "/docker.sock", dockerd.dir() + "/data/volumes/",
       [&](const std::vector<std::string>& a) { return dockerd.docker(a); }},
      {hoistd.socket(), hoistd.data_root() + "/volumes/", [&](const std::vector<std::string>& a) { return hoistd.docker(a); }}};
  // The same steps on both; every answer, normalised.
  std::vector<std::vector<json>> answers(2);
  for (int i = 0; i < 2; ++i) {
    auto& s = sides[i];
    auto& out = answers[i];
    ASSERT_EQ(s.docker({"import", hoist::test::fixtures_dir() + "/busybox-rootfs.tar", "bb:1"}).code, 0);
    auto add = [&](const std::string& method, const std::string& path, const std::string& body = "") {
      auto a = call(s.sock, method, path, body);
      out.push_back({{"request", method + " " + path + " " + body}, {"status", a.status},
                     {"body", normalised(a.body, s.volumes_root)}});
      return a;
    };
    add("POST", "/v1.41/volumes/create",
        R"({"Name":"vj-one","Labels":{"a":"b"},"DriverOpts":{"type":"tmpfs","device":"tmpfs","o":"size=1m"}})");
    add("POST", "/v1.41/volumes/create", R"({"Name":"vj-two"})");
    add("POST", "/v1.41/volumes/create", R"({"Name":"vj-two","Labels":{"other":"x"}})");  // the existing one
    add("POST", "/v1.41/volumes/create", R"({})");
    add("GET", "/v1.41/volumes/vj-one");
    add("GET", "/v1.41/volumes?filters=%7B%22name%22%3A%5B%22vj-%22%5D%7D");
    add("GET", "/v1.41/volumes?filters=%7B%22label%22%3A%5B%22a%3Db%22%5D%7D");
    add("GET", "/v1.41/volumes/nosuch");
    add("DELETE", "/v1.41/volumes/nosuch");
    add("DELETE", "/v1.41/volumes/nosuch?force=1");
    add("POST", "/v1.41/volumes/create", R"({"Name":"x"})");
    add("POST", "/v1.41/volumes/create", R"({"Name":"bad/name"})");
    add("POST", "/v1.41/volumes/create", R"({"Name":"vj-d","Driver":"nosuchdriver"})");
    add("POST", "/v1.41/volumes/create", R"({"Name":"vj-o","DriverOpts":{"bogus":"1"}})");
    add("POST", "/v1.41/volumes/create", R"({"Name":"vj-o","DriverOpts":{"o":"size=1m"}})");
    add("GET", "/v1.41/volumes?filters=%7B%22dangling%22%3A%5B%22x%22%5D%7D");
    // A container's Mounts: named, anonymous (-v /path and Config.Volumes), --mount with options.
    auto c = add("POST", "/v1.41/containers/create?name=vj-c",
                 R"({"Image":"bb:1","Cmd":["true"],"Volumes":{"/cfg":{}},"HostConfig":{"Binds":["vj-two:/two:ro","/anon","vj-one:/one:nocopy"],)"
                 R"("Mounts":[{"Type":"volume","Source":"vj-m","Target":"/m","VolumeOptions":{"NoCopy":true,"Labels":{"l":"1"},)"
                 R"("DriverConfig":{"Options":{"type":"tmpfs","device":"tmpfs"}}}},{"Type":"tmpfs","Target":"/t"}]}})");
    ASSERT_EQ(c.status, 201) << c.body;
    auto insp = call(s.sock, "GET", "/v1.41/containers/vj-c/json");
    out.push_back(normalised(json{{"Mounts", insp.body["Mounts"]}}, s.volumes_root));
    add("GET", "/v1.41/volumes/vj-m");
    add("DELETE", "/v1.41/volumes/vj-two");
    // (dockerd 20.10 cannot take the volumes of a container with a tmpfs in its Mounts: a source without one.)
    add("POST", "/v1.41/containers/create?name=vj-s",
        R"({"Image":"bb:1","Cmd":["true"],"HostConfig":{"Binds":["vj-two:/two","/anon2"],"Mounts":[{"Type":"volume","Source":"vj-m","Target":"/m"}]}})");
    add("POST", "/v1.41/containers/create?name=vj-f",
        R"({"Image":"bb:1","Cmd":["true"],"HostConfig":{"VolumesFrom":["vj-s:ro"]}})");
    insp = call(s.sock, "GET", "/v1.41/containers/vj-f/json");
    out.push_back(normalised(json{{"Mounts", insp.body["Mounts"]}}, s.volumes_root));
    add("POST", "/v1.41/containers/create", R"({"Image":"bb:1","Cmd":["true"],"HostConfig":{"VolumesFrom":["nosuch"]}})");
    add("POST", "/v1.41/containers/create", R"({"Image":"bb:1","Cmd":["true"],"HostConfig":{"Binds":["x:/x"]}})");
    add("POST", "/v1.41/containers/create",
        R"({"Image":"bb:1","Cmd":["true"],"HostConfig":{"Mounts":[{"Type":"volume","Target":"/x","ReadOnly":true}]}})");
    add("DELETE", "/v1.41/containers/vj-f?v=1");
    add("DELETE", "/v1.41/containers/vj-s?v=1");
    add("DELETE", "/v1.41/containers/vj-c?v=1");
    add("POST", "/v1.41/volumes/prune");
    add("GET", "/v1.41/volumes");
    s.docker({"rm", "-f", "-v", "vj-c", "vj-f", "vj-s"});
    for (auto v : {"vj-one", "vj-m"}) s.docker({"volume", "rm", "-f", v});
  }
  ASSERT_EQ(answers[0].size(), answers[1].size());
  for (size_t k = 0; k < answers[0].size(); ++k) EXPECT_EQ(answers[1][k], answers[0][k]) << "step " << k;
  hoist::test::remove_all_containers(hoistd);
  hoist::test::force_cleanup(hoistd, cg);
}

}  // namespace
