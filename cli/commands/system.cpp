// System commands: version, info, events, system (prune, info, events; df: system_df.cpp), login, logout, and
// inspect, which looks a name up as a container and then as an image.
#include <cstdio>
#include <ctime>
#include <iostream>

#include "cli/commands/auth.h"
#include "cli/commands/commands.h"
#include "cli/format.h"
#include "common/clock.h"
#include "common/file.h"
#include "common/strings.h"

namespace hoist::cli {

namespace {

std::string go_print_value(const json& j, const char* key) {
  if (!j.contains(key)) return "";
  return render_template("{{.K}}", json{{"K", j[key]}});
}

}  // namespace

const Command kInspectCommand = {
    .use = "[OPTIONS] NAME|ID [NAME|ID...]",
    .summary = "Return low-level information on Hoist objects",
    .flags = {{"format", 'f', "string", kFormatJsonUsage},
              {"size", 's', "", "Display total file sizes if the type is container"},
              {"type", 0, "string", "Only inspect objects of the given type"}},
    .min_args = 1};
const Command kContainerInspectCommand = {
    .use = "[OPTIONS] CONTAINER [CONTAINER...]",
    .summary = "Display detailed information on one or more containers",
    .flags = {{"format", 'f', "string", kFormatJsonUsage},
              {"size", 's', "", "Display total file sizes"}},
    .min_args = 1};
const Command kImageInspectCommand = {.use = "[OPTIONS] IMAGE [IMAGE...]",
                                      .summary = "Display detailed information on one or more images",
                                      .flags = {{"format", 'f', "string", kFormatJsonUsage}}, .min_args = 1};

int cmd_inspect(Ctx& ctx, const std::vector<std::string>& argv, std::string type) {
  auto p = parse(ctx, type == "container" ? kContainerInspectCommand : type == "image" ? kImageInspectCommand
                                                                                       : kInspectCommand,
                 argv);
  if (p.has("type")) type = p.get("type");
  if (!type.empty() && type != "container" && type != "image" && type != "network") {
    errp("\"" + type + "\" is not a valid value for --type\n");
    return 1;
  }
  std::vector<json> found;
  nlohmann::ordered_json ordered = nlohmann::ordered_json::array();
  int rc = 0;
  for (auto& n : p.args) {
    bool ok = false;
    std::string last_err;
    for (std::string t : {"container", "image", "network"}) {
      if (!type.empty() && type != t) continue;
      std::string path = t == "network" ? "/networks/" + q(n) : (t == "container" ? "/containers/" : "/images/") + q(n) + "/json";
      if (t == "container" && p.flag("size")) path += "?size=1";
      auto r = ctx.c().request("GET", path, "", {}, true);
      if (r.status == 200) {
        found.push_back(json::parse(r.body));
        ordered.push_back(nlohmann::ordered_json::parse(r.body));
        ok = true;
        break;
      }
      if (r.status != 404) throw ApiError(r.status, error_message(r.body));
      last_err = error_message(r.body);
    }
    if (!ok) {
      if (type.empty()) errp("Error: No such object: " + n + "\n");
      else errp("Error response from daemon: " + last_err + "\n");
      rc = 1;
    }
  }
  if (p.get("format") == "json") {  // docker's: the list, compact
    out(ordered.dump() + "\n");
  } else if (p.has("format")) {
    std::string f = p.get("format");
    for (auto& j : found) out(render_template(f, j) + "\n");
  } else {
    out(ordered.dump(4) + "\n");
  }
  return rc;
}

const Command kLoginCommand = {
    .use = "[OPTIONS] [SERVER]",
    .summary = "Authenticate to a registry",
    .description = "Authenticate to a registry.\nDefaults to Docker Hub if no server is specified.",
    .flags = {{"password", 'p', "string", "Password or Personal Access Token (PAT)"},
              {"password-stdin", 0, "", "Take the Password or Personal Access Token (PAT) from stdin"},
              {"username", 'u', "string", "Username"}},
    .max_args = 1};

int cmd_login(Ctx& ctx, const std::vector<std::string>& argv) {
  auto p = parse(ctx, kLoginCommand, argv);
  std::string server = p.args.empty() ? kDefaultRegistry : p.args[0];
  std::string user = p.get("username"), pass = p.get("password");
  if (p.flag("password-stdin")) {
    if (p.has("password")) {
      errp("--password and --password-stdin are mutually exclusive\n");
      return 1;
    }
    if (user.empty()) {
      errp("Must provide --username with --password-stdin\n");
      return 1;
    }
    pass = read_fd(0);
    while (!pass.empty() && (pass.back() == '\n' || pass.back() == '\r')) pass.pop_back();
  } else if (p.has("password")) {
    errp("WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n");
  }
  if (user.empty() || pass.empty()) {
    errp("Error: Cannot perform an interactive login from a non TTY device\n");
    return 1;
  }
  auto r = ctx.c().request("POST", "/auth", json{{"username", user}, {"password", pass}, {"serveraddress", server}}.dump());
  auto cfg = load_config(ctx);
  std::string key = server;
  if (key.rfind("https://", 0) == 0 && server != kDefaultRegistry) key = key.substr(8);
  if (key.rfind("http://", 0) == 0) key = key.substr(7);
  cfg["auths"][key] = {{"auth", b64(user + ":" + pass)}};
  mkdir_all(ctx.config_dir, 0700);
  write_file_atomic(config_file(ctx), cfg.dump(1, '\t') + "\n", 0600);
  out("Login Succeeded\n");
  (void)r;
  return 0;
}

const Command kLogoutCommand = {.use = "[SERVER]", .summary = "Log out from a registry",
                                .description = "Log out from a registry.\nIf no server is specified, the default is Docker Hub.",
                                .max_args = 1};

int cmd_logout(Ctx& ctx, const std::vector<std::string>& argv) {
  auto p = parse(ctx, kLogoutCommand, argv);
  std::string server = p.args.empty() ? kDefaultRegistry : p.args[0];
  auto cfg = load_config(ctx);
  if (!cfg.contains("auths") || !cfg["auths"].contains(server)) {
    out("Not logged in to " + server + "\n");
    return 0;
  }
  out("Removing login credentials for " + server + "\n");
  cfg["auths"].erase(server);
  write_file_atomic(config_file(ctx), cfg.dump(1, '\t') + "\n", 0600);
  return 0;
}

const Command kVersionCommand = {.use = "[OPTIONS]", .summary = "Show the Hoist version information",
                                 .flags = {{"format", 'f', "string", kFormatJsonUsage}}, .max_args = 0};

int cmd_version(Ctx& ctx, const std::vector<std::string>& argv) {
  auto p = parse(ctx, kVersionCommand, argv);
  json client = {{"Version", "0.1.0"}, {"ApiVersion", "1.47"}, {"Os", "linux"}, {"Arch", "amd64"}, {"GoVersion", "n/a"}};
  json server;
  std::string err;
  try {
    server = json::parse(ctx.c().request("GET", "/version").body);
  } catch (const std::exception& e) {
    err = e.what();
  }
  if (p.has("format")) {
    json both = {{"Client", client}, {"Server", server}};
    out((p.get("format") == "json" ? both.dump() : render_template(p.get("format"), both)) + "\n");
    return err.empty() ? 0 : 1;
  }
  out("Client:\n Version:           0.1.0\n API version:       " + (ctx.client ? ctx.client->version() : std::string("1.47")) +
      "\n OS/Arch:           linux/amd64\n\n");
  if (!err.empty()) {
    errp(err + "\n");
    return 1;
  }
  out("Server:\n Engine:\n  Version:          " + server.value("Version", "") + "\n  API version:      " +
      server.value("ApiVersion", "") + " (minimum version " + server.value("MinAPIVersion", "") + ")\n  OS/Arch:          " +
      server.value("Os", "") + "/" + server.value("Arch", "") + "\n  Kernel Version:   " + server.value("KernelVersion", "") +
      "\n");
  return 0;
}

const Command kInfoCommand = {.use = "[OPTIONS]", .summary = "Display system-wide information",
                              .aliases = {"system info", "info"},
                              .flags = {{"format", 'f', "string", kFormatJsonUsage}}, .max_args = 0};

int cmd_info(Ctx& ctx, const std::vector<std::string>& argv) {
  auto p = parse(ctx, kInfoCommand, argv);
  auto j = json::parse(ctx.c().request("GET", "/info").body);
  if (p.has("format")) {
    out(format_list(p.get("format"), {j}, {}));
    return 0;
  }
  auto s = [&](const char* k) { return go_print_value(j, k); };
  out("Server:\n Containers: " + s("Containers") + "\n  Running: " + s("ContainersRunning") + "\n  Paused: " +
      s("ContainersPaused") + "\n  Stopped: " + s("ContainersStopped") + "\n Images: " + s("Images") +
      "\n Server Version: " + s("ServerVersion") + "\n Storage Driver: " + s("Driver") + "\n Logging Driver: " +
      s("LoggingDriver") + "\n Cgroup Driver: " + s("CgroupDriver") + "\n Cgroup Version: " + s("CgroupVersion") +
      "\n Kernel Version: " + s("KernelVersion") + "\n Operating System: " + s("OperatingSystem") + "\n OSType: " +
      s("OSType") + "\n Architecture: " + s("Architecture") + "\n CPUs: " + s("NCPU") + "\n Total Memory: " +
      bytes_size(j.value("MemTotal", 0.0)) + "\n Name: " + s("Name") + "\n ID: " + s("ID") +
      "\n Docker Root Dir: " + s("DockerRootDir") + "\n");
  return 0;
}

namespace {

std::string event_time(long long nanos) { return rfc3339_nano(nanos, true); }

}  // namespace

const Command kEventsCommand = {
    .use = "[OPTIONS]",
    .summary = "Get real time events from the server",
    .aliases = {"system events", "events"},
    .flags = {{"filter", 'f', "filter", "Filter output based on conditions provided"},
              {"format", 0, "string", kFormatJsonUsage},
              {"since", 0, "string", "Show all events created since timestamp"},
              {"until", 0, "string", "Stream events until this timestamp"}},
    .max_args = 0};

int cmd_events(Ctx& ctx, const std::vector<std::string>& argv) {
  auto p = parse(ctx, kEventsCommand, argv);
  std::string path = "/events?";
  std::vector<std::string> qs;
  if (p.has("since")) qs.push_back("since=" + q(get_timestamp(p.get("since"), now_s())));
  if (p.has("until")) qs.push_back("until=" + q(get_timestamp(p.get("until"), now_s())));
  if (p.has("filter")) qs.push_back("filters=" + q(filters_json(p.all("filter"))));
  path += join(qs, "&");
  std::string buf;
  std::string fmt = p.get("format");
  for (auto& [a, b] : std::vector<std::pair<std::string, std::string>>{{"\\t", "\t"}, {"\\n", "\n"}}) {
    size_t pos;
    while ((pos = fmt.find(a)) != std::string::npos) fmt.replace(pos, 2, b);
  }
  ctx.c().stream("GET", path, "", [&](std::string_view d) {
    buf.append(d);
    size_t nl;
    while ((nl = buf.find('\n')) != std::string::npos) {
      std::string line = buf.substr(0, nl);
      buf.erase(0, nl + 1);
      json e;
      try {
        e = json::parse(line);
      } catch (...) {
        continue;
      }
      if (fmt == "json") {
        out(e.dump() + "\n");
      } else if (!fmt.empty()) {
        out(render_template(fmt, e) + "\n");
      } else {
        long long tn = e.value("timeNano", 0LL);
        if (!tn) tn = e.value("time", 0LL) * 1000000000LL;
        std::string s = event_time(tn) + " " + e.value("Type", "") + " " + e.value("Action", "") + " " +
                        (e.contains("Actor") ? e["Actor"].value("ID", "") : e.value("id", ""));
        std::vector<std::string> attrs;
        if (e.contains("Actor") && e["Actor"].contains("Attributes") && e["Actor"]["Attributes"].is_object())
          for (auto& [k, v] : e["Actor"]["Attributes"].items()) attrs.push_back(k + "=" + v.get<std::string>());
        if (!attrs.empty()) s += " (" + join(attrs, ", ") + ")";
        out(s + "\n");
      }
      fflush(stdout);
    }
    return true;
  });
  return 0;
}

const Command kSystemPruneCommand = {
    .use = "[OPTIONS]",
    .summary = "Remove unused data",
    .flags = {{"all", 'a', "", "Remove all unused images not just dangling ones"},
              {"filter", 0, "filter", "Provide filter values (e.g. \"label=<key>=<value>\")"},
              {"force", 'f', "", "Do not prompt for confirmation"},
              {"volumes", 0, "", "Prune anonymous volumes"}},
    .max_args = 0};

namespace {

// A prune answer's list of deleted IDs under `title`, as docker prints it (nothing when empty).
void print_deleted(const std::string& title, const json& ids) {
  if (!ids.is_array() || ids.empty()) return;
  out(title + ":\n");
  for (auto& x : ids) out(x.get<std::string>() + "\n");
  out("\n");
}

}  // namespace

int cmd_system_prune(Ctx& ctx, const std::vector<std::string>& argv) {
  auto p = parse(ctx, kSystemPruneCommand, argv);
  if (!p.flag("force")) {
    out(std::string("WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n") +
        (p.flag("volumes") ? "  - all anonymous volumes not used by at least one container\n" : "") +
        (p.flag("all") ? "  - all images without at least one container associated to them\n" : "  - all dangling images\n") +
        "  - unused build cache\n\nAre you sure you want to continue? [y/N] ");
    fflush(stdout);
    std::string ans;
    std::getline(std::cin, ans);
    if (ans != "y" && ans != "Y") return 0;
  }
  long long reclaimed = 0;
  // --filter goes to every prune, as docker's; images also get dangling=true unless --all.
  json filters = json::parse(filters_json(p.all("filter")));
  std::string fq = filters.empty() ? "" : "?filters=" + q(filters.dump());
  auto c = json::parse(ctx.c().request("POST", "/containers/prune" + fq).body);
  print_deleted("Deleted Containers", c["ContainersDeleted"]);
  reclaimed += c.value("SpaceReclaimed", 0LL);
  auto n = ctx.c().request("POST", "/networks/prune" + fq, "", {}, true);
  if (n.status == 200) print_deleted("Deleted Networks", json::parse(n.body)["NetworksDeleted"]);
  if (p.flag("volumes")) {
    auto v = ctx.c().request("POST", "/volumes/prune" + fq, "", {}, true);
    if (v.status == 200) {
      auto vj = json::parse(v.body);
      print_deleted("Deleted Volumes", vj["VolumesDeleted"]);
      reclaimed += vj.value("SpaceReclaimed", 0LL);
    }
  }
  filters["dangling"] = {{p.flag("all") ? "false" : "true", true}};
  auto i = json::parse(ctx.c().request("POST", "/images/prune?filters=" + q(filters.dump())).body);
  if (i["ImagesDeleted"].is_array() && !i["ImagesDeleted"].empty()) {
    out("Deleted Images:\n");
    for (auto& e : i["ImagesDeleted"]) {
      if (e.contains("Untagged")) out("untagged: " + e["Untagged"].get<std::string>() + "\n");
      if (e.contains("Deleted")) out("deleted: " + e["Deleted"].get<std::string>() + "\n");
    }
    out("\n");
  }
  reclaimed += i.value("SpaceReclaimed", 0LL);
  // The build cache, as docker's: all of it with --all, its filters (until, ...) too.
  auto bj = json::parse(ctx.c().request("POST", std::string("/build/prune?") + (p.flag("all") ? "all=1&" : "") +
                                                     "filters=" + q(json::parse(filters_json(p.all("filter"))).dump()))
                            .body);
  print_deleted("Deleted build cache objects", bj["CachesDeleted"]);
  reclaimed += bj.value("SpaceReclaimed", 0LL);
  out("Total reclaimed space: " + human_size((double)reclaimed, 3) + "\n");
  return 0;
}

const Command kBuilderPruneCommand = {
    .use = "",
    .summary = "Remove build cache",
    .flags = {{"all", 'a', "", "Remove all unused build cache, not just dangling ones"},
              {"filter", 0, "filter", "Provide filter values (e.g. \"until=24h\")"},
              {"force", 'f', "", "Do not prompt for confirmation"},
              {"keep-storage", 0, "bytes", "Amount of disk space to keep for cache"}},
    .max_args = 0};

int cmd_builder_prune(Ctx& ctx, const std::vector<std::string>& argv) {
  auto p = parse(ctx, kBuilderPruneCommand, argv);
  if (!p.flag("force") &&
      !confirm(p.flag("all") ? "WARNING! This will remove all build cache. Are you sure you want to continue?"
                             : "WARNING! This will remove all dangling build cache. Are you sure you want to continue?"))
    return 0;
  std::string path = "/build/prune?";
  if (p.flag("all")) path += "all=1&";
  if (p.has("keep-storage")) {
    long long keep = 0;
    try {
      keep = parse_ram_size(p.get("keep-storage"));
    } catch (const std::exception& e) {
      throw FlagError("invalid argument \"" + p.get("keep-storage") + "\" for \"--keep-storage\" flag: " + e.what());
    }
    path += "keep-storage=" + std::to_string(keep) + "&";
  }
  path += "filters=" + q(json::parse(filters_json(p.all("filter"))).dump());
  auto r = json::parse(ctx.c().request("POST", path).body);
  print_deleted("Deleted build cache objects", r["CachesDeleted"]);
  out("Total reclaimed space: " + human_size((double)r.value("SpaceReclaimed", 0LL), 3) + "\n");
  return 0;
}

}  // namespace hoist::cli
