// Docker's json-file log driver: one JSON object per line,
//   {"log":"hi\n","stream":"stdout","time":"2026-11-23T17:48:47.123456789Z"}
// with "attrs" (the labels, env and tag options' values, log_attrs.h) before "time" when the
// container has any. A line longer than 16 KiB is cut into partial entries (no trailing "\n" in
// "log"). Rotated files are path.1, path.2, ... or, with the compress option, path.1.gz, ...
// The writer is used by hoist-shim (no JSON library, no allocation beyond the line buffer);
// the reader (with tail/since/until/follow) by the container manager.
#pragma once
#include "common/clock.h"
#include "engine/containers/log_ring.h"
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace hoist::engine {

inline constexpr std::size_t kLogPartialMax = 16 * 1024;

// Escapes `s` as the inside of a JSON string (quotes not included), appending to `out`.
void json_escape_append(std::string& out, std::string_view s);
// One json-file entry for `log` (already cut; ends with '\n' unless partial); `attrs`: a JSON
// object's text, or empty for none.
std::string format_log_entry(std::string_view log, std::string_view stream, std::string_view time,
                             std::string_view attrs = {});

// json-file's max-size option ("10m", "512k", "1g", binary units as Docker's RAMInBytes); -1 is
// no limit (0 returned). Throws InvalidArgument for anything else.
std::int64_t parse_log_max_size(const std::string& s);
// The size of the log option max-buffer-size (Docker's RAMInBytes: "1m", "1.5m", "10kb", "0");
// InvalidArgument "invalid size: 'X'" for anything else.
std::int64_t parse_log_buffer_size(const std::string& s);
// The generic log options every driver takes, checked with dockerd's words: mode
// (blocking|non-blocking) and max-buffer-size (mode=non-blocking only). The ring's size for
// LogWriter: -1 for blocking, else max-buffer-size (dockerd's 1e6 bytes when not given).
std::int64_t log_ring_bytes(const std::string* mode, const std::string* max_buffer_size);
// json-file's max-file option: a whole number of at least 1, else InvalidArgument with dockerd's
// words.
int parse_log_max_file(const std::string& s);

// Splits a stream into lines; each complete line (or a 16 KiB chunk) goes out as one entry.
class LogWriter {
 public:
  // `path`: the log file (opened O_APPEND, created 0640). max_size > 0: rotated once it has
  // reached max_size (before the next entry), keeping max_files files in all (path, path.1, ... path.<max_files-1>; the
  // oldest goes); with max_files 1 the file starts over empty (dockerd's default). compress: each
  // rotated file becomes path.N.gz, compressed by a thread of its own while the writer goes on
  // (as dockerd). `attrs`: every entry's "attrs" (a JSON object's text), or empty.
  // `ring_bytes` >= 0 (mode=non-blocking, log_ring.h): entries go through a ring buffer of that
  // many bytes to a thread of their own, and those that do not fit are dropped; -1: written at
  // once (mode=blocking, the caller waits for the disk).
  LogWriter(std::string path, std::int64_t max_size = 0, int max_files = 1, std::string attrs = {},
            bool compress = false, std::int64_t ring_bytes = -1);
  ~LogWriter();
  LogWriter(const LogWriter&) = delete;
  LogWriter& operator=(const LogWriter&) = delete;
  // stream: 1 = stdout, 2 = stderr.
  void write(int stream, std::string_view data);
  // Writes out what is buffered (a partial line at EOF; the ring's entries), as Docker does on close.
  void flush();

 private:
  void emit(int stream, std::string_view line);
  void write_entry(const std::string& e);
  void rotate();
  std::string path_;
  std::int64_t max_size_ = 0, size_ = 0;
  int max_files_ = 1;
  int fd_ = -1;
  std::string attrs_;
  bool compress_ = false;
  std::thread compressor_;  // the last rotated file's compression, joined before the next rotation
  std::string pending_[3];
  std::unique_ptr<LogRing> ring_;  // mode=non-blocking; declared last: stopped first
};

struct LogEntry {
  std::string log;     // the text, with its "\n" unless partial
  std::string stream;  // "stdout" or "stderr"
  std::string time;    // RFC 3339 with nanoseconds
  std::vector<std::pair<std::string, std::string>> attrs;  // sorted by key
};

// `docker logs --details`'s prefix of an entry: its attrs as k=v,k2=v2 (both query-escaped as Go's
// url.QueryEscape), then a space.
std::string log_details_prefix(const LogEntry& e);

// Parses one line of a json-file log; false on junk.
bool parse_log_entry(std::string_view line, LogEntry& out);
// Docker's `since`/`until` values: RFC 3339, or unix seconds with optional fraction ("1700000000.5").
std::int64_t parse_time_arg_ns(std::string_view v);

struct LogReadOptions {
  bool stdout_ = true, stderr_ = true;
  bool timestamps = false;    // only passed through: the callback gets the entry's time anyway
  long long tail = -1;        // last N entries; -1 = all
  std::int64_t since_ns = 0;  // 0 = no bound
  std::int64_t until_ns = 0;  // 0 = no bound
  bool follow = false;
};

// Calls `sink` for each selected entry of the log at `path` (and the rotated files before it,
// oldest first: path.N ... path.1, each plain or gzip-compressed as path.N.gz). With follow, keeps reading appended entries until `still_running()` is false and
// the file is drained, or `cancel` is set, or `sink` returns false.
// A missing file is an empty log.
void read_logs(const std::string& path, const LogReadOptions& opts,
               const std::function<bool(const LogEntry&)>& sink,
               const std::function<bool()>& still_running = {}, const std::atomic<bool>* cancel = nullptr);

}  // namespace hoist::engine
