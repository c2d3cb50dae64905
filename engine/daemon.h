// hoistd's core: configuration, the image store, the event bus, the router and the server.
//
// Other modules plug in through Daemon::Hooks (containers: counts for /info, "image in use" for
// rmi/prune, disk usage for /system/df) and through route registrars: a module calls
//   hoist::engine::add_route_registrar([](Router& r, Daemon& d) { r.get("/containers/json", ...); });
// from a static initialiser or from hoistd_main before Daemon::start(), or simply
//   d.add_routes([](Router& r, Daemon& d) { ... });
// Registrars run once, in order, after the system and image routes.
#pragma once
#include <cstdint>
#include <functional>
#include <nlohmann/json_fwd.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/events.h"
#include "engine/api/http_server.h"
#include "engine/api/router.h"
#include "image/registry.h"
#include "image/store.h"

namespace hoist::engine {

struct DaemonConfig {
  std::string data_root = "/var/lib/hoist";
  std::string exec_root = "/run/hoist";
  std::string host = "unix:///run/hoist/hoist.sock";  // only unix:// for now
  std::string runtime = "hoist-runtime";
  std::string config_file;  // JSON with the same keys as the flags ("data-root", "hosts", ...)
  std::string config_dir = "/etc/hoist";  // certs.d/ and config.json (credentials)
  std::vector<std::string> insecure_registries;
  std::string log_level = "info";
  bool debug = false;
  int http_header_timeout_s = 30;  // a client's time to send a whole request head
  // Networking (dockerd's flags where it has them).
  std::string bridge_name = "hoist0";  // the default bridge's device
  std::string bip;                     // --bip: the default bridge's gateway/prefix ("" → a free pool)
  std::vector<std::string> default_address_pools;  // "base=10.10.0.0/16,size=24" (dockerd's form)
  int mtu = 1500;
  bool icc = true;                     // --icc: the default bridge's containers reach each other
  std::string nft_table = "hoist";     // the nftables table (family ip) of this daemon
  std::string resolv_conf = "/etc/resolv.conf";  // the host's: upstreams of the embedded DNS
  // The builder: whether a build may be granted BuildKit's security.insecure (the client asks with
  // --allow; the daemon allows it with --allow-insecure-entitlement security.insecure or
  // daemon.json's "builder": {"entitlements": {"security-insecure": true}}, as dockerd's).
  bool allow_security_insecure = false;

  // Merges a daemon.json (keys: data-root, exec-root, hosts, runtime, insecure-registries,
  // log-level, debug, ..., builder.entitlements.security-insecure) under the values set explicitly
  // (`explicit_keys` lists flags given).
  void merge_file(const std::string& path, const std::vector<std::string>& explicit_keys);
  std::string socket_path() const;  // host without unix://

 private:
  void merge_builder(const std::string& path, const nlohmann::json& builder, bool flag_given);
};

class Daemon;
using RouteRegistrar = std::function<void(Router&, Daemon&)>;
// Process-wide list used by Daemon::start() (modules linking into hoistd add theirs).
void add_route_registrar(RouteRegistrar r);

class Daemon {
 public:
  struct ContainerCounts {
    int total = 0, running = 0, paused = 0, stopped = 0;
  };
  struct Hooks {
    std::function<ContainerCounts()> container_counts;
    // The container using an image (for rmi's 409 and prune), or nullopt.
    std::function<std::optional<std::string>(const Digest& image_id)> image_user;
    // How many containers use an image (-1 when unknown).
    std::function<int(const Digest& image_id)> image_containers;
    // The "Containers" part of /system/df, serialized JSON array.
    std::function<std::string()> df_containers;
    // The "Volumes" part of /system/df, serialized JSON array.
    std::function<std::string()> df_volumes;
    // The "BuildCache" part of /system/df for an API version ("" for the newest), serialized JSON array.
    std::function<std::string(const std::string& version)> df_build_cache;
  };

  explicit Daemon(DaemonConfig cfg);
  ~Daemon();

  const DaemonConfig& config() const { return cfg_; }
  image::Store& store() { return *store_; }
  EventBus& events() { return events_; }
  Router& router() { return router_; }
  Hooks& hooks() { return hooks_; }
  image::RegistrySettings registry_settings() const;
  const std::string& id() const { return id_; }
  std::int64_t started_at() const { return started_; }

  void add_routes(RouteRegistrar r) { registrars_.push_back(std::move(r)); }

  // Registers all routes, binds the socket, writes <exec_root>/hoistd.pid.
  void start();
  // Stops accepting, wakes event streams, removes the socket and the pid file; waits up to
  // `grace_ms` for open requests.
  void stop(int grace_ms = 3000);
  bool stopping() const { return server_ && server_->shutting_down(); }

  void publish_image_event(const std::string& action, const std::string& id, const std::string& name);

 private:
  DaemonConfig cfg_;
  std::unique_ptr<image::Store> store_;
  EventBus events_;
  Router router_;
  Hooks hooks_;
  std::vector<RouteRegistrar> registrars_;
  std::unique_ptr<HttpServer> server_;
  std::string id_;
  std::int64_t started_ = 0;
};

}  // namespace hoist::engine
