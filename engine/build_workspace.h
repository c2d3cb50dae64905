// One build's room in the engine: its directory (under the image store's tmp/, gone with the
// build), its context (extracted there) and the containers its steps make.
//
// A step's container is made from its parent image (an empty image of the build's own for
// scratch) with the label io.hoist.build (those an interrupted build left are removed when the
// build service starts), HostConfig as the step asks, never started unless it is a RUN's. A
// tree a step reads from (COPY --from, RUN --mount from=) is the root file system of a container
// of the stage's or image's that never starts, leased while the step holds it.
//
// A step's container whose work is done (committed) is removed on a thread of the workspace's
// own (remove_later), so that its unmount and deletion overlap the next steps; the workspace
// waits for every such removal before it goes, so none outlives the build's answer.
//
// cancel(): another stage failed; the RUN containers running now are killed and every later
// run_container() refuses to start (Cancelled).
#pragma once
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "builder/executor.h"
#include "builder/planner.h"
#include "common/digest.h"
#include "common/error.h"
#include "engine/build_options.h"
#include "engine/build_sources.h"
#include "engine/containers/container_fs.h"
#include "engine/containers/manager.h"
#include "image/store.h"

namespace hoist::engine {

class Daemon;
class ContainerService;

// The label of a build's containers (never in an image: a step's image has the step's config).
inline constexpr const char* kBuildLabel = "io.hoist.build";

// A step stopped because another stage of its build failed.
class Cancelled : public Error {
 public:
  Cancelled() : Error("build: stopped (another stage failed)") {}
};

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
  void release();

 private:
  ContainerService& svc_;
  std::string id_;
};

// A tree to read from: the root of a stage's or an image's file system, held mounted by a
// container of it that never starts.
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

class BuildWorkspace {
 public:
  BuildWorkspace(Daemon& d, ContainerService& svc, const BuildOptions& opts, const BuildOutput& out, std::string dir);
  ~BuildWorkspace();  // waits for remove_later's removals, removes the scratch image
  BuildWorkspace(const BuildWorkspace&) = delete;
  BuildWorkspace& operator=(const BuildWorkspace&) = delete;

  Daemon& daemon() { return d_; }
  ContainerService& containers() { return svc_; }
  ContainerManager& manager();
  image::Store& store();
  const BuildOptions& options() const { return opts_; }
  const std::string& dir() const { return dir_; }

  // The context, once extracted (build_context.h), and what hoist's CLI said of its files.
  void set_context(std::unique_ptr<SourceTree> tree, const ContextStats* stats);
  const SourceTree& context() const { return *context_; }
  const ContextStats* stats() const { return stats_; }

  // A new path in the build's directory (nothing made there), "<dir>/part-N".
  std::string new_path();
  // A new directory of the build's own (for a heredoc's or a download's file), "<dir>/src-N".
  std::string own_dir();

  // A container (never started unless it is a RUN's) on `parent` (nullopt: scratch) with
  // `config` (Docker's container config; Image and the build label are set here).
  std::string make_container(const std::optional<Digest>& parent, nlohmann::json config, const std::string& network,
                             const nlohmann::json& host_config = nlohmann::json::object());
  // Holds the root of `image` (nullopt: scratch) in `h`; returns the tree.
  const SourceTree* hold_root(const std::optional<Digest>& image, TreeHold& h);

  // RUN: starts the container, its output to `out` as it comes (stderr in red, as the classic
  // builder's), returns its exit code. Throws Cancelled after cancel().
  int run_container(const std::string& id, builder::Output& out);
  // A kept container (a failed RUN's) is not one an interrupted build left: its build label
  // goes, so the service's start leaves it.
  void keep_container(const std::string& id);

  // Removes the container `id` (a step's, committed or not needed any more) on the workspace's
  // removal thread.
  void remove_later(std::string id);
  // Returns once every remove_later removal so far is done.
  void wait_removals();

  void cancel();
  bool cancelled() const { return cancelled_; }

  // A pull's or a download's progress, in the stage's output.
  void progress(builder::Output& out, const image::ProgressEvent& e);

 private:
  Digest container_image(const std::optional<Digest>& parent);

  Daemon& d_;
  ContainerService& svc_;
  const BuildOptions& opts_;
  const BuildOutput& out_;
  std::string dir_;
  std::unique_ptr<SourceTree> context_;
  const ContextStats* stats_ = nullptr;
  std::atomic<int> seq_{0};
  std::mutex mu_;
  std::optional<Digest> scratch_;  // an empty image to make containers on scratch from
  std::set<std::string> running_;  // RUN containers started and not yet waited for
  std::atomic<bool> cancelled_{false};
  // remove_later's queue and thread (started at the first removal, joined by the destructor).
  void reap();
  std::mutex reap_join_mu_;  // guards reaper_ (its start and its join)
  std::mutex reap_mu_;
  std::condition_variable reap_cv_;
  std::deque<std::string> reap_queue_;
  bool reap_stop_ = false;
  std::thread reaper_;
};

// Extracts the tar made by `fill` (which writes it into an fd) at "/" of the view: through a
// pipe, `fill` on a thread of its own, so the tar is never stored.
void extract_made(const ContainerFs& fs, const std::function<void(int)>& fill, const CopyInOptions& opts = {});

// The trees one step reads: the context, a stage's image (the builder's StageImages), or an image
// by name, pulled when missing (`pull`).
struct StepTrees {
  BuildWorkspace& ws;
  const builder::StageImages& stages;
  std::function<Digest(const std::string& image)> pull;
  // The tree `ref` names, held in `h` while it is needed (the context needs no hold).
  const SourceTree* hold(const builder::SourceRef& ref, TreeHold& h) const;
};

// Path helpers of the build's files.
std::string rel_of(const std::string& abs);       // "/a/b" → "a/b", "/" → ""
std::string base_name(const std::string& p);
std::string parent_path(const std::string& abs);  // "/a/b" → "/a", "/a" → "/"

}  // namespace hoist::engine
