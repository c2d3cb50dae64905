// `hoist compose up/ps/logs/exec/stop/start/down` of a two-service app (busybox: a "db" with a
// healthcheck, a "web" of two replicas serving a named volume with httpd, depending on the db being
// healthy), against a private dockerd and a private hoistd: what each daemon ends up with
// (containers, networks, volumes, labels, the create fields) is compared field by field with the
// expected values and between the two daemons; `up` again recreates only the changed service;
// `down -v` leaves nothing. Also: port, top, images, pause, ls, version, and hoist as docker 28's
// compose CLI plugin; `build:` (compose build, up --build/--no-build, down --rmi, push and pull
// through a registry on loopback), attached up (prefixed output, --exit-code-from, Ctrl-C twice);
// run (one-off containers) and create; scale, cp, stats, events, wait, attach; watch (sync and
// rebuild rules acting on edits in the project directory).
//
// Isolation: the project name has a random suffix, the project's two networks random subnets in
// 10.196.0.0/16; TearDown runs `compose down -v --remove-orphans` and removes whatever is left with
// the project's label, also when the test failed.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "compose_project_test.h"
#include "common/strings.h"
#include "registry_harness.h"
#include "ssh_agent.h"
#include "test_files.h"

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// The summaries of each daemon, compared once both ran in one process (the test binary run by
// hand; ctest runs one test a process, where the expected summary is what both must equal).
std::map<std::string, json>& summaries() {
  static std::map<std::string, json> m;
  return m;
}

const char* const kComposeFile = R"(name: ${PROJECT}
services:
  db:
    image: bb:1
    command: ["sh", "-c", "echo db-ready; exec sleep 1000"]
    healthcheck: {test: ["CMD", "true"], interval: 1s}
    networks: [back]
    labels: {role: db}
  web:
    image: bb:1
    command: ["httpd", "-f", "-p", "8080", "-h", "/data"]
    environment: {GREETING: "${GREETING:-hello}"}
    depends_on: {db: {condition: service_healthy}}
    networks: [default, back]
    volumes: [data:/data, /cache]
    ports: ["127.0.0.1::8080"]
    restart: unless-stopped
    deploy: {replicas: 2}
networks:
  default: {ipam: {config: [{subnet: "${NET_A}"}]}}
  back: {ipam: {config: [{subnet: "${NET_B}"}]}}
volumes:
  data: {}
)";

class ComposeApp : public hoist::test::ComposeProject {
 protected:
  ComposeApp() : ComposeProject("compose") {}

  void SetUp() override {
    ComposeProject::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    write("compose.yaml", kComposeFile);
    write_env("hello");
  }

  void write_env(const std::string& greeting) {
    write(".env", std::string() + "PROJECT=" + project_ + "\nGREETING=" + greeting + "\nNET_A=" + subnet(0) +
                      "\nNET_B=" + subnet(1) + "\n");
  }
};

TEST_P(ComposeApp, UpPsLogsExecRecreateDown) {
  auto up = compose({"up", "-d"});
  ASSERT_EQ(up.code, 0) << up.err;
  EXPECT_NE(up.err.find(" Container " + project_ + "-db-1  Healthy"), std::string::npos) << up.err;
  auto first = ids();
  ASSERT_EQ(first.size(), 3u);
  for (const auto& n : {"-db-1", "-web-1", "-web-2"}) EXPECT_TRUE(first.count(project_ + n)) << n;

  // The db started before the web (it waited for db's health).
  auto started = [&](const std::string& n) { return inspect("container", n)["State"]["StartedAt"].get<std::string>(); };
  EXPECT_LT(started(project_ + "-db-1"), started(project_ + "-web-1"));

  // Everything the daemon has of the project, field by field: the same on both daemons.
  json s = summary();
  const json expected = json::parse(R"({"containers":{
   "P-db-1":{"Cmd":["sh","-c","echo db-ready; exec sleep 1000"],"Env":[],
    "Healthcheck":{"Interval":1000000000,"Test":["CMD","true"]},
    "Labels":{"com.docker.compose.config-hash":"HASH","com.docker.compose.container-number":"1",
     "com.docker.compose.depends_on":"","com.docker.compose.image":"IMAGE","com.docker.compose.oneoff":"False",
     "com.docker.compose.project":"P","com.docker.compose.project.config_files":"DIR/compose.yaml",
     "com.docker.compose.project.working_dir":"DIR","com.docker.compose.service":"db",
     "com.docker.compose.version":"2.29.7","role":"db"},
    "Mounts":[],"NetworkMode":"P_back","Networks":{"P_back":["db"]},
    "RestartPolicy":{"MaximumRetryCount":0,"Name":"no"},"PortBindings":{},"Status":"running"},
   "P-web-1":{"Cmd":["httpd","-f","-p","8080","-h","/data"],"Env":["GREETING=hello"],"Healthcheck":null,
    "Labels":{"com.docker.compose.config-hash":"HASH","com.docker.compose.container-number":"1",
     "com.docker.compose.depends_on":"db:service_healthy:false","com.docker.compose.image":"IMAGE",
     "com.docker.compose.oneoff":"False","com.docker.compose.project":"P",
     "com.docker.compose.project.config_files":"DIR/compose.yaml","com.docker.compose.project.working_dir":"DIR",
     "com.docker.compose.service":"web","com.docker.compose.version":"2.29.7"},
    "Mounts":[{"Destination":"/cache","Name":"ANON","Type":"volume"},{"Destination":"/data","Name":"P_data","Type":"volume"}],"NetworkMode":"P_back",
    "Networks":{"P_back":["web"],"P_default":["web"]},
    "RestartPolicy":{"MaximumRetryCount":0,"Name":"unless-stopped"},
    "PortBindings":{"8080/tcp":[{"HostIp":"127.0.0.1","HostPort":""}]},"Status":"running"},
   "P-web-2":{"Cmd":["httpd","-f","-p","8080","-h","/data"],"Env":["GREETING=hello"],"Healthcheck":null,
    "Labels":{"com.docker.compose.config-hash":"HASH","com.docker.compose.container-number":"2",
     "com.docker.compose.depends_on":"db:service_healthy:false","com.docker.compose.image":"IMAGE",
     "com.docker.compose.oneoff":"False","com.docker.compose.project":"P",
     "com.docker.compose.project.config_files":"DIR/compose.yaml","com.docker.compose.project.working_dir":"DIR",
     "com.docker.compose.service":"web","com.docker.compose.version":"2.29.7"},
    "Mounts":[{"Destination":"/cache","Name":"ANON","Type":"volume"},{"Destination":"/data","Name":"P_data","Type":"volume"}],"NetworkMode":"P_back",
    "Networks":{"P_back":["web"],"P_default":["web"]},
    "RestartPolicy":{"MaximumRetryCount":0,"Name":"unless-stopped"},
    "PortBindings":{"8080/tcp":[{"HostIp":"127.0.0.1","HostPort":""}]},"Status":"running"}},
  "networks":{
   "P_back":{"Driver":"bridge","Labels":{"com.docker.compose.config-hash":"HASH","com.docker.compose.network":"back","com.docker.compose.project":"P",
    "com.docker.compose.version":"2.29.7"},"Subnets":["NET_B"]},
   "P_default":{"Driver":"bridge","Labels":{"com.docker.compose.config-hash":"HASH","com.docker.compose.network":"default","com.docker.compose.project":"P",
    "com.docker.compose.version":"2.29.7"},"Subnets":["NET_A"]}},
  "volumes":{"P_data":{"Driver":"local","Labels":{"com.docker.compose.config-hash":"HASH","com.docker.compose.project":"P",
   "com.docker.compose.version":"2.29.7","com.docker.compose.volume":"data"}}}})");
  EXPECT_EQ(s, expected) << "DIFF " << json::diff(expected, s).dump();
  // Several label filters must all match (what compose's tools rely on to tell projects and
  // one-off containers apart).
  std::string proj_label = "label=com.docker.compose.project=" + project_;
  EXPECT_EQ(docker({"ps", "-aq", "--filter", proj_label, "--filter", "label=com.docker.compose.oneoff=True"}).out, "");
  EXPECT_EQ(docker({"network", "ls", "-q", "--filter", proj_label, "--filter", "label=com.docker.compose.network=x"}).out,
            "");
  EXPECT_EQ(lines(docker({"network", "ls", "-q", "--filter", proj_label, "--filter",
                          "label=com.docker.compose.network=back"})
                      .out)
                .size(),
            1u);
  // The config hash is the loader's, the same for the two web replicas.
  auto hash_of = [&](const std::string& n) {
    return inspect("container", project_ + n)["Config"]["Labels"]["com.docker.compose.config-hash"];
  };
  auto cfg = compose({"config", "--hash", "web"});
  EXPECT_EQ(cfg.out, "web " + hash_of("-web-1").get<std::string>() + "\n");
  EXPECT_EQ(hash_of("-web-2"), hash_of("-web-1"));
  summaries()[GetParam()] = s;
  if (summaries().size() == 2) {
    EXPECT_EQ(summaries()["hoistd"], summaries()["dockerd"])
        << "DIFF " << json::diff(summaries()["dockerd"], summaries()["hoistd"]).dump();
  }

  // The web replicas serve the volume; the db reaches them by the service's name.
  auto put = compose({"exec", "-T", "web", "sh", "-c", "echo hi > /data/x"});
  EXPECT_EQ(put.code, 0) << put.err;
  auto get = compose({"exec", "-T", "db", "wget", "-q", "-O-", "http://web:8080/x"});
  EXPECT_EQ(get.code, 0) << get.err;
  EXPECT_EQ(get.out, "hi\n");

  // Published on 127.0.0.1 at a port of the daemon's choice, as ps shows it.
  auto port = compose({"ps", "--format", "{{.Ports}}", "web"});
  auto port_lines = lines(port.out);
  ASSERT_EQ(port_lines.size(), 2u) << port.out << port.err;
  for (const auto& l : port_lines) {
    ASSERT_EQ(l.rfind("127.0.0.1:", 0), 0u) << l;
    std::string hp = l.substr(10, l.find("->") - 10);
    EXPECT_EQ(l.substr(l.find("->")), "->8080/tcp");
    if (!hoist::test::have_tool("curl")) continue;
    auto got = hoist::test::run_cmd({"curl", "-sS", "--max-time", "10", "http://127.0.0.1:" + hp + "/x"});
    EXPECT_EQ(got.out, "hi\n") << got.err;
  }

  // port, top, images, pause/unpause, ls, version
  EXPECT_EQ(compose({"port", "--index", "2", "web", "8080"}).out, port_lines[1].substr(0, port_lines[1].find("->")) + "\n");
  EXPECT_EQ(compose({"port", "web", "9"}).code, 1);
  auto top = compose({"top", "db"});
  EXPECT_EQ(top.out.substr(0, top.out.find('\n')), project_ + "-db-1") << top.out << top.err;
  EXPECT_NE(top.out.find("sleep 1000"), std::string::npos) << top.out;
  auto imgs = compose({"images", "--format", "json"});
  ASSERT_EQ(imgs.code, 0) << imgs.err;
  json ij = json::parse(imgs.out);
  ASSERT_EQ(ij.size(), 3u) << imgs.out;
  EXPECT_EQ(ij[0]["ContainerName"], project_ + "-db-1");
  EXPECT_EQ(ij[0]["Repository"], "bb");
  EXPECT_EQ(ij[0]["Tag"], "1");
  EXPECT_EQ(ij[0]["ID"], inspect("image", "bb:1")["Id"]);
  EXPECT_EQ(lines(compose({"images", "-q"}).out).size(), 1u);
  EXPECT_EQ(lines(compose({"images"}).out)[0].substr(0, 9), "CONTAINER");
  ASSERT_EQ(compose({"pause", "web"}).code, 0);
  EXPECT_EQ(compose({"ps", "--format", "{{.State}}", "web"}).out, "paused\npaused\n");
  ASSERT_EQ(compose({"unpause"}).code, 0);
  EXPECT_EQ(compose({"ps", "--format", "{{.State}}", "web"}).out, "running\nrunning\n");
  auto ls = compose({"ls", "--format", "json"});
  EXPECT_EQ(json::parse(ls.out),
            json::parse("[{\"Name\":\"" + project_ + "\",\"Status\":\"running(3)\",\"ConfigFiles\":\"" + dir_ +
                        "/compose.yaml\"}]"))
      << ls.out << ls.err;
  EXPECT_EQ(compose({"ls", "-q", "--filter", "name=nothing-such"}).out, "");
  EXPECT_EQ(compose({"version", "--short"}).out, "2.29.7\n");

  auto ps = compose({"ps", "--format", "{{.Name}} {{.Service}} {{.State}}"});
  EXPECT_EQ(ps.code, 0) << ps.err;
  EXPECT_EQ(ps.out, project_ + "-db-1 db running\n" + project_ + "-web-1 web running\n" + project_ +
                        "-web-2 web running\n");
  EXPECT_EQ(lines(compose({"ps", "-q"}).out).size(), 3u);
  auto table = compose({"ps"});
  EXPECT_EQ(table.out.substr(0, table.out.find('\n')).substr(0, 4), "NAME");

  // Docker's own compose tool (Debian's docker-compose 1.29, which takes no `name:`) sees the
  // project hoist made: its containers by their labels.
  if (hoist::test::run_cmd({"docker-compose", "version"}).code == 0) {
    std::string v1 = dir_ + "/v1.yaml";
    std::string text = kComposeFile;
    std::ofstream(v1) << text.substr(text.find('\n') + 1);
    auto v1ps = hoist::test::run_cmd({"env", "DOCKER_HOST=" + host_, "docker-compose", "--project-directory", dir_, "-p",
                                      project_, "-f", v1, "ps", "--services"},
                                     "", 60);
    EXPECT_EQ(v1ps.out, "db\nweb\n") << v1ps.err;
    v1ps = hoist::test::run_cmd(
        {"env", "DOCKER_HOST=" + host_, "docker-compose", "--project-directory", dir_, "-p", project_, "-f", v1, "ps", "-q"},
        "", 60);
    EXPECT_EQ(lines(v1ps.out).size(), 3u) << v1ps.err;
  }

  // hoist as docker's CLI plugin: a link named docker-compose in the plugins directory of a
  // DOCKER_CONFIG; docker 28 runs it for `docker [-H HOST] compose ...`.
  if (fs::exists("/usr/local/bin/docker")) {
    std::string home = dir_ + "/home";
    fs::create_directories(home + "/.docker/cli-plugins");
    fs::create_symlink(fs::absolute(HOIST_CLI_BIN), home + "/.docker/cli-plugins/docker-compose");
    std::vector<std::string> env = {"env", "-u", "DOCKER_HOST", "HOME=" + home, "DOCKER_CONFIG=" + home + "/.docker"};
    auto docker28 = [&](std::vector<std::string> args) {
      std::vector<std::string> argv = env;
      argv.push_back("/usr/local/bin/docker");
      argv.insert(argv.end(), args.begin(), args.end());
      return hoist::test::run_cmd(argv, "", 60);
    };
    auto v = docker28({"compose", "version"});
    EXPECT_EQ(v.out, "Docker Compose version v2.29.7 (hoist)\n") << v.err;
    auto viaplugin = docker28({"-H", host_, "compose", "--project-directory", dir_, "-f", dir_ + "/compose.yaml", "ps",
                               "--format", "{{.Name}}"});
    EXPECT_EQ(viaplugin.out, project_ + "-db-1\n" + project_ + "-web-1\n" + project_ + "-web-2\n") << viaplugin.err;
    env[2] = "DOCKER_HOST=" + host_;
    env.erase(env.begin() + 1);
    viaplugin = docker28({"compose", "ls", "-q"});
    EXPECT_EQ(viaplugin.out, project_ + "\n") << viaplugin.err;
    auto meta = hoist::test::run_cmd({home + "/.docker/cli-plugins/docker-compose", "docker-cli-plugin-metadata"});
    EXPECT_EQ(json::parse(meta.out)["SchemaVersion"], "0.1.0") << meta.out;
  }

  auto logs = compose({"logs", "--no-log-prefix", "db"});
  EXPECT_EQ(logs.out, "db-ready\n") << logs.err;
  logs = compose({"logs", "db"});
  EXPECT_EQ(logs.out, "db-1  | db-ready\n") << logs.err;

  // up again: nothing changes; a changed environment recreates the web only.
  ASSERT_EQ(compose({"up", "-d"}).code, 0);
  EXPECT_EQ(ids(), first);
  ASSERT_EQ(compose({"exec", "-T", "web", "sh", "-c", "echo kept > /cache/c"}).code, 0);
  write_env("bye");
  auto re = compose({"up", "-d"});
  ASSERT_EQ(re.code, 0) << re.err;
  auto second = ids();
  ASSERT_EQ(second.size(), 3u);
  EXPECT_EQ(second[project_ + "-db-1"], first[project_ + "-db-1"]);
  EXPECT_NE(second[project_ + "-web-1"], first[project_ + "-web-1"]);
  EXPECT_NE(second[project_ + "-web-2"], first[project_ + "-web-2"]);
  EXPECT_EQ(inspect("container", project_ + "-web-1")["Config"]["Env"][0], "GREETING=bye");
  // The anonymous volume went to the new container; the named one kept its data.
  EXPECT_EQ(compose({"exec", "-T", "web", "cat", "/cache/c"}).out, "kept\n");
  auto again = compose({"exec", "-T", "db", "wget", "-q", "-O-", "http://web:8080/x"});
  EXPECT_EQ(again.out, "hi\n") << again.err;

  // Scaled down to one web (with --wait: running, the db healthy).
  auto scaled = compose({"up", "--wait", "--scale", "web=1"});
  ASSERT_EQ(scaled.code, 0) << scaled.err;
  EXPECT_NE(scaled.err.find(" Container " + project_ + "-web-2  Removed"), std::string::npos) << scaled.err;
  EXPECT_EQ(lines(compose({"ps", "-q", "web"}).out).size(), 1u);
  EXPECT_EQ(ids().count(project_ + "-web-1"), 1u);

  // stop, start
  ASSERT_EQ(compose({"stop", "-t", "1"}).code, 0);
  EXPECT_EQ(lines(compose({"ps", "-q"}).out).size(), 0u);
  EXPECT_EQ(lines(compose({"ps", "-aq"}).out).size(), 2u);
  ASSERT_EQ(compose({"start"}).code, 0);
  EXPECT_EQ(lines(compose({"ps", "-q"}).out).size(), 2u);

  // down -v: nothing of the project is left.
  auto down = compose({"down", "-v", "-t", "1"});
  ASSERT_EQ(down.code, 0) << down.err;
  EXPECT_EQ(summary(), json::object());
  EXPECT_EQ(docker({"volume", "inspect", project_ + "_data"}).code, 1);
}

TEST_P(ComposeApp, RefusalsBuildAndImages) {
  write("compose.yaml",
        std::string() + "name: " + project_ + "\nservices:\n  a: {image: bb:1}\n  b: {image: bb:1, runtime: runc}\n");
  auto up = compose({"up", "-d"});
  EXPECT_EQ(up.code, 1);
  EXPECT_EQ(up.err, "services.b: `runtime` is not supported yet by hoist compose\n");
  EXPECT_EQ(summary(), json::object());
  write("compose.yaml", std::string() + "name: " + project_ +
                            "\nservices:\n  a: {build: {context: ., cache_to: [type=inline]}}\n");
  up = compose({"up", "-d"});
  EXPECT_EQ(up.code, 1);
  EXPECT_EQ(up.err, "services.a.build: `cache_to` is not supported yet by hoist compose (it needs BuildKit; hoist builds "
                    "with the classic builder (POST /build))\n");
  EXPECT_EQ(summary(), json::object());

  // The inline service's image goes to a registry on loopback (when docker-registry is here).
  std::unique_ptr<hoist::test::LocalRegistry> reg;
  if (hoist::test::registry_tools_missing().empty()) reg = std::make_unique<hoist::test::LocalRegistry>();
  const std::string custom = (reg ? reg->host() + "/" : std::string()) + project_ + "-custom:v1";

  // build: a context with args, a target stage, labels; an inline Dockerfile with an image name.
  fs::create_directories(dir_ + "/app");
  auto dockerfile = [&](const std::string& extra) {
    write("app/Dockerfile", std::string() + "FROM bb:1 AS base\nARG GREETING\nRUN echo \"$GREETING\" > /greeting\n" +
                                extra + "FROM base AS final\nLABEL stage=final\n");
  };
  dockerfile("");
  write("compose.yaml",
        std::string() + "name: " + project_ + "\nservices:\n" +
            "  app:\n    build:\n      context: ./app\n      args: {GREETING: hi}\n      labels: {own: x}\n" +
            "      target: final\n    command: [sleep, '1000']\n" + "  inline:\n    image: " + custom +
            "\n    build:\n" +
            "      dockerfile_inline: \"FROM bb:1\\nRUN echo inline > /x\\n\"\n    command: [cat, /x]\n" +
            "  job: {image: bb:1, command: [sh, -c, 'echo out; echo err >&2; exit 3']}\n");
  auto built = compose({"build"});
  ASSERT_EQ(built.code, 0) << built.err;
  EXPECT_NE(built.err.find(" Service app  Built"), std::string::npos) << built.err;
  EXPECT_NE(built.out.find("Successfully tagged " + project_ + "-app:latest"), std::string::npos) << built.out;
  json img = inspect("image", project_ + "-app");
  const json& il = img["Config"]["Labels"];
  EXPECT_EQ(il.value("com.docker.compose.project", ""), project_);
  EXPECT_EQ(il.value("com.docker.compose.service", ""), "app");
  EXPECT_EQ(il.value("com.docker.compose.version", ""), "2.29.7");
  EXPECT_EQ(il.value("own", ""), "x");
  EXPECT_EQ(il.value("stage", ""), "final");
  EXPECT_EQ(inspect("image", custom)["Config"]["Labels"].value("com.docker.compose.service", ""),
            "inline");
  // up uses what is built (no build); the containers run the images.
  up = compose({"up", "-d"});
  ASSERT_EQ(up.code, 0) << up.err;
  EXPECT_EQ(up.err.find("Building"), std::string::npos) << up.err;
  EXPECT_EQ(compose({"exec", "-T", "app", "cat", "/greeting"}).out, "hi\n");
  EXPECT_EQ(inspect("container", project_ + "-app-1")["Config"]["Image"], project_ + "-app");
  EXPECT_EQ(docker({"logs", project_ + "-inline-1"}).out, "inline\n");
  std::string app1 = inspect("container", project_ + "-app-1")["Id"];
  // up --build rebuilds (a changed Dockerfile, --no-cache not needed) and recreates the app.
  dockerfile("RUN echo two >> /greeting\n");
  up = compose({"up", "-d", "--build", "app"});
  ASSERT_EQ(up.code, 0) << up.err;
  EXPECT_NE(up.err.find(" Container " + project_ + "-app-1  Recreate"), std::string::npos) << up.err;
  EXPECT_EQ(compose({"exec", "-T", "app", "cat", "/greeting"}).out, "hi\ntwo\n");
  EXPECT_NE(inspect("container", project_ + "-app-1")["Id"], app1);

  // Attached up: the output of what it starts, prefixed, each exit; it returns when all stopped.
  auto att = compose({"up", "--no-build", "inline"}, 60);
  EXPECT_EQ(att.code, 0) << att.err;
  EXPECT_EQ(att.out, "Attaching to inline-1\ninline-1  | inline\ninline-1 exited with code 0\n");
  // --exit-code-from: the job's exit stops the others; its code is up's.
  att = compose({"up", "--no-build", "-t", "1", "--exit-code-from", "job", "job", "app"}, 60);
  EXPECT_EQ(att.code, 3) << att.err;
  EXPECT_NE(att.out.find("job-1  | out\n"), std::string::npos) << att.out;
  EXPECT_NE(att.err.find("job-1  | err\n"), std::string::npos) << att.err;
  EXPECT_NE(att.out.find("job-1 exited with code 3\nAborting on container exit...\n"), std::string::npos) << att.out;
  EXPECT_NE(att.err.find(" Container " + project_ + "-app-1  Stopped"), std::string::npos) << att.err;
  EXPECT_EQ(inspect("container", project_ + "-app-1")["State"]["Status"], "exited");
  // Ctrl-C stops the project gracefully (sleep ignores SIGTERM: -t 30 would wait); a second one kills.
  {
    std::string cmd = std::string(HOIST_CLI_BIN) + " -H " + host_ + " --config " + cfg_ + " compose --project-directory " +
                      dir_ + " -f " + dir_ + "/compose.yaml up --no-build -t 30 app";
    std::string wait_for = "i=0; while ! grep -q \"$1\" " + dir_ + "/up.out && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done";
    std::string script = "w() { " + wait_for + "; }; " + cmd + " > " + dir_ + "/up.out 2> " + dir_ +
                         "/up.err & p=$!; w Attaching; kill -INT $p; w Gracefully; sleep 0.5; kill -INT $p; wait $p; echo $?";
    auto r = hoist::test::run_cmd({"sh", "-c", script}, "", 25);
    EXPECT_EQ(r.out, "130\n") << r.err;
    std::string so = file("up.out"), se = file("up.err");
    EXPECT_EQ(so, "Attaching to app-1\nGracefully stopping... (press Ctrl+C again to force)\n");
    EXPECT_NE(se.find(" Container " + project_ + "-app-1  Killed"), std::string::npos) << se;
    EXPECT_EQ(inspect("container", project_ + "-app-1")["State"]["ExitCode"], 137);
  }
  // --no-build with an image missing fails before anything is made.
  ASSERT_EQ(compose({"rm", "-f", "inline"}).code, 0);
  ASSERT_EQ(docker({"rmi", custom}).code, 0);
  up = compose({"up", "-d", "--no-build", "inline"});
  EXPECT_EQ(up.code, 1);
  EXPECT_NE(up.err.find("image " + custom + " is not built"), std::string::npos) << up.err;
  ASSERT_EQ(compose({"build", "-q", "--no-cache", "inline"}).code, 0);
  if (reg) {
    // push, then pull back what was removed (a service with an image and a build pulls too).
    auto push = compose({"push", "inline", "app"});
    ASSERT_EQ(push.code, 0) << push.err;
    // A line per layer's progress, as Compose v2; a service without an image (or a build): skipped.
    EXPECT_NE(push.err.find(" Pushing " + custom + ": "), std::string::npos) << push.err;
    EXPECT_NE(push.err.find(" Pushed\n"), std::string::npos) << push.err;
    EXPECT_NE(push.err.find(" app Skipped\n"), std::string::npos) << push.err;
    EXPECT_EQ(push.err.find(project_ + "-app"), std::string::npos) << push.err;
    ASSERT_EQ(docker({"rmi", custom}).code, 0);
    auto pull = compose({"pull", "inline"});
    ASSERT_EQ(pull.code, 0) << pull.err;
    EXPECT_NE(pull.err.find(" Image " + custom + "  Pulled"), std::string::npos) << pull.err;
    EXPECT_EQ(docker({"logs", project_ + "-inline-1"}).code, 1);  // removed above
    EXPECT_EQ(docker({"run", "--rm", custom, "cat", "/x"}).out, "inline\n");
  }
  // down --rmi local: the images compose named (not the one with `image:`); --rmi all: those too.
  auto down = compose({"down", "-t", "1", "--rmi", "local"});
  ASSERT_EQ(down.code, 0) << down.err;
  EXPECT_NE(down.err.find(" Image " + project_ + "-app  Removed"), std::string::npos) << down.err;
  EXPECT_EQ(docker({"image", "inspect", project_ + "-app"}).code, 1);
  EXPECT_EQ(docker({"image", "inspect", custom}).code, 0);
  down = compose({"down", "--rmi", "all"});
  ASSERT_EQ(down.code, 0) << down.err;
  EXPECT_EQ(docker({"image", "inspect", custom}).code, 1);
  EXPECT_EQ(docker({"image", "inspect", "bb:1"}).code, 1);  // the job's: every image a service uses
}

TEST_P(ComposeApp, CompletedSuccessfullyOptionalDependenciesAndOrphans) {
  auto write_compose = [&](const std::string& job_cmd, bool with_extra) {
    write("compose.yaml",
          std::string() + "name: " + project_ + "\nservices:\n" + "  job: {image: bb:1, command: [sh, -c, '" + job_cmd +
              "'], networks: [n]}\n" + "  opt: {image: bb:1, command: [sh, -c, 'exit 1'], networks: [n]}\n" +
              "  app:\n    image: bb:1\n    command: [sleep, '1000']\n    networks: [n]\n    secrets: [pw]\n" +
              "    depends_on:\n      job: {condition: service_completed_successfully}\n" +
              "      opt: {condition: service_completed_successfully, required: false}\n" +
              (with_extra ? "  extra: {image: bb:1, command: [sleep, '1000'], networks: [n]}\n" : "") +
              "networks:\n  n: {ipam: {config: [{subnet: '" + subnet(0) + "'}]}}\n" +
              "secrets:\n  pw: {file: ./pw.txt}\n");
  };
  write("pw.txt", "s3cret\n");
  // The job fails: up fails naming it, and the app is created but not started.
  write_compose("exit 3", true);
  auto up = compose({"up", "-d"});
  EXPECT_EQ(up.code, 1);
  EXPECT_NE(up.err.find("service \"job\" didn't complete successfully: exit 3"), std::string::npos) << up.err;
  EXPECT_EQ(inspect("container", project_ + "-app-1")["State"]["Status"], "created");
  // The job succeeds: the app starts; the optional dependency's failure is only a warning.
  write_compose("echo job-done", true);
  up = compose({"up", "-d"});
  EXPECT_EQ(up.code, 0) << up.err;
  EXPECT_NE(up.err.find("WARNING: optional dependency \"opt\" failed"), std::string::npos) << up.err;
  EXPECT_EQ(inspect("container", project_ + "-app-1")["State"]["Status"], "running");
  EXPECT_EQ(compose({"ps", "-a", "--format", "{{.Service}} {{.State}} {{.ExitCode}}"}).out,
            "app running 0\nextra running 0\njob exited 0\nopt exited 1\n");
  EXPECT_EQ(compose({"ps", "--status", "exited", "--format", "{{.Service}}"}).out, "job\nopt\n");
  // A file secret, read-only at /run/secrets/<name>.
  EXPECT_EQ(compose({"exec", "-T", "app", "cat", "/run/secrets/pw"}).out, "s3cret\n");
  EXPECT_NE(compose({"exec", "-T", "app", "sh", "-c", "echo x > /run/secrets/pw"}).code, 0);
  // logs -f of exited containers ends with their output, each line prefixed.
  auto logs = compose({"logs", "-f", "job", "opt"}, 30);
  EXPECT_EQ(logs.code, 0) << logs.err;
  EXPECT_EQ(logs.out, "job-1  | job-done\n");
  // kill, restart, rm
  EXPECT_EQ(compose({"kill", "app"}).code, 0);
  EXPECT_EQ(inspect("container", project_ + "-app-1")["State"]["ExitCode"], 137);
  EXPECT_EQ(compose({"restart", "-t", "1", "app"}).code, 0);
  EXPECT_EQ(inspect("container", project_ + "-app-1")["State"]["Status"], "running");
  // run: a one-off container of the service (its dependencies up first), with the service's
  // secrets and environment and the flags' changes; its exit code is run's.
  auto run = compose({"run", "--rm", "-T", "-e", "X=1", "-u", "1:1", "-w", "/tmp", "-v", "./pw.txt:/pw2:ro", "app",
                      "sh", "-c", "echo $X $(id -u) $(pwd); cat /run/secrets/pw /pw2"});
  EXPECT_EQ(run.code, 0) << run.err;
  EXPECT_EQ(run.out, "1 1 /tmp\ns3cret\ns3cret\n");
  EXPECT_EQ(compose({"run", "--rm", "--no-deps", "-T", "app", "sh", "-c", "exit 5"}).code, 5);
  run = compose({"run", "-d", "--no-deps", "-l", "k=v", "-p", "127.0.0.1::9", "--entrypoint", "sleep", "app", "100"});
  ASSERT_EQ(run.code, 0) << run.err;
  std::string run_id = run.out.substr(0, run.out.size() - 1);
  json one = inspect("container", run_id);
  std::string one_name = one["Name"].get<std::string>().substr(1);
  EXPECT_EQ(one_name.rfind(project_ + "-app-run-", 0), 0u) << one_name;
  EXPECT_EQ(one_name.size(), project_.size() + 9 + 12) << one_name;
  const json& ol = one["Config"]["Labels"];
  EXPECT_EQ(ol["com.docker.compose.oneoff"], "True");
  EXPECT_EQ(ol["com.docker.compose.container-number"], "-1");
  EXPECT_EQ(ol["com.docker.compose.slug"].get<std::string>().substr(0, 12), one_name.substr(one_name.size() - 12));
  EXPECT_EQ(ol["k"], "v");
  EXPECT_EQ(one["Config"]["Entrypoint"], json({"sleep"}));
  EXPECT_EQ(one["Config"]["Cmd"], json({"100"}));
  EXPECT_EQ(one["HostConfig"]["PortBindings"], json::parse(R"({"9/tcp":[{"HostIp":"127.0.0.1","HostPort":""}]})"));
  EXPECT_EQ(one["State"]["Status"], "running");
  // Not one of the service's containers for ps.
  EXPECT_EQ(compose({"ps", "--format", "{{.Name}}", "app"}).out, project_ + "-app-1\n");
  // create: the containers, not started.
  ASSERT_EQ(compose({"rm", "-f", "-s", "extra"}).code, 0);
  auto created = compose({"create", "extra"});
  EXPECT_EQ(created.code, 0) << created.err;
  EXPECT_EQ(inspect("container", project_ + "-extra-1")["State"]["Status"], "created");
  ASSERT_EQ(compose({"start", "extra"}).code, 0);

  auto rm = compose({"rm", "-f", "job"});
  EXPECT_EQ(rm.code, 0) << rm.err;
  EXPECT_NE(rm.err.find(" Container " + project_ + "-job-1  Removed"), std::string::npos) << rm.err;
  EXPECT_EQ(docker({"inspect", project_ + "-job-1"}).code, 1);

  // A service gone from the file: an orphan, warned about, then removed with --remove-orphans.
  write_compose("echo job-done", false);
  auto down = compose({"down", "-t", "1"});
  EXPECT_EQ(down.code, 0) << down.err;
  EXPECT_NE(down.err.find("Found orphan containers ([" + project_ + "-extra-1])"), std::string::npos) << down.err;
  // The orphan still uses the network: down leaves it, saying so, as Compose v2.
  EXPECT_NE(down.err.find(" Network " + project_ + "_n  Resource is still in use"), std::string::npos) << down.err;
  EXPECT_EQ(lines(docker({"ps", "-aq", "--filter", "label=com.docker.compose.project=" + project_}).out).size(), 1u);
  down = compose({"down", "--remove-orphans", "-t", "1"});
  EXPECT_EQ(down.code, 0) << down.err;
  EXPECT_EQ(summary(), json::object());
}

// Secrets and configs of `environment` and `content` copied in after the create (long syntax:
// target, uid, gid, mode), network_mode service:, volumes_from (the dependencies implied: `up app`
// starts base), devices, deploy's restart_policy and memory reservation, links.
TEST_P(ComposeApp, SecretsConfigsReferencesDeploy) {
  write(".env", std::string() + "PROJECT=" + project_ + "\nSECRET_VALUE=from-env\n");
  write("compose.yaml",
        std::string() + "name: ${PROJECT}\nservices:\n" +
            "  base:\n    image: bb:1\n    command: [sleep, '1000']\n    volumes: [/shared]\n    networks: [n]\n" +
            "  app:\n    image: bb:1\n    command: [sleep, '1000']\n    network_mode: service:base\n" +
            "    volumes_from: ['base:ro']\n" +
            "    secrets:\n      - envsec\n      - {source: envsec, target: other, uid: '123', gid: '456', mode: "
            "0400}\n" +
            "    configs:\n      - cfg\n      - {source: cfg, target: /etc/cfg2, mode: 0600}\n" +
            "      - {source: envcfg, target: rel}\n" + "    devices: ['/dev/null:/dev/xnull']\n" +
            "    deploy:\n      restart_policy: {condition: on-failure, max_attempts: 2, delay: 5s}\n" +
            "      resources: {reservations: {memory: 64m, cpus: '0.5'}}\n" +
            "networks:\n  n: {ipam: {config: [{subnet: '" + subnet(0) + "'}]}}\n" +
            "secrets:\n  envsec: {environment: SECRET_VALUE}\n" +
            "configs:\n  cfg: {content: 'hello $${X}'}\n  envcfg: {environment: SECRET_VALUE}\n");
  auto up = compose({"up", "-d", "app"});
  ASSERT_EQ(up.code, 0) << up.err;
  json base = inspect("container", project_ + "-base-1");
  EXPECT_EQ(base["State"]["Status"], "running");
  json app = inspect("container", project_ + "-app-1");
  EXPECT_EQ(app["State"]["Status"], "running");
  EXPECT_EQ(app["HostConfig"]["NetworkMode"], "container:" + base["Id"].get<std::string>());
  EXPECT_EQ(app["HostConfig"]["VolumesFrom"], json({base["Id"].get<std::string>() + ":ro"}));
  EXPECT_EQ(app["HostConfig"]["Devices"],
            json::parse(R"([{"PathOnHost":"/dev/null","PathInContainer":"/dev/xnull","CgroupPermissions":"rwm"}])"));
  EXPECT_EQ(app["HostConfig"]["RestartPolicy"], json::parse(R"({"Name":"on-failure","MaximumRetryCount":2})"));
  EXPECT_EQ(app["HostConfig"]["MemoryReservation"], 64 << 20);
  auto sh = [&](const std::string& cmd) { return compose({"exec", "-T", "app", "sh", "-c", cmd}); };
  EXPECT_EQ(sh("cat /run/secrets/envsec; echo; stat -c '%a %u %g' /run/secrets/envsec").out, "from-env\n444 0 0\n");
  EXPECT_EQ(sh("cat /run/secrets/other; echo; stat -c '%a %u %g' /run/secrets/other").out, "from-env\n400 123 456\n");
  EXPECT_EQ(sh("cat /cfg; echo; stat -c '%a' /cfg /etc/cfg2; cat /rel").out, "hello ${X}\n444\n600\nfrom-env");
  // The base's volume, read-only; its network namespace.
  EXPECT_EQ(sh("mount | grep ' /shared ' | grep -c '(ro'").out, "1\n");
  EXPECT_EQ(sh("ls -l /dev/xnull | cut -c1").out, "c\n");
  EXPECT_EQ(sh("cat /sys/class/net/eth0/address").out,
            compose({"exec", "-T", "base", "cat", "/sys/class/net/eth0/address"}).out);

  // A missing variable fails the create, naming it; links: the endpoint's Links as Compose v2
  // makes them, the alias a name on the network.
  write("compose.yaml", std::string() + "name: ${PROJECT}\nservices:\n" +
                            "  db: {image: bb:1, command: [sleep, '1000'], networks: [n]}\n" +
                            "  web: {image: bb:1, command: [sleep, '1000'], networks: [n], links: ['db:database']}\n" +
                            "  bad: {image: bb:1, command: [sleep, '1000'], networks: [n], secrets: [nope]}\n" +
                            "networks:\n  n: {ipam: {config: [{subnet: '" + subnet(0) + "'}]}}\n" +
                            "secrets:\n  nope: {environment: NOT_SET_ANYWHERE}\n");
  auto bad = compose({"up", "-d", "bad"});
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.err.find("environment variable \"NOT_SET_ANYWHERE\" required by file \"" + project_ +
                         "_nope\" is not set"),
            std::string::npos)
      << bad.err;
  auto web = compose({"up", "-d", "--remove-orphans", "web"});
  ASSERT_EQ(web.code, 0) << web.err;
  std::string db = project_ + "-db-1";
  EXPECT_EQ(inspect("container", project_ + "-web-1")["NetworkSettings"]["Networks"][project_ + "_n"]["Links"],
            json({db + ":database", db + ":db-1", db + ":" + project_ + "-db-1"}));
  EXPECT_EQ(compose({"exec", "-T", "web", "ping", "-c1", "-W2", "database"}).code, 0);
  EXPECT_NE(compose({"exec", "-T", "db", "ping", "-c1", "-W1", "database"}).code, 0);  // the linking container's alone
}

// A network's definition changed alone (a label, then its subnet): `up` removes and makes it anew
// and recreates the containers on it; the other service's stay; `up` again changes nothing.
TEST_P(ComposeApp, ChangedNetworkIsRecreatedWithItsContainers) {
  auto write_compose = [&](const std::string& label, const std::string& net) {
    write("compose.yaml", std::string() + "name: " + project_ + "\nservices:\n" +
                              "  a: {image: bb:1, command: [sleep, '1000'], networks: [n1]}\n" +
                              "  b: {image: bb:1, command: [sleep, '1000'], networks: [n2]}\n" +
                              "networks:\n  n1: {labels: {v: '" + label + "'}, ipam: {config: [{subnet: '" + net +
                              "'}]}}\n" + "  n2: {ipam: {config: [{subnet: '" + subnet(1) + "'}]}}\n");
  };
  write_compose("1", subnet(0));
  ASSERT_EQ(compose({"up", "-d"}).code, 0);
  auto id = [&](const std::string& kind, const std::string& name) { return inspect(kind, name)["Id"].get<std::string>(); };
  std::string a1 = id("container", project_ + "-a-1"), b1 = id("container", project_ + "-b-1");
  std::string n1 = id("network", project_ + "_n1"), n2 = id("network", project_ + "_n2");
  // Unchanged: nothing made anew.
  auto up = compose({"up", "-d"});
  ASSERT_EQ(up.code, 0) << up.err;
  EXPECT_EQ(up.err.find("Removed"), std::string::npos) << up.err;
  EXPECT_EQ(id("container", project_ + "-a-1"), a1);
  // The label changed.
  write_compose("2", subnet(0));
  up = compose({"up", "-d"});
  ASSERT_EQ(up.code, 0) << up.err;
  EXPECT_NE(up.err.find(" Network " + project_ + "_n1  Removed"), std::string::npos) << up.err;
  EXPECT_NE(up.err.find(" Container " + project_ + "-a-1  Recreate"), std::string::npos) << up.err;
  json net = inspect("network", project_ + "_n1");
  EXPECT_NE(net["Id"], n1);
  EXPECT_EQ(net["Labels"]["v"], "2");
  json a = inspect("container", project_ + "-a-1");
  EXPECT_NE(a["Id"], a1);
  EXPECT_EQ(a["State"]["Status"], "running");
  EXPECT_EQ(a["NetworkSettings"]["Networks"][project_ + "_n1"]["NetworkID"], net["Id"]);
  EXPECT_EQ(id("container", project_ + "-b-1"), b1);
  EXPECT_EQ(id("network", project_ + "_n2"), n2);
  // The subnet changed: the container's address is in the new one.
  std::string other = "10.196." + std::to_string(octet_ + 2) + ".0/24";
  write_compose("2", other);
  up = compose({"up", "-d"});
  ASSERT_EQ(up.code, 0) << up.err;
  a = inspect("container", project_ + "-a-1");
  EXPECT_EQ(a["NetworkSettings"]["Networks"][project_ + "_n1"]["IPAddress"].get<std::string>().rfind(
                "10.196." + std::to_string(octet_ + 2) + ".", 0),
            0u)
      << a["NetworkSettings"].dump();
  EXPECT_EQ(inspect("container", project_ + "-b-1")["State"]["Status"], "running");
  EXPECT_EQ(id("container", project_ + "-b-1"), b1);
}

// A named volume's definition changed (a label): `up` asks whether to make it anew; with nothing
// answered (no terminal) the volume and its data stay; answered "y" or with -y, the containers
// mounting it are removed, the volume made anew (empty, the new label) and the containers made
// again; the other service's container stays; `up` again asks nothing.
TEST_P(ComposeApp, ChangedVolumeIsRecreatedWhenConfirmed) {
  auto write_compose = [&](const std::string& label) {
    write("compose.yaml",
          "name: " + project_ + "\nservices:\n" + "  a: {image: bb:1, command: [sleep, '1000'], volumes: [data:/d]}\n" +
              "  b: {image: bb:1, command: [sleep, '1000']}\n" + "volumes:\n  data: {labels: {v: '" + label + "'}}\n");
  };
  auto id = [&](const std::string& name) { return inspect("container", name)["Id"].get<std::string>(); };
  const std::string question = "Volume \"" + project_ + "_data\" exists but doesn't match configuration in compose " +
                               "file. Recreate (data will be lost)?";
  write_compose("1");
  ASSERT_EQ(compose({"up", "-d"}).code, 0);
  ASSERT_EQ(compose({"exec", "-T", "a", "sh", "-c", "echo kept > /d/f"}).code, 0);
  std::string a1 = id(project_ + "-a-1"), b1 = id(project_ + "-b-1");

  write_compose("2");
  auto up = compose({"up", "-d"});  // stdin: nothing
  ASSERT_EQ(up.code, 0) << up.err;
  EXPECT_EQ(up.out, question);
  EXPECT_EQ(inspect("volume", project_ + "_data")["Labels"]["v"], "1");
  EXPECT_EQ(id(project_ + "-a-1"), a1);
  EXPECT_EQ(compose({"exec", "-T", "a", "cat", "/d/f"}).out, "kept\n");

  up = hoist({"compose", "--project-directory", dir_, "-f", dir_ + "/compose.yaml", "up", "-d"}, "y\n");
  ASSERT_EQ(up.code, 0) << up.err;
  EXPECT_EQ(up.out, question);
  EXPECT_NE(up.err.find(" Container " + project_ + "-a-1  Removed"), std::string::npos) << up.err;
  EXPECT_EQ(inspect("volume", project_ + "_data")["Labels"]["v"], "2");
  EXPECT_NE(id(project_ + "-a-1"), a1);
  EXPECT_EQ(inspect("container", project_ + "-a-1")["State"]["Status"], "running");
  EXPECT_EQ(compose({"exec", "-T", "a", "test", "-e", "/d/f"}).code, 1);
  EXPECT_EQ(id(project_ + "-b-1"), b1);

  ASSERT_EQ(compose({"exec", "-T", "a", "sh", "-c", "echo again > /d/f"}).code, 0);
  write_compose("3");
  up = compose({"up", "-d", "-y"});
  ASSERT_EQ(up.code, 0) << up.err;
  EXPECT_EQ(up.out, "");
  EXPECT_EQ(inspect("volume", project_ + "_data")["Labels"]["v"], "3");
  EXPECT_EQ(compose({"exec", "-T", "a", "test", "-e", "/d/f"}).code, 1);
  up = compose({"up", "-d"});
  ASSERT_EQ(up.code, 0) << up.err;
  EXPECT_EQ(up.out, "");
  EXPECT_EQ(up.err.find("Removed"), std::string::npos) << up.err;
}

// build.secrets and build.ssh, as Compose v2 gives them to BuildKit: against hoistd a secret from a
// file (short form) and one from the project's environment (long form, under its target's id) reach
// RUN --mount=type=secret, the client's agent (SSH_AUTH_SOCK) RUN --mount=type=ssh; no secret stays
// in the image (files, history, saved layers). dockerd's classic builder has neither: refused before any build,
// naming the service and the key.
TEST_P(ComposeApp, BuildSecretsAndSsh) {
  if (!hoist::test::TestSshAgent::available())
    GTEST_SKIP() << "openssh-client is not installed (scripts/install-deps.sh)";
  hoist::test::TestSshAgent agent(dir_, "hoist-compose-ssh@key");
  fs::create_directories(dir_ + "/app");
  hoist::test::run_cmd({"cp", HOIST_AGENT_LIST_BIN, dir_ + "/app/agent_list"});
  write("app/Dockerfile",
        "FROM bb:1\nCOPY agent_list /bin/agent_list\n"
        "RUN --mount=type=secret,id=pw --mount=type=secret,id=tok,env=TOK "
        "sh -c 'md5sum < /run/secrets/pw > /pw.md5; printf %s \"$TOK\" | md5sum > /tok.md5'\n"
        "RUN --mount=type=ssh agent_list > /listed\n");
  write("pw.txt", "file-s3cret");
  write(".env", file(".env") + "SECRET_TOKEN=env-s3cret\n");
  write("compose.yaml", "name: " + project_ +
                            "\nservices:\n  app:\n    build:\n      context: ./app\n"
                            "      secrets: [pw, {source: token, target: tok}]\n      ssh: [default]\n"
                            "    command: [sleep, '1000']\n"
                            "secrets:\n  pw: {file: ./pw.txt}\n  token: {environment: SECRET_TOKEN}\n");
  auto with_agent = [&](const std::vector<std::string>& args) {
    std::vector<std::string> argv{"env", "SSH_AUTH_SOCK=" + agent.socket(), HOIST_CLI_BIN, "-H", host_, "--config", cfg_,
                                  "compose", "--project-directory", dir_, "-f", dir_ + "/compose.yaml"};
    argv.insert(argv.end(), args.begin(), args.end());
    return hoist::test::run_cmd(argv, "", 120);
  };
  // config: as Compose v2 prints them (the short form long, the file absolute).
  auto config = with_agent({"config", "--format", "json"});
  ASSERT_EQ(config.code, 0) << config.err;
  json build = json::parse(config.out)["services"]["app"]["build"];
  EXPECT_EQ(build["secrets"], json::parse(R"([{"source":"pw"},{"source":"token","target":"tok"}])"));
  EXPECT_EQ(build["ssh"], json::array({"default"}));
  EXPECT_EQ(json::parse(config.out)["secrets"]["pw"]["file"], dir_ + "/pw.txt");
  if (dockerd_) {
    auto r = with_agent({"up", "-d"});
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find("service \"app\": build.secrets is not supported by the daemon"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("Building"), std::string::npos) << r.err;
    write("compose.yaml", "name: " + project_ + "\nservices:\n  app: {build: {context: ./app, ssh: [default]}}\n");
    r = with_agent({"build"});
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find("service \"app\": build.ssh is not supported by the daemon"), std::string::npos) << r.err;
    EXPECT_NE(docker({"image", "inspect", project_ + "-app"}).code, 0);
    return;
  }
  auto built = with_agent({"build"});
  ASSERT_EQ(built.code, 0) << built.err << built.out;
  auto md5 = [](const std::string& s) { return hoist::test::run_cmd({"sh", "-c", "printf %s '" + s + "' | md5sum"}).out; };
  auto got = docker({"run", "--rm", "--network", "none", project_ + "-app", "cat", "/pw.md5", "/tok.md5", "/listed"});
  ASSERT_EQ(got.code, 0) << got.err;
  EXPECT_EQ(got.out, md5("file-s3cret") + md5("env-s3cret") +
                         "socket: /run/buildkit/ssh_agent.0\nidentities: 1\nhoist-compose-ssh@key\n");
  // Nothing of the secrets in the image: no file holds them, no mount point, no history.
  auto left = docker({"run", "--rm", "--network", "none", project_ + "-app", "sh", "-c",
                      "find / -xdev -type f | xargs grep -l s3cret; ls -d /run/secrets /run/buildkit 2>/dev/null; true"});
  EXPECT_EQ(left.out, "") << left.out;
  auto history = docker({"history", "--no-trunc", project_ + "-app"});
  ASSERT_EQ(history.code, 0) << history.err;
  EXPECT_EQ(history.out.find("s3cret"), std::string::npos) << history.out;
  auto env = docker({"image", "inspect", "-f", "{{json .Config.Env}}", project_ + "-app"});
  EXPECT_EQ(env.out.find("s3cret"), std::string::npos) << env.out;
  EXPECT_EQ(docker({"save", project_ + "-app"}).out.find("s3cret"), std::string::npos) << "a layer or the config";
  // A variable the project does not set: Compose's error, before the build.
  write(".env", file(".env").substr(0, file(".env").find("SECRET_TOKEN=")));
  auto unset = with_agent({"build"});
  EXPECT_EQ(unset.code, 1);
  EXPECT_NE(unset.err.find("environment variable \"SECRET_TOKEN\" required by secret \"tok\" is not set"),
            std::string::npos)
      << unset.err;
}

// A service with both image and build: the image pulled first, built only when the pull fails
// (or with pull_policy: build), as Compose v2; then `compose -p NAME down` with no file: the
// project from its resources' labels.
TEST_P(ComposeApp, PullBeforeBuildAndDownWithoutFile) {
  fs::create_directories(dir_ + "/ctx");
  write("ctx/Dockerfile", "FROM bb:1\nRUN echo built > /built\n");
  const std::string unreachable = "127.0.0.1:1/hoist-nope:1";
  write("compose.yaml",
        std::string() + "name: " + project_ + "\nservices:\n" + "  built: {image: '" + unreachable +
            "', build: ./ctx, command: [sleep, '1000'], volumes: [data:/d]}\n" +
            "  present: {image: 'bb:1', build: ./ctx, command: [sleep, '1000'], depends_on: [built]}\n" +
            "volumes:\n  data: {}\n");
  auto up = compose({"up", "-d"});
  EXPECT_EQ(up.code, 0) << up.err;
  EXPECT_NE(up.err.find(" Image " + unreachable + "  Pulling"), std::string::npos) << up.err;
  EXPECT_NE(up.err.find(" built Warning "), std::string::npos) << up.err;
  EXPECT_NE(up.err.find(" Service built  Building"), std::string::npos) << up.err;
  EXPECT_EQ(up.err.find(" Service present  Building"), std::string::npos) << up.err;
  EXPECT_EQ(compose({"exec", "-T", "built", "cat", "/built"}).out, "built\n");
  EXPECT_NE(compose({"exec", "-T", "present", "cat", "/built"}).code, 0);

  // down with -p alone, from a directory without a compose file: containers (dependents first),
  // networks and, with -v, volumes of the project.
  auto down = hoist({"compose", "-p", project_, "down", "-v", "-t", "1"});
  EXPECT_EQ(down.code, 0) << down.err;
  auto present_at = down.err.find(" Container " + project_ + "-present-1  Removed");
  auto built_at = down.err.find(" Container " + project_ + "-built-1  Removed");
  EXPECT_NE(present_at, std::string::npos) << down.err;
  EXPECT_NE(built_at, std::string::npos) << down.err;
  EXPECT_LT(present_at, built_at) << down.err;
  EXPECT_NE(down.err.find(" Network " + project_ + "_default  Removed"), std::string::npos) << down.err;
  EXPECT_NE(down.err.find(" Volume " + project_ + "_data  Removed"), std::string::npos) << down.err;
  EXPECT_EQ(summary(), json::object());
  auto again = hoist({"compose", "-p", project_, "down"});
  EXPECT_EQ(again.code, 0) << again.err;
  EXPECT_NE(again.err.find("No resource found to remove for project \"" + project_ + "\""), std::string::npos)
      << again.err;
  docker({"rmi", "-f", unreachable});
}

TEST_P(ComposeApp, ScaleCpStatsEventsWaitAttach) {
  write("compose.yaml", std::string() + "name: " + project_ + "\nservices:\n" +
                            "  app: {image: bb:1, command: [sleep, '1000']}\n" +
                            "  job: {image: bb:1, command: [sh, -c, 'sleep 2; exit 4']}\n" +
                            "  talk: {image: bb:1, command: [sh, -c, 'sleep 2; echo from-talk; exit 3']}\n" +
                            "  late: {image: bb:1, command: [sh, -c, 'sleep 4; exit 5']}\n");
  ASSERT_EQ(compose({"up", "-d", "app"}).code, 0);
  // scale: SERVICE=N, as up --scale; a bad specifier is refused.
  auto sc = compose({"scale", "app=2"});
  ASSERT_EQ(sc.code, 0) << sc.err;
  EXPECT_EQ(compose({"ps", "--format", "{{.Name}}", "app"}).out, project_ + "-app-1\n" + project_ + "-app-2\n");
  sc = compose({"scale", "app=x"});
  EXPECT_EQ(sc.code, 1);
  EXPECT_NE(sc.err.find("Invalid scale specifier: can't parse replica value as int: app=x"), std::string::npos) << sc.err;
  EXPECT_EQ(compose({"scale", "app"}).code, 1);

  // cp: into every replica; out of the first one; --index picks one.
  write("f.txt", "hello\n");
  auto cp = compose({"cp", dir_ + "/f.txt", "app:/tmp/"});
  ASSERT_EQ(cp.code, 0) << cp.err;
  EXPECT_NE(cp.err.find(project_ + "-app-2  Copied " + dir_ + "/f.txt to " + project_ + "-app-2:/tmp/"), std::string::npos)
      << cp.err;
  EXPECT_EQ(compose({"exec", "-T", "--index", "1", "app", "cat", "/tmp/f.txt"}).out, "hello\n");
  EXPECT_EQ(compose({"exec", "-T", "--index", "2", "app", "cat", "/tmp/f.txt"}).out, "hello\n");
  ASSERT_EQ(compose({"exec", "-T", "--index", "2", "app", "sh", "-c", "echo two > /tmp/g"}).code, 0);
  cp = compose({"cp", "--index", "2", "app:/tmp/g", dir_ + "/g"});
  ASSERT_EQ(cp.code, 0) << cp.err;
  EXPECT_EQ(file("g"), "two\n");
  EXPECT_EQ(compose({"cp", "--index", "2", "app:/tmp/g", "app:/tmp/h"}).err,
            "copying between services is not supported\n");
  EXPECT_EQ(compose({"cp", "app:/tmp/nothing-such", dir_ + "/n"}).code, 1);
  EXPECT_EQ(compose({"cp", dir_ + "/f.txt", "job:/tmp/"}).err, "no container found for service \"job\"\n");

  // stats: the project's containers only.
  auto st = compose({"stats", "--no-stream", "--format", "{{.Name}}"});
  ASSERT_EQ(st.code, 0) << st.err;
  EXPECT_EQ(st.out, project_ + "-app-1\n" + project_ + "-app-2\n");

  // events: the project's container events, in Compose v2's text and JSON forms.
  {
    std::string base = std::string(HOIST_CLI_BIN) + " -H " + host_ + " --config " + cfg_ +
                       " compose --project-directory " + dir_ + " -f " + dir_ + "/compose.yaml ";
    std::string script = base + "events > " + dir_ + "/ev.txt 2>&1 & a=$!; " + base + "events --json app > " + dir_ +
                         "/ev.json 2>&1 & b=$!; sleep 1.5; " + base + "stop -t 1 app > /dev/null 2>&1; sleep 1; kill $a $b";
    hoist::test::run_cmd({"sh", "-c", script}, "", 30);
    std::string text = file("ev.txt"), js = file("ev.json");
    std::string id1 = inspect("container", project_ + "-app-1")["Id"];
    bool found = false;
    for (const auto& l : lines(js)) {
      json e = json::parse(l);
      EXPECT_EQ(e["type"], "container");
      EXPECT_EQ(e["service"], "app");
      for (auto& [k, v] : e["attributes"].items()) EXPECT_NE(k.rfind("com.docker.compose.", 0), 0u) << k;
      if (e["action"] == "stop" && e["id"] == id1) {
        found = true;
        EXPECT_EQ(e["attributes"]["name"], project_ + "-app-1");
        EXPECT_EQ(e["attributes"]["image"], "bb:1");
        EXPECT_EQ(e["time"].get<std::string>().size() >= 20, true) << e["time"];
      }
    }
    EXPECT_TRUE(found) << js;
    // "2006-01-02 15:04:05.000000 container stop <id> (image=bb:1, name=...)", then a blank line.
    auto at = text.find(" container stop " + id1 + " (");
    ASSERT_NE(at, std::string::npos) << text;
    ASSERT_GE(at, 26u);
    std::string stamp = text.substr(at - 26, 26);
    EXPECT_EQ(stamp[4], '-');
    EXPECT_EQ(stamp[10], ' ');
    EXPECT_EQ(stamp[19], '.');
    std::string rest = text.substr(at + 16 + id1.size());
    EXPECT_NE(rest.find("image=bb:1"), std::string::npos) << rest;
    EXPECT_NE(rest.find("name=" + project_ + "-app-1"), std::string::npos) << rest;
    EXPECT_NE(rest.find(")\n\n"), std::string::npos) << rest;
  }

  // wait: the code of the containers' exit; --down-project removes the project then.
  ASSERT_EQ(compose({"up", "-d", "job"}).code, 0);
  std::string job = inspect("container", project_ + "-job-1")["Id"];
  auto w = compose({"wait", "job"}, 60);
  EXPECT_EQ(w.code, 4) << w.err;
  EXPECT_EQ(w.out, "container \"" + job + "\" exited with status code 4\n");
  EXPECT_EQ(compose({"wait", "job"}).err, "no containers for project \"" + project_ + "\"\n");
  // Several services: each container waited for at once, each stop reported as it comes; the code
  // is that of the last one to stop, whatever the order they are named in (as Compose v2).
  ASSERT_EQ(compose({"up", "-d", "job", "late"}).code, 0);
  job = inspect("container", project_ + "-job-1")["Id"];
  std::string late = inspect("container", project_ + "-late-1")["Id"];
  w = compose({"wait", "late", "job"}, 60);
  EXPECT_EQ(w.code, 5) << w.err;
  EXPECT_EQ(w.out, "container \"" + job + "\" exited with status code 4\ncontainer \"" + late +
                       "\" exited with status code 5\n");
  // A name that is no service finds no container either (Compose v2 does not check it).
  w = compose({"wait", "nosuch"});
  EXPECT_EQ(w.code, 1);
  EXPECT_EQ(w.err, "no containers for project \"" + project_ + "\"\n");

  // attach: the service's container's output until it exits; its exit code.
  ASSERT_EQ(compose({"up", "-d", "talk"}).code, 0);
  auto att = compose({"attach", "--no-stdin", "talk"}, 30);
  EXPECT_EQ(att.code, 3) << att.err;
  EXPECT_EQ(att.out, "from-talk\n");
  EXPECT_EQ(compose({"attach", "--no-stdin", "talk"}).err, "service \"talk\" is not running\n");

  ASSERT_EQ(compose({"up", "-d", "job"}).code, 0);
  w = compose({"wait", "--down-project", "job"}, 60);
  EXPECT_EQ(w.code, 4) << w.err;
  EXPECT_EQ(summary(), json::object());
}

// `compose watch`: a sync rule (an edit, a new directory, an ignored file, a removal seen in the
// running container within seconds) and a rebuild rule (the image built again, the container
// recreated from it).
TEST_P(ComposeApp, WatchSyncAndRebuild) {
  write("app/Dockerfile", "FROM bb:1\nCOPY version /version\n");
  write("app/version", "v1\n");
  write("app/src/a.txt", "one\n");
  write("compose.yaml",
        "name: " + project_ + "\nservices:\n" +
            "  web:\n    build: {context: ./app}\n    command: [sleep, '1000']\n    develop:\n" +
            "      watch:\n        - {action: sync, path: ./app/src, target: /src, ignore: ['*.tmp']}\n" +
            "        - {action: rebuild, path: ./app/version}\n" +
            "  plain: {image: bb:1, command: [sleep, '1000']}\n");
  auto none = compose({"watch", "--no-up", "plain"});
  EXPECT_EQ(none.code, 1);
  EXPECT_NE(none.err.find("none of the selected services is configured for watch"), std::string::npos) << none.err;

  using hoist::test::until;
  auto watch = compose_background({"watch", "web"}, "watch");
  ASSERT_TRUE(until([&] { return file("watch.out").find("Watch enabled") != std::string::npos; }, 120))
      << file("watch.out") << file("watch.err");
  auto in_web = [&](const std::string& path) { return compose({"exec", "-T", "web", "cat", path}).out; };
  std::string first_id = inspect("container", project_ + "-web-1")["Id"];

  write("app/src/a.txt", "two\n");
  EXPECT_TRUE(until([&] { return in_web("/src/a.txt") == "two\n"; }, 10)) << file("watch.out") << file("watch.err");
  EXPECT_NE(file("watch.out").find("Syncing service \"web\" after 1 changes were detected"), std::string::npos)
      << file("watch.out");
  write("app/src/x.tmp", "ignored\n");
  write("app/src/sub/b.txt", "bee\n");
  EXPECT_TRUE(until([&] { return in_web("/src/sub/b.txt") == "bee\n"; }, 10)) << file("watch.out") << file("watch.err");
  EXPECT_EQ(compose({"exec", "-T", "web", "test", "-e", "/src/x.tmp"}).code, 1);
  fs::remove(dir_ + "/app/src/a.txt");
  EXPECT_TRUE(until([&] { return compose({"exec", "-T", "web", "test", "-e", "/src/a.txt"}).code == 1; }, 10))
      << file("watch.out") << file("watch.err");
  EXPECT_EQ(in_web("/version"), "v1\n");

  write("app/version", "v2\n");
  EXPECT_TRUE(until([&] { return in_web("/version") == "v2\n"; }, 90)) << file("watch.out") << file("watch.err");
  EXPECT_NE(inspect("container", project_ + "-web-1")["Id"], first_id);
  EXPECT_NE(file("watch.out").find("Rebuilding service(s) [\"web\"] after changes were detected..."), std::string::npos)
      << file("watch.out");
  EXPECT_NE(file("watch.out").find("service(s) [\"web\"] successfully built"), std::string::npos) << file("watch.out");
}

// `watch`: `initial_sync` copies the rule's path into the running container before the watch
// starts (but what the rule ignores, the Dockerfile and the compose files), without running the
// hook; then a `sync+exec` rule copies the change and runs its `exec` hook in the container with
// the hook's user, working directory and environment, its output shown.
TEST_P(ComposeApp, WatchInitialSyncAndSyncExec) {
  write("conf/a.conf", "one\n");
  write("conf/sub/b.conf", "bee\n");
  write("conf/skip.tmp", "no\n");
  write("conf/Dockerfile", "FROM scratch\n");
  write("conf/compose.yaml", "services: {}\n");
  write("compose.yaml", "name: " + project_ + "\nservices:\n" +
                            "  web:\n    image: bb:1\n    command: [sleep, '1000']\n    develop:\n      watch:\n" +
                            "        - action: sync+exec\n          path: ./conf\n          target: /etc/app\n" +
                            "          initial_sync: true\n          ignore: ['*.tmp']\n          exec:\n" +
                            "            command: sh -c 'echo \"reload $$MODE $$(id -u) $$(pwd) $$(cat a.conf)\"'\n" +
                            "            user: '1234'\n            working_dir: /etc/app\n" +
                            "            environment: {MODE: fast}\n");
  using hoist::test::until;
  auto watch = compose_background({"watch"}, "watch");
  ASSERT_TRUE(until([&] { return file("watch.out").find("Watch enabled") != std::string::npos; }, 120))
      << file("watch.out") << file("watch.err");
  auto in_web = [&](const std::string& path) { return compose({"exec", "-T", "web", "cat", path}).out; };
  auto exists = [&](const std::string& path) { return compose({"exec", "-T", "web", "test", "-e", path}).code == 0; };
  EXPECT_EQ(in_web("/etc/app/a.conf"), "one\n");
  EXPECT_EQ(in_web("/etc/app/sub/b.conf"), "bee\n");
  EXPECT_FALSE(exists("/etc/app/skip.tmp"));
  EXPECT_FALSE(exists("/etc/app/Dockerfile"));
  EXPECT_FALSE(exists("/etc/app/compose.yaml"));
  EXPECT_EQ(file("watch.out").find("reload"), std::string::npos);  // the hook runs after a change's sync only

  write("conf/a.conf", "two\n");
  EXPECT_TRUE(until([&] { return file("watch.out").find("reload fast 1234 /etc/app two\n") != std::string::npos; }, 15))
      << file("watch.out") << file("watch.err");
  EXPECT_EQ(in_web("/etc/app/a.conf"), "two\n");
  EXPECT_NE(file("watch.out").find("Syncing service \"web\" after 1 changes were detected"), std::string::npos)
      << file("watch.out");
}

// A `sync+exec` hook runs in all the service's containers at the same time: each replica's hook
// waits (up to 10 s) for the other's mark in a shared volume, which one after the other would not
// see; and the watch goes on after a hook (a second change runs it again).
TEST_P(ComposeApp, WatchExecHooksRunInParallel) {
  write("conf/a.conf", "one\n");
  write("compose.yaml", "name: " + project_ + "\nservices:\n" +
                            "  web:\n    image: bb:1\n    command: [sleep, '1000']\n    deploy: {replicas: 2}\n" +
                            "    volumes: [marks:/marks]\n    develop:\n      watch:\n" +
                            "        - action: sync+exec\n          path: ./conf\n          target: /etc/app\n" +
                            "          exec:\n            command: sh -c 'r=$$(cat /etc/app/a.conf); touch /marks/$$r-$$HOSTNAME; "
                            "i=0; while [ $$(ls /marks | grep -c ^$$r-) -lt 2 ] && [ $$i -lt 100 ]; do sleep 0.1; "
                            "i=$$((i+1)); done; echo \"hook $$r saw $$(ls /marks | grep -c ^$$r-)\"'\n" +
                            "volumes:\n  marks: {}\n");
  using hoist::test::until;
  auto watch = compose_background({"watch"}, "watch");
  ASSERT_TRUE(until([&] { return file("watch.out").find("Watch enabled") != std::string::npos; }, 120))
      << file("watch.out") << file("watch.err");
  auto count = [&](const std::string& needle) {
    std::string out = file("watch.out");
    std::size_t n = 0;
    for (std::size_t at = 0; (at = out.find(needle, at)) != std::string::npos; at += needle.size()) ++n;
    return n;
  };
  write("conf/a.conf", "two\n");
  EXPECT_TRUE(until([&] { return count("hook two saw") == 2; }, 30)) << file("watch.out") << file("watch.err");
  EXPECT_EQ(count("hook two saw 2\n"), 2u) << file("watch.out");
  write("conf/a.conf", "three\n");
  EXPECT_TRUE(until([&] { return count("hook three saw") == 2; }, 30)) << file("watch.out") << file("watch.err");
  EXPECT_EQ(count("hook three saw 2\n"), 2u) << file("watch.out");
  EXPECT_TRUE(watch->running());
}

// `up --watch`: the output followed and the sync rule acted on at once; Ctrl-C stops both.
TEST_P(ComposeApp, UpWatchSyncs) {
  fs::create_directories(dir_ + "/src");
  write("compose.yaml", "name: " + project_ + "\nservices:\n" +
                            "  web:\n    image: bb:1\n    command: [sh, -c, 'echo web-up; exec sleep 1000']\n" +
                            "    develop:\n      watch: [{action: sync+restart, path: ./src, target: /srv}]\n");
  using hoist::test::until;
  auto up_watch = compose_background({"up", "-t", "1", "--watch"}, "up", SIGKILL);
  ASSERT_TRUE(
      until([&] { return file("up.out").find("Watch enabled") != std::string::npos || !up_watch->running(); }, 60));
  ASSERT_TRUE(up_watch->running()) << file("up.out") << file("up.err");
  EXPECT_TRUE(until([&] { return file("up.out").find("web-1  | web-up\n") != std::string::npos; }, 10)) << file("up.out");
  std::string started_at = inspect("container", project_ + "-web-1")["State"]["StartedAt"];
  write("src/page.html", "hi\n");
  EXPECT_TRUE(until([&] { return compose({"exec", "-T", "web", "cat", "/srv/page.html"}).out == "hi\n"; }, 15))
      << file("up.out") << file("up.err");
  // sync+restart: restarted after the copy (its output followed again).
  EXPECT_TRUE(until([&] { return file("up.out").find("service(s) [\"web\"] restarted") != std::string::npos; }, 15))
      << file("up.out") << file("up.err");
  EXPECT_NE(inspect("container", project_ + "-web-1")["State"]["StartedAt"], started_at);
  // Still attached and watching after the restart: the restarted container's output followed too
  // (it may come before or after the "restarted" line, which follows the restart's answer).
  auto ups = [&] {
    std::string out = file("up.out");
    size_t n = 0;
    for (size_t at = out.find("web-1  | web-up\n"); at != std::string::npos; at = out.find("web-1  | web-up\n", at + 1))
      ++n;
    return n;
  };
  EXPECT_TRUE(until([&] { return ups() >= 2; }, 10))
      << file("up.out") << file("up.err") << docker({"logs", "-t", project_ + "-web-1"}).out
      << inspect("container", project_ + "-web-1")["State"].dump();
  ASSERT_TRUE(up_watch->running()) << file("up.out") << file("up.err");
  up_watch->signal(SIGINT);
  EXPECT_TRUE(until(
      [&] { return !up_watch->running() || file("up.out").find("Gracefully stopping") != std::string::npos; }, 10));
  EXPECT_TRUE(until([&] { return inspect("container", project_ + "-web-1")["State"]["Status"] == "exited"; }, 20))
      << file("up.out") << file("up.err");
}

INSTANTIATE_TEST_SUITE_P(Daemons, ComposeApp, ::testing::Values("dockerd", "hoistd"),
                         [](const auto& info) { return info.param; });

}  // namespace
