// /etc/hosts and /etc/resolv.conf of a container and the network fields of a HostConfig, against
// what a private dockerd 20.10 writes and answers for the same input.
#include <gmock/gmock.h>
#include <map>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "network/container_files.h"

using hoist::InvalidArgument;
using hoist::NotFound;
using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::StrEq;
using ::testing::ThrowsMessage;
namespace net = hoist::network;

TEST(NetworkMode, EveryFormDockerKnows) {
  EXPECT_EQ(net::parse_mode(""), net::Mode::Bridge);
  EXPECT_EQ(net::parse_mode("default"), net::Mode::Bridge);
  EXPECT_EQ(net::parse_mode("none"), net::Mode::None);
  EXPECT_EQ(net::parse_mode("host"), net::Mode::Host);
  EXPECT_EQ(net::parse_mode("bridge"), net::Mode::Bridge);
  EXPECT_EQ(net::parse_mode("container:abc"), net::Mode::Container);
  EXPECT_EQ(net::mode_container("container:abc"), "abc");
  EXPECT_THROW(net::parse_mode("container:"), InvalidArgument);
  // dockerd's words (a 404)
  EXPECT_EQ(net::parse_mode("backend"), net::Mode::Bridge);  // a network's name: the controller knows it
}

TEST(ExtraHosts, DockerdsFormAndMessages) {
  auto e = net::parse_extra_host("db:10.0.0.5");
  EXPECT_EQ(e.name, "db");
  EXPECT_EQ(e.address, "10.0.0.5");
  e = net::parse_extra_host("v6:::1");  // the address is what follows the first ':'
  EXPECT_EQ(e.name, "v6");
  EXPECT_EQ(e.address, "::1");
  EXPECT_THAT([] { net::parse_extra_host("nocolon"); },
              ThrowsMessage<InvalidArgument>(StrEq("bad format for add-host: \"nocolon\"")));
  EXPECT_THAT([] { net::parse_extra_host("x:nope"); },
              ThrowsMessage<InvalidArgument>(StrEq("invalid IP address in add-host: \"nope\"")));
  EXPECT_EQ(net::parse_extra_host("gw:host-gateway").address, "host-gateway");  // the engine puts the gateway in
}

TEST(HostsFile, DockerdsLinesThenExtraHosts) {
  auto text = net::hosts_file(net::Mode::None, "127.0.0.1 myhost\n", {{"foo", "1.2.3.4"}, {"bar", "::1"}});
  EXPECT_EQ(text,
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n"
            "ff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n1.2.3.4\tfoo\n::1\tbar\n");
  // The host's network without extra hosts: the host's own file.
  EXPECT_EQ(net::hosts_file(net::Mode::Host, "127.0.0.1 myhost\n", {}), "127.0.0.1 myhost\n");
  EXPECT_NE(net::hosts_file(net::Mode::Host, "127.0.0.1 myhost\n", {{"foo", "1.2.3.4"}}).find("1.2.3.4\tfoo\n"),
            std::string::npos);
}

TEST(ResolvConf, LoopbackNameserversDropped) {
  const std::string host = "# generated\nnameserver 127.0.0.53\nnameserver 10.1.2.3\nsearch lan\noptions edns0\n";
  auto text = net::resolv_conf(net::Mode::None, host, {});
  EXPECT_EQ(text.find("127.0.0.53"), std::string::npos) << text;
  EXPECT_NE(text.find("nameserver 10.1.2.3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("search lan\n"), std::string::npos) << text;
  EXPECT_NE(text.find("options edns0\n"), std::string::npos) << text;
  // Nothing reachable left: Google's public resolvers, as dockerd.
  text = net::resolv_conf(net::Mode::None, "nameserver 127.0.0.53\nnameserver ::1\n", {});
  EXPECT_NE(text.find("nameserver 8.8.8.8\nnameserver 8.8.4.4"), std::string::npos) << text;
  EXPECT_EQ(text.find("127.0.0.53"), std::string::npos) << text;
  // The host's network: the host's file as it is.
  EXPECT_EQ(net::resolv_conf(net::Mode::Host, host, {}), host);
}

TEST(ResolvConf, DnsSearchAndOptionsReplaceTheirPart) {
  const std::string host = "nameserver 10.1.2.3\nsearch lan\noptions edns0\n";
  // docker run --dns 1.1.1.1 --dns-search ex.com --dns-option ndots:2 (dockerd's output)
  EXPECT_EQ(net::resolv_conf(net::Mode::None, host, {{"1.1.1.1"}, {"ex.com"}, {"ndots:2"}}),
            "search ex.com\nnameserver 1.1.1.1\noptions ndots:2\n");
  // Only --dns: the host's search and options stay.
  EXPECT_EQ(net::resolv_conf(net::Mode::None, host, {{"9.9.9.9", "1.1.1.1"}, {}, {}}),
            "search lan\nnameserver 9.9.9.9\nnameserver 1.1.1.1\noptions edns0\n");
  // --dns-search . : no search domain.
  EXPECT_EQ(net::resolv_conf(net::Mode::None, host, {{}, {"."}, {}}), "nameserver 10.1.2.3\noptions edns0\n");
}

TEST(NetworkHostConfig, WhatCannotBeHonouredIsRefused) {
  EXPECT_NO_THROW(net::check_host_config(json::object()));
  EXPECT_NO_THROW(net::check_host_config(
      json{{"NetworkMode", "none"}, {"PortBindings", json::object()}, {"ExtraHosts", {"a:1.2.3.4"}},
           {"Dns", {"1.1.1.1"}}, {"Links", nullptr}}));
  EXPECT_NO_THROW(net::check_host_config(json{{"PortBindings", {{"80/tcp", {{{"HostPort", "8080"}}}}}}}));
  EXPECT_NO_THROW(net::check_host_config(json{{"PublishAllPorts", true}}));
  EXPECT_NO_THROW(net::check_host_config(json{{"Links", {"db:db"}}}));  // the engine checks the links
  EXPECT_THROW(net::check_host_config(json{{"Links", "db:db"}}), InvalidArgument);
  EXPECT_NO_THROW(net::check_host_config(json{{"NetworkMode", "bridge"}}));
  EXPECT_THROW(net::check_host_config(json{{"NetworkMode", "container:x"}, {"PortBindings", {{"80/tcp", {{{"HostPort", "8080"}}}}}}}),
               hoist::Conflict);
  EXPECT_THAT([] { net::check_host_config(json{{"PortBindings", {{"80/tcpx", json::array()}}}}); },
              ThrowsMessage<InvalidArgument>(StrEq("invalid proto: tcpx")));
  EXPECT_THAT([] { net::check_host_config(json{{"PortBindings", {{"http/tcp", json::array()}}}}); },
              ThrowsMessage<InvalidArgument>(StrEq("invalid port specification: \"http\"")));
  EXPECT_THAT([] { net::check_host_config(json{{"PortBindings", {{"80/tcp", {{{"HostPort", "99999"}}}}}}}); },
              ThrowsMessage<InvalidArgument>(StrEq("invalid port specification: \"99999\"")));
  EXPECT_THROW(net::check_host_config(json{{"ExtraHosts", {"bad"}}}), InvalidArgument);
  EXPECT_THROW(net::check_host_config(json{{"Dns", 5}}), InvalidArgument);
  EXPECT_NO_THROW(net::check_host_config(json{{"NetworkMode", "appnet"}, {"Dns", {"1.1.1.1", "2001:db8::53"}}}));
  EXPECT_THAT([] { net::check_host_config(json{{"NetworkMode", "appnet"}, {"Dns", {"1.1.1.1", "resolver"}}}); },
              ThrowsMessage<InvalidArgument>(StrEq("bad nameserver address resolver: not an IP address")));
}

TEST(PortBindings, RangesHostAddressesAndDefaults) {
  auto b = net::port_bindings(json{{"PortBindings",
                                    {{"80/tcp", {{{"HostIp", "127.0.0.1"}, {"HostPort", "8000-8002"}}}},
                                     {"53/udp", {{{"HostPort", ""}}}},
                                     {"443", {{{"HostIp", "0.0.0.0"}, {"HostPort", "443"}}}}}}});
  ASSERT_EQ(b.size(), 3u);
  std::map<int, net::PortBindingSpec> by;
  for (auto& p : b) by[p.container_port] = p;
  EXPECT_EQ(by[80].host_ip, "127.0.0.1");
  EXPECT_EQ(by[80].host_port_lo, 8000);
  EXPECT_EQ(by[80].host_port_hi, 8002);
  EXPECT_EQ(by[53].proto, "udp");
  EXPECT_EQ(by[53].host_port_lo, 0);  // any free port
  EXPECT_EQ(by[443].proto, "tcp");
  EXPECT_EQ(by[443].host_ip, "");  // 0.0.0.0: every address
}

TEST(ContainerFiles, OwnAddressInHostsAndTheEmbeddedDnsInResolvConf) {
  auto hosts = net::hosts_file(net::Mode::Bridge, "", {}, {{"web", "10.1.0.2"}});
  EXPECT_NE(hosts.find("\n10.1.0.2\tweb\n"), std::string::npos);
  EXPECT_EQ(net::resolv_conf(net::Mode::Bridge, "search corp\nnameserver 127.0.0.53\noptions edns0\n", {}, true),
            "search corp\nnameserver 127.0.0.11\noptions edns0 ndots:0\n");
}

TEST(ResolvConf, EmbeddedDnsStaysTheNameserverWhenDnsIsGiven) {
  const std::string host = "search corp\nnameserver 127.0.0.53\noptions edns0\n";
  // --dns: the embedded server forwards to it; the file still names 127.0.0.11 alone.
  EXPECT_EQ(net::resolv_conf(net::Mode::Bridge, host, {{"192.0.2.53", "2001:db8::53"}, {}, {}}, true),
            "search corp\nnameserver 127.0.0.11\noptions edns0 ndots:0\n");
  // --dns-search and --dns-option replace the host's; ndots:0 unless an ndots option is given.
  EXPECT_EQ(net::resolv_conf(net::Mode::Bridge, host, {{"192.0.2.53"}, {"ex.com", "ex.org"}, {"timeout:1"}}, true),
            "search ex.com ex.org\nnameserver 127.0.0.11\noptions timeout:1 ndots:0\n");
  EXPECT_EQ(net::resolv_conf(net::Mode::Bridge, host, {{"192.0.2.53"}, {"."}, {"ndots:3"}}, true),
            "nameserver 127.0.0.11\noptions ndots:3\n");
  // Not on a user-defined network: the servers themselves.
  EXPECT_EQ(net::resolv_conf(net::Mode::Bridge, host, {{"192.0.2.53"}, {}, {}}, false),
            "search corp\nnameserver 192.0.2.53\noptions edns0\n");
}
