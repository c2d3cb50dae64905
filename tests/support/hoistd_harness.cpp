#include "hoistd_harness.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "common/strings.h"

namespace fs = std::filesystem;

namespace hoist::test {

namespace {
std::vector<std::string> cgroup_dirs(const std::string& cgroup_parent);
}  // namespace

std::string fixtures_dir() { return fs::path(busybox_rootfs()).parent_path().parent_path().string(); }

std::string debian_rootfs_tar() {
  static std::once_flag once;
  static std::string tar;
  std::call_once(once, [] {
    std::string dir = fixtures_dir();
    // Quick when the machine's cache has it; the first time, debootstrap runs (minutes).
    auto r = run_cmd({std::string(HOIST_SOURCE_DIR) + "/scripts/make-debian-fixtures.sh", dir}, "", 1200);
    if (r.code != 0) throw std::runtime_error("make-debian-fixtures failed: " + r.err);
    tar = dir + "/debian-rootfs.tar.gz";
  });
  return tar;
}

Hoistd::Hoistd(const std::vector<std::string>& extra_args) : dir_("hoist-engine-test") {
  fs::create_directories(dir() + "/docker-config");
  std::ofstream(dir() + "/daemon.json") << "{}\n";
  argv_ = {HOISTD_BIN,           "-H",          host(),
           "--data-root",        data_root(),   "--exec-root",
           exec_root(),          "--config-file", dir() + "/daemon.json",
           "--config-dir",       dir() + "/etc", "--debug"};
  std::random_device rd;
  unsigned r = rd();
  char hex[16];
  std::snprintf(hex, sizeof hex, "%08x", r);
  bridge_ = std::string("hst") + hex;
  table_ = std::string("hoist_t") + hex;
  unsigned a = 200 + (r >> 8) % 8, b = (r >> 16) % 256, p = 160 + (r >> 24) % 8;
  bip_ = "10." + std::to_string(a) + "." + std::to_string(b) + ".1/24";
  pool_prefix_ = "10." + std::to_string(p) + ".";
  argv_.insert(argv_.end(), {"--bridge", bridge_, "--nft-table", table_, "--bip", bip_, "--default-address-pool",
                             "base=10." + std::to_string(p) + ".0.0/16,size=24"});
  network_args_.assign(argv_.end() - 8, argv_.end());
  argv_.insert(argv_.end(), extra_args.begin(), extra_args.end());
  if (std::find(extra_args.begin(), extra_args.end(), "--cgroup-parent") == extra_args.end()) {
    own_cgroup_parent_ = "/hoist-test-" + std::to_string(getpid()) + "-" + hex;
    argv_.insert(argv_.end(), {"--cgroup-parent", own_cgroup_parent_});
  }
  launch();
}

std::vector<std::string> Hoistd::network_args() const { return network_args_; }

// The devices, table and namespaces this daemon made (a test may shell out; hoistd does not).
void Hoistd::cleanup_network() {
  std::error_code ec;
  std::vector<std::string> bridges = {bridge_};
  if (fs::is_directory(data_root() + "/network/networks", ec))
    for (auto& e : fs::directory_iterator(data_root() + "/network/networks", ec)) {
      std::ifstream f(e.path());
      std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
      auto at = text.find("\"bridge\":\"");
      if (at == std::string::npos) continue;
      auto start = at + 10, end = text.find('"', start);
      auto name = text.substr(start, end - start);
      if (!name.empty() && name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-_.") == std::string::npos)
        bridges.push_back(name);
    }
  for (auto& b : bridges) std::system(("ip link del " + b + " >/dev/null 2>&1").c_str());
  std::system(("nft delete table ip " + table_ + " >/dev/null 2>&1").c_str());
  std::system(("nft delete table bridge " + table_ + " >/dev/null 2>&1").c_str());  // icc off
  if (fs::is_directory(exec_root() + "/netns", ec))
    for (auto& e : fs::directory_iterator(exec_root() + "/netns", ec)) ::umount2(e.path().c_str(), MNT_DETACH);
  ::umount2((exec_root() + "/netns").c_str(), MNT_DETACH);
}

void Hoistd::launch() {
  proc_ = ChildProcess(argv_, dir() + "/hoistd.log");
  for (int i = 0; i < 200; ++i) {
    if (fs::exists(socket())) {
      auto r = http("GET", "/_ping", "", {}, 0, 5);
      if (r.status == 200) return;
    }
    if (!proc_.running()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  throw std::runtime_error("hoistd did not start: " + log());
}

void Hoistd::kill9() {
  pid_t p = proc_.pid();
  if (p <= 0) return;
  ::kill(p, SIGKILL);
  while (proc_.running()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
}

void Hoistd::restart() {
  proc_.stop();
  launch();
}

Hoistd::~Hoistd() {
  proc_.stop();
  cleanup_network();
  if (!own_cgroup_parent_.empty()) {
    // Empty by now unless a container outlived the daemon: its processes go first.
    std::error_code ec;
    for (auto& base : cgroup_dirs(own_cgroup_parent_)) {
      if (!fs::is_directory(base, ec)) continue;
      std::vector<fs::path> dirs;
      for (auto& e : fs::recursive_directory_iterator(base, ec))
        if (e.is_directory(ec)) dirs.push_back(e.path());
      dirs.push_back(base);
      for (auto it = dirs.rbegin(); it != dirs.rend(); ++it) {
        std::ifstream procs(*it / "cgroup.procs");
        for (pid_t p; procs >> p;) kill(p, SIGKILL);
      }
      for (auto it = dirs.rbegin(); it != dirs.rend(); ++it)
        for (int i = 0; i < 20 && ::rmdir(it->c_str()) != 0 && errno == EBUSY; ++i) usleep(50000);
    }
  }
}

std::string Hoistd::log() const {
  std::ifstream f(dir() + "/hoistd.log");
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

CmdResult Hoistd::docker(const std::vector<std::string>& args, const std::string& input, int timeout_s) const {
  std::vector<std::string> argv = {"env", "DOCKER_CONFIG=" + dir() + "/docker-config", "docker", "-H", host()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_cmd(argv, input, timeout_s);
}

CmdResult Hoistd::python(const std::string& script, int timeout_s) const {
  return run_cmd({"env", "HOIST_HOST=" + host(), "python3", "-c", script}, "", timeout_s);
}

namespace {
struct Ctx {
  std::string body;
  std::map<std::string, std::string> headers;
  long abort_after = 0;
  const std::string* upload = nullptr;
  std::size_t upload_off = 0;
};
size_t on_body(char* p, size_t s, size_t n, void* u) {
  auto* c = static_cast<Ctx*>(u);
  c->body.append(p, s * n);
  if (c->abort_after > 0 && long(c->body.size()) >= c->abort_after) return 0;  // abort the transfer
  return s * n;
}
size_t on_header(char* p, size_t s, size_t n, void* u) {
  auto* c = static_cast<Ctx*>(u);
  std::string line(p, s * n);
  auto colon = line.find(':');
  if (colon != std::string::npos) {
    std::string k = line.substr(0, colon), v = line.substr(colon + 1);
    for (auto& ch : k) ch = char(std::tolower(static_cast<unsigned char>(ch)));
    while (!v.empty() && (v.front() == ' ')) v.erase(0, 1);
    while (!v.empty() && (v.back() == '\r' || v.back() == '\n')) v.pop_back();
    c->headers[k] = v;
  }
  return s * n;
}
}  // namespace

HttpResult Hoistd::http(const std::string& method, const std::string& path, const std::string& body,
                        const std::vector<std::string>& headers, long abort_after, int timeout_s) const {
  static bool init = (curl_global_init(CURL_GLOBAL_ALL), true);
  (void)init;
  HttpResult r;
  CURL* c = curl_easy_init();
  Ctx ctx;
  ctx.abort_after = abort_after;
  std::string url = "http://localhost" + path;
  curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, socket().c_str());
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  if (method == "HEAD") curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  if (method == "POST" || !body.empty()) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.size()));
  }
  curl_slist* hl = nullptr;
  for (auto& h : headers) hl = curl_slist_append(hl, h.c_str());
  if (hl) curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &ctx);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &ctx);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, long(timeout_s));
  CURLcode rc = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  if (rc != CURLE_OK) r.error = curl_easy_strerror(rc);
  if (rc != CURLE_OK && rc != CURLE_WRITE_ERROR) r.status = 0;
  r.body = std::move(ctx.body);
  r.headers = std::move(ctx.headers);
  curl_slist_free_all(hl);
  curl_easy_cleanup(c);
  return r;
}

// ---- raw connections, leftovers -----------------------------------------------------------------

int connect_unix(const std::string& sock) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, sock.c_str(), sizeof a.sun_path - 1);
  if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) return fd;
  if (fd >= 0) ::close(fd);
  return -1;
}

std::string raw_http(const std::string& sock, const std::string& req, int timeout_ms) {
  int fd = connect_unix(sock);
  if (fd < 0) return "";
  auto out = raw_http_on(fd, req, timeout_ms);
  ::close(fd);
  return out;
}

std::string raw_http_on(int fd, const std::string& req, int timeout_ms) {
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  [[maybe_unused]] auto w = ::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
  std::string out;
  char buf[4096];
  for (;;) {
    auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, std::size_t(n));
    auto hdr_end = out.find("\r\n\r\n");
    auto cl = out.find("Content-Length: ");
    if (hdr_end != std::string::npos && cl != std::string::npos && cl < hdr_end &&
        out.size() >= hdr_end + 4 + std::stoul(out.substr(cl + 16)))
      break;
  }
  return out;
}

std::string Leftovers::describe() const {
  std::string s;
  for (auto& m : mounts) s += "  mount " + m + "\n";
  for (auto p : shims) s += "  hoist-shim pid " + std::to_string(p) + "\n";
  for (auto& c : cgroups) s += "  cgroup " + c + "\n";
  return s;
}

namespace {
std::vector<std::string> cgroup_dirs(const std::string& cgroup_parent) {
  std::vector<std::string> bases = {"/sys/fs/cgroup" + cgroup_parent};
  std::error_code ec;
  for (auto& ctl : fs::directory_iterator("/sys/fs/cgroup", ec))
    if (ctl.is_directory(ec)) bases.push_back(ctl.path().string() + cgroup_parent);
  return bases;
}
}  // namespace

Leftovers leftovers(const Hoistd& d, const std::string& cgroup_parent) {
  Leftovers l;
  std::ifstream mi("/proc/self/mountinfo");
  std::string line;
  while (std::getline(mi, line)) {
    std::istringstream ss(line);
    std::string a, b, c, r, mp;
    ss >> a >> b >> c >> r >> mp;
    // <exec-root>/netns is a private bind of itself (as /run/netns), kept while hoistd is down.
    if (mp.rfind(d.dir(), 0) == 0 && mp != d.exec_root() + "/netns") l.mounts.push_back(mp);
  }
  std::error_code ec;
  for (auto& p : fs::directory_iterator("/proc", ec)) {
    auto pid = p.path().filename().string();
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    // read(2), not a stream: a process that exits meanwhile makes the read fail with ESRCH, which
    // libstdc++'s filebuf throws as an exception whatever the stream's exception mask.
    std::string cmd;
    if (int fd = ::open((p.path() / "cmdline").c_str(), O_RDONLY | O_CLOEXEC); fd >= 0) {
      char buf[4096];
      for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) cmd.append(buf, static_cast<size_t>(n));
      ::close(fd);
    }
    auto args = split(cmd, '\0');
    if (args.empty() || fs::path(args[0]).filename() != "hoist-shim") continue;
    if (std::any_of(args.begin(), args.end(), [&](auto& a) { return a.rfind(d.exec_root(), 0) == 0; }))
      l.shims.push_back(std::stoi(pid));
  }
  for (auto& base : cgroup_dirs(cgroup_parent)) {
    if (!fs::is_directory(base, ec)) continue;
    for (auto& e : fs::recursive_directory_iterator(base, ec))
      if (e.is_directory(ec)) l.cgroups.push_back(e.path().string());
  }
  return l;
}

void force_cleanup(const Hoistd& d, const std::string& cgroup_parent) {
  std::error_code ec;
  auto states = d.exec_root() + "/containers";
  if (fs::exists(states, ec)) {
    for (auto& e : fs::directory_iterator(states, ec)) {
      std::ifstream f(e.path() / "shim.pid");
      pid_t shim = 0, init = 0;
      f >> shim >> init;
      if (init > 0) kill(init, SIGKILL);
      if (shim > 0) kill(shim, SIGKILL);
    }
  }
  for (auto p : leftovers(d, cgroup_parent).shims) kill(p, SIGKILL);
  for (auto& base : cgroup_dirs(cgroup_parent)) {  // whatever still runs in the containers' cgroups
    if (!fs::is_directory(base, ec)) continue;
    for (auto& e : fs::recursive_directory_iterator(base, ec)) {
      std::ifstream procs(e.path() / "cgroup.procs");
      for (pid_t p; procs >> p;) kill(p, SIGKILL);
    }
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto points = leftovers(d, cgroup_parent).mounts;
  for (auto it = points.rbegin(); it != points.rend(); ++it) umount2(it->c_str(), MNT_DETACH);
  for (auto& base : cgroup_dirs(cgroup_parent)) {
    if (!fs::is_directory(base, ec)) continue;
    std::vector<std::string> dirs;
    for (auto& e : fs::recursive_directory_iterator(base, ec))
      if (e.is_directory(ec)) dirs.push_back(e.path().string());
    std::sort(dirs.rbegin(), dirs.rend());  // children before parents
    for (auto& c : dirs) ::rmdir(c.c_str());
    ::rmdir(base.c_str());
  }
}

void remove_all_containers(Hoistd& d) {
  if (!d.running()) return;
  std::istringstream in(d.docker({"ps", "-aq"}).out);
  std::string id;
  while (in >> id) d.docker({"rm", "-f", id});
}

std::string DaemonTest::cgroup_parent() const {
  return "/hoist-test-" + std::to_string(getpid()) + "-" + suffix_;
}

void DaemonTest::SetUp() {
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  if (!have_tool("docker")) GTEST_SKIP() << "docker CLI missing";
  d_ = std::make_unique<Hoistd>(std::vector<std::string>{"--cgroup-parent", cgroup_parent()});
  auto r = d_->docker({"import", fixtures_dir() + "/busybox-rootfs.tar", "bb:1"});
  ASSERT_EQ(r.code, 0) << r.err;
}

void DaemonTest::TearDown() {
  if (!d_) return;
  if (HasFailure()) {
    auto log = d_->log();
    std::cerr << "---- hoistd log (tail) ----\n" << (log.size() > 4000 ? log.substr(log.size() - 4000) : log) << "\n";
  }
  remove_all_containers(*d_);
  force_cleanup(*d_, cgroup_parent());
}

}  // namespace hoist::test
