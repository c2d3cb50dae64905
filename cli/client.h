// Docker Engine API client over a Unix socket: plain requests and streams with Boost.Beast (HTTP
// only, no libcurl: the CLI starts with a handful of libraries, ~1 ms instead of ~5), hijacked
// connections (attach, exec start) on a raw socket.
#pragma once
#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>

#include "common/error.h"
#include "common/fd.h"

namespace hoist::cli {

// An error status from the daemon; message is the body's "message".
class ApiError : public Error {
 public:
  ApiError(long status, const std::string& msg) : Error(msg), status_(status) {}
  long status() const { return status_; }

 private:
  long status_;
};

// Could not reach the daemon at all.
class ConnectError : public Error {
 public:
  using Error::Error;
};

struct Response {
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
};

// "unix:///run/hoist/hoist.sock" → "/run/hoist/hoist.sock"; throws on other schemes.
std::string socket_path_from_host(std::string_view host);
// Extracts the "message" of an error body (JSON or plain text).
std::string error_message(std::string_view body);
// Percent-encodes a query component.
std::string url_escape(std::string_view s);

class Client {
 public:
  explicit Client(std::string socket_path);

  // Negotiates the API version with /_ping (once); paths are then prefixed with /v<version>.
  void negotiate();
  const std::string& version() const { return version_; }
  // Whether the daemon (a hoistd) said at negotiation that it has `cap` ("context-stat").
  bool has_capability(const std::string& cap) const { return capabilities_.count(cap) > 0; }
  // Uses a version negotiated already (by another Client of the same daemon).
  void set_version(const std::string& v) { version_ = v; }

  // A request with a JSON (or other) body; throws ApiError for status >= 400 unless
  // `allow_error`.
  Response request(const std::string& method, const std::string& path, const std::string& body = "",
                   const std::map<std::string, std::string>& headers = {}, bool allow_error = false);
  // Streams the response body to `on_data` (return false to stop). The request body comes from
  // `upload_fd` when >= 0 (chunked). Throws ApiError with the collected body for status >= 400.
  long stream(const std::string& method, const std::string& path, const std::string& body,
              const std::function<bool(std::string_view)>& on_data, const std::map<std::string, std::string>& headers = {},
              int upload_fd = -1, const std::function<void(long)>& on_headers = {});
  // Sends one piece of a request body; false once the daemon stopped reading it.
  using BodySink = std::function<bool(std::string_view)>;
  // As stream(), with the request body made by `produce`, which hands its pieces to the sink as it
  // makes them (each sent as a chunk at once) and returns at the body's end.
  long stream_upload(const std::string& method, const std::string& path,
                     const std::function<void(const BodySink&)>& produce,
                     const std::function<bool(std::string_view)>& on_data,
                     const std::map<std::string, std::string>& headers = {},
                     const std::function<void(long)>& on_headers = {});
  // POST with "Upgrade: tcp"; returns the raw socket after the 101/200 response headers, with any
  // bytes read past them in `leftover`. Throws ApiError on an error status.
  UniqueFd hijack(const std::string& path, const std::string& body, std::string& leftover);

 private:
  std::string url(const std::string& path) const;
  std::string sock_;
  std::string version_;
  std::set<std::string> capabilities_;
};

}  // namespace hoist::cli
