#include "cli/client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cstdint>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

#include "common/strings.h"

namespace hoist::cli {

namespace {

constexpr const char* kMaxApi = "1.47";

// Compares "1.41" style versions.
int cmp_version(const std::string& a, const std::string& b) {
  auto pa = split(a, '.'), pb = split(b, '.');
  for (size_t i = 0; i < std::max(pa.size(), pb.size()); ++i) {
    long x = i < pa.size() ? atol(pa[i].c_str()) : 0, y = i < pb.size() ? atol(pb[i].c_str()) : 0;
    if (x != y) return x < y ? -1 : 1;
  }
  return 0;
}

namespace http = boost::beast::http;
using local = boost::asio::local::stream_protocol;

// One request's connection to the daemon's socket (Boost.Beast over a blocking Unix socket; no
// keep-alive: each CLI request is its own connection, as with docker's CLI).
struct Conn {
  boost::asio::io_context io;
  local::socket s{io};
  explicit Conn(const std::string& path) {
    boost::system::error_code ec;
    s.connect(local::endpoint(path), ec);
    if (ec) throw ConnectError("Cannot connect to the Hoist daemon at unix://" + path + ". Is the hoist daemon running?");
  }
};

http::request<http::string_body> make_request(const std::string& method, const std::string& target,
                                              const std::string& body, const std::map<std::string, std::string>& headers) {
  http::request<http::string_body> req;
  auto verb = http::string_to_verb(method);
  if (verb == http::verb::unknown) req.method_string(method);
  else req.method(verb);
  req.target(target);
  req.version(11);
  req.set(http::field::host, "localhost");
  req.set(http::field::user_agent, "hoist-cli");
  bool has_ct = false;
  for (auto& [k, v] : headers) {
    req.set(k, v);
    if (strcasecmp(k.c_str(), "Content-Type") == 0) has_ct = true;
  }
  if (method == "POST" || method == "PUT") {
    if (!has_ct && !body.empty()) req.set(http::field::content_type, "application/json");
    req.body() = body;
  }
  req.prepare_payload();
  return req;
}

template <class Fields>
void copy_headers(const Fields& f, std::map<std::string, std::string>& out) {
  for (auto& h : f) {
    std::string k(h.name_string());
    for (auto& ch : k) ch = (char)tolower((unsigned char)ch);
    out[k] = std::string(h.value());
  }
}

[[noreturn]] void read_failed(const boost::system::error_code& ec) {
  throw Error("error reading the daemon's response: " + ec.message());
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

Client::Client(std::string socket_path) : sock_(std::move(socket_path)) {}

std::string Client::url(const std::string& path_in) const {
  // Repeated '/' folded in the path, as docker's client does (dockerd redirects such a path):
  // "/containers/" + "/web/alias" names the container "web/alias".
  std::string path;
  auto query = path_in.find('?');
  for (std::size_t i = 0; i < path_in.size(); ++i)
    if (i >= query || path_in[i] != '/' || path.empty() || path.back() != '/') path += path_in[i];
  return (version_.empty() ? "" : "/v" + version_) + path;
}

void Client::negotiate() {
  if (!version_.empty()) return;
  auto r = request("GET", "/_ping", "", {}, true);
  auto it = r.headers.find("api-version");
  std::string v = it != r.headers.end() ? it->second : "1.41";
  version_ = cmp_version(v, kMaxApi) < 0 ? v : kMaxApi;
  if (auto c = r.headers.find("hoist-capabilities"); c != r.headers.end())
    for (const std::string& cap : split(c->second, ',')) capabilities_.insert(std::string(trim(cap)));
}

Response Client::request(const std::string& method, const std::string& path, const std::string& body,
                         const std::map<std::string, std::string>& headers, bool allow_error) {
  Conn c(sock_);
  boost::system::error_code ec;
  http::write(c.s, make_request(method, url(path), body, headers), ec);
  if (ec) throw Error("error sending the request to the daemon: " + ec.message());
  boost::beast::flat_buffer buf;
  http::response_parser<http::string_body> p;
  p.body_limit(std::numeric_limits<std::uint64_t>::max());  // not boost::none: Boost 1.74 then refuses every Content-Length body
  p.skip(method == "HEAD");
  http::read(c.s, buf, p, ec);
  if (ec) read_failed(ec);
  Response r;
  r.status = p.get().result_int();
  r.body = std::move(p.get().body());
  copy_headers(p.get(), r.headers);
  if (r.status >= 400 && !allow_error) throw ApiError(r.status, error_message(r.body));
  return r;
}

namespace {

// The response of a stream: its body to `on_data` as it comes; ApiError for an error status.
long read_stream_response(Conn& c, const std::function<bool(std::string_view)>& on_data,
                          const std::function<void(long)>& on_headers) {
  boost::system::error_code ec;
  boost::beast::flat_buffer buf;
  http::response_parser<http::buffer_body> p;
  p.body_limit(std::numeric_limits<std::uint64_t>::max());  // not boost::none: Boost 1.74 then refuses every Content-Length body
  http::read_header(c.s, buf, p, ec);
  if (ec) read_failed(ec);
  long status = p.get().result_int();
  if (on_headers) on_headers(status);
  std::string err_body;
  char tmp[64 * 1024];
  // read_some: what has arrived is handed on at once (events, logs -f, progress).
  while (!p.is_done()) {
    p.get().body().data = tmp;
    p.get().body().size = sizeof tmp;
    http::read_some(c.s, buf, p, ec);
    if (ec == http::error::need_buffer) ec = {};
    std::size_t n = sizeof tmp - p.get().body().size;
    if (n) {
      if (status >= 400) err_body.append(tmp, n);
      else if (!on_data(std::string_view(tmp, n))) return status;  // stopped by the callback
    }
    if (ec == http::error::end_of_stream || ec == boost::asio::error::eof) break;
    if (ec) {
      if (status >= 400) break;
      read_failed(ec);
    }
  }
  if (status >= 400) throw ApiError(status, error_message(err_body));
  return status;
}


}  // namespace

long Client::stream(const std::string& method, const std::string& path, const std::string& body,
                    const std::function<bool(std::string_view)>& on_data,
                    const std::map<std::string, std::string>& headers, int upload_fd,
                    const std::function<void(long)>& on_headers) {
  if (upload_fd >= 0) {
    // The request body is the fd's content, sent as it is read.
    return stream_upload(method, path, [&](const BodySink& send) {
      std::vector<char> chunk(256 * 1024);
      for (;;) {
        ssize_t n = ::read(upload_fd, chunk.data(), chunk.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw_sys("read", "upload");
        if (n == 0 || !send(std::string_view(chunk.data(), static_cast<std::size_t>(n)))) return;
      }
    }, on_data, headers, on_headers);
  }
  Conn c(sock_);
  boost::system::error_code ec;
  http::write(c.s, make_request(method, url(path), body, headers), ec);
  if (ec) throw Error("error sending the request to the daemon: " + ec.message());
  return read_stream_response(c, on_data, on_headers);
}

long Client::stream_upload(const std::string& method, const std::string& path,
                           const std::function<void(const BodySink&)>& produce,
                           const std::function<bool(std::string_view)>& on_data,
                           const std::map<std::string, std::string>& headers,
                           const std::function<void(long)>& on_headers) {
  Conn c(sock_);
  boost::system::error_code ec;
  auto req = make_request(method, url(path), "", headers);
  req.set(http::field::transfer_encoding, "chunked");
  req.erase(http::field::content_length);
  http::request_serializer<http::string_body> sr(req);
  http::write_header(c.s, sr, ec);
  if (ec) throw Error("error sending the request to the daemon: " + ec.message());
  bool open = true;  // false once the daemon stopped reading (it answers with an error below)
  auto send = [&](std::string_view piece) {
    if (!open || piece.empty()) return open;
    char size[32];
    int k = snprintf(size, sizeof size, "%zx\r\n", piece.size());
    std::array<boost::asio::const_buffer, 3> parts = {boost::asio::buffer(size, static_cast<std::size_t>(k)),
                                                       boost::asio::buffer(piece.data(), piece.size()),
                                                       boost::asio::buffer("\r\n", 2)};
    boost::asio::write(c.s, parts, ec);
    if (ec) open = false;
    return open;
  };
  produce(send);
  if (open) boost::asio::write(c.s, boost::asio::buffer("0\r\n\r\n", 5), ec);
  return read_stream_response(c, on_data, on_headers);
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
