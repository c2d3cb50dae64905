// open_in_root: every mount target is resolved inside the container's root, whatever symlinks the
// image holds. These run unprivileged on a temp dir.
#include "runtime/rootfs.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/error.h"

namespace hoist::runtime {
namespace {

namespace fs = std::filesystem;

class OpenInRoot : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/hoist-oir-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    base_ = tmpl;
    root_ = base_ + "/root";
    outside_ = base_ + "/outside";
    fs::create_directories(root_ + "/etc");
    fs::create_directories(outside_);
    root_fd_ = open(root_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    ASSERT_GE(root_fd_, 0);
  }
  void TearDown() override {
    close(root_fd_);
    fs::remove_all(base_);
  }
  // Where an O_PATH fd really points.
  static std::string where(const UniqueFd& fd) { return fs::read_symlink(fd_path(fd.get())).string(); }
  bool outside_untouched() const { return fs::is_empty(outside_); }

  std::string base_, root_, outside_;
  int root_fd_ = -1;
};

TEST_F(OpenInRoot, CreatesMissingDirectoriesAndFiles) {
  auto d = open_in_root(root_fd_, "/a/b/c", true, false);
  EXPECT_EQ(where(d), root_ + "/a/b/c");
  EXPECT_TRUE(fs::is_directory(root_ + "/a/b/c"));
  auto f = open_in_root(root_fd_, "/a/file", true, true);
  EXPECT_TRUE(fs::is_regular_file(root_ + "/a/file"));
  EXPECT_EQ(where(open_in_root(root_fd_, "/", false, false)), root_);
}

TEST_F(OpenInRoot, AbsoluteSymlinksResolveInsideTheRoot) {
  fs::create_symlink(outside_, root_ + "/evil");  // an image's symlink to the host path
  auto d = open_in_root(root_fd_, "/evil/x", true, false);
  EXPECT_EQ(where(d), root_ + outside_ + "/x");
  EXPECT_TRUE(outside_untouched());
}

TEST_F(OpenInRoot, DotDotCannotClimbOut) {
  fs::create_symlink("../../../../outside", root_ + "/up");
  auto d = open_in_root(root_fd_, "/up/y", true, false);
  EXPECT_EQ(where(d).rfind(root_, 0), 0u) << where(d);
  auto e = open_in_root(root_fd_, "/../../outside/z", true, false);
  EXPECT_EQ(where(e), root_ + "/outside/z");
  EXPECT_TRUE(outside_untouched());
}

TEST_F(OpenInRoot, ChainsOfSymlinksStayInside) {
  fs::create_symlink("/l2", root_ + "/l1");
  fs::create_symlink("../../" + outside_.substr(1), root_ + "/l2");
  auto d = open_in_root(root_fd_, "/l1/deep/file", true, true);
  EXPECT_EQ(where(d).rfind(root_ + "/", 0), 0u) << where(d);
  EXPECT_TRUE(outside_untouched());
}

TEST_F(OpenInRoot, MagicLinksAreRefused) {
  fs::create_symlink("/proc/self/root", root_ + "/magic");
  // Inside the root this names <root>/proc/self/root, which does not exist; nothing may be
  // created through the host's /proc.
  EXPECT_THROW(open_in_root(root_fd_, "/magic/etc", false, false), SysError);
  EXPECT_TRUE(outside_untouched());
}

TEST_F(OpenInRoot, ErrorsNameThePath) {
  try {
    open_in_root(root_fd_, "/missing/x", false, false);
    FAIL();
  } catch (const SysError& e) {
    EXPECT_EQ(std::string(e.what()), "open /missing/x: No such file or directory");
  }
}

TEST(CgroupMount, OneBindPerHierarchyWithLinksForCoMountedControllers) {
  cgroups::Layout l;
  l.v1 = {{"cpu", "/sys/fs/cgroup/cpu,cpuacct"}, {"cpuacct", "/sys/fs/cgroup/cpu,cpuacct"},
          {"memory", "/sys/fs/cgroup/memory"}, {"name=systemd", "/sys/fs/cgroup/systemd"}};
  l.unified = "/sys/fs/cgroup/unified";
  auto binds = cgroup_v1_binds(l, "/c1");
  ASSERT_EQ(binds.size(), 4u);
  EXPECT_EQ(binds[0].name, "cpu,cpuacct");
  EXPECT_EQ(binds[0].source, "/sys/fs/cgroup/cpu,cpuacct/c1");
  EXPECT_EQ(binds[0].links, (std::vector<std::string>{"cpu", "cpuacct"}));
  EXPECT_EQ(binds[1].name, "memory");
  EXPECT_TRUE(binds[1].links.empty());
  EXPECT_EQ(binds[2].name, "systemd");
  EXPECT_EQ(binds[2].source, "/sys/fs/cgroup/systemd/c1");
  EXPECT_EQ(binds[3].name, "unified");
  EXPECT_EQ(binds[3].source, "/sys/fs/cgroup/unified/c1");
}

}  // namespace
}  // namespace hoist::runtime
