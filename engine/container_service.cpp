#include "engine/container_service.h"

#include <unistd.h>

#include <ctime>
#include <mutex>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/file.h"
#include "common/json.h"
#include "common/log.h"
#include "engine/api/routes.h"
#include "engine/container_links.h"
#include "engine/containers/oci_spec.h"
#include "engine/volume_service.h"
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
  mo.spec_builder = [this](ContainerRecord& r, const std::string& rootfs) {
    SpecInput in;
    in.id = r.id;
    in.config = object_or_empty(r.config_json);
    in.host_config = object_or_empty(r.host_config_json);
    in.image_config = image_config_of(d_, r.image_id);
    in.rootfs = rootfs;
    auto mounts = record_mounts(r);
    if (opts_.volumes) mounts = opts_.volumes->attach(r.id, std::move(mounts), rootfs);
    in.mounts = &mounts;
    setup_network(r, in);
    in.cgroup_parent = opts_.cgroup_parent;
    in.init_path = opts_.init;
    json spec = build_oci_spec(in);
    std::vector<std::string> extra;
    {
      std::lock_guard lk(start_env_mu_);
      auto it = start_env_.find(r.id);
      if (it != start_env_.end()) {
        extra = std::move(it->second);
        start_env_.erase(it);
      }
    }
    for (auto& e : extra) spec["process"]["env"].push_back(e);
    return spec.dump();
  };
  mo.on_event = [this](const ContainerRecord& r, const std::string& action,
                       const std::map<std::string, std::string>& attrs) { publish(r, action, attrs); };
  mo.on_stopped = [this](const ContainerRecord& r) {
    if (opts_.networks) opts_.networks->release(r.id);
    if (opts_.volumes) opts_.volumes->detach(r.id);
  };
  mo.link_target = link_target;
  mgr_ = std::make_unique<ContainerManager>(mo);
  health_ = std::make_unique<HealthMonitor>(*mgr_, [this](const std::string& id, const std::string& status) {
    if (status == "starting") return;  // Docker reports what probes decide
    try {
      publish(mgr_->inspect(id), "health_status: " + status, {});
    } catch (const std::exception&) {
    }
  });
  mgr_->restore();
  if (opts_.networks) {  // sandboxes of containers that exited while hoistd was down go
    std::set<std::string> live;
    for (auto& r : mgr_->list())
      if (r.state == ContainerState::Running || r.state == ContainerState::Paused) live.insert(r.id);
    opts_.networks->release_except(live);
  }
  if (opts_.volumes) {  // references from the records; devices of the containers that still run
    std::map<std::string, std::vector<volumes::MountPoint>> all;
    std::set<std::string> running;
    for (auto& r : mgr_->list()) {
      try {
        all[r.id] = record_mounts(r);
      } catch (const std::exception& ex) {
        log::warn("container " + r.id.substr(0, 12) + ": its mounts: " + ex.what());
      }
      if (r.state == ContainerState::Running || r.state == ContainerState::Paused) running.insert(r.id);
    }
    opts_.volumes->restore(all, running);
  }
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

void ContainerService::setup_network(ContainerRecord& r, SpecInput& in) {
  const std::string mode_text = json_str(in.host_config, "NetworkMode");
  auto mode = network::parse_mode(mode_text);
  in.hostname = in.config.value("Hostname", "");
  if (in.hostname.empty() && mode == network::Mode::Host) in.hostname = host_name();  // as dockerd
  if (in.hostname.empty()) in.hostname = r.id.substr(0, 12);
  std::string domain = in.config.value("Domainname", "");
  std::vector<network::HostEntry> extra;
  for (const auto& h : json_str_list(in.host_config, "ExtraHosts").value_or(std::vector<std::string>{})) {
    auto e = network::parse_extra_host(h);
    if (e.address == "host-gateway") {
      std::uint32_t gw = opts_.networks ? opts_.networks->default_gateway() : 0;
      if (gw == 0) throw InvalidArgument("unable to derive the IP value for host-gateway");
      e.address = network::ipv4_str(gw);
    }
    extra.push_back(e);
  }
  network::DnsConfig dns;
  dns.servers = json_str_list(in.host_config, "Dns").value_or(dns.servers);
  dns.search = json_str_list(in.host_config, "DnsSearch").value_or(dns.search);
  dns.options = json_str_list(in.host_config, "DnsOptions").value_or(dns.options);
  std::vector<network::HostEntry> self;
  bool embedded_dns = false;
  if (mode == network::Mode::Bridge) {
    if (!opts_.networks) throw InvalidArgument("this daemon has no networks");
    network::AttachRequest ar;
    ar.container_id = r.id;
    ar.container_name = r.name;
    ar.hostname = in.hostname;
    ar.mode = mode_text;
    ar.join_mode = !r.network_mode_detached;
    ar.dns_servers = dns.servers;  // the embedded DNS forwards there on a user-defined network
    auto eps = object_or_empty(r.endpoints_json);
    for (auto& [name, es] : eps.items()) {
      auto er = network::endpoint_request(es);
      ar.endpoints[name] = er;
    }
    // Config.MacAddress (what clients send below API 1.44): the first network's endpoint.
    if (auto mac = json_str(in.config, "MacAddress"); !mac.empty()) {
      std::string primary = mode_text.empty() || mode_text == "default" ? "bridge" : mode_text;
      if (ar.endpoints[primary].mac.empty()) ar.endpoints[primary].mac = mac;
    }
    std::set<std::pair<std::uint16_t, std::string>> bound;
    for (auto& b : network::port_bindings(in.host_config)) {
      network::PortRequest pr;
      pr.proto = b.proto;
      pr.container_port = b.container_port;
      pr.host_ip = b.host_ip.empty() ? 0 : network::parse_ipv4(b.host_ip).value_or(0);
      pr.host_port_lo = b.host_port_lo;
      pr.host_port_hi = b.host_port_hi;
      ar.ports.push_back(pr);
      bound.insert({b.container_port, b.proto});
    }
    if (json_flag(in.host_config, "PublishAllPorts")) {
      for (const json* src : {&in.config, &in.image_config})
        if (src->contains("ExposedPorts") && (*src)["ExposedPorts"].is_object())
          for (auto& [key, v] : (*src)["ExposedPorts"].items()) {
            auto [port, proto] = network::parse_port_key(key);
            if (!bound.insert({port, proto}).second) continue;
            network::PortRequest pr;
            pr.proto = proto;
            pr.container_port = port;
            ar.ports.push_back(pr);
          }
    }
    auto links = start_links(*mgr_, *opts_.networks, r);
    extra.insert(extra.end(), links.hosts.begin(), links.hosts.end());
    in.link_env = std::move(links.env);
    auto sb = opts_.networks->attach(ar);
    in.netns_path = sb.netns_path;
    embedded_dns = sb.user_dns;
    if (!sb.endpoints.empty())
      self.push_back({domain.empty() ? in.hostname : in.hostname + "." + domain + " " + in.hostname,
                      network::ipv4_str(sb.endpoints.front().address)});
  } else if (mode == network::Mode::Container) {
    auto target = mgr_->inspect(network::mode_container(mode_text));
    if (target.id == r.id) throw InvalidArgument("cannot join own network");
    if (target.state != ContainerState::Running && target.state != ContainerState::Paused)
      throw Conflict("cannot join network of a non running container: " + target.id);
    auto sb = opts_.networks ? opts_.networks->sandbox(target.id) : std::nullopt;
    in.netns_path = sb && !sb->netns_path.empty() ? sb->netns_path : "/proc/" + std::to_string(target.pid) + "/ns/net";
    auto tdir = mgr_->container_dir(target.id);
    // The files of the container whose network it shares, as dockerd binds them, and its host
    // and domain names (dockerd's initializeNetworking).
    in.hosts_path = tdir + "/hosts";
    in.resolv_conf_path = tdir + "/resolv.conf";
    in.hostname_path = tdir + "/hostname";
    auto tconfig = object_or_empty(target.config_json);
    in.hostname = tconfig.value("Hostname", "");
    if (in.hostname.empty()) in.hostname = target.id.substr(0, 12);
    in.config["Domainname"] = tconfig.value("Domainname", "");
    auto own = object_or_empty(r.config_json);
    own["Hostname"] = in.hostname;
    own["Domainname"] = in.config["Domainname"];
    r.config_json = own.dump();
    return;
  }
  auto dir = mgr_->container_dir(r.id);
  in.hostname_path = dir + "/hostname";
  in.hosts_path = dir + "/hosts";
  in.resolv_conf_path = dir + "/resolv.conf";
  write_file_atomic(in.hostname_path, in.hostname + "\n", 0644, false);
  write_file_atomic(in.hosts_path, network::hosts_file(mode, read_or_empty("/etc/hosts"), extra, self), 0644, false);
  write_file_atomic(in.resolv_conf_path,
                    network::resolv_conf(mode, read_or_empty(d_.config().resolv_conf), dns, embedded_dns), 0644, false);
}

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
  if (action == "start") {
    start_health(r);
    if (opts_.networks) {
      try {
        refresh_linking_hosts(*mgr_, *opts_.networks, r);
      } catch (const std::exception& ex) {
        log::warn("container " + r.id.substr(0, 12) + ": the /etc/hosts of the containers linked to it: " + ex.what());
      }
    }
  }
  if (action == "die" || action == "destroy") health_->stop(r.id);
  if (action == "destroy") {
    forget_container_summary(r.id);
    if (opts_.volumes) {
      bool with_volumes;
      {
        std::lock_guard lk(remove_mu_);
        with_volumes = remove_volumes_.count(r.id) > 0;
      }
      try {
        opts_.volumes->container_removed(r.id, record_mounts(r), with_volumes);
      } catch (const std::exception& ex) {
        log::warn("container " + r.id.substr(0, 12) + ": its volumes: " + ex.what());
      }
    }
  }
  if (action == "die") {
    auto hc = object_or_empty(r.host_config_json);
    if (hc.value("AutoRemove", false) && r.state != ContainerState::Restarting) {
      auto id = r.id;
      std::thread([this, id] {
        // remove() lets the shim finish first (the rest of the output to attached clients).
        try {
          remove(id, true, true);  // --rm takes the anonymous volumes too
        } catch (const std::exception& ex) {
          log::warn("auto-remove " + id + ": " + ex.what());
        }
      }).detach();
    }
  }
}

std::vector<volumes::MountPoint> record_mounts(const ContainerRecord& r) {
  if (!r.mounts_json.empty()) return volumes::mounts_from_json(json::parse(r.mounts_json));
  std::vector<volumes::MountPoint> out;
  try {
    out = volumes::user_mounts(object_or_empty(r.host_config_json));
  } catch (const Error&) {  // as it was made: its start reports the error
  }
  return out;
}

std::vector<volumes::MountPoint> ContainerService::mounts_of(const std::string& container_ref) const {
  return record_mounts(mgr_->inspect(container_ref));
}

std::string ContainerService::create(CreateParams p) {
  auto host_config = object_or_empty(p.host_config_json);
  auto config = object_or_empty(p.config_json);
  // Config.Volumes: the container's and its image's, kept in the container's Config as dockerd does.
  auto image_config = image_config_of(d_, p.image_id);
  std::vector<std::string> config_volumes;
  for (const json* c : {&image_config, &config})
    if (c->contains("Volumes") && (*c)["Volumes"].is_object())
      for (auto& [path, v] : (*c)["Volumes"].items()) {
        config_volumes.push_back(path);
        config["Volumes"][path] = json::object();
      }
  p.config_json = config.dump();
  auto plan = volumes::plan_mounts(host_config, config_volumes, [this](const std::string& ref) {
    try {
      return mounts_of(ref);
    } catch (const NotFound& e) {
      throw InvalidArgument(e.what());  // dockerd: 400 "No such container: x"
    }
  });
  if (!opts_.volumes) {
    for (const auto& m : plan)
      if (m.type == volumes::MountPoint::Type::Volume) throw InvalidArgument("this daemon has no volumes");
    p.mounts_json = volumes::mounts_to_json(plan).dump();
    return mgr_->create(p);
  }
  std::string holder = "creating-" + volumes::anonymous_volume_name().substr(0, 16);
  std::vector<std::string> made;
  try {
    opts_.volumes->make_volumes(plan, holder, made);
    p.mounts_json = volumes::mounts_to_json(plan).dump();
    auto id = mgr_->create(p);
    opts_.volumes->adopt(holder, id);
    return id;
  } catch (...) {
    opts_.volumes->abandon(holder, made);
    throw;
  }
}

void ContainerService::set_start_env(const std::string& id, std::vector<std::string> env) {
  std::lock_guard lk(start_env_mu_);
  if (env.empty()) start_env_.erase(id);
  else start_env_[id] = std::move(env);
}

void ContainerService::remove(const std::string& ref, bool force, bool remove_volumes) {
  auto id = mgr_->resolve(ref);
  set_start_env(id, {});
  {
    std::lock_guard lk(remove_mu_);
    if (remove_volumes) remove_volumes_.insert(id);
  }
  try {
    mgr_->remove(id, force);
  } catch (...) {
    std::lock_guard lk(remove_mu_);
    remove_volumes_.erase(id);
    throw;
  }
  std::lock_guard lk(remove_mu_);
  remove_volumes_.erase(id);
}

}  // namespace hoist::engine
