// What `hoist compose up/create/run` do around a container's create beyond its create body
// (cli/compose/orchestrate.h): the references to other services' containers resolved from what
// the daemon has (network_mode service:, volumes_from, links), Compose's warnings printed, and
// after the create the secrets and configs of `environment`/`content` copied in.
#pragma once
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/commands/commands.h"
#include "cli/compose/orchestrate.h"

namespace hoist::cli {

// Before POST /containers/create of replica `number` of `service`.
void complete_create_plan(Ctx& ctx, const compose::Project& proj, const std::string& service, int number,
                          compose::CreatePlan& plan);
// After it (and the network connects), before the start: PUT /containers/ID/archive of each
// compose::file_injections() item.
void inject_files(Ctx& ctx, const compose::Project& proj, const std::string& service, const std::string& id);

// A network of the project (inspected: `info`) whose config-hash label differs from its
// definition's: the containers of the services on it stopped and the network removed, as Compose
// v2.32's removeDivergedNetwork (the caller makes it anew; `up` then recreates the containers,
// which are no longer on it). False, doing nothing, when it has no such label or the same.
bool remove_diverged_network(Ctx& ctx, const compose::Project& proj, const std::string& key,
                             const nlohmann::json& info);
// A volume of the project (inspected: `info`) whose config-hash label differs from its
// definition's: Compose v2 asks "Volume NAME exists but doesn't match configuration in compose
// file. Recreate (data will be lost)?" (not when `assume_yes`: up/create -y); confirmed, the
// containers of the services mounting it are stopped and removed and the volume removed (the
// caller makes it anew). Returns whether it was removed; false, doing nothing, when it has no such
// label, the same, or the answer is no.
bool remove_diverged_volume(Ctx& ctx, const compose::Project& proj, const std::string& key, const nlohmann::json& info,
                            bool assume_yes);
// For compose::converge(): a listed container's networks and volume names; what the service's
// containers must be on (`network_ids`: engine name → id, from the networks' ensure).
void existing_networks_and_volumes(const nlohmann::json& listed, compose::Existing& e);
void expected_networks_and_volumes(const compose::Project& proj, const std::string& service,
                                   const std::map<std::string, std::string>& network_ids, compose::ConvergeOptions& o);

// The images of `services` that have both `image:` and `build:` pulled first, as Compose v2's
// pullRequiredImages: when missing (pull_policy missing/if_not_present) or always (`always`), not
// with `never` or `build`; a failed pull is a warning (the build that follows makes the image).
void pull_buildable_images(Ctx& ctx, const compose::Project& proj, const std::vector<std::string>& services);

// `compose push` as Compose v2: a service without both `build` and `image` is " SERVICE Skipped";
// the others' image and build.tags pushed, a line per progress message of a layer
// (" Pushing TAG: LAYER STATUS [PROGRESS]", none with `quiet`). A failure stops it, unless
// `ignore_failures` ("Pushing SERVICE: ERROR"). Returns the exit code.
int push_service_images(Ctx& ctx, const compose::Project& proj, const std::vector<std::string>& services, bool quiet,
                        bool ignore_failures);

// `-p NAME` without -f: the project from the daemon's containers, networks and volumes
// (compose::project_from_resources()), for `down`.
compose::Project project_from_daemon(Ctx& ctx, const std::string& name);

}  // namespace hoist::cli
