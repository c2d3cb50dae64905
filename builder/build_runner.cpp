// The driving of a build through an Executor (see build_runner.h).
#include "builder/build_runner.h"

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "builder/cache_key.h"
#include "builder/history.h"
#include "builder/stage_eval.h"
#include "common/error.h"

namespace hoist::builder {

bool is_url(const std::string& s) { return s.rfind("http://", 0) == 0 || s.rfind("https://", 0) == 0; }

bool is_git_url(const std::string& s) {
  if (s.rfind("git@", 0) == 0 || s.rfind("git://", 0) == 0) return true;
  if (!is_url(s)) return false;
  std::string path = s.substr(0, s.find('#'));
  path = path.substr(0, path.find('?'));
  return path.ends_with(".git") || path.ends_with(".git/");
}

std::map<int, std::size_t> step_numbers(const Plan& plan, std::size_t* total) {
  std::map<int, std::size_t> first;
  std::size_t n = plan.dockerfile.meta_args.size();
  for (const PlannedStage& ps : plan.stages) {
    if (!ps.needed) continue;
    first[ps.index] = n + 1;
    n += 1 + plan.dockerfile.stages[ps.index].commands.size();
  }
  if (total) *total = n;
  return first;
}

namespace {

std::string short_id(const std::string& id) {
  std::string hex = id.rfind("sha256:", 0) == 0 ? id.substr(7) : id;
  return hex.substr(0, 12);
}

// What Hoist does not do yet: named, never ignored.
void check_supported(const Step& s) {
  const Instruction& in = s.instruction;
  auto refuse = [&](const std::string& what) {
    throw InvalidArgument("Dockerfile line " + std::to_string(in.line) + ": " + what +
                          " is not supported yet by hoist build");
  };
  switch (in.kind) {
    case Kind::Run:
      if (in.network != "default" && in.network != "none" && in.network != "host") refuse("RUN --network=" + in.network);
      if (in.security != "sandbox") refuse("RUN --security=" + in.security);
      for (const Mount& m : s.mounts)
        if (m.type == MountType::Ssh) refuse("RUN --mount=type=ssh");
      break;
    case Kind::Copy:
    case Kind::Add:
      for (auto& src : in.sources)
        if (is_git_url(src)) refuse(std::string(kind_name(in.kind)) + " of a git repository (" + src + ")");
      break;
    default:
      break;
  }
}

std::vector<std::string> shell_of(const ImageConfig& c) {
  if (c.shell && !c.shell->empty()) return *c.shell;
  return {"/bin/sh", "-c"};
}

// The build's output as it comes.
class LiveOutput : public Output {
 public:
  explicit LiveOutput(const RunOutput& out) : out_(out) {}
  void text(std::string_view t) override { out_.text(t); }
  void post(std::function<void()> show) override { show(); }

 private:
  const RunOutput& out_;
};

struct StageResult {
  std::optional<std::string> image;  // nullopt: scratch with no step
  std::string key;                   // the cache key of its last step
  ImageConfig config;
};

class Runner {
 public:
  Runner(const Plan& plan, Executor& exec, const RunOptions& opts, const RunOutput& out)
      : plan_(plan), exec_(exec), opts_(opts), out_(out) {
    first_ = step_numbers(plan, &total_);
  }

  std::string run() {
    LiveOutput live(out_);
    std::size_t parser_warnings = plan_.dockerfile.warnings.size();
    for (std::size_t i = 0; i < parser_warnings && i < plan_.warnings.size(); ++i) live.text(plan_.warnings[i] + "\n");
    std::size_t n = 0;
    for (const Instruction& meta : plan_.dockerfile.meta_args) {
      live.text(step_line(++n, meta.original));
      live.text("\n");
    }
    std::optional<std::string> result;
    for (auto& [si, first] : first_) {
      StageResult sr = stage(si, live);
      results_[si] = sr;
      result = sr.image;
      if (sr.image && out_.aux) out_.aux(*sr.image);
    }
    if (!result) throw Error("No image was generated. Is your Dockerfile empty?");
    return *result;
  }

 private:
  std::string step_line(std::size_t n, const std::string& text) const {
    return "Step " + std::to_string(n) + "/" + std::to_string(total_) + " : " + text;
  }

  // A built stage's result (a step of another stage reads it).
  const StageResult& built(int stage) const {
    auto it = results_.find(stage);
    if (it == results_.end())
      throw Error("stage " + std::to_string(stage) + " (" + plan_.stages[stage].name +
                  ") is not built for this target (an ONBUILD trigger of a later stage names it)");
    return it->second;
  }

  StageResult stage(int si, Output& out) {
    const PlannedStage& ps = plan_.stages[si];
    const Stage& st = plan_.dockerfile.stages[si];
    std::size_t n = first_.at(si);
    out.text(step_line(n, st.original));
    out.text("\n");
    StageResult sr;
    std::string platform = plan_.options.target.str();
    switch (ps.from.kind) {
      case SourceRef::Scratch:
        sr.key = base_cache_key("scratch", platform);
        break;
      case SourceRef::Stage:
        sr = built(ps.from.stage);
        break;
      default: {
        BaseImage base = exec_.base_image(ps.base, out);
        sr.image = base.id;
        sr.key = base_cache_key(base.id, platform);
        sr.config = base.config;
        break;
      }
    }
    StageEvaluator ev(plan_, si, sr.config);
    // The base's ONBUILD triggers belong to the FROM step: they run before its " ---> <id>".
    if (ev.triggers() > 0)
      out.text("# Executing " + std::to_string(ev.triggers()) + " build trigger" + (ev.triggers() > 1 ? "s" : "") + "\n");
    for (std::size_t t = 0; t < ev.triggers(); ++t) sr.image = step(ev.next(), sr.image, sr.key, out);
    out.text(" ---> " + (sr.image ? short_id(*sr.image) : std::string()) + "\n");
    while (!ev.done()) {
      out.text(step_line(++n, ev.peek().original));
      out.text("\n");
      Step s = ev.next();
      sr.image = step(s, sr.image, sr.key, out);
      out.text(" ---> " + short_id(*sr.image) + "\n");
    }
    sr.config = ev.config();
    return sr;
  }

  // One step; returns the image after it, and moves `key` on to the step's.
  std::string step(const Step& s, const std::optional<std::string>& parent, std::string& key, Output& out) {
    check_supported(s);
    const Instruction& in = s.instruction;
    StageImages stages;
    auto read = [&](const SourceRef& ref) {
      if (ref.kind == SourceRef::Stage) stages[ref.stage] = built(ref.stage).image;
    };
    if (s.action == Step::Action::Copy) read(s.copy_from);
    if (s.action == Step::Action::Run)
      for (std::size_t i = 0; i < s.mounts.size() && i < s.mount_sources.size(); ++i) {
        const Mount& m = s.mounts[i];
        if (m.type == MountType::Bind || (m.type == MountType::Cache && !m.from.empty())) read(s.mount_sources[i]);
      }
    std::unique_ptr<PreparedStep> prepared = exec_.prepare(s, stages, out);
    const std::vector<std::string>& hashes = prepared->content_hashes();
    // COPY/ADD's sources and what RUN's mounts read are in the key as the content the step reads.
    std::string digest;
    if (s.action == Step::Action::Copy || (s.action == Step::Action::Run && !hashes.empty()))
      digest = combined_source_hash(hashes);
    key = step_cache_key(key, s.cache_text, digest);
    // COPY --link: the copy is made on an empty root and its layer does not depend on the parent
    // (BuildKit's): its own key leaves the parent out.
    bool link = s.action == Step::Action::Copy && in.link;
    std::string link_key = link ? step_cache_key("link", s.cache_text, digest) : "";
    if (!opts_.nocache) {
      if (std::optional<std::string> hit = exec_.cached(key)) {
        out.text(" ---> Using cache\n");
        return *hit;
      }
    }
    StepCommit c;
    c.parent = parent;
    c.container_cmd = s.container_cmd;
    std::vector<std::string> source_hashes;
    if (s.action == Step::Action::Copy) {
      source_hashes = hashes;
      c.container_cmd =
          nop_cmd_one(shell_of(s.config), copy_text(kind_name(in.kind), in.chown, combined_source_hash(hashes), in.dest));
    }
    c.history = history_entry(s, false, source_hashes);
    if (link && !opts_.nocache) c.link_key = link_key;
    std::string id = prepared->execute(c, out);
    prepared.reset();
    if (!opts_.nocache) {
      exec_.remember(key, id);
      if (link) exec_.remember(link_key, id);
    }
    return id;
  }

  const Plan& plan_;
  Executor& exec_;
  const RunOptions& opts_;
  const RunOutput& out_;
  std::map<int, std::size_t> first_;  // needed stage → the number of its FROM step
  std::size_t total_ = 0;
  std::map<int, StageResult> results_;
};

}  // namespace

std::string run_build(const Plan& plan, Executor& exec, const RunOptions& opts, const RunOutput& out) {
  return Runner(plan, exec, opts, out).run();
}

}  // namespace hoist::builder
