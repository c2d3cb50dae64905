// docker import's --change instructions on an image config, as dockerd 20.10 applies them (the
// expected configs and messages are dockerd's answers to the same changes).
#include "builder/config_changes.h"

#include <gtest/gtest.h>

#include "common/error.h"

using hoist::InvalidArgument;
using hoist::builder::apply_config_changes;
using nlohmann::json;

namespace {

json apply(const std::vector<std::string>& changes) {
  json c = json::object();
  apply_config_changes(c, changes);
  return c;
}

std::string error_of(const std::vector<std::string>& changes) {
  try {
    apply(changes);
  } catch (const InvalidArgument& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(ConfigChanges, DockerfileFormsAsDockerd) {
  auto c = apply({"CMD [\"sh\"]", "ENV A=b C=\"d e\"", "ENTRYPOINT /bin/sh -c", "EXPOSE 80/tcp 90",
                  "LABEL x=y \"z z\"=w", "USER nobody", "WORKDIR /tmp", "VOLUME /v", "ONBUILD RUN echo hi",
                  "HEALTHCHECK --interval=5s CMD true"});
  EXPECT_EQ(c, json::parse(R"({"User":"nobody","ExposedPorts":{"80/tcp":{},"90/tcp":{}},"Env":["A=b","C=d e"],
    "Entrypoint":["/bin/sh","-c","/bin/sh -c"],"Cmd":["sh"],"Volumes":{"/v":{}},"WorkingDir":"/tmp",
    "Labels":{"x":"y","z z":"w"},"Healthcheck":{"Test":["CMD-SHELL","true"],"Interval":5000000000},
    "OnBuild":["RUN echo hi"]})"));
  c = apply({"ENV A B C", "CMD echo hi", "VOLUME [\"/a\", \"/b\"]", "WORKDIR rel", "ENTRYPOINT [\"a\"]"});
  EXPECT_EQ(c, json::parse(R"({"Env":["A=B C"],"Entrypoint":["a"],"Cmd":["/bin/sh","-c","echo hi"],
    "Volumes":{"/a":{},"/b":{}},"WorkingDir":"/rel"})"));
  EXPECT_EQ(apply({"onbuild run x", "expose 80/udp", "label a=b"}),
            json::parse(R"({"ExposedPorts":{"80/udp":{}},"Labels":{"a":"b"},"OnBuild":["run x"]})"));
  EXPECT_EQ(apply({"HEALTHCHECK NONE"}), json::parse(R"({"Healthcheck":{"Test":["NONE"]}})"));
  EXPECT_EQ(apply({"HEALTHCHECK --timeout=3s --retries=2 --start-period=1m CMD [\"a\",\"b\"]"}),
            json::parse(R"({"Healthcheck":{"Test":["CMD","a","b"],"Timeout":3000000000,"StartPeriod":60000000000,"Retries":2}})"));
  EXPECT_EQ(apply({"CMD"}), json::parse(R"({"Cmd":["/bin/sh","-c"]})"));
  EXPECT_EQ(apply({"CMD [\"a\""}), json::parse(R"({"Cmd":["/bin/sh","-c","[\"a\""]})"));
  EXPECT_EQ(apply({"CMD []"}), json::object());
  EXPECT_EQ(apply({"ENV A="}), json::parse(R"({"Env":["A="]})"));
  EXPECT_EQ(apply({"USER a b"}), json::parse(R"({"User":"a b"})"));
  EXPECT_EQ(apply({"WORKDIR a b"}), json::parse(R"({"WorkingDir":"/a b"})"));
  // ENV replaces a variable of the same name.
  json base = {{"Env", {"PATH=/bin", "A=1"}}};
  apply_config_changes(base, {"ENV A=2"});
  EXPECT_EQ(base["Env"], json({"PATH=/bin", "A=2"}));
  // No changes: nothing happens.
  EXPECT_EQ(apply({}), json::object());
}

TEST(ConfigChanges, RefusedAsDockerd) {
  EXPECT_EQ(error_of({"RUN x"}), "run is not a valid change command");
  EXPECT_EQ(error_of({"STOPSIGNAL 9"}), "stopsignal is not a valid change command");
  EXPECT_EQ(error_of({"CMD [\"a\"]", "FROM x"}), "from is not a valid change command");
  EXPECT_EQ(error_of({"ENV"}), "ENV requires at least one argument");
  EXPECT_EQ(error_of({"ENV A"}), "ENV must have two arguments");
  EXPECT_EQ(error_of({"LABEL a"}), "LABEL must have two arguments");
  EXPECT_EQ(error_of({"HEALTHCHECK --bogus=1 CMD x"}), "Unknown flag: bogus");
  EXPECT_EQ(error_of({"USER"}), "USER requires exactly one argument");
  EXPECT_EQ(error_of({"EXPOSE abc"}), "Invalid containerPort: abc");
  EXPECT_EQ(error_of({"  "}), "file with no instructions");
  EXPECT_EQ(error_of({"ONBUILD ONBUILD x"}), "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
  EXPECT_EQ(error_of({"ONBUILD FROM x"}), "FROM isn't allowed as an ONBUILD trigger");
  EXPECT_EQ(error_of({"VOLUME"}), "VOLUME requires at least one argument");
  EXPECT_EQ(error_of({"VOLUME []"}), "VOLUME requires at least one argument");
}
