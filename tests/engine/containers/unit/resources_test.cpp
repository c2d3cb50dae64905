// Resource checks, docker update's merge and the OCI resources of a HostConfig, with dockerd's
// messages (dockerd 20.10 answers the same bodies with them).
#include "engine/containers/resources.h"

#include <gtest/gtest.h>

#include <limits>

#include "common/error.h"

using hoist::Conflict;
using hoist::InvalidArgument;
using nlohmann::json;
using namespace hoist::engine;

namespace {

constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();

HostResources two_cpus() {
  HostResources h;
  h.ncpu = 2;
  h.cpus = "0-1";
  h.mems = "0";
  h.blkio_weight = true;
  return h;
}

std::string error_of(json hc, const HostResources& h = two_cpus(), bool update = false) {
  try {
    validate_resources(hc, h, update);
  } catch (const InvalidArgument& e) {
    return e.what();
  }
  return "";
}

std::string conflict_of(const json& current, const json& update) {
  try {
    merge_update(current, update);
  } catch (const Conflict& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Resources, MemoryLimitsAsDockerd) {
  EXPECT_EQ(error_of({{"Memory", 1000}}), "Minimum memory limit allowed is 6MB");
  EXPECT_EQ(error_of({{"Memory", -1}}), "Minimum memory limit allowed is 6MB");
  EXPECT_EQ(error_of({{"Memory", kMinMemory}}), "");
  EXPECT_EQ(error_of({{"Memory", kMax}}), "");
  EXPECT_EQ(error_of({{"Memory", 32 << 20}, {"MemorySwap", 16 << 20}}),
            "Minimum memoryswap limit should be larger than memory limit, see usage");
  EXPECT_EQ(error_of({{"MemorySwap", 16 << 20}}),
            "You should always set the Memory limit when using Memoryswap limit, see usage");
  EXPECT_EQ(error_of({{"MemorySwap", 16 << 20}}, two_cpus(), true), "");  // update: the memory in force counts
  EXPECT_EQ(error_of({{"MemoryReservation", 1000}}), "Minimum memory reservation allowed is 6MB");
  EXPECT_EQ(error_of({{"Memory", 8 << 20}, {"MemoryReservation", 16 << 20}}),
            "Minimum memory limit can not be less than memory reservation limit, see usage");
  EXPECT_EQ(error_of({{"KernelMemory", 1}}), "Minimum kernel memory limit allowed is 6MB");
  EXPECT_EQ(error_of({{"MemorySwappiness", 101}}), "Invalid value: 101, valid memory swappiness range is 0-100");
  EXPECT_EQ(error_of({{"MemorySwappiness", -1}}), "");
}

TEST(Resources, CpuLimitsAsDockerd) {
  EXPECT_EQ(error_of({{"NanoCpus", 5000000000LL}}), "Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available");
  EXPECT_EQ(error_of({{"NanoCpus", kMax}}), "Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available");
  EXPECT_EQ(error_of({{"NanoCpus", -1}}), "Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available");
  EXPECT_EQ(error_of({{"NanoCpus", 2000000000LL}}), "");
  EXPECT_EQ(error_of({{"NanoCpus", 500000000}, {"CpuQuota", 50000}}),
            "Conflicting options: Nano CPUs and CPU Quota cannot both be set");
  EXPECT_EQ(error_of({{"NanoCpus", 500000000}, {"CpuPeriod", 50000}}),
            "Conflicting options: Nano CPUs and CPU Period cannot both be set");
  EXPECT_EQ(error_of({{"CpuPeriod", 100}}),
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)");
  EXPECT_EQ(error_of({{"CpuPeriod", kMax}}),
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)");
  EXPECT_EQ(error_of({{"CpuQuota", 100}}), "CPU cfs quota can not be less than 1ms (i.e. 1000)");
  EXPECT_EQ(error_of({{"CpuQuota", -1}}), "");
  EXPECT_EQ(error_of({{"CpuShares", 1}}), "the minimum allowed cpu-shares is 2");
  EXPECT_EQ(error_of({{"CpuShares", kMax}}), "the maximum allowed cpu-shares is 262144");
  EXPECT_EQ(error_of({{"CpusetCpus", "7"}}), "Requested CPUs are not available - requested 7, available: 0-1");
  EXPECT_EQ(error_of({{"CpusetCpus", "1-0"}}), "Invalid value 1-0 for cpuset cpus");
  EXPECT_EQ(error_of({{"CpusetCpus", "0,1"}}), "");
  EXPECT_EQ(error_of({{"CpusetMems", "3"}}), "Requested memory nodes are not available - requested 3, available: 0");
}

TEST(Resources, BlkioWeightRangeOrAWarningWithoutSupport) {
  EXPECT_EQ(error_of({{"BlkioWeight", 5}}), "Range of blkio weight is from 10 to 1000");
  EXPECT_EQ(error_of({{"BlkioWeight", 1001}}), "Range of blkio weight is from 10 to 1000");
  EXPECT_EQ(error_of({{"BlkioWeight", 500}}), "");
  auto h = two_cpus();
  h.blkio_weight = false;
  json hc = {{"BlkioWeight", 5}};
  auto w = validate_resources(hc, h);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0], "Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.");
  EXPECT_FALSE(hc.contains("BlkioWeight"));
}

TEST(Resources, WarningsForWhatCannotApply) {
  json hc = {{"OomKillDisable", true}};
  auto w = validate_resources(hc, two_cpus());
  ASSERT_EQ(w.size(), 1u);
  EXPECT_NE(w[0].find("OOM killer is disabled"), std::string::npos);
  auto h = two_cpus();
  h.swap = false;
  hc = {{"Memory", 64 << 20}};
  w = validate_resources(hc, h);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(hc["MemorySwap"], -1);
}

TEST(Resources, WrongTypesAreTheClientsError) {
  EXPECT_EQ(error_of({{"Memory", "64m"}}),
            "json: cannot unmarshal string into Go struct field Resources.Memory of type int64");
  EXPECT_NE(error_of({{"Memory", 18446744073709551615ULL}}), "");
  EXPECT_NE(error_of({{"Memory", 1.5}}), "");
  EXPECT_NE(error_of({{"CpusetCpus", 1}}), "");
  EXPECT_EQ(error_of(json::array()), "resources must be a JSON object");
}

TEST(Resources, UpdateRestartPolicyAsDockerd) {
  auto err = [](const json& rp) {
    try {
      validate_update_restart_policy({{"RestartPolicy", rp}});
    } catch (const InvalidArgument& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_EQ(err({{"Name", "bogus"}}), "invalid restart policy 'bogus'");
  EXPECT_EQ(err({{"Name", "always"}, {"MaximumRetryCount", 3}}),
            "maximum retry count cannot be used with restart policy 'always'");
  EXPECT_EQ(err({{"Name", "on-failure"}, {"MaximumRetryCount", -1}}), "maximum retry count cannot be negative");
  EXPECT_EQ(err({{"Name", "on-failure"}, {"MaximumRetryCount", 3}}), "");
  EXPECT_EQ(err({{"Name", ""}}), "");
}

TEST(Resources, UpdateMergesWhatIsSet) {
  json cur = {{"Memory", 32 << 20}, {"MemorySwap", 64 << 20}, {"RestartPolicy", {{"Name", "no"}}}, {"Privileged", false}};
  auto out = merge_update(cur, {{"Memory", 48 << 20}, {"NanoCpus", 500000000}, {"RestartPolicy", {{"Name", "always"}}},
                                {"CpuShares", 0}, {"PidsLimit", 10}});
  EXPECT_EQ(out["Memory"], 48 << 20);
  EXPECT_EQ(out["MemorySwap"], 64 << 20);
  EXPECT_EQ(out["NanoCpus"], 500000000);
  EXPECT_EQ(out["PidsLimit"], 10);
  EXPECT_FALSE(out.contains("CpuShares"));  // zero: unchanged
  EXPECT_EQ(out["RestartPolicy"], json({{"Name", "always"}, {"MaximumRetryCount", 0}}));
  EXPECT_EQ(out["Privileged"], false);
  // A limit without a stored swap has Docker's default swap (twice the limit) in force.
  out = merge_update({{"Memory", 32 << 20}}, {{"Memory", 64 << 20}});
  EXPECT_EQ(out["Memory"], 64 << 20);
  EXPECT_EQ(out["MemorySwap"], 64 << 20);
  // Twice 2^63-1 is no number: unlimited swap, which a memory limit alone cannot go under (dockerd
  // says the same with MemorySwap -1).
  EXPECT_THROW(merge_update({{"Memory", kMax}}, {{"Memory", 64 << 20}}), Conflict);
  out = merge_update({{"Memory", kMax}}, {{"Memory", 64 << 20}, {"MemorySwap", 128 << 20}});
  EXPECT_EQ(out["MemorySwap"], 128 << 20);
}

TEST(Resources, UpdateConflictsAsDockerd) {
  EXPECT_EQ(conflict_of(json::object(), {{"Memory", 64 << 20}}),
            "Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time");
  EXPECT_EQ(conflict_of({{"Memory", 32 << 20}, {"MemorySwap", 64 << 20}}, {{"Memory", 96 << 20}}),
            "Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time");
  EXPECT_EQ(conflict_of(json::object(), {{"Memory", 64 << 20}, {"MemorySwap", 128 << 20}}), "");
  EXPECT_EQ(conflict_of({{"NanoCpus", 500000000}}, {{"CpuPeriod", 100000}}),
            "Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set");
  EXPECT_EQ(conflict_of({{"NanoCpus", 500000000}}, {{"CpuQuota", 50000}}),
            "Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set");
  EXPECT_EQ(conflict_of({{"CpuQuota", 50000}}, {{"NanoCpus", 500000000}}),
            "Conflicting options: Nano CPUs cannot be updated as CPU Quota has already been set");
  EXPECT_EQ(conflict_of({{"CpuPeriod", 50000}}, {{"NanoCpus", 500000000}}),
            "Conflicting options: Nano CPUs cannot be updated as CPU Period has already been set");
  EXPECT_EQ(conflict_of({{"AutoRemove", true}}, {{"RestartPolicy", {{"Name", "always"}}}}),
            "Restart policy cannot be updated because AutoRemove is enabled for the container");
  EXPECT_EQ(conflict_of({{"AutoRemove", true}}, {{"RestartPolicy", {{"Name", "no"}}}}), "");
}

TEST(Resources, OciResourcesWithoutOverflow) {
  auto r = oci_resources({{"Memory", 64 << 20}, {"NanoCpus", 500000000}, {"PidsLimit", 0}, {"BlkioWeight", 300}});
  EXPECT_EQ(r["memory"]["limit"], 64 << 20);
  EXPECT_EQ(r["memory"]["swap"], 128 << 20);
  EXPECT_EQ(r["cpu"]["period"], 100000);
  EXPECT_EQ(r["cpu"]["quota"], 50000);
  EXPECT_EQ(r["pids"]["limit"], -1);
  EXPECT_EQ(r["blockIO"]["weight"], 300);
  r = oci_resources({{"Memory", kMax}, {"NanoCpus", kMax}});
  EXPECT_EQ(r["memory"]["limit"], kMax);
  EXPECT_EQ(r["memory"]["swap"], -1);
  EXPECT_EQ(r["cpu"]["quota"], kMax / 10000);
  r = oci_resources({{"Memory", 64 << 20}, {"MemorySwap", -1}, {"CpuPeriod", 50000}, {"CpuQuota", 25000}});
  EXPECT_EQ(r["memory"]["swap"], -1);
  EXPECT_EQ(r["cpu"]["period"], 50000);
  EXPECT_EQ(r["cpu"]["quota"], 25000);
  EXPECT_TRUE(oci_resources(json::object()).empty());
}

TEST(Resources, CpusetLists) {
  std::vector<int> v;
  ASSERT_TRUE(parse_cpuset("0-2,5,1", v));
  EXPECT_EQ(v, (std::vector<int>{0, 1, 2, 5}));
  EXPECT_FALSE(parse_cpuset("a", v));
  EXPECT_FALSE(parse_cpuset("3-1", v));
  EXPECT_FALSE(parse_cpuset("1,", v));
  EXPECT_FALSE(parse_cpuset("99999999", v));
}
