// The few rune-level rules of Go's standard library that Dockerfile processing depends on:
// UTF-8 decoding as Go's range loop does it, unicode.IsSpace, unicode.IsDigit/IsLetter for ASCII,
// and strconv.Quote (the `%q` of the history's created_by texts).
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace hoist::builder::go {

// The rune at s[pos] and its width in bytes; an invalid or truncated sequence is U+FFFD of width
// 1 (as Go's utf8.DecodeRuneInString). pos must be < s.size().
struct Rune {
  char32_t r;
  std::size_t width;
};
Rune decode_rune(std::string_view s, std::size_t pos);

// unicode.IsSpace.
bool is_space(char32_t r);

// Trims what unicode.IsSpace calls space from the left, the right or both ends.
std::string_view trim_left_space(std::string_view s);
std::string_view trim_space(std::string_view s);

// strconv.Quote: "..." with Go's escapes (\a \b \f \n \r \t \v \\ \", \xNN for bytes that are not
// UTF-8, \uNNNN / \UNNNNNNNN for runes Go does not print). Go's table of printable runes is
// approximated by: every rune outside the C0/C1 controls, U+007F, U+00A0, U+00AD, the Unicode
// separators (U+2028, U+2029), U+FEFF and the surrogate/unassigned-plane ranges is printable.
std::string quote(std::string_view s);

// fmt's %q of a []string: ["a" "b"].
std::string quote_list(const std::vector<std::string>& v);

// fmt's %v of a []string: [a b].
std::string plain_list(const std::vector<std::string>& v);

}  // namespace hoist::builder::go
