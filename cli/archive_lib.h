// libarchive for the CLI, loaded on first use (dlopen of libarchive.so.13). Only `cp` writes and
// reads tars; linked at start, libarchive and the 14 libraries it pulls in (ICU, libxml2, nettle,
// ...) would add to the start of every command (see docs/dependencies.md).
#pragma once

#include <archive.h>
#include <archive_entry.h>

#include <cstdint>
#include <functional>
#include <string_view>

namespace hoist::cli {

#define HOIST_ARCHIVE_FUNCTIONS(X)                                                                                  \
  X(archive_read_new) X(archive_read_support_format_tar) X(archive_read_support_format_empty)                       \
  X(archive_read_open) X(archive_read_next_header) X(archive_read_data_block) X(archive_read_free)                  \
  X(archive_write_new) X(archive_write_set_format_pax_restricted) X(archive_write_add_filter_none)                  \
  X(archive_write_set_bytes_per_block) X(archive_write_set_bytes_in_last_block) X(archive_write_open)               \
  X(archive_write_header) X(archive_write_data) X(archive_write_close) X(archive_write_free)                        \
  X(archive_error_string) X(archive_set_error)                                                                       \
  X(archive_entry_new) X(archive_entry_free) X(archive_entry_pathname) X(archive_entry_set_pathname)               \
  X(archive_entry_hardlink) X(archive_entry_set_hardlink) X(archive_entry_symlink) X(archive_entry_set_symlink)    \
  X(archive_entry_filetype) X(archive_entry_set_filetype) X(archive_entry_perm) X(archive_entry_set_perm)          \
  X(archive_entry_uid) X(archive_entry_set_uid) X(archive_entry_gid) X(archive_entry_set_gid)                      \
  X(archive_entry_mtime) X(archive_entry_mtime_nsec) X(archive_entry_set_mtime) X(archive_entry_atime)             \
  X(archive_entry_atime_nsec) X(archive_entry_atime_is_set) X(archive_entry_size) X(archive_entry_set_size)        \
  X(archive_entry_rdev) X(archive_entry_set_rdev) X(archive_entry_xattr_add_entry)

// The libarchive functions `cp` calls; every member is set. Named as the C functions.
struct ArchiveLib {
#define HOIST_ARCHIVE_MEMBER(f) decltype(&::f) f;
  HOIST_ARCHIVE_FUNCTIONS(HOIST_ARCHIVE_MEMBER)
#undef HOIST_ARCHIVE_MEMBER
};

// Loaded once, thread-safely; throws hoist::Error when the library or a function is missing.
const ArchiveLib& archive_lib();

// A tar (pax, no compression) written as it is made to `send` (a request body), in blocks of
// `block` bytes: `cp`'s upload and `build`'s context. `send` returning false (the daemon stopped
// reading; its answer says why) fails the write and sets closed().
class TarStream {
 public:
  using Sink = std::function<bool(std::string_view)>;
  TarStream(const Sink& send, std::size_t block);
  ~TarStream();
  TarStream(const TarStream&) = delete;
  TarStream& operator=(const TarStream&) = delete;

  const ArchiveLib& lib() const { return lib_; }
  struct archive* get() const { return a_; }
  // Throws hoist::Error "archive: <libarchive's message>" for a result below ARCHIVE_WARN.
  void check(int r) const;
  void close() { check(lib_.archive_write_close(a_)); }
  std::int64_t bytes() const { return bytes_; }
  bool closed() const { return closed_; }

 private:
  static la_ssize_t write_cb(struct archive*, void* self, const void* buf, std::size_t len);
  const ArchiveLib& lib_;
  Sink send_;
  struct archive* a_;
  std::int64_t bytes_ = 0;
  bool closed_ = false;
};

}  // namespace hoist::cli
