// Dockerfiles: the parser, the planner and the stage evaluator on any text. Bad input may only
// fail with the documented errors (DockerfileError and the other hoist::Error kinds); what parses
// must keep the invariants checked here.
#include "builder/cache_key.h"
#include "builder/history.h"
#include "builder/parser.h"
#include "builder/planner.h"
#include "builder/shell_lex.h"
#include "builder/stage_eval.h"
#include "fuzz.h"

using namespace hoist::builder;

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  auto text = hoist::fuzz::as_text(data, size);
  hoist::fuzz::expect_only_input_errors([&] {
    auto parsed = parse_dockerfile(text);
    int last = 0;
    for (auto& n : parsed.nodes) {
      if (n.start_line <= last || n.end_line < n.start_line) hoist::fuzz::fail("node lines out of order");
      last = n.end_line;
    }
  });
  hoist::fuzz::expect_only_input_errors([&] {
    BuildRequest req;
    req.dockerfile = std::string(text);
    req.args.values = {{"A", "1"}, {"HTTP_PROXY", "http://p"}, {"EMPTY", std::nullopt}};
    auto plan = plan_build(req);
    for (auto& level : plan->levels())
      for (int s : level)
        for (int d : plan->stages[s].deps)
          if (d >= s) hoist::fuzz::fail("a stage depends on a later one");
    for (auto& st : plan->stages) {
      if (!st.needed) continue;
      StageEvaluator ev(*plan, st.index, ImageConfig{});
      std::string key = base_cache_key("sha256:base", "linux/amd64");
      while (!ev.done()) {
        Step step = ev.next();
        key = step_cache_key(key, step.cache_text);
        if (step.action == Step::Action::Copy) (void)copy_created_by(step, {"file:0", "dir:1"});
        else (void)created_by(step.container_cmd);
        // A value that is not UTF-8 comes out as U+FFFD (as from Go's encoder), which may reorder
        // keys once: from then on the JSON must be stable.
        auto json = ImageConfig::from_json(step.config.to_json()).to_json();
        if (ImageConfig::from_json(json).to_json() != json) hoist::fuzz::fail("image config does not round-trip: " + json);
      }
    }
  });
  // The lexer on the text as one word.
  hoist::fuzz::expect_only_input_errors([&] {
    std::vector<std::string> env = {"A=a b", "EMPTY=", "P=/x/y.tar.gz"};
    ShellLex lex;
    auto r = lex.process(text, env_lookup(env));
    for (auto& w : r.words)
      if (w.empty()) hoist::fuzz::fail("an empty word");
  });
  return 0;
}
