// The layer maker: what a container (or a build step) changed in its file system, as Docker's
// change list (/containers/{id}/changes, `docker diff`) and as a layer tar (commit, and the
// Dockerfile builder's steps).
//
// The changes are read from one of two forms:
//  - overlay: an overlayfs upper directory over lower layers. The upper dir holds every path the
//    container touched: deletions are 0:0 character devices (whiteouts), a directory removed and
//    made again is opaque (trusted.overlay.opaque=y, or user.overlay.opaque=y for "userxattr"
//    mounts). The layer tar is the upper dir as it is (whiteouts as ".wh.NAME", opaque
//    directories followed by ".wh..wh..opq", overlay's own xattrs left out), as dockerd's
//    overlay2 driver writes it;
//  - full tree: the whole new file system (the copy snapshotter's rootfs) compared entry by entry
//    with the layers below; the tar holds what differs, deletions as ".wh.NAME".
// The change list follows dockerd's rules in both forms: a path is Modify when it exists below
// and its type, mode, owner, device number, or (not for directories) size, mtime or
// security.capability differ; Add when nothing below has it; Delete when it is gone (only the
// top of a deleted tree is listed; below a directory that replaced one of the layers below, every
// name of the old one missing from the new is). A directory with changes below it is listed as
// Modify before them. The root itself is never listed.
//
// Every path is reached with *at() calls relative to directory fds opened with O_NOFOLLOW, so a
// symlink anywhere (even one swapped in while the walk runs) cannot lead it out of the trees.
// Nothing here knows about containers: the engine (commit, diff) and the builder pass directories.
#pragma once
#include <sys/stat.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/digest.h"
#include "image/layer.h"

namespace hoist::image {

enum class ChangeKind { Modify = 0, Add = 1, Delete = 2 };

struct Change {
  std::string path;  // absolute, as Docker shows it: "/etc/passwd"
  ChangeKind kind;
  friend bool operator==(const Change&, const Change&) = default;
};

// Read-only layers stacked as overlayfs stacks them, lowest first (Store::layer_paths' order):
// each in overlay form (whiteouts, opaque directories); the copy snapshotter's full tree is simply
// a lowest layer without either.
class LayerStack {
 public:
  explicit LayerStack(std::vector<std::string> lowest_first) : layers_(std::move(lowest_first)) {}
  // What the merged view holds at `rel` ("etc/passwd"; no leading slash), never following a
  // symlink (one on the way means nothing is there); nullopt when it holds nothing.
  std::optional<struct stat> lookup(const std::string& rel) const;
  const std::vector<std::string>& layers() const { return layers_; }

 private:
  std::vector<std::string> layers_;
};

struct ChangeSource {
  // The overlay upper directory, or the whole new tree when `full_tree`.
  std::string upper;
  bool full_tree = false;
  // The layers below, lowest first.
  std::vector<std::string> lowers;
  // The upper directory (overlay form) is the caller's to give away: it is not mounted and never
  // will be again (a build step's container, removed after the commit). A commit into an overlay
  // store on the same file system then makes it the layer's snapshot (adopt_upper) once its tar
  // is written, instead of unpacking the tar into a copy.
  bool movable = false;
};

// The change list, depth first with the names of each directory in byte order (a deterministic
// order; dockerd's is random).
std::vector<Change> list_changes(const ChangeSource& src);

struct LayerTar {
  Digest diff_id;             // sha256 of the tar stream
  std::int64_t size = 0;      // bytes of the tar stream
  std::int64_t entries = 0;   // 0: nothing changed (the tar is the 1024-byte end marker alone)
};

struct LayerTarOptions {
  // When set (an empty directory): the layer is unpacked there too, as it is written and from the
  // same reads, in overlay form: what extract_layer with WhiteoutMode::Overlay makes of the tar
  // (whiteouts as 0:0 character devices, opaque directories marked), so a snapshot made this way
  // cannot differ from the tar. The directories get their modes and times at the end.
  std::string unpack_to;
  // As ExtractOptions::privileged: owners, devices, trusted.* xattrs (else user.overlay.opaque).
  bool privileged = true;
  // Hash the stream for LayerTar::diff_id; false leaves diff_id empty, for a caller that hashes
  // the bytes it gets (on another thread).
  bool hash = true;
};

// Streams the layer tar of the changes into `write`, entries in a deterministic order (depth
// first, names sorted; in the full-tree form, the change list's order). A file that a running
// container changes while it is read fails the tar ("changed while being read").
LayerTar write_layer_tar(const ChangeSource& src, const WriteFn& write, const LayerTarOptions& opts = {});

// Makes the upper directory `upper` (overlay form, not mounted) what LayerTarOptions::unpack_to
// makes of its layer tar (run as root), and renames it to `dest`, an empty directory on the same
// file system, which it replaces: the xattrs the tar leaves out go (overlayfs' own, but an opaque
// directory's trusted.overlay.opaque; system.*), and so do sockets; the root takes `dest`'s owner
// and mode, without xattrs. Every entry is reached as write_layer_tar reaches it (*at() calls,
// O_NOFOLLOW).
void adopt_upper(const std::string& upper, const std::string& dest);

}  // namespace hoist::image
