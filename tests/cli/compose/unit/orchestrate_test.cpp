// cli/compose/orchestrate.h: names, labels, the create bodies of networks, volumes and
// containers, refusals of what is not mapped, the dependency orders, and up's convergence.
#include "cli/compose/orchestrate.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "test_files.h"

namespace hoist::compose {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

class Orchestrate : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/hoist-compose-orch.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir = tmpl;
  }
  void TearDown() override { fs::remove_all(dir); }
  Project load(const std::string& text) {
    hoist::test::write_file((dir / "compose.yaml").string(), text);
    LoadOptions o;
    o.cwd = dir.string();
    o.project_name = "app";
    return load_project(o);
  }
  std::string refusal(const std::string& text) {
    try {
      Project p = load(text);
      for (const auto& s : p.service_names()) container_create_plan(p, s, 1, "sha256:x");
    } catch (const Error& e) {
      return e.what();
    }
    return "(no error)";
  }
  fs::path dir;
};

// A service's dependencies, by name.
std::string svc_deps(const Project& p) {
  std::string r;
  for (const auto& [d, c] : dependency_conditions(p, "web")) r += (r.empty() ? "" : " ") + d;
  return r;
}

const char* const kApp = R"(
services:
  web:
    image: bb:1
    command: httpd -f -p 8080
    entrypoint: ["/bin/sh", "-c"]
    environment: {A: "1", UNSET: null}
    ports: ["127.0.0.1:8080:8080", "9000/udp"]
    expose: ["7000"]
    volumes: [data:/data, ./site:/site:ro, {type: tmpfs, target: /t, tmpfs: {size: 1024}}]
    networks:
      back: {aliases: [www]}
      default: {}
    restart: on-failure:3
    depends_on:
      db: {condition: service_healthy}
    labels: {tier: front}
    user: "1000:1000"
    working_dir: /srv
    hostname: webhost
    deploy: {replicas: 2, resources: {limits: {memory: 64m, cpus: "0.5"}}}
    init: true
    cap_add: [NET_ADMIN]
    extra_hosts: ["gw:10.0.0.1"]
    stop_grace_period: 3s
  db:
    image: bb:1
    healthcheck: {test: ["CMD", "true"], interval: 1s, retries: 3}
    networks: [back]
    tmpfs: [/run]
networks:
  back:
    driver_opts: {com.docker.network.bridge.name: appback}
    ipam: {config: [{subnet: 10.99.0.0/24}]}
    labels: {x: y}
volumes:
  data:
    labels: {keep: "yes"}
)";

TEST_F(Orchestrate, NamesReplicasAndOrders) {
  Project p = load(kApp);
  EXPECT_EQ(container_name(p, "web", 2), "app-web-2");
  EXPECT_EQ(replicas(p, "web"), 2);
  EXPECT_EQ(replicas(p, "db"), 1);
  EXPECT_EQ(p.start_order(), (std::vector<std::string>{"db", "web"}));
  EXPECT_EQ(stop_order(p), (std::vector<std::string>{"web", "db"}));
  EXPECT_EQ(dependency_conditions(p, "web"), (std::map<std::string, std::string>{{"db", "service_healthy"}}));
  EXPECT_EQ(network_name(p, "default"), "app_default");
  EXPECT_EQ(volume_name(p, "data"), "app_data");
  EXPECT_THROW(service_of(p, "nope"), Error);
}

TEST_F(Orchestrate, StartLevels) {
  Project p = load("services:\n  web: {image: x, depends_on: [api, cache]}\n  api: {image: x, depends_on: [db]}\n"
                   "  db: {image: x}\n  cache: {image: x}\n  lone: {image: x}\n");
  EXPECT_EQ(start_levels(p), (std::vector<std::vector<std::string>>{{"cache", "db", "lone"}, {"api"}, {"web"}}));
}

TEST_F(Orchestrate, ContainerNameOverrideAllowsOneReplica) {
  Project p = load("services:\n  a: {image: bb:1, container_name: mine}\n");
  EXPECT_EQ(container_name(p, "a", 1), "mine");
  EXPECT_EQ(json::parse(container_create_plan(p, "a", 1, "i").body)["Labels"][kLabelNumber], "1");
}

TEST_F(Orchestrate, ContainerLabels) {
  Project p = load(kApp);
  auto l = container_labels(p, "web", 2, "sha256:abc");
  EXPECT_EQ(l["tier"], "front");
  EXPECT_EQ(l[kLabelProject], "app");
  EXPECT_EQ(l[kLabelService], "web");
  EXPECT_EQ(l[kLabelNumber], "2");
  EXPECT_EQ(l[kLabelOneoff], "False");
  EXPECT_EQ(l[kLabelConfigHash], p.config_hash("web"));
  EXPECT_EQ(l[kLabelWorkingDir], dir.string());
  EXPECT_EQ(l[kLabelConfigFiles], (dir / "compose.yaml").string());
  EXPECT_EQ(l[kLabelDependsOn], "db:service_healthy:false");
  EXPECT_EQ(l[kLabelImage], "sha256:abc");
  EXPECT_EQ(l[kLabelVersion], kComposeVersion);
  EXPECT_EQ(container_labels(p, "db", 1, "i")[kLabelDependsOn], "");
}

TEST_F(Orchestrate, NetworkAndVolumeBodies) {
  Project p = load(kApp);
  json n = network_create_body(p, "back");
  EXPECT_EQ(n["Name"], "app_back");
  EXPECT_EQ(n["Driver"], "bridge");
  EXPECT_EQ(n["Options"], json({{"com.docker.network.bridge.name", "appback"}}));
  EXPECT_EQ(n["IPAM"], json({{"Driver", "default"}, {"Config", {{{"Subnet", "10.99.0.0/24"}}}}}));
  EXPECT_EQ(n["Labels"], json({{"x", "y"},
                               {kLabelConfigHash, network_hash(p, "back")},
                               {kLabelNetwork, "back"},
                               {kLabelProject, "app"},
                               {kLabelVersion, kComposeVersion}}));
  EXPECT_EQ(network_create_body(p, "default")["Labels"][kLabelNetwork], "default");
  json v = volume_create_body(p, "data");
  EXPECT_EQ(v["Name"], "app_data");
  EXPECT_EQ(v["Labels"], json({{"keep", "yes"}, {kLabelConfigHash, volume_hash(p, "data")}, {kLabelVolume, "data"}, {kLabelProject, "app"},
                               {kLabelVersion, kComposeVersion}}));
  Project e = load("services:\n  a: {image: bb:1, networks: [x], volumes: [v:/v]}\nnetworks:\n  x: {external: true, name: shared}\n"
                   "volumes:\n  v: {external: true}\n");
  EXPECT_TRUE(network_is_external(e, "x"));
  EXPECT_EQ(network_name(e, "x"), "shared");
  EXPECT_TRUE(volume_is_external(e, "v"));
  EXPECT_EQ(volume_name(e, "v"), "v");
}

TEST_F(Orchestrate, CreateBodyOfAService) {
  Project p = load(kApp);
  auto plan = container_create_plan(p, "web", 1, "sha256:abc");
  EXPECT_EQ(plan.name, "app-web-1");
  json b = json::parse(plan.body);
  EXPECT_EQ(b["Image"], "bb:1");
  EXPECT_EQ(b["Cmd"], json({"httpd", "-f", "-p", "8080"}));
  EXPECT_EQ(b["Entrypoint"], json({"/bin/sh", "-c"}));
  EXPECT_EQ(b["Env"], json({"A=1"}));
  EXPECT_EQ(b["User"], "1000:1000");
  EXPECT_EQ(b["WorkingDir"], "/srv");
  EXPECT_EQ(b["Hostname"], "webhost");
  EXPECT_EQ(b["StopTimeout"], 3);
  EXPECT_EQ(b["Labels"]["com.docker.compose.service"], "web");
  EXPECT_EQ(b["ExposedPorts"], json({{"8080/tcp", json::object()}, {"9000/udp", json::object()}, {"7000/tcp", json::object()}}));
  const json& h = b["HostConfig"];
  EXPECT_EQ(h["PortBindings"], json({{"8080/tcp", {{{"HostIp", "127.0.0.1"}, {"HostPort", "8080"}}}},
                                     {"9000/udp", {{{"HostIp", ""}, {"HostPort", ""}}}}}));
  EXPECT_EQ(h["Binds"], json({(dir / "site").string() + ":/site:ro"}));
  EXPECT_EQ(h["Mounts"], json::parse(R"([{"Type":"volume","Source":"app_data","Target":"/data","ReadOnly":false},
                                          {"Type":"tmpfs","Target":"/t","ReadOnly":false,"TmpfsOptions":{"SizeBytes":1024}}])"));
  EXPECT_EQ(h["RestartPolicy"], json({{"Name", "on-failure"}, {"MaximumRetryCount", 3}}));
  EXPECT_EQ(h["Memory"], 64 * 1024 * 1024);
  EXPECT_EQ(h["NanoCpus"], 500000000);
  EXPECT_EQ(h["Init"], true);
  EXPECT_EQ(h["CapAdd"], json({"NET_ADMIN"}));
  EXPECT_EQ(h["ExtraHosts"], json({"gw:10.0.0.1"}));
  // The primary network (by name: app_back before app_default) at create, the other after.
  EXPECT_EQ(h["NetworkMode"], "app_back");
  EXPECT_EQ(b["NetworkingConfig"], json({{"EndpointsConfig", {{"app_back", {{"Aliases", {"web", "www"}}}}}}}));
  ASSERT_EQ(plan.connect_after.size(), 1u);
  EXPECT_EQ(plan.connect_after[0].network, "app_default");
  EXPECT_EQ(json::parse(plan.connect_after[0].endpoint), json({{"Aliases", {"web"}}}));

  json db = json::parse(container_create_plan(p, "db", 1, "i").body);
  EXPECT_EQ(db["Healthcheck"], json({{"Test", {"CMD", "true"}}, {"Interval", 1000000000LL}, {"Retries", 3}}));
  EXPECT_EQ(db["HostConfig"]["Tmpfs"], json({{"/run", ""}}));
  EXPECT_FALSE(db.contains("Cmd"));  // the image's
}

// `build:`: the image's name, the /build query (args, labels with Compose's, target, cache_from,
// flags), the Dockerfile forms; secrets (ids, files, variables) and ssh for hoistd; BuildKit's
// other keys refused.
TEST_F(Orchestrate, BuildPlans) {
  Project p = load(
      "services:\n"
      "  web:\n    build:\n      context: ./src\n      dockerfile: docker/Dockerfile.dev\n"
      "      args: {A: '1', UNSET: null}\n      labels: {own: x}\n      target: final\n"
      "      cache_from: [c:1]\n      network: host\n      extra_hosts: ['a:10.0.0.1', 'b=10.0.0.2']\n"
      "  named: {image: reg/x:2, build: {dockerfile_inline: 'FROM scratch'}}\n"
      "  plain: {image: bb:1}\n");
  EXPECT_EQ(service_image(p, "web"), "app-web");
  EXPECT_EQ(service_image(p, "named"), "reg/x:2");
  EXPECT_TRUE(has_build(p, "web"));
  EXPECT_FALSE(has_build(p, "plain"));
  BuildPlan b = build_plan(p, "web", {true, false});
  EXPECT_EQ(b.image, "app-web");
  EXPECT_EQ(b.context, (dir / "src").string());
  EXPECT_EQ(b.dockerfile, "docker/Dockerfile.dev");
  EXPECT_FALSE(b.has_inline);
  EXPECT_EQ(b.query,
            "&t=app-web&cachefrom=%5B%22c%3A1%22%5D&extrahosts=a%3A10.0.0.1&extrahosts=b%3A10.0.0.2"
            "&networkmode=host&target=final&nocache=1&rm=1"
            "&buildargs=%7B%22A%22%3A%221%22%7D"
            "&labels=%7B%22com.docker.compose.project%22%3A%22app%22%2C%22com.docker.compose.service%22%3A%22web%22%2C"
            "%22com.docker.compose.version%22%3A%222.29.7%22%2C%22own%22%3A%22x%22%7D");
  // The container runs the built image.
  EXPECT_EQ(json::parse(container_create_plan(p, "web", 1, "i").body)["Image"], "app-web");
  BuildPlan n = build_plan(p, "named", {false, true});
  EXPECT_TRUE(n.has_inline);
  EXPECT_EQ(n.dockerfile_inline, "FROM scratch");
  EXPECT_EQ(n.query.substr(0, 18), "&t=reg%2Fx%3A2&pul");
  auto refused = [&](const std::string& build) {
    try {
      build_plan(load("services:\n  a:\n    build: " + build + "\n"), "a");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_EQ(refused("{context: ., cache_to: [type=inline]}"),
            "services.a.build: `cache_to` is not supported yet by hoist compose (it needs BuildKit; hoist builds with "
            "the classic builder (POST /build))");
  EXPECT_EQ(refused("{context: ., secrets: [{source: s, mode: 0400}]}\nsecrets:\n  s: {file: ./s}"),
            "services.a.build.secrets[s]: `mode` is not supported yet by hoist compose (a build secret's uid, gid and "
            "mode are its RUN --mount's options)");
  // secrets: the target's id, else the source's; files absolute, variables named. ssh: the model
  // as Compose v2 prints it ("<id>: <path>"), the plan as --ssh takes it.
  Project k = load(
      "services:\n  a:\n    build:\n      context: .\n      secrets: [f, {source: e, target: tok}]\n"
      "      ssh: {default: null, deploy: /run/agent.sock}\n"
      "secrets:\n  f: {file: ./f.txt}\n  e: {environment: TOKEN}\n");
  BuildPlan kp = build_plan(k, "a");
  ASSERT_EQ(kp.secrets.size(), 2u);
  EXPECT_EQ(kp.secrets[0].id, "f");
  EXPECT_EQ(kp.secrets[0].file, (dir / "f.txt").string());
  EXPECT_EQ(kp.secrets[0].env, "");
  EXPECT_EQ(kp.secrets[1].id, "tok");
  EXPECT_EQ(kp.secrets[1].file, "");
  EXPECT_EQ(kp.secrets[1].env, "TOKEN");
  EXPECT_EQ((*k.model)["services"]["a"]["build"]["ssh"], json::parse(R"(["default", "deploy: /run/agent.sock"])"));
  EXPECT_EQ((*k.model)["services"]["a"]["build"]["secrets"],
            json::parse(R"([{"source": "f"}, {"source": "e", "target": "tok"}])"));
  EXPECT_EQ(kp.ssh, (std::vector<std::string>{"default", "deploy=/run/agent.sock"}));
  Project l = load("services:\n  a: {build: {context: ., ssh: [default, 'x=/a.sock']}}\n");
  EXPECT_EQ((*l.model)["services"]["a"]["build"]["ssh"], json::parse(R"(["default", "x: /a.sock"])"));
  EXPECT_EQ(build_plan(l, "a").ssh, (std::vector<std::string>{"default", "x=/a.sock"}));
  // A relative path is the project directory's, ~ the home directory (as compose-go resolves them).
  Project r = load("services:\n  a: {build: {context: ., ssh: [default, 'k=keys/id_ed25519', 'h=~/agent.sock']}}\n");
  const char* home = std::getenv("HOME");
  EXPECT_EQ(build_plan(r, "a").ssh,
            (std::vector<std::string>{"default", "k=" + (dir / "keys/id_ed25519").string(),
                                      "h=" + std::string(home ? home : "") + "/agent.sock"}));
  EXPECT_EQ(refused("{context: 'https://github.com/x/y.git'}"),
            "services.a.build: `context: https://github.com/x/y.git` is not supported yet by hoist compose (a remote "
            "context: hoist's builder takes a directory)");
  EXPECT_EQ(refused("{context: ., platforms: [linux/amd64, linux/arm64]}"),
            "services.a.build: `platforms` is not supported yet by hoist compose (several platforms need BuildKit)");
}

// run's one-off container: name, labels, no restart, ports only when asked, overrides, aliases.
TEST_F(Orchestrate, RunPlans) {
  Project p = load(
      "services:\n  web:\n    image: bb:1\n    command: [httpd]\n    restart: always\n    ports: ['8080:80']\n"
      "    expose: ['81']\n    environment: {A: '1', B: '2'}\n    cap_drop: [NET_RAW]\n    networks: [n]\n"
      "networks:\n  n: {}\n");
  RunOptions o;
  o.slug = std::string(64, 'a');
  o.command = std::vector<std::string>{"sh"};
  o.env = {"B=3", "C=4"};
  o.user = "1:1";
  o.remove = true;
  o.cap_add = {"NET_RAW"};
  o.volumes = {"./d:/d:ro", "named:/n"};
  CreatePlan plan = run_plan(p, "web", o, "sha256:i");
  EXPECT_EQ(plan.name, "app-web-run-aaaaaaaaaaaa");
  json b = json::parse(plan.body);
  EXPECT_EQ(b["Labels"]["com.docker.compose.oneoff"], "True");
  EXPECT_EQ(b["Labels"]["com.docker.compose.slug"], o.slug);
  EXPECT_EQ(b["Labels"]["com.docker.compose.container-number"], "-1");
  EXPECT_EQ(b["HostConfig"]["RestartPolicy"]["Name"], "no");
  EXPECT_EQ(b["HostConfig"]["AutoRemove"], true);
  EXPECT_EQ(b["HostConfig"]["PortBindings"], json::object());
  EXPECT_EQ(b["ExposedPorts"], json({{"81/tcp", json::object()}}));
  EXPECT_EQ(b["Cmd"], json({"sh"}));
  EXPECT_EQ(b["Env"], json({"A=1", "B=3", "C=4"}));
  EXPECT_EQ(b["User"], "1:1");
  EXPECT_EQ(b["HostConfig"]["CapAdd"], json({"NET_RAW"}));
  EXPECT_EQ(b["HostConfig"]["CapDrop"], json::array());
  EXPECT_EQ(b["OpenStdin"], true);
  EXPECT_EQ(b["HostConfig"]["Binds"], json({dir.string() + "/d:/d:ro", "named:/n"}));
  EXPECT_FALSE(b["NetworkingConfig"]["EndpointsConfig"]["app_n"].contains("Aliases"));

  RunOptions o2;
  o2.slug = std::string(64, 'b');
  o2.name = "mine";
  o2.service_ports = true;
  o2.publish = {"127.0.0.1:9000:90/udp", "91"};
  o2.entrypoint = split_command("sh -c 'x y'");
  o2.use_aliases = true;
  o2.interactive = false;
  b = json::parse(run_plan(p, "web", o2, "i").body);
  EXPECT_EQ(run_plan(p, "web", o2, "i").name, "mine");
  EXPECT_EQ(b["HostConfig"]["PortBindings"],
            json::parse(R"({"80/tcp":[{"HostIp":"","HostPort":"8080"}],"90/udp":[{"HostIp":"127.0.0.1","HostPort":"9000"}],
                           "91/tcp":[{"HostIp":"","HostPort":""}]})"));
  EXPECT_EQ(b["Entrypoint"], json({"sh", "-c", "x y"}));
  EXPECT_EQ(b["Cmd"], json::array());  // an entrypoint without a command drops the service's
  EXPECT_EQ(b["NetworkingConfig"]["EndpointsConfig"]["app_n"]["Aliases"], json({"web"}));
  EXPECT_EQ(b["OpenStdin"], false);
  o2.publish = {"1:2:3:4"};
  EXPECT_THROW(run_plan(p, "web", o2, "i"), Error);
}

TEST_F(Orchestrate, WhatIsNotMappedIsRefused) {
  EXPECT_EQ(refusal("services:\n  a: {image: bb:1, runtime: runc}\n"),
            "services.a: `runtime` is not supported yet by hoist compose");
  EXPECT_EQ(refusal("services:\n  a: {image: bb:1, healthcheck: {test: [CMD, 'true']}}\n"), "(no error)");
  EXPECT_EQ(refusal("services:\n  a: {image: bb:1, x-tool: {k: v}}\n"), "(no error)");
  // Compose's own errors for secrets it cannot give a plain engine.
  EXPECT_EQ(refusal("services:\n  a: {image: bb:1, secrets: [s]}\nsecrets:\n  s: {external: true}\n"),
            "unsupported external secret s");
  EXPECT_EQ(refusal("services:\n  a: {image: bb:1, configs: [c]}\nconfigs:\n  c: {file: ./c, template_driver: x}\n"),
            "Docker Compose does not support configs.*.template_driver");
  Project p = load("services:\n  a: {image: bb:1}\nnetworks:\n  n: {driver: bridge, external: false, enable_ipv6: true}\n");
  EXPECT_EQ(network_create_body(p, "n")["EnableIPv6"], true);
}

TEST_F(Orchestrate, DeployDevicesAndReferences) {
  Project p = load(R"(
services:
  a:
    image: bb:1
    network_mode: service:b
    volumes_from: ['b:ro', 'container:other', c]
    devices: [/dev/fuse, '/dev/null:/dev/n', '/dev/zero:/dev/z:r']
    restart: always
    deploy:
      mode: replicated
      placement: {constraints: [x]}
      labels: {k: v}
      restart_policy: {condition: any, max_attempts: 0, delay: 5s}
      resources:
        limits: {cpus: '0.5', memory: 64m, pids: 10}
        reservations: {cpus: '0.25', memory: 32m, devices: [{capabilities: [gpu], count: all, driver: nvidia}]}
  b: {image: bb:1}
  c: {image: bb:1}
)");
  // The services referred to are dependencies (as compose-go infers them).
  EXPECT_EQ(dependency_conditions(p, "a"),
            (std::map<std::string, std::string>{{"b", "service_started"}, {"c", "service_started"}}));
  auto plan = container_create_plan(p, "a", 1, "i");
  json h = json::parse(plan.body)["HostConfig"];
  EXPECT_EQ(h["NetworkMode"], "service:b");
  EXPECT_EQ(h["RestartPolicy"], json::parse(R"({"Name":"always","MaximumRetryCount":0})"));
  EXPECT_EQ(h["NanoCpus"], 500000000);
  EXPECT_EQ(h["Memory"], 64 << 20);
  EXPECT_EQ(h["PidsLimit"], 10);
  EXPECT_EQ(h["MemoryReservation"], 32 << 20);
  EXPECT_EQ(h["DeviceRequests"], json::parse(R"([{"Driver":"nvidia","Count":-1,"DeviceIDs":[],
                                                  "Capabilities":[["gpu"]],"Options":{}}])"));
  EXPECT_EQ(h["Devices"], json::parse(R"([
    {"PathOnHost":"/dev/fuse","PathInContainer":"/dev/fuse","CgroupPermissions":"rwm"},
    {"PathOnHost":"/dev/null","PathInContainer":"/dev/n","CgroupPermissions":"rwm"},
    {"PathOnHost":"/dev/zero","PathInContainer":"/dev/z","CgroupPermissions":"r"}])"));
  resolve_references(plan, [](const std::string& s) { return s == "b" ? std::string("B1") : std::string("C1"); });
  h = json::parse(plan.body)["HostConfig"];
  EXPECT_EQ(h["NetworkMode"], "container:B1");
  EXPECT_EQ(h["VolumesFrom"], json({"B1:ro", "other", "C1"}));
  auto missing = container_create_plan(p, "a", 1, "i");
  try {
    resolve_references(missing, [](const std::string&) { return std::string(); });
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "cannot share network namespace with service b: container missing");
  }
  // deploy.restart_policy's condition mapped; it wins over `restart`.
  Project q = load("services:\n  a: {image: bb:1, restart: always, deploy: {restart_policy: {condition: none}}}\n");
  EXPECT_EQ(json::parse(container_create_plan(q, "a", 1, "i").body)["HostConfig"]["RestartPolicy"],
            json::parse(R"({"Name":"no","MaximumRetryCount":0})"));
}

TEST_F(Orchestrate, Links) {
  Project p = load("services:\n  web: {image: bb:1, links: ['db:database', cache], external_links: [ext, 'x:y']}\n"
                   "  db: {image: bb:1}\n  cache: {image: bb:1}\n");
  EXPECT_EQ(svc_deps(p), "cache db");
  auto links = service_links(p, "web", 2, [](const std::string& s) {
    return s == "db" ? std::vector<std::string>{"app-db-1"} : std::vector<std::string>{"app-cache-1", "app-cache-2"};
  });
  EXPECT_EQ(links, (std::vector<std::string>{"app-db-1:database", "app-db-1:db-2", "app-db-1:app-db-2",
                                             "app-cache-1:cache", "app-cache-1:cache-2", "app-cache-1:app-cache-2",
                                             "app-cache-2:cache", "app-cache-2:cache-2", "app-cache-2:app-cache-2",
                                             "ext:ext", "x:y"}));
  auto plan = container_create_plan(p, "web", 2, "i");
  set_links(plan, {"a:b"});
  json body = json::parse(plan.body);
  EXPECT_EQ(body["HostConfig"]["Links"], json({"a:b"}));
  EXPECT_EQ(body["NetworkingConfig"]["EndpointsConfig"]["app_default"]["Links"], json({"a:b"}));
}

TEST_F(Orchestrate, SecretsAndConfigsOfEnvironmentAndContentAreCopiedIn) {
  hoist::test::write_file((dir / ".env").string(), "PW=s3cret\n");
  Project p = load(R"(
services:
  a:
    image: bb:1
    secrets: [pw, {source: pw, target: other, uid: '1', gid: '2', mode: 0400}, {source: f, mode: 0400}]
    configs: [c, {source: c, target: etc/c.conf, mode: 0600}, {source: e, target: /e}]
secrets:
  pw: {environment: PW}
  f: {file: ./f}
configs:
  c: {content: "line $${X}"}
  e: {environment: PW}
)");
  auto plan = container_create_plan(p, "a", 1, "i");
  // Only the file-backed one is a mount; its mode is ignored with Compose's warning.
  EXPECT_EQ(json::parse(plan.body)["HostConfig"]["Mounts"],
            json::parse(R"([{"Type":"bind","Source":")" + dir.string() +
                        R"(/f","Target":"/run/secrets/f","ReadOnly":true}])"));
  EXPECT_EQ(plan.warnings,
            std::vector<std::string>{"secrets `uid`, `gid` and `mode` are not supported, they will be ignored"});
  auto f = file_injections(p, "a");
  ASSERT_EQ(f.size(), 5u);
  auto row = [](const FileInjection& i) {
    return i.target + " " + i.content + " " + std::to_string(i.mode) + " " + std::to_string(i.uid) + ":" +
           std::to_string(i.gid) + (i.copy_uid_gid ? " copy" : "");
  };
  EXPECT_EQ(row(f[0]), "/run/secrets/pw s3cret 292 0:0");
  EXPECT_EQ(row(f[1]), "/run/secrets/other s3cret 256 1:2 copy");
  EXPECT_EQ(row(f[2]), "/c line ${X} 292 0:0");
  EXPECT_EQ(row(f[3]), "/etc/c.conf line ${X} 384 0:0");
  EXPECT_EQ(row(f[4]), "/e s3cret 292 0:0");
  // The tar: one ustar header (checksum right), the data padded to 512, two zero blocks.
  std::string tar = injection_tar(f[1], 1700000000);
  ASSERT_EQ(tar.size(), 512u + 512u + 1024u);
  EXPECT_EQ(tar.substr(0, 19), std::string("/run/secrets/other\0", 19));
  EXPECT_EQ(tar.substr(100, 8), std::string("0000400\0", 8));
  EXPECT_EQ(tar.substr(108, 8), std::string("0000001\0", 8));
  EXPECT_EQ(tar.substr(116, 8), std::string("0000002\0", 8));
  EXPECT_EQ(tar.substr(124, 12), std::string("00000000006\0", 12));
  EXPECT_EQ(tar.substr(257, 8), std::string("ustar\0" "00", 8));
  unsigned sum = 0;
  for (std::size_t i = 0; i < 512; ++i) sum += i >= 148 && i < 156 ? ' ' : static_cast<unsigned char>(tar[i]);
  EXPECT_EQ(std::strtoul(tar.substr(148, 6).c_str(), nullptr, 8), sum);
  EXPECT_EQ(tar.substr(512, 6), "s3cret");
  EXPECT_EQ(tar.find_first_not_of('\0', 518), std::string::npos);
  // A variable the project's environment lacks: Compose's error.
  Project q = load("services:\n  a: {image: bb:1, secrets: [s]}\nsecrets:\n  s: {environment: HOIST_NOT_SET_X}\n");
  try {
    file_injections(q, "a");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "environment variable \"HOIST_NOT_SET_X\" required by file \"app_s\" is not set");
  }
}

TEST_F(Orchestrate, FileSecretsAndConfigsAreReadOnlyBinds) {
  Project p = load("services:\n  a:\n    image: bb:1\n    secrets: [s, {source: t, target: pw}]\n"
                   "    configs: [c, {source: d, target: /etc/d.conf}]\n"
                   "secrets:\n  s: {file: ./s}\n  t: {file: ./t}\nconfigs:\n  c: {file: ./c}\n  d: {file: ./d}\n");
  auto d = dir.string();
  EXPECT_EQ(json::parse(container_create_plan(p, "a", 1, "i").body)["HostConfig"]["Mounts"],
            json::parse(R"([{"Type":"bind","Source":")" + d + R"(/c","Target":"/c","ReadOnly":true},
                            {"Type":"bind","Source":")" + d + R"(/d","Target":"/etc/d.conf","ReadOnly":true},
                            {"Type":"bind","Source":")" + d + R"(/s","Target":"/run/secrets/s","ReadOnly":true},
                            {"Type":"bind","Source":")" + d + R"(/t","Target":"/run/secrets/pw","ReadOnly":true}])"));
}

TEST_F(Orchestrate, RecreateInheritsAnonymousVolumes) {
  Project p = load("services:\n  a: {image: bb:1, volumes: [/cache, data:/data, './x:/x']}\nvolumes:\n  data: {}\n");
  auto plan = container_create_plan(p, "a", 1, "i");
  inherit_anonymous_volumes(plan, {{"/cache", "anon1"}, {"/data", "app_data"}, {"/img", "anon2"}, {"/x", "anon3"}});
  EXPECT_EQ(json::parse(plan.body)["HostConfig"]["Mounts"], json::parse(R"([
    {"Type":"volume","Source":"anon1","Target":"/cache","ReadOnly":false},
    {"Type":"volume","Source":"app_data","Target":"/data","ReadOnly":false},
    {"Type":"volume","Source":"anon2","Target":"/img","ReadOnly":false}])"));
}

// A network's or volume's definition in its hash; a container not on the service's networks (by
// id) or volumes (by name) is recreated.
TEST_F(Orchestrate, NetworkAndVolumeHashesAndConvergeOnThem) {
  Project p = load("services:\n  a: {image: bb:1, networks: [n], volumes: [d:/d]}\nnetworks:\n  n: {labels: {v: '1'}}\n"
                   "volumes:\n  d: {}\n");
  Project q = load("services:\n  a: {image: bb:1, networks: [n], volumes: [d:/d]}\nnetworks:\n  n: {labels: {v: '2'}}\n"
                   "volumes:\n  d: {name: other}\n");
  EXPECT_EQ(network_hash(p, "n").size(), 64u);
  EXPECT_NE(network_hash(p, "n"), network_hash(q, "n"));
  EXPECT_NE(volume_hash(p, "d"), volume_hash(q, "d"));
  EXPECT_EQ(p.config_hash("a"), q.config_hash("a"));
  EXPECT_EQ(service_volume_names(q, "a"), std::vector<std::string>{"other"});
  Existing e{"c1", "app-a-1", 1, p.config_hash("a"), "img", "running", {{"app_n", "N1"}}, {"app_d"}};
  ConvergeOptions o;
  o.networks = {{"app_n", "N1"}};
  o.volumes = {"app_d"};
  EXPECT_EQ(converge({e}, 1, p.config_hash("a"), "img", o)[0].kind, Step::Keep);
  o.networks = {{"app_n", "N2"}};
  EXPECT_EQ(converge({e}, 1, p.config_hash("a"), "img", o)[0].kind, Step::Recreate);
  e.networks = {{"app_n", ""}};  // a daemon that lists no id for a stopped container
  e.state = "exited";
  EXPECT_EQ(converge({e}, 1, p.config_hash("a"), "img", o)[0].kind, Step::Start);
  o.networks.clear();
  o.volumes = {"other"};
  EXPECT_EQ(converge({e}, 1, p.config_hash("a"), "img", o)[0].kind, Step::Recreate);
}

// `-p NAME down` without a file: the project from the labels of what the daemon lists.
TEST_F(Orchestrate, ProjectFromResources) {
  json containers = json::parse(R"([
    {"Image":"bb:1","Labels":{"com.docker.compose.project":"p","com.docker.compose.service":"web",
      "com.docker.compose.oneoff":"False","com.docker.compose.depends_on":"db:service_healthy:false"}},
    {"Image":"bb:1","Labels":{"com.docker.compose.project":"p","com.docker.compose.service":"web",
      "com.docker.compose.oneoff":"False"}},
    {"Image":"pg","Labels":{"com.docker.compose.project":"p","com.docker.compose.service":"db",
      "com.docker.compose.oneoff":"False","com.docker.compose.depends_on":""}},
    {"Image":"x","Labels":{"com.docker.compose.project":"p","com.docker.compose.service":"job",
      "com.docker.compose.oneoff":"True"}},
    {"Image":"x","Labels":{"com.docker.compose.project":"other","com.docker.compose.service":"z"}}])");
  json networks = json::parse(R"([{"Name":"p_default","Labels":{"com.docker.compose.project":"p",
    "com.docker.compose.network":"default","k":"v"}}])");
  json volumes = json::parse(R"([{"Name":"p_data","Labels":{"com.docker.compose.project":"p",
    "com.docker.compose.volume":"data"}}])");
  Project p = project_from_resources("p", containers, networks, volumes);
  EXPECT_EQ(p.service_names(), (std::vector<std::string>{"db", "web"}));
  EXPECT_EQ(stop_order(p), (std::vector<std::string>{"web", "db"}));
  EXPECT_EQ(service_image(p, "db"), "pg");
  EXPECT_EQ(network_name(p, "default"), "p_default");
  EXPECT_EQ(volume_name(p, "data"), "p_data");
  EXPECT_FALSE(network_is_external(p, "default"));
  EXPECT_EQ((*p.model)["services"]["web"]["depends_on"]["db"],
            json::parse(R"({"condition":"service_healthy","restart":false,"required":false})"));
}

TEST_F(Orchestrate, ConvergeKeepsStartsRecreatesCreatesRemoves) {
  using K = Step::Kind;
  auto kinds = [](const std::vector<Step>& s) {
    std::vector<std::pair<K, int>> v;
    for (const auto& x : s) v.emplace_back(x.kind, x.number);
    return v;
  };
  std::vector<Existing> ex = {{"id2", "p-s-2", 2, "h", "img", "exited"}, {"id1", "p-s-1", 1, "h", "img", "running"}};
  // Nothing changed: the running one kept, the stopped one started.
  EXPECT_EQ(kinds(converge(ex, 2, "h", "img")), (std::vector<std::pair<K, int>>{{K::Keep, 1}, {K::Start, 2}}));
  // Scale up: new numbers after the highest.
  EXPECT_EQ(kinds(converge(ex, 3, "h", "img")),
            (std::vector<std::pair<K, int>>{{K::Keep, 1}, {K::Start, 2}, {K::Create, 3}}));
  // Scale down: the highest go.
  EXPECT_EQ(kinds(converge(ex, 1, "h", "img")), (std::vector<std::pair<K, int>>{{K::Keep, 1}, {K::Remove, 2}}));
  // Config or image changed: recreated (unless --no-recreate); --force-recreate always.
  EXPECT_EQ(kinds(converge(ex, 2, "h2", "img")), (std::vector<std::pair<K, int>>{{K::Recreate, 1}, {K::Recreate, 2}}));
  EXPECT_EQ(kinds(converge(ex, 2, "h", "img2")), (std::vector<std::pair<K, int>>{{K::Recreate, 1}, {K::Recreate, 2}}));
  EXPECT_EQ(kinds(converge(ex, 2, "h2", "img", {false, true})),
            (std::vector<std::pair<K, int>>{{K::Keep, 1}, {K::Start, 2}}));
  EXPECT_EQ(kinds(converge(ex, 1, "h", "img", {true, false})),
            (std::vector<std::pair<K, int>>{{K::Recreate, 1}, {K::Remove, 2}}));
  // None yet.
  EXPECT_EQ(kinds(converge({}, 2, "h", "img")), (std::vector<std::pair<K, int>>{{K::Create, 1}, {K::Create, 2}}));
  EXPECT_EQ(converge(ex, 2, "h", "img")[0].id, "id1");
}

}  // namespace
}  // namespace hoist::compose
