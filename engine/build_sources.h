// Where a Dockerfile build's COPY and ADD read: a tree (the build context extracted in a
// directory of the build's own, or the root file system of an earlier stage's image), every path
// resolved inside it as if the tree were "/" (openat2 RESOLVE_IN_ROOT): a symlink in the context
// to "/" or "../.." leads to the tree's own root, never to the host's.
//
// A COPY source is looked up (wildcards with Go's filepath.Match rules, element by element),
// walked (a directory's entries without following their symlinks), hashed as dockerd's classic
// builder hashes it (builder/source_hash.h: the "file:"/"dir:" texts of the history, and the
// content digest of the cache key), and written as a tar whose names are the places the files
// take below the destination, for ContainerFs::extract in the step's container.
#pragma once
#include <sys/stat.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "builder/dockerignore.h"
#include "common/fd.h"
#include "image/layer.h"

namespace hoist::engine {

class SourceTree {
 public:
  // `dir`: the tree's root directory.
  explicit SourceTree(const std::string& dir);
  int fd() const { return root_.get(); }
  const std::string& dir() const { return dir_; }
  // The root's own path on the host, symlinks resolved.
  const std::string& real() const { return real_; }

  // The paths (relative, cleaned, "" for the root) a COPY source names: itself, or what its
  // wildcards match, sorted. Empty when nothing matches.
  std::vector<std::string> expand(const std::string& source) const;
  // openat2 below the root (symlinks followed inside it). -1 and errno on failure.
  int open(const std::string& rel, int flags) const;
  // The path below the root of what `fd` (opened below it) is: "etc/passwd", "." for the root.
  std::string path_of(int fd) const;

 private:
  std::string dir_;
  std::string real_;  // the root's own path, symlinks resolved
  UniqueFd root_;
};

// One entry of a source: its path below the source's top ("" for the top itself), its stat, a
// symlink's target.
struct SourceItem {
  std::string rel;
  struct stat st {};
  std::string link;
};

// One resolved COPY source: the top (file or directory, symlinks on the way to it followed in
// the tree) and, for a directory, everything below it.
struct ResolvedSource {
  std::string name;     // the source as found in the tree ("dir/a.txt", "." for the root): its
                        // base name is the file's name at a directory destination
  std::string resolved; // where it led, symlinks on the way followed in the tree: the names the
                        // hashes use, as dockerd's
  UniqueFd top;      // O_PATH fd of the top
  bool dir = false;
  std::vector<SourceItem> items;  // a directory: the top first, then the tree depth first, sorted
  std::string hash;               // "file:<hex>" / "dir:<hex>" (dockerd's)
};

// Hashes of context files by what the client saw of them (hoist's CLI sends, as the context's last
// entry, each regular file's device, inode, size, mtime and ctime in nanoseconds): a file seen
// with the same identity and metadata in a later build has the hash it had, unread. A file whose
// ctime is less than a second older than the client's walk is never memoised (it may still have
// been changing, within the clock's granularity). Shared by builds; bounded.
class HashMemo {
 public:
  std::optional<std::string> get(const std::string& key) const;
  void put(const std::string& key, const std::string& hex);

 private:
  static constexpr std::size_t kMax = 200000;  // entries; the memo starts over when full
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::string> hexes_;
};

// One build's view of its context's client-side metadata (ContextStats::parse of the CLI's entry).
struct ContextStats {
  std::map<std::string, std::string> files;  // context-relative path -> "dev:ino:size:mtime:ctime"
  std::int64_t walk_started_ns = 0;           // the client's clock when it began the walk
  HashMemo* memo = nullptr;
  // The CLI's JSON: {"started": ns, "files": {"path": [dev, ino, size, mtime_ns, ctime_ns]}}.
  // Throws InvalidArgument for a malformed one.
  static ContextStats parse(const std::string& text, HashMemo* memo);
};

// Resolves and hashes one source (as expand() returned it). `context`: owners count as 0:0 in
// the hash (dockerd's view of a context). Throws NotFound for a source that is not there.
// `exclude` (COPY/ADD --exclude): the entries below a directory source whose path relative to
// the source matches are left out (a directory with all below it, unless a `!` pattern
// re-includes something below); the hash covers what is kept. `stats`: memoised hashes of the
// context's files.
ResolvedSource resolve_source(const SourceTree& tree, const std::string& rel, bool context,
                              const builder::IgnoreMatcher* exclude = nullptr, const ContextStats* stats = nullptr);

// One thing to put in the destination.
struct TarPart {
  const ResolvedSource* src = nullptr;
  std::string dest;  // the path below "/" (no leading slash) the top becomes; a directory's
                     // entries go below it
  // COPY --parents: the source's parent directories, written before it with their own modes
  // (`rel`: the path below "/" each takes).
  std::vector<SourceItem> parents;
};

// Writes the tar of `parts` into the file `fd`: every entry owned by `owner` (unset: by its own
// owner), modes and mtimes kept (`chmod`, COPY --chmod: the permission bits of every entry but
// symlinks and `make_dirs`), the given directories (`make_dirs`, paths below "/", 0755, owned by
// `owner` or root) first.
// `data_apart`: the regular files go without their data (size 0), which CopyFiles gives the
// extraction instead.
void write_copy_tar(int fd, const std::vector<std::string>& make_dirs, const std::vector<TarPart>& parts,
                    std::optional<std::pair<uid_t, gid_t>> owner, std::optional<mode_t> chmod = std::nullopt,
                    bool data_apart = false);

// The regular files of the copy tar of `parts`, in the tar's order, for a tar written with
// `data_apart`: fill() writes the next one's data into the new file `out` (`path`: its name in
// the view, checked), in the kernel (copy_file_range or sendfile) rather than through the tar
// pipe. For ContainerFs's CopyInOptions::file_data; `parts` must outlive it.
// Two cores copy: a file goes to a thread of its own when that thread has fewer bytes to copy
// than the caller has copied (and `times` is given); it sets the file's `times` again after
// writing (a write changes the mtime). finish() waits for it.
class CopyFiles {
 public:
  explicit CopyFiles(const std::vector<TarPart>& parts);
  ~CopyFiles();
  CopyFiles(const CopyFiles&) = delete;
  CopyFiles& operator=(const CopyFiles&) = delete;
  void fill(int out, const std::string& path, const struct timespec* times);
  // Waits for the other thread's files; throws the first error it met.
  void finish();

 private:
  struct File {
    const ResolvedSource* src;
    const SourceItem* item;
    std::string path;
  };
  struct Job {
    const File* file;
    UniqueFd out;
    struct timespec times[2];
  };
  void copy(const File& f, int out) const;
  void work();
  void stop();

  std::vector<File> files_;
  std::size_t next_ = 0;
  std::int64_t own_bytes_ = 0, other_bytes_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  bool closing_ = false;
  std::exception_ptr error_;
  std::thread worker_;
};

// Whether the regular file `fd` is an archive ADD extracts, as dockerd decides it: a tar (plain,
// or compressed with gzip, bzip2, xz or zstd) with at least one entry. A compressed file that
// is not a tar is copied as it is.
bool is_archive(int fd);

}  // namespace hoist::engine
