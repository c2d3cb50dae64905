// The platforms of a build (`platform` of POST /build, FROM --platform), as hoistd checks them:
// - the builder's own platform (BUILDPLATFORM, BUILDOS, ...) is the host's;
// - the platform built for (TARGETPLATFORM, ...) is the request's `platform`, else the host's;
// - a stage's base image must be of the stage's platform when one was asked for (FROM --platform
//   or `platform`): a local image of another is dockerd's NotFound ("image with reference ... was
//   found but does not match the specified platform: wanted linux/arm64, actual: linux/amd64"),
//   and a pulled one is pulled for it. No platform asked for: any base image, as dockerd.
// - a scratch stage for a platform other than the host's is refused (its image would carry the
//   host's architecture); a RUN on an image of another platform fails as the kernel refuses it
//   (no emulation).
#pragma once
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>

#include "builder/build_args.h"
#include "image/manifest.h"

namespace hoist::engine {

builder::Platform host_build_platform();
builder::Platform to_builder_platform(const image::Platform& p);
image::Platform to_image_platform(const builder::Platform& p);
// Same OS and architecture; variants compared when both have one (arm64's "v8" is none).
bool same_platform(const builder::Platform& a, const builder::Platform& b);
// The request's `platform`: parsed with dockerd's words for one that does not parse,
// InvalidArgument("unsupported os windows") for an OS other than linux; "" when none.
std::string check_requested_platform(const std::string& platform);
// Throws NotFound with dockerd's words when the image (its config) is not of `want`.
void check_image_platform(const std::string& ref, const builder::Platform& want, const nlohmann::json& config);
// A scratch stage for `want`: InvalidArgument unless it is the host's platform.
void check_scratch_platform(const builder::Platform& want);

}  // namespace hoist::engine
