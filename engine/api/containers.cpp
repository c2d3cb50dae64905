// /containers/... and /exec/... endpoints: create, list, inspect, start, stop, restart, kill,
// wait, remove, rename, update, logs, attach, resize, top, stats, pause/unpause, prune, exec.
// They work through the ContainerService (engine/container_service.h).

#include <algorithm>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <ctime>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <thread>

#include "builder/config_merge.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/file.h"
#include "common/json.h"
#include "common/log.h"
#include "common/strings.h"
#include "engine/api/prune_filters.h"
#include "engine/api/routes.h"
#include "engine/container_links.h"
#include "engine/container_service.h"
#include "engine/containers/logs.h"
#include "engine/containers/oci_spec.h"
#include "network/container_files.h"
#include "volumes/mounts.h"
#include "engine/api/request_json.h"
#include "engine/containers/resources.h"
#include "engine/shim/client.h"
#include "image/manifest.h"
#include "image/registry_internal.h"
#include "image/store.h"

namespace hoist::engine {

using nlohmann::json;

namespace {

std::int64_t unix_of(const std::string& rfc3339) {
  auto ns = parse_rfc3339_ns(rfc3339);
  return ns > 0 ? ns / 1000000000 : 0;
}

bool is_zero_time(const std::string& t) { return t.empty() || t.rfind("0001-01-01", 0) == 0; }


// LogConfig: json-file is the one driver; its max-size, max-file, compress, labels, labels-regex,
// env, env-regex and tag are applied (their values checked at start, as dockerd does:
// containers/log_attrs.h), mode and max-buffer-size refused until they work, and anything dockerd
// does not know is refused with dockerd's words.
void validate_log_config(const json& hc) {
  if (!hc.contains("LogConfig") || !hc["LogConfig"].is_object()) return;
  const auto& lc = hc["LogConfig"];
  std::string type = lc.contains("Type") && lc["Type"].is_string() ? lc["Type"].get<std::string>() : "";
  static const std::set<std::string> dockers = {"none", "local", "syslog", "journald", "gelf", "fluentd",
                                                "awslogs", "splunk", "etwlogs", "gcplogs", "logentries"};
  if (!type.empty() && type != "json-file") {
    if (dockers.count(type)) throw InvalidArgument("logging driver '" + type + "' is not supported (only json-file)");
    throw InvalidArgument("no log driver named '" + type + "' is registered");
  }
  if (!lc.contains("Config") || !lc["Config"].is_object()) return;
  static const std::set<std::string> applied = {"compress", "labels", "labels-regex", "env", "env-regex", "tag"};
  // Every driver's generic options first, as dockerd checks them.
  auto opt = [&](const char* k) -> const std::string* {
    auto it = lc["Config"].find(k);
    if (it == lc["Config"].end()) return nullptr;
    if (!it->is_string()) throw InvalidArgument(std::string("invalid value for ") + k);
    return it->get_ptr<const std::string*>();
  };
  log_ring_bytes(opt("mode"), opt("max-buffer-size"));
  for (const auto& [k, v] : lc["Config"].items()) {
    if (k == "max-size") {
      if (!v.is_string()) throw InvalidArgument("invalid value for max-size");
      parse_log_max_size(v.get<std::string>());  // throws for a bad size
    } else if (k == "max-file") {
      if (!v.is_string()) throw InvalidArgument("invalid value for max-file");
      parse_log_max_file(v.get<std::string>());
    } else if (applied.count(k)) {
      if (!v.is_string()) throw InvalidArgument("invalid value for " + k);
    } else if (k == "mode" || k == "max-buffer-size") {
      continue;  // checked above
    } else {
      throw InvalidArgument("unknown log opt '" + k + "' for json-file log driver");
    }
  }
}

// HostConfig checks of Docker's container create.
void validate_host_config(const json& hc, const std::string& runtime) {
  validate_log_config(hc);
  if (hc.contains("Runtime") && hc["Runtime"].is_string()) {
    auto name = hc["Runtime"].get<std::string>();
    if (!name.empty() && name != runtime) throw InvalidArgument("unknown or invalid runtime name: " + name);
  }
  if (hc.contains("StorageOpt") && hc["StorageOpt"].is_object() && !hc["StorageOpt"].empty()) {
    for (const auto& [k, v] : hc["StorageOpt"].items())
      if (k != "size") throw InvalidArgument("Unknown option " + k);
    throw InvalidArgument("--storage-opt is supported only for overlay over xfs with 'pquota' mount option");
  }
  if (hc.contains("DeviceCgroupRules") && hc["DeviceCgroupRules"].is_array())
    for (const auto& r : hc["DeviceCgroupRules"])
      device_cgroup_rule(r.is_string() ? r.get<std::string>() : std::string());
  volumes::user_mounts(hc);  // as dockerd: a bad bind or a missing bind source fails the create
  network::check_host_config(hc);
  if (!hc.contains("RestartPolicy") || !hc["RestartPolicy"].is_object()) return;
  auto& rp = hc["RestartPolicy"];
  std::string name = rp.contains("Name") && rp["Name"].is_string() ? rp["Name"].get<std::string>() : "";
  int max = rp.contains("MaximumRetryCount") && rp["MaximumRetryCount"].is_number_integer()
                ? rp["MaximumRetryCount"].get<int>() : 0;
  if (name != "" && name != "no" && name != "always" && name != "unless-stopped" && name != "on-failure")
    throw InvalidArgument("invalid restart policy: unknown policy '" + name +
                          "'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'");
  if (max < 0) throw InvalidArgument("invalid restart policy: maximum retry count cannot be negative");
  if (max > 0 && name != "on-failure")
    throw InvalidArgument("invalid restart policy: maximum retry count can only be used with 'on-failure'");
  if (name != "" && name != "no" && hc.value("AutoRemove", false))
    throw InvalidArgument("conflicting options: cannot use restart policy and auto-remove together");
}

// Fills what a stored object lacks from dockerd's zero values (a key given by the client wins).
json with_defaults(json stored, const json& defaults) {
  if (!stored.is_object()) stored = json::object();
  for (const auto& [k, v] : defaults.items())
    if (!stored.contains(k)) stored[k] = v;
  return stored;
}

// HostConfig as dockerd's inspect shows it: every field, with dockerd's normalisations.
json host_config_view(const json& stored, const std::string& runtime) {
  static const json defaults = {
      {"Binds", nullptr}, {"ContainerIDFile", ""}, {"LogConfig", {{"Type", "json-file"}, {"Config", json::object()}}},
      {"NetworkMode", "none"}, {"PortBindings", nullptr}, {"RestartPolicy", {{"Name", ""}, {"MaximumRetryCount", 0}}},
      {"AutoRemove", false}, {"VolumeDriver", ""}, {"VolumesFrom", nullptr}, {"ConsoleSize", {0, 0}},
      {"CapAdd", nullptr}, {"CapDrop", nullptr}, {"CgroupnsMode", "host"}, {"Dns", json::array()},
      {"DnsOptions", json::array()}, {"DnsSearch", json::array()}, {"ExtraHosts", nullptr}, {"GroupAdd", nullptr},
      {"IpcMode", "private"}, {"Cgroup", ""}, {"Links", nullptr}, {"OomScoreAdj", 0}, {"PidMode", ""},
      {"Privileged", false}, {"PublishAllPorts", false}, {"ReadonlyRootfs", false}, {"SecurityOpt", nullptr},
      {"UTSMode", ""}, {"UsernsMode", ""}, {"ShmSize", 67108864}, {"Isolation", ""}, {"CpuShares", 0},
      {"Memory", 0}, {"NanoCpus", 0}, {"CgroupParent", ""}, {"BlkioWeight", 0}, {"BlkioWeightDevice", json::array()},
      {"BlkioDeviceReadBps", nullptr}, {"BlkioDeviceWriteBps", nullptr}, {"BlkioDeviceReadIOps", nullptr},
      {"BlkioDeviceWriteIOps", nullptr}, {"CpuPeriod", 0}, {"CpuQuota", 0}, {"CpuRealtimePeriod", 0},
      {"CpuRealtimeRuntime", 0}, {"CpusetCpus", ""}, {"CpusetMems", ""}, {"Devices", json::array()},
      {"DeviceCgroupRules", nullptr}, {"DeviceRequests", nullptr}, {"KernelMemory", 0}, {"KernelMemoryTCP", 0},
      {"MemoryReservation", 0}, {"MemorySwap", 0}, {"MemorySwappiness", nullptr}, {"OomKillDisable", false},
      {"PidsLimit", nullptr}, {"Ulimits", nullptr}, {"CpuCount", 0}, {"CpuPercent", 0}, {"IOMaximumIOps", 0},
      {"IOMaximumBandwidth", 0}};
  json hc = with_defaults(stored, defaults);
  auto& log_config = hc["LogConfig"];
  if (!log_config.is_object()) log_config = json::object();
  if (!log_config["Type"].is_string() || log_config["Type"] == "") log_config["Type"] = "json-file";
  if (!log_config["Config"].is_object()) log_config["Config"] = json::object();
  if (!hc["Runtime"].is_string() || hc["Runtime"] == "") hc["Runtime"] = runtime;  // the default runtime's name
  // -1 and 0 mean "not set": dockerd shows null.
  if (hc["MemorySwappiness"] == -1) hc["MemorySwappiness"] = nullptr;
  if (hc["PidsLimit"] == 0) hc["PidsLimit"] = nullptr;
  bool privileged = hc["Privileged"].is_boolean() && hc["Privileged"].get<bool>();
  if (!hc.contains("MaskedPaths") || hc["MaskedPaths"].is_null())
    hc["MaskedPaths"] = privileged ? json(nullptr) : json(default_masked_paths());
  if (!hc.contains("ReadonlyPaths") || hc["ReadonlyPaths"].is_null())
    hc["ReadonlyPaths"] = privileged ? json(nullptr) : json(default_readonly_paths());
  return hc;
}

}  // namespace

json config_view(const json& stored) {
  static const json defaults = {
      {"Hostname", ""}, {"Domainname", ""}, {"User", ""}, {"AttachStdin", false}, {"AttachStdout", false},
      {"AttachStderr", false}, {"Tty", false}, {"OpenStdin", false}, {"StdinOnce", false}, {"Env", nullptr},
      {"Cmd", nullptr}, {"Image", ""}, {"Volumes", nullptr}, {"WorkingDir", ""}, {"Entrypoint", nullptr},
      {"OnBuild", nullptr}, {"Labels", nullptr}};
  json c = with_defaults(stored, defaults);
  if (c["Volumes"].is_object() && c["Volumes"].empty()) c["Volumes"] = nullptr;
  return c;
}

namespace {

// create's `platform`: the image must be of it (a local image has one platform), else dockerd's
// 404; a platform that does not parse is dockerd's 400.
void check_image_platform(const std::string& ref, const std::string& platform, Daemon& d, const std::string& image_id) {
  auto want = image::Platform::parse(platform);
  auto cfg = json::parse(d.store().content().read(Digest::parse(image_id)), nullptr, false);
  image::Platform have;
  if (cfg.is_object()) {
    have.os = cfg.value("os", have.os);
    have.architecture = cfg.value("architecture", have.architecture);
    have.variant = cfg.value("variant", "");
  }
  // A variant on one side only does not count (linux/amd64/v2 runs an amd64 image).
  const bool same = want.os == have.os && want.architecture == have.architecture &&
                    (want.variant.empty() || have.variant.empty() || want.variant == have.variant);
  if (!same)
    throw NotFound("image with reference " + ref + " was found but does not match the specified platform: wanted " +
                   want.str() + ", actual: " + have.str());
}

// The container's networks as Docker's EndpointSettings, by network name: its sandbox's
// endpoints while it runs; the networks it joins at start (without addresses) otherwise.
json networks_view(ContainerService& svc, const ContainerRecord& r, const std::optional<network::Sandbox>& sb) {
  json nets = json::object();
  auto& ctl = svc.networks();
  auto requested = object_or_empty(r.endpoints_json);
  auto es_json = [&](const std::string& name, const std::string& network_id) {
    json es = {{"IPAMConfig", nullptr}, {"Links", nullptr}, {"Aliases", nullptr}, {"MacAddress", ""},
               {"DriverOpts", nullptr}, {"NetworkID", network_id}, {"EndpointID", ""}, {"Gateway", ""},
               {"IPAddress", ""}, {"IPPrefixLen", 0}, {"IPv6Gateway", ""}, {"GlobalIPv6Address", ""},
               {"GlobalIPv6PrefixLen", 0}, {"DNSNames", nullptr}};
    for (auto& [k, v] : requested.items())
      if ((k == name || k == network_id) && v.is_object()) {
        if (v.contains("IPAMConfig") && v["IPAMConfig"].is_object() && !v["IPAMConfig"].empty()) es["IPAMConfig"] = v["IPAMConfig"];
        if (v.contains("Aliases") && v["Aliases"].is_array() && !v["Aliases"].empty()) es["Aliases"] = v["Aliases"];
        if (v.contains("Links") && v["Links"].is_array() && !v["Links"].empty()) es["Links"] = v["Links"];
      }
    return es;
  };
  if (sb) {
    for (auto& e : sb->endpoints) {
      json es = es_json(e.network_name, e.network_id);
      es["EndpointID"] = e.endpoint_id;
      es["Gateway"] = e.gateway ? network::ipv4_str(e.gateway) : "";
      es["IPAddress"] = network::ipv4_str(e.address);
      es["IPPrefixLen"] = e.prefix;
      es["MacAddress"] = e.mac;
      if (!e.dns_names.empty()) es["DNSNames"] = e.dns_names;
      nets[e.network_name] = es;
    }
    return nets;
  }
  auto hc = object_or_empty(r.host_config_json);
  auto mode_text = json_str(hc, "NetworkMode");
  auto mode = network::parse_mode(mode_text);
  if (mode == network::Mode::Container) return nets;
  std::vector<std::string> names;
  if (!r.network_mode_detached)
    names.push_back(mode == network::Mode::Bridge && (mode_text.empty() || mode_text == "default") ? "bridge" : mode_text);
  for (auto& [k, v] : requested.items()) names.push_back(k);
  for (auto& name : names) {
    try {
      auto n = ctl.get(name);
      if (!nets.contains(n.name)) nets[n.name] = es_json(n.name, n.id);
    } catch (const std::exception&) {  // a network removed since
    }
  }
  return nets;
}

// NetworkSettings as dockerd's inspect shows them.
json network_settings_view(ContainerService& svc, const ContainerRecord& r) {
  auto sb = svc.networks().sandbox(r.id);
  json ports = json::object();
  auto config = object_or_empty(r.config_json);
  if (sb) {
    if (config.contains("ExposedPorts") && config["ExposedPorts"].is_object())
      for (auto& [k, v] : config["ExposedPorts"].items()) ports[k.find('/') == std::string::npos ? k + "/tcp" : k] = nullptr;
    for (auto& p : sb->ports) {
      auto key = std::to_string(p.container_port) + "/" + p.proto;
      if (!ports[key].is_array()) ports[key] = json::array();
      ports[key].push_back({{"HostIp", network::ipv4_str(p.host_ip)}, {"HostPort", std::to_string(p.host_port)}});
    }
  }
  json s = {{"Bridge", ""}, {"SandboxID", sb ? sb->sandbox_id : ""}, {"HairpinMode", false},
            {"LinkLocalIPv6Address", ""}, {"LinkLocalIPv6PrefixLen", 0}, {"Ports", ports},
            {"SandboxKey", sb ? sb->netns_path : ""}, {"SecondaryIPAddresses", nullptr},
            {"SecondaryIPv6Addresses", nullptr}, {"EndpointID", ""}, {"Gateway", ""}, {"GlobalIPv6Address", ""},
            {"GlobalIPv6PrefixLen", 0}, {"IPAddress", ""}, {"IPPrefixLen", 0}, {"IPv6Gateway", ""},
            {"MacAddress", ""}, {"Networks", networks_view(svc, r, sb)}};
  if (sb)  // the default bridge's endpoint is also shown at the top, as dockerd does
    for (auto& e : sb->endpoints)
      if (e.network_name == "bridge") {
        s["EndpointID"] = e.endpoint_id;
        s["Gateway"] = network::ipv4_str(e.gateway);
        s["IPAddress"] = network::ipv4_str(e.address);
        s["IPPrefixLen"] = e.prefix;
        s["MacAddress"] = e.mac;
      }
  return s;
}

// What `docker ps` shows of a container's network: Ports, HostConfig.NetworkMode and
// NetworkSettings.Networks, as JSON members (without braces).
std::string ps_network_fields_uncached(ContainerService& svc, const ContainerRecord& r) {
  auto sb = svc.networks().sandbox(r.id);
  json ports = json::array();
  if (sb) {
    std::set<std::pair<int, std::string>> published;
    for (auto& p : sb->ports) {
      ports.push_back({{"IP", network::ipv4_str(p.host_ip)}, {"PrivatePort", p.container_port},
                       {"PublicPort", p.host_port}, {"Type", p.proto}});
      published.insert({p.container_port, p.proto});
    }
    auto config = object_or_empty(r.config_json);
    if (config.contains("ExposedPorts") && config["ExposedPorts"].is_object())
      for (auto& [k, v] : config["ExposedPorts"].items()) {
        try {
          auto [port, proto] = network::parse_port_key(k);
          if (!published.count({port, proto})) ports.push_back({{"PrivatePort", port}, {"Type", proto}});
        } catch (const std::exception&) {
        }
      }
  }
  auto mode = json_str(object_or_empty(r.host_config_json), "NetworkMode");
  json j = {{"Ports", ports},
            {"HostConfig", {{"NetworkMode", mode.empty() ? "default" : mode}}},
            {"NetworkSettings", {{"Networks", networks_view(svc, r, sb)}}}};
  std::string text = j.dump();
  return text.substr(1, text.size() - 2);
}

// The same, made once per container and change of the networks (the controller's generation),
// its endpoints, its network mode and its exposed ports: `ps` stays a cache read.
std::string ps_network_fields(ContainerService& svc, const ContainerRecord& r) {
  static std::mutex mu;
  static std::map<std::string, std::pair<std::string, std::string>> cache;  // id → (key, fields)
  std::string key = std::to_string(svc.networks().generation()) + '\n' + r.endpoints_json + '\n' +
                    r.host_config_json + '\n' + r.config_json;
  {
    std::lock_guard lk(mu);
    if (auto it = cache.find(r.id); it != cache.end() && it->second.first == key) return it->second.second;
  }
  auto fields = ps_network_fields_uncached(svc, r);
  std::lock_guard lk(mu);
  if (cache.size() > 8192) cache.clear();
  cache[r.id] = {std::move(key), fields};
  return fields;
}

// The list's Command as dockerd writes it: the path, then the arguments, those with a space in
// single quotes (`sh -c 'sleep 1; echo a'`).
std::string command_line(const std::vector<std::string>& args) {
  std::string s;
  for (std::size_t i = 0; i < args.size(); ++i) {
    bool quote = i > 0 && args[i].find(' ') != std::string::npos;
    s += (i ? " " : "") + (quote ? "'" + args[i] + "'" : args[i]);
  }
  return s;
}

// What `docker ps` shows of a container that only changes with its config, name or image: parsed
// and serialised once, reused by every /containers/json until one of those changes.
struct PsSummary {
  std::string key;     // name, image, image id and Config the rest was made from
  json labels;         // for the label filter
  std::string fields;  // the JSON members (without braces) but State and Status
};

std::mutex ps_mu;
std::map<std::string, std::shared_ptr<const PsSummary>> ps_cache;  // by container id

}  // namespace

void forget_container_summary(const std::string& id) {
  std::lock_guard lk(ps_mu);
  ps_cache.erase(id);
}

namespace {

// The list's Names of `r`: its name, then its links' names (`links`: link_names() of them all).
std::vector<std::string> ps_names(const ContainerRecord& r, const std::map<std::string, std::vector<std::string>>& links) {
  std::vector<std::string> names = {"/" + r.name};
  if (auto it = links.find(r.name); it != links.end()) names.insert(names.end(), it->second.begin(), it->second.end());
  return names;
}

std::shared_ptr<const PsSummary> ps_summary(Daemon& d, const ContainerRecord& r, const std::vector<std::string>& names) {
  auto& mu = ps_mu;
  auto& cache = ps_cache;
  std::string key = join(names, ",") + '\n' + r.image + '\n' + r.image_id + '\n' + r.created + '\n' + r.config_json;
  {
    std::lock_guard lk(mu);
    if (auto it = cache.find(r.id); it != cache.end() && it->second->key == key) return it->second;
  }
  auto s = std::make_shared<PsSummary>();
  s->key = std::move(key);
  auto config = object_or_empty(r.config_json);
  s->labels = config.contains("Labels") && config["Labels"].is_object() ? config["Labels"] : json::object();
  auto cmd = resolve_command(config, image_config_of(d, r.image_id));
  json j = {{"Id", r.id},
            {"Names", names},
            {"Image", r.image},
            {"ImageID", r.image_id},
            {"Command", command_line(cmd)},
            {"Created", unix_of(r.created)},
            {"Labels", s->labels},
            {"Mounts", volumes::inspect_mounts(record_mounts(r))}};
  std::string text = j.dump();
  s->fields = text.substr(1, text.size() - 2);
  std::lock_guard lk(mu);
  cache[r.id] = s;
  return s;
}

// Docker's stream header for one frame of a multiplexed stream.
std::string frame(int stream, std::string_view payload) {
  std::string h(8, '\0');
  h[0] = static_cast<char>(stream);
  auto n = static_cast<std::uint32_t>(payload.size());
  h[4] = static_cast<char>(n >> 24);
  h[5] = static_cast<char>(n >> 16);
  h[6] = static_cast<char>(n >> 8);
  h[7] = static_cast<char>(n);
  return h + std::string(payload);
}

// The Content-Type of an attach or exec stream: Docker says multiplexed-stream for frames
// from API 1.42 on, raw-stream before and for raw bytes.
std::string stream_content_type(const Request& req, bool raw) {
  bool old = !req.version.empty() && compare_versions(req.version, "1.42") < 0;
  return raw || old ? "application/vnd.docker.raw-stream" : "application/vnd.docker.multiplexed-stream";
}

// Docker's detach keys (the detachKeys query of attach, DetachKeys of an exec) as bytes; `what`
// names them in the error ("detach" or "escape", as Docker words it). "" → ctrl-p ctrl-q.
std::string detach_keys_of(const std::string& spec, const std::string& what) {
  if (spec.empty()) return std::string(kDefaultDetachKeys);
  try {
    return detach_key_bytes(spec);
  } catch (const Error&) {
    throw InvalidArgument("Invalid " + what + " keys (" + spec + ") provided");
  }
}

bool write_fd_all(int fd, const char* p, std::size_t n) {
  while (n) {
    auto w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == ENOTSOCK) w = ::write(fd, p, n);
      if (w < 0) return false;
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

// Copies both ways between the client and the shim until the shim closes its side.
// Returns the number of bytes that went from the shim to the client; `client_eof` says whether
// the client's input had ended by then.
std::size_t splice_both_ways(int client, int shim, bool* client_eof = nullptr) {
  std::size_t sent = 0;
  bool client_open = true;
  char buf[64 * 1024];
  auto done = [&] {
    if (client_eof) *client_eof = !client_open;
    return sent;
  };
  while (true) {
    struct pollfd p[2] = {{shim, POLLIN, 0}, {client_open ? client : -1, POLLIN, 0}};
    if (::poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return done();
    }
    if (p[0].revents) {
      auto n = ::read(shim, buf, sizeof buf);
      if (n <= 0) return done();
      if (!write_fd_all(client, buf, static_cast<std::size_t>(n))) return done();
      sent += static_cast<std::size_t>(n);
    }
    if (client_open && p[1].revents) {
      auto n = ::read(client, buf, sizeof buf);
      if (n <= 0) {
        client_open = false;
        ::shutdown(shim, SHUT_WR);  // EOF on the container's stdin (StdinOnce)
        continue;
      }
      if (!write_fd_all(shim, buf, static_cast<std::size_t>(n))) client_open = false;
    }
  }
}

// Sets `gone` when the client of `w` hangs up, polled every 200 ms on a thread of its own until
// the watch is destroyed: a handler blocked in a wait, or following a quiet log, learns of it.
class HangupWatch {
 public:
  HangupWatch(Writer& w, std::atomic<bool>& gone)
      : thread_([this, &w, &gone] {
          std::unique_lock lk(mu_);
          while (!done_) {
            if (!w.alive()) {
              gone = true;
              return;
            }
            cv_.wait_for(lk, std::chrono::milliseconds(200));
          }
        }) {}
  ~HangupWatch() {
    {
      std::lock_guard lk(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  HangupWatch(const HangupWatch&) = delete;
  HangupWatch& operator=(const HangupWatch&) = delete;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;  // last: started once the members above exist
};

// An integer query parameter, `def` when absent; a malformed one is the client's error (400).
long long int_query(const Request& req, const std::string& key, long long def) {
  auto v = req.q(key);
  if (v.empty()) return def;
  try {
    return parse_int(v, key);
  } catch (const Error&) {
    throw InvalidArgument("invalid value for \"" + key + "\": " + v);
  }
}

json state_json(const ContainerRecord& r) {
  bool running = r.state == ContainerState::Running || r.state == ContainerState::Paused ||
                 r.state == ContainerState::Restarting;
  json out = {{"Status", state_name(r.state)},
          {"Running", running},
          {"Paused", r.state == ContainerState::Paused},
          {"Restarting", r.state == ContainerState::Restarting},
          {"OOMKilled", r.oom_killed},
          {"Dead", r.state == ContainerState::Dead},
          {"Pid", r.state == ContainerState::Running || r.state == ContainerState::Paused ? r.pid : 0},
          {"ExitCode", r.exit_code},
          {"Error", r.error},
          {"StartedAt", r.started_at},
          {"FinishedAt", r.finished_at}};
  if (!r.health_json.empty()) out["Health"] = object_or_empty(r.health_json);
  return out;
}

// POST /containers/{id}/update (docker update): resources and restart policy, checked as dockerd
// checks them, applied to a running container's cgroup and kept in its HostConfig.
void update_container(ContainerManager& m, Request& req, Response& res) {
  json body = decode_body(req, BodyType::ContainerUpdate);
  validate_update_restart_policy(body);
  auto warnings = validate_resources(body, HostResources::probe(), true);
  m.update(req.param("id"), [&](const ContainerRecord& r) {
    return merge_update(object_or_empty(r.host_config_json), body).dump();
  });
  res.json(200, json{{"Warnings", warnings.empty() ? json(nullptr) : json(warnings)}}.dump());
}

// GET /containers/{id}/stats as dockerd: stream=0 takes two samples a second apart (so that
// precpu_stats is filled), stream=0&one-shot=1 (API 1.41 and later) one; a container that does
// not run has all-zero stats.
void container_stats(ContainerManager& m, Request& req, Response& res) {
  auto id = m.resolve(req.param("id"));
  auto name = m.inspect(id).name;
  bool stream = req.qbool("stream", true);
  bool one_shot = req.qbool("one-shot");
  if (!req.version.empty()) {
    auto dot = req.version.find('.');
    if (dot != std::string::npos && std::atoi(req.version.substr(dot + 1).c_str()) < 41 && req.version[0] == '1')
      one_shot = false;
  }
  if (stream && one_shot) throw InvalidArgument("cannot have stream=true and one-shot=true");
  auto running = [&] {
    auto s = m.inspect(id).state;
    return s == ContainerState::Running || s == ContainerState::Paused;
  };
  if (!stream) {
    if (!running()) return res.json(200, stats_json(id, name, nullptr, nullptr));
    auto first = m.stats(id);
    if (one_shot) return res.json(200, stats_json(id, name, &first, nullptr));
    std::this_thread::sleep_for(std::chrono::seconds(1));
    if (!running()) return res.json(200, stats_json(id, name, nullptr, nullptr));
    auto second = m.stats(id);
    return res.json(200, stats_json(id, name, &second, &first));
  }
  auto& w = res.stream(200);
  std::optional<ContainerStats> prev;
  while (w.alive()) {
    if (!running()) {
      w.write(stats_json(id, name, nullptr, nullptr));
      break;
    }
    auto cur = m.stats(id);
    if (!w.write(stats_json(id, name, &cur, prev ? &*prev : nullptr))) break;
    prev = std::move(cur);
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

// ,"SizeRw":N,"SizeRootFs":M of ps and inspect with size=1: the writable layer, and it plus the
// image. ps leaves a zero SizeRw out, inspect shows it (dockerd's omitempty on one, pointer on the other).
std::string size_fields(Daemon& d, ContainerManager& m, const ContainerRecord& r, bool zero_rw) {
  std::int64_t rw = 0, image = 0;
  try {
    rw = m.writable_size(r.id);
  } catch (const std::exception&) {
  }
  try {
    image = d.store().resolve(r.image_id).size;
  } catch (const std::exception&) {
  }
  std::string out;
  if (rw != 0 || zero_rw) out += ",\"SizeRw\":" + std::to_string(rw);
  return out + ",\"SizeRootFs\":" + std::to_string(rw + image);
}

// POST /containers/prune: every container that does not run, as far as the filters (until,
// label, label!) keep it; reports the bytes of the writable layers removed, as dockerd.
void prune_containers(ContainerManager& m, Request& req, Response& res) {
  auto filters = PruneFilters::parse(parse_filters(req.q("filters")));
  json deleted = json::array();
  std::int64_t reclaimed = 0;
  for (auto& r : m.list()) {
    if (r.state == ContainerState::Running || r.state == ContainerState::Paused) continue;
    auto config = object_or_empty(r.config_json);
    if (!filters.selects(config.contains("Labels") ? config["Labels"] : json(), parse_rfc3339_ns(r.created))) continue;
    try {
      auto size = m.writable_size(r.id);  // what removing it frees
      m.remove(r.id, false);
      deleted.push_back(r.id);
      reclaimed += size;
    } catch (const std::exception& e) {
      log::warn("prune " + r.id + ": " + e.what());
    }
  }
  res.json(200, json{{"ContainersDeleted", deleted.empty() ? json(nullptr) : deleted}, {"SpaceReclaimed", reclaimed}}.dump());
}

}  // namespace

std::string human_duration(std::int64_t s) {
  if (s < 1) return "Less than a second";
  if (s == 1) return "1 second";
  if (s < 60) return std::to_string(s) + " seconds";
  auto m = s / 60;
  if (m == 1) return "About a minute";
  if (m < 60) return std::to_string(m) + " minutes";
  auto h = (s + 1800) / 3600;
  if (h == 1) return "About an hour";
  if (h < 48) return std::to_string(h) + " hours";
  if (h < 24 * 7 * 2) return std::to_string(h / 24) + " days";
  if (h < 24 * 30 * 2) return std::to_string(h / 24 / 7) + " weeks";
  if (h < 24 * 365 * 2) return std::to_string(h / 24 / 30) + " months";
  return std::to_string(h / 24 / 365) + " years";
}

std::string container_status(const ContainerRecord& r, std::int64_t now) {
  switch (r.state) {
    case ContainerState::Running: {
      std::string up = "Up " + human_duration(now - unix_of(r.started_at));
      if (r.health_json.empty()) return up;
      auto h = object_or_empty(r.health_json).value("Status", "starting");
      return up + (h == "starting" ? " (health: starting)" : " (" + h + ")");
    }
    case ContainerState::Paused:
      return "Up " + human_duration(now - unix_of(r.started_at)) + " (Paused)";
    case ContainerState::Restarting:
      return "Restarting (" + std::to_string(r.exit_code) + ") " + human_duration(now - unix_of(r.finished_at)) + " ago";
    case ContainerState::Exited:
      if (is_zero_time(r.finished_at)) return "Created";
      return "Exited (" + std::to_string(r.exit_code) + ") " + human_duration(now - unix_of(r.finished_at)) + " ago";
    case ContainerState::Dead:
      return "Dead";
    case ContainerState::Removing:
      return "Removal In Progress";
    default:
      return "Created";
  }
}

// ------------------------------------------------------------------------------------------------

void register_container_routes(Router& rt, Daemon& d, ContainerService& svc) {
  // system/df: every container as ps -a -s lists it.
  d.hooks().df_containers = [&d, &svc]() {
    auto now = static_cast<std::int64_t>(std::time(nullptr));
    auto list = svc.manager().list();
    std::sort(list.begin(), list.end(), [](auto& a, auto& b) { return a.created > b.created; });
    auto links = link_names(list);
    std::string out = "[";
    for (auto& r : list) {
      out += out.size() > 1 ? ",{" : "{";
      out += ps_summary(d, r, ps_names(r, links))->fields;
      out += "," + ps_network_fields(svc, r);
      out += ",\"State\":" + json(state_name(r.state)).dump();
      out += ",\"Status\":" + json(container_status(r, now)).dump();
      out += size_fields(d, svc.manager(), r, false);
      out += "}";
    }
    return out + "]";
  };

  auto& m = svc.manager();
  auto& dm = d;
  register_network_routes(rt, svc);
  register_archive_routes(rt, svc);
  register_commit_routes(rt, d, svc);
  register_build_routes(rt, d, svc);

  rt.post("/containers/create", [&](Request& req, Response& res) {
    auto body = decode_body(req, BodyType::ContainerCreate, false);
    auto image = body.value("Image", "");
    if (image.empty()) throw InvalidArgument("Config cannot be empty in order to create a container");
    auto rec = dm.store().resolve(image);
    auto host_config = body.contains("HostConfig") && body["HostConfig"].is_object() ? body["HostConfig"] : json::object();
    validate_host_config(host_config, dm.config().runtime);
    json endpoints = json::object();
    if (body.contains("NetworkingConfig") && body["NetworkingConfig"].is_object() &&
        body["NetworkingConfig"].contains("EndpointsConfig") && body["NetworkingConfig"]["EndpointsConfig"].is_object())
      endpoints = body["NetworkingConfig"]["EndpointsConfig"];
    if (json_str(host_config, "NetworkMode").empty()) host_config["NetworkMode"] = "default";  // as dockerd stores it
    if (endpoints.contains("default")) {  // the docker CLI names the default network "default"
      if (!endpoints.contains("bridge")) endpoints["bridge"] = endpoints["default"];
      endpoints.erase("default");
    }
    check_container_networks(svc.networks(), host_config, endpoints);
    check_create_links(svc.manager(), host_config);
    if (network::parse_mode(json_str(host_config, "NetworkMode")) == network::Mode::Container) {
      if (!json_str(body, "Hostname").empty()) throw InvalidArgument("conflicting options: hostname and the network mode");
      svc.manager().inspect(network::mode_container(json_str(host_config, "NetworkMode")));  // No such container
    }
    auto warnings = validate_resources(host_config);
    json config = body;
    config.erase("HostConfig");
    config.erase("NetworkingConfig");
    const json image_config = image_config_of(dm, rec.id.str());
    if (!req.q("platform").empty()) check_image_platform(image, req.q("platform"), dm, rec.id.str());
    builder::merge_config(config, image_config);
    if (resolve_command(config, image_config).empty()) throw InvalidArgument("No command specified");
    CreateParams p;
    p.name = req.q("name");
    p.image = image;
    p.image_id = rec.id.str();
    p.layer_paths = dm.store().layer_paths(rec);
    p.copy_snapshot = dm.store().mode() == image::SnapshotMode::Copy;
    p.config_json = config.dump();
    p.host_config_json = host_config.dump();
    p.endpoints_json = endpoints.dump();
    p.tty = config.value("Tty", false);
    p.open_stdin = config.value("OpenStdin", false);
    if (config.contains("StopSignal") && config["StopSignal"].is_string()) p.stop_signal = config["StopSignal"];
    if (config.contains("StopTimeout") && config["StopTimeout"].is_number_integer()) p.stop_timeout = config["StopTimeout"];
    auto id = svc.create(p);
    res.json(201, json{{"Id", id}, {"Warnings", warnings}}.dump());
  });

  rt.get("/containers/json", [&](Request& req, Response& res) {
    bool all = req.qbool("all");
    bool with_size = req.qbool("size");
    auto filters = parse_filters(req.q("filters"));
    auto now = static_cast<std::int64_t>(std::time(nullptr));
    std::string out = "[";
    auto list = m.list();
    std::sort(list.begin(), list.end(), [](auto& a, auto& b) { return a.created > b.created; });
    auto links = link_names(list);
    for (auto& r : list) {
      bool running = r.state == ContainerState::Running || r.state == ContainerState::Paused ||
                     r.state == ContainerState::Restarting;
      if (!all && !running && !filters.count("status")) continue;
      auto keep = [&](const std::string& key, const std::function<bool(const std::string&)>& f) {
        auto it = filters.find(key);
        if (it == filters.end()) return true;
        for (auto& v : it->second)
          if (f(v)) return true;
        return false;
      };
      auto summary = ps_summary(dm, r, ps_names(r, links));
      const json& labels = summary->labels;
      if (!keep("status", [&](auto& v) { return v == state_name(r.state); })) continue;
      if (!keep("name", [&](auto& v) { return r.name.find(v.rfind("/", 0) == 0 ? v.substr(1) : v) != std::string::npos; }))
        continue;
      if (!keep("id", [&](auto& v) { return r.id.rfind(v, 0) == 0; })) continue;
      if (!keep("health", [&](auto& v) {
            if (r.health_json.empty()) return v == "none";
            return object_or_empty(r.health_json).value("Status", "starting") == v;
          }))
        continue;
      if (!keep("exited", [&](auto& v) { return r.state == ContainerState::Exited && std::to_string(r.exit_code) == v; }))
        continue;
      if (!keep("ancestor", [&](auto& v) { return r.image == v || r.image_id.find(v) != std::string::npos; })) continue;
      // Every label filter must match (dockerd's MatchKVList), unlike the other keys' any-of.
      if (auto it = filters.find("label"); it != filters.end() &&
          !std::all_of(it->second.begin(), it->second.end(), [&](const std::string& v) {
            auto eq = v.find('=');
            auto k = v.substr(0, eq);
            if (!labels.contains(k)) return false;
            return eq == std::string::npos || labels[k] == v.substr(eq + 1);
          }))
        continue;
      // The parts that change with the state, after the cached rest.
      out += out.size() > 1 ? ",{" : "{";
      out += summary->fields;
      out += "," + ps_network_fields(svc, r);
      out += ",\"State\":";
      out += json(state_name(r.state)).dump();
      out += ",\"Status\":";
      out += json(container_status(r, now)).dump();
      if (with_size) out += size_fields(dm, m, r, false);
      out += "}";
    }
    out += "]";
    res.json(200, out);
  });

  rt.get("/containers/{id}/json", [&](Request& req, Response& res) {
    auto r = m.inspect(req.param("id"));
    auto config = object_or_empty(r.config_json);
    auto cmd = resolve_command(config, image_config_of(dm, r.image_id));
    json args = json::array();
    for (std::size_t i = 1; i < cmd.size(); ++i) args.push_back(cmd[i]);
    auto dir = m.container_dir(r.id);
    // The log driver is json-file, always: said as dockerd says it (docker-py reads it to know
    // whether it can get the output of containers.run).
    auto host_config = host_config_view(object_or_empty(r.host_config_json), dm.config().runtime);
    host_config["Links"] = links_view(r.name, host_config);
    json graph_data = nullptr;
    if (r.snapshot_mode != "copy") {
      std::string lower;
      try {
        for (auto& l : dm.store().layer_paths(dm.store().resolve(r.image_id)))
          lower = l + (lower.empty() ? "" : ":" + lower);
      } catch (const std::exception&) {
        // the image was removed under the container (rmi -f): no lower dirs to name
      }
      graph_data = {{"LowerDir", lower}, {"MergedDir", dir + "/rootfs"}, {"UpperDir", dir + "/upper"},
                    {"WorkDir", dir + "/work"}};
    }
    json out = {{"Id", r.id},
                {"Created", r.created},
                {"Path", cmd.empty() ? "" : cmd[0]},
                {"Args", args},
                {"State", state_json(r)},
                {"Image", r.image_id},
                {"ResolvConfPath", dir + "/resolv.conf"},
                {"HostnamePath", dir + "/hostname"},
                {"HostsPath", dir + "/hosts"},
                {"LogPath", r.log_path},
                {"Name", "/" + r.name},
                {"RestartCount", r.restart_count},
                {"ExecIDs", m.exec_ids(r.id).empty() ? json(nullptr) : json(m.exec_ids(r.id))},
                {"Driver", r.snapshot_mode == "copy" ? "vfs" : "overlay2"},
                {"Platform", "linux"},
                {"MountLabel", ""},
                {"ProcessLabel", ""},
                {"AppArmorProfile", ""},
                {"HostConfig", host_config},
                {"GraphDriver", {{"Name", r.snapshot_mode == "copy" ? "vfs" : "overlay2"}, {"Data", graph_data}}},
                {"Mounts", volumes::inspect_mounts(record_mounts(r))},
                {"Config", with_defaults(config_view(config), {{"NetworkDisabled", false}})},
                {"NetworkSettings", network_settings_view(svc, r)}};
    out["Config"]["Image"] = r.image;
    if (out["Config"].value("Hostname", "").empty()) out["Config"]["Hostname"] = r.id.substr(0, 12);
    if (req.qbool("size")) out.update(json::parse("{" + size_fields(dm, m, r, true).substr(1) + "}"));
    res.json(200, out.dump());
  });

  rt.post("/containers/{id}/start", [&](Request& req, Response& res) {
    auto id = m.resolve(req.param("id"));
    bool started = false;
    try {
      started = m.start(id);
    } catch (const std::exception&) {
      // As Docker: a container meant to be removed on exit is removed when it cannot start.
      if (object_or_empty(m.inspect(id).host_config_json).value("AutoRemove", false)) {
        try {
          svc.remove(id, true, true);
        } catch (const std::exception& e) {
          log::warn("auto-remove " + id + ": " + e.what());
        }
      }
      throw;
    }
    res.send(started ? 204 : 304, "");
  });
  rt.post("/containers/{id}/stop", [&](Request& req, Response& res) {
    std::optional<int> t;
    if (!req.q("t").empty()) t = static_cast<int>(int_query(req, "t", 0));
    res.send(m.stop(req.param("id"), t) ? 204 : 304, "");
  });
  rt.post("/containers/{id}/restart", [&](Request& req, Response& res) {
    std::optional<int> t;
    if (!req.q("t").empty()) t = static_cast<int>(int_query(req, "t", 0));
    m.stop(req.param("id"), t);
    m.start(req.param("id"));
    svc.publish(m.inspect(req.param("id")), "restart", {});
    res.send(204, "");
  });
  rt.post("/containers/{id}/kill", [&](Request& req, Response& res) {
    m.kill(req.param("id"), req.q("signal", "SIGKILL"));
    res.send(204, "");
  });
  rt.post("/containers/{id}/pause", [&](Request& req, Response& res) {
    m.pause(req.param("id"));
    res.send(204, "");
  });
  rt.post("/containers/{id}/unpause", [&](Request& req, Response& res) {
    m.unpause(req.param("id"));
    res.send(204, "");
  });
  rt.post("/containers/{id}/rename", [&](Request& req, Response& res) {
    auto id = m.resolve(req.param("id"));
    auto before = m.inspect(id).name;
    m.rename(id, req.q("name"));
    rename_links(m, before, m.inspect(id).name);  // the links to it follow it, as dockerd's
    res.send(204, "");
  });
  rt.post("/containers/{id}/update", [&](Request& req, Response& res) { update_container(m, req, res); });
  rt.del("/containers/{id}", [&](Request& req, Response& res) {
    if (req.qbool("link")) remove_link(m, req.param("id"));
    else svc.remove(req.param("id"), req.qbool("force"), req.qbool("v"));
    res.send(204, "");
  });

  rt.post("/containers/{id}/wait", [&](Request& req, Response& res) {
    auto id = m.resolve(req.param("id"));
    auto c = req.q("condition", "not-running");
    WaitCondition cond = c == "next-exit" ? WaitCondition::NextExit
                         : c == "removed" ? WaitCondition::Removed
                                          : WaitCondition::NotRunning;
    // Headers go out at once, so the client knows the wait is in place before it starts the container.
    auto& w = res.stream(200);
    std::atomic<bool> cancel{false};
    int code = 0;
    std::string err;
    {
      HangupWatch watch(w, cancel);  // a client that hangs up cancels the wait
      try {
        code = m.wait(id, cond, &cancel);
      } catch (const std::exception& e) {
        err = e.what();
      }
    }
    if (cancel) return;
    json out = {{"StatusCode", code}, {"Error", err.empty() ? json(nullptr) : json{{"Message", err}}}};
    w.write(out.dump() + "\n");
  });

  rt.get("/containers/{id}/logs", [&](Request& req, Response& res) {
    auto r = m.inspect(req.param("id"));
    LogReadOptions o;
    o.stdout_ = req.qbool("stdout");
    o.stderr_ = req.qbool("stderr");
    if (!o.stdout_ && !o.stderr_) throw InvalidArgument("You must choose at least one stream");
    o.follow = req.qbool("follow");
    o.timestamps = req.qbool("timestamps");
    if (req.q("tail", "all") != "all") o.tail = int_query(req, "tail", -1);
    if (!req.q("since").empty() && req.q("since") != "0") o.since_ns = parse_time_arg_ns(req.q("since"));
    if (!req.q("until").empty() && req.q("until") != "0") o.until_ns = parse_time_arg_ns(req.q("until"));
    auto& w = res.stream(200, r.tty ? "application/vnd.docker.raw-stream" : "application/vnd.docker.multiplexed-stream");
    std::atomic<bool> cancel{false};
    // Following a log that stays quiet: only a watch notices a client that hung up.
    std::optional<HangupWatch> watch;
    if (o.follow) watch.emplace(w, cancel);
    bool details = req.qbool("details");
    m.logs(r.id, o, [&](const LogEntry& e) {
      std::string line = details ? log_details_prefix(e) + e.log : e.log;
      if (o.timestamps) line = e.time + " " + line;
      bool ok = r.tty ? w.write(line) : w.write(frame(e.stream == "stderr" ? 2 : 1, line));
      return ok;
    }, &cancel);
  });

  rt.post("/containers/{id}/attach", [&](Request& req, Response& res) {
    // As Docker: the keys are checked first, then the container.
    auto keys = detach_keys_of(req.q("detachKeys"), "detach");
    auto ref = req.param("id");
    auto id = m.resolve(ref);
    bool in = req.qbool("stdin"), out = req.qbool("stdout"), err = req.qbool("stderr");
    bool logs = req.qbool("logs"), stream = req.qbool("stream");
    bool upgrade = !req.header("upgrade").empty();
    auto rec = m.inspect(id);
    if (rec.state == ContainerState::Paused)
      throw Conflict("container " + ref + " is paused, unpause the container before attach");
    if (rec.state == ContainerState::Restarting)
      throw Conflict("container " + ref + " is restarting, wait until the container is running");
    // docker run and `docker start -a` attach first and start the container once the attach is
    // answered (a first start or a later one): the shim it gets will hold the output for us until
    // we are connected.
    bool not_running = rec.state == ContainerState::Created || rec.state == ContainerState::Exited;
    if (not_running && stream) m.expect_attach(id);
    res.hijack(upgrade ? 101 : 200, stream_content_type(req, rec.tty),
               [&](UniqueFd client, std::string already) {
                 // logs=1: the output so far (the json-file log) comes first.
                 if (logs && (out || err)) {
                   LogReadOptions o;
                   o.stdout_ = out;
                   o.stderr_ = err;
                   try {
                     m.logs(id, o, [&](const LogEntry& e) {
                       std::string f = rec.tty ? e.log : frame(e.stream == "stderr" ? 2 : 1, e.log);
                       return write_fd_all(client.get(), f.data(), f.size());
                     });
                   } catch (const std::exception& e) {
                     log::debug("attach " + id.substr(0, 12) + ": logs: " + e.what());
                   }
                 }
                 svc.publish(rec, "attach", {});
                 if (!stream) return;
                 // Wait (up to 60 s, or until the client hangs up) for the start that follows;
                 // if it ran and exited already, its shim may still hold the output for us.
                 std::optional<ContainerRecord> started;
                 try {
                   started = m.wait_started(id, rec.started_at, 60000, [&] {
                     // A full hang-up only: a client that has sent all its stdin (half-close) waits.
                     pollfd p{client.get(), 0, 0};
                     bool gone = ::poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR));
                     if (gone) log::debug("attach " + id.substr(0, 12) + ": client hung up (revents " + std::to_string(p.revents) + ")");
                     return gone;
                   });
                 } catch (const NotFound&) {
                   return;
                 }
                 if (!started) {
                   try {
                     if (not_running) m.expect_attach(id, false);  // a later start is not held for us
                   } catch (const NotFound&) {
                   }
                   log::debug("attach " + id.substr(0, 12) + ": no start came (or the client left)");
                   return;
                 }
                 auto& r = *started;
                 UniqueFd shim;
                 try {
                   shim = m.attach(id, in, out, err,
                                   r.open_stdin && r.config_json.find("\"StdinOnce\":true") != std::string::npos, keys);
                 } catch (const std::exception& e) {
                   log::debug("attach " + id.substr(0, 12) + ": " + e.what());
                   return;  // it is gone already: nothing more to send
                 }
                 if (!already.empty()) write_fd_all(shim.get(), already.data(), already.size());
                 bool client_eof = false;
                 auto sent = splice_both_ways(client.get(), shim.get(), &client_eof);
                 log::debug("attach " + id.substr(0, 12) + ": stream ended after " + std::to_string(sent) + " bytes");
                 // Ended by the shim while the client still wrote and the container runs (its
                 // shim has not finished): the detach keys.
                 if (!client_eof && in) {
                   try {
                     if (shim_status(m.state_dir(id)).running) svc.publish(m.inspect(id), "detach", {});
                   } catch (const std::exception&) {
                   }
                 }
               });
  });

  // ---- exec
  rt.post("/containers/{id}/exec", [&](Request& req, Response& res) {
    json body = decode_body(req, BodyType::ExecCreate);
    auto strings = [&](const char* key) {
      std::vector<std::string> v;
      if (!body.contains(key) || body[key].is_null()) return v;
      if (body[key].is_string()) return std::vector<std::string>{body[key].get<std::string>()};
      if (!body[key].is_array()) throw InvalidArgument(std::string(key) + " must be an array of strings");
      for (auto& x : body[key]) {
        if (!x.is_string()) throw InvalidArgument(std::string(key) + " must be an array of strings");
        v.push_back(x.get<std::string>());
      }
      return v;
    };
    auto str = [&](const char* key) {
      return body.contains(key) && body[key].is_string() ? body[key].get<std::string>() : std::string();
    };
    auto flag = [&](const char* key) { return body.contains(key) && body[key].is_boolean() && body[key].get<bool>(); };
    ExecParams p;
    p.cmd = strings("Cmd");
    p.env = strings("Env");
    p.user = str("User");
    p.workdir = str("WorkingDir");
    p.detach_keys = str("DetachKeys");  // docker-py's "detachKeys" too: decode_body canonicalises keys
    p.tty = flag("Tty");
    p.privileged = flag("Privileged");
    p.attach_stdin = flag("AttachStdin");
    p.attach_stdout = flag("AttachStdout");
    p.attach_stderr = flag("AttachStderr");
    if (p.cmd.empty()) throw InvalidArgument("No exec command specified");
    if (!p.detach_keys.empty()) {
      try {
        detach_keys_of(p.detach_keys, "escape");
      } catch (const InvalidArgument& e) {
        throw Error(e.what());  // a 500, as Docker's
      }
    }
    auto id = m.exec_create(req.param("id"), p);
    res.json(201, json{{"Id", id}}.dump());
  });

  rt.get("/exec/{id}/json", [&](Request& req, Response& res) {
    auto i = m.exec_inspect(req.param("id"));
    json args = json::array();
    for (std::size_t k = 1; k < i.params.cmd.size(); ++k) args.push_back(i.params.cmd[k]);
    json out = {{"ID", i.id},
                {"Running", i.running},
                {"ExitCode", i.exit_code ? json(*i.exit_code) : json(nullptr)},
                {"ProcessConfig",
                 {{"tty", i.params.tty},
                  {"entrypoint", i.params.cmd.empty() ? "" : i.params.cmd[0]},
                  {"arguments", args},
                  {"privileged", i.params.privileged},
                  {"user", i.params.user}}},
                {"OpenStdin", i.params.attach_stdin},
                {"OpenStderr", i.params.attach_stderr},
                {"OpenStdout", i.params.attach_stdout},
                {"CanRemove", false},
                {"ContainerID", i.container_id},
                // The bytes (base64 in JSON), as Docker shows them.
                {"DetachKeys", i.params.detach_keys.empty()
                                   ? std::string()
                                   : image::detail::base64_encode(detach_keys_of(i.params.detach_keys, "escape"))},
                {"Pid", i.running ? i.pid : 0}};
    res.json(200, out.dump());
  });

  rt.post("/exec/{id}/start", [&](Request& req, Response& res) {
    json body = decode_body(req, BodyType::ExecStart);
    bool detach = body.contains("Detach") && body["Detach"].is_boolean() && body["Detach"].get<bool>();
    // The start, not the create, says how the stream looks (Docker's ExecStartCheck.Tty): raw
    // bytes of stdout alone, or frames of both streams.
    bool raw = body.contains("Tty") && body["Tty"].is_boolean() && body["Tty"].get<bool>();
    unsigned rows = 0, cols = 0;
    if (body.contains("ConsoleSize") && body["ConsoleSize"].is_array() && body["ConsoleSize"].size() == 2 &&
        body["ConsoleSize"][0].is_number_unsigned() && body["ConsoleSize"][1].is_number_unsigned()) {
      rows = body["ConsoleSize"][0].get<unsigned>();
      cols = body["ConsoleSize"][1].get<unsigned>();
    }
    auto id = req.param("id");
    auto info = m.exec_inspect(id);
    bool attach = !detach && (info.params.attach_stdin || info.params.attach_stdout || info.params.attach_stderr);
    if (info.started)
      throw Conflict("Error: Exec command " + id + (info.running ? " is already running" : " has already run"));
    auto crec = m.inspect(info.container_id);
    if (crec.state != ContainerState::Running)
      throw Conflict("Container " + crec.id + (crec.state == ContainerState::Paused
                                                    ? " is paused, unpause the container before exec"
                                                    : " is not running"));
    if (!attach) {
      m.exec_start(id, false);
      if (detach) {
        res.send(200, "");
        return;
      }
      // Nothing attached: the answer comes when the process has ended, as Docker does.
      m.exec_wait(id);
      res.send(200, "");
      return;
    }
    bool upgrade = !req.header("upgrade").empty();
    auto keys = detach_keys_of(info.params.detach_keys, "escape");
    res.hijack(upgrade ? 101 : 200, stream_content_type(req, raw),
               [&](UniqueFd client, std::string already) {
                 // As Docker: a process that cannot start is reported in the stream (the
                 // exec's exit code says 126).
                 try {
                   m.exec_start(id, true, rows, cols);
                 } catch (const std::exception& e) {
                   std::string msg = std::string("OCI runtime exec failed: ") + e.what() + "\r\n";
                   if (!raw) msg = frame(1, msg);
                   write_fd_all(client.get(), msg.data(), msg.size());
                   return;
                 }
                 UniqueFd shim;
                 try {
                   shim = m.exec_attach(id, raw, keys);
                 } catch (const std::exception& e) {
                   log::debug("exec attach " + id + ": " + e.what());
                   return;
                 }
                 if (!already.empty()) write_fd_all(shim.get(), already.data(), already.size());
                 bool client_eof = false;
                 splice_both_ways(client.get(), shim.get(), &client_eof);
                 if (m.exec_shim_running(id)) {
                   // The stream ended before the process: detached by the keys (the stream says
                   // so, as Docker's) or by the end of the client's input. It runs on.
                   if (client_eof) return;
                   std::string msg = "exec attach failed: error on attach stdin: read escape sequence\r\n";
                   if (!raw) msg = frame(1, msg);
                   write_fd_all(client.get(), msg.data(), msg.size());
                   return;
                 }
                 // The stream ends when the process has: its exit code is known before the
                 // client asks for it (exec inspect).
                 m.exec_wait(id);
               });
  });

  rt.post("/exec/{id}/resize", [&](Request& req, Response& res) {
    m.exec_resize(req.param("id"), static_cast<unsigned>(std::stoul(req.q("h", "0"))),
                  static_cast<unsigned>(std::stoul(req.q("w", "0"))));
    res.send(200, "");
  });

  rt.post("/containers/{id}/resize", [&](Request& req, Response& res) {
    m.resize(req.param("id"), static_cast<unsigned>(int_query(req, "h", 0)),
             static_cast<unsigned>(int_query(req, "w", 0)));
    res.send(200, "");
  });

  rt.get("/containers/{id}/top", [&](Request& req, Response& res) {
    auto t = m.top(req.param("id"));
    res.json(200, json{{"Titles", t.titles}, {"Processes", t.processes}}.dump());
  });

  rt.get("/containers/{id}/stats", [&](Request& req, Response& res) { container_stats(m, req, res); });

  rt.post("/containers/prune", [&](Request& req, Response& res) { prune_containers(m, req, res); });
}

}  // namespace hoist::engine
