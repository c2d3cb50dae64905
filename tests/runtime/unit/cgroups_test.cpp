// Cgroup layout detection, path resolution, and the v1 / v2 writers against fake cgroupfs trees
// in a temp directory (plain files standing in for the kernel's; no real cgroup is touched).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <map>

#include "common/error.h"
#include "common/file.h"
#include "runtime/cgroups/cgroups.h"

namespace cg = hoist::runtime::cgroups;
using hoist::Error;
using hoist::oci::Resources;

namespace {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/hoist-cgroups-test-XXXXXX";
    if (!::mkdtemp(tmpl)) std::abort();
    path_ = tmpl;
  }
  ~TempDir() { hoist::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A file "as the kernel would have created it", with its initial content.
void put(const std::string& path, const std::string& content = "") {
  hoist::mkdir_all(path.substr(0, path.rfind('/')));
  std::ofstream(path, std::ios::trunc) << content;
}

// Empty kernel files in dir.
void touch(const std::string& dir, std::initializer_list<const char*> files) {
  for (const char* f : files) put(dir + "/" + f);
}

std::string get(const std::string& path) { return hoist::read_file(path); }

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

// ---- mountinfo samples ----

constexpr const char* kV1Mountinfo =
    "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
    "24 22 0:21 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:4 - tmpfs tmpfs ro,mode=755\n"
    "25 24 0:22 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:5 - cgroup cgroup "
    "rw,xattr,release_agent=/lib/systemd/systemd-cgroups-agent,name=systemd\n"
    "27 24 0:24 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:8 - cgroup cgroup rw,cpu,cpuacct\n"
    "28 24 0:25 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid shared:9 - cgroup cgroup rw,net_cls,net_prio\n"
    "29 24 0:26 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,memory\n"
    "30 24 0:27 / /sys/fs/cgroup/cpuset rw,nosuid shared:11 master:3 - cgroup cgroup rw,cpuset,clone_children\n"
    "31 24 0:28 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:12 - cgroup cgroup rw,pids\n"
    // A container's view of the memory hierarchy, bind-mounted: not a host top-level mount.
    "90 22 0:26 /docker/abc /mnt/memory\\040view rw,relatime - cgroup cgroup rw,memory\n"
    "91 22 0:29 / /mnt/my\\040cg rw,relatime - cgroup cgroup rw,devices\n";

// This VM: separate cpu and cpuacct, cgroup2 at .../unified with only hugetlb.
constexpr const char* kHybridMountinfo =
    "10 31 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "11 32 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "12 33 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
    "13 34 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n"
    "14 35 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "19 40 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
    "20 41 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

constexpr const char* kV2Mountinfo =
    "24 1 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
    "30 24 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 "
    "rw,nsdelegate,memory_recursiveprot\n"
    "95 22 0:26 /system.slice/x.scope /run/inner rw,relatime - cgroup2 cgroup2 rw\n";

}  // namespace

// ---- Layout ----

TEST(CgroupLayout, ParsesV1Host) {
  auto l = cg::Layout::parse_mountinfo(kV1Mountinfo);
  EXPECT_EQ(l.unified, "");
  EXPECT_FALSE(l.is_v2());
  std::map<std::string, std::string> want = {
      {"name=systemd", "/sys/fs/cgroup/systemd"},
      {"cpu", "/sys/fs/cgroup/cpu,cpuacct"},
      {"cpuacct", "/sys/fs/cgroup/cpu,cpuacct"},
      {"net_cls", "/sys/fs/cgroup/net_cls,net_prio"},
      {"net_prio", "/sys/fs/cgroup/net_cls,net_prio"},
      {"memory", "/sys/fs/cgroup/memory"},
      {"cpuset", "/sys/fs/cgroup/cpuset"},
      {"pids", "/sys/fs/cgroup/pids"},
      {"devices", "/mnt/my cg"},
  };
  EXPECT_EQ(l.v1, want);
}

TEST(CgroupLayout, ParsesHybridHost) {
  auto l = cg::Layout::parse_mountinfo(kHybridMountinfo);
  EXPECT_EQ(l.unified, "/sys/fs/cgroup/unified");
  EXPECT_FALSE(l.is_v2());
  std::map<std::string, std::string> want = {
      {"cpu", "/sys/fs/cgroup/cpu"},       {"cpuacct", "/sys/fs/cgroup/cpuacct"},
      {"cpuset", "/sys/fs/cgroup/cpuset"}, {"memory", "/sys/fs/cgroup/memory"},
      {"name=systemd", "/sys/fs/cgroup/systemd"},
  };
  EXPECT_EQ(l.v1, want);
}

TEST(CgroupLayout, ParsesV2HostIgnoringNonRootMounts) {
  auto l = cg::Layout::parse_mountinfo(kV2Mountinfo);
  EXPECT_EQ(l.unified, "/sys/fs/cgroup");
  EXPECT_TRUE(l.v1.empty());
  EXPECT_TRUE(l.is_v2());
  EXPECT_TRUE(cg::Layout::parse_mountinfo("garbage\n\n1 2 3\n").v1.empty());
}

// ---- resolve_path ----

TEST(CgroupPath, Cgroupfs) {
  EXPECT_EQ(cg::resolve_path("", "c1", false), "/c1");
  EXPECT_EQ(cg::resolve_path("/docker/abc", "c1", false), "/docker/abc");
  EXPECT_EQ(cg::resolve_path("docker/abc", "c1", false), "/docker/abc");
  EXPECT_EQ(cg::resolve_path("/a//b/./c/", "c1", false), "/a/b/c");
  EXPECT_EQ(cg::resolve_path("../../etc/x", "c1", false), "/etc/x");
}

TEST(CgroupPath, Systemd) {
  EXPECT_EQ(cg::resolve_path("machine.slice:libpod:abc", "c1", true), "/machine.slice/libpod-abc.scope");
  EXPECT_EQ(cg::resolve_path("a-b.slice:docker:abc", "c1", true), "/a.slice/a-b.slice/docker-abc.scope");
  EXPECT_EQ(cg::resolve_path("a-b-c.slice:p:n", "c1", true), "/a.slice/a-b.slice/a-b-c.slice/p-n.scope");
  EXPECT_EQ(cg::resolve_path("-.slice:p:n", "c1", true), "/p-n.scope");
  EXPECT_EQ(cg::resolve_path(":p:n", "c1", true), "/system.slice/p-n.scope");
  EXPECT_EQ(cg::resolve_path("user.slice:p:sub.slice", "c1", true), "/user.slice/sub.slice");
  EXPECT_EQ(cg::resolve_path("user.slice::n", "c1", true), "/user.slice/n.scope");
  EXPECT_EQ(cg::resolve_path("", "c1", true), "/system.slice/hoist-runtime-c1.scope");
  EXPECT_THROW(cg::resolve_path("machine.slice:abc", "c1", true), Error);
  EXPECT_THROW(cg::resolve_path("machine:p:n", "c1", true), Error);
  EXPECT_THROW(cg::resolve_path("a--b.slice:p:n", "c1", true), Error);
  EXPECT_THROW(cg::resolve_path("-a.slice:p:n", "c1", true), Error);
  EXPECT_THROW(cg::resolve_path("a/b.slice:p:n", "c1", true), Error);
  EXPECT_THROW(cg::resolve_path("a.slice:p:x/y", "c1", true), Error);
  EXPECT_THROW(cg::resolve_path("/docker/abc", "c1", true), Error);
}

TEST(CgroupConvert, Weights) {
  EXPECT_EQ(cg::shares_to_weight(0), 0u);
  EXPECT_EQ(cg::shares_to_weight(2), 1u);
  EXPECT_EQ(cg::shares_to_weight(1024), 39u);
  EXPECT_EQ(cg::shares_to_weight(262144), 10000u);
  EXPECT_EQ(cg::shares_to_weight(1), 1u);  // clamped to the kernel's minimum
  EXPECT_EQ(cg::blkio_weight_to_io_weight(0), 0u);
  EXPECT_EQ(cg::blkio_weight_to_io_weight(10), 1u);
  EXPECT_EQ(cg::blkio_weight_to_io_weight(500), 4950u);
  EXPECT_EQ(cg::blkio_weight_to_io_weight(1000), 10000u);
}

TEST(CgroupDevices, RuleLines) {
  using hoist::oci::DeviceRule;
  EXPECT_EQ(cg::detail::device_rule(DeviceRule{false, "a", {}, {}, "rwm"}), "a *:* rwm");
  EXPECT_EQ(cg::detail::device_rule(DeviceRule{true, "", {}, {}, "rwm"}), "a *:* rwm");
  EXPECT_EQ(cg::detail::device_rule(DeviceRule{true, "c", 1, 3, "rwm"}), "c 1:3 rwm");
  EXPECT_EQ(cg::detail::device_rule(DeviceRule{true, "c", 136, {}, "rw"}), "c 136:* rw");
  EXPECT_EQ(cg::detail::device_rule(DeviceRule{true, "b", {}, 0, "m"}), "b *:0 m");
  EXPECT_EQ(cg::detail::device_rule(DeviceRule{true, "c", 5, 1, ""}), "c 5:1 rwm");
  EXPECT_THROW(cg::detail::device_rule(DeviceRule{true, "x", 1, 1, "r"}), Error);
  EXPECT_THROW(cg::detail::device_rule(DeviceRule{true, "c", 1, 1, "rwx"}), Error);
}

TEST(CgroupWrite, ErrorNamesFileAndValue) {
  TempDir t;
  EXPECT_EQ(error_of([&] { cg::detail::write_value(t.path(), "memory.limit_in_bytes", "100"); }),
            "write " + t.path() + "/memory.limit_in_bytes \"100\": No such file or directory");
}

// ---- v1 (with a unified part: hybrid) against a fake tree ----

namespace {

constexpr const char* kPath = "/hoist/c1";

class CgroupV1 : public ::testing::Test {
 protected:
  void SetUp() override {
    layout.v1 = {{"cpu", root("cpu,cpuacct")},  {"cpuacct", root("cpu,cpuacct")}, {"cpuset", root("cpuset")},
                 {"memory", root("memory")},     {"pids", root("pids")},           {"devices", root("devices")},
                 {"freezer", root("freezer")},   {"blkio", root("blkio")},         {"net_cls", root("net_cls")},
                 {"name=systemd", root("systemd")}};
    // The kernel's files in the container's cgroup (the tests pre-create it as the kernel would
    // populate it on mkdir).
    for (const char* h : {"cpu,cpuacct", "cpuset", "memory", "pids", "devices", "freezer", "blkio", "net_cls", "systemd"})
      touch(leaf(h), {"cgroup.procs"});
    touch(leaf("cpu,cpuacct"), {"cpu.shares", "cpu.cfs_quota_us", "cpu.cfs_period_us", "cpu.rt_runtime_us", "cpu.rt_period_us"});
    put(root("cpuset") + "/cpuset.cpus", "0-3\n");
    put(root("cpuset") + "/cpuset.mems", "0\n");
    touch(root("cpuset") + "/hoist", {"cpuset.cpus", "cpuset.mems"});
    touch(leaf("cpuset"), {"cpuset.cpus", "cpuset.mems"});
    touch(leaf("memory"), {"memory.soft_limit_in_bytes", "memory.swappiness", "memory.oom_control"});
    put(leaf("memory") + "/memory.limit_in_bytes", "9223372036854771712\n");
    put(leaf("memory") + "/memory.memsw.limit_in_bytes", "9223372036854771712\n");
    touch(leaf("pids"), {"pids.max"});
    touch(leaf("devices"), {"devices.allow", "devices.deny"});
    put(leaf("freezer") + "/freezer.state", "THAWED\n");
    touch(leaf("blkio"), {"blkio.weight", "blkio.leaf_weight", "blkio.weight_device", "blkio.throttle.read_bps_device",
                          "blkio.throttle.write_iops_device"});
    touch(leaf("net_cls"), {"net_cls.classid"});
  }

  std::string root(const std::string& h) const { return t.path() + "/" + h; }
  std::string leaf(const std::string& h) const { return root(h) + kPath; }
  std::string file(const std::string& h, const std::string& f) const { return get(leaf(h) + "/" + f); }

  // Adds a unified hierarchy holding hugetlb only, as on this VM.
  void make_hybrid() {
    layout.unified = root("unified");
    put(root("unified") + "/cgroup.controllers", "hugetlb\n");
    put(root("unified") + "/cgroup.subtree_control");
    put(root("unified") + "/hoist/cgroup.controllers", "hugetlb\n");
    put(root("unified") + "/hoist/cgroup.subtree_control");
    put(leaf("unified") + "/cgroup.controllers", "hugetlb\n");
    touch(leaf("unified"), {"cgroup.procs", "hugetlb.2MB.max", "hugetlb.1GB.max"});
  }

  TempDir t;
  cg::Layout layout;
};

}  // namespace

TEST_F(CgroupV1, CreateMakesEveryHierarchyAndCopiesCpuset) {
  hoist::remove_all(root("systemd"));  // a hierarchy where nothing exists yet
  hoist::mkdir_all(root("systemd"));
  auto m = cg::open(layout, kPath);
  m->create();
  EXPECT_TRUE(m->exists());
  EXPECT_TRUE(hoist::path_exists(leaf("systemd")));
  EXPECT_EQ(get(root("cpuset") + "/hoist/cpuset.cpus"), "0-3");
  EXPECT_EQ(get(root("cpuset") + "/hoist/cpuset.mems"), "0");
  EXPECT_EQ(file("cpuset", "cpuset.cpus"), "0-3");
  EXPECT_EQ(file("cpuset", "cpuset.mems"), "0");
  EXPECT_EQ(get(root("cpuset") + "/cpuset.cpus"), "0-3\n");  // the parent is left alone
  EXPECT_EQ(m->dir("memory"), leaf("memory"));
  EXPECT_EQ(m->dir("cpuacct"), leaf("cpu,cpuacct"));
  EXPECT_EQ(m->dir(""), leaf("pids"));
  EXPECT_EQ(m->dir("hugetlb"), "");
}

TEST_F(CgroupV1, CreateKeepsCpusetAlreadySet) {
  put(leaf("cpuset") + "/cpuset.cpus", "2\n");
  cg::open(layout, kPath)->create();
  EXPECT_EQ(file("cpuset", "cpuset.cpus"), "2\n");
  EXPECT_EQ(file("cpuset", "cpuset.mems"), "0");
}

TEST_F(CgroupV1, AddPidWritesEveryHierarchy) {
  make_hybrid();
  auto m = cg::open(layout, kPath);
  m->add_pid(4242);
  for (const char* h : {"cpu,cpuacct", "cpuset", "memory", "pids", "devices", "freezer", "blkio", "net_cls", "systemd", "unified"})
    EXPECT_EQ(file(h, "cgroup.procs"), "4242") << h;
}

// The ways into the cgroup without a move of another process (no RCU grace period): the
// process writes 0 to each v1 hierarchy's `tasks` itself, and is born in the unified directory.
TEST_F(CgroupV1, AProcessJoinsTheV1HierarchiesItselfAndIsBornInTheUnifiedOne) {
  make_hybrid();
  for (const char* h : {"cpu,cpuacct", "cpuset", "memory", "pids", "devices", "freezer", "blkio", "net_cls", "systemd"})
    touch(leaf(h), {"tasks"});
  auto m = cg::open(layout, kPath);
  m->join_self_v1();
  for (const char* h : {"cpu,cpuacct", "cpuset", "memory", "pids", "devices", "freezer", "blkio", "net_cls", "systemd"}) {
    EXPECT_EQ(file(h, "tasks"), "0") << h;
    EXPECT_EQ(file(h, "cgroup.procs"), "") << h;
  }
  EXPECT_EQ(file("unified", "cgroup.procs"), "");
  // A kernel without CLONE_INTO_CGROUP: the runtime moves the child into the unified one only.
  m->add_pid_to(4242, false, true);
  EXPECT_EQ(file("unified", "cgroup.procs"), "4242");
  EXPECT_EQ(file("pids", "cgroup.procs"), "");
  hoist::UniqueFd fd = m->open_v2();
  ASSERT_TRUE(fd);
  EXPECT_EQ(std::filesystem::read_symlink("/proc/self/fd/" + std::to_string(fd.get())), leaf("unified"));
  // No cgroup2 hierarchy: nothing to be born in.
  layout.unified.clear();
  EXPECT_FALSE(cg::open(layout, kPath)->open_v2());
}

TEST_F(CgroupV1, ApplyWritesLimits) {
  Resources r;
  r.memory.emplace();
  r.memory->limit = 104857600;
  r.memory->reservation = 52428800;
  r.memory->swap = 209715200;
  r.memory->swappiness = 10;
  r.memory->disable_oom_killer = true;
  r.memory->kernel = 1048576;  // no memory.kmem.* files: skipped
  r.cpu.emplace();
  r.cpu->shares = 512;
  r.cpu->quota = 50000;
  r.cpu->period = 100000;
  r.cpu->realtime_period = 1000000;
  r.cpu->realtime_runtime = 950000;
  r.cpu->cpus = "1-2";
  r.cpu->mems = "0";
  r.pids_limit = 100;
  r.blkio.emplace();
  r.blkio->weight = 500;
  r.blkio->leaf_weight = 300;
  r.blkio->weight_device = {{8, 0, 200, std::nullopt}};
  r.blkio->throttle_read_bps = {{8, 0, 1048576}};
  r.blkio->throttle_write_iops = {{8, 16, 100}};
  r.net_cls_classid = 0x100001;
  r.devices = {{false, "a", {}, {}, "rwm"}, {true, "c", 1, 3, "rwm"}, {true, "c", 136, {}, "rwm"}};

  cg::open(layout, kPath)->apply(r);

  EXPECT_EQ(file("memory", "memory.limit_in_bytes"), "104857600");
  EXPECT_EQ(file("memory", "memory.memsw.limit_in_bytes"), "209715200");
  EXPECT_EQ(file("memory", "memory.soft_limit_in_bytes"), "52428800");
  EXPECT_EQ(file("memory", "memory.swappiness"), "10");
  EXPECT_EQ(file("memory", "memory.oom_control"), "1");
  EXPECT_FALSE(hoist::path_exists(leaf("memory") + "/memory.kmem.limit_in_bytes"));
  EXPECT_EQ(file("cpu,cpuacct", "cpu.shares"), "512");
  EXPECT_EQ(file("cpu,cpuacct", "cpu.cfs_quota_us"), "50000");
  EXPECT_EQ(file("cpu,cpuacct", "cpu.cfs_period_us"), "100000");
  EXPECT_EQ(file("cpu,cpuacct", "cpu.rt_period_us"), "1000000");
  EXPECT_EQ(file("cpu,cpuacct", "cpu.rt_runtime_us"), "950000");
  EXPECT_EQ(file("cpuset", "cpuset.cpus"), "1-2");
  EXPECT_EQ(file("cpuset", "cpuset.mems"), "0");
  EXPECT_EQ(file("pids", "pids.max"), "100");
  EXPECT_EQ(file("blkio", "blkio.weight"), "500");
  EXPECT_EQ(file("blkio", "blkio.leaf_weight"), "300");
  EXPECT_EQ(file("blkio", "blkio.weight_device"), "8:0 200");
  EXPECT_EQ(file("blkio", "blkio.throttle.read_bps_device"), "8:0 1048576");
  EXPECT_EQ(file("blkio", "blkio.throttle.write_iops_device"), "8:16 100");
  EXPECT_EQ(file("net_cls", "net_cls.classid"), "1048577");
  // Each rule is its own write; the fake files keep the last one of each kind.
  EXPECT_EQ(file("devices", "devices.deny"), "a *:* rwm");
  EXPECT_EQ(file("devices", "devices.allow"), "c 136:* rwm");
}

TEST_F(CgroupV1, PidsMaxForNonPositive) {
  auto m = cg::open(layout, kPath);
  Resources r;
  r.pids_limit = 0;
  m->apply(r);
  EXPECT_EQ(file("pids", "pids.max"), "max");
  r.pids_limit = -1;
  put(leaf("pids") + "/pids.max", "");
  m->apply(r);
  EXPECT_EQ(file("pids", "pids.max"), "max");
}

TEST_F(CgroupV1, SwapWithoutAccounting) {
  hoist::remove_all(leaf("memory") + "/memory.memsw.limit_in_bytes");
  auto m = cg::open(layout, kPath);
  Resources r;
  r.memory.emplace();
  r.memory->limit = 104857600;
  r.memory->swap = 104857600;  // no swap: moot without accounting
  m->apply(r);
  EXPECT_EQ(file("memory", "memory.limit_in_bytes"), "104857600");
  r.memory->swap = -1;
  m->apply(r);
  r.memory->limit = -1;
  r.memory->swap.reset();
  m->apply(r);
  EXPECT_EQ(file("memory", "memory.limit_in_bytes"), "-1");
  EXPECT_FALSE(hoist::path_exists(leaf("memory") + "/memory.memsw.limit_in_bytes"));
  put(leaf("memory") + "/memory.limit_in_bytes", "9223372036854771712\n");  // what the kernel reads back
  r.memory->limit = 104857600;
  r.memory->swap = 209715200;  // real swap asked for: an error naming file and value
  EXPECT_EQ(error_of([&] { m->apply(r); }),
            "write " + leaf("memory") + "/memory.memsw.limit_in_bytes \"209715200\": No such file or directory");
}

TEST_F(CgroupV1, MemoryUnlimitedSetsSwapUnlimited) {
  Resources r;
  r.memory.emplace();
  r.memory->limit = -1;
  cg::open(layout, kPath)->apply(r);
  EXPECT_EQ(file("memory", "memory.limit_in_bytes"), "-1");
  EXPECT_EQ(file("memory", "memory.memsw.limit_in_bytes"), "-1");
}

TEST_F(CgroupV1, MissingControllerIsAnError) {
  Resources r;
  r.hugepage_limits = {{"2MB", 1 << 21}};
  EXPECT_EQ(error_of([&] { cg::open(layout, kPath)->apply(r); }),
            "cannot set hugepageLimits: cgroup controller \"hugetlb\" is not available");
  Resources u;
  u.unified = {{"memory.high", "1"}};
  EXPECT_THROW(cg::open(layout, kPath)->apply(u), Error);
  Resources bad;
  bad.memory.emplace();
  bad.memory->swappiness = 101;
  EXPECT_THROW(cg::open(layout, kPath)->apply(bad), Error);
}

// The unified part of a hybrid host is shared (v1 hierarchies, crun, podman): a controller
// enabled in its root's subtree_control is taken from v1 and makes crun refuse to run.
TEST_F(CgroupV1, HybridCreateLeavesTheUnifiedControllersAsFound) {
  make_hybrid();
  cg::open(layout, kPath)->create();
  EXPECT_EQ(get(root("unified") + "/cgroup.subtree_control"), "");
  EXPECT_EQ(get(root("unified") + "/hoist/cgroup.subtree_control"), "");
  EXPECT_TRUE(hoist::path_exists(leaf("unified")));
}

// What the host delegates (here: hugetlb, enabled in the unified root by its owner) is used.
TEST_F(CgroupV1, HybridHugetlbGoesToUnified) {
  make_hybrid();
  put(root("unified") + "/cgroup.subtree_control", "hugetlb\n");
  auto m = cg::open(layout, kPath);
  m->create();
  EXPECT_EQ(get(root("unified") + "/cgroup.subtree_control"), "hugetlb\n");
  Resources r;
  r.hugepage_limits = {{"2MB", 4194304}, {"1GB", 0}};
  r.pids_limit = 7;
  m->apply(r);
  EXPECT_EQ(file("unified", "hugetlb.2MB.max"), "4194304");
  EXPECT_EQ(file("unified", "hugetlb.1GB.max"), "0");
  EXPECT_EQ(file("pids", "pids.max"), "7");
  EXPECT_EQ(m->dir("hugetlb"), leaf("unified"));
  EXPECT_EQ(m->dir(""), leaf("unified"));
  // net_prio exists neither as v1 hierarchy nor on v2.
  Resources n;
  n.net_priorities = {{"eth0", 5}};
  EXPECT_EQ(error_of([&] { m->apply(n); }), "cannot set network.priorities: cgroup controller \"net_prio\" is not available");
}

TEST_F(CgroupV1, FreezeAndThaw) {
  auto m = cg::open(layout, kPath);
  EXPECT_FALSE(m->frozen());
  m->freeze(true);
  EXPECT_EQ(file("freezer", "freezer.state"), "FROZEN");
  EXPECT_TRUE(m->frozen());
  m->freeze(false);
  EXPECT_EQ(file("freezer", "freezer.state"), "THAWED");
  EXPECT_FALSE(m->frozen());
}

TEST_F(CgroupV1, KillAllSignalsEveryPid) {
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::pause();
    ::_exit(0);
  }
  put(leaf("pids") + "/cgroup.procs", std::to_string(child) + "\n");
  auto m = cg::open(layout, kPath);
  EXPECT_EQ(m->pids(), std::vector<pid_t>{child});
  m->kill_all(SIGTERM);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGTERM);
  EXPECT_EQ(file("freezer", "freezer.state"), "THAWED");  // frozen around the signals, then thawed
}

TEST_F(CgroupV1, DestroyRemovesLeafOnly) {
  cg::Layout l;
  l.v1 = {{"pids", root("p")}, {"memory", root("m")}};
  hoist::mkdir_all(root("p") + kPath + "/nested");
  hoist::mkdir_all(root("m") + kPath);
  auto m = cg::open(l, kPath);
  EXPECT_TRUE(m->exists());
  m->destroy();
  EXPECT_FALSE(m->exists());
  EXPECT_TRUE(hoist::path_exists(root("p") + "/hoist"));
  EXPECT_TRUE(hoist::path_exists(root("m") + "/hoist"));
  EXPECT_NO_THROW(m->destroy());  // already gone
}

// ---- v2 against a fake tree ----

namespace {

class CgroupV2 : public ::testing::Test {
 protected:
  static constexpr const char* kControllers = "cpuset cpu io memory hugetlb pids\n";

  void SetUp() override {
    layout.unified = t.path();
    put(t.path() + "/cgroup.controllers", kControllers);
    put(t.path() + "/cgroup.subtree_control");
    put(t.path() + "/hoist/cgroup.controllers", kControllers);
    put(t.path() + "/hoist/cgroup.subtree_control");
  }

  // The files the kernel creates in the new cgroup.
  void populate_leaf() {
    put(leaf() + "/cgroup.controllers", kControllers);
    touch(leaf(), {"cgroup.procs", "cgroup.freeze", "memory.max", "memory.low", "memory.swap.max", "memory.high",
                   "cpu.weight", "cpu.max", "cpuset.cpus", "cpuset.mems", "pids.max", "io.weight", "io.max",
                   "hugetlb.2MB.max"});
  }

  std::string leaf() const { return t.path() + kPath; }
  std::string file(const std::string& f) const { return get(leaf() + "/" + f); }

  TempDir t;
  cg::Layout layout;
};

}  // namespace

TEST_F(CgroupV2, CreateEnablesControllersDownToTheParent) {
  auto m = cg::open(layout, kPath);
  EXPECT_FALSE(m->exists());
  m->create();
  EXPECT_TRUE(m->exists());
  EXPECT_EQ(get(t.path() + "/cgroup.subtree_control"), "+cpuset +cpu +io +memory +hugetlb +pids");
  EXPECT_EQ(get(t.path() + "/hoist/cgroup.subtree_control"), "+cpuset +cpu +io +memory +hugetlb +pids");
  EXPECT_FALSE(hoist::path_exists(leaf() + "/cgroup.subtree_control"));
  EXPECT_EQ(m->dir("memory"), leaf());
}

TEST_F(CgroupV2, ApplyWritesLimits) {
  populate_leaf();
  Resources r;
  r.memory.emplace();
  r.memory->limit = 104857600;
  r.memory->reservation = 52428800;
  r.memory->swap = 314572800;
  r.memory->swappiness = 60;  // no v2 file: ignored
  r.cpu.emplace();
  r.cpu->shares = 1024;
  r.cpu->quota = 50000;
  r.cpu->period = 100000;
  r.cpu->cpus = "0-1";
  r.pids_limit = -1;
  r.blkio.emplace();
  r.blkio->weight = 500;
  r.blkio->throttle_read_bps = {{8, 0, 1048576}};
  r.blkio->throttle_write_bps = {{8, 0, 2097152}};
  r.blkio->throttle_read_iops = {{8, 0, 100}};
  r.blkio->throttle_write_iops = {{8, 0, 0}};
  r.hugepage_limits = {{"2MB", 2097152}};
  r.devices = {{false, "a", {}, {}, "rwm"}};  // needs eBPF on v2: skipped
  r.unified = {{"memory.high", "94371840"}, {"pids.max", "20"}};

  auto m = cg::open(layout, kPath);
  m->apply(r);

  EXPECT_EQ(file("memory.max"), "104857600");
  EXPECT_EQ(file("memory.low"), "52428800");
  EXPECT_EQ(file("memory.swap.max"), "209715200");
  EXPECT_EQ(file("cpu.weight"), "39");
  EXPECT_EQ(file("cpu.max"), "50000 100000");
  EXPECT_EQ(file("cpuset.cpus"), "0-1");
  EXPECT_EQ(file("cpuset.mems"), "");
  EXPECT_EQ(file("io.weight"), "4950");
  EXPECT_EQ(file("io.max"), "8:0 rbps=1048576 wbps=2097152 riops=100 wiops=max");
  EXPECT_EQ(file("hugetlb.2MB.max"), "2097152");
  EXPECT_EQ(file("memory.high"), "94371840");
  EXPECT_EQ(file("pids.max"), "20");  // unified is written last and wins
  EXPECT_FALSE(hoist::path_exists(leaf() + "/memory.swappiness"));
}

TEST_F(CgroupV2, SwapAndCpuMaxVariants) {
  populate_leaf();
  auto m = cg::open(layout, kPath);
  auto apply_memory = [&](std::optional<int64_t> limit, std::optional<int64_t> swap) {
    Resources r;
    r.memory.emplace();
    r.memory->limit = limit;
    r.memory->swap = swap;
    m->apply(r);
  };
  apply_memory(-1, std::nullopt);
  EXPECT_EQ(file("memory.max"), "max");
  EXPECT_EQ(file("memory.swap.max"), "max");
  apply_memory(100, 100);
  EXPECT_EQ(file("memory.max"), "100");
  EXPECT_EQ(file("memory.swap.max"), "0");
  apply_memory(100, -1);
  EXPECT_EQ(file("memory.swap.max"), "max");
  EXPECT_THROW(apply_memory(200, 100), Error);
  EXPECT_THROW(apply_memory(std::nullopt, 100), Error);

  auto apply_cpu = [&](std::optional<int64_t> quota, std::optional<uint64_t> period) {
    Resources r;
    r.cpu.emplace();
    r.cpu->quota = quota;
    r.cpu->period = period;
    m->apply(r);
  };
  apply_cpu(-1, 100000);
  EXPECT_EQ(file("cpu.max"), "max 100000");
  apply_cpu(std::nullopt, 250000);
  EXPECT_EQ(file("cpu.max"), "max 250000");
  apply_cpu(20000, std::nullopt);
  EXPECT_EQ(file("cpu.max"), "20000");

  Resources rt;
  rt.cpu.emplace();
  rt.cpu->realtime_runtime = 1000;
  EXPECT_THROW(m->apply(rt), Error);
}

TEST_F(CgroupV2, SwapWithoutAccountingIsSkippedWhenMoot) {
  populate_leaf();
  hoist::remove_all(leaf() + "/memory.swap.max");
  Resources r;
  r.memory.emplace();
  r.memory->limit = 100;
  r.memory->swap = 100;
  auto m = cg::open(layout, kPath);
  m->apply(r);
  EXPECT_EQ(file("memory.max"), "100");
  EXPECT_FALSE(hoist::path_exists(leaf() + "/memory.swap.max"));
  r.memory->swap = 300;
  EXPECT_EQ(error_of([&] { m->apply(r); }), "write " + leaf() + "/memory.swap.max \"200\": No such file or directory");
}

TEST_F(CgroupV2, RejectsBadUnifiedKeys) {
  populate_leaf();
  auto m = cg::open(layout, kPath);
  auto apply_key = [&](const std::string& key) {
    Resources r;
    r.unified = {{key, "1"}};
    m->apply(r);
  };
  EXPECT_EQ(error_of([&] { apply_key("../memory.max"); }), "invalid linux.resources.unified key \"../memory.max\"");
  EXPECT_THROW(apply_key("memory/max"), Error);
  EXPECT_THROW(apply_key("nodot"), Error);
  EXPECT_EQ(error_of([&] { apply_key("rdma.max"); }),
            "cannot set linux.resources.unified \"rdma.max\": cgroup controller \"rdma\" is not available in " + leaf());
  EXPECT_FALSE(hoist::path_exists(leaf() + "/rdma.max"));
  put(leaf() + "/cgroup.max.depth");
  apply_key("cgroup.max.depth");  // core files need no controller
  EXPECT_EQ(file("cgroup.max.depth"), "1");
}

TEST_F(CgroupV2, MissingControllerIsAnError) {
  populate_leaf();
  put(leaf() + "/cgroup.controllers", "memory pids\n");
  Resources r;
  r.cpu.emplace();
  r.cpu->shares = 100;
  EXPECT_EQ(error_of([&] { cg::open(layout, kPath)->apply(r); }), "cannot set cpu: cgroup controller \"cpu\" is not available");
  Resources n;
  n.net_cls_classid = 1;
  EXPECT_EQ(error_of([&] { cg::open(layout, kPath)->apply(n); }),
            "cannot set network.classID: cgroup controller \"net_cls\" is not available");
}

TEST_F(CgroupV2, FreezeWaitsForEvents) {
  populate_leaf();
  put(leaf() + "/cgroup.events", "populated 1\nfrozen 1\n");
  auto m = cg::open(layout, kPath);
  m->freeze(true);
  EXPECT_EQ(file("cgroup.freeze"), "1");
  EXPECT_TRUE(m->frozen());
  put(leaf() + "/cgroup.events", "populated 1\nfrozen 0\n");
  m->freeze(false);
  EXPECT_EQ(file("cgroup.freeze"), "0");
  EXPECT_FALSE(m->frozen());
}

TEST_F(CgroupV2, FreezeTimesOutAndThaws) {
  populate_leaf();
  put(leaf() + "/cgroup.events", "populated 1\nfrozen 0\n");
  auto m = cg::open(layout, kPath);
  EXPECT_THROW(m->freeze(true), Error);
  EXPECT_EQ(file("cgroup.freeze"), "0");
}

TEST_F(CgroupV2, AProcessIsBornInTheCgroupAndHasNoV1HierarchyToJoin) {
  populate_leaf();
  auto m = cg::open(layout, kPath);
  m->join_self_v1();
  m->add_pid_to(5, true, false);
  EXPECT_EQ(file("cgroup.procs"), "");
  m->add_pid_to(6, false, true);
  EXPECT_EQ(file("cgroup.procs"), "6");
  hoist::UniqueFd fd = m->open_v2();
  ASSERT_TRUE(fd);
  EXPECT_EQ(std::filesystem::read_symlink("/proc/self/fd/" + std::to_string(fd.get())), leaf());
}

TEST_F(CgroupV2, KillAllUsesCgroupKill) {
  populate_leaf();
  touch(leaf(), {"cgroup.kill"});
  auto m = cg::open(layout, kPath);
  m->add_pid(77);
  EXPECT_EQ(file("cgroup.procs"), "77");
  put(leaf() + "/cgroup.procs");
  m->kill_all(SIGKILL);
  EXPECT_EQ(file("cgroup.kill"), "1");
  EXPECT_TRUE(m->pids().empty());
}

TEST_F(CgroupV2, DestroyRemovesLeafAndChildren) {
  hoist::mkdir_all(leaf() + "/sub/subsub");
  auto m = cg::open(layout, kPath);
  m->destroy();
  EXPECT_FALSE(m->exists());
  EXPECT_TRUE(hoist::path_exists(t.path() + "/hoist"));
  EXPECT_NO_THROW(m->destroy());
}

TEST(CgroupOpen, RejectsBadPathsAndEmptyLayout) {
  cg::Layout v2;
  v2.unified = "/nonexistent";
  EXPECT_THROW(cg::open(v2, "relative"), Error);
  EXPECT_THROW(cg::open(v2, "/a/../b"), Error);
  EXPECT_THROW(cg::open(cg::Layout{}, "/a"), Error);
}
