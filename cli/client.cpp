#include "cli/client.h"

#include <curl/curl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <mutex>
#include <nlohmann/json.hpp>

#include "common/strings.h"

namespace hoist::cli {

namespace {

constexpr const char* kMaxApi = "1.47";

void curl_init_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// Compares "1.41" style versions.
int cmp_version(const std::string& a, const std::string& b) {
  auto pa = split(a, '.'), pb = split(b, '.');
  for (size_t i = 0; i < std::max(pa.size(), pb.size()); ++i) {
    long x = i < pa.size() ? atol(pa[i].c_str()) : 0, y = i < pb.size() ? atol(pb[i].c_str()) : 0;
    if (x != y) return x < y ? -1 : 1;
  }
  return 0;
}

struct Easy {
  CURL* h;
  curl_slist* hdrs = nullptr;
  Easy() : h(curl_easy_init()) {
    if (!h) throw Error("curl_easy_init failed");
  }
  ~Easy() {
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
  }
};

size_t header_cb(char* p, size_t sz, size_t n, void* ud) {
  auto* r = static_cast<Response*>(ud);
  std::string_view line(p, sz * n);
  auto c = line.find(':');
  if (c != std::string_view::npos) {
    std::string k(line.substr(0, c));
    for (auto& ch : k) ch = (char)tolower((unsigned char)ch);
    r->headers[k] = std::string(trim(line.substr(c + 1)));
  }
  return sz * n;
}

}  // namespace

std::string socket_path_from_host(std::string_view host) {
  if (host.rfind("unix://", 0) == 0) return std::string(host.substr(7));
  if (!host.empty() && host[0] == '/') return std::string(host);
  throw Error("unsupported host \"" + std::string(host) + "\": only unix:// sockets are supported");
}

std::string error_message(std::string_view body) {
  try {
    auto j = nlohmann::json::parse(body);
    if (j.is_object() && j.contains("message") && j["message"].is_string()) return j["message"].get<std::string>();
  } catch (...) {
  }
  return std::string(trim(body));
}

std::string url_escape(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += (char)c;
    } else {
      char b[4];
      snprintf(b, sizeof b, "%%%02X", c);
      out += b;
    }
  }
  return out;
}

Client::Client(std::string socket_path) : sock_(std::move(socket_path)) { curl_init_once(); }

std::string Client::url(const std::string& path) const {
  return "http://localhost" + (version_.empty() ? "" : "/v" + version_) + path;
}

void Client::negotiate() {
  if (!version_.empty()) return;
  auto r = request("GET", "/_ping", "", {}, true);
  auto it = r.headers.find("api-version");
  std::string v = it != r.headers.end() ? it->second : "1.41";
  version_ = cmp_version(v, kMaxApi) < 0 ? v : kMaxApi;
}

Response Client::request(const std::string& method, const std::string& path, const std::string& body,
                         const std::map<std::string, std::string>& headers, bool allow_error) {
  Response r;
  Easy e;
  curl_easy_setopt(e.h, CURLOPT_UNIX_SOCKET_PATH, sock_.c_str());
  auto u = url(path);
  curl_easy_setopt(e.h, CURLOPT_URL, u.c_str());
  curl_easy_setopt(e.h, CURLOPT_CUSTOMREQUEST, method.c_str());
  if (method == "HEAD") curl_easy_setopt(e.h, CURLOPT_NOBODY, 1L);
  bool has_ct = false;
  for (auto& [k, v] : headers) {
    e.hdrs = curl_slist_append(e.hdrs, (k + ": " + v).c_str());
    if (strcasecmp(k.c_str(), "Content-Type") == 0) has_ct = true;
  }
  if (method == "POST" || method == "PUT") {
    curl_easy_setopt(e.h, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(e.h, CURLOPT_POSTFIELDSIZE, (long)body.size());
    if (!has_ct && !body.empty()) e.hdrs = curl_slist_append(e.hdrs, "Content-Type: application/json");
  }
  e.hdrs = curl_slist_append(e.hdrs, "Expect:");
  e.hdrs = curl_slist_append(e.hdrs, "User-Agent: hoist-cli");
  curl_easy_setopt(e.h, CURLOPT_HTTPHEADER, e.hdrs);
  curl_easy_setopt(e.h, CURLOPT_WRITEFUNCTION, +[](char* p, size_t sz, size_t n, void* ud) -> size_t {
    static_cast<std::string*>(ud)->append(p, sz * n);
    return sz * n;
  });
  curl_easy_setopt(e.h, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(e.h, CURLOPT_HEADERFUNCTION, header_cb);
  curl_easy_setopt(e.h, CURLOPT_HEADERDATA, &r);
  auto rc = curl_easy_perform(e.h);
  if (rc != CURLE_OK)
    throw ConnectError("Cannot connect to the Hoist daemon at unix://" + sock_ + ". Is the hoist daemon running?");
  curl_easy_getinfo(e.h, CURLINFO_RESPONSE_CODE, &r.status);
  if (r.status >= 400 && !allow_error) throw ApiError(r.status, error_message(r.body));
  return r;
}

namespace {
struct StreamCtx {
  const std::function<bool(std::string_view)>* cb;
  CURL* h;
  long status = 0;
  std::string err_body;
  int upload_fd = -1;
};
}  // namespace

long Client::stream(const std::string& method, const std::string& path, const std::string& body,
                    const std::function<bool(std::string_view)>& on_data,
                    const std::map<std::string, std::string>& headers, int upload_fd,
                    const std::function<void(long)>& on_headers) {
  Easy e;
  StreamCtx ctx{&on_data, e.h};
  ctx.upload_fd = upload_fd;
  curl_easy_setopt(e.h, CURLOPT_UNIX_SOCKET_PATH, sock_.c_str());
  auto u = url(path);
  curl_easy_setopt(e.h, CURLOPT_URL, u.c_str());
  for (auto& [k, v] : headers) e.hdrs = curl_slist_append(e.hdrs, (k + ": " + v).c_str());
  if (upload_fd >= 0) {
    curl_easy_setopt(e.h, CURLOPT_POST, 1L);
    curl_easy_setopt(e.h, CURLOPT_READFUNCTION, +[](char* p, size_t sz, size_t n, void* ud) -> size_t {
      auto* c = static_cast<StreamCtx*>(ud);
      for (;;) {
        ssize_t r = ::read(c->upload_fd, p, sz * n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return CURL_READFUNC_ABORT;
        return (size_t)r;
      }
    });
    curl_easy_setopt(e.h, CURLOPT_READDATA, &ctx);
    e.hdrs = curl_slist_append(e.hdrs, "Transfer-Encoding: chunked");
  } else if (method == "POST") {
    curl_easy_setopt(e.h, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(e.h, CURLOPT_POSTFIELDSIZE, (long)body.size());
    if (!body.empty() && headers.find("Content-Type") == headers.end())
      e.hdrs = curl_slist_append(e.hdrs, "Content-Type: application/json");
  } else {
    curl_easy_setopt(e.h, CURLOPT_CUSTOMREQUEST, method.c_str());
  }
  e.hdrs = curl_slist_append(e.hdrs, "Expect:");
  e.hdrs = curl_slist_append(e.hdrs, "User-Agent: hoist-cli");
  curl_easy_setopt(e.h, CURLOPT_HTTPHEADER, e.hdrs);
  struct HdrCtx {
    CURL* h;
    const std::function<void(long)>* cb;
  } hctx{e.h, &on_headers};
  curl_easy_setopt(e.h, CURLOPT_HEADERFUNCTION, +[](char* p, size_t sz, size_t n, void* ud) -> size_t {
    auto* c = static_cast<HdrCtx*>(ud);
    if (sz * n == 2 && p[0] == '\r' && *c->cb) {
      long st = 0;
      curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &st);
      if (st != 100) (*c->cb)(st);
    }
    return sz * n;
  });
  curl_easy_setopt(e.h, CURLOPT_HEADERDATA, &hctx);
  curl_easy_setopt(e.h, CURLOPT_WRITEFUNCTION, +[](char* p, size_t sz, size_t n, void* ud) -> size_t {
    auto* c = static_cast<StreamCtx*>(ud);
    if (c->status == 0) curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &c->status);
    if (c->status >= 400) {
      c->err_body.append(p, sz * n);
      return sz * n;
    }
    return (*c->cb)(std::string_view(p, sz * n)) ? sz * n : 0;
  });
  curl_easy_setopt(e.h, CURLOPT_WRITEDATA, &ctx);
  auto rc = curl_easy_perform(e.h);
  long status = 0;
  curl_easy_getinfo(e.h, CURLINFO_RESPONSE_CODE, &status);
  if (status >= 400) throw ApiError(status, error_message(ctx.err_body));
  if (rc == CURLE_WRITE_ERROR) return status;  // stopped by the callback
  if (rc != CURLE_OK && status == 0)
    throw ConnectError("Cannot connect to the Hoist daemon at unix://" + sock_ + ". Is the hoist daemon running?");
  if (rc != CURLE_OK) throw Error(std::string("error reading the daemon's response: ") + curl_easy_strerror(rc));
  return status;
}

UniqueFd Client::hijack(const std::string& path, const std::string& body, std::string& leftover) {
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) throw_sys("socket");
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (sock_.size() >= sizeof sa.sun_path) throw Error("socket path too long: " + sock_);
  memcpy(sa.sun_path, sock_.c_str(), sock_.size() + 1);
  if (connect(fd.get(), (sockaddr*)&sa, sizeof sa) < 0)
    throw ConnectError("Cannot connect to the Hoist daemon at unix://" + sock_ + ". Is the hoist daemon running?");
  std::string req = "POST " + (version_.empty() ? "" : "/v" + version_) + path +
                    " HTTP/1.1\r\nHost: localhost\r\nUser-Agent: hoist-cli\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
                    "Content-Type: application/json\r\nContent-Length: " +
                    std::to_string(body.size()) + "\r\n\r\n" + body;
  size_t off = 0;
  while (off < req.size()) {
    ssize_t n = ::write(fd.get(), req.data() + off, req.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw_sys("write", "daemon socket");
    off += (size_t)n;
  }
  std::string buf;
  char tmp[4096];
  size_t end;
  for (;;) {
    end = buf.find("\r\n\r\n");
    if (end != std::string::npos) break;
    ssize_t n = ::read(fd.get(), tmp, sizeof tmp);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw Error("daemon closed the connection before answering");
    buf.append(tmp, (size_t)n);
  }
  std::string head = buf.substr(0, end);
  leftover = buf.substr(end + 4);
  long status = 0;
  if (sscanf(head.c_str(), "HTTP/1.%*d %ld", &status) != 1) throw Error("bad response from daemon: " + head);
  if (status >= 400) {
    // The rest of the body (Content-Length or until close).
    std::string lower = head;
    for (auto& c : lower) c = (char)tolower((unsigned char)c);
    size_t want = std::string::npos;
    auto cl = lower.find("content-length:");
    if (cl != std::string::npos) want = (size_t)atol(lower.c_str() + cl + 15);
    while (leftover.size() < want) {
      ssize_t n = ::read(fd.get(), tmp, sizeof tmp);
      if (n <= 0) break;
      leftover.append(tmp, (size_t)n);
    }
    throw ApiError(status, error_message(leftover));
  }
  return fd;
}

}  // namespace hoist::cli
