// Dockerfile builds through hoistd's /build (the classic builder's API), with a private dockerd
// 20.10 doing the same builds as the oracle: docker's own CLI (DOCKER_BUILDKIT=0, the legacy
// builder) against each daemon, the same context. Compared: the build's output (ids masked), the
// image's config and history, its file tree (export of a container made from it), the cache (a
// second build all cached; a changed file invalidates the steps from its COPY on), a failing RUN
// (its message, its container kept unless --force-rm, no image left), COPY through a context
// symlink to "/" (the context's files, never the host's), and the raw JSON stream of POST /build.
// BuildKit's RUN extras are compared with BuildKit itself (docker 20.10's CLI with
// DOCKER_BUILDKIT=1 against the private dockerd, whose built-in frontend needs no pull): RUN
// --mount of each type, secrets (hoist's CLI sends them in X-Hoist-Build-Secrets, docs/api.md);
// what that frontend cannot parse (heredocs, secret env=, tmpfs size=) against BuildKit's
// documented behaviour.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fcntl.h>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <random>
#include <sstream>
#include <thread>
#include <string>
#include <vector>

#include "build_test_support.h"
#include "common/strings.h"
#include "docker_harness.h"
#include "hoistd_harness.h"
#include "tar_listing.h"
#include "registry_harness.h"
#include "ssh_agent.h"

using hoist::trim;
using hoist::test::CmdResult;
using hoist::test::masked;
using hoist::test::put;
using hoist::test::write_tar;
using hoist::test::run_cmd;
using nlohmann::json;

namespace {

// Each entry of a tar (support/tar_listing.h), sorted.
std::vector<std::string> tar_listing(const std::string& tar) {
  auto out = hoist::test::tar_listing(tar);
  std::sort(out.begin(), out.end());
  return out;
}

// `s` from the first `marker` on ("" when it has none).
std::string from(const std::string& s, const std::string& marker) {
  std::size_t at = s.find(marker);
  return at == std::string::npos ? "" : s.substr(at);
}

// A file listing without the empty directories BuildKit 0.8 (dockerd 20.10's) leaves where it made
// a RUN mount's file target (/run/secrets, /run/buildkit): later BuildKit removes them with the
// stubs (its MountStubsCleaner), as hoistd does.
std::vector<std::string> without_mount_dirs(std::vector<std::string> v, const std::vector<std::string>& dirs) {
  for (const std::string& d : dirs) v.erase(std::remove(v.begin(), v.end(), d + " d 755 0:0"), v.end());
  return v;
}

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (auto& l : v) s += l + "\n";
  return s;
}

// The context every comparison builds: files, a directory, a symlink to "/" and a file at
// etc/passwd of the context's own.
void make_context(const std::string& dir) {
  put(dir + "/a.txt", "alpha\n");
  put(dir + "/dir/b.txt", "beta\n", 0600);
  put(dir + "/dir/sub/c.sh", "#!/bin/sh\necho c\n", 0755);
  put(dir + "/etc/passwd", "fake\n");
  ::symlink("/", (dir + "/root").c_str());
  put(dir + "/Dockerfile",
      "FROM bb:1\n"
      "LABEL org.test=one\n"
      "ENV A=1 B=\"two words\"\n"
      "WORKDIR /app\n"
      "COPY a.txt .\n"
      "COPY dir /app/dir/\n"
      "COPY root/etc/passwd /fake\n"
      "ARG V=3\n"
      "RUN echo \"$A $V\" > /app/out && mkdir -p /var/x && echo built\n"
      "EXPOSE 80/tcp\n"
      "VOLUME /data\n"
      "USER 1:2\n"
      "CMD [\"sh\", \"-c\", \"cat /app/out\"]\n"
      "STOPSIGNAL SIGUSR1\n");
}

class BuildTest : public hoist::test::BuildOracleTest {
 protected:
  BuildTest() : BuildOracleTest("build") {}

  void SetUp() override {
    BuildOracleTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    make_context(ctx_);
  }

  json inspect(bool hoist, const std::string& what) {
    auto r = docker(hoist, {"image", "inspect", what});
    EXPECT_EQ(r.code, 0) << r.err;
    json j = json::parse(r.out, nullptr, false);
    return j.is_array() && !j.empty() ? j[0] : json::object();
  }
  // created_by, newest first, the build's `n` entries.
  std::vector<std::string> history(bool hoist, const std::string& image, std::size_t n) {
    auto r = docker(hoist, {"history", "--no-trunc", "--format", "{{.CreatedBy}}", image});
    EXPECT_EQ(r.code, 0) << r.err;
    std::vector<std::string> out;
    std::istringstream in(r.out);
    for (std::string l; std::getline(in, l) && out.size() < n;) out.push_back(l);
    return out;
  }
  std::vector<std::string> files(bool hoist, const std::string& image) {
    auto c = docker(hoist, {"create", "--name", "files", image, "true"});
    EXPECT_EQ(c.code, 0) << c.err;
    auto r = docker(hoist, {"export", "files"});
    docker(hoist, {"rm", "-f", "-v", "files"});
    return tar_listing(r.out);
  }

};

}  // namespace

// The same Dockerfile built by both: the same output (ids masked), config, history and files.
TEST_F(BuildTest, MatchesDockerdsClassicBuilder) {
  auto want = build(false, {"-t", "app:1", ctx_});
  ASSERT_EQ(want.code, 0) << want.err << want.out;
  auto got = build(true, {"-t", "app:1", ctx_});
  ASSERT_EQ(got.code, 0) << got.err << got.out << d_->log();
  EXPECT_EQ(masked(got.out), masked(want.out));
  EXPECT_NE(got.out.find("Successfully tagged app:1\n"), std::string::npos) << got.out;
  EXPECT_NE(got.out.find("\nbuilt\n"), std::string::npos) << got.out;

  json wc = inspect(false, "app:1")["Config"], gc = inspect(true, "app:1")["Config"];
  for (auto* c : {&wc, &gc}) {
    EXPECT_EQ(c->value("Image", "").rfind("sha256:", 0), 0u) << c->dump();
    c->erase("Image");
  }
  EXPECT_EQ(gc.dump(2), wc.dump(2));
  EXPECT_EQ(history(true, "app:1", 13), history(false, "app:1", 13));
  // The same layers: the steps that changed files (WORKDIR, the COPYs, RUN), none for the rest.
  EXPECT_EQ(inspect(true, "app:1")["RootFS"]["Layers"].size(), inspect(false, "app:1")["RootFS"]["Layers"].size());
  EXPECT_EQ(joined(files(true, "app:1")), joined(files(false, "app:1")));
  // Saved by hoistd (the steps' layer blobs made then, from their snapshots), the image loads
  // into dockerd, which checks every layer against its diff ID, with the same files.
  ASSERT_EQ(docker(true, {"tag", "app:1", "fromhoist:1"}).code, 0);
  std::string archive = d_->dir() + "/app.tar";
  auto save = docker(true, {"save", "-o", archive, "fromhoist:1"});
  ASSERT_EQ(save.code, 0) << save.err;
  auto load = docker(false, {"load", "-i", archive});
  ASSERT_EQ(load.code, 0) << load.err << load.out;
  EXPECT_EQ(joined(files(false, "fromhoist:1")), joined(files(false, "app:1")));
  docker(false, {"rmi", "fromhoist:1"});
  ASSERT_EQ(docker(true, {"rmi", "fromhoist:1"}).code, 0);
  // The context's etc/passwd, reached through its symlink to "/": never the host's.
  auto r = d_->docker({"run", "--rm", "--network", "none", "--user", "0", "app:1", "cat", "/fake", "/app/out"});
  EXPECT_EQ(r.out, "fake\n1 3\n") << r.err;
  EXPECT_EQ(trim(d_->docker({"ps", "-aq"}).out), "") << "no intermediate container left";
  // docker 28's CLI without DOCKER_BUILDKIT (no buildx: the legacy builder) and docker 20.10's.
  auto plain = run_cmd({"env", "DOCKER_CONFIG=" + d_->dir() + "/docker-config", "docker", "-H", d_->host(), "build",
                        "-q", ctx_},
                       "", 300);
  EXPECT_EQ(plain.code, 0) << plain.err;
  EXPECT_EQ(trim(plain.out), inspect(true, "app:1").value("Id", "")) << "all cached: the same image";
  if (::access("/usr/bin/docker", X_OK) == 0) {
    auto old = run_cmd({"env", "DOCKER_BUILDKIT=0", "/usr/bin/docker", "-H", d_->host(), "build", "-t", "app:old", ctx_},
                       "", 300);
    EXPECT_EQ(old.code, 0) << old.err;
    EXPECT_NE(old.out.find("Successfully tagged app:old\n"), std::string::npos) << old.out;
    d_->docker({"rmi", "app:old"});
  }
  // The intermediate images are not listed without -a, as dockerd's.
  auto names = [&](bool hoist) { return docker(hoist, {"images", "--format", "{{.Repository}}:{{.Tag}}"}).out; };
  EXPECT_EQ(names(true), names(false));
}

// A second build is all cached; a changed file invalidates the steps from its COPY on. Both
// daemons print the same (cache hits included).
TEST_F(BuildTest, CacheAsDockerd) {
  for (bool hoist : {false, true}) {
    SCOPED_TRACE(hoist ? "hoistd" : "dockerd");
    put(ctx_ + "/a.txt", "alpha\n");
    auto first = build(hoist, {"-t", "app:1", ctx_});
    ASSERT_EQ(first.code, 0) << first.err << first.out;
    std::string first_id = inspect(hoist, "app:1").value("Id", "");
    auto second = build(hoist, {"-t", "app:1", ctx_});
    ASSERT_EQ(second.code, 0) << second.err;
    EXPECT_EQ(inspect(hoist, "app:1").value("Id", ""), first_id);
    std::size_t hits = 0;
    for (std::size_t at = 0; (at = second.out.find(" ---> Using cache\n", at)) != std::string::npos; ++at) ++hits;
    EXPECT_EQ(hits, 13u) << second.out;
    EXPECT_EQ(second.out.find("Running in"), std::string::npos) << second.out;
    put(ctx_ + "/a.txt", "changed\n");
    auto third = build(hoist, {"-t", "app:1", ctx_});
    ASSERT_EQ(third.code, 0) << third.err;
    hits = 0;
    for (std::size_t at = 0; (at = third.out.find(" ---> Using cache\n", at)) != std::string::npos; ++at) ++hits;
    EXPECT_EQ(hits, 3u) << "LABEL, ENV, WORKDIR cached; COPY a.txt on not:\n" << third.out;
    auto r = docker(hoist, {"run", "--rm", "--network", "none", "app:1", "cat", "/app/a.txt"});
    EXPECT_EQ(r.out, "changed\n");
    auto nocache = build(hoist, {"--no-cache", "-t", "app:2", ctx_});
    ASSERT_EQ(nocache.code, 0) << nocache.err;
    EXPECT_EQ(nocache.out.find("Using cache"), std::string::npos) << nocache.out;
  }
}

// COPY of a directory whose files hoistd copies on two threads: every file's bytes, size and
// mtime (set again after the other thread's write) as dockerd's classic builder makes them.
TEST_F(BuildTest, CopiedFilesKeepTheirBytesAndTimesAsDockerd) {
  std::string many = ctx_ + "/many";
  std::mt19937 rng(7);
  for (int i = 0; i < 24; ++i) {
    // Empty, small and large files, unevenly mixed, so that both threads get several.
    std::size_t n = static_cast<std::size_t>(i);
    std::size_t size = i % 5 == 0 ? 0 : i % 3 == 0 ? (std::size_t{1} << 20) + 4099 * n : 100 * n;
    std::string data(size, '\0');
    for (char& c : data) c = static_cast<char>(rng());
    std::string f = many + "/f" + std::to_string(i);
    put(f, data, i % 2 ? 0755 : 0644);
    struct timespec times[2] = {{1500000000 + i, 123456789}, {1600000000 + i * 1000, 987654321}};
    ASSERT_EQ(::utimensat(AT_FDCWD, f.c_str(), times, 0), 0) << f;
  }
  put(ctx_ + "/Dockerfile", "FROM bb:1\nCOPY many/ /many/\n");
  std::string script = "cd /many && for f in $(ls | sort); do stat -c '%n %s %a %y' $f; md5sum $f; done";
  std::string want;
  for (bool hoist : {false, true}) {
    SCOPED_TRACE(hoist ? "hoistd" : "dockerd");
    auto b = build(hoist, {"-t", "many:1", ctx_});
    ASSERT_EQ(b.code, 0) << b.err << b.out;
    auto r = docker(hoist, {"run", "--rm", "--network", "none", "many:1", "sh", "-c", script});
    ASSERT_EQ(r.code, 0) << r.err;
    if (!hoist) want = r.out;
    else EXPECT_EQ(r.out, want);
  }
  EXPECT_NE(want.find("f3 1060873 755 2020-09-13"), std::string::npos) << want;
}

// A failing RUN: dockerd's words and exit code; hoistd keeps no container and no new image.
// A failed RUN's container is kept (rm=true only removes those of successful steps), exited
// with the step's code, and survives a restart of hoistd; --force-rm removes it. No image left.
TEST_F(BuildTest, FailingRunAsDockerdKeepsItsContainer) {
  put(ctx_ + "/Dockerfile", "FROM bb:1\nRUN echo going; exit 3\n");
  auto want = build(false, {"-t", "bad:1", ctx_});
  std::string images_before = d_->docker({"images", "-aq"}).out;
  auto got = build(true, {"-t", "bad:1", ctx_});
  EXPECT_EQ(got.code, want.code);
  EXPECT_EQ(got.code, 3);
  EXPECT_EQ(from(got.err, "The command"), from(want.err, "The command"));
  EXPECT_NE(got.err.find("The command '/bin/sh -c echo going; exit 3' returned a non-zero code: 3"), std::string::npos)
      << got.err;
  EXPECT_EQ(masked(got.out), masked(want.out));
  auto kept = [&](bool hoist) {
    std::string id(trim(docker(hoist, {"ps", "-aq"}).out));
    if (id.empty()) return std::string("none");
    return docker(hoist, {"inspect", "-f", "{{json .Config.Cmd}} {{.State.Status}} {{.State.ExitCode}}", id}).out;
  };
  EXPECT_EQ(kept(true), kept(false));
  EXPECT_EQ(kept(true), "[\"/bin/sh\",\"-c\",\"echo going; exit 3\"] exited 3\n");
  auto labels = [&](bool hoist) {
    std::string id(trim(docker(hoist, {"ps", "-aq"}).out));
    return docker(hoist, {"inspect", "-f", "{{json .Config.Labels}}", id}).out;
  };
  EXPECT_EQ(labels(true), labels(false)) << "no label of the build's own";
  EXPECT_EQ(d_->docker({"images", "-aq"}).out, images_before);
  d_->restart();
  EXPECT_EQ(kept(true), "[\"/bin/sh\",\"-c\",\"echo going; exit 3\"] exited 3\n") << "kept across a restart";

  // --force-rm: "Removing intermediate container" before the error, nothing left.
  for (bool hoist : {false, true}) {
    std::istringstream ids(docker(hoist, {"ps", "-aq"}).out);
    for (std::string id; std::getline(ids, id);) docker(hoist, {"rm", "-f", id});
  }
  want = build(false, {"--force-rm", "-t", "bad:1", ctx_});
  got = build(true, {"--force-rm", "-t", "bad:1", ctx_});
  EXPECT_EQ(got.code, 3);
  EXPECT_EQ(masked(got.out), masked(want.out));
  EXPECT_NE(got.out.find("Removing intermediate container "), std::string::npos) << got.out;
  EXPECT_EQ(trim(d_->docker({"ps", "-aq"}).out), "");
  EXPECT_EQ(trim(dockerd_->docker({"ps", "-aq"}).out), "");
}

// Two independent stages run at the same time (their RUNs' uptimes overlap), the last stage after
// both; the output is dockerd's, one stage after the other in the Dockerfile's order.
TEST_F(BuildTest, IndependentStagesRunTogetherOutputInOrder) {
  put(ctx_ + "/Dockerfile",
      "FROM bb:1 AS a\n"
      "RUN cut -d' ' -f1 /proc/uptime > /a.start && sleep 1 && cut -d' ' -f1 /proc/uptime > /a.end && echo a done\n"
      "FROM bb:1 AS b\n"
      "RUN cut -d' ' -f1 /proc/uptime > /b.start && sleep 1 && cut -d' ' -f1 /proc/uptime > /b.end && echo b done\n"
      "FROM bb:1\n"
      "COPY --from=a /a.start /a.end /t/\n"
      "COPY --from=b /b.start /b.end /t/\n"
      "RUN cut -d' ' -f1 /proc/uptime > /t/last\n");
  auto want = build(false, {"-t", "par:1", ctx_});
  ASSERT_EQ(want.code, 0) << want.err << want.out;
  auto got = build(true, {"-t", "par:1", ctx_});
  ASSERT_EQ(got.code, 0) << got.err << got.out << d_->log();
  EXPECT_EQ(masked(got.out), masked(want.out));
  EXPECT_LT(got.out.find("a done"), got.out.find("Step 3/8 : FROM bb:1 AS b")) << got.out;
  auto r = d_->docker({"run", "--rm", "--network", "none", "par:1", "cat", "/t/a.start", "/t/a.end", "/t/b.start",
                       "/t/b.end", "/t/last"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::istringstream in(r.out);
  double a_start, a_end, b_start, b_end, last;
  ASSERT_TRUE(in >> a_start >> a_end >> b_start >> b_end >> last) << r.out;
  EXPECT_LT(a_start, b_end) << r.out;  // the two RUNs overlapped
  EXPECT_LT(b_start, a_end) << r.out;
  EXPECT_GE(last, std::max(a_end, b_end)) << r.out;
  EXPECT_EQ(trim(d_->docker({"ps", "-aq"}).out), "") << "no intermediate container left";
}

// A stage that fails stops the others: the running RUN of the other stage is killed and its
// container removed; the failed RUN's container is kept, as dockerd keeps it; the build's error is
// the failed step's.
TEST_F(BuildTest, AFailingStageStopsTheOthers) {
  put(ctx_ + "/Dockerfile",
      "FROM bb:1 AS slow\n"
      "RUN echo slow started; sleep 60\n"
      "FROM bb:1 AS bad\n"
      "RUN sleep 1; exit 3\n"
      "FROM bb:1\n"
      "COPY --from=slow /etc/passwd /a\n"
      "COPY --from=bad /etc/passwd /b\n");
  auto start = std::chrono::steady_clock::now();
  auto got = build(true, {"-t", "stop:1", ctx_});
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
  EXPECT_EQ(got.code, 3) << got.err << got.out;
  EXPECT_NE(got.err.find("The command '/bin/sh -c sleep 1; exit 3' returned a non-zero code: 3"), std::string::npos)
      << got.err;
  // The output: the slow stage's so far, then the failed one's; not the last stage's.
  EXPECT_LT(got.out.find("slow started"), got.out.find("Step 3/7 : FROM bb:1 AS bad")) << got.out;
  EXPECT_EQ(got.out.find("Step 5/7"), std::string::npos) << got.out;
  std::string ids(trim(d_->docker({"ps", "-aq"}).out));
  ASSERT_EQ(ids.find('\n'), std::string::npos) << "one container left: " << ids;
  EXPECT_EQ(d_->docker({"inspect", "-f", "{{json .Config.Cmd}} {{.State.ExitCode}}", ids}).out,
            "[\"/bin/sh\",\"-c\",\"sleep 1; exit 3\"] 3\n");
  EXPECT_NE(d_->docker({"image", "inspect", "stop:1"}).code, 0);
}

// COPY never reads outside the context: a symlink to "/" leads to the context's root, ".." is
// refused, a path that is only on the host is not found (dockerd's message).
TEST_F(BuildTest, CopyStaysInsideTheContext) {
  put(ctx_ + "/Dockerfile", "FROM bb:1\nCOPY root/etc/hostname /h\n");
  auto want = build(false, {ctx_});
  auto got = build(true, {ctx_});
  EXPECT_NE(got.code, 0) << got.out;
  EXPECT_EQ(got.code, want.code);
  EXPECT_NE(got.err.find("COPY failed: file not found in build context or excluded by .dockerignore: stat "
                         "root/etc/hostname: file does not exist"),
            std::string::npos)
      << got.err;
  EXPECT_EQ(from(got.err, "COPY failed"), from(want.err, "COPY failed"));

  put(ctx_ + "/Dockerfile", "FROM bb:1\nCOPY ../../../../etc/shadow /s\n");
  got = build(true, {ctx_});
  EXPECT_NE(got.code, 0) << got.out;

  put(ctx_ + "/Dockerfile", "FROM bb:1\nCOPY root/ /all/\n");
  got = build(true, {"-t", "all:1", ctx_});
  ASSERT_EQ(got.code, 0) << got.err;
  auto listing = joined(files(true, "all:1"));
  EXPECT_NE(listing.find("all/etc/passwd - 644 0:0 5\n"), std::string::npos) << listing;
  EXPECT_NE(listing.find("all/a.txt - 644 0:0"), std::string::npos) << listing;
  EXPECT_EQ(listing.find("all/etc/hostname"), std::string::npos) << listing;
  EXPECT_EQ(listing.find("all/proc"), std::string::npos) << listing;
}

// The raw stream of POST /build: the same JSON lines as dockerd's, byte for byte (ids masked).
TEST_F(BuildTest, RawStreamAsDockerd) {
  put(ctx_ + "/Dockerfile", "FROM bb:1\nENV X=<y>\nCOPY a.txt /\nRUN cat /a.txt\n");
  std::string tar = ctx_ + "/../ctx.tar";
  write_tar(tar, {{"Dockerfile", "FROM bb:1\nENV X=<y>\nCOPY a.txt /\nRUN cat /a.txt\n"}, {"a.txt", "alpha\n"}});
  auto post = [&](bool hoist, const std::string& query) {
    return run_cmd({"curl", "-sS", "--unix-socket", socket(hoist), "-X", "POST", "-H", "Content-Type: application/x-tar",
                    "--data-binary", "@" + tar, "http://localhost/v1.41/build?" + query},
                   "", 300);
  };
  for (const char* query : {"t=raw:1&t=raw:2&rm=1", "t=raw:1&q=1", "nocache=1&buildargs=%7B%22UNUSED%22%3A%221%22%7D"}) {
    SCOPED_TRACE(query);
    auto want = post(false, query);
    auto got = post(true, query);
    ASSERT_EQ(got.code, 0) << got.err;
    EXPECT_EQ(masked(got.out), masked(want.out));
  }
  // An error before any output is an HTTP error, as dockerd's.
  auto want = post(false, "t=Bad:Tag");
  auto got = post(true, "t=Bad:Tag");
  EXPECT_EQ(got.out, want.out);
}

// Two stages (a stage's files copied into a scratch one), ADD of a local tar (extracted, its
// owners kept), --target: the same output, history and files as dockerd's.
TEST_F(BuildTest, StagesAndAddTarAsDockerd) {
  hoist::test::write_tar_file(ctx_ + "/files.tar",
                              {{.path = "t/", .type = AE_IFDIR, .perm = 0750},
                               {.path = "t/f.txt", .perm = 0640, .data = "in a tar\n", .uid = 1000, .gid = 1000},
                               {.path = "t/l", .type = AE_IFLNK, .perm = 0777, .link = "f.txt"}});
  put(ctx_ + "/Dockerfile",
      "FROM bb:1 AS base\n"
      "RUN echo one > /one && echo to stderr >&2\n"
      "ADD files.tar /unpacked/\n"
      "FROM scratch AS out\n"
      "COPY --from=base /one /unpacked/t/f.txt /got/\n"
      "COPY --from=0 /bin/busybox /bin/\n"
      "ENV PATH=/bin\n"
      "FROM out AS last\n"
      "LABEL last=1\n");
  for (std::string target : {"out", "last"}) {
    SCOPED_TRACE(target);
    auto want = build(false, {"--target", target, "-t", "st:" + target, ctx_});
    ASSERT_EQ(want.code, 0) << want.err << want.out;
    auto got = build(true, {"--target", target, "-t", "st:" + target, ctx_});
    ASSERT_EQ(got.code, 0) << got.err << got.out << d_->log();
    EXPECT_EQ(masked(got.out), masked(want.out));
    EXPECT_EQ(history(true, "st:" + target, 4), history(false, "st:" + target, 4));
    EXPECT_EQ(joined(files(true, "st:" + target)), joined(files(false, "st:" + target)));
  }
  auto want = build(false, {"--target", "base", "-t", "st:base", ctx_});
  auto got = build(true, {"--target", "base", "-t", "st:base", ctx_});
  ASSERT_EQ(got.code, 0) << got.err;
  EXPECT_EQ(joined(files(true, "st:base")), joined(files(false, "st:base")));
  auto r = d_->docker({"run", "--rm", "--network", "none", "st:last", "busybox", "cat", "/got/one", "/got/f.txt"});
  EXPECT_EQ(r.out, "one\nin a tar\n") << r.err;
}

// hoistd killed (kill -9) in the middle of a RUN: after its restart the step's container is gone.
TEST_F(BuildTest, KilledHoistdLeavesNoBuildContainer) {
  put(ctx_ + "/Dockerfile", "FROM bb:1\nRUN sleep 120\n");
  CmdResult during;
  std::thread client([&] { during = build(true, {"-t", "never:1", ctx_}); });
  bool running = false;
  for (int i = 0; i < 200 && !running; ++i) {
    running = !trim(d_->docker({"ps", "-q"}).out).empty();
    if (!running) usleep(100000);
  }
  EXPECT_TRUE(running) << "the RUN step's container never ran";
  d_->kill9();
  client.join();
  EXPECT_NE(during.code, 0);
  d_->restart();
  std::string left = "?";
  for (int i = 0; i < 100 && !left.empty(); ++i) {
    left = std::string(trim(d_->docker({"ps", "-aq"}).out));
    if (!left.empty()) usleep(100000);
  }
  EXPECT_EQ(left, "") << d_->log();
  EXPECT_EQ(d_->docker({"images", "-q", "never:1"}).out, "");
}

namespace {

// BuildKit (docker 20.10's CLI has it built in; its frontend is the one of dockerd, so no pull)
// against the private dockerd, and hoist's own CLI (which sends secrets) against hoistd.
class BuildMountTest : public BuildTest {
 protected:
  void SetUp() override {
    BuildTest::SetUp();
    if (IsSkipped()) return;
    if (::access("/usr/bin/docker", X_OK) != 0) GTEST_SKIP() << "no docker 20.10 CLI (BuildKit client)";
    put(d_->dir() + "/secret.txt", kSecret);
  }
  CmdResult buildkit(const std::vector<std::string>& args) {
    std::vector<std::string> argv{"env", "DOCKER_BUILDKIT=1", "DOCKER_CONFIG=" + d_->dir() + "/docker-config",
                                  "/usr/bin/docker", "-H", "unix://" + socket(false), "build", "--network", "none",
                                  "--progress", "plain"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_cmd(argv, "", 300);
  }
  CmdResult hoist_build(std::vector<std::string> args) {
    args.insert(args.begin(), "build");
    return hoist_cli(args);
  }
  // Every byte of the image as `docker save` gives it (layers, config, manifest).
  std::string saved(bool hoist, const std::string& image) { return docker(hoist, {"save", image}).out; }
  std::string cat(bool hoist, const std::string& image, const std::string& cmd) {
    auto r = docker(hoist, {"run", "--rm", "--network", "none", image, "sh", "-c", cmd});
    EXPECT_EQ(r.code, 0) << r.err;
    return r.out;
  }
  static constexpr const char* kSecret = "s3cr3t-Value-9f2c";
};

}  // namespace

// RUN --mount of each type built by BuildKit and by hoistd: the same files in the image (the
// mounts' contents never in a layer), the same results of the RUNs (a cache kept between builds,
// read-only binds of the context and of another stage, an rw bind whose writes are discarded,
// a bind through a context symlink to "/" staying in the context, tmpfs, a secret), the secret
// in no layer, config or history; a missing required secret fails with BuildKit's message.
TEST_F(BuildMountTest, RunMountsAsBuildKit) {
  put(ctx_ + "/Dockerfile",
      "FROM bb:1 AS base\n"
      "RUN mkdir -p /stage && echo from-stage > /stage/s.txt\n"
      "FROM bb:1\n"
      "WORKDIR /w\n"
      "RUN --mount=type=cache,target=/cache,id=c1 echo run >> /cache/log && cat /cache/log > /count\n"
      "RUN --mount=type=bind,target=/ctx cat /ctx/a.txt > /from-ctx && "
      "(touch /ctx/x 2>/dev/null && echo rw || echo ro) > /ctx-ro\n"
      "RUN --mount=type=bind,from=base,source=/stage,target=/st cat /st/s.txt > /from-stage\n"
      "RUN --mount=type=bind,source=dir,target=d,rw echo new > d/new && cat d/new d/b.txt > /rw-out\n"
      "RUN --mount=type=tmpfs,target=/t echo x > /t/f && cat /t/f > /tmpfs-out && "
      "cp /bin/busybox /t/busybox && /t/busybox echo exec >> /tmpfs-out\n"
      "RUN --mount=type=secret,id=tok,required wc -c < /run/secrets/tok > /secret-len && "
      "cat /run/secrets/tok > /dev/null && stat -c '%a %u %g' /run/secrets/tok > /secret-stat\n"
      "RUN --mount=type=secret,id=tok,target=/sec/t,mode=0440,uid=1,gid=2 stat -c '%a %u %g' /sec/t >> /secret-stat\n"
      "RUN --mount=type=cache,target=/cu,uid=7,gid=8,mode=0700 stat -c '%a %u %g' /cu > /cache-stat\n"
      "RUN --mount=type=cache,target=/cf,from=base,source=/stage ls /cf > /cache-from\n"
      "RUN --mount=type=cache,target=/cro,ro (touch /cro/x 2>/dev/null && echo rw || echo ro) > /cache-ro\n"
      "RUN --mount=type=bind,from=bb:1,source=/bin/busybox,target=/bb test -x /bb && echo img > /from-image\n");
  std::string secret_arg = "id=tok,src=" + d_->dir() + "/secret.txt";
  auto want = buildkit({"--secret", secret_arg, "-t", "mnt:1", ctx_});
  ASSERT_EQ(want.code, 0) << want.err << want.out;
  auto got = hoist_build({"--secret", secret_arg, "-t", "mnt:1", ctx_});
  ASSERT_EQ(got.code, 0) << got.err << got.out << d_->log();
  EXPECT_EQ(got.out.find(kSecret), std::string::npos) << "the secret in the output";

  std::string script = "cat /count /from-ctx /ctx-ro /from-stage /rw-out /tmpfs-out /secret-len /secret-stat "
                       "/cache-stat /cache-from /cache-ro /from-image; ls -A /w/d /cache /t /st /ctx /cf 2>&1";
  std::string w = cat(false, "mnt:1", script), g = cat(true, "mnt:1", script);
  EXPECT_EQ(g, w);
  EXPECT_EQ(g.substr(0, g.find("img\n") + 4),
            "run\nalpha\nro\nfrom-stage\nnew\nbeta\nx\nexec\n17\n400 0 0\n440 1 2\n700 7 8\ns.txt\nro\nimg\n")
      << g;
  EXPECT_EQ(joined(files(true, "mnt:1")), joined(without_mount_dirs(files(false, "mnt:1"), {"run/secrets", "sec"})));
  for (bool hoist : {true, false}) {
    EXPECT_EQ(saved(hoist, "mnt:1").find(kSecret), std::string::npos) << (hoist ? "hoistd" : "dockerd");
    EXPECT_EQ(docker(hoist, {"history", "--no-trunc", "mnt:1"}).out.find(kSecret), std::string::npos);
    EXPECT_EQ(docker(hoist, {"image", "inspect", "mnt:1"}).out.find(kSecret), std::string::npos);
  }
  EXPECT_EQ(d_->log().find(kSecret), std::string::npos) << "the secret in hoistd's log";

  // The cache mount is kept: a build whose RUN is not cached runs on it again (a changed build
  // arg the RUN sees); --no-cache starts it afresh, as BuildKit does.
  auto count = [&](bool hoist, const std::string& image) { return cat(hoist, image, "cat /count"); };
  put(ctx_ + "/Dockerfile", "FROM bb:1\nARG V\nRUN --mount=type=cache,target=/cache,id=c1 echo $V >> /cache/log && "
                            "cat /cache/log > /count\n");
  std::vector<std::pair<std::vector<std::string>, std::string>> runs = {
      {{"--build-arg", "V=a"}, "run\na\n"},
      {{"--build-arg", "V=b"}, "run\na\nb\n"},
      {{"--no-cache", "--build-arg", "V=c"}, "c\n"},
      {{"--build-arg", "V=d"}, "c\nd\n"}};
  for (auto& [args, expect] : runs) {
    auto a = args;
    a.insert(a.end(), {"-t", "mnt:2", ctx_});
    ASSERT_EQ(hoist_build(a).code, 0);
    ASSERT_EQ(buildkit(a).code, 0);
    EXPECT_EQ(count(true, "mnt:2"), expect);
    EXPECT_EQ(count(true, "mnt:2"), count(false, "mnt:2"));
  }
  // ... and across a restart of hoistd.
  d_->restart();
  ASSERT_EQ(hoist_build({"--build-arg", "V=e", "-t", "mnt:3", ctx_}).code, 0);
  EXPECT_EQ(count(true, "mnt:3"), "c\nd\ne\n");

  // A missing required secret: BuildKit's message.
  put(ctx_ + "/Dockerfile", "FROM bb:1\nRUN --mount=type=secret,id=tok,required cat /run/secrets/tok\n");
  want = buildkit({"--no-cache", "-t", "mnt:4", ctx_});
  got = hoist_build({"--no-cache", "-t", "mnt:4", ctx_});
  EXPECT_NE(want.code, 0);
  EXPECT_NE(got.code, 0);
  EXPECT_NE((want.out + want.err).find("secret tok not found: not found"), std::string::npos) << want.out << want.err;
  EXPECT_NE(got.err.find("secret tok not found: not found"), std::string::npos) << got.err << got.out;
}

// RUN --mount=type=ssh as BuildKit: an agent of the test's own forwarded by `--ssh` (hoist's CLI
// through its build session, docs/api.md; BuildKit's through its own), listed from inside the
// step by tests/tools/agent_list.cpp at the default target (SSH_AUTH_SOCK), an optional id that
// is not forwarded not mounted (SSH_AUTH_SOCK still names its target), the same file tree left
// (no mount point, nor the directory made for it); key files (ed25519, rsa, ecdsa) served by the
// client's own agent, listed and signing as BuildKit's, an encrypted one refused in its words;
// a required id BuildKit's messages when nothing or other ids are forwarded.
TEST_F(BuildMountTest, RunMountSshAsBuildKit) {
  if (!hoist::test::TestSshAgent::available()) GTEST_SKIP() << "openssh-client is not installed";
  hoist::test::TestSshAgent agent(d_->dir(), "hoist-ssh-oracle@key");
  run_cmd({"cp", HOIST_AGENT_LIST_BIN, ctx_ + "/agent_list"});
  put(ctx_ + "/Dockerfile",
      "FROM bb:1\nCOPY agent_list /bin/agent_list\n"
      "RUN --mount=type=ssh agent_list > /listed\n"
      "RUN --mount=type=ssh,id=other,target=/run/other.sock,mode=0644 "
      "sh -c 'test -e /run/other.sock || echo \"not mounted, SSH_AUTH_SOCK=$SSH_AUTH_SOCK\"' > /optional\n"
      "RUN --mount=type=ssh,target=/agent,uid=5,gid=6,mode=0640 stat -c '%a %u %g' /agent > /stat && "
      "echo $SSH_AUTH_SOCK >> /stat\n");
  std::string ssh = "default=" + agent.socket();
  auto want = buildkit({"--ssh", ssh, "-t", "ssh:1", ctx_});
  ASSERT_EQ(want.code, 0) << want.err << want.out;
  auto got = hoist_build({"--ssh", ssh, "-t", "ssh:1", ctx_});
  ASSERT_EQ(got.code, 0) << got.err << got.out << d_->log();
  std::string script = "cat /listed /optional /stat";
  std::string w = cat(false, "ssh:1", script), g = cat(true, "ssh:1", script);
  EXPECT_EQ(g, w);
  EXPECT_EQ(g, "socket: /run/buildkit/ssh_agent.0\nidentities: 1\nhoist-ssh-oracle@key\n"
               "not mounted, SSH_AUTH_SOCK=/run/other.sock\n640 5 6\n/agent\n");
  EXPECT_EQ(joined(files(true, "ssh:1")), joined(without_mount_dirs(files(false, "ssh:1"), {"run/buildkit"})));
  for (bool hoist : {true, false})
    EXPECT_EQ(docker(hoist, {"image", "inspect", "-f", "{{json .Config.Env}}", "ssh:1"}).out.find("SSH_AUTH_SOCK"),
              std::string::npos);
  EXPECT_EQ(run_cmd({"sh", "-c", "ls -A " + d_->exec_root() + "/build-ssh 2>/dev/null; true"}).out, "");

  // Key files instead of an agent: each client loads them into an agent of its own, which lists
  // them without comments and signs with them; an encrypted key is refused before building.
  std::string rsa = d_->dir() + "/rsa", ec = d_->dir() + "/ec", enc = d_->dir() + "/enc";
  ASSERT_EQ(run_cmd({"ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-m", "PEM", "-N", "", "-f", rsa}).code, 0);
  ASSERT_EQ(run_cmd({"ssh-keygen", "-q", "-t", "ecdsa", "-N", "", "-f", ec}).code, 0);
  ASSERT_EQ(run_cmd({"ssh-keygen", "-q", "-t", "ed25519", "-N", "passw0rd", "-f", enc}).code, 0);
  put(ctx_ + "/Dockerfile", "FROM bb:1\nCOPY agent_list /bin/agent_list\n"
                            "RUN --mount=type=ssh agent_list -s > /listed\n"
                            "RUN --mount=type=ssh,id=k2 agent_list -s >> /listed\n");
  std::vector<std::string> keys = {"--ssh", "default=" + agent.key() + "," + rsa, "--ssh", "k2=" + ec, "-t", "ssh:2", ctx_};
  want = buildkit(keys);
  ASSERT_EQ(want.code, 0) << want.err << want.out;
  got = hoist_build(keys);
  ASSERT_EQ(got.code, 0) << got.err << got.out << d_->log();
  w = cat(false, "ssh:2", "cat /listed");
  g = cat(true, "ssh:2", "cat /listed");
  EXPECT_EQ(g, w);
  EXPECT_EQ(g, "socket: /run/buildkit/ssh_agent.0\nidentities: 2\nssh-ed25519 \nsigned: ssh-ed25519\n"
               "ssh-rsa \nsigned: rsa-sha2-512\n"
               "socket: /run/buildkit/ssh_agent.0\nidentities: 1\necdsa-sha2-nistp256 \nsigned: ecdsa-sha2-nistp256\n");
  want = buildkit({"--ssh", "default=" + enc, ctx_});
  got = hoist_build({"--ssh", "default=" + enc, ctx_});
  std::string refused = "failed to parse " + enc + ": ssh: this private key is passphrase protected";
  EXPECT_NE(want.code, 0);
  EXPECT_NE(got.code, 0);
  EXPECT_NE((want.out + want.err).find(refused), std::string::npos) << want.out << want.err;
  EXPECT_NE(got.err.find(refused), std::string::npos) << got.err << got.out;

  put(ctx_ + "/Dockerfile", "FROM bb:1\nRUN --mount=type=ssh,id=deploy,required echo hi\n");
  for (auto [args, message] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{}, "no SSH key \"deploy\" forwarded from the client"},
           {{"--ssh", ssh}, "unset ssh forward key deploy"}}) {
    args.push_back(ctx_);
    want = buildkit(args);
    got = hoist_build(args);
    EXPECT_NE(want.code, 0);
    EXPECT_NE(got.code, 0);
    EXPECT_NE((want.out + want.err).find(message), std::string::npos) << want.out << want.err;
    EXPECT_NE(got.err.find(message), std::string::npos) << got.err << got.out;
  }
}

// What BuildKit's built-in frontend of dockerd 20.10 cannot parse (heredocs, secrets as env=),
// checked against BuildKit's documented behaviour: heredoc scripts (run by the shell, a "#!" one
// as a file, quoted delimiters not expanded, <<- tab stripping, several in one RUN), RUN
// --network=host (the host's network namespace) and none, a secret as an env variable; the mounts'
// specs and what binds read in the cache key; a locked cache shared by two builds.
TEST_F(BuildMountTest, HeredocsHostNetworkSecretEnvAndCacheKeys) {
  put(ctx_ + "/Dockerfile",
      "FROM bb:1\n"
      "ENV WHO=world\n"
      "RUN <<EOF\n"
      "echo \"hello $WHO\" > /h1\n"
      "echo two >> /h1\n"
      "EOF\n"
      "RUN <<EOF\n"
      "#!/bin/sh\n"
      "echo \"script $0\" > /h2\n"
      "EOF\n"
      "RUN cat <<'EOF' > /h3 && cat <<EOF2 >> /h3\n"
      "raw $WHO\n"
      "EOF\n"
      "expanded $WHO\n"
      "EOF2\n"
      "RUN <<-EOF sh\n"
      "\techo tabs > /h4\n"
      "\tEOF\n"
      "RUN --network=host readlink /proc/self/ns/net > /net-host\n"
      "RUN --network=none ls /sys/class/net > /net-none\n"
      "RUN --mount=type=secret,id=tok,env=TOK,target=/s test \"$TOK\" = \"$(cat /s)\" && echo env-ok > /env\n"
      "RUN --mount=type=secret,id=tok,env=TOK test -n \"$TOK\" && test ! -e /run/secrets/tok && echo only-env >> /env\n"
      // BuildKit transfers only the named part of the context; hoistd resolves it inside the
      // context: the context's symlink to "/" leads to its own root, never the host's.
      "RUN --mount=type=bind,source=root/etc,target=/e cat /e/passwd > /escape\n"
      // tmpfs size= (BuildKit's frontend in dockerd 20.10 does not know it yet).
      "RUN --mount=type=tmpfs,target=/t2,size=1m df -k /t2 | tail -1 | awk '{print $2}' > /tmpfs-size\n"
      // --secret id=X alone: the variable X.
      "RUN --mount=type=secret,id=HOIST_TEST_TOK,required test -s /run/secrets/HOIST_TEST_TOK\n");
  ::setenv("HOIST_TEST_TOK", kSecret, 1);
  auto got = hoist_build({"--secret", "id=tok,env=HOIST_TEST_TOK", "--secret", "id=HOIST_TEST_TOK", "-t", "hd:1", ctx_});
  ASSERT_EQ(got.code, 0) << got.err << got.out << d_->log();
  char ns[64] = {};
  ASSERT_GT(::readlink("/proc/self/ns/net", ns, sizeof ns - 1), 0);
  EXPECT_EQ(cat(true, "hd:1", "cat /h1 /h2 /h3 /h4 /net-host /net-none /env"),
            "hello world\ntwo\nscript /dev/pipes/EOF\nraw $WHO\nexpanded world\ntabs\n" + std::string(ns) +
                "\nlo\nenv-ok\nonly-env\n");
  EXPECT_EQ(cat(true, "hd:1", "cat /escape /tmpfs-size; ls -A /t2"), "fake\n1024\n");
  EXPECT_EQ(saved(true, "hd:1").find(kSecret), std::string::npos);
  EXPECT_EQ(docker(true, {"history", "--no-trunc", "hd:1"}).out.find(kSecret), std::string::npos);
  EXPECT_EQ(d_->log().find(kSecret), std::string::npos);
  EXPECT_EQ(trim(d_->docker({"ps", "-aq"}).out), "");
  // A failed RUN with a secret in its env: its kept container does not show the secret.
  put(ctx_ + "/Dockerfile", "FROM bb:1\nRUN --mount=type=secret,id=tok,env=TOK test -n \"$TOK\" && exit 5\n");
  auto failed = hoist_build({"--secret", "id=tok,env=HOIST_TEST_TOK", ctx_});
  EXPECT_EQ(failed.code, 5) << failed.err;
  std::string kept(trim(d_->docker({"ps", "-aq"}).out));
  ASSERT_FALSE(kept.empty());
  auto ins = d_->docker({"inspect", kept});
  EXPECT_NE(ins.out.find("TOK"), std::string::npos) << "the command is there";
  EXPECT_EQ(ins.out.find(kSecret), std::string::npos) << ins.out;
  d_->docker({"rm", "-f", kept});

  // The cache key: the same mounts hit, a changed spec or a changed file a bind reads misses.
  put(ctx_ + "/Dockerfile",
      "FROM bb:1\n"
      "RUN --mount=type=cache,target=/c1 echo one\n"
      "RUN --mount=type=bind,source=a.txt,target=/a cat /a\n");
  auto steps_cached = [&](const CmdResult& r) {
    std::size_t n = 0;
    for (std::size_t at = 0; (at = r.out.find("Using cache", at)) != std::string::npos; ++at) ++n;
    return n;
  };
  ASSERT_EQ(hoist_build({ctx_}).code, 0);
  auto again = hoist_build({ctx_});
  EXPECT_EQ(steps_cached(again), 2u) << again.out;
  put(ctx_ + "/Dockerfile",
      "FROM bb:1\n"
      "RUN --mount=type=cache,target=/c2 echo one\n"
      "RUN --mount=type=bind,source=a.txt,target=/a cat /a\n");
  again = hoist_build({ctx_});
  EXPECT_EQ(steps_cached(again), 0u) << again.out;
  put(ctx_ + "/a.txt", "changed\n");
  again = hoist_build({ctx_});
  EXPECT_EQ(steps_cached(again), 1u) << again.out;
  EXPECT_NE(again.out.find("\nchanged\n"), std::string::npos) << again.out;

  // --secret values hoist's CLI refuses (buildx's words).
  for (auto [spec, message] : std::vector<std::pair<std::string, std::string>>{
           {"id=x,bogus=1", "unexpected key 'bogus' in 'bogus=1'"},
           {"id=x,type=nope", "unsupported secret type \"nope\""},
           {"id", "invalid field 'id' must be a key=value pair"},
           {"id=x,src=" + d_->dir() + "/none", "none"}}) {
    auto bad = hoist_build({"--secret", spec, ctx_});
    EXPECT_NE(bad.code, 0) << spec;
    EXPECT_NE(bad.err.find(message), std::string::npos) << spec << ": " << bad.err;
  }

  // A secrets header that does not parse: refused before the build starts.
  for (const char* bad : {"%%%", "WzFd" /* [1] */, "eyJ4IjoxfQ==" /* {"x":1} */}) {
    auto h = d_->http("POST", "/v1.41/build", "", {std::string("X-Hoist-Build-Secrets: ") + bad});
    EXPECT_EQ(h.status, 400) << bad;
    EXPECT_NE(h.body.find("invalid X-Hoist-Build-Secrets header"), std::string::npos) << h.body;
  }

  // BuildKit's messages for a mount without a target and a bind of a missing source.
  for (auto [line, message] : std::vector<std::pair<std::string, std::string>>{
           {"RUN --mount=type=cache echo hi", "invalid mount target \"/\""},
           {"RUN --mount=type=bind,source=nope,target=/x echo hi", "failed to compute cache key: \"/nope\" not found: not found"}}) {
    put(ctx_ + "/Dockerfile", "FROM bb:1\n" + line + "\n");
    auto want = buildkit({ctx_});
    auto bad = hoist_build({ctx_});
    EXPECT_NE(bad.code, 0);
    EXPECT_NE((want.out + want.err).find(message), std::string::npos) << want.out << want.err;
    EXPECT_NE(bad.err.find(message), std::string::npos) << bad.err;
  }

  // Locked sharing: two builds at once take turns on the cache (never both inside).
  put(ctx_ + "/Dockerfile",
      "FROM bb:1\n"
      "ARG N\n"
      "RUN --mount=type=cache,target=/l,sharing=locked "
      "test ! -e /l/busy && touch /l/busy && sleep 1 && rm /l/busy && echo $N >> /l/turns\n");
  CmdResult one, two;
  std::thread t1([&] { one = hoist_build({"--build-arg", "N=1", ctx_}); });
  std::thread t2([&] { two = hoist_build({"--build-arg", "N=2", ctx_}); });
  t1.join();
  t2.join();
  EXPECT_EQ(one.code, 0) << one.out << one.err;
  EXPECT_EQ(two.code, 0) << two.out << two.err;
}

// A cache mount seeded from= a stage: keyed by its id and its source, as BuildKit's. Two builds
// whose stages differ get a cache each (the second is not handed the first one's seed); the same
// source again finds its cache, with what the first RUN added.
TEST_F(BuildMountTest, CacheMountFromIsKeyedBySource) {
  auto dockerfile = [&](const std::string& seed) {
    put(ctx_ + "/Dockerfile", "FROM bb:1 AS seed\nRUN mkdir /s && echo " + seed +
                                  " > /s/f\nFROM bb:1\nARG N\n"
                                  "RUN --mount=type=cache,id=cfk,target=/c,from=seed,source=/s "
                                  "echo $N >> /c/f && cat /c/f > /out\n");
  };
  std::vector<std::tuple<std::string, std::string>> runs = {{"one", "1"}, {"two", "2"}, {"one", "3"}};
  for (auto& [seed, n] : runs) {
    SCOPED_TRACE(seed + " " + n);
    dockerfile(seed);
    std::vector<std::string> a{"--build-arg", "N=" + n, "-t", "cfk:1", ctx_};
    auto w = buildkit(a);
    ASSERT_EQ(w.code, 0) << w.err;
    auto g = hoist_build(a);
    ASSERT_EQ(g.code, 0) << g.err << g.out;
    EXPECT_EQ(cat(true, "cfk:1", "cat /out"), cat(false, "cfk:1", "cat /out"));
  }
  EXPECT_EQ(cat(true, "cfk:1", "cat /out"), "one\n1\n3\n");
}

namespace {

// A file server on a free loopback port for ADD's URLs and remote contexts: the files of `root`
// (their mtimes as Last-Modified), and /cd/ answering r.txt's bytes with a Content-Disposition
// filename of named.txt.
class FileServer {
 public:
  explicit FileServer(const std::string& root) : dir_("hoist-build-http") {
    std::string script = dir_.path() + "/serve.py";
    std::ofstream(script) << R"(import http.server, os, sys
root, portfile = sys.argv[1], sys.argv[2]
class H(http.server.SimpleHTTPRequestHandler):
    def __init__(s, *a, **k):
        super().__init__(*a, directory=root, **k)
    def do_GET(s):
        if s.path.startswith('/cd/'):
            body = open(os.path.join(root, 'r.txt'), 'rb').read()
            s.send_response(200)
            s.send_header('Content-Disposition', 'attachment; filename="named.txt"')
            s.send_header('Content-Length', str(len(body)))
            s.end_headers()
            s.wfile.write(body)
            return
        return super().do_GET()
    def log_message(s, *a):
        pass
srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), H)
open(portfile + '.tmp', 'w').write(str(srv.server_address[1]))
os.rename(portfile + '.tmp', portfile)
srv.serve_forever()
)";
    std::string portfile = dir_.path() + "/port";
    proc_ = hoist::test::ChildProcess({"python3", script, root, portfile}, dir_.path() + "/log");
    for (int i = 0; i < 100 && port_.empty(); ++i) {
      std::ifstream in(portfile);
      std::getline(in, port_);
      if (port_.empty()) usleep(50000);
    }
  }
  std::string url(const std::string& path) const { return "http://127.0.0.1:" + port_ + path; }
  bool up() const { return !port_.empty(); }

 private:
  hoist::test::TempDir dir_;
  hoist::test::ChildProcess proc_;
  std::string port_;
};


std::string gzip_of(const std::string& data) {
  return run_cmd({"gzip", "-c", "-n"}, data).out;
}

}  // namespace

// COPY's BuildKit flags in hoistd: --chmod (modes as BuildKit's, compared with dockerd's BuildKit
// when it runs here), --exclude, --parents (with a ./ pivot), --link, heredocs (expanded or not,
// <<- tabs removed, several at once); each flag in the cache key.
TEST_F(BuildTest, CopyFlagsAndHeredocs) {
  put(ctx_ + "/d/y.log", "log\n");
  put(ctx_ + "/d/keep.log", "kept\n");
  put(ctx_ + "/p/q/r.txt", "r\n", 0600);
  ::chmod((ctx_ + "/p").c_str(), 0700);
  ::symlink("b.txt", (ctx_ + "/dir/lnk").c_str());
  std::string chmod_df =
      "FROM bb:1\n"
      "COPY --chmod=640 dir /a/b/\n"
      "COPY --chmod=600 a.txt /c/x\n";
  put(ctx_ + "/Dockerfile.chmod", chmod_df);
  std::string main_df =
      "FROM bb:1\n"
      "COPY --exclude=*.log --exclude=!keep.log --exclude=sub dir d /ex/\n"
      + chmod_df.substr(10) +
      "COPY --parents dir/sub/c.sh p/q/r.txt /par/\n"
      "COPY --parents p/./q/r.txt /piv\n"
      "COPY --link --chown=7:8 a.txt /linked\n"
      "ENV WHO=me\n"
      "COPY <<EOF /h1\n"
      "home $WHO\n"
      "EOF\n"
      "COPY <<\"EOF\" <<-EOT2 /hd/\n"
      "raw $WHO\n"
      "EOF\n"
      "\ttabbed\n"
      "\tEOT2\n"
      "ADD --chmod=755 <<EOF /add.sh\n"
      "#!/bin/sh\n"
      "EOF\n";
  put(ctx_ + "/Dockerfile", main_df);
  auto got = build(true, {"-t", "flags:1", ctx_});
  ASSERT_EQ(got.code, 0) << got.err << got.out << d_->log();
  std::string listing = joined(files(true, "flags:1"));
  for (const char* want : {"a/b d 755 0:0\n", "a/b/b.txt - 640 0:0 5\n", "a/b/sub d 640 0:0\n",
                           "a/b/sub/c.sh - 640 0:0 17\n", "a/b/lnk l 777 0:0 -> b.txt\n", "c d 755 0:0\n",
                           "c/x - 600 0:0 6\n", "ex/b.txt - 600 0:0 5\n", "ex/keep.log - 644 0:0 5\n",
                           "par/dir d 755 0:0\n", "par/dir/sub d 755 0:0\n", "par/dir/sub/c.sh - 755 0:0 17\n",
                           "par/p d 700 0:0\n", "par/p/q/r.txt - 600 0:0 2\n", "piv/q d 755 0:0\n",
                           "piv/q/r.txt - 600 0:0 2\n", "linked - 644 7:8 6\n", "h1 - 644 0:0 8\n",
                           "hd/EOF - 644 0:0 9\n", "hd/EOT2 - 644 0:0 7\n", "add.sh - 755 0:0 10\n"})
    EXPECT_NE(listing.find(want), std::string::npos) << want << " in\n" << listing;
  for (const char* never : {"ex/y.log", "ex/sub", "ex/c.sh", "par/a.txt", "piv/p"})
    EXPECT_EQ(listing.find(std::string("\n") + never), std::string::npos) << never << " in\n" << listing;
  auto r = d_->docker({"run", "--rm", "--network", "none", "flags:1", "cat", "/h1", "/hd/EOF", "/hd/EOT2"});
  EXPECT_EQ(r.out, "home me\nraw $WHO\ntabbed\n") << r.err;

  // All cached again; a file that --exclude leaves out changes no key, a kept one does.
  std::string id1 = inspect(true, "flags:1").value("Id", "?");
  auto again = build(true, {"-t", "flags:1", ctx_});
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_EQ(again.out.find("Running in"), std::string::npos) << again.out;
  EXPECT_EQ(inspect(true, "flags:1").value("Id", "!"), id1);
  put(ctx_ + "/d/y.log", "changed\n");
  auto excluded = build(true, {"-t", "flags:2", ctx_});
  ASSERT_EQ(excluded.code, 0) << excluded.err;
  EXPECT_EQ(inspect(true, "flags:2").value("Id", "?"), id1) << excluded.out;
  // Another mode is another step.
  put(ctx_ + "/Dockerfile", std::regex_replace(main_df, std::regex("--chmod=600"), "--chmod=604"));
  auto moded = build(true, {"-t", "flags:3", ctx_});
  ASSERT_EQ(moded.code, 0) << moded.err;
  EXPECT_NE(inspect(true, "flags:3").value("Id", "?"), id1);
  EXPECT_NE(joined(files(true, "flags:3")).find("c/x - 604 0:0 6\n"), std::string::npos);

  // --chmod as dockerd's BuildKit gives it (when BuildKit runs with this dockerd's local images).
  auto bk = run_cmd({"env", "DOCKER_BUILDKIT=1", "DOCKER_CONFIG=" + d_->dir() + "/docker-config", "/usr/bin/docker",
                     "-H", "unix://" + socket(false), "build", "-f", ctx_ + "/Dockerfile.chmod", "-t", "chmod:1", ctx_},
                    "", 300);
  auto mine = build(true, {"-f", ctx_ + "/Dockerfile.chmod", "-t", "chmod:1", ctx_});
  ASSERT_EQ(mine.code, 0) << mine.err;
  if (bk.code == 0) {
    auto part = [&](bool hoist) {
      std::vector<std::string> out;
      for (auto& l : files(hoist, "chmod:1"))
        if (l.rfind("a/", 0) == 0 || l.rfind("c/", 0) == 0 || l.rfind("a ", 0) == 0 || l.rfind("c ", 0) == 0)
          out.push_back(l);
      return joined(out);
    };
    EXPECT_EQ(part(true), part(false));
  } else {
    std::cerr << "dockerd's BuildKit did not build here: " << bk.err << "\n";
  }
  // The classic builder refuses --chmod; hoist does not: BuildKit's semantics.
  auto classic = build(false, {"-f", ctx_ + "/Dockerfile.chmod", ctx_});
  EXPECT_NE(classic.code, 0);

  // --link: the copy's layer does not depend on the parent (BuildKit's cache): after a change
  // of an earlier step the same layer comes again. Without --link the copy is made on the new
  // parent (its /new, of another mode, is in the layer).
  auto last_layer = [&](const std::string& img) {
    json l = inspect(true, img)["RootFS"]["Layers"];
    return l.is_array() && !l.empty() ? l.back().get<std::string>() : std::string();
  };
  for (bool with_link : {true, false}) {
    SCOPED_TRACE(with_link ? "--link" : "no --link");
    std::string flag = with_link ? "--link " : "";
    put(ctx_ + "/Dockerfile",
        "FROM bb:1\nRUN mkdir -m 700 /new && echo one > /one\nCOPY " + flag + "a.txt /new/dir/x\n");
    auto b1 = build(true, {"-t", "link:1", ctx_});
    ASSERT_EQ(b1.code, 0) << b1.err << b1.out;
    put(ctx_ + "/Dockerfile",
        "FROM bb:1\nRUN mkdir -m 750 /new && echo two > /one\nCOPY " + flag + "a.txt /new/dir/x\n");
    auto b2 = build(true, {"-t", "link:2", ctx_});
    ASSERT_EQ(b2.code, 0) << b2.err << b2.out;
    if (with_link) EXPECT_EQ(last_layer("link:2"), last_layer("link:1"));
    else EXPECT_NE(last_layer("link:2"), last_layer("link:1"));
    auto cat = d_->docker({"run", "--rm", "--network", "none", "link:2", "cat", "/one", "/new/dir/x"});
    EXPECT_EQ(cat.out, "two\nalpha\n") << cat.err;
    EXPECT_NE(joined(files(true, "link:2")).find("new/dir/x - 644 0:0 6\n"), std::string::npos);
  }
}

// ADD of URLs (a loopback server) and of local archives, built by both daemons' classic builders:
// the same output, history (a download's hash), files, modes (0600 for a download) and mtimes
// (Last-Modified); a gzip of a text file is copied, a gzip of a tar extracted, a URL never
// extracted. Then BuildKit's --checksum: checked, its mismatch message, refused for a local file;
// the URL's content in the cache key.
TEST_F(BuildTest, AddUrlsAndArchivesAsDockerd) {
  std::string www = d_->dir() + "/www";
  put(www + "/r.txt", "remote file\n");
  put(www + "/hello.txt.gz", gzip_of("hello\n"));
  write_tar(www + "/t.tar.gz", {{"in-tar.txt", "from the tar\n"}}, true);
  for (const char* f : {"r.txt", "hello.txt.gz", "t.tar.gz"}) {
    struct timespec ts[2] = {{1700000000, 0}, {1700000000, 0}};
    ::utimensat(AT_FDCWD, (www + "/" + f).c_str(), ts, 0);
  }
  FileServer srv(www);
  ASSERT_TRUE(srv.up());
  put(ctx_ + "/hello.txt.gz", gzip_of("hello\n"));
  write_tar(ctx_ + "/t.tar.gz", {{"in-tar.txt", "from the tar\n"}}, true);
  write_tar(ctx_ + "/plain.tar", {{"plain.txt", "plain\n"}}, false);
  put(ctx_ + "/Dockerfile",
      "FROM bb:1\n"
      "ADD " + srv.url("/r.txt") + " /dl/\n"
      "ADD " + srv.url("/r.txt") + " /named\n"
      "ADD " + srv.url("/t.tar.gz") + " /tgz-url/\n"
      "ADD " + srv.url("/cd/") + " /cd/\n"
      "ADD hello.txt.gz t.tar.gz plain.tar /local/\n");
  auto want = build(false, {"-t", "add:1", ctx_});
  ASSERT_EQ(want.code, 0) << want.err << want.out;
  auto got = build(true, {"-t", "add:1", ctx_});
  ASSERT_EQ(got.code, 0) << got.err << got.out << d_->log();
  EXPECT_EQ(masked(got.out), masked(want.out));
  EXPECT_EQ(history(true, "add:1", 5), history(false, "add:1", 5));
  EXPECT_EQ(joined(files(true, "add:1")), joined(files(false, "add:1")));
  std::string listing = joined(files(true, "add:1"));
  for (const char* w : {"dl/r.txt - 600 0:0 12\n", "named - 600 0:0 12\n", "cd/named.txt - 600 0:0 12\n",
                        "local/hello.txt.gz - 644 0:0", "local/in-tar.txt - 644 0:0 13\n", "local/plain.txt - 644 0:0 6\n"})
    EXPECT_NE(listing.find(w), std::string::npos) << w << " in\n" << listing;
  auto times = [&](bool hoist) {
    return docker(hoist, {"run", "--rm", "--network", "none", "add:1", "stat", "-c", "%n %Y", "/dl/r.txt", "/named",
                          "/tgz-url/t.tar.gz"})
        .out;
  };
  EXPECT_EQ(times(true), times(false));
  EXPECT_NE(times(true).find("/dl/r.txt 1700000000\n"), std::string::npos) << times(true);

  // BuildKit's --checksum (hoistd only: dockerd 20.10's builders know no such flag).
  std::string sum = "sha256:" + run_cmd({"sha256sum", www + "/r.txt"}).out.substr(0, 64);
  put(ctx_ + "/Dockerfile", "FROM bb:1\nADD --checksum=" + sum + " " + srv.url("/r.txt") + " /ck\n");
  auto ok = build(true, {"-t", "ck:1", ctx_});
  ASSERT_EQ(ok.code, 0) << ok.err << ok.out;
  auto cached = build(true, {"-t", "ck:1", ctx_});
  EXPECT_NE(cached.out.find(" ---> Using cache\n"), std::string::npos) << cached.out;
  std::string bad = "sha256:" + std::string(64, '0');
  put(ctx_ + "/Dockerfile", "FROM bb:1\nADD --checksum=" + bad + " " + srv.url("/r.txt") + " /ck\n");
  auto mismatch = build(true, {ctx_});
  EXPECT_NE(mismatch.code, 0);
  EXPECT_NE(mismatch.err.find("digest mismatch " + sum + ": " + bad), std::string::npos) << mismatch.err;
  put(ctx_ + "/Dockerfile", "FROM bb:1\nADD --checksum=" + sum + " a.txt /ck\n");
  auto local = build(true, {ctx_});
  EXPECT_NE(local.code, 0);
  EXPECT_NE(local.err.find("checksum requires HTTP(S) or Git sources"), std::string::npos) << local.err;
  // BuildKit's --unpack: a URL's tar extracted on demand, a local one kept whole.
  put(ctx_ + "/Dockerfile", "FROM bb:1\nADD --unpack=true " + srv.url("/t.tar.gz") +
                                " /u/\nADD --unpack=false t.tar.gz /k/\n");
  auto unpack = build(true, {"-t", "unpack:1", ctx_});
  ASSERT_EQ(unpack.code, 0) << unpack.err << unpack.out;
  std::string unpacked = joined(files(true, "unpack:1"));
  EXPECT_NE(unpacked.find("u/in-tar.txt - 644 0:0 13\n"), std::string::npos) << unpacked;
  EXPECT_NE(unpacked.find("k/t.tar.gz - 644 0:0"), std::string::npos) << unpacked;
  // The URL's content is in the cache key: a changed file is fetched again into a new layer.
  put(ctx_ + "/Dockerfile", "FROM bb:1\nADD " + srv.url("/r.txt") + " /dl/\n");
  auto first = build(true, {"-t", "url:1", ctx_});
  ASSERT_EQ(first.code, 0) << first.err;
  put(www + "/r.txt", "remote file, changed\n");
  auto second = build(true, {"-t", "url:2", ctx_});
  ASSERT_EQ(second.code, 0) << second.err;
  EXPECT_EQ(second.out.find("Using cache"), std::string::npos) << second.out;
  auto r = d_->docker({"run", "--rm", "--network", "none", "url:2", "cat", "/dl/r.txt"});
  EXPECT_EQ(r.out, "remote file, changed\n");
  // A git repository's URL is cloned over git's protocols, which a plain file server does not
  // speak: libgit2's words.
  put(ctx_ + "/Dockerfile", "FROM bb:1\nADD " + srv.url("/repo.git") + " /src/\n");
  auto git = build(true, {ctx_});
  EXPECT_NE(git.code, 0);
  EXPECT_NE(git.err.find("error fetching: "), std::string::npos) << git.err;
}

// POST /build?remote=: a URL of a context tar (gzip-compressed) or of a Dockerfile alone, fetched
// by the daemon; the same stream as dockerd's. A remote that is no URL: dockerd's words.
TEST_F(BuildTest, RemoteContextAsDockerd) {
  std::string www = d_->dir() + "/www";
  write_tar(www + "/ctx.tar.gz", {{"Dockerfile", "FROM bb:1\nCOPY a.txt /\n"}, {"a.txt", "alpha\n"}}, true);
  put(www + "/Dockerfile.txt", "FROM bb:1\nENV ONLY=1\n");
  FileServer srv(www);
  ASSERT_TRUE(srv.up());
  auto post = [&](bool hoist, const std::string& query) {
    return run_cmd({"curl", "-sS", "--unix-socket", socket(hoist), "-X", "POST", "-H",
                    "Content-Type: application/x-tar", "http://localhost/v1.41/build?" + query},
                   "", 300);
  };
  for (const std::string& path : {std::string("/ctx.tar.gz"), std::string("/Dockerfile.txt")}) {
    SCOPED_TRACE(path);
    std::string query = "t=rem:1&remote=" + srv.url(path);
    auto want = post(false, query);
    auto got = post(true, query);
    ASSERT_EQ(got.code, 0) << got.err;
    EXPECT_EQ(masked(got.out), masked(want.out));
    EXPECT_NE(got.out.find("Successfully tagged rem:1"), std::string::npos) << got.out;
  }
  auto r = d_->docker({"run", "--rm", "--network", "none", "rem:1", "sh", "-c", "echo $ONLY"});
  EXPECT_EQ(r.out, "1\n");
  // Neither a URL nor a git repository (a path to a bare repository included): dockerd's words.
  for (const std::string& odd : {std::string("ftp://127.0.0.1/ctx.tar"), www + "/repo.git"}) {
    auto got_odd = post(true, "remote=" + odd);
    EXPECT_EQ(got_odd.out, post(false, "remote=" + odd).out);
    EXPECT_NE(got_odd.out.find("could not be recognized as URL"), std::string::npos) << got_odd.out;
  }
  auto gone = post(true, "remote=" + srv.url("/missing.tar"));
  EXPECT_NE(gone.out.find("failed to GET " + srv.url("/missing.tar") + " with status 404"), std::string::npos)
      << gone.out;
}

namespace {

// `git daemon` on a free loopback port serving the bare repositories under `root` (git://).
// A TCP port of the loopback that was free a moment ago.
std::string free_loopback_port() {
  auto port = run_cmd({"python3", "-c",
                       "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])"});
  return std::string(trim(port.out));
}

class GitServer {
 public:
  explicit GitServer(const std::string& root) : dir_("hoist-build-git") {
    port_ = free_loopback_port();
    proc_ = hoist::test::ChildProcess({"git", "daemon", "--reuseaddr", "--export-all", "--listen=127.0.0.1",
                                       "--port=" + port_, "--base-path=" + root, root},
                                      dir_.path() + "/log");
    for (int i = 0; i < 100; ++i) {
      if (run_cmd({"git", "ls-remote", url("/none")}).err.find("Connection refused") == std::string::npos) return;
      usleep(50000);
    }
    port_.clear();
  }
  std::string url(const std::string& path) const { return "git://127.0.0.1:" + port_ + path; }
  bool up() const { return !port_.empty(); }

 private:
  hoist::test::TempDir dir_;
  hoist::test::ChildProcess proc_;
  std::string port_;
};

// A private sshd (openssh-server) on a free loopback port, in the foreground: its own host key
// and configuration (keys only, root allowed, no PAM), `authorized_keys` the keys it lets in;
// killed with the object, its directory removed.
class SshServer {
 public:
  explicit SshServer(const std::string& authorized_keys) : dir_("hoist-build-sshd") {
    const std::string& d = dir_.path();
    // sshd's privilege separation directory (its service makes it): removed again if made here.
    made_privsep_ = ::mkdir("/run/sshd", 0755) == 0;
    if (run_cmd({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", d + "/host_key"}).code != 0) return;
    std::string port = free_loopback_port();
    put(d + "/sshd_config", "Port " + port + "\nListenAddress 127.0.0.1\nHostKey " + d + "/host_key\n" +
                                "AuthorizedKeysFile " + authorized_keys + "\nUsePAM no\nStrictModes no\n" +
                                "PermitRootLogin prohibit-password\nPasswordAuthentication no\n" +
                                "KbdInteractiveAuthentication no\nPidFile none\n");
    proc_ = hoist::test::ChildProcess({"/usr/sbin/sshd", "-D", "-e", "-f", d + "/sshd_config"}, d + "/log");
    for (int i = 0; i < 100; ++i) {
      if (run_cmd({"ssh-keyscan", "-T", "1", "-p", port, "127.0.0.1"}).out.find("ssh-ed25519") != std::string::npos) {
        port_ = port;
        return;
      }
      usleep(50000);
    }
  }
  ~SshServer() {
    proc_.stop();
    if (made_privsep_) ::rmdir("/run/sshd");
  }
  SshServer(const SshServer&) = delete;
  SshServer& operator=(const SshServer&) = delete;
  bool up() const { return !port_.empty(); }
  const std::string& port() const { return port_; }
  std::string log() const { return run_cmd({"cat", dir_.path() + "/log"}).out; }

 private:
  hoist::test::TempDir dir_;
  hoist::test::ChildProcess proc_;
  std::string port_;
  bool made_privsep_ = false;
};

CmdResult git(const std::string& dir, const std::vector<std::string>& args) {
  std::vector<std::string> argv{"git", "-C", dir, "-c", "user.name=t", "-c", "user.email=t@t",
                                "-c", "protocol.file.allow=always", "-c", "init.defaultBranch=master"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = run_cmd(argv, "", 60);
  EXPECT_EQ(r.code, 0) << r.err;
  return r;
}

// <dir>/git served by a git daemon on loopback, holding lib.git (one commit of l.txt, for a
// submodule); `work` and `lib` are the paths of the working trees beside it.
struct GitSite {
  std::string www, work, lib;
  GitServer srv;
  explicit GitSite(const std::string& dir)
      : www(dir + "/git"), work(dir + "/work"), lib(dir + "/libwork"), srv(made(www)) {
    if (!srv.up()) return;
    put(lib + "/l.txt", "from the submodule\n");
    git(lib, {"init", "-q"});
    git(lib, {"add", "."});
    git(lib, {"commit", "-qm", "lib"});
    git(dir, {"clone", "-q", "--bare", lib, www + "/lib.git"});
  }
  static const std::string& made(const std::string& d) {
    run_cmd({"mkdir", "-p", d});
    return d;
  }
};

}  // namespace

// POST /build?remote=<git URL> and `hoist build <git URL>`: the repository cloned by the daemon
// (git:// here), the fragment's branch, tag, commit and subdirectory, a submodule; the images'
// files and the stream as dockerd's, and a missing ref or subdirectory in dockerd's words.
TEST_F(BuildTest, GitContextAsDockerd) {
  if (::access("/usr/bin/git", X_OK) != 0) GTEST_SKIP() << "git is not installed";
  GitSite site(d_->dir());
  ASSERT_TRUE(site.srv.up());
  const std::string &www = site.www, &work = site.work;
  const GitServer& srv = site.srv;
  put(work + "/Dockerfile", "FROM bb:1\nCOPY a.txt lib/l.txt /got/\n");
  put(work + "/a.txt", "one\n");
  put(work + "/sub/Dockerfile", "FROM bb:1\nCOPY s.txt /got/\n");
  put(work + "/sub/s.txt", "sub one\n");
  git(work, {"init", "-q"});
  git(work, {"submodule", "add", "-q", srv.url("/lib.git"), "lib"});
  git(work, {"add", "."});
  git(work, {"commit", "-qm", "one"});
  git(work, {"tag", "v1"});
  std::string first(trim(git(work, {"rev-parse", "HEAD"}).out));
  put(work + "/a.txt", "two\n");
  put(work + "/sub/s.txt", "sub two\n");
  git(work, {"commit", "-qam", "two"});
  git(work, {"checkout", "-qb", "dev"});
  put(work + "/a.txt", "dev\n");
  git(work, {"commit", "-qam", "dev"});
  git(work, {"checkout", "-q", "master"});
  git(d_->dir(), {"clone", "-q", "--bare", work, www + "/repo.git"});

  auto post = [&](bool hoist, std::string remote) {
    for (std::size_t at; (at = remote.find('#')) != std::string::npos;) remote.replace(at, 1, "%23");
    return run_cmd({"curl", "-sS", "--unix-socket", socket(hoist), "-w", "\n%{http_code}", "-X", "POST",
                    "http://localhost/v1.41/build?t=g:1&remote=" + remote},
                   "", 300);
  };
  auto got_files = [&](bool hoist) {
    auto r = docker(hoist, {"run", "--rm", "--network", "none", "g:1", "sh", "-c", "cd /got && head *"});
    EXPECT_EQ(r.code, 0) << r.err;
    return r.out;
  };
  std::string repo = srv.url("/repo.git");
  for (const std::string& frag : {std::string(""), std::string("#dev"), std::string("#v1"), std::string("#:sub"),
                                  std::string("#v1:sub"), "#" + first}) {
    SCOPED_TRACE(frag);
    auto want = post(false, repo + frag);
    auto got = post(true, repo + frag);
    ASSERT_EQ(got.code, 0) << got.err;
    EXPECT_EQ(masked(got.out), masked(want.out));
    EXPECT_EQ(got_files(true), got_files(false));
  }
  EXPECT_EQ(got_files(true), "==> a.txt <==\none\n\n==> l.txt <==\nfrom the submodule\n");  // the first commit's
  // dockerd's words (its git's "exit status" and its temporary directory aside), status 500.
  auto words = [](std::string out) {
    out = std::regex_replace(out, std::regex("\\\\n: exit status 128"), "");
    return std::regex_replace(out, std::regex("stat /[^ ]*/none"), "stat <dir>/none");
  };
  for (const std::string& bad : {std::string("#nope"), std::string("#v1:none"), std::string("#-x")}) {
    SCOPED_TRACE(bad);
    auto want = post(false, repo + bad);
    auto got = post(true, repo + bad);
    EXPECT_EQ(words(got.out), words(want.out));
    EXPECT_EQ(got.out.substr(got.out.rfind('\n') + 1), "500");
  }

  // The CLI sends the URL as remote=.
  auto cli = hoist_cli({"build", "-q", "-t", "g:2", repo + "#dev"});
  ASSERT_EQ(cli.code, 0) << cli.err;
  auto r = docker(true, {"run", "--rm", "--network", "none", "g:2", "cat", "/got/a.txt", "/got/l.txt"});
  EXPECT_EQ(r.out, "dev\nfrom the submodule\n");
}

// ADD of a git repository (BuildKit's; dockerd 20.10's built-in BuildKit frontend reads the URL
// as a context path, so the expected trees are written out here): the remote's HEAD, a branch's
// subdirectory, a tag with --keep-git-dir, each checked out with its submodule, copied as a
// directory of the context is (owners root, git's modes, symbolic links kept), without .git
// entries unless kept; the step cached while the ref names the same commit and run again when
// it moves; a missing ref fails; COPY of a git URL is refused.
TEST_F(BuildTest, AddGitRepositoryAsBuildKit) {
  if (::access("/usr/bin/git", X_OK) != 0) GTEST_SKIP() << "git is not installed";
  GitSite site(d_->dir());
  ASSERT_TRUE(site.srv.up());
  const std::string &www = site.www, &work = site.work;
  const GitServer& srv = site.srv;
  put(work + "/a.txt", "one\n");
  put(work + "/sub/run.sh", "echo hi\n");
  run_cmd({"chmod", "0755", work + "/sub/run.sh"});
  run_cmd({"ln", "-s", "a.txt", work + "/link"});
  git(work, {"init", "-q"});
  git(work, {"submodule", "add", "-q", srv.url("/lib.git"), "lib"});
  git(work, {"add", "."});
  git(work, {"commit", "-qm", "one"});
  git(work, {"tag", "v1"});
  git(work, {"checkout", "-qb", "dev"});
  put(work + "/sub/dev.txt", "dev\n");
  git(work, {"add", "."});
  git(work, {"commit", "-qm", "dev"});
  git(work, {"checkout", "-q", "master"});
  git(d_->dir(), {"clone", "-q", "--bare", work, www + "/repo.git"});
  std::string repo = srv.url("/repo.git");
  put(ctx_ + "/Dockerfile", "FROM bb:1\n"
                            "ADD " + repo + "#dev:sub /branch/\n"
                            "ADD --keep-git-dir " + repo + "#v1 /kept\n"
                            "ADD " + repo + " /src\n");
  auto first = build(true, {"-t", "ag:1", ctx_});
  ASSERT_EQ(first.code, 0) << first.err << first.out << d_->log();
  auto tree = docker(true, {"run", "--rm", "--network", "none", "ag:1", "sh", "-c",
                            "cd /src && find . | sort | xargs stat -c '%n %a %u:%g %F'; cat /branch/dev.txt; ls -A /branch; "
                            "test -d /kept/.git && test -e /kept/lib/.git && echo kept; ls /kept/lib"});
  ASSERT_EQ(tree.code, 0) << tree.err;
  EXPECT_EQ(tree.out,
            ". 755 0:0 directory\n"
            "./.gitmodules 644 0:0 regular file\n"
            "./a.txt 644 0:0 regular file\n"
            "./lib 755 0:0 directory\n"
            "./lib/l.txt 644 0:0 regular file\n"
            "./link 777 0:0 symbolic link\n"
            "./sub 755 0:0 directory\n"
            "./sub/run.sh 755 0:0 regular file\n"
            "dev\ndev.txt\nrun.sh\nkept\nl.txt\n");
  // Cached by the commit: the same build again; then master moves and its step runs again.
  auto again = build(true, {"-t", "ag:1", ctx_});
  ASSERT_EQ(again.code, 0) << again.err;
  std::size_t hits = 0;
  for (std::size_t at = 0; (at = again.out.find(" ---> Using cache", at)) != std::string::npos; ++at) ++hits;
  EXPECT_EQ(hits, 3u) << again.out;
  std::string head(trim(git(work, {"rev-parse", "HEAD"}).out));
  EXPECT_NE(docker(true, {"history", "--no-trunc", "ag:1"}).out.find("ADD git:" + head + " in /src"), std::string::npos);
  put(work + "/a.txt", "two\n");
  git(work, {"commit", "-qam", "two"});
  git(work, {"push", "-q", www + "/repo.git", "master"});
  auto moved = build(true, {"-t", "ag:2", ctx_});
  ASSERT_EQ(moved.code, 0) << moved.err;
  hits = 0;
  for (std::size_t at = 0; (at = moved.out.find(" ---> Using cache", at)) != std::string::npos; ++at) ++hits;
  EXPECT_EQ(hits, 2u) << moved.out;
  EXPECT_EQ(docker(true, {"run", "--rm", "--network", "none", "ag:2", "cat", "/src/a.txt"}).out, "two\n");

  put(ctx_ + "/Dockerfile", "FROM bb:1\nADD " + repo + "#nope /src\n");
  auto missing = build(true, {ctx_});
  EXPECT_NE(missing.code, 0);
  EXPECT_NE(missing.err.find("couldn't find remote ref nope"), std::string::npos) << missing.err << missing.out;
  put(ctx_ + "/Dockerfile", "FROM bb:1\nCOPY " + repo + " /src\n");
  auto copy = build(true, {ctx_});
  EXPECT_NE(copy.code, 0);
  EXPECT_NE(copy.err.find("COPY of a git repository (" + repo + ") is not supported yet"), std::string::npos) << copy.err;
}

// ADD of an ssh git URL as BuildKit's: fetched with the client's default agent, which `hoist
// build --ssh` forwards (its identities listed and signing through the build's session), the
// host key not checked; a private sshd serves a bare repository to the agent's key only. The
// branch's tree is in the image and the step is cached by the commit; the agent's identities are
// tried in turn (an RSA key is refused: libssh2 1.10 signs ssh-rsa); without --ssh (hoist's CLI or
// docker's), BuildKit's words, and no socket of the build is left.
TEST_F(BuildTest, AddSshGitRepositoryWithTheForwardedAgent) {
  if (::access("/usr/bin/git", X_OK) != 0 || ::access("/usr/sbin/sshd", X_OK) != 0 ||
      !hoist::test::TestSshAgent::available())
    GTEST_SKIP() << "git, openssh-server or openssh-client is not installed";
  hoist::test::TestSshAgent agent(d_->dir(), "hoist-git@key");
  std::string keys = d_->dir() + "/authorized_keys";
  ASSERT_EQ(run_cmd({"cp", agent.key() + ".pub", keys}).code, 0);
  SshServer sshd(keys);
  ASSERT_TRUE(sshd.up()) << sshd.log();
  std::string work = d_->dir() + "/sshwork", bare = d_->dir() + "/ssh/repo.git";
  put(work + "/a.txt", "one\n");
  git(work, {"init", "-q"});
  git(work, {"add", "."});
  git(work, {"commit", "-qm", "one"});
  git(work, {"checkout", "-qb", "dev"});
  put(work + "/sub/dev.txt", "dev\n");
  git(work, {"add", "."});
  git(work, {"commit", "-qm", "dev"});
  git(d_->dir(), {"clone", "-q", "--bare", work, bare});
  std::string url = "ssh://root@127.0.0.1:" + sshd.port() + bare;
  put(ctx_ + "/Dockerfile", "FROM bb:1\nADD " + url + "#dev /src\n");
  std::vector<std::string> args{"build", "--ssh", "default=" + agent.socket(), "-t", "sg:1", ctx_};
  auto got = hoist_cli(args);
  ASSERT_EQ(got.code, 0) << got.err << got.out << d_->log() << sshd.log();
  auto tree = docker(true, {"run", "--rm", "--network", "none", "sg:1", "sh", "-c",
                            "cd /src && find . | sort | xargs stat -c '%n %a %u:%g %F'; cat sub/dev.txt"});
  ASSERT_EQ(tree.code, 0) << tree.err;
  EXPECT_EQ(tree.out,
            ". 755 0:0 directory\n"
            "./a.txt 644 0:0 regular file\n"
            "./sub 755 0:0 directory\n"
            "./sub/dev.txt 644 0:0 regular file\n"
            "dev\n");
  std::string dev(trim(git(work, {"rev-parse", "dev"}).out));
  EXPECT_NE(docker(true, {"history", "--no-trunc", "sg:1"}).out.find("ADD git:" + dev + " in /src"), std::string::npos);
  auto id = [&](const std::string& image) {
    return docker(true, {"image", "inspect", "-f", "{{.Id}}", image}).out;
  };
  auto cat_file = [&](const std::string& image, const std::string& path) {
    return docker(true, {"run", "--rm", "--network", "none", image, "cat", path}).out;
  };
  args[4] = "sg:2";
  got = hoist_cli(args);
  ASSERT_EQ(got.code, 0) << got.err << got.out;
  EXPECT_EQ(id("sg:2"), id("sg:1"));  // cached: the same commit
  EXPECT_EQ(run_cmd({"sh", "-c", "ls -A " + d_->exec_root() + "/build-ssh 2>/dev/null; true"}).out, "");

  // An agent holding an RSA key the server knows: refused, as libssh2 1.10 signs with SHA-1
  // (ssh-rsa), which OpenSSH refuses; with an ECDSA key after it, that one is tried next and let in.
  std::string rsa = d_->dir() + "/rsa", ec = d_->dir() + "/ec";
  ASSERT_EQ(run_cmd({"ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", rsa}).code, 0);
  ASSERT_EQ(run_cmd({"ssh-keygen", "-q", "-t", "ecdsa", "-N", "", "-f", ec}).code, 0);
  ASSERT_EQ(run_cmd({"sh", "-c", "cat " + rsa + ".pub " + ec + ".pub >> " + keys}).code, 0);
  std::string add = "SSH_AUTH_SOCK=" + agent.socket() + " ssh-add -q ";
  ASSERT_EQ(run_cmd({"sh", "-c", add + "-D && " + add + rsa}).code, 0);
  std::vector<std::string> again{"build", "--no-cache", "--ssh", "default=" + agent.socket(), "-t", "sg:3", ctx_};
  got = hoist_cli(again);
  EXPECT_NE(got.code, 0);
  EXPECT_NE(got.err.find("Permission denied (publickey): no identity of the forwarded SSH agent was accepted (an "
                         "RSA key signs with SHA-1"),
            std::string::npos)
      << got.err << got.out;
  ASSERT_EQ(run_cmd({"sh", "-c", add + ec}).code, 0);
  got = hoist_cli(again);
  ASSERT_EQ(got.code, 0) << got.err << got.out << sshd.log();
  EXPECT_EQ(cat_file("sg:3", "/src/sub/dev.txt"), "dev\n");

  std::string refused = "no SSH key \"default\" forwarded from the client";
  auto none = hoist_cli({"build", ctx_});
  EXPECT_NE(none.code, 0);
  EXPECT_NE(none.err.find(refused), std::string::npos) << none.err << none.out;
  auto classic = build(true, {ctx_});
  EXPECT_NE(classic.code, 0);
  EXPECT_NE(classic.err.find(refused), std::string::npos) << classic.err << classic.out;
}

// FROM and COPY --from of images that are not in the store: pulled from a registry that wants a
// login (the docker CLI's X-Registry-Config), the pull's messages in the output as dockerd's;
// --pull pulls an image that is there again. Both daemons build the same Dockerfile.
TEST_F(BuildTest, PullsMissingImagesAsDockerd) {
  if (!hoist::test::registry_tools_missing().empty()) GTEST_SKIP() << hoist::test::registry_tools_missing();
  hoist::test::LocalRegistry reg(hoist::test::LocalRegistry::Mode::Htpasswd);
  auto login = d_->docker({"login", "-u", reg.user(), "--password-stdin", reg.host()}, reg.password() + "\n");
  ASSERT_EQ(login.code, 0) << login.err;
  std::string one = reg.host() + "/priv/bb:1", two = reg.host() + "/priv/bb:2";
  for (const std::string& ref : {one, two}) {
    ASSERT_EQ(d_->docker({"tag", "bb:1", ref}).code, 0);
    auto push = d_->docker({"push", ref});
    ASSERT_EQ(push.code, 0) << push.err << push.out;
    ASSERT_EQ(d_->docker({"rmi", ref}).code, 0);
  }
  put(ctx_ + "/Dockerfile", "FROM " + one + "\nCOPY --from=" + two + " /bin/busybox /bb2\n");
  // The lines a user reads, without the layers' own ("<id>: Pull complete"), which come in the
  // order the downloads end.
  auto shown = [&](const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(masked(text));
    for (std::string l; std::getline(in, l);)
      if (l.rfind("<id>: ", 0) != 0) out.push_back(l);
    return joined(out);
  };
  auto want = build(false, {"-t", "pulled:1", ctx_});
  ASSERT_EQ(want.code, 0) << want.err << want.out;
  auto got = build(true, {"-t", "pulled:1", ctx_});
  ASSERT_EQ(got.code, 0) << got.err << got.out << d_->log();
  EXPECT_EQ(shown(got.out), shown(want.out));
  for (const std::string& w : {std::string("1: Pulling from priv/bb\n"), "Status: Downloaded newer image for " + one + "\n",
                               "Status: Downloaded newer image for " + two + "\n", std::string("Digest: sha256:")})
    EXPECT_NE(got.out.find(w), std::string::npos) << w << " in\n" << got.out;
  EXPECT_NE(trim(d_->docker({"images", "-q", one}).out), "") << "the pulled base stays";
  // --pull: pulled again, up to date; the steps cached.
  auto again = build(true, {"--pull", "-t", "pulled:1", ctx_});
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_NE(again.out.find("Status: Image is up to date for " + one + "\n"), std::string::npos) << again.out;
  EXPECT_NE(again.out.find(" ---> Using cache\n"), std::string::npos) << again.out;
  // Pushed (the COPY step's layer blob made then, from its snapshot) and pulled by dockerd.
  {
    std::string built = reg.host() + "/priv/built:1";
    ASSERT_EQ(d_->docker({"tag", "pulled:1", built}).code, 0);
    auto push = d_->docker({"push", built});
    ASSERT_EQ(push.code, 0) << push.err << push.out;
    ASSERT_EQ(dockerd_->docker({"login", "-u", reg.user(), "--password-stdin", reg.host()}, reg.password() + "\n").code, 0);
    auto pull = dockerd_->docker({"pull", built});
    ASSERT_EQ(pull.code, 0) << pull.err << pull.out;
    auto cmp = dockerd_->docker({"run", "--rm", "--network", "none", built, "cmp", "/bin/busybox", "/bb2"});
    EXPECT_EQ(cmp.code, 0) << cmp.err << cmp.out;
    dockerd_->docker({"rmi", built});
  }
  // The raw stream of a FROM that pulls: dockerd's JSON lines, their keys in its order. The
  // lines of the layer itself differ in number and kind (hoistd unpacks while it downloads): they
  // have dockerd's shape; every other line is dockerd's, byte for byte (ids masked).
  {
    json config = {{reg.host(), {{"username", reg.user()}, {"password", reg.password()}}}};
    std::string auth(trim(run_cmd({"base64", "-w0"}, config.dump()).out));
    std::string tar = d_->dir() + "/from-two.tar";
    write_tar(tar, {{"Dockerfile", "FROM " + two + "\n"}});
    std::regex layer_line(R"(\{"status":"[A-Za-z ]+","progressDetail":\{("current":[0-9]+,"total":[0-9]+)?\})"
                          R"((,"progress":"[^"]*")?,"id":"<id>"\}\r?)");
    auto raw = [&](bool hoist) {
      EXPECT_EQ(docker(hoist, {"rmi", two}).code, 0);
      auto r = run_cmd({"curl", "-sS", "--unix-socket", socket(hoist), "-X", "POST", "-H",
                        "Content-Type: application/x-tar", "-H", "X-Registry-Config: " + auth, "--data-binary",
                        "@" + tar, "http://localhost/v1.41/build?t=rawpull:1"},
                       "", 300);
      std::vector<std::string> lines;
      std::istringstream in(masked(r.out));
      for (std::string l; std::getline(in, l);) {
        if (l.find("\"id\":\"<id>\"") != std::string::npos) {
          EXPECT_TRUE(std::regex_match(l, layer_line)) << l;
          continue;
        }
        lines.push_back(l);
      }
      return joined(lines);
    };
    std::string want_raw = raw(false), got_raw = raw(true);
    EXPECT_EQ(got_raw, want_raw);
    EXPECT_NE(got_raw.find("{\"status\":\"Pulling from priv/bb\",\"id\":\"2\"}"), std::string::npos) << got_raw;
  }
  // Without the login the registry refuses: the build says so.
  d_->docker({"logout", reg.host()});
  ASSERT_EQ(d_->docker({"rmi", one}).code, 0);
  auto anon = build(true, {ctx_});
  EXPECT_NE(anon.code, 0) << anon.out;
  EXPECT_NE(anon.err.find(reg.host()), std::string::npos) << anon.err;
}

// X-Hoist-Context-Stat (docs/api.md): the named entry is read and removed before the build sees
// the context; a name that is not a top-level regular file, or an entry that is not the stat
// list's JSON, is a 400 before any output.
TEST_F(BuildTest, ContextStatEntryIsCheckedAndHidden) {
  auto tar_with = [&](const std::string& stat_name, const std::string& stat) {
    std::string tar = ctx_ + "/../stat-" + std::to_string(std::hash<std::string>{}(stat_name + stat)) + ".tar";
    std::vector<std::pair<std::string, std::string>> entries{{"Dockerfile", "FROM bb:1\nCOPY . /ctx/\n"},
                                                             {"a.txt", "alpha\n"}};
    if (!stat_name.empty()) entries.emplace_back(stat_name, stat);
    write_tar(tar, entries);
    return tar;
  };
  auto post = [&](const std::string& tar, const std::string& header) {
    return run_cmd({"curl", "-sS", "-o", "/dev/stdout", "-w", "\n%{http_code}", "--unix-socket", socket(true), "-X",
                    "POST", "-H", "Content-Type: application/x-tar", "-H", "X-Hoist-Context-Stat: " + header,
                    "--data-binary", "@" + tar, "http://localhost/v1.41/build?t=statctx:1"},
                   "", 300);
  };
  std::string good = R"({"started": 1, "files": {"a.txt": [1, 2, 6, 3, 4]}})";
  auto ok = post(tar_with(".st", good), ".st");
  ASSERT_EQ(ok.code, 0) << ok.err;
  EXPECT_EQ(ok.out.substr(ok.out.rfind('\n') + 1), "200") << ok.out;
  auto ls = d_->docker({"run", "--rm", "--network", "none", "statctx:1", "ls", "-a", "/ctx"});
  EXPECT_EQ(ls.out, ".\n..\nDockerfile\na.txt\n") << ls.err;
  for (auto [name, stat, header, words] : std::vector<std::tuple<std::string, std::string, std::string, std::string>>{
           {"", "", ".missing", "the context has no file .missing"},
           {".st", good, "sub/.st", "not a top-level name"},
           {".st", good, "..", "not a top-level name"},
           {".st", "not json", ".st", "the build context's stat entry is malformed"}}) {
    SCOPED_TRACE(header);
    auto r = post(tar_with(name, stat), header);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out.substr(r.out.rfind('\n') + 1), "400") << r.out;
    EXPECT_NE(r.out.find(words), std::string::npos) << r.out;
  }
}

// --platform: the host's, however spelled, is built (both daemons); one that does not parse is
// dockerd's 400. Another platform than the base image's is refused with dockerd's words for an
// image of another platform (dockerd 20.10's classic builder builds it on the amd64 image, with
// no check); FROM --platform too. The platform ARGs have BuildKit's values (dockerd 20.10's
// classic builder leaves them empty).
TEST_F(BuildTest, PlatformAsDockerd) {
  if (trim(run_cmd({"uname", "-m"}).out) != "x86_64") GTEST_SKIP() << "written for an amd64 host";
  put(ctx_ + "/Dockerfile", "FROM bb:1\nRUN true\n");
  for (const char* p : {"linux/amd64", "linux/x86_64", "amd64", "linux"}) {
    auto want = build(false, {"--platform", p, "-q", ctx_});
    EXPECT_EQ(want.code, 0) << p << want.err;
    auto got = build(true, {"--platform", p, "-q", ctx_});
    EXPECT_EQ(got.code, 0) << p << got.err << d_->log();
  }
  auto want = build(false, {"--platform", "foo/bar/baz/q", ctx_});
  auto got = build(true, {"--platform", "foo/bar/baz/q", ctx_});
  EXPECT_NE(got.code, 0);
  EXPECT_EQ(got.err, want.err);
  EXPECT_NE(got.err.find("\"foo/bar/baz/q\": cannot parse platform specifier: invalid argument"), std::string::npos)
      << got.err;

  auto arm = build(true, {"--platform", "linux/arm64", ctx_});
  EXPECT_NE(arm.code, 0) << arm.out;
  const std::string mismatch =
      "image with reference bb:1 was found but does not match the specified platform: wanted linux/arm64, actual: "
      "linux/amd64";
  EXPECT_NE(arm.err.find(mismatch), std::string::npos) << arm.err << arm.out;
  put(ctx_ + "/Dockerfile", "FROM --platform=linux/arm64 bb:1\nRUN true\n");
  arm = build(true, {ctx_});
  EXPECT_NE(arm.err.find(mismatch), std::string::npos) << arm.err << arm.out;
  put(ctx_ + "/Dockerfile", "FROM scratch\nCOPY a /a\n");
  arm = build(true, {"--platform", "linux/arm64", ctx_});
  EXPECT_NE(arm.err.find("building FROM scratch for linux/arm64 on a linux/amd64 host is not supported yet"),
            std::string::npos)
      << arm.err << arm.out;

  // The platform ARGs (BuildKit's): the target's from --platform, the builder's the host's.
  put(ctx_ + "/Dockerfile",
      "ARG BUILDPLATFORM\nFROM --platform=$BUILDPLATFORM bb:1\nARG TARGETPLATFORM\nARG TARGETOS\nARG TARGETARCH\n"
      "ARG TARGETVARIANT\nARG BUILDPLATFORM\nARG BUILDOS\nARG BUILDARCH\n"
      "RUN echo \"$TARGETPLATFORM $TARGETOS $TARGETARCH <$TARGETVARIANT> $BUILDPLATFORM $BUILDOS $BUILDARCH\" > /p\n");
  auto args = build(true, {"--platform", "linux/x86_64", "-t", "plat:1", ctx_});
  ASSERT_EQ(args.code, 0) << args.err << args.out;
  auto r = d_->docker({"run", "--rm", "--network", "none", "plat:1", "cat", "/p"});
  EXPECT_EQ(r.out, "linux/amd64 linux amd64 <> linux/amd64 linux amd64\n") << r.err;
  d_->docker({"rmi", "plat:1"});
}
