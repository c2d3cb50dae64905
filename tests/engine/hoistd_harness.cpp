#include "hoistd_harness.h"

#include <curl/curl.h>
#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace fs = std::filesystem;

namespace hoist::test {

std::string fixtures_dir() { return fs::path(busybox_rootfs()).parent_path().parent_path().string(); }

Hoistd::Hoistd(const std::vector<std::string>& extra_args) : dir_("hoist-engine-test") {
  fs::create_directories(dir() + "/docker-config");
  std::ofstream(dir() + "/daemon.json") << "{}\n";
  std::vector<std::string> argv = {HOISTD_BIN,           "-H",          host(),
                                   "--data-root",        data_root(),   "--exec-root",
                                   exec_root(),          "--config-file", dir() + "/daemon.json",
                                   "--config-dir",       dir() + "/etc", "--debug"};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  argv_ = argv;
  launch();
}

void Hoistd::restart(bool kill9) {
  if (kill9 && proc_.pid() > 0) ::kill(proc_.pid(), SIGKILL);  // stop() then reaps it at once
  proc_.stop();
  launch();
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

Hoistd::~Hoistd() { proc_.stop(); }

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
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  std::ifstream mi("/proc/self/mountinfo");
  std::string line;
  std::vector<std::string> points;
  while (std::getline(mi, line)) {
    std::istringstream ss(line);
    std::string a, b, c, r, mp;
    ss >> a >> b >> c >> r >> mp;
    if (mp.rfind(d.dir(), 0) == 0) points.push_back(mp);
  }
  for (auto it = points.rbegin(); it != points.rend(); ++it) umount2(it->c_str(), MNT_DETACH);
  for (auto& base : {std::string("/sys/fs/cgroup"), std::string("/sys/fs/cgroup/unified")}) {
    if (!fs::exists(base, ec)) continue;
    for (auto& ctl : fs::directory_iterator(base, ec)) {
      auto p = ctl.path().string() + cgroup_parent;
      if (!fs::exists(p, ec)) continue;
      for (auto& child : fs::directory_iterator(p, ec)) rmdir(child.path().c_str());
      rmdir(p.c_str());
    }
  }
}

}  // namespace hoist::test
