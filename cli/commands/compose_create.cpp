// See compose_create.h.
#include "cli/commands/compose_create.h"

#include <algorithm>
#include <cctype>
#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/commands/auth.h"
#include "common/strings.h"

namespace hoist::cli {

namespace {

using json = nlohmann::json;

// The service's containers (not one-off ones) as the daemon lists them: (number, id, name),
// lowest number first.
std::vector<std::tuple<int, std::string, std::string>> service_containers(Ctx& ctx, const compose::Project& proj,
                                                                          const std::string& service) {
  json f = {{"label",
             {std::string(compose::kLabelProject) + "=" + proj.name, std::string(compose::kLabelService) + "=" + service,
              std::string(compose::kLabelOneoff) + "=False"}}};
  auto r = ctx.c().request("GET", "/containers/json?all=1&filters=" + q(f.dump()));
  std::vector<std::tuple<int, std::string, std::string>> v;
  for (const auto& c : json::parse(r.body)) {
    const json l = c.value("Labels", json::object());
    if (l.value(compose::kLabelProject, "") != proj.name || l.value(compose::kLabelService, "") != service ||
        l.value(compose::kLabelOneoff, "") != "False")
      continue;
    int n = 0;
    try {
      n = std::stoi(l.value(compose::kLabelNumber, "0"));
    } catch (...) {
    }
    std::string name = c["Names"][0].get<std::string>();
    if (!name.empty() && name[0] == '/') name = name.substr(1);
    v.emplace_back(n, c.value("Id", ""), name);
  }
  std::sort(v.begin(), v.end());
  return v;
}

}  // namespace

void complete_create_plan(Ctx& ctx, const compose::Project& proj, const std::string& service, int number,
                          compose::CreatePlan& plan) {
  for (const auto& w : plan.warnings) errp(w + "\n");
  compose::resolve_references(plan, [&](const std::string& svc) {
    auto v = service_containers(ctx, proj, svc);
    return v.empty() ? std::string() : std::get<1>(v.front());
  });
  compose::set_links(plan, compose::service_links(proj, service, number, [&](const std::string& svc) {
                       std::vector<std::string> names;
                       for (const auto& c : service_containers(ctx, proj, svc)) names.push_back(std::get<2>(c));
                       return names;
                     }));
}

void inject_files(Ctx& ctx, const compose::Project& proj, const std::string& service, const std::string& id) {
  for (const auto& f : compose::file_injections(proj, service)) {
    std::string tar = compose::injection_tar(f, static_cast<long long>(std::time(nullptr)));
    ctx.c().request("PUT", "/containers/" + q(id) + "/archive?path=%2F" + (f.copy_uid_gid ? "&copyUIDGID=true" : ""),
                    tar, {{"Content-Type", "application/x-tar"}});
  }
}

bool remove_diverged_network(Ctx& ctx, const compose::Project& proj, const std::string& key, const json& info) {
  const json labels = info.value("Labels", json::object());
  if (!labels.is_object() || labels.value(compose::kLabelProject, "") != proj.name) return false;
  std::string hash = labels.value(compose::kLabelConfigHash, "");
  if (hash.empty() || hash == compose::network_hash(proj, key)) return false;
  std::string name = compose::network_name(proj, key);
  for (const auto& service : compose::stop_order(proj)) {
    const json& s = compose::service_of(proj, service);
    if (!s.contains("networks") || !s["networks"].contains(key)) continue;
    for (const auto& [n, id, cname] : service_containers(ctx, proj, service)) {
      json c = json::parse(ctx.c().request("GET", "/containers/" + q(id) + "/json").body);
      if (!c["State"].value("Running", false)) continue;
      errp(" Container " + cname + "  Stopping\n");
      ctx.c().request("POST", "/containers/" + q(id) + "/stop", "", {}, true);
      errp(" Container " + cname + "  Stopped\n");
    }
  }
  ctx.c().request("DELETE", "/networks/" + q(info.value("Id", name)));
  errp(" Network " + name + "  Removed\n");
  return true;
}

namespace {

// Compose v2's prompt: on a terminal "? MESSAGE (y/N) " and a line (y or yes); else MESSAGE
// alone on stdout (no newline) and a word read from stdin (y, 1, t, true; nothing read is a no).
bool compose_confirm(const std::string& message) {
  bool tty = is_tty(0);
  out(tty ? "? " + message + " (y/N) " : message);
  fflush(stdout);
  std::string ans;
  std::getline(std::cin, ans);
  std::string a(trim(ans));
  std::transform(a.begin(), a.end(), a.begin(), [](unsigned char c) { return std::tolower(c); });
  if (tty) return a == "y" || a == "yes";
  return a == "y" || a == "1" || a == "t" || a == "true";
}

}  // namespace

bool remove_diverged_volume(Ctx& ctx, const compose::Project& proj, const std::string& key, const json& info,
                            bool assume_yes) {
  const json labels = info.value("Labels", json::object());
  if (!labels.is_object() || !labels.contains(compose::kLabelConfigHash)) return false;
  if (labels.value(compose::kLabelConfigHash, "") == compose::volume_hash(proj, key)) return false;
  std::string name = compose::volume_name(proj, key);
  if (!assume_yes &&
      !compose_confirm("Volume \"" + name + "\" exists but doesn't match configuration in compose file. " +
                       "Recreate (data will be lost)?"))
    return false;
  std::vector<std::string> services;
  for (const auto& service : compose::stop_order(proj)) {
    const json& s = compose::service_of(proj, service);
    for (const auto& v : s.value("volumes", json::array()))
      if (v.value("type", "volume") == "volume" && v.value("source", "") == key) {
        services.push_back(service);
        break;
      }
  }
  std::vector<std::tuple<int, std::string, std::string>> containers;
  for (const auto& service : services)
    for (const auto& c : service_containers(ctx, proj, service)) containers.push_back(c);
  for (const auto& [n, id, cname] : containers) {
    json c = json::parse(ctx.c().request("GET", "/containers/" + q(id) + "/json").body);
    if (!c["State"].value("Running", false)) continue;
    errp(" Container " + cname + "  Stopping\n");
    ctx.c().request("POST", "/containers/" + q(id) + "/stop", "", {}, true);
    errp(" Container " + cname + "  Stopped\n");
  }
  for (const auto& [n, id, cname] : containers) {
    errp(" Container " + cname + "  Removing\n");
    ctx.c().request("DELETE", "/containers/" + q(id) + "?force=1");
    errp(" Container " + cname + "  Removed\n");
  }
  ctx.c().request("DELETE", "/volumes/" + q(info.value("Name", name)) + "?force=1");
  return true;
}

void existing_networks_and_volumes(const json& listed, compose::Existing& e) {
  if (listed.contains("NetworkSettings") && listed["NetworkSettings"].is_object() &&
      listed["NetworkSettings"].contains("Networks") && listed["NetworkSettings"]["Networks"].is_object())
    for (const auto& [n, ep] : listed["NetworkSettings"]["Networks"].items())
      e.networks[n] = ep.is_object() ? ep.value("NetworkID", "") : "";
  for (const auto& m : listed.value("Mounts", json::array()))
    if (m.value("Type", "") == "volume") e.volumes.push_back(m.value("Name", ""));
}

void expected_networks_and_volumes(const compose::Project& proj, const std::string& service,
                                   const std::map<std::string, std::string>& network_ids, compose::ConvergeOptions& o) {
  const json& s = compose::service_of(proj, service);
  if (s.contains("networks") && s["networks"].is_object() && !s.contains("network_mode"))
    for (const auto& [key, cfg] : s["networks"].items()) {
      std::string name = compose::network_name(proj, key);
      if (auto it = network_ids.find(name); it != network_ids.end() && !it->second.empty()) o.networks[name] = it->second;
    }
  o.volumes = compose::service_volume_names(proj, service);
}

void pull_buildable_images(Ctx& ctx, const compose::Project& proj, const std::vector<std::string>& services) {
  for (const auto& service : services) {
    const json& svc = compose::service_of(proj, service);
    if (!compose::has_build(proj, service) || !svc.contains("image")) continue;
    std::string policy = svc.value("pull_policy", std::string("missing"));
    if (policy == "never" || policy == "build") continue;
    if (policy != "missing" && policy != "if_not_present" && policy != "always")
      throw ExitError{1, "services." + service + ": pull_policy \"" + policy + "\" is not supported yet by hoist compose"};
    std::string image = svc["image"].get<std::string>();
    if (policy != "always" && ctx.c().request("GET", "/images/" + q(image) + "/json", "", {}, true).status == 200) continue;
    errp(" Image " + image + "  Pulling\n");
    try {
      show_pull(image, ctx, true, "", true);
      errp(" Image " + image + "  Pulled\n");
    } catch (const std::exception& e) {
      errp(" " + service + " Warning " + e.what() + "\n");  // built next
    }
  }
}

int push_service_images(Ctx& ctx, const compose::Project& proj, const std::vector<std::string>& services, bool quiet,
                        bool ignore_failures) {
  for (const auto& service : services) {
    const json& svc = compose::service_of(proj, service);
    if (!svc.contains("build") || !svc.contains("image")) {
      if (!quiet) errp(" " + service + " Skipped\n");
      continue;
    }
    std::vector<std::string> tags = {svc["image"].get<std::string>()};
    if (svc["build"].contains("tags"))
      for (const auto& t : svc["build"]["tags"]) tags.push_back(t.get<std::string>());
    for (const auto& tag : tags) {
      std::string repo = tag, t;
      // NAME[:TAG] (a ':' after the last '/'); a digest is pushed by name.
      auto at = repo.find('@');
      if (at != std::string::npos) repo = repo.substr(0, at);
      auto colon = repo.rfind(':');
      if (colon != std::string::npos && repo.find('/', colon) == std::string::npos) {
        t = repo.substr(colon + 1);
        repo = repo.substr(0, colon);
      }
      std::string error, pending;
      auto line = [&](const std::string& text) {
        json m = json::parse(text, nullptr, false);
        if (m.is_discarded() || !m.is_object()) return;
        if (m.contains("error")) {
          error = m["error"].is_string() ? m["error"].get<std::string>() : m["error"].dump();
          return;
        }
        if (quiet || m.value("id", "").empty()) return;
        std::string progress = m.contains("progress") && m["progress"].is_string() ? m["progress"].get<std::string>() : "";
        errp(" Pushing " + tag + ": " + m.value("id", "") + " " + m.value("status", "") +
             (progress.empty() ? "" : " " + progress) + "\n");
      };
      try {
        ctx.c().stream("POST", "/images/" + q(repo) + "/push" + (t.empty() ? "" : "?tag=" + q(t)), "",
                       [&](std::string_view d) {
                         pending.append(d);
                         for (std::size_t nl; (nl = pending.find('\n')) != std::string::npos; pending.erase(0, nl + 1))
                           line(pending.substr(0, nl));
                         return true;
                       },
                       auth_header(ctx, repo));
        if (!pending.empty()) line(pending);
      } catch (const std::exception& e) {
        error = e.what();
      }
      if (error.empty()) continue;
      if (!ignore_failures) throw ExitError{1, error};
      errp("Pushing " + service + ": " + error + "\n");
    }
  }
  return 0;
}

compose::Project project_from_daemon(Ctx& ctx, const std::string& name) {
  std::string f = q(json{{"label", {std::string(compose::kLabelProject) + "=" + name}}}.dump());
  json containers = json::parse(ctx.c().request("GET", "/containers/json?all=1&filters=" + f).body);
  json networks = json::parse(ctx.c().request("GET", "/networks?filters=" + f).body);
  json volumes = json::parse(ctx.c().request("GET", "/volumes?filters=" + f).body).value("Volumes", json::array());
  if (containers.empty() && networks.empty() && (volumes.is_null() || volumes.empty()))
    errp("Warning: No resource found to remove for project \"" + name + "\".\n");
  return compose::project_from_resources(name, containers, networks, volumes.is_null() ? json::array() : volumes);
}

}  // namespace hoist::cli
