// `hoist compose`: its flags reach the loader and `config` prints what docker compose config does.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "cli/commands/commands.h"
#include "test_files.h"

namespace hoist::cli {
namespace {

namespace fs = std::filesystem;

class ComposeCli : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/hoist-cli-compose.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir = tmpl;
    hoist::test::write_file((dir / "a.yaml").string(),
                            "services:\n  web:\n    image: \"nginx:${TAG:-1}\"\n    volumes: [data:/d]\n"
                            "  dev:\n    image: x\n    profiles: [dev]\nvolumes:\n  data: {}\n");
    hoist::test::write_file((dir / "b.yaml").string(), "services:\n  web:\n    ports: ['80']\n");
  }
  void TearDown() override { fs::remove_all(dir); }
  // Runs `hoist compose ARGS...`: its status, stdout and stderr.
  int run(std::vector<std::string> args, std::string& out, std::string& err) {
    Ctx ctx;
    testing::internal::CaptureStdout();
    testing::internal::CaptureStderr();
    int rc;
    try {
      rc = cmd_compose(ctx, args);
    } catch (const ExitError& e) {
      rc = e.code;
      if (!e.msg.empty()) std::fprintf(stderr, "%s\n", e.msg.c_str());
    }
    out = testing::internal::GetCapturedStdout();
    err = testing::internal::GetCapturedStderr();
    return rc;
  }
  fs::path dir;
};

TEST_F(ComposeCli, ConfigListsAndRenders) {
  std::string f1 = (dir / "a.yaml").string(), f2 = (dir / "b.yaml").string(), out, err;
  EXPECT_EQ(run({"-f", f1, "-f", f2, "-p", "demo", "config", "--services"}, out, err), 0) << err;
  EXPECT_EQ(out, "web\n");
  EXPECT_EQ(run({"-f", f1, "--profile", "dev", "-p", "demo", "config", "--services"}, out, err), 0) << err;
  EXPECT_EQ(out, "dev\nweb\n");
  EXPECT_EQ(run({"-f", f1, "-p", "demo", "config", "--volumes"}, out, err), 0) << err;
  EXPECT_EQ(out, "data\n");
  EXPECT_EQ(run({"-f", f1, "-f", f2, "-p", "demo", "config", "--format", "json"}, out, err), 0) << err;
  auto j = json::parse(out);
  EXPECT_EQ(j["name"], "demo");
  EXPECT_EQ(j["services"]["web"]["image"], "nginx:1");
  EXPECT_EQ(j["services"]["web"]["ports"][0]["target"], 80);
  EXPECT_EQ(j["volumes"]["data"]["name"], "demo_data");
  EXPECT_EQ(run({"-f", f1, "-p", "demo", "config", "--hash", "web"}, out, err), 0) << err;
  EXPECT_EQ(out.size(), std::string("web ").size() + 64 + 1);
  EXPECT_EQ(run({"-f", f1, "-p", "demo", "config", "-q"}, out, err), 0) << err;
  EXPECT_EQ(out, "");
}

TEST_F(ComposeCli, ErrorsAndRefusals) {
  std::string out, err;
  hoist::test::write_file((dir / "bad.yaml").string(), "services:\n  web:\n    image: x\n    networks: [nope]\n");
  EXPECT_EQ(run({"-f", (dir / "bad.yaml").string(), "config"}, out, err), 1);
  EXPECT_EQ(err, "service \"web\" refers to undefined network nope: invalid compose project\n");
  // watch: refused before the daemon is asked anything when no service has rules, or a rule's
  // action is one hoist does not have yet.
  EXPECT_EQ(run({"-f", (dir / "a.yaml").string(), "watch"}, out, err), 1);
  EXPECT_EQ(err, "none of the selected services is configured for watch, consider setting an 'develop' section\n");
  auto watch_error = [&](const std::string& rule) {
    hoist::test::write_file((dir / "w.yaml").string(),
                            "services:\n  web:\n    image: x\n    develop:\n      watch:\n        - " + rule + "\n");
    EXPECT_EQ(run({"-f", (dir / "w.yaml").string(), "watch", "--no-up"}, out, err), 1) << rule;
    return err;
  };
  EXPECT_EQ(watch_error("{action: sync+exec, path: ., target: /x}"),
            "can't watch with action \"sync+exec\" on service web without a command\n");
  EXPECT_EQ(watch_error("{action: sync, path: ., target: /x, exec: {command: [\"true\"]}}"),
            "services.web.develop.watch: `exec` applies to action sync+exec, not to \"sync\"\n");
  EXPECT_EQ(watch_error("{action: rebuild, path: ., initial_sync: true}"),
            "services.web.develop.watch: `initial_sync` applies to sync actions, not to \"rebuild\"\n");
  EXPECT_EQ(
      watch_error("{action: copy, path: ., target: /x}"),
      "services.web.develop.watch: invalid action \"copy\" (rebuild, restart, sync, sync+restart or sync+exec)\n");
  EXPECT_EQ(watch_error("{action: rebuild, path: .}"),
            "can't watch service \"web\" with action rebuild without a build context\n");
  EXPECT_EQ(run({"-f", (dir / "a.yaml").string(), "scale", "web"}, out, err), 1);
  EXPECT_EQ(err, "Invalid scale specifier: web\n");
  EXPECT_EQ(run({"-f", (dir / "a.yaml").string(), "config", "--format", "toml"}, out, err), 125);
  EXPECT_EQ(run({"--bogus", "config"}, out, err), 125);
}

}  // namespace
}  // namespace hoist::cli
