// `hoist compose run/exec`: a one-off container of a service, a command in a running one.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <random>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "cli/commands/commands.h"
#include "cli/commands/compose_create.h"
#include "cli/commands/compose_ops.h"
#include "cli/commands/network.h"
#include "cli/compose/orchestrate.h"
#include "cli/format.h"
#include "common/strings.h"

namespace hoist::cli::composecmd {

using compose::Project;

const Command kComposeRun = {
    "[OPTIONS] SERVICE [COMMAND] [ARGS...]",
    "Run a one-off command on a service",
    "",
    {},
    {{"build", 0, "", "Build image before starting container"},
     {"cap-add", 0, "list", "Add Linux capabilities"},
     {"cap-drop", 0, "list", "Drop Linux capabilities"},
     {"detach", 'd', "", "Run container in background and print container ID"},
     {"entrypoint", 0, "string", "Override the entrypoint of the image"},
     {"env", 'e', "stringArray", "Set environment variables"},
     {"interactive", 'i', "", "Keep STDIN open even if not attached", "true"},
     {"label", 'l', "stringArray", "Add or override a label"},
     {"name", 0, "string", "Assign a name to the container"},
     {"no-TTY", 'T', "", "Disable pseudo-TTY allocation (default: auto-detected)", "true"},
     {"no-deps", 0, "", "Don't start linked services"},
     {"publish", 'p', "stringArray", "Publish a container's port(s) to the host"},
     {"remove-orphans", 0, "", "Remove containers for services not defined in the Compose file"},
     {"rm", 0, "", "Automatically remove the container when it exits"},
     {"service-ports", 0, "", "Run command with all service's ports enabled and mapped to the host"},
     {"use-aliases", 0, "", "Use the service's network useAliases in the network(s) the container connects to"},
     {"user", 'u', "string", "Run as specified username or uid"},
     {"volume", 'v', "stringArray", "Bind mount a volume"},
     {"workdir", 'w', "string", "Working directory inside the container"}},
    false,
    1,
    -1};


const Command kComposeExec = {
    "[OPTIONS] SERVICE COMMAND [ARGS...]",
    "Execute a command in a running container",
    "",
    {},
    {{"detach", 'd', "", "Detached mode: Run command in the background"},
     {"env", 'e', "stringArray", "Set environment variables"},
     {"index", 0, "int", "Index of the container if service has multiple replicas", "1"},
     {"no-TTY", 'T', "", "Disable pseudo-TTY allocation. By default `docker compose exec` allocates a TTY."},
     {"privileged", 0, "", "Give extended privileges to the process"},
     {"user", 'u', "string", "Run the command as this user"},
     {"workdir", 'w', "string", "Path to workdir directory for this command"}},
    false,
    2,
    -1};


int compose_run(Ctx& ctx, const compose::LoadOptions& lo, const std::vector<std::string>& argv) {
  ctx.path = "compose run";
  Parsed p = parse(ctx, kComposeRun, argv);
  Project proj = load(lo);
  std::string service = p.args[0];
  selected(proj, {service});
  compose::RunOptions ro;
  ro.name = p.get("name");
  {
    std::random_device rd;
    char hex[9];
    for (int i = 0; i < 8; ++i) {
      std::snprintf(hex, sizeof hex, "%08x", rd());
      ro.slug += hex;
    }
  }
  if (p.args.size() > 1) ro.command = std::vector<std::string>(p.args.begin() + 1, p.args.end());
  if (p.has("entrypoint")) ro.entrypoint = compose::split_command(p.get("entrypoint"));
  for (const auto& e : p.all("env")) {
    if (e.find('=') != std::string::npos) ro.env.push_back(e);
    else if (auto it = proj.environment.find(e); it != proj.environment.end()) ro.env.push_back(e + "=" + it->second);
  }
  for (const auto& l : p.all("label")) {
    auto eq = l.find('=');
    ro.labels[l.substr(0, eq)] = eq == std::string::npos ? "" : l.substr(eq + 1);
  }
  ro.user = p.get("user");
  ro.workdir = p.get("workdir");
  bool detach = p.flag("detach");
  ro.interactive = !p.has("interactive") || p.flag("interactive");
  ro.tty = p.has("no-TTY") ? !p.flag("no-TTY") : is_tty(0) && is_tty(1);
  if (detach) ro.interactive = false;  // nothing attaches its stdin
  ro.remove = p.flag("rm");
  ro.service_ports = p.flag("service-ports");
  ro.publish = p.all("publish");
  ro.use_aliases = p.flag("use-aliases");
  for (const auto& c : p.all("cap-add")) ro.cap_add.push_back(c);
  for (const auto& c : p.all("cap-drop")) ro.cap_drop.push_back(c);
  ro.volumes = p.all("volume");
  compose::run_plan(proj, service, ro, "");  // refusals before anything is made

  // Its dependencies up (as `up -d`), unless --no-deps.
  std::vector<std::string> deps;
  if (!p.flag("no-deps"))
    for (const auto& [d, cond] : compose::dependency_conditions(proj, service)) deps.push_back(d);
  if (!deps.empty()) {
    std::vector<std::string> up = {"-d"};
    if (p.flag("build")) up.push_back("--build");
    if (p.flag("remove-orphans")) up.push_back("--remove-orphans");
    up.insert(up.end(), deps.begin(), deps.end());
    int rc = compose_up(ctx, lo, up);
    if (rc != 0) return rc;
    ctx.path = "compose run";
  }
  std::set<std::string> networks;
  const json& svc = compose::service_of(proj, service);
  if (svc.contains("networks"))
    for (const auto& [k, v] : svc["networks"].items()) networks.insert(k);
  ensure_networks(ctx, proj, networks);
  ensure_volumes(ctx, proj);
  pull_buildable_images(ctx, proj, {service});
  build_images(ctx, proj, {service}, p.flag("build"), {}, {}, false);
  std::string image_id = ensure_image(ctx, proj, service, svc);
  if (!deps.empty()) {
    std::map<std::string, std::vector<std::string>> ids;
    for (const auto& c : project_containers(ctx, proj.name, true)) ids[label(c, compose::kLabelService)].push_back(c["Id"]);
    wait_dependencies(ctx, proj, service, ids);
  }
  auto plan = compose::run_plan(proj, service, ro, image_id);
  std::string id = create_planned(ctx, proj, service, 1, plan);
  if (detach) {
    ctx.c().request("POST", "/containers/" + q(id) + "/start");
    out(id + "\n");
    return 0;
  }
  std::vector<std::string> args = {"-a"};
  if (ro.interactive) args.push_back("-i");
  args.push_back(id);
  ctx.path = "start";
  return cmd_start(ctx, args);
}

int compose_exec(Ctx& ctx, const compose::LoadOptions& lo, const std::vector<std::string>& argv) {
  ctx.path = "compose exec";
  Parsed p = parse(ctx, kComposeExec, argv);
  Project proj = load(lo);
  std::string service = p.args[0];
  selected(proj, {service});
  int index = 1;
  try {
    index = std::stoi(p.get("index", "1"));
  } catch (...) {
    throw ExitError{1, "invalid --index \"" + p.get("index") + "\""};
  }
  std::string id;
  for (const auto& c : project_containers(ctx, proj.name, false))
    if (label(c, compose::kLabelService) == service && label(c, compose::kLabelNumber) == std::to_string(index))
      id = c["Id"];
  if (id.empty()) throw ExitError{1, "service \"" + service + "\" is not running"};
  std::vector<std::string> args;
  if (p.flag("detach")) args.push_back("-d");
  if (!p.flag("no-TTY") && is_tty(0)) args.insert(args.end(), {"-i", "-t"});
  else if (!p.flag("detach")) args.push_back("-i");
  for (const auto& e : p.all("env")) args.insert(args.end(), {"-e", e});
  if (p.flag("privileged")) args.push_back("--privileged");
  if (p.has("user")) args.insert(args.end(), {"-u", p.get("user")});
  if (p.has("workdir")) args.insert(args.end(), {"-w", p.get("workdir")});
  args.push_back(id);
  args.insert(args.end(), p.args.begin() + 1, p.args.end());
  ctx.path = "exec";
  return cmd_exec(ctx, args);
}

}  // namespace hoist::cli::composecmd
