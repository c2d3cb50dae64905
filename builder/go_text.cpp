#include "builder/go_text.h"

#include <cstdio>

namespace hoist::builder::go {

Rune decode_rune(std::string_view s, std::size_t pos) {
  auto b = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  unsigned char c = b(pos);
  if (c < 0x80) return {c, 1};
  std::size_t n;
  char32_t r, min;
  if (c >= 0xC2 && c <= 0xDF) n = 2, r = c & 0x1F, min = 0x80;
  else if (c >= 0xE0 && c <= 0xEF) n = 3, r = c & 0x0F, min = 0x800;
  else if (c >= 0xF0 && c <= 0xF4) n = 4, r = c & 0x07, min = 0x10000;
  else return {0xFFFD, 1};
  if (pos + n > s.size()) return {0xFFFD, 1};
  for (std::size_t i = 1; i < n; ++i) {
    unsigned char d = b(pos + i);
    if ((d & 0xC0) != 0x80) return {0xFFFD, 1};
    r = (r << 6) | (d & 0x3F);
  }
  if (r < min || r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF)) return {0xFFFD, 1};
  return {r, n};
}

bool is_space(char32_t r) {
  switch (r) {
    case '\t': case '\n': case '\v': case '\f': case '\r': case ' ': case 0x85: case 0xA0:
    case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
      return true;
    default:
      return r >= 0x2000 && r <= 0x200A;
  }
}

std::string_view trim_left_space(std::string_view s) {
  while (!s.empty()) {
    auto [r, w] = decode_rune(s, 0);
    if (!is_space(r)) break;
    s.remove_prefix(w);
  }
  return s;
}

std::string_view trim_space(std::string_view s) {
  s = trim_left_space(s);
  // Find the end of the last rune that is not a space.
  std::size_t end = 0;
  for (std::size_t i = 0; i < s.size();) {
    auto [r, w] = decode_rune(s, i);
    i += w;
    if (!is_space(r)) end = i;
  }
  return s.substr(0, end);
}

namespace {

bool printable(char32_t r) {
  if (r < 0x20 || r == 0x7F) return false;
  if (r >= 0x80 && r <= 0xA0) return false;
  if (r == 0xAD || r == 0x2028 || r == 0x2029 || r == 0xFEFF) return false;
  if (r >= 0xE000 && r <= 0xF8FF) return false;  // private use
  if (r >= 0xF0000) return false;                 // private use planes
  return true;
}

void append_hex(std::string& out, const char* prefix, unsigned v, int digits) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%s%0*x", prefix, digits, v);
  out += buf;
}

}  // namespace

std::string quote(std::string_view s) {
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size();) {
    auto [r, w] = decode_rune(s, i);
    if (r == 0xFFFD && w == 1) {  // a byte that is not UTF-8
      append_hex(out, "\\x", static_cast<unsigned char>(s[i]), 2);
      i += 1;
      continue;
    }
    switch (r) {
      case '\a': out += "\\a"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\v': out += "\\v"; break;
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      default:
        if (printable(r)) out.append(s.substr(i, w));
        else if (r < 0x80) append_hex(out, "\\x", static_cast<unsigned>(r), 2);
        else if (r < 0x10000) append_hex(out, "\\u", static_cast<unsigned>(r), 4);
        else append_hex(out, "\\U", static_cast<unsigned>(r), 8);
    }
    i += w;
  }
  return out + "\"";
}

std::string quote_list(const std::vector<std::string>& v) {
  std::string out = "[";
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i) out += ' ';
    out += quote(v[i]);
  }
  return out + "]";
}

std::string plain_list(const std::vector<std::string>& v) {
  std::string out = "[";
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i) out += ' ';
    out += v[i];
  }
  return out + "]";
}

}  // namespace hoist::builder::go
