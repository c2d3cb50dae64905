// Registry credentials in the client's config.json (docker's "auths"), and the X-Registry-Auth
// header built from them for pull and push.
#pragma once
#include <map>
#include <string>
#include <string_view>

#include "cli/commands/common.h"

namespace hoist::cli {

std::string b64(std::string_view in, bool url = false);
std::string unb64(std::string_view in);

extern const char* kDefaultRegistry;

std::string config_file(Ctx& ctx);
json load_config(Ctx& ctx);
// The registry host of an image reference ("docker.io" style names → the default registry).
std::string registry_of(const std::string& ref);
std::map<std::string, std::string> auth_header(Ctx& ctx, const std::string& ref);

}  // namespace hoist::cli
