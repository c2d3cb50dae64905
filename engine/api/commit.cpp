// A container's file system through the API: POST /commit (a new image of the container's
// changes), GET /containers/{id}/changes (`docker diff`) and GET /containers/{id}/export (the whole
// file system as a tar). The layer maker (image/layer_maker.h) reads the changes; the merged file
// system comes from engine/containers/container_changes.h.
#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "builder/config_changes.h"
#include "builder/config_merge.h"
#include "common/error.h"
#include "common/json.h"
#include "common/log.h"
#include "common/strings.h"
#include "engine/api/request_json.h"
#include "engine/api/routes.h"
#include "engine/container_service.h"
#include "engine/containers/container_changes.h"
#include "image/commit.h"
#include "image/layer.h"

namespace hoist::engine {

namespace {

using nlohmann::json;
using image::Reference;

std::string lowered(std::string_view s) {
  std::string out(trim(s));
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// dockerd's CheckForJSON: a body (or any Content-Type at all) must be application/json.
void check_json_content(const Request& req) {
  std::string ct = req.header("content-type");
  if (ct.empty() && (!req.has_body || req.content_length == 0)) return;
  if (lowered(ct.substr(0, ct.find(';'))) == "application/json") return;
  throw InvalidArgument("Content-Type specified (" + ct + ") must be 'application/json'");
}

// The fields of container.Config: a commit body that sets none of them gives no config at all
// (Go leaves the wrapper's embedded *Config nil), and the container's is used.
bool sets_config(const json& body) {
  static const char* const kFields[] = {"Hostname", "Domainname", "User", "AttachStdin", "AttachStdout",
                                        "AttachStderr", "ExposedPorts", "Tty", "OpenStdin", "StdinOnce", "Env",
                                        "Cmd", "Healthcheck", "ArgsEscaped", "Image", "Volumes", "WorkingDir",
                                        "Entrypoint", "NetworkDisabled", "MacAddress", "OnBuild", "Labels",
                                        "StopSignal", "StopTimeout", "Shell"};
  return std::any_of(std::begin(kFields), std::end(kFields), [&](const char* f) { return body.contains(f); });
}

// repo and tag as dockerd's RepoTagReference reads them (the tag defaults to latest).
std::optional<Reference> repo_tag_reference(const std::string& repo, const std::string& tag) {
  if (repo.empty()) return std::nullopt;
  Reference ref;
  try {
    ref = Reference::parse(repo);
    if (ref.digest) throw InvalidArgument("cannot create a tag for a digested reference");
    ref = Reference::parse(ref.name() + ":" + (tag.empty() ? "latest" : tag));
  } catch (const InvalidArgument&) {
    throw;
  } catch (const Error& e) {
    throw InvalidArgument(e.what());
  }
  return ref;
}

// The container's Config as dockerd holds it: the create request merged with the image's config
// (what dockerd does at create), the short id as hostname, the image as the user named it.
json container_config(const ContainerRecord& r, const json& image_config) {
  json c = object_or_empty(r.config_json);
  builder::merge_config(c, image_config);
  if (json_str(c, "Hostname").empty()) c["Hostname"] = r.id.substr(0, 12);
  c["Image"] = r.image;
  return c;
}

std::string join_cmd(const json& config) {
  std::string out;
  if (config.contains("Cmd") && config["Cmd"].is_array())
    for (const json& a : config["Cmd"]) {
      if (!out.empty()) out += ' ';
      out += a.is_string() ? a.get<std::string>() : a.dump();
    }
  return out;
}

// Pauses a running container for the duration (dockerd's commit --pause); unpauses it when
// done, also on failure. A container that is not running (or stops meanwhile) is left alone.
class PauseGuard {
 public:
  PauseGuard(ContainerManager& m, const ContainerRecord& r, bool want) : m_(m), id_(r.id) {
    if (!want || r.state != ContainerState::Running) return;
    try {
      m_.pause(id_);
      paused_ = true;
    } catch (const std::exception& e) {
      // dockerd goes on without the pause when it fails (the container stopped meanwhile).
      log::debug("commit: pause " + id_ + ": " + e.what());
    }
  }
  ~PauseGuard() {
    try {
      release();
    } catch (const std::exception& e) {
      log::warn("commit: unpause " + id_ + ": " + e.what());
    }
  }
  PauseGuard(const PauseGuard&) = delete;
  PauseGuard& operator=(const PauseGuard&) = delete;
  void release() {
    if (!paused_) return;
    paused_ = false;
    m_.unpause(id_);
  }

 private:
  ContainerManager& m_;
  std::string id_;
  bool paused_ = false;
};

void check_not_dead(const ContainerRecord& r, const std::string& what) {
  if (r.state == ContainerState::Dead) throw Conflict("You cannot " + what + " container " + r.id + " which is Dead");
  if (r.state == ContainerState::Removing)
    throw Conflict("You cannot " + what + " container " + r.id + " which is being removed");
}

void commit(Daemon& d, ContainerService& svc, Request& req, Response& res) {
  check_json_content(req);
  json body = decode_body(req, BodyType::ContainerCreate, true);
  std::optional<Reference> ref = repo_tag_reference(req.q("repo"), req.q("tag"));
  std::string name = req.q("container");
  if (name.empty()) throw InvalidArgument("invalid name or ID supplied: \"\"");
  ContainerManager& m = svc.manager();
  ContainerRecord r = m.inspect(name);
  check_not_dead(r, "commit");

  json base = container_config(r, image_config_of(d, r.image_id));
  json config = base;
  if (sets_config(body)) {
    config = body;
    config.erase("HostConfig");
    config.erase("NetworkingConfig");
  }
  // The --change instructions (400 with dockerd's words), then the container's config under it.
  builder::apply_config_changes(config, query_values(req.target, "changes"));
  builder::merge_config(config, base);

  image::CommitInput in;
  in.parent = Digest::parse(r.image_id);
  in.author = req.q("author");
  in.comment = req.q("comment");
  in.created_by = join_cmd(base);
  json cfg = {{"config", config_view(config)}, {"container", r.id}, {"container_config", config_view(base)}};
  if (!in.author.empty()) cfg["author"] = in.author;
  if (!in.comment.empty()) cfg["comment"] = in.comment;  // inspect's Comment, as dockerd's
  in.config_json = cfg.dump();
  if (ref) in.refs = {*ref};
  // Uncompressed, as dockerd keeps a committed layer: most of a commit's time would otherwise
  // go to compression (bench/commit.sh); push sends it as it is (an OCI tar layer), save as is.
  in.compression = image::LayerCompression::None;

  PauseGuard pause(m, r, req.qbool("pause", true));
  in.changes = container_change_source(r, m.container_dir(r.id));
  image::CommitResult result = image::commit_image(d.store(), in);
  std::string id = result.record.id.str();
  if (ref) d.publish_image_event("tag", id, ref->familiar());
  svc.publish(m.inspect(r.id), "commit",
              {{"comment", in.comment}, {"imageID", id}, {"imageRef", ref ? ref->familiar() : ""}});
  pause.release();
  res.json(201, json{{"Id", id}}.dump());
}

}  // namespace

void register_commit_routes(Router& rt, Daemon& d, ContainerService& svc) {
  rt.post("/commit", [&d, &svc](Request& req, Response& res) { commit(d, svc, req, res); });

  rt.get("/containers/{id}/changes", [&svc](Request& req, Response& res) {
    ContainerManager& m = svc.manager();
    ContainerRecord r = m.inspect(req.param("id"));
    json out = nullptr;  // dockerd's answer when nothing changed
    if (auto src = container_change_source(r, m.container_dir(r.id))) {
      for (const image::Change& c : image::list_changes(*src)) {
        if (out.is_null()) out = json::array();
        out.push_back({{"Path", c.path}, {"Kind", static_cast<int>(c.kind)}});
      }
    }
    res.json(200, out.dump());
  });

  rt.get("/containers/{id}/export", [&svc](Request& req, Response& res) {
    ContainerManager& m = svc.manager();
    ContainerRecord r = m.inspect(req.param("id"));
    check_not_dead(r, "export");
    // The rootfs as cp sees it: mounted already while the container runs, else for the lease.
    auto lease = m.lease_rootfs(r.id);
    Writer& w = res.stream(200, "application/x-tar");
    try {
      image::archive_directory(lease.dir() + "/rootfs", [&w](const char* p, std::size_t n) {
        if (!w.write(std::string_view(p, n))) throw Error("client went away");
      });
    } catch (const std::exception& e) {
      log::warn("export " + r.id + ": " + e.what());
      throw;  // breaks the connection: the client sees a truncated tar
    }
    svc.publish(m.inspect(r.id), "export", {});
  });
}

}  // namespace hoist::engine
