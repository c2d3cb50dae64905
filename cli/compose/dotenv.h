// `.env` files as Compose reads them (the project's `.env`, `--env-file`, a service's `env_file`):
// KEY=VALUE lines, `export ` prefixes, `#` comments (whole lines, or after a space in an unquoted
// value), 'single quotes' taken literally, "double quotes" with \n \t \\ \" escapes and
// multi-line values, ${VAR} interpolation in unquoted and double-quoted values (from `lookup`
// first, then the keys above in the same file), and a bare KEY taking its value from `lookup`
// (left out when unset). A value longer than 1 MiB is an error.
#pragma once
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cli/compose/interpolate.h"

namespace hoist::compose {

using EnvList = std::vector<std::pair<std::string, std::string>>;

// Throws Error "failed to read FILE: line N: <problem>".
EnvList parse_dotenv(std::string_view text, const std::string& file, const Lookup& lookup);

}  // namespace hoist::compose
