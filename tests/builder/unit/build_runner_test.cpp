// The builder's driving of a build (build_runner.h) against a fake executor: the classic
// builder's output text, step order, cache hits and misses, --target, ONBUILD triggers, the
// inputs a step gets (stage images, content hashes in the key), errors.
#include "builder/build_runner.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

#include "common/error.h"

using namespace hoist::builder;

namespace {

std::unique_ptr<Plan> plan(const std::string& text, const std::string& target = "") {
  BuildRequest req;
  req.dockerfile = text;
  req.target = target;
  return plan_build(req);
}

// An executor that runs nothing: images are numbered, the cache is a map, every call is logged.
class FakeExecutor : public Executor {
 public:
  struct Call {
    std::string what;  // "base NAME", "prepare TEXT", "exec TEXT", "cached", "remember"
    StageImages stages;
  };

  std::map<std::string, std::string> cache;           // key → image
  std::map<std::string, ImageConfig> base_configs;    // image name → its config
  std::map<std::string, std::string> file_hashes;     // COPY source → its hash (default file:<name>)
  std::string fail_on;                                // a RUN whose text contains it fails
  std::chrono::milliseconds run_time{0};              // how long a RUN takes
  std::map<std::string, std::chrono::milliseconds> run_times;  // ... by its text
  std::atomic<bool> cancelled{false};

  std::vector<Call> calls() {
    std::lock_guard lk(mu_);
    return calls_;
  }
  std::vector<std::string> executed() {
    std::vector<std::string> out;
    for (auto& c : calls())
      if (c.what.rfind("exec ", 0) == 0) out.push_back(c.what.substr(5));
    return out;
  }
  std::string image_of(const std::string& text) {
    std::lock_guard lk(mu_);
    return made_.at(text);
  }
  std::vector<std::string> remembered_keys() {
    std::lock_guard lk(mu_);
    return remembered_;
  }
  // When each step ran (steady clock), by its text.
  std::map<std::string, std::pair<std::chrono::steady_clock::time_point, std::chrono::steady_clock::time_point>> times() {
    std::lock_guard lk(mu_);
    return times_;
  }

  BaseImage base_image(const std::string& name, const std::optional<Platform>&, Output& out) override {
    log("base " + name);
    out.post([] {});
    BaseImage b;
    b.id = new_id();
    auto it = base_configs.find(name);
    if (it != base_configs.end()) b.config = it->second;
    return b;
  }
  std::optional<std::string> cached(const std::string& key) override {
    log("cached");
    std::lock_guard lk(mu_);
    auto it = cache.find(key);
    if (it == cache.end()) return std::nullopt;
    return it->second;
  }
  void remember(const std::string& key, const std::string& image_id) override {
    log("remember");
    std::lock_guard lk(mu_);
    cache[key] = image_id;
    remembered_.push_back(key);
  }
  std::unique_ptr<PreparedStep> prepare(const Step& step, const StageImages& stages, Output&) override {
    log("prepare " + step.instruction.original, stages);
    auto s = std::make_unique<Prepared>(*this, step);
    for (const std::string& src : step.instruction.sources) {
      auto it = file_hashes.find(src);
      s->hashes.push_back(it != file_hashes.end() ? it->second : "file:" + src);
    }
    return s;
  }
  void cancel() override {
    log("cancel");
    cancelled = true;
  }

 private:
  struct Prepared : PreparedStep {
    Prepared(FakeExecutor& e, const Step& s) : exec(e), step(s) {}
    const std::vector<std::string>& content_hashes() const override { return hashes; }
    std::string execute(const StepCommit& c, Output& out) override {
      const std::string& text = step.instruction.original;
      auto start = std::chrono::steady_clock::now();
      exec.log("exec " + text);
      if (step.action == Step::Action::Run) {
        out.text(" ---> Running in " + text.substr(4) + "\n");
        auto t = exec.run_times.find(text);
        auto until = start + (t != exec.run_times.end() ? t->second : exec.run_time);
        while (std::chrono::steady_clock::now() < until && !exec.cancelled)
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
        if (exec.cancelled) throw hoist::Error("stopped");
        if (!exec.fail_on.empty() && text.find(exec.fail_on) != std::string::npos)
          throw hoist::Error("The command '" + text.substr(4) + "' returned a non-zero code: 1");
      }
      std::string id = exec.new_id();
      std::lock_guard lk(exec.mu_);
      exec.made_[text] = id;
      exec.parents_[text] = c.parent.value_or("");
      exec.commits_[text] = c;
      exec.times_[text] = {start, std::chrono::steady_clock::now()};
      return id;
    }
    FakeExecutor& exec;
    Step step;
    std::vector<std::string> hashes;
  };

  void log(const std::string& what, const StageImages& stages = {}) {
    std::lock_guard lk(mu_);
    calls_.push_back({what, stages});
  }
  std::string new_id() {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%012d", ++seq_);
    return std::string("sha256:") + buf + std::string(52, 'a');
  }

 public:
  std::map<std::string, std::string> parents_;
  std::map<std::string, StepCommit> commits_;

 private:
  std::mutex mu_;
  std::vector<Call> calls_;
  std::map<std::string, std::string> made_;
  std::vector<std::string> remembered_;
  std::map<std::string, std::pair<std::chrono::steady_clock::time_point, std::chrono::steady_clock::time_point>> times_;
  std::atomic<int> seq_{0};
};

struct Result {
  std::string id;
  std::vector<std::string> text;  // each call of the text output
  std::vector<std::string> aux;
  std::string joined() const {
    std::string s;
    for (auto& t : text) s += t;
    return s;
  }
};

Result run(FakeExecutor& exec, const std::string& dockerfile, const std::string& target = "", bool nocache = false,
           unsigned parallel = 0) {
  auto p = plan(dockerfile, target);
  Result r;
  RunOutput out;
  out.text = [&](std::string_view t) { r.text.emplace_back(t); };
  out.aux = [&](const std::string& id) { r.aux.push_back(id); };
  RunOptions o;
  o.nocache = nocache;
  o.parallel = parallel;
  r.id = run_build(*p, exec, o, out);
  return r;
}

std::string short_of(const std::string& id) { return id.substr(7, 12); }

TEST(BuildRunner, OutputTextAsTheClassicBuilder) {
  FakeExecutor exec;
  const char* df =
      "ARG V=1\n"
      "FROM busybox\n"
      "ENV A=1\n"
      "RUN echo hi\n";
  Result r = run(exec, df);
  std::string base = "sha256:000000000001" + std::string(52, 'a');  // the fake's first image
  std::string env_id = exec.image_of("ENV A=1"), run_id = exec.image_of("RUN echo hi");
  // The step titles and their newlines are separate messages, as the classic builder sends them.
  std::vector<std::string> want = {"Step 1/4 : ARG V=1", "\n", "Step 2/4 : FROM busybox", "\n",
                                   " ---> 000000000001\n", "Step 3/4 : ENV A=1", "\n",
                                   " ---> " + short_of(env_id) + "\n", "Step 4/4 : RUN echo hi", "\n",
                                   " ---> Running in echo hi\n", " ---> " + short_of(run_id) + "\n"};
  EXPECT_EQ(r.text, want);
  EXPECT_EQ(r.id, run_id);
  EXPECT_EQ(r.aux, std::vector<std::string>{run_id});
  // The parent chain and the history the executor was given.
  EXPECT_EQ(exec.parents_["ENV A=1"], base);
  EXPECT_EQ(exec.parents_["RUN echo hi"], env_id);
  EXPECT_EQ(exec.commits_["ENV A=1"].history.created_by, "/bin/sh -c #(nop)  ENV A=1");
  EXPECT_EQ(exec.commits_["RUN echo hi"].history.created_by, "/bin/sh -c echo hi");
  EXPECT_EQ(exec.commits_["RUN echo hi"].container_cmd, (std::vector<std::string>{"/bin/sh", "-c", "echo hi"}));
}

TEST(BuildRunner, StepOrderAndStagesInTheDockerfilesOrder) {
  FakeExecutor exec;
  const char* df =
      "FROM busybox AS a\n"
      "RUN echo a\n"
      "FROM alpine AS b\n"
      "RUN echo b\n"
      "FROM a\n"
      "COPY --from=b /x /y\n"
      "RUN echo c\n";
  Result r = run(exec, df);
  // a and b in any order (they may run at the same time), the last stage after both.
  std::vector<std::string> ran = exec.executed();
  ASSERT_EQ(ran.size(), 4u);
  EXPECT_EQ(std::set<std::string>(ran.begin(), ran.begin() + 2), (std::set<std::string>{"RUN echo a", "RUN echo b"}));
  EXPECT_EQ(std::vector<std::string>(ran.begin() + 2, ran.end()),
            (std::vector<std::string>{"COPY --from=b /x /y", "RUN echo c"}));
  // The final stage starts from stage a's image; COPY --from=b gets b's image.
  EXPECT_EQ(exec.parents_["COPY --from=b /x /y"], exec.image_of("RUN echo a"));
  for (auto& c : exec.calls())
    if (c.what == "prepare COPY --from=b /x /y") {
      ASSERT_EQ(c.stages.size(), 1u);
      EXPECT_EQ(c.stages.at(1), exec.image_of("RUN echo b"));
    }
  // Every stage's image as an aux message, in order.
  EXPECT_EQ(r.aux, (std::vector<std::string>{exec.image_of("RUN echo a"), exec.image_of("RUN echo b"), r.id}));
  std::string text = r.joined();
  EXPECT_LT(text.find("Step 1/7 : FROM busybox AS a"), text.find("Step 3/7 : FROM alpine AS b"));
  EXPECT_LT(text.find("Step 3/7 : FROM alpine AS b"), text.find("Step 5/7 : FROM a"));
  EXPECT_NE(text.find("Step 7/7 : RUN echo c"), std::string::npos);
}

TEST(BuildRunner, CacheHitsAndMisses) {
  FakeExecutor exec;
  std::string df =
      "FROM busybox\n"
      "RUN echo one\n"
      "COPY a.txt /a\n"
      "RUN echo two\n";
  Result first = run(exec, df);
  EXPECT_EQ(exec.executed().size(), 3u);
  EXPECT_EQ(exec.remembered_keys().size(), 3u);
  // A fresh fake with the first one's cache (its base image gets the same id, the first one's).
  FakeExecutor again;
  again.cache = exec.cache;
  Result second = run(again, df);
  EXPECT_TRUE(again.executed().empty());
  EXPECT_EQ(second.id, first.id);
  std::string text = second.joined();
  std::size_t hits = 0;
  for (std::size_t at = text.find(" ---> Using cache\n"); at != std::string::npos; at = text.find(" ---> Using cache\n", at + 1))
    ++hits;
  EXPECT_EQ(hits, 3u);
  // A source's content changed: that step and those after it miss, the one before hits.
  FakeExecutor changed;
  changed.cache = exec.cache;
  changed.file_hashes["a.txt"] = "file:other";
  run(changed, df);
  EXPECT_EQ(changed.executed(), (std::vector<std::string>{"COPY a.txt /a", "RUN echo two"}));
  EXPECT_EQ(changed.commits_["COPY a.txt /a"].history.created_by, "/bin/sh -c #(nop) COPY file:other in /a ");
  // --no-cache: nothing looked up, nothing remembered.
  FakeExecutor nocache;
  nocache.cache = exec.cache;
  run(nocache, df, "", true);
  EXPECT_EQ(nocache.executed().size(), 3u);
  for (auto& c : nocache.calls()) {
    EXPECT_NE(c.what, "cached");
    EXPECT_NE(c.what, "remember");
  }
}

TEST(BuildRunner, CopyLinkIsRememberedUnderItsOwnKeyToo) {
  FakeExecutor exec;
  run(exec, "FROM busybox\nCOPY --link a /a\n");
  EXPECT_EQ(exec.remembered_keys().size(), 2u);
  EXPECT_FALSE(exec.commits_["COPY --link a /a"].link_key.empty());
  FakeExecutor nocache;
  run(nocache, "FROM busybox\nCOPY --link a /a\n", "", true);
  EXPECT_TRUE(nocache.commits_["COPY --link a /a"].link_key.empty());
}

TEST(BuildRunner, TargetSkipsStagesItDoesNotNeed) {
  FakeExecutor exec;
  const char* df =
      "FROM busybox AS a\n"
      "RUN echo a\n"
      "FROM alpine AS unused\n"
      "RUN echo unused\n"
      "FROM busybox AS t\n"
      "COPY --from=a /x /y\n"
      "FROM busybox AS after\n"
      "RUN echo after\n";
  Result r = run(exec, df, "t");
  EXPECT_EQ(exec.executed(), (std::vector<std::string>{"RUN echo a", "COPY --from=a /x /y"}));
  for (auto& c : exec.calls()) EXPECT_NE(c.what, "base alpine");
  // The steps are counted over the needed stages only.
  std::string text = r.joined();
  EXPECT_NE(text.find("Step 1/4 : FROM busybox AS a"), std::string::npos);
  EXPECT_NE(text.find("Step 3/4 : FROM busybox AS t"), std::string::npos);
  EXPECT_NE(text.find("Step 4/4 : COPY --from=a /x /y"), std::string::npos);
  EXPECT_EQ(text.find("unused"), std::string::npos);
  EXPECT_EQ(r.id, exec.image_of("COPY --from=a /x /y"));
}

TEST(BuildRunner, OnbuildTriggersRunInTheFromStep) {
  FakeExecutor exec;
  ImageConfig base;
  base.on_build = std::vector<std::string>{"RUN echo trig"};
  exec.base_configs["parent"] = base;
  Result r = run(exec, "FROM parent\nRUN echo own\n");
  EXPECT_EQ(exec.executed(), (std::vector<std::string>{"RUN echo trig", "RUN echo own"}));
  std::string text = r.joined();
  std::size_t exec_at = text.find("# Executing 1 build trigger\n");
  ASSERT_NE(exec_at, std::string::npos);
  EXPECT_LT(text.find("Step 1/2 : FROM parent"), exec_at);
  EXPECT_LT(exec_at, text.find(" ---> " + short_of(exec.image_of("RUN echo trig")) + "\n"));
  EXPECT_LT(text.find(" ---> " + short_of(exec.image_of("RUN echo trig")) + "\n"), text.find("Step 2/2 : RUN echo own"));
}

TEST(BuildRunner, AFailingStepFailsTheBuild) {
  FakeExecutor exec;
  exec.fail_on = "bad";
  const char* df =
      "FROM busybox\n"
      "RUN echo bad\n"
      "RUN echo never\n";
  std::vector<std::string> text;
  RunOutput out;
  out.text = [&](std::string_view t) { text.emplace_back(t); };
  auto p = plan(df);
  try {
    run_build(*p, exec, {}, out);
    FAIL() << "no error";
  } catch (const hoist::Error& e) {
    EXPECT_EQ(std::string(e.what()), "The command 'echo bad' returned a non-zero code: 1");
  }
  EXPECT_EQ(exec.executed(), std::vector<std::string>{"RUN echo bad"});
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), " ---> Running in echo bad\n");
}

TEST(BuildRunner, RefusesWhatIsNotSupportedBeforeTheStepRuns) {
  FakeExecutor exec;
  // BuildKit's entitlement: RUN --security=insecure without it.
  try {
    run(exec, "FROM busybox\nRUN --security=insecure echo\n");
    FAIL() << "no error";
  } catch (const hoist::InvalidArgument& e) {
    EXPECT_EQ(std::string(e.what()), "security.insecure is not allowed");
  }
  try {
    run(exec, "FROM busybox\nCOPY git@github.com:a/b.git /src\n");
    FAIL() << "no error";
  } catch (const hoist::InvalidArgument& e) {
    EXPECT_EQ(std::string(e.what()),
              "Dockerfile line 2: COPY of a git repository (git@github.com:a/b.git) is not supported yet by hoist build");
  }
  for (auto& c : exec.calls()) EXPECT_EQ(c.what.rfind("prepare", 0), std::string::npos) << c.what;
}

TEST(BuildRunner, NoImageFromScratchAlone) {
  FakeExecutor exec;
  try {
    run(exec, "FROM scratch\n");
    FAIL() << "no error";
  } catch (const hoist::Error& e) {
    EXPECT_EQ(std::string(e.what()), "No image was generated. Is your Dockerfile empty?");
  }
}

const char* kTwoAndOne =
    "FROM busybox AS a\n"
    "RUN echo a\n"
    "FROM busybox AS b\n"
    "RUN echo b\n"
    "FROM busybox\n"
    "COPY --from=a /a /a\n"
    "COPY --from=b /b /b\n";

// The stages' lines in the output, in the Dockerfile's order: all of a's, then all of b's, then the last
// stage's.
void expect_in_order(const std::string& text) {
  std::vector<std::string> want = {"Step 1/7 : FROM busybox AS a", " ---> Running in echo a", "Step 3/7 : FROM busybox AS b",
                                   " ---> Running in echo b", "Step 5/7 : FROM busybox", "Step 7/7 : COPY --from=b /b /b"};
  std::size_t at = 0;
  for (const std::string& w : want) {
    std::size_t found = text.find(w, at);
    ASSERT_NE(found, std::string::npos) << w << " after " << at << " in\n" << text;
    at = found;
  }
}

TEST(BuildRunner, IndependentStagesRunAtTheSameTime) {
  FakeExecutor exec;
  exec.run_time = std::chrono::milliseconds(300);
  Result r = run(exec, kTwoAndOne, "", false, 2);
  auto t = exec.times();
  auto a = t.at("RUN echo a"), b = t.at("RUN echo b");
  EXPECT_LT(a.first, b.second);  // they overlapped
  EXPECT_LT(b.first, a.second);
  // The last stage after both.
  EXPECT_GE(t.at("COPY --from=a /a /a").first, a.second);
  EXPECT_GE(t.at("COPY --from=a /a /a").first, b.second);
  expect_in_order(r.joined());
  // Each stage's image as an aux message, in the Dockerfile's order.
  EXPECT_EQ(r.aux, (std::vector<std::string>{exec.image_of("RUN echo a"), exec.image_of("RUN echo b"), r.id}));
}

TEST(BuildRunner, ALaterStagesOutputWaitsForTheEarlierOnes) {
  FakeExecutor exec;
  exec.run_times["RUN echo a"] = std::chrono::milliseconds(400);  // b is done long before a
  Result r = run(exec, kTwoAndOne, "", false, 2);
  auto t = exec.times();
  EXPECT_LT(t.at("RUN echo b").second, t.at("RUN echo a").second);
  expect_in_order(r.joined());
  // The text is the same as one stage after the other would give.
  FakeExecutor seq;
  seq.run_times = exec.run_times;
  Result one = run(seq, kTwoAndOne, "", false, 1);
  ASSERT_EQ(one.text.size(), r.text.size());
  for (std::size_t i = 0; i < r.text.size(); ++i)
    if (r.text[i].rfind(" ---> ", 0) != 0 || r.text[i].rfind(" ---> Running", 0) == 0) {
      EXPECT_EQ(r.text[i], one.text[i]);
    }
}

TEST(BuildRunner, OneAtATimeWhenParallelIsOne) {
  FakeExecutor exec;
  exec.run_time = std::chrono::milliseconds(50);
  run(exec, kTwoAndOne, "", false, 1);
  auto t = exec.times();
  EXPECT_LE(t.at("RUN echo a").second, t.at("RUN echo b").first);
  EXPECT_EQ(exec.executed(), (std::vector<std::string>{"RUN echo a", "RUN echo b", "COPY --from=a /a /a", "COPY --from=b /b /b"}));
}

TEST(BuildRunner, AFailingStageStopsTheOthers) {
  FakeExecutor exec;
  exec.run_times["RUN echo a"] = std::chrono::seconds(20);
  exec.fail_on = "echo b";
  exec.run_times["RUN echo b"] = std::chrono::milliseconds(200);  // a is running by then
  auto p = plan(kTwoAndOne);
  std::string text;
  RunOutput out;
  out.text = [&](std::string_view t) { text += t; };
  RunOptions o;
  o.parallel = 2;
  auto start = std::chrono::steady_clock::now();
  try {
    run_build(*p, exec, o, out);
    FAIL() << "no error";
  } catch (const hoist::Error& e) {
    EXPECT_EQ(std::string(e.what()), "The command 'echo b' returned a non-zero code: 1");  // b's, not a's "stopped"
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_TRUE(exec.cancelled);
  // The last stage never started; the output: a's so far, then b's up to its failure.
  for (auto& c : exec.calls()) EXPECT_EQ(c.what.find("COPY"), std::string::npos) << c.what;
  std::size_t a_at = text.find(" ---> Running in echo a"), b_at = text.find(" ---> Running in echo b");
  ASSERT_NE(a_at, std::string::npos) << text;
  ASSERT_NE(b_at, std::string::npos) << text;
  EXPECT_LT(a_at, b_at);
  EXPECT_EQ(text.find("Step 5/7"), std::string::npos);
}

TEST(BuildRunner, AStageWaitingForAnotherLeavesItsPlace) {
  // b's base has an ONBUILD COPY --from=a: b waits for a, which the plan did not know. With two
  // places, a and b start; b waiting leaves its place to c, which runs while a does.
  FakeExecutor exec;
  ImageConfig parent;
  parent.on_build = std::vector<std::string>{"COPY --from=a /a /a"};
  exec.base_configs["parent"] = parent;
  exec.run_times["RUN echo a"] = std::chrono::milliseconds(300);
  exec.run_times["RUN echo c"] = std::chrono::milliseconds(100);
  Result r = run(exec,
                 "FROM busybox AS a\n"
                 "RUN echo a\n"
                 "FROM parent AS b\n"
                 "RUN echo b\n"
                 "FROM busybox AS c\n"
                 "RUN echo c\n"
                 "FROM busybox\n"
                 "COPY --from=a /a /x\n"
                 "COPY --from=b /b /b\n"
                 "COPY --from=c /c /c\n",
                 "", false, 2);
  auto t = exec.times();
  EXPECT_LT(t.at("RUN echo c").first, t.at("RUN echo a").second);
  EXPECT_GE(t.at("COPY --from=a /a /a").first, t.at("RUN echo a").second);  // the trigger after a
  for (auto& c : exec.calls())
    if (c.what == "prepare COPY --from=a /a /a") {
      EXPECT_EQ(c.stages.at(0), exec.image_of("RUN echo a"));
    }
  std::string text = r.joined();
  EXPECT_LT(text.find("# Executing 1 build trigger"), text.find("Step 5/10 : FROM busybox AS c"));
}

TEST(BuildRunner, AnOnbuildCopyFromAStageTheTargetDoesNotNeedIsAnError) {
  FakeExecutor exec;
  ImageConfig parent;
  parent.on_build = std::vector<std::string>{"COPY --from=a /a /a"};
  exec.base_configs["parent"] = parent;
  try {
    run(exec, "FROM busybox AS a\nRUN echo a\nFROM parent\nRUN echo b\n");
    FAIL() << "no error";
  } catch (const hoist::Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "stage 0 (a) is not built for this target (an ONBUILD trigger of a later stage names it)");
  }
}

}  // namespace
