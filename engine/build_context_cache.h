// Build contexts kept between builds, so that hoist's CLI sends only what changed (Hoist's own
// protocol, advertised as the capability `context-cache` on /_ping; docs/api.md):
//   1. POST /hoist/build-context?key=K, body: the client's stat list of its context (the
//      X-Hoist-Context-Stat JSON, engine/build_sources.h ContextStats, with "dirs": the
//      directories it will send). Answer: {"token": T, "have": [paths]}, the regular files
//      whose kept copy is the same file as the client's now (device, inode, size, mtime, ctime
//      all equal, and the copy still there).
//   2. POST /build with X-Hoist-Context-Cache: "K T" and a tar without those files (but every
//      directory, symlink and other file). The kept copy is cleaned first of what the tar brings
//      again or the client no longer has, the tar is extracted over it, and the build reads its
//      context there; the copy is held (one build at a time per key) until the build ends.
// A token is good for one build: another build of the key between 1 and 2 makes it stale
// (Conflict: the client sends the whole context instead). K is the client's name for its
// context (64 hex: hoist's CLI hashes the context's path and its user). The copies live under
// <data-root>/builder/contexts/<K>/ (tree/ and record.json, written once the tree is complete;
// without it a copy counts as empty, so a kill -9 at any point only costs a full send); the
// least recently used go beyond kMaxKept.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace hoist::engine {

class ContextCache {
 public:
  static constexpr std::size_t kMaxKept = 4;
  explicit ContextCache(std::string dir);

  struct Answer {
    std::string token;
    std::vector<std::string> have;
  };
  // Step 1. Throws InvalidArgument for a bad key or stat list.
  Answer compare(const std::string& key, const std::string& stats_json);

  // Step 2: the copy of `key` for one build, ready for the tar (cleaned); released (and, after
  // complete(), recorded) when destroyed.
  class Lease {
   public:
    ~Lease();
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    const std::string& tree() const { return tree_; }
    // The tar is extracted: the copy is what the client listed.
    void complete();

   private:
    friend class ContextCache;
    Lease(ContextCache& c, std::string key, std::string tree, std::string stats)
        : cache_(c), key_(std::move(key)), tree_(std::move(tree)), stats_(std::move(stats)) {}
    ContextCache& cache_;
    std::string key_, tree_, stats_;
  };
  // Throws InvalidArgument for a malformed header value, Conflict for a stale token.
  std::unique_ptr<Lease> acquire(const std::string& header);

  // The kept copies, for /system/df's BuildCache (build_prune.h: Type "source.local").
  struct Kept {
    std::string key;
    bool in_use = false;  // a build holds it
    std::int64_t size = 0, created_ns = 0, last_used_ns = 0;
  };
  std::vector<Kept> list();
  // Removes the copy unless a build holds it; the bytes freed, or nullopt when held or gone.
  std::optional<std::int64_t> remove(const std::string& key);

 private:
  struct Pending {
    std::string token, stats;
    std::set<std::string> have;
  };
  std::string dir_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::set<std::string> held_;
  std::map<std::string, Pending> pending_;  // by key: the last compare's token and list
  std::uint64_t counter_ = 0;
  void evict_locked(const std::string& keep);
};

}  // namespace hoist::engine
