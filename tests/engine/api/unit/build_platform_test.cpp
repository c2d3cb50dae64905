// The platforms hoistd builds for (engine/build_platform.h): the request's `platform` as dockerd
// reads it, and a base image's platform against the one asked for.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "engine/build_platform.h"

namespace {

using namespace hoist::engine;

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

TEST(BuildPlatform, RequestedPlatformIsNormalised) {
  std::string host = host_build_platform().str();
  EXPECT_EQ(check_requested_platform(""), "");
  EXPECT_EQ(check_requested_platform("linux"), host);
  EXPECT_EQ(check_requested_platform("linux/x86_64"), "linux/amd64");
  EXPECT_EQ(check_requested_platform("amd64"), "linux/amd64");
  EXPECT_EQ(check_requested_platform("x86_64"), "linux/amd64");
  EXPECT_EQ(check_requested_platform("linux/aarch64"), "linux/arm64");
  EXPECT_EQ(check_requested_platform("linux/arm64/v8"), "linux/arm64");
  EXPECT_EQ(check_requested_platform("linux/armhf"), "linux/arm/v7");
  EXPECT_EQ(check_requested_platform("linux/arm/6"), "linux/arm/v6");
  EXPECT_EQ(error_of([] { check_requested_platform("foo/bar/baz/q"); }),
            "\"foo/bar/baz/q\": cannot parse platform specifier: invalid argument");
  EXPECT_EQ(error_of([] { check_requested_platform("windows/amd64"); }), "unsupported os windows");
}

TEST(BuildPlatform, BaseImageMustBeOfThePlatformAskedFor) {
  hoist::builder::Platform amd64, arm64;
  arm64.arch = "arm64";
  nlohmann::json cfg = {{"os", "linux"}, {"architecture", "amd64"}};
  EXPECT_EQ(error_of([&] { check_image_platform("bb:1", amd64, cfg); }), "");
  EXPECT_EQ(error_of([&] { check_image_platform("bb:1", arm64, cfg); }),
            "image with reference bb:1 was found but does not match the specified platform: wanted linux/arm64, "
            "actual: linux/amd64");
  EXPECT_THROW(check_image_platform("bb:1", arm64, cfg), hoist::NotFound);
  // arm64's v8 is no variant; an image without a variant serves any.
  nlohmann::json arm = {{"os", "linux"}, {"architecture", "arm64"}, {"variant", "v8"}};
  EXPECT_EQ(error_of([&] { check_image_platform("a", arm64, arm); }), "");
  nlohmann::json x86 = {{"os", "linux"}, {"architecture", "x86_64"}};
  EXPECT_EQ(error_of([&] { check_image_platform("a", amd64, x86); }), "");
}

TEST(BuildPlatform, ScratchOnlyForTheHost) {
  EXPECT_NO_THROW(check_scratch_platform(host_build_platform()));
  hoist::builder::Platform other = host_build_platform();
  other.arch = other.arch == "s390x" ? "amd64" : "s390x";
  EXPECT_THROW(check_scratch_platform(other), hoist::InvalidArgument);
}

}  // namespace
