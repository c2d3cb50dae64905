// Real registries for the tests: a docker-registry (Docker distribution) on a free 127.0.0.1 port,
// plain, TLS, htpasswd or token auth, and a fault-injecting proxy in front of one.
//
//   hoist::test::LocalRegistry reg(LocalRegistry::Mode::Token);
//   hoist::image::Registry client(reg.host(), reg.settings());
//   client.set_credentials(reg.credentials());          // alice: pull+push everywhere
//   client.push_blob("x", digest, path, size);
//
//   hoist::test::FaultyRegistry proxy(&reg_plain);      // or FaultyRegistry() for canned answers only
//   proxy.set_rules({{{"method", "GET"}, {"path", "/blobs/"}, {"action", "status"}, {"status", 500},
//                     {"times", 2}}});
//   hoist::image::Registry c(proxy.host(), proxy.settings());
//   ... proxy.requests("GET", "/blobs/").size() == 3
//
// Every server is a child process in its own process group, killed with SIGKILL if the test process
// dies (PR_SET_PDEATHSIG; create them from the main thread or another long-lived thread), and
// stopped, with its temp dir removed, by the destructor. Needs /usr/bin/docker-registry, openssl,
// htpasswd and python3; registry_tools_missing() says what is absent (tests skip then).
#pragma once
#include <sys/types.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "image/registry.h"

namespace hoist::test {

// What is missing to run the registry tests ("" when all is there).
std::string registry_tools_missing();
// Whether `name` is on PATH.
bool have_tool(const std::string& name);

// A child process with its output appended to `log_path`; stopped (SIGTERM, then SIGKILL after
// 3 s, the whole process group) by stop() or the destructor.
class ChildProcess {
 public:
  ChildProcess() = default;
  ChildProcess(const std::vector<std::string>& argv, const std::string& log_path);
  ~ChildProcess() { stop(); }
  ChildProcess(ChildProcess&& o) noexcept : pid_(o.pid_) { o.pid_ = -1; }
  ChildProcess& operator=(ChildProcess&& o) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  bool running();
  void stop();
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
};

// A private temporary directory $TMPDIR/<prefix>-<pid>-XXXXXX, removed (rm -rf) by the destructor.
// The first one of a prefix in a process also removes those left by dead processes (SIGKILL).
// Unmounts everything at or below `dir`, deepest first (detached).
void unmount_below(const std::string& dir);

// A private directory under /tmp, removed with what is mounted below it.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "hoist-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

class LocalRegistry {
 public:
  enum class Mode { Plain, Tls, Htpasswd, Token };
  struct Options {
    Mode mode = Mode::Plain;
    bool tls = false;           // TLS in Htpasswd/Token mode too (Tls mode always has it)
    bool client_certs = false;  // the registry requires a client certificate signed by the test CA
    // Htpasswd and Token: `user` may pull and push everywhere, `reader` may only pull.
    std::string user = "alice", password = "secret";
    std::string reader = "bob", reader_password = "bobpw";
    // Token: what anonymous requests get: "pull", "none" (a token with no access), "refuse" (401).
    std::string anonymous = "pull";
    nlohmann::json token_config;  // merged into the token server's config (see token_server.py)
  };
  explicit LocalRegistry(Mode mode = Mode::Plain);
  explicit LocalRegistry(Options opts);
  ~LocalRegistry();
  LocalRegistry(const LocalRegistry&) = delete;
  LocalRegistry& operator=(const LocalRegistry&) = delete;

  Mode mode() const { return opts_.mode; }
  bool tls() const { return opts_.tls || opts_.mode == Mode::Tls; }
  bool has_auth() const { return opts_.mode == Mode::Htpasswd || opts_.mode == Mode::Token; }
  int port() const { return port_; }
  std::string host() const;  // "127.0.0.1:PORT"
  std::string url() const;   // "http(s)://127.0.0.1:PORT"
  const std::string& dir() const { return dir_.path(); }
  // certs.d root: <certs_dir>/127.0.0.1:PORT/ and localhost:PORT/ hold ca.crt (TLS) and, with
  // client_certs, client.cert + client.key.
  std::string certs_dir() const { return dir() + "/certs.d"; }
  std::string ca_path() const;  // the CA certificate (TLS), "" otherwise
  const std::string& user() const { return opts_.user; }
  const std::string& password() const { return opts_.password; }
  image::Credentials credentials() const;         // the push user (empty for Plain/Tls)
  image::Credentials reader_credentials() const;  // the pull-only user
  // Client settings for this registry: certs_dir set, quick back-off.
  image::RegistrySettings settings() const;
  std::string log() const;  // the registry's output so far

  // Token mode: the token server's request log, and changes to its (re-read) config.
  std::vector<nlohmann::json> token_requests() const;
  void update_token_config(const nlohmann::json& patch);
  std::string token_realm() const;

 private:
  void make_certs();
  void start_token_server();
  void start_registry();

  Options opts_;
  TempDir dir_;
  ChildProcess token_server_;
  ChildProcess registry_;
  int port_ = 0;
  int token_port_ = 0;
  nlohmann::json token_cfg_;
};

class FaultyRegistry {
 public:
  // A proxy in front of `upstream` (not owned; it must outlive the proxy), or, with nullptr, a
  // server of canned answers (GET /v2/ → 200, rules for the rest, else 404).
  explicit FaultyRegistry(const LocalRegistry* upstream = nullptr);
  ~FaultyRegistry();
  FaultyRegistry(const FaultyRegistry&) = delete;
  FaultyRegistry& operator=(const FaultyRegistry&) = delete;

  int port() const { return port_; }
  std::string host() const;  // "127.0.0.1:PORT" (plain http; insecure as a loopback address)
  std::string url() const;
  // Replaces the rules (a JSON array; see tests/tools/fault_proxy.py) and restarts their counters.
  void set_rules(const nlohmann::json& rules);
  void clear_rules() { set_rules(nlohmann::json::array()); }
  // Logged requests (JSON objects, oldest first), optionally only those with this method and a path
  // containing `path_part`; "sent" events are left out.
  std::vector<nlohmann::json> requests(const std::string& method = "", const std::string& path_part = "") const;
  // The "sent" events (bytes actually written by "huge" and "truncate"), waiting up to `timeout_ms`
  // for at least `n` of them.
  std::vector<nlohmann::json> sent_events(std::size_t n = 1, int timeout_ms = 5000) const;
  void clear_log();
  // Client settings: quick back-off (10 ms), the upstream's certs dir.
  image::RegistrySettings settings() const;

 private:
  const LocalRegistry* upstream_;
  TempDir dir_;
  ChildProcess proxy_;
  int port_ = 0;
};

// Reads a JSON-lines file; lines that do not parse are skipped.
std::vector<nlohmann::json> read_json_lines(const std::string& path);

}  // namespace hoist::test
