// Compose files → the normalised project `docker compose config` prints: discovery, the project
// name and directory, `.env` and --env-file, interpolation, include, extends, the merge of several
// files, profiles, canonical long forms, defaults and validation. Pure: it reads files and the
// environment it is given, and talks to no daemon.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace hoist::compose {

struct LoadOptions {
  std::vector<std::string> files;        // -f (in order); empty: COMPOSE_FILE, else discovery from `cwd` upward
  std::string project_directory;         // --project-directory; default: the first file's directory
  std::string project_name;              // -p
  std::vector<std::string> env_files;    // --env-file (replace the project directory's .env)
  std::vector<std::string> profiles;     // --profile; none: COMPOSE_PROFILES
  std::string cwd;                       // "" = the process's
  std::map<std::string, std::string> environ;  // the shell's environment
  bool resolve_env_files = true;         // a service's env_file read into its environment (and dropped)
};

struct Project {
  std::string name;
  std::string working_dir;
  std::vector<std::string> config_files;          // absolute
  std::map<std::string, std::string> environment;  // interpolation's variables: the shell's over .env's
  std::vector<std::string> warnings;               // for stderr (unset variables, obsolete `version`)
  std::vector<std::string> disabled_services;      // left out by profiles
  std::shared_ptr<const nlohmann::json> model;     // the normalised project (see docs/architecture.md)

  std::vector<std::string> service_names() const;  // sorted
  std::vector<std::string> volume_names() const;   // the top-level volumes' keys, sorted
  // Services in an order that starts each after what it depends on (ties by name).
  std::vector<std::string> start_order() const;
  // `com.docker.compose.config-hash`: sha256 (hex) of the service's normalised JSON with the keys
  // that never need a new container left out (build, pull_policy, scale, deploy.replicas,
  // depends_on, profiles). Throws Error for an unknown service.
  std::string config_hash(const std::string& service) const;
  // `config` output: YAML (default) or JSON, keys ordered as docker compose prints them.
  std::string to_yaml() const;
  std::string to_json() const;
};

// Throws hoist::Error with compose's words, naming the file and key path where it has them.
Project load_project(const LoadOptions& opts);

// compose's project-name normalisation: lower case, only [a-z0-9_-], no leading '_' or '-'.
std::string normalize_project_name(const std::string& s);

}  // namespace hoist::compose
