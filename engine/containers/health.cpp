#include "engine/containers/health.h"

#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>

#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"
#include "engine/containers/manager.h"

namespace hoist::engine {
using nlohmann::json;

namespace {

constexpr std::size_t kMaxOutput = 4096;  // Docker keeps this much of a probe's output
constexpr std::size_t kMaxLog = 5;        // and this many results

std::int64_t ns_field(const json& h, const char* key) {
  return h.contains(key) && h[key].is_number_integer() ? h[key].get<std::int64_t>() : 0;
}

// Go's time.Duration.String() for the durations used here ("30s", "1m30s", "500ms").
std::string go_duration(std::int64_t ns) {
  if (ns % 1'000'000'000 != 0 && ns < 1'000'000'000) return std::to_string(ns / 1'000'000) + "ms";
  std::int64_t s = ns / 1'000'000'000;
  std::string out;
  if (s >= 3600) out += std::to_string(s / 3600) + "h", s %= 3600;
  if (!out.empty() || s >= 60) out += std::to_string(s / 60) + "m", s %= 60;
  return out + std::to_string(s) + "s";
}

}  // namespace

std::optional<HealthConfig> HealthConfig::from(const json& config, const json& image_config) {
  json c = config.contains("Healthcheck") && config["Healthcheck"].is_object() ? config["Healthcheck"] : json::object();
  json i = image_config.contains("Healthcheck") && image_config["Healthcheck"].is_object() ? image_config["Healthcheck"]
                                                                                             : json::object();
  HealthConfig h;
  auto test_of = [](const json& j) {
    std::vector<std::string> t;
    if (j.contains("Test") && j["Test"].is_array())
      for (auto& x : j["Test"])
        if (x.is_string()) t.push_back(x.get<std::string>());
    return t;
  };
  h.test = test_of(c);
  if (h.test.empty()) h.test = test_of(i);
  if (h.test.empty() || h.test[0] == "NONE") return std::nullopt;
  if (h.test[0] != "CMD" && h.test[0] != "CMD-SHELL") return std::nullopt;
  if (h.test.size() < 2) return std::nullopt;
  auto pick = [&](const char* key, std::int64_t def) {
    if (auto v = ns_field(c, key); v > 0) return v;
    if (auto v = ns_field(i, key); v > 0) return v;
    return def;
  };
  h.interval_ns = pick("Interval", h.interval_ns);
  h.timeout_ns = pick("Timeout", h.timeout_ns);
  h.start_period_ns = pick("StartPeriod", 0);
  h.retries = static_cast<int>(pick("Retries", 3));
  return h;
}

std::vector<std::string> HealthConfig::command() const {
  if (test.empty()) return {};
  if (test[0] == "CMD-SHELL") return {"/bin/sh", "-c", test.size() > 1 ? test[1] : ""};
  return std::vector<std::string>(test.begin() + 1, test.end());
}

json apply_probe(json health, const ProbeResult& r, int retries, bool in_start_period) {
  if (!health.is_object()) health = json::object();
  std::string status = health.value("Status", "starting");
  int streak = health.value("FailingStreak", 0);
  json log = health.contains("Log") && health["Log"].is_array() ? health["Log"] : json::array();
  log.push_back({{"Start", r.start}, {"End", r.end}, {"ExitCode", r.exit_code}, {"Output", r.output}});
  while (log.size() > kMaxLog) log.erase(log.begin());
  if (r.exit_code == 0) {
    status = "healthy";
    streak = 0;
  } else if (in_start_period && status == "starting") {
    // Failures while the container is still starting up do not count.
  } else {
    ++streak;
    if (streak >= retries) status = "unhealthy";
  }
  return {{"Status", status}, {"FailingStreak", streak}, {"Log", log}};
}

HealthMonitor::HealthMonitor(ContainerManager& m, std::function<void(const std::string&, const std::string&)> on_status)
    : m_(m), on_status_(std::move(on_status)) {}

HealthMonitor::~HealthMonitor() {
  std::vector<std::string> ids;
  {
    std::lock_guard lk(mu_);
    for (auto& [id, c] : checkers_) ids.push_back(id);
  }
  for (auto& id : ids) stop(id);
}

void HealthMonitor::start(const std::string& id, const HealthConfig& cfg) {
  stop(id);
  auto c = std::make_shared<Checker>();
  c->id = id;
  c->cfg = cfg;
  {
    std::lock_guard lk(mu_);
    checkers_[id] = c;
  }
  if (m_.set_health(id, R"({"Status":"starting","FailingStreak":0,"Log":[]})") && on_status_)
    on_status_(id, "starting");
  c->thread = std::thread([this, c] { run(*c); });
}

void HealthMonitor::stop(const std::string& id) {
  std::shared_ptr<Checker> c;
  {
    std::lock_guard lk(mu_);
    auto it = checkers_.find(id);
    if (it == checkers_.end()) return;
    c = it->second;
    checkers_.erase(it);
  }
  {
    std::lock_guard lk(c->mu);
    c->stopping = true;
  }
  c->cv.notify_all();
  if (c->thread.joinable() && c->thread.get_id() != std::this_thread::get_id()) c->thread.join();
  else if (c->thread.joinable()) c->thread.detach();
}

void HealthMonitor::run(Checker& c) {
  long long started = monotonic_ms();
  for (;;) {
    {
      std::unique_lock lk(c.mu);
      c.cv.wait_for(lk, std::chrono::nanoseconds(c.cfg.interval_ns), [&] { return c.stopping; });
      if (c.stopping) return;
    }
    ProbeResult r = probe(c);
    {
      std::lock_guard lk(c.mu);
      if (c.stopping) return;
    }
    bool in_start = (monotonic_ms() - started) * 1'000'000LL < c.cfg.start_period_ns;
    std::string before;
    json health;
    try {
      auto rec = m_.inspect(c.id);
      health = json::parse(rec.health_json.empty() ? std::string("{}") : rec.health_json, nullptr, false);
      before = health.is_object() ? health.value("Status", "starting") : "starting";
    } catch (const std::exception&) {
      return;  // the container is gone
    }
    json after = apply_probe(health, r, c.cfg.retries, in_start);
    if (!m_.set_health(c.id, after.dump(-1, ' ', false, json::error_handler_t::replace))) return;
    if (after["Status"] != before && on_status_) on_status_(c.id, after["Status"].get<std::string>());
  }
}

ProbeResult HealthMonitor::probe(Checker& c) {
  ProbeResult r;
  r.start = now_rfc3339();
  ExecParams p;
  p.cmd = c.cfg.command();
  p.attach_stdout = p.attach_stderr = true;
  std::string eid;
  UniqueFd fd;
  try {
    eid = m_.exec_create(c.id, p);
    m_.exec_start(eid, true);
    fd = m_.exec_attach(eid);
  } catch (const std::exception& e) {
    r.end = now_rfc3339();
    r.exit_code = -1;
    r.output = e.what();
    if (!eid.empty()) m_.exec_forget(eid);
    return r;
  }
  // The stream is Docker's multiplexed format: 8-byte headers, then the payload.
  std::string raw;
  long long deadline = monotonic_ms() + c.cfg.timeout_ns / 1'000'000;
  bool timed_out = false, stopped = false;
  for (;;) {
    long long left = deadline - monotonic_ms();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    {
      std::lock_guard lk(c.mu);
      if (c.stopping) {
        stopped = true;
        break;
      }
    }
    pollfd pf{fd.get(), POLLIN, 0};
    int n = ::poll(&pf, 1, static_cast<int>(std::min<long long>(left, 100)));
    if (n <= 0) continue;
    char buf[8192];
    ssize_t k = ::read(fd.get(), buf, sizeof buf);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) break;
    if (raw.size() < 4 * kMaxOutput) raw.append(buf, static_cast<std::size_t>(k));
  }
  for (std::size_t pos = 0; pos + 8 <= raw.size() && r.output.size() < kMaxOutput;) {
    std::size_t len = (static_cast<unsigned char>(raw[pos + 4]) << 24) | (static_cast<unsigned char>(raw[pos + 5]) << 16) |
                      (static_cast<unsigned char>(raw[pos + 6]) << 8) | static_cast<unsigned char>(raw[pos + 7]);
    r.output += raw.substr(pos + 8, std::min(len, kMaxOutput - r.output.size()));
    pos += 8 + len;
  }
  if (timed_out || stopped) {
    try {
      auto info = m_.exec_inspect(eid);
      if (info.running && info.pid > 0) ::kill(info.pid, SIGKILL);
    } catch (const std::exception&) {
    }
    fd.reset();
    r.exit_code = -1;
    if (timed_out) r.output = "Health check exceeded timeout (" + go_duration(c.cfg.timeout_ns) + ")";
  } else {
    fd.reset();
    r.exit_code = m_.exec_wait(eid);
  }
  r.end = now_rfc3339();
  m_.exec_forget(eid);
  return r;
}

}  // namespace hoist::engine
