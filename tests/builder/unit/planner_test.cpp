// The build plan: stages, --target, which stages a target needs, the parallel levels and the
// scheduler, FROM's expansion with the global ARGs, and the unconsumed build-args warning.
// Messages marked "dockerd" were taken from dockerd 20.10's classic builder.
#include "builder/planner.h"

#include <gtest/gtest.h>

using namespace hoist::builder;

namespace {

std::unique_ptr<Plan> plan(const std::string& text, const std::string& target = "",
                           std::map<std::string, std::optional<std::string>> args = {}) {
  BuildRequest req;
  req.dockerfile = text;
  req.target = target;
  req.args.values = std::move(args);
  return plan_build(req);
}

std::string plan_error(const std::string& text, const std::string& target = "") {
  try {
    plan(text, target);
  } catch (const DockerfileError& e) {
    return e.what();
  }
  return "(no error)";
}

std::vector<int> needed(const Plan& p) {
  std::vector<int> out;
  for (auto& s : p.stages)
    if (s.needed) out.push_back(s.index);
  return out;
}

const char* kMulti =
    "FROM busybox AS base\n"               // 0
    "RUN touch /base\n"
    "FROM base AS deps\n"                  // 1: base
    "RUN touch /deps\n"
    "FROM busybox AS tools\n"              // 2: independent
    "RUN touch /tools\n"
    "FROM busybox AS unused\n"             // 3: nobody needs it
    "RUN false\n"
    "FROM deps AS build\n"                 // 4: deps, tools (copy), base (mount)
    "COPY --from=tools /tools /\n"
    "RUN --mount=type=bind,from=base,target=/b ls /b\n"
    "FROM alpine:3 AS final\n"             // 5: build (by index), image nginx
    "COPY --from=4 /deps /\n"
    "COPY --from=nginx:1 /etc/nginx /etc/nginx\n";

}  // namespace

TEST(Planner, StagesAndDependencies) {
  auto p = plan(kMulti);
  ASSERT_EQ(p->stages.size(), 6u);
  EXPECT_EQ(p->target, 5);
  EXPECT_EQ(p->stages[1].from.kind, SourceRef::Stage);
  EXPECT_EQ(p->stages[1].from.stage, 0);
  EXPECT_EQ(p->stages[0].from.kind, SourceRef::Image);
  EXPECT_EQ(p->stages[0].from.image, "busybox");
  EXPECT_EQ(p->stages[4].deps, (std::set<int>{0, 1, 2}));
  EXPECT_EQ(p->stages[5].deps, (std::set<int>{4}));
  EXPECT_EQ(p->stages[5].images, (std::set<std::string>{"nginx:1"}));
  EXPECT_EQ(needed(*p), (std::vector<int>{0, 1, 2, 4, 5}));
  EXPECT_EQ(p->levels(), (std::vector<std::vector<int>>{{0, 2}, {1}, {4}, {5}}));
  // --target: case-insensitive; only what it needs.
  p = plan(kMulti, "DEPS");
  EXPECT_EQ(p->target, 1);
  EXPECT_EQ(needed(*p), (std::vector<int>{0, 1}));
  EXPECT_EQ(p->levels(), (std::vector<std::vector<int>>{{0}, {1}}));
  p = plan(kMulti, "unused");
  EXPECT_EQ(needed(*p), std::vector<int>{3});
  // FROM scratch, and FROM naming a later stage is an image (dockerd's classic builder).
  p = plan("FROM scratch\nFROM later\nFROM busybox AS later\n", "");
  EXPECT_EQ(p->stages[0].from.kind, SourceRef::Scratch);
  EXPECT_EQ(p->stages[1].from.kind, SourceRef::Image);
}

TEST(Planner, Scheduler) {
  auto p = plan(kMulti);
  Scheduler s(*p);
  EXPECT_EQ(s.ready(), (std::vector<int>{0, 2}));
  EXPECT_TRUE(s.ready().empty());  // each handed out once
  s.done(2);
  EXPECT_TRUE(s.ready().empty());  // 4 still waits for 0 and 1
  s.done(0);
  EXPECT_EQ(s.ready(), std::vector<int>{1});
  s.done(1);
  EXPECT_EQ(s.ready(), std::vector<int>{4});
  // An ONBUILD trigger of stage 4's base copies from the unused stage: it is needed now.
  s.add_dependency(4, 3);
  EXPECT_EQ(s.ready(), std::vector<int>{3});
  s.done(3);
  s.done(4);
  EXPECT_FALSE(s.finished());
  EXPECT_EQ(s.ready(), std::vector<int>{5});
  s.done(5);
  EXPECT_TRUE(s.finished());
}

TEST(Planner, GlobalArgsInFrom) {
  auto p = plan("ARG REG=docker.io\nARG IMG=${REG}/library/busybox\nARG TAG\nFROM ${IMG}:${TAG:-latest}\n", "",
                {{"TAG", "1.36"}});
  EXPECT_EQ(p->stages[0].base, "docker.io/library/busybox:1.36");
  // The platform args are set for FROM.
  BuildRequest req;
  req.dockerfile = "FROM --platform=$BUILDPLATFORM img-$TARGETARCH AS b\n";
  req.args.target = {"linux", "arm64", ""};
  req.args.build = {"linux", "amd64", ""};
  p = plan_build(req);
  EXPECT_EQ(p->stages[0].base, "img-arm64");
  EXPECT_EQ(p->stages[0].platform->str(), "linux/amd64");
  // dockerd's words.
  EXPECT_EQ(plan_error("ARG B=busybox\nFROM ${C}\n"), "base name (${C}) should not be blank");
  EXPECT_EQ(plan_error("FROM --platform=windows/amd64 x\n"), "unsupported os windows");
  EXPECT_EQ(plan_error("FROM --platform=a/b/c/d x\n"),
            "failed to parse platform a/b/c/d: \"a/b/c/d\": unknown operating system or architecture: invalid argument");
}

TEST(Planner, ErrorsAsDocker) {
  // dockerd.
  EXPECT_EQ(plan_error("FROM busybox\n", "foo"), "failed to reach build target foo in Dockerfile");
  EXPECT_EQ(plan_error("FROM busybox AS a\nFROM busybox AS A\n"), "a stage name already used");
  EXPECT_EQ(plan_error("FROM busybox\nCOPY --from=1 a.txt /\n"), "invalid from flag value 1: index out of bounds");
  EXPECT_EQ(plan_error("FROM busybox\nCOPY --from=0 a.txt /\n"), "invalid from flag value 0: refers to current build stage");
  EXPECT_EQ(plan_error("ARG A=1\n"), "No image was generated. Is your Dockerfile empty?");
  // BuildKit's (dockerd 20.10 would take these as image names).
  EXPECT_EQ(plan_error("FROM busybox AS a\nCOPY --from=b x /\nFROM busybox AS b\n"),
            "cannot copy from stage \"b\", it needs to be defined before current stage \"a\"");
  EXPECT_EQ(plan_error("FROM busybox AS a\nCOPY --from=$X x /\n"),
            "variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a "
            "workaround");
  EXPECT_EQ(plan_error("FROM busybox AS a\nRUN --mount=from=a,target=/m true\n"),
            "cannot mount from stage \"a\" to \"/m\", stage needs to be defined before current command");
  try {
    plan("FROM busybox AS a\n\nCOPY --from=a x /\n");
    FAIL();
  } catch (const DockerfileError& e) {
    EXPECT_EQ(e.line(), 3);
    EXPECT_EQ(e.file(), "Dockerfile");
  }
}

TEST(Planner, UnconsumedBuildArgs) {
  // dockerd: "[Warning] One or more build-args [UNUSED] were not consumed" (proxies never count).
  auto p = plan("ARG G\nFROM busybox\nARG A\n", "", {{"A", "1"}, {"G", "2"}, {"UNUSED", "3"}, {"HTTP_PROXY", "p"}});
  ASSERT_EQ(p->warnings.size(), 1u);
  EXPECT_EQ(p->warnings[0], "[Warning] One or more build-args [UNUSED] were not consumed\n");
  // An ARG of a stage the target does not need does not consume.
  p = plan("FROM busybox AS a\nARG X\nFROM busybox\n", "", {{"X", "1"}, {"Y", std::nullopt}});
  ASSERT_EQ(p->warnings.size(), 1u);
  EXPECT_EQ(p->warnings[0], "[Warning] One or more build-args [X Y] were not consumed\n");
  EXPECT_TRUE(plan("FROM busybox\nARG X\n", "", {{"X", "1"}})->warnings.empty());
}

TEST(Planner, LabelsFromOptions) {
  BuildRequest req;
  req.dockerfile = "FROM busybox AS a\nFROM busybox AS b\n";
  req.target = "a";
  req.labels = {{"z", "$x"}, {"a", "1"}};
  auto p = plan_build(req);
  auto& cmds = p->dockerfile.stages[0].commands;
  ASSERT_EQ(cmds.size(), 2u);
  EXPECT_EQ(cmds[0].original, "LABEL a=1");
  EXPECT_EQ(cmds[1].original, "LABEL z=$x");
  EXPECT_TRUE(cmds[1].no_expand);
  EXPECT_TRUE(p->dockerfile.stages[1].commands.empty());
}
