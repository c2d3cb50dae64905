#include "image/store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <atomic>
#include <nlohmann/json.hpp>
#include <random>

#include "common/json.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/file.h"
#include "common/log.h"
#include "common/strings.h"
#include "image/install.h"
#include "image/layer.h"
#include "image/layer_maker.h"

namespace hoist::image {

using nlohmann::json;

namespace {

std::string unique_name() {
  static std::atomic<unsigned> n{0};
  std::random_device rd;
  return std::to_string(getpid()) + "-" + std::to_string(n++) + "-" + std::to_string(rd());
}

std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> out;
  DIR* dp = ::opendir(dir.c_str());
  if (!dp) {
    if (errno == ENOENT) return out;
    throw_sys("open directory", dir);
  }
  while (auto* e = ::readdir(dp)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") out.push_back(n);
  }
  ::closedir(dp);
  return out;
}

json layer_to_json(const LayerInfo& l) {
  return {{"digest", l.digest.str()}, {"mediaType", l.media_type}, {"size", l.size},
          {"diffID", l.diff_id.str()}, {"chainID", l.chain_id.str()}};
}

json record_to_json(const ImageRecord& r) {
  json layers = json::array();
  for (auto& l : r.layers) layers.push_back(layer_to_json(l));
  json j = {{"id", r.id.str()},
            {"manifestDigest", r.manifest_digest.str()},
            {"manifestMediaType", r.manifest_media_type},
            {"layers", layers},
            {"created", r.created},
            {"size", r.size}};
  if (r.index_digest) j["indexDigest"] = r.index_digest->str();
  if (r.parent) j["parent"] = r.parent->str();
  if (!r.unsynced.empty()) {
    json u = json::array();
    for (auto& c : r.unsynced) u.push_back(c.str());
    j["unsynced"] = u;
  }
  return j;
}

ImageRecord record_from_json(const json& j) {
  ImageRecord r;
  r.id = Digest::parse(j.at("id").get<std::string>());
  r.manifest_digest = Digest::parse(j.at("manifestDigest").get<std::string>());
  r.manifest_media_type = j.at("manifestMediaType").get<std::string>();
  if (j.contains("indexDigest")) r.index_digest = Digest::parse(j.at("indexDigest").get<std::string>());
  if (j.contains("parent")) r.parent = Digest::parse(j.at("parent").get<std::string>());
  if (j.contains("unsynced"))
    for (auto& c : j.at("unsynced")) r.unsynced.push_back(Digest::parse(c.get<std::string>()));
  for (auto& l : j.at("layers")) {
    LayerInfo li;
    li.digest = Digest::parse(l.at("digest").get<std::string>());
    li.media_type = l.at("mediaType").get<std::string>();
    li.size = l.at("size").get<std::int64_t>();
    li.diff_id = Digest::parse(l.at("diffID").get<std::string>());
    li.chain_id = Digest::parse(l.at("chainID").get<std::string>());
    r.layers.push_back(std::move(li));
  }
  r.created = j.value("created", "");
  r.size = j.value("size", std::int64_t{0});
  return r;
}

// Can this process mount overlayfs with directories under `tmp`?
bool overlay_works(const std::string& tmp) {
  if (geteuid() != 0) return false;
  auto base = tmp + "/overlay-probe-" + unique_name();
  for (auto d : {"/l1", "/l2", "/u", "/w", "/m"}) mkdir_all(base + d, 0700);
  auto opts = "lowerdir=" + base + "/l2:" + base + "/l1,upperdir=" + base + "/u,workdir=" + base + "/w";
  bool ok = ::mount("overlay", (base + "/m").c_str(), "overlay", 0, opts.c_str()) == 0;
  if (ok) ::umount2((base + "/m").c_str(), MNT_DETACH);
  remove_all(base);
  return ok;
}

}  // namespace

std::vector<Digest> chain_ids(const std::vector<Digest>& diff_ids) {
  std::vector<Digest> out;
  for (auto& d : diff_ids) {
    if (out.empty()) {
      out.push_back(d);
    } else {
      out.push_back(digest_of(out.back().str() + " " + d.str()));
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

Store::Store(std::string root, std::optional<SnapshotMode> mode)
    : root_((mkdir_all(root, 0700), root)),
      lock_([&] {
        auto p = root_ + "/lock";
        UniqueFd fd(::open(p.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
        if (!fd) throw_sys("open", p);
        if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
          if (errno == EWOULDBLOCK) throw Error("image store " + root_ + " is in use by another process");
          throw_sys("lock", p);
        }
        return fd;
      }()),
      content_(root_ + "/content") {
  // A process killed between the overlay probe's mount and its unmount leaves the mount: it goes
  // first, or the directory cannot be removed.
  if (DIR* d = ::opendir((root_ + "/tmp").c_str())) {
    while (dirent* e = ::readdir(d))
      if (std::string_view(e->d_name).starts_with("overlay-probe-"))
        ::umount2((root_ + "/tmp/" + e->d_name + "/m").c_str(), MNT_DETACH);  // not mounted: EINVAL
    ::closedir(d);
  }
  remove_all(root_ + "/tmp");
  mkdir_all(root_ + "/tmp", 0700);
  mkdir_all(root_ + "/snapshots", 0700);
  mkdir_all(root_ + "/images", 0700);

  auto driver_file = root_ + "/snapshotter";
  if (path_exists(driver_file)) {
    auto d = std::string(trim(read_file(driver_file)));
    mode_ = d == "copy" ? SnapshotMode::Copy : SnapshotMode::Overlay;
    if (mode && *mode != mode_)
      throw Error("image store " + root_ + " uses the " + d + " snapshotter; it cannot be changed");
  } else {
    mode_ = mode ? *mode : (overlay_works(root_ + "/tmp") ? SnapshotMode::Overlay : SnapshotMode::Copy);
    write_file_atomic(driver_file, mode_ == SnapshotMode::Copy ? "copy\n" : "overlay\n", 0600);
  }
  load();
  repair_unsynced();
  std::lock_guard lk(mu_);
  gc_locked();
}

Store::~Store() {
  {
    std::lock_guard lk(mu_);
    sync_stop_ = true;
    remove_stop_ = true;
  }
  sync_cv_.notify_all();
  remove_cv_.notify_all();
  if (remover_.joinable()) remover_.join();
  // The syncer finishes what is pending first: a clean shutdown leaves no marked record.
  if (syncer_.joinable()) syncer_.join();
}

void Store::set_sync_delay(std::chrono::milliseconds d) {
  std::lock_guard lk(mu_);
  sync_delay_ = d;
}

void Store::syncer_loop() {
  std::unique_lock lk(mu_);
  for (;;) {
    sync_cv_.wait(lk, [&] { return sync_stop_ || !unsynced_.empty(); });
    if (unsynced_.empty()) return;  // stopping, nothing left
    // A moment's delay gathers a burst of commits (a build's steps) into one syncfs, and lets
    // short-lived files die unwritten: a syncfs flushes everything dirty on the file system, a
    // build's context that is about to be deleted too. A stop syncs at once.
    sync_cv_.wait_for(lk, sync_delay_, [&] { return sync_stop_; });
    std::set<Digest> ids = unsynced_;
    lk.unlock();
    int r = ::syncfs(lock_.get());
    int err = errno;
    lk.lock();
    if (r != 0) {
      // The marks stay: the next open checks those images.
      log::warn("image store: syncfs " + root_ + ": " + std::strerror(err));
      if (sync_stop_) return;
      sync_cv_.wait_for(lk, std::chrono::seconds(5), [&] { return sync_stop_; });
      continue;
    }
    for (const Digest& id : ids) {
      unsynced_.erase(id);
      auto it = images_.find(id);
      if (it == images_.end() || it->second.unsynced.empty()) continue;
      it->second.unsynced.clear();
      try {
        write_record_locked(it->second);
      } catch (const std::exception& e) {
        log::warn(std::string("image store: ") + e.what());
      }
    }
  }
}

namespace {
// The tar of an overlay-form snapshot, byte for byte the one its commit wrote (the walk and the
// tar writer are deterministic; commit.cpp adopts an upper only as write_layer_tar reads it).
LayerTar snapshot_tar(const std::string& fs, const WriteFn& write, bool hash) {
  LayerTarOptions o;
  o.privileged = ::geteuid() == 0;
  o.hash = hash;
  return write_layer_tar({fs, false, {}, false}, write, o);
}
}  // namespace

void Store::repair_unsynced() {
  std::vector<ImageRecord> marked;
  {
    std::lock_guard lk(mu_);
    for (auto& [id, rec] : images_)
      if (!rec.unsynced.empty()) marked.push_back(rec);
  }
  for (ImageRecord& rec : marked) {
    std::string why;
    // The config and manifest were written without a sync too (any marked record's may have been).
    for (const Digest& d : {rec.id, rec.manifest_digest}) {
      try {
        if (digest_of(content_.read(d), d.algo) != d) why = "blob " + d.str() + " does not match its digest";
      } catch (const std::exception& e) {
        why = "blob " + d.str() + ": " + e.what();
      }
      if (!why.empty()) break;
    }
    for (const Digest& chain : rec.unsynced) {
      if (!why.empty()) break;
      auto l = std::find_if(rec.layers.begin(), rec.layers.end(), [&](const LayerInfo& x) { return x.chain_id == chain; });
      if (l == rec.layers.end()) continue;
      try {
        if (!content_.has(l->digest) && has_layer_blob(*l)) {
          // A layer kept without its blob: the snapshot must still make the tar of the digest.
          LayerTar again = snapshot_tar(snapshot_path(chain), [](const char*, std::size_t) {}, true);
          if (again.diff_id != l->diff_id) throw Error("the snapshot makes " + again.diff_id.str());
          continue;
        }
        // The blob must be whole; the snapshot, written from the same bytes, is made again from it.
        UniqueFd fd = content_.open(l->digest);
        Hasher h(l->digest.algo);
        ExtractOptions xo;
        xo.privileged = ::geteuid() == 0;
        if (mode_ == SnapshotMode::Copy) throw Error("a copy-mode layer cannot be unpacked again on its own");
        auto snap = new_snapshot();
        std::string what = content_.path(l->digest);
        auto res = extract_layer(snap.fs(), [&](char* buf, std::size_t n) {
          std::size_t got = fd_reader(fd.get(), what)(buf, n);
          h.update(buf, got);
          return got;
        }, xo);
        if (h.digest() != l->digest) throw Error("the blob does not match its digest");
        if (res.diff_id != l->diff_id) throw Error("the layer unpacks to " + res.diff_id.str());
        remove_all(root_ + "/snapshots/" + chain.hex);
        snap.commit(chain, l->diff_id, res.uncompressed_size);
      } catch (const std::exception& e) {
        why = "layer " + chain.str() + ": " + e.what();
        break;
      }
    }
    std::lock_guard lk(mu_);
    if (!why.empty()) {
      log::warn("image store: dropping image " + rec.id.str() + ", written just before the store was last closed: " + why);
      images_.erase(rec.id);
      ::unlink((root_ + "/images/" + rec.id.hex + ".json").c_str());
      bool refs_changed = false;
      for (auto it = refs_.begin(); it != refs_.end();) {
        if (it->second == rec.id) {
          it = refs_.erase(it);
          refs_changed = true;
        } else {
          ++it;
        }
      }
      if (refs_changed) save_refs_locked();
      continue;
    }
    rec.unsynced.clear();
    images_[rec.id] = rec;
    write_record_locked(rec);
  }
}

void Store::load() {
  std::lock_guard lk(mu_);
  for (auto& name : list_dir(root_ + "/images")) {
    auto path = root_ + "/images/" + name;
    if (name.size() < 5 || name.substr(name.size() - 5) != ".json") {
      remove_all(path);  // an interrupted atomic write
      continue;
    }
    try {
      auto rec = record_from_json(hoist::parse_json(read_file(path), path));
      images_[rec.id] = std::move(rec);
    } catch (const std::exception& e) {
      log::warn("image store: ignoring unreadable image record " + path + ": " + e.what());
    }
  }
  auto refs_path = root_ + "/repositories.json";
  if (path_exists(refs_path)) {
    auto j = hoist::parse_json(read_file(refs_path), refs_path);
    for (auto& [k, v] : j.at("refs").items()) {
      auto id = Digest::parse(v.get<std::string>());
      if (images_.count(id)) refs_[k] = id;
    }
  }
}

void Store::save_refs_locked(bool durable) {
  json refs = json::object();
  for (auto& [k, v] : refs_) refs[k] = v.str();
  write_file_atomic(root_ + "/repositories.json", json{{"refs", refs}}.dump(1) + "\n", 0600, durable);
}

void Store::write_record_locked(const ImageRecord& rec) {
  // A marked record need not reach the disk before its layers do: the syncer rewrites it.
  write_file_atomic(root_ + "/images/" + rec.id.hex + ".json", record_to_json(rec).dump(1) + "\n", 0600,
                    rec.unsynced.empty());
}

std::optional<ImageRecord> Store::get(const Digest& id) const {
  std::lock_guard lk(mu_);
  auto it = images_.find(id);
  if (it == images_.end()) return std::nullopt;
  return it->second;
}

std::vector<ImageRecord> Store::list() const {
  std::lock_guard lk(mu_);
  std::vector<ImageRecord> out;
  for (auto& [_, r] : images_) out.push_back(r);
  return out;
}

std::optional<Digest> Store::lookup(const Reference& ref) const {
  std::lock_guard lk(mu_);
  auto it = refs_.find(ref.str());
  if (it == refs_.end()) return std::nullopt;
  return it->second;
}

std::optional<Digest> Store::resolve_locked(const std::string& spec, bool* by_ref) const {
  if (by_ref) *by_ref = false;
  // A full or short image ID.
  std::string hex = spec.rfind("sha256:", 0) == 0 ? spec.substr(7) : spec;
  bool is_hex = !hex.empty() && hex.find_first_not_of("0123456789abcdef") == std::string::npos;
  if (is_hex) {
    std::optional<Digest> found;
    int matches = 0;
    for (auto& [id, _] : images_) {
      if (id.hex.compare(0, hex.size(), hex) == 0) {
        found = id;
        ++matches;
      }
    }
    if (matches == 1) return found;
    if (matches > 1 && hex.size() < 64) return std::nullopt;
  }
  try {
    auto ref = Reference::parse(spec);
    auto it = refs_.find(ref.str());
    if (it != refs_.end()) {
      if (by_ref) *by_ref = true;
      return it->second;
    }
    // name@digest where the digest is the image's manifest (or index) digest.
    if (ref.digest) {
      for (auto& [id, rec] : images_)
        if (rec.manifest_digest == *ref.digest || (rec.index_digest && *rec.index_digest == *ref.digest))
          for (auto& [k, v] : refs_)
            if (v == id && Reference::parse_name_only(k).name() == ref.name()) return id;
    }
  } catch (const Error&) {
    // not a valid reference: just not found
  }
  return std::nullopt;
}

ImageRecord Store::resolve(const std::string& spec) const {
  std::lock_guard lk(mu_);
  auto id = resolve_locked(spec, nullptr);
  if (!id) {
    // As dockerd: a name without tag or digest is named with the tag it stood for.
    auto last = spec.substr(spec.rfind('/') == std::string::npos ? 0 : spec.rfind('/') + 1);
    bool bare_name = !spec.empty() && spec.find('@') == std::string::npos && last.find(':') == std::string::npos &&
                     !Digest::valid(spec) && !(spec.size() == 64 && spec.find_first_not_of("0123456789abcdef") == std::string::npos);
    throw NotFound("No such image: " + spec + (bare_name ? ":latest" : ""));
  }
  return images_.at(*id);
}

std::vector<Reference> Store::references(const Digest& id) const {
  std::lock_guard lk(mu_);
  std::vector<Reference> out;
  for (auto& [k, v] : refs_)
    if (v == id) out.push_back(Reference::parse_name_only(k));
  return out;
}

void Store::add_image(const ImageRecord& rec, const std::vector<Reference>& refs, bool layers_durable) {
  for (auto& l : rec.layers)
    if (!has_snapshot(l.chain_id)) throw Error("add image " + rec.id.str() + ": layer " + l.chain_id.str() + " missing");
  bool unsynced = !rec.unsynced.empty();
  // Make the blobs and unpacked layers durable before a record points at them (or, for layers
  // written without a sync, mark the record until the syncer has done it).
  if (!unsynced && !layers_durable && ::syncfs(lock_.get()) != 0) throw_sys("syncfs", root_);
  std::lock_guard lk(mu_);
  write_record_locked(rec);
  images_[rec.id] = rec;
  for (auto& r : refs) refs_[r.str()] = rec.id;
  if (!refs.empty()) save_refs_locked(!unsynced);
  if (unsynced) {
    unsynced_.insert(rec.id);
    if (!syncer_.joinable()) syncer_ = std::thread([this] { syncer_loop(); });
    sync_cv_.notify_all();
  }
}

void Store::tag(const Digest& id, const Reference& ref) {
  std::lock_guard lk(mu_);
  if (!images_.count(id)) throw NotFound("No such image: " + id.str());
  refs_[ref.str()] = id;
  save_refs_locked();
}

void Store::delete_image_locked(const Digest& id, RemoveReport& report) {
  auto path = root_ + "/images/" + id.hex + ".json";
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) throw_sys("remove", path);
  images_.erase(id);
  report.deleted.push_back(id.str());
}

RemoveReport Store::remove(const std::string& spec, bool force) {
  std::lock_guard lk(mu_);
  RemoveReport report;
  bool by_ref = false;
  auto id = resolve_locked(spec, &by_ref);
  if (!id) throw NotFound("No such image: " + spec);
  std::vector<std::string> names;
  for (auto& [k, v] : refs_)
    if (v == *id) names.push_back(k);

  if (by_ref) {
    auto key = Reference::parse(spec).str();
    if (!refs_.count(key)) {  // matched through name@manifest-digest
      for (auto& n : names)
        if (Reference::parse_name_only(n).name() == Reference::parse(spec).name()) key = n;
    }
    refs_.erase(key);
    report.untagged.push_back(Reference::parse_name_only(key).familiar());
    // As Docker: once no tag names the image, its digest references go too, and so does the image.
    bool tagged = false;
    std::vector<std::string> digest_refs;
    for (auto& [k, v] : refs_) {
      if (v != *id) continue;
      if (Reference::parse_name_only(k).tag.empty()) {
        digest_refs.push_back(k);
      } else {
        tagged = true;
      }
    }
    if (!tagged) {
      for (auto& k : digest_refs) {
        refs_.erase(k);
        report.untagged.push_back(Reference::parse_name_only(k).familiar());
      }
    }
    save_refs_locked();
    if (!tagged) delete_image_locked(*id, report);
  } else {
    // By ID: refused when several repositories name it (Docker's rule), unless forced.
    std::set<std::string> repos;
    for (auto& n : names) repos.insert(Reference::parse_name_only(n).name());
    if (repos.size() > 1 && !force)
      throw Conflict("conflict: unable to delete " + id->short_id() +
                     " (must be forced) - image is referenced in multiple repositories");
    for (auto& n : names) {
      refs_.erase(n);
      report.untagged.push_back(Reference::parse_name_only(n).familiar());
    }
    if (!names.empty()) save_refs_locked();
    delete_image_locked(*id, report);
  }
  for (auto& s : gc_locked()) report.deleted.push_back(s.str());
  return report;
}

RemoveReport Store::prune(bool all, const std::function<bool(const Digest&)>& keep) {
  std::lock_guard lk(mu_);
  RemoveReport report;
  std::vector<Digest> victims;
  for (auto& entry : images_) {
    const Digest& id = entry.first;  // a named variable: clang 14 cannot capture a structured binding
    bool named = std::any_of(refs_.begin(), refs_.end(), [&](auto& kv) { return kv.second == id; });
    if ((named && !all) || (keep && keep(id))) continue;
    victims.push_back(id);
  }
  for (auto& id : victims) {
    std::vector<std::string> names;
    for (auto& [k, v] : refs_)
      if (v == id) names.push_back(k);
    for (auto& n : names) {
      refs_.erase(n);
      report.untagged.push_back(Reference::parse_name_only(n).familiar());
    }
    if (!names.empty()) save_refs_locked();
    delete_image_locked(id, report);
  }
  for (auto& s : gc_locked()) report.deleted.push_back(s.str());
  return report;
}

// --- snapshots -----------------------------------------------------------------------------------

bool Store::has_layer_blob(const LayerInfo& l) const {
  if (content_.has(l.digest)) return true;
  return mode_ == SnapshotMode::Overlay && l.digest == l.diff_id && has_snapshot(l.chain_id);
}

void Store::ensure_layer_blob(const LayerInfo& l) {
  if (content_.has(l.digest)) return;
  auto hold = lease();  // the snapshot stays while it is read
  hold.add_snapshot(l.chain_id);
  hold.add_blob(l.digest);
  if (!has_layer_blob(l)) throw Error("layer " + l.digest.str() + ": its blob is not in the image store");
  std::string fs = snapshot_path(l.chain_id);
  try {
    auto w = content_.writer(l.digest.algo);
    snapshot_tar(fs, [&](const char* p, std::size_t n) { w.write(p, n); }, false);
    w.commit(l.digest, l.size);
  } catch (const std::exception& e) {
    throw Error("layer " + l.digest.str() + ": making its blob from " + fs + ": " + e.what());
  }
}

bool Store::has_snapshot(const Digest& chain_id) const {
  return path_exists(root_ + "/snapshots/" + chain_id.hex + "/meta.json");
}

std::int64_t Store::snapshot_size(const Digest& chain_id) const {
  try {
    return hoist::parse_json(read_file(root_ + "/snapshots/" + chain_id.hex + "/meta.json"), "snapshot meta").value("size", std::int64_t{0});
  } catch (const std::exception&) {
    return 0;
  }
}

std::string Store::snapshot_path(const Digest& chain_id) const { return root_ + "/snapshots/" + chain_id.hex + "/fs"; }

std::vector<std::string> Store::layer_paths(const ImageRecord& rec) const {
  std::vector<std::string> out;
  if (mode_ == SnapshotMode::Copy) {
    if (!rec.layers.empty()) out.push_back(snapshot_path(rec.layers.back().chain_id));
    return out;
  }
  for (auto& l : rec.layers) out.push_back(snapshot_path(l.chain_id));
  return out;
}

Store::SnapshotBuilder::SnapshotBuilder(Store& s, std::string dir) : store_(&s), dir_(std::move(dir)), fs_(dir_ + "/fs") {
  mkdir_all(fs_, 0755);
}
Store::SnapshotBuilder::SnapshotBuilder(SnapshotBuilder&& o) noexcept
    : store_(o.store_), dir_(std::move(o.dir_)), fs_(std::move(o.fs_)) {
  o.dir_.clear();
}
Store::SnapshotBuilder::~SnapshotBuilder() {
  if (dir_.empty()) return;
  try {
    remove_all(dir_);
  } catch (const std::exception& e) {
    log::warn(std::string("image store: ") + e.what());
  }
}

void Store::SnapshotBuilder::commit(const Digest& chain_id, const Digest& diff_id, std::int64_t size, bool durable) {
  json meta = {{"chainID", chain_id.str()}, {"diffID", diff_id.str()}, {"size", size}};
  write_file(dir_ + "/meta.json", meta.dump() + "\n", O_CREAT);
  // Flush the unpacked files now, while other layers are still being unpacked, so the syncfs
  // before the image record (add_image) finds little left to write.
  if (durable) {
    UniqueFd d(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!d || ::syncfs(d.get()) != 0) throw_sys("syncfs", dir_);
  }
  auto dst = store_->root_ + "/snapshots/" + chain_id.hex;
  std::lock_guard lk(store_->mu_);
  if (path_exists(dst + "/meta.json")) return;  // someone else published it; ours is removed
  if (path_exists(dst)) remove_all(dst);
  if (::rename(dir_.c_str(), dst.c_str()) != 0) throw_sys("rename " + dir_ + " to", dst);
  dir_.clear();
}

Store::SnapshotBuilder Store::new_snapshot() { return SnapshotBuilder(*this, root_ + "/tmp/snap-" + unique_name()); }

Store::TempDir::~TempDir() {
  if (path_.empty()) return;
  if (later_ && store_) {
    store_->remove_later(path_);
    return;
  }
  try {
    remove_all(path_);
  } catch (const std::exception& e) {
    log::warn(std::string("image store: ") + e.what());
  }
}

Store::TempDir Store::temp_dir() {
  auto p = root_ + "/tmp/work-" + unique_name();
  mkdir_all(p, 0700);
  return TempDir(this, p);
}

void Store::remove_later(std::string path) {
  std::lock_guard lk(mu_);
  to_remove_.push_back(std::move(path));
  if (!remover_.joinable()) remover_ = std::thread([this] { remover_loop(); });
  remove_cv_.notify_all();
}

void Store::remover_loop() {
  std::unique_lock lk(mu_);
  for (;;) {
    remove_cv_.wait(lk, [&] { return remove_stop_ || !to_remove_.empty(); });
    if (to_remove_.empty()) return;  // stopping, nothing left
    std::vector<std::string> paths;
    paths.swap(to_remove_);
    lk.unlock();
    for (const std::string& p : paths) {
      try {
        remove_all(p);
      } catch (const std::exception& e) {
        log::warn(std::string("image store: ") + e.what());
      }
    }
    lk.lock();
  }
}

// --- leases and garbage collection -------------------------------------------------------------

Store::Lease::Lease(Lease&& o) noexcept : store_(o.store_), id_(o.id_) { o.store_ = nullptr; }
Store::Lease::~Lease() {
  if (!store_) return;
  std::lock_guard lk(store_->mu_);
  store_->leases_.erase(id_);
}
void Store::Lease::add_blob(const Digest& d) {
  std::lock_guard lk(store_->mu_);
  store_->leases_[id_].first.insert(d);
}
void Store::Lease::add_snapshot(const Digest& c) {
  std::lock_guard lk(store_->mu_);
  store_->leases_[id_].second.insert(c);
}
Store::Lease Store::lease() {
  std::lock_guard lk(mu_);
  int id = next_lease_++;
  leases_[id];
  return Lease(*this, id);
}

std::vector<Digest> Store::gc() {
  std::lock_guard lk(mu_);
  return gc_locked();
}

std::vector<Digest> Store::gc_locked() {
  std::set<Digest> keep_blobs, keep_snaps;
  for (auto& [id, rec] : images_) {
    keep_blobs.insert(id);
    keep_blobs.insert(rec.manifest_digest);
    if (rec.index_digest) keep_blobs.insert(*rec.index_digest);
    for (auto& l : rec.layers) {
      keep_blobs.insert(l.digest);
      keep_snaps.insert(l.chain_id);
    }
  }
  for (auto& [_, l] : leases_) {
    keep_blobs.insert(l.first.begin(), l.first.end());
    keep_snaps.insert(l.second.begin(), l.second.end());
  }
  std::vector<Digest> removed;
  for (auto& name : list_dir(root_ + "/snapshots")) {
    auto s = "sha256:" + name;
    if (Digest::valid(s) && keep_snaps.count(Digest::parse(s)) && path_exists(root_ + "/snapshots/" + name + "/meta.json"))
      continue;
    remove_all(root_ + "/snapshots/" + name);
    if (Digest::valid(s)) removed.push_back(Digest::parse(s));
  }
  for (auto& d : content_.list())
    if (!keep_blobs.count(d)) content_.remove(d);
  return removed;
}

}  // namespace hoist::image
