#include "builder/dockerignore.h"

#include "builder/go_match.h"
#include "builder/go_text.h"
#include "common/error.h"

namespace hoist::builder {

std::vector<std::string> read_dockerignore(std::string_view text) {
  std::vector<std::string> out;
  bool first = true;
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (first && line.substr(0, 3) == "\xEF\xBB\xBF") line.remove_prefix(3);
    first = false;
    if (!line.empty() && line[0] == '#') continue;
    std::string_view p = go::trim_space(line);
    if (p.empty()) continue;
    bool invert = p[0] == '!';
    if (invert) p = go::trim_space(p.substr(1));
    std::string pattern(p);
    if (!pattern.empty()) {
      pattern = go_clean(pattern);
      if (pattern.size() > 1 && pattern[0] == '/') pattern.erase(0, 1);
    }
    out.push_back(invert ? "!" + pattern : pattern);
  }
  return out;
}

std::vector<std::string> dockerignore_candidates(std::string_view dockerfile) {
  std::vector<std::string> out;
  if (!dockerfile.empty()) out.push_back(std::string(dockerfile) + ".dockerignore");
  out.push_back(".dockerignore");
  return out;
}

namespace {

using Token = IgnoreMatcher::Token;

const char* kClassNames[][2] = {{"alnum", "09AZaz"}, {"alpha", "AZaz"},   {"ascii", "\x01\x7f"},
                                {"blank", "\t\t  "}, {"cntrl", "\x01\x1f\x7f\x7f"}, {"digit", "09"},
                                {"graph", "!~"},     {"lower", "az"},     {"print", " ~"},
                                {"punct", "!/:@[`{~"}, {"space", "\t\r  "}, {"upper", "AZ"},
                                {"word", "09AZ__az"}, {"xdigit", "09AFaf"}};

// A bracket class in Go's regexp syntax, from just after `[`; advances `i` past `]`.
Token parse_class(std::string_view p, std::size_t& i) {
  Token t;
  t.kind = Token::Class;
  if (i < p.size() && p[i] == '^') {
    t.negated = true;
    ++i;
  }
  bool first = true;
  auto one = [&]() -> char32_t {
    if (i >= p.size()) throw BadPattern();
    if (p[i] == '\\') {
      ++i;
      if (i >= p.size()) throw BadPattern();
    }
    auto [r, w] = go::decode_rune(p, i);
    i += w;
    return r;
  };
  for (;;) {
    if (i >= p.size()) throw BadPattern();
    if (p[i] == ']' && !first) {
      ++i;
      return t;
    }
    first = false;
    if (p.substr(i, 2) == "[:") {
      auto end = p.find(":]", i + 2);
      if (end != std::string_view::npos) {
        std::string_view name = p.substr(i + 2, end - i - 2);
        bool found = false;
        for (auto& c : kClassNames)
          if (name == c[0]) {
            std::string_view r = c[1];
            for (std::size_t k = 0; k + 1 < r.size(); k += 2)
              t.ranges.emplace_back(static_cast<unsigned char>(r[k]), static_cast<unsigned char>(r[k + 1]));
            found = true;
          }
        if (!found) throw BadPattern();
        i = end + 2;
        continue;
      }
    }
    char32_t lo = one(), hi = lo;
    if (i + 1 < p.size() && p[i] == '-' && p[i + 1] != ']') {
      ++i;
      hi = one();
      if (hi < lo) throw BadPattern();
    }
    t.ranges.emplace_back(lo, hi);
  }
}

bool in_class(const Token& t, char32_t c) {
  bool in = false;
  for (auto& [lo, hi] : t.ranges)
    if (lo <= c && c <= hi) in = true;
  return in != t.negated;
}

// patternmatcher's compile(): the match type and, for a glob, its tokens.
void compile(IgnoreMatcher::Pattern& p) {
  using P = IgnoreMatcher::Pattern;
  P::Type type = P::Exact;
  std::string_view s = p.text;
  std::size_t i = 0;
  for (int n = 0; i < s.size(); ++n) {
    auto [r, w] = go::decode_rune(s, i);
    i += w;
    Token t;
    if (r == '*') {
      if (i < s.size() && s[i] == '*') {
        ++i;
        if (i < s.size() && s[i] == '/') ++i;
        if (i >= s.size()) {
          if (type == P::Exact) {
            type = P::Prefix;
          } else {
            t.kind = Token::Rest;
            p.tokens.push_back(t);
            type = P::Glob;
          }
        } else {
          t.kind = Token::DirsOpt;
          p.tokens.push_back(t);
          type = P::Glob;
        }
        if (n == 0) type = P::Suffix;
        continue;
      }
      t.kind = Token::StarButSlash;
      type = P::Glob;
    } else if (r == '?') {
      t.kind = Token::AnyButSlash;
      type = P::Glob;
    } else if (r == '\\') {
      if (i < s.size()) {
        auto [e, ew] = go::decode_rune(s, i);
        i += ew;
        t.ch = e;
        type = P::Glob;
      } else {
        t.ch = '\\';
      }
    } else if (r == '[') {
      t = parse_class(s, i);
      type = P::Glob;
    } else if (r == ']') {
      t.ch = r;
      type = P::Glob;
    } else {
      t.ch = r;
    }
    p.tokens.push_back(t);
  }
  p.type = type;
}

// Whether the tokens match the whole path (Go's regexp: `.` stops at a newline).
bool match_tokens(const std::vector<Token>& toks, std::string_view path) {
  const std::size_t m = toks.size();
  std::vector<char> main(m + 1), inner(m + 1), nmain(m + 1), ninner(m + 1);
  auto close = [&](std::vector<char>& st, std::vector<char>& in) {
    for (std::size_t k = 0; k < m; ++k) {
      if (!st[k]) continue;
      auto kind = toks[k].kind;
      if (kind == Token::StarButSlash || kind == Token::Rest || kind == Token::DirsOpt) st[k + 1] = 1;
      if (kind == Token::DirsOpt) in[k] = 1;
    }
  };
  main[0] = 1;
  close(main, inner);
  for (std::size_t i = 0; i < path.size();) {
    auto [c, w] = go::decode_rune(path, i);
    i += w;
    std::fill(nmain.begin(), nmain.end(), 0);
    std::fill(ninner.begin(), ninner.end(), 0);
    bool any = false;
    for (std::size_t k = 0; k < m; ++k) {
      const Token& t = toks[k];
      if (inner[k]) {
        if (c != '\n') ninner[k] = any = 1;
        if (c == '/') nmain[k + 1] = any = 1;
      }
      if (!main[k]) continue;
      switch (t.kind) {
        case Token::Lit:
          if (c == t.ch) nmain[k + 1] = any = 1;
          break;
        case Token::AnyButSlash:
          if (c != '/') nmain[k + 1] = any = 1;
          break;
        case Token::StarButSlash:
          if (c != '/') nmain[k] = any = 1;
          break;
        case Token::Rest:
          if (c != '\n') nmain[k] = any = 1;
          break;
        case Token::Class:
          if (in_class(t, c)) nmain[k + 1] = any = 1;
          break;
        case Token::DirsOpt:
          break;  // entered through `inner`
      }
    }
    if (!any) return false;
    close(nmain, ninner);
    main.swap(nmain);
    inner.swap(ninner);
  }
  return main[m];
}

std::string_view parent_dir(std::string_view p) {
  auto slash = p.rfind('/');
  return slash == std::string_view::npos ? "." : p.substr(0, slash);
}

}  // namespace

IgnoreMatcher::IgnoreMatcher(const std::vector<std::string>& patterns) {
  for (auto& raw : patterns) {
    std::string p(go::trim_space(raw));
    if (p.empty()) continue;
    p = go_clean(p);
    Pattern pat;
    if (p[0] == '!') {
      if (p.size() == 1) throw InvalidArgument("illegal exclusion pattern: \"!\"");
      pat.exclusion = true;
      exclusions_ = true;
      p.erase(0, 1);
    }
    go_match(p, ".");  // Docker checks the syntax with filepath.Match
    pat.text = p;
    compile(pat);
    patterns_.push_back(std::move(pat));
  }
}

bool IgnoreMatcher::match(const Pattern& p, std::string_view path) const {
  switch (p.type) {
    case Pattern::Exact:
      return path == p.text;
    case Pattern::Prefix:
      return path.substr(0, p.text.size() - 2) == std::string_view(p.text).substr(0, p.text.size() - 2);
    case Pattern::Suffix: {
      std::string_view suffix = std::string_view(p.text).substr(2);
      if (path.size() >= suffix.size() && path.substr(path.size() - suffix.size()) == suffix) return true;
      return !suffix.empty() && suffix[0] == '/' && path == suffix.substr(1);
    }
    case Pattern::Glob:
      return match_tokens(p.tokens, path);
  }
  return false;
}

bool IgnoreMatcher::excluded(std::string_view raw) const {
  std::string file = go_clean(raw);
  if (file == ".") return false;
  std::string_view parent = parent_dir(file);
  bool matched = false;
  for (auto& p : patterns_) {
    if (p.exclusion != matched) continue;
    bool m = match(p, file);
    if (!m && parent != ".") {
      for (std::size_t pos = 0;;) {
        auto slash = parent.find('/', pos);
        std::string_view prefix = parent.substr(0, slash);
        if (match(p, prefix)) {
          m = true;
          break;
        }
        if (slash == std::string_view::npos) break;
        pos = slash + 1;
      }
    }
    if (m) matched = !p.exclusion;
  }
  return matched;
}

std::vector<std::string> IgnoreMatcher::with_build_files(std::vector<std::string> patterns, std::string_view dockerfile,
                                                         std::string_view ignore_file, bool dockerfile_from_stdin) {
  if (IgnoreMatcher(patterns).excluded(ignore_file)) patterns.push_back("!" + std::string(ignore_file));
  if (!dockerfile_from_stdin && !dockerfile.empty() && IgnoreMatcher(patterns).excluded(dockerfile))
    patterns.push_back("!" + std::string(dockerfile));
  return patterns;
}

}  // namespace hoist::builder
