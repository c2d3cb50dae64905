// cli/ssh_forward.h: `hoist build --ssh` values as `docker buildx build --ssh` reads them.
#include "cli/ssh_forward.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "common/error.h"
#include "common/fd.h"

using namespace hoist::cli;

namespace {

class SshSpecs : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/hoist-ssh-spec-XXXXXX";
    ASSERT_TRUE(::mkdtemp(tmpl));
    dir_ = tmpl;
    sock_ = dir_ + "/agent.sock";
    fd_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::strcpy(sa.sun_path, sock_.c_str());
    ASSERT_EQ(::bind(fd_.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
    std::ofstream(dir_ + "/key") << "not a socket\n";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_, sock_;
  hoist::UniqueFd fd_;
};

std::string error_of(const std::vector<std::string>& v, const char* env) {
  try {
    parse_ssh_specs(v, env);
  } catch (const hoist::Error& e) {
    return e.what();
  }
  return "";
}

TEST_F(SshSpecs, SocketsFromTheValueOrSshAuthSock) {
  auto s = parse_ssh_specs({"default", "deploy=" + sock_}, sock_.c_str());
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].id, "default");
  EXPECT_EQ(s[0].socket, sock_);
  EXPECT_EQ(s[1].id, "deploy");
  EXPECT_EQ(s[1].socket, sock_);
  EXPECT_EQ(parse_ssh_specs({"x="}, sock_.c_str())[0].socket, sock_);
}

TEST_F(SshSpecs, RefusalsInBuildxWords) {
  EXPECT_EQ(error_of({"default"}, nullptr), "invalid empty ssh agent socket: make sure SSH_AUTH_SOCK is set");
  EXPECT_EQ(error_of({"default", "default=" + sock_}, sock_.c_str()), "invalid duplicate id default");
  EXPECT_EQ(error_of({"a=" + dir_ + "/none"}, nullptr),
            "failed to stat " + dir_ + "/none: No such file or directory");
  EXPECT_EQ(error_of({"a=" + dir_ + "/key"}, nullptr), "failed to parse " + dir_ + "/key: ssh: no key found");
  EXPECT_EQ(error_of({"a=" + sock_ + "," + dir_ + "/key"}, nullptr), "only single socket allowed");
  EXPECT_EQ(error_of({"a=" + sock_ + "," + sock_}, nullptr), "only single socket allowed");
}

// Key files, as BuildKit's client: loaded into an agent of the spec's own; mixed with a socket
// refused.
TEST_F(SshSpecs, KeyFilesLoadedIntoAnAgent) {
  std::string key = dir_ + "/id";
  ASSERT_EQ(std::system(("ssh-keygen -q -t ed25519 -N '' -f " + key + " >/dev/null 2>&1").c_str()), 0)
      << "ssh-keygen (openssh-client) is needed";
  auto s = parse_ssh_specs({"default=" + key + "," + key, "other=" + sock_}, nullptr);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].socket, "");
  ASSERT_TRUE(s[0].agent);
  std::string answer = s[0].agent->answer(std::string(1, '\x0b'));  // REQUEST_IDENTITIES
  EXPECT_EQ(answer.substr(0, 5), std::string("\x0c\0\0\0\x02", 5));
  EXPECT_EQ(s[1].socket, sock_);
  EXPECT_FALSE(s[1].agent);
  EXPECT_EQ(error_of({"a=" + key + "," + sock_}, nullptr), "invalid combination of keys and sockets");
}

}  // namespace
