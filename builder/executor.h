// What a Dockerfile build needs from the engine, declared by the builder and implemented by the
// engine (which owns containers and the image store), so that the builder's planner and its tests
// run without root or containers, against a fake.
//
// The engine's implementation will come with the builder: its commit() is the layer maker's
// (image/layer_maker.h: the snapshot's changes as a ChangeSource) and image/commit.h's
// commit_image, which `docker commit` uses today; nothing implements this interface yet.
#pragma once
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace hoist::builder {

// One RUN step: the command, in a container made from `parent` (an image id, or a snapshot an
// earlier step returned), with the stage's config at that point.
struct RunStep {
  std::string parent;
  std::vector<std::string> args;  // exec form (the shell form is already wrapped in SHELL)
  std::vector<std::string> env;   // KEY=value
  std::string workdir, user;
  std::string network = "default";  // RUN --network: default, none, host
};

struct StepResult {
  int exit_code = 0;
  std::string snapshot;  // the file system after the step, for the next step or commit
};

class Executor {
 public:
  virtual ~Executor() = default;
  // Runs the step; its output goes to `output` as it comes (stream 1 or 2, bytes).
  virtual StepResult run(const RunStep& step, const std::function<void(int, std::string_view)>& output) = 0;
  // A snapshot of `parent` with `files` (path in the image → path on the host) copied in, as
  // COPY and ADD do.
  virtual std::string copy_in(const std::string& parent, const std::map<std::string, std::string>& files) = 0;
  // The changes of `snapshot` against its parent as a new layer, and an image of `config` on top
  // of the parent's layers; returns the image id.
  virtual std::string commit(const std::string& snapshot, const std::string& config_json) = 0;
};

}  // namespace hoist::builder
