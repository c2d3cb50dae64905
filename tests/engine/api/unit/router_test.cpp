// Router: pattern matching, version prefix, error mapping, query and filter parsing.
#include <gtest/gtest.h>

#include "common/error.h"
#include "engine/api/router.h"

using namespace hoist::engine;

namespace {
Handler tag(std::string* out, std::string name) {
  return [out, name](Request&, Response&) { *out = name; };
}
}  // namespace

TEST(Router, MatchesParamsAndRestSegments) {
  Router r;
  std::string hit;
  r.get("/images/json", tag(&hit, "list"));
  r.get("/images/{name...}/json", tag(&hit, "inspect"));
  r.del("/images/{name...}", tag(&hit, "delete"));
  r.get("/containers/{id}/json", tag(&hit, "cinspect"));
  std::map<std::string, std::string> p;
  ASSERT_NE(r.match("GET", "/images/json", p), nullptr);
  auto* h = r.match("GET", "/images/localhost:5000/a/b:tag/json", p);
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(p["name"], "localhost:5000/a/b:tag");
  h = r.match("GET", "/images/busybox/json", p);
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(p["name"], "busybox");
  h = r.match("DELETE", "/images/x/y:1", p);
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(p["name"], "x/y:1");
  h = r.match("GET", "/containers/abc/json", p);
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(p["id"], "abc");
  // A container's link name ("/LINKING/ALIAS", dockerd's {name:.*}): one container reference.
  h = r.match("GET", "/containers/web/alias/json", p);
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(p["id"], "web/alias");
  EXPECT_EQ(r.match("GET", "/containers/a/b/c/json", p), nullptr);
  EXPECT_EQ(r.match("GET", "/volumes/a/b/json", p), nullptr);
  EXPECT_EQ(r.match("POST", "/images/json", p), nullptr);
  EXPECT_EQ(r.match("GET", "/nope", p), nullptr);
}

TEST(Router, ExactRoutesWinOverRest) {
  Router r;
  std::string hit;
  r.get("/images/{name...}/get", tag(&hit, "one"));
  r.get("/images/get", tag(&hit, "many"));
  std::map<std::string, std::string> p;
  Request req;
  Response* none = nullptr;
  (void)none;
  auto* h = r.match("GET", "/images/get", p);
  ASSERT_NE(h, nullptr);
  h = r.match("GET", "/images/a/b/get", p);
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(p["name"], "a/b");
}

TEST(Router, VersionPrefix) {
  auto t = parse_target("/v1.41/images/json?all=1&filters=%7B%7D");
  EXPECT_EQ(t.version, "1.41");
  EXPECT_EQ(t.path, "/images/json");
  EXPECT_EQ(t.query["all"], "1");
  EXPECT_EQ(t.query["filters"], "{}");
  t = parse_target("/_ping");
  EXPECT_EQ(t.version, "");
  EXPECT_EQ(t.path, "/_ping");
  t = parse_target("/v1.45/version");
  EXPECT_EQ(t.version, "1.45");
  EXPECT_THROW(parse_target("/v1.12/version"), hoist::InvalidArgument);
  EXPECT_THROW(parse_target("/v1.99/version"), hoist::InvalidArgument);
  // Not a version: left alone.
  t = parse_target("/volumes/x");
  EXPECT_EQ(t.path, "/volumes/x");
  EXPECT_EQ(compare_versions("1.9", "1.24"), -1);
  EXPECT_EQ(compare_versions("1.43", "1.43"), 0);
}

TEST(Router, QueryParsing) {
  auto q = parse_query("a=1&b=x%2Fy&c&d=a+b&a=2");
  EXPECT_EQ(q["a"], "2");
  EXPECT_EQ(q["b"], "x/y");
  EXPECT_EQ(q["c"], "");
  EXPECT_EQ(q["d"], "a b");
  auto v = query_values("/images/get?names=a&names=b%3A1&x=y", "names");
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[1], "b:1");
  EXPECT_EQ(url_decode("%zz%41", false), "%zzA");
}

// Boolean query parameters as dockerd reads them: absent is the default; "", 0, no, false and
// none (any case, spaces around) are false; anything else is true.
TEST(Router, BooleanQueryParameters) {
  Request req;
  req.query = parse_query("a=1&b=True&c=yes&d=%20FALSE%20&e=0&f=&g=None&h=no&i=2");
  for (const char* k : {"a", "b", "c", "i"}) EXPECT_TRUE(req.qbool(k)) << k;
  for (const char* k : {"d", "e", "f", "g", "h"}) EXPECT_FALSE(req.qbool(k, true)) << k;
  EXPECT_FALSE(req.qbool("absent"));
  EXPECT_TRUE(req.qbool("absent", true));
}

TEST(Router, Filters) {
  auto f = parse_filters(R"({"dangling":["true"],"reference":["a*","b"]})");
  EXPECT_EQ(f["dangling"], std::vector<std::string>{"true"});
  EXPECT_EQ(f["reference"].size(), 2u);
  // The old map form.
  f = parse_filters(R"({"label":{"a=b":true,"c":false}})");
  EXPECT_EQ(f["label"], std::vector<std::string>{"a=b"});
  EXPECT_TRUE(parse_filters("").empty());
  EXPECT_THROW(parse_filters("{bad"), hoist::InvalidArgument);
  EXPECT_THROW(parse_filters("[1]"), hoist::InvalidArgument);
}

TEST(Router, ErrorMapping) {
  EXPECT_EQ(status_for(hoist::NotFound("x")), 404);
  EXPECT_EQ(status_for(hoist::Conflict("x")), 409);
  EXPECT_EQ(status_for(hoist::InvalidArgument("x")), 400);
  EXPECT_EQ(status_for(hoist::Error("x")), 500);
  EXPECT_EQ(status_for(std::runtime_error("x")), 500);
  EXPECT_EQ(status_for(PayloadTooLarge("x")), 413);
  EXPECT_EQ(error_body("No such image: x"), "{\"message\":\"No such image: x\"}\n");
}

// ---- the server in-process: streamed bodies, chunked streams, hijacking --------------------------

#include <sys/socket.h>
#include <sys/un.h>

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

namespace {

int connect_unix(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

// Reads until `until` appears (or EOF/timeout).
std::string read_until(int fd, const std::string& until) {
  std::string out;
  char buf[4096];
  while (out.find(until) == std::string::npos) {
    auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, std::size_t(n));
  }
  return out;
}

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/hoist-router-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    router_.post("/body", [](Request& req, Response& res) {
      std::size_t total = 0;
      char buf[1000];
      for (std::size_t n; (n = req.read_body_some(buf, sizeof buf)) > 0;) total += n;
      res.send(200, std::to_string(total), "text/plain");
    });
    router_.post("/small", [](Request& req, Response& res) { res.send(200, req.body(16), "text/plain"); });
    router_.get("/stream", [](Request&, Response& res) {
      Writer& w = res.stream(200, "application/json");
      for (int i = 0; i < 3; ++i) w.write("{\"n\":" + std::to_string(i) + "}\n");
    });
    router_.post("/containers/{id}/attach", [this](Request& req, Response& res) {
      attached_id_ = req.param("id");
      res.hijack(101, "application/vnd.docker.raw-stream", [](hoist::UniqueFd fd, std::string early) {
        // Echo what came with the request, then one more read.
        std::string got = early;
        char buf[100];
        if (got.empty()) {
          auto n = ::recv(fd.get(), buf, sizeof buf, 0);
          if (n > 0) got.assign(buf, std::size_t(n));
        }
        std::string reply = "echo:" + got;
        [[maybe_unused]] auto w = ::send(fd.get(), reply.data(), reply.size(), MSG_NOSIGNAL);
      });
    });
    router_.get("/_ping", [](Request&, Response& res) { res.send(200, "OK", "text/plain"); });
    // A stream that lasts while the client listens (as events or logs -f).
    router_.get("/follow", [](Request&, Response& res) {
      Writer& w = res.stream(200, "application/json");
      w.write("{}\n");
      for (int i = 0; i < 600 && w.alive(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    });
    start_server({});
  }
  // (Re)starts the server with these options (the socket path is the test's).
  void start_server(ServerOptions o) {
    if (server_) server_->stop();
    server_.reset();
    o.socket_path = dir_ + "/s.sock";
    server_ = std::make_unique<HttpServer>(o, [this](Request& q, Response& r) { router_.dispatch(q, r); });
    server_->start();
  }
  void TearDown() override {
    if (server_) server_->stop();
    std::filesystem::remove_all(dir_);
  }
  std::string request(const std::string& raw, const std::string& until) {
    int fd = connect_unix(dir_ + "/s.sock");
    EXPECT_GE(fd, 0);
    [[maybe_unused]] auto w = ::send(fd, raw.data(), raw.size(), MSG_NOSIGNAL);
    auto out = read_until(fd, until);
    ::close(fd);
    return out;
  }
  std::string dir_;
  Router router_;
  std::unique_ptr<HttpServer> server_;
  std::string attached_id_;
};

}  // namespace

TEST_F(ServerTest, StreamsBodiesAndResponses) {
  std::string body(300000, 'x');
  auto r = request("POST /v1.41/body HTTP/1.1\r\nHost: x\r\nContent-Length: 300000\r\n\r\n" + body, "300000");
  EXPECT_EQ(r.rfind("HTTP/1.1 200", 0), 0u) << r;
  EXPECT_NE(r.find("Api-Version: 1.41"), std::string::npos) << r;
  EXPECT_NE(r.find("\r\n\r\n300000"), std::string::npos) << r;
  // Chunked request body.
  r = request("POST /body HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n",
              "\r\n\r\n8");
  EXPECT_NE(r.find("\r\n\r\n8"), std::string::npos) << r;
  // A small-body handler refuses a big one with 413.
  r = request("POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" + std::string(100, 'y'), "}");
  EXPECT_EQ(r.rfind("HTTP/1.1 413", 0), 0u) << r;
  // A chunked stream.
  r = request("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n", "0\r\n\r\n");
  EXPECT_NE(r.find("Transfer-Encoding: chunked"), std::string::npos) << r;
  EXPECT_NE(r.find("{\"n\":2}"), std::string::npos) << r;
  // Keep-alive: two requests on one connection.
  r = request("GET /stream HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\n", "page not found");
  EXPECT_NE(r.find("page not found"), std::string::npos) << r;
}

TEST_F(ServerTest, HijackHandsOverTheSocket) {
  auto r = request("POST /containers/abc/attach?stream=1 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
                   "Upgrade: tcp\r\nContent-Length: 0\r\n\r\nping",
                   "echo:ping");
  EXPECT_EQ(r.rfind("HTTP/1.1 101", 0), 0u) << r;
  EXPECT_NE(r.find("Upgrade: tcp"), std::string::npos) << r;
  EXPECT_NE(r.find("application/vnd.docker.raw-stream"), std::string::npos) << r;
  EXPECT_NE(r.find("echo:ping"), std::string::npos) << r;
  EXPECT_EQ(attached_id_, "abc");
}

// ---- many connections, slow heads, the connection limit ----------------------------------------

namespace {

using Clock = std::chrono::steady_clock;

long threads_now() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("Threads:", 0) == 0) return std::stol(line.substr(8));
  return -1;
}

template <class F>
bool eventually(F f, int ms) {
  auto end = Clock::now() + std::chrono::milliseconds(ms);
  while (!f()) {
    if (Clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

// Whether the peer closed `fd` (EOF now, without waiting).
bool peer_closed(int fd) {
  char c;
  return ::recv(fd, &c, 1, MSG_DONTWAIT) == 0;
}

struct Fds {
  std::vector<int> v;
  ~Fds() { close_all(); }
  void close_all() {
    for (int fd : v) ::close(fd);
    v.clear();
  }
};

const std::string kPing = "GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n";

}  // namespace

TEST_F(ServerTest, ThousandsOfIdleConnectionsAndStreamsHoldNoThreads) {
  const int idle = 2000, streams = 20;
  rlimit nofile{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &nofile), 0);
  if (nofile.rlim_cur < rlim_t(2 * idle + 500)) {
    if (nofile.rlim_max < rlim_t(2 * idle + 500)) GTEST_SKIP() << "RLIMIT_NOFILE hard limit too low";
    nofile.rlim_cur = nofile.rlim_max;
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &nofile), 0);
  }
  ServerOptions o;
  o.worker_idle_ms = 200;
  start_server(o);
  long base = threads_now();
  Fds idle_fds, stream_fds;
  for (int i = 0; i < idle; ++i) {
    int fd = connect_unix(dir_ + "/s.sock");
    ASSERT_GE(fd, 0) << "connection " << i;
    idle_fds.v.push_back(fd);
    if (i % 2 == 0) {  // a keep-alive connection after a request; the others never said anything
      [[maybe_unused]] auto w = ::send(fd, kPing.data(), kPing.size(), MSG_NOSIGNAL);
      auto r = read_until(fd, "OK");
      ASSERT_EQ(r.rfind("HTTP/1.1 200", 0), 0u) << "connection " << i << ": " << r;
    }
  }
  for (int i = 0; i < streams; ++i) {
    int fd = connect_unix(dir_ + "/s.sock");
    ASSERT_GE(fd, 0);
    stream_fds.v.push_back(fd);
    std::string req = "GET /follow HTTP/1.1\r\nHost: x\r\n\r\n";
    [[maybe_unused]] auto w = ::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
    ASSERT_NE(read_until(fd, "{}").find("{}"), std::string::npos);
  }
  for (int i = 0; i < 20; ++i) {
    auto t0 = Clock::now();
    auto r = request(kPing, "OK");
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
    EXPECT_EQ(r.rfind("HTTP/1.1 200", 0), 0u) << r;
    EXPECT_LT(ms, 200) << "ping " << i;
  }
  // A thread per stream and none per idle connection.
  EXPECT_LT(threads_now(), base + streams + 10);
  // (the last ping's worker may still be between its response and the loop)
  EXPECT_TRUE(eventually([&] { return server_->active_connections() == streams; }, 1000))
      << server_->active_connections() << " requests running";
  // An idle connection still serves its next request.
  for (int i : {0, 1, idle - 1}) {
    int fd = idle_fds.v[std::size_t(i)];
    [[maybe_unused]] auto w = ::send(fd, kPing.data(), kPing.size(), MSG_NOSIGNAL);
    EXPECT_EQ(read_until(fd, "OK").rfind("HTTP/1.1 200", 0), 0u) << "idle connection " << i;
  }
  idle_fds.close_all();
  stream_fds.close_all();
  long now = 0;
  EXPECT_TRUE(eventually([&] { return (now = threads_now()) <= base; }, 5000)) << now << " threads, " << base << " before";
  EXPECT_EQ(server_->active_connections(), 0);
}

TEST_F(ServerTest, UnfinishedRequestHeadsAreClosedAfterTheHeaderTimeout) {
  ServerOptions o;
  o.header_timeout_s = 1;
  start_server(o);
  Fds fds;
  auto open = [&](const std::string& send) {
    int fd = connect_unix(dir_ + "/s.sock");
    EXPECT_GE(fd, 0);
    fds.v.push_back(fd);
    if (!send.empty()) {
      [[maybe_unused]] auto w = ::send(fd, send.data(), send.size(), MSG_NOSIGNAL);
    }
    return fd;
  };
  int partial = open("GET /_ping HTTP/1.1\r\nHo");
  int silent = open("");
  int kept = open(kPing);
  ASSERT_NE(read_until(kept, "OK").find("OK"), std::string::npos);
  // A pipelined request whose second head is cut: the first is answered, the second waits.
  int piped = open(kPing + "GET /_pi");
  ASSERT_NE(read_until(piped, "OK").find("OK"), std::string::npos);
  auto t0 = Clock::now();
  EXPECT_FALSE(peer_closed(partial));
  EXPECT_TRUE(eventually([&] { return peer_closed(partial) && peer_closed(piped); }, 4000));
  EXPECT_GE(Clock::now() - t0, std::chrono::milliseconds(500)) << "closed before the timeout";
  // Connections that are idle (not inside a head) stay.
  EXPECT_FALSE(peer_closed(silent));
  EXPECT_FALSE(peer_closed(kept));
  // A head that arrives in pieces within the timeout is served.
  int slow = open("GET /_ping HT");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  std::string rest = "TP/1.1\r\nHost: x\r\n\r\n";
  [[maybe_unused]] auto w = ::send(slow, rest.data(), rest.size(), MSG_NOSIGNAL);
  EXPECT_NE(read_until(slow, "OK").find("OK"), std::string::npos);
}

TEST_F(ServerTest, AtTheConnectionLimitTheLongestIdleGoes) {
  ServerOptions o;
  o.max_connections = 8;
  start_server(o);
  Fds fds;
  for (int i = 0; i < 8; ++i) {
    fds.v.push_back(connect_unix(dir_ + "/s.sock"));
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  auto r = request(kPing, "OK");
  EXPECT_EQ(r.rfind("HTTP/1.1 200", 0), 0u) << r;
  EXPECT_TRUE(eventually([&] { return peer_closed(fds.v[0]); }, 2000)) << "the oldest idle connection is open";
  EXPECT_FALSE(peer_closed(fds.v[7]));
}

TEST_F(ServerTest, StopEndsIdleConnectionsAndStreams) {
  Fds fds;
  int idle = connect_unix(dir_ + "/s.sock");
  fds.v.push_back(idle);
  int stream = connect_unix(dir_ + "/s.sock");
  fds.v.push_back(stream);
  std::string req = "GET /follow HTTP/1.1\r\nHost: x\r\n\r\n";
  [[maybe_unused]] auto w = ::send(stream, req.data(), req.size(), MSG_NOSIGNAL);
  ASSERT_NE(read_until(stream, "{}").find("{}"), std::string::npos);
  EXPECT_EQ(server_->active_connections(), 1);
  auto t0 = Clock::now();
  server_->stop();
  EXPECT_TRUE(eventually([&] { return peer_closed(idle); }, 2000));
  read_until(stream, "never");  // EOF
  EXPECT_TRUE(eventually([&] { return server_->active_connections() == 0; }, 2000));
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(2));
  EXPECT_LT(connect_unix(dir_ + "/s.sock"), 0) << "the socket still accepts";
}
