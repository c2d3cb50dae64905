#include "image/archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <set>

#include "common/json.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/file.h"
#include "common/strings.h"

namespace hoist::image {

using nlohmann::json;

namespace {

constexpr std::size_t kChunk = 1 << 20;

std::string blob_name(const Digest& d) { return "blobs/" + std::string(d.algo_name()) + "/" + d.hex; }

// The layer media type that matches a blob's first bytes.
std::string sniff_layer_type(const std::string& head) {
  if (head.size() >= 2 && static_cast<unsigned char>(head[0]) == 0x1f && static_cast<unsigned char>(head[1]) == 0x8b)
    return media::kOciLayerGzip;
  if (head.size() >= 4 && head.compare(0, 4, "\x28\xb5\x2f\xfd") == 0) return media::kOciLayerZstd;
  return media::kOciLayer;
}

std::string file_head(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throw_sys("open", path);
  char buf[8];
  auto n = ::read(fd.get(), buf, sizeof buf);
  if (n < 0) throw_sys("read", path);
  return std::string(buf, static_cast<std::size_t>(n));
}

Digest hash_file(const std::string& path) {
  Hasher h;
  stream_file(path, [&](const char* p, std::size_t n) { h.update(p, n); });
  return h.digest();
}

std::int64_t file_size(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) throw_sys("stat", path);
  return st.st_size;
}

// The OCI manifest of an image whose layers are the uncompressed tars (what `save` writes and
// what loading a docker-archive records): one function for both, so the digests agree.
std::string layout_manifest(const Descriptor& config, const std::vector<Descriptor>& layers) {
  json l = json::array();
  for (auto& d : layers) l.push_back({{"mediaType", d.media_type}, {"digest", d.digest.str()}, {"size", d.size}});
  json m = {{"schemaVersion", 2},
            {"mediaType", media::kOciManifest},
            {"config", {{"mediaType", media::kOciConfig}, {"digest", config.digest.str()}, {"size", config.size}}},
            {"layers", l}};
  return m.dump();
}

// --- writing tars -------------------------------------------------------------------------------

class TarWriter {
 public:
  explicit TarWriter(const WriteFn& out) : out_(out), a_(archive_write_new()) {
    if (!a_) throw Error("save: cannot allocate an archive writer");
    archive_write_set_format_pax_restricted(a_);
    if (archive_write_open2(a_, this, nullptr, &TarWriter::write_cb, nullptr, nullptr) != ARCHIVE_OK) fail("open");
  }
  ~TarWriter() { archive_write_free(a_); }

  void add_bytes(const std::string& name, const std::string& data) {
    header(name, static_cast<std::int64_t>(data.size()));
    data_(data.data(), data.size());
  }
  void add_file(const std::string& name, const std::string& path) {
    header(name, file_size(path));
    stream_file(path, [&](const char* p, std::size_t n) { data_(p, n); });
  }
  void add_dir(const std::string& name) {
    auto* e = archive_entry_new();
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_filetype(e, AE_IFDIR);
    archive_entry_set_perm(e, 0755);
    int r = archive_write_header(a_, e);
    archive_entry_free(e);
    if (r != ARCHIVE_OK) fail("write " + name);
  }
  void finish() {
    if (archive_write_close(a_) != ARCHIVE_OK) fail("finish");
  }

 private:
  const WriteFn& out_;
  archive* a_;
  std::exception_ptr error_;

  static la_ssize_t write_cb(archive*, void* self, const void* buf, size_t len) {
    auto* w = static_cast<TarWriter*>(self);
    try {
      w->out_(static_cast<const char*>(buf), len);
      return static_cast<la_ssize_t>(len);
    } catch (...) {
      w->error_ = std::current_exception();
      return -1;
    }
  }
  [[noreturn]] void fail(const std::string& what) {
    if (error_) std::rethrow_exception(error_);
    throw Error("save: " + what + ": " + (archive_error_string(a_) ? archive_error_string(a_) : "archive error"));
  }
  void header(const std::string& name, std::int64_t size) {
    auto* e = archive_entry_new();
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, size);
    int r = archive_write_header(a_, e);
    archive_entry_free(e);
    if (r != ARCHIVE_OK) fail("write " + name);
  }
  void data_(const char* p, std::size_t n) {
    while (n) {
      auto w = archive_write_data(a_, p, n);
      if (w < 0) fail("write data");
      p += w;
      n -= static_cast<std::size_t>(w);
    }
  }
};

struct SaveItem {
  ImageRecord rec;
  std::vector<Reference> tags;  // names to record for it
};

std::vector<SaveItem> resolve_specs(Store& store, const std::vector<std::string>& specs) {
  std::vector<SaveItem> items;
  std::map<Digest, std::size_t> seen;
  for (auto& spec : specs) {
    auto rec = store.resolve(spec);
    std::optional<Reference> tag;
    if (!looks_like_image_id(spec)) {
      try {
        auto r = Reference::parse(spec);
        if (!r.tag.empty()) tag = r;
      } catch (const Error&) {
      }
    }
    auto [it, fresh] = seen.emplace(rec.id, items.size());
    if (fresh) items.push_back({rec, {}});
    if (tag) items[it->second].tags.push_back(*tag);
  }
  return items;
}

void save_docker(Store& store, const std::vector<SaveItem>& items, TarWriter& tar) {
  auto work = store.temp_dir();
  std::set<std::string> written;
  json manifest_json = json::array(), index_manifests = json::array(), repositories = json::object();
  tar.add_dir("blobs/");
  tar.add_dir("blobs/sha256/");
  for (auto& item : items) {
    auto& rec = item.rec;
    auto cfg_name = blob_name(rec.id);
    auto cfg_path = store.content().path(rec.id);
    Descriptor cfg{media::kOciConfig, rec.id, file_size(cfg_path), {}, {}, {}};
    if (written.insert(cfg_name).second) tar.add_file(cfg_name, cfg_path);
    std::vector<Descriptor> layers;
    json layer_names = json::array();
    for (auto& l : rec.layers) {
      auto name = blob_name(l.diff_id);
      store.ensure_layer_blob(l);
      std::string path = store.content().path(l.digest);
      if (sniff_layer_type(file_head(path)) != media::kOciLayer) {
        auto tmp = work.path() + "/" + l.diff_id.hex;
        if (!path_exists(tmp)) {
          UniqueFd out(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
          if (!out) throw_sys("create", tmp);
          UniqueFd in = store.content().open(l.digest);
          auto got = decompress(fd_reader(in.get(), path),
                                [&](const char* p, std::size_t n) { write_all(out.get(), std::string_view(p, n), tmp); });
          if (got != l.diff_id)
            throw Error("save: layer " + l.digest.str() + " unpacks to " + got.str() + ", expected " + l.diff_id.str());
        }
        path = tmp;
      }
      layers.push_back({media::kOciLayer, l.diff_id, file_size(path), {}, {}, {}});
      layer_names.push_back(name);
      if (written.insert(name).second) tar.add_file(name, path);
      if (path != store.content().path(l.digest)) ::unlink(path.c_str());
    }
    auto mbody = layout_manifest(cfg, layers);
    auto mdigest = digest_of(mbody);
    if (written.insert(blob_name(mdigest)).second) tar.add_bytes(blob_name(mdigest), mbody);

    json repo_tags = json::array();
    for (auto& t : item.tags) {
      repo_tags.push_back(t.familiar());
      json desc = {{"mediaType", media::kOciManifest}, {"digest", mdigest.str()}, {"size", mbody.size()},
                   {"annotations", {{"io.containerd.image.name", t.str()}, {"org.opencontainers.image.ref.name", t.tag}}}};
      index_manifests.push_back(desc);
      if (!rec.layers.empty()) repositories[t.familiar_name()][t.tag] = rec.layers.back().diff_id.hex;
    }
    if (item.tags.empty())
      index_manifests.push_back({{"mediaType", media::kOciManifest}, {"digest", mdigest.str()}, {"size", mbody.size()}});
    manifest_json.push_back({{"Config", cfg_name}, {"RepoTags", repo_tags}, {"Layers", layer_names}});
  }
  json index = {{"schemaVersion", 2}, {"mediaType", media::kOciIndex}, {"manifests", index_manifests}};
  tar.add_bytes("index.json", index.dump() + "\n");
  tar.add_bytes("manifest.json", manifest_json.dump() + "\n");
  tar.add_bytes("oci-layout", R"({"imageLayoutVersion":"1.0.0"})" "\n");
  if (!repositories.empty()) tar.add_bytes("repositories", repositories.dump() + "\n");
}

void save_oci(Store& store, const std::vector<SaveItem>& items, TarWriter& tar) {
  std::set<std::string> written;
  json manifests = json::array();
  tar.add_dir("blobs/");
  tar.add_dir("blobs/sha256/");
  auto add_blob = [&](const Digest& d) {
    if (written.insert(blob_name(d)).second) tar.add_file(blob_name(d), store.content().path(d));
  };
  for (auto& item : items) {
    auto& rec = item.rec;
    add_blob(rec.id);
    for (auto& l : rec.layers) {
      store.ensure_layer_blob(l);
      add_blob(l.digest);
    }
    add_blob(rec.manifest_digest);
    json desc = {{"mediaType", rec.manifest_media_type},
                 {"digest", rec.manifest_digest.str()},
                 {"size", *store.content().size(rec.manifest_digest)}};
    if (item.tags.empty()) manifests.push_back(desc);
    for (auto& t : item.tags) {
      desc["annotations"] = {{"io.containerd.image.name", t.str()}, {"org.opencontainers.image.ref.name", t.tag}};
      manifests.push_back(desc);
    }
  }
  tar.add_bytes("index.json", json({{"schemaVersion", 2}, {"mediaType", media::kOciIndex}, {"manifests", manifests}}).dump() + "\n");
  tar.add_bytes("oci-layout", R"({"imageLayoutVersion":"1.0.0"})" "\n");
}

// --- reading archives --------------------------------------------------------------------------

// "a/./b" -> "a/b", "a/../b" -> "b"; refuses names that climb out of the archive.
std::string clean_member_name(const std::string& name) {
  std::vector<std::string> parts;
  for (auto& p : split(name, '/')) {
    if (p.empty() || p == ".") continue;
    if (p == "..") {
      if (parts.empty()) throw Error("load: archive member \"" + name + "\" points outside the archive");
      parts.pop_back();
      continue;
    }
    parts.push_back(p);
  }
  return join(parts, "/");
}

// Unpacks the regular files of an image archive into `dir` (nothing else is created there, so
// nothing can point outside it); symlinked members (old docker-archive layer sharing) become copies.
void unpack_archive(const ReadFn& in, const std::string& dir) {
  struct Ctx {
    const ReadFn* in;
    std::string buf;
    std::exception_ptr error;
  } ctx{&in, std::string(kChunk, '\0'), nullptr};
  archive* a = archive_read_new();
  struct Free {
    archive* a;
    ~Free() { archive_read_free(a); }
  } guard{a};
  archive_read_support_filter_all(a);
  archive_read_support_format_tar(a);
  auto read_cb = [](archive*, void* p, const void** out) -> la_ssize_t {
    auto* c = static_cast<Ctx*>(p);
    try {
      auto n = (*c->in)(c->buf.data(), c->buf.size());
      *out = c->buf.data();
      return static_cast<la_ssize_t>(n);
    } catch (...) {
      c->error = std::current_exception();
      return -1;
    }
  };
  auto fail = [&](const std::string& what) {
    if (ctx.error) std::rethrow_exception(ctx.error);
    throw Error("load: " + what + ": " + (archive_error_string(a) ? archive_error_string(a) : "archive error"));
  };
  if (archive_read_open(a, &ctx, nullptr, read_cb, nullptr) != ARCHIVE_OK) fail("read archive");
  std::vector<std::pair<std::string, std::string>> links;  // member -> target member
  archive_entry* e;
  while (true) {
    int r = archive_read_next_header(a, &e);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) fail("read archive");
    std::string raw = archive_entry_pathname(e) ? archive_entry_pathname(e) : "";
    auto name = clean_member_name(raw);
    if (name.empty()) continue;
    auto type = archive_entry_filetype(e);
    auto parent = name.find('/') == std::string::npos ? std::string() : name.substr(0, name.rfind('/'));
    if (type == AE_IFDIR) {
      mkdir_all(dir + "/" + name, 0700);
    } else if (type == AE_IFREG) {
      if (!parent.empty()) mkdir_all(dir + "/" + parent, 0700);
      auto path = dir + "/" + name;
      ::unlink(path.c_str());
      UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
      if (!fd) throw_sys("load: create", path);
      const void* buf;
      size_t len;
      la_int64_t off;
      while ((r = archive_read_data_block(a, &buf, &len, &off)) == ARCHIVE_OK) {
        if (::pwrite(fd.get(), buf, len, off) != static_cast<ssize_t>(len)) throw_sys("load: write", path);
      }
      if (r != ARCHIVE_EOF) fail("read " + raw);
      if (::ftruncate(fd.get(), archive_entry_size(e)) != 0) throw_sys("load: truncate", path);
    } else if (type == AE_IFLNK || archive_entry_hardlink(e)) {
      std::string target;
      if (archive_entry_hardlink(e)) {
        target = clean_member_name(archive_entry_hardlink(e));
      } else {
        std::string t = archive_entry_symlink(e) ? archive_entry_symlink(e) : "";
        if (!t.empty() && t[0] == '/') throw Error("load: archive member \"" + raw + "\" links outside the archive");
        target = clean_member_name(parent.empty() ? t : parent + "/" + t);
      }
      links.emplace_back(name, target);
    }
  }
  for (auto& [name, target] : links) {
    auto src = dir + "/" + target, dst = dir + "/" + name;
    if (!path_exists(src)) throw Error("load: archive member \"" + name + "\" links to missing \"" + target + "\"");
    auto slash = name.rfind('/');
    if (slash != std::string::npos) mkdir_all(dir + "/" + name.substr(0, slash), 0700);
    if (::link(src.c_str(), dst.c_str()) != 0) throw_sys("load: link", dst);
  }
}

class MapBlobSource : public BlobSource {
 public:
  std::map<Digest, std::string> files;
  void fetch(const Descriptor& d, const std::function<void(const char*, std::size_t)>& sink,
             const std::function<void(std::int64_t)>& on_size) override {
    auto it = files.find(d.digest);
    if (it == files.end()) throw NotFound("load: blob " + d.digest.str() + " is missing from the archive");
    if (on_size) on_size(d.size);
    stream_file(it->second, sink);
  }
};

std::string member(const std::string& dir, const std::string& name) {
  auto path = dir + "/" + clean_member_name(name);
  if (!path_exists(path)) throw Error("load: the archive has no \"" + name + "\"");
  return path;
}

void load_docker_archive(Store& store, const std::string& dir, const ProgressFn& progress, LoadResult& result) {
  json entries = hoist::parse_json(read_file(dir + "/manifest.json"), "load: manifest.json");
  if (!entries.is_array()) throw Error("load: manifest.json is not a list");
  for (auto& entry : entries) {
    if (!entry.is_object() || !entry.contains("Config") || !entry["Config"].is_string() || !entry.contains("Layers") ||
        !entry["Layers"].is_array())
      throw Error("load: manifest.json: an entry lacks Config or Layers");
    MapBlobSource src;
    auto cfg_path = member(dir, entry["Config"].get<std::string>());
    auto cfg_body = read_file(cfg_path);
    auto config = ImageConfig::parse(cfg_body);
    Descriptor cfg{media::kOciConfig, digest_of(cfg_body), static_cast<std::int64_t>(cfg_body.size()), {}, {}, {}};
    src.files[cfg.digest] = cfg_path;
    if (config.diff_ids.size() != entry["Layers"].size())
      throw Error("load: " + entry["Config"].get<std::string>() + " lists " + std::to_string(config.diff_ids.size()) +
                  " layers, manifest.json " + std::to_string(entry["Layers"].size()));
    std::vector<Descriptor> layers;
    for (std::size_t i = 0; i < config.diff_ids.size(); ++i) {
      auto& lp = entry["Layers"][i];
      if (!lp.is_string()) throw Error("load: manifest.json: a layer path is not a string");
      auto path = member(dir, lp.get<std::string>());
      auto type = sniff_layer_type(file_head(path));
      // An uncompressed layer's digest is its diff ID (checked as it is stored).
      auto d = type == media::kOciLayer ? config.diff_ids[i] : hash_file(path);
      layers.push_back({type, d, file_size(path), {}, {}, {}});
      src.files[d] = path;
    }
    InstallInput in;
    in.manifest_body = layout_manifest(cfg, layers);
    in.manifest_media_type = media::kOciManifest;
    if (entry.contains("RepoTags") && entry["RepoTags"].is_array())
      for (auto& t : entry["RepoTags"])
        if (t.is_string()) in.refs.push_back(Reference::parse(t.get<std::string>()));
    auto rec = install_image(store, src, in, {}, progress);
    if (in.refs.empty()) result.loaded.push_back("Loaded image ID: " + rec.id.str());
    for (auto& r : in.refs) result.loaded.push_back("Loaded image: " + r.familiar());
  }
}

void load_oci_layout(Store& store, const std::string& dir, const ProgressFn& progress, LoadResult& result) {
  auto index = Index::parse(read_file(dir + "/index.json"), media::kOciIndex);
  DirBlobSource src(dir);
  for (auto& desc : index.manifests) {
    InstallInput in;
    auto blob = [&](const Digest& d) { return read_file(member(dir, blob_name(d))); };
    auto body = blob(desc.digest);
    if (digest_of(body) != desc.digest) throw Error("load: blob " + desc.digest.str() + " does not match its digest");
    auto type = sniff_media_type(body, desc.media_type);
    if (is_index_type(type)) {
      auto nested = Index::parse(body, type);
      auto& m = nested.select(Platform::host());
      in.index_body = body;
      in.index_digest = desc.digest;
      body = blob(m.digest);
      if (digest_of(body) != m.digest) throw Error("load: blob " + m.digest.str() + " does not match its digest");
      type = sniff_media_type(body, m.media_type);
    }
    in.manifest_body = body;
    in.manifest_media_type = type;
    auto name = desc.annotations.count("io.containerd.image.name") ? desc.annotations.at("io.containerd.image.name")
                                                                   : std::string();
    if (name.empty() && desc.annotations.count("org.opencontainers.image.ref.name")) {
      auto rn = desc.annotations.at("org.opencontainers.image.ref.name");
      if (rn.find_first_of(":/") != std::string::npos) name = rn;  // a full reference, not just a tag
    }
    if (!name.empty()) in.refs.push_back(Reference::parse(name));
    auto rec = install_image(store, src, in, {}, progress);
    result.loaded.push_back(in.refs.empty() ? "Loaded image ID: " + rec.id.str()
                                            : "Loaded image: " + in.refs.front().familiar());
  }
}

}  // namespace

void save_images(Store& store, const std::vector<std::string>& specs, SaveFormat format, const WriteFn& out) {
  if (specs.empty()) throw InvalidArgument("save: no images given");
  auto items = resolve_specs(store, specs);
  TarWriter tar(out);
  if (format == SaveFormat::Docker) {
    save_docker(store, items, tar);
  } else {
    save_oci(store, items, tar);
  }
  tar.finish();
}

LoadResult load_images(Store& store, const ReadFn& in, const ProgressFn& progress) {
  auto work = store.temp_dir();
  unpack_archive(in, work.path());
  LoadResult result;
  if (path_exists(work.path() + "/manifest.json")) {
    load_docker_archive(store, work.path(), progress, result);
  } else if (path_exists(work.path() + "/index.json")) {
    load_oci_layout(store, work.path(), progress, result);
  } else {
    throw Error("load: the archive has neither manifest.json (docker-archive) nor index.json (OCI layout)");
  }
  return result;
}

ImageRecord import_image(Store& store, const ReadFn& in, const ImportOptions& opts) {
  auto lease = store.lease();
  // 1. The tarball as it came, into the content store.
  auto w = store.content().writer();
  std::string buf(kChunk, '\0'), head;
  while (auto n = in(buf.data(), buf.size())) {
    if (head.size() < 8) head.append(buf.data(), std::min<std::size_t>(n, 8 - head.size()));
    w.write(buf.data(), n);
  }
  auto blob_digest = w.digest();
  lease.add_blob(blob_digest);
  auto size = w.written();
  w.commit(std::nullopt);
  auto layer_type = sniff_layer_type(head);

  // 2. Unpack it (this yields the diff ID), unless that layer is already here.
  auto blob_path = store.content().path(blob_digest);
  Digest diff_id;
  {
    auto snap = store.new_snapshot();
    ExtractOptions xo;
    xo.privileged = geteuid() == 0;
    xo.whiteouts = store.mode() == SnapshotMode::Copy ? WhiteoutMode::Apply : WhiteoutMode::Overlay;
    UniqueFd fd = store.content().open(blob_digest);
    auto res = extract_layer(snap.fs(), fd_reader(fd.get(), blob_path), xo);
    diff_id = res.diff_id;
    lease.add_snapshot(diff_id);
    snap.commit(diff_id, diff_id, res.uncompressed_size);
  }

  // 3. Config and manifest; install_image then finds every piece present and writes the record.
  auto now = now_rfc3339();
  json config = {{"architecture", opts.platform.architecture},
                 {"os", opts.platform.os},
                 {"created", now},
                 {"config", opts.config},
                 {"rootfs", {{"type", "layers"}, {"diff_ids", {diff_id.str()}}}},
                 {"history", {{{"created", now}, {"comment", opts.message.empty() ? "Imported from -" : opts.message}}}}};
  if (!opts.platform.variant.empty()) config["variant"] = opts.platform.variant;
  auto cfg_body = config.dump();
  Descriptor cfg{media::kOciConfig, digest_of(cfg_body), static_cast<std::int64_t>(cfg_body.size()), {}, {}, {}};
  lease.add_blob(cfg.digest);
  store.content().put(cfg_body, cfg.digest);
  InstallInput input;
  input.manifest_body = layout_manifest(cfg, {{layer_type, blob_digest, size, {}, {}, {}}});
  input.manifest_media_type = media::kOciManifest;
  input.refs = opts.refs;
  DirBlobSource none(store.content().root());
  return install_image(store, none, input, {}, {});
}

}  // namespace hoist::image
