// /containers/{id}/archive: the archive API behind `docker cp`. HEAD answers a path's stat in the
// X-Docker-Container-Path-Stat header, GET streams the path as a tar with it, PUT extracts a tar
// into a directory. Paths resolve in the container's view (engine/containers/container_fs.h), on
// running and stopped containers alike (a stopped one's rootfs is mounted for the request, and its
// volumes).
#include <atomic>
#include <memory>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/log.h"
#include "engine/api/routes.h"
#include "engine/container_service.h"
#include "engine/containers/container_fs.h"
#include "engine/containers/manager.h"
#include "engine/containers/oci_spec.h"
#include "engine/volume_service.h"
#include "image/layer_internal.h"

namespace hoist::engine {
namespace {

using json = nlohmann::json;

// dockerd's ArchiveFormValues: the path must be given (its message has no space, as dockerd's).
std::string path_param(const Request& req) {
  std::string path = req.q("path");
  if (path.empty()) throw InvalidArgument("bad parameter: pathcannot be empty");
  return path;
}

// The container's named volumes held mounted for one request, as dockerd mounts them for a copy:
// a volume with options (a tmpfs, a device, a bind) has its device on its directory only while
// someone uses it, so a stopped container's copy would otherwise reach the empty mount point. The
// holder is a user of its own, given back when the request ends (after a crash of hoistd, the
// restart unmounts what no running container uses).
class VolumeHold {
 public:
  VolumeHold(VolumeService* service, const std::vector<volumes::MountPoint>& mounts, const std::string& id) {
    if (!service) return;
    static std::atomic<std::uint64_t> next{0};
    store_ = &service->store();
    user_ = "cp-" + id + "-" + std::to_string(++next);
    try {
      for (const auto& m : mounts) {
        if (m.type != volumes::MountPoint::Type::Volume || m.name.empty()) continue;
        store_->mount(m.name, user_);
        names_.push_back(m.name);
      }
    } catch (...) {
      release();
      throw;
    }
  }
  ~VolumeHold() { release(); }
  VolumeHold(const VolumeHold&) = delete;
  VolumeHold& operator=(const VolumeHold&) = delete;

 private:
  void release() noexcept {
    for (const auto& n : names_) {
      try {
        store_->unmount(n, user_);
      } catch (const std::exception& e) {
        log::warn("volume " + n + ": " + e.what());
      }
    }
    names_.clear();
  }
  volumes::VolumeStore* store_ = nullptr;
  std::string user_;
  std::vector<std::string> names_;
};

// The view of a leased container: its rootfs and mounts, its volumes held mounted.
struct View {
  ContainerManager::RootfsLease lease;
  std::vector<volumes::MountPoint> mounts;
  VolumeHold hold;
  ContainerFs fs;
  View(ContainerManager::RootfsLease l, const json& hc, VolumeService* vs)
      : lease(std::move(l)),
        mounts(record_mounts(lease.record())),
        hold(vs, mounts, lease.record().id),
        fs(lease.fd(), hc.value("ReadonlyRootfs", false), view_mounts(mounts, lease.dir())) {}
};

json host_config(const ContainerRecord& r) {
  json hc = json::parse(r.host_config_json, nullptr, false);
  return hc.is_object() ? hc : json::object();
}

// Runs `fn` and turns a missing path into dockerd's 404.
template <typename F>
auto not_found_as_404(const std::string& path, const std::string& container, F fn) {
  try {
    return fn();
  } catch (const PathNotFound&) {
    throw NotFound("Could not find the file " + path + " in container " + container);
  }
}

}  // namespace

void register_archive_routes(Router& rt, ContainerService& svc) {
  auto& m = svc.manager();

  // The container's view and the stat of the path asked for, in the answer's header.
  auto stat_into = [&m, &svc](Request& req, Response& res) {
    std::string path = path_param(req);
    const std::string& id = req.param("id");
    auto lease = m.lease_rootfs(id);
    json hc = host_config(lease.record());
    auto v = std::make_unique<View>(std::move(lease), hc, svc.volumes());
    PathStat st = not_found_as_404(path, id, [&] { return v->fs.stat(path); });
    res.headers["X-Docker-Container-Path-Stat"] = path_stat_header(st);
    return std::make_pair(std::move(v), path);
  };

  rt.head("/containers/{id}/archive", [stat_into](Request& req, Response& res) {
    // A HEAD answer has no body, errors included (the status says it).
    try {
      stat_into(req, res);
      res.send(200, "", "");
    } catch (const std::exception& e) {
      res.send(status_for(e), "", "application/json");
    }
  });

  rt.get("/containers/{id}/archive", [stat_into](Request& req, Response& res) {
    auto [v, path] = stat_into(req, res);
    Writer* w = nullptr;
    // The head goes out with the first bytes, so an error before them is still a JSON answer.
    v->fs.archive(path, [&](const char* buf, std::size_t len) {
      if (!w) w = &res.stream(200, "application/x-tar");
      if (!w->write(std::string_view(buf, len))) throw Error("archive: the client went away");
    });
    if (!w) res.stream(200, "application/x-tar");
  });

  rt.put("/containers/{id}/archive", [&m, &svc](Request& req, Response& res) {
    std::string path = path_param(req);
    const std::string& id = req.param("id");
    CopyInOptions opts;
    opts.no_overwrite_dir_non_dir = req.qbool("noOverwriteDirNonDir");
    auto lease = m.lease_rootfs(id);
    json hc = host_config(lease.record());
    if (req.qbool("copyUIDGID")) {
      // dockerd's rule: with copyUIDGID and a container user, every entry belongs to that user
      // (resolved in the container's /etc/passwd and /etc/group); without a user, the tar's owners.
      json cfg = json::parse(lease.record().config_json, nullptr, false);
      std::string user = cfg.is_object() ? cfg.value("User", "") : "";
      if (!user.empty()) {
        ResolvedUser u = resolve_user(image::layer_detail::proc_fd_path(lease.fd()), user, {});
        opts.owner = std::make_pair(static_cast<uid_t>(u.uid), static_cast<gid_t>(u.gid));
      }
    }
    View v(std::move(lease), hc, svc.volumes());
    req.unlimited_body();  // extracted as it comes: a tree of any size
    not_found_as_404(path, id, [&] {
      v.fs.extract(path, [&](char* buf, std::size_t len) { return req.read_body_some(buf, len); }, opts);
      return 0;
    });
    res.send(200, "", "");
  });
}

}  // namespace hoist::engine
