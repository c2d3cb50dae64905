#include "engine/containers/logs.h"

#include <charconv>
#include "common/error.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <nlohmann/json.hpp>
#include <thread>
#include <zlib.h>

#include "common/clock.h"

namespace hoist::engine {

namespace {

// Docker's units.RAMInBytes: a number (a fraction allowed), then an optional binary unit.
std::int64_t ram_in_bytes(const std::string& s) {
  auto bad = [&] { return InvalidArgument("invalid size: '" + s + "'"); };
  std::size_t i = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
  if (i == 0 || i > 15) throw bad();
  double n = std::stod(s.substr(0, i));
  if (i < s.size() && s[i] == '.') {
    std::size_t j = i + 1;
    while (j < s.size() && s[j] >= '0' && s[j] <= '9') ++j;
    if (j == i + 1) throw bad();
    n = std::stod(s.substr(0, j));
    i = j;
  }
  if (i < s.size() && s[i] == ' ') ++i;
  std::string unit = s.substr(i);
  for (auto& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  static const char* const kUnits = "kmgtp";
  double mult = 1;
  if (!unit.empty() && std::strchr(kUnits, unit[0])) {
    for (const char* u = kUnits; *u; ++u) {
      mult *= 1024;
      if (*u == unit[0]) break;
    }
    unit.erase(0, 1);
  }
  if (unit != "" && unit != "b" && unit != "ib" && unit != "i") throw bad();
  double bytes = n * mult;
  if (bytes > 9.0e18) throw bad();
  return static_cast<std::int64_t>(bytes);
}

}  // namespace

std::int64_t parse_log_max_size(const std::string& s) {
  if (s == "-1") return 0;
  auto n = ram_in_bytes(s);
  if (n < 1) throw InvalidArgument("invalid size: '" + s + "'");
  return n;
}

std::int64_t parse_log_buffer_size(const std::string& s) { return ram_in_bytes(s); }

std::int64_t log_ring_bytes(const std::string* mode, const std::string* max_buffer_size) {
  std::string m = mode ? *mode : "";
  if (m != "" && m != "blocking" && m != "non-blocking")
    throw InvalidArgument("logger: logging mode not supported: " + m);
  if (max_buffer_size) {
    if (m != "non-blocking")
      throw InvalidArgument("logger: max-buffer-size option is only supported with 'mode=non-blocking'");
    try {
      return parse_log_buffer_size(*max_buffer_size);
    } catch (const InvalidArgument& e) {
      throw InvalidArgument(std::string("error parsing option max-buffer-size: ") + e.what());
    }
  }
  return m == "non-blocking" ? kLogRingDefaultBytes : -1;
}


void json_escape_append(std::string& out, std::string_view s) {
  static const char* hex = "0123456789abcdef";
  for (std::size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += "\\u00";
          out += hex[c >> 4];
          out += hex[c & 15];
        } else if (c < 0x80) {
          out += static_cast<char>(c);
        } else {
          // Valid UTF-8 passes through; an invalid byte becomes U+FFFD (as Go's encoder does).
          std::size_t n = c >= 0xf0 && c < 0xf5 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
          bool ok = n && i + n <= s.size();
          for (std::size_t k = 1; ok && k < n; ++k) ok = (static_cast<unsigned char>(s[i + k]) & 0xc0) == 0x80;
          if (ok) {
            out.append(s.substr(i, n));
            i += n - 1;
          } else {
            out += "\\ufffd";
          }
        }
    }
  }
}

std::string format_log_entry(std::string_view log, std::string_view stream, std::string_view time,
                             std::string_view attrs) {
  std::string out;
  out.reserve(log.size() + attrs.size() + 80);
  out += "{\"log\":\"";
  json_escape_append(out, log);
  out += "\",\"stream\":\"";
  out += stream;
  if (!attrs.empty()) {
    out += "\",\"attrs\":";
    out += attrs;
    out += ",\"time\":\"";
  } else {
    out += "\",\"time\":\"";
  }
  out += time;
  out += "\"}\n";
  return out;
}

int parse_log_max_file(const std::string& s) {
  int n = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size())
    throw InvalidArgument("strconv.Atoi: parsing \"" + s + "\": invalid syntax");
  if (n < 1) throw InvalidArgument("max-file cannot be less than 1");
  return n;
}

LogWriter::LogWriter(std::string path, std::int64_t max_size, int max_files, std::string attrs, bool compress,
                     std::int64_t ring_bytes)
    : path_(std::move(path)),
      max_size_(max_size),
      max_files_(max_files < 1 ? 1 : max_files),
      attrs_(std::move(attrs)),
      compress_(compress && max_size > 0 && max_files > 1) {
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  struct stat st;
  if (fd_ >= 0 && fstat(fd_, &st) == 0) size_ = st.st_size;
  if (ring_bytes >= 0) ring_ = std::make_unique<LogRing>(ring_bytes, [this](const std::string& e) { write_entry(e); });
}

LogWriter::~LogWriter() {
  flush();
  ring_.reset();
  if (fd_ >= 0) ::close(fd_);
  if (compressor_.joinable()) compressor_.join();
}

namespace {

// `from` gzip-compressed into `to` (through to.tmp, renamed), then `from` removed; on a failure
// `from` stays as it is (the readers take either form).
void gzip_file(const std::string& from, const std::string& to) {
  int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return;
  std::string tmp = to + ".tmp";
  int out_fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  gzFile out = out_fd >= 0 ? ::gzdopen(out_fd, "wb") : nullptr;
  if (out_fd >= 0 && !out) ::close(out_fd);
  bool ok = out != nullptr;
  char buf[65536];
  while (ok) {
    ssize_t n = ::read(in, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ok = n == 0;
      break;
    }
    ok = ::gzwrite(out, buf, static_cast<unsigned>(n)) == n;
  }
  ::close(in);
  if (out && ::gzclose(out) != Z_OK) ok = false;
  if (ok && ::rename(tmp.c_str(), to.c_str()) == 0) {
    ::unlink(from.c_str());
  } else {
    ::unlink(tmp.c_str());
  }
}

}  // namespace

void LogWriter::rotate() {
  // path.<n-1> goes, each older file moves up one, the current one becomes path.1; with one file
  // in all, it is dropped. Readers that follow see a new inode and read the old one out.
  if (compressor_.joinable()) compressor_.join();
  auto name = [&](int i, bool gz) { return path_ + "." + std::to_string(i) + (gz ? ".gz" : ""); };
  for (int i = max_files_ - 1; i >= 2; --i)
    for (bool gz : {false, true}) ::rename(name(i - 1, gz).c_str(), name(i, gz).c_str());
  if (max_files_ >= 2) {
    ::unlink(name(1, true).c_str());
    ::rename(path_.c_str(), name(1, false).c_str());
    if (compress_) compressor_ = std::thread(gzip_file, name(1, false), name(1, true));
  } else {
    ::unlink(path_.c_str());
  }
  ::close(fd_);
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  size_ = 0;
}

void LogWriter::emit(int stream, std::string_view line) {
  if (fd_ < 0) return;
  std::string e = format_log_entry(line, stream == 2 ? "stderr" : "stdout", now_rfc3339(), attrs_);
  if (ring_) ring_->push(std::move(e), line.size());  // dropped when the ring is full
  else write_entry(e);
}

void LogWriter::write_entry(const std::string& e) {
  // dockerd's rule: a file is rotated once it has reached max_size (its last entry may cross it).
  if (max_size_ > 0 && size_ >= max_size_) {
    rotate();
    if (fd_ < 0) return;
  }
  const char* p = e.data();
  std::size_t left = e.size();
  while (left) {
    ssize_t n = ::write(fd_, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // a full disk loses log lines, never the container
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  size_ += static_cast<std::int64_t>(e.size());
}

void LogWriter::write(int stream, std::string_view data) {
  if (stream != 1 && stream != 2) stream = 1;
  std::string& pend = pending_[stream];
  while (!data.empty()) {
    auto nl = data.find('\n');
    std::size_t take = nl == std::string_view::npos ? data.size() : nl + 1;
    if (pend.size() + take > kLogPartialMax && (nl == std::string_view::npos || pend.size() + take > kLogPartialMax + 1)) {
      // Cut at 16 KiB: a partial entry.
      std::size_t room = kLogPartialMax - pend.size();
      pend.append(data.substr(0, room));
      emit(stream, pend);
      pend.clear();
      data.remove_prefix(room);
      continue;
    }
    pend.append(data.substr(0, take));
    data.remove_prefix(take);
    if (!pend.empty() && pend.back() == '\n') {
      emit(stream, pend);
      pend.clear();
    }
  }
}

void LogWriter::flush() {
  for (int s = 1; s <= 2; ++s)
    if (!pending_[s].empty()) {
      emit(s, pending_[s]);
      pending_[s].clear();
    }
  if (ring_) ring_->drain();
}

bool parse_log_entry(std::string_view line, LogEntry& out) {
  auto j = nlohmann::json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return false;
  auto str = [&](const char* k) -> std::string {
    auto it = j.find(k);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  out.log = str("log");
  out.stream = str("stream");
  out.time = str("time");
  out.attrs.clear();
  if (auto it = j.find("attrs"); it != j.end() && it->is_object())
    for (auto& [k, v] : it->items())  // nlohmann's objects are sorted by key
      if (v.is_string()) out.attrs.emplace_back(k, v.get<std::string>());
  return true;
}

std::string log_details_prefix(const LogEntry& e) {
  auto escape = [](std::string_view s) {  // Go's url.QueryEscape
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
      if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
        out += static_cast<char>(c);
      } else if (c == ' ') {
        out += '+';
      } else {
        out += '%';
        out += hex[c >> 4];
        out += hex[c & 15];
      }
    }
    return out;
  };
  std::string out;
  for (auto& [k, v] : e.attrs) {
    if (!out.empty()) out += ',';
    out += escape(k) + "=" + escape(v);
  }
  return out + " ";
}

std::int64_t parse_time_arg_ns(std::string_view v) {
  if (v.empty()) return 0;
  std::int64_t r = parse_rfc3339_ns(v);
  if (r >= 0) return r;
  // Unix seconds[.fraction]
  std::int64_t secs = 0, frac = 0;
  std::size_t i = 0;
  bool any = false;
  for (; i < v.size() && v[i] >= '0' && v[i] <= '9'; ++i) secs = secs * 10 + (v[i] - '0'), any = true;
  if (i < v.size() && v[i] == '.') {
    ++i;
    int nd = 0;
    for (; i < v.size() && v[i] >= '0' && v[i] <= '9'; ++i)
      if (nd < 9) frac = frac * 10 + (v[i] - '0'), ++nd;
    for (; nd < 9; ++nd) frac *= 10;
  }
  if (!any || i != v.size()) return -1;
  return secs * 1000000000LL + frac;
}

namespace {

bool selected(const LogEntry& e, const LogReadOptions& o) {
  if (e.stream == "stderr" ? !o.stderr_ : !o.stdout_) return false;
  if (o.since_ns > 0 || o.until_ns > 0) {
    std::int64_t t = parse_rfc3339_ns(e.time);
    if (o.since_ns > 0 && t < o.since_ns) return false;
    if (o.until_ns > 0 && t > o.until_ns) return false;
  }
  return true;
}

// Reads complete lines from fd starting at `buf` leftovers; returns false when the sink stops.
bool drain(int fd, std::string& buf, const std::function<bool(std::string_view)>& line_fn) {
  char tmp[65536];
  for (;;) {
    ssize_t n = ::read(fd, tmp, sizeof tmp);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    buf.append(tmp, static_cast<std::size_t>(n));
    std::size_t start = 0, nl;
    while ((nl = buf.find('\n', start)) != std::string::npos) {
      if (!line_fn(std::string_view(buf).substr(start, nl - start))) return false;
      start = nl + 1;
    }
    buf.erase(0, start);
  }
  return true;
}

}  // namespace

void read_logs(const std::string& path, const LogReadOptions& opts, const std::function<bool(const LogEntry&)>& sink,
               const std::function<bool()>& still_running, const std::atomic<bool>* cancel) {
  std::deque<LogEntry> tail;
  bool use_tail = opts.tail >= 0;
  bool stopped = false;
  auto take = [&](std::string_view line) {
    LogEntry e;
    if (!parse_log_entry(line, e) || !selected(e, opts)) return true;
    if (use_tail) {
      if (opts.tail == 0) return true;
      tail.push_back(std::move(e));
      if (static_cast<long long>(tail.size()) > opts.tail) tail.pop_front();
      return true;
    }
    if (!sink(e)) stopped = true;
    return !stopped;
  };
  {
    // path.1 ... path.<rotated> exist, each plain or compressed (path.N.gz; while it is being
    // compressed, the plain one is read).
    auto rotated_name = [&](int i, bool gz) { return path + "." + std::to_string(i) + (gz ? ".gz" : ""); };
    int rotated = 0;
    while (::access(rotated_name(rotated + 1, false).c_str(), F_OK) == 0 ||
           ::access(rotated_name(rotated + 1, true).c_str(), F_OK) == 0)
      ++rotated;
    for (int i = rotated; i >= 1; --i) {
      std::string buf;
      int old = ::open(rotated_name(i, false).c_str(), O_RDONLY | O_CLOEXEC);
      if (old >= 0) {
        drain(old, buf, take);
        ::close(old);
      } else if (gzFile gz = ::gzopen(rotated_name(i, true).c_str(), "rb")) {
        char chunk[65536];
        int n;
        while (!stopped && (n = ::gzread(gz, chunk, sizeof chunk)) > 0) {
          buf.append(chunk, static_cast<std::size_t>(n));
          std::size_t start = 0, nl;
          while ((nl = buf.find('\n', start)) != std::string::npos) {
            if (!take(std::string_view(buf).substr(start, nl - start))) break;
            start = nl + 1;
          }
          buf.erase(0, start);
        }
        ::gzclose(gz);
      }
      if (stopped) return;
    }
  }
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  std::string buf;
  if (fd >= 0) drain(fd, buf, take);
  if (use_tail) {
    use_tail = false;
    for (auto& e : tail)
      if (!sink(e)) {
        stopped = true;
        break;
      }
  }
  if (stopped || !opts.follow) {
    if (fd >= 0) ::close(fd);
    return;
  }
  ino_t ino = 0;
  struct stat st;
  if (fd >= 0 && fstat(fd, &st) == 0) ino = st.st_ino;
  for (;;) {
    if (cancel && cancel->load()) break;
    bool running = still_running ? still_running() : false;
    if (fd < 0) fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0 && !drain(fd, buf, take)) break;
    // Rotated: the writer renamed our file to path.1 and opened a new one.
    struct stat now;
    if (fd >= 0 && ::stat(path.c_str(), &now) == 0 && now.st_ino != ino) {
      if (!drain(fd, buf, take)) break;
      ::close(fd);
      buf.clear();
      fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      ino = now.st_ino;
      continue;
    }
    if (!running) {
      if (fd >= 0) drain(fd, buf, take);
      break;
    }
    if (opts.until_ns > 0) {
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      if (ts.tv_sec * 1000000000LL + ts.tv_nsec > opts.until_ns) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (fd >= 0) ::close(fd);
}

}  // namespace hoist::engine
