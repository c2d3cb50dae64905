// The build's COPY sources (engine/build_sources.h) and its cache file (engine/build_cache.h) on
// temporary trees, without root: wildcards, symlinks in the context leading to its own root
// (never to the host's), the hashes dockerd's classic builder gives, the tar a COPY extracts,
// and the cache kept across a reload.
#include "engine/build_sources.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "builder/source_hash.h"
#include "common/error.h"
#include "engine/build_cache.h"

namespace hoist::engine {
namespace {
namespace fs = std::filesystem;

void put(const std::string& p, const std::string& s, mode_t mode = 0644) {
  fs::create_directories(fs::path(p).parent_path());
  std::ofstream(p, std::ios::binary) << s;
  ::chmod(p.c_str(), mode);
}

class BuildSources : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/hoist-build-src-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ctx_ = dir_ + "/ctx";
    put(ctx_ + "/a.txt", "alpha\n");
    put(ctx_ + "/b.txt", "beta\n");
    put(ctx_ + "/c.md", "c\n");
    put(ctx_ + "/d/e/f.txt", "f\n");
    put(ctx_ + "/etc/passwd", "fake\n");
    fs::create_directory_symlink("/", ctx_ + "/root");
    fs::create_symlink("../../..", ctx_ + "/d/up");
    put(dir_ + "/outside", "secret\n");
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string dir_, ctx_;
};

std::string read_all(const ResolvedSource& s) {
  UniqueFd fd(::open(("/proc/self/fd/" + std::to_string(s.top.get())).c_str(), O_RDONLY | O_CLOEXEC));
  std::string out(4096, '\0');
  ssize_t n = ::read(fd.get(), out.data(), out.size());
  out.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
  return out;
}

TEST_F(BuildSources, WildcardsExpandInTheTree) {
  SourceTree t(ctx_);
  EXPECT_EQ(t.expand("*.txt"), (std::vector<std::string>{"a.txt", "b.txt"}));
  EXPECT_EQ(t.expand("d/*/f.txt"), (std::vector<std::string>{"d/e/f.txt"}));
  EXPECT_EQ(t.expand("/a.txt"), (std::vector<std::string>{"a.txt"}));
  EXPECT_TRUE(t.expand("*.none").empty());
}

TEST_F(BuildSources, SymlinksLeadToTheTreesOwnRoot) {
  SourceTree t(ctx_);
  ResolvedSource s = resolve_source(t, "root/etc/passwd", true);
  EXPECT_EQ(read_all(s), "fake\n");
  EXPECT_EQ(s.resolved, "etc/passwd");
  EXPECT_EQ(s.name, "root/etc/passwd");
  ResolvedSource up = resolve_source(t, "d/up/a.txt", true);  // ../../.. stops at the root
  EXPECT_EQ(up.resolved, "a.txt");
  EXPECT_THROW(resolve_source(t, "d/up/outside", true), NotFound);  // the file beside the tree
  EXPECT_THROW(resolve_source(t, "root/outside", true), NotFound);
  EXPECT_THROW(resolve_source(t, "root/proc/self/status", true), NotFound);
  ResolvedSource whole = resolve_source(t, "root", true);
  EXPECT_TRUE(whole.dir);
  EXPECT_EQ(whole.resolved, ".");
  for (auto& it : whole.items) EXPECT_NE(it.rel, "proc") << "the host's root";
}

TEST_F(BuildSources, HashesAsTheClassicBuilder) {
  SourceTree t(ctx_);
  ResolvedSource f = resolve_source(t, "a.txt", true);
  builder::SourceEntry e;
  e.name = "a.txt";
  e.mode = S_IFREG | 0644;
  e.size = 6;
  builder::SourceHasher h(e);
  h.update("alpha\n");
  EXPECT_EQ(f.hash, "file:" + h.hex());
  ResolvedSource d = resolve_source(t, "d", true);
  EXPECT_EQ(d.hash.rfind("dir:", 0), 0u);
  EXPECT_EQ(d.items.size(), 4u);  // d, d/e, d/e/f.txt, d/up
  put(ctx_ + "/d/e/f.txt", "changed\n");
  EXPECT_NE(resolve_source(t, "d", true).hash, d.hash);
}

TEST_F(BuildSources, CopyTarNamesEntriesAtTheDestination) {
  SourceTree t(ctx_);
  ResolvedSource f = resolve_source(t, "a.txt", true);
  ResolvedSource d = resolve_source(t, "d", true);
  std::string tar = dir_ + "/copy.tar";
  {
    UniqueFd fd(::open(tar.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    write_copy_tar(fd.get(), {"x/new"}, {{&f, "x/new/renamed"}, {&d, "x/dir"}}, std::make_pair(uid_t{7}, gid_t{8}));
  }
  archive* a = archive_read_new();
  archive_read_support_format_tar(a);
  ASSERT_EQ(archive_read_open_filename(a, tar.c_str(), 10240), ARCHIVE_OK);
  std::vector<std::string> names;
  archive_entry* e;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    names.push_back(std::string(archive_entry_pathname(e)) + " " + std::to_string(archive_entry_uid(e)) + ":" +
                    std::to_string(archive_entry_gid(e)));
  }
  archive_read_free(a);
  EXPECT_EQ(names, (std::vector<std::string>{"x/new/ 7:8", "x/new/renamed 7:8", "x/dir/e/ 7:8", "x/dir/e/f.txt 7:8",
                                             "x/dir/up 7:8"}));
}

TEST_F(BuildSources, ArchivesAreRecognised) {
  SourceTree t(ctx_);
  UniqueFd plain(::open((ctx_ + "/a.txt").c_str(), O_RDONLY | O_CLOEXEC));
  EXPECT_FALSE(is_archive(plain.get()));
  put(ctx_ + "/g.gz", std::string("\x1f\x8b\x08\x00\x00\x00\x00\x00", 8));
  UniqueFd gz(::open((ctx_ + "/g.gz").c_str(), O_RDONLY | O_CLOEXEC));
  EXPECT_TRUE(is_archive(gz.get()));
}

TEST_F(BuildSources, CacheSurvivesAReload) {
  std::string path = dir_ + "/builder/cache.json";
  {
    BuildCache c(path);
    EXPECT_FALSE(c.get("k1"));
    c.put("k1", "sha256:1");
    c.put("k2", "sha256:2");
    c.drop("k2");
  }
  BuildCache again(path);
  EXPECT_EQ(again.get("k1").value_or(""), "sha256:1");
  EXPECT_FALSE(again.get("k2"));
  put(path, "not json");
  BuildCache broken(path);
  EXPECT_FALSE(broken.get("k1"));
}

}  // namespace
}  // namespace hoist::engine
