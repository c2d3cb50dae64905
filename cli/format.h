// Output formatting for the hoist CLI, as docker's: Go-template subset ({{.Field}}, nested fields,
// {{json .X}}, {{index .M "k"}}, {{upper|lower .X}}, {{join .X ","}}), "table" formats with tab
// alignment, human sizes and durations, progress bars, and the 8-byte-header stream demuxer.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace hoist::cli {

// Renders a Go-template subset against a JSON value. Throws hoist::Error on a bad template.
std::string render_template(std::string_view tmpl, const nlohmann::json& value);

// docker's `--format` handling for a list: "json" (one JSON object a line), "table [TEMPLATE]"
// (a header row from `headers` — field name → column title — and aligned columns) or a plain
// template (one rendered line per row). `\t` in the format string means a tab.
std::string format_list(std::string format, const std::vector<nlohmann::json>& rows,
                        const std::map<std::string, std::string>& headers);

// Aligns tab-separated cells like Go's tabwriter(minwidth 10, padding 3): the last cell of a
// line is not padded.
std::string tabwrite(const std::vector<std::string>& lines);

// go-units HumanSizeWithPrecision: decimal units, "%.{p}g": 1.23MB, 4.1kB, 512B.
std::string human_size(double bytes, int precision = 4);
// go-units BytesSize (binary units): 1.5MiB.
std::string bytes_size(double bytes);
// go-units HumanDuration: "Less than a second", "3 seconds", "About a minute", "2 hours"...
std::string human_duration(double seconds);
// docker's container status: "Created", "Up 3 seconds", "Up 2 minutes (Paused)",
// "Exited (0) 5 seconds ago", "Restarting (1) 2 seconds ago", "Removal In Progress", "Dead".
std::string container_status(std::string_view state, int exit_code, double since_start_s, double since_finish_s,
                             std::string_view health = {});
// RFC 3339 (with optional fraction / offset) → Unix seconds (fractional); 0 for the zero time
// or junk.
double parse_rfc3339(std::string_view s);
// docker's timetypes.GetTimestamp for --since/--until: a Go duration ("10m", "1h30m") means that
// long before `now`; RFC 3339 times and dates become Unix seconds; Unix seconds (with an optional
// ".nanoseconds") pass as they are. Result: "<seconds>" or "<seconds>.<9 digits>". Throws on junk.
std::string get_timestamp(std::string_view value, double now);
// A Unix time as Go's time.Time.String() in local time: "2026-11-23 20:30:37 +0000 UTC".
std::string go_time_string(long long unix_s);

// docker's JSONProgress.String(): "[=====>     ]  1.2MB/3.4MB" (bar only when width > 110).
std::string progress_bar(long long current, long long total, int width = 120);
// One status line of a pull/push: "<id>: <status> <progress>".
std::string progress_line(std::string_view id, std::string_view status, std::string_view progress);

// Docker's multiplexed stream: frames of [stream(1) 0 0 0 size(BE32)] + payload. Feed bytes in
// any chunking; `out(stream, data)` is called for each payload piece (stream 0 stdin, 1 stdout,
// 2 stderr).
class Demuxer {
 public:
  using Sink = std::function<void(int stream, std::string_view data)>;
  explicit Demuxer(Sink out) : out_(std::move(out)) {}
  void feed(std::string_view data);
  // True when no frame is half-read.
  bool idle() const { return hdr_len_ == 0 && remaining_ == 0; }

 private:
  Sink out_;
  unsigned char hdr_[8]{};
  size_t hdr_len_ = 0;
  uint32_t remaining_ = 0;
  int stream_ = 1;
};

// Short id: the first 12 hex digits, without "sha256:".
std::string short_id(std::string_view id);
// Truncates to n characters adding "…" as docker's ps does (n-1 chars + "…").
std::string ellipsis(std::string_view s, size_t n);

// Parses docker's size strings for --memory: "512m", "1g", "100000" (binary units). Throws.
long long parse_ram_size(std::string_view s);
// Go durations: "30s", "1m30s", "500ms", "2h" → nanoseconds. Throws.
long long parse_go_duration(std::string_view s);
// "KEY=VALUE" lines of an env file (comments and blanks skipped; a bare KEY is kept as is).
std::vector<std::string> parse_env_file(std::string_view content);

}  // namespace hoist::cli
