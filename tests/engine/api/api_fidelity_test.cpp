// What docker clients expect of the container endpoints, through docker-py, the docker CLI and raw
// HTTP against a private hoistd: request bodies read as Go reads them, kill answered once the
// container is dead, Mounts in inspect, create's checks (log driver, runtime, storage options,
// device cgroup rules, resources), bodies that are too deep or not UTF-8.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "common/file.h"
#include "common/strings.h"
#include "hoistd_harness.h"

namespace fs = std::filesystem;
using hoist::trim;
using hoist::test::Hoistd;
using hoist::test::HttpResult;
using nlohmann::json;

namespace {

class ApiFidelityTest : public hoist::test::DaemonTest {
 protected:
  ApiFidelityTest() : DaemonTest("fidelity") {}
  HttpResult create(const std::string& body, const std::string& name = "") {
    return d_->http("POST", "/v1.43/containers/create" + (name.empty() ? "" : "?name=" + name), body,
                    {"Content-Type: application/json"});
  }
  json inspect(const std::string& ref) {
    auto r = d_->http("GET", "/v1.43/containers/" + ref + "/json");
    return r.status == 200 ? json::parse(r.body) : json();
  }
  void expect_alive() {
    EXPECT_TRUE(d_->running()) << "hoistd died";
    auto ping = d_->http("GET", "/_ping", "", {}, 0, 5);
    EXPECT_EQ(ping.status, 200) << ping.error;
  }
};

}  // namespace

// ---- request bodies are read as Go's encoding/json reads them

TEST_F(ApiFidelityTest, DockerPyKeysMatchCaseInsensitively) {
  if (hoist::test::run_cmd({"python3", "-c", "import docker"}).code != 0) GTEST_SKIP() << "python3-docker missing";
  // docker-py spells these CPURealtimePeriod / CPURealtimeRuntime; dockerd's field is CpuRealtimePeriod.
  auto r = d_->python(R"PY(
import os, docker
c = docker.APIClient(base_url=os.environ['HOIST_HOST'])
hc = c.create_host_config(cpu_rt_period=900000, cpu_rt_runtime=0, mem_limit='64m')
ct = c.create_container('bb:1', ['true'], host_config=hc, name='py-rt')
h = c.inspect_container(ct['Id'])['HostConfig']
print(h['CpuRealtimePeriod'], h['CpuRealtimeRuntime'], h['Memory'])
print('CPURealtimePeriod' in h)
)PY");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "900000 0 67108864\nFalse\n");
}

TEST_F(ApiFidelityTest, RawBodyKeysInAnyCaseAreApplied) {
  // Lower-case keys at every level; map keys (Labels) keep their case.
  auto r = create(R"({"image":"bb:1","cmd":["sh","-c","cat /sys/fs/cgroup/memory/memory.limit_in_bytes; echo $FOO"],
                      "ENV":["FOO=bar"],"labels":{"MixedCase":"v"},
                      "hostconfig":{"memory":67108864,"restartpolicy":{"name":"no"},"logconfig":{"type":"json-file"}}})",
                 "lower");
  ASSERT_EQ(r.status, 201) << r.body;
  auto j = inspect("lower");
  EXPECT_EQ(j["HostConfig"]["Memory"], 67108864);
  EXPECT_EQ(j["HostConfig"]["RestartPolicy"]["Name"], "no");
  // What a client leaves out shows as dockerd 20.10 shows it: an empty restart policy name, no
  // port bindings (null).
  ASSERT_EQ(create(R"({"Image":"bb:1","Cmd":["true"]})", "bare").status, 201);
  auto bare = inspect("bare");
  EXPECT_EQ(bare["HostConfig"]["RestartPolicy"], json::parse(R"({"Name":"","MaximumRetryCount":0})"));
  EXPECT_TRUE(bare["HostConfig"]["PortBindings"].is_null());
  EXPECT_EQ(j["Config"]["Labels"]["MixedCase"], "v");
  EXPECT_FALSE(j["HostConfig"].contains("memory"));
  auto s = d_->docker({"start", "-a", "lower"});
  EXPECT_EQ(s.code, 0) << s.err;
  EXPECT_EQ(s.out, "67108864\nbar\n");
  // An exact key wins over a differently cased one, whatever their order.
  r = create(R"({"Image":"bb:1","Cmd":["true"],"cmd":["false"],"HostConfig":{"memory":8388608,"Memory":16777216}})",
             "both");
  ASSERT_EQ(r.status, 201) << r.body;
  j = inspect("both");
  EXPECT_EQ(j["Config"]["Cmd"], json::array({"true"}));
  EXPECT_EQ(j["HostConfig"]["Memory"], 16777216);
}

TEST_F(ApiFidelityTest, DeepOrMalformedBodiesAre400AndTheDaemonLives) {
  std::string deep = R"({"Image":"bb:1","Cmd":["true"],"Labels":{"x":)" + std::string(100000, '[');
  auto r = create(deep);
  EXPECT_EQ(r.status, 400) << r.body.substr(0, 200);
  EXPECT_NE(r.body.find("depth"), std::string::npos) << r.body.substr(0, 200);
  expect_alive();
  // Deep but closed: the same.
  std::string closed = std::string(20000, '[') + std::string(20000, ']');
  r = create(closed);
  EXPECT_EQ(r.status, 400);
  r = d_->http("POST", "/v1.43/containers/json?filters=" + std::string(5000, '%') , "");
  expect_alive();
  // Invalid UTF-8 inside a string: a 400 with a JSON message, never an empty reply.
  r = create("{\"Image\":\"bb:1\",\"Cmd\":[\"echo\",\"\xff\xfe\"]}");
  EXPECT_EQ(r.status, 400) << r.error;
  ASSERT_FALSE(r.body.empty());
  EXPECT_TRUE(json::parse(r.body).contains("message")) << r.body;
  // Not an object.
  r = create("[1,2,3]");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(json::parse(r.body).value("message", "").find("invalid JSON"), std::string::npos) << r.body;
  expect_alive();
}

// ---- kill

TEST_F(ApiFidelityTest, KillAnswersOnceTheContainerIsDead) {
  if (hoist::test::run_cmd({"python3", "-c", "import docker"}).code != 0) GTEST_SKIP() << "python3-docker missing";
  // Right after kill, inspect shows it exited and rm succeeds: every round.
  auto r = d_->python(R"PY(
import os, docker
c = docker.APIClient(base_url=os.environ['HOIST_HOST'])
bad = 0
for i in range(8):
    ct = c.create_container('bb:1', ['sh', '-c', 'trap "" TERM; while true; do sleep 1; done'])
    c.start(ct['Id'])
    c.kill(ct['Id'])
    st = c.inspect_container(ct['Id'])['State']
    if st['Running'] or st['ExitCode'] != 137 or st['Status'] != 'exited':
        bad += 1
        print('round', i, st['Status'], st['Running'], st['ExitCode'])
    c.remove_container(ct['Id'])
print('bad', bad)
)PY");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("bad 0\n"), std::string::npos) << r.out;
  // A signal other than SIGKILL returns at once and leaves a container that ignores it running.
  auto id = std::string(trim(d_->docker({"run", "-d", "bb:1", "sh", "-c", "trap '' USR1; sleep 300"}).out));
  EXPECT_EQ(d_->docker({"kill", "-s", "USR1", id}).code, 0);
  EXPECT_EQ(inspect(id)["State"]["Running"], true);
}

// ---- Mounts in inspect and ps

TEST_F(ApiFidelityTest, InspectShowsBindMountsAsDockerDoes) {
  hoist::test::TempDir a, b;
  std::ofstream(a.path() + "/f") << "from-a\n";
  auto r = d_->docker({"run", "-d", "--name", "mnt", "-v", a.path() + ":/data:ro", "--mount",
                       "type=bind,src=" + b.path() + ",dst=/m", "--mount", "type=tmpfs,dst=/t", "bb:1", "sleep", "300"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto mounts = inspect("mnt")["Mounts"];
  json want = json::array({
      {{"Type", "bind"}, {"Source", a.path()}, {"Destination", "/data"}, {"Mode", "ro"}, {"RW", false},
       {"Propagation", "rprivate"}},
      {{"Type", "bind"}, {"Source", b.path()}, {"Destination", "/m"}, {"Mode", ""}, {"RW", true},
       {"Propagation", "rprivate"}},
      {{"Type", "tmpfs"}, {"Source", ""}, {"Destination", "/t"}, {"Mode", ""}, {"RW", true}, {"Propagation", ""}},
  });
  EXPECT_EQ(mounts, want) << mounts.dump(1);
  // The bind is really there, read-only.
  EXPECT_EQ(d_->docker({"exec", "mnt", "cat", "/data/f"}).out, "from-a\n");
  EXPECT_NE(d_->docker({"exec", "mnt", "touch", "/data/g"}).code, 0);
  // ps lists the same mounts.
  auto ps = d_->docker({"ps", "--no-trunc", "--format", "{{.Mounts}}"});
  EXPECT_NE(ps.out.find(a.path()), std::string::npos) << ps.out;
  EXPECT_EQ(d_->docker({"rm", "-f", "mnt"}).code, 0);
}

// ---- create's checks

TEST_F(ApiFidelityTest, CreateRefusesWhatItCannotHonour) {
  auto expect_refused = [&](std::vector<std::string> args, const std::string& msg) {
    args.insert(args.begin(), "run");
    args.insert(args.end(), {"bb:1", "true"});
    auto r = d_->docker(args);
    EXPECT_EQ(r.code, 125) << args[1];
    EXPECT_NE(r.err.find(msg), std::string::npos) << r.err;
  };
  expect_refused({"--log-driver", "asdf-nope"}, "no log driver named 'asdf-nope' is registered");
  expect_refused({"--log-opt", "bogus=1"}, "unknown log opt 'bogus' for json-file log driver");
  expect_refused({"--log-opt", "max-size=lots"}, "invalid size");
  expect_refused({"--log-opt", "max-file=0"}, "max-file cannot be less than 1");
  expect_refused({"--log-opt", "mode=bogus"}, "logger: logging mode not supported: bogus");
  expect_refused({"--log-opt", "max-buffer-size=1m"},
                 "logger: max-buffer-size option is only supported with 'mode=non-blocking'");
  expect_refused({"--log-opt", "mode=blocking", "--log-opt", "max-buffer-size=1m"},
                 "logger: max-buffer-size option is only supported with 'mode=non-blocking'");
  expect_refused({"--log-opt", "mode=non-blocking", "--log-opt", "max-buffer-size=abc"},
                 "error parsing option max-buffer-size: invalid size: 'abc'");
  expect_refused({"--storage-opt", "size=1G"}, "--storage-opt is supported only for overlay over xfs");
  expect_refused({"--runtime", "nosuch"}, "unknown or invalid runtime name: nosuch");
  auto r = create(R"({"Image":"bb:1","Cmd":["true"],"HostConfig":{"DeviceCgroupRules":["c 1:3 xyz"]}})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("invalid device cgroup format 'c 1:3 xyz'"), std::string::npos) << r.body;
  // Nothing was left behind by the refusals.
  EXPECT_EQ(trim(d_->docker({"ps", "-aq"}).out), "");
}

// mode=non-blocking (with max-buffer-size) and mode=blocking: taken, shown by inspect as given,
// and the output logged as ever.
TEST_F(ApiFidelityTest, LogModesAreTakenAndShown) {
  auto r = d_->docker({"run", "--name", "nb", "--log-opt", "mode=non-blocking", "--log-opt", "max-buffer-size=4k",
                       "bb:1", "sh", "-c", "for i in $(seq 1 200); do echo line $i; done"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(inspect("nb")["HostConfig"]["LogConfig"],
            json::parse(R"({"Type":"json-file","Config":{"mode":"non-blocking","max-buffer-size":"4k"}})"));
  auto logs = d_->docker({"logs", "nb"});
  EXPECT_EQ(logs.out.rfind("line 1\n", 0), 0u) << logs.out;  // a ring of 4k may drop, never reorder
  r = d_->docker({"run", "--name", "bl", "--log-opt", "mode=blocking", "bb:1", "echo", "hi"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(d_->docker({"logs", "bl"}).out, "hi\n");
  EXPECT_EQ(inspect("bl")["HostConfig"]["LogConfig"]["Config"], json({{"mode", "blocking"}}));
}

TEST_F(ApiFidelityTest, InspectNamesTheRuntime) {
  auto r = d_->docker({"create", "--name", "rt", "bb:1", "true"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto info = json::parse(d_->http("GET", "/v1.43/info").body);
  std::string runtime(trim(d_->docker({"inspect", "-f", "{{.HostConfig.Runtime}}", "rt"}).out));
  EXPECT_FALSE(runtime.empty());
  EXPECT_EQ(runtime, info["DefaultRuntime"].get<std::string>());
  // Naming the default runtime explicitly works.
  EXPECT_EQ(d_->docker({"run", "--rm", "--runtime", runtime, "bb:1", "true"}).code, 0);
}

TEST_F(ApiFidelityTest, DeviceCgroupRulesAreApplied) {
  auto r = d_->docker({"run", "-d", "--name", "dev", "--device-cgroup-rule", "c 1:11 r", "--device-cgroup-rule",
                       "b 7:* rw", "bb:1", "sleep", "300"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto id = inspect("dev")["Id"].get<std::string>();
  std::string file = "/sys/fs/cgroup/devices" + cgroup_parent() + "/" + id + "/devices.list";
  if (!fs::exists(file)) GTEST_SKIP() << "no cgroup v1 devices hierarchy";
  std::string list = hoist::read_file(file);
  EXPECT_NE(list.find("c 1:11 r\n"), std::string::npos) << list;
  EXPECT_NE(list.find("b 7:* rw\n"), std::string::npos) << list;
}

TEST_F(ApiFidelityTest, LogMaxSizeRotatesTheLog) {
  auto r = d_->docker({"run", "--name", "lg", "--log-opt", "max-size=2k", "bb:1", "sh", "-c",
                       "i=0; while [ $i -lt 300 ]; do echo line-$i; i=$((i+1)); done"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto path = inspect("lg")["LogPath"].get<std::string>();
  ASSERT_FALSE(path.empty());
  EXPECT_LE(fs::file_size(path), 2048u + 200u);
  EXPECT_EQ(inspect("lg")["HostConfig"]["LogConfig"]["Config"]["max-size"], "2k");
  EXPECT_FALSE(fs::exists(path + ".1"));  // max-file's default: one file
  // max-file=3: two older files kept, and logs reads them in order.
  r = d_->docker({"run", "--name", "lg3", "--log-opt", "max-size=2k", "--log-opt", "max-file=3", "bb:1", "sh", "-c",
                  "i=0; while [ $i -lt 300 ]; do echo line-$i; i=$((i+1)); done"});
  ASSERT_EQ(r.code, 0) << r.err;
  path = inspect("lg3")["LogPath"].get<std::string>();
  EXPECT_TRUE(fs::exists(path + ".1") && fs::exists(path + ".2"));
  EXPECT_FALSE(fs::exists(path + ".3"));
  auto logs = d_->docker({"logs", "lg3"});
  ASSERT_EQ(logs.code, 0) << logs.err;
  EXPECT_EQ(logs.out.substr(logs.out.size() - 9), "line-299\n");
  int first = std::stoi(logs.out.substr(5, logs.out.find('\n') - 5)), n = 0;
  for (char c : logs.out) n += c == '\n';
  EXPECT_EQ(first + n, 300) << "not one run of consecutive lines";
}

// json-file's labels, env and tag options as each entry's attrs, shown by `logs --details`;
// compress: the rotated files gzip-compressed, read back by `logs`; bad values fail the start
// with dockerd's words (the expected text is a private dockerd's).
TEST_F(ApiFidelityTest, LogOptionsAddAttrsAndCompressRotatedFiles) {
  auto r = d_->docker({"run", "--name", "la", "--label", "a=1", "--label", "b=x y", "-e", "E1=v1", "--log-opt",
                       "labels=a,b,zz", "--log-opt", "env=E1", "--log-opt", "tag={{.Name}}/{{.ImageName}}", "bb:1",
                       "sh", "-c", "echo hi; echo err >&2"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto logs = d_->docker({"logs", "--details", "la"});
  ASSERT_EQ(logs.code, 0) << logs.err;
  EXPECT_EQ(logs.out, "E1=v1,a=1,b=x+y,tag=la%2Fbb%3A1 hi\n");
  EXPECT_EQ(logs.err, "E1=v1,a=1,b=x+y,tag=la%2Fbb%3A1 err\n");
  auto path = inspect("la")["LogPath"].get<std::string>();
  std::ifstream f(path);
  std::string first;
  std::getline(f, first);
  EXPECT_NE(first.find(R"({"log":"hi\n","stream":"stdout","attrs":{"E1":"v1","a":"1","b":"x y","tag":"la/bb:1"},"time":")"),
            std::string::npos) << first;
  r = d_->docker({"run", "--name", "lplain", "bb:1", "echo", "hi"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(d_->docker({"logs", "--details", "lplain"}).out, " hi\n");  // no attrs: the space alone

  r = d_->docker({"run", "--name", "lz", "--log-opt", "max-size=1k", "--log-opt", "max-file=3", "--log-opt",
                  "compress=true", "bb:1", "sh", "-c", "i=0; while [ $i -lt 100 ]; do echo line-$i; i=$((i+1)); done"});
  ASSERT_EQ(r.code, 0) << r.err;
  path = inspect("lz")["LogPath"].get<std::string>();
  // The last rotation's compression may still be under way for a moment.
  for (int i = 0; i < 50 && !fs::exists(path + ".1.gz"); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_TRUE(fs::exists(path + ".1.gz") && fs::exists(path + ".2.gz"));
  EXPECT_FALSE(fs::exists(path + ".3.gz"));
  logs = d_->docker({"logs", "lz"});
  ASSERT_EQ(logs.code, 0) << logs.err;
  EXPECT_EQ(logs.out.substr(logs.out.size() - 8), "line-99\n");
  int first_line = std::stoi(logs.out.substr(5, logs.out.find('\n') - 5)), n = 0;
  for (char c : logs.out) n += c == '\n';
  EXPECT_EQ(first_line + n, 100) << "not one run of consecutive lines";
  EXPECT_GE(n, 25);  // three files of about 1 KiB: ~10 entries of ~70 bytes in the last one less

  r = d_->docker({"run", "--name", "lbad", "--log-opt", "compress=true", "bb:1", "true"});
  EXPECT_EQ(r.code, 125);
  EXPECT_NE(r.err.find("failed to initialize logging driver: compress cannot be true when max-file is less than 2 "
                       "or max-size is not set"), std::string::npos) << r.err;
  r = d_->docker({"run", "--name", "lbad2", "--log-opt", "tag={{.Bogus}}", "bb:1", "true"});
  EXPECT_EQ(r.code, 125);
  EXPECT_NE(r.err.find("can't evaluate field Bogus in type *logger.Info"), std::string::npos) << r.err;
}

TEST_F(ApiFidelityTest, HugeMemoryLimitRunsWithoutOverflow) {
  // 2^63-1: twice of it must not wrap around into a negative swap limit.
  auto r = create(R"({"Image":"bb:1","Cmd":["sleep","300"],"HostConfig":{"Memory":9223372036854775807}})", "huge");
  ASSERT_EQ(r.status, 201) << r.body;
  auto s = d_->http("POST", "/v1.43/containers/huge/start");
  EXPECT_EQ(s.status, 204) << s.body;
  EXPECT_EQ(inspect("huge")["State"]["Running"], true);
}

// create's `platform` query: a local image answers for its own platform only, with dockerd
// 20.10's words (taken from it); raw HTTP, because the docker CLI pulls after a create's 404.
TEST_F(ApiFidelityTest, CreateChecksThePlatformAsked) {
  auto with = [&](const std::string& platform) {
    return d_->http("POST", "/v1.41/containers/create?platform=" + platform, R"({"Image":"bb:1","Cmd":["true"]})",
                    {"Content-Type: application/json"});
  };
  for (const std::string p : {"linux", "amd64", "linux/amd64", "linux/amd64/v2"}) {
    auto r = with(p);
    EXPECT_EQ(r.status, 201) << p << ": " << r.body;
  }
  auto r = with("linux/arm64");
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_EQ(json::parse(r.body, nullptr, false).value("message", ""),
            "image with reference bb:1 was found but does not match the specified platform: wanted linux/arm64, actual: linux/amd64");
  r = with("windows");
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_NE(r.body.find("wanted windows/amd64, actual: linux/amd64"), std::string::npos) << r.body;
  r = with("bogus/x/y/z");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(json::parse(r.body, nullptr, false).value("message", ""),
            "\"bogus/x/y/z\": cannot parse platform specifier: invalid argument");
}

// The lists' fields as dockerd writes them: an image found by the reference filter is listed
// with its matching names alone (so `docker images -q a` prints one line for an image with
// three names); a container's Command quotes the arguments that have a space.
TEST_F(ApiFidelityTest, ListsShowMatchingNamesAndQuotedCommands) {
  ASSERT_EQ(d_->docker({"tag", "bb:1", "lista:1"}).code, 0);
  ASSERT_EQ(d_->docker({"tag", "bb:1", "listb:2"}).code, 0);
  auto r = d_->http("GET", "/v1.43/images/json?filters=%7B%22reference%22%3A%5B%22lista%22%5D%7D");
  ASSERT_EQ(r.status, 200) << r.body;
  auto l = json::parse(r.body);
  ASSERT_EQ(l.size(), 1u) << r.body;
  EXPECT_EQ(l[0]["RepoTags"], json::array({"lista:1"}));
  r = d_->http("GET", "/v1.43/images/json?filters=%7B%22reference%22%3A%5B%22list*%3A*%22%5D%7D");  // list*:*
  ASSERT_EQ(r.status, 200) << r.body;
  l = json::parse(r.body);
  ASSERT_EQ(l.size(), 1u) << r.body;
  EXPECT_EQ(l[0]["RepoTags"], json::array({"lista:1", "listb:2"}));
  auto q = d_->docker({"images", "-q", "lista"});
  ASSERT_EQ(q.code, 0) << q.err;
  EXPECT_EQ(q.out, l[0]["Id"].get<std::string>().substr(7, 12) + "\n");

  auto c = create(R"({"Image":"bb:1","Cmd":["sh","-c","sleep 1; echo a b","x"]})", "quoted");
  ASSERT_EQ(c.status, 201) << c.body;
  r = d_->http("GET", "/v1.43/containers/json?all=1&filters=%7B%22name%22%3A%5B%22quoted%22%5D%7D");
  ASSERT_EQ(r.status, 200) << r.body;
  l = json::parse(r.body);
  ASSERT_EQ(l.size(), 1u) << r.body;
  EXPECT_EQ(l[0]["Command"], "sh -c 'sleep 1; echo a b' x");
}

// Privileged and `--cap-add ALL` give every capability hoistd itself holds in its bounding set (a
// daemon inside a container may lack some), as dockerd 23+ does; naming one it lacks is refused
// with dockerd's words instead of failing in the runtime's capset.
TEST_F(ApiFidelityTest, PrivilegedGetsTheCapabilitiesTheDaemonHas) {
  std::string bounding;
  for (const auto& line : hoist::split(hoist::read_file("/proc/self/status"), '\n'))
    if (line.rfind("CapBnd:", 0) == 0) bounding = trim(line.substr(7));
  ASSERT_FALSE(bounding.empty());
  for (const char* flag : {"--privileged", "--cap-add=ALL"}) {
    auto r = d_->docker({"run", "--rm", "--network", "none", flag, "bb:1", "grep", "CapEff", "/proc/self/status"});
    ASSERT_EQ(r.code, 0) << flag << ": " << r.err;
    EXPECT_EQ(trim(r.out.substr(r.out.find(':') + 1)), bounding) << flag;
  }
  const char* names[] = {"CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID",
                         "SETUID", "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST",
                         "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO",
                         "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
                         "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE",
                         "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM",
                         "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE"};
  const std::uint64_t have = std::stoull(bounding, nullptr, 16);
  const int last = std::stoi(hoist::read_file("/proc/sys/kernel/cap_last_cap"));
  for (int c = 0; c <= last && c < static_cast<int>(std::size(names)); ++c) {
    if (have & (1ull << c)) continue;
    std::string name = std::string("CAP_") + names[c];
    auto r = create(R"({"Image":"bb:1","Cmd":["true"],"HostConfig":{"CapAdd":[")" + name + R"("]}})", "lacking");
    if (r.status == 201) r = d_->http("POST", "/v1.43/containers/lacking/start");
    EXPECT_EQ(r.status, 400) << name << ": " << r.body;
    EXPECT_NE(r.body.find("capability not supported by your kernel or not available in the current environment: \\\"" +
                          name + "\\\""),
              std::string::npos)
        << r.body;
    return;  // one is enough
  }
}
