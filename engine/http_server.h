// HTTP/1.1 over a Unix stream socket (Boost.Beast), for the Docker Engine API.
//
// One thread per connection (like Docker's goroutine per connection); reads and writes go through
// poll() with timeouts, so a slow or vanished client only ever costs its own thread. Request bodies
// are not read before the handler runs: a handler streams them (Request::read_body_some / body_reader)
// or asks for the whole body with a cap (Request::body, 4 MiB by default → 413). Responses are
// either whole (Response::send) or chunked streams (Response::stream → Writer), or the connection is
// taken over (Response::hijack) for attach/exec.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/fd.h"

namespace hoist::engine {

class Connection;

// Lower-cased header names.
using Headers = std::map<std::string, std::string>;

struct Request {
  std::string method;  // "GET"
  std::string target;  // raw target, "/v1.43/images/json?all=1"
  std::string path;    // decoded path without query and version prefix: "/images/json"
  std::string version; // "1.43" when the target had /v1.43, else ""
  std::map<std::string, std::string> query;  // decoded; last value wins
  std::map<std::string, std::string> params; // from the route pattern
  Headers headers;
  std::int64_t content_length = -1;  // -1: unknown (chunked) or none
  bool has_body = false;

  std::string header(const std::string& lower_name) const;
  std::string q(const std::string& key, const std::string& def = "") const;
  // Docker's boolean query values: "1", "true", "True" → true.
  bool qbool(const std::string& key, bool def = false) const;
  const std::string& param(const std::string& key) const;

  // Reads up to n body bytes; 0 at the end of the body. Throws on a broken connection/timeout.
  std::size_t read_body_some(char* buf, std::size_t n);
  // The whole body, at most `limit` bytes (throws PayloadTooLarge beyond).
  std::string body(std::size_t limit = 4 << 20);

  Connection* conn = nullptr;  // set by the server
};

// Thrown by Request::body when the body is over the limit (→ 413).
struct PayloadTooLarge : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A chunked response body being written. write() from one thread at a time (the handler's);
// alive() may also be called from another thread meanwhile (a watch for the client hanging up).
class Writer {
 public:
  virtual ~Writer() = default;
  // false once the client is gone (further writes are dropped).
  virtual bool write(std::string_view data) = 0;
  // Whether the client is still connected (cheap poll for a hang-up).
  virtual bool alive() = 0;
};

// Takes over the raw connection after the response head was sent (attach/exec/"docker run -it").
// The fd is blocking, owned by the callee; the server forgets the connection.
using HijackFn = std::function<void(UniqueFd fd, std::string already_read)>;

class Response {
 public:
  explicit Response(Connection* c) : conn_(c) {}
  int status = 200;
  Headers headers;  // extra headers (Api-Version etc. are added by the router)

  // A whole response.
  void send(int status, std::string body, const std::string& content_type = "application/json");
  void json(int status, const std::string& serialized) { send(status, serialized); }
  // Starts a chunked response; the returned Writer is valid until the handler returns.
  Writer& stream(int status, const std::string& content_type = "application/json");
  // Sends the head (`status` 101 with Upgrade: tcp, or 200 with the raw-stream content type) and
  // hands the socket to `fn` on this thread. The server closes nothing afterwards.
  void hijack(int status, const std::string& content_type, const HijackFn& fn);

  bool sent() const { return sent_; }
  bool hijacked() const { return hijacked_; }
  // Ends a stream (called by the server after the handler).
  void finish();

 private:
  Connection* conn_;
  bool sent_ = false, streaming_ = false, hijacked_ = false;
  std::unique_ptr<Writer> writer_;
};

using Handler = std::function<void(Request&, Response&)>;

struct ServerOptions {
  std::string socket_path;
  unsigned socket_mode = 0660;
  int io_timeout_s = 120;        // no byte moved in a read or write for this long → close
  int idle_timeout_s = 300;      // keep-alive between requests
  std::uint64_t body_limit = 512ull << 20;  // any request body
  int max_connections = 512;
};

class HttpServer {
 public:
  HttpServer(ServerOptions opts, Handler handler);
  ~HttpServer();
  // Binds (replacing a stale socket file) and starts accepting on a thread of its own.
  void start();
  // Stops accepting, removes the socket file and shuts down the open (not hijacked) connections, so
  // idle keep-alive connections and streams end at once; a running handler ends when it returns.
  // The destructor also waits (up to 10 s) for the connection threads to finish.
  void stop();
  bool shutting_down() const { return stopping_; }
  int active_connections() const { return active_; }
  const ServerOptions& options() const { return opts_; }

 private:
  friend class Connection;
  friend class Response;
  void accept_loop();
  void serve(int fd);

  ServerOptions opts_;
  Handler handler_;
  UniqueFd listen_fd_;
  UniqueFd wake_[2];
  std::thread acceptor_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> active_{0};
  std::mutex conns_mu_;
  std::set<int> conns_;  // open, not hijacked connection fds
  void forget(int fd);
};

}  // namespace hoist::engine
