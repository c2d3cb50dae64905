// Internals shared by layer.cpp (extraction), layer_stream.cpp (decompression),
// layer_tree.cpp (TarBuilder, archive_directory, copy_tree) and layer_maker.cpp: not part of the
// image module's interface.
#pragma once
#include <locale.h>
#include <sys/stat.h>
#include <zlib.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/digest.h"
#include "common/fd.h"
#include "image/layer.h"

struct ZSTD_DCtx_s;

namespace hoist::image::layer_detail {

// Read and write chunk size on the pull path: large, so that the per-chunk costs (callbacks,
// syscalls, hash updates) vanish next to the byte work.
inline constexpr std::size_t kBufSize = 1 << 20;

// Pulls a gzip, zstd or plain stream (told apart by the magic bytes) through `read` and hands
// out the uncompressed bytes chunk by chunk, without copying plain input.
class Decompressor {
 public:
  explicit Decompressor(const ReadFn& read);
  ~Decompressor();
  Decompressor(const Decompressor&) = delete;
  Decompressor& operator=(const Decompressor&) = delete;

  // The next uncompressed chunk (valid until the next call); empty at the end of the stream.
  // Throws Error on corrupt or truncated input.
  std::string_view next();
  // Reads whatever input is left after the end of the compressed stream (trailing bytes), so
  // that a caller hashing the input in its ReadFn sees every byte.
  void drain_input();

 private:
  enum class Kind { Plain, Gzip, Zstd };
  // Makes at least `n` unread input bytes available (reading more); false at the end of input.
  bool have(std::size_t n);
  std::string_view next_gzip();
  std::string_view next_zstd();

  const ReadFn& read_;
  std::unique_ptr<char[]> in_, out_;
  std::size_t in_pos_ = 0, in_len_ = 0;
  bool eof_ = false, done_ = false;
  bool frame_complete_ = false;  // zstd: the last call finished a frame
  Kind kind_ = Kind::Plain;
  z_stream z_{};
  ZSTD_DCtx_s* zstd_ = nullptr;
};

struct Xattr {
  std::string name;
  std::string value;
};

// Makes the calling thread use a UTF-8 LC_CTYPE while alive. libarchive converts pax names
// (UTF-8 on the wire) from and to the locale's charset: under a UTF-8 locale names pass through
// unchanged whatever locale the process was started with, and the writer emits UTF-8 path
// records rather than warning and falling back to hdrcharset=BINARY as under "C".
class Utf8Locale {
 public:
  Utf8Locale();
  ~Utf8Locale();
  Utf8Locale(const Utf8Locale&) = delete;
  Utf8Locale& operator=(const Utf8Locale&) = delete;

 private:
  locale_t utf8_ = nullptr;
  locale_t previous_ = nullptr;
};

// Metadata to give a file: from a tar header (extraction) or a stat (copy_tree).
struct Meta {
  uid_t uid = 0;
  gid_t gid = 0;
  mode_t perm = 0;    // permission bits with setuid, setgid and sticky
  timespec times[2];  // atime, mtime: the utimensat order
  std::vector<Xattr> xattrs;
};

// Owner (when `chown`), mode, xattrs and times of an open regular file or directory, in the
// order that keeps them all: chown clears setuid bits and security.capability. `shown` names
// the file in errors.
void apply_meta_fd(int fd, const Meta& m, bool chown, const std::string& shown);
// The same for a symlink (no mode), device, fifo or socket by its name in `dir`, never
// following a symlink.
void apply_meta_at(int dir, const std::string& name, const Meta& m, bool chown, bool symlink, const std::string& shown);

// "/proc/self/fd/N": acts on the object an O_PATH fd refers to (even a symlink or a device)
// for the calls that have no fd or *at form (xattrs, chmod).
std::string proc_fd_path(int fd);

// The extended attributes of `fd`; `path_fd` says it is an O_PATH fd (symlink, device, fifo),
// read through /proc/self/fd. `shown` names the object in errors.
std::vector<Xattr> read_xattrs(int fd, bool path_fd, const std::string& shown);
// Sets one attribute. Returns false when the file system or the file type does not support it
// (ENOTSUP, or EPERM for user.* on a symlink or device); throws on other errors.
bool write_xattr(int fd, bool path_fd, const Xattr& x, const std::string& shown);

// The names in the directory `dirfd` (any fd, O_PATH included) in byte order, without . and ..
std::vector<std::string> list_dir(int dirfd, const std::string& shown);

// rm -rf of `name` in `dirfd`, never following a symlink; a missing `name` is not an error.
void remove_all_at(int dirfd, const std::string& name, const std::string& shown);

// openat(dirfd, name, flags | O_CLOEXEC); throws SysError("open", shown) on failure.
UniqueFd open_at(int dirfd, const std::string& name, int flags, const std::string& shown);

// A second consumer of what a TarBuilder reads: each entry as it goes into the tar (the layer
// maker unpacks a layer with it while the tar is written, from the same reads).
class TarMirror {
 public:
  virtual ~TarMirror() = default;
  // A directory, file, symlink, device or fifo with its metadata and the xattrs written to the
  // tar; `symlink`: its target; `hardlink`: the entry is a hard link to that earlier entry;
  // `opaque`: a directory whose opaque marker follows it.
  virtual void begin(const std::string& rel, const struct stat& st, const std::vector<Xattr>& xattrs,
                     const std::string& symlink, const std::string& hardlink, bool opaque) = 0;
  // The data of the regular file begun last, in order, then end().
  virtual void data(const char* p, std::size_t n) = 0;
  virtual void end() = 0;
  // A whiteout entry for `rel` (`st`: the metadata it is written with).
  virtual void whiteout(const std::string& rel, const struct stat& st) = 0;
};

struct TarBuilderOptions {
  TarMirror* mirror = nullptr;
  // Hash the stream (finish() returns the digest); false: finish() returns an empty digest and
  // the caller hashes what `write` gets.
  bool hash = true;
};

// Writes tar entries taken from a directory tree: pax format with deterministic headers (type,
// mode, owner, mtime, xattrs but overlayfs' own and system.*; no atime or ctime), overlayfs
// whiteouts (0:0 character devices) as ".wh.NAME" entries and opaque directories followed by
// their ".wh..wh..opq" marker, a file met again through another hard link as a link to the first
// path written, sockets left out. The stream is hashed on the way (the layer's diff ID). Every
// file is opened with *at() calls and O_NOFOLLOW relative to a directory fd, so a tree changing
// underneath (a running container) cannot lead it out.
class TarBuilder {
 public:
  explicit TarBuilder(const WriteFn& write, const TarBuilderOptions& opts = {});
  ~TarBuilder();
  TarBuilder(const TarBuilder&) = delete;
  TarBuilder& operator=(const TarBuilder&) = delete;

  // `name` in the directory `dirfd` as the entry `rel`; with `recurse`, a directory is followed
  // by everything below it (names sorted, depth first).
  void add(int dirfd, const std::string& name, const std::string& rel, bool recurse);
  // Everything below the directory `dirfd`, whose entries are named `prefix`/... ("" for a root).
  void add_children(int dirfd, const std::string& prefix);
  // A whiteout entry ".wh.NAME" for `rel` ("a/b" -> "a/.wh.b"): an empty file, mode 0600, with
  // `st`'s owner and mtime.
  void add_whiteout(const std::string& rel, const struct stat& st);
  // Ends the archive (the end marker, no padding after it); returns the digest of the stream.
  Digest finish();
  std::int64_t entries() const;
  std::int64_t bytes() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Path join for messages and relative names: join("", "a") == "a".
inline std::string join(const std::string& dir, std::string_view name) {
  return dir.empty() ? std::string(name) : dir + "/" + std::string(name);
}

}  // namespace hoist::image::layer_detail
