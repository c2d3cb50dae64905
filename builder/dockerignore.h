// .dockerignore: which files of a build context are not sent (and so not seen by COPY/ADD), with
// Docker's rules (moby/patternmatcher and the ignorefile reader):
//
// - one pattern a line; a line starting with `#` is a comment; blanks around a pattern are
//   dropped; a pattern is filepath.Clean'ed and a leading `/` removed ("/a/../b" is "b");
// - `!pattern` re-includes what earlier patterns excluded; the last pattern that matches wins;
// - `*` matches within one path element, `?` one character but `/`, `[...]` a class, `\x` x;
//   `**` any number of elements (also none): "**/x" is x anywhere, "a/**" all below a;
// - a pattern that matches a directory matches everything below it, unless a later `!`
//   pattern re-includes a path below;
// - the Dockerfile and the .dockerignore themselves are still sent when a pattern excludes them
//   (the client adds `!` exceptions for them), but the builder then does not let COPY see them.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace hoist::builder {

// The patterns of a .dockerignore file's text, normalised as Docker reads them.
std::vector<std::string> read_dockerignore(std::string_view text);

// Which ignore file applies: "<dockerfile>.dockerignore" (next to the Dockerfile, path relative
// to the context as given to -f) when it exists, else ".dockerignore" at the context's root. The
// caller tries them in this order.
std::vector<std::string> dockerignore_candidates(std::string_view dockerfile);

class IgnoreMatcher {
 public:
  // Throws BadPattern ("syntax error in pattern") or InvalidArgument ("illegal exclusion
  // pattern: \"!\"") for a pattern Docker refuses.
  explicit IgnoreMatcher(const std::vector<std::string>& patterns);

  // Whether the context path (slash-separated, relative to the context's root) is excluded:
  // by a pattern that matches it or one of its parent directories, and not re-included by a
  // later `!` pattern. The context's root itself is never excluded.
  bool excluded(std::string_view path) const;

  // Whether some `!` pattern exists (a walker may then not skip an excluded directory whole,
  // since a path below it may be re-included).
  bool has_exclusions() const { return exclusions_; }

  // The patterns the client sends the context with: these, plus `!` exceptions so that the
  // Dockerfile and the ignore file itself are sent even when excluded (docker CLI's rule; none for
  // a Dockerfile read from stdin).
  static std::vector<std::string> with_build_files(std::vector<std::string> patterns, std::string_view dockerfile,
                                                   std::string_view ignore_file = ".dockerignore",
                                                   bool dockerfile_from_stdin = false);

  // One element of a compiled pattern: a character, `[^/]`, `[^/]*`, `(.*/)?`, `.*`, a class.
  struct Token {
    enum Kind { Lit, AnyButSlash, StarButSlash, DirsOpt, Rest, Class } kind = Lit;
    char32_t ch = 0;                                    // Lit
    std::vector<std::pair<char32_t, char32_t>> ranges;  // Class
    bool negated = false;                               // Class
  };
  struct Pattern {
    enum Type { Exact, Prefix, Suffix, Glob } type = Exact;
    std::string text;  // the cleaned pattern, without `!`
    std::vector<Token> tokens;  // Glob
    bool exclusion = false;
  };

 private:
  bool match(const Pattern& p, std::string_view path) const;
  std::vector<Pattern> patterns_;
  bool exclusions_ = false;
};

}  // namespace hoist::builder
