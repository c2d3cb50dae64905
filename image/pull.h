// docker pull / docker push against a registry.
#pragma once
#include <string>

#include "image/install.h"
#include "image/registry.h"

namespace hoist::image {

struct PullOptions {
  Platform platform = Platform::host();
  int max_concurrent_downloads = 3;
  std::size_t max_manifest_size = 4 << 20;
};

struct PullResult {
  ImageRecord image;
  Reference ref;
  Digest digest;       // what the registry calls it: the index digest, else the manifest digest
  bool updated = true;  // false when the reference already named this image
};

// Resolves `ref` in its registry, selects the platform's manifest, installs what is missing, and
// points `ref` (and name@digest) at the image. Progress events follow Docker's pull stream; the
// first is {id: tag, status: "Pulling from <path>"}.
PullResult pull_image(Store& store, const RegistrySettings& settings, const Reference& ref, const PullOptions& opts,
                      const ProgressFn& progress = {});

struct PushOptions {
  std::size_t chunk_size = 0;  // 0: monolithic uploads
  int max_concurrent_uploads = 3;
};

// Pushes the image named by `ref` in the store (its blobs as stored, its manifest byte for byte,
// so digests are the same as where it came from). Returns the manifest digest. Progress statuses:
// "Preparing", "Waiting", "Pushing", "Pushed", "Layer already exists", "Mounted from <repo>".
Digest push_image(Store& store, const RegistrySettings& settings, const Reference& ref, const PushOptions& opts,
                  const ProgressFn& progress = {});

}  // namespace hoist::image
