// The driving of a build through an Executor (see build_runner.h).
#include "builder/build_runner.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <set>
#include <thread>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "builder/cache_key.h"
#include "builder/git_remote.h"
#include "builder/history.h"
#include "builder/stage_eval.h"
#include "common/error.h"

namespace hoist::builder {

bool is_url(const std::string& s) { return s.rfind("http://", 0) == 0 || s.rfind("https://", 0) == 0; }

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
      if (in.security != "sandbox" && in.security != "insecure") refuse("RUN --security=" + in.security);
      break;
    case Kind::Copy:
      // BuildKit's COPY reads a git URL as a path in the context; ADD fetches the repository.
      for (auto& src : in.sources)
        if (is_git_source(src)) refuse("COPY of a git repository (" + src + ")");
      break;
    default:
      break;
  }
}

std::vector<std::string> shell_of(const ImageConfig& c) {
  if (c.shell && !c.shell->empty()) return *c.shell;
  return {"/bin/sh", "-c"};
}

// The build's output, each stage's held and shown in the order of the needed stages (see
// build_runner.h). Thread-safe; the sink is called under the lock, so one call at a time.
class OrderedOutput {
 public:
  OrderedOutput(std::size_t stages, const RunOutput& out, std::function<void(std::exception_ptr)> on_error)
      : bufs_(stages), out_(out), on_error_(std::move(on_error)) {}

  void text(std::size_t k, std::string_view t) {
    post(k, [sink = out_.text, s = std::string(t)] { sink(s); });
  }
  void post(std::size_t k, std::function<void()> show) {
    std::lock_guard lk(mu_);
    if (closed_) return;
    if (k == live_) deliver(show);
    else bufs_[k].held.push_back(std::move(show));
  }
  // Stage k is done: the next stages' held output follows.
  void done(std::size_t k) {
    std::lock_guard lk(mu_);
    bufs_[k].done = true;
    while (!closed_ && live_ < bufs_.size()) {
      flush(live_);
      if (!bufs_[live_].done) break;
      ++live_;
    }
  }
  // The build failed in stage k: what the stages up to it showed, the later ones' not.
  void fail(std::size_t k) {
    std::lock_guard lk(mu_);
    for (std::size_t i = live_; !closed_ && i <= k && i < bufs_.size(); ++i) flush(i);
    closed_ = true;
  }

 private:
  struct Buf {
    std::vector<std::function<void()>> held;
    bool done = false;
  };
  void flush(std::size_t k) {
    std::vector<std::function<void()>> held;
    held.swap(bufs_[k].held);
    for (auto& f : held) {
      if (closed_) return;
      deliver(f);
    }
  }
  // A sink that throws (the client went away) ends the output and fails the build.
  void deliver(const std::function<void()>& f) {
    try {
      f();
    } catch (...) {
      closed_ = true;
      on_error_(std::current_exception());
    }
  }

  std::mutex mu_;
  std::vector<Buf> bufs_;
  std::size_t live_ = 0;
  bool closed_ = false;
  const RunOutput& out_;
  std::function<void(std::exception_ptr)> on_error_;
};

// One stage's Output: its place in the ordered output.
class StageOutput : public Output {
 public:
  StageOutput(OrderedOutput& o, std::size_t k) : o_(o), k_(k) {}
  void text(std::string_view t) override { o_.text(k_, t); }
  void post(std::function<void()> show) override { o_.post(k_, std::move(show)); }

 private:
  OrderedOutput& o_;
  std::size_t k_;
};

// A stage that stops because another one failed (never the build's error).
struct Stopped {};

struct StageResult {
  std::optional<std::string> image;  // nullopt: scratch with no step
  std::string key;                   // the cache key of its last step
  ImageConfig config;
};

class Runner {
 public:
  Runner(const Plan& plan, Executor& exec, const RunOptions& opts, const RunOutput& out)
      : plan_(plan), exec_(exec), opts_(opts), out_(out), sched_(plan) {
    first_ = step_numbers(plan, &total_);
    for (auto& [si, n] : first_) order_[si] = order_.size();
    limit_ = opts.parallel ? opts.parallel : std::max(2u, std::thread::hardware_concurrency());
  }

  std::string run() {
    std::size_t parser_warnings = plan_.dockerfile.warnings.size();
    for (std::size_t i = 0; i < parser_warnings && i < plan_.warnings.size(); ++i) out_.text(plan_.warnings[i] + "\n");
    std::size_t n = 0;
    for (const Instruction& meta : plan_.dockerfile.meta_args) {
      out_.text(step_line(++n, meta.original));
      out_.text("\n");
    }
    OrderedOutput ordered(order_.size(), out_, [this](std::exception_ptr e) { fail(e, -1); });
    ordered_ = &ordered;
    for (std::size_t k = 0; k < order_.size(); ++k) outputs_.emplace_back(ordered, k);
    schedule();
    if (error_) {
      if (failed_stage_ >= 0) ordered.fail(order_.at(failed_stage_));
      std::rethrow_exception(error_);
    }
    const StageResult& target = results_.at(plan_.target);
    if (!target.image) throw Error("No image was generated. Is your Dockerfile empty?");
    return *target.image;
  }

 private:
  // Hands the ready stages to threads, `limit_` of them active at once (a stage waiting for
  // another one does not count), until all are done or one failed and the others stopped.
  void schedule() {
    std::vector<std::thread> threads;
    {
      std::unique_lock lk(mu_);
      std::set<int> pending;
      for (;;) {
        if (!failed_)
          for (int s : sched_.ready()) pending.insert(s);
        while (!failed_ && !pending.empty() && active_ < limit_) {
          int s = *pending.begin();
          pending.erase(pending.begin());
          ++active_;
          ++running_;
          threads.emplace_back([this, s] { work(s); });
        }
        if (running_ == 0 && (failed_ || pending.empty())) break;
        cv_.wait(lk);
      }
    }
    for (std::thread& t : threads) t.join();
  }

  void work(int si) {
    std::size_t k = order_.at(si);
    StageOutput& out = outputs_[k];
    try {
      StageResult sr = stage(si, out);
      if (sr.image && out_.aux) out.post([aux = out_.aux, id = *sr.image] { aux(id); });
      {
        std::lock_guard lk(mu_);
        results_[si] = sr;
        sched_.done(si);
        --active_;
        --running_;
      }
      cv_.notify_all();
      ordered_->done(k);
    } catch (...) {
      fail(std::current_exception(), si);
      {
        std::lock_guard lk(mu_);
        --active_;
        --running_;
      }
      cv_.notify_all();
    }
  }

  // The first error fails the build; the stages still running stop.
  void fail(std::exception_ptr e, int stage) {
    {
      std::lock_guard lk(mu_);
      if (failed_) return;
      failed_ = true;
      stopped_ = true;
      error_ = e;
      failed_stage_ = stage;
    }
    cv_.notify_all();
    try {
      exec_.cancel();
    } catch (...) {
    }
  }

  std::string step_line(std::size_t n, const std::string& text) const {
    return "Step " + std::to_string(n) + "/" + std::to_string(total_) + " : " + text;
  }

  // A stage's result, once it is built (a step of another stage reads it): the caller waits,
  // its thread counting as active again when a place is free.
  StageResult built(int stage) {
    std::unique_lock lk(mu_);
    auto it = results_.find(stage);
    if (it != results_.end()) return it->second;
    if (!order_.count(stage))
      throw Error("stage " + std::to_string(stage) + " (" + plan_.stages[stage].name +
                  ") is not built for this target (an ONBUILD trigger of a later stage names it)");
    --active_;
    cv_.notify_all();
    cv_.wait(lk, [&] { return failed_ || results_.count(stage); });
    if (!failed_) cv_.wait(lk, [&] { return failed_ || active_ < limit_; });
    ++active_;
    if (failed_) throw Stopped{};
    return results_.at(stage);
  }

  StageResult stage(int si, Output& out) {
    const PlannedStage& ps = plan_.stages[si];
    const Stage& st = plan_.dockerfile.stages[si];
    std::size_t n = first_.at(si);
    out.text(step_line(n, st.original));
    out.text("\n");
    StageResult sr;
    std::string platform = plan_.options.target.str();
    // The platform asked for: the stage's FROM --platform, else the build's when the request
    // named one.
    std::optional<Platform> want = ps.platform;
    if (!want && opts_.platform_asked) want = plan_.options.target;
    switch (ps.from.kind) {
      case SourceRef::Scratch:
        if (want) exec_.scratch(*want);
        sr.key = base_cache_key("scratch", platform);
        break;
      case SourceRef::Stage:
        sr = built(ps.from.stage);
        break;
      default: {
        BaseImage base = exec_.base_image(ps.base, want, out);
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
    if (stopped_) throw Stopped{};
    check_supported(s);
    const Instruction& in = s.instruction;
    if (in.kind == Kind::Run && in.security == "insecure" && !opts_.allow_insecure)
      throw InvalidArgument("security.insecure is not allowed");
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
    if (!opts_.nocache) {
      if (std::optional<std::string> hit = exec_.from_cache_sources(s, c)) {
        exec_.remember(key, *hit);
        out.text(" ---> Using cache\n");
        return *hit;
      }
    }
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
  std::map<int, std::size_t> order_;  // needed stage → its place in the output
  std::size_t total_ = 0;
  unsigned limit_ = 1;
  OrderedOutput* ordered_ = nullptr;
  std::deque<StageOutput> outputs_;   // by place

  std::mutex mu_;  // what follows
  std::condition_variable cv_;
  Scheduler sched_;
  std::map<int, StageResult> results_;
  unsigned active_ = 0, running_ = 0;  // stages working (not waiting for another), started
  bool failed_ = false;
  std::atomic<bool> stopped_{false};
  std::exception_ptr error_;
  int failed_stage_ = -1;
};

}  // namespace

std::string run_build(const Plan& plan, Executor& exec, const RunOptions& opts, const RunOutput& out) {
  return Runner(plan, exec, opts, out).run();
}

}  // namespace hoist::builder
