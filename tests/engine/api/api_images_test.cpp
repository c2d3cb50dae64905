// hoistd's system and image endpoints as users see them: the docker CLI, docker-py and raw HTTP
// (libcurl) against a private hoistd; a private docker-registry fed by skopeo as the image source.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/digest.h"
#include "hoistd_harness.h"

namespace fs = std::filesystem;
using hoist::test::CmdResult;
using hoist::test::Hoistd;
using hoist::test::LocalRegistry;
using hoist::test::raw_http;
using hoist::test::run_cmd;
using nlohmann::json;

namespace {

bool have_docker() { return hoist::test::have_tool("docker"); }

void skopeo_push_busybox(const LocalRegistry& reg, const std::string& repo_tag) {
  auto r = run_cmd({"skopeo", "--insecure-policy", "copy", "--dest-tls-verify=false",
                    "oci:" + hoist::test::fixtures_dir() + "/busybox-oci:latest",
                    "docker://" + reg.host() + "/" + repo_tag},
                   "", 120);
  ASSERT_EQ(r.code, 0) << r.err;
}

// The config digest (= image ID) of the busybox fixture layout.
std::string fixture_config_digest() {
  auto dir = hoist::test::fixtures_dir() + "/busybox-oci";
  auto index = json::parse(std::ifstream(dir + "/index.json"));
  std::string mdig = index["manifests"][0]["digest"];
  auto manifest = json::parse(std::ifstream(dir + "/blobs/sha256/" + mdig.substr(7)));
  return manifest["config"]["digest"];
}

class ImageApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root";
    if (!have_docker()) GTEST_SKIP() << "docker CLI missing";
    d_ = std::make_unique<Hoistd>();
  }
  void TearDown() override {
    if (HasFailure() && d_) std::cerr << "---- hoistd log ----\n" << d_->log() << "\n";
    d_.reset();
  }
  std::unique_ptr<Hoistd> d_;
};

}  // namespace

TEST_F(ImageApiTest, SystemEndpointsWithDockerCli) {
  auto v = d_->docker({"version", "--format", "{{.Server.APIVersion}} {{.Server.Os}} {{.Server.MinAPIVersion}}"});
  ASSERT_EQ(v.code, 0) << v.err;
  EXPECT_EQ(v.out, "1.43 linux 1.24\n");
  auto info = d_->docker({"info", "--format", "{{json .}}"});
  ASSERT_EQ(info.code, 0) << info.err;
  auto j = json::parse(info.out);
  EXPECT_EQ(j["DockerRootDir"], d_->data_root());
  EXPECT_EQ(j["Images"], 0);
  EXPECT_EQ(j["OSType"], "linux");
  EXPECT_GT(j["NCPU"].get<int>(), 0);
  auto images = d_->docker({"images"});
  ASSERT_EQ(images.code, 0) << images.err;
  EXPECT_NE(images.out.find("REPOSITORY"), std::string::npos);

  // _ping with and without a version prefix; the answer names the version asked for.
  auto p = d_->http("GET", "/_ping");
  EXPECT_EQ(p.status, 200);
  EXPECT_EQ(p.body, "OK");
  EXPECT_EQ(p.headers["api-version"], "1.43");
  EXPECT_EQ(p.headers["ostype"], "linux");
  EXPECT_EQ(p.headers["docker-experimental"], "false");
  p = d_->http("GET", "/v1.41/_ping");
  EXPECT_EQ(p.status, 200);
  EXPECT_EQ(p.headers["api-version"], "1.41");
  p = d_->http("HEAD", "/_ping");
  EXPECT_EQ(p.status, 200);
  auto ver = d_->http("GET", "/v1.41/version");
  ASSERT_EQ(ver.status, 200);
  EXPECT_EQ(json::parse(ver.body)["ApiVersion"], "1.43");
  auto old = d_->http("GET", "/v1.12/version");
  EXPECT_EQ(old.status, 400);
  EXPECT_NE(json::parse(old.body)["message"].get<std::string>().find("too old"), std::string::npos);
  auto df = d_->http("GET", "/system/df");
  ASSERT_EQ(df.status, 200);
  EXPECT_TRUE(json::parse(df.body)["Images"].is_array());
}

TEST_F(ImageApiTest, ErrorsAreDockerJson) {
  auto r = d_->http("GET", "/v1.41/nope/nothing");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(json::parse(r.body)["message"], "page not found");
  r = d_->http("GET", "/images/json?filters=%7Bbad");
  EXPECT_EQ(r.status, 400);
  EXPECT_TRUE(json::parse(r.body).contains("message"));
  r = d_->http("GET", "/images/json?filters=%7B%22bogus%22%3A%5B%22x%22%5D%7D");
  EXPECT_EQ(r.status, 400);
  r = d_->http("GET", "/v1.43/images/nosuch/json");
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(json::parse(r.body)["message"].get<std::string>().find("No such image: nosuch"), std::string::npos);
  r = d_->http("DELETE", "/images/nosuch");
  EXPECT_EQ(r.status, 404);
  r = d_->http("POST", "/images/nosuch/tag?repo=x&tag=1");
  EXPECT_EQ(r.status, 404);
  auto cli = d_->docker({"image", "inspect", "nosuch"});
  EXPECT_NE(cli.code, 0);
  EXPECT_NE(cli.err.find("No such image"), std::string::npos) << cli.err;
}

TEST_F(ImageApiTest, PullTagInspectRmiWithDockerCli) {
  if (!hoist::test::registry_tools_missing().empty()) GTEST_SKIP() << hoist::test::registry_tools_missing();
  if (!hoist::test::have_tool("skopeo")) GTEST_SKIP() << "skopeo missing";
  LocalRegistry reg;
  skopeo_push_busybox(reg, "x/busybox:1");
  std::string ref = reg.host() + "/x/busybox:1";

  auto pull = d_->docker({"pull", ref});
  ASSERT_EQ(pull.code, 0) << pull.err << pull.out;
  EXPECT_NE(pull.out.find("Status: Downloaded newer image for " + ref), std::string::npos) << pull.out;
  EXPECT_NE(pull.out.find("Digest: sha256:"), std::string::npos) << pull.out;
  // run of an image not there: pulled, the progress on stderr and only the command's output on
  // stdout, through docker's CLI and ours alike.
  for (bool ours : {false, true}) {
    ASSERT_EQ(d_->docker({"rmi", ref}).code, 0);
    hoist::test::CmdResult run;
    if (ours)
      run = hoist::test::run_cmd({HOIST_CLI_BIN, "-H", d_->host(), "run", "--rm", ref, "echo", "ran"});
    else
      run = d_->docker({"run", "--rm", ref, "echo", "ran"});
    ASSERT_EQ(run.code, 0) << run.err;
    EXPECT_EQ(run.out, "ran\n") << (ours ? "hoist" : "docker");
    EXPECT_NE(run.err.find("Unable to find image '" + ref + "' locally"), std::string::npos) << run.err;
    EXPECT_NE(run.err.find("Status: Downloaded newer image for " + ref), std::string::npos) << run.err;
  }
  // Again: up to date.
  auto again = d_->docker({"pull", ref});
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_NE(again.out.find("Image is up to date"), std::string::npos) << again.out;

  auto images = d_->docker({"images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"});
  ASSERT_EQ(images.code, 0) << images.err;
  EXPECT_NE(images.out.find(ref), std::string::npos) << images.out;

  auto insp = d_->docker({"image", "inspect", ref});
  ASSERT_EQ(insp.code, 0) << insp.err;
  auto j = json::parse(insp.out)[0];
  EXPECT_EQ(j["Id"], fixture_config_digest());
  EXPECT_EQ(j["RepoTags"][0], ref);
  EXPECT_EQ(j["Os"], "linux");
  EXPECT_EQ(j["RootFS"]["Type"], "layers");
  EXPECT_FALSE(j["RootFS"]["Layers"].empty());
  EXPECT_FALSE(j["RepoDigests"].empty());

  ASSERT_EQ(d_->docker({"tag", ref, "mine/bb:2"}).code, 0);
  auto tagged = d_->docker({"image", "inspect", "--format", "{{.Id}}", "mine/bb:2"});
  ASSERT_EQ(tagged.code, 0) << tagged.err;
  EXPECT_EQ(tagged.out, fixture_config_digest() + "\n");
  // Reference filter.
  auto filtered = d_->http("GET", "/images/json?filters=" + std::string("%7B%22reference%22%3A%5B%22mine%2F*%22%5D%7D"));
  ASSERT_EQ(filtered.status, 200);
  auto fl = json::parse(filtered.body);
  ASSERT_EQ(fl.size(), 1u);
  EXPECT_EQ(fl[0]["Id"], fixture_config_digest());
  EXPECT_EQ(fl[0]["Created"], 0);  // the fixture's config says 1970-01-01T00:00:00Z
  EXPECT_EQ(fl[0]["SharedSize"], -1);

  auto hist = d_->docker({"history", "--no-trunc", "mine/bb:2"});
  ASSERT_EQ(hist.code, 0) << hist.err;
  EXPECT_NE(hist.out.find(fixture_config_digest()), std::string::npos) << hist.out;

  // Push under another name; skopeo reads it back with the same config.
  std::string pushed = reg.host() + "/pushed/bb:7";
  ASSERT_EQ(d_->docker({"tag", ref, pushed}).code, 0);
  auto push = d_->docker({"push", pushed});
  ASSERT_EQ(push.code, 0) << push.err << push.out;
  EXPECT_NE(push.out.find("7: digest: sha256:"), std::string::npos) << push.out;
  auto sk = run_cmd({"skopeo", "inspect", "--tls-verify=false", "--raw", "--config", "docker://" + pushed}, "", 60);
  ASSERT_EQ(sk.code, 0) << sk.err;
  EXPECT_EQ(hoist::digest_of(sk.out).str(), fixture_config_digest());
  ASSERT_EQ(d_->docker({"rmi", pushed}).code, 0);
  // Pulling what the registry does not have fails with the registry's word.
  auto missing = d_->docker({"pull", reg.host() + "/nothing/here:1"});
  EXPECT_NE(missing.code, 0);
  EXPECT_FALSE(missing.err.empty());

  auto rmi = d_->docker({"rmi", "mine/bb:2"});
  ASSERT_EQ(rmi.code, 0) << rmi.err;
  EXPECT_NE(rmi.out.find("Untagged: mine/bb:2"), std::string::npos) << rmi.out;
  auto rmi2 = d_->docker({"rmi", ref});
  ASSERT_EQ(rmi2.code, 0) << rmi2.err;
  EXPECT_NE(rmi2.out.find("Deleted: " + fixture_config_digest()), std::string::npos) << rmi2.out;
  auto none = d_->docker({"images", "-q"});
  EXPECT_EQ(none.out, "");

  // The events of all that, read back with since/until.
  auto ev = d_->http("GET", "/events?since=0&until=" + std::to_string(time(nullptr) + 1) +
                                "&filters=%7B%22type%22%3A%5B%22image%22%5D%7D");
  ASSERT_EQ(ev.status, 200);
  std::vector<std::string> actions;
  std::istringstream lines(ev.body);
  for (std::string l; std::getline(lines, l);)
    if (!l.empty()) actions.push_back(json::parse(l)["Action"]);
  auto has = [&](const std::string& a) { return std::find(actions.begin(), actions.end(), a) != actions.end(); };
  EXPECT_TRUE(has("pull") && has("tag") && has("untag") && has("delete")) << ev.body;
}

TEST_F(ImageApiTest, ImportSaveLoadRoundTrip) {
  auto tarball = hoist::test::fixtures_dir() + "/busybox-rootfs.tar";
  auto imp = d_->docker({"import", "-m", "from test", tarball, "imported/bb:1"});
  ASSERT_EQ(imp.code, 0) << imp.err;
  EXPECT_EQ(imp.out.rfind("sha256:", 0), 0u) << imp.out;
  std::string id = imp.out.substr(0, imp.out.find('\n'));
  auto created = d_->docker({"image", "inspect", "--format", "{{.Created}}", "imported/bb:1"});
  EXPECT_EQ(created.out.substr(0, 2), "20") << created.out;
  auto hist = d_->docker({"history", "--format", "{{.Comment}}", "imported/bb:1"});
  ASSERT_EQ(hist.code, 0) << hist.err;
  EXPECT_NE(hist.out.find("from test"), std::string::npos) << hist.out;

  std::string archive = d_->dir() + "/saved.tar";
  auto save = d_->docker({"save", "-o", archive, "imported/bb:1"});
  ASSERT_EQ(save.code, 0) << save.err;
  ASSERT_GT(fs::file_size(archive), 1000u);
  ASSERT_EQ(d_->docker({"rmi", "imported/bb:1"}).code, 0);
  auto load = d_->docker({"load", "-i", archive});
  ASSERT_EQ(load.code, 0) << load.err;
  EXPECT_NE(load.out.find("Loaded image: imported/bb:1"), std::string::npos) << load.out;
  auto insp = d_->docker({"image", "inspect", "--format", "{{.Id}}", "imported/bb:1"});
  ASSERT_EQ(insp.code, 0) << insp.err;
  EXPECT_EQ(insp.out, id + "\n");
  // GET /images/get?names= streams the same kind of archive.
  auto get = d_->http("GET", "/images/get?names=imported%2Fbb%3A1");
  EXPECT_EQ(get.status, 200);
  EXPECT_EQ(get.headers["content-type"], "application/x-tar");
  EXPECT_GT(get.body.size(), 1000u);
  // Prune of dangling images leaves a tagged one.
  auto prune = d_->http("POST", "/images/prune");
  ASSERT_EQ(prune.status, 200);
  EXPECT_TRUE(json::parse(prune.body).contains("SpaceReclaimed"));
  EXPECT_EQ(d_->docker({"image", "inspect", "imported/bb:1"}).code, 0);
}

// image prune's filters: label, label! and until select among the unused images as dockerd's do;
// another filter is refused.
TEST_F(ImageApiTest, PruneFiltersSelectWhatGoes) {
  auto tarball = hoist::test::fixtures_dir() + "/busybox-rootfs.tar";
  for (auto [name, label] : std::vector<std::pair<std::string, std::string>>{
           {"p/a:1", "LABEL tier=web"}, {"p/b:1", "LABEL tier=db"}, {"p/c:1", "LABEL other=x"}})
    ASSERT_EQ(d_->docker({"import", "--change", label, tarball, name}).code, 0) << name;
  auto exists = [&](const std::string& n) { return d_->docker({"image", "inspect", n}).code == 0; };
  // Made just now: nothing is older than an hour.
  auto r = d_->docker({"image", "prune", "-a", "-f", "--filter", "until=1h"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(exists("p/a:1") && exists("p/b:1") && exists("p/c:1")) << r.out;
  r = d_->docker({"image", "prune", "-a", "-f", "--filter", "label=tier=web"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_FALSE(exists("p/a:1")) << r.out;
  EXPECT_TRUE(exists("p/b:1") && exists("p/c:1")) << r.out;
  r = d_->docker({"image", "prune", "-a", "-f", "--filter", "label!=tier"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_FALSE(exists("p/c:1")) << r.out;
  EXPECT_TRUE(exists("p/b:1")) << r.out;
  auto h = d_->http("POST", "/images/prune?filters=%7B%22color%22%3A%5B%22red%22%5D%7D");  // {"color":["red"]}
  EXPECT_EQ(h.status, 400) << h.body;
  EXPECT_NE(h.body.find("Invalid filter 'color'"), std::string::npos) << h.body;
  EXPECT_TRUE(exists("p/b:1"));
}

TEST_F(ImageApiTest, DockerPyPullAndList) {
  if (!hoist::test::registry_tools_missing().empty()) GTEST_SKIP() << hoist::test::registry_tools_missing();
  if (!hoist::test::have_tool("skopeo")) GTEST_SKIP() << "skopeo missing";
  if (run_cmd({"python3", "-c", "import docker"}).code != 0) GTEST_SKIP() << "python3-docker missing";
  LocalRegistry reg;
  skopeo_push_busybox(reg, "py/busybox:3");
  auto r = d_->python(
      "import os, docker\n"
      "c = docker.DockerClient(base_url=os.environ['HOIST_HOST'])\n"
      "img = c.images.pull('" + reg.host() + "/py/busybox', tag='3')\n"
      "print(img.id)\n"
      "print(sorted(t for i in c.images.list() for t in i.tags))\n"
      "print(c.version()['ApiVersion'])\n");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find(fixture_config_digest()), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(reg.host() + "/py/busybox:3"), std::string::npos) << r.out;
}

TEST_F(ImageApiTest, BadClientsDoNotWedgeTheDaemon) {
  // A client hanging up in the middle of a pull stream.
  if (hoist::test::registry_tools_missing().empty() && hoist::test::have_tool("skopeo")) {
    LocalRegistry reg;
    skopeo_push_busybox(reg, "gone/busybox:1");
    auto r = d_->http("POST", "/images/create?fromImage=" + reg.host() + "/gone/busybox&tag=1", "", {}, 10);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(d_->http("GET", "/_ping").status, 200);
  }
  // A client that sends half a request and then nothing: others are still served.
  std::thread slow([&] { raw_http(d_->socket(), "GET /_ping HTTP/1.1\r\nHost: x\r\n", 3000); });
  EXPECT_EQ(d_->http("GET", "/_ping").status, 200);
  // A body announced as larger than the limit: 413 without reading it.
  auto big = raw_http(d_->socket(),
                      "POST /images/load HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000000\r\n\r\nxxxx");
  EXPECT_EQ(big.rfind("HTTP/1.1 413", 0), 0u) << big;
  // 8 MiB of junk to load: as dockerd, a 200 stream whose line says the error, and the daemon carries on.
  auto junk = d_->http("POST", "/images/load", std::string(8 << 20, 'j'), {"Content-Type: application/x-tar"});
  EXPECT_EQ(junk.status, 200) << junk.body;
  EXPECT_TRUE(json::parse(junk.body.substr(0, junk.body.find('\n'))).contains("error")) << junk.body;
  // Malformed HTTP.
  auto bad = raw_http(d_->socket(), "NOT HTTP AT ALL\r\n\r\n");
  EXPECT_EQ(bad.rfind("HTTP/1.1 400", 0), 0u) << bad;
  slow.join();
  EXPECT_EQ(d_->http("GET", "/v1.41/_ping").status, 200);
  EXPECT_TRUE(d_->running());
}

TEST_F(ImageApiTest, GracefulShutdownRemovesSocketAndPidFile) {
  EXPECT_TRUE(fs::exists(d_->exec_root() + "/hoistd.pid"));
  auto st = fs::status(d_->socket());
  EXPECT_EQ(st.permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::group_write);
  d_->stop();  // SIGTERM
  EXPECT_FALSE(fs::exists(d_->socket()));
  EXPECT_FALSE(fs::exists(d_->exec_root() + "/hoistd.pid"));
}

TEST_F(ImageApiTest, EventsStreamLive) {
  hoist::test::HttpResult ev;
  std::thread watcher([&] { ev = d_->http("GET", "/v1.41/events?filters=%7B%22type%22%3A%5B%22image%22%5D%7D", "", {}, 0, 3); });
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  auto imp = d_->docker({"import", hoist::test::fixtures_dir() + "/busybox-rootfs.tar", "live/bb:1"});
  ASSERT_EQ(imp.code, 0) << imp.err;
  watcher.join();  // the request times out after 3 s; what came until then is in the body
  ASSERT_FALSE(ev.body.empty()) << ev.error;
  auto first = json::parse(ev.body.substr(0, ev.body.find('\n')));
  EXPECT_EQ(first["Type"], "image");
  EXPECT_EQ(first["Action"], "import");
  EXPECT_EQ(first["Actor"]["Attributes"]["name"], "live/bb:1");
  EXPECT_GT(first["timeNano"].get<long long>(), 0);
  EXPECT_EQ(d_->http("GET", "/_ping").status, 200);
}

TEST_F(ImageApiTest, RegistryAuthHeaderIsHonoured) {
  if (!hoist::test::registry_tools_missing().empty()) GTEST_SKIP() << hoist::test::registry_tools_missing();
  if (!hoist::test::have_tool("skopeo")) GTEST_SKIP() << "skopeo missing";
  if (run_cmd({"python3", "-c", "import docker"}).code != 0) GTEST_SKIP() << "python3-docker missing";
  LocalRegistry reg(LocalRegistry::Mode::Htpasswd);
  auto push = run_cmd({"skopeo", "--insecure-policy", "copy", "--dest-tls-verify=false", "--dest-creds",
                       reg.user() + ":" + reg.password(),
                       "oci:" + hoist::test::fixtures_dir() + "/busybox-oci:latest",
                       "docker://" + reg.host() + "/priv/bb:1"},
                      "", 120);
  ASSERT_EQ(push.code, 0) << push.err;
  std::string script =
      "import os, docker\n"
      "c = docker.APIClient(base_url=os.environ['HOIST_HOST'])\n"
      "out = c.pull('" + reg.host() + "/priv/bb', tag='1', auth_config={'username': '" + reg.user() +
      "', 'password': '" + reg.password() + "'})\n"
      "print(out)\n";
  auto r = d_->python(script);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("Downloaded newer image"), std::string::npos) << r.out;
  // Without credentials the registry refuses.
  auto anon = d_->docker({"pull", reg.host() + "/priv/bb:1"});
  ASSERT_EQ(d_->docker({"rmi", reg.host() + "/priv/bb:1"}).code, 0);
  anon = d_->docker({"pull", reg.host() + "/priv/bb:1"});
  EXPECT_NE(anon.code, 0) << anon.out;
  // docker login checks the password with the registry (POST /auth); then the CLI sends it.
  auto bad = d_->docker({"login", "-u", reg.user(), "--password-stdin", reg.host()}, "wrong\n");
  EXPECT_NE(bad.code, 0) << bad.out;
  auto login = d_->docker({"login", "-u", reg.user(), "--password-stdin", reg.host()}, reg.password() + "\n");
  ASSERT_EQ(login.code, 0) << login.err;
  EXPECT_NE(login.out.find("Login Succeeded"), std::string::npos) << login.out;
  auto pulled = d_->docker({"pull", reg.host() + "/priv/bb:1"});
  EXPECT_EQ(pulled.code, 0) << pulled.err;
}
