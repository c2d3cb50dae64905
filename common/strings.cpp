#include "common/strings.h"

#include <charconv>

#include "common/error.h"

namespace hoist {

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t p = s.find(sep, start);
    out.emplace_back(s.substr(start, p == std::string_view::npos ? std::string_view::npos : p - start));
    if (p == std::string_view::npos) break;
    start = p + 1;
  }
  return out;
}

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) out += sep;
    out += parts[i];
  }
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\n' || s.front() == '\t' || s.front() == '\r'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

std::string go_clean(std::string_view p) {
  bool abs = !p.empty() && p[0] == '/';
  std::vector<std::string_view> parts;
  std::size_t ups = 0;  // leading ".." of a relative path
  while (!p.empty()) {
    std::size_t slash = p.find('/');
    std::string_view part = p.substr(0, slash);
    p = slash == std::string_view::npos ? std::string_view() : p.substr(slash + 1);
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
      else if (!abs) ++ups;
      continue;
    }
    parts.push_back(part);
  }
  std::string out = abs ? "/" : "";
  for (std::size_t i = 0; i < ups; ++i) out += i ? "/.." : "..";
  for (std::string_view part : parts) {
    if (!out.empty() && out.back() != '/') out += '/';
    out += part;
  }
  return out.empty() ? "." : out;
}

long long parse_int(std::string_view s, std::string_view what) {
  s = trim(s);
  long long v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty())
    throw Error("invalid " + std::string(what) + " \"" + std::string(s) + "\": not an integer");
  return v;
}

}  // namespace hoist
