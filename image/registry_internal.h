// Pieces of the registry client that are pure functions, exposed for the tests: base64, the
// WWW-Authenticate parser, host/port splitting, the insecure-registry rules, the registry's JSON
// error body, auth-file key matching.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hoist::image::detail {

std::string base64_encode(std::string_view in);
// Standard alphabet, padding optional, whitespace ignored; nullopt for anything else.
std::optional<std::string> base64_decode(std::string_view in);

// Percent-encoding of a query parameter value (RFC 3986 unreserved characters stay as they are).
std::string url_encode(std::string_view s);

// One challenge of a WWW-Authenticate header: `Bearer realm="...",service="...",scope="..."`.
// The scheme is lower-cased, so are the parameter names; values are unquoted.
struct Challenge {
  std::string scheme;  // "bearer", "basic", ...
  std::map<std::string, std::string> params;
  std::string param(const std::string& k) const {
    auto it = params.find(k);
    return it == params.end() ? std::string() : it->second;
  }
};
// Every challenge in the header value (RFC 7235: several may be comma separated). Junk yields
// what could be understood before it.
std::vector<Challenge> parse_www_authenticate(std::string_view header);

// "host:port" → {"host", "port"}; "[::1]:5000" → {"::1", "5000"}; "host" → {"host", ""}.
std::pair<std::string, std::string> split_host_port(std::string_view hostport);

// Whether `host` ("host", "host:port", "[v6]:port") is an insecure registry: an entry of `insecure`
// that is the same "host:port", the same host without a port (any port then), or a CIDR holding
// one of the host's addresses (an IP literal, or what the name resolves to); with
// `loopback` also 127.0.0.0/8, ::1 and "localhost" (Docker's default).
bool is_insecure_registry(const std::string& host, const std::vector<std::string>& insecure, bool loopback);

// The endpoint to connect to for a registry name: "docker.io" (and its aliases index.docker.io,
// registry-1.docker.io) → "registry-1.docker.io"; anything else as it is.
std::string endpoint_host(const std::string& host);
bool is_docker_hub(const std::string& host);

// An auth-file key reduced to a host for comparison: scheme and path dropped, lower case, the
// Docker Hub aliases folded to "docker.io". "https://index.docker.io/v1/" → "docker.io".
std::string normalize_auth_key(std::string_view key);

// The first error of a registry's JSON error body {"errors":[{"code","message","detail"}]}
// (also the token servers' {"details": ...} / {"error": ...} shapes); nullopt when not JSON.
struct ErrorBody {
  std::string code;
  std::string message;
};
std::optional<ErrorBody> parse_error_body(std::string_view body);

// The media type part of a Content-Type value: parameters dropped, lower case, trimmed.
std::string bare_media_type(std::string_view content_type);

}  // namespace hoist::image::detail
