#include "common/json.h"

#include <climits>
#include <optional>
#include <string>
#include <vector>
#include <nlohmann/json.hpp>

#include "common/error.h"

namespace hoist {

std::size_t json_depth(std::string_view text, std::size_t stop_after) {
  std::size_t depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    switch (c) {
      case '"': in_string = true; break;
      case '[': case '{':
        if (++depth > deepest && (deepest = depth) > stop_after) return deepest;
        break;
      case ']': case '}':
        if (depth > 0) --depth;
        break;
      default: break;
    }
  }
  return deepest;
}

nlohmann::json parse_json(std::string_view text, std::string_view what, const JsonLimits& limits) {
  std::string prefix = what.empty() ? std::string() : std::string(what) + ": ";
  if (text.size() > limits.max_size)
    throw InvalidArgument(prefix + "invalid JSON: " + std::to_string(text.size()) + " bytes exceed the limit of " +
                          std::to_string(limits.max_size));
  if (json_depth(text, limits.max_depth) > limits.max_depth)
    throw InvalidArgument(prefix + "invalid JSON: exceeded max depth of " + std::to_string(limits.max_depth));
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    // nlohmann's message quotes the bytes it stopped at, which may be invalid UTF-8 themselves:
    // keep the message printable so the error body can always be serialised.
    std::string msg = e.what();
    auto pos = msg.find("; last read: ");
    if (pos != std::string::npos) msg.erase(pos);
    if (msg.rfind("[json.exception.", 0) == 0 && msg.find("] ") != std::string::npos) msg.erase(0, msg.find("] ") + 2);
    throw InvalidArgument(prefix + "invalid JSON: " + msg);
  }
}

std::int64_t json_int64(const nlohmann::json& v, std::string_view field) {
  if (v.is_number_integer() &&
      !(v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)))
    return v.get<std::int64_t>();
  throw InvalidArgument("json: cannot unmarshal " + std::string(v.is_number() ? "number " : "") + dump_json(v) +
                        " into Go struct field " + std::string(field) + " of type int64");
}

// A JSON value that may be a string, an array of strings or null → list of strings;
// nullopt when absent/null.
std::optional<std::vector<std::string>> json_str_list(const nlohmann::json& obj, const char* key) {
  if (!obj.is_object() || !obj.contains(key) || obj[key].is_null()) return std::nullopt;
  const nlohmann::json& v = obj[key];
  std::vector<std::string> out;
  if (v.is_string()) {
    out.push_back(v.get<std::string>());
  } else if (v.is_array()) {
    for (const auto& e : v) {
      if (!e.is_string()) throw InvalidArgument(std::string(key) + ": expected a list of strings");
      out.push_back(e.get<std::string>());
    }
  } else {
    throw InvalidArgument(std::string(key) + ": expected a string or a list of strings");
  }
  return out;
}

std::string json_str(const nlohmann::json& obj, const char* key) {
  if (!obj.is_object() || !obj.contains(key) || !obj[key].is_string()) return "";
  return obj[key].get<std::string>();
}
std::int64_t json_num(const nlohmann::json& obj, const char* key, std::int64_t def) {
  if (!obj.is_object() || !obj.contains(key) || !obj[key].is_number()) return def;
  return json_int64(obj[key], key);
}
bool json_flag(const nlohmann::json& obj, const char* key) {
  return obj.is_object() && obj.contains(key) && obj[key].is_boolean() && obj[key].get<bool>();
}


nlohmann::json object_or_empty(std::string_view text) {
  try {
    auto j = parse_json(text, "record");
    if (j.is_object()) return j;
  } catch (const Error&) {
  }
  return nlohmann::json::object();
}

std::string dump_json(const nlohmann::json& j, int indent) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace hoist
