// Docker Registry HTTP API v2 / OCI distribution client over libcurl. See registry.h for the
// rules (insecure registries, retries, schema 1).
//
// Requests go through Impl::execute: endpoint discovery (GET /v2/, https then http for insecure
// registries), the Authorization header for the request's scopes (Basic, or a cached Bearer token),
// one re-authentication on a 401, redirects followed by hand (Authorization only to the registry
// itself), and retries with back-off. Impl::transfer is one curl_easy_perform on a pooled easy
// handle; the handles keep their connections between requests and share DNS and TLS sessions.
#include "image/registry.h"

#include <curl/curl.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "common/json.h"
#include "common/error.h"
#include "common/file.h"
#include "common/log.h"
#include "common/strings.h"
#include "image/curl_lib.h"
#include "image/manifest.h"
#include "image/registry_internal.h"

namespace hoist::image {

const std::vector<std::string> kManifestMediaTypes = {
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
};

namespace {

using Clock = std::chrono::steady_clock;
using detail::Challenge;

constexpr const char* kSchema1 = "application/vnd.docker.distribution.manifest.v1+json";
constexpr const char* kSchema1Signed = "application/vnd.docker.distribution.manifest.v1+prettyjws";
constexpr long kBufferSize = 512 * 1024;
constexpr std::size_t kMaxErrorBody = 64 * 1024;
constexpr std::size_t kMaxTokenBody = 1 << 20;
constexpr int kMaxRedirects = 10;
constexpr long kMaxBackoffMs = 10'000;
constexpr long kMaxRetryAfterMs = 60'000;

// Retries are exhausted (or not allowed) for an error that could go away: a transport error, a
// 5xx or a 429. push_blob restarts its upload session on these.
class TransientError : public RegistryError {
 public:
  using RegistryError::RegistryError;
};

std::string lower(std::string_view s) {
  std::string r(s);
  for (auto& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return r;
}


struct Response {
  long status = 0;
  std::string reason;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-case
  std::string body;                                           // bodies not streamed to on_data (capped)
  bool body_truncated = false;
  CURLcode curl = CURLE_OK;
  std::string curl_error;
  std::string redirect_url;
  bool aborted = false;            // a callback stopped the transfer on purpose
  std::exception_ptr exception;    // thrown by a callback

  std::string header(std::string_view name) const {
    for (auto& [k, v] : headers)
      if (k == name) return v;
    return {};
  }
  std::vector<std::string> header_all(std::string_view name) const {
    std::vector<std::string> out;
    for (auto& [k, v] : headers)
      if (k == name) out.push_back(v);
    return out;
  }
  bool ok() const { return curl == CURLE_OK; }
};

struct Request {
  std::string method = "GET";
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::string authorization;         // Authorization header value, empty for none
  // Upload body: `body` in memory, or `body_len` bytes of `body_fd` from `body_off`.
  const std::string* body = nullptr;
  int body_fd = -1;
  std::int64_t body_off = 0;
  std::int64_t body_len = 0;
  std::function<void(std::int64_t)> on_upload;  // bytes handed to curl so far
  // 2xx answers: on_headers once the headers are in, then the body to on_data when it is set (else
  // into Response::body). Returning false stops the transfer (Response::aborted).
  std::function<bool(Response&)> on_headers;
  std::function<bool(const char*, std::size_t)> on_data;
  std::size_t body_limit = kMaxErrorBody;
  std::string userpwd;  // "user:password" sent by curl as Basic (the token realm)
  bool follow = false;  // curl follows redirects (the token realm only; credentials stay on the host)
  bool verify = true;   // TLS peer verification
  bool big_buffer = false;
};

struct TransferCtx {
  Request* rq;
  Response* rs;
  bool headers_done = false;
  std::int64_t up_pos = 0;
};

// Runs a caller's callback inside a curl callback: false (curl then stops the transfer) when it
// asked to stop or threw; its exception is kept for the caller's thread.
template <typename F>
bool call_back(Response& rs, F&& f) {
  try {
    if (f()) return true;
    rs.aborted = true;
  } catch (...) {
    rs.exception = std::current_exception();
  }
  return false;
}

size_t header_cb(char* p, size_t size, size_t n, void* ud) {
  auto* c = static_cast<TransferCtx*>(ud);
  size_t len = size * n;
  std::string_view line(p, len);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  auto& rs = *c->rs;
  if (line.rfind("HTTP/", 0) == 0) {
    rs.headers.clear();
    c->headers_done = false;
    auto sp = line.find(' ');
    if (sp != std::string_view::npos) {
      auto rest = line.substr(sp + 1);
      auto sp2 = rest.find(' ');
      try {
        rs.status = std::stol(std::string(rest.substr(0, sp2)));
      } catch (...) {
        rs.status = 0;
      }
      rs.reason = sp2 == std::string_view::npos ? "" : std::string(trim(rest.substr(sp2 + 1)));
    }
    return len;
  }
  if (line.empty()) {
    if (rs.status >= 200 && !c->headers_done) {
      c->headers_done = true;
      if (rs.status < 300 && c->rq->on_headers) {
        if (!call_back(rs, [&] { return c->rq->on_headers(rs); })) return 0;
      }
    }
    return len;
  }
  auto colon = line.find(':');
  if (colon != std::string_view::npos)
    rs.headers.emplace_back(lower(trim(line.substr(0, colon))), std::string(trim(line.substr(colon + 1))));
  return len;
}

size_t write_cb(char* p, size_t size, size_t n, void* ud) {
  auto* c = static_cast<TransferCtx*>(ud);
  size_t len = size * n;
  auto& rs = *c->rs;
  if (rs.status >= 200 && rs.status < 300 && c->rq->on_data) {
    return call_back(rs, [&] { return c->rq->on_data(p, len); }) ? len : 0;
  }
  std::size_t room = c->rq->body_limit > rs.body.size() ? c->rq->body_limit - rs.body.size() : 0;
  if (len > room) rs.body_truncated = true;
  rs.body.append(p, std::min(room, len));
  return len;
}

size_t read_cb(char* buf, size_t size, size_t n, void* ud) {
  auto* c = static_cast<TransferCtx*>(ud);
  auto& rq = *c->rq;
  std::int64_t left = rq.body_len - c->up_pos;
  if (left <= 0) return 0;
  size_t want = std::min<std::int64_t>(static_cast<std::int64_t>(size * n), left);
  size_t got = 0;
  if (rq.body) {
    std::memcpy(buf, rq.body->data() + c->up_pos, want);
    got = want;
  } else {
    while (got < want) {
      ssize_t r = ::pread(rq.body_fd, buf + got, want - got, rq.body_off + c->up_pos + static_cast<std::int64_t>(got));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) {
        c->rs->exception = std::make_exception_ptr(SysError("read", "upload body", errno));
        return CURL_READFUNC_ABORT;
      }
      if (r == 0) {
        c->rs->exception = std::make_exception_ptr(Error("read upload body: the file is shorter than announced"));
        return CURL_READFUNC_ABORT;
      }
      got += static_cast<size_t>(r);
    }
  }
  c->up_pos += static_cast<std::int64_t>(got);
  if (rq.on_upload) {
    try {
      rq.on_upload(c->up_pos);
    } catch (...) {
      c->rs->exception = std::current_exception();
      return CURL_READFUNC_ABORT;
    }
  }
  return got;
}

int seek_cb(void* ud, curl_off_t offset, int origin) {
  auto* c = static_cast<TransferCtx*>(ud);
  if (origin != SEEK_SET || offset < 0 || offset > c->rq->body_len) return CURL_SEEKFUNC_FAIL;
  c->up_pos = offset;
  return CURL_SEEKFUNC_OK;
}

bool retryable_curl(CURLcode c) {
  switch (c) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_HTTP3:
    case CURLE_QUIC_CONNECT_ERROR:
      return true;
    default:
      return false;
  }
}

bool retryable_status(long s) { return s == 408 || s == 429 || (s >= 500 && s <= 599 && s != 501 && s != 505); }

bool is_redirect(long s) { return s == 301 || s == 302 || s == 303 || s == 307 || s == 308; }

// "Internal Server Error (500)", the registry's message when it sent a JSON error body.
std::string describe(const Response& rs, std::string* code = nullptr) {
  if (!rs.ok()) return rs.curl_error;
  std::string status = std::to_string(rs.status);
  if (auto e = detail::parse_error_body(rs.body)) {
    if (code) *code = e->code;
    return e->message + " (" + status + ")";
  }
  std::string reason = rs.reason;
  if (reason.empty()) reason = "HTTP error";
  std::string text(trim(rs.body.substr(0, 200)));
  bool printable = !text.empty() && text.find('\n') == std::string::npos &&
                   std::all_of(text.begin(), text.end(), [](char ch) { return ch >= 32 && ch < 127; });
  return reason + (printable && text != reason ? ": " + text : "") + " (" + status + ")";
}

RegistryError http_error(const std::string& op, const Response& rs) {
  std::string code;
  std::string msg = describe(rs, &code);
  return RegistryError(op + ": " + msg, rs.ok() ? static_cast<int>(rs.status) : 0, code);
}

bool is_digest_ref(const std::string& ref) { return ref.find(':') != std::string::npos; }

void check_repo(const std::string& repo) {
  bool ok = !repo.empty() && repo.size() <= 255 && repo.front() != '/' && repo.back() != '/' &&
            repo.find("//") == std::string::npos && repo.find("..") == std::string::npos;
  for (char c : repo)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' || c == '/')) ok = false;
  if (!ok) throw Error("invalid repository name \"" + repo + "\"");
}

void check_ref(const std::string& ref) {
  if (is_digest_ref(ref)) {
    Digest::parse(ref);
    return;
  }
  bool ok = !ref.empty() && ref.size() <= 128 && ref.front() != '.' && ref.front() != '-';
  for (char c : ref)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-')) ok = false;
  if (!ok) throw Error("invalid tag \"" + ref + "\"");
}

std::string join_scopes(const std::vector<std::string>& scopes, char sep) {
  std::string out;
  for (auto& s : scopes) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

std::string with_query(const std::string& url, const std::string& q) {
  return url + (url.find('?') == std::string::npos ? "?" : "&") + q;
}

struct Origin {
  std::string scheme, host, port;
  bool operator==(const Origin&) const = default;
};

std::optional<Origin> origin_of(const std::string& url) {
  CURLU* u = curl_lib().url();
  if (!u) return std::nullopt;
  std::optional<Origin> out;
  if (curl_lib().url_set(u, CURLUPART_URL, url.c_str(), 0) == CURLUE_OK) {
    char *scheme = nullptr, *host = nullptr, *port = nullptr;
    if (curl_lib().url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_lib().url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
        curl_lib().url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK)
      out = Origin{lower(scheme), lower(host), port};
    curl_lib().free(scheme);
    curl_lib().free(host);
    curl_lib().free(port);
  }
  curl_lib().url_cleanup(u);
  return out;
}

// `loc` (a Location header) resolved against `base_url`.
std::string resolve_url(const std::string& base_url, const std::string& loc) {
  CURLU* u = curl_lib().url();
  std::string out = loc;
  if (u && curl_lib().url_set(u, CURLUPART_URL, base_url.c_str(), 0) == CURLUE_OK &&
      curl_lib().url_set(u, CURLUPART_URL, loc.c_str(), 0) == CURLUE_OK) {
    char* s = nullptr;
    if (curl_lib().url_get(u, CURLUPART_URL, &s, 0) == CURLUE_OK) out = s;
    curl_lib().free(s);
  }
  curl_lib().url_cleanup(u);
  return out;
}

long backoff_ms(const RegistrySettings& s, int attempt) {
  long d = std::max(0, s.backoff_ms);
  for (int i = 1; i < attempt && d < kMaxBackoffMs; ++i) d *= 2;
  d = std::min(d, kMaxBackoffMs);
  thread_local std::mt19937 rng{std::random_device{}()};
  if (d > 0) d += std::uniform_int_distribution<long>(0, d / 4)(rng);
  return d;
}

// Retry-After in seconds (the HTTP-date form is not used by registries).
long retry_after_ms(const Response& rs) {
  auto v = rs.header("retry-after");
  if (v.empty() || !std::all_of(v.begin(), v.end(), ::isdigit) || v.size() > 6) return 0;
  return std::min(std::stol(v) * 1000, kMaxRetryAfterMs);
}

struct ExecOpts {
  int max_attempts = 0;                   // 0: the settings' value
  bool follow = false;                    // follow redirects (GET/HEAD of blobs)
  std::function<void(Request&)> prepare;  // before each attempt
  std::function<bool()> progressed;       // after a failed attempt: did it move forward?
};

struct Token {
  std::string value;
  Clock::time_point expires;
};

// What certs.d/<host>/ holds: extra CAs (merged with the system bundle) and one client certificate.
struct TlsFiles {
  std::string ca_blob;  // system bundle + *.crt; empty: curl's defaults
  std::string client_cert, client_key;
};

std::string system_ca_bundle() {
  const char* path = curl_lib().version_info(CURLVERSION_NOW)->cainfo;
  for (std::string p : {std::string(path ? path : ""), std::string("/etc/ssl/certs/ca-certificates.crt")}) {
    if (p.empty() || !path_exists(p)) continue;
    try {
      return read_file(p);
    } catch (const Error&) {
    }
  }
  return {};
}

// Docker's rules: *.crt are CAs; X.cert needs X.key and X.key needs X.cert.
TlsFiles load_certs_dir(const std::string& dir, TlsFiles tls) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) {
    if (errno == ENOENT || errno == ENOTDIR) return tls;
    throw_sys("open certs directory", dir);
  }
  std::vector<std::string> names;
  while (auto* e = ::readdir(d)) names.emplace_back(e->d_name);
  ::closedir(d);
  std::sort(names.begin(), names.end());
  auto has = [&](const std::string& n) { return std::find(names.begin(), names.end(), n) != names.end(); };
  std::string extra;
  for (auto& n : names) {
    std::string p = dir + "/" + n;
    if (n.ends_with(".crt")) {
      extra += read_file(p);
      extra += "\n";
    } else if (n.ends_with(".cert")) {
      std::string key = n.substr(0, n.size() - 5) + ".key";
      if (!has(key)) throw Error("certs directory " + dir + ": missing key " + key + " for client certificate " + n);
      if (tls.client_cert.empty()) {
        tls.client_cert = p;
        tls.client_key = dir + "/" + key;
      }
    } else if (n.ends_with(".key")) {
      std::string cert = n.substr(0, n.size() - 4) + ".cert";
      if (!has(cert)) throw Error("certs directory " + dir + ": missing client certificate " + cert + " for key " + n);
    }
  }
  if (!extra.empty()) {
    if (tls.ca_blob.empty()) tls.ca_blob = system_ca_bundle() + "\n";
    tls.ca_blob += extra;
  }
  return tls;
}

}  // namespace

struct Registry::Impl {
  std::string host;      // as given ("docker.io", "localhost:5000")
  std::string endpoint;  // what we connect to ("registry-1.docker.io", "localhost:5000")
  std::string endpoint_hostname;
  RegistrySettings s;
  bool insecure = false;
  TlsFiles tls;

  std::mutex cred_mu;
  std::optional<Credentials> creds;

  std::mutex ep_mu;
  std::string base;  // "https://host:port" once known

  std::mutex auth_mu;
  std::string auth_scheme;  // "", "basic", "bearer"
  std::string realm, service;
  std::map<std::string, Token> tokens;
  std::mutex fetch_mu;  // one token fetch at a time

  CURLSH* share = nullptr;
  std::mutex share_mu[CURL_LOCK_DATA_LAST];
  std::mutex pool_mu;
  std::vector<CURL*> pool;

  ~Impl() {
    for (auto* h : pool) curl_lib().easy_cleanup(h);
    if (share) curl_lib().share_cleanup(share);
  }

  std::string name(const std::string& repo, const std::string& ref) const {
    return host + "/" + repo + (is_digest_ref(ref) ? "@" : ":") + ref;
  }

  std::optional<Credentials> credentials() {
    std::lock_guard lk(cred_mu);
    return creds;
  }

  // ---- transport ---------------------------------------------------------------------------

  CURL* acquire() {
    {
      std::lock_guard lk(pool_mu);
      if (!pool.empty()) {
        CURL* h = pool.back();
        pool.pop_back();
        return h;
      }
    }
    CURL* h = curl_lib().easy_init();
    if (!h) throw Error("curl_easy_init failed");
    return h;
  }
  void release(CURL* h) {
    std::lock_guard lk(pool_mu);
    pool.push_back(h);
  }

  void transfer(Request& rq, Response& rs) {
    CURL* h = acquire();
    struct Release {
      Impl* self;
      CURL* h;
      curl_slist* hdrs = nullptr;
      ~Release() {
        curl_lib().slist_free_all(hdrs);
        self->release(h);
      }
    } guard{this, h};
    curl_lib().easy_reset(h);
    TransferCtx ctx{&rq, &rs};
    char errbuf[CURL_ERROR_SIZE] = {};
    curl_lib().easy_setopt(h, CURLOPT_URL, rq.url.c_str());
    curl_lib().easy_setopt(h, CURLOPT_SHARE, share);
    curl_lib().easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_lib().easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_lib().easy_setopt(h, CURLOPT_USERAGENT, s.user_agent.c_str());
    curl_lib().easy_setopt(h, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
    curl_lib().easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_lib().easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_lib().easy_setopt(h, CURLOPT_CONNECTTIMEOUT, static_cast<long>(std::max(1, s.connect_timeout_s)));
    curl_lib().easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_lib().easy_setopt(h, CURLOPT_LOW_SPEED_TIME, static_cast<long>(std::max(1, s.stall_timeout_s)));
    curl_lib().easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    if (rq.big_buffer) {
      curl_lib().easy_setopt(h, CURLOPT_BUFFERSIZE, kBufferSize);
      curl_lib().easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, kBufferSize);
    }
    curl_lib().easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb);
    curl_lib().easy_setopt(h, CURLOPT_HEADERDATA, &ctx);
    curl_lib().easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
    curl_lib().easy_setopt(h, CURLOPT_WRITEDATA, &ctx);
    if (rq.follow) {
      curl_lib().easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
      curl_lib().easy_setopt(h, CURLOPT_MAXREDIRS, static_cast<long>(kMaxRedirects));
    }
    if (!rq.userpwd.empty()) {
      curl_lib().easy_setopt(h, CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BASIC));
      curl_lib().easy_setopt(h, CURLOPT_USERPWD, rq.userpwd.c_str());
    }
    // TLS
    if (!rq.verify) {
      curl_lib().easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_lib().easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    curl_blob ca{};
    if (!tls.ca_blob.empty()) {
      ca.data = tls.ca_blob.data();
      ca.len = tls.ca_blob.size();
      ca.flags = CURL_BLOB_NOCOPY;
      curl_lib().easy_setopt(h, CURLOPT_CAINFO_BLOB, &ca);
    }
    if (!tls.client_cert.empty()) {
      curl_lib().easy_setopt(h, CURLOPT_SSLCERT, tls.client_cert.c_str());
      curl_lib().easy_setopt(h, CURLOPT_SSLKEY, tls.client_key.c_str());
    }
    // Method and body
    bool upload = rq.body || rq.body_fd >= 0;
    if (!upload) rq.body_len = 0;
    if (rq.method == "HEAD") {
      curl_lib().easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (rq.method == "POST" && !upload) {
      curl_lib().easy_setopt(h, CURLOPT_POST, 1L);
      curl_lib().easy_setopt(h, CURLOPT_POSTFIELDS, "");
      curl_lib().easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(0));
    } else if (rq.method == "POST") {
      curl_lib().easy_setopt(h, CURLOPT_POST, 1L);
      curl_lib().easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(rq.body_len));
      curl_lib().easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
      curl_lib().easy_setopt(h, CURLOPT_READDATA, &ctx);
      curl_lib().easy_setopt(h, CURLOPT_SEEKFUNCTION, seek_cb);
      curl_lib().easy_setopt(h, CURLOPT_SEEKDATA, &ctx);
    } else if (rq.method == "PUT" || rq.method == "PATCH") {
      curl_lib().easy_setopt(h, CURLOPT_UPLOAD, 1L);
      curl_lib().easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(rq.body_len));
      curl_lib().easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
      curl_lib().easy_setopt(h, CURLOPT_READDATA, &ctx);
      curl_lib().easy_setopt(h, CURLOPT_SEEKFUNCTION, seek_cb);
      curl_lib().easy_setopt(h, CURLOPT_SEEKDATA, &ctx);
      if (rq.method == "PATCH") curl_lib().easy_setopt(h, CURLOPT_CUSTOMREQUEST, "PATCH");
    } else if (rq.method != "GET") {
      curl_lib().easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq.method.c_str());
    }
    for (auto& hd : rq.headers) guard.hdrs = curl_lib().slist_append(guard.hdrs, hd.c_str());
    if (!rq.authorization.empty())
      guard.hdrs = curl_lib().slist_append(guard.hdrs, ("Authorization: " + rq.authorization).c_str());
    if (upload) guard.hdrs = curl_lib().slist_append(guard.hdrs, "Expect:");
    if (guard.hdrs) curl_lib().easy_setopt(h, CURLOPT_HTTPHEADER, guard.hdrs);

    rs.curl = curl_lib().easy_perform(h);
    long code = 0;
    curl_lib().easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    if (code) rs.status = code;
    char* redir = nullptr;
    if (curl_lib().easy_getinfo(h, CURLINFO_REDIRECT_URL, &redir) == CURLE_OK && redir) rs.redirect_url = redir;
    if (rs.curl != CURLE_OK) {
      std::string detail = errbuf[0] ? errbuf : curl_lib().easy_strerror(rs.curl);
      while (!detail.empty() && (detail.back() == '\n' || detail.back() == '\r')) detail.pop_back();
      long os_errno = 0;
      if (curl_lib().easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno) == CURLE_OK && os_errno > 0) {
        std::string why = std::strerror(static_cast<int>(os_errno));
        if (detail.find(why) == std::string::npos) detail += " (" + why + ")";
      }
      rs.curl_error = detail;
    }
  }

  bool verify_for(const std::string& url) const {
    if (!insecure) return true;
    auto o = origin_of(url);
    if (!o) return true;
    std::string h = o->host;  // "[::1]" for IPv6
    if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
    return h != lower(endpoint_hostname);
  }

  // ---- endpoint ----------------------------------------------------------------------------

  std::string ensure_endpoint(const std::string& op) {
    std::lock_guard lk(ep_mu);
    if (!base.empty()) return base;
    std::vector<std::string> schemes = {"https"};
    if (insecure) schemes.push_back("http");
    int max = std::max(1, s.max_attempts);
    for (int attempt = 1;; ++attempt) {
      std::string errs;
      bool transient = false;
      for (auto& scheme : schemes) {
        Request rq;
        rq.url = scheme + "://" + endpoint + "/v2/";
        rq.verify = !insecure;
        Response rs;
        transfer(rq, rs);
        if (rs.ok()) {
          base = scheme + "://" + endpoint;
          if (scheme == "http") log::info("registry " + host + ": https failed (" + errs + "), using plain http");
          if (rs.status == 401) learn_challenge(rs);
          return base;
        }
        errs += (errs.empty() ? "" : "; ") + (schemes.size() > 1 ? scheme + ": " : std::string()) + rs.curl_error;
        if (retryable_curl(rs.curl)) transient = true;
      }
      if (!transient || attempt >= max)
        throw RegistryError(op + ": " + errs + (attempt > 1 ? " (gave up after " + std::to_string(attempt) + " attempts)" : ""), 0);
      long wait = backoff_ms(s, attempt);
      log::debug("registry " + host + ": " + errs + "; retrying in " + std::to_string(wait) + " ms");
      std::this_thread::sleep_for(std::chrono::milliseconds(wait));
    }
  }

  // ---- authentication ----------------------------------------------------------------------

  // Records the challenge of a 401; returns it (scheme empty when there is none we understand).
  Challenge learn_challenge(const Response& rs) {
    std::string all;
    for (auto& v : rs.header_all("www-authenticate")) all += (all.empty() ? "" : ", ") + v;
    Challenge pick;
    for (auto& c : detail::parse_www_authenticate(all)) {
      if (c.scheme == "bearer" && !c.param("realm").empty()) {
        pick = c;
        break;
      }
      if (c.scheme == "basic" && pick.scheme.empty()) pick = c;
    }
    if (pick.scheme.empty()) return pick;
    std::lock_guard lk(auth_mu);
    if (pick.scheme == "bearer" && (realm != pick.param("realm") || service != pick.param("service"))) tokens.clear();
    auth_scheme = pick.scheme;
    realm = pick.param("realm");
    service = pick.param("service");
    return pick;
  }

  static std::string scope_key(const std::vector<std::string>& scopes) { return join_scopes(scopes, ' '); }

  std::optional<std::string> cached_token(const std::vector<std::string>& scopes) {
    auto now = Clock::now();
    auto look = [&](const std::string& key) -> std::optional<std::string> {
      auto it = tokens.find(key);
      if (it == tokens.end() || it->second.expires <= now) return std::nullopt;
      return it->second.value;
    };
    if (auto t = look(scope_key(scopes))) return t;
    // A pull,push token serves a pull.
    if (scopes.size() == 1 && scopes[0].ends_with(":pull"))
      return look(scopes[0] + ",push");
    return std::nullopt;
  }

  std::string authorization(const std::vector<std::string>& scopes, const std::string& op) {
    {
      std::lock_guard lk(auth_mu);
      if (auth_scheme.empty()) return {};
      if (auth_scheme == "basic") {
        auto c = credentials();
        if (!c || (c->username.empty() && c->password.empty())) return {};
        return "Basic " + detail::base64_encode(c->username + ":" + c->password);
      }
      if (auth_scheme != "bearer") return {};
      if (auto t = cached_token(scopes)) return "Bearer " + *t;
    }
    std::lock_guard fl(fetch_mu);
    {
      std::lock_guard lk(auth_mu);
      if (auto t = cached_token(scopes)) return "Bearer " + *t;
    }
    Token t = fetch_token(scopes, op);
    std::lock_guard lk(auth_mu);
    tokens[scope_key(scopes)] = t;
    return "Bearer " + t.value;
  }

  Token fetch_token(const std::vector<std::string>& scopes, const std::string& op) {
    std::string r, svc;
    {
      std::lock_guard lk(auth_mu);
      r = realm;
      svc = service;
    }
    auto ro = origin_of(r);
    if (!ro || (ro->scheme != "https" && ro->scheme != "http"))
      throw RegistryError(op + ": the registry's token realm \"" + r + "\" is not an http(s) URL", 401);
    auto c = credentials();
    Request rq;
    rq.follow = true;
    rq.verify = verify_for(r);
    rq.body_limit = kMaxTokenBody;
    std::string form;
    if (c && !c->identity_token.empty()) {
      // OAuth2 refresh-token grant, as Docker does with an identity token.
      rq.method = "POST";
      form = "grant_type=refresh_token&client_id=hoist&refresh_token=" + detail::url_encode(c->identity_token);
      if (!svc.empty()) form += "&service=" + detail::url_encode(svc);
      if (!scopes.empty()) form += "&scope=" + detail::url_encode(join_scopes(scopes, ' '));
      rq.body = &form;
      rq.body_len = static_cast<std::int64_t>(form.size());
      rq.headers.push_back("Content-Type: application/x-www-form-urlencoded");
      rq.url = r;
    } else {
      std::string q;
      if (!svc.empty()) q += "service=" + detail::url_encode(svc);
      for (auto& sc : scopes) q += (q.empty() ? "" : "&") + std::string("scope=") + detail::url_encode(sc);
      if (c && !c->username.empty()) q += (q.empty() ? "" : "&") + std::string("account=") + detail::url_encode(c->username);
      rq.url = q.empty() ? r : with_query(r, q);
      if (c && (!c->username.empty() || !c->password.empty())) rq.userpwd = c->username + ":" + c->password;
    }
    std::string what = op + ": authenticate at " + r;
    int max = std::max(1, s.max_attempts);
    Response rs;
    for (int attempt = 1;; ++attempt) {
      Request copy = rq;
      rs = Response{};
      transfer(copy, rs);
      if (rs.exception) std::rethrow_exception(rs.exception);
      bool transient = rs.ok() ? retryable_status(rs.status) : retryable_curl(rs.curl);
      if (!transient) break;
      if (attempt >= max) {
        auto e = http_error(what, rs);
        throw TransientError(std::string(e.what()) + " (gave up after " + std::to_string(attempt) + " attempts)",
                             e.status(), e.code());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms(s, attempt)));
    }
    if (!rs.ok() || rs.status != 200) throw http_error(what, rs);
    nlohmann::json j;
    try {
      j = hoist::parse_json(rs.body, what);
    } catch (const InvalidArgument& e) {
      throw RegistryError(what + ": the answer is not JSON (" + e.what() + ")", static_cast<int>(rs.status));
    }
    Token t;
    if (j.is_object()) {
      if (auto it = j.find("token"); it != j.end() && it->is_string()) t.value = it->get<std::string>();
      if (t.value.empty())
        if (auto it = j.find("access_token"); it != j.end() && it->is_string()) t.value = it->get<std::string>();
    }
    if (t.value.empty()) throw RegistryError(what + ": the answer holds no token", static_cast<int>(rs.status));
    long long expires_in = 60;
    if (auto it = j.find("expires_in"); it != j.end() && it->is_number_integer()) expires_in = it->get<long long>();
    if (expires_in < 60) expires_in = 60;  // the distribution spec's minimum
    // Renew a little before the end.
    t.expires = Clock::now() + std::chrono::milliseconds(expires_in * 900);
    return t;
  }

  // After a 401 from the registry: learn its challenge, drop the token for the scopes, and tell
  // whether a retry can help (with the scopes to use).
  std::optional<std::vector<std::string>> reauth(const Response& rs, const std::vector<std::string>& scopes, bool sent_auth) {
    std::string prev;
    {
      std::lock_guard lk(auth_mu);
      prev = auth_scheme;
    }
    Challenge c = learn_challenge(rs);
    if (c.scheme == "basic") {
      auto cr = credentials();
      if (!cr || (cr->username.empty() && cr->password.empty())) return std::nullopt;
      if (prev == "basic" && sent_auth) return std::nullopt;  // these credentials were refused
      return scopes;
    }
    if (c.scheme != "bearer") return std::nullopt;
    std::vector<std::string> out = scopes;
    // The registry may name a scope we did not think of (a mount's source repository).
    for (auto& sc : split(c.param("scope"), ' '))
      if (!sc.empty() && std::find(out.begin(), out.end(), sc) == out.end()) {
        // "repository:x:pull" is covered by our "repository:x:pull,push".
        bool covered = false;
        for (auto& o : out)
          if (sc.ends_with(":pull") && o == sc + ",push") covered = true;
        if (!covered) out.push_back(sc);
      }
    std::lock_guard lk(auth_mu);
    tokens.erase(scope_key(scopes));
    tokens.erase(scope_key(out));
    if (scopes.size() == 1) tokens.erase(scopes[0] + ",push");
    return out;
  }

  // ---- requests ----------------------------------------------------------------------------

  // Runs `rq` against `target` (a path below the base URL, or an absolute URL) with the scopes'
  // authorization; retries transient failures. Returns the final answer (any status) unless retries
  // are exhausted (TransientError) or the failure is a transport error that cannot be retried.
  Response execute(const std::string& op, const Request& rq0, const std::string& target,
                   std::vector<std::string> scopes, const ExecOpts& o = {}) {
    std::string b = ensure_endpoint(op);
    auto base_origin = origin_of(b);
    std::string url0 = target.rfind("http://", 0) == 0 || target.rfind("https://", 0) == 0 ? target : b + target;
    int max = std::max(1, o.max_attempts ? o.max_attempts : s.max_attempts);
    int attempt = 0, total = 0;
    bool reauthed = false;
    for (;;) {
      Request rq = rq0;
      if (o.prepare) o.prepare(rq);
      std::string auth = authorization(scopes, op);
      std::string url = url0;
      Response rs;
      bool same_origin = true;
      for (int hop = 0;; ++hop) {
        rq.url = url;
        same_origin = base_origin && origin_of(url) == base_origin;
        rq.authorization = same_origin ? auth : std::string();
        rq.verify = verify_for(url);
        rs = Response{};
        transfer(rq, rs);
        if (rs.exception) std::rethrow_exception(rs.exception);
        if (rs.aborted) return rs;
        if (o.follow && rs.ok() && is_redirect(rs.status) && !rs.redirect_url.empty()) {
          if (hop >= kMaxRedirects) throw RegistryError(op + ": too many redirects", static_cast<int>(rs.status));
          log::debug(op + ": redirected to " + rs.redirect_url);
          url = rs.redirect_url;
          continue;
        }
        break;
      }
      if (rs.ok() && rs.status == 401 && same_origin && !reauthed) {
        reauthed = true;
        if (auto ns = reauth(rs, scopes, !auth.empty())) {
          scopes = *ns;
          continue;
        }
        return rs;
      }
      ++attempt;
      ++total;
      long wait = backoff_ms(s, attempt);
      if (!rs.ok()) {
        if (!retryable_curl(rs.curl)) throw RegistryError(op + ": " + rs.curl_error, 0);
      } else if (retryable_status(rs.status)) {
        wait = std::max(wait, retry_after_ms(rs));
      } else {
        return rs;
      }
      if (o.progressed && o.progressed()) attempt = 0;  // moved forward: a fresh budget (up to 4x)
      if (attempt >= max || total >= 4 * max) {
        std::string code;
        std::string msg = describe(rs, &code);
        throw TransientError(op + ": " + msg + (total > 1 ? " (gave up after " + std::to_string(total) + " attempts)" : ""),
                             rs.ok() ? static_cast<int>(rs.status) : 0, code);
      }
      log::debug(op + ": " + describe(rs) + "; retrying in " + std::to_string(wait) + " ms (attempt " +
                 std::to_string(total + 1) + ")");
      std::this_thread::sleep_for(std::chrono::milliseconds(wait));
    }
  }

  std::string absolute(const std::string& loc) {
    std::string b;
    {
      std::lock_guard lk(ep_mu);
      b = base;
    }
    return resolve_url(b + "/", loc);
  }

  std::string accept_header() const { return "Accept: " + join(kManifestMediaTypes, ", "); }

  static void refuse_schema1(const std::string& op, const std::string& media_type) {
    throw RegistryError(op + ": schema 1 manifests are not supported (" + media_type +
                            "); the image must be pushed again with a current client",
                        0, "MANIFEST_SCHEMA1");
  }

  // The media type of a fetched manifest: Content-Type unless it is generic, else the body's
  // mediaType field, else guessed from the fields. Refuses schema 1.
  static std::string manifest_media_type(const std::string& op, const std::string& content_type, const std::string& body) {
    std::string ct = detail::bare_media_type(content_type);
    if (ct == kSchema1 || ct == kSchema1Signed) refuse_schema1(op, ct);
    bool generic = ct.empty() || ct == "application/json" || ct == "text/plain" || ct == "application/octet-stream" ||
                   ct == "binary/octet-stream";
    if (!generic) return ct;
    if (body.empty()) return ct;
    nlohmann::json j;
    try {
      j = hoist::parse_json(body, op);
    } catch (const InvalidArgument& e) {
      throw RegistryError(op + ": the manifest is not valid JSON (" + e.what() + ")", 0);
    }
    if (!j.is_object()) throw RegistryError(op + ": the manifest is not a JSON object", 0);
    if (schema_version(j) == 1) refuse_schema1(op, kSchema1);
    if (auto it = j.find("mediaType"); it != j.end() && it->is_string() && !it->get<std::string>().empty())
      return it->get<std::string>();
    if (j.contains("manifests")) return "application/vnd.oci.image.index.v1+json";
    if (j.contains("layers") || j.contains("config")) return "application/vnd.oci.image.manifest.v1+json";
    return ct;
  }
};

// ---- Registry ----------------------------------------------------------------------------------

Registry::Registry(std::string host, RegistrySettings settings) : impl_(std::make_unique<Impl>()) {
  auto& m = *impl_;
  if (host.empty()) throw Error("registry: empty host name");
  m.host = std::move(host);
  m.endpoint = detail::endpoint_host(m.host);
  m.endpoint_hostname = detail::split_host_port(m.endpoint).first;
  m.s = std::move(settings);
  m.insecure = detail::is_insecure_registry(m.endpoint, m.s.insecure_registries, m.s.loopback_insecure) ||
               (m.endpoint != m.host && detail::is_insecure_registry(m.host, m.s.insecure_registries, m.s.loopback_insecure));
  if (!m.s.certs_dir.empty()) {
    m.tls = load_certs_dir(m.s.certs_dir + "/" + m.endpoint, m.tls);
    if (m.endpoint != m.host) m.tls = load_certs_dir(m.s.certs_dir + "/" + m.host, m.tls);
  }
  if (!m.s.auth_file.empty()) m.creds = AuthFile::load(m.s.auth_file).get(m.host);
  m.share = curl_lib().share_init();
  if (!m.share) throw Error("curl_share_init failed");
  curl_lib().share_setopt(m.share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
  curl_lib().share_setopt(m.share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  curl_lib().share_setopt(m.share, CURLSHOPT_USERDATA, impl_.get());
  curl_lib().share_setopt(m.share, CURLSHOPT_LOCKFUNC, +[](CURL*, curl_lock_data d, curl_lock_access, void* ud) {
    static_cast<Impl*>(ud)->share_mu[d].lock();
  });
  curl_lib().share_setopt(m.share, CURLSHOPT_UNLOCKFUNC, +[](CURL*, curl_lock_data d, void* ud) {
    static_cast<Impl*>(ud)->share_mu[d].unlock();
  });
}

Registry::~Registry() = default;

const std::string& Registry::host() const { return impl_->host; }

void Registry::set_credentials(const Credentials& c) {
  {
    std::lock_guard lk(impl_->cred_mu);
    impl_->creds = c;
  }
  std::lock_guard lk(impl_->auth_mu);
  impl_->tokens.clear();
}

void Registry::ping() {
  auto& m = *impl_;
  std::string op = "ping " + m.host;
  Request rq;
  auto rs = m.execute(op, rq, "/v2/", {});
  if (rs.status != 200) throw http_error(op, rs);
}

std::string Registry::base_url() { return impl_->ensure_endpoint("connect to " + impl_->host); }

FetchedManifest Registry::get_manifest(const std::string& repo, const std::string& ref, std::size_t max_size) {
  auto& m = *impl_;
  check_repo(repo);
  check_ref(ref);
  std::string op = "fetch manifest " + m.name(repo, ref);
  std::string body;
  bool too_big = false;
  Request rq;
  rq.headers.push_back(m.accept_header());
  rq.on_headers = [&](Response& rs) {
    body.clear();
    if (rs.status != 200) return true;
    auto cl = rs.header("content-length");
    if (!cl.empty() && std::all_of(cl.begin(), cl.end(), ::isdigit) && cl.size() < 19 && std::stoull(cl) > max_size) {
      too_big = true;
      return false;
    }
    return true;
  };
  rq.on_data = [&](const char* p, std::size_t n) {
    if (body.size() + n > max_size) {
      too_big = true;
      return false;
    }
    body.append(p, n);
    return true;
  };
  auto rs = m.execute(op, rq, "/v2/" + repo + "/manifests/" + ref, {"repository:" + repo + ":pull"});
  if (too_big)
    throw RegistryError(op + ": the manifest is larger than the limit of " + std::to_string(max_size) + " bytes", 0,
                        "MANIFEST_TOO_LARGE");
  if (rs.aborted) throw RegistryError(op + ": transfer aborted", 0);
  if (rs.status != 200) throw http_error(op, rs);
  FetchedManifest out;
  out.media_type = Impl::manifest_media_type(op, rs.header("content-type"), body);
  if (is_digest_ref(ref)) {
    Digest want = Digest::parse(ref);
    Digest got = digest_of(body, want.algo);
    if (got != want) throw RegistryError(op + ": the registry sent a manifest with digest " + got.str(), 0, "DIGEST_INVALID");
    out.digest = want;
  } else {
    out.digest = digest_of(body);
  }
  out.body = std::move(body);
  return out;
}

std::optional<FetchedManifest> Registry::head_manifest(const std::string& repo, const std::string& ref) {
  auto& m = *impl_;
  check_repo(repo);
  check_ref(ref);
  std::string op = "check manifest " + m.name(repo, ref);
  Request rq;
  rq.method = "HEAD";
  rq.headers.push_back(m.accept_header());
  auto rs = m.execute(op, rq, "/v2/" + repo + "/manifests/" + ref, {"repository:" + repo + ":pull"});
  if (rs.status == 404) return std::nullopt;
  if (rs.status != 200) throw http_error(op, rs);
  std::string ct = detail::bare_media_type(rs.header("content-type"));
  if (ct == kSchema1 || ct == kSchema1Signed) Impl::refuse_schema1(op, ct);
  auto dh = rs.header("docker-content-digest");
  if (dh.empty() || !Digest::valid(dh) || ct.empty() || ct == "application/json" || ct == "text/plain" ||
      ct == "application/octet-stream")
    return get_manifest(repo, ref);  // the registry does not say enough; fetch it
  FetchedManifest out;
  out.media_type = ct;
  out.digest = Digest::parse(dh);
  if (is_digest_ref(ref) && out.digest != Digest::parse(ref))
    throw RegistryError(op + ": the registry reports digest " + out.digest.str(), 0, "DIGEST_INVALID");
  return out;
}

void Registry::get_blob(const std::string& repo, const Digest& d, const std::function<void(const char*, std::size_t)>& sink,
                        const std::function<void(std::int64_t)>& on_size) {
  auto& m = *impl_;
  check_repo(repo);
  std::string op = "fetch blob " + m.host + "/" + repo + "@" + d.str();
  std::int64_t delivered = 0;      // bytes given to sink
  std::int64_t total = -1;         // blob size once known
  bool size_reported = false;
  std::int64_t skip = 0;           // bytes of the current answer already delivered
  std::int64_t at_attempt_start = 0;
  std::string fatal;

  Request rq;
  rq.big_buffer = true;
  rq.on_headers = [&](Response& rs) {
    skip = 0;
    std::int64_t len = -1;
    auto cl = rs.header("content-length");
    if (!cl.empty() && std::all_of(cl.begin(), cl.end(), ::isdigit) && cl.size() < 19) len = std::stoll(cl);
    if (rs.status == 206) {
      // Content-Range: bytes START-END/TOTAL
      auto cr = rs.header("content-range");
      long long a = -1, e = -1, t = -1;
      char star = 0;
      if (std::sscanf(cr.c_str(), "bytes %lld-%lld/%lld", &a, &e, &t) < 2 &&
          std::sscanf(cr.c_str(), "bytes %lld-%lld/%c", &a, &e, &star) < 2) {
        fatal = "partial answer without a valid Content-Range (\"" + cr + "\")";
        return false;
      }
      if (a > delivered) {
        fatal = "the registry resumed at byte " + std::to_string(a) + " instead of " + std::to_string(delivered);
        return false;
      }
      skip = delivered - a;
      if (t >= 0) {
        if (total >= 0 && t != total) {
          fatal = "the blob's size changed from " + std::to_string(total) + " to " + std::to_string(t);
          return false;
        }
        total = t;
      }
    } else if (rs.status == 200) {
      skip = delivered;  // the whole blob again (Range ignored): drop what was delivered
      if (len >= 0) {
        if (total >= 0 && len != total) {
          fatal = "the blob's size changed from " + std::to_string(total) + " to " + std::to_string(len);
          return false;
        }
        total = len;
      }
    } else {
      return true;  // other 2xx: handled after the transfer
    }
    if (!size_reported && total >= 0) {
      size_reported = true;
      if (on_size) on_size(total);
    }
    return true;
  };
  rq.on_data = [&](const char* p, std::size_t n) {
    if (skip > 0) {
      auto k = static_cast<std::size_t>(std::min<std::int64_t>(skip, static_cast<std::int64_t>(n)));
      skip -= static_cast<std::int64_t>(k);
      p += k;
      n -= k;
      if (n == 0) return true;
    }
    if (total >= 0 && delivered + static_cast<std::int64_t>(n) > total) {
      fatal = "the registry sent more than the blob's " + std::to_string(total) + " bytes";
      return false;
    }
    sink(p, n);
    delivered += static_cast<std::int64_t>(n);
    return true;
  };
  ExecOpts o;
  o.follow = true;
  o.prepare = [&](Request& r) {
    at_attempt_start = delivered;
    if (delivered > 0) r.headers.push_back("Range: bytes=" + std::to_string(delivered) + "-");
  };
  o.progressed = [&] { return delivered > at_attempt_start; };
  // A complete answer shorter than the blob (a server that ends a 206 early) is resumed too.
  for (int rounds = 0;; ++rounds) {
    auto rs = m.execute(op, rq, "/v2/" + repo + "/blobs/" + d.str(), {"repository:" + repo + ":pull"}, o);
    if (!fatal.empty()) throw RegistryError(op + ": " + fatal, static_cast<int>(rs.status));
    if (rs.aborted) throw RegistryError(op + ": transfer aborted", 0);
    // Everything had arrived before the connection failed: the resumed request asks for nothing.
    if (rs.status == 416 && total >= 0 && delivered == total) break;
    if (rs.status != 200 && rs.status != 206) throw http_error(op, rs);
    if (total < 0 || delivered >= total) break;
    if (rounds >= std::max(1, m.s.max_attempts))
      throw RegistryError(op + ": the registry ended the blob after " + std::to_string(delivered) + " of " +
                              std::to_string(total) + " bytes",
                          static_cast<int>(rs.status));
  }
  if (!size_reported && on_size) on_size(delivered);
}

bool Registry::blob_exists(const std::string& repo, const Digest& d) {
  auto& m = *impl_;
  check_repo(repo);
  std::string op = "check blob " + m.host + "/" + repo + "@" + d.str();
  Request rq;
  rq.method = "HEAD";
  ExecOpts o;
  o.follow = true;
  auto rs = m.execute(op, rq, "/v2/" + repo + "/blobs/" + d.str(), {"repository:" + repo + ":pull"}, o);
  if (rs.status == 200) return true;
  if (rs.status == 404) return false;
  throw http_error(op, rs);
}

bool Registry::mount_blob(const std::string& repo, const Digest& d, const std::string& from_repo) {
  auto& m = *impl_;
  check_repo(repo);
  check_repo(from_repo);
  std::string op = "mount blob " + m.host + "/" + repo + "@" + d.str() + " from " + from_repo;
  Request rq;
  rq.method = "POST";
  std::vector<std::string> scopes = {"repository:" + repo + ":pull,push", "repository:" + from_repo + ":pull"};
  auto rs = m.execute(op, rq,
                      "/v2/" + repo + "/blobs/uploads/?mount=" + detail::url_encode(d.str()) +
                          "&from=" + detail::url_encode(from_repo),
                      scopes);
  if (rs.status == 201) return true;
  if (rs.status == 202) {
    // The registry opened an upload session instead; cancel it (best effort).
    auto loc = rs.header("location");
    if (!loc.empty()) {
      try {
        Request del;
        del.method = "DELETE";
        ExecOpts one;
        one.max_attempts = 1;
        m.execute(op, del, m.absolute(loc), {"repository:" + repo + ":pull,push"}, one);
      } catch (const std::exception& e) {
        log::debug(op + ": cancel upload: " + e.what());
      }
    }
    return false;
  }
  throw http_error(op, rs);
}

void Registry::push_blob(const std::string& repo, const Digest& d, const std::string& path, std::int64_t size,
                         std::size_t chunk_size, const std::function<void(std::int64_t)>& on_progress) {
  auto& m = *impl_;
  check_repo(repo);
  std::string op = "push blob " + m.host + "/" + repo + "@" + d.str();
  UniqueFd fd = open_file(path, O_RDONLY);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) throw_sys("stat", path);
  if (st.st_size < size)
    throw Error(op + ": " + path + " holds " + std::to_string(st.st_size) + " bytes, expected " + std::to_string(size));
  std::vector<std::string> scopes = {"repository:" + repo + ":pull,push"};
  ExecOpts one;
  one.max_attempts = 1;  // a failed step restarts the whole session (below)

  auto upload_once = [&] {
    Request post;
    post.method = "POST";
    auto rs = m.execute(op, post, "/v2/" + repo + "/blobs/uploads/", scopes, one);
    if (rs.status != 202) throw http_error(op, rs);
    auto loc = rs.header("location");
    if (loc.empty()) throw RegistryError(op + ": the registry started an upload without a Location", 202);
    loc = m.absolute(loc);
    Response done;
    if (chunk_size == 0 || size == 0) {
      Request put;
      put.method = "PUT";
      put.big_buffer = true;
      put.body_fd = fd.get();
      put.body_len = size;
      put.headers.push_back("Content-Type: application/octet-stream");
      put.on_upload = on_progress;
      done = m.execute(op, put, with_query(loc, "digest=" + detail::url_encode(d.str())), scopes, one);
    } else {
      for (std::int64_t off = 0; off < size;) {
        std::int64_t n = std::min<std::int64_t>(static_cast<std::int64_t>(chunk_size), size - off);
        Request patch;
        patch.method = "PATCH";
        patch.big_buffer = true;
        patch.body_fd = fd.get();
        patch.body_off = off;
        patch.body_len = n;
        patch.headers.push_back("Content-Type: application/octet-stream");
        patch.headers.push_back("Content-Range: " + std::to_string(off) + "-" + std::to_string(off + n - 1));
        if (on_progress) patch.on_upload = [&, off](std::int64_t sent) { on_progress(off + sent); };
        auto pr = m.execute(op, patch, loc, scopes, one);
        if (pr.status != 202) throw http_error(op, pr);
        if (auto l = pr.header("location"); !l.empty()) loc = m.absolute(l);
        off += n;
      }
      Request put;
      put.method = "PUT";
      put.headers.push_back("Content-Type: application/octet-stream");
      done = m.execute(op, put, with_query(loc, "digest=" + detail::url_encode(d.str())), scopes, one);
    }
    if (done.status != 201) throw http_error(op, done);
    auto dh = done.header("docker-content-digest");
    if (!dh.empty() && Digest::valid(dh) && Digest::parse(dh) != d)
      throw RegistryError(op + ": the registry stored it as " + dh, 201, "DIGEST_INVALID");
  };

  int max = std::max(1, m.s.max_attempts);
  for (int attempt = 1;; ++attempt) {
    try {
      upload_once();
      if (on_progress) on_progress(size);
      return;
    } catch (const TransientError& e) {
      if (attempt >= max) throw RegistryError(std::string(e.what()) + " (upload tried " + std::to_string(attempt) + " times)",
                                              e.status(), e.code());
      long wait = backoff_ms(m.s, attempt);
      log::debug(std::string(e.what()) + "; restarting the upload in " + std::to_string(wait) + " ms");
      std::this_thread::sleep_for(std::chrono::milliseconds(wait));
    }
  }
}

Digest Registry::put_manifest(const std::string& repo, const std::string& ref, const std::string& media_type,
                              const std::string& body) {
  auto& m = *impl_;
  check_repo(repo);
  check_ref(ref);
  std::string op = "push manifest " + m.name(repo, ref);
  Digest computed = digest_of(body);
  if (is_digest_ref(ref)) {
    Digest want = Digest::parse(ref);
    if (digest_of(body, want.algo) != want) throw Error(op + ": the manifest's digest is not " + ref);
  }
  Request rq;
  rq.method = "PUT";
  rq.body = &body;
  rq.body_len = static_cast<std::int64_t>(body.size());
  rq.headers.push_back("Content-Type: " + media_type);
  auto rs = m.execute(op, rq, "/v2/" + repo + "/manifests/" + ref, {"repository:" + repo + ":pull,push"});
  if (rs.status != 201 && rs.status != 200 && rs.status != 202) throw http_error(op, rs);
  auto dh = rs.header("docker-content-digest");
  if (!dh.empty() && Digest::valid(dh)) {
    Digest reported = Digest::parse(dh);
    if (reported.algo == DigestAlgo::Sha256 && reported != computed)
      throw RegistryError(op + ": the registry stored it as " + dh + ", expected " + computed.str(),
                          static_cast<int>(rs.status), "DIGEST_INVALID");
    return reported;
  }
  return computed;
}

}  // namespace hoist::image
