// Legacy links' text, /etc/hosts lines and variables, against what a private dockerd 20.10 gives
// a container run with --link on its default bridge.
#include "network/links.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "common/error.h"

namespace net = hoist::network;
using ::testing::StrEq;
using ::testing::ThrowsMessage;

namespace {
std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}
}  // namespace

TEST(Links, ParsedAsDockerdParsesThem) {
  auto l = net::parse_link("db");
  EXPECT_EQ(l.name, "db");
  EXPECT_EQ(l.alias, "db");
  l = net::parse_link("db:database");
  EXPECT_EQ(l.name, "db");
  EXPECT_EQ(l.alias, "database");
  l = net::parse_link("/db:/web/database");  // as inspect shows it
  EXPECT_EQ(l.name, "db");
  EXPECT_EQ(l.alias, "database");
  EXPECT_THAT([] { net::parse_link("a:b:c"); }, ThrowsMessage<hoist::Error>(StrEq("bad format for links: a:b:c")));
  EXPECT_THAT([] { net::parse_link(""); }, ThrowsMessage<hoist::Error>(StrEq("empty string specified for links")));
}

TEST(Links, HostsLineNamesTheAliasTheHostnameAndTheName) {
  net::LinkedContainer c{"db", "0e4936cc00e3", "10.213.7.2", {}, {}};
  auto e = net::link_host_entry("database", c);
  EXPECT_EQ(e.address, "10.213.7.2");
  EXPECT_EQ(e.name, "database 0e4936cc00e3 db");
  EXPECT_EQ(net::link_host_entry("db", c).name, "db 0e4936cc00e3");
  c.hostname = "hh";
  EXPECT_EQ(net::link_host_entry("a-b", c).name, "a-b hh db");
}

TEST(Links, VariablesAsDockerdSetsThem) {
  net::LinkedContainer c{"db", "x", "10.213.7.2", {"FOO=bar", "HOME=/x", "PATH=/bin", "HOSTNAME=h", "A=b=c"},
                         {{5432, "tcp"}, {53, "udp"}}};
  EXPECT_EQ(sorted(net::link_env("web", "database", c)),
            sorted({"DATABASE_ENV_FOO=bar", "DATABASE_ENV_HOSTNAME=h", "DATABASE_ENV_A=b=c",
                    "DATABASE_NAME=/web/database", "DATABASE_PORT=udp://10.213.7.2:53",
                    "DATABASE_PORT_53_UDP=udp://10.213.7.2:53", "DATABASE_PORT_53_UDP_ADDR=10.213.7.2",
                    "DATABASE_PORT_53_UDP_PORT=53", "DATABASE_PORT_53_UDP_PROTO=udp",
                    "DATABASE_PORT_5432_TCP=tcp://10.213.7.2:5432", "DATABASE_PORT_5432_TCP_ADDR=10.213.7.2",
                    "DATABASE_PORT_5432_TCP_PORT=5432", "DATABASE_PORT_5432_TCP_PROTO=tcp"}));
}

// Three or more consecutive numbers make a range (the protocol of its end as the last port's);
// two do not. The first port (tcp first for one number) is <ALIAS>_PORT.
TEST(Links, RunsOfPortsGetStartAndEndVariables) {
  net::LinkedContainer c{"r2", "hh", "10.213.7.7", {}, {{9002, "tcp"}, {8001, "tcp"}, {9000, "udp"}, {8000, "tcp"}, {9001, "tcp"}}};
  auto env = net::link_env("friendly_burnell", "a-b", c);
  std::vector<std::string> want = {"A_B_PORT=tcp://10.213.7.7:8000", "A_B_NAME=/friendly_burnell/a-b",
                                   "A_B_PORT_9000_UDP_START=udp://10.213.7.7:9000", "A_B_PORT_9000_UDP_ADDR=10.213.7.7",
                                   "A_B_PORT_9000_UDP_PROTO=udp", "A_B_PORT_9000_UDP_PORT_START=9000",
                                   "A_B_PORT_9000_TCP_END=tcp://10.213.7.7:9002", "A_B_PORT_9000_TCP_PORT_END=9002"};
  for (int p : {8000, 8001, 9001, 9002}) {
    auto pre = "A_B_PORT_" + std::to_string(p) + "_TCP";
    want.push_back(pre + "=tcp://10.213.7.7:" + std::to_string(p));
    want.push_back(pre + "_ADDR=10.213.7.7");
    want.push_back(pre + "_PORT=" + std::to_string(p));
    want.push_back(pre + "_PROTO=tcp");
  }
  want.push_back("A_B_PORT_9000_UDP=udp://10.213.7.7:9000");
  want.push_back("A_B_PORT_9000_UDP_PORT=9000");
  EXPECT_EQ(sorted(env), sorted(want));
  c.ports = {{80, "udp"}, {80, "tcp"}};
  EXPECT_EQ(net::link_env("p", "x", c).front(), "X_PORT=tcp://10.213.7.7:80");
}
