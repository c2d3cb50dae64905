// The driving of a build, as dockerd 20.10's classic builder runs one, through an Executor
// (executor.h) that the engine implements:
//   - the plan's parser warnings, then "Step i/n : ARG ..." for the ARGs before the first FROM
//     (n: those, then each needed stage's FROM and instructions);
//   - the stages the target needs (planner.h), each as soon as the stages it reads are built
//     (its FROM's stage, COPY --from, RUN --mount from=; planner.h's Scheduler), independent ones
//     at the same time on up to `parallel` threads (lowest stage first; a stage waiting for
//     another one, as an ONBUILD trigger's COPY --from does, leaves its place meanwhile; such a
//     trigger may only name a stage the target needs);
//   - per stage: "Step i/n : FROM ...", the base (an image through Executor::base_image, or the
//     built stage's image and config), the base's ONBUILD triggers ("# Executing N build
//     triggers") as part of the FROM step, " ---> <id>"; then each instruction: "Step i/n : ...",
//     its inputs prepared and hashed, its cache key (cache_key.h; COPY --link's own key too),
//     " ---> Using cache" for a hit (unless nocache), else the step executed and its image
//     remembered under the key; " ---> <id>"; at the stage's end its image as an aux message.
// Each stage's output is held and shown in the Dockerfile's order: the earliest stage not done
// is shown as it comes, a later one's once all before it are done, so the stream reads as the
// classic builder's (one stage after the other). The first stage that fails fails the build with
// its error: the stages still running are stopped (no further step; Executor::cancel stops the
// running ones) and waited for; the output of the stages up to the failed one is shown, that of
// the later ones is not.
//
// Refused before a step runs, as not supported yet: RUN --network other than default, none and
// host, RUN --security other than sandbox and insecure, COPY/ADD of a git repository.
#pragma once
#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "builder/executor.h"
#include "builder/planner.h"

namespace hoist::builder {

struct RunOptions {
  bool nocache = false;
  unsigned parallel = 0;  // stages running at once; 0: the hardware's threads, at least 2
  // The request named a platform (`platform`): every stage asks its base image for the plan's
  // target platform (FROM --platform asks for its own in any case).
  bool platform_asked = false;
  // BuildKit's entitlement security.insecure: RUN --security=insecure runs privileged; without
  // it such a RUN fails ("security.insecure is not allowed").
  bool allow_insecure = false;
};

struct RunOutput {
  std::function<void(std::string_view text)> text;          // the classic builder's text
  std::function<void(const std::string& image_id)> aux;    // a stage's image, when it is built
};

// Runs the plan's needed stages; returns the target's image id. Throws the first failing stage's
// error (a step's, the executor's, a DockerfileError of a step, the output's), or Error("No image
// was generated...") when the target made no image. `out` is called from one thread at a time
// (not always the caller's); `exec` from several at once.
std::string run_build(const Plan& plan, Executor& exec, const RunOptions& opts, const RunOutput& out);

// "Step 3/7 : " lines count these (plan.dockerfile's meta ARGs and each needed stage's FROM and
// instructions): the first number of each needed stage's FROM line, by stage index.
std::map<int, std::size_t> step_numbers(const Plan& plan, std::size_t* total = nullptr);

// COPY/ADD sources that are not files: an http(s) URL (a git repository: builder/git_remote.h).
bool is_url(const std::string& source);

}  // namespace hoist::builder
