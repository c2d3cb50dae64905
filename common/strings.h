#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace hoist {

std::vector<std::string> split(std::string_view s, char sep);
std::string join(const std::vector<std::string>& parts, std::string_view sep);
std::string_view trim(std::string_view s);
// Go's path.Clean for slash paths (lexical): "a/../../b" -> "../b", "/../x" -> "/x", "x/" -> "x",
// "" -> "." (file.h's clean_path instead makes every path absolute).
std::string go_clean(std::string_view p);
// Parses a decimal integer; throws Error naming `what` on junk or overflow.
long long parse_int(std::string_view s, std::string_view what);

}  // namespace hoist
