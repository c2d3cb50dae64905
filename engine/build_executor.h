// The engine's builder::Executor (builder/executor.h): a build's steps through the engine's
// containers, the image store and the build cache.
//   - base images: the store's, else (or with `pull`, once per build and name) pulled through
//     image::pull_image, the progress in the stage's output as dockerd's JSON progress lines;
//   - the cache: BuildCache, an entry whose image is gone dropped when it is looked up;
//   - prepare(): COPY/ADD's sources (build_copy.h), RUN's mount sources (build_mounts.h);
//   - execute(): a container of the build (build_workspace.h) made from the parent image: RUN
//     starts it (network `default`, `none` or `host`) and streams its output, with its mounts;
//     COPY/ADD and WORKDIR write into its root file system; a metadata step only commits it.
//     Its changes become the step's image (image/commit.h, the layer maker), with the step's
//     config and history entry as the classic builder writes them; the container is removed
//     (" ---> Running in <id>" and "Removing intermediate container <id>" for RUN, WORKDIR and
//     metadata steps), also when the step fails, except a RUN that exited non-zero: kept unless
//     forcerm (StepFailed), as the classic builder keeps it; a RUN another stage's failure
//     stopped (cancel(): killed, Cancelled) is removed.
//   - COPY --link: copied into an empty root, its layer taken again from an image made before
//     under the step's link key when the snapshots are overlay ones (whose layers are diffs).
// The images the build made and kept under no cache key (--no-cache) go with finish(), but the
// build's result.
#pragma once
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "builder/executor.h"
#include "common/digest.h"
#include "engine/build_cache.h"
#include "engine/build_mounts.h"
#include "engine/build_workspace.h"

namespace hoist::engine {

class BuildExecutor : public builder::Executor {
 public:
  // `cache`: this build's session of the cache; `cache_from`: --cache-from's sources (or null).
  BuildExecutor(BuildWorkspace& ws, BuildCache::Session& cache, CacheMounts& cache_mounts,
                CacheFrom* cache_from = nullptr);
  ~BuildExecutor() override;  // finish() unless done

  builder::BaseImage base_image(const std::string& name, const std::optional<builder::Platform>& platform,
                                builder::Output& out) override;
  void scratch(const builder::Platform& platform) override;
  std::optional<std::string> cached(const std::string& key) override;
  std::optional<std::string> from_cache_sources(const builder::Step& step, const builder::StepCommit& c) override;
  void remember(const std::string& key, const std::string& image_id) override;
  std::unique_ptr<builder::PreparedStep> prepare(const builder::Step& step, const builder::StageImages& stages,
                                                 builder::Output& out) override;
  void cancel() override;

  // The build is over (`result`: its image, if it made one): the images kept under no key go.
  void finish(const std::optional<std::string>& result);

  // For the steps (build_executor.cpp).
  BuildWorkspace& workspace() { return ws_; }
  BuildCache::Session& cache() { return cache_; }
  CacheMounts& cache_mounts() { return cache_mounts_; }
  void made(const Digest& id);  // an image a step committed

 private:
  // `platform`: a pull's (engine/build_platform.h); unset: the host's.
  image::ImageRecord pull_if_needed(const std::string& name, builder::Output& out,
                                    const std::optional<builder::Platform>& platform = std::nullopt);

  BuildWorkspace& ws_;
  BuildCache::Session& cache_;
  CacheMounts& cache_mounts_;
  CacheFrom* cache_from_;
  std::mutex mu_;
  std::set<std::string> pulled_;                              // the references this build pulled
  std::map<std::string, std::shared_ptr<std::mutex>> pulls_;  // one base image's resolution at a time
  std::vector<Digest> made_;                                  // in order
  std::set<std::string> remembered_;
  bool finished_ = false;
};

}  // namespace hoist::engine
