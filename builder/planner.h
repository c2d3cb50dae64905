// The build plan: which stages a build needs and in which order they can run.
//
// - Stages are numbered from 0 in the Dockerfile's order and named by `FROM ... AS name`
//   (case-insensitive). `--target name` builds that stage (dockerd's "failed to reach build
//   target x in Dockerfile" when there is none); without it the last stage.
// - A stage needs: the stage its FROM names, the stages of its `COPY --from=<name|index>` and of
//   its `RUN --mount=...,from=<name>`; only earlier stages count as stages (a later or unknown
//   name is an image, as dockerd's classic builder takes it), an index must be an earlier stage.
//   Only the stages the target needs, directly or not, are built.
// - Independent stages may run in parallel: levels() groups them, and Scheduler hands out the
//   stages whose dependencies are built.
//
// FROM and its --platform are expanded here with the global ARGs; everything else per stage, by
// the stage evaluator (stage_eval.h), once the base image's config is known.
#pragma once
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "builder/build_args.h"
#include "builder/instructions.h"

namespace hoist::builder {

struct BuildRequest {
  std::string dockerfile;                 // the text
  std::string dockerfile_name = "Dockerfile";
  std::string target;                     // "" for the last stage
  BuildArgOptions args;
  std::map<std::string, std::string> labels;  // --label: added to the target stage as LABELs
};

// What a stage's FROM, a COPY --from or a RUN --mount from= refers to.
struct SourceRef {
  enum Kind { Stage, Image, Scratch, Context } kind = Image;
  int stage = -1;     // Stage
  std::string image;  // Image: the reference as written (expanded, for FROM)
};

struct PlannedStage {
  int index = 0;
  std::string name;                     // lower case, "" when unnamed
  std::string base;                     // FROM's image or stage, expanded
  std::optional<Platform> platform;     // FROM --platform, expanded and parsed
  SourceRef from;                       // what `base` is
  std::set<int> deps;                   // earlier stages it needs
  std::set<std::string> images;         // images it reads besides its base (COPY --from=image, mounts)
  bool needed = false;                  // the target needs it (or is it)
};

struct Plan {
  BuildArgOptions options;
  GlobalArgs global{options};  // the ARGs before the first FROM, defaults expanded
  Dockerfile dockerfile;
  std::vector<PlannedStage> stages;
  int target = -1;
  std::vector<std::string> warnings;  // parser warnings, then the unconsumed build-args warning
  std::vector<std::string> notes;     // what Hoist ignores (parser directives)

  explicit Plan(BuildArgOptions opts) : options(std::move(opts)) {}
  Plan(const Plan&) = delete;
  Plan& operator=(const Plan&) = delete;

  // The needed stages in groups: every stage's dependencies are in earlier groups, so the stages
  // of one group can run in parallel. The target is alone in the last group.
  std::vector<std::vector<int>> levels() const;
  // What `COPY --from=<from>` in stage `at` reads. Throws DockerfileError.
  SourceRef resolve_copy_from(int at, const std::string& from, int line) const;
  // What `RUN --mount=...,from=<from>,target=<target>` in stage `at` mounts ("": the context).
  SourceRef resolve_mount_from(int at, const std::string& from, const std::string& target, int line) const;
};

// Hands out the needed stages as their dependencies finish (not thread-safe: the caller locks).
class Scheduler {
 public:
  explicit Scheduler(const Plan& plan);
  // The stages that may start now (each returned once).
  std::vector<int> ready();
  // A stage finished; stages that waited for it may become ready.
  void done(int stage);
  // A stage learned one more dependency (an ONBUILD trigger's COPY --from): it waits for `dep`
  // too, which becomes needed if it was not.
  void add_dependency(int stage, int dep);
  bool finished() const;

 private:
  const Plan& plan_;
  std::map<int, std::set<int>> waiting_;  // stage → unfinished dependencies
  std::set<int> started_, done_;
  std::set<int> needed_;
};

// Parses the Dockerfile and plans the build. Throws DockerfileError.
std::unique_ptr<Plan> plan_build(const BuildRequest& req);

}  // namespace hoist::builder
