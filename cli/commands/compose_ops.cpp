// `hoist compose up/down/ps/logs/start/stop/restart/kill/rm/exec`: the orchestration, as a client
// of the Docker Engine API (it works against hoistd and dockerd alike). What to send comes from
// cli/compose/orchestrate.h; this file makes the calls, in dependency order, and prints Compose
// v2's progress lines (" Container p-s-1  Started") on stderr.
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
#include "cli/commands/network.h"
#include "cli/compose/orchestrate.h"
#include "cli/format.h"
#include "common/strings.h"

namespace hoist::cli {

namespace {

using compose::Project;

const Command kComposeUp = {
    "[OPTIONS] [SERVICE...]",
    "Create and start containers",
    "",
    {},
    {{"detach", 'd', "", "Detached mode: Run containers in the background"},
     {"force-recreate", 0, "", "Recreate containers even if their configuration and image haven't changed"},
     {"no-recreate", 0, "", "If containers already exist, don't recreate them. Incompatible with --force-recreate."},
     {"no-build", 0, "", "Don't build an image, even if it's policy"},
     {"no-start", 0, "", "Don't start the services after creating them"},
     {"remove-orphans", 0, "", "Remove containers for services not defined in the Compose file"},
     {"scale", 0, "stringArray", "Scale SERVICE to NUM instances. Overrides the `scale` setting in the Compose file if present."},
     {"timeout", 't', "int", "Use this timeout in seconds for container shutdown when attached or when containers are already running"},
     {"build", 0, "", "Build images before starting containers"},
     {"no-deps", 0, "", "Don't start linked services"},
     {"wait", 0, "", "Wait for services to be running|healthy. Implies detached mode."},
     {"wait-timeout", 0, "int", "Maximum duration in seconds to wait for the project to be running|healthy"},
     {"abort-on-container-exit", 0, "", "Stops all containers if any container was stopped. Incompatible with -d"},
     {"exit-code-from", 0, "string", "Return the exit code of the selected service container. Implies --abort-on-container-exit"},
     {"attach-dependencies", 0, "", "Automatically attach to log output of dependent services"},
     {"no-color", 0, "", "Produce monochrome output"},
     {"no-log-prefix", 0, "", "Don't print prefix in logs"},
     {"timestamps", 0, "", "Show timestamps"}},
    true,
    0,
    -1};

const Command kComposeBuild = {
    "[OPTIONS] [SERVICE...]",
    "Build or rebuild services",
    "",
    {},
    {{"build-arg", 0, "stringArray", "Set build-time variables for services"},
     {"no-cache", 0, "", "Do not use cache when building the image"},
     {"pull", 0, "", "Always attempt to pull a newer version of the image"},
     {"quiet", 'q', "", "Don't print anything to STDOUT"},
     {"with-dependencies", 0, "", "Also build dependencies (transitively)"}},
    true,
    0,
    -1};

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

const Command kComposeCreate = {
    "[OPTIONS] [SERVICE...]",
    "Creates containers for a service",
    "",
    {},
    {{"build", 0, "", "Build images before starting containers"},
     {"force-recreate", 0, "", "Recreate containers even if their configuration and image haven't changed"},
     {"no-build", 0, "", "Don't build an image, even if it's policy"},
     {"no-recreate", 0, "", "If containers already exist, don't recreate them. Incompatible with --force-recreate."},
     {"remove-orphans", 0, "", "Remove containers for services not defined in the Compose file"},
     {"scale", 0, "stringArray", "Scale SERVICE to NUM instances. Overrides the `scale` setting in the Compose file if present."}},
    true,
    0,
    -1};

const Command kComposePull = {
    "[OPTIONS] [SERVICE...]",
    "Pull service images",
    "",
    {},
    {{"ignore-buildable", 0, "", "Ignore images that can be built"},
     {"ignore-pull-failures", 0, "", "Pull what it can and ignores images with pull failures"},
     {"include-deps", 0, "", "Also pull services declared as dependencies"},
     {"quiet", 'q', "", "Pull without printing progress information"}},
    true,
    0,
    -1};
const Command kComposePush = {
    "[OPTIONS] [SERVICE...]",
    "Push service images",
    "",
    {},
    {{"ignore-push-failures", 0, "", "Push what it can and ignores images with push failures"},
     {"include-deps", 0, "", "Also push images of services declared as dependencies"},
     {"quiet", 'q', "", "Push without printing progress information"}},
    true,
    0,
    -1};
const Command kComposePause = {"[SERVICE...]", "Pause services", "", {}, {}, true, 0, -1};
const Command kComposeUnpause = {"[SERVICE...]", "Unpause services", "", {}, {}, true, 0, -1};
const Command kComposeTop = {"[SERVICES...]", "Display the running processes", "", {}, {}, true, 0, -1};
const Command kComposeImages = {
    "[OPTIONS] [SERVICE...]",
    "List images used by the created containers",
    "",
    {},
    {{"format", 0, "string", "Format the output. Values: [table | json]", "table"},
     {"quiet", 'q', "", "Only display IDs"}},
    true,
    0,
    -1};
const Command kComposePort = {
    "[OPTIONS] SERVICE PRIVATE_PORT",
    "Print the public port for a port binding",
    "",
    {},
    {{"index", 0, "int", "Index of the container if service has multiple replicas", "0"},
     {"protocol", 0, "string", "tcp or udp", "tcp"}},
    true,
    2,
    2};
const Command kComposeLs = {
    "[OPTIONS]",
    "List running compose projects",
    "",
    {},
    {{"all", 'a', "", "Show all stopped Compose projects"},
     {"filter", 0, "filter", "Filter output based on conditions provided"},
     {"format", 0, "string", "Format the output. Values: [table | json]", "table"},
     {"quiet", 'q', "", "Only display project names"}},
    true,
    0,
    0};
const Command kComposeVersion = {
    "[OPTIONS]",
    "Show the Docker Compose version information",
    "",
    {},
    {{"format", 'f', "string", "Format the output. Values: [pretty | json]. (Default: pretty)"},
     {"short", 0, "", "Shows only Compose's version number"}},
    true,
    0,
    0};

const Command kComposeDown = {
    "[OPTIONS] [SERVICES]",
    "Stop and remove containers, networks",
    "",
    {},
    {{"remove-orphans", 0, "", "Remove containers for services not defined in the Compose file"},
     {"timeout", 't', "int", "Specify a shutdown timeout in seconds"},
     {"volumes", 'v', "", "Remove named volumes declared in the \"volumes\" section of the Compose file and anonymous volumes attached to containers"},
     {"rmi", 0, "string", "Remove images used by services. \"local\" remove only images that don't have a custom tag (\"local\"|\"all\")"}},
    true,
    0,
    0};

const Command kComposePs = {
    "[OPTIONS] [SERVICE...]",
    "List containers",
    "",
    {},
    {{"all", 'a', "", "Show all stopped containers (including those created by the run command)"},
     {"quiet", 'q', "", "Only display IDs"},
     {"services", 0, "", "Display services"},
     {"no-trunc", 0, "", "Don't truncate output"},
     {"status", 0, "stringArray",
      "Filter services by status. Values: [paused | restarting | removing | running | dead | created | exited]"},
     {"format", 0, "string", "Format output using a custom template", "table"}},
    true,
    0,
    -1};

const Command kComposeLogs = {
    "[OPTIONS] [SERVICE...]",
    "View output from containers",
    "",
    {},
    {{"follow", 'f', "", "Follow log output"},
     {"tail", 'n', "string", "Number of lines to show from the end of the logs for each container", "all"},
     {"timestamps", 't', "", "Show timestamps"},
     {"no-log-prefix", 0, "", "Don't print prefix in logs"},
     {"no-color", 0, "", "Produce monochrome output"}},
    true,
    0,
    -1};

const Command kComposeStop = {"[OPTIONS] [SERVICE...]", "Stop services", "", {},
                              {{"timeout", 't', "int", "Specify a shutdown timeout in seconds"}}, true, 0, -1};
const Command kComposeRestart = {"[OPTIONS] [SERVICE...]", "Restart service containers", "", {},
                                 {{"timeout", 't', "int", "Specify a shutdown timeout in seconds"}}, true, 0, -1};
const Command kComposeStart = {"[SERVICE...]", "Start services", "", {}, {}, true, 0, -1};
const Command kComposeKill = {"[OPTIONS] [SERVICE...]", "Force stop service containers", "", {},
                              {{"signal", 's', "string", "SIGNAL to send to the container", "SIGKILL"}}, true, 0, -1};
const Command kComposeRm = {"[OPTIONS] [SERVICE...]",
                            "Removes stopped service containers",
                            "",
                            {},
                            {{"force", 'f', "", "Don't ask to confirm removal"},
                             {"stop", 's', "", "Stop the containers, if required, before removing"},
                             {"volumes", 'v', "", "Remove any anonymous volumes attached to containers"}},
                            true,
                            0,
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

std::mutex g_out;

Project load(const compose::LoadOptions& lo) {
  Project proj = compose::load_project(lo);
  for (const auto& w : proj.warnings) errp(w + "\n");
  return proj;
}

void progress(const std::string& kind, const std::string& name, const std::string& state) {
  std::lock_guard<std::mutex> l(g_out);
  errp(" " + kind + " " + name + "  " + state + "\n");
}

std::string label_filter(const std::vector<std::string>& labels) {
  json f = {{"label", labels}};
  return q(f.dump());
}

std::string label(const json& c, const char* key) {
  if (!c.contains("Labels") || !c["Labels"].is_object() || !c["Labels"].contains(key)) return "";
  return c["Labels"][key].get<std::string>();
}

// Runs fn on each item in threads of its own (the client is shared: one connection a request);
// rethrows the first error once all are done.
template <typename T, typename F>
void in_parallel(const std::vector<T>& items, F fn) {
  std::vector<std::exception_ptr> errors(items.size());
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < items.size(); ++i)
    threads.emplace_back([&, i] {
      try {
        fn(items[i]);
      } catch (...) {
        errors[i] = std::current_exception();
      }
    });
  for (auto& t : threads) t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

// The project's containers (one-off ones left out unless `oneoff`), sorted by name.
std::vector<json> project_containers(Ctx& ctx, const std::string& project, bool all, bool oneoff = false) {
  std::vector<std::string> filters = {std::string(compose::kLabelProject) + "=" + project};
  if (!oneoff) filters.push_back(std::string(compose::kLabelOneoff) + "=False");
  auto r = ctx.c().request("GET", std::string("/containers/json?all=") + (all ? "1" : "0") + "&filters=" +
                                      label_filter(filters));
  std::vector<json> v;
  // The labels checked here too: a daemon that matched any one label filter instead of all
  // would hand us other projects' containers.
  for (auto& c : json::parse(r.body))
    if (label(c, compose::kLabelProject) == project && (oneoff || label(c, compose::kLabelOneoff) == "False"))
      v.push_back(c);
  std::sort(v.begin(), v.end(), [](const json& a, const json& b) { return a["Names"][0] < b["Names"][0]; });
  return v;
}

std::string cname(const json& c) {
  std::string n = c["Names"][0].get<std::string>();
  return n.empty() || n[0] != '/' ? n : n.substr(1);
}

// The services the command names (checked), else all of them.
std::vector<std::string> selected(const Project& proj, const std::vector<std::string>& args) {
  auto names = proj.service_names();
  for (const auto& a : args)
    if (std::find(names.begin(), names.end(), a) == names.end()) throw ExitError{1, "no such service: " + a};
  return args.empty() ? names : args;
}

// `wanted` and everything it depends on, transitively.
std::set<std::string> with_dependencies(const Project& proj, const std::vector<std::string>& wanted) {
  std::set<std::string> out;
  std::vector<std::string> todo = wanted;
  while (!todo.empty()) {
    std::string s = todo.back();
    todo.pop_back();
    if (!out.insert(s).second) continue;
    for (const auto& [d, cond] : compose::dependency_conditions(proj, s)) todo.push_back(d);
  }
  return out;
}

// The image's id; pulls it when missing (pull_policy missing/if_not_present/always; never refuses).
std::string ensure_image(Ctx& ctx, const Project& proj, const std::string& service, const json& svc) {
  std::string image = compose::service_image(proj, service);
  std::string policy = svc.value("pull_policy", std::string("missing"));
  if (compose::has_build(proj, service)) {  // built before (build_images); never pulled
    auto r = ctx.c().request("GET", "/images/" + q(image) + "/json", "", {}, true);
    if (r.status == 404) throw ExitError{1, "service \"" + service + "\": image " + image + " is not built (--no-build)"};
    if (r.status >= 400) throw ExitError{1, "Error response from daemon: " + error_message(r.body)};
    return json::parse(r.body).value("Id", "");
  }
  if (policy != "missing" && policy != "if_not_present" && policy != "always" && policy != "never")
    throw ExitError{1, "services." + service + ": pull_policy \"" + policy + "\" is not supported yet by hoist compose"};
  if (policy == "always") show_pull(image, ctx, true, "", true);
  auto r = ctx.c().request("GET", "/images/" + q(image) + "/json", "", {}, true);
  if (r.status == 404 && policy != "never") {
    progress("Image", image, "Pulling");
    show_pull(image, ctx, true, "", true);
    progress("Image", image, "Pulled");
    r = ctx.c().request("GET", "/images/" + q(image) + "/json", "", {}, true);
  }
  if (r.status >= 400) throw ExitError{1, "Error response from daemon: " + error_message(r.body)};
  return json::parse(r.body).value("Id", "");
}

// Builds the image of each service of `services` that has `build:` (all of them with `always`,
// else those whose image is missing or whose pull_policy is "build"), as `compose build`.
void build_images(Ctx& ctx, const Project& proj, const std::vector<std::string>& services, bool always,
                  const compose::BuildFlags& flags, const std::vector<std::string>& build_args, bool quiet) {
  for (const auto& service : services) {
    if (!compose::has_build(proj, service)) continue;
    compose::BuildPlan plan = compose::build_plan(proj, service, flags);
    if (!always && compose::service_of(proj, service).value("pull_policy", "") != "build" &&
        ctx.c().request("GET", "/images/" + q(plan.image) + "/json", "", {}, true).status == 200)
      continue;
    if (!build_args.empty()) {
      // --build-arg: over the file's args (KEY alone: the environment's value, unset: left out).
      json args = json::object();
      const json& b = compose::service_of(proj, service)["build"];
      if (b.contains("args"))
        for (const auto& [k, v] : b["args"].items())
          if (!v.is_null()) args[k] = v.is_string() ? v.get<std::string>() : v.dump();
      for (const auto& a : build_args) {
        auto eq = a.find('=');
        if (eq != std::string::npos) args[a.substr(0, eq)] = a.substr(eq + 1);
        else if (const char* e = std::getenv(a.c_str())) args[a] = e;
      }
      auto at = plan.query.find("&buildargs=");
      auto end = plan.query.find('&', at + 1);
      plan.query = plan.query.substr(0, at) + "&buildargs=" + q(args.dump()) + plan.query.substr(end);
    }
    ContextBuild b;
    b.context = plan.context;
    b.dockerfile = plan.dockerfile;
    if (plan.has_inline) b.dockerfile_text = plan.dockerfile_inline;
    b.query = plan.query;
    b.quiet = quiet;
    progress("Service", service, "Building");
    std::string id;
    int rc = build_context_dir(ctx, b, [&](const std::string& line) {
      if (quiet) return;
      std::lock_guard<std::mutex> l(g_out);
      out(line);
    }, id);
    if (rc != 0) throw ExitError{rc, "failed to build service \"" + service + "\""};
    progress("Service", service, "Built");
  }
}

int compose_build(Ctx& ctx, const compose::LoadOptions& lo, const std::vector<std::string>& argv) {
  ctx.path = "compose build";
  Parsed p = parse(ctx, kComposeBuild, argv);
  Project proj = load(lo);
  auto wanted = selected(proj, p.args);
  std::vector<std::string> services = wanted;
  if (p.flag("with-dependencies")) {
    auto all = with_dependencies(proj, wanted);
    services.assign(all.begin(), all.end());
  }
  for (const auto& s : services)
    if (compose::has_build(proj, s)) compose::build_plan(proj, s);  // refusals before any build
  build_images(ctx, proj, services, true, {p.flag("no-cache"), p.flag("pull")}, p.all("build-arg"), p.flag("quiet"));
  return 0;
}

// The networks `used` (keys), made when missing, made anew when their definition changed; their
// engine name → id.
std::map<std::string, std::string> ensure_networks(Ctx& ctx, const Project& proj, const std::set<std::string>& used) {
  std::map<std::string, std::string> ids;
  for (const auto& key : used) {
    std::string name = compose::network_name(proj, key);
    auto r = ctx.c().request("GET", "/networks/" + q(name), "", {}, true);
    if (compose::network_is_external(proj, key)) {
      if (r.status == 404) throw ExitError{1, "network " + name + " declared as external, but could not be found"};
      if (r.status == 200) ids[name] = json::parse(r.body).value("Id", "");
      continue;
    }
    if (r.status == 200) {
      json info = json::parse(r.body);
      if (!info.contains("Labels") || !info["Labels"].is_object() ||
          info["Labels"].value(compose::kLabelProject, "") != proj.name)
        errp("WARNING: a network with name " + name + " exists but was not created for project \"" + proj.name +
             "\".\nSet `external: true` to use an existing network\n");
      if (!remove_diverged_network(ctx, proj, key, info)) {
        ids[name] = info.value("Id", "");
        continue;
      }
    }
    json body = compose::network_create_body(proj, key);
    progress("Network", name, "Creating");
    auto c = ctx.c().request("POST", "/networks/create", body.dump());
    ids[name] = json::parse(c.body).value("Id", "");
    progress("Network", name, "Created");
  }
  return ids;
}

void ensure_volumes(Ctx& ctx, const Project& proj) {
  const json& m = *proj.model;
  if (!m.contains("volumes")) return;
  for (const auto& [key, v] : m["volumes"].items()) {
    std::string name = compose::volume_name(proj, key);
    auto r = ctx.c().request("GET", "/volumes/" + q(name), "", {}, true);
    if (compose::volume_is_external(proj, key)) {
      if (r.status == 404) throw ExitError{1, "external volume \"" + name + "\" not found"};
      continue;
    }
    if (r.status == 200) {
      json info = json::parse(r.body);
      if (!info.contains("Labels") || !info["Labels"].is_object() ||
          info["Labels"].value(compose::kLabelProject, "") != proj.name)
        errp("WARNING: volume \"" + name + "\" already exists but was not created by Docker Compose. Use " +
             "`external: true` to use an existing volume\n");
      continue;
    }
    json body = compose::volume_create_body(proj, key);
    progress("Volume", name, "Creating");
    ctx.c().request("POST", "/volumes/create", body.dump());
    progress("Volume", name, "Created");
  }
}

// `old_volumes`: the anonymous volumes a recreated container hands on (target, name).
std::string create_container(Ctx& ctx, const Project& proj, const std::string& service, int number,
                             const std::string& image_id,
                             const std::vector<std::pair<std::string, std::string>>& old_volumes = {}) {
  auto plan = compose::container_create_plan(proj, service, number, image_id);
  if (!old_volumes.empty()) compose::inherit_anonymous_volumes(plan, old_volumes);
  complete_create_plan(ctx, proj, service, number, plan);
  // Bind sources Compose creates when missing (create_host_path) are made by the daemon from Binds.
  progress("Container", plan.name, "Creating");
  auto r = ctx.c().request("POST", "/containers/create?name=" + q(plan.name), plan.body);
  std::string id = json::parse(r.body).value("Id", "");
  for (const auto& a : plan.connect_after)
    ctx.c().request("POST", "/networks/" + q(a.network) + "/connect",
                    json{{"Container", id}, {"EndpointConfig", json::parse(a.endpoint)}}.dump());
  inject_files(ctx, proj, service, id);
  progress("Container", plan.name, "Created");
  return id;
}

std::string stop_query(const Parsed& p) { return p.has("timeout") ? "?t=" + q(p.get("timeout")) : ""; }

// Waits for what `service` needs of each dependency's containers before it starts.
void wait_dependencies(Ctx& ctx, const Project& proj, const std::string& service,
                       const std::map<std::string, std::vector<std::string>>& ids) {
  const json& svc = compose::service_of(proj, service);
  for (const auto& [dep, cond] : compose::dependency_conditions(proj, service)) {
    bool required = !svc["depends_on"][dep].is_object() || svc["depends_on"][dep].value("required", true);
    auto it = ids.find(dep);
    if (it == ids.end()) continue;
    for (const auto& id : it->second) {
      if (cond == "service_started") continue;
      auto inspect = [&] { return json::parse(ctx.c().request("GET", "/containers/" + q(id) + "/json").body); };
      std::string name = inspect()["Name"].get<std::string>().substr(1);
      try {
        if (cond == "service_healthy") {
          progress("Container", name, "Waiting");
          for (;;) {
            json c = inspect();
            const json& st = c["State"];
            if (!st.contains("Health") || st["Health"].is_null())
              throw ExitError{1, "container " + name + " has no healthcheck configured"};
            std::string hs = st["Health"].value("Status", "");
            if (hs == "healthy") break;
            if (hs == "unhealthy") throw ExitError{1, "dependency failed to start: container " + name + " is unhealthy"};
            if (!st.value("Running", false))
              throw ExitError{1, "dependency failed to start: container " + name + " exited (" +
                                     std::to_string(st.value("ExitCode", 0)) + ")"};
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
          }
          progress("Container", name, "Healthy");
        } else if (cond == "service_completed_successfully") {
          progress("Container", name, "Waiting");
          auto r = ctx.c().request("POST", "/containers/" + q(id) + "/wait");
          long code = json::parse(r.body).value("StatusCode", 0L);
          if (code != 0)
            throw ExitError{1, "service \"" + dep + "\" didn't complete successfully: exit " + std::to_string(code)};
          progress("Container", name, "Exited");
        } else {
          throw ExitError{1, "services." + service + ".depends_on." + dep + ": condition \"" + cond +
                                 "\" is not supported"};
        }
      } catch (const ExitError& e) {
        if (required) throw;
        errp("WARNING: optional dependency \"" + dep + "\" failed: " + e.msg + "\n");
      }
    }
  }
}

// --wait: each container running, and healthy when it has a healthcheck; an exit or "unhealthy"
// fails; `timeout_s` 0 waits without a limit.
void wait_ready(Ctx& ctx, const std::map<std::string, std::vector<std::string>>& ids, int timeout_s) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  for (const auto& [service, list] : ids)
    for (const auto& id : list) {
      for (;;) {
        json c = json::parse(ctx.c().request("GET", "/containers/" + q(id) + "/json").body);
        std::string name = c["Name"].get<std::string>().substr(1);
        const json& st = c["State"];
        if (!st.value("Running", false))
          throw ExitError{1, "container " + name + " exited (" + std::to_string(st.value("ExitCode", 0)) + ")"};
        std::string hs = st.contains("Health") && st["Health"].is_object() ? st["Health"].value("Status", "") : "";
        if (hs == "unhealthy") throw ExitError{1, "container " + name + " is unhealthy"};
        if (hs.empty() || hs == "healthy") {
          progress("Container", name, hs.empty() ? "Running" : "Healthy");
          break;
        }
        if (timeout_s > 0 && std::chrono::steady_clock::now() > deadline)
          throw ExitError{1, "timeout waiting for container " + name + " to be healthy"};
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      }
    }
}

struct AttachOptions {
  std::set<std::string> services;  // whose containers are attached
  bool abort_on_exit = false;
  std::string exit_code_from;
  bool color = false, no_prefix = false, timestamps = false;
  std::string stop_query;  // "?t=N" or ""
  double since = 0;        // output from then on (the start of `up`)
};
int attach_up(Ctx& ctx, const Project& proj, const AttachOptions& o);

int compose_up(Ctx& ctx, const compose::LoadOptions& lo, const std::vector<std::string>& argv) {
  ctx.path = "compose up";
  Parsed p = parse(ctx, kComposeUp, argv);
  Project proj = load(lo);
  double started = now_s();
  bool detached = p.flag("detach") || p.flag("wait");
  bool abort_on_exit = p.flag("abort-on-container-exit") || p.has("exit-code-from");
  if (detached && abort_on_exit) throw ExitError{1, "--abort-on-container-exit and -d cannot be combined."};
  if (p.has("exit-code-from")) selected(proj, {p.get("exit-code-from")});
  if (p.flag("force-recreate") && p.flag("no-recreate"))
    throw ExitError{1, "--force-recreate and --no-recreate are incompatible"};
  if (p.flag("build") && p.flag("no-build")) throw ExitError{1, "--build and --no-build are incompatible"};
  auto wanted = selected(proj, p.args);
  auto services = p.flag("no-deps") ? std::set<std::string>(wanted.begin(), wanted.end()) : with_dependencies(proj, wanted);
  std::map<std::string, int> scale;
  for (const auto& s : p.all("scale")) {
    auto eq = s.find('=');
    if (eq == std::string::npos) throw ExitError{1, "invalid --scale \"" + s + "\": expected SERVICE=NUM"};
    std::string svc = s.substr(0, eq);
    selected(proj, {svc});
    try {
      scale[svc] = std::stoi(s.substr(eq + 1));
    } catch (...) {
      throw ExitError{1, "invalid --scale \"" + s + "\": expected SERVICE=NUM"};
    }
  }
  // Everything that can be refused is refused before anything is made.
  std::set<std::string> networks;
  for (const auto& s : services) {
    compose::container_create_plan(proj, s, 1, "");
    if (compose::has_build(proj, s)) compose::build_plan(proj, s);
    const json& svc = compose::service_of(proj, s);
    if (svc.contains("networks"))
      for (const auto& [k, v] : svc["networks"].items()) networks.insert(k);
  }
  for (const auto& n : networks)
    if (!compose::network_is_external(proj, n)) compose::network_create_body(proj, n);
  if (proj.model->contains("volumes"))
    for (const auto& [k, v] : (*proj.model)["volumes"].items())
      if (!compose::volume_is_external(proj, k)) compose::volume_create_body(proj, k);

  pull_buildable_images(ctx, proj, std::vector<std::string>(services.begin(), services.end()));
  if (!p.flag("no-build"))
    build_images(ctx, proj, std::vector<std::string>(services.begin(), services.end()), p.flag("build"), {}, {},
                 false);
  auto existing_all = project_containers(ctx, proj.name, true);
  std::vector<std::string> orphans;
  auto names = proj.service_names();
  for (const auto& c : existing_all)
    if (std::find(names.begin(), names.end(), label(c, compose::kLabelService)) == names.end())
      orphans.push_back(c["Id"].get<std::string>());
  if (!orphans.empty()) {
    if (p.flag("remove-orphans")) {
      for (const auto& c : existing_all) {
        if (std::find(orphans.begin(), orphans.end(), c["Id"]) == orphans.end()) continue;
        ctx.c().request("POST", "/containers/" + q(c["Id"].get<std::string>()) + "/stop", "", {}, true);
        ctx.c().request("DELETE", "/containers/" + q(c["Id"].get<std::string>()) + "?force=1");
        progress("Container", cname(c), "Removed");
      }
    } else {
      std::vector<std::string> on;
      for (const auto& c : existing_all)
        if (std::find(orphans.begin(), orphans.end(), c["Id"]) != orphans.end()) on.push_back(cname(c));
      errp("WARNING: Found orphan containers ([" + join(on, " ") + "]) for this project. If you removed or renamed " +
           "this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.\n");
    }
  }
  auto network_ids = ensure_networks(ctx, proj, networks);
  ensure_volumes(ctx, proj);

  compose::ConvergeOptions co{p.flag("force-recreate"), p.flag("no-recreate")};
  // service → its containers, for the dependency waits. Every entry exists before the threads
  // start: each thread appends to its own service's only, and reads those of earlier levels.
  std::map<std::string, std::vector<std::string>> ids;
  for (const auto& s : services) ids[s];
  auto up_service = [&](const std::string& service) {
    const json& svc = compose::service_of(proj, service);
    std::string image_id = ensure_image(ctx, proj, service, svc);
    std::vector<compose::Existing> existing;
    for (const auto& c : existing_all) {
      if (label(c, compose::kLabelService) != service) continue;
      compose::Existing e;
      e.id = c["Id"];
      e.name = cname(c);
      try {
        e.number = std::stoi(label(c, compose::kLabelNumber));
      } catch (...) {
        e.number = 0;
      }
      e.config_hash = label(c, compose::kLabelConfigHash);
      e.image_id = label(c, compose::kLabelImage);
      e.state = c.value("State", "");
      existing_networks_and_volumes(c, e);
      existing.push_back(e);
    }
    int want = scale.count(service) ? scale[service] : compose::replicas(proj, service);
    auto sco = co;
    expected_networks_and_volumes(proj, service, network_ids, sco);
    auto steps = compose::converge(existing, want, proj.config_hash(service), image_id, sco);
    std::vector<std::pair<std::string, std::string>> to_start;  // id, name
    for (const auto& st : steps) {
      std::string name = compose::container_name(proj, service, st.number);
      switch (st.kind) {
        case compose::Step::Keep:
          ids[service].push_back(st.id);
          progress("Container", name, "Running");
          break;
        case compose::Step::Start:
          ids[service].push_back(st.id);
          to_start.emplace_back(st.id, name);
          break;
        case compose::Step::Recreate: {
          progress("Container", name, "Recreate");
          json old = json::parse(ctx.c().request("GET", "/containers/" + q(st.id) + "/json").body);
          std::vector<std::pair<std::string, std::string>> vols;
          for (const auto& m : old.value("Mounts", json::array()))
            if (m.value("Type", "") == "volume" && !m.value("Name", "").empty())
              vols.emplace_back(m.value("Destination", ""), m.value("Name", ""));
          ctx.c().request("POST", "/containers/" + q(st.id) + "/stop" + stop_query(p), "", {}, true);
          ctx.c().request("DELETE", "/containers/" + q(st.id));
          std::string id = create_container(ctx, proj, service, st.number, image_id, vols);
          ids[service].push_back(id);
          to_start.emplace_back(id, name);
          break;
        }
        case compose::Step::Create: {
          std::string id = create_container(ctx, proj, service, st.number, image_id);
          ids[service].push_back(id);
          to_start.emplace_back(id, name);
          break;
        }
        case compose::Step::Remove: {
          std::string n;
          for (const auto& e : existing)
            if (e.id == st.id) n = e.name;
          progress("Container", n, "Stopping");
          ctx.c().request("POST", "/containers/" + q(st.id) + "/stop" + stop_query(p), "", {}, true);
          ctx.c().request("DELETE", "/containers/" + q(st.id));
          progress("Container", n, "Removed");
          break;
        }
      }
    }
    if (p.flag("no-start")) return;
    wait_dependencies(ctx, proj, service, ids);
    for (const auto& [id, name] : to_start) {
      progress("Container", name, "Starting");
      ctx.c().request("POST", "/containers/" + q(id) + "/start");
      progress("Container", name, "Started");
    }
  };
  // Level by level; the services of one level in parallel (the client is shared: one connection
  // per request).
  for (const auto& level : compose::start_levels(proj)) {
    std::vector<std::string> todo;
    for (const auto& s : level)
      if (services.count(s)) todo.push_back(s);
    in_parallel(todo, up_service);
  }
  if (p.flag("wait") && !p.flag("no-start")) wait_ready(ctx, ids, p.has("wait-timeout") ? std::stoi(p.get("wait-timeout")) : 0);
  if (detached || p.flag("no-start")) return 0;
  AttachOptions ao;
  if (p.args.empty() || p.flag("attach-dependencies")) ao.services = services;
  else ao.services = std::set<std::string>(wanted.begin(), wanted.end());
  ao.abort_on_exit = abort_on_exit;
  ao.exit_code_from = p.get("exit-code-from");
  ao.color = is_tty(1) && !p.flag("no-color") && !std::getenv("NO_COLOR");
  ao.no_prefix = p.flag("no-log-prefix");
  ao.timestamps = p.flag("timestamps");
  ao.stop_query = stop_query(p);
  ao.since = started;
  return attach_up(ctx, proj, ao);
}

int compose_down(Ctx& ctx, const compose::LoadOptions& lo, const std::vector<std::string>& argv) {
  ctx.path = "compose down";
  Parsed p = parse(ctx, kComposeDown, argv);
  if (p.has("rmi") && p.get("rmi") != "local" && p.get("rmi") != "all")
    throw ExitError{1, "invalid --rmi option \"" + p.get("rmi") + "\": expected \"local\" or \"all\""};
  // -p without -f: the project from its resources' labels, as Compose v2 (no file read).
  Project proj = lo.files.empty() && !lo.project_name.empty() ? project_from_daemon(ctx, lo.project_name) : load(lo);
  auto containers = project_containers(ctx, proj.name, true, true);  // one-off ones (run) too
  auto names = proj.service_names();
  auto remove = [&](const json& c) {
    std::string id = c["Id"], n = cname(c);
    if (c.value("State", "") == "running") {
      progress("Container", n, "Stopping");
      ctx.c().request("POST", "/containers/" + q(id) + "/stop" + stop_query(p), "", {}, true);
      progress("Container", n, "Stopped");
    }
    progress("Container", n, "Removing");
    ctx.c().request("DELETE", "/containers/" + q(id) + (p.flag("volumes") ? "?v=1" : ""));
    progress("Container", n, "Removed");
  };
  // A service's containers in parallel (their grace periods overlap), services in reverse order.
  for (const auto& service : compose::stop_order(proj)) {
    std::vector<json> mine;
    for (const auto& c : containers)
      if (label(c, compose::kLabelService) == service) mine.push_back(c);
    in_parallel(mine, remove);
  }
  std::vector<std::string> orphans;
  for (const auto& c : containers)
    if (std::find(names.begin(), names.end(), label(c, compose::kLabelService)) == names.end()) {
      if (p.flag("remove-orphans")) remove(c);
      else orphans.push_back(cname(c));
    }
  if (!orphans.empty())
    errp("WARNING: Found orphan containers ([" + join(orphans, " ") + "]) for this project. If you removed or renamed " +
         "this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.\n");
  const json& m = *proj.model;
  if (m.contains("networks"))
    for (const auto& [key, n] : m["networks"].items()) {
      if (compose::network_is_external(proj, key)) continue;
      std::string name = compose::network_name(proj, key);
      auto r = ctx.c().request("GET", "/networks/" + q(name), "", {}, true);
      if (r.status != 200) continue;
      json info = json::parse(r.body);
      if (!info.contains("Labels") || !info["Labels"].is_object() ||
          info["Labels"].value(compose::kLabelProject, "") != proj.name)
        continue;  // not made for this project
      progress("Network", name, "Removing");
      auto d = ctx.c().request("DELETE", "/networks/" + q(info.value("Id", name)), "", {}, true);
      if (d.status >= 400 && error_message(d.body).find("active endpoints") != std::string::npos) {
        progress("Network", name, "Resource is still in use");  // by an orphan, say: as Compose v2
        continue;
      }
      if (d.status >= 400) throw ExitError{1, "Error response from daemon: " + error_message(d.body)};
      progress("Network", name, "Removed");
    }
  if (p.has("rmi")) {
    std::set<std::string> images;
    for (const auto& s : names)
      if (p.get("rmi") == "all" || !compose::service_of(proj, s).contains("image"))
        images.insert(compose::service_image(proj, s));
    for (const auto& image : images) {
      auto r = ctx.c().request("DELETE", "/images/" + q(image), "", {}, true);
      if (r.status == 404) continue;
      if (r.status >= 400) {
        errp("Error response from daemon: " + error_message(r.body) + "\n");
        continue;
      }
      progress("Image", image, "Removed");
    }
  }
  if (p.flag("volumes") && m.contains("volumes"))
    for (const auto& [key, v] : m["volumes"].items()) {
      if (compose::volume_is_external(proj, key)) continue;
      std::string name = compose::volume_name(proj, key);
      auto r = ctx.c().request("DELETE", "/volumes/" + q(name), "", {}, true);
      if (r.status == 404) continue;
      if (r.status >= 400) throw ExitError{1, "Error response from daemon: " + error_message(r.body)};
      progress("Volume", name, "Removed");
    }
  return 0;
}

std::string quoted_command(const std::string& cmd, bool trunc) {
  std::string c = trunc ? ellipsis(cmd, 20) : cmd;
  return "\"" + c + "\"";
}

int compose_ps(Ctx& ctx, const compose::LoadOptions& lo, const std::vector<std::string>& argv) {
  ctx.path = "compose ps";
  Parsed p = parse(ctx, kComposePs, argv);
  Project proj = load(lo);
  auto wanted = selected(proj, p.args);
  if (p.flag("services")) {
    for (const auto& s : wanted) out(s + "\n");
    return 0;
  }
  std::vector<json> rows;
  auto statuses = p.all("status");
  for (const auto& c : project_containers(ctx, proj.name, p.flag("all") || !statuses.empty())) {
    std::string service = label(c, compose::kLabelService);
    if (!p.args.empty() && std::find(wanted.begin(), wanted.end(), service) == wanted.end()) continue;
    if (!statuses.empty() && std::find(statuses.begin(), statuses.end(), c.value("State", "")) == statuses.end())
      continue;
    double created = c.value("Created", 0.0);
    std::string state = c.value("State", "");
    std::string status = c.value("Status", "");
    std::string health;
    if (status.find("(healthy)") != std::string::npos) health = "healthy";
    else if (status.find("(unhealthy)") != std::string::npos) health = "unhealthy";
    else if (status.find("(health: starting)") != std::string::npos) health = "starting";
    int exit_code = 0;
    if (state == "exited") {
      auto lp = status.find('('), rp = status.find(')');
      if (lp != std::string::npos && rp != std::string::npos) exit_code = std::atoi(status.substr(lp + 1, rp - lp - 1).c_str());
    }
    json publishers = json::array();
    for (const auto& pt : c.value("Ports", json::array()))
      publishers.push_back({{"URL", pt.value("IP", "")},
                            {"TargetPort", pt.value("PrivatePort", 0)},
                            {"PublishedPort", pt.value("PublicPort", 0)},
                            {"Protocol", pt.value("Type", "")}});
    rows.push_back({{"ID", c["Id"]},
                    {"Name", cname(c)},
                    {"Names", cname(c)},
                    {"Image", c.value("Image", "")},
                    {"Command", quoted_command(c.value("Command", ""), !p.flag("no-trunc"))},
                    {"Project", proj.name},
                    {"Service", service},
                    {"Created", static_cast<long long>(created)},
                    {"RunningFor", human_duration(now_s() - created) + " ago"},
                    {"State", state},
                    {"Status", status},
                    {"Health", health},
                    {"ExitCode", exit_code},
                    {"Labels", c.value("Labels", json::object())},
                    {"Ports", ports_string(c.value("Ports", json::array()))},
                    {"Publishers", publishers}});
  }
  if (p.flag("quiet")) {
    for (const auto& r : rows) out(r["ID"].get<std::string>() + "\n");
    return 0;
  }
  std::string fmt = p.get("format", "table");
  if (fmt == "table")
    fmt = "table {{.Name}}\t{{.Image}}\t{{.Command}}\t{{.Service}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}";
  if (fmt == "json") {
    for (auto& r : rows) {
      json j = r;
      j["Command"] = j["Command"].get<std::string>().substr(1, j["Command"].get<std::string>().size() - 2);
      out(j.dump() + "\n");
    }
    return 0;
  }
  out(format_list(fmt, rows,
                  {{"Name", "NAME"}, {"Names", "NAMES"}, {"Image", "IMAGE"}, {"Command", "COMMAND"},
                   {"Service", "SERVICE"}, {"RunningFor", "CREATED"}, {"Status", "STATUS"}, {"Ports", "PORTS"},
                   {"ID", "CONTAINER ID"}, {"State", "STATE"}, {"Project", "PROJECT"}, {"Health", "HEALTH"},
                   {"ExitCode", "EXIT CODE"}}));
  return 0;
}

// Writes `data` line by line with `prefix` before each line; a partial last line waits in `pending`.
void prefixed(const std::string& prefix, std::string& pending, std::string_view data, FILE* to) {
  pending.append(data);
  std::size_t start = 0;
  std::lock_guard<std::mutex> l(g_out);
  for (std::size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
    std::string line = prefix + pending.substr(start, nl + 1 - start);
    fwrite(line.data(), 1, line.size(), to);
  }
  fflush(to);
  pending.erase(0, start);
}

// Compose v2's log prefix colours, in turn per container.
const char* const kColors[] = {"36", "33", "32", "35", "34", "96", "93", "92", "95", "94"};

std::string log_prefix(const std::string& shown, std::size_t width, std::size_t index, bool color) {
  std::string pre = shown + std::string(width > shown.size() ? width - shown.size() : 0, ' ') + "  | ";
  if (!color) return pre;
  return std::string("\033[") + kColors[index % (sizeof kColors / sizeof *kColors)] + "m" + pre + "\033[0m";
}

// A container's logs (GET /containers/ID/logs?`query`), each line after `prefix`, to stdout and
// stderr as the container wrote them.
void stream_logs(Ctx& ctx, const std::string& id, const std::string& prefix, const std::string& query) {
  auto info = json::parse(ctx.c().request("GET", "/containers/" + q(id) + "/json").body);
  bool tty = info["Config"].value("Tty", false);
  std::string pend_out, pend_err;
  Demuxer dm([&](int stream, std::string_view d) {
    if (stream == 2) prefixed(prefix, pend_err, d, stderr);
    else prefixed(prefix, pend_out, d, stdout);
  });
  ctx.c().stream("GET", "/containers/" + q(id) + "/logs?" + query, "", [&](std::string_view d) {
    if (tty) prefixed(prefix, pend_out, d, stdout);
    else dm.feed(d);
    return true;
  });
  if (!pend_out.empty()) prefixed(prefix, pend_out, "\n", stdout);
  if (!pend_err.empty()) prefixed(prefix, pend_err, "\n", stderr);
}

int compose_logs(Ctx& ctx, const compose::LoadOptions& lo, const std::vector<std::string>& argv) {
  ctx.path = "compose logs";
  Parsed p = parse(ctx, kComposeLogs, argv);
  Project proj = load(lo);
  auto wanted = selected(proj, p.args);
  std::vector<json> cs;
  for (const auto& c : project_containers(ctx, proj.name, true))
    if (std::find(wanted.begin(), wanted.end(), label(c, compose::kLabelService)) != wanted.end()) cs.push_back(c);
  // Compose v2's prefix: the container's name without "<project>-" (web-1), padded to the longest.
  auto shown = [&](const json& c) {
    std::string n = cname(c), pre = proj.name + "-";
    return n.rfind(pre, 0) == 0 ? n.substr(pre.size()) : n;
  };
  std::size_t width = 0;
  for (const auto& c : cs) width = std::max(width, shown(c).size());
  bool no_prefix = p.flag("no-log-prefix");
  bool color = is_tty(1) && !p.flag("no-color") && !std::getenv("NO_COLOR");
  std::vector<std::string> ids;
  for (const auto& c : cs) ids.push_back(c["Id"]);
  std::map<std::string, json> by_id;
  for (const auto& c : cs) by_id[c["Id"]] = c;
  ctx.c();
  std::vector<std::thread> threads;
  std::vector<std::exception_ptr> errors(cs.size());
  for (std::size_t i = 0; i < cs.size(); ++i)
    threads.emplace_back([&, i] {
      try {
        const json& c = cs[i];
        std::string id = c["Id"];
        std::string n = shown(c);
        std::string prefix = no_prefix ? "" : log_prefix(n, width, i, color);
        std::string query = "stdout=1&stderr=1";
        if (p.flag("follow")) query += "&follow=1";
        if (p.flag("timestamps")) query += "&timestamps=1";
        if (p.has("tail")) query += "&tail=" + q(p.get("tail"));
        stream_logs(ctx, id, prefix, query);
      } catch (...) {
        errors[i] = std::current_exception();
      }
    });
  for (auto& t : threads) t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
  return 0;
}

std::atomic<int> g_interrupts{0};
extern "C" void on_interrupt(int) { g_interrupts.fetch_add(1); }

void say(const std::string& line) {
  std::lock_guard<std::mutex> l(g_out);
  out(line);
  fflush(stdout);
}

// Attached `up`: each container's output, prefixed, as it comes (containers started later or
// again followed too), "<name> exited with code N" when one stops; returns when all stopped.
// SIGINT/SIGTERM stop the project gracefully (a second one kills it); --abort-on-container-exit
// stops it when one container exits.
int attach_up(Ctx& ctx, const Project& proj, const AttachOptions& o) {
  struct sigaction sa {};
  sa.sa_handler = on_interrupt;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  auto shown = [&](const json& c) {
    std::string n = cname(c), pre = proj.name + "-";
    return n.rfind(pre, 0) == 0 ? n.substr(pre.size()) : n;
  };
  auto mine = [&] {
    std::vector<json> v;
    for (auto& c : project_containers(ctx, proj.name, true))
      if (o.services.count(label(c, compose::kLabelService))) v.push_back(c);
    return v;
  };
  struct Follow {
    std::string shown, service;
    std::size_t index = 0;
    std::thread t;
    std::atomic<bool> done{true};
    double ended = 0;       // when the last stream ended (the next one starts there)
    bool reported = false;  // "exited with code" printed for the current stop
    bool streamed = false;  // a stream was started (a stopped container's output is read once)
  };
  std::map<std::string, std::unique_ptr<Follow>> follows;  // by id
  std::size_t width = 0;
  auto initial = mine();
  std::vector<std::string> names;
  for (const auto& c : initial) {
    names.push_back(shown(c));
    width = std::max(width, shown(c).size());
  }
  say("Attaching to " + join(names, ", ") + "\n");
  bool abort = false;
  int exit_code = 0;
  std::string first_exited;
  for (;;) {
    if (g_interrupts.load() > 0) break;
    bool any_live = false;
    for (const auto& c : mine()) {
      std::string id = c["Id"], state = c.value("State", "");
      auto& f = follows[id];
      if (!f) {
        f = std::make_unique<Follow>();
        f->shown = shown(c);
        f->service = label(c, compose::kLabelService);
        f->index = follows.size() - 1;
        f->ended = o.since;
        width = std::max(width, f->shown.size());
      }
      bool live = state == "running" || state == "restarting";
      if (f->done.load() && f->t.joinable()) {
        f->t.join();
        f->ended = now_s();
      }
      if (f->done.load() && (live || !f->streamed)) {  // (again) running: from where the last stream ended
        f->reported = false;
        f->streamed = true;
        f->done = false;
        char since[32];
        std::snprintf(since, sizeof since, "%.9f", f->ended);
        std::string query = std::string("stdout=1&stderr=1&follow=1&since=") + since;
        if (o.timestamps) query += "&timestamps=1";
        std::string prefix = o.no_prefix ? "" : log_prefix(f->shown, width, f->index, o.color);
        Follow* fp = f.get();
        fp->t = std::thread([&ctx, fp, id, prefix, query] {
          try {
            stream_logs(ctx, id, prefix, query);
          } catch (const std::exception&) {
            // the container went away: what the next listing says decides
          }
          fp->done = true;
        });
      }
      if (live || !f->done.load()) {
        any_live = true;
        continue;
      }
      if (!f->reported && (state == "exited" || state == "dead")) {
        f->reported = true;
        json info = json::parse(ctx.c().request("GET", "/containers/" + q(id) + "/json").body);
        int code = info["State"].value("ExitCode", 0);
        if (info["State"].value("StartedAt", "").rfind("0001-", 0) == 0) continue;  // never started
        say(f->shown + " exited with code " + std::to_string(code) + "\n");
        if (first_exited.empty()) {
          first_exited = f->service;
          if (o.abort_on_exit && (o.exit_code_from.empty() || o.exit_code_from == f->service)) exit_code = code;
        }
        if (o.abort_on_exit) abort = true;
      }
    }
    if (abort || !any_live) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  bool interrupted = g_interrupts.load() > 0;
  if (abort || interrupted) {
    say(interrupted ? "Gracefully stopping... (press Ctrl+C again to force)\n" : "Aborting on container exit...\n");
    std::atomic<bool> stopped{false};
    std::exception_ptr err;
    std::thread stopper([&] {
      try {
        auto all = mine();
        for (const auto& service : compose::stop_order(proj)) {
          std::vector<json> todo;
          for (const auto& c : all)
            if (label(c, compose::kLabelService) == service && c.value("State", "") == "running") todo.push_back(c);
          in_parallel(todo, [&](const json& c) {
            progress("Container", cname(c), "Stopping");
            ctx.c().request("POST", "/containers/" + q(c["Id"].get<std::string>()) + "/stop" + o.stop_query, "", {}, true);
            progress("Container", cname(c), "Stopped");
          });
        }
      } catch (...) {
        err = std::current_exception();
      }
      stopped = true;
    });
    const int force_at = interrupted ? 2 : 1;  // the Ctrl-C after the one that stops
    bool killed = false;
    while (!stopped.load()) {
      if (!killed && g_interrupts.load() >= force_at) {
        killed = true;  // a second Ctrl-C: kill what is still running
        for (const auto& c : mine())
          if (c.value("State", "") == "running") {
            progress("Container", cname(c), "Killing");
            ctx.c().request("POST", "/containers/" + q(c["Id"].get<std::string>()) + "/kill", "", {}, true);
            progress("Container", cname(c), "Killed");
          }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    stopper.join();
    if (err) std::rethrow_exception(err);
  }
  for (auto& [id, f] : follows)
    if (f->t.joinable()) f->t.join();
  if (interrupted) return 130;
  if (!o.exit_code_from.empty()) {
    for (const auto& c : mine())
      if (label(c, compose::kLabelService) == o.exit_code_from) {
        json info = json::parse(ctx.c().request("GET", "/containers/" + q(c["Id"].get<std::string>()) + "/json").body);
        return info["State"].value("ExitCode", 0);
      }
  }
  return exit_code;
}

int compose_create(Ctx& ctx, const compose::LoadOptions& lo, const std::vector<std::string>& argv) {
  ctx.path = "compose create";
  Parsed p = parse(ctx, kComposeCreate, argv);
  std::vector<std::string> up = {"--no-start"};
  for (const char* f : {"build", "force-recreate", "no-build", "no-recreate", "remove-orphans"})
    if (p.flag(f)) up.push_back(std::string("--") + f);
  for (const auto& s : p.all("scale")) up.insert(up.end(), {"--scale", s});
  up.insert(up.end(), p.args.begin(), p.args.end());
  return compose_up(ctx, lo, up);
}

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
  complete_create_plan(ctx, proj, service, 1, plan);
  auto r = ctx.c().request("POST", "/containers/create?name=" + q(plan.name), plan.body);
  std::string id = json::parse(r.body).value("Id", "");
  for (const auto& a : plan.connect_after)
    ctx.c().request("POST", "/networks/" + q(a.network) + "/connect",
                    json{{"Container", id}, {"EndpointConfig", json::parse(a.endpoint)}}.dump());
  inject_files(ctx, proj, service, id);
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

// The services the command names (with what they depend on for --include-deps), else all.
std::vector<std::string> selected_with_deps(const Project& proj, const std::vector<std::string>& args, bool deps) {
  auto wanted = selected(proj, args);
  if (!deps) return wanted;
  auto all = with_dependencies(proj, wanted);
  return std::vector<std::string>(all.begin(), all.end());
}

int compose_pull(Ctx& ctx, const compose::LoadOptions& lo, const std::vector<std::string>& argv) {
  ctx.path = "compose pull";
  Parsed p = parse(ctx, kComposePull, argv);
  Project proj = load(lo);
  int rc = 0;
  std::set<std::string> done;
  for (const auto& s : selected_with_deps(proj, p.args, p.flag("include-deps"))) {
    const json& svc = compose::service_of(proj, s);
    if (!svc.contains("image")) continue;  // built, never pulled
    if (compose::has_build(proj, s) && p.flag("ignore-buildable")) continue;
    std::string image = svc["image"];
    if (!done.insert(image).second) continue;
    if (!p.flag("quiet")) progress("Image", image, "Pulling");
    try {
      show_pull(image, ctx, true, "", true);
      if (!p.flag("quiet")) progress("Image", image, "Pulled");
    } catch (const std::exception& e) {
      // A service that can be built may be missing from registries: as Compose, only a warning.
      if (!p.flag("ignore-pull-failures") && !compose::has_build(proj, s)) throw;
      errp("WARNING: pulling " + image + " for service " + s + " failed: " + daemon_err(e) + "\n");
    }
  }
  return rc;
}

int compose_push(Ctx& ctx, const compose::LoadOptions& lo, const std::vector<std::string>& argv) {
  ctx.path = "compose push";
  Parsed p = parse(ctx, kComposePush, argv);
  Project proj = load(lo);
  return push_service_images(ctx, proj, selected_with_deps(proj, p.args, p.flag("include-deps")), p.flag("quiet"),
                             p.flag("ignore-push-failures"));
}

// The project's containers of the selected services, in start order.
std::vector<json> selected_containers(Ctx& ctx, const Project& proj, const std::vector<std::string>& args, bool all) {
  auto wanted = selected(proj, args);
  std::vector<json> v;
  auto cs = project_containers(ctx, proj.name, all);
  for (const auto& s : proj.start_order()) {
    if (std::find(wanted.begin(), wanted.end(), s) == wanted.end()) continue;
    for (const auto& c : cs)
      if (label(c, compose::kLabelService) == s) v.push_back(c);
  }
  return v;
}

int compose_pause(Ctx& ctx, const compose::LoadOptions& lo, const std::string& sub, const std::vector<std::string>& argv) {
  ctx.path = "compose " + sub;
  Parsed p = parse(ctx, sub == "pause" ? kComposePause : kComposeUnpause, argv);
  Project proj = load(lo);
  auto cs = selected_containers(ctx, proj, p.args, false);
  in_parallel(cs, [&](const json& c) {
    std::string state = c.value("State", "");
    if ((sub == "pause") == (state == "paused")) return;
    progress("Container", cname(c), sub == "pause" ? "Pausing" : "Unpausing");
    ctx.c().request("POST", "/containers/" + q(c["Id"].get<std::string>()) + "/" + sub);
    progress("Container", cname(c), sub == "pause" ? "Paused" : "Unpaused");
  });
  return 0;
}

int compose_top(Ctx& ctx, const compose::LoadOptions& lo, const std::vector<std::string>& argv) {
  ctx.path = "compose top";
  Parsed p = parse(ctx, kComposeTop, argv);
  Project proj = load(lo);
  auto cs = selected_containers(ctx, proj, p.args, false);
  std::sort(cs.begin(), cs.end(), [](const json& a, const json& b) { return cname(a) < cname(b); });
  for (const auto& c : cs) {
    auto j = json::parse(ctx.c().request("GET", "/containers/" + q(c["Id"].get<std::string>()) + "/top").body);
    out(cname(c) + "\n" + top_table(j) + "\n");
  }
  return 0;
}

int compose_images(Ctx& ctx, const compose::LoadOptions& lo, const std::vector<std::string>& argv) {
  ctx.path = "compose images";
  Parsed p = parse(ctx, kComposeImages, argv);
  Project proj = load(lo);
  std::vector<json> rows;
  std::map<std::string, json> images;
  auto cs = selected_containers(ctx, proj, p.args, true);
  std::sort(cs.begin(), cs.end(), [](const json& a, const json& b) { return cname(a) < cname(b); });
  for (const auto& c : cs) {
    std::string image_id = c.value("ImageID", "");
    if (!images.count(image_id))
      images[image_id] = json::parse(ctx.c().request("GET", "/images/" + q(image_id) + "/json").body);
    const json& img = images[image_id];
    // The tag the container was made from, else the image's first.
    std::string ref = c.value("Image", "");
    std::string repo, tag;
    auto tags = img.value("RepoTags", json::array());
    std::string chosen;
    for (const auto& t : tags)
      if (t.get<std::string>() == ref || t.get<std::string>() == ref + ":latest") chosen = t;
    if (chosen.empty() && !tags.empty()) chosen = tags[0];
    auto colon = chosen.rfind(':');
    if (colon != std::string::npos && chosen.find('/', colon) == std::string::npos)
      repo = chosen.substr(0, colon), tag = chosen.substr(colon + 1);
    else repo = chosen;
    std::string id = img.value("Id", "");
    rows.push_back({{"ContainerName", cname(c)},
                    {"Repository", repo.empty() ? "<none>" : repo},
                    {"Tag", tag.empty() ? "<none>" : tag},
                    {"ID", id},
                    {"Size", img.value("Size", 0LL)}});
  }
  if (p.flag("quiet")) {
    std::set<std::string> seen;
    for (const auto& r : rows)
      if (seen.insert(r["ID"]).second) out(r["ID"].get<std::string>() + "\n");
    return 0;
  }
  std::string fmt = p.get("format", "table");
  if (fmt == "json") {
    out(json(rows).dump() + "\n");
    return 0;
  }
  if (fmt != "table") throw ExitError{1, "unsupported format \"" + fmt + "\": expected table or json"};
  std::vector<std::string> lines = {"CONTAINER\tREPOSITORY\tTAG\tIMAGE ID\tSIZE"};
  for (const auto& r : rows) {
    std::string id = r["ID"];
    if (id.rfind("sha256:", 0) == 0) id = id.substr(7);
    lines.push_back(r["ContainerName"].get<std::string>() + "\t" + r["Repository"].get<std::string>() + "\t" +
                    r["Tag"].get<std::string>() + "\t" + id.substr(0, 12) + "\t" +
                    human_size(static_cast<double>(r["Size"].get<long long>()), 3));
  }
  out(tabwrite(lines));
  return 0;
}

int compose_port(Ctx& ctx, const compose::LoadOptions& lo, const std::vector<std::string>& argv) {
  ctx.path = "compose port";
  Parsed p = parse(ctx, kComposePort, argv);
  Project proj = load(lo);
  std::string service = p.args[0];
  selected(proj, {service});
  int index = 0;
  try {
    index = std::stoi(p.get("index", "0"));
  } catch (...) {
    throw ExitError{1, "invalid --index \"" + p.get("index") + "\""};
  }
  std::string proto = p.get("protocol", "tcp");
  std::string port = p.args[1];
  std::string id;
  for (const auto& c : project_containers(ctx, proj.name, false))
    if (label(c, compose::kLabelService) == service &&
        (index == 0 ? id.empty() : label(c, compose::kLabelNumber) == std::to_string(index)))
      id = c["Id"];
  if (id.empty()) throw ExitError{1, "service \"" + service + "\" is not running"};
  json info = json::parse(ctx.c().request("GET", "/containers/" + q(id) + "/json").body);
  const json& ports = info["NetworkSettings"].value("Ports", json::object());
  std::string key = port + "/" + proto;
  if (!ports.is_object() || !ports.contains(key) || !ports[key].is_array() || ports[key].empty())
    throw ExitError{1, "no port " + key + " for container " + info["Name"].get<std::string>().substr(1)};
  const json& b = ports[key][0];
  out(b.value("HostIp", "") + ":" + b.value("HostPort", "") + "\n");
  return 0;
}

int compose_ls(Ctx& ctx, const std::vector<std::string>& argv) {
  ctx.path = "compose ls";
  Parsed p = parse(ctx, kComposeLs, argv);
  std::string name_filter;
  for (const auto& f : p.all("filter")) {
    if (f.rfind("name=", 0) != 0) throw ExitError{1, "invalid filter \"" + f + "\": only name= is supported"};
    name_filter = f.substr(5);
  }
  auto r = ctx.c().request("GET", std::string("/containers/json?all=1&filters=") +
                                      label_filter({std::string(compose::kLabelProject)}));
  struct Proj {
    std::map<std::string, int> states;
    std::set<std::string> files;
  };
  std::map<std::string, Proj> projects;
  for (auto& c : json::parse(r.body)) {
    std::string name = label(c, compose::kLabelProject);
    if (name.empty()) continue;
    if (!name_filter.empty() && name.find(name_filter) == std::string::npos) continue;
    auto& pr = projects[name];
    pr.states[c.value("State", "")]++;
    std::string files = label(c, compose::kLabelConfigFiles);
    if (!files.empty()) pr.files.insert(files);
  }
  std::vector<json> rows;
  for (const auto& [name, pr] : projects) {
    if (!p.flag("all") && !pr.states.count("running")) continue;
    std::vector<std::string> st, files(pr.files.begin(), pr.files.end());
    for (const auto& [k, n] : pr.states) st.push_back(k + "(" + std::to_string(n) + ")");
    rows.push_back({{"Name", name}, {"Status", join(st, ", ")}, {"ConfigFiles", join(files, ",")}});
  }
  if (p.flag("quiet")) {
    for (const auto& row : rows) out(row["Name"].get<std::string>() + "\n");
    return 0;
  }
  std::string fmt = p.get("format", "table");
  if (fmt == "json") {
    out(json(rows).dump() + "\n");
    return 0;
  }
  if (fmt != "table") throw ExitError{1, "unsupported format \"" + fmt + "\": expected table or json"};
  std::vector<std::string> lines = {"NAME\tSTATUS\tCONFIG FILES"};
  for (const auto& row : rows)
    lines.push_back(row["Name"].get<std::string>() + "\t" + row["Status"].get<std::string>() + "\t" +
                    row["ConfigFiles"].get<std::string>());
  out(tabwrite(lines));
  return 0;
}

// stop/start/restart/kill/rm: each selected service's containers, in (reverse) dependency order.
int compose_each(Ctx& ctx, const compose::LoadOptions& lo, const std::string& sub, const std::vector<std::string>& argv) {
  const Command& cmd = sub == "stop"      ? kComposeStop
                       : sub == "start"   ? kComposeStart
                       : sub == "restart" ? kComposeRestart
                       : sub == "kill"    ? kComposeKill
                                          : kComposeRm;
  ctx.path = "compose " + sub;
  Parsed p = parse(ctx, cmd, argv);
  Project proj = load(lo);
  auto wanted = selected(proj, p.args);
  bool reverse = sub == "stop" || sub == "kill" || sub == "rm";
  auto order = reverse ? compose::stop_order(proj) : proj.start_order();
  auto containers = project_containers(ctx, proj.name, true);
  std::vector<json> todo;
  for (const auto& s : order) {
    if (std::find(wanted.begin(), wanted.end(), s) == wanted.end()) continue;
    for (const auto& c : containers)
      if (label(c, compose::kLabelService) == s) todo.push_back(c);
  }
  if (sub == "rm") {
    std::vector<json> gone;
    for (const auto& c : todo)
      if (c.value("State", "") != "running" || p.flag("stop")) gone.push_back(c);
    if (gone.empty()) {
      errp("No stopped containers\n");
      return 0;
    }
    if (!p.flag("force")) {
      std::string names;
      for (const auto& c : gone) names += (names.empty() ? "" : ", ") + cname(c);
      if (!confirm("Going to remove " + names + "\nAre you sure?")) return 0;
    }
    for (const auto& c : gone) {
      std::string id = c["Id"];
      if (c.value("State", "") == "running") {
        ctx.c().request("POST", "/containers/" + q(id) + "/stop", "", {}, true);
        progress("Container", cname(c), "Stopped");
      }
      ctx.c().request("DELETE", "/containers/" + q(id) + (p.flag("volumes") ? "?v=1" : ""));
      progress("Container", cname(c), "Removed");
    }
    return 0;
  }
  if (sub == "stop") {  // a service's containers in parallel, services in reverse dependency order
    for (const auto& s : order) {
      std::vector<json> mine;
      for (const auto& c : todo)
        if (label(c, compose::kLabelService) == s && c.value("State", "") == "running") mine.push_back(c);
      in_parallel(mine, [&](const json& c) {
        progress("Container", cname(c), "Stopping");
        ctx.c().request("POST", "/containers/" + q(c["Id"].get<std::string>()) + "/stop" + stop_query(p));
        progress("Container", cname(c), "Stopped");
      });
    }
    return 0;
  }
  for (const auto& c : todo) {
    std::string id = c["Id"], n = cname(c), state = c.value("State", "");
    if (sub == "stop") {
      if (state != "running") continue;
      progress("Container", n, "Stopping");
      ctx.c().request("POST", "/containers/" + q(id) + "/stop" + stop_query(p));
      progress("Container", n, "Stopped");
    } else if (sub == "start") {
      if (state == "running") continue;
      progress("Container", n, "Starting");
      ctx.c().request("POST", "/containers/" + q(id) + "/start");
      progress("Container", n, "Started");
    } else if (sub == "restart") {
      progress("Container", n, "Restarting");
      ctx.c().request("POST", "/containers/" + q(id) + "/restart" + stop_query(p));
      progress("Container", n, "Started");
    } else if (sub == "kill") {
      if (state != "running") continue;
      progress("Container", n, "Killing");
      ctx.c().request("POST", "/containers/" + q(id) + "/kill?signal=" + q(p.get("signal", "SIGKILL")));
      progress("Container", n, "Killed");
    }
  }
  return 0;
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

}  // namespace

const std::vector<std::pair<std::string, std::string>>& compose_orchestration_commands() {
  static const std::vector<std::pair<std::string, std::string>> v = {
      {"build", kComposeBuild.summary}, {"create", kComposeCreate.summary}, {"run", kComposeRun.summary},
      {"pull", kComposePull.summary}, {"push", kComposePush.summary}, {"pause", kComposePause.summary},
      {"unpause", kComposeUnpause.summary}, {"top", kComposeTop.summary}, {"images", kComposeImages.summary},
      {"port", kComposePort.summary}, {"ls", kComposeLs.summary}, {"version", kComposeVersion.summary},
      {"down", kComposeDown.summary},  {"exec", kComposeExec.summary},     {"kill", kComposeKill.summary},
      {"logs", kComposeLogs.summary},  {"ps", kComposePs.summary},         {"restart", kComposeRestart.summary},
      {"rm", kComposeRm.summary},      {"start", kComposeStart.summary},   {"stop", kComposeStop.summary},
      {"up", kComposeUp.summary}};
  return v;
}

int compose_version(Ctx& ctx, const std::vector<std::string>& argv) {
  ctx.path = "compose version";
  Parsed p = parse(ctx, kComposeVersion, argv);
  std::string v = std::string("v") + compose::kComposeVersion;
  if (p.flag("short")) out(std::string(compose::kComposeVersion) + "\n");
  else if (p.get("format", "pretty") == "json") out(json{{"version", v}}.dump() + "\n");
  else if (p.get("format", "pretty") == "pretty") out("Docker Compose version " + v + " (hoist)\n");
  else throw ExitError{1, "format value \"" + p.get("format") + "\" could not be parsed: expected pretty or json"};
  return 0;
}

int compose_orchestrate(Ctx& ctx, const compose::LoadOptions& lo, const std::string& sub,
                        const std::vector<std::string>& argv) {
  if (sub == "up") return compose_up(ctx, lo, argv);
  if (sub == "build") return compose_build(ctx, lo, argv);
  if (sub == "run") return compose_run(ctx, lo, argv);
  if (sub == "pull") return compose_pull(ctx, lo, argv);
  if (sub == "push") return compose_push(ctx, lo, argv);
  if (sub == "pause" || sub == "unpause") return compose_pause(ctx, lo, sub, argv);
  if (sub == "top") return compose_top(ctx, lo, argv);
  if (sub == "images") return compose_images(ctx, lo, argv);
  if (sub == "port") return compose_port(ctx, lo, argv);
  if (sub == "ls") return compose_ls(ctx, argv);
  if (sub == "version") return compose_version(ctx, argv);
  if (sub == "create") return compose_create(ctx, lo, argv);
  if (sub == "down") return compose_down(ctx, lo, argv);
  if (sub == "ps") return compose_ps(ctx, lo, argv);
  if (sub == "logs") return compose_logs(ctx, lo, argv);
  if (sub == "exec") return compose_exec(ctx, lo, argv);
  if (sub == "stop" || sub == "start" || sub == "restart" || sub == "kill" || sub == "rm")
    return compose_each(ctx, lo, sub, argv);
  return -1;
}

}  // namespace hoist::cli
