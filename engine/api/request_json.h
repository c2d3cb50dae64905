// Request bodies and JSON headers of the Docker API, read the way dockerd reads them.
//
// dockerd decodes with Go's encoding/json: a key matches a struct field exactly or, failing that,
// case-insensitively ("CPURealtimePeriod" fills CpuRealtimePeriod, "dns" fills Dns); keys of maps
// (Labels, ExposedPorts, Sysctls, ...) are data and keep their case. decode_body() parses once,
// with the depth and size limits of common/json.h, and renames every key that names a known field
// to the field's canonical spelling, so handlers look up keys by their Docker names only. A known
// field given as `null` is removed: Go leaves the field at its zero value, as when it is absent.
#pragma once
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "engine/api/http_server.h"

namespace hoist::engine {

// The body types of the API (Go struct the body decodes into).
enum class BodyType {
  ContainerCreate,  // container.Config + HostConfig + NetworkingConfig
  ContainerUpdate,  // container.UpdateConfig: Resources + RestartPolicy
  ExecCreate,       // ExecConfig
  ExecStart,        // ExecStartCheck
  AuthConfig,       // registry.AuthConfig (X-Registry-Auth, /auth)
  NetworkCreate,    // network create
  NetworkConnect,   // network connect/disconnect
  VolumeCreate,     // volume create
};

// Canonicalises the keys of `j` (an object of `type`) in place; anything else is left alone.
void canonicalize_keys(nlohmann::json& j, BodyType type);

// Parses `text` (bounded), requires an object (an empty text or `null` gives {} when `empty_ok`), and
// canonicalises its keys. Errors are InvalidArgument (400) with dockerd's kind of message.
nlohmann::json decode_json(std::string_view text, BodyType type, bool empty_ok = true);

// The request body (at most 4 MiB, else 413), decoded as above.
nlohmann::json decode_body(Request& req, BodyType type, bool empty_ok = true);

}  // namespace hoist::engine
