// /etc/hosts and /etc/resolv.conf of a container and the network fields of a HostConfig, against
// what a private dockerd 20.10 writes and answers for the same input.
#include <gmock/gmock.h>
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

TEST(NetworkMode, NoneHostAndDefaultWorkOthersAreRefused) {
  EXPECT_EQ(net::parse_mode(""), net::Mode::None);
  EXPECT_EQ(net::parse_mode("default"), net::Mode::None);
  EXPECT_EQ(net::parse_mode("none"), net::Mode::None);
  EXPECT_EQ(net::parse_mode("host"), net::Mode::Host);
  EXPECT_THAT([] { net::parse_mode("bridge"); }, ThrowsMessage<InvalidArgument>(HasSubstr("not supported yet")));
  EXPECT_THROW(net::parse_mode("container:abc"), InvalidArgument);
  EXPECT_THROW(net::parse_mode("container:"), InvalidArgument);
  // dockerd's words (a 404)
  EXPECT_THAT([] { net::parse_mode("backend"); }, ThrowsMessage<NotFound>(StrEq("network backend not found")));
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
  EXPECT_THROW(net::parse_extra_host("gw:host-gateway"), InvalidArgument);
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
  EXPECT_THROW(net::check_host_config(json{{"PortBindings", {{"80/tcp", {{{"HostPort", "8080"}}}}}}}), InvalidArgument);
  EXPECT_THROW(net::check_host_config(json{{"PublishAllPorts", true}}), InvalidArgument);
  EXPECT_THROW(net::check_host_config(json{{"Links", {"db:db"}}}), InvalidArgument);
  EXPECT_THROW(net::check_host_config(json{{"NetworkMode", "bridge"}}), InvalidArgument);
  EXPECT_THROW(net::check_host_config(json{{"ExtraHosts", {"bad"}}}), InvalidArgument);
  EXPECT_THROW(net::check_host_config(json{{"Dns", 5}}), InvalidArgument);
}
