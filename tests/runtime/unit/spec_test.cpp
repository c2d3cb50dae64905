#include "common/signals.h"
#include "runtime/spec.h"

#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <csignal>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "runtime/container.h"
#include "runtime/mount_options.h"
#include "runtime/process.h"

namespace hoist {
namespace {

using nlohmann::json;

json minimal() {
  return json{{"ociVersion", "1.1.0"},
              {"root", {{"path", "rootfs"}}},
              {"process", {{"args", {"sh"}}, {"cwd", "/"}}},
              {"linux", {{"namespaces", {{{"type", "pid"}}, {{"type", "mount"}}, {{"type", "uts"}}}}}}};
}

std::string parse_error(const json& j) {
  try {
    oci::parse_spec(j.dump(), "/bundle");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Spec, ParsesTheFieldsAndResolvesRootAgainstTheBundle) {
  json j = minimal();
  j["hostname"] = "h";
  j["process"]["user"] = {{"uid", 1000}, {"gid", 100}, {"additionalGids", {5, 6}}, {"umask", 18}};
  j["process"]["rlimits"] = {{{"type", "RLIMIT_NOFILE"}, {"hard", 2048}, {"soft", 1024}}};
  j["process"]["capabilities"] = {{"bounding", {"CAP_KILL"}}, {"effective", {"CAP_KILL"}}};
  j["mounts"] = {{{"destination", "proc"}, {"type", "proc"}, {"source", "proc"}, {"options", {"nosuid"}}}};
  j["linux"]["resources"] = {{"memory", {{"limit", 1048576}, {"swap", -1}}},
                             {"cpu", {{"shares", 512}, {"quota", 50000}, {"period", 100000}, {"cpus", "0-1"}}},
                             {"pids", {{"limit", 10}}},
                             {"devices", {{{"allow", false}, {"access", "rwm"}}}}};
  j["linux"]["seccomp"] = {{"defaultAction", "SCMP_ACT_ALLOW"},
                           {"syscalls", {{{"names", {"mkdir"}}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", 1},
                                          {"args", {{{"index", 1}, {"value", 2}, {"op", "SCMP_CMP_EQ"}}}}}}}};
  j["annotations"] = {{"a", "b"}};
  auto s = oci::parse_spec(j.dump(), "/bundle");
  EXPECT_EQ(s.root->path, "/bundle/rootfs");
  EXPECT_EQ(s.hostname, "h");
  EXPECT_EQ(s.process->user.uid, 1000u);
  EXPECT_EQ(s.process->user.additional_gids, (std::vector<gid_t>{5, 6}));
  EXPECT_EQ(*s.process->user.umask, 18u);
  EXPECT_EQ(s.process->rlimits[0].hard, 2048u);
  EXPECT_EQ(s.process->capabilities->bounding, std::vector<std::string>{"CAP_KILL"});
  EXPECT_EQ(s.mounts[0].destination, "/proc");  // relative destinations are relative to /
  EXPECT_EQ(*s.linux->resources->memory->limit, 1048576);
  EXPECT_EQ(*s.linux->resources->memory->swap, -1);
  EXPECT_EQ(*s.linux->resources->cpu->shares, 512u);
  EXPECT_EQ(s.linux->resources->cpu->cpus, "0-1");
  EXPECT_EQ(*s.linux->resources->pids_limit, 10);
  EXPECT_FALSE(s.linux->resources->devices[0].allow);
  EXPECT_EQ(s.linux->resources->devices[0].type, "a");
  EXPECT_EQ(s.linux->seccomp->syscalls[0].args[0].index, 1u);
  EXPECT_EQ(s.annotations.at("a"), "b");
  EXPECT_TRUE(s.has_namespace("pid"));
  EXPECT_FALSE(s.has_namespace("network"));
}

TEST(Spec, ErrorsNameTheField) {
  json j = minimal();
  j["process"]["cwd"] = "relative";
  EXPECT_EQ(parse_error(j), "config: process.cwd: must be an absolute path, got \"relative\"");
  j = minimal();
  j["process"]["args"] = json::array();
  EXPECT_EQ(parse_error(j), "config: process.args: must not be empty");
  j = minimal();
  j["process"]["user"] = {{"uid", "root"}};
  EXPECT_EQ(parse_error(j), "config: process.user.uid: must be an integer");
  j = minimal();
  j["linux"]["namespaces"].push_back({{"type", "bogus"}});
  EXPECT_EQ(parse_error(j), "config: linux.namespaces[3].type: unknown namespace type \"bogus\"");
  j = minimal();
  j["linux"]["namespaces"].push_back({{"type", "pid"}});
  EXPECT_EQ(parse_error(j), "config: linux.namespaces: duplicate namespace \"pid\"");
  j = minimal();
  j["process"]["rlimits"] = {{{"type", "RLIMIT_BOGUS"}, {"hard", 1}, {"soft", 1}}};
  EXPECT_EQ(parse_error(j), "config: process.rlimits: unknown rlimit type \"RLIMIT_BOGUS\"");
  j = minimal();
  j["process"]["rlimits"] = {{{"type", "RLIMIT_NOFILE"}, {"hard", 1}, {"soft", 2}}};
  EXPECT_EQ(parse_error(j), "config: process.rlimits: RLIMIT_NOFILE soft limit is above the hard limit");
  j = minimal();
  j["hostname"] = "x";
  j["linux"]["namespaces"] = {{{"type", "mount"}}};
  EXPECT_EQ(parse_error(j), "config: hostname: setting a hostname needs a new uts namespace");
  j = minimal();
  j["linux"]["namespaces"].push_back({{"type", "user"}});
  EXPECT_EQ(parse_error(j), "config: linux.uidMappings/gidMappings: a new user namespace needs uid and gid mappings");
  j = minimal();
  j["ociVersion"] = "2.0.0";
  EXPECT_EQ(parse_error(j), "config: ociVersion: unsupported version \"2.0.0\" (want 1.x)");
  j = minimal();
  j.erase("root");
  EXPECT_EQ(parse_error(j), "config: root.path: is required");
  j = minimal();
  j["linux"]["resources"] = {{"devices", {{{"allow", true}, {"type", "x"}}}}};
  EXPECT_EQ(parse_error(j), "config: linux.resources.devices[0].type: invalid device type \"x\"");
  j = minimal();
  j["hooks"] = {{"prestart", {{{"path", "relative/hook"}}}}};
  EXPECT_EQ(parse_error(j), "config: hooks.prestart[0].path: must be an absolute path");
  EXPECT_NE(parse_error(json("not an object")).find("must be an object"), std::string::npos);
  try {
    oci::parse_spec("{not json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("config: invalid JSON:", 0), 0u) << e.what();
  }
}

TEST(Spec, DefaultSpecParsesAndIsRestrictive) {
  auto s = oci::parse_spec(oci::default_spec_json(false), "/b");
  EXPECT_TRUE(s.root->readonly);
  EXPECT_TRUE(s.process->no_new_privileges);
  EXPECT_EQ(s.process->capabilities->bounding.size(), 3u);
  EXPECT_TRUE(s.has_namespace("network"));
  auto r = oci::parse_spec(oci::default_spec_json(true), "/b");
  EXPECT_TRUE(r.has_namespace("user"));
  EXPECT_FALSE(r.has_namespace("network"));
  EXPECT_EQ(r.linux->uid_mappings.size(), 1u);
}

TEST(Spec, ProcessForExec) {
  auto p = oci::parse_process(R"({"args":["ls","-l"],"cwd":"/tmp","env":["A=1"],"terminal":true})");
  EXPECT_EQ(p.args, (std::vector<std::string>{"ls", "-l"}));
  EXPECT_TRUE(p.terminal);
  EXPECT_THROW(oci::parse_process(R"({"args":["ls"],"cwd":"/","env":["NOEQUALS"]})"), Error);
}

TEST(MountOptions, FlagsPropagationAndData) {
  auto m = runtime::parse_mount_options({"nosuid", "noexec", "nodev", "ro", "mode=755", "size=1m", "rslave"});
  EXPECT_EQ(m.flags, static_cast<unsigned long>(MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RDONLY));
  EXPECT_EQ(m.propagation, static_cast<unsigned long>(MS_SLAVE | MS_REC));
  EXPECT_EQ(m.data, "mode=755,size=1m");
  EXPECT_FALSE(m.bind);
  auto b = runtime::parse_mount_options({"rbind", "ro", "rw"});
  EXPECT_TRUE(b.bind);
  EXPECT_TRUE(b.recursive);
  EXPECT_EQ(b.flags, static_cast<unsigned long>(MS_BIND | MS_REC));  // "rw" after "ro" wins
  auto r = runtime::parse_mount_options({"rbind", "rro", "rnosuid", "rnoatime"});
  EXPECT_EQ(r.rattr_set, 0x1u | 0x2u | 0x10u);  // MOUNT_ATTR_RDONLY | NOSUID | NOATIME
  EXPECT_EQ(r.rattr_clr, 0x70u);                // the atime field
  EXPECT_THROW(runtime::parse_mount_options({"bind", "idmap"}), Error);
  auto x = runtime::parse_mount_options({"bind", "tmpcopyup", "X-mount.mkdir"});
  EXPECT_EQ(x.data, "");
  EXPECT_EQ(x.flags, static_cast<unsigned long>(MS_BIND));
}

TEST(Process, ExecCandidatesFollowTheContainersPath) {
  using runtime::exec_candidates;
  EXPECT_EQ(exec_candidates("/bin/sh", {}), std::vector<std::string>{"/bin/sh"});
  EXPECT_EQ(exec_candidates("sh", {"PATH=/a:/b"}), (std::vector<std::string>{"/a/sh", "/b/sh"}));
  EXPECT_EQ(exec_candidates("sh", {"PATH=/a", "PATH=/c"}), std::vector<std::string>{"/c/sh"});
  EXPECT_EQ(exec_candidates("sh", {}).front(), "/usr/local/sbin/sh");
}

TEST(Process, NamesOfCapabilitiesRlimitsAndSignals) {
  EXPECT_EQ(runtime::capability_value("CAP_KILL"), 5);
  EXPECT_EQ(runtime::capability_value("CAP_SYS_ADMIN"), 21);
  EXPECT_EQ(runtime::capability_value("CAP_NOPE"), -1);
  EXPECT_EQ(runtime::rlimit_resource("RLIMIT_NOFILE"), RLIMIT_NOFILE);
  EXPECT_EQ(runtime::rlimit_resource("NOFILE"), -1);
  EXPECT_EQ(hoist::parse_signal("KILL"), 9);
  EXPECT_EQ(hoist::parse_signal("SIGTERM"), 15);
  EXPECT_EQ(hoist::parse_signal("sigusr1"), 10);
  EXPECT_EQ(hoist::parse_signal("2"), 2);
  EXPECT_EQ(hoist::parse_signal("RTMIN+1"), SIGRTMIN + 1);
  EXPECT_THROW(hoist::parse_signal("SIGNOPE"), Error);
  EXPECT_THROW(hoist::parse_signal("0"), Error);
  EXPECT_THROW(hoist::parse_signal("99"), Error);
}

}  // namespace
}  // namespace hoist

namespace hoist {
namespace {

// Every value of a full config replaced, one at a time, by values of every other JSON type:
// the parser must either accept or reject with hoist::Error, never crash or leak another exception.
void mutate_all(const nlohmann::json& root, nlohmann::json& node, int& cases) {
  static const nlohmann::json kValues[] = {nullptr, 1, -1, 1.5, "x", "", true, nlohmann::json::array(),
                                           nlohmann::json::object(), nlohmann::json::array({1, "a"}),
                                           18446744073709551615ULL, -9223372036854775807LL};
  auto visit = [&](nlohmann::json& child) {
    nlohmann::json saved = child;
    for (auto& v : kValues) {
      child = v;
      ++cases;
      try {
        oci::parse_spec(root.dump(), "/bundle");
      } catch (const Error&) {
      } catch (const std::exception& e) {
        ADD_FAILURE() << "non-Error exception " << e.what() << " for " << root.dump();
      }
    }
    child = saved;
    mutate_all(root, child, cases);
  };
  if (node.is_object())
    for (auto& [k, v] : node.items()) visit(v);
  else if (node.is_array())
    for (auto& v : node) visit(v);
}

TEST(Spec, AnyWrongTypeAnywhereIsACleanError) {
  nlohmann::json j = nlohmann::json::parse(oci::default_spec_json(false));
  j["process"]["user"]["additionalGids"] = {5};
  j["process"]["consoleSize"] = {{"height", 1}, {"width", 2}};
  j["hooks"] = {{"prestart", {{{"path", "/bin/true"}, {"args", {"true"}}, {"timeout", 3}}}}};
  j["linux"]["uidMappings"] = {{{"containerID", 0}, {"hostID", 1000}, {"size", 1}}};
  j["linux"]["gidMappings"] = j["linux"]["uidMappings"];
  j["linux"]["namespaces"].push_back({{"type", "user"}});
  j["linux"]["sysctl"] = {{"net.ipv4.ip_forward", "1"}};
  j["linux"]["devices"] = {{{"path", "/dev/fuse"}, {"type", "c"}, {"major", 10}, {"minor", 229}}};
  j["linux"]["resources"]["memory"] = {{"limit", 1}, {"swap", 2}};
  j["linux"]["resources"]["cpu"] = {{"shares", 2}, {"cpus", "0"}};
  j["linux"]["resources"]["blockIO"] = {{"weight", 10}, {"throttleReadBpsDevice", {{{"major", 8}, {"minor", 0}, {"rate", 1}}}}};
  j["linux"]["resources"]["unified"] = {{"memory.high", "1"}};
  j["linux"]["seccomp"] = {{"defaultAction", "SCMP_ACT_ALLOW"},
                           {"syscalls", {{{"names", {"mkdir"}}, {"action", "SCMP_ACT_ERRNO"},
                                          {"args", {{{"index", 0}, {"value", 1}, {"op", "SCMP_CMP_EQ"}}}}}}}};
  j["linux"]["timeOffsets"] = {{"boottime", {{"secs", 1}, {"nanosecs", 0}}}};
  j["linux"]["namespaces"].push_back({{"type", "time"}});
  ASSERT_NO_THROW(oci::parse_spec(j.dump(), "/bundle"));
  int cases = 0;
  nlohmann::json root = j;
  mutate_all(root, root, cases);
  EXPECT_GT(cases, 1000);
}

}  // namespace
}  // namespace hoist
