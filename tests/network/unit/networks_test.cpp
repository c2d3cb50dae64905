// The network controller's rules on a fake data plane: networks, addresses, sandboxes, ports,
// names, errors, and what a restart keeps.
#include "network/networks.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <set>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/file.h"

namespace net = hoist::network;
using ::testing::HasSubstr;
using ::testing::StrEq;
using ::testing::ThrowsMessage;
using nlohmann::json;

namespace {

struct FakeWorld {
  std::set<std::string> bridges, netns, veths;
  std::map<std::string, std::vector<std::string>> dns;  // scope → its upstreams
  std::set<std::tuple<std::string, std::uint32_t, std::uint16_t>> ports;
  net::NatRules nat;
  std::vector<net::Subnet> routes = {net::Subnet::parse("172.17.0.0/16"), net::Subnet::parse("192.0.2.0/24")};
  int fail_veth_after = -1;  // add_veth throws once this many succeeded
  std::uint16_t next_port = 40000;
};

class FakePlane : public net::DataPlane {
 public:
  explicit FakePlane(FakeWorld& w) : w_(w) {}
  void ensure_bridge(const net::BridgeConfig& c) override { w_.bridges.insert(c.name); }
  void delete_link(const std::string& name) override {
    w_.bridges.erase(name);
    w_.veths.erase(name);
  }
  void create_netns(const std::string& path, const net::DnsScope* dns) override {
    if (!w_.netns.insert(path).second) throw hoist::Error("netns " + path + " exists");
    if (dns) w_.dns[dns->scope] = dns->upstreams;
  }
  void remove_netns(const std::string& path) override {
    w_.netns.erase(path);
    // The container ends go with the namespace, and their host ends with them.
    for (auto it = w_.veths.begin(); it != w_.veths.end();)
      it = it->rfind(path + "|", 0) == 0 ? w_.veths.erase(it) : std::next(it);
  }
  bool is_netns(const std::string& path) override { return w_.netns.count(path) != 0; }
  void add_veth(const net::VethConfig& c) override {
    if (w_.fail_veth_after == 0) throw hoist::Error("add veth " + c.host_name + ": File exists");
    if (w_.fail_veth_after > 0) --w_.fail_veth_after;
    if (!w_.netns.count(c.netns_path)) throw hoist::Error("no netns " + c.netns_path);
    w_.veths.insert(c.netns_path + "|" + c.container_name);
  }
  void delete_link_in_netns(const std::string& p, const std::string& name) override { w_.veths.erase(p + "|" + name); }
  void apply_nat(const net::NatRules& rules) override { w_.nat = rules; }
  void remove_nat() override { w_.nat = {}; }
  std::uint16_t reserve_port(const std::string& proto, std::uint32_t ip, std::uint16_t port) override {
    if (port == 0) port = w_.next_port++;
    if (!w_.ports.insert({proto, ip, port}).second)
      throw hoist::Conflict("Bind for 0.0.0.0:" + std::to_string(port) + " failed: port is already allocated");
    return port;
  }
  void release_port(const std::string& proto, std::uint32_t ip, std::uint16_t port) override {
    w_.ports.erase({proto, ip, port});
  }
  std::vector<net::Subnet> host_routes() override { return w_.routes; }
  void set_sysctl(const std::string&, const std::string&) override {}
  void dns_add(const std::string& scope, const std::string&, const std::vector<std::string>& upstreams) override {
    w_.dns[scope] = upstreams;
  }
  void dns_remove(const std::string& scope) override { w_.dns.erase(scope); }

 private:
  FakeWorld& w_;
};

class NetworksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/hoist-networks-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ctl_ = make();
  }
  void TearDown() override {
    ctl_.reset();
    hoist::remove_all(dir_);
  }
  std::unique_ptr<net::NetworkController> make() {
    net::ControllerOptions o;
    o.state_dir = dir_ + "/state";
    o.netns_dir = dir_ + "/netns";
    o.bridge_name = "hoisttest0";
    o.icc = icc_;
    o.on_event = [this](const std::string& a, const net::NetworkInfo& n, const std::string& c) {
      events_.push_back(a + " " + n.name + (c.empty() ? "" : " " + c.substr(0, 4)));
    };
    auto c = std::make_unique<net::NetworkController>(o, std::make_unique<FakePlane>(w_));
    c->start();
    return c;
  }
  net::Sandbox attach(const std::string& id, const std::string& name, const std::string& mode,
                      std::map<std::string, net::EndpointRequest> eps = {}, std::vector<net::PortRequest> ports = {},
                      std::vector<std::string> dns_servers = {}) {
    net::AttachRequest r;
    r.container_id = id + std::string(64 - id.size(), '0');
    r.container_name = name;
    r.hostname = name;
    r.mode = mode;
    r.endpoints = std::move(eps);
    r.ports = std::move(ports);
    r.dns_servers = std::move(dns_servers);
    return ctl_->attach(r);
  }
  net::NetworkInfo create(const std::string& name, const std::string& subnet = "") {
    net::NetworkController::CreateRequest r;
    r.name = name;
    r.subnet = subnet;
    return ctl_->create(r);
  }
  // The NAT rules' entry of a bridge (its icc and ports).
  net::NatNetwork nat_of(const std::string& bridge) const {
    for (auto& n : w_.nat.networks)
      if (n.bridge == bridge) return n;
    ADD_FAILURE() << "no rules for " << bridge;
    return {};
  }
  std::string dir_;
  bool icc_ = true;  // hoistd --icc
  FakeWorld w_;
  std::vector<std::string> events_;
  std::unique_ptr<net::NetworkController> ctl_;
};

TEST_F(NetworksTest, PredefinedNetworksAndADefaultBridgeClearOfHostRoutes) {
  std::set<std::string> names;
  for (auto& n : ctl_->list()) names.insert(n.name + "/" + n.driver);
  EXPECT_EQ(names, (std::set<std::string>{"bridge/bridge", "host/host", "none/null"}));
  auto br = ctl_->get("bridge");
  // 172.17.0.0/16 is a host route here: the next of Docker's pools.
  EXPECT_EQ(br.subnet->str(), "172.18.0.0/16");
  EXPECT_EQ(net::ipv4_str(br.gateway), "172.18.0.1");
  EXPECT_TRUE(w_.bridges.count("hoisttest0"));
  EXPECT_THAT([&] { ctl_->remove("bridge"); },
              ThrowsMessage<hoist::Forbidden>("bridge is a pre-defined network and cannot be removed"));
  // The same ids after a restart.
  auto id = br.id;
  ctl_ = make();
  EXPECT_EQ(ctl_->get("bridge").id, id);
}

TEST_F(NetworksTest, CreateChecksNamesSubnetsAndGateways) {
  auto a = create("front", "10.190.1.0/24");
  EXPECT_EQ(net::ipv4_str(a.gateway), "10.190.1.1");
  EXPECT_EQ(a.bridge, "br-" + a.id.substr(0, 12));
  EXPECT_THAT([&] { create("front", "10.190.2.0/24"); },
              ThrowsMessage<hoist::Conflict>("network with name front already exists"));
  EXPECT_THAT([&] { create("other", "10.190.1.128/25"); }, ThrowsMessage<hoist::Forbidden>(HasSubstr("Pool overlaps")));
  net::NetworkController::CreateRequest r;
  r.name = "gw";
  r.subnet = "10.190.3.0/24";
  r.gateway = "10.190.4.1";
  EXPECT_THAT([&] { ctl_->create(r); }, ThrowsMessage<hoist::InvalidArgument>(HasSubstr("no matching subnet for gateway")));
  r.gateway = "";
  r.options = {{"com.docker.network.bridge.name", "bad name;"}};
  EXPECT_THROW(ctl_->create(r), hoist::InvalidArgument);
  r.options = {{"com.docker.network.bridge.name", "hbr-test"}, {"com.docker.network.driver.mtu", "1400"}};
  auto n = ctl_->create(r);
  EXPECT_EQ(n.bridge, "hbr-test");
  EXPECT_EQ(n.mtu, 1400);
  // Nothing half made by the failures: only the two networks exist besides the predefined ones.
  EXPECT_EQ(ctl_->list().size(), 5u);
  // Without a subnet: the first pool that neither a network nor a host route takes.
  auto auto_net = create("auto");
  EXPECT_EQ(auto_net.subnet->str(), "172.19.0.0/16");
  EXPECT_THAT([&] { ctl_->get("nope"); }, ThrowsMessage<hoist::NotFound>("network nope not found"));
  EXPECT_EQ(ctl_->get(a.id.substr(0, 6)).name, "front");
  EXPECT_EQ(events_.front(), "create front");
}

TEST_F(NetworksTest, AddressesComeInOrderAndAreNeverHandedOutTwice) {
  create("app", "10.190.5.0/24");
  auto a = attach("aa", "a", "app");
  auto b = attach("bb", "b", "app", {{"app", {.ip = net::parse_ipv4("10.190.5.50")}}});
  auto c = attach("cc", "c", "app");
  EXPECT_EQ(net::ipv4_str(a.endpoints[0].address), "10.190.5.2");
  EXPECT_EQ(net::ipv4_str(b.endpoints[0].address), "10.190.5.50");
  EXPECT_EQ(net::ipv4_str(c.endpoints[0].address), "10.190.5.3");
  EXPECT_EQ(a.endpoints[0].mac, "02:42:0a:be:05:02");
  EXPECT_EQ(a.endpoints[0].ifname, "eth0");
  EXPECT_THAT([&] { attach("dd", "d", "app", {{"app", {.ip = net::parse_ipv4("10.190.5.50")}}}); },
              ThrowsMessage<hoist::Forbidden>("Address already in use"));
  EXPECT_THAT([&] { attach("dd", "d", "bridge", {{"bridge", {.ip = net::parse_ipv4("172.18.0.9")}}}); },
              ThrowsMessage<hoist::InvalidArgument>("user specified IP address is supported on user defined networks only"));
  // The failed attaches left no namespace behind.
  EXPECT_EQ(w_.netns.size(), 3u);
  ctl_->release(a.container_id);
  EXPECT_EQ(w_.netns.size(), 2u);
  // A released address is not reused at once.
  auto d = attach("dd", "d", "app");
  EXPECT_EQ(net::ipv4_str(d.endpoints[0].address), "10.190.5.4");
  EXPECT_THAT([&] { ctl_->remove("app"); }, ThrowsMessage<hoist::Forbidden>(HasSubstr("has active endpoints")));
}

TEST_F(NetworksTest, AFailedAttachLeavesNothing) {
  create("one", "10.190.6.0/24");
  create("two", "10.190.7.0/24");
  w_.fail_veth_after = 1;  // the second network's veth fails
  EXPECT_THROW(attach("aa", "a", "one", {{"two", {}}}, {{.proto = "tcp", .container_port = 80, .host_port_lo = 8080, .host_port_hi = 8080}}),
               hoist::Error);
  EXPECT_TRUE(w_.netns.empty());
  EXPECT_TRUE(w_.veths.empty());
  EXPECT_TRUE(w_.ports.empty());
  EXPECT_FALSE(ctl_->sandbox(std::string("aa") + std::string(62, '0')));
  w_.fail_veth_after = -1;
  auto a = attach("aa", "a", "one", {{"two", {}}});
  // The failed try's lease went back (the next address comes after it, as after any release).
  EXPECT_EQ(net::ipv4_str(a.endpoints[0].address), "10.190.6.3");
  EXPECT_EQ(net::ipv4_str(a.endpoints[1].address), "10.190.7.3");
  EXPECT_EQ(a.endpoints[1].ifname, "eth1");
}

TEST_F(NetworksTest, PublishedPortsAreHeldAndBecomeNatRules) {
  auto s = attach("aa", "a", "bridge", {},
                  {{.proto = "tcp", .container_port = 80, .host_port_lo = 8080, .host_port_hi = 8080},
                   {.proto = "udp", .container_port = 53, .host_port_lo = 0},
                   {.proto = "tcp", .container_port = 443, .host_ip = *net::parse_ipv4("127.0.0.1"), .host_port_lo = 9000, .host_port_hi = 9002}});
  ASSERT_EQ(s.ports.size(), 3u);
  EXPECT_EQ(s.ports[0].host_port, 8080);
  EXPECT_EQ(s.ports[1].host_port, 40000);
  EXPECT_EQ(s.ports[2].host_port, 9000);
  ASSERT_EQ(w_.nat.ports.size(), 3u);
  EXPECT_EQ(w_.nat.ports[0].container_ip, s.endpoints[0].address);
  EXPECT_EQ(w_.nat.ports[0].bridge, "hoisttest0");
  // A range takes the next free port; a taken single port is Docker's error.
  auto t = attach("bb", "b", "bridge", {}, {{.proto = "tcp", .container_port = 443, .host_ip = *net::parse_ipv4("127.0.0.1"), .host_port_lo = 9000, .host_port_hi = 9002}});
  EXPECT_EQ(t.ports[0].host_port, 9001);
  EXPECT_THAT([&] { attach("cc", "c", "bridge", {}, {{.proto = "tcp", .container_port = 80, .host_port_lo = 8080, .host_port_hi = 8080}}); },
              ThrowsMessage<hoist::Conflict>(HasSubstr("port is already allocated")));
  ctl_->release(s.container_id);
  ctl_->release(t.container_id);
  EXPECT_TRUE(w_.ports.empty());
  EXPECT_TRUE(w_.nat.ports.empty());
}

TEST_F(NetworksTest, IccOffNetworksListTheirContainersPortsForTheRules) {
  net::NetworkController::CreateRequest r;
  r.name = "bad";
  r.subnet = "10.190.8.0/24";
  r.options = {{"com.docker.network.bridge.enable_icc", "maybe"}};
  EXPECT_THAT([&] { ctl_->create(r); },
              ThrowsMessage<hoist::InvalidArgument>(StrEq(
                  "failed to parse com.docker.network.bridge.enable_icc value: maybe (strconv.ParseBool: parsing \"maybe\": invalid syntax)")));
  r.name = "quiet";
  r.subnet = "10.190.9.0/24";
  r.options = {{"com.docker.network.bridge.enable_icc", "false"}};
  auto q = ctl_->create(r);
  EXPECT_FALSE(q.icc);
  EXPECT_EQ(q.options, r.options);  // shown by inspect as given
  EXPECT_FALSE(nat_of(q.bridge).icc);
  EXPECT_TRUE(nat_of(q.bridge).ports.empty());

  auto one = attach("a1", "one", "quiet");
  auto two = attach("b2", "two", "bridge");
  auto e = ctl_->connect(two.container_id, "quiet", {});
  EXPECT_EQ(nat_of(q.bridge).ports, (std::vector<std::string>{one.endpoints[0].host_ifname, e.host_ifname}));
  EXPECT_TRUE(nat_of("hoisttest0").icc);
  EXPECT_TRUE(nat_of("hoisttest0").ports.empty());  // icc on: its ports are not listed
  ctl_->disconnect(two.container_id, "quiet");
  EXPECT_EQ(nat_of(q.bridge).ports, (std::vector<std::string>{one.endpoints[0].host_ifname}));
  ctl_->release(one.container_id);
  EXPECT_TRUE(nat_of(q.bridge).ports.empty());

  // Kept across a restart, its sandboxes' ports listed again.
  auto three = attach("c3", "three", "quiet");
  ctl_ = make();
  EXPECT_FALSE(ctl_->get("quiet").icc);
  EXPECT_EQ(nat_of(q.bridge).ports, (std::vector<std::string>{three.endpoints[0].host_ifname}));
}

TEST_F(NetworksTest, TheDefaultBridgeTakesIccFromTheDaemon) {
  EXPECT_EQ(ctl_->get("bridge").options.at("com.docker.network.bridge.enable_icc"), "true");
  icc_ = false;
  ctl_ = make();
  auto br = ctl_->get("bridge");
  EXPECT_FALSE(br.icc);
  EXPECT_EQ(br.options.at("com.docker.network.bridge.enable_icc"), "false");
  auto one = attach("a1", "one", "bridge");
  EXPECT_FALSE(nat_of("hoisttest0").icc);
  EXPECT_EQ(nat_of("hoisttest0").ports, (std::vector<std::string>{one.endpoints[0].host_ifname}));
  ctl_->release(one.container_id);
  icc_ = true;  // the flag of each start
  ctl_ = make();
  EXPECT_TRUE(ctl_->get("bridge").icc);
  EXPECT_EQ(ctl_->get("bridge").options.at("com.docker.network.bridge.enable_icc"), "true");
}

TEST_F(NetworksTest, NamesAliasesAndReverseLookupsOnUserNetworksOnly) {
  create("web", "10.190.8.0/24");
  create("db", "10.190.9.0/24");
  auto a = attach("aa", "api", "web", {{"web", {.aliases = {"svc"}}}});
  auto b = attach("bb", "api2", "web", {{"web", {.aliases = {"svc"}}}});
  auto c = attach("cc", "pg", "db");
  auto d = attach("dd", "plain", "bridge");
  EXPECT_TRUE(w_.dns.count(a.container_id));
  EXPECT_FALSE(w_.dns.count(d.container_id));  // the default bridge has no embedded DNS
  auto ips = ctl_->lookup(a.container_id, "API2");
  ASSERT_EQ(ips.size(), 1u);
  EXPECT_EQ(ips[0], b.endpoints[0].address);
  EXPECT_EQ(ctl_->lookup(a.container_id, "svc").size(), 2u);
  EXPECT_EQ(ctl_->lookup(a.container_id, "api2.web").size(), 1u);
  EXPECT_EQ(ctl_->lookup(a.container_id, b.container_id.substr(0, 12)).size(), 1u);
  EXPECT_TRUE(ctl_->lookup(a.container_id, "pg").empty());  // another network: not reachable, not named
  EXPECT_TRUE(ctl_->lookup(d.container_id, "api").empty());
  EXPECT_EQ(ctl_->reverse(a.container_id, b.endpoints[0].address).value_or(""), "api2.web");
  EXPECT_FALSE(ctl_->reverse(a.container_id, c.endpoints[0].address));
  // Connected to db as well: pg is known from then on, and goes with the disconnect.
  ctl_->connect(a.container_id, "db", {});
  EXPECT_EQ(ctl_->lookup(a.container_id, "pg").size(), 1u);
  ctl_->disconnect(a.container_id, "db");
  EXPECT_TRUE(ctl_->lookup(a.container_id, "pg").empty());
  EXPECT_THAT([&] { ctl_->disconnect(a.container_id, "db"); }, ThrowsMessage<hoist::Forbidden>(HasSubstr("is not connected")));
}

// A link on a user-defined network: its alias names the linked container to the linking one
// alone (as dockerd's embedded DNS), kept across a restart of the controller; none on the
// default bridge (/etc/hosts lines there).
TEST_F(NetworksTest, ALinksAliasIsKnownToTheLinkingContainerAlone) {
  create("app", "10.190.12.0/24");
  auto db = attach("aa", "db", "app");
  auto web = attach("bb", "web", "app", {{"app", {.links = {"db:database"}}}});
  auto other = attach("cc", "other", "app");
  auto plain = attach("dd", "plain", "bridge", {{"bridge", {.links = {"db:database"}}}});
  ASSERT_EQ(ctl_->lookup(web.container_id, "database").size(), 1u);
  EXPECT_EQ(ctl_->lookup(web.container_id, "DATABASE.app")[0], db.endpoints[0].address);
  EXPECT_TRUE(ctl_->lookup(other.container_id, "database").empty());
  EXPECT_TRUE(ctl_->lookup(db.container_id, "database").empty());
  EXPECT_TRUE(ctl_->lookup(plain.container_id, "database").empty());
  EXPECT_EQ(ctl_->lookup(web.container_id, "db").size(), 1u);  // its own name still answers
  ctl_ = make();
  EXPECT_EQ(ctl_->lookup(web.container_id, "database").size(), 1u);
  EXPECT_THAT([&] { net::endpoint_request(json{{"Links", {"a:b:c"}}}); },
              ThrowsMessage<hoist::Error>(StrEq("bad format for links: a:b:c")));
}

TEST_F(NetworksTest, ARestartKeepsLiveSandboxesAndReleasesTheRest) {
  create("app", "10.190.10.0/24");
  auto a = attach("aa", "a", "app", {}, {{.proto = "tcp", .container_port = 80, .host_port_lo = 8081, .host_port_hi = 8081}});
  auto b = attach("bb", "b", "app");
  // hoistd killed: the controller goes without releasing; the port sockets die with the process.
  ctl_.reset();
  w_.ports.clear();
  w_.dns.clear();
  ctl_ = make();
  ASSERT_TRUE(ctl_->sandbox(a.container_id));
  EXPECT_TRUE(w_.ports.count({"tcp", 0, 8081}));  // held again
  EXPECT_TRUE(w_.dns.count(a.container_id));
  EXPECT_EQ(w_.nat.ports.size(), 1u);
  // b exited while hoistd was down.
  ctl_->release_except({a.container_id});
  EXPECT_FALSE(ctl_->sandbox(b.container_id));
  EXPECT_EQ(w_.netns.size(), 1u);
  auto c = attach("cc", "c", "app");
  EXPECT_EQ(net::ipv4_str(c.endpoints[0].address), "10.190.10.4");  // .3 was b's: not at once
  // A namespace that is gone (the host rebooted, say) releases its sandbox at start.
  ctl_.reset();
  w_.netns.clear();
  ctl_ = make();
  EXPECT_FALSE(ctl_->sandbox(a.container_id));
  EXPECT_TRUE(w_.nat.ports.empty());
  ctl_->remove("app");
}

TEST_F(NetworksTest, DnsServersGoToTheEmbeddedDnsAndOutliveARestart) {
  using Servers = std::vector<std::string>;
  create("app", "10.190.11.0/24");
  const Servers own = {"192.0.2.53", "2001:db8::53"};
  auto a = attach("aa", "a", "app", {}, {}, own);
  auto b = attach("bb", "b", "app");  // no --dns: the host's resolvers (the server's own list)
  auto c = attach("cc", "c", "bridge", {}, {}, {"192.0.2.54"});
  EXPECT_EQ(a.dns_servers, own);
  EXPECT_EQ(w_.dns.at(a.container_id), own);
  EXPECT_EQ(w_.dns.at(b.container_id), Servers{});
  // The default bridge has no embedded DNS; joining a user network brings it, with c's servers.
  EXPECT_FALSE(w_.dns.count(c.container_id));
  ctl_->connect(c.container_id, "app", {});
  EXPECT_EQ(w_.dns.at(c.container_id), Servers{"192.0.2.54"});
  // hoistd killed: the DNS sockets die with it; a restart adds every scope again with its servers.
  ctl_.reset();
  w_.dns.clear();
  ctl_ = make();
  EXPECT_EQ(w_.dns.at(a.container_id), own);
  EXPECT_EQ(w_.dns.at(b.container_id), Servers{});
  EXPECT_EQ(w_.dns.at(c.container_id), Servers{"192.0.2.54"});
  EXPECT_EQ(ctl_->sandbox(a.container_id)->dns_servers, own);
  ctl_->release(a.container_id);
  EXPECT_FALSE(w_.dns.count(a.container_id));
}

}  // namespace
