#include "image/commit.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>

#include "common/clock.h"
#include "common/error.h"
#include "common/file.h"
#include "common/json.h"
#include "common/log.h"
#include "image/byte_queue.h"
#include "image/layer_internal.h"
#include "image/manifest.h"

namespace hoist::image {

using nlohmann::json;

namespace {

constexpr std::size_t kChunk = 1 << 20;

// Compresses a stream into a content-store writer.
class Compressor {
 public:
  Compressor(LayerCompression kind, int level, ContentStore::Writer& out) : kind_(kind), out_(out) {
    if (kind_ == LayerCompression::Gzip) {
      // 16 + MAX_WBITS: a gzip header and trailer; memLevel 8 as gzip(1).
      if (deflateInit2(&z_, level > 0 ? level : 1, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        throw Error("commit: zlib initialisation failed");
      buf_.resize(kChunk);
    } else if (kind_ == LayerCompression::Zstd) {
      zstd_ = ZSTD_createCCtx();
      if (!zstd_) throw Error("commit: zstd initialisation failed");
      ZSTD_CCtx_setParameter(zstd_, ZSTD_c_compressionLevel, level > 0 ? level : 3);
      ZSTD_CCtx_setParameter(zstd_, ZSTD_c_checksumFlag, 1);
      buf_.resize(ZSTD_CStreamOutSize());
    }
  }
  ~Compressor() {
    if (kind_ == LayerCompression::Gzip) deflateEnd(&z_);
    ZSTD_freeCCtx(zstd_);
  }
  Compressor(const Compressor&) = delete;
  Compressor& operator=(const Compressor&) = delete;

  void write(const char* p, std::size_t n) { run(p, n, false); }
  void finish() { run(nullptr, 0, true); }

 private:
  void run(const char* p, std::size_t n, bool end) {
    if (kind_ == LayerCompression::None) {
      if (n) out_.write(p, n);
      return;
    }
    if (kind_ == LayerCompression::Gzip) {
      z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(p));
      z_.avail_in = static_cast<uInt>(n);
      for (;;) {
        z_.next_out = reinterpret_cast<Bytef*>(buf_.data());
        z_.avail_out = static_cast<uInt>(buf_.size());
        int r = deflate(&z_, end ? Z_FINISH : Z_NO_FLUSH);
        if (r == Z_STREAM_ERROR) throw Error("commit: gzip compression failed");
        out_.write(buf_.data(), buf_.size() - z_.avail_out);
        if (end ? r == Z_STREAM_END : z_.avail_in == 0 && z_.avail_out != 0) return;
      }
    }
    ZSTD_inBuffer in{p, n, 0};
    for (;;) {
      ZSTD_outBuffer o{buf_.data(), buf_.size(), 0};
      std::size_t left = ZSTD_compressStream2(zstd_, &o, &in, end ? ZSTD_e_end : ZSTD_e_continue);
      if (ZSTD_isError(left)) throw Error(std::string("commit: zstd compression failed: ") + ZSTD_getErrorName(left));
      out_.write(buf_.data(), o.pos);
      if (end ? left == 0 : in.pos == in.size) return;
    }
  }

  LayerCompression kind_;
  ContentStore::Writer& out_;
  z_stream z_{};
  ZSTD_CCtx* zstd_ = nullptr;
  std::string buf_;
};

const char* layer_media_type(LayerCompression c) {
  switch (c) {
    case LayerCompression::Gzip:
      return media::kOciLayerGzip;
    case LayerCompression::Zstd:
      return media::kOciLayerZstd;
    case LayerCompression::None:
      break;
  }
  return media::kOciLayer;
}

// The OCI name of a layer media type (a parent pulled with a Docker schema 2 manifest).
std::string oci_layer_type(const std::string& t) {
  if (t == media::kDockerLayer) return media::kOciLayerGzip;
  if (t == "application/vnd.docker.image.rootfs.diff.tar") return media::kOciLayer;
  return t;
}

// A consumer of the tar stream on a thread of its own, fed through a bounded queue.
class StreamWorker {
 public:
  explicit StreamWorker(std::function<void(const ReadFn&)> fn)
      : thread_([this, fn = std::move(fn)] {
          try {
            fn([this](char* buf, std::size_t len) { return queue_.read(buf, len); });
            // Whatever the consumer left unread must not block the producer.
            char sink[4096];
            while (queue_.read(sink, sizeof sink) > 0) {
            }
          } catch (...) {
            error_ = std::current_exception();
            queue_.abort("the layer could not be stored");
          }
        }) {}
  ~StreamWorker() {
    if (thread_.joinable()) {
      queue_.abort("cancelled");
      thread_.join();
    }
  }
  StreamWorker(const StreamWorker&) = delete;
  StreamWorker& operator=(const StreamWorker&) = delete;

  void push(const char* p, std::size_t n) { queue_.push(p, n); }
  // Ends the stream and waits; rethrows the consumer's failure.
  void finish() {
    queue_.close();
    thread_.join();
    if (error_) std::rethrow_exception(error_);
  }
  // Stops the consumer after a failure of the producer; the consumer's own error, if it failed
  // first, is the cause and is rethrown.
  void abort_and_rethrow_own() {
    queue_.abort("the layer tar failed");
    thread_.join();
    if (error_) std::rethrow_exception(error_);
  }

 private:
  ByteQueue queue_{8 << 20};
  std::exception_ptr error_;
  std::thread thread_;
};

// The tar stream from the walking thread to the storing thread, through a few chunk buffers
// allocated once and passed back and forth (no allocation, and one copy, per chunk).
class ChunkPipe {
 public:
  explicit ChunkPipe(std::size_t chunk = kChunk, int count = 6) : chunk_(chunk) {
    for (int i = 0; i < count; ++i) free_.push_back(std::make_unique_for_overwrite<char[]>(chunk));
  }

  // Producer: copies `p` in, handing each full buffer over.
  void write(const char* p, std::size_t n) {
    while (n > 0) {
      if (!cur_) cur_ = take_free();
      std::size_t k = std::min(n, chunk_ - cur_len_);
      std::memcpy(cur_.get() + cur_len_, p, k);
      cur_len_ += k;
      p += k;
      n -= k;
      if (cur_len_ == chunk_) hand_over();
    }
  }
  // Producer: the end of the stream.
  void close() {
    if (cur_len_ > 0) hand_over();
    std::lock_guard lk(mu_);
    closed_ = true;
    cv_.notify_all();
  }
  // Either side: stops the other (which then throws).
  void abort(const std::string& why) {
    std::lock_guard lk(mu_);
    if (!aborted_) why_ = why;
    aborted_ = true;
    cv_.notify_all();
  }
  // Consumer: `fn` gets every chunk, in order, until the end.
  void drain(const std::function<void(const char*, std::size_t)>& fn) {
    for (;;) {
      std::unique_ptr<char[]> buf;
      std::size_t len;
      {
        std::unique_lock lk(mu_);
        cv_.wait(lk, [&] { return aborted_ || !full_.empty() || closed_; });
        if (aborted_) throw Error("transfer aborted: " + why_);
        if (full_.empty()) return;
        buf = std::move(full_.front().first);
        len = full_.front().second;
        full_.pop_front();
      }
      fn(buf.get(), len);
      std::lock_guard lk(mu_);
      free_.push_back(std::move(buf));
      cv_.notify_all();
    }
  }

 private:
  std::unique_ptr<char[]> take_free() {
    std::unique_lock lk(mu_);
    cv_.wait(lk, [&] { return aborted_ || !free_.empty(); });
    if (aborted_) throw Error("transfer aborted: " + why_);
    auto b = std::move(free_.back());
    free_.pop_back();
    return b;
  }
  void hand_over() {
    std::lock_guard lk(mu_);
    full_.emplace_back(std::move(cur_), cur_len_);
    cur_len_ = 0;
    cv_.notify_all();
  }

  std::size_t chunk_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<char[]>> free_;
  std::deque<std::pair<std::unique_ptr<char[]>, std::size_t>> full_;
  std::unique_ptr<char[]> cur_;  // the producer's
  std::size_t cur_len_ = 0;
  bool closed_ = false, aborted_ = false;
  std::string why_;
};

bool same_file_system(const std::string& a, const std::string& b) {
  struct stat sa, sb;
  return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev;
}

bool nothing_changed(const ChangeSource& src) {
  if (src.full_tree) return list_changes(src).empty();
  UniqueFd up = open_file(src.upper, O_RDONLY | O_DIRECTORY);
  return layer_detail::list_dir(up.get(), src.upper).empty();
}

// Makes the layer of `src` on top of `parent` (its last layer, if any): blob and snapshot, both
// published (and leased); nullopt when nothing changed. In overlay mode the snapshot is written
// by the tar's own walk (one read of each file feeds both), the blob on a second thread, and
// neither is synced: `durable` comes back false and the record is marked for the store's syncer.
// In copy mode the parent's tree is copied and the tar unpacked onto it, on a thread of its own.
std::optional<LayerInfo> make_layer(Store& store, Store::Lease& lease, const ChangeSource& src,
                                    const std::optional<LayerInfo>& parent, const CommitInput& in, bool& durable) {
  long long t0 = monotonic_ms();
  bool copy = store.mode() == SnapshotMode::Copy;
  durable = copy;
  // In copy mode an unchanged file system would cost a copy of the parent's tree for nothing.
  if (copy && nothing_changed(src)) return std::nullopt;
  auto snap = store.new_snapshot();
  bool privileged = ::geteuid() == 0;
  // A movable upper directory becomes the snapshot itself (one write of the files fewer).
  bool adopt = !copy && privileged && src.movable && !src.full_tree && same_file_system(src.upper, snap.fs());
  if (copy && parent) copy_tree(store.snapshot_path(parent->chain_id), snap.fs());
  bool compressed = in.compression != LayerCompression::None;
  // An adopted upper is the layer's tar exactly (adopt_upper): an uncompressed blob would be the
  // same bytes again, so it is not written; the store makes it from the snapshot when a push or
  // a save needs it (Store::ensure_layer_blob).
  bool keep_blob = compressed || !adopt;
  std::optional<ContentStore::Writer> blob;
  if (keep_blob) blob.emplace(store.content().writer());
  Hasher diff_hasher;  // the uncompressed stream, when the blob is compressed or not kept
  std::int64_t tar_bytes = 0;
  // The storer: hashes, compresses (or not) and writes the blob, on a thread of its own.
  ChunkPipe pipe;
  std::exception_ptr store_error;
  std::thread storer([&] {
    try {
      if (!blob) {
        pipe.drain([&](const char* p, std::size_t n) {
          diff_hasher.update(p, n);
          tar_bytes += static_cast<std::int64_t>(n);
        });
        return;
      }
      Compressor c(in.compression, in.level, *blob);
      pipe.drain([&](const char* p, std::size_t n) {
        if (compressed) diff_hasher.update(p, n);
        c.write(p, n);
      });
      c.finish();
    } catch (...) {
      store_error = std::current_exception();
      pipe.abort("the layer could not be stored");
    }
  });
  struct Join {
    std::thread& t;
    ChunkPipe& p;
    ~Join() {
      if (!t.joinable()) return;
      p.abort("cancelled");
      t.join();
    }
  } join{storer, pipe};
  std::optional<StreamWorker> extractor;
  ExtractResult unpacked;
  if (copy) {
    ExtractOptions xo;
    xo.privileged = privileged;
    xo.whiteouts = WhiteoutMode::Apply;
    extractor.emplace([&, xo](const ReadFn& read) { unpacked = extract_layer(snap.fs(), read, xo); });
  }
  LayerTarOptions lo;
  if (!copy && !adopt) lo.unpack_to = snap.fs();
  lo.privileged = privileged;
  lo.hash = false;  // the storer hashes (the blob writer does, for an uncompressed blob)
  LayerTar tar;
  try {
    tar = write_layer_tar(src, [&](const char* p, std::size_t n) {
      pipe.write(p, n);
      if (extractor) extractor->push(p, n);
    }, lo);
    pipe.close();
  } catch (...) {
    // A consumer that failed first aborted its queue: its error is the cause.
    pipe.abort("the layer tar failed");
    storer.join();
    if (store_error) std::rethrow_exception(store_error);
    if (extractor) extractor->abort_and_rethrow_own();
    throw;
  }
  long long t_tar = monotonic_ms();
  storer.join();
  if (store_error) std::rethrow_exception(store_error);
  if (extractor) extractor->finish();
  long long t_done = monotonic_ms();
  if (tar.entries == 0) return std::nullopt;
  tar.diff_id = compressed || !blob ? diff_hasher.digest() : blob->digest();
  if (extractor && unpacked.diff_id != tar.diff_id)
    throw Error("commit: the layer unpacked to " + unpacked.diff_id.str() + ", written as " + tar.diff_id.str());
  if (adopt) adopt_upper(src.upper, snap.fs());
  Digest chain = parent ? digest_of(parent->chain_id.str() + " " + tar.diff_id.str()) : tar.diff_id;
  LayerInfo layer{blob ? blob->digest() : tar.diff_id, layer_media_type(in.compression),
                  blob ? blob->written() : tar_bytes, tar.diff_id, chain};
  lease.add_blob(layer.digest);
  lease.add_snapshot(chain);
  if (blob) blob->commit(layer.digest, std::nullopt, durable);
  long long t_blob = monotonic_ms();
  snap.commit(chain, tar.diff_id, tar.size, durable);
  log::debug("commit layer " + tar.diff_id.short_id() + ": " + std::to_string(tar.size) + " bytes, tar " +
             std::to_string(t_tar - t0) + " ms" + (adopt ? " (upper adopted)" : "") + ", stored" + (copy ? " and unpacked" : "") + " +" +
             std::to_string(t_done - t_tar) + " ms, blob +" + std::to_string(t_blob - t_done) + " ms, snapshot +" +
             std::to_string(monotonic_ms() - t_blob) + " ms");
  return layer;
}

CommitResult commit(Store& store, const CommitInput& in) {
  auto lease = store.lease();
  std::optional<ImageRecord> parent;
  json parent_cfg = json::object();
  if (in.parent) {
    parent = store.get(*in.parent);
    if (!parent) throw NotFound("No such image: " + in.parent->str());
    lease.add_blob(parent->id);
    lease.add_blob(parent->manifest_digest);
    for (const LayerInfo& l : parent->layers) {
      lease.add_blob(l.digest);
      lease.add_snapshot(l.chain_id);
      if (!store.has_snapshot(l.chain_id)) throw NotFound("No such image: " + in.parent->str() + " (a layer is gone)");
    }
    parent_cfg = parse_json(store.content().read(parent->id), "image config " + parent->id.str());
  }
  json cfg = parse_json(in.config_json, "image config");
  if (!cfg.is_object()) throw InvalidArgument("image config: not a JSON object");

  CommitResult result;
  std::vector<LayerInfo> layers;
  std::int64_t size = 0;
  if (parent) {
    for (const LayerInfo& l : parent->layers) {
      layers.push_back(l);
      layers.back().media_type = oci_layer_type(l.media_type);
    }
    size = parent->size;
  }
  std::optional<LayerInfo> added;
  bool durable = true;
  if (in.reuse_layer) {
    lease.add_blob(in.reuse_layer->digest);
    lease.add_snapshot(in.reuse_layer->chain_id);
    if (!store.has_snapshot(in.reuse_layer->chain_id) || !store.has_layer_blob(*in.reuse_layer))
      throw NotFound("layer " + in.reuse_layer->diff_id.str() + " is not in the store");
    added = *in.reuse_layer;
    added->media_type = oci_layer_type(added->media_type);
  } else if (in.changes)
    added = make_layer(store, lease, *in.changes, layers.empty() ? std::nullopt : std::optional(layers.back()), in,
                       durable);
  if (added) {
    layers.push_back(*added);
    size += store.snapshot_size(added->chain_id);
  }
  result.empty_layer = !added;
  // Without a new layer, the config and manifest are written without a sync too: the record is
  // marked with the image's own id (the store's syncer makes them durable; an open after a crash
  // checks them first), so a metadata step costs no fsync.
  if (!added && !in.reuse_layer) durable = false;

  std::string now = now_rfc3339();
  json diff_ids = json::array();
  for (const LayerInfo& l : layers) diff_ids.push_back(l.diff_id.str());
  json history = parent_cfg.contains("history") && parent_cfg["history"].is_array() ? parent_cfg["history"] : json::array();
  json entry = {{"created", now}};
  if (!in.author.empty()) entry["author"] = in.author;
  if (!in.created_by.empty()) entry["created_by"] = in.created_by;
  if (!in.comment.empty()) entry["comment"] = in.comment;
  if (result.empty_layer) entry["empty_layer"] = true;
  if (!in.history_entry_json.empty()) {
    entry = parse_json(in.history_entry_json, "history entry");
    if (entry.contains("created") && entry["created"].is_string()) now = entry["created"].get<std::string>();
  }
  history.push_back(entry);
  Platform host = Platform::host();
  for (const char* k : {"architecture", "os", "variant"}) {
    if (cfg.contains(k)) continue;
    if (parent_cfg.contains(k) && parent_cfg[k].is_string()) {
      cfg[k] = parent_cfg[k];
    } else if (std::string_view(k) == "architecture") {
      cfg[k] = host.architecture;
    } else if (std::string_view(k) == "os") {
      cfg[k] = host.os;
    }
  }
  cfg["created"] = now;
  cfg["rootfs"] = {{"type", "layers"}, {"diff_ids", diff_ids}};
  cfg["history"] = history;
  std::string cfg_body = cfg.dump();
  Digest cfg_digest = digest_of(cfg_body);
  lease.add_blob(cfg_digest);
  store.content().put(cfg_body, cfg_digest, durable);

  json mlayers = json::array();
  for (const LayerInfo& l : layers)
    mlayers.push_back({{"mediaType", l.media_type}, {"digest", l.digest.str()}, {"size", l.size}});
  json manifest = {{"schemaVersion", 2},
                   {"mediaType", media::kOciManifest},
                   {"config", {{"mediaType", media::kOciConfig}, {"digest", cfg_digest.str()}, {"size", cfg_body.size()}}},
                   {"layers", mlayers}};
  std::string mbody = manifest.dump();
  Digest mdigest = digest_of(mbody);
  lease.add_blob(mdigest);
  store.content().put(mbody, mdigest, durable);

  ImageRecord& rec = result.record;
  rec.id = cfg_digest;
  rec.manifest_digest = mdigest;
  rec.manifest_media_type = media::kOciManifest;
  rec.layers = layers;
  rec.created = now;
  rec.size = size;
  if (parent) rec.parent = parent->id;
  // The image stands on its parent's layers: durable already, or still marked for the syncer
  // (the marks carry over), so no syncfs for them (which would also flush whatever else is dirty
  // on the file system, a build's context say).
  if (parent) rec.unsynced = parent->unsynced;
  if (added && !durable) rec.unsynced.push_back(added->chain_id);
  if (!durable) rec.unsynced.push_back(rec.id);  // its config and manifest
  long long t_record = monotonic_ms();
  store.add_image(rec, in.refs, !added);
  log::debug("commit image " + rec.id.short_id() + ": record " + std::to_string(monotonic_ms() - t_record) + " ms");
  return result;
}

}  // namespace

CommitResult commit_image(Store& store, const CommitInput& in) {
  try {
    return commit(store, in);
  } catch (...) {
    // The lease is gone: a blob or snapshot made for nothing goes too.
    try {
      store.gc();
    } catch (...) {
    }
    throw;
  }
}

}  // namespace hoist::image
