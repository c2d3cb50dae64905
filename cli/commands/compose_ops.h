// What the `hoist compose` command files share (compose_ops.cpp defines the helpers): each file's
// flag tables and commands, the project's containers, the progress lines, the images, networks
// and volumes made when missing, the dependency waits and the containers' log streams.
#pragma once
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "cli/commands/commands.h"
#include "cli/compose/orchestrate.h"

namespace hoist::cli::composecmd {

using compose::Project;

// compose_lifecycle.cpp
extern const Command kComposeUp, kComposeCreate, kComposePause, kComposeUnpause, kComposeDown, kComposeStop,
    kComposeRestart, kComposeStart, kComposeKill, kComposeRm;
int compose_up(Ctx& ctx, const compose::LoadOptions& lo, const std::vector<std::string>& argv);
int compose_create(Ctx& ctx, const compose::LoadOptions& lo, const std::vector<std::string>& argv);
int compose_down(Ctx& ctx, const compose::LoadOptions& lo, const std::vector<std::string>& argv);
int compose_pause(Ctx& ctx, const compose::LoadOptions& lo, const std::string& sub, const std::vector<std::string>& argv);
// stop/start/restart/kill/rm
int compose_each(Ctx& ctx, const compose::LoadOptions& lo, const std::string& sub, const std::vector<std::string>& argv);
// Attached `up`.
struct AttachOptions {
  std::set<std::string> services;  // whose containers are attached
  bool abort_on_exit = false;
  std::string exit_code_from;
  bool color = false, no_prefix = false, timestamps = false;
  std::string stop_query;  // "?t=N" or ""
  double since = 0;        // output from then on (the start of `up`)
  bool until_interrupted = false;  // --watch: followed until Ctrl-C, also while none runs
};
int attach_up(Ctx& ctx, const Project& proj, const AttachOptions& o);

// compose_run.cpp
extern const Command kComposeRun, kComposeExec;
int compose_run(Ctx& ctx, const compose::LoadOptions& lo, const std::vector<std::string>& argv);
int compose_exec(Ctx& ctx, const compose::LoadOptions& lo, const std::vector<std::string>& argv);

// compose_info.cpp
extern const Command kComposeTop, kComposeImages, kComposePort, kComposeLs, kComposeVersion, kComposePs,
    kComposeLogs;
int compose_ps(Ctx& ctx, const compose::LoadOptions& lo, const std::vector<std::string>& argv);
int compose_logs(Ctx& ctx, const compose::LoadOptions& lo, const std::vector<std::string>& argv);
int compose_top(Ctx& ctx, const compose::LoadOptions& lo, const std::vector<std::string>& argv);
int compose_images(Ctx& ctx, const compose::LoadOptions& lo, const std::vector<std::string>& argv);
int compose_port(Ctx& ctx, const compose::LoadOptions& lo, const std::vector<std::string>& argv);
int compose_ls(Ctx& ctx, const std::vector<std::string>& argv);
int compose_version(Ctx& ctx, const std::vector<std::string>& argv);

// compose_build.cpp
extern const Command kComposeBuild, kComposePull, kComposePush;
int compose_build(Ctx& ctx, const compose::LoadOptions& lo, const std::vector<std::string>& argv);
int compose_pull(Ctx& ctx, const compose::LoadOptions& lo, const std::vector<std::string>& argv);
int compose_push(Ctx& ctx, const compose::LoadOptions& lo, const std::vector<std::string>& argv);
// The image's id; pulls it when missing (pull_policy missing/if_not_present/always; never refuses).
std::string ensure_image(Ctx& ctx, const Project& proj, const std::string& service, const json& svc);
// Builds the image of each service of `services` that has `build:` (all of them with `always`,
// else those whose image is missing or whose pull_policy is "build"), as `compose build`.
void build_images(Ctx& ctx, const Project& proj, const std::vector<std::string>& services, bool always,
                  const compose::BuildFlags& flags, const std::vector<std::string>& build_args, bool quiet);

// compose_io.cpp
extern const Command kComposeAttach, kComposeCp, kComposeEvents, kComposeStats, kComposeWait, kComposeScale;
int compose_attach(Ctx& ctx, const compose::LoadOptions& lo, const std::vector<std::string>& argv);
int compose_cp(Ctx& ctx, const compose::LoadOptions& lo, const std::vector<std::string>& argv);
int compose_events(Ctx& ctx, const compose::LoadOptions& lo, const std::vector<std::string>& argv);
int compose_stats(Ctx& ctx, const compose::LoadOptions& lo, const std::vector<std::string>& argv);
int compose_wait(Ctx& ctx, const compose::LoadOptions& lo, const std::vector<std::string>& argv);
int compose_scale(Ctx& ctx, const compose::LoadOptions& lo, const std::vector<std::string>& argv);

// compose_watch.cpp
extern const Command kComposeWatch;
int compose_watch(Ctx& ctx, const compose::LoadOptions& lo, const std::vector<std::string>& argv);
struct WatchOptions {
  bool quiet = false;  // no build output
  bool prune = true;   // the images a rebuild left dangling removed
};
// Throws ExitError when the services' develop.watch rules are refused, or none has any.
void check_watch(const Project& proj, const std::vector<std::string>& services);
// Acts on the services' develop.watch rules until `stop` returns true (asked every 100 ms).
int watch_project(Ctx& ctx, const compose::LoadOptions& lo, const Project& proj, const std::vector<std::string>& services,
                  const WatchOptions& o, const std::function<bool()>& stop);

// compose_ops.cpp: the helpers.
extern std::mutex g_out;  // held while a line goes out (stdout and stderr are shared by threads)
// The project, its warnings printed.
Project load(const compose::LoadOptions& lo);
// A Compose v2 progress line on stderr: " Container p-s-1  Started".
void progress(const std::string& kind, const std::string& name, const std::string& state);
std::string label_filter(const std::vector<std::string>& labels);
// The label `key` of a container as /containers/json lists it, "" when it has none.
std::string label(const json& c, const char* key);
// The project's containers (one-off ones left out unless `oneoff`), sorted by name.
std::vector<json> project_containers(Ctx& ctx, const std::string& project, bool all, bool oneoff = false);
// A listed container's name without its '/'.
std::string cname(const json& c);
// The services the command names (checked), else all of them.
std::vector<std::string> selected(const Project& proj, const std::vector<std::string>& args);
// `wanted` and everything it depends on, transitively.
std::set<std::string> with_dependencies(const Project& proj, const std::vector<std::string>& wanted);
// The services the command names (with what they depend on for --include-deps), else all.
std::vector<std::string> selected_with_deps(const Project& proj, const std::vector<std::string>& args, bool deps);
// The project's containers of the selected services, in start order.
std::vector<json> selected_containers(Ctx& ctx, const Project& proj, const std::vector<std::string>& args, bool all);
// The networks `used` (keys), made when missing, made anew when their definition changed; their
// engine name → id.
std::map<std::string, std::string> ensure_networks(Ctx& ctx, const Project& proj, const std::set<std::string>& used);
// The project's volumes made when missing; one whose definition changed made anew when confirmed
// (remove_diverged_volume(); `assume_yes`: up/create -y). Whether containers were removed for it.
bool ensure_volumes(Ctx& ctx, const Project& proj, bool assume_yes = false);
// `old_volumes`: the anonymous volumes a recreated container hands on (target, name).
std::string create_container(Ctx& ctx, const Project& proj, const std::string& service, int number,
                             const std::string& image_id,
                             const std::vector<std::pair<std::string, std::string>>& old_volumes = {});
// A planned container made: the plan completed (compose_create.h: references, secrets), created,
// connected to its other networks, its files copied in; returns its id.
std::string create_planned(Ctx& ctx, const Project& proj, const std::string& service, int number,
                           compose::CreatePlan& plan);
// "?t=N" for --timeout, else "".
std::string stop_query(const Parsed& p);
// Waits for what `service` needs of each dependency's containers before it starts.
void wait_dependencies(Ctx& ctx, const Project& proj, const std::string& service,
                       const std::map<std::string, std::vector<std::string>>& ids);
// --wait: each container running, and healthy when it has a healthcheck; an exit or "unhealthy"
// fails; `timeout_s` 0 waits without a limit.
void wait_ready(Ctx& ctx, const std::map<std::string, std::vector<std::string>>& ids, int timeout_s);
// Writes `data` line by line with `prefix` before each line; a partial last line waits in `pending`.
void prefixed(const std::string& prefix, std::string& pending, std::string_view data, FILE* to);
// Compose v2's log prefix ("web-1  | "), padded to `width`, coloured in turn by `index`.
std::string log_prefix(const std::string& shown, std::size_t width, std::size_t index, bool color);
// A container's logs (GET /containers/ID/logs?`query`), each line after `prefix`, to stdout and
// stderr as the container wrote them.
void stream_logs(Ctx& ctx, const std::string& id, const std::string& prefix, const std::string& query);

// Runs fn on each item in threads of its own (the client is shared: one connection a request);
// rethrows the first error once all are done.
template <typename T, typename F>
void in_parallel(const std::vector<T>& items, F fn) {
  std::vector<std::exception_ptr> errors(items.size());
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < items.size(); ++i)
    threads.emplace_back([&, i] {
      try {
        fn(items[i]);
      } catch (...) {
        errors[i] = std::current_exception();
      }
    });
  for (auto& t : threads) t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace hoist::cli::composecmd
