// Go's path/filepath rules that COPY/ADD sources and .dockerignore patterns follow (Unix flavour).
#pragma once
#include <string>
#include <string_view>

#include "common/error.h"

namespace hoist::builder {

// filepath.ErrBadPattern: "syntax error in pattern".
class BadPattern : public InvalidArgument {
 public:
  BadPattern() : InvalidArgument("syntax error in pattern") {}
};

// filepath.Match: whether `name` matches the shell pattern. `*` any run of non-/ characters,
// `?` one non-/ character, `[a-z]` `[^a-z]` a character class (a range's ends may be escaped),
// `\x` the character x. Throws BadPattern for a malformed pattern (an unterminated or empty
// class, a trailing `\`, ...) when the matcher reaches it, as Go does.
bool go_match(std::string_view pattern, std::string_view name);

// Whether the pattern holds a wildcard (`*`, `?`, `[`) that makes COPY/ADD expand it.
bool has_wildcard(std::string_view pattern);

// filepath.Clean: the shortest equivalent path ("a/../b/./c//" → "b/c", "" → ".").
std::string go_clean(std::string_view path);

}  // namespace hoist::builder
