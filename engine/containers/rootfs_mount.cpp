#include "engine/containers/rootfs_mount.h"

#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <set>

#include "common/error.h"
#include "common/file.h"
#include "engine/containers/init_layer.h"
#include "image/layer.h"

namespace hoist::engine {

bool is_mounted(const std::string& path) {
  struct stat a, b;
  if (::stat(path.c_str(), &a) < 0) return false;
  if (::stat((path + "/..").c_str(), &b) < 0) return false;
  return a.st_dev != b.st_dev || a.st_ino == b.st_ino;
}

std::string overlay_options(const RootfsLayout& l, bool relative) {
  std::string lower;
  if (l.layers.empty()) {
    lower = relative ? "empty" : l.dir + "/empty";
  } else {
    for (std::size_t i = l.layers.size(); i-- > 0;) {
      if (!lower.empty()) lower += ':';
      lower += relative ? "l/" + std::to_string(i) : l.layers[i];
    }
  }
  std::string base = relative ? "" : l.dir + "/";
  return "lowerdir=" + lower + ",upperdir=" + base + "upper,workdir=" + base + "work" +
         (l.volatile_upper ? ",volatile" : "");
}

namespace {

int do_mount(const std::string& opts, const std::string& target, const std::string& chdir_to) {
  if (chdir_to.empty()) return ::mount("overlay", target.c_str(), "overlay", 0, opts.c_str()) == 0 ? 0 : errno;
  // chdir is per process: do it in a child so hoistd's threads keep their working directory.
  pid_t pid = ::fork();
  if (pid < 0) return errno;
  if (pid == 0) {
    if (::chdir(chdir_to.c_str()) < 0) _exit(errno & 0xff);
    _exit(::mount("overlay", target.c_str(), "overlay", 0, opts.c_str()) == 0 ? 0 : (errno & 0xff));
  }
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
  return WIFEXITED(st) ? WEXITSTATUS(st) : EIO;
}

// The overlay of l.layers (lowest first) with <dir>/upper and <dir>/work on <dir>/rootfs.
void mount_overlay(const RootfsLayout& l) {
  std::string target = l.rootfs();
  mkdir_all(l.dir + "/upper", 0755);
  mkdir_all(l.dir + "/work", 0700);
  // A volatile mount leaves work/work/incompat/volatile, and the kernel refuses the next mount
  // while it is there (the upper may be incomplete after a crash): for such a container the
  // upper is disposable by definition, so a second mount (a lease after its run) goes ahead.
  if (l.volatile_upper) remove_all(l.dir + "/work/work/incompat");
  if (l.layers.empty()) mkdir_all(l.dir + "/empty", 0755);
  long page = ::sysconf(_SC_PAGESIZE);
  std::string opts = overlay_options(l, false);
  std::string chdir_to;
  if (static_cast<long>(opts.size()) >= page) {
    // Docker's trick: short links l/<n> -> layer, relative paths from the container's dir.
    std::string ldir = l.dir + "/l";
    mkdir_all(ldir, 0700);
    for (std::size_t i = 0; i < l.layers.size(); ++i) {
      std::string link = ldir + "/" + std::to_string(i);
      ::unlink(link.c_str());
      if (::symlink(l.layers[i].c_str(), link.c_str()) < 0) throw_sys("symlink", link);
    }
    opts = overlay_options(l, true);
    chdir_to = l.dir;
    if (static_cast<long>(opts.size()) >= page)
      throw Error("mount overlay on " + target + ": " + std::to_string(l.layers.size()) +
                  " layers do not fit in the mount options (" + std::to_string(opts.size()) + " bytes, limit " +
                  std::to_string(page - 1) + ")");
  }
  // redirect_dir=off: a renamed lower directory is copied up whole (rename gives EXDEV), so the
  // upper dir always holds the whole change (the layer maker reads it as the container's layer).
  int err = do_mount(opts + ",index=off,redirect_dir=off", target, chdir_to);
  if (err == EINVAL) err = do_mount(opts, target, chdir_to);  // a kernel without the index option
  if (err) throw SysError("mount overlay on", target + " (" + opts + ")", err);
}

}  // namespace

bool rootfs_copied(const std::string& container_dir) {
  return path_exists(container_dir + "/rootfs.copied") || path_exists(container_dir + "/rootfs/.hoist-copied");
}

void mount_rootfs(const RootfsLayout& l) {
  std::string target = l.rootfs();
  mkdir_all(target, 0755);
  if (l.copy) {
    std::string marker = l.dir + "/rootfs.copied";
    if (rootfs_copied(l.dir) || l.layers.empty()) return;
    // The top snapshot holds the whole tree.
    image::copy_tree(l.layers.back(), target);
    apply_init_layer(ensure_init_layer(l.dir, {l.layers.back()}, l.init_layers), target);
    write_file_atomic(marker, "", 0644, false);
    return;
  }
  if (is_mounted(target)) return;
  // The init layer goes between the image and the writable layer.
  RootfsLayout with_init = l;
  with_init.layers.push_back(ensure_init_layer(l.dir, l.layers, l.init_layers));
  return mount_overlay(with_init);
}

void unmount_rootfs(const std::string& rootfs) {
  for (int i = 0; i < 10 && is_mounted(rootfs); ++i) {
    if (::umount2(rootfs.c_str(), 0) == 0) continue;
    if (errno == EINVAL || errno == ENOENT) return;
    if (errno == EBUSY) {
      if (::umount2(rootfs.c_str(), MNT_DETACH) < 0 && errno != EINVAL) throw_sys("umount", rootfs);
      continue;
    }
    throw_sys("umount", rootfs);
  }
}

std::int64_t writable_layer_size(const RootfsLayout& l) {
  if (l.copy) return 0;
  namespace fs = std::filesystem;
  std::int64_t total = 0;
  std::set<std::pair<dev_t, ino_t>> seen;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(l.dir + "/upper", fs::directory_options::skip_permission_denied, ec), end;
       !ec && it != end; it.increment(ec)) {
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) != 0 || S_ISDIR(st.st_mode)) continue;
    if (st.st_nlink > 1 && !seen.insert({st.st_dev, st.st_ino}).second) continue;
    total += st.st_size;
  }
  return total;
}

}  // namespace hoist::engine
