#include "engine/daemon.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "common/json.h"
#include "common/error.h"
#include "common/file.h"
#include "common/log.h"
#include "engine/api/routes.h"

namespace hoist::engine {

using nlohmann::json;

namespace {
std::vector<RouteRegistrar>& global_registrars() {
  static std::vector<RouteRegistrar> v;
  return v;
}
}  // namespace

void add_route_registrar(RouteRegistrar r) { global_registrars().push_back(std::move(r)); }

// daemon.json's "builder": {"entitlements": {"security-insecure": bool}}; any other key is refused
// (dockerd's gc and history settings have no counterpart in hoistd yet).
void DaemonConfig::merge_builder(const std::string& path, const json& b, bool flag_given) {
  auto only = [&](const json& o, const char* key, const std::string& where) {
    if (!o.is_object()) throw InvalidArgument("config file " + path + ": " + where + " is not an object");
    for (auto& [k, v] : o.items())
      if (k != key) throw InvalidArgument("config file " + path + ": unknown key \"" + where + "." + k + "\"");
  };
  only(b, "entitlements", "builder");
  if (!b.contains("entitlements")) return;
  only(b["entitlements"], "security-insecure", "builder.entitlements");
  if (b["entitlements"].contains("security-insecure") && !flag_given)
    allow_security_insecure = b["entitlements"]["security-insecure"].get<bool>();
}

void DaemonConfig::merge_file(const std::string& path, const std::vector<std::string>& explicit_keys) {
  std::string text = read_file(path);
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) return;  // empty file: no settings
  json j = parse_json(text, "config file " + path);
  if (!j.is_object()) throw InvalidArgument("config file " + path + ": not a JSON object");
  auto given = [&](const std::string& k) {
    return std::find(explicit_keys.begin(), explicit_keys.end(), k) != explicit_keys.end();
  };
  static const std::vector<std::string> known = {"data-root", "exec-root", "hosts",  "runtime",
                                                 "insecure-registries", "log-level", "debug", "config-dir",
                                                 "bridge", "bip", "default-address-pools", "mtu", "icc",
                                                 "nft-table", "builder"};
  for (auto& [k, v] : j.items())
    if (std::find(known.begin(), known.end(), k) == known.end())
      throw InvalidArgument("config file " + path + ": unknown key \"" + k + "\"");
  try {
    if (j.contains("data-root") && !given("data-root")) data_root = j["data-root"].get<std::string>();
    if (j.contains("exec-root") && !given("exec-root")) exec_root = j["exec-root"].get<std::string>();
    if (j.contains("config-dir") && !given("config-dir")) config_dir = j["config-dir"].get<std::string>();
    if (j.contains("runtime") && !given("runtime")) runtime = j["runtime"].get<std::string>();
    if (j.contains("hosts") && !given("host")) {
      auto hs = j["hosts"].get<std::vector<std::string>>();
      if (!hs.empty()) host = hs.front();
    }
    if (j.contains("insecure-registries") && !given("insecure-registry")) {
      auto v = j["insecure-registries"].get<std::vector<std::string>>();
      insecure_registries.insert(insecure_registries.end(), v.begin(), v.end());
    }
    if (j.contains("log-level") && !given("log-level")) log_level = j["log-level"].get<std::string>();
    if (j.contains("debug") && !given("debug")) debug = j["debug"].get<bool>();
    if (j.contains("bridge") && !given("bridge")) bridge_name = j["bridge"].get<std::string>();
    if (j.contains("bip") && !given("bip")) bip = j["bip"].get<std::string>();
    if (j.contains("mtu") && !given("mtu")) mtu = j["mtu"].get<int>();
    if (j.contains("icc") && !given("icc")) icc = j["icc"].get<bool>();
    if (j.contains("nft-table") && !given("nft-table")) nft_table = j["nft-table"].get<std::string>();
    if (j.contains("builder")) merge_builder(path, j["builder"], given("allow-insecure-entitlement"));
    if (j.contains("default-address-pools") && !given("default-address-pool"))
      for (auto& p : j["default-address-pools"])  // [{"base": "10.10.0.0/16", "size": 24}]
        default_address_pools.push_back("base=" + p.at("base").get<std::string>() +
                                        ",size=" + std::to_string(p.at("size").get<int>()));
  } catch (const json::exception& e) {
    throw InvalidArgument("config file " + path + ": " + e.what());
  }
}

std::string DaemonConfig::socket_path() const {
  if (host.rfind("unix://", 0) == 0) return host.substr(7);
  if (!host.empty() && host[0] == '/') return host;
  throw InvalidArgument("unsupported host " + host + " (only unix:// sockets)");
}

Daemon::Daemon(DaemonConfig cfg) : cfg_(std::move(cfg)) {
  mkdir_all(cfg_.data_root, 0711);
  mkdir_all(cfg_.exec_root, 0700);
  store_ = std::make_unique<image::Store>(cfg_.data_root + "/image");
  std::string id_file = cfg_.data_root + "/engine-id";
  if (path_exists(id_file)) id_ = read_file(id_file);
  if (id_.empty()) {
    std::random_device rd;
    char buf[40];
    std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%08x%04x", rd(), rd() & 0xffff, rd() & 0xffff,
                  rd() & 0xffff, rd(), rd() & 0xffff);
    id_ = buf;
    write_file_atomic(id_file, id_, 0600);
  }
  started_ = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
                 .count();
}

Daemon::~Daemon() { stop(0); }

image::RegistrySettings Daemon::registry_settings() const {
  image::RegistrySettings s;
  s.certs_dir = cfg_.config_dir + "/certs.d";
  s.auth_file = cfg_.config_dir + "/config.json";
  s.insecure_registries = cfg_.insecure_registries;
  return s;
}

void Daemon::start() {
  register_system_routes(router_, *this);
  register_image_routes(router_, *this);
  register_swarm_routes(router_, *this);
  for (auto& r : global_registrars()) r(router_, *this);
  for (auto& r : registrars_) r(router_, *this);
  ServerOptions o;
  o.socket_path = cfg_.socket_path();
  o.header_timeout_s = cfg_.http_header_timeout_s;
  auto dir = o.socket_path.substr(0, o.socket_path.rfind('/'));
  if (!dir.empty()) mkdir_all(dir, 0755);
  server_ = std::make_unique<HttpServer>(o, [this](Request& req, Response& res) { router_.dispatch(req, res); });
  server_->start();
  write_file_atomic(cfg_.exec_root + "/hoistd.pid", std::to_string(::getpid()) + "\n", 0644, false);
}

void Daemon::stop(int grace_ms) {
  if (!server_) return;
  server_->stop();
  events_.close();
  ::unlink((cfg_.exec_root + "/hoistd.pid").c_str());
  for (int waited = 0; waited < grace_ms && server_->active_connections() > 0; waited += 50)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
}

void Daemon::publish_image_event(const std::string& action, const std::string& id, const std::string& name) {
  Event e;
  e.type = "image";
  e.action = action;
  e.actor_id = id;
  if (!name.empty()) e.attributes["name"] = name;
  events_.publish(std::move(e));
}

}  // namespace hoist::engine
