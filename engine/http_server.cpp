#include "engine/http_server.h"

#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstring>
#include <optional>

#include "common/error.h"
#include "common/log.h"

namespace http = boost::beast::http;
namespace net = boost::asio;

namespace hoist::engine {

namespace {

struct IoError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A blocking-fd stream for Beast's sync algorithms, with poll() timeouts.
class FdStream {
 public:
  FdStream(int fd, int timeout_s) : fd_(fd), timeout_ms_(timeout_s * 1000) {}
  void set_timeout(int s) { timeout_ms_ = s * 1000; }
  int fd() const { return fd_; }

  template <class MB>
  std::size_t read_some(const MB& buffers, boost::system::error_code& ec) {
    ec = {};
    for (auto it = net::buffer_sequence_begin(buffers); it != net::buffer_sequence_end(buffers); ++it) {
      net::mutable_buffer b = *it;
      if (b.size() == 0) continue;
      for (;;) {
        pollfd p{fd_, POLLIN, 0};
        int r = ::poll(&p, 1, timeout_ms_);
        if (r < 0 && errno == EINTR) continue;
        if (r == 0) {
          ec = net::error::timed_out;
          return 0;
        }
        ssize_t n = ::recv(fd_, b.data(), b.size(), 0);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n < 0) {
          ec = boost::system::error_code(errno, boost::system::system_category());
          return 0;
        }
        if (n == 0) {
          ec = net::error::eof;
          return 0;
        }
        return std::size_t(n);
      }
    }
    return 0;
  }
  template <class MB>
  std::size_t read_some(const MB& buffers) {
    boost::system::error_code ec;
    auto n = read_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }
  template <class CB>
  std::size_t write_some(const CB& buffers, boost::system::error_code& ec) {
    std::size_t total = 0;
    for (auto it = net::buffer_sequence_begin(buffers); it != net::buffer_sequence_end(buffers); ++it) {
      net::const_buffer b = *it;
      if (!write_all(static_cast<const char*>(b.data()), b.size(), ec)) return total;
      total += b.size();
    }
    return total;
  }
  template <class CB>
  std::size_t write_some(const CB& buffers) {
    boost::system::error_code ec;
    auto n = write_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }
  bool write_all(const char* p, std::size_t n, boost::system::error_code& ec) {
    ec = {};
    while (n > 0) {
      pollfd pf{fd_, POLLOUT, 0};
      int r = ::poll(&pf, 1, timeout_ms_);
      if (r < 0 && errno == EINTR) continue;
      if (r == 0) {
        ec = net::error::timed_out;
        return false;
      }
      ssize_t w = ::send(fd_, p, n, MSG_NOSIGNAL);
      if (w < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (w < 0) {
        ec = boost::system::error_code(errno, boost::system::system_category());
        return false;
      }
      p += w;
      n -= std::size_t(w);
    }
    return true;
  }
  using executor_type = net::any_io_executor;

 private:
  int fd_;
  int timeout_ms_;
};

std::string reason(int status) {
  return std::string(http::obsolete_reason(static_cast<http::status>(status)));
}

}  // namespace

// One accepted connection: parser state, the socket, what the current response did.
class Connection {
 public:
  Connection(HttpServer& s, int fd) : server_(s), fd_(fd), stream_(fd, s.opts_.io_timeout_s) {}

  HttpServer& server_;
  UniqueFd fd_;
  FdStream stream_;
  boost::beast::flat_buffer buf_;
  std::optional<http::request_parser<http::buffer_body>> parser_;
  bool close_after_ = false;

  void write(std::string_view s) {
    boost::system::error_code ec;
    if (!stream_.write_all(s.data(), s.size(), ec)) throw IoError("write: " + ec.message());
  }

  std::size_t read_body_some(char* out, std::size_t n) {
    auto& p = *parser_;
    while (!p.is_done()) {
      p.get().body().data = out;
      p.get().body().size = n;
      boost::system::error_code ec;
      http::read(stream_, buf_, p, ec);
      if (ec == http::error::need_buffer) ec = {};
      if (ec == http::error::body_limit) throw PayloadTooLarge("request body too large");
      if (ec) {
        close_after_ = true;
        throw IoError("read request body: " + ec.message());
      }
      std::size_t got = n - p.get().body().size;
      if (got > 0) return got;
    }
    return 0;
  }

  std::string head(int status, const Headers& h, const std::string& content_type, const std::string& extra) {
    std::string s = "HTTP/1.1 " + std::to_string(status) + " " + reason(status) + "\r\n";
    for (auto& [k, v] : h) s += k + ": " + v + "\r\n";
    if (!content_type.empty()) s += "Content-Type: " + content_type + "\r\n";
    s += extra;
    if (close_after_) s += "Connection: close\r\n";
    s += "\r\n";
    return s;
  }
};

// ---- Request ----------------------------------------------------------------------------------

std::string Request::header(const std::string& n) const {
  auto it = headers.find(n);
  return it == headers.end() ? std::string() : it->second;
}
std::string Request::q(const std::string& key, const std::string& def) const {
  auto it = query.find(key);
  return it == query.end() ? def : it->second;
}
bool Request::qbool(const std::string& key, bool def) const {
  auto it = query.find(key);
  if (it == query.end()) return def;
  const auto& v = it->second;
  return v == "1" || v == "true" || v == "True" || v == "TRUE";
}
const std::string& Request::param(const std::string& key) const {
  static const std::string empty;
  auto it = params.find(key);
  return it == params.end() ? empty : it->second;
}
std::size_t Request::read_body_some(char* buf, std::size_t n) {
  if (!conn) return 0;
  return conn->read_body_some(buf, n);
}
std::string Request::body(std::size_t limit) {
  if (content_length >= 0 && std::uint64_t(content_length) > limit)
    throw PayloadTooLarge("request body too large (" + std::to_string(content_length) + " bytes, limit " +
                          std::to_string(limit) + ")");
  std::string out;
  char tmp[65536];
  for (;;) {
    auto n = read_body_some(tmp, sizeof tmp);
    if (n == 0) break;
    if (out.size() + n > limit) throw PayloadTooLarge("request body too large");
    out.append(tmp, n);
  }
  return out;
}

// ---- Response ---------------------------------------------------------------------------------

namespace {
class ChunkWriter : public Writer {
 public:
  explicit ChunkWriter(Connection* c) : c_(c) {}
  bool write(std::string_view data) override {
    if (dead_) return false;
    if (data.empty()) return true;
    char hex[32];
    std::snprintf(hex, sizeof hex, "%zx\r\n", data.size());
    std::string s = hex;
    s.append(data);
    s += "\r\n";
    try {
      c_->write(s);
    } catch (const std::exception&) {
      dead_ = true;
      c_->close_after_ = true;
    }
    return !dead_;
  }
  // May run on another thread than write() (a handler watching for a hang-up while it streams):
  // it only polls the fd and sets dead_; finish() marks the connection for closing.
  bool alive() override {
    if (dead_) return false;
    pollfd p{c_->stream_.fd(), POLLRDHUP, 0};
    if (::poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR))) dead_ = true;
    return !dead_;
  }
  std::atomic<bool> dead_{false};

 private:
  Connection* c_;
};
}  // namespace

void Response::send(int st, std::string body, const std::string& content_type) {
  if (sent_) throw Error("response already sent");
  sent_ = true;
  status = st;
  std::string extra = "Content-Length: " + std::to_string(body.size()) + "\r\n";
  conn_->write(conn_->head(st, headers, body.empty() && st == 204 ? "" : content_type, extra) + body);
}

Writer& Response::stream(int st, const std::string& content_type) {
  if (sent_) throw Error("response already sent");
  sent_ = streaming_ = true;
  status = st;
  writer_ = std::make_unique<ChunkWriter>(conn_);
  try {
    conn_->write(conn_->head(st, headers, content_type, "Transfer-Encoding: chunked\r\n"));
  } catch (const std::exception&) {
    static_cast<ChunkWriter*>(writer_.get())->dead_ = true;
    conn_->close_after_ = true;
  }
  return *writer_;
}

void Response::finish() {
  if (!streaming_ || hijacked_) return;
  auto* w = static_cast<ChunkWriter*>(writer_.get());
  if (w->dead_) {
    conn_->close_after_ = true;
    return;
  }
  try {
    conn_->write("0\r\n\r\n");
  } catch (const std::exception&) {
    conn_->close_after_ = true;
  }
}

void Response::hijack(int st, const std::string& content_type, const HijackFn& fn) {
  if (sent_) throw Error("response already sent");
  sent_ = hijacked_ = true;
  status = st;
  std::string extra = st == 101 ? "Connection: Upgrade\r\nUpgrade: tcp\r\n" : "";
  conn_->write(conn_->head(st, headers, content_type, extra));
  std::string rest(static_cast<const char*>(conn_->buf_.data().data()), conn_->buf_.size());
  conn_->buf_.consume(conn_->buf_.size());
  conn_->server_.forget(conn_->fd_.get());
  UniqueFd fd(conn_->fd_.release());
  fn(std::move(fd), std::move(rest));
}

// ---- HttpServer -------------------------------------------------------------------------------

HttpServer::HttpServer(ServerOptions opts, Handler handler) : opts_(std::move(opts)), handler_(std::move(handler)) {}

HttpServer::~HttpServer() {
  stop();
  for (int i = 0; i < 1000 && active_ > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (active_ > 0) log::warn("http server: connections still busy at exit");
}

void HttpServer::forget(int fd) {
  std::lock_guard lk(conns_mu_);
  conns_.erase(fd);
}

void HttpServer::start() {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (opts_.socket_path.size() >= sizeof addr.sun_path)
    throw InvalidArgument("socket path too long: " + opts_.socket_path);
  std::strcpy(addr.sun_path, opts_.socket_path.c_str());
  // A socket file left by a dead daemon is replaced; a live one is an error.
  {
    UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (::connect(probe.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0)
      throw Conflict("another daemon is listening on " + opts_.socket_path);
  }
  ::unlink(opts_.socket_path.c_str());
  listen_fd_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!listen_fd_) throw_sys("socket");
  mode_t old = ::umask(0177);
  int r = ::bind(listen_fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::umask(old);
  if (r < 0) throw_sys("bind", opts_.socket_path);
  if (::chmod(opts_.socket_path.c_str(), opts_.socket_mode) < 0) throw_sys("chmod", opts_.socket_path);
  if (::listen(listen_fd_.get(), 128) < 0) throw_sys("listen", opts_.socket_path);
  int p[2];
  if (::pipe2(p, O_CLOEXEC) < 0) throw_sys("pipe2");
  wake_[0].reset(p[0]);
  wake_[1].reset(p[1]);
  acceptor_ = std::thread([this] { accept_loop(); });
}

void HttpServer::stop() {
  if (stopping_.exchange(true)) return;
  if (wake_[1]) {
    char c = 1;
    [[maybe_unused]] auto n = ::write(wake_[1].get(), &c, 1);
  }
  if (acceptor_.joinable()) acceptor_.join();
  if (listen_fd_) {
    listen_fd_.reset();
    ::unlink(opts_.socket_path.c_str());
  }
  std::lock_guard lk(conns_mu_);
  for (int fd : conns_) ::shutdown(fd, SHUT_RDWR);
}

void HttpServer::accept_loop() {
  while (!stopping_) {
    pollfd p[2] = {{listen_fd_.get(), POLLIN, 0}, {wake_[0].get(), POLLIN, 0}};
    int r = ::poll(p, 2, -1);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 || (p[1].revents & POLLIN)) break;
    if (!(p[0].revents & POLLIN)) continue;
    int fd = ::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    if (active_ >= opts_.max_connections) {
      ::close(fd);
      continue;
    }
    ++active_;
    std::thread([this, fd] {
      try {
        serve(fd);
      } catch (const std::exception& e) {
        log::debug(std::string("connection: ") + e.what());
      }
      // The last connection gone: give back what requests left free in malloc's arenas (a
      // load or a save can leave megabytes), so an idle daemon stays small.
      if (--active_ == 0) ::malloc_trim(0);
    }).detach();
  }
}

void HttpServer::serve(int fd) {
  {
    std::lock_guard lk(conns_mu_);
    if (stopping_) {
      ::close(fd);
      return;
    }
    conns_.insert(fd);
  }
  Connection c(*this, fd);
  struct Forget {
    HttpServer* s;
    Connection* c;
    ~Forget() {
      if (c->fd_) s->forget(c->fd_.get());
    }
  } forget_on_exit{this, &c};
  for (;;) {
    if (stopping_) return;
    c.parser_.emplace();
    c.parser_->header_limit(1 << 20);
    c.parser_->body_limit(opts_.body_limit);
    c.stream_.set_timeout(opts_.idle_timeout_s);
    boost::system::error_code ec;
    http::read_header(c.stream_, c.buf_, *c.parser_, ec);
    if (ec) {
      if (ec != http::error::end_of_stream && ec != net::error::eof && ec != net::error::timed_out) {
        // Malformed request: answer 400 and close.
        c.close_after_ = true;
        Response res(&c);
        try {
          if (ec == http::error::body_limit)
            res.send(413, "{\"message\":\"request body too large\"}\n");
          else
            res.send(400, "{\"message\":\"" + ec.message() + "\"}\n");
        } catch (...) {
        }
      }
      return;
    }
    c.stream_.set_timeout(opts_.io_timeout_s);
    auto& msg = c.parser_->get();
    Request req;
    req.conn = &c;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    for (auto& f : msg) {
      std::string k(f.name_string());
      for (auto& ch : k) ch = char(std::tolower(static_cast<unsigned char>(ch)));
      req.headers[k] = std::string(f.value());
    }
    if (auto cl = c.parser_->content_length()) req.content_length = std::int64_t(*cl);
    req.has_body = !c.parser_->is_done();
    c.close_after_ = !msg.keep_alive();
    Response res(&c);
    try {
      handler_(req, res);
      if (res.hijacked()) return;
      if (!res.sent()) res.send(204, "");
      res.finish();
    } catch (const PayloadTooLarge& e) {
      c.close_after_ = true;
      if (!res.sent()) try {
          res.send(413, std::string("{\"message\":\"") + e.what() + "\"}\n");
        } catch (...) {
        }
      return;
    } catch (const std::exception& e) {
      log::debug(std::string("request ") + req.target + ": " + e.what());
      return;  // connection broken mid-response
    }
    if (c.close_after_) return;
    // An unread body: drain a little, else close.
    if (!c.parser_->is_done()) {
      char tmp[65536];
      std::size_t drained = 0;
      try {
        while (drained < (1u << 20)) {
          auto n = c.read_body_some(tmp, sizeof tmp);
          if (n == 0) break;
          drained += n;
        }
      } catch (...) {
        return;
      }
      if (!c.parser_->is_done()) return;
    }
  }
}

}  // namespace hoist::engine
