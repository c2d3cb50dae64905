// RUN --mount=type=cache's directories (engine/build_mounts.h) on a temporary root, without
// root: one directory per cache id kept across owners (a new CacheMounts on the same root is a
// restart of hoistd), shared users on one instance, a private user getting a new instance when
// the first is busy, a locked user waiting for the other, mode and initial content of a new
// directory, and a fresh (--no-cache) one emptied unless someone else uses it.
#include "engine/build_mounts.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

namespace fs = std::filesystem;
using hoist::engine::CacheMounts;

namespace {

class CacheMountsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/hoist-cache-mounts-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    nd_.uid = ::getuid();
    nd_.gid = ::getgid();
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string dir_;
  CacheMounts::NewDir nd_;
};

}  // namespace

TEST_F(CacheMountsTest, KeptAcrossOwnersAndSharedByDefault) {
  std::string path;
  {
    CacheMounts c(dir_);
    auto a = c.acquire("pip", "", nd_);
    auto b = c.acquire("pip", "shared", nd_);
    EXPECT_EQ(a.path(), b.path());
    std::ofstream(a.path() + "/f") << "kept";
    path = a.path();
    EXPECT_NE(c.acquire("other", "", nd_).path(), path);
  }
  CacheMounts again(dir_);
  auto a = again.acquire("pip", "locked", nd_);
  EXPECT_EQ(a.path(), path);
  std::ifstream in(a.path() + "/f");
  std::string s;
  in >> s;
  EXPECT_EQ(s, "kept");
}

TEST_F(CacheMountsTest, PrivateGetsAnotherInstanceWhenBusy) {
  CacheMounts c(dir_);
  auto a = c.acquire("x", "private", nd_);
  auto b = c.acquire("x", "private", nd_);
  EXPECT_NE(a.path(), b.path());
  std::string first = a.path();
  { auto gone = std::move(a); }
  EXPECT_EQ(c.acquire("x", "private", nd_).path(), first) << "a free instance is reused";
}

TEST_F(CacheMountsTest, LockedWaitsForTheOtherUser) {
  CacheMounts c(dir_);
  std::atomic<bool> second_in{false};
  auto a = std::make_unique<CacheMounts::Lease>(c.acquire("l", "locked", nd_));
  std::thread t([&] {
    auto b = c.acquire("l", "locked", nd_);
    second_in = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(second_in) << "both inside a locked cache";
  a.reset();
  t.join();
  EXPECT_TRUE(second_in);
}

TEST_F(CacheMountsTest, NewDirectoryModeInitAndFresh) {
  CacheMounts c(dir_);
  nd_.mode = 0710;
  nd_.init = [](const std::string& d) { std::ofstream(d + "/seed") << "s"; };
  std::string path;
  {
    auto a = c.acquire("m", "", nd_);
    path = a.path();
    struct stat st {};
    ASSERT_EQ(::stat(a.path().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0710u);
    EXPECT_TRUE(fs::exists(a.path() + "/seed"));
    std::ofstream(a.path() + "/old") << "o";
  }
  nd_.init = nullptr;
  {
    auto a = c.acquire("m", "", nd_);
    auto fresh_while_used = c.acquire("m", "", nd_, true);
    EXPECT_TRUE(fs::exists(path + "/old")) << "not emptied under another user";
  }
  auto fresh = c.acquire("m", "", nd_, true);
  EXPECT_EQ(fresh.path(), path);
  EXPECT_FALSE(fs::exists(path + "/old"));
  EXPECT_FALSE(fs::exists(path + "/seed"));
}
