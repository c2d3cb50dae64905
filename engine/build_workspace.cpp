// One build's directory, context and containers (see build_workspace.h).
#include "engine/build_workspace.h"

#include <fcntl.h>
#include <unistd.h>

#include <exception>
#include <thread>
#include <vector>

#include "builder/go_match.h"
#include "common/file.h"
#include "common/log.h"
#include "engine/container_service.h"
#include "engine/daemon.h"
#include "image/commit.h"
#include "image/install.h"
#include "image/layer_internal.h"

namespace hoist::engine {

using nlohmann::json;

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

void ContainerGuard::release() {
  if (id_.empty()) return;
  try {
    svc_.remove(id_, true, true);
  } catch (const std::exception& e) {
    log::warn("build: remove intermediate container " + id_.substr(0, 12) + ": " + e.what());
  }
  id_.clear();
}

BuildWorkspace::BuildWorkspace(Daemon& d, ContainerService& svc, const BuildOptions& opts, const BuildOutput& out,
                               std::string dir)
    : d_(d), svc_(svc), opts_(opts), out_(out), dir_(std::move(dir)) {}

BuildWorkspace::~BuildWorkspace() {
  wait_removals();
  if (scratch_) {
    try {
      store().remove(scratch_->str(), true);
    } catch (const std::exception& e) {
      log::debug(std::string("build: remove the scratch image: ") + e.what());
    }
  }
}

void BuildWorkspace::remove_later(std::string id) {
  std::lock_guard one(reap_join_mu_);
  {
    std::lock_guard lk(reap_mu_);
    reap_queue_.push_back(std::move(id));
    if (!reaper_.joinable()) reaper_ = std::thread([this] { reap(); });
  }
  reap_cv_.notify_one();
}

void BuildWorkspace::wait_removals() {
  std::lock_guard one(reap_join_mu_);
  if (!reaper_.joinable()) return;
  {
    std::lock_guard lk(reap_mu_);
    reap_stop_ = true;
  }
  reap_cv_.notify_one();
  reaper_.join();
  std::lock_guard lk(reap_mu_);
  reap_stop_ = false;
}

void BuildWorkspace::reap() {
  std::unique_lock lk(reap_mu_);
  for (;;) {
    reap_cv_.wait(lk, [this] { return reap_stop_ || !reap_queue_.empty(); });
    if (reap_queue_.empty()) return;  // stopping, nothing left
    std::string id = std::move(reap_queue_.front());
    reap_queue_.pop_front();
    lk.unlock();
    ContainerGuard(svc_, std::move(id)).release();
    lk.lock();
  }
}

ContainerManager& BuildWorkspace::manager() { return svc_.manager(); }
image::Store& BuildWorkspace::store() { return d_.store(); }

void BuildWorkspace::set_context(std::unique_ptr<SourceTree> tree, const ContextStats* stats) {
  context_ = std::move(tree);
  stats_ = stats;
}

std::string BuildWorkspace::new_path() { return dir_ + "/part-" + std::to_string(++seq_); }

std::string BuildWorkspace::own_dir() {
  std::string d = dir_ + "/src-" + std::to_string(++seq_);
  mkdir_all(d, 0755);
  return d;
}

Digest BuildWorkspace::container_image(const std::optional<Digest>& parent) {
  if (parent) return *parent;
  std::lock_guard lk(mu_);
  if (!scratch_) {
    image::CommitInput in;
    in.config_json = json{{"config", json::object()}}.dump();
    in.created_by = "hoist build: scratch";
    scratch_ = image::commit_image(store(), in).record.id;
  }
  return *scratch_;
}

std::string BuildWorkspace::make_container(const std::optional<Digest>& parent, json config, const std::string& network,
                                           const json& host_config) {
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
  return svc_.create(p);
}

const SourceTree* BuildWorkspace::hold_root(const std::optional<Digest>& image, TreeHold& h) {
  h.holder = std::make_unique<ContainerGuard>(svc_, make_container(image, json::object(), "none"));
  h.lease.emplace(manager().lease_rootfs(h.holder->id()));
  h.tree = std::make_unique<SourceTree>(image::layer_detail::proc_fd_path(h.lease->fd()));
  return h.tree.get();
}

int BuildWorkspace::run_container(const std::string& id, builder::Output& out) {
  ContainerManager& m = manager();
  {
    std::lock_guard lk(mu_);
    if (cancelled_) throw Cancelled();
    running_.insert(id);
  }
  struct Unlist {
    BuildWorkspace& ws;
    const std::string& id;
    ~Unlist() {
      std::lock_guard lk(ws.mu_);
      ws.running_.erase(id);
    }
  } unlist{*this, id};
  m.expect_attach(id);
  m.start(id);
  if (cancelled_) {  // cancel() came between the listing and the start
    try {
      m.kill(id);
    } catch (const std::exception&) {
    }
  }
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
        if (size && buf[0] == 2) out.text("\x1b[91m" + buf.substr(8, size) + "\x1b[0m");
        else if (size) out.text(std::string_view(buf).substr(8, size));
        buf.erase(0, 8 + size);
      }
    }
  }
  return m.wait(id, WaitCondition::NotRunning);
}

void BuildWorkspace::cancel() {
  std::vector<std::string> running;
  {
    std::lock_guard lk(mu_);
    cancelled_ = true;
    running.assign(running_.begin(), running_.end());
  }
  for (const std::string& id : running) {
    try {
      manager().kill(id);
    } catch (const std::exception& e) {
      log::debug("build: stop " + id.substr(0, 12) + ": " + e.what());
    }
  }
}

void BuildWorkspace::keep_container(const std::string& id) {
  try {
    // As dockerd's kept container: the build's label goes, and with it the cleanup of interrupted
    // builds at hoistd's start passes it by (the config is written atomically; a hoistd killed
    // before that removes it as the container of the build the kill interrupted).
    json config = json::parse(manager().inspect(id).config_json);
    if (config.contains("Labels") && config["Labels"].is_object()) config["Labels"].erase(kBuildLabel);
    manager().set_config(id, config.dump());
  } catch (const std::exception& e) {
    log::warn("build: keep " + id.substr(0, 12) + ": " + e.what());
  }
}

void BuildWorkspace::progress(builder::Output& out, const image::ProgressEvent& e) {
  if (out_.progress) out.post([p = out_.progress, e] { p(e); });
}

void extract_made(const ContainerFs& fs, const std::function<void(int)>& fill, const CopyInOptions& opts) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) throw_sys("pipe2", "build copy");
  UniqueFd rd(p[0]), wr(p[1]);
  // A pipe of 1 MiB (the default limit of fs.pipe-max-size) rather than 64 KiB: a 50 MiB COPY
  // then takes 50 hand-overs between the threads, not 800. Best effort: the default works too.
  ::fcntl(wr.get(), F_SETPIPE_SZ, 1 << 20);
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
    fs.extract("/", image::fd_reader(rd.get(), "build file"), opts);
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

const SourceTree* StepTrees::hold(const builder::SourceRef& ref, TreeHold& h) const {
  if (ref.kind == builder::SourceRef::Context) return &ws.context();
  std::optional<Digest> img;
  if (ref.kind == builder::SourceRef::Stage) {
    if (const std::optional<std::string>& id = stages.at(ref.stage)) img = Digest::parse(*id);
  } else if (ref.kind == builder::SourceRef::Image) {
    img = pull(ref.image);
  }
  return ws.hold_root(img, h);
}

}  // namespace hoist::engine
