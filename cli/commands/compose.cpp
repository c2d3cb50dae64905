// `hoist compose`: the compose project's flags (-f, -p, --project-directory, --env-file, --profile)
// and its commands: `config` here, which needs no daemon; the others, clients of the daemon, in
// compose_ops.cpp and the files it dispatches to.
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/commands/commands.h"
#include "cli/compose/project.h"

extern char** environ;

namespace hoist::cli {

const Command kComposeCommand = {
    "[OPTIONS] COMMAND",
    "Docker Compose",
    "Define and run multi-container applications with Docker",
    {},
    {{"env-file", 0, "stringArray", "Specify an alternate environment file"},
     {"file", 'f', "stringArray", "Compose configuration files"},
     {"profile", 0, "stringArray", "Specify a profile to enable"},
     {"project-directory", 0, "string",
      "Specify an alternate working directory\n(default: the path of the, first specified, Compose file)"},
     {"project-name", 'p', "string", "Project name"}},
    false,
    0,
    -1};

const Command kComposeConfigCommand = {
    "[OPTIONS] [SERVICE...]",
    "Parse, resolve and render compose file in canonical format",
    "",
    {"compose convert"},
    {{"format", 0, "string", "Format the output. Values: [yaml | json]", "yaml"},
     {"hash", 0, "string", "Print the service config hash, one per line."},
     {"quiet", 'q', "", "Only validate the configuration, don't print anything"},
     {"services", 0, "", "Print the service names, one per line."},
     {"volumes", 0, "", "Print the volume names, one per line."}},
    true,
    0,
    -1};

namespace {

const char* const kComposeCommands[] = {"attach", "build",  "cp",   "create", "down",    "events",  "exec",
                                        "images", "kill",   "logs", "ls",     "pause",   "port",    "ps",
                                        "pull",   "push",   "restart", "rm",  "run",     "scale",   "start",
                                        "stats",  "stop",   "top",  "unpause", "up",     "version", "wait",
                                        "watch"};

std::string compose_help() {
  std::string r = command_help("compose", kComposeCommand);
  std::vector<std::pair<std::string, std::string>> cmds = compose_orchestration_commands();
  cmds.emplace_back("config", kComposeConfigCommand.summary);
  std::sort(cmds.begin(), cmds.end());
  r += "\nCommands:\n" + command_list(cmds) +
       "\nRun 'hoist compose COMMAND --help' for more information on a command.\n";
  return r;
}

int compose_config(Ctx& ctx, const compose::LoadOptions& lo, const std::vector<std::string>& argv) {
  ctx.path = "compose config";
  Parsed p = parse(ctx, kComposeConfigCommand, argv);
  std::string format = p.get("format", "yaml");
  if (format != "yaml" && format != "json") usage_error(ctx.path, "unsupported format \"" + format + "\"");
  compose::Project proj = compose::load_project(lo);
  for (const auto& w : proj.warnings) errp(w + "\n");
  // SERVICE...: only those (and what they depend on is not added: as docker compose config).
  std::vector<std::string> wanted = p.args;
  for (const auto& s : wanted) {
    auto names = proj.service_names();
    if (std::find(names.begin(), names.end(), s) == names.end()) throw ExitError{1, "no such service: " + s};
  }
  if (!wanted.empty()) {
    auto m = std::make_shared<nlohmann::json>(*proj.model);
    for (auto it = (*m)["services"].begin(); it != (*m)["services"].end();) {
      if (std::find(wanted.begin(), wanted.end(), it.key()) == wanted.end()) it = (*m)["services"].erase(it);
      else ++it;
    }
    proj.model = m;
  }
  if (p.flag("quiet")) return 0;
  if (p.flag("services")) {
    for (const auto& s : proj.service_names()) out(s + "\n");
    return 0;
  }
  if (p.flag("volumes")) {
    for (const auto& v : proj.volume_names()) out(v + "\n");
    return 0;
  }
  if (p.has("hash")) {
    std::string which = p.get("hash");
    std::vector<std::string> names = which == "*" ? proj.service_names() : std::vector<std::string>{};
    if (which != "*") {
      std::size_t start = 0;
      for (std::size_t i = 0; i <= which.size(); ++i)
        if (i == which.size() || which[i] == ',') names.push_back(which.substr(start, i - start)), start = i + 1;
    }
    for (const auto& n : names) out(n + " " + proj.config_hash(n) + "\n");
    return 0;
  }
  out(format == "json" ? proj.to_json() : proj.to_yaml());
  return 0;
}

}  // namespace

int cmd_compose(Ctx& ctx, const std::vector<std::string>& argv) {
  ctx.path = "compose";
  std::vector<FlagSpec> specs;
  for (auto& f : kComposeCommand.flags) specs.push_back({f.name, f.shorthand, !f.type.empty()});
  specs.push_back({"help", 'h', false});
  Parsed p;
  try {
    p = parse_flags(specs, argv, false);
  } catch (const FlagError& e) {
    usage_error("compose", e.what());
  }
  if (p.flag("help") || p.args.empty()) {
    out(compose_help());
    return 0;
  }
  compose::LoadOptions lo;
  lo.files = p.all("file");
  lo.project_name = p.get("project-name");
  lo.project_directory = p.get("project-directory");
  lo.env_files = p.all("env-file");
  lo.profiles = p.all("profile");
  for (char** e = environ; e && *e; ++e) {
    std::string kv = *e;
    auto eq = kv.find('=');
    if (eq != std::string::npos) lo.environ[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  const std::string& sub = p.args[0];
  std::vector<std::string> rest(p.args.begin() + 1, p.args.end());
  if (sub == "config" || sub == "convert") {
    try {
      return compose_config(ctx, lo, rest);
    } catch (const Error& e) {
      throw ExitError{1, e.what()};
    }
  }
  try {
    int rc = compose_orchestrate(ctx, lo, sub, rest);
    if (rc >= 0) return rc;
  } catch (const ApiError& e) {
    throw ExitError{1, daemon_err(e)};
  } catch (const ConnectError& e) {
    throw;
  } catch (const Error& e) {
    throw ExitError{1, e.what()};
  }
  for (const char* c : kComposeCommands)
    if (sub == c) {
      std::string works;
      for (const auto& [n, s] : compose_orchestration_commands()) works += n + ", ";
      throw ExitError{1, "hoist compose " + sub + " is not supported yet: config, " + works.substr(0, works.size() - 2) +
                             " work today"};
    }
  usage_error("compose", "unknown docker command: \"compose " + sub + "\"");
}

}  // namespace hoist::cli
