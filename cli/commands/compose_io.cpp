// `hoist compose attach/cp/events/stats/wait/scale`: a service's container attached to, files
// copied to or from its containers, the project's events and resource use, a wait for its
// containers to stop, and its services scaled; as Compose v2, through the docker commands of
// this CLI given the containers' ids where one does the job (attach, cp, stats).
#include <time.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "cli/commands/commands.h"
#include "cli/commands/compose_ops.h"
#include "cli/compose/orchestrate.h"
#include "common/clock.h"
#include "common/strings.h"

namespace hoist::cli::composecmd {

const Command kComposeAttach = {
    "[OPTIONS] SERVICE",
    "Attach local standard input, output, and error streams to a service's running container",
    "",
    {},
    {{"detach-keys", 0, "string", "Override the key sequence for detaching from a container."},
     {"index", 0, "int", "index of the container if service has multiple replicas."},
     {"no-stdin", 0, "", "Do not attach STDIN"},
     {"sig-proxy", 0, "", "Proxy all received signals to the process", "true"}},
    true,
    1,
    1};
const Command kComposeCp = {
    "[OPTIONS] SERVICE:SRC_PATH DEST_PATH|-\n\thoist compose cp [OPTIONS] SRC_PATH|- SERVICE:DEST_PATH",
    "Copy files/folders between a service container and the local filesystem",
    "",
    {},
    {{"all", 0, "", "Include containers created by the run command", "", true},
     {"archive", 'a', "", "Archive mode (copy all uid/gid information)"},
     {"follow-link", 'L', "", "Always follow symbol link in SRC_PATH"},
     {"index", 0, "int", "Index of the container if service has multiple replicas"}},
    true,
    2,
    2};
const Command kComposeEvents = {
    "[OPTIONS] [SERVICE...]", "Receive real time events from containers", "", {},
    {{"json", 0, "", "Output events as a stream of json objects"}}, true, 0, -1};
const Command kComposeStats = {
    "[OPTIONS] [SERVICE]",
    "Display a live stream of container(s) resource usage statistics",
    "",
    {},
    {{"all", 'a', "", "Show all containers (default shows just running)"},
     {"format", 0, "string", kFormatTableUsage},
     {"no-stream", 0, "", "Disable streaming stats and only pull the first result"},
     {"no-trunc", 0, "", "Do not truncate output"}},
    true,
    0,
    1};
const Command kComposeWait = {
    "SERVICE [SERVICE...] [OPTIONS]", "Block until containers of all (or specified) services stop.", "", {},
    {{"down-project", 0, "", "Drops project when the first container stops"}}, true, 1, -1};
const Command kComposeScale = {
    "[SERVICE=REPLICAS...]", "Scale services ", "", {}, {{"no-deps", 0, "", "Don't start linked services"}}, true, 1,
    -1};

namespace {

int int_flag(const Parsed& p, const std::string& name, int def) {
  if (!p.has(name)) return def;
  try {
    std::size_t used = 0;
    int v = std::stoi(p.get(name), &used);
    if (used == p.get(name).size()) return v;
  } catch (...) {
  }
  throw ExitError{1, "invalid --" + name + " \"" + p.get(name) + "\""};
}

// The service's containers (stopped ones too with `all`), by container number; `index` > 0: that
// one only.
std::vector<json> service_containers(Ctx& ctx, const Project& proj, const std::string& service, bool all, int index,
                                     bool oneoff = false) {
  selected(proj, {service});
  std::vector<json> v;
  for (const auto& c : project_containers(ctx, proj.name, all, oneoff))
    if (label(c, compose::kLabelService) == service &&
        (index <= 0 || label(c, compose::kLabelNumber) == std::to_string(index)))
      v.push_back(c);
  auto number = [](const json& c) {
    try {
      return std::stoi(label(c, compose::kLabelNumber));
    } catch (...) {
      return 0;
    }
  };
  std::stable_sort(v.begin(), v.end(), [&](const json& a, const json& b) { return number(a) < number(b); });
  return v;
}

}  // namespace

int compose_attach(Ctx& ctx, const compose::LoadOptions& lo, const std::vector<std::string>& argv) {
  ctx.path = "compose attach";
  Parsed p = parse(ctx, kComposeAttach, argv);
  Project proj = load(lo);
  int index = int_flag(p, "index", 0);
  auto cs = service_containers(ctx, proj, p.args[0], false, index, true);
  if (cs.empty())
    throw ExitError{1, index > 0 ? "service \"" + p.args[0] + "\" is not running container #" + std::to_string(index)
                                 : "service \"" + p.args[0] + "\" is not running"};
  std::vector<std::string> args;
  if (p.has("detach-keys")) args.insert(args.end(), {"--detach-keys", p.get("detach-keys")});
  if (p.flag("no-stdin")) args.push_back("--no-stdin");
  if (p.has("sig-proxy") && !p.flag("sig-proxy")) args.push_back("--sig-proxy=false");
  args.push_back(cs[0]["Id"]);
  ctx.path = "attach";
  return cmd_attach(ctx, args);
}

int compose_cp(Ctx& ctx, const compose::LoadOptions& lo, const std::vector<std::string>& argv) {
  ctx.path = "compose cp";
  Parsed p = parse(ctx, kComposeCp, argv);
  // docker's splitCpArg: "SERVICE:PATH", or a local path (absolute, or starting with ".").
  auto split = [](const std::string& a) -> std::pair<std::string, std::string> {
    if (a.starts_with('/')) return {"", a};
    auto colon = a.find(':');
    if (colon == std::string::npos || a.starts_with('.')) return {"", a};
    return {a.substr(0, colon), a.substr(colon + 1)};
  };
  auto [src_service, src] = split(p.args[0]);
  auto [dst_service, dst] = split(p.args[1]);
  if (!src_service.empty() && !dst_service.empty()) throw ExitError{1, "copying between services is not supported"};
  if (src_service.empty() && dst_service.empty()) throw ExitError{1, "unknown copy direction"};
  bool from = !src_service.empty();
  const std::string& service = from ? src_service : dst_service;
  Project proj = load(lo);
  int index = int_flag(p, "index", 0);
  auto cs = service_containers(ctx, proj, service, true, index, index <= 0 && p.flag("all"));
  if (cs.empty()) {
    if (index > 0)
      throw ExitError{1, "service \"" + service + "\" is not running container #" + std::to_string(index)};
    throw ExitError{1, "no container found for service \"" + service + "\""};
  }
  if (from) cs.resize(1);  // from the first container; to every one of them
  int rc = 0;
  for (const auto& c : cs) {
    std::string name = cname(c);
    std::string msg = from ? name + ":" + src + " to " + dst : src + " to " + name + ":" + dst;
    std::vector<std::string> args = {"-q"};
    if (p.flag("archive")) args.push_back("-a");
    if (p.flag("follow-link")) args.push_back("-L");
    if (from) args.insert(args.end(), {c["Id"].get<std::string>() + ":" + src, dst});
    else args.insert(args.end(), {src, c["Id"].get<std::string>() + ":" + dst});
    ctx.path = "cp";
    rc = cmd_cp(ctx, args);
    ctx.path = "compose cp";
    if (rc != 0) return rc;
    if (dst != "-") progress("Container", name, "Copied " + msg);
  }
  return rc;
}

namespace {

// Go's time formats of an event's time (ns since the epoch), in local time:
// "2006-01-02 15:04:05.000000" and RFC 3339 with nanoseconds (time.Time's JSON).
std::string event_time(long long ns, bool rfc3339) {
  if (rfc3339) return rfc3339_nano(ns, true);
  time_t s = static_cast<time_t>(ns / 1000000000);
  long frac = static_cast<long>(ns % 1000000000);
  struct tm tm {};
  localtime_r(&s, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  char f[16];
  std::snprintf(f, sizeof f, ".%06ld", frac / 1000);
  return buf + std::string(f);
}

}  // namespace

int compose_events(Ctx& ctx, const compose::LoadOptions& lo, const std::vector<std::string>& argv) {
  ctx.path = "compose events";
  Parsed p = parse(ctx, kComposeEvents, argv);
  Project proj = load(lo);
  auto wanted = p.args;
  for (const auto& s : wanted) selected(proj, {s});
  bool as_json = p.flag("json");
  std::string filters = label_filter({std::string(compose::kLabelProject) + "=" + proj.name});
  std::string pending;
  ctx.c().stream("GET", "/events?filters=" + filters, "", [&](std::string_view d) {
    pending.append(d);
    for (std::size_t nl; (nl = pending.find('\n')) != std::string::npos;) {
      std::string line = pending.substr(0, nl);
      pending.erase(0, nl + 1);
      if (line.empty()) continue;
      json e = json::parse(line, nullptr, false);
      if (e.is_discarded() || e.value("Type", "") != "container") continue;
      json attrs = e.contains("Actor") && e["Actor"].contains("Attributes") ? e["Actor"]["Attributes"] : json::object();
      if (!attrs.is_object()) attrs = json::object();
      if (attrs.value(compose::kLabelOneoff, "") == "True") continue;
      std::string service = attrs.value(compose::kLabelService, "");
      if (!wanted.empty() && std::find(wanted.begin(), wanted.end(), service) == wanted.end()) continue;
      json kept = json::object();
      for (const auto& [k, v] : attrs.items())
        if (!k.starts_with("com.docker.compose.")) kept[k] = v;
      long long ns = e.value("timeNano", 0LL);
      if (ns == 0) ns = e.value("time", 0LL) * 1000000000LL;
      std::string id = e["Actor"].value("ID", "");
      std::string action = e.value("Action", e.value("status", ""));
      if (as_json) {
        out(json{{"time", event_time(ns, true)}, {"type", "container"}, {"service", service}, {"id", id},
                 {"action", action}, {"attributes", kept}}
                .dump() +
            "\n");
      } else {
        std::vector<std::string> kv;  // (Go's map order is random; sorted here)
        for (const auto& [k, v] : kept.items()) kv.push_back(k + "=" + (v.is_string() ? v.get<std::string>() : v.dump()));
        // Compose v2's Event.String() ends in a newline and is printed with Println: a blank line follows.
        out(event_time(ns, false) + " container " + action + " " + id + " (" + join(kv, ", ") + ")\n\n");
      }
      fflush(stdout);
    }
    return true;
  });
  return 0;
}

int compose_stats(Ctx& ctx, const compose::LoadOptions& lo, const std::vector<std::string>& argv) {
  ctx.path = "compose stats";
  Parsed p = parse(ctx, kComposeStats, argv);
  Project proj = load(lo);
  auto wanted = selected(proj, p.args);
  bool all = p.flag("all");
  return show_stats(ctx, p, [&] {
    std::vector<std::string> ids;
    for (const auto& c : project_containers(ctx, proj.name, all, true))
      if (std::find(wanted.begin(), wanted.end(), label(c, compose::kLabelService)) != wanted.end())
        ids.push_back(c["Id"]);
    return ids;
  });
}

int compose_wait(Ctx& ctx, const compose::LoadOptions& lo, const std::vector<std::string>& argv) {
  ctx.path = "compose wait";
  Parsed p = parse(ctx, kComposeWait, argv);
  Project proj = load(lo);
  // The running containers of the services named (one-off ones too; a name that is no service
  // matches none: Compose v2 does not check them).
  const auto& wanted = p.args;
  std::vector<json> cs;
  for (const auto& c : project_containers(ctx, proj.name, false, true))
    if (std::find(wanted.begin(), wanted.end(), label(c, compose::kLabelService)) != wanted.end()) cs.push_back(c);
  if (cs.empty()) throw ExitError{1, "no containers for project \"" + proj.name + "\""};
  // Each container waited for at once, each stop reported as it comes; the code is that of the
  // last one to stop (Compose v2 keeps the code of each wait that returns, the last one stays).
  std::mutex m;
  long code = 0;
  in_parallel(cs, [&](const json& c) {
    std::string id = c["Id"];
    auto r = ctx.c().request("POST", "/containers/" + q(id) + "/wait");
    long status = json::parse(r.body).value("StatusCode", 0L);
    std::lock_guard<std::mutex> l(m);
    {
      std::lock_guard<std::mutex> o(g_out);
      out("container \"" + id + "\" exited with status code " + std::to_string(status) + "\n");
      fflush(stdout);
    }
    code = status;
  });
  if (p.flag("down-project")) {
    int rc = compose_down(ctx, lo, {"--remove-orphans"});
    if (rc != 0) return rc;
  }
  return static_cast<int>(code);
}

int compose_scale(Ctx& ctx, const compose::LoadOptions& lo, const std::vector<std::string>& argv) {
  ctx.path = "compose scale";
  Parsed p = parse(ctx, kComposeScale, argv);
  std::vector<std::string> up = {"-d"};
  if (p.flag("no-deps")) up.push_back("--no-deps");
  std::vector<std::string> services;
  for (const auto& a : p.args) {
    auto eq = a.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == a.size())
      throw ExitError{1, "Invalid scale specifier: " + a};
    try {
      std::size_t used = 0;
      std::stoi(a.substr(eq + 1), &used);
      if (used != a.size() - eq - 1) throw 0;
    } catch (...) {
      throw ExitError{1, "Invalid scale specifier: can't parse replica value as int: " + a};
    }
    up.insert(up.end(), {"--scale", a});
    services.push_back(a.substr(0, eq));
  }
  up.insert(up.end(), services.begin(), services.end());
  return compose_up(ctx, lo, up);
}

}  // namespace hoist::cli::composecmd
