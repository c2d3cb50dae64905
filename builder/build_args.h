// Build arguments and ARG scoping, as Docker's builder keeps them:
//
// - `--build-arg K=V` values override an ARG's default; an ARG without a default and without a
//   value given is declared but unset;
// - the ARGs before the first FROM are the global scope: FROM (its image and --platform) sees
//   them; inside a stage a global ARG is seen only after `ARG K` re-declares it there (taking the
//   global default when no value was given);
// - predefined args: the proxy variables (HTTP_PROXY, http_proxy, HTTPS_PROXY, https_proxy,
//   FTP_PROXY, ftp_proxy, NO_PROXY, no_proxy) reach RUN when given, without an ARG, but are left
//   out of the history ("|N K=V ...") unless the Dockerfile declares them; the platform args
//   (TARGETPLATFORM, TARGETOS, TARGETARCH, TARGETVARIANT, BUILDPLATFORM, BUILDOS, BUILDARCH,
//   BUILDVARIANT) are set in the global scope and, in a stage, once declared by `ARG`;
// - a value given that no ARG of the build declared is reported with dockerd's warning.
#pragma once
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace hoist::builder {

struct Platform {
  std::string os = "linux", arch = "amd64", variant;
  std::string str() const;  // "linux/amd64", "linux/arm/v7"
  // "linux/arm64/v8" and "linux" (the host's arch then) forms; InvalidArgument otherwise.
  static Platform parse(const std::string& s, const Platform& host);
};

struct BuildArgOptions {
  // --build-arg values; nullopt: named without a value (Docker's nil: the ARG's default stays).
  std::map<std::string, std::optional<std::string>> values;
  Platform target, build;  // the platform built for, and the builder's own
};

bool is_proxy_arg(const std::string& key);
bool is_platform_arg(const std::string& key);

// The global scope.
class GlobalArgs {
 public:
  explicit GlobalArgs(const BuildArgOptions& opts) : opts_(&opts) {}
  // An ARG before FROM, its default already expanded with env().
  void declare(const std::string& key, const std::optional<std::string>& value);
  // The variables FROM sees, KEY=value.
  std::vector<std::string> env() const;
  // A global ARG's default, for a stage's `ARG K` without one.
  std::optional<std::string> default_of(const std::string& key) const;
  const BuildArgOptions& options() const { return *opts_; }

 private:
  const BuildArgOptions* opts_;
  std::vector<std::string> order_;
  std::map<std::string, std::optional<std::string>> defaults_;
};

// One stage's scope.
class StageArgs {
 public:
  explicit StageArgs(const GlobalArgs& global) : global_(&global) {}
  // `ARG K[=default]` in the stage (the default already expanded).
  void declare(const std::string& key, const std::optional<std::string>& value);
  bool declared(const std::string& key) const { return values_.count(key) != 0; }
  // The args a step sees that the config's env does not already set: (key, value), sorted by key.
  std::vector<std::pair<std::string, std::string>> visible(const std::vector<std::string>& env) const;
  // What the history and cache of a RUN record: the visible args less the proxy args the
  // Dockerfile did not declare, "K=V" sorted.
  std::vector<std::string> recorded(const std::vector<std::string>& env) const;

 private:
  std::optional<std::string> value_of(const std::string& key) const;
  const GlobalArgs* global_;
  std::map<std::string, std::optional<std::string>> values_;
};

// The values given that no ARG (global, or of a stage that is built) declared, sorted; proxy args
// never count. `declared`: every ARG key of the build.
std::vector<std::string> unconsumed_build_args(const BuildArgOptions& opts, const std::set<std::string>& declared);

// dockerd's warning for them: "[Warning] One or more build-args [a b] were not consumed\n"; "" if
// none.
std::string unconsumed_warning(const std::vector<std::string>& unconsumed);

}  // namespace hoist::builder
