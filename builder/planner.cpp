#include "builder/planner.h"

#include <algorithm>
#include <cctype>

#include "builder/go_text.h"
#include "builder/shell_lex.h"
#include "common/strings.h"

namespace hoist::builder {

namespace {

[[noreturn]] void fail(const Plan& p, int line, const std::string& msg) {
  throw DockerfileError(msg, p.dockerfile.file, line, msg);
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

int find_stage(const Plan& p, const std::string& name) {
  std::string l = lower(name);
  for (auto& s : p.stages)
    if (!s.name.empty() && s.name == l) return s.index;
  return -1;
}

// strconv.ParseInt(s, 10, 0)
std::optional<long long> parse_index(const std::string& s) {
  std::size_t i = !s.empty() && (s[0] == '+' || s[0] == '-') ? 1 : 0;
  if (i >= s.size() || s.size() - i > 18) return std::nullopt;
  for (std::size_t k = i; k < s.size(); ++k)
    if (s[k] < '0' || s[k] > '9') return std::nullopt;
  long long v = std::stoll(s.substr(i));
  return s[0] == '-' ? -v : v;
}

void meta_args(Plan& p) {
  ShellLex lex;
  lex.escape = p.dockerfile.escape;
  for (auto& in : p.dockerfile.meta_args) {
    auto env = p.global.env();
    auto lookup = env_lookup(env);
    std::vector<std::pair<std::string, std::optional<std::string>>> expanded;
    try {
      for (auto& a : in.args) {
        std::optional<std::string> v;
        if (a.value) v = lex.word(*a.value, lookup);
        expanded.emplace_back(lex.word(a.key, lookup), v);
      }
    } catch (const LexError& e) {
      fail(p, in.line, e.what());
    }
    for (auto& [k, v] : expanded) p.global.declare(k, v);
  }
}

// A mount's target as written, for the message about a mount from a later stage.
std::string mount_target(const std::string& spec) {
  for (auto& field : split(spec, ',')) {
    auto eq = field.find('=');
    std::string key = lower(field.substr(0, eq));
    if (eq != std::string::npos && (key == "target" || key == "dst" || key == "destination")) return field.substr(eq + 1);
  }
  return "";
}

void needed_closure(Plan& p, int from) {
  std::vector<int> todo = {from};
  while (!todo.empty()) {
    int s = todo.back();
    todo.pop_back();
    if (p.stages[s].needed) continue;
    p.stages[s].needed = true;
    for (int d : p.stages[s].deps) todo.push_back(d);
  }
}

}  // namespace

SourceRef Plan::resolve_copy_from(int at, const std::string& from, int line) const {
  ShellLex lex;
  lex.escape = dockerfile.escape;
  std::string processed;
  try {
    processed = lex.word(from, {});
  } catch (const LexError& e) {
    fail(*this, line, e.what());
  }
  if (processed != from)
    fail(*this, line,
         "variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a "
         "workaround");
  SourceRef r;
  int named = find_stage(*this, from);
  if (named >= 0) {
    if (named >= at)
      fail(*this, line,
           "cannot copy from stage " + go::quote(from) + ", it needs to be defined before current stage " +
               go::quote(stages[at].name));
    r.kind = SourceRef::Stage;
    r.stage = named;
    return r;
  }
  if (auto ix = parse_index(from)) {
    if (*ix == at) fail(*this, line, "invalid from flag value " + from + ": refers to current build stage");
    if (*ix < 0 || *ix > at) fail(*this, line, "invalid from flag value " + from + ": index out of bounds");
    r.kind = SourceRef::Stage;
    r.stage = static_cast<int>(*ix);
    return r;
  }
  r.kind = SourceRef::Image;
  r.image = from;
  return r;
}

SourceRef Plan::resolve_mount_from(int at, const std::string& from, const std::string& target, int line) const {
  SourceRef r;
  if (from.empty()) {
    r.kind = SourceRef::Context;
    return r;
  }
  int named = find_stage(*this, from);
  if (named >= 0) {
    if (named >= at)
      fail(*this, line,
           "cannot mount from stage " + go::quote(from) + " to " + go::quote(target) +
               ", stage needs to be defined before current command");
    r.kind = SourceRef::Stage;
    r.stage = named;
    return r;
  }
  r.kind = SourceRef::Image;
  r.image = from;
  return r;
}

std::vector<std::vector<int>> Plan::levels() const {
  std::vector<int> level(stages.size(), -1);
  std::vector<std::vector<int>> out;
  // Stages only depend on earlier ones, so one pass in order sets every level.
  for (auto& s : stages) {
    if (!s.needed) continue;
    int l = 0;
    for (int d : s.deps) l = std::max(l, level[d] + 1);
    level[s.index] = l;
  }
  for (auto& s : stages) {
    if (!s.needed || s.index == target) continue;
    if (out.size() <= static_cast<std::size_t>(level[s.index])) out.resize(level[s.index] + 1);
    out[level[s.index]].push_back(s.index);
  }
  // The target last, alone: its level is above all of its dependencies' anyway.
  while (!out.empty() && out.back().empty()) out.pop_back();
  out.push_back({target});
  // Groups left empty by moving the target out.
  out.erase(std::remove_if(out.begin(), out.end(), [](auto& g) { return g.empty(); }), out.end());
  return out;
}

Scheduler::Scheduler(const Plan& plan) : plan_(plan) {
  for (auto& s : plan.stages)
    if (s.needed) {
      needed_.insert(s.index);
      waiting_[s.index] = s.deps;
    }
}

std::vector<int> Scheduler::ready() {
  std::vector<int> out;
  for (int s : needed_) {
    if (started_.count(s)) continue;
    bool ok = true;
    for (int d : waiting_[s]) ok = ok && done_.count(d);
    if (!ok) continue;
    started_.insert(s);
    out.push_back(s);
  }
  return out;
}

void Scheduler::done(int stage) { done_.insert(stage); }

void Scheduler::add_dependency(int stage, int dep) {
  waiting_[stage].insert(dep);
  std::vector<int> todo = {dep};
  while (!todo.empty()) {
    int s = todo.back();
    todo.pop_back();
    if (!needed_.insert(s).second) continue;
    waiting_[s] = plan_.stages[s].deps;
    for (int d : plan_.stages[s].deps) todo.push_back(d);
  }
}

bool Scheduler::finished() const {
  for (int s : needed_)
    if (!done_.count(s)) return false;
  return true;
}

std::unique_ptr<Plan> plan_build(const BuildRequest& req) {
  auto plan = std::make_unique<Plan>(req.args);
  Plan& p = *plan;
  p.dockerfile = parse_stages(req.dockerfile, req.dockerfile_name);
  p.warnings = p.dockerfile.warnings;
  p.notes = p.dockerfile.notes;
  if (p.dockerfile.stages.empty()) fail(p, 0, "No image was generated. Is your Dockerfile empty?");
  meta_args(p);

  ShellLex lex;
  lex.escape = p.dockerfile.escape;
  auto genv = p.global.env();
  auto glookup = env_lookup(genv);
  // Names first: a COPY --from naming a later stage is an error, not an image.
  for (std::size_t i = 0; i < p.dockerfile.stages.size(); ++i) {
    const Stage& st = p.dockerfile.stages[i];
    if (!st.name.empty() && find_stage(p, st.name) >= 0) fail(p, st.line, st.name + " stage name already used");
    PlannedStage ps;
    ps.index = static_cast<int>(i);
    ps.name = st.name;
    p.stages.push_back(ps);
  }
  for (auto& cur : p.stages) {
    const Stage& st = p.dockerfile.stages[cur.index];
    try {
      cur.base = lex.word(st.base, glookup);
    } catch (const LexError& e) {
      fail(p, st.line, e.what());
    }
    if (cur.base.empty()) fail(p, st.line, "base name (" + st.base + ") should not be blank");
    if (!st.platform.empty()) {
      std::string v;
      try {
        v = lex.word(st.platform, glookup);
      } catch (const LexError& e) {
        fail(p, st.line, "failed to process arguments for platform " + st.platform + ": " + e.what());
      }
      try {
        cur.platform = Platform::parse(v, req.args.target);
      } catch (const InvalidArgument& e) {
        fail(p, st.line, "failed to parse platform " + st.platform + ": " + e.what());
      }
      if (cur.platform->os != "linux") fail(p, st.line, "unsupported os " + cur.platform->os);
    }
    // FROM names a stage only when it is an earlier one (dockerd's classic builder).
    int base_stage = find_stage(p, cur.base);
    if (base_stage >= 0 && base_stage < cur.index) {
      cur.from.kind = SourceRef::Stage;
      cur.from.stage = base_stage;
      cur.deps.insert(base_stage);
    } else if (lower(cur.base) == "scratch") {
      cur.from.kind = SourceRef::Scratch;
    } else {
      cur.from.kind = SourceRef::Image;
      cur.from.image = cur.base;
    }
    for (auto& in : st.commands) {
      if (in.kind == Kind::Copy && !in.from.empty()) {
        auto r = p.resolve_copy_from(cur.index, in.from, in.line);
        if (r.kind == SourceRef::Stage) cur.deps.insert(r.stage);
        else cur.images.insert(r.image);
      }
      if (in.kind == Kind::Run)
        for (std::size_t m = 0; m < in.mount_froms.size(); ++m) {
          if (in.mount_froms[m].empty()) continue;
          auto r = p.resolve_mount_from(cur.index, in.mount_froms[m], mount_target(in.mount_specs[m]), in.line);
          if (r.kind == SourceRef::Stage) cur.deps.insert(r.stage);
          else cur.images.insert(r.image);
        }
    }
  }

  if (req.target.empty()) {
    p.target = static_cast<int>(p.stages.size()) - 1;
  } else {
    for (auto& s : p.stages)
      if (!s.name.empty() && s.name == lower(req.target)) p.target = s.index;
    if (p.target < 0) fail(p, 0, "failed to reach build target " + req.target + " in Dockerfile");
  }
  needed_closure(p, p.target);

  // --label: LABEL steps at the end of the target stage, sorted, values as given.
  for (auto& [k, v] : req.labels) {
    Instruction in;
    in.kind = Kind::Label;
    in.keyword = "LABEL";
    in.original = "LABEL " + k + "=" + v;
    in.pairs.push_back({k, v, false});
    in.no_expand = true;
    p.dockerfile.stages[p.target].commands.push_back(std::move(in));
  }

  std::set<std::string> declared;
  for (auto& in : p.dockerfile.meta_args)
    for (auto& a : in.args) declared.insert(a.key);
  for (auto& s : p.stages) {
    if (!s.needed) continue;
    for (auto& in : p.dockerfile.stages[s.index].commands)
      if (in.kind == Kind::Arg)
        for (auto& a : in.args) declared.insert(a.key);
  }
  auto warning = unconsumed_warning(unconsumed_build_args(req.args, declared));
  if (!warning.empty()) p.warnings.push_back(warning);
  return plan;
}

}  // namespace hoist::builder
