#include "cli/compose/yaml.h"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <regex>

#include "common/error.h"

namespace hoist::compose {

namespace {

using json = nlohmann::json;

struct Converter {
  const std::string& file;
  std::size_t nodes = 0;
  std::size_t bytes = 0;  // of scalars and keys, aliases counted each time they are expanded

  [[noreturn]] void fail(const YAML::Node& n, const std::string& what) const {
    throw Error("failed to parse " + file + ": yaml: line " + std::to_string(n.Mark().line + 1) + ": " + what);
  }

  // YAML 1.2 core schema resolution of a plain scalar (and YAML 1.1's octal 0777, as go-yaml v3).
  static json plain(const std::string& s) {
    if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
    if (s == "true" || s == "True" || s == "TRUE") return true;
    if (s == "false" || s == "False" || s == "FALSE") return false;
    static const std::regex dec("[-+]?[0-9]+"), oct("0o[0-7]+"), hex("0x[0-9a-fA-F]+"),
        flt("[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?"), inf("[-+]?\\.(inf|Inf|INF)"),
        nan("\\.(nan|NaN|NAN)");
    if (s.size() > 64) return s;
    errno = 0;
    if (std::regex_match(s, dec)) {
      // A leading 0 makes it octal, as for go-yaml v3 (compose-go's parser: Go's ParseInt with base
      // 0): `mode: 0440` is 288; with an 8 or 9 it is a float.
      std::size_t d = s[0] == '-' || s[0] == '+' ? 1 : 0;
      if (s.size() > d + 1 && s[d] == '0') {
        if (s.find_first_of("89") != std::string::npos) return std::strtod(s.c_str(), nullptr);
        unsigned long long v = std::strtoull(s.c_str() + d, nullptr, 8);
        if (errno == ERANGE || v > 0x7fffffffffffffffULL) return std::strtod(s.c_str(), nullptr);
        return s[0] == '-' ? -static_cast<long long>(v) : static_cast<long long>(v);
      }
      char* end = nullptr;
      long long v = std::strtoll(s.c_str(), &end, 10);
      if (errno == ERANGE) return std::strtod(s.c_str(), nullptr);
      return v;
    }
    if (std::regex_match(s, oct)) {
      unsigned long long v = std::strtoull(s.c_str() + 2, nullptr, 8);
      if (errno != ERANGE && v <= 0x7fffffffffffffffULL) return static_cast<long long>(v);
      return s;
    }
    if (std::regex_match(s, hex)) {
      unsigned long long v = std::strtoull(s.c_str() + 2, nullptr, 16);
      if (errno != ERANGE && v <= 0x7fffffffffffffffULL) return static_cast<long long>(v);
      return s;
    }
    if (std::regex_match(s, flt)) return std::strtod(s.c_str(), nullptr);
    // JSON has no infinities or NaN: they stay strings (no compose field takes them).
    if (std::regex_match(s, inf) || std::regex_match(s, nan)) return s;
    return s;
  }

  std::string key_of(const YAML::Node& k) {
    if (!k.IsScalar()) fail(k, "a mapping key must be a scalar");
    const std::string& s = k.Scalar();
    bytes += s.size();
    if (s.find('\0') != std::string::npos) fail(k, "a mapping key holds a NUL character");
    if (k.Tag() == "?") {  // plain: a null key is "null" as Go's yaml decoder spells it
      json v = plain(s);
      if (v.is_null()) return "null";
    }
    return s;
  }

  json convert(const YAML::Node& n, std::size_t depth) {
    if (++nodes > kMaxYamlNodes) fail(n, "document too large (more than 1000000 nodes once aliases are expanded)");
    if (depth > kMaxYamlDepth) fail(n, "nesting deeper than 256 levels");
    const std::string& tag = n.Tag();
    if (tag == "!reset") return json{{kResetKey, nullptr}};
    if (tag == "!override") {
      YAML::Node copy = n;  // the same node without the tag
      copy.SetTag("");
      json inner = convert_untagged(copy, depth, true);
      return json{{kOverrideKey, std::move(inner)}};
    }
    return convert_untagged(n, depth, false);
  }

  json convert_untagged(const YAML::Node& n, std::size_t depth, bool untagged) {
    switch (n.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        return nullptr;
      case YAML::NodeType::Scalar: {
        bytes += n.Scalar().size();
        if (bytes > kMaxYamlExpanded) fail(n, "document too large (more than 64 MiB of text once aliases are expanded)");
        const std::string& tag = n.Tag();
        if (tag == "?" || (untagged && tag.empty())) return plain(n.Scalar());
        if (tag == "!" || tag == "tag:yaml.org,2002:str") return n.Scalar();
        if (tag == "tag:yaml.org,2002:int" || tag == "tag:yaml.org,2002:float" || tag == "tag:yaml.org,2002:bool" ||
            tag == "tag:yaml.org,2002:null") {
          json v = plain(n.Scalar());
          bool ok = tag.ends_with("int") ? v.is_number_integer()
                    : tag.ends_with("float") ? v.is_number()
                    : tag.ends_with("bool") ? v.is_boolean() : v.is_null();
          if (!ok) fail(n, "cannot decode !!" + tag.substr(tag.rfind(':') + 1) + " `" + n.Scalar() + "`");
          return v;
        }
        fail(n, "unsupported tag " + tag);
      }
      case YAML::NodeType::Sequence: {
        json out = json::array();
        for (const auto& item : n) out.push_back(convert(item, depth + 1));
        return out;
      }
      case YAML::NodeType::Map: {
        json out = json::object();
        std::vector<YAML::Node> merges;
        for (const auto& kv : n) {
          if (kv.first.IsScalar() && kv.first.Tag() == "?" && kv.first.Scalar() == "<<") {
            merges.push_back(kv.second);
            continue;
          }
          std::string key = key_of(kv.first);
          if (out.contains(key))
            fail(kv.first, "mapping key \"" + key + "\" already defined");
          out[key] = convert(kv.second, depth + 1);
        }
        // Merge keys: entries of the merged maps that the map does not set itself; of several
        // maps listed, the first that sets a key wins.
        for (const auto& m : merges) {
          std::vector<YAML::Node> sources;
          if (m.IsMap()) sources.push_back(m);
          else if (m.IsSequence()) {
            for (const auto& s : m) {
              if (!s.IsMap()) fail(s, "map merge requires map or sequence of maps as the value");
              sources.push_back(s);
            }
          } else {
            fail(m, "map merge requires map or sequence of maps as the value");
          }
          for (const auto& src : sources) {
            json converted = convert(src, depth + 1);
            for (auto& [k, v] : converted.items())
              if (!out.contains(k)) out[k] = v;
          }
        }
        return out;
      }
    }
    return nullptr;
  }
};

// The first place where the text is not a YAML character stream (UTF-8 of printable characters:
// tab, line feed, carriage return, U+0020-U+007E, U+0085, U+00A0 and up but U+FFFE/U+FFFF and
// surrogates): its line and the problem, or line 0.
std::pair<std::size_t, const char*> bad_character(std::string_view t) {
  std::size_t line = 1;
  for (std::size_t i = 0; i < t.size();) {
    unsigned char c = static_cast<unsigned char>(t[i]);
    if (c == '\n') ++line;
    std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    if (n == 0 || i + n > t.size()) return {line, "invalid UTF-8"};
    for (std::size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(t[i + k]) >> 6) != 0x2) return {line, "invalid UTF-8"};
    unsigned cp = n == 1 ? c : c & (0x7f >> n);
    for (std::size_t k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(t[i + k]) & 0x3f);
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
      return {line, "invalid UTF-8"};
    bool printable = cp == '\t' || cp == '\n' || cp == '\r' || (cp >= 0x20 && cp <= 0x7e) || cp == 0x85 ||
                     (cp >= 0xa0 && cp != 0xfffe && cp != 0xffff);
    if (!printable) return {line, "control characters are not allowed"};
    i += n;
  }
  return {0, nullptr};
}

}  // namespace

bool plain_reads_as_string(const std::string& s) {
  static const char* const yaml11[] = {"yes", "Yes", "YES", "no", "No", "NO", "on", "On", "ON", "off", "Off",
                                       "OFF", "y", "Y", "n", "N"};
  for (const char* w : yaml11)
    if (s == w) return false;
  for (const char* special : {".inf", ".Inf", ".INF", "-.inf", "+.inf", ".nan", ".NaN", ".NAN"})
    if (s == special) return false;
  return Converter::plain(s).is_string();
}

json parse_yaml(std::string_view text, const std::string& file) {
  if (text.size() > kMaxYamlBytes) throw Error("failed to parse " + file + ": file larger than 16 MiB");
  // yaml-cpp's parser recurses once per level of nesting: bound it on the text first.
  std::size_t depth = 0, max_depth = 0;
  for (char c : text) {
    if (c == '[' || c == '{') max_depth = std::max(max_depth, ++depth);
    else if ((c == ']' || c == '}') && depth > 0) --depth;
  }
  if (max_depth > kMaxYamlDepth) throw Error("failed to parse " + file + ": yaml: nesting deeper than 256 levels");
  if (auto [line, what] = bad_character(text); line)
    throw Error("failed to parse " + file + ": yaml: line " + std::to_string(line) + ": " + what);
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    throw Error("failed to parse " + file + ": yaml: line " + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  Converter c{file};
  try {
    return c.convert(root, 0);
  } catch (const YAML::Exception& e) {
    throw Error("failed to parse " + file + ": yaml: line " + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
}

}  // namespace hoist::compose
