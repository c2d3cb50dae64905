// `build`: an image from a Dockerfile, through the daemon's classic /build API, as docker's
// legacy builder client does it. The context directory is sent as a tar made while it is sent
// (no copy on the client), without what .dockerignore excludes (builder/dockerignore.h, the
// same rules the daemon side knows); a Dockerfile outside the context (or `-f -`) is added to
// the tar under a name of its own. The output is the daemon's stream as it comes (a base image's
// pull shown as docker's client shows it off a terminal), or with --progress=tty (auto on a
// terminal) BuildKit's live view of it on stderr (cli/build_progress.h). An http(s) URL is the
// daemon's to fetch (remote=), and so is a git repository (the daemon clones it). --platform is sent as platform=,
// --allow's entitlements in Hoist's X-Hoist-Build-Entitlements header, --ssh's agents through a
// build session (cli/ssh_forward.h, X-Hoist-Build-Session; docs/api.md).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <functional>
#include <cstdlib>
#include <dirent.h>
#include <memory>
#include <random>
#include <set>

#include "builder/dockerignore.h"
#include "builder/git_remote.h"
#include "cli/archive_lib.h"
#include "cli/build_progress.h"
#include "cli/commands/auth.h"
#include "cli/commands/commands.h"
#include "cli/ssh_forward.h"
#include "cli/format.h"
#include "common/digest.h"
#include "common/error.h"
#include "common/file.h"
#include "common/strings.h"

namespace hoist::cli {

namespace {

constexpr std::size_t kBuf = 1 << 20;

std::string rel_path(const std::string& base, const std::string& target) {
  std::string b = clean_path(base), t = clean_path(target);
  if (b == "/") return t.substr(1);
  if (t == b) return ".";
  if (t.size() > b.size() && t.starts_with(b) && t[b.size()] == '/') return t.substr(b.size() + 1);
  return "";  // outside
}

std::string absolute(const std::string& p) {
  if (!p.empty() && p[0] == '/') return clean_path(p);
  char cwd[PATH_MAX];
  if (!::getcwd(cwd, sizeof cwd)) throw_sys("getcwd");
  return clean_path(std::string(cwd) + "/" + p);
}

// A context directory's entries as a walk finds them (in name order, .dockerignore applied).
struct ContextScan {
  struct Item {
    std::string rel;
    struct stat st;
  };
  std::string root;
  std::vector<Item> items;

  ContextScan(const std::string& dir, const builder::IgnoreMatcher& ignore) : root(dir) {
    UniqueFd d(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!d) throw_sys("open", root);
    walk(d.get(), "", root, ignore);
  }
  // Whether JSON can hold the name (UTF-8).
  static bool json_safe(const std::string& name) {
    try {
      (void)json(name).dump();
      return true;
    } catch (const json::type_error&) {
      return false;
    }
  }
  // The identity the daemon compares (engine/build_sources.h ContextStats).
  static json identity(const struct stat& st) {
    auto ns = [](const struct timespec& t) { return std::int64_t{t.tv_sec} * 1'000'000'000 + t.tv_nsec; };
    return {std::int64_t(st.st_dev), std::int64_t(st.st_ino), std::int64_t(st.st_size), ns(st.st_mtim),
            ns(st.st_ctim)};
  }
  // The stat list a hoistd that keeps contexts compares with its copy: {"files", "dirs"}. A name
  // that is not UTF-8 (JSON cannot hold it) is left out: such a file is always sent.
  std::string listing() const {
    json l = {{"files", json::object()}, {"dirs", json::array()}};
    for (const Item& it : items) {
      if (!json_safe(it.rel)) continue;
      if (S_ISDIR(it.st.st_mode)) l["dirs"].push_back(it.rel);
      else if (S_ISREG(it.st.st_mode)) l["files"][it.rel] = identity(it.st);
    }
    return l.dump();
  }

 private:
  static std::vector<std::string> names(int dfd, const std::string& shown) {
    UniqueFd fd(::openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) throw_sys("open", shown);
    std::unique_ptr<DIR, int (*)(DIR*)> d(::fdopendir(fd.get()), ::closedir);
    if (!d) throw_sys("opendir", shown);
    fd.release();
    std::vector<std::string> out;
    while (struct dirent* de = ::readdir(d.get())) {
      std::string_view n = de->d_name;
      if (n != "." && n != "..") out.emplace_back(n);
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  void walk(int dirfd, const std::string& rel, const std::string& shown, const builder::IgnoreMatcher& ignore) {
    for (const std::string& name : names(dirfd, shown)) {
      std::string r = rel.empty() ? name : rel + "/" + name;
      std::string what = shown + "/" + name;
      struct stat st;
      if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) throw_sys("lstat", what);
      bool excluded = ignore.excluded(r);
      if (excluded && !(S_ISDIR(st.st_mode) && ignore.has_exclusions())) continue;
      if (S_ISSOCK(st.st_mode)) continue;
      if (!excluded) items.push_back({r, st});
      if (S_ISDIR(st.st_mode)) {
        UniqueFd sub(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!sub) throw_sys("open", what);
        walk(sub.get(), r, what, ignore);
      }
    }
  }
};

// The context as a tar, written into the upload as it is made.
class ContextTar {
 public:
  explicit ContextTar(const Client::BodySink& send) : lib_(archive_lib()), w_(send, kBuf) {}
  ContextTar(const ContextTar&) = delete;
  ContextTar& operator=(const ContextTar&) = delete;

  // The scanned entries; the regular files of `have` (the daemon's kept copy has them: engine/
  // build_context_cache.h) only in the stat list, unless they changed since the scan.
  void add_scanned(const ContextScan& scan, const std::set<std::string>& have = {}) {
    struct timespec now {};
    ::clock_gettime(CLOCK_REALTIME, &now);
    stats_ = {{"started", std::int64_t{now.tv_sec} * 1'000'000'000 + now.tv_nsec}, {"files", json::object()}};
    UniqueFd root(::open(scan.root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!root) throw_sys("open", scan.root);
    std::string open_rel;
    UniqueFd parent;
    for (const ContextScan::Item& it : scan.items) {
      auto slash = it.rel.rfind('/');
      std::string dir_rel = slash == std::string::npos ? "" : it.rel.substr(0, slash);
      std::string name = slash == std::string::npos ? it.rel : it.rel.substr(slash + 1);
      if (!parent || dir_rel != open_rel) {
        parent = UniqueFd(::openat(root.get(), dir_rel.empty() ? "." : dir_rel.c_str(),
                                   O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!parent) throw_sys("open", scan.root + "/" + dir_rel);
        open_rel = dir_rel;
      }
      entry(parent.get(), name, it.rel, scan.root + "/" + it.rel, it.st, have.count(it.rel) ? &it.st : nullptr);
    }
  }
  // The regular files' identity and times as this walk saw them (engine/build_sources.h
  // ContextStats): hoistd then reuses the hashes of files it has seen unchanged.
  std::string stats_json() const { return stats_.dump(); }
  // A file of the given content (a Dockerfile from elsewhere).
  void add_file(const std::string& name, const std::string& data) {
    archive_entry* e = lib_.archive_entry_new();
    std::unique_ptr<archive_entry, void (*)(archive_entry*)> guard(e, lib_.archive_entry_free);
    lib_.archive_entry_set_pathname(e, name.c_str());
    lib_.archive_entry_set_filetype(e, AE_IFREG);
    lib_.archive_entry_set_perm(e, 0600);
    lib_.archive_entry_set_mtime(e, ::time(nullptr), 0);
    lib_.archive_entry_set_size(e, static_cast<la_int64_t>(data.size()));
    w_.check(lib_.archive_write_header(w_.get(), e));
    if (!data.empty() && lib_.archive_write_data(w_.get(), data.data(), data.size()) < 0) w_.check(ARCHIVE_FATAL);
  }
  void close() { w_.close(); }
  std::int64_t bytes() const { return w_.bytes(); }
  bool closed() const { return w_.closed(); }

 private:
  // `kept`: the daemon has this file as the scan saw it: only its stat goes, unless it changed.
  void entry(int dirfd, const std::string& name, const std::string& rel, const std::string& shown, struct stat st,
             const struct stat* kept) {
    if (kept && S_ISREG(st.st_mode)) {
      struct stat now;
      if (::fstatat(dirfd, name.c_str(), &now, AT_SYMLINK_NOFOLLOW) == 0 &&
          ContextScan::identity(now) == ContextScan::identity(*kept)) {
        stats_["files"][rel] = ContextScan::identity(now);
        return;
      }
    }
    archive_entry* e = lib_.archive_entry_new();
    std::unique_ptr<archive_entry, void (*)(archive_entry*)> guard(e, lib_.archive_entry_free);
    std::string n = S_ISDIR(st.st_mode) ? rel + "/" : rel;
    lib_.archive_entry_set_pathname(e, n.c_str());
    lib_.archive_entry_set_filetype(e, st.st_mode & S_IFMT);
    lib_.archive_entry_set_perm(e, st.st_mode & 07777);
    // docker's client sends the context owned by root.
    lib_.archive_entry_set_uid(e, 0);
    lib_.archive_entry_set_gid(e, 0);
    lib_.archive_entry_set_mtime(e, st.st_mtim.tv_sec, 0);
    if (S_ISLNK(st.st_mode)) {
      std::string target(PATH_MAX, '\0');
      ssize_t len = ::readlinkat(dirfd, name.c_str(), target.data(), target.size());
      if (len < 0) throw_sys("readlink", shown);
      target.resize(static_cast<std::size_t>(len));
      lib_.archive_entry_set_symlink(e, target.c_str());
      return w_.check(lib_.archive_write_header(w_.get(), e));
    }
    if (!S_ISREG(st.st_mode)) {
      if (!S_ISDIR(st.st_mode)) lib_.archive_entry_set_rdev(e, st.st_rdev);
      return w_.check(lib_.archive_write_header(w_.get(), e));
    }
    UniqueFd f(::openat(dirfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (!f) throw_sys("open", shown);
    if (::fstat(f.get(), &st) != 0) throw_sys("stat", shown);
    if (ContextScan::json_safe(rel)) stats_["files"][rel] = ContextScan::identity(st);
    lib_.archive_entry_set_size(e, st.st_size);
    w_.check(lib_.archive_write_header(w_.get(), e));
    if (!buf_) buf_ = std::make_unique_for_overwrite<char[]>(kBuf);
    for (off_t left = st.st_size; left > 0;) {
      ssize_t r = ::read(f.get(), buf_.get(), static_cast<std::size_t>(std::min<off_t>(left, kBuf)));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) throw_sys("read", shown);
      if (r == 0) break;  // shrank: libarchive pads the entry
      if (lib_.archive_write_data(w_.get(), buf_.get(), static_cast<std::size_t>(r)) < 0) w_.check(ARCHIVE_FATAL);
      left -= r;
    }
  }

  const ArchiveLib& lib_;
  TarStream w_;
  std::unique_ptr<char[]> buf_;
  json stats_ = json::object();
};

// KEY=VALUE list flags as a JSON object; "KEY" alone takes the environment's value (null when
// unset), as docker's client.
json kv_object(const std::vector<std::string>& items, bool from_env) {
  json o = json::object();
  for (const std::string& kv : items) {
    std::size_t eq = kv.find('=');
    if (eq != std::string::npos) {
      o[kv.substr(0, eq)] = kv.substr(eq + 1);
    } else if (from_env) {
      const char* v = std::getenv(kv.c_str());
      o[kv] = v ? json(v) : json(nullptr);
    } else {
      o[kv] = "";
    }
  }
  return o;
}

std::string read_all_fd(int fd) {
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_sys("read", "stdin");
    if (n == 0) return out;
    out.append(buf, static_cast<std::size_t>(n));
  }
}

// --progress (default: $BUILDKIT_PROGRESS, else auto), as buildx takes it: auto (tty when stderr
// is a terminal, else plain), plain (the daemon's text as it comes), tty (BuildKit's live view,
// cli/build_progress.h), quiet (as -q). rawjson is refused.
std::string progress_mode(const Parsed& p) {
  std::string mode = p.get("progress");
  if (!p.has("progress")) {
    const char* env = std::getenv("BUILDKIT_PROGRESS");
    mode = env && *env ? env : "auto";
  }
  if (mode == "rawjson") throw Error("--progress=rawjson is not supported yet by hoist build");
  if (mode != "auto" && mode != "plain" && mode != "tty" && mode != "quiet")
    throw Error("invalid progress mode \"" + mode + "\" (valid: auto, plain, tty, quiet)");
  if (mode == "auto") mode = is_tty(2) ? "tty" : "plain";
  if (mode == "tty" && !is_tty(2)) throw Error("--progress=tty: stderr is not a terminal");
  return mode;
}

bool quiet_mode(const Parsed& p) { return p.flag("quiet") || progress_mode(p) == "quiet"; }

// The live view on stderr for --progress=tty (none with -q).
std::unique_ptr<TtyProgress> progress_view(const Parsed& p) {
  if (quiet_mode(p) || progress_mode(p) != "tty") return nullptr;
  return std::make_unique<TtyProgress>(2);
}

// --ulimit's value as go-units' ParseUlimit reads it: name=soft[:hard] (hard = soft when not given).
json ulimit_of(const std::string& val) {
  static const char* const kNames[] = {"core",   "cpu",    "data",   "fsize",  "locks",      "memlock", "msgqueue", "nice",
                                       "nofile", "nproc",  "rss",    "rtprio", "rttime",     "sigpending", "stack"};
  auto bad = [&](const std::string& why) {
    return FlagError("invalid argument \"" + val + "\" for \"--ulimit\" flag: " + why);
  };
  std::size_t eq = val.find('=');
  if (eq == std::string::npos) throw bad("invalid ulimit argument: " + val);
  std::string name = val.substr(0, eq), limits = val.substr(eq + 1);
  if (std::find(std::begin(kNames), std::end(kNames), name) == std::end(kNames)) throw bad("invalid ulimit type: " + name);
  std::vector<std::string> parts = split(limits, ':');
  if (parts.size() > 2)
    throw bad("too many limit value arguments - " + limits + ", can only have up to two, `soft[:hard]`");
  auto number = [&](const std::string& v) {
    std::size_t used = 0;
    long long n = 0;
    try {
      n = std::stoll(v, &used, 10);
    } catch (const std::exception&) {
      used = 0;
    }
    if (v.empty() || used != v.size()) throw bad("strconv.ParseInt: parsing \"" + v + "\": invalid syntax");
    return n;
  };
  long long hard = parts.size() == 2 ? number(parts[1]) : 0;
  long long soft = number(parts[0]);
  if (parts.size() == 1) hard = soft;
  if (hard != -1 && soft > hard)
    throw bad("ulimit soft limit must be less than or equal to hard limit: " + std::to_string(soft) + " > " +
              std::to_string(hard));
  return json{{"Name", name}, {"Hard", hard}, {"Soft", soft}};
}

// The step containers' resources of `docker build` (its flags, the query keys of its client).
std::string resources_query(const Parsed& p) {
  std::string path;
  auto bytes = [&](const char* flag, const char* key, bool swap) {
    if (!p.has(flag)) return;
    std::string v = p.get(flag);
    long long n = swap && v == "-1" ? -1 : 0;
    if (n == 0) {
      try {
        n = parse_ram_size(v);
      } catch (const std::exception& e) {
        throw FlagError("invalid argument \"" + v + "\" for \"--" + flag + "\" flag: " + e.what());
      }
    }
    path += std::string("&") + key + "=" + std::to_string(n);
  };
  bytes("memory", "memory", false);
  bytes("memory-swap", "memswap", true);
  bytes("shm-size", "shmsize", false);
  auto integer = [&](const char* flag, const char* key) {
    if (!p.has(flag)) return;
    std::string v = p.get(flag);
    try {
      path += std::string("&") + key + "=" + std::to_string(parse_int(v, flag));
    } catch (const std::exception&) {
      throw FlagError("invalid argument \"" + v + "\" for \"--" + flag + "\" flag: strconv.ParseInt: parsing \"" +
                      v + "\": invalid syntax");
    }
  };
  integer("cpu-shares", "cpushares");
  integer("cpu-period", "cpuperiod");
  integer("cpu-quota", "cpuquota");
  if (p.has("cpuset-cpus")) path += "&cpusetcpus=" + q(p.get("cpuset-cpus"));
  if (p.has("cpuset-mems")) path += "&cpusetmems=" + q(p.get("cpuset-mems"));
  if (p.has("cgroup-parent")) path += "&cgroupparent=" + q(p.get("cgroup-parent"));
  for (const std::string& h : p.all("add-host")) path += "&extrahosts=" + q(extra_host(h));
  if (p.has("ulimit")) {
    std::map<std::string, json> by_name;  // docker's UlimitOpt: the last of a name wins
    for (const std::string& u : p.all("ulimit")) {
      json l = ulimit_of(u);
      by_name[l["Name"].get<std::string>()] = l;
    }
    json list = json::array();
    for (auto& [name, l] : by_name) list.push_back(l);
    path += "&ulimits=" + q(list.dump());
  }
  return path;
}

// The /build query of the command's flags, after the dockerfile ("&t=...").
std::string build_query(const Parsed& p) {
  std::string path;
  for (const std::string& t : p.all("tag")) path += "&t=" + q(t);
  if (quiet_mode(p)) path += "&q=1";
  if (p.flag("no-cache")) path += "&nocache=1";
  path += std::string("&rm=") + (p.has("rm") && !p.flag("rm") ? "0" : "1");
  if (p.flag("force-rm")) path += "&forcerm=1";
  if (p.has("target")) path += "&target=" + q(p.get("target"));
  if (p.has("network")) path += "&networkmode=" + q(p.get("network"));
  if (p.has("platform")) path += "&platform=" + q(p.get("platform"));
  if (p.flag("pull")) path += "&pull=1";
  path += "&buildargs=" + q(kv_object(p.all("build-arg"), true).dump());
  path += "&labels=" + q(kv_object(p.all("label"), false).dump());
  path += resources_query(p);
  if (p.has("cache-from")) {  // docker's: a comma-separated list too
    json refs = json::array();
    for (const std::string& v : p.all("cache-from"))
      for (const std::string& r : split(v, ','))
        if (!r.empty()) refs.push_back(r);
    path += "&cachefrom=" + q(refs.dump());
  }
  return path;
}

std::string build_path(const std::string& dockerfile, const std::string& query) {
  return "/build?dockerfile=" + q(dockerfile) + query;
}

}  // namespace

std::map<std::string, std::string> secrets_header(const std::vector<SecretSource>& secrets) {
  json all = json::object();
  for (const SecretSource& s : secrets) {
    std::string data;
    if (s.data) {
      data = *s.data;
    } else if (!s.env.empty()) {
      const char* v = std::getenv(s.env.c_str());
      if (!v) throw Error("secret " + s.id + ": environment variable " + s.env + " is not set");
      data = v;
    } else {
      data = read_file(s.file);
    }
    all[s.id] = b64(data);
  }
  if (all.empty()) return {};
  return {{"X-Hoist-Build-Secrets", b64(all.dump())}};
}

namespace {

// `--secret id=x,src=file` / `id=x,env=VAR` / `type=env|file` / `id=x` (the env var x when set,
// else the file x), as buildx reads them.
std::map<std::string, std::string> secrets_header(const Parsed& p) {
  std::vector<SecretSource> secrets;
  for (const std::string& spec : p.all("secret")) {
    std::string id, src, env, type;
    for (const std::string& field : split(spec, ',')) {
      std::size_t eq = field.find('=');
      if (eq == std::string::npos) throw Error("invalid field '" + field + "' must be a key=value pair");
      std::string key = field.substr(0, eq), value = field.substr(eq + 1);
      std::transform(key.begin(), key.end(), key.begin(), [](unsigned char c) { return std::tolower(c); });
      if (key == "type") {
        if (value != "file" && value != "env") throw Error("unsupported secret type \"" + value + "\"");
        type = value;
      } else if (key == "id") {
        id = value;
      } else if (key == "source" || key == "src") {
        src = value;
      } else if (key == "env") {
        env = value;
      } else {
        throw Error("unexpected key '" + key + "' in '" + field + "'");
      }
    }
    if (type == "env" && env.empty()) std::swap(env, src);
    if (id.empty()) id = !src.empty() ? src : env;
    if (id.empty()) throw Error("secret " + spec + ": an id is required");
    if (src.empty() && env.empty()) {
      if (std::getenv(id.c_str())) env = id;
      else src = id;
    }
    secrets.push_back({id, src, env, std::nullopt});
  }
  return secrets_header(secrets);
}

// Hoist's own request headers of the command's flags: the secrets (above), `--allow`'s
// entitlements (X-Hoist-Build-Entitlements, docs/api.md; BuildKit's names, checked here) and the
// session of `--ssh` (X-Hoist-Build-Session).
std::map<std::string, std::string> build_headers(const Parsed& p, const SshForwarder* ssh) {
  std::map<std::string, std::string> h = secrets_header(p);
  if (ssh) h["X-Hoist-Build-Session"] = ssh->session_id();
  std::string allowed;
  for (const std::string& list : p.all("allow"))
    for (std::string e : split(list, ',')) {
      e = std::string(trim(e));
      if (e.empty()) continue;
      if (e != "security.insecure" && e != "network.host") throw Error("invalid entitlement: " + e);
      allowed += (allowed.empty() ? "" : ",") + e;
    }
  if (!allowed.empty()) h["X-Hoist-Build-Entitlements"] = allowed;
  return h;
}

// Sends the context `produce` writes (returning its size, -1 when the daemon stopped reading)
// and hands the daemon's stream to `on_stream`; a build error is printed to stderr, its code the
// exit status. The image's id goes to `id`. `headers`: Hoist's own (secrets, the context's stat).
// `tty`: the live view the stream goes to instead (--progress=tty), ended before the error.
int send_build(Ctx& ctx, bool quiet, const std::string& path,
               const std::function<std::int64_t(const Client::BodySink&)>& produce,
               const std::function<void(const std::string&)>& on_stream, std::string& id,
               std::map<std::string, std::string> headers = {}, TtyProgress* tty = nullptr) {
  headers["Content-Type"] = "application/x-tar";
  std::string error, pending;
  int error_code = 0;
  auto on_data = [&](std::string_view d) {
    pending.append(d);
    std::size_t nl;
    while ((nl = pending.find('\n')) != std::string::npos) {
      std::string line = pending.substr(0, nl);
      pending.erase(0, nl + 1);
      if (trim(line).empty()) continue;
      json j = json::parse(line, nullptr, false);
      if (!j.is_object()) continue;
      if (j.contains("errorDetail") || j.contains("error")) {
        error = j.value("error", "");
        if (j.contains("errorDetail") && j["errorDetail"].is_object()) {
          error_code = j["errorDetail"].value("code", 0);
          if (error.empty()) error = j["errorDetail"].value("message", "");
        }
        continue;
      }
      if (j.contains("aux") && j["aux"].is_object()) id = j["aux"].value("ID", id);
      if (tty) {
        if (j.contains("stream") && j["stream"].is_string()) tty->stream(j["stream"].get<std::string>());
        else if (j.contains("status") && j["status"].is_string())
          tty->status(j.value("id", ""), j["status"].get<std::string>(),
                      j.contains("progress") && j["progress"].is_string() ? j["progress"].get<std::string>() : "");
        continue;
      }
      if (j.contains("stream") && j["stream"].is_string()) on_stream(j["stream"].get<std::string>());
      // A base image's pull: its messages as docker's jsonmessage shows them off a terminal
      // ("id: status"; the progress bars left out).
      if (!j.contains("stream") && j.contains("status") && j["status"].is_string()) {
        bool progress = j.contains("progressDetail") && j["progressDetail"].is_object() && !j["progressDetail"].empty();
        if (!progress) {
          std::string pid = j.value("id", "");
          on_stream((pid.empty() ? "" : pid + ": ") + j["status"].get<std::string>() + "\n");
        }
      }
    }
    fflush(stdout);  // each step's lines as they come, into a pipe too
    return true;
  };
  ctx.c().stream_upload(
      "POST", path,
      [&](const Client::BodySink& send) {
        if (tty && !quiet) tty->context_started();
        std::int64_t sent = produce(send);
        if (sent >= 0 && !quiet && tty)
          tty->stream("Sending build context to Docker daemon  " + human_size(static_cast<double>(sent)) + "\n");
        else if (sent >= 0 && !quiet)
          on_stream("Sending build context to Docker daemon  " + human_size(static_cast<double>(sent)) + "\n");
      },
      on_data, headers);
  if (tty) tty->finish(error.empty() ? std::nullopt : std::optional<std::string>(error));
  if (!error.empty()) {
    errp(error + "\n");
    return error_code ? error_code : 1;
  }
  return 0;
}

void print_stream(const std::string& s) { out(s); }

int finish(const Parsed& p, int rc, const std::string& id) {
  if (rc == 0 && p.has("iidfile") && !id.empty()) write_file_atomic(p.get("iidfile"), id, 0644, false);
  return rc;
}

bool looks_like_archive(const std::string& d) {
  auto starts = [&](std::string_view m) { return d.size() >= m.size() && std::string_view(d).substr(0, m.size()) == m; };
  return starts("\x1f\x8b") || starts("BZh") || starts(std::string_view("\xfd" "7zXZ\x00", 6)) ||
         starts("\x28\xb5\x2f\xfd") || (d.size() >= 262 && d.compare(257, 5, "ustar") == 0);
}

// `build -`: stdin is the context as a tar (sent as it is), or a Dockerfile (sent alone).
int build_from_stdin(Ctx& ctx, const Parsed& p, const SshForwarder* ssh) {
  std::string data = read_all_fd(0);
  std::string id;
  std::string query = build_query(p);
  auto headers = build_headers(p, ssh);
  auto view = progress_view(p);
  if (looks_like_archive(data)) {
    std::string dockerfile = p.has("file") ? p.get("file") : "Dockerfile";
    return finish(p, send_build(ctx, quiet_mode(p), build_path(dockerfile, query), [&](const Client::BodySink& send) {
      return send(data) ? static_cast<std::int64_t>(data.size()) : std::int64_t{-1};
    }, print_stream, id, headers, view.get()), id);
  }
  return finish(p, send_build(ctx, quiet_mode(p), build_path("Dockerfile", query), [&](const Client::BodySink& send) {
    ContextTar tar(send);
    try {
      tar.add_file("Dockerfile", data);
      tar.close();
    } catch (const Error&) {
      if (!tar.closed()) throw;
      return std::int64_t{-1};
    }
    return tar.bytes();
  }, print_stream, id, headers, view.get()), id);
}

}  // namespace

int build_context_dir(Ctx& ctx, const ContextBuild& b, const std::function<void(const std::string&)>& on_stream,
                      std::string& id, TtyProgress* tty) {
  const std::string& context = b.context;
  struct stat st;
  if (::stat(context.c_str(), &st) != 0) throw Error("unable to prepare context: path \"" + context + "\" not found");
  if (!S_ISDIR(st.st_mode)) throw Error("unable to prepare context: context must be a directory: " + context);

  // The Dockerfile: inside the context (sent with it), or elsewhere / given as text (added to the tar).
  std::string dockerfile = "Dockerfile", extra_name, extra_data;
  auto random_name = [] {
    std::random_device rd;
    char hex[17];
    std::snprintf(hex, sizeof hex, "%08x%08x", rd(), rd());
    return ".dockerfile." + std::string(hex, 12);
  };
  if (b.dockerfile_text) {
    extra_data = *b.dockerfile_text;
    extra_name = random_name();
  } else if (!b.dockerfile.empty()) {
    std::string abs = b.dockerfile[0] == '/' ? clean_path(b.dockerfile) : clean_path(context + "/" + b.dockerfile);
    std::string rel = rel_path(context, abs);
    if (rel.empty() || rel == ".") {
      extra_data = read_file(abs);
      extra_name = random_name();
    } else {
      dockerfile = rel;
    }
  }
  if (!extra_name.empty()) dockerfile = extra_name;
  if (extra_name.empty()) {
    struct stat ds;
    if (::stat((context + "/" + dockerfile).c_str(), &ds) != 0)
      throw Error("unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat " + context + "/" +
                  dockerfile + ": no such file or directory");
  }

  // .dockerignore (or <Dockerfile>.dockerignore) of the context.
  std::vector<std::string> patterns;
  std::string ignore_file = ".dockerignore";
  for (const std::string& cand : builder::dockerignore_candidates(extra_name.empty() ? dockerfile : "Dockerfile")) {
    std::string path = context + "/" + cand;
    if (path_exists(path)) {
      patterns = builder::read_dockerignore(read_file(path));
      ignore_file = cand;
      break;
    }
  }
  builder::IgnoreMatcher ignore(
      builder::IgnoreMatcher::with_build_files(patterns, dockerfile, ignore_file, false));

  // A hoistd gets the files' stat as the context's last entry, under a name of this build's own.
  ctx.c().negotiate();
  std::string stat_name;
  std::map<std::string, std::string> headers = b.headers;
  if (ctx.c().has_capability("context-stat")) {
    stat_name = random_name() + ".stat";
    headers["X-Hoist-Context-Stat"] = stat_name;
  }
  ContextScan scan(context, ignore);
  auto send_context = [&](const std::set<std::string>& have, const std::map<std::string, std::string>& hdrs) {
    return send_build(ctx, b.quiet, build_path(dockerfile, b.query), [&](const Client::BodySink& send) {
      ContextTar tar(send);
      try {
        tar.add_scanned(scan, have);
        if (!extra_name.empty()) tar.add_file(extra_name, extra_data);
        if (!stat_name.empty()) tar.add_file(stat_name, tar.stats_json());
        tar.close();
      } catch (const Error&) {
        if (!tar.closed()) throw;
        return std::int64_t{-1};  // the daemon stopped reading: its answer says why
      }
      return tar.bytes();
    }, on_stream, id, hdrs, tty);
  };
  // A hoistd that keeps contexts gets only what its copy lacks (engine/build_context_cache.h);
  // when its copy changed meanwhile (another build of this context), the whole context goes.
  if (!stat_name.empty() && ctx.c().has_capability("context-cache")) {
    std::string key = digest_of(absolute(context) + "\n" + std::to_string(::getuid())).str().substr(7);
    auto answer = json::parse(ctx.c().request("POST", "/hoist/build-context?key=" + key, scan.listing(),
                                              {{"Content-Type", "application/json"}}).body, nullptr, false);
    if (answer.is_object() && answer.contains("token") && answer["token"].is_string()) {
      std::set<std::string> have;
      if (answer.contains("have") && answer["have"].is_array())
        for (auto& h : answer["have"])
          if (h.is_string()) have.insert(h.get<std::string>());
      std::map<std::string, std::string> cached = headers;
      cached["X-Hoist-Context-Cache"] = key + " " + answer["token"].get<std::string>();
      try {
        return send_context(have, cached);
      } catch (const ApiError& e) {
        if (e.status() != 409 || std::string(e.what()).find("X-Hoist-Context-Cache") == std::string::npos) throw;
      }
    }
  }
  return send_context({}, headers);
}

const Command kBuildCommand = {
    .use = "[OPTIONS] PATH | URL | -",
    .summary = "Build an image from a Dockerfile",
    .aliases = {"image build", "build", "builder build"},
    .flags = {{"add-host", 0, "list", "Add a custom host-to-IP mapping (\"host:ip\")"},
              {"allow", 0, "list", "Allow extra privileged entitlement (e.g., \"network.host\", \"security.insecure\")"},
              {"build-arg", 0, "list", "Set build-time variables"},
              {"cache-from", 0, "strings", "Images to consider as cache sources"},
              {"cgroup-parent", 0, "string", "Set the parent cgroup for the \"RUN\" instructions during build"},
              {"cpu-period", 0, "int", "Limit the CPU CFS (Completely Fair Scheduler) period"},
              {"cpu-quota", 0, "int", "Limit the CPU CFS (Completely Fair Scheduler) quota"},
              {"cpu-shares", 'c', "int", "CPU shares (relative weight)"},
              {"cpuset-cpus", 0, "string", "CPUs in which to allow execution (0-3, 0,1)"},
              {"cpuset-mems", 0, "string", "MEMs in which to allow execution (0-3, 0,1)"},
              {"file", 'f', "string", "Name of the Dockerfile (Default is \"PATH/Dockerfile\")"},
              {"force-rm", 0, "", "Always remove intermediate containers"},
              {"iidfile", 0, "string", "Write the image ID to the file"},
              {"label", 0, "list", "Set metadata for an image"},
              {"memory", 'm', "bytes", "Memory limit"},
              {"memory-swap", 0, "bytes", "Swap limit equal to memory plus swap: -1 to enable unlimited swap"},
              {"network", 0, "string", "Set the networking mode for the RUN instructions during build", "default"},
              {"no-cache", 0, "", "Do not use cache when building the image"},
              {"platform", 0, "string", "Set platform if server is multi-platform capable"},
              {"progress", 0, "string",
               "Set type of progress output (\"auto\", \"plain\", \"tty\", \"quiet\"). Use plain to show container "
               "output",
               "auto"},
              {"pull", 0, "", "Always attempt to pull a newer version of the image"},
              {"quiet", 'q', "", "Suppress the build output and print image ID on success"},
              {"rm", 0, "", "Remove intermediate containers after a successful build", "true"},
              {"secret", 0, "list",
               "Secret to expose to the build (format: \"id=mysecret[,src=/local/secret]\" or \"id=x,env=VAR\")"},
              {"shm-size", 0, "bytes", "Size of \"/dev/shm\""},
              {"ssh", 0, "list",
               "SSH agent socket or keys to expose to the build (format: \"default|<id>[=<socket>|<key>[,<key>]]\")"},
              {"tag", 't', "list", "Name and optionally a tag in the \"name:tag\" format"},
              {"target", 0, "string", "Set the target build stage to build."},
              {"ulimit", 0, "ulimit", "Ulimit options", "[]"}},
    .min_args = 1,
    .max_args = 1};

int cmd_build(Ctx& ctx, const std::vector<std::string>& argv) {
  auto p = parse(ctx, kBuildCommand, argv);
  const std::string& arg = p.args[0];
  bool url = arg.rfind("http://", 0) == 0 || arg.rfind("https://", 0) == 0;
  // --ssh: a session with the daemon for the build's length (its agents' connections go through it).
  std::unique_ptr<SshForwarder> ssh;
  if (p.has("ssh")) ssh = std::make_unique<SshForwarder>(ctx.c(), parse_ssh_specs(p.all("ssh"), std::getenv("SSH_AUTH_SOCK")));
  // --secret: only hoistd takes them (X-Hoist-Build-Secrets); the classic builder would build without.
  if (p.has("secret")) {
    ctx.c().negotiate();
    if (!ctx.c().has_capability("session"))
      throw Error("hoist build --secret: the daemon takes no build secrets (it is not a hoistd with build sessions; "
                  "the classic builder has none)");
  }
  if (url || builder::is_git_url(arg)) {
    // The daemon fetches the URL (a tar, plain or compressed, or a Dockerfile alone) or clones the
    // git repository: remote=.
    std::string id;
    std::string dockerfile = p.has("file") ? p.get("file") : "Dockerfile";
    std::string path = build_path(dockerfile, build_query(p)) + "&remote=" + q(arg);
    auto headers = build_headers(p, ssh.get());
    auto view = progress_view(p);
    return finish(p, send_build(ctx, quiet_mode(p), path, [](const Client::BodySink&) { return std::int64_t{-1}; },
                                print_stream, id, headers, view.get()), id);
  }
  if (arg == "-") return build_from_stdin(ctx, p, ssh.get());
  ContextBuild b;
  b.context = absolute(arg);
  struct stat st;
  if (::stat(b.context.c_str(), &st) != 0) throw Error("unable to prepare context: path \"" + arg + "\" not found");
  b.quiet = quiet_mode(p);
  b.query = build_query(p);
  b.headers = build_headers(p, ssh.get());
  if (p.has("file")) {
    // Relative to the working directory, as docker's client takes it.
    std::string f = p.get("file");
    if (f == "-") b.dockerfile_text = read_all_fd(0);
    else b.dockerfile = absolute(f);
  }
  std::string id;
  auto view = progress_view(p);
  return finish(p, build_context_dir(ctx, b, print_stream, id, view.get()), id);
}

}  // namespace hoist::cli
