#include "runtime/rootfs.h"

#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>

#include "common/error.h"
#include "common/file.h"
#include "common/log.h"
#include "common/strings.h"
#include "runtime/mount_options.h"

namespace hoist::runtime {
namespace {

void do_mount(const std::string& src, const std::string& target, const char* type, unsigned long flags,
              const std::string& data, const std::string& shown_target) {
  if (::mount(src.empty() ? nullptr : src.c_str(), target.c_str(), type, flags,
              data.empty() ? nullptr : data.c_str()) != 0) {
    int err = errno;
    throw Error(sys_message("mount", (src.empty() ? std::string("none") : src) + " to " + shown_target +
                                         (type && *type ? std::string(" (type ") + type + ")" : ""),
                            err));
  }
}

// Flags the kernel locks on a mount made in a less privileged namespace; a remount must keep them.
unsigned long locked_flags(const std::string& target) {
  struct statvfs s;
  if (::statvfs(target.c_str(), &s) != 0) return 0;
  unsigned long f = 0;
  if (s.f_flag & ST_NOSUID) f |= MS_NOSUID;
  if (s.f_flag & ST_NODEV) f |= MS_NODEV;
  if (s.f_flag & ST_NOEXEC) f |= MS_NOEXEC;
  if (s.f_flag & ST_RDONLY) f |= MS_RDONLY;
  if (s.f_flag & ST_NOATIME) f |= MS_NOATIME;
  if (s.f_flag & ST_NODIRATIME) f |= MS_NODIRATIME;
  if (s.f_flag & ST_RELATIME) f |= MS_RELATIME;
  return f;
}

// "rro", "rnosuid", ...: the attributes on the mount and everything below it.
void set_recursive_attrs(const std::string& target, const MountOptions& mo, const std::string& shown) {
  if (!mo.rattr_set && !mo.rattr_clr) return;
  struct {
    uint64_t attr_set, attr_clr, propagation, userns_fd;
  } attr{mo.rattr_set, mo.rattr_clr, 0, 0};
  if (::syscall(SYS_mount_setattr, AT_FDCWD, target.c_str(), AT_RECURSIVE, &attr, sizeof attr) != 0)
    throw_sys("set recursive mount attributes on", shown);
}

void remount_bind(const std::string& target, unsigned long flags, const std::string& shown) {
  unsigned long f = MS_REMOUNT | MS_BIND | (flags & ~(MS_BIND | MS_REC | MS_REMOUNT));
  if (::mount(nullptr, target.c_str(), nullptr, f, nullptr) == 0) return;
  int err = errno;
  if (err == EPERM) {
    unsigned long keep = locked_flags(target) & ~MS_RDONLY;
    if (::mount(nullptr, target.c_str(), nullptr, f | keep, nullptr) == 0) return;
  }
  throw Error(sys_message("remount", shown, err));
}

std::string rel(const std::string& p) {
  size_t i = p.find_first_not_of('/');
  return i == std::string::npos ? std::string() : p.substr(i);
}

bool is_dir(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// Where a mount may not go (runc's guard for CVE-2019-16884 and CVE-2019-19921): nothing covers
// /proc but a proc filesystem (or a bind of one), and nothing goes below /proc except over the
// few files lxcfs emulates. `where` is the destination inside the root, symlinks resolved or not.
void check_proc_destination(const oci::Mount& m, bool bind, const std::string& where) {
  static constexpr const char* kAllowed[] = {
      "/proc/cpuinfo", "/proc/diskstats", "/proc/meminfo", "/proc/stat",    "/proc/swaps",
      "/proc/uptime",  "/proc/loadavg",   "/proc/slabinfo", "/proc/net/dev", "/proc/sys/kernel/ns_last_pid",
      "/proc/sys/crypto/fips_enabled"};
  std::string dest = clean_path(where);
  std::string shown = "\"" + m.destination + "\"" + (dest == clean_path(m.destination) ? "" : " (resolved: " + dest + ")");
  std::string op = "mount " + (m.source.empty() ? m.type : m.source) + " to " + m.destination + ": ";
  if (dest == "/proc") {
    struct statfs fs;
    if (!bind && m.type == "proc") return;
    if (bind && ::statfs(m.source.c_str(), &fs) == 0 && fs.f_type == PROC_SUPER_MAGIC) return;
    throw Error(op + shown + " cannot be mounted because it is not of type proc");
  }
  if (dest.rfind("/proc/", 0) != 0) return;
  for (const char* a : kAllowed)
    if (dest == a) return;
  throw Error(op + shown + " cannot be mounted because it is inside /proc");
}

// The path inside the root of what `fd` (opened below root_fd) is, symlinks resolved; "" if it
// cannot be told.
std::string path_in_root(int root_fd, int fd) {
  auto link = [](int f) {
    char buf[PATH_MAX];
    ssize_t n = ::readlink(fd_path(f).c_str(), buf, sizeof buf - 1);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  };
  std::string root = link(root_fd), p = link(fd);
  if (root.empty() || p.empty()) return "";
  if (root == "/") return p;
  if (p == root) return "/";
  return p.rfind(root + "/", 0) == 0 ? p.substr(root.size()) : "";
}

// The destination of `m` opened inside the root (created if missing), after checking both the
// path as written and the path it resolves to against /proc.
UniqueFd open_destination(int root_fd, const oci::Mount& m, bool bind, bool file) {
  check_proc_destination(m, bind, m.destination);
  UniqueFd dst = open_in_root(root_fd, m.destination, true, file);
  if (std::string real = path_in_root(root_fd, dst.get()); !real.empty()) check_proc_destination(m, bind, real);
  return dst;
}

void mount_cgroup(const RootfsContext& ctx, int root_fd, const oci::Mount& m, const MountOptions& mo) {
  std::string shown = m.destination;
  unsigned long flags = mo.flags & ~(MS_BIND | MS_REC);
  if (ctx.layout.is_v2()) {
    UniqueFd dst = open_in_root(root_fd, m.destination, true, false);
    if (ctx.new_cgroupns) {
      do_mount("cgroup2", fd_path(dst.get()), "cgroup2", flags, "", shown);
    } else {
      do_mount(ctx.layout.unified + ctx.cgroup_path, fd_path(dst.get()), nullptr, MS_BIND | MS_REC, "", shown);
      dst = open_in_root(root_fd, m.destination, false, false);  // the new mount, not what it covers
      remount_bind(fd_path(dst.get()), flags, shown);
    }
    return;
  }
  // v1 or hybrid: a tmpfs with one directory per hierarchy.
  {
    UniqueFd dst = open_in_root(root_fd, m.destination, true, false);
    do_mount("tmpfs", fd_path(dst.get()), "tmpfs", (flags & ~MS_RDONLY), "mode=755", shown);
  }
  // Each hierarchy is a bind mount of the container's own cgroup directory (as runc does;
  // cgroup v1 cannot be mounted inside a user namespace).
  auto one = [&](const std::string& name, const std::string& source) {
    std::string dest = m.destination + "/" + name;
    UniqueFd d = open_in_root(root_fd, dest, true, false);
    do_mount(source, fd_path(d.get()), nullptr, MS_BIND | MS_REC, "", dest);
    if (flags & MS_RDONLY) {
      d = open_in_root(root_fd, dest, false, false);
      remount_bind(fd_path(d.get()), flags, dest);
    }
  };
  for (const auto& b : cgroup_v1_binds(ctx.layout, ctx.cgroup_path)) {
    one(b.name, b.source);
    if (b.links.empty()) continue;
    UniqueFd base = open_in_root(root_fd, m.destination, false, false);
    for (auto& l : b.links)
      if (::symlinkat(b.name.c_str(), base.get(), l.c_str()) != 0 && errno != EEXIST)
        throw_sys("symlink", m.destination + "/" + l);
  }
  if (flags & MS_RDONLY) {
    UniqueFd dst = open_in_root(root_fd, m.destination, false, false);
    remount_bind(fd_path(dst.get()), flags, shown);
  }
}

void mount_entry(const RootfsContext& ctx, int root_fd, const oci::Mount& m) {
  MountOptions mo = parse_mount_options(m.options);
  bool bind = mo.bind || m.type == "bind";
  if (bind) {
    mo.flags |= MS_BIND;
    struct stat st;
    if (::stat(m.source.c_str(), &st) != 0) throw_sys("stat bind mount source", m.source);
    UniqueFd dst = open_destination(root_fd, m, true, !S_ISDIR(st.st_mode));
    do_mount(m.source, fd_path(dst.get()), nullptr, MS_BIND | (mo.recursive ? MS_REC : 0), "", m.destination);
    dst = open_in_root(root_fd, m.destination, false, false);  // the new mount, not what it covers
    std::string target = fd_path(dst.get());
    if (mo.flags & ~(MS_BIND | MS_REC)) remount_bind(target, mo.flags, m.destination);
    set_recursive_attrs(target, mo, m.destination);
    if (mo.propagation && ::mount(nullptr, target.c_str(), nullptr, mo.propagation, nullptr) != 0)
      throw_sys("set propagation of", m.destination);
    return;
  }
  if (m.type == "cgroup") {
    open_destination(root_fd, m, false, false);
    if (ctx.before_cgroup_mount) ctx.before_cgroup_mount();
    mount_cgroup(ctx, root_fd, m, mo);
    return;
  }
  UniqueFd dst = open_destination(root_fd, m, false, false);
  std::string target = fd_path(dst.get());
  if (!is_dir(target)) throw Error("mount " + m.type + " to " + m.destination + ": destination is not a directory");
  std::string src = m.source.empty() ? m.type : m.source;
  unsigned long flags = mo.flags & ~MS_REMOUNT;
  if (::mount(src.c_str(), target.c_str(), m.type.c_str(), flags, mo.data.empty() ? nullptr : mo.data.c_str()) != 0) {
    int err = errno;
    // sysfs cannot be mounted in a user namespace without its own network namespace: bind the host's.
    if (m.type == "sysfs" && (err == EPERM || err == EBUSY)) {
      do_mount("/sys", target, nullptr, MS_BIND | MS_REC, "", m.destination);
      UniqueFd again = open_in_root(root_fd, m.destination, false, false);
      remount_bind(fd_path(again.get()), flags | MS_BIND, m.destination);
    } else if (m.type == "mqueue" && (err == EPERM || err == EBUSY)) {
      do_mount("/dev/mqueue", target, nullptr, MS_BIND, "", m.destination);
    } else {
      throw Error(sys_message("mount", src + " to " + m.destination + " (type " + m.type + ")", err));
    }
  }
  dst = open_in_root(root_fd, m.destination, false, false);
  target = fd_path(dst.get());
  if (mo.flags & MS_REMOUNT) do_mount("", target, nullptr, flags, mo.data, m.destination);
  set_recursive_attrs(target, mo, m.destination);
  if (mo.propagation && ::mount(nullptr, target.c_str(), nullptr, mo.propagation, nullptr) != 0)
    throw_sys("set propagation of", m.destination);
}

struct DefaultDev { const char* path; unsigned major, minor; };
constexpr DefaultDev kDefaultDevices[] = {{"/dev/null", 1, 3}, {"/dev/zero", 1, 5}, {"/dev/full", 1, 7},
                                          {"/dev/random", 1, 8}, {"/dev/urandom", 1, 9}, {"/dev/tty", 5, 0}};

void create_device(const RootfsContext& ctx, int root_fd, const std::string& path, mode_t type, unsigned major,
                   unsigned minor, mode_t perm, uid_t uid, gid_t gid) {
  auto slash = path.rfind('/');
  UniqueFd parent = open_in_root(root_fd, path.substr(0, slash), true, false);
  std::string name = path.substr(slash + 1);
  ::unlinkat(parent.get(), name.c_str(), 0);
  if (!ctx.userns && ::mknodat(parent.get(), name.c_str(), type | perm, makedev(major, minor)) == 0) {
    if (::fchmodat(parent.get(), name.c_str(), perm, 0) != 0) throw_sys("chmod", path);
    if (::fchownat(parent.get(), name.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) != 0) throw_sys("chown", path);
    return;
  }
  if (!ctx.userns && errno != EPERM) throw_sys("mknod", path);
  // No mknod here (user namespace): bind-mount the host's node onto an empty file.
  UniqueFd f = open_in_root(root_fd, path, true, true);
  do_mount(path, fd_path(f.get()), nullptr, MS_BIND, "", path);
}

bool dev_is_bind_mounted(const oci::Spec& s) {
  for (auto& m : s.mounts)
    if (m.destination == "/dev" && (m.type == "bind" || parse_mount_options(m.options).bind)) return true;
  return false;
}

void setup_dev(const RootfsContext& ctx, int root_fd) {
  const oci::Spec& s = *ctx.spec;
  if (!dev_is_bind_mounted(s)) {
    for (auto& d : kDefaultDevices) {
      bool overridden = s.linux && std::any_of(s.linux->devices.begin(), s.linux->devices.end(),
                                               [&](const oci::Device& x) { return x.path == d.path; });
      if (!overridden) create_device(ctx, root_fd, d.path, S_IFCHR, d.major, d.minor, 0666, 0, 0);
    }
    UniqueFd dev = open_in_root(root_fd, "/dev", true, false);
    const std::pair<const char*, const char*> links[] = {{"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"},
                                                         {"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"},
                                                         {"/proc/kcore", "core"}};
    for (auto& [target, name] : links)
      if (::symlinkat(target, dev.get(), name) != 0 && errno != EEXIST) throw_sys("symlink", std::string("/dev/") + name);
    bool has_pts = std::any_of(s.mounts.begin(), s.mounts.end(), [](auto& m) { return m.destination == "/dev/pts"; });
    if (has_pts) {
      ::unlinkat(dev.get(), "ptmx", 0);
      if (::symlinkat("pts/ptmx", dev.get(), "ptmx") != 0) throw_sys("symlink", "/dev/ptmx");
    }
  }
  if (!s.linux) return;
  for (auto& d : s.linux->devices) {
    mode_t type = d.type == "b" ? S_IFBLK : d.type == "p" ? S_IFIFO : S_IFCHR;
    create_device(ctx, root_fd, d.path, type, static_cast<unsigned>(d.major), static_cast<unsigned>(d.minor),
                  d.file_mode ? (*d.file_mode & 07777) : 0666, d.uid.value_or(0), d.gid.value_or(0));
  }
}

}  // namespace

std::vector<CgroupBind> cgroup_v1_binds(const cgroups::Layout& l, const std::string& cgroup_path) {
  // Co-mounted controllers share a hierarchy: group them by mount point.
  std::map<std::string, std::vector<std::string>> by_mp;
  for (auto& [ctrl, mp] : l.v1) by_mp[mp].push_back(ctrl);
  std::vector<CgroupBind> out;
  for (auto& [mp, ctrls] : by_mp) {
    std::sort(ctrls.begin(), ctrls.end());
    CgroupBind b;
    b.name = join(ctrls, ",");
    if (b.name.rfind("name=", 0) == 0) b.name = b.name.substr(5);  // name=systemd -> systemd
    b.source = mp + cgroup_path;
    if (ctrls.size() > 1) b.links = ctrls;  // cpu -> cpu,cpuacct
    out.push_back(std::move(b));
  }
  if (!l.unified.empty()) out.push_back({"unified", l.unified + cgroup_path, {}});
  std::sort(out.begin(), out.end(), [](auto& x, auto& y) { return x.name < y.name; });
  return out;
}

std::string fd_path(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

namespace {
UniqueFd open_in_root_at_depth(int root_fd, const std::string& path, bool create, bool file, int depth);
}

UniqueFd open_in_root(int root_fd, const std::string& path, bool create, bool file) {
  return open_in_root_at_depth(root_fd, path, create, file, 0);
}

namespace {
UniqueFd open_in_root_at_depth(int root_fd, const std::string& path, bool create, bool file, int depth) {
  if (depth > 40) throw_sys("open", path, ELOOP);
  std::string r = rel(path);
  if (r.empty()) {
    int fd = ::openat(root_fd, ".", O_PATH | O_CLOEXEC);
    if (fd < 0) throw_sys("open", "/");
    return UniqueFd(fd);
  }
  struct open_how how{};
  how.flags = O_PATH | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  int fd = static_cast<int>(::syscall(SYS_openat2, root_fd, r.c_str(), &how, sizeof how));
  if (fd >= 0) return UniqueFd(fd);
  if (errno != ENOENT || !create) throw_sys("open", path);
  // Create what is missing, one component at a time, each resolved inside the root.
  auto parts = split(r, '/');
  std::string prefix;
  UniqueFd cur(::openat(root_fd, ".", O_PATH | O_CLOEXEC));
  for (size_t i = 0; i < parts.size(); ++i) {
    if (parts[i].empty() || parts[i] == ".") continue;
    std::string next = prefix.empty() ? parts[i] : prefix + "/" + parts[i];
    int nfd = static_cast<int>(::syscall(SYS_openat2, root_fd, next.c_str(), &how, sizeof how));
    if (nfd < 0) {
      if (errno != ENOENT) throw_sys("open", "/" + next);
      bool last = i + 1 == parts.size();
      if (last && file) {
        int f = ::openat(cur.get(), parts[i].c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (f < 0 && errno != EEXIST) throw_sys("create", "/" + next);
        if (f >= 0) ::close(f);
      } else if (::mkdirat(cur.get(), parts[i].c_str(), 0755) != 0 && errno != EEXIST) {
        throw_sys("mkdir", "/" + next);
      }
      nfd = static_cast<int>(::syscall(SYS_openat2, root_fd, next.c_str(), &how, sizeof how));
      if (nfd < 0 && errno == ENOENT) {
        // A symlink to something missing (an image's /var/run -> /run without /run): create its
        // target, resolved inside the root like everything else, and carry on from there.
        char target[PATH_MAX];
        ssize_t n = ::readlinkat(cur.get(), parts[i].c_str(), target, sizeof target - 1);
        if (n > 0) {
          target[n] = '\0';
          std::string via = target[0] == '/' ? std::string(target) : "/" + prefix + "/" + target;
          for (size_t k = i + 1; k < parts.size(); ++k) via += "/" + parts[k];
          return open_in_root_at_depth(root_fd, via, create, file, depth + 1);
        }
        errno = ENOENT;
      }
      if (nfd < 0) throw_sys("open", "/" + next);
    }
    cur.reset(nfd);
    prefix = next;
  }
  return cur;
}
}  // namespace

void prepare_rootfs(const RootfsContext& ctx) {
  const oci::Spec& s = *ctx.spec;
  std::string prop = s.linux ? s.linux->rootfs_propagation : "";
  unsigned long root_prop = MS_SLAVE | MS_REC;
  if (prop == "private" || prop == "rprivate") root_prop = MS_PRIVATE | MS_REC;
  if (::mount(nullptr, "/", nullptr, root_prop, nullptr) != 0) throw_sys("set propagation of", "/");
  do_mount(ctx.rootfs, ctx.rootfs, nullptr, MS_BIND | MS_REC, "", ctx.rootfs);
  UniqueFd root_fd = open_file(ctx.rootfs, O_PATH | O_DIRECTORY);
  for (auto& m : s.mounts) mount_entry(ctx, root_fd.get(), m);
  setup_dev(ctx, root_fd.get());
}

void enter_rootfs(const std::string& rootfs, bool no_pivot) {
  if (::chdir(rootfs.c_str()) != 0) throw_sys("chdir", rootfs);
  if (no_pivot) {
    if (::mount(rootfs.c_str(), "/", nullptr, MS_MOVE, nullptr) != 0) throw_sys("move mount", rootfs + " to /");
    if (::chroot(".") != 0) throw_sys("chroot", rootfs);
    if (::chdir("/") != 0) throw_sys("chdir", "/");
    return;
  }
  UniqueFd old_root = open_file("/", O_DIRECTORY | O_PATH);
  if (::syscall(SYS_pivot_root, ".", ".") != 0) throw_sys("pivot_root", rootfs);
  // The old root is now stacked under "."; detach it without letting the unmount propagate.
  if (::fchdir(old_root.get()) != 0) throw_sys("fchdir", "old root");
  if (::mount(nullptr, ".", nullptr, MS_SLAVE | MS_REC, nullptr) != 0) throw_sys("set propagation of", "old root");
  if (::umount2(".", MNT_DETACH) != 0) throw_sys("unmount", "old root");
  if (::chdir("/") != 0) throw_sys("chdir", "/");
}

void finish_rootfs(const RootfsContext& ctx) {
  const oci::Spec& s = *ctx.spec;
  if (s.linux) {
    for (auto& p : s.linux->masked_paths) {
      struct stat st;
      if (::lstat(p.c_str(), &st) != 0) {
        if (errno == ENOENT) continue;
        throw_sys("stat masked path", p);
      }
      if (S_ISDIR(st.st_mode))
        do_mount("tmpfs", p, "tmpfs", MS_RDONLY, "size=0k,nr_inodes=1", p);
      else
        do_mount("/dev/null", p, nullptr, MS_BIND, "", p);
    }
    for (auto& p : s.linux->readonly_paths) {
      if (::mount(p.c_str(), p.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) {
        if (errno == ENOENT) continue;
        throw_sys("bind mount read-only path", p);
      }
      // Read-only, and still nosuid, nodev, noexec where the mount it binds was (/proc/sys).
      remount_bind(p, MS_RDONLY | (locked_flags(p) & (MS_NOSUID | MS_NODEV | MS_NOEXEC)), p);
    }
    if (auto f = propagation_flag(s.linux->rootfs_propagation)) {
      if (::mount(nullptr, "/", nullptr, f, nullptr) != 0) throw_sys("set rootfs propagation", s.linux->rootfs_propagation);
    }
  }
  if (s.root && s.root->readonly) remount_bind("/", MS_RDONLY, "/ (read-only root)");
}

}  // namespace hoist::runtime
