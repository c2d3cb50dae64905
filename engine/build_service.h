// Dockerfile builds, as dockerd 20.10's classic builder runs them: the engine side of builder/
// (docs/architecture.md, "Inside the builder").
//
// build(): the tags checked; the context made ready in a directory of the build's own under the
// image store's tmp/ (gone with the build, or at the next start of hoistd after a crash;
// build_context.h); the Dockerfile planned (builder/planner.h) and run by the builder's runner
// (builder/build_runner.h: stage and step order, cache keys and lookups, the classic builder's
// text "Step 1/5 : FROM busybox", " ---> Using cache", " ---> <id>") through the engine's
// executor (build_executor.h: pulls, the build cache (a session of it: what the build hits or
// makes is in use until it ends) and then the --cache-from images' history (build_cache.h
// CacheFrom, dockerd's rule), the steps' containers with the build's resources in their
// HostConfig (build_resources.h) and their commits;
// build_copy.h: COPY/ADD/WORKDIR into a container; build_mounts.h: RUN --mount; build_workspace.h:
// the build's directory and containers); the result tagged. The API wraps the text in its JSON
// stream.
//
// The step containers carry the label io.hoist.build: those an interrupted build left (hoistd
// killed) are removed when the service starts; a failed RUN's container a build keeps on purpose
// loses the label (BuildWorkspace::keep_container).
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
// The platform built for (BuildOptions::platform, FROM --platform) is checked against a stage's
// base image and is the one pulled (build_platform.h). RUN --security=insecure runs the
// container privileged, only when the request grants the entitlement (allow_insecure, else
// BuildKit's "security.insecure is not allowed"). The context may be the copy kept from the
// last build of the same directory, updated by the body (build_context_cache.h).
//
// RUN --mount=type=ssh reaches the client's agent through the session the request names
// (build_ssh.h). ADD of a git repository is BuildKit's (build_copy.h); not supported yet, refused
// with an error naming it: COPY of a git repository.
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
#include "engine/build_context_cache.h"
#include "engine/build_mounts.h"
#include "engine/build_prune.h"
#include "engine/build_options.h"
#include "engine/build_sources.h"
#include "image/install.h"

namespace hoist::engine {

class Daemon;
class ContainerService;

class BuildService {
 public:
  BuildService(Daemon& d, ContainerService& svc);
  ~BuildService();
  // Runs the build of the context read through `context`; returns the image id and names it
  // with `tags`. Throws InvalidArgument for a bad tag or Dockerfile (before any output),
  // StepFailed, or Error naming what failed.
  std::string build(const BuildOptions& opts, const image::ReadFn& context, const BuildOutput& out);
  // The contexts kept for hoist's CLI (POST /hoist/build-context).
  ContextCache& contexts() { return contexts_; }
  // The build cache (build_prune.h): its records for /system/df, and /build/prune.
  std::vector<BuildCacheRecord> cache_records();
  BuildPruneReport prune_cache(const BuildPruneOptions& opts);

 private:
  Daemon& d_;
  ContainerService& svc_;
  BuildCache cache_;
  HashMemo memo_;  // context files' hashes by the client's view of them, across builds
  CacheMounts cache_mounts_;
  ContextCache contexts_;
};

}  // namespace hoist::engine
