// Route registration of the Docker Engine API groups.
//
// Each group is a function adding its routes to the router; Daemon::start() calls the system and
// image groups, then every registrar added with add_route_registrar() / Daemon::add_routes()
// (containers, exec, networks, volumes come that way).
#pragma once
#include <nlohmann/json_fwd.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "engine/api/router.h"
#include "engine/containers/record.h"
#include "engine/daemon.h"
#include "image/install.h"

namespace hoist::network {
class NetworkController;
}
namespace hoist::volumes {
struct Volume;
}

namespace hoist::engine {

// GET/HEAD /_ping, GET /version, /info, /events, /system/df.
void register_system_routes(Router& r, Daemon& d);
// /images/...: json, {name}/json, {name}/history, create (pull, import), {name}/tag, DELETE {name},
// {name}/push, get, {name}/get, load, prune.
void register_image_routes(Router& r, Daemon& d);

// A container.Config (of a container or an image) as dockerd's inspect shows it: every field, with
// dockerd's zero values where the stored object has none.
nlohmann::json config_view(const nlohmann::json& stored);
class ContainerService;
// /containers/... and /exec/...; also the daemon's df_containers hook (system/df's Containers).
// ContainerService's constructor adds them.
void register_container_routes(Router& r, Daemon& d, ContainerService& containers);
// Drops what the container list keeps of a removed container.
void forget_container_summary(const std::string& id);
// POST /commit, GET /containers/{id}/changes and /containers/{id}/export (engine/api/commit.cpp);
// registered with the container routes.
void register_commit_routes(Router& r, Daemon& d, ContainerService& containers);
// POST /build (engine/api/build.cpp, engine/build_service.h); registered with the container routes.
void register_build_routes(Router& r, Daemon& d, ContainerService& containers);
// /networks (engine/api/networks.cpp); registered with the container routes.
void register_network_routes(Router& r, ContainerService& containers);
class VolumeService;
// /volumes (engine/api/volumes.cpp): list (Docker's filters), create, inspect, remove, prune.
void register_volume_routes(Router& r, Daemon& d, VolumeService& volumes);
// A volume as dockerd's API shows it (CreatedAt, Driver, Labels, Mountpoint, Name, Options, Scope).
nlohmann::json volume_json(const volumes::Volume& v);
// /containers/{id}/archive: HEAD (stat), GET (tar out), PUT (tar in) (engine/api/archive.cpp);
// registered with the container routes.
void register_archive_routes(Router& r, ContainerService& containers);
// A container create's network settings checked against the networks, with dockerd's words.
void check_container_networks(network::NetworkController& ctl, const nlohmann::json& host_config,
                              const nlohmann::json& endpoints);
// "Up 3 seconds", "Exited (0) 2 minutes ago", "Created": the Status column of `docker ps`.
std::string container_status(const ContainerRecord& r, std::int64_t now_unix);
// Docker's units.HumanDuration: "Less than a second", "About a minute", "3 hours", ...
std::string human_duration(std::int64_t seconds);
// /swarm, /nodes, /services, /tasks, /secrets, /configs as a dockerd outside swarm mode answers them.
void register_swarm_routes(Router& r, Daemon& d);
// The credentials of an X-Registry-Auth header (base64url JSON: username, password,
// identitytoken); none for an empty, undecodable or credential-less header, as Docker.
std::optional<image::Credentials> decode_registry_auth(std::string_view header);
// A pull's progress event as the API's JSON line, as dockerd's ({"status","progressDetail","progress","id"}).
std::string progress_line(const image::ProgressEvent& e);
// X-Registry-Config (POST /build): base64url JSON of registry key -> auth config; undecodable or
// empty entries are left out (anonymous, as Docker).
std::map<std::string, image::Credentials> decode_registry_config(std::string_view header);

// Writes one JSON line of a progress stream ("\r\n" terminated as Docker does).
void write_json_line(Writer& w, const std::string& serialized);

}  // namespace hoist::engine
