// Layer extraction. The tar is parsed by libarchive; all file system work is ours, relative to
// directory fds: every parent directory is opened with openat2(RESOLVE_IN_ROOT |
// RESOLVE_NO_MAGICLINKS) from an fd of dest_dir, and the entry itself is made with an *at() call
// on that fd and a single name component, never following a symlink at the last component.
//
// What a hostile layer gets (the host is never touched in either case):
//  - names that climb above the root ("../x", "a/../../x"), hardlink targets that do, and
//    whiteouts that do ("../.wh.x") or name ".." (".wh..."): refused, Error "path escapes the
//    layer root";
//  - absolute names ("/etc/passwd"): taken relative to the root, as GNU tar and Docker do;
//  - symlinks on the way, chains included ("a -> /etc" then "a/passwd", "a -> ../../..",
//    "b -> a" then "b/x"), for entries, hardlink targets and whiteouts ("link/.wh.x"): followed
//    as if dest_dir were "/", i.e. contained: "a/passwd" lands in dest_dir/etc/passwd;
//  - a symlink at the last component is never followed: the entry replaces the symlink.
#include "image/layer.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <exception>
#include <map>
#include <optional>
#include <unordered_set>
#include <vector>

#include "common/error.h"
#include "common/file.h"
#include "image/layer_internal.h"

namespace hoist::image {
namespace {

using namespace layer_detail;

constexpr std::string_view kWhiteoutPrefix = ".wh.";
constexpr std::string_view kOpaqueMarker = ".wh..wh..opq";
constexpr std::string_view kAufsMetaPrefix = ".wh..wh.";  // .wh..wh.plnk and such: aufs internals

// Lexically cleans an entry name: "./a//b/../c/" -> "a/c", "/etc" -> "etc", "" for the root
// itself; nullopt when the name climbs above the root.
std::optional<std::string> clean_path(std::string_view name) {
  std::vector<std::string_view> parts;
  while (!name.empty()) {
    std::size_t slash = name.find('/');
    std::string_view part = name.substr(0, slash);
    name = slash == std::string_view::npos ? std::string_view() : name.substr(slash + 1);
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (parts.empty()) return std::nullopt;
      parts.pop_back();
      continue;
    }
    parts.push_back(part);
  }
  std::string out;
  for (std::string_view p : parts) {
    if (!out.empty()) out += '/';
    out += p;
  }
  return out;
}

// "a/b/c" -> {"a/b", "c"}; "c" -> {"", "c"}.
std::pair<std::string, std::string> split_last(const std::string& rel) {
  std::size_t slash = rel.rfind('/');
  if (slash == std::string::npos) return {"", rel};
  return {rel.substr(0, slash), rel.substr(slash + 1)};
}

[[noreturn]] void escapes() { throw Error("path escapes the layer root"); }

// The tar reader's input: chunks of the decompressed stream, hashed on the way (the diff_id).
// A failure in ReadFn or the decompressor cannot cross libarchive's C frames: it is kept here and
// rethrown once libarchive has returned.
struct TarSource {
  explicit TarSource(const ReadFn& read) : dec(read) {}

  std::string_view next() {
    std::string_view chunk = dec.next();
    hasher.update(chunk);
    size += static_cast<std::int64_t>(chunk.size());
    return chunk;
  }

  static la_ssize_t read(archive* a, void* self, const void** buf) {
    auto* src = static_cast<TarSource*>(self);
    try {
      std::string_view chunk = src->next();
      *buf = chunk.data();
      return static_cast<la_ssize_t>(chunk.size());
    } catch (...) {
      src->error = std::current_exception();
      archive_set_error(a, EIO, "reading the layer failed");
      return -1;
    }
  }

  // Throws for a libarchive result below ARCHIVE_WARN: the saved input error, or libarchive's.
  void check(archive* a, int r) const {
    if (r >= ARCHIVE_WARN) return;
    if (error) std::rethrow_exception(error);
    const char* msg = archive_error_string(a);
    throw Error(std::string("bad tar stream: ") + (msg ? msg : "unknown error"));
  }

  Decompressor dec;
  Hasher hasher;
  std::int64_t size = 0;
  std::exception_ptr error;
};

struct ArchiveFree {
  void operator()(archive* a) const { archive_read_free(a); }
};

// Which xattrs a layer may set. Overlay's own (trusted.overlay.*, user.overlay.* for
// unprivileged mounts) never: they are overlayfs metadata (opaque, redirect, metacopy) that only
// our whiteout conversion may write. Other namespaces (system.*: ACLs) are not carried.
bool xattr_allowed(std::string_view name, bool privileged) {
  if (name.starts_with("trusted.overlay.") || name.starts_with("user.overlay.")) return false;
  if (name.starts_with("user.")) return true;
  return privileged && (name.starts_with("trusted.") || name.starts_with("security."));
}

Meta meta_of(archive_entry* e, bool privileged) {
  Meta m;
  m.uid = static_cast<uid_t>(archive_entry_uid(e));
  m.gid = static_cast<gid_t>(archive_entry_gid(e));
  m.perm = archive_entry_perm(e) & 07777;
  m.times[1] = {archive_entry_mtime(e), archive_entry_mtime_nsec(e)};
  m.times[0] =
      archive_entry_atime_is_set(e) ? timespec{archive_entry_atime(e), archive_entry_atime_nsec(e)} : m.times[1];
  archive_entry_xattr_reset(e);
  const char* name;
  const void* value;
  std::size_t size;
  while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
    if (xattr_allowed(name, privileged)) m.xattrs.push_back({name, std::string(static_cast<const char*>(value), size)});
  }
  return m;
}

class Extractor {
 public:
  Extractor(const std::string& dest, const ExtractOptions& opts, const TarSource& src)
      : opts_(opts), src_(src), root_(::open(dest.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC)) {
    if (!root_) throw_sys("open", dest);
    UniqueFd probe(resolve("", O_PATH | O_DIRECTORY));
    if (!probe && errno == ENOSYS) throw Error("extract layer: openat2 is not available (Linux 5.6 or later needed)");
  }

  void extract(archive* a, archive_entry* e, const std::string& raw_name);
  void finish();

 private:
  struct DirMeta {
    mode_t perm;
    timespec times[2];
  };

  int resolve(const std::string& rel, std::uint64_t flags) const;
  UniqueFd open_dir(const std::string& rel, bool create);
  void make_dir(int dir, const std::string& name, const std::string& rel, archive_entry* e);
  void make_file(archive* a, int dir, const std::string& name, archive_entry* e);
  void make_hardlink(int dir, const std::string& name, const char* target);
  void make_node(int dir, const std::string& name, archive_entry* e);
  void whiteout(const std::string& parent, const std::string& name, archive_entry* e);
  void opaque(const std::string& parent);
  void prune_lower(int dirfd, const std::string& shown);
  void set_owner(int fd, const char* path, const Meta& m, int flags);
  void mark_ours(int dir, const std::string& name);
  bool ours(ino_t dir_ino, const std::string& name) const;

  const ExtractOptions& opts_;
  const TarSource& src_;
  UniqueFd root_;
  // Directories' modes and times, set at the end: creating their contents changes the times,
  // and a read-only mode would stop an unprivileged extraction from filling them.
  std::map<std::string, DirMeta> dirs_;
  // Apply mode: the directory entries (parent inode, name) this layer made, which an opaque
  // whiteout must keep. By entry rather than path, so symlinked parents cannot confuse it.
  std::unordered_set<std::string> ours_;
};

// openat2 below the root: symlinks and ".." resolve as if dest_dir were "/", so nothing outside
// is ever reached; magic links (/proc/self/fd/...) are refused. Returns the fd or -1 and errno.
int Extractor::resolve(const std::string& rel, std::uint64_t flags) const {
  open_how how{};
  how.flags = flags | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  const char* path = rel.empty() ? "." : rel.c_str();
  for (int attempt = 0;; ++attempt) {
    int fd = static_cast<int>(::syscall(SYS_openat2, root_.get(), path, &how, sizeof how));
    // EAGAIN: a rename elsewhere raced with the ".." checks; the kernel asks to retry.
    if (fd >= 0 || errno != EAGAIN || attempt == 16) return fd;
  }
}

// An O_PATH fd of the directory `rel`; missing directories are created (0755, like Docker) when
// `create`, else an invalid fd is returned for a missing path.
UniqueFd Extractor::open_dir(const std::string& rel, bool create) {
  int fd = resolve(rel, O_PATH | O_DIRECTORY);
  if (fd >= 0) return UniqueFd(fd);
  if (!create && (errno == ENOENT || errno == ENOTDIR)) return {};
  if (!create || errno != ENOENT) throw_sys("open", rel);
  // One component at a time, each resolved anew from the root.
  UniqueFd cur(resolve("", O_PATH | O_DIRECTORY));
  if (!cur) throw_sys("open", ".");
  for (std::size_t pos = 0; pos < rel.size();) {
    std::size_t end = std::min(rel.find('/', pos), rel.size());
    std::string prefix = rel.substr(0, end), name = rel.substr(pos, end - pos);
    fd = resolve(prefix, O_PATH | O_DIRECTORY);
    if (fd < 0 && errno == ENOENT) {
      if (::mkdirat(cur.get(), name.c_str(), 0755) != 0) {
        // EEXIST: `prefix` is a symlink to nothing inside the root; refused rather than guessed at.
        char target[PATH_MAX];
        ssize_t n = errno == EEXIST ? ::readlinkat(cur.get(), name.c_str(), target, sizeof target - 1) : -1;
        if (n < 0) throw_sys("mkdirat", prefix);
        throw Error("parent \"" + prefix + "\" is a symlink to \"" + std::string(target, static_cast<std::size_t>(n)) +
                    "\", which leads to no directory inside the layer root: refused");
      }
      if (::fchmodat(cur.get(), name.c_str(), 0755, AT_SYMLINK_NOFOLLOW) != 0) throw_sys("chmod", prefix);  // umask
      mark_ours(cur.get(), name);
      fd = resolve(prefix, O_PATH | O_DIRECTORY);
    }
    if (fd < 0) throw_sys("open", prefix);
    cur.reset(fd);
    pos = end + 1;
  }
  return cur;
}

void Extractor::mark_ours(int dir, const std::string& name) {
  if (opts_.whiteouts != WhiteoutMode::Apply) return;
  struct stat st;
  if (::fstat(dir, &st) != 0) throw_sys("fstat", name);
  ours_.insert(std::to_string(st.st_ino) + '/' + name);
}

bool Extractor::ours(ino_t dir_ino, const std::string& name) const {
  return ours_.contains(std::to_string(dir_ino) + '/' + name);
}

void Extractor::set_owner(int fd, const char* path, const Meta& m, int flags) {
  if (opts_.privileged && ::fchownat(fd, path, m.uid, m.gid, flags) != 0) throw_sys("chown", "");
}

void Extractor::extract(archive* a, archive_entry* e, const std::string& raw_name) {
  std::optional<std::string> rel = clean_path(raw_name);
  if (!rel) escapes();
  // "./": the root's own metadata is the snapshotter's business, not the layer's.
  if (rel->empty()) return;
  auto [parent, name] = split_last(*rel);
  if (name.starts_with(kWhiteoutPrefix)) return whiteout(parent, name, e);
  UniqueFd dir = open_dir(parent, true);
  if (const char* target = archive_entry_hardlink(e)) return make_hardlink(dir.get(), name, target);
  switch (archive_entry_filetype(e)) {
    case AE_IFDIR:
      return make_dir(dir.get(), name, *rel, e);
    case AE_IFREG:
      return make_file(a, dir.get(), name, e);
    case AE_IFLNK:
    case AE_IFCHR:
    case AE_IFBLK:
    case AE_IFIFO:
      return make_node(dir.get(), name, e);
    default:
      throw Error("unsupported entry type 0" + std::to_string(archive_entry_filetype(e) >> 12));
  }
}

// A directory over an existing directory keeps it (and its contents) and takes the new metadata;
// over anything else it replaces it.
void Extractor::make_dir(int dir, const std::string& name, const std::string& rel, archive_entry* e) {
  Meta m = meta_of(e, opts_.privileged);
  struct stat st;
  if (::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(st.st_mode))
    remove_all_at(dir, name, name);
  if (::mkdirat(dir, name.c_str(), 0700) != 0 && errno != EEXIST) throw_sys("mkdirat", "");
  UniqueFd fd = open_at(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, name);
  set_owner(fd.get(), "", m, AT_EMPTY_PATH);
  for (const Xattr& x : m.xattrs) write_xattr(fd.get(), false, x, name);
  dirs_[rel] = DirMeta{m.perm, {m.times[0], m.times[1]}};
  mark_ours(dir, name);
}

void Extractor::make_file(archive* a, int dir, const std::string& name, archive_entry* e) {
  Meta m = meta_of(e, opts_.privileged);
  remove_all_at(dir, name, name);
  // O_EXCL + O_NOFOLLOW: we write into a new inode, never through a planted symlink.
  UniqueFd fd(::openat(dir, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) throw_sys("openat", "");
  // Blocks point into libarchive's buffer (no copy); sparse files come as blocks with gaps.
  const void* buf;
  std::size_t len;
  la_int64_t off;
  std::int64_t end = 0;
  for (;;) {
    int r = archive_read_data_block(a, &buf, &len, &off);
    if (r == ARCHIVE_EOF) break;
    src_.check(a, r);
    for (std::size_t done = 0; done < len;) {
      ssize_t n = ::pwrite(fd.get(), static_cast<const char*>(buf) + done, len - done, off + static_cast<off_t>(done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw_sys("write", "");
      done += static_cast<std::size_t>(n);
    }
    end = std::max<std::int64_t>(end, off + static_cast<std::int64_t>(len));
  }
  if (archive_entry_size(e) > end && ::ftruncate(fd.get(), archive_entry_size(e)) != 0) throw_sys("ftruncate", "");
  apply_meta_fd(fd.get(), m, opts_.privileged, "");
  mark_ours(dir, name);
}

// The target is resolved inside the root like any path, and linkat(flags 0) does not follow a
// symlink at its last component (a hardlink to a symlink entry links the symlink).
void Extractor::make_hardlink(int dir, const std::string& name, const char* target) {
  std::optional<std::string> t = clean_path(target);
  if (!t || t->empty()) throw Error("hardlink target \"" + std::string(target) + "\": path escapes the layer root");
  auto [tparent, tname] = split_last(*t);
  UniqueFd tdir = open_dir(tparent, false);
  if (!tdir) throw_sys("link to", *t, ENOENT);
  struct stat have, want;
  if (::fstatat(dir, name.c_str(), &have, AT_SYMLINK_NOFOLLOW) == 0 &&
      ::fstatat(tdir.get(), tname.c_str(), &want, AT_SYMLINK_NOFOLLOW) == 0 && have.st_ino == want.st_ino &&
      have.st_dev == want.st_dev) {
    return;  // already that file (a link to itself, or a repeated entry)
  }
  remove_all_at(dir, name, name);
  if (::linkat(tdir.get(), tname.c_str(), dir, name.c_str(), 0) != 0) throw_sys("link to", *t);
  mark_ours(dir, name);
}

// Symlinks, devices and fifos.
void Extractor::make_node(int dir, const std::string& name, archive_entry* e) {
  mode_t type = archive_entry_filetype(e);
  bool device = type == AE_IFCHR || type == AE_IFBLK;
  if (device && !opts_.privileged) return;  // only root may make device nodes: skipped
  Meta m = meta_of(e, opts_.privileged);
  remove_all_at(dir, name, name);
  if (type == AE_IFLNK) {
    // The target text is content, stored as is ("/etc" is fine); it is never followed here.
    const char* target = archive_entry_symlink(e);
    if (!target) throw Error("symlink without a target");
    if (::symlinkat(target, dir, name.c_str()) != 0) throw_sys("symlinkat", "");
  } else if (::mknodat(dir, name.c_str(), type | 0600, archive_entry_rdev(e)) != 0) {
    throw_sys("mknodat", "");
  }
  apply_meta_at(dir, name, m, opts_.privileged, type == AE_IFLNK, "");
  mark_ours(dir, name);
}

void Extractor::whiteout(const std::string& parent, const std::string& name, archive_entry* e) {
  if (name == kOpaqueMarker) return opaque(parent);
  if (name.starts_with(kAufsMetaPrefix)) return;
  std::string victim = name.substr(kWhiteoutPrefix.size());
  if (victim == "..") escapes();
  if (victim.empty() || victim == ".") throw Error("invalid whiteout name");
  if (opts_.whiteouts == WhiteoutMode::Apply) {
    UniqueFd dir = open_dir(parent, false);
    if (dir) remove_all_at(dir.get(), victim, join(parent, victim));  // a missing victim is fine
    return;
  }
  // Overlay: the 0:0 character device overlayfs reads as "deleted" (unprivileged users may make
  // it too, since Linux 5.8).
  UniqueFd dir = open_dir(parent, true);
  remove_all_at(dir.get(), victim, victim);
  if (::mknodat(dir.get(), victim.c_str(), S_IFCHR, makedev(0, 0)) != 0) throw_sys("mknodat", "");
  set_owner(dir.get(), victim.c_str(), meta_of(e, opts_.privileged), AT_SYMLINK_NOFOLLOW);
}

// Overlay: mark the directory opaque (user.overlay.* for unprivileged, "userxattr" mounts).
// Apply: delete what the layers below put in it, now. Entries of this layer that came before the
// marker are kept (tracked in ours_); those after it are created after the pruning, so the order
// of the marker within its directory does not matter.
void Extractor::opaque(const std::string& parent) {
  if (opts_.whiteouts == WhiteoutMode::Overlay) {
    UniqueFd dir = open_dir(parent, true);
    UniqueFd fd = open_at(dir.get(), ".", O_RDONLY | O_DIRECTORY, parent);
    write_xattr(fd.get(), false, {opts_.privileged ? "trusted.overlay.opaque" : "user.overlay.opaque", "y"}, parent);
    return;
  }
  UniqueFd dir = open_dir(parent, false);
  if (dir) prune_lower(dir.get(), parent.empty() ? "." : parent);
}

// Removes everything below `dirfd` that this layer did not make. A lower directory that holds
// entries of this layer stays (as their parent), emptied of the rest.
void Extractor::prune_lower(int dirfd, const std::string& shown) {
  struct stat dst;
  if (::fstat(dirfd, &dst) != 0) throw_sys("fstat", shown);
  for (const std::string& name : list_dir(dirfd, shown)) {
    std::string path = shown + "/" + name;
    bool keep = ours(dst.st_ino, name);
    struct stat st;
    if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) throw_sys("stat", path);
    if (S_ISDIR(st.st_mode)) {
      prune_lower(open_at(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, path).get(), path);
      if (!keep && ::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOTEMPTY) throw_sys("rmdir", path);
    } else if (!keep && ::unlinkat(dirfd, name.c_str(), 0) != 0) {
      throw_sys("unlink", path);
    }
  }
}

// Directory modes and times, deepest first (reverse order puts "a/b" before "a"), so that a
// read-only parent cannot stop an unprivileged run from reaching its children.
void Extractor::finish() {
  for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
    const auto& [rel, m] = *it;
    // Gone or replaced by a non-directory since (a later entry or whiteout): nothing to do.
    UniqueFd fd(resolve(rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW));
    if (!fd) continue;
    if (::fchmod(fd.get(), m.perm) != 0) throw_sys("chmod", rel);
    if (::futimens(fd.get(), m.times) != 0) throw_sys("utimensat", rel);
  }
}

}  // namespace

// Runs `fn`, prefixing "extract layer: " to an Error it throws. Failures of the input (the
// caller's ReadFn, the decompressor) pass unchanged, keeping their type.
template <typename F>
void in_context(const TarSource& src, F fn) {
  try {
    fn();
  } catch (const Error& e) {
    if (src.error) throw;
    throw Error(std::string("extract layer: ") + e.what());
  }
}

ExtractResult extract_layer(const std::string& dest_dir, const ReadFn& read, const ExtractOptions& opts) {
  Utf8Locale locale;
  TarSource src(read);
  Extractor extractor(dest_dir, opts, src);
  std::unique_ptr<archive, ArchiveFree> a(archive_read_new());
  if (!a) throw Error("extract layer: out of memory");
  archive_read_support_format_tar(a.get());
  archive_read_support_format_empty(a.get());
  in_context(src, [&] { src.check(a.get(), archive_read_open(a.get(), &src, nullptr, &TarSource::read, nullptr)); });

  ExtractResult result;
  for (;;) {
    archive_entry* e;
    int r = archive_read_next_header(a.get(), &e);
    if (r == ARCHIVE_EOF) break;
    in_context(src, [&] { src.check(a.get(), r); });
    const char* raw = archive_entry_pathname(e);
    if (!raw) throw Error("extract layer: an entry's name cannot be read");
    std::string name = raw;
    ++result.entries;
    try {
      extractor.extract(a.get(), e, name);
    } catch (const Error& err) {
      if (src.error) throw;
      throw Error("extract layer entry \"" + name + "\": " + err.what());
    }
  }
  // Past the end marker: the tar's padding and anything after it belong to the diff_id, and the
  // compressed input is read to its end for the caller's digest.
  while (!src.next().empty()) {
  }
  src.dec.drain_input();
  in_context(src, [&] { extractor.finish(); });
  result.diff_id = src.hasher.digest();
  result.uncompressed_size = src.size;
  return result;
}

}  // namespace hoist::image
