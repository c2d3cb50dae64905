// The CLI's networking parts that need no daemon (cli/commands/network.h), with docker 28's CLI as the
// reference (each expectation was checked against `docker create` / `docker port` / `docker ps` with a
// private dockerd): -p/--publish and --expose parsing and every one of their errors, the PORTS column,
// `port`'s lines, NetworkingConfig from --network/--ip/--network-alias/--mac-address, the `network
// create` body with its checks, and `network ls`'s rows.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/commands/network.h"
#include "common/error.h"

using namespace hoist::cli;
using json = nlohmann::json;

namespace {

// The error message of parse_port_specs({spec}).
std::string publish_error(const std::string& spec) {
  try {
    parse_port_specs({spec});
  } catch (const hoist::InvalidArgument& e) {
    return e.what();
  }
  return "(accepted)";
}

std::string expose_error(const std::string& spec) {
  try {
    json exposed = json::object();
    add_exposed_ports(exposed, {spec});
  } catch (const hoist::InvalidArgument& e) {
    return e.what();
  }
  return "(accepted)";
}

Parsed flags(std::map<std::string, std::vector<std::string>> values, std::vector<std::string> args = {}) {
  Parsed p;
  p.values = std::move(values);
  p.args = std::move(args);
  return p;
}

json binding(const std::string& ip, const std::string& port) { return {{"HostIp", ip}, {"HostPort", port}}; }

}  // namespace

TEST(CliPublish, SpecsAsDockersNatParsePortSpecs) {
  auto r = parse_port_specs({"127.0.0.1:18080:80", "8000-8001:90-91/udp", "[::1]:18081:81", "7000"});
  EXPECT_EQ(r.exposed, json({{"80/tcp", json::object()},
                              {"90/udp", json::object()},
                              {"91/udp", json::object()},
                              {"81/tcp", json::object()},
                              {"7000/tcp", json::object()}}));
  EXPECT_EQ(r.bindings["80/tcp"], json::array({binding("127.0.0.1", "18080")}));
  EXPECT_EQ(r.bindings["90/udp"], json::array({binding("", "8000")}));
  EXPECT_EQ(r.bindings["91/udp"], json::array({binding("", "8001")}));
  EXPECT_EQ(r.bindings["81/tcp"], json::array({binding("::1", "18081")}));
  EXPECT_EQ(r.bindings["7000/tcp"], json::array({binding("", "")}));
  // A host range for one container port: the range the daemon picks from.
  EXPECT_EQ(parse_port_specs({"8000-8010:80"}).bindings["80/tcp"], json::array({binding("", "8000-8010")}));
  EXPECT_EQ(parse_port_specs({"127.0.0.1::80"}).bindings["80/tcp"], json::array({binding("127.0.0.1", "")}));
  EXPECT_EQ(parse_port_specs({":80"}).bindings["80/tcp"], json::array({binding("", "")}));
  EXPECT_EQ(parse_port_specs({"::1:80:80"}).bindings["80/tcp"], json::array({binding("::1", "80")}));
  EXPECT_EQ(parse_port_specs({"80/UDP"}).exposed, json({{"80/udp", json::object()}}));
  EXPECT_EQ(parse_port_specs({"80/"}).exposed, json({{"80/tcp", json::object()}}));
  EXPECT_EQ(parse_port_specs({"080"}).exposed, json({{"80/tcp", json::object()}}));
  EXPECT_EQ(parse_port_specs({"1-2-3"}).exposed, json({{"1/tcp", json::object()}, {"2/tcp", json::object()}}));
  auto two = parse_port_specs({"1.2.3.4:80-81:90-91"});
  EXPECT_EQ(two.bindings["90/tcp"], json::array({binding("1.2.3.4", "80")}));
  EXPECT_EQ(two.bindings["91/tcp"], json::array({binding("1.2.3.4", "81")}));
  // The same port twice: two bindings.
  EXPECT_EQ(parse_port_specs({"8000:80", "127.0.0.1:8001:80"}).bindings["80/tcp"],
            json::array({binding("", "8000"), binding("127.0.0.1", "8001")}));
  // docker's long form.
  auto longf = parse_port_specs({"target=80,published=8080,protocol=udp"});
  EXPECT_EQ(longf.bindings, json({{"80/udp", json::array({binding("", "8080")})}}));
  EXPECT_EQ(parse_port_specs({"target=80,mode=host"}).bindings, json({{"80/tcp", json::array({binding("", "")})}}));
  EXPECT_EQ(parse_port_specs({}).bindings, json::object());
}

TEST(CliPublish, ErrorsInDockersWords) {
  EXPECT_EQ(publish_error("x"), "invalid containerPort: x");
  EXPECT_EQ(publish_error("foo"), "invalid containerPort: foo");
  EXPECT_EQ(publish_error("70000"), "invalid containerPort: 70000");
  EXPECT_EQ(publish_error("80-79"), "invalid containerPort: 80-79");
  EXPECT_EQ(publish_error("80-x"), "invalid containerPort: 80-x");
  EXPECT_EQ(publish_error("+80"), "invalid containerPort: +80");
  EXPECT_EQ(publish_error(" 80"), "invalid containerPort:  80");
  EXPECT_EQ(publish_error("abc:80"), "invalid hostPort: abc");
  EXPECT_EQ(publish_error("80/xyz"), "invalid proto: xyz");
  EXPECT_EQ(publish_error("1.2.3:80:80"), "invalid IP address: 1.2.3");
  EXPECT_EQ(publish_error("a:b:c:d:80"), "invalid IP address: a:b:c");
  EXPECT_EQ(publish_error("[fe80::1%eth0]:80:80"), "invalid IP address: fe80::1%eth0");
  EXPECT_EQ(publish_error("[::1:80:80"), "invalid IP address [::1: address [::1:: missing ']' in address");
  EXPECT_EQ(publish_error("[::1]x:80:80"), "invalid IP address [::1]x: address [::1]x:: missing port in address");
  EXPECT_EQ(publish_error("[::1]:x:80:80"), "invalid IP address [::1]:x: address [::1]:x:: too many colons in address");
  EXPECT_EQ(publish_error(""), "no port specified: <empty>");
  EXPECT_EQ(publish_error("80:"), "no port specified: 80:<empty>");
  EXPECT_EQ(publish_error("/tcp"), "no port specified: /tcp<empty>");
  EXPECT_EQ(publish_error("published=8080"), "no port specified: 8080:/tcp<empty>");
  EXPECT_EQ(publish_error("target=80,bogus"), "invalid publish opts format (should be name=value but got 'bogus')");
  EXPECT_EQ(publish_error("80-81:90-92"), "invalid ranges specified for container and host Ports: 90-92 and 80-81");
  EXPECT_EQ(publish_error("80:90-91"), "invalid ranges specified for container and host Ports: 90-91 and 80");
}

TEST(CliPublish, Expose) {
  json exposed = json::object();
  add_exposed_ports(exposed, {"7000/udp", "7002-7003", "80/foo"});
  EXPECT_EQ(exposed, json({{"7000/udp", json::object()},
                           {"7002/tcp", json::object()},
                           {"7003/tcp", json::object()},
                           {"80/foo", json::object()}}));  // docker checks no protocol here
  EXPECT_EQ(expose_error("x"), "invalid range format for --expose: x, error: strconv.ParseUint: parsing \"x\": invalid syntax");
  EXPECT_EQ(expose_error("80-x"),
            "invalid range format for --expose: 80-x, error: strconv.ParseUint: parsing \"x\": invalid syntax");
  EXPECT_EQ(expose_error("70000"),
            "invalid range format for --expose: 70000, error: strconv.ParseUint: parsing \"70000\": value out of range");
  EXPECT_EQ(expose_error("1:2"), "invalid port format for --expose: 1:2");
  EXPECT_EQ(expose_error("90-80"), "invalid range format for --expose: 90-80, error: invalid range specified for port: 90-80");
  EXPECT_EQ(expose_error(""), "invalid range format for --expose: , error: empty string specified for ports");
}

TEST(CliPorts, PsColumnAsDockersDisplayablePorts) {
  auto port = [](const std::string& ip, int priv, int pub, const std::string& type) {
    json p = {{"PrivatePort", priv}, {"Type", type}};
    if (!ip.empty()) p["IP"] = ip;
    if (pub) p["PublicPort"] = pub;
    return p;
  };
  // What dockerd reported for -p 127.0.0.1:18099:80 -p 127.0.0.1:18100-18101:81-82/udp
  // --expose 7000-7002 -p 127.0.0.1::90, and what docker ps showed.
  json ports = {port("127.0.0.1", 80, 18099, "tcp"), port("127.0.0.1", 81, 18100, "udp"),
                port("127.0.0.1", 82, 18101, "udp"), port("127.0.0.1", 90, 32768, "tcp"),
                port("", 7000, 0, "tcp"),            port("", 7001, 0, "tcp"),
                port("", 7002, 0, "tcp")};
  EXPECT_EQ(ports_string(ports),
            "7000-7002/tcp, 127.0.0.1:18099->80/tcp, 127.0.0.1:18100->81/udp, 127.0.0.1:18101->82/udp, "
            "127.0.0.1:32768->90/tcp");
  // Published on the same numbers: grouped, IPv6 in brackets.
  EXPECT_EQ(ports_string({port("0.0.0.0", 8000, 8000, "tcp"), port("0.0.0.0", 8001, 8001, "tcp"),
                          port("::", 8000, 8000, "tcp"), port("::", 8001, 8001, "tcp")}),
            "0.0.0.0:8000-8001->8000-8001/tcp, [::]:8000-8001->8000-8001/tcp");
  EXPECT_EQ(ports_string({port("0.0.0.0", 80, 8000, "tcp"), port("::", 80, 8000, "tcp")}),
            "0.0.0.0:8000->80/tcp, [::]:8000->80/tcp");
  // A gap ends a group; protocols group apart.
  EXPECT_EQ(ports_string({port("", 80, 0, "tcp"), port("", 81, 0, "tcp"), port("", 83, 0, "tcp"), port("", 80, 0, "udp")}),
            "80-81/tcp, 83/tcp, 80/udp");
  EXPECT_EQ(ports_string(json::array()), "");
  EXPECT_EQ(ports_string(nullptr), "");
}

TEST(CliPorts, PortLinesInNaturalOrder) {
  json ports = {{"80/tcp", {binding("127.0.0.1", "18099"), binding("::", "18099")}},
                {"443/tcp", {binding("0.0.0.0", "8443")}},
                {"9/udp", {binding("0.0.0.0", "9")}},
                {"7000/tcp", nullptr}};
  EXPECT_EQ(port_lines(ports), (std::vector<std::string>{"9/udp -> 0.0.0.0:9", "80/tcp -> 127.0.0.1:18099",
                                                         "80/tcp -> [::]:18099", "443/tcp -> 0.0.0.0:8443"}));
  EXPECT_TRUE(natural_less("a2", "a10"));
  EXPECT_FALSE(natural_less("a10", "a2"));
  EXPECT_TRUE(natural_less("net1", "net01"));  // fewer zeros first
  EXPECT_TRUE(natural_less("1x", "x"));        // digits before other characters
  EXPECT_EQ(join_host_port("::1", "80"), "[::1]:80");
  EXPECT_EQ(join_host_port("1.2.3.4", "80"), "1.2.3.4:80");
}

TEST(CliNetworking, EndpointsAsDocker28SendsThem) {
  // No --network: the daemon's default, with an endpoint "default" for --ip and the like.
  auto none = networking_config(flags({}), "1.47");
  EXPECT_EQ(none.mode, "default");
  EXPECT_EQ(none.endpoints, json({{"default", json::object()}}));
  auto ip = networking_config(flags({{"ip", {"1.2.3.4"}}}), "1.47");
  EXPECT_EQ(ip.endpoints, json({{"default", {{"IPAMConfig", {{"IPv4Address", "1.2.3.4"}}}}}}));
  // One network without options: no endpoint settings.
  for (auto mode : {"none", "host", "bridge", "container:web", "mynet"}) {
    auto n = networking_config(flags({{"network", {mode}}}), "1.47");
    EXPECT_EQ(n.mode, mode);
    EXPECT_EQ(n.endpoints, json::object()) << mode;
  }
  auto full = networking_config(flags({{"network", {"mynet"}},
                                       {"ip", {"10.197.1.200"}},
                                       {"network-alias", {"a", "b"}},
                                       {"mac-address", {"02:42:ac:11:00:09"}}}),
                                "1.47");
  EXPECT_EQ(full.mode, "mynet");
  EXPECT_EQ(full.endpoints, json({{"mynet",
                                   {{"IPAMConfig", {{"IPv4Address", "10.197.1.200"}}},
                                    {"Aliases", {"a", "b"}},
                                    {"MacAddress", "02:42:ac:11:00:09"}}}}));
  EXPECT_EQ(full.config_mac, "");
  // Before API 1.44 the MAC address is the container's (Config.MacAddress).
  auto old = networking_config(flags({{"network", {"mynet"}}, {"mac-address", {"02:42:ac:11:00:09"}}}), "1.43");
  EXPECT_EQ(old.config_mac, "02:42:ac:11:00:09");
  EXPECT_EQ(old.endpoints, json({{"mynet", json::object()}}));
  // Several networks: an entry each, the plain flags on the first; docker's long form.
  auto two = networking_config(flags({{"network", {"n1", "name=n2,alias=x,ip=10.0.0.5"}}, {"network-alias", {"a"}}}), "");
  EXPECT_EQ(two.mode, "n1");
  EXPECT_EQ(two.endpoints, json({{"n1", {{"Aliases", {"a"}}}},
                                 {"n2", {{"Aliases", {"x"}}, {"IPAMConfig", {{"IPv4Address", "10.0.0.5"}}}}}}));
  EXPECT_EQ(networking_config(flags({{"net", {"host"}}}), "").mode, "host");
  EXPECT_TRUE(user_defined_network("mynet"));
  EXPECT_FALSE(user_defined_network("container:x"));
  EXPECT_FALSE(user_defined_network("default"));
}

TEST(CliNetworking, ErrorsInDockersWords) {
  auto error = [](std::map<std::string, std::vector<std::string>> v) -> std::string {
    try {
      networking_config(flags(std::move(v)), "");
    } catch (const hoist::Error& e) {
      return e.what();
    }
    return "(accepted)";
  };
  EXPECT_EQ(error({{"network-alias", {"x"}}}), "network-scoped aliases are only supported for user-defined networks");
  EXPECT_EQ(error({{"network", {"none"}}, {"network-alias", {"x"}}}),
            "network-scoped aliases are only supported for user-defined networks");
  EXPECT_EQ(error({{"network", {"mynet", "host"}}}),
            "conflicting options: cannot attach both user-defined and non-user-defined network-modes");
  EXPECT_EQ(error({{"network", {"mynet", "mynet"}}}), "network \"mynet\" is specified multiple times");
  EXPECT_EQ(error({{"network", {""}}}), "no name set for network");
  EXPECT_EQ(error({{"mac-address", {"bad"}}}), "bad is not a valid mac address");
  EXPECT_EQ(error({{"network", {"name=n,alias=x"}}, {"network-alias", {"y"}}}),
            "conflicting options: cannot specify both --network-alias and per-network alias");
  EXPECT_EQ(error({{"network", {"name=n,ip=1.2.3.4"}}, {"ip", {"1.2.3.5"}}}),
            "conflicting options: cannot specify both --ip and per-network IPv4 address");
  EXPECT_EQ(error({{"network", {"name=n,foo=1"}}}),
            "invalid argument \"name=n,foo=1\" for \"--network\" flag: invalid field key foo");
  EXPECT_EQ(error({{"network", {"none", "host"}}}), "(accepted)");  // the daemon refuses it, as with docker
}

TEST(CliNetworkCreate, BodyAsDocker28SendsIt) {
  auto b = network_create_body(flags({{"subnet", {"10.197.1.0/24"}},
                                      {"gateway", {"10.197.1.1"}},
                                      {"ip-range", {"10.197.1.128/25"}},
                                      {"label", {"a=b", "c"}},
                                      {"opt", {"com.docker.network.bridge.name=hx1"}},
                                      {"internal", {"true"}},
                                      {"attachable", {"true"}}}),
                               "testnet1", "1.41");
  // docker 28 against dockerd 20.10 (API 1.41) sent exactly this.
  EXPECT_EQ(b, json::parse(R"({"Driver":"bridge","Scope":"","IPAM":{"Driver":"default","Options":{},"Config":[
      {"Subnet":"10.197.1.0/24","IPRange":"10.197.1.128/25","Gateway":"10.197.1.1"}]},"Internal":true,
      "Attachable":true,"Ingress":false,"ConfigOnly":false,"ConfigFrom":null,
      "Options":{"com.docker.network.bridge.name":"hx1"},"Labels":{"a":"b","c":""},"Name":"testnet1",
      "CheckDuplicate":true})"));
  auto plain = network_create_body(flags({}), "plain1", "1.47");
  EXPECT_EQ(plain, json::parse(R"({"Driver":"bridge","Scope":"","IPAM":{"Driver":"default","Options":{},"Config":[]},
      "Internal":false,"Attachable":false,"Ingress":false,"ConfigOnly":false,"ConfigFrom":null,"Options":{},
      "Labels":{},"Name":"plain1"})"));  // no CheckDuplicate from API 1.44 on
  auto multi = network_create_body(flags({{"subnet", {"10.197.2.0/24,10.197.3.0/24"}},
                                          {"gateway", {"10.197.3.1"}},
                                          {"aux-address", {"host1=10.197.2.5"}},
                                          {"driver", {"bridge"}}}),
                                   "m", "");
  EXPECT_EQ(multi["IPAM"]["Config"],
            json::parse(R"([{"Subnet":"10.197.2.0/24","AuxiliaryAddresses":{"host1":"10.197.2.5"}},
                            {"Subnet":"10.197.3.0/24","Gateway":"10.197.3.1"}])"));
}

TEST(CliNetworkCreate, ChecksInDockersWords) {
  auto error = [](std::map<std::string, std::vector<std::string>> v) -> std::string {
    try {
      network_create_body(flags(std::move(v)), "n1", "");
    } catch (const hoist::Error& e) {
      return e.what();
    }
    return "(accepted)";
  };
  EXPECT_EQ(error({{"gateway", {"10.1.1.1"}}}), "every ip-range or gateway must have a corresponding subnet");
  EXPECT_EQ(error({{"subnet", {"10.1.0.0/16", "10.1.2.0/24"}}}), "multiple overlapping subnet configuration is not supported");
  EXPECT_EQ(error({{"subnet", {"10.1.0.0/16", "bad"}}}), "invalid subnet: invalid CIDR address: bad");
  EXPECT_EQ(error({{"subnet", {"bad"}}}), "(accepted)");  // one subnet: the daemon checks it, as with docker
  EXPECT_EQ(error({{"subnet", {"10.1.0.0/16"}}, {"ip-range", {"bad"}}}), "invalid CIDR address: bad");
  EXPECT_EQ(error({{"subnet", {"10.1.0.0/16"}}, {"ip-range", {"10.2.0.0/24"}}}), "no matching subnet for range 10.2.0.0/24");
  EXPECT_EQ(error({{"subnet", {"10.1.0.0/16"}}, {"gateway", {"10.2.0.1"}}}), "no matching subnet for gateway 10.2.0.1");
  EXPECT_EQ(error({{"subnet", {"10.1.0.0/16"}}, {"gateway", {"bad"}}}), "no matching subnet for gateway bad");
  EXPECT_EQ(error({{"subnet", {"10.1.0.0/16"}}, {"aux-address", {"x=10.2.0.1"}}}),
            "no matching subnet for aux-address 10.2.0.1");
  EXPECT_EQ(error({{"subnet", {"10.1.0.0/16,10.3.0.0/16"}}, {"gateway", {"10.1.0.1,10.1.0.2"}}}),
            "cannot configure multiple gateways (10.1.0.2, 10.1.0.1) for the same subnet (10.1.0.0/16)");
  EXPECT_EQ(error({{"subnet", {"10.1.0.0/16"}}, {"ip-range", {"10.1.1.0/24", "10.1.2.0/24"}}}),
            "every ip-range or gateway must have a corresponding subnet");
  EXPECT_EQ(error({{"subnet", {"10.1.0.0/16", "10.3.0.0/16"}}, {"ip-range", {"10.1.1.0/24", "10.1.2.0/24"}}}),
            "cannot configure multiple ranges (10.1.2.0/24, 10.1.1.0/24) on the same subnet (10.1.0.0/16)");
}

TEST(CliNetworkLs, Rows) {
  json n = json::parse(R"({"Name":"testnet1","Id":"967196ee7612237d6e18e5cbe0ec2cd20edc1cd333de02345603173cd88e8243",
      "Created":"2026-12-06T06:37:45.56439775Z","Scope":"local","Driver":"bridge","EnableIPv6":false,
      "Internal":true,"Labels":{"c":"","a":"b"}})");
  setenv("TZ", "UTC", 1);
  // What docker 28's `network ls --format json` printed for this network.
  EXPECT_EQ(network_row(n, true).dump(),
            R"({"CreatedAt":"2026-12-06 06:37:45.56439775 +0000 UTC","Driver":"bridge","ID":"967196ee7612",)"
            R"("IPv4":"false","IPv6":"false","Internal":"true","Labels":"a=b,c=","Name":"testnet1","Scope":"local"})");
  EXPECT_EQ(network_row(n, false)["ID"], n["Id"]);
  EXPECT_EQ(go_time_string_nano("2026-12-06T06:37:45Z"), "2026-12-06 06:37:45 +0000 UTC");
  EXPECT_EQ(go_time_string_nano("2026-12-06T06:37:45.100Z"), "2026-12-06 06:37:45.1 +0000 UTC");
  EXPECT_EQ(go_time_string_nano("0001-01-01T00:00:00Z"), "0001-01-01 00:00:00 +0000 UTC");
  EXPECT_EQ(csv_values({"a,b", "c", ""}), (std::vector<std::string>{"a", "b", "c"}));
}
