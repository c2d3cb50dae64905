// What the build tests of the engine share: files and tars for contexts, ids masked for comparing
// two daemons' output, and a fixture with a private hoistd and a private dockerd 20.10 (bb:1
// imported into it) that builds with docker's legacy builder client against either.
#pragma once
#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <memory>
#include <regex>
#include <string>
#include <utility>
#include <vector>

#include "docker_harness.h"
#include "hoistd_harness.h"
#include "test_tar.h"

namespace hoist::test {

// `data` at `path` (its directories made), with `mode`.
inline void put(const std::string& path, const std::string& data, mode_t mode = 0644) {
  run_cmd({"mkdir", "-p", path.substr(0, path.rfind('/'))});
  std::ofstream(path, std::ios::binary | std::ios::trunc) << data;
  ::chmod(path.c_str(), mode);
}

// Ids and digests (which differ between any two daemons) as <id> and <digest>.
inline std::string masked(const std::string& s) {
  std::string out = std::regex_replace(s, std::regex("sha256:[0-9a-f]{64}"), "<digest>");
  return std::regex_replace(out, std::regex("\\b[0-9a-f]{12}\\b"), "<id>");
}

// A tar (gzip-compressed when `gz`) at `path` of regular files (name, data), mode 0644, one mtime.
inline void write_tar(const std::string& path, const std::vector<std::pair<std::string, std::string>>& files,
                      bool gz = false) {
  run_cmd({"mkdir", "-p", path.substr(0, path.rfind('/'))});
  std::vector<test::TarItem> items;
  for (const auto& [name, data] : files) items.push_back({.path = name, .data = data});
  test::write_tar_file(path, items, {.filter = gz ? "gzip" : ""});
}

// A private hoistd (DaemonTest's) and a private dockerd with bb:1; ctx_ a context directory of
// the test's own (empty).
class BuildOracleTest : public DaemonTest {
 protected:
  explicit BuildOracleTest(std::string suffix) : DaemonTest(std::move(suffix)) {}

  void SetUp() override {
    DaemonTest::SetUp();
    if (IsSkipped()) return;
    if (!PrivateDockerd::available()) GTEST_SKIP() << "dockerd is not installed";
    dockerd_ = std::make_unique<PrivateDockerd>();
    ASSERT_EQ(dockerd_->docker({"import", fixtures_dir() + "/busybox-rootfs.tar", "bb:1"}).code, 0);
    ctx_ = d_->dir() + "/ctx";
  }
  void TearDown() override {
    dockerd_.reset();
    DaemonTest::TearDown();
  }

  std::string socket(bool hoist) const { return hoist ? d_->socket() : dockerd_->dir() + "/docker.sock"; }
  // docker's legacy builder client against one daemon.
  CmdResult build(bool hoist, const std::vector<std::string>& args) {
    std::vector<std::string> argv{"env", "DOCKER_BUILDKIT=0", "DOCKER_CONFIG=" + d_->dir() + "/docker-config",
                                  "docker", "-H", "unix://" + socket(hoist), "build"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_cmd(argv, "", 300);
  }
  CmdResult docker(bool hoist, const std::vector<std::string>& args) {
    return hoist ? d_->docker(args) : dockerd_->docker(args);
  }
  // hoist's own CLI against hoistd.
  CmdResult hoist_cli(const std::vector<std::string>& args) {
    std::vector<std::string> argv{HOIST_CLI_BIN, "-H", d_->host()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_cmd(argv, "", 300);
  }

  std::unique_ptr<PrivateDockerd> dockerd_;
  std::string ctx_;
};

}  // namespace hoist::test
