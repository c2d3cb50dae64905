// Manifests, indexes, image configs and platforms as a registry or an archive hands them over.
// The first byte picks the media type given with the body.
#include "fuzz.h"
#include "image/manifest.h"

using namespace hoist::image;

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  if (size == 0) return 0;
  static const char* const kTypes[] = {media::kDockerManifest, media::kDockerList, media::kOciManifest,
                                       media::kOciIndex,       media::kDockerSchema1, ""};
  std::string type = kTypes[data[0] % (sizeof kTypes / sizeof *kTypes)];
  std::string body(hoist::fuzz::as_text(data + 1, size - 1));
  hoist::fuzz::expect_only_input_errors([&] {
    auto t = sniff_media_type(body, type);
    if (is_index_type(t)) {
      auto idx = Index::parse(body, t);
      for (auto& d : idx.manifests) (void)Descriptor::from_json(d.to_json());
      (void)idx.select(Platform::host());
    } else {
      auto m = Manifest::parse(body, t);
      (void)Descriptor::from_json(m.config.to_json());
      for (auto& l : m.layers) (void)Descriptor::from_json(l.to_json());
    }
  });
  hoist::fuzz::expect_only_input_errors([&] { (void)ImageConfig::parse(body); });
  hoist::fuzz::expect_only_input_errors([&] { (void)Platform::parse(body).str(); });
  return 0;
}
