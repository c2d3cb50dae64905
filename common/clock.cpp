#include "common/clock.h"

#include "common/error.h"

#include <cctype>
#include <limits>
#include <stdexcept>

#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace hoist {

std::string now_rfc3339() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char buf[64];
  size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf + n, sizeof buf - n, ".%09ldZ", ts.tv_nsec);
  return buf;
}

std::string rfc3339_nano(std::int64_t ns, bool local) {
  time_t sec = static_cast<time_t>(ns / 1000000000);
  long frac = static_cast<long>(ns % 1000000000);
  if (frac < 0) {
    frac += 1000000000;
    --sec;
  }
  struct tm tm {};
  if (local) localtime_r(&sec, &tm);
  else gmtime_r(&sec, &tm);
  char buf[64];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out = buf;
  if (frac) {
    char f[16];
    snprintf(f, sizeof f, ".%09ld", frac);
    std::string fs = f;
    while (fs.back() == '0') fs.pop_back();
    out += fs;
  }
  long off = local ? tm.tm_gmtoff : 0;
  if (off == 0) return out + "Z";
  char z[32];
  snprintf(z, sizeof z, "%c%02ld:%02ld", off < 0 ? '-' : '+', labs(off) / 3600, (labs(off) % 3600) / 60);
  return out + z;
}

long long monotonic_ms() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<long long>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

namespace {
int digits(std::string_view s, std::size_t pos, std::size_t n) {
  if (pos + n > s.size()) return -1;
  int v = 0;
  for (std::size_t i = 0; i < n; ++i) {
    char c = s[pos + i];
    if (c < '0' || c > '9') return -1;
    v = v * 10 + (c - '0');
  }
  return v;
}
}  // namespace

std::int64_t parse_rfc3339_ns(std::string_view t) {
  // YYYY-MM-DDTHH:MM:SS[.fffffffff](Z|±hh:mm)
  int Y = digits(t, 0, 4), M = digits(t, 5, 2), D = digits(t, 8, 2), h = digits(t, 11, 2), m = digits(t, 14, 2),
      s = digits(t, 17, 2);
  if (Y < 0 || M < 1 || D < 1 || h < 0 || m < 0 || s < 0 || t[4] != '-' || t[7] != '-' || (t[10] != 'T' && t[10] != 't' && t[10] != ' '))
    return -1;
  std::size_t pos = 19;
  std::int64_t frac = 0;
  if (pos < t.size() && t[pos] == '.') {
    ++pos;
    int nd = 0;
    while (pos < t.size() && t[pos] >= '0' && t[pos] <= '9') {
      if (nd < 9) frac = frac * 10 + (t[pos] - '0'), ++nd;
      ++pos;
    }
    for (; nd < 9; ++nd) frac *= 10;
  }
  std::int64_t off = 0;
  if (pos < t.size() && (t[pos] == 'Z' || t[pos] == 'z')) {
    ++pos;
  } else if (pos < t.size() && (t[pos] == '+' || t[pos] == '-')) {
    int oh = digits(t, pos + 1, 2), om = digits(t, pos + 4, 2);
    if (oh < 0 || om < 0) return -1;
    off = (oh * 3600 + om * 60) * (t[pos] == '+' ? 1 : -1);
    pos += 6;
  } else {
    return -1;
  }
  if (pos != t.size()) return -1;
  struct tm tm {};
  tm.tm_year = Y - 1900;
  tm.tm_mon = M - 1;
  tm.tm_mday = D;
  tm.tm_hour = h;
  tm.tm_min = m;
  tm.tm_sec = s;
  std::int64_t secs = static_cast<std::int64_t>(timegm(&tm)) - off, ns;
  // Outside 1677..2262 nanoseconds do not fit: the far past and future saturate (Go's zero time,
  // year 1, is the far past) instead of wrapping around to a time in range.
  if (__builtin_mul_overflow(secs, std::int64_t{1000000000}, &ns) || __builtin_add_overflow(ns, frac, &ns))
    return secs < 0 ? std::numeric_limits<std::int64_t>::min() : std::numeric_limits<std::int64_t>::max();
  return ns;
}

std::int64_t parse_go_duration_ns(const std::string& v) {
  auto bad = [&] { return InvalidArgument("time: invalid duration \"" + v + "\""); };
  if (v == "0") return 0;
  if (v.empty()) throw bad();
  std::size_t i = v[0] == '-' || v[0] == '+' ? 1 : 0;
  double sign = v[0] == '-' ? -1 : 1, total = 0;
  if (i == v.size()) throw bad();
  while (i < v.size()) {
    std::size_t j = i;
    while (j < v.size() && (std::isdigit(static_cast<unsigned char>(v[j])) || v[j] == '.')) ++j;
    if (j == i || v.substr(i, j - i) == ".") throw bad();
    double n;
    try {
      n = std::stod(v.substr(i, j - i));
    } catch (const std::exception&) {  // "1..2" and the like
      throw bad();
    }
    std::size_t k = j;
    while (k < v.size() && !std::isdigit(static_cast<unsigned char>(v[k])) && v[k] != '.') ++k;
    auto unit = v.substr(j, k - j);
    double mul = unit == "ns" ? 1 : unit == "us" || unit == "\u00b5s" ? 1e3 : unit == "ms" ? 1e6 : unit == "s" ? 1e9
               : unit == "m" ? 60e9 : unit == "h" ? 3600e9 : -1;
    if (mul < 0) throw bad();
    total += n * mul;
    i = k;
  }
  if (total > 9.2e18) throw bad();
  return static_cast<std::int64_t>(sign * total);
}

}  // namespace hoist
