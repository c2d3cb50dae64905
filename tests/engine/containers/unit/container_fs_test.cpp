// The container file system view of docker cp (engine/containers/container_fs.h) on a directory
// tree standing for a rootfs: dockerd's stat and tar naming rules, the mount view, the extraction
// rules, and containment: symlinks to "/" or "/etc" planted in the tree, or swapped in while copies
// run, never lead a read or a write outside the tree (a canary file beside it stays untouched).
#include "engine/containers/container_fs.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/fd.h"
#include "image/registry_internal.h"
#include "test_tar.h"

namespace hoist::engine {
namespace {
namespace fs = std::filesystem;

std::string slurp(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
void put(const std::string& p, const std::string& s) {
  fs::create_directories(fs::path(p).parent_path());
  std::ofstream(p, std::ios::binary) << s;
}

struct TarEntry {
  std::string name, data, link;
  mode_t type = AE_IFREG;
  mode_t perm = 0644;
  bool hardlink = false;
};

// A tar of `entries` (owned by the caller's uid/gid, so a test needs no root).
std::string make_tar(const std::vector<TarEntry>& entries) {
  std::vector<test::TarItem> items;
  for (const TarEntry& t : entries)
    items.push_back({.path = t.name, .type = t.type, .perm = t.perm, .data = t.data, .link = t.link,
                     .hardlink = t.hardlink, .uid = getuid(), .gid = getgid()});
  return test::make_tar(items);
}

// Entry names of a tar ("name" or "name -> target").
std::vector<std::string> tar_names(const std::string& tar) {
  std::vector<std::string> out;
  archive* a = archive_read_new();
  archive_read_support_format_tar(a);
  archive_read_support_format_empty(a);
  EXPECT_EQ(archive_read_open_memory(a, tar.data(), tar.size()), ARCHIVE_OK);
  archive_entry* e;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    std::string n = archive_entry_pathname(e);
    if (const char* s = archive_entry_symlink(e)) n += std::string(" -> ") + s;
    out.push_back(n);
  }
  archive_read_free(a);
  return out;
}

image::ReadFn reader(const std::string& data) {
  auto pos = std::make_shared<std::size_t>(0);
  return [data, pos](char* buf, std::size_t len) {
    std::size_t n = std::min(len, data.size() - *pos);
    std::memcpy(buf, data.data() + *pos, n);
    *pos += n;
    return n;
  };
}

class ContainerFsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char t[] = "/tmp/hoist-cfs-XXXXXX";
    ASSERT_NE(mkdtemp(t), nullptr);
    top_ = t;
    root_ = top_ + "/rootfs";
    bind_ = top_ + "/bind";
    canary_ = top_ + "/canary";
    fs::create_directories(root_ + "/etc");
    fs::create_directories(root_ + "/d/sub");
    fs::create_directories(root_ + "/mnt/data");
    fs::create_directories(bind_ + "/inner");
    put(root_ + "/etc/passwd", "root:x:0:0:root:/root:/bin/sh\n");
    put(root_ + "/d/f", "hi\n");
    fs::create_symlink("/etc", root_ + "/d/l");
    fs::create_symlink("f", root_ + "/d/rl");
    fs::create_symlink("/mnt/data/inner", root_ + "/d/tomount");
    put(bind_ + "/inner/x", "from the bind\n");
    put(canary_ + "/secret", "host canary\n");
    fd_ = UniqueFd(::open(root_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(fd_);
  }
  void TearDown() override { fs::remove_all(top_); }

  ContainerFs view(bool ro_bind = false, bool ro_root = false) {
    return ContainerFs(fd_.get(), ro_root, {{"/mnt/data", bind_, ro_bind}});
  }
  std::vector<std::string> names(const ContainerFs& v, const std::string& path) {
    std::string tar;
    v.archive(path, [&](const char* b, std::size_t n) { tar.append(b, n); });
    return tar_names(tar);
  }
  // The canary beside the rootfs is as it was, and nothing new appeared beside the rootfs.
  void expect_host_untouched() {
    EXPECT_EQ(slurp(canary_ + "/secret"), "host canary\n");
    std::vector<std::string> beside;
    for (auto& e : fs::directory_iterator(top_)) beside.push_back(e.path().filename());
    std::sort(beside.begin(), beside.end());
    EXPECT_EQ(beside, (std::vector<std::string>{"bind", "canary", "rootfs"}));
    std::vector<std::string> in_canary;
    for (auto& e : fs::directory_iterator(canary_)) in_canary.push_back(e.path().filename());
    EXPECT_EQ(in_canary, std::vector<std::string>{"secret"});
  }

  std::string top_, root_, bind_, canary_;
  UniqueFd fd_;
};

TEST(GoFileMode, AsDockerdEncodesThem) {
  EXPECT_EQ(go_file_mode(S_IFDIR | 0755), 2147484141u);
  EXPECT_EQ(go_file_mode(S_IFREG | 04755), 8389101u);
  EXPECT_EQ(go_file_mode(S_IFLNK | 0777), 134218239u);
  EXPECT_EQ(go_file_mode(S_IFIFO | 0644), 33554852u);
  EXPECT_EQ(go_file_mode(S_IFCHR | 0666), (1u << 26) + (1u << 21) + 0666);
  EXPECT_EQ(go_file_mode(S_IFDIR | 01777), (1u << 31) + (1u << 20) + 0777);
}

TEST(PathStatHeader, IsBase64OfDockerdsJson) {
  PathStat s{"f", 3, 8389101, {1765015361, 928306034}, ""};
  auto text = image::detail::base64_decode(path_stat_header(s));
  ASSERT_TRUE(text);
  EXPECT_EQ(*text, R"({"name":"f","size":3,"mode":8389101,"mtime":"2025-12-06T10:02:41.928306034Z","linkTarget":""})");
  s.mtime = {1765015357, 0};
  EXPECT_NE(image::detail::base64_decode(path_stat_header(s))->find("\"2025-12-06T10:02:37Z\""), std::string::npos);
}

TEST_F(ContainerFsTest, StatFollowsDockerdsRules) {
  auto v = view();
  auto f = v.stat("/d/f");
  EXPECT_EQ(f.name, "f");
  EXPECT_EQ(f.size, 3);
  EXPECT_EQ(f.mode, go_file_mode(S_IFREG | 0644));
  // A symlink is not followed at the last component; its target is resolved in the container.
  auto l = v.stat("/d/l");
  EXPECT_EQ(l.name, "l");
  EXPECT_EQ(l.mode & (1u << 27), 1u << 27);
  EXPECT_EQ(l.link_target, "/etc");
  EXPECT_EQ(v.stat("/d/rl").link_target, "/d/f");
  // A trailing "/" follows it; "/." names the directory itself.
  EXPECT_EQ(v.stat("/d/l/").name, "l");
  EXPECT_EQ(v.stat("/d/l/").mode & (1u << 31), 1u << 31);
  EXPECT_EQ(v.stat("/d/.").name, ".");
  EXPECT_EQ(v.stat("/").name, "/");
  EXPECT_EQ(v.stat("d/sub/..").name, "d");
  EXPECT_THROW(v.stat("/nonexistent"), PathNotFound);
  EXPECT_THROW(v.stat("/d/nope/x"), PathNotFound);
  // A file with a trailing slash: dockerd's "not a directory" (500), not a 404.
  try {
    v.stat("/d/f/");
    ADD_FAILURE() << "no error";
  } catch (const PathNotFound&) {
    ADD_FAILURE() << "a 404";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/d/f/"), std::string::npos) << e.what();
  }
}

TEST_F(ContainerFsTest, TarNamesAsDockerd) {
  auto v = view();
  EXPECT_EQ(names(v, "/d"), (std::vector<std::string>{"d/", "d/f", "d/l -> /etc", "d/rl -> f", "d/sub/",
                                                       "d/tomount -> /mnt/data/inner"}));
  EXPECT_EQ(names(v, "/d/."), (std::vector<std::string>{"./", "./f", "./l -> /etc", "./rl -> f", "./sub/",
                                                         "./tomount -> /mnt/data/inner"}));
  EXPECT_EQ(names(v, "/d/l"), std::vector<std::string>{"l -> /etc"});
  EXPECT_EQ(names(v, "/d/l/"), (std::vector<std::string>{"l/", "l/passwd"}));
  EXPECT_EQ(names(v, "/d/f"), std::vector<std::string>{"f"});
  auto root = names(v, "/");
  ASSERT_FALSE(root.empty());
  EXPECT_EQ(root[0], "/");
  EXPECT_NE(std::find(root.begin(), root.end(), "/etc/passwd"), root.end());
  // The mount shows its source, not the directory beneath it.
  EXPECT_NE(std::find(root.begin(), root.end(), "/mnt/data/inner/x"), root.end());
}

TEST_F(ContainerFsTest, PathsResolveThroughMounts) {
  auto v = view();
  EXPECT_EQ(v.stat("/mnt/data/inner/x").size, 14);
  // A symlink in the rootfs that leads into the mount leads into its source.
  EXPECT_EQ(v.stat("/d/tomount/x").size, 14);
  EXPECT_EQ(names(v, "/d/tomount/"), (std::vector<std::string>{"tomount/", "tomount/x"}));
  v.extract("/d/tomount", reader(make_tar({{"new", "into the bind"}})), {});
  EXPECT_EQ(slurp(bind_ + "/inner/new"), "into the bind");
  expect_host_untouched();
}

TEST_F(ContainerFsTest, ExtractCreatesKeepsAndReplaces) {
  auto v = view();
  v.extract("/d", reader(make_tar({{"a/", "", "", AE_IFDIR, 0750},
                                   {"a/b/c", "deep"},
                                   {"/abs/x", "absolute names are contained"},
                                   {"s", "", "/etc", AE_IFLNK},
                                   {"h", "", "a/b/c", AE_IFREG, 0644, true},
                                   {"./", "", "", AE_IFDIR, 0700}})),
            {});
  EXPECT_EQ(slurp(root_ + "/d/a/b/c"), "deep");
  EXPECT_EQ(slurp(root_ + "/d/abs/x"), "absolute names are contained");
  EXPECT_EQ(fs::read_symlink(root_ + "/d/s"), "/etc");
  EXPECT_EQ(fs::hard_link_count(root_ + "/d/a/b/c"), 2u);
  EXPECT_EQ(fs::status(root_ + "/d/a").permissions(), fs::perms(0750));
  EXPECT_NE(fs::status(root_ + "/d").permissions(), fs::perms(0700));  // "./" keeps the destination's
  // A file over a directory (and the reverse) is refused with noOverwriteDirNonDir, done without.
  CopyInOptions no{.no_overwrite_dir_non_dir = true};
  EXPECT_THROW(v.extract("/d", reader(make_tar({{"sub", "x"}})), no), TarApplyError);
  EXPECT_THROW(v.extract("/d", reader(make_tar({{"f", "", "", AE_IFDIR}})), no), TarApplyError);
  v.extract("/d", reader(make_tar({{"sub", "now a file"}})), {});
  EXPECT_EQ(slurp(root_ + "/d/sub"), "now a file");
}

TEST_F(ContainerFsTest, ExtractRefusesWhatDockerdRefuses) {
  auto v = view();
  try {
    v.extract("/d", reader(make_tar({{"../../escape", "bad"}})), {});
    ADD_FAILURE() << "no error";
  } catch (const TarApplyError& e) {
    EXPECT_STREQ(e.what(), "Error processing tar file(exit status 1): \"../../escape\" is outside of \"/d\"");
  }
  try {
    v.extract("/d", reader(make_tar({{"a/../../mid", "bad"}})), {});
    ADD_FAILURE() << "no error";
  } catch (const TarApplyError& e) {
    EXPECT_STREQ(e.what(), "Error processing tar file(exit status 1): \"../mid\" is outside of \"/d\"");
  }
  try {
    v.extract("/d", reader(make_tar({{"l1", "", "../../etc", AE_IFLNK}})), {});
    ADD_FAILURE() << "no error";
  } catch (const TarApplyError& e) {
    EXPECT_STREQ(e.what(), "Error processing tar file(exit status 1): invalid symlink \"/d/l1\" -> \"../../etc\"");
  }
  EXPECT_THROW(v.extract("/d", reader(make_tar({{"h", "", "../etc/passwd", AE_IFREG, 0644, true}})), {}),
               TarApplyError);
  std::string junk = "this is not a tar, not even close to one. " + std::string(1024, 'x');
  EXPECT_THROW(v.extract("/d", reader(junk), {}), TarApplyError);
  EXPECT_THROW(v.extract("/nope", reader(make_tar({{"x", "x"}})), {}), PathNotFound);
  EXPECT_THROW(v.extract("/d/f", reader(make_tar({{"x", "x"}})), {}), InvalidArgument);
  EXPECT_FALSE(fs::exists(root_ + "/escape"));
  EXPECT_FALSE(fs::exists(root_ + "/mid"));
  EXPECT_FALSE(fs::exists(root_ + "/d/l1"));
  expect_host_untouched();
}

TEST_F(ContainerFsTest, ReadOnlyRootAndMountsRefuseWrites) {
  {
    auto v = view(true, false);
    try {
      v.extract("/mnt/data", reader(make_tar({{"x", "x"}})), {});
      ADD_FAILURE() << "no error";
    } catch (const ReadOnlyPath& e) {
      EXPECT_STREQ(e.what(), "mounted volume is marked read-only");
    }
    // An entry that crosses into the read-only mount from a writable destination.
    EXPECT_THROW(v.extract("/", reader(make_tar({{"mnt/data/y", "y"}})), {}), TarApplyError);
    EXPECT_FALSE(fs::exists(bind_ + "/x"));
    EXPECT_FALSE(fs::exists(bind_ + "/y"));
  }
  auto v = view(false, true);
  try {
    v.extract("/d", reader(make_tar({{"x", "x"}})), {});
    ADD_FAILURE() << "no error";
  } catch (const ReadOnlyPath& e) {
    EXPECT_STREQ(e.what(), "container rootfs is marked read-only");
  }
  v.extract("/mnt/data", reader(make_tar({{"ok", "the mount is writable"}})), {});
  EXPECT_EQ(slurp(bind_ + "/ok"), "the mount is writable");
}

// Symlinks to "/" and "/etc" at the target path: everything stays inside the rootfs.
TEST_F(ContainerFsTest, PlantedSymlinksStayInside) {
  fs::create_symlink("/", root_ + "/x");
  fs::create_symlink("/etc", root_ + "/y");
  fs::create_symlink("../../../../../../..", root_ + "/z");
  fs::create_symlink(canary_, root_ + "/abs-host");
  auto v = view();
  v.extract("/x", reader(make_tar({{"written-via-x", "1"}})), {});
  v.extract("/y", reader(make_tar({{"written-via-y", "2"}})), {});
  v.extract("/z", reader(make_tar({{"written-via-z", "3"}, {"etc/passwd", "replaced"}})), {});
  EXPECT_EQ(slurp(root_ + "/written-via-x"), "1");
  EXPECT_EQ(slurp(root_ + "/etc/written-via-y"), "2");
  EXPECT_EQ(slurp(root_ + "/written-via-z"), "3");
  EXPECT_EQ(slurp(root_ + "/etc/passwd"), "replaced");
  // Reading through them reads the container's files.
  EXPECT_EQ(names(v, "/z/etc/passwd"), std::vector<std::string>{"passwd"});
  EXPECT_THROW(v.stat("/abs-host/secret"), PathNotFound);  // the host path means nothing inside
  EXPECT_THROW(v.extract("/abs-host", reader(make_tar({{"pwned", "x"}})), {}), PathNotFound);
  expect_host_untouched();
}

// A symlink swapped in a loop ("ln -sfn / x; mkdir x") while copies run both ways.
TEST_F(ContainerFsTest, SwappedSymlinkRaceStaysInside) {
  auto v = view();
  std::atomic<bool> stop{false};
  std::thread swapper([&] {
    std::string x = root_ + "/race", tmp = root_ + "/race.tmp";
    // Never throws: the copies write into /race meanwhile, so any step may fail and is retried.
    std::error_code ec;
    while (!stop) {
      ::symlink("/", tmp.c_str());
      ::rename(tmp.c_str(), x.c_str());
      ::unlink(x.c_str());
      ::mkdir(x.c_str(), 0755);
      std::ofstream(x + "/file") << "inside";
      fs::remove_all(x, ec);
      ::symlink(canary_.c_str(), tmp.c_str());
      ::rename(tmp.c_str(), x.c_str());
    }
  });
  std::string tar = make_tar({{"file", "written by the copy"}, {"secret", "overwritten?"}});
  int ok = 0;
  for (int i = 0; i < 500; ++i) {
    try {
      v.extract("/race", reader(tar), {});
      ++ok;
    } catch (const Error&) {
    }
    try {
      std::string out;
      v.archive("/race/", [&](const char* b, std::size_t n) { out.append(b, n); });
      EXPECT_EQ(out.find("host canary"), std::string::npos) << "read the host's canary";
    } catch (const Error&) {
    }
  }
  stop = true;
  swapper.join();
  expect_host_untouched();
  EXPECT_FALSE(fs::exists(canary_ + "/file"));
}

}  // namespace
}  // namespace hoist::engine
