// The embedded DNS server against real sockets: each test makes a network namespace of its own
// (lo up, bind-mounted in a temp dir), serves it at 127.0.0.11:53 and asks from inside it over
// UDP and TCP. Names the resolver (a test lambda) knows are answered; the rest goes to a fake
// upstream on the host's 127.0.0.1 (or ::1): the server's, or a scope's own. No packet leaves
// loopback or the test's namespace.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "common/error.h"
#include "common/fd.h"
#include "network/dns.h"
#include "network/ipam.h"

namespace net = hoist::network;
using Bytes = std::vector<std::uint8_t>;
using hoist::UniqueFd;
using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::uint16_t kA = 1, kPtr = 12, kAaaa = 28, kMx = 15;

std::uint32_t ip(const char* s) { return *net::parse_ipv4(s); }

// Runs `fn` on a thread that entered the network namespace at `path`.
template <typename F>
auto in_ns(const std::string& path, F&& fn) {
  std::optional<decltype(fn())> out;
  std::exception_ptr err;
  std::thread t([&] {
    try {
      UniqueFd ns(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
      if (!ns) hoist::throw_sys("open", path);
      if (::setns(ns.get(), CLONE_NEWNET) != 0) hoist::throw_sys("setns", path);
      out.emplace(fn());
    } catch (...) {
      err = std::current_exception();
    }
  });
  t.join();
  if (err) std::rethrow_exception(err);
  return std::move(*out);
}

void put16(Bytes& b, std::uint16_t v) {
  b.push_back(static_cast<std::uint8_t>(v >> 8));
  b.push_back(static_cast<std::uint8_t>(v));
}
std::uint16_t get16(const Bytes& b, std::size_t at) { return static_cast<std::uint16_t>(b.at(at) << 8 | b.at(at + 1)); }

Bytes query(std::uint16_t id, const std::string& name, std::uint16_t type) {
  Bytes b;
  for (std::uint16_t v :
       {id, std::uint16_t{0x0100}, std::uint16_t{1}, std::uint16_t{0}, std::uint16_t{0}, std::uint16_t{0}})
    put16(b, v);
  std::size_t start = 0;
  while (start < name.size()) {
    auto dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    b.push_back(static_cast<std::uint8_t>(dot - start));
    b.insert(b.end(), name.begin() + static_cast<std::ptrdiff_t>(start),
             name.begin() + static_cast<std::ptrdiff_t>(dot));
    start = dot + 1;
  }
  b.push_back(0);
  put16(b, type);
  put16(b, 1);
  return b;
}

// The parts of an answer the tests look at: flags, rcode, the records' types and data.
struct Answer {
  std::uint16_t id = 0, flags = 0;
  std::vector<std::uint32_t> addresses;  // A records
  std::vector<std::string> ptrs;         // PTR records
  int records = 0;
  int rcode() const { return flags & 0xF; }
};

std::string read_name(const Bytes& b, std::size_t& p) {
  std::string out;
  std::optional<std::size_t> after;
  for (int guard = 0; guard < 64; ++guard) {
    std::uint8_t len = b.at(p);
    if ((len & 0xC0) == 0xC0) {
      if (!after) after = p + 2;
      p = static_cast<std::size_t>(len & 0x3F) << 8 | b.at(p + 1);
      continue;
    }
    ++p;
    if (len == 0) break;
    if (!out.empty()) out += '.';
    out.append(reinterpret_cast<const char*>(&b.at(p)), len);
    p += len;
  }
  if (after) p = *after;
  return out;
}

Answer decode(const Bytes& b) {
  Answer a;
  a.id = get16(b, 0);
  a.flags = get16(b, 2);
  EXPECT_EQ(get16(b, 4), 1);
  a.records = get16(b, 6);
  std::size_t p = 12;
  read_name(b, p);
  p += 4;
  for (int i = 0; i < a.records; ++i) {
    read_name(b, p);
    const auto type = get16(b, p);
    const std::size_t len = get16(b, p + 8);
    p += 10;
    if (type == kA && len == 4) a.addresses.push_back(std::uint32_t{get16(b, p)} << 16 | get16(b, p + 2));
    if (type == kPtr) {
      std::size_t q = p;
      a.ptrs.push_back(read_name(b, q));
    }
    p += len;
  }
  EXPECT_EQ(p, b.size());
  return a;
}

sockaddr_in addr(std::uint32_t ip, std::uint16_t port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(ip);
  sa.sin_port = htons(port);
  return sa;
}

void set_timeout(int fd, int ms) {
  timeval tv{ms / 1000, (ms % 1000) * 1000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

void read_exact(int fd, std::uint8_t* p, std::size_t n) {
  while (n > 0) {
    auto r = ::recv(fd, p, n, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) hoist::throw_sys("recv", "tcp");
    if (r == 0) throw hoist::Error("recv tcp: connection closed");
    p += r;
    n -= static_cast<std::size_t>(r);
  }
}

Bytes read_framed(int fd) {
  std::uint8_t len[2];
  read_exact(fd, len, 2);
  Bytes b(static_cast<std::size_t>(len[0] << 8 | len[1]));
  read_exact(fd, b.data(), b.size());
  return b;
}

Bytes framed(const Bytes& m) {
  Bytes b;
  b.reserve(2 + m.size());
  put16(b, static_cast<std::uint16_t>(m.size()));
  b.insert(b.end(), m.begin(), m.end());
  return b;
}

// A resolver on 127.0.0.1:<port> (or [::1]:<port>) of the host: answers each query with the
// bytes `reply` makes of it, or not at all; keeps what it received. SysError when the address
// cannot be bound (no IPv6 on the host).
class FakeUpstream {
 public:
  explicit FakeUpstream(bool answer = true, bool v6 = false) : answer_(answer), v6_(v6) {
    fd_.reset(::socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!fd_) hoist::throw_sys("socket", "fake upstream");
    sockaddr_storage ss{};
    socklen_t len = 0;
    if (v6) {
      auto& sa6 = reinterpret_cast<sockaddr_in6&>(ss);
      sa6.sin6_family = AF_INET6;
      sa6.sin6_addr = in6addr_loopback;
      len = sizeof sa6;
    } else {
      reinterpret_cast<sockaddr_in&>(ss) = addr(ip("127.0.0.1"), 0);
      len = sizeof(sockaddr_in);
    }
    if (::bind(fd_.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) hoist::throw_sys("bind", "fake upstream");
    len = sizeof ss;
    ::getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&ss), &len);
    port_ = ntohs(v6 ? reinterpret_cast<sockaddr_in6&>(ss).sin6_port : reinterpret_cast<sockaddr_in&>(ss).sin_port);
    set_timeout(fd_.get(), 50);
    if (answer_) thread_ = std::thread([this] { serve(); });
  }
  ~FakeUpstream() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::string address() const { return (v6_ ? "[::1]:" : "127.0.0.1:") + std::to_string(port_); }
  // The reply: the query's ID and question, QR RD RA, one A record 93.184.216.34 with TTL 60
  // (not the server's 600), and a trailing byte no parser would write: relayed as it is.
  static Bytes reply_to(const Bytes& q) {
    Bytes r = q;
    r[2] = 0x81;
    r[3] = 0x80;
    r[7] = 1;
    r.insert(r.end(), {0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 93, 184, 216, 34, 0xEE});
    return r;
  }
  std::vector<Bytes> received() {
    std::lock_guard lk(mu_);
    return received_;
  }

 private:
  void serve() {
    std::vector<std::uint8_t> buf(65536);
    while (!stop_) {
      sockaddr_storage from{};
      socklen_t len = sizeof from;
      auto n = ::recvfrom(fd_.get(), buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &len);
      if (n <= 0) continue;
      Bytes q(buf.begin(), buf.begin() + n);
      {
        std::lock_guard lk(mu_);
        received_.push_back(q);
      }
      auto r = reply_to(q);
      ::sendto(fd_.get(), r.data(), r.size(), 0, reinterpret_cast<sockaddr*>(&from), len);
    }
  }
  bool answer_, v6_;
  UniqueFd fd_;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<Bytes> received_;
  std::thread thread_;
};

// A port of 127.0.0.1 nothing listens on (UDP to it is refused at once).
std::string closed_port() {
  UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  auto sa = addr(ip("127.0.0.1"), 0);
  ::bind(s.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  socklen_t len = sizeof sa;
  ::getsockname(s.get(), reinterpret_cast<sockaddr*>(&sa), &len);
  return "127.0.0.1:" + std::to_string(ntohs(sa.sin_port));
}

class DnsServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces)";
    char tmpl[] = "/tmp/hoist-dns-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr) << std::strerror(errno);
    dir_ = tmpl;
    ns_ = dir_ + "/netns";
    UniqueFd f(::open(ns_.c_str(), O_CREAT | O_RDONLY | O_CLOEXEC, 0644));
    ASSERT_TRUE(f) << std::strerror(errno);
    std::string err;
    std::thread t([&] {
      if (::unshare(CLONE_NEWNET) != 0) {
        err = hoist::sys_message("unshare", "CLONE_NEWNET", errno);
        return;
      }
      if (::mount("/proc/thread-self/ns/net", ns_.c_str(), nullptr, MS_BIND, nullptr) != 0) {
        err = hoist::sys_message("mount", ns_, errno);
        return;
      }
      mounted_ = true;
      UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
      ifreq ifr{};
      std::strcpy(ifr.ifr_name, "lo");
      if (::ioctl(s.get(), SIOCGIFFLAGS, &ifr) != 0) {
        err = hoist::sys_message("SIOCGIFFLAGS", "lo", errno);
        return;
      }
      ifr.ifr_flags |= IFF_UP;
      if (::ioctl(s.get(), SIOCSIFFLAGS, &ifr) != 0) err = hoist::sys_message("SIOCSIFFLAGS", "lo", errno);
    });
    t.join();
    ASSERT_EQ(err, "");
  }

  void TearDown() override {
    server_.reset();
    if (mounted_) ::umount2(ns_.c_str(), MNT_DETACH);
    if (!ns_.empty()) ::unlink(ns_.c_str());
    if (!dir_.empty()) ::rmdir(dir_.c_str());
  }

  // The resolver: web (and web.net1) 172.18.0.2, many: three addresses, huge: 100. Records
  // what it was asked.
  net::DnsResolver resolver() {
    net::DnsResolver r;
    r.lookup = [this](const std::string& scope, const std::string& name) -> std::vector<std::uint32_t> {
      {
        std::lock_guard lk(mu_);
        asked_.push_back(scope + " " + name);
      }
      if (name == "web" || name == "web.net1") return {ip("172.18.0.2")};
      if (name == "many") return {ip("10.9.0.1"), ip("10.9.0.2"), ip("10.9.0.3")};
      if (name == "huge") {
        std::vector<std::uint32_t> v;
        for (std::uint32_t i = 1; i <= 100; ++i) v.push_back(ip("10.8.0.0") + i);
        return v;
      }
      if (name == "boom") throw hoist::Error("resolver failed");
      return {};
    };
    r.reverse = [](const std::string&, std::uint32_t a) -> std::optional<std::string> {
      if (a == ip("172.18.0.2")) return "web.net1";
      return std::nullopt;
    };
    return r;
  }

  void start(std::vector<std::string> upstreams = {}) {
    server_ = std::make_unique<net::DnsServer>(resolver(), std::move(upstreams));
    server_->add("c1", ns_);
  }

  std::vector<std::string> asked() {
    std::lock_guard lk(mu_);
    return asked_;
  }

  UniqueFd socket_in_ns(int type) {
    return in_ns(ns_, [&] {
      UniqueFd s(::socket(AF_INET, type | SOCK_CLOEXEC, 0));
      if (!s) hoist::throw_sys("socket");
      return s;
    });
  }

  // A UDP socket of the namespace connected to the server (the scope served at `server`:53).
  UniqueFd udp_client(int timeout_ms = 5000, std::uint32_t server = ip("127.0.0.11")) {
    auto s = socket_in_ns(SOCK_DGRAM);
    auto sa = addr(server, 53);
    if (::connect(s.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) hoist::throw_sys("connect", "udp");
    set_timeout(s.get(), timeout_ms);
    return s;
  }

  Bytes udp_ask(const Bytes& q, int timeout_ms = 5000, std::uint32_t server = ip("127.0.0.11")) {
    auto s = udp_client(timeout_ms, server);
    if (::send(s.get(), q.data(), q.size(), 0) < 0) hoist::throw_sys("send", "udp");
    return udp_read(s.get());
  }

  static Bytes udp_read(int fd) {
    Bytes buf(65536);
    auto n = ::recv(fd, buf.data(), buf.size(), 0);
    if (n < 0) hoist::throw_sys("recv", "udp");
    buf.resize(static_cast<std::size_t>(n));
    return buf;
  }

  UniqueFd tcp_client(std::uint32_t server = ip("127.0.0.11")) {
    auto s = socket_in_ns(SOCK_STREAM);
    set_timeout(s.get(), 5000);
    auto sa = addr(server, 53);
    if (::connect(s.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) hoist::throw_sys("connect", "tcp");
    return s;
  }

  Bytes tcp_ask(const Bytes& q, std::uint32_t server = ip("127.0.0.11")) {
    auto s = tcp_client(server);
    auto f = framed(q);
    if (::send(s.get(), f.data(), f.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(f.size()))
      hoist::throw_sys("send", "tcp");
    return read_framed(s.get());
  }

  std::string dir_, ns_;
  bool mounted_ = false;
  std::unique_ptr<net::DnsServer> server_;
  std::mutex mu_;
  std::vector<std::string> asked_;
};

}  // namespace

TEST_F(DnsServerTest, KnownNamesOverUdpAndTcp) {
  start();
  for (bool tcp : {false, true}) {
    SCOPED_TRACE(tcp ? "tcp" : "udp");
    auto q = query(0x1111, "web", kA);
    auto raw = tcp ? tcp_ask(q) : udp_ask(q);
    auto a = decode(raw);
    EXPECT_EQ(a.id, 0x1111);
    EXPECT_EQ(a.flags, 0x8180) << "QR RD RA NOERROR";
    EXPECT_EQ(a.addresses, std::vector<std::uint32_t>{ip("172.18.0.2")});
    // The question comes back as asked.
    EXPECT_EQ(Bytes(raw.begin() + 12, raw.begin() + static_cast<std::ptrdiff_t>(q.size())),
              Bytes(q.begin() + 12, q.end()));
    // Upper case and name.network forms: the resolver gets them lower case and decides.
    a = decode(tcp ? tcp_ask(query(2, "WEB.Net1", kA)) : udp_ask(query(2, "WEB.Net1", kA)));
    EXPECT_EQ(a.addresses, std::vector<std::uint32_t>{ip("172.18.0.2")});
  }
  EXPECT_THAT(asked(), ::testing::Contains("c1 web"));
  EXPECT_THAT(asked(), ::testing::Contains("c1 web.net1"));
}

TEST_F(DnsServerTest, SeveralAddressesRotate) {
  start();
  std::set<std::uint32_t> firsts;
  const std::set<std::uint32_t> all{ip("10.9.0.1"), ip("10.9.0.2"), ip("10.9.0.3")};
  for (int i = 0; i < 3; ++i) {
    auto a = decode(udp_ask(query(static_cast<std::uint16_t>(i), "many", kA)));
    ASSERT_EQ(a.addresses.size(), 3u);
    EXPECT_EQ(std::set<std::uint32_t>(a.addresses.begin(), a.addresses.end()), all);
    firsts.insert(a.addresses[0]);
  }
  EXPECT_EQ(firsts, all) << "three queries, three different first addresses";
}

TEST_F(DnsServerTest, PtrAndAaaa) {
  start();
  auto a = decode(udp_ask(query(3, "2.0.18.172.in-addr.arpa", kPtr)));
  EXPECT_EQ(a.rcode(), 0);
  EXPECT_EQ(a.ptrs, std::vector<std::string>{"web.net1"});
  a = decode(tcp_ask(query(3, "2.0.18.172.in-addr.arpa", kPtr)));
  EXPECT_EQ(a.ptrs, std::vector<std::string>{"web.net1"});
  // A known name has no IPv6 address: NOERROR with no records, as dockerd answers.
  a = decode(udp_ask(query(4, "web", kAaaa)));
  EXPECT_EQ(a.flags, 0x8180);
  EXPECT_EQ(a.records, 0);
}

TEST_F(DnsServerTest, UnknownNamesForwardedAndRelayedByteExact) {
  FakeUpstream up;
  start({up.address()});
  const std::vector<Bytes> queries{query(0x2222, "example.com", kA), query(0x3333, "web", kMx),
                                   query(0x4444, "9.9.9.10.in-addr.arpa", kPtr), query(0x5555, "nope", kAaaa)};
  for (const auto& q : queries) {
    EXPECT_EQ(udp_ask(q), FakeUpstream::reply_to(q));
    EXPECT_EQ(tcp_ask(q), FakeUpstream::reply_to(q));
  }
  auto got = up.received();
  ASSERT_EQ(got.size(), 2 * queries.size());
  for (std::size_t i = 0; i < queries.size(); ++i) {
    EXPECT_EQ(got[2 * i], queries[i]) << "the raw query";
    EXPECT_EQ(got[2 * i + 1], queries[i]);
  }
}

TEST_F(DnsServerTest, UpstreamDownOrNoneIsServfail) {
  start({closed_port()});
  auto t0 = Clock::now();
  auto a = decode(udp_ask(query(5, "example.com", kA)));
  EXPECT_EQ(a.rcode(), 2);
  EXPECT_EQ(a.id, 5);
  EXPECT_EQ(decode(tcp_ask(query(6, "example.com", kA))).rcode(), 2);
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(4));
  server_->set_upstreams({});
  EXPECT_EQ(decode(udp_ask(query(7, "example.com", kA))).rcode(), 2);
  // A resolver that throws: SERVFAIL too, and the server goes on.
  EXPECT_EQ(decode(udp_ask(query(8, "boom", kA))).rcode(), 2);
  EXPECT_EQ(decode(udp_ask(query(9, "web", kA))).addresses, std::vector<std::uint32_t>{ip("172.18.0.2")});
}

TEST_F(DnsServerTest, SilentUpstreamTimesOutNextAnswersOthersServedMeanwhile) {
  FakeUpstream silent(false), up;
  start({silent.address(), up.address()});
  auto slow = udp_client(8000);
  auto q = query(0x6666, "example.org", kA);
  const auto t0 = Clock::now();
  ASSERT_GT(::send(slow.get(), q.data(), q.size(), 0), 0);
  // While that waits for the first upstream, a local name is answered at once.
  auto a = decode(udp_ask(query(10, "web", kA)));
  EXPECT_EQ(a.addresses, std::vector<std::uint32_t>{ip("172.18.0.2")});
  EXPECT_LT(Clock::now() - t0, std::chrono::milliseconds(1500));
  EXPECT_EQ(udp_read(slow.get()), FakeUpstream::reply_to(q));
  const auto took = Clock::now() - t0;
  EXPECT_GE(took, std::chrono::milliseconds(1900)) << "the first upstream had 2 s";
  EXPECT_LT(took, std::chrono::seconds(5));
}

TEST_F(DnsServerTest, TruncatedOverUdpWholeOverTcp) {
  start();
  auto udp = udp_ask(query(11, "huge", kA));
  EXPECT_LE(udp.size(), 512u);
  auto a = decode(udp);
  EXPECT_TRUE(a.flags & 0x0200) << "TC";
  EXPECT_GT(a.addresses.size(), 20u);
  EXPECT_LT(a.addresses.size(), 100u);
  a = decode(tcp_ask(query(11, "huge", kA)));
  EXPECT_FALSE(a.flags & 0x0200);
  EXPECT_EQ(a.addresses.size(), 100u);
}

TEST_F(DnsServerTest, TcpPipelinedHalfClosedAndMalformed) {
  start();
  {
    // Two queries in one write, then the client stops sending: both answered, then EOF.
    auto s = tcp_client();
    auto both = framed(query(21, "web", kA));
    auto second = framed(query(22, "2.0.18.172.in-addr.arpa", kPtr));
    both.insert(both.end(), second.begin(), second.end());
    ASSERT_EQ(::send(s.get(), both.data(), both.size(), MSG_NOSIGNAL), static_cast<ssize_t>(both.size()));
    ::shutdown(s.get(), SHUT_WR);
    EXPECT_EQ(decode(read_framed(s.get())).id, 21);
    EXPECT_EQ(decode(read_framed(s.get())).ptrs, std::vector<std::string>{"web.net1"});
    std::uint8_t c;
    EXPECT_EQ(::recv(s.get(), &c, 1, 0), 0);
  }
  {
    // A response instead of a query: the connection is closed.
    auto s = tcp_client();
    auto bad = query(23, "web", kA);
    bad[2] |= 0x80;
    auto f = framed(bad);
    ::send(s.get(), f.data(), f.size(), MSG_NOSIGNAL);
    std::uint8_t c;
    EXPECT_EQ(::recv(s.get(), &c, 1, 0), 0);
  }
  {
    // Garbage over UDP: no answer, and the server goes on.
    auto s = udp_client(300);
    Bytes junk{1, 2, 3};
    ::send(s.get(), junk.data(), junk.size(), 0);
    EXPECT_THROW(udp_read(s.get()), hoist::SysError);
  }
  EXPECT_EQ(decode(udp_ask(query(24, "web", kA))).addresses, std::vector<std::uint32_t>{ip("172.18.0.2")});
}

TEST_F(DnsServerTest, RemoveClosesTheSocketsAddAgainReplaces) {
  start();
  auto idle = tcp_client();  // a connection of the scope: closed with it
  server_->add("c1", ns_);   // the same scope again: its sockets replaced
  EXPECT_EQ(decode(udp_ask(query(31, "web", kA))).records, 1);
  server_->remove("c1");
  try {
    tcp_client();
    ADD_FAILURE() << "connected after remove";
  } catch (const hoist::SysError& e) {
    EXPECT_EQ(e.code(), ECONNREFUSED) << e.what();
  }
  try {
    udp_ask(query(32, "web", kA), 2000);
    ADD_FAILURE() << "answered after remove";
  } catch (const hoist::SysError& e) {
    EXPECT_EQ(e.code(), ECONNREFUSED) << e.what();
  }
  std::uint8_t c;
  EXPECT_LE(::recv(idle.get(), &c, 1, 0), 0);
  server_->remove("c1");  // nothing
  server_->add("c1", ns_);
  EXPECT_EQ(decode(tcp_ask(query(33, "web", kA))).records, 1);
}

// add_here: the sockets of a thread already in the namespace (the one that made it), no thread
// of the server's own; an address taken there is an error naming the namespace.
TEST_F(DnsServerTest, AddHereServesTheCallingThreadsNamespace) {
  start();
  auto in_ns = [&](const std::function<void()>& fn) {
    std::exception_ptr err;
    std::thread t([&] {
      try {
        UniqueFd ns(::open(ns_.c_str(), O_RDONLY | O_CLOEXEC));
        if (!ns || ::setns(ns.get(), CLONE_NEWNET) != 0) throw hoist::SysError("setns", ns_, errno);
        fn();
      } catch (...) {
        err = std::current_exception();
      }
    });
    t.join();
    if (err) std::rethrow_exception(err);
  };
  EXPECT_THAT([&] { in_ns([&] { server_->add_here("c2", ns_); }); },
              ::testing::ThrowsMessage<hoist::SysError>(
                  HasSubstr("bind tcp 127.0.0.11:53 in " + ns_ + ": Address already in use")));
  server_->remove("c1");
  in_ns([&] { server_->add_here("c1", ns_); });
  EXPECT_EQ(decode(udp_ask(query(51, "web", kA))).addresses, std::vector<std::uint32_t>{ip("172.18.0.2")});
  EXPECT_EQ(decode(tcp_ask(query(52, "web", kA))).addresses, std::vector<std::uint32_t>{ip("172.18.0.2")});
  server_->remove("c1");
  EXPECT_THROW(udp_ask(query(53, "web", kA), 2000), hoist::SysError);
}

TEST_F(DnsServerTest, Errors) {
  start();
  EXPECT_THAT([&] { server_->add("c2", dir_ + "/missing"); },
              ::testing::ThrowsMessage<hoist::SysError>(HasSubstr("open " + dir_ + "/missing: No such file")));
  // The port is taken in that namespace (c1 holds it).
  EXPECT_THAT([&] { server_->add("c2", ns_); }, ::testing::ThrowsMessage<hoist::SysError>(HasSubstr(
                                                    "bind tcp 127.0.0.11:53 in " + ns_ + ": Address already in use")));
  EXPECT_THROW(server_->add("c2", ns_, "nope"), hoist::InvalidArgument);
  EXPECT_THROW(server_->set_upstreams({"1.2.3.4:x"}), hoist::InvalidArgument);
  EXPECT_THROW(net::DnsServer(resolver(), {"example.com"}), hoist::InvalidArgument);
  EXPECT_NO_THROW(net::DnsServer(resolver(), {"127.0.0.53", "10.0.0.1:5353", "::1", "[fe80::1%1]:53"}));
  // c1 still served
  EXPECT_EQ(decode(udp_ask(query(41, "web", kA))).records, 1);
}

TEST_F(DnsServerTest, AScopesOwnUpstreamsTakeItsOtherNames) {
  FakeUpstream server_up, own_up;
  start({server_up.address()});  // c1 at 127.0.0.11: the server's upstreams
  const auto c2 = ip("127.0.0.12");
  server_->add("c2", ns_, "127.0.0.12", 53, {closed_port(), own_up.address()});  // tried in order
  const auto q = query(0x7777, "example.com", kA);
  EXPECT_EQ(udp_ask(q, 5000, c2), FakeUpstream::reply_to(q));
  EXPECT_EQ(tcp_ask(q, c2), FakeUpstream::reply_to(q));
  EXPECT_EQ(own_up.received().size(), 2u);
  EXPECT_TRUE(server_up.received().empty()) << "c2's query went to the server's upstream";
  EXPECT_EQ(udp_ask(q), FakeUpstream::reply_to(q));  // c1
  EXPECT_EQ(server_up.received().size(), 1u);
  EXPECT_EQ(own_up.received().size(), 2u);
  // c2's names are still answered here, asked as c2.
  EXPECT_EQ(decode(udp_ask(query(51, "web", kA), 5000, c2)).addresses, std::vector<std::uint32_t>{ip("172.18.0.2")});
  EXPECT_THAT(asked(), ::testing::Contains("c2 web"));
  // New upstreams for the server: c1's go there, c2 keeps its own.
  FakeUpstream later;
  server_->set_upstreams({later.address()});
  EXPECT_EQ(udp_ask(q, 5000, c2), FakeUpstream::reply_to(q));
  EXPECT_EQ(udp_ask(q), FakeUpstream::reply_to(q));
  EXPECT_EQ(own_up.received().size(), 3u);
  EXPECT_EQ(later.received().size(), 1u);
  EXPECT_EQ(server_up.received().size(), 1u);
  // A malformed one is refused before c2's sockets are touched.
  EXPECT_THAT([&] { server_->add("c2", ns_, "127.0.0.12", 53, {"1.2.3.4", "resolver"}); },
              ::testing::ThrowsMessage<hoist::InvalidArgument>(HasSubstr("invalid DNS upstream \"resolver\"")));
  EXPECT_EQ(udp_ask(q, 5000, c2), FakeUpstream::reply_to(q));
  EXPECT_EQ(own_up.received().size(), 4u);
  // Added again without upstreams of its own: the server's from then on.
  server_->add("c2", ns_, "127.0.0.12", 53);
  EXPECT_EQ(udp_ask(q, 5000, c2), FakeUpstream::reply_to(q));
  EXPECT_EQ(later.received().size(), 2u);
  EXPECT_EQ(own_up.received().size(), 4u);
}

TEST_F(DnsServerTest, AScopesUpstreamMayBeIpv6) {
  std::unique_ptr<FakeUpstream> up;
  try {
    up = std::make_unique<FakeUpstream>(true, true);
  } catch (const hoist::SysError& e) {
    GTEST_SKIP() << "no IPv6 loopback on this host: " << e.what();
  }
  start();  // the server has no upstream: only c1's own can answer
  server_->add("c1", ns_, "127.0.0.11", 53, {up->address()});
  const auto q = query(0x8888, "example.net", kAaaa);
  EXPECT_EQ(udp_ask(q), FakeUpstream::reply_to(q));
  EXPECT_EQ(tcp_ask(q), FakeUpstream::reply_to(q));
  EXPECT_EQ(up->received().size(), 2u);
}
