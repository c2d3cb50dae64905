#include "image/pull.h"

#include <atomic>
#include <mutex>
#include <thread>

#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"

namespace hoist::image {

namespace {

class RegistryBlobSource : public BlobSource {
 public:
  RegistryBlobSource(Registry& reg, std::string repo) : reg_(reg), repo_(std::move(repo)) {}
  void fetch(const Descriptor& d, const std::function<void(const char*, std::size_t)>& sink,
             const std::function<void(std::int64_t)>& on_size) override {
    if (!d.urls.empty() && d.media_type == media::kDockerForeignLayer)
      throw Error("layer " + d.digest.str() + " is a foreign layer (" + d.urls.front() + "); foreign layers are not fetched");
    reg_.get_blob(repo_, d.digest, sink, on_size);
  }

 private:
  Registry& reg_;
  std::string repo_;
};

}  // namespace

PullResult pull_image(Store& store, const RegistrySettings& settings, const Reference& ref, const PullOptions& opts,
                      const ProgressFn& progress) {
  Registry reg(ref.domain, settings);
  if (progress) progress({ref.digest ? ref.digest->str() : ref.tag, "Pulling from " + ref.path});

  auto top = reg.get_manifest(ref.path, ref.ref(), opts.max_manifest_size);
  auto top_type = sniff_media_type(top.body, top.media_type);
  InstallInput in;
  PullResult result;
  result.ref = ref;
  result.digest = top.digest;
  if (is_index_type(top_type)) {
    auto index = Index::parse(top.body, top_type);
    const auto& entry = index.select(opts.platform);
    in.index_body = top.body;
    in.index_digest = top.digest;
    auto m = reg.get_manifest(ref.path, entry.digest.str(), opts.max_manifest_size);
    if (m.digest != entry.digest)
      throw Error("pull " + ref.familiar() + ": manifest " + entry.digest.str() + " arrived with digest " + m.digest.str());
    in.manifest_body = std::move(m.body);
    in.manifest_media_type = sniff_media_type(in.manifest_body, m.media_type);
  } else {
    in.manifest_body = std::move(top.body);
    in.manifest_media_type = top_type;
  }
  if (!is_manifest_type(in.manifest_media_type))
    Manifest::parse(in.manifest_body, in.manifest_media_type);  // throws the precise reason (schema 1...)

  Reference by_digest = ref;
  by_digest.tag.clear();
  by_digest.digest = result.digest;
  in.refs.push_back(by_digest);
  if (!ref.tag.empty() && !ref.digest) in.refs.push_back(ref);

  auto before = store.lookup(ref);
  RegistryBlobSource src(reg, ref.path);
  InstallOptions io;
  io.max_concurrent = opts.max_concurrent_downloads;
  result.image = install_image(store, src, in, io, progress);
  result.updated = !before || *before != result.image.id;
  return result;
}

Digest push_image(Store& store, const RegistrySettings& settings, const Reference& ref, const PushOptions& opts,
                  const ProgressFn& progress) {
  auto id = store.lookup(ref);
  if (!id) throw NotFound("An image does not exist locally with the tag: " + ref.familiar_name());
  auto rec = *store.get(*id);
  auto& content = store.content();
  auto manifest_body = content.read(rec.manifest_digest);
  auto manifest = Manifest::parse(manifest_body, rec.manifest_media_type);

  Registry reg(ref.domain, settings);
  std::mutex mu;
  auto emit = [&](const std::string& pid, const std::string& status, std::int64_t cur = 0, std::int64_t total = 0) {
    if (!progress) return;
    std::lock_guard lk(mu);
    progress({pid, status, cur, total});
  };
  if (progress) progress({"", "The push refers to repository [" + ref.name() + "]"});

  // Other repositories of the same registry that hold the blobs: candidates for a mount.
  std::vector<std::string> mount_from;
  for (auto& other : store.references(*id))
    if (other.domain == ref.domain && other.path != ref.path) mount_from.push_back(other.path);

  std::vector<Descriptor> blobs = manifest.layers;
  for (auto& b : blobs) emit(b.digest.short_id(), "Preparing");
  auto push_one = [&](const Descriptor& d) {
    auto pid = d.digest.short_id();
    if (reg.blob_exists(ref.path, d.digest)) {
      emit(pid, "Layer already exists");
      return;
    }
    for (auto& from : mount_from) {
      try {
        if (reg.mount_blob(ref.path, d.digest, from)) {
          emit(pid, "Mounted from " + from);
          return;
        }
        break;  // the registry started an upload instead; push the bytes
      } catch (const RegistryError& e) {
        log::debug("mount " + d.digest.str() + " from " + from + ": " + e.what());
      }
    }
    for (const LayerInfo& l : rec.layers)
      if (l.digest == d.digest) store.ensure_layer_blob(l);  // a build step's layer: made now
    auto path = content.path(d.digest);
    auto size = content.size(d.digest);
    if (!size) throw Error("push " + ref.familiar() + ": blob " + d.digest.str() + " is not in the store");
    long long last = 0;
    reg.push_blob(ref.path, d.digest, path, *size, opts.chunk_size, [&](std::int64_t sent) {
      auto now = monotonic_ms();
      if (now - last >= 100 || sent == *size) {
        last = now;
        emit(pid, "Pushing", sent, *size);
      }
    });
    emit(pid, "Pushed");
  };

  std::atomic<std::size_t> next{0};
  std::exception_ptr error;
  std::mutex error_mu;
  auto loop = [&] {
    while (true) {
      auto i = next++;
      if (i >= blobs.size()) return;
      try {
        push_one(blobs[i]);
      } catch (...) {
        std::lock_guard lk(error_mu);
        if (!error) error = std::current_exception();
        return;
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 1; t < opts.max_concurrent_uploads && t < static_cast<int>(blobs.size()); ++t) threads.emplace_back(loop);
  loop();
  for (auto& t : threads) t.join();
  if (error) std::rethrow_exception(error);

  // The config, then the manifest under the tag.
  if (!reg.blob_exists(ref.path, manifest.config.digest))
    reg.push_blob(ref.path, manifest.config.digest, content.path(manifest.config.digest), manifest.config.size,
                  opts.chunk_size);
  auto ref_name = ref.tag.empty() ? rec.manifest_digest.str() : ref.tag;
  auto got = reg.put_manifest(ref.path, ref_name, rec.manifest_media_type, manifest_body);
  if (progress) progress({"", ref_name + ": digest: " + got.str() + " size: " + std::to_string(manifest_body.size())});
  return got;
}

}  // namespace hoist::image
