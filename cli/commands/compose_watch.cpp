// `hoist compose watch` and `up --watch`: the `develop.watch` rules of the services acted on as
// files change under their paths (inotify, each directory below a path watched, new ones too;
// changes batched until none came for half a second, as Compose v2 does):
//   sync          the changed files copied into each running container of the service (PUT
//                 /containers/{id}/archive, as `cp -a`; missing parents made, removed files
//                 removed, with exec mkdir -p / rm -rf);
//   rebuild       the service's image built again, its containers recreated (dangling images
//                 of the project removed unless --prune=false);
//   sync+restart  synced, then the containers restarted;  restart  restarted;
//   sync+exec     synced, then the rule's `exec` hook (command, user, privileged, working_dir,
//                 environment) run in all running containers of the service at once, their output shown.
// A sync rule's `initial_sync` copies the whole path into the containers when the watch starts
// (but the Dockerfile, the compose files and what its ignores exclude).
// A rule's `ignore` (and `include`) patterns are .dockerignore patterns relative to its path; the
// build context's .dockerignore, `.git/` and editors' temporary files are ignored too.
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "builder/dockerignore.h"
#include "cli/commands/commands.h"
#include "cli/commands/compose_ops.h"
#include "cli/compose/orchestrate.h"
#include "common/strings.h"

namespace hoist::cli::composecmd {

namespace fs = std::filesystem;

const Command kComposeWatch = {
    "[SERVICE...]",
    "Watch build context for service and rebuild/refresh containers when files are updated",
    "",
    {},
    {{"no-up", 0, "", "Do not build & start services before watching"},
     {"prune", 0, "", "Prune dangling images on rebuild", "true"},
     {"quiet", 0, "", "hide build output"}},
    true,
    0,
    -1};

namespace {

// Editors' temporary files (Compose v2's EphemeralPathMatcher).
const std::vector<std::string> kEphemeral = {"**/.*.swp", "**/.*.swx", "**/4913",           "**/*~",
                                             "**/.#*",    "**/#*#",    "**/*___jb_tmp___", "**/*___jb_old___",
                                             "**/.DS_Store"};

// A sync+exec rule's hook.
struct Hook {
  std::vector<std::string> command, env;
  std::string user, working_dir;
  bool privileged = false;
};

struct Rule {
  std::string service, action, path, target;
  bool initial_sync = false;
  Hook exec;
  std::unique_ptr<builder::IgnoreMatcher> ignore, include, ephemeral;
  std::unique_ptr<builder::IgnoreMatcher> dockerignore;  // the build context's, relative to it
  std::string context;
};

// `p` relative to `base` ("" for base itself), or nullopt when it is not below it.
std::optional<std::string> below(const std::string& base, const std::string& p) {
  if (p == base) return std::string();
  std::string b = base.ends_with('/') ? base : base + "/";
  if (p.rfind(b, 0) != 0) return std::nullopt;
  return p.substr(b.size());
}

bool matches(const Rule& r, const std::string& host) {
  auto rel = below(r.path, host);
  if (!rel) return false;
  if (!rel->empty()) {
    if (r.include && !r.include->excluded(*rel)) return false;
    if (r.ignore->excluded(*rel) || r.ephemeral->excluded(*rel)) return false;
  }
  if (!r.context.empty() && r.dockerignore) {
    auto crel = below(r.context, host);
    if (crel && !crel->empty() && r.dockerignore->excluded(*crel)) return false;
  }
  // `.git/` anywhere
  for (std::size_t at = 0; (at = host.find("/.git", at)) != std::string::npos; at += 5)
    if (at + 5 == host.size() || host[at + 5] == '/') return false;
  return true;
}

bool is_sync(const std::string& action) {
  return action == "sync" || action == "sync+restart" || action == "sync+exec";
}

std::vector<std::string> strings_of(const json& j) {
  std::vector<std::string> v;
  if (j.is_array())
    for (const auto& s : j) v.push_back(s.is_string() ? s.get<std::string>() : s.dump());
  return v;
}

std::string go_quoted(const std::vector<std::string>& v) {  // Go's %q of a []string
  std::vector<std::string> q;
  for (const auto& s : v) q.push_back(json(s).dump());
  return "[" + join(q, " ") + "]";
}

void say_line(const std::string& line) {
  std::lock_guard<std::mutex> l(g_out);
  out(line + "\n");
  fflush(stdout);
}

// An inotify instance watching directory trees.
class Inotify {
 public:
  Inotify() : fd_(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) {
    if (fd_ < 0) throw ExitError{1, std::string("inotify_init1: ") + std::strerror(errno)};
  }
  ~Inotify() { ::close(fd_); }
  Inotify(const Inotify&) = delete;
  Inotify& operator=(const Inotify&) = delete;
  int fd() const { return fd_; }

  // `dir` and every directory below it (but .git).
  void add_tree(const std::string& dir) {
    add(dir);
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_symlink(ec) || !it->is_directory(ec)) continue;
      if (it->path().filename() == ".git") {
        it.disable_recursion_pending();
        continue;
      }
      add(it->path().string());
    }
  }
  void add(const std::string& dir) {
    int wd = ::inotify_add_watch(fd_, dir.c_str(),
                                 IN_CREATE | IN_MODIFY | IN_CLOSE_WRITE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO |
                                     IN_ATTRIB | IN_ONLYDIR);
    if (wd >= 0) dirs_[wd] = dir;
  }
  // The paths the queued events name (new directories watched in turn).
  void read(std::set<std::string>& changed) {
    alignas(struct inotify_event) char buf[64 * 1024];
    for (;;) {
      ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n <= 0) return;
      for (char* p = buf; p < buf + n;) {
        auto* e = reinterpret_cast<struct inotify_event*>(p);
        p += sizeof(struct inotify_event) + e->len;
        if (e->mask & IN_IGNORED) {
          dirs_.erase(e->wd);
          continue;
        }
        auto it = dirs_.find(e->wd);
        if (it == dirs_.end() || e->len == 0) continue;
        std::string path = it->second + "/" + e->name;
        changed.insert(path);
        if ((e->mask & IN_ISDIR) && (e->mask & (IN_CREATE | IN_MOVED_TO))) {
          add_tree(path);
          // What was made in it before the watch was added.
          std::error_code ec;
          for (auto f = fs::recursive_directory_iterator(path, ec); !ec && f != fs::recursive_directory_iterator();
               f.increment(ec))
            changed.insert(f->path().string());
        }
      }
    }
  }

 private:
  int fd_;
  std::map<int, std::string> dirs_;
};

std::atomic<int> g_watch_interrupts{0};
extern "C" void on_watch_interrupt(int) { g_watch_interrupts.fetch_add(1); }

// Runs `argv` in the container and waits for it (its output is not read); throws on failure.
void exec_wait(Ctx& ctx, const std::string& id, const std::vector<std::string>& argv) {
  json b = {{"AttachStdin", false}, {"AttachStdout", false}, {"AttachStderr", false}, {"Tty", false}, {"Cmd", argv}};
  auto r = ctx.c().request("POST", "/containers/" + q(id) + "/exec", b.dump());
  std::string eid = json::parse(r.body).value("Id", "");
  ctx.c().request("POST", "/exec/" + q(eid) + "/start", json{{"Detach", true}, {"Tty", false}}.dump());
  for (int i = 0; i < 600; ++i) {
    json st = json::parse(ctx.c().request("GET", "/exec/" + q(eid) + "/json").body);
    if (!st.value("Running", false) && (st.value("Pid", 0) != 0 || !st["ExitCode"].is_null() || i > 20)) {
      int code = st["ExitCode"].is_number() ? st["ExitCode"].get<int>() : 0;
      if (code != 0) throw ExitError{1, join(argv, " ") + ": exit code " + std::to_string(code)};
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  throw ExitError{1, join(argv, " ") + ": still running"};
}

struct Mapping {
  std::string host, container;
};

// The changed files into each running container of the service: removed ones removed, the others
// copied (their parents made first).
void sync_service(Ctx& ctx, const Project& proj, const std::string& service, std::vector<Mapping> files) {
  // A path below another one synced whole is left to it.
  std::sort(files.begin(), files.end(), [](const Mapping& a, const Mapping& b) { return a.host < b.host; });
  std::vector<Mapping> kept;
  for (const auto& m : files) {
    if (!kept.empty() && (below(kept.back().host, m.host) || kept.back().host == m.host)) continue;
    kept.push_back(m);
  }
  std::vector<std::string> removed, parents;
  std::vector<Mapping> copies;
  for (const auto& m : kept) {
    struct stat st;
    if (::lstat(m.host.c_str(), &st) != 0) {
      removed.push_back(m.container);
    } else {
      copies.push_back(m);
      parents.push_back(fs::path(m.container).parent_path().string());
    }
  }
  std::sort(parents.begin(), parents.end());
  parents.erase(std::unique(parents.begin(), parents.end()), parents.end());
  for (const auto& c : project_containers(ctx, proj.name, false)) {
    if (label(c, compose::kLabelService) != service) continue;
    std::string id = c["Id"];
    if (!removed.empty()) {
      std::vector<std::string> rm = {"rm", "-rf"};
      rm.insert(rm.end(), removed.begin(), removed.end());
      exec_wait(ctx, id, rm);
    }
    if (!parents.empty()) {
      std::vector<std::string> mk = {"mkdir", "-p"};
      mk.insert(mk.end(), parents.begin(), parents.end());
      exec_wait(ctx, id, mk);
    }
    for (const auto& m : copies) {
      fs::path cp(m.container);
      // A directory goes into its parent (merged with what is there); a file to its path.
      std::string dst = fs::path(m.host).filename() == cp.filename() ? cp.parent_path().string() + "/" : m.container;
      if (dst == "//") dst = "/";
      Ctx sub{ctx.host, ctx.config_dir, "cp", nullptr};
      int rc = cmd_cp(sub, {"-q", "-a", m.host, id + ":" + dst});
      if (rc != 0) throw ExitError{rc, "copying " + m.host + " to " + cname(c) + ":" + m.container + " failed"};
    }
  }
}

// A sync+exec rule's hook run in every running container of its service at the same time (as
// compose does; as `exec -T`, the output shown); the first failure, in the containers' order, thrown.
void run_hook(Ctx& ctx, const Project& proj, const Rule& r) {
  json body = {{"AttachStdin", false}, {"AttachStdout", true}, {"AttachStderr", true}, {"Tty", false},
               {"Cmd", r.exec.command},    {"Privileged", r.exec.privileged}};
  if (!r.exec.env.empty()) body["Env"] = r.exec.env;
  if (!r.exec.user.empty()) body["User"] = r.exec.user;
  if (!r.exec.working_dir.empty()) body["WorkingDir"] = r.exec.working_dir;
  std::vector<std::string> ids;
  for (const auto& c : project_containers(ctx, proj.name, false))
    if (label(c, compose::kLabelService) == r.service) ids.push_back(c["Id"].get<std::string>());
  std::vector<std::string> errors(ids.size());
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < ids.size(); ++i)
    threads.emplace_back([&, i] {
      try {
        Ctx own{ctx.host, ctx.config_dir, "exec", nullptr};  // a connection of its own
        auto created = own.c().request("POST", "/containers/" + q(ids[i]) + "/exec", body.dump());
        int rc = exec_attached(own, json::parse(created.body).value("Id", ""), false, false);
        if (rc != 0) errors[i] = "exit status " + std::to_string(rc);
      } catch (const ExitError& e) {
        errors[i] = e.msg.empty() ? "exit status " + std::to_string(e.code) : e.msg;
      } catch (const std::exception& e) {
        errors[i] = daemon_err(e);
      }
    });
  for (auto& t : threads) t.join();
  for (const auto& e : errors)
    if (!e.empty()) throw ExitError{1, e};
}

// Compose's own files and the service's Dockerfile, never synced by an initial sync.
std::set<std::string> never_synced(const Project& proj, const std::string& service) {
  std::set<std::string> names = {"Dockerfile",
                                 "compose.yaml",
                                 "compose.yml",
                                 "docker-compose.yml",
                                 "docker-compose.yaml",
                                 "compose.override.yml",
                                 "compose.override.yaml",
                                 "docker-compose.override.yml",
                                 "docker-compose.override.yaml"};
  if (compose::has_build(proj, service))
    names.insert(fs::path(compose::build_plan(proj, service).dockerfile).filename().string());
  return names;
}

// `initial_sync`: every file below the rule's path (or the file it names) that the rule would
// sync, into the service's running containers.
void initial_sync(Ctx& ctx, const Project& proj, const Rule& r) {
  const json& svc = compose::service_of(proj, r.service);
  auto mounted = [&](const std::string& p) {
    for (const auto& v : svc.value("volumes", json::array()))
      if (v.is_object() && v.value("type", "") == "bind" && below(v.value("source", ""), p)) return true;
    return false;
  };
  auto skipped = never_synced(proj, r.service);
  std::vector<Mapping> files;
  std::error_code ec;
  if (fs::is_regular_file(r.path, ec)) {
    if (!skipped.count(fs::path(r.path).filename().string()) && !mounted(r.path)) files.push_back({r.path, r.target});
  } else if (fs::is_directory(r.path, ec)) {
    for (auto it = fs::recursive_directory_iterator(r.path, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
      std::string host = it->path().string();
      bool dir = it->is_directory(ec) && !it->is_symlink(ec);
      if (!matches(r, host) || skipped.count(it->path().filename().string()) || mounted(host)) {
        if (dir) it.disable_recursion_pending();
        continue;
      }
      if (dir) continue;
      files.push_back({host, (fs::path(r.target) / *below(r.path, host)).string()});
    }
  }
  if (!files.empty()) sync_service(ctx, proj, r.service, files);
}

struct WatchSetup {
  std::vector<Rule> rules;
  std::vector<std::string> paths;  // what inotify watches (directories)
};

WatchSetup watch_rules(const Project& proj, const std::vector<std::string>& services) {
  WatchSetup w;
  for (const auto& service : services) {
    const json& svc = compose::service_of(proj, service);
    if (!svc.contains("develop") || !svc["develop"].contains("watch")) continue;
    std::string context;
    std::unique_ptr<builder::IgnoreMatcher> dockerignore;
    if (compose::has_build(proj, service)) {
      auto plan = compose::build_plan(proj, service);
      context = plan.context;
      for (const auto& cand : builder::dockerignore_candidates(plan.dockerfile)) {
        std::ifstream f(context + "/" + cand);
        if (!f) continue;
        std::stringstream ss;
        ss << f.rdbuf();
        dockerignore = std::make_unique<builder::IgnoreMatcher>(builder::read_dockerignore(ss.str()));
        break;
      }
    }
    for (const auto& t : svc["develop"]["watch"]) {
      Rule r;
      r.service = service;
      r.action = t.value("action", "");
      std::string where = "services." + service + ".develop.watch";
      if (!is_sync(r.action) && r.action != "rebuild" && r.action != "restart")
        throw ExitError{1, where + ": invalid action \"" + r.action + "\"" +
                               " (rebuild, restart, sync, sync+restart or sync+exec)"};
      r.initial_sync = t.value("initial_sync", false);
      if (r.initial_sync && !is_sync(r.action))
        throw ExitError{1, where + ": `initial_sync` applies to sync actions, not to \"" + r.action + "\""};
      if (t.contains("exec") && r.action != "sync+exec")
        throw ExitError{1, where + ": `exec` applies to action sync+exec, not to \"" + r.action + "\""};
      if (r.action == "sync+exec") {
        const json x = t.value("exec", json::object());
        r.exec.command = strings_of(x.value("command", json::array()));
        if (r.exec.command.empty())
          throw ExitError{1, "can't watch with action \"sync+exec\" on service " + service + " without a command"};
        r.exec.user = x.value("user", "");
        r.exec.working_dir = x.value("working_dir", "");
        r.exec.privileged = x.value("privileged", false);
        const json env = x.value("environment", json::object());
        for (const auto& [k, v] : env.items())
          if (v.is_string()) r.exec.env.push_back(k + "=" + v.get<std::string>());
      }
      r.path = t.value("path", "");
      if (r.path.empty()) throw ExitError{1, "watch rules MUST define a path"};
      if (r.path[0] != '/') r.path = proj.working_dir + "/" + r.path;
      std::error_code ec;
      fs::path canon = fs::weakly_canonical(r.path, ec);
      r.path = ec ? fs::path(r.path).lexically_normal().string() : canon.string();
      while (r.path.size() > 1 && r.path.ends_with('/')) r.path.pop_back();
      r.target = t.value("target", "");
      if (is_sync(r.action) && r.target.empty())
        throw ExitError{1, where + ": a `" + r.action + "` rule needs a target"};
      if (r.action == "rebuild" && !compose::has_build(proj, service))
        throw ExitError{1, "can't watch service \"" + service + "\" with action rebuild without a build context"};
      if (r.action == "sync" || r.action == "sync+restart") {
        bool mounted = false;
        for (const auto& v : svc.value("volumes", json::array()))
          if (v.is_object() && v.value("type", "") == "bind" && below(v.value("source", ""), r.path)) mounted = true;
        if (mounted) {
          errp("WARN[0000] path '" + r.path + "' also declared by a bind mount volume, this path won't be monitored!\n");
          continue;
        }
      }
      try {
        r.ignore = std::make_unique<builder::IgnoreMatcher>(strings_of(t.value("ignore", json::array())));
        if (t.contains("include"))
          r.include = std::make_unique<builder::IgnoreMatcher>(strings_of(t["include"]));
        r.ephemeral = std::make_unique<builder::IgnoreMatcher>(kEphemeral);
      } catch (const std::exception& e) {
        throw ExitError{1, where + ": " + e.what()};
      }
      if (dockerignore) r.dockerignore = std::make_unique<builder::IgnoreMatcher>(*dockerignore);
      r.context = context;
      // A file's (or a missing path's) nearest existing directory is watched.
      fs::path d = r.path;
      while (!fs::is_directory(d, ec) && d.has_parent_path() && d != d.parent_path()) d = d.parent_path();
      w.paths.push_back(d.string());
      w.rules.push_back(std::move(r));
    }
  }
  if (w.rules.empty())
    throw ExitError{1, "none of the selected services is configured for watch, consider setting an 'develop' section"};
  return w;
}

}  // namespace

int watch_project(Ctx& ctx, const compose::LoadOptions& lo, const Project& proj, const std::vector<std::string>& services,
                  const WatchOptions& o, const std::function<bool()>& stop) {
  WatchSetup w = watch_rules(proj, services);
  for (const auto& r : w.rules)
    if (r.initial_sync) initial_sync(ctx, proj, r);
  Inotify ino;
  for (const auto& p : w.paths) ino.add_tree(p);
  say_line("Watch enabled");
  std::set<std::string> pending;
  auto last = std::chrono::steady_clock::now();
  const auto quiet = std::chrono::milliseconds(500);
  while (!stop()) {
    struct pollfd pfd = {ino.fd(), POLLIN, 0};
    int n = ::poll(&pfd, 1, 100);
    if (n > 0) {
      std::size_t before = pending.size();
      ino.read(pending);
      if (pending.size() != before) last = std::chrono::steady_clock::now();
    }
    if (pending.empty() || std::chrono::steady_clock::now() - last < quiet) continue;
    std::set<std::string> batch;
    batch.swap(pending);
    std::map<std::string, std::vector<Mapping>> sync;
    std::set<std::string> rebuild, restart;
    std::set<std::size_t> hooks;  // the sync+exec rules hit, each run once per batch
    for (const auto& host : batch)
      for (std::size_t i = 0; i < w.rules.size(); ++i) {
        const Rule& r = w.rules[i];
        if (!matches(r, host)) continue;
        if (r.action == "rebuild") rebuild.insert(r.service);
        if (r.action == "restart" || r.action == "sync+restart") restart.insert(r.service);
        if (r.action == "sync+exec") hooks.insert(i);
        if (is_sync(r.action)) {
          std::string rel = *below(r.path, host);
          sync[r.service].push_back({host, rel.empty() ? r.target : (fs::path(r.target) / rel).string()});
        }
      }
    try {
      if (!rebuild.empty()) {
        std::vector<std::string> svcs(rebuild.begin(), rebuild.end());
        say_line("Rebuilding service(s) " + go_quoted(svcs) + " after changes were detected...");
        std::set<std::string> old_images;
        for (const auto& c : project_containers(ctx, proj.name, true))
          if (rebuild.count(label(c, compose::kLabelService))) old_images.insert(c.value("ImageID", ""));
        try {
          build_images(ctx, proj, svcs, true, {}, {}, o.quiet);
        } catch (const ExitError& e) {
          say_line("Build failed. Error: " + e.msg);
          throw;
        }
        say_line("service(s) " + go_quoted(svcs) + " successfully built");
        std::vector<std::string> up = {"-d", "--no-build", "--no-deps", "--force-recreate"};
        up.insert(up.end(), svcs.begin(), svcs.end());
        Ctx sub{ctx.host, ctx.config_dir, "compose up", nullptr};
        int rc = compose_up(sub, lo, up);
        if (rc != 0) say_line("Failed to recreate services after update. Error: exit code " + std::to_string(rc));
        if (o.prune) {  // the images the recreated containers left, if nothing else has them
          for (const auto& img : old_images) {
            if (img.empty()) continue;
            auto r = ctx.c().request("GET", "/images/" + q(img) + "/json", "", {}, true);
            if (r.status != 200 || !json::parse(r.body).value("RepoTags", json::array()).empty()) continue;
            ctx.c().request("DELETE", "/images/" + q(img), "", {}, true);
          }
        }
      }
      for (const auto& [service, files] : sync) {
        say_line("Syncing service \"" + service + "\" after " + std::to_string(files.size()) +
                 " changes were detected");
        sync_service(ctx, proj, service, files);
      }
      if (!restart.empty()) {
        std::vector<std::string> svcs(restart.begin(), restart.end());
        Ctx sub{ctx.host, ctx.config_dir, "compose restart", nullptr};
        compose_each(sub, lo, "restart", svcs);
        say_line("service(s) " + go_quoted(svcs) + " restarted");
      }
      for (std::size_t i : hooks) run_hook(ctx, proj, w.rules[i]);
    } catch (const ExitError& e) {
      errp("WARN[0000] Error handling changed files: " + e.msg + "\n");
    } catch (const std::exception& e) {
      errp("WARN[0000] Error handling changed files: " + daemon_err(e) + "\n");
    }
  }
  return 0;
}

// The services' watch rules refused (or none there) before anything is started.
void check_watch(const Project& proj, const std::vector<std::string>& services) { watch_rules(proj, services); }

int compose_watch(Ctx& ctx, const compose::LoadOptions& lo, const std::vector<std::string>& argv) {
  ctx.path = "compose watch";
  Parsed p = parse(ctx, kComposeWatch, argv);
  Project proj = load(lo);
  auto services = selected(proj, p.args);
  WatchOptions o;
  o.quiet = p.flag("quiet");
  o.prune = !p.has("prune") || p.flag("prune");
  watch_rules(proj, services);
  if (!p.flag("no-up")) {
    std::vector<std::string> up = {"-d"};
    up.insert(up.end(), p.args.begin(), p.args.end());
    int rc = compose_up(ctx, lo, up);
    if (rc != 0) return rc;
    ctx.path = "compose watch";
  }
  struct sigaction sa {};
  sa.sa_handler = on_watch_interrupt;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  watch_project(ctx, lo, proj, services, o, [] { return g_watch_interrupts.load() > 0; });
  return 0;
}

}  // namespace hoist::cli::composecmd
