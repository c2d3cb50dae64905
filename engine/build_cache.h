// The build cache's index: which image a build step made, by the step's cache key
// (builder/cache_key.h), kept across restarts of hoistd in <data-root>/builder/cache.json (written
// atomically after each change, not synced). An entry whose image is gone is dropped when it is
// looked up. Each entry also has its times (made, last used) and how often a build used it, for
// /system/df's BuildCache and /build/prune (engine/build_prune.h).
//
// A build reads and writes the index through a Session: the entries it hit or made are in use
// until it ends (prune leaves them and their images), and a hit counts as a use.
#pragma once
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/digest.h"
#include "image/store.h"

namespace hoist::engine {

struct BuildCacheEntry {
  std::string key, image_id;
  std::int64_t created_ns = 0, last_used_ns = 0;  // 0: unknown (an index of an older hoistd) / never used
  int usage = 0;
  bool in_use = false;  // a running build holds it
};

class BuildCache {
 public:
  // Loads the file at `path` (a missing or unreadable one is an empty cache).
  explicit BuildCache(std::string path);
  std::optional<std::string> get(const std::string& key) const;
  void put(const std::string& key, const std::string& image_id);
  void drop(const std::string& key);

  class Session {
   public:
    explicit Session(BuildCache& c) : c_(c) {}
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;
    // As the cache's, holding the key until the session ends; a hit is a use.
    std::optional<std::string> get(const std::string& key);
    void put(const std::string& key, const std::string& image_id);
    void drop(const std::string& key) { c_.drop(key); }

   private:
    void hold(const std::string& key);
    BuildCache& c_;
    std::vector<std::string> held_;
  };

  std::vector<BuildCacheEntry> entries() const;
  // Removes the entry unless a build holds it; false when held or gone.
  bool remove_unused(const std::string& key);

 private:
  struct Entry {
    std::string image_id;
    std::int64_t created_ns = 0, last_used_ns = 0;
    int usage = 0;
  };
  void save_locked() const;
  std::string path_;
  mutable std::mutex mu_;
  std::map<std::string, Entry> entries_;
  std::map<std::string, int> held_;  // key → how many sessions hold it
};

// --cache-from, as dockerd's classic builder (daemon/images/cache.go): the named images that are
// in the store (a missing one is skipped; nothing is pulled) are the cache's sources. A step on
// `parent` matches a source whose history and layers begin with the parent's and whose next
// history entry's created_by is the step's; the step's image is then made from the parent, that
// entry (its times) and its layer (the same blob and snapshot), with the step's config; a source
// whose last entry it is gives the source itself. After a match only that source is used. With
// sources, a step of the local cache is used only when its image is a source or an ancestor of
// one (dockerd's isParent).
class CacheFrom {
 public:
  CacheFrom(image::Store& store, const std::vector<std::string>& refs);
  bool empty() const { return sources_.empty(); }
  bool vouches(const Digest& image) const;
  std::optional<Digest> probe(const std::optional<Digest>& parent, const std::string& created_by,
                              const std::string& config_json);

 private:
  image::Store& store_;
  std::vector<Digest> sources_;
};

}  // namespace hoist::engine
