#include "image/layer_maker.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <set>

#include "common/error.h"
#include "common/file.h"
#include "image/layer_internal.h"

namespace hoist::image {
namespace {

using namespace layer_detail;

bool is_whiteout(const struct stat& st) { return S_ISCHR(st.st_mode) && st.st_rdev == 0; }

// One xattr of `name` in the directory `dirfd`, not following a symlink; "" when it has none.
std::string xattr_at(int dirfd, const std::string& name, const char* attr) {
  std::string path = proc_fd_path(dirfd) + "/" + name;
  char buf[256];
  ssize_t n = ::lgetxattr(path.c_str(), attr, buf, sizeof buf);
  if (n >= 0) return std::string(buf, static_cast<std::size_t>(n));
  if (errno == ENODATA || errno == ENOTSUP) return {};
  if (errno == ERANGE) return std::string(sizeof buf + 1, '\0');  // long: differs from any short value
  throw_sys("getxattr " + std::string(attr), name);
}

bool is_opaque(int dirfd) {
  char v[2];
  for (const char* attr : {"trusted.overlay.opaque", "user.overlay.opaque"}) {
    ssize_t n = ::fgetxattr(dirfd, attr, v, sizeof v);
    if (n == 1 && v[0] == 'y') return true;
  }
  return false;
}

// The lower directories one path of the merged view is made of, top first: from the first layer
// that has a directory there, down to the first opaque one.
using Dirs = std::vector<UniqueFd>;

struct Found {
  struct stat st;
  int dir = -1;  // the fd of the directory that holds it
};

// `name` in a merged directory: the first layer that has it decides (a whiteout: nothing).
std::optional<Found> find(const Dirs& dirs, const std::string& name) {
  for (const UniqueFd& d : dirs) {
    Found f;
    if (::fstatat(d.get(), name.c_str(), &f.st, AT_SYMLINK_NOFOLLOW) == 0) {
      if (is_whiteout(f.st)) return std::nullopt;
      f.dir = d.get();
      return f;
    }
    if (errno != ENOENT) throw_sys("stat", name);
  }
  return std::nullopt;
}

// The merged directory `name` below `dirs`: empty when the merged view has no directory there.
Dirs child_dirs(const Dirs& dirs, const std::string& name) {
  Dirs out;
  for (const UniqueFd& d : dirs) {
    struct stat st;
    if (::fstatat(d.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) continue;
      throw_sys("stat", name);
    }
    if (!S_ISDIR(st.st_mode)) break;  // a whiteout or a non-directory hides what lies below
    UniqueFd fd = open_at(d.get(), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, name);
    bool opaque = is_opaque(fd.get());
    out.push_back(std::move(fd));
    if (opaque) break;
  }
  return out;
}

// The names a merged directory shows, sorted.
std::vector<std::string> visible_names(const Dirs& dirs, const std::string& shown) {
  std::map<std::string, bool> names;  // name -> visible (not whited out by a higher layer)
  for (const UniqueFd& d : dirs) {
    for (std::string& name : list_dir(d.get(), shown)) {
      if (names.contains(name)) continue;
      struct stat st;
      if (::fstatat(d.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) throw_sys("stat", join(shown, name));
      names.emplace(std::move(name), !is_whiteout(st));
    }
  }
  std::vector<std::string> out;
  for (auto& [name, visible] : names)
    if (visible) out.push_back(name);
  return out;
}

// The layers' root directories, top first, down to the first opaque one.
Dirs root_dirs(const std::vector<std::string>& lowest_first) {
  Dirs out;
  for (auto it = lowest_first.rbegin(); it != lowest_first.rend(); ++it) {
    out.push_back(open_file(*it, O_RDONLY | O_DIRECTORY));
    if (is_opaque(out.back().get())) break;
  }
  return out;
}

// dockerd's rule for "modified": mtime to the nanosecond unless one side has none.
bool same_time(const timespec& a, const timespec& b) {
  return a.tv_sec == b.tv_sec && (a.tv_nsec == b.tv_nsec || a.tv_nsec == 0 || b.tv_nsec == 0);
}

bool stat_differs(const struct stat& a, const struct stat& b) {
  if (a.st_mode != b.st_mode || a.st_uid != b.st_uid || a.st_gid != b.st_gid || a.st_rdev != b.st_rdev) return true;
  // Directories: neither size nor mtime say anything about a change.
  if (S_ISDIR(a.st_mode)) return false;
  return !same_time(a.st_mtim, b.st_mtim) || a.st_size != b.st_size;
}

class ChangeWalker {
 public:
  ChangeWalker(bool full_tree, std::vector<Change>& out) : full_tree_(full_tree), out_(out) {}

  // `up`: the upper (or new) directory at `rel`; `low`: the merged lower directory there.
  // `replaced`: the upper directory stands for the whole directory (the full-tree form, an opaque
  // directory and anything below one), so a lower name it lacks is deleted.
  void walk(int up, const Dirs& low, const std::string& rel, bool replaced) {
    std::vector<std::string> names = list_dir(up, shown(rel));
    if (replaced) {
      std::vector<std::string> lower = visible_names(low, shown(rel));
      std::set<std::string> all(names.begin(), names.end());
      std::set<std::string> present = all;
      all.insert(lower.begin(), lower.end());
      for (const std::string& name : all) {
        if (present.contains(name)) {
          entry(up, low, rel, name, replaced);
        } else {
          out_.push_back({"/" + join(rel, name), ChangeKind::Delete});
        }
      }
      return;
    }
    for (const std::string& name : names) entry(up, low, rel, name, replaced);
  }

 private:
  static std::string shown(const std::string& rel) { return rel.empty() ? "." : rel; }

  void entry(int up, const Dirs& low, const std::string& rel, const std::string& name, bool replaced) {
    std::string path = join(rel, name);
    struct stat st;
    if (::fstatat(up, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) return;  // gone since the listing (a running container)
      throw_sys("stat", path);
    }
    std::optional<Found> below = find(low, name);
    if (!full_tree_ && is_whiteout(st)) {
      if (below) out_.push_back({"/" + path, ChangeKind::Delete});
      return;
    }
    if (!below) {
      out_.push_back({"/" + path, ChangeKind::Add});
      if (S_ISDIR(st.st_mode)) add_all(open_at(up, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, path).get(), path);
      return;
    }
    bool changed = stat_differs(below->st, st) ||
                   (S_ISREG(st.st_mode) &&
                    xattr_at(below->dir, name, "security.capability") != xattr_at(up, name, "security.capability"));
    std::size_t mark = out_.size();
    if (changed) out_.push_back({"/" + path, ChangeKind::Modify});
    if (S_ISDIR(st.st_mode)) {
      UniqueFd child = open_at(up, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, path);
      Dirs sub = S_ISDIR(below->st.st_mode) ? child_dirs(low, name) : Dirs{};
      walk(child.get(), sub, path, replaced || (!full_tree_ && is_opaque(child.get())));
      // A directory with changes below it is listed before them, as modified.
      if (!changed && out_.size() > mark) out_.insert(out_.begin() + static_cast<std::ptrdiff_t>(mark), {"/" + path, ChangeKind::Modify});
    } else if (S_ISDIR(below->st.st_mode)) {
      // A directory that became something else: dockerd lists what it held as deleted.
      for (const std::string& gone : visible_names(child_dirs(low, name), path))
        out_.push_back({"/" + join(path, gone), ChangeKind::Delete});
    }
  }

  // Everything below a directory that did not exist below: added.
  void add_all(int up, const std::string& rel) {
    for (const std::string& name : list_dir(up, rel)) {
      std::string path = join(rel, name);
      struct stat st;
      if (::fstatat(up, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) continue;
        throw_sys("stat", path);
      }
      if (!full_tree_ && is_whiteout(st)) continue;  // deletes nothing
      out_.push_back({"/" + path, ChangeKind::Add});
      if (S_ISDIR(st.st_mode)) add_all(open_at(up, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, path).get(), path);
    }
  }

  bool full_tree_;
  std::vector<Change>& out_;
};

// Opens the directory `rel` below `root` one component at a time, never following a symlink.
UniqueFd open_below(int root, const std::string& rel) {
  UniqueFd cur = open_at(root, ".", O_RDONLY | O_DIRECTORY, ".");
  for (std::size_t pos = 0; pos < rel.size();) {
    std::size_t end = std::min(rel.find('/', pos), rel.size());
    cur = open_at(cur.get(), rel.substr(pos, end - pos), O_RDONLY | O_DIRECTORY | O_NOFOLLOW, rel.substr(0, end));
    pos = end + 1;
  }
  return cur;
}

// The process's umask, read without changing it (umask(2) would, for every thread).
mode_t process_umask() {
  try {
    std::string status = read_file("/proc/self/status");
    std::size_t at = status.find("\nUmask:");
    if (at != std::string::npos) return static_cast<mode_t>(std::stoul(status.substr(at + 7), nullptr, 8));
  } catch (const std::exception&) {
  }
  return 0777;  // unknown: every new file gets its chmod
}

// Unpacks what a TarBuilder writes into an empty directory, as extract_layer in overlay mode
// would unpack the tar: the entries come depth first, a directory before what it holds, so the
// directories on the way are kept open on a stack; each gets its mode and times once left.
class Unpacker : public TarMirror {
 public:
  Unpacker(const std::string& dir, bool privileged)
      : privileged_(privileged),
        root_(open_file(dir, O_RDONLY | O_DIRECTORY)),
        euid_(::geteuid()),
        egid_(::getegid()),
        umask_(process_umask()) {}

  void begin(const std::string& rel, const struct stat& st, const std::vector<Xattr>& xattrs,
             const std::string& symlink, const std::string& hardlink, bool opaque) override {
    auto [parent, name] = split(rel);
    int dir = dir_fd(parent);
    Meta m = meta(st, xattrs);
    const char* n = name.c_str();
    if (!hardlink.empty()) {
      if (::linkat(root_.get(), hardlink.c_str(), dir, n, 0) != 0) throw_sys("link to " + hardlink, rel);
      return;
    }
    switch (st.st_mode & S_IFMT) {
      case S_IFDIR: {
        if (::mkdirat(dir, n, 0700) != 0 && errno != EEXIST) throw_sys("mkdir", rel);
        UniqueFd fd = open_at(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, rel);
        if (privileged_ && ::fchown(fd.get(), m.uid, m.gid) != 0) throw_sys("chown", rel);
        for (const Xattr& x : m.xattrs) write_xattr(fd.get(), false, x, rel);
        if (opaque)
          write_xattr(fd.get(), false, {privileged_ ? "trusted.overlay.opaque" : "user.overlay.opaque", "y"}, rel);
        stack_.push_back({rel, std::move(fd), m, true});
        return;
      }
      case S_IFREG:
        // Made with its permission bits already (the snapshot is private to the store while it is
        // built), so most files need no chmod.
        file_ = UniqueFd(::openat(dir, n, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, m.perm & 0777));
        if (!file_) throw_sys("create", rel);
        file_created_mode_ = m.perm & 0777 & ~umask_;
        file_meta_ = m;
        file_rel_ = rel;
        return;
      case S_IFLNK:
        if (::symlinkat(symlink.c_str(), dir, n) != 0) throw_sys("symlink", rel);
        break;
      case S_IFCHR:
      case S_IFBLK:
        if (!privileged_) return;  // only root makes device nodes: skipped, as extraction does
        [[fallthrough]];
      default:
        if (::mknodat(dir, n, (st.st_mode & S_IFMT) | 0600, st.st_rdev) != 0) throw_sys("mknod", rel);
    }
    apply_meta_at(dir, name, m, privileged_, S_ISLNK(st.st_mode), rel);
  }

  void data(const char* p, std::size_t n) override { write_all(file_.get(), std::string_view(p, n), file_rel_); }

  // The file's metadata with as few calls as a new file needs: chown only to another owner
  // (before chmod, which it would undo for setuid bits), chmod only to another mode.
  void end() override {
    int fd = file_.get();
    const Meta& m = file_meta_;
    if (privileged_ && (m.uid != euid_ || m.gid != egid_) && ::fchown(fd, m.uid, m.gid) != 0) throw_sys("chown", file_rel_);
    if (m.perm != file_created_mode_ && ::fchmod(fd, m.perm) != 0) throw_sys("chmod", file_rel_);
    for (const Xattr& x : m.xattrs) write_xattr(fd, false, x, file_rel_);
    if (::futimens(fd, m.times) != 0) throw_sys("utimensat", file_rel_);
    file_.reset();
  }

  void whiteout(const std::string& rel, const struct stat& st) override {
    auto [parent, name] = split(rel);
    int dir = dir_fd(parent);
    if (::mknodat(dir, name.c_str(), S_IFCHR, makedev(0, 0)) != 0) throw_sys("mknod", rel);
    if (privileged_ && ::fchownat(dir, name.c_str(), st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) != 0)
      throw_sys("chown", rel);
  }

  // The directories still open get their modes and times.
  void finish() {
    while (!stack_.empty()) pop();
  }

 private:
  struct Dir {
    std::string rel;
    UniqueFd fd;
    Meta meta;
    bool has_meta;
  };

  static std::pair<std::string, std::string> split(const std::string& rel) {
    std::size_t slash = rel.rfind('/');
    if (slash == std::string::npos) return {"", rel};
    return {rel.substr(0, slash), rel.substr(slash + 1)};
  }

  Meta meta(const struct stat& st, const std::vector<Xattr>& xattrs) const {
    Meta m;
    m.uid = st.st_uid;
    m.gid = st.st_gid;
    m.perm = st.st_mode & 07777;
    m.times[0] = st.st_mtim;  // the tar has no atime: extraction gives it the mtime
    m.times[1] = st.st_mtim;
    for (const Xattr& x : xattrs)
      if (x.name.starts_with("user.") || (privileged_ && (x.name.starts_with("trusted.") || x.name.starts_with("security."))))
        m.xattrs.push_back(x);
    return m;
  }

  void pop() {
    Dir& d = stack_.back();
    if (d.has_meta) {
      if (::fchmod(d.fd.get(), d.meta.perm) != 0) throw_sys("chmod", d.rel);
      if (::futimens(d.fd.get(), d.meta.times) != 0) throw_sys("utimensat", d.rel);
    }
    stack_.pop_back();
  }

  // The directory `parent` ("" for the root): the one open on the stack, or made (0755, as
  // extraction makes a parent the tar does not hold).
  int dir_fd(const std::string& parent) {
    while (!stack_.empty() && parent != stack_.back().rel && !parent.starts_with(stack_.back().rel + "/")) pop();
    if (parent.empty()) return root_.get();
    if (!stack_.empty() && stack_.back().rel == parent) return stack_.back().fd.get();
    std::size_t pos = stack_.empty() ? 0 : stack_.back().rel.size() + 1;
    while (pos < parent.size() + 1) {
      std::size_t end = std::min(parent.find('/', pos), parent.size());
      std::string rel = parent.substr(0, end), name = parent.substr(pos, end - pos);
      int cur = stack_.empty() ? root_.get() : stack_.back().fd.get();
      if (::mkdirat(cur, name.c_str(), 0755) != 0 && errno != EEXIST) throw_sys("mkdir", rel);
      stack_.push_back({rel, open_at(cur, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, rel), Meta{}, false});
      pos = end + 1;
    }
    return stack_.back().fd.get();
  }

  bool privileged_;
  UniqueFd root_;
  uid_t euid_;
  gid_t egid_;
  mode_t umask_;
  mode_t file_created_mode_ = 0;  // the mode the file begun last was made with
  std::vector<Dir> stack_;
  UniqueFd file_;
  Meta file_meta_;
  std::string file_rel_;
};

// An xattr the layer tar leaves out (TarBuilder): overlayfs' own and system.* (ACLs).
bool left_out_of_tar(const std::string& name) {
  return name.starts_with("trusted.overlay.") || name.starts_with("user.overlay.") || name.starts_with("system.");
}

// The xattrs of the object `fd` (an O_PATH fd, or `dir`'s fd) that the tar leaves out, removed;
// an opaque directory keeps (or gets) trusted.overlay.opaque=y, as the unpacker marks it. `all`:
// every xattr goes (the root, which the tar does not hold).
void strip_xattrs(int fd, bool path_fd, bool dir, bool all, const std::string& shown) {
  std::vector<Xattr> xattrs = read_xattrs(fd, path_fd, shown);
  bool opaque = false, marked = false;
  for (const Xattr& x : xattrs) {
    if ((x.name == "trusted.overlay.opaque" || x.name == "user.overlay.opaque") && x.value == "y") opaque = true;
    if (x.name == "trusted.overlay.opaque" && x.value == "y") marked = true;
  }
  bool keep_mark = dir && opaque && !all;
  std::string proc = proc_fd_path(fd);
  for (const Xattr& x : xattrs) {
    if (!all && !left_out_of_tar(x.name)) continue;
    if (keep_mark && marked && x.name == "trusted.overlay.opaque") continue;
    int r = path_fd ? ::removexattr(proc.c_str(), x.name.c_str()) : ::fremovexattr(fd, x.name.c_str());
    if (r != 0 && errno != ENODATA) throw_sys("removexattr " + x.name, shown);
  }
  if (keep_mark && !marked) write_xattr(fd, path_fd, {"trusted.overlay.opaque", "y"}, shown);
}

// Below the directory `dirfd` (`rel`): what strip_xattrs says, and the sockets gone.
void strip_tree(int dirfd, const std::string& rel) {
  for (const std::string& name : list_dir(dirfd, rel.empty() ? "." : rel)) {
    std::string path = join(rel, name);
    struct stat st;
    if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) throw_sys("stat", path);
    if (S_ISSOCK(st.st_mode)) {
      // The directory keeps the times the tar gave it.
      struct stat dst;
      if (::fstat(dirfd, &dst) != 0) throw_sys("stat", rel.empty() ? "." : rel);
      if (::unlinkat(dirfd, name.c_str(), 0) != 0) throw_sys("remove", path);
      timespec times[2] = {dst.st_atim, dst.st_mtim};
      if (::futimens(dirfd, times) != 0) throw_sys("utimensat", rel.empty() ? "." : rel);
      continue;
    }
    if (S_ISDIR(st.st_mode)) {
      UniqueFd sub = open_at(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, path);
      strip_xattrs(sub.get(), false, true, false, path);
      strip_tree(sub.get(), path);
    } else {
      UniqueFd node = open_at(dirfd, name, O_PATH | O_NOFOLLOW, path);
      strip_xattrs(node.get(), true, false, false, path);
    }
  }
}

}  // namespace

void adopt_upper(const std::string& upper, const std::string& dest) {
  UniqueFd root = open_file(upper, O_RDONLY | O_DIRECTORY);
  struct stat want;
  if (::stat(dest.c_str(), &want) != 0) throw_sys("stat", dest);
  strip_tree(root.get(), "");
  strip_xattrs(root.get(), false, true, true, upper);
  if (::fchown(root.get(), want.st_uid, want.st_gid) != 0) throw_sys("chown", upper);
  if (::fchmod(root.get(), want.st_mode & 07777) != 0) throw_sys("chmod", upper);
  if (::rmdir(dest.c_str()) != 0) throw_sys("remove", dest);
  if (::rename(upper.c_str(), dest.c_str()) != 0) throw_sys("rename " + upper + " to", dest);
}

std::optional<struct stat> LayerStack::lookup(const std::string& rel) const {
  Dirs dirs = root_dirs(layers_);
  if (dirs.empty()) return std::nullopt;
  std::string path = hoist::clean_path("/" + rel).substr(1);
  if (path.empty()) {
    struct stat st;
    if (::fstat(dirs.front().get(), &st) != 0) throw_sys("stat", layers_.back());
    return st;
  }
  std::size_t pos = 0;
  for (std::size_t slash; (slash = path.find('/', pos)) != std::string::npos; pos = slash + 1) {
    dirs = child_dirs(dirs, path.substr(pos, slash - pos));
    if (dirs.empty()) return std::nullopt;
  }
  std::optional<Found> f = find(dirs, path.substr(pos));
  if (!f) return std::nullopt;
  return f->st;
}

std::vector<Change> list_changes(const ChangeSource& src) {
  std::vector<Change> out;
  UniqueFd up = open_file(src.upper, O_RDONLY | O_DIRECTORY);
  Dirs low = root_dirs(src.lowers);
  ChangeWalker(src.full_tree, out).walk(up.get(), low, "", src.full_tree || (!src.full_tree && is_opaque(up.get())));
  return out;
}

LayerTar write_layer_tar(const ChangeSource& src, const WriteFn& write, const LayerTarOptions& opts) {
  Utf8Locale locale;
  UniqueFd root = open_file(src.upper, O_RDONLY | O_DIRECTORY);
  std::optional<Unpacker> unpacker;
  if (!opts.unpack_to.empty()) unpacker.emplace(opts.unpack_to, opts.privileged);
  TarBuilderOptions to;
  to.mirror = unpacker ? &*unpacker : nullptr;
  to.hash = opts.hash;
  TarBuilder tar(write, to);
  if (!src.full_tree) {
    // The upper directory is the layer already, in overlay form.
    tar.add_children(root.get(), "");
  } else {
    struct stat none {};
    std::string dir_rel = "\x01";  // no directory is open yet
    UniqueFd dir;
    for (const Change& c : list_changes(src)) {
      std::string rel = c.path.substr(1);
      if (c.kind == ChangeKind::Delete) {
        tar.add_whiteout(rel, none);
        continue;
      }
      std::size_t slash = rel.rfind('/');
      std::string parent = slash == std::string::npos ? "" : rel.substr(0, slash);
      if (parent != dir_rel) {
        dir = open_below(root.get(), parent);
        dir_rel = parent;
      }
      tar.add(dir.get(), rel.substr(slash + 1), rel, false);
    }
  }
  LayerTar out;
  out.entries = tar.entries();
  out.diff_id = tar.finish();
  out.size = tar.bytes();
  if (unpacker) unpacker->finish();
  return out;
}

}  // namespace hoist::image
