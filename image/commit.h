// A new image from a parent image and one more layer (or none): `docker commit`, and the
// Dockerfile builder's steps through builder::Executor::commit.
//
// The layer is made from a ChangeSource (image/layer_maker.h) in one pass: the tar stream is
// hashed (the diff ID), compressed into the content store and unpacked into a new snapshot at the
// same time (a thread each), so the image runs as soon as it is published, with its snapshot made
// the way a pulled layer's is (overlay form, or in copy mode the parent's tree with the layer
// applied). A movable upper directory (ChangeSource::movable: a build step's) becomes the
// snapshot itself instead, once its tar is written (adopt_upper). When nothing changed no layer is added and the history entry says "empty_layer", as
// dockerd does. The store changes in its usual order (blobs, snapshot, syncfs, record,
// references): a kill -9 at any point leaves the old state or the new one plus pieces the next
// open removes.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "common/digest.h"
#include "image/layer_maker.h"
#include "image/store.h"

namespace hoist::image {

// How the layer blob is kept in the content store (push sends it as kept; save uncompresses).
enum class LayerCompression { None, Gzip, Zstd };

struct CommitInput {
  // The image the new one builds on (its layers, history and platform); nullopt: from scratch.
  std::optional<Digest> parent;
  // The changes that make the new layer; nullopt: a config-only image (no layer).
  std::optional<ChangeSource> changes;
  // The image config's own fields as a JSON object ("config", "container", "container_config",
  // "author", "docker_version", ...). "created", "rootfs" and "history" are made here;
  // "architecture", "os" and "variant" come from the parent (else this machine) unless given.
  std::string config_json = "{}";
  // The new history entry's fields (each left out when empty).
  std::string author, created_by, comment;
  // Instead of `changes` and the fields above: a layer already in the store (its blob and
  // snapshot, on top of the parent's layers) or none, with a history entry given whole (a JSON
  // object), whose "created" is the image's too: the classic builder's image made from a
  // --cache-from image's step.
  std::optional<LayerInfo> reuse_layer;
  std::string history_entry_json;
  // Names for the new image (a name taken from another image moves, leaving that one dangling).
  std::vector<Reference> refs;
  LayerCompression compression = LayerCompression::Gzip;
  // Compression level: gzip 1-9, zstd 1-19; 0: the default (gzip 1, zstd 3).
  int level = 0;
};

struct CommitResult {
  ImageRecord record;
  bool empty_layer = false;  // nothing had changed: no layer was added
};

// Throws NotFound "No such image: ..." for a parent that is gone, Error for the rest (the
// layer's file-system errors name the path). On failure nothing new stays in the store.
CommitResult commit_image(Store& store, const CommitInput& in);

}  // namespace hoist::image
