#include "engine/container_service.h"

#include <unistd.h>

#include <ctime>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/file.h"
#include "common/json.h"
#include "common/log.h"
#include "engine/api/routes.h"
#include "engine/containers/oci_spec.h"
#include "network/container_files.h"

namespace hoist::engine {

using nlohmann::json;

namespace {

std::string read_or_empty(const std::string& path) {
  try {
    return read_file(path);
  } catch (const Error&) {
    return "";
  }
}

std::string host_name() {
  char buf[256] = {};
  return ::gethostname(buf, sizeof buf - 1) == 0 ? buf : "";
}

}  // namespace

// Image configs are immutable (named by their digest): parsed once, kept (a few KiB each).
json image_config_of(Daemon& d, const std::string& image_id) {
  static std::mutex mu;
  static std::map<std::string, json> cache;
  {
    std::lock_guard lk(mu);
    if (auto it = cache.find(image_id); it != cache.end()) return it->second;
  }
  json out = json::object();
  try {
    auto cfg = json::parse(d.store().content().read(Digest::parse(image_id)));
    if (cfg.contains("config") && cfg["config"].is_object()) out = cfg["config"];
  } catch (const std::exception&) {
    return out;  // not cached: the image may be gone or not there yet
  }
  std::lock_guard lk(mu);
  if (cache.size() > 4096) cache.clear();
  cache[image_id] = out;
  return out;
}

ContainerService::ContainerService(Daemon& d, Options opts) : d_(d), opts_(std::move(opts)) {
  ManagerOptions mo;
  mo.data_root = d.config().data_root;
  mo.exec_root = d.config().exec_root + "/containers";
  mo.runtime = d.config().runtime;
  mo.runtime_root = opts_.runtime_root.empty() ? d.config().exec_root + "/runtime" : opts_.runtime_root;
  mo.shim = opts_.shim;
  mo.spec_builder = [this](const ContainerRecord& r, const std::string& rootfs) {
    SpecInput in;
    in.id = r.id;
    in.config = object_or_empty(r.config_json);
    in.host_config = object_or_empty(r.host_config_json);
    in.image_config = image_config_of(d_, r.image_id);
    in.rootfs = rootfs;
    auto mode = network::parse_mode(json_str(in.host_config, "NetworkMode"));
    in.hostname = in.config.value("Hostname", "");
    if (in.hostname.empty() && mode == network::Mode::Host) in.hostname = host_name();  // as dockerd
    if (in.hostname.empty()) in.hostname = r.id.substr(0, 12);
    std::vector<network::HostEntry> extra;
    for (const auto& h : json_str_list(in.host_config, "ExtraHosts").value_or(std::vector<std::string>{}))
      extra.push_back(network::parse_extra_host(h));
    network::DnsConfig dns;
    dns.servers = json_str_list(in.host_config, "Dns").value_or(dns.servers);
    dns.search = json_str_list(in.host_config, "DnsSearch").value_or(dns.search);
    dns.options = json_str_list(in.host_config, "DnsOptions").value_or(dns.options);
    auto dir = mgr_->container_dir(r.id);
    in.hostname_path = dir + "/hostname";
    in.hosts_path = dir + "/hosts";
    in.resolv_conf_path = dir + "/resolv.conf";
    write_file_atomic(in.hostname_path, in.hostname + "\n", 0644, false);
    write_file_atomic(in.hosts_path, network::hosts_file(mode, read_or_empty("/etc/hosts"), extra), 0644, false);
    write_file_atomic(in.resolv_conf_path, network::resolv_conf(mode, read_or_empty("/etc/resolv.conf"), dns), 0644,
                      false);
    in.cgroup_parent = opts_.cgroup_parent;
    in.init_path = opts_.init;
    return build_oci_spec(in).dump();
  };
  mo.on_event = [this](const ContainerRecord& r, const std::string& action,
                       const std::map<std::string, std::string>& attrs) { publish(r, action, attrs); };
  mgr_ = std::make_unique<ContainerManager>(mo);
  health_ = std::make_unique<HealthMonitor>(*mgr_, [this](const std::string& id, const std::string& status) {
    if (status == "starting") return;  // Docker reports what probes decide
    try {
      publish(mgr_->inspect(id), "health_status: " + status, {});
    } catch (const std::exception&) {
    }
  });
  mgr_->restore();
  for (auto& r : mgr_->list())  // live-restored containers: their checks go on
    if (r.state == ContainerState::Running) start_health(r);

  auto& hooks = d.hooks();
  hooks.container_counts = [this] {
    Daemon::ContainerCounts c;
    for (auto& r : mgr_->list()) {
      ++c.total;
      if (r.state == ContainerState::Running) ++c.running;
      else if (r.state == ContainerState::Paused) ++c.paused;
      else ++c.stopped;
    }
    return c;
  };
  hooks.image_user = [this](const Digest& id) -> std::optional<std::string> {
    for (auto& r : mgr_->list())
      if (r.image_id == id.str()) return r.id;
    return std::nullopt;
  };
  hooks.image_containers = [this](const Digest& id) {
    int n = 0;
    for (auto& r : mgr_->list()) n += r.image_id == id.str();
    return n;
  };

  d.add_routes([this](Router& rt, Daemon& dm) { register_container_routes(rt, dm, *this); });
}

ContainerService::~ContainerService() { health_.reset(); }

void ContainerService::start_health(const ContainerRecord& r) {
  auto cfg = HealthConfig::from(object_or_empty(r.config_json), image_config_of(d_, r.image_id));
  if (cfg) health_->start(r.id, *cfg);
}

void ContainerService::publish(const ContainerRecord& r, const std::string& action,
                                const std::map<std::string, std::string>& attrs) {
  Event e;
  e.type = "container";
  e.action = action;
  e.actor_id = r.id;
  e.attributes = attrs;
  e.attributes["name"] = r.name;
  e.attributes["image"] = r.image;
  auto config = object_or_empty(r.config_json);
  if (config.contains("Labels") && config["Labels"].is_object())
    for (auto& [k, v] : config["Labels"].items())
      if (v.is_string() && !e.attributes.count(k)) e.attributes[k] = v.get<std::string>();
  if (action == "die") e.attributes["exitCode"] = std::to_string(r.exit_code);
  d_.events().publish(std::move(e));
  if (action == "start") start_health(r);
  if (action == "die" || action == "destroy") health_->stop(r.id);
  if (action == "destroy") forget_container_summary(r.id);
  if (action == "die") {
    auto hc = object_or_empty(r.host_config_json);
    if (hc.value("AutoRemove", false) && r.state != ContainerState::Restarting) {
      auto id = r.id;
      std::thread([this, id] {
        // remove() lets the shim finish first (the rest of the output to attached clients).
        try {
          mgr_->remove(id, true);
        } catch (const std::exception& ex) {
          log::warn("auto-remove " + id + ": " + ex.what());
        }
      }).detach();
    }
  }
}

}  // namespace hoist::engine
