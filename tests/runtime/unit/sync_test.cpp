#include "runtime/sync.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/error.h"
#include "runtime/init.h"

namespace hoist::runtime {
namespace {

TEST(Sync, MessagesKeepTypePayloadAndFd) {
  SyncChannel a, b;
  SyncChannel::make_pair(a, b);
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  a.send(SyncType::Pty, "x", p[0]);
  close(p[0]);
  SyncMsg m = b.recv();
  EXPECT_EQ(m.type, SyncType::Pty);
  EXPECT_EQ(m.payload, "x");
  ASSERT_TRUE(m.fd.valid());
  ASSERT_EQ(write(p[1], "k", 1), 1);
  char c = 0;
  ASSERT_EQ(read(m.fd.get(), &c, 1), 1);
  EXPECT_EQ(c, 'k');
  close(p[1]);
}

TEST(Sync, LargeMessagesArriveWhole) {
  SyncChannel a, b;
  SyncChannel::make_pair(a, b);
  int size = 150000;  // larger than any fixed receive buffer we used to have
  ASSERT_EQ(setsockopt(a.fd(), SOL_SOCKET, SO_SNDBUF, &size, sizeof size), 0);
  std::string big(150000, 'z');
  big[0] = 'a';
  big.back() = 'b';
  a.send(SyncType::Init, big);
  EXPECT_EQ(b.expect(SyncType::Init).payload, big);
}

TEST(Sync, ErrorsFromThePeerBecomeExceptions) {
  SyncChannel a, b;
  SyncChannel::make_pair(a, b);
  a.send(SyncType::Err, "mount /proc: Permission denied");
  try {
    b.expect(SyncType::Ready);
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "mount /proc: Permission denied");
  }
  a.close();
  EXPECT_THROW(b.recv(), Error);  // EOF: the peer is gone
}

TEST(Sync, APeerThatLeftIsReportedByItsLastWords) {
  SyncChannel a, b;
  SyncChannel::make_pair(a, b);
  b.send(SyncType::Err, "setns /proc/1/ns/net: Invalid argument");
  b.close();
  try {
    a.send(SyncType::Go);
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "setns /proc/1/ns/net: Invalid argument");
  }
}

TEST(InitParams, RoundTrip) {
  InitParams p;
  p.config_text = R"({"ociVersion":"1.1.0"})";
  p.bundle = "/b";
  p.id = "c1";
  p.rootfs = "/b/rootfs";
  p.no_pivot = true;
  p.preserve_fds = 2;
  p.start_listener = 5;
  p.console_fd = 7;
  p.pty_to_parent = true;
  p.layout.unified = "/sys/fs/cgroup/unified";
  p.layout.v1 = {{"memory", "/sys/fs/cgroup/memory"}, {"cpu", "/sys/fs/cgroup/cpu,cpuacct"}};
  p.cgroup_path = "/hoist-runtime/c1";
  p.new_flags = 0x20000;
  InitParams q = InitParams::parse(p.serialize());
  EXPECT_EQ(q.config_text, p.config_text);
  EXPECT_EQ(q.bundle, "/b");
  EXPECT_EQ(q.id, "c1");
  EXPECT_EQ(q.rootfs, "/b/rootfs");
  EXPECT_TRUE(q.no_pivot);
  EXPECT_FALSE(q.no_new_keyring);
  EXPECT_EQ(q.preserve_fds, 2);
  EXPECT_EQ(q.start_listener, 5);
  EXPECT_EQ(q.console_fd, 7);
  EXPECT_TRUE(q.pty_to_parent);
  EXPECT_EQ(q.layout.unified, p.layout.unified);
  EXPECT_EQ(q.layout.v1, p.layout.v1);
  EXPECT_EQ(q.cgroup_path, p.cgroup_path);
  EXPECT_EQ(q.new_flags, 0x20000);
}

}  // namespace
}  // namespace hoist::runtime
