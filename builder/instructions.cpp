#include "builder/instructions.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <map>

#include "builder/go_text.h"
#include "builder/shell_lex.h"
#include "common/clock.h"

namespace hoist::builder {

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::Add: return "ADD";
    case Kind::Arg: return "ARG";
    case Kind::Cmd: return "CMD";
    case Kind::Copy: return "COPY";
    case Kind::Entrypoint: return "ENTRYPOINT";
    case Kind::Env: return "ENV";
    case Kind::Expose: return "EXPOSE";
    case Kind::From: return "FROM";
    case Kind::Healthcheck: return "HEALTHCHECK";
    case Kind::Label: return "LABEL";
    case Kind::Maintainer: return "MAINTAINER";
    case Kind::Onbuild: return "ONBUILD";
    case Kind::Run: return "RUN";
    case Kind::Shell: return "SHELL";
    case Kind::Stopsignal: return "STOPSIGNAL";
    case Kind::User: return "USER";
    case Kind::Volume: return "VOLUME";
    case Kind::Workdir: return "WORKDIR";
  }
  return "";
}

namespace {

// An instruction's problem; parse_instruction() adds the line.
struct Problem {
  std::string msg;
};

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// An instruction's --flags, as Docker's BFlags: defined, then parsed in one go.
class Flags {
 public:
  enum Type { Bool, String, Strings };
  struct Flag {
    Type type;
    std::string value;
    std::vector<std::string> values;
    bool used = false;
  };

  explicit Flags(const std::vector<std::string>& args) : args_(args) {}
  Flag& add(const std::string& name, Type t, std::string def = {}) {
    auto& f = flags_[name];
    f.type = t;
    f.value = t == Bool ? "false" : std::move(def);
    return f;
  }
  // dockerd 20.10's messages.
  void parse() {
    for (auto& a : args_) {
      if (a.rfind("--", 0) != 0) throw Problem{"Arg should start with -- : " + a};
      if (a == "--") return;
      std::string arg = a.substr(2), value;
      auto eq = arg.find('=');
      bool has_value = eq != std::string::npos;
      if (has_value) {
        value = arg.substr(eq + 1);
        arg.erase(eq);
      }
      auto it = flags_.find(arg);
      if (it == flags_.end()) throw Problem{"Unknown flag: " + arg};
      Flag& f = it->second;
      if (f.used && f.type != Strings) throw Problem{"Duplicate flag specified: " + arg};
      f.used = true;
      used_.push_back(arg);
      switch (f.type) {
        case Bool: {
          if (has_value && value.empty()) throw Problem{"Missing a value on flag: " + arg};
          std::string l = value;
          for (auto& c : l) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
          if (l.empty()) f.value = "true";
          else if (l == "true" || l == "false") f.value = l;
          else throw Problem{"Expecting boolean value for flag " + arg + ", not: " + value};
          break;
        }
        case String:
          if (!has_value) throw Problem{"Missing a value on flag: " + arg};
          f.value = value;
          break;
        case Strings:
          if (!has_value) throw Problem{"Missing a value on flag: " + arg};
          f.values.push_back(value);
          break;
      }
    }
  }
  const std::vector<std::string>& used() const { return used_; }

 private:
  const std::vector<std::string>& args_;
  std::map<std::string, Flag> flags_;
  std::vector<std::string> used_;
};

[[noreturn]] void at_least_one(const char* cmd) { throw Problem{std::string(cmd) + " requires at least one argument"}; }
[[noreturn]] void exactly_one(const char* cmd) { throw Problem{std::string(cmd) + " requires exactly one argument"}; }

// Exec form as given; the shell form's words joined into one string.
std::vector<std::string> json_args(const Node& n) {
  if (n.args.empty()) return {};
  if (n.json) return n.args;
  std::string s;
  for (std::size_t i = 0; i < n.args.size(); ++i) s += (i ? " " : "") + n.args[i];
  return {s};
}

void key_values(const Node& n, const char* cmd, Instruction& in) {
  if (n.args.empty()) at_least_one(cmd);
  if (n.args.size() % 3) throw Problem{std::string("Bad input to ") + cmd + ", too many arguments"};
  for (std::size_t j = 0; j < n.args.size(); j += 3) {
    if (n.args[j].empty()) throw Problem{std::string(cmd) + " names can not be blank"};
    in.pairs.push_back({n.args[j], n.args[j + 1], n.args[j + 2].empty()});
  }
}

bool heredoc_word(std::string_view w, Heredoc& h) {
  try {
    return parse_heredoc_word(w, h);
  } catch (const LexError&) {
    return false;  // Docker's MustParseHeredoc: an error is no heredoc
  }
}

void sources_and_dest(const Node& n, const char* cmd, Instruction& in) {
  in.dest = n.args.back();
  Heredoc h;
  if (heredoc_word(in.dest, h)) throw Problem{std::string(cmd) + " cannot accept a heredoc as a destination"};
  for (std::size_t i = 0; i + 1 < n.args.size(); ++i) {
    if (heredoc_word(n.args[i], h)) {
      std::string content;
      for (auto& d : n.heredocs)
        if (d.name == h.name) content = d.content;  // the last of a name wins, as Docker's map
      if (h.chomp) content = chomp_heredoc(content);
      in.source_contents.push_back({h.name, content, h.expand});
    } else {
      in.sources.push_back(n.args[i]);
    }
  }
}

// time.ParseDuration's two errors that name the unit ("time: missing unit in duration \"5\"",
// "time: unknown unit \"x\" in duration \"5x\""); "" when those are not the problem.
std::string duration_unit_error(const std::string& v) {
  std::size_t i = !v.empty() && (v[0] == '-' || v[0] == '+') ? 1 : 0;
  if (v == "0" || i >= v.size()) return "";
  while (i < v.size()) {
    std::size_t start = i;
    while (i < v.size() && (std::isdigit(static_cast<unsigned char>(v[i])) || v[i] == '.')) ++i;
    if (i == start || v.substr(start, i - start) == ".") return "";
    std::size_t u = i;
    while (i < v.size() && !std::isdigit(static_cast<unsigned char>(v[i])) && v[i] != '.') ++i;
    std::string unit = v.substr(u, i - u);
    if (unit.empty()) return "time: missing unit in duration " + go::quote(v);
    if (unit != "ns" && unit != "us" && unit != "\xC2\xB5s" && unit != "\xCE\xBCs" && unit != "ms" && unit != "s" &&
        unit != "m" && unit != "h")
      return "time: unknown unit " + go::quote(unit) + " in duration " + go::quote(v);
  }
  return "";
}

// HEALTHCHECK durations: Go's, at least 1ms (dockerd 20.10 refuses 0 too).
std::int64_t interval(const char* name, const Flags::Flag& f) {
  if (f.value.empty()) return 0;
  if (auto e = duration_unit_error(f.value); !e.empty()) throw Problem{e};
  std::int64_t ns;
  try {
    ns = parse_go_duration_ns(f.value);
  } catch (const Error& e) {
    throw Problem{e.what()};
  }
  if (ns < 1000000) throw Problem{std::string("Interval ") + go::quote(name) + " cannot be less than 1ms"};
  return ns;
}

void parse_healthcheck(const Node& n, Flags& flags, Instruction& in) {
  if (n.args.empty()) at_least_one("HEALTHCHECK");
  std::string type = upper(n.args[0]);
  std::vector<std::string> rest(n.args.begin() + 1, n.args.end());
  if (type == "NONE") {
    if (!rest.empty() || !n.flags.empty()) throw Problem{"HEALTHCHECK NONE takes no arguments"};
    in.health.test = {"NONE"};
    return;
  }
  auto& fi = flags.add("interval", Flags::String);
  auto& ft = flags.add("timeout", Flags::String);
  auto& fs = flags.add("start-period", Flags::String);
  auto& fsi = flags.add("start-interval", Flags::String);
  auto& fr = flags.add("retries", Flags::String);
  flags.parse();
  if (type != "CMD") throw Problem{"Unknown type " + go::quote(type) + " in HEALTHCHECK (try CMD)"};
  Node cmd;
  cmd.args = rest;
  cmd.json = n.json;
  auto args = json_args(cmd);
  if (args.empty()) throw Problem{"Missing command after HEALTHCHECK CMD"};
  in.health.test = {n.json ? "CMD" : "CMD-SHELL"};
  in.health.test.insert(in.health.test.end(), args.begin(), args.end());
  in.health.interval = interval("interval", fi);
  in.health.timeout = interval("timeout", ft);
  in.health.start_period = interval("start-period", fs);
  in.health.start_interval = interval("start-interval", fsi);
  if (!fr.value.empty()) {
    // strconv.ParseInt(v, 10, 32), with Go's messages.
    const std::string& v = fr.value;
    std::string_view digits = v;
    bool plus = digits[0] == '+';
    if (plus) digits.remove_prefix(1);
    long long r = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), r);
    bool syntax = !digits.empty() && !(plus && digits[0] == '-') && end == digits.data() + digits.size() &&
                  (ec == std::errc() || ec == std::errc::result_out_of_range);
    if (!syntax) throw Problem{"strconv.ParseInt: parsing " + go::quote(v) + ": invalid syntax"};
    if (ec == std::errc::result_out_of_range || r > 2147483647LL || r < -2147483648LL)
      throw Problem{"strconv.ParseInt: parsing " + go::quote(v) + ": value out of range"};
    if (r < 1) throw Problem{"--retries must be at least 1 (not " + std::to_string(r) + ")"};
    in.health.retries = static_cast<int>(r);
  }
}

void parse_run(const Node& n, Flags& flags, Instruction& in) {
  auto& mounts = flags.add("mount", Flags::Strings);
  auto& network = flags.add("network", Flags::String, "default");
  auto& security = flags.add("security", Flags::String, "sandbox");
  flags.parse();
  in.flags_used = flags.used();
  for (auto& h : n.heredocs) in.files.push_back(h);
  in.cmdline = json_args(n);
  in.prepend_shell = !n.json;
  for (auto& spec : mounts.values) {
    // BuildKit's parse-time pass (CSV, and no variable in from=), then the whole mount when no
    // value holds a variable; those are checked when the step is evaluated.
    std::string from;
    try {
      from = parse_mount(spec).from;
      if (spec.find('$') == std::string::npos) parse_mount(spec, [](const std::string& v) { return v; });
    } catch (const InvalidArgument& e) {
      throw Problem{e.what()};
    }
    in.mount_specs.push_back(spec);
    in.mount_froms.push_back(from);
  }
  if (network.value != "default" && network.value != "none" && network.value != "host")
    throw Problem{"invalid network mode " + go::quote(network.value)};
  in.network = network.value;
  if (security.value != "sandbox" && security.value != "insecure")
    throw Problem{"security " + go::quote(security.value) + " is not valid"};
  in.security = security.value;
}

void parse_copy_add(const Node& n, Flags& flags, Instruction& in) {
  const char* cmd = in.kind == Kind::Add ? "ADD" : "COPY";
  if (n.args.size() < 2)
    throw Problem{std::string(cmd) + " requires at least two arguments, but only one was provided. Destination could not be determined"};
  auto& chown = flags.add("chown", Flags::String);
  auto& chmod = flags.add("chmod", Flags::String);
  auto& link = flags.add("link", Flags::Bool);
  auto& exclude = flags.add("exclude", Flags::Strings);
  Flags::Flag *from = nullptr, *parents = nullptr, *checksum = nullptr, *unpack = nullptr, *keep_git = nullptr;
  if (in.kind == Kind::Copy) {
    from = &flags.add("from", Flags::String);
    parents = &flags.add("parents", Flags::Bool);
  } else {
    checksum = &flags.add("checksum", Flags::String);
    unpack = &flags.add("unpack", Flags::Bool);
    keep_git = &flags.add("keep-git-dir", Flags::Bool);
  }
  flags.parse();
  sources_and_dest(n, cmd, in);
  in.chown = chown.value;
  in.chmod = chmod.value;
  in.link = link.value == "true";
  in.excludes = exclude.values;
  if (from) in.from = from->value;
  if (parents) in.parents = parents->value == "true";
  if (checksum) in.checksum = checksum->value;
  if (unpack && unpack->used) in.unpack = unpack->value == "true";
  if (keep_git) in.keep_git_dir = keep_git->value == "true";
}

bool valid_stage_name(const std::string& s) {
  // ^[a-z][a-z0-9-_.]*$
  if (s.empty() || !(s[0] >= 'a' && s[0] <= 'z')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
  });
}

bool iequals(const std::string& a, const char* b) {
  std::string l = a;
  for (auto& c : l) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return l == b;
}

// `(?i)^\s*ONBUILD\s*` removed.
std::string strip_onbuild(const std::string& s) {
  std::size_t i = 0;
  auto sp = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'; };
  while (i < s.size() && sp(s[i])) ++i;
  if (s.size() - i < 7 || !iequals(s.substr(i, 7), "onbuild")) return s;
  i += 7;
  while (i < s.size() && sp(s[i])) ++i;
  return s.substr(i);
}

void dispatch(const Node& n, Instruction& in) {
  Flags flags(n.flags);
  switch (in.kind) {
    case Kind::Env:
      flags.parse();
      key_values(n, "ENV", in);
      break;
    case Kind::Label:
      flags.parse();
      key_values(n, "LABEL", in);
      break;
    case Kind::Maintainer:
    case Kind::User:
    case Kind::Workdir:
    case Kind::Stopsignal:
      if (n.args.size() != 1) exactly_one(kind_name(in.kind));
      flags.parse();
      in.value = n.args[0];
      break;
    case Kind::Add:
    case Kind::Copy:
      parse_copy_add(n, flags, in);
      break;
    case Kind::From: {
      if (n.args.size() == 3 && iequals(n.args[1], "as")) {
        std::string name = n.args[2];
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (!valid_stage_name(name))
          throw Problem{"invalid name for build stage: " + go::quote(n.args[2]) + ", name can't start with a number or contain symbols"};
        in.stage_name = name;
      } else if (n.args.size() != 1) {
        throw Problem{"FROM requires either one or three arguments"};
      }
      auto& platform = flags.add("platform", Flags::String);
      flags.parse();
      in.base = n.args[0];
      in.platform = platform.value;
      break;
    }
    case Kind::Onbuild: {
      if (n.args.empty()) at_least_one("ONBUILD");
      flags.parse();
      std::string trigger = upper(std::string(go::trim_space(n.args[0])));
      if (trigger == "ONBUILD") throw Problem{"Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"};
      if (trigger == "MAINTAINER" || trigger == "FROM") throw Problem{trigger + " isn't allowed as an ONBUILD trigger"};
      in.value = strip_onbuild(n.original);
      for (auto& h : n.heredocs) in.value += "\n" + h.content + h.name;
      break;
    }
    case Kind::Run:
      parse_run(n, flags, in);
      break;
    case Kind::Cmd:
    case Kind::Entrypoint:
      flags.parse();
      in.cmdline = json_args(n);
      in.prepend_shell = !n.json;
      break;
    case Kind::Healthcheck:
      parse_healthcheck(n, flags, in);
      break;
    case Kind::Expose:
      if (n.args.empty()) at_least_one("EXPOSE");
      flags.parse();
      in.list = n.args;
      std::sort(in.list.begin(), in.list.end());
      break;
    case Kind::Volume:
      if (n.args.empty()) at_least_one("VOLUME");
      flags.parse();
      for (auto& v : n.args) {
        std::string t(go::trim_space(v));
        if (t.empty()) throw Problem{"VOLUME specified can not be an empty string"};
        in.list.push_back(t);
      }
      break;
    case Kind::Arg:
      if (n.args.empty()) at_least_one("ARG");
      flags.parse();
      for (auto& a : n.args) {
        auto eq = a.find('=');
        if (eq == std::string::npos) {
          in.args.push_back({a, std::nullopt});
          continue;
        }
        if (eq == 0) throw Problem{"ARG names can not be blank"};
        in.args.push_back({a.substr(0, eq), a.substr(eq + 1)});
      }
      break;
    case Kind::Shell:
      flags.parse();
      in.list = json_args(n);
      if (in.list.empty()) at_least_one("SHELL");
      if (!n.json) throw Problem{"SHELL requires the arguments to be in JSON form"};
      break;
  }
}

std::optional<Kind> kind_of(const std::string& lower) {
  static const std::map<std::string, Kind> kinds = {
      {"add", Kind::Add},       {"arg", Kind::Arg},           {"cmd", Kind::Cmd},
      {"copy", Kind::Copy},     {"entrypoint", Kind::Entrypoint}, {"env", Kind::Env},
      {"expose", Kind::Expose}, {"from", Kind::From},         {"healthcheck", Kind::Healthcheck},
      {"label", Kind::Label},   {"maintainer", Kind::Maintainer}, {"onbuild", Kind::Onbuild},
      {"run", Kind::Run},       {"shell", Kind::Shell},       {"stopsignal", Kind::Stopsignal},
      {"user", Kind::User},     {"volume", Kind::Volume},     {"workdir", Kind::Workdir}};
  auto it = kinds.find(lower);
  if (it == kinds.end()) return std::nullopt;
  return it->second;
}

// The instruction, or Problem.
Instruction build(const Node& n) {
  auto kind = kind_of(n.lower);
  if (!kind) throw Problem{"unknown instruction: " + upper(n.keyword)};
  Instruction in;
  in.kind = *kind;
  in.keyword = n.keyword;
  in.original = std::string(go::trim_space(n.original));
  in.line = n.start_line;
  in.end_line = n.end_line;
  dispatch(n, in);
  return in;
}

}  // namespace

Instruction parse_instruction(const Node& n, const std::string& file) {
  try {
    return build(n);
  } catch (const Problem& p) {
    throw DockerfileError("dockerfile parse error line " + std::to_string(n.start_line) + ": " + p.msg, file,
                          n.start_line, p.msg);
  }
}

Dockerfile parse_stages(std::string_view text, const std::string& file) {
  auto parsed = parse_dockerfile(text, file);
  Dockerfile df;
  df.file = file;
  df.escape = parsed.escape;
  df.warnings = std::move(parsed.warnings);
  df.notes = std::move(parsed.notes);
  for (auto& n : parsed.nodes) {
    Instruction in = parse_instruction(n, file);
    if (in.kind == Kind::From) {
      Stage s;
      s.name = in.stage_name;
      s.base = in.base;
      s.platform = in.platform;
      s.original = in.original;
      s.line = in.line;
      df.stages.push_back(std::move(s));
      continue;
    }
    if (df.stages.empty()) {
      if (in.kind == Kind::Arg) {
        df.meta_args.push_back(std::move(in));
        continue;
      }
      throw DockerfileError("no build stage in current context", file, n.start_line, "no build stage in current context");
    }
    df.stages.back().commands.push_back(std::move(in));
  }
  return df;
}

Instruction parse_trigger(const std::string& trigger, const std::string& file, int line) {
  ParsedDockerfile parsed;
  try {
    parsed = parse_dockerfile(trigger, file);
  } catch (const DockerfileError& e) {
    throw DockerfileError(e.problem(), file, line, e.problem());
  }
  if (parsed.nodes.size() != 1)
    throw DockerfileError("onbuild trigger should be a single expression", file, line,
                          "onbuild trigger should be a single expression");
  auto& n = parsed.nodes[0];
  n.start_line = n.end_line = line;
  try {
    auto in = build(n);
    if (in.kind == Kind::From) throw Problem{"*instructions.Stage is not a command type"};
    return in;
  } catch (const Problem& p) {
    throw DockerfileError(p.msg, file, line, p.msg);
  }
}

}  // namespace hoist::builder
