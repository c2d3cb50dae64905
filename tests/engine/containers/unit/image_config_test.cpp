// The container Config that create keeps: the client's, completed from the image as dockerd does.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "engine/containers/image_config.h"

using hoist::engine::merge_image_config;
using nlohmann::json;

namespace {

const json kImage = json::parse(R"({
  "User": "app", "WorkingDir": "/srv", "StopSignal": "SIGQUIT",
  "Env": ["PATH=/usr/bin:/bin", "LANG=C.UTF-8"],
  "Cmd": ["serve"], "Entrypoint": ["/entry"],
  "ExposedPorts": {"80/tcp": {}}, "Volumes": {"/data": {}},
  "Labels": {"a": "image", "b": "image"},
  "Healthcheck": {"Test": ["CMD", "true"], "Interval": 5000000000, "Retries": 3}
})");

}  // namespace

TEST(MergeImageConfig, AnEmptyContainerConfigTakesTheImagesConfig) {
  // As the docker CLI sends them: empty strings and nulls.
  auto c = merge_image_config(
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

TEST(MergeImageConfig, WhatTheContainerGivesWins) {
  auto c = merge_image_config(json::parse(R"({
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

TEST(MergeImageConfig, AnEntrypointGivenKeepsTheImagesCommandOut) {
  auto c = merge_image_config(json::parse(R"({"Entrypoint":["/bin/sh"],"Cmd":null})"), kImage);
  EXPECT_EQ(c["Entrypoint"], json::array({"/bin/sh"}));
  EXPECT_TRUE(c["Cmd"].is_null());
  // `--entrypoint ""` arrives as [""]: nothing of the image's command comes in.
  c = merge_image_config(json::parse(R"({"Entrypoint":[""],"Cmd":["ls"]})"), kImage);
  EXPECT_EQ(c["Entrypoint"], json::array({""}));
  EXPECT_EQ(c["Cmd"], json::array({"ls"}));
  // An empty list: the image's Cmd, not its Entrypoint.
  c = merge_image_config(json::parse(R"({"Entrypoint":[]})"), kImage);
  EXPECT_EQ(c["Entrypoint"], json::array());
  EXPECT_EQ(c["Cmd"], json::array({"serve"}));
}

TEST(MergeImageConfig, MergingTwiceChangesNothing) {
  auto once = merge_image_config(json::parse(R"({"Env":["A=1"],"Cmd":["x"]})"), kImage);
  EXPECT_EQ(merge_image_config(once, kImage), once);
  EXPECT_EQ(merge_image_config(json::object(), json()), json::object());
  EXPECT_EQ(merge_image_config(json(), kImage)["User"], "app");
}
