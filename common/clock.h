#pragma once
#include <string>

namespace hoist {
// The current UTC time as RFC 3339 with nanoseconds: 2026-11-23T17:48:47.123456789Z
std::string now_rfc3339();
// CLOCK_MONOTONIC in milliseconds.
long long monotonic_ms();
}  // namespace hoist
