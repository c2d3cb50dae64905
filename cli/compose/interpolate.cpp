#include "cli/compose/interpolate.h"

namespace hoist::compose {

namespace {

bool name_start(char c) { return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool name_char(char c) { return name_start(c) || (c >= '0' && c <= '9'); }

constexpr int kMaxNesting = 64;

struct Interpolator {
  std::string_view whole;
  const Lookup& lookup;
  std::vector<std::string>* unset;

  [[noreturn]] void invalid() const { throw InvalidTemplate(std::string(whole)); }

  // The index of the `}` closing a `${` whose body starts at `i`; npos when there is none.
  static std::size_t closing(std::string_view s, std::size_t i) {
    int open = 1;
    while (i < s.size()) {
      if (s[i] == '$' && i + 1 < s.size() && s[i + 1] == '$') {
        i += 2;
        continue;
      }
      if (s[i] == '$' && i + 1 < s.size() && s[i + 1] == '{') {
        ++open;
        i += 2;
        continue;
      }
      if (s[i] == '}' && --open == 0) return i;
      ++i;
    }
    return std::string_view::npos;
  }

  static void grow(std::string& out, std::string_view more) {
    if (out.size() + more.size() > kMaxInterpolated)
      throw Error("interpolation: the value grows beyond 16 MiB");
    out += more;
  }

  std::string run(std::string_view s, int level) {
    if (level > kMaxNesting) invalid();
    std::string out;
    out.reserve(s.size());
    std::size_t i = 0;
    while (i < s.size()) {
      char c = s[i];
      if (c != '$' || i + 1 == s.size()) {
        out += c;
        ++i;
        continue;
      }
      char n = s[i + 1];
      if (n == '$') {
        out += '$';
        i += 2;
      } else if (name_start(n)) {
        std::size_t j = i + 1;
        while (j < s.size() && name_char(s[j])) ++j;
        grow(out, value(s.substr(i + 1, j - i - 1)));
        i = j;
      } else if (n == '{') {
        std::size_t end = closing(s, i + 2);
        if (end == std::string_view::npos) invalid();
        grow(out, braced(s.substr(i + 2, end - i - 2), level));
        i = end + 1;
      } else {
        out += c;
        ++i;
      }
    }
    return out;
  }

  std::string value(std::string_view name) {
    auto v = lookup(name);
    if (v) return *v;
    if (unset) unset->emplace_back(name);
    return {};
  }

  std::string braced(std::string_view body, int level) {
    if (body.empty() || !name_start(body[0])) invalid();
    std::size_t j = 1;
    while (j < body.size() && name_char(body[j])) ++j;
    std::string_view name = body.substr(0, j);
    if (j == body.size()) return value(name);
    bool colon = body[j] == ':';
    if (colon) ++j;
    if (j == body.size() || (body[j] != '-' && body[j] != '+' && body[j] != '?')) invalid();
    char op = body[j];
    std::string_view arg = body.substr(j + 1);
    auto v = lookup(name);
    bool set = colon ? v && !v->empty() : v.has_value();
    switch (op) {
      case '-':
        return set ? *v : run(arg, level + 1);
      case '+':
        return set ? run(arg, level + 1) : std::string();
      default: {  // '?'
        if (set) return *v;
        std::string reason = run(arg, level + 1);
        std::string msg = "required variable " + std::string(name) + " is missing a value";
        if (!reason.empty()) msg += ": " + reason;
        throw MissingRequired(msg);
      }
    }
  }
};

}  // namespace

std::string interpolate(std::string_view tmpl, const Lookup& lookup, std::vector<std::string>* unset) {
  if (tmpl.find('$') == std::string_view::npos) return std::string(tmpl);
  Interpolator in{tmpl, lookup, unset};
  return in.run(tmpl, 0);
}

}  // namespace hoist::compose
