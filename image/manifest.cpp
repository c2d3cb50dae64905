#include "image/manifest.h"

#include <climits>
#include <cstdint>
#include <set>
#include <string>

#include <sys/utsname.h>

#include "common/json.h"
#include "common/error.h"
#include "common/strings.h"

namespace hoist::image {

using nlohmann::json;

namespace {

json parse_object(const std::string& body, const std::string& what) {
  auto j = hoist::parse_json(body, what);
  if (!j.is_object()) throw Error(what + ": not a JSON object");
  return j;
}

std::string normalize_arch(const std::string& a) {
  if (a == "x86_64" || a == "x86-64") return "amd64";
  if (a == "aarch64") return "arm64";
  if (a == "i386" || a == "i686") return "386";
  if (a == "armhf" || a == "armel") return "arm";
  return a;
}

}  // namespace

Platform Platform::parse(const std::string& s) {
  auto parts = split(s, '/');
  Platform p;
  static const std::set<std::string> kOses = {"aix", "android", "darwin", "dragonfly", "freebsd", "illumos", "ios",
                                               "js", "linux", "netbsd", "openbsd", "plan9", "solaris", "windows"};
  if (parts.size() == 1 && kOses.count(parts[0])) {
    p = host();  // an OS alone: this machine's architecture (as dockerd reads "windows")
    p.os = parts[0];
  } else if (parts.size() == 1) {
    p.architecture = normalize_arch(parts[0]);
  } else if (parts.size() <= 3) {
    p.os = parts[0];
    p.architecture = normalize_arch(parts[1]);
    if (parts.size() == 3) p.variant = parts[2];
  } else {
    throw InvalidArgument("\"" + s + "\": cannot parse platform specifier: invalid argument");  // dockerd's words
  }
  for (auto& f : {p.os, p.architecture})
    if (f.empty()) throw InvalidArgument("\"" + s + "\": cannot parse platform specifier: invalid argument");
  return p;
}

Platform Platform::host() {
  Platform p;
  struct utsname u;
  if (::uname(&u) == 0) p.architecture = normalize_arch(u.machine);
  if (p.architecture == "arm64") p.variant = "v8";
  return p;
}

std::string Platform::str() const { return os + "/" + architecture + (variant.empty() ? "" : "/" + variant); }

bool Platform::matches(const Platform& c) const {
  if (os != c.os || architecture != normalize_arch(c.architecture)) return false;
  if (variant.empty() || variant == c.variant) return true;
  // arm64's only variant is v8; an entry without a variant serves it.
  return architecture == "arm64" && variant == "v8" && c.variant.empty();
}

json Descriptor::to_json() const {
  json j = {{"mediaType", media_type}, {"digest", digest.str()}, {"size", size}};
  if (platform) {
    j["platform"] = {{"os", platform->os}, {"architecture", platform->architecture}};
    if (!platform->variant.empty()) j["platform"]["variant"] = platform->variant;
  }
  if (!urls.empty()) j["urls"] = urls;
  if (!annotations.empty()) j["annotations"] = annotations;
  return j;
}

Descriptor Descriptor::from_json(const json& j) {
  if (!j.is_object()) throw Error("descriptor is not an object");
  Descriptor d;
  d.media_type = j.value("mediaType", "");
  if (!j.contains("digest") || !j["digest"].is_string()) throw Error("descriptor without a digest");
  d.digest = Digest::parse(j["digest"].get<std::string>());
  if (!j.contains("size") || !j["size"].is_number_integer() || j["size"].get<std::int64_t>() < 0)
    throw Error("descriptor " + d.digest.str() + " without a valid size");
  d.size = j["size"].get<std::int64_t>();
  if (j.contains("platform") && j["platform"].is_object()) {
    Platform p;
    p.os = j["platform"].value("os", "");
    p.architecture = j["platform"].value("architecture", "");
    p.variant = j["platform"].value("variant", "");
    d.platform = p;
  }
  if (j.contains("urls") && j["urls"].is_array())
    for (auto& u : j["urls"])
      if (u.is_string()) d.urls.push_back(u.get<std::string>());
  if (j.contains("annotations") && j["annotations"].is_object())
    for (auto& [k, v] : j["annotations"].items())
      if (v.is_string()) d.annotations[k] = v.get<std::string>();
  return d;
}

bool is_index_type(const std::string& t) { return t == media::kDockerList || t == media::kOciIndex; }
bool is_manifest_type(const std::string& t) { return t == media::kDockerManifest || t == media::kOciManifest; }
bool is_layer_type(const std::string& t) {
  return t == media::kDockerLayer || t == media::kDockerForeignLayer || t == media::kOciLayer ||
         t == media::kOciLayerGzip || t == media::kOciLayerZstd ||
         t == "application/vnd.oci.image.layer.nondistributable.v1.tar" ||
         t == "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip" ||
         t == "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd";
}

std::int64_t schema_version(const json& j) {
  // Integers only: a version of 1e300 or 2.5 is no version at all (and never a double cast to int).
  auto it = j.find("schemaVersion");
  if (it == j.end() || !it->is_number_integer()) return 0;
  return it->is_number_unsigned() && it->get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)
             ? -1 : it->get<std::int64_t>();
}

std::string sniff_media_type(const std::string& body, const std::string& header_type) {
  json j;
  try {
    j = hoist::parse_json(body, "manifest");
  } catch (const InvalidArgument&) {
    return header_type;
  }
  if (!j.is_object()) return header_type;
  if (j.contains("mediaType") && j["mediaType"].is_string()) return j["mediaType"].get<std::string>();
  if (schema_version(j) == 1) return media::kDockerSchema1;
  if (is_index_type(header_type) || is_manifest_type(header_type)) return header_type;
  if (j.contains("manifests")) return media::kOciIndex;
  if (j.contains("layers") || j.contains("config")) return media::kOciManifest;
  return header_type;
}

Index Index::parse(const std::string& body, const std::string& media_type) {
  auto j = parse_object(body, "manifest list");
  if (schema_version(j) != 2) throw Error("manifest list: unsupported schemaVersion");
  if (!j.contains("manifests") || !j["manifests"].is_array()) throw Error("manifest list: no manifests array");
  Index ix;
  ix.media_type = media_type;
  for (auto& m : j["manifests"]) ix.manifests.push_back(Descriptor::from_json(m));
  return ix;
}

const Descriptor& Index::select(const Platform& want) const {
  for (auto& m : manifests)
    if (m.platform && is_manifest_type(m.media_type.empty() ? media::kOciManifest : m.media_type) &&
        want.matches(*m.platform))
      return m;
  // An index without any platform information: take its only manifest.
  if (manifests.size() == 1 && !manifests[0].platform) return manifests[0];
  throw NotFound("no matching manifest for " + want.str() + " in the manifest list entries");
}

Manifest Manifest::parse(const std::string& body, const std::string& media_type) {
  if (media_type == media::kDockerSchema1 || media_type == media::kDockerSchema1Signed)
    throw Error("schema 1 manifests are not supported (" + media_type + "); the image must be pushed again with a current client");
  auto j = parse_object(body, "manifest");
  std::int64_t version = schema_version(j);
  if (version == 1) throw Error("schema 1 manifests are not supported; the image must be pushed again with a current client");
  if (version != 2) throw Error("manifest: unsupported schemaVersion " + std::to_string(version));
  Manifest m;
  m.media_type = media_type;
  if (!j.contains("config")) throw Error("manifest: no config descriptor");
  m.config = Descriptor::from_json(j["config"]);
  if (!j.contains("layers") || !j["layers"].is_array()) throw Error("manifest: no layers array");
  for (auto& l : j["layers"]) {
    auto d = Descriptor::from_json(l);
    if (!is_layer_type(d.media_type)) throw Error("manifest: unsupported layer media type \"" + d.media_type + "\"");
    m.layers.push_back(std::move(d));
  }
  return m;
}

ImageConfig ImageConfig::parse(const std::string& body) {
  ImageConfig c;
  c.raw = parse_object(body, "image config");
  auto& j = c.raw;
  c.os = j.value("os", "");
  c.architecture = j.value("architecture", "");
  c.variant = j.value("variant", "");
  c.created = j.contains("created") && j["created"].is_string() ? j["created"].get<std::string>() : "";
  if (!j.contains("rootfs") || !j["rootfs"].is_object() || !j["rootfs"].contains("diff_ids") ||
      !j["rootfs"]["diff_ids"].is_array())
    throw Error("image config: no rootfs.diff_ids");
  for (auto& d : j["rootfs"]["diff_ids"]) {
    if (!d.is_string()) throw Error("image config: rootfs.diff_ids holds a non-string");
    c.diff_ids.push_back(Digest::parse(d.get<std::string>()));
  }
  return c;
}

}  // namespace hoist::image
