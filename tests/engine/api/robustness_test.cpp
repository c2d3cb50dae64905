// hoistd under bad input, misbehaving clients and crashes, as a user sees it: the API's error
// answers (shapes checked against dockerd 20.10), the daemon serving others while one client
// hangs up, floods or stalls, the container events, kill -9 of the daemon at random points with
// live restore afterwards, and docker-py's container calls. Each test has its own hoistd (data
// root, exec root, socket, cgroup parent) and removes what it made, also when it fails.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "common/strings.h"
#include "hoistd_harness.h"

namespace fs = std::filesystem;
using hoist::split;
using hoist::trim;
using hoist::test::Hoistd;
using hoist::test::HttpResult;
using hoist::test::run_cmd;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

std::string cgroup_parent() { return "/hoist-test-" + std::to_string(getpid()) + "-robust"; }

// Polls `f` every 20 ms until it is true or `ms` have passed; returns its last value.
template <class F>
bool eventually(F f, int ms = 5000) {
  auto end = Clock::now() + std::chrono::milliseconds(ms);
  for (;;) {
    if (f()) return true;
    if (Clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// A field of /proc/<pid>/status ("Threads", "VmHWM" in kB), -1 when unreadable.
long proc_status(pid_t pid, const std::string& key) {
  try {  // the process may exit while it is read (libstdc++ throws ESRCH from the filebuf)
    std::ifstream f("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(f, line))
      if (line.rfind(key + ":", 0) == 0) return std::stol(line.substr(key.size() + 1));
  } catch (const std::exception&) {
  }
  return -1;
}

// The status line's code of a raw response ("HTTP/1.1 413 ..." → 413), 0 when there is none.
int raw_status(const std::string& resp) {
  if (resp.rfind("HTTP/1.1 ", 0) != 0 || resp.size() < 12) return 0;
  return std::atoi(resp.substr(9, 3).c_str());
}

std::string message_of(const HttpResult& r) {
  auto j = json::parse(r.body, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("message") || !j["message"].is_string())
    return "<no {\"message\"} in: " + r.body + ">";
  return j["message"];
}

std::vector<json> json_lines(const std::string& text) {
  std::vector<json> out;
  for (auto& l : split(text, '\n')) {
    auto j = json::parse(l, nullptr, false);
    if (!j.is_discarded()) out.push_back(j);
  }
  return out;
}

class RobustnessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root";
    if (!hoist::test::have_tool("docker")) GTEST_SKIP() << "docker CLI missing";
    start_daemon({});
  }
  void TearDown() override { stop_daemon(); }
  // A fresh private hoistd (after stopping and cleaning up the one before) with bb:1 imported.
  void start_daemon(const std::vector<std::string>& extra_args) {
    stop_daemon();
    std::vector<std::string> args = {"--cgroup-parent", cgroup_parent()};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    d_ = std::make_unique<Hoistd>(args);
    auto r = d_->docker({"import", hoist::test::fixtures_dir() + "/busybox-rootfs.tar", "bb:1"});
    ASSERT_EQ(r.code, 0) << r.err;
  }
  void stop_daemon() {
    if (!d_) return;
    if (HasFailure()) std::cerr << "---- hoistd log (tail) ----\n" << tail(d_->log(), 6000) << "\n";
    hoist::test::remove_all_containers(*d_);
    d_->stop();
    hoist::test::force_cleanup(*d_, cgroup_parent());
    d_.reset();
  }
  static std::string tail(const std::string& s, std::size_t n) { return s.size() > n ? s.substr(s.size() - n) : s; }

  HttpResult create(const std::string& name, const json& config) {
    return d_->http("POST", "/v1.43/containers/create" + (name.empty() ? "" : "?name=" + name), config.dump(),
                    {"Content-Type: application/json"});
  }
  std::string run_detached(const std::string& name, const std::string& script) {
    auto r = d_->docker({"run", "-d", "--name", name, "bb:1", "sh", "-c", script});
    EXPECT_EQ(r.code, 0) << r.err;
    return std::string(trim(r.out));
  }
  json inspect(const std::string& ref) {
    auto r = d_->http("GET", "/v1.43/containers/" + ref + "/json");
    return r.status == 200 ? json::parse(r.body) : json();
  }
  // The daemon is alive and quick to answer others: /_ping and docker ps within a few seconds.
  void expect_serving(const std::string& when) {
    SCOPED_TRACE(when);
    EXPECT_TRUE(d_->running()) << "hoistd died";
    auto t0 = Clock::now();
    auto ping = d_->http("GET", "/_ping", "", {}, 0, 5);
    EXPECT_EQ(ping.status, 200) << ping.error;
    EXPECT_EQ(ping.body, "OK");
    auto ps = d_->docker({"ps", "-a", "--format", "{{.Names}}"}, "", 10);
    EXPECT_EQ(ps.code, 0) << ps.err;
    EXPECT_LT(Clock::now() - t0, std::chrono::seconds(5));
  }
  // The daemon's thread count comes back to `base` (every connection's handler has ended).
  void expect_threads_back(long base, const std::string& when) {
    long now = 0;
    bool back = eventually([&] { return (now = proc_status(d_->pid(), "Threads")) <= base; }, 5000);
    EXPECT_TRUE(back) << when << ": hoistd has " << now << " threads, " << base << " before";
  }
  std::unique_ptr<hoist::test::TempDir> scratch_;  // outlives the daemon (a runtime wrapper lives here)
  std::unique_ptr<Hoistd> d_;
};

}  // namespace

// ---- 1. bad input -----------------------------------------------------------------------------

TEST_F(RobustnessTest, MalformedCreateBodiesAre400WithAMessage) {
  for (std::string body : {std::string("{\"Image\": \"bb:1\", "), std::string("[1,2]"), std::string("not json"),
                           std::string(""), std::string("{\"Image\": 7}")}) {
    auto r = d_->http("POST", "/v1.43/containers/create", body, {"Content-Type: application/json"});
    EXPECT_EQ(r.status, 400) << "body " << body << ": " << r.body;
    EXPECT_EQ(r.headers["content-type"], "application/json") << body;
    auto j = json::parse(r.body, nullptr, false);
    ASSERT_TRUE(j.is_object() && j.contains("message") && j["message"].is_string()) << r.body;
    EXPECT_FALSE(j["message"].get<std::string>().empty()) << body;
  }
  // dockerd: 400 "No command specified" for an image without Cmd and a config without one.
  auto r = create("", {{"Image", "bb:1"}});
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(message_of(r), "No command specified");
  // None of them made a container.
  EXPECT_EQ(trim(d_->docker({"ps", "-aq"}).out), "");
  expect_serving("after bad bodies");
}

TEST_F(RobustnessTest, UnknownContainerIs404NoSuchContainer) {
  const std::vector<std::pair<std::string, std::string>> calls = {
      {"GET", "/v1.43/containers/nosuch/json"},        {"POST", "/v1.43/containers/nosuch/start"},
      {"POST", "/v1.43/containers/nosuch/stop"},       {"POST", "/v1.43/containers/nosuch/restart"},
      {"POST", "/v1.43/containers/nosuch/kill"},       {"DELETE", "/v1.43/containers/nosuch"},
      {"DELETE", "/v1.43/containers/nosuch?force=1"},  {"GET", "/v1.43/containers/nosuch/logs?stdout=1"},
      {"POST", "/v1.43/containers/nosuch/wait"},       {"POST", "/v1.43/containers/nosuch/rename?name=x2"},
      {"GET", "/v1.43/containers/nosuch/top"},         {"POST", "/v1.43/containers/nosuch/pause"}};
  for (auto& [method, path] : calls) {
    auto r = d_->http(method, path);
    EXPECT_EQ(r.status, 404) << method << " " << path << ": " << r.body;
    // dockerd 20.10 says exactly this, except kill: "Cannot kill container: nosuch: No such container: nosuch".
    auto msg = message_of(r);
    EXPECT_TRUE(msg == "No such container: nosuch" || msg == "Cannot kill container: nosuch: No such container: nosuch")
        << method << " " << path << ": " << msg;
  }
  // What the CLI prints for them (dockerd's CLI output has the same lines).
  for (auto cmd : {"start", "stop", "kill", "rm", "logs", "restart"}) {
    auto r = d_->docker({cmd, "nosuch"});
    EXPECT_NE(r.code, 0) << cmd;
    EXPECT_NE(r.err.find("Error response from daemon: "), std::string::npos) << cmd << ": " << r.err;
    EXPECT_NE(r.err.find("No such container: nosuch"), std::string::npos) << cmd << ": " << r.err;
  }
  auto r = d_->docker({"inspect", "nosuch"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("No such object: nosuch"), std::string::npos) << r.err;
}

TEST_F(RobustnessTest, UnknownImageConflictingAndInvalidNames) {
  auto r = create("", {{"Image", "nosuch:2"}, {"Cmd", {"true"}}});
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_EQ(message_of(r), "No such image: nosuch:2");
  r = create("", {{"Image", "nosuch"}, {"Cmd", {"true"}}});
  EXPECT_EQ(r.status, 404) << r.body;
  // As dockerd: the name with the tag it stood for.
  EXPECT_EQ(message_of(r), "No such image: nosuch:latest") << r.body;

  auto first = create("web", {{"Image", "bb:1"}, {"Cmd", {"true"}}});
  ASSERT_EQ(first.status, 201) << first.body;
  std::string id = json::parse(first.body)["Id"];
  const std::string conflict = "Conflict. The container name \"/web\" is already in use by container \"" + id +
                               "\". You have to remove (or rename) that container to be able to reuse that name.";
  for (auto name : {"web", "/web"}) {
    r = create(name, {{"Image", "bb:1"}, {"Cmd", {"true"}}});
    EXPECT_EQ(r.status, 409) << name << ": " << r.body;
    EXPECT_EQ(message_of(r), conflict) << name;
  }
  auto cli = d_->docker({"run", "-d", "--name", "web", "bb:1", "true"});
  EXPECT_EQ(cli.code, 125);
  EXPECT_NE(cli.err.find("docker: Error response from daemon: " + conflict), std::string::npos) << cli.err;
  // Renaming onto a taken name is the same conflict.
  ASSERT_EQ(create("other", {{"Image", "bb:1"}, {"Cmd", {"true"}}}).status, 201);
  r = d_->http("POST", "/v1.43/containers/other/rename?name=web");
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(message_of(r), conflict);

  for (std::string bad : {"bad%20name", "a", "-lead", "x%2Fy", "%C3%A9t%C3%A9", "_x"}) {
    r = create(bad, {{"Image", "bb:1"}, {"Cmd", {"true"}}});
    EXPECT_EQ(r.status, 400) << bad << ": " << r.body;
    EXPECT_NE(message_of(r).find("Invalid container name ("), std::string::npos) << bad << ": " << r.body;
    EXPECT_NE(message_of(r).find("), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"), std::string::npos) << r.body;
  }
  r = create("bad%20name", {{"Image", "bb:1"}, {"Cmd", {"true"}}});
  EXPECT_EQ(message_of(r), "Invalid container name (bad name), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
  // Only the two good ones exist, each once.
  auto names = d_->docker({"ps", "-a", "--format", "{{.Names}}"});
  auto list = split(std::string(trim(names.out)), '\n');
  std::sort(list.begin(), list.end());
  EXPECT_EQ(list, (std::vector<std::string>{"other", "web"}));
  // A failed name does not stay reserved: the name is free again after the container goes.
  ASSERT_EQ(d_->docker({"rm", "web"}).code, 0);
  EXPECT_EQ(create("web", {{"Image", "bb:1"}, {"Cmd", {"true"}}}).status, 201);
}

TEST_F(RobustnessTest, BadArgumentsToARunningContainer) {
  run_detached("busy", "trap 'exit 0' TERM; while true; do sleep 0.1; done");
  // dockerd: 400 "Invalid signal: NOPE" (the container keeps running).
  auto r = d_->http("POST", "/v1.43/containers/busy/kill?signal=NOPE");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(message_of(r).find("NOPE"), std::string::npos) << r.body;
  r = d_->http("GET", "/v1.43/containers/busy/logs");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(message_of(r), "You must choose at least one stream");
  r = d_->http("POST", "/v1.43/containers/busy/stop?t=abc");
  EXPECT_EQ(r.status / 100, 4) << r.status << " " << r.body;  // a client error, not 500 (dockerd ≥ 23: 400)
  r = d_->http("GET", "/v1.43/containers/busy/logs?stdout=1&tail=lots");
  EXPECT_EQ(r.status / 100, 4) << r.status << " " << r.body;
  r = d_->http("DELETE", "/v1.43/containers/busy");
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_NE(message_of(r).find("You cannot remove a running container"), std::string::npos) << r.body;
  EXPECT_EQ(inspect("busy")["State"]["Running"], true);
  EXPECT_EQ(d_->docker({"stop", "-t", "5", "busy"}).code, 0);
  r = d_->http("POST", "/v1.43/containers/busy/kill");
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_NE(message_of(r).find("is not running"), std::string::npos) << r.body;
}

// ---- 2. misbehaving clients ---------------------------------------------------------------------

TEST_F(RobustnessTest, ClientsHangingUpMidStreamCostNothing) {
  run_detached("chatty", "i=0; while true; do echo line $i; i=$((i+1)); usleep 2000; done");
  run_detached("quiet", "trap 'exit 0' TERM; while true; do sleep 0.1; done");
  ASSERT_TRUE(eventually([&] { return !d_->docker({"logs", "chatty"}).out.empty(); }));
  long base = proc_status(d_->pid(), "Threads");
  ASSERT_GT(base, 0);
  // Follow the logs of a container printing all the time; hang up after a few bytes, many times over.
  std::vector<std::thread> ts;
  std::atomic<int> got{0};
  for (int i = 0; i < 8; ++i)
    ts.emplace_back([&] {
      auto r = d_->http("GET", "/v1.43/containers/chatty/logs?follow=1&stdout=1&stderr=1", "", {}, 64, 20);
      if (r.status == 200 && r.body.size() >= 64) ++got;
    });
  for (auto& t : ts) t.join();
  ts.clear();
  EXPECT_EQ(got, 8);
  expect_serving("after followers of a busy log hung up");
  expect_threads_back(base, "followers of a busy log");
  // The same on a container that prints nothing: the daemon notices the hang-up by itself.
  for (int i = 0; i < 8; ++i) {
    int fd = hoist::test::connect_unix(d_->socket());
    ASSERT_GE(fd, 0);
    std::string req = "GET /v1.43/containers/quiet/logs?follow=1&stdout=1 HTTP/1.1\r\nHost: x\r\n\r\n";
    ASSERT_EQ(::send(fd, req.data(), req.size(), MSG_NOSIGNAL), ssize_t(req.size()));
    char buf[512];
    EXPECT_GT(::recv(fd, buf, sizeof buf, 0), 0);  // the response head
    ::close(fd);
  }
  expect_serving("after followers of a quiet log hung up");
  expect_threads_back(base, "followers of a quiet log");
  // Events streams cut after a few bytes (of the past events they start with).
  auto since = std::to_string(std::time(nullptr) - 60);
  for (int i = 0; i < 5; ++i) ASSERT_EQ(d_->docker({"tag", "bb:1", "bb:t" + std::to_string(i)}).code, 0);
  for (int i = 0; i < 5; ++i) {
    auto r = d_->http("GET", "/v1.43/events?since=" + since, "", {}, 16, 20);
    EXPECT_EQ(r.status, 200) << r.error;
    EXPECT_GE(r.body.size(), 16u);
  }
  expect_serving("after events streams hung up");
  expect_threads_back(base, "events streams");
  // The chatty container is still logged to.
  auto n1 = d_->docker({"logs", "chatty"}).out.size();
  EXPECT_TRUE(eventually([&] { return d_->docker({"logs", "chatty"}).out.size() > n1; }));
}

TEST_F(RobustnessTest, HugeBodiesAreRefusedWithoutMemoryGrowth) {
  const std::size_t huge = 200u << 20;
  long hwm0 = proc_status(d_->pid(), "VmHWM");
  ASSERT_GT(hwm0, 0);
  // 200 MB of JSON-ish junk through libcurl (Content-Length): 413 before or while it is sent, or the
  // connection is closed on the sender; never a daemon that reads it all.
  {
    std::string body = "{\"Image\":\"bb:1\",\"Cmd\":[\"true\"],\"Labels\":{\"x\":\"" + std::string(huge, 'x') + "\"}}";
    auto r = d_->http("POST", "/v1.43/containers/create", body, {"Content-Type: application/json"}, 0, 60);
    EXPECT_TRUE(r.status == 413 || r.status == 0) << r.status << " " << r.body;
    if (r.status == 413) {
      EXPECT_NE(message_of(r).find("too large"), std::string::npos) << r.body;
    }
  }
  expect_serving("after a 200 MB body with Content-Length");
  // The same without a length (chunked), written from a raw socket.
  {
    int fd = hoist::test::connect_unix(d_->socket());
    ASSERT_GE(fd, 0);
    std::string head =
        "POST /v1.43/containers/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n";
    ::send(fd, head.data(), head.size(), MSG_NOSIGNAL);
    std::string chunk(1 << 20, 'y');
    char hex[32];
    std::snprintf(hex, sizeof hex, "%zx\r\n", chunk.size());
    std::string framed = hex + chunk + "\r\n";
    std::size_t sent = 0;
    while (sent < huge) {
      auto n = ::send(fd, framed.data(), framed.size(), MSG_NOSIGNAL);
      if (n < 0) break;  // the daemon answered and closed
      sent += chunk.size();
    }
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[4096];
    auto n = ::recv(fd, buf, sizeof buf, 0);
    std::string resp = n > 0 ? std::string(buf, std::size_t(n)) : "";
    ::close(fd);
    EXPECT_LT(sent, huge) << "the daemon read the whole 200 MB";
    if (!resp.empty()) {
      EXPECT_EQ(raw_status(resp), 413) << resp;
    }
  }
  expect_serving("after a 200 MB chunked body");
  // A length announced far beyond the limit: refused at once, nothing read.
  auto resp = hoist::test::raw_http(d_->socket(),
                                    "POST /v1.43/containers/create HTTP/1.1\r\nHost: x\r\nContent-Type: "
                                    "application/json\r\nContent-Length: 209715200\r\n\r\n{\"Ima");
  EXPECT_EQ(raw_status(resp), 413) << resp;
  long hwm1 = proc_status(d_->pid(), "VmHWM");
  EXPECT_LT(hwm1 - hwm0, 64 * 1024) << "hoistd's peak RSS grew from " << hwm0 << " kB to " << hwm1 << " kB";
  // Nothing was created, and a normal create still works.
  EXPECT_EQ(trim(d_->docker({"ps", "-aq"}).out), "");
  EXPECT_EQ(create("after", {{"Image", "bb:1"}, {"Cmd", {"true"}}}).status, 201);
}

// An error answered before the body is read (import's --change is checked first, as dockerd
// does) reaches a client that is still sending a large body: the daemon must not reset the
// connection under it, which would drop the answer on the client's side ("broken pipe").
TEST_F(RobustnessTest, AnEarlyErrorReachesAClientStillSendingItsBody) {
  for (int round = 0; round < 5; ++round) {
    int fd = hoist::test::connect_unix(d_->socket());
    ASSERT_GE(fd, 0);
    const std::size_t body = 16u << 20;
    std::string head = "POST /v1.43/images/create?fromSrc=-&repo=early&changes=RUN+echo HTTP/1.1\r\nHost: x\r\n"
                       "Content-Type: application/x-tar\r\nContent-Length: " + std::to_string(body) + "\r\n\r\n";
    ASSERT_EQ(::send(fd, head.data(), head.size(), MSG_NOSIGNAL), static_cast<ssize_t>(head.size()));
    std::thread writer([fd, body] {
      std::string chunk(64 << 10, '\0');
      for (std::size_t sent = 0; sent < body; sent += chunk.size())
        if (::send(fd, chunk.data(), chunk.size(), MSG_NOSIGNAL) < 0) return;  // the daemon closed
    });
    timeval tv{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::string resp;
    char buf[4096];
    for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) resp.append(buf, static_cast<std::size_t>(n));
    ::shutdown(fd, SHUT_RDWR);  // ends the writer's send if it still blocks
    writer.join();
    ::close(fd);
    EXPECT_EQ(raw_status(resp), 400) << "round " << round << ": " << resp;
    EXPECT_NE(resp.find("run is not a valid change command"), std::string::npos) << resp;
  }
  expect_serving("after early errors");
}

TEST_F(RobustnessTest, SlowClientsDoNotBlockOthers) {
  // Clients that send part of a request and then sit there: half a head, a head with half its body.
  std::vector<int> fds;
  const std::vector<std::string> partial = {
      "GET /_ping HTTP/1.1\r\nHo",
      "POST /v1.43/containers/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
      "100\r\n\r\n{\"Ima",
      "POST /v1.43/containers/create?name=slow HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n{\"Im",
      "G"};
  for (int i = 0; i < 4; ++i)
    for (auto& p : partial) {
      int fd = hoist::test::connect_unix(d_->socket());
      ASSERT_GE(fd, 0);
      ASSERT_EQ(::send(fd, p.data(), p.size(), MSG_NOSIGNAL), ssize_t(p.size()));
      fds.push_back(fd);
    }
  // A connection that never says anything.
  fds.push_back(hoist::test::connect_unix(d_->socket()));
  expect_serving("with 17 stalled clients");
  // A whole container life goes through meanwhile.
  auto r = d_->docker({"run", "--rm", "bb:1", "echo", "still here"}, "", 30);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "still here\n");
  for (int fd : fds) ::close(fd);
  expect_serving("after the stalled clients left");
  EXPECT_EQ(d_->http("GET", "/v1.43/containers/slow/json").status, 404) << "a half-sent create made a container";
}

TEST_F(RobustnessTest, ThousandsOfIdleConnectionsDoNotLockOthersOut) {
  // Idle connections cost the daemon an fd each, not a thread; half-sent request heads are closed
  // after the header timeout (2 s here; 30 s by default).
  start_daemon({"--http-header-timeout", "2"});
  const int idle = 2000, stalled = 50, streams = 3;
  rlimit nofile{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &nofile), 0);
  if (nofile.rlim_cur < rlim_t(idle + stalled + 500)) {
    if (nofile.rlim_max < rlim_t(idle + stalled + 500)) GTEST_SKIP() << "RLIMIT_NOFILE hard limit too low";
    nofile.rlim_cur = nofile.rlim_max;
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &nofile), 0);
  }
  long base = proc_status(d_->pid(), "Threads");
  ASSERT_GT(base, 0);
  struct Fds {
    std::vector<int> v;
    ~Fds() {
      for (int fd : v) ::close(fd);
    }
  } idle_fds, stalled_fds, stream_fds;
  // Keep-alive connections that made a request and wait (half of them), and connections that never
  // said anything (the other half).
  for (int i = 0; i < idle; ++i) {
    int fd = hoist::test::connect_unix(d_->socket());
    ASSERT_GE(fd, 0) << "connection " << i << ": " << std::strerror(errno);
    idle_fds.v.push_back(fd);
    if (i % 2 == 0) {
      auto resp = hoist::test::raw_http_on(fd, "GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n", 5000);
      ASSERT_EQ(raw_status(resp), 200) << "connection " << i << ": " << resp;
    }
  }
  // A new connection in `fds` that has sent `data`; -1 when that failed.
  auto open_sending = [&](Fds& fds, const std::string& data) {
    int fd = hoist::test::connect_unix(d_->socket());
    if (fd < 0) return -1;
    fds.v.push_back(fd);
    return ::send(fd, data.data(), data.size(), MSG_NOSIGNAL) == ssize_t(data.size()) ? fd : -1;
  };
  for (int i = 0; i < stalled; ++i)
    ASSERT_GE(open_sending(stalled_fds, "GET /v1.43/containers/json HTTP/1.1\r\nHost: x\r\nX-Slow: "), 0);
  auto stalled_at = Clock::now();
  for (int i = 0; i < streams; ++i) {
    int fd = open_sending(stream_fds, "GET /v1.43/events HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_GE(fd, 0);
    char buf[512];
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ASSERT_GT(::recv(fd, buf, sizeof buf, 0), 0);  // the response head
  }
  // /_ping and a container list answer at once, every time.
  for (int i = 0; i < 10; ++i) {
    auto t0 = Clock::now();
    auto ping = d_->http("GET", "/_ping", "", {}, 0, 5);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
    EXPECT_EQ(ping.status, 200) << ping.error;
    EXPECT_LT(ms, 200) << "ping " << i << " took " << ms << " ms";
    t0 = Clock::now();
    auto list = d_->http("GET", "/v1.43/containers/json?all=1", "", {}, 0, 5);
    ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
    EXPECT_EQ(list.status, 200) << list.error;
    EXPECT_LT(ms, 200) << "container list " << i << " took " << ms << " ms";
  }
  expect_serving("with " + std::to_string(idle + stalled + streams) + " connections open");
  long threads = proc_status(d_->pid(), "Threads");
  EXPECT_LT(threads, base + 50) << "hoistd has " << threads << " threads with " << idle << " idle connections";
  // The stalled heads are closed after the header timeout, not before it; idle connections stay.
  auto closed = [](int fd) {
    char c;
    return ::recv(fd, &c, 1, MSG_DONTWAIT) == 0;
  };
  EXPECT_FALSE(closed(stalled_fds.v.front())) << "a stalled head was closed before its timeout";
  bool all_closed = eventually(
      [&] { return std::all_of(stalled_fds.v.begin(), stalled_fds.v.end(), closed); }, 8000);
  EXPECT_TRUE(all_closed) << "stalled request heads still open after "
                          << std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - stalled_at).count() << " s";
  EXPECT_GE(Clock::now() - stalled_at, std::chrono::milliseconds(1900));
  for (int i : {0, 1, idle / 2, idle - 1}) {
    int fd = idle_fds.v[std::size_t(i)];
    EXPECT_FALSE(closed(fd)) << "idle connection " << i << " was closed";
    auto resp = hoist::test::raw_http_on(fd, "GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n", 5000);
    EXPECT_EQ(raw_status(resp), 200) << "idle connection " << i << ": " << resp;
  }
  // The event streams still get events.
  ASSERT_EQ(d_->docker({"tag", "bb:1", "bb:idle"}).code, 0);
  for (int fd : stream_fds.v) {
    std::string got;
    char buf[4096];
    while (got.find("\"tag\"") == std::string::npos) {
      auto n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      got.append(buf, std::size_t(n));
    }
    EXPECT_NE(got.find("\"tag\""), std::string::npos) << "an events stream got: " << got;
  }
  // All gone: the daemon's threads come back down.
  for (auto* fds : {&idle_fds, &stalled_fds, &stream_fds}) {
    for (int fd : fds->v) ::close(fd);
    fds->v.clear();
  }
  expect_serving("after the connections closed");
  expect_threads_back(base, "thousands of connections");
}

// ---- 3. events ------------------------------------------------------------------------------------

TEST_F(RobustnessTest, ContainerEventsArriveInOrderAndFilter) {
  // A live stream of container events, read from a raw socket while the container lives and goes.
  int fd = hoist::test::connect_unix(d_->socket());
  ASSERT_GE(fd, 0);
  std::string req = "GET /v1.43/events?filters=" + std::string("%7B%22type%22%3A%5B%22container%22%5D%7D") +
                    " HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(::send(fd, req.data(), req.size(), MSG_NOSIGNAL), ssize_t(req.size()));
  std::string streamed;
  std::mutex mu;
  std::atomic<bool> stop_reading{false};
  std::thread reader([&] {
    timeval tv{0, 200000};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[4096];
    while (!stop_reading) {
      auto n = ::recv(fd, buf, sizeof buf, 0);
      if (n == 0) break;
      if (n > 0) {
        std::lock_guard lk(mu);
        streamed.append(buf, std::size_t(n));
      }
    }
  });
  struct Closer {
    std::atomic<bool>& stop;
    std::thread& t;
    int fd;
    ~Closer() {
      stop = true;
      if (t.joinable()) t.join();
      ::close(fd);
    }
  } closer{stop_reading, reader, fd};
  // The stream's head is out before anything happens (so nothing below can be missed).
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lk(mu);
    return streamed.find("\r\n\r\n") != std::string::npos;
  }));
  auto t0 = std::to_string(std::time(nullptr) - 1);
  auto r = d_->docker({"run", "-d", "--name", "ev1", "bb:1", "sh", "-c", "exit 3"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::string id(trim(r.out));
  EXPECT_EQ(trim(d_->docker({"wait", "ev1"}).out), "3");
  ASSERT_EQ(d_->docker({"rm", "ev1"}).code, 0);
  ASSERT_EQ(d_->docker({"tag", "bb:1", "bb:ev"}).code, 0);  // an image event: not in a type=container view
  run_detached("ev2", "trap 'exit 0' TERM; while true; do sleep 0.1; done");
  ASSERT_EQ(d_->docker({"stop", "ev2"}).code, 0);

  auto check_sequence = [&](const std::vector<json>& events, const std::string& what) {
    SCOPED_TRACE(what);
    std::vector<std::string> actions;
    std::int64_t last_time = 0;
    for (auto& e : events) {
      if (e.value("id", "") != id) continue;
      EXPECT_EQ(e["Type"], "container");
      EXPECT_EQ(e["Actor"]["ID"], id);
      EXPECT_EQ(e["status"], e["Action"]);
      EXPECT_EQ(e["from"], "bb:1");
      EXPECT_EQ(e["Actor"]["Attributes"]["name"], "ev1");
      EXPECT_EQ(e["Actor"]["Attributes"]["image"], "bb:1");
      EXPECT_GE(e["timeNano"].get<std::int64_t>(), last_time);
      EXPECT_EQ(e["time"].get<std::int64_t>(), e["timeNano"].get<std::int64_t>() / 1000000000);
      last_time = e["timeNano"];
      actions.push_back(e["Action"]);
      if (e["Action"] == "die") {
        EXPECT_EQ(e["Actor"]["Attributes"]["exitCode"], "3");
      }
    }
    // dockerd's docker run -d gives create, start, die, destroy for this (plus network events).
    EXPECT_EQ(actions, (std::vector<std::string>{"create", "start", "die", "destroy"}));
  };
  // The live stream got them as they happened, and nothing but container events.
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lk(mu);
    return streamed.find("\"stop\"") != std::string::npos;
  }, 10000)) << streamed;
  std::vector<json> live;
  {
    std::lock_guard lk(mu);
    // Chunked framing: the JSON objects are whole lines between the chunk-size lines.
    for (auto& l : split(streamed.substr(streamed.find("\r\n\r\n") + 4), '\n')) {
      auto j = json::parse(trim(l), nullptr, false);
      if (!j.is_discarded() && j.is_object()) live.push_back(j);
    }
  }
  check_sequence(live, "live stream");
  for (auto& e : live) EXPECT_EQ(e["Type"], "container") << e.dump();
  std::vector<std::string> ev2;
  for (auto& e : live)
    if (e["Actor"]["Attributes"].value("name", "") == "ev2") ev2.push_back(e["Action"]);
  // As dockerd: a docker stop sends the stop signal ("kill", signal 15), then "die", then "stop".
  EXPECT_EQ(ev2, (std::vector<std::string>{"create", "start", "kill", "die", "stop"}));
  for (auto& e : live)
    if (e["Actor"]["Attributes"].value("name", "") == "ev2" && e["Action"] == "kill") {
      EXPECT_EQ(e["Actor"]["Attributes"].value("signal", ""), "15") << e.dump();
    }

  // The same from history: docker events --since/--until.
  auto t1 = std::to_string(std::time(nullptr) + 1);
  auto hist = d_->docker({"events", "--since", t0, "--until", t1, "--format", "{{json .}}"}, "", 30);
  ASSERT_EQ(hist.code, 0) << hist.err;
  auto all = json_lines(hist.out);
  check_sequence(all, "docker events --since --until");
  bool saw_image = false;
  for (auto& e : all) saw_image |= e["Type"] == "image" && e["Action"] == "tag";
  EXPECT_TRUE(saw_image) << hist.out;

  auto filtered = [&](std::vector<std::string> filters) {
    std::vector<std::string> args = {"events", "--since", t0, "--until", t1, "--format", "{{json .}}"};
    for (auto& f : filters) args.insert(args.end(), {"--filter", f});
    auto h = d_->docker(args, "", 30);
    EXPECT_EQ(h.code, 0) << h.err;
    return json_lines(h.out);
  };
  auto only_containers = filtered({"type=container"});
  check_sequence(only_containers, "type=container");
  for (auto& e : only_containers) EXPECT_EQ(e["Type"], "container") << e.dump();
  auto images = filtered({"type=image"});
  ASSERT_FALSE(images.empty());
  for (auto& e : images) EXPECT_EQ(e["Type"], "image") << e.dump();
  auto ev1 = filtered({"container=ev1"});
  check_sequence(ev1, "container=ev1");
  for (auto& e : ev1) EXPECT_EQ(e["Actor"]["Attributes"]["name"], "ev1") << e.dump();
  auto by_id = filtered({"container=" + id.substr(0, 12)});
  check_sequence(by_id, "container=<short id>");
  EXPECT_EQ(by_id.size(), 4u);
  auto starts = filtered({"event=start"});
  ASSERT_EQ(starts.size(), 2u) << hist.out;
  for (auto& e : starts) EXPECT_EQ(e["Action"], "start");
  EXPECT_EQ(starts[0]["Actor"]["Attributes"]["name"], "ev1");
  EXPECT_EQ(starts[1]["Actor"]["Attributes"]["name"], "ev2");
  auto both = filtered({"event=die", "container=ev2"});
  ASSERT_EQ(both.size(), 1u);
  EXPECT_EQ(both[0]["Actor"]["Attributes"]["exitCode"], "0");
  // --until in the past: the stream ends by itself, at once.
  auto t_start = Clock::now();
  auto past = d_->docker({"events", "--since", t0, "--until", t0, "--format", "{{json .}}"}, "", 10);
  EXPECT_EQ(past.code, 0) << past.err;
  EXPECT_LT(Clock::now() - t_start, std::chrono::seconds(5));
}

TEST_F(RobustnessTest, StopEventsComeAfterDie) {
  // dockerd: kill, die, stop, for every container of a docker stop. Several at once, so that a
  // "stop" sent before the container's "die" has its chance to show.
  std::vector<std::string> names;
  for (int i = 0; i < 6; ++i) {
    names.push_back("st" + std::to_string(i));
    run_detached(names.back(), "trap 'exit 0' TERM; while true; do sleep 0.1; done");
  }
  auto t0 = std::to_string(std::time(nullptr) - 1);
  std::vector<std::string> stop = {"stop", "-t", "5"};
  stop.insert(stop.end(), names.begin(), names.end());
  auto r = d_->docker(stop);
  ASSERT_EQ(r.code, 0) << r.err;
  auto hist = d_->docker({"events", "--since", t0, "--until", std::to_string(std::time(nullptr) + 1), "--filter",
                          "event=kill", "--filter", "event=die", "--filter", "event=stop", "--format", "{{json .}}"},
                         "", 30);
  ASSERT_EQ(hist.code, 0) << hist.err;
  std::map<std::string, std::vector<std::string>> seq;
  for (auto& e : json_lines(hist.out)) seq[e["Actor"]["Attributes"]["name"]].push_back(e["Action"]);
  for (auto& n : names) EXPECT_EQ(seq[n], (std::vector<std::string>{"kill", "die", "stop"})) << n;
}

// ---- 4. crash safety ----------------------------------------------------------------------------

TEST_F(RobustnessTest, KillNineAtRandomPointsLosesNothingAcknowledged) {
  const unsigned seed = 20261123;
  std::mt19937 rng(seed);
  SCOPED_TRACE("seed " + std::to_string(seed));
  const json loop = {{"Image", "bb:1"}, {"Cmd", {"sh", "-c", "trap 'exit 42' TERM; while true; do sleep 0.1; done"}}};

  // What the API acknowledged: name → id; and which of them it reported started.
  std::mutex mu;
  std::map<std::string, std::string> acked;
  std::set<std::string> started;
  auto create_acked = [&](const std::string& name) {
    auto r = create(name, loop);
    if (r.status == 201) {
      std::lock_guard lk(mu);
      acked[name] = json::parse(r.body)["Id"];
    }
    return r.status;
  };
  auto start_acked = [&](const std::string& name) {
    auto r = d_->http("POST", "/v1.43/containers/" + name + "/start", "", {}, 0, 30);
    if (r.status == 204) {
      std::lock_guard lk(mu);
      started.insert(name);
    }
  };

  // A container that keeps running through everything, one that exits while the daemon is down.
  ASSERT_EQ(create_acked("keeper"), 201);
  start_acked("keeper");
  ASSERT_EQ(create_acked("leaver"), 201);
  start_acked("leaver");
  ASSERT_EQ(started.size(), 2u);
  int keeper_pid = inspect("keeper")["State"]["Pid"];
  int leaver_pid = inspect("leaver")["State"]["Pid"];
  ASSERT_GT(keeper_pid, 0);
  ASSERT_GT(leaver_pid, 0);

  // Removals the API acknowledged; removals in flight at a kill (either outcome is right for those);
  // starts in flight at a kill.
  std::set<std::string> removed, maybe_removed, start_cut;

  auto t_begin = Clock::now();
  for (int round = 0; round < 12; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    // 0: during creates, 1: during starts, 2: with containers running, idle, 3: during rm -f
    int kind = round % 4;
    int delay_ms = std::uniform_int_distribution<int>(0, 250)(rng);
    std::vector<std::thread> workers;
    std::atomic<bool> halt{false};
    if (kind == 0) {
      for (int w = 0; w < 3; ++w)
        workers.emplace_back([&, w] {
          for (int i = 0; !halt && i < 25; ++i)
            if (create_acked("r" + std::to_string(round) + "w" + std::to_string(w) + "n" + std::to_string(i)) == 0)
              break;  // the daemon is gone
        });
    } else if (kind == 1) {
      std::vector<std::string> to_start;
      {
        std::lock_guard lk(mu);
        for (auto& [name, id] : acked)
          if (!started.count(name) && !start_cut.count(name) && to_start.size() < 6) to_start.push_back(name);
      }
      for (auto& name : to_start) workers.emplace_back([&, name] {
          start_acked(name);
          std::lock_guard lk(mu);
          if (!started.count(name)) start_cut.insert(name);
        });
    } else if (kind == 3) {
      std::vector<std::string> to_remove;
      {
        std::lock_guard lk(mu);
        for (auto& name : started)
          if (name != "keeper" && name != "leaver" && to_remove.size() < 4) to_remove.push_back(name);
        for (auto& [name, id] : acked)
          if (!started.count(name) && !start_cut.count(name) && to_remove.size() < 6) to_remove.push_back(name);
        for (auto& name : to_remove) {
          acked.erase(name);
          started.erase(name);
          maybe_removed.insert(name);
        }
      }
      for (auto& name : to_remove)
        workers.emplace_back([&, name] {
          auto r = d_->http("DELETE", "/v1.43/containers/" + name + "?force=1", "", {}, 0, 30);
          if (r.status == 204) {
            std::lock_guard lk(mu);
            removed.insert(name);
          }
        });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    d_->kill9();
    halt = true;
    for (auto& t : workers) t.join();
    if (round == 2) {
      // While the daemon is down, "leaver" is asked to go (exit 42).
      ASSERT_EQ(::kill(leaver_pid, SIGTERM), 0);
      ASSERT_TRUE(eventually([&] { return ::kill(leaver_pid, 0) != 0; }));
    }
    ASSERT_NO_THROW(d_->restart());

    // Every acknowledged container is there, under its name, once.
    auto list = d_->http("GET", "/v1.43/containers/json?all=1");
    ASSERT_EQ(list.status, 200) << list.body;
    std::map<std::string, json> by_name;
    std::set<std::string> ids;
    for (auto& c : json::parse(list.body)) {
      std::string name = c["Names"][0].get<std::string>().substr(1);
      EXPECT_FALSE(by_name.count(name)) << "name listed twice: " << name;
      by_name[name] = c;
      EXPECT_TRUE(ids.insert(c["Id"].get<std::string>()).second) << "id listed twice: " << c["Id"];
    }
    std::lock_guard lk(mu);
    for (auto& [name, id] : acked) {
      ASSERT_TRUE(by_name.count(name)) << "acknowledged container " << name << " is gone";
      EXPECT_EQ(by_name[name]["Id"], id) << name;
      auto st = inspect(id);
      EXPECT_EQ(st["Name"], "/" + name);
      if (name == "leaver" && round >= 2) {
        EXPECT_EQ(st["State"]["Status"], "exited") << name;
        EXPECT_EQ(st["State"]["ExitCode"], 42) << name;
      } else if (started.count(name)) {
        EXPECT_EQ(st["State"]["Status"], "running") << name << ": " << st["State"].dump();
      } else {
        // Not acknowledged as started: it may have started or not, but it is one or the other.
        auto s = st["State"]["Status"].get<std::string>();
        EXPECT_TRUE(s == "created" || s == "running") << name << ": " << st["State"].dump();
      }
    }
    for (auto& name : removed) EXPECT_FALSE(by_name.count(name)) << "removed container " << name << " is back";
    for (auto& name : maybe_removed) {
      if (!by_name.count(name)) continue;  // it went before the kill
      auto s = inspect(name)["State"]["Status"];
      EXPECT_TRUE(s == "created" || s == "running" || s == "exited") << name << ": " << s;
    }
    EXPECT_EQ(inspect("keeper")["State"]["Pid"], keeper_pid);
    EXPECT_EQ(::kill(keeper_pid, 0), 0) << "the keeper died with the daemon";
  }
  std::cerr << "[ crash rounds took "
            << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t_begin).count() << " ms, "
            << acked.size() << " containers acknowledged, " << removed.size() << " removals ]\n";

  // Containers whose start was cut short, and a few never started, start now (or run already).
  std::vector<std::string> to_start(start_cut.begin(), start_cut.end());
  for (auto& [name, id] : acked)
    if (!start_cut.count(name) && inspect(id)["State"]["Status"] == "created" && to_start.size() < start_cut.size() + 3)
      to_start.push_back(name);
  EXPECT_FALSE(start_cut.empty()) << "no kill landed during a start (seed " << seed << ")";
  for (auto& name : to_start) {
    auto r = d_->http("POST", "/v1.43/containers/" + name + "/start", "", {}, 0, 30);
    EXPECT_TRUE(r.status == 204 || r.status == 304) << name << ": " << r.status << " " << r.body;
    EXPECT_EQ(inspect(name)["State"]["Running"], true) << name;
  }
  // A name taken before the crashes stays taken.
  EXPECT_EQ(create("keeper", loop).status, 409);
  // The container that was running all along still answers to stop, with its own exit code.
  auto stop = d_->docker({"stop", "-t", "5", "keeper"});
  EXPECT_EQ(stop.code, 0) << stop.err;
  EXPECT_EQ(inspect("keeper")["State"]["ExitCode"], 42);

  // docker rm -f of everything works, and leaves nothing behind (of what running containers have).
  auto running = hoist::test::leftovers(*d_, cgroup_parent());
  EXPECT_FALSE(running.mounts.empty() || running.shims.empty() || running.cgroups.empty()) << running.describe();
  auto all = d_->docker({"ps", "-aq"});
  std::vector<std::string> rm = {"rm", "-f"};
  for (auto& id : split(std::string(trim(all.out)), '\n'))
    if (!id.empty()) rm.push_back(id);
  auto r = d_->docker(rm, "", 120);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(trim(d_->docker({"ps", "-aq"}).out), "");
  hoist::test::Leftovers left;
  bool clean = eventually([&] { return (left = hoist::test::leftovers(*d_, cgroup_parent())).empty(); }, 5000);
  EXPECT_TRUE(clean) << "left behind:\n" << left.describe();
  std::error_code ec;
  EXPECT_TRUE(fs::is_empty(d_->data_root() + "/containers", ec)) << "container dirs left in the data root";
}

TEST_F(RobustnessTest, StartInterruptedByADaemonCrashCanBeRetried) {
  // A runtime whose "start" (or "run", create and start in one) waits for a go-ahead: hoistd is
  // killed while a start is in flight.
  scratch_ = std::make_unique<hoist::test::TempDir>("hoist-robust-rt");
  auto& rt_dir = *scratch_;
  std::string wrapper = rt_dir.path() + "/runtime";
  std::ofstream(wrapper) << "#!/bin/sh\n"
                         << "for a in \"$@\"; do if [ \"$a\" = start ] || [ \"$a\" = run ]; then touch " << rt_dir.path()
                         << "/start-called; while [ ! -e " << rt_dir.path() << "/release ]; do sleep 0.05; done; fi; done\n"
                         << "exec " << HOIST_RUNTIME_BIN << " \"$@\"\n";
  fs::permissions(wrapper, fs::perms::owner_all);
  start_daemon({"--runtime", wrapper});
  auto r = d_->docker({"create", "--name", "held", "bb:1", "sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.1; done"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::thread start([&] { d_->http("POST", "/v1.43/containers/held/start", "", {}, 0, 30); });
  bool called = eventually([&] { return fs::exists(rt_dir.path() + "/start-called"); }, 10000);
  if (called) d_->kill9();
  std::ofstream(rt_dir.path() + "/release") << "go\n";
  start.join();
  ASSERT_TRUE(called) << "the runtime's start was never called";
  ASSERT_NO_THROW(d_->restart());
  // Whatever hoistd makes of the interrupted start, the user can start the container now, and it runs.
  auto st = inspect("held");
  ASSERT_TRUE(st.is_object());
  std::string status = st["State"]["Status"];
  EXPECT_TRUE(status == "created" || status == "running" || status == "exited") << st["State"].dump();
  auto again = d_->http("POST", "/v1.43/containers/held/start", "", {}, 0, 30);
  EXPECT_TRUE(again.status == 204 || again.status == 304) << again.status << " " << again.body;
  EXPECT_EQ(inspect("held")["State"]["Status"], "running");
  EXPECT_EQ(d_->docker({"stop", "-t", "5", "held"}).code, 0);
  EXPECT_EQ(d_->docker({"rm", "-f", "held"}).code, 0);
  hoist::test::Leftovers left;
  bool clean = eventually([&] { return (left = hoist::test::leftovers(*d_, cgroup_parent())).empty(); }, 5000);
  EXPECT_TRUE(clean) << "left behind:\n" << left.describe();
}

// ---- 5. docker-py ---------------------------------------------------------------------------------

TEST_F(RobustnessTest, DockerPyContainerScenarios) {
  if (run_cmd({"python3", "-c", "import docker"}).code != 0) GTEST_SKIP() << "python3-docker missing";
  auto r = d_->python(R"PY(
import os, docker
c = docker.DockerClient(base_url=os.environ['HOIST_HOST'])
out = c.containers.run('bb:1', ['sh', '-c', 'echo hello; echo to-stderr >&2'], remove=True)
print('run', repr(out))
ct = c.containers.run('bb:1', ['sh', '-c', 'echo one; echo two >&2; exit 0'], detach=True, name='py-det')
print('wait', ct.wait(timeout=30)['StatusCode'])
print('logs', repr(ct.logs()), repr(ct.logs(stdout=False)))
ct.reload()
print('state', ct.status, ct.attrs['State']['ExitCode'], ct.attrs['State']['Running'])
ct.remove()
try:
    c.containers.run('bb:1', ['sh', '-c', 'echo bad >&2; exit 5'], name='py-fail')
except docker.errors.ContainerError as e:
    print('failed', e.exit_status, repr(e.stderr))
print('failstate', c.containers.get('py-fail').attrs['State']['ExitCode'])
a = c.containers.run('bb:1', ['sleep', '300'], detach=True, name='py-run', labels={'k': 'v'})
b = c.containers.create('bb:1', ['true'], name='py-created')
print('list', sorted(x.name for x in c.containers.list()))
print('all', sorted(x.name for x in c.containers.list(all=True)))
print('created', sorted(x.name for x in c.containers.list(all=True, filters={'status': 'created'})))
print('exited', sorted(x.name for x in c.containers.list(all=True, filters={'exited': 5})))
print('label', sorted(x.name for x in c.containers.list(filters={'label': 'k=v'})))
print('name', sorted(x.name for x in c.containers.list(all=True, filters={'name': 'py-cr'})))
a.reload()
print('attrs', a.status, a.attrs['State']['Running'], a.attrs['State']['Pid'] > 0, a.attrs['Config']['Labels'])
a.kill()
print('killed', a.wait(timeout=30)['StatusCode'])
a.reload()
print('after', a.status, a.attrs['State']['ExitCode'])
for x in c.containers.list(all=True):
    x.remove(force=True)
try:
    c.containers.get('py-run')
except docker.errors.NotFound as e:
    print('gone', e.explanation)
print('left', c.containers.list(all=True))
)PY",
                        120);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  const std::string expected =
      "run b'hello\\n'\n"
      "wait 0\n"
      "logs b'one\\ntwo\\n' b'two\\n'\n"
      "state exited 0 False\n"
      "failed 5 b'bad\\n'\n"
      "failstate 5\n"
      "list ['py-run']\n"
      "all ['py-created', 'py-fail', 'py-run']\n"
      "created ['py-created']\n"
      "exited ['py-fail']\n"
      "label ['py-run']\n"
      "name ['py-created']\n"
      "attrs running True True {'k': 'v'}\n"
      "killed 137\n"
      "after exited 137\n"
      "gone No such container: py-run\n"
      "left []\n";
  EXPECT_EQ(r.out, expected) << r.err;
}
