// Installs an image into the Store from any blob source: the registry (pull), an OCI layout or a
// docker archive (load). Layers are fetched in parallel; in overlay mode each layer is unpacked
// while it downloads, and both its blob digest and its diff ID are verified before the snapshot
// is published. Nothing becomes visible until every layer is in; the image record comes last.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "image/layer.h"
#include "image/manifest.h"
#include "image/store.h"

namespace hoist::image {

// Docker's pull progress messages: id is the short layer digest (or the tag), status one of
// "Pulling fs layer", "Waiting", "Downloading", "Verifying Checksum", "Download complete",
// "Extracting", "Pull complete", "Already exists".
struct ProgressEvent {
  std::string id;
  std::string status;
  std::int64_t current = 0, total = 0;  // bytes, when the status has a progress bar
};
using ProgressFn = std::function<void(const ProgressEvent&)>;

// Where blobs come from.
class BlobSource {
 public:
  virtual ~BlobSource() = default;
  // Streams the blob's bytes to `sink` (every byte once, in order); `on_size` gets the length when known.
  virtual void fetch(const Descriptor& d, const std::function<void(const char*, std::size_t)>& sink,
                     const std::function<void(std::int64_t)>& on_size) = 0;
};

struct InstallOptions {
  int max_concurrent = 3;
  std::size_t max_config_size = 8 << 20;
};

struct InstallInput {
  std::string manifest_body;
  std::string manifest_media_type;
  std::optional<std::string> index_body;  // stored too, so the image can be saved/pushed as pulled
  std::optional<Digest> index_digest;
  // References to point at the image once it is in.
  std::vector<Reference> refs;
};

// Fetches what is missing, publishes the image, returns its record.
ImageRecord install_image(Store& store, BlobSource& src, const InstallInput& in, const InstallOptions& opts,
                          const ProgressFn& progress);

// A BlobSource reading blobs from a directory laid out as blobs/<algo>/<hex> (an OCI layout).
class DirBlobSource : public BlobSource {
 public:
  explicit DirBlobSource(std::string dir) : dir_(std::move(dir)) {}
  void fetch(const Descriptor& d, const std::function<void(const char*, std::size_t)>& sink,
             const std::function<void(std::int64_t)>& on_size) override;

 private:
  std::string dir_;
};

// A ReadFn over a file descriptor (retrying EINTR; errors name `what`).
ReadFn fd_reader(int fd, const std::string& what);

// Streams a file into `sink` in large chunks.
void stream_file(const std::string& path, const std::function<void(const char*, std::size_t)>& sink);

}  // namespace hoist::image
