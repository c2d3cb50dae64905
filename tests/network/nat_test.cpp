// The NAT table in the kernel and the host ports held for published ports (root).
//
// NatTable: the table applied, replaced, listed and removed; a rule set nft refuses changes
// nothing. PortReservations: Docker's words for a port held by us or by someone else.
// NatDataPath: real traffic through bridges, veths and network namespaces made here with `ip`
// (never the daemon's way, only a test's): published ports from the host (127.0.0.1 and a host
// address, TCP and UDP), hairpin from a container to its own published port, isolation of
// networks (--internal too) and the host's loopback out of a container's reach. Each runs in the
// host's own network namespace (with whatever br_netfilter does there) and in a private "host"
// namespace with br_netfilter off and on; no packet goes anywhere but loopback and the devices
// and namespaces of the test, all removed in TearDown whatever happened.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/error.h"
#include "common/fd.h"
#include "harness.h"
#include "network/nat.h"

namespace net = hoist::network;
using hoist::Conflict;
using hoist::UniqueFd;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using ::testing::StrEq;
using ::testing::ThrowsMessage;

namespace {

std::uint32_t ip(const std::string& s) { return *net::parse_ipv4(s); }

std::string random_hex(int n) {
  static std::mt19937_64 gen{std::random_device{}()};
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < n; ++i) s += digits[gen() % 16];
  return s;
}

// Runs a command (in the calling thread's network namespace); throws with its stderr on failure.
void sh(const std::vector<std::string>& argv) {
  auto r = hoist::test::run_cmd(argv);
  if (r.code != 0) {
    std::string cmd;
    for (const auto& a : argv) cmd += a + " ";
    throw std::runtime_error(cmd + "failed: " + r.err);
  }
}

void write_sysctl(const std::string& path, const std::string& value) {
  std::ofstream f(path);
  f << value;
  f.close();
  if (!f) throw std::runtime_error("write " + path);
}

std::string read_sysctl(const std::string& path) {
  std::ifstream f(path);
  std::string v;
  f >> v;
  return v;
}

sockaddr_in inet(std::uint32_t addr, std::uint16_t port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(addr);
  sa.sin_port = htons(port);
  return sa;
}

// A socket bound to addr:port (listening when TCP), or an invalid one.
UniqueFd bound(int type, std::uint32_t addr, std::uint16_t port) {
  UniqueFd fd(socket(AF_INET, type | SOCK_CLOEXEC, 0));
  auto sa = inet(addr, port);
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) return {};
  if (type == SOCK_STREAM && listen(fd.get(), 16) != 0) return {};
  return fd;
}

bool wait_for(int fd, short events, int timeout_ms) {
  pollfd p{fd, events, 0};
  return poll(&p, 1, timeout_ms) == 1 && (p.revents & events);
}

// Sends "hi" over TCP to addr:port and returns the whole reply; nullopt when there is no
// connection within the timeout (refused, dropped).
std::optional<std::string> tcp_echo(std::uint32_t addr, std::uint16_t port, int timeout_ms = 2000) {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  auto sa = inet(addr, port);
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 && errno != EINPROGRESS) return std::nullopt;
  if (!wait_for(fd.get(), POLLOUT, timeout_ms)) return std::nullopt;
  int err = 0;
  socklen_t len = sizeof err;
  getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0 || send(fd.get(), "hi", 2, MSG_NOSIGNAL) != 2) return std::nullopt;
  std::string reply;
  char buf[256];
  while (wait_for(fd.get(), POLLIN, timeout_ms)) {
    ssize_t n = recv(fd.get(), buf, sizeof buf, 0);
    if (n <= 0) break;
    reply.append(buf, static_cast<std::size_t>(n));
  }
  return reply;
}

// The same over UDP: one datagram, one reply; from local port `src_port` when not 0.
std::optional<std::string> udp_echo(std::uint32_t addr, std::uint16_t port, int timeout_ms = 2000,
                                    std::uint16_t src_port = 0) {
  UniqueFd fd(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (src_port != 0) {
    int one = 1;
    setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    auto local = inet(0, src_port);
    if (bind(fd.get(), reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) return std::nullopt;
  }
  auto sa = inet(addr, port);
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) return std::nullopt;
  if (send(fd.get(), "hi", 2, 0) != 2 || !wait_for(fd.get(), POLLIN, timeout_ms)) return std::nullopt;
  char buf[256];
  ssize_t n = recv(fd.get(), buf, sizeof buf, 0);
  if (n < 0) return std::nullopt;
  return std::string(buf, static_cast<std::size_t>(n));
}

// Runs fn in a thread of its own that has joined the network namespace /run/netns/<name>.
template <class F>
auto in_netns(const std::string& name, F fn) -> decltype(fn()) {
  std::packaged_task<decltype(fn())()> task([&] {
    UniqueFd ns(open(("/run/netns/" + name).c_str(), O_RDONLY | O_CLOEXEC));
    if (!ns || setns(ns.get(), CLONE_NEWNET) != 0) throw std::runtime_error("setns " + name);
    return fn();
  });
  auto result = task.get_future();
  std::thread(std::move(task)).join();
  return result.get();
}

// TCP and UDP echo on 0.0.0.0:8080 in a network namespace: each reply is the request and
// " from <the peer's address>", so a test sees what the container sees.
class EchoServer {
 public:
  explicit EchoServer(const std::string& netns) {
    if (pipe2(stop_, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
    std::promise<void> ready;
    auto started = ready.get_future();
    thread_ = std::thread([this, netns, ready = std::move(ready)]() mutable {
      UniqueFd tcp, udp;
      try {
        UniqueFd ns(open(("/run/netns/" + netns).c_str(), O_RDONLY | O_CLOEXEC));
        if (!ns || setns(ns.get(), CLONE_NEWNET) != 0) throw std::runtime_error("setns " + netns);
        tcp = bound(SOCK_STREAM, 0, 8080);
        udp = bound(SOCK_DGRAM, 0, 8080);
        if (!tcp || !udp) throw std::runtime_error("bind 0.0.0.0:8080 in " + netns);
        ready.set_value();
      } catch (...) {
        ready.set_exception(std::current_exception());
        return;
      }
      serve(tcp.get(), udp.get());
    });
    try {
      started.get();
    } catch (...) {
      thread_.join();
      throw;
    }
  }
  ~EchoServer() {
    ssize_t n = write(stop_[1], "x", 1);
    (void)n;
    thread_.join();
    close(stop_[0]);
    close(stop_[1]);
  }

 private:
  void serve(int tcp, int udp) {
    for (;;) {
      pollfd p[3] = {{tcp, POLLIN, 0}, {udp, POLLIN, 0}, {stop_[0], POLLIN, 0}};
      if (poll(p, 3, -1) < 0 && errno != EINTR) return;
      if (p[2].revents) return;
      char buf[256];
      sockaddr_in peer{};
      socklen_t len = sizeof peer;
      if (p[0].revents & POLLIN) {
        UniqueFd c(accept4(tcp, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC));
        if (!c || !wait_for(c.get(), POLLIN, 2000)) continue;
        ssize_t n = recv(c.get(), buf, sizeof buf, 0);
        if (n <= 0) continue;
        auto reply = std::string(buf, static_cast<std::size_t>(n)) + " from " + net::ipv4_str(ntohl(peer.sin_addr.s_addr));
        send(c.get(), reply.data(), reply.size(), MSG_NOSIGNAL);
      }
      len = sizeof peer;
      if (p[1].revents & POLLIN) {
        ssize_t n = recvfrom(udp, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&peer), &len);
        if (n < 0) continue;
        auto reply = std::string(buf, static_cast<std::size_t>(n)) + " from " + net::ipv4_str(ntohl(peer.sin_addr.s_addr));
        sendto(udp, reply.data(), reply.size(), 0, reinterpret_cast<sockaddr*>(&peer), len);
      }
    }
  }

  int stop_[2] = {-1, -1};
  std::thread thread_;
};

// A table of the test's own, removed whatever happened.
class NatTable : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root";
    nft_ = std::make_unique<net::Nftables>(table_);
  }
  void TearDown() override {
    if (!nft_) return;
    try {
      nft_->remove();
    } catch (const std::exception& e) {
      ADD_FAILURE() << e.what();
    }
  }
  std::string list() { return nft_->run("list table ip " + table_); }

  std::string table_ = "hoist_test_" + random_hex(8);
  std::unique_ptr<net::Nftables> nft_;
};

net::NatRules sample_rules() {
  net::NatRules r;
  r.networks.push_back({"hnt-one", net::Subnet::parse("10.199.1.0/24")});
  r.networks.push_back({"hnt-two", net::Subnet::parse("10.199.2.0/24"), true});
  r.ports.push_back({"tcp", 0, 18080, ip("10.199.1.2"), 80, "hnt-one"});
  r.ports.push_back({"udp", ip("127.0.0.1"), 18053, ip("10.199.1.3"), 53, "hnt-one"});
  r.ports.push_back({"tcp", 0, 18081, ip("10.199.2.2"), 80, "hnt-two"});  // internal: not published
  return r;
}

}  // namespace

TEST_F(NatTable, AppliedTwiceTheTableHoldsTheRulesOnce) {
  nft_->apply(sample_rules());
  nft_->apply(sample_rules());
  auto t = list();
  EXPECT_THAT(t, StartsWith("table ip " + table_ + " {"));
  EXPECT_THAT(t, HasSubstr("tcp dport 18080 dnat to 10.199.1.2:80"));
  EXPECT_THAT(t, HasSubstr("ip daddr 127.0.0.1 udp dport 18053 dnat to 10.199.1.3:53"));
  EXPECT_THAT(t, Not(HasSubstr("18081")));
  EXPECT_THAT(t, HasSubstr("ip saddr 10.199.1.0/24 oifname != \"hnt-one\" masquerade"));
  EXPECT_THAT(t, HasSubstr("iifname \"hnt-two\" oifname != \"hnt-two\" drop"));
  auto once = [&](const std::string& what) {
    auto at = t.find(what);
    return at != std::string::npos && t.find(what, at + 1) == std::string::npos;
  };
  EXPECT_TRUE(once("tcp dport 18080 dnat")) << t;
  EXPECT_TRUE(once("chain ports {")) << t;

  // Replaced, not added to.
  auto r = sample_rules();
  r.ports.erase(r.ports.begin());
  r.ports[0].host_port = 18054;
  nft_->apply(r);
  t = list();
  EXPECT_THAT(t, Not(HasSubstr("18080")));
  EXPECT_THAT(t, Not(HasSubstr("18053")));
  EXPECT_THAT(t, HasSubstr("ip daddr 127.0.0.1 udp dport 18054 dnat to 10.199.1.3:53"));

  nft_->apply({});
  EXPECT_THAT(list(), Not(HasSubstr("dnat to")));
}

TEST_F(NatTable, RemoveDeletesTheTableAndNothingElse) {
  net::Nftables other("hoist_test_" + random_hex(8));
  struct Remove {
    net::Nftables& t;
    ~Remove() {
      try {
        t.remove();
      } catch (...) {
      }
    }
  } remove_other{other};
  other.apply(sample_rules());
  nft_->apply(sample_rules());
  nft_->remove();
  EXPECT_THAT([&] { list(); }, ThrowsMessage<hoist::Error>(StartsWith("nftables: run 'list table ip " + table_ + "': ")));
  EXPECT_NO_THROW(nft_->remove());  // absent: nothing to do
  EXPECT_THAT(other.run("list tables"), HasSubstr("table ip hoist_test_"));
  EXPECT_THAT(other.run("list tables"), Not(HasSubstr(table_)));
}

TEST_F(NatTable, ARefusedRuleSetLeavesThePreviousTable) {
  nft_->apply(sample_rules());
  auto before = list();
  auto bad = sample_rules();
  bad.networks[0].subnet.prefix = 40;  // a Subnet made by hand; parse() would refuse it
  bad.ports[0].host_port = 19999;
  EXPECT_THAT([&] { nft_->apply(bad); },
              ThrowsMessage<hoist::Error>(AllOf(StartsWith("nftables: apply table " + table_ + ": line "),
                                                HasSubstr("Error: Prefix length 40 is invalid"),
                                                HasSubstr("ip saddr 10.199.1.0/40"))));
  EXPECT_EQ(list(), before);
  EXPECT_THAT(list(), Not(HasSubstr("19999")));
}

// Port reservations bind in the host's network namespace: ports come from the kernel (port 0),
// so that nothing else on the host is in the way.
TEST(PortReservations, AHeldPortIsRefusedToUsAndToOthersUntilReleased) {
  net::PortReservations ports;
  auto p = ports.reserve("tcp", 0, 0);
  ASSERT_NE(p, 0);
  EXPECT_TRUE(ports.held("tcp", 0, p));
  EXPECT_FALSE(ports.held("udp", 0, p));
  auto s = std::to_string(p);
  EXPECT_THAT([&] { ports.reserve("tcp", 0, p); },
              ThrowsMessage<Conflict>(StrEq("Bind for 0.0.0.0:" + s + " failed: port is already allocated")));
  // The same port on one address overlaps the one on every address.
  EXPECT_THAT([&] { ports.reserve("tcp", ip("127.0.0.1"), p); },
              ThrowsMessage<Conflict>(StrEq("Bind for 127.0.0.1:" + s + " failed: port is already allocated")));
  // No one else gets it either, on any address (no SO_REUSEADDR on our side).
  EXPECT_FALSE(bound(SOCK_STREAM, 0, p));
  EXPECT_FALSE(bound(SOCK_STREAM, ip("127.0.0.1"), p));
  {
    UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    int one = 1;
    setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    auto sa = inet(0, p);
    EXPECT_NE(bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0) << "SO_REUSEADDR got in";
  }
  // UDP is another port.
  EXPECT_EQ(ports.reserve("udp", 0, p), p);
  EXPECT_FALSE(bound(SOCK_DGRAM, 0, p));

  ports.release("tcp", 0, p);
  EXPECT_FALSE(ports.held("tcp", 0, p));
  EXPECT_TRUE(ports.held("udp", 0, p));
  EXPECT_TRUE(bound(SOCK_STREAM, 0, p));
  ports.release("tcp", 0, p);  // twice: nothing
  ports.release("udp", 0, p);
  EXPECT_TRUE(bound(SOCK_DGRAM, 0, p));
}

TEST(PortReservations, APortSomeoneElseHasIsAddressInUse) {
  net::PortReservations ports;
  auto tcp = bound(SOCK_STREAM, ip("127.0.0.1"), 0);
  auto udp = bound(SOCK_DGRAM, 0, 0);
  ASSERT_TRUE(tcp && udp);
  sockaddr_in sa{};
  socklen_t len = sizeof sa;
  getsockname(tcp.get(), reinterpret_cast<sockaddr*>(&sa), &len);
  auto tp = ntohs(sa.sin_port);
  len = sizeof sa;
  getsockname(udp.get(), reinterpret_cast<sockaddr*>(&sa), &len);
  auto up = ntohs(sa.sin_port);

  EXPECT_THAT([&] { ports.reserve("tcp", 0, tp); },
              ThrowsMessage<Conflict>(StrEq("listen tcp4 0.0.0.0:" + std::to_string(tp) + ": bind: address already in use")));
  EXPECT_THAT([&] { ports.reserve("tcp", ip("127.0.0.1"), tp); },
              ThrowsMessage<Conflict>(StrEq("listen tcp4 127.0.0.1:" + std::to_string(tp) + ": bind: address already in use")));
  EXPECT_THAT([&] { ports.reserve("udp", ip("127.0.0.1"), up); },
              ThrowsMessage<Conflict>(StrEq("listen udp4 127.0.0.1:" + std::to_string(up) + ": bind: address already in use")));
  EXPECT_FALSE(ports.held("tcp", 0, tp));
  // Freed by its owner: ours now.
  tcp.reset();
  EXPECT_EQ(ports.reserve("tcp", 0, tp), tp);
  EXPECT_TRUE(ports.held("tcp", 0, tp));
}

TEST(PortReservations, OtherFailuresAndProtocols) {
  net::PortReservations ports;
  // An address that is not the host's.
  EXPECT_THAT([&] { ports.reserve("tcp", ip("192.0.2.254"), 0); },
              ThrowsMessage<hoist::Error>(HasSubstr("Cannot assign requested address")));
  EXPECT_THROW(ports.reserve("sctp", 0, 0), hoist::InvalidArgument);
  auto a = ports.reserve("udp", ip("127.0.0.1"), 0), b = ports.reserve("udp", ip("127.0.0.1"), 0);
  EXPECT_NE(a, b);
  EXPECT_TRUE(ports.held("udp", ip("127.0.0.1"), a));
  EXPECT_FALSE(ports.held("udp", 0, a));
}

// ---- Traffic ----

enum class HostNs { Own, PrivateBrNetfilterOff, PrivateBrNetfilterOn };

std::string host_ns_name(HostNs h) {
  switch (h) {
    case HostNs::Own: return "HostNetns";
    case HostNs::PrivateBrNetfilterOff: return "PrivateNetnsBrNetfilterOff";
    default: return "PrivateNetnsBrNetfilterOn";
  }
}
void PrintTo(HostNs h, std::ostream* os) { *os << host_ns_name(h); }

class NatDataPath : public ::testing::TestWithParam<HostNs> {
 protected:
  struct Net {
    std::string ns, bridge, veth;
    std::uint32_t gateway = 0, container = 0;
    net::Subnet subnet;
  };

  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root";
    const std::string hex = random_hex(6);
    const bool priv = GetParam() != HostNs::Own;
    if (priv) {
      host_ns_ = "hnh-" + hex;
      sh({"ip", "netns", "add", host_ns_});
      own_ns_.reset(open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
      UniqueFd h(open(("/run/netns/" + host_ns_).c_str(), O_RDONLY | O_CLOEXEC));
      ASSERT_TRUE(own_ns_ && h);
      ASSERT_EQ(setns(h.get(), CLONE_NEWNET), 0);
      joined_ = true;
      sh({"ip", "link", "set", "lo", "up"});
      write_sysctl("/proc/sys/net/ipv4/ip_forward", "1");
      const std::string brnf = "/proc/sys/net/bridge/bridge-nf-call-iptables";
      const bool on = GetParam() == HostNs::PrivateBrNetfilterOn;
      if (!std::filesystem::exists(brnf)) {
        if (on) GTEST_SKIP() << "no br_netfilter in this kernel";
      } else {
        write_sysctl(brnf, on ? "1" : "0");
      }
    } else {
      auto fwd = read_sysctl("/proc/sys/net/ipv4/ip_forward");
      if (fwd != "1") {
        write_sysctl("/proc/sys/net/ipv4/ip_forward", "1");
        restore_forward_ = fwd;
      }
    }

    // Two networks on 10.198.N.0/24 and 10.198.N+1.0/24, N at random (another run of this test
    // in the host's namespace, at the same time, takes other ones).
    std::mt19937 gen{std::random_device{}()};
    std::uint32_t third = 2 + gen() % 250;
    for (int i = 0; i < 2; ++i) {
      Net n;
      const std::string tag = hex + (i == 0 ? "a" : "b");
      n.ns = "hnt-" + tag;
      n.bridge = "hnb" + tag;
      n.veth = "hnv" + tag;
      n.subnet = {(10u << 24) | (198u << 16) | ((third + i) << 8), 24};
      n.gateway = n.subnet.base + 1;
      n.container = n.subnet.base + 2;
      nets_.push_back(n);
      sh({"ip", "link", "add", n.bridge, "type", "bridge"});
      sh({"ip", "addr", "add", net::ipv4_str(n.gateway) + "/24", "dev", n.bridge});
      sh({"ip", "link", "set", n.bridge, "up"});
      // For the replies to 127.0.0.1 (un-masqueraded in prerouting, from the bridge).
      write_sysctl("/proc/sys/net/ipv4/conf/" + n.bridge + "/route_localnet", "1");
      add_container(n, n.ns, n.veth, n.container);
    }

    tcp_port_ = ports_.reserve("tcp", 0, 0);
    local_port_ = ports_.reserve("tcp", ip("127.0.0.1"), 0);
    udp_port_ = ports_.reserve("udp", 0, 0);
    nft_ = std::make_unique<net::Nftables>("hoist_test_" + hex);
    nft_->apply(rules());
  }

  void TearDown() override {
    echo_.clear();
    if (nft_) {
      try {
        nft_->remove();
      } catch (const std::exception& e) {
        ADD_FAILURE() << e.what();
      }
    }
    nft_.reset();
    for (const auto& [ns, veth] : containers_) {
      hoist::test::run_cmd({"ip", "link", "del", veth});  // gone with the namespace, normally
      hoist::test::run_cmd({"ip", "netns", "del", ns});
    }
    for (const auto& n : nets_) hoist::test::run_cmd({"ip", "link", "del", n.bridge});
    if (!restore_forward_.empty()) write_sysctl("/proc/sys/net/ipv4/ip_forward", restore_forward_);
    if (joined_) {
      EXPECT_EQ(setns(own_ns_.get(), CLONE_NEWNET), 0);
    }
    if (!host_ns_.empty()) hoist::test::run_cmd({"ip", "netns", "del", host_ns_});
  }

  // A container on network n: namespace `ns` with eth0 at `addr`, its host end `veth` a port of
  // n's bridge, and an echo server on 8080.
  void add_container(const Net& n, const std::string& ns, const std::string& veth, std::uint32_t addr) {
    sh({"ip", "netns", "add", ns});
    containers_.emplace_back(ns, veth);
    sh({"ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns});
    sh({"ip", "link", "set", veth, "master", n.bridge});
    // As the daemon does: with br_netfilter a packet DNAT'ed back to its own container is
    // bridged back out of the port it came in by.
    sh({"ip", "link", "set", veth, "type", "bridge_slave", "hairpin", "on"});
    sh({"ip", "link", "set", veth, "up"});
    sh({"ip", "-n", ns, "addr", "add", net::ipv4_str(addr) + "/24", "dev", "eth0"});
    sh({"ip", "-n", ns, "link", "set", "eth0", "up"});
    sh({"ip", "-n", ns, "link", "set", "lo", "up"});
    sh({"ip", "-n", ns, "route", "add", "default", "via", net::ipv4_str(n.gateway)});
    echo_.push_back(std::make_unique<EchoServer>(ns));
  }

  // The first network publishes its container's 8080 three ways: TCP on every host address, TCP
  // on 127.0.0.1 only, UDP on every host address.
  net::NatRules rules(bool second_internal = false) const {
    net::NatRules r;
    for (const auto& n : nets_) r.networks.push_back({n.bridge, n.subnet});
    r.networks[1].internal = second_internal;
    const auto& a = nets_[0];
    r.ports.push_back({"tcp", 0, tcp_port_, a.container, 8080, a.bridge});
    r.ports.push_back({"tcp", ip("127.0.0.1"), local_port_, a.container, 8080, a.bridge});
    r.ports.push_back({"udp", 0, udp_port_, a.container, 8080, a.bridge});
    return r;
  }
  std::string from(const Net& n) const { return "hi from " + net::ipv4_str(n.gateway); }

  std::string host_ns_;  // the private "host" namespace, or ""
  UniqueFd own_ns_;      // where the test thread was before
  bool joined_ = false;
  std::string restore_forward_;
  std::vector<Net> nets_;
  std::vector<std::pair<std::string, std::string>> containers_;  // namespace, host end of its veth
  std::vector<std::unique_ptr<EchoServer>> echo_;
  net::PortReservations ports_;
  std::uint16_t tcp_port_ = 0, local_port_ = 0, udp_port_ = 0;
  std::unique_ptr<net::Nftables> nft_;
};

const std::uint32_t kLoopback = (127u << 24) | 1;

TEST_P(NatDataPath, PublishedPortsFromTheHost) {
  const auto& a = nets_[0];
  // To the container itself, no NAT: the listener is there, and sees the host's address.
  EXPECT_EQ(tcp_echo(a.container, 8080), "hi from " + net::ipv4_str(a.gateway));
  // 127.0.0.1 cannot leave the host: masqueraded to the bridge's address.
  EXPECT_EQ(tcp_echo(kLoopback, tcp_port_), from(a));
  EXPECT_EQ(tcp_echo(a.gateway, tcp_port_), from(a));
  EXPECT_EQ(tcp_echo(nets_[1].gateway, tcp_port_), from(a));  // any address of the host
  EXPECT_EQ(udp_echo(kLoopback, udp_port_), from(a));
  EXPECT_EQ(udp_echo(a.gateway, udp_port_), from(a));
  // Published on 127.0.0.1 only: the bridge's address has nothing there (our reserving socket
  // does not listen: refused at once).
  EXPECT_EQ(tcp_echo(kLoopback, local_port_), from(a));
  EXPECT_EQ(tcp_echo(a.gateway, local_port_), std::nullopt);
  // The table gone, nothing is forwarded.
  nft_->remove();
  EXPECT_EQ(tcp_echo(kLoopback, tcp_port_, 500), std::nullopt);
}

// A UDP client that keeps sending from one port has a conntrack entry DNAT'ed to the container
// that published the port; when another container takes the port over, the next datagram must
// reach the new one, not the old one through the stale entry.
TEST_P(NatDataPath, AUdpPortTakenOverByAnotherContainerReachesIt) {
  const auto& a = nets_[0];
  const auto& b = nets_[1];
  auto src = ports_.reserve("udp", 0, 0);  // a free port for the client
  ports_.release("udp", 0, src);
  ASSERT_EQ(udp_echo(kLoopback, udp_port_, 2000, src), from(a));
  auto moved = rules();
  moved.ports.back().container_ip = b.container;
  moved.ports.back().bridge = b.bridge;
  nft_->apply(moved);
  EXPECT_EQ(udp_echo(kLoopback, udp_port_, 2000, src), from(b));
  // The entry is the one of the new mapping now; deleting again finds it.
  EXPECT_GE(net::delete_conntrack("udp", 0, udp_port_), 1u);
  EXPECT_EQ(net::delete_conntrack("udp", 0, udp_port_), 0u);
}

TEST_P(NatDataPath, HairpinFromAContainerToItsOwnPublishedPort) {
  const auto& a = nets_[0];
  in_netns(a.ns, [&] {
    // Through the host and back: the reply must come back through the host too, so the
    // container sees its gateway as the peer, not itself.
    EXPECT_EQ(tcp_echo(a.gateway, tcp_port_), from(a));
    EXPECT_EQ(udp_echo(a.gateway, udp_port_), from(a));
    EXPECT_EQ(tcp_echo(nets_[1].gateway, tcp_port_), from(a));
    EXPECT_EQ(tcp_echo(a.gateway, local_port_, 500), std::nullopt);  // 127.0.0.1 is the host's
  });
}

TEST_P(NatDataPath, NetworksAreIsolatedButPublishedPortsAreOpenToAll) {
  const auto& a = nets_[0];
  const auto& b = nets_[1];
  in_netns(b.ns, [&] {
    EXPECT_EQ(tcp_echo(a.container, 8080, 1000), std::nullopt);  // dropped between bridges
    EXPECT_EQ(tcp_echo(b.gateway, tcp_port_), from(a));          // as from anywhere
  });
  in_netns(a.ns, [&] { EXPECT_EQ(tcp_echo(b.container, 8080, 1000), std::nullopt); });

  // b internal: nothing in or out, published ports of others included.
  nft_->apply(rules(true));
  in_netns(b.ns, [&] {
    EXPECT_EQ(tcp_echo(a.container, 8080, 1000), std::nullopt);
    EXPECT_EQ(tcp_echo(b.gateway, tcp_port_, 1000), std::nullopt);
    EXPECT_EQ(tcp_echo(a.gateway, tcp_port_, 1000), std::nullopt);
  });
  in_netns(a.ns, [&] { EXPECT_EQ(tcp_echo(b.container, 8080, 1000), std::nullopt); });
  EXPECT_EQ(tcp_echo(b.container, 8080), "hi from " + net::ipv4_str(b.gateway));  // the host reaches it
  EXPECT_EQ(tcp_echo(kLoopback, tcp_port_), from(a));

  // The drops were the table's: without it the networks reach each other (where the host's
  // own forwarding rules let them: a private namespace has none).
  if (GetParam() != HostNs::Own) {
    nft_->remove();
    in_netns(b.ns, [&] { EXPECT_EQ(tcp_echo(a.container, 8080), "hi from " + net::ipv4_str(b.container)); });
  }
}

// Inter-container communication off on the first network: its two containers do not reach each
// other (TCP, UDP), but a published port of one stays open to the other through the host's
// addresses (hairpin: routed with br_netfilter off, bridged with it on), and the host reaches
// both. The second network (icc on) is unchanged.
TEST_P(NatDataPath, IccOffKeepsABridgesContainersApartButNotFromPublishedPorts) {
  const auto& a = nets_[0];
  const auto& b = nets_[1];
  const std::string hex = a.ns.substr(4, 6);
  const std::uint32_t a2 = a.subnet.base + 3, b2 = b.subnet.base + 3;
  add_container(a, "hnt-" + hex + "c", "hnv" + hex + "c", a2);
  add_container(b, "hnt-" + hex + "d", "hnv" + hex + "d", b2);
  const std::string from_a2 = "hi from " + net::ipv4_str(a2);
  in_netns("hnt-" + hex + "c", [&] { EXPECT_EQ(tcp_echo(a.container, 8080), from_a2); });  // icc on

  auto r = rules();
  r.networks[0].icc = false;
  r.networks[0].ports = {a.veth, "hnv" + hex + "c"};
  nft_->apply(r);
  in_netns("hnt-" + hex + "c", [&] {
    EXPECT_EQ(tcp_echo(a.container, 8080, 1000), std::nullopt);
    EXPECT_EQ(udp_echo(a.container, 8080, 1000), std::nullopt);
    EXPECT_EQ(tcp_echo(a.gateway, tcp_port_), from(a));  // its neighbour's published ports
    EXPECT_EQ(udp_echo(a.gateway, udp_port_), from(a));
    EXPECT_EQ(tcp_echo(b.gateway, tcp_port_), from(a));
  });
  in_netns(a.ns, [&] {
    EXPECT_EQ(tcp_echo(a2, 8080, 1000), std::nullopt);
    EXPECT_EQ(tcp_echo(a.gateway, tcp_port_), from(a));  // its own
  });
  EXPECT_EQ(tcp_echo(a.container, 8080), "hi from " + net::ipv4_str(a.gateway));
  EXPECT_EQ(tcp_echo(a2, 8080), "hi from " + net::ipv4_str(a.gateway));
  EXPECT_EQ(tcp_echo(kLoopback, tcp_port_), from(a));
  in_netns("hnt-" + hex + "d", [&] {
    EXPECT_EQ(tcp_echo(b.container, 8080), "hi from " + net::ipv4_str(b2));
    EXPECT_EQ(tcp_echo(b.gateway, tcp_port_), from(a));
  });

  // icc on again: they reach each other.
  nft_->apply(rules());
  in_netns("hnt-" + hex + "c", [&] { EXPECT_EQ(tcp_echo(a.container, 8080), from_a2); });
}

// A bridge has route_localnet (for the replies of 127.0.0.1's connections): a container that
// routes 127.0.0.0/8 to its gateway must still not reach what listens on the host's loopback.
TEST_P(NatDataPath, TheHostsLoopbackIsOutOfAContainersReach) {
  const auto& a = nets_[0];
  auto listener = bound(SOCK_STREAM, (127u << 24) | 2, 0);
  ASSERT_TRUE(listener);
  sockaddr_in sa{};
  socklen_t len = sizeof sa;
  getsockname(listener.get(), reinterpret_cast<sockaddr*>(&sa), &len);
  const std::uint16_t port = ntohs(sa.sin_port);
  // The container's loopback beyond 127.0.0.1 sent to its gateway instead, and replies from a
  // loopback address taken (both the container's to do).
  sh({"ip", "-n", a.ns, "route", "del", "local", "127.0.0.0/8", "dev", "lo", "table", "local"});
  sh({"ip", "-n", a.ns, "route", "add", "127.0.0.2/32", "via", net::ipv4_str(a.gateway)});
  in_netns(a.ns, [] { write_sysctl("/proc/sys/net/ipv4/conf/eth0/route_localnet", "1"); });
  auto reach = [&](int timeout_ms) {
    return in_netns(a.ns, [&] {
      UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
      auto to = inet((127u << 24) | 2, port);
      connect(fd.get(), reinterpret_cast<sockaddr*>(&to), sizeof to);
      if (!wait_for(fd.get(), POLLOUT, timeout_ms)) return false;
      int err = 0;
      socklen_t l = sizeof err;
      getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &l);
      return err == 0;
    });
  };
  EXPECT_FALSE(reach(1000));
  // What the guard keeps out.
  nft_->remove();
  EXPECT_TRUE(reach(2000));
}

INSTANTIATE_TEST_SUITE_P(, NatDataPath,
                         ::testing::Values(HostNs::Own, HostNs::PrivateBrNetfilterOff, HostNs::PrivateBrNetfilterOn),
                         [](const auto& info) { return host_ns_name(info.param); });
