// A container's file system as `docker cp` and the archive API see it: its root file system with
// its mounts over it, every path resolved inside it.
//
// The view: the rootfs (an O_PATH fd of it: the overlay a running container uses, or one mounted
// for the operation) and the container's mounts whose source is a host path (binds, and named
// volumes once they come: a volume's MountPoint carries its directory as `source`), plus the
// /etc/hostname, /etc/hosts and /etc/resolv.conf files the engine binds. tmpfs mounts exist only
// in the container's mount namespace: like dockerd, the view leaves them out, so a path below one
// reaches the rootfs directory underneath (what the container sees there once the tmpfs is gone).
//
// Resolution: a container path is walked one component at a time, as the kernel would walk it in
// the container: at each step the longest mount destination that is a prefix of the path so far
// picks the mount, and the rest is opened below that mount's source with openat2(RESOLVE_IN_ROOT |
// RESOLVE_NO_MAGICLINKS) relative to an fd of it; a symlink met on the way is read and its target
// walked the same way (an absolute one from the container's "/"), so a link into a mount leads
// into the mount, and one to "/" or "/etc" leads to the container's. Files and directories are then
// created, read and replaced with *at() calls on directory fds opened that way, never following a
// symlink at the last component: a symlink swapped into the path while a copy runs can make the
// copy fail, never reach a host path outside the container's root and mounts.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <ctime>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "image/layer.h"
#include "volumes/mounts.h"

namespace hoist::engine {

// Go's os.FileMode for a stat mode, the bits dockerd puts in the path stat (ModeDir 1<<31,
// ModeSymlink 1<<27, ModeDevice 1<<26, ModeNamedPipe 1<<25, ModeSocket 1<<24, ModeSetuid 1<<23,
// ModeSetgid 1<<22, ModeCharDevice 1<<21, ModeSticky 1<<20, permissions 0777).
std::uint32_t go_file_mode(mode_t mode);

// types.ContainerPathStat.
struct PathStat {
  std::string name;  // the base name of the path as asked ("/" for the root, "." for "dir/.")
  std::int64_t size = 0;
  std::uint32_t mode = 0;  // go_file_mode
  timespec mtime{};
  std::string link_target;  // a symlink's target, fully resolved in the container ("" otherwise)
};
// {"name","size","mode","mtime","linkTarget"} as dockerd serialises it, base64 (std encoding):
// the X-Docker-Container-Path-Stat header.
std::string path_stat_header(const PathStat& s);

// The path does not exist in the container (the API's 404, "Could not find the file ...").
class PathNotFound : public Error {
 public:
  using Error::Error;
};
// A write refused by the view (dockerd's words: "container rootfs is marked read-only",
// "mounted volume is marked read-only").
class ReadOnlyPath : public Error {
 public:
  using Error::Error;
};
// The tar could not be applied: a bad stream, an entry that escapes the destination, a refused
// overwrite ("Error processing tar file(exit status 1): ..." as dockerd says).
class TarApplyError : public Error {
 public:
  using Error::Error;
};

struct CopyInOptions {
  // noOverwriteDirNonDir: an existing directory is not replaced by a non-directory, nor the reverse.
  bool no_overwrite_dir_non_dir = false;
  // Every entry owned by this uid/gid (copyUIDGID with the container's user); unset: the tar's.
  std::optional<std::pair<uid_t, gid_t>> owner;
  // For a tar of hoistd's own only (a build's COPY, engine/build_sources.h CopyFiles): its
  // regular files come without data, which this writes into each new file (`path`: its name in
  // the view), in the tar's order, before the file gets its owner, mode and `times`. Unless
  // `times` is null, it may write later, on another thread, and then set `times` again; its
  // caller waits for that.
  std::function<void(int fd, const std::string& path, const struct timespec* times)> file_data;
};

// One mount of the view. `source` is a host path (a directory, or a file for a file bind).
struct ViewMount {
  std::string destination;  // clean absolute path in the container
  std::string source;
  bool read_only = false;
};

// The view's mounts from a container's MountPoints (tmpfs left out) and the engine's files in
// `container_dir` (hostname, hosts, resolv.conf, where they exist).
std::vector<ViewMount> view_mounts(const std::vector<volumes::MountPoint>& mounts, const std::string& container_dir);

class ContainerFs {
 public:
  // `rootfs`: an O_PATH (or any) fd of the container's root directory, borrowed; it must outlive
  // this object. The mount sources are opened here (a missing one is left out of the view).
  ContainerFs(int rootfs, bool read_only_root, const std::vector<ViewMount>& mounts);
  ~ContainerFs();
  ContainerFs(const ContainerFs&) = delete;
  ContainerFs& operator=(const ContainerFs&) = delete;

  // dockerd's stat of `path` (absolute, or relative to "/"): the last component is not followed
  // unless the path ends in "/" or "/.". PathNotFound when missing.
  PathStat stat(const std::string& path) const;
  // The tar of `path` (resolved as stat does), entries named from its base name ("etc/passwd",
  // "./passwd" for "/etc/.", "/" and "/bin/..." for the root), written through `write`.
  void archive(const std::string& path, const image::WriteFn& write) const;
  // Extracts a tar (plain, gzip, bzip2, xz or zstd) read through `read` into the directory
  // `path` (symlinks followed in the container). PathNotFound, InvalidArgument "extraction point
  // is not a directory", ReadOnlyPath, TarApplyError; failures of `read` propagate as they are.
  void extract(const std::string& path, const image::ReadFn& read, const CopyInOptions& opts) const;

  struct Mount;

 private:
  struct Located;
  struct Resolved;
  Located locate(const std::string& logical) const;
  Resolved resolve(const std::string& logical, bool follow_last) const;
  int root_;
  bool read_only_root_;
  std::vector<Mount> mounts_;  // longest destination first
  friend class CopyOut;
  friend class CopyIn;
};

}  // namespace hoist::engine
