#include "engine/build_platform.h"

#include <nlohmann/json.hpp>

#include "common/error.h"

namespace hoist::engine {

builder::Platform to_builder_platform(const image::Platform& p) {
  builder::Platform b;
  b.os = p.os;
  b.arch = p.architecture;
  b.variant = p.architecture == "arm64" && p.variant == "v8" ? "" : p.variant;
  return b;
}

image::Platform to_image_platform(const builder::Platform& p) {
  image::Platform i;
  i.os = p.os;
  i.architecture = p.arch;
  i.variant = p.variant;
  return i;
}

builder::Platform host_build_platform() { return to_builder_platform(image::Platform::host()); }

bool same_platform(const builder::Platform& a, const builder::Platform& b) {
  auto variant = [](const builder::Platform& p) { return p.arch == "arm64" && p.variant == "v8" ? "" : p.variant; };
  if (a.os != b.os || a.arch != b.arch) return false;
  return variant(a).empty() || variant(b).empty() || variant(a) == variant(b);
}

std::string check_requested_platform(const std::string& platform) {
  if (platform.empty()) return "";
  builder::Platform p;
  try {
    p = builder::Platform::parse(platform, host_build_platform());
  } catch (const InvalidArgument&) {
    throw InvalidArgument("\"" + platform + "\": cannot parse platform specifier: invalid argument");
  }
  if (p.os != "linux") throw InvalidArgument("unsupported os " + p.os);
  return p.str();
}

void check_image_platform(const std::string& ref, const builder::Platform& want, const nlohmann::json& config) {
  builder::Platform have;
  have.os = config.value("os", "linux");
  have.arch = config.value("architecture", "amd64");
  have.variant = config.value("variant", "");
  if (have.os.empty()) have.os = "linux";
  try {
    have = builder::Platform::parse(have.str(), have);  // normalised ("x86_64" → "amd64")
  } catch (const InvalidArgument&) {
  }
  if (same_platform(want, have)) return;
  throw NotFound("image with reference " + ref + " was found but does not match the specified platform: wanted " +
                 want.str() + ", actual: " + have.str());
}

void check_scratch_platform(const builder::Platform& want) {
  builder::Platform host = host_build_platform();
  if (!same_platform(want, host))
    throw InvalidArgument("building FROM scratch for " + want.str() + " on a " + host.str() +
                          " host is not supported yet by hoist build");
}

}  // namespace hoist::engine
