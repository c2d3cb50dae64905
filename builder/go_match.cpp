#include "builder/go_match.h"

#include <vector>

#include "builder/go_text.h"

namespace hoist::builder {

namespace {

// A pattern piece: stars before it, then the text up to the next star outside a class.
struct Chunk {
  bool star;
  std::string_view text;
};

Chunk scan_chunk(std::string_view& pattern) {
  Chunk c{false, {}};
  while (!pattern.empty() && pattern[0] == '*') {
    pattern.remove_prefix(1);
    c.star = true;
  }
  bool in_range = false;
  std::size_t i = 0;
  for (; i < pattern.size(); ++i) {
    char ch = pattern[i];
    if (ch == '\\') {
      if (i + 1 < pattern.size()) ++i;
    } else if (ch == '[') {
      in_range = true;
    } else if (ch == ']') {
      in_range = false;
    } else if (ch == '*' && !in_range) {
      break;
    }
  }
  c.text = pattern.substr(0, i);
  pattern.remove_prefix(i);
  return c;
}

// One (possibly escaped) character of a class; BadPattern when missing or malformed.
char32_t class_char(std::string_view& chunk) {
  if (chunk.empty() || chunk[0] == '-' || chunk[0] == ']') throw BadPattern();
  if (chunk[0] == '\\') {
    chunk.remove_prefix(1);
    if (chunk.empty()) throw BadPattern();
  }
  auto [r, n] = go::decode_rune(chunk, 0);
  bool bad = r == 0xFFFD && n == 1;
  chunk.remove_prefix(n);
  if (chunk.empty() || bad) throw BadPattern();
  return r;
}

// Matches the chunk at the start of s: the rest of s, or nothing. Goes on checking the chunk's
// syntax after a mismatch (Go's rule), so a bad pattern is reported the same either way.
bool match_chunk(std::string_view chunk, std::string_view s, std::string_view& rest) {
  bool failed = false;
  while (!chunk.empty()) {
    if (!failed && s.empty()) failed = true;
    switch (chunk[0]) {
      case '[': {
        char32_t r = 0;
        if (!failed) {
          auto d = go::decode_rune(s, 0);
          r = d.r;
          s.remove_prefix(d.width);
        }
        chunk.remove_prefix(1);
        bool negated = !chunk.empty() && chunk[0] == '^';
        if (negated) chunk.remove_prefix(1);
        bool match = false;
        int nrange = 0;
        for (;;) {
          if (!chunk.empty() && chunk[0] == ']' && nrange > 0) {
            chunk.remove_prefix(1);
            break;
          }
          char32_t lo = class_char(chunk), hi = lo;
          if (chunk[0] == '-') {
            chunk.remove_prefix(1);
            hi = class_char(chunk);
          }
          if (lo <= r && r <= hi) match = true;
          ++nrange;
        }
        if (match == negated) failed = true;
        break;
      }
      case '?':
        if (!failed) {
          if (s[0] == '/') failed = true;
          s.remove_prefix(go::decode_rune(s, 0).width);
        }
        chunk.remove_prefix(1);
        break;
      case '\\':
        chunk.remove_prefix(1);
        if (chunk.empty()) throw BadPattern();
        [[fallthrough]];
      default:
        if (!failed) {
          if (chunk[0] != s[0]) failed = true;
          s.remove_prefix(1);
        }
        chunk.remove_prefix(1);
    }
  }
  if (failed) return false;
  rest = s;
  return true;
}

}  // namespace

bool go_match(std::string_view pattern, std::string_view name) {
  while (!pattern.empty()) {
    Chunk c = scan_chunk(pattern);
    if (c.star && c.text.empty()) return name.find('/') == std::string_view::npos;
    std::string_view t;
    bool ok = match_chunk(c.text, name, t);
    if (ok && (t.empty() || !pattern.empty())) {
      name = t;
      continue;
    }
    bool again = false;
    if (c.star) {
      for (std::size_t i = 0; i < name.size() && name[i] != '/'; ++i) {
        if (match_chunk(c.text, name.substr(i + 1), t)) {
          if (pattern.empty() && !t.empty()) continue;
          name = t;
          again = true;
          break;
        }
      }
    }
    if (again) continue;
    // No match: the rest of the pattern must still be well formed.
    while (!pattern.empty()) {
      Chunk rest = scan_chunk(pattern);
      std::string_view unused;
      match_chunk(rest.text, "", unused);
    }
    return false;
  }
  return name.empty();
}

bool has_wildcard(std::string_view p) {
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (p[i] == '\\') ++i;
    else if (p[i] == '*' || p[i] == '?' || p[i] == '[') return true;
  }
  return false;
}

std::string go_clean(std::string_view path) {
  if (path.empty()) return ".";
  bool rooted = path[0] == '/';
  std::vector<std::string_view> parts;
  std::size_t i = 0;
  while (i < path.size()) {
    std::size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    std::string_view part = path.substr(i, j - i);
    i = j + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!parts.empty() && parts.back() != "..") parts.pop_back();
      else if (!rooted) parts.push_back(part);
      continue;
    }
    parts.push_back(part);
  }
  std::string out = rooted ? "/" : "";
  for (std::size_t k = 0; k < parts.size(); ++k) {
    if (k) out += '/';
    out.append(parts[k]);
  }
  return out.empty() ? "." : out;
}

}  // namespace hoist::builder
