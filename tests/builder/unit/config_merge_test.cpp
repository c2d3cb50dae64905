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
