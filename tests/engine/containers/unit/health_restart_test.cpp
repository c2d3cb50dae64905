// Health check state transitions and restart policy decisions (Docker's rules).
#include <gtest/gtest.h>

#include "engine/containers/manager.h"
#include "engine/containers/health.h"

using namespace hoist::engine;
using nlohmann::json;

namespace {
ProbeResult result(int code, const std::string& out = "") { return {"s", "e", code, out}; }
}  // namespace

TEST(Health, ConfigMergesContainerOverImageWithDefaults) {
  auto img = json::parse(R"({"Healthcheck":{"Test":["CMD","true"],"Interval":5000000000,"Retries":7}})");
  auto h = HealthConfig::from(json::object(), img);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->command(), (std::vector<std::string>{"true"}));
  EXPECT_EQ(h->interval_ns, 5000000000);
  EXPECT_EQ(h->timeout_ns, 30000000000);
  EXPECT_EQ(h->retries, 7);
  auto c = json::parse(R"({"Healthcheck":{"Test":["CMD-SHELL","curl -f x"],"Interval":100000000}})");
  h = HealthConfig::from(c, img);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->command(), (std::vector<std::string>{"/bin/sh", "-c", "curl -f x"}));
  EXPECT_EQ(h->interval_ns, 100000000);
  EXPECT_EQ(h->retries, 7);  // from the image
  EXPECT_FALSE(HealthConfig::from(json::parse(R"({"Healthcheck":{"Test":["NONE"]}})"), img));
  EXPECT_FALSE(HealthConfig::from(json::object(), json::object()));
}

TEST(Health, RetriesConsecutiveFailuresMakeItUnhealthy) {
  json h;
  h = apply_probe(h, result(1), 3, false);
  EXPECT_EQ(h["Status"], "starting");
  EXPECT_EQ(h["FailingStreak"], 1);
  h = apply_probe(h, result(1), 3, false);
  EXPECT_EQ(h["Status"], "starting");
  h = apply_probe(h, result(2), 3, false);
  EXPECT_EQ(h["Status"], "unhealthy");
  EXPECT_EQ(h["FailingStreak"], 3);
  h = apply_probe(h, result(0, "ok\n"), 3, false);
  EXPECT_EQ(h["Status"], "healthy");
  EXPECT_EQ(h["FailingStreak"], 0);
  h = apply_probe(h, result(1), 3, false);
  EXPECT_EQ(h["Status"], "healthy");  // one failure is not enough
}

TEST(Health, FailuresInTheStartPeriodDoNotCount) {
  json h;
  for (int i = 0; i < 5; ++i) h = apply_probe(h, result(1), 1, true);
  EXPECT_EQ(h["Status"], "starting");
  EXPECT_EQ(h["FailingStreak"], 0);
  h = apply_probe(h, result(0), 1, true);
  EXPECT_EQ(h["Status"], "healthy");
  h = apply_probe(h, result(1), 1, true);  // once healthy, failures count even then
  EXPECT_EQ(h["Status"], "unhealthy");
}

TEST(Health, LogKeepsTheLastFive) {
  json h;
  for (int i = 0; i < 8; ++i) h = apply_probe(h, result(0, std::to_string(i)), 3, false);
  ASSERT_EQ(h["Log"].size(), 5u);
  EXPECT_EQ(h["Log"][0]["Output"], "3");
  EXPECT_EQ(h["Log"][4]["Output"], "7");
}

TEST(RestartPolicyRules, AsDocker) {
  auto p = RestartPolicy::from_host_config(R"({"RestartPolicy":{"Name":"on-failure","MaximumRetryCount":2}})");
  EXPECT_EQ(p.name, "on-failure");
  EXPECT_EQ(p.max_retries, 2);
  EXPECT_TRUE(p.should_restart(1, false, 0, false));
  EXPECT_TRUE(p.should_restart(1, false, 1, false));
  EXPECT_FALSE(p.should_restart(1, false, 2, false));  // retries used up
  EXPECT_FALSE(p.should_restart(0, false, 0, false));  // success
  EXPECT_FALSE(p.should_restart(1, true, 0, false));   // stopped by hand

  auto always = RestartPolicy::from_host_config(R"({"RestartPolicy":{"Name":"always"}})");
  EXPECT_TRUE(always.should_restart(0, false, 100, false));
  EXPECT_FALSE(always.should_restart(0, true, 0, false));
  EXPECT_TRUE(always.should_restart(0, true, 0, true));  // the daemon restarts: back it comes

  auto unless = RestartPolicy::from_host_config(R"({"RestartPolicy":{"Name":"unless-stopped"}})");
  EXPECT_TRUE(unless.should_restart(0, false, 0, false));
  EXPECT_FALSE(unless.should_restart(0, true, 0, true));

  EXPECT_FALSE(RestartPolicy::from_host_config("{}").should_restart(1, false, 0, true));
  EXPECT_FALSE(RestartPolicy::from_host_config(R"({"RestartPolicy":{"Name":"no"}})").should_restart(1, false, 0, false));
}
