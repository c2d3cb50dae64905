// The entry point: the global options (-H, --config, ...), the command tree (the management groups
// container, image, network, system and volume, and the commands docker also has at the top level), its dispatch, and
// the root and group help laid out as docker 28's.
#include <signal.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <functional>

#include "cli/commands/commands.h"
#include "common/strings.h"

namespace hoist::cli {

namespace {

using Args = std::vector<std::string>;
using Handler = std::function<int(Ctx&, const Args&)>;

// A command of a group; names[0] is the one help shows, the others are docker's aliases of it.
struct Entry {
  std::vector<std::string> names;
  const Command* cmd;
  Handler run;
};

// A management command: "hoist container ...".
struct Group {
  std::string name;
  std::string summary;
  std::vector<Entry> entries;  // in docker's (alphabetical) order
};

int run_container(Ctx& c, const Args& a) { return cmd_run(c, a, false); }
int create_container(Ctx& c, const Args& a) { return cmd_run(c, a, true); }
int stop_containers(Ctx& c, const Args& a) { return cmd_stop(c, a, "stop"); }
int restart_containers(Ctx& c, const Args& a) { return cmd_stop(c, a, "restart"); }
int pause_containers(Ctx& c, const Args& a) { return cmd_simple(c, a, "pause"); }
int unpause_containers(Ctx& c, const Args& a) { return cmd_simple(c, a, "unpause"); }
int inspect_any(Ctx& c, const Args& a) { return cmd_inspect(c, a); }
int inspect_containers(Ctx& c, const Args& a) { return cmd_inspect(c, a, "container"); }
int inspect_images(Ctx& c, const Args& a) { return cmd_inspect(c, a, "image"); }

const std::vector<Group>& groups() {
  static const std::vector<Group> g = {
      {"builder",
       "Manage builds",
       {{{"build"}, &kBuildCommand, cmd_build},
        {{"prune"}, &kBuilderPruneCommand, cmd_builder_prune}}},
      {"container",
       "Manage containers",
       {{{"attach"}, &kAttachCommand, cmd_attach},
        {{"commit"}, &kCommitCommand, cmd_commit},
        {{"cp"}, &kCpCommand, cmd_cp},
        {{"create"}, &kCreateCommand, create_container},
        {{"diff"}, &kDiffCommand, cmd_diff},
        {{"exec"}, &kExecCommand, cmd_exec},
        {{"export"}, &kExportCommand, cmd_export},
        {{"inspect"}, &kContainerInspectCommand, inspect_containers},
        {{"kill"}, &kKillCommand, cmd_kill},
        {{"logs"}, &kLogsCommand, cmd_logs},
        {{"ls", "list", "ps"}, &kPsCommand, cmd_ps},
        {{"pause"}, &kPauseCommand, pause_containers},
        {{"port"}, &kPortCommand, cmd_port},
        {{"rename"}, &kRenameCommand, cmd_rename},
        {{"restart"}, &kRestartCommand, restart_containers},
        {{"rm", "remove"}, &kRmCommand, cmd_rm},
        {{"run"}, &kRunCommand, run_container},
        {{"start"}, &kStartCommand, cmd_start},
        {{"stats"}, &kStatsCommand, cmd_stats},
        {{"stop"}, &kStopCommand, stop_containers},
        {{"top"}, &kTopCommand, cmd_top},
        {{"unpause"}, &kUnpauseCommand, unpause_containers},
        {{"wait"}, &kWaitCommand, cmd_wait}}},
      {"image",
       "Manage images",
       {{{"build"}, &kBuildCommand, cmd_build},
        {{"import"}, &kImportCommand, cmd_import},
        {{"inspect"}, &kImageInspectCommand, inspect_images},
        {{"load"}, &kLoadCommand, cmd_load},
        {{"ls", "list"}, &kImagesCommand, cmd_images},
        {{"pull"}, &kPullCommand, cmd_pull},
        {{"push"}, &kPushCommand, cmd_push},
        {{"rm", "remove"}, &kRmiCommand, cmd_rmi},
        {{"save"}, &kSaveCommand, cmd_save},
        {{"tag"}, &kTagCommand, cmd_tag}}},
      {"network",
       "Manage networks",
       {{{"connect"}, &kNetworkConnectCommand, cmd_network_connect},
        {{"create"}, &kNetworkCreateCommand, cmd_network_create},
        {{"disconnect"}, &kNetworkDisconnectCommand, cmd_network_disconnect},
        {{"inspect"}, &kNetworkInspectCommand, cmd_network_inspect},
        {{"ls", "list"}, &kNetworkLsCommand, cmd_network_ls},
        {{"prune"}, &kNetworkPruneCommand, cmd_network_prune},
        {{"rm", "remove"}, &kNetworkRmCommand, cmd_network_rm}}},
      {"system",
       "Manage Hoist",
       {{{"df"}, &kSystemDfCommand, cmd_system_df},
        {{"events"}, &kEventsCommand, cmd_events},
        {{"info"}, &kInfoCommand, cmd_info},
        {{"prune"}, &kSystemPruneCommand, cmd_system_prune}}},
      {"volume",
       "Manage volumes",
       {{{"create"}, &kVolumeCreateCommand, cmd_volume_create},
        {{"inspect"}, &kVolumeInspectCommand, cmd_volume_inspect},
        {{"ls", "list"}, &kVolumeLsCommand, cmd_volume_ls},
        {{"prune"}, &kVolumePruneCommand, cmd_volume_prune},
        {{"rm", "remove"}, &kVolumeRmCommand, cmd_volume_rm}}},
  };
  return g;
}

// The commands of no group.
const std::vector<Entry>& root_commands() {
  static const std::vector<Entry> r = {{{"inspect"}, &kInspectCommand, inspect_any},
                                       {{"login"}, &kLoginCommand, cmd_login},
                                       {{"logout"}, &kLogoutCommand, cmd_logout},
                                       {{"version"}, &kVersionCommand, cmd_version}};
  return r;
}

// Group commands that docker also has at the top level: the name there, the group, the name in it.
const std::vector<std::array<const char*, 3>> kShortcuts = {
    {"attach", "container", "attach"}, {"build", "image", "build"},       {"commit", "container", "commit"}, {"cp", "container", "cp"},
    {"create", "container", "create"}, {"diff", "container", "diff"},     {"events", "system", "events"},
    {"exec", "container", "exec"},     {"export", "container", "export"}, {"images", "image", "ls"},
    {"import", "image", "import"},
    {"info", "system", "info"},        {"kill", "container", "kill"},     {"load", "image", "load"},
    {"logs", "container", "logs"},     {"pause", "container", "pause"},   {"port", "container", "port"},
    {"ps", "container", "ls"},
    {"pull", "image", "pull"},         {"push", "image", "push"},         {"rename", "container", "rename"},
    {"restart", "container", "restart"}, {"rm", "container", "rm"},       {"rmi", "image", "rm"},
    {"run", "container", "run"},       {"save", "image", "save"},         {"start", "container", "start"},
    {"stats", "container", "stats"},   {"stop", "container", "stop"},     {"tag", "image", "tag"},
    {"top", "container", "top"},       {"unpause", "container", "unpause"}, {"wait", "container", "wait"}};

// docker's "Common Commands", in its order.
const std::vector<std::string> kCommon = {"run",   "exec",   "ps",      "build", "pull", "push",
                                          "images", "login", "logout", "version", "info"};

const Group* find_group(const std::string& name) {
  for (auto& g : groups())
    if (g.name == name) return &g;
  return nullptr;
}

const Entry* find_entry(const std::vector<Entry>& entries, const std::string& name) {
  for (auto& e : entries)
    if (std::find(e.names.begin(), e.names.end(), name) != e.names.end()) return &e;
  return nullptr;
}

// A top-level command (not a group) by the name typed after "hoist".
const Entry* find_root_command(const std::string& name) {
  if (auto* e = find_entry(root_commands(), name)) return e;
  for (auto& [top, group, sub] : kShortcuts)
    if (name == top) return find_entry(find_group(group)->entries, sub);
  return nullptr;
}

Flags global_flags(const std::string& default_host, const std::string& default_config) {
  return {{"config", 0, "string", "Location of client config files", default_config},
          {"debug", 'D', "", "Enable debug mode", "", true},  // refused: the client has no debug output
          {"host", 'H', "list", "Daemon socket to connect to", default_host},
          {"version", 'v', "", "Print version information and quit"},
          {"help", 'h', "", "Print usage", "", true}};
}

std::string root_help(const Flags& global) {
  std::vector<std::pair<std::string, std::string>> common, management, others;
  for (auto& name : kCommon) common.emplace_back(name, find_root_command(name)->cmd->summary);
  for (auto& g : groups()) management.emplace_back(g.name, g.summary);
  // compose has flags and commands of its own (docker lists its plugin here too).
  management.emplace_back("compose", kComposeCommand.summary);
  std::sort(management.begin(), management.end());
  for (auto& e : root_commands())
    if (std::find(kCommon.begin(), kCommon.end(), e.names[0]) == kCommon.end())
      others.emplace_back(e.names[0], e.cmd->summary);
  for (auto& [top, group, sub] : kShortcuts)
    if (std::find(kCommon.begin(), kCommon.end(), top) == kCommon.end())
      others.emplace_back(top, find_root_command(top)->cmd->summary);
  std::sort(others.begin(), others.end());
  auto options = flag_usages(global, help_columns());
  while (!options.empty() && (options.back() == '\n' || options.back() == ' ')) options.pop_back();
  return "Usage:  hoist [OPTIONS] COMMAND\n\nA docker-compatible container engine client\n\nCommon Commands:\n" +
         command_list(common) + "\nManagement Commands:\n" + command_list(management) + "\nCommands:\n" +
         command_list(others) + "\nGlobal Options:\n" + options +
         "\n\nRun 'hoist COMMAND --help' for more information on a command.\n";
}

std::string group_help(const Group& g) {
  std::vector<std::pair<std::string, std::string>> list;
  for (auto& e : g.entries) list.emplace_back(e.names[0], e.cmd->summary);
  return "Usage:  hoist " + g.name + " COMMAND\n\n" + g.summary + "\n\nCommands:\n" + command_list(list) +
         "\nRun 'hoist " + g.name + " COMMAND --help' for more information on a command.\n";
}

// Runs one command; its errors become docker's messages and exit statuses (125 for run and create,
// whose own failures are told apart from the container's exit status, 1 otherwise).
int run_entry(Ctx& ctx, const std::string& path, const Entry& e, const Args& args) {
  ctx.path = path;
  bool is_run = e.cmd == &kRunCommand || e.cmd == &kCreateCommand;
  try {
    return e.run(ctx, args);
  } catch (const ExitError& x) {
    if (!x.msg.empty()) errp(x.msg + "\n");
    return x.code;
  } catch (const ConnectError& x) {
    errp(std::string(x.what()) + "\n");
    return is_run ? 125 : 1;
  } catch (const std::exception& x) {
    errp(daemon_err(x) + "\n");
    return is_run ? 125 : 1;
  }
}

// `args`: a command and its arguments, as typed after "hoist" and its global options.
int dispatch(Ctx& ctx, const Args& args, const Flags& global) {
  if (args.empty()) {
    out(root_help(global));
    return 0;
  }
  const std::string& name = args[0];
  Args rest(args.begin() + 1, args.end());
  if (name == "help") {  // `hoist help`, `hoist help run`: the command's --help
    if (!rest.empty()) rest.push_back("--help");
    return dispatch(ctx, rest, global);
  }
  if (name == "compose") {
    static const Entry compose{{"compose"}, &kComposeCommand, cmd_compose};
    return run_entry(ctx, "compose", compose, rest);
  }
  if (auto* g = find_group(name)) {
    if (rest.empty() || rest[0] == "--help" || rest[0] == "-h") {
      out(group_help(*g));
      return 0;
    }
    auto* e = find_entry(g->entries, rest[0]);
    if (!e) {
      errp("hoist: '" + rest[0] + "' is not a hoist " + g->name + " command.\nSee 'hoist " + g->name + " --help'\n");
      return 1;
    }
    return run_entry(ctx, g->name + " " + e->names[0], *e, Args(rest.begin() + 1, rest.end()));
  }
  auto* e = find_root_command(name);
  if (!e) {
    errp("hoist: '" + name + "' is not a hoist command.\nSee 'hoist --help'\n");
    return 1;
  }
  return run_entry(ctx, name, *e, rest);
}

}  // namespace

namespace {

// As docker's CLI plugin `docker-compose` (hoist installed or linked as
// ~/.docker/cli-plugins/docker-compose, or called as docker-compose): `docker-cli-plugin-metadata`
// prints the plugin's metadata; `[GLOBAL FLAGS] compose ARGS` (how the docker CLI runs `docker
// [GLOBAL FLAGS] compose ARGS`) and plain `ARGS` (a standalone docker-compose) are `hoist compose
// ARGS`, against the daemon the docker CLI uses: its -H, else DOCKER_HOST, else docker's default
// socket; credentials from its --config, else DOCKER_CONFIG, else ~/.docker. A docker context
// other than "default" is refused (hoist does not read docker's context store).
int compose_plugin_main(int argc, char** argv) {
  Args args(argv + 1, argv + argc);
  if (!args.empty() && args[0] == "docker-cli-plugin-metadata") {
    out(json{{"SchemaVersion", "0.1.0"},
             {"Vendor", "Hoist"},
             {"Version", "v2.29.7"},
             {"ShortDescription", "Docker Compose"}}
            .dump() +
        "\n");
    return 0;
  }
  Ctx ctx;
  const char* host = getenv("DOCKER_HOST");
  ctx.host = host && *host ? host : "unix:///var/run/docker.sock";
  const char* cfg = getenv("DOCKER_CONFIG");
  const char* home = getenv("HOME");
  ctx.config_dir = cfg && *cfg ? cfg : std::string(home ? home : "/root") + "/.docker";
  const char* env_context = getenv("DOCKER_CONTEXT");
  std::string context = env_context ? env_context : "";
  bool host_given = host && *host;
  // The docker CLI's global flags it hands on before "compose".
  std::size_t i = 0;
  auto it = std::find(args.begin(), args.end(), "compose");
  if (it != args.end()) {
    std::size_t end = static_cast<std::size_t>(it - args.begin());
    for (; i < end; ++i) {
      std::string a = args[i], value;
      auto eq = a.find('=');
      std::string name = a.substr(0, eq);
      auto take = [&] {
        if (eq != std::string::npos) return a.substr(eq + 1);
        if (i + 1 >= end) throw Error("flag needs an argument: " + name);
        return args[++i];
      };
      try {
        if (name == "-H" || name == "--host") ctx.host = take(), host_given = true;
        else if (name == "--config") ctx.config_dir = take();
        else if (name == "-c" || name == "--context") context = take();
        else {
          errp("docker-compose (hoist): the docker CLI's " + name + " is not supported yet by hoist's compose plugin\n");
          return 125;
        }
      } catch (const Error& e) {
        errp(std::string(e.what()) + "\n");
        return 125;
      }
    }
    args.erase(args.begin(), args.begin() + static_cast<long>(end) + 1);
  }
  if (context.empty() && !host_given) {
    auto text = [&]() -> std::string {
      FILE* f = fopen((ctx.config_dir + "/config.json").c_str(), "r");
      if (!f) return "";
      std::string d;
      char buf[4096];
      for (std::size_t n; (n = fread(buf, 1, sizeof buf, f)) > 0;) d.append(buf, n);
      fclose(f);
      return d;
    }();
    json c = json::parse(text.empty() ? "{}" : text, nullptr, false);
    if (c.is_object() && c.contains("currentContext") && c["currentContext"].is_string())
      context = c["currentContext"].get<std::string>();
  }
  if (!context.empty() && context != "default" && !host_given) {
    errp("docker-compose (hoist): docker context \"" + context +
         "\" is not supported yet: hoist reads no docker context store; use -H or DOCKER_HOST\n");
    return 1;
  }
  static const Entry compose{{"compose"}, &kComposeCommand, cmd_compose};
  return run_entry(ctx, "compose", compose, args);
}

}  // namespace

int main_entry(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  if (argc > 0) {
    std::string self = argv[0];
    if (self.substr(self.rfind('/') + 1) == "docker-compose") return compose_plugin_main(argc, argv);
  }
  Ctx ctx;
  const char* env_host = getenv("HOIST_HOST");
  ctx.host = env_host && *env_host ? env_host : "unix:///run/hoist/hoist.sock";
  const char* home = getenv("HOME");
  const char* env_cfg = getenv("HOIST_CONFIG");
  ctx.config_dir = env_cfg && *env_cfg ? env_cfg : std::string(home ? home : "/root") + "/.hoist";
  auto global = global_flags(ctx.host, ctx.config_dir);
  std::vector<FlagSpec> specs;
  for (auto& f : global) specs.push_back({f.name, f.shorthand, !f.type.empty()});
  Parsed p;
  try {
    p = parse_flags(specs, Args(argv + 1, argv + argc), false);
  } catch (const FlagError& e) {
    errp(std::string(e.what()) + "\nSee 'hoist --help'.\n");
    return 125;
  }
  if (p.flag("debug")) {
    errp("hoist: --debug (-D) is not supported yet: the client has no debug output (hoistd's log has the daemon's)\n"
         "See 'hoist --help'.\n");
    return 125;
  }
  if (p.has("host")) ctx.host = p.get("host");
  if (p.has("config")) ctx.config_dir = p.get("config");
  if (p.flag("version")) {
    out("Hoist version 0.1.0\n");
    return 0;
  }
  if (p.flag("help")) {
    out(root_help(global));
    return 0;
  }
  return dispatch(ctx, p.args, global);
}

}  // namespace hoist::cli
