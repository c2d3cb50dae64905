// Volumes against a private hoistd, through the docker CLI, docker-py and raw HTTP: named volumes
// that outlive their containers, copy-up from the image, read-only and tmpfs mounts, the in-use
// refusal, prune per API version, rm -v and --rm, kill -9 of hoistd, volume subpaths and
// bind-backed volumes, events, and bad input answered as dockerd answers it with nothing left.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "common/file.h"
#include "common/strings.h"
#include "hoistd_harness.h"

using hoist::trim;
using hoist::test::CmdResult;
using hoist::test::HttpResult;
using nlohmann::json;

namespace {

std::string out_of(const CmdResult& r) { return std::string(trim(r.out)); }

std::string url_encode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string o;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') o += static_cast<char>(c);
    else o += std::string("%") + hex[c >> 4] + hex[c & 15];
  }
  return o;
}

class VolumesTest : public hoist::test::DaemonTest {
 protected:
  VolumesTest() : DaemonTest("volumes") {}

  CmdResult docker(const std::vector<std::string>& args, const std::string& input = "") {
    return d_->docker(args, input);
  }
  // A docker command that must succeed: its stderr in the failure.
  CmdResult ok(const std::vector<std::string>& args) {
    auto r = d_->docker(args);
    EXPECT_EQ(r.code, 0) << hoist::join(args, " ") << ": " << r.err;
    return r;
  }
  HttpResult post(const std::string& path, const std::string& body = "") {
    return d_->http("POST", path, body, {"Content-Type: application/json"});
  }
  json get(const std::string& path) {
    auto r = d_->http("GET", path);
    EXPECT_EQ(r.status, 200) << path << ": " << r.body;
    return r.status == 200 ? json::parse(r.body) : json();
  }
  std::set<std::string> volume_names() {
    std::set<std::string> s;
    auto l = get("/v1.43/volumes");
    if (l.contains("Volumes"))
      for (auto& v : l["Volumes"]) s.insert(v["Name"].get<std::string>());
    return s;
  }
  int containers() { return static_cast<int>(get("/v1.43/containers/json?all=1").size()); }
  std::string volume_dir(const std::string& name) { return d_->data_root() + "/volumes/" + name + "/_data"; }
  bool mounted(const std::string& path) {
    std::ifstream mi("/proc/self/mountinfo");
    for (std::string line; std::getline(mi, line);) {
      std::istringstream ss(line);
      std::string a, b, c, d, mp;
      ss >> a >> b >> c >> d >> mp;
      if (mp == path) return true;
    }
    return false;
  }
  // An image "vimg:1": busybox plus /data (1000:1001 0750) with f (0640), sub/ (2000:2000 0700)
  // holding g (0604), a symlink ln -> /etc/passwd; /escape -> /etc; VOLUME /data.
  void make_volume_image() {
    auto tar = d_->dir() + "/vimg.tar";
    auto r = hoist::test::run_cmd({"python3", "-c", R"PY(
import io, sys, tarfile
src, dst = sys.argv[1], sys.argv[2]
out = tarfile.open(dst, 'w')
with tarfile.open(src) as t:
    for m in t.getmembers():
        out.addfile(m, t.extractfile(m) if m.isfile() else None)
def add(name, typ, mode, uid=0, gid=0, data=b'', link=''):
    ti = tarfile.TarInfo(name); ti.type = typ; ti.mode = mode; ti.uid = uid; ti.gid = gid
    ti.size = len(data) if typ == tarfile.REGTYPE else 0; ti.linkname = link; ti.mtime = 1700000000
    out.addfile(ti, io.BytesIO(data) if typ == tarfile.REGTYPE else None)
add('data', tarfile.DIRTYPE, 0o750, 1000, 1001)
add('data/f', tarfile.REGTYPE, 0o640, 1000, 1001, b'from image\n')
add('data/sub', tarfile.DIRTYPE, 0o700, 2000, 2000)
add('data/sub/g', tarfile.REGTYPE, 0o604, 2000, 2000, b'g\n')
add('data/ln', tarfile.SYMTYPE, 0o777, link='/etc/passwd')
add('escape', tarfile.SYMTYPE, 0o777, link='/etc')
out.close()
)PY",
                                   hoist::test::fixtures_dir() + "/busybox-rootfs.tar", tar});
    ASSERT_EQ(r.code, 0) << r.err;
    r = docker({"import", "--change", "VOLUME /data", tar, "vimg:1"});
    ASSERT_EQ(r.code, 0) << r.err;
  }
};

}  // namespace

TEST_F(VolumesTest, NamedVolumeOutlivesItsContainersAndReadOnlyRefusesWrites) {
  auto w = docker({"run", "--name", "writer", "-v", "data:/var/lib/app", "bb:1", "sh", "-c",
                   "echo kept > /var/lib/app/f"});
  ASSERT_EQ(w.code, 0) << w.err;
  ok({"rm", "writer"});
  auto r = docker({"run", "--rm", "-v", "data:/d:ro", "bb:1", "cat", "/d/f"});
  EXPECT_EQ(r.out, "kept\n") << r.err;
  auto ro = docker({"run", "--rm", "-v", "data:/d:ro", "bb:1", "sh", "-c", "echo x > /d/g"});
  EXPECT_NE(ro.code, 0);
  EXPECT_NE(ro.err.find("Read-only file system"), std::string::npos) << ro.err;
  auto ro2 = docker({"run", "--rm", "--mount", "type=volume,src=data,dst=/d,readonly", "bb:1", "touch", "/d/g"});
  EXPECT_NE(ro2.code, 0);
  EXPECT_FALSE(hoist::path_exists(volume_dir("data") + "/g"));
  // Inspect's Mounts as dockerd shows a volume.
  ASSERT_EQ(ok({"create", "--name", "mm", "-v", "data:/d:ro", "--mount", "type=volume,dst=/anon", "bb:1", "true"}).code, 0);
  auto mounts = get("/v1.43/containers/mm/json")["Mounts"];
  ASSERT_EQ(mounts.size(), 2u) << mounts.dump();
  std::string anon = mounts[0]["Name"];
  EXPECT_EQ(anon.size(), 64u);
  EXPECT_EQ(mounts[0], (json{{"Type", "volume"}, {"Name", anon}, {"Source", volume_dir(anon)}, {"Destination", "/anon"},
                            {"Driver", "local"}, {"Mode", "z"}, {"RW", true}, {"Propagation", ""}}));
  EXPECT_EQ(mounts[1], (json{{"Type", "volume"}, {"Name", "data"}, {"Source", volume_dir("data")}, {"Destination", "/d"},
                            {"Driver", "local"}, {"Mode", "ro"}, {"RW", false}, {"Propagation", ""}}));
  for (auto& c : get("/v1.43/containers/json?all=1")) {  // ps shows the same
    if (c["Names"][0] == "/mm") {
      EXPECT_EQ(c["Mounts"], mounts);
    }
  }
  // The volume API's view of it (anonymous ones labelled as dockerd 23+ does).
  auto v = get("/v1.43/volumes/data");
  EXPECT_EQ(v["Mountpoint"], volume_dir("data"));
  EXPECT_EQ(v["Driver"], "local");
  EXPECT_EQ(v["Scope"], "local");
  EXPECT_TRUE(v["Labels"].is_null());
  EXPECT_TRUE(v["Options"].is_null());
  EXPECT_EQ(get("/v1.43/volumes/" + anon)["Labels"], (json{{"com.docker.volume.anonymous", ""}}));
}

TEST_F(VolumesTest, CopyUpFromTheImageKeepsOwnersAndModesOnlyIntoAnEmptyVolume) {
  make_volume_image();
  ASSERT_EQ(ok({"run", "--name", "c1", "-v", "cu:/data", "vimg:1", "true"}).code, 0);
  auto dir = volume_dir("cu");
  struct stat st {};
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750u);  // the directory's own owner and mode, as dockerd
  EXPECT_EQ(st.st_uid, 1000u);
  EXPECT_EQ(st.st_gid, 1001u);
  ASSERT_EQ(::stat((dir + "/f").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_EQ(st.st_uid, 1000u);
  ASSERT_EQ(::stat((dir + "/sub/g").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0604u);
  EXPECT_EQ(st.st_uid, 2000u);
  ASSERT_EQ(::lstat((dir + "/ln").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  EXPECT_EQ(hoist::read_file(dir + "/f"), "from image\n");
  // Not empty any more: a change made in the volume stays, the image's files are not copied again.
  ASSERT_EQ(ok({"run", "--rm", "-v", "cu:/data", "vimg:1", "sh", "-c", "rm /data/f; echo mine > /data/m"}).code, 0);
  auto again = docker({"run", "--rm", "-v", "cu:/data", "vimg:1", "ls", "/data"});
  EXPECT_EQ(again.out, "ln\nm\nsub\n") << again.err;
  // nocopy: the volume stays empty; the image's VOLUME alone gets an anonymous volume with the files.
  auto nc = docker({"run", "--rm", "-v", "nc:/data:nocopy", "vimg:1", "ls", "-A", "/data"});
  EXPECT_EQ(nc.out, "") << nc.err;
  auto anon = docker({"run", "--rm", "vimg:1", "cat", "/data/f"});
  EXPECT_EQ(anon.out, "from image\n") << anon.err;
  // A destination that is a symlink in the image is resolved inside the container: its /etc, not the host's.
  ASSERT_EQ(ok({"run", "--rm", "-v", "esc:/escape", "vimg:1", "true"}).code, 0);
  EXPECT_TRUE(hoist::path_exists(volume_dir("esc") + "/passwd"));
  EXPECT_FALSE(hoist::path_exists(volume_dir("esc") + "/os-release"));  // the host's /etc has one
  EXPECT_EQ(hoist::read_file(volume_dir("esc") + "/passwd"),
            out_of(docker({"run", "--rm", "bb:1", "cat", "/etc/passwd"})) + "\n");
  // Config.Volumes of the image shows in the container's Config, as dockerd merges it.
  EXPECT_EQ(get("/v1.43/containers/c1/json")["Config"]["Volumes"], (json{{"/data", json::object()}}));
}

TEST_F(VolumesTest, TmpfsAndTmpfsBackedVolumesAreEmptyAtEachStart) {
  ASSERT_EQ(ok({"volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=2m", "tv"}).code, 0);
  auto types = docker({"run", "--rm", "--tmpfs", "/scratch", "-v", "tv:/tv", "bb:1", "sh", "-c",
                       "grep -E ' /(tv|scratch) ' /proc/mounts | cut -d' ' -f3"});
  EXPECT_EQ(types.out, "tmpfs\ntmpfs\n") << types.err;
  // Each start finds both empty (the exit status counts what it found), and leaves a file in each.
  ASSERT_EQ(ok({"create", "--name", "tt", "--tmpfs", "/scratch", "-v", "tv:/tv", "bb:1", "sh", "-c",
                "n=$(ls -A /scratch /tv | grep -c -v -e : -e '^$'); touch /scratch/x /tv/y; exit $n"})
                .code,
            0);
  for (int i = 0; i < 2; ++i) {
    ok({"start", "tt"});
    EXPECT_EQ(docker({"wait", "tt"}).out, "0\n") << "start " << i;
  }
  // The device is mounted only while a container uses it.
  EXPECT_FALSE(mounted(volume_dir("tv")));
  auto d = docker({"run", "-d", "-v", "tv:/tv", "bb:1", "sleep", "300"});
  ASSERT_EQ(d.code, 0) << d.err;
  EXPECT_TRUE(mounted(volume_dir("tv")));
  ok({"rm", "-f", out_of(d)});
  EXPECT_FALSE(mounted(volume_dir("tv")));
  // A bad device option fails the start with dockerd's words, and leaves nothing mounted.
  ASSERT_EQ(ok({"volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=abc", "badopt"}).code, 0);
  auto bad = docker({"run", "--rm", "-v", "badopt:/x", "bb:1", "true"});
  EXPECT_NE(bad.code, 0);
  EXPECT_NE(bad.err.find("error while mounting volume '" + volume_dir("badopt") +
                         "': failed to mount local volume: mount tmpfs:" + volume_dir("badopt") +
                         ", data: size=abc: invalid argument"),
            std::string::npos)
      << bad.err;
  EXPECT_FALSE(mounted(volume_dir("badopt")));
}

TEST_F(VolumesTest, BindBackedVolumeAndMissingHostDirectories) {
  hoist::test::TempDir host;
  std::ofstream(host.path() + "/hello") << "host file\n";
  ASSERT_EQ(ok({"volume", "create", "-o", "type=none", "-o", "device=" + host.path(), "-o", "o=bind", "bv"}).code, 0);
  auto r = docker({"run", "--rm", "-v", "bv:/b", "bb:1", "sh", "-c", "cat /b/hello; echo new > /b/new"});
  EXPECT_EQ(r.out, "host file\n") << r.err;
  EXPECT_EQ(hoist::read_file(host.path() + "/new"), "new\n");
  // cp to and from a stopped container reaches the volume's device (mounted for the copy, as
  // dockerd does), not the empty directory it is mounted on.
  ASSERT_EQ(ok({"create", "--name", "cpv", "-v", "bv:/b", "bb:1", "true"}).code, 0);
  std::ofstream(host.path() + "/in") << "copied in\n";
  ASSERT_EQ(ok({"cp", host.path() + "/in", "cpv:/b/copied"}).code, 0);
  EXPECT_EQ(hoist::read_file(host.path() + "/copied"), "copied in\n");
  auto cp_out = docker({"cp", "cpv:/b/hello", "-"});
  EXPECT_EQ(cp_out.code, 0) << cp_out.err;
  EXPECT_NE(cp_out.out.find("host file"), std::string::npos);
  ok({"rm", "cpv"});
  // Removing the volume never reaches through to the directory it bound.
  ok({"volume", "rm", "bv"});
  EXPECT_TRUE(hoist::path_exists(host.path() + "/hello"));
  EXPECT_TRUE(hoist::path_exists(host.path() + "/new"));
  // -v makes a missing host directory at start; --mount type=bind refuses a missing source.
  auto missing = host.path() + "/not/yet";
  ASSERT_EQ(ok({"run", "--rm", "-v", missing + ":/x", "bb:1", "true"}).code, 0);
  EXPECT_TRUE(hoist::path_exists(missing));
  auto m = post("/v1.43/containers/create",
                R"({"Image":"bb:1","Cmd":["true"],"HostConfig":{"Mounts":[{"Type":"bind","Source":")" + host.path() +
                    R"(/nope","Target":"/x"}]}})");
  EXPECT_EQ(m.status, 400) << m.body;
  EXPECT_EQ(json::parse(m.body)["message"],
            "invalid mount config for type \"bind\": bind source path does not exist: " + host.path() + "/nope");
}

TEST_F(VolumesTest, VolumeInUseRefusesRemovalAsDockerd) {
  auto id = out_of(docker({"create", "-v", "busy:/d", "bb:1", "true"}));
  ASSERT_EQ(id.size(), 64u);
  for (auto path : {"/v1.43/volumes/busy", "/v1.43/volumes/busy?force=1"}) {
    auto r = d_->http("DELETE", path);
    EXPECT_EQ(r.status, 409) << r.body;
    EXPECT_EQ(json::parse(r.body)["message"], "remove busy: volume is in use - [" + id + "]");
  }
  auto cli = docker({"volume", "rm", "busy"});
  EXPECT_EQ(cli.code, 1);
  EXPECT_EQ(cli.err, "Error response from daemon: remove busy: volume is in use - [" + id + "]\n");
  EXPECT_TRUE(volume_names().count("busy"));
  ok({"rm", id});
  EXPECT_EQ(docker({"volume", "rm", "busy"}).out, "busy\n");
  EXPECT_FALSE(hoist::path_exists(d_->data_root() + "/volumes/busy"));
}

TEST_F(VolumesTest, PruneRemovesOnlyWhatItShouldPerApiVersion) {
  auto make = [&] {
    for (auto n : {"keepme", "named1", "named2"}) ok({"volume", "create", n});
    ok({"volume", "create", "--label", "tier=db", "labelled"});
    EXPECT_EQ(post("/v1.43/volumes/create", "{}").status, 201);  // anonymous
    ok({"create", "--name", "user", "-v", "keepme:/k", "-v", "/anon-used", "bb:1", "true"});
  };
  make();
  auto names = volume_names();
  ASSERT_EQ(names.size(), 6u);
  // API 1.43: anonymous volumes only (the used one stays).
  auto r = post("/v1.43/volumes/prune");
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = json::parse(r.body);
  ASSERT_EQ(j["VolumesDeleted"].size(), 1u) << r.body;
  EXPECT_EQ(j["VolumesDeleted"][0].get<std::string>().size(), 64u);
  EXPECT_EQ(volume_names().size(), 5u);
  // Label filters, then all=true for named ones; a used volume never goes.
  r = post("/v1.43/volumes/prune?filters=" + url_encode(R"({"all":["true"],"label":["tier=db"]})"));
  EXPECT_EQ(json::parse(r.body)["VolumesDeleted"], json::array({"labelled"})) << r.body;
  r = post("/v1.43/volumes/prune?filters=" + url_encode(R"({"all":["1"],"label!":["nomatch"]})"));
  auto deleted = json::parse(r.body)["VolumesDeleted"];
  EXPECT_EQ(std::set<std::string>(deleted.begin(), deleted.end()), (std::set<std::string>{"named1", "named2"}));
  EXPECT_TRUE(volume_names().count("keepme"));
  // API 1.41: every unused volume, named or not.
  ok({"rm", "-v", "user"});
  ok({"volume", "create", "old1"});
  r = post("/v1.41/volumes/prune");
  deleted = json::parse(r.body)["VolumesDeleted"];
  EXPECT_EQ(std::set<std::string>(deleted.begin(), deleted.end()), (std::set<std::string>{"keepme", "old1"}));
  EXPECT_TRUE(volume_names().empty());
  // Filters dockerd does not know.
  for (auto [f, msg] : {std::pair{R"({"foo":["x"]})", "Invalid filter 'foo'"},
                        std::pair{R"({"all":["maybe"]})", "Invalid filter 'all=[maybe]'"}}) {
    r = post("/v1.43/volumes/prune?filters=" + url_encode(f));
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_EQ(json::parse(r.body)["message"], msg);
  }
  // The docker CLI: -a for named ones (API 1.43 here).
  make();
  auto cli = docker({"volume", "prune", "-f"});
  EXPECT_EQ(cli.code, 0) << cli.err;
  EXPECT_EQ(cli.out.rfind("Deleted Volumes:\n", 0), 0u) << cli.out;
  EXPECT_EQ(volume_names().size(), 5u);
  cli = docker({"volume", "prune", "-a", "-f"});
  EXPECT_EQ(volume_names(), (std::set<std::string>{"keepme", get("/v1.43/containers/user/json")["Mounts"][0]["Name"]}));
}

TEST_F(VolumesTest, RmVAndAutoRemoveTakeAnonymousVolumesOnly) {
  ASSERT_EQ(ok({"create", "--name", "cc", "-v", "named:/n", "-v", "/anon", "--mount", "type=volume,dst=/anon2",
                    "bb:1", "true"}).code, 0);
  ASSERT_EQ(volume_names().size(), 3u);
  // Another container shares one of c's anonymous volumes: rm -v leaves it (in use), as dockerd.
  ASSERT_EQ(ok({"create", "--name", "share", "--volumes-from", "cc", "bb:1", "true"}).code, 0);
  ok({"rm", "-v", "cc"});
  EXPECT_EQ(volume_names().size(), 3u);
  ok({"rm", "-v", "share"});  // its volumes from c are anonymous ones: they go now
  EXPECT_EQ(volume_names(), (std::set<std::string>{"named"}));
  // --rm: the same when the container exits.
  auto r = docker({"run", "--rm", "-v", "named:/n", "-v", "/gone", "bb:1", "true"});
  ASSERT_EQ(r.code, 0) << r.err;
  for (int i = 0; i < 50 && volume_names().size() > 1; ++i) usleep(100000);
  EXPECT_EQ(volume_names(), (std::set<std::string>{"named"}));
  // rm without -v keeps them.
  ASSERT_EQ(ok({"create", "--name", "kk", "-v", "/stays", "bb:1", "true"}).code, 0);
  ok({"rm", "kk"});
  EXPECT_EQ(volume_names().size(), 2u);
}

TEST_F(VolumesTest, DataAndUsersSurviveKill9OfHoistd) {
  ASSERT_EQ(ok({"volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "tmpv"}).code, 0);
  ASSERT_EQ(ok({"run", "--name", "ww", "-v", "durable:/d", "bb:1", "sh", "-c", "echo safe > /d/f"}).code, 0);
  auto run = docker({"run", "-d", "--name", "live", "-v", "tmpv:/t", "bb:1", "sh", "-c", "echo up > /t/u; sleep 300"});
  ASSERT_EQ(run.code, 0) << run.err;
  d_->kill9();
  d_->restart();
  EXPECT_TRUE(volume_names().count("durable"));
  EXPECT_EQ(docker({"run", "--rm", "-v", "durable:/d", "bb:1", "cat", "/d/f"}).out, "safe\n");
  // The references are rebuilt from the containers: still in use.
  auto r = d_->http("DELETE", "/v1.43/volumes/durable");
  EXPECT_EQ(r.status, 409) << r.body;
  // The running container keeps its tmpfs-backed volume, shared with a new user; the last one out unmounts it.
  EXPECT_TRUE(mounted(volume_dir("tmpv")));
  EXPECT_EQ(docker({"run", "--rm", "-v", "tmpv:/t", "bb:1", "cat", "/t/u"}).out, "up\n");
  EXPECT_TRUE(mounted(volume_dir("tmpv")));
  ok({"stop", "-t", "1", "live"});
  EXPECT_FALSE(mounted(volume_dir("tmpv")));
  // A half-made volume of an interrupted create is not a volume.
  hoist::mkdir_all(d_->data_root() + "/volumes/.tmp-half-0001/_data");
  d_->kill9();
  d_->restart();
  EXPECT_FALSE(hoist::path_exists(d_->data_root() + "/volumes/.tmp-half-0001"));
  EXPECT_EQ(volume_names(), (std::set<std::string>{"durable", "tmpv"}));
}

TEST_F(VolumesTest, SubpathAndVolumesFrom) {
  ASSERT_EQ(ok({"run", "--rm", "-v", "sp:/v", "bb:1", "sh", "-c", "mkdir -p /v/sub; echo in-sub > /v/sub/f; ln -s / /v/root"}).code, 0);
  auto body = [](const std::string& sub) {
    return R"({"Image":"bb:1","Cmd":["ls","/m"],"HostConfig":{"Mounts":[{"Type":"volume","Source":"sp","Target":"/m",)"
           R"("VolumeOptions":{"Subpath":")" + sub + R"("}}]}})";
  };
  auto r = post("/v1.45/containers/create?name=sub", body("sub"));
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(docker({"start", "-a", "sub"}).out, "f\n");
  // A symlink in the volume resolves inside it: "root" -> "/" is the volume's own root.
  r = post("/v1.45/containers/create?name=rootlink", body("root"));
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(docker({"start", "-a", "rootlink"}).out, "root\nsub\n");
  // A subpath that the volume does not have fails the start.
  r = post("/v1.45/containers/create?name=nosub", body("missing"));
  ASSERT_EQ(r.status, 201) << r.body;
  r = post("/v1.45/containers/nosub/start");
  EXPECT_EQ(r.status, 500) << r.body;
  EXPECT_NE(r.body.find("cannot access path " + volume_dir("sp") + "/missing"), std::string::npos) << r.body;
  EXPECT_TRUE(hoist::test::run_cmd({"sh", "-c", "ls " + d_->exec_root() + "/volume-mounts 2>/dev/null"}).out.empty());
  // --volumes-from: the other container's volumes and binds, read-only with :ro.
  hoist::test::TempDir host;
  ASSERT_EQ(ok({"create", "--name", "src", "-v", "sp:/v", "-v", host.path() + ":/h", "bb:1", "true"}).code, 0);
  auto ro = docker({"run", "--rm", "--volumes-from", "src:ro", "bb:1", "sh", "-c", "cat /v/sub/f; touch /v/x"});
  EXPECT_EQ(ro.out, "in-sub\n");
  EXPECT_NE(ro.err.find("Read-only file system"), std::string::npos) << ro.err;
  auto from = out_of(docker({"create", "--volumes-from", "src", "bb:1", "true"}));
  auto mounts = get("/v1.43/containers/" + from + "/json")["Mounts"];
  ASSERT_EQ(mounts.size(), 2u);
  EXPECT_EQ(mounts[0]["Source"], host.path());
  EXPECT_EQ(mounts[1]["Name"], "sp");
  EXPECT_EQ(mounts[1]["Mode"], "");
  auto err = post("/v1.43/containers/create", R"({"Image":"bb:1","Cmd":["true"],"HostConfig":{"VolumesFrom":["nosuch"]}})");
  EXPECT_EQ(err.status, 400);
  EXPECT_EQ(json::parse(err.body)["message"], "No such container: nosuch");
}

TEST_F(VolumesTest, EventsAsDockerd) {
  auto since = std::to_string(time(nullptr) - 1);
  auto id = out_of(docker({"run", "-d", "-v", "ev:/d:ro", "bb:1", "true"}));
  ASSERT_EQ(ok({"wait", id}).code, 0);
  ASSERT_EQ(ok({"rm", id}).code, 0);
  ASSERT_EQ(ok({"volume", "rm", "ev"}).code, 0);
  auto until = std::to_string(time(nullptr) + 1);
  ok({"volume", "create", "other"});
  auto r = docker({"events", "--since", since, "--until", until, "--filter", "volume=ev", "--format",
                   "{{.Action}} {{.Actor.ID}} {{json .Actor.Attributes}}"});
  EXPECT_EQ(r.out, "create ev {\"driver\":\"local\"}\n"
                   "mount ev {\"container\":\"" + id + "\",\"destination\":\"/d\",\"driver\":\"local\","
                   "\"propagation\":\"\",\"read/write\":\"false\"}\n"
                   "unmount ev {\"container\":\"" + id + "\",\"driver\":\"local\"}\n"
                   "destroy ev {\"driver\":\"local\"}\n")
      << r.err;
}

TEST_F(VolumesTest, BadInputGetsDockerdsAnswerAndMakesNothing) {
  struct Case {
    std::string method, path, body;
    long status;
    std::string message;
  };
  std::vector<Case> cases = {
      {"GET", "/v1.43/volumes/nosuch", "", 404, "get nosuch: no such volume"},
      {"DELETE", "/v1.43/volumes/nosuch", "", 404, "get nosuch: no such volume"},
      {"POST", "/v1.43/volumes/create", R"({"Name":"a"})", 400,
       "create a: volume name is too short, names should be at least two alphanumeric characters"},
      {"POST", "/v1.43/volumes/create", R"({"Name":"a/b"})", 400,
       "create a/b: \"a/b\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" "
       "are allowed. If you intended to pass a host directory, use absolute path"},
      {"POST", "/v1.43/volumes/create", R"({"Name":"ab","Driver":"foo"})", 404,
       "create ab: error looking up volume plugin foo: plugin \"foo\" not found"},
      {"POST", "/v1.43/volumes/create", R"({"Name":"ab","DriverOpts":{"x":"y"}})", 400, "create ab: invalid option: \"x\""},
      {"POST", "/v1.43/volumes/create", R"({"Name":"ab","DriverOpts":{"type":"tmpfs"}})", 400,
       "create ab: missing required option: \"device\""},
      {"GET", "/v1.43/volumes?filters=" + url_encode(R"({"dangling":["x"]})"), "", 400,
       "Invalid filter 'dangling=[x]'"},
      {"GET", "/v1.43/volumes?filters=" + url_encode(R"({"label!":["x"]})"), "", 400,
       "Invalid filter 'label!'"},
  };
  auto create = [](const std::string& hc) { return R"({"Image":"bb:1","Cmd":["true"],"HostConfig":)" + hc + "}"; };
  for (auto& [hc, msg] : std::vector<std::pair<std::string, std::string>>{
           {R"({"Binds":["ok1:/a","v1:/x:foo"]})", "invalid mode: foo"},
           {R"({"Binds":["ok1:/a","v1:x"]})", "invalid volume specification: 'v1:x': invalid mount config for type "
                                              "\"volume\": invalid mount path: 'x' mount path must be absolute"},
           {R"({"Binds":["ok1:/a","bad name:/x"]})",
            "create bad name: \"bad name\" includes invalid characters for a local volume name, only "
            "\"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"},
           {R"({"Binds":["ok1:/x","ok2:/x"]})", "Duplicate mount point: /x"},
           {R"({"Binds":["ok1:/a"],"Mounts":[{"Type":"volume","Source":"ok2","Target":"/x","VolumeOptions":{"DriverConfig":{"Options":{"bad":"x"}}}}]})",
            "create ok2: invalid option: \"bad\""},
           {R"({"Mounts":[{"Type":"volume","Target":"/x","ReadOnly":true}]})",
            "invalid mount config for type \"volume\": must not set ReadOnly mode when using anonymous volumes"},
           {R"({"Mounts":[{"Type":"bind","Source":"/tmp","Target":"/x","VolumeOptions":{"NoCopy":true}}]})",
            "invalid mount config for type \"bind\": field VolumeOptions must not be specified"},
           {R"({"VolumesFrom":[""]})", "volumes-from specification cannot be an empty string"}})
    cases.push_back({"POST", "/v1.43/containers/create", create(hc), 400, msg});
  cases.push_back({"POST", "/v1.43/containers/create", create(R"({"Binds":["ok1:/a","ab:/x"],"VolumeDriver":"foo"})"),
                   404, "create ok1: error looking up volume plugin foo: plugin \"foo\" not found"});
  for (auto& c : cases) {
    SCOPED_TRACE(c.method + " " + c.path + " " + c.body);
    auto r = d_->http(c.method, c.path, c.body, {"Content-Type: application/json"});
    EXPECT_EQ(r.status, c.status) << r.body;
    EXPECT_EQ(json::parse(r.body, nullptr, false).value("message", ""), c.message);
  }
  EXPECT_TRUE(volume_names().empty());  // nothing half made
  EXPECT_EQ(containers(), 0);
  // The CLIs: unknown volumes, rm -f of one.
  auto r = docker({"volume", "inspect", "nosuch"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "Error response from daemon: get nosuch: no such volume\n");
  ok({"volume", "rm", "-f", "nosuch"});
  r = docker({"run", "--rm", "-v", "x:/x:bogus", "bb:1", "true"});
  EXPECT_EQ(r.code, 125);
  EXPECT_NE(r.err.find("invalid mode: bogus"), std::string::npos) << r.err;
  EXPECT_TRUE(volume_names().empty());
  EXPECT_EQ(containers(), 0);
}

TEST_F(VolumesTest, DockerPy) {
  if (hoist::test::run_cmd({"python3", "-c", "import docker"}).code != 0) GTEST_SKIP() << "python3-docker missing";
  auto r = d_->python(R"PY(
import os, docker
c = docker.DockerClient(base_url=os.environ['HOIST_HOST'])
v = c.volumes.create('pyvol', labels={'app': 'x'})
print(v.name, v.attrs['Driver'], v.attrs['Labels'])
out = c.containers.run('bb:1', ['sh', '-c', 'echo py > /d/f; cat /d/f'], volumes={'pyvol': {'bind': '/d', 'mode': 'rw'}}, remove=True)
print(out.decode().strip())
print([x.name for x in c.volumes.list(filters={'label': 'app=x'})])
ct = c.containers.create('bb:1', 'true', volumes=['pyvol:/d'])
try:
    c.volumes.get('pyvol').remove()
except docker.errors.APIError as e:
    print(e.status_code, 'in use' in e.explanation)
ct.remove(v=True)
c.volumes.get('pyvol').remove()
try:
    c.volumes.get('pyvol')
except docker.errors.NotFound as e:
    print('gone')
print(c.volumes.prune())
)PY");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "pyvol local {'app': 'x'}\npy\n['pyvol']\n409 True\ngone\n{'VolumesDeleted': [], 'SpaceReclaimed': 0}\n");
}
