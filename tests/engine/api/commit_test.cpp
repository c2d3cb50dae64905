// A container's file system through hoistd: commit (then running the new image), diff and export,
// through the docker CLI, docker-py, hoist's own CLI and raw HTTP; diff and export compared with
// a private dockerd doing the same busybox steps. Each test has its own hoistd (and dockerd), so
// nothing is shared; containers, mounts and cgroups go in TearDown, also when a test fails.
#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "common/strings.h"
#include "docker_harness.h"
#include "hoistd_harness.h"
#include "tar_listing.h"

using hoist::trim;
using hoist::test::CmdResult;
using hoist::test::run_cmd;
using nlohmann::json;

namespace {

using hoist::test::tar_listing;

std::vector<std::string> sorted_lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);)
    if (!l.empty()) out.push_back(l);
  std::sort(out.begin(), out.end());
  return out;
}

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (auto& l : v) s += l + "\n";
  return s;
}

// The time now as docker's --since/--until take it, to the nanosecond.
std::string now() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%lld.%09ld", static_cast<long long>(ts.tv_sec), ts.tv_nsec);
  return buf;
}

// Every mount below `dir` in this process's namespace.
std::vector<std::string> mounts_below(const std::string& dir) {
  std::vector<std::string> out;
  std::ifstream mi("/proc/self/mountinfo");
  for (std::string line; std::getline(mi, line);) {
    std::istringstream ss(line);
    std::string a, b, c, d, mp;
    ss >> a >> b >> c >> d >> mp;
    if (mp.rfind(dir, 0) == 0) out.push_back(mp);
  }
  return out;
}

// The busybox steps every comparison runs: a bit of every kind of change. The chowns come before
// the append to /etc/passwd (busybox's chown reads the file).
const char* kSteps =
    "touch /owned; chown 12:34 /owned; echo hi > /etc/new; echo x >> /etc/passwd; rm /etc/group; mkdir -p /a/b/c;"
    " echo z > /a/b/c/f; chown 5:6 /a/b; rm -rf /usr/sbin; mkdir /usr/sbin; touch /usr/sbin/only;"
    " ln -s /etc/passwd /sl; ln /etc/new /etc/new2; chmod 4755 /etc/new; mkfifo /ff; rm -rf /root;"
    " mkdir -p /var/lib/x; chmod 700 /tmp";

class CommitTest : public hoist::test::DaemonTest {
 protected:
  CommitTest() : DaemonTest("commit") {}

  CmdResult hoist(const std::vector<std::string>& args, const std::string& input = "") {
    std::vector<std::string> argv{HOIST_CLI_BIN, "-H", d_->host()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_cmd(argv, input, 120);
  }
  json inspect(const std::string& what) {
    auto r = d_->docker({"inspect", what});
    EXPECT_EQ(r.code, 0) << r.err;
    return json::parse(r.out)[0];
  }
  std::string container_dir(const std::string& name) {
    return d_->data_root() + "/containers/" + std::string(trim(d_->docker({"inspect", "-f", "{{.Id}}", name}).out));
  }
};

}  // namespace

TEST_F(CommitTest, CommittedImageHasTheChangesAndRuns) {
  auto r = d_->docker({"run", "--name", "src", "bb:1", "sh", "-c", kSteps});
  ASSERT_EQ(r.code, 0) << r.err;
  // An xattr, set from outside (busybox has no setfattr): it must go into the layer.
  std::string upper = container_dir("src") + "/upper";
  ASSERT_EQ(::setxattr((upper + "/etc/new").c_str(), "user.note", "kept", 4, 0), 0);

  r = d_->docker({"commit", "-m", "the message", "-a", "Someone <s@x>", "src", "snap:1"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::string id(trim(r.out));
  EXPECT_EQ(id.rfind("sha256:", 0), 0u) << id;
  EXPECT_EQ(std::string(trim(d_->docker({"images", "-q", "--no-trunc", "snap:1"}).out)), id);

  // The new image runs, with the changes: added and changed files, deletions (files, a whole
  // directory, the old contents of a directory made again), owners, modes, links.
  r = d_->docker({"run", "--rm", "snap:1", "sh", "-c",
                  "cat /etc/new; tail -1 /etc/passwd; ls /etc/group /root 2>&1 | wc -l; ls /usr/sbin; cat /a/b/c/f;"
                  " stat -c '%u:%g %a' /a/b /owned /tmp; stat -c %a /etc/new; readlink /sl;"
                  " stat -c %h /etc/new; [ /etc/new -ef /etc/new2 ] && echo same-inode; [ -p /ff ] && echo fifo;"
                  " [ -d /var/lib/x ] && echo dir"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "hi\nx\n2\nonly\nz\n5:6 755\n12:34 644\n0:0 700\n4755\n/etc/passwd\n2\nsame-inode\nfifo\ndir\n");
  r = d_->docker({"run", "--rm", "snap:1", "ls", "/etc/group"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out + r.err, "");  // "No such file or directory"

  // The xattr, seen in an export of a container of the new image.
  r = d_->docker({"create", "--name", "fromsnap", "snap:1"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto h = d_->http("GET", "/v1.43/containers/fromsnap/export");
  ASSERT_EQ(h.status, 200);
  std::map<std::string, std::string> xattrs;
  tar_listing(h.body, &xattrs);
  EXPECT_EQ(xattrs["etc/new user.note"], "kept");

  // Image metadata: one layer more than the parent, history with author and comment, the
  // container and its config.
  json img = inspect("snap:1"), base = inspect("bb:1");
  EXPECT_EQ(img["RootFS"]["Layers"].size(), base["RootFS"]["Layers"].size() + 1);
  EXPECT_EQ(img["RootFS"]["Layers"][0], base["RootFS"]["Layers"][0]);
  EXPECT_EQ(img["Author"], "Someone <s@x>");
  EXPECT_EQ(img["Comment"], "the message");
  EXPECT_EQ(img["Container"], inspect("src")["Id"]);
  EXPECT_EQ(img["Parent"], base["Id"]);
  EXPECT_EQ(img["Config"]["Cmd"], json::array({"sh", "-c", kSteps}));
  auto hist = d_->http("GET", "/v1.43/images/snap:1/history");
  json hj = json::parse(hist.body);
  ASSERT_EQ(hj.size(), 2u);
  EXPECT_EQ(hj[0]["Comment"], "the message");
  EXPECT_EQ(hj[0]["CreatedBy"], std::string("sh -c ") + kSteps);
}

TEST_F(CommitTest, ChangesSetTheNewImagesConfig) {
  auto r = d_->docker({"run", "--name", "cc", "-e", "KEEP=1", "-w", "/tmp", "bb:1", "true"});
  ASSERT_EQ(r.code, 0) << r.err;
  r = d_->docker({"commit", "-c", "CMD [\"echo\", \"from cmd\"]", "-c", "ENV A=1 B=two", "-c", "WORKDIR /etc",
                       "-c", "EXPOSE 8080/tcp", "-c", "LABEL k=v", "-c", "USER 1:2", "cc",
                       "changed:1"});
  ASSERT_EQ(r.code, 0) << r.err;
  json cfg = inspect("changed:1")["Config"];
  EXPECT_EQ(cfg["Cmd"], json::array({"echo", "from cmd"}));
  auto env = cfg["Env"].get<std::vector<std::string>>();
  EXPECT_NE(std::find(env.begin(), env.end(), "A=1"), env.end());
  EXPECT_NE(std::find(env.begin(), env.end(), "B=two"), env.end());
  EXPECT_NE(std::find(env.begin(), env.end(), "KEEP=1"), env.end());  // the container's own, merged in
  EXPECT_EQ(cfg["WorkingDir"], "/etc");
  EXPECT_TRUE(cfg["ExposedPorts"].contains("8080/tcp"));
  EXPECT_EQ(cfg["Labels"]["k"], "v");
  EXPECT_EQ(cfg["User"], "1:2");
  r = d_->docker({"run", "--rm", "-u", "0", "changed:1"});
  EXPECT_EQ(r.out, "from cmd\n") << r.err;
  r = d_->docker({"run", "--rm", "-u", "0", "changed:1", "sh", "-c", "pwd; echo $A $B $KEEP"});
  EXPECT_EQ(r.out, "/etc\n1 two 1\n") << r.err;

  // Nothing changed in the container: no new layer (dockerd's empty layer), the history says so.
  json img = inspect("changed:1"), base = inspect("bb:1");
  EXPECT_EQ(img["RootFS"]["Layers"], base["RootFS"]["Layers"]);
  auto hist = json::parse(d_->http("GET", "/v1.43/images/changed:1/history").body);
  EXPECT_EQ(hist[0]["Size"], 0);

  // A bad instruction: dockerd's 400, and no image.
  auto before = d_->docker({"images", "-aq"}).out;
  r = d_->docker({"commit", "-c", "RUN echo", "cc", "bad:1"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("run is not a valid change command"), std::string::npos) << r.err;
  EXPECT_EQ(d_->docker({"images", "-aq"}).out, before);
}

TEST_F(CommitTest, RunningContainerIsPausedDuringTheCommitAndRunsAfter) {
  ASSERT_EQ(d_->docker({"run", "-d", "--name", "live", "bb:1", "sh", "-c", "echo data > /f; sleep 1000"}).code, 0);
  for (int i = 0; i < 50 && d_->docker({"exec", "live", "cat", "/f"}).out != "data\n"; ++i) usleep(100000);
  std::string t0 = now(), t1;
  auto r = d_->docker({"commit", "live", "live:1"});
  ASSERT_EQ(r.code, 0) << r.err;
  t1 = now();
  auto ev = d_->docker({"events", "--since", t0, "--until", t1, "--filter", "container=live", "--format",
                        "{{.Action}} {{index .Actor.Attributes \"imageRef\"}}"});
  // pause, then the commit event (naming the image), then unpause: the commit happened while paused.
  EXPECT_EQ(ev.out, "pause \ncommit live:1\nunpause \n") << ev.err;
  EXPECT_EQ(std::string(trim(d_->docker({"inspect", "-f", "{{.State.Status}}", "live"}).out)), "running");
  r = d_->docker({"run", "--rm", "live:1", "cat", "/f"});
  EXPECT_EQ(r.out, "data\n") << r.err;

  // --pause=false: no pause.
  t0 = now();
  ASSERT_EQ(d_->docker({"commit", "--pause=false", "live", "live:2"}).code, 0);
  t1 = now();
  ev = d_->docker({"events", "--since", t0, "--until", t1, "--filter", "container=live", "--format", "{{.Action}}"});
  EXPECT_EQ(ev.out, "commit\n");

  // A container paused by the user stays paused.
  ASSERT_EQ(d_->docker({"pause", "live"}).code, 0);
  ASSERT_EQ(d_->docker({"commit", "live", "live:3"}).code, 0);
  EXPECT_EQ(std::string(trim(d_->docker({"inspect", "-f", "{{.State.Status}}", "live"}).out)), "paused");
  ASSERT_EQ(d_->docker({"unpause", "live"}).code, 0);
}

TEST_F(CommitTest, CommitIntoATagMovesIt) {
  ASSERT_EQ(d_->docker({"run", "--name", "one", "bb:1", "touch", "/one"}).code, 0);
  ASSERT_EQ(d_->docker({"run", "--name", "two", "bb:1", "touch", "/two"}).code, 0);
  std::string first(trim(d_->docker({"commit", "one", "moving:latest"}).out));
  std::string second(trim(d_->docker({"commit", "two", "moving"}).out));
  ASSERT_NE(first, second);
  EXPECT_EQ(inspect("moving:latest")["Id"], second);
  EXPECT_EQ(inspect(first)["RepoTags"], json::array());  // the old one is dangling
  EXPECT_EQ(d_->docker({"run", "--rm", "moving", "ls", "/two"}).code, 0);
}

TEST_F(CommitTest, ErrorsAreDockerdsAndChangeNothing) {
  ASSERT_EQ(d_->docker({"create", "--name", "cc", "bb:1", "true"}).code, 0);
  auto images = d_->docker({"images", "-aq"}).out;
  // No Content-Type at all (libcurl would send a form's).
  const std::vector<std::string> kNoType = {"Content-Type:"};
  auto h = d_->http("POST", "/v1.43/commit?container=nope", "", kNoType);
  EXPECT_EQ(h.status, 404);
  EXPECT_EQ(json::parse(h.body)["message"], "No such container: nope");
  h = d_->http("POST", "/v1.43/commit?container=cc&repo=BAD_Name", "", kNoType);
  EXPECT_EQ(h.status, 400);
  // dockerd's words (hoist's reference parser names the input after them).
  EXPECT_EQ(json::parse(h.body)["message"].get<std::string>().rfind(
                "invalid reference format: repository name must be lowercase", 0),
            0u)
      << h.body;
  h = d_->http("POST", "/v1.43/commit?container=cc&changes=FROM%20x", "", kNoType);
  EXPECT_EQ(h.status, 400);
  EXPECT_EQ(json::parse(h.body)["message"], "from is not a valid change command");
  h = d_->http("POST", "/v1.43/commit?container=cc", "hello", {"Content-Type: text/plain"});
  EXPECT_EQ(h.status, 400);
  EXPECT_EQ(json::parse(h.body)["message"], "Content-Type specified (text/plain) must be 'application/json'");
  h = d_->http("POST", "/v1.43/commit", "", kNoType);
  EXPECT_EQ(h.status, 400);
  EXPECT_EQ(json::parse(h.body)["message"], "invalid name or ID supplied: \"\"");
  EXPECT_EQ(d_->docker({"images", "-aq"}).out, images);
  for (const char* path : {"/v1.43/containers/nope/changes", "/v1.43/containers/nope/export"}) {
    h = d_->http("GET", path);
    EXPECT_EQ(h.status, 404) << path;
    EXPECT_EQ(json::parse(h.body)["message"], "No such container: nope") << path;
  }
  // A config in the body (as docker-py sends one) is merged with the container's.
  h = d_->http("POST", "/v1.43/commit?container=cc&repo=withbody", R"({"Cmd":["echo","body"]})",
               {"Content-Type: application/json"});
  ASSERT_EQ(h.status, 201) << h.body;
  std::string id = json::parse(h.body)["Id"];
  EXPECT_EQ(inspect("withbody")["Id"], id);
  EXPECT_EQ(d_->docker({"run", "--rm", "withbody"}).out, "body\n");
  // docker 20.10's CLI sends a body of `null` when there is no config: as no config at all.
  h = d_->http("POST", "/v1.41/commit?container=cc&repo=nullbody", "null", {"Content-Type: application/json"});
  ASSERT_EQ(h.status, 201) << h.body;
  EXPECT_EQ(inspect("nullbody")["Id"], json::parse(h.body)["Id"]);
}

TEST_F(CommitTest, DiffAndExportThroughTheClients) {
  // A container that was never started has no changes: null, and an empty `diff`.
  ASSERT_EQ(d_->docker({"create", "--name", "fresh", "bb:1", "true"}).code, 0);
  auto h = d_->http("GET", "/v1.43/containers/fresh/changes");
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(std::string(trim(h.body)), "null");
  EXPECT_EQ(hoist({"diff", "fresh"}).out, "");

  ASSERT_EQ(d_->docker({"run", "--name", "ch", "bb:1", "sh", "-c", "echo x > /etc/x; rm /etc/group; mkdir /n"}).code, 0);
  auto r = hoist({"diff", "ch"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "C /etc\nD /etc/group\nA /etc/x\nA /n\n");
  EXPECT_EQ(d_->docker({"diff", "ch"}).out, r.out);
  h = d_->http("GET", "/v1.43/containers/ch/changes");
  EXPECT_EQ(json::parse(h.body), json::parse(R"([{"Path":"/etc","Kind":0},{"Path":"/etc/group","Kind":2},)"
                                             R"({"Path":"/etc/x","Kind":1},{"Path":"/n","Kind":1}])"));

  // export -o: the whole file system, including what the image had; a stopped container's
  // file system is mounted for the read only (nothing left mounted after).
  std::string out = d_->dir() + "/ch.tar";
  r = hoist({"export", "-o", out, "ch"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::ifstream f(out, std::ios::binary);
  std::string tar((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  auto listing = joined(tar_listing(tar));
  EXPECT_NE(listing.find("etc/x - 644 0:0 2\n"), std::string::npos);
  EXPECT_NE(listing.find("bin/busybox - 755 0:0"), std::string::npos);
  EXPECT_NE(listing.find(".dockerenv - 755 0:0 0\n"), std::string::npos);
  EXPECT_EQ(listing.find("etc/group "), std::string::npos);
  EXPECT_TRUE(mounts_below(d_->data_root()).empty()) << joined(mounts_below(d_->data_root()));
  // Not to a terminal.
  r = run_cmd({"script", "-qec", std::string(HOIST_CLI_BIN) + " -H " + d_->host() + " export ch", "/dev/null"});
  EXPECT_NE(r.out.find("cowardly refusing to save to a terminal. Use the -o flag or redirect"), std::string::npos)
      << r.out;

  // hoist commit with its flags.
  r = hoist({"commit", "-m", "msg", "-a", "me", "-c", "ENV X=1", "-p", "ch", "hoisted:2"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(std::string(trim(r.out)), inspect("hoisted:2")["Id"]);
  EXPECT_EQ(d_->docker({"run", "--rm", "hoisted:2", "sh", "-c", "cat /etc/x; echo $X"}).out, "x\n1\n");
  r = hoist({"commit", "nope"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "Error response from daemon: No such container: nope\n");

  // docker-py: diff, export, commit.
  auto py = d_->python(R"(
import docker, os, tarfile, io
c = docker.DockerClient(base_url=os.environ["HOIST_HOST"]).containers.get("ch")
print(sorted((d["Path"], d["Kind"]) for d in c.diff()))
data = b"".join(c.export())
names = tarfile.open(fileobj=io.BytesIO(data)).getnames()
print("etc/x" in names, "etc/group" in names)
img = c.commit(repository="pyimg", tag="1", message="from py", changes=["CMD cat /etc/x"])
print(img.tags)
print(docker.DockerClient(base_url=os.environ["HOIST_HOST"]).containers.run("pyimg:1", remove=True).decode(), end="")
)");
  EXPECT_EQ(py.code, 0) << py.err;
  EXPECT_EQ(py.out, "[('/etc', 0), ('/etc/group', 2), ('/etc/x', 1), ('/n', 1)]\nTrue False\n['pyimg:1']\nx\n");
}

TEST_F(CommitTest, ExportOfARunningContainerLeavesOutItsMounts) {
  std::string host_dir = d_->dir() + "/hostdir";
  ASSERT_EQ(::mkdir(host_dir.c_str(), 0755), 0);
  std::ofstream(host_dir + "/secret") << "not in the export\n";
  ASSERT_EQ(d_->docker({"run", "-d", "--name", "mm", "-v", host_dir + ":/mnt/bound", "--tmpfs", "/scratch", "bb:1", "sh",
                        "-c", "echo t > /scratch/t; echo r > /root/r; sleep 1000"})
                .code,
            0);
  for (int i = 0; i < 50 && d_->docker({"exec", "mm", "cat", "/root/r"}).out != "r\n"; ++i) usleep(100000);
  auto h = d_->http("GET", "/v1.43/containers/mm/export");
  ASSERT_EQ(h.status, 200);
  auto listing = joined(tar_listing(h.body));
  EXPECT_NE(listing.find("mnt/bound d 755"), std::string::npos) << "the mount point is there";
  EXPECT_EQ(listing.find("mnt/bound/secret"), std::string::npos);
  EXPECT_NE(listing.find("scratch d"), std::string::npos);
  EXPECT_EQ(listing.find("scratch/t"), std::string::npos);
  EXPECT_NE(listing.find("root/r - 644 0:0 2"), std::string::npos);
  EXPECT_EQ(std::string(trim(d_->docker({"inspect", "-f", "{{.State.Status}}", "mm"}).out)), "running");
  auto diff = d_->docker({"diff", "mm"}).out;
  EXPECT_EQ(diff, "A /mnt\nA /mnt/bound\nC /root\nA /root/r\nA /scratch\n");
}

// The same steps in a private dockerd and in hoistd: the same change list (as a set: dockerd's
// order is random) and the same export entries (names, types, modes, owners, links, sizes).
TEST_F(CommitTest, DiffAndExportMatchDockerd) {
  if (!hoist::test::PrivateDockerd::available()) GTEST_SKIP() << "dockerd is not installed";
  hoist::test::PrivateDockerd dockerd;
  ASSERT_EQ(dockerd.docker({"import", hoist::test::fixtures_dir() + "/busybox-rootfs.tar", "bb:1"}).code, 0);
  struct Side {
    std::string diff_created, diff, export_created, export_ran, export_running;
  };
  auto run = [&](auto&& docker) {
    Side s;
    EXPECT_EQ(docker({"create", "--name", "fresh", "--network", "none", "bb:1", "true"}).code, 0);
    s.diff_created = docker({"diff", "fresh"}).out;
    s.export_created = joined(tar_listing(docker({"export", "fresh"}).out));
    auto r = docker({"run", "--name", "ran", "--network", "none", "bb:1", "sh", "-c", kSteps});
    EXPECT_EQ(r.code, 0) << r.err;
    s.diff = joined(sorted_lines(docker({"diff", "ran"}).out));
    s.export_ran = joined(tar_listing(docker({"export", "ran"}).out));
    r = docker({"run", "-d", "--name", "running", "--network", "none", "bb:1", "sh", "-c",
                std::string(kSteps) + "; touch /done; sleep 1000"});
    EXPECT_EQ(r.code, 0) << r.err;
    for (int i = 0; i < 100 && docker({"exec", "running", "ls", "/done"}).code != 0; ++i) usleep(100000);
    s.export_running = joined(tar_listing(docker({"export", "running"}).out));
    docker({"rm", "-f", "fresh", "ran", "running"});
    return s;
  };
  Side want = run([&](const std::vector<std::string>& a) { return dockerd.docker(a); });
  Side got = run([&](const std::vector<std::string>& a) { return d_->docker(a); });
  EXPECT_EQ(got.diff_created, want.diff_created);
  EXPECT_EQ(got.diff, want.diff);
  EXPECT_EQ(got.export_created, want.export_created);
  EXPECT_EQ(got.export_ran, want.export_ran);
  EXPECT_EQ(got.export_running, want.export_running);
  EXPECT_NE(got.diff.find("D /usr/sbin/httpd\n"), std::string::npos) << got.diff;
}
