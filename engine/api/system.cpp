// System endpoints: /_ping, /version, /info, /events, /system/df.
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <map>
#include <set>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/file.h"
#include "common/strings.h"
#include "engine/api/routes.h"
#include "engine/api/request_json.h"

namespace hoist::engine {

using nlohmann::json;

std::string images_list_json(Daemon& d, const Filters& f, bool all);  // api_images.cpp
std::int64_t images_layers_size(Daemon& d);                            // api_images.cpp

namespace {

// dockerd's SharedSize of /system/df's images: the size of each image's layers that another image
// has too, by image id.
std::map<std::string, std::int64_t> images_shared_size(Daemon& d) {
  std::vector<image::ImageRecord> recs = d.store().list();
  std::map<Digest, int> users;
  for (const auto& rec : recs) {
    std::set<Digest> chains;
    for (const auto& l : rec.layers) chains.insert(l.chain_id);
    for (const Digest& c : chains) ++users[c];
  }
  std::map<std::string, std::int64_t> out;
  for (const auto& rec : recs) {
    std::int64_t& size = out[rec.id.str()];
    for (const auto& l : rec.layers)
      if (users[l.chain_id] > 1) size += d.store().snapshot_size(l.chain_id);
  }
  return out;
}

std::string kernel_version() {
  utsname u{};
  ::uname(&u);
  return u.release;
}

std::string go_arch() {
  utsname u{};
  ::uname(&u);
  std::string m = u.machine;
  if (m == "x86_64") return "amd64";
  if (m == "aarch64") return "arm64";
  if (m.size() >= 3 && m.compare(0, 3, "arm") == 0) return "arm";
  return m;
}

std::string os_pretty_name() {
  std::ifstream f("/etc/os-release");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("PRETTY_NAME=", 0) == 0) {
      auto v = line.substr(12);
      if (v.size() >= 2 && v.front() == '"') v = v.substr(1, v.size() - 2);
      return v;
    }
  }
  return "Linux";
}

std::string hostname() {
  char buf[256] = {};
  ::gethostname(buf, sizeof buf - 1);
  return buf;
}

// Docker's since/until: unix seconds (with optional .nanoseconds), a Go duration ("10m", "1h30m")
// meaning that long ago, or RFC 3339.
std::int64_t parse_time_nano(const std::string& s, std::int64_t now_nano) {
  if (s.empty()) return 0;
  if (s.find_first_not_of("0123456789.") == std::string::npos) {
    auto dot = s.find('.');
    std::int64_t sec = parse_int(s.substr(0, dot), "timestamp");
    std::int64_t ns = 0;
    if (dot != std::string::npos) {
      std::string frac = s.substr(dot + 1);
      frac.resize(9, '0');
      ns = parse_int(frac.substr(0, 9), "timestamp");
    }
    return sec * 1000000000 + ns;
  }
  // duration
  std::int64_t total = 0, num = 0;
  bool ok = true, any = false;
  for (char c : s) {
    if (c >= '0' && c <= '9') {
      num = num * 10 + (c - '0');
      any = true;
    } else if (c == 'h' || c == 'm' || c == 's') {
      total += num * (c == 'h' ? 3600 : c == 'm' ? 60 : 1);
      num = 0;
    } else {
      ok = false;
      break;
    }
  }
  if (ok && any && num == 0) return now_nano - total * 1000000000;
  std::tm tm{};
  if (strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) return std::int64_t(timegm(&tm)) * 1000000000;
  throw InvalidArgument("invalid timestamp: " + s);
}

std::int64_t now_nano() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

void write_json_line(Writer& w, const std::string& serialized) { w.write(serialized + "\r\n"); }

namespace {
bool sysctl_on(const char* path) {
  try {
    return trim(read_file(path)) == "1";
  } catch (const std::exception&) {
    return false;
  }
}
std::string env_or_empty(const char* a, const char* b) {
  if (const char* v = std::getenv(a)) return v;
  if (const char* v = std::getenv(b)) return v;
  return "";
}
}  // namespace

void register_system_routes(Router& r, Daemon& d) {
  auto ping = [](Request& req, Response& res) {
    res.headers["Cache-Control"] = "no-cache, no-store, must-revalidate";
    res.headers["Pragma"] = "no-cache";
    res.headers["Builder-Version"] = "1";
    // What hoist's own CLI may use beyond Docker's API (docs/api.md): the build context's stat entry,
    // the kept contexts, build sessions (RUN --mount=type=ssh).
    res.headers["Hoist-Capabilities"] = "context-stat,context-cache,session";
    if (req.method == "HEAD") {
      res.send(200, "", "text/plain; charset=utf-8");  // Content-Length: 0
      return;
    }
    res.send(200, "OK", "text/plain; charset=utf-8");
  };
  r.get("/_ping", ping);
  r.head("/_ping", ping);

  r.get("/version", [&d](Request&, Response& res) {
    // The top level and the Engine component's Details say the same, as dockerd's.
    json v = {{"ApiVersion", kApiVersion}, {"MinAPIVersion", kMinApiVersion}, {"GitCommit", "hoist"},
              {"GoVersion", "n/a"}, {"Os", "linux"}, {"Arch", go_arch()}, {"KernelVersion", kernel_version()},
              {"BuildTime", ""}};
    json details = v;
    details["Experimental"] = "false";
    v["Platform"] = {{"Name", "Hoist Engine"}};
    v["Version"] = "24.0.0";
    v["Components"] = json::array({{{"Name", "Engine"}, {"Version", "24.0.0"}, {"Details", details}},
                                   {{"Name", "hoist-runtime"}, {"Version", "0.1"}, {"Details", {{"GitCommit", "hoist"}}}}});
    (void)d;
    res.json(200, v.dump() + "\n");
  });

  r.get("/info", [&d](Request&, Response& res) {
    Daemon::ContainerCounts cc;
    if (d.hooks().container_counts) cc = d.hooks().container_counts();
    struct sysinfo si {};
    ::sysinfo(&si);
    auto& store = d.store();
    json reg_cfg = {{"AllowNondistributableArtifactsCIDRs", json::array()},
                    {"AllowNondistributableArtifactsHostnames", json::array()},
                    {"InsecureRegistryCIDRs", json::array({"127.0.0.0/8"})},
                    {"IndexConfigs", json::object()},
                    {"Mirrors", json::array()}};
    json info = {
        {"ID", d.id()},
        {"Containers", cc.total},
        {"ContainersRunning", cc.running},
        {"ContainersPaused", cc.paused},
        {"ContainersStopped", cc.stopped},
        {"Images", store.list().size()},
        {"Driver", store.mode() == image::SnapshotMode::Overlay ? "overlay2" : "vfs"},
        {"DriverStatus", json::array({json::array({"Backing Filesystem", "extfs"})})},
        {"DockerRootDir", d.config().data_root},
        {"Plugins", {{"Volume", json::array({"local"})}, {"Network", json::array({"bridge", "host", "null"})},
                     {"Authorization", nullptr}, {"Log", json::array({"json-file"})}}},
        {"MemoryLimit", true},
        {"SwapLimit", true},
        {"CpuCfsPeriod", true},
        {"CpuCfsQuota", true},
        {"CPUShares", true},
        {"CPUSet", true},
        {"PidsLimit", true},
        {"IPv4Forwarding", true},
        {"Debug", d.config().debug},
        {"NFd", 0},
        {"NGoroutines", 0},
        {"SystemTime", ""},
        {"LoggingDriver", "json-file"},
        {"CgroupDriver", "cgroupfs"},
        {"CgroupVersion", ::access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0 ? "2" : "1"},
        {"NEventsListener", 0},
        {"KernelVersion", kernel_version()},
        {"OperatingSystem", os_pretty_name()},
        {"OSVersion", ""},
        {"OSType", "linux"},
        {"Architecture", go_arch() == "amd64" ? "x86_64" : go_arch()},
        {"IndexServerAddress", "https://index.docker.io/v1/"},
        {"RegistryConfig", reg_cfg},
        {"NCPU", ::sysconf(_SC_NPROCESSORS_ONLN)},
        {"MemTotal", std::int64_t(si.totalram) * si.mem_unit},
        {"Name", hostname()},
        {"Labels", json::array()},
        {"ExperimentalBuild", false},
        {"ServerVersion", "24.0.0"},
        {"Runtimes", {{d.config().runtime, {{"path", d.config().runtime}}}}},
        {"DefaultRuntime", d.config().runtime},
        {"Swarm", {{"NodeID", ""}, {"NodeAddr", ""}, {"LocalNodeState", "inactive"}, {"ControlAvailable", false},
                   {"Error", ""}, {"RemoteManagers", nullptr}}},
        {"LiveRestoreEnabled", false},
        {"KernelMemory", false},
        {"KernelMemoryTCP", false},
        {"OomKillDisable", true},
        {"BridgeNfIptables", sysctl_on("/proc/sys/net/bridge/bridge-nf-call-iptables")},
        {"BridgeNfIp6tables", sysctl_on("/proc/sys/net/bridge/bridge-nf-call-ip6tables")},
        {"GenericResources", nullptr},
        {"HttpProxy", env_or_empty("HTTP_PROXY", "http_proxy")},
        {"HttpsProxy", env_or_empty("HTTPS_PROXY", "https_proxy")},
        {"NoProxy", env_or_empty("NO_PROXY", "no_proxy")},
        {"ContainerdCommit", {{"ID", ""}, {"Expected", ""}}},
        {"RuncCommit", {{"ID", ""}, {"Expected", ""}}},
        {"InitCommit", {{"ID", ""}, {"Expected", ""}}},
        {"Isolation", ""},
        {"InitBinary", ""},
        {"SecurityOptions", json::array({"name=seccomp,profile=builtin"})},
        {"Warnings", json::array()},
    };
    {
      std::time_t t = std::time(nullptr);
      char buf[64];
      std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
      info["SystemTime"] = buf;
    }
    for (auto& h : d.config().insecure_registries) reg_cfg["InsecureRegistryCIDRs"].push_back(h);
    info["RegistryConfig"] = reg_cfg;
    res.json(200, info.dump() + "\n");
  });

  r.get("/events", [&d](Request& req, Response& res) {
    EventFilter f;
    f.filters = parse_filters(req.q("filters"));
    auto now = now_nano();
    std::int64_t since = req.query.count("since") ? parse_time_nano(req.q("since"), now) : -1;
    std::int64_t until = req.query.count("until") ? parse_time_nano(req.q("until"), now) : 0;
    std::vector<Event> past;
    auto sub = d.events().subscribe(f, since < 0 ? now + 1 : since, since < 0 ? nullptr : &past);
    Writer& w = res.stream(200, "application/json");
    for (auto& e : past) {
      if (until && e.time_nano > until) break;
      if (!w.write(e.to_json() + "\n")) return;
    }
    w.write("");
    while (w.alive() && !d.stopping()) {
      if (until && now_nano() >= until) break;
      auto e = sub->next(250);
      if (!e) {
        if (sub->closed()) break;
        continue;
      }
      if (until && e->time_nano > until) break;
      if (!w.write(e->to_json() + "\n")) break;
    }
  });

  // docker login: checks the credentials against the registry; the client keeps them and sends them
  // with each pull/push (X-Registry-Auth).
  r.post("/auth", [&d](Request& req, Response& res) {
    auto j = decode_body(req, BodyType::AuthConfig, false);
    std::string server = j.value("serveraddress", "");
    for (const char* scheme : {"https://", "http://"})
      if (server.rfind(scheme, 0) == 0) server = server.substr(std::string(scheme).size());
    server = server.substr(0, server.find('/'));
    if (server.empty() || server == "index.docker.io") server = "registry-1.docker.io";
    image::Credentials c;
    c.username = j.value("username", "");
    c.password = j.value("password", "");
    c.identity_token = j.value("identitytoken", "");
    image::Registry reg(server, d.registry_settings());
    reg.set_credentials(c);
    try {
      reg.ping();
    } catch (const image::RegistryError& e) {
      if (e.status() == 401 || e.status() == 403) {
        res.send(401, error_body(e.what()));
        return;
      }
      throw;
    }
    res.json(200, json{{"Status", "Login Succeeded"}, {"IdentityToken", ""}}.dump() + "\n");
  });

  r.get("/system/df", [&d](Request& req, Response& res) {
    // API 1.42's type= (repeatable): only the parts asked for are computed; the others are null
    // (LayersSize 0), as dockerd 28's. Before 1.42, or without type=, all of them.
    bool legacy = !req.version.empty() && compare_versions(req.version, "1.42") < 0;
    std::vector<std::string> types = legacy ? std::vector<std::string>{} : query_values(req.target, "type");
    bool all = types.empty();
    bool images = all, containers = all, volumes = all, cache = all;
    for (const std::string& t : types) {
      if (t == "container") containers = true;
      else if (t == "image") images = true;
      else if (t == "volume") volumes = true;
      else if (t == "build-cache") cache = true;
      else throw InvalidArgument("unknown object type: " + t);
    }
    json df = {{"LayersSize", 0}, {"Images", nullptr}, {"Containers", nullptr}, {"Volumes", nullptr},
               {"BuildCache", nullptr}};
    if (images) {
      df["LayersSize"] = images_layers_size(d);
      df["Images"] = json::parse(images_list_json(d, {}, true));
      std::map<std::string, std::int64_t> shared = images_shared_size(d);
      for (json& im : df["Images"]) im["SharedSize"] = shared[im.value("Id", "")];
    }
    if (containers) df["Containers"] = d.hooks().df_containers ? json::parse(d.hooks().df_containers()) : json::array();
    if (volumes) df["Volumes"] = d.hooks().df_volumes ? json::parse(d.hooks().df_volumes()) : json::array();
    if (cache) {
      // dockerd 20.10 (API < 1.42): null for no record and BuilderSize, the records' sum;
      // dockerd 28: [] for no record.
      json records = d.hooks().df_build_cache ? json::parse(d.hooks().df_build_cache(req.version)) : json::array();
      df["BuildCache"] = records.empty() && legacy ? json(nullptr) : records;
      if (legacy) {
        std::int64_t builder_size = 0;
        for (const json& b : records) builder_size += b.value("Size", std::int64_t{0});
        df["BuilderSize"] = builder_size;
      }
    }
    res.json(200, df.dump() + "\n");
  });
}

}  // namespace hoist::engine
