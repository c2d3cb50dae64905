// COPY/ADD sources of a build (see build_sources.h). Every open is an openat2 below the tree's
// root (RESOLVE_IN_ROOT) or, inside a source being walked, an openat of one name with
// O_NOFOLLOW below a directory fd reached that way.
#include "engine/build_sources.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <ctime>
#include <memory>
#include <nlohmann/json.hpp>

#include "builder/go_match.h"
#include "builder/source_hash.h"
#include "common/error.h"
#include "common/file.h"
#include "common/strings.h"
#include "image/layer_internal.h"

namespace hoist::engine {

using namespace image::layer_detail;

namespace {

constexpr std::size_t kChunk = 1 << 16;

int openat2_in_root(int root, const std::string& rel, int flags, std::uint64_t resolve) {
  open_how how{};
  how.flags = static_cast<std::uint64_t>(flags | O_CLOEXEC);
  how.resolve = resolve;
  const char* p = rel.empty() ? "." : rel.c_str();
  for (int attempt = 0;; ++attempt) {
    int fd = static_cast<int>(::syscall(SYS_openat2, root, p, &how, sizeof how));
    if (fd >= 0 || (errno != EAGAIN && errno != EINTR) || attempt == 64) return fd;
  }
}

std::string join_rel(const std::string& a, const std::string& b) {
  if (a.empty()) return b;
  if (b.empty()) return a;
  return a + "/" + b;
}

std::string read_link_at(int dir, const std::string& name, const std::string& shown) {
  std::string target(PATH_MAX, '\0');
  ssize_t n = ::readlinkat(dir, name.c_str(), target.data(), target.size());
  if (n < 0) throw_sys("readlink", shown);
  target.resize(static_cast<std::size_t>(n));
  return target;
}

// The entries below the directory `dirfd` (its path `rel` below the source's top), depth first
// with names sorted, never following a symlink.
void walk(int dirfd, const std::string& rel, const std::string& shown, std::vector<SourceItem>& out,
          const builder::IgnoreMatcher* exclude) {
  for (const std::string& name : list_dir(dirfd, shown)) {
    SourceItem it;
    it.rel = join_rel(rel, name);
    std::string what = shown + "/" + name;
    if (::fstatat(dirfd, name.c_str(), &it.st, AT_SYMLINK_NOFOLLOW) != 0) throw_sys("lstat", what);
    if (S_ISSOCK(it.st.st_mode)) continue;  // no place in a tar
    bool excluded = exclude && exclude->excluded(it.rel);
    bool dir = S_ISDIR(it.st.st_mode);
    if (excluded && (!dir || !exclude->has_exclusions())) continue;
    if (S_ISLNK(it.st.st_mode)) it.link = read_link_at(dirfd, name, what);
    std::string sub_rel = it.rel;  // `out` grows below: no reference into it
    std::size_t at = out.size();
    out.push_back(std::move(it));
    if (dir) {
      UniqueFd sub = open_at(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, what);
      walk(sub.get(), sub_rel, what, out, exclude);
      // An excluded directory stays only for what a `!` pattern re-included below it.
      if (excluded && out.size() == at + 1) out.pop_back();
    }
  }
}

// A regular file below the source's top, opened for reading without following any symlink.
UniqueFd open_item(const ResolvedSource& s, const SourceItem& it) {
  if (it.rel.empty()) {
    // The top's O_PATH fd, reopened (its symlinks were resolved in the tree already).
    UniqueFd fd(::open(proc_fd_path(s.top.get()).c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) throw_sys("open", s.name);
    return fd;
  }
  int fd = openat2_in_root(s.top.get(), it.rel, O_RDONLY | O_NOFOLLOW,
                           RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
  if (fd < 0) throw_sys("open", s.name + "/" + it.rel);
  return UniqueFd(fd);
}

std::string user_name(uid_t uid) {
  struct passwd pw, *res = nullptr;
  char buf[4096];
  if (::getpwuid_r(uid, &pw, buf, sizeof buf, &res) != 0 || !res) return "";
  return res->pw_name;
}

std::string group_name(gid_t gid) {
  struct group gr, *res = nullptr;
  char buf[4096];
  if (::getgrgid_r(gid, &gr, buf, sizeof buf, &res) != 0 || !res) return "";
  return res->gr_name;
}

// The memo's key of a context file: its header fields and the client's view of it.
std::string memo_key(const builder::SourceEntry& e, const std::string& client_stat) {
  return client_stat + '\0' + e.name + '\0' + std::to_string(e.mode) + '\0' + std::to_string(e.size) + '\0' +
         std::to_string(e.uid) + ':' + std::to_string(e.gid) + '\0' + e.linkname;
}

std::string hash_item(const ResolvedSource& s, const SourceItem& it, bool context, const ContextStats* stats) {
  builder::SourceEntry e;
  e.name = it.rel.empty() ? s.resolved : s.resolved == "." ? it.rel : s.resolved + "/" + it.rel;
  e.mode = it.st.st_mode;
  e.uid = context ? 0 : it.st.st_uid;
  e.gid = context ? 0 : it.st.st_gid;
  e.size = S_ISREG(it.st.st_mode) ? it.st.st_size : 0;
  e.linkname = it.link;
  if (!context) {
    // dockerd stats a stage's or an image's files itself: type bits, and the owners' names as
    // its host's /etc/passwd and /etc/group give them.
    e.type_bits = true;
    e.uname = user_name(it.st.st_uid);
    e.gname = group_name(it.st.st_gid);
  }
  if (S_ISCHR(it.st.st_mode) || S_ISBLK(it.st.st_mode)) {
    e.devmajor = major(it.st.st_rdev);
    e.devminor = minor(it.st.st_rdev);
  }
  std::string key;
  bool memoise = false;
  if (context && stats && stats->memo && S_ISREG(it.st.st_mode)) {
    auto f = stats->files.find(e.name);
    if (f != stats->files.end()) {
      key = memo_key(e, f->second);
      if (auto hex = stats->memo->get(key)) return *hex;
      // "dev:ino:size:mtime:ctime": settled if its ctime is a second older than the walk.
      std::int64_t ctime = 0;
      try {
        ctime = std::stoll(f->second.substr(f->second.rfind(':') + 1));
      } catch (const std::exception&) {
      }
      memoise = ctime > 0 && ctime < stats->walk_started_ns - 1'000'000'000LL;
    }
  }
  builder::SourceHasher h(e);
  if (S_ISREG(it.st.st_mode)) {
    UniqueFd fd = open_item(s, it);
    auto buf = std::make_unique_for_overwrite<char[]>(kChunk);
    for (;;) {
      ssize_t n = ::read(fd.get(), buf.get(), kChunk);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw_sys("read", e.name);
      if (n == 0) break;
      h.update(std::string_view(buf.get(), static_cast<std::size_t>(n)));
    }
  }
  std::string hex = h.hex();
  if (memoise) stats->memo->put(key, hex);
  return hex;
}

struct ArchiveWriteFree {
  void operator()(archive* a) const { archive_write_free(a); }
};
struct EntryFree {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};

class TarOut {
 public:
  explicit TarOut(int fd) : a_(archive_write_new()) {
    if (!a_) throw Error("copy: out of memory");
    check(archive_write_set_format_pax_restricted(a_.get()));
    check(archive_write_add_filter_none(a_.get()));
    // Unblocked: each header and data chunk goes to the fd as it is given (libarchive's default
    // 10 KiB blocks would copy the data once more and cut it into a hundred writes per MiB).
    check(archive_write_set_bytes_per_block(a_.get(), static_cast<int>(kDataChunk)));
    // Nor is the last block padded to that size: the tar's end is the two zero records.
    check(archive_write_set_bytes_in_last_block(a_.get(), 1));
    check(archive_write_open_fd(a_.get(), fd));
  }
  void check(int r) {
    if (r >= ARCHIVE_WARN) return;
    const char* msg = archive_error_string(a_.get());
    throw Error(std::string("copy: write tar: ") + (msg ? msg : "unknown error"));
  }
  void entry(const std::string& name, const struct stat& st, const std::string& link, std::pair<uid_t, gid_t> owner,
             int data_fd) {
    std::unique_ptr<archive_entry, EntryFree> e(archive_entry_new());
    archive_entry_set_pathname(e.get(), name.c_str());
    archive_entry_set_filetype(e.get(), st.st_mode & S_IFMT);
    archive_entry_set_perm(e.get(), st.st_mode & 07777);
    archive_entry_set_uid(e.get(), owner.first);
    archive_entry_set_gid(e.get(), owner.second);
    archive_entry_set_mtime(e.get(), st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    if (S_ISLNK(st.st_mode)) archive_entry_set_symlink(e.get(), link.c_str());
    if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) archive_entry_set_rdev(e.get(), st.st_rdev);
    archive_entry_set_size(e.get(), S_ISREG(st.st_mode) ? st.st_size : 0);
    check(archive_write_header(a_.get(), e.get()));
    if (!S_ISREG(st.st_mode)) return;
    if (!buf_) buf_ = std::make_unique_for_overwrite<char[]>(kDataChunk);
    std::int64_t left = st.st_size;
    while (left > 0) {
      ssize_t n = ::read(data_fd, buf_.get(), static_cast<std::size_t>(std::min<std::int64_t>(left, kDataChunk)));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw_sys("read", name);
      if (n == 0) throw Error("copy: " + name + ": file changed while being read");
      if (archive_write_data(a_.get(), buf_.get(), static_cast<std::size_t>(n)) < 0) check(ARCHIVE_FATAL);
      left -= n;
    }
  }
  void close() { check(archive_write_close(a_.get())); }

 private:
  static constexpr std::size_t kDataChunk = 1 << 20;  // the build's tar pipe holds as much
  std::unique_ptr<archive, ArchiveWriteFree> a_;
  std::unique_ptr<char[]> buf_;
};

}  // namespace

SourceTree::SourceTree(const std::string& dir) : dir_(dir) {
  root_ = UniqueFd(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root_) throw_sys("open", dir);
  real_ = read_link_at(AT_FDCWD, proc_fd_path(root_.get()), dir);
}

std::string SourceTree::path_of(int fd) const {
  std::string p = read_link_at(AT_FDCWD, proc_fd_path(fd), dir_);
  if (p == real_) return ".";
  if (real_ == "/") return p.substr(1);
  if (p.size() > real_.size() && p.starts_with(real_) && p[real_.size()] == '/') return p.substr(real_.size() + 1);
  throw Error("copy: " + p + " is outside of the source tree " + real_);
}

int SourceTree::open(const std::string& rel, int flags) const {
  return openat2_in_root(root_.get(), rel, flags, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
}

std::vector<std::string> SourceTree::expand(const std::string& source) const {
  std::string clean = builder::go_clean("/" + source).substr(1);
  if (!builder::has_wildcard(clean)) return {clean};
  // Element by element: a literal element is taken as it is, a pattern is matched against the
  // names of the directory reached so far (resolved in the tree).
  std::vector<std::string> parts = split(clean, '/');
  std::vector<std::string> found = {""};
  for (const std::string& part : parts) {
    std::vector<std::string> next;
    for (const std::string& base : found) {
      if (!builder::has_wildcard(part)) {
        next.push_back(join_rel(base, part));
        continue;
      }
      UniqueFd d(open(base, O_RDONLY | O_DIRECTORY));
      if (!d) continue;
      for (const std::string& name : list_dir(d.get(), base.empty() ? "." : base))
        if (builder::go_match(part, name)) next.push_back(join_rel(base, name));
    }
    found = std::move(next);
  }
  // Literal elements after a pattern may name nothing.
  std::vector<std::string> out;
  for (auto& f : found) {
    UniqueFd fd(open(f, O_PATH));
    if (fd) out.push_back(f);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<std::string> HashMemo::get(const std::string& key) const {
  std::lock_guard lk(mu_);
  auto it = hexes_.find(key);
  if (it == hexes_.end()) return std::nullopt;
  return it->second;
}

void HashMemo::put(const std::string& key, const std::string& hex) {
  std::lock_guard lk(mu_);
  if (hexes_.size() >= kMax) hexes_.clear();
  hexes_[key] = hex;
}

ContextStats ContextStats::parse(const std::string& text, HashMemo* memo) {
  ContextStats cs;
  cs.memo = memo;
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object() || !j.contains("started") || !j["started"].is_number_integer() || !j.contains("files") ||
      !j["files"].is_object())
    throw InvalidArgument("the build context's stat entry is malformed");
  cs.walk_started_ns = j["started"].get<std::int64_t>();
  for (auto& [path, v] : j["files"].items()) {
    if (!v.is_array() || v.size() != 5) throw InvalidArgument("the build context's stat entry is malformed");
    std::string k;
    for (auto& n : v) {
      if (!n.is_number_integer()) throw InvalidArgument("the build context's stat entry is malformed");
      k += (k.empty() ? "" : ":") + std::to_string(n.get<std::int64_t>());
    }
    cs.files[path] = k;
  }
  return cs;
}

ResolvedSource resolve_source(const SourceTree& tree, const std::string& rel, bool context,
                              const builder::IgnoreMatcher* exclude, const ContextStats* stats) {
  ResolvedSource s;
  s.name = rel.empty() ? "." : rel;
  int fd = tree.open(rel, O_PATH);
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR)
      throw NotFound("file not found in build context or excluded by .dockerignore: stat " + rel +
                     ": file does not exist");
    throw_sys("open", rel);
  }
  s.top = UniqueFd(fd);
  s.resolved = tree.path_of(s.top.get());
  SourceItem top;
  if (::fstat(s.top.get(), &top.st) != 0) throw_sys("stat", rel);
  s.dir = S_ISDIR(top.st.st_mode);
  s.items.push_back(top);
  if (s.dir) {
    UniqueFd d(::open(proc_fd_path(s.top.get()).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!d) throw_sys("open", rel);
    walk(d.get(), "", s.name, s.items, exclude);
    std::vector<std::string> hexes;
    for (const SourceItem& it : s.items) hexes.push_back(hash_item(s, it, context, stats));
    s.hash = builder::dir_source_hash(hexes);
  } else {
    s.hash = builder::file_source_hash(hash_item(s, s.items[0], context, stats));
  }
  return s;
}

namespace {
// The tar name of one item of a part (a directory's top is the destination itself: no entry).
std::optional<std::string> entry_name(const TarPart& p, const SourceItem& it) {
  const ResolvedSource& s = *p.src;
  if (s.dir && it.rel.empty()) return std::nullopt;
  std::string name = s.dir ? join_rel(p.dest, it.rel) : p.dest;
  if (S_ISDIR(it.st.st_mode)) name += "/";
  return name;
}
}  // namespace

CopyFiles::CopyFiles(const std::vector<TarPart>& parts) {
  for (const TarPart& p : parts)
    for (const SourceItem& it : p.src->items)
      if (auto name = entry_name(p, it); name && S_ISREG(it.st.st_mode))
        files_.push_back({p.src, &it, builder::go_clean("/" + *name)});
}

CopyFiles::~CopyFiles() {
  {
    std::lock_guard lk(mu_);
    jobs_.clear();  // a failed extraction: what is left is not needed
  }
  stop();
}

void CopyFiles::stop() {
  if (!worker_.joinable()) return;
  {
    std::lock_guard lk(mu_);
    closing_ = true;
  }
  cv_.notify_one();
  worker_.join();
}

void CopyFiles::copy(const File& f, int out) const {
  UniqueFd in = open_item(*f.src, *f.item);
  std::string name = f.src->name + (f.item->rel.empty() ? "" : "/" + f.item->rel);
  if (copy_data(in.get(), out, f.item->st.st_size, name, f.path) != f.item->st.st_size)
    throw Error("copy: " + name + ": file changed while being read");
}

void CopyFiles::work() {
  for (;;) {
    Job j;
    {
      std::unique_lock lk(mu_);
      cv_.wait(lk, [&] { return closing_ || !jobs_.empty(); });
      if (jobs_.empty()) return;
      j = std::move(jobs_.front());
      jobs_.pop_front();
      if (error_) continue;
    }
    try {
      copy(*j.file, j.out.get());
      if (::futimens(j.out.get(), j.times) != 0) throw_sys("utimensat", j.file->path);
    } catch (...) {
      std::lock_guard lk(mu_);
      if (!error_) error_ = std::current_exception();
    }
  }
}

void CopyFiles::fill(int out, const std::string& path, const struct timespec* times) {
  if (next_ >= files_.size() || files_[next_].path != path)
    throw Error("copy: " + path + ": not the next file of the copy");
  const File& f = files_[next_++];
  std::int64_t size = f.item->st.st_size;
  if (!times || other_bytes_ >= own_bytes_ || next_ == files_.size()) {
    own_bytes_ += size;
    return copy(f, out);
  }
  Job j{&f, UniqueFd(::fcntl(out, F_DUPFD_CLOEXEC, 0)), {times[0], times[1]}};
  if (!j.out) throw_sys("dup", path);
  other_bytes_ += size;
  {
    std::lock_guard lk(mu_);
    if (error_) std::rethrow_exception(error_);
    jobs_.push_back(std::move(j));
  }
  cv_.notify_one();
  if (!worker_.joinable()) worker_ = std::thread([this] { work(); });
}

void CopyFiles::finish() {
  stop();
  if (error_) std::rethrow_exception(error_);
}

void write_copy_tar(int fd, const std::vector<std::string>& make_dirs, const std::vector<TarPart>& parts,
                    std::optional<std::pair<uid_t, gid_t>> owner, std::optional<mode_t> chmod, bool data_apart) {
  TarOut out(fd);
  auto moded = [&](struct stat st) {
    if (chmod && !S_ISLNK(st.st_mode)) st.st_mode = (st.st_mode & S_IFMT) | (*chmod & 07777);
    return st;
  };
  struct stat dir_st {};
  dir_st.st_mode = S_IFDIR | 0755;
  ::clock_gettime(CLOCK_REALTIME, &dir_st.st_mtim);
  auto root = std::make_pair(uid_t{0}, gid_t{0});
  for (const std::string& d : make_dirs) out.entry(d + "/", dir_st, "", owner.value_or(root), -1);
  for (const TarPart& p : parts) {
    const ResolvedSource& s = *p.src;
    for (const SourceItem& it : p.parents)
      out.entry(it.rel + "/", moded(it.st), "", owner.value_or(std::make_pair(it.st.st_uid, it.st.st_gid)), -1);
    for (const SourceItem& it : s.items) {
      // A directory's top is the destination itself: made (or kept) by the extraction.
      auto name = entry_name(p, it);
      if (!name) continue;
      struct stat st = moded(it.st);
      UniqueFd data;
      if (S_ISREG(it.st.st_mode) && data_apart) st.st_size = 0;
      else if (S_ISREG(it.st.st_mode)) data = open_item(s, it);
      out.entry(*name, st, it.link, owner.value_or(std::make_pair(it.st.st_uid, it.st.st_gid)), data.get());
    }
  }
  out.close();
}

bool is_archive(int fd) {
  // dockerd: the stream decompressed (gzip, bzip2, xz, zstd) and a tar reader's first header
  // read without error. Read through a dup of the fd at offset 0 (the caller's offset untouched).
  struct ReadFree {
    void operator()(archive* a) const { archive_read_free(a); }
  };
  std::unique_ptr<archive, ReadFree> a(archive_read_new());
  if (!a) return false;
  archive_read_support_filter_gzip(a.get());
  archive_read_support_filter_bzip2(a.get());
  archive_read_support_filter_xz(a.get());
  archive_read_support_filter_zstd(a.get());
  archive_read_support_format_tar(a.get());
  UniqueFd copy(::open(proc_fd_path(fd).c_str(), O_RDONLY | O_CLOEXEC));
  if (!copy) return false;
  if (archive_read_open_fd(a.get(), copy.get(), kChunk) != ARCHIVE_OK) return false;
  archive_entry* e = nullptr;
  int r = archive_read_next_header(a.get(), &e);
  return r == ARCHIVE_OK || r == ARCHIVE_WARN;
}

}  // namespace hoist::engine
