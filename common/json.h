// Bounded JSON reading for everything outside input and the daemon's own files.
//
// nlohmann's parser is iterative, but copying, serialising and comparing a tree recurse once per
// level: a body of 100,000 nested arrays would overflow a thread's stack long after it was parsed.
// parse_json() checks the nesting depth and the size on the raw text first, so no tree deeper than
// the limit is ever built, and every later recursive walk is bounded.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <optional>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace hoist {

struct JsonLimits {
  std::size_t max_depth = 512;          // Docker's bodies nest ~6 deep, manifests ~5
  std::size_t max_size = 64u << 20;     // bytes of text
};

// The deepest nesting of arrays and objects in `text` (string contents skipped); stops scanning
// once it passes `stop_after`.
std::size_t json_depth(std::string_view text, std::size_t stop_after = static_cast<std::size_t>(-1));

// Parses `text` after the depth and size checks. Throws InvalidArgument naming `what` (e.g.
// "request body", "manifest sha256:…", "/var/lib/hoist/x.json"): "<what>: invalid JSON: ...".
nlohmann::json parse_json(std::string_view text, std::string_view what, const JsonLimits& limits = {});

// A JSON number as Go decodes it into an int64 field: an integer in range, else InvalidArgument
// ("json: cannot unmarshal number 1e+118 into Go struct field Memory of type int64"). A fraction
// or exponent form is refused as Go refuses it (and a double outside int64 is never converted).
std::int64_t json_int64(const nlohmann::json& v, std::string_view field);

// Readers of a JSON object's fields that take what is there: "" / def / false when the key is
// absent or of another type (json_num refuses a number out of int64 range, see json_int64).
std::string json_str(const nlohmann::json& obj, const char* key);
std::int64_t json_num(const nlohmann::json& obj, const char* key, std::int64_t def = 0);
bool json_flag(const nlohmann::json& obj, const char* key);
// A string or a list of strings as a list; nullopt when absent or null; InvalidArgument naming
// the key for anything else.
std::optional<std::vector<std::string>> json_str_list(const nlohmann::json& obj, const char* key);

// The object stored in `text` (one of hoistd's own records), or {} when the text is empty, not
// JSON or not an object.
nlohmann::json object_or_empty(std::string_view text);

// Serialises without ever throwing: invalid UTF-8 in strings is replaced by U+FFFD.
std::string dump_json(const nlohmann::json& j, int indent = -1);

}  // namespace hoist
