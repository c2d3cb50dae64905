// Dockerfile builds: the context, the plan, the builder's runner with the engine's executor (see
// build_service.h).
#include "engine/build_service.h"

#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "builder/build_runner.h"
#include "builder/planner.h"
#include "common/clock.h"
#include "common/log.h"
#include "engine/build_context.h"
#include "engine/build_executor.h"
#include "engine/build_platform.h"
#include "engine/build_workspace.h"
#include "engine/container_service.h"
#include "engine/daemon.h"
#include "image/reference.h"

namespace hoist::engine {

namespace {

using nlohmann::json;

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

}  // namespace

BuildService::BuildService(Daemon& d, ContainerService& svc)
    : d_(d),
      svc_(svc),
      cache_(d.config().data_root + "/builder/cache.json"),
      cache_mounts_(d.config().data_root + "/builder/cache-mounts"),
      contexts_(d.config().data_root + "/builder/contexts") {
  // What a build that hoistd's end interrupted left: its containers go, found by their label (a
  // failed RUN's container a build kept on purpose has lost it, build_workspace.h).
  for (const ContainerRecord& r : svc_.manager().list()) {
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
  // The marks of kept containers an older hoistd made (the label's removal says as much).
  std::error_code ec;
  std::filesystem::remove_all(d.config().data_root + "/builder/kept", ec);
}

BuildService::~BuildService() = default;

std::string BuildService::build(const BuildOptions& opts, const image::ReadFn& read, const BuildOutput& out) {
  std::vector<image::Reference> refs;
  for (const std::string& t : opts.tags) refs.push_back(parse_tag(t));
  if (opts.network_mode != "default" && opts.network_mode != "none" && opts.network_mode != "bridge" &&
      opts.network_mode != "host")
    throw InvalidArgument("networkmode " + opts.network_mode + " is not supported yet by hoist build (default, none, host)");

  long long t0 = monotonic_ms();
  image::Store::TempDir tmp = d_.store().temp_dir();
  tmp.remove_in_background();  // the context's files go after the answer
  std::string ctx_dir = tmp.path() + "/context";
  std::unique_ptr<ContextCache::Lease> kept_context;  // the context is a kept copy, updated by the body
  if (!opts.context_cache.empty()) {
    if (!opts.remote.empty()) throw InvalidArgument("X-Hoist-Context-Cache: not with a remote context");
    kept_context = contexts_.acquire(opts.context_cache);
    ctx_dir = kept_context->tree();
  }
  BuildContext ctx = read_context(opts, read, out, tmp.path(), ctx_dir, &memo_, [&] {
    if (kept_context) kept_context->complete();
  });
  long long t_context = monotonic_ms();
  BuildWorkspace ws(d_, svc_, opts, out, tmp.path());
  ws.set_context(std::move(ctx.tree), ctx.stats ? &*ctx.stats : nullptr);

  builder::BuildRequest req;
  req.dockerfile = ctx.dockerfile;
  req.target = opts.target;
  req.args.values = opts.build_args;
  req.args.build = host_build_platform();
  req.args.target = opts.platform.empty() ? req.args.build : builder::Platform::parse(opts.platform, req.args.build);
  req.labels = opts.labels;
  std::unique_ptr<builder::Plan> plan = builder::plan_build(req);

  BuildCache::Session session(cache_);  // the entries this build hits or makes: in use until it ends
  std::optional<CacheFrom> cache_from;
  if (!opts.cache_from.empty()) cache_from.emplace(d_.store(), opts.cache_from);
  BuildExecutor exec(ws, session, cache_mounts_, cache_from && !cache_from->empty() ? &*cache_from : nullptr);
  builder::RunOptions ro;
  ro.nocache = opts.nocache;
  ro.platform_asked = !opts.platform.empty();
  ro.allow_insecure = opts.allow_insecure;
  builder::RunOutput ro_out;
  ro_out.text = out.stream;
  ro_out.aux = out.aux;
  std::string id;
  try {
    id = builder::run_build(*plan, exec, ro, ro_out);
  } catch (...) {
    exec.finish(std::nullopt);
    throw;
  }
  long long t_run = monotonic_ms();
  exec.finish(id);
  Digest result = Digest::parse(id);
  for (const image::Reference& ref : refs) {
    d_.store().tag(result, ref);
    d_.publish_image_event("tag", id, ref.familiar());
  }
  for (std::size_t i = plan->dockerfile.warnings.size(); i < plan->warnings.size(); ++i) out.stream(plan->warnings[i]);
  log::debug("build " + result.short_id() + ": context " + std::to_string(t_context - t0) + " ms, steps " +
             std::to_string(t_run - t_context) + " ms, end " + std::to_string(monotonic_ms() - t_run) + " ms");
  return id;
}

}  // namespace hoist::engine
