#include "engine/containers/init_layer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "common/error.h"
#include "common/file.h"
#include "common/strings.h"
#include "image/layer_maker.h"

namespace hoist::engine {
namespace {

enum class Kind { Dir, File, Link };
struct InitEntry {
  const char* path;
  Kind kind;
};
// dockerd's list (daemon/initlayer), mount points and the mtab link.
constexpr InitEntry kEntries[] = {
    {"dev/pts", Kind::Dir},          {"dev/shm", Kind::Dir},       {"proc", Kind::Dir},
    {"sys", Kind::Dir},              {".dockerenv", Kind::File},   {"etc/resolv.conf", Kind::File},
    {"etc/hosts", Kind::File},       {"etc/hostname", Kind::File}, {"dev/console", Kind::File},
    {"etc/mtab", Kind::Link}};

UniqueFd open_in(int dir, const std::string& name, int flags, const std::string& shown) {
  int fd = ::openat(dir, name.c_str(), flags | O_CLOEXEC);
  if (fd < 0) throw_sys("open", shown);
  return UniqueFd(fd);
}

void set_owner_mode(int dir, const std::string& name, uid_t uid, gid_t gid, mode_t mode, const std::string& shown) {
  if (::fchownat(dir, name.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) != 0) throw_sys("chown", shown);
  if (::fchmodat(dir, name.c_str(), mode, 0) != 0) throw_sys("chmod", shown);
}

// Removes `name` in `dir` (a directory with all it holds), never following a symlink.
void remove_at(int dir, const std::string& name, const std::string& shown) {
  if (::unlinkat(dir, name.c_str(), 0) == 0 || errno == ENOENT) return;
  if (errno != EISDIR) throw_sys("unlink", shown);
  remove_all("/proc/self/fd/" + std::to_string(dir) + "/" + name);
}

// The entries of dockerd's init set-up made in `target`, the top of `view`.
void make_entries(const std::string& target, const image::LayerStack& view) {
  UniqueFd root = open_file(target, O_RDONLY | O_DIRECTORY);
  for (const InitEntry& e : kEntries) {
    // A directory there is kept, whatever was asked; nothing else is made for it either.
    std::optional<struct stat> below = view.lookup(e.path);
    if (below && S_ISDIR(below->st_mode)) continue;
    std::vector<std::string> parts = split(e.path, '/');
    UniqueFd dir = open_in(root.get(), ".", O_RDONLY | O_DIRECTORY, target);
    std::string rel;
    for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
      const std::string& name = parts[i];
      rel = rel.empty() ? name : rel + "/" + name;
      struct stat here;
      bool ours = ::fstatat(dir.get(), name.c_str(), &here, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(here.st_mode);
      if (!ours) {
        // A parent the image has is copied up; one it lacks (or has as a non-directory) is made.
        std::optional<struct stat> up = view.lookup(rel);
        bool copy_up = up && S_ISDIR(up->st_mode);
        remove_at(dir.get(), name, rel);
        if (::mkdirat(dir.get(), name.c_str(), 0700) != 0) throw_sys("mkdir", rel);
        set_owner_mode(dir.get(), name, copy_up ? up->st_uid : 0, copy_up ? up->st_gid : 0,
                       copy_up ? up->st_mode & 07777 : 0755, rel);
      }
      dir = open_in(dir.get(), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, rel);
    }
    const std::string& name = parts.back();
    remove_at(dir.get(), name, e.path);
    switch (e.kind) {
      case Kind::Dir:
        if (::mkdirat(dir.get(), name.c_str(), 0700) != 0) throw_sys("mkdir", e.path);
        set_owner_mode(dir.get(), name, 0, 0, 0755, e.path);
        break;
      case Kind::File: {
        int fd = ::openat(dir.get(), name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0) throw_sys("create", e.path);
        ::close(fd);
        set_owner_mode(dir.get(), name, 0, 0, 0755, e.path);
        break;
      }
      case Kind::Link:
        if (::symlinkat("/proc/mounts", dir.get(), name.c_str()) != 0) throw_sys("symlink", e.path);
        if (::fchownat(dir.get(), name.c_str(), 0, 0, AT_SYMLINK_NOFOLLOW) != 0) throw_sys("chown", e.path);
        break;
    }
  }
}

// The names in the directory `dirfd` (a directory of ours: the init layer), sorted.
std::vector<std::string> names_in(int dirfd) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd/" + std::to_string(dirfd)))
    out.push_back(e.path().filename());
  std::sort(out.begin(), out.end());
  return out;
}

void apply_dir(int src, int dst, const std::string& rel) {
  for (const std::string& name : names_in(src)) {
    std::string path = rel.empty() ? name : rel + "/" + name;
    struct stat st;
    if (::fstatat(src, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) throw_sys("stat", path);
    struct stat here;
    bool have = ::fstatat(dst, name.c_str(), &here, AT_SYMLINK_NOFOLLOW) == 0;
    if (S_ISDIR(st.st_mode)) {
      if (!have || !S_ISDIR(here.st_mode)) {
        remove_at(dst, name, path);
        if (::mkdirat(dst, name.c_str(), 0700) != 0) throw_sys("mkdir", path);
      }
      UniqueFd s = open_in(src, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, path);
      UniqueFd d = open_in(dst, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, path);
      apply_dir(s.get(), d.get(), path);
    } else {
      remove_at(dst, name, path);
      if (S_ISLNK(st.st_mode)) {
        char target[4096];
        ssize_t n = ::readlinkat(src, name.c_str(), target, sizeof target - 1);
        if (n < 0) throw_sys("readlink", path);
        target[n] = '\0';
        if (::symlinkat(target, dst, name.c_str()) != 0) throw_sys("symlink", path);
      } else if (S_ISREG(st.st_mode) && st.st_size == 0) {
        int fd = ::openat(dst, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0) throw_sys("create", path);
        ::close(fd);
      } else {
        throw Error("init layer: unexpected entry " + path);
      }
    }
    if (::fchownat(dst, name.c_str(), st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) != 0) throw_sys("chown", path);
    if (!S_ISLNK(st.st_mode) && ::fchmodat(dst, name.c_str(), st.st_mode & 07777, 0) != 0) throw_sys("chmod", path);
    timespec times[2] = {st.st_atim, st.st_mtim};
    if (::utimensat(dst, name.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) throw_sys("utimensat", path);
  }
}

}  // namespace

std::string ensure_init_layer(const std::string& container_dir, const std::vector<std::string>& layers) {
  std::string dir = container_dir + "/init";
  if (path_exists(dir)) return dir;
  // A directory of this call's own (a start and an export may make it at once); the first rename
  // wins, the other's copy goes.
  char tmpl[] = "init.tmp.XXXXXX";
  std::string tmp = container_dir + "/" + tmpl;
  if (!::mkdtemp(tmp.data())) throw_sys("mkdtemp", tmp);
  try {
    if (::chmod(tmp.c_str(), 0755) != 0) throw_sys("chmod", tmp);
    std::vector<std::string> view = layers;
    view.push_back(tmp);
    make_entries(tmp, image::LayerStack(view));
    if (::rename(tmp.c_str(), dir.c_str()) != 0) {
      if (errno != ENOTEMPTY && errno != EEXIST) throw_sys("rename " + tmp + " to", dir);
      remove_all(tmp);
    }
  } catch (...) {
    remove_all(tmp);
    throw;
  }
  return dir;
}

void apply_init_layer(const std::string& init_dir, const std::string& target) {
  UniqueFd src = open_file(init_dir, O_RDONLY | O_DIRECTORY);
  UniqueFd dst = open_file(target, O_RDONLY | O_DIRECTORY);
  apply_dir(src.get(), dst.get(), "");
}

}  // namespace hoist::engine
