// Manifests from a registry or an archive: a schemaVersion that is not a small integer is refused
// as unsupported (found by the image_manifest fuzzer: 4.4e115 was cast to int, undefined
// behaviour).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/error.h"
#include "image/manifest.h"

using namespace hoist::image;

namespace {

std::string manifest_with_version(const std::string& v) {
  return R"({"schemaVersion":)" + v + R"(,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
         R"("config":{"mediaType":"application/vnd.oci.image.config.v1+json","size":2,)"
         R"("digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"},"layers":[]})";
}

}  // namespace

TEST(ManifestSchemaVersion, OnlyTheInteger2IsAccepted) {
  EXPECT_NO_THROW(Manifest::parse(manifest_with_version("2"), media::kOciManifest));
  for (std::string v : std::vector<std::string>{"4" + std::string(110, '4') + "2", "2.0", "1e300", "-2", "18446744073709551615", "\"2\""})
    EXPECT_THROW(Manifest::parse(manifest_with_version(v), media::kOciManifest), hoist::Error) << v;
  EXPECT_EQ(schema_version(nlohmann::json::parse("{\"schemaVersion\": 1e300}")), 0);
  EXPECT_EQ(schema_version(nlohmann::json::parse("{\"schemaVersion\": 18446744073709551615}")), -1);
  EXPECT_EQ(schema_version(nlohmann::json::parse("{\"schemaVersion\": 2}")), 2);
  // Sniffing a body without a mediaType does not take a huge version for schema 1.
  EXPECT_EQ(sniff_media_type(R"({"schemaVersion":1e300,"layers":[]})", ""), media::kOciManifest);
}
