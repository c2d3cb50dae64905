#include "engine/build_cache.h"

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/file.h"
#include "common/log.h"

namespace hoist::engine {

BuildCache::BuildCache(std::string path) : path_(std::move(path)) {
  if (!path_exists(path_)) return;
  try {
    auto j = nlohmann::json::parse(read_file(path_));
    if (j.is_object() && j.contains("steps") && j["steps"].is_object())
      for (auto& [k, v] : j["steps"].items())
        if (v.is_string()) entries_[k] = v.get<std::string>();
  } catch (const std::exception& e) {
    log::warn("build cache " + path_ + ": " + e.what() + " (starting empty)");
  }
}

std::optional<std::string> BuildCache::get(const std::string& key) const {
  std::lock_guard lk(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  return it->second;
}

void BuildCache::put(const std::string& key, const std::string& image_id) {
  std::lock_guard lk(mu_);
  entries_[key] = image_id;
  save_locked();
}

void BuildCache::drop(const std::string& key) {
  std::lock_guard lk(mu_);
  if (entries_.erase(key)) save_locked();
}

void BuildCache::save_locked() const {
  nlohmann::json steps = nlohmann::json::object();
  for (auto& [k, v] : entries_) steps[k] = v;
  std::string dir = path_.substr(0, path_.rfind('/'));
  mkdir_all(dir, 0700);
  // Atomic (a kill -9 leaves the old or the new file) but not synced: the cache only saves work,
  // a file lost with the machine reads as an empty cache, and an fsync here would wait for
  // whatever else is being flushed (the build's context, a layer).
  write_file_atomic(path_, nlohmann::json{{"steps", steps}}.dump(), 0600, false);
}

}  // namespace hoist::engine
