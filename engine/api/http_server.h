// HTTP/1.1 over a Unix stream socket (Boost.Beast), for the Docker Engine API.
//
// One event-loop thread (epoll) accepts and owns every connection that is waiting: idle between
// requests (keep-alive) or still receiving a request head, which it parses as the bytes come. Such a
// connection costs an fd and a few hundred bytes, so many thousands may be open; one that has begun
// a request head and not finished it within `header_timeout_s` is closed, an idle one after
// `idle_timeout_s`. A complete head hands the connection to a worker thread, which runs the handler
// and gives the connection back to the loop when the response is complete. Workers are a pool that
// grows on demand up to `max_workers` (a long stream - events, logs -f, wait, attach - holds one
// while it runs, so short requests such as /_ping never queue behind streams) and shrinks when idle.
// Reads and writes of a running request go through poll() with timeouts, so a slow or vanished
// client only ever costs its own worker. Request bodies are not read before the handler runs: a
// handler streams them (Request::read_body_some / body_reader) or asks for the whole body with a cap
// (Request::body, 4 MiB by default → 413). Responses are either whole (Response::send) or chunked
// streams (Response::stream → Writer), or the connection is taken over (Response::hijack) for
// attach/exec.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <unordered_set>
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
  // Lifts the server's body limit (ServerOptions::body_limit) for this request: a body streamed
  // to disk as it comes (an archive PUT) may be as large as the client likes.
  void unlimited_body();
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
  int io_timeout_s = 120;        // no byte moved in a read or write of a running request → close
  int idle_timeout_s = 300;      // keep-alive between requests (no byte of a next request yet)
  int header_timeout_s = 30;     // from the first byte of a request head to its end
  std::uint64_t body_limit = 512ull << 20;  // any request body
  // Open connections at most (0: from RLIMIT_NOFILE, leaving room for the daemon's other files).
  // At the limit a new connection takes the place of the longest idle one.
  int max_connections = 0;
  int max_workers = 4096;        // requests running at once; more wait for a worker
  int worker_idle_ms = 2000;     // an idle worker thread ends after this long
};

class HttpServer {
 public:
  HttpServer(ServerOptions opts, Handler handler);
  ~HttpServer();
  // Binds (replacing a stale socket file) and starts the event loop on a thread of its own.
  void start();
  // Stops accepting, removes the socket file, closes the waiting connections and shuts down the
  // busy (not hijacked) ones, so idle keep-alive connections and streams end at once; a running
  // handler ends when it returns. The destructor also waits (up to 10 s) for the workers to finish.
  void stop();
  bool shutting_down() const { return stopping_; }
  // Requests being handled (hijacked ones included until their handler returns).
  int active_connections() const { return active_; }
  const ServerOptions& options() const { return opts_; }

 private:
  friend class Connection;
  friend class Response;
  using ConnPtr = std::unique_ptr<Connection>;
  void loop();
  void accept_all();
  void on_readable(int fd);
  void expire_waiting();
  bool evict_oldest_idle();
  void add_waiting(ConnPtr c);
  void dispatch(ConnPtr c);
  void worker();
  void serve(ConnPtr c);
  bool handle(Connection& c);
  void wake_loop();
  void forget(int fd);

  ServerOptions opts_;
  Handler handler_;
  UniqueFd listen_fd_, epoll_fd_, wake_fd_;
  std::thread loop_thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> active_{0};
  // Owned by the loop thread: connections waiting for (the rest of) a request head.
  std::unordered_map<int, ConnPtr> waiting_;
  bool accept_paused_ = false;  // after EMFILE with nothing idle to close: for 100 ms
  std::chrono::steady_clock::time_point accept_paused_at_;
  std::vector<char> scratch_;  // the loop's receive buffer
  // Shared between the loop and the workers.
  std::mutex mu_;
  std::condition_variable work_cv_;
  std::deque<ConnPtr> work_;         // heads complete, waiting for a worker
  std::vector<ConnPtr> back_;        // done with a request, for the loop
  std::unordered_set<int> busy_fds_; // connections of running requests (not hijacked)
  int workers_ = 0, idle_workers_ = 0;
};

}  // namespace hoist::engine
