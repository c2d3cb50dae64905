#include "builder/history.h"

#include <cstdio>

#include "builder/go_text.h"
#include "common/digest.h"
#include "common/strings.h"

namespace hoist::builder {

namespace {

// v/10^prec as ".ddd" without trailing zeros ("" for none); v becomes the integer part.
std::string frac(std::uint64_t& v, int prec) {
  std::string digits;
  bool print = false;
  for (int i = 0; i < prec; ++i) {
    auto d = v % 10;
    print = print || d != 0;
    if (print) digits.insert(digits.begin(), static_cast<char>('0' + d));
    v /= 10;
  }
  return print ? "." + digits : "";
}

// fmt's %q of an int: a Go character literal.
std::string quote_rune(std::int64_t n) {
  if (n < 0 || n > 0x10FFFF || (n >= 0xD800 && n <= 0xDFFF)) n = 0xFFFD;
  auto r = static_cast<char32_t>(n);
  char buf[16];
  switch (r) {
    case '\a': return "'\\a'";
    case '\b': return "'\\b'";
    case '\f': return "'\\f'";
    case '\n': return "'\\n'";
    case '\r': return "'\\r'";
    case '\t': return "'\\t'";
    case '\v': return "'\\v'";
    case '\\': return "'\\\\'";
    case '\'': return "'\\''";
  }
  if (r < 0x20 || r == 0x7F) {
    std::snprintf(buf, sizeof buf, "'\\x%02x'", static_cast<unsigned>(r));
    return buf;
  }
  // The rune as UTF-8, then Go's quoting of it (printable runes stay).
  std::string s;
  if (r < 0x80) s += static_cast<char>(r);
  else if (r < 0x800) s += {static_cast<char>(0xC0 | (r >> 6)), static_cast<char>(0x80 | (r & 0x3F))};
  else if (r < 0x10000)
    s += {static_cast<char>(0xE0 | (r >> 12)), static_cast<char>(0x80 | ((r >> 6) & 0x3F)), static_cast<char>(0x80 | (r & 0x3F))};
  else
    s += {static_cast<char>(0xF0 | (r >> 18)), static_cast<char>(0x80 | ((r >> 12) & 0x3F)),
          static_cast<char>(0x80 | ((r >> 6) & 0x3F)), static_cast<char>(0x80 | (r & 0x3F))};
  std::string q = go::quote(s);  // "..." with Go's escapes for a non-printable rune
  return "'" + q.substr(1, q.size() - 2) + "'";
}

}  // namespace

std::string go_duration_string(std::int64_t d) {
  bool neg = d < 0;
  std::uint64_t u = neg ? 0 - static_cast<std::uint64_t>(d) : static_cast<std::uint64_t>(d);
  std::string out;
  if (u < 1000000000ull) {
    if (u == 0) return "0s";
    std::string unit;
    int prec;
    if (u < 1000) prec = 0, unit = "ns";
    else if (u < 1000000) prec = 3, unit = "\xC2\xB5s";
    else prec = 6, unit = "ms";
    std::string f = frac(u, prec);
    out = std::to_string(u) + f + unit;
  } else {
    std::string f = frac(u, 9);
    out = std::to_string(u % 60) + f + "s";
    u /= 60;
    if (u > 0) {
      out = std::to_string(u % 60) + "m" + out;
      u /= 60;
      if (u > 0) out = std::to_string(u) + "h" + out;
    }
  }
  return neg ? "-" + out : out;
}

std::string health_text(const HealthConfig& h) {
  std::string s = "&{" + go::quote_list(h.test) + " " + go::quote(go_duration_string(h.interval)) + " " +
                  go::quote(go_duration_string(h.timeout)) + " " + go::quote(go_duration_string(h.start_period)) + " ";
  if (h.start_interval) s += go::quote(go_duration_string(h.start_interval)) + " ";
  return s + quote_rune(h.retries) + "}";
}

std::vector<std::string> nop_cmd(const std::vector<std::string>& shell, const std::string& text) {
  auto cmd = shell;
  cmd.push_back("#(nop) ");
  cmd.push_back(text);
  return cmd;
}

std::vector<std::string> nop_cmd_one(const std::vector<std::string>& shell, const std::string& text) {
  auto cmd = shell;
  cmd.push_back("#(nop) " + text);
  return cmd;
}

std::string combined_source_hash(const std::vector<std::string>& hashes) {
  if (hashes.size() == 1) return hashes[0];
  return "multi:" + digest_of(join(hashes, ",")).hex;
}

std::string copy_text(const char* cmd, const std::string& chown, const std::string& source_hash, const std::string& dest) {
  std::string chown_part = chown.empty() ? "" : "--chown=" + chown;
  return std::string(cmd) + " " + chown_part + source_hash + " in " + dest + " ";
}

std::string created_by(const std::vector<std::string>& cmd) { return join(cmd, " "); }

}  // namespace hoist::builder
