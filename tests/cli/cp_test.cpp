// `cp` and the archive API (/containers/{id}/archive HEAD, GET, PUT) against a private hoistd,
// through hoist's CLI, the docker CLIs 20.10 (/usr/bin/docker) and 28 (/usr/local/bin/docker) and
// docker-py, with a private dockerd as the reference for the stat header, the tar entry names and
// the error answers of the same steps. And containment: a container that plants symlinks to "/" or
// "/etc" at the target, or swaps one in a loop while 1,000 copies run, never gets hoistd to read or
// write a host path outside it (a canary directory on the host stays as it was).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "docker_harness.h"
#include "harness.h"
#include "hoistd_harness.h"
#include "registry_harness.h"

namespace {

namespace fs = std::filesystem;
using hoist::test::CmdResult;
using hoist::test::run_cmd;
using json = nlohmann::json;

const char* const kDocker28 = "/usr/local/bin/docker";

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
  return s;
}
std::string slurp(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
std::string b64decode(const std::string& in) {
  static const std::string chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  unsigned v = 0;
  int bits = 0;
  for (char c : in) {
    auto i = chars.find(c);
    if (i == std::string::npos) break;
    v = (v << 6) | static_cast<unsigned>(i);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((v >> bits) & 0xff);
    }
  }
  return out;
}

// One daemon under test: a private hoistd or a private dockerd, with the busybox image as bb:1.
struct Engine {
  std::unique_ptr<hoist::test::Hoistd> hoistd;
  std::unique_ptr<hoist::test::PrivateDockerd> dockerd;
  std::string host, sock, cfg, cgroup;

  static std::unique_ptr<Engine> make(const std::string& kind) {
    auto e = std::make_unique<Engine>();
    if (kind == "dockerd") {
      e->dockerd = std::make_unique<hoist::test::PrivateDockerd>();
      e->sock = e->dockerd->dir() + "/docker.sock";
      e->cfg = e->dockerd->dir() + "/cli-config";
    } else {
      e->cgroup = "/hoist-test-" + std::to_string(getpid()) + "-cp";
      e->hoistd = std::make_unique<hoist::test::Hoistd>(std::vector<std::string>{"--cgroup-parent", e->cgroup});
      e->sock = e->hoistd->socket();
      e->cfg = e->hoistd->dir() + "/cli-config";
    }
    e->host = "unix://" + e->sock;
    auto imp = e->docker({"import", hoist::test::fixtures_dir() + "/busybox-rootfs.tar", "bb:1"});
    EXPECT_EQ(imp.code, 0) << imp.err;
    return e;
  }
  ~Engine() {
    auto ids = docker({"ps", "-aq"});
    std::istringstream in(ids.out);
    for (std::string id; std::getline(in, id);)
      if (!id.empty()) docker({"rm", "-f", id});
    if (hoistd) {
      hoist::test::remove_all_containers(*hoistd);
      hoist::test::force_cleanup(*hoistd, cgroup);
    }
  }
  // The docker CLI (20.10, or 28 with `cli`), or hoist's.
  CmdResult docker(const std::vector<std::string>& args, const std::string& input = "", const std::string& cli = "docker",
                   int timeout_s = 120) const {
    std::vector<std::string> argv{cli, "--config", cfg, "-H", host};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_cmd(argv, input, timeout_s);
  }
  CmdResult hoist(const std::vector<std::string>& args, const std::string& input = "") const {
    std::vector<std::string> argv{HOIST_CLI_BIN, "-H", host, "--config", cfg};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_cmd(argv, input, 120);
  }
  // curl over the socket: status line, the stat header (decoded) and the body.
  struct Http {
    int status = 0;
    std::string stat, body;
  };
  Http http(const std::string& method, const std::string& target, const std::string& upload = "") const {
    std::vector<std::string> argv{"curl", "-s", "-D-", "-o", "-", "--unix-socket", sock, "-X", method};
    if (method == "HEAD") argv = {"curl", "-s", "-I", "--unix-socket", sock};
    if (!upload.empty()) {
      argv.push_back("--data-binary");
      argv.push_back("@" + upload);
      argv.push_back("-H");
      argv.push_back("Content-Type: application/x-tar");
    }
    argv.push_back("http://d/v1.41" + target);
    auto r = run_cmd(argv, "", 60);
    Http h;
    std::string out = r.out;
    // Skip "100 Continue" heads.
    for (;;) {
      std::size_t end = out.find("\r\n\r\n");
      if (end == std::string::npos) break;
      std::string head = out.substr(0, end);
      out = out.substr(end + 4);
      if (head.rfind("HTTP/1.1 100", 0) == 0) continue;
      h.status = std::stoi(head.substr(9, 3));
      std::istringstream in(head);
      for (std::string l; std::getline(in, l);) {
        if (l.rfind("X-Docker-Container-Path-Stat: ", 0) == 0 || l.rfind("x-docker-container-path-stat: ", 0) == 0)
          h.stat = b64decode(trimmed(l.substr(30)));
      }
      break;
    }
    h.body = out;
    return h;
  }
};

// Entry names (and link targets) of a tar.
std::vector<std::string> tar_list(const std::string& tar) {
  char t[] = "/tmp/hoist-cp-tar-XXXXXX";
  int fd = mkstemp(t);
  if (fd < 0) return {};
  ::close(fd);
  std::ofstream(t, std::ios::binary) << tar;
  auto r = run_cmd({"tar", "--numeric-owner", "-tvf", t});
  ::unlink(t);
  std::vector<std::string> out;
  std::istringstream in(r.out);
  for (std::string l; std::getline(in, l);) {
    // "drwxr-xr-x 0/0 0 2026-12-06 10:02 d/" → mode, owner and name (sizes of directories and
    // the dates differ between daemons).
    std::istringstream f(l);
    std::string mode, owner, size, date, time, rest;
    f >> mode >> owner >> size >> date >> time;
    std::getline(f, rest);
    // What dockerd's init layer adds to every container (/.dockerenv, /etc/mtab) is left out.
    if (rest.find(".dockerenv") != std::string::npos || rest.find("mtab -> /proc/mounts") != std::string::npos) continue;
    out.push_back(mode + " " + owner + " " + (mode[0] == 'd' ? "" : size) + rest);
  }
  return out;
}

// The fields of a stat header that do not depend on when the files were made.
std::string stat_view(const std::string& stat_json) {
  json j = json::parse(stat_json, nullptr, false);
  if (!j.is_object()) return "(no stat: " + stat_json + ")";
  std::uint32_t mode = j.value("mode", 0u);
  bool dir = mode & (1u << 31);
  return j.value("name", "") + " " + std::to_string(mode) + " " + (dir ? "" : std::to_string(j.value("size", 0))) +
         " " + j.value("linkTarget", "");
}

// The same container on both daemons: files, dirs, symlinks, a setuid file, a fifo.
const char* const kPrepare =
    "mkdir -p /d/sub && echo hi > /d/f && ln -s /etc /d/l && ln -s f /d/rl && chmod 4755 /d/f && "
    "mkfifo /d/fifo && echo deep > /d/sub/x && ln /d/sub/x /d/hard && chown 1234:2345 /d/sub/x && ln -s /d/nope /d/dangling";

class CpCompare : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (private daemons)";
    if (!hoist::test::have_tool("docker") || !hoist::test::PrivateDockerd::available())
      GTEST_SKIP() << "docker and dockerd are needed";
    docker_ = Engine::make("dockerd");
    hoist_ = Engine::make("hoistd");
  }
  std::unique_ptr<Engine> docker_, hoist_;
};

TEST_F(CpCompare, StatTarAndErrorsMatchDockerd) {
  for (auto* e : {docker_.get(), hoist_.get()}) {
    auto r = e->docker({"run", "--name", "cpc", "--network", "none", "bb:1", "sh", "-c", kPrepare});
    ASSERT_EQ(r.code, 0) << r.err;
  }
  // A stopped container: the rootfs is mounted for each request.
  for (std::string path : {"/d", "/d/", "/d/.", "/d/f", "/d/l", "/d/l/", "/d/rl", "/d/fifo", "/d/dangling",
                           "/d/sub/..", "/d/./sub", "/d/hard", "/etc/passwd", "/d/l/passwd", "../../d/f", "d/f"}) {
    auto h = hoist_->http("HEAD", "/containers/cpc/archive?path=" + path);
    auto d = docker_->http("HEAD", "/containers/cpc/archive?path=" + path);
    EXPECT_EQ(h.status, d.status) << path;
    EXPECT_EQ(stat_view(h.stat), stat_view(d.stat)) << path;
    auto hg = hoist_->http("GET", "/containers/cpc/archive?path=" + path);
    auto dg = docker_->http("GET", "/containers/cpc/archive?path=" + path);
    EXPECT_EQ(hg.status, 200) << path << ": " << hg.body.substr(0, 200);
    EXPECT_EQ(tar_list(hg.body), tar_list(dg.body)) << path;
  }
  // Errors: the same status and words.
  for (std::string target : {"/containers/cpc/archive?path=/nonexistent", "/containers/nope/archive?path=/d",
                             "/containers/cpc/archive", "/containers/cpc/archive?path="}) {
    auto h = hoist_->http("GET", target);
    auto d = docker_->http("GET", target);
    EXPECT_EQ(h.status, d.status) << target;
    EXPECT_EQ(trimmed(h.body), trimmed(d.body)) << target;
    EXPECT_EQ(hoist_->http("HEAD", target).status, d.status) << target;
  }
  // dockerd names its host path in this one ("lstat /var/lib/docker/.../merged/d/f/x: not a
  // directory"); hoistd the container's.
  for (std::string path : {"/d/f/x", "/d/f/"}) {
    auto h = hoist_->http("GET", "/containers/cpc/archive?path=" + path);
    auto d = docker_->http("GET", "/containers/cpc/archive?path=" + path);
    EXPECT_EQ(h.status, d.status) << path;
    EXPECT_EQ(trimmed(h.body), "{\"message\":\"lstat " + path + ": not a directory\"}");
    EXPECT_NE(d.body.find(path + ": not a directory"), std::string::npos) << d.body;
  }
  // PUT: a tar with "../" names is refused with dockerd's words, and nothing is written.
  std::string dir = hoist_->hoistd->dir();
  std::string bad = dir + "/dotdot.tar";
  ASSERT_EQ(run_cmd({"python3", "-c",
                     "import tarfile,io,sys\n"
                     "t=tarfile.open(sys.argv[1],'w')\n"
                     "for n in ['../../escape','ok']:\n"
                     "  i=tarfile.TarInfo(n); i.size=2; t.addfile(i, io.BytesIO(b'no'))\n"
                     "t.close()\n",
                     bad})
                .code,
            0);
  for (std::string target : {"/containers/cpc/archive?path=/tmp", "/containers/cpc/archive?path=/nonexistent",
                             "/containers/nope/archive?path=/tmp", "/containers/cpc/archive"}) {
    auto h = hoist_->http("PUT", target, bad);
    auto d = docker_->http("PUT", target, bad);
    EXPECT_EQ(h.status, d.status) << target;
    EXPECT_EQ(trimmed(h.body), trimmed(d.body)) << target;
  }
  // A file as the destination: dockerd 20.10 says 500, newer ones 400 (hoist answers as the newer).
  auto h = hoist_->http("PUT", "/containers/cpc/archive?path=/d/f", bad);
  auto d = docker_->http("PUT", "/containers/cpc/archive?path=/d/f", bad);
  EXPECT_EQ(h.status, 400);
  EXPECT_EQ(trimmed(h.body), trimmed(d.body));
  for (auto* e : {docker_.get(), hoist_.get()}) {
    auto r = e->docker({"start", "-a", "cpc"});  // the container's files once more, running
    auto ls = e->docker({"run", "--rm", "--network", "none", "bb:1", "true"});
    EXPECT_EQ(ls.code, 0) << ls.err;
  }
  EXPECT_FALSE(fs::exists("/escape"));
  // Read-only rootfs: the same refusal.
  for (auto* e : {docker_.get(), hoist_.get()}) ASSERT_EQ(e->docker({"create", "--name", "ro", "--read-only", "bb:1", "true"}).code, 0);
  std::string good = dir + "/good.tar";
  ASSERT_EQ(run_cmd({"tar", "-cf", good, "-C", dir, "dotdot.tar"}).code, 0);
  h = hoist_->http("PUT", "/containers/ro/archive?path=/tmp", good);
  d = docker_->http("PUT", "/containers/ro/archive?path=/tmp", good);
  EXPECT_EQ(h.status, d.status);
  EXPECT_EQ(trimmed(h.body), trimmed(d.body));
}

// The same `cp` steps through docker's CLI on dockerd and through hoist's (and docker's) CLI on
// hoistd give the same trees, modes and owners, running and stopped.
TEST_F(CpCompare, CliStepsGiveTheSameResults) {
  hoist::test::TempDir tmp("hoist-cp");
  std::string src = tmp.path() + "/src";
  fs::create_directories(src + "/sub");
  std::ofstream(src + "/a") << "a\n";
  std::ofstream(src + "/sub/b") << "bb\n";
  fs::create_symlink("a", src + "/link");
  ::chmod((src + "/a").c_str(), 0640);
  ::chown((src + "/sub/b").c_str(), 4321, 765);
  // On hoistd, run1/stop1 get hoist's CLI and run1b/stop1b docker 28's; on dockerd docker 20.10's.
  for (auto* e : {docker_.get(), hoist_.get()}) {
    for (std::string sfx : {"", "b"}) {
      if (sfx == "b" && e == docker_.get()) continue;
      ASSERT_EQ(e->docker({"run", "-d", "--name", "run1" + sfx, "--network", "none", "bb:1", "sleep", "1000"}).code, 0);
      ASSERT_EQ(e->docker({"create", "--name", "stop1" + sfx, "--network", "none", "-u", "nobody", "bb:1", "true"}).code, 0);
    }
  }
  // Each step: the CLI's arguments with C for the container; the listing of /t afterwards.
  std::vector<std::vector<std::string>> steps = {
      {"cp", src, "C:/t"},                 // a dir to a new path: takes its name
      {"cp", src, "C:/t"},                 // ... into an existing dir: lands inside
      {"cp", src + "/.", "C:/t/dot"},      // contents of a dir
      {"cp", src + "/a", "C:/t/file2"},    // a file to a new name
      {"cp", src + "/a", "C:/t/"},         // a file into a dir
      {"cp", "-a", src + "/sub", "C:/t/archived"},
      {"cp", "-L", src + "/link", "C:/t/followed"},
      {"cp", src + "/link", "C:/t/notfollowed"},
  };
  auto listing = [](Engine& e, const std::string& c) {
    auto g = e.http("GET", "/containers/" + c + "/archive?path=/t");
    return tar_list(g.body);
  };
  for (const std::string c : {"run1", "stop1"}) {
    for (auto& step : steps) {
      auto args = step, args28 = step;
      for (auto& a : args)
        if (a.rfind("C:", 0) == 0) a = c + a.substr(1);
      for (auto& a : args28)
        if (a.rfind("C:", 0) == 0) a = c + "b" + a.substr(1);
      auto want = docker_->docker(args);
      auto got = hoist_->hoist(args);
      EXPECT_EQ(got.code, want.code) << args[1] << " " << got.err;
      EXPECT_EQ(trimmed(got.err), trimmed(want.err));
      auto got28 = hoist_->docker(args28, "", kDocker28);
      EXPECT_EQ(got28.code, want.code) << got28.err;
    }
    EXPECT_EQ(listing(*hoist_, c), listing(*docker_, c)) << c;
    EXPECT_EQ(listing(*hoist_, c + "b"), listing(*docker_, c)) << c << " (docker 28's CLI)";
    // Out again: the trees on the host are the same.
    for (const std::string path : {"/t", "/t/.", "/t/file2", "/t/dot/link"}) {
      std::string dout = tmp.path() + "/d-" + c + std::to_string(path.size()), hout = tmp.path() + "/h-" + c + std::to_string(path.size());
      auto want = docker_->docker({"cp", c + ":" + path, dout});
      auto got = hoist_->hoist({"cp", c + ":" + path, hout});
      ASSERT_EQ(got.code, want.code) << got.err;
      auto tree = [](const std::string& p) {
        std::vector<std::string> v;
        if (!fs::is_directory(fs::symlink_status(p))) {
          struct stat st;
          ::lstat(p.c_str(), &st);
          v.push_back(std::to_string(st.st_mode) + " " + std::to_string(st.st_size));
          return v;
        }
        for (auto& f : fs::recursive_directory_iterator(p)) {
          struct stat st;
          ::lstat(f.path().c_str(), &st);
          v.push_back(fs::relative(f.path(), p).string() + " " + std::to_string(st.st_mode) +
                      (S_ISREG(st.st_mode) ? " " + std::to_string(st.st_size) : ""));
        }
        std::sort(v.begin(), v.end());
        return v;
      };
      EXPECT_EQ(tree(hout), tree(dout)) << path;
    }
  }
  // Errors of the CLI: the same words and exit codes.
  for (std::vector<std::string> args : {std::vector<std::string>{"cp", "run1:/nonexistent", tmp.path() + "/x"},
                                        {"cp", tmp.path() + "/nonexistent", "run1:/t"},
                                        {"cp", "nope:/t", tmp.path()},
                                        {"cp", src, tmp.path()},
                                        {"cp", "run1:/t", "run1:/t"},
                                        {"cp", src, "run1:/t/file2/"},
                                        {"cp", src + "/a", "run1:/t/newdir/"}}) {
    auto want = docker_->docker(args);
    auto got = hoist_->hoist(args);
    EXPECT_EQ(got.code, want.code) << args[1] << " " << args[2];
    // docker's CLI may log its tar writer's complaints (logrus lines) before the error: the last line counts.
    std::string werr = trimmed(want.err), gerr = trimmed(got.err);
    if (auto nl = werr.rfind('\n'); nl != std::string::npos) werr = werr.substr(nl + 1);
    for (std::size_t at; (at = werr.find("docker")) != std::string::npos;) werr.replace(at, 6, "hoist");
    EXPECT_EQ(gerr, werr) << args[1] << " " << args[2];
  }
}

class CpHoistd : public hoist::test::DaemonTest {
 protected:
  CpHoistd() : DaemonTest("cp") {}
  CmdResult hoist(const std::vector<std::string>& args, const std::string& input = "") {
    std::vector<std::string> argv{HOIST_CLI_BIN, "-H", d_->host(), "--config", d_->dir() + "/cli-config"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_cmd(argv, input, 120);
  }
  // A canary directory on the host, outside every container.
  void make_canary() {
    canary_ = d_->dir() + "/canary";
    fs::create_directories(canary_);
    std::ofstream(canary_ + "/secret") << "host canary\n";
  }
  void expect_canary_untouched() {
    EXPECT_EQ(slurp(canary_ + "/secret"), "host canary\n");
    std::vector<std::string> in;
    for (auto& e : fs::directory_iterator(canary_)) in.push_back(e.path().filename());
    EXPECT_EQ(in, std::vector<std::string>{"secret"});
    for (const char* p : {"/written-by-cp", "/etc/written-by-cp", "/pwned"})
      EXPECT_FALSE(fs::exists(p)) << p << " appeared on the host";
  }
  std::string canary_;
};

TEST_F(CpHoistd, PlantedSymlinksToRootAndEtcStayInside) {
  make_canary();
  auto r = d_->docker({"run", "-d", "--name", "evil", "--network", "none", "bb:1", "sh", "-c",
                       "ln -s / /x; ln -s /etc /y; ln -s " + canary_ + " /z; ln -s " + canary_ +
                           "/secret /w; sleep 1000"});
  ASSERT_EQ(r.code, 0) << r.err;
  for (int i = 0; i < 50 && d_->docker({"exec", "evil", "test", "-L", "/w"}).code != 0; ++i) usleep(100000);
  std::string f = d_->dir() + "/written-by-cp";
  std::ofstream(f) << "from the host\n";
  EXPECT_EQ(hoist({"cp", f, "evil:/x/"}).code, 0);
  EXPECT_EQ(hoist({"cp", f, "evil:/y/"}).code, 0);
  EXPECT_EQ(d_->docker({"exec", "evil", "cat", "/written-by-cp", "/etc/written-by-cp"}).out,
            "from the host\nfrom the host\n");
  // The host paths the links name mean nothing inside the container.
  // /z -> the canary's host path, which does not exist in the container: docker's CLI rules say
  // "no such directory" (with the "/") or the daemon does not find the link target's parent.
  auto z = hoist({"cp", f, "evil:/z/"});
  EXPECT_EQ(z.code, 1);
  EXPECT_EQ(trimmed(z.err), "no such directory");
  auto z2 = hoist({"cp", f, "evil:/z"});
  EXPECT_EQ(z2.code, 1);
  EXPECT_NE(z2.err.find("Could not find the file"), std::string::npos) << z2.err;
  auto w = hoist({"cp", "evil:/w", "-"});
  EXPECT_EQ(w.out.find("host canary"), std::string::npos);
  auto out = hoist({"cp", "evil:/y/passwd", d_->dir() + "/passwd-out"});
  EXPECT_EQ(out.code, 0) << out.err;
  EXPECT_EQ(slurp(d_->dir() + "/passwd-out").find("root:x:0:0"), 0u);
  // docker's own CLI and docker-py, the same.
  EXPECT_EQ(d_->docker({"cp", f, "evil:/y/"}).code, 0);
  auto py = d_->python(
      "import docker, io, tarfile, os\n"
      "c = docker.APIClient(base_url=os.environ['HOIST_HOST'])\n"
      "b = io.BytesIO(); t = tarfile.open(fileobj=b, mode='w')\n"
      "i = tarfile.TarInfo('pwned'); i.size = 1; t.addfile(i, io.BytesIO(b'x')); t.close()\n"
      "print(c.put_archive('evil', '/x', b.getvalue()), c.put_archive('evil', '/y', b.getvalue()))\n"
      "s, st = c.get_archive('evil', '/y/passwd')\n"
      "print(st['name'], st['linkTarget'] == '')\n");
  EXPECT_EQ(py.out, "True True\npasswd True\n") << py.err;
  EXPECT_EQ(d_->docker({"exec", "evil", "cat", "/pwned", "/etc/pwned"}).out, "xx");
  expect_canary_untouched();
}

// A container swaps /x between a symlink to "/" (or to the host canary's path) and a directory in a
// loop while 1,000 copies run, half in and half out.
TEST_F(CpHoistd, SwappedSymlinkLoopWith1000Copies) {
  make_canary();
  auto r = d_->docker({"run", "-d", "--name", "racer", "--network", "none", "bb:1", "sh", "-c",
                       "while :; do ln -sfn / /x; rm -f /x; mkdir -p /x; ln -sfn " + canary_ +
                           " /x.tmp; rm -rf /x; mv /x.tmp /x; ln -sfn /etc /x2; rm -f /x2; mkdir /x2; rmdir /x2; done"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::string tar = d_->dir() + "/one.tar";
  std::ofstream(d_->dir() + "/written-by-cp") << "race\n";
  ASSERT_EQ(run_cmd({"tar", "-cf", tar, "-C", d_->dir(), "written-by-cp"}).code, 0);
  std::string body = slurp(tar);
  int in_ok = 0, out_ok = 0;
  for (int i = 0; i < 500; ++i) {
    auto p = d_->http("PUT", "/containers/racer/archive?path=/x", body);
    if (p.status == 200) ++in_ok;
    auto g = d_->http("GET", "/containers/racer/archive?path=/x/");
    if (g.status == 200) ++out_ok;
    EXPECT_EQ(g.body.find("host canary"), std::string::npos);
    auto g2 = d_->http("GET", "/containers/racer/archive?path=/x2/");
    EXPECT_EQ(g2.body.find("host canary"), std::string::npos);
  }
  EXPECT_GT(in_ok + out_ok, 0);  // some went through (others met a path that was just being swapped)
  EXPECT_EQ(d_->docker({"kill", "racer"}).code, 0);
  expect_canary_untouched();
  EXPECT_TRUE(d_->running());
}

// Into a bind mount (the mount's source on the host gets the file), a read-only bind refuses, and
// a stopped container's binds are reached the same way. The volumes branch adds named volumes
// here: the same steps with `-v NAME:/mnt`.
TEST_F(CpHoistd, BindMountsAndStoppedContainers) {
  std::string host = d_->dir() + "/bindsrc", ro = d_->dir() + "/rosrc";
  fs::create_directories(host);
  fs::create_directories(ro);
  std::ofstream(d_->dir() + "/f") << "file\n";
  ASSERT_EQ(d_->docker({"create", "--name", "bm", "-v", host + ":/mnt", "-v", ro + ":/ro:ro", "bb:1", "true"}).code, 0);
  EXPECT_EQ(hoist({"cp", d_->dir() + "/f", "bm:/mnt/in-bind"}).code, 0);
  EXPECT_EQ(slurp(host + "/in-bind"), "file\n");
  auto r = hoist({"cp", d_->dir() + "/f", "bm:/ro/x"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(trimmed(r.err), "Error response from daemon: mounted volume is marked read-only");
  EXPECT_FALSE(fs::exists(ro + "/x"));
  auto out = hoist({"cp", "bm:/mnt/in-bind", d_->dir() + "/back"});
  EXPECT_EQ(out.code, 0) << out.err;
  EXPECT_EQ(slurp(d_->dir() + "/back"), "file\n");
  // The stopped container's rootfs was mounted for each request only.
  auto mounts = slurp("/proc/self/mountinfo");
  EXPECT_EQ(mounts.find(d_->data_root() + "/containers/"), std::string::npos);
  // Started, it sees what was copied in while it was stopped.
  ASSERT_EQ(hoist({"cp", d_->dir() + "/f", "bm:/etc/copied"}).code, 0);
  auto run = d_->docker({"start", "-a", "bm"});
  EXPECT_EQ(run.code, 0);
  auto seen = hoist({"cp", "bm:/etc/copied", "-"});
  EXPECT_NE(seen.out.find("file\n"), std::string::npos);
}

// Owners: kept from the tar without -a; with -a and a container user, that user's (from the
// container's /etc/passwd).
TEST_F(CpHoistd, OwnersWithAndWithoutArchive) {
  std::string f = d_->dir() + "/owned";
  std::ofstream(f) << "x";
  ::chown(f.c_str(), 1234, 2345);
  ASSERT_EQ(d_->docker({"run", "-d", "--name", "uu", "-u", "nobody", "--network", "none", "bb:1", "sleep", "1000"}).code, 0);
  ASSERT_EQ(hoist({"cp", f, "uu:/tmp/plain"}).code, 0);
  ASSERT_EQ(hoist({"cp", "-a", f, "uu:/tmp/archived"}).code, 0);
  auto st = d_->docker({"exec", "uu", "stat", "-c", "%u:%g", "/tmp/plain", "/tmp/archived"});
  auto passwd = d_->docker({"exec", "uu", "grep", "^nobody:", "/etc/passwd"});
  std::string uid = "65534:65534";
  if (!passwd.out.empty()) {
    std::istringstream in(passwd.out);
    std::string name, x, u, g;
    std::getline(in, name, ':');
    std::getline(in, x, ':');
    std::getline(in, u, ':');
    std::getline(in, g, ':');
    uid = u + ":" + g;
  }
  EXPECT_EQ(st.out, "1234:2345\n" + uid + "\n") << st.err;
}

}  // namespace
