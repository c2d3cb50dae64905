// Docker Registry HTTP API v2 / OCI Distribution client (libcurl).
//
// One Registry object talks to one registry host ("docker.io", "localhost:5000", "10.0.0.1:443")
// and may be used from several threads at once. It handles the /v2/ challenge (Bearer token flow
// with realm/service/scope, anonymous or with credentials, and Basic), TLS with the system CAs plus
// the per-registry files in certs.d/<host[:port]>/ (ca.crt; client.cert + client.key), plain http
// for insecure registries (127.0.0.0/8 and ::1 always, as in Docker), and retries with back-off for
// 5xx answers and dropped connections.
//
// Insecure registries (RegistrySettings::insecure_registries, and loopback addresses unless
// loopback_insecure is off) are handled as Docker does: https is tried first *without* certificate
// verification (the certs.d client certificate is still offered); if that fails at the transport
// level (TLS handshake, connection refused...), plain http is used. The choice is made once per
// Registry object, by the first request (GET /v2/). Secure registries use https with the system CAs
// plus certs.d/<host>/*.crt and never fall back to http.
//
// Retries: transport errors, 5xx (but 501/505) and 429 (Retry-After honoured) are retried up to
// max_attempts times with exponential back-off (backoff_ms, doubled, capped at 10 s, +0..25 %
// jitter). A 401 re-authenticates once for the request's scope and retries. Blob downloads resume
// with Range; an attempt that delivered new bytes does not count against max_attempts (capped at 4x).
// Uploads retry a failed upload session from the start (POST again).
//
// Schema 1 manifests are refused here, in get_manifest/head_manifest ("schema 1 manifests are not
// supported"): the client never asks for them (they are not in the Accept header), so every
// caller would otherwise need the same check.
//
// Repositories are used as given: "library/" for Docker Hub's official images is the caller's job.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/digest.h"
#include "common/error.h"

namespace hoist::image {

struct Credentials {
  std::string username;
  std::string password;
  std::string identity_token;  // OAuth refresh token some registries hand out; optional
  bool empty() const { return username.empty() && password.empty() && identity_token.empty(); }
};

// The credentials part of a docker-compatible config.json: {"auths": {"host": {"auth": base64(user:pass)}}}.
// Other keys in the file are kept as they are when it is saved.
class AuthFile {
 public:
  // A missing file is an empty one; a malformed one is an Error naming the path.
  static AuthFile load(const std::string& path);
  // The key used for a registry host: "https://index.docker.io/v1/" for docker.io, else the host.
  static std::string key_for(const std::string& host);
  std::optional<Credentials> get(const std::string& host) const;
  void set(const std::string& host, const Credentials& c);
  bool erase(const std::string& host);
  // Atomic replace, mode 0600; creates the directory.
  void save() const;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::string json_;  // whole document, serialised
};

struct RegistrySettings {
  std::string certs_dir = "/etc/hoist/certs.d";
  // "host:port", "host" or CIDR ("10.0.0.0/8"): plain http allowed (tried after https fails).
  std::vector<std::string> insecure_registries;
  std::string auth_file;  // config.json path; empty: no stored credentials
  int max_attempts = 5;   // per request, for 5xx answers and transport errors
  int backoff_ms = 100;   // first delay, doubled each attempt
  std::string user_agent = "hoist/0.1";
  // 127.0.0.0/8, ::1 and "localhost" count as insecure (Docker's default). Tests of certificate
  // verification against a loopback registry turn this off.
  bool loopback_insecure = true;
  int connect_timeout_s = 30;
  int stall_timeout_s = 60;  // a transfer that moves no byte for this long fails (and is retried)
};

// A registry answered with an error (status and the first error code/message of its JSON body), or
// could not be reached. what() is complete: "pull localhost:5000/x:1: manifest unknown: ..."
class RegistryError : public Error {
 public:
  RegistryError(const std::string& msg, int status, std::string code = {})
      : Error(msg), status_(status), code_(std::move(code)) {}
  int status() const noexcept { return status_; }  // 0 for transport errors
  const std::string& code() const noexcept { return code_; }

 private:
  int status_;
  std::string code_;
};

struct FetchedManifest {
  std::string media_type;  // Content-Type, or the mediaType field when the header is generic
  std::string body;
  Digest digest;           // the requested digest (verified), else the sha256 of body
};

// Media types accepted when fetching manifests.
extern const std::vector<std::string> kManifestMediaTypes;

class Registry {
 public:
  Registry(std::string host, RegistrySettings settings);
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  const std::string& host() const;
  // Overrides the auth file's entry for this host.
  void set_credentials(const Credentials& c);
  // GET /v2/ and authenticate; throws RegistryError (status 401) when the credentials are refused.
  void ping();
  // The base URL in use after ping/first request ("https://host:port" or "http://...").
  std::string base_url();

  // `ref` is a tag or a digest. The body is refused above `max_size` bytes (RegistryError, status 0,
  // code "MANIFEST_TOO_LARGE"; a Content-Length over the limit stops before the body), schema 1 too
  // (code "MANIFEST_SCHEMA1"), a body whose digest is not the requested one too ("DIGEST_INVALID").
  FetchedManifest get_manifest(const std::string& repo, const std::string& ref, std::size_t max_size = 4 << 20);
  // HEAD: the digest and media type of a manifest, nullopt when unknown.
  std::optional<FetchedManifest> head_manifest(const std::string& repo, const std::string& ref);

  // Streams a blob into `sink` from byte 0. Retries resume with a Range request (or skip what was
  // already delivered when the server ignores Range), so `sink` sees every byte exactly once, in
  // order. `on_size` is called with the total length once it is known. Digest checking is the
  // caller's job (it sees every byte).
  void get_blob(const std::string& repo, const Digest& d, const std::function<void(const char*, std::size_t)>& sink,
                const std::function<void(std::int64_t)>& on_size = {});

  bool blob_exists(const std::string& repo, const Digest& d);
  // Cross-repository mount; true when the registry mounted it (201), false when it wants an upload.
  bool mount_blob(const std::string& repo, const Digest& d, const std::string& from_repo);
  // Uploads the file at `path` (size `size`, digest `d`): monolithic when chunk_size is 0, else PATCH
  // chunks of chunk_size bytes then PUT. `on_progress` gets bytes sent so far.
  void push_blob(const std::string& repo, const Digest& d, const std::string& path, std::int64_t size,
                 std::size_t chunk_size = 0, const std::function<void(std::int64_t)>& on_progress = {});
  // PUT the manifest under `ref` (tag or digest); returns the digest the registry reports.
  Digest put_manifest(const std::string& repo, const std::string& ref, const std::string& media_type,
                      const std::string& body);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hoist::image
