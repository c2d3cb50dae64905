#include "engine/api/http_server.h"

#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstring>
#include <limits>
#include <optional>
#include <thread>

#include "common/error.h"
#include "common/log.h"
#include "common/strings.h"

namespace http = boost::beast::http;
namespace net = boost::asio;
using Clock = std::chrono::steady_clock;

namespace hoist::engine {

namespace {

struct IoError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// An fd stream for Beast's sync algorithms, with poll() timeouts (the socket is non-blocking).
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

// One accepted connection (a non-blocking socket): parser state, what the current response did,
// and while it waits in the event loop, since when.
class Connection {
 public:
  Connection(HttpServer& s, int fd) : server_(s), fd_(fd), stream_(fd, s.opts_.io_timeout_s) {}

  HttpServer& server_;
  UniqueFd fd_;
  FdStream stream_;
  boost::beast::flat_buffer buf_;
  std::optional<http::request_parser<http::buffer_body>> parser_;
  bool close_after_ = false;
  // In the event loop: whether part of a request head has come, and since when it waits (for the
  // head's end, or idle for the first byte).
  bool receiving_ = false;
  Clock::time_point since_ = Clock::now();

  enum class Head { Done, More, Bad };
  // Feeds the buffered bytes to a request parser (a new one for a new request); `ec` says why Bad.
  Head parse_head(boost::system::error_code& ec) {
    ec = {};
    if (!parser_) {
      parser_.emplace();
      stage_.clear();
      stage_pos_ = 0;
      parser_->header_limit(1 << 20);
      parser_->body_limit(server_.opts_.body_limit);
    }
    while (!parser_->is_header_done()) {
      if (buf_.size() == 0) return Head::More;
      auto n = parser_->put(buf_.data(), ec);
      buf_.consume(n);
      if (ec == http::error::need_more) {
        ec = {};
        return Head::More;
      }
      if (ec) return Head::Bad;
    }
    return Head::Done;
  }
  // What a malformed head is answered with (the connection closes after it).
  std::string bad_request(const boost::system::error_code& ec) {
    close_after_ = true;
    int st = ec == http::error::header_limit ? 431 : ec == http::error::body_limit ? 413 : 400;
    std::string body = st == 413 ? "{\"message\":\"request body too large\"}\n"
                                 : "{\"message\":\"" + ec.message() + "\"}\n";
    return head(st, {}, "application/json", "Content-Length: " + std::to_string(body.size()) + "\r\n") + body;
  }

  void write(std::string_view s) {
    boost::system::error_code ec;
    if (!stream_.write_all(s.data(), s.size(), ec)) throw IoError("write: " + ec.message());
  }

  // Closing with request bytes unread makes the kernel reset the connection, and a reset makes
  // the client's kernel drop what it has not read yet: the response just sent (say a 400 for an
  // import's bad --change, answered before the body is read, as dockerd does) would be lost and
  // the client would see "broken pipe". So the write side is shut first (the client gets the
  // response and an end of stream), then what the client still sends is read and dropped until
  // it stops, for at most 2 s and 8 MiB; a client that goes on past that gets half a second more
  // to read the answer before the close.
  void linger_close() {
    ::shutdown(fd_.get(), SHUT_WR);
    const auto start = Clock::now();
    const auto end = start + std::chrono::seconds(2);
    std::size_t dropped = 0;
    char tmp[65536];
    for (;;) {
      if (dropped >= (8u << 20)) break;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now()).count();
      if (left <= 0) break;
      pollfd p{fd_.get(), POLLIN, 0};
      int r = ::poll(&p, 1, static_cast<int>(left));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break;
      ssize_t n = ::read(fd_.get(), tmp, sizeof tmp);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n <= 0) return;  // the client is done: a clean close
      dropped += static_cast<std::size_t>(n);
    }
    std::this_thread::sleep_until(std::max(Clock::now(), start + std::chrono::milliseconds(500)));
  }
  // Boost 1.74 takes boost::none as "a limit below every length": the largest value instead.
  void unlimited_body() { parser_->body_limit(std::numeric_limits<std::uint64_t>::max()); }

  // Body bytes come through a staging buffer of 64 KiB: a reader asking for little at a time (a
  // tar reader takes 512 bytes) would otherwise cost a read(2) per call.
  static constexpr std::size_t kStage = 64 * 1024;
  std::string stage_;
  std::size_t stage_pos_ = 0;
  std::size_t read_body_some(char* out, std::size_t n) {
    if (stage_pos_ == stage_.size() && n < kStage) {
      stage_.resize(kStage);
      std::size_t got = read_body_direct(stage_.data(), kStage);
      stage_.resize(got);
      stage_pos_ = 0;
    }
    if (stage_pos_ < stage_.size()) {
      std::size_t k = std::min(n, stage_.size() - stage_pos_);
      std::memcpy(out, stage_.data() + stage_pos_, k);
      stage_pos_ += k;
      if (stage_pos_ == stage_.size()) {
        stage_.clear();
        stage_pos_ = 0;
      }
      return k;
    }
    return read_body_direct(out, n);
  }
  std::size_t read_body_direct(char* out, std::size_t n) {
    auto& p = *parser_;
    // Beast reads no more than the buffer's free capacity (at least 512 bytes): without room,
    // a large body would come 512 bytes per read(2).
    if (buf_.capacity() < kStage) buf_.reserve(kStage);
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
  // dockerd's rule (httputils.BoolValue): anything but "", 0, no, false and none, in any case
  // and with spaces around, is true.
  std::string v(trim(it->second));
  for (char& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return !(v.empty() || v == "0" || v == "no" || v == "false" || v == "none");
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
void Request::unlimited_body() {
  if (conn) conn->unlimited_body();
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
  int fl = ::fcntl(fd.get(), F_GETFL);
  if (fl >= 0) ::fcntl(fd.get(), F_SETFL, fl & ~O_NONBLOCK);
  fn(std::move(fd), std::move(rest));
}

// ---- HttpServer -------------------------------------------------------------------------------
//
// The loop thread alone touches waiting_ and the epoll set; work_, back_, busy_fds_ and the worker
// counts are under mu_. A connection belongs to exactly one of: waiting_ (loop), work_ (queued),
// a worker's serve() (busy_fds_ holds its fd), back_ (on its way to the loop).

HttpServer::HttpServer(ServerOptions opts, Handler handler) : opts_(std::move(opts)), handler_(std::move(handler)) {}

HttpServer::~HttpServer() {
  stop();
  for (int i = 0; i < 1000; ++i) {
    {
      std::lock_guard lk(mu_);
      if (workers_ == 0 && active_ == 0) return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  log::warn("http server: requests still running at exit");
}

void HttpServer::forget(int fd) {
  std::lock_guard lk(mu_);
  busy_fds_.erase(fd);
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
  listen_fd_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!listen_fd_) throw_sys("socket");
  mode_t old = ::umask(0177);
  int r = ::bind(listen_fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::umask(old);
  if (r < 0) throw_sys("bind", opts_.socket_path);
  if (::chmod(opts_.socket_path.c_str(), opts_.socket_mode) < 0) throw_sys("chmod", opts_.socket_path);
  if (::listen(listen_fd_.get(), SOMAXCONN) < 0) throw_sys("listen", opts_.socket_path);
  if (opts_.max_connections <= 0) {
    // Leave a tenth of the files (at least 256) to containers, logs, shims and image work.
    rlimit rl{};
    long soft = ::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY ? long(rl.rlim_cur) : 1024;
    opts_.max_connections = int(std::max(64L, std::min(soft - std::max(256L, soft / 10), long(1) << 30)));
  }
  epoll_fd_.reset(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_fd_) throw_sys("epoll_create1");
  wake_fd_.reset(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!wake_fd_) throw_sys("eventfd");
  for (int fd : {listen_fd_.get(), wake_fd_.get()}) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, fd, &ev) < 0) throw_sys("epoll_ctl add");
  }
  loop_thread_ = std::thread([this] { loop(); });
}

void HttpServer::wake_loop() {
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_fd_.get(), &one, sizeof one);
}

void HttpServer::stop() {
  std::deque<ConnPtr> queued;
  {
    std::lock_guard lk(mu_);
    if (stopping_) return;
    stopping_ = true;
    for (int fd : busy_fds_) ::shutdown(fd, SHUT_RDWR);
    // Requests no worker took yet are not started.
    for (auto& c : work_) {
      busy_fds_.erase(c->fd_.get());
      --active_;
    }
    queued.swap(work_);
  }
  queued.clear();
  work_cv_.notify_all();
  if (wake_fd_) wake_loop();
  if (loop_thread_.joinable()) loop_thread_.join();
  if (listen_fd_) {
    listen_fd_.reset();
    ::unlink(opts_.socket_path.c_str());
  }
}

void HttpServer::loop() {
  std::vector<epoll_event> evs(256);
  auto last_scan = Clock::now();
  while (!stopping_) {
    // Timeouts are checked once a second while connections wait; a paused accept retries in 100 ms.
    int timeout = accept_paused_ ? 100 : waiting_.empty() ? -1 : 1000;
    int n = ::epoll_wait(epoll_fd_.get(), evs.data(), int(evs.size()), timeout);
    if (n < 0 && errno != EINTR) {
      log::error(std::string("http server: epoll_wait: ") + std::strerror(errno));
      break;
    }
    if (stopping_) break;
    for (int i = 0; i < n; ++i) {
      int fd = evs[std::size_t(i)].data.fd;
      if (fd == listen_fd_.get()) {
        accept_all();
      } else if (fd == wake_fd_.get()) {
        std::uint64_t v;
        [[maybe_unused]] auto r = ::read(wake_fd_.get(), &v, sizeof v);
        std::vector<ConnPtr> back;
        {
          std::lock_guard lk(mu_);
          back.swap(back_);
        }
        for (auto& c : back) add_waiting(std::move(c));
      } else {
        on_readable(fd);
      }
    }
    if (accept_paused_ && Clock::now() - accept_paused_at_ >= std::chrono::milliseconds(100)) {
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.fd = listen_fd_.get();
      if (::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, listen_fd_.get(), &ev) == 0) accept_paused_ = false;
    }
    auto now = Clock::now();
    if (now - last_scan >= std::chrono::seconds(1)) {
      last_scan = now;
      expire_waiting();
    }
  }
  // Stopping: the waiting connections and those on their way back close now.
  std::vector<ConnPtr> back;
  {
    std::lock_guard lk(mu_);
    back.swap(back_);
  }
  waiting_.clear();
}

void HttpServer::accept_all() {
  for (;;) {
    int fd = ::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE) {
        if (evict_oldest_idle()) continue;
        // Nothing to give up: stop listening for a moment rather than spin on a readable socket.
        log::warn("http server: accept: " + std::string(std::strerror(errno)) + "; new connections wait");
        ::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, listen_fd_.get(), nullptr);
        accept_paused_ = true;
        accept_paused_at_ = Clock::now();
      }
      return;
    }
    UniqueFd owned(fd);
    if (int(waiting_.size()) + active_ >= opts_.max_connections && !evict_oldest_idle()) {
      log::warn("http server: " + std::to_string(opts_.max_connections) + " connections open, none idle: refused one");
      continue;
    }
    auto c = std::make_unique<Connection>(*this, owned.release());
    add_waiting(std::move(c));
  }
}

bool HttpServer::evict_oldest_idle() {
  auto oldest = waiting_.end();
  for (auto it = waiting_.begin(); it != waiting_.end(); ++it)
    if (!it->second->receiving_ && (oldest == waiting_.end() || it->second->since_ < oldest->second->since_))
      oldest = it;
  if (oldest == waiting_.end()) return false;
  log::debug("http server: connection limit: closed the longest idle connection");
  waiting_.erase(oldest);  // closing the fd takes it out of the epoll set
  return true;
}

void HttpServer::add_waiting(ConnPtr c) {
  int fd = c->fd_.get();
  c->since_ = Clock::now();
  c->receiving_ = c->buf_.size() > 0;
  if (!c->receiving_) {
    // Idle: keep nothing but the socket.
    c->parser_.reset();
    c->buf_.clear();
    c->buf_.shrink_to_fit();
  }
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP;
  ev.data.fd = fd;
  if (::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, fd, &ev) < 0) {
    log::warn(std::string("http server: epoll_ctl add: ") + std::strerror(errno));
    return;  // closes it
  }
  waiting_[fd] = std::move(c);
}

void HttpServer::on_readable(int fd) {
  auto it = waiting_.find(fd);
  if (it == waiting_.end()) return;
  Connection& c = *it->second;
  if (scratch_.empty()) scratch_.resize(65536);
  char* scratch = scratch_.data();
  for (int round = 0; round < 16; ++round) {  // at most 1 MiB per turn: others get theirs
    ssize_t r = ::recv(fd, scratch, scratch_.size(), 0);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (r <= 0) {  // hung up (or failed) between requests or within a head
      waiting_.erase(it);
      return;
    }
    if (!c.receiving_) {
      c.receiving_ = true;
      c.since_ = Clock::now();
    }
    auto n = std::size_t(r);
    net::buffer_copy(c.buf_.prepare(n), net::buffer(scratch, n));
    c.buf_.commit(n);
    boost::system::error_code ec;
    auto head = c.parse_head(ec);
    if (head == Connection::Head::Done) {
      ::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, fd, nullptr);
      auto conn = std::move(it->second);
      waiting_.erase(it);
      dispatch(std::move(conn));
      return;
    }
    if (head == Connection::Head::Bad) {
      auto resp = c.bad_request(ec);
      [[maybe_unused]] auto w = ::send(fd, resp.data(), resp.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      waiting_.erase(it);
      return;
    }
    if (n < scratch_.size()) return;
  }
}

void HttpServer::expire_waiting() {
  auto now = Clock::now();
  auto header = std::chrono::seconds(opts_.header_timeout_s), idle = std::chrono::seconds(opts_.idle_timeout_s);
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    auto& c = *it->second;
    if (now - c.since_ >= (c.receiving_ ? header : idle)) {
      if (c.receiving_) log::debug("http server: request head not complete after " + std::to_string(opts_.header_timeout_s) + " s: closed");
      it = waiting_.erase(it);
    } else {
      ++it;
    }
  }
}

void HttpServer::dispatch(ConnPtr c) {
  bool spawn = false;
  {
    std::lock_guard lk(mu_);
    if (stopping_) return;
    busy_fds_.insert(c->fd_.get());
    ++active_;
    work_.push_back(std::move(c));
    if (int(work_.size()) > idle_workers_ && workers_ < opts_.max_workers) {
      ++workers_;
      spawn = true;
    }
  }
  work_cv_.notify_one();
  if (!spawn) return;
  try {
    std::thread([this] { worker(); }).detach();
  } catch (const std::exception& e) {
    // The request waits for a running worker.
    log::warn(std::string("http server: new worker thread: ") + e.what());
    std::lock_guard lk(mu_);
    --workers_;
  }
}

void HttpServer::worker() {
  std::unique_lock lk(mu_);
  for (;;) {
    if (work_.empty()) {
      if (stopping_) break;
      ++idle_workers_;
      work_cv_.wait_for(lk, std::chrono::milliseconds(opts_.worker_idle_ms),
                        [&] { return !work_.empty() || stopping_; });
      --idle_workers_;
      if (work_.empty()) break;
    }
    auto c = std::move(work_.front());
    work_.pop_front();
    lk.unlock();
    serve(std::move(c));
    lk.lock();
  }
  // The last worker gone: give back what requests left free in malloc's arenas (a load or a save
  // can leave megabytes), so an idle daemon stays small.
  bool last = --workers_ == 0;
  lk.unlock();
  if (last) ::malloc_trim(0);
}

void HttpServer::serve(ConnPtr c) {
  int fd = c->fd_.get();
  bool keep = false;
  for (;;) {
    try {
      keep = !stopping_ && handle(*c);
    } catch (const std::exception& e) {
      log::debug(std::string("connection: ") + e.what());
      keep = false;
    }
    if (!keep) break;
    // A next request already read (pipelined) runs here; part of one goes to the loop.
    c->parser_.reset();
    c->close_after_ = false;
    if (c->buf_.size() == 0) break;
    boost::system::error_code ec;
    auto head = c->parse_head(ec);
    if (head == Connection::Head::Done) continue;
    if (head == Connection::Head::Bad) {
      auto resp = c->bad_request(ec);
      [[maybe_unused]] auto w = ::send(fd, resp.data(), resp.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      keep = false;
    }
    break;
  }
  {
    std::lock_guard lk(mu_);
    if (c->fd_) busy_fds_.erase(fd);
    --active_;
    if (keep && !stopping_) {
      bool was_empty = back_.empty();
      back_.push_back(std::move(c));
      if (was_empty) wake_loop();
    }
  }
  c.reset();  // closes a connection not handed back (after busy_fds_ forgot its fd)
}

// Runs one request whose head is parsed; true when the connection can take the next one.
bool HttpServer::handle(Connection& c) {
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
    if (res.hijacked()) return false;
    if (!res.sent()) res.send(204, "");
    res.finish();
  } catch (const PayloadTooLarge& e) {
    c.close_after_ = true;
    if (!res.sent()) try {
        res.send(413, std::string("{\"message\":\"") + e.what() + "\"}\n");
      } catch (...) {
      }
    return false;
  } catch (const std::exception& e) {
    log::debug(std::string("request ") + req.target + ": " + e.what());
    return false;  // connection broken mid-response
  }
  // An unread body: drained when small (the connection is kept), else a lingering close.
  if (!c.parser_->is_done()) {
    if (!c.close_after_) {
      char tmp[65536];
      std::size_t drained = 0;
      try {
        while (drained < (1u << 20)) {
          auto n = c.read_body_some(tmp, sizeof tmp);
          if (n == 0) break;
          drained += n;
        }
      } catch (...) {
        return false;
      }
    }
    if (!c.parser_->is_done()) {
      c.linger_close();
      return false;
    }
  }
  return !c.close_after_;
}

}  // namespace hoist::engine
