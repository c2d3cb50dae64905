// YAML text → a JSON tree, as the compose loader reads a file (yaml-cpp underneath).
//
// Scalars take YAML 1.2's core types when plain (null, true/false, integers, floats, else string)
// and stay strings when quoted or tagged !!str. Aliases are expanded (at most kMaxYamlNodes nodes in
// all, and kMaxYamlExpanded bytes of text, so a "billion laughs" file is refused), merge keys (`<<: *a`, `<<: [*a, *b]`) are applied as
// YAML 1.1 defines them (explicit keys win, then the first map listed), a key given twice is an
// error, and the compose tags `!reset` and `!override` become marker objects (see reset_marker()).
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

namespace hoist::compose {

inline constexpr std::size_t kMaxYamlNodes = 1'000'000;
inline constexpr std::size_t kMaxYamlDepth = 256;
inline constexpr std::size_t kMaxYamlBytes = 16u << 20;
inline constexpr std::size_t kMaxYamlExpanded = 64u << 20;  // bytes of scalars after alias expansion

// Parses one YAML document (an empty text is null). Throws Error
// "failed to parse FILE: yaml: line N: <problem>" (`file` as given).
nlohmann::json parse_yaml(std::string_view text, const std::string& file);

// Whether `s` written as a plain (unquoted) scalar reads back as the same string: not null, a
// boolean (YAML 1.1's yes/no/on/off included, as other readers take them) or a number.
bool plain_reads_as_string(const std::string& s);

// The keys of the marker objects `!reset VALUE` and `!override VALUE` become: {kResetKey: null} and
// {kOverrideKey: VALUE}. They cannot come from a file (keys with a NUL byte are refused).
inline constexpr const char* kResetKey = "\x01!reset";
inline constexpr const char* kOverrideKey = "\x01!override";

}  // namespace hoist::compose
