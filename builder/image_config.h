// The part of an image's config ("config" of the image JSON, Docker's container.Config) that a
// Dockerfile changes, as plain values; every other field is kept as it came.
#pragma once
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "builder/instructions.h"

namespace hoist::builder {

struct ImageConfig {
  std::string user, working_dir, stop_signal;
  std::vector<std::string> env;                       // KEY=value
  std::optional<std::vector<std::string>> cmd, entrypoint, shell, on_build;  // nullopt: null
  std::optional<HealthConfig> healthcheck;
  std::optional<std::set<std::string>> exposed_ports, volumes;  // "80/tcp"; paths
  std::optional<std::map<std::string, std::string>> labels;
  bool args_escaped = false;
  std::string others = "{}";  // the fields above do not hold, as a JSON object

  // From / to the JSON of a "config" object (null or "" is the empty config). Throws
  // InvalidArgument for a config that is not an object or has a field of the wrong type.
  static ImageConfig from_json(std::string_view text);
  std::string to_json() const;

  // KEY's value in env, if set.
  std::optional<std::string> getenv(std::string_view key) const;
  // Sets KEY (replacing its entry, or appending).
  void setenv(const std::string& key, const std::string& value);

  friend bool operator==(const ImageConfig&, const ImageConfig&);
};

bool operator==(const HealthConfig& a, const HealthConfig& b);

}  // namespace hoist::builder
