// What the orchestrator (`hoist compose up/down/ps/...`) sends to and reads from the Docker Engine
// API, as Compose v2 does, computed from the normalised project: names (`<project>-<service>-<n>`,
// `<project>_default`), Compose's labels, the create bodies of networks, volumes and containers,
// and the convergence decisions of `up` (which replicas to keep, start, recreate, create or remove).
// Pure: no HTTP, no daemon. Whatever field of a service the mapping does not carry is refused with
// an Error naming the service and the key, never dropped.
#pragma once
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "cli/compose/project.h"

namespace hoist::compose {

// The Compose version the labels carry (`com.docker.compose.version`): the v2 release whose
// behaviour the orchestrator follows.
extern const char* const kComposeVersion;

// Label keys.
inline constexpr const char* kLabelProject = "com.docker.compose.project";
inline constexpr const char* kLabelService = "com.docker.compose.service";
inline constexpr const char* kLabelNumber = "com.docker.compose.container-number";
inline constexpr const char* kLabelOneoff = "com.docker.compose.oneoff";
inline constexpr const char* kLabelConfigHash = "com.docker.compose.config-hash";
inline constexpr const char* kLabelWorkingDir = "com.docker.compose.project.working_dir";
inline constexpr const char* kLabelConfigFiles = "com.docker.compose.project.config_files";
inline constexpr const char* kLabelDependsOn = "com.docker.compose.depends_on";
inline constexpr const char* kLabelImage = "com.docker.compose.image";
inline constexpr const char* kLabelVersion = "com.docker.compose.version";
inline constexpr const char* kLabelNetwork = "com.docker.compose.network";
inline constexpr const char* kLabelVolume = "com.docker.compose.volume";

// `compose -p NAME down` without a compose file (Compose v2's getProjectWithResources): the
// project as the daemon's resources with its label tell it: a service per com.docker.compose.service
// of `containers` (not one-off ones; image: the container's, depends_on: its depends_on label,
// not required), the networks and volumes listed (by their network/volume label, with their name).
// The JSON arrays of GET /containers/json, /networks and /volumes' "Volumes".
Project project_from_resources(const std::string& name, const nlohmann::json& containers, const nlohmann::json& networks,
                               const nlohmann::json& volumes);

// The service's JSON in the model; Error "no such service: X" when absent.
const nlohmann::json& service_of(const Project& p, const std::string& service);

// `<project>-<service>-<n>`, or the service's `container_name` (which allows one replica only).
std::string container_name(const Project& p, const std::string& service, int number);
// scale, else deploy.replicas, else 1.
int replicas(const Project& p, const std::string& service);
// The services `service` depends on, with their condition (service_started, service_healthy,
// service_completed_successfully), by name.
std::map<std::string, std::string> dependency_conditions(const Project& p, const std::string& service);
// The services in levels: each level's services depend only on earlier levels' (started in
// parallel within a level); a level sorted by name.
std::vector<std::vector<std::string>> start_levels(const Project& p);
// The start order reversed: what depends on a service stops before it.
std::vector<std::string> stop_order(const Project& p);

// The image the service's containers run: `image:`, else `<project>-<service>` (what `build:`
// makes, as Compose v2 names it).
std::string service_image(const Project& p, const std::string& service);
bool has_build(const Project& p, const std::string& service);

// What `compose build` sends to the classic POST /build for a service with `build:`: the context
// directory, the Dockerfile (relative to the context or absolute, or its text for
// dockerfile_inline) and the query after `dockerfile=` (t, buildargs, labels with Compose's
// com.docker.compose.{project,service,version}, target, cachefrom, networkmode, ...), and the
// BuildKit features Hoist's builder has: `secrets` (each the top-level secret's file or environment
// variable, under its target's id, else its source's, as Compose v2 sends them) and `ssh` (values
// as `hoist build --ssh` takes them). BuildKit's other keys (cache_to, additional_contexts, ...)
// are refused with an Error.
struct BuildSecret {
  std::string id;
  std::string file;  // the secret's file, or
  std::string env;   // the environment variable holding it
};
struct BuildPlan {
  std::string image;  // the tag the containers use
  std::string context;
  std::string dockerfile;
  bool has_inline = false;
  std::string dockerfile_inline;
  std::string query;
  std::vector<BuildSecret> secrets;
  std::vector<std::string> ssh;  // "default", "<id>" or "<id>=<path>", as --ssh takes them
};
struct BuildFlags {
  bool no_cache = false;
  bool pull = false;
};
BuildPlan build_plan(const Project& p, const std::string& service, const BuildFlags& flags = {});

// A container's labels: the service's own, then Compose's. `image_id` is the image's id
// (com.docker.compose.image).
std::map<std::string, std::string> container_labels(const Project& p, const std::string& service, int number,
                                                     const std::string& image_id);

// POST /networks/create and /volumes/create bodies of the top-level network / volume `key`
// (not for external ones). Error for a field not mapped.
nlohmann::json network_create_body(const Project& p, const std::string& key);
nlohmann::json volume_create_body(const Project& p, const std::string& key);
// The com.docker.compose.config-hash label of a network / volume compose creates (as Compose
// v2.32 and later label them): sha256 of its normalised definition. `up` recreates a network whose
// label differs (a changed definition), and the containers on it.
std::string network_hash(const Project& p, const std::string& key);
std::string volume_hash(const Project& p, const std::string& key);
bool network_is_external(const Project& p, const std::string& key);
bool volume_is_external(const Project& p, const std::string& key);
// The engine name of the top-level network / volume `key`.
std::string network_name(const Project& p, const std::string& key);
std::string volume_name(const Project& p, const std::string& key);

// The engine names of the project's named volumes the service mounts.
std::vector<std::string> service_volume_names(const Project& p, const std::string& service);

// One network a container joins: the engine's network name and its EndpointSettings.
struct Attachment {
  std::string network;
  std::string endpoint;  // JSON: {Aliases, IPAMConfig}
};

// POST /containers/create's body for replica `number`, and the networks joined after the create
// (the API before 1.44 takes one network at create: the primary, by priority then name).
// `network_mode: service:NAME` and `volumes_from` of a service are left as written in the body:
// resolve_references() names the containers once they exist. `links` are not in it:
// set_links(service_links()) adds them. Secrets and configs of `environment` or `content` are not
// mounts: file_injections() are copied in after the create.
struct CreatePlan {
  std::string name;
  std::string body;  // JSON
  std::vector<Attachment> connect_after;
  std::vector<std::string> warnings;  // Compose's, for stderr (a line each)
};
CreatePlan container_create_plan(const Project& p, const std::string& service, int number,
                                 const std::string& image_id);

// Compose v2's resolution of a service's references to other services' containers: NetworkMode
// `service:NAME` → `container:<ID>`, VolumesFrom `NAME[:MODE]` → `<ID>[:MODE]` and
// `container:NAME[:MODE]` → `NAME[:MODE]`, where ID is `first_container(NAME)`: the id of the
// service's first container, "" when it has none (an Error, as Compose's "cannot share ... with
// service NAME: container missing").
void resolve_references(CreatePlan& plan, const std::function<std::string(const std::string&)>& first_container);

// The legacy links of replica `number` of `service`, as Compose v2 makes them: for each container
// of a linked service (`containers(SERVICE)`: their names), "NAME:ALIAS", "NAME:SERVICE-N" and
// "NAME:<project>-SERVICE-N"; then `external_links` ("CONTAINER:ALIAS").
std::vector<std::string> service_links(const Project& p, const std::string& service, int number,
                                       const std::function<std::vector<std::string>(const std::string&)>& containers);
// The links into the body: HostConfig.Links and each network endpoint's Links (none: unchanged).
void set_links(CreatePlan& plan, const std::vector<std::string>& links);

// A secret (`environment`) or config (`environment` or `content`) copied into a container after
// its create and before its start, as Compose v2's injectSecrets/injectConfigs: a tar of the one
// file, PUT to /containers/ID/archive?path=/ (copyUIDGID when uid or gid is set). Mode 0444 unless
// `mode`. Error naming the variable when the project's environment does not have it.
struct FileInjection {
  std::string target;  // absolute
  std::string content;
  unsigned mode = 0444;
  long uid = 0, gid = 0;
  bool copy_uid_gid = false;
};
std::vector<FileInjection> file_injections(const Project& p, const std::string& service);
// The tar (ustar, the target as its name, as Go's archive/tar writes Compose's) of the injection.
std::string injection_tar(const FileInjection& f, long long mtime_s);

// `compose run`'s one-off container: the service's create plan changed as Compose v2 changes it.
inline constexpr const char* kLabelSlug = "com.docker.compose.slug";
struct RunOptions {
  std::string name;                   // --name; "" = <project>-<service>-run-<slug's first 12>
  std::string slug;                   // 64 hex digits (com.docker.compose.slug)
  std::optional<std::vector<std::string>> command, entrypoint;
  std::vector<std::string> env;       // -e KEY=VALUE (resolved by the caller)
  std::map<std::string, std::string> labels;  // -l
  std::string user, workdir;
  bool tty = false, interactive = true, remove = false;
  bool service_ports = false;         // the service's `ports` published (else none)
  std::vector<std::string> publish;   // -p [IP:][HOST:]CONTAINER[/PROTO]
  bool use_aliases = false;           // the service's network aliases
  std::vector<std::string> cap_add, cap_drop;
  std::vector<std::string> volumes;   // -v SRC:DST[:OPTS] (a relative SRC from the project directory)
};
// --entrypoint's words, split as a POSIX shell would (quotes, backslashes; no expansions).
std::vector<std::string> split_command(const std::string& s);
CreatePlan run_plan(const Project& p, const std::string& service, const RunOptions& o, const std::string& image_id);

// Compose v2's recreate keeps a container's anonymous volumes: each volume of the old container
// (target, volume name) that is not one the plan mounts by name goes to the new one at the same
// target (filling the plan's anonymous mount there, or added for an image's VOLUME).
void inherit_anonymous_volumes(CreatePlan& plan, const std::vector<std::pair<std::string, std::string>>& old_volumes);

// A container of the service as the daemon lists it.
struct Existing {
  std::string id, name;
  int number = 0;
  std::string config_hash, image_id;  // from its labels
  std::string state;                  // "running", "exited", "created", ...
  std::map<std::string, std::string> networks;  // engine name → NetworkID ("" when the daemon lists none)
  std::vector<std::string> volumes;             // the names of its volume mounts
};
// One step of `up` for a service.
struct Step {
  enum Kind { Keep, Start, Recreate, Create, Remove } kind;
  int number = 0;
  std::string id;  // the existing container (Keep, Start, Recreate, Remove)
};
struct ConvergeOptions {
  bool force_recreate = false;
  bool no_recreate = false;
  // What the service's containers must be on: its networks (engine name → the network's id now)
  // and named volumes (engine names). A container of an unchanged config that is not on one
  // (a network recreated, a volume renamed) is recreated, as Compose v2.32 and later.
  std::map<std::string, std::string> networks;
  std::vector<std::string> volumes;
};
// Compose v2's convergence: the `want` lowest-numbered containers are kept (started when not
// running) or recreated when their config hash or image changed, or they are not on the networks
// and volumes of `opts`; the others are removed; missing
// replicas are created with numbers after the highest existing one.
std::vector<Step> converge(std::vector<Existing> existing, int want, const std::string& config_hash,
                           const std::string& image_id, const ConvergeOptions& opts = {});

}  // namespace hoist::compose
