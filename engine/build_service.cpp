// Dockerfile builds through the engine's containers and the layer maker (see build_service.h).
#include "engine/build_service.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <exception>
#include <filesystem>
#include <set>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "builder/cache_key.h"
#include "builder/dockerignore.h"
#include "builder/go_match.h"
#include "builder/go_text.h"
#include "builder/history.h"
#include "builder/image_config.h"
#include "builder/planner.h"
#include "builder/stage_eval.h"
#include "common/file.h"
#include "common/log.h"
#include "common/strings.h"
#include "engine/api/routes.h"
#include "engine/build_fetch.h"
#include "engine/build_sources.h"
#include "engine/container_service.h"
#include "engine/containers/container_changes.h"
#include "engine/containers/container_fs.h"
#include "engine/containers/oci_spec.h"
#include "engine/daemon.h"
#include "image/commit.h"
#include "image/layer_internal.h"
#include "image/pull.h"
#include "image/reference.h"

namespace hoist::engine {

namespace {

using nlohmann::json;
using builder::Step;

constexpr std::uint32_t kGoModeDir = 1u << 31;
// The label of a build's containers (never in an image: a step's image has the step's config).
constexpr const char* kBuildLabel = "io.hoist.build";

std::string short_id(const std::string& id) {
  std::string hex = id.rfind("sha256:", 0) == 0 ? id.substr(7) : id;
  return hex.substr(0, 12);
}

std::string rel_of(const std::string& abs) {
  std::string c = builder::go_clean("/" + abs);
  return c == "/" ? "" : c.substr(1);
}

std::string base_name(const std::string& p) {
  std::size_t s = p.rfind('/');
  return s == std::string::npos ? p : p.substr(s + 1);
}

std::string parent_path(const std::string& abs) {
  std::size_t s = abs.rfind('/');
  return s == 0 || s == std::string::npos ? "/" : abs.substr(0, s);
}

// A tag as dockerd's build reads `t`: a name, the tag "latest" when none, no digest.
image::Reference parse_tag(const std::string& t) {
  image::Reference ref;
  try {
    ref = image::Reference::parse(t);
  } catch (const InvalidArgument&) {
    throw;
  } catch (const Error& e) {
    // dockerd's words name no reference: `invalid reference format: ...` without ` ("t")`.
    std::string msg = e.what();
    std::string suffix = " (\"" + t + "\")";
    if (msg.size() > suffix.size() && msg.ends_with(suffix)) msg.resize(msg.size() - suffix.size());
    throw InvalidArgument(msg);
  }
  if (ref.digest) throw InvalidArgument("invalid reference format");
  return ref;
}

// go-units' HumanSize: decimal units, 4 significant digits ("154B", "1.234kB").
std::string go_human_size(double size) {
  static const char* units[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"};
  int i = 0;
  while (size >= 1000 && i < 8) {
    size /= 1000;
    ++i;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g%s", size, units[i]);
  return buf;
}

bool is_url(const std::string& s) { return s.rfind("http://", 0) == 0 || s.rfind("https://", 0) == 0; }

// A source BuildKit reads as a git repository: git@..., git://..., or an http(s) URL of a
// repository (".git" at the end of its path, before a "#ref").
bool is_git_url(const std::string& s) {
  if (s.rfind("git@", 0) == 0 || s.rfind("git://", 0) == 0) return true;
  if (!is_url(s)) return false;
  std::string path = s.substr(0, s.find('#'));
  path = path.substr(0, path.find('?'));
  return path.ends_with(".git") || path.ends_with(".git/");
}

// What Hoist does not do yet: named, never ignored.
void check_supported(const Step& s) {
  const builder::Instruction& in = s.instruction;
  auto refuse = [&](const std::string& what) {
    throw InvalidArgument("Dockerfile line " + std::to_string(in.line) + ": " + what +
                          " is not supported yet by hoist build");
  };
  switch (in.kind) {
    case builder::Kind::Run:
      if (in.network != "default" && in.network != "none" && in.network != "host")
        refuse("RUN --network=" + in.network);
      if (in.security != "sandbox") refuse("RUN --security=" + in.security);
      for (const builder::Mount& m : s.mounts)
        if (m.type == builder::MountType::Ssh) refuse("RUN --mount=type=ssh");
      break;
    case builder::Kind::Copy:
    case builder::Kind::Add:
      for (auto& src : in.sources)
        if (is_git_url(src)) refuse(std::string(builder::kind_name(in.kind)) + " of a git repository (" + src + ")");
      break;
    default:
      break;
  }
}

std::vector<std::string> shell_of(const builder::ImageConfig& c) {
  if (c.shell && !c.shell->empty()) return *c.shell;
  return {"/bin/sh", "-c"};
}

// Removes a build container when the step is over, whatever happened.
class ContainerGuard {
 public:
  ContainerGuard(ContainerService& svc, std::string id) : svc_(svc), id_(std::move(id)) {}
  ~ContainerGuard() { release(); }
  ContainerGuard(const ContainerGuard&) = delete;
  ContainerGuard& operator=(const ContainerGuard&) = delete;
  const std::string& id() const { return id_; }
  // The container stays (a failed RUN's, as the classic builder keeps it).
  void keep() { id_.clear(); }
  void release() {
    if (id_.empty()) return;
    try {
      svc_.remove(id_, true, true);
    } catch (const std::exception& e) {
      log::warn("build: remove intermediate container " + id_.substr(0, 12) + ": " + e.what());
    }
    id_.clear();
  }

 private:
  ContainerService& svc_;
  std::string id_;
};

// A file's bytes as an image::ReadFn.
image::ReadFn fd_reader(int fd) {
  return [fd](char* buf, std::size_t len) -> std::size_t {
    for (;;) {
      ssize_t n = ::read(fd, buf, len);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw_sys("read", "build file");
      return static_cast<std::size_t>(n);
    }
  };
}

}  // namespace

// One build: its directory, the images and containers it made, its output.
struct BuildService::Run {
  Daemon& d;
  ContainerService& svc;
  BuildCache::Session& cache;  // this build's hits and entries, held until it ends
  CacheMounts& cache_mounts;
  const BuildOptions& opts;
  const BuildOutput& out;
  std::string tmp;                 // the build's directory
  std::unique_ptr<SourceTree> context;
  std::optional<Digest> scratch;   // an empty image to make containers on scratch from
  std::vector<Digest> uncached;    // images of steps kept by no cache entry (nocache)
  int file_seq = 0;
  std::optional<Digest> final_image;
  const ContextStats* stats = nullptr;  // what hoist's CLI said of the context's files
  CacheFrom* cache_from = nullptr;      // --cache-from's sources (none: null)

  struct StageResult {
    std::optional<Digest> image;  // nullopt: scratch with no step
    std::string key;
    builder::ImageConfig config;
  };
  std::map<int, StageResult> stages;

  void say(std::string_view text) { out.stream(text); }

  // A kept container is not one an interrupted build left: the service's start leaves it.
  void keep_container(const std::string& id) {
    try {
      std::string dir = d.config().data_root + "/builder/kept";
      mkdir_all(dir, 0700);
      open_file(dir + "/" + id, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    } catch (const std::exception& e) {
      log::warn("build: keep " + id.substr(0, 12) + ": " + e.what());
    }
  }

  std::set<std::string> pulled;  // the references this build pulled (--pull: each once)

  // An image FROM or COPY --from names: the store's, else (or with --pull) pulled, the progress
  // in the output as dockerd's classic builder shows it.
  image::ImageRecord base_image(const std::string& name) {
    if (!opts.pull || pulled.count(name)) {
      try {
        return store().resolve(name);
      } catch (const NotFound&) {
      }
    }
    image::Reference ref;
    try {
      ref = image::Reference::parse(name);
    } catch (const std::exception&) {
      return store().resolve(name);  // an id, or a name that is not a reference: as the store says
    }
    if (ref.tag.empty() && !ref.digest) ref.tag = "latest";
    image::RegistrySettings settings = opts.registry ? opts.registry(ref.domain) : d.registry_settings();
    image::ProgressFn progress = [&](const image::ProgressEvent& e) {
      if (out.progress) out.progress(e);
    };
    image::PullResult r;
    try {
      r = image::pull_image(store(), settings, ref, {}, progress);
    } catch (const image::RegistryError& e) {
      if (e.status() == 404 || e.status() == 401) throw NotFound(e.what());
      throw;
    }
    progress({"", "Digest: " + r.digest.str(), 0, 0});
    progress({"", (r.updated ? "Status: Downloaded newer image for " : "Status: Image is up to date for ") + ref.familiar(),
              0, 0});
    d.publish_image_event("pull", ref.familiar(), ref.familiar());
    pulled.insert(name);
    return r.image;
  }

  image::Store& store() { return d.store(); }
  ContainerManager& manager() { return svc.manager(); }

  // The image a container on `parent` is made from (an empty one for scratch).
  Digest container_image(const std::optional<Digest>& parent) {
    if (parent) return *parent;
    if (!scratch) {
      image::CommitInput in;
      in.config_json = json{{"config", json::object()}}.dump();
      in.created_by = "hoist build: scratch";
      scratch = image::commit_image(store(), in).record.id;
    }
    return *scratch;
  }

  // A container (never started unless it is a RUN's) on `parent` with `config`.
  std::string make_container(const std::optional<Digest>& parent, json config, const std::string& network,
                             const json& host_config = json::object()) {
    Digest img = container_image(parent);
    image::ImageRecord rec = store().resolve(img.str());
    CreateParams p;
    p.image = img.str();
    p.image_id = img.str();
    p.layer_paths = store().layer_paths(rec);
    p.copy_snapshot = store().mode() == image::SnapshotMode::Copy;
    p.volatile_upper = true;  // a step's layer is committed or dropped: no flush of the file system at unmount
    config["Image"] = img.str();
    if (!config.contains("Labels") || !config["Labels"].is_object()) config["Labels"] = json::object();
    config["Labels"][kBuildLabel] = "intermediate";  // found and removed at the next start after a crash
    p.config_json = config.dump();
    json hc = host_config;
    hc["NetworkMode"] = network;
    p.host_config_json = hc.dump();
    return svc.create(p);
  }

  // RUN: starts the container, streams its output, returns its exit code.
  int run_container(const std::string& id) {
    ContainerManager& m = manager();
    m.expect_attach(id);
    m.start(id);
    UniqueFd fd;
    try {
      fd = m.attach(id, false, true, true, false);
    } catch (const std::exception& e) {
      log::debug("build: attach " + id.substr(0, 12) + ": " + e.what());
    }
    if (fd) {
      // Docker's multiplexed frames: [stream,0,0,0,size BE32] + payload.
      std::string buf;
      char chunk[16384];
      for (;;) {
        ssize_t n = ::read(fd.get(), chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        buf.append(chunk, static_cast<std::size_t>(n));
        while (buf.size() >= 8) {
          std::size_t size = 0;
          for (int k = 4; k < 8; ++k) size = (size << 8) | static_cast<unsigned char>(buf[k]);
          if (buf.size() < 8 + size) break;
          // stderr in red, as the classic builder's stderr writer sends it.
          if (size && buf[0] == 2) say("\x1b[91m" + buf.substr(8, size) + "\x1b[0m");
          else if (size) say(std::string_view(buf).substr(8, size));
          buf.erase(0, 8 + size);
        }
      }
    }
    return m.wait(id, WaitCondition::NotRunning);
  }

  // Whether `path` (absolute) is a directory in the view (symlinks followed).
  static bool is_dir_in(const ContainerFs& fs, const std::string& path) {
    try {
      PathStat st = fs.stat(path == "/" ? "/" : path + "/");
      return (st.mode & kGoModeDir) != 0;
    } catch (const std::exception&) {
      return false;
    }
  }
  static bool exists_in(const ContainerFs& fs, const std::string& path) {
    try {
      fs.stat(path);
      return true;
    } catch (const std::exception&) {
      return false;
    }
  }

  std::string new_file() { return tmp + "/part-" + std::to_string(++file_seq); }

  // Extracts the tar made by `fill` (which writes it into an fd) at "/" of the view: through a
  // pipe, `fill` on a thread of its own, so the tar is never stored.
  void extract_made(const ContainerFs& fs, const std::function<void(int)>& fill) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) throw_sys("pipe2", "build copy");
    UniqueFd rd(p[0]), wr(p[1]);
    std::exception_ptr fill_error;
    std::thread writer([&] {
      try {
        fill(wr.get());
      } catch (...) {
        fill_error = std::current_exception();
      }
      wr.reset();  // the reader's end of file
    });
    try {
      fs.extract("/", fd_reader(rd.get()), {});
    } catch (...) {
      rd.reset();  // a writer blocked on a full pipe gets EPIPE
      writer.join();
      if (fill_error) std::rethrow_exception(fill_error);
      throw;
    }
    rd.reset();
    writer.join();
    if (fill_error) std::rethrow_exception(fill_error);
  }

  // WORKDIR: the directory, made 0755 root:root with its missing parents.
  void make_workdir(const std::string& id, const std::string& dir) {
    auto lease = manager().lease_rootfs(id);
    ContainerFs fs(lease.fd(), false, {});
    if (exists_in(fs, dir)) return;
    std::string rel = rel_of(dir);
    if (rel.empty()) return;
    extract_made(fs, [&](int fd) { write_copy_tar(fd, {rel}, {}, std::make_pair(uid_t{0}, gid_t{0})); });
  }

  // COPY/ADD: the sources, each with what the step does with it.
  struct SourceInfo {
    bool may_extract = false;          // ADD of a local file (or --unpack): a tar is extracted
    std::string keep;                  // --parents: the path kept below the destination
    std::vector<SourceItem> parents;   // --parents: the directories on the way (rel: kept path)
  };

  // A tree to read from: the context, or the root of a stage's or an image's file system (held
  // mounted by a container of it that never starts).
  struct TreeHold {
    std::unique_ptr<ContainerGuard> holder;  // the container whose root is the source tree
    std::optional<ContainerManager::RootfsLease> lease;
    std::unique_ptr<SourceTree> tree;
    void reset() {
      tree.reset();
      lease.reset();
      holder.reset();
    }
  };

  struct CopySources {
    TreeHold hold;  // the stage's or image's root the sources are in
    std::vector<std::unique_ptr<SourceTree>> own;  // heredocs' and downloads' directories
    std::vector<ResolvedSource> list;
    std::vector<SourceInfo> info;  // per entry of `list`
    std::vector<std::string> hashes;
  };

  // COPY/ADD of resolved sources into the container's root file system.
  // `users_from`: the container whose /etc/passwd and /etc/group --chown's names are looked up in
  // ("": the destination's; --link copies into an empty root but names the parent's users).
  void copy_into(const std::string& id, const Step& s, const CopySources& cs, const std::string& users_from = "") {
    const builder::Instruction& in = s.instruction;
    const std::vector<ResolvedSource>& srcs = cs.list;
    auto lease = manager().lease_rootfs(id);
    ContainerFs fs(lease.fd(), false, {});
    // Without --chown: root for the context's files, the source's own owners for a stage's or
    // an image's (dockerd 20.10's classic builder).
    std::optional<std::pair<uid_t, gid_t>> owner;
    if (s.copy_from.kind == builder::SourceRef::Context) owner = std::make_pair(uid_t{0}, gid_t{0});
    if (!in.chown.empty()) {
      std::string spec = in.chown.find(':') == std::string::npos ? in.chown + ":" + in.chown : in.chown;
      std::optional<ContainerManager::RootfsLease> users;
      if (!users_from.empty()) users.emplace(manager().lease_rootfs(users_from));
      ResolvedUser u = resolve_user(image::layer_detail::proc_fd_path(users ? users->fd() : lease.fd()), spec);
      owner = std::make_pair(static_cast<uid_t>(u.uid), static_cast<gid_t>(u.gid));
    }
    std::optional<mode_t> chmod;
    if (!in.chmod.empty()) chmod = static_cast<mode_t>(std::stoul(in.chmod, nullptr, 8));
    std::string dest = builder::go_clean(s.dest);
    bool slash = !s.dest.empty() && s.dest.back() == '/';
    if (srcs.size() > 1 && !slash && !in.parents)
      throw Error(std::string("When using ") + builder::kind_name(in.kind) +
                  " with more than one source file, the destination must be a directory and end with a /");
    bool dest_dir = slash || in.parents || is_dir_in(fs, dest);
    std::vector<TarPart> parts;
    std::vector<const ResolvedSource*> archives;
    std::string dir;  // the directory the sources go into
    auto archive_src = [&](std::size_t i) {
      const ResolvedSource& r = srcs[i];
      if (!cs.info[i].may_extract || r.dir) return false;
      UniqueFd f(::open(image::layer_detail::proc_fd_path(r.top.get()).c_str(), O_RDONLY | O_CLOEXEC));
      return f && S_ISREG(r.items[0].st.st_mode) && is_archive(f.get());
    };
    if (dest_dir || (srcs.size() == 1 && (srcs[0].dir || archive_src(0)))) {
      dir = dest;
      for (std::size_t i = 0; i < srcs.size(); ++i) {
        const ResolvedSource& r = srcs[i];
        const SourceInfo& info = cs.info[i];
        if (archive_src(i)) {
          archives.push_back(&r);
        } else if (in.parents) {
          TarPart part{&r, rel_of(dir + "/" + info.keep), {}};
          for (SourceItem it : info.parents) {
            it.rel = rel_of(dir + "/" + it.rel);
            part.parents.push_back(std::move(it));
          }
          parts.push_back(std::move(part));
        } else {
          parts.push_back({&r, r.dir ? rel_of(dir) : rel_of(dir + "/" + base_name(r.name)), {}});
        }
      }
    } else {
      dir = parent_path(dest);
      parts.push_back({&srcs[0], rel_of(dest), {}});
    }
    std::vector<std::string> make;
    if (rel_of(dir) != "" && !exists_in(fs, dir)) make.push_back(rel_of(dir));
    if (!parts.empty() || !make.empty())
      extract_made(fs, [&](int fd) { write_copy_tar(fd, make, parts, owner, chmod); });
    for (const ResolvedSource* r : archives) {
      UniqueFd f(::open(image::layer_detail::proc_fd_path(r->top.get()).c_str(), O_RDONLY | O_CLOEXEC));
      if (!f) throw_sys("open", r->name);
      CopyInOptions o;
      if (!in.chown.empty()) o.owner = *owner;
      fs.extract(dir, fd_reader(f.get()), o);
    }
  }

  // The image config the step's commit writes: the step's config (and the container's, with
  // the command the step recorded), as dockerd's classic builder writes them.
  std::string commit_config(const Step& s, const std::optional<Digest>& parent, const std::string& cid,
                            const std::vector<std::string>& container_cmd) {
    json c = config_view(json::parse(s.config.to_json()));
    c["Image"] = parent ? parent->str() : "";
    json cc = c;
    cc["Cmd"] = container_cmd;
    cc["Hostname"] = cid.substr(0, 12);
    json top = {{"config", c}, {"container", cid}, {"container_config", cc}};
    if (!s.author.empty()) top["author"] = s.author;
    return top.dump();
  }



  const SourceTree* hold_tree(const builder::SourceRef& ref, TreeHold& h) {
    if (ref.kind == builder::SourceRef::Context) return context.get();
    std::optional<Digest> img;
    if (ref.kind == builder::SourceRef::Stage) {
      img = stages.at(ref.stage).image;
    } else if (ref.kind == builder::SourceRef::Image) {
      img = base_image(ref.image).id;
    }
    h.holder = std::make_unique<ContainerGuard>(svc, make_container(img, json::object(), "none"));
    h.lease.emplace(manager().lease_rootfs(h.holder->id()));
    h.tree = std::make_unique<SourceTree>(image::layer_detail::proc_fd_path(h.lease->fd()));
    return h.tree.get();
  }

  // COPY/ADD: the sources, looked up in the context or in the stage or image named by --from.
  // COPY/ADD: the sources, looked up in the context or in the stage or image named by --from,
  // the heredocs and the URLs (each in a directory of the build's own).
  // A directory of the build's own holding one file `name` (a heredoc, a download).
  std::string own_dir() {
    std::string d = tmp + "/src-" + std::to_string(++file_seq);
    mkdir_all(d, 0755);
    return d;
  }

  void find_sources(const Step& s, CopySources& cs) {
    const builder::Instruction& in = s.instruction;
    const SourceTree* tree = context.get();
    bool from_context = s.copy_from.kind == builder::SourceRef::Context;
    bool add = in.kind == builder::Kind::Add;
    std::string cmd = builder::kind_name(in.kind);
    std::unique_ptr<builder::IgnoreMatcher> exclude;
    if (!in.excludes.empty()) {
      std::vector<std::string> patterns;
      for (const std::string& e : in.excludes) {
        auto p = builder::read_dockerignore(e);
        patterns.insert(patterns.end(), p.begin(), p.end());
      }
      try {
        exclude = std::make_unique<builder::IgnoreMatcher>(patterns);
      } catch (const std::exception& e) {
        throw InvalidArgument(cmd + " --exclude: " + e.what());
      }
    }
    bool local = false;
    for (const std::string& src : in.sources) local = local || !is_url(src);
    if (!from_context && local) tree = hold_tree(s.copy_from, cs.hold);
    // `stat_names`: hashed as dockerd hashes a download (the file's stat, type bits and owner
    // names), not as a context's file.
    auto own_file = [&](const std::string& name, bool stat_names, const std::function<void(const std::string&)>& make) {
      std::string d = own_dir();
      make(d + "/" + name);
      cs.own.push_back(std::make_unique<SourceTree>(d));
      cs.list.push_back(resolve_source(*cs.own.back(), name, !stat_names));
      cs.info.push_back({});
    };
    for (const std::string& src : in.sources) {
      if (is_url(src)) {
        fetch_source(s, src, own_file, cs);
        continue;
      }
      std::string clean = builder::go_clean(src);
      if (from_context && (clean == ".." || clean.rfind("../", 0) == 0))
        throw Error(cmd + " failed: Forbidden path outside the build context: " + src + " ()");
      // --parents: the part of the path kept below the destination starts after a "/./" (the
      // pivot), else at the root.
      std::string pivot;
      if (in.parents) {
        std::size_t at = src.find("/./");
        if (at != std::string::npos) pivot = rel_of(src.substr(0, at));
      }
      std::vector<std::string> found = tree->expand(src);
      bool wild = builder::has_wildcard(src);
      if (exclude && wild) {
        // A match the patterns name (by its name) is left out, as BuildKit's wildcard copy.
        std::erase_if(found, [&](const std::string& f) { return exclude->excluded(base_name(f)); });
      }
      if (found.empty()) {
        if (wild) throw Error(cmd + " failed: no source files were specified");
        found.push_back(builder::go_clean("/" + src).substr(1));
      }
      for (const std::string& f : found) {
        try {
          cs.list.push_back(resolve_source(*tree, f, from_context, exclude.get(), from_context ? stats : nullptr));
        } catch (const NotFound&) {
          if (from_context)
            throw Error(cmd + " failed: file not found in build context or excluded by .dockerignore: stat " + src +
                        ": file does not exist");
          throw Error(cmd + " failed: stat " + src + ": file does not exist");
        }
        SourceInfo info;
        info.may_extract = add && in.unpack.value_or(true);
        if (in.parents) {
          info.keep = pivot.empty() ? f : f.size() > pivot.size() ? f.substr(pivot.size() + 1) : "";
          std::string on_way = pivot;
          std::vector<std::string> elems = split(info.keep, '/');
          std::string kept;
          for (std::size_t k = 0; k + 1 < elems.size(); ++k) {
            on_way = on_way.empty() ? elems[k] : on_way + "/" + elems[k];
            kept = kept.empty() ? elems[k] : kept + "/" + elems[k];
            UniqueFd d(tree->open(on_way, O_PATH | O_DIRECTORY));
            SourceItem it;
            it.rel = kept;
            if (!d || ::fstat(d.get(), &it.st) != 0) throw_sys("stat", on_way);
            info.parents.push_back(it);
          }
        }
        cs.info.push_back(std::move(info));
      }
    }
    for (const builder::SourceContent& c : in.source_contents) {
      own_file(base_name(builder::go_clean("/" + c.path)), false, [&](const std::string& path) {
        UniqueFd f(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
        if (!f) throw_sys("open", path);
        write_all(f.get(), c.data, path);
        if (::fchmod(f.get(), 0644) != 0) throw_sys("chmod", path);
      });
    }
  }

  // ADD of an http(s) URL: downloaded (dockerd: mode 0600, the mtime from Last-Modified), its
  // checksum checked (BuildKit's words), never extracted unless --unpack.
  template <typename OwnFile>
  void fetch_source(const Step& s, const std::string& url, OwnFile& own_file, CopySources& cs) {
    const builder::Instruction& in = s.instruction;
    if (!in.checksum.empty() && in.checksum.rfind("sha256:", 0) != 0) {
      if (in.checksum.find(':') == std::string::npos) throw InvalidArgument("invalid checksum digest format");
      throw InvalidArgument("unsupported digest algorithm in --checksum " + in.checksum + " (hoist build: sha256)");
    }
    if (!in.checksum.empty()) {
      // go-digest's checks, with its words.
      std::string hex = in.checksum.substr(7);
      if (hex.find_first_not_of("0123456789abcdef") != std::string::npos)
        throw InvalidArgument("invalid checksum digest format");
      if (hex.size() != 64) throw InvalidArgument("invalid checksum digest length");
    }
    std::string dl = own_dir() + "/download";
    Fetched f = fetch_url(url, dl);
    if (!in.checksum.empty() && f.sha256 != in.checksum)
      throw Error("digest mismatch " + f.sha256 + ": " + in.checksum);  // BuildKit: got, then wanted
    std::string name = f.file_name;
    if (name.empty()) {
      if (!s.dest.empty() && s.dest.back() == '/') throw Error("cannot determine filename from url: " + url);
      name = "download";
    }
    own_file(name, true, [&](const std::string& path) {
      if (::rename(dl.c_str(), path.c_str()) != 0) throw_sys("rename", path);
      if (f.mtime) {
        struct timespec ts[2] = {{*f.mtime, 0}, {*f.mtime, 0}};
        if (::utimensat(AT_FDCWD, path.c_str(), ts, 0) != 0) throw_sys("utimensat", path);
      }
    });
    cs.info.back().may_extract = in.unpack.value_or(false);
    // dockerd names a download by its content hash alone (no "file:").
    std::string& h = cs.list.back().hash;
    if (h.rfind("file:", 0) == 0) h = h.substr(5);
    // The classic builder's download progress, then an empty line.
    struct stat st {};
    ::fstat(cs.list.back().top.get(), &st);
    if (out.progress) out.progress({"", "Downloading", st.st_size, st.st_size});
    say("\n");
  }

  // RUN --mount and heredoc scripts: what the step's container mounts (HostConfig.Mounts of the
  // container service), the env it adds, and what holds the mounts' sources until the step ends.
  struct RunMounts {
    std::vector<std::unique_ptr<TreeHold>> trees;            // per mount (null: none)
    std::vector<const SourceTree*> tree_of;                  // per mount: where its source is
    std::vector<std::optional<ResolvedSource>> sources;      // per mount: bind's or cache from='s source
    json mounts = json::array();
    json tmpfs = json::object();                             // HostConfig.Tmpfs: destination → options
    std::vector<std::string> env;                            // secrets as env=
    std::vector<CacheMounts::Lease> caches;
    std::vector<std::string> dirs;                           // removed when the step ends
    std::vector<std::string> file_targets;                   // file binds: the stubs the runtime makes
    ~RunMounts() { release(); }
    void release() {
      caches.clear();
      sources.clear();
      tree_of.clear();
      for (auto& t : trees)
        if (t) t->reset();
      trees.clear();
      for (const std::string& d : dirs) {
        try {
          remove_all(d);
        } catch (const std::exception& e) {
          log::warn("build: remove " + d + ": " + e.what());
        }
      }
      dirs.clear();
    }
  };

  static std::string secret_id(const builder::Mount& m) {
    if (!m.source.empty()) return m.source;
    if (!m.cache_id.empty()) return m.cache_id;
    return base_name(builder::go_clean(m.target));
  }

  // Where a mount goes in the container: BuildKit's target, relative ones below WORKDIR.
  static std::string mount_target(const builder::Mount& m, const Step& s) {
    std::string t = m.target;
    if (t.empty() && m.type == builder::MountType::Secret) {
      if (m.env) return "";
      t = "/run/secrets/" + base_name(secret_id(m));
    }
    if (t.empty() || t[0] != '/') t = (s.workdir.empty() ? "/" : s.workdir) + "/" + t;
    t = builder::go_clean(t);
    if (t == "/") throw Error("invalid mount target " + builder::go::quote(t));  // BuildKit's words
    return t;
  }

  // Before the cache lookup: the sources of bind mounts (and of caches made from a stage), resolved
  // inside their tree and hashed for the step's cache key.
  void resolve_mounts(const Step& s, RunMounts& rm, std::vector<std::string>& hashes) {
    for (std::size_t i = 0; i < s.mounts.size(); ++i) {
      const builder::Mount& m = s.mounts[i];
      rm.trees.emplace_back();
      rm.sources.emplace_back();
      rm.tree_of.push_back(nullptr);
      bool reads = m.type == builder::MountType::Bind || (m.type == builder::MountType::Cache && !m.from.empty());
      if (!reads) continue;
      const builder::SourceRef& ref = s.mount_sources[i];
      rm.trees[i] = std::make_unique<TreeHold>();
      const SourceTree* tree = rm.tree_of[i] = hold_tree(ref, *rm.trees[i]);
      std::string rel = rel_of(m.source);
      try {
        bool ctx = ref.kind == builder::SourceRef::Context;
        rm.sources[i] = resolve_source(*tree, rel, ctx, nullptr, ctx ? stats : nullptr);
      } catch (const NotFound&) {
        throw Error("failed to compute cache key: \"/" + rel + "\" not found: not found");
      }
      hashes.push_back(std::to_string(i) + ":" + rm.sources[i]->hash);
    }
  }

  // A copy of a resolved source in a new directory of the build (rw binds, caches made from a
  // stage); returns the copy's top.
  std::string copy_of(const ResolvedSource& r, const std::string& dir) {
    UniqueFd d(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!d) throw_sys("open", dir);
    ContainerFs fs(d.get(), false, {});
    std::string name = r.dir ? "" : base_name(r.resolved);
    extract_made(fs, [&](int fd) { write_copy_tar(fd, {}, {TarPart{&r, name}}, std::nullopt); });
    return name.empty() ? dir : dir + "/" + name;
  }

  static std::string host_path(const SourceTree& tree, const ResolvedSource& r) {
    return r.resolved == "." ? tree.real() : tree.real() + "/" + r.resolved;
  }

  // After a cache miss: the mounts themselves.
  void prepare_mounts(const Step& s, RunMounts& rm) {
    auto bind = [&](const std::string& src, const std::string& target, bool ro) {
      rm.mounts.push_back({{"Type", "bind"}, {"Source", src}, {"Target", target}, {"ReadOnly", ro}});
    };
    for (std::size_t i = 0; i < s.mounts.size(); ++i) {
      const builder::Mount& m = s.mounts[i];
      std::string target = mount_target(m, s);
      switch (m.type) {
        case builder::MountType::Bind: {
          const ResolvedSource& r = *rm.sources[i];
          std::string src = host_path(*rm.tree_of[i], r);
          if (!m.read_only) {  // writes go to a copy the step's end removes
            std::string dir = new_file();
            if (::mkdir(dir.c_str(), 0755) != 0) throw_sys("mkdir", dir);
            rm.dirs.push_back(dir);
            src = copy_of(r, dir);
          }
          bind(src, target, m.read_only);
          if (!r.dir) rm.file_targets.push_back(target);
          break;
        }
        case builder::MountType::Cache: {
          CacheMounts::NewDir nd;
          nd.mode = m.mode ? static_cast<unsigned>(*m.mode) : 0755;
          nd.uid = m.uid ? static_cast<uid_t>(*m.uid) : 0;
          nd.gid = m.gid ? static_cast<gid_t>(*m.gid) : 0;
          if (rm.sources[i]) {
            const ResolvedSource* r = &*rm.sources[i];
            nd.init = [this, r](const std::string& dir) {
              if (r->dir) {
                copy_of(*r, dir);
              } else {
                throw Error("RUN --mount=type=cache: source " + r->name + " is not a directory");
              }
            };
          }
          nd.description = "cached mount " + target + " from exec " + join(s.argv, " ");  // BuildKit's
          std::string id = m.cache_id.empty() ? m.target : m.cache_id;
          // --no-cache: the cache starts empty (and stays so for later builds), as BuildKit's.
          rm.caches.push_back(cache_mounts.acquire(id, m.sharing, nd, opts.nocache));
          bind(rm.caches.back().path(), target, m.read_only);
          break;
        }
        case builder::MountType::Tmpfs: {
          // BuildKit's tmpfs is nosuid only (Docker's --mount type=tmpfs adds noexec and nodev).
          std::string o = "exec,dev,nosuid";
          if (m.size_limit > 0) o += ",size=" + std::to_string(m.size_limit / 1024) + "k";
          rm.tmpfs[target] = o;
          break;
        }
        case builder::MountType::Secret: {
          std::string id = secret_id(m);
          auto it = opts.secrets.find(id);
          if (it == opts.secrets.end()) {
            if (m.required) throw Error("secret " + id + " not found: not found");
            break;
          }
          if (m.env) rm.env.push_back(*m.env + "=" + it->second);
          if (target.empty()) break;
          // In the daemon's run directory (memory, never the data root), the step's own.
          std::string base = d.config().exec_root + "/build-secrets";
          mkdir_all(base, 0700);
          std::string tmpl = base + "/XXXXXX";
          if (!::mkdtemp(tmpl.data())) throw_sys("mkdtemp", base);
          rm.dirs.push_back(tmpl);
          std::string file = tmpl + "/secret";
          UniqueFd f(::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
          if (!f) throw_sys("open", file);
          write_all(f.get(), it->second, file);
          if (::fchown(f.get(), m.uid ? static_cast<uid_t>(*m.uid) : 0, m.gid ? static_cast<gid_t>(*m.gid) : 0) != 0)
            throw_sys("fchown", file);
          if (::fchmod(f.get(), m.mode ? static_cast<mode_t>(*m.mode & 07777) : 0400) != 0) throw_sys("fchmod", file);
          bind(file, target, true);
          rm.file_targets.push_back(target);
          break;
        }
        case builder::MountType::Ssh:
          break;  // refused by check_supported
      }
    }
    if (!s.inline_files.empty()) {  // heredoc scripts, read-only under /dev/pipes/ (BuildKit's way)
      std::string dir = new_file();
      if (::mkdir(dir.c_str(), 0755) != 0) throw_sys("mkdir", dir);
      rm.dirs.push_back(dir);
      for (const builder::InlineFile& f : s.inline_files) {
        std::string path = dir + "/" + base_name(f.path);
        UniqueFd fd = open_file(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        write_all(fd.get(), f.data, path);
        if (::fchmod(fd.get(), f.mode & 07777) != 0) throw_sys("fchmod", path);
      }
      bind(dir, "/dev/pipes", true);
    }
  }

  // --cache-from: the step's image from a source's history (build_cache.h), or nullopt.
  std::optional<Digest> probe_cache_from(const Step& s, const std::optional<Digest>& parent,
                                         const std::vector<std::string>& hashes) {
    if (!cache_from) return std::nullopt;
    std::vector<std::string> cmd = s.container_cmd;
    if (s.action == Step::Action::Copy)
      cmd = builder::nop_cmd_one(shell_of(s.config), builder::copy_text(builder::kind_name(s.instruction.kind),
                                                                         s.instruction.chown,
                                                                         builder::combined_source_hash(hashes),
                                                                         s.instruction.dest));
    json c = config_view(json::parse(s.config.to_json()));
    c["Image"] = parent ? parent->str() : "";
    c["Cmd"] = cmd;  // dockerd's restored image has the probe's config
    return cache_from->probe(parent, builder::history_entry(s, false, hashes).created_by, json{{"config", c}}.dump());
  }

  // One step; returns the image after it (`parent` when cached or config-only with no change).
  std::optional<Digest> step(const Step& s, const std::optional<Digest>& parent, std::string& key) {
    check_supported(s);
    CopySources cs;
    RunMounts rm;
    std::vector<std::string>& hashes = cs.hashes;
    std::string digest;
    if (s.action == Step::Action::Copy) {
      find_sources(s, cs);
      for (auto& r : cs.list) hashes.push_back(r.hash);
      digest = builder::combined_source_hash(hashes);
    }
    if (s.action == Step::Action::Run) {
      // The mounts' specs are in the step's text; what binds read is hashed as COPY's sources.
      std::vector<std::string> mount_hashes;
      resolve_mounts(s, rm, mount_hashes);
      if (!mount_hashes.empty()) digest = builder::combined_source_hash(mount_hashes);
    }
    key = builder::step_cache_key(key, s.cache_text, digest);
    // COPY --link: the copy is made on an empty root and its layer does not depend on the parent
    // (BuildKit's): its own key leaves the parent out, and a step image made earlier under that
    // key on another parent gives its layer again (overlay snapshots, whose layers are diffs).
    const builder::Instruction& li = s.instruction;
    bool link = s.action == Step::Action::Copy && li.link;
    std::string link_key = link ? builder::step_cache_key("link", s.cache_text, digest) : "";
    std::optional<image::ChangeSource> linked;
    if (link && !opts.nocache && store().mode() == image::SnapshotMode::Overlay) {
      if (auto hit = cache.get(link_key)) {
        try {
          image::ImageRecord rec = store().resolve(*hit);
          std::size_t below = rec.parent ? store().resolve(rec.parent->str()).layers.size() : 0;
          if (rec.layers.size() == below + 1) linked = image::ChangeSource{store().layer_paths(rec).back(), false, {}};
        } catch (const std::exception& e) {
          log::debug(std::string("build: --link layer of ") + *hit + ": " + e.what());
        }
      }
    }
    if (!opts.nocache) {
      if (auto hit = cache.get(key)) {
        std::optional<Digest> id;
        try {
          id = Digest::parse(*hit);
        } catch (const std::exception&) {
        }
        if (id && store().get(*id) && (!cache_from || cache_from->vouches(*id))) {
          say(" ---> Using cache\n");
          return id;
        }
        if (!id || !store().get(*id)) cache.drop(key);
      }
      if (auto id = probe_cache_from(s, parent, hashes)) {
        cache.put(key, id->str());
        say(" ---> Using cache\n");
        return id;
      }
    }

    const builder::Instruction& in = s.instruction;
    std::vector<std::string> container_cmd = s.container_cmd;
    if (s.action == Step::Action::Copy)
      container_cmd = builder::nop_cmd_one(
          shell_of(s.config),
          builder::copy_text(builder::kind_name(in.kind), in.chown, builder::combined_source_hash(hashes), in.dest));
    json config = json::parse(s.config.to_json());
    bool visible = s.action == Step::Action::Run || s.action == Step::Action::Config ||
                   s.action == Step::Action::Workdir;
    std::string network = "none";
    if (s.action == Step::Action::Run) {
      config["Cmd"] = s.argv;
      config["Entrypoint"] = json::array({""});
      prepare_mounts(s, rm);
      config["Env"] = s.env;
      config["User"] = s.user;
      config["WorkingDir"] = s.workdir;
      network = in.network == "none" ? "none" : in.network == "host" ? "host" : opts.network_mode;
    } else {
      config["Cmd"] = container_cmd;
      config["Entrypoint"] = json::array({""});
    }
    config["Healthcheck"] = json{{"Test", json::array({"NONE"})}};  // no health checks in a build's containers
    json hc = json::parse(step_host_config_json(opts.resources));
    if (!rm.mounts.empty()) hc["Mounts"] = rm.mounts;
    if (!rm.tmpfs.empty()) hc["Tmpfs"] = rm.tmpfs;
    ContainerGuard c(svc, make_container(parent, config, network, hc));
    // Secrets as env= reach the process only: never the container's record or inspect.
    if (!rm.env.empty()) svc.set_start_env(c.id(), rm.env);
    std::unique_ptr<ContainerGuard> link_container;  // --link: the empty root the copy goes into
    if (visible) say(" ---> Running in " + c.id().substr(0, 12) + "\n");
    switch (s.action) {
      case Step::Action::Run: {
        // The empty files the runtime makes to mount files on are not the step's (BuildKit's
        // layers have no such stub): those that were not there go after the run.
        std::vector<std::string> stubs;
        if (!rm.file_targets.empty()) {
          auto lease = manager().lease_rootfs(c.id());
          SourceTree root(image::layer_detail::proc_fd_path(lease.fd()));
          for (const std::string& t : rm.file_targets) {
            UniqueFd f(root.open(rel_of(t), O_PATH | O_NOFOLLOW));
            if (!f) stubs.push_back(t);
          }
        }
        int code = run_container(c.id());
        if (!stubs.empty()) {
          auto lease = manager().lease_rootfs(c.id());
          SourceTree root(image::layer_detail::proc_fd_path(lease.fd()));
          for (const std::string& t : stubs) {
            UniqueFd dir(root.open(rel_of(parent_path(t)), O_PATH | O_DIRECTORY));
            struct stat st {};
            if (dir && ::fstatat(dir.get(), base_name(t).c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                S_ISREG(st.st_mode) && st.st_size == 0)
              ::unlinkat(dir.get(), base_name(t).c_str(), 0);
          }
        }
        if (code != 0) {
          // dockerd's classic builder keeps a failed RUN's container unless forcerm.
          if (opts.forcerm) {
            say("Removing intermediate container " + short_id(c.id()) + "\n");
            c.release();
          } else {
            keep_container(c.id());
            c.keep();
          }
          throw StepFailed("The command '" + join(s.argv, " ") + "' returned a non-zero code: " + std::to_string(code),
                           code);
        }
        break;
      }
      case Step::Action::Copy:
        if (linked) break;
        if (link) {
          link_container = std::make_unique<ContainerGuard>(svc, make_container(std::nullopt, config, "none"));
          copy_into(link_container->id(), s, cs, c.id());
        } else {
          copy_into(c.id(), s, cs);
        }
        break;
      case Step::Action::Workdir:
        make_workdir(c.id(), s.dir);
        break;
      case Step::Action::Config:
        break;
    }
    // The source container goes before the commit.
    cs.list.clear();
    cs.own.clear();
    cs.hold.reset();
    rm.release();

    image::CommitInput ci;
    ci.parent = parent;
    if (linked) {
      ci.changes = linked;
    } else if (s.action != Step::Action::Config) {
      ContainerRecord r = manager().inspect(link_container ? link_container->id() : c.id());
      ci.changes = container_change_source(r, manager().container_dir(r.id));
    }
    builder::HistoryEntry h = builder::history_entry(s, false, hashes);
    ci.created_by = h.created_by;
    ci.author = h.author;
    ci.config_json = commit_config(s, parent, c.id(), container_cmd);
    ci.compression = image::LayerCompression::None;
    Digest id = image::commit_image(store(), ci).record.id;
    if (opts.nocache) uncached.push_back(id);
    else cache.put(key, id.str());
    if (link && !opts.nocache) cache.put(link_key, id.str());
    std::string cid = c.id();
    c.release();
    if (visible && (opts.rm || opts.forcerm)) say("Removing intermediate container " + short_id(cid) + "\n");
    return id;
  }
};

BuildService::BuildService(Daemon& d, ContainerService& svc)
    : d_(d),
      svc_(svc),
      cache_(d.config().data_root + "/builder/cache.json"),
      cache_mounts_(d.config().data_root + "/builder/cache-mounts") {
  // What a build that hoistd's end interrupted left: its containers go (not the failed RUNs'
  // containers builds kept on purpose: builder/kept/<id>; a mark whose container is gone goes).
  std::string kept_dir = d.config().data_root + "/builder/kept";
  std::set<std::string> kept, seen;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(kept_dir, ec)) kept.insert(e.path().filename().string());
  for (const ContainerRecord& r : svc_.manager().list()) {
    if (kept.count(r.id)) {
      seen.insert(r.id);
      continue;
    }
    json c = json::parse(r.config_json, nullptr, false);
    if (!c.is_object() || !c.contains("Labels") || !c["Labels"].is_object() || !c["Labels"].contains(kBuildLabel))
      continue;
    try {
      svc_.remove(r.id, true, true);
      log::info("build: removed the intermediate container " + r.id.substr(0, 12) + " of an interrupted build");
    } catch (const std::exception& e) {
      log::warn("build: remove the intermediate container " + r.id.substr(0, 12) + ": " + e.what());
    }
  }
  for (const std::string& id : kept)
    if (!seen.count(id)) ::unlink((kept_dir + "/" + id).c_str());
}

BuildService::~BuildService() = default;

std::string BuildService::build(const BuildOptions& opts, const image::ReadFn& read, const BuildOutput& out) {
  std::vector<image::Reference> refs;
  for (const std::string& t : opts.tags) refs.push_back(parse_tag(t));
  if (opts.network_mode != "default" && opts.network_mode != "none" && opts.network_mode != "bridge" &&
      opts.network_mode != "host")
    throw InvalidArgument("networkmode " + opts.network_mode + " is not supported yet by hoist build (default, none, host)");

  image::Store::TempDir tmp = d_.store().temp_dir();
  tmp.remove_in_background();  // the context's files go after the answer
  BuildCache::Session session(cache_);
  std::optional<CacheFrom> cache_from;
  if (!opts.cache_from.empty()) cache_from.emplace(d_.store(), opts.cache_from);
  Run run{d_, svc_, session, cache_mounts_, opts, out, tmp.path(), nullptr, std::nullopt, {}, 0, std::nullopt, {}};
  std::string ctx_dir = tmp.path() + "/context";
  mkdir_all(ctx_dir, 0755);
  {
    UniqueFd root(::open(ctx_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root) throw_sys("open", ctx_dir);
    ContainerFs fs(root.get(), false, {});
    UniqueFd remote;
    if (!opts.remote.empty()) {
      if (is_git_url(opts.remote) || !is_url(opts.remote))
        throw InvalidArgument("remote " + opts.remote +
                              ": hoist build fetches a context from an http(s) URL of a tar or a Dockerfile, not "
                              "from a git repository");
      std::string path = tmp.path() + "/remote";
      try {
        fetch_url(opts.remote, path);
      } catch (const Error& e) {
        throw InvalidArgument(e.what());
      }
      remote = UniqueFd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
      if (!remote) throw_sys("open", path);
      struct stat st {};
      ::fstat(remote.get(), &st);
      // dockerd's download progress of the context: the size so far, no total.
      if (out.message) {
        char shown[32];
        std::snprintf(shown, sizeof shown, "%8s", go_human_size(static_cast<double>(st.st_size)).c_str());
        out.message("{\"status\":" + json(opts.remote).dump() + ",\"progressDetail\":{\"current\":" +
                    std::to_string(st.st_size) + "},\"progress\":" + json(std::string(shown)).dump() +
                    ",\"id\":\"Downloading context\"}");
      }
      bool archive = is_archive(remote.get());
      if (!archive && out.message) out.message("{}");  // as dockerd's stream has it for a Dockerfile
      if (!archive) {
        // dockerd: a body that is no archive is the Dockerfile, alone in its context.
        std::string df = ctx_dir + "/" + builder::go_clean("/" + opts.dockerfile).substr(1);
        mkdir_all(parent_path(df), 0755);
        if (::rename(path.c_str(), df.c_str()) != 0) throw_sys("rename", df);
        ::chmod(df.c_str(), 0644);
        remote.reset();
      }
    }
    try {
      if (remote) fs.extract("/", fd_reader(remote.get()), {});
      else if (opts.remote.empty()) fs.extract("/", read, {});
    } catch (const TarApplyError& e) {
      throw InvalidArgument(std::string("failed to read the build context: ") + e.what());
    }
  }
  if (cache_from && !cache_from->empty()) run.cache_from = &*cache_from;
  run.context = std::make_unique<SourceTree>(ctx_dir);
  std::optional<ContextStats> stats;
  if (const std::string& name = opts.context_stat_entry; !name.empty()) {
    if (name.find('/') != std::string::npos || name == "." || name == "..")
      throw InvalidArgument("X-Hoist-Context-Stat: not a top-level name: " + name);
    UniqueFd f(run.context->open(name, O_RDONLY | O_NOFOLLOW));
    struct stat st {};
    if (!f || ::fstat(f.get(), &st) != 0 || !S_ISREG(st.st_mode))
      throw InvalidArgument("X-Hoist-Context-Stat: the context has no file " + name);
    stats = ContextStats::parse(read_fd(f.get()), &memo_);
    if (::unlinkat(run.context->fd(), name.c_str(), 0) != 0) throw_sys("unlink", name);
    run.stats = &*stats;
  }

  // The Dockerfile, and .dockerignore's rule for it and itself: the client sent them even when
  // excluded, COPY may not see them then (dockerd's removeDockerfile).
  std::string df_rel = builder::go_clean("/" + opts.dockerfile).substr(1);
  std::string text;
  {
    UniqueFd f(run.context->open(df_rel, O_RDONLY));
    if (!f) throw InvalidArgument("Cannot locate specified Dockerfile: " + opts.dockerfile);
    text = read_fd(f.get());
  }
  {
    UniqueFd ig(run.context->open(".dockerignore", O_RDONLY));
    if (ig) {
      builder::IgnoreMatcher matcher(builder::read_dockerignore(read_fd(ig.get())));
      for (const std::string& rel : {std::string(".dockerignore"), df_rel})
        if (matcher.excluded(rel)) {
          std::string parent = rel.find('/') == std::string::npos ? "" : rel.substr(0, rel.rfind('/'));
          UniqueFd dir(run.context->open(parent, O_PATH | O_DIRECTORY));
          if (dir) ::unlinkat(dir.get(), base_name(rel).c_str(), 0);
        }
    }
  }

  builder::BuildRequest req;
  req.dockerfile = text;
  req.target = opts.target;
  req.args.values = opts.build_args;
  req.labels = opts.labels;
  std::unique_ptr<builder::Plan> plan = builder::plan_build(req);
  std::size_t parser_warnings = plan->dockerfile.warnings.size();
  for (std::size_t i = 0; i < parser_warnings && i < plan->warnings.size(); ++i) run.say(plan->warnings[i] + "\n");

  std::vector<int> order;
  for (auto& level : plan->levels()) order.insert(order.end(), level.begin(), level.end());
  std::sort(order.begin(), order.end());
  // The classic builder's count: the ARGs before the first FROM, then each stage's FROM and
  // instructions (here the stages the target needs).
  std::size_t total = plan->dockerfile.meta_args.size();
  for (int s : order) total += 1 + plan->dockerfile.stages[s].commands.size();
  std::size_t n = 0;
  for (const builder::Instruction& meta : plan->dockerfile.meta_args) {
    run.say("Step " + std::to_string(++n) + "/" + std::to_string(total) + " : " + meta.original);
    run.say("\n");
  }

  struct Cleanup {
    Run& run;
    ~Cleanup() {
      for (const Digest& id : run.uncached) {
        if (run.final_image && *run.final_image == id) continue;
        try {
          run.store().remove(id.str(), true);
        } catch (const std::exception&) {
        }
      }
      if (run.scratch) {
        try {
          run.store().remove(run.scratch->str(), true);
        } catch (const std::exception& e) {
          log::debug(std::string("build: remove the scratch image: ") + e.what());
        }
      }
    }
  } cleanup{run};

  std::optional<Digest> result;
  for (int si : order) {
    const builder::PlannedStage& ps = plan->stages[si];
    const builder::Stage& st = plan->dockerfile.stages[si];
    run.say("Step " + std::to_string(++n) + "/" + std::to_string(total) + " : " + st.original);
    run.say("\n");
    Run::StageResult sr;
    std::string platform = plan->options.target.str();
    switch (ps.from.kind) {
      case builder::SourceRef::Scratch:
        sr.key = builder::base_cache_key("scratch", platform);
        break;
      case builder::SourceRef::Stage: {
        const Run::StageResult& base = run.stages.at(ps.from.stage);
        sr = base;
        break;
      }
      default: {
        image::ImageRecord rec = run.base_image(ps.base);
        sr.image = rec.id;
        sr.key = builder::base_cache_key(rec.id.str(), platform);
        sr.config = builder::ImageConfig::from_json(image_config_of(d_, rec.id.str()).dump());
        break;
      }
    }
    builder::StageEvaluator ev(*plan, si, sr.config);
    // The base's ONBUILD triggers belong to the FROM step: they run before its " ---> <id>".
    if (ev.triggers() > 0)
      run.say("# Executing " + std::to_string(ev.triggers()) + " build trigger" + (ev.triggers() > 1 ? "s" : "") + "\n");
    for (std::size_t t = 0; t < ev.triggers(); ++t) sr.image = run.step(ev.next(), sr.image, sr.key);
    run.say(" ---> " + (sr.image ? sr.image->short_id() : std::string()) + "\n");
    while (!ev.done()) {
      run.say("Step " + std::to_string(++n) + "/" + std::to_string(total) + " : " + ev.peek().original);
      run.say("\n");
      Step s = ev.next();
      sr.image = run.step(s, sr.image, sr.key);
      run.say(" ---> " + sr.image->short_id() + "\n");
    }
    sr.config = ev.config();
    run.stages[si] = sr;
    result = sr.image;
    if (sr.image && out.aux) out.aux(sr.image->str());
  }
  if (!result) throw Error("No image was generated. Is your Dockerfile empty?");
  run.final_image = result;
  std::string id = result->str();
  for (const image::Reference& ref : refs) {
    d_.store().tag(*result, ref);
    d_.publish_image_event("tag", id, ref.familiar());
  }
  for (std::size_t i = parser_warnings; i < plan->warnings.size(); ++i) run.say(plan->warnings[i]);
  return id;
}

}  // namespace hoist::engine
