// HEALTHCHECK: periodic probes (an exec in the container) and State.Health, as Docker does them.
//
// The probe's result is applied by apply_probe() (a pure function, unit-tested); HealthMonitor
// runs one thread per running container that has a health check, stores State.Health through
// ContainerManager::set_health and reports status changes (for "health_status: X" events).
#pragma once
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace hoist::engine {

class ContainerManager;

struct HealthConfig {
  std::vector<std::string> test;  // ["CMD", ...] or ["CMD-SHELL", "cmd"]
  std::int64_t interval_ns = 30'000'000'000;
  std::int64_t timeout_ns = 30'000'000'000;
  std::int64_t start_period_ns = 0;
  int retries = 3;

  // Config.Healthcheck over the image's (fields left 0 come from the image, then the defaults).
  // nullopt: no health check (none, or Test ["NONE"]).
  static std::optional<HealthConfig> from(const nlohmann::json& config, const nlohmann::json& image_config);
  // The probe's argv: CMD args, or /bin/sh -c for CMD-SHELL.
  std::vector<std::string> command() const;
};

struct ProbeResult {
  std::string start, end;  // RFC 3339
  int exit_code = 0;       // -1: timed out
  std::string output;      // at most 4096 bytes
};

// Applies one probe result to State.Health ({"Status","FailingStreak","Log"}; empty/null →
// "starting"). A failure inside the start period does not count while the status is "starting";
// `retries` consecutive failures make it "unhealthy"; a success makes it "healthy". Log keeps the
// last 5 results.
nlohmann::json apply_probe(nlohmann::json health, const ProbeResult& r, int retries, bool in_start_period);

class HealthMonitor {
 public:
  // on_status(container id, new status) after a change of State.Health.Status.
  HealthMonitor(ContainerManager& m, std::function<void(const std::string&, const std::string&)> on_status);
  ~HealthMonitor();  // stops every checker
  HealthMonitor(const HealthMonitor&) = delete;
  HealthMonitor& operator=(const HealthMonitor&) = delete;

  // Starts (or restarts) the checker of a container that has just started.
  void start(const std::string& id, const HealthConfig& cfg);
  // Stops it (the container stopped or went away); returns once its thread has ended.
  void stop(const std::string& id);

 private:
  struct Checker {
    std::string id;
    HealthConfig cfg;
    std::mutex mu;
    std::condition_variable cv;
    bool stopping = false;
    std::thread thread;
  };
  void run(Checker& c);
  ProbeResult probe(Checker& c);

  ContainerManager& m_;
  std::function<void(const std::string&, const std::string&)> on_status_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<Checker>> checkers_;
};

}  // namespace hoist::engine
