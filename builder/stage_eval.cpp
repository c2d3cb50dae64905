#include "builder/stage_eval.h"

#include "builder/go_match.h"
#include "builder/go_text.h"
#include "builder/history.h"
#include "builder/ports.h"
#include "builder/shell_lex.h"
#include "common/signals.h"
#include "common/strings.h"

namespace hoist::builder {

namespace {

const std::vector<std::string> kDefaultShell = {"/bin/sh", "-c"};

// An error of one step: the message as dockerd words it, the place from the instruction.
struct StepError {
  std::string msg;
};

bool has_path(const ImageConfig& c) {
  for (auto& e : c.env)
    if (e.rfind("PATH=", 0) == 0) return true;
  return false;
}

// dockerd's normalizeWorkdir (Linux): relative to the current one, cleaned; an absolute one
// taken as written.
std::string normalize_workdir(const std::string& current, const std::string& requested) {
  if (requested.empty()) throw StepError{"cannot normalize nothing"};
  if (requested[0] != '/') return go_clean("/" + current + "/" + requested);
  return requested;
}

// dockerd's normalizeDest (Linux): relative to WORKDIR, a trailing / kept.
std::string normalize_dest(const std::string& workdir, const std::string& dest) {
  if (!dest.empty() && dest[0] == '/') return dest;
  std::string d = go_clean("/" + workdir + "/" + dest);
  if (!dest.empty() && dest.back() == '/' && d != "/") d += "/";
  return d;
}

std::vector<std::string> shell_of(const ImageConfig& c) {
  return c.shell && !c.shell->empty() ? *c.shell : kDefaultShell;
}

bool is_url(const std::string& s) { return s.rfind("http://", 0) == 0 || s.rfind("https://", 0) == 0; }

// The cache text: every value with its length first (binary-safe, so that no two different
// steps give the same text, whatever bytes their values hold).
struct CacheText {
  std::string out;
  CacheText& operator<<(std::string_view v) {
    out += std::to_string(v.size());
    out += ':';
    out.append(v);
    return *this;
  }
  CacheText& operator<<(const std::vector<std::string>& v) {
    *this << ("list" + std::to_string(v.size()));
    for (auto& e : v) *this << e;
    return *this;
  }
  CacheText& operator<<(std::int64_t n) { return *this << std::to_string(n); }
  CacheText& operator<<(const SourceRef& r) {
    static const char* kinds[] = {"stage", "image", "scratch", "context"};
    return *this << kinds[r.kind] << std::int64_t{r.stage} << r.image;
  }
  template <typename T>
  CacheText& operator<<(const std::optional<T>& v) {
    if (!v) return *this << "none";
    return *this << "some" << *v;
  }
  CacheText& operator<<(std::uint64_t n) { return *this << std::to_string(n); }
  CacheText& operator<<(bool b) { return *this << (b ? "true" : "false"); }
  CacheText& operator<<(const char* s) { return *this << std::string_view(s); }
};

// What identifies a step besides its parent: its kind and every value it acts on. Values that
// come from the config (env, user, workdir) are the parent's business.
std::string cache_text_of(const Step& s, const std::vector<std::string>& recorded) {
  const Instruction& in = s.instruction;
  CacheText t;
  t << "hoist-step-v1" << kind_name(in.kind) << s.container_cmd;
  switch (s.action) {
    case Step::Action::Run:
      t << s.argv << recorded << in.network << in.security << std::int64_t(s.mounts.size());
      for (std::size_t i = 0; i < s.mounts.size(); ++i) {
        const Mount& m = s.mounts[i];
        t << mount_type_name(m.type) << m.from << m.source << m.target << m.cache_id << m.sharing << m.read_only
          << m.required << m.size_limit << m.env << m.mode << m.uid << m.gid << s.mount_sources[i];
      }
      t << std::int64_t(s.inline_files.size());
      for (auto& f : s.inline_files) t << f.path << f.data << std::int64_t{f.mode};
      break;
    case Step::Action::Copy:
      t << in.sources << std::int64_t(in.source_contents.size());
      for (auto& c : in.source_contents) t << c.path << c.data;
      t << s.dest << s.copy_from << in.chown << in.chmod << in.link << in.parents << in.excludes << in.checksum
        << in.unpack;
      break;
    case Step::Action::Workdir:
      t << s.dir;
      break;
    case Step::Action::Config:
      t << in.list << std::int64_t(in.pairs.size());
      for (auto& p : in.pairs) t << p.key << p.value;
      break;
  }
  return t.out;
}

void check_chmod(const std::string& chmod) {
  if (chmod.empty()) return;
  bool octal = chmod.size() <= 11 && chmod.find_first_not_of("01234567") == std::string::npos;
  if (!octal || std::stoul(chmod, nullptr, 8) > 07777)
    throw StepError{"invalid chmod parameter: '" + chmod + "'. it should be octal string and between 0 and 07777"};
}

}  // namespace

StageEvaluator::StageEvaluator(const Plan& plan, int stage, const ImageConfig& base)
    : plan_(plan), stage_(stage), config_(base), args_(plan.global) {
  if (!has_path(config_)) config_.env.push_back(std::string("PATH=") + kDefaultPath);
  const Stage& st = plan.dockerfile.stages[stage];
  if (config_.on_build)
    for (auto& trigger : *config_.on_build) {
      items_.push_back({parse_trigger(trigger, plan.dockerfile.file, st.line), true});
      ++triggers_;
      const Instruction& in = items_.back().in;
      std::vector<SourceRef> refs;
      if (in.kind == Kind::Copy && !in.from.empty()) refs.push_back(plan.resolve_copy_from(stage, in.from, st.line));
      for (auto& f : in.mount_froms)
        if (!f.empty()) refs.push_back(plan.resolve_mount_from(stage, f, "", st.line));
      for (auto& r : refs) {
        if (r.kind == SourceRef::Stage) trigger_stages_.insert(r.stage);
        else if (r.kind == SourceRef::Image) trigger_images_.insert(r.image);
      }
    }
  config_.on_build.reset();
  for (auto& in : st.commands) items_.push_back({in, false});
}

std::vector<std::string> StageEvaluator::expansion_env() const {
  auto env = config_.env;
  for (auto& [k, v] : args_.visible(config_.env)) env.push_back(k + "=" + v);
  return env;
}

std::string StageEvaluator::expand(const std::string& word) const {
  ShellLex lex;
  lex.escape = plan_.dockerfile.escape;
  auto env = expansion_env();
  try {
    return lex.word(word, env_lookup(env));
  } catch (const LexError& e) {
    throw StepError{e.what()};
  }
}

void StageEvaluator::run_step(Step& s) {
  Instruction& in = s.instruction;
  s.action = Step::Action::Run;
  auto args = in.cmdline;
  if (!in.files.empty()) {
    if (args.size() != 1 || !in.prepend_shell) throw StepError{"parsing produced an invalid run command: " + go::plain_list(args)};
    Heredoc h;
    bool simple = false;
    try {
      simple = parse_heredoc_word(args[0], h);
    } catch (const LexError&) {
    }
    if (simple) {
      const Heredoc& f = in.files[0];
      std::string data = f.chomp ? chomp_heredoc(f.content) : f.content;
      if (data.rfind("#!", 0) == 0) {
        std::string path = "/dev/pipes/" + f.name;
        s.inline_files.push_back({path, data, 0755});
        args = {path};
      } else {
        args = {data};
      }
    } else {
      std::string b = args[0];
      for (auto& f : in.files) b += "\n" + f.content + f.name;
      args = {b};
    }
  }
  if (in.prepend_shell) {
    auto sh = shell_of(config_);
    sh.insert(sh.end(), args.begin(), args.end());
    args = sh;
  }
  s.argv = args;
  auto visible = args_.visible(config_.env);
  s.env = config_.env;
  for (auto& [k, v] : visible) s.env.push_back(k + "=" + v);
  s.user = config_.user;
  s.workdir = config_.working_dir;
  auto recorded = args_.recorded(config_.env);
  s.container_cmd = args;
  if (!visible.empty()) {
    std::vector<std::string> saved = {"|" + std::to_string(recorded.size())};
    saved.insert(saved.end(), recorded.begin(), recorded.end());
    saved.insert(saved.end(), args.begin(), args.end());
    s.container_cmd = saved;
  }
  for (auto& spec : in.mount_specs) {
    Mount m;
    try {
      m = parse_mount(spec, [this](const std::string& v) { return expand(v); });
    } catch (const InvalidArgument& e) {
      throw StepError{e.what()};
    }
    SourceRef src;
    if (m.from.empty()) src.kind = m.type == MountType::Cache ? SourceRef::Scratch : SourceRef::Context;
    else src = plan_.resolve_mount_from(stage_, m.from, m.target, in.line);
    s.mounts.push_back(m);
    s.mount_sources.push_back(src);
  }
  s.cache_text = cache_text_of(s, recorded);
}

void StageEvaluator::copy_step(Step& s) {
  Instruction& in = s.instruction;
  s.action = Step::Action::Copy;
  for (auto& src : in.sources) src = expand(src);
  in.dest = expand(in.dest);
  in.chown = expand(in.chown);
  in.chmod = expand(in.chmod);
  for (auto& e : in.excludes) e = expand(e);
  if (in.kind == Kind::Add) in.checksum = expand(in.checksum);
  for (auto& c : in.source_contents) {
    if (!c.expand) continue;
    ShellLex raw;
    raw.skip_process_quotes = true;
    auto env = expansion_env();
    try {
      c.data = raw.word(c.data, env_lookup(env));
    } catch (const LexError& e) {
      throw StepError{e.what()};
    }
  }
  check_chmod(in.chmod);
  if (!in.checksum.empty()) {
    if (in.sources.size() != 1) throw StepError{"checksum can't be specified for multiple sources"};
    if (!is_url(in.sources[0])) throw StepError{"checksum requires HTTP(S) or Git sources"};
  }
  if (in.kind == Kind::Copy)
    for (auto& src : in.sources)
      if (is_url(src)) throw StepError{"source can't be a URL for COPY"};
  if (in.from.empty()) s.copy_from.kind = SourceRef::Context;
  else s.copy_from = plan_.resolve_copy_from(stage_, in.from, in.line);
  s.dest = normalize_dest(config_.working_dir, in.dest);
  s.cache_text = cache_text_of(s, {});
}

Step StageEvaluator::next() {
  const Item& item = items_.at(next_++);
  Step s;
  s.instruction = item.in;
  s.trigger = item.trigger;
  Instruction& in = s.instruction;
  std::string text;  // a metadata step's history text
  try {
    switch (in.kind) {
      case Kind::Env: {
        for (auto& p : in.pairs) {
          p.key = expand(p.key);
          p.value = expand(p.value);
        }
        text = "ENV";
        for (auto& p : in.pairs) {
          config_.setenv(p.key, p.value);
          text += " " + p.key + "=" + p.value;
        }
        break;
      }
      case Kind::Maintainer:
        author_ = in.value;
        text = "MAINTAINER " + in.value;
        break;
      case Kind::Label: {
        if (!in.no_expand)
          for (auto& p : in.pairs) {
            p.key = expand(p.key);
            p.value = expand(p.value);
          }
        if (!config_.labels) config_.labels.emplace();
        text = "LABEL";
        for (auto& p : in.pairs) {
          (*config_.labels)[p.key] = p.value;
          text += " " + p.key + "=" + p.value;
        }
        break;
      }
      case Kind::Expose: {
        ShellLex lex;
        lex.escape = plan_.dockerfile.escape;
        auto env = expansion_env();
        std::vector<std::string> ports;
        for (auto& p : in.list) {
          try {
            for (auto& w : lex.words(p, env_lookup(env))) ports.push_back(w);
          } catch (const LexError& e) {
            throw StepError{e.what()};
          }
        }
        in.list = ports;
        std::vector<std::string> exposed;
        for (auto& p : ports) {
          try {
            for (auto& e : exposed_ports(p)) exposed.push_back(e);
          } catch (const InvalidArgument& e) {
            throw StepError{e.what()};
          }
        }
        if (!config_.exposed_ports) config_.exposed_ports.emplace();
        config_.exposed_ports->insert(exposed.begin(), exposed.end());
        text = "EXPOSE " + join(ports, " ");
        break;
      }
      case Kind::User:
        in.value = expand(in.value);
        config_.user = in.value;
        text = "USER " + in.value;
        break;
      case Kind::Volume: {
        for (auto& v : in.list) {
          v = expand(v);
          if (v.empty()) throw StepError{"VOLUME specified can not be an empty string"};
        }
        if (!config_.volumes) config_.volumes.emplace();
        config_.volumes->insert(in.list.begin(), in.list.end());
        text = "VOLUME " + go::plain_list(in.list);
        break;
      }
      case Kind::Stopsignal:
        in.value = expand(in.value);
        try {
          parse_signal(in.value);
        } catch (const InvalidArgument&) {
          throw StepError{"Invalid signal: " + in.value};
        }
        config_.stop_signal = in.value;
        text = "STOPSIGNAL " + in.value;
        break;
      case Kind::Arg: {
        for (auto& a : in.args) {
          a.key = expand(a.key);
          if (a.value) a.value = expand(*a.value);
        }
        text = "ARG ";
        for (std::size_t i = 0; i < in.args.size(); ++i) {
          auto& a = in.args[i];
          text += (i ? " " : "") + a.key + (a.value ? "=" + *a.value : "");
          args_.declare(a.key, a.value);
        }
        break;
      }
      case Kind::Onbuild:
        if (!config_.on_build) config_.on_build.emplace();
        config_.on_build->push_back(in.value);
        text = "ONBUILD " + in.value;
        break;
      case Kind::Shell:
        config_.shell = in.list;
        text = "SHELL " + go::plain_list(in.list);
        break;
      case Kind::Healthcheck: {
        // dockerd makes the step's container from the previous image and merges that image's
        // healthcheck into the one it then commits: what this one leaves unset comes from the
        // previous one (the history shows this one's own values).
        HealthConfig h = in.health;
        if (config_.healthcheck) {
          const HealthConfig& prev = *config_.healthcheck;
          if (h.test.empty()) h.test = prev.test;
          if (!h.interval) h.interval = prev.interval;
          if (!h.timeout) h.timeout = prev.timeout;
          if (!h.start_period) h.start_period = prev.start_period;
          if (!h.start_interval) h.start_interval = prev.start_interval;
          if (!h.retries) h.retries = prev.retries;
        }
        config_.healthcheck = h;
        text = "HEALTHCHECK " + health_text(in.health);
        break;
      }
      case Kind::Cmd: {
        auto cmd = in.cmdline;
        if (in.prepend_shell) {
          auto sh = shell_of(config_);
          sh.insert(sh.end(), cmd.begin(), cmd.end());
          cmd = sh;
        }
        config_.cmd = cmd;
        config_.args_escaped = false;
        text = "CMD " + go::quote_list(cmd);
        if (!in.cmdline.empty()) cmd_set_ = true;
        break;
      }
      case Kind::Entrypoint: {
        std::optional<std::vector<std::string>> ep;
        if (!in.cmdline.empty()) {
          ep = in.cmdline;
          if (in.prepend_shell) {
            auto sh = shell_of(config_);
            sh.insert(sh.end(), ep->begin(), ep->end());
            ep = sh;
          }
        }
        config_.entrypoint = ep;
        config_.args_escaped = false;
        if (!cmd_set_) config_.cmd.reset();
        text = "ENTRYPOINT " + go::quote_list(ep.value_or(std::vector<std::string>{}));
        break;
      }
      case Kind::Workdir:
        in.value = expand(in.value);
        config_.working_dir = normalize_workdir(config_.working_dir, in.value);
        s.action = Step::Action::Workdir;
        s.dir = config_.working_dir;
        s.container_cmd = nop_cmd_one(shell_of(config_), "WORKDIR " + config_.working_dir);
        s.cache_text = cache_text_of(s, {});
        break;
      case Kind::Run:
        run_step(s);
        break;
      case Kind::Copy:
      case Kind::Add:
        copy_step(s);
        break;
      case Kind::From:
        throw StepError{"*instructions.Stage is not a command type"};
    }
  } catch (const StepError& e) {
    throw DockerfileError(e.msg, plan_.dockerfile.file, in.line, e.msg);
  }
  if (s.action == Step::Action::Config) {
    s.container_cmd = nop_cmd(shell_of(config_), text);
    s.cache_text = cache_text_of(s, {});
  }
  s.config = config_;
  s.author = author_;
  return s;
}

std::string copy_created_by(const Step& step, const std::vector<std::string>& source_hashes) {
  const Instruction& in = step.instruction;
  auto shell = step.config.shell && !step.config.shell->empty() ? *step.config.shell : kDefaultShell;
  return created_by(nop_cmd_one(shell, copy_text(kind_name(in.kind), in.chown, combined_source_hash(source_hashes), in.dest)));
}

}  // namespace hoist::builder

namespace hoist::builder {

HistoryEntry history_entry(const Step& step, bool layer_empty, const std::vector<std::string>& source_hashes) {
  HistoryEntry h;
  h.created_by = step.action == Step::Action::Copy ? copy_created_by(step, source_hashes) : created_by(step.container_cmd);
  h.author = step.author;
  h.empty_layer = step.action == Step::Action::Config || layer_empty;
  return h;
}

}  // namespace hoist::builder
