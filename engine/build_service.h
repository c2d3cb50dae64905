// Dockerfile builds: the engine side of builder/ (the executor that docs/architecture.md's
// "Inside the builder" describes), as dockerd 20.10's classic builder runs them.
//
// The context (a tar, plain or compressed) is extracted into a directory of the build's own
// under the image store's tmp/ (gone with the build, or at the next start of hoistd after a
// crash); the Dockerfile is read from it and planned (builder/planner.h). The stages the target
// needs run in the Dockerfile's order, each step of a stage through builder::StageEvaluator:
//   - every step is looked up in the build cache first (its key: builder/cache_key.h over the
//     parent's key, the step's text and, for COPY/ADD, the hashes of the files it reads), then
//     in the history of the --cache-from images (build_cache.h CacheFrom, dockerd's rule);
//   - else it gets a container of the engine (ContainerService) made from the previous step's
//     image, with the build's resources in its HostConfig (build_resources.h): RUN starts it (network `default`, `none` or `host`) and streams its output, with
//     BuildKit's RUN --mount as the container's HostConfig.Mounts: bind (the context, a stage or
//     an image; the source resolved inside its tree, read-only, or a copy for rw whose writes
//     are discarded), cache (build_mounts.h), tmpfs, secret (a file in the exec root, or env=;
//     BuildOptions::secrets), and heredoc scripts read-only under /dev/pipes/; what binds read
//     is hashed into the cache key as COPY's sources are; COPY/ADD and
//     WORKDIR write into its root file system through ContainerFs (every destination resolved
//     inside the container; the sources resolved inside the context or the source stage's root,
//     build_sources.h); a metadata step only commits it;
//   - the container's changes become the step's image (image/commit.h, the layer maker), with
//     the step's config and history entry (created_by, empty_layer, author) as the classic
//     builder writes them; the container is removed (also when the step fails, except a RUN
//     that exited non-zero: kept unless forcerm, as the classic builder keeps it).
// The step containers carry the label io.hoist.build: those an interrupted build left (hoistd
// killed) are removed when the service starts; the build's directory goes with the store's tmp/.
// The output is the classic builder's text ("Step 1/5 : FROM busybox", " ---> Running in ...",
// " ---> Using cache", " ---> <id>"); the API wraps it in its JSON stream.
//
// COPY/ADD (BuildKit's flags, which dockerd 20.10's classic builder refuses, as BuildKit reads
// them): --chmod=<octal> (every copied entry but symlinks and the directories the copy makes),
// --exclude=<pattern> (dockerignore-style; matched against the paths below a directory source
// and the names of a wildcard's matches), --parents (the source's directories from the context
// root, or from a "/./" pivot, kept below the destination), --link (copied into an empty root,
// the destination resolved there, --chown's names in the parent's; its layer keyed without the
// parent, so a step built before on another parent gives the same layer again, as BuildKit's
// cache; overlay snapshots), heredoc sources (files 0644), ADD of an http(s) URL
// (build_fetch.h: mode 0600, mtime from Last-Modified, never extracted unless --unpack,
// --checksum=sha256:... checked). ADD extracts a local file only when it is a tar (plain or
// compressed). All of it is in the step's cache key (the flags in the step's text, the URL's
// content in the sources' hashes).
//
// FROM and COPY --from of an image not in the store (or any, with `pull`) pull it through
// image::pull_image, the progress in the output as dockerd's JSON progress lines.
//
// Not supported yet, refused with an error naming them: RUN --mount=type=ssh, --security;
// COPY/ADD of a git repository.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "engine/build_cache.h"
#include "engine/build_sources.h"
#include "engine/build_mounts.h"
#include "engine/build_prune.h"
#include "engine/build_resources.h"
#include "image/install.h"
#include "image/layer.h"
#include "image/registry.h"

namespace hoist::engine {

class Daemon;
class ContainerService;

struct BuildOptions {
  std::string dockerfile = "Dockerfile";  // its path in the context
  std::vector<std::string> tags;          // references, checked before anything runs
  bool nocache = false;
  bool rm = true, forcerm = false;        // forcerm: a failed RUN's container goes too
  std::map<std::string, std::optional<std::string>> build_args;
  std::map<std::string, std::string> labels;
  std::string target;
  std::string network_mode = "default";   // RUN's network: default (bridge) or none
  // The name of the context's entry (top level) in which hoist's CLI describes the context's files
  // (header X-Hoist-Context-Stat; engine/build_sources.h ContextStats): read, then removed.
  std::string context_stat_entry;
  std::map<std::string, std::string> secrets;  // RUN --mount=type=secret: id → the secret's bytes
  bool pull = false;                      // pull every base image, even one in the store
  BuildResources resources;               // every step container's limits, hosts, cgroup parent
  std::vector<std::string> cache_from;    // images whose history serves as cache (build_cache.h CacheFrom)
  // An http(s) URL the context is fetched from instead of the body: a tar (plain or compressed),
  // or else a Dockerfile alone (dockerd's rule). A git repository is refused.
  std::string remote;
  // The registry settings (credentials) for a registry host; unset: the daemon's.
  std::function<image::RegistrySettings(const std::string& host)> registry;
};

struct BuildOutput {
  std::function<void(std::string_view text)> stream;  // the builder's text, as it comes
  std::function<void(const std::string& image_id)> aux;
  // A pull's or a download's progress message (the API's {"status":...,"id":...}).
  std::function<void(const image::ProgressEvent& e)> progress;
  // A message of the API's stream given whole (a JSON object's text), for those dockerd writes
  // in a shape of their own (a remote context's download).
  std::function<void(const std::string& json)> message;
};

// A RUN step that exited with a non-zero code (dockerd's message; the code for errorDetail).
class StepFailed : public Error {
 public:
  StepFailed(const std::string& msg, int code) : Error(msg), code_(code) {}
  int code() const { return code_; }

 private:
  int code_;
};

class BuildService {
 public:
  BuildService(Daemon& d, ContainerService& svc);
  ~BuildService();
  // Runs the build of the context read through `context`; returns the image id and names it
  // with `tags`. Throws InvalidArgument for a bad tag or Dockerfile (before any output),
  // StepFailed, or Error naming what failed.
  std::string build(const BuildOptions& opts, const image::ReadFn& context, const BuildOutput& out);

  // The build cache (build_prune.h): its records for /system/df, and /build/prune.
  std::vector<BuildCacheRecord> cache_records();
  BuildPruneReport prune_cache(const BuildPruneOptions& opts);

 private:
  struct Run;
  Daemon& d_;
  ContainerService& svc_;
  BuildCache cache_;
  HashMemo memo_;  // context files' hashes by the client's view of them, across builds
  CacheMounts cache_mounts_;
};

}  // namespace hoist::engine
