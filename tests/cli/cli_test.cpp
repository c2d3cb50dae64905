// The hoist CLI against a real private dockerd, with docker's own CLI as the oracle: the same
// scenario through `hoist -H unix://<sock>` and `docker -H unix://<sock>`, comparing what a user
// sees (stdout, exit codes). Each test has its own dockerd; skipped when docker is unavailable.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "docker_harness.h"
#include "harness.h"
#include "registry_harness.h"

namespace {

namespace fs = std::filesystem;
using hoist::test::CmdResult;
using hoist::test::PrivateDockerd;
using hoist::test::run_cmd;

std::string fixtures_dir() { return fs::path(hoist::test::busybox_rootfs()).parent_path().parent_path().string(); }

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
  return s;
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (a private dockerd)";
    if (!PrivateDockerd::available()) GTEST_SKIP() << "docker/dockerd not installed";
    d_ = std::make_unique<PrivateDockerd>();
    sock_ = "unix://" + d_->dir() + "/docker.sock";
    cfg_ = d_->dir() + "/hoist-config";
    // No registry here: the busybox image comes from the fixtures' rootfs tarball.
    auto imp = hoist({"import", fixtures_dir() + "/busybox-rootfs.tar", "bb:1"});
    ASSERT_EQ(imp.code, 0) << imp.err;
    ASSERT_EQ(trimmed(imp.out).rfind("sha256:", 0), 0u) << imp.out;
    // Can this dockerd run containers at all (runtime, cgroups)?
    auto probe = d_->docker({"run", "--rm", "--network", "none", "bb:1", "true"}, "", 60);
    can_run_ = probe.code == 0;
    probe_err_ = probe.err;
  }
  void TearDown() override { d_.reset(); }

  CmdResult hoist(const std::vector<std::string>& args, const std::string& input = "", int timeout_s = 120) {
    std::vector<std::string> argv{HOIST_CLI_BIN, "-H", sock_, "--config", cfg_};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_cmd(argv, input, timeout_s);
  }
  CmdResult docker(const std::vector<std::string>& args, const std::string& input = "", int timeout_s = 120) {
    return d_->docker(args, input, timeout_s);
  }
  // Runs the same arguments through both CLIs.
  std::pair<CmdResult, CmdResult> both(const std::vector<std::string>& args, const std::string& input = "") {
    return {hoist(args, input), docker(args, input)};
  }
#define REQUIRE_RUN() \
  if (!can_run_) GTEST_SKIP() << "this dockerd cannot run containers: " << probe_err_

  std::unique_ptr<PrivateDockerd> d_;
  std::string sock_, cfg_;
  bool can_run_ = false;
  std::string probe_err_;
};

TEST_F(CliTest, VersionAndInfo) {
  auto v = hoist({"version"});
  EXPECT_EQ(v.code, 0) << v.err;
  EXPECT_NE(v.out.find("Server:"), std::string::npos) << v.out;
  auto dv = docker({"version", "--format", "{{.Server.Version}}"});
  auto hv = hoist({"version", "--format", "{{.Server.Version}}"});
  EXPECT_EQ(hv.code, 0) << hv.err;
  EXPECT_EQ(hv.out, dv.out);
  auto [hi, di] = both({"info", "--format", "{{.Images}} {{.Driver}} {{json .Name}}"});
  EXPECT_EQ(hi.code, 0) << hi.err;
  EXPECT_EQ(hi.out, di.out);
  EXPECT_EQ(hoist({"info"}).code, 0);
}

TEST_F(CliTest, DaemonUnreachable) {
  auto r = run_cmd({HOIST_CLI_BIN, "-H", "unix:///nonexistent/x.sock", "ps"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("Cannot connect"), std::string::npos) << r.err;
  r = run_cmd({HOIST_CLI_BIN, "-H", "unix:///nonexistent/x.sock", "run", "bb:1"});
  EXPECT_EQ(r.code, 125);
}

TEST_F(CliTest, ImagesTagRmi) {
  for (auto fmt : {"{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}", "table {{.Repository}}\t{{.Tag}}\t{{.ID}}", "json"}) {
    auto [h, d] = both({"images", "--format", fmt});
    EXPECT_EQ(h.code, 0) << h.err;
    if (std::string(fmt) != "json") {
      EXPECT_EQ(h.out, d.out) << fmt;
    }
  }
  auto [hq, dq] = both({"images", "-q"});
  EXPECT_EQ(hq.out, dq.out);
  auto [hd, dd] = both({"images"});
  EXPECT_EQ(hd.out.substr(0, hd.out.find('\n')), dd.out.substr(0, dd.out.find('\n')));

  ASSERT_EQ(hoist({"tag", "bb:1", "example.com/bb:2"}).code, 0);
  auto ls = docker({"images", "--format", "{{.Repository}}:{{.Tag}}"});
  EXPECT_NE(ls.out.find("example.com/bb:2"), std::string::npos) << ls.out;
  auto rmi = hoist({"rmi", "example.com/bb:2"});
  EXPECT_EQ(rmi.code, 0) << rmi.err;
  EXPECT_EQ(rmi.out, "Untagged: example.com/bb:2\n");
  auto [hm, dm] = both({"rmi", "nosuch:image"});
  EXPECT_EQ(hm.code, dm.code);
  EXPECT_EQ(hm.err, dm.err);
  auto [hi, di] = both({"inspect", "--format", "{{.Id}} {{json .RepoTags}}", "bb:1"});
  EXPECT_EQ(hi.code, 0) << hi.err;
  EXPECT_EQ(hi.out, di.out);
  auto missing = both({"inspect", "nosuch"});
  EXPECT_EQ(missing.first.code, 1);
  EXPECT_EQ(missing.first.code, missing.second.code);
}

TEST_F(CliTest, SaveLoad) {
  auto tar = d_->dir() + "/bb.tar";
  auto s = hoist({"save", "-o", tar, "bb:1"});
  ASSERT_EQ(s.code, 0) << s.err;
  ASSERT_TRUE(fs::exists(tar));
  auto id = trimmed(docker({"inspect", "--format", "{{.Id}}", "bb:1"}).out);
  ASSERT_EQ(hoist({"rmi", "bb:1"}).code, 0);
  auto l = hoist({"load", "-i", tar});
  ASSERT_EQ(l.code, 0) << l.err;
  EXPECT_EQ(l.out, "Loaded image: bb:1\n");
  EXPECT_EQ(trimmed(docker({"inspect", "--format", "{{.Id}}", "bb:1"}).out), id);
  // docker loads what hoist saved and the other way round.
  ASSERT_EQ(docker({"save", "-o", tar + ".d", "bb:1"}).code, 0);
  ASSERT_EQ(docker({"rmi", "bb:1"}).code, 0);
  auto lq = hoist({"load", "-q", "-i", tar + ".d"});
  EXPECT_EQ(lq.code, 0) << lq.err;
  EXPECT_EQ(trimmed(docker({"inspect", "--format", "{{.Id}}", "bb:1"}).out), id);
}

TEST_F(CliTest, ImportFromStdin) {
  auto content = hoist::test::run_cmd({"cat", fixtures_dir() + "/busybox-rootfs.tar"}).out;
  auto r = hoist({"import", "-m", "from stdin", "-", "stdin/bb:x"}, content);
  ASSERT_EQ(r.code, 0) << r.err;
  auto c = docker({"inspect", "--format", "{{.Comment}}", "stdin/bb:x"});
  EXPECT_EQ(trimmed(c.out), "from stdin");
}

TEST_F(CliTest, RunEchoAndExitCodes) {
  REQUIRE_RUN();
  auto [h, d] = both({"run", "--rm", "--network", "none", "bb:1", "echo", "hello", "world"});
  EXPECT_EQ(h.code, 0) << h.err;
  EXPECT_EQ(h.out, "hello world\n");
  EXPECT_EQ(h.out, d.out);
  auto [h3, d3] = both({"run", "--rm", "--network", "none", "bb:1", "sh", "-c", "echo o; echo e >&2; exit 3"});
  EXPECT_EQ(h3.code, 3);
  EXPECT_EQ(h3.code, d3.code);
  EXPECT_EQ(h3.out, "o\n");
  EXPECT_EQ(h3.err, "e\n");
  auto [hm, dm] = both({"run", "--rm", "--network", "none", "bb:1", "nosuchcommand"});
  EXPECT_EQ(hm.code, 127) << hm.err;
  EXPECT_EQ(hm.code, dm.code);
  auto [hb, db] = both({"run", "--bogus-flag", "bb:1", "true"});
  EXPECT_EQ(hb.code, 125);
  EXPECT_EQ(hb.code, db.code);
  EXPECT_NE(hb.err.find("unknown flag: --bogus-flag"), std::string::npos) << hb.err;
  auto [hi, di] = both({"run", "--rm", "--network", "none", "nosuch/image:1", "true"});
  EXPECT_EQ(hi.code, 125);
  EXPECT_EQ(hi.code, di.code);
  // Nothing left behind by --rm.
  EXPECT_EQ(docker({"ps", "-aq"}).out, "");
}

TEST_F(CliTest, RunOptionsReachTheContainer) {
  REQUIRE_RUN();
  auto env = d_->dir() + "/env";
  hoist::test::run_cmd({"sh", "-c", "printf '# c\\nFROMFILE=yes\\n' > " + env});
  std::vector<std::string> args = {"run", "--rm", "--network", "none", "-e", "A=1", "--env-file", env, "-w", "/tmp",
                                    "-u", "65534", "--read-only", "--pids-limit", "50", "-m", "64m", "--cpus", "0.5",
                                    "--cap-drop", "ALL", "--init", "bb:1", "sh", "-c", "echo $A $FROMFILE $(pwd) $(id -u)"};
  auto [h, d] = both(args);
  EXPECT_EQ(h.code, 0) << h.err;
  EXPECT_EQ(h.out, "1 yes /tmp 65534\n");
  EXPECT_EQ(h.out, d.out);
  auto ep = hoist({"run", "--rm", "--network", "none", "--entrypoint", "echo", "bb:1", "via", "entrypoint"});
  EXPECT_EQ(ep.out, "via entrypoint\n") << ep.err;
}

// --add-host, --dns, --dns-search, --dns-option and --network none reach the daemon as docker's CLI
// sends them (host=ip and [addr] normalised to host:addr, a search domain without its final dot).
TEST_F(CliTest, NetworkOptionsAsDockersCliSendsThem) {
  std::vector<std::string> flags = {"--network",    "none",         "--add-host", "a:1.2.3.4", "--add-host",
                                    "b=::1",        "--add-host",   "c:[fe80::1]", "--dns",     "1.1.1.1",
                                    "--dns-search", "example.com.", "--dns-option", "ndots:2"};
  for (auto [cli, name] : {std::pair{"hoist", "from-hoist"}, std::pair{"docker", "from-docker"}}) {
    std::vector<std::string> args = {"create", "--name", name};
    args.insert(args.end(), flags.begin(), flags.end());
    args.insert(args.end(), {"bb:1", "true"});
    auto r = std::string(cli) == "hoist" ? hoist(args) : docker(args);
    ASSERT_EQ(r.code, 0) << cli << ": " << r.err;
  }
  for (auto field : {"ExtraHosts", "Dns", "DnsSearch", "DnsOptions", "NetworkMode"}) {
    std::string f = std::string("{{json .HostConfig.") + field + "}}";
    auto h = docker({"inspect", "--format", f, "from-hoist"});
    EXPECT_EQ(h.out, docker({"inspect", "--format", f, "from-docker"}).out) << field;
    EXPECT_NE(trimmed(h.out), "null") << field;
  }
}

TEST_F(CliTest, SignalsGoToTheContainer) {
  REQUIRE_RUN();
  // docker's --sig-proxy: SIGTERM to the CLI reaches the container, whose exit code is ours.
  auto script = std::string(HOIST_CLI_BIN) + " -H " + sock_ +
                " run --rm --network none bb:1 sh -c 'trap \"echo got TERM; exit 9\" TERM; "
                "while true; do sleep 0.1; done' & p=$!; sleep 2; kill -TERM $p; wait $p";
  auto r = run_cmd({"sh", "-c", script}, "", 60);
  EXPECT_EQ(r.code, 9) << r.err;
  EXPECT_EQ(r.out, "got TERM\n");
}

TEST_F(CliTest, InteractiveStdin) {
  REQUIRE_RUN();
  auto [h, d] = both({"run", "-i", "--rm", "--network", "none", "bb:1", "cat"}, "hi\nthere\n");
  EXPECT_EQ(h.code, 0) << h.err;
  EXPECT_EQ(h.out, "hi\nthere\n");
  EXPECT_EQ(h.out, d.out);
}

TEST_F(CliTest, DetachedLifecycle) {
  REQUIRE_RUN();
  auto r = hoist({"run", "-d", "--name", "web", "--network", "none", "--label", "tier=web", "--label", "env=test", "bb:1",
                  "sh", "-c", "echo out; echo err >&2; trap 'exit 0' TERM; while true; do sleep 0.1; done"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto id = trimmed(r.out);
  EXPECT_EQ(id.size(), 64u) << r.out;
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  auto [hl, dl] = both({"logs", "web"});
  EXPECT_EQ(hl.out, "out\n");
  EXPECT_EQ(hl.err, "err\n");
  EXPECT_EQ(hl.out, dl.out);
  EXPECT_EQ(hl.err, dl.err);
  auto [ht, dt] = both({"logs", "--tail", "1", "web"});
  EXPECT_EQ(ht.out + ht.err, dt.out + dt.err);
  auto [hp, dp] = both({"ps", "--format", "{{.Names}} {{.Status}}"});
  EXPECT_EQ(hp.code, 0) << hp.err;
  EXPECT_EQ(hp.out.substr(0, 7), "web Up ");
  EXPECT_EQ(hp.out.substr(0, 7), dp.out.substr(0, 7));
  auto [hq, dq] = both({"ps", "-q", "--no-trunc"});
  EXPECT_EQ(hq.out, id + "\n");
  EXPECT_EQ(hq.out, dq.out);
  auto [hf, df] = both({"ps", "-a", "--filter", "name=web", "--format", "{{.ID}} {{.Image}} {{.Command}} {{.Names}}"});
  EXPECT_EQ(hf.out, df.out);
  // Several label filters must all match, as dockerd's (other keys match any of their values).
  EXPECT_EQ(hoist({"ps", "-q", "--no-trunc", "-f", "label=tier=web", "-f", "label=env=test"}).out, id + "\n");
  EXPECT_EQ(hoist({"ps", "-q", "-f", "label=tier=web", "-f", "label=env=prod"}).out, "");
  auto table = hoist({"ps"});
  EXPECT_EQ(table.out.substr(0, table.out.find('\n')), docker({"ps"}).out.substr(0, table.out.find('\n')));

  auto ex = both({"exec", "web", "sh", "-c", "echo in-exec $HOME; exit 4"});
  EXPECT_EQ(ex.first.out, "in-exec /root\n");
  EXPECT_EQ(ex.first.code, 4);
  EXPECT_EQ(ex.first.code, ex.second.code);
  auto exi = hoist({"exec", "-i", "-e", "X=y", "-w", "/etc", "web", "sh", "-c", "cat; echo $X $(pwd)"}, "piped\n");
  EXPECT_EQ(exi.out, "piped\ny /etc\n") << exi.err;
  auto [hin, din] = both({"inspect", "--format", "{{.State.Running}} {{.Name}} {{json .Config.Cmd}}", "web"});
  EXPECT_EQ(hin.out, din.out);
  auto [hraw, draw] = both({"inspect", "web", "bb:1"});
  EXPECT_EQ(hraw.code, 0) << hraw.err;
  EXPECT_EQ(hraw.out, draw.out);  // the daemon's JSON, key order kept, 4-space indent
  auto [ty, dty] = both({"inspect", "--type", "image", "web"});
  EXPECT_EQ(ty.code, 1);
  EXPECT_EQ(ty.code, dty.code);

  auto st = hoist({"stop", "-t", "5", "web"});
  EXPECT_EQ(st.code, 0) << st.err;
  EXPECT_EQ(st.out, "web\n");
  auto [hx, dx] = both({"inspect", "--format", "{{.State.ExitCode}}", "web"});
  EXPECT_EQ(hx.out, "0\n");
  EXPECT_EQ(hx.out, dx.out);
  auto [hs, ds] = both({"ps", "-a", "--format", "{{.Status}}"});
  EXPECT_EQ(hs.out.substr(0, 10), "Exited (0)");
  EXPECT_EQ(hs.out.substr(0, 10), ds.out.substr(0, 10));
  auto rn = hoist({"rename", "web", "web2"});
  EXPECT_EQ(rn.code, 0) << rn.err;
  auto rm = hoist({"rm", "web2"});
  EXPECT_EQ(rm.code, 0) << rm.err;
  EXPECT_EQ(rm.out, "web2\n");
  auto [hr, dr] = both({"rm", "web2"});
  EXPECT_EQ(hr.code, 1);
  EXPECT_EQ(hr.code, dr.code);
  EXPECT_EQ(hr.err, dr.err);
}

TEST_F(CliTest, CreateStartWaitKillPause) {
  REQUIRE_RUN();
  auto c = hoist({"create", "--name", "c1", "--network", "none", "bb:1", "sh", "-c", "echo started; sleep 30"});
  ASSERT_EQ(c.code, 0) << c.err;
  EXPECT_EQ(trimmed(docker({"inspect", "--format", "{{.State.Status}}", "c1"}).out), "created");
  EXPECT_EQ(hoist({"start", "c1"}).out, "c1\n");
  EXPECT_EQ(hoist({"pause", "c1"}).code, 0);
  EXPECT_EQ(trimmed(docker({"inspect", "--format", "{{.State.Status}}", "c1"}).out), "paused");
  EXPECT_EQ(hoist({"unpause", "c1"}).code, 0);
  auto top = hoist({"top", "c1"});
  EXPECT_EQ(top.code, 0) << top.err;
  EXPECT_NE(top.out.find("sleep 30"), std::string::npos) << top.out;
  auto stats = hoist({"stats", "--no-stream", "c1"});
  EXPECT_EQ(stats.code, 0) << stats.err;
  EXPECT_NE(stats.out.find("c1"), std::string::npos) << stats.out;
  EXPECT_EQ(hoist({"kill", "-s", "KILL", "c1"}).code, 0);
  auto w = hoist({"wait", "c1"});
  EXPECT_EQ(w.out, "137\n") << w.err;
  EXPECT_EQ(hoist({"rm", "-f", "c1"}).code, 0);
  auto att = hoist({"create", "--name", "c2", "--network", "none", "bb:1", "sh", "-c", "echo attached; exit 5"});
  ASSERT_EQ(att.code, 0);
  auto sa2 = hoist({"start", "-a", "c2"});
  EXPECT_EQ(sa2.out, "attached\n");
  EXPECT_EQ(sa2.code, 5);
  // A later start -a of the same container shows that run's output too, with the docker CLI as well.
  auto again = hoist({"start", "-a", "c2"});
  EXPECT_EQ(again.out, "attached\n");
  EXPECT_EQ(again.code, 5);
  auto by_docker = docker({"start", "-a", "c2"});
  EXPECT_EQ(by_docker.out, "attached\n");
  EXPECT_EQ(by_docker.code, 5);
}

// As docker: the containers are stopped in parallel, so three that ignore SIGTERM take one
// grace period, not three; the names print in the order given, an unknown one as an error.
TEST_F(CliTest, StopStopsInParallel) {
  REQUIRE_RUN();
  for (const char* n : {"s1", "s2", "s3"}) {
    auto r = hoist({"run", "-d", "--name", n, "--network", "none", "bb:1", "sleep", "100"});  // pid 1: no SIGTERM
    ASSERT_EQ(r.code, 0) << r.err;
  }
  auto t0 = std::chrono::steady_clock::now();
  auto stop = hoist({"stop", "-t", "3", "s1", "nosuch", "s2", "s3"});
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(stop.code, 1);
  EXPECT_EQ(stop.out, "s1\ns2\ns3\n");
  EXPECT_NE(stop.err.find("No such container: nosuch"), std::string::npos) << stop.err;
  EXPECT_LT(took, std::chrono::milliseconds(6000)) << "one after the other: 3 x 3 s";
  for (const char* n : {"s1", "s2", "s3"})
    EXPECT_EQ(trimmed(docker({"inspect", "--format", "{{.State.Status}}", n}).out), "exited") << n;
  EXPECT_EQ(hoist({"rm", "s1", "s2", "s3"}).code, 0);
}

TEST_F(CliTest, EventsWhileStarting) {
  REQUIRE_RUN();
  auto since = std::to_string(time(nullptr) - 1);
  auto r = hoist({"run", "--rm", "--name", "ev", "--network", "none", "bb:1", "true"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto until = std::to_string(time(nullptr) + 1);
  auto [h, d] = both({"events", "--since", since, "--until", until, "--filter", "container=ev", "--format",
                      "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}"});
  EXPECT_EQ(h.code, 0) << h.err;
  EXPECT_NE(h.out.find("container start ev"), std::string::npos) << h.out;
  EXPECT_EQ(h.out, d.out);
  auto rel = hoist({"events", "--since", "2m", "--until", "0s", "--filter", "container=ev", "--format", "{{.Action}}"});
  EXPECT_EQ(rel.code, 0) << rel.err;
  EXPECT_NE(rel.out.find("start\n"), std::string::npos) << rel.out;
  auto plain = hoist({"events", "--since", since, "--until", until, "--filter", "event=start"});
  EXPECT_NE(plain.out.find(" container start "), std::string::npos) << plain.out;
  EXPECT_NE(plain.out.find("name=ev"), std::string::npos) << plain.out;
}

TEST_F(CliTest, SystemDfPruneLoginConfig) {
  auto df = hoist({"system", "df"});
  EXPECT_EQ(df.code, 0) << df.err;
  EXPECT_EQ(df.out, docker({"system", "df"}).out) << "docker 28's summary";
  auto pr = hoist({"system", "prune", "-f"});
  EXPECT_EQ(pr.code, 0) << pr.err;
  EXPECT_NE(pr.out.find("Total reclaimed space:"), std::string::npos);
  // logout of a server never logged in to.
  auto lo = hoist({"logout", "127.0.0.1:1"});
  EXPECT_EQ(lo.code, 0);
}

TEST_F(CliTest, LoginPushPullWithProgress) {
  if (auto missing = hoist::test::registry_tools_missing(); !missing.empty()) GTEST_SKIP() << missing;
  hoist::test::LocalRegistry reg(hoist::test::LocalRegistry::Mode::Htpasswd);
  auto ref = reg.host() + "/cli/bb:1";
  ASSERT_EQ(hoist({"tag", "bb:1", ref}).code, 0);
  // Without credentials the registry refuses the push.
  auto denied = hoist({"push", ref});
  EXPECT_NE(denied.code, 0) << denied.out;
  auto bad = hoist({"login", "-u", reg.user(), "--password-stdin", reg.host()}, "wrong\n");
  EXPECT_EQ(bad.code, 1);
  auto li = hoist({"login", "-u", reg.user(), "--password-stdin", reg.host()}, reg.password() + "\n");
  ASSERT_EQ(li.code, 0) << li.err;
  EXPECT_EQ(li.out, "Login Succeeded\n");
  auto cfg = nlohmann::json::parse(hoist::test::run_cmd({"cat", cfg_ + "/config.json"}).out);
  EXPECT_TRUE(cfg["auths"].contains(reg.host())) << cfg.dump();
  auto push = hoist({"push", ref});
  ASSERT_EQ(push.code, 0) << push.out << push.err;
  EXPECT_NE(push.out.find("The push refers to repository [" + reg.host() + "/cli/bb]"), std::string::npos) << push.out;
  EXPECT_NE(push.out.find("1: digest: sha256:"), std::string::npos) << push.out;
  ASSERT_EQ(hoist({"rmi", ref}).code, 0);
  auto pull = hoist({"pull", ref});
  ASSERT_EQ(pull.code, 0) << pull.out << pull.err;
  EXPECT_NE(pull.out.find("1: Pulling from cli/bb\n"), std::string::npos) << pull.out;
  EXPECT_NE(pull.out.find("Status: "), std::string::npos) << pull.out;
  EXPECT_EQ(pull.out.substr(pull.out.rfind('\n', pull.out.size() - 2) + 1), ref + "\n");
  ASSERT_EQ(hoist({"rmi", ref}).code, 0);
  auto q = hoist({"pull", "-q", ref});
  EXPECT_EQ(q.out, ref + "\n") << q.err;
  // On a terminal: per-layer lines redrawn with cursor moves and a progress bar.
  ASSERT_EQ(hoist({"rmi", ref}).code, 0);
  if (hoist::test::have_tool("script")) {
    auto t = run_cmd({"script", "-qec",
                      std::string(HOIST_CLI_BIN) + " -H " + sock_ + " --config " + cfg_ + " pull " + ref, "/dev/null"});
    EXPECT_EQ(t.code, 0) << t.out;
    EXPECT_NE(t.out.find("\033["), std::string::npos) << t.out;
    EXPECT_NE(t.out.find("Digest: sha256:"), std::string::npos) << t.out;
  }
  auto lo = hoist({"logout", reg.host()});
  EXPECT_EQ(lo.out, "Removing login credentials for " + reg.host() + "\n");
  auto denied2 = hoist({"pull", ref});
  EXPECT_NE(denied2.code, 0);
}

TEST_F(CliTest, TtyRun) {
  REQUIRE_RUN();
  if (!hoist::test::have_tool("script")) GTEST_SKIP() << "script(1) not installed";
  // -it under a pseudo-terminal: the container sees a tty, output is raw (no doubled \r).
  auto r = run_cmd({"script", "-qec",
                    std::string(HOIST_CLI_BIN) + " -H " + sock_ +
                        " run -it --rm --network none bb:1 sh -c 'tty; echo done; exit 7'",
                    "/dev/null"});
  EXPECT_EQ(r.code, 7) << r.out;
  EXPECT_NE(r.out.find("/dev/pts/0\r\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("done\r\n"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("\r\r\n"), std::string::npos) << r.out;
  // -it without a terminal is refused as docker does.
  auto nt = hoist({"run", "-it", "--rm", "--network", "none", "bb:1", "true"});
  EXPECT_EQ(nt.code, 1);
  EXPECT_NE(nt.err.find("not a TTY"), std::string::npos);
}

}  // namespace
