// Shared by the libFuzzer targets: what counts as a finding.
//
// A target feeds one input to one entry point. The errors the entry point documents for bad input
// (hoist::Error and its kinds, which the API turns into 400/404/409, and nlohmann's
// json::exception, a 400) are expected; anything else (a crash, a sanitizer report, any other
// exception such as std::out_of_range from stoi, or a broken invariant the target checks) is a
// finding: libFuzzer stops and saves the input.
#pragma once
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/error.h"

namespace hoist::fuzz {

template <typename F>
void expect_only_input_errors(F&& f) {
  try {
    f();
  } catch (const hoist::Error&) {
  } catch (const nlohmann::json::exception&) {
  }
}

// A broken invariant: print it and abort (libFuzzer saves the input as a crash).
[[noreturn]] inline void fail(const std::string& what) {
  std::fprintf(stderr, "fuzz invariant broken: %s\n", what.c_str());
  std::abort();
}

inline std::string_view as_text(const unsigned char* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace hoist::fuzz
