#include "cli/compose/dotenv.h"

#include <map>

namespace hoist::compose {

namespace {

bool key_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}
constexpr std::size_t kMaxValue = 1u << 20;

bool blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

}  // namespace

EnvList parse_dotenv(std::string_view text, const std::string& file, const Lookup& lookup) {
  EnvList out;
  std::map<std::string, std::string, std::less<>> seen;
  std::size_t i = 0, line = 1;
  auto fail = [&](const std::string& what) -> Error {
    return Error("failed to read " + file + ": line " + std::to_string(line) + ": " + what);
  };
  Lookup chained = [&](std::string_view name) -> std::optional<std::string> {
    if (auto v = lookup(name)) return v;
    if (auto it = seen.find(name); it != seen.end()) return it->second;
    return std::nullopt;
  };
  auto expand = [&](const std::string& v) {
    try {
      return interpolate(v, chained);
    } catch (const Error& e) {
      throw fail(e.what());
    }
  };
  while (i < text.size()) {
    // One statement: skip blanks and empty or comment lines.
    while (i < text.size() && blank(text[i])) ++i;
    if (i == text.size()) break;
    if (text[i] == '\n') {
      ++i, ++line;
      continue;
    }
    if (text[i] == '#') {
      while (i < text.size() && text[i] != '\n') ++i;
      continue;
    }
    if (text.substr(i).starts_with("export ") || text.substr(i).starts_with("export\t")) {
      i += 7;
      while (i < text.size() && blank(text[i])) ++i;
    }
    std::size_t k = i;
    while (i < text.size() && key_char(text[i])) ++i;
    std::string key(text.substr(k, i - k));
    while (i < text.size() && blank(text[i])) ++i;
    if (key.empty()) {
      char c = i < text.size() ? text[i] : ' ';
      throw fail(std::string("unexpected character \"") + c + "\" in variable name");
    }
    if (i == text.size() || text[i] == '\n' || text[i] == '#') {  // a bare KEY
      while (i < text.size() && text[i] != '\n') ++i;
      if (auto v = lookup(key)) {
        out.emplace_back(key, *v);
        seen[key] = *v;
      }
      continue;
    }
    if (text[i] != '=' && text[i] != ':') {
      throw fail(std::string("unexpected character \"") + text[i] + "\" in variable name \"" + key + text[i] + "\"");
    }
    ++i;
    while (i < text.size() && blank(text[i])) ++i;
    std::string value;
    if (i < text.size() && (text[i] == '\'' || text[i] == '"')) {
      char q = text[i++];
      std::size_t start_line = line;
      bool closed = false;
      while (i < text.size()) {
        char c = text[i];
        if (c == q) {
          closed = true;
          ++i;
          break;
        }
        if (c == '\n') ++line;
        if (q == '"' && c == '\\' && i + 1 < text.size()) {
          char e = text[i + 1];
          i += 2;
          switch (e) {
            case 'n': value += '\n'; break;
            case 't': value += '\t'; break;
            case 'r': value += '\r'; break;
            case '\\': value += '\\'; break;
            case '"': value += '"'; break;
            case '$': value += "$$"; break;  // a literal $, kept escaped for the expansion below
            default: value += '\\'; value += e;
          }
          continue;
        }
        value += c;
        ++i;
      }
      if (!closed) {
        line = start_line;
        throw fail(std::string("unterminated quoted value"));
      }
      if (q == '"') value = expand(value);
      // The rest of the line may hold only a comment.
      while (i < text.size() && blank(text[i])) ++i;
      if (i < text.size() && text[i] != '\n' && text[i] != '#')
        throw fail(std::string("unexpected character \"") + text[i] + "\" after the quoted value of " + key);
      while (i < text.size() && text[i] != '\n') ++i;
    } else {
      std::size_t v = i;
      while (i < text.size() && text[i] != '\n') {
        if (text[i] == '#' && i > v && blank(text[i - 1])) break;
        ++i;
      }
      std::string_view raw = text.substr(v, i - v);
      while (!raw.empty() && blank(raw.back())) raw.remove_suffix(1);
      while (i < text.size() && text[i] != '\n') ++i;
      value = expand(std::string(raw));
    }
    // A value that names itself twice doubles at each line: bounded.
    if (value.size() > kMaxValue) throw fail("the value of " + key + " is longer than 1 MiB");
    out.emplace_back(key, value);
    seen[key] = value;
  }
  return out;
}

}  // namespace hoist::compose
