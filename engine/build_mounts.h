// RUN --mount and heredoc scripts, as BuildKit gives them to a step (the step's container gets
// them as HostConfig.Mounts and Tmpfs of the container service):
//   - bind: the context, a stage's or an image's root; the source resolved inside its tree,
//     read-only, or a copy for rw whose writes are discarded; what binds read is hashed into the
//     step's cache key as COPY's sources are (resolve_mounts, before the cache lookup);
//   - cache: below (CacheMounts), made from a stage's directory with from=;
//   - tmpfs (nosuid only, as BuildKit's); secret (a file in the exec root, or env=, from
//     BuildOptions::secrets); ssh (a socket of the client's session, build_ssh.h, at the target,
//     /run/buildkit/ssh_agent.<n> by default, and SSH_AUTH_SOCK the first one's unless the step's
//     env has it); heredoc scripts read-only under /dev/pipes/.
// The empty files the runtime makes to mount files on are listed (file_targets), so that the
// step's layer does not keep them.
//
// RUN --mount=type=cache's directories: kept by hoistd across builds and restarts under
// <data-root>/builder/cache-mounts/<sha256 of the cache id (and from='s source)>/<instance>, never part of a layer
// (the step's container gets them as bind mounts of the container service). Who uses which
// instance is known to this process only (a restart ends every build anyway):
//   - shared: instance 0, any number of steps at once;
//   - locked: instance 0, one step at a time (the others wait);
//   - private: the first instance nobody uses, a new one when all are busy.
// A directory made for the first time gets the mount's mode and owner (0755 0:0 by default) and,
// when the mount names `from`, the caller's initial content (init).
// Each instance is a record of the build cache (/system/df's BuildCache, /build/prune): what it is
// (the mount's target and the RUN that made it), when it was made and last used and how often,
// kept in <root>/index.json (atomic writes, not synced: a lost index only loses those times). An
// instance in use by a step is never removed; one removed is renamed aside under the lock first,
// so that no step gets it half removed.
#pragma once
#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <optional>
#include <vector>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "builder/stage_eval.h"
#include "engine/build_sources.h"
#include "engine/build_ssh.h"
#include "engine/build_workspace.h"

namespace hoist::engine {

class CacheMounts {
 public:
  explicit CacheMounts(std::string root);

  class Lease {
   public:
    Lease(Lease&& o) noexcept;
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    const std::string& path() const { return path_; }

   private:
    friend class CacheMounts;
    Lease(CacheMounts* owner, std::string key, int instance, std::string path)
        : owner_(owner), key_(std::move(key)), instance_(instance), path_(std::move(path)) {}
    CacheMounts* owner_;
    std::string key_;
    int instance_;
    std::string path_;
  };

  struct NewDir {
    unsigned mode = 0755;
    uid_t uid = 0;
    gid_t gid = 0;
    std::function<void(const std::string& dir)> init;  // fills a directory just made
    // A cache made from= a stage or image: its source's hash ("dir:<hex>"). Part of the cache's
    // key, as BuildKit keys such a cache by its id and its source: another source, another cache.
    std::string seed;
    std::string description;  // BuildKit's: "cached mount /root/.cache from exec /bin/sh -c ..."
  };
  struct Record {
    std::string key;  // the sha256 hex of the cache id
    int instance = 0;
    std::string path, cache_id, sharing, description;
    std::int64_t created_ns = 0, last_used_ns = 0;
    int usage = 0;
    bool in_use = false;
  };
  // The directory of cache `id` for a step with `sharing` ("shared", "private", "locked"; ""
  // is shared), held until the lease goes. `fresh`: emptied first (made anew) unless another
  // step uses it at the moment.
  Lease acquire(const std::string& id, const std::string& sharing, const NewDir& made, bool fresh = false);
  // Every instance on disk, with its use and times.
  std::vector<Record> list();
  // Removes an instance nobody uses (renamed aside under the lock, then deleted); returns the bytes
  // it held, or nullopt when it is in use or gone.
  std::optional<std::int64_t> remove(const std::string& key, int instance);

 private:
  struct Use {
    int users = 0;
    bool exclusive = false;
  };
  void release(const std::string& key, int instance);
  void load_index();
  void save_index_locked();
  struct Meta {
    std::string cache_id, sharing, description;
    std::int64_t created_ns = 0, last_used_ns = 0;
    int usage = 0;
  };
  std::string root_;
  std::map<std::string, Meta> meta_;  // "<key>/<instance>" → its record
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::map<int, Use>> uses_;
};

// RUN --mount and heredoc scripts: what the step's container mounts (HostConfig.Mounts of the
// container service), the env it adds, and what holds the mounts' sources until the step ends.
struct RunMounts {
  std::vector<std::unique_ptr<TreeHold>> trees;            // per mount (null: none)
  std::vector<const SourceTree*> tree_of;                  // per mount: where its source is
  std::vector<std::optional<ResolvedSource>> sources;      // per mount: bind's or cache from='s source
  nlohmann::json mounts = nlohmann::json::array();       // HostConfig.Mounts
  nlohmann::json tmpfs = nlohmann::json::object();      // HostConfig.Tmpfs: destination → options
  std::vector<std::string> env;                            // secrets as env=, SSH_AUTH_SOCK
  std::vector<std::unique_ptr<SshSession::Socket>> ssh;    // ssh mounts' sockets
  std::vector<CacheMounts::Lease> caches;
  std::vector<std::string> dirs;                           // removed when the step ends
  std::vector<std::string> file_targets;                   // file binds: the stubs the runtime makes
  ~RunMounts() { release(); }
  void release();
};

// Before the cache lookup: the sources of bind mounts (and of caches made from a stage), resolved
// inside their tree and held; their hashes ("<mount index>:<hash>") added to `hashes`.
void resolve_mounts(const StepTrees& trees, const builder::Step& s, RunMounts& rm, std::vector<std::string>& hashes);

// After a cache miss: the mounts themselves (`caches`: the cache mounts' directories, emptied
// first with `nocache`).
void prepare_mounts(BuildWorkspace& ws, CacheMounts& caches, const builder::Step& s, RunMounts& rm);

}  // namespace hoist::engine
