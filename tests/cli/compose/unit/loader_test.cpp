#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli/compose/project.h"
#include "cli/compose/yaml.h"
#include "common/error.h"
#include "test_files.h"

namespace hoist::compose {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

class Compose : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/hoist-compose-test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir = fs::path(tmpl) / "My_App";
    fs::create_directories(dir);
  }
  void TearDown() override { fs::remove_all(dir.parent_path()); }
  void write(const std::string& name, const std::string& text) { hoist::test::write_file((dir / name).string(), text); }
  Project load(std::vector<std::string> files = {}, LoadOptions o = {}) {
    o.files = std::move(files);
    if (o.cwd.empty()) o.cwd = dir.string();
    return load_project(o);
  }
  std::string error(std::vector<std::string> files = {}, LoadOptions o = {}) {
    try {
      load(std::move(files), std::move(o));
    } catch (const Error& e) {
      return e.what();
    }
    return "(no error)";
  }
  const json& svc(const Project& p, const std::string& name) { return (*p.model)["services"][name]; }
  fs::path dir;
};

TEST_F(Compose, DiscoveryUpwardOverrideAndDefaults) {
  write("compose.yaml", "services:\n  web:\n    image: nginx\n    ports: ['8080:80']\n");
  write("compose.override.yaml", "services:\n  web:\n    environment: [DEBUG=1]\n");
  fs::create_directories(dir / "sub/deeper");
  LoadOptions o;
  o.cwd = (dir / "sub/deeper").string();
  Project p = load({}, o);
  EXPECT_EQ(p.name, "my_app");  // the directory's name, normalised
  EXPECT_EQ(p.working_dir, dir.string());
  ASSERT_EQ(p.config_files.size(), 2u);
  EXPECT_EQ(p.config_files[1], (dir / "compose.override.yaml").string());
  EXPECT_EQ(svc(p, "web")["environment"]["DEBUG"], "1");
  EXPECT_EQ(svc(p, "web")["networks"], json({{"default", nullptr}}));
  EXPECT_EQ((*p.model)["networks"]["default"]["name"], "my_app_default");
  EXPECT_EQ(svc(p, "web")["ports"][0],
            json({{"mode", "ingress"}, {"target", 80}, {"published", "8080"}, {"protocol", "tcp"}}));
}

// YAML 1.1's octal (0440), as go-yaml v3 reads it: a secret's mode; a leading 0 with an 8 or 9 is
// a float; 0o is YAML 1.2's.
TEST_F(Compose, LeadingZeroIntegersAreOctal) {
  EXPECT_EQ(parse_yaml("[0440, 0o17, 017, -010, 0, 10, 09, 0x1f]", "f"), json::parse("[288, 15, 15, -8, 0, 10, 9.0, 31]"));
  write("compose.yaml", "services:\n  a: {image: x, secrets: [{source: s, mode: 0440}]}\nsecrets:\n  s: {file: ./s}\n");
  EXPECT_EQ(svc(load(), "a")["secrets"][0]["mode"], 288);
}

// network_mode/ipc/pid `service:`, volumes_from and links are dependencies (compose-go's
// inferImplicitDependencies).
TEST_F(Compose, ImplicitDependencies) {
  write("compose.yaml",
        "services:\n  a: {image: x, network_mode: 'service:b', volumes_from: ['c:ro', 'container:z'], links: [d]}\n"
        "  b: {image: x}\n  c: {image: x}\n  d: {image: x, pid: 'service:b'}\n");
  Project p = load();
  json dep = {{"condition", "service_started"}, {"restart", true}, {"required", true}};
  EXPECT_EQ(svc(p, "a")["depends_on"], json({{"b", dep}, {"c", dep}, {"d", dep}}));
  EXPECT_EQ(svc(p, "d")["depends_on"], json({{"b", dep}}));
  EXPECT_EQ(p.start_order(), (std::vector<std::string>{"b", "c", "d", "a"}));
  write("compose.yaml", "services:\n  a: {image: x, volumes_from: [nope]}\n");
  EXPECT_EQ(error(), "service \"a\" depends on undefined service \"nope\": invalid compose project");
}

TEST_F(Compose, NoFile) {
  EXPECT_EQ(error(), "no configuration file provided: not found");
}

TEST_F(Compose, ProjectNamePrecedence) {
  write("compose.yaml", "name: From-File\nservices:\n  a:\n    image: x\n");
  EXPECT_EQ(load().name, "from-file");
  LoadOptions o;
  o.environ["COMPOSE_PROJECT_NAME"] = "fromenv";
  EXPECT_EQ(load({}, o).name, "fromenv");
  o.project_name = "flag";
  EXPECT_EQ(load({}, o).name, "flag");
  o.project_name = "Bad Name";
  EXPECT_EQ(error({}, o),
            "invalid project name \"Bad Name\": must consist only of lowercase alphanumeric characters, hyphens, "
            "and underscores as well as start with a letter or number");
  EXPECT_EQ(normalize_project_name("__My.App-1"), "myapp-1");
}

TEST_F(Compose, InterpolationShellWinsOverDotEnv) {
  write(".env", "TAG=fromdotenv\nPORT=8000\n");
  write("compose.yaml",
        "services:\n  web:\n    image: \"nginx:${TAG}\"\n    ports: ['${PORT}:80']\n"
        "    command: echo $$HOME ${MSG:-hi there}\n    labels:\n      price: \"$$5\"\n");
  LoadOptions o;
  o.environ["TAG"] = "fromshell";
  Project p = load({}, o);
  EXPECT_EQ(svc(p, "web")["image"], "nginx:fromshell");
  EXPECT_EQ(svc(p, "web")["ports"][0]["published"], "8000");
  EXPECT_EQ(svc(p, "web")["command"], json({"echo", "$HOME", "hi", "there"}));
  EXPECT_EQ(svc(p, "web")["labels"]["price"], "$5");
  // --env-file replaces .env
  write("other.env", "TAG=other\nPORT=9000\n");
  LoadOptions o2;
  o2.env_files = {"other.env"};
  EXPECT_EQ(svc(load({}, o2), "web")["image"], "nginx:other");
}

TEST_F(Compose, InterpolationErrors) {
  write("compose.yaml", "services:\n  web:\n    image: \"${IMG:?set IMG}\"\n");
  EXPECT_EQ(error(), "error while interpolating services.web.image: required variable IMG is missing a value: set IMG");
  write("compose.yaml", "services:\n  web:\n    image: \"${}\"\n");
  EXPECT_EQ(error(), "invalid interpolation format for services.web.image.\nYou may need to escape any $ with another $.\n${}");
}

TEST_F(Compose, UnsetVariableWarns) {
  write("compose.yaml", "services:\n  web:\n    image: \"x${NOPE}\"\n");
  Project p = load();
  EXPECT_EQ(svc(p, "web")["image"], "x");
  ASSERT_EQ(p.warnings.size(), 1u);
  EXPECT_EQ(p.warnings[0], "The \"NOPE\" variable is not set. Defaulting to a blank string.");
}

TEST_F(Compose, AnchorsAliasesAndMergeKeys) {
  write("compose.yaml",
        "x-common: &common\n  image: busybox\n  environment: &env\n    A: '1'\n    B: '2'\n  restart: always\n"
        "x-more: &more\n  restart: 'no'\n  init: true\n"
        "services:\n"
        "  a:\n    <<: *common\n    restart: on-failure\n"
        "  b:\n    <<: [*common, *more]\n    environment:\n      <<: *env\n      B: three\n");
  Project p = load();
  EXPECT_EQ(svc(p, "a")["image"], "busybox");
  EXPECT_EQ(svc(p, "a")["restart"], "on-failure");  // the map's own key wins
  EXPECT_EQ(svc(p, "b")["restart"], "always");      // the first merged map wins
  EXPECT_EQ(svc(p, "b")["init"], true);
  EXPECT_EQ(svc(p, "b")["environment"], json({{"A", "1"}, {"B", "three"}}));
  EXPECT_FALSE(p.model->contains("x-common") && (*p.model)["x-common"].contains("<<"));
}

TEST_F(Compose, YamlErrors) {
  write("compose.yaml", "services:\n  web:\n    image: a\n    image: b\n");
  EXPECT_NE(error().find("failed to parse " + (dir / "compose.yaml").string() + ": yaml: line 4: mapping key \"image\" already defined"),
            std::string::npos)
      << error();
  EXPECT_EQ(std::string([&] {
              try {
                parse_yaml("a: 1\nb: \"\xff\"\n", "f.yaml");
              } catch (const Error& e) {
                return std::string(e.what());
              }
              return std::string();
            }()),
            "failed to parse f.yaml: yaml: line 2: invalid UTF-8");  // found by the fuzzer
  EXPECT_THROW(parse_yaml("a: \x10\n", "f.yaml"), Error);  // control characters, as Go's yaml refuses them
  EXPECT_EQ(parse_yaml("a: \"\\x10\"\n", "f.yaml")["a"], "\x10");  // escaped they are fine
  write("compose.yaml", "services: [\n");
  EXPECT_NE(error().find("failed to parse"), std::string::npos);
  // A billion laughs is refused, not expanded.
  std::string bomb = "a: &a [x,x,x,x,x,x,x,x,x,x]\n";
  for (char c = 'b'; c <= 'k'; ++c)
    bomb += std::string(1, c) + ": &" + c + " [*" + char(c - 1) + ",*" + char(c - 1) + ",*" + char(c - 1) + ",*" +
            char(c - 1) + ",*" + char(c - 1) + ",*" + char(c - 1) + ",*" + char(c - 1) + ",*" + char(c - 1) + ",*" +
            char(c - 1) + ",*" + char(c - 1) + "]\n";
  EXPECT_THROW(parse_yaml(bomb, "bomb.yaml"), Error);
  // Few nodes, but a long string aliased many times: bounded by bytes too.
  std::string wide = "a: &a " + std::string(1 << 20, 'x') + "\nb: [";
  for (int i = 0; i < 100; ++i) wide += "*a,";
  wide += "*a]\n";
  EXPECT_THROW(parse_yaml(wide, "wide.yaml"), Error);
}

TEST_F(Compose, UnknownKeysAreErrors) {
  write("compose.yaml", "services:\n  web:\n    image: x\n    imagee: y\n");
  EXPECT_EQ(error(), "validating " + (dir / "compose.yaml").string() + ": services.web additional properties 'imagee' not allowed");
  write("compose.yaml", "services:\n  web:\n    image: x\n    ports:\n      - target: 80\n        pubished: 8080\n");
  EXPECT_EQ(error(), "validating " + (dir / "compose.yaml").string() + ": services.web.ports.0 additional properties 'pubished' not allowed");
  write("compose.yaml", "services:\n  web:\n    image: x\n    x-mine: ok\nx-top: 1\nfoo: 2\n");
  EXPECT_EQ(error(), "validating " + (dir / "compose.yaml").string() + ": additional properties 'foo' not allowed");
}

TEST_F(Compose, MergeRules) {
  write("a.yaml",
        "services:\n  web:\n    image: x\n    command: [echo, a]\n    ports: ['80:80', '443:443']\n"
        "    volumes: ['data:/data', './src:/src']\n    dns: [1.1.1.1]\n    environment: {A: '1', B: '2'}\n"
        "    healthcheck:\n      test: [CMD, a]\n      interval: 10s\n    labels: [keep=1]\n"
        "volumes:\n  data: {}\n");
  write("b.yaml",
        "services:\n  web:\n    command: [echo, b]\n    ports: ['80:80', '8443:443']\n"
        "    volumes: [{type: bind, source: ./other, target: /src, read_only: true}]\n    dns: [8.8.8.8]\n"
        "    environment: [B=two]\n    healthcheck:\n      test: [CMD, b]\n    labels: !reset []\n");
  Project p = load({"a.yaml", "b.yaml"});
  const json& w = svc(p, "web");
  EXPECT_EQ(w["command"], json({"echo", "b"}));
  EXPECT_EQ(w["ports"].size(), 3u);  // 80:80 once, 443:443 and 8443:443
  ASSERT_EQ(w["volumes"].size(), 2u);
  EXPECT_EQ(w["volumes"][1]["source"], (dir / "other").string());
  EXPECT_EQ(w["volumes"][1]["read_only"], true);
  EXPECT_EQ(w["dns"], json({"1.1.1.1", "8.8.8.8"}));
  EXPECT_EQ(w["environment"], json({{"A", "1"}, {"B", "two"}}));
  EXPECT_EQ(w["healthcheck"]["test"], json({"CMD", "b"}));
  EXPECT_EQ(w["healthcheck"]["interval"], "10s");
  EXPECT_FALSE(w.contains("labels"));
}

TEST_F(Compose, OverrideTag) {
  write("a.yaml", "services:\n  web:\n    image: x\n    ports: ['80:80']\n");
  write("b.yaml", "services:\n  web:\n    ports: !override ['81:80']\n");
  Project p = load({"a.yaml", "b.yaml"});
  ASSERT_EQ(svc(p, "web")["ports"].size(), 1u);
  EXPECT_EQ(svc(p, "web")["ports"][0]["published"], "81");
}

TEST_F(Compose, ShortAndLongSyntax) {
  write("compose.yaml",
        "services:\n"
        "  web:\n"
        "    build: ./app\n"
        "    ports: ['127.0.0.1:8000-8001:80-81/udp', 9000, '3000']\n"
        "    volumes: ['./conf:/etc/conf:ro', 'data:/var/data:nocopy', '/anon']\n"
        "    networks: [front]\n"
        "    depends_on: [db]\n"
        "    secrets: [token]\n"
        "    env_file: web.env\n"
        "    environment: {FROM_FILE: overridden, FROM_SHELL: null}\n"
        "    healthcheck:\n      test: curl -f http://localhost\n      interval: 1m30s\n      timeout: 500ms\n      retries: 3\n"
        "    stop_grace_period: 90s\n"
        "    deploy:\n      replicas: 2\n      resources:\n        limits: {cpus: '0.5', memory: 512M}\n"
        "    ulimits:\n      nproc: 65535\n      nofile: {soft: 20000, hard: 40000}\n"
        "    logging:\n      driver: json-file\n      options: {max-size: 10m}\n"
        "    tmpfs: /run\n"
        "    extra_hosts: ['somehost:162.242.195.82']\n"
        "    privileged: 'true'\n"
        "  db:\n"
        "    image: postgres\n"
        "    depends_on:\n      cache: {condition: service_healthy, restart: true}\n"
        "  cache:\n    image: redis\n"
        "networks:\n  front:\n    external: true\n"
        "volumes:\n  data:\n"
        "secrets:\n  token:\n    file: ./token.txt\n");
  write("web.env", "FROM_FILE=file\nONLY_FILE=yes\n");
  LoadOptions o;
  o.environ["FROM_SHELL"] = "shell";
  Project p = load({}, o);
  const json& w = svc(p, "web");
  EXPECT_EQ(w["build"], json({{"context", (dir / "app").string()}, {"dockerfile", "Dockerfile"}}));
  ASSERT_EQ(w["ports"].size(), 4u);
  EXPECT_EQ(w["ports"][1], json({{"mode", "ingress"}, {"host_ip", "127.0.0.1"}, {"target", 81}, {"published", "8001"},
                                 {"protocol", "udp"}}));
  EXPECT_EQ(w["ports"][2], json({{"mode", "ingress"}, {"target", 9000}, {"protocol", "tcp"}}));
  EXPECT_EQ(w["volumes"][0], json({{"type", "bind"}, {"source", (dir / "conf").string()}, {"target", "/etc/conf"},
                                   {"read_only", true}, {"bind", {{"create_host_path", true}}}}));
  EXPECT_EQ(w["volumes"][1], json({{"type", "volume"}, {"source", "data"}, {"target", "/var/data"},
                                   {"volume", {{"nocopy", true}}}}));
  EXPECT_EQ(w["volumes"][2], json({{"type", "volume"}, {"target", "/anon"}, {"volume", json::object()}}));
  EXPECT_EQ(w["networks"], json({{"front", nullptr}}));
  EXPECT_EQ(w["depends_on"]["db"], json({{"condition", "service_started"}, {"required", true}}));
  EXPECT_EQ(svc(p, "db")["depends_on"]["cache"],
            json({{"condition", "service_healthy"}, {"restart", true}, {"required", true}}));
  EXPECT_EQ(w["secrets"], json::array({{{"source", "token"}}}));
  EXPECT_EQ(w["environment"],
            json({{"FROM_FILE", "overridden"}, {"ONLY_FILE", "yes"}, {"FROM_SHELL", "shell"}}));
  EXPECT_FALSE(w.contains("env_file"));
  EXPECT_EQ(w["healthcheck"]["test"], json({"CMD-SHELL", "curl -f http://localhost"}));
  EXPECT_EQ(w["healthcheck"]["interval"], "1m30s");
  EXPECT_EQ(w["healthcheck"]["timeout"], "500ms");
  EXPECT_EQ(w["stop_grace_period"], "1m30s");
  EXPECT_EQ(w["deploy"]["replicas"], 2);
  EXPECT_EQ(w["deploy"]["resources"]["limits"]["cpus"], 0.5);
  EXPECT_EQ(w["deploy"]["resources"]["limits"]["memory"], 512 * 1024 * 1024);
  EXPECT_EQ(w["ulimits"], json({{"nproc", 65535}, {"nofile", {{"soft", 20000}, {"hard", 40000}}}}));
  EXPECT_EQ(w["logging"]["options"]["max-size"], "10m");
  EXPECT_EQ(w["tmpfs"], json({"/run"}));
  EXPECT_EQ(w["extra_hosts"], json({"somehost=162.242.195.82"}));
  EXPECT_EQ(w["privileged"], true);
  EXPECT_EQ((*p.model)["networks"]["front"], json({{"name", "front"}, {"external", true}}));
  EXPECT_EQ((*p.model)["volumes"]["data"]["name"], "my_app_data");
  EXPECT_EQ((*p.model)["secrets"]["token"]["file"], (dir / "token.txt").string());
  EXPECT_EQ(p.start_order(), (std::vector<std::string>{"cache", "db", "web"}));
}

// develop.watch[]: a string include a list of one, initial_sync a boolean, the exec hook's shell
// form split into words and its environment a mapping.
TEST_F(Compose, DevelopWatchShortSyntax) {
  write("compose.yaml",
        "services:\n  web:\n    image: x\n    develop:\n      watch:\n"
        "        - {action: sync+exec, path: ./src, target: /src, include: '*.conf', initial_sync: 'true',\n"
        "           exec: {command: \"sh -c 'kill -HUP 1'\", environment: [A=1, B], privileged: 'yes'}}\n");
  Project p = load();
  const json& t = svc(p, "web")["develop"]["watch"][0];
  EXPECT_EQ(t["include"], json({"*.conf"}));
  EXPECT_EQ(t["initial_sync"], true);
  EXPECT_EQ(t["exec"]["command"], json({"sh", "-c", "kill -HUP 1"}));
  EXPECT_EQ(t["exec"]["environment"], json({{"A", "1"}, {"B", nullptr}}));
  EXPECT_EQ(t["exec"]["privileged"], true);
}

TEST_F(Compose, YamlOutputQuotesWhatWouldReadBackOtherwise) {
  write("compose.yaml",
        "services:\n  web:\n    image: x\n    labels:\n      a: 'yes'\n      b: '1.5'\n      c: ''\n      d: 'x: y'\n"
        "      e: '- dash'\n      f: \"two\\nlines\"\n      g: '127.0.0.1'\n      h: '#hash'\n      i: null\n"
        "      j: '0x1F'\n      k: '~'\n      l: ' lead'\n      m: '*star'\n      'n: k': v\n    command: [\"-c\", \"--rm\", \"-1\"]\n");
  Project p = load();
  std::string y = p.to_yaml();
  EXPECT_NE(y.find("g: 127.0.0.1\n"), std::string::npos) << y;
  EXPECT_NE(y.find("a: \"yes\"\n"), std::string::npos) << y;
  EXPECT_EQ(parse_yaml(y, "config.yaml"), *p.model) << y;
  // A key longer than an implicit key may be (1024 characters; found by the fuzzer).
  write("compose.yaml", "services:\n  web:\n    image: x\n    labels:\n      ? " + std::string(1500, 'k') + "\n      : v\n");
  Project q = load();
  EXPECT_EQ(parse_yaml(q.to_yaml(), "config.yaml"), *q.model);
}

TEST_F(Compose, EnvFileFormatsAndLabelFiles) {
  write("raw.env", "A=\"quoted $X\"\n# comment\nB=plain\n");
  write("labels.txt", "com.example.a=1\ncom.example.b=file\n");
  write("compose.yaml",
        "services:\n  web:\n    image: x\n    env_file: [{path: raw.env, format: raw}, {path: missing.env, required: false}]\n"
        "    label_file: labels.txt\n    labels: {com.example.b: own}\n");
  Project p = load();
  EXPECT_EQ(svc(p, "web")["environment"], json({{"A", "\"quoted $X\""}, {"B", "plain"}}));
  EXPECT_EQ(svc(p, "web")["labels"], json({{"com.example.a", "1"}, {"com.example.b", "own"}}));
  EXPECT_FALSE(svc(p, "web").contains("label_file"));
  write("compose.yaml", "services:\n  web:\n    image: x\n    env_file: missing.env\n");
  EXPECT_EQ(error(), "env file " + (dir / "missing.env").string() + " not found: stat " + (dir / "missing.env").string() +
                         ": no such file or directory");
  write("compose.yaml", "services:\n  \"we b\":\n    image: x\n");
  EXPECT_EQ(error(), "validating " + (dir / "compose.yaml").string() + ": services additional properties 'we b' not allowed");
}

TEST_F(Compose, ValidationErrors) {
  auto with = [&](const std::string& services, const std::string& rest = "") {
    write("compose.yaml", "services:\n" + services + rest);
    return error();
  };
  EXPECT_EQ(with("  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: x\n    depends_on: [c]\n  c:\n    image: x\n    depends_on: [a]\n"),
            "dependency cycle detected: a -> b -> c -> a");
  EXPECT_EQ(with("  a:\n    image: x\n    networks: [nope]\n"),
            "service \"a\" refers to undefined network nope: invalid compose project");
  EXPECT_EQ(with("  a:\n    image: x\n    volumes: ['nope:/x']\n"),
            "service \"a\" refers to undefined volume nope: invalid compose project");
  EXPECT_EQ(with("  a:\n    image: x\n    secrets: [nope]\n"),
            "service \"a\" refers to undefined secret nope: invalid compose project");
  EXPECT_EQ(with("  a:\n    image: x\n    depends_on: [b]\n"),
            "service \"a\" depends on undefined service \"b\": invalid compose project");
  EXPECT_EQ(with("  a:\n    command: x\n"),
            "service \"a\" has neither an image nor a build context specified: invalid compose project");
  EXPECT_EQ(with("  a:\n    image: x\n    ports: ['80:99999']\n"), "services.a.ports: invalid containerPort: 99999");
  EXPECT_EQ(with("  a:\n    image: x\n    ports: ['x:80']\n"), "services.a.ports: invalid hostPort: x");
  EXPECT_EQ(with("  a:\n    image: x\n    ports: ['80/icmp']\n"), "services.a.ports: invalid proto: icmp");
  EXPECT_EQ(with("  a:\n    image: x\n    healthcheck: {interval: soon}\n"),
            "services.a.healthcheck.interval: time: invalid duration \"soon\"");
  EXPECT_EQ(with("  a:\n    image: x\n    scale: 2\n    deploy: {replicas: 3}\n"),
            "services.a: can't set distinct values on 'scale' and 'deploy.replicas': invalid compose project");
}

TEST_F(Compose, Profiles) {
  write("compose.yaml",
        "services:\n  app:\n    image: x\n  debug:\n    image: x\n    profiles: [dev]\n"
        "  tools:\n    image: x\n    profiles: [ops, dev]\n");
  EXPECT_EQ(load().service_names(), (std::vector<std::string>{"app"}));
  LoadOptions o;
  o.profiles = {"ops"};
  EXPECT_EQ(load({}, o).service_names(), (std::vector<std::string>{"app", "tools"}));
  // A dependency on a service left out: an error when required, dropped when not.
  write("compose.yaml",
        "services:\n  app:\n    image: x\n    depends_on:\n      debug: {required: false}\n"
        "  web:\n    image: x\n    profiles: [web]\n    depends_on: [debug]\n"
        "  debug:\n    image: x\n    profiles: [dev]\n  tools:\n    image: x\n    profiles: [ops, dev]\n");
  EXPECT_FALSE(svc(load(), "app").contains("depends_on"));
  LoadOptions w;
  w.profiles = {"web"};
  EXPECT_EQ(error({}, w), "service \"web\" depends on undefined service \"debug\": invalid compose project");
  LoadOptions e;
  e.environ["COMPOSE_PROFILES"] = "dev";
  Project p = load({}, e);
  EXPECT_EQ(p.service_names(), (std::vector<std::string>{"app", "debug", "tools"}));
}

TEST_F(Compose, Extends) {
  write("common.yaml", "services:\n  base:\n    image: base\n    environment: [A=1]\n    volumes: ['./data:/data']\n");
  write("lib/more.yaml", "services:\n  other:\n    image: other\n    volumes: ['./x:/x']\n");
  write("compose.yaml",
        "services:\n"
        "  web:\n    extends: {file: common.yaml, service: base}\n    environment: [B=2]\n"
        "  local:\n    extends: web\n    image: local\n"
        "  far:\n    extends: {file: lib/more.yaml, service: other}\n");
  Project p = load();
  EXPECT_EQ(svc(p, "web")["image"], "base");
  EXPECT_EQ(svc(p, "web")["environment"], json({{"A", "1"}, {"B", "2"}}));
  EXPECT_EQ(svc(p, "local")["image"], "local");
  EXPECT_EQ(svc(p, "local")["environment"], json({{"A", "1"}, {"B", "2"}}));
  EXPECT_FALSE(svc(p, "local").contains("extends"));
  EXPECT_EQ(svc(p, "far")["volumes"][0]["source"], (dir / "lib/x").string());  // relative to its own file
  write("compose.yaml", "services:\n  a:\n    extends: b\n  b:\n    extends: a\n");
  EXPECT_NE(error().find("Circular reference:"), std::string::npos);
  write("compose.yaml", "services:\n  a:\n    extends: nope\n");
  EXPECT_EQ(error(), "cannot extend service \"a\" in " + (dir / "compose.yaml").string() + ": service \"nope\" not found");
}

TEST_F(Compose, Include) {
  write("db/compose.yaml", "services:\n  db:\n    image: \"postgres:${PGTAG}\"\n    volumes: ['./init:/init']\n");
  write("db/.env", "PGTAG=16\n");
  write("compose.yaml", "include:\n  - db/compose.yaml\nservices:\n  web:\n    image: x\n    depends_on: [db]\n");
  Project p = load();
  EXPECT_EQ(svc(p, "db")["image"], "postgres:16");
  EXPECT_EQ(svc(p, "db")["volumes"][0]["source"], (dir / "db/init").string());
  write("db/compose.yaml", "include: [../compose.yaml]\nservices:\n  db:\n    image: x\n");
  EXPECT_NE(error().find("include cycle detected"), std::string::npos) << error();
}

TEST_F(Compose, ConfigOutputAndHash) {
  write("compose.yaml",
        "services:\n  web:\n    image: nginx\n    ports: ['8080:80']\n    environment: {A: 'true'}\n"
        "    volumes: ['data:/data']\n    depends_on: [db]\n  db:\n    image: redis\nvolumes:\n  data: {}\n");
  Project p = load();
  std::string y = p.to_yaml();
  EXPECT_EQ(y,
            "name: my_app\n"
            "services:\n"
            "  db:\n"
            "    image: redis\n"
            "    networks:\n"
            "      default: null\n"
            "  web:\n"
            "    depends_on:\n"
            "      db:\n"
            "        condition: service_started\n"
            "        required: true\n"
            "    environment:\n"
            "      A: \"true\"\n"
            "    image: nginx\n"
            "    networks:\n"
            "      default: null\n"
            "    ports:\n"
            "      - mode: ingress\n"
            "        target: 80\n"
            "        published: \"8080\"\n"
            "        protocol: tcp\n"
            "    volumes:\n"
            "      - type: volume\n"
            "        source: data\n"
            "        target: /data\n"
            "        volume: {}\n"
            "networks:\n"
            "  default:\n"
            "    name: my_app_default\n"
            "volumes:\n"
            "  data:\n"
            "    name: my_app_data\n");
  EXPECT_EQ(parse_yaml(y, "config.yaml"), *p.model);  // the output reads back as the model
  json j = json::parse(p.to_json());
  EXPECT_EQ(j, *p.model);
  EXPECT_EQ(j["services"]["web"]["ports"][0]["published"], "8080");
  EXPECT_EQ(p.volume_names(), (std::vector<std::string>{"data"}));
  // The hash: 64 hex digits, unchanged by scale or depends_on, changed by the image.
  std::string h = p.config_hash("web");
  EXPECT_EQ(h.size(), 64u);
  write("compose.yaml",
        "services:\n  web:\n    image: nginx\n    ports: ['8080:80']\n    environment: {A: 'true'}\n"
        "    volumes: ['data:/data']\n    scale: 3\n  db:\n    image: redis\nvolumes:\n  data: {}\n");
  EXPECT_EQ(load().config_hash("web"), h);
  write("compose.yaml",
        "services:\n  web:\n    image: nginx:2\n    ports: ['8080:80']\n    environment: {A: 'true'}\n"
        "    volumes: ['data:/data']\n  db:\n    image: redis\nvolumes:\n  data: {}\n");
  EXPECT_NE(load().config_hash("web"), h);
}

}  // namespace
}  // namespace hoist::compose
