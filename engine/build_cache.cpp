#include "engine/build_cache.h"

#include <chrono>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/file.h"
#include "common/log.h"
#include "image/commit.h"

namespace hoist::engine {

namespace {

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

BuildCache::BuildCache(std::string path) : path_(std::move(path)) {
  if (!path_exists(path_)) return;
  try {
    auto j = nlohmann::json::parse(read_file(path_));
    if (j.is_object() && j.contains("steps") && j["steps"].is_object())
      for (auto& [k, v] : j["steps"].items()) {
        if (v.is_string()) {  // the older form: the image id alone
          entries_[k].image_id = v.get<std::string>();
        } else if (v.is_object() && v.contains("image") && v["image"].is_string()) {
          Entry& e = entries_[k];
          e.image_id = v["image"].get<std::string>();
          e.created_ns = v.value("created", std::int64_t{0});
          e.last_used_ns = v.value("last_used", std::int64_t{0});
          e.usage = v.value("usage", 0);
        }
      }
  } catch (const std::exception& e) {
    log::warn("build cache " + path_ + ": " + e.what() + " (starting empty)");
  }
}

std::optional<std::string> BuildCache::get(const std::string& key) const {
  std::lock_guard lk(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  return it->second.image_id;
}

void BuildCache::put(const std::string& key, const std::string& image_id) {
  std::lock_guard lk(mu_);
  Entry& e = entries_[key];
  e = Entry{};
  e.image_id = image_id;
  e.created_ns = now_ns();
  save_locked();
}

void BuildCache::drop(const std::string& key) {
  std::lock_guard lk(mu_);
  if (entries_.erase(key)) save_locked();
}

std::vector<BuildCacheEntry> BuildCache::entries() const {
  std::lock_guard lk(mu_);
  std::vector<BuildCacheEntry> out;
  for (auto& [k, e] : entries_) {
    auto h = held_.find(k);
    out.push_back({k, e.image_id, e.created_ns, e.last_used_ns, e.usage, h != held_.end() && h->second > 0});
  }
  return out;
}

bool BuildCache::remove_unused(const std::string& key) {
  std::lock_guard lk(mu_);
  auto h = held_.find(key);
  if (h != held_.end() && h->second > 0) return false;
  if (!entries_.erase(key)) return false;
  save_locked();
  return true;
}

void BuildCache::save_locked() const {
  nlohmann::json steps = nlohmann::json::object();
  for (auto& [k, e] : entries_) {
    nlohmann::json v = {{"image", e.image_id}, {"created", e.created_ns}};
    if (e.last_used_ns) v["last_used"] = e.last_used_ns;
    if (e.usage) v["usage"] = e.usage;
    steps[k] = v;
  }
  std::string dir = path_.substr(0, path_.rfind('/'));
  mkdir_all(dir, 0700);
  // Atomic (a kill -9 leaves the old or the new file) but not synced: the cache only saves work,
  // a file lost with the machine reads as an empty cache, and an fsync here would wait for
  // whatever else is being flushed (the build's context, a layer).
  write_file_atomic(path_, nlohmann::json{{"steps", steps}}.dump(), 0600, false);
}

void BuildCache::Session::hold(const std::string& key) {
  // Called with c_.mu_ held.
  for (const std::string& k : held_)
    if (k == key) return;
  held_.push_back(key);
  ++c_.held_[key];
}

BuildCache::Session::~Session() {
  std::lock_guard lk(c_.mu_);
  for (const std::string& k : held_)
    if (--c_.held_[k] <= 0) c_.held_.erase(k);
}

std::optional<std::string> BuildCache::Session::get(const std::string& key) {
  std::lock_guard lk(c_.mu_);
  auto it = c_.entries_.find(key);
  if (it == c_.entries_.end()) return std::nullopt;
  hold(key);
  it->second.last_used_ns = now_ns();
  ++it->second.usage;
  try {
    c_.save_locked();
  } catch (const std::exception& e) {
    log::warn(std::string("build cache: ") + e.what());
  }
  return it->second.image_id;
}

void BuildCache::Session::put(const std::string& key, const std::string& image_id) {
  std::lock_guard lk(c_.mu_);
  Entry& e = c_.entries_[key];
  e = Entry{};
  e.image_id = image_id;
  e.created_ns = now_ns();
  hold(key);  // before a prune can see it
  c_.save_locked();
}

CacheFrom::CacheFrom(image::Store& store, const std::vector<std::string>& refs) : store_(store) {
  for (const std::string& r : refs) {
    try {
      sources_.push_back(store_.resolve(r).id);
    } catch (const std::exception& e) {
      log::warn("build: could not look up cache source image " + r + ": " + e.what());  // dockerd skips it too
    }
  }
}

bool CacheFrom::vouches(const Digest& image) const {
  for (const Digest& s : sources_) {
    std::optional<Digest> at = s;
    for (int depth = 0; at && depth < 10000; ++depth) {
      if (*at == image) return true;
      auto rec = store_.get(*at);
      at = rec ? rec->parent : std::nullopt;
    }
  }
  return false;
}

namespace {

struct ImageView {
  nlohmann::json history = nlohmann::json::array();
  std::vector<std::string> diff_ids;
};

ImageView view_of(image::Store& store, const Digest& id) {
  ImageView v;
  auto c = nlohmann::json::parse(store.content().read(id), nullptr, false);
  if (!c.is_object()) return v;
  if (c.contains("history") && c["history"].is_array()) v.history = c["history"];
  if (c.contains("rootfs") && c["rootfs"].is_object() && c["rootfs"].contains("diff_ids") &&
      c["rootfs"]["diff_ids"].is_array())
    for (auto& d : c["rootfs"]["diff_ids"])
      if (d.is_string()) v.diff_ids.push_back(d.get<std::string>());
  return v;
}

// A history entry as Go's image.History compares (its fields; a missing one is its zero value).
bool same_entry(const nlohmann::json& a, const nlohmann::json& b) {
  for (const char* k : {"created", "created_by", "author", "comment"})
    if (a.value(k, "") != b.value(k, "")) return false;
  return a.value("empty_layer", false) == b.value("empty_layer", false);
}

}  // namespace

std::optional<Digest> CacheFrom::probe(const std::optional<Digest>& parent, const std::string& created_by,
                                       const std::string& config_json) {
  ImageView p;
  if (parent) p = view_of(store_, *parent);
  std::size_t n = p.history.size();
  for (const Digest& src : sources_) {
    ImageView t = view_of(store_, src);
    if (t.history.empty()) continue;
    // isValidParent
    bool valid = true;
    if (parent && !(p.history.empty() && p.diff_ids.empty())) {
      valid = n < t.history.size() && p.diff_ids.size() <= t.diff_ids.size();
      for (std::size_t i = 0; valid && i < n; ++i) valid = same_entry(p.history[i], t.history[i]);
      for (std::size_t i = 0; valid && i < p.diff_ids.size(); ++i) valid = p.diff_ids[i] == t.diff_ids[i];
    }
    if (!valid || n >= t.history.size() || t.history[n].value("created_by", "") != created_by) continue;
    if (n + 1 == t.history.size()) return src;  // its last step: the source itself
    // The layer of entry n: the (number of non-empty entries before it)th.
    std::optional<image::LayerInfo> layer;
    if (!t.history[n].value("empty_layer", false)) {
      std::size_t li = 0;
      for (std::size_t i = 0; i < n; ++i)
        if (!t.history[i].value("empty_layer", false)) ++li;
      auto rec = store_.get(src);
      if (!rec || li >= rec->layers.size()) continue;
      layer = rec->layers[li];
      std::size_t below = 0;
      if (parent)
        if (auto pr = store_.get(*parent)) below = pr->layers.size();
      if (li != below) continue;  // the parent's layers are not those below it
    }
    image::CommitInput in;
    in.parent = parent;
    in.reuse_layer = layer;
    in.history_entry_json = t.history[n].dump();
    in.config_json = config_json;
    in.compression = image::LayerCompression::None;
    Digest id = image::commit_image(store_, in).record.id;
    sources_ = {src};  // dockerd: no jumping to another source afterwards
    return id;
  }
  return std::nullopt;
}

}  // namespace hoist::engine
