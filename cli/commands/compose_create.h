// What `hoist compose up/create/run` do around a container's create beyond its create body
// (cli/compose/orchestrate.h): the references to other services' containers resolved from what
// the daemon has (network_mode service:, volumes_from, links), Compose's warnings printed, and
// after the create the secrets and configs of `environment`/`content` copied in.
#pragma once
#include <string>

#include "cli/commands/commands.h"
#include "cli/compose/orchestrate.h"

namespace hoist::cli {

// Before POST /containers/create of replica `number` of `service`.
void complete_create_plan(Ctx& ctx, const compose::Project& proj, const std::string& service, int number,
                          compose::CreatePlan& plan);
// After it (and the network connects), before the start: PUT /containers/ID/archive of each
// compose::file_injections() item.
void inject_files(Ctx& ctx, const compose::Project& proj, const std::string& service, const std::string& id);

}  // namespace hoist::cli
