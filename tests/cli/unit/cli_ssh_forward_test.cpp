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
  EXPECT_NE(error_of({"a=" + dir_ + "/key"}, nullptr).find("key files are not supported"), std::string::npos);
  EXPECT_NE(error_of({"a=" + sock_ + "," + dir_ + "/key"}, nullptr).find("key files are not supported"),
            std::string::npos);
}

}  // namespace
