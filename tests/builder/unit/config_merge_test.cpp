// dockerd's merge of a container config with its image's (container create and commit): what the
// new config keeps, what it takes, and what it joins.
#include "builder/config_merge.h"

#include <gtest/gtest.h>

using hoist::builder::merge_config;
using nlohmann::json;

TEST(ConfigMerge, EmptyFieldsComeFromTheBase) {
  json user = json::object();
  json base = {{"User", "nobody"},          {"WorkingDir", "/srv"}, {"StopSignal", "SIGINT"},
               {"Env", {"PATH=/bin", "A=1"}}, {"Cmd", {"sh"}},       {"Entrypoint", {"/init"}},
               {"Volumes", {{"/data", json::object()}}}, {"ExposedPorts", {{"80/tcp", json::object()}}},
               {"Healthcheck", {{"Test", {"CMD", "true"}}, {"Retries", 3}}}};
  merge_config(user, base);
  for (const char* k : {"User", "WorkingDir", "StopSignal", "Env", "Cmd", "Entrypoint", "Volumes", "ExposedPorts",
                        "Healthcheck"})
    EXPECT_EQ(user[k], base[k]) << k;
  EXPECT_EQ(user["Labels"], json::object());  // dockerd makes it {} at least
}

TEST(ConfigMerge, SetFieldsWinAndListsAndMapsAreJoined) {
  json user = {{"User", "1:2"},
               {"Env", {"A=override", "B=2"}},
               {"Labels", {{"k", "mine"}}},
               {"ExposedPorts", {{"8080/tcp", json::object()}}},
               {"Volumes", {{"/mine", json::object()}}},
               {"Cmd", {"echo", "x"}}};
  json base = {{"User", "root"},
               {"Env", {"PATH=/bin", "A=1"}},
               {"Labels", {{"k", "base"}, {"other", "v"}}},
               {"ExposedPorts", {{"80/tcp", json::object()}}},
               {"Volumes", {{"/data", json::object()}}},
               {"Cmd", {"sh"}},
               {"Entrypoint", {"/init"}}};
  merge_config(user, base);
  EXPECT_EQ(user["User"], "1:2");
  EXPECT_EQ(user["Env"], json({"A=override", "B=2", "PATH=/bin"}));
  EXPECT_EQ(user["Labels"], json({{"k", "mine"}, {"other", "v"}}));
  EXPECT_EQ(user["ExposedPorts"].size(), 2u);
  EXPECT_EQ(user["Volumes"].size(), 2u);
  EXPECT_EQ(user["Cmd"], json({"echo", "x"}));
  EXPECT_EQ(user["Entrypoint"], json({"/init"}));  // none given: the base's
}

TEST(ConfigMerge, AnEntrypointKeepsTheBaseCmdOut) {
  json user = {{"Entrypoint", {"/bin/other"}}};
  merge_config(user, {{"Cmd", {"sh"}}, {"Entrypoint", {"/init"}}});
  EXPECT_FALSE(user.contains("Cmd"));
  EXPECT_EQ(user["Entrypoint"], json({"/bin/other"}));
  // An explicit empty entrypoint stays empty, and then the base's Cmd fills an empty one.
  json cleared = {{"Entrypoint", json::array()}};
  merge_config(cleared, {{"Cmd", {"sh"}}, {"Entrypoint", {"/init"}}});
  EXPECT_EQ(cleared["Entrypoint"], json::array());
  EXPECT_EQ(cleared["Cmd"], json({"sh"}));
}

TEST(ConfigMerge, HealthcheckFieldsAreFilledOneByOne) {
  json user = {{"Healthcheck", {{"Interval", 5}}}};
  merge_config(user, {{"Healthcheck", {{"Test", {"CMD", "true"}}, {"Interval", 1}, {"Retries", 3}}}});
  EXPECT_EQ(user["Healthcheck"], json({{"Test", {"CMD", "true"}}, {"Interval", 5}, {"Retries", 3}}));
}

// The container Config that create keeps: the client's, completed from the image as dockerd does.
namespace {

// The merge as create uses it: the container config given, the merged one returned.
json merged(json c, const json& image) {
  merge_config(c, image);
  return c;
}

const json kImage = json::parse(R"({
  "User": "app", "WorkingDir": "/srv", "StopSignal": "SIGQUIT",
  "Env": ["PATH=/usr/bin:/bin", "LANG=C.UTF-8"],
  "Cmd": ["serve"], "Entrypoint": ["/entry"],
  "ExposedPorts": {"80/tcp": {}}, "Volumes": {"/data": {}},
  "Labels": {"a": "image", "b": "image"},
  "Healthcheck": {"Test": ["CMD", "true"], "Interval": 5000000000, "Retries": 3}
})");

}  // namespace

TEST(ConfigMerge, CreateAnEmptyContainerConfigTakesTheImagesConfig) {
  // As the docker CLI sends them: empty strings and nulls.
  auto c = merged(
      json::parse(R"({"Image":"x","Cmd":null,"Entrypoint":null,"Env":null,"User":"","WorkingDir":"","StopSignal":""})"), kImage);
  EXPECT_EQ(c["User"], "app");
  EXPECT_EQ(c["WorkingDir"], "/srv");
  EXPECT_EQ(c["StopSignal"], "SIGQUIT");
  EXPECT_EQ(c["Env"], kImage["Env"]);
  EXPECT_EQ(c["Cmd"], json::array({"serve"}));
  EXPECT_EQ(c["Entrypoint"], json::array({"/entry"}));
  EXPECT_EQ(c["ExposedPorts"], kImage["ExposedPorts"]);
  EXPECT_EQ(c["Volumes"], kImage["Volumes"]);
  EXPECT_EQ(c["Labels"], kImage["Labels"]);
  EXPECT_EQ(c["Healthcheck"], kImage["Healthcheck"]);
  EXPECT_EQ(c["Image"], "x");
}

TEST(ConfigMerge, CreateWhatTheContainerGivesWins) {
  auto c = merged(json::parse(R"({
    "User": "root", "WorkingDir": "/w", "StopSignal": "SIGTERM",
    "Env": ["LANG=de_DE.UTF-8", "X=1"], "Cmd": ["sh"],
    "ExposedPorts": {"81/udp": {}}, "Volumes": {"/v": {}}, "Labels": {"a": "mine"},
    "Healthcheck": {"Test": [], "Interval": 0, "Timeout": 2000000000}
  })"), kImage);
  EXPECT_EQ(c["User"], "root");
  EXPECT_EQ(c["WorkingDir"], "/w");
  EXPECT_EQ(c["StopSignal"], "SIGTERM");
  // The container's entries first, then the image's keys it lacks.
  EXPECT_EQ(c["Env"], json::array({"LANG=de_DE.UTF-8", "X=1", "PATH=/usr/bin:/bin"}));
  // Cmd given, no Entrypoint: the image's entrypoint runs the given command.
  EXPECT_EQ(c["Cmd"], json::array({"sh"}));
  EXPECT_EQ(c["Entrypoint"], json::array({"/entry"}));
  EXPECT_EQ(c["ExposedPorts"], json::parse(R"({"80/tcp":{},"81/udp":{}})"));
  EXPECT_EQ(c["Volumes"], json::parse(R"({"/data":{},"/v":{}})"));
  EXPECT_EQ(c["Labels"], json::parse(R"({"a":"mine","b":"image"})"));
  EXPECT_EQ(c["Healthcheck"], json::parse(R"({"Test":["CMD","true"],"Interval":5000000000,"Timeout":2000000000,"Retries":3})"));
}

TEST(ConfigMerge, CreateAnEntrypointGivenKeepsTheImagesCommandOut) {
  auto c = merged(json::parse(R"({"Entrypoint":["/bin/sh"],"Cmd":null})"), kImage);
  EXPECT_EQ(c["Entrypoint"], json::array({"/bin/sh"}));
  EXPECT_TRUE(c["Cmd"].is_null());
  // `--entrypoint ""` arrives as [""]: nothing of the image's command comes in.
  c = merged(json::parse(R"({"Entrypoint":[""],"Cmd":["ls"]})"), kImage);
  EXPECT_EQ(c["Entrypoint"], json::array({""}));
  EXPECT_EQ(c["Cmd"], json::array({"ls"}));
  // An empty list: the image's Cmd, not its Entrypoint.
  c = merged(json::parse(R"({"Entrypoint":[]})"), kImage);
  EXPECT_EQ(c["Entrypoint"], json::array());
  EXPECT_EQ(c["Cmd"], json::array({"serve"}));
}

TEST(ConfigMerge, CreateMergingTwiceChangesNothing) {
  auto once = merged(json::parse(R"({"Env":["A=1"],"Cmd":["x"]})"), kImage);
  EXPECT_EQ(merged(once, kImage), once);
  EXPECT_EQ(merged(json::object(), json()), json::object());
  EXPECT_EQ(merged(json(), kImage)["User"], "app");
}
