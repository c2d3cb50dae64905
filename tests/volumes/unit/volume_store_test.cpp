// The local driver's volume store on a temporary directory: names, options, labels, what a
// restart finds, users and the in-use refusal, leftovers of interrupted creates and removals.
// (Mounting a device needs root: the engine tests cover it.)
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>

#include "common/error.h"
#include "common/file.h"
#include "volumes/mounts.h"
#include "volumes/volume_store.h"

using hoist::Conflict;
using hoist::InvalidArgument;
using hoist::NotFound;
using ::testing::HasSubstr;
using ::testing::ThrowsMessage;
namespace vol = hoist::volumes;

namespace {

class TempRoot {
 public:
  TempRoot() {
    char t[] = "/tmp/hoist-volstore-XXXXXX";
    path_ = ::mkdtemp(t);
  }
  ~TempRoot() { hoist::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace

TEST(VolumeStore, CreateFindsTheExistingOneAndPersists) {
  TempRoot t;
  {
    vol::VolumeStore s(t.path() + "/volumes");
    bool created = false;
    auto v = s.create("data", "", {{"a", "b"}}, {{"type", "tmpfs"}, {"device", "tmpfs"}, {"o", "size=1m"}}, &created);
    EXPECT_TRUE(created);
    EXPECT_EQ(v.mountpoint, t.path() + "/volumes/data/_data");
    EXPECT_EQ(v.driver, "local");
    EXPECT_EQ(v.created_at.size(), 20u) << v.created_at;  // 2026-12-06T10:02:11Z
    struct stat st {};
    ASSERT_EQ(::stat(v.mountpoint.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0755u);
    // The same name again: the existing volume, its labels and options kept (as dockerd).
    auto again = s.create("data", "local", {{"x", "y"}}, {}, &created);
    EXPECT_FALSE(created);
    EXPECT_EQ(again.labels, (std::map<std::string, std::string>{{"a", "b"}}));
    EXPECT_EQ(again.options.at("o"), "size=1m");
  }
  vol::VolumeStore reopened(t.path() + "/volumes");
  auto v = reopened.get("data");
  EXPECT_EQ(v.labels.at("a"), "b");
  EXPECT_EQ(v.options.at("type"), "tmpfs");
  ASSERT_EQ(reopened.list().size(), 1u);
}

TEST(VolumeStore, RefusesWhatDockerdRefuses) {
  TempRoot t;
  vol::VolumeStore s(t.path() + "/volumes");
  auto refused = [&](const std::string& name, const std::map<std::string, std::string>& opts, const std::string& msg,
                     const std::string& driver = "") {
    EXPECT_THAT([&] { s.create(name, driver, {}, opts); }, ThrowsMessage<hoist::Error>(msg)) << name;
  };
  refused("a", {}, "create a: volume name is too short, names should be at least two alphanumeric characters");
  refused("a/b", {}, "create a/b: \"a/b\" includes invalid characters for a local volume name, only "
                     "\"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path");
  refused("ab", {{"x", "y"}}, "create ab: invalid option: \"x\"");
  refused("ab", {{"type", "tmpfs"}}, "create ab: missing required option: \"device\"");
  refused("ab", {{"device", "tmpfs"}}, "create ab: missing required option: \"type\"");
  refused("ab", {{"o", "size=1m"}}, "create ab: missing required option: \"device\"");
  refused("ab", {{"o", "x"}, {"device", "d"}}, "create ab: missing required option: \"type\"");
  refused("ab", {{"size", "1m"}}, "create ab: quota size requested but no quota support");
  refused("ab", {}, "create ab: error looking up volume plugin foo: plugin \"foo\" not found", "foo");
  EXPECT_THROW(s.create("ab", "foo", {}, {}), NotFound);
  EXPECT_TRUE(s.list().empty());  // nothing half made
  EXPECT_EQ(hoist::path_exists(t.path() + "/volumes/ab"), false);
}

TEST(VolumeStore, InUseRefusesRemovalUntilReleased) {
  TempRoot t;
  vol::VolumeStore s(t.path() + "/volumes");
  s.create("data", "", {}, {});
  std::ofstream(t.path() + "/volumes/data/_data/f") << "x";
  s.add_user("data", "creating-1");
  s.rename_user("creating-1", "c1");
  s.add_user("data", "c2");
  EXPECT_EQ(s.users("data"), (std::vector<std::string>{"c1", "c2"}));
  EXPECT_THAT([&] { s.remove("data"); }, ThrowsMessage<Conflict>("remove data: volume is in use - [c1 c2]"));
  s.remove_user("data", "c1");
  s.remove_user("data", "c2");
  EXPECT_THROW(s.add_user("nosuch", "c1"), NotFound);
  s.remove("data");
  EXPECT_FALSE(hoist::path_exists(t.path() + "/volumes/data"));
  EXPECT_THAT([&] { s.remove("data"); }, ThrowsMessage<NotFound>("get data: no such volume"));
  EXPECT_THAT([&] { s.get("data"); }, ThrowsMessage<NotFound>("get data: no such volume"));
}

TEST(VolumeStore, LeftoversOfInterruptedCreatesAndRemovalsGo) {
  TempRoot t;
  std::string root = t.path() + "/volumes";
  { vol::VolumeStore s(root); }
  hoist::mkdir_all(root + "/.tmp-half-1234/_data");
  hoist::mkdir_all(root + "/.rm-5678/_data/deep");
  hoist::mkdir_all(root + "/nometa/_data");  // not ours (no meta.json): skipped, left alone
  vol::VolumeStore s(root);
  EXPECT_FALSE(hoist::path_exists(root + "/.tmp-half-1234"));
  EXPECT_FALSE(hoist::path_exists(root + "/.rm-5678"));
  EXPECT_TRUE(s.list().empty());
  EXPECT_TRUE(hoist::path_exists(root + "/nometa/_data"));
}

TEST(VolumeStore, DiskUsageCountsFilesOnce) {
  TempRoot t;
  hoist::mkdir_all(t.path() + "/d/sub");
  std::ofstream(t.path() + "/d/a") << std::string(1000, 'a');
  std::ofstream(t.path() + "/d/sub/b") << std::string(24, 'b');
  ASSERT_EQ(::link((t.path() + "/d/a").c_str(), (t.path() + "/d/sub/a2").c_str()), 0);
  EXPECT_EQ(vol::VolumeStore::disk_usage(t.path() + "/d"), 1024);
}

TEST(LocalOptions, MountFlagsAndData) {
  auto o = vol::parse_mount_options("bind,ro,size=1m,rshared,noexec,uid=1000");
  EXPECT_EQ(o.flags, static_cast<unsigned long>(MS_BIND | MS_RDONLY | MS_NOEXEC));
  EXPECT_EQ(o.propagation, static_cast<unsigned long>(MS_SHARED | MS_REC));
  EXPECT_EQ(o.data, "size=1m,uid=1000");
  EXPECT_EQ(vol::parse_mount_options("ro,rw").flags, 0ul);
  EXPECT_NO_THROW(vol::check_local_options({{"type", "none"}, {"device", "/srv"}, {"o", "bind"}}));
}
