// The hoist CLI's help and flags as a user meets them. Help: docker's layout and docker's words for
// each command hoist has, checked as facts (a flag's type, description and default, a command's
// usage line, summary and aliases; where docker 28's CLI is installed, every one against docker's own
// help), never as a whole-output snapshot. Flags, against a private hoistd: the ones hoist refuses
// (exit 125 and the reason, no container made), the port and network flags docker's CLI checks
// itself, --network none/host, and the run/create flags that
// reach HostConfig (--add-host, --dns...) or change what the CLI attaches to.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "harness.h"
#include "hoistd_harness.h"

namespace {

using hoist::test::CmdResult;
using json = nlohmann::json;

const char* const kNoDaemon = "unix:///nonexistent/hoist.sock";

CmdResult hoist_at(const std::string& host, const std::vector<std::string>& args, const std::string& input = "") {
  std::vector<std::string> argv{HOIST_CLI_BIN, "-H", host};
  argv.insert(argv.end(), args.begin(), args.end());
  return hoist::test::run_cmd(argv, input, 60);
}

// --help needs no daemon.
CmdResult help_of(const std::string& path) {
  std::vector<std::string> args;
  std::istringstream words(path);
  for (std::string w; words >> w;) args.push_back(w);
  args.push_back("--help");
  return hoist_at(kNoDaemon, args);
}

std::string squeeze(const std::string& s) {
  std::string r;
  for (char c : s) {
    if (c == ' ' || c == '\n' || c == '\t') {
      if (!r.empty() && r.back() != ' ') r += ' ';
    } else {
      r += c;
    }
  }
  if (!r.empty() && r.back() == ' ') r.pop_back();
  return r;
}

// One flag as a help's "Options:" lists it, its description's wrapped lines joined.
struct FlagLine {
  std::string shorthand, type, description;
  size_t column = 0;  // where the description starts
};

// The flags of the section that starts with the line `title` ("Options:", "Global Options:").
std::map<std::string, FlagLine> flags_of(const std::string& help, const std::string& title = "Options:") {
  std::map<std::string, FlagLine> flags;
  auto at = help.find("\n" + title + "\n");
  if (at == std::string::npos) return flags;
  std::istringstream lines(help.substr(at + title.size() + 2));
  static const std::regex flag_re(R"(^  (?:-(\S), |    )--([a-z0-9-]+)(?: (\S+))?( +)(.*)$)");
  std::string line, last;
  while (std::getline(lines, line) && !line.empty()) {
    std::smatch m;
    if (std::regex_match(line, m, flag_re)) {
      last = m[2];
      flags[last] = {m[1], m[3], m[5], (size_t)m.position(5)};
    } else if (!last.empty()) {
      flags[last].description += " " + line;
    }
  }
  for (auto& [name, f] : flags) f.description = squeeze(f.description);
  return flags;
}

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

// The help's text between its usage line and the next section: the summary (or longer description).
std::string summary_of(const std::string& help) {
  auto a = help.find("\n\n") + 2;
  return help.substr(a, help.find("\n\n", a) - a);
}

// The lines of a command list ("Commands:", "Common Commands:"...) as name → summary.
std::map<std::string, std::string> commands_of(const std::string& help, const std::string& title) {
  std::map<std::string, std::string> cmds;
  auto at = help.find("\n" + title + "\n");
  if (at == std::string::npos) return cmds;
  std::istringstream lines(help.substr(at + title.size() + 2));
  static const std::regex cmd_re(R"(^  (\S+) +(.*)$)");
  for (std::string line; std::getline(lines, line) && !line.empty();) {
    std::smatch m;
    if (std::regex_match(line, m, cmd_re)) cmds[m[1]] = m[2];
  }
  return cmds;
}

// Each of `want` is in `listed` with its summary.
void expect_listed(const std::map<std::string, std::string>& listed, const std::map<std::string, std::string>& want) {
  for (auto& [name, summary] : want) {
    auto it = listed.find(name);
    ASSERT_NE(it, listed.end()) << name << " is not listed";
    EXPECT_EQ(it->second, summary) << name;
  }
}

TEST(CliHelp, RunListsItsFlagsWithTypeDescriptionAndDefault) {
  auto r = help_of("run");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(first_line(r.out), "Usage:  hoist run [OPTIONS] IMAGE [COMMAND] [ARG...]");
  EXPECT_EQ(summary_of(r.out), "Create and run a new container from an image");
  EXPECT_NE(r.out.find("\nAliases:\n  hoist container run, hoist run\n"), std::string::npos) << r.out;
  auto flags = flags_of(r.out);
  ASSERT_TRUE(flags.count("memory")) << r.out;
  struct Want {
    const char *name, *shorthand, *type, *description;
  };
  for (auto w : {Want{"memory", "m", "bytes", "Memory limit"},
                 Want{"cpus", "", "decimal", "Number of CPUs"},
                 Want{"pids-limit", "", "int", "Tune container pids limit (set -1 for unlimited)"},
                 Want{"health-interval", "", "duration", "Time between running the check (ms|s|m|h) (default 0s)"},
                 Want{"pull", "", "string",
                      "Pull image before running (\"always\", \"missing\", \"never\") (default \"missing\")"},
                 Want{"add-host", "", "list", "Add a custom host-to-IP mapping (host:ip)"},
                 Want{"dns", "", "list", "Set custom DNS servers"},
                 Want{"dns-search", "", "list", "Set custom DNS search domains"},
                 Want{"dns-option", "", "list", "Set DNS options"},
                 Want{"detach", "d", "", "Run container in background and print container ID"},  // a boolean: no type
                 Want{"hostname", "h", "string", "Container host name"},
                 Want{"publish", "p", "list", "Publish a container's port(s) to the host"},
                 Want{"publish-all", "P", "", "Publish all exposed ports to random ports"},
                 Want{"network", "", "network", "Connect a container to a network"},
                 Want{"network-alias", "", "list", "Add network-scoped alias for the container"},
                 Want{"expose", "", "list", "Expose a port or a range of ports"},
                 Want{"ip", "", "string", "IPv4 address (e.g., 172.30.100.104)"},
                 Want{"help", "", "", "Print usage"}}) {  // -h is --hostname's: --help is listed, as docker's run
    SCOPED_TRACE(w.name);
    EXPECT_EQ(flags[w.name].shorthand, w.shorthand);
    EXPECT_EQ(flags[w.name].type, w.type);
    EXPECT_EQ(flags[w.name].description, w.description);
  }
  // Flags hoist refuses are not offered; --net and --net-alias are docker's hidden old names.
  for (auto hidden : {"net", "net-alias", "ip6", "link-local-ip"}) EXPECT_FALSE(flags.count(hidden)) << hidden;
  EXPECT_EQ(flags["link"].description, "Add link to another container");
  // One column for the descriptions; wrapped to 79 columns without a terminal, as docker.
  for (auto& [name, f] : flags) EXPECT_EQ(f.column, flags["memory"].column) << name;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) EXPECT_LE(line.size(), 79u) << line;
}

// Usage errors need no daemon: a wrong number of arguments exits 1, an unknown flag 125, as both
// docker CLIs (checked against them here, at a socket that does not exist).
TEST(CliHelp, UsageErrorsExitAsDockers) {
  struct Case {
    std::vector<std::string> args;
    int code;
  };
  for (const Case& c : std::vector<Case>{{{"run"}, 1}, {{"rm"}, 1}, {{"port", "a", "b", "c"}, 1},
                                         {{"run", "--bogus", "x"}, 125}, {{"ps", "--nope"}, 125}}) {
    std::string shown;
    for (auto& a : c.args) shown += a + " ";
    EXPECT_EQ(hoist_at(kNoDaemon, c.args).code, c.code) << "hoist " << shown;
    for (const char* docker : {"/usr/bin/docker", "/usr/local/bin/docker"}) {
      if (access(docker, X_OK) != 0) continue;
      std::vector<std::string> argv{docker, "-H", kNoDaemon};
      argv.insert(argv.end(), c.args.begin(), c.args.end());
      EXPECT_EQ(hoist::test::run_cmd(argv, "", 60).code, c.code) << docker << " " << shown;
    }
  }
}

TEST(CliHelp, RootListsTheCommandsGroupedWithSummaries) {
  auto r = hoist_at(kNoDaemon, {"--help"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(first_line(r.out), "Usage:  hoist [OPTIONS] COMMAND");
  auto common = commands_of(r.out, "Common Commands:");
  expect_listed(common, {{"run", "Create and run a new container from an image"},
                         {"ps", "List containers"},
                         {"images", "List images"}});
  EXPECT_EQ(common.count("rm"), 0u);
  expect_listed(commands_of(r.out, "Management Commands:"),
                {{"container", "Manage containers"}, {"image", "Manage images"}, {"system", "Manage Hoist"}});
  auto others = commands_of(r.out, "Commands:");
  expect_listed(others, {{"rm", "Remove one or more containers"},
                         {"wait", "Block until one or more containers stop, then print their exit codes"}});
  EXPECT_EQ(others.count("run"), 0u) << "listed once, under Common Commands";
  EXPECT_EQ(others.count("search"), 0u) << "only the commands hoist has";
  auto global = flags_of(r.out, "Global Options:");
  EXPECT_EQ(global["host"].shorthand, "H");
  EXPECT_EQ(global["host"].description.rfind("Daemon socket to connect to", 0), 0u) << global["host"].description;
  EXPECT_TRUE(global.count("config"));
  EXPECT_FALSE(global.count("debug")) << "refused, so not offered";
  EXPECT_NE(r.out.find("\nRun 'hoist COMMAND --help' for more information on a command.\n"), std::string::npos);
  // `hoist` alone and `hoist help` show the same, with exit 0.
  for (auto args : {std::vector<std::string>{}, std::vector<std::string>{"help"}}) {
    auto same = hoist_at(kNoDaemon, args);
    EXPECT_EQ(same.code, 0);
    EXPECT_EQ(same.out, r.out);
  }
  EXPECT_EQ(hoist_at(kNoDaemon, {"help", "run"}).out, help_of("run").out);
}

TEST(CliHelp, GroupsListTheirCommands) {
  auto sys = help_of("system");
  ASSERT_EQ(sys.code, 0) << sys.err;
  EXPECT_EQ(first_line(sys.out), "Usage:  hoist system COMMAND");
  expect_listed(commands_of(sys.out, "Commands:"), {{"df", "Show hoist disk usage"},
                                                   {"prune", "Remove unused data"},
                                                   {"info", "Display system-wide information"},
                                                   {"events", "Get real time events from the server"}});
  auto container = hoist_at(kNoDaemon, {"container"});  // no subcommand: the group's help
  EXPECT_EQ(container.code, 0);
  expect_listed(commands_of(container.out, "Commands:"),
                {{"ls", "List containers"}, {"inspect", "Display detailed information on one or more containers"}});
  // docker's other names of a subcommand; help names it as docker does.
  EXPECT_EQ(first_line(help_of("container list").out), "Usage:  hoist container ls [OPTIONS]");
  EXPECT_EQ(first_line(help_of("image remove").out), "Usage:  hoist image rm [OPTIONS] IMAGE [IMAGE...]");
  auto unknown = hoist_at(kNoDaemon, {"system", "bogus"});
  EXPECT_EQ(unknown.code, 1);
  EXPECT_NE(unknown.err.find("'bogus' is not a hoist system command"), std::string::npos) << unknown.err;
}

// docker's help with its brand replaced by hoist's (the formatting guide link, Docker Hub and the
// Dockerfile stay).
std::string as_hoist(std::string s) {
  for (auto [from, to] : {std::pair{"Docker", "Hoist"}, std::pair{"docker", "hoist"}})
    for (size_t at; (at = s.find(from)) != std::string::npos;) s.replace(at, std::string(from).size(), to);
  for (auto [from, to] : {std::pair{"docs.hoist.com", "docs.docker.com"}, std::pair{"Hoist Hub", "Docker Hub"},
                          std::pair{"Hoistfile", "Dockerfile"}})
    for (size_t at; (at = s.find(from)) != std::string::npos;) s.replace(at, std::string(from).size(), to);
  return s;
}

TEST(CliHelp, EveryCommandAndFlagAsDocker28DescribesIt) {
  auto v = hoist::test::run_cmd({"docker", "--version"});
  if (v.code != 0 || v.out.rfind("Docker version 28.", 0) != 0) GTEST_SKIP() << "docker 28's CLI is not installed";
  // Where hoist's help says something else on purpose.
  const std::map<std::string, std::string> usage_differs = {
      {"import", "Usage:  hoist import [OPTIONS] file|- [REPOSITORY[:TAG]]"}};  // no URL
  const std::map<std::string, std::string> flag_differs = {
      {"create --pull", "Pull image before creating (\"always\", \"missing\", \"never\") (default \"missing\")"}};
  for (std::string path :
       {"run", "create", "start", "stop", "restart", "kill", "rm", "rename", "wait", "ps", "logs", "exec", "attach",
        "inspect", "top", "stats", "pause", "unpause", "images", "pull", "push", "tag", "rmi", "save", "load", "import",
        "login", "logout", "version", "info", "events", "system df", "system prune", "system info", "system events",
        "container ls", "container inspect", "container rm", "image ls", "image inspect", "image rm", "port",
        "container port", "network create", "network ls", "network list", "network inspect", "network rm",
        "network remove", "network prune", "network connect", "network disconnect", "volume create", "volume ls",
        "volume list", "volume inspect", "volume rm", "volume remove", "volume prune", "commit", "diff", "export", "container commit", "container diff", "container export"}) {
    SCOPED_TRACE(path);
    auto h = help_of(path);
    ASSERT_EQ(h.code, 0) << h.err;
    std::vector<std::string> dargs;
    std::istringstream words(path);
    for (std::string w; words >> w;) dargs.push_back(w);
    dargs.insert(dargs.begin(), "docker");
    dargs.push_back("--help");
    auto d = hoist::test::run_cmd(dargs);
    ASSERT_EQ(d.code, 0) << d.err;
    auto docker_help = as_hoist(d.out);
    EXPECT_EQ(first_line(h.out), usage_differs.count(path) ? usage_differs.at(path) : first_line(docker_help));
    EXPECT_EQ(first_line(summary_of(h.out)), first_line(summary_of(docker_help)));
    auto aliases = [](const std::string& help) {
      auto at = help.find("\nAliases:\n");
      return at == std::string::npos ? std::string() : first_line(help.substr(at + 10));
    };
    EXPECT_EQ(aliases(h.out), aliases(docker_help));
    auto docker_flags = flags_of(d.out);
    for (auto& [name, f] : flags_of(h.out)) {
      SCOPED_TRACE("--" + name);
      ASSERT_TRUE(docker_flags.count(name)) << "docker has no such flag";
      EXPECT_EQ(f.shorthand, docker_flags[name].shorthand);
      EXPECT_EQ(f.type, docker_flags[name].type);
      auto key = path + " --" + name;
      EXPECT_EQ(f.description, flag_differs.count(key) ? flag_differs.at(key) : docker_flags[name].description);
    }
  }
  // The root's and the groups' lists: the commands hoist has, each in docker's section, with its summary.
  for (std::string group : {"", "container", "image", "network", "system", "volume"}) {
    SCOPED_TRACE(group);
    auto h = group.empty() ? hoist_at(kNoDaemon, {"--help"}) : help_of(group);
    auto d = as_hoist(hoist::test::run_cmd({"docker", group.empty() ? "--help" : group, "--help"}).out);
    for (auto section : {"Common Commands:", "Management Commands:", "Commands:"}) {
      auto docker_cmds = commands_of(d, section);
      for (auto& [name, summary] : commands_of(h.out, section)) {
        // docker lists compose only with its plugin installed, as "compose*  Docker Compose".
        if (group.empty() && name == "compose" && !docker_cmds.count(name)) {
          EXPECT_EQ(std::string(section), "Management Commands:");
          EXPECT_EQ(summary, "Docker Compose");
          continue;
        }
        ASSERT_TRUE(docker_cmds.count(name)) << section << " " << name;
        EXPECT_EQ(summary, docker_cmds[name]) << name;
      }
    }
  }
}

class CliFlagsTest : public hoist::test::DaemonTest {
 protected:
  CliFlagsTest() : DaemonTest("cliflags") {}
  CmdResult hoist(const std::vector<std::string>& args, const std::string& input = "") {
    return hoist_at(d_->host(), args, input);
  }
  json containers() {
    auto r = d_->http("GET", "/v1.41/containers/json?all=1");
    EXPECT_EQ(r.status, 200) << r.body;
    return json::parse(r.body, nullptr, false);
  }
  json host_config(const std::string& name) {
    auto r = d_->http("GET", "/v1.41/containers/" + name + "/json");
    EXPECT_EQ(r.status, 200) << r.body;
    auto j = json::parse(r.body, nullptr, false);
    return j.is_object() ? j["HostConfig"] : json();
  }
};

// Port and network flags docker's CLI checks itself: its words, exit 125, nothing sent to the daemon.
TEST_F(CliFlagsTest, BadPortAndNetworkFlagsMakeNoContainer) {
  struct Case {
    std::vector<std::string> flags;
    const char* error;
  };
  for (auto& c : {Case{{"-p", "x"}, "invalid containerPort: x"},
                  Case{{"-p", "abc:80"}, "invalid hostPort: abc"},
                  Case{{"-p", "80/xyz"}, "invalid proto: xyz"},
                  Case{{"--publish=1.2.3:80:80"}, "invalid IP address: 1.2.3"},
                  Case{{"-p", "80-81:90-92"}, "invalid ranges specified for container and host Ports: 90-92 and 80-81"},
                  Case{{"--expose", "1:2"}, "invalid port format for --expose: 1:2"},
                  Case{{"--network-alias", "a"}, "network-scoped aliases are only supported for user-defined networks"},
                  Case{{"--network", "mynet", "--network", "host"},
                       "conflicting options: cannot attach both user-defined and non-user-defined network-modes"},
                  Case{{"--mac-address", "zz"}, "zz is not a valid mac address"}}) {
    for (std::string cmd : {"run", "create"}) {
      std::vector<std::string> args = {cmd};
      args.insert(args.end(), c.flags.begin(), c.flags.end());
      args.insert(args.end(), {"bb:1", "true"});
      auto r = hoist(args);
      EXPECT_EQ(r.code, 125) << c.error;
      EXPECT_EQ(r.err, std::string("hoist: ") + c.error + "\n\nRun 'hoist " + cmd + " --help' for more information\n");
    }
  }
  // Refused, with the reason.
  for (auto flag : {"--ip6", "--link-local-ip"}) {
    auto r = hoist({"run", flag, "x", "bb:1", "true"});
    EXPECT_EQ(r.code, 125) << flag;
    EXPECT_NE(r.err.find(std::string("hoist: ") + flag + " is not supported"), std::string::npos) << r.err;
  }
  EXPECT_EQ(containers(), json::array());
}

TEST_F(CliFlagsTest, NetworkNoneAndHostRun) {
  // none: an empty network namespace (its loopback only).
  auto none = hoist({"run", "--name", "n1", "--network", "none", "bb:1", "cat", "/proc/net/dev"});
  ASSERT_EQ(none.code, 0) << none.err;
  EXPECT_NE(none.out.find("lo:"), std::string::npos) << none.out;
  EXPECT_EQ(std::count(none.out.begin(), none.out.end(), ':'), 1) << "only lo: " << none.out;
  EXPECT_EQ(host_config("n1")["NetworkMode"], "none");
  // host: the host's interfaces (others' tests may add or remove veths meanwhile: every one there
  // before and after is seen, and nothing that was there at neither moment).
  auto names = [](const std::string& dev) {
    std::set<std::string> v;
    std::istringstream lines(dev);
    for (std::string l; std::getline(lines, l);)
      if (auto c = l.find(':'); c != std::string::npos) v.insert(squeeze(l.substr(0, c)));
    return v;
  };
  auto before = names(hoist::test::run_cmd({"cat", "/proc/net/dev"}).out);
  auto host = hoist({"run", "--rm", "--network", "host", "bb:1", "cat", "/proc/net/dev"});
  ASSERT_EQ(host.code, 0) << host.err;
  auto after = names(hoist::test::run_cmd({"cat", "/proc/net/dev"}).out);
  auto seen = names(host.out);
  EXPECT_TRUE(seen.count("lo")) << host.out;
  for (const auto& n : before) {
    if (after.count(n)) {
      EXPECT_TRUE(seen.count(n)) << n << " missing: " << host.out;
    }
  }
  for (const auto& n : seen) EXPECT_TRUE(before.count(n) || after.count(n)) << n << " is not the host's";
  // No flag: NetworkMode "default", as before.
  ASSERT_EQ(hoist({"create", "--name", "d1", "bb:1", "true"}).code, 0);
  EXPECT_EQ(host_config("d1")["NetworkMode"], "default");
}

TEST_F(CliFlagsTest, DnsAndExtraHostsReachHostConfig) {
  auto r = hoist({"create", "--name", "h1", "--add-host", "a:1.2.3.4", "--add-host", "b=::1", "--add-host",
                  "c:[fe80::1]", "--dns", "1.1.1.1", "--dns", "2001:db8::53",
                  "--dns-search", "example.com.", "--dns-option", "ndots:2", "bb:1", "true"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto hc = host_config("h1");
  EXPECT_EQ(hc["ExtraHosts"], json({"a:1.2.3.4", "b:::1", "c:fe80::1"})) << hc.dump();
  EXPECT_EQ(hc["Dns"], json({"1.1.1.1", "2001:db8::53"}));
  EXPECT_EQ(hc["DnsSearch"], json({"example.com"}));
  EXPECT_EQ(hc["DnsOptions"], json({"ndots:2"}));
  // Bad values are refused before anything is sent, in docker's words.
  auto bad = hoist({"run", "--add-host", "a:not-an-ip", "bb:1", "true"});
  EXPECT_EQ(bad.code, 125);
  EXPECT_EQ(bad.err, "invalid argument \"a:not-an-ip\" for \"--add-host\" flag: invalid IP address in add-host: "
                     "\"not-an-ip\"\nSee 'hoist run --help'.\n");
  EXPECT_EQ(hoist({"run", "--add-host", "noip", "bb:1", "true"}).code, 125);
  auto dns = hoist({"run", "--dns", "resolver", "bb:1", "true"});
  EXPECT_EQ(dns.code, 125);
  EXPECT_NE(dns.err.find("IP address is not correctly formatted: resolver"), std::string::npos) << dns.err;
  // host-gateway: the default bridge's gateway.
  auto gw = hoist({"run", "--rm", "--add-host", "gw:host-gateway", "bb:1", "grep", "gw", "/etc/hosts"});
  EXPECT_EQ(gw.code, 0) << gw.err;
  EXPECT_NE(gw.out.find("\tgw"), std::string::npos) << gw.out;
  EXPECT_EQ(gw.out.find("host-gateway"), std::string::npos) << gw.out;
  EXPECT_EQ(containers().size(), 1u) << "h1 only";
}

TEST_F(CliFlagsTest, AttachPicksTheStreams) {
  auto both = hoist({"run", "--rm", "--network", "none", "bb:1", "sh", "-c", "echo out; echo err >&2"});
  EXPECT_EQ(both.out, "out\n");
  EXPECT_EQ(both.err, "err\n");
  auto out_only = hoist({"run", "--rm", "--network", "none", "-a", "STDOUT", "bb:1", "sh", "-c", "echo out; echo err >&2"});
  EXPECT_EQ(out_only.code, 0) << out_only.err;
  EXPECT_EQ(out_only.out, "out\n");
  EXPECT_EQ(out_only.err, "");
  auto bad = hoist({"run", "-a", "stdmiddle", "bb:1", "true"});
  EXPECT_EQ(bad.code, 125);
  EXPECT_NE(bad.err.find("valid streams are STDIN, STDOUT and STDERR"), std::string::npos) << bad.err;
}

TEST_F(CliFlagsTest, RefusedFlagsOfOtherCommandsSayWhy) {
  ASSERT_EQ(hoist({"create", "--name", "keep", "bb:1", "true"}).code, 0);
  auto link = hoist({"rm", "--link", "keep"});  // a container's own name is not a link's: dockerd's error
  EXPECT_EQ(link.code, 1);
  EXPECT_NE(link.err.find("Conflict, cannot remove the default link name of the container"), std::string::npos) << link.err;
  EXPECT_EQ(containers().size(), 1u) << "--link must not remove the container";
  auto pull = hoist({"pull", "-a", "busybox"});
  EXPECT_EQ(pull.code, 125);
  EXPECT_NE(pull.err.find("--all-tags (-a) is not supported yet"), std::string::npos) << pull.err;
  auto debug = hoist({"-D", "ps"});
  EXPECT_EQ(debug.code, 125);
  EXPECT_NE(debug.err.find("--debug (-D) is not supported yet"), std::string::npos) << debug.err;
}

TEST_F(CliFlagsTest, StatsNoTruncShowsWholeIds) {
  auto run = hoist({"run", "-d", "--network", "none", "bb:1", "sleep", "30"});
  ASSERT_EQ(run.code, 0) << run.err;
  std::string id = run.out.substr(0, run.out.find('\n'));
  auto full = hoist({"stats", "--no-stream", "--no-trunc", "--format", "{{.ID}}", id});
  EXPECT_EQ(full.out, id + "\n") << full.err;
  auto short_ = hoist({"stats", "--no-stream", "--format", "{{.ID}}", id});
  EXPECT_EQ(short_.out, id.substr(0, 12) + "\n") << short_.err;
}

}  // namespace
