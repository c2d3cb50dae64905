// Subnets, Docker's default pools and the address leases of networks: each address handed out
// once, kept across a reload of the state file (a restart, or kill -9 of hoistd).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <set>

#include "common/error.h"
#include "network/ipam.h"

namespace net = hoist::network;
using net::Subnet;
using ::testing::HasSubstr;
using ::testing::ThrowsMessage;

namespace {

std::uint32_t ip(const char* s) { return *net::parse_ipv4(s); }

// Each test's state file, in the temp dir, gone after the test.
class IpamTest : public ::testing::Test {
 protected:
  ~IpamTest() override { std::filesystem::remove(file_); }
  std::string file() const { return file_; }

 private:
  std::string file_ = std::filesystem::temp_directory_path() /
                      ("hoist-ipam-" + std::to_string(getpid()) + "-" +
                       ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".json");
};

}  // namespace

TEST(Subnets, ParseAndOverlap) {
  auto s = Subnet::parse("172.17.0.0/16");
  EXPECT_EQ(s.str(), "172.17.0.0/16");
  EXPECT_TRUE(s.contains(ip("172.17.255.255")));
  EXPECT_FALSE(s.contains(ip("172.18.0.1")));
  EXPECT_EQ(net::ipv4_str(s.last()), "172.17.255.255");
  EXPECT_TRUE(s.overlaps(Subnet::parse("172.17.5.0/24")));
  EXPECT_TRUE(Subnet::parse("172.16.0.0/12").overlaps(s));
  EXPECT_FALSE(s.overlaps(Subnet::parse("172.18.0.0/16")));
  for (const char* bad : {"172.17.0.1/16", "172.17.0.0", "172.17.0.0/33", "300.1.1.0/24", "1.2.3.0/x", "1.2.3.0/"})
    EXPECT_THROW(Subnet::parse(bad), hoist::InvalidArgument) << bad;
  EXPECT_EQ(Subnet::parse("0.0.0.0/0").mask(), 0u);
}

TEST(Subnets, DockersDefaultPoolsSkipWhatIsTaken) {
  auto pools = net::default_pools();
  ASSERT_EQ(pools.size(), 15u + 16u);
  EXPECT_EQ(pools.front().str(), "172.17.0.0/16");
  EXPECT_EQ(pools[15].str(), "192.168.0.0/20");
  EXPECT_EQ(pools.back().str(), "192.168.240.0/20");
  // A host route into 172.17/16 and a network on 172.18/16: the next free one.
  auto s = net::choose_subnet(pools, {Subnet::parse("172.17.3.0/24"), Subnet::parse("172.18.0.0/16")});
  ASSERT_TRUE(s);
  EXPECT_EQ(s->str(), "172.19.0.0/16");
  EXPECT_FALSE(net::choose_subnet(pools, {Subnet::parse("0.0.0.0/0")}));
}

TEST_F(IpamTest, AddressesAreHandedOutOnceInOrderWrappingAround) {
  net::Ipam ipam(file());
  ipam.add_network("n1", Subnet::parse("10.9.0.0/29"), ip("10.9.0.1"));  // hosts .1 to .6
  std::set<std::uint32_t> got;
  for (int i = 0; i < 5; ++i) got.insert(ipam.allocate("n1", "c" + std::to_string(i)));
  EXPECT_EQ(got, (std::set<std::uint32_t>{ip("10.9.0.2"), ip("10.9.0.3"), ip("10.9.0.4"), ip("10.9.0.5"),
                                          ip("10.9.0.6")}));
  EXPECT_THROW(ipam.allocate("n1", "full"), hoist::Error);
  ipam.release("n1", ip("10.9.0.3"));
  EXPECT_EQ(ipam.allocate("n1", "again"), ip("10.9.0.3"));
  // The gateway is never handed out nor released.
  ipam.release("n1", ip("10.9.0.1"));
  EXPECT_EQ(ipam.leases("n1").at(ip("10.9.0.1")), "");
}

TEST_F(IpamTest, AReleasedAddressIsNotReusedAtOnce) {
  net::Ipam ipam(file());
  ipam.add_network("n", Subnet::parse("10.8.0.0/24"), ip("10.8.0.1"));
  auto a = ipam.allocate("n", "a");
  ipam.release("n", a);
  EXPECT_NE(ipam.allocate("n", "b"), a);
}

TEST_F(IpamTest, FixedAddressesRangesAndErrors) {
  net::Ipam ipam(file());
  ipam.add_network("n", Subnet::parse("10.7.0.0/24"), ip("10.7.0.1"), Subnet::parse("10.7.0.128/25"));
  EXPECT_EQ(ipam.allocate("n", "auto"), ip("10.7.0.128"));
  EXPECT_EQ(ipam.allocate("n", "fixed", ip("10.7.0.9")), ip("10.7.0.9"));  // outside the range, inside the subnet
  EXPECT_THAT([&] { ipam.allocate("n", "dup", ip("10.7.0.9")); },
              ThrowsMessage<hoist::Conflict>(HasSubstr("Address already in use")));
  EXPECT_THROW(ipam.allocate("n", "gw", ip("10.7.0.1")), hoist::Conflict);
  EXPECT_THROW(ipam.allocate("n", "out", ip("10.8.0.9")), hoist::InvalidArgument);
  EXPECT_THROW(ipam.allocate("n", "bcast", ip("10.7.0.255")), hoist::InvalidArgument);
  EXPECT_THROW(ipam.allocate("nope", "x"), hoist::NotFound);
  EXPECT_THROW(ipam.add_network("n", Subnet::parse("10.6.0.0/24"), ip("10.6.0.1")), hoist::Conflict);
  EXPECT_THROW(ipam.add_network("m", Subnet::parse("10.6.0.0/24"), ip("10.5.0.1")), hoist::InvalidArgument);
  EXPECT_THROW(ipam.add_network("m", Subnet::parse("10.6.0.0/24"), ip("10.6.0.1"), Subnet::parse("10.5.0.0/25")),
               hoist::InvalidArgument);
}

TEST_F(IpamTest, LeasesSurviveAReload) {
  std::uint32_t a, b;
  {
    net::Ipam ipam(file());
    ipam.add_network("n", Subnet::parse("10.4.0.0/24"), ip("10.4.0.1"));
    a = ipam.allocate("n", "web");
    b = ipam.allocate("n", "db");
  }  // nothing more is written when it goes: every change is on disk already
  net::Ipam again(file());
  ASSERT_TRUE(again.has_network("n"));
  auto leases = again.leases("n");
  EXPECT_EQ(leases.at(a), "web");
  EXPECT_EQ(leases.at(b), "db");
  auto c = again.allocate("n", "cache");
  EXPECT_NE(c, a);
  EXPECT_NE(c, b);
  again.remove_network("n");
  EXPECT_FALSE(net::Ipam(file()).has_network("n"));
}
