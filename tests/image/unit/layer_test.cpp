// Layer extraction, decompression, archive_directory and copy_tree. Inputs are tars built in
// memory with libarchive's writer; results are checked the way a user sees them (stat, readlink,
// xattrs, contents). The escape tests put a sentinel directory next to the destination and check
// that it is byte for byte untouched. These run as root (owners, device nodes, trusted.*).
#include "image/layer.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <locale.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <stdexcept>
#include <vector>

#include "common/digest.h"
#include "common/error.h"
#include "common/file.h"
#include "test_tar.h"

namespace hoist::image {
namespace {

// ---- building inputs ----

// One tar entry to write.
using E = test::TarItem;

E file(std::string path, std::string data, mode_t perm = 0644) {
  E e{.path = std::move(path), .perm = perm};
  e.data = std::move(data);
  return e;
}
E dir(std::string path, mode_t perm = 0755) { return E{.path = std::move(path), .type = AE_IFDIR, .perm = perm}; }
E symlink(std::string path, std::string target) {
  return E{.path = std::move(path), .type = AE_IFLNK, .perm = 0777, .link = std::move(target)};
}
E hardlink(std::string path, std::string target) {
  return E{.path = std::move(path), .link = std::move(target), .hardlink = true};
}
E node(std::string path, mode_t type, dev_t rdev = 0, mode_t perm = 0644) {
  return E{.path = std::move(path), .type = type, .perm = perm, .rdev = rdev};
}

la_ssize_t append_cb(archive*, void* out, const void* buf, std::size_t len) {
  static_cast<std::string*>(out)->append(static_cast<const char*>(buf), len);
  return static_cast<la_ssize_t>(len);
}

// A pax tar, padded to libarchive's 10 KiB blocks like bsdtar output.
std::string pax_tar(const std::vector<E>& entries) { return test::make_tar(entries, {.pax = true}); }

// `data` through libarchive's "gzip" or "zstd" filter.
std::string compress(const std::string& data, const char* filter) {
  std::string out;
  archive* a = archive_write_new();
  archive_write_add_filter_by_name(a, filter);
  archive_write_set_format_raw(a);
  archive_write_set_bytes_in_last_block(a, 1);
  archive_write_open(a, &out, nullptr, append_cb, nullptr);
  archive_entry* e = archive_entry_new();
  archive_entry_set_pathname(e, "data");
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_size(e, static_cast<la_int64_t>(data.size()));
  archive_write_header(a, e);
  archive_write_data(a, data.data(), data.size());
  archive_entry_free(e);
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

// The entry names of a tar (to check that a test's input really holds what it means to).
std::vector<std::string> names_in(const std::string& tar) {
  std::vector<std::string> names;
  archive* a = archive_read_new();
  archive_read_support_format_tar(a);
  archive_read_open_memory(a, tar.data(), tar.size());
  archive_entry* e;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) names.emplace_back(archive_entry_pathname(e));
  archive_read_free(a);
  return names;
}

// Serves `data` through a ReadFn in chunks of at most `max_chunk` bytes, counting what was read.
struct Source {
  explicit Source(std::string d, std::size_t max_chunk = SIZE_MAX) : data(std::move(d)), max(max_chunk) {}
  ReadFn fn() {
    return [this](char* buf, std::size_t len) {
      std::size_t n = std::min({len, max, data.size() - pos});
      std::memcpy(buf, data.data() + pos, n);
      pos += n;
      return n;
    };
  }
  std::string data;
  std::size_t max;
  std::size_t pos = 0;
};

std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(gen());
  return s;
}

// ---- looking at results ----

std::string xattrs_of(const std::string& path) {
  char names[4096];
  ssize_t n = llistxattr(path.c_str(), names, sizeof names);
  if (n <= 0) return "";
  std::vector<std::string> list;
  for (ssize_t i = 0; i < n; i += static_cast<ssize_t>(std::strlen(names + i)) + 1) list.emplace_back(names + i);
  std::sort(list.begin(), list.end());
  std::string out;
  for (const std::string& name : list) {
    char value[4096];
    ssize_t v = lgetxattr(path.c_str(), name.c_str(), value, sizeof value);
    out += " " + name + "=" + std::string(value, static_cast<std::size_t>(std::max<ssize_t>(v, 0)));
  }
  return out;
}

std::string xattr(const std::string& path, const char* name) {
  char value[256];
  ssize_t v = lgetxattr(path.c_str(), name, value, sizeof value);
  return v < 0 ? "<none>" : std::string(value, static_cast<std::size_t>(v));
}

void snapshot_into(const std::string& root, const std::string& rel, const std::string& skip, std::string& out,
                   std::map<std::pair<dev_t, ino_t>, std::string>& inodes) {
  std::string path = rel.empty() ? root : root + "/" + rel;
  DIR* d = opendir(path.c_str());
  if (!d) return;
  std::vector<std::string> names;
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != ".." && !(rel.empty() && n == skip)) names.push_back(n);
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  for (const std::string& n : names) {
    std::string r = rel.empty() ? n : rel + "/" + n, p = root + "/" + r;
    struct stat st;
    lstat(p.c_str(), &st);
    out += r + " mode=" + std::to_string(st.st_mode) + " owner=" + std::to_string(st.st_uid) + ":" +
           std::to_string(st.st_gid) + " mtime=" + std::to_string(st.st_mtim.tv_sec) + "." +
           std::to_string(st.st_mtim.tv_nsec) + xattrs_of(p);
    if (!S_ISDIR(st.st_mode)) {
      out += " nlink=" + std::to_string(st.st_nlink);
      auto [it, first] = inodes.try_emplace({st.st_dev, st.st_ino}, r);
      if (!first) out += " same-inode-as=" + it->second;
    }
    if (S_ISREG(st.st_mode)) out += " sha256=" + digest_of(read_file(p)).hex;
    if (S_ISLNK(st.st_mode)) {
      char t[4096];
      ssize_t len = readlink(p.c_str(), t, sizeof t);
      out += " -> " + std::string(t, static_cast<std::size_t>(std::max<ssize_t>(len, 0)));
    }
    if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) out += " rdev=" + std::to_string(st.st_rdev);
    out += "\n";
    if (S_ISDIR(st.st_mode)) snapshot_into(root, r, skip, out, inodes);
  }
}

// Everything a user sees of a tree (atimes aside), one line per entry; `skip` leaves out one
// top-level name.
std::string snapshot(const std::string& root, const std::string& skip = "") {
  std::string out;
  std::map<std::pair<dev_t, ino_t>, std::string> inodes;
  snapshot_into(root, "", skip, out, inodes);
  return out;
}

struct stat lstat_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(lstat(path.c_str(), &st), 0) << path << ": " << std::strerror(errno);
  return st;
}

bool exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

// ---- fixture ----

// tmp/dest is the layer root; tmp/outside holds sentinels that no layer may touch.
class LayerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/hoist-layer-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    tmp_ = tmpl;
    dest_ = tmp_ + "/dest";
    outside_ = tmp_ + "/outside";
    mkdir_all(dest_ + "/");
    mkdir_all(outside_ + "/dir");
    write_file_atomic(outside_ + "/passwd", "host secret\n", 0644, false);
    write_file_atomic(outside_ + "/dir/file", "host file\n", 0600, false);
    setxattr(outside_.c_str(), "user.sentinel", "1", 1, 0);
    before_ = snapshot(tmp_, "dest");
  }
  void TearDown() override { remove_all(tmp_); }

  ExtractResult extract(const std::string& input, ExtractOptions opts = {}) {
    Source src(input);
    return extract_layer(dest_, src.fn(), opts);
  }
  ExtractResult extract(const std::vector<E>& entries, ExtractOptions opts = {}) {
    return extract(pax_tar(entries), opts);
  }
  // Extracts and returns the error message, or "" when it succeeded.
  std::string try_extract(const std::vector<E>& entries, ExtractOptions opts = {}) {
    try {
      extract(entries, opts);
      return "";
    } catch (const Error& e) {
      return e.what();
    }
  }
  // Nothing outside dest/ changed, and nothing was created next to it.
  void expect_outside_untouched() { EXPECT_EQ(snapshot(tmp_, "dest"), before_); }
  std::string d(const std::string& rel) const { return dest_ + "/" + rel; }

  std::string tmp_, dest_, outside_, before_;
};

class LayerExtract : public LayerTest {};
class LayerWhiteout : public LayerTest {};
class LayerEscape : public LayerTest {};
class LayerErrors : public LayerTest {};
class LayerDecompress : public LayerTest {};
class LayerArchive : public LayerTest {};
class LayerCopy : public LayerTest {};

// ---- extraction ----

TEST_F(LayerExtract, FilesDirectoriesModesOwnersAndTimes) {
  E bin = file("usr/bin/tool", "#!/bin/sh\necho hi\n", 04755);
  bin.uid = 1000;
  bin.gid = 2000;
  bin.mtime = 1500000000;
  bin.mtime_nsec = 123456789;
  bin.atime = 1400000000;
  E tmp = dir("tmp", 01777);
  tmp.mtime = 1300000000;
  E usr = dir("usr", 0755);
  usr.uid = 7;
  usr.mtime = 1200000000;
  E ro = dir("ro", 0555);
  E inner = file("ro/inner", "x", 0400);
  E sgid = file("usr/bin/sgid", "", 02711);
  sgid.gid = 42;
  // usr/bin has no entry of its own: created implicitly, 0755.
  ExtractResult r = extract({usr, bin, sgid, tmp, ro, inner, file("./dotted", "d")});
  EXPECT_EQ(r.entries, 7);

  struct stat st = lstat_of(d("usr/bin/tool"));  // before reading it changes the atime
  EXPECT_EQ(st.st_mode, S_IFREG | 04755);        // setuid survives the chown
  EXPECT_EQ(st.st_uid, 1000u);
  EXPECT_EQ(st.st_gid, 2000u);
  EXPECT_EQ(st.st_mtim.tv_sec, 1500000000);
  EXPECT_EQ(st.st_mtim.tv_nsec, 123456789);
  EXPECT_EQ(st.st_atim.tv_sec, 1400000000);
  EXPECT_EQ(read_file(d("usr/bin/tool")), "#!/bin/sh\necho hi\n");
  st = lstat_of(d("usr/bin/sgid"));
  EXPECT_EQ(st.st_mode, S_IFREG | 02711);
  EXPECT_EQ(st.st_gid, 42u);
  EXPECT_EQ(lstat_of(d("usr/bin")).st_mode, S_IFDIR | 0755);
  // Directory times are set after their contents were written.
  st = lstat_of(d("usr"));
  EXPECT_EQ(st.st_mode, S_IFDIR | 0755);
  EXPECT_EQ(st.st_uid, 7u);
  EXPECT_EQ(st.st_mtim.tv_sec, 1200000000);
  st = lstat_of(d("tmp"));
  EXPECT_EQ(st.st_mode, S_IFDIR | 01777);
  EXPECT_EQ(st.st_mtim.tv_sec, 1300000000);
  EXPECT_EQ(lstat_of(d("ro")).st_mode, S_IFDIR | 0555);
  EXPECT_EQ(lstat_of(d("ro/inner")).st_mode, S_IFREG | 0400);
  EXPECT_EQ(read_file(d("dotted")), "d");
}

TEST_F(LayerExtract, DiffIdIsTheDigestOfTheUncompressedTarForEveryCompression) {
  std::string tar = pax_tar({dir("a"), file("a/b", random_bytes(300000, 1)), file("c", "hello")});
  ASSERT_EQ(tar.size() % 10240, 0u);  // padded after the end marker: part of the diff_id
  for (const char* kind : {"plain", "gzip", "zstd"}) {
    SCOPED_TRACE(kind);
    std::string input = std::string(kind) == "plain" ? tar : compress(tar, kind);
    remove_all(dest_);
    mkdir_all(dest_);
    Source src(input);
    ExtractResult r = extract_layer(dest_, src.fn());
    EXPECT_EQ(r.diff_id, digest_of(tar));
    EXPECT_EQ(r.uncompressed_size, static_cast<std::int64_t>(tar.size()));
    EXPECT_EQ(r.entries, 3);
    EXPECT_EQ(src.pos, input.size());  // every input byte was read
    EXPECT_EQ(read_file(d("a/b")), random_bytes(300000, 1));
    EXPECT_EQ(read_file(d("c")), "hello");
  }
}

TEST_F(LayerExtract, LargeFilesAndShortReadsCrossChunkBoundaries) {
  std::string big = random_bytes(3 * 1024 * 1024 + 17, 2);
  std::string tar = pax_tar({file("big", big), file("small", "s")});
  for (const char* kind : {"plain", "gzip", "zstd"}) {
    for (std::size_t chunk : {std::size_t{1} << 30, std::size_t{4093}}) {
      SCOPED_TRACE(std::string(kind) + " " + std::to_string(chunk));
      std::string input = std::string(kind) == "plain" ? tar : compress(tar, kind);
      remove_all(dest_);
      mkdir_all(dest_);
      Source src(input, chunk);
      ExtractResult r = extract_layer(dest_, src.fn());
      EXPECT_EQ(r.diff_id, digest_of(tar));
      EXPECT_EQ(src.pos, input.size());
      EXPECT_TRUE(read_file(d("big")) == big);
      EXPECT_EQ(read_file(d("small")), "s");
    }
  }
}

TEST_F(LayerExtract, OneByteReads) {
  std::string tar = pax_tar({file("a", "alpha"), file("b", random_bytes(3000, 11))});
  for (const char* kind : {"plain", "gzip", "zstd"}) {
    SCOPED_TRACE(kind);
    std::string input = std::string(kind) == "plain" ? tar : compress(tar, kind);
    remove_all(dest_);
    mkdir_all(dest_);
    Source src(input, 1);
    EXPECT_EQ(extract_layer(dest_, src.fn()).diff_id, digest_of(tar));
    EXPECT_EQ(src.pos, input.size());
    EXPECT_EQ(read_file(d("a")), "alpha");
    EXPECT_EQ(read_file(d("b")), random_bytes(3000, 11));
  }
}

TEST_F(LayerExtract, GzipMembersAndTrailingBytesAreAllRead) {
  std::string tar = pax_tar({file("one", "1"), file("two", random_bytes(50000, 3))});
  std::size_t half = tar.size() / 2;
  std::string input =
      compress(tar.substr(0, half), "gzip") + compress(tar.substr(half), "gzip") + std::string(700, '\0');
  Source src(input, 1000);
  ExtractResult r = extract_layer(dest_, src.fn());
  EXPECT_EQ(r.diff_id, digest_of(tar));
  EXPECT_EQ(src.pos, input.size());
  EXPECT_EQ(read_file(d("two")), random_bytes(50000, 3));
}

TEST_F(LayerExtract, SymlinksHardlinksFifosAndDevices) {
  E dev = node("dev/null", AE_IFCHR, makedev(1, 3), 0666);
  dev.uid = 5;
  ExtractResult r =
      extract({file("etc/real", "content", 0640), symlink("etc/abs", "/etc/real"), symlink("etc/rel", "real"),
               symlink("etc/dangling", "../nowhere/at/all"), hardlink("etc/hard", "etc/real"),
               node("run/fifo", AE_IFIFO, 0, 0620), dev, node("dev/sda", AE_IFBLK, makedev(8, 0), 0660)});
  EXPECT_EQ(r.entries, 8);
  auto target = [](const std::string& p) { return std::filesystem::read_symlink(p).string(); };
  EXPECT_EQ(target(d("etc/abs")), "/etc/real");  // stored as is: valid content of a layer
  EXPECT_EQ(target(d("etc/rel")), "real");
  EXPECT_EQ(target(d("etc/dangling")), "../nowhere/at/all");
  struct stat real = lstat_of(d("etc/real")), hard = lstat_of(d("etc/hard"));
  EXPECT_EQ(real.st_ino, hard.st_ino);
  EXPECT_EQ(real.st_nlink, 2u);
  EXPECT_EQ(lstat_of(d("run/fifo")).st_mode, S_IFIFO | 0620);
  struct stat st = lstat_of(d("dev/null"));
  EXPECT_EQ(st.st_mode, S_IFCHR | 0666);
  EXPECT_EQ(st.st_rdev, makedev(1, 3));
  EXPECT_EQ(st.st_uid, 5u);
  st = lstat_of(d("dev/sda"));
  EXPECT_EQ(st.st_mode, S_IFBLK | 0660);
  EXPECT_EQ(st.st_rdev, makedev(8, 0));
}

TEST_F(LayerExtract, XattrsByNamespaceAndPrivilege) {
  E f = file("f", "x");
  f.xattrs = {{"user.mime", "text/plain"},
              {"trusted.t", "tv"},
              {"security.capability",
               std::string("\x01\x00\x00\x02\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", 20)},
              {"trusted.overlay.redirect", "/elsewhere"}};  // overlayfs metadata: never from a layer
  f.uid = 1000;
  E dd = dir("d");
  dd.xattrs = {{"user.d", "1"}, {"trusted.overlay.opaque", "y"}};
  extract({f, dd});
  EXPECT_EQ(xattr(d("f"), "user.mime"), "text/plain");
  EXPECT_EQ(xattr(d("f"), "trusted.t"), "tv");
  EXPECT_EQ(xattr(d("f"), "security.capability").size(), 20u);  // set after the chown, which clears it
  EXPECT_EQ(xattr(d("f"), "trusted.overlay.redirect"), "<none>");
  EXPECT_EQ(xattr(d("d"), "user.d"), "1");
  EXPECT_EQ(xattr(d("d"), "trusted.overlay.opaque"), "<none>");
}

TEST_F(LayerExtract, UnprivilegedKeepsOwnerSkipsDevicesAndTrustedXattrs) {
  E f = file("f", "x", 0644);
  f.uid = 1000;
  f.xattrs = {{"user.u", "1"}, {"trusted.t", "1"}};
  ExtractResult r = extract({f, node("null", AE_IFCHR, makedev(1, 3)), node("fifo", AE_IFIFO)}, {.privileged = false});
  EXPECT_EQ(r.entries, 3);
  EXPECT_EQ(lstat_of(d("f")).st_uid, geteuid());
  EXPECT_EQ(xattr(d("f"), "user.u"), "1");
  EXPECT_EQ(xattr(d("f"), "trusted.t"), "<none>");
  EXPECT_FALSE(exists(d("null")));
  EXPECT_TRUE(S_ISFIFO(lstat_of(d("fifo")).st_mode));
}

TEST_F(LayerExtract, LaterEntriesReplaceEarlierOnes) {
  // A lower layer's content already in dest.
  mkdir_all(d("was_dir/sub"));
  write_file_atomic(d("was_dir/sub/f"), "old", 0644, false);
  mkdir_all(d("keep/old_child"));
  write_file_atomic(d("was_file"), "old", 0644, false);
  std::filesystem::create_symlink("somewhere", d("was_link"));
  E keep = dir("keep", 0700);
  keep.mtime = 1111111111;
  extract({file("twice", "first"), file("twice", "second"), file("was_dir", "now a file"), dir("was_file"),
           file("was_link", "now a file"), keep, symlink("x", "a"), file("x", "file over symlink")});
  EXPECT_EQ(read_file(d("twice")), "second");
  EXPECT_EQ(read_file(d("was_dir")), "now a file");
  EXPECT_TRUE(S_ISDIR(lstat_of(d("was_file")).st_mode));
  EXPECT_TRUE(S_ISREG(lstat_of(d("was_link")).st_mode));
  EXPECT_TRUE(S_ISREG(lstat_of(d("x")).st_mode));
  // A directory over a directory keeps the contents and takes the new metadata.
  EXPECT_TRUE(exists(d("keep/old_child")));
  struct stat st = lstat_of(d("keep"));
  EXPECT_EQ(st.st_mode, S_IFDIR | 0700);
  EXPECT_EQ(st.st_mtim.tv_sec, 1111111111);
}

TEST_F(LayerExtract, NonAsciiNamesArePassedThrough) {
  extract({file("caf\xc3\xa9/\xe6\x97\xa5\xe6\x9c\xac.txt", "utf8"),
           hardlink("h\xc3\xa9", "caf\xc3\xa9/\xe6\x97\xa5\xe6\x9c\xac.txt")});
  EXPECT_EQ(read_file(d("caf\xc3\xa9/\xe6\x97\xa5\xe6\x9c\xac.txt")), "utf8");
  EXPECT_EQ(read_file(d("h\xc3\xa9")), "utf8");
}

// ---- whiteouts ----

TEST_F(LayerWhiteout, OverlayModeMakesDevicesAndOpaqueXattrs) {
  ExtractResult r = extract({dir("etc"), file("etc/.wh.passwd", ""), dir("var"), file("var/.wh..wh..opq", ""),
                             file("var/new", "n"), file(".wh.gone", "")});
  EXPECT_EQ(r.entries, 6);
  for (const char* p : {"etc/passwd", "gone"}) {
    struct stat st = lstat_of(d(p));
    EXPECT_TRUE(S_ISCHR(st.st_mode)) << p;
    EXPECT_EQ(st.st_rdev, makedev(0, 0)) << p;
  }
  EXPECT_FALSE(exists(d("etc/.wh.passwd")));
  EXPECT_EQ(xattr(d("var"), "trusted.overlay.opaque"), "y");
  EXPECT_FALSE(exists(d("var/.wh..wh..opq")));
  EXPECT_EQ(read_file(d("var/new")), "n");
}

TEST_F(LayerWhiteout, ApplyModeDeletesFromTheLayersBelow) {
  // Lower layers, already applied.
  mkdir_all(d("etc"));
  write_file_atomic(d("etc/passwd"), "root", 0644, false);
  write_file_atomic(d("etc/group"), "root", 0644, false);
  mkdir_all(d("usr/share/doc/pkg"));
  write_file_atomic(d("usr/share/doc/pkg/README"), "r", 0644, false);
  mkdir_all(d("opq/lower_dir/deep"));
  write_file_atomic(d("opq/lower_file"), "l", 0644, false);
  write_file_atomic(d("opq/-early"), "lower version", 0644, false);
  mkdir_all(d("opq/kept_dir"));
  write_file_atomic(d("opq/kept_dir/lower"), "l", 0644, false);

  // Sorted-name order puts "-early" and "kept_dir/new" before the marker ('-' < '.'): entries of
  // this layer survive wherever the marker is.
  std::vector<E> layer = {file("etc/.wh.passwd", ""),        dir("usr/share/doc"),
                          file("usr/share/doc/.wh.pkg", ""), file(".wh.nothing_here", ""),
                          file("opq/-early", "this layer"),  file("opq/.wh..wh..opq", ""),
                          file("opq/late", "this layer too")};
  ExtractResult r = extract(layer, {.whiteouts = WhiteoutMode::Apply});
  EXPECT_EQ(r.entries, 7);
  EXPECT_FALSE(exists(d("etc/passwd")));
  EXPECT_TRUE(exists(d("etc/group")));
  EXPECT_FALSE(exists(d("usr/share/doc/pkg")));
  EXPECT_TRUE(exists(d("usr/share/doc")));
  EXPECT_FALSE(exists(d("etc/.wh.passwd")));
  EXPECT_FALSE(exists(d("opq/lower_file")));
  EXPECT_FALSE(exists(d("opq/lower_dir")));
  EXPECT_FALSE(exists(d("opq/kept_dir")));
  EXPECT_EQ(read_file(d("opq/-early")), "this layer");
  EXPECT_EQ(read_file(d("opq/late")), "this layer too");
  EXPECT_FALSE(exists(d("opq/.wh..wh..opq")));
  EXPECT_EQ(xattr(d("opq"), "trusted.overlay.opaque"), "<none>");
}

TEST_F(LayerWhiteout, ApplyModeOpaqueKeepsThisLayersEntriesInLowerSubdirectories) {
  mkdir_all(d("o/sub"));
  write_file_atomic(d("o/sub/lower"), "l", 0644, false);
  // "o/sub/new" comes before the marker; "o/sub" (a lower directory) holds it, so it stays.
  extract({file("o/sub/new", "n"), file("o/.wh..wh..opq", "")}, {.whiteouts = WhiteoutMode::Apply});
  EXPECT_EQ(read_file(d("o/sub/new")), "n");
  EXPECT_FALSE(exists(d("o/sub/lower")));
}

// ---- escapes: refused, or contained in dest (see layer.cpp); outside/ never changes ----

TEST_F(LayerEscape, DotDotNamesAreRefused) {
  for (const char* name : {"../outside/passwd", "a/../../outside/passwd", "../../../../../../tmp/evil", ".."}) {
    SCOPED_TRACE(name);
    std::vector<E> layer = {dir("a"), file(name, "pwned")};
    ASSERT_EQ(names_in(pax_tar(layer)).back(), name);
    std::string err = try_extract(layer);
    EXPECT_NE(err.find("layer entry \"" + std::string(name) + "\": path escapes the layer root"), std::string::npos)
        << err;
    expect_outside_untouched();
  }
}

TEST_F(LayerEscape, DotDotInsideTheRootIsCleaned) {
  extract({file("a/../b", "ok")});
  EXPECT_EQ(read_file(d("b")), "ok");
  EXPECT_FALSE(exists(d("a")));
}

TEST_F(LayerEscape, AbsoluteNamesLandInsideTheRoot) {
  std::vector<E> layer = {file(outside_ + "/passwd", "pwned"), file("/abs", "a")};
  ASSERT_EQ(names_in(pax_tar(layer)).front(), outside_ + "/passwd");
  extract(layer);
  EXPECT_EQ(read_file(dest_ + outside_ + "/passwd"), "pwned");
  EXPECT_EQ(read_file(d("abs")), "a");
  expect_outside_untouched();
}

TEST_F(LayerEscape, AbsoluteSymlinkParentIsFollowedInsideTheRoot) {
  // outside_'s path exists inside dest too: the write must land there.
  std::vector<E> layer = {dir(outside_.substr(1)), symlink("a", outside_), file("a/passwd", "pwned"),
                          file("a/new", "n")};
  extract(layer);
  EXPECT_EQ(read_file(dest_ + outside_ + "/passwd"), "pwned");
  EXPECT_EQ(read_file(dest_ + outside_ + "/new"), "n");
  expect_outside_untouched();
  // Without it, the symlink dangles inside the root: refused, still nothing outside.
  remove_all(dest_);
  mkdir_all(dest_);
  std::string err = try_extract({symlink("a", outside_), file("a/passwd", "pwned")});
  EXPECT_NE(err.find("layer entry \"a/passwd\": parent \"a\" is a symlink to \"" + outside_ +
                     "\", which leads to no directory inside the layer root: refused"),
            std::string::npos)
      << err;
  expect_outside_untouched();
}

TEST_F(LayerEscape, RelativeSymlinkParentCannotClimbOut) {
  // From dest/, "../../../.." stops at dest itself, as ".." does at "/".
  extract({symlink("up", "../../../../../.."), file("up/x", "contained"), symlink("out", "../outside"), dir("outside"),
           file("out/passwd", "pwned")});
  EXPECT_EQ(read_file(d("x")), "contained");
  EXPECT_EQ(read_file(d("outside/passwd")), "pwned");
  expect_outside_untouched();
}

TEST_F(LayerEscape, SymlinkChainsStayInside) {
  extract({symlink("a", "/"), symlink("b", "a/.."), symlink("c", "b/../.."), file("c/x", "1"), symlink("d", outside_),
           symlink("e", "d"), dir(outside_.substr(1)), file("e/passwd", "pwned")});
  EXPECT_EQ(read_file(d("x")), "1");
  EXPECT_EQ(read_file(dest_ + outside_ + "/passwd"), "pwned");
  expect_outside_untouched();
}

TEST_F(LayerEscape, HardlinksToOutsideAreRefusedOrContained) {
  // Lexically out: refused.
  for (const char* target : {"../outside/passwd", "a/../../outside/passwd"}) {
    SCOPED_TRACE(target);
    std::string err = try_extract({dir("a"), hardlink("h", target)});
    EXPECT_NE(
        err.find("layer entry \"h\": hardlink target \"" + std::string(target) + "\": path escapes the layer root"),
        std::string::npos)
        << err;
    EXPECT_FALSE(exists(d("h")));
    expect_outside_untouched();  // includes outside/passwd's link count
  }
  // Through symlinks pointing out: resolved inside the root, where there is no such file.
  for (const std::vector<E>& layer :
       {std::vector<E>{symlink("a", outside_), hardlink("h", "a/passwd")},
        std::vector<E>{symlink("a", "../outside"), hardlink("h", "a/passwd")},
        std::vector<E>{symlink("a", "../../.."), symlink("b", "a"), hardlink("h", "b" + outside_ + "/passwd")}}) {
    std::string err = try_extract(layer);
    EXPECT_NE(err.find("layer entry \"h\""), std::string::npos) << err;
    EXPECT_FALSE(exists(d("h")));
    expect_outside_untouched();
  }
  // And where the path exists inside the root, the link is to that file.
  extract({dir(outside_.substr(1)), file(outside_.substr(1) + "/passwd", "inner"), symlink("a", outside_),
           hardlink("h", "a/passwd")});
  EXPECT_EQ(lstat_of(d("h")).st_ino, lstat_of(dest_ + outside_ + "/passwd").st_ino);
  expect_outside_untouched();
}

TEST_F(LayerEscape, WhiteoutsCannotDeleteOutside) {
  for (WhiteoutMode mode : {WhiteoutMode::Apply, WhiteoutMode::Overlay}) {
    SCOPED_TRACE(mode == WhiteoutMode::Apply ? "apply" : "overlay");
    ExtractOptions opts{.whiteouts = mode};
    // Lexically out: refused.
    for (const char* name :
         {"../.wh.outside", "../outside/.wh.passwd", "a/../../outside/.wh..wh..opq", ".wh...", "a/.wh..."}) {
      std::string err = try_extract({dir("a"), file(name, "")}, opts);
      EXPECT_NE(err.find("path escapes the layer root"), std::string::npos) << name << ": " << err;
      expect_outside_untouched();
    }
    // Through symlinks: contained (nothing there to delete, or a device made inside).
    for (const std::vector<E>& layer :
         {std::vector<E>{symlink("link", outside_), file("link/.wh.passwd", "")},
          std::vector<E>{symlink("link", "../outside"), file("link/.wh.passwd", "")},
          std::vector<E>{symlink("link", "../outside"), file("link/.wh.dir", "")},
          std::vector<E>{symlink("link", outside_), file("link/.wh..wh..opq", "")},
          std::vector<E>{symlink("link", "../../.."), file("link" + outside_ + "/.wh..wh..opq", "")},
          std::vector<E>{symlink("link", "../../.."), file("link" + outside_ + "/.wh.passwd", "")}}) {
      remove_all(dest_);
      mkdir_all(dest_);
      try_extract(layer, opts);  // either outcome is fine: the host is what matters
      expect_outside_untouched();
    }
  }
}

TEST_F(LayerEscape, ExistingSymlinksAtTheEntryAreReplacedNotFollowed) {
  std::filesystem::create_symlink(outside_ + "/passwd", d("victim"));
  std::filesystem::create_symlink(outside_ + "/dir", d("victim_dir"));
  std::filesystem::create_symlink(outside_ + "/passwd", d("victim_link"));
  std::filesystem::create_symlink(outside_ + "/dir", d("victim_node"));
  extract({file("victim", "pwned", 0777), dir("victim_dir", 0777), symlink("victim_link", "elsewhere"),
           node("victim_node", AE_IFIFO, 0, 0777)});
  EXPECT_EQ(read_file(d("victim")), "pwned");
  EXPECT_TRUE(S_ISDIR(lstat_of(d("victim_dir")).st_mode));
  EXPECT_EQ(std::filesystem::read_symlink(d("victim_link")).string(), "elsewhere");
  EXPECT_TRUE(S_ISFIFO(lstat_of(d("victim_node")).st_mode));
  expect_outside_untouched();
}

TEST_F(LayerEscape, DirectoryReplacedBySymlinkGetsNoDeferredMetadata) {
  // "d/" is created with mode 0777 and a time, set at the end; by then "d" points out.
  E dd = dir("d", 0777);
  dd.mtime = 1;
  E target = dir("target", 0750);
  target.mtime = 2;
  E f = dir("f", 0777);
  f.mtime = 1;
  extract({dd, symlink("d", outside_ + "/dir"), dir("e", 0777), symlink("e", "../outside/dir"), target, f,
           symlink("f", "target")});
  EXPECT_TRUE(S_ISLNK(lstat_of(d("d")).st_mode));
  expect_outside_untouched();
  // Nor through a symlink inside: "target" keeps its own.
  struct stat st = lstat_of(d("target"));
  EXPECT_EQ(st.st_mode, S_IFDIR | 0750);
  EXPECT_EQ(st.st_mtim.tv_sec, 2);
}

TEST_F(LayerEscape, HardlinkToASymlinkLinksTheSymlinkItself) {
  extract({symlink("s", outside_ + "/passwd"), hardlink("h", "s")});
  EXPECT_TRUE(S_ISLNK(lstat_of(d("h")).st_mode));
  EXPECT_EQ(lstat_of(d("h")).st_ino, lstat_of(d("s")).st_ino);
  expect_outside_untouched();
}

// ---- errors ----

std::string error_of(const std::string& dest, const std::string& input, ExtractOptions opts = {}) {
  Source src(input);
  try {
    extract_layer(dest, src.fn(), opts);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST_F(LayerErrors, TruncatedCompressedInput) {
  std::string tar = pax_tar({file("f", random_bytes(200000, 4))});
  for (const char* kind : {"gzip", "zstd"}) {
    std::string c = compress(tar, kind);
    // Cut in the middle, or just before the end (gzip: inside the CRC trailer).
    for (std::size_t len : {c.size() / 2, c.size() - 3}) {
      SCOPED_TRACE(std::string(kind) + " " + std::to_string(len));
      remove_all(dest_);
      mkdir_all(dest_);
      std::string err = error_of(dest_, c.substr(0, len));
      EXPECT_NE(err.find("truncated"), std::string::npos) << err;
    }
  }
}

TEST_F(LayerErrors, CorruptOrGarbageInput) {
  std::string gz = compress(pax_tar({file("f", random_bytes(100000, 5))}), "gzip");
  gz[gz.size() / 2] ^= 0x55;
  EXPECT_NE(error_of(dest_, gz), "");
  std::string garbage;
  for (int i = 0; i < 200; ++i) garbage += "this is not a layer tarball. ";
  EXPECT_NE(error_of(dest_, garbage).find("extract layer"), std::string::npos) << error_of(dest_, garbage);
  EXPECT_NE(error_of(dest_, random_bytes(5000, 6)), "");
  // A tar cut inside a file's data.
  std::string tar = pax_tar({file("f", random_bytes(100000, 7))});
  EXPECT_NE(error_of(dest_, tar.substr(0, 50000)), "");
}

TEST_F(LayerErrors, ErrorsNameTheEntry) {
  std::string err = error_of(dest_, pax_tar({file("ok", "1"), hardlink("usr/bin/x", "missing/target")}));
  EXPECT_NE(err.find("extract layer entry \"usr/bin/x\": "), std::string::npos) << err;
  EXPECT_NE(err.find("No such file or directory"), std::string::npos) << err;
}

// The caller's own failure (say, a cancelled pull) comes back with its type and message.
struct Cancelled : Error {
  Cancelled() : Error("pull cancelled") {}
};

TEST_F(LayerErrors, ReadFailuresPropagateUnchanged) {
  std::string tar = pax_tar({file("a", "1"), file("f", random_bytes(3 << 20, 8)), file("z", "2")});
  for (const char* kind : {"plain", "gzip"}) {
    std::string input = std::string(kind) == "plain" ? tar : compress(tar, kind);
    // At the start, inside a file's data, and past the end marker.
    for (std::size_t fail_at : {std::size_t{0}, input.size() / 2, input.size() - 1}) {
      SCOPED_TRACE(std::string(kind) + " " + std::to_string(fail_at));
      remove_all(dest_);
      mkdir_all(dest_);
      std::size_t served = 0;
      ReadFn failing = [&](char* buf, std::size_t len) -> std::size_t {
        if (served > fail_at || (fail_at == 0 && served == 0)) throw Cancelled();
        std::size_t n = std::min({len, std::size_t{65536}, input.size() - served});
        std::memcpy(buf, input.data() + served, n);
        served += n;
        return n;
      };
      try {
        extract_layer(dest_, failing);
        ADD_FAILURE() << "no exception";
      } catch (const Cancelled& e) {
        EXPECT_STREQ(e.what(), "pull cancelled");
      }
    }
  }
}

TEST_F(LayerErrors, MissingDestination) {
  std::string err = error_of(dest_ + "/nope", pax_tar({file("f", "")}));
  EXPECT_NE(err.find(dest_ + "/nope"), std::string::npos) << err;
}

// ---- decompress ----

TEST_F(LayerDecompress, AllFormatsGiveTheSameBytesAndDigest) {
  std::string data = random_bytes(2500000, 9) + std::string(100000, 'z');
  for (const char* kind : {"plain", "gzip", "zstd"}) {
    SCOPED_TRACE(kind);
    std::string input = std::string(kind) == "plain" ? data : compress(data, kind);
    Source src(input, 100000);
    std::string out;
    Digest dg = decompress(src.fn(), [&](const char* b, std::size_t n) { out.append(b, n); });
    EXPECT_TRUE(out == data);
    EXPECT_EQ(dg, digest_of(data));
    EXPECT_EQ(src.pos, input.size());
  }
  Source empty("");
  EXPECT_EQ(decompress(empty.fn(), [](const char*, std::size_t) {}), digest_of(""));
  Source cut(compress(data, "zstd").substr(0, 1000));
  EXPECT_THROW(decompress(cut.fn(), [](const char*, std::size_t) {}), Error);
}

// ---- archive_directory ----

// A tree with one of everything, under tmp/tree.
std::string make_tree(const std::string& tmp) {
  std::string t = tmp + "/tree";
  mkdir_all(t + "/usr/bin");
  mkdir_all(t + "/empty");
  write_file_atomic(t + "/usr/bin/tool", "tool", 04755, false);
  chmod((t + "/usr/bin/tool").c_str(), 04755);
  chown((t + "/usr/bin/tool").c_str(), 1000, 2000);
  write_file_atomic(t + "/big", random_bytes(1500000, 10), 0600, false);
  write_file_atomic(t + "/usr/bin/a-file", "", 0644, false);
  link((t + "/usr/bin/tool").c_str(), (t + "/usr/bin/tool-link").c_str());
  ::symlink("/usr/bin/tool", (t + "/abs").c_str());
  ::symlink("../..", (t + "/usr/bin/up").c_str());
  mknod((t + "/null").c_str(), S_IFCHR | 0666, makedev(1, 3));
  mknod((t + "/fifo").c_str(), S_IFIFO | 0640, 0);
  setxattr((t + "/big").c_str(), "user.k", "v", 1, 0);
  setxattr((t + "/big").c_str(), "trusted.k", "tv", 2, 0);
  setxattr((t + "/usr").c_str(), "user.dir", "dv", 2, 0);
  chmod((t + "/empty").c_str(), 01777);
  lchown((t + "/abs").c_str(), 3, 4);
  // Times last, children before parents.
  for (const char* p : {"usr/bin/tool", "big", "abs", "null", "fifo", "usr/bin", "usr", "empty"}) {
    timespec ts[2] = {{1000, 0}, {1600000000 + static_cast<time_t>(std::strlen(p)), 5000}};
    utimensat(AT_FDCWD, (t + "/" + p).c_str(), ts, AT_SYMLINK_NOFOLLOW);
  }
  return t;
}

TEST_F(LayerArchive, RoundTripsThroughExtraction) {
  std::string tree = make_tree(tmp_);
  std::string tar;
  Digest dg = archive_directory(tree, [&](const char* b, std::size_t n) { tar.append(b, n); });
  EXPECT_EQ(dg, digest_of(tar));
  ExtractResult r = extract(tar);
  EXPECT_EQ(r.diff_id, dg);
  EXPECT_EQ(snapshot(dest_), snapshot(tree));
  EXPECT_NE(snapshot(tree).find("same-inode-as=usr/bin/tool"), std::string::npos);  // the check can see links
  EXPECT_NE(snapshot(tree).find("user.dir=dv"), std::string::npos);
}

TEST_F(LayerArchive, OddNamesRoundTrip) {
  std::string t = tmp_ + "/tree";
  std::string longdir = std::string(120, 'd'), longname = std::string(200, 'n');
  std::vector<std::string> names = {"caf\xc3\xa9", "\xff\xfe-not-utf8", "sp ace", "new\nline",
                                    longdir + "/" + longname};
  mkdir_all(t + "/" + longdir);
  for (const std::string& n : names) write_file_atomic(t + "/" + n, n, 0644, false);
  link((t + "/" + names[1]).c_str(), (t + "/" + longdir + "/link-\xff").c_str());
  ::symlink(names[1].c_str(), (t + "/" + longname).c_str());
  std::string tar;
  archive_directory(t, [&](const char* b, std::size_t n) { tar.append(b, n); });
  extract(tar);
  EXPECT_EQ(snapshot(dest_), snapshot(t));
  EXPECT_EQ(read_file(d(names[1])), names[1]);
  EXPECT_EQ(read_file(d(names[4])), names[4]);
}

TEST_F(LayerArchive, IsDeterministicAndSorted) {
  std::string tree = make_tree(tmp_);
  std::string one, two;
  archive_directory(tree, [&](const char* b, std::size_t n) { one.append(b, n); });
  // The same tree again, after touching atimes: same bytes.
  read_file(tree + "/big");
  archive_directory(tree, [&](const char* b, std::size_t n) { two.append(b, n); });
  EXPECT_TRUE(one == two);
  std::vector<std::string> names = names_in(one);
  std::vector<std::string> want = {"abs",       "big",      "empty/",         "fifo",         "null",
                                   "usr/",      "usr/bin/", "usr/bin/a-file", "usr/bin/tool", "usr/bin/tool-link",
                                   "usr/bin/up"};
  EXPECT_EQ(names, want);
}

TEST_F(LayerArchive, OverlayWhiteoutsBecomeWhFiles) {
  std::string t = tmp_ + "/tree";
  mkdir_all(t + "/opq");
  write_file_atomic(t + "/opq/-new", "n", 0644, false);
  mknod((t + "/gone").c_str(), S_IFCHR, makedev(0, 0));
  setxattr((t + "/opq").c_str(), "trusted.overlay.opaque", "y", 1, 0);
  setxattr((t + "/opq").c_str(), "trusted.overlay.origin", "xx", 2, 0);
  std::string tar;
  archive_directory(t, [&](const char* b, std::size_t n) { tar.append(b, n); });
  std::vector<std::string> want = {".wh.gone", "opq/", "opq/.wh..wh..opq", "opq/-new"};
  EXPECT_EQ(names_in(tar), want);
  EXPECT_EQ(tar.find("overlay"), std::string::npos);  // no overlay xattr leaks into the tar
  // And back: overlay form in Overlay mode...
  extract(tar);
  EXPECT_EQ(lstat_of(d("gone")).st_rdev, makedev(0, 0));
  EXPECT_TRUE(S_ISCHR(lstat_of(d("gone")).st_mode));
  EXPECT_EQ(xattr(d("opq"), "trusted.overlay.opaque"), "y");
  EXPECT_EQ(read_file(d("opq/-new")), "n");
  // ...applied onto a lower tree in Apply mode.
  remove_all(dest_);
  mkdir_all(d("opq"));
  write_file_atomic(d("opq/lower"), "l", 0644, false);
  write_file_atomic(d("gone"), "g", 0644, false);
  extract(tar, {.whiteouts = WhiteoutMode::Apply});
  EXPECT_FALSE(exists(d("gone")));
  EXPECT_FALSE(exists(d("opq/lower")));
  EXPECT_EQ(read_file(d("opq/-new")), "n");
}

TEST_F(LayerArchive, WriteFailuresPropagateAndStopTheOutput) {
  std::string tree = make_tree(tmp_);
  int calls = 0;
  EXPECT_THROW(archive_directory(tree,
                                 [&](const char*, std::size_t) {
                                   ++calls;
                                   throw Error("disk full");
                                 }),
               Error);
  EXPECT_EQ(calls, 1);
}

// ---- copy_tree ----

TEST_F(LayerCopy, CopiesEverythingWithoutFollowingSymlinks) {
  std::string tree = make_tree(tmp_);
  ::symlink(outside_.c_str(), (tree + "/out").c_str());
  ::symlink((outside_ + "/passwd").c_str(), (tree + "/out-file").c_str());
  setxattr((tree + "/null").c_str(), "trusted.dev", "d", 1, 0);
  chmod(tree.c_str(), 0751);
  std::string copy = tmp_ + "/copy";
  copy_tree(tree, copy);
  EXPECT_EQ(snapshot(copy), snapshot(tree));
  EXPECT_EQ(lstat_of(copy).st_mode, S_IFDIR | 0751);
  EXPECT_NE(lstat_of(copy + "/big").st_ino, lstat_of(tree + "/big").st_ino);  // a copy, not a link
  EXPECT_EQ(lstat_of(copy + "/usr/bin/tool").st_ino, lstat_of(copy + "/usr/bin/tool-link").st_ino);
  EXPECT_TRUE(S_ISLNK(lstat_of(copy + "/out").st_mode));
  remove_all(copy);
  remove_all(tree);
  expect_outside_untouched();
}

TEST_F(LayerCopy, IntoAnExistingEmptyDirectory) {
  std::string tree = make_tree(tmp_);
  copy_tree(tree, dest_);
  EXPECT_EQ(snapshot(dest_), snapshot(tree));
  EXPECT_THROW(copy_tree(tmp_ + "/missing", tmp_ + "/x"), SysError);
}

}  // namespace
}  // namespace hoist::image
