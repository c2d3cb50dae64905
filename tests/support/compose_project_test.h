// A compose project's test against one daemon (CliDaemonTest's parameter): a project name with a
// random suffix ("hct<hex>"), a temp project directory, an octet for the project's subnets in
// 10.196.0.0/16 (subnet(k)); `hoist compose` run in it; what the daemon has of the project
// (summary(): containers, networks, volumes, labels, the create fields, without what differs by
// nature) for comparing daemons and tools. TearDown runs `compose down -v --remove-orphans` and
// removes whatever is left with the project's label, also when the test failed.
#pragma once
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "cli_daemon_test.h"
#include "test_files.h"

namespace hoist::test {

class ComposeProject : public CliDaemonTest {
 protected:
  using json = nlohmann::json;
  explicit ComposeProject(std::string suffix) : CliDaemonTest(std::move(suffix)) {}

  void SetUp() override {
    CliDaemonTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    std::random_device rd;
    unsigned r = rd();
    char hex[9];
    std::snprintf(hex, sizeof hex, "%08x", r);
    project_ = std::string("hct") + hex;
    octet_ = 10 + static_cast<int>(r % 200);
    char tmpl[] = "/tmp/hoist-compose-e2e.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }

  void TearDown() override {
    if (!project_.empty() && (dockerd_ || hoistd_)) {
      compose({"down", "-v", "--remove-orphans", "-t", "1"});
      std::string f = "label=com.docker.compose.project=" + project_;
      for (auto& id : lines(docker({"ps", "-aq", "--filter", f}).out)) docker({"rm", "-f", "-v", id});
      for (auto& id : lines(docker({"network", "ls", "-q", "--filter", f}).out)) docker({"network", "rm", id});
      for (auto& id : lines(docker({"volume", "ls", "-q", "--filter", f}).out)) docker({"volume", "rm", "-f", id});
    }
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
    CliDaemonTest::TearDown();
  }

  std::string subnet(int k) const { return "10.196." + std::to_string(octet_ + k) + ".0/24"; }
  // A file of the project directory written (its directories made) or read.
  void write(const std::string& name, const std::string& text) { write_file(dir_ + "/" + name, text); }
  std::string file(const std::string& name) { return read_file(dir_ + "/" + name); }

  // `hoist compose ARGS...` in the background, its output in OUT_NAME.out and OUT_NAME.err of the
  // project directory; stopped when the returned object goes.
  std::unique_ptr<Background> compose_background(const std::vector<std::string>& args,
                                                              const std::string& out_name, int stop_signal = SIGINT) {
    std::string cmd = std::string(HOIST_CLI_BIN) + " -H " + host_ + " --config " + cfg_ +
                      " compose --project-directory " + dir_ + " -f " + dir_ + "/compose.yaml";
    for (const auto& a : args) cmd += " '" + a + "'";
    return std::make_unique<Background>(cmd, dir_ + "/" + out_name + ".out",
                                                     dir_ + "/" + out_name + ".err", stop_signal);
  }

  CmdResult compose(std::vector<std::string> args, int timeout_s = 120) {
    args.insert(args.begin(), project_args_.begin(), project_args_.end());
    args.insert(args.begin(), {"compose", "--project-directory", dir_, "-f", dir_ + "/compose.yaml"});
    return hoist(args, "", timeout_s);
  }

  json inspect(const std::string& kind, const std::string& name) {
    auto r = docker({kind, "inspect", name});
    EXPECT_EQ(r.code, 0) << r.err;
    auto j = json::parse(r.out.empty() ? "[{}]" : r.out);
    return j.empty() ? json::object() : j[0];
  }

  std::map<std::string, std::string> ids() {
    std::map<std::string, std::string> m;
    for (auto& l : lines(docker({"ps", "-a", "--filter", "label=com.docker.compose.project=" + project_, "--format",
                                 "{{.Names}} {{.ID}}"})
                             .out)) {
      auto sp = l.find(' ');
      m[l.substr(0, sp)] = l.substr(sp + 1);
    }
    return m;
  }

  // What a daemon has of the project, without what differs by nature (ids, times, the project's
  // random name, the image id's value, the daemon's own additions such as the short-id alias).
  json summary() {
    json s = json::object();
    auto norm = [&](std::string v) {
      for (std::size_t at; (at = v.find(project_)) != std::string::npos;) v.replace(at, project_.size(), "P");
      for (std::size_t at; (at = v.find(dir_)) != std::string::npos;) v.replace(at, dir_.size(), "DIR");
      if (v == subnet(0)) v = "NET_A";
      if (v == subnet(1)) v = "NET_B";
      return v;
    };
    auto hashed = [](json labels) {  // the config hash's value differs by nature (names, subnets)
      if (labels.contains("com.docker.compose.config-hash")) {
        EXPECT_EQ(labels["com.docker.compose.config-hash"].get<std::string>().size(), 64u);
        labels["com.docker.compose.config-hash"] = "HASH";
      }
      return labels;
    };
    for (const auto& [name, id] : ids()) {
      json c = inspect("container", name);
      json labels = json::object();
      for (auto& [k, v] : c["Config"]["Labels"].items()) {
        std::string val = v.get<std::string>();
        if (k == "com.docker.compose.config-hash") {
          EXPECT_EQ(val.size(), 64u) << val;
          val = "HASH";
        } else if (k == "com.docker.compose.image") {
          EXPECT_EQ(val.rfind("sha256:", 0), 0u) << val;
          val = "IMAGE";
        }
        labels[k] = norm(val);
      }
      json nets = json::object();
      for (auto& [n, ep] : c["NetworkSettings"]["Networks"].items()) {
        json aliases = json::array();
        for (auto& a : ep.value("Aliases", json::array()))
          if (id.rfind(a.get<std::string>(), 0) != 0 && c["Id"].get<std::string>().rfind(a.get<std::string>(), 0) != 0)
            aliases.push_back(a);
        nets[norm(n)] = aliases;
      }
      json env = json::array();
      for (auto& e : c["Config"].value("Env", json::array()))
        if (e.get<std::string>().rfind("PATH=", 0) != 0) env.push_back(e);
      json mounts = json::array();
      for (auto& m : c.value("Mounts", json::array()))
        mounts.push_back({{"Type", m["Type"]},
                          {"Name", m.value("Name", "").size() == 64 ? "ANON" : norm(m.value("Name", ""))},
                          {"Destination", m["Destination"]}});
      std::sort(mounts.begin(), mounts.end(),
                [](const json& a, const json& b) { return a["Destination"] < b["Destination"]; });
      s["containers"][norm(name)] = {{"Labels", labels},
                                     {"Cmd", c["Config"]["Cmd"]},
                                     {"Env", env},
                                     {"Healthcheck", c["Config"].value("Healthcheck", json())},
                                     {"RestartPolicy", c["HostConfig"]["RestartPolicy"]},
                                     {"PortBindings", c["HostConfig"].value("PortBindings", json())},
                                     {"NetworkMode", norm(c["HostConfig"]["NetworkMode"])},
                                     {"Networks", nets},
                                     {"Mounts", mounts},
                                     {"Status", c["State"]["Status"]}};
    }
    for (auto& n : lines(docker({"network", "ls", "--filter", "label=com.docker.compose.project=" + project_, "--format",
                                 "{{.Name}}"})
                             .out)) {
      json j = inspect("network", n);
      json cfg = json::array();
      for (auto& c : j["IPAM"].value("Config", json::array())) cfg.push_back(norm(c.value("Subnet", "")));
      s["networks"][norm(n)] = {{"Driver", j["Driver"]}, {"Labels", hashed(j["Labels"])}, {"Subnets", cfg}};
    }
    for (auto& v : lines(docker({"volume", "ls", "--filter", "label=com.docker.compose.project=" + project_, "--format",
                                 "{{.Name}}"})
                             .out)) {
      json j = inspect("volume", v);
      s["volumes"][norm(v)] = {{"Driver", j["Driver"]}, {"Labels", hashed(j["Labels"])}};
    }
    return json::parse(norm(s.dump()));
  }

  std::string project_, dir_;
  int octet_ = 10;
  std::vector<std::string> project_args_;  // given to every `compose` before its ARGS (e.g. -p NAME)
};

}  // namespace hoist::test
