// engine/build_ssh.h: the daemon's side of the build session, driven through a socket pair as
// the client: a connection to a step's socket is an Open stream, bytes go both ways, a Close
// from either end closes the other, and everything is closed when the build ends or the client
// hangs up.
#include "engine/build_ssh.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <thread>

#include <gtest/gtest.h>

#include "common/error.h"
#include "common/session_frames.h"
#include "common/unix_socket.h"

namespace hoist::engine {
namespace {

using session::FrameType;

struct Relay {
  std::shared_ptr<SshSession> session = std::make_shared<SshSession>("0123456789abcdef", std::set<std::string>{"default"});
  UniqueFd client;
  std::thread thread;
  session::FrameDecoder frames;
  Relay() {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) throw_sys("socketpair");
    client.reset(sv[0]);
    thread = std::thread([this, fd = sv[1]] { session->serve(UniqueFd(fd), ""); });
  }
  ~Relay() {
    session->end();
    client.reset();
    if (thread.joinable()) thread.join();
  }
  session::Frame next() {
    for (;;) {
      if (auto f = frames.next()) return *f;
      char buf[4096];
      ssize_t n = ::read(client.get(), buf, sizeof buf);
      if (n <= 0) throw Error("session closed");
      frames.feed(std::string_view(buf, static_cast<std::size_t>(n)));
    }
  }
  void send(FrameType t, std::uint32_t s, std::string_view p = {}) {
    ASSERT_TRUE(send_all(client.get(), session::encode_frame(t, s, p)));
  }
};

std::string read_some(int fd) {
  char buf[256];
  ssize_t n = ::read(fd, buf, sizeof buf);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "";
}

class BuildSsh : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/hoist-build-ssh-XXXXXX";
    ASSERT_TRUE(::mkdtemp(tmpl));
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(BuildSsh, RelaysEachConnectionAsAStream) {
  Relay r;
  EXPECT_TRUE(r.session->forwards("default"));
  EXPECT_FALSE(r.session->forwards("other"));
  auto sock = r.session->listen("default", dir_ + "/ssh", ::getuid(), ::getgid(), 0640);
  struct stat st {};
  ASSERT_EQ(::stat(sock->path().c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0640u);

  UniqueFd c = unix_connect(sock->path());
  auto open = r.next();
  EXPECT_EQ(open.type, FrameType::Open);
  EXPECT_EQ(open.payload, "default");
  ASSERT_TRUE(send_all(c.get(), std::string_view("\0\0\0\1\x0b", 5)));
  std::string got;
  while (got.size() < 5) {
    auto f = r.next();
    ASSERT_EQ(f.type, FrameType::Data);
    EXPECT_EQ(f.stream, open.stream);
    got += f.payload;
  }
  EXPECT_EQ(got, std::string("\0\0\0\1\x0b", 5));
  r.send(FrameType::Data, open.stream, "answer");
  EXPECT_EQ(read_some(c.get()), "answer");
  r.send(FrameType::Close, open.stream);
  EXPECT_EQ(read_some(c.get()), "") << "the stream's connection is closed";

  // A second connection: a new stream; its end is a Close to the client.
  UniqueFd c2 = unix_connect(sock->path());
  auto open2 = r.next();
  EXPECT_NE(open2.stream, open.stream);
  c2.reset();
  auto close = r.next();
  EXPECT_EQ(close.type, FrameType::Close);
  EXPECT_EQ(close.stream, open2.stream);

  std::string path = sock->path();
  sock.reset();
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::path(path).parent_path()));
}

TEST_F(BuildSsh, EndsWithTheBuildOrTheClient) {
  {
    Relay r;
    auto sock = r.session->listen("default", dir_ + "/ssh", ::getuid(), ::getgid(), 0600);
    UniqueFd c = unix_connect(sock->path());
    (void)r.next();
    r.session->end();
    r.thread.join();
    EXPECT_EQ(read_some(c.get()), "") << "open streams are closed";
    EXPECT_EQ(read_some(r.client.get()), "") << "the session's connection is closed";
    EXPECT_THROW(r.session->listen("default", dir_ + "/ssh", ::getuid(), ::getgid(), 0600), Error);
  }
  {
    Relay r;
    auto sock = r.session->listen("default", dir_ + "/ssh", ::getuid(), ::getgid(), 0600);
    r.client.reset();  // the client hangs up
    r.thread.join();
    EXPECT_THROW(unix_connect(sock->path()), SysError) << "no agent any more";
  }
  {
    Relay r;  // an Open from the client breaks the protocol
    r.send(FrameType::Open, 1, "default");
    r.thread.join();
    EXPECT_EQ(read_some(r.client.get()), "");
  }
  EXPECT_TRUE(std::filesystem::is_empty(dir_ + "/ssh"));
}

TEST(BuildSshSessions, OneIdAtATime) {
  SshSessions s;
  auto a = s.open("0123456789abcdef", {"default"});
  EXPECT_THROW(s.open("0123456789abcdef", {}), Conflict);
  EXPECT_EQ(s.find("0123456789abcdef"), a);
  s.close("0123456789abcdef");
  EXPECT_EQ(s.find("0123456789abcdef"), nullptr);
}

}  // namespace
}  // namespace hoist::engine
