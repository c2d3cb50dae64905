// `hoist compose ps/logs/top/images/port/ls/version`: what the project's containers are and do.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "cli/commands/commands.h"
#include "cli/commands/compose_ops.h"
#include "cli/commands/network.h"
#include "cli/compose/orchestrate.h"
#include "cli/format.h"
#include "common/strings.h"

namespace hoist::cli::composecmd {

using compose::Project;

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

namespace {

// A table column: its header and a row's cell.
struct Column {
  std::string header;
  std::function<std::string(const json&)> cell;
};

// `--format` of a listing that takes table or json (images, ls): `rows` as one JSON array, or
// the columns aligned as docker's tabwriter does; any other value refused.
void print_table_or_json(const std::string& fmt, const std::vector<json>& rows, const std::vector<Column>& columns) {
  if (fmt == "json") {
    out(json(rows).dump() + "\n");
    return;
  }
  if (fmt != "table") throw ExitError{1, "unsupported format \"" + fmt + "\": expected table or json"};
  std::vector<std::string> header, lines;
  for (const auto& c : columns) header.push_back(c.header);
  lines.push_back(join(header, "\t"));
  for (const auto& r : rows) {
    std::vector<std::string> cells;
    for (const auto& c : columns) cells.push_back(c.cell(r));
    lines.push_back(join(cells, "\t"));
  }
  out(tabwrite(lines));
}

// A column showing the string field `key` of a row.
Column field(const std::string& header, const std::string& key) {
  return {header, [key](const json& r) { return r[key].get<std::string>(); }};
}

}  // namespace

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
  print_table_or_json(
      p.get("format", "table"), rows,
      {field("CONTAINER", "ContainerName"),
       field("REPOSITORY", "Repository"),
       field("TAG", "Tag"),
       {"IMAGE ID",
        [](const json& r) {
          std::string id = r["ID"];
          if (id.rfind("sha256:", 0) == 0) id = id.substr(7);
          return id.substr(0, 12);
        }},
       {"SIZE", [](const json& r) { return human_size(static_cast<double>(r["Size"].get<long long>()), 3); }}});
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
  print_table_or_json(p.get("format", "table"), rows,
                      {field("NAME", "Name"), field("STATUS", "Status"), field("CONFIG FILES", "ConfigFiles")});
  return 0;
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

}  // namespace hoist::cli::composecmd
