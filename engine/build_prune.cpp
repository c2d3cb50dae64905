// The build cache's records and its prune (build_prune.h).
#include "engine/build_prune.h"

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "common/clock.h"
#include "common/digest.h"
#include "common/error.h"
#include "common/log.h"
#include "engine/build_service.h"
#include "engine/daemon.h"
#include "volumes/volume_store.h"

namespace hoist::engine {

namespace {

using nlohmann::json;

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A BuildKit-like record id (25 characters) of a name of ours.
std::string record_id(const std::string& name) {
  Hasher h;
  h.update(name);
  return h.digest().hex.substr(0, 25);
}

// The bytes an image's own layer holds (0 for an image that adds none).
std::int64_t own_layer_size(image::Store& store, const image::ImageRecord& rec) {
  std::size_t below = 0;
  if (rec.parent)
    if (auto p = store.get(*rec.parent)) below = p->layers.size();
  if (rec.layers.size() <= below || rec.layers.empty()) return 0;
  try {
    return store.snapshot_size(rec.layers.back().chain_id);
  } catch (const std::exception&) {
    return 0;
  }
}

std::string last_created_by(image::Store& store, const Digest& id) {
  try {
    json c = json::parse(store.content().read(id), nullptr, false);
    if (c.contains("history") && c["history"].is_array() && !c["history"].empty())
      return c["history"].back().value("created_by", "");
  } catch (const std::exception&) {
  }
  return "";
}

bool field_matches(const BuildCacheRecord& r, const std::string& k, const std::optional<std::string>& v) {
  auto boolean = [&](bool b) { return v ? *v == (b ? "true" : "false") : b; };
  if (k == "id") {
    if (!v) return true;
    try {
      return std::regex_search(r.id, std::regex(*v));
    } catch (const std::regex_error&) {
      throw InvalidArgument("invalid filter id: bad regular expression " + *v);
    }
  }
  if (k == "parent") return v ? r.parent == *v : !r.parent.empty();
  if (k == "type") return v ? r.type == *v : !r.type.empty();
  if (k == "description") return v ? r.description == *v : !r.description.empty();
  if (k == "inuse") return boolean(r.in_use);
  if (k == "shared") return boolean(r.shared);
  if (k == "private") return boolean(r.is_private);
  return true;
}

}  // namespace

void BuildPruneOptions::read_filters(const std::map<std::string, std::vector<std::string>>& filters) {
  static const std::set<std::string> fields = {"id", "parent", "type", "description", "inuse", "shared", "private"};
  for (const auto& [k, values] : filters) {
    if (k != "until" && k != "unused-for" && k != "label" && k != "label!" && !fields.count(k))
      throw InvalidArgument("failed to prune build cache: Invalid filter '" + k + "'");
  }
  auto until = filters.find("until"), unused = filters.find("unused-for");
  bool has_until = until != filters.end() && !until->second.empty();
  bool has_unused = unused != filters.end() && !unused->second.empty();
  if (has_until && has_unused) throw InvalidArgument("failed to prune build cache: conflicting filters: \"until\" and \"unused-for\"");
  if (has_until || has_unused) {
    const auto& values = has_until ? until->second : unused->second;
    if (values.size() > 1) throw InvalidArgument("failed to prune build cache: filters expect only one value");
    try {
      keep_duration_ns = parse_go_duration_ns(values[0]);
    } catch (const InvalidArgument& e) {
      // dockerd: a 500.
      throw Error(std::string("failed to prune build cache: \"") + (has_until ? "until" : "unused-for") + "\" filter expects a duration (e.g., '24h'): " +
                  e.what());
    }
  }
  for (const std::string& k : fields) {
    auto it = filters.find(k);
    if (it == filters.end()) continue;
    if (it->second.size() > 1) throw InvalidArgument("failed to prune build cache: filters expect only one value");
    if (!it->second.empty() && it->second[0].size() > 1024)
      throw InvalidArgument("failed to prune build cache: filter " + k + ": value too long");
    this->fields[k] = it->second.empty() ? std::nullopt : std::optional<std::string>(it->second[0]);
  }
}

std::vector<BuildCacheRecord> BuildService::cache_records() {
  std::vector<BuildCacheRecord> out;
  image::Store& store = d_.store();
  std::vector<BuildCacheEntry> entries = cache_.entries();
  std::map<std::string, std::string> id_of_image;  // image id → the record of its (first) entry
  for (const BuildCacheEntry& e : entries)
    if (!id_of_image.count(e.image_id)) id_of_image[e.image_id] = record_id("index:" + e.key);
  // The images a user has (tagged, or used by a container) and their ancestors: the entries of
  // those share their storage with them.
  std::set<std::string> users_images;
  {
    std::map<std::string, std::optional<Digest>> parent_of;
    std::vector<Digest> roots;
    for (const image::ImageRecord& rec : store.list()) {
      parent_of[rec.id.str()] = rec.parent;
      if (!store.references(rec.id).empty() || (d_.hooks().image_user && d_.hooks().image_user(rec.id).has_value()))
        roots.push_back(rec.id);
    }
    for (const Digest& r : roots) {
      std::optional<Digest> at = r;
      while (at && users_images.insert(at->str()).second) {
        auto p = parent_of.find(at->str());
        at = p == parent_of.end() ? std::nullopt : p->second;
      }
    }
  }
  for (const BuildCacheEntry& e : entries) {
    std::optional<Digest> img;
    try {
      img = Digest::parse(e.image_id);
    } catch (const std::exception&) {
      continue;
    }
    std::optional<image::ImageRecord> rec = store.get(*img);
    if (!rec) continue;  // its image is gone: dropped at the next lookup, not cache any more
    BuildCacheRecord r;
    r.id = record_id("index:" + e.key);
    r.type = "regular";
    r.description = last_created_by(store, rec->id);
    r.in_use = e.in_use;
    r.shared = users_images.count(rec->id.str()) > 0;
    r.size = own_layer_size(store, *rec);
    r.created_ns = e.created_ns;
    if (r.created_ns == 0) r.created_ns = std::max<std::int64_t>(0, parse_rfc3339_ns(rec->created));
    r.last_used_ns = e.last_used_ns;
    r.usage = e.usage;
    if (rec->parent)
      if (auto p = id_of_image.find(rec->parent->str()); p != id_of_image.end()) r.parent = p->second;
    r.index_key = e.key;
    r.image_id = e.image_id;
    out.push_back(std::move(r));
  }
  for (const CacheMounts::Record& m : cache_mounts_.list()) {
    BuildCacheRecord r;
    r.id = record_id("mount:" + m.key + "/" + std::to_string(m.instance));
    r.type = "exec.cachemount";
    r.description = m.description.empty() ? "cached mount " + m.cache_id : m.description;
    r.in_use = m.in_use;
    r.is_private = m.sharing == "private";
    r.size = volumes::VolumeStore::disk_usage(m.path);
    r.created_ns = m.created_ns;
    r.last_used_ns = m.last_used_ns;
    r.usage = m.usage;
    r.mount_key = m.key;
    r.mount_instance = m.instance;
    out.push_back(std::move(r));
  }
  for (const ContextCache::Kept& k : contexts_.list()) {
    BuildCacheRecord r;
    r.id = record_id("context:" + k.key);
    r.type = "source.local";
    r.description = "local source for context";
    r.in_use = k.in_use;
    r.size = k.size;
    r.created_ns = k.created_ns;
    r.last_used_ns = k.last_used_ns;
    r.context_key = k.key;
    out.push_back(std::move(r));
  }
  return out;
}

BuildPruneReport BuildService::prune_cache(const BuildPruneOptions& o) {
  std::vector<BuildCacheRecord> all = cache_records();
  std::int64_t now = now_ns();
  std::vector<const BuildCacheRecord*> picked;
  for (const BuildCacheRecord& r : all) {
    if (r.in_use) continue;
    // A shared record, a step entry whose image a user's image needs, stays even with `all`:
    // removing it would free nothing and only lose the step for the next build, whereas dockerd's
    // classic builder's prune leaves its step images, which its next build uses again.
    if (r.shared) continue;
    if (o.keep_duration_ns > 0) {
      std::int64_t used = r.last_used_ns ? r.last_used_ns : r.created_ns;
      if (used > now - o.keep_duration_ns) continue;
    }
    bool match = true;
    for (const auto& [k, v] : o.fields) match = match && field_matches(r, k, v);
    if (match) picked.push_back(&r);
  }
  if (o.keep_storage > 0) {
    // The least recently used go first, until what stays fits.
    std::int64_t total = 0;
    for (const BuildCacheRecord& r : all)
      if (!r.shared) total += r.size;
    std::sort(picked.begin(), picked.end(), [](const BuildCacheRecord* a, const BuildCacheRecord* b) {
      std::int64_t ua = a->last_used_ns ? a->last_used_ns : a->created_ns;
      std::int64_t ub = b->last_used_ns ? b->last_used_ns : b->created_ns;
      return ua < ub;
    });
    std::vector<const BuildCacheRecord*> within;
    for (const BuildCacheRecord* r : picked) {
      if (total <= o.keep_storage) break;
      within.push_back(r);
      if (!r->shared) total -= r->size;
    }
    picked = within;
  }

  BuildPruneReport rep;
  std::set<std::string> images;  // of the entries removed
  for (const BuildCacheRecord* r : picked) {
    if (!r->context_key.empty()) {
      if (auto size = contexts_.remove(r->context_key)) {
        rep.deleted.push_back(r->id);
        rep.reclaimed += *size;
      }
    } else if (r->mount_instance >= 0) {
      try {
        if (auto size = cache_mounts_.remove(r->mount_key, r->mount_instance)) {
          rep.deleted.push_back(r->id);
          rep.reclaimed += *size;
        }
      } catch (const std::exception& e) {
        log::warn(std::string("build prune: cache mount ") + r->id + ": " + e.what());
      }
    } else if (cache_.remove_unused(r->index_key)) {
      rep.deleted.push_back(r->id);
      images.insert(r->image_id);
    }
  }
  // The images of the entries removed that nothing else needs go, children first.
  image::Store& store = d_.store();
  for (bool progress = true; progress && !images.empty();) {
    progress = false;
    std::set<std::string> needed;  // images of the entries that stay, and the parents of any image
    for (const BuildCacheEntry& e : cache_.entries()) needed.insert(e.image_id);
    for (const image::ImageRecord& rec : store.list())
      if (rec.parent) needed.insert(rec.parent->str());
    for (auto it = images.begin(); it != images.end();) {
      std::optional<image::ImageRecord> rec;
      try {
        rec = store.get(Digest::parse(*it));
      } catch (const std::exception&) {
      }
      if (!rec) {
        it = images.erase(it);
        continue;
      }
      if (needed.count(*it) || !store.references(rec->id).empty() ||
          (d_.hooks().image_user && d_.hooks().image_user(rec->id).has_value())) {
        ++it;
        continue;
      }
      std::int64_t size = own_layer_size(store, *rec);
      try {
        store.remove(rec->id.str(), false);
        rep.reclaimed += size;
        d_.publish_image_event("delete", rec->id.str(), rec->id.str());
        progress = true;
      } catch (const std::exception& e) {
        log::warn("build prune: remove image " + rec->id.short_id() + ": " + e.what());
      }
      it = images.erase(it);
    }
  }
  return rep;
}

}  // namespace hoist::engine
