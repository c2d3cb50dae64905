// What the compose loader's parts share (loader.cpp, canonical.cpp, schema.cpp, merge.cpp,
// output.cpp); not for the CLI, which uses project.h.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/compose/yaml.h"

namespace hoist::compose::detail {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

// A key path as compose prints it: "services.web.ports".
std::string join_path(const std::vector<std::string>& path);

// Marker objects of the !reset / !override tags (yaml.h).
bool is_reset(const json& v);
bool is_override(const json& v);

// schema.cpp: the keys the compose specification's schema allows at each level (its
// additionalProperties: false), and the top-level types. Throws Error
// "<path> additional properties 'k' not allowed" / "<path> must be a mapping"; the caller prefixes
// "validating FILE: ".
void check_schema(const json& file);

// canonical.cpp: short syntaxes to their long forms, types cast (a string that interpolation made
// of a number or boolean), durations and sizes parsed, per file. Throws Error naming the key path.
void canonicalize(json& file);
// Paths relative to `dir` made absolute (a leading ~ is $HOME): build contexts, build.ssh paths,
// bind sources, env_file, extends.file, secrets/configs files. Run on canonical forms.
void resolve_paths(json& file, const std::string& dir);
// Go's time.Duration.String() of `ns`: "1m30s", "500ms", "0s".
std::string format_duration(std::int64_t ns);
// "512m", "1g", 1024 → bytes; Error naming `path` on junk.
std::int64_t parse_bytes(const json& v, const std::string& path);
// Splits a command line as a POSIX shell would (quotes, backslashes; no expansions).
std::vector<std::string> shell_split(const std::string& s, const std::string& path);

// merge.cpp: the specification's merge rules, on canonical trees: `over` merged into `base`;
// `path` is where they sit ({} for files, {"services", NAME} for one service).
void merge_into(json& base, const json& over, std::vector<std::string> path = {});
// Drops every !reset marker and unwraps every !override marker (after the last merge).
void strip_markers(json& v);

// output.cpp: the tree reordered as `docker compose config` prints it.
ojson ordered(const json& project);
std::string emit_yaml(const ojson& v);

}  // namespace hoist::compose::detail
