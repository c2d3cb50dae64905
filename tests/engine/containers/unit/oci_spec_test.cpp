// OCI spec generation from Docker's Config/HostConfig: every spec built here is also parsed by
// the runtime's own config parser.
#include "engine/containers/oci_spec.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "common/error.h"
#include "common/file.h"
#include "runtime/spec.h"

namespace hoist::engine {
namespace {
using json = nlohmann::json;

const std::string kId = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

class OciSpec : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/hoist-ocispec-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    rootfs_ = dir_ + "/rootfs";
    mkdir_all(rootfs_ + "/etc");
    write(rootfs_ + "/etc/passwd",
          "root:x:0:0:root:/root:/bin/sh\n"
          "daemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
          "app:x:1000:1000:app:/home/app:/bin/sh\n");
    write(rootfs_ + "/etc/group",
          "root:x:0:\n"
          "daemon:x:1:\n"
          "wheel:x:10:root,app\n"
          "audio:x:29:app\n"
          "app:x:1000:\n");
  }
  void TearDown() override { remove_all(dir_); }

  static void write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

  SpecInput input(json config = json::object(), json host_config = json::object(),
                  json image = json{{"Cmd", {"/bin/sh"}}}) {
    SpecInput in;
    in.id = kId;
    in.config = std::move(config);
    in.host_config = std::move(host_config);
    in.image_config = std::move(image);
    in.rootfs = rootfs_;
    in.cgroup_parent = "/hoist";
    return in;
  }

  // Builds and checks that the runtime accepts it.
  json build(const SpecInput& in) {
    json spec = build_oci_spec(in);
    try {
      oci::parse_spec(spec.dump(), dir_);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "runtime rejected the spec: " << e.what() << "\n" << spec.dump(2);
    }
    return spec;
  }

  static bool has(const json& arr, const std::string& v) {
    return std::find(arr.begin(), arr.end(), json(v)) != arr.end();
  }
  static const json* find_mount(const json& spec, const std::string& dst) {
    for (const auto& m : spec["mounts"])
      if (m["destination"] == dst) return &m;
    return nullptr;
  }
  // Names allowed unconditionally (rules with no args) by an OCI seccomp object.
  static bool allows(const json& seccomp, const std::string& name) {
    for (const auto& s : seccomp["syscalls"])
      if (s["action"] == "SCMP_ACT_ALLOW" && !s.contains("args") && has(s["names"], name)) return true;
    return false;
  }
  static bool mentions(const json& seccomp, const std::string& name) {
    for (const auto& s : seccomp["syscalls"])
      if (s["action"] == "SCMP_ACT_ALLOW" && has(s["names"], name)) return true;
    return false;
  }

  std::string dir_, rootfs_;
};

using V = std::vector<std::string>;

TEST(ResolveCommand, ImageOnly) {
  EXPECT_EQ(resolve_command(json::object(), json{{"Entrypoint", {"/ep"}}, {"Cmd", {"a", "b"}}}),
            (V{"/ep", "a", "b"}));
}
TEST(ResolveCommand, ContainerCmdOverridesImageCmd) {
  EXPECT_EQ(resolve_command(json{{"Cmd", {"x"}}}, json{{"Entrypoint", {"/ep"}}, {"Cmd", {"a"}}}),
            (V{"/ep", "x"}));
}
TEST(ResolveCommand, ContainerEntrypointClearsImageCmd) {
  EXPECT_EQ(resolve_command(json{{"Entrypoint", {"/mine"}}}, json{{"Entrypoint", {"/ep"}}, {"Cmd", {"a"}}}),
            (V{"/mine"}));
}
TEST(ResolveCommand, BothGiven) {
  EXPECT_EQ(resolve_command(json{{"Entrypoint", {"/mine"}}, {"Cmd", {"x", "y"}}},
                            json{{"Entrypoint", {"/ep"}}, {"Cmd", {"a"}}}),
            (V{"/mine", "x", "y"}));
}
TEST(ResolveCommand, EmptyEntrypointResetsImageEntrypoint) {
  EXPECT_EQ(resolve_command(json{{"Entrypoint", {""}}}, json{{"Entrypoint", {"/ep"}}, {"Cmd", {"a"}}}),
            (V{"a"}));
  EXPECT_EQ(resolve_command(json{{"Entrypoint", "/str"}}, json::object()), (V{"/str"}));
}

TEST_F(OciSpec, NoCommandIsAnError) {
  try {
    build_oci_spec(input(json::object(), json::object(), json::object()));
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_STREQ(e.what(), "No command specified");
  }
}

TEST_F(OciSpec, EnvMergeAndDefaults) {
  auto in = input(json{{"Env", {"B=2", "C=3"}}, {"Tty", true}}, json::object(),
                  json{{"Cmd", {"sh"}}, {"Env", {"A=1", "B=1"}}});
  json spec = build(in);
  EXPECT_EQ(spec["process"]["env"],
            json({"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                  "HOSTNAME=0123456789ab", "TERM=xterm", "A=1", "B=2", "C=3"}));
  EXPECT_EQ(spec["process"]["terminal"], true);
  EXPECT_EQ(spec["hostname"], "0123456789ab");
  EXPECT_EQ(spec["process"]["cwd"], "/");
  EXPECT_EQ(spec["ociVersion"], "1.1.0");
  EXPECT_EQ(spec["linux"]["cgroupsPath"], "/hoist/" + kId);
  // Image PATH replaces the default one.
  auto in2 = input(json::object(), json::object(), json{{"Cmd", {"sh"}}, {"Env", {"PATH=/x"}}, {"WorkingDir", "/w"}});
  json s2 = build(in2);
  EXPECT_EQ(s2["process"]["env"][0], "PATH=/x");
  EXPECT_EQ(s2["process"]["terminal"], false);
  EXPECT_EQ(s2["process"]["cwd"], "/w");
  EXPECT_THROW(build_oci_spec(input(json{{"WorkingDir", "rel"}})), InvalidArgument);
}

TEST_F(OciSpec, UserResolution) {
  auto r = resolve_user(rootfs_, "app");
  EXPECT_EQ(r.uid, 1000u);
  EXPECT_EQ(r.gid, 1000u);
  EXPECT_EQ(r.additional_gids, (std::vector<uint32_t>{10, 29}));
  r = resolve_user(rootfs_, "");
  EXPECT_EQ(r.uid, 0u);
  EXPECT_EQ(r.additional_gids, (std::vector<uint32_t>{10}));
  r = resolve_user(rootfs_, "1234:5678");
  EXPECT_EQ(r.uid, 1234u);
  EXPECT_EQ(r.gid, 5678u);
  EXPECT_TRUE(r.additional_gids.empty());
  r = resolve_user(rootfs_, "app:audio");
  EXPECT_EQ(r.uid, 1000u);
  EXPECT_EQ(r.gid, 29u);
  r = resolve_user(rootfs_, "daemon", {"audio", "42"});
  EXPECT_EQ(r.uid, 1u);
  EXPECT_EQ(r.additional_gids, (std::vector<uint32_t>{29, 42}));
  EXPECT_THROW(resolve_user(rootfs_, "nobody"), InvalidArgument);
  EXPECT_THROW(resolve_user(rootfs_, "app:nogroup"), InvalidArgument);
  EXPECT_THROW(resolve_user(rootfs_, "daemon", {"nogroup"}), InvalidArgument);

  json spec = build(input(json{{"User", "app"}}));
  EXPECT_EQ(spec["process"]["user"]["uid"], 1000);
  EXPECT_EQ(spec["process"]["user"]["additionalGids"], json({10, 29}));
  // Image user applies when the container gives none.
  spec = build(input(json::object(), json::object(), json{{"Cmd", {"sh"}}, {"User", "daemon"}}));
  EXPECT_EQ(spec["process"]["user"]["uid"], 1);
}

TEST_F(OciSpec, PasswdSymlinkOutsideRootfsIsNotFollowedToHost) {
  // A host file the rootfs' /etc/passwd points at (absolute symlink): resolved inside the rootfs.
  std::string host_passwd = dir_ + "/hostpasswd";
  write(host_passwd, "evil:x:4242:4242::/:/bin/sh\n");
  ::unlink((rootfs_ + "/etc/passwd").c_str());
  ASSERT_EQ(::symlink(host_passwd.c_str(), (rootfs_ + "/etc/passwd").c_str()), 0);
  EXPECT_THROW(resolve_user(rootfs_, "evil"), InvalidArgument);
  ::unlink((rootfs_ + "/etc/passwd").c_str());
  ASSERT_EQ(::symlink("../../../hostpasswd", (rootfs_ + "/etc/passwd").c_str()), 0);
  EXPECT_THROW(resolve_user(rootfs_, "evil"), InvalidArgument);
  // Numeric users need no passwd file.
  EXPECT_EQ(resolve_user(rootfs_, "7").uid, 7u);
}

TEST_F(OciSpec, Capabilities) {
  auto def = default_capabilities();
  EXPECT_EQ(def, (V{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
                    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
                    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"}));
  json spec = build(input());
  auto caps = spec["process"]["capabilities"];
  EXPECT_EQ(caps["bounding"].size(), 14u);
  EXPECT_EQ(caps["bounding"], caps["effective"]);
  EXPECT_EQ(caps["bounding"], caps["permitted"]);
  EXPECT_FALSE(caps.contains("inheritable"));
  EXPECT_FALSE(caps.contains("ambient"));

  spec = build(input(json::object(), json{{"CapAdd", {"net_admin", "CAP_SYS_PTRACE"}}, {"CapDrop", {"MKNOD"}}}));
  caps = spec["process"]["capabilities"]["bounding"];
  EXPECT_TRUE(has(caps, "CAP_NET_ADMIN"));
  EXPECT_TRUE(has(caps, "CAP_SYS_PTRACE"));
  EXPECT_FALSE(has(caps, "CAP_MKNOD"));
  EXPECT_EQ(caps.size(), 15u);
  // ptrace becomes allowed by seccomp with CAP_SYS_PTRACE.
  EXPECT_TRUE(allows(spec["linux"]["seccomp"], "ptrace"));

  EXPECT_EQ(effective_capabilities(json{"ALL"}, json::array(), false), available_capabilities());
  EXPECT_EQ(effective_capabilities(json{"ALL"}, json{"chown"}, false).size(), available_capabilities().size() - 1);
  // Where the daemon's bounding set lacks a capability (a daemon inside a container), privileged
  // and ALL give what is there; naming the missing one is refused in dockerd's words.
  const V some{"CAP_CHOWN", "CAP_KILL", "CAP_SYS_ADMIN"};
  EXPECT_EQ(effective_capabilities(json::array(), json::array(), true, some), some);
  EXPECT_EQ(effective_capabilities(json{"ALL"}, json{"kill"}, false, some), (V{"CAP_CHOWN", "CAP_SYS_ADMIN"}));
  try {
    effective_capabilities(json{"sys_resource"}, json::array(), false, some);
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_STREQ(e.what(),
                 "capability not supported by your kernel or not available in the current environment: "
                 "\"CAP_SYS_RESOURCE\"");
  }
  EXPECT_EQ(effective_capabilities(json{"kill"}, json{"ALL"}, false), (V{"CAP_KILL"}));
  EXPECT_TRUE(effective_capabilities(json::array(), json{"all"}, false).empty());
  try {
    effective_capabilities(json{"CAP_BOGUS"}, json::array(), false);
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_STREQ(e.what(), "unknown capability: \"CAP_BOGUS\"");
  }
  EXPECT_THROW(build_oci_spec(input(json::object(), json{{"CapDrop", {"nope"}}})), InvalidArgument);
}

TEST_F(OciSpec, DefaultsMountsMaskedPathsNamespaces) {
  json spec = build(input());
  const json* proc = find_mount(spec, "/proc");
  ASSERT_TRUE(proc);
  EXPECT_EQ((*proc)["type"], "proc");
  const json* dev = find_mount(spec, "/dev");
  ASSERT_TRUE(dev);
  EXPECT_TRUE(has((*dev)["options"], "size=65536k"));
  EXPECT_TRUE(has((*dev)["options"], "mode=755"));
  const json* pts = find_mount(spec, "/dev/pts");
  ASSERT_TRUE(pts);
  EXPECT_TRUE(has((*pts)["options"], "newinstance"));
  EXPECT_TRUE(has((*pts)["options"], "gid=5"));
  EXPECT_TRUE(has((*find_mount(spec, "/sys"))["options"], "ro"));
  EXPECT_TRUE(has((*find_mount(spec, "/sys/fs/cgroup"))["options"], "ro"));
  ASSERT_TRUE(find_mount(spec, "/dev/mqueue"));
  const json* shm = find_mount(spec, "/dev/shm");
  ASSERT_TRUE(shm);
  EXPECT_TRUE(has((*shm)["options"], "size=67108864"));
  EXPECT_TRUE(has(spec["linux"]["maskedPaths"], "/proc/kcore"));
  EXPECT_TRUE(has(spec["linux"]["maskedPaths"], "/sys/firmware"));
  EXPECT_TRUE(has(spec["linux"]["readonlyPaths"], "/proc/sys"));
  EXPECT_TRUE(has(spec["linux"]["readonlyPaths"], "/proc/sysrq-trigger"));
  V types;
  for (const auto& n : spec["linux"]["namespaces"]) types.push_back(n["type"]);
  for (const char* t : {"pid", "network", "ipc", "uts", "mount"}) EXPECT_NE(std::find(types.begin(), types.end(), t), types.end()) << t;
  EXPECT_EQ(std::find(types.begin(), types.end(), "user"), types.end());
  EXPECT_EQ(spec["root"]["path"], rootfs_);
  EXPECT_EQ(spec["root"]["readonly"], false);
  EXPECT_EQ(spec["process"]["noNewPrivileges"], false);
  EXPECT_EQ(spec["linux"]["resources"]["devices"][0], json({{"allow", false}, {"access", "rwm"}}));

  // Host modes and the netns path.
  auto in = input(json::object(), json{{"NetworkMode", "host"}, {"PidMode", "host"}, {"UTSMode", "host"}});
  spec = build(in);
  types.clear();
  for (const auto& n : spec["linux"]["namespaces"]) types.push_back(n["type"]);
  EXPECT_EQ(std::find(types.begin(), types.end(), "network"), types.end());
  EXPECT_EQ(std::find(types.begin(), types.end(), "pid"), types.end());
  EXPECT_FALSE(spec.contains("hostname"));
  in = input();
  in.netns_path = "/var/run/netns/x";
  spec = build(in);
  bool found = false;
  for (const auto& n : spec["linux"]["namespaces"])
    if (n["type"] == "network") { found = true; EXPECT_EQ(n["path"], "/var/run/netns/x"); }
  EXPECT_TRUE(found);
}

TEST_F(OciSpec, Privileged) {
  json spec = build(input(json::object(), json{{"Privileged", true}}));
  EXPECT_EQ(spec["process"]["capabilities"]["bounding"].size(), available_capabilities().size());
  EXPECT_FALSE(spec["linux"].contains("seccomp"));
  EXPECT_FALSE(spec["linux"].contains("maskedPaths"));
  EXPECT_FALSE(spec["linux"].contains("readonlyPaths"));
  EXPECT_FALSE(has((*find_mount(spec, "/sys"))["options"], "ro"));
  EXPECT_EQ(spec["linux"]["resources"]["devices"], json::array({{{"allow", true}, {"access", "rwm"}}}));
}

TEST_F(OciSpec, ReadonlyRootfsAndResources) {
  json spec = build(input(json::object(), json{{"ReadonlyRootfs", true},
                                               {"Memory", 256 * 1024 * 1024},
                                               {"NanoCpus", 1500000000},
                                               {"CpuShares", 512},
                                               {"CpusetCpus", "0-1"},
                                               {"PidsLimit", 100},
                                               {"OomScoreAdj", 500},
                                               {"ShmSize", 1048576},
                                               {"Ulimits", {{{"Name", "nofile"}, {"Soft", 1024}, {"Hard", 2048}}}},
                                               {"Sysctls", {{"net.ipv4.ip_forward", "1"}}}}));
  EXPECT_EQ(spec["root"]["readonly"], true);
  auto res = spec["linux"]["resources"];
  EXPECT_EQ(res["memory"]["limit"], 256 * 1024 * 1024);
  EXPECT_EQ(res["memory"]["swap"], 512 * 1024 * 1024);
  EXPECT_EQ(res["cpu"]["period"], 100000);
  EXPECT_EQ(res["cpu"]["quota"], 150000);
  EXPECT_EQ(res["cpu"]["shares"], 512);
  EXPECT_EQ(res["cpu"]["cpus"], "0-1");
  EXPECT_EQ(res["pids"]["limit"], 100);
  EXPECT_EQ(spec["process"]["oomScoreAdj"], 500);
  EXPECT_EQ(spec["process"]["rlimits"][0], json({{"type", "RLIMIT_NOFILE"}, {"hard", 2048}, {"soft", 1024}}));
  EXPECT_EQ(spec["linux"]["sysctl"]["net.ipv4.ip_forward"], "1");
  EXPECT_TRUE(has((*find_mount(spec, "/dev/shm"))["options"], "size=1048576"));
  EXPECT_THROW(build_oci_spec(input(json::object(), json{{"NanoCpus", 1000000000}, {"CpuQuota", 5000}})),
               InvalidArgument);
  EXPECT_THROW(build_oci_spec(input(json::object(), json{{"Memory", 1024}})), InvalidArgument);
  EXPECT_THROW(build_oci_spec(input(json::object(), json{{"OomScoreAdj", 5000}})), InvalidArgument);
}

TEST_F(OciSpec, SecurityOpt) {
  json spec = build(input(json::object(), json{{"SecurityOpt", {"no-new-privileges"}}}));
  EXPECT_EQ(spec["process"]["noNewPrivileges"], true);
  spec = build(input(json::object(), json{{"SecurityOpt", {"no-new-privileges:true"}}}));
  EXPECT_EQ(spec["process"]["noNewPrivileges"], true);
  spec = build(input(json::object(), json{{"SecurityOpt", {"no-new-privileges=false"}}}));
  EXPECT_EQ(spec["process"]["noNewPrivileges"], false);
  spec = build(input(json::object(), json{{"SecurityOpt", {"seccomp=unconfined"}}}));
  EXPECT_FALSE(spec["linux"].contains("seccomp"));
  spec = build(input(json::object(), json{{"SecurityOpt", {"systempaths=unconfined"}}}));
  EXPECT_FALSE(spec["linux"].contains("maskedPaths"));
  try {
    build_oci_spec(input(json::object(), json{{"SecurityOpt", {"bogus"}}}));
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_STREQ(e.what(), "invalid --security-opt 1: \"bogus\"");
  }
  try {
    build_oci_spec(input(json::object(), json{{"SecurityOpt", {"foo=bar"}}}));
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_STREQ(e.what(), "invalid --security-opt 2: \"foo=bar\"");
  }
  EXPECT_THROW(build_oci_spec(input(json::object(), json{{"SecurityOpt", {"no-new-privileges=maybe"}}})),
               InvalidArgument);
  // A custom profile in Docker's format.
  json prof = {{"defaultAction", "SCMP_ACT_ALLOW"},
               {"syscalls", {{{"names", {"chmod"}}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", 1}},
                             {{"name", "mount"}, {"action", "SCMP_ACT_ERRNO"}, {"includes", {{"caps", {"CAP_SYS_ADMIN"}}}}}}}};
  spec = build(input(json::object(), json{{"SecurityOpt", {"seccomp=" + prof.dump()}}}));
  EXPECT_EQ(spec["linux"]["seccomp"]["defaultAction"], "SCMP_ACT_ALLOW");
  ASSERT_EQ(spec["linux"]["seccomp"]["syscalls"].size(), 1u);
  EXPECT_EQ(spec["linux"]["seccomp"]["syscalls"][0]["names"], json({"chmod"}));
  EXPECT_THROW(build_oci_spec(input(json::object(), json{{"SecurityOpt", {"seccomp={not json"}}})),
               InvalidArgument);
}

TEST_F(OciSpec, TmpfsBindsMountsAndFiles) {
  std::string src = dir_ + "/data";
  mkdir_all(src);
  auto in = input(json::object(),
                  json{{"Tmpfs", {{"/run", "rw,exec,size=10m"}}},
                       {"Binds", {src + ":/data:ro", src + ":/data2"}},
                       {"Mounts", {{{"Type", "bind"}, {"Source", src}, {"Target", "/m"}, {"ReadOnly", true}},
                                   {{"Type", "tmpfs"}, {"Target", "/dev/shm"}, {"TmpfsOptions", {{"SizeBytes", 2097152}}}}}}});
  in.hosts_path = dir_ + "/hosts";
  in.resolv_conf_path = dir_ + "/resolv.conf";
  in.hostname_path = dir_ + "/hostname";
  json spec = build(in);
  const json* run = find_mount(spec, "/run");
  ASSERT_TRUE(run);
  EXPECT_EQ((*run)["type"], "tmpfs");
  EXPECT_TRUE(has((*run)["options"], "exec"));
  EXPECT_FALSE(has((*run)["options"], "noexec"));
  EXPECT_TRUE(has((*run)["options"], "size=10m"));
  const json* d = find_mount(spec, "/data");
  ASSERT_TRUE(d);
  EXPECT_EQ((*d)["type"], "bind");
  EXPECT_EQ((*d)["source"], src);
  EXPECT_TRUE(has((*d)["options"], "rbind"));
  EXPECT_TRUE(has((*d)["options"], "ro"));
  EXPECT_FALSE(has((*find_mount(spec, "/data2"))["options"], "ro"));
  EXPECT_TRUE(has((*find_mount(spec, "/m"))["options"], "ro"));
  // The user's /dev/shm replaces the default one.
  int shm_count = 0;
  for (const auto& m : spec["mounts"]) shm_count += m["destination"] == "/dev/shm";
  EXPECT_EQ(shm_count, 1);
  EXPECT_TRUE(has((*find_mount(spec, "/dev/shm"))["options"], "size=2048k"));
  EXPECT_EQ((*find_mount(spec, "/etc/hosts"))["source"], dir_ + "/hosts");
  ASSERT_TRUE(find_mount(spec, "/etc/resolv.conf"));
  ASSERT_TRUE(find_mount(spec, "/etc/hostname"));
  EXPECT_THROW(build_oci_spec(input(json::object(), json{{"Binds", {"/a:rel"}}})), InvalidArgument);
  EXPECT_THROW(build_oci_spec(input(json::object(), json{{"Binds", {"/a:/b:bogus"}}})), InvalidArgument);
}

TEST_F(OciSpec, Init) {
  auto in = input(json{{"Cmd", {"sleep", "1"}}}, json{{"Init", true}});
  EXPECT_THROW(build_oci_spec(in), InvalidArgument);
  in.init_path = "/usr/libexec/docker-init";
  json spec = build(in);
  EXPECT_EQ(spec["process"]["args"], json({"/sbin/docker-init", "--", "sleep", "1"}));
  const json* m = find_mount(spec, "/sbin/docker-init");
  ASSERT_TRUE(m);
  EXPECT_EQ((*m)["source"], "/usr/libexec/docker-init");
}

TEST(SeccompDefault, Profile) {
  json p = default_seccomp_profile(default_capabilities());
  EXPECT_EQ(p["defaultAction"], "SCMP_ACT_ERRNO");
  EXPECT_EQ(p["defaultErrnoRet"], 1);
#if defined(__x86_64__)
  EXPECT_EQ(p["architectures"], json({"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}));
#endif
  auto allowed = [&](const json& prof, const std::string& name) {
    for (const auto& s : prof["syscalls"])
      if (s["action"] == "SCMP_ACT_ALLOW" && !s.contains("args") &&
          std::find(s["names"].begin(), s["names"].end(), json(name)) != s["names"].end())
        return true;
    return false;
  };
  auto mentioned = [&](const json& prof, const std::string& name) {
    for (const auto& s : prof["syscalls"])
      if (s["action"] == "SCMP_ACT_ALLOW" &&
          std::find(s["names"].begin(), s["names"].end(), json(name)) != s["names"].end())
        return true;
    return false;
  };
  for (const char* n : {"read", "write", "execve", "openat", "exit_group", "chroot"}) EXPECT_TRUE(allowed(p, n)) << n;
  for (const char* n : {"kexec_load", "mount", "umount2", "unshare", "setns", "reboot", "init_module", "kcmp", "bpf"})
    EXPECT_FALSE(mentioned(p, n)) << n;
  // clone is allowed only without namespace flags; clone3 gets ENOSYS.
  bool clone_rule = false, clone3_enosys = false;
  for (const auto& s : p["syscalls"]) {
    if (s["names"] == json({"clone"}) && s.contains("args")) {
      clone_rule = true;
      EXPECT_EQ(s["args"][0]["op"], "SCMP_CMP_MASKED_EQ");
      EXPECT_EQ(s["args"][0]["value"], 2114060288ULL);
    }
    if (s["names"] == json({"clone3"}) && s["action"] == "SCMP_ACT_ERRNO") {
      clone3_enosys = true;
      EXPECT_EQ(s["errnoRet"], 38);
    }
  }
#if !defined(__s390x__)
  EXPECT_TRUE(clone_rule);
#endif
  EXPECT_TRUE(clone3_enosys);
  // ptrace is allowed without CAP_SYS_PTRACE on kernels >= 4.8 (Docker's minKernel rule).
  EXPECT_TRUE(allowed(p, "ptrace"));
  EXPECT_TRUE(allowed(p, "socket") == false && mentioned(p, "socket"));  // all but AF_VSOCK
#if defined(__x86_64__)
  EXPECT_TRUE(allowed(p, "arch_prctl"));
#endif

  auto caps = default_capabilities();
  caps.push_back("CAP_SYS_ADMIN");
  json admin = default_seccomp_profile(caps);
  for (const char* n : {"mount", "umount2", "unshare", "setns", "clone", "clone3"}) EXPECT_TRUE(allowed(admin, n)) << n;
  for (const auto& s : admin["syscalls"]) EXPECT_NE(s["action"], "SCMP_ACT_ERRNO");
  EXPECT_FALSE(mentioned(admin, "kexec_load"));
}

// Found by the api_create_body fuzzer: a number too large for int64 (1e118) was converted from
// double (undefined behaviour); as Go's decoder, a non-integer or out-of-range number is refused.
TEST_F(OciSpec, NumbersThatAreNotInt64AreRefused) {
  for (json bad : {json(1e118), json(1.5), json(18446744073709551615ull)}) {
    SCOPED_TRACE(bad.dump());
    for (const char* field : {"ShmSize", "OomScoreAdj", "CpuShares"}) {
      auto in = input(json{{"Cmd", {"true"}}}, json{{field, bad}});
      try {
        build_oci_spec(in);
        ADD_FAILURE() << field << " accepted";
      } catch (const InvalidArgument& e) {
        EXPECT_NE(std::string(e.what()).find(std::string("of type int64")), std::string::npos) << e.what();
      }
    }
  }
  // In range: taken.
  EXPECT_NO_THROW(build(input(json{{"Cmd", {"true"}}}, json{{"ShmSize", 1048576}})));
}

}  // namespace
}  // namespace hoist::engine
