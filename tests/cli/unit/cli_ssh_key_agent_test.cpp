// cli/ssh_keys.h, cli/ssh_key_agent.h: `hoist build --ssh id=<key file>`'s keys and the agent
// serving them, checked with OpenSSH's own tools: the keys ssh-keygen makes (OpenSSH and PEM
// formats, every type) read as their .pub files say, `ssh-add -l` listing them through the agent
// and `ssh-add -T` verifying the agent's signatures; encrypted keys refused with Go's words.
#include "cli/ssh_key_agent.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "common/error.h"
#include "common/fd.h"
#include "common/ssh_wire.h"

using namespace hoist::cli;
namespace ssh_wire = hoist::ssh_wire;

namespace {

struct Out {
  int code;
  std::string text;
};
// A shell command's exit code and output (stdout and stderr).
Out sh(const std::string& cmd) {
  FILE* f = ::popen((cmd + " 2>&1").c_str(), "r");
  std::string text;
  char buf[4096];
  std::size_t n;
  while (f && (n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
  int st = f ? ::pclose(f) : -1;
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, text};
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string b64decode(const std::string& s) {
  std::string out(s.size(), '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(s.data()), static_cast<int>(s.size()));
  out.resize(static_cast<std::size_t>(n) - (s.size() - s.find_last_not_of('=') - 1));
  return out;
}

class SshKeyAgent : public ::testing::Test {
 protected:
  void SetUp() override {
    if (sh("command -v ssh-keygen && command -v ssh-add").code != 0)
      GTEST_SKIP() << "openssh-client is not installed (scripts/install-deps.sh)";
    char tmpl[] = "/tmp/hoist-ssh-key-XXXXXX";
    ASSERT_TRUE(::mkdtemp(tmpl));
    dir_ = tmpl;
  }
  void TearDown() override {
    if (listen_) ::shutdown(listen_.get(), SHUT_RDWR);
    if (server_.joinable()) server_.join();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  // A new key of ssh-keygen's: `args` say its type and format; its path.
  std::string keygen(const std::string& name, const std::string& args, const std::string& pass = "") {
    std::string path = dir_ + "/" + name;
    auto r = sh("ssh-keygen -q " + args + " -N '" + pass + "' -C " + name + "@test -f " + path);
    EXPECT_EQ(r.code, 0) << r.text;
    return path;
  }
  std::string error_of(const std::string& path) {
    try {
      load_key_file(path);
    } catch (const hoist::Error& e) {
      return e.what();
    }
    return "";
  }
  // Serves `agent` on dir_/agent.sock, a connection at a time, until TearDown.
  std::string serve(std::shared_ptr<const KeyAgent> agent) {
    std::string path = dir_ + "/agent.sock";
    listen_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::strcpy(sa.sun_path, path.c_str());
    EXPECT_EQ(::bind(listen_.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
    EXPECT_EQ(::listen(listen_.get(), 4), 0);
    server_ = std::thread([this, agent] {
      for (;;) {
        hoist::UniqueFd c(::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC));
        if (!c) return;
        agent->serve(c.get());
      }
    });
    return path;
  }
  std::string dir_;
  hoist::UniqueFd listen_;
  std::thread server_;
};

TEST_F(SshKeyAgent, KeysOfEveryTypeListedAndSigningAsOpenSsh) {
  std::vector<std::string> keys = {keygen("ed", "-t ed25519"),          keygen("ec256", "-t ecdsa -b 256"),
                                   keygen("ec384", "-t ecdsa -b 384"),   keygen("ec521", "-t ecdsa -b 521"),
                                   keygen("rsa", "-t rsa -b 2048"),      keygen("rsapem", "-t rsa -b 2048 -m PEM"),
                                   keygen("ecpem", "-t ecdsa -m PEM"),   keygen("rsa8", "-t rsa -b 2048 -m PKCS8")};
  std::vector<SshKey> loaded;
  std::string fingerprints;
  for (const std::string& k : keys) {
    SshKey key = load_key_file(k);
    std::istringstream pub(slurp(k + ".pub"));
    std::string type, blob;
    pub >> type >> blob;
    EXPECT_EQ(key.public_blob(), b64decode(blob)) << k;
    loaded.push_back(std::move(key));
    // ssh-add -l: the size, the fingerprint, the comment (none: BuildKit's agent keeps none), the type.
    std::string fp = sh("ssh-keygen -l -f " + k + ".pub").text;
    fingerprints += fp.substr(0, fp.find(' ', fp.find(' ') + 1)) + " " + fp.substr(fp.rfind(' '));
  }
  std::string sock = serve(std::make_shared<KeyAgent>(std::move(loaded)));
  auto listed = sh("SSH_AUTH_SOCK=" + sock + " ssh-add -l");
  EXPECT_EQ(listed.code, 0) << listed.text;
  EXPECT_EQ(listed.text, fingerprints);
  // ssh-add -T signs with each key through the agent and verifies with its public key.
  for (const std::string& k : keys) {
    auto t = sh("SSH_AUTH_SOCK=" + sock + " ssh-add -T " + k + ".pub");
    EXPECT_EQ(t.code, 0) << k << ": " << t.text;
  }
  // What the agent does not hold it does not sign; what it does not do fails.
  std::string other = keygen("other", "-t ed25519");
  EXPECT_NE(sh("SSH_AUTH_SOCK=" + sock + " ssh-add -T " + other + ".pub").code, 0);
  auto add = sh("SSH_AUTH_SOCK=" + sock + " ssh-add " + other);
  EXPECT_NE(add.code, 0) << add.text;
  EXPECT_NE(sh("SSH_AUTH_SOCK=" + sock + " ssh-add -D").code, 0);
  EXPECT_EQ(sh("SSH_AUTH_SOCK=" + sock + " ssh-add -l").text, fingerprints);
}

// An RSA key signs with the hash the request's flags name: rsa-sha2-512, rsa-sha2-256, or SHA-1
// ("ssh-rsa") without a flag, each verified with the key; other flags refused as Go's keyring.
TEST_F(SshKeyAgent, RsaSignatureFlags) {
  std::string path = keygen("rsa", "-t rsa -b 2048 -m PEM");
  std::vector<SshKey> keys;
  keys.push_back(load_key_file(path));
  std::string blob = keys[0].public_blob();
  KeyAgent agent(std::move(keys));
  FILE* f = std::fopen(path.c_str(), "r");
  ASSERT_TRUE(f);
  EVP_PKEY* pkey = PEM_read_PrivateKey(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  ASSERT_TRUE(pkey);
  for (auto [flags, alg, md] : std::vector<std::tuple<std::uint32_t, std::string, const char*>>{
           {kSshAgentRsaSha512, "rsa-sha2-512", "SHA512"},
           {kSshAgentRsaSha256, "rsa-sha2-256", "SHA256"},
           {0, "ssh-rsa", "SHA1"}}) {
    std::string req(1, '\x0d');
    ssh_wire::put_str(req, blob);
    ssh_wire::put_str(req, "to be signed");
    ssh_wire::put_u32(req, flags);
    std::string answer = agent.answer(req);
    ASSERT_EQ(answer[0], '\x0e') << alg;
    std::string body = answer.substr(1);
    ssh_wire::Reader r(body, "answer");
    ssh_wire::Reader sig(r.str(), "signature");
    EXPECT_EQ(sig.str(), alg);
    std::string_view s = sig.str();
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    ASSERT_EQ(EVP_DigestVerifyInit_ex(ctx, nullptr, md, nullptr, nullptr, pkey, nullptr), 1);
    EXPECT_EQ(EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(s.data()), s.size(),
                               reinterpret_cast<const unsigned char*>("to be signed"), 12),
              1)
        << alg;
    EVP_MD_CTX_free(ctx);
  }
  EVP_PKEY_free(pkey);
  // Both flags, or another, fail as in Go's keyring (BuildKit's agent) ...
  for (std::uint32_t flags : {6u, 1u}) {
    std::string req(1, '\x0d');
    ssh_wire::put_str(req, blob);
    ssh_wire::put_str(req, "x");
    ssh_wire::put_u32(req, flags);
    EXPECT_EQ(agent.answer(req), std::string(1, '\x05')) << flags;
  }
  // ... and so does a flag for a key that is not RSA.
  std::vector<SshKey> ed;
  ed.push_back(load_key_file(keygen("ed", "-t ed25519")));
  std::string ed_blob = ed[0].public_blob();
  KeyAgent ed_agent(std::move(ed));
  for (std::uint32_t flags : {0u, kSshAgentRsaSha512}) {
    std::string req(1, '\x0d');
    ssh_wire::put_str(req, ed_blob);
    ssh_wire::put_str(req, "x");
    ssh_wire::put_u32(req, flags);
    EXPECT_EQ(ed_agent.answer(req)[0], flags ? '\x05' : '\x0e') << flags;
  }
  EXPECT_EQ(agent.answer(std::string(1, '\x0d')), std::string(1, '\x05'));  // a short request
  EXPECT_EQ(agent.answer(""), std::string(1, '\x05'));
}

// Keys BuildKit's client cannot read, refused in its words (Go's ssh package's).
TEST_F(SshKeyAgent, RefusedInBuildKitsWords) {
  std::string enc = keygen("enc", "-t ed25519", "passw0rd");
  std::string encpem = keygen("encpem", "-t rsa -b 2048 -m PEM", "passw0rd");
  EXPECT_EQ(error_of(enc), "failed to parse " + enc + ": ssh: this private key is passphrase protected");
  EXPECT_EQ(error_of(encpem), "failed to parse " + encpem + ": ssh: this private key is passphrase protected");
  std::ofstream(dir_ + "/garbage") << "garbage\n";
  EXPECT_EQ(error_of(dir_ + "/garbage"), "failed to parse " + dir_ + "/garbage: ssh: no key found");
  std::ofstream(dir_ + "/cert") << "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
  EXPECT_EQ(error_of(dir_ + "/cert"), "failed to parse " + dir_ + "/cert: ssh: unsupported key type \"CERTIFICATE\"");
  EXPECT_EQ(error_of(dir_ + "/none").rfind("failed to open " + dir_ + "/none: ", 0), 0u);
}

}  // namespace
