// See orchestrate.h. The mapping of a service follows Compose v2's (pkg/compose/create.go's
// behaviour): one field at a time, each known key handled or refused.
#include "cli/compose/orchestrate.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "cli/compose/internal.h"
#include "common/clock.h"
#include "common/digest.h"
#include "common/error.h"
#include "common/file.h"

namespace hoist::compose {

using json = nlohmann::json;

const char* const kComposeVersion = "2.29.7";

namespace {

std::string scalar(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_null()) return "";
  return v.dump();
}

[[noreturn]] void refuse(const std::string& what, const std::string& key, const std::string& why = "") {
  throw Error(what + ": `" + key + "` is not supported yet by hoist compose" + (why.empty() ? "" : " (" + why + ")"));
}

long long ns_of(const json& v) { return parse_go_duration_ns(scalar(v)); }

json labels_of(const json& obj) {
  json out = json::object();
  if (obj.contains("labels") && obj["labels"].is_object())
    for (const auto& [k, v] : obj["labels"].items()) out[k] = scalar(v);
  return out;
}

const json& top(const Project& p, const char* kind, const std::string& key) {
  const json& m = *p.model;
  if (!m.contains(kind) || !m[kind].contains(key))
    throw Error(std::string(kind == std::string("networks") ? "network" : "volume") + " \"" + key +
                "\" is not declared in the project");
  return m[kind][key];
}

std::string join(const std::vector<std::string>& v, const std::string& sep) {
  std::string r;
  for (std::size_t i = 0; i < v.size(); ++i) r += (i ? sep : "") + v[i];
  return r;
}

}  // namespace

const json& service_of(const Project& p, const std::string& service) {
  const json& m = *p.model;
  if (!m.contains("services") || !m["services"].contains(service)) throw Error("no such service: " + service);
  return m["services"][service];
}

int replicas(const Project& p, const std::string& service) {
  const json& s = service_of(p, service);
  if (s.contains("scale") && s["scale"].is_number_integer()) return s["scale"].get<int>();
  if (s.contains("deploy") && s["deploy"].contains("replicas") && s["deploy"]["replicas"].is_number_integer())
    return s["deploy"]["replicas"].get<int>();
  return 1;
}

std::string container_name(const Project& p, const std::string& service, int number) {
  const json& s = service_of(p, service);
  if (s.contains("container_name") && s["container_name"].is_string()) {
    if (replicas(p, service) > 1)
      throw Error("services." + service + ": container_name \"" + s["container_name"].get<std::string>() +
                  "\" allows one container only, the service wants " + std::to_string(replicas(p, service)));
    return s["container_name"].get<std::string>();
  }
  return p.name + "-" + service + "-" + std::to_string(number);
}

std::map<std::string, std::string> dependency_conditions(const Project& p, const std::string& service) {
  std::map<std::string, std::string> out;
  const json& s = service_of(p, service);
  if (s.contains("depends_on") && s["depends_on"].is_object())
    for (const auto& [dep, d] : s["depends_on"].items())
      out[dep] = d.is_object() ? d.value("condition", std::string("service_started")) : "service_started";
  return out;
}

std::vector<std::vector<std::string>> start_levels(const Project& p) {
  std::map<std::string, std::size_t> level;
  std::vector<std::vector<std::string>> out;
  for (const auto& s : p.start_order()) {  // each after its dependencies
    std::size_t l = 0;
    for (const auto& [dep, cond] : dependency_conditions(p, s))
      if (level.count(dep)) l = std::max(l, level[dep] + 1);
    level[s] = l;
    if (out.size() <= l) out.resize(l + 1);
    out[l].push_back(s);
  }
  for (auto& l : out) std::sort(l.begin(), l.end());
  return out;
}

std::vector<std::string> stop_order(const Project& p) {
  auto o = p.start_order();
  std::reverse(o.begin(), o.end());
  return o;
}

std::string service_image(const Project& p, const std::string& service) {
  const json& s = service_of(p, service);
  if (s.contains("image") && s["image"].is_string()) return s["image"].get<std::string>();
  return p.name + "-" + service;
}

bool has_build(const Project& p, const std::string& service) { return service_of(p, service).contains("build"); }

namespace {

// Query encoding of a value for /build (percent-encoding of what is not unreserved).
std::string qenc(const std::string& v) {
  static const char* hex = "0123456789ABCDEF";
  std::string r;
  for (unsigned char c : v) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') r += static_cast<char>(c);
    else r += std::string("%") + hex[c >> 4] + hex[c & 15];
  }
  return r;
}

// build.secrets: each the top-level secret's file or environment variable (Compose v2's rule:
// the id is the target when set, else the source).
std::vector<BuildSecret> build_secrets(const Project& p, const json& list, const std::string& what) {
  std::vector<BuildSecret> out;
  const json& top_level = (*p.model).value("secrets", json::object());
  for (const auto& item : list) {
    std::string source = item.value("source", "");
    for (const auto& [k, x] : item.items())
      if (k != "source" && k != "target" && k.rfind("x-", 0) != 0)
        refuse(what + ".secrets[" + source + "]", k, "a build secret's uid, gid and mode are its RUN --mount's options");
    const json def = top_level.value(source, json::object());
    BuildSecret s;
    s.id = item.value("target", source);
    if (def.value("external", false)) throw Error("unsupported external secret " + def.value("name", source));
    if (def.contains("environment")) s.env = def["environment"].get<std::string>();
    else if (def.contains("file")) s.file = def["file"].get<std::string>();
    else throw Error("secrets." + source + ": neither `file` nor `environment` is set");
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace

BuildPlan build_plan(const Project& p, const std::string& service, const BuildFlags& flags) {
  const json& s = service_of(p, service);
  const std::string what = "services." + service + ".build";
  if (!s.contains("build")) throw Error("services." + service + ": no `build` section");
  const json& b = s["build"];
  BuildPlan plan;
  plan.image = service_image(p, service);
  std::string query = "&t=" + qenc(plan.image);
  json args = json::object(), labels = json::object();
  bool no_cache = flags.no_cache, pull = flags.pull;
  for (const auto& [k, v] : b.items()) {
    if (k.rfind("x-", 0) == 0) continue;
    if (k == "context") {
      plan.context = v.get<std::string>();
      if (plan.context.find("://") != std::string::npos || plan.context.rfind("git@", 0) == 0)
        refuse(what, "context: " + plan.context, "a remote context: hoist's builder takes a directory");
    } else if (k == "dockerfile") plan.dockerfile = v.get<std::string>();
    else if (k == "dockerfile_inline") {
      plan.has_inline = true;
      plan.dockerfile_inline = v.get<std::string>();
    } else if (k == "args") {
      for (const auto& [ak, av] : v.items())
        if (!av.is_null()) args[ak] = scalar(av);  // unset in the environment: not sent, as Compose
    } else if (k == "labels") {
      for (const auto& [lk, lv] : v.items()) labels[lk] = scalar(lv);
    } else if (k == "target") query += "&target=" + qenc(v.get<std::string>());
    else if (k == "cache_from") query += "&cachefrom=" + qenc(v.dump());
    else if (k == "no_cache") no_cache = no_cache || v.get<bool>();
    else if (k == "pull") pull = pull || v.get<bool>();
    else if (k == "network") query += "&networkmode=" + qenc(v.get<std::string>());
    else if (k == "shm_size") query += "&shmsize=" + qenc(scalar(v));
    else if (k == "isolation") query += "&isolation=" + qenc(v.get<std::string>());
    else if (k == "extra_hosts") {
      // One extrahosts parameter per host, as docker's client sends them (dockerd reads r.Form).
      for (const auto& e : v) {
        std::string x = e.get<std::string>();
        auto eq = x.find('=');
        query += "&extrahosts=" + qenc(eq == std::string::npos ? x : x.substr(0, eq) + ":" + x.substr(eq + 1));
      }
    } else if (k == "ulimits") {
      json ul = json::array();
      for (const auto& [uk, uv] : v.items()) {
        if (uv.is_object()) ul.push_back({{"Name", uk}, {"Soft", uv.value("soft", 0LL)}, {"Hard", uv.value("hard", 0LL)}});
        else ul.push_back({{"Name", uk}, {"Soft", uv}, {"Hard", uv}});
      }
      query += "&ulimits=" + qenc(ul.dump());
    } else if (k == "tags") {
      for (const auto& t : v) query += "&t=" + qenc(t.get<std::string>());
    } else if (k == "platforms") {
      if (v.size() > 1) refuse(what, "platforms", "several platforms need BuildKit");
      if (v.size() == 1) query += "&platform=" + qenc(v[0].get<std::string>());
    } else if (k == "secrets") {
      plan.secrets = build_secrets(p, v, what);
    } else if (k == "ssh") {
      for (const auto& e : v) {  // the model's "<id>: <path>" as --ssh's "<id>=<path>"
        std::string entry = e.get<std::string>();
        auto colon = entry.find(": ");
        plan.ssh.push_back(colon == std::string::npos ? entry : entry.substr(0, colon) + "=" + entry.substr(colon + 2));
      }
    } else if (k == "cache_to" || k == "additional_contexts" || k == "entitlements" ||
               k == "privileged" || k == "no_cache_filter" || k == "provenance" || k == "sbom") {
      refuse(what, k, "it needs BuildKit; hoist builds with the classic builder (POST /build)");
    } else refuse(what, k);
  }
  // Compose's labels on the image (after the file's own, which cannot override them).
  labels[kLabelProject] = p.name;
  labels[kLabelService] = service;
  labels[kLabelVersion] = kComposeVersion;
  if (no_cache) query += "&nocache=1";
  if (pull) query += "&pull=1";
  query += "&rm=1&buildargs=" + qenc(args.dump()) + "&labels=" + qenc(labels.dump());
  plan.query = query;
  return plan;
}

std::map<std::string, std::string> container_labels(const Project& p, const std::string& service, int number,
                                                    const std::string& image_id) {
  const json& s = service_of(p, service);
  std::map<std::string, std::string> l;
  const json own = labels_of(s);
  for (const auto& [k, v] : own.items()) l[k] = v.get<std::string>();
  l[kLabelProject] = p.name;
  l[kLabelService] = service;
  l[kLabelNumber] = std::to_string(number);
  l[kLabelOneoff] = "False";
  l[kLabelConfigHash] = p.config_hash(service);
  l[kLabelWorkingDir] = p.working_dir;
  l[kLabelConfigFiles] = join(p.config_files, ",");
  std::vector<std::string> deps;
  if (s.contains("depends_on") && s["depends_on"].is_object())
    for (const auto& [dep, d] : s["depends_on"].items())
      deps.push_back(dep + ":" + (d.is_object() ? d.value("condition", std::string("service_started")) : "service_started") +
                     ":" + (d.is_object() && d.value("restart", false) ? "true" : "false"));
  l[kLabelDependsOn] = join(deps, ",");
  l[kLabelImage] = image_id;
  l[kLabelVersion] = kComposeVersion;
  return l;
}

bool network_is_external(const Project& p, const std::string& key) {
  const json& n = top(p, "networks", key);
  return n.is_object() && n.value("external", false);
}
bool volume_is_external(const Project& p, const std::string& key) {
  const json& v = top(p, "volumes", key);
  return v.is_object() && v.value("external", false);
}
std::string network_name(const Project& p, const std::string& key) {
  const json& n = top(p, "networks", key);
  return n.is_object() && n.contains("name") ? n["name"].get<std::string>() : p.name + "_" + key;
}
std::string volume_name(const Project& p, const std::string& key) {
  const json& v = top(p, "volumes", key);
  return v.is_object() && v.contains("name") ? v["name"].get<std::string>() : p.name + "_" + key;
}

std::string network_hash(const Project& p, const std::string& key) {
  return digest_of(top(p, "networks", key).dump()).hex;
}
std::string volume_hash(const Project& p, const std::string& key) {
  return digest_of(top(p, "volumes", key).dump()).hex;
}

std::vector<std::string> service_volume_names(const Project& p, const std::string& service) {
  const json& s = service_of(p, service);
  const json& m = *p.model;
  std::vector<std::string> out;
  if (s.contains("volumes"))
    for (const auto& v : s["volumes"]) {
      std::string src = v.value("source", "");
      if (v.value("type", "volume") == "volume" && m.contains("volumes") && m["volumes"].contains(src))
        out.push_back(volume_name(p, src));
    }
  return out;
}

json network_create_body(const Project& p, const std::string& key) {
  const json& n = top(p, "networks", key);
  std::string what = "networks." + key;
  json b = {{"Name", network_name(p, key)}, {"CheckDuplicate", true}, {"Driver", "bridge"}};
  json labels = labels_of(n);
  labels[kLabelNetwork] = key;
  labels[kLabelProject] = p.name;
  labels[kLabelVersion] = kComposeVersion;
  labels[kLabelConfigHash] = network_hash(p, key);
  b["Labels"] = labels;
  if (n.is_object())
    for (const auto& [k, v] : n.items()) {
      if (k == "name" || k == "labels" || k == "external" || k.rfind("x-", 0) == 0) continue;
      if (k == "driver") b["Driver"] = v;
      else if (k == "driver_opts") {
        json o = json::object();
        for (const auto& [ok, ov] : v.items()) o[ok] = scalar(ov);
        b["Options"] = o;
      } else if (k == "internal") b["Internal"] = v;
      else if (k == "attachable") b["Attachable"] = v;
      else if (k == "enable_ipv6") b["EnableIPv6"] = v;
      else if (k == "ipam") {
        json ipam = {{"Driver", v.value("driver", std::string("default"))}, {"Config", json::array()}};
        for (const auto& [ik, iv] : v.items()) {
          if (ik == "driver") continue;
          if (ik == "options") {
            json o = json::object();
            for (const auto& [ok, ov] : iv.items()) o[ok] = scalar(ov);
            ipam["Options"] = o;
          } else if (ik == "config") {
            for (const auto& c : iv) {
              json cfg = json::object();
              for (const auto& [ck, cv] : c.items()) {
                if (ck == "subnet") cfg["Subnet"] = cv;
                else if (ck == "ip_range") cfg["IPRange"] = cv;
                else if (ck == "gateway") cfg["Gateway"] = cv;
                else if (ck == "aux_addresses") cfg["AuxiliaryAddresses"] = cv;
                else refuse(what + ".ipam.config", ck);
              }
              ipam["Config"].push_back(cfg);
            }
          } else refuse(what + ".ipam", ik);
        }
        b["IPAM"] = ipam;
      } else refuse(what, k);
    }
  return b;
}

json volume_create_body(const Project& p, const std::string& key) {
  const json& v = top(p, "volumes", key);
  std::string what = "volumes." + key;
  json b = {{"Name", volume_name(p, key)}, {"Driver", "local"}, {"DriverOpts", json::object()}};
  json labels = labels_of(v);
  labels[kLabelVolume] = key;
  labels[kLabelProject] = p.name;
  labels[kLabelVersion] = kComposeVersion;
  labels[kLabelConfigHash] = volume_hash(p, key);
  b["Labels"] = labels;
  if (v.is_object())
    for (const auto& [k, x] : v.items()) {
      if (k == "name" || k == "labels" || k == "external" || k.rfind("x-", 0) == 0) continue;
      if (k == "driver") b["Driver"] = x;
      else if (k == "driver_opts")
        for (const auto& [ok, ov] : x.items()) b["DriverOpts"][ok] = scalar(ov);
      else refuse(what, k);
    }
  return b;
}

namespace {

// "80/tcp"
std::string port_key(const json& target, const std::string& proto) { return scalar(target) + "/" + proto; }

json healthcheck_of(const json& h, const std::string& what) {
  json r = json::object();
  if (h.value("disable", false)) return {{"Test", {"NONE"}}};
  for (const auto& [k, v] : h.items()) {
    if (k == "test") r["Test"] = v;
    else if (k == "interval") r["Interval"] = ns_of(v);
    else if (k == "timeout") r["Timeout"] = ns_of(v);
    else if (k == "start_period") r["StartPeriod"] = ns_of(v);
    else if (k == "start_interval") r["StartInterval"] = ns_of(v);
    else if (k == "retries") r["Retries"] = v;
    else if (k == "disable") continue;
    else refuse(what + ".healthcheck", k);
  }
  return r;
}

struct Mapped {
  json config = json::object();
  json host = json::object();
  json restart_policy;  // deploy.restart_policy's, over `restart`
};

void map_volumes(const Project& p, const json& vols, const std::string& what, Mapped& m) {
  for (const auto& v : vols) {
    std::string type = v.value("type", std::string("volume"));
    std::string target = v.value("target", std::string());
    bool ro = v.value("read_only", false);
    for (const auto& [k, x] : v.items())
      if (k != "type" && k != "source" && k != "target" && k != "read_only" && k != "consistency" && k != type)
        refuse(what + ".volumes[" + target + "]", k);
    if (type == "bind") {
      const json bo = v.value("bind", json::object());
      std::string opts = ro ? "ro" : "";
      for (const auto& [k, x] : bo.items()) {
        if (k == "create_host_path") continue;
        if (k == "propagation") opts += std::string(opts.empty() ? "" : ",") + x.get<std::string>();
        else refuse(what + ".volumes[" + target + "].bind", k);
      }
      if (bo.contains("create_host_path") && !bo["create_host_path"].get<bool>()) {
        json mnt = {{"Type", "bind"}, {"Source", v.value("source", std::string())}, {"Target", target}, {"ReadOnly", ro}};
        if (bo.contains("propagation")) mnt["BindOptions"] = {{"Propagation", bo["propagation"]}};
        m.host["Mounts"].push_back(mnt);
      } else {
        m.host["Binds"].push_back(v.value("source", std::string()) + ":" + target + (opts.empty() ? "" : ":" + opts));
      }
    } else if (type == "volume") {
      json mnt = {{"Type", "volume"}, {"Target", target}, {"ReadOnly", ro}};
      if (v.contains("source") && !v["source"].get<std::string>().empty()) {
        std::string src = v["source"].get<std::string>();
        const json& m0 = *p.model;
        mnt["Source"] = m0.contains("volumes") && m0["volumes"].contains(src) ? volume_name(p, src) : src;
      } else {
        mnt["Source"] = "";
      }
      const json vo = v.value("volume", json::object());
      for (const auto& [k, x] : vo.items()) {
        if (k == "nocopy") mnt["VolumeOptions"]["NoCopy"] = x;
        else if (k == "subpath") mnt["VolumeOptions"]["Subpath"] = x;
        else refuse(what + ".volumes[" + target + "].volume", k);
      }
      m.host["Mounts"].push_back(mnt);
    } else if (type == "tmpfs") {
      json mnt = {{"Type", "tmpfs"}, {"Target", target}, {"ReadOnly", ro}};
      const json to = v.value("tmpfs", json::object());
      for (const auto& [k, x] : to.items()) {
        if (k == "size") mnt["TmpfsOptions"]["SizeBytes"] = x;
        else if (k == "mode") mnt["TmpfsOptions"]["Mode"] = x;
        else refuse(what + ".volumes[" + target + "].tmpfs", k);
      }
      m.host["Mounts"].push_back(mnt);
    } else {
      refuse(what + ".volumes[" + target + "]", "type: " + type);
    }
  }
}

// Where a service's secret / config `item` appears in the container.
std::string file_target(const std::string& kind, const json& item) {
  std::string source = item.value("source", ""), target = item.value("target", "");
  std::string base = kind == "secrets" ? "/run/secrets/" : "/";
  if (target.empty()) return base + source;
  return target[0] == '/' ? target : base + target;
}

// `secrets` and `configs` of a service, as Compose v2 maps them: those backed by a file become
// read-only bind mounts at their target (secrets: /run/secrets/<target|source>, a relative target
// under /run/secrets; configs: /<source>, a relative target under /); those backed by
// `environment` (or a config's `content`) are no mount: the orchestrator copies them into the
// container after its create (file_injections()). A file-backed one ignores uid, gid and mode, with
// Compose's warning; external ones, `driver` and `template_driver` are Compose's errors.
void map_file_mounts(const Project& p, const char* kind, const json& list, const std::string& what, Mapped& m,
                     std::vector<std::string>& warnings) {
  const bool secrets = std::string(kind) == "secrets";
  const json& top_level = (*p.model).value(kind, json::object());
  for (const auto& item : list) {
    std::string source = item.value("source", "");
    for (const auto& [k, x] : item.items())
      if (k != "source" && k != "target" && k != "uid" && k != "gid" && k != "mode")
        refuse(what + "." + kind + "[" + source + "]", k);
    const json def = top_level.value(source, json::object());
    std::string name = def.value("name", source);
    if (def.value("external", false))
      throw Error(std::string("unsupported external ") + (secrets ? "secret " : "config ") + name);
    if (def.contains("driver")) throw Error(std::string("Docker Compose does not support ") + kind + ".*.driver");
    if (def.contains("template_driver"))
      throw Error(std::string("Docker Compose does not support ") + kind + ".*.template_driver");
    if (def.contains("environment") || (!secrets && def.contains("content"))) continue;  // file_injections()
    if (!def.contains("file"))
      throw Error(std::string(kind) + "." + source + ": neither `file`, `environment` nor `content` is set");
    if (item.contains("uid") || item.contains("gid") || item.contains("mode"))
      warnings.push_back(secrets ? "secrets `uid`, `gid` and `mode` are not supported, they will be ignored"
                                 : "config `uid`, `gid` and `mode` are not supported, they will be ignored");
    m.host["Mounts"].push_back(
        {{"Type", "bind"}, {"Source", def["file"]}, {"Target", file_target(kind, item)}, {"ReadOnly", true}});
  }
}

// deploy: what Compose v2 applies to a plain engine: resources.limits (memory, cpus, pids),
// resources.reservations (memory; devices as DeviceRequests), restart_policy (condition and
// max_attempts; after `restart`, which it overrides). The swarm's keys (mode, placement,
// endpoint_mode, labels, update_config, rollback_config, restart_policy's delay and window, a
// reservation's cpus and pids, generic_resources) are ignored, as Compose v2 ignores them.
void map_deploy(const json& d, const std::string& what, Mapped& m) {
  static const std::set<std::string> kSwarm = {"mode", "placement", "endpoint_mode", "labels", "update_config",
                                               "rollback_config"};
  for (const auto& [k, v] : d.items()) {
    if (k == "replicas" || kSwarm.count(k) || k.rfind("x-", 0) == 0) continue;
    if (k == "restart_policy") {
      for (const auto& [rk, rv] : v.items())
        if (rk != "condition" && rk != "max_attempts" && rk != "delay" && rk != "window" && rk.rfind("x-", 0) != 0)
          refuse(what + ".deploy.restart_policy", rk);
      std::string c = v.value("condition", std::string());
      std::string name = c == "none" ? "no" : c == "any" ? "always" : c;
      m.restart_policy = {{"Name", name}, {"MaximumRetryCount", v.value("max_attempts", 0)}};
      continue;
    }
    if (k != "resources") refuse(what + ".deploy", k);
    for (const auto& [rk, rv] : v.items()) {
      if (rk.rfind("x-", 0) == 0) continue;
      if (rk != "limits" && rk != "reservations") refuse(what + ".deploy.resources", rk);
      const std::string at = what + ".deploy.resources." + rk;
      for (const auto& [lk, lv] : rv.items()) {
        if (lk.rfind("x-", 0) == 0 || lk == "generic_resources") continue;
        if (rk == "limits") {
          if (lk == "cpus") m.host["NanoCpus"] = static_cast<long long>(std::llround(std::stod(scalar(lv)) * 1e9));
          else if (lk == "memory") m.host["Memory"] = lv;
          else if (lk == "pids") m.host["PidsLimit"] = lv;
          else if (lk == "devices") continue;  // not applied by Compose v2
          else refuse(at, lk);
        } else {
          if (lk == "memory") m.host["MemoryReservation"] = lv;
          else if (lk == "cpus" || lk == "pids") continue;  // a swarm's reservation, a limit only
          else if (lk == "devices") {
            json reqs = m.host.value("DeviceRequests", json::array());
            for (const auto& dev : lv) {
              json count = dev.value("count", json(0));  // a number, or "all" (-1)
              json r = {{"Driver", dev.value("driver", std::string())},
                        {"Count", count.is_number_integer() ? count.get<long long>() : count == "all" ? -1 : 0},
                        {"DeviceIDs", dev.value("device_ids", json::array())},
                        {"Capabilities", json::array({dev.value("capabilities", json::array())})},
                        {"Options", json::object()}};
              for (const auto& [dk, dv] : dev.items())
                if (dk != "driver" && dk != "count" && dk != "device_ids" && dk != "capabilities" &&
                    dk != "options")
                  refuse(at + ".devices", dk);
              if (dev.contains("options"))
                for (const auto& [ok, ov] : dev["options"].items()) r["Options"][ok] = scalar(ov);
              reqs.push_back(r);
            }
            m.host["DeviceRequests"] = reqs;
          } else refuse(at, lk);
        }
      }
    }
  }
}

// The service's networks as (key, settings), primary first: by priority (higher first), then name.
std::vector<std::pair<std::string, json>> service_networks(const json& s) {
  std::vector<std::pair<std::string, json>> v;
  if (s.contains("networks") && s["networks"].is_object())
    for (const auto& [k, x] : s["networks"].items()) v.emplace_back(k, x.is_object() ? x : json::object());
  std::stable_sort(v.begin(), v.end(), [](const auto& a, const auto& b) {
    int pa = a.second.value("priority", 0), pb = b.second.value("priority", 0);
    return pa != pb ? pa > pb : a.first < b.first;
  });
  return v;
}

}  // namespace

CreatePlan container_create_plan(const Project& p, const std::string& service, int number,
                                 const std::string& image_id) {
  const json& s = service_of(p, service);
  const std::string what = "services." + service;
  if (!s.contains("image") && !s.contains("build")) throw Error(what + ": neither `image` nor `build` is set");
  CreatePlan plan;
  plan.name = container_name(p, service, number);
  Mapped m;
  json& c = m.config;
  json& h = m.host;
  c["Image"] = service_image(p, service);
  json labels = json::object();
  for (const auto& [k, v] : container_labels(p, service, number, image_id)) labels[k] = v;
  c["Labels"] = labels;
  // Sent also when unset: dockerd before 25 keeps "" where later ones and hoistd say "no".
  h["RestartPolicy"] = {{"Name", "no"}, {"MaximumRetryCount", 0}};
  h["Binds"] = json::array();
  h["Mounts"] = json::array();
  json exposed = json::object();
  json bindings = json::object();
  std::string network_mode;
  json body = json::object();

  static const std::set<std::string> kIgnored = {
      // what the orchestrator uses itself, or the loader has resolved
      "image", "build", "depends_on", "scale", "profiles", "pull_policy", "labels", "networks", "container_name",
      "env_file", "extends",
      "develop"};  // `watch`'s, not the container's
  for (const auto& [k, v] : s.items()) {
    if (kIgnored.count(k) || k.rfind("x-", 0) == 0) continue;  // x-*: extensions, for tools
    if (k == "command") c["Cmd"] = v;
    else if (k == "entrypoint") c["Entrypoint"] = v;
    else if (k == "environment") {
      json env = json::array();
      for (const auto& [ek, ev] : v.items())
        if (!ev.is_null()) env.push_back(ek + "=" + scalar(ev));
      c["Env"] = env;
    } else if (k == "ports") {
      for (const auto& port : v) {
        for (const auto& [pk, pv] : port.items())
          if (pk != "mode" && pk != "host_ip" && pk != "target" && pk != "published" && pk != "protocol" && pk != "app_protocol" && pk != "name")
            refuse(what + ".ports", pk);
        std::string key = port_key(port["target"], port.value("protocol", std::string("tcp")));
        exposed[key] = json::object();
        json b = {{"HostIp", port.value("host_ip", std::string())},
                  {"HostPort", port.contains("published") ? scalar(port["published"]) : std::string()}};
        bindings[key].push_back(b);
      }
    } else if (k == "expose") {
      for (const auto& e : v) {
        std::string x = scalar(e);
        exposed[x.find('/') == std::string::npos ? x + "/tcp" : x] = json::object();
      }
    } else if (k == "volumes") map_volumes(p, v, what, m);
    else if (k == "tmpfs") {
      json t = json::object();
      for (const auto& e : v) {
        std::string x = scalar(e);
        auto colon = x.find(':');
        t[x.substr(0, colon)] = colon == std::string::npos ? "" : x.substr(colon + 1);
      }
      h["Tmpfs"] = t;
    } else if (k == "secrets" || k == "configs") map_file_mounts(p, k.c_str(), v, what, m, plan.warnings);
    else if (k == "network_mode") network_mode = v.get<std::string>();
    else if (k == "healthcheck") c["Healthcheck"] = healthcheck_of(v, what);
    else if (k == "restart") {
      std::string r = v.get<std::string>();
      json rp = {{"Name", r}, {"MaximumRetryCount", 0}};
      if (r.rfind("on-failure:", 0) == 0) rp = {{"Name", "on-failure"}, {"MaximumRetryCount", std::stoi(r.substr(11))}};
      h["RestartPolicy"] = rp;
    } else if (k == "deploy") map_deploy(v, what, m);
    else if (k == "hostname") c["Hostname"] = v;
    else if (k == "domainname") c["Domainname"] = v;
    else if (k == "user") c["User"] = v;
    else if (k == "working_dir") c["WorkingDir"] = v;
    else if (k == "stop_signal") c["StopSignal"] = v;
    else if (k == "stop_grace_period") c["StopTimeout"] = static_cast<int>(ns_of(v) / 1000000000LL);
    else if (k == "tty") c["Tty"] = v;
    else if (k == "stdin_open") c["OpenStdin"] = v;
    else if (k == "init") h["Init"] = v;
    else if (k == "privileged") h["Privileged"] = v;
    else if (k == "read_only") h["ReadonlyRootfs"] = v;
    else if (k == "cap_add") h["CapAdd"] = v;
    else if (k == "cap_drop") h["CapDrop"] = v;
    else if (k == "dns") h["Dns"] = v;
    else if (k == "dns_search") h["DnsSearch"] = v;
    else if (k == "dns_opt") h["DnsOptions"] = v;
    else if (k == "shm_size") h["ShmSize"] = v;
    else if (k == "mem_limit") h["Memory"] = v;
    else if (k == "pids_limit") h["PidsLimit"] = v;
    else if (k == "cpus") h["NanoCpus"] = static_cast<long long>(std::llround(v.get<double>() * 1e9));
    else if (k == "sysctls") {
      json sc = json::object();
      for (const auto& [sk, sv] : v.items()) sc[sk] = scalar(sv);
      h["Sysctls"] = sc;
    } else if (k == "extra_hosts") {
      json eh = json::array();
      for (const auto& e : v) {
        std::string x = e.get<std::string>();
        auto eq = x.find('=');
        eh.push_back(eq == std::string::npos ? x : x.substr(0, eq) + ":" + x.substr(eq + 1));
      }
      h["ExtraHosts"] = eh;
    } else if (k == "ulimits") {
      json ul = json::array();
      for (const auto& [uk, uv] : v.items()) {
        if (uv.is_object()) ul.push_back({{"Name", uk}, {"Soft", uv.value("soft", 0LL)}, {"Hard", uv.value("hard", 0LL)}});
        else ul.push_back({{"Name", uk}, {"Soft", uv}, {"Hard", uv}});
      }
      h["Ulimits"] = ul;
    } else if (k == "logging") {
      json lc = {{"Type", v.value("driver", std::string())}, {"Config", json::object()}};
      if (v.contains("options"))
        for (const auto& [ok, ov] : v["options"].items()) lc["Config"][ok] = scalar(ov);
      h["LogConfig"] = lc;
    } else if (k == "devices") {
      json devs = json::array();
      for (const auto& e : v) {
        // SOURCE[:TARGET[:PERMISSIONS]]
        std::string x = scalar(e);
        std::vector<std::string> parts;
        for (std::size_t start = 0, i = 0; i <= x.size(); ++i)
          if (i == x.size() || x[i] == ':') parts.push_back(x.substr(start, i - start)), start = i + 1;
        if (parts.size() > 3 || parts[0].empty()) throw Error(what + ".devices: invalid device \"" + x + "\"");
        devs.push_back({{"PathOnHost", parts[0]},
                        {"PathInContainer", parts.size() > 1 && !parts[1].empty() ? parts[1] : parts[0]},
                        {"CgroupPermissions", parts.size() > 2 ? parts[2] : "rwm"}});
      }
      h["Devices"] = devs;
    } else if (k == "volumes_from") {
      // service:NAME (and NAME) and container:NAME; resolve_references() names the containers.
      json vf = json::array();
      for (const auto& e : v) vf.push_back(scalar(e));
      h["VolumesFrom"] = vf;
    } else if (k == "links" || k == "external_links") {
      continue;  // service_links(): the linked services' containers, known at create time
    } else refuse(what, k);
  }
  if (!m.restart_policy.is_null()) h["RestartPolicy"] = m.restart_policy;
  if (!exposed.empty()) c["ExposedPorts"] = exposed;
  h["PortBindings"] = bindings;  // {} when none, as Compose v2 and docker's CLI send it

  auto nets = service_networks(s);
  if (!network_mode.empty()) {
    if (!nets.empty()) throw Error(what + ": `network_mode` and `networks` cannot be combined");
    h["NetworkMode"] = network_mode;  // service:NAME: resolve_references() names the container
  } else {
    for (std::size_t i = 0; i < nets.size(); ++i) {
      const auto& [key, cfg] = nets[i];
      json ep = json::object();
      json aliases = json::array({service});
      for (const auto& [nk, nv] : cfg.items()) {
        if (nk == "aliases") {
          for (const auto& a : nv)
            if (std::find(aliases.begin(), aliases.end(), a) == aliases.end()) aliases.push_back(a);
        } else if (nk == "ipv4_address") ep["IPAMConfig"]["IPv4Address"] = nv;
        else if (nk == "ipv6_address") ep["IPAMConfig"]["IPv6Address"] = nv;
        else if (nk == "priority") continue;
        else refuse(what + ".networks." + key, nk);
      }
      ep["Aliases"] = aliases;
      std::string name = network_name(p, key);
      if (i == 0) {
        h["NetworkMode"] = name;
        body["NetworkingConfig"] = {{"EndpointsConfig", {{name, ep}}}};
      } else {
        plan.connect_after.push_back({name, ep.dump()});
      }
    }
  }
  for (auto& [k, v] : c.items()) body[k] = v;
  body["HostConfig"] = h;
  plan.body = body.dump();
  return plan;
}

std::vector<std::string> split_command(const std::string& s) { return detail::shell_split(s, "entrypoint"); }

CreatePlan run_plan(const Project& p, const std::string& service, const RunOptions& o, const std::string& image_id) {
  CreatePlan plan = container_create_plan(p, service, 1, image_id);
  json body = json::parse(plan.body);
  plan.name = !o.name.empty() ? o.name : p.name + "-" + service + "-run-" + o.slug.substr(0, 12);
  json& l = body["Labels"];
  for (const auto& [k, v] : o.labels) l[k] = v;
  l[kLabelOneoff] = "True";
  l[kLabelSlug] = o.slug;
  l[kLabelNumber] = "-1";
  json& h = body["HostConfig"];
  h["RestartPolicy"] = {{"Name", "no"}, {"MaximumRetryCount", 0}};
  if (o.remove) h["AutoRemove"] = true;
  if (!o.service_ports) {
    h["PortBindings"] = json::object();
    // `expose`d ports stay exposed; what `ports` added goes.
    const json& s = service_of(p, service);
    json exposed = json::object();
    if (s.contains("expose"))
      for (const auto& e : s["expose"]) {
        std::string x = scalar(e);
        exposed[x.find('/') == std::string::npos ? x + "/tcp" : x] = json::object();
      }
    if (exposed.empty()) body.erase("ExposedPorts");
    else body["ExposedPorts"] = exposed;
  }
  for (const auto& spec : o.publish) {
    // [IP:][HOST:]CONTAINER[/PROTO]
    std::string x = spec, proto = "tcp";
    if (auto sl = x.rfind('/'); sl != std::string::npos) proto = x.substr(sl + 1), x = x.substr(0, sl);
    std::vector<std::string> parts;
    std::size_t start = 0;
    for (std::size_t i = 0; i <= x.size(); ++i)
      if (i == x.size() || x[i] == ':') parts.push_back(x.substr(start, i - start)), start = i + 1;
    if (parts.size() > 3 || parts.back().empty())
      throw Error("invalid port \"" + spec + "\": expected [IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL]");
    std::string key = parts.back() + "/" + proto;
    body["ExposedPorts"][key] = json::object();
    h["PortBindings"][key].push_back({{"HostIp", parts.size() == 3 ? parts[0] : ""},
                                      {"HostPort", parts.size() >= 2 ? parts[parts.size() - 2] : ""}});
  }
  if (o.command) body["Cmd"] = *o.command;
  if (o.entrypoint) {
    body["Entrypoint"] = *o.entrypoint;
    if (!o.command) body["Cmd"] = json::array();
  }
  if (!o.env.empty()) {
    json env = body.value("Env", json::array());
    for (const auto& e : o.env) {
      std::string k = e.substr(0, e.find('='));
      for (auto it = env.begin(); it != env.end();)
        if (it->get<std::string>().substr(0, it->get<std::string>().find('=')) == k) it = env.erase(it);
        else ++it;
      env.push_back(e);
    }
    body["Env"] = env;
  }
  if (!o.user.empty()) body["User"] = o.user;
  if (!o.workdir.empty()) body["WorkingDir"] = o.workdir;
  body["Tty"] = o.tty;
  body["OpenStdin"] = o.interactive;
  body["AttachStdin"] = o.interactive;
  body["StdinOnce"] = o.interactive;
  body["AttachStdout"] = true;
  body["AttachStderr"] = true;
  auto caps = [&](const char* add, const char* drop, const std::vector<std::string>& v) {
    json a = h.value(add, json::array()), d = json::array();
    for (const auto& c : v) a.push_back(c);
    for (const auto& c : h.value(drop, json::array()))
      if (std::find(v.begin(), v.end(), c.get<std::string>()) == v.end()) d.push_back(c);
    h[add] = a;
    h[drop] = d;
  };
  for (const auto& v : o.volumes) {
    auto colon = v.find(':');
    if (colon == std::string::npos || colon == 0)
      throw Error("invalid volume \"" + v + "\": expected SOURCE:TARGET[:OPTIONS]");
    std::string src = v.substr(0, colon);
    if (src[0] == '.') src = clean_path(p.working_dir + "/" + src);  // relative: from the project directory
    h["Binds"].push_back(src + v.substr(colon));
  }
  if (!o.cap_add.empty()) caps("CapAdd", "CapDrop", o.cap_add);
  if (!o.cap_drop.empty()) caps("CapDrop", "CapAdd", o.cap_drop);
  auto strip = [&](json& ep) {  // only the service's name and aliases are the service's
    if (!o.use_aliases) ep.erase("Aliases");
  };
  if (body.contains("NetworkingConfig"))
    for (auto& [n, ep] : body["NetworkingConfig"]["EndpointsConfig"].items()) strip(ep);
  for (auto& a : plan.connect_after) {
    json ep = json::parse(a.endpoint);
    strip(ep);
    a.endpoint = ep.dump();
  }
  plan.body = body.dump();
  return plan;
}

void inherit_anonymous_volumes(CreatePlan& plan, const std::vector<std::pair<std::string, std::string>>& old_volumes) {
  json body = json::parse(plan.body);
  json& mounts = body["HostConfig"]["Mounts"];
  if (!mounts.is_array()) mounts = json::array();
  std::set<std::string> named, targets;
  for (const auto& m : mounts) {
    targets.insert(m.value("Target", ""));
    if (m.value("Type", "") == "volume" && !m.value("Source", "").empty()) named.insert(m.value("Source", ""));
  }
  for (const auto& b : body["HostConfig"].value("Binds", json::array())) {
    std::string s = b.get<std::string>();
    auto c1 = s.find(':');
    if (c1 != std::string::npos) targets.insert(s.substr(c1 + 1, s.find(':', c1 + 1) - c1 - 1));
  }
  for (const auto& [target, name] : old_volumes) {
    if (named.count(name)) continue;
    bool filled = false;
    for (auto& m : mounts)
      if (m.value("Type", "") == "volume" && m.value("Target", "") == target && m.value("Source", "").empty()) {
        m["Source"] = name;
        filled = true;
      }
    if (!filled && !targets.count(target))
      mounts.push_back({{"Type", "volume"}, {"Source", name}, {"Target", target}, {"ReadOnly", false}});
  }
  plan.body = body.dump();
}

std::vector<Step> converge(std::vector<Existing> existing, int want, const std::string& config_hash,
                           const std::string& image_id, const ConvergeOptions& opts) {
  std::sort(existing.begin(), existing.end(), [](const Existing& a, const Existing& b) {
    return a.number != b.number ? a.number < b.number : a.name < b.name;
  });
  std::vector<Step> steps;
  int highest = 0;
  for (const auto& e : existing) highest = std::max(highest, e.number);
  int kept = 0;
  for (const auto& e : existing) {
    if (kept >= want) {
      steps.push_back({Step::Remove, e.number, e.id});
      continue;
    }
    ++kept;
    bool changed = e.config_hash != config_hash || (!image_id.empty() && e.image_id != image_id);
    for (const auto& [net, id] : opts.networks) {
      auto it = e.networks.find(net);
      if (it == e.networks.end() || (!it->second.empty() && it->second != id)) changed = true;
    }
    for (const auto& v : opts.volumes)
      if (std::find(e.volumes.begin(), e.volumes.end(), v) == e.volumes.end()) changed = true;
    if (opts.force_recreate || (changed && !opts.no_recreate)) steps.push_back({Step::Recreate, e.number, e.id});
    else if (e.state == "running") steps.push_back({Step::Keep, e.number, e.id});
    else steps.push_back({Step::Start, e.number, e.id});
  }
  for (int i = kept; i < want; ++i) steps.push_back({Step::Create, ++highest, ""});
  return steps;
}

}  // namespace hoist::compose
