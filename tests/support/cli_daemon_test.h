// A test of hoist's CLI that runs against one daemon, named by the test's parameter (or by its part
// before a "_", for tests with more parameters, e.g. "hoistd_v1"): "dockerd" (a
// private dockerd, the reference, with docker's own CLI as the oracle) or "hoistd" (a private
// hoistd, cgroup parent /hoist-test-<pid>-<suffix>). The busybox image is imported as bb:1 by
// `hoist import`. TearDown removes the containers (with their anonymous volumes) and stops the
// daemon, also when the test failed; a subclass removes what else it made before calling it.
#pragma once
#include <gtest/gtest.h>
#include <unistd.h>

#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "docker_harness.h"
#include "harness.h"
#include "hoistd_harness.h"

namespace hoist::test {

class CliDaemonTest : public ::testing::TestWithParam<std::string> {
 protected:
  explicit CliDaemonTest(std::string suffix) : suffix_(std::move(suffix)) {}

  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (a private daemon)";
    if (!have_tool("docker")) GTEST_SKIP() << "the docker CLI is not installed";
    if (daemon() == "dockerd") {
      if (!PrivateDockerd::available()) GTEST_SKIP() << "dockerd is not installed";
      dockerd_ = std::make_unique<PrivateDockerd>();
      host_ = "unix://" + dockerd_->dir() + "/docker.sock";
      cfg_ = dockerd_->dir() + "/hoist-config";
    } else {
      hoistd_ = std::make_unique<Hoistd>(std::vector<std::string>{"--cgroup-parent", cgroup_parent()});
      host_ = hoistd_->host();
      cfg_ = hoistd_->dir() + "/hoist-config";
    }
    auto imp = hoist({"import", fixtures_dir() + "/busybox-rootfs.tar", "bb:1"});
    ASSERT_EQ(imp.code, 0) << imp.err;
  }

  void TearDown() override {
    if (dockerd_ || hoistd_)
      for (auto& id : lines(docker({"ps", "-aq"}).out)) docker({"rm", "-f", "-v", id});
    if (hoistd_) {
      remove_all_containers(*hoistd_);
      force_cleanup(*hoistd_, cgroup_parent());
      hoistd_.reset();
    }
    dockerd_.reset();
  }

  // The daemon the test runs against: the parameter up to its first "_".
  std::string daemon() const { return GetParam().substr(0, GetParam().find('_')); }
  std::string cgroup_parent() const { return "/hoist-test-" + std::to_string(getpid()) + "-" + suffix_; }

  static std::vector<std::string> lines(const std::string& s) {
    std::vector<std::string> v;
    std::istringstream in(s);
    for (std::string l; std::getline(in, l);)
      if (!l.empty()) v.push_back(l);
    return v;
  }
  CmdResult hoist(const std::vector<std::string>& args, const std::string& input = "", int timeout_s = 120) {
    std::vector<std::string> argv{HOIST_CLI_BIN, "-H", host_, "--config", cfg_};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_cmd(argv, input, timeout_s);
  }
  CmdResult docker(const std::vector<std::string>& args, const std::string& input = "", int timeout_s = 120) {
    return dockerd_ ? dockerd_->docker(args, input, timeout_s) : hoistd_->docker(args, input, timeout_s);
  }

  std::unique_ptr<PrivateDockerd> dockerd_;
  std::unique_ptr<Hoistd> hoistd_;
  std::string host_, cfg_;

 private:
  std::string suffix_;
};

}  // namespace hoist::test
