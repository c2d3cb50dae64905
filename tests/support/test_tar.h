// Tars for tests, written with libarchive: entries of any type (files, directories, symlinks,
// hard links, device nodes) with their owner, mode, times and xattrs, in memory or to a file,
// plain or through one of libarchive's filters (gzip, bzip2, xz, zstd).
#pragma once
#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <locale.h>
#include <sys/types.h>

#include <ctime>
#include <string>
#include <utility>
#include <vector>

namespace hoist::test {

// One entry to write.
struct TarItem {
  std::string path;
  mode_t type = AE_IFREG;
  mode_t perm = 0644;
  std::string data;  // regular files
  std::string link;  // symlink target, or the hard link's target when `hardlink`
  bool hardlink = false;
  uid_t uid = 0;
  gid_t gid = 0;
  time_t mtime = 1700000000;
  long mtime_nsec = 0;
  time_t atime = 0;  // 0: not in the header
  dev_t rdev = 0;
  std::vector<std::pair<std::string, std::string>> xattrs;
};

// Items from (name, content) pairs: a name ending in '/' is a directory (0755), a content
// "->TARGET" a symlink (0777), anything else a regular file (0644).
inline std::vector<TarItem> tar_items(const std::vector<std::pair<std::string, std::string>>& entries) {
  std::vector<TarItem> out;
  for (const auto& [name, content] : entries) {
    TarItem t{.path = name};
    if (!name.empty() && name.back() == '/') {
      t.type = AE_IFDIR;
      t.perm = 0755;
    } else if (content.rfind("->", 0) == 0) {
      t.type = AE_IFLNK;
      t.perm = 0777;
      t.link = content.substr(2);
    } else {
      t.data = content;
    }
    out.push_back(std::move(t));
  }
  return out;
}

struct TarFormat {
  bool pax = false;    // pax, names as UTF-8 records (as Go's archive/tar writes); else pax_restricted
  std::string filter;  // archive_write_add_filter_by_name ("gzip", "zstd", ...); empty: none
};

namespace tar_detail {

// libarchive writes UTF-8 pax names only under a UTF-8 locale.
struct Utf8Locale {
  Utf8Locale() : loc(newlocale(LC_CTYPE_MASK, "C.UTF-8", nullptr)), old(uselocale(loc)) {}
  ~Utf8Locale() {
    uselocale(old);
    freelocale(loc);
  }
  locale_t loc, old;
};

inline archive* writer(const TarFormat& f) {
  archive* a = archive_write_new();
  if (f.pax) archive_write_set_format_pax(a);
  else archive_write_set_format_pax_restricted(a);
  if (!f.filter.empty()) {
    EXPECT_EQ(archive_write_add_filter_by_name(a, f.filter.c_str()), ARCHIVE_OK) << f.filter;
  }
  return a;
}

inline void write_items(archive* a, const std::vector<TarItem>& items) {
  for (const TarItem& x : items) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, x.path.c_str());
    archive_entry_set_filetype(e, x.type);
    archive_entry_set_perm(e, x.perm);
    archive_entry_set_uid(e, x.uid);
    archive_entry_set_gid(e, x.gid);
    archive_entry_set_mtime(e, x.mtime, x.mtime_nsec);
    if (x.atime) archive_entry_set_atime(e, x.atime, 0);
    if (x.hardlink) archive_entry_set_hardlink(e, x.link.c_str());
    else if (x.type == AE_IFLNK) archive_entry_set_symlink(e, x.link.c_str());
    if (x.type == AE_IFCHR || x.type == AE_IFBLK) archive_entry_set_rdev(e, x.rdev);
    for (const auto& [k, v] : x.xattrs) archive_entry_xattr_add_entry(e, k.c_str(), v.data(), v.size());
    bool body = x.type == AE_IFREG && !x.hardlink;
    archive_entry_set_size(e, body ? static_cast<la_int64_t>(x.data.size()) : 0);
    EXPECT_EQ(archive_write_header(a, e), ARCHIVE_OK) << x.path << ": " << archive_error_string(a);
    if (body && !x.data.empty()) archive_write_data(a, x.data.data(), x.data.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
}

}  // namespace tar_detail

// The tar of `items`, in memory (padded to libarchive's 10 KiB blocks, as bsdtar's output).
inline std::string make_tar(const std::vector<TarItem>& items, const TarFormat& f = {}) {
  tar_detail::Utf8Locale utf8;
  std::string out;
  archive* a = tar_detail::writer(f);
  archive_write_open(
      a, &out, nullptr,
      [](archive*, void* o, const void* b, size_t n) -> la_ssize_t {
        static_cast<std::string*>(o)->append(static_cast<const char*>(b), n);
        return static_cast<la_ssize_t>(n);
      },
      nullptr);
  tar_detail::write_items(a, items);
  return out;
}

// The tar of `items` written to `path` (whose directory exists).
inline void write_tar_file(const std::string& path, const std::vector<TarItem>& items, const TarFormat& f = {}) {
  tar_detail::Utf8Locale utf8;
  archive* a = tar_detail::writer(f);
  if (archive_write_open_filename(a, path.c_str()) != ARCHIVE_OK) {
    ADD_FAILURE() << "cannot write " << path << ": " << archive_error_string(a);
    archive_write_free(a);
    return;
  }
  tar_detail::write_items(a, items);
}

}  // namespace hoist::test
