// The engine's executor of build steps (see build_executor.h).
#include "engine/build_executor.h"

#include "engine/build_platform.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "builder/history.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/strings.h"
#include "engine/api/routes.h"
#include "engine/build_copy.h"
#include "engine/build_resources.h"
#include "engine/container_service.h"
#include "engine/containers/container_changes.h"
#include "engine/containers/rootfs_mount.h"
#include "engine/daemon.h"
#include "image/commit.h"
#include "image/layer_internal.h"
#include "image/pull.h"
#include "image/reference.h"

namespace hoist::engine {

namespace {

using builder::Step;
using nlohmann::json;

std::string short_id(const std::string& id) {
  std::string hex = id.rfind("sha256:", 0) == 0 ? id.substr(7) : id;
  return hex.substr(0, 12);
}

// The image config the step's commit writes: the step's config (and the container's, with the
// command the step recorded), as dockerd's classic builder writes them.
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

// One step, its inputs held (see builder::PreparedStep).
class EngineStep : public builder::PreparedStep {
 public:
  EngineStep(BuildExecutor& exec, const Step& s) : exec_(exec), ws_(exec.workspace()), s_(s) {}

  void prepare(const StepTrees& trees, builder::Output& out) {
    if (s_.action == Step::Action::Copy) {
      find_sources(trees, s_, cs_, out);
      for (auto& r : cs_.list) cs_.hashes.push_back(r.hash);
      hashes_ = cs_.hashes;
    }
    if (s_.action == Step::Action::Run) resolve_mounts(trees, s_, rm_, hashes_);
  }

  const std::vector<std::string>& content_hashes() const override { return hashes_; }

  std::string execute(const builder::StepCommit& commit, builder::Output& out) override;

 private:
  image::Store& store() { return ws_.store(); }
  ContainerManager& manager() { return ws_.manager(); }
  // COPY --link: the layer of an image made before under the step's link key, if there is one
  // (overlay snapshots only: their layers are diffs, whatever the parent).
  std::optional<image::ChangeSource> linked_layer(const std::string& link_key);

  BuildExecutor& exec_;
  BuildWorkspace& ws_;
  Step s_;
  CopySources cs_;
  RunMounts rm_;
  std::vector<std::string> hashes_;
};

std::optional<image::ChangeSource> EngineStep::linked_layer(const std::string& link_key) {
  if (link_key.empty() || store().mode() != image::SnapshotMode::Overlay) return std::nullopt;
  auto hit = exec_.cache().get(link_key);
  if (!hit) return std::nullopt;
  try {
    image::ImageRecord rec = store().resolve(*hit);
    std::size_t below = rec.parent ? store().resolve(rec.parent->str()).layers.size() : 0;
    if (rec.layers.size() == below + 1) return image::ChangeSource{store().layer_paths(rec).back(), false, {}};
  } catch (const std::exception& e) {
    log::debug(std::string("build: --link layer of ") + *hit + ": " + e.what());
  }
  return std::nullopt;
}

std::string EngineStep::execute(const builder::StepCommit& commit, builder::Output& out) {
  const Step& s = s_;
  const builder::Instruction& in = s.instruction;
  const BuildOptions& opts = ws_.options();
  if (ws_.cancelled()) throw Cancelled();
  long long t0 = monotonic_ms();
  std::optional<Digest> parent;
  if (commit.parent) parent = Digest::parse(*commit.parent);
  bool link = s.action == Step::Action::Copy && in.link;
  std::optional<image::ChangeSource> linked = linked_layer(commit.link_key);

  json config = json::parse(s.config.to_json());
  bool visible = s.action == Step::Action::Run || s.action == Step::Action::Config || s.action == Step::Action::Workdir;
  std::string network = "none";
  if (s.action == Step::Action::Run) {
    config["Cmd"] = s.argv;
    config["Entrypoint"] = json::array({""});
    prepare_mounts(ws_, exec_.cache_mounts(), s, rm_);
    config["Env"] = s.env;
    config["User"] = s.user;
    config["WorkingDir"] = s.workdir;
    network = in.network == "none" ? "none" : in.network == "host" ? "host" : opts.network_mode;
  } else {
    config["Cmd"] = commit.container_cmd;
    config["Entrypoint"] = json::array({""});
  }
  config["Healthcheck"] = json{{"Test", json::array({"NONE"})}};  // no health checks in a build's containers
  json hc = json::parse(step_host_config_json(opts.resources));  // build_resources.h
  // RUN --security=insecure (the runner checked the entitlement): a privileged container.
  if (s.action == Step::Action::Run && in.security == "insecure") hc["Privileged"] = true;
  if (!rm_.mounts.empty()) hc["Mounts"] = rm_.mounts;
  if (!rm_.tmpfs.empty()) hc["Tmpfs"] = rm_.tmpfs;
  ContainerGuard c(ws_.containers(), ws_.make_container(parent, config, network, hc));
  // Secrets as env= reach the process only: never the container's record or inspect.
  if (!rm_.env.empty()) ws_.containers().set_start_env(c.id(), rm_.env);
  std::unique_ptr<ContainerGuard> link_container;  // --link: the empty root the copy goes into
  long long t_made = monotonic_ms();
  if (visible) out.text(" ---> Running in " + c.id().substr(0, 12) + "\n");
  switch (s.action) {
    case Step::Action::Run: {
      // The empty files the runtime makes to mount files on are not the step's (BuildKit's
      // layers have no such stub): those that were not there go after the run, and so do the
      // directories made for them (/run/buildkit/ of an ssh mount) when they are left empty.
      std::vector<std::string> stubs, stub_dirs;  // stub_dirs: deepest first per stub
      if (!rm_.file_targets.empty()) {
        auto lease = manager().lease_rootfs(c.id());
        SourceTree root(image::layer_detail::proc_fd_path(lease.fd()));
        for (const std::string& t : rm_.file_targets) {
          UniqueFd f(root.open(rel_of(t), O_PATH | O_NOFOLLOW));
          if (f) continue;
          stubs.push_back(t);
          for (std::string d = parent_path(t); d != "/" && !d.empty(); d = parent_path(d)) {
            if (UniqueFd(root.open(rel_of(d), O_PATH | O_NOFOLLOW))) break;
            stub_dirs.push_back(d);
          }
        }
      }
      int code = ws_.run_container(c.id(), out);
      if (ws_.cancelled()) throw Cancelled();  // the container goes with `c`
      if (!stubs.empty()) {
        auto lease = manager().lease_rootfs(c.id());
        SourceTree root(image::layer_detail::proc_fd_path(lease.fd()));
        for (const std::string& t : stubs) {
          UniqueFd dir(root.open(rel_of(parent_path(t)), O_PATH | O_DIRECTORY));
          struct stat st {};
          if (dir && ::fstatat(dir.get(), base_name(t).c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
              st.st_size == 0)
            ::unlinkat(dir.get(), base_name(t).c_str(), 0);
        }
        for (const std::string& d : stub_dirs) {
          UniqueFd up(root.open(rel_of(parent_path(d)), O_PATH | O_DIRECTORY));
          if (up) ::unlinkat(up.get(), base_name(d).c_str(), AT_REMOVEDIR);  // fails when not empty: kept
        }
      }
      if (code != 0) {
        // dockerd's classic builder keeps a failed RUN's container unless forcerm.
        if (opts.forcerm) {
          out.text("Removing intermediate container " + short_id(c.id()) + "\n");
          c.release();
        } else {
          ws_.keep_container(c.id());
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
        link_container =
            std::make_unique<ContainerGuard>(ws_.containers(), ws_.make_container(std::nullopt, config, "none"));
        copy_into(ws_, link_container->id(), s, cs_, c.id());
      } else {
        copy_into(ws_, c.id(), s, cs_);
      }
      break;
    case Step::Action::Workdir:
      make_workdir(ws_, c.id(), s.dir);
      break;
    case Step::Action::Config:
      break;
  }
  // The source container goes before the commit.
  cs_.release();
  rm_.release();
  long long t_done = monotonic_ms();

  image::CommitInput ci;
  ci.parent = parent;
  if (linked) {
    ci.changes = linked;
  } else if (s.action != Step::Action::Config) {
    ContainerRecord r = manager().inspect(link_container ? link_container->id() : c.id());
    std::string dir = manager().container_dir(r.id);
    ci.changes = container_change_source(r, dir);
    // The step's container goes after the commit, never mounted again: its upper directory can
    // become the layer's snapshot.
    if (ci.changes && !is_mounted(dir + "/rootfs")) ci.changes->movable = true;
  }
  ci.created_by = commit.history.created_by;
  ci.author = commit.history.author;
  ci.config_json = commit_config(s, parent, c.id(), commit.container_cmd);
  ci.compression = image::LayerCompression::None;
  Digest id = image::commit_image(store(), ci).record.id;
  exec_.made(id);
  long long t_commit = monotonic_ms();
  std::string cid = c.id();
  c.keep();
  ws_.remove_later(cid);
  log::debug("build step " + std::string(builder::kind_name(in.kind)) + ": container " + std::to_string(t_made - t0) +
             " ms, " + (s.action == Step::Action::Run ? "run " : "write ") + std::to_string(t_done - t_made) +
             " ms, commit " + std::to_string(t_commit - t_done) + " ms, removal " +
             std::to_string(monotonic_ms() - t_commit) + " ms");
  if (visible && (opts.rm || opts.forcerm)) out.text("Removing intermediate container " + short_id(cid) + "\n");
  return id.str();
}

}  // namespace

BuildExecutor::BuildExecutor(BuildWorkspace& ws, BuildCache::Session& cache, CacheMounts& cache_mounts,
                             CacheFrom* cache_from)
    : ws_(ws), cache_(cache), cache_mounts_(cache_mounts), cache_from_(cache_from) {}

BuildExecutor::~BuildExecutor() { finish(std::nullopt); }

image::ImageRecord BuildExecutor::pull_if_needed(const std::string& name, builder::Output& out,
                                                 const std::optional<builder::Platform>& platform) {
  const BuildOptions& opts = ws_.options();
  image::Store& store = ws_.store();
  // One resolution of a name at a time: a stage that names an image another stage is pulling
  // finds it in the store afterwards (as when the stages ran one after the other).
  std::shared_ptr<std::mutex> m;
  {
    std::lock_guard lk(mu_);
    auto& p = pulls_[name];
    if (!p) p = std::make_shared<std::mutex>();
    m = p;
  }
  std::lock_guard one(*m);
  bool pulled;
  {
    std::lock_guard lk(mu_);
    pulled = pulled_.count(name) > 0;
  }
  if (!opts.pull || pulled) {
    try {
      return store.resolve(name);
    } catch (const NotFound&) {
    }
  }
  image::Reference ref;
  try {
    ref = image::Reference::parse(name);
  } catch (const std::exception&) {
    return store.resolve(name);  // an id, or a name that is not a reference: as the store says
  }
  if (ref.tag.empty() && !ref.digest) ref.tag = "latest";
  Daemon& d = ws_.daemon();
  image::RegistrySettings settings = opts.registry ? opts.registry(ref.domain) : d.registry_settings();
  image::ProgressFn progress = [&](const image::ProgressEvent& e) { ws_.progress(out, e); };
  image::PullResult r;
  image::PullOptions pull_opts;
  if (platform) pull_opts.platform = to_image_platform(*platform);
  try {
    r = image::pull_image(store, settings, ref, pull_opts, progress);
  } catch (const image::RegistryError& e) {
    if (e.status() == 404 || e.status() == 401) throw NotFound(e.what());
    throw;
  }
  progress({"", "Digest: " + r.digest.str(), 0, 0});
  progress(
      {"", (r.updated ? "Status: Downloaded newer image for " : "Status: Image is up to date for ") + ref.familiar(), 0, 0});
  d.publish_image_event("pull", ref.familiar(), ref.familiar());
  std::lock_guard lk(mu_);
  pulled_.insert(name);
  return r.image;
}

builder::BaseImage BuildExecutor::base_image(const std::string& name, const std::optional<builder::Platform>& platform,
                                             builder::Output& out) {
  image::ImageRecord rec = pull_if_needed(name, out, platform);
  builder::BaseImage b;
  b.id = rec.id.str();
  json config = image_config_of(ws_.daemon(), rec.id.str());
  if (platform) check_image_platform(name, *platform, config);
  b.config = builder::ImageConfig::from_json(config.dump());
  return b;
}

void BuildExecutor::scratch(const builder::Platform& platform) { check_scratch_platform(platform); }

std::optional<std::string> BuildExecutor::cached(const std::string& key) {
  auto hit = cache_.get(key);
  if (!hit) return std::nullopt;
  std::optional<Digest> id;
  try {
    id = Digest::parse(*hit);
  } catch (const std::exception&) {
  }
  bool there = id && ws_.store().get(*id);
  // With --cache-from, a local entry counts only when a source vouches for it (dockerd's isParent).
  if (there && (!cache_from_ || cache_from_->vouches(*id))) return id->str();
  if (!there) cache_.drop(key);
  return std::nullopt;
}

std::optional<std::string> BuildExecutor::from_cache_sources(const builder::Step& s, const builder::StepCommit& c) {
  if (!cache_from_) return std::nullopt;
  json config = config_view(json::parse(s.config.to_json()));
  config["Image"] = c.parent.value_or("");
  config["Cmd"] = c.container_cmd;  // dockerd's restored image has the probe's config
  std::optional<Digest> parent;
  if (c.parent) parent = Digest::parse(*c.parent);
  auto id = cache_from_->probe(parent, c.history.created_by, json{{"config", config}}.dump());
  if (!id) return std::nullopt;
  return id->str();
}

void BuildExecutor::remember(const std::string& key, const std::string& image_id) {
  cache_.put(key, image_id);
  std::lock_guard lk(mu_);
  remembered_.insert(image_id);
}

void BuildExecutor::made(const Digest& id) {
  std::lock_guard lk(mu_);
  made_.push_back(id);
}

std::unique_ptr<builder::PreparedStep> BuildExecutor::prepare(const builder::Step& step,
                                                              const builder::StageImages& stages,
                                                              builder::Output& out) {
  long long t0 = monotonic_ms();
  auto s = std::make_unique<EngineStep>(*this, step);
  StepTrees trees{ws_, stages, [this, &out](const std::string& name) { return pull_if_needed(name, out).id; }};
  s->prepare(trees, out);
  if (long long ms = monotonic_ms() - t0; ms > 0)
    log::debug("build step " + std::string(builder::kind_name(step.instruction.kind)) + ": inputs " +
               std::to_string(ms) + " ms");
  return s;
}

void BuildExecutor::cancel() { ws_.cancel(); }

void BuildExecutor::finish(const std::optional<std::string>& result) {
  ws_.wait_removals();  // the steps' containers go before their images
  std::vector<Digest> made;
  {
    std::lock_guard lk(mu_);
    if (finished_) return;
    finished_ = true;
    for (const Digest& id : made_)
      if (!remembered_.count(id.str()) && (!result || *result != id.str())) made.push_back(id);
  }
  for (const Digest& id : made) {
    try {
      ws_.store().remove(id.str(), true);
    } catch (const std::exception&) {
    }
  }
}

}  // namespace hoist::engine
