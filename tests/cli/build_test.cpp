// `hoist build` against a daemon: run against a private dockerd (the reference: its classic
// builder) and a private hoistd with the same expectations. The context is sent with
// .dockerignore applied by the client (the Dockerfile and the ignore file itself still sent),
// -t, --build-arg, --label, --iidfile, -q, -f (inside and outside the context), and a failing
// RUN's message and exit status.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <sstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli_daemon_test.h"
#include "common/strings.h"
#include "harness.h"
#include "registry_harness.h"
#include "ssh_agent.h"

namespace {

using hoist::trim;
using hoist::test::CmdResult;
using hoist::test::run_cmd;
using json = nlohmann::json;

void put(const std::string& path, const std::string& data) {
  run_cmd({"mkdir", "-p", path.substr(0, path.rfind('/'))});
  std::ofstream(path, std::ios::binary | std::ios::trunc) << data;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class BuildCli : public hoist::test::CliDaemonTest {
 protected:
  BuildCli() : CliDaemonTest("buildcli") {}
  void SetUp() override {
    CliDaemonTest::SetUp();
    if (IsSkipped()) return;
    dir_ = std::make_unique<hoist::test::TempDir>("hoist-build-cli");
    ctx_ = dir_->path() + "/ctx";
    put(ctx_ + "/Dockerfile",
        "FROM bb:1\nARG V=1\nCOPY . /ctx/\nRUN echo \"v=$V\" > /v && ls -a /ctx | sort > /list\n");
    put(ctx_ + "/.dockerignore", "secret*\n*.log\n!keep.log\n");
    put(ctx_ + "/a.txt", "a\n");
    put(ctx_ + "/secret.txt", "no\n");
    put(ctx_ + "/x.log", "no\n");
    put(ctx_ + "/keep.log", "yes\n");
    put(ctx_ + "/sub/b.txt", "b\n");
    put(ctx_ + "/bad.Dockerfile", "FROM bb:1\nRUN exit 7\n");
    put(dir_->path() + "/elsewhere/Dockerfile", "FROM bb:1\nCOPY a.txt /a\nCMD [\"cat\", \"/a\"]\n");
  }
  void TearDown() override {
    if (dockerd_ || hoistd_)
      for (const char* img : {"bc:1", "bc:2", "bc:3"}) docker({"rmi", "-f", img});
    CliDaemonTest::TearDown();
  }
  std::unique_ptr<hoist::test::TempDir> dir_;
  std::string ctx_;
};

}  // namespace

TEST_P(BuildCli, ContextArgsLabelsAndIidfile) {
  std::string iid = dir_->path() + "/iid";
  auto r = hoist({"build", "-t", "bc:1", "--build-arg", "V=5", "--label", "l1=x", "--iidfile", iid, ctx_});
  ASSERT_EQ(r.code, 0) << r.err << r.out;
  EXPECT_EQ(r.out.rfind("Sending build context to Docker daemon  ", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("Step 1/5 : FROM bb:1\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Step 5/5 : LABEL l1=x\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\nSuccessfully tagged bc:1\n"), std::string::npos) << r.out;
  std::string id(trim(docker({"image", "inspect", "-f", "{{.Id}}", "bc:1"}).out));
  EXPECT_EQ(slurp(iid), id);
  EXPECT_NE(r.out.find("Successfully built " + id.substr(7, 12) + "\n"), std::string::npos) << r.out;
  auto list = docker({"run", "--rm", "--network", "none", "bc:1", "cat", "/list", "/v"});
  EXPECT_EQ(list.out, ".\n..\n.dockerignore\nDockerfile\na.txt\nbad.Dockerfile\nkeep.log\nsub\nv=5\n") << list.err;
  EXPECT_EQ(trim(docker({"image", "inspect", "-f", "{{.Config.Labels.l1}}", "bc:1"}).out), "x");

  // -q: the image id alone.
  auto q = hoist({"build", "-q", "-t", "bc:2", ctx_});
  ASSERT_EQ(q.code, 0) << q.err;
  std::string id2(trim(docker({"image", "inspect", "-f", "{{.Id}}", "bc:2"}).out));
  EXPECT_EQ(q.out, id2 + "\n");
}

TEST_P(BuildCli, DockerfileElsewhereAndFailures) {
  auto r = hoist({"build", "-t", "bc:3", "-f", dir_->path() + "/elsewhere/Dockerfile", ctx_});
  ASSERT_EQ(r.code, 0) << r.err << r.out;
  EXPECT_EQ(docker({"run", "--rm", "--network", "none", "bc:3"}).out, "a\n");

  // `-`: a Dockerfile on stdin, no context.
  r = hoist({"build", "-t", "bc:2", "-"}, "FROM bb:1\nCMD [\"echo\", \"from stdin\"]\n");
  ASSERT_EQ(r.code, 0) << r.err << r.out;
  EXPECT_EQ(docker({"run", "--rm", "--network", "none", "bc:2"}).out, "from stdin\n");

  auto bad = hoist({"build", "-f", ctx_ + "/bad.Dockerfile", ctx_});
  EXPECT_EQ(bad.code, 7) << bad.out;
  EXPECT_NE(bad.err.find("The command '/bin/sh -c exit 7' returned a non-zero code: 7"), std::string::npos) << bad.err;

  put(ctx_ + "/Dockerfile", "FROM bb:1\nNOPE x\n");
  auto parse = hoist({"build", ctx_});
  EXPECT_NE(parse.code, 0);
  EXPECT_NE(parse.err.find("unknown instruction: NOPE"), std::string::npos) << parse.err;
}

// `hoist build URL`: the daemon fetches the context (a gzip-compressed tar from a loopback
// server; dockerd does the same with remote=), or clones the git repository.
TEST_P(BuildCli, UrlContext) {
  std::string www = dir_->path() + "/www";
  put(www + "/src/Dockerfile", "FROM bb:1\nCOPY a.txt /a\nCMD [\"cat\", \"/a\"]\n");
  put(www + "/src/a.txt", "from a url\n");
  ASSERT_EQ(run_cmd({"tar", "-C", www + "/src", "-czf", www + "/ctx.tar.gz", "Dockerfile", "a.txt"}).code, 0);
  hoist::test::ChildProcess srv({"python3", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", www},
                                dir_->path() + "/http.log");
  std::string port;
  for (int i = 0; i < 100 && port.empty(); ++i) {
    std::string log = slurp(dir_->path() + "/http.log");
    std::size_t at = log.find(" port ");
    if (at != std::string::npos && log.find(')', at) != std::string::npos)
      port = log.substr(at + 6, log.find(' ', at + 6) - at - 6);
    if (port.empty()) usleep(50000);
  }
  ASSERT_FALSE(port.empty()) << slurp(dir_->path() + "/http.log");
  auto r = hoist({"build", "-t", "bc:1", "http://127.0.0.1:" + port + "/ctx.tar.gz"});
  ASSERT_EQ(r.code, 0) << r.err << r.out;
  EXPECT_NE(r.out.find("Step 2/3 : COPY a.txt /a\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\nSuccessfully tagged bc:1\n"), std::string::npos) << r.out;
  EXPECT_EQ(docker({"run", "--rm", "--network", "none", "bc:1"}).out, "from a url\n");
  // A git repository is the daemon's to clone too (remote=). Served by a plain file server (git's
  // dumb http protocol), dockerd's git clones it; hoistd's libgit2 speaks only the smart
  // protocols and says so (the git:// and smart cases: tests/engine/api/build_test.cpp).
  std::string work = dir_->path() + "/work";
  put(work + "/Dockerfile", "FROM bb:1\nCOPY a.txt /a\n");
  put(work + "/a.txt", "from git\n");
  for (std::vector<std::string> args : {std::vector<std::string>{"init", "-q"}, {"add", "."}, {"commit", "-qm", "one"}}) {
    args.insert(args.begin(), {"git", "-C", work, "-c", "user.name=t", "-c", "user.email=t@t", "-c",
                               "init.defaultBranch=master"});
    ASSERT_EQ(run_cmd(args).code, 0);
  }
  ASSERT_EQ(run_cmd({"git", "clone", "-q", "--bare", work, www + "/repo.git"}).code, 0);
  ASSERT_EQ(run_cmd({"git", "-C", www + "/repo.git", "update-server-info"}).code, 0);
  auto git = hoist({"build", "-t", "bc:2", "http://127.0.0.1:" + port + "/repo.git"});
  if (dockerd_) {
    ASSERT_EQ(git.code, 0) << git.err;
    EXPECT_EQ(docker({"run", "--rm", "--network", "none", "bc:2", "cat", "/a"}).out, "from git\n");
  } else {
    EXPECT_NE(git.code, 0);
    EXPECT_NE(git.err.find("error fetching: "), std::string::npos) << git.err;
  }
}

// Rebuilds of one context: the image always has the context as it is now (files changed,
// removed, a symlink and a directory replaced, a new directory), against dockerd (which gets the
// whole context each time) and hoistd (which keeps the context and gets only what changed:
// engine/build_context_cache.h).
TEST_P(BuildCli, RebuildsSeeTheContextAsItIsNow) {
  std::string c = dir_->path() + "/kept";
  put(c + "/Dockerfile", "FROM bb:1\nCOPY . /ctx/\nRUN cd /ctx && find . | sort > /list && md5sum $(find . -type f | sort) > /sums\n");
  put(c + "/a.txt", "a\n");
  put(c + "/gone/g.txt", "g\n");
  put(c + "/dir2file/x", "x\n");
  put(c + "/big.bin", std::string(8 << 20, 'z'));
  put(c + "/raw\xff.name", "not UTF-8\n");  // a name JSON cannot hold (the CLI's stat list)
  ASSERT_EQ(symlink("a.txt", (c + "/link").c_str()), 0);
  auto listing = [&](const std::string& img) {
    return docker({"run", "--rm", "--network", "none", img, "cat", "/list", "/sums"}).out;
  };
  auto sent = [](const std::string& out) {  // the "Sending build context" size's text
    auto at = out.find("Sending build context to Docker daemon  ");
    return at == std::string::npos ? std::string() : out.substr(at + 41, out.find('\n', at) - at - 41);
  };
  auto r = hoist({"build", "-t", "bc:1", c});
  ASSERT_EQ(r.code, 0) << r.err << r.out;
  std::string first = listing("bc:1");
  EXPECT_NE(first.find("./gone/g.txt\n"), std::string::npos) << first;
  EXPECT_NE(first.find("./link\n"), std::string::npos) << first;
  EXPECT_NE(first.find("./raw\xff.name\n"), std::string::npos) << first;

  // Unchanged: the same image (all cached), and hoistd got only the directories' entries.
  r = hoist({"build", "-t", "bc:2", c});
  ASSERT_EQ(r.code, 0) << r.err << r.out;
  EXPECT_EQ(trim(docker({"image", "inspect", "-f", "{{.Id}}", "bc:1"}).out),
            trim(docker({"image", "inspect", "-f", "{{.Id}}", "bc:2"}).out));
  if (hoistd_) {
    EXPECT_EQ(sent(r.out).find("MB"), std::string::npos) << r.out;
  }

  put(c + "/a.txt", "changed\n");
  run_cmd({"rm", "-rf", c + "/gone", c + "/dir2file", c + "/link"});
  put(c + "/dir2file", "now a file\n");
  ASSERT_EQ(symlink("gone-target", (c + "/link").c_str()), 0);
  put(c + "/new/n.txt", "n\n");
  r = hoist({"build", "-t", "bc:3", c});
  ASSERT_EQ(r.code, 0) << r.err << r.out;
  std::string now = listing("bc:3");
  EXPECT_EQ(now, ".\n./Dockerfile\n./a.txt\n./big.bin\n./dir2file\n./link\n./new\n./new/n.txt\n" +
                     now.substr(now.find("./new/n.txt\n") + 12)) << now;
  EXPECT_EQ(now.find("gone"), std::string::npos) << now;
  auto link = docker({"run", "--rm", "--network", "none", "bc:3", "readlink", "/ctx/link"});
  EXPECT_EQ(link.out, "gone-target\n") << link.err;
  auto content = docker({"run", "--rm", "--network", "none", "bc:3", "cat", "/ctx/a.txt", "/ctx/dir2file"});
  EXPECT_EQ(content.out, "changed\nnow a file\n") << content.err;
  if (hoistd_) {
    EXPECT_EQ(sent(r.out).find("MB"), std::string::npos) << r.out;
  }

  if (hoistd_) {
    // A token that another compare made stale: the daemon refuses the body; the CLI then sends
    // the whole context (the retry is the same build).
    std::string key(64, 'a');
    auto a = hoistd_->http("POST", "/hoist/build-context?key=" + key, R"({"files":{},"dirs":[]})");
    ASSERT_EQ(a.status, 200) << a.body;
    auto b = hoistd_->http("POST", "/hoist/build-context?key=" + key, R"({"files":{},"dirs":[]})");
    ASSERT_EQ(b.status, 200) << b.body;
    auto stale = hoistd_->http("POST", "/build", "", {"X-Hoist-Context-Cache: " + key + " " +
                                                     json::parse(a.body)["token"].get<std::string>()});
    EXPECT_EQ(stale.status, 409) << stale.body;
    auto bad = hoistd_->http("POST", "/hoist/build-context?key=../x", "{}");
    EXPECT_EQ(bad.status, 400) << bad.body;
  }
}

// --progress: plain is the daemon's text as it comes (the default off a terminal); tty draws
// BuildKit's live view on a terminal (a pty of script(1) here), ending with every step's final
// state, the failing step's output and the cursor shown again; the modes hoist lacks are refused.
TEST_P(BuildCli, ProgressModes) {
  ASSERT_EQ(hoist({"build", "-t", "bc:1", ctx_}).code, 0);  // then both below all cached
  auto plain = hoist({"build", "--progress=plain", "-t", "bc:1", ctx_});
  ASSERT_EQ(plain.code, 0) << plain.err << plain.out;
  auto dflt = hoist({"build", "-t", "bc:1", ctx_});
  ASSERT_EQ(dflt.code, 0) << dflt.err << dflt.out;
  EXPECT_EQ(plain.out, dflt.out);
  EXPECT_NE(plain.out.find("Step 4/4 : RUN echo"), std::string::npos) << plain.out;
  auto quiet = hoist({"build", "--progress=quiet", ctx_});
  ASSERT_EQ(quiet.code, 0) << quiet.err;
  EXPECT_EQ(trim(quiet.out), trim(docker({"image", "inspect", "-f", "{{.Id}}", "bc:1"}).out));
  auto raw = hoist({"build", "--progress=rawjson", ctx_});
  EXPECT_NE(raw.code, 0);
  EXPECT_NE(raw.err.find("--progress=rawjson is not supported yet"), std::string::npos) << raw.err;
  auto bad = hoist({"build", "--progress=fancy", ctx_});
  EXPECT_NE(bad.err.find("invalid progress mode \"fancy\""), std::string::npos) << bad.err;
  auto notty = hoist({"build", "--progress=tty", ctx_});
  EXPECT_NE(notty.err.find("--progress=tty: stderr is not a terminal"), std::string::npos) << notty.err;

  if (!hoist::test::have_tool("script")) GTEST_SKIP() << "script(1) is not installed";
  auto in_tty = [&](const std::string& args) {
    std::string cmd = "stty cols 60 rows 30; " + std::string(HOIST_CLI_BIN) + " -H " + host_ + " --config " + cfg_ +
                      " build --progress=tty " + args;
    return run_cmd({"script", "-qec", cmd, "/dev/null"}, "", 120);
  };
  auto tty = in_tty("--no-cache -t bc:1 " + ctx_);
  ASSERT_EQ(tty.code, 0) << tty.out;
  std::string o = tty.out;
  EXPECT_EQ(o.find("Step 1/4"), std::string::npos) << "no classic text: " << o;
  EXPECT_NE(o.find("[+] Building "), std::string::npos) << o;
  EXPECT_NE(o.find("(4/4) FINISHED"), std::string::npos) << o;
  EXPECT_NE(o.find(" => [1/4] FROM bb:1 "), std::string::npos) << o;
  EXPECT_NE(o.find(" => => naming to bc:1"), std::string::npos) << o;
  EXPECT_NE(o.find("\x1b[?25l"), std::string::npos) << "the cursor hidden while drawing";
  EXPECT_EQ(o.substr(o.size() - 6), "\x1b[?25h") << "and shown again at the end";
  // Every line fits in 60 columns.
  std::istringstream lines(o);
  for (std::string l; std::getline(lines, l);) {
    std::size_t at = l.rfind("\x1b[2K");
    if (at == std::string::npos) continue;
    std::string shown = std::regex_replace(l.substr(at + 4), std::regex("\x1b\\[[0-9;?]*[A-Za-z]|\r"), "");
    EXPECT_LE(shown.size(), 59u) << shown;
  }

  auto fail = in_tty("-f " + ctx_ + "/bad.Dockerfile " + ctx_);
  EXPECT_EQ(fail.code, 7) << fail.out;
  EXPECT_NE(fail.out.find("ERROR [2/2] RUN exit 7"), std::string::npos) << fail.out;
  EXPECT_NE(fail.out.find(" > [2/2] RUN exit 7:"), std::string::npos) << fail.out;
  EXPECT_NE(fail.out.find("The command '/bin/sh -c exit 7' returned a non-zero code: 7"), std::string::npos)
      << fail.out;
}

// BuildKit's RUN --security=insecure: privileged only with `--allow security.insecure` (Hoist's
// X-Hoist-Build-Entitlements header) to a daemon that allows it (daemon.json's builder
// entitlements), BuildKit's errors without either; dockerd's classic builder knows no such flag.
TEST_P(BuildCli, RunSecurityInsecure) {
  put(ctx_ + "/Dockerfile",
      "FROM bb:1\nRUN grep CapEff /proc/self/status > /sandbox\n"
      "RUN --security=insecure grep CapEff /proc/self/status > /insecure\n");
  auto bogus = hoist({"build", "--allow", "bogus", ctx_});
  EXPECT_NE(bogus.code, 0);
  EXPECT_NE(bogus.err.find("invalid entitlement: bogus"), std::string::npos) << bogus.err;
  if (dockerd_) {
    auto r = hoist({"build", "--allow", "security.insecure", ctx_});
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.err.find("Unknown flag: security"), std::string::npos) << r.err;
    return;
  }
  auto denied = hoist({"build", ctx_});
  EXPECT_NE(denied.code, 0) << denied.out;
  EXPECT_NE(denied.err.find("security.insecure is not allowed"), std::string::npos) << denied.err << denied.out;
  // The client's --allow is not enough: the daemon must allow the entitlement too (BuildKit's rule).
  auto daemon_denied = hoist({"build", "--allow", "security.insecure", ctx_});
  EXPECT_NE(daemon_denied.code, 0) << daemon_denied.out;
  EXPECT_NE(daemon_denied.err.find("granting entitlement security.insecure is not allowed by build daemon configuration"),
            std::string::npos)
      << daemon_denied.err;
  std::ofstream(hoistd_->dir() + "/daemon.json") << R"({"builder": {"entitlements": {"security-insecure": true}}})";
  hoistd_->restart();
  auto r = hoist({"build", "--allow", "security.insecure", "-t", "bc:1", ctx_});
  // Where the host's bounding set lacks a capability, dockerd 20.10's privileged container cannot
  // start (newer dockerd and hoistd give the capabilities there are): its step fails as such a
  // container does.
  auto probe = docker({"run", "--rm", "--privileged", "--network", "none", "bb:1", "true"});
  if (probe.code != 0) {
    EXPECT_NE(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("Step 2/3 : RUN grep CapEff"), std::string::npos) << r.out;
    EXPECT_NE((r.err + r.out).find("capset: Operation not permitted"), std::string::npos) << r.err << r.out;
    GTEST_SKIP() << "privileged containers cannot start here: " << probe.err;
  }
  ASSERT_EQ(r.code, 0) << r.err << r.out;
  auto caps = docker({"run", "--rm", "--network", "none", "bc:1", "cat", "/sandbox", "/insecure"});
  ASSERT_EQ(caps.code, 0) << caps.err;
  std::istringstream in(caps.out);
  std::string k1, sandbox, k2, insecure;
  in >> k1 >> sandbox >> k2 >> insecure;
  ASSERT_EQ(k1, "CapEff:") << caps.out;
  EXPECT_EQ(sandbox, "00000000a80425fb") << "docker's default set";
  std::uint64_t s = std::stoull(sandbox, nullptr, 16), i = std::stoull(insecure, nullptr, 16);
  EXPECT_EQ(i & s, s) << caps.out;
  EXPECT_NE(i & (1ull << 21), 0u) << "CAP_SYS_ADMIN: " << caps.out;
}

// BuildKit's RUN --mount=type=secret with `hoist build --secret` (Hoist's X-Hoist-Build-Secrets):
// the step reads the file's secret, the image keeps none of it; dockerd's classic builder takes no
// secrets: hoist's CLI says so before building.
TEST_P(BuildCli, RunMountSecret) {
  put(dir_->path() + "/pw.txt", "file-s3cret");
  put(ctx_ + "/Dockerfile", "FROM bb:1\nRUN --mount=type=secret,id=pw md5sum < /run/secrets/pw > /pw.md5\n");
  auto r = hoist({"build", "--secret", "id=pw,src=" + dir_->path() + "/pw.txt", "-t", "bc:1", ctx_});
  if (dockerd_) {
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.err.find("hoist build --secret: the daemon takes no build secrets"), std::string::npos) << r.err;
    EXPECT_EQ(r.out.find("Step 1/2"), std::string::npos) << r.out;
    return;
  }
  ASSERT_EQ(r.code, 0) << r.err << r.out;
  auto sum = docker({"run", "--rm", "--network", "none", "bc:1", "cat", "/pw.md5"});
  EXPECT_EQ(sum.out, run_cmd({"sh", "-c", "printf %s file-s3cret | md5sum"}).out);
  EXPECT_EQ(docker({"save", "bc:1"}).out.find("s3cret"), std::string::npos);
}

// BuildKit's RUN --mount=type=ssh with `hoist build --ssh` (Hoist's build session, docs/api.md):
// the step's agent at /run/buildkit/ssh_agent.0 (SSH_AUTH_SOCK) reaches the client's agent; an
// optional id the client does not forward is not mounted (SSH_AUTH_SOCK still names its target);
// a required one fails with BuildKit's words (also for docker's own CLI, which forwards nothing);
// nothing of the socket stays in the image, nor in hoistd's exec root. dockerd's classic builder has no session: hoist's CLI says so.
TEST_P(BuildCli, RunMountSsh) {
  if (!hoist::test::TestSshAgent::available())
    GTEST_SKIP() << "openssh-client is not installed (scripts/install-deps.sh)";
  hoist::test::TestSshAgent agent(dir_->path(), "hoist-ssh-test@key");
  auto with_agent = [&](std::vector<std::string> args) {
    std::vector<std::string> argv{"env", "SSH_AUTH_SOCK=" + agent.socket(), HOIST_CLI_BIN, "-H", host_, "--config", cfg_};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_cmd(argv, "", 120);
  };
  run_cmd({"cp", HOIST_AGENT_LIST_BIN, ctx_ + "/agent_list"});
  put(ctx_ + "/Dockerfile",
      "FROM bb:1\nCOPY agent_list /bin/agent_list\n"
      "RUN --mount=type=ssh agent_list > /listed\n"
      "RUN --mount=type=ssh,id=other,target=/run/other.sock,required=false "
      "sh -c 'test -e /run/other.sock || echo \"not mounted, SSH_AUTH_SOCK=$SSH_AUTH_SOCK\"' > /optional\n");
  if (dockerd_) {
    auto r = with_agent({"build", "--ssh", "default", ctx_});
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.err.find("the daemon forwards no SSH agent"), std::string::npos) << r.err;
    return;
  }
  auto bad = with_agent({"build", "--ssh", "default=" + dir_->path() + "/nothing", ctx_});
  EXPECT_NE(bad.code, 0);
  EXPECT_NE(bad.err.find("failed to stat " + dir_->path() + "/nothing"), std::string::npos) << bad.err;
  put(dir_->path() + "/garbage", "not a key\n");
  auto keyfile = with_agent({"build", "--ssh", "default=" + dir_->path() + "/garbage", ctx_});
  EXPECT_NE(keyfile.code, 0);
  EXPECT_NE(keyfile.err.find("failed to parse " + dir_->path() + "/garbage: ssh: no key found"), std::string::npos)
      << keyfile.err;

  auto r = with_agent({"build", "--ssh", "default", "-t", "bc:1", ctx_});
  ASSERT_EQ(r.code, 0) << r.err << r.out;
  auto listed = docker({"run", "--rm", "--network", "none", "bc:1", "cat", "/listed", "/optional"});
  ASSERT_EQ(listed.code, 0) << listed.err;
  EXPECT_EQ(listed.out,
            "socket: /run/buildkit/ssh_agent.0\nidentities: 1\nhoist-ssh-test@key\n"
            "not mounted, SSH_AUTH_SOCK=/run/other.sock\n");
  // Nothing of the sockets in the image: no mount point, no variable, no history.
  auto left = docker({"run", "--rm", "--network", "none", "bc:1", "sh", "-c",
                      "ls -d /run/buildkit /run/other.sock 2>/dev/null; true"});
  EXPECT_EQ(left.out, "") << left.out;
  auto env = docker({"image", "inspect", "-f", "{{json .Config.Env}}", "bc:1"});
  EXPECT_EQ(env.out.find("SSH_AUTH_SOCK"), std::string::npos) << env.out;
  auto history = docker({"history", "--no-trunc", "bc:1"});
  EXPECT_EQ(history.out.find("ssh_agent"), std::string::npos) << history.out;
  // The step's socket and its directory are gone, and so is the session.
  auto sockets = run_cmd({"sh", "-c", "ls -A " + hoistd_->exec_root() + "/build-ssh 2>/dev/null; true"});
  EXPECT_EQ(sockets.out, "") << sockets.out;

  // A required id: BuildKit's words when the client forwards nothing (hoist without --ssh,
  // docker's own CLI), and when it forwards other ids.
  put(ctx_ + "/Dockerfile", "FROM bb:1\nRUN --mount=type=ssh,id=deploy,required agent_list\n");
  auto none = hoist({"build", ctx_});
  EXPECT_NE(none.code, 0);
  EXPECT_NE(none.err.find("no SSH key \"deploy\" forwarded from the client"), std::string::npos) << none.err << none.out;
  auto classic = docker({"build", ctx_});
  EXPECT_NE(classic.code, 0);
  EXPECT_NE((classic.err + classic.out).find("no SSH key \"deploy\" forwarded from the client"), std::string::npos)
      << classic.err << classic.out;
  auto other = with_agent({"build", "--ssh", "default", ctx_});
  EXPECT_NE(other.code, 0);
  EXPECT_NE(other.err.find("unset ssh forward key deploy"), std::string::npos) << other.err << other.out;
  sockets = run_cmd({"sh", "-c", "ls -A " + hoistd_->exec_root() + "/build-ssh 2>/dev/null; true"});
  EXPECT_EQ(sockets.out, "") << sockets.out;
}

INSTANTIATE_TEST_SUITE_P(Daemons, BuildCli, ::testing::Values("dockerd", "hoistd"),
                         [](const auto& info) { return info.param; });
