// Request bodies read as Go's encoding/json reads them into dockerd's types; bounded JSON parsing.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/json.h"
#include "engine/api/request_json.h"

using hoist::InvalidArgument;
using hoist::engine::BodyType;
using hoist::engine::decode_json;
using nlohmann::json;

TEST(RequestJson, FieldNamesMatchCaseInsensitivelyAtEveryLevel) {
  auto j = decode_json(R"({"image":"bb","CMD":["true"],"hostconfig":{"CPURealtimePeriod":1000,"dns":["1.1.1.1"],
    "restartPolicy":{"name":"always","maximumretrycount":0},"mounts":[{"type":"bind","target":"/x",
    "bindoptions":{"propagation":"rshared"}}],"portbindings":{"80/tcp":[{"hostport":"8080"}]},
    "blkioweightdevice":[{"path":"/dev/sda","weight":10}]},
    "healthcheck":{"test":["CMD","true"]},"networkingconfig":{"endpointsconfig":{"MyNet":{"aliases":["a"]}}}})",
                       BodyType::ContainerCreate);
  EXPECT_EQ(j["Image"], "bb");
  EXPECT_EQ(j["Cmd"], json::array({"true"}));
  auto& hc = j["HostConfig"];
  EXPECT_EQ(hc["CpuRealtimePeriod"], 1000);
  EXPECT_EQ(hc["Dns"], json::array({"1.1.1.1"}));
  EXPECT_EQ(hc["RestartPolicy"]["Name"], "always");
  EXPECT_TRUE(hc["RestartPolicy"].contains("MaximumRetryCount"));
  EXPECT_EQ(hc["Mounts"][0]["Target"], "/x");
  EXPECT_EQ(hc["Mounts"][0]["BindOptions"]["Propagation"], "rshared");
  EXPECT_EQ(hc["PortBindings"]["80/tcp"][0]["HostPort"], "8080");
  EXPECT_EQ(hc["BlkioWeightDevice"][0]["Path"], "/dev/sda");
  EXPECT_EQ(j["Healthcheck"]["Test"], json::array({"CMD", "true"}));
  // Map keys are data: the network name keeps its case, its value's fields are canonical.
  EXPECT_EQ(j["NetworkingConfig"]["EndpointsConfig"]["MyNet"]["Aliases"], json::array({"a"}));
  EXPECT_FALSE(j.contains("image"));
  EXPECT_FALSE(hc.contains("dns"));
}

TEST(RequestJson, MapKeysAndUnknownKeysAreLeftAlone) {
  auto j = decode_json(R"({"Labels":{"image":"x","Cmd":"y"},"Env":["A=1"],"Unknown":1,"hostconfig":{"sysctls":{"Net.X":"1"}}})",
                       BodyType::ContainerCreate);
  EXPECT_EQ(j["Labels"], json({{"image", "x"}, {"Cmd", "y"}}));
  EXPECT_EQ(j["Unknown"], 1);
  EXPECT_EQ(j["HostConfig"]["Sysctls"], json({{"Net.X", "1"}}));
}

TEST(RequestJson, NullFieldsAreAbsentAtEveryLevel) {
  // What docker-compose 1.29 sends: a healthcheck's unset durations as null.
  auto j = decode_json(R"({"Image":"bb","Entrypoint":null,"Healthcheck":{"Test":["CMD","true"],"Interval":1000000000,
    "StartPeriod":null,"timeout":null},"HostConfig":{"RestartPolicy":null,"Mounts":[{"Type":"volume","Target":"/d",
    "VolumeOptions":null}]},"Labels":{"k":null},"Unknown":null})",
                       BodyType::ContainerCreate);
  EXPECT_EQ(j["Healthcheck"], json({{"Test", {"CMD", "true"}}, {"Interval", 1000000000}}));
  EXPECT_FALSE(j.contains("Entrypoint"));
  EXPECT_FALSE(j["HostConfig"].contains("RestartPolicy"));
  EXPECT_EQ(j["HostConfig"]["Mounts"][0], json({{"Type", "volume"}, {"Target", "/d"}}));
  // Map values are data, unknown keys are left alone.
  EXPECT_TRUE(j["Labels"]["k"].is_null());
  EXPECT_TRUE(j.contains("Unknown"));
}

TEST(RequestJson, ExactKeyWinsOverFoldedOne) {
  auto j = decode_json(R"({"memory":1,"Memory":2,"cpushares":3})", BodyType::ContainerUpdate);
  EXPECT_EQ(j["Memory"], 2);
  EXPECT_EQ(j["CpuShares"], 3);
  EXPECT_FALSE(j.contains("memory"));
  auto a = decode_json(R"({"Username":"u","PASSWORD":"p","ServerAddress":"r"})", BodyType::AuthConfig);
  EXPECT_EQ(a, json({{"username", "u"}, {"password", "p"}, {"serveraddress", "r"}}));
}

TEST(RequestJson, EmptyBadAndNonObjectBodies) {
  EXPECT_EQ(decode_json("", BodyType::ExecStart), json::object());
  EXPECT_EQ(decode_json(" \n", BodyType::ExecStart), json::object());
  EXPECT_THROW(decode_json("", BodyType::ContainerCreate, false), InvalidArgument);
  // Go decodes null into a struct as nothing (docker 20.10's commit sends it).
  EXPECT_EQ(decode_json("null", BodyType::ContainerCreate), json::object());
  EXPECT_THROW(decode_json("null", BodyType::ContainerCreate, false), InvalidArgument);
  EXPECT_THROW(decode_json("[1]", BodyType::ExecCreate), InvalidArgument);
  EXPECT_THROW(decode_json("{\"Cmd\":", BodyType::ExecCreate), InvalidArgument);
  EXPECT_THROW(decode_json("{\"Cmd\":[\"\xff\"]}", BodyType::ExecCreate), InvalidArgument);
}

TEST(BoundedJson, DepthIsCheckedBeforeParsing) {
  EXPECT_EQ(hoist::json_depth(R"({"a":[1,{"b":"[[[["}]})"), 3u);
  EXPECT_EQ(hoist::json_depth(R"(["\"[[", "\\"])"), 1u);
  std::string deep = std::string(100000, '[') + std::string(100000, ']');
  try {
    hoist::parse_json(deep, "body");
    FAIL() << "no error";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("body: invalid JSON: exceeded max depth"), std::string::npos) << e.what();
  }
  // Within the limit: parsed.
  std::string ok = std::string(500, '[') + std::string(500, ']');
  EXPECT_NO_THROW(hoist::parse_json(ok, "body"));
  EXPECT_THROW(hoist::parse_json("[1]", "x", {.max_depth = 8, .max_size = 2}), InvalidArgument);
}

TEST(BoundedJson, MessagesAreValidUtf8AndDumpNeverThrows) {
  try {
    hoist::parse_json("{\"a\":\"\xff\xfe\"}", "body");
    FAIL() << "no error";
  } catch (const InvalidArgument& e) {
    json m = {{"message", e.what()}};
    EXPECT_NO_THROW((void)m.dump());
  }
  json bad = {{"s", std::string("\xff")}};
  EXPECT_EQ(hoist::dump_json(bad), "{\"s\":\"\xef\xbf\xbd\"}");
}
