// File system helpers of the layer code: fd-relative, never following symlinks.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "common/error.h"
#include "image/layer_internal.h"

namespace hoist::image::layer_detail {

Utf8Locale::Utf8Locale() {
  utf8_ = ::newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(nullptr));
  if (utf8_) previous_ = ::uselocale(utf8_);
}

Utf8Locale::~Utf8Locale() {
  if (!utf8_) return;
  ::uselocale(previous_);
  ::freelocale(utf8_);
}

std::string proc_fd_path(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

UniqueFd open_at(int dirfd, const std::string& name, int flags, const std::string& shown) {
  int fd = ::openat(dirfd, name.c_str(), flags | O_CLOEXEC);
  if (fd < 0) throw_sys("open", shown);
  return UniqueFd(fd);
}

namespace {

// Calls `list(buf, size)` (a listxattr or getxattr variant) until the buffer is big enough: a
// small buffer first (most files have no or small xattrs: one call), then the size it asks for.
template <typename F>
std::string read_sized(F list, const char* op, const std::string& shown) {
  char small[512];
  ssize_t got = list(small, sizeof small);
  if (got >= 0) return std::string(small, static_cast<std::size_t>(got));
  if (errno == ENOTSUP || errno == ENODATA) return {};
  if (errno != ERANGE) throw_sys(op, shown);
  std::string buf;
  for (;;) {
    ssize_t n = list(nullptr, 0);
    if (n < 0) {
      if (errno == ENOTSUP || errno == ENODATA) return {};
      throw_sys(op, shown);
    }
    buf.resize(static_cast<std::size_t>(n));
    n = list(buf.data(), buf.size());
    if (n >= 0) {
      buf.resize(static_cast<std::size_t>(n));
      return buf;
    }
    if (errno != ERANGE) throw_sys(op, shown);  // ERANGE: it grew in between; ask again
  }
}

}  // namespace

std::vector<Xattr> read_xattrs(int fd, bool path_fd, const std::string& shown) {
  std::string proc = path_fd ? proc_fd_path(fd) : std::string();
  std::string names = read_sized(
      [&](char* b, std::size_t n) { return path_fd ? ::listxattr(proc.c_str(), b, n) : ::flistxattr(fd, b, n); },
      "listxattr", shown);
  std::vector<Xattr> out;
  for (std::size_t pos = 0; pos < names.size();) {
    std::string name(names.c_str() + pos);
    pos += name.size() + 1;
    if (name.empty()) continue;
    std::string value = read_sized(
        [&](char* b, std::size_t n) {
          return path_fd ? ::getxattr(proc.c_str(), name.c_str(), b, n) : ::fgetxattr(fd, name.c_str(), b, n);
        },
        "getxattr", shown + " " + name);
    out.push_back({std::move(name), std::move(value)});
  }
  std::sort(out.begin(), out.end(), [](const Xattr& a, const Xattr& b) { return a.name < b.name; });
  return out;
}

bool write_xattr(int fd, bool path_fd, const Xattr& x, const std::string& shown) {
  int r = path_fd ? ::setxattr(proc_fd_path(fd).c_str(), x.name.c_str(), x.value.data(), x.value.size(), 0)
                  : ::fsetxattr(fd, x.name.c_str(), x.value.data(), x.value.size(), 0);
  if (r == 0) return true;
  // The kernel refuses user.* on anything but regular files and directories (EPERM), and some
  // file systems have no xattrs at all: both are "not supported here", as in Docker.
  if (errno == ENOTSUP || (errno == EPERM && path_fd && x.name.starts_with("user."))) return false;
  throw_sys("setxattr " + x.name, shown);
}

void apply_meta_fd(int fd, const Meta& m, bool chown, const std::string& shown) {
  if (chown && ::fchown(fd, m.uid, m.gid) != 0) throw_sys("chown", shown);
  if (::fchmod(fd, m.perm) != 0) throw_sys("chmod", shown);
  for (const Xattr& x : m.xattrs) write_xattr(fd, false, x, shown);
  if (::futimens(fd, m.times) != 0) throw_sys("utimensat", shown);
}

void apply_meta_at(int dir, const std::string& name, const Meta& m, bool chown, bool symlink,
                   const std::string& shown) {
  const char* n = name.c_str();
  if (chown && ::fchownat(dir, n, m.uid, m.gid, AT_SYMLINK_NOFOLLOW) != 0) throw_sys("chown", shown);
  // Symlinks have no mode of their own on Linux.
  if (!symlink && ::fchmodat(dir, n, m.perm, AT_SYMLINK_NOFOLLOW) != 0) throw_sys("chmod", shown);
  if (!m.xattrs.empty()) {
    UniqueFd node = open_at(dir, name, O_PATH | O_NOFOLLOW, shown);
    for (const Xattr& x : m.xattrs) write_xattr(node.get(), true, x, shown);
  }
  if (::utimensat(dir, n, m.times, AT_SYMLINK_NOFOLLOW) != 0) throw_sys("utimensat", shown);
}

std::vector<std::string> list_dir(int dirfd, const std::string& shown) {
  // fdopendir takes ownership of a readable fd of its own, so reopen "." (dirfd may be O_PATH).
  UniqueFd fd = open_at(dirfd, ".", O_RDONLY | O_DIRECTORY, shown);
  std::unique_ptr<DIR, int (*)(DIR*)> dir(::fdopendir(fd.get()), ::closedir);
  if (!dir) throw_sys("opendir", shown);
  fd.release();
  std::vector<std::string> names;
  errno = 0;
  while (struct dirent* e = ::readdir(dir.get())) {
    std::string_view n = e->d_name;
    if (n != "." && n != "..") names.emplace_back(n);
    errno = 0;
  }
  if (errno != 0) throw_sys("readdir", shown);
  std::sort(names.begin(), names.end());
  return names;
}

void remove_all_at(int dirfd, const std::string& name, const std::string& shown) {
  if (::unlinkat(dirfd, name.c_str(), 0) == 0 || errno == ENOENT) return;
  if (errno != EISDIR) throw_sys("unlink", shown);
  {
    // O_NOFOLLOW: if `name` was swapped for a symlink meanwhile, fail rather than descend.
    UniqueFd dir = open_at(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, shown);
    for (const std::string& child : list_dir(dir.get(), shown)) remove_all_at(dir.get(), child, shown + "/" + child);
  }
  if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) throw_sys("rmdir", shown);
}

}  // namespace hoist::image::layer_detail
