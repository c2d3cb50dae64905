// One stage's steps, evaluated as dockerd's classic builder dispatches them: variables
// substituted where Docker substitutes them, the image config after each step, the container
// command each step records (its history's created_by) and the text its cache key hashes.
//
// Substitution (the stage's env, then the build args the stage declared that the env does not
// set): ADD, COPY (sources, destination, --chown, --chmod, --exclude, --checksum; a heredoc's
// body unless its delimiter was quoted), ENV, EXPOSE (a value may become several ports), LABEL,
// STOPSIGNAL, USER, VOLUME, WORKDIR, ARG, RUN --mount values. Not: RUN, CMD, ENTRYPOINT, SHELL,
// HEALTHCHECK, MAINTAINER, ONBUILD (the shell or a later build does it), COPY --from.
//
// A stage starts from its base image's config (PATH set when missing); the base's ONBUILD
// triggers run first (dockerd: "# Executing N build triggers") and are not inherited.
#pragma once
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "builder/build_args.h"
#include "builder/history.h"
#include "builder/image_config.h"
#include "builder/planner.h"

namespace hoist::builder {

// The PATH a stage gets when its base image sets none.
inline constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// A file a RUN step gets at run time: a heredoc script that starts with "#!", mounted read-only
// under /dev/pipes/ and run from there (BuildKit's way).
struct InlineFile {
  std::string path;  // /dev/pipes/<name>
  std::string data;
  std::uint32_t mode = 0755;
};

struct Step {
  enum class Action { Config, Run, Copy, Workdir };
  Action action = Action::Config;
  Instruction instruction;  // with variables substituted where Docker substitutes them
  bool trigger = false;     // one of the base image's ONBUILD triggers

  // Run: the command (the shell form in SHELL, heredocs resolved), the container's env (the
  // config's, then the build args), user and directory, mounts with their sources.
  std::vector<std::string> argv, env;
  std::string user, workdir;
  std::vector<Mount> mounts;
  std::vector<SourceRef> mount_sources;  // per mount: Context, Stage, Image (or Scratch for a cache)
  std::vector<InlineFile> inline_files;

  // Copy: where the sources come from and the destination made absolute (relative to WORKDIR,
  // a trailing / kept).
  SourceRef copy_from;  // Context unless --from
  std::string dest;

  // Workdir: the directory to create.
  std::string dir;

  ImageConfig config;                      // the config after the step
  std::string author;                      // MAINTAINER so far
  std::vector<std::string> container_cmd;  // Config/Run/Workdir: the history's created_by, joined
  std::string cache_text;                  // what identifies the step for the cache, with its parent
};

class StageEvaluator {
 public:
  // `base`: the config of the stage's base (an image's, or a built stage's result; empty for
  // scratch). Throws DockerfileError for a trigger Docker refuses.
  StageEvaluator(const Plan& plan, int stage, const ImageConfig& base);

  std::size_t size() const { return items_.size(); }
  std::size_t triggers() const { return triggers_; }
  bool done() const { return next_ < items_.size() ? false : true; }
  // The next step's instruction as written (for "Step i/n : ..." before it runs).
  const Instruction& peek() const { return items_[next_].in; }
  // Evaluates the next step. Throws DockerfileError / InvalidArgument with Docker's message.
  Step next();

  // What the base's ONBUILD triggers read besides the plan's own dependencies: stages (the
  // scheduler must wait for them: Scheduler::add_dependency) and images.
  const std::set<int>& trigger_stages() const { return trigger_stages_; }
  const std::set<std::string>& trigger_images() const { return trigger_images_; }

  // The config after the last step so far (the stage's result once done()).
  const ImageConfig& config() const { return config_; }
  const std::string& author() const { return author_; }

 private:
  struct Item {
    Instruction in;
    bool trigger;
  };
  std::vector<std::string> expansion_env() const;
  std::string expand(const std::string& word) const;
  void run_step(Step& s);
  void copy_step(Step& s);

  const Plan& plan_;
  int stage_;
  std::vector<Item> items_;
  std::size_t next_ = 0, triggers_ = 0;
  ImageConfig config_;
  StageArgs args_;
  std::string author_;
  bool cmd_set_ = false;
  std::set<int> trigger_stages_;
  std::set<std::string> trigger_images_;
};

// The created_by of a COPY/ADD step once its sources' hashes are known ("file:<hex>" each,
// "dir:<hex>" for a directory, as the executor computes them: source_hash.h).
std::string copy_created_by(const Step& step, const std::vector<std::string>& source_hashes);

// A step's history entry. Metadata steps (Action::Config) are always empty layers; RUN, WORKDIR,
// COPY and ADD are when their layer holds no change (`layer_empty`, which the executor knows).
HistoryEntry history_entry(const Step& step, bool layer_empty, const std::vector<std::string>& source_hashes = {});

}  // namespace hoist::builder
