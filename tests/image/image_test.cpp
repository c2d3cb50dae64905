// Image module end to end: pull/push against a real registry (docker-registry on loopback, in every
// set-up), skopeo and docker as independent oracles, bad registries, crash safety of the store
// under kill -9, save/load/import round trips.
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "common/error.h"
#include "common/file.h"
#include "common/strings.h"
#include "docker_harness.h"
#include "harness.h"
#include "image/archive.h"
#include "image/pull.h"
#include "image/store.h"
#include "registry_harness.h"
#include "test_tar.h"

namespace fs = std::filesystem;
using namespace hoist;
using namespace hoist::image;
using hoist::test::CmdResult;
using hoist::test::FaultyRegistry;
using hoist::test::LocalRegistry;
using hoist::test::run_cmd;
using hoist::test::TempDir;
using nlohmann::json;

namespace {

std::string fixtures_dir() { return fs::path(hoist::test::busybox_rootfs()).parent_path().parent_path().string(); }
std::string busybox_layout() { return fixtures_dir() + "/busybox-oci"; }

std::vector<std::string> skopeo_dest_args(const LocalRegistry& reg) {
  std::vector<std::string> a = {"--dest-tls-verify=false"};
  if (reg.has_auth()) a.insert(a.end(), {"--dest-creds", reg.user() + ":" + reg.password()});
  return a;
}

void skopeo_push_busybox(const LocalRegistry& reg, const std::string& repo_tag, std::vector<std::string> extra = {}) {
  std::vector<std::string> argv = {"skopeo", "--insecure-policy", "copy"};
  for (auto& a : skopeo_dest_args(reg)) argv.push_back(a);
  for (auto& a : extra) argv.push_back(a);
  argv.push_back("oci:" + busybox_layout() + ":latest");
  argv.push_back("docker://" + reg.host() + "/" + repo_tag);
  auto r = run_cmd(argv, "", 120);
  ASSERT_EQ(r.code, 0) << r.err;
}

std::string skopeo_raw_manifest(const LocalRegistry& reg, const std::string& repo_tag) {
  std::vector<std::string> argv = {"skopeo", "--insecure-policy", "inspect", "--raw", "--tls-verify=false"};
  if (reg.has_auth()) argv.insert(argv.end(), {"--creds", reg.user() + ":" + reg.password()});
  argv.push_back("docker://" + reg.host() + "/" + repo_tag);
  auto r = run_cmd(argv, "", 120);
  EXPECT_EQ(r.code, 0) << r.err;
  return r.out;
}

// A tar (optionally gzip-compressed) of the given entries: name -> content; names ending in '/'
// are directories, "name -> target" entries (content starting with "->") are symlinks.
std::string make_tar(const std::vector<std::pair<std::string, std::string>>& entries, bool gzip) {
  return test::make_tar(test::tar_items(entries), {.filter = gzip ? "gzip" : ""});
}

std::string gunzip(const std::string& gz) {
  std::string out;
  z_stream z{};
  inflateInit2(&z, 16 + MAX_WBITS);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  z.avail_in = static_cast<uInt>(gz.size());
  char buf[65536];
  int r;
  do {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    r = inflate(&z, Z_NO_FLUSH);
    out.append(buf, sizeof buf - z.avail_out);
  } while (r == Z_OK);
  inflateEnd(&z);
  return out;
}

// Pushes a one-image manifest built from layer tarballs (gzip) straight through the client; the
// config's diff IDs are the real ones unless `diff_ids` overrides them. Returns the manifest body.
struct PushedImage {
  std::string manifest;
  Digest manifest_digest, config_digest;
};
PushedImage push_raw_image(Registry& c, const std::string& repo, const std::string& tag,
                           const std::vector<std::string>& gz_layers, const std::string& arch = "amd64",
                           std::optional<std::vector<Digest>> diff_ids = std::nullopt) {
  TempDir tmp("hoist-raw");
  json layers = json::array(), diffs = json::array();
  for (std::size_t i = 0; i < gz_layers.size(); ++i) {
    auto d = digest_of(gz_layers[i]);
    auto path = tmp.path() + "/" + d.hex;
    write_file_atomic(path, gz_layers[i], 0644, false);
    c.push_blob(repo, d, path, static_cast<std::int64_t>(gz_layers[i].size()));
    layers.push_back({{"mediaType", media::kOciLayerGzip}, {"digest", d.str()}, {"size", gz_layers[i].size()}});
    diffs.push_back(diff_ids ? (*diff_ids)[i].str() : digest_of(gunzip(gz_layers[i])).str());
  }
  auto config = json({{"architecture", arch}, {"os", "linux"}, {"rootfs", {{"type", "layers"}, {"diff_ids", diffs}}},
                      {"config", {{"Cmd", {"/bin/sh"}}}}})
                    .dump();
  auto cd = digest_of(config);
  write_file_atomic(tmp.path() + "/config", config, 0644, false);
  c.push_blob(repo, cd, tmp.path() + "/config", static_cast<std::int64_t>(config.size()));
  auto manifest = json({{"schemaVersion", 2},
                        {"mediaType", media::kOciManifest},
                        {"config", {{"mediaType", media::kOciConfig}, {"digest", cd.str()}, {"size", config.size()}}},
                        {"layers", layers}})
                      .dump();
  auto md = c.put_manifest(repo, tag, media::kOciManifest, manifest);
  return {manifest, md, cd};
}

// What a user would check after any failure: the store opens, nothing half-made is in it, and
// every image it lists is whole.
void expect_store_consistent(const std::string& root, std::size_t* images = nullptr) {
  Store s(root);
  for (auto& rec : s.list()) {
    EXPECT_TRUE(s.content().has(rec.id)) << rec.id.str();
    EXPECT_TRUE(s.content().has(rec.manifest_digest));
    for (auto& l : rec.layers) {
      EXPECT_TRUE(s.content().has(l.digest)) << l.digest.str();
      EXPECT_TRUE(s.has_snapshot(l.chain_id)) << l.chain_id.str();
    }
  }
  EXPECT_TRUE(fs::is_empty(root + "/tmp"));
  EXPECT_TRUE(fs::is_empty(root + "/content/ingest"));
  if (images) *images = s.list().size();
}

std::size_t count_entries(const std::string& dir) {
  if (!fs::exists(dir)) return 0;
  return static_cast<std::size_t>(std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}

std::string file_digest(const std::string& path) { return digest_of(read_file(path)).str(); }

class ImageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root";
    auto missing = hoist::test::registry_tools_missing();
    if (!missing.empty()) GTEST_SKIP() << missing;
    if (!hoist::test::have_tool("skopeo")) GTEST_SKIP() << "skopeo missing";
    ASSERT_FALSE(busybox_layout().empty());
  }
  std::string root() const { return dir_.path() + "/store"; }
  std::string config_dir() const { return dir_.path() + "/config"; }
  // The hoist-image tool on this test's store.
  CmdResult tool(std::vector<std::string> args, const std::string& input = "", int timeout_s = 300) {
    std::vector<std::string> argv = {HOIST_IMAGE_BIN, "--root", root(), "--config-dir", config_dir()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_cmd(argv, input, timeout_s);
  }
  RegistrySettings settings_for(const LocalRegistry& reg) {
    auto s = reg.settings();
    s.auth_file = config_dir() + "/config.json";
    return s;
  }
  TempDir dir_{"hoist-image-test"};
};

}  // namespace

// ---- pull / push with skopeo as the oracle ----------------------------------------------------

TEST_F(ImageTest, PullsWhatSkopeoPushedWithIdenticalDigestsAndContent) {
  LocalRegistry reg;
  skopeo_push_busybox(reg, "lib/busybox:1");
  auto raw = skopeo_raw_manifest(reg, "lib/busybox:1");
  Store store(root());
  std::vector<ProgressEvent> events;
  auto ref = Reference::parse(reg.host() + "/lib/busybox:1");
  auto r = pull_image(store, reg.settings(), ref, {}, [&](const ProgressEvent& e) { events.push_back(e); });
  EXPECT_TRUE(r.updated);
  EXPECT_EQ(r.image.manifest_digest, digest_of(raw));
  EXPECT_EQ(r.digest, digest_of(raw));
  // The same config (image ID) and layer digests as the layout skopeo read.
  auto m = json::parse(raw);
  EXPECT_EQ(r.image.id.str(), m["config"]["digest"].get<std::string>());
  ASSERT_EQ(r.image.layers.size(), m["layers"].size());
  EXPECT_EQ(r.image.layers[0].digest.str(), m["layers"][0]["digest"].get<std::string>());
  // The unpacked layer is the busybox tree: same binary, applet links, modes.
  auto fsdir = store.snapshot_path(r.image.layers[0].chain_id);
  EXPECT_EQ(file_digest(fsdir + "/bin/busybox"), file_digest(hoist::test::busybox_rootfs() + "/bin/busybox"));
  EXPECT_EQ(fs::read_symlink(fsdir + "/bin/sh"), "/bin/busybox");
  EXPECT_EQ(fs::status(fsdir + "/tmp").permissions() & fs::perms::sticky_bit, fs::perms::sticky_bit);
  // Docker's progress vocabulary, ending with the layer complete.
  auto has = [&](const std::string& st) {
    return std::any_of(events.begin(), events.end(), [&](auto& e) { return e.status == st; });
  };
  EXPECT_EQ(events.front().status, "Pulling from lib/busybox");
  EXPECT_TRUE(has("Pulling fs layer"));
  EXPECT_TRUE(has("Pull complete"));
  // By tag, by repo digest and by ID.
  EXPECT_EQ(store.resolve(ref.str()).id, r.image.id);
  EXPECT_EQ(store.resolve(reg.host() + "/lib/busybox@" + r.digest.str()).id, r.image.id);
  // A second pull finds everything present.
  events.clear();
  auto again = pull_image(store, reg.settings(), ref, {}, [&](const ProgressEvent& e) { events.push_back(e); });
  EXPECT_FALSE(again.updated);
  EXPECT_TRUE(has("Already exists"));
  EXPECT_FALSE(has("Downloading"));
}

TEST_F(ImageTest, PushIsReadBackBySkopeoWithTheSameDigests) {
  LocalRegistry reg;
  auto imp = tool({"import", fixtures_dir() + "/busybox-rootfs.tar", "imported/busybox:1"});
  ASSERT_EQ(imp.code, 0) << imp.err;
  auto id = trim(imp.out);
  auto push = tool({"tag", "imported/busybox:1", reg.host() + "/pushed/busybox:v1"});
  ASSERT_EQ(push.code, 0) << push.err;
  push = tool({"push", reg.host() + "/pushed/busybox:v1"});
  ASSERT_EQ(push.code, 0) << push.err;
  auto pushed_digest = std::string(trim(push.out));

  auto raw = skopeo_raw_manifest(reg, "pushed/busybox:v1");
  EXPECT_EQ(digest_of(raw).str(), pushed_digest);
  EXPECT_EQ(json::parse(raw)["config"]["digest"].get<std::string>(), id);
  // skopeo downloads and verifies every blob.
  TempDir out("hoist-skopeo-out");
  auto cp = run_cmd({"skopeo", "--insecure-policy", "copy", "--src-tls-verify=false",
                     "docker://" + reg.host() + "/pushed/busybox:v1", "oci:" + out.path() + "/l:x"},
                    "", 120);
  ASSERT_EQ(cp.code, 0) << cp.err;
  EXPECT_TRUE(fs::exists(out.path() + "/l/blobs/sha256/" + std::string(id.substr(7))));

  // Pushed again under another name in the same registry: the layer is mounted, not uploaded.
  ASSERT_EQ(tool({"tag", "imported/busybox:1", reg.host() + "/other/busybox:v1"}).code, 0);
  auto again = tool({"push", reg.host() + "/other/busybox:v1"});
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_NE(again.err.find("Mounted from pushed/busybox"), std::string::npos) << again.err;
  auto third = tool({"push", reg.host() + "/other/busybox:v1"});
  EXPECT_NE(third.err.find("Layer already exists"), std::string::npos) << third.err;

  // And a fresh store pulls the same image ID back.
  TempDir other("hoist-image-test");
  Store s2(other.path() + "/store");
  auto r = pull_image(s2, reg.settings(), Reference::parse(reg.host() + "/pushed/busybox:v1"), {});
  EXPECT_EQ(r.image.id.str(), id);
}

TEST_F(ImageTest, ChunkedPushAndZstdLayers) {
  LocalRegistry reg;
  ASSERT_EQ(tool({"import", fixtures_dir() + "/busybox-rootfs.tar", reg.host() + "/chunked/bb:1"}).code, 0);
  auto push = tool({"push", "--chunk-size", "300000", reg.host() + "/chunked/bb:1"});
  ASSERT_EQ(push.code, 0) << push.err;
  EXPECT_EQ(digest_of(skopeo_raw_manifest(reg, "chunked/bb:1")).str(), std::string(trim(push.out)));

  // skopeo recompresses the layer as zstd; hoist pulls and unpacks it.
  skopeo_push_busybox(reg, "zstd/bb:1", {"--dest-compress-format", "zstd"});
  Store store(root());
  auto r = pull_image(store, reg.settings(), Reference::parse(reg.host() + "/zstd/bb:1"), {});
  EXPECT_EQ(r.image.layers.at(0).media_type, media::kOciLayerZstd);
  EXPECT_EQ(file_digest(store.snapshot_path(r.image.layers[0].chain_id) + "/bin/busybox"),
            file_digest(hoist::test::busybox_rootfs() + "/bin/busybox"));
}

// ---- registries with TLS and authentication ---------------------------------------------------

class ImageAuthTest : public ImageTest, public ::testing::WithParamInterface<LocalRegistry::Mode> {};

TEST_P(ImageAuthTest, PullNeedsTheRightCredentialsAndLeavesNothingWhenRefused) {
  LocalRegistry::Options o;
  o.mode = GetParam();
  o.anonymous = "none";  // token mode: anonymous requests get a token that allows nothing
  LocalRegistry reg(o);
  skopeo_push_busybox(reg, "private/bb:1");
  auto ref = Reference::parse(reg.host() + "/private/bb:1");
  // The TLS registry is reached on https with the CA from certs.d (127.0.0.1 would otherwise be
  // insecure and unverified, as in Docker), so verification really happens.
  auto settings = settings_for(reg);
  settings.loopback_insecure = !reg.tls();
  if (reg.has_auth()) {
    Store store(root());
    try {
      pull_image(store, settings, ref, {});
      FAIL() << "pulled without credentials";
    } catch (const RegistryError& e) {
      EXPECT_TRUE(e.status() == 401 || e.status() == 403 || e.status() == 404) << e.what();
    }
    EXPECT_TRUE(store.list().empty());
    EXPECT_TRUE(store.content().list().empty());
    // A wrong password is refused by login, and nothing is saved.
    auto bad = tool({"login", "-u", reg.user(), "-p", "wrong", reg.host()});
    EXPECT_NE(bad.code, 0);
    EXPECT_FALSE(fs::exists(config_dir() + "/config.json") &&
                 read_file(config_dir() + "/config.json").find(reg.host()) != std::string::npos);
  }
  if (reg.tls()) {
    fs::create_directories(config_dir() + "/certs.d");
    fs::copy(reg.certs_dir(), config_dir() + "/certs.d", fs::copy_options::recursive);
  }
  if (reg.has_auth()) {
    auto good = tool({"login", "-u", reg.user(), "--password-stdin", reg.host()}, reg.password() + "\n");
    ASSERT_EQ(good.code, 0) << good.err;
    EXPECT_EQ(trim(good.out), "Login Succeeded");
    auto cfg = json::parse(read_file(config_dir() + "/config.json"));
    EXPECT_TRUE(cfg["auths"].contains(reg.host())) << cfg.dump();
    EXPECT_EQ(fs::status(config_dir() + "/config.json").permissions() & fs::perms::all,
              fs::perms::owner_read | fs::perms::owner_write);
  }
  {
    Store store(root());
    auto r = pull_image(store, settings, ref, {});
    EXPECT_EQ(r.image.layers.size(), 1u);
  }
  // The tool with the stored credentials and certs: push under a new name, and pull it back.
  ASSERT_EQ(tool({"tag", ref.str(), reg.host() + "/private/copy:2"}).code, 0);
  auto push = tool({"push", reg.host() + "/private/copy:2"});
  EXPECT_EQ(push.code, 0) << push.err;
  EXPECT_EQ(tool({"rmi", reg.host() + "/private/copy:2"}).code, 0);
  auto pull = tool({"pull", reg.host() + "/private/copy:2"});
  EXPECT_EQ(pull.code, 0) << pull.err;
  if (reg.has_auth()) {
    EXPECT_EQ(tool({"logout", reg.host()}).code, 0);
    ASSERT_EQ(tool({"rmi", reg.host() + "/private/copy:2"}).code, 0);
    EXPECT_NE(tool({"pull", reg.host() + "/private/copy:2"}).code, 0);
  }
}

INSTANTIATE_TEST_SUITE_P(Setups, ImageAuthTest,
                         ::testing::Values(LocalRegistry::Mode::Tls, LocalRegistry::Mode::Htpasswd,
                                           LocalRegistry::Mode::Token),
                         [](const auto& info) {
                           switch (info.param) {
                             case LocalRegistry::Mode::Tls: return std::string("Tls");
                             case LocalRegistry::Mode::Htpasswd: return std::string("Htpasswd");
                             case LocalRegistry::Mode::Token: return std::string("Token");
                             default: return std::string("Plain");
                           }
                         });

TEST_F(ImageTest, TlsRegistryWithoutItsCaIsRefused) {
  LocalRegistry reg(LocalRegistry::Mode::Tls);
  skopeo_push_busybox(reg, "x/bb:1");
  auto settings = settings_for(reg);
  settings.certs_dir = dir_.path() + "/empty-certs.d";
  settings.loopback_insecure = false;
  Store store(root());
  try {
    pull_image(store, settings, Reference::parse(reg.host() + "/x/bb:1"), {});
    FAIL() << "trusted an unknown CA";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("certificate"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(store.list().empty());
}

// ---- snapshots: layers stacked, whiteouts honoured, in both snapshotters ------------------------

TEST_F(ImageTest, LayersStackWithWhiteoutsInBothSnapshotters) {
  LocalRegistry reg;
  Registry c(reg.host(), reg.settings());
  push_raw_image(c, "layers/app", "1",
                 {make_tar({{"etc/", ""}, {"etc/keep", "base\n"}, {"etc/gone", "x"}, {"opq/", ""}, {"opq/old", "x"},
                            {"shared", "v1\n"}},
                           true),
                  make_tar({{"etc/.wh.gone", ""}, {"opq/", ""}, {"opq/.wh..wh..opq", ""}, {"opq/new", "n\n"},
                            {"shared", "v2\n"}},
                           true)});
  // Copy snapshotter: the top snapshot is the whole tree.
  {
    Store store(root() + "-copy", SnapshotMode::Copy);
    auto r = pull_image(store, reg.settings(), Reference::parse(reg.host() + "/layers/app:1"), {});
    auto paths = store.layer_paths(r.image);
    ASSERT_EQ(paths.size(), 1u);
    EXPECT_EQ(read_file(paths[0] + "/etc/keep"), "base\n");
    EXPECT_FALSE(fs::exists(paths[0] + "/etc/gone"));
    EXPECT_FALSE(fs::exists(paths[0] + "/opq/old"));
    EXPECT_EQ(read_file(paths[0] + "/opq/new"), "n\n");
    EXPECT_EQ(read_file(paths[0] + "/shared"), "v2\n");
    // The lower snapshot is untouched by the upper one.
    EXPECT_TRUE(fs::exists(store.snapshot_path(r.image.layers[0].chain_id) + "/etc/gone"));
  }
  fs::remove_all(root() + "-copy");
  // Overlay snapshotter: mounted as overlayfs lower layers, the tree a container sees is the same.
  Store store(root(), SnapshotMode::Overlay);
  auto r = pull_image(store, reg.settings(), Reference::parse(reg.host() + "/layers/app:1"), {});
  auto paths = store.layer_paths(r.image);
  ASSERT_EQ(paths.size(), 2u);
  std::string lower = paths[1] + ":" + paths[0];
  auto mnt = dir_.path() + "/mnt";
  fs::create_directories(mnt);
  ASSERT_EQ(mount("overlay", mnt.c_str(), "overlay", MS_RDONLY, ("lowerdir=" + lower).c_str()), 0) << strerror(errno);
  struct Unmount {
    std::string p;
    ~Unmount() { umount2(p.c_str(), MNT_DETACH); }
  } unmount{mnt};
  EXPECT_EQ(read_file(mnt + "/etc/keep"), "base\n");
  EXPECT_FALSE(fs::exists(mnt + "/etc/gone"));
  EXPECT_FALSE(fs::exists(mnt + "/opq/old"));
  EXPECT_EQ(read_file(mnt + "/opq/new"), "n\n");
  EXPECT_EQ(read_file(mnt + "/shared"), "v2\n");
}

// ---- platforms --------------------------------------------------------------------------------

TEST_F(ImageTest, IndexesSelectThePlatform) {
  LocalRegistry reg;
  Registry c(reg.host(), reg.settings());
  auto amd = push_raw_image(c, "multi/app", "amd64", {make_tar({{"arch", "amd64\n"}}, true)}, "amd64");
  auto arm = push_raw_image(c, "multi/app", "arm64", {make_tar({{"arch", "arm64\n"}}, true)}, "arm64");
  json index = {{"schemaVersion", 2},
                {"mediaType", media::kOciIndex},
                {"manifests",
                 {{{"mediaType", media::kOciManifest}, {"digest", arm.manifest_digest.str()}, {"size", arm.manifest.size()},
                   {"platform", {{"os", "linux"}, {"architecture", "arm64"}, {"variant", "v8"}}}},
                  {{"mediaType", media::kOciManifest}, {"digest", amd.manifest_digest.str()}, {"size", amd.manifest.size()},
                   {"platform", {{"os", "linux"}, {"architecture", "amd64"}}}}}}};
  auto index_body = index.dump();
  auto index_digest = c.put_manifest("multi/app", "latest", media::kOciIndex, index_body);

  Store store(root());
  auto ref = Reference::parse(reg.host() + "/multi/app");
  PullOptions amd64;
  amd64.platform = Platform::parse("linux/amd64");
  auto r = pull_image(store, reg.settings(), ref, amd64);
  EXPECT_EQ(r.image.manifest_digest, amd.manifest_digest);
  EXPECT_EQ(r.digest, index_digest);  // the repo digest is the index's, as in Docker
  EXPECT_EQ(read_file(store.snapshot_path(r.image.layers[0].chain_id) + "/arch"), "amd64\n");

  PullOptions arm64;
  arm64.platform = Platform::parse("linux/arm64");
  r = pull_image(store, reg.settings(), ref, arm64);
  EXPECT_EQ(r.image.id, arm.config_digest);
  EXPECT_EQ(read_file(store.snapshot_path(r.image.layers[0].chain_id) + "/arch"), "arm64\n");

  PullOptions s390x;
  s390x.platform = Platform::parse("linux/s390x");
  try {
    pull_image(store, reg.settings(), ref, s390x);
    FAIL();
  } catch (const NotFound& e) {
    EXPECT_STREQ(e.what(), "no matching manifest for linux/s390x in the manifest list entries");
  }
}

// ---- bad registries and bad images: clear errors, store as it was ------------------------------

class BadInputTest : public ImageTest {
 protected:
  void SetUp() override {
    ImageTest::SetUp();
    if (IsSkipped()) return;
    reg_ = std::make_unique<LocalRegistry>();
    Registry c(reg_->host(), reg_->settings());
    std::string big(3 << 20, '\0');
    std::mt19937 rng(42);
    for (auto& ch : big) ch = static_cast<char>(rng());
    image_ = push_raw_image(c, "bad/app", "1", {make_tar({{"etc/", ""}, {"etc/hello", "hi\n"}}, true),
                                                make_tar({{"data.bin", big}}, true)});
    proxy_ = std::make_unique<FaultyRegistry>(reg_.get());
    // Something already in the store, which a failed pull must not disturb.
    {
      Store s(root());
      auto bb = std::ifstream(fixtures_dir() + "/busybox-rootfs.tar", std::ios::binary);
      ImportOptions io;
      io.refs.push_back(Reference::parse("existing:1"));
      import_image(s, [&](char* b, std::size_t n) -> std::size_t { bb.read(b, n); return bb.gcount(); }, io);
    }
    before_ = snapshot_of_store();
  }
  // The store's visible state: records, references, blobs, snapshots.
  std::string snapshot_of_store() {
    Store s(root());
    std::string out;
    for (auto& r : s.list()) {
      out += r.id.str() + "\n";
      for (auto& ref : s.references(r.id)) out += " " + ref.str() + "\n";
    }
    for (auto& d : s.content().list()) out += d.str() + "\n";
    for (auto& e : fs::directory_iterator(root() + "/snapshots")) out += e.path().filename().string() + "\n";
    return out;
  }
  // Pulls through the proxy; expects an Error containing `what`; checks the store is unchanged.
  void expect_pull_fails(const std::string& what, const std::string& repo_tag = "bad/app:1") {
    {
      Store store(root());
      auto settings = proxy_->settings();
      settings.max_attempts = 3;
      try {
        pull_image(store, settings, Reference::parse(proxy_->host() + "/" + repo_tag), {});
        ADD_FAILURE() << "the pull succeeded";
      } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
      } catch (const std::exception& e) {
        ADD_FAILURE() << "not an Error: " << e.what();
      }
      EXPECT_TRUE(fs::is_empty(root() + "/tmp"));
      EXPECT_TRUE(fs::is_empty(root() + "/content/ingest"));
    }
    EXPECT_EQ(snapshot_of_store(), before_);
  }
  std::unique_ptr<LocalRegistry> reg_;
  std::unique_ptr<FaultyRegistry> proxy_;
  PushedImage image_;
  std::string before_;
};

TEST_F(BadInputTest, ServerErrorsThenSuccess) {
  proxy_->set_rules({{{"method", "GET"}, {"path", "/blobs/"}, {"action", "status"}, {"status", 500}, {"times", 2}},
                     {{"method", "GET"}, {"path", "/manifests/"}, {"action", "status"}, {"status", 503}, {"times", 1}}});
  Store store(root());
  auto r = pull_image(store, proxy_->settings(), Reference::parse(proxy_->host() + "/bad/app:1"), {});
  EXPECT_EQ(r.image.manifest_digest, image_.manifest_digest);
  EXPECT_GE(proxy_->requests("GET", "/blobs/").size(), 5u);  // 2 failures + 3 blobs
  EXPECT_EQ(read_file(store.snapshot_path(r.image.layers[0].chain_id) + "/etc/hello"), "hi\n");
}

TEST_F(BadInputTest, TruncatedDownloadResumes) {
  proxy_->set_rules({{{"method", "GET"}, {"path", "/blobs/"}, {"action", "truncate"}, {"bytes", 100000}, {"times", 1}}});
  Store store(root());
  auto r = pull_image(store, proxy_->settings(), Reference::parse(proxy_->host() + "/bad/app:1"), {});
  EXPECT_EQ(r.image.id, image_.config_digest);
}

TEST_F(BadInputTest, BlobWhoseDigestDoesNotMatch) {
  proxy_->set_rules({{{"method", "GET"}, {"path", "/blobs/"}, {"action", "corrupt"}, {"offset", 5000}, {"times", -1}}});
  expect_pull_fails("digest mismatch");
}

TEST_F(BadInputTest, BlobThatIsAlwaysTruncated) {
  proxy_->set_rules({{{"method", "GET"}, {"path", "/blobs/"}, {"action", "truncate"}, {"bytes", 1000}, {"times", -1}}});
  expect_pull_fails("bad/app");
}

TEST_F(BadInputTest, PersistentServerErrors) {
  proxy_->set_rules({{{"method", "GET"}, {"path", "/blobs/sha256:" + image_.config_digest.hex}, {"action", "status"},
                      {"status", 500}, {"times", -1}}});
  expect_pull_fails("500");
}

TEST_F(BadInputTest, ManifestOverTheSizeLimit) {
  proxy_->set_rules({{{"method", "GET"}, {"path", "/manifests/"}, {"action", "huge"}, {"size", 64 << 20}, {"times", -1}}});
  expect_pull_fails("limit");
}

TEST_F(BadInputTest, MalformedReference) {
  auto r = tool({"pull", proxy_->host() + "/Bad/UPPER:tag"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("invalid reference format: repository name must be lowercase"), std::string::npos) << r.err;
  r = tool({"pull", "busybox:bad tag"});
  EXPECT_NE(r.err.find("invalid reference format"), std::string::npos) << r.err;
  EXPECT_EQ(snapshot_of_store(), before_);
}

TEST_F(BadInputTest, UnknownImage) {
  expect_pull_fails("manifest unknown", "bad/nothing:1");
}

TEST_F(BadInputTest, ConfigWhoseDiffIdsDoNotMatchTheLayers) {
  Registry c(reg_->host(), reg_->settings());
  push_raw_image(c, "bad/lying", "1", {make_tar({{"a", "a"}}, true)}, "amd64",
                 std::vector<Digest>{digest_of("something else")});
  expect_pull_fails("the unpacked content hashes to", "bad/lying:1");
}

TEST_F(BadInputTest, LayerThatTriesToEscape) {
  Registry c(reg_->host(), reg_->settings());
  auto sentinel = dir_.path() + "/escape-target";
  push_raw_image(c, "bad/escape", "1", {make_tar({{"../../../../../../.." + sentinel, "pwned"}}, true)});
  expect_pull_fails("escapes the layer root", "bad/escape:1");
  EXPECT_FALSE(fs::exists(sentinel));
  // A symlink pointing out, then a file written through it: kept inside the layer.
  push_raw_image(c, "bad/escape", "2",
                 {make_tar({{dir_.path().substr(1) + "/", ""}, {"link", "->" + dir_.path()}, {"link/escaped", "pwned"}},
                           true)});
  Store store(root());
  auto r = pull_image(store, reg_->settings(), Reference::parse(reg_->host() + "/bad/escape:2"), {});
  EXPECT_FALSE(fs::exists(dir_.path() + "/escaped"));
  EXPECT_TRUE(fs::exists(store.snapshot_path(r.image.layers[0].chain_id) + dir_.path() + "/escaped"));
}

// ---- crash safety -----------------------------------------------------------------------------

// kill -9 of a pull (then of a load, then of an rmi) at many points: the store always opens, holds
// no half image, and the next attempt completes.
TEST_F(ImageTest, KillNineAtAnyPointLeavesAConsistentStore) {
  LocalRegistry reg;
  {
    Registry c(reg.host(), reg.settings());
    std::vector<std::string> layers;
    std::mt19937 rng(7);
    for (int l = 0; l < 4; ++l) {
      std::vector<std::pair<std::string, std::string>> entries;
      for (int f = 0; f < 200; ++f) {
        std::string data(20000 + l * 1000, '\0');
        for (auto& ch : data) ch = static_cast<char>(rng() % 16);  // compressible but not trivially
        entries.push_back({"d" + std::to_string(l) + "/f" + std::to_string(f), data});
      }
      layers.push_back(make_tar(entries, true));
    }
    push_raw_image(c, "crash/app", "1", layers);
  }
  auto ref = reg.host() + "/crash/app:1";
  std::size_t images = 0;
  for (int delay_ms : {5, 20, 40, 60, 90, 130, 180, 250}) {
    pid_t pid = fork();
    if (pid == 0) {
      execl(HOIST_IMAGE_BIN, HOIST_IMAGE_BIN, "--root", root().c_str(), "pull", "-q", ref.c_str(), nullptr);
      _exit(127);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    expect_store_consistent(root(), &images);
    EXPECT_LE(images, 1u);
  }
  auto done = tool({"pull", "-q", ref});
  ASSERT_EQ(done.code, 0) << done.err;
  expect_store_consistent(root(), &images);
  EXPECT_EQ(images, 1u);

  // load, killed part-way, then completed.
  auto saved = dir_.path() + "/saved.tar";
  ASSERT_EQ(tool({"save", "-o", saved, ref}).code, 0);
  ASSERT_EQ(tool({"rmi", ref}).code, 0);
  for (int delay_ms : {10, 50, 100, 200}) {
    pid_t pid = fork();
    if (pid == 0) {
      execl(HOIST_IMAGE_BIN, HOIST_IMAGE_BIN, "--root", root().c_str(), "load", "-q", "-i", saved.c_str(), nullptr);
      _exit(127);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    expect_store_consistent(root(), &images);
  }
  auto load = tool({"load", "-q", "-i", saved});
  ASSERT_EQ(load.code, 0) << load.err;
  EXPECT_NE(load.out.find("Loaded image: " + ref), std::string::npos) << load.out;

  // rmi killed at once or run to the end: the image is there whole, or gone with its layers.
  pid_t pid = fork();
  if (pid == 0) {
    execl(HOIST_IMAGE_BIN, HOIST_IMAGE_BIN, "--root", root().c_str(), "rmi", ref.c_str(), nullptr);
    _exit(127);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(3));
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  expect_store_consistent(root(), &images);
  auto rm = tool({"rmi", ref});
  if (images == 1) {
    EXPECT_EQ(rm.code, 0) << rm.err;
  }
  expect_store_consistent(root(), &images);
  EXPECT_EQ(images, 0u);
  EXPECT_EQ(count_entries(root() + "/snapshots"), 0u);
  EXPECT_EQ(count_entries(root() + "/content/blobs/sha256"), 0u);
}

// ---- formats: save / load / import, docker and skopeo as oracles -------------------------------

TEST_F(ImageTest, SaveLoadRoundTripsThroughDocker) {
  if (!hoist::test::PrivateDockerd::available()) GTEST_SKIP() << "docker missing";
  hoist::test::PrivateDockerd docker;
  // hoist → docker
  ASSERT_EQ(tool({"load", "-i", fixtures_dir() + "/busybox-oci.tar"}).code, 0);
  auto id = std::string(trim(tool({"inspect", "localhost/hoist-busybox"}).out));
  id = json::parse(id)["Id"].get<std::string>();
  auto saved = dir_.path() + "/hoist-save.tar";
  ASSERT_EQ(tool({"save", "-o", saved, "localhost/hoist-busybox:latest"}).code, 0);
  auto load = docker.docker({"load", "-i", saved});
  ASSERT_EQ(load.code, 0) << load.err;
  EXPECT_NE(load.out.find("localhost/hoist-busybox:latest"), std::string::npos) << load.out;
  auto inspect = docker.docker({"image", "inspect", "--format", "{{.Id}}", "localhost/hoist-busybox:latest"});
  EXPECT_EQ(trim(inspect.out), id);
  auto run = docker.docker({"run", "--rm", "--network", "none", "localhost/hoist-busybox:latest", "echo", "ran"});
  if (run.code == 0) {
    EXPECT_EQ(trim(run.out), "ran");  // docker runs what hoist saved (when it can run containers here at all)
  }

  // docker → hoist
  ASSERT_EQ(docker.docker({"tag", "localhost/hoist-busybox:latest", "from-docker/bb:2"}).code, 0);
  auto dsaved = dir_.path() + "/docker-save.tar";
  ASSERT_EQ(docker.docker({"save", "-o", dsaved, "from-docker/bb:2"}).code, 0);
  ASSERT_EQ(tool({"rmi", "localhost/hoist-busybox"}).code, 0);
  auto hl = tool({"load", "-i", dsaved});
  ASSERT_EQ(hl.code, 0) << hl.err;
  EXPECT_EQ(trim(hl.out), "Loaded image: from-docker/bb:2");
  Store s(root());
  auto rec = s.resolve("from-docker/bb:2");
  EXPECT_EQ(rec.id.str(), id);
  EXPECT_EQ(file_digest(s.snapshot_path(rec.layers[0].chain_id) + "/bin/busybox"),
            file_digest(hoist::test::busybox_rootfs() + "/bin/busybox"));
}

TEST_F(ImageTest, SaveLoadRoundTripsThroughSkopeo) {
  ASSERT_EQ(tool({"load", "-i", fixtures_dir() + "/busybox-oci.tar"}).code, 0);
  auto info = json::parse(tool({"inspect", "localhost/hoist-busybox"}).out);
  auto id = info["Id"].get<std::string>();
  TempDir out("hoist-skopeo-out");
  for (auto fmt : {"docker", "oci"}) {
    auto saved = dir_.path() + "/save-" + fmt + ".tar";
    ASSERT_EQ(tool({"save", "--format", fmt, "-o", saved, "localhost/hoist-busybox:latest"}).code, 0);
    // skopeo reads the archive (docker-archive and oci-archive), verifying every blob.
    std::vector<std::string> sources = {"oci-archive:" + saved};
    if (std::string(fmt) == "docker") sources.push_back("docker-archive:" + saved);
    for (auto& src : sources) {
      // (dir: keeps the manifest and config as they are; oci: would convert a docker config)
      auto dst = out.path() + "/" + fmt + std::to_string(src.size());
      auto r = run_cmd({"skopeo", "--insecure-policy", "copy", src, "dir:" + dst}, "", 120);
      ASSERT_EQ(r.code, 0) << src << ": " << r.err;
      auto m = json::parse(read_file(dst + "/manifest.json"));
      EXPECT_EQ(m["config"]["digest"].get<std::string>(), id) << src;
    }
  }
  // The OCI format keeps the image as pulled: the manifest digest is unchanged.
  auto oci = dir_.path() + "/save-oci.tar";
  TempDir other("hoist-image-test");
  auto r = run_cmd({HOIST_IMAGE_BIN, "--root", other.path() + "/s", "load", "-i", oci});
  ASSERT_EQ(r.code, 0) << r.err;
  Store s2(other.path() + "/s");
  EXPECT_EQ(s2.resolve("localhost/hoist-busybox").manifest_digest.str(), info["ManifestDigest"].get<std::string>());

  // skopeo → hoist: a docker-archive written by skopeo.
  auto from_skopeo = dir_.path() + "/skopeo.tar";
  auto w = run_cmd({"skopeo", "--insecure-policy", "copy", "oci:" + busybox_layout() + ":latest",
                    "docker-archive:" + from_skopeo + ":skopeo/bb:3"},
                   "", 120);
  ASSERT_EQ(w.code, 0) << w.err;
  auto l = tool({"load", "-i", from_skopeo});
  ASSERT_EQ(l.code, 0) << l.err;
  EXPECT_EQ(trim(l.out), "Loaded image: skopeo/bb:3");
  EXPECT_EQ(json::parse(tool({"inspect", "skopeo/bb:3"}).out)["Id"].get<std::string>(), id);
}

TEST_F(ImageTest, ImportMakesAOneLayerImageOfARootfs) {
  auto r = tool({"import", "-m", "from the fixtures", fixtures_dir() + "/busybox-rootfs.tar", "imported:1"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto info = json::parse(tool({"inspect", "imported:1"}).out);
  EXPECT_EQ(info["Layers"].size(), 1u);
  EXPECT_EQ(info["Config"]["rootfs"]["diff_ids"][0], digest_of(read_file(fixtures_dir() + "/busybox-rootfs.tar")).str());
  EXPECT_EQ(info["Config"]["history"][0]["comment"], "from the fixtures");
  auto fsdir = info["Layers"][0]["path"].get<std::string>();
  EXPECT_EQ(file_digest(fsdir + "/bin/busybox"), file_digest(hoist::test::busybox_rootfs() + "/bin/busybox"));
  // A gzip-compressed tarball from stdin gives the same diff ID.
  auto gz = run_cmd({"gzip", "-c", fixtures_dir() + "/busybox-rootfs.tar"});
  ASSERT_EQ(gz.code, 0);
  auto r2 = tool({"import", "-", "imported:gz"}, gz.out);
  ASSERT_EQ(r2.code, 0) << r2.err;
  auto info2 = json::parse(tool({"inspect", "imported:gz"}).out);
  EXPECT_EQ(info2["Config"]["rootfs"]["diff_ids"], info["Config"]["rootfs"]["diff_ids"]);
  EXPECT_EQ(info2["Layers"][0]["mediaType"], media::kOciLayerGzip);
  // Garbage is refused and leaves nothing.
  auto bad = tool({"import", "-", "garbage:1"}, std::string(5000, 'x'));
  EXPECT_NE(bad.code, 0);
  auto imgs = tool({"images", "-q"});
  EXPECT_EQ(std::count(imgs.out.begin(), imgs.out.end(), '\n'), 2);
  expect_store_consistent(root());
}
