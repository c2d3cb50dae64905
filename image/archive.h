// Image archives: save/load (docker-archive and OCI image layout as tar) and import of a rootfs
// tarball as a one-layer image.
//
// `save` in the default format writes what Docker 25 and later write: an OCI image layout whose
// layers are the uncompressed layer tars (blobs/sha256/<diff id>), plus manifest.json and
// repositories for docker-archive readers, so `docker load`, `skopeo copy docker-archive:` and
// `skopeo copy oci-archive:` all read it. SaveFormat::Oci writes the OCI layout of the image as
// stored (compressed blobs, the manifest as pulled, same digests).
#pragma once
#include <string>
#include <vector>

#include "image/install.h"
#include "image/layer.h"
#include "image/store.h"

namespace hoist::image {

enum class SaveFormat { Docker, Oci };

// Writes the images named by `specs` (references or IDs) as one tar stream.
void save_images(Store& store, const std::vector<std::string>& specs, SaveFormat format, const WriteFn& out);

struct LoadResult {
  std::vector<std::string> loaded;  // "Loaded image: busybox:latest" / "Loaded image ID: sha256:..."
};
// Reads a docker-archive or OCI-layout tar (optionally gzip/zstd compressed) from `in`.
LoadResult load_images(Store& store, const ReadFn& in, const ProgressFn& progress = {});

struct ImportOptions {
  std::vector<Reference> refs;      // name the image (docker import's REPOSITORY[:TAG])
  std::string message;              // history comment
  nlohmann::json config = nlohmann::json::object();  // the image config's "config" (Cmd, Env, ...)
  Platform platform = Platform::host();
};
// Makes a one-layer image of a rootfs tarball (plain, gzip or zstd) read from `in`.
ImageRecord import_image(Store& store, const ReadFn& in, const ImportOptions& opts);

}  // namespace hoist::image
