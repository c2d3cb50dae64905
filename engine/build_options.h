// What a Dockerfile build is asked (the API's /build options) and where its output goes: the
// options and the output of BuildService::build, shared by the files that run a build
// (build_service.h describes the build).
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "engine/build_resources.h"
#include "image/install.h"
#include "image/registry.h"

namespace hoist::engine {

class SshSession;

struct BuildOptions {
  std::string dockerfile = "Dockerfile";  // its path in the context
  std::vector<std::string> tags;          // references, checked before anything runs
  bool nocache = false;
  bool rm = true, forcerm = false;        // forcerm: a failed RUN's container goes too
  std::map<std::string, std::optional<std::string>> build_args;
  std::map<std::string, std::string> labels;
  std::string target;
  // The platform built for, normalised ("linux/arm64"; engine/build_platform.h); "": the host's.
  std::string platform;
  std::string network_mode = "default";   // RUN's network: default (bridge) or none
  // The name of the context's entry (top level) in which hoist's CLI describes the context's files
  // (header X-Hoist-Context-Stat; engine/build_sources.h ContextStats): read, then removed.
  std::string context_stat_entry;
  // X-Hoist-Context-Cache ("KEY TOKEN", build_context_cache.h): the body holds only what the
  // kept copy of the context lacks; empty: the body is the whole context.
  std::string context_cache;
  std::map<std::string, std::string> secrets;  // RUN --mount=type=secret: id → the secret's bytes
  // RUN --mount=type=ssh: the client's session (header X-Hoist-Build-Session, build_ssh.h); null:
  // the client forwards no ssh id.
  std::shared_ptr<SshSession> ssh;
  // The entitlement security.insecure (header X-Hoist-Build-Entitlements): RUN --security=insecure
  // runs privileged; without it such a RUN fails.
  bool allow_insecure = false;
  bool pull = false;                      // pull every base image, even one in the store
  BuildResources resources;               // every step container's limits, hosts, cgroup parent
  std::vector<std::string> cache_from;    // images whose history serves as cache (build_cache.h CacheFrom)
  // An http(s) URL the context is fetched from instead of the body: a tar (plain or compressed),
  // or else a Dockerfile alone (dockerd's rule); or a git repository (dockerd's test of the URL),
  // cloned (build_git.h).
  std::string remote;
  // The registry settings (credentials) for a registry host; unset: the daemon's.
  std::function<image::RegistrySettings(const std::string& host)> registry;
};

struct BuildOutput {
  std::function<void(std::string_view text)> stream;  // the builder's text, as it comes
  std::function<void(const std::string& image_id)> aux;
  // A pull's or a download's progress message (the API's {"status":...,"id":...}).
  std::function<void(const image::ProgressEvent& e)> progress;
  // A message of the API's stream given whole (a JSON object's text), for those dockerd writes
  // in a shape of their own (a remote context's download).
  std::function<void(const std::string& json)> message;
};

// A RUN step that exited with a non-zero code (dockerd's message; the code for errorDetail).
class StepFailed : public Error {
 public:
  StepFailed(const std::string& msg, int code) : Error(msg), code_(code) {}
  int code() const { return code_; }

 private:
  int code_;
};

}  // namespace hoist::engine
