// A build's context, extracted and read (see build_context.h).
#include "engine/build_context.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "builder/build_runner.h"
#include "builder/dockerignore.h"
#include "builder/git_remote.h"
#include "builder/go_match.h"
#include "common/file.h"
#include "engine/build_fetch.h"
#include "engine/build_git.h"
#include "engine/build_workspace.h"
#include "engine/containers/container_fs.h"

namespace hoist::engine {

namespace {

using nlohmann::json;
using builder::is_git_url;  // builder/git_remote.h
using builder::is_url;

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

}  // namespace

BuildContext read_context(const BuildOptions& opts, const image::ReadFn& read, const BuildOutput& out,
                          const std::string& dir, const std::string& ctx_dir, HashMemo* memo,
                          const std::function<void()>& extracted) {
  BuildContext ctx;
  bool git = !opts.remote.empty() && is_git_url(opts.remote);
  if (git) {
    // The checkout (or its subdirectory) is the context; the rest of it goes with `dir`.
    std::string src = clone_git_context(builder::parse_git_remote(opts.remote), dir + "/git");
    if (::rename(src.c_str(), ctx_dir.c_str()) != 0) throw_sys("rename", src);
  }
  mkdir_all(ctx_dir, 0755);
  {
    UniqueFd root(::open(ctx_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root) throw_sys("open", ctx_dir);
    ContainerFs fs(root.get(), false, {});
    UniqueFd remote;
    if (!opts.remote.empty() && !git) {
      if (!is_url(opts.remote))
        throw Error("remoteURL (" + opts.remote + ") could not be recognized as URL");  // a 500, as dockerd's
      std::string path = dir + "/remote";
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
      if (remote) fs.extract("/", image::fd_reader(remote.get(), "build file"), {});
      else if (opts.remote.empty()) fs.extract("/", read, {});
    } catch (const TarApplyError& e) {
      throw InvalidArgument(std::string("failed to read the build context: ") + e.what());
    }
    if (extracted) extracted();
  }
  ctx.tree = std::make_unique<SourceTree>(ctx_dir);
  if (const std::string& name = opts.context_stat_entry; !name.empty()) {
    if (name.find('/') != std::string::npos || name == "." || name == "..")
      throw InvalidArgument("X-Hoist-Context-Stat: not a top-level name: " + name);
    UniqueFd f(ctx.tree->open(name, O_RDONLY | O_NOFOLLOW));
    struct stat st {};
    if (!f || ::fstat(f.get(), &st) != 0 || !S_ISREG(st.st_mode))
      throw InvalidArgument("X-Hoist-Context-Stat: the context has no file " + name);
    ctx.stats = ContextStats::parse(read_fd(f.get()), memo);
    if (::unlinkat(ctx.tree->fd(), name.c_str(), 0) != 0) throw_sys("unlink", name);
  }

  // The Dockerfile, and .dockerignore's rule for it and itself: the client sent them even when
  // excluded, COPY may not see them then (dockerd's removeDockerfile).
  std::string df_rel = builder::go_clean("/" + opts.dockerfile).substr(1);
  {
    UniqueFd f(ctx.tree->open(df_rel, O_RDONLY));
    if (!f) throw InvalidArgument("Cannot locate specified Dockerfile: " + opts.dockerfile);
    ctx.dockerfile = read_fd(f.get());
  }
  {
    UniqueFd ig(ctx.tree->open(".dockerignore", O_RDONLY));
    if (ig) {
      builder::IgnoreMatcher matcher(builder::read_dockerignore(read_fd(ig.get())));
      for (const std::string& rel : {std::string(".dockerignore"), df_rel})
        if (matcher.excluded(rel)) {
          std::string parent = rel.find('/') == std::string::npos ? "" : rel.substr(0, rel.rfind('/'));
          UniqueFd pd(ctx.tree->open(parent, O_PATH | O_DIRECTORY));
          if (pd) ::unlinkat(pd.get(), base_name(rel).c_str(), 0);
        }
    }
  }
  return ctx;
}

}  // namespace hoist::engine
