#include "common/file.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <memory>

#include "common/error.h"
#include "common/strings.h"

namespace hoist {

UniqueFd open_file(const std::string& path, int flags, unsigned mode) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  if (fd < 0) throw_sys("open", path);
  return UniqueFd(fd);
}

std::string read_fd(int fd) {
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_sys("read", "fd " + std::to_string(fd));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

std::string read_file(const std::string& path) {
  UniqueFd fd = open_file(path, O_RDONLY);
  try {
    return read_fd(fd.get());
  } catch (const SysError& e) {
    throw_sys("read", path, e.code());
  }
}

void write_all(int fd, std::string_view data, std::string_view what) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_sys("write", what);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
}

std::int64_t copy_data(int in, int out, std::int64_t len, std::string_view from, std::string_view to) {
  constexpr std::size_t kStep = 1 << 20;
  std::int64_t done = 0;
  auto step = [&] { return static_cast<std::size_t>(std::min<std::int64_t>(len - done, kStep)); };
  // copy_file_range within a file system; sendfile across them (one copy in the kernel).
  for (int how = 0; how < 2 && done < len; ++how) {
    for (;;) {
      if (done == len) return done;
      ssize_t n = how == 0 ? ::copy_file_range(in, nullptr, out, nullptr, step(), 0)
                           : ::sendfile(out, in, nullptr, step());
      if (n == 0) return done;
      if (n > 0) {
        done += n;
        continue;
      }
      if (errno == EINTR) continue;
      if (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP) break;
      throw_sys(how == 0 ? "copy" : "sendfile", std::string(from) + " to " + std::string(to));
    }
  }
  auto buf = std::make_unique_for_overwrite<char[]>(kStep);
  while (done < len) {
    ssize_t n = ::read(in, buf.get(), step());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_sys("read", from);
    if (n == 0) break;
    write_all(out, std::string_view(buf.get(), static_cast<std::size_t>(n)), to);
    done += n;
  }
  return done;
}

void write_file(const std::string& path, std::string_view data, int extra_flags) {
  UniqueFd fd = open_file(path, O_WRONLY | O_TRUNC | extra_flags);
  write_all(fd.get(), data, path);
}

void write_file_atomic(const std::string& path, std::string_view data, unsigned mode, bool durable) {
  std::string tmp = path + ".tmp";
  {
    UniqueFd fd = open_file(tmp, O_WRONLY | O_CREAT | O_TRUNC, mode);
    write_all(fd.get(), data, tmp);
    if (durable && ::fsync(fd.get()) != 0) throw_sys("fsync", tmp);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) throw_sys("rename", tmp + " to " + path);
  if (!durable) return;
  auto slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

bool mkdir_all(const std::string& path, unsigned mode) {
  if (path.empty()) return false;
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) throw_sys("mkdir", path, ENOTDIR);
    return false;
  }
  auto slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) mkdir_all(path.substr(0, slash), mode);
  if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST) throw_sys("mkdir", path);
  return true;
}

std::string clean_path(std::string_view path) {
  std::vector<std::string> parts;
  for (auto& p : split(path, '/')) {
    if (p.empty() || p == ".") continue;
    if (p == "..") {
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    parts.push_back(std::move(p));
  }
  return "/" + join(parts, "/");
}

bool path_exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

static void remove_at(int dirfd, const char* name, const std::string& shown) {
  if (::unlinkat(dirfd, name, 0) == 0 || errno == ENOENT) return;
  if (errno != EISDIR && errno != EPERM) throw_sys("remove", shown);
  int fd = ::openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) throw_sys("open", shown);
  DIR* d = ::fdopendir(fd);
  if (!d) {
    ::close(fd);
    throw_sys("opendir", shown);
  }
  while (struct dirent* e = ::readdir(d)) {
    std::string_view n = e->d_name;
    if (n == "." || n == "..") continue;
    try {
      remove_at(::dirfd(d), e->d_name, shown + "/" + e->d_name);
    } catch (...) {
      ::closedir(d);
      throw;
    }
  }
  ::closedir(d);
  if (::unlinkat(dirfd, name, AT_REMOVEDIR) != 0 && errno != ENOENT) throw_sys("remove", shown);
}

void remove_all(const std::string& path) { remove_at(AT_FDCWD, path.c_str(), path); }

}  // namespace hoist
