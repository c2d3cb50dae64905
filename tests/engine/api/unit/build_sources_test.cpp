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
#include "test_tar.h"

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

// A tar at `path`, compressed with `filter` (archive_write_add_filter_by_name; "" for none), of
// `entries` files.
void make_tar(const std::string& path, const std::string& filter, int entries) {
  std::vector<test::TarItem> items;
  for (int i = 0; i < entries; ++i) items.push_back({.path = "f" + std::to_string(i), .data = "x\n"});
  test::write_tar_file(path, items, {.filter = filter});
}

// A compressed file of `data` (not a tar), with `filter`.
void make_compressed(const std::string& path, const std::string& filter, const std::string& data) {
  archive* a = archive_write_new();
  archive_write_set_format_raw(a);
  ASSERT_EQ(archive_write_add_filter_by_name(a, filter.c_str()), ARCHIVE_OK) << filter;
  ASSERT_EQ(archive_write_open_filename(a, path.c_str()), ARCHIVE_OK);
  archive_entry* e = archive_entry_new();
  archive_entry_set_filetype(e, AE_IFREG);
  archive_write_header(a, e);
  archive_write_data(a, data.data(), data.size());
  archive_entry_free(e);
  archive_write_close(a);
  archive_write_free(a);
}

// dockerd's rule for ADD: a tar (plain or compressed) with an entry is extracted; a compressed
// file that is no tar, a gzip header alone, an empty tar and a text are not.
TEST_F(BuildSources, OnlyTarsAreArchives) {
  auto archive_at = [](const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    EXPECT_TRUE(fd) << path;
    return is_archive(fd.get());
  };
  EXPECT_FALSE(archive_at(ctx_ + "/a.txt"));
  put(ctx_ + "/g.gz", std::string("\x1f\x8b\x08\x00\x00\x00\x00\x00", 8));
  EXPECT_FALSE(archive_at(ctx_ + "/g.gz"));
  for (const std::string filter : {"", "gzip", "bzip2", "xz", "zstd"}) {
    SCOPED_TRACE(filter);
    std::string tar = dir_ + "/t-" + filter + ".tar";
    make_tar(tar, filter, 2);
    EXPECT_TRUE(archive_at(tar));
    make_tar(tar + ".empty", filter, 0);
    EXPECT_FALSE(archive_at(tar + ".empty"));
    if (filter.empty()) continue;
    make_compressed(dir_ + "/text." + filter, filter, "just text\n");
    EXPECT_FALSE(archive_at(dir_ + "/text." + filter));
  }
}

// --exclude leaves entries out of a directory source (and out of its hash); a `!` pattern keeps
// what it names below an excluded directory; --chmod sets every mode but a symlink's;
// --parents' directories come first with their own modes.
TEST_F(BuildSources, ExcludeChmodAndParents) {
  SourceTree t(ctx_);
  put(ctx_ + "/d/e/keep.md", "k\n");
  put(ctx_ + "/d/g.txt", "g\n");
  builder::IgnoreMatcher ex({"*.txt", "e", "!e/keep.md"});
  ResolvedSource all = resolve_source(t, "d", true);
  ResolvedSource some = resolve_source(t, "d", true, &ex);
  std::vector<std::string> kept;
  for (auto& it : some.items) kept.push_back(it.rel);
  EXPECT_EQ(kept, (std::vector<std::string>{"", "e", "e/keep.md", "up"}));
  EXPECT_NE(some.hash, all.hash);
  put(ctx_ + "/d/g.txt", "changed\n");
  EXPECT_EQ(resolve_source(t, "d", true, &ex).hash, some.hash) << "an excluded file is not in the hash";

  ::chmod((ctx_ + "/d").c_str(), 0711);
  ResolvedSource f = resolve_source(t, "d/e/f.txt", true);
  TarPart part{&f, "p/d/e/f.txt", {}};
  SourceItem d_item, e_item;
  d_item.rel = "p/d";
  ASSERT_EQ(::stat((ctx_ + "/d").c_str(), &d_item.st), 0);
  e_item.rel = "p/d/e";
  ASSERT_EQ(::stat((ctx_ + "/d/e").c_str(), &e_item.st), 0);
  part.parents = {d_item, e_item};
  std::string tar = dir_ + "/copy.tar";
  {
    UniqueFd fd(::open(tar.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    write_copy_tar(fd.get(), {}, {part, {&some, "s", {}}}, std::nullopt, mode_t{0640});
  }
  archive* a = archive_read_new();
  archive_read_support_format_tar(a);
  ASSERT_EQ(archive_read_open_filename(a, tar.c_str(), 10240), ARCHIVE_OK);
  std::vector<std::string> names;
  archive_entry* e;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%o", archive_entry_perm(e));
    names.push_back(std::string(archive_entry_pathname(e)) + " " + mode);
  }
  archive_read_free(a);
  EXPECT_EQ(names, (std::vector<std::string>{"p/d/ 640", "p/d/e/ 640", "p/d/e/f.txt 640", "s/e/ 640", "s/e/keep.md 640",
                                             "s/up 777"}));
}

// hoist's CLI's view of the context's files (ContextStats): a file seen again with the same
// identity and times keeps the hash it had, unread; another view, or a file that was changed
// within a second of the client's walk, is read and hashed again.
TEST_F(BuildSources, HashesMemoisedByTheClientsView) {
  SourceTree t(ctx_);
  HashMemo memo;
  const std::int64_t s = 1'000'000'000;
  auto stats = [&](const std::string& view, std::int64_t started) {
    return ContextStats::parse("{\"started\": " + std::to_string(started) + ", \"files\": {\"a.txt\": [" + view + "]}}",
                               &memo);
  };
  ContextStats settled = stats("1, 2, 6, " + std::to_string(100 * s) + ", " + std::to_string(100 * s), 200 * s);
  std::string first = resolve_source(t, "a.txt", true, nullptr, &settled).hash;
  EXPECT_EQ(first, resolve_source(t, "a.txt", true).hash);
  put(ctx_ + "/a.txt", "ALPHA\n");  // same size, new bytes: the view says unchanged, so the memo answers
  EXPECT_EQ(resolve_source(t, "a.txt", true, nullptr, &settled).hash, first);
  std::string now = resolve_source(t, "a.txt", true).hash;
  EXPECT_NE(now, first);
  ContextStats changed = stats("1, 2, 6, " + std::to_string(100 * s) + ", " + std::to_string(150 * s), 200 * s);
  EXPECT_EQ(resolve_source(t, "a.txt", true, nullptr, &changed).hash, now);
  // Changed half a second before the walk: hashed, never memoised.
  ContextStats racy = stats("1, 2, 6, " + std::to_string(300 * s) + ", " + std::to_string(300 * s), 300 * s + s / 2);
  EXPECT_EQ(resolve_source(t, "a.txt", true, nullptr, &racy).hash, now);
  put(ctx_ + "/a.txt", "alpha\n");
  EXPECT_EQ(resolve_source(t, "a.txt", true, nullptr, &racy).hash, first);
  // A file the view does not name, and a stage's files (context = false), are always read.
  ContextStats other = stats("1, 2, 6, 1, 1", 200 * s);
  EXPECT_EQ(resolve_source(t, "b.txt", true, nullptr, &other).hash, resolve_source(t, "b.txt", true).hash);
  for (const char* bad : {"", "[]", "{\"started\": 1}", "{\"started\": 1, \"files\": {\"a\": [1, 2]}}",
                          "{\"started\": 1, \"files\": {\"a\": [1, 2, 3, 4, \"x\"]}}"})
    EXPECT_THROW(ContextStats::parse(bad, &memo), InvalidArgument) << bad;
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
