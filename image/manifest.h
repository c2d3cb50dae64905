// OCI / Docker schema 2 manifests, indexes (manifest lists), image configs, platforms.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/digest.h"

namespace hoist::image {

namespace media {
inline constexpr const char* kDockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr const char* kDockerList = "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr const char* kDockerSchema1 = "application/vnd.docker.distribution.manifest.v1+json";
inline constexpr const char* kDockerSchema1Signed = "application/vnd.docker.distribution.manifest.v1+prettyjws";
inline constexpr const char* kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr const char* kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr const char* kDockerConfig = "application/vnd.docker.container.image.v1+json";
inline constexpr const char* kOciConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr const char* kDockerLayer = "application/vnd.docker.image.rootfs.diff.tar.gzip";
inline constexpr const char* kDockerForeignLayer = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
inline constexpr const char* kOciLayer = "application/vnd.oci.image.layer.v1.tar";
inline constexpr const char* kOciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr const char* kOciLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd";
}  // namespace media

struct Platform {
  std::string os = "linux";
  std::string architecture = "amd64";
  std::string variant;
  // "linux/arm64/v8", "linux/amd64", "arm64" (os defaults to linux). Throws InvalidArgument.
  static Platform parse(const std::string& s);
  // The platform of this machine.
  static Platform host();
  std::string str() const;
  // Does an index entry's platform serve a request for `*this`?
  bool matches(const Platform& candidate) const;
};

struct Descriptor {
  std::string media_type;
  Digest digest;
  std::int64_t size = 0;
  std::optional<Platform> platform;
  std::vector<std::string> urls;
  std::map<std::string, std::string> annotations;
  nlohmann::json to_json() const;
  static Descriptor from_json(const nlohmann::json& j);
};

bool is_index_type(const std::string& media_type);
bool is_manifest_type(const std::string& media_type);
bool is_layer_type(const std::string& media_type);

struct Index {
  std::string media_type;
  std::vector<Descriptor> manifests;
  // Throws Error for malformed JSON or a schema other than 2.
  static Index parse(const std::string& body, const std::string& media_type);
  // The entry for `want`; NotFound "no matching manifest for linux/arm64 in the manifest list entries".
  const Descriptor& select(const Platform& want) const;
};

struct Manifest {
  std::string media_type;
  Descriptor config;
  std::vector<Descriptor> layers;
  // Validates schema 2, media types and digests; schema 1 is refused with a clear error.
  static Manifest parse(const std::string& body, const std::string& media_type);
};

// The media type of a manifest body: its mediaType field, else guessed from its keys.
std::string sniff_media_type(const std::string& body, const std::string& header_type);
// A manifest's schemaVersion: 0 when absent or not an integer, -1 when beyond int64.
std::int64_t schema_version(const nlohmann::json& manifest);

struct ImageConfig {
  nlohmann::json raw;  // the whole document
  std::vector<Digest> diff_ids;
  std::string os, architecture, variant, created;
  static ImageConfig parse(const std::string& body);
};

}  // namespace hoist::image
