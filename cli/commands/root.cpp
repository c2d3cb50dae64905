// The entry point: global options (-H, --config, ...), the root usage text and the command table
// that dispatches to the groups (container.cpp, image.cpp, system.cpp).
#include <signal.h>

#include <cstdlib>
#include <functional>
#include <map>

#include "cli/commands/commands.h"

namespace hoist::cli {

namespace {

const char* kUsage =
    "\nUsage:  hoist [OPTIONS] COMMAND\n\nA docker-compatible container engine client\n\n"
    "Options:\n  -H, --host string     Daemon socket to connect to (default unix:///run/hoist/hoist.sock, or $HOIST_HOST)\n"
    "      --config string   Location of client config files (default ~/.hoist)\n\n"
    "Commands:\n  attach create events exec images import info inspect kill load login logout logs pause ps pull push\n"
    "  rename restart rm rmi run save start stats stop system tag top unpause version wait\n";

}  // namespace

int main_entry(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  Ctx ctx;
  const char* env_host = getenv("HOIST_HOST");
  ctx.host = env_host && *env_host ? env_host : "unix:///run/hoist/hoist.sock";
  const char* home = getenv("HOME");
  const char* env_cfg = getenv("HOIST_CONFIG");
  ctx.config_dir = env_cfg && *env_cfg ? env_cfg : std::string(home ? home : "/root") + "/.hoist";
  std::vector<std::string> args(argv + 1, argv + argc);
  size_t i = 0;
  while (i < args.size() && !args[i].empty() && args[i][0] == '-') {
    auto& a = args[i];
    auto val = [&](const std::string& flag) -> std::string {
      auto eq = a.find('=');
      if (eq != std::string::npos) return a.substr(eq + 1);
      if (a.size() > 2 && a[1] != '-') return a.substr(2);
      if (i + 1 >= args.size()) {
        errp("flag needs an argument: " + flag + "\n");
        exit(125);
      }
      return args[++i];
    };
    if (a == "-H" || a.rfind("--host", 0) == 0 || (a.rfind("-H", 0) == 0 && a.size() > 2)) ctx.host = val("-H");
    else if (a.rfind("--config", 0) == 0) ctx.config_dir = val("--config");
    else if (a == "-D" || a == "--debug") {
    } else if (a == "-v" || a == "--version") {
      out("Hoist version 0.1.0\n");
      return 0;
    } else if (a == "-h" || a == "--help") {
      out(kUsage);
      return 0;
    } else {
      errp("unknown flag: " + a + "\nSee 'hoist --help'.\n");
      return 125;
    }
    ++i;
  }
  if (i >= args.size()) {
    out(kUsage);
    return 0;
  }
  std::string cmd = args[i];
  std::vector<std::string> rest(args.begin() + (long)i + 1, args.end());
  // "hoist container ls" / "hoist image ls" style aliases.
  if ((cmd == "container" || cmd == "image") && !rest.empty()) {
    std::string sub = rest[0];
    rest.erase(rest.begin());
    if (sub == "ls" || sub == "list") cmd = cmd == "container" ? "ps" : "images";
    else if (sub == "inspect") {
      try {
        return cmd_inspect(ctx, rest, cmd);
      } catch (const ExitError& e) {
        return e.code;
      } catch (const std::exception& e) {
        errp(daemon_err(e) + "\n");
        return 1;
      }
    } else if (sub == "rm" && cmd == "image") cmd = "rmi";
    else cmd = sub;
  }
  static const std::map<std::string, std::function<int(Ctx&, const std::vector<std::string>&)>> table = {
      {"run", [](Ctx& c, const std::vector<std::string>& a) { return cmd_run(c, a, false); }},
      {"create", [](Ctx& c, const std::vector<std::string>& a) { return cmd_run(c, a, true); }},
      {"start", cmd_start},
      {"attach", cmd_attach},
      {"stop", [](Ctx& c, const std::vector<std::string>& a) { return cmd_stop(c, a, "stop"); }},
      {"restart", [](Ctx& c, const std::vector<std::string>& a) { return cmd_stop(c, a, "restart"); }},
      {"kill", cmd_kill},
      {"pause", [](Ctx& c, const std::vector<std::string>& a) { return cmd_simple(c, a, "pause"); }},
      {"unpause", [](Ctx& c, const std::vector<std::string>& a) { return cmd_simple(c, a, "unpause"); }},
      {"rm", cmd_rm},
      {"rename", cmd_rename},
      {"wait", cmd_wait},
      {"ps", cmd_ps},
      {"logs", cmd_logs},
      {"exec", cmd_exec},
      {"inspect", [](Ctx& c, const std::vector<std::string>& a) { return cmd_inspect(c, a); }},
      {"top", cmd_top},
      {"stats", cmd_stats},
      {"images", cmd_images},
      {"pull", cmd_pull},
      {"push", cmd_push},
      {"tag", cmd_tag},
      {"rmi", cmd_rmi},
      {"save", cmd_save},
      {"load", cmd_load},
      {"import", cmd_import},
      {"login", cmd_login},
      {"logout", cmd_logout},
      {"version", cmd_version},
      {"info", cmd_info},
      {"events", cmd_events},
      {"system", cmd_system},
  };
  auto it = table.find(cmd);
  if (it == table.end()) {
    errp("hoist: '" + cmd + "' is not a hoist command.\nSee 'hoist --help'\n");
    return 1;
  }
  bool is_run = cmd == "run" || cmd == "create";
  try {
    return it->second(ctx, rest);
  } catch (const ExitError& e) {
    if (!e.msg.empty()) errp(e.msg + "\n");
    return e.code;
  } catch (const ConnectError& e) {
    errp(std::string(e.what()) + "\n");
    return is_run ? 125 : 1;
  } catch (const std::exception& e) {
    errp(daemon_err(e) + "\n");
    return is_run ? 125 : 1;
  }
}

}  // namespace hoist::cli
