// Image references with Docker's normalisation:
//   busybox                  -> docker.io/library/busybox:latest
//   localhost:5000/a/b       -> localhost:5000/a/b:latest
//   ubuntu@sha256:<hex>      -> docker.io/library/ubuntu@sha256:<hex>
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "common/digest.h"

namespace hoist::image {

struct Reference {
  std::string domain;  // "docker.io", "localhost:5000", "[::1]:5000"
  std::string path;    // "library/busybox"
  std::string tag;     // empty when only a digest was given
  std::optional<Digest> digest;

  // Parses and normalises; adds the tag "latest" when neither tag nor digest is given.
  // Throws Error "invalid reference format: ..." for anything Docker refuses.
  static Reference parse(std::string_view s);
  // As parse, but never adds a default tag (for names given to `tag`/filters).
  static Reference parse_name_only(std::string_view s);

  std::string name() const { return domain + "/" + path; }           // docker.io/library/busybox
  std::string str() const;                                            // full: name[:tag][@digest]
  std::string familiar_name() const;                                  // busybox, user/x, localhost:5000/x
  std::string familiar() const;                                       // busybox:latest
  // The registry manifest reference: the digest if there is one, else the tag.
  std::string ref() const { return digest ? digest->str() : tag; }
  friend bool operator==(const Reference&, const Reference&) = default;
};

// True for strings that can only be an image ID (64 hex chars, or "sha256:" + 64 hex).
bool looks_like_image_id(std::string_view s);

}  // namespace hoist::image
