// Layer tarballs: secure extraction into a snapshot directory, and decompression.
//
// A layer (gzip, zstd or plain tar; detected from the bytes) is unpacked below `dest_dir` and never
// anywhere else: every path is resolved inside the directory without following links out of it
// (openat2 RESOLVE_IN_ROOT), so `..`, absolute names, symlinks or chains of symlinks that point
// out, hardlinks to outside paths and whiteouts that climb out cannot touch the host. Names,
// hardlink targets and whiteouts that climb above the root ("../x") are refused with an Error
// naming the entry ("path escapes the layer root"); absolute names and symlinks met on the way
// resolve as if dest_dir were "/" (contained: "a -> /etc" then "a/passwd" writes
// dest_dir/etc/passwd). A symlink at the entry's own name is replaced, never followed.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "common/digest.h"

namespace hoist::image {

// Pulls up to `len` bytes of the (possibly compressed) layer into `buf`; returns 0 at the end.
// Throws to abort the extraction.
using ReadFn = std::function<std::size_t(char* buf, std::size_t len)>;
// Receives a chunk of output.
using WriteFn = std::function<void(const char* buf, std::size_t len)>;

enum class WhiteoutMode {
  // `.wh.NAME` becomes a 0:0 character device NAME, `.wh..wh..opq` the xattr
  // trusted.overlay.opaque=y on its directory (user.overlay.opaque when not privileged, for
  // "userxattr" mounts): the layer directory is an overlayfs lower layer.
  Overlay,
  // Whiteouts delete NAME (or empty the directory) in `dest_dir`, which holds the layers below
  // already applied: the copy-based snapshots for file systems without overlayfs. An opaque
  // marker removes what the layers below put in its directory when it is met; entries of this
  // layer survive, before or after the marker.
  Apply,
};

struct ExtractOptions {
  WhiteoutMode whiteouts = WhiteoutMode::Overlay;
  // Restore owners, device nodes and trusted.* xattrs (needs root). When false (not root), files
  // are owned by the caller and device nodes are skipped.
  bool privileged = true;
};

struct ExtractResult {
  Digest diff_id;                 // sha256 of the uncompressed tar stream
  std::int64_t uncompressed_size = 0;
  std::int64_t entries = 0;
};

// Extracts the layer read through `read` into the existing directory `dest_dir`. Throws Error
// naming the entry and the reason when the layer is malformed or tries to reach outside
// ("extract layer entry \"usr/bin/x\": mknodat: Operation not permitted"); failures of the
// input (an exception from `read`, "decompress layer: truncated gzip stream") propagate as they
// are. The whole input is consumed (so a caller hashing it sees every byte).
// Overlayfs' own xattrs (trusted.overlay.*, user.overlay.*) in the tar are ignored, and so is
// the root entry ("./": dest_dir keeps its metadata).
ExtractResult extract_layer(const std::string& dest_dir, const ReadFn& read, const ExtractOptions& opts = {});

// Decompresses a gzip/zstd/plain stream into `write`; returns the digest of the output.
Digest decompress(const ReadFn& read, const WriteFn& write);

// Writes `dir` (a directory tree, e.g. a container's rootfs) as an uncompressed tar into `write`,
// entries in sorted order with deterministic headers; returns the digest of the tar stream.
Digest archive_directory(const std::string& dir, const WriteFn& write);

// Recursively copies a directory tree keeping modes, owners, times, xattrs, hardlinks, symlinks and
// device nodes (the copy-based snapshotter's parent copy). `dst` is created when missing; an
// existing one should be empty. Symlinks are copied, never followed.
void copy_tree(const std::string& src, const std::string& dst);

}  // namespace hoist::image
