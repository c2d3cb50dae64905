// Whole directory trees: archive_directory (tree -> deterministic tar) and copy_tree (the copy
// snapshotter). Both walk with directory fds and *at() calls and open nothing without
// O_NOFOLLOW, so a tree changing under them (a running container's rootfs) cannot lead them out.
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <exception>
#include <limits>
#include <map>

#include "common/error.h"
#include "common/file.h"
#include "image/layer_internal.h"

namespace hoist::image {
namespace {

using namespace layer_detail;

Meta meta_of(const struct stat& st, std::vector<Xattr> xattrs) {
  Meta m;
  m.uid = st.st_uid;
  m.gid = st.st_gid;
  m.perm = st.st_mode & 07777;
  m.times[0] = st.st_atim;
  m.times[1] = st.st_mtim;
  m.xattrs = std::move(xattrs);
  return m;
}

using InodeKey = std::pair<dev_t, ino_t>;

// ---- archive_directory ----

bool is_overlay_xattr(std::string_view name) {
  return name.starts_with("trusted.overlay.") || name.starts_with("user.overlay.");
}

struct ArchiveWriteFree {
  void operator()(archive* a) const { archive_write_free(a); }
};
struct EntryFree {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};
using EntryPtr = std::unique_ptr<archive_entry, EntryFree>;

}  // namespace

namespace layer_detail {

struct TarBuilder::Impl {
  Impl(const WriteFn& write, const TarBuilderOptions& opts) : write_(write), opts_(opts), a_(archive_write_new()) {
    if (!a_) throw Error("archive: out of memory");
    // pax: ustar headers, with pax records where ustar falls short (long names, xattrs,
    // sub-second mtimes).
    archive_write_set_format_pax(a_.get());
    archive_write_add_filter_none(a_.get());
    // Large blocks for few callbacks, no padding after the end marker (as Go's archive/tar).
    archive_write_set_bytes_per_block(a_.get(), static_cast<int>(kBufSize));
    archive_write_set_bytes_in_last_block(a_.get(), 1);
    check(archive_write_open(a_.get(), this, nullptr, &Impl::write_cb, nullptr));
  }

  // After a failure, libarchive's close (in archive_write_free) would flush the rest of the
  // stream: drop it rather than hand a caller who got an exception more bytes.
  ~Impl() {
    dropping_ = true;
    a_.reset();
  }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  Digest finish() {
    check(archive_write_close(a_.get()));
    return opts_.hash ? hasher_.digest() : Digest{};
  }

  static la_ssize_t write_cb(struct archive* a, void* self, const void* buf, std::size_t len) {
    auto* t = static_cast<Impl*>(self);
    if (t->dropping_ || t->error_) return static_cast<la_ssize_t>(len);
    try {
      if (t->opts_.hash) t->hasher_.update(buf, len);
      t->bytes_ += static_cast<std::int64_t>(len);
      t->write_(static_cast<const char*>(buf), len);
      return static_cast<la_ssize_t>(len);
    } catch (...) {
      t->error_ = std::current_exception();
      archive_set_error(a, EIO, "writing the archive failed");
      return -1;
    }
  }

  void check(int r) const {
    if (r >= ARCHIVE_WARN) return;
    if (error_) std::rethrow_exception(error_);
    const char* msg = archive_error_string(a_.get());
    throw Error(std::string("archive: ") + (msg ? msg : "unknown error"));
  }

  // The children of a directory, sorted by name, depth first: a deterministic order.
  void walk(int dirfd, const std::string& prefix) {
    for (const std::string& name : list_dir(dirfd, prefix.empty() ? "." : prefix))
      add(dirfd, name, join(prefix, name), true);
  }

  EntryPtr entry_for(const std::string& rel, const struct stat& st) {
    EntryPtr e(archive_entry_new());
    archive_entry_set_pathname(e.get(), rel.c_str());
    archive_entry_set_filetype(e.get(), st.st_mode & S_IFMT);
    archive_entry_set_perm(e.get(), st.st_mode & 07777);
    archive_entry_set_uid(e.get(), st.st_uid);
    archive_entry_set_gid(e.get(), st.st_gid);
    // mtime only: atime and ctime would make the same tree archive differently.
    archive_entry_set_mtime(e.get(), st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    return e;
  }

  // Adds the xattrs that go into a layer to `e`; returns them.
  std::vector<Xattr> add_xattrs(archive_entry* e, const std::vector<Xattr>& xattrs) {
    std::vector<Xattr> kept;
    for (const Xattr& x : xattrs) {
      if (is_overlay_xattr(x.name) || x.name.starts_with("system.")) continue;
      archive_entry_xattr_add_entry(e, x.name.c_str(), x.value.data(), x.value.size());
      if (opts_.mirror) kept.push_back(x);
    }
    return kept;
  }

  void write_header(archive_entry* e) {
    check(archive_write_header(a_.get(), e));
    ++entries_;
  }

  // An empty regular file: the tar form of overlayfs whiteouts.
  void write_marker(const std::string& rel, const struct stat& st, mode_t perm) {
    EntryPtr e = entry_for(rel, st);
    archive_entry_set_filetype(e.get(), AE_IFREG);
    archive_entry_set_perm(e.get(), perm);
    archive_entry_set_size(e.get(), 0);
    write_header(e.get());
  }

  void add_whiteout(const std::string& rel, const struct stat& st) {
    std::size_t slash = rel.rfind('/');
    // slash == npos: npos + 1 == 0, the whole name.
    write_marker(rel.substr(0, slash + 1) + ".wh." + rel.substr(slash + 1), st, 0600);
    if (opts_.mirror) opts_.mirror->whiteout(rel, st);
  }

  void add(int dirfd, const std::string& name, const std::string& rel, bool recurse) {
    struct stat st;
    if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) throw_sys("stat", rel);
    if (S_ISDIR(st.st_mode)) return add_dir(dirfd, name, rel, recurse);
    if (S_ISSOCK(st.st_mode)) return;  // tar has no sockets
    // An overlayfs whiteout: ".wh.NAME", as Docker writes it.
    if (S_ISCHR(st.st_mode) && st.st_rdev == 0) return add_whiteout(rel, st);
    EntryPtr e = entry_for(rel, st);
    if (st.st_nlink > 1) {
      auto [it, first] = links_.try_emplace(InodeKey{st.st_dev, st.st_ino}, rel);
      if (!first) {
        archive_entry_set_hardlink(e.get(), it->second.c_str());
        archive_entry_set_size(e.get(), 0);
        write_header(e.get());
        if (opts_.mirror) opts_.mirror->begin(rel, st, {}, "", it->second, false);
        return;
      }
    }
    if (S_ISREG(st.st_mode)) return add_file(dirfd, name, rel, e.get());
    std::string target;
    if (S_ISLNK(st.st_mode)) {
      target.resize(PATH_MAX);
      ssize_t n = ::readlinkat(dirfd, name.c_str(), target.data(), target.size());
      if (n < 0) throw_sys("readlink", rel);
      target.resize(static_cast<std::size_t>(n));
      archive_entry_set_symlink(e.get(), target.c_str());
    } else {
      archive_entry_set_rdev(e.get(), st.st_rdev);
    }
    UniqueFd node = open_at(dirfd, name, O_PATH | O_NOFOLLOW, rel);
    std::vector<Xattr> kept = add_xattrs(e.get(), read_xattrs(node.get(), true, rel));
    write_header(e.get());
    if (opts_.mirror) opts_.mirror->begin(rel, st, kept, target, "", false);
  }

  void add_dir(int dirfd, const std::string& name, const std::string& rel, bool recurse) {
    UniqueFd fd = open_at(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, rel);
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) throw_sys("stat", rel);
    EntryPtr e = entry_for(rel, st);
    std::vector<Xattr> xattrs = read_xattrs(fd.get(), false, rel);
    std::vector<Xattr> kept = add_xattrs(e.get(), xattrs);
    write_header(e.get());
    // An overlayfs opaque directory: the marker comes right after it, before its contents.
    bool opaque = false;
    for (const Xattr& x : xattrs) {
      if ((x.name == "trusted.overlay.opaque" || x.name == "user.overlay.opaque") && x.value == "y") {
        write_marker(rel + "/.wh..wh..opq", st, st.st_mode & 0777);
        opaque = true;
        break;
      }
    }
    if (opts_.mirror) opts_.mirror->begin(rel, st, kept, "", "", opaque);
    if (recurse) walk(fd.get(), rel);
  }

  void add_file(int dirfd, const std::string& name, const std::string& rel, archive_entry* e) {
    // O_NONBLOCK: should it have become a fifo meanwhile, opening must not hang.
    UniqueFd fd = open_at(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK, rel);
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) throw_sys("stat", rel);
    if (!S_ISREG(st.st_mode)) throw Error("archive " + rel + ": changed while being read");
    archive_entry_set_size(e, st.st_size);
    std::vector<Xattr> kept = add_xattrs(e, read_xattrs(fd.get(), false, rel));
    write_header(e);
    if (opts_.mirror) opts_.mirror->begin(rel, st, kept, "", "", false);
    // The header promised st_size bytes: exactly that many follow.
    if (!buf_) buf_ = std::make_unique_for_overwrite<char[]>(kBufSize);
    for (off_t left = st.st_size; left > 0;) {
      ssize_t n = ::read(fd.get(), buf_.get(), static_cast<std::size_t>(std::min<off_t>(left, kBufSize)));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw_sys("read", rel);
      if (n == 0) throw Error("archive " + rel + ": file shrank while being read");
      la_ssize_t w = archive_write_data(a_.get(), buf_.get(), static_cast<std::size_t>(n));
      if (w < 0) check(ARCHIVE_FATAL);
      if (opts_.mirror) opts_.mirror->data(buf_.get(), static_cast<std::size_t>(n));
      left -= n;
    }
    if (opts_.mirror) opts_.mirror->end();
  }

  const WriteFn& write_;
  TarBuilderOptions opts_;
  std::unique_ptr<struct archive, ArchiveWriteFree> a_;
  Hasher hasher_;
  std::exception_ptr error_;
  bool dropping_ = false;
  std::int64_t entries_ = 0, bytes_ = 0;
  std::map<InodeKey, std::string> links_;  // first path of each multiply-linked inode
  std::unique_ptr<char[]> buf_;
};

TarBuilder::TarBuilder(const WriteFn& write, const TarBuilderOptions& opts)
    : impl_(std::make_unique<Impl>(write, opts)) {}
TarBuilder::~TarBuilder() = default;
void TarBuilder::add(int dirfd, const std::string& name, const std::string& rel, bool recurse) {
  impl_->add(dirfd, name, rel, recurse);
}
void TarBuilder::add_children(int dirfd, const std::string& prefix) { impl_->walk(dirfd, prefix); }
void TarBuilder::add_whiteout(const std::string& rel, const struct stat& st) { impl_->add_whiteout(rel, st); }
Digest TarBuilder::finish() { return impl_->finish(); }
std::int64_t TarBuilder::entries() const { return impl_->entries_; }
std::int64_t TarBuilder::bytes() const { return impl_->bytes_; }

}  // namespace layer_detail

namespace {

// ---- copy_tree ----

class TreeCopier {
 public:
  TreeCopier(const std::string& src, const std::string& dst) : src_(src), dst_(dst) {}

  void copy() {
    UniqueFd sfd = open_file(src_, O_RDONLY | O_DIRECTORY);
    if (::mkdir(dst_.c_str(), 0700) != 0 && errno != EEXIST) throw_sys("mkdir", dst_);
    dst_root_ = open_file(dst_, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    copy_dir(sfd.get(), dst_root_.get(), "");
  }

 private:
  std::string src_path(const std::string& rel) const { return rel.empty() ? src_ : src_ + "/" + rel; }
  std::string dst_path(const std::string& rel) const { return rel.empty() ? dst_ : dst_ + "/" + rel; }

  // Contents first, then the directory's own metadata (creating entries changes its times).
  void copy_dir(int sfd, int dfd, const std::string& rel) {
    for (const std::string& name : list_dir(sfd, src_path(rel))) copy_entry(sfd, dfd, name, join(rel, name));
    struct stat st;
    if (::fstat(sfd, &st) != 0) throw_sys("stat", src_path(rel));
    apply_meta_fd(dfd, meta_of(st, read_xattrs(sfd, false, src_path(rel))), true, dst_path(rel));
  }

  void copy_entry(int sdir, int ddir, const std::string& name, const std::string& rel) {
    struct stat st;
    if (::fstatat(sdir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) throw_sys("stat", src_path(rel));
    const char* n = name.c_str();
    if (S_ISDIR(st.st_mode)) {
      UniqueFd sfd = open_at(sdir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, src_path(rel));
      if (::mkdirat(ddir, n, 0700) != 0 && errno != EEXIST) throw_sys("mkdir", dst_path(rel));
      UniqueFd dfd = open_at(ddir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, dst_path(rel));
      return copy_dir(sfd.get(), dfd.get(), rel);
    }
    if (st.st_nlink > 1) {
      auto [it, first] = links_.try_emplace(InodeKey{st.st_dev, st.st_ino}, rel);
      // The first path lies below dst_root_ in directories this copy made, none a symlink.
      if (!first) {
        if (::linkat(dst_root_.get(), it->second.c_str(), ddir, n, 0) != 0) throw_sys("link", dst_path(rel));
        return;
      }
    }
    if (S_ISREG(st.st_mode)) return copy_file(sdir, ddir, name, rel);
    Meta m = meta_of(st, {});
    if (S_ISLNK(st.st_mode)) {
      std::string target(PATH_MAX, '\0');
      ssize_t len = ::readlinkat(sdir, n, target.data(), target.size());
      if (len < 0) throw_sys("readlink", src_path(rel));
      target.resize(static_cast<std::size_t>(len));
      if (::symlinkat(target.c_str(), ddir, n) != 0) throw_sys("symlink", dst_path(rel));
    } else if (::mknodat(ddir, n, (st.st_mode & S_IFMT) | 0600, st.st_rdev) != 0) {
      throw_sys("mknod", dst_path(rel));
    }
    UniqueFd node = open_at(sdir, name, O_PATH | O_NOFOLLOW, src_path(rel));
    m.xattrs = read_xattrs(node.get(), true, src_path(rel));
    apply_meta_at(ddir, name, m, true, S_ISLNK(st.st_mode), dst_path(rel));
  }

  void copy_file(int sdir, int ddir, const std::string& name, const std::string& rel) {
    UniqueFd in = open_at(sdir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK, src_path(rel));
    struct stat st;
    if (::fstat(in.get(), &st) != 0) throw_sys("stat", src_path(rel));
    if (!S_ISREG(st.st_mode)) throw Error("copy " + src_path(rel) + ": changed while being copied");
    UniqueFd out(::openat(ddir, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!out) throw_sys("create", dst_path(rel));
    copy_data(in.get(), out.get(), rel);
    apply_meta_fd(out.get(), meta_of(st, read_xattrs(in.get(), false, src_path(rel))), true, dst_path(rel));
  }

  void copy_data(int in, int out, const std::string& rel) {
    hoist::copy_data(in, out, std::numeric_limits<std::int64_t>::max(), src_path(rel), dst_path(rel));
  }

  std::string src_, dst_;
  UniqueFd dst_root_;
  std::map<InodeKey, std::string> links_;  // first copied path of each multiply-linked inode
};

}  // namespace

Digest archive_directory(const std::string& dir, const WriteFn& write) {
  Utf8Locale locale;
  UniqueFd root = open_file(dir, O_RDONLY | O_DIRECTORY);
  TarBuilder tar(write);
  tar.add_children(root.get(), "");
  return tar.finish();
}

void copy_tree(const std::string& src, const std::string& dst) { TreeCopier(src, dst).copy(); }

}  // namespace hoist::image
