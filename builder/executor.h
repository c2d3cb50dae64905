// What a Dockerfile build needs from the engine, declared by the builder and implemented by the
// engine (engine/build_executor.h: containers, the image store, the build cache, pulls), so that
// the builder's driving of a build (build_runner.h: stage order, step order, cache keys and
// lookups, the classic builder's output) runs in its tests against a fake, without root.
//
// A step goes through the executor in two parts:
//   - prepare(): what the step reads, found and held (COPY/ADD's sources in the context, in a
//     stage's or an image's root, downloads and heredocs; RUN --mount's sources and heredoc
//     scripts) and hashed (source_hash.h), for the step's cache key;
//   - on a cache miss, execute(): a container of the engine made from the parent image runs the
//     step (RUN with its mounts, COPY/ADD into its file system, WORKDIR's directory; nothing for
//     a metadata step) and its changes are committed as the step's image, with the config and
//     the history entry the builder computed.
// Everything a stage shows (a pull's progress, a RUN's output, " ---> Running in ...") goes
// through the stage's Output: stages may run at the same time, and the runner shows their output
// in the Dockerfile's order.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "builder/build_args.h"
#include "builder/history.h"
#include "builder/image_config.h"
#include "builder/stage_eval.h"

namespace hoist::builder {

// A stage's output. Calls from the executor's threads are fine; what is posted is shown once the
// earlier stages' output is out (at once for the stage shown live).
class Output {
 public:
  virtual ~Output() = default;
  // The classic builder's text (the API's {"stream":...}).
  virtual void text(std::string_view t) = 0;
  // Anything else the stage shows (a pull's progress, as the API's own messages), in the same
  // order as its text: `show` runs now or later, on another thread.
  virtual void post(std::function<void()> show) = 0;
};

// A stage's base image, resolved (pulled when missing, or always with --pull).
struct BaseImage {
  std::string id;  // "sha256:<hex>"
  ImageConfig config;
};

// The images of the stages a step reads (COPY --from, RUN --mount from=), by stage index; nullopt
// for a stage that made no image (scratch and no step): an empty root.
using StageImages = std::map<int, std::optional<std::string>>;

// What the image a step makes records, as the builder computed it.
struct StepCommit {
  std::optional<std::string> parent;       // the image the step runs on; nullopt: scratch
  std::vector<std::string> container_cmd;  // the step's container command (container_config.Cmd)
  HistoryEntry history;                    // its created_by and author
  // COPY --link when the cache is used: the key its layer is kept under whatever the parent (a
  // layer made earlier under it may be taken again); "" otherwise.
  std::string link_key;
};

// A step whose inputs are held until it goes.
class PreparedStep {
 public:
  virtual ~PreparedStep() = default;
  // The hashes of what the step reads (source_hash.h): COPY/ADD's sources in order; RUN's bind
  // mounts and caches from a stage, "<mount index>:<hash>"; none for other steps.
  virtual const std::vector<std::string>& content_hashes() const = 0;
  // Runs the step on `c.parent` and commits its image; returns the image's id. A RUN that exits
  // non-zero throws (the engine's StepFailed); so does a step stopped by Executor::cancel().
  virtual std::string execute(const StepCommit& c, Output& out) = 0;
};

class Executor {
 public:
  virtual ~Executor() = default;
  // FROM's image (or COPY --from's, through prepare()): the store's, else pulled, the pull's
  // progress in `out`. `platform`: the one the stage asks for (FROM --platform, or the build's
  // when the request named one): the image must be of it, and a pull is for it.
  virtual BaseImage base_image(const std::string& name, const std::optional<Platform>& platform, Output& out) = 0;
  // A scratch stage asked to be of `platform`: throws when the engine cannot make one.
  virtual void scratch(const Platform& platform) { (void)platform; }
  // The image a step made before under `key`, if the cache has it and the image is still there.
  virtual std::optional<std::string> cached(const std::string& key) = 0;
  // A step the cache has not: its image from another source of cache (--cache-from's images'
  // history), made for the step as `c` describes it; nullopt when none has it.
  virtual std::optional<std::string> from_cache_sources(const Step& step, const StepCommit& c) {
    (void)step;
    (void)c;
    return std::nullopt;
  }
  // Keeps `image_id` under `key` for later builds. An image a build made and kept under no key
  // (--no-cache) goes when the build ends, unless it is the build's result.
  virtual void remember(const std::string& key, const std::string& image_id) = 0;
  // Finds and holds what `step` reads (see above). Throws with Docker's message for a source
  // that is not there.
  virtual std::unique_ptr<PreparedStep> prepare(const Step& step, const StageImages& stages, Output& out) = 0;
  // Another stage failed: the steps running now stop (their containers removed) and fail.
  virtual void cancel() = 0;
};

}  // namespace hoist::builder
