// COPY, ADD and WORKDIR into a step's container (see build_copy.h).
#include "engine/build_copy.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <optional>

#include "builder/build_runner.h"
#include "builder/dockerignore.h"
#include "builder/git_remote.h"
#include "builder/go_match.h"
#include "common/file.h"
#include "common/strings.h"
#include "engine/build_fetch.h"
#include "engine/build_git.h"
#include "engine/build_ssh.h"
#include "engine/containers/container_fs.h"
#include "engine/containers/oci_spec.h"
#include "engine/daemon.h"
#include "image/install.h"
#include "image/layer_internal.h"

namespace hoist::engine {

namespace {

using builder::Step;
using builder::is_url;

constexpr std::uint32_t kGoModeDir = 1u << 31;

// Whether `path` (absolute) is a directory in the view (symlinks followed).
bool is_dir_in(const ContainerFs& fs, const std::string& path) {
  try {
    PathStat st = fs.stat(path == "/" ? "/" : path + "/");
    return (st.mode & kGoModeDir) != 0;
  } catch (const std::exception&) {
    return false;
  }
}
bool exists_in(const ContainerFs& fs, const std::string& path) {
  try {
    fs.stat(path);
    return true;
  } catch (const std::exception&) {
    return false;
  }
}


// ADD of an http(s) URL: downloaded (dockerd: mode 0600, the mtime from Last-Modified), its
// checksum checked (BuildKit's words), never extracted unless --unpack.
template <typename OwnFile>
void fetch_source(BuildWorkspace& ws, const Step& s, const std::string& url, OwnFile& own_file, CopySources& cs,
                  builder::Output& out) {
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
  std::string dl = ws.own_dir() + "/download";
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
  ws.progress(out, {"", "Downloading", st.st_size, st.st_size});
  out.text("\n");
}

// The .git entries of a checkout (the repository's directory, a submodule's file).
void remove_git_entries(const std::string& root) {
  std::vector<std::filesystem::path> found;
  for (auto it = std::filesystem::recursive_directory_iterator(root); it != std::filesystem::recursive_directory_iterator();
       ++it)
    if (it->path().filename() == ".git") {
      found.push_back(it->path());
      it.disable_recursion_pending();
    }
  for (const auto& p : found) std::filesystem::remove_all(p);
}

// ADD of a git repository, as BuildKit's: the fragment's ref (the remote's HEAD when it names
// none) fetched and checked out by the daemon with its submodules (build_git.h; an ssh remote
// with the client's forwarded default agent, build_git_ssh.h), the checkout's
// content (or the fragment's subdirectory's) copied as a directory of the context is (owners
// root), without its .git entries unless --keep-git-dir; hashed by the commit the ref names, so
// the step's cache holds while the ref does not move.
void git_source(BuildWorkspace& ws, const Step& s, const std::string& src, CopySources& cs) {
  const builder::Instruction& in = s.instruction;
  if (!in.checksum.empty()) throw InvalidArgument("ADD --checksum of a git repository is not supported yet by hoist build");
  builder::GitRemote g = builder::parse_git_source(src);
  std::string d = ws.own_dir();
  // An ssh remote: the client's default agent, as BuildKit's (ADD has no ssh id of its own).
  std::unique_ptr<SshSession::Socket> agent;
  if (builder::is_ssh_git_remote(g.remote)) {
    const std::shared_ptr<SshSession>& ssh = ws.options().ssh;
    require_ssh_forward(ssh.get(), "default");
    agent = ssh->listen("default", ws.daemon().config().exec_root + "/build-ssh", 0, 0, 0600);
  }
  GitCheckout co = clone_git(g, d + "/repo", agent ? agent->path() : "");
  agent.reset();
  if (!in.keep_git_dir) remove_git_entries(d + "/repo");
  std::string top = std::filesystem::canonical(d).string();
  std::string rel = co.dir.size() > top.size() ? co.dir.substr(top.size() + 1) : "repo";
  cs.own.push_back(std::make_unique<SourceTree>(d));
  cs.list.push_back(resolve_source(*cs.own.back(), rel, true));
  cs.info.push_back({});
  cs.list.back().hash = "git:" + co.commit + (g.subdir.empty() ? "" : ":" + g.subdir) +
                        (in.keep_git_dir ? " with .git" : "");
}

}  // namespace

void find_sources(const StepTrees& trees, const Step& s, CopySources& cs, builder::Output& out) {
  BuildWorkspace& ws = trees.ws;
  const builder::Instruction& in = s.instruction;
  const SourceTree* tree = &ws.context();
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
  if (!from_context && local) tree = trees.hold(s.copy_from, cs.hold);
  // `stat_names`: hashed as dockerd hashes a download (the file's stat, type bits and owner
  // names), not as a context's file.
  auto own_file = [&](const std::string& name, bool stat_names, const std::function<void(const std::string&)>& make) {
    std::string d = ws.own_dir();
    make(d + "/" + name);
    cs.own.push_back(std::make_unique<SourceTree>(d));
    cs.list.push_back(resolve_source(*cs.own.back(), name, !stat_names));
    cs.info.push_back({});
  };
  for (const std::string& src : in.sources) {
    if (add && builder::is_git_source(src)) {
      git_source(ws, s, src, cs);
      continue;
    }
    if (is_url(src)) {
      fetch_source(ws, s, src, own_file, cs, out);
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
        cs.list.push_back(resolve_source(*tree, f, from_context, exclude.get(), from_context ? ws.stats() : nullptr));
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

void copy_into(BuildWorkspace& ws, const std::string& id, const Step& s, const CopySources& cs,
               const std::string& users_from) {
  const builder::Instruction& in = s.instruction;
  const std::vector<ResolvedSource>& srcs = cs.list;
  auto lease = ws.manager().lease_rootfs(id);
  ContainerFs fs(lease.fd(), false, {});
  // Without --chown: root for the context's files, the source's own owners for a stage's or
  // an image's (dockerd 20.10's classic builder).
  std::optional<std::pair<uid_t, gid_t>> owner;
  if (s.copy_from.kind == builder::SourceRef::Context) owner = std::make_pair(uid_t{0}, gid_t{0});
  if (!in.chown.empty()) {
    std::string spec = in.chown.find(':') == std::string::npos ? in.chown + ":" + in.chown : in.chown;
    std::optional<ContainerManager::RootfsLease> users;
    if (!users_from.empty()) users.emplace(ws.manager().lease_rootfs(users_from));
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
  if (!parts.empty() || !make.empty()) {
    // The files' data go straight from the sources into the new files, the tar holds the rest.
    CopyFiles files(parts);
    CopyInOptions o;
    o.file_data = [&files](int fd, const std::string& path, const struct timespec* times) {
      files.fill(fd, path, times);
    };
    extract_made(fs, [&](int fd) { write_copy_tar(fd, make, parts, owner, chmod, true); }, o);
    files.finish();
  }
  for (const ResolvedSource* r : archives) {
    UniqueFd f(::open(image::layer_detail::proc_fd_path(r->top.get()).c_str(), O_RDONLY | O_CLOEXEC));
    if (!f) throw_sys("open", r->name);
    CopyInOptions o;
    if (!in.chown.empty()) o.owner = *owner;
    fs.extract(dir, image::fd_reader(f.get(), "build file"), o);
  }
}

void make_workdir(BuildWorkspace& ws, const std::string& id, const std::string& dir) {
  auto lease = ws.manager().lease_rootfs(id);
  ContainerFs fs(lease.fd(), false, {});
  if (exists_in(fs, dir)) return;
  std::string rel = rel_of(dir);
  if (rel.empty()) return;
  extract_made(fs, [&](int fd) { write_copy_tar(fd, {rel}, {}, std::make_pair(uid_t{0}, gid_t{0})); });
}


}  // namespace hoist::engine
