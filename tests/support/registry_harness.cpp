#include "registry_harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "harness.h"  // run_cmd

namespace hoist::test {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const char* kRegistryBin = "/usr/bin/docker-registry";

std::string tools_dir() { return HOIST_TOOLS_DIR; }

void write_text(const std::string& path, const std::string& text, mode_t mode = 0644) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    if (!f) throw std::runtime_error("harness: cannot write " + tmp);
    f << text;
  }
  chmod(tmp.c_str(), mode);
  if (rename(tmp.c_str(), path.c_str()) != 0) throw std::runtime_error("harness: rename " + tmp);
}

std::string read_text(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void must(const CmdResult& r, const std::string& what) {
  if (r.code != 0) throw std::runtime_error("harness: " + what + " failed (" + std::to_string(r.code) + "): " + r.err + r.out);
}

int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("harness: socket");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    close(fd);
    throw std::runtime_error("harness: bind");
  }
  int port = ntohs(a.sin_port);
  close(fd);
  return port;
}

bool can_connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  close(fd);
  return ok;
}

// Waits for `port_file` (written by our Python servers once they listen); returns the port.
int wait_port_file(ChildProcess& child, const std::string& port_file, const std::string& log_path, const std::string& what) {
  for (int i = 0; i < 400; ++i) {
    if (fs::exists(port_file)) {
      int port = std::stoi(read_text(port_file));
      if (port > 0) return port;
    }
    if (!child.running()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  throw std::runtime_error("harness: " + what + " did not start: " + read_text(log_path));
}

}  // namespace

bool have_tool(const std::string& name) {
  return run_cmd({"sh", "-c", "command -v \"$0\" >/dev/null", name}, "", 10).code == 0;
}

std::string registry_tools_missing() {
  static std::once_flag once;
  static std::string result;
  std::call_once(once, [] {
    std::string missing;
    if (access(kRegistryBin, X_OK) != 0) missing += " docker-registry";
    for (const char* tool : {"openssl", "htpasswd", "python3"})
      if (!have_tool(tool)) missing += std::string(" ") + tool;
    result = missing.empty() ? "" : "missing:" + missing;
  });
  return result;
}

std::vector<json> read_json_lines(const std::string& path) {
  std::vector<json> out;
  std::ifstream f(path);
  std::string line;
  while (std::getline(f, line)) {
    if (line.empty()) continue;
    try {
      out.push_back(json::parse(line));
    } catch (const json::exception&) {
    }
  }
  return out;
}

// ---- ChildProcess ------------------------------------------------------------------------------

ChildProcess::ChildProcess(const std::vector<std::string>& argv, const std::string& log_path) {
  std::vector<char*> a;
  for (auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
  a.push_back(nullptr);
  int logfd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (logfd < 0) throw std::runtime_error("harness: open " + log_path);
  int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    close(logfd);
    close(devnull);
    throw std::runtime_error("harness: fork");
  }
  if (pid == 0) {
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    dup2(devnull, 0);
    dup2(logfd, 1);
    dup2(logfd, 2);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    signal(SIGPIPE, SIG_DFL);
    execvp(a[0], a.data());
    _exit(127);
  }
  setpgid(pid, pid);
  close(logfd);
  close(devnull);
  pid_ = pid;
}

ChildProcess& ChildProcess::operator=(ChildProcess&& o) noexcept {
  if (this != &o) {
    stop();
    pid_ = o.pid_;
    o.pid_ = -1;
  }
  return *this;
}

bool ChildProcess::running() {
  if (pid_ <= 0) return false;
  int st;
  pid_t r = waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

void ChildProcess::stop() {
  if (pid_ <= 0) return;
  kill(-pid_, SIGTERM);
  kill(pid_, SIGTERM);
  int st;
  for (int i = 0; i < 300; ++i) {
    if (waitpid(pid_, &st, WNOHANG) == pid_) {
      kill(-pid_, SIGKILL);  // anything it left in its group
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(-pid_, SIGKILL);
  kill(pid_, SIGKILL);
  waitpid(pid_, &st, 0);
  pid_ = -1;
}

// ---- TempDir -----------------------------------------------------------------------------------

namespace {
// Directories "<prefix>-<pid>-XXXXXX" of test processes that died without cleaning up (SIGKILL).
void sweep_stale(const std::string& prefix) {
  std::error_code ec;
  for (auto& e : fs::directory_iterator(fs::temp_directory_path(), ec)) {
    std::string name = e.path().filename().string();
    if (name.rfind(prefix + "-", 0) != 0) continue;
    std::string rest = name.substr(prefix.size() + 1);
    auto dash = rest.find('-');
    if (dash == std::string::npos || dash == 0 || rest.find_first_not_of("0123456789") != dash) continue;
    pid_t pid = static_cast<pid_t>(std::stol(rest.substr(0, dash)));
    if (pid == getpid() || kill(pid, 0) == 0 || errno != ESRCH) continue;
    fs::remove_all(e.path(), ec);
  }
}
}  // namespace

TempDir::TempDir(const std::string& prefix) {
  static std::mutex mu;
  static std::vector<std::string> swept;
  {
    std::lock_guard lk(mu);
    if (std::find(swept.begin(), swept.end(), prefix) == swept.end()) {
      swept.push_back(prefix);
      sweep_stale(prefix);
    }
  }
  std::string tmpl = (fs::temp_directory_path() / (prefix + "-" + std::to_string(getpid()) + "-XXXXXX")).string();
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("harness: mkdtemp " + tmpl);
  path_ = tmpl;
}

TempDir::~TempDir() {
  unmount_below(path_);
  std::error_code ec;
  fs::remove_all(path_, ec);
}

// ---- LocalRegistry -----------------------------------------------------------------------------

LocalRegistry::LocalRegistry(Mode mode) : LocalRegistry(Options{.mode = mode}) {}

LocalRegistry::LocalRegistry(Options opts) : opts_(std::move(opts)), dir_("hoist-registry") {
  if (auto m = registry_tools_missing(); !m.empty()) throw std::runtime_error("harness: " + m);
  if (tls()) make_certs();
  if (opts_.mode == Mode::Htpasswd) {
    std::string htpasswd;
    for (auto& [u, p] : {std::pair{opts_.user, opts_.password}, std::pair{opts_.reader, opts_.reader_password}}) {
      auto r = run_cmd({"htpasswd", "-Bbn", u, p}, "", 30);
      must(r, "htpasswd");
      std::string line = r.out;
      while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
      htpasswd += line + "\n";
    }
    write_text(dir() + "/htpasswd", htpasswd);
  }
  if (opts_.mode == Mode::Token) start_token_server();
  start_registry();
}

LocalRegistry::~LocalRegistry() {
  registry_.stop();
  token_server_.stop();
}

std::string LocalRegistry::host() const { return "127.0.0.1:" + std::to_string(port_); }
std::string LocalRegistry::url() const { return (tls() ? "https://" : "http://") + host(); }
std::string LocalRegistry::ca_path() const { return tls() ? dir() + "/ca.crt" : ""; }
std::string LocalRegistry::log() const { return read_text(dir() + "/registry.log"); }
std::string LocalRegistry::token_realm() const { return "http://127.0.0.1:" + std::to_string(token_port_) + "/token"; }

image::Credentials LocalRegistry::credentials() const {
  if (!has_auth()) return {};
  return {opts_.user, opts_.password, ""};
}
image::Credentials LocalRegistry::reader_credentials() const {
  if (!has_auth()) return {};
  return {opts_.reader, opts_.reader_password, ""};
}

image::RegistrySettings LocalRegistry::settings() const {
  image::RegistrySettings s;
  s.certs_dir = certs_dir();
  s.backoff_ms = 10;
  return s;
}

void LocalRegistry::make_certs() {
  const std::string d = dir();
  write_text(d + "/ca.cnf",
             "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = hoist test CA\n"
             "[v3_ca]\nbasicConstraints = critical,CA:TRUE\nkeyUsage = critical,keyCertSign,cRLSign\n"
             "subjectKeyIdentifier = hash\n");
  must(run_cmd({"openssl", "req", "-x509", "-config", d + "/ca.cnf", "-extensions", "v3_ca", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", d + "/ca.key", "-out", d + "/ca.crt", "-days", "3"},
               "", 30),
       "openssl CA");
  auto leaf = [&](const std::string& name, const std::string& cn, const std::string& ext) {
    write_text(d + "/" + name + ".ext", ext);
    must(run_cmd({"openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
                  d + "/" + name + ".key", "-out", d + "/" + name + ".csr", "-subj", "/CN=" + cn},
                 "", 30),
         "openssl req " + name);
    must(run_cmd({"openssl", "x509", "-req", "-in", d + "/" + name + ".csr", "-CA", d + "/ca.crt", "-CAkey", d + "/ca.key",
                  "-CAcreateserial", "-out", d + "/" + name + ".crt", "-days", "3", "-extfile", d + "/" + name + ".ext"},
                 "", 30),
         "openssl x509 " + name);
  };
  leaf("server", "localhost",
       "basicConstraints = CA:FALSE\nkeyUsage = critical,digitalSignature\nextendedKeyUsage = serverAuth\n"
       "subjectAltName = IP:127.0.0.1,DNS:localhost\n");
  if (opts_.client_certs)
    leaf("client", "hoist test client",
         "basicConstraints = CA:FALSE\nkeyUsage = critical,digitalSignature\nextendedKeyUsage = clientAuth\n");
}

void LocalRegistry::start_token_server() {
  const std::string d = dir();
  must(run_cmd({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", d + "/token.key", "-out",
                d + "/token.crt", "-days", "3", "-subj", "/CN=hoist test token signer"},
               "", 60),
       "openssl token key");
  json anon;
  if (opts_.anonymous == "pull")
    anon = json::array({"pull"});
  else if (opts_.anonymous == "none")
    anon = json::array();
  else
    anon = nullptr;
  token_cfg_ = {
      {"issuer", "hoist-test-issuer"},
      {"service", "hoist-test-registry"},
      {"key", d + "/token.key"},
      {"cert", d + "/token.crt"},
      {"expires_in", 300},
      {"token_lifetime", 300},
      {"token_field", "token"},
      {"users",
       {{opts_.user, {{"password", opts_.password}, {"access", {{"*", {"pull", "push"}}}}}},
        {opts_.reader, {{"password", opts_.reader_password}, {"access", {{"*", {"pull"}}}}}}}},
      {"anonymous", anon},
  };
  if (opts_.token_config.is_object()) token_cfg_.merge_patch(opts_.token_config);
  write_text(d + "/token.json", token_cfg_.dump(2));
  std::string port_file = d + "/token.port";
  token_server_ = ChildProcess({"python3", tools_dir() + "/token_server.py", "--config", d + "/token.json", "--port-file",
                                port_file, "--log", d + "/token-requests.jsonl"},
                               d + "/token-server.log");
  token_port_ = wait_port_file(token_server_, port_file, d + "/token-server.log", "token server");
}

std::vector<json> LocalRegistry::token_requests() const { return read_json_lines(dir() + "/token-requests.jsonl"); }

void LocalRegistry::update_token_config(const json& patch) {
  token_cfg_.merge_patch(patch);
  write_text(dir() + "/token.json", token_cfg_.dump(2));
}

void LocalRegistry::start_registry() {
  const std::string d = dir();
  std::string last_log;
  for (int tries = 0; tries < 5; ++tries) {
    port_ = free_port();
    std::ostringstream y;
    y << "version: 0.1\n"
      << "log:\n  level: info\n  accesslog:\n    disabled: false\n"
      << "storage:\n  filesystem:\n    rootdirectory: " << d << "/data\n"
      << "  delete:\n    enabled: true\n"
      << "  maintenance:\n    uploadpurging:\n      enabled: false\n"
      << "http:\n  addr: 127.0.0.1:" << port_ << "\n  secret: hoist-test-secret\n";
    if (tls()) {
      y << "  tls:\n    certificate: " << d << "/server.crt\n    key: " << d << "/server.key\n";
      if (opts_.client_certs) y << "    clientcas:\n      - " << d << "/ca.crt\n";
    }
    if (opts_.mode == Mode::Htpasswd)
      y << "auth:\n  htpasswd:\n    realm: hoist-test\n    path: " << d << "/htpasswd\n";
    if (opts_.mode == Mode::Token)
      y << "auth:\n  token:\n    realm: " << token_realm() << "\n    service: hoist-test-registry\n"
        << "    issuer: hoist-test-issuer\n    rootcertbundle: " << d << "/token.crt\n";
    write_text(d + "/config.yml", y.str());
    std::string log_path = d + "/registry.log";
    registry_ = ChildProcess({kRegistryBin, "serve", d + "/config.yml"}, log_path);
    for (int i = 0; i < 600; ++i) {  // 15 s
      if (can_connect(port_)) break;
      if (!registry_.running()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    if (registry_.running() && can_connect(port_)) {
      // certs.d for the client, under both names of the registry.
      for (const std::string& name : {host(), "localhost:" + std::to_string(port_)}) {
        std::string cd = certs_dir() + "/" + name;
        fs::create_directories(cd);
        if (tls()) fs::copy_file(d + "/ca.crt", cd + "/ca.crt", fs::copy_options::overwrite_existing);
        if (opts_.client_certs) {
          fs::copy_file(d + "/client.crt", cd + "/client.cert", fs::copy_options::overwrite_existing);
          fs::copy_file(d + "/client.key", cd + "/client.key", fs::copy_options::overwrite_existing);
        }
      }
      return;
    }
    registry_.stop();
    last_log = read_text(log_path);
    if (last_log.find("address already in use") == std::string::npos) break;
  }
  throw std::runtime_error("harness: docker-registry did not start: " + last_log);
}

// ---- FaultyRegistry ----------------------------------------------------------------------------

FaultyRegistry::FaultyRegistry(const LocalRegistry* upstream) : upstream_(upstream), dir_("hoist-faulty") {
  if (auto m = registry_tools_missing(); !m.empty()) throw std::runtime_error("harness: " + m);
  const std::string d = dir_.path();
  write_text(d + "/control.json", R"({"rules": []})");
  write_text(d + "/requests.jsonl", "");
  std::vector<std::string> argv = {"python3", tools_dir() + "/fault_proxy.py", "--port-file", d + "/port",
                                   "--control", d + "/control.json", "--log", d + "/requests.jsonl"};
  if (upstream_) {
    argv.push_back("--upstream");
    argv.push_back(upstream_->url());
  }
  proxy_ = ChildProcess(argv, d + "/proxy.log");
  port_ = wait_port_file(proxy_, d + "/port", d + "/proxy.log", "fault proxy");
}

FaultyRegistry::~FaultyRegistry() { proxy_.stop(); }

std::string FaultyRegistry::host() const { return "127.0.0.1:" + std::to_string(port_); }
std::string FaultyRegistry::url() const { return "http://" + host(); }

void FaultyRegistry::set_rules(const json& rules) {
  write_text(dir_.path() + "/control.json", json{{"rules", rules}}.dump(1));
}

std::vector<json> FaultyRegistry::requests(const std::string& method, const std::string& path_part) const {
  std::vector<json> out;
  for (auto& e : read_json_lines(dir_.path() + "/requests.jsonl")) {
    if (e.contains("event")) continue;
    if (!method.empty() && e.value("method", "") != method) continue;
    if (!path_part.empty() && e.value("path", "").find(path_part) == std::string::npos) continue;
    out.push_back(e);
  }
  return out;
}

std::vector<json> FaultyRegistry::sent_events(std::size_t n, int timeout_ms) const {
  std::vector<json> out;
  for (int waited = 0;; waited += 20) {
    out.clear();
    for (auto& e : read_json_lines(dir_.path() + "/requests.jsonl"))
      if (e.value("event", "") == "sent") out.push_back(e);
    if (out.size() >= n || waited >= timeout_ms) return out;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void FaultyRegistry::clear_log() { truncate((dir_.path() + "/requests.jsonl").c_str(), 0); }

image::RegistrySettings FaultyRegistry::settings() const {
  image::RegistrySettings s;
  s.certs_dir = upstream_ ? upstream_->certs_dir() : dir_.path() + "/certs.d";
  s.backoff_ms = 10;
  return s;
}

}  // namespace hoist::test
