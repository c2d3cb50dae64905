// The init layer (dockerd's): what it holds over a fake image, and the copy snapshotter's way of
// putting it on a full tree, which must compare equal to the image with the layer on top.
#include "engine/containers/init_layer.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "common/file.h"
#include "image/layer.h"
#include "image/layer_maker.h"

namespace hoist::engine {
namespace {

struct Tmp {
  std::string path;
  Tmp() {
    char t[] = "/tmp/hoist-init-XXXXXX";
    path = ::mkdtemp(t);
  }
  ~Tmp() { remove_all(path); }
};

struct stat lstat_of(const std::string& p) {
  struct stat st {};
  EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
  return st;
}

class InitLayer : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (the layer's entries are root's)";
    image = t.path + "/image";
    mkdir_all(image + "/etc", 0750);
    ASSERT_EQ(::chmod((image + "/etc").c_str(), 0750), 0);
    ASSERT_EQ(::chown((image + "/etc").c_str(), 7, 8), 0);
    write_file(image + "/etc/hosts", "127.0.0.1 localhost\n", O_CREAT);
    write_file(image + "/etc/mtab", "not a link\n", O_CREAT);
    mkdir_all(image + "/proc", 0555);
    ASSERT_EQ(::chmod((image + "/proc").c_str(), 0555), 0);
    mkdir_all(t.path + "/c", 0710);
  }
  Tmp t;
  std::string image;
};

TEST_F(InitLayer, HoldsTheMountPointsOverTheImage) {
  std::string init = ensure_init_layer(t.path + "/c", {image});
  EXPECT_EQ(init, t.path + "/c/init");
  auto st = lstat_of(init + "/.dockerenv");
  EXPECT_TRUE(S_ISREG(st.st_mode) && st.st_size == 0 && (st.st_mode & 07777) == 0755);
  st = lstat_of(init + "/etc");  // copied up: the image's mode and owner
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0750u);
  EXPECT_EQ(st.st_uid, 7u);
  EXPECT_EQ(st.st_gid, 8u);
  for (const char* f : {"/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/dev/console"}) {
    st = lstat_of(init + f);  // the image's /etc/hosts is replaced by an empty file, as dockerd does
    EXPECT_TRUE(S_ISREG(st.st_mode) && st.st_size == 0 && (st.st_mode & 07777) == 0755) << f;
    EXPECT_EQ(st.st_uid, 0u) << f;
  }
  char target[64] = {};
  ASSERT_GT(::readlink((init + "/etc/mtab").c_str(), target, sizeof target - 1), 0);
  EXPECT_STREQ(target, "/proc/mounts");
  for (const char* d : {"/dev", "/dev/pts", "/dev/shm", "/sys"}) {
    st = lstat_of(init + d);
    EXPECT_TRUE(S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0755) << d;
  }
  EXPECT_FALSE(path_exists(init + "/proc"));  // the image has it: nothing to make
  // Made once: a second call keeps it.
  write_file(init + "/marker", "", O_CREAT);
  EXPECT_EQ(ensure_init_layer(t.path + "/c", {image}), init);
  EXPECT_TRUE(path_exists(init + "/marker"));
  ::unlink((init + "/marker").c_str());
  // No temp dir is left.
  for (const auto& e : std::filesystem::directory_iterator(t.path + "/c"))
    EXPECT_EQ(e.path().filename().string().rfind("init.tmp", 0), std::string::npos) << e.path();
}

TEST_F(InitLayer, OnAFullTreeItComparesEqualToTheLayerOnTheImage) {
  std::string init = ensure_init_layer(t.path + "/c", {image});
  std::string tree = t.path + "/rootfs";
  image::copy_tree(image, tree);
  apply_init_layer(init, tree);
  EXPECT_EQ(read_file(tree + "/etc/hosts"), "");
  EXPECT_TRUE(path_exists(tree + "/dev/pts"));
  // The copy snapshotter's diff: nothing changed yet.
  EXPECT_TRUE(image::list_changes({tree, true, {image, init}}).empty());
  write_file(tree + "/etc/new", "x", O_CREAT);
  auto changes = image::list_changes({tree, true, {image, init}});
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[1].path, "/etc/new");
}

TEST_F(InitLayer, ContainersWhoseImagesAgreeShareOneLayer) {
  std::string shared = t.path + "/shared";
  mkdir_all(t.path + "/c2", 0710);
  mkdir_all(t.path + "/c3", 0710);
  std::string a = ensure_init_layer(t.path + "/c", {image}, shared);
  // The same paths in another image (other files elsewhere): the same layer.
  std::string image2 = t.path + "/image2";
  image::copy_tree(image, image2);
  write_file(image2 + "/etc/other", "x", O_CREAT);
  std::string b = ensure_init_layer(t.path + "/c2", {image2}, shared);
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.rfind(shared + "/", 0), 0u) << a;
  EXPECT_EQ(init_layer_of(t.path + "/c"), a);
  auto st = lstat_of(t.path + "/c/init");
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  st = lstat_of(a + "/etc");  // copied up from the image, as a layer of its own would be
  EXPECT_EQ(st.st_mode & 07777, 0750u);
  EXPECT_EQ(st.st_uid, 7u);
  // /etc with another mode: another layer.
  std::string image3 = t.path + "/image3";
  image::copy_tree(image, image3);
  ASSERT_EQ(::chmod((image3 + "/etc").c_str(), 0755), 0);
  std::string c = ensure_init_layer(t.path + "/c3", {image3}, shared);
  EXPECT_NE(c, a);
  EXPECT_EQ(lstat_of(c + "/etc").st_mode & 07777, 0755u);
  // Removing a container leaves the layer the others use; collecting drops the unused one and
  // a crash's temp dir.
  remove_all(t.path + "/c3");
  mkdir_all(shared + "/init.tmp.abcdef", 0700);
  collect_init_layers(shared, {t.path + "/c", t.path + "/c2"});
  EXPECT_TRUE(path_exists(a + "/.dockerenv"));
  EXPECT_FALSE(path_exists(c));
  EXPECT_FALSE(path_exists(shared + "/init.tmp.abcdef"));
}

}  // namespace
}  // namespace hoist::engine
