#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace hoist {
// The current UTC time as RFC 3339 with nanoseconds: 2026-11-23T17:48:47.123456789Z
std::string now_rfc3339();
// A time in nanoseconds since the epoch as Go's time.RFC3339Nano writes it (the fraction's
// trailing zeros dropped), in UTC: 2026-11-23T17:48:47.1234Z, or with `local` in the local
// time zone: 2026-11-23T18:48:47.1234+01:00 (Z when the offset is 0).
std::string rfc3339_nano(std::int64_t ns, bool local = false);
// RFC 3339 (optional fraction, Z or ±hh:mm) → nanoseconds since the epoch; -1 on junk. Times
// before 1677 or after 2262 saturate to the int64 minimum or maximum.
std::int64_t parse_rfc3339_ns(std::string_view t);
// Go's time.ParseDuration ("1m30s", "500ms", "2h") in nanoseconds; InvalidArgument
// "time: invalid duration \"V\"" otherwise.
std::int64_t parse_go_duration_ns(const std::string& v);
// CLOCK_MONOTONIC in milliseconds.
long long monotonic_ms();
}  // namespace hoist
