// Test harness for the runtime integration tests (root only).
// The runtime under test is $HOIST_TEST_RUNTIME (a path or a name on $PATH, e.g. "runc"),
// else the hoist-runtime built here, so the same tests check our runtime and a reference one.
#pragma once
#include <gtest/gtest.h>
#include <sys/types.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace hoist::test {

struct CmdResult {
  int code = -1;  // exit code, 128+sig if killed
  std::string out, err;
};

// Runs argv with stdin from `input`, capturing stdout and stderr, killed after timeout_s.
CmdResult run_cmd(const std::vector<std::string>& argv, const std::string& input = "", int timeout_s = 30);

std::string runtime_path();
bool runtime_is_hoist();
// The busybox rootfs made by scripts/make-busybox-fixtures.sh (built once per test binary).
std::string busybox_rootfs();

// One test's private world: a temp dir holding the runtime's --root and bundles, a cgroup
// parent of its own; everything it made is deleted and removed in the destructor.
class RuntimeFixture : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // A bundle whose config is the fixture default with `edit` applied; returns the bundle dir.
  std::string make_bundle(const std::string& name, const std::function<void(nlohmann::json&)>& edit);
  nlohmann::json default_config(const std::string& id) const;

  CmdResult rt(const std::vector<std::string>& args, const std::string& input = "", int timeout_s = 30);
  // `run` of a container whose process prints something; returns the result.
  CmdResult run_container(const std::string& id, const std::function<void(nlohmann::json&)>& edit, int timeout_s = 30);
  nlohmann::json state(const std::string& id);
  // Polls `state` until the status is `want` (up to 2 s); returns the last status seen.
  std::string wait_status(const std::string& id, const std::string& want);
  void track(const std::string& id) { ids_.push_back(id); }
  std::string cgroup_parent() const { return cgroup_parent_; }

  std::string dir_;   // temp dir
  std::string root_;  // runtime --root
  std::string cgroup_parent_;
  std::vector<std::string> ids_;
};

}  // namespace hoist::test
