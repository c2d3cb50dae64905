#include "engine/build_context_cache.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/fd.h"
#include "common/file.h"
#include "common/log.h"

namespace hoist::engine {

namespace {

using nlohmann::json;

bool valid_key(const std::string& k) {
  return k.size() == 64 && std::all_of(k.begin(), k.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// A context-relative path as a tar of the client's has it: no "", ".", ".." components, no
// leading slash.
bool valid_rel(const std::string& p) {
  if (p.empty() || p[0] == '/' || p.back() == '/') return false;
  std::size_t start = 0;
  for (;;) {
    auto slash = p.find('/', start);
    std::string c = p.substr(start, slash - start);
    if (c.empty() || c == "." || c == "..") return false;
    if (slash == std::string::npos) return true;
    start = slash + 1;
  }
}

// The boot the tree was written in: a copy from before a reboot may have lost what the page
// cache held, so it counts as empty.
std::string boot_id() {
  static const std::string id = [] {
    try {
      return read_file("/proc/sys/kernel/random/boot_id");
    } catch (const Error&) {
      return std::string();
    }
  }();
  return id;
}

struct Listing {
  json files = json::object();  // path → [dev, ino, size, mtime, ctime]
  std::set<std::string> dirs;
};

Listing parse_listing(const std::string& text) {
  json j = json::parse(text, nullptr, false);
  if (!j.is_object() || !j.contains("files") || !j["files"].is_object())
    throw InvalidArgument("build context: a stat list wants {\"files\": {...}, \"dirs\": [...]}");
  Listing l;
  for (auto& [p, v] : j["files"].items()) {
    if (!valid_rel(p) || !v.is_array() || v.size() != 5 ||
        !std::all_of(v.begin(), v.end(), [](const json& n) { return n.is_number_integer(); }))
      throw InvalidArgument("build context: a bad entry in the stat list: " + p);
    l.files[p] = v;
  }
  if (j.contains("dirs")) {
    if (!j["dirs"].is_array()) throw InvalidArgument("build context: \"dirs\" wants an array");
    for (auto& d : j["dirs"]) {
      if (!d.is_string() || !valid_rel(d.get<std::string>()))
        throw InvalidArgument("build context: a bad directory in the stat list");
      l.dirs.insert(d.get<std::string>());
    }
  }
  return l;
}

std::string random_token() {
  unsigned char b[12];
  if (::getrandom(b, sizeof b, 0) != static_cast<ssize_t>(sizeof b)) throw_sys("getrandom");
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : b) out += {hex[c >> 4], hex[c & 15]};
  return out;
}

// Removes below `dir` (relative path `rel`) what the client's tar brings again or it no longer
// has: every entry but the directories it lists and the regular files it keeps.
void clean(int dir, const std::string& rel, const std::set<std::string>& dirs, const std::set<std::string>& keep,
           const std::string& shown) {
  UniqueFd fd(::openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) throw_sys("open", shown);
  std::unique_ptr<DIR, int (*)(DIR*)> d(::fdopendir(fd.get()), ::closedir);
  if (!d) throw_sys("opendir", shown);
  fd.release();
  std::vector<std::pair<std::string, unsigned char>> entries;
  while (struct dirent* de = ::readdir(d.get())) {
    std::string_view n = de->d_name;
    if (n != "." && n != "..") entries.emplace_back(std::string(n), de->d_type);
  }
  for (auto& [name, type] : entries) {
    std::string r = rel.empty() ? name : rel + "/" + name;
    std::string what = shown + "/" + name;
    struct stat st;
    if (::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) throw_sys("lstat", what);
    if (S_ISDIR(st.st_mode)) {
      if (dirs.count(r)) {
        UniqueFd sub(::openat(dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!sub) throw_sys("open", what);
        clean(sub.get(), r, dirs, keep, what);
      } else {
        remove_all(what);
      }
    } else if (!(S_ISREG(st.st_mode) && keep.count(r))) {
      if (::unlinkat(dir, name.c_str(), 0) != 0) throw_sys("unlink", what);
    }
  }
}

std::int64_t tree_size(const std::string& p) {
  std::int64_t n = 0;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(p, ec); !ec && it != decltype(it)(); it.increment(ec)) {
    struct stat st;
    if (::lstat(it->path().c_str(), &st) == 0) n += st.st_blocks * 512;
  }
  return n;
}

}  // namespace

ContextCache::ContextCache(std::string dir) : dir_(std::move(dir)) {}

ContextCache::Answer ContextCache::compare(const std::string& key, const std::string& stats_json) {
  if (!valid_key(key)) throw InvalidArgument("build context: the key wants 64 hex digits");
  Listing now = parse_listing(stats_json);
  std::string base = dir_ + "/" + key;
  Answer a;
  json pending_have = json::array();
  {
    std::unique_lock lk(mu_);
    json rec;
    try {
      rec = json::parse(read_file(base + "/record.json"), nullptr, false);
    } catch (const Error&) {
    }
    if (rec.is_object() && rec.value("boot", "") == boot_id() && rec.contains("files") && rec["files"].is_object()) {
      UniqueFd tree(::open((base + "/tree").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
      for (auto& [p, v] : now.files.items()) {
        auto it = rec["files"].find(p);
        if (it == rec["files"].end() || *it != v || !tree) continue;
        struct stat st;
        if (::fstatat(tree.get(), p.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode) ||
            st.st_size != v[2].get<std::int64_t>())
          continue;
        a.have.push_back(p);
      }
    }
    a.token = random_token();
    pending_[key] = {a.token, stats_json, std::set<std::string>(a.have.begin(), a.have.end())};
    evict_locked(key);
  }
  return a;
}

std::unique_ptr<ContextCache::Lease> ContextCache::acquire(const std::string& header) {
  auto sp = header.find(' ');
  std::string key = header.substr(0, sp), token = sp == std::string::npos ? "" : header.substr(sp + 1);
  if (!valid_key(key) || token.empty()) throw InvalidArgument("X-Hoist-Context-Cache: wants \"KEY TOKEN\"");
  Pending p;
  {
    std::unique_lock lk(mu_);
    cv_.wait(lk, [&] { return !held_.count(key); });
    auto it = pending_.find(key);
    if (it == pending_.end() || it->second.token != token)
      throw Conflict("X-Hoist-Context-Cache: the kept build context changed since it was compared; send the whole "
                     "context");
    p = std::move(it->second);
    pending_.erase(it);
    held_.insert(key);
  }
  std::unique_ptr<Lease> lease(new Lease(*this, key, dir_ + "/" + key + "/tree", p.stats));
  // The copy counts as empty until complete() records it again.
  std::string base = dir_ + "/" + key;
  if (::unlink((base + "/record.json").c_str()) != 0 && errno != ENOENT) throw_sys("unlink", base + "/record.json");
  mkdir_all(lease->tree(), 0755);
  UniqueFd tree(::open(lease->tree().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!tree) throw_sys("open", lease->tree());
  clean(tree.get(), "", parse_listing(p.stats).dirs, p.have, lease->tree());
  return lease;
}

void ContextCache::Lease::complete() {
  json rec = {{"boot", boot_id()}, {"files", parse_listing(stats_).files}};
  std::string base = tree_.substr(0, tree_.rfind('/'));
  write_file_atomic(base + "/record.json", rec.dump(), 0600, false);
}

ContextCache::Lease::~Lease() {
  std::lock_guard lk(cache_.mu_);
  cache_.held_.erase(key_);
  cache_.cv_.notify_all();
}

void ContextCache::evict_locked(const std::string& keep) {
  std::vector<std::pair<std::filesystem::file_time_type, std::string>> kept;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir_, ec)) {
    std::string k = e.path().filename().string();
    if (!valid_key(k) || k == keep) continue;
    kept.emplace_back(std::filesystem::last_write_time(e.path(), ec), k);
  }
  if (kept.size() + 1 <= kMaxKept) return;
  std::sort(kept.begin(), kept.end());  // the least recently used first
  for (std::size_t i = 0; i + kMaxKept < kept.size() + 1; ++i) {
    if (held_.count(kept[i].second)) continue;
    pending_.erase(kept[i].second);
    try {
      remove_all(dir_ + "/" + kept[i].second);
    } catch (const Error& e) {
      log::warn("build context cache: " + std::string(e.what()));
    }
  }
}

std::vector<ContextCache::Kept> ContextCache::list() {
  std::vector<Kept> out;
  std::lock_guard lk(mu_);
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir_, ec)) {
    std::string k = e.path().filename().string();
    if (!valid_key(k)) continue;
    Kept kept;
    kept.key = k;
    kept.in_use = held_.count(k) > 0;
    kept.size = tree_size(e.path().string());
    struct stat st;
    if (::stat(e.path().c_str(), &st) == 0) {
      kept.created_ns = std::int64_t{st.st_ctim.tv_sec} * 1'000'000'000 + st.st_ctim.tv_nsec;
      kept.last_used_ns = std::int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
    }
    out.push_back(kept);
  }
  return out;
}

std::optional<std::int64_t> ContextCache::remove(const std::string& key) {
  std::lock_guard lk(mu_);
  if (!valid_key(key) || held_.count(key)) return std::nullopt;
  std::string path = dir_ + "/" + key;
  if (!path_exists(path)) return std::nullopt;
  std::int64_t freed = tree_size(path);
  pending_.erase(key);
  remove_all(path);
  return freed;
}

}  // namespace hoist::engine
