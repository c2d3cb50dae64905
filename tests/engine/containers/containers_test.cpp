// ContainerManager + hoist-shim against the real runtime and a busybox image (root).
// Each test has its own data root, exec root, runtime root and cgroup parent; TearDown kills
// what is left (shims, containers), unmounts and deletes everything.
#include "engine/containers/manager.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <poll.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/error.h"
#include "common/file.h"
#include "engine/containers/rootfs_mount.h"
#include "engine/shim/client.h"
#include "harness.h"
#include "image/archive.h"
#include "image/install.h"
#include "image/store.h"

namespace hoist::engine {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

std::string fixtures_dir() { return fs::path(test::busybox_rootfs()).parent_path().parent_path().string(); }

class ContainerManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root";
    char t[] = "/tmp/hoist-eng-XXXXXX";
    ASSERT_NE(mkdtemp(t), nullptr);
    dir_ = t;
    cgroup_parent_ = "/hoist-test-" + std::to_string(getpid()) + "-" +
                     ::testing::UnitTest::GetInstance()->current_test_info()->name();
    // The busybox image in a store of our own.
    store_ = std::make_unique<image::Store>(dir_ + "/image");
    std::string tar = fixtures_dir() + "/busybox-rootfs.tar";
    UniqueFd fd = open_file(tar, O_RDONLY);
    image::ImportOptions io;
    auto rec = image::import_image(*store_, image::fd_reader(fd.get(), tar), io);
    image_id_ = rec.id.str();
    layers_ = store_->layer_paths(rec);
    copy_ = store_->mode() == image::SnapshotMode::Copy;
    base_spec_ = json::parse(std::ifstream(fixtures_dir() + "/busybox-bundle/config.json"));
    mgr_ = make_manager();
  }

  ManagerOptions options() {
    ManagerOptions o;
    o.data_root = dir_ + "/data";
    o.exec_root = dir_ + "/exec";
    o.runtime = test::runtime_path();
    o.runtime_root = dir_ + "/rt";
    o.shim = HOIST_SHIM_BIN;
    return o;
  }
  std::unique_ptr<ContainerManager> make_manager() { return std::make_unique<ContainerManager>(options()); }

  void TearDown() override {
    if (dir_.empty()) return;
    // Kill shims and containers that are left, then the runtime state, mounts, cgroups, files.
    std::vector<std::string> ids;
    for (auto& e : fs::directory_iterator(dir_ + "/exec", ec_)) ids.push_back(e.path().filename());
    for (auto& id : ids) {
      std::string sd = dir_ + "/exec/" + id;
      try {
        auto parts = read_file(sd + "/shim.pid");
        int shim = std::atoi(parts.c_str());
        int init = std::atoi(parts.substr(parts.find(' ') + 1).c_str());
        if (init > 0) ::kill(init, SIGKILL);
        if (shim > 0) ::kill(shim, SIGKILL);
      } catch (...) {
      }
      test::run_cmd({test::runtime_path(), "--root", dir_ + "/rt", "delete", "--force", id}, "", 30);
    }
    mgr_.reset();
    for (auto& id : ids) unmount_rootfs(dir_ + "/data/containers/" + id + "/rootfs");
    // Anything else mounted under our dir.
    std::ifstream mi("/proc/self/mountinfo");
    std::vector<std::string> mounts;
    for (std::string l; std::getline(mi, l);) {
      std::istringstream s(l);
      std::string a, b, c, d, mp;
      s >> a >> b >> c >> d >> mp;
      if (mp.rfind(dir_ + "/", 0) == 0) mounts.push_back(mp);
    }
    for (auto it = mounts.rbegin(); it != mounts.rend(); ++it) ::umount2(it->c_str(), MNT_DETACH);
    for (auto& h : fs::directory_iterator("/sys/fs/cgroup", ec_)) {
      fs::path p = h.path().string() + cgroup_parent_;
      if (!fs::exists(p, ec_)) continue;
      for (auto& c : fs::directory_iterator(p, ec_))
        if (c.is_directory()) ::rmdir(c.path().c_str());
      ::rmdir(p.c_str());
    }
    store_.reset();
    fs::remove_all(dir_, ec_);
  }

  CreateParams params(const std::string& name, const std::vector<std::string>& args, bool tty = false,
                      bool stdin_open = false) {
    json spec = base_spec_;
    spec["process"]["args"] = args;
    spec["root"]["readonly"] = false;
    spec["linux"]["cgroupsPath"] = cgroup_parent_ + "/" + (name.empty() ? "anon" : name);
    CreateParams p;
    p.name = name;
    p.image = "busybox";
    p.image_id = image_id_;
    p.layer_paths = layers_;
    p.copy_snapshot = copy_;
    p.oci_spec_json = spec.dump();
    p.tty = tty;
    p.open_stdin = stdin_open;
    return p;
  }

  std::vector<LogEntry> logs(ContainerManager& m, const std::string& id) {
    std::vector<LogEntry> v;
    m.logs(id, {}, [&](const LogEntry& e) {
      v.push_back(e);
      return true;
    });
    return v;
  }

  // Waits with a deadline (a hung test fails instead of hanging).
  int wait_exit(ContainerManager& m, const std::string& id, int seconds = 20) {
    std::atomic<bool> cancel{false};
    std::thread timer([&] {
      for (int i = 0; i < seconds * 10 && !cancel; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      cancel = true;
    });
    int code = -1;
    try {
      code = m.wait(id, WaitCondition::NotRunning, &cancel);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "wait: " << e.what();
    }
    cancel = true;
    timer.join();
    return code;
  }

  std::string dir_, cgroup_parent_, image_id_;
  std::vector<std::string> layers_;
  bool copy_ = false;
  json base_spec_;
  std::unique_ptr<image::Store> store_;
  std::unique_ptr<ContainerManager> mgr_;
  std::error_code ec_;
};

bool has_entry(const std::vector<LogEntry>& v, const std::string& log, const std::string& stream) {
  for (auto& e : v)
    if (e.log == log && e.stream == stream) return true;
  return false;
}

TEST_F(ContainerManagerTest, EchoHiLogsAndExitCode) {
  std::string id = mgr_->create(params("echo", {"echo", "hi"}));
  EXPECT_EQ(id.size(), 64u);
  EXPECT_EQ(mgr_->inspect(id).state, ContainerState::Created);
  ASSERT_TRUE(mgr_->start(id));
  EXPECT_EQ(wait_exit(*mgr_, id), 0);
  auto r = mgr_->inspect("echo");
  EXPECT_EQ(r.state, ContainerState::Exited);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.finished_at, "0001-01-01T00:00:00Z");
  EXPECT_TRUE(has_entry(logs(*mgr_, id), "hi\n", "stdout"));
  std::string raw = read_file(r.log_path);
  EXPECT_NE(raw.find("{\"log\":\"hi\\n\",\"stream\":\"stdout\",\"time\":\""), std::string::npos) << raw;
  // The record on disk says the same, and the rootfs is unmounted after the exit.
  auto disk = ContainerRecord::load(mgr_->container_dir(id));
  EXPECT_EQ(disk.state, ContainerState::Exited);
  EXPECT_FALSE(is_mounted(mgr_->container_dir(id) + "/rootfs"));
  // Started again: runs again.
  ASSERT_TRUE(mgr_->start(id));
  EXPECT_EQ(wait_exit(*mgr_, id), 0);
  int his = 0;
  for (auto& e : logs(*mgr_, id)) his += e.log == "hi\n";
  EXPECT_EQ(his, 2);
}

TEST_F(ContainerManagerTest, ExitCodeAndStderr) {
  std::string id = mgr_->create(params("three", {"sh", "-c", "echo oops >&2; echo out; exit 3"}));
  mgr_->start(id);
  EXPECT_EQ(wait_exit(*mgr_, id), 3);
  EXPECT_EQ(mgr_->inspect(id).exit_code, 3);
  auto l = logs(*mgr_, id);
  EXPECT_TRUE(has_entry(l, "oops\n", "stderr"));
  EXPECT_TRUE(has_entry(l, "out\n", "stdout"));
  LogReadOptions only_err;
  only_err.stdout_ = false;
  int n = 0;
  mgr_->logs(id, only_err, [&](const LogEntry& e) {
    EXPECT_EQ(e.stream, "stderr");
    return ++n > 0;
  });
  EXPECT_EQ(n, 1);
}

TEST_F(ContainerManagerTest, StopHonoursTrap) {
  std::string id = mgr_->create(params("trap", {"sh", "-c", "trap 'exit 7' TERM; echo ready; while true; do sleep 0.1; done"}));
  mgr_->start(id);
  // Wait for the trap to be set.
  for (int i = 0; i < 50 && !has_entry(logs(*mgr_, id), "ready\n", "stdout"); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(mgr_->stop(id, 10));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  EXPECT_EQ(mgr_->inspect(id).exit_code, 7);
  EXPECT_FALSE(mgr_->stop(id, 1));  // not running: 304
}

TEST_F(ContainerManagerTest, StopKillsAfterTimeout) {
  std::string id = mgr_->create(params("sleeper", {"sleep", "100"}));
  mgr_->start(id);
  auto r = mgr_->inspect(id);
  EXPECT_EQ(r.state, ContainerState::Running);
  EXPECT_GT(r.pid, 0);
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(mgr_->stop(id, 1));  // pid 1 ignores SIGTERM without a handler
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(took, std::chrono::milliseconds(900));
  EXPECT_EQ(mgr_->inspect(id).exit_code, 137);
  EXPECT_EQ(mgr_->wait(id, WaitCondition::NotRunning), 137);
}

TEST_F(ContainerManagerTest, KillWithSignalAndWait) {
  std::string id = mgr_->create(params("usr1", {"sh", "-c", "trap 'exit 9' USR1; echo ready; while true; do sleep 0.1; done"}));
  EXPECT_THROW(mgr_->kill(id, "USR1"), Conflict);  // not running
  mgr_->start(id);
  for (int i = 0; i < 50 && !has_entry(logs(*mgr_, id), "ready\n", "stdout"); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  std::atomic<int> code{-1};
  std::thread waiter([&] { code = mgr_->wait(id, WaitCondition::NextExit); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  mgr_->kill(id, "SIGUSR1");
  waiter.join();
  EXPECT_EQ(code, 9);
  EXPECT_THROW(mgr_->kill(id, "NOPE"), InvalidArgument);
}

TEST_F(ContainerManagerTest, PauseUnpause) {
  std::string id = mgr_->create(params("pz", {"sleep", "100"}));
  mgr_->start(id);
  mgr_->pause(id);
  EXPECT_EQ(mgr_->inspect(id).state, ContainerState::Paused);
  EXPECT_THROW(mgr_->pause(id), Conflict);
  mgr_->unpause(id);
  EXPECT_EQ(mgr_->inspect(id).state, ContainerState::Running);
  mgr_->kill(id, "KILL");
  EXPECT_EQ(wait_exit(*mgr_, id), 137);
}

TEST_F(ContainerManagerTest, RemoveCleansMountAndDirs) {
  std::string id = mgr_->create(params("rm", {"sleep", "100"}));
  mgr_->start(id);
  std::string cdir = mgr_->container_dir(id);
  if (!copy_) {
    EXPECT_TRUE(is_mounted(cdir + "/rootfs"));
  }
  EXPECT_THROW(mgr_->remove(id, false), Conflict);
  std::atomic<bool> removed{false};
  std::thread waiter([&] {
    mgr_->wait(id, WaitCondition::Removed);
    removed = true;
  });
  mgr_->remove(id, true);
  waiter.join();
  EXPECT_TRUE(removed);
  EXPECT_FALSE(is_mounted(cdir + "/rootfs"));
  EXPECT_FALSE(fs::exists(cdir));
  EXPECT_FALSE(fs::exists(mgr_->state_dir(id)));
  EXPECT_THROW(mgr_->inspect(id), NotFound);
  EXPECT_TRUE(mgr_->list().empty());
  // The runtime forgot it too.
  auto st = test::run_cmd({test::runtime_path(), "--root", dir_ + "/rt", "state", id});
  EXPECT_NE(st.code, 0);
}

TEST_F(ContainerManagerTest, NamesResolveRenameConflict) {
  std::string a = mgr_->create(params("alpha", {"true"}));
  try {
    mgr_->create(params("alpha", {"true"}));
    FAIL() << "no conflict";
  } catch (const Conflict& e) {
    EXPECT_EQ(std::string(e.what()), "Conflict. The container name \"/alpha\" is already in use by container \"" + a +
                                         "\". You have to remove (or rename) that container to be able to reuse that name.");
  }
  EXPECT_EQ(mgr_->resolve("alpha"), a);
  EXPECT_EQ(mgr_->resolve("/alpha"), a);
  EXPECT_EQ(mgr_->resolve(a.substr(0, 12)), a);
  try {
    mgr_->resolve("nothing");
    FAIL();
  } catch (const NotFound& e) {
    EXPECT_STREQ(e.what(), "No such container: nothing");
  }
  EXPECT_THROW(mgr_->create(params("bad name!", {"true"})), InvalidArgument);
  std::string gen = mgr_->create(params("", {"true"}));
  EXPECT_FALSE(mgr_->inspect(gen).name.empty());
  mgr_->rename("alpha", "beta");
  EXPECT_EQ(mgr_->resolve("beta"), a);
  EXPECT_THROW(mgr_->resolve("alpha"), NotFound);
  std::string c = mgr_->create(params("alpha", {"true"}));  // the old name is free again
  EXPECT_THROW(mgr_->rename(c, "beta"), Conflict);
  // Names survive a new manager.
  mgr_.reset();
  mgr_ = make_manager();
  mgr_->restore();
  EXPECT_EQ(mgr_->resolve("beta"), a);
  EXPECT_EQ(mgr_->list().size(), 3u);
}

TEST_F(ContainerManagerTest, TtyOutputAndResize) {
  std::string id = mgr_->create(params(
      "tty", {"sh", "-c", "i=0; while [ \"$(stty size)\" != \"40 100\" ]; do i=$((i+1)); [ $i -gt 100 ] && exit 5; sleep 0.1; done; echo resized"},
      true));
  mgr_->start(id);
  mgr_->resize(id, 40, 100);
  EXPECT_EQ(wait_exit(*mgr_, id), 0);
  auto l = logs(*mgr_, id);
  EXPECT_TRUE(has_entry(l, "resized\r\n", "stdout")) << (l.empty() ? "" : l[0].log);
}

// Reads Docker's multiplexed frames until `want` appears in the payload of stream 1.
std::string read_frames(int fd, const std::string& want, int timeout_ms = 10000) {
  std::string buf, out;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (out.find(want) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    char tmp[4096];
    ssize_t n = read(fd, tmp, sizeof tmp);
    if (n <= 0) break;
    buf.append(tmp, static_cast<size_t>(n));
    while (buf.size() >= 8) {
      size_t len = (static_cast<unsigned char>(buf[4]) << 24) | (static_cast<unsigned char>(buf[5]) << 16) |
                   (static_cast<unsigned char>(buf[6]) << 8) | static_cast<unsigned char>(buf[7]);
      if (buf.size() < 8 + len) break;
      EXPECT_EQ(buf[0], 1);
      out += buf.substr(8, len);
      buf.erase(0, 8 + len);
    }
  }
  return out;
}

TEST_F(ContainerManagerTest, AttachStdinEchoAndCloseStdin) {
  std::string id = mgr_->create(params("cat", {"cat"}, false, true));
  mgr_->start(id);
  UniqueFd s = mgr_->attach(id, true, true, true, true);
  write_all(s.get(), "hello\n", "attach");
  EXPECT_EQ(read_frames(s.get(), "hello\n"), "hello\n");
  // A second client sees output too.
  UniqueFd s2 = mgr_->attach(id, false, true, false, false);
  write_all(s.get(), "again\n", "attach");
  EXPECT_EQ(read_frames(s2.get(), "again\n"), "again\n");
  EXPECT_EQ(read_frames(s.get(), "again\n"), "again\n");
  ::shutdown(s.get(), SHUT_WR);  // close-stdin: cat sees EOF
  EXPECT_EQ(wait_exit(*mgr_, id), 0);
  // The stream ends when the container exits.
  char c;
  pollfd p{s.get(), POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 5000), 1);
  EXPECT_EQ(read(s.get(), &c, 1), 0);
  auto l = logs(*mgr_, id);
  EXPECT_TRUE(has_entry(l, "hello\n", "stdout"));
}

TEST_F(ContainerManagerTest, ShimStatusAndRss) {
  std::string id = mgr_->create(params("rss", {"sleep", "100"}));
  mgr_->start(id);
  auto st = shim_status(mgr_->state_dir(id));
  EXPECT_TRUE(st.running);
  EXPECT_EQ(st.pid, mgr_->inspect(id).pid);
  pid_t shim = mgr_->shim_pid(id);
  ASSERT_GT(shim, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  std::string status = read_file("/proc/" + std::to_string(shim) + "/status");
  auto k = status.find("VmRSS:");
  ASSERT_NE(k, std::string::npos);
  long rss_kb = std::atol(status.c_str() + k + 6);
  std::cout << "[ shim RSS ] " << rss_kb << " kB\n";
  RecordProperty("shim_rss_kb", static_cast<int>(rss_kb));
  EXPECT_LT(rss_kb, 1536);
  // The container's init is the shim's child (subreaper).
  std::string stat = read_file("/proc/" + std::to_string(st.pid) + "/stat");
  auto f = stat.substr(stat.rfind(')') + 2);
  EXPECT_EQ(std::atoi(f.substr(2).c_str()), shim);
  mgr_->kill(id, "KILL");
  EXPECT_EQ(wait_exit(*mgr_, id), 137);
}

TEST_F(ContainerManagerTest, LiveRestoreAfterManagerDestroyed) {
  std::string id = mgr_->create(params("live", {"sleep", "100"}));
  mgr_->start(id);
  pid_t pid = mgr_->inspect(id).pid;
  mgr_.reset();  // hoistd goes away
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(::kill(pid, 0), 0);
  mgr_ = make_manager();
  mgr_->restore();
  auto r = mgr_->inspect("live");
  EXPECT_EQ(r.state, ContainerState::Running);
  EXPECT_EQ(r.pid, pid);
  EXPECT_TRUE(mgr_->stop(id, 1));
  EXPECT_EQ(mgr_->inspect(id).exit_code, 137);
}

TEST_F(ContainerManagerTest, RestoreDropsACreateCutShort) {
  CreateParams p = params("cut", {"true"});
  p.volatile_upper = true;  // a build step's: its record is written without fsync
  std::string id = mgr_->create(p);
  std::string dir = mgr_->container_dir(id);
  EXPECT_EQ(mgr_->inspect(id).name, "cut");
  mgr_.reset();
  write_file(dir + "/config.json", "", O_TRUNC);  // what a crash can leave of such a record
  mgr_ = make_manager();
  mgr_->restore();
  EXPECT_THROW(mgr_->inspect(id), NotFound);
  EXPECT_FALSE(path_exists(dir));
}

TEST_F(ContainerManagerTest, ExitWhileNoManager) {
  std::string id = mgr_->create(params("gone", {"sh", "-c", "sleep 1; echo bye; exit 4"}));
  mgr_->start(id);
  pid_t shim = mgr_->shim_pid(id);
  mgr_.reset();
  for (int i = 0; i < 100 && ::kill(shim, 0) == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_NE(::kill(shim, 0), 0) << "shim still alive";
  mgr_ = make_manager();
  mgr_->restore();
  auto r = mgr_->inspect(id);
  EXPECT_EQ(r.state, ContainerState::Exited);
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_FALSE(is_mounted(mgr_->container_dir(id) + "/rootfs"));
  EXPECT_TRUE(has_entry(logs(*mgr_, id), "bye\n", "stdout"));
  EXPECT_EQ(mgr_->wait(id, WaitCondition::NotRunning), 4);
  mgr_->remove(id, false);
}

TEST_F(ContainerManagerTest, ParentKilledContainerSurvives) {
  mgr_.reset();
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  CreateParams cp = params("orphan", {"sleep", "100"});
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(p[0]);
    try {
      ContainerManager m(options());
      std::string id = m.create(cp);
      m.start(id);
      std::string line = id + "\n";
      (void)!write(p[1], line.data(), line.size());
    } catch (const std::exception& e) {
      std::string line = std::string("error ") + e.what() + "\n";
      (void)!write(p[1], line.data(), line.size());
    }
    for (;;) pause();
  }
  close(p[1]);
  std::string id;
  char c;
  while (read(p[0], &c, 1) == 1 && c != '\n') id += c;
  close(p[0]);
  ::kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  ASSERT_EQ(id.size(), 64u) << id;
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  mgr_ = make_manager();
  mgr_->restore();
  auto r = mgr_->inspect(id);
  EXPECT_EQ(r.state, ContainerState::Running);
  EXPECT_EQ(::kill(r.pid, 0), 0);
  EXPECT_TRUE(mgr_->stop(id, 1));
  EXPECT_EQ(mgr_->inspect(id).exit_code, 137);
}

TEST_F(ContainerManagerTest, StatsAndTop) {
  std::string id = mgr_->create(params("stats", {"sleep", "100"}));
  mgr_->start(id);
  auto t = mgr_->top(id);
  ASSERT_EQ(t.titles.size(), 4u);
  ASSERT_FALSE(t.processes.empty());
  EXPECT_NE(t.processes[0][3].find("sleep 100"), std::string::npos);
  auto s = mgr_->stats(id);
  EXPECT_GT(s.memory_usage, 0);
  EXPECT_GE(s.pids, 1);
  mgr_->kill(id, "9");
  EXPECT_EQ(wait_exit(*mgr_, id), 137);
}

TEST_F(ContainerManagerTest, OomKilledIsRecorded) {
  CreateParams p = params("oom", {"tail", "/dev/zero"});  // no newline ever: tail's buffer grows
  json spec = json::parse(p.oci_spec_json);
  spec["linux"]["resources"]["memory"] = {{"limit", 16 << 20}, {"swap", 16 << 20}};
  p.oci_spec_json = spec.dump();
  std::string id = mgr_->create(p);
  mgr_->start(id);
  EXPECT_EQ(wait_exit(*mgr_, id, 60), 137);
  auto r = mgr_->inspect(id);
  EXPECT_TRUE(r.oom_killed);
  EXPECT_NE(read_file(mgr_->state_dir(id) + "/exit.json").find("\"oom_killed\":true"), std::string::npos);
}

TEST_F(ContainerManagerTest, CopySnapshotterFallback) {
  image::Store copy_store(dir_ + "/image-copy", image::SnapshotMode::Copy);
  std::string tar = fixtures_dir() + "/busybox-rootfs.tar";
  UniqueFd fd = open_file(tar, O_RDONLY);
  auto rec = image::import_image(copy_store, image::fd_reader(fd.get(), tar), {});
  CreateParams p = params("copy", {"sh", "-c", "echo data > /written; cat /written"});
  p.layer_paths = copy_store.layer_paths(rec);
  p.copy_snapshot = true;
  std::string id = mgr_->create(p);
  mgr_->start(id);
  EXPECT_EQ(wait_exit(*mgr_, id), 0);
  EXPECT_TRUE(has_entry(logs(*mgr_, id), "data\n", "stdout"));
  // The write went to the container's copy, not to the snapshot.
  EXPECT_TRUE(fs::exists(mgr_->container_dir(id) + "/rootfs/written"));
  EXPECT_FALSE(fs::exists(p.layer_paths.back() + "/written"));
  mgr_->remove(id, false);
  EXPECT_FALSE(fs::exists(mgr_->container_dir(id)));
}

TEST_F(ContainerManagerTest, LongLowerdirUsesShortLinks) {
  // 80 copies of the layer path exceed a page of mount options.
  RootfsLayout l{dir_ + "/long", {}, false};
  for (int i = 0; i < 80; ++i) {
    std::string d = dir_ + "/layers/" + std::string(40, 'x') + std::to_string(i);
    mkdir_all(d);
    write_file_atomic(d + "/f" + std::to_string(i), "x", 0644, false);
    l.layers.push_back(d);
  }
  ASSERT_GT(overlay_options(l, false).size(), 4096u);
  mount_rootfs(l);
  EXPECT_TRUE(is_mounted(l.rootfs()));
  EXPECT_TRUE(fs::exists(l.rootfs() + "/f0"));
  EXPECT_TRUE(fs::exists(l.rootfs() + "/f79"));
  unmount_rootfs(l.rootfs());
  EXPECT_FALSE(is_mounted(l.rootfs()));
}

}  // namespace
}  // namespace hoist::engine
