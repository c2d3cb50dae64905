#include "engine/containers/init_layer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "common/digest.h"
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

namespace {

// Makes the layer for `layers` in a temp dir of `parent` and renames it to `dir`; a rename that
// finds `dir` made meanwhile (a start and an export may make it at once) keeps that one.
void make_layer(const std::string& parent, const std::string& dir, const std::vector<std::string>& layers) {
  char tmpl[] = "init.tmp.XXXXXX";
  std::string tmp = parent + "/" + tmpl;
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
}

// What make_entries' result depends on: for each entry and each of its parents, whether the
// image has it as a directory, and then its owner and mode.
std::string layer_key(const std::vector<std::string>& layers) {
  image::LayerStack view(layers);
  std::string key = "init-layer-v1\n";
  std::set<std::string> seen;
  for (const InitEntry& e : kEntries) {
    std::string rel;
    for (const std::string& part : split(e.path, '/')) {
      rel = rel.empty() ? part : rel + "/" + part;
      if (!seen.insert(rel).second) continue;
      std::optional<struct stat> st = view.lookup(rel);
      key += rel;
      if (st && S_ISDIR(st->st_mode))
        key += " dir " + std::to_string(st->st_uid) + ":" + std::to_string(st->st_gid) + " " +
               std::to_string(st->st_mode & 07777);
      key += "\n";
    }
  }
  return digest_of(key).hex.substr(0, 32);
}

}  // namespace

std::string ensure_init_layer(const std::string& container_dir, const std::vector<std::string>& layers,
                              const std::string& shared_dir) {
  std::string dir = container_dir + "/init";
  if (std::string made = init_layer_of(container_dir); !made.empty()) return made;
  if (shared_dir.empty()) {
    make_layer(container_dir, dir, layers);
    return dir;
  }
  mkdir_all(shared_dir, 0700);
  std::string shared = shared_dir + "/" + layer_key(layers);
  if (!path_exists(shared)) make_layer(shared_dir, shared, layers);
  if (::symlink(shared.c_str(), dir.c_str()) != 0 && errno != EEXIST) throw_sys("symlink", dir);
  return init_layer_of(container_dir);
}

std::string init_layer_of(const std::string& container_dir) {
  std::string dir = container_dir + "/init";
  struct stat st;
  if (::lstat(dir.c_str(), &st) != 0) return "";
  if (!S_ISLNK(st.st_mode)) return dir;
  char target[4096];
  ssize_t n = ::readlink(dir.c_str(), target, sizeof target - 1);
  if (n <= 0) throw_sys("readlink", dir);
  return std::string(target, static_cast<std::size_t>(n));
}

void collect_init_layers(const std::string& shared_dir, const std::vector<std::string>& container_dirs) {
  std::set<std::string> used;
  for (const std::string& d : container_dirs) {
    char target[4096];
    ssize_t n = ::readlink((d + "/init").c_str(), target, sizeof target - 1);
    if (n > 0) used.insert(std::filesystem::path(std::string(target, static_cast<std::size_t>(n))).filename());
  }
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(shared_dir, ec)) {
    std::string name = e.path().filename();
    if (used.count(name)) continue;
    try {
      remove_all(e.path());
    } catch (const std::exception&) {
    }
  }
}

void apply_init_layer(const std::string& init_dir, const std::string& target) {
  UniqueFd src = open_file(init_dir, O_RDONLY | O_DIRECTORY);
  UniqueFd dst = open_file(target, O_RDONLY | O_DIRECTORY);
  apply_dir(src.get(), dst.get(), "");
}

}  // namespace hoist::engine
