// The build cache: which image a build step made, by the step's cache key (builder/cache_key.h),
// kept across restarts of hoistd in <data-root>/builder/cache.json (written atomically after each
// new entry). An entry whose image is gone is dropped when it is looked up.
#pragma once
#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace hoist::engine {

class BuildCache {
 public:
  // Loads the file at `path` (a missing or unreadable one is an empty cache).
  explicit BuildCache(std::string path);
  std::optional<std::string> get(const std::string& key) const;
  void put(const std::string& key, const std::string& image_id);
  void drop(const std::string& key);

 private:
  void save_locked() const;
  std::string path_;
  mutable std::mutex mu_;
  std::map<std::string, std::string> entries_;  // key → image id
};

}  // namespace hoist::engine
