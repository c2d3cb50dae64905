// The helpers the `hoist compose` commands share (the project's containers, the progress lines,
// images, networks and volumes made when missing, the dependency waits, the log streams), and the
// dispatch of `hoist compose SUB` to the command files: compose_lifecycle.cpp (up, create, down,
// start, stop, restart, kill, rm, pause, unpause), compose_run.cpp (run, exec), compose_info.cpp
// (ps, logs, top, images, port, ls, version), compose_build.cpp (build, pull, push), compose_io.cpp
// (attach, cp, events, stats, wait, scale), compose_watch.cpp (watch). The commands
// are clients of the Docker Engine API (they work against hoistd and dockerd alike); what to send
// comes from cli/compose/orchestrate.h.
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

// The project's containers (one-off ones left out unless `oneoff`), sorted by name.
std::vector<json> project_containers(Ctx& ctx, const std::string& project, bool all, bool oneoff) {
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

bool ensure_volumes(Ctx& ctx, const Project& proj, bool assume_yes) {
  const json& m = *proj.model;
  bool removed = false;
  if (!m.contains("volumes")) return removed;
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
      if (!remove_diverged_volume(ctx, proj, key, info, assume_yes)) continue;
      removed = true;
    }
    json body = compose::volume_create_body(proj, key);
    progress("Volume", name, "Creating");
    ctx.c().request("POST", "/volumes/create", body.dump());
    progress("Volume", name, "Created");
  }
  return removed;
}

// `old_volumes`: the anonymous volumes a recreated container hands on (target, name).
std::string create_container(Ctx& ctx, const Project& proj, const std::string& service, int number,
                             const std::string& image_id,
                             const std::vector<std::pair<std::string, std::string>>& old_volumes) {
  auto plan = compose::container_create_plan(proj, service, number, image_id);
  if (!old_volumes.empty()) compose::inherit_anonymous_volumes(plan, old_volumes);
  progress("Container", plan.name, "Creating");
  std::string id = create_planned(ctx, proj, service, number, plan);
  progress("Container", plan.name, "Created");
  return id;
}

std::string create_planned(Ctx& ctx, const Project& proj, const std::string& service, int number,
                           compose::CreatePlan& plan) {
  complete_create_plan(ctx, proj, service, number, plan);
  // Bind sources Compose creates when missing (create_host_path) are made by the daemon from Binds.
  auto r = ctx.c().request("POST", "/containers/create?name=" + q(plan.name), plan.body);
  std::string id = json::parse(r.body).value("Id", "");
  for (const auto& a : plan.connect_after)
    ctx.c().request("POST", "/networks/" + q(a.network) + "/connect",
                    json{{"Container", id}, {"EndpointConfig", json::parse(a.endpoint)}}.dump());
  inject_files(ctx, proj, service, id);
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
namespace {
const char* const kColors[] = {"36", "33", "32", "35", "34", "96", "93", "92", "95", "94"};
}  // namespace

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

// The services the command names (with what they depend on for --include-deps), else all.
std::vector<std::string> selected_with_deps(const Project& proj, const std::vector<std::string>& args, bool deps) {
  auto wanted = selected(proj, args);
  if (!deps) return wanted;
  auto all = with_dependencies(proj, wanted);
  return std::vector<std::string>(all.begin(), all.end());
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

}  // namespace hoist::cli::composecmd

namespace hoist::cli {

using namespace composecmd;

const std::vector<std::pair<std::string, std::string>>& compose_orchestration_commands() {
  static const std::vector<std::pair<std::string, std::string>> v = {
      {"build", kComposeBuild.summary}, {"create", kComposeCreate.summary}, {"run", kComposeRun.summary},
      {"pull", kComposePull.summary}, {"push", kComposePush.summary}, {"pause", kComposePause.summary},
      {"unpause", kComposeUnpause.summary}, {"top", kComposeTop.summary}, {"images", kComposeImages.summary},
      {"port", kComposePort.summary}, {"ls", kComposeLs.summary}, {"version", kComposeVersion.summary},
      {"down", kComposeDown.summary},  {"exec", kComposeExec.summary},     {"kill", kComposeKill.summary},
      {"logs", kComposeLogs.summary},  {"ps", kComposePs.summary},         {"restart", kComposeRestart.summary},
      {"rm", kComposeRm.summary},      {"start", kComposeStart.summary},   {"stop", kComposeStop.summary},
      {"up", kComposeUp.summary},      {"attach", kComposeAttach.summary}, {"cp", kComposeCp.summary},
      {"events", kComposeEvents.summary}, {"stats", kComposeStats.summary}, {"wait", kComposeWait.summary},
      {"scale", kComposeScale.summary}, {"watch", kComposeWatch.summary}};
  return v;
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
  if (sub == "attach") return compose_attach(ctx, lo, argv);
  if (sub == "cp") return compose_cp(ctx, lo, argv);
  if (sub == "events") return compose_events(ctx, lo, argv);
  if (sub == "stats") return compose_stats(ctx, lo, argv);
  if (sub == "wait") return compose_wait(ctx, lo, argv);
  if (sub == "scale") return compose_scale(ctx, lo, argv);
  if (sub == "watch") return compose_watch(ctx, lo, argv);
  return -1;
}

}  // namespace hoist::cli
