// The build cache as /system/df and /build/prune see it (BuildService::cache_records and
// prune_cache, in build_prune.cpp). Hoist's build cache is
//   - the cache index (build_cache.h): one record per step entry, Type "regular", its Size the
//     layer its image adds, Parent the entry of its image's parent; Shared when the image is also
//     a user's (tagged, or used by a container, or the ancestor of one): its layers stay with the
//     image whatever the cache does;
//   - RUN --mount=type=cache's directories (build_mounts.h): one record per instance, Type
//     "exec.cachemount", BuildKit's description ("cached mount <target> from exec <cmd>");
//   - the contexts kept for hoist's CLI (build_context_cache.h): Type "source.local", BuildKit's
//     description of a local context ("local source for context").
// A record a running build uses is InUse and never pruned. Pruning an index entry removes the
// entry, then its image when nothing else needs it (no tag, no container, no child image, no
// other entry): the step images are the cache's storage, as dockerd's classic builder's.
// dockerd 20.10's prune rules (BuildKit's): shared records stay, with `all` too (the only shared
// records are step entries whose images a user's image needs: removing one frees nothing and only
// loses the step, which dockerd's classic builder's prune never does; `all` then changes nothing
// for Hoist's records, whose others are never shared); `until` (or
// `unused-for`) keeps what was used within that duration; `keep-storage` prunes the least
// recently used first until the cache is no larger; filters id (a regexp), parent, type,
// description (exact), inuse, shared, private.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace hoist::engine {

struct BuildCacheRecord {
  std::string id, parent, type, description;
  bool in_use = false, shared = false, is_private = false;
  std::int64_t size = 0, created_ns = 0, last_used_ns = 0;  // last_used_ns 0: never used again
  int usage = 0;
  // Where it is: an index entry's key, a cache mount's key and instance, or a kept context's key.
  std::string index_key, image_id, mount_key, context_key;
  int mount_instance = -1;
};

struct BuildPruneOptions {
  bool all = false;
  std::int64_t keep_storage = 0;      // bytes; 0: no limit
  std::int64_t keep_duration_ns = 0;  // until / unused-for; 0: none
  // BuildKit's filter fields: name → value (nullopt: the bare key, a boolean true).
  std::map<std::string, std::optional<std::string>> fields;

  // /build/prune's filters as dockerd reads them; InvalidArgument with its words.
  void read_filters(const std::map<std::string, std::vector<std::string>>& filters);
};

struct BuildPruneReport {
  std::vector<std::string> deleted;  // record ids
  std::int64_t reclaimed = 0;
};

}  // namespace hoist::engine
