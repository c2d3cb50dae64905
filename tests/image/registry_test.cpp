// The registry client (image/registry.h) against a real Docker distribution registry on loopback in
// every mode (plain, TLS, htpasswd, token), with skopeo as an independent oracle, and against a
// fault-injecting proxy. The helpers of registry_internal.h and AuthFile are tested here too.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "common/digest.h"
#include "harness.h"
#include "image/registry.h"
#include "image/registry_internal.h"
#include "registry_harness.h"

namespace hoist::test {
// Readable parameter names in ctest's listing.
inline void PrintTo(LocalRegistry::Mode m, std::ostream* os) {
  static const char* names[] = {"Plain", "Tls", "Htpasswd", "Token"};
  *os << names[static_cast<int>(m)];
}
}  // namespace hoist::test

namespace {

namespace fs = std::filesystem;
using namespace hoist;
using namespace hoist::image;
using hoist::test::FaultyRegistry;
using hoist::test::LocalRegistry;
using hoist::test::run_cmd;
using hoist::test::TempDir;
using nlohmann::json;
using Mode = LocalRegistry::Mode;

#define SKIP_WITHOUT_REGISTRY_TOOLS()                                         \
  do {                                                                        \
    if (auto m = hoist::test::registry_tools_missing(); !m.empty()) GTEST_SKIP() << m; \
  } while (0)

std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

struct BlobFile {
  std::string path;
  std::string data;
  Digest digest;
  std::int64_t size() const { return static_cast<std::int64_t>(data.size()); }
};

BlobFile write_blob(const std::string& dir, const std::string& data) {
  BlobFile b;
  b.data = data;
  b.digest = digest_of(data);
  b.path = dir + "/" + b.digest.hex;
  std::ofstream(b.path, std::ios::binary) << data;
  return b;
}

// A minimal OCI image: a (random, not really tar) layer, its config, the manifest.
struct MiniImage {
  BlobFile layer, config;
  std::string manifest;
  Digest manifest_digest;
};

MiniImage make_image(const std::string& dir, unsigned seed, std::size_t layer_size = 300 * 1024) {
  MiniImage im;
  im.layer = write_blob(dir, random_bytes(layer_size, seed));
  json cfg = {{"architecture", "amd64"},
              {"os", "linux"},
              {"config", {{"Cmd", {"sh"}}}},
              {"rootfs", {{"type", "layers"}, {"diff_ids", {im.layer.digest.str()}}}},
              {"history", {{{"created_by", "registry_test seed " + std::to_string(seed)}}}}};
  im.config = write_blob(dir, cfg.dump());
  json m = {{"schemaVersion", 2},
            {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
            {"config",
             {{"mediaType", "application/vnd.oci.image.config.v1+json"},
              {"digest", im.config.digest.str()},
              {"size", im.config.size()}}},
            {"layers",
             {{{"mediaType", "application/vnd.oci.image.layer.v1.tar+gzip"},
               {"digest", im.layer.digest.str()},
               {"size", im.layer.size()}}}}};
  im.manifest = m.dump();
  im.manifest_digest = digest_of(im.manifest);
  return im;
}

const std::string kOciManifest = "application/vnd.oci.image.manifest.v1+json";

void push_image(Registry& r, const std::string& repo, const std::string& tag, const MiniImage& im) {
  r.push_blob(repo, im.layer.digest, im.layer.path, im.layer.size());
  r.push_blob(repo, im.config.digest, im.config.path, im.config.size());
  r.put_manifest(repo, tag, kOciManifest, im.manifest);
}

std::string fetch_blob(Registry& r, const std::string& repo, const Digest& d, std::int64_t* size_seen = nullptr,
                       int* size_calls = nullptr) {
  std::string out;
  r.get_blob(
      repo, d, [&](const char* p, std::size_t n) { out.append(p, n); },
      [&](std::int64_t s) {
        if (size_seen) *size_seen = s;
        if (size_calls) ++*size_calls;
      });
  return out;
}

// Runs `f`, expects a RegistryError with `status` (-1: any) whose message contains every part.
template <class F>
RegistryError expect_registry_error(F&& f, int status, const std::vector<std::string>& parts) {
  try {
    f();
  } catch (const RegistryError& e) {
    if (status >= 0) {
      EXPECT_EQ(e.status(), status) << e.what();
    }
    for (auto& p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << "\"" << p << "\" not in: " << e.what();
    return e;
  }
  ADD_FAILURE() << "no RegistryError thrown";
  return RegistryError("none", -1);
}

std::vector<std::string> skopeo_auth(const LocalRegistry& reg) {
  if (!reg.has_auth()) return {};
  return {"--creds", reg.user() + ":" + reg.password()};
}

// `skopeo inspect --raw`: the manifest bytes as an independent client sees them.
std::string skopeo_raw(const LocalRegistry& reg, const std::string& ref) {
  std::vector<std::string> argv = {"skopeo", "--insecure-policy", "inspect", "--raw", "--tls-verify=false"};
  for (auto& a : skopeo_auth(reg)) argv.push_back(a);
  argv.push_back("docker://" + reg.host() + "/" + ref);
  auto r = run_cmd(argv, "", 120);
  EXPECT_EQ(r.code, 0) << r.err;
  return r.out;
}

// The busybox OCI layout of scripts/make-busybox-fixtures.sh ($HOIST_TEST_FIXTURES, else built once
// into a temp dir removed at exit).
std::string busybox_oci() {
  static std::once_flag once;
  static std::unique_ptr<TempDir> tmp;
  static std::string dir;
  std::call_once(once, [] {
    const char* pre = getenv("HOIST_TEST_FIXTURES");
    if (pre && *pre && fs::exists(std::string(pre) + "/busybox-oci/index.json")) {
      dir = std::string(pre) + "/busybox-oci";
      return;
    }
    tmp = std::make_unique<TempDir>("hoist-fixtures");
    auto r = run_cmd({std::string(HOIST_SOURCE_DIR) + "/scripts/make-busybox-fixtures.sh", tmp->path()}, "", 300);
    if (r.code == 0) dir = tmp->path() + "/busybox-oci";
    else std::cerr << "make-busybox-fixtures failed: " << r.err << "\n";
  });
  return dir;
}

// ---- pure helpers --------------------------------------------------------------------------------

TEST(RegistryInternal, Base64) {
  using detail::base64_decode;
  using detail::base64_encode;
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("alice:s3cr:et"), "YWxpY2U6czNjcjpldA==");
  EXPECT_EQ(base64_decode("YWxpY2U6czNjcjpldA==").value(), "alice:s3cr:et");
  EXPECT_EQ(base64_decode("YWxpY2U6czNjcjpldA").value(), "alice:s3cr:et");
  EXPECT_FALSE(base64_decode("YW*x").has_value());
  EXPECT_FALSE(base64_decode("Zg==Zg").has_value());
  auto bin = random_bytes(1000, 7);
  EXPECT_EQ(base64_decode(base64_encode(bin)).value(), bin);
}

TEST(RegistryInternal, ParsesWwwAuthenticate) {
  auto cs = detail::parse_www_authenticate(
      R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull,push")");
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_EQ(cs[0].scheme, "bearer");
  EXPECT_EQ(cs[0].param("realm"), "https://auth.docker.io/token");
  EXPECT_EQ(cs[0].param("service"), "registry.docker.io");
  EXPECT_EQ(cs[0].param("scope"), "repository:library/busybox:pull,push");

  cs = detail::parse_www_authenticate(R"(Basic realm="Registry \"x\"", Bearer realm=http://a/t, service=svc)");
  ASSERT_EQ(cs.size(), 2u);
  EXPECT_EQ(cs[0].scheme, "basic");
  EXPECT_EQ(cs[0].param("realm"), "Registry \"x\"");
  EXPECT_EQ(cs[1].scheme, "bearer");
  EXPECT_EQ(cs[1].param("realm"), "http://a/t");
  EXPECT_EQ(cs[1].param("service"), "svc");

  cs = detail::parse_www_authenticate("basic");
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_EQ(cs[0].scheme, "basic");
  EXPECT_TRUE(cs[0].params.empty());
  EXPECT_TRUE(detail::parse_www_authenticate("").empty());
}

TEST(RegistryInternal, SplitsHostPort) {
  EXPECT_EQ(detail::split_host_port("localhost:5000"), (std::pair<std::string, std::string>{"localhost", "5000"}));
  EXPECT_EQ(detail::split_host_port("[::1]:5000"), (std::pair<std::string, std::string>{"::1", "5000"}));
  EXPECT_EQ(detail::split_host_port("docker.io"), (std::pair<std::string, std::string>{"docker.io", ""}));
  EXPECT_EQ(detail::split_host_port("::1"), (std::pair<std::string, std::string>{"::1", ""}));
}

TEST(RegistryInternal, InsecureRules) {
  using detail::is_insecure_registry;
  // Loopback, as Docker: on by default, off on request.
  EXPECT_TRUE(is_insecure_registry("127.0.0.1:5000", {}, true));
  EXPECT_TRUE(is_insecure_registry("127.1.2.3", {}, true));
  EXPECT_TRUE(is_insecure_registry("[::1]:5000", {}, true));
  EXPECT_TRUE(is_insecure_registry("localhost:5000", {}, true));
  EXPECT_FALSE(is_insecure_registry("127.0.0.1:5000", {}, false));
  EXPECT_FALSE(is_insecure_registry("10.1.2.3:5000", {}, true));
  // host:port, host (any port), CIDR.
  EXPECT_TRUE(is_insecure_registry("10.1.2.3:5000", {"10.1.2.3:5000"}, false));
  EXPECT_FALSE(is_insecure_registry("10.1.2.3:5001", {"10.1.2.3:5000"}, false));
  EXPECT_TRUE(is_insecure_registry("10.1.2.3:5001", {"10.1.2.3"}, false));
  EXPECT_TRUE(is_insecure_registry("10.1.2.3:5001", {"10.0.0.0/8"}, false));
  EXPECT_FALSE(is_insecure_registry("11.1.2.3:5001", {"10.0.0.0/8"}, false));
  EXPECT_TRUE(is_insecure_registry("192.168.7.9", {"192.168.4.0/22"}, false));
  EXPECT_FALSE(is_insecure_registry("192.168.8.1", {"192.168.4.0/22"}, false));
  EXPECT_TRUE(is_insecure_registry("[fd00::5]:443", {"fd00::/8"}, false));
  EXPECT_TRUE(is_insecure_registry("Reg.Example.COM:5000", {"reg.example.com:5000"}, false));
  EXPECT_TRUE(is_insecure_registry("reg.example.com:5000", {"http://reg.example.com:5000/"}, false));
  EXPECT_FALSE(is_insecure_registry("reg.example.com", {"other.example.com", "junk/99"}, false));
}

TEST(RegistryInternal, DockerHubNames) {
  EXPECT_EQ(detail::endpoint_host("docker.io"), "registry-1.docker.io");
  EXPECT_EQ(detail::endpoint_host("index.docker.io"), "registry-1.docker.io");
  EXPECT_EQ(detail::endpoint_host("quay.io"), "quay.io");
  EXPECT_EQ(AuthFile::key_for("docker.io"), "https://index.docker.io/v1/");
  EXPECT_EQ(AuthFile::key_for("localhost:5000"), "localhost:5000");
  EXPECT_EQ(detail::normalize_auth_key("https://index.docker.io/v1/"), "docker.io");
  EXPECT_EQ(detail::normalize_auth_key("http://Reg.Example.com:5000/v2/"), "reg.example.com:5000");
}

TEST(RegistryInternal, ErrorBodies) {
  auto e = detail::parse_error_body(R"({"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{}}]})");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code, "MANIFEST_UNKNOWN");
  EXPECT_EQ(e->message, "manifest unknown");
  e = detail::parse_error_body(R"({"errors":[{"code":"DENIED"}]})");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->message, "denied");
  e = detail::parse_error_body(R"({"details":"incorrect username or password"})");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->message, "incorrect username or password");
  EXPECT_FALSE(detail::parse_error_body("<html>502 Bad Gateway</html>"));
  EXPECT_FALSE(detail::parse_error_body("{}"));
  EXPECT_EQ(detail::bare_media_type(" Application/JSON; charset=utf-8"), "application/json");
}

// ---- AuthFile ----------------------------------------------------------------------------------

TEST(RegistryAuthFile, SetSaveLoadKeepsOtherKeys) {
  TempDir d;
  std::string path = d.path() + "/sub/config.json";
  {
    fs::create_directories(d.path() + "/sub");
    std::ofstream(path) << R"({"auths": {"other.example.com": {"auth": "dTpw", "email": "x@y"}},
                               "credHelpers": {"gcr.io": "gcloud"}, "psFormat": "table"})";
  }
  auto f = AuthFile::load(path);
  ASSERT_TRUE(f.get("other.example.com"));
  EXPECT_EQ(f.get("other.example.com")->username, "u");
  EXPECT_EQ(f.get("other.example.com")->password, "p");
  EXPECT_FALSE(f.get("docker.io"));
  f.set("docker.io", {"hub", "pa:ss", ""});
  f.set("127.0.0.1:5000", {"alice", "secret", ""});
  f.save();
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  json j = json::parse(std::ifstream(path));
  EXPECT_EQ(j["psFormat"], "table");
  EXPECT_EQ(j["credHelpers"]["gcr.io"], "gcloud");
  EXPECT_EQ(j["auths"]["other.example.com"]["email"], "x@y");
  EXPECT_EQ(j["auths"]["https://index.docker.io/v1/"]["auth"], detail::base64_encode("hub:pa:ss"));
  EXPECT_EQ(j["auths"]["127.0.0.1:5000"]["auth"], detail::base64_encode("alice:secret"));

  auto g = AuthFile::load(path);
  ASSERT_TRUE(g.get("docker.io"));
  EXPECT_EQ(g.get("docker.io")->password, "pa:ss");
  EXPECT_EQ(g.get("index.docker.io")->username, "hub");
  EXPECT_TRUE(g.erase("127.0.0.1:5000"));
  EXPECT_FALSE(g.erase("127.0.0.1:5000"));
  g.save();
  EXPECT_FALSE(AuthFile::load(path).get("127.0.0.1:5000"));
  EXPECT_TRUE(AuthFile::load(path).get("docker.io"));
}

TEST(RegistryAuthFile, OtherSpellingsAndTokens) {
  TempDir d;
  std::string path = d.path() + "/config.json";
  std::ofstream(path) << json{{"auths",
                               {{"https://reg.example.com:5000/v2/", {{"auth", detail::base64_encode("a:b")}}},
                                {"tok.example.com", {{"auth", detail::base64_encode("<token>:")}, {"identitytoken", "rt"}}},
                                {"empty.example.com", json::object()}}}}
                              .dump();
  auto f = AuthFile::load(path);
  ASSERT_TRUE(f.get("reg.example.com:5000"));
  EXPECT_EQ(f.get("reg.example.com:5000")->username, "a");
  EXPECT_EQ(f.get("tok.example.com")->identity_token, "rt");
  EXPECT_FALSE(f.get("empty.example.com"));
  EXPECT_FALSE(f.get("reg.example.com"));  // another port is another registry
}

TEST(RegistryAuthFile, MissingIsEmptyMalformedIsAnError) {
  TempDir d;
  auto f = AuthFile::load(d.path() + "/nope.json");
  EXPECT_FALSE(f.get("docker.io"));
  std::string bad = d.path() + "/bad.json";
  std::ofstream(bad) << "{\"auths\": ";
  try {
    AuthFile::load(bad);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
  }
  std::ofstream(bad, std::ios::trunc) << R"({"auths": {"x": {"auth": "!!!"}}})";
  EXPECT_THROW(AuthFile::load(bad).get("x"), Error);
}

// ---- every mode ----------------------------------------------------------------------------------

class RegistryModes : public ::testing::TestWithParam<Mode> {
 protected:
  static std::map<Mode, std::unique_ptr<LocalRegistry>>& regs() {
    static std::map<Mode, std::unique_ptr<LocalRegistry>> m;
    return m;
  }
  static void TearDownTestSuite() { regs().clear(); }
  void SetUp() override {
    SKIP_WITHOUT_REGISTRY_TOOLS();
    auto& slot = regs()[GetParam()];
    if (!slot) slot = std::make_unique<LocalRegistry>(GetParam());
    reg_ = slot.get();
  }
  // A client as a user would configure it: TLS registries verified with the certs.d CA (loopback
  // is insecure by default, so that is switched off to make the CA matter).
  std::unique_ptr<Registry> client(bool with_credentials = true) {
    auto s = reg_->settings();
    if (reg_->tls()) s.loopback_insecure = false;
    auto c = std::make_unique<Registry>(reg_->host(), s);
    if (with_credentials) c->set_credentials(reg_->credentials());
    return c;
  }
  LocalRegistry* reg_ = nullptr;
  TempDir tmp_;
};

TEST_P(RegistryModes, Ping) {
  auto c = client();
  c->ping();
  EXPECT_EQ(c->base_url(), reg_->url());
  if (!reg_->has_auth()) return;
  auto wrong = client(false);
  wrong->set_credentials({reg_->user(), "wrong-password", ""});
  auto e = expect_registry_error([&] { wrong->ping(); }, 401, {"ping " + reg_->host()});
  if (GetParam() == Mode::Htpasswd) {
    auto anon = client(false);
    expect_registry_error([&] { anon->ping(); }, 401, {"authentication required (401)"});
  }
}

TEST_P(RegistryModes, CredentialsFromAuthFile) {
  if (!reg_->has_auth()) GTEST_SKIP() << "no auth in this mode";
  std::string path = tmp_.path() + "/docker/config.json";
  auto f = AuthFile::load(path);
  f.set(reg_->host(), reg_->credentials());
  f.save();
  auto s = reg_->settings();
  s.auth_file = path;
  Registry c(reg_->host(), s);
  c.ping();
  auto im = make_image(tmp_.path(), 99, 1000);
  c.push_blob("authfile/x", im.layer.digest, im.layer.path, im.layer.size());
  EXPECT_TRUE(c.blob_exists("authfile/x", im.layer.digest));
}

TEST_P(RegistryModes, PushAndPullRoundTrip) {
  auto c = client();
  auto im = make_image(tmp_.path(), 1);
  const std::string repo = "hoist/roundtrip";
  EXPECT_FALSE(c->blob_exists(repo, im.layer.digest));
  EXPECT_FALSE(c->head_manifest(repo, "v1"));

  // Monolithic layer, chunked config (chunks smaller than the blob, last one short).
  std::int64_t last_progress = -1;
  c->push_blob(repo, im.layer.digest, im.layer.path, im.layer.size(), 0, [&](std::int64_t n) { last_progress = n; });
  EXPECT_EQ(last_progress, im.layer.size());
  c->push_blob(repo, im.config.digest, im.config.path, im.config.size(), 50);
  EXPECT_TRUE(c->blob_exists(repo, im.layer.digest));
  EXPECT_TRUE(c->blob_exists(repo, im.config.digest));

  // A chunked upload of a bigger blob: 300 KiB in 64 KiB PATCHes.
  auto big = write_blob(tmp_.path(), random_bytes(300 * 1024 + 17, 2));
  std::vector<std::int64_t> progress;
  c->push_blob(repo, big.digest, big.path, big.size(), 64 * 1024, [&](std::int64_t n) { progress.push_back(n); });
  ASSERT_FALSE(progress.empty());
  EXPECT_EQ(progress.back(), big.size());
  EXPECT_TRUE(std::is_sorted(progress.begin(), progress.end()));
  EXPECT_EQ(fetch_blob(*c, repo, big.digest), big.data);

  Digest md = c->put_manifest(repo, "v1", kOciManifest, im.manifest);
  EXPECT_EQ(md, im.manifest_digest);

  auto by_tag = c->get_manifest(repo, "v1");
  EXPECT_EQ(by_tag.body, im.manifest);
  EXPECT_EQ(by_tag.media_type, kOciManifest);
  EXPECT_EQ(by_tag.digest, im.manifest_digest);
  auto by_digest = c->get_manifest(repo, im.manifest_digest.str());
  EXPECT_EQ(by_digest.body, im.manifest);
  EXPECT_EQ(by_digest.digest, im.manifest_digest);
  auto head = c->head_manifest(repo, "v1");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->digest, im.manifest_digest);
  EXPECT_EQ(head->media_type, kOciManifest);

  std::int64_t size_seen = -1;
  int size_calls = 0;
  EXPECT_EQ(fetch_blob(*c, repo, im.layer.digest, &size_seen, &size_calls), im.layer.data);
  EXPECT_EQ(size_seen, im.layer.size());
  EXPECT_EQ(size_calls, 1);
  EXPECT_EQ(fetch_blob(*c, repo, im.config.digest), im.config.data);

  // The oracle: what skopeo reads is byte for byte what we pushed.
  if (hoist::test::have_tool("skopeo"))
    EXPECT_EQ(skopeo_raw(*reg_, repo + ":v1"), im.manifest);
  else
    std::cerr << "skopeo missing: the cross-check with skopeo is skipped\n";

  // Cross-repository mount.
  const std::string other = "hoist/mounted";
  EXPECT_FALSE(c->blob_exists(other, im.layer.digest));
  EXPECT_TRUE(c->mount_blob(other, im.layer.digest, repo));
  EXPECT_TRUE(c->blob_exists(other, im.layer.digest));
  EXPECT_EQ(fetch_blob(*c, other, im.layer.digest), im.layer.data);
  // A blob the source does not have: the registry starts an upload instead.
  auto absent = digest_of("not pushed anywhere");
  EXPECT_FALSE(c->mount_blob(other, absent, repo));
  EXPECT_FALSE(c->blob_exists(other, absent));

  // Unknown things.
  expect_registry_error([&] { c->get_manifest(repo, "nope"); }, 404,
                        {"fetch manifest " + reg_->host() + "/" + repo + ":nope: manifest unknown (404)"});
  expect_registry_error([&] { fetch_blob(*c, repo, absent); }, 404, {"blob unknown", absent.str()});
}

INSTANTIATE_TEST_SUITE_P(Registry, RegistryModes, ::testing::Values(Mode::Plain, Mode::Tls, Mode::Htpasswd, Mode::Token),
                         [](const auto& info) {
                           switch (info.param) {
                             case Mode::Plain: return std::string("Plain");
                             case Mode::Tls: return std::string("Tls");
                             case Mode::Htpasswd: return std::string("Htpasswd");
                             case Mode::Token: return std::string("Token");
                           }
                           return std::string("X");
                         });

// ---- plain registry: errors, skopeo-pushed images, parallel pulls ------------------------------

// One registry of mode M shared by the tests of a suite (started by the first, stopped after the last).
template <Mode M>
class SharedRegistryTest : public ::testing::Test {
 protected:
  static std::unique_ptr<LocalRegistry>& shared() {
    static std::unique_ptr<LocalRegistry> r;
    return r;
  }
  static void TearDownTestSuite() { shared().reset(); }
  void SetUp() override {
    SKIP_WITHOUT_REGISTRY_TOOLS();
    if (!shared()) shared() = std::make_unique<LocalRegistry>(M);
    reg_ = shared().get();
  }
  LocalRegistry* reg_ = nullptr;
  TempDir tmp_;
};

class RegistryPlain : public SharedRegistryTest<Mode::Plain> {
};

TEST_F(RegistryPlain, ErrorMessagesNameTheOperation) {
  Registry c(reg_->host(), reg_->settings());
  auto e = expect_registry_error([&] { c.get_manifest("x", "1"); }, 404,
                                 {"fetch manifest " + reg_->host() + "/x:1: manifest unknown (404)"});
  EXPECT_EQ(e.code(), "MANIFEST_UNKNOWN");
  auto d = digest_of("x");
  expect_registry_error([&] { c.get_manifest("x", d.str()); }, 404, {"fetch manifest " + reg_->host() + "/x@" + d.str()});
  // A manifest that names blobs the repository lacks.
  auto im = make_image(tmp_.path(), 5, 100);
  expect_registry_error([&] { c.put_manifest("x", "1", kOciManifest, im.manifest); }, 400,
                        {"push manifest " + reg_->host() + "/x:1", "(400)"});
  // Pushing bytes under the wrong digest.
  auto b = write_blob(tmp_.path(), "some bytes");
  auto wrong = digest_of("other bytes");
  auto err = expect_registry_error([&] { c.push_blob("x", wrong, b.path, b.size()); }, 400, {"push blob", "digest"});
  EXPECT_EQ(err.code(), "DIGEST_INVALID");
  EXPECT_THROW(c.get_manifest("Bad/Name", "1"), Error);
  EXPECT_THROW(c.get_manifest("x", "bad tag"), Error);
}

TEST_F(RegistryPlain, PlainHttpIsUsedForLoopback) {
  Registry c(reg_->host(), reg_->settings());
  EXPECT_EQ(c.base_url(), "http://" + reg_->host());
  Registry by_name("localhost:" + std::to_string(reg_->port()), reg_->settings());
  EXPECT_EQ(by_name.base_url(), "http://localhost:" + std::to_string(reg_->port()));
}

TEST_F(RegistryPlain, ConnectionRefusedIsATransportError) {
  // A port that is bound but not listening refuses connections, and no one else can take it.
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
  std::string host = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  auto s = reg_->settings();
  s.max_attempts = 2;
  Registry c(host, s);
  expect_registry_error([&] { c.ping(); }, 0, {"ping " + host, "Connection refused", "gave up after 2 attempts"});
  close(fd);
}

TEST_F(RegistryPlain, PullsAnImagePushedBySkopeo) {
  if (!hoist::test::have_tool("skopeo")) GTEST_SKIP() << "skopeo missing";
  std::string oci = busybox_oci();
  if (oci.empty()) GTEST_SKIP() << "no busybox fixture (scripts/make-busybox-fixtures.sh needs busybox-static, jq)";
  auto r = run_cmd({"skopeo", "--insecure-policy", "copy", "--dest-tls-verify=false", "oci:" + oci + ":latest",
                    "docker://" + reg_->host() + "/library/busybox:1"},
                   "", 300);
  ASSERT_EQ(r.code, 0) << r.err;
  json index = json::parse(std::ifstream(oci + "/index.json"));
  Digest want = Digest::parse(index["manifests"][0]["digest"].get<std::string>());

  Registry c(reg_->host(), reg_->settings());
  auto m = c.get_manifest("library/busybox", "1");
  EXPECT_EQ(m.digest, want);
  EXPECT_EQ(m.media_type, kOciManifest);
  auto mj = json::parse(m.body);
  std::vector<json> blobs = {mj["config"]};
  for (auto& l : mj["layers"]) blobs.push_back(l);

  // Every blob, several times, from 6 threads at once on one Registry.
  std::atomic<int> ok{0}, bad{0};
  std::vector<std::thread> ts;
  std::mutex mu;
  std::vector<std::string> errors;
  for (int t = 0; t < 6; ++t)
    ts.emplace_back([&, t] {
      try {
        for (int round = 0; round < 2; ++round)
          for (std::size_t i = 0; i < blobs.size(); ++i) {
            auto& b = blobs[(i + static_cast<std::size_t>(t)) % blobs.size()];
            Digest d = Digest::parse(b["digest"].get<std::string>());
            Hasher h;
            std::int64_t n = 0, announced = -1;
            c.get_blob(
                "library/busybox", d,
                [&](const char* p, std::size_t len) {
                  h.update(p, len);
                  n += static_cast<std::int64_t>(len);
                },
                [&](std::int64_t s) { announced = s; });
            if (h.digest() == d && n == b["size"].get<std::int64_t>() && announced == n)
              ++ok;
            else
              ++bad;
          }
      } catch (const std::exception& e) {
        std::lock_guard lk(mu);
        errors.push_back(e.what());
      }
    });
  for (auto& t : ts) t.join();
  EXPECT_TRUE(errors.empty()) << errors.front();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(ok.load(), static_cast<int>(6 * 2 * blobs.size()));
}

// ---- TLS -----------------------------------------------------------------------------------------

class RegistryTls : public SharedRegistryTest<Mode::Tls> {
 protected:
  RegistrySettings no_ca() {
    auto s = reg_->settings();
    s.certs_dir = tmp_.path() + "/empty-certs.d";
    return s;
  }
};

TEST_F(RegistryTls, SecureRegistryIsVerifiedWithTheCertsDirCa) {
  auto s = reg_->settings();
  s.loopback_insecure = false;
  Registry c(reg_->host(), s);
  c.ping();
  EXPECT_EQ(c.base_url(), "https://" + reg_->host());
  // The certificate names localhost too, and certs.d has a directory for that name.
  Registry by_name("localhost:" + std::to_string(reg_->port()), s);
  by_name.ping();
  EXPECT_EQ(by_name.base_url(), "https://localhost:" + std::to_string(reg_->port()));
}

TEST_F(RegistryTls, SecureRegistryWithoutTheCaFailsVerification) {
  auto s = no_ca();
  s.loopback_insecure = false;
  Registry c(reg_->host(), s);
  auto e = expect_registry_error([&] { c.ping(); }, 0, {"ping " + reg_->host()});
  std::string msg = e.what();
  EXPECT_TRUE(msg.find("certificate") != std::string::npos || msg.find("SSL") != std::string::npos) << msg;
  EXPECT_EQ(msg.find("http:"), std::string::npos) << "no plain http attempt expected: " << msg;
}

TEST_F(RegistryTls, InsecureRegistrySkipsVerificationButStaysOnHttps) {
  // Loopback is insecure by default (Docker): https works without the CA, and is kept.
  Registry c(reg_->host(), no_ca());
  c.ping();
  EXPECT_EQ(c.base_url(), "https://" + reg_->host());
  auto im = make_image(tmp_.path(), 11, 5000);
  c.push_blob("insecure/x", im.layer.digest, im.layer.path, im.layer.size());
  EXPECT_EQ(fetch_blob(c, "insecure/x", im.layer.digest), im.layer.data);
  // The same through an explicit setting.
  auto s = no_ca();
  s.loopback_insecure = false;
  s.insecure_registries = {reg_->host()};
  Registry d(reg_->host(), s);
  d.ping();
  EXPECT_EQ(d.base_url(), "https://" + reg_->host());
}

TEST_F(RegistryTls, SecureRegistryNeverFallsBackToHttp) {
  // A plain http registry that is not insecure: https fails and plain http is not tried.
  LocalRegistry plain(Mode::Plain);
  auto s = plain.settings();
  s.loopback_insecure = false;
  s.max_attempts = 2;
  Registry c(plain.host(), s);
  expect_registry_error([&] { c.ping(); }, 0, {"ping " + plain.host()});
  EXPECT_EQ(plain.log().find("GET /v2/"), std::string::npos) << "the registry saw a plain http request:\n" << plain.log();

  // Marked insecure (host:port, or a CIDR) it falls back.
  for (std::string entry : {plain.host(), std::string("127.0.0.0/8"), std::string("127.0.0.1")}) {
    s.insecure_registries = {entry};
    Registry d(plain.host(), s);
    d.ping();
    EXPECT_EQ(d.base_url(), "http://" + plain.host()) << entry;
  }
  s.insecure_registries = {"127.0.0.1:1", "10.0.0.0/8"};
  Registry e(plain.host(), s);
  EXPECT_THROW(e.ping(), RegistryError);
}

TEST_F(RegistryTls, ClientCertificates) {
  LocalRegistry::Options o;
  o.mode = Mode::Tls;
  o.client_certs = true;
  LocalRegistry mtls(o);
  auto s = mtls.settings();
  s.loopback_insecure = false;
  Registry c(mtls.host(), s);  // certs.d holds ca.crt, client.cert, client.key
  c.ping();
  auto im = make_image(tmp_.path(), 12, 2000);
  c.push_blob("mtls/x", im.layer.digest, im.layer.path, im.layer.size());
  EXPECT_TRUE(c.blob_exists("mtls/x", im.layer.digest));

  // Without the client certificate the handshake is refused.
  std::string only_ca = tmp_.path() + "/only-ca";
  fs::create_directories(only_ca + "/" + mtls.host());
  fs::copy_file(mtls.ca_path(), only_ca + "/" + mtls.host() + "/ca.crt");
  s.certs_dir = only_ca;
  s.max_attempts = 1;
  Registry no_cert(mtls.host(), s);
  expect_registry_error([&] { no_cert.ping(); }, 0, {"ping " + mtls.host()});

  // A certificate without its key is a configuration error, as in Docker.
  std::string broken = tmp_.path() + "/broken";
  fs::create_directories(broken + "/" + mtls.host());
  fs::copy_file(mtls.certs_dir() + "/" + mtls.host() + "/client.cert", broken + "/" + mtls.host() + "/client.cert");
  s.certs_dir = broken;
  try {
    Registry r(mtls.host(), s);
    ADD_FAILURE() << "no error for a certificate without key";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing key client.key"), std::string::npos) << e.what();
  }
}

// ---- token auth ----------------------------------------------------------------------------------

class RegistryToken : public ::testing::Test {
 protected:
  void SetUp() override { SKIP_WITHOUT_REGISTRY_TOOLS(); }
  std::vector<json> token_requests_for(const LocalRegistry& reg, const std::string& scope) {
    std::vector<json> out;
    for (auto& e : reg.token_requests()) {
      auto sc = e.value("scopes", json::array());
      if (std::find(sc.begin(), sc.end(), scope) != sc.end()) out.push_back(e);
    }
    return out;
  }
  TempDir tmp_;
};

TEST_F(RegistryToken, AnonymousPullAllowedPushDenied) {
  LocalRegistry reg(Mode::Token);  // anonymous: pull
  Registry alice(reg.host(), reg.settings());
  alice.set_credentials(reg.credentials());
  auto im = make_image(tmp_.path(), 21, 4000);
  push_image(alice, "pub/x", "1", im);

  Registry anon(reg.host(), reg.settings());
  anon.ping();
  EXPECT_EQ(anon.get_manifest("pub/x", "1").body, im.manifest);
  EXPECT_EQ(fetch_blob(anon, "pub/x", im.layer.digest), im.layer.data);
  auto other = write_blob(tmp_.path(), "anonymous bytes");
  expect_registry_error([&] { anon.push_blob("pub/x", other.digest, other.path, other.size()); }, 401,
                        {"push blob " + reg.host() + "/pub/x@" + other.digest.str()});

  // The pull-only user cannot push either, but pulls.
  Registry bob(reg.host(), reg.settings());
  bob.set_credentials(reg.reader_credentials());
  EXPECT_EQ(bob.get_manifest("pub/x", "1").digest, im.manifest_digest);
  expect_registry_error([&] { bob.put_manifest("pub/x", "2", kOciManifest, im.manifest); }, 401, {"push manifest"});
  // Each was asked for with the scope the operation needs.
  EXPECT_FALSE(token_requests_for(reg, "repository:pub/x:pull,push").empty());
  EXPECT_FALSE(token_requests_for(reg, "repository:pub/x:pull").empty());
}

TEST_F(RegistryToken, AnonymousPullDenied) {
  LocalRegistry::Options o;
  o.mode = Mode::Token;
  o.anonymous = "none";  // tokens without access
  LocalRegistry reg(o);
  Registry alice(reg.host(), reg.settings());
  alice.set_credentials(reg.credentials());
  auto im = make_image(tmp_.path(), 22, 4000);
  push_image(alice, "priv/x", "1", im);
  EXPECT_EQ(alice.get_manifest("priv/x", "1").body, im.manifest);

  Registry anon(reg.host(), reg.settings());
  expect_registry_error([&] { anon.get_manifest("priv/x", "1"); }, 401, {"fetch manifest " + reg.host() + "/priv/x:1", "(401)"});

  // A token server that refuses anonymous requests outright.
  reg.update_token_config({{"anonymous", nullptr}});
  Registry anon2(reg.host(), reg.settings());
  expect_registry_error([&] { anon2.get_manifest("priv/x", "1"); }, 401, {"authenticate at " + reg.token_realm(), "(401)"});
}

TEST_F(RegistryToken, TokensAreCachedPerScope) {
  LocalRegistry reg(Mode::Token);
  Registry c(reg.host(), reg.settings());
  c.set_credentials(reg.credentials());
  auto im = make_image(tmp_.path(), 23, 4000);
  push_image(c, "cache/x", "1", im);
  auto pushes = token_requests_for(reg, "repository:cache/x:pull,push").size();
  EXPECT_EQ(pushes, 1u);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(fetch_blob(c, "cache/x", im.layer.digest), im.layer.data);
    c.get_manifest("cache/x", "1");
  }
  // Pulls were served by the pull,push token already held.
  EXPECT_EQ(token_requests_for(reg, "repository:cache/x:pull,push").size(), 1u);
  EXPECT_EQ(token_requests_for(reg, "repository:cache/x:pull").size(), 0u);
  // Another repository needs another token, once.
  Registry d(reg.host(), reg.settings());
  d.set_credentials(reg.reader_credentials());
  for (int i = 0; i < 3; ++i) d.get_manifest("cache/x", "1");
  EXPECT_EQ(token_requests_for(reg, "repository:cache/x:pull").size(), 1u);
}

TEST_F(RegistryToken, ExpiredTokenIsRenewedOnA401) {
  LocalRegistry::Options o;
  o.mode = Mode::Token;
  LocalRegistry reg(o);
  Registry alice(reg.host(), reg.settings());
  alice.set_credentials(reg.credentials());
  auto im = make_image(tmp_.path(), 24, 4000);
  push_image(alice, "exp/x", "1", im);
  // The next token handed out is already expired, though the answer says it lasts 300 s.
  reg.update_token_config({{"expired_tokens", 1}});
  Registry c(reg.host(), reg.settings());
  c.set_credentials(reg.reader_credentials());
  EXPECT_EQ(c.get_manifest("exp/x", "1").body, im.manifest);
  auto reqs = token_requests_for(reg, "repository:exp/x:pull");
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_TRUE(reqs[0].value("expired", false));
  EXPECT_FALSE(reqs[1].value("expired", true));
}

TEST_F(RegistryToken, IdentityTokenAndAccessTokenField) {
  LocalRegistry::Options o;
  o.mode = Mode::Token;
  o.anonymous = "refuse";
  o.token_config = {{"users", {{"alice", {{"identity_token", "refresh-me"}}}}}, {"token_field", "access_token"}};
  LocalRegistry reg(o);
  // Basic to the realm, answer in "access_token".
  Registry c(reg.host(), reg.settings());
  c.set_credentials(reg.credentials());
  auto im = make_image(tmp_.path(), 25, 3000);
  push_image(c, "idt/x", "1", im);
  // The identity token: an OAuth2 refresh-token POST.
  Registry t(reg.host(), reg.settings());
  t.set_credentials({"", "", "refresh-me"});
  t.ping();
  EXPECT_EQ(t.get_manifest("idt/x", "1").body, im.manifest);
  bool saw_post = false;
  for (auto& e : reg.token_requests())
    if (e.value("method", "") == "POST" && e.value("grant_type", "") == "refresh_token" && e.value("status", 0) == 200)
      saw_post = true;
  EXPECT_TRUE(saw_post);
  Registry bad(reg.host(), reg.settings());
  bad.set_credentials({"", "", "not-the-token"});
  expect_registry_error([&] { bad.ping(); }, 401, {"invalid refresh token"});
}

TEST_F(RegistryToken, ParallelPullsShareOneToken) {
  LocalRegistry reg(Mode::Token);
  Registry alice(reg.host(), reg.settings());
  alice.set_credentials(reg.credentials());
  std::vector<BlobFile> blobs;
  for (unsigned i = 0; i < 4; ++i) {
    blobs.push_back(write_blob(tmp_.path(), random_bytes(200 * 1024 + i, 100 + i)));
    alice.push_blob("par/x", blobs.back().digest, blobs.back().path, blobs.back().size());
  }
  Registry c(reg.host(), reg.settings());
  c.set_credentials(reg.reader_credentials());
  std::atomic<int> good{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < 8; ++t)
    ts.emplace_back([&, t] {
      try {
        auto& b = blobs[static_cast<std::size_t>(t) % blobs.size()];
        if (fetch_blob(c, "par/x", b.digest) == b.data) ++good;
      } catch (const std::exception& e) {
        ADD_FAILURE() << e.what();
      }
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(good.load(), 8);
  EXPECT_EQ(token_requests_for(reg, "repository:par/x:pull").size(), 1u);
}

// ---- faults ----------------------------------------------------------------------------------------

class RegistryFault : public ::testing::Test {
 protected:
  static std::unique_ptr<LocalRegistry>& upstream() {
    static std::unique_ptr<LocalRegistry> r;
    return r;
  }
  static void TearDownTestSuite() { upstream().reset(); }
  void SetUp() override {
    SKIP_WITHOUT_REGISTRY_TOOLS();
    if (!upstream()) upstream() = std::make_unique<LocalRegistry>(Mode::Plain);
    proxy_ = std::make_unique<FaultyRegistry>(upstream().get());
    // Content straight into the registry.
    Registry direct(upstream()->host(), upstream()->settings());
    blob_ = write_blob(tmp_.path(), random_bytes(400 * 1024 + 3, 31));
    direct.push_blob("f/x", blob_.digest, blob_.path, blob_.size());
    im_ = make_image(tmp_.path(), 32, 1000);
    push_image(direct, "f/x", "1", im_);
  }
  Registry client(int max_attempts = 5) {
    auto s = proxy_->settings();
    s.max_attempts = max_attempts;
    return Registry(proxy_->host(), s);
  }
  std::string blob_path() const { return "/v2/f/x/blobs/" + blob_.digest.str(); }
  TempDir tmp_;
  std::unique_ptr<FaultyRegistry> proxy_;
  BlobFile blob_;
  MiniImage im_;
};

TEST_F(RegistryFault, RetriesServerErrorsThenSucceeds) {
  proxy_->set_rules({{{"method", "GET"}, {"path", "/blobs/"}, {"action", "status"}, {"status", 500}, {"times", 2}},
                     {{"method", "GET"}, {"path", "/manifests/"}, {"action", "status"}, {"status", 503}, {"times", 1}}});
  auto c = client();
  EXPECT_EQ(fetch_blob(c, "f/x", blob_.digest), blob_.data);
  auto gets = proxy_->requests("GET", blob_path());
  ASSERT_EQ(gets.size(), 3u);
  EXPECT_EQ(gets[0]["status"], 500);
  EXPECT_EQ(gets[1]["status"], 500);
  EXPECT_EQ(gets[2]["action"], "pass");
  EXPECT_EQ(gets[2]["range"], "");  // nothing was delivered before, so no Range
  EXPECT_EQ(c.get_manifest("f/x", "1").body, im_.manifest);
  EXPECT_EQ(proxy_->requests("GET", "/manifests/1").size(), 2u);
}

TEST_F(RegistryFault, PersistentServerErrorGivesUpAfterMaxAttempts) {
  proxy_->set_rules({{{"method", "GET"}, {"path", "/blobs/"}, {"action", "status"}, {"status", 500}, {"times", -1}}});
  auto c = client(3);
  auto e = expect_registry_error([&] { fetch_blob(c, "f/x", blob_.digest); }, 500,
                                 {"fetch blob " + proxy_->host() + "/f/x@" + blob_.digest.str(),
                                  "injected server error (500)", "gave up after 3 attempts"});
  EXPECT_EQ(proxy_->requests("GET", blob_path()).size(), 3u);
  // 4xx are not retried.
  proxy_->set_rules({{{"method", "GET"}, {"path", "/manifests/"}, {"action", "status"}, {"status", 403},
                      {"body", R"({"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]})"}}});
  proxy_->clear_log();
  auto d = expect_registry_error([&] { c.get_manifest("f/x", "1"); }, 403,
                                 {"fetch manifest " + proxy_->host() + "/f/x:1: requested access to the resource is denied (403)"});
  EXPECT_EQ(d.code(), "DENIED");
  EXPECT_EQ(proxy_->requests("GET", "/manifests/").size(), 1u);
}

TEST_F(RegistryFault, TooManyRequestsHonoursRetryAfter) {
  proxy_->set_rules({{{"path", "/manifests/"}, {"action", "status"}, {"status", 429}, {"times", 1},
                      {"headers", {{"Retry-After", "1"}}}}});
  auto c = client();
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(c.get_manifest("f/x", "1").body, im_.manifest);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_GE(ms, 950);
  EXPECT_EQ(proxy_->requests("GET", "/manifests/").size(), 2u);
}

TEST_F(RegistryFault, DroppedConnectionIsRetried) {
  proxy_->set_rules({{{"path", "/manifests/"}, {"action", "drop"}, {"times", 2}}});
  auto c = client();
  EXPECT_EQ(c.get_manifest("f/x", "1").body, im_.manifest);
  EXPECT_EQ(proxy_->requests("GET", "/manifests/").size(), 3u);
}

TEST_F(RegistryFault, TruncatedBlobResumesWithRange) {
  proxy_->set_rules({{{"method", "GET"}, {"path", "/blobs/"}, {"action", "truncate"}, {"bytes", 100000}, {"times", 1}}});
  auto c = client();
  std::int64_t size_seen = -1;
  int size_calls = 0;
  std::size_t calls = 0;
  std::string got;
  c.get_blob(
      "f/x", blob_.digest,
      [&](const char* p, std::size_t n) {
        got.append(p, n);
        ++calls;
      },
      [&](std::int64_t s) {
        size_seen = s;
        ++size_calls;
      });
  EXPECT_EQ(got.size(), blob_.data.size());
  EXPECT_TRUE(got == blob_.data) << "the bytes differ";
  EXPECT_EQ(size_seen, blob_.size());
  EXPECT_EQ(size_calls, 1);
  auto gets = proxy_->requests("GET", blob_path());
  ASSERT_EQ(gets.size(), 2u);
  EXPECT_EQ(gets[0]["action"], "truncate");
  EXPECT_EQ(gets[1]["range"], "bytes=100000-");
}

TEST_F(RegistryFault, ResumeSkipsWhatWasDeliveredWhenRangeIsIgnored) {
  proxy_->set_rules({{{"method", "GET"}, {"path", "/blobs/"}, {"action", "truncate"}, {"bytes", 123457}, {"times", 1}},
                     {{"method", "GET"}, {"path", "/blobs/"}, {"action", "ignore_range"}, {"times", 1}}});
  auto c = client();
  std::string got = fetch_blob(c, "f/x", blob_.digest);
  EXPECT_EQ(got.size(), blob_.data.size());
  EXPECT_TRUE(got == blob_.data) << "the bytes differ";
  auto gets = proxy_->requests("GET", blob_path());
  ASSERT_EQ(gets.size(), 2u);
  EXPECT_EQ(gets[1]["action"], "ignore_range");
  EXPECT_EQ(gets[1]["range"], "bytes=123457-");
  EXPECT_EQ(gets[1]["status"], 200);
}

TEST_F(RegistryFault, BlobThatKeepsBreakingFailsClearly) {
  // Every answer is cut after 1000 bytes: progress each time, so attempts are renewed, up to 4x.
  proxy_->set_rules({{{"method", "GET"}, {"path", "/blobs/"}, {"action", "truncate"}, {"bytes", 1000}, {"times", -1}}});
  auto c = client(3);
  std::string got;
  expect_registry_error([&] { c.get_blob("f/x", blob_.digest, [&](const char* p, std::size_t n) { got.append(p, n); }); },
                        0, {"fetch blob", "gave up after 12 attempts"});
  EXPECT_EQ(proxy_->requests("GET", blob_path()).size(), 12u);
  EXPECT_EQ(got, blob_.data.substr(0, 12000));  // every byte once, in order
}

TEST_F(RegistryFault, CorruptBlobIsTheCallersToDetect) {
  proxy_->set_rules({{{"method", "GET"}, {"path", "/blobs/"}, {"action", "corrupt"}, {"times", 1}}});
  auto c = client();
  std::string got = fetch_blob(c, "f/x", blob_.digest);
  EXPECT_EQ(got.size(), blob_.data.size());
  EXPECT_NE(digest_of(got), blob_.digest);  // the client hands bytes over; the digest check is the caller's
  EXPECT_EQ(fetch_blob(c, "f/x", blob_.digest), blob_.data);
}

TEST_F(RegistryFault, ManifestOverTheSizeLimitIsRefused) {
  for (bool chunked : {false, true}) {
    SCOPED_TRACE(chunked ? "chunked" : "content-length");
    proxy_->clear_log();
    proxy_->set_rules({{{"path", "/manifests/"}, {"action", "huge"}, {"size", 64 << 20}, {"chunked", chunked}}});
    auto c = client();
    auto e = expect_registry_error([&] { c.get_manifest("f/x", "1", 1 << 20); }, 0,
                                   {"fetch manifest " + proxy_->host() + "/f/x:1", "larger than the limit of 1048576 bytes"});
    EXPECT_EQ(e.code(), "MANIFEST_TOO_LARGE");
    EXPECT_EQ(proxy_->requests("GET", "/manifests/").size(), 1u);  // not retried
    auto sent = proxy_->sent_events(1, 10000);
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_LT(sent[0]["bytes"].get<std::int64_t>(), 64 << 20) << "the client read the whole body";
  }
  // Under the limit is fine (and the limit is exact).
  proxy_->clear_rules();
  auto c = client();
  EXPECT_EQ(c.get_manifest("f/x", "1", im_.manifest.size()).body, im_.manifest);
  expect_registry_error([&] { c.get_manifest("f/x", "1", im_.manifest.size() - 1); }, 0, {"larger than the limit"});
}

TEST_F(RegistryFault, Schema1IsRefused) {
  json s1 = {{"schemaVersion", 1}, {"name", "f/x"}, {"tag", "old"}, {"fsLayers", json::array()}};
  proxy_->set_rules({{{"path", "/manifests/old$"}, {"action", "body"}, {"body", s1.dump()},
                      {"content_type", "application/vnd.docker.distribution.manifest.v1+prettyjws"}},
                     {{"path", "/manifests/generic$"}, {"action", "body"}, {"body", s1.dump()}, {"content_type", "application/json"}}});
  auto c = client();
  auto e = expect_registry_error([&] { c.get_manifest("f/x", "old"); }, 0,
                                 {"fetch manifest " + proxy_->host() + "/f/x:old", "schema 1 manifests are not supported"});
  expect_registry_error([&] { c.get_manifest("f/x", "generic"); }, 0, {"schema 1 manifests are not supported"});
  expect_registry_error([&] { c.head_manifest("f/x", "old"); }, 0, {"schema 1 manifests are not supported"});
  // The Accept header lists the four schema 2 / OCI types and no schema 1.
  EXPECT_EQ(kManifestMediaTypes.size(), 4u);
  for (auto& t : kManifestMediaTypes) EXPECT_EQ(t.find("v1+prettyjws"), std::string::npos);
}

TEST_F(RegistryFault, ManifestWithTheWrongDigestIsRefused) {
  auto want = im_.manifest_digest;
  proxy_->set_rules({{{"path", "/manifests/" + want.str()}, {"action", "body"}, {"body", im_.manifest + " "},
                      {"content_type", kOciManifest}}});
  auto c = client();
  expect_registry_error([&] { c.get_manifest("f/x", want.str()); }, 0, {"fetch manifest", "digest " + digest_of(im_.manifest + " ").str()});
  // A generic Content-Type: the media type comes from the body.
  proxy_->set_rules({{{"path", "/manifests/plain$"}, {"action", "body"}, {"body", im_.manifest}, {"content_type", "text/plain"}}});
  EXPECT_EQ(c.get_manifest("f/x", "plain").media_type, kOciManifest);
}

TEST_F(RegistryFault, UploadSessionRestartsAfterAFailure) {
  auto c = client();
  auto b = write_blob(tmp_.path(), random_bytes(150 * 1024, 41));
  proxy_->set_rules({{{"method", "PATCH"}, {"action", "status"}, {"status", 500}, {"skip", 1}, {"times", 1}}});
  c.push_blob("up/x", b.digest, b.path, b.size(), 64 * 1024);
  EXPECT_EQ(proxy_->requests("POST", "/blobs/uploads/").size(), 2u);
  EXPECT_EQ(fetch_blob(c, "up/x", b.digest), b.data);

  proxy_->clear_log();
  auto b2 = write_blob(tmp_.path(), random_bytes(10 * 1024, 42));
  proxy_->set_rules({{{"method", "PUT"}, {"path", "/blobs/uploads/"}, {"action", "status"}, {"status", 502}, {"times", 1}}});
  c.push_blob("up/x", b2.digest, b2.path, b2.size());
  EXPECT_EQ(proxy_->requests("POST", "/blobs/uploads/").size(), 2u);
  EXPECT_TRUE(c.blob_exists("up/x", b2.digest));
}

TEST_F(RegistryFault, RedirectsDoNotCarryAuthorizationToAnotherHost) {
  LocalRegistry::Options o;
  o.mode = Mode::Htpasswd;
  LocalRegistry secured(o);
  FaultyRegistry front(&secured);
  FaultyRegistry cdn;  // canned answers only
  Registry direct(secured.host(), secured.settings());
  direct.set_credentials(secured.credentials());
  direct.push_blob("r/x", blob_.digest, blob_.path, blob_.size());

  std::string path = "/v2/r/x/blobs/" + blob_.digest.str();
  cdn.set_rules({{{"path", path}, {"action", "body"}, {"body_b64", detail::base64_encode(blob_.data)}}});
  front.set_rules({{{"method", "GET"}, {"path", "/blobs/"}, {"action", "redirect"}, {"location", cdn.url()},
                    {"append_path", true}}});
  auto s = front.settings();
  Registry c(front.host(), s);
  c.set_credentials(secured.credentials());
  EXPECT_EQ(fetch_blob(c, "r/x", blob_.digest), blob_.data);
  auto at_front = front.requests("GET", path);
  ASSERT_EQ(at_front.size(), 1u);
  EXPECT_TRUE(at_front[0]["authorization"].get<bool>());
  auto at_cdn = cdn.requests("GET", path);
  ASSERT_EQ(at_cdn.size(), 1u);
  EXPECT_FALSE(at_cdn[0]["authorization"].get<bool>());
}

}  // namespace
