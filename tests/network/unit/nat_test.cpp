// The nftables script of the NAT table: the rules it holds for networks, internal networks and
// published ports; names that could add syntax to it refused; and the script as the kernel
// takes it, applied in a throwaway user and network namespace (no root, nothing outside changes).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <optional>
#include <vector>

#include "common/error.h"
#include "network/nat.h"

namespace net = hoist::network;
using hoist::InvalidArgument;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

namespace {

std::uint32_t ip(const char* s) { return *net::parse_ipv4(s); }

net::NatRules two_networks() {
  net::NatRules r;
  r.networks.push_back({"hbr-one", net::Subnet::parse("172.18.0.0/16")});
  r.networks.push_back({"hbr-two", net::Subnet::parse("172.19.0.0/16")});
  r.ports.push_back({"tcp", 0, 8080, ip("172.18.0.2"), 80, "hbr-one"});
  r.ports.push_back({"tcp", ip("127.0.0.1"), 8443, ip("172.18.0.2"), 443, "hbr-one"});
  r.ports.push_back({"udp", 0, 5353, ip("172.19.0.5"), 53, "hbr-two"});
  return r;
}

// The body of one chain of the script (from its line to its closing brace).
std::string chain(const std::string& script, const std::string& name) {
  auto at = script.find("\tchain " + name + " {\n");
  if (at == std::string::npos) return "";
  return script.substr(at, script.find("\n\t}\n", at) + 1 - at);
}

struct Child {
  int status = -1;  // exit code
  std::string out;
};

// Runs fn in a child in a new user and network namespace of its own: full powers over a network
// stack nobody else sees. nullopt when this kernel allows no such namespace.
std::optional<Child> in_private_netns(const std::function<std::string()>& fn) {
  int p[2];
  if (pipe(p) != 0) return std::nullopt;
  pid_t pid = fork();
  if (pid == 0) {
    close(p[0]);
    if (unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0) _exit(77);
    std::string out;
    int code = 0;
    try {
      out = fn();
    } catch (const std::exception& e) {
      out = e.what();
      code = 1;
    }
    for (std::size_t off = 0; off < out.size();) {
      ssize_t n = write(p[1], out.data() + off, out.size() - off);
      if (n <= 0) break;
      off += static_cast<std::size_t>(n);
    }
    _exit(code);
  }
  close(p[1]);
  Child c;
  char buf[4096];
  for (ssize_t n; (n = read(p[0], buf, sizeof buf)) > 0;) c.out.append(buf, static_cast<std::size_t>(n));
  close(p[0]);
  int st = 0;
  waitpid(pid, &st, 0);
  if (WIFEXITED(st) && WEXITSTATUS(st) == 77) return std::nullopt;
  c.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return c;
}

}  // namespace

TEST(NatRuleset, ReplacesTheTableInOneScript) {
  auto s = net::render_ruleset("hoist", two_networks());
  // Declared, deleted (so that the delete never fails) and made again: one transaction.
  EXPECT_THAT(s, StartsWith("table ip hoist\ndelete table ip hoist\ntable ip hoist {\n"));
  EXPECT_THAT(s, HasSubstr("elements = { \"hbr-one\", \"hbr-two\" }"));
}

TEST(NatRuleset, PublishedPortsWithAndWithoutHostAddress) {
  auto s = net::render_ruleset("hoist", two_networks());
  EXPECT_THAT(chain(s, "prerouting"), AllOf(HasSubstr("type nat hook prerouting priority dstnat;"),
                                            HasSubstr("ip daddr 127.0.0.0/8 return\n"),
                                            HasSubstr("fib daddr type local jump ports")));
  EXPECT_THAT(chain(s, "output"),
              AllOf(HasSubstr("type nat hook output priority -100;"), HasSubstr("fib daddr type local jump ports")));
  auto ports = chain(s, "ports");
  EXPECT_THAT(ports, HasSubstr("\t\ttcp dport 8080 dnat to 172.18.0.2:80\n"));
  EXPECT_THAT(ports, HasSubstr("\t\tip daddr 127.0.0.1 tcp dport 8443 dnat to 172.18.0.2:443\n"));
  EXPECT_THAT(ports, HasSubstr("\t\tudp dport 5353 dnat to 172.19.0.5:53\n"));
}

TEST(NatRuleset, MasqueradeHairpinAndLoopback) {
  auto s = net::render_ruleset("hoist", two_networks());
  auto post = chain(s, "postrouting");
  EXPECT_THAT(post, HasSubstr("type nat hook postrouting priority srcnat;"));
  EXPECT_THAT(post, HasSubstr("ip saddr 172.18.0.0/16 oifname != \"hbr-one\" masquerade\n"));
  EXPECT_THAT(post, HasSubstr("ip saddr 172.19.0.0/16 oifname != \"hbr-two\" masquerade\n"));
  EXPECT_THAT(post, HasSubstr("oifname \"hbr-one\" ip saddr 127.0.0.0/8 masquerade\n"));
  EXPECT_THAT(post, HasSubstr("oifname \"hbr-one\" ip saddr 172.18.0.0/16 ct status dnat masquerade\n"));
  EXPECT_THAT(chain(s, "prerouting_raw"), HasSubstr("iifname \"hbr-two\" ip daddr 127.0.0.0/8 drop\n"));

  // enable_ip_masquerade=false: no way out through NAT, the rest stays.
  auto r = two_networks();
  r.networks[0].masquerade = false;
  post = chain(net::render_ruleset("hoist", r), "postrouting");
  EXPECT_THAT(post, Not(HasSubstr("ip saddr 172.18.0.0/16 oifname != \"hbr-one\" masquerade")));
  EXPECT_THAT(post, HasSubstr("ip saddr 172.19.0.0/16 oifname != \"hbr-two\" masquerade"));
  EXPECT_THAT(post, HasSubstr("oifname \"hbr-one\" ip saddr 172.18.0.0/16 ct status dnat masquerade"));
}

TEST(NatRuleset, BridgesAreIsolatedFromEachOther) {
  auto fwd = chain(net::render_ruleset("hoist", two_networks()), "forward");
  EXPECT_THAT(fwd, HasSubstr("type filter hook forward priority filter; policy accept;"));
  EXPECT_THAT(fwd, HasSubstr("iifname \"hbr-one\" oifname != \"hbr-one\" oifname @bridges drop\n"));
  EXPECT_THAT(fwd, HasSubstr("iifname \"hbr-two\" oifname != \"hbr-two\" oifname @bridges drop\n"));
  // Published ports are open to other networks: DNAT'ed traffic passes before the drops.
  EXPECT_LT(fwd.find("ct status dnat accept"), fwd.find("oifname @bridges drop"));
}

TEST(NatRuleset, InternalNetworkForwardsNothingAndPublishesNothing) {
  auto r = two_networks();
  r.networks[1].internal = true;
  auto s = net::render_ruleset("hoist", r);
  auto fwd = chain(s, "forward");
  EXPECT_THAT(fwd, HasSubstr("iifname \"hbr-two\" oifname != \"hbr-two\" drop\n"));
  EXPECT_THAT(fwd, HasSubstr("oifname \"hbr-two\" iifname != \"hbr-two\" drop\n"));
  // Before the accept of published ports: nothing DNAT'ed gets in or out either.
  EXPECT_LT(fwd.find("oifname \"hbr-two\" iifname != \"hbr-two\" drop"), fwd.find("ct status dnat accept"));
  EXPECT_THAT(chain(s, "ports"), Not(HasSubstr("5353")));
  EXPECT_THAT(chain(s, "ports"), HasSubstr("tcp dport 8080"));
  EXPECT_THAT(chain(s, "postrouting"), Not(HasSubstr("hbr-two")));
  EXPECT_THAT(chain(s, "postrouting"), Not(HasSubstr("172.19.")));
  EXPECT_THAT(chain(s, "prerouting_raw"), HasSubstr("iifname \"hbr-two\" ip daddr 127.0.0.0/8 drop\n"));
}

// The body of the bridge table (from its opening line to its closing brace), or "".
std::string bridge_table(const std::string& script, const std::string& table) {
  auto at = script.find("table bridge " + table + " {\n");
  if (at == std::string::npos) return "";
  return script.substr(at, script.find("\n}\n", at) + 3 - at);
}

TEST(NatRuleset, IccOffDropsFramesBetweenTheBridgesPortsButNotHairpins) {
  auto r = two_networks();
  r.networks[0].icc = false;
  r.networks[0].ports = {"vethb", "vetha"};
  auto s = net::render_ruleset("hoist", r);
  // The bridge table: declared and deleted first (a stale one goes), then made.
  EXPECT_THAT(s, HasSubstr("}\ntable bridge hoist\ndelete table bridge hoist\ntable bridge hoist {\n"));
  auto br = bridge_table(s, "hoist");
  EXPECT_THAT(br, HasSubstr("set no_icc_ports {\n\t\ttype ifname\n\t\telements = { \"vetha\", \"vethb\" }\n"));
  // After br_netfilter's hook (priority -1): a marked hairpin passes, its mark cleared.
  EXPECT_THAT(br, HasSubstr("type filter hook forward priority 100; policy accept;\n"
                            "\t\tmeta mark and 0x00100000 != 0 meta mark set meta mark and 0xffefffff accept\n"
                            "\t\tiifname @no_icc_ports drop\n"));
  EXPECT_EQ(net::kIccHairpinMark, 0x00100000u);
  // The ip table: what is routed from the bridge back to it is dropped, a DNAT'ed connection
  // (hairpin) marked and accepted first.
  auto fwd = chain(s, "forward");
  const std::string mark = "iifname \"hbr-one\" oifname \"hbr-one\" ct status dnat meta mark set meta mark or 0x00100000\n";
  const std::string drop = "iifname \"hbr-one\" oifname \"hbr-one\" drop\n";
  EXPECT_THAT(fwd, AllOf(HasSubstr(mark), HasSubstr(drop)));
  EXPECT_LT(fwd.find(mark), fwd.find("ct status dnat accept"));
  EXPECT_LT(fwd.find("ct status dnat accept"), fwd.find(drop));
  EXPECT_THAT(fwd, Not(HasSubstr("oifname \"hbr-two\" drop")));
  EXPECT_THAT(fwd, Not(HasSubstr("oifname \"hbr-two\" ct status")));

  // No container yet: the set is empty, the chain the same.
  r.networks[0].ports.clear();
  br = bridge_table(net::render_ruleset("hoist", r), "hoist");
  EXPECT_THAT(br, HasSubstr("set no_icc_ports {\n\t\ttype ifname\n\t}\n"));
  EXPECT_THAT(br, HasSubstr("iifname @no_icc_ports drop\n"));

  // icc on everywhere: no bridge table, only the delete of a stale one.
  s = net::render_ruleset("hoist", two_networks());
  EXPECT_THAT(s, HasSubstr("table bridge hoist\ndelete table bridge hoist\n"));
  EXPECT_EQ(bridge_table(s, "hoist"), "");
  EXPECT_THAT(s, Not(HasSubstr("meta mark")));

  // A port name is checked like any device name.
  r.networks[0].ports = {"veth\" accept"};
  EXPECT_THROW(net::render_ruleset("hoist", r), InvalidArgument);
}

TEST(NatRuleset, EmptyRulesStillMakeTheTable) {
  auto s = net::render_ruleset("hoist", {});
  EXPECT_THAT(s, StartsWith("table ip hoist\ndelete table ip hoist\ntable ip hoist {\n"));
  EXPECT_THAT(s, Not(HasSubstr("set bridges")));
  EXPECT_EQ(chain(s, "ports"), "\tchain ports {\n");
  EXPECT_THAT(chain(s, "forward"), HasSubstr("policy accept;"));
}

TEST(NatRuleset, NamesThatCouldInjectSyntaxAreRefused) {
  for (std::string bad : std::vector<std::string>{"br\" accept", "br;flush ruleset", "br x", "br*", "br\\", "", "a-name-of-16-byt",
                          "br\n", "br}", "br@x"}) {
    net::NatRules r;
    r.networks.push_back({bad, net::Subnet::parse("10.0.0.0/24")});
    EXPECT_THROW(net::render_ruleset("hoist", r), InvalidArgument) << bad;
    net::NatRules p;
    p.ports.push_back({"tcp", 0, 80, ip("10.0.0.2"), 80, bad});
    if (!bad.empty()) {
      EXPECT_THROW(net::render_ruleset("hoist", p), InvalidArgument) << bad;
    }
  }
  net::NatRules ok;
  ok.networks.push_back({"a-name-of-15byt", net::Subnet::parse("10.0.0.0/24")});
  ok.networks.push_back({"br_x.1", net::Subnet::parse("10.0.1.0/24")});
  EXPECT_NO_THROW(net::render_ruleset("hoist", ok));

  for (std::string bad : std::vector<std::string>{"", "hoist {", "ho ist", "hoist\ndelete", "1hoist", "-x", std::string(65, 'a')}) {
    EXPECT_THROW(net::render_ruleset(bad, {}), InvalidArgument) << bad;
    EXPECT_THROW(net::Nftables{bad}, InvalidArgument) << bad;
  }
  EXPECT_NO_THROW(net::render_ruleset(std::string(64, 'a'), {}));
}

TEST(NatRuleset, BadProtocolsAndUnresolvedPortsAreRefused) {
  net::NatRules r;
  r.ports.push_back({"sctp", 0, 80, ip("10.0.0.2"), 80, "br"});
  EXPECT_THROW(net::render_ruleset("hoist", r), InvalidArgument);
  r.ports = {{"tcp accept", 0, 80, ip("10.0.0.2"), 80, "br"}};
  EXPECT_THROW(net::render_ruleset("hoist", r), InvalidArgument);
  r.ports = {{"tcp", 0, 0, ip("10.0.0.2"), 80, "br"}};  // the host port is chosen before
  EXPECT_THROW(net::render_ruleset("hoist", r), InvalidArgument);
  r.ports = {{"tcp", 0, 80, 0, 80, "br"}};
  EXPECT_THROW(net::render_ruleset("hoist", r), InvalidArgument);
}

// The kernel's own verdict: the script applied, twice, in a network namespace of a child.
TEST(NatRuleset, TheKernelTakesTheScript) {
  auto internal = two_networks();
  internal.networks[1].internal = true;
  auto no_masquerade = two_networks();
  no_masquerade.networks[0].masquerade = false;
  auto no_icc = two_networks();
  no_icc.networks[0].icc = false;
  no_icc.networks[0].ports = {"vetha", "vethb"};
  auto c = in_private_netns([&] {
    net::Nftables nft("hoist_unit");
    nft.apply({});
    nft.apply(two_networks());
    nft.apply(internal);
    nft.apply(no_masquerade);
    nft.apply(no_icc);
    nft.apply(no_icc);
    auto bridge = nft.run("list table bridge hoist_unit");
    nft.apply(two_networks());
    std::string gone = "bridge table stayed";
    try {
      nft.run("list table bridge hoist_unit");
    } catch (const hoist::Error&) {
      gone = "bridge table gone";
    }
    return bridge + gone + "\n" + nft.run("list table ip hoist_unit");
  });
  if (!c) GTEST_SKIP() << "no user namespaces here";
  ASSERT_EQ(c->status, 0) << c->out;
  EXPECT_THAT(c->out, HasSubstr("ip daddr 127.0.0.1 tcp dport 8443 dnat to 172.18.0.2:443"));
  EXPECT_THAT(c->out, HasSubstr("udp dport 5353 dnat to 172.19.0.5:53"));
  EXPECT_THAT(c->out, HasSubstr("oifname \"hbr-one\" ip saddr 172.18.0.0/16 ct status dnat masquerade"));
  EXPECT_THAT(c->out, HasSubstr("iifname \"hbr-two\" oifname != \"hbr-two\" oifname @bridges drop"));
  EXPECT_THAT(c->out, HasSubstr("table bridge hoist_unit {"));
  EXPECT_THAT(c->out, ::testing::ContainsRegex("elements = \\{ \"vetha\",[\t\n ]+\"vethb\" \\}"));
  EXPECT_THAT(c->out, HasSubstr("meta mark & 0x00100000 != 0x00000000 meta mark set meta mark & 0xffefffff accept\n"
                                "\t\tiifname @no_icc_ports drop"));
  EXPECT_THAT(c->out, HasSubstr("bridge table gone\n"));
}

// An error is libnftables' message, and the table stays as it was: one transaction.
TEST(NatRuleset, AFailedApplyChangesNothing) {
  auto c = in_private_netns([&] {
    net::Nftables nft("hoist_unit");
    nft.apply(two_networks());
    auto bad = two_networks();
    bad.networks[1].subnet.prefix = 33;  // made by hand: Subnet::parse refuses it
    try {
      nft.apply(bad);
    } catch (const hoist::Error& e) {
      return std::string(e.what()) + "\n---\n" + nft.run("list table ip hoist_unit");
    }
    return std::string("applied");
  });
  if (!c) GTEST_SKIP() << "no user namespaces here";
  ASSERT_EQ(c->status, 0) << c->out;
  EXPECT_THAT(c->out, StartsWith("nftables: apply table hoist_unit: "));
  // Where and what, as nft says it.
  EXPECT_THAT(c->out, HasSubstr("Error: Prefix length 33 is invalid"));
  EXPECT_THAT(c->out, HasSubstr("ip saddr 172.19.0.0/33 oifname != \"hbr-two\" masquerade\n"));
  EXPECT_THAT(c->out, ::testing::ContainsRegex("line [0-9]+:[0-9]+-[0-9]+: Error"));
  EXPECT_THAT(c->out, HasSubstr("---\ntable ip hoist_unit {"));
  EXPECT_THAT(c->out, HasSubstr("ip saddr 172.19.0.0/16 oifname != \"hbr-two\" masquerade"));
}
