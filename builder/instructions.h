// The Dockerfile parser, second half: nodes → typed instructions and stages, with each
// instruction's flags and argument checks and Docker's messages for them.
//
// Flags per instruction (anything else: dockerd's "Unknown flag: x"):
//   FROM --platform                      RUN --mount (repeatable) --network --security
//   COPY --from --chown --chmod --link --exclude (repeatable) --parents
//   ADD  --chown --chmod --link --exclude (repeatable) --checksum --unpack --keep-git-dir
//   HEALTHCHECK CMD --interval --timeout --start-period --start-interval --retries
// Unlike Docker, ARG, STOPSIGNAL and HEALTHCHECK NONE refuse flags too (Docker ignores them).
// No variable is substituted here: the stage evaluator does that with the stage's environment.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "builder/parser.h"

namespace hoist::builder {

enum class Kind {
  Add, Arg, Cmd, Copy, Entrypoint, Env, Expose, From, Healthcheck, Label, Maintainer, Onbuild, Run, Shell,
  Stopsignal, User, Volume, Workdir
};

// "ADD", "RUN", ...
const char* kind_name(Kind k);

struct KeyValue {
  std::string key, value;
  bool legacy = false;  // written `KEY value` (no "=")
};

struct ArgDef {
  std::string key;
  std::optional<std::string> value;  // the default, unexpanded
};

// A heredoc used as a COPY/ADD source.
struct SourceContent {
  std::string path;  // the heredoc's name: the file's name at the destination
  std::string data;  // the body (tabs already removed for <<-)
  bool expand = true;
};

enum class MountType { Bind, Cache, Tmpfs, Secret, Ssh };
const char* mount_type_name(MountType t);

// One RUN --mount, as BuildKit reads it (values substituted when the step is evaluated).
struct Mount {
  MountType type = MountType::Bind;
  std::string from, source, target, cache_id, sharing;  // sharing: "", shared, private, locked
  bool read_only = false;
  bool required = false;
  std::int64_t size_limit = 0;                  // tmpfs size=, bytes
  std::optional<std::string> env;               // secret env=
  std::optional<std::uint64_t> mode, uid, gid;  // cache/secret/ssh file mode and owner
};

// Parses one --mount value. `expand` substitutes variables in each key's value. Without it only
// BuildKit's parse-time checks run (the CSV, and no variable in `from`) and only `from` is set.
// Throws InvalidArgument with BuildKit's message.
Mount parse_mount(const std::string& value, const std::function<std::string(const std::string&)>& expand = {});

struct HealthConfig {
  std::vector<std::string> test;  // {"NONE"}, {"CMD", args...} or {"CMD-SHELL", command}
  std::int64_t interval = 0, timeout = 0, start_period = 0, start_interval = 0;  // ns
  int retries = 0;
};

struct Instruction {
  Kind kind = Kind::Run;
  std::string keyword;   // as written
  std::string original;  // the instruction's text, trimmed (Docker's step title)
  int line = 0, end_line = 0;

  // RUN, CMD, ENTRYPOINT: the exec-form words, or the one shell-form string (prepend_shell).
  std::vector<std::string> cmdline;
  bool prepend_shell = false;
  std::vector<Heredoc> files;  // RUN's heredocs

  // RUN: the --mount values as written (checked here unless they hold a variable; parsed with
  // the stage's variables when the step is evaluated), each one's from= (never a variable),
  // --network and --security.
  std::vector<std::string> mount_specs;
  std::vector<std::string> mount_froms;
  std::string network = "default", security = "sandbox";
  std::vector<std::string> flags_used;  // RUN's flags that were given, in order

  std::vector<KeyValue> pairs;  // ENV, LABEL
  bool no_expand = false;       // a LABEL from the build's --label options
  std::vector<ArgDef> args;     // ARG

  // ADD, COPY
  std::vector<std::string> sources;
  std::vector<SourceContent> source_contents;
  std::string dest;
  std::string from, chown, chmod, checksum;
  bool link = false, parents = false;
  bool keep_git_dir = false;  // ADD of a git repository: its .git directory copied too
  std::optional<bool> unpack;
  std::vector<std::string> excludes;

  // FROM
  std::string base, stage_name, platform;

  // MAINTAINER, USER, WORKDIR, STOPSIGNAL; ONBUILD's trigger text
  std::string value;

  // EXPOSE (sorted, as Docker), VOLUME, SHELL
  std::vector<std::string> list;

  HealthConfig health;  // HEALTHCHECK
};

struct Stage {
  std::string name;       // lower case, "" when unnamed
  std::string base;       // FROM's image or stage, unexpanded
  std::string platform;   // FROM --platform, unexpanded
  std::string original;   // the FROM line
  int line = 0;
  std::vector<Instruction> commands;
};

struct Dockerfile {
  std::string file;
  char escape = '\\';
  std::vector<Instruction> meta_args;  // the ARGs before the first FROM
  std::vector<Stage> stages;
  std::vector<std::string> warnings, notes;
};

// One node as an instruction. Throws DockerfileError (with the node's line).
Instruction parse_instruction(const Node& n, const std::string& file = "Dockerfile");

// A whole Dockerfile. Throws DockerfileError: the parser's, an instruction's, or "no build stage
// in current context" for an instruction (other than ARG) before the first FROM.
Dockerfile parse_stages(std::string_view text, const std::string& file = "Dockerfile");

// An ONBUILD trigger (an image's OnBuild entry) as an instruction, at `line` of `file`.
Instruction parse_trigger(const std::string& trigger, const std::string& file, int line);

}  // namespace hoist::builder
