// `hoist compose up/create/down/start/stop/restart/kill/rm/pause/unpause`: the containers of the
// project made, started, stopped and removed in dependency order, with Compose v2's progress lines
// (" Container p-s-1  Started") on stderr; attached `up` follows the containers' output.
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
     {"timestamps", 0, "", "Show timestamps"},
     {"watch", 'w', "", "Watch source code and rebuild/refresh containers when files are updated."},
     {"yes", 'y', "", "Assume \"yes\" as answer to all prompts and run non-interactively"}},
    true,
    0,
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
     {"scale", 0, "stringArray", "Scale SERVICE to NUM instances. Overrides the `scale` setting in the Compose file if present."},
     {"yes", 'y', "", "Assume \"yes\" as answer to all prompts and run non-interactively"}},
    true,
    0,
    -1};


const Command kComposePause = {"[SERVICE...]", "Pause services", "", {}, {}, true, 0, -1};
const Command kComposeUnpause = {"[SERVICE...]", "Unpause services", "", {}, {}, true, 0, -1};

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
  if (p.flag("watch")) check_watch(proj, std::vector<std::string>(services.begin(), services.end()));
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
  // A volume made anew took its containers with it.
  if (ensure_volumes(ctx, proj, p.flag("yes"))) existing_all = project_containers(ctx, proj.name, true);

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
  if (p.flag("no-start")) return 0;
  std::vector<std::string> watched(services.begin(), services.end());
  if (detached && p.flag("watch")) {  // the watch in the foreground, without the containers' output
    static std::atomic<bool> interrupted{false};
    struct sigaction sa {};
    sa.sa_handler = [](int) { interrupted = true; };
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigaction(SIGTERM, &sa, nullptr);
    return watch_project(ctx, lo, proj, watched, {}, [] { return interrupted.load(); });
  }
  if (detached) return 0;
  // --watch: the watch in a thread of its own (its own client) while the output is followed.
  std::atomic<bool> stop_watch{false};
  std::thread watcher;
  if (p.flag("watch"))
    watcher = std::thread([&] {
      Ctx wctx{ctx.host, ctx.config_dir, "compose up", nullptr};
      try {
        watch_project(wctx, lo, proj, watched, {}, [&] { return stop_watch.load(); });
      } catch (const ExitError& e) {
        errp(e.msg + "\n");
      } catch (const std::exception& e) {
        errp(daemon_err(e) + "\n");
      }
    });
  struct JoinWatch {
    std::atomic<bool>& stop;
    std::thread& t;
    ~JoinWatch() {
      stop = true;
      if (t.joinable()) t.join();
    }
  } join_watch{stop_watch, watcher};
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
  ao.until_interrupted = p.flag("watch");
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

namespace {

std::atomic<int> g_interrupts{0};
extern "C" void on_interrupt(int) { g_interrupts.fetch_add(1); }

void say(const std::string& line) {
  std::lock_guard<std::mutex> l(g_out);
  out(line);
  fflush(stdout);
}

}  // namespace

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
    std::string started_at;  // the container's StartedAt when the last stream started
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
        f->done = false;
        char since[32];
        std::snprintf(since, sizeof since, "%.9f", f->ended);
        {
          // A new run (another StartedAt than the last stream's): its output from the last stop
          // (FinishedAt) on, whenever the last stream ended (the loop may see the stop only after
          // the new start; the first output may be logged before StartedAt is set).
          json info = json::parse(ctx.c().request("GET", "/containers/" + q(id) + "/json").body);
          std::string at = info["State"].value("StartedAt", "");
          std::string stop = info["State"].value("FinishedAt", "");
          struct tm tm {};
          if (f->streamed && at != f->started_at && stop.size() >= 19 &&
              ::strptime(stop.substr(0, 19).c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) {
            std::string frac =
                stop.size() > 20 && stop[19] == '.' ? stop.substr(20, stop.find_first_not_of("0123456789", 20) - 20) : "";
            frac = (frac + "000000000").substr(0, 9);
            std::snprintf(since, sizeof since, "%lld.%s", static_cast<long long>(::timegm(&tm)), frac.c_str());
          }
          f->started_at = at;
        }
        f->streamed = true;
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
    if (abort || (!any_live && !o.until_interrupted)) break;
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
  for (const char* f : {"build", "force-recreate", "no-build", "no-recreate", "remove-orphans", "yes"})
    if (p.flag(f)) up.push_back(std::string("--") + f);
  for (const auto& s : p.all("scale")) up.insert(up.end(), {"--scale", s});
  up.insert(up.end(), p.args.begin(), p.args.end());
  return compose_up(ctx, lo, up);
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

}  // namespace hoist::cli::composecmd
