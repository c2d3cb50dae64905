// See orchestrate.h: what a service's container takes from outside its own definition once the
// other containers exist (network_mode service:, volumes_from, links), and the secrets and configs
// Compose v2 copies into a created container (injectSecrets/injectConfigs).
#include <cstdio>
#include <cstring>
#include <memory>
#include <tuple>
#include <nlohmann/json.hpp>

#include "cli/compose/orchestrate.h"
#include "common/error.h"

namespace hoist::compose {

using json = nlohmann::json;

void resolve_references(CreatePlan& plan, const std::function<std::string(const std::string&)>& first_container) {
  json body = json::parse(plan.body);
  json& h = body["HostConfig"];
  std::string mode = h.value("NetworkMode", "");
  if (mode.rfind("service:", 0) == 0) {
    std::string svc = mode.substr(8);
    std::string id = first_container(svc);
    if (id.empty()) throw Error("cannot share network namespace with service " + svc + ": container missing");
    h["NetworkMode"] = "container:" + id;
  }
  if (h.contains("VolumesFrom") && h["VolumesFrom"].is_array()) {
    json out = json::array();
    for (const auto& v : h["VolumesFrom"]) {
      std::string x = v.get<std::string>();
      if (x.rfind("container:", 0) == 0) {
        out.push_back(x.substr(10));
        continue;
      }
      auto colon = x.find(':');
      std::string svc = x.substr(0, colon);
      std::string id = first_container(svc);
      if (id.empty()) throw Error("cannot share volume with service " + svc + ": container missing");
      out.push_back(id + (colon == std::string::npos ? "" : x.substr(colon)));
    }
    h["VolumesFrom"] = out;
  }
  plan.body = body.dump();
}

std::vector<std::string> service_links(const Project& p, const std::string& service, int number,
                                       const std::function<std::vector<std::string>(const std::string&)>& containers) {
  const json& s = service_of(p, service);
  std::vector<std::string> links;
  const std::string n = std::to_string(number);
  if (s.contains("links"))
    for (const auto& l : s["links"]) {
      std::string raw = l.get<std::string>();
      auto colon = raw.find(':');
      std::string linked = raw.substr(0, colon);
      std::string alias = colon == std::string::npos ? linked : raw.substr(colon + 1);
      for (const auto& c : containers(linked)) {
        links.push_back(c + ":" + alias);
        links.push_back(c + ":" + linked + "-" + n);
        links.push_back(c + ":" + p.name + "-" + linked + "-" + n);
      }
    }
  if (s.contains("external_links"))
    for (const auto& l : s["external_links"]) {
      std::string raw = l.get<std::string>();
      auto colon = raw.find(':');
      std::string name = raw.substr(0, colon);
      links.push_back(name + ":" + (colon == std::string::npos ? name : raw.substr(colon + 1)));
    }
  return links;
}

void set_links(CreatePlan& plan, const std::vector<std::string>& links) {
  if (links.empty()) return;
  json body = json::parse(plan.body);
  body["HostConfig"]["Links"] = links;
  if (body.contains("NetworkingConfig") && body["NetworkingConfig"].contains("EndpointsConfig"))
    for (auto& [n, ep] : body["NetworkingConfig"]["EndpointsConfig"].items()) ep["Links"] = links;
  for (auto& a : plan.connect_after) {
    json ep = json::parse(a.endpoint);
    ep["Links"] = links;
    a.endpoint = ep.dump();
  }
  plan.body = body.dump();
}

std::vector<FileInjection> file_injections(const Project& p, const std::string& service) {
  const json& s = service_of(p, service);
  const json& m = *p.model;
  std::vector<FileInjection> out;
  for (const char* kind : {"secrets", "configs"}) {
    if (!s.contains(kind)) continue;
    const bool secrets = std::strcmp(kind, "secrets") == 0;
    for (const auto& item : s[kind]) {
      std::string source = item.value("source", "");
      const json def = m.value(kind, json::object()).value(source, json::object());
      FileInjection f;
      if (def.contains("environment")) {
        std::string var = def["environment"].get<std::string>();
        auto it = p.environment.find(var);
        if (it == p.environment.end())
          throw Error("environment variable \"" + var + "\" required by file \"" + def.value("name", source) +
                      "\" is not set");
        f.content = it->second;
      } else if (!secrets && def.contains("content")) {
        f.content = def["content"].get<std::string>();
        if (f.content.empty()) continue;  // as Compose: nothing to copy
      } else {
        continue;  // a file: a bind mount
      }
      std::string target = item.value("target", "");
      std::string base = secrets ? "/run/secrets/" : "/";
      f.target = target.empty() ? base + source : target[0] == '/' ? target : base + target;
      if (item.contains("mode")) f.mode = item["mode"].get<unsigned>();
      auto id_of = [&](const char* k) -> long {
        std::string v = item[k].get<std::string>();
        char* end = nullptr;
        long n = std::strtol(v.c_str(), &end, 10);
        if (v.empty() || *end) throw Error("services." + service + "." + kind + "[" + source + "]." + k + ": invalid " +
                                           k + " \"" + v + "\"");
        return n;
      };
      if (item.contains("uid")) f.uid = id_of("uid");
      if (item.contains("gid")) f.gid = id_of("gid");
      f.copy_uid_gid = item.contains("uid") || item.contains("gid");
      out.push_back(f);
    }
  }
  return out;
}

namespace {

// An octal field of `width` bytes: width-1 digits, then NUL (as Go's archive/tar).
void octal(char* at, std::size_t width, unsigned long long v) {
  std::snprintf(at, width, "%0*llo", static_cast<int>(width - 1), v);
}

}  // namespace

std::string injection_tar(const FileInjection& f, long long mtime_s) {
  char h[512];
  std::memset(h, 0, sizeof h);
  std::string name = f.target, prefix;
  if (name.size() > 100) {  // ustar's split at a '/': prefix (155) and name (100)
    auto slash = name.find('/', name.size() - 101);
    if (slash == std::string::npos || slash > 155 || name.size() - slash - 1 > 100 || slash == 0)
      throw Error("secret or config target too long for a tar header: " + name);
    prefix = name.substr(0, slash);
    name = name.substr(slash + 1);
  }
  std::memcpy(h, name.data(), name.size());
  octal(h + 100, 8, f.mode & 07777);
  octal(h + 108, 8, static_cast<unsigned long long>(f.uid));
  octal(h + 116, 8, static_cast<unsigned long long>(f.gid));
  octal(h + 124, 12, f.content.size());
  octal(h + 136, 12, static_cast<unsigned long long>(mtime_s));
  h[156] = '0';
  std::memcpy(h + 257, "ustar\0" "00", 8);
  std::memcpy(h + 345, prefix.data(), prefix.size());
  std::memset(h + 148, ' ', 8);
  unsigned sum = 0;
  for (unsigned char c : h) sum += c;
  std::snprintf(h + 148, 8, "%06o", sum);  // six digits, NUL, then the space already there
  std::string out(h, sizeof h);
  out += f.content;
  out.append((512 - f.content.size() % 512) % 512, '\0');
  out.append(1024, '\0');
  return out;
}

Project project_from_resources(const std::string& name, const json& containers, const json& networks,
                               const json& volumes) {
  json model = {{"name", name}, {"services", json::object()}};
  auto labels_of = [](const json& o) { return o.contains("Labels") && o["Labels"].is_object() ? o["Labels"] : json::object(); };
  for (const auto& c : containers) {
    json l = labels_of(c);
    if (l.value(kLabelProject, "") != name || l.value(kLabelOneoff, "") == "True") continue;
    std::string service = l.value(kLabelService, "");
    if (service.empty() || model["services"].contains(service)) continue;
    json s = {{"image", c.value("Image", "")}};
    std::string deps = l.value(kLabelDependsOn, "");
    for (std::size_t start = 0; start < deps.size();) {
      auto comma = deps.find(',', start);
      std::string d = deps.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      start = comma == std::string::npos ? deps.size() : comma + 1;
      if (d.empty()) continue;
      auto c1 = d.find(':');
      std::string dep = d.substr(0, c1), cond = "service_started";
      bool restart = true;
      if (c1 != std::string::npos) {
        auto c2 = d.find(':', c1 + 1);
        cond = d.substr(c1 + 1, c2 == std::string::npos ? std::string::npos : c2 - c1 - 1);
        if (c2 != std::string::npos) restart = d.substr(c2 + 1) == "true";
      }
      s["depends_on"][dep] = {{"condition", cond}, {"restart", restart}, {"required", false}};
    }
    model["services"][service] = s;
  }
  for (const auto& [kind, list, key_label] :
       {std::tuple<const char*, const json*, const char*>{"networks", &networks, kLabelNetwork},
        std::tuple<const char*, const json*, const char*>{"volumes", &volumes, kLabelVolume}}) {
    if (!list->is_array()) continue;
    for (const auto& r : *list) {
      json l = labels_of(r);
      if (l.value(kLabelProject, "") != name) continue;
      json def = {{"name", r.value("Name", "")}, {"labels", json::object()}};
      for (const auto& [k, v] : l.items())
        if (k.rfind("com.docker.compose.", 0) != 0) def["labels"][k] = v;
      model[kind][l.value(key_label, r.value("Name", ""))] = def;
    }
  }
  Project p;
  p.name = name;
  p.model = std::make_shared<const json>(std::move(model));
  return p;
}

}  // namespace hoist::compose
