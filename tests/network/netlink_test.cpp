// The rtnetlink data plane (network/netlink.h) on the real kernel: namespaces, bridges, veth
// pairs, routes, sysctls. Root. Each test makes its own namespace files in a temp dir, its own
// links ("hnt"/"hnv" + random hex) and a free 10.199.x.0/24, talks only to loopback and to what
// it made, and removes everything in TearDown, also after a failed assertion.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "common/error.h"
#include "common/fd.h"
#include "common/file.h"
#include "network/netlink.h"

namespace hoist::network {
namespace {

std::string random_hex(int n) {
  static std::mt19937_64 rng{std::random_device{}()};
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < n; ++i) s += digits[rng() % 16];
  return s;
}

// ---- what a user would see, read without libnl in the calling thread's namespace ----

std::vector<std::string> link_names() {
  std::vector<std::string> out;
  struct if_nameindex* all = if_nameindex();  // a netlink dump in the calling thread's namespace
  for (auto* i = all; i && i->if_index != 0; ++i) out.push_back(i->if_name);
  if (all) if_freenameindex(all);
  std::sort(out.begin(), out.end());
  return out;
}

struct IfInfo {
  unsigned flags = 0;
  int mtu = 0;
  std::string mac;
  std::uint32_t address = 0, netmask = 0;
};

IfInfo if_info(const std::string& name) {
  UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  IfInfo info;
  ifreq r{};
  std::snprintf(r.ifr_name, IFNAMSIZ, "%s", name.c_str());
  if (::ioctl(s.get(), SIOCGIFFLAGS, &r) != 0) throw_sys("SIOCGIFFLAGS", name);
  info.flags = static_cast<unsigned short>(r.ifr_flags);
  if (::ioctl(s.get(), SIOCGIFMTU, &r) == 0) info.mtu = r.ifr_mtu;
  if (::ioctl(s.get(), SIOCGIFHWADDR, &r) == 0) {
    char mac[18];
    auto* b = reinterpret_cast<unsigned char*>(r.ifr_hwaddr.sa_data);
    std::snprintf(mac, sizeof mac, "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4], b[5]);
    info.mac = mac;
  }
  if (::ioctl(s.get(), SIOCGIFADDR, &r) == 0)
    info.address = ntohl(reinterpret_cast<sockaddr_in*>(&r.ifr_addr)->sin_addr.s_addr);
  if (::ioctl(s.get(), SIOCGIFNETMASK, &r) == 0)
    info.netmask = ntohl(reinterpret_cast<sockaddr_in*>(&r.ifr_netmask)->sin_addr.s_addr);
  return info;
}

// The default route's gateway and device in the calling *thread's* namespace (/proc/self/net is
// the main thread's).
std::optional<std::pair<std::string, std::uint32_t>> default_route() {
  std::ifstream in("/proc/thread-self/net/route");
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string dev, dst, gw;
    f >> dev >> dst >> gw;
    if (dst == "00000000") return std::pair{dev, ntohl(static_cast<std::uint32_t>(std::stoul(gw, nullptr, 16)))};
  }
  return std::nullopt;
}

ino_t inode_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw_sys("stat", path);
  return st.st_ino;
}

std::string master_of(const std::string& link) {
  char buf[256];
  ssize_t n = ::readlink(("/sys/class/net/" + link + "/master").c_str(), buf, sizeof buf - 1);
  if (n < 0) return "";
  std::string target(buf, static_cast<std::size_t>(n));
  return target.substr(target.rfind('/') + 1);
}

// Polls `cond` for up to 2 s (the kernel frees a namespace's devices asynchronously).
bool eventually(const std::function<bool()>& cond) {
  for (int i = 0; i < 200; ++i) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return cond();
}

bool wait_fd(int fd, short events) {
  pollfd p{fd, events, 0};
  return ::poll(&p, 1, 3000) == 1;
}

// A subnet 10.199.x.0/24 that no host route uses (a test's bridge is up, so its subnet is a
// route). The random start keeps tests running in parallel processes apart.
Subnet free_subnet() {
  static std::mt19937 rng{std::random_device{}()};
  auto routes = host_routes();
  const std::uint32_t start = rng() % 256;
  for (std::uint32_t i = 0; i < 256; ++i) {
    Subnet s{(10u << 24) | (199u << 16) | (((start + i) % 256) << 8), 24};
    bool free = true;
    for (const auto& r : routes) free = free && !r.overlaps(s);
    if (free) return s;
  }
  throw Error("no free 10.199.x.0/24");
}

class NetlinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    char tmpl[] = "/tmp/hoist-netlink-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    for (const auto& p : netns_) try_quietly([&] { remove_netns(p); });
    for (const auto& l : links_) try_quietly([&] { delete_link(l); });
    if (dir_.empty()) return;
    // create_netns made the directory a private mount of its own.
    for (int i = 0; i < 4 && ::umount2(dir_.c_str(), MNT_DETACH) == 0; ++i) {
    }
    try_quietly([&] { remove_all(dir_); });
  }
  static void try_quietly(const std::function<void()>& f) {
    try {
      f();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "cleanup: " << e.what();
    }
  }

  // A path for a namespace in the test's directory (not created); removed in TearDown.
  std::string netns_path(const std::string& name) {
    netns_.push_back(dir_ + "/" + name);
    return netns_.back();
  }
  std::string new_netns(const std::string& name) {
    auto p = netns_path(name);
    create_netns(p);
    return p;
  }
  // A fresh link name (≤ 15 bytes), deleted in TearDown.
  std::string link_name(const std::string& prefix) {
    links_.push_back(prefix + random_hex(8));
    return links_.back();
  }
  BridgeConfig new_bridge(int mtu = 0) {
    BridgeConfig c;
    c.name = link_name("hnt");
    c.subnet = free_subnet();
    c.gateway = c.subnet.base + 1;
    c.mtu = mtu;
    ensure_bridge(c);
    return c;
  }
  VethConfig veth_for(const BridgeConfig& br, const std::string& ns) {
    VethConfig v;
    v.bridge = br.name;
    v.host_name = link_name("hnv");
    v.netns_path = ns;
    v.container_name = "eth0";
    v.address = br.subnet.base + 2;
    v.prefix = br.subnet.prefix;
    v.gateway = br.gateway;
    return v;
  }

  std::string dir_;
  std::vector<std::string> netns_, links_;
};

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

// ---- namespaces ----

TEST_F(NetlinkTest, CreatedNetnsHasOnlyLoUp) {
  const ino_t mine = inode_of("/proc/thread-self/ns/net");
  auto ns = new_netns("c1");
  EXPECT_TRUE(is_netns(ns));
  EXPECT_NE(inode_of(ns), mine);
  EXPECT_EQ(inode_of("/proc/thread-self/ns/net"), mine) << "the calling thread moved";
  EXPECT_EQ(inode_of("/proc/self/ns/net"), mine) << "the process moved";

  std::vector<std::string> names;
  IfInfo lo;
  ino_t inside = 0;
  in_netns(ns, [&] {
    names = link_names();
    lo = if_info("lo");
    inside = inode_of("/proc/thread-self/ns/net");
  });
  EXPECT_EQ(names, std::vector<std::string>{"lo"});
  EXPECT_TRUE(lo.flags & IFF_UP);
  EXPECT_EQ(inside, inode_of(ns));
}

TEST_F(NetlinkTest, CreateNetnsRefusesAnExistingNamespace) {
  auto ns = new_netns("c1");
  auto err = error_of([&] { create_netns(ns); });
  EXPECT_NE(err.find("already a network namespace"), std::string::npos) << err;
  EXPECT_TRUE(is_netns(ns));
}

TEST_F(NetlinkTest, CreateNetnsInAMissingDirectoryNamesThePath) {
  auto bad = dir_ + "/missing/c1";
  auto err = error_of([&] { create_netns(bad); });
  EXPECT_NE(err.find(dir_ + "/missing"), std::string::npos) << err;
}

TEST_F(NetlinkTest, IsNetnsOnlyForMountedNetworkNamespaces) {
  EXPECT_FALSE(is_netns(dir_ + "/absent"));
  write_file(dir_ + "/plain", "", O_CREAT);
  EXPECT_FALSE(is_netns(dir_ + "/plain"));
  EXPECT_FALSE(is_netns("/proc/self/ns/mnt"));  // nsfs, but another kind
  EXPECT_TRUE(is_netns("/proc/self/ns/net"));
}

TEST_F(NetlinkTest, RemoveNetnsUnmountsAndUnlinksOnce) {
  auto ns = new_netns("c1");
  remove_netns(ns);
  EXPECT_FALSE(is_netns(ns));
  EXPECT_FALSE(path_exists(ns));
  EXPECT_NO_THROW(remove_netns(ns));  // absent: nothing
  // The file is free for a new namespace.
  create_netns(ns);
  EXPECT_TRUE(is_netns(ns));
}

TEST_F(NetlinkTest, CreateNetnsReusesALeftoverPlainFile) {
  auto ns = netns_path("c1");
  write_file(ns, "", O_CREAT);  // as a crash between create and mount would leave it
  create_netns(ns);
  EXPECT_TRUE(is_netns(ns));
}

TEST_F(NetlinkTest, InNetnsPassesExceptionsOn) {
  auto ns = new_netns("c1");
  EXPECT_THROW(in_netns(ns, [] { throw InvalidArgument("from inside"); }), InvalidArgument);
  auto err = error_of([&] { in_netns(dir_ + "/absent", [] {}); });
  EXPECT_NE(err.find(dir_ + "/absent"), std::string::npos) << err;
  write_file(dir_ + "/plain", "", O_CREAT);
  EXPECT_THROW(in_netns(dir_ + "/plain", [] {}), Error);
}

// ---- bridges ----

TEST_F(NetlinkTest, EnsureBridgeCreatesAndIsIdempotent) {
  auto br = new_bridge(1400);
  ASSERT_TRUE(link_exists(br.name));
  EXPECT_NO_THROW(ensure_bridge(br));  // a daemon restart
  auto info = if_info(br.name);
  EXPECT_TRUE(info.flags & IFF_UP);
  EXPECT_EQ(info.mtu, 1400);
  EXPECT_EQ(info.address, br.gateway);
  EXPECT_EQ(info.netmask, br.subnet.mask());
  auto addrs = host_addresses();
  EXPECT_EQ(std::count(addrs.begin(), addrs.end(), br.gateway), 1);
  auto routes = host_routes();
  EXPECT_NE(std::find(routes.begin(), routes.end(), br.subnet), routes.end()) << br.subnet.str();
}

TEST_F(NetlinkTest, EnsureBridgeRefusesAnotherKindOfLink) {
  // Inside a namespace of the test's own, so the host's lo is never at stake.
  auto ns = new_netns("c1");
  std::string err;
  in_netns(ns, [&] {
    BridgeConfig c{"lo", Subnet::parse("10.199.0.0/24"), *parse_ipv4("10.199.0.1")};
    try {
      ensure_bridge(c);
    } catch (const Conflict& e) {
      err = e.what();
    }
    EXPECT_EQ(if_info("lo").address, *parse_ipv4("127.0.0.1"));
  });
  EXPECT_NE(err.find("lo exists and is not a bridge"), std::string::npos) << err;
}

TEST_F(NetlinkTest, EnsureBridgeRefusesAGatewayOutsideItsSubnet) {
  BridgeConfig c{link_name("hnt"), Subnet::parse("10.199.0.0/24"), *parse_ipv4("10.198.0.1")};
  EXPECT_THROW(ensure_bridge(c), InvalidArgument);
  EXPECT_FALSE(link_exists(c.name));
}

TEST_F(NetlinkTest, LinkExistsAndDeleteLink) {
  auto br = new_bridge();
  EXPECT_TRUE(link_exists(br.name));
  EXPECT_TRUE(link_exists("lo"));
  delete_link(br.name);
  EXPECT_FALSE(link_exists(br.name));
  EXPECT_NO_THROW(delete_link(br.name));  // absent: nothing
  EXPECT_FALSE(link_exists("a-name-far-too-long-for-a-link"));
  EXPECT_THROW(delete_link("bad/name"), InvalidArgument);
}

// ---- veth pairs ----

TEST_F(NetlinkTest, AddVethConfiguresTheContainerEnd) {
  auto br = new_bridge();
  auto ns = new_netns("c1");
  auto v = veth_for(br, ns);
  v.mac = "02:42:0a:c7:00:02";
  v.mtu = 1400;
  add_veth(v);

  auto host = if_info(v.host_name);
  EXPECT_TRUE(host.flags & IFF_UP);
  EXPECT_EQ(host.mtu, 1400);
  EXPECT_EQ(master_of(v.host_name), br.name);
  EXPECT_FALSE(link_exists("eth0") && if_info("eth0").mac == v.mac) << "the peer showed up on the host";

  std::vector<std::string> names;
  IfInfo eth0;
  std::optional<std::pair<std::string, std::uint32_t>> route;
  in_netns(ns, [&] {
    names = link_names();
    eth0 = if_info("eth0");
    route = default_route();
  });
  EXPECT_EQ(names, (std::vector<std::string>{"eth0", "lo"}));
  EXPECT_TRUE(eth0.flags & IFF_UP);
  EXPECT_EQ(eth0.mac, v.mac);
  EXPECT_EQ(eth0.mtu, 1400);
  EXPECT_EQ(eth0.address, v.address);
  EXPECT_EQ(eth0.netmask, br.subnet.mask());
  ASSERT_TRUE(route);
  EXPECT_EQ(route->first, "eth0");
  EXPECT_EQ(route->second, br.gateway);
}

TEST_F(NetlinkTest, AddVethWithoutGatewayOrMacKeepsKernelDefaults) {
  auto br = new_bridge();
  auto ns = new_netns("c1");
  auto v = veth_for(br, ns);
  v.gateway.reset();
  add_veth(v);
  IfInfo eth0;
  std::optional<std::pair<std::string, std::uint32_t>> route;
  in_netns(ns, [&] {
    eth0 = if_info("eth0");
    route = default_route();
  });
  EXPECT_EQ(eth0.mtu, 1500);
  EXPECT_EQ(eth0.address, v.address);
  EXPECT_FALSE(route);
}

TEST_F(NetlinkTest, TcpFromTheHostReachesTheContainerThroughTheBridge) {
  auto br = new_bridge();
  auto ns = new_netns("c1");
  auto v = veth_for(br, ns);
  add_veth(v);

  UniqueFd listener;
  in_netns(ns, [&] {  // the socket belongs to the namespace it was made in
    listener.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    if (::bind(listener.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) throw_sys("bind");
    if (::listen(listener.get(), 1) != 0) throw_sys("listen");
  });
  sockaddr_in bound{};
  socklen_t len = sizeof bound;
  ASSERT_EQ(::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&bound), &len), 0);

  UniqueFd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = bound.sin_port;
  to.sin_addr.s_addr = htonl(v.address);
  int rc = ::connect(client.get(), reinterpret_cast<sockaddr*>(&to), sizeof to);
  ASSERT_TRUE(rc == 0 || errno == EINPROGRESS) << std::strerror(errno);
  ASSERT_TRUE(wait_fd(client.get(), POLLOUT)) << "connect timed out";
  int so_error = 0;
  socklen_t elen = sizeof so_error;
  ::getsockopt(client.get(), SOL_SOCKET, SO_ERROR, &so_error, &elen);
  ASSERT_EQ(so_error, 0) << std::strerror(so_error);
  ASSERT_EQ(::write(client.get(), "ping", 4), 4);

  ASSERT_TRUE(wait_fd(listener.get(), POLLIN));
  sockaddr_in peer{};
  socklen_t plen = sizeof peer;
  UniqueFd conn(::accept4(listener.get(), reinterpret_cast<sockaddr*>(&peer), &plen, SOCK_CLOEXEC));
  ASSERT_TRUE(conn.valid());
  EXPECT_EQ(ntohl(peer.sin_addr.s_addr), br.gateway) << "not through the bridge";
  char buf[4] = {};
  ASSERT_TRUE(wait_fd(conn.get(), POLLIN));
  ASSERT_EQ(::read(conn.get(), buf, 4), 4);
  EXPECT_EQ(std::string(buf, 4), "ping");
}

TEST_F(NetlinkTest, RemoveNetnsTakesTheHostEndAway) {
  auto br = new_bridge();
  auto ns = new_netns("c1");
  auto v = veth_for(br, ns);
  add_veth(v);
  ASSERT_TRUE(link_exists(v.host_name));
  remove_netns(ns);
  EXPECT_TRUE(eventually([&] { return !link_exists(v.host_name); }));
}

TEST_F(NetlinkTest, DeleteLinkInNetnsDeletesThePair) {
  auto br = new_bridge();
  auto ns = new_netns("c1");
  auto v = veth_for(br, ns);
  add_veth(v);
  delete_link_in_netns(ns, "eth0");
  EXPECT_TRUE(eventually([&] { return !link_exists(v.host_name); }));
  EXPECT_NO_THROW(delete_link_in_netns(ns, "eth0"));  // absent: nothing
  std::vector<std::string> names;
  in_netns(ns, [&] { names = link_names(); });
  EXPECT_EQ(names, std::vector<std::string>{"lo"});
  remove_netns(ns);
  EXPECT_NO_THROW(delete_link_in_netns(ns, "eth0"));  // the namespace is gone
}

// All or nothing: whatever fails, no veth is left behind, on either side.
TEST_F(NetlinkTest, AddVethFailuresLeaveNoVeth) {
  auto br = new_bridge();
  auto ns = new_netns("c1");
  auto inside = [&] {
    std::vector<std::string> names;
    in_netns(ns, [&] { names = link_names(); });
    return names;
  };

  auto v = veth_for(br, ns);
  v.netns_path = dir_ + "/absent";
  auto err = error_of([&] { add_veth(v); });
  EXPECT_NE(err.find("add veth " + v.host_name + " (peer eth0 in " + v.netns_path + ")"), std::string::npos) << err;
  EXPECT_FALSE(link_exists(v.host_name));

  v = veth_for(br, ns);
  write_file(dir_ + "/plain", "", O_CREAT);
  v.netns_path = dir_ + "/plain";
  EXPECT_THROW(add_veth(v), Error);
  EXPECT_FALSE(link_exists(v.host_name));

  v = veth_for(br, ns);
  v.bridge = "hntabsent" + random_hex(4);
  err = error_of([&] { add_veth(v); });
  EXPECT_NE(err.find(v.bridge), std::string::npos) << err;
  EXPECT_FALSE(link_exists(v.host_name));

  v = veth_for(br, ns);
  v.bridge = "lo";  // exists, but no bridge
  EXPECT_THROW(add_veth(v), InvalidArgument);
  EXPECT_FALSE(link_exists(v.host_name));

  v = veth_for(br, ns);
  v.mac = "not-a-mac";
  EXPECT_THROW(add_veth(v), InvalidArgument);
  EXPECT_FALSE(link_exists(v.host_name));

  // Fails after the pair exists: the kernel refuses a gateway outside eth0's subnet.
  v = veth_for(br, ns);
  v.gateway = *parse_ipv4("10.198.0.1");
  err = error_of([&] { add_veth(v); });
  EXPECT_NE(err.find("add default route via 10.198.0.1"), std::string::npos) << err;
  EXPECT_FALSE(link_exists(v.host_name));
  EXPECT_EQ(inside(), std::vector<std::string>{"lo"});
}

TEST_F(NetlinkTest, AddVethDoesNotTouchAPairItDidNotMake) {
  auto br = new_bridge();
  auto ns = new_netns("c1");
  auto first = veth_for(br, ns);
  add_veth(first);
  auto second = veth_for(br, ns);  // eth0 again in the same namespace
  second.address += 1;
  std::string err;
  try {
    add_veth(second);
  } catch (const Conflict& e) {
    err = e.what();
  }
  EXPECT_EQ(err, "add veth " + second.host_name + " (peer eth0 in " + ns + "): File exists");
  EXPECT_FALSE(link_exists(second.host_name));
  EXPECT_TRUE(link_exists(first.host_name));
  auto dup = veth_for(br, ns);  // the host end's name taken
  dup.host_name = first.host_name;
  dup.container_name = "eth1";
  EXPECT_THROW(add_veth(dup), Conflict);
  EXPECT_TRUE(link_exists(first.host_name));
}

// ---- host state and sysctls ----

TEST_F(NetlinkTest, HostRoutesAndAddresses) {
  auto br = new_bridge();
  auto routes = host_routes();
  EXPECT_NE(std::find(routes.begin(), routes.end(), br.subnet), routes.end());
  for (const auto& r : routes) {
    EXPECT_GT(r.prefix, 0) << r.str();
    EXPECT_EQ(r.base & ~r.mask(), 0u) << r.str();
  }
  auto addrs = host_addresses();
  EXPECT_NE(std::find(addrs.begin(), addrs.end(), *parse_ipv4("127.0.0.1")), addrs.end());
  EXPECT_NE(std::find(addrs.begin(), addrs.end(), br.gateway), addrs.end());
}

TEST_F(NetlinkTest, SetSysctlWritesOnlyAChange) {
  // In a namespace of the test's own: /proc/sys/net follows the opening thread's namespace.
  auto ns = new_netns("c1");
  const std::string host_value = read_file("/proc/sys/net/ipv4/ip_forward");
  in_netns(ns, [&] {
    const std::string path = "/proc/sys/net/ipv4/ip_forward";
    const std::string other = read_file(path).starts_with("1") ? "0" : "1";
    set_sysctl("net/ipv4/ip_forward", other);
    EXPECT_EQ(read_file(path), other + "\n");
    set_sysctl("net/ipv4/ip_forward", other);  // the same: nothing written
    EXPECT_EQ(read_file(path), other + "\n");
    set_sysctl("net/ipv4/ip_local_port_range", "32768 60999");  // a vector: tabs in procfs
  });
  EXPECT_EQ(read_file("/proc/sys/net/ipv4/ip_forward"), host_value) << "the host's changed";
  auto err = error_of([] { set_sysctl("net/ipv4/hoist_no_such_key", "1"); });
  EXPECT_NE(err.find("/proc/sys/net/ipv4/hoist_no_such_key"), std::string::npos) << err;
  EXPECT_THROW(set_sysctl("../../etc/passwd", "x"), InvalidArgument);
}

}  // namespace
}  // namespace hoist::network
