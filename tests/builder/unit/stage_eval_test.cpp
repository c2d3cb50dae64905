// The stage evaluator: substitution per instruction, ARG scoping, the config after each step,
// created_by texts and empty layers, and cache keys. Every created_by and config below marked
// "dockerd" was taken from dockerd 20.10's classic builder (DOCKER_BUILDKIT=0 docker build, then
// the image's history and config) for the same Dockerfile on busybox imported from a rootfs tar
// (a base without config: PATH comes from the builder).
#include "builder/stage_eval.h"

#include <gtest/gtest.h>

#include "builder/cache_key.h"
#include "builder/history.h"
#include "builder/source_hash.h"

#include <sys/stat.h>

using namespace hoist::builder;

namespace {

using V = std::vector<std::string>;

struct Built {
  std::vector<Step> steps;
  ImageConfig config;
};

Built run_stage(const std::string& text, std::map<std::string, std::optional<std::string>> args = {},
                const ImageConfig& base = {}, int stage = -1) {
  BuildRequest req;
  req.dockerfile = text;
  req.args.values = std::move(args);
  auto plan = plan_build(req);
  StageEvaluator ev(*plan, stage < 0 ? plan->target : stage, base);
  Built b;
  while (!ev.done()) b.steps.push_back(ev.next());
  b.config = ev.config();
  return b;
}

// created_by of each step (COPY/ADD with the sources' hashes given).
V history(const Built& b, const std::vector<std::vector<std::string>>& copy_hashes = {}) {
  V out;
  std::size_t c = 0;
  for (auto& s : b.steps)
    out.push_back(s.action == Step::Action::Copy ? copy_created_by(s, copy_hashes.at(c++)) : created_by(s.container_cmd));
  return out;
}

std::string eval_error(const std::string& text, std::map<std::string, std::optional<std::string>> args = {}) {
  try {
    run_stage(text, std::move(args));
  } catch (const DockerfileError& e) {
    return e.what();
  }
  return "(no error)";
}

const std::string kAFile = "file:00ec16333078d287782d462baefc8bb9eb0231dc3aefba3ca3e2f7e5cf0cadda";
const std::string kDir = "dir:b143dff294650fd814132c27b5be677429f5583e898e432a98eac0a30b849d40";

}  // namespace

TEST(StageEval, EveryInstructionAsDockerd) {
  auto b = run_stage(
      "FROM busybox\n"
      "MAINTAINER Jane <j@x>\n"
      "ARG A=1\n"
      "ARG B\n"
      "ENV E1=v1 E2=\"two words\"\n"
      "ENV OLD old style value\n"
      "LABEL l1=x \"l 2\"=y\n"
      "LABEL oldlabel some value\n"
      "EXPOSE 80 443/udp 8000-8001\n"
      "USER nobody\n"
      "USER root\n"
      "WORKDIR /w\n"
      "WORKDIR rel\n"
      "WORKDIR /tmp\n"
      "RUN echo hi\n"
      "RUN [\"echo\", \"exec\"]\n"
      "RUN echo $A > /a\n"
      "COPY a.txt /x/\n"
      "COPY --chown=1:2 a.txt dir /y/\n"
      "ADD a.txt /z\n"
      "VOLUME /v1 /v2\n"
      "VOLUME [\"/v3\"]\n"
      "STOPSIGNAL SIGTERM\n"
      "HEALTHCHECK --interval=5s --retries=3 CMD wget -q localhost\n"
      "ONBUILD RUN echo onbuild\n"
      "SHELL [\"/bin/sh\", \"-ec\"]\n"
      "ENV AFTER=shell\n"
      "CMD echo cmd\n"
      "ENTRYPOINT [\"/bin/echo\", \"e\"]\n",
      {{"B", "bee"}, {"UNUSED", "1"}, {"HTTP_PROXY", "http://p"}});
  EXPECT_EQ(history(b, {{kAFile}, {kAFile, kDir}, {kAFile}}),
            (V{"/bin/sh -c #(nop)  MAINTAINER Jane <j@x>",
               "/bin/sh -c #(nop)  ARG A=1",
               "/bin/sh -c #(nop)  ARG B",
               "/bin/sh -c #(nop)  ENV E1=v1 E2=two words",
               "/bin/sh -c #(nop)  ENV OLD=old style value",
               "/bin/sh -c #(nop)  LABEL l1=x l 2=y",
               "/bin/sh -c #(nop)  LABEL oldlabel=some value",
               "/bin/sh -c #(nop)  EXPOSE 443/udp 80 8000-8001",
               "/bin/sh -c #(nop)  USER nobody",
               "/bin/sh -c #(nop)  USER root",
               "/bin/sh -c #(nop) WORKDIR /w",
               "/bin/sh -c #(nop) WORKDIR /w/rel",
               "/bin/sh -c #(nop) WORKDIR /tmp",
               "|2 A=1 B=bee /bin/sh -c echo hi",
               "|2 A=1 B=bee echo exec",
               "|2 A=1 B=bee /bin/sh -c echo $A > /a",
               "/bin/sh -c #(nop) COPY " + kAFile + " in /x/ ",
               "/bin/sh -c #(nop) COPY --chown=1:2multi:b34a2b7b515448443c1c99dffd30224af0730c5f5beb18e97b0bb7b86919adf9 in /y/ ",
               "/bin/sh -c #(nop) ADD " + kAFile + " in /z ",
               "/bin/sh -c #(nop)  VOLUME [/v1 /v2]",
               "/bin/sh -c #(nop)  VOLUME [/v3]",
               "/bin/sh -c #(nop)  STOPSIGNAL SIGTERM",
               "/bin/sh -c #(nop)  HEALTHCHECK &{[\"CMD-SHELL\" \"wget -q localhost\"] \"5s\" \"0s\" \"0s\" '\\x03'}",
               "/bin/sh -c #(nop)  ONBUILD RUN echo onbuild",
               "/bin/sh -ec #(nop)  SHELL [/bin/sh -ec]",
               "/bin/sh -ec #(nop)  ENV AFTER=shell",
               "/bin/sh -ec #(nop)  CMD [\"/bin/sh\" \"-ec\" \"echo cmd\"]",
               "/bin/sh -ec #(nop)  ENTRYPOINT [\"/bin/echo\" \"e\"]"}));
  // dockerd's config.
  auto& c = b.config;
  EXPECT_EQ(c.env, (V{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "E1=v1", "E2=two words",
                      "OLD=old style value", "AFTER=shell"}));
  EXPECT_EQ(c.user, "root");
  EXPECT_EQ(*c.exposed_ports, (std::set<std::string>{"443/udp", "80/tcp", "8000/tcp", "8001/tcp"}));
  EXPECT_EQ(*c.cmd, (V{"/bin/sh", "-ec", "echo cmd"}));
  EXPECT_EQ(*c.entrypoint, (V{"/bin/echo", "e"}));
  EXPECT_EQ(c.working_dir, "/tmp");
  EXPECT_EQ(*c.volumes, (std::set<std::string>{"/v1", "/v2", "/v3"}));
  EXPECT_EQ(*c.on_build, V{"RUN echo onbuild"});
  EXPECT_EQ(*c.labels, (std::map<std::string, std::string>{{"l 2", "y"}, {"l1", "x"}, {"oldlabel", "some value"}}));
  EXPECT_EQ(c.stop_signal, "SIGTERM");
  EXPECT_EQ(*c.shell, (V{"/bin/sh", "-ec"}));
  EXPECT_EQ(c.healthcheck->test, (V{"CMD-SHELL", "wget -q localhost"}));
  EXPECT_EQ(c.healthcheck->interval, 5000000000);
  EXPECT_EQ(c.healthcheck->retries, 3);
  // What the executor gets for RUN: the proxy reaches the container, not the history.
  auto& run = b.steps[13];
  EXPECT_EQ(run.action, Step::Action::Run);
  EXPECT_EQ(run.argv, (V{"/bin/sh", "-c", "echo hi"}));
  EXPECT_EQ(run.env, (V{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "E1=v1", "E2=two words",
                        "OLD=old style value", "A=1", "B=bee", "HTTP_PROXY=http://p"}));
  EXPECT_EQ(run.user, "root");
  EXPECT_EQ(run.workdir, "/tmp");
  EXPECT_EQ(b.steps[10].action, Step::Action::Workdir);
  EXPECT_EQ(b.steps[10].dir, "/w");
  EXPECT_EQ(b.steps[16].dest, "/x/");
  EXPECT_EQ(b.steps[17].dest, "/y/");
  EXPECT_EQ(b.steps[0].author, "Jane <j@x>");
  EXPECT_EQ(b.steps.back().author, "Jane <j@x>");
}

TEST(StageEval, ArgsAndEnvAsDockerd) {
  // dockerd: ENV's values see the env before the instruction; so do ARG's.
  auto b = run_stage("FROM busybox\nENV A=1 B=$A\nENV C=$A\nARG X=1 Y=$X\nRUN true\n");
  EXPECT_EQ(history(b), (V{"/bin/sh -c #(nop)  ENV A=1 B=", "/bin/sh -c #(nop)  ENV C=1",
                           "/bin/sh -c #(nop)  ARG X=1 Y=", "|2 X=1 Y= /bin/sh -c true"}));
  // dockerd: a given proxy alone makes "|0".
  b = run_stage("FROM busybox\nRUN echo hi\n", {{"HTTP_PROXY", "http://p"}});
  EXPECT_EQ(history(b), V{"|0 /bin/sh -c echo hi"});
  // dockerd: a global ARG is seen in a stage once declared there, with its default.
  b = run_stage("ARG B=busybox\nFROM $B\nARG B\nRUN echo $B\n");
  EXPECT_EQ(history(b), (V{"/bin/sh -c #(nop)  ARG B", "|1 B=busybox /bin/sh -c echo $B"}));
  // ...and not before.
  b = run_stage("ARG V=1\nFROM x\nENV E=$V\nARG V\nENV F=$V\n");
  EXPECT_EQ(b.config.env[1], "E=");
  EXPECT_EQ(b.config.env[2], "F=1");
  // ENV wins over ARG, and an ARG the env sets is not passed again.
  b = run_stage("FROM x\nARG V=a\nENV V=b\nRUN echo $V\nENV W=$V\n", {{"V", "c"}});
  EXPECT_EQ(b.steps[2].container_cmd, (V{"/bin/sh", "-c", "echo $V"}));
  EXPECT_EQ(b.config.env.back(), "W=b");
  // A given value overrides the default; an ARG without one and without a value stays unset.
  b = run_stage("FROM x\nARG V=a\nARG U\nENV E=$V:${U:-unset}\n", {{"V", "c"}});
  EXPECT_EQ(b.config.env.back(), "E=c:unset");
  // A declared proxy is recorded like any ARG.
  b = run_stage("FROM x\nARG http_proxy\nRUN true\n", {{"http_proxy", "p"}});
  EXPECT_EQ(created_by(b.steps[1].container_cmd), "|1 http_proxy=p /bin/sh -c true");
  // The platform args once declared.
  BuildRequest req;
  req.dockerfile = "FROM x\nARG TARGETARCH\nARG BUILDPLATFORM\nENV T=$TARGETARCH B=$BUILDPLATFORM\n";
  req.args.target = {"linux", "arm64", ""};
  req.args.build = {"linux", "amd64", ""};
  auto plan = plan_build(req);
  StageEvaluator ev(*plan, 0, {});
  while (!ev.done()) ev.next();
  EXPECT_EQ(ev.config().env.back(), "B=linux/amd64");
  EXPECT_EQ(ev.config().env[1], "T=arm64");
}

TEST(StageEval, SubstitutionPerInstruction) {
  auto b = run_stage(
      "FROM x\nARG D=/data\nARG U=app\nENV P=\"82 83\"\n"
      "WORKDIR $D/w\nUSER $U\nVOLUME $D ${D}2\nLABEL k=$U\nSTOPSIGNAL ${SIG:-SIGINT}\nEXPOSE $P 81\n"
      "COPY --chown=$U:$U --chmod=0${M:-644} --exclude=$U.log --exclude=*.tmp src$D $D/\n"
      "RUN echo $D\nCMD echo $D\nENTRYPOINT [\"$D\"]\nHEALTHCHECK CMD echo $D\nSHELL [\"$D\"]\nONBUILD RUN $D\nMAINTAINER $U\n");
  EXPECT_EQ(b.steps[3].dir, "/data/w");
  EXPECT_EQ(b.steps[4].config.user, "app");
  EXPECT_EQ(*b.steps[5].config.volumes, (std::set<std::string>{"/data", "/data2"}));
  EXPECT_EQ(b.steps[6].config.labels->at("k"), "app");
  EXPECT_EQ(b.steps[7].config.stop_signal, "SIGINT");
  // dockerd: EXPOSE's value may become several ports.
  EXPECT_EQ(created_by(b.steps[8].container_cmd), "/bin/sh -c #(nop)  EXPOSE 82 83 81");
  auto& copy = b.steps[9];
  EXPECT_EQ(copy.instruction.chown, "app:app");
  EXPECT_EQ(copy.instruction.chmod, "0644");
  EXPECT_EQ(copy.instruction.excludes, (V{"app.log", "*.tmp"}));  // BuildKit expands --exclude
  EXPECT_EQ(copy.instruction.sources, V{"src/data"});
  EXPECT_EQ(copy.dest, "/data/");
  EXPECT_EQ(b.steps[10].argv, (V{"/bin/sh", "-c", "echo $D"}));
  EXPECT_EQ(*b.steps[11].config.cmd, (V{"/bin/sh", "-c", "echo $D"}));
  EXPECT_EQ(*b.steps[12].config.entrypoint, V{"$D"});
  EXPECT_EQ(b.steps[13].config.healthcheck->test, (V{"CMD-SHELL", "echo $D"}));
  EXPECT_EQ(*b.steps[14].config.shell, V{"$D"});
  EXPECT_EQ(b.steps[15].config.on_build->back(), "RUN $D");
  EXPECT_EQ(b.steps[16].author, "$U");
}

TEST(StageEval, WorkdirAndCopyDestinations) {
  // dockerd: an absolute WORKDIR is kept as written, a relative one joined and cleaned; COPY's
  // history names the destination as written.
  auto b = run_stage("FROM x\nWORKDIR /tmp/\nWORKDIR a/../b/\nCOPY a.txt rel/\nCOPY a.txt .\nCOPY dir /d\n");
  EXPECT_EQ(history(b, {{kAFile}, {kAFile}, {kDir}}),
            (V{"/bin/sh -c #(nop) WORKDIR /tmp/", "/bin/sh -c #(nop) WORKDIR /tmp/b",
               "/bin/sh -c #(nop) COPY " + kAFile + " in rel/ ", "/bin/sh -c #(nop) COPY " + kAFile + " in . ",
               "/bin/sh -c #(nop) COPY " + kDir + " in /d "}));
  EXPECT_EQ(b.steps[2].dest, "/tmp/b/rel/");
  EXPECT_EQ(b.steps[3].dest, "/tmp/b");
  EXPECT_EQ(b.steps[4].dest, "/d");
  EXPECT_EQ(b.steps[2].copy_from.kind, SourceRef::Context);
}

TEST(StageEval, CmdEntrypointHealthcheckAsDockerd) {
  // dockerd: ENTRYPOINT without a CMD of the stage drops the base's CMD; `CMD` alone is the
  // shell; `CMD []` is an empty list; `ENTRYPOINT []` none.
  ImageConfig base;
  base.cmd = V{"sh"};
  auto b = run_stage("FROM x\nENTRYPOINT [\"e\"]\n", {}, base);
  EXPECT_FALSE(b.config.cmd.has_value());
  b = run_stage("FROM x\nCMD [\"c\"]\nENTRYPOINT [\"e\"]\n", {}, base);
  EXPECT_EQ(*b.config.cmd, V{"c"});
  b = run_stage("FROM x\nENTRYPOINT []\nCMD []\n");
  EXPECT_EQ(history(b), (V{"/bin/sh -c #(nop)  ENTRYPOINT []", "/bin/sh -c #(nop)  CMD []"}));
  EXPECT_FALSE(b.config.entrypoint.has_value());
  EXPECT_EQ(*b.config.cmd, V{});
  b = run_stage("FROM x\nCMD\n");
  EXPECT_EQ(history(b), V{"/bin/sh -c #(nop)  CMD [\"/bin/sh\" \"-c\"]"});
  // dockerd: CMD's fallback to the shell form; HEALTHCHECK's text.
  b = run_stage("FROM x\nCMD [\"a\", ]\nHEALTHCHECK --timeout=1m30s --start-period=1500ms --interval=1h CMD [\"a\", \"b\"]\n"
                "HEALTHCHECK NONE\n");
  EXPECT_EQ(history(b), (V{"/bin/sh -c #(nop)  CMD [\"/bin/sh\" \"-c\" \"[\\\"a\\\", ]\"]",
                           "/bin/sh -c #(nop)  HEALTHCHECK &{[\"CMD\" \"a\" \"b\"] \"1h0m0s\" \"1m30s\" \"1.5s\" '\\x00'}",
                           "/bin/sh -c #(nop)  HEALTHCHECK &{[\"NONE\"] \"0s\" \"0s\" \"0s\" '\\x00'}"}));
  // dockerd: a HEALTHCHECK takes the previous one's durations it does not set (its container
  // was made from the previous image, whose healthcheck dockerd merged in).
  EXPECT_EQ(b.config.healthcheck->test, V{"NONE"});
  EXPECT_EQ(b.config.healthcheck->interval, 3600000000000);
  EXPECT_EQ(b.config.healthcheck->timeout, 90000000000);
  EXPECT_EQ(b.config.healthcheck->start_period, 1500000000);
}

TEST(StageEval, RunHeredocsAndMounts) {
  auto b = run_stage("FROM x\nRUN <<EOF\necho a\necho b\nEOF\n"
                     "RUN <<-EOF\n\t#!/bin/sh\n\techo s\n\tEOF\n"
                     "RUN cat <<A > /f\nline $X\nA\n"
                     "ARG C=pip\n"
                     "RUN --mount=type=cache,target=/root/.cache/$C,id=$C --mount=type=bind,target=/src --network=none pip\n");
  EXPECT_EQ(b.steps[0].argv, (V{"/bin/sh", "-c", "echo a\necho b\n"}));
  EXPECT_EQ(b.steps[1].argv, (V{"/bin/sh", "-c", "/dev/pipes/EOF"}));
  ASSERT_EQ(b.steps[1].inline_files.size(), 1u);
  EXPECT_EQ(b.steps[1].inline_files[0].path, "/dev/pipes/EOF");
  EXPECT_EQ(b.steps[1].inline_files[0].data, "#!/bin/sh\necho s\n");
  EXPECT_EQ(b.steps[2].argv, (V{"/bin/sh", "-c", "cat <<A > /f\nline $X\nA"}));
  auto& run = b.steps[4];
  ASSERT_EQ(run.mounts.size(), 2u);
  EXPECT_EQ(run.mounts[0].target, "/root/.cache/pip");
  EXPECT_EQ(run.mounts[0].cache_id, "pip");
  EXPECT_EQ(run.mount_sources[0].kind, SourceRef::Scratch);
  EXPECT_EQ(run.mount_sources[1].kind, SourceRef::Context);
  EXPECT_TRUE(run.mounts[1].read_only);
  EXPECT_EQ(run.instruction.network, "none");
  // T is given but not declared: the type is empty.
  EXPECT_EQ(eval_error("FROM x\nRUN --mount=type=$T,target=/x true\n", {{"T", "nfs"}}), "unsupported mount type \"\"");
  EXPECT_EQ(eval_error("FROM x\nARG T\nRUN --mount=type=$T,target=/x true\n", {{"T", "nfs"}}),
            "unsupported mount type \"nfs\"");
  // A mount from an earlier stage.
  auto ms = run_stage("FROM x AS a\nFROM x\nRUN --mount=from=a,target=/a,source=/out ls /a\n", {}, {}, 1);
  EXPECT_EQ(ms.steps[0].mount_sources[0].kind, SourceRef::Stage);
  EXPECT_EQ(ms.steps[0].mount_sources[0].stage, 0);
}

TEST(StageEval, CopyHeredocsAndChecks) {
  auto b = run_stage("FROM x\nARG V=1\nCOPY <<e1 <<\"e2\" /etc/\nv=$V\ne1\nw=$V\ne2\n");
  auto& contents = b.steps[1].instruction.source_contents;
  ASSERT_EQ(contents.size(), 2u);
  EXPECT_EQ(contents[0].data, "v=1\n");
  EXPECT_EQ(contents[1].data, "w=$V\n");
  EXPECT_EQ(eval_error("FROM x\nCOPY --chmod=888 a /\n"),
            "invalid chmod parameter: '888'. it should be octal string and between 0 and 07777");
  EXPECT_EQ(eval_error("FROM x\nADD --checksum=sha256:0 a b /\n"), "checksum can't be specified for multiple sources");
  EXPECT_EQ(eval_error("FROM x\nADD --checksum=sha256:0 a /\n"), "checksum requires HTTP(S) or Git sources");
  EXPECT_EQ(eval_error("FROM x\nCOPY http://x/y /\n"), "source can't be a URL for COPY");
  auto from = run_stage("FROM x AS a\nFROM x\nCOPY --from=a /o /i\nCOPY --from=0 /o /i\nCOPY --from=img:1 /o /i\n", {}, {}, 1);
  EXPECT_EQ(from.steps[0].copy_from.kind, SourceRef::Stage);
  EXPECT_EQ(from.steps[1].copy_from.stage, 0);
  EXPECT_EQ(from.steps[2].copy_from.kind, SourceRef::Image);
  EXPECT_EQ(from.steps[2].copy_from.image, "img:1");
}

TEST(StageEval, ErrorsAsDockerd) {
  // All dockerd's words, with the instruction's line.
  EXPECT_EQ(eval_error("FROM busybox\nSTOPSIGNAL FOO\n"), "Invalid signal: FOO");
  EXPECT_EQ(eval_error("FROM busybox\nSTOPSIGNAL 0\n"), "Invalid signal: 0");
  EXPECT_EQ(eval_error("FROM busybox\nEXPOSE 80/xyz\n"), "Invalid proto: xyz");
  EXPECT_EQ(eval_error("FROM busybox\nEXPOSE 1-\n"), "Invalid containerPort: 1-");
  EXPECT_EQ(eval_error("FROM busybox\nVOLUME $NOPE\n"), "VOLUME specified can not be an empty string");
  EXPECT_EQ(eval_error("FROM busybox\nWORKDIR $NOPE\n"), "cannot normalize nothing");
  EXPECT_EQ(eval_error("FROM busybox\nENV A=${B\n"), "failed to process \"${B\": unsupported modifier (\xEF\xBF\xBD) in substitution");
  try {
    run_stage("FROM busybox\n\nUSER ${X:?needs X}\n");
    FAIL();
  } catch (const DockerfileError& e) {
    EXPECT_STREQ(e.what(), "failed to process \"${X:?needs X}\": X: needs X");
    EXPECT_EQ(e.line(), 3);
  }
}

TEST(StageEval, BaseConfigAndTriggers) {
  ImageConfig base;
  base.env = {"PATH=/opt/bin", "HOME=/root"};
  base.on_build = V{"ENV FROM_TRIGGER=1", "COPY --from=0 /x /y"};
  base.working_dir = "/srv";
  BuildRequest req;
  req.dockerfile = "FROM x AS a\nFROM parent\nENV MINE=$FROM_TRIGGER\n";
  auto plan = plan_build(req);
  StageEvaluator ev(*plan, 1, base);
  EXPECT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev.triggers(), 2u);
  auto t1 = ev.next();
  EXPECT_TRUE(t1.trigger);
  EXPECT_EQ(ev.trigger_stages(), std::set<int>{0});
  auto t2 = ev.next();
  EXPECT_EQ(t2.copy_from.kind, SourceRef::Stage);
  EXPECT_EQ(t2.dest, "/y");
  auto own = ev.next();
  EXPECT_FALSE(own.trigger);
  EXPECT_EQ(ev.config().env, (V{"PATH=/opt/bin", "HOME=/root", "FROM_TRIGGER=1", "MINE=1"}));
  EXPECT_FALSE(ev.config().on_build.has_value());  // triggers are not inherited
  // A trigger Docker refuses.
  base.on_build = V{"BOGUS x"};
  try {
    StageEvaluator bad(*plan, 1, base);
    FAIL();
  } catch (const DockerfileError& e) {
    EXPECT_STREQ(e.what(), "unknown instruction: BOGUS");
    EXPECT_EQ(e.line(), 2);
  }
}

TEST(StageEval, ConfigJsonRoundTrip) {
  auto c = ImageConfig::from_json(
      R"({"Hostname":"h","Env":["A=1"],"Cmd":["sh"],"Labels":{"a":"b"},"ExposedPorts":{"80/tcp":{}},
          "Healthcheck":{"Test":["CMD","x"],"Interval":5},"Volumes":null,"OnBuild":null,"StopSignal":"SIGINT"})");
  EXPECT_EQ(c.env, V{"A=1"});
  EXPECT_EQ(c.healthcheck->interval, 5);
  EXPECT_EQ(c.stop_signal, "SIGINT");
  auto again = ImageConfig::from_json(c.to_json());
  EXPECT_TRUE(again == c);
  EXPECT_NE(c.to_json().find("\"Hostname\":\"h\""), std::string::npos);
  EXPECT_THROW(ImageConfig::from_json("[1]"), hoist::InvalidArgument);
  EXPECT_TRUE(ImageConfig::from_json("null") == ImageConfig{});
}

TEST(StageEval, CacheKeys) {
  auto key_chain = [](const Built& b) {
    std::vector<std::string> keys;
    std::string parent = base_cache_key("sha256:base", "linux/amd64");
    for (auto& s : b.steps) keys.push_back(parent = step_cache_key(parent, s.cache_text, ""));
    return keys;
  };
  const std::string df = "FROM x\nARG A\nENV E=1\nRUN echo $A\nARG B\nRUN echo $B\nCOPY f /\n";
  auto k1 = key_chain(run_stage(df, {{"A", "1"}, {"B", "1"}}));
  // Same inputs, same keys; a value no step sees (undeclared, or a proxy) changes nothing.
  EXPECT_EQ(k1, key_chain(run_stage(df, {{"A", "1"}, {"B", "1"}})));
  EXPECT_EQ(k1, key_chain(run_stage(df, {{"A", "1"}, {"B", "1"}, {"OTHER", "x"}, {"HTTP_PROXY", "p"}})));
  // Steps: ARG A, ENV, RUN $A, ARG B, RUN $B, COPY. B changes only the steps from its RUN on
  // (an ARG step records no value, as dockerd's).
  auto k2 = key_chain(run_stage(df, {{"A", "1"}, {"B", "2"}}));
  EXPECT_EQ(std::vector<std::string>(k1.begin(), k1.begin() + 4), std::vector<std::string>(k2.begin(), k2.begin() + 4));
  EXPECT_NE(k1[4], k2[4]);
  EXPECT_NE(k1[5], k2[5]);
  // A changes its RUN and everything after.
  auto k3 = key_chain(run_stage(df, {{"A", "2"}, {"B", "1"}}));
  EXPECT_EQ(k1[1], k3[1]);
  EXPECT_NE(k1[2], k3[2]);
  // Content, parent and base all count.
  EXPECT_NE(step_cache_key("p", "t", "sha256:1"), step_cache_key("p", "t", "sha256:2"));
  EXPECT_NE(step_cache_key("p1", "t"), step_cache_key("p2", "t"));
  EXPECT_NE(step_cache_key("p", "ab", ""), step_cache_key("pa", "b", ""));
  EXPECT_NE(base_cache_key("sha256:a", "linux/amd64"), base_cache_key("sha256:a", "linux/arm64"));
  EXPECT_EQ(step_cache_key("p", "t").substr(0, 7), "sha256:");
}

TEST(History, GoFormatting) {
  EXPECT_EQ(go_duration_string(0), "0s");
  EXPECT_EQ(go_duration_string(1), "1ns");
  EXPECT_EQ(go_duration_string(1500), "1.5\xC2\xB5s");
  EXPECT_EQ(go_duration_string(2500000), "2.5ms");
  EXPECT_EQ(go_duration_string(1500000000), "1.5s");
  EXPECT_EQ(go_duration_string(90000000000), "1m30s");
  EXPECT_EQ(go_duration_string(3600000000000), "1h0m0s");
  EXPECT_EQ(go_duration_string(-5000000000), "-5s");
  HealthConfig h;
  h.test = {"CMD", "a\"b"};
  h.retries = 65;
  EXPECT_EQ(health_text(h), "&{[\"CMD\" \"a\\\"b\"] \"0s\" \"0s\" \"0s\" 'A'}");
  h.start_interval = 2000000000;
  h.retries = 10;
  EXPECT_EQ(health_text(h), "&{[\"CMD\" \"a\\\"b\"] \"0s\" \"0s\" \"0s\" \"2s\" '\\n'}");
  EXPECT_EQ(combined_source_hash({"file:a"}), "file:a");
  // dockerd: COPY a.txt dir /y/ → multi: of the two sources' hashes.
  EXPECT_EQ(combined_source_hash({kAFile, kDir}), "multi:b34a2b7b515448443c1c99dffd30224af0730c5f5beb18e97b0bb7b86919adf9");
}

TEST(History, SourceHashesAsDockerd) {
  // dockerd 20.10.24: a.txt ("hello\n", 0644, root) is file:00ec16…; a directory dir/ (0755)
  // holding x ("x\n", 0644) is dir:b143df… (the mode hashed without the type bits: checked
  // against the private dockerd by tests/engine/api/build_test.cpp).
  SourceEntry a;
  a.name = "a.txt";
  a.mode = S_IFREG | 0644;
  a.size = 6;
  SourceHasher ha(a);
  ha.update("hello\n");
  EXPECT_EQ(file_source_hash(ha.hex()), kAFile);
  SourceEntry d;
  d.name = "dir";
  d.mode = S_IFDIR | 0755;
  SourceEntry x;
  x.name = "dir/x";
  x.mode = S_IFREG | 0644;
  x.size = 2;
  SourceHasher hx(x);
  hx.update("x\n");
  EXPECT_EQ(dir_source_hash({SourceHasher(d).hex(), hx.hex()}), kDir);
}

TEST(StageEval, LabelOptionsAndTriggersAsDockerd) {
  // dockerd: `docker build --label z='$x' --label a=1` on "FROM busybox / RUN true".
  BuildRequest req;
  req.dockerfile = "FROM busybox\nRUN true\n";
  req.labels = {{"z", "$x"}, {"a", "1"}};
  auto plan = plan_build(req);
  StageEvaluator ev(*plan, 0, {});
  Built b;
  while (!ev.done()) b.steps.push_back(ev.next());
  EXPECT_EQ(history(b), (V{"/bin/sh -c true", "/bin/sh -c #(nop)  LABEL a=1", "/bin/sh -c #(nop)  LABEL z=$x"}));
  EXPECT_EQ(*ev.config().labels, (std::map<std::string, std::string>{{"a", "1"}, {"z", "$x"}}));
  // dockerd: a child of an image built with "ONBUILD ENV T=1 / ONBUILD RUN echo $T", then
  // "ENV MINE=$T": the triggers' entries come first, and the child has no OnBuild.
  ImageConfig parent;
  parent.on_build = V{"ENV T=1", "RUN echo $T"};
  b = run_stage("FROM parent\nENV MINE=$T\n", {}, parent);
  EXPECT_EQ(history(b), (V{"/bin/sh -c #(nop)  ENV T=1", "/bin/sh -c echo $T", "/bin/sh -c #(nop)  ENV MINE=1"}));
  EXPECT_FALSE(b.config.on_build.has_value());
}

TEST(History, EntriesAndEmptyLayers) {
  // dockerd: metadata steps are empty layers; RUN, WORKDIR, COPY and ADD when nothing changed
  // ("RUN echo hi", "WORKDIR /tmp" on busybox were; "WORKDIR /w", "RUN echo $A > /a" were not).
  auto b = run_stage("FROM x\nMAINTAINER me\nENV A=1\nRUN echo hi\nWORKDIR /w\nCOPY a.txt /x/\n");
  auto env = history_entry(b.steps[1], false);
  EXPECT_TRUE(env.empty_layer);
  EXPECT_EQ(env.author, "me");
  EXPECT_EQ(env.created_by, "/bin/sh -c #(nop)  ENV A=1");
  EXPECT_TRUE(history_entry(b.steps[2], true).empty_layer);
  EXPECT_FALSE(history_entry(b.steps[2], false).empty_layer);
  EXPECT_FALSE(history_entry(b.steps[3], false).empty_layer);
  auto copy = history_entry(b.steps[4], false, {kAFile});
  EXPECT_EQ(copy.created_by, "/bin/sh -c #(nop) COPY " + kAFile + " in /x/ ");
  EXPECT_FALSE(copy.empty_layer);
}
