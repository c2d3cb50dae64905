// A build's context, made ready in the build's directory: the request's body (a tar, plain or
// compressed) or the remote URL's content (a tar, or else a Dockerfile alone, as dockerd takes
// it; its download's progress as dockerd shows it) extracted into <dir>/context (or over the copy
// kept from the last build of hoist's CLI, build_context_cache.h); the entry in
// which hoist's CLI describes the context's files (BuildOptions::context_stat_entry) read and
// removed; the Dockerfile read; .dockerignore's rule applied to the Dockerfile and itself (the
// client sent them even when excluded; COPY may not see them then, dockerd's removeDockerfile).
#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "engine/build_options.h"
#include "engine/build_sources.h"
#include "image/install.h"

namespace hoist::engine {

struct BuildContext {
  std::unique_ptr<SourceTree> tree;
  std::optional<ContextStats> stats;
  std::string dockerfile;  // the Dockerfile's text
};

// Throws InvalidArgument for a context that cannot be read, a missing Dockerfile, a bad stat
// entry or a git remote; Error for a failed download.
// `dir`: the build's directory; `ctx_dir`: where the context goes (<dir>/context, or a kept copy
// the body updates: build_context_cache.h); `extracted`: called once the body is in.
BuildContext read_context(const BuildOptions& opts, const image::ReadFn& read, const BuildOutput& out,
                          const std::string& dir, const std::string& ctx_dir, HashMemo* memo,
                          const std::function<void()>& extracted = {});

}  // namespace hoist::engine
