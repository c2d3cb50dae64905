// Container networking through hoistd as a user sees it, with the real docker CLI: user-defined
// networks with names and aliases, published TCP and UDP ports on 127.0.0.1 and on another host
// address, isolation, --internal, none, container:, connect/disconnect, forwarding to an upstream
// resolver (the host's, or a container's --dns), a kill -9 of hoistd while a port is in use, and
// Docker's errors for bad input.
// Each daemon has its own bridge, subnets and nftables table (hoistd_harness.h); every address
// used is on loopback, a bridge this test's daemon made, or its containers.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/strings.h"
#include "hoistd_harness.h"

using hoist::trim;
using nlohmann::json;

namespace {

// A port nothing listens on now (the kernel's pick, released).
int free_tcp_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// GET / from ip:port over TCP; the response body ("" when nothing answered within 5 s).
std::string http_get(const std::string& ip, int port) {
  for (int attempt = 0; attempt < 50; ++attempt) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    ::inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
    timeval tv{2, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
      std::string req = "GET / HTTP/1.0\r\nHost: x\r\n\r\n";
      (void)::write(fd, req.data(), req.size());
      std::string resp;
      char buf[4096];
      for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) resp.append(buf, static_cast<size_t>(n));
      ::close(fd);
      auto body = resp.find("\r\n\r\n");
      if (body != std::string::npos) return resp.substr(body + 4);
    } else {
      ::close(fd);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // httpd may not listen yet
  }
  return "";
}

// A resolver on port 53 of a loopback address of its own (`address`, 127.x), answering every A
// query with `answer` and any other with no record; counts the queries. error(): why it could not
// bind ("" once it serves).
class FakeResolver {
 public:
  FakeResolver(std::string address, const std::string& answer) : address_(std::move(address)) {
    ::inet_pton(AF_INET, answer.c_str(), answer_);
    fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(53);
    ::inet_pton(AF_INET, address_.c_str(), &a.sin_addr);
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      error_ = "bind " + address_ + ":53: " + strerror(errno);
      return;
    }
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeResolver() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (fd_ >= 0) ::close(fd_);
  }
  FakeResolver(const FakeResolver&) = delete;
  FakeResolver& operator=(const FakeResolver&) = delete;
  const std::string& address() const { return address_; }
  const std::string& error() const { return error_; }
  int queries() const { return queries_; }

 private:
  void serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      unsigned char buf[512];
      sockaddr_in from{};
      socklen_t fl = sizeof from;
      ssize_t n = ::recvfrom(fd_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &fl);
      if (n < 12) continue;
      ++queries_;
      std::string resp(reinterpret_cast<char*>(buf), static_cast<size_t>(n));
      resp[2] = static_cast<char>(0x81);
      resp[3] = static_cast<char>(0x80);
      const bool a_query = buf[n - 3] == 1;  // QTYPE A
      resp[7] = a_query ? 1 : 0;             // one answer, or none
      if (a_query) {
        resp += std::string("\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04", 12);
        resp.append(reinterpret_cast<const char*>(answer_), 4);
      }
      ::sendto(fd_, resp.data(), resp.size(), 0, reinterpret_cast<sockaddr*>(&from), fl);
    }
  }
  std::string address_, error_;
  unsigned char answer_[4] = {};
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::atomic<int> queries_{0};
  std::thread thread_;
};

// A hoistd whose host resolv.conf names `host_resolver` alone, with a cgroup parent of its own, the
// busybox image as bb:1 and a user network "dnsnet" on the pool's subnet `n`; its containers and
// cgroups go with it, also when a test stops half way.
class DnsDaemon {
 public:
  DnsDaemon(const std::string& host_resolver, int n)
      : tmp_("hoist-dns-test"), cgroup_("/hoist-test-dns-" + std::to_string(getpid())) {
    std::ofstream(tmp_.path() + "/resolv.conf") << "nameserver " << host_resolver << "\n";
    d_.emplace(std::vector<std::string>{"--resolv-conf", tmp_.path() + "/resolv.conf", "--cgroup-parent", cgroup_});
    ok_ = d_->docker({"import", hoist::test::fixtures_dir() + "/busybox-rootfs.tar", "bb:1"}).code == 0 &&
          d_->docker({"network", "create", "--subnet", d_->pool_prefix() + std::to_string(n) + ".0/24", "dnsnet"}).code == 0;
  }
  ~DnsDaemon() {
    hoist::test::remove_all_containers(*d_);
    hoist::test::force_cleanup(*d_, cgroup_);
  }
  DnsDaemon(const DnsDaemon&) = delete;
  DnsDaemon& operator=(const DnsDaemon&) = delete;
  bool ok() const { return ok_; }  // the image and the network are there
  hoist::test::Hoistd& operator*() { return *d_; }
  hoist::test::Hoistd* operator->() { return &*d_; }

 private:
  hoist::test::TempDir tmp_;
  std::string cgroup_;
  std::optional<hoist::test::Hoistd> d_;
  bool ok_ = false;
};

class NetworkingTest : public hoist::test::DaemonTest {
 protected:
  NetworkingTest() : DaemonTest("net") {}
  std::string subnet(int n) const { return d_->pool_prefix() + std::to_string(n) + ".0/24"; }
  std::string addr(int n, int host) const { return d_->pool_prefix() + std::to_string(n) + "." + std::to_string(host); }
  std::string gateway() const { return d_->bip().substr(0, d_->bip().find('/')); }
  // busybox httpd serving `text` at / on port 80.
  std::vector<std::string> httpd(const std::string& text) const {
    return {"bb:1", "sh", "-c", "mkdir -p /www && echo " + text + " > /www/index.html && exec httpd -f -p 80 -h /www"};
  }
  hoist::test::CmdResult docker(std::vector<std::string> args) { return d_->docker(args); }
  json inspect(const std::string& what) {
    auto r = d_->docker({"inspect", what});
    auto j = json::parse(r.out, nullptr, false);
    return j.is_array() && !j.empty() ? j[0] : json();
  }
};

}  // namespace

TEST_F(NetworkingTest, ContainersOnAUserNetworkReachEachOtherByNameAndAlias) {
  ASSERT_EQ(docker({"network", "create", "--subnet", subnet(1), "appnet"}).code, 0);
  std::vector<std::string> run = {"run", "-d", "--name", "web", "--network", "appnet", "--network-alias", "www"};
  auto h = httpd("hello-web");
  run.insert(run.end(), h.begin(), h.end());
  auto r = docker(run);
  ASSERT_EQ(r.code, 0) << r.err;
  auto web = inspect("web");
  auto ep = web["NetworkSettings"]["Networks"]["appnet"];
  EXPECT_EQ(ep["IPAddress"], addr(1, 2));
  EXPECT_EQ(ep["Gateway"], addr(1, 1));
  EXPECT_EQ(ep["IPPrefixLen"], 24);
  EXPECT_EQ(ep["Aliases"], json({"www"}));
  EXPECT_EQ(ep["MacAddress"].get<std::string>().rfind("02:42:", 0), 0u);
  EXPECT_EQ(web["HostConfig"]["NetworkMode"], "appnet");
  for (const char* name : {"web", "www", "web.appnet"}) {
    r = docker({"run", "--rm", "--network", "appnet", "bb:1", "wget", "-qO-", std::string("http://") + name + "/"});
    EXPECT_EQ(r.out, "hello-web\n") << name << ": " << r.err;
  }
  // A second container behind the same alias: both addresses answer, in turns.
  run = {"run", "-d", "--name", "web2", "--network", "appnet", "--network-alias", "www"};
  h = httpd("hello-web2");
  run.insert(run.end(), h.begin(), h.end());
  ASSERT_EQ(docker(run).code, 0);
  std::string web2_ip = inspect("web2")["NetworkSettings"]["Networks"]["appnet"]["IPAddress"];
  r = docker({"run", "--rm", "--network", "appnet", "bb:1", "nslookup", "www"});
  EXPECT_NE(r.out.find(addr(1, 2)), std::string::npos) << r.out << r.err;
  EXPECT_NE(r.out.find(web2_ip), std::string::npos) << r.out << r.err;
  // PTR: an address's name.
  r = docker({"run", "--rm", "--network", "appnet", "bb:1", "nslookup", addr(1, 2)});
  EXPECT_NE(r.out.find("web.appnet"), std::string::npos) << r.out << r.err;
  // /etc/resolv.conf points at the embedded server; /etc/hosts has the container's own address.
  r = docker({"exec", "web", "cat", "/etc/resolv.conf", "/etc/hosts"});
  EXPECT_NE(r.out.find("nameserver 127.0.0.11\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(addr(1, 2) + "\t"), std::string::npos) << r.out;
  // The network lists its containers.
  auto net = json::parse(docker({"network", "inspect", "appnet"}).out)[0];
  EXPECT_EQ(net["Containers"].size(), 2u);
  EXPECT_EQ(net["IPAM"]["Config"][0]["Subnet"], subnet(1));
  // In use: removal refused.
  r = docker({"network", "rm", "appnet"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("has active endpoints"), std::string::npos) << r.err;
}

TEST_F(NetworkingTest, PublishedPortsAnswerOnLoopbackAndOnOtherHostAddresses) {
  int port = free_tcp_port();
  std::vector<std::string> run = {"run", "-d", "--name", "pub", "-p", std::to_string(port) + ":80"};
  auto h = httpd("published");
  run.insert(run.end(), h.begin(), h.end());
  auto r = docker(run);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(http_get("127.0.0.1", port), "published\n");
  EXPECT_EQ(http_get(gateway(), port), "published\n");  // a host address other than loopback
  auto c = inspect("pub");
  EXPECT_EQ(c["NetworkSettings"]["Ports"]["80/tcp"][0]["HostPort"], std::to_string(port));
  EXPECT_EQ(c["NetworkSettings"]["Ports"]["80/tcp"][0]["HostIp"], "0.0.0.0");
  EXPECT_EQ(c["NetworkSettings"]["IPAddress"], c["NetworkSettings"]["Networks"]["bridge"]["IPAddress"]);
  r = docker({"port", "pub"});
  EXPECT_NE(r.out.find("80/tcp -> 0.0.0.0:" + std::to_string(port)), std::string::npos) << r.out;
  r = docker({"ps", "--format", "{{.Ports}}"});
  EXPECT_NE(r.out.find("0.0.0.0:" + std::to_string(port) + "->80/tcp"), std::string::npos) << r.out;
  // Hairpin: another container reaches it through the host's address.
  r = docker({"run", "--rm", "bb:1", "wget", "-qO-", "http://" + gateway() + ":" + std::to_string(port) + "/"});
  EXPECT_EQ(r.out, "published\n") << r.err;
  // The port is taken: a second container cannot have it, and nothing of it is left.
  r = docker({"run", "-d", "--name", "clash", "-p", std::to_string(port) + ":80", "bb:1", "sleep", "30"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("port is already allocated"), std::string::npos) << r.err;
  EXPECT_NE(inspect("clash")["State"]["Status"], "running");
  // A host process's port: Docker's words.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::listen(fd, 1);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  r = docker({"run", "--rm", "-p", "127.0.0.1:" + std::to_string(ntohs(a.sin_port)) + ":80", "bb:1", "true"});
  ::close(fd);
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("address already in use"), std::string::npos) << r.err;
  // Removed: the port is free again and no longer answers.
  ASSERT_EQ(docker({"rm", "-f", "pub"}).code, 0);
  EXPECT_EQ(http_get("127.0.0.1", port), "");
}

TEST_F(NetworkingTest, UdpPortsAndPublishAll) {
  // (The test image has no UDP server; NatDataPath in tests/network/ sends datagrams through the
  // same rules. Here: the mapping as a client sees it and the rule hoistd made of it.)
  int port = free_tcp_port();
  auto r = docker({"run", "-d", "--name", "udp", "-p", "127.0.0.1:" + std::to_string(port) + ":5353/udp", "bb:1", "sleep", "30"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto c = inspect("udp");
  EXPECT_EQ(c["NetworkSettings"]["Ports"]["5353/udp"][0]["HostPort"], std::to_string(port));
  EXPECT_EQ(c["NetworkSettings"]["Ports"]["5353/udp"][0]["HostIp"], "127.0.0.1");
  auto rules = hoist::test::run_cmd({"nft", "list", "table", "ip", d_->nft_table()}).out;
  EXPECT_NE(rules.find("ip daddr 127.0.0.1 udp dport " + std::to_string(port) + " dnat to " +
                       c["NetworkSettings"]["IPAddress"].get<std::string>() + ":5353"),
            std::string::npos)
      << rules;
  // -P: every exposed port on a free host port.
  r = docker({"run", "-d", "--name", "all", "-P", "--expose", "80", "--expose", "81/udp", "bb:1", "sleep", "30"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto ports = inspect("all")["NetworkSettings"]["Ports"];
  ASSERT_TRUE(ports["80/tcp"].is_array()) << ports.dump();
  ASSERT_TRUE(ports["81/udp"].is_array()) << ports.dump();
  EXPECT_NE(ports["80/tcp"][0]["HostPort"], "0");
}

// enable_icc=false: the network's containers do not reach each other, but a published port of
// one is open to the others through a host address, and the embedded DNS still answers.
TEST_F(NetworkingTest, IccOffKeepsContainersApartButNotFromPublishedPortsOrDns) {
  ASSERT_EQ(docker({"network", "create", "--subnet", subnet(5), "-o", "com.docker.network.bridge.enable_icc=false", "quiet"}).code, 0);
  auto net = json::parse(docker({"network", "inspect", "quiet"}).out)[0];
  EXPECT_EQ(net["Options"], json({{"com.docker.network.bridge.enable_icc", "false"}}));
  EXPECT_EQ(json::parse(docker({"network", "inspect", "bridge"}).out)[0]["Options"]["com.docker.network.bridge.enable_icc"], "true");
  int port = free_tcp_port();
  std::vector<std::string> run = {"run", "-d", "--name", "srv", "--network", "quiet", "-p", std::to_string(port) + ":80"};
  auto h = httpd("quiet");
  run.insert(run.end(), h.begin(), h.end());
  ASSERT_EQ(docker(run).code, 0);
  EXPECT_EQ(http_get("127.0.0.1", port), "quiet\n");
  auto r = docker({"run", "--rm", "--network", "quiet", "bb:1", "sh", "-c",
                   "nslookup srv && wget -qO- http://" + addr(5, 1) + ":" + std::to_string(port) + "/"});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("Address: " + addr(5, 2)), std::string::npos) << r.out;  // DNS
  EXPECT_NE(r.out.find("quiet\n"), std::string::npos) << r.out;                 // hairpin
  r = docker({"run", "--rm", "--network", "quiet", "bb:1", "sh", "-c",
              "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 " + addr(5, 2) + " 80"});
  EXPECT_NE(r.code, 0) << "a neighbour reached it: " << r.out;
  r = docker({"run", "--rm", "--network", "quiet", "bb:1", "ping", "-c", "1", "-W", "1", addr(5, 2)});
  EXPECT_NE(r.code, 0) << "a neighbour pinged it: " << r.out;
  ASSERT_EQ(docker({"rm", "-f", "srv"}).code, 0);
  EXPECT_EQ(docker({"network", "rm", "quiet"}).code, 0);
}

// hoistd --icc=false (or daemon.json's "icc": false): the same on the default bridge.
TEST(NetworkingDaemonIcc, IccFalseAppliesToTheDefaultBridge) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  const std::string cgroup = "/hoist-test-icc-" + std::to_string(getpid());
  hoist::test::Hoistd d({"--icc=false", "--cgroup-parent", cgroup});
  struct Cleanup {
    hoist::test::Hoistd& d;
    std::string cgroup;
    ~Cleanup() {
      hoist::test::remove_all_containers(d);
      hoist::test::force_cleanup(d, cgroup);
    }
  } cleanup{d, cgroup};
  auto icc_option = [](hoist::test::Hoistd& h) {
    auto r = h.docker({"network", "inspect", "bridge"});
    auto j = json::parse(r.out, nullptr, false);
    return j.is_array() && !j.empty() ? j[0]["Options"].value("com.docker.network.bridge.enable_icc", "?") : r.err;
  };
  EXPECT_EQ(icc_option(d), "false");
  ASSERT_EQ(d.docker({"import", hoist::test::fixtures_dir() + "/busybox-rootfs.tar", "bb:1"}).code, 0);
  ASSERT_EQ(d.docker({"run", "-d", "--name", "srv", "-p", "80", "bb:1", "sh", "-c",
                      "mkdir -p /www && echo hi > /www/index.html && exec httpd -f -p 80 -h /www"}).code, 0);
  auto port = std::string(hoist::trim(d.docker({"port", "srv", "80"}).out));
  port = port.substr(port.rfind(':') + 1);
  auto srv = std::string(hoist::trim(d.docker({"inspect", "-f", "{{.NetworkSettings.IPAddress}}", "srv"}).out));
  const std::string gw = d.bip().substr(0, d.bip().find('/'));
  auto r = d.docker({"run", "--rm", "bb:1", "wget", "-qO-", "http://" + gw + ":" + port + "/"});
  EXPECT_EQ(r.out, "hi\n") << r.err;
  r = d.docker({"run", "--rm", "bb:1", "sh", "-c", "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 " + srv + " 80"});
  EXPECT_NE(r.code, 0) << "a neighbour reached it: " << r.out;
  ASSERT_EQ(d.docker({"rm", "-f", "srv"}).code, 0);
  // The flag wins over the config file, as dockerd's.
  std::ofstream(d.dir() + "/daemon.json") << "{\"icc\": true}\n";
  d.restart();
  EXPECT_EQ(icc_option(d), "false");

  // The config file alone, taken at each start.
  hoist::test::Hoistd f({"--cgroup-parent", cgroup});
  EXPECT_EQ(icc_option(f), "true");
  std::ofstream(f.dir() + "/daemon.json") << "{\"icc\": false}\n";
  f.restart();
  EXPECT_EQ(icc_option(f), "false");
}

TEST_F(NetworkingTest, NetworksAreIsolatedAndInternalHasNoWayOut) {
  ASSERT_EQ(docker({"network", "create", "--subnet", subnet(2), "n1"}).code, 0);
  ASSERT_EQ(docker({"network", "create", "--subnet", subnet(3), "n2"}).code, 0);
  ASSERT_EQ(docker({"network", "create", "--internal", "--subnet", subnet(4), "sealed"}).code, 0);
  std::vector<std::string> run = {"run", "-d", "--name", "srv", "--network", "n1"};
  auto h = httpd("n1-only");
  run.insert(run.end(), h.begin(), h.end());
  ASSERT_EQ(docker(run).code, 0);
  auto srv_ip = addr(2, 2);
  auto r = docker({"run", "--rm", "--network", "n1", "bb:1", "sh", "-c",
                   "for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://" + srv_ip + "/ && exit; sleep 0.3; done; exit 1"});
  EXPECT_EQ(r.out, "n1-only\n") << r.err;
  // nc -w: a connect timeout (busybox's `timeout` does not stop a wget in a connect here).
  auto get = "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 " + srv_ip + " 80";
  r = docker({"run", "--rm", "--network", "n2", "bb:1", "sh", "-c", get});
  EXPECT_NE(r.code, 0) << "another network reached it: " << r.out;
  r = docker({"run", "--rm", "--network", "sealed", "bb:1", "sh", "-c", get});
  EXPECT_NE(r.code, 0) << "an internal network reached out: " << r.out;
  r = docker({"run", "--rm", "--network", "sealed", "bb:1", "route", "-n"});
  EXPECT_EQ(r.out.find("0.0.0.0         " + addr(4, 1)), std::string::npos) << r.out;  // no default route
  // none: lo alone.
  r = docker({"run", "--rm", "--network", "none", "bb:1", "ls", "/sys/class/net"});
  EXPECT_EQ(r.out, "lo\n");
  // container:<name>: the same stack (srv's httpd on its 127.0.0.1).
  r = docker({"run", "--rm", "--network", "container:srv", "bb:1", "wget", "-qO-", "http://127.0.0.1/"});
  EXPECT_EQ(r.out, "n1-only\n") << r.err;
  // ... and srv's host name, /etc/hostname and /etc/hosts, as dockerd gives them.
  auto srv_host = docker({"exec", "srv", "sh", "-c", "hostname; cat /etc/hostname /etc/hosts"});
  ASSERT_EQ(srv_host.code, 0) << srv_host.err;
  EXPECT_EQ(srv_host.out.substr(0, 13), inspect("srv")["Id"].get<std::string>().substr(0, 12) + "\n");
  r = docker({"run", "--rm", "--network", "container:srv", "bb:1", "sh", "-c", "hostname; cat /etc/hostname /etc/hosts"});
  EXPECT_EQ(r.out, srv_host.out) << r.err;
  // Inspect's Config: its own default names once created, srv's (with its domain) once started.
  ASSERT_EQ(docker({"run", "-d", "--name", "named", "--hostname", "foo", "--domainname", "dom.x", "--network", "n1",
                    "bb:1", "sleep", "60"}).code, 0);
  ASSERT_EQ(docker({"create", "--name", "joiner", "--network", "container:named", "bb:1", "sleep", "60"}).code, 0);
  auto joiner = inspect("joiner");
  EXPECT_EQ(joiner["Config"]["Hostname"], joiner["Id"].get<std::string>().substr(0, 12));
  ASSERT_EQ(docker({"start", "joiner"}).code, 0);
  joiner = inspect("joiner");
  EXPECT_EQ(joiner["Config"]["Hostname"], "foo");
  EXPECT_EQ(joiner["Config"]["Domainname"], "dom.x");
  EXPECT_EQ(docker({"exec", "joiner", "hostname"}).out, "foo\n");
}

// Legacy links on the default bridge: /etc/hosts lines and variables as dockerd makes them, the
// line following the linked container to its new address, `rm --link`, dockerd's errors; on a
// user-defined network the alias is a name for the linking container alone.
TEST_F(NetworkingTest, LegacyLinksAsDockerdMakesThem) {
  ASSERT_EQ(docker({"run", "-d", "--name", "db", "-e", "FOO=bar", "--expose", "5432", "bb:1", "sleep", "60"}).code, 0);
  auto db = inspect("db");
  std::string ip = db["NetworkSettings"]["Networks"]["bridge"]["IPAddress"];
  std::string id12 = db["Id"].get<std::string>().substr(0, 12);
  auto r = docker({"run", "-d", "--name", "web", "--link", "db:database", "bb:1", "sleep", "60"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto web = inspect("web");
  EXPECT_EQ(web["HostConfig"]["Links"], json({"/db:/web/database"}));
  EXPECT_EQ(web["Config"]["Env"].dump().find("DATABASE"), std::string::npos) << web["Config"]["Env"];
  r = docker({"exec", "web", "cat", "/etc/hosts"});
  EXPECT_NE(r.out.find("\n" + ip + "\tdatabase " + id12 + " db\n"), std::string::npos) << r.out;
  r = docker({"run", "--rm", "--name", "w2", "--link", "db", "bb:1", "env"});
  ASSERT_EQ(r.code, 0) << r.err;
  for (const std::string& v : std::vector<std::string>{"DB_NAME=/w2/db\n", "DB_PORT=tcp://" + ip + ":5432\n", "DB_PORT_5432_TCP_ADDR=" + ip + "\n",
                               "DB_PORT_5432_TCP_PROTO=tcp\n", "DB_ENV_FOO=bar\n"})
    EXPECT_NE(r.out.find(v), std::string::npos) << v << " in " << r.out;
  EXPECT_EQ(r.out.find("DB_ENV_PATH"), std::string::npos) << r.out;
  // The linked container back with another address: the linking one's line follows it.
  ASSERT_EQ(docker({"stop", "-t", "0", "db"}).code, 0);
  ASSERT_EQ(docker({"run", "-d", "--name", "filler", "bb:1", "sleep", "60"}).code, 0);
  ASSERT_EQ(docker({"start", "db"}).code, 0);
  std::string ip2 = inspect("db")["NetworkSettings"]["Networks"]["bridge"]["IPAddress"];
  ASSERT_NE(ip2, ip);
  r = docker({"exec", "web", "cat", "/etc/hosts"});
  EXPECT_NE(r.out.find("\n" + ip2 + "\tdatabase " + id12 + " db\n"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find(ip + "\t"), std::string::npos) << r.out;
  // Renamed, the linked container stays linked; so does the linking one.
  ASSERT_EQ(docker({"rename", "db", "db2"}).code, 0);
  ASSERT_EQ(docker({"rename", "web", "web2"}).code, 0);
  EXPECT_EQ(inspect("web2")["HostConfig"]["Links"], json({"/db2:/web2/database"}));
  ASSERT_EQ(docker({"rename", "db2", "db"}).code, 0);
  ASSERT_EQ(docker({"rename", "web2", "web"}).code, 0);
  // rm --link: the link and its line go.
  r = docker({"rm", "--link", "/web/database"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(inspect("web")["HostConfig"]["Links"].is_null());
  EXPECT_EQ(docker({"exec", "web", "cat", "/etc/hosts"}).out.find("database"), std::string::npos);
  EXPECT_NE(docker({"rm", "--link", "/web/database"}).err.find("No such container: web/database"), std::string::npos);
  EXPECT_NE(docker({"rm", "--link", "web"}).err.find("Conflict, cannot remove the default link name of the container"),
            std::string::npos);
  // dockerd's errors.
  ASSERT_EQ(docker({"create", "--name", "stopped", "bb:1", "true"}).code, 0);
  ASSERT_EQ(docker({"create", "--name", "linker", "--link", "stopped:x", "bb:1", "true"}).code, 0);
  EXPECT_EQ(inspect("linker")["HostConfig"]["Links"], json({"/stopped:/linker/x"}));
  r = docker({"start", "linker"});
  EXPECT_NE(r.err.find("Cannot link to a non running container: /stopped AS /linker/x"), std::string::npos) << r.err;
  r = docker({"run", "--rm", "--link", "nope:x", "bb:1", "true"});
  EXPECT_NE(r.err.find("could not get container for nope: No such container: nope"), std::string::npos) << r.err;
  r = docker({"run", "--rm", "--network", "host", "--link", "db", "bb:1", "true"});
  EXPECT_NE(r.err.find("conflicting options: host type networking can't be used with links"), std::string::npos)
      << r.err;
  // A user-defined network: the alias answers for the linking container alone; no variables.
  ASSERT_EQ(docker({"network", "create", "--subnet", subnet(7), "ln"}).code, 0);
  ASSERT_EQ(docker({"run", "-d", "--name", "udb", "--network", "ln", "bb:1", "sleep", "60"}).code, 0);
  r = docker({"run", "-d", "--name", "uweb", "--network", "ln", "--link", "udb:xdb", "bb:1", "sleep", "60"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto uweb = inspect("uweb");
  EXPECT_TRUE(uweb["HostConfig"]["Links"].is_null());
  EXPECT_EQ(uweb["NetworkSettings"]["Networks"]["ln"]["Links"], json({"udb:xdb"}));
  r = docker({"exec", "uweb", "ping", "-c", "1", "-W", "2", "xdb"});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find(addr(7, 2)), std::string::npos) << r.out;
  EXPECT_EQ(docker({"exec", "uweb", "env"}).out.find("XDB_"), std::string::npos);
  EXPECT_NE(docker({"exec", "udb", "ping", "-c", "1", "-W", "1", "xdb"}).code, 0);
}

// A linked container is also named "/LINKING/ALIAS", as in dockerd: in the list's Names and
// wherever a container is named (with or without the leading "/"); the name follows a rename of
// the linking container and goes with `rm --link` or the linking container.
TEST_F(NetworkingTest, LinkNamesNameTheLinkedContainer) {
  ASSERT_EQ(docker({"create", "--name", "db", "bb:1", "sleep", "60"}).code, 0);
  auto r = docker({"create", "--name", "web", "--link", "db:alias", "--link", "db:al2", "bb:1", "true"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto names = [&] { return docker({"ps", "-a", "--no-trunc", "--format", "{{.Names}}"}).out; };
  EXPECT_EQ(names(), "web\ndb,web/al2,web/alias\n");
  EXPECT_EQ(docker({"ps", "-a", "--format", "{{.Names}}"}).out, "web\ndb\n");
  auto list = json::parse(d_->http("GET", "/v1.41/containers/json?all=1").body, nullptr, false);
  ASSERT_TRUE(list.is_array() && list.size() == 2) << list;
  EXPECT_EQ(list[1]["Names"], json({"/db", "/web/al2", "/web/alias"}));
  EXPECT_EQ(inspect("/web/alias")["Name"], "/db");
  EXPECT_EQ(inspect("web/al2")["Name"], "/db");
  r = docker({"inspect", "web/nope"});
  EXPECT_NE(r.err.find("No such object: web/nope"), std::string::npos) << r.err;
  EXPECT_EQ(d_->http("GET", "/v1.41/containers/web%2Fnope/json").body, "{\"message\":\"No such container: web/nope\"}\n");
  EXPECT_EQ(docker({"inspect", "alias"}).code, 1);
  r = docker({"start", "web/alias"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(inspect("db")["State"]["Status"], "running");
  EXPECT_EQ(docker({"logs", "/web/alias"}).code, 0);
  EXPECT_EQ(docker({"stop", "-t", "0", "/web/alias"}).code, 0);
  EXPECT_EQ(inspect("db")["State"]["Status"], "exited");
  // Renaming the linking container moves its link names; the linked one renamed by one keeps them.
  ASSERT_EQ(docker({"rename", "web", "web2"}).code, 0);
  EXPECT_EQ(inspect("web2/alias")["Name"], "/db");
  EXPECT_EQ(docker({"inspect", "web/alias"}).code, 1);
  r = docker({"rename", "web2/alias", "foo"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(names(), "web2\nfoo,web2/al2,web2/alias\n");
  d_->restart();  // they are still there for a new daemon
  EXPECT_EQ(inspect("/web2/al2")["Name"], "/foo");
  // rm --link takes one name away; rm by a link name removes the linked container.
  ASSERT_EQ(docker({"rm", "--link", "web2/al2"}).code, 0);
  EXPECT_EQ(names(), "web2\nfoo,web2/alias\n");
  ASSERT_EQ(docker({"create", "--name", "web3", "--link", "foo:x", "bb:1", "true"}).code, 0);
  EXPECT_EQ(names(), "web3\nweb2\nfoo,web2/alias,web3/x\n");
  ASSERT_EQ(docker({"rm", "web3"}).code, 0);
  EXPECT_EQ(names(), "web2\nfoo,web2/alias\n");
  r = docker({"rm", "web2/alias"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(names(), "web2\n");
}

TEST_F(NetworkingTest, ConnectAndDisconnectARunningContainer) {
  ASSERT_EQ(docker({"network", "create", "--subnet", subnet(5), "front"}).code, 0);
  ASSERT_EQ(docker({"network", "create", "--subnet", subnet(6), "back"}).code, 0);
  ASSERT_EQ(docker({"run", "-d", "--name", "cx", "--network", "front", "bb:1", "sleep", "60"}).code, 0);
  auto r = docker({"network", "connect", "--ip", addr(6, 77), "--alias", "cc", "back", "cx"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(docker({"exec", "cx", "ls", "/sys/class/net"}).out, "eth0\neth1\nlo\n");
  EXPECT_EQ(inspect("cx")["NetworkSettings"]["Networks"]["back"]["IPAddress"], addr(6, 77));
  r = docker({"run", "--rm", "--network", "back", "bb:1", "ping", "-c", "1", "-W", "2", "cc"});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  ASSERT_EQ(docker({"network", "disconnect", "back", "cx"}).code, 0);
  EXPECT_EQ(docker({"exec", "cx", "ls", "/sys/class/net"}).out, "eth0\nlo\n");
  EXPECT_FALSE(inspect("cx")["NetworkSettings"]["Networks"].contains("back"));
  r = docker({"network", "disconnect", "back", "cx"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("is not connected"), std::string::npos) << r.err;
}

// Disconnected from the network of its mode while running, a container stays off it through
// restarts, stop and start, and a restart of hoistd (kill -9 included), as dockerd keeps it:
// NetworkMode unchanged, the network gone from NetworkSettings.Networks; connecting again brings
// it back.
TEST_F(NetworkingTest, LeavingTheModesNetworkWhileRunningLastsAcrossStarts) {
  ASSERT_EQ(docker({"network", "create", "--subnet", subnet(8), "home"}).code, 0);
  ASSERT_EQ(docker({"network", "create", "--subnet", subnet(9), "away"}).code, 0);
  ASSERT_EQ(docker({"run", "-d", "--name", "solo", "--network", "home", "bb:1", "sleep", "600"}).code, 0);
  ASSERT_EQ(docker({"run", "-d", "--name", "pair", "--network", "home", "bb:1", "sleep", "600"}).code, 0);
  ASSERT_EQ(docker({"run", "-d", "--name", "dflt", "bb:1", "sleep", "600"}).code, 0);
  ASSERT_EQ(docker({"network", "connect", "away", "pair"}).code, 0);
  ASSERT_EQ(docker({"network", "disconnect", "home", "solo"}).code, 0);
  ASSERT_EQ(docker({"network", "disconnect", "home", "pair"}).code, 0);
  ASSERT_EQ(docker({"network", "disconnect", "bridge", "dflt"}).code, 0);
  const std::string dflt_mode = inspect("dflt")["HostConfig"].value("NetworkMode", "?");
  auto networks = [&](const std::string& c) {
    auto j = inspect(c);
    std::string out;
    for (auto& [k, v] : j["NetworkSettings"]["Networks"].items()) out += k + " ";
    return out + "| " + j["HostConfig"].value("NetworkMode", "?") + " " + docker({"exec", c, "ls", "/sys/class/net"}).out;
  };
  auto check = [&](const std::string& when, const std::string& pair_if = "eth0") {
    EXPECT_EQ(networks("solo"), "| home lo\n") << when;
    EXPECT_EQ(networks("pair"), "away | home " + pair_if + "\nlo\n") << when;
    EXPECT_EQ(networks("dflt"), "| " + dflt_mode + " lo\n") << when;
  };
  check("disconnected", "eth1");  // the interface it had
  ASSERT_EQ(docker({"restart", "-t", "0", "solo", "pair", "dflt"}).code, 0);
  check("after restart");
  ASSERT_EQ(docker({"stop", "-t", "0", "solo", "pair", "dflt"}).code, 0);
  ASSERT_EQ(docker({"start", "solo", "pair", "dflt"}).code, 0);
  check("after stop and start");
  d_->kill9();
  d_->restart();
  check("after hoistd was killed");
  ASSERT_EQ(docker({"restart", "-t", "0", "solo", "pair", "dflt"}).code, 0);
  check("after hoistd was killed and a restart");
  ASSERT_EQ(docker({"network", "connect", "home", "solo"}).code, 0);
  ASSERT_EQ(docker({"restart", "-t", "0", "solo"}).code, 0);
  EXPECT_EQ(networks("solo"), "home | home eth0\nlo\n");
}

TEST_F(NetworkingTest, BadInputGetsDockersErrorsAndLeavesNothing) {
  ASSERT_EQ(docker({"network", "create", "--subnet", subnet(7), "first"}).code, 0);
  auto r = docker({"network", "create", "--subnet", subnet(7), "overlap"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("Pool overlaps with other one on this address space"), std::string::npos) << r.err;
  r = docker({"network", "create", "--subnet", subnet(8), "--gateway", addr(9, 1), "badgw"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("no matching subnet for gateway"), std::string::npos) << r.err;
  r = docker({"network", "create", "--subnet", subnet(7), "first"});
  EXPECT_NE(r.err.find("network with name first already exists"), std::string::npos) << r.err;
  r = docker({"run", "--rm", "--network", "nope", "bb:1", "true"});
  EXPECT_EQ(r.code, 125);
  EXPECT_NE(r.err.find("network nope not found"), std::string::npos) << r.err;
  r = docker({"run", "--rm", "--ip", "10.9.9.9", "bb:1", "true"});
  EXPECT_NE(r.err.find("user specified IP address is supported on user defined networks only"), std::string::npos) << r.err;
  r = docker({"network", "rm", "bridge"});
  EXPECT_NE(r.err.find("bridge is a pre-defined network and cannot be removed"), std::string::npos) << r.err;
  auto list = docker({"network", "ls", "--format", "{{.Name}}"}).out;
  EXPECT_EQ(list.find("overlap"), std::string::npos);
  EXPECT_EQ(list.find("badgw"), std::string::npos);
  // The HTTP statuses.
  auto h = d_->http("POST", "/v1.41/networks/create", R"({"Name":"x","IPAM":{"Config":[{"Subnet":")" + subnet(7) + R"("}]}})",
                    {"Content-Type: application/json"});
  EXPECT_EQ(h.status, 403) << h.body;
  h = d_->http("DELETE", "/v1.41/networks/bridge");
  EXPECT_EQ(h.status, 403) << h.body;
  h = d_->http("GET", "/v1.41/networks/nope");
  EXPECT_EQ(h.status, 404) << h.body;
  EXPECT_EQ(json::parse(h.body)["message"], "network nope not found");
}

// A prefix of several networks' ids: dockerd's 400 and words, inspect's (the route's own lookup)
// and the others' (the daemon's), with the count of networks it matches.
TEST_F(NetworkingTest, AnAmbiguousIdPrefixIsRefusedInDockerdsWords) {
  // Networks until three ids share their first digit (16 digits: at most 33 networks).
  std::map<char, int> firsts;
  for (auto& id : hoist::split(docker({"network", "ls", "-q", "--no-trunc"}).out, '\n'))
    if (!id.empty()) ++firsts[id[0]];
  char shared = 0;
  for (int i = 0; !shared && i < 33; ++i) {
    auto r = docker({"network", "create", "--internal", "--subnet", subnet(100 + i), "amb" + std::to_string(i)});
    ASSERT_EQ(r.code, 0) << r.err;
    if (++firsts[r.out[0]] == 3) shared = r.out[0];
  }
  ASSERT_NE(shared, 0);
  const std::string p(1, shared);
  auto h = d_->http("GET", "/v1.41/networks/" + p);
  EXPECT_EQ(h.status, 400) << h.body;
  EXPECT_EQ(json::parse(h.body)["message"], "3 matches found based on ID prefix: network " + p + " is ambiguous");
  h = d_->http("DELETE", "/v1.41/networks/" + p);
  EXPECT_EQ(h.status, 400) << h.body;
  EXPECT_EQ(json::parse(h.body)["message"], "network " + p + " is ambiguous (3 matches found based on ID prefix)");
  auto r = docker({"run", "--rm", "--network", p, "bb:1", "true"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("network " + p + " is ambiguous (3 matches found based on ID prefix)"), std::string::npos) << r.err;
}

TEST_F(NetworkingTest, NothingIsLeftAfterContainersAndNetworksGo) {
  ASSERT_EQ(docker({"network", "create", "--subnet", subnet(10), "gone"}).code, 0);
  auto bridge = json::parse(docker({"network", "inspect", "gone"}).out)[0]["Options"];
  int port = free_tcp_port();
  ASSERT_EQ(docker({"run", "-d", "--name", "na", "--network", "gone", "-p", std::to_string(port) + ":80", "bb:1", "sleep", "60"}).code, 0);
  ASSERT_EQ(docker({"run", "-d", "--name", "nb", "bb:1", "sleep", "60"}).code, 0);
  auto veths = [&] { return hoist::test::run_cmd({"ip", "-o", "link", "show", "type", "veth"}).out; };
  auto rules = [&] { return hoist::test::run_cmd({"nft", "list", "table", "ip", d_->nft_table()}).out; };
  EXPECT_NE(rules().find("dport " + std::to_string(port)), std::string::npos) << rules();
  auto before = veths();
  ASSERT_EQ(docker({"rm", "-f", "na", "nb"}).code, 0);
  // The host ends go with the namespaces.
  std::string after;
  for (int i = 0; i < 40; ++i) {
    after = veths();
    if (after.find(d_->bridge()) == std::string::npos && after.find("master br-") == std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(after.find("master " + d_->bridge()), std::string::npos) << after;
  EXPECT_EQ(rules().find("dport " + std::to_string(port)), std::string::npos) << rules();
  ASSERT_EQ(docker({"network", "rm", "gone"}).code, 0);
  auto leases = json::parse(std::ifstream(d_->data_root() + "/network/ipam.json"));
  for (auto& [net, pool] : leases.items()) EXPECT_EQ(pool["leases"].size(), 1u) << pool.dump();  // the gateway
  EXPECT_EQ(hoist::test::run_cmd({"ls", d_->exec_root() + "/netns"}).out, "");
}

TEST_F(NetworkingTest, APublishedPortOutlivesAKill9OfHoistd) {
  int port = free_tcp_port();
  std::vector<std::string> run = {"run", "-d", "--name", "keep", "-p", std::to_string(port) + ":80"};
  auto h = httpd("still-here");
  run.insert(run.end(), h.begin(), h.end());
  ASSERT_EQ(docker(run).code, 0);
  ASSERT_EQ(http_get("127.0.0.1", port), "still-here\n");
  auto ip = inspect("keep")["NetworkSettings"]["IPAddress"];
  d_->kill9();
  EXPECT_EQ(http_get("127.0.0.1", port), "still-here\n");  // while hoistd is down
  d_->restart();
  EXPECT_EQ(http_get("127.0.0.1", port), "still-here\n");
  auto c = inspect("keep");
  EXPECT_EQ(c["NetworkSettings"]["IPAddress"], ip);
  EXPECT_EQ(c["NetworkSettings"]["Ports"]["80/tcp"][0]["HostPort"], std::to_string(port));
  // The port is still held: another container cannot take it.
  auto r = docker({"run", "--rm", "-p", std::to_string(port) + ":80", "bb:1", "true"});
  EXPECT_NE(r.code, 0);
}

TEST(NetworkingDns, OtherNamesGoToTheHostsResolver) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  FakeResolver upstream("127.53." + std::to_string(getpid() % 250) + ".1", "192.0.2.99");
  ASSERT_EQ(upstream.error(), "");
  DnsDaemon d(upstream.address(), 20);
  ASSERT_TRUE(d.ok());
  auto r = d->docker({"run", "--rm", "--network", "dnsnet", "bb:1", "nslookup", "outside.example"});
  EXPECT_NE(r.out.find("192.0.2.99"), std::string::npos) << r.out << r.err;
  EXPECT_GT(upstream.queries(), 0);
}

// docker run --dns on a user-defined network: resolv.conf keeps 127.0.0.11 (so container names
// still resolve) and the embedded DNS forwards that container's other names to its --dns server,
// not to the host's resolver; a hoistd restart keeps it so.
TEST(NetworkingDns, DnsServersOfAContainerTakeItsOtherNames) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  const std::string base = "127.53." + std::to_string(getpid() % 250) + ".";
  FakeResolver hosts(base + "1", "192.0.2.99"), own(base + "2", "192.0.2.77");
  ASSERT_EQ(hosts.error(), "");
  ASSERT_EQ(own.error(), "");
  DnsDaemon d(hosts.address(), 21);
  ASSERT_TRUE(d.ok());
  ASSERT_EQ(d->docker({"run", "-d", "--name", "web", "--network", "dnsnet", "bb:1", "sleep", "300"}).code, 0);
  auto r = d->docker({"run", "-d", "--name", "asker", "--network", "dnsnet", "--dns", own.address(), "bb:1", "sleep",
                     "300"});
  ASSERT_EQ(r.code, 0) << r.err;
  // The file names the embedded server alone; --dns-search and --dns-option go there.
  r = d->docker({"run", "--rm", "--network", "dnsnet", "--dns", own.address(), "--dns-search", "corp.example",
                "--dns-option", "timeout:3", "bb:1", "cat", "/etc/resolv.conf"});
  EXPECT_EQ(r.out, "search corp.example\nnameserver 127.0.0.11\noptions timeout:3 ndots:0\n") << r.err;
  EXPECT_EQ(d->docker({"exec", "asker", "cat", "/etc/resolv.conf"}).out, "nameserver 127.0.0.11\noptions ndots:0\n");
  // A container name: the embedded server's answer.
  const std::string web_ip = d->pool_prefix() + "21.2";
  r = d->docker({"exec", "asker", "nslookup", "web"});
  EXPECT_NE(r.out.find(web_ip), std::string::npos) << r.out << r.err;
  EXPECT_EQ(own.queries() + hosts.queries(), 0) << "web went to an upstream";
  // Another name: asker's --dns server answers, the host's is not asked.
  r = d->docker({"exec", "asker", "nslookup", "outside.example"});
  EXPECT_NE(r.out.find("192.0.2.77"), std::string::npos) << r.out << r.err;
  EXPECT_EQ(r.out.find("192.0.2.99"), std::string::npos) << r.out;
  EXPECT_GT(own.queries(), 0);
  EXPECT_EQ(hosts.queries(), 0);
  // web has no --dns: the host's resolver.
  const int own_before = own.queries();
  r = d->docker({"exec", "web", "nslookup", "outside.example"});
  EXPECT_NE(r.out.find("192.0.2.99"), std::string::npos) << r.out << r.err;
  EXPECT_GT(hosts.queries(), 0);
  EXPECT_EQ(own.queries(), own_before);
  // hoistd killed and started again: asker's DNS comes back with its server.
  d->kill9();
  d->restart();
  r = d->docker({"exec", "asker", "nslookup", "outside.example"});
  EXPECT_NE(r.out.find("192.0.2.77"), std::string::npos) << r.out << r.err;
  EXPECT_GT(own.queries(), own_before);
  // A Dns entry that is no address is refused at create (the docker CLI checks it too).
  auto h = d->http("POST", "/v1.41/containers/create",
                  R"({"Image":"bb:1","Cmd":["true"],"HostConfig":{"NetworkMode":"dnsnet","Dns":["resolver"]}})",
                  {"Content-Type: application/json"});
  EXPECT_EQ(h.status, 400) << h.body;
  EXPECT_NE(h.body.find("bad nameserver address resolver: not an IP address"), std::string::npos) << h.body;
}

TEST_F(NetworkingTest, DockerPyNetworksAndPublishedPorts) {
  int port = free_tcp_port();
  auto r = d_->python(R"PY(
import os, sys, time, urllib.request, docker
c = docker.DockerClient(base_url=os.environ['HOIST_HOST'])
ipam = docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet=')PY" + subnet(30) + R"PY(')])
net = c.networks.create('pynet', driver='bridge', ipam=ipam, labels={'k': 'v'})
assert net.attrs['IPAM']['Config'][0]['Subnet'] == ')PY" + subnet(30) + R"PY(', net.attrs
assert [n.name for n in c.networks.list(filters={'label': 'k=v'})] == ['pynet']
web = c.containers.run('bb:1', ['sh', '-c', 'mkdir -p /www && echo py-web > /www/index.html && exec httpd -f -p 80 -h /www'],
                       name='pyweb', detach=True, network='pynet', ports={'80/tcp': ('127.0.0.1', )PY" +
                      std::to_string(port) + R"PY()})
web.reload()
assert web.attrs['NetworkSettings']['Ports']['80/tcp'][0]['HostPort'] == ')PY" + std::to_string(port) + R"PY(', web.attrs['NetworkSettings']
assert web.ports['80/tcp'][0]['HostIp'] == '127.0.0.1'
body = ''
for _ in range(50):
    try:
        body = urllib.request.urlopen('http://127.0.0.1:)PY" + std::to_string(port) + R"PY(/', timeout=2).read().decode()
        break
    except Exception:
        time.sleep(0.1)
assert body == 'py-web\n', body
out = c.containers.run('bb:1', ['wget', '-qO-', 'http://pyweb/'], network='pynet', remove=True)
assert out == b'py-web\n', out
other = c.networks.create('pynet2', ipam=docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet=')PY" +
                      subnet(31) + R"PY(')]))
other.connect(web, aliases=['alias2'])
web.reload()
assert set(web.attrs['NetworkSettings']['Networks']) == {'pynet', 'pynet2'}, web.attrs['NetworkSettings']['Networks']
other.disconnect(web)
web.remove(force=True)
other.remove()
net.remove()
try:
    c.networks.get('pynet')
    sys.exit('pynet still there')
except docker.errors.NotFound:
    pass
print('ok')
)PY");
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_EQ(r.out, "ok\n") << r.err;
}
