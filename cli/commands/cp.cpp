// `hoist cp`: files between a container and the local file system, with docker's path rules
// (its archive.CopyInfo logic: a trailing "/." copies a directory's contents, a directory into an
// existing directory lands inside it, a missing destination takes the source's place under its
// name, "-" streams a tar) over the archive API: HEAD for the stat, GET for a tar out, PUT for a tar
// in. The tar on this side is written and read with libarchive (cli/archive_lib.h, loaded here
// only), every local entry created under an fd of the destination directory with openat2
// (RESOLVE_IN_ROOT), so a tar from the daemon cannot write outside it.
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <csignal>
#include <optional>
#include <cstring>
#include <dirent.h>
#include <exception>
#include <fstream>
#include <map>
#include <memory>
#include <thread>

#include "cli/archive_lib.h"
#include "cli/commands/commands.h"
#include "cli/format.h"
#include "common/error.h"
#include "common/file.h"
#include "common/strings.h"

namespace hoist::cli {

const Command kCpCommand = {
    .use = "[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\thoist cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
    .summary = "Copy files/folders between a container and the local filesystem",
    .description = "Copy files/folders between a container and the local filesystem\n\n"
                   "Use '-' as the source to read a tar archive from stdin\n"
                   "and extract it to a directory destination in a container.\n"
                   "Use '-' as the destination to stream a tar archive of a\n"
                   "container source to stdout.",
    .aliases = {"container cp", "cp"},
    .flags = {{"archive", 'a', "", "Archive mode (copy all uid/gid information)"},
              {"follow-link", 'L', "", "Always follow symbol link in SRC_PATH"},
              {"quiet", 'q', "",
               "Suppress progress output during copy. Progress output is automatically suppressed if no terminal "
               "is attached"}},
    .min_args = 2,
    .max_args = 2};

namespace {

constexpr std::size_t kBuf = 1 << 20;

// ---- Go's path/filepath and docker's archive path helpers, for slash paths ----

std::string clean(std::string_view p) { return go_clean(p); }  // filepath.Clean
std::string base(const std::string& p) {  // filepath.Base
  std::string s = p;
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  if (s.empty()) return ".";
  if (s == "/") return "/";
  return s.substr(s.rfind('/') + 1);
}
std::string dir(const std::string& p) {  // filepath.Dir
  std::size_t s = p.rfind('/');
  return clean(s == std::string::npos ? "." : p.substr(0, s + 1));
}
bool trailing_sep(const std::string& p) { return !p.empty() && p.back() == '/'; }
bool current_dir(const std::string& p) { return base(p) == "."; }
std::string join(const std::string& a, const std::string& b) { return clean(a + "/" + b); }
// archive.PreserveTrailingDotOrSeparator
std::string preserve(std::string cleaned, const std::string& original) {
  if (!current_dir(cleaned) && current_dir(original)) {
    if (!trailing_sep(cleaned)) cleaned += '/';
    cleaned += '.';
  }
  if (!trailing_sep(cleaned) && trailing_sep(original)) cleaned += '/';
  return cleaned;
}
// archive.SplitPathDirEntry
std::pair<std::string, std::string> split_dir_entry(const std::string& p) {
  std::string c = clean(p);
  if (current_dir(p)) c += "/.";
  return {dir(c), base(c)};
}
// strings.Replace(s, old, new, 1), with docker's rule that an old base "/" is "".
std::string rebase(const std::string& s, std::string old_base, const std::string& new_base) {
  if (old_base == "/") old_base.clear();
  std::size_t at = s.find(old_base);
  if (at == std::string::npos) return s;
  return s.substr(0, at) + new_base + s.substr(at + old_base.size());
}
std::string cwd() {
  char buf[PATH_MAX];
  if (!::getcwd(buf, sizeof buf)) throw_sys("getcwd");
  return buf;
}
// resolveLocalPath: absolute, the trailing "/" or "/." kept.
std::string local_abs(const std::string& p) {
  return preserve(clean(p.starts_with('/') ? p : cwd() + "/" + p), p);
}
std::string go_errno(int err) {
  std::string s = std::strerror(err);
  if (!s.empty()) s[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[0])));
  return s;
}
// filepath.EvalSymlinks (the path must exist).
std::string eval_symlinks(const std::string& p) {
  char buf[PATH_MAX];
  if (!::realpath(p.c_str(), buf)) throw Error("lstat " + clean(p) + ": " + go_errno(errno));
  return buf;
}

struct CopyInfo {
  std::string path;
  bool exists = false, is_dir = false;
  std::string rebase_name;
};

// Go's FileMode bits that cp looks at.
constexpr std::uint32_t kModeDir = 1u << 31, kModeSymlink = 1u << 27;
constexpr std::uint32_t kModeIrregular = (1u << 26) | (1u << 25) | (1u << 24) | (1u << 21) | (1u << 19);

struct RemoteStat {
  std::string name, link_target;
  std::uint32_t mode = 0;
};

std::string url_path(const std::string& container, const std::string& path) {
  return "/containers/" + url_escape(container) + "/archive?path=" + url_escape(path);
}

std::optional<std::string> b64_decode(std::string_view in) {
  static const std::string chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  unsigned v = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') break;
    auto i = chars.find(c);
    if (i == std::string::npos) return std::nullopt;
    v = (v << 6) | static_cast<unsigned>(i);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((v >> bits) & 0xff);
    }
  }
  return out;
}

RemoteStat parse_stat(const std::string& header) {
  RemoteStat st;
  auto text = b64_decode(header);
  json j = text ? json::parse(*text, nullptr, false) : json();
  if (!j.is_object()) throw Error("unable to decode container path stat header");
  st.name = j.value("name", "");
  st.link_target = j.value("linkTarget", "");
  st.mode = j.value("mode", 0u);
  return st;
}

// HEAD: the path's stat, or the daemon's error (an ApiError with dockerd's message, which a HEAD
// answer has no body for: docker's client words it from the status).
RemoteStat stat_path(Ctx& ctx, const std::string& container, const std::string& path) {
  Response r = ctx.c().request("HEAD", url_path(container, path), "", {}, true);
  if (r.status == 404) throw ApiError(404, "Could not find the file " + path + " in container " + container);
  if (r.status >= 400) throw ApiError(r.status, "unexpected status " + std::to_string(r.status));
  return parse_stat(r.headers["x-docker-container-path-stat"]);
}

// ---- local tar writing ----

class TarWriter {
 public:
  // Writes to `send` (the request body of the upload).
  explicit TarWriter(const Client::BodySink& send)
      : lib_(archive_lib()), w_(send, kBuf) {}
  TarWriter(const TarWriter&) = delete;
  TarWriter& operator=(const TarWriter&) = delete;

  // The tree at `path` (not followed when a symlink), its entries named from `top`, each name
  // rebased (old base → new base) as docker's RebaseArchiveEntries.
  void add_tree(const std::string& path, const std::string& top, const std::string& old_base,
                const std::string& new_base) {
    old_ = old_base;
    new_ = new_base;
    rebase_ = !(old_base.empty() && new_base.empty());
    std::string parent = dir(path), name = base(path);
    if (current_dir(path)) {
      parent = clean(path);
      name = ".";
    }
    UniqueFd pfd(::open(parent.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!pfd) throw_sys("open", parent);
    add(pfd.get(), name, top, path);
    w_.check(lib_.archive_write_close(w_.get()));
  }
  std::int64_t bytes() const { return w_.bytes(); }
  // The daemon stopped reading (its answer says why).
  bool closed() const { return w_.closed(); }

 private:

  std::string named(const std::string& n) const { return rebase_ ? rebase(n, old_, new_) : n; }

  void add(int dirfd, const std::string& name, const std::string& entry, const std::string& shown) {
    struct stat st;
    if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) throw_sys("lstat", shown);
    if (S_ISSOCK(st.st_mode)) return;
    archive_entry* e = lib_.archive_entry_new();
    std::unique_ptr<archive_entry, void (*)(archive_entry*)> guard(e, lib_.archive_entry_free);
    std::string n = named(entry);
    lib_.archive_entry_set_pathname(e, n.c_str());
    lib_.archive_entry_set_filetype(e, st.st_mode & S_IFMT);
    lib_.archive_entry_set_perm(e, st.st_mode & 07777);
    lib_.archive_entry_set_uid(e, st.st_uid);
    lib_.archive_entry_set_gid(e, st.st_gid);
    lib_.archive_entry_set_mtime(e, st.st_mtim.tv_sec, 0);
    if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
      auto [it, first] = links_.try_emplace({st.st_dev, st.st_ino}, n);
      if (!first) {
        lib_.archive_entry_set_hardlink(e, it->second.c_str());
        lib_.archive_entry_set_size(e, 0);
        return w_.check(lib_.archive_write_header(w_.get(), e));
      }
    }
    if (S_ISDIR(st.st_mode)) {
      w_.check(lib_.archive_write_header(w_.get(), e));
      UniqueFd d(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!d) throw_sys("open", shown);
      for (const std::string& child : list(d.get(), shown))
        add(d.get(), child, entry == "/" || entry.ends_with('/') ? entry + child : entry + "/" + child,
            shown + "/" + child);
      return;
    }
    if (S_ISLNK(st.st_mode)) {
      std::string target(PATH_MAX, '\0');
      ssize_t len = ::readlinkat(dirfd, name.c_str(), target.data(), target.size());
      if (len < 0) throw_sys("readlink", shown);
      target.resize(static_cast<std::size_t>(len));
      lib_.archive_entry_set_symlink(e, target.c_str());
      return w_.check(lib_.archive_write_header(w_.get(), e));
    }
    if (!S_ISREG(st.st_mode)) {
      lib_.archive_entry_set_rdev(e, st.st_rdev);
      return w_.check(lib_.archive_write_header(w_.get(), e));
    }
    UniqueFd f(::openat(dirfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (!f) throw_sys("open", shown);
    if (::fstat(f.get(), &st) != 0) throw_sys("stat", shown);
    lib_.archive_entry_set_size(e, st.st_size);
    char cap[256];
    ssize_t cn = ::fgetxattr(f.get(), "security.capability", cap, sizeof cap);
    if (cn > 0) lib_.archive_entry_xattr_add_entry(e, "security.capability", cap, static_cast<std::size_t>(cn));
    w_.check(lib_.archive_write_header(w_.get(), e));
    if (!buf_) buf_ = std::make_unique_for_overwrite<char[]>(kBuf);
    for (off_t left = st.st_size; left > 0;) {
      ssize_t r = ::read(f.get(), buf_.get(), static_cast<std::size_t>(std::min<off_t>(left, kBuf)));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) throw_sys("read", shown);
      if (r == 0) break;  // shrank: libarchive pads the entry
      if (lib_.archive_write_data(w_.get(), buf_.get(), static_cast<std::size_t>(r)) < 0) w_.check(ARCHIVE_FATAL);
      left -= r;
    }
  }

  static std::vector<std::string> list(int dfd, const std::string& shown) {
    UniqueFd fd(::openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) throw_sys("open", shown);
    std::unique_ptr<DIR, int (*)(DIR*)> d(::fdopendir(fd.get()), ::closedir);
    if (!d) throw_sys("opendir", shown);
    fd.release();
    std::vector<std::string> names;
    while (struct dirent* de = ::readdir(d.get())) {
      std::string_view n = de->d_name;
      if (n != "." && n != "..") names.emplace_back(n);
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  const ArchiveLib& lib_;
  TarStream w_;
  std::string old_, new_;
  bool rebase_ = false;
  std::map<std::pair<dev_t, ino_t>, std::string> links_;
  std::unique_ptr<char[]> buf_;
};

// ---- local tar extraction (docker's Untar with NoLchown and NoOverwriteDirNonDir) ----

int open_beneath(int root, const std::string& rel, int flags) {
  open_how how{};
  how.flags = static_cast<std::uint64_t>(flags | O_CLOEXEC);
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  for (int i = 0;; ++i) {
    int fd = static_cast<int>(::syscall(SYS_openat2, root, rel.empty() ? "." : rel.c_str(), &how, sizeof how));
    if (fd >= 0 || (errno != EAGAIN && errno != EINTR) || i == 64) return fd;
  }
}

void remove_all_at(int dirfd, const std::string& name) {
  if (::unlinkat(dirfd, name.c_str(), 0) == 0 || errno == ENOENT) return;
  if (errno != EISDIR) throw_sys("unlink", name);
  {
    UniqueFd d(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!d) throw_sys("open", name);
    std::unique_ptr<DIR, int (*)(DIR*)> dd(::fdopendir(::dup(d.get())), ::closedir);
    std::vector<std::string> names;
    while (struct dirent* de = dd ? ::readdir(dd.get()) : nullptr) {
      std::string_view n = de->d_name;
      if (n != "." && n != "..") names.emplace_back(n);
    }
    for (auto& n : names) remove_all_at(d.get(), n);
  }
  if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) throw_sys("rmdir", name);
}

// The process's umask (read, not changed: umask(2) would change it for every thread a moment).
mode_t current_umask() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("Umask:", 0) == 0) return static_cast<mode_t>(std::strtoul(line.c_str() + 6, nullptr, 8));
  return 0777;  // unknown: every mode is set explicitly
}

class TarExtractor {
 public:
  // `rebases`: docker's RebaseArchiveEntries steps (old base → new base), applied in order.
  TarExtractor(std::string dest, std::vector<std::pair<std::string, std::string>> rebases)
      : lib_(archive_lib()), dest_(clean(dest)), rebases_(std::move(rebases)) {
    root_ = UniqueFd(::open(dest_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root_) throw_sys("open", dest_);
  }

  // Reads the tar from `fd` to its end.
  void run(int fd) {
    fd_ = fd;
    struct archive* a = lib_.archive_read_new();
    std::unique_ptr<struct archive, int (*)(struct archive*)> guard(a, lib_.archive_read_free);
    lib_.archive_read_support_format_tar(a);
    lib_.archive_read_support_format_empty(a);
    buf_ = std::make_unique_for_overwrite<char[]>(kBuf);
    check(a, lib_.archive_read_open(a, this, nullptr, &TarExtractor::read_cb, nullptr));
    for (;;) {
      archive_entry* e;
      int r = lib_.archive_read_next_header(a, &e);
      if (r == ARCHIVE_EOF) break;
      check(a, r);
      entry(a, e);
    }
    for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
      UniqueFd d(open_beneath(root_.get(), it->first, O_RDONLY | O_DIRECTORY | O_NOFOLLOW));
      if (d) ::futimens(d.get(), it->second.t);
    }
  }

 private:
  struct Times {
    timespec t[2];
  };
  static la_ssize_t read_cb(struct archive*, void* self, const void** buf) {
    auto* x = static_cast<TarExtractor*>(self);
    for (;;) {
      ssize_t n = ::read(x->fd_, x->buf_.get(), kBuf);
      if (n < 0 && errno == EINTR) continue;
      *buf = x->buf_.get();
      return n;
    }
  }
  void check(struct archive* a, int r) {
    if (r >= ARCHIVE_WARN) return;
    const char* m = lib_.archive_error_string(a);
    throw Error(m ? m : "unexpected EOF");
  }
  static std::string q(const std::string& s) { return json(s).dump(); }
  std::string renamed(std::string n) const {
    for (const auto& [o, nw] : rebases_) n = rebase(n, o, nw);
    return n;
  }

  // The entry's data into the new file `f` (made with perm & 0777), then its mode (when the umask
  // took bits off) and times. No owner: the files are the caller's (docker's NoLchown).
  void fill(struct archive* a, int f, const std::string& path, archive_entry* e, mode_t perm, const timespec* times) {
    const void* buf;
    std::size_t len;
    la_int64_t off;
    la_int64_t end = 0;
    for (;;) {
      int r = lib_.archive_read_data_block(a, &buf, &len, &off);
      if (r == ARCHIVE_EOF) break;
      check(a, r);
      for (std::size_t done = 0; done < len;) {
        ssize_t w = ::pwrite(f, static_cast<const char*>(buf) + done, len - done, off + static_cast<off_t>(done));
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) throw_sys("write", path);
        done += static_cast<std::size_t>(w);
      }
      end = std::max<la_int64_t>(end, off + static_cast<la_int64_t>(len));
    }
    if (lib_.archive_entry_size(e) > end && ::ftruncate(f, lib_.archive_entry_size(e)) != 0) throw_sys("truncate", path);
    if (((perm & ~0777) != 0 || (perm & umask_) != 0) && ::fchmod(f, perm) != 0) throw_sys("chmod", path);
    if (::futimens(f, times) != 0) throw_sys("utimes", path);
  }

  // The directory `rel` below the destination (made 0755 when missing), opened for *at() calls;
  // kept for the next entries (a tar comes grouped by directory).
  UniqueFd& parent(const std::string& rel) {
    if (cached_fd_ && cached_ == rel) return cached_fd_;
    cached_fd_ = open_parent(rel);
    cached_ = rel;
    return cached_fd_;
  }
  UniqueFd open_parent(const std::string& rel) {
    UniqueFd fd(open_beneath(root_.get(), rel, O_PATH | O_DIRECTORY));
    if (fd || errno != ENOENT) {
      if (!fd) throw_sys("open", join(dest_, rel));
      return fd;
    }
    UniqueFd cur(open_beneath(root_.get(), "", O_PATH | O_DIRECTORY));
    for (std::size_t pos = 0; pos <= rel.size();) {
      std::size_t end = std::min(rel.find('/', pos), rel.size());
      std::string n = rel.substr(pos, end - pos);
      pos = end + 1;
      if (n.empty()) continue;
      if (::mkdirat(cur.get(), n.c_str(), 0755) != 0 && errno != EEXIST) throw_sys("mkdir", join(dest_, rel));
      UniqueFd next(open_beneath(cur.get(), n, O_PATH | O_DIRECTORY));
      if (!next) throw_sys("open", join(dest_, rel));
      cur = std::move(next);
    }
    return cur;
  }

  void entry(struct archive* a, archive_entry* e) {
    const char* raw = lib_.archive_entry_pathname(e);
    std::string name = clean(renamed(raw ? raw : ""));
    std::string path = join(dest_, name);
    std::string rel = path == dest_ ? "" : path.substr(dest_ == "/" ? 1 : dest_.size() + 1);
    if (name == ".." || name.starts_with("../") || (path != dest_ && !path.starts_with(dest_ == "/" ? "/" : dest_ + "/")))
      throw Error(q(name) + " is outside of " + q(dest_));
    mode_t type = lib_.archive_entry_filetype(e);
    const char* hardlink = lib_.archive_entry_hardlink(e);
    bool is_dir = !hardlink && type == AE_IFDIR;
    if (rel.empty()) return;  // the "." entry
    if (is_dir) cached_.clear();  // it may replace what a cached parent was
    std::string pdir = rel.find('/') == std::string::npos ? "" : rel.substr(0, rel.rfind('/'));
    std::string bname = rel.substr(rel.rfind('/') == std::string::npos ? 0 : rel.rfind('/') + 1);
    UniqueFd& d = parent(pdir);
    mode_t perm = lib_.archive_entry_perm(e) & 07777;
    timespec times[2];
    times[1] = {lib_.archive_entry_mtime(e), lib_.archive_entry_mtime_nsec(e)};
    times[0] = lib_.archive_entry_atime_is_set(e) ? timespec{lib_.archive_entry_atime(e), lib_.archive_entry_atime_nsec(e)}
                                                  : times[1];
    // The common case first: a new regular file (the checks below only when something is there).
    if (!hardlink && type == AE_IFREG) {
      UniqueFd f(::openat(d.get(), bname.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, perm & 0777));
      if (f) return fill(a, f.get(), path, e, perm, times);
      if (errno != EEXIST) throw_sys("open", path);
    }
    struct stat have;
    bool exists = ::fstatat(d.get(), bname.c_str(), &have, AT_SYMLINK_NOFOLLOW) == 0;
    if (exists && S_ISDIR(have.st_mode) && !is_dir)
      throw Error("cannot overwrite directory " + q(path) + " with non-directory " + q(dest_));
    if (exists && !S_ISDIR(have.st_mode) && is_dir)
      throw Error("cannot overwrite non-directory " + q(path) + " with directory " + q(dest_));
    if (exists && !(S_ISDIR(have.st_mode) && is_dir)) {
      remove_all_at(d.get(), bname);
      if (S_ISDIR(have.st_mode)) cached_.clear();
    }
    if (hardlink) {
      std::string t = join(dest_, clean(renamed(hardlink)));
      if (!t.starts_with(dest_)) throw Error("invalid hardlink " + q(t) + " -> " + q(hardlink));
      std::string trel = t == dest_ ? "" : t.substr(dest_ == "/" ? 1 : dest_.size() + 1);
      std::string tp = trel.find('/') == std::string::npos ? "" : trel.substr(0, trel.rfind('/'));
      UniqueFd td(open_beneath(root_.get(), tp, O_PATH | O_DIRECTORY));
      if (!td) throw_sys("link", t);
      std::string tn = trel.substr(trel.rfind('/') == std::string::npos ? 0 : trel.rfind('/') + 1);
      if (::linkat(td.get(), tn.c_str(), d.get(), bname.c_str(), 0) != 0) throw_sys("link " + t, path);
      return;
    }
    const char* n = bname.c_str();
    switch (type) {
      case AE_IFDIR: {
        if (!exists && ::mkdirat(d.get(), n, perm) != 0) throw_sys("mkdir", path);
        if (::fchmodat(d.get(), n, perm, 0) != 0) throw_sys("chmod", path);
        dirs_.emplace_back(rel, Times{{times[0], times[1]}});
        return;
      }
      case AE_IFREG: {
        UniqueFd f(::openat(d.get(), n, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, perm & 0777));
        if (!f) throw_sys("open", path);
        return fill(a, f.get(), path, e, perm, times);
      }
      case AE_IFLNK: {
        const char* target = lib_.archive_entry_symlink(e);
        if (!target) throw Error("symlink without a target: " + q(path));
        std::string t = join(dir(path), target);
        if (!t.starts_with(dest_)) throw Error("invalid symlink " + q(path) + " -> " + q(target));
        if (::symlinkat(target, d.get(), n) != 0) throw_sys("symlink", path);
        ::utimensat(d.get(), n, times, AT_SYMLINK_NOFOLLOW);
        return;
      }
      case AE_IFCHR:
      case AE_IFBLK:
      case AE_IFIFO:
        if (::mknodat(d.get(), n, type | perm, lib_.archive_entry_rdev(e)) != 0) throw_sys("mknod", path);
        if (::fchmodat(d.get(), n, perm, 0) != 0) throw_sys("chmod", path);
        ::utimensat(d.get(), n, times, AT_SYMLINK_NOFOLLOW);
        return;
      default:
        throw Error("unhandled tar header type " + std::to_string(type >> 12));
    }
  }

  const ArchiveLib& lib_;
  std::string dest_;
  std::vector<std::pair<std::string, std::string>> rebases_;
  UniqueFd root_;
  std::string cached_;  // the last parent directory, and its fd
  UniqueFd cached_fd_;
  mode_t umask_ = current_umask();
  int fd_ = -1;
  std::unique_ptr<char[]> buf_;
  std::vector<std::pair<std::string, Times>> dirs_;
};

struct Pipe {
  UniqueFd r, w;
  Pipe() {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) throw_sys("pipe");
    r.reset(p[0]);
    w.reset(p[1]);
    ::fcntl(w.get(), F_SETPIPE_SZ, 1 << 20);  // best effort: fewer wake-ups
  }
};

void progress_done(bool quiet, std::int64_t bytes, const std::string& where) {
  if (quiet) return;
  errp("Successfully copied " + human_size(static_cast<double>(bytes)) + " to " + where + "\n");
}

// ---- the two directions ----

// The stat of a container path; on an error the GET tells the daemon's words (a HEAD answer has no
// body: its 404 may be an unknown container as well as a missing path).
RemoteStat stat_or_error(Ctx& ctx, const std::string& container, const std::string& path) {
  try {
    return stat_path(ctx, container, path);
  } catch (const ApiError&) {
    ctx.c().stream("GET", url_path(container, path), "", [](std::string_view) { return false; });
    throw;
  }
}

int copy_from_container(Ctx& ctx, const std::string& container, std::string src, std::string dst, bool follow,
                        bool quiet) {
  if (dst != "-") {
    dst = local_abs(dst);
    // command.ValidateOutputPath
    std::string d = dir(clean(dst));
    struct stat st;
    if (d != "." && ::stat(d.c_str(), &st) != 0 && errno == ENOENT)
      throw Error("invalid output path: directory " + json(d).dump() + " does not exist");
    if (::stat(dst.c_str(), &st) == 0 && !S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
      throw Error("invalid output path: " + json(dst).dump() + " must be a directory or a regular file");
  }
  std::string rebase_name;
  if (follow) {
    try {
      RemoteStat st = stat_path(ctx, container, src);
      if (st.mode & kModeSymlink) {
        std::string target = st.link_target;
        if (!target.starts_with('/')) target = join(split_dir_entry(src).first, target);
        // archive.GetRebaseName
        if (current_dir(src) && !current_dir(target)) target += "/.";
        if (trailing_sep(src) && !trailing_sep(target)) target += "/";
        if (base(src) != base(target)) rebase_name = base(src);
        src = target;
      }
    } catch (const ApiError&) {
      // as docker: the copy below reports it
    }
  }
  if (dst == "-") {
    ctx.c().stream("GET", url_path(container, src), "", [&](std::string_view d) {
      write_all(1, d, "stdout");
      return true;
    });
    return 0;
  }
  RemoteStat sst = stat_or_error(ctx, container, src);
  bool src_dir = (sst.mode & kModeDir) != 0;
  // archive.CopyInfoDestinationPath: symlinks at the destination are followed (10 at most).
  CopyInfo dinfo{dst};
  {
    std::string p = dst;
    struct stat st;
    int n = 0;
    bool ok = ::lstat(p.c_str(), &st) == 0;
    while (ok && S_ISLNK(st.st_mode)) {
      if (++n > 11) throw Error("too many symlinks in " + dst);
      char t[PATH_MAX];
      ssize_t len = ::readlink(p.c_str(), t, sizeof t - 1);
      if (len < 0) throw Error("readlink " + p + ": " + go_errno(errno));
      std::string target(t, static_cast<std::size_t>(len));
      p = target.starts_with('/') ? target : join(split_dir_entry(p).first, target);
      ok = ::lstat(p.c_str(), &st) == 0;
    }
    dinfo.path = p;
    if (ok) {
      dinfo.exists = true;
      dinfo.is_dir = S_ISDIR(st.st_mode);
    } else {
      if (errno != ENOENT) throw Error("lstat " + p + ": " + go_errno(errno));
      std::string parent = split_dir_entry(p).first;
      struct stat pst;
      if (::stat(parent.c_str(), &pst) != 0) throw Error("stat " + parent + ": " + go_errno(errno));
      if (!S_ISDIR(pst.st_mode)) throw Error("not a directory");
    }
  }
  // archive.PrepareArchiveCopy: where to extract, and how the entries are renamed.
  std::vector<std::pair<std::string, std::string>> rebases;
  std::string sbase = split_dir_entry(src).second;
  if (!rebase_name.empty()) {
    rebases.emplace_back(sbase, rebase_name);
    sbase = rebase_name;
  }
  auto [ddir, dbase] = split_dir_entry(dinfo.path);
  std::string to;
  if (dinfo.exists && dinfo.is_dir) {
    to = dinfo.path;
  } else if (dinfo.exists && src_dir) {
    throw Error("cannot copy directory");
  } else if (!dinfo.exists && !src_dir && (trailing_sep(dinfo.path) || current_dir(dinfo.path))) {
    throw Error("no such directory");
  } else {
    to = ddir;
    rebases.emplace_back(sbase, dbase);
  }
  // The tar streams into a pipe from a thread; this one extracts it as it comes.
  Pipe pipe;
  std::exception_ptr http_error;
  std::int64_t bytes = 0;
  std::thread t([&] {
    try {
      ctx.c().stream("GET", url_path(container, src), "", [&](std::string_view d) {
        bytes += static_cast<std::int64_t>(d.size());
        write_all(pipe.w.get(), d, "pipe");
        return true;
      });
    } catch (...) {
      http_error = std::current_exception();
    }
    pipe.w.reset();
  });
  std::exception_ptr local_error;
  try {
    TarExtractor x(to, rebases);
    x.run(pipe.r.get());
  } catch (...) {
    local_error = std::current_exception();
  }
  pipe.r.reset();  // a writer still going gets EPIPE and stops
  t.join();
  if (http_error) std::rethrow_exception(http_error);
  if (local_error) std::rethrow_exception(local_error);
  progress_done(quiet, bytes, dst);
  return 0;
}

int copy_to_container(Ctx& ctx, const std::string& container, std::string src, const std::string& dst, bool follow,
                      bool archive_mode, bool quiet) {
  if (src != "-") src = local_abs(src);
  CopyInfo dinfo{dst};
  std::optional<RemoteStat> dstat;
  try {
    dstat = stat_path(ctx, container, dst);
    if (dstat->mode & kModeSymlink) {
      std::string target = dstat->link_target;
      if (!target.starts_with('/')) target = join(split_dir_entry(dst).first, target);
      dinfo.path = target;
      dstat.reset();
      dstat = stat_path(ctx, container, target);
    }
  } catch (const ApiError&) {
    // As docker: whatever the stat said, the PUT below tells (a missing path may still be made
    // in its parent; an unknown container gets the daemon's words).
    dstat.reset();
  }
  if (dstat && (dstat->mode & kModeIrregular))
    throw Error("destination \"" + container + ":" + dst + "\" must be a directory or a regular file");
  if (dstat) {
    dinfo.exists = true;
    dinfo.is_dir = (dstat->mode & kModeDir) != 0;
  }
  std::string query_extra = std::string("&noOverwriteDirNonDir=true") + (archive_mode ? "&copyUIDGID=true" : "");
  if (src == "-") {
    if (!dinfo.is_dir) throw Error("destination \"" + container + ":" + dst + "\" must be a directory");
    ctx.c().stream("PUT", url_path(container, dinfo.path) + query_extra, "", [](std::string_view) { return true; },
                   {{"Content-Type", "application/x-tar"}}, 0);
    return 0;
  }
  // archive.CopyInfoSourcePath
  CopyInfo sinfo;
  if (follow) {
    std::string resolved = eval_symlinks(src);
    if (current_dir(src) && !current_dir(resolved)) resolved += "/.";
    if (trailing_sep(src) && !trailing_sep(resolved)) resolved += "/";
    if (base(src) != base(resolved)) sinfo.rebase_name = base(src);
    sinfo.path = resolved;
  } else {
    std::size_t slash = src.rfind('/');
    std::string d = src.substr(0, slash + 1), b = src.substr(slash + 1);
    std::string rd = eval_symlinks(d.empty() ? "." : d);
    sinfo.path = (rd == "/" ? "" : rd) + "/" + b;
    if (trailing_sep(src) && base(src) != base(sinfo.path)) sinfo.rebase_name = base(src);
  }
  struct stat st;
  if (::lstat(sinfo.path.c_str(), &st) != 0) throw Error("lstat " + sinfo.path + ": " + go_errno(errno));
  sinfo.exists = true;
  sinfo.is_dir = S_ISDIR(st.st_mode);
  // archive.PrepareArchiveCopy
  auto [ddir, dbase] = split_dir_entry(dinfo.path);
  auto [sdir, sbase] = split_dir_entry(sinfo.path);
  std::string top = sinfo.rebase_name.empty() ? sbase : sinfo.rebase_name;
  std::string to, old_base, new_base;
  if (dinfo.exists && dinfo.is_dir) {
    to = dinfo.path;
  } else if (dinfo.exists && sinfo.is_dir) {
    throw Error("cannot copy directory");
  } else if (!dinfo.exists && !sinfo.is_dir && (trailing_sep(dinfo.path) || current_dir(dinfo.path))) {
    throw Error("no such directory");
  } else {
    to = ddir;
    old_base = top;
    new_base = dbase;
  }
  // The tar is made as it is sent: no copy in between, and the daemon extracts while it comes.
  std::int64_t bytes = 0;
  ctx.c().stream_upload(
      "PUT", url_path(container, to) + query_extra,
      [&](const Client::BodySink& send) {
        TarWriter w(send);
        try {
          w.add_tree(sinfo.path, top, old_base, new_base);
        } catch (const Error&) {
          if (!w.closed()) throw;  // a local failure: the connection drops, nothing half-sent is applied
          return;                  // the daemon stopped reading: its answer tells why
        }
        bytes = w.bytes();
      },
      [](std::string_view) { return true; }, {{"Content-Type", "application/x-tar"}});
  progress_done(quiet, bytes, container + ":" + dinfo.path);
  return 0;
}

// docker's splitCpArg: "CONTAINER:PATH", or a local path (absolute, or starting with ".").
std::pair<std::string, std::string> split_arg(const std::string& arg) {
  if (arg.starts_with('/')) return {"", arg};
  std::size_t colon = arg.find(':');
  if (colon == std::string::npos || arg.starts_with('.')) return {"", arg};
  return {arg.substr(0, colon), arg.substr(colon + 1)};
}

}  // namespace

int cmd_cp(Ctx& ctx, const std::vector<std::string>& argv) {
  auto p = parse(ctx, kCpCommand, argv);
  ::signal(SIGPIPE, SIG_IGN);  // a pipe between the tar and the HTTP stream closing early is an error, not a death
  const std::string& source = p.args[0];
  const std::string& destination = p.args[1];
  if (source.empty()) throw Error("source can not be empty");
  if (destination.empty()) throw Error("destination can not be empty");
  bool quiet = p.has("quiet") ? p.flag("quiet") : !is_tty(1);
  auto [scont, spath] = split_arg(source);
  auto [dcont, dpath] = split_arg(destination);
  if (!scont.empty() && !dcont.empty()) throw Error("copying between containers is not supported");
  if (!scont.empty()) return copy_from_container(ctx, scont, spath, dpath, p.flag("follow-link"), quiet);
  if (!dcont.empty()) return copy_to_container(ctx, dcont, spath, dpath, p.flag("follow-link"), p.flag("archive"), quiet);
  throw Error("must specify at least one container source");
}

}  // namespace hoist::cli
