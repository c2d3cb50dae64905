// The image store: blobs (ContentStore), unpacked layers (snapshots), image records and references.
//
// On disk, under the store root (e.g. /var/lib/hoist/image):
//   lock                      flock: one process owns the store
//   content/                  ContentStore (manifests, configs, layer blobs; see has_layer_blob)
//   snapshots/<chain-id>/     fs/ (the unpacked layer) and meta.json, published by renaming a
//                             finished directory from tmp/; overlay mode: each holds one layer's diff;
//                             copy mode: each holds the full tree up to that layer
//   images/<id>.json          image records (id = config digest), written atomically
//   repositories.json         references -> image id, written atomically
//   tmp/                      work directories; cleared on open
// Every change is ordered (blobs, snapshots, record, then references) so a kill -9 at any point
// leaves either the old state or the new one plus unreferenced leftovers, which open() removes.
// Reference counts are not stored: a snapshot or blob lives while an image record needs it.
#pragma once
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/digest.h"
#include "common/fd.h"
#include "image/content_store.h"
#include "image/reference.h"

namespace hoist::image {

struct LayerInfo {
  Digest digest;  // the blob (compressed as distributed)
  std::string media_type;
  std::int64_t size = 0;
  Digest diff_id;   // uncompressed
  Digest chain_id;  // identifies the snapshot
};

struct ImageRecord {
  Digest id;  // config digest
  Digest manifest_digest;
  std::string manifest_media_type;
  std::optional<Digest> index_digest;  // when the image came through an index / manifest list
  std::vector<LayerInfo> layers;
  std::string created;   // when it entered the store (RFC 3339)
  std::int64_t size = 0;  // unpacked size of all layers
  std::optional<Digest> parent;  // the image a commit was made on (inspect's Parent)
  // Layers (chain ids) whose blob and snapshot were written without a sync of the file system
  // yet, and the image's own id when its config and manifest blobs were (Store::add_image with
  // `unsynced`); empty once the store's background sync has run.
  std::vector<Digest> unsynced;
};

// chain(0) = diff(0); chain(n) = sha256(chain(n-1) + " " + diff(n)), as in the OCI image spec.
std::vector<Digest> chain_ids(const std::vector<Digest>& diff_ids);

enum class SnapshotMode { Overlay, Copy };

struct RemoveReport {
  std::vector<std::string> untagged;  // references removed (familiar form)
  std::vector<std::string> deleted;   // image ids and layer chain ids removed
};

class Store {
 public:
  // Opens (creating) the store at `root`; takes the lock or throws "image store ... in use by
  // another process". Clears tmp/, ingest leftovers, and anything no image record needs.
  explicit Store(std::string root, std::optional<SnapshotMode> mode = std::nullopt);
  // The background sync's delay after the first unsynced record (2 s; a test holds the sync
  // back with a long one). A stop (the destructor) syncs at once whatever the delay.
  void set_sync_delay(std::chrono::milliseconds d);
  ~Store();

  ContentStore& content() { return content_; }
  SnapshotMode mode() const { return mode_; }
  const std::string& root() const { return root_; }

  // --- images and references
  std::optional<ImageRecord> get(const Digest& id) const;
  std::vector<ImageRecord> list() const;
  // An image by reference ("busybox", "x:1", "name@sha256:..."), full ID or unique ID prefix;
  // throws NotFound "No such image: ..." (Docker's message).
  ImageRecord resolve(const std::string& spec) const;
  std::optional<Digest> lookup(const Reference& ref) const;
  // References naming `id` (full form), sorted.
  std::vector<Reference> references(const Digest& id) const;
  // Publishes a complete image (all its snapshots and blobs present); replaces a record with the
  // same id. Then points each of `refs` at it (a tag moving from another image leaves that one
  // dangling, as Docker does). The blobs and snapshots are made durable (syncfs) before the
  // record is written, unless rec.unsynced names layers written without a sync (blob and
  // snapshot committed with durable = false): then the record is written at once, marked, and a
  // background thread of the store makes everything durable and clears the mark. A store opened
  // with a marked record (the machine or the process went down before that) checks its config
  // and manifest blobs and those layers' blobs against their digests and unpacks the layers'
  // snapshots again; an image whose blob is not whole is dropped, as if it had never been added.
  // `layers_durable`: the caller knows every layer is durable already or named in rec.unsynced
  // (an image on the layers of another, as a commit without a new layer): no syncfs then.
  void add_image(const ImageRecord& rec, const std::vector<Reference>& refs, bool layers_durable = false);
  void tag(const Digest& id, const Reference& ref);
  // Docker's rmi: a reference removes that reference, and the image once nothing names it; an ID
  // removes the image (Conflict when several references name it, unless force).
  RemoveReport remove(const std::string& spec, bool force);
  // Removes dangling images (all unused images when `all`); returns what was removed.
  // Removes unnamed images (every image unused when `all`), except those `keep` keeps.
  RemoveReport prune(bool all, const std::function<bool(const Digest&)>& keep = {});

  // --- layer blobs
  // A layer's blob is in the content store, or it is made from the layer's snapshot when it is
  // first needed (push, save): in overlay mode, an uncompressed layer (digest = diff ID) whose
  // snapshot holds exactly its tar (a build step's, image/commit.h) may be stored without its
  // blob. has_layer_blob: the blob is there, or can be made.
  bool has_layer_blob(const LayerInfo& l) const;
  // Makes sure the blob of `l` is in the content store: made from the snapshot (and checked
  // against the digest) if it is not. Throws Error when it is neither there nor can be made.
  void ensure_layer_blob(const LayerInfo& l);

  // --- snapshots
  bool has_snapshot(const Digest& chain_id) const;
  // The unpacked size recorded for a snapshot (0 if unknown).
  std::int64_t snapshot_size(const Digest& chain_id) const;
  // The unpacked tree of a snapshot.
  std::string snapshot_path(const Digest& chain_id) const;
  // The snapshot trees of an image, lowest first (overlay lowerdirs are these, reversed).
  std::vector<std::string> layer_paths(const ImageRecord& rec) const;
  // A snapshot being built: a fresh directory under tmp/; commit() publishes it.
  class SnapshotBuilder {
   public:
    SnapshotBuilder(SnapshotBuilder&&) noexcept;
    ~SnapshotBuilder();
    const std::string& fs() const { return fs_; }
    // Publishes it as `chain_id`; if another builder got there first, this one is discarded.
    // `durable`: syncfs first (false: see add_image's `unsynced`).
    void commit(const Digest& chain_id, const Digest& diff_id, std::int64_t size, bool durable = true);

   private:
    friend class Store;
    SnapshotBuilder(Store& s, std::string dir);
    Store* store_;
    std::string dir_, fs_;
  };
  SnapshotBuilder new_snapshot();
  // A directory under tmp/ removed by the destructor of the returned guard.
  class TempDir {
   public:
    TempDir(TempDir&& o) noexcept : store_(o.store_), path_(std::move(o.path_)), later_(o.later_) { o.path_.clear(); }
    ~TempDir();
    const std::string& path() const { return path_; }
    // The destructor hands the directory to the store's remover thread instead of removing it
    // there and then (a build's context: thousands of files need not hold up the answer).
    void remove_in_background() { later_ = true; }

   private:
    friend class Store;
    TempDir(Store* s, std::string p) : store_(s), path_(std::move(p)) {}
    Store* store_;
    std::string path_;
    bool later_ = false;
  };
  TempDir temp_dir();

  // --- leases: blobs and snapshots that a running pull/load is still assembling; gc keeps them.
  class Lease {
   public:
    Lease(Lease&&) noexcept;
    ~Lease();
    void add_blob(const Digest& d);
    void add_snapshot(const Digest& chain_id);

   private:
    friend class Store;
    Lease(Store& s, int id) : store_(&s), id_(id) {}
    Store* store_;
    int id_;
  };
  Lease lease();

  // Removes snapshots and blobs that no image record and no lease needs; returns the snapshots removed.
  std::vector<Digest> gc();

 private:
  std::string root_;
  UniqueFd lock_;
  ContentStore content_;
  SnapshotMode mode_;
  mutable std::mutex mu_;
  std::map<Digest, ImageRecord> images_;
  std::map<std::string, Digest> refs_;  // full reference string -> image id
  std::map<int, std::pair<std::set<Digest>, std::set<Digest>>> leases_;  // id -> (blobs, snapshots)
  int next_lease_ = 0;

  // Background sync of unsynced records (started with the first one); see add_image.
  // Directories to remove in the background (TempDir::remove_in_background); the destructor
  // finishes them, and an open removes whatever a crash left in tmp/.
  void remove_later(std::string path);
  void remover_loop();
  std::vector<std::string> to_remove_;
  std::condition_variable remove_cv_;
  bool remove_stop_ = false;
  std::thread remover_;
  std::set<Digest> unsynced_;  // image ids whose record is marked
  std::chrono::milliseconds sync_delay_{2000};  // from the first mark to the syncfs
  std::thread syncer_;
  std::condition_variable sync_cv_;
  bool sync_stop_ = false;
  void syncer_loop();
  // At open: checks and re-unpacks the layers of marked records (see add_image).
  void repair_unsynced();

  void load();
  void save_refs_locked(bool durable = true);
  void write_record_locked(const ImageRecord& rec);
  void delete_image_locked(const Digest& id, RemoveReport& report);
  std::vector<Digest> gc_locked();
  std::optional<Digest> resolve_locked(const std::string& spec, bool* by_ref) const;
};

}  // namespace hoist::image
