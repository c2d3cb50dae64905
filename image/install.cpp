#include "image/install.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <exception>
#include <mutex>
#include <thread>

#include "common/clock.h"
#include "common/error.h"
#include "common/file.h"
#include "image/byte_queue.h"
#include "image/layer.h"

namespace hoist::image {

namespace {

constexpr std::size_t kChunk = 1 << 20;

// Serialises progress events from the worker threads and thins out "Downloading" updates.
class Progress {
 public:
  explicit Progress(const ProgressFn& fn) : fn_(fn) {}
  void emit(const std::string& id, const std::string& status, std::int64_t cur = 0, std::int64_t total = 0) {
    if (!fn_) return;
    std::lock_guard lk(mu_);
    fn_({id, status, cur, total});
  }
  // Rate-limited: at most every 100 ms per caller-held timestamp, plus the final byte.
  void bytes(const std::string& id, const std::string& status, std::int64_t cur, std::int64_t total, long long& last) {
    if (!fn_) return;
    auto now = monotonic_ms();
    if (now - last < 100 && cur != total) return;
    last = now;
    emit(id, status, cur, total);
  }

 private:
  const ProgressFn& fn_;
  std::mutex mu_;
};

// Fetches a whole blob into the content store, verifying digest and size.
void fetch_to_store(Store& store, BlobSource& src, const Descriptor& d, Progress* progress, const std::string& pid) {
  auto w = store.content().writer(d.digest.algo);
  long long last = 0;
  std::int64_t total = d.size;
  src.fetch(
      d,
      [&](const char* p, std::size_t n) {
        if (w.written() + static_cast<std::int64_t>(n) > d.size)
          throw Error("blob " + d.digest.str() + ": more data than the " + std::to_string(d.size) + " bytes announced");
        w.write(p, n);
        if (progress) progress->bytes(pid, "Downloading", w.written(), total, last);
      },
      [&](std::int64_t) {});
  if (progress) progress->emit(pid, "Verifying Checksum");
  w.commit(d.digest, d.size);
}

struct LayerJob {
  const Descriptor* desc;
  Digest diff_id, chain_id;
  std::int64_t size = 0;  // unpacked
};

class Installer {
 public:
  Installer(Store& store, BlobSource& src, const InstallOptions& opts, const ProgressFn& fn)
      : store_(store), src_(src), opts_(opts), progress_(fn), lease_(store.lease()) {}

  ImageRecord run(const InstallInput& in) {
    auto manifest = Manifest::parse(in.manifest_body, in.manifest_media_type);
    ImageRecord rec;
    rec.manifest_media_type = in.manifest_media_type;
    rec.manifest_digest = digest_of(in.manifest_body);
    lease_.add_blob(rec.manifest_digest);
    store_.content().put(in.manifest_body);
    if (in.index_body) {
      rec.index_digest = in.index_digest ? *in.index_digest : digest_of(*in.index_body);
      lease_.add_blob(*rec.index_digest);
      store_.content().put(*in.index_body, rec.index_digest);
    }

    auto& cd = manifest.config;
    if (cd.size > static_cast<std::int64_t>(opts_.max_config_size))
      throw Error("image config " + cd.digest.str() + " is " + std::to_string(cd.size) + " bytes, over the limit");
    lease_.add_blob(cd.digest);
    if (!store_.content().has(cd.digest)) fetch_to_store(store_, src_, cd, nullptr, "");
    auto config = ImageConfig::parse(store_.content().read(cd.digest, opts_.max_config_size));
    rec.id = cd.digest;
    if (config.diff_ids.size() != manifest.layers.size())
      throw Error("image " + cd.digest.str() + ": the config lists " + std::to_string(config.diff_ids.size()) +
                  " layers, the manifest " + std::to_string(manifest.layers.size()));
    auto chains = chain_ids(config.diff_ids);

    std::vector<LayerJob> jobs;
    for (std::size_t i = 0; i < manifest.layers.size(); ++i) {
      jobs.push_back({&manifest.layers[i], config.diff_ids[i], chains[i], 0});
      lease_.add_blob(manifest.layers[i].digest);
      lease_.add_snapshot(chains[i]);
    }
    if (store_.mode() == SnapshotMode::Overlay) {
      run_parallel(jobs, [&](LayerJob& j) { overlay_layer(j); });
    } else {
      run_parallel(jobs, [&](LayerJob& j) { download_only(j); });
      for (std::size_t i = 0; i < jobs.size(); ++i) copy_layer(jobs[i], i ? &jobs[i - 1] : nullptr);
    }

    for (auto& j : jobs) {
      rec.layers.push_back({j.desc->digest, j.desc->media_type, j.desc->size, j.diff_id, j.chain_id});
      rec.size += j.size;
    }
    rec.created = now_rfc3339();
    store_.add_image(rec, in.refs);
    return rec;
  }

 private:
  Store& store_;
  BlobSource& src_;
  const InstallOptions& opts_;
  Progress progress_;
  Store::Lease lease_;

  void run_parallel(std::vector<LayerJob>& jobs, const std::function<void(LayerJob&)>& work) {
    std::size_t workers = std::min<std::size_t>(jobs.size(), std::max(1, opts_.max_concurrent));
    for (std::size_t i = 0; i < jobs.size(); ++i)
      if (!done(jobs[i])) progress_.emit(jobs[i].desc->digest.short_id(), i < workers ? "Pulling fs layer" : "Waiting");
    std::atomic<std::size_t> next{0};
    std::atomic<bool> failed{false};
    std::exception_ptr error;
    std::mutex error_mu;
    auto loop = [&] {
      while (!failed) {
        auto i = next++;
        if (i >= jobs.size()) return;
        try {
          work(jobs[i]);
        } catch (...) {
          std::lock_guard lk(error_mu);
          if (!error) error = std::current_exception();
          failed = true;
        }
      }
    };
    std::vector<std::thread> threads;
    for (std::size_t t = 1; t < workers; ++t) threads.emplace_back(loop);
    loop();
    for (auto& t : threads) t.join();
    if (error) std::rethrow_exception(error);
  }

  bool done(const LayerJob& j) {
    return store_.has_snapshot(j.chain_id) &&
           store_.has_layer_blob(LayerInfo{j.desc->digest, j.desc->media_type, j.desc->size, j.diff_id, j.chain_id});
  }

  void check_diff_id(const LayerJob& j, const Digest& got) {
    if (got != j.diff_id)
      throw Error("layer " + j.desc->digest.str() + ": the unpacked content hashes to " + got.str() +
                  ", the image config says " + j.diff_id.str());
  }

  // Overlay mode: download and unpack at once (or unpack the blob already here).
  void overlay_layer(LayerJob& j) {
    auto id = j.desc->digest.short_id();
    if (done(j)) {
      j.size = store_.snapshot_size(j.chain_id);
      progress_.emit(id, "Already exists");
      return;
    }
    auto snap = store_.new_snapshot();
    ExtractOptions xo;
    xo.privileged = geteuid() == 0;
    ExtractResult res;
    if (store_.content().has(j.desc->digest)) {
      progress_.emit(id, "Extracting");
      auto fd = store_.content().open(j.desc->digest);
      res = extract_layer(snap.fs(), fd_reader(fd.get(), store_.content().path(j.desc->digest)), xo);
    } else {
      res = download_and_extract(j, snap.fs(), xo);
    }
    check_diff_id(j, res.diff_id);
    snap.commit(j.chain_id, j.diff_id, res.uncompressed_size);
    j.size = res.uncompressed_size;
    progress_.emit(id, "Pull complete");
  }

  ExtractResult download_and_extract(const LayerJob& j, const std::string& fs, const ExtractOptions& xo) {
    auto id = j.desc->digest.short_id();
    const auto& d = *j.desc;
    ByteQueue queue;
    ExtractResult res;
    std::exception_ptr extract_error;
    std::atomic<bool> extract_failed{false};  // set before the extractor aborts the queue
    std::thread extractor([&] {
      try {
        res = extract_layer(fs, [&](char* buf, std::size_t len) { return queue.read(buf, len); }, xo);
      } catch (...) {
        extract_error = std::current_exception();
        extract_failed = true;
        queue.abort("layer extraction failed");
      }
    });
    auto w = store_.content().writer(d.digest.algo);
    long long last = 0;
    try {
      src_.fetch(
          d,
          [&](const char* p, std::size_t n) {
            if (w.written() + static_cast<std::int64_t>(n) > d.size)
              throw Error("blob " + d.digest.str() + ": more data than the " + std::to_string(d.size) +
                          " bytes announced");
            w.write(p, n);
            queue.push(p, n);
            progress_.bytes(id, "Downloading", w.written(), d.size, last);
          },
          [](std::int64_t) {});
      queue.close();
    } catch (...) {
      // If the extraction failed first, its error is the cause and the download's is the echo.
      bool extraction_first = extract_failed;
      queue.abort("download failed");
      extractor.join();
      if (extraction_first) std::rethrow_exception(extract_error);
      throw;
    }
    progress_.emit(id, "Verifying Checksum");
    try {
      w.commit(d.digest, d.size);
    } catch (...) {
      queue.abort("digest mismatch");
      extractor.join();
      throw;
    }
    progress_.emit(id, "Download complete");
    progress_.emit(id, "Extracting", d.size, d.size);
    extractor.join();
    if (extract_error) std::rethrow_exception(extract_error);
    return res;
  }

  // Copy mode, phase 1: blobs only.
  void download_only(LayerJob& j) {
    auto id = j.desc->digest.short_id();
    if (store_.content().has(j.desc->digest)) return;
    fetch_to_store(store_, src_, *j.desc, &progress_, id);
    progress_.emit(id, "Download complete");
  }

  // Copy mode, phase 2: snapshot n = copy of snapshot n-1 + layer n applied.
  void copy_layer(LayerJob& j, const LayerJob* parent) {
    auto id = j.desc->digest.short_id();
    if (store_.has_snapshot(j.chain_id)) {
      j.size = store_.snapshot_size(j.chain_id);
      progress_.emit(id, "Already exists");
      return;
    }
    auto snap = store_.new_snapshot();
    if (parent) copy_tree(store_.snapshot_path(parent->chain_id), snap.fs());
    progress_.emit(id, "Extracting");
    ExtractOptions xo;
    xo.privileged = geteuid() == 0;
    xo.whiteouts = WhiteoutMode::Apply;
    auto fd = store_.content().open(j.desc->digest);
    auto res = extract_layer(snap.fs(), fd_reader(fd.get(), store_.content().path(j.desc->digest)), xo);
    check_diff_id(j, res.diff_id);
    snap.commit(j.chain_id, j.diff_id, res.uncompressed_size);
    j.size = res.uncompressed_size;
    progress_.emit(id, "Pull complete");
  }
};

}  // namespace

ImageRecord install_image(Store& store, BlobSource& src, const InstallInput& in, const InstallOptions& opts,
                          const ProgressFn& progress) {
  try {
    return Installer(store, src, opts, progress).run(in);
  } catch (...) {
    // The installer's lease is gone: whatever it fetched or unpacked for nothing goes too, so a
    // failed pull leaves the store as it was.
    store.gc();
    throw;
  }
}

ReadFn fd_reader(int fd, const std::string& what) {
  return [fd, what](char* buf, std::size_t len) -> std::size_t {
    while (true) {
      auto n = ::read(fd, buf, len);
      if (n >= 0) return static_cast<std::size_t>(n);
      if (errno != EINTR) throw_sys("read", what);
    }
  };
}

void stream_file(const std::string& path, const std::function<void(const char*, std::size_t)>& sink) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throw_sys("open", path);
  std::string buf(kChunk, '\0');
  while (true) {
    auto n = ::read(fd.get(), buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_sys("read", path);
    }
    if (n == 0) return;
    sink(buf.data(), static_cast<std::size_t>(n));
  }
}

void DirBlobSource::fetch(const Descriptor& d, const std::function<void(const char*, std::size_t)>& sink,
                          const std::function<void(std::int64_t)>& on_size) {
  auto path = dir_ + "/blobs/" + std::string(d.digest.algo_name()) + "/" + d.digest.hex;
  if (!path_exists(path)) throw NotFound("blob " + d.digest.str() + " is missing from " + dir_);
  if (on_size) on_size(d.size);
  stream_file(path, sink);
}

}  // namespace hoist::image
