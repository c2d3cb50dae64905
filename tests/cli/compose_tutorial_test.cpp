// The app of a typical compose tutorial, end to end, from local images only: a redis database
// (Debian 12's redis-server, from the Debian fixture made by debootstrap) with a healthcheck and
// a named volume; an api built by `up -d --build` from a Dockerfile (FROM the Debian image: a
// busybox httpd CGI that counts requests in redis); a front end (busybox) whose CGI calls the
// api by its service name, published on 127.0.0.1; `restart: always` everywhere.
//
// Steps: up -d --build; requests through the front end count up; ps, logs, exec, run --rm; a
// crash of the db (SIGKILL from outside) is restarted with its data; the api scaled to 3 (the
// front still answers); a changed front recreates only the front; down then up keeps the count
// (the volume); down -v removes everything. What the daemon has of the project after the first
// up (containers, networks, volumes, labels, create fields) is compared with the expected values.
//
// Parameters: DAEMON_TOOL. hoist compose ("hoistd", "dockerd") and Docker's own compose tool
// (Debian's docker-compose 1.29: "hoistd_v1", "dockerd_v1") run the same file against a private
// hoistd and a private dockerd; each tool must leave the same on both daemons (the dockerd runs
// are the oracles: the expected values below are what dockerd does).
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "compose_project_test.h"

namespace {

using json = nlohmann::json;

const char* const kComposeFile = R"(services:
  db:
    image: hoist-debian:12
    command: [redis-server, --appendonly, "yes", --dir, /data, --protected-mode, "no"]
    healthcheck: {test: [CMD, redis-cli, ping], interval: 1s, timeout: 5s, retries: 30}
    volumes: [redis-data:/data]
    restart: always
  api:
    build: ./api
    depends_on: {db: {condition: service_healthy}}
    restart: always
  front:
    image: bb:1
    command: [httpd, -f, -p, "80", -h, /www]
    environment: {GREETING: "${GREETING:-hello}"}
    volumes: ["./front:/www:ro"]
    ports: ["127.0.0.1::80"]
    depends_on: [api]
    restart: always
networks:
  default: {ipam: {config: [{subnet: "${NET_A}"}]}}
volumes:
  redis-data: {}
)";

// The api: a CGI that counts in redis (by the db's service name).
const char* const kApiDockerfile = R"(FROM hoist-debian:12
COPY count /www/cgi-bin/count
EXPOSE 8080
CMD ["busybox", "httpd", "-f", "-p", "8080", "-h", "/www"]
)";
const char* const kApiCgi = R"(#!/bin/sh
n=$(redis-cli -h db INCR hits)
printf 'Content-Type: text/plain\r\n\r\n%s\n' "$n"
)";
// The front end: asks the api (by its service name) and greets.
const char* const kFrontCgi = R"(#!/bin/sh
n=$(wget -q -O- http://api:8080/cgi-bin/count)
printf 'Content-Type: text/plain\r\n\r\n%s %s\n' "$GREETING" "$n"
)";

// What dockerd has of the project after the first up (ComposeProject::summary()), by tool.
const char* const kExpectedV2 = R"({"containers":{"P-api-1":{"Cmd":["busybox","httpd","-f","-p","8080","-h","/www"],
    "Env":[],"Healthcheck":null,"Labels":{"com.docker.compose.config-hash":"HASH",
    "com.docker.compose.container-number":"1","com.docker.compose.depends_on":"db:service_healthy:false",
    "com.docker.compose.image":"IMAGE","com.docker.compose.oneoff":"False","com.docker.compose.project":"P",
    "com.docker.compose.project.config_files":"DIR/compose.yaml","com.docker.compose.project.working_dir":"DIR",
    "com.docker.compose.service":"api","com.docker.compose.version":"2.29.7"},"Mounts":[],"NetworkMode":"P_default",
    "Networks":{"P_default":["api"]},"PortBindings":{},"RestartPolicy":{"MaximumRetryCount":0,"Name":"always"},
    "Status":"running"},"P-db-1":{"Cmd":["redis-server","--appendonly","yes","--dir","/data","--protected-mode","no"],
    "Env":[],"Healthcheck":{"Interval":1000000000,"Retries":30,"Test":["CMD","redis-cli","ping"],
    "Timeout":5000000000},"Labels":{"com.docker.compose.config-hash":"HASH","com.docker.compose.container-number":"1",
    "com.docker.compose.depends_on":"","com.docker.compose.image":"IMAGE","com.docker.compose.oneoff":"False",
    "com.docker.compose.project":"P","com.docker.compose.project.config_files":"DIR/compose.yaml",
    "com.docker.compose.project.working_dir":"DIR","com.docker.compose.service":"db",
    "com.docker.compose.version":"2.29.7"},"Mounts":[{"Destination":"/data","Name":"P_redis-data","Type":"volume"}],
    "NetworkMode":"P_default","Networks":{"P_default":["db"]},"PortBindings":{},
    "RestartPolicy":{"MaximumRetryCount":0,"Name":"always"},"Status":"running"},"P-front-1":{"Cmd":["httpd","-f","-p",
    "80","-h","/www"],"Env":["GREETING=hello"],"Healthcheck":null,"Labels":{"com.docker.compose.config-hash":"HASH",
    "com.docker.compose.container-number":"1","com.docker.compose.depends_on":"api:service_started:false",
    "com.docker.compose.image":"IMAGE","com.docker.compose.oneoff":"False","com.docker.compose.project":"P",
    "com.docker.compose.project.config_files":"DIR/compose.yaml","com.docker.compose.project.working_dir":"DIR",
    "com.docker.compose.service":"front","com.docker.compose.version":"2.29.7"},"Mounts":[{"Destination":"/www",
    "Name":"","Type":"bind"}],"NetworkMode":"P_default","Networks":{"P_default":["front"]},
    "PortBindings":{"80/tcp":[{"HostIp":"127.0.0.1","HostPort":""}]},"RestartPolicy":{"MaximumRetryCount":0,
    "Name":"always"},"Status":"running"}},"networks":{"P_default":{"Driver":"bridge",
    "Labels":{"com.docker.compose.config-hash":"HASH","com.docker.compose.network":"default",
    "com.docker.compose.project":"P","com.docker.compose.version":"2.29.7"},"Subnets":["NET_A"]}},
    "volumes":{"P_redis-data":{"Driver":"local","Labels":{"com.docker.compose.config-hash":"HASH",
    "com.docker.compose.project":"P","com.docker.compose.version":"2.29.7",
    "com.docker.compose.volume":"redis-data"}}}})";
const char* const kExpectedV1 = R"({"containers":{"P_api_1":{"Cmd":["busybox","httpd","-f","-p","8080","-h","/www"],
    "Env":[],"Healthcheck":null,"Labels":{"com.docker.compose.config-hash":"HASH",
    "com.docker.compose.container-number":"1","com.docker.compose.oneoff":"False","com.docker.compose.project":"P",
    "com.docker.compose.project.config_files":"DIR/compose.yaml","com.docker.compose.project.working_dir":"DIR",
    "com.docker.compose.service":"api","com.docker.compose.version":"1.29.2"},"Mounts":[],"NetworkMode":"P_default",
    "Networks":{"P_default":["api"]},"PortBindings":{},"RestartPolicy":{"MaximumRetryCount":0,"Name":"always"},
    "Status":"running"},"P_db_1":{"Cmd":["redis-server","--appendonly","yes","--dir","/data","--protected-mode","no"],
    "Env":[],"Healthcheck":{"Interval":1000000000,"Retries":30,"Test":["CMD","redis-cli","ping"],
    "Timeout":5000000000},"Labels":{"com.docker.compose.config-hash":"HASH","com.docker.compose.container-number":"1",
    "com.docker.compose.oneoff":"False","com.docker.compose.project":"P",
    "com.docker.compose.project.config_files":"DIR/compose.yaml","com.docker.compose.project.working_dir":"DIR",
    "com.docker.compose.service":"db","com.docker.compose.version":"1.29.2"},"Mounts":[{"Destination":"/data",
    "Name":"P_redis-data","Type":"volume"}],"NetworkMode":"P_default","Networks":{"P_default":["db"]},
    "PortBindings":{},"RestartPolicy":{"MaximumRetryCount":0,"Name":"always"},"Status":"running"},
    "P_front_1":{"Cmd":["httpd","-f","-p","80","-h","/www"],"Env":["GREETING=hello"],"Healthcheck":null,
    "Labels":{"com.docker.compose.config-hash":"HASH","com.docker.compose.container-number":"1",
    "com.docker.compose.oneoff":"False","com.docker.compose.project":"P",
    "com.docker.compose.project.config_files":"DIR/compose.yaml","com.docker.compose.project.working_dir":"DIR",
    "com.docker.compose.service":"front","com.docker.compose.version":"1.29.2"},"Mounts":[{"Destination":"/www",
    "Name":"","Type":"bind"}],"NetworkMode":"P_default","Networks":{"P_default":["front"]},
    "PortBindings":{"80/tcp":[{"HostIp":"127.0.0.1","HostPort":""}]},"RestartPolicy":{"MaximumRetryCount":0,
    "Name":"always"},"Status":"running"}},"networks":{"P_default":{"Driver":"bridge",
    "Labels":{"com.docker.compose.network":"default","com.docker.compose.project":"P",
    "com.docker.compose.version":"1.29.2"},"Subnets":["NET_A"]}},"volumes":{"P_redis-data":{"Driver":"local",
    "Labels":{"com.docker.compose.project":"P","com.docker.compose.version":"1.29.2",
    "com.docker.compose.volume":"redis-data"}}}})";

class ComposeTutorial : public hoist::test::ComposeProject {
 protected:
  ComposeTutorial() : ComposeProject("tutorial") {}

  void SetUp() override {
    ComposeProject::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    if (v1() && run_cmd({"docker-compose", "version"}).code != 0) GTEST_SKIP() << "docker-compose is not installed";
    if (!hoist::test::have_tool("curl")) GTEST_SKIP() << "curl is not installed";
    auto imp = hoist({"import", hoist::test::debian_rootfs_tar(), "hoist-debian:12"}, "", 300);
    ASSERT_EQ(imp.code, 0) << imp.err;
    project_args_ = {"-p", project_};
    write("compose.yaml", kComposeFile);
    write("api/Dockerfile", kApiDockerfile);
    write("api/count", kApiCgi);
    write("front/cgi-bin/hits", kFrontCgi);
    for (const char* f : {"api/count", "front/cgi-bin/hits"})
      std::filesystem::permissions(dir_ + "/" + f, std::filesystem::perms(0755));
    write_env("hello");
  }

  bool v1() const { return GetParam().find("_v1") != std::string::npos; }
  using CmdResult = hoist::test::CmdResult;
  static CmdResult run_cmd(const std::vector<std::string>& argv, int timeout_s = 60) {
    return hoist::test::run_cmd(argv, "", timeout_s);
  }

  void write_env(const std::string& greeting) {
    write(".env", "GREETING=" + greeting + "\nNET_A=" + subnet(0) + "\n");
  }

  // The compose tool of the test's parameter, in the project directory, project name project_.
  CmdResult tool(const std::vector<std::string>& args, int timeout_s = 180) {
    if (!v1()) return compose(args, timeout_s);
    std::vector<std::string> argv{"env", "DOCKER_HOST=" + host_, "DOCKER_CONFIG=" + cfg_, "docker-compose",
                                  "--no-ansi", "--project-directory", dir_, "-p", project_, "-f",
                                  dir_ + "/compose.yaml"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_cmd(argv, timeout_s);
  }
  // A container's name: compose v2 joins with "-", docker-compose 1.29 with "_".
  std::string name(const std::string& service, int n = 1) const {
    const char* sep = v1() ? "_" : "-";
    return project_ + sep + service + sep + std::to_string(n);
  }
  std::string container_id(const std::string& service, int n = 1) {
    return inspect("container", name(service, n)).value("Id", "");
  }

  // GET / of the front end's CGI, on the port the daemon published on 127.0.0.1.
  std::string hit() {
    auto port = tool({"port", "front", "80"});
    std::string hp = port.out.substr(0, port.out.find('\n'));
    EXPECT_EQ(hp.rfind("127.0.0.1:", 0), 0u) << port.out << port.err;
    auto r = run_cmd({"curl", "-sS", "--max-time", "20", "http://" + hp + "/cgi-bin/hits"}, 30);
    EXPECT_EQ(r.code, 0) << r.err;
    return r.out;
  }
  // The count in redis, asked with exec in the db's container.
  std::string count() {
    auto r = tool({"exec", "-T", "db", "redis-cli", "GET", "hits"});
    EXPECT_EQ(r.code, 0) << r.err;
    return r.out;
  }
};

TEST_P(ComposeTutorial, CountsRequestsScalesRecreatesAndKeepsItsVolume) {
  auto up = tool({"up", "-d", "--build"}, 300);
  ASSERT_EQ(up.code, 0) << up.out << up.err;
  std::set<std::string> names;
  for (auto& n : lines(docker({"ps", "--filter", "label=com.docker.compose.project=" + project_, "--format",
                               "{{.Names}}"})
                           .out))
    names.insert(n);
  EXPECT_EQ(names, (std::set<std::string>{name("db"), name("api"), name("front")}));
  // The api started once the db was healthy.
  auto state = [&](const std::string& service) { return inspect("container", name(service))["State"]; };
  EXPECT_EQ(state("db")["Health"]["Status"], "healthy");
  EXPECT_LT(state("db")["StartedAt"].get<std::string>(), state("api")["StartedAt"].get<std::string>());

  // Requests through the front end reach the api by name, which counts in the db.
  EXPECT_EQ(hit(), "hello 1\n");
  EXPECT_EQ(hit(), "hello 2\n");
  EXPECT_EQ(hit(), "hello 3\n");
  EXPECT_EQ(count(), "3\n");

  // ps, logs, run --rm (a one-off container of the api's image, on the project's network).
  auto ps = tool({"ps", "--services"});
  EXPECT_EQ(ps.code, 0) << ps.err;
  auto services = lines(ps.out);
  EXPECT_EQ(std::set<std::string>(services.begin(), services.end()), (std::set<std::string>{"api", "db", "front"}))
      << ps.out;
  EXPECT_EQ(lines(tool({"ps", "-q"}).out).size(), 3u);
  auto logs = tool({"logs", "--no-color", "db"});
  EXPECT_EQ(logs.code, 0) << logs.err;
  EXPECT_NE(logs.out.find("Ready to accept connections"), std::string::npos) << logs.out;
  auto run = tool({"run", "--rm", "-T", "api", "redis-cli", "-h", "db", "INCR", "hits"});
  EXPECT_EQ(run.code, 0) << run.err;
  EXPECT_EQ(run.out, "4\n");
  // Removed (AutoRemove) once it exited; the daemon may still be at it when run returns.
  EXPECT_TRUE(hoist::test::until(
      [&] { return docker({"ps", "-aq", "--filter", "label=com.docker.compose.oneoff=True"}).out.empty(); }, 20));

  // Everything the daemon has of the project, field by field, as dockerd has it.
  json s = summary();
  if (v1()) {
    const json expected = json::parse(kExpectedV1);
    EXPECT_EQ(s, expected) << "DIFF " << json::diff(expected, s).dump() << "\n" << s.dump();
  } else {
    const json expected = json::parse(kExpectedV2);
    EXPECT_EQ(s, expected) << "DIFF " << json::diff(expected, s).dump() << "\n" << s.dump();
  }

  // restart: always: the db killed from outside comes back, with its data (appendonly, volume).
  std::string db = container_id("db");
  int pid = state("db")["Pid"].get<int>();
  ASSERT_GT(pid, 0);
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  EXPECT_TRUE(hoist::test::until(
      [&] {
        auto st = state("db");
        return st["Running"] == true && st["Pid"] != pid && st.value("Health", json::object())["Status"] == "healthy";
      },
      60))
      << state("db").dump();
  EXPECT_EQ(inspect("container", db)["RestartCount"], 1);
  EXPECT_EQ(container_id("db"), db);
  EXPECT_EQ(hit(), "hello 5\n");

  // The api scaled to 3: three api containers, the front still answers (any of them).
  auto scaled = tool({"up", "-d", "--scale", "api=3"});
  ASSERT_EQ(scaled.code, 0) << scaled.err;
  EXPECT_EQ(lines(tool({"ps", "-q", "api"}).out).size(), 3u);
  for (int n = 1; n <= 3; ++n) EXPECT_EQ(inspect("container", name("api", n))["State"]["Status"], "running") << n;
  EXPECT_EQ(hit(), "hello 6\n");
  EXPECT_EQ(hit(), "hello 7\n");

  // A changed front (its environment): only the front is recreated.
  std::map<std::string, std::string> before;
  for (auto s : {"db", "front"}) before[s] = container_id(s);
  for (int n = 1; n <= 3; ++n) before["api" + std::to_string(n)] = container_id("api", n);
  write_env("bye");
  auto re = tool({"up", "-d", "--scale", "api=3"});
  ASSERT_EQ(re.code, 0) << re.err;
  EXPECT_EQ(container_id("db"), before["db"]);
  for (int n = 1; n <= 3; ++n) EXPECT_EQ(container_id("api", n), before["api" + std::to_string(n)]) << n;
  EXPECT_NE(container_id("front"), before["front"]);
  EXPECT_EQ(hit(), "bye 8\n");

  // down then up: new containers, the count goes on (the named volume kept the db's data).
  auto down = tool({"down", "-t", "1"});
  ASSERT_EQ(down.code, 0) << down.err;
  EXPECT_EQ(docker({"ps", "-aq", "--filter", "label=com.docker.compose.project=" + project_}).out, "");
  EXPECT_EQ(docker({"volume", "inspect", project_ + "_redis-data"}).code, 0);
  up = tool({"up", "-d"}, 300);
  ASSERT_EQ(up.code, 0) << up.err;
  EXPECT_NE(container_id("db"), before["db"]);
  EXPECT_EQ(lines(tool({"ps", "-q", "api"}).out).size(), 1u);
  EXPECT_EQ(hit(), "bye 9\n");

  // down -v: nothing of the project is left, the volume neither.
  down = tool({"down", "-v", "-t", "1"});
  ASSERT_EQ(down.code, 0) << down.err;
  EXPECT_EQ(summary(), json::object());
  EXPECT_EQ(docker({"volume", "inspect", project_ + "_redis-data"}).code, 1);
}

INSTANTIATE_TEST_SUITE_P(DaemonsAndTools, ComposeTutorial,
                         ::testing::Values("dockerd", "hoistd", "dockerd_v1", "hoistd_v1"),
                         [](const auto& info) { return info.param; });

}  // namespace
