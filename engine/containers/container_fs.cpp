// The container's file system view for docker cp and the archive API (see container_fs.h). The
// tar is read and written by libarchive; the file system side reuses the image layer code's
// fd-relative helpers (image/layer_internal.h: metadata, xattrs, directory listing, rm -rf that
// never follows a symlink).
#include "engine/containers/container_fs.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <exception>
#include <map>
#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/file.h"
#include "common/strings.h"
#include "image/layer_internal.h"
#include "image/registry_internal.h"

namespace hoist::engine {

using namespace image::layer_detail;

namespace {

constexpr std::string_view kTarError = "Error processing tar file(exit status 1): ";

std::string parent_of(const std::string& logical) {
  std::size_t slash = logical.rfind('/');
  return slash == 0 || slash == std::string::npos ? "/" : logical.substr(0, slash);
}
std::string base_of(const std::string& logical) { return logical.substr(logical.rfind('/') + 1); }
std::string child_of(const std::string& dir, const std::string& name) {
  return dir == "/" ? "/" + name : dir + "/" + name;
}
bool under(const std::string& path, const std::string& dir) {
  return path == dir || dir == "/" || (path.size() > dir.size() && path.starts_with(dir) && path[dir.size()] == '/');
}

// openat2 below `root`: the path cannot leave it (symlinks and ".." resolve as if `root` were
// "/"); magic links are refused. -1 and errno on failure.
int open_beneath(int root, const std::string& rel, int flags) {
  open_how how{};
  how.flags = static_cast<std::uint64_t>(flags | O_CLOEXEC);
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  const char* p = rel.empty() ? "." : rel.c_str();
  for (int attempt = 0;; ++attempt) {
    int fd = static_cast<int>(::syscall(SYS_openat2, root, p, &how, sizeof how));
    // EAGAIN: a rename elsewhere raced with the kernel's ".." checks; it asks for a retry.
    if (fd >= 0 || (errno != EAGAIN && errno != EINTR) || attempt == 64) return fd;
  }
}

// "lstat /d/f/: not a directory": Go's wording of a failed call (dockerd's messages).
[[noreturn]] void go_fail(const std::string& op, const std::string& path, int err) {
  std::string why = std::strerror(err);
  if (!why.empty()) why[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(why[0])));
  throw Error(op + " " + path + ": " + why);
}

std::string read_link(int fd, const std::string& shown) {
  std::string target(PATH_MAX, '\0');
  ssize_t n = ::readlinkat(fd, "", target.data(), target.size());
  if (n < 0) throw_sys("readlink", shown);
  target.resize(static_cast<std::size_t>(n));
  return target;
}

struct ArchiveReadFree {
  void operator()(archive* a) const { archive_read_free(a); }
};
struct ArchiveWriteFree {
  void operator()(archive* a) const { archive_write_free(a); }
};
struct EntryFree {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};
using EntryPtr = std::unique_ptr<archive_entry, EntryFree>;

}  // namespace

std::uint32_t go_file_mode(mode_t mode) {
  std::uint32_t m = mode & 0777;
  switch (mode & S_IFMT) {
    case S_IFDIR: m |= 1u << 31; break;
    case S_IFLNK: m |= 1u << 27; break;
    case S_IFBLK: m |= 1u << 26; break;
    case S_IFCHR: m |= (1u << 26) | (1u << 21); break;
    case S_IFIFO: m |= 1u << 25; break;
    case S_IFSOCK: m |= 1u << 24; break;
    default: break;
  }
  if (mode & S_ISUID) m |= 1u << 23;
  if (mode & S_ISGID) m |= 1u << 22;
  if (mode & S_ISVTX) m |= 1u << 20;
  return m;
}

std::string path_stat_header(const PathStat& s) {
  // Key order as dockerd's struct; nlohmann keeps insertion order only with ordered_json.
  nlohmann::ordered_json j;
  j["name"] = s.name;
  j["size"] = s.size;
  j["mode"] = s.mode;
  j["mtime"] = rfc3339_nano(std::int64_t{s.mtime.tv_sec} * 1000000000 + s.mtime.tv_nsec);
  j["linkTarget"] = s.link_target;
  return image::detail::base64_encode(j.dump());
}

std::vector<ViewMount> view_mounts(const std::vector<volumes::MountPoint>& mounts, const std::string& container_dir) {
  std::vector<ViewMount> out;
  for (const char* f : {"hostname", "hosts", "resolv.conf"}) {
    std::string src = container_dir + "/" + f;
    if (::access(src.c_str(), F_OK) == 0) out.push_back({std::string("/etc/") + f, src, false});
  }
  for (const auto& m : mounts) {
    if (m.type == volumes::MountPoint::Type::Tmpfs || m.source.empty()) continue;  // not reachable: see the header
    std::string dest = go_clean("/" + m.destination);
    std::erase_if(out, [&](const ViewMount& v) { return v.destination == dest; });  // a user bind over /etc/hosts wins
    out.push_back({dest, m.source, m.read_only});
  }
  return out;
}

// ---- the view ----

struct ContainerFs::Mount {
  std::string destination;  // "/" for the rootfs
  UniqueFd owned;           // the source's O_PATH fd (none for the rootfs: borrowed)
  int fd = -1;
  bool dir = true;
  bool read_only = false;
  bool rootfs = false;
};

// A logical (container) path's mount and the rest of the path below the mount's root.
struct ContainerFs::Located {
  const Mount* mount;
  std::string rel;  // "" for the mount's root itself

  // Opens the node (flags as openat2's; O_NOFOLLOW for "the link itself"). -1 and errno.
  int open(int flags) const {
    if (!rel.empty()) return open_beneath(mount->fd, rel, flags);
    if (mount->dir) return open_beneath(mount->fd, "", flags);
    // A file bind's root: reopened through our own fd.
    if ((flags & O_PATH) != 0) return ::fcntl(mount->fd, F_DUPFD_CLOEXEC, 0);
    return ::open(proc_fd_path(mount->fd).c_str(), (flags & ~O_NOFOLLOW) | O_CLOEXEC);
  }
};

struct ContainerFs::Resolved {
  std::string path;  // clean, absolute, no symlink left (as far as it exists)
  bool exists = false;
};

ContainerFs::ContainerFs(int rootfs, bool read_only_root, const std::vector<ViewMount>& mounts)
    : root_(rootfs), read_only_root_(read_only_root) {
  for (const ViewMount& v : mounts) {
    Mount m;
    m.destination = go_clean("/" + v.destination);
    if (m.destination == "/") continue;
    m.owned = UniqueFd(::open(v.source.c_str(), O_PATH | O_CLOEXEC));
    if (!m.owned) continue;  // a bind whose source went away: the rootfs beneath shows
    struct stat st;
    if (::fstat(m.owned.get(), &st) != 0) throw_sys("stat", v.source);
    m.fd = m.owned.get();
    m.dir = S_ISDIR(st.st_mode);
    m.read_only = v.read_only;
    mounts_.push_back(std::move(m));
  }
  Mount r;
  r.destination = "/";
  r.fd = root_;
  r.read_only = read_only_root;
  r.rootfs = true;
  mounts_.push_back(std::move(r));
  // Longest destination first, so the first match is the deepest mount.
  std::stable_sort(mounts_.begin(), mounts_.end(),
                   [](const Mount& a, const Mount& b) { return a.destination.size() > b.destination.size(); });
}

ContainerFs::~ContainerFs() = default;

ContainerFs::Located ContainerFs::locate(const std::string& logical) const {
  for (const Mount& m : mounts_) {
    if (!under(logical, m.destination)) continue;
    std::string rel = logical.size() > m.destination.size() ? logical.substr(m.destination.size()) : "";
    while (!rel.empty() && rel[0] == '/') rel.erase(0, 1);
    return {&m, rel};
  }
  return {&mounts_.back(), logical.substr(1)};  // unreachable: "/" matches every path
}

ContainerFs::Resolved ContainerFs::resolve(const std::string& logical, bool follow_last) const {
  std::vector<std::string> todo;  // components still to walk, the next one last
  auto push_path = [&todo](std::string_view p) {
    std::vector<std::string> parts;
    for (std::size_t pos = 0; pos <= p.size();) {
      std::size_t end = std::min(p.find('/', pos), p.size());
      if (end > pos) parts.emplace_back(p.substr(pos, end - pos));
      pos = end + 1;
    }
    todo.insert(todo.end(), parts.rbegin(), parts.rend());
  };
  push_path(logical);
  std::vector<std::string> parts;
  auto joined = [&parts] {
    std::string out;
    for (const auto& p : parts) out += "/" + p;
    return out.empty() ? std::string("/") : out;
  };
  int links = 0;
  while (!todo.empty()) {
    std::string comp = std::move(todo.back());
    todo.pop_back();
    if (comp == ".") continue;
    if (comp == "..") {
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    parts.push_back(comp);
    std::string p = joined();
    UniqueFd fd(locate(p).open(O_PATH | O_NOFOLLOW));
    if (!fd) {
      if (errno != ENOENT) go_fail("lstat", p, errno);
      // The rest does not exist: it stays as written (Go's FollowSymlinkInScope does the same).
      while (!todo.empty()) {
        std::string c = std::move(todo.back());
        todo.pop_back();
        if (c == "..") {
          if (!parts.empty()) parts.pop_back();
        } else if (c != ".") {
          parts.push_back(c);
        }
      }
      return {joined(), false};
    }
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) throw_sys("lstat", p);
    if (S_ISLNK(st.st_mode) && (!todo.empty() || follow_last)) {
      if (++links > 255) throw SysError("lstat", logical, ELOOP);
      std::string target = read_link(fd.get(), p);
      parts.pop_back();
      if (!target.empty() && target[0] == '/') parts.clear();
      push_path(target);
    }
  }
  return {joined(), true};
}

namespace {

// How the API names a path: Go's filepath.Join("/", path) with a trailing "/" or "/." kept.
struct AskedPath {
  std::string clean;  // "/a/b"
  bool follow = false;  // ends in "/" or "/." (or is the root): the last component is followed
  std::string name;   // the base name dockerd reports
  std::string shown;  // clean with the trailing part, for messages
};

AskedPath asked(const std::string& path) {
  AskedPath a;
  a.clean = go_clean("/" + path);
  std::string base = path.substr(path.rfind('/') == std::string::npos ? 0 : path.rfind('/') + 1);
  bool dot = base == ".";
  bool slash = !path.empty() && path.back() == '/';
  a.shown = a.clean;
  if (dot) a.shown = (a.clean == "/" ? "/" : a.clean + "/") + ".";
  else if (slash && a.clean != "/") a.shown = a.clean + "/";
  a.follow = dot || slash || a.clean == "/";
  a.name = dot ? "." : (a.clean == "/" ? "/" : base_of(a.clean));
  return a;
}

struct Target {
  std::string path;  // resolved logical path of the node
  struct stat st {};
};

}  // namespace

// ---- stat and tar out ----

class CopyOut {
 public:
  CopyOut(const ContainerFs& fs) : fs_(fs) {}

  Target target(const AskedPath& a, const std::string& asked_path) const {
    Target t;
    if (a.follow) {
      ContainerFs::Resolved r = fs_.resolve(a.clean, true);
      if (!r.exists) throw PathNotFound(asked_path);
      t.path = r.path;
    } else {
      ContainerFs::Resolved dir = fs_.resolve(parent_of(a.clean), true);
      if (!dir.exists) throw PathNotFound(asked_path);
      t.path = child_of(dir.path, base_of(a.clean));
    }
    UniqueFd fd(fs_.locate(t.path).open(O_PATH | O_NOFOLLOW));
    if (!fd) {
      if (errno == ENOENT) throw PathNotFound(asked_path);
      go_fail("lstat", a.shown, errno);
    }
    if (::fstat(fd.get(), &t.st) != 0) go_fail("lstat", a.shown, errno);
    if (a.follow && !S_ISDIR(t.st.st_mode)) go_fail("lstat", a.shown, ENOTDIR);
    return t;
  }

  void write(const std::string& name, const Target& t, const image::WriteFn& write) {
    Utf8Locale locale;
    write_ = &write;
    a_.reset(archive_write_new());
    if (!a_) throw Error("archive: out of memory");
    // ustar headers, pax records only where ustar falls short (long names, big ids).
    archive_write_set_format_pax_restricted(a_.get());
    archive_write_add_filter_none(a_.get());
    archive_write_set_bytes_per_block(a_.get(), static_cast<int>(kBufSize));
    archive_write_set_bytes_in_last_block(a_.get(), 1);
    check(archive_write_open(a_.get(), this, nullptr, &CopyOut::write_cb, nullptr));
    add_node(fs_.locate(t.path), t.path, name, &t.st);
    check(archive_write_close(a_.get()));
  }

  ~CopyOut() {
    dropping_ = true;  // a failed stream is not flushed further by archive_write_free
    a_.reset();
  }

 private:
  static la_ssize_t write_cb(struct archive* a, void* self, const void* buf, std::size_t len) {
    auto* c = static_cast<CopyOut*>(self);
    if (c->dropping_ || c->error_) return static_cast<la_ssize_t>(len);
    try {
      (*c->write_)(static_cast<const char*>(buf), len);
      return static_cast<la_ssize_t>(len);
    } catch (...) {
      c->error_ = std::current_exception();
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

  static std::string entry_name(const std::string& top, const std::string& rel) {
    if (rel.empty()) return top;
    return top.back() == '/' ? top + rel : top + "/" + rel;
  }

  // One node (and below it, for a directory). `loc` names it in the view; `st` when known.
  void add_node(const ContainerFs::Located& loc, const std::string& logical, const std::string& name,
                const struct stat* known) {
    struct stat st;
    if (known) {
      st = *known;
    } else {
      UniqueFd fd(loc.open(O_PATH | O_NOFOLLOW));
      if (!fd) {
        if (errno == ENOENT) return;  // gone meanwhile
        throw_sys("lstat", logical);
      }
      if (::fstat(fd.get(), &st) != 0) throw_sys("lstat", logical);
    }
    if (S_ISSOCK(st.st_mode)) return;  // tar has no sockets (dockerd skips them too)
    EntryPtr e = entry_for(name, st);
    if (S_ISDIR(st.st_mode)) {
      UniqueFd dir(loc.open(O_RDONLY | O_DIRECTORY | O_NOFOLLOW));
      if (!dir) {
        if (errno == ENOENT) return;
        throw_sys("open", logical);
      }
      check(archive_write_header(a_.get(), e.get()));
      walk(dir.get(), logical, name);
      return;
    }
    if (as_hardlink(e.get(), st, name)) return;
    if (S_ISREG(st.st_mode)) return add_file(loc, logical, e.get());
    if (S_ISLNK(st.st_mode)) {
      UniqueFd fd(loc.open(O_PATH | O_NOFOLLOW));
      if (!fd) throw_sys("lstat", logical);
      archive_entry_set_symlink(e.get(), read_link(fd.get(), logical).c_str());
    } else {
      archive_entry_set_rdev(e.get(), st.st_rdev);
    }
    check(archive_write_header(a_.get(), e.get()));
  }

  // The children of `dirfd` in byte order (Go's filepath.Walk order). A child that is a mount
  // destination shows the mount's source instead of the directory beneath it.
  void walk(int dirfd, const std::string& logical, const std::string& name) {
    for (const std::string& child : list_dir(dirfd, logical)) {
      std::string clog = child_of(logical, child);
      std::string cname = entry_name(name, child);
      const ContainerFs::Mount* over = nullptr;
      for (const auto& m : fs_.mounts_)
        if (!m.rootfs && m.destination == clog) over = &m;
      if (over) {
        add_node(ContainerFs::Located{over, ""}, clog, cname, nullptr);
        continue;
      }
      struct stat st;
      if (::fstatat(dirfd, child.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) continue;  // removed meanwhile
        throw_sys("lstat", clog);
      }
      if (S_ISDIR(st.st_mode)) {
        UniqueFd sub(::openat(dirfd, child.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!sub) {
          if (errno == ENOENT || errno == ELOOP || errno == ENOTDIR) continue;  // swapped meanwhile
          throw_sys("open", clog);
        }
        EntryPtr e = entry_for(cname, st);
        check(archive_write_header(a_.get(), e.get()));
        walk(sub.get(), clog, cname);
        continue;
      }
      // Everything else through the same code as a top-level node, opened from this directory.
      add_child(dirfd, child, clog, cname, st);
    }
  }

  // A header as dockerd writes it: type, permissions, numeric owner, mtime in whole seconds.
  static EntryPtr entry_for(const std::string& name, const struct stat& st) {
    EntryPtr e(archive_entry_new());
    archive_entry_set_pathname(e.get(), name.c_str());
    archive_entry_set_filetype(e.get(), st.st_mode & S_IFMT);
    archive_entry_set_perm(e.get(), st.st_mode & 07777);
    archive_entry_set_uid(e.get(), st.st_uid);
    archive_entry_set_gid(e.get(), st.st_gid);
    archive_entry_set_mtime(e.get(), st.st_mtim.tv_sec, 0);
    return e;
  }

  // A second name of a multiply-linked inode goes as a hardlink entry to the first one; true then.
  bool as_hardlink(archive_entry* e, const struct stat& st, const std::string& name) {
    if (st.st_nlink < 2) return false;
    auto [it, first] = links_.try_emplace({st.st_dev, st.st_ino}, name);
    if (first) return false;
    archive_entry_set_hardlink(e, it->second.c_str());
    archive_entry_set_size(e, 0);
    check(archive_write_header(a_.get(), e));
    return true;
  }

  void add_child(int dirfd, const std::string& child, const std::string& logical, const std::string& name,
                 const struct stat& st) {
    if (S_ISSOCK(st.st_mode)) return;
    EntryPtr e = entry_for(name, st);
    if (as_hardlink(e.get(), st, name)) return;
    if (S_ISREG(st.st_mode)) {
      // O_NONBLOCK: should it have become a fifo meanwhile, opening must not hang.
      UniqueFd fd(::openat(dirfd, child.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
      if (!fd) {
        if (errno == ENOENT || errno == ELOOP) return;  // swapped meanwhile
        throw_sys("open", logical);
      }
      return add_data(fd.get(), logical, e.get());
    }
    if (S_ISLNK(st.st_mode)) {
      std::string target(PATH_MAX, '\0');
      ssize_t n = ::readlinkat(dirfd, child.c_str(), target.data(), target.size());
      if (n < 0) {
        if (errno == ENOENT || errno == EINVAL) return;
        throw_sys("readlink", logical);
      }
      target.resize(static_cast<std::size_t>(n));
      archive_entry_set_symlink(e.get(), target.c_str());
    } else {
      archive_entry_set_rdev(e.get(), st.st_rdev);
    }
    check(archive_write_header(a_.get(), e.get()));
  }

  void add_file(const ContainerFs::Located& loc, const std::string& logical, archive_entry* e) {
    UniqueFd fd(loc.open(O_RDONLY | O_NOFOLLOW | O_NONBLOCK));
    if (!fd) throw_sys("open", logical);
    add_data(fd.get(), logical, e);
  }

  // The header with the size of the open file, then exactly that many bytes (zeros fill in for
  // a file that shrank meanwhile: libarchive pads the entry).
  void add_data(int fd, const std::string& logical, archive_entry* e) {
    struct stat st;
    if (::fstat(fd, &st) != 0) throw_sys("stat", logical);
    if (!S_ISREG(st.st_mode)) return;  // swapped for something else meanwhile
    archive_entry_set_size(e, st.st_size);
    char cap[256];
    ssize_t cn = ::fgetxattr(fd, "security.capability", cap, sizeof cap);
    if (cn > 0) archive_entry_xattr_add_entry(e, "security.capability", cap, static_cast<std::size_t>(cn));
    check(archive_write_header(a_.get(), e));
    if (!buf_) buf_ = std::make_unique_for_overwrite<char[]>(kBufSize);
    for (off_t left = st.st_size; left > 0;) {
      ssize_t n = ::read(fd, buf_.get(), static_cast<std::size_t>(std::min<off_t>(left, kBufSize)));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw_sys("read", logical);
      if (n == 0) break;
      if (archive_write_data(a_.get(), buf_.get(), static_cast<std::size_t>(n)) < 0) check(ARCHIVE_FATAL);
      left -= n;
    }
  }

  const ContainerFs& fs_;
  const image::WriteFn* write_ = nullptr;
  std::unique_ptr<struct archive, ArchiveWriteFree> a_;
  std::exception_ptr error_;
  bool dropping_ = false;
  std::map<std::pair<dev_t, ino_t>, std::string> links_;
  std::unique_ptr<char[]> buf_;
};

PathStat ContainerFs::stat(const std::string& path) const {
  AskedPath a = asked(path);
  Target t = CopyOut(*this).target(a, path);
  PathStat s;
  s.name = a.name;
  s.size = t.st.st_size;
  s.mode = go_file_mode(t.st.st_mode);
  s.mtime = t.st.st_mtim;
  if (S_ISLNK(t.st.st_mode)) s.link_target = resolve(a.clean, true).path;
  return s;
}

void ContainerFs::archive(const std::string& path, const image::WriteFn& write) const {
  AskedPath a = asked(path);
  CopyOut out(*this);
  Target t = out.target(a, path);
  out.write(a.name, t, write);
}

// ---- tar in ----

// The process's umask, read without changing it (umask(2) would, for every thread).
mode_t process_umask() {
  std::string status;
  try {
    status = read_fd(UniqueFd(::open("/proc/self/status", O_RDONLY | O_CLOEXEC)).get());
  } catch (const Error&) {
    return 0777;  // unknown: every mode is set explicitly
  }
  std::size_t at = status.find("Umask:");
  if (at == std::string::npos) return 0777;
  return static_cast<mode_t>(std::strtoul(status.c_str() + at + 6, nullptr, 8));
}

class CopyIn {
 public:
  CopyIn(const ContainerFs& fs, const CopyInOptions& opts, std::string dest, const image::ReadFn& read)
      : fs_(fs), opts_(opts), dest_(std::move(dest)), read_(read), buf_(std::make_unique_for_overwrite<char[]>(kBufSize)) {}

  void run() {
    Utf8Locale locale;
    std::unique_ptr<archive, ArchiveReadFree> a(archive_read_new());
    if (!a) throw Error("extract: out of memory");
    // dockerd's DecompressStream: gzip, bzip2, xz, zstd or plain. Only these filters: none that
    // would start an external program.
    archive_read_support_filter_gzip(a.get());
    archive_read_support_filter_bzip2(a.get());
    archive_read_support_filter_xz(a.get());
    archive_read_support_filter_zstd(a.get());
    archive_read_support_format_tar(a.get());
    archive_read_support_format_empty(a.get());
    check(a.get(), archive_read_open(a.get(), this, nullptr, &CopyIn::read_cb, nullptr));
    for (;;) {
      archive_entry* e;
      int r = archive_read_next_header(a.get(), &e);
      if (r == ARCHIVE_EOF) break;
      check(a.get(), r);
      const char* raw = archive_entry_pathname(e);
      if (!raw) throw TarApplyError(std::string(kTarError) + "an entry's name cannot be read");
      try {
        entry(a.get(), e, raw);
      } catch (const TarApplyError&) {
        throw;
      } catch (const ReadOnlyPath&) {
        throw;
      } catch (const Error& err) {
        if (error_) std::rethrow_exception(error_);
        throw TarApplyError(std::string(kTarError) + err.what());
      }
    }
    // The rest of the body (the tar's padding): a client may wait until it was read.
    while (read_(buf_.get(), kBufSize) > 0) {
    }
    finish();
  }

 private:
  static la_ssize_t read_cb(archive* a, void* self, const void** buf) {
    auto* c = static_cast<CopyIn*>(self);
    try {
      std::size_t n = c->read_(c->buf_.get(), kBufSize);
      *buf = c->buf_.get();
      return static_cast<la_ssize_t>(n);
    } catch (...) {
      c->error_ = std::current_exception();
      archive_set_error(a, EIO, "reading the archive failed");
      return -1;
    }
  }
  void check(archive* a, int r) const {
    if (r >= ARCHIVE_WARN) return;
    if (error_) std::rethrow_exception(error_);
    const char* msg = archive_error_string(a);
    throw TarApplyError(std::string(kTarError) + (msg ? msg : "unknown error"));
  }

  [[noreturn]] static void fail(const std::string& msg) { throw TarApplyError(std::string(kTarError) + msg); }
  static std::string quoted(const std::string& s) { return nlohmann::json(s).dump(); }

  bool inside_dest(const std::string& p) const {
    return dest_ == "/" || p == dest_ || (p.starts_with(dest_) && p[dest_.size()] == '/');
  }

  // The directory `logical` (made when missing, 0755 owned by root, as dockerd makes parents),
  // opened for *at() calls: an fd kept until the next call. Entries come grouped by directory, so
  // the last one is usually the one asked for.
  int parent_dir(const std::string& logical) {
    if (cached_fd_ && cached_ == logical) return cached_fd_.get();
    ContainerFs::Resolved r = fs_.resolve(logical, true);
    if (!r.exists) {
      // One missing component at a time, each resolved anew in the view.
      std::string made = "/";
      for (std::size_t pos = 1; pos <= logical.size();) {
        std::size_t end = std::min(logical.find('/', pos), logical.size());
        std::string prefix = logical.substr(0, end);
        pos = end + 1;
        ContainerFs::Resolved pr = fs_.resolve(prefix, true);
        if (pr.exists) continue;
        ContainerFs::Located ploc = fs_.locate(parent_of(pr.path));
        writable(ploc, pr.path);
        UniqueFd pfd(ploc.open(O_PATH | O_DIRECTORY));
        if (!pfd) throw_sys("mkdir", pr.path);
        std::string n = base_of(pr.path);
        if (::mkdirat(pfd.get(), n.c_str(), 0755) != 0 && errno != EEXIST) throw_sys("mkdir", pr.path);
        if (::fchownat(pfd.get(), n.c_str(), 0, 0, AT_SYMLINK_NOFOLLOW) != 0) throw_sys("chown", pr.path);
        if (::fchmodat(pfd.get(), n.c_str(), 0755, 0) != 0 && errno != ENOTSUP) throw_sys("chmod", pr.path);
      }
      r = fs_.resolve(logical, true);
    }
    ContainerFs::Located loc = fs_.locate(r.path);
    UniqueFd fd(loc.open(O_PATH | O_DIRECTORY));
    if (!fd) throw_sys("open", r.path);
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) throw_sys("stat", r.path);
    cached_ = logical;
    cached_loc_ = loc.mount;
    cached_fd_ = std::move(fd);
    // What a file made there gets without a chown: our ids, or the directory's group when setgid.
    new_gid_ = (st.st_mode & S_ISGID) ? st.st_gid : ::getegid();
    return cached_fd_.get();
  }

  void writable(const ContainerFs::Located& loc, const std::string& logical) const {
    if (loc.mount->read_only) throw SysError("open", logical, EROFS);
  }

  void entry(archive* a, archive_entry* e, const std::string& raw) {
    std::string name = go_clean(raw);
    std::string joined = go_clean(dest_ + "/" + name);
    if (!inside_dest(joined) || name == ".." || name.starts_with("../"))
      fail(quoted(name) + " is outside of " + quoted(dest_));
    if (joined == dest_) return;  // the "." entry: the destination keeps its own metadata
    std::string parent = parent_of(joined), base = base_of(joined);
    mode_t type = archive_entry_filetype(e);
    const char* hardlink = archive_entry_hardlink(e);
    bool is_dir = !hardlink && type == AE_IFDIR;
    if (is_dir) cached_.clear();  // directories may replace what a cached parent was
    int dir = parent_dir(parent);
    writable(ContainerFs::Located{cached_loc_, ""}, joined);
    Meta m = meta_of(e);
    // The common case first: a new regular file (one create; checks only when something is there).
    if (!hardlink && type == AE_IFREG) {
      UniqueFd fd(::openat(dir, base.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, m.perm & 0777));
      if (fd) return fill_file(a, fd.get(), joined, e, m);
      if (errno != EEXIST) throw_sys("open", joined);
    }

    struct stat have;
    bool exists = ::fstatat(dir, base.c_str(), &have, AT_SYMLINK_NOFOLLOW) == 0;
    if (exists && opts_.no_overwrite_dir_non_dir) {
      if (S_ISDIR(have.st_mode) && !is_dir)
        fail("cannot overwrite directory " + quoted(joined) + " with non-directory " + quoted(dest_));
      if (!S_ISDIR(have.st_mode) && is_dir)
        fail("cannot overwrite non-directory " + quoted(joined) + " with directory " + quoted(dest_));
    }
    if (is_dir) {
      if (exists && !S_ISDIR(have.st_mode)) remove_all_at(dir, base, joined);
      if (::mkdirat(dir, base.c_str(), 0700) != 0 && errno != EEXIST) throw_sys("mkdir", joined);
      UniqueFd fd(::openat(dir, base.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!fd) throw_sys("open", joined);
      if (::fchown(fd.get(), m.uid, m.gid) != 0) throw_sys("chown", joined);
      if (::fchmod(fd.get(), m.perm) != 0) throw_sys("chmod", joined);
      for (const Xattr& x : m.xattrs) write_xattr(fd.get(), false, x, joined);
      dirs_.emplace_back(joined, DirTimes{{m.times[0], m.times[1]}});
      return;
    }
    if (hardlink) return make_hardlink(dir, base, joined, hardlink, exists);
    if (exists) {
      remove_all_at(dir, base, joined);
      if (S_ISDIR(have.st_mode)) cached_.clear();
    }
    switch (type) {
      case AE_IFREG:
        return make_file(a, dir, base, joined, e, m);
      case AE_IFLNK: {
        const char* target = archive_entry_symlink(e);
        if (!target) fail("symlink without a target: " + quoted(joined));
        // dockerd's rule: a relative target may not climb out of the destination.
        std::string t = go_clean(parent + "/" + target);
        if (!t.starts_with(dest_)) fail("invalid symlink " + quoted(joined) + " -> " + quoted(target));
        if (::symlinkat(target, dir, base.c_str()) != 0) throw_sys("symlink", joined);
        return apply_meta_at(dir, base, m, true, true, joined);
      }
      case AE_IFCHR:
      case AE_IFBLK:
      case AE_IFIFO:
        if (::mknodat(dir, base.c_str(), type | 0600, archive_entry_rdev(e)) != 0) throw_sys("mknod", joined);
        return apply_meta_at(dir, base, m, true, false, joined);
      default:
        fail("unhandled tar header type " + std::to_string(type >> 12) + " for " + quoted(raw_name(e)));
    }
  }

  static std::string raw_name(archive_entry* e) {
    const char* n = archive_entry_pathname(e);
    return n ? n : "";
  }

  Meta meta_of(archive_entry* e) const {
    Meta m;
    m.uid = opts_.owner ? opts_.owner->first : static_cast<uid_t>(archive_entry_uid(e));
    m.gid = opts_.owner ? opts_.owner->second : static_cast<gid_t>(archive_entry_gid(e));
    m.perm = archive_entry_perm(e) & 07777;
    m.times[1] = {archive_entry_mtime(e), archive_entry_mtime_nsec(e)};
    m.times[0] =
        archive_entry_atime_is_set(e) ? timespec{archive_entry_atime(e), archive_entry_atime_nsec(e)} : m.times[1];
    archive_entry_xattr_reset(e);
    const char* name;
    const void* value;
    std::size_t size;
    while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
      std::string_view n = name;
      if (n.starts_with("trusted.overlay.") || n.starts_with("user.overlay.")) continue;
      if (n.starts_with("user.") || n.starts_with("trusted.") || n.starts_with("security."))
        m.xattrs.push_back({name, std::string(static_cast<const char*>(value), size)});
    }
    return m;
  }

  void make_file(archive* a, int dir, const std::string& base, const std::string& joined, archive_entry* e,
                 const Meta& m) {
    // O_EXCL + O_NOFOLLOW: a new inode, never written through a planted symlink.
    UniqueFd fd(::openat(dir, base.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, m.perm & 0777));
    if (!fd) throw_sys("open", joined);
    fill_file(a, fd.get(), joined, e, m);
  }

  // The data of the entry into the new file `fd` (made with mode perm & 0777), then its owner,
  // mode, xattrs and times; the calls that would change nothing are left out.
  void fill_file(archive* a, int fd, const std::string& joined, archive_entry* e, const Meta& m) {
    const void* buf;
    std::size_t len;
    la_int64_t off;
    std::int64_t end = 0;
    if (opts_.file_data) {
      // A write drops security.capability and, without CAP_FSETID, setuid/setgid: such a file's
      // data is written before its metadata, never later.
      bool now = !m.xattrs.empty() || (m.perm & 06000) != 0;
      opts_.file_data(fd, joined, now ? nullptr : m.times);
    } else {
      for (;;) {
        int r = archive_read_data_block(a, &buf, &len, &off);
        if (r == ARCHIVE_EOF) break;
        check(a, r);
        for (std::size_t done = 0; done < len;) {
          ssize_t n = ::pwrite(fd, static_cast<const char*>(buf) + done, len - done, off + static_cast<off_t>(done));
          if (n < 0 && errno == EINTR) continue;
          if (n < 0) throw_sys("write", joined);
          done += static_cast<std::size_t>(n);
        }
        end = std::max<std::int64_t>(end, off + static_cast<std::int64_t>(len));
      }
      if (archive_entry_size(e) > end && ::ftruncate(fd, archive_entry_size(e)) != 0) throw_sys("truncate", joined);
    }
    bool chown = m.uid != ::geteuid() || m.gid != new_gid_;
    if (chown && ::fchown(fd, m.uid, m.gid) != 0) throw_sys("chown", joined);
    // The create applied the umask; a chown cleared setuid/setgid.
    if ((m.perm & ~0777) != 0 || (m.perm & umask_) != 0 || chown) {
      if (::fchmod(fd, m.perm) != 0) throw_sys("chmod", joined);
    }
    for (const Xattr& x : m.xattrs) write_xattr(fd, false, x, joined);
    if (::futimens(fd, m.times) != 0) throw_sys("utimensat", joined);
  }

  // dockerd's rule: the target is a path below the destination, resolved there in the view.
  void make_hardlink(int dir, const std::string& base, const std::string& joined, const char* target, bool exists) {
    std::string t = go_clean(dest_ + "/" + target);
    if (!t.starts_with(dest_)) fail("invalid hardlink " + quoted(t) + " -> " + quoted(target));
    ContainerFs::Resolved tp = fs_.resolve(parent_of(t), true);
    ContainerFs::Located tloc = fs_.locate(tp.path);
    UniqueFd tdir(tloc.open(O_PATH | O_DIRECTORY));
    if (!tdir) throw_sys("link", t);
    std::string tname = base_of(t);
    struct stat have, want;
    if (exists && ::fstatat(dir, base.c_str(), &have, AT_SYMLINK_NOFOLLOW) == 0 &&
        ::fstatat(tdir.get(), tname.c_str(), &want, AT_SYMLINK_NOFOLLOW) == 0 && have.st_ino == want.st_ino &&
        have.st_dev == want.st_dev)
      return;
    if (exists) remove_all_at(dir, base, joined);
    if (::linkat(tdir.get(), tname.c_str(), dir, base.c_str(), 0) != 0) throw_sys("link " + t + " to", joined);
  }

  // Directory times last, deepest first: filling a directory changes its times.
  void finish() {
    for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
      UniqueFd fd(fs_.locate(it->first).open(O_RDONLY | O_DIRECTORY | O_NOFOLLOW));
      if (!fd) continue;  // replaced by a later entry
      if (::futimens(fd.get(), it->second.t) != 0) throw_sys("utimensat", it->first);
    }
  }

  struct DirTimes {
    timespec t[2];
  };
  const ContainerFs& fs_;
  const CopyInOptions& opts_;
  std::string dest_;
  const image::ReadFn& read_;
  std::unique_ptr<char[]> buf_;
  std::exception_ptr error_;
  std::vector<std::pair<std::string, DirTimes>> dirs_;
  std::string cached_;  // the last parent directory opened, and its fd
  UniqueFd cached_fd_;
  const ContainerFs::Mount* cached_loc_ = nullptr;
  gid_t new_gid_ = 0;          // the group a file made in the cached directory gets
  mode_t umask_ = process_umask();
};

void ContainerFs::extract(const std::string& path, const image::ReadFn& read, const CopyInOptions& opts) const {
  std::string clean = go_clean("/" + path);
  Resolved dest = resolve(clean, true);
  if (!dest.exists) throw PathNotFound(path);
  Located loc = locate(dest.path);
  UniqueFd fd(loc.open(O_PATH));
  if (!fd) {
    if (errno == ENOENT) throw PathNotFound(path);
    throw_sys("lstat", clean);
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) throw_sys("lstat", clean);
  if (!S_ISDIR(st.st_mode)) throw InvalidArgument("extraction point is not a directory");
  if (loc.mount->read_only)
    throw ReadOnlyPath(loc.mount->rootfs ? "container rootfs is marked read-only" : "mounted volume is marked read-only");
  CopyIn(*this, opts, dest.path, read).run();
}

}  // namespace hoist::engine
