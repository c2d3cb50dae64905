// hoist's networking commands against a daemon, with docker 28's own CLI as the oracle on the same
// daemon: `network create/ls/inspect/rm/prune/connect/disconnect`, `run -p` with `port`, ps's PORTS
// and inspect, and the run/create flag errors docker's CLI reports itself. Each test runs against a
// private dockerd (the reference) and a private hoistd; the hoistd runs are skipped while its
// GET /networks does not answer 200 (networking not landed yet).
//
// Names carry a random suffix, subnets are 10.197.N.0/24 with N random; every container and network a
// test made is removed in its TearDown, also when it fails (and for dockerd, which leaves a bridge
// device behind if it stops with a network still there, any br-<id> device is deleted after it).
// Traffic stays on loopback: ports are published on 127.0.0.1 only, and dockerd runs without
// iptables rules or masquerading (tests/support/docker_harness.h).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli_daemon_test.h"
#include "docker_harness.h"
#include "harness.h"
#include "hoistd_harness.h"

namespace {

using hoist::test::CmdResult;
using hoist::test::run_cmd;
using json = nlohmann::json;

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
  return s;
}

// docker's words with hoist's name: "docker: x" → "hoist: x", "docker run --help" → "hoist run --help".
std::string as_hoist(std::string s) {
  for (size_t at; (at = s.find("docker")) != std::string::npos;) s.replace(at, 6, "hoist");
  return s;
}

// A TCP port on 127.0.0.1 nothing listens on now.
int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = 0;
  if (bind(fd, (sockaddr*)&a, sizeof a) == 0 && getsockname(fd, (sockaddr*)&a, &len) == 0) port = ntohs(a.sin_port);
  close(fd);
  return port;
}

// GET / from 127.0.0.1:port (HTTP/1.0); the response's first line, "" when nothing answers.
std::string http_status_line(int port) {
  for (int attempt = 0; attempt < 50; ++attempt) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::string resp;
    if (connect(fd, (sockaddr*)&a, sizeof a) == 0) {
      std::string req = "GET / HTTP/1.0\r\n\r\n";
      if (send(fd, req.data(), req.size(), MSG_NOSIGNAL) == (ssize_t)req.size()) {
        char buf[512];
        ssize_t n;
        while ((n = recv(fd, buf, sizeof buf, 0)) > 0) resp.append(buf, (size_t)n);
      }
    }
    close(fd);
    if (resp.rfind("HTTP/", 0) == 0) return resp.substr(0, resp.find("\r\n"));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return "";
}

// The daemon a test runs against: "dockerd" or "hoistd".
class NetworkCli : public hoist::test::CliDaemonTest {
 protected:
  NetworkCli() : CliDaemonTest("netcli") {}
  void SetUp() override {
    std::random_device rd;
    suffix_ = std::to_string(rd() % 100000);
    subnet_octet_ = 10 + (int)(rd() % 230);
    CliDaemonTest::SetUp();
  }

  void TearDown() override {
    if (dockerd_ || hoistd_) {
      auto ids = docker({"ps", "-aq"});
      for (auto& id : lines(ids.out)) docker({"rm", "-f", id});
      for (auto& n : nets_) docker({"network", "rm", n});
    }
    CliDaemonTest::TearDown();
    // A bridge a stopped dockerd left behind (dockerd names them br-<12 digits of the id>).
    for (auto& id : net_ids_) run_cmd({"ip", "link", "del", "br-" + id.substr(0, 12)});
  }

  std::pair<CmdResult, CmdResult> both(const std::vector<std::string>& args, const std::string& input = "") {
    return {hoist(args, input), docker(args, input)};
  }
  // A name of this test's: "hn<suffix>-<what>".
  std::string name(const std::string& what) const { return "hn" + suffix_ + "-" + what; }
  // "10.197.N.0/24" (k: the k-th subnet of the test).
  std::string subnet(int k = 0, const std::string& host = "0/24") const {
    return "10.197." + std::to_string(subnet_octet_ + k) + "." + host;
  }
  // Creates network `n` with `cli` ("hoist" or "docker"); its id.
  std::string make_net(const std::string& cli, const std::string& n, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"network", "create"};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back(n);
    nets_.push_back(n);
    auto r = cli == "hoist" ? hoist(args) : docker(args);
    EXPECT_EQ(r.code, 0) << cli << " network create " << n << ": " << r.err;
    auto id = trimmed(r.out);
    if (!id.empty()) net_ids_.push_back(id);
    return id;
  }
  // Can this daemon run containers at all (runtime, cgroups)?
  bool can_run() {
    auto probe = docker({"run", "--rm", "--network", "none", "bb:1", "true"}, "", 60);
    probe_err_ = probe.err;
    return probe.code == 0;
  }

  std::string suffix_, probe_err_;
  int subnet_octet_ = 10;
  std::vector<std::string> nets_, net_ids_;
};

#define REQUIRE_RUN() \
  if (!can_run()) GTEST_SKIP() << "this daemon cannot run containers: " << probe_err_

TEST_P(NetworkCli, CreateLsInspectRm) {
  auto n1 = name("a"), n2 = name("b");
  auto id = make_net("hoist", n1,
                     {"--subnet", subnet(), "--gateway", subnet(0, "1"), "--ip-range", subnet(0, "128/25"), "--label",
                      "hoist.test=" + suffix_, "--label", "bare", "--internal", "--attachable", "-o", "x.y=z"});
  ASSERT_EQ(id.size(), 64u) << id;
  make_net("docker", n2, {"--subnet", subnet(1), "--label", "hoist.test=" + suffix_});
  // What hoist made is what docker would have: docker reads back the same settings.
  auto cfg = docker({"network", "inspect", "--format",
                     "{{.Driver}} {{.Internal}} {{.Attachable}} {{json .IPAM.Config}} {{json .Labels}} {{json .Options}}", n1});
  EXPECT_EQ(cfg.out, "bridge true true [{\"Subnet\":\"" + subnet() + "\",\"IPRange\":\"" + subnet(0, "128/25") +
                         "\",\"Gateway\":\"" + subnet(0, "1") + "\"}] {\"bare\":\"\",\"hoist.test\":\"" + suffix_ +
                         "\"} {\"x.y\":\"z\"}\n")
      << cfg.err;
  // ls: the table, -q, --no-trunc, json and templates, filters: as docker's.
  auto mine = "label=hoist.test=" + suffix_;
  for (std::vector<std::string> args :
       {std::vector<std::string>{"network", "ls"},
        {"network", "ls", "-q"},
        {"network", "ls", "--no-trunc"},
        {"network", "list", "--filter", mine},
        // One label: docker joins a network's labels in Go's map order (random).
        {"network", "ls", "-f", "name=" + n2, "--format", "json"},
        {"network", "ls", "-f", "name=" + n2, "--format", "{{.ID}} {{.Name}} {{.Driver}} {{.Scope}} {{.Internal}} {{.Labels}}"},
        {"network", "ls", "-f", "name=" + n1, "--format", "{{.ID}} {{.Name}} {{.Driver}} {{.Scope}} {{.Internal}} {{.IPv6}}"},
        {"network", "ls", "-f", mine, "--format", "table {{.Name}}\t{{.Internal}}\t{{.CreatedAt}}"},
        {"network", "ls", "-f", "type=custom", "-f", "driver=bridge", "-q", "--no-trunc"},
        // Two label filters: both must match (only n1 has "bare").
        {"network", "ls", "-f", mine, "-f", "label=bare", "--format", "{{.Name}}"},
        {"network", "ls", "-f", "id=" + id.substr(0, 10), "--format", "{{.Name}}"},
        {"network", "ls", "-q", "--format", "table"},
        {"network", "ls", "-f", "bogus=1"}}) {
    auto [h, d] = both(args);
    SCOPED_TRACE(args.back());
    EXPECT_EQ(h.code, d.code) << h.err;
    EXPECT_EQ(h.out, d.out);
    EXPECT_EQ(h.err, d.err);
  }
  auto custom = hoist({"network", "ls", "--filter", mine, "--format", "{{.Name}}"});
  EXPECT_EQ(custom.out, n1 + "\n" + n2 + "\n");
  // inspect: the daemon's JSON as docker prints it; templates; unknown names.
  for (std::vector<std::string> args : {std::vector<std::string>{"network", "inspect", n1, n2},
                                        {"network", "inspect", "-f", "{{.Name}} {{.Id}} {{.Scope}}", n1, n2},
                                        {"network", "inspect", "--format", "json", n1},
                                        {"network", "inspect", "nosuch-" + suffix_},
                                        {"network", "inspect", "-f", "{{.Name}}", "nosuch-" + suffix_, n2},
                                        {"inspect", "--format", "{{.Name}} {{.Driver}}", n1},  // any object's inspect
                                        {"inspect", "--type", "network", "--format", "{{.Id}}", n2}}) {
    auto [h, d] = both(args);
    SCOPED_TRACE(args.back());
    EXPECT_EQ(h.code, d.code) << h.err;
    EXPECT_EQ(h.out, d.out);
    EXPECT_EQ(h.err, d.err);
  }
  auto missing = hoist({"network", "inspect", "nosuch-" + suffix_});
  EXPECT_EQ(missing.code, 1);
  EXPECT_NE(missing.err.find("Error response from daemon: network nosuch-" + suffix_ + " not found"), std::string::npos)
      << missing.err;
  // A name taken: the daemon's error, exit 1, as docker.
  auto [hd, dd] = both({"network", "create", n1});
  EXPECT_EQ(hd.code, 1);
  EXPECT_EQ(hd.code, dd.code);
  EXPECT_EQ(hd.err, dd.err);
  // rm: the names removed; an unknown one is an error unless -f.
  auto rm = hoist({"network", "rm", n1, "nosuch-" + suffix_, n2});
  EXPECT_EQ(rm.code, 1);
  EXPECT_EQ(rm.out, n1 + "\n" + n2 + "\n");
  EXPECT_NE(rm.err.find("Error response from daemon: network nosuch-" + suffix_ + " not found"), std::string::npos) << rm.err;
  auto [hf, df] = both({"network", "rm", "-f", "nosuch-" + suffix_});
  EXPECT_EQ(hf.code, 0) << hf.err;
  EXPECT_EQ(hf.code, df.code);
  EXPECT_EQ(hf.out, df.out);
  EXPECT_EQ(docker({"network", "ls", "-q", "-f", mine}).out, "");
  // The networks the daemon has from the start cannot go.
  auto [hh, dh] = both({"network", "rm", "none"});
  EXPECT_EQ(hh.code, 1);
  EXPECT_EQ(hh.code, dh.code);
}

TEST_P(NetworkCli, CreateChecksAsDocker) {
  for (std::vector<std::string> flags :
       {std::vector<std::string>{"--gateway", "10.1.1.1"},
        {"--subnet", subnet(), "--subnet", subnet(0, "128/25")},
        {"--subnet", subnet(), "--ip-range", subnet(1)},
        {"--subnet", subnet(), "--gateway", subnet(1, "1")},
        {"--subnet", subnet(), "--aux-address", "h=" + subnet(1, "5")},
        {"--subnet", subnet(), "--ip-range", "bad"},
        {"--label", "=x"}}) {
    flags.insert(flags.begin(), {"network", "create"});
    flags.push_back(name("bad"));
    auto [h, d] = both(flags);
    SCOPED_TRACE(flags[3]);
    EXPECT_NE(h.code, 0);
    EXPECT_EQ(h.code, d.code) << h.err;
    // docker's usage errors end with its usage lines, hoist's with "See 'hoist network create --help'.".
    EXPECT_EQ(h.err.substr(0, h.err.find('\n')), as_hoist(d.err.substr(0, d.err.find('\n'))));
  }
  EXPECT_EQ(docker({"network", "ls", "-q", "-f", "name=" + name("bad")}).out, "");
  // What hoist refuses, with the reason.
  for (auto flag : {"--ipv6", "--ingress", "--config-only"}) {
    auto r = hoist({"network", "create", flag, name("bad")});
    EXPECT_EQ(r.code, 125) << flag;
    EXPECT_NE(r.err.find(std::string("hoist: ") + flag + " is not supported"), std::string::npos) << r.err;
  }
  auto scope = hoist({"network", "create", "--scope", "swarm", name("bad")});
  EXPECT_EQ(scope.code, 125);
  auto ipam = hoist({"network", "create", "--ipam-driver", "other", name("bad")});
  EXPECT_EQ(ipam.code, 125);
  EXPECT_NE(ipam.err.find("the default IPAM driver only"), std::string::npos) << ipam.err;
  EXPECT_EQ(docker({"network", "ls", "-q", "-f", "name=" + name("bad")}).out, "");
}

TEST_P(NetworkCli, Prune) {
  make_net("hoist", name("p1"), {"--label", "hoist.prune=" + suffix_});
  make_net("hoist", name("p2"), {"--label", "hoist.prune=" + suffix_});
  make_net("hoist", name("keep"), {"--label", "hoist.keep=" + suffix_});
  // Declined: the prompt, nothing removed, exit 0 (as docker).
  auto [hn, dn] = both({"network", "prune", "--filter", "label=hoist.prune=" + suffix_}, "n\n");
  EXPECT_EQ(hn.code, 0) << hn.err;
  EXPECT_EQ(hn.out,
            "WARNING! This will remove all custom networks not used by at least one container.\n"
            "Are you sure you want to continue? [y/N] ");
  EXPECT_EQ(hn.out, dn.out);
  EXPECT_EQ(hn.code, dn.code);
  EXPECT_EQ(lines(docker({"network", "ls", "-q", "-f", "label=hoist.prune=" + suffix_}).out).size(), 2u);
  auto y = hoist({"network", "prune", "--filter", "label=hoist.prune=" + suffix_}, "y\n");
  EXPECT_EQ(y.code, 0) << y.err;
  std::string prompt = "WARNING! This will remove all custom networks not used by at least one container.\n"
                       "Are you sure you want to continue? [y/N] Deleted Networks:\n";
  ASSERT_EQ(y.out.substr(0, prompt.size()), prompt) << y.out;
  auto deleted = lines(y.out.substr(prompt.size()));
  EXPECT_EQ(std::set<std::string>(deleted.begin(), deleted.end()), (std::set<std::string>{name("p1"), name("p2")}));
  EXPECT_EQ(y.out.substr(y.out.size() - 2), "\n\n");
  EXPECT_EQ(docker({"network", "ls", "-q", "-f", "name=" + name("keep")}).out.size(), 13u);
  // Nothing to prune: nothing printed.
  auto [he, de] = both({"network", "prune", "-f", "--filter", "label=hoist.prune=" + suffix_});
  EXPECT_EQ(he.out, "");
  EXPECT_EQ(he.out, de.out);
  auto [hb, db] = both({"network", "prune", "-f", "--filter", "bogus=1"});
  EXPECT_EQ(hb.code, 1);
  EXPECT_EQ(hb.code, db.code);
  EXPECT_EQ(hb.err, db.err);
}

TEST_P(NetworkCli, ConnectDisconnect) {
  REQUIRE_RUN();  // a created container's networks are not checked by dockerd 20.10 until it starts
  auto a = name("a"), b = name("b"), c = name("c");
  make_net("hoist", a, {"--subnet", subnet()});
  make_net("hoist", b, {"--subnet", subnet(1)});
  auto cr = hoist({"run", "-d", "--name", c, "--network", a, "bb:1", "sleep", "60"});
  ASSERT_EQ(cr.code, 0) << cr.err;
  auto conn = hoist({"network", "connect", "--ip", subnet(1, "77"), "--alias", "x1", "--alias", "x2,x3", b, c});
  EXPECT_EQ(conn.code, 0) << conn.err;
  EXPECT_EQ(conn.out, "");
  auto ep = docker({"inspect", "--format", "{{json (index .NetworkSettings.Networks \"" + b + "\").IPAMConfig}} "
                    "{{json (index .NetworkSettings.Networks \"" + b + "\").Aliases}}", c});
  // (dockerd adds the container's short id to its aliases.)
  EXPECT_EQ(ep.out.rfind("{\"IPv4Address\":\"" + subnet(1, "77") + "\"} [\"x1\",\"x2\",\"x3\"", 0), 0u) << ep.out << ep.err;
  auto addr = docker({"exec", c, "ip", "-4", "-o", "addr"});
  EXPECT_NE(addr.out.find(subnet(1, "77") + "/24"), std::string::npos) << addr.out << addr.err;
  // Errors as docker's.
  for (std::vector<std::string> args : {std::vector<std::string>{"network", "connect", b, "nosuch-" + suffix_},
                                        {"network", "connect", "nosuch-" + suffix_, c},
                                        {"network", "disconnect", "nosuch-" + suffix_, c}}) {
    auto [h, d] = both(args);
    EXPECT_EQ(h.code, 1) << h.err;
    EXPECT_EQ(h.code, d.code);
    EXPECT_EQ(h.err, d.err);
  }
  auto dis = hoist({"network", "disconnect", b, c});
  EXPECT_EQ(dis.code, 0) << dis.err;
  auto nets = docker({"inspect", "--format", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}", c});
  EXPECT_EQ(nets.out, a + " \n");
  auto [hf, df] = both({"network", "disconnect", "-f", b, c});
  EXPECT_EQ(hf.code, df.code) << hf.err << df.err;
  // --link: the endpoint's Links (on a user-defined network, names for this container alone).
  auto link = hoist({"network", "connect", "--link", "x:y", b, c});
  EXPECT_EQ(link.code, 0) << link.err;
  auto links = docker({"inspect", "--format", "{{json (index .NetworkSettings.Networks \"" + b + "\").Links}}", c});
  EXPECT_EQ(links.out, "[\"x:y\"]\n") << links.err;
}

// A container leaves the network of its --network while stopped and comes back with an alias, as
// Docker Compose v1 does before each start; one left with no network starts with only lo.
TEST_P(NetworkCli, DisconnectFromItsModeNetworkWhileStopped) {
  REQUIRE_RUN();
  auto a = name("a"), c = name("c"), lone = name("lone");
  make_net("hoist", a, {"--subnet", subnet()});
  ASSERT_EQ(docker({"create", "--name", c, "--network", a, "bb:1", "sleep", "60"}).code, 0);
  auto dis = docker({"network", "disconnect", a, c});
  EXPECT_EQ(dis.code, 0) << dis.err;
  EXPECT_EQ(docker({"inspect", "--format", "{{len .NetworkSettings.Networks}}", c}).out, "0\n");
  auto again = docker({"network", "disconnect", a, c});
  EXPECT_EQ(again.code, 1);
  auto conn = docker({"network", "connect", "--alias", "svc", a, c});
  EXPECT_EQ(conn.code, 0) << conn.err;
  auto st = docker({"start", c});
  ASSERT_EQ(st.code, 0) << st.err;
  auto al = docker({"inspect", "--format", "{{json (index .NetworkSettings.Networks \"" + a + "\").Aliases}}", c});
  EXPECT_NE(al.out.find("\"svc\""), std::string::npos) << al.out << al.err;
  auto ping = docker({"run", "--rm", "--network", a, "bb:1", "ping", "-c", "1", "-W", "5", "svc"}, "", 60);
  EXPECT_EQ(ping.code, 0) << ping.out << ping.err;
  ASSERT_EQ(docker({"create", "--name", lone, "--network", a, "bb:1", "sh", "-c", "ls /sys/class/net"}).code, 0);
  EXPECT_EQ(docker({"network", "disconnect", a, lone}).code, 0);
  auto only_lo = docker({"start", "-a", lone}, "", 60);
  EXPECT_EQ(only_lo.code, 0) << only_lo.err;
  EXPECT_EQ(only_lo.out, "lo\n");
}

TEST_P(NetworkCli, RunPublishPortPsInspect) {
  REQUIRE_RUN();
  auto net = name("web");
  make_net("hoist", net, {"--subnet", subnet()});
  int p1 = free_port(), p2 = free_port();
  ASSERT_NE(p1, 0);
  auto web = name("w1");
  auto r = hoist({"run", "-d", "--name", web, "--network", net, "--ip", subnet(0, "50"), "--network-alias", "site",
                  "-p", "127.0.0.1:" + std::to_string(p1) + ":80", "--expose", "7000-7001", "bb:1", "httpd", "-f",
                  "-p", "80"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(trimmed(r.out).size(), 64u) << r.out;
  // The published port answers on loopback.
  EXPECT_EQ(http_status_line(p1).rfind("HTTP/1.", 0), 0u) << "nothing answers on 127.0.0.1:" << p1;
  // port, ps and inspect as docker shows them.
  for (std::vector<std::string> args :
       {std::vector<std::string>{"port", web},
        {"port", web, "80"},
        {"port", web, "80/tcp"},
        {"container", "port", web, "81"},
        {"port", web, "7000"},
        {"port", web, "x"},
        {"port", "nosuch-" + suffix_},
        {"ps", "--format", "{{.Names}} {{.Ports}}"},
        {"ps", "--no-trunc", "--format", "{{.Ports}} {{.Networks}}"},
        {"inspect", "--format",
         "{{json .HostConfig.PortBindings}} {{json .Config.ExposedPorts}} {{json .NetworkSettings.Ports}} "
         "{{.HostConfig.NetworkMode}}",
         web}}) {
    auto [h, d] = both(args);
    SCOPED_TRACE(args[0] + " " + args.back());
    EXPECT_EQ(h.code, d.code) << h.err;
    EXPECT_EQ(h.out, d.out);
    EXPECT_EQ(h.err, d.err);
  }
  auto port = hoist({"port", web});
  EXPECT_EQ(port.out, "80/tcp -> 127.0.0.1:" + std::to_string(p1) + "\n");
  auto ps = hoist({"ps", "--format", "{{.Ports}}", "--filter", "name=" + web});
  EXPECT_EQ(ps.out, "7000-7001/tcp, 127.0.0.1:" + std::to_string(p1) + "->80/tcp\n");
  auto ep = docker({"inspect", "--format",
                   "{{with index .NetworkSettings.Networks \"" + net + "\"}}{{json .IPAMConfig}} {{json .Aliases}}{{end}}", web});
  EXPECT_EQ(ep.out.rfind("{\"IPv4Address\":\"" + subnet(0, "50") + "\"} [", 0), 0u) << ep.out << ep.err;
  EXPECT_NE(ep.out.find("\"site\""), std::string::npos) << ep.out;
  // The same flags through docker's CLI make the same container.
  auto w2 = name("w2");
  auto dr = docker({"run", "-d", "--name", w2, "--network", net, "--ip", subnet(0, "51"), "--network-alias", "site2",
                    "-p", "127.0.0.1:" + std::to_string(p2) + ":80", "--expose", "7000-7001", "bb:1", "httpd", "-f",
                    "-p", "80"});
  ASSERT_EQ(dr.code, 0) << dr.err;
  auto fields = "{{json .Config.ExposedPorts}} {{.HostConfig.NetworkMode}} {{.HostConfig.PublishAllPorts}} "
                "{{range $k, $v := .HostConfig.PortBindings}}{{$k}}{{range $v}} {{.HostIp}}{{end}}{{end}}";
  EXPECT_EQ(docker({"inspect", "--format", fields, web}).out, docker({"inspect", "--format", fields, w2}).out);
  // -P: the exposed ports on ports the daemon picks, on loopback.
  auto all = name("w3");
  auto pa = hoist({"run", "-d", "--name", all, "--network", net, "-P", "--expose", "80", "bb:1", "httpd", "-f", "-p", "80"});
  ASSERT_EQ(pa.code, 0) << pa.err;
  EXPECT_EQ(docker({"inspect", "--format", "{{.HostConfig.PublishAllPorts}}", all}).out, "true\n");
  auto [hpa, dpa] = both({"port", all});
  EXPECT_EQ(hpa.out, dpa.out);
  EXPECT_NE(hpa.out.find("80/tcp -> "), std::string::npos) << hpa.out;
  // A port taken: the daemon's error in docker's words, exit 125, as docker run.
  auto taken = hoist({"run", "-d", "--network", net, "-p", "127.0.0.1:" + std::to_string(p1) + ":80", "bb:1", "sleep", "5"});
  auto dtaken = docker({"run", "-d", "--network", net, "-p", "127.0.0.1:" + std::to_string(p1) + ":80", "bb:1", "sleep", "5"});
  EXPECT_EQ(taken.code, dtaken.code) << taken.err;
  EXPECT_EQ(taken.code, 125);
  EXPECT_EQ(taken.err.rfind("hoist: Error response from daemon: ", 0), 0u) << taken.err;
}

// What docker's CLI itself finds wrong in run's and create's networking flags: its words (docker's
// name hoist's), exit 125, nothing sent.
TEST_P(NetworkCli, RunFlagErrorsAsDocker) {
  auto net = name("n");
  make_net("docker", net, {"--subnet", subnet()});
  for (std::vector<std::string> flags :
       {std::vector<std::string>{"-p", "x"},
        {"-p", "80/xyz"},
        {"-p", "abc:80"},
        {"-p", "1.2.3:80:80"},
        {"-p", "[::1:80:80"},
        {"-p", "80-81:90-92"},
        {"-p", "80:"},
        {"--expose", "1:2"},
        {"--expose", "80-x"},
        {"--network-alias", "x"},
        {"--network", "none", "--network-alias", "x"},
        {"--network", net, "--network", "host"},
        {"--network", net, "--network", net},
        {"--network", ""},
        {"--mac-address", "bad"}}) {
    for (std::string cmd : {"run", "create"}) {
      std::vector<std::string> args = {cmd};
      args.insert(args.end(), flags.begin(), flags.end());
      args.insert(args.end(), {"bb:1", "true"});
      auto [h, d] = both(args);
      SCOPED_TRACE(cmd + " " + flags[0] + " " + flags[1]);
      EXPECT_EQ(h.code, 125) << h.err;
      EXPECT_EQ(h.code, d.code);
      EXPECT_EQ(h.err, as_hoist(d.err));
      EXPECT_EQ(h.out, "");
    }
  }
  // A bad --link: docker's words (the flag parser's, whose usage block docker 20.10 adds and hoist,
  // as docker 28, does not).
  for (std::string cmd : {"run", "create"}) {
    auto [h, d] = both({cmd, "--link", "a:b:c", "bb:1", "true"});
    EXPECT_EQ(h.code, 125) << h.err;
    EXPECT_EQ(h.code, d.code);
    EXPECT_EQ(h.err.substr(0, h.err.find('\n')), as_hoist(d.err.substr(0, d.err.find('\n'))));
  }
  EXPECT_EQ(docker({"ps", "-aq"}).out, "");
  // The daemon's errors: run's with its help hint and 125, create's as they are and 1, as docker.
  for (std::string cmd : {"run", "create"}) {
    auto [h, d] = both({cmd, "--network", net, "--ip", "not-an-ip", "bb:1", "true"});
    EXPECT_EQ(h.code, d.code) << cmd << ": " << h.err;
    EXPECT_EQ(h.err, as_hoist(d.err)) << cmd;
    auto [hl, dl] = both({cmd, "--link", "nosuch-" + suffix_ + ":x", "bb:1", "true"});
    EXPECT_EQ(hl.code, dl.code) << cmd << ": " << hl.err;
    EXPECT_EQ(hl.err, as_hoist(dl.err)) << cmd;
    EXPECT_NE(hl.err.find("could not get container for nosuch-" + suffix_ + ": No such container: nosuch-" + suffix_),
              std::string::npos) << hl.err;
  }
}

// A linked container's link names ("/LINKING/ALIAS") in ps and as references, each CLI alike.
TEST_P(NetworkCli, LinkNamesAreContainerNames) {
  auto db = name("db"), web = name("web");
  ASSERT_EQ(docker({"create", "--name", db, "bb:1", "true"}).code, 0);
  auto r = docker({"create", "--name", web, "--link", db + ":alias", "--link", db + ":al2", "bb:1", "true"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto filter = std::vector<std::string>{"ps", "-a", "--filter", "name=" + db, "--format", "{{.Names}}"};
  auto [h, d] = both(filter);
  EXPECT_EQ(h.out, db + "\n");
  EXPECT_EQ(h.out, d.out);
  filter.insert(filter.begin() + 2, "--no-trunc");
  std::tie(h, d) = both(filter);
  EXPECT_EQ(h.out, db + "," + web + "/al2," + web + "/alias\n");
  EXPECT_EQ(h.out, d.out);
  for (const std::string& ref : {"/" + web + "/alias", web + "/al2"}) {
    std::tie(h, d) = both({"inspect", "--format", "{{.Name}}", ref});
    EXPECT_EQ(h.out, "/" + db + "\n") << ref << ": " << h.err;
    EXPECT_EQ(h.out, d.out);
  }
  std::tie(h, d) = both({"inspect", web + "/nope"});
  EXPECT_EQ(h.code, 1);
  EXPECT_EQ(h.err, as_hoist(d.err));
  r = hoist({"rm", "--link", web + "/al2"});
  EXPECT_EQ(r.code, 0) << r.err;
  std::tie(h, d) = both(filter);
  EXPECT_EQ(h.out, db + "," + web + "/alias\n");
  EXPECT_EQ(h.out, d.out);
  r = hoist({"rm", web + "/alias"});  // the linked container
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(docker({"ps", "-a", "--filter", "name=" + db, "-q"}).out, "");
}

INSTANTIATE_TEST_SUITE_P(Daemons, NetworkCli, ::testing::Values("dockerd", "hoistd"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

}  // namespace
