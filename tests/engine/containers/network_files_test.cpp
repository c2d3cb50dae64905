// What a container sees of the network before it has one of its own, through the docker CLI
// against a private hoistd, compared with what a private dockerd 20.10 gives for the same run:
// /etc/hosts and /etc/resolv.conf with --add-host and --dns*, the host's network with
// --network host, and the network flags Hoist cannot honour yet refused at create.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "hoistd_harness.h"

using nlohmann::json;

namespace {

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

class NetworkFilesTest : public hoist::test::DaemonTest {
 protected:
  NetworkFilesTest() : DaemonTest("netfiles") {}
  int containers() {
    auto r = d_->http("GET", "/v1.41/containers/json?all=1");
    return r.status == 200 ? static_cast<int>(json::parse(r.body).size()) : -1;
  }
};

}  // namespace

TEST_F(NetworkFilesTest, AddHostAndDnsFlagsShapeTheFiles) {
  auto r = d_->docker({"run", "--rm", "--network", "none", "--dns", "1.1.1.1", "--dns-search", "ex.com",
                       "--dns-option", "ndots:2", "--add-host", "foo:1.2.3.4", "--add-host", "bar:::1", "bb:1", "sh",
                       "-c", "cat /etc/resolv.conf; echo ----; cat /etc/hosts"});
  ASSERT_EQ(r.code, 0) << r.err;
  // dockerd 20.10's files for the same command, to the byte.
  EXPECT_EQ(r.out,
            "search ex.com\nnameserver 1.1.1.1\noptions ndots:2\n----\n"
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n"
            "ff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n1.2.3.4\tfoo\n::1\tbar\n");
  // Kept in the HostConfig, as dockerd's inspect shows them.
  r = d_->docker({"create", "--add-host", "foo:1.2.3.4", "--dns", "9.9.9.9", "bb:1", "true"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto id = first_line(r.out);
  auto hc = json::parse(d_->http("GET", "/v1.41/containers/" + id + "/json").body)["HostConfig"];
  EXPECT_EQ(hc["ExtraHosts"], json({"foo:1.2.3.4"}));
  EXPECT_EQ(hc["Dns"], json({"9.9.9.9"}));
}

TEST_F(NetworkFilesTest, HostNetworkSharesTheHostsNameAndFiles) {
  char name[256] = {};
  ASSERT_EQ(gethostname(name, sizeof name - 1), 0);
  auto r = d_->docker({"run", "--rm", "--network", "host", "bb:1", "hostname"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(first_line(r.out), name);
  // The host's interfaces are there (lo at least, and whatever else the host has).
  r = d_->docker({"run", "--rm", "--network", "host", "bb:1", "cat", "/proc/net/dev"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto host_dev = hoist::test::run_cmd({"cat", "/proc/net/dev"});
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), std::count(host_dev.out.begin(), host_dev.out.end(), '\n'));
}

TEST_F(NetworkFilesTest, BadNetworkSettingsAreRefusedAtCreateAnUnknownNetworkAtStart) {
  // Through the API as any client sends it: 400 and no container.
  auto r = d_->http("POST", "/v1.41/containers/create",
                    R"({"Image":"bb:1","Cmd":["true"],"HostConfig":{"PortBindings":{"http/tcp":[{"HostPort":"8080"}]}}})",
                    {"Content-Type: application/json"});
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(json::parse(r.body)["message"], "invalid port specification: \"http\"");
  r = d_->http("POST", "/v1.41/containers/create",
               R"({"Image":"bb:1","Cmd":["true"],"HostConfig":{"Links":["db:db"]}})", {"Content-Type: application/json"});
  EXPECT_EQ(r.status, 400) << r.body;
  r = d_->http("POST", "/v1.41/containers/create",
               R"({"Image":"bb:1","Cmd":["true"],"HostConfig":{"ExtraHosts":["nocolon"]}})",
               {"Content-Type: application/json"});
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(json::parse(r.body)["message"], "bad format for add-host: \"nocolon\"");
  // A bad bind fails the create (dockerd's 400), not the start.
  r = d_->http("POST", "/v1.41/containers/create",
               R"({"Image":"bb:1","Cmd":["true"],"HostConfig":{"Binds":["/tmp:/x:bogus"]}})",
               {"Content-Type: application/json"});
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(containers(), 0);
  // A network that does not exist: dockerd creates the container and its start fails (404).
  r = d_->http("POST", "/v1.41/containers/create?name=lost",
               R"({"Image":"bb:1","Cmd":["true"],"HostConfig":{"NetworkMode":"backend"}})",
               {"Content-Type: application/json"});
  EXPECT_EQ(r.status, 201) << r.body;
  r = d_->http("POST", "/v1.41/containers/lost/start");
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_EQ(json::parse(r.body)["message"], "network backend not found");
}
