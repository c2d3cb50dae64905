// Docker's shell lexer (BuildKit's frontend/dockerfile/shell): quotes, escapes and variable
// substitution in Dockerfile words, without running a shell.
//
//   $v ${v}              the value, or "" when unset
//   ${v:-w} ${v-w}       w when v is unset or empty (":-") / unset ("-")
//   ${v:+w} ${v+w}       w when v is set and not empty / set, else ""
//   ${v:?e} ${v?e}       v, or the error "v: e" (default "is not allowed to be empty/unset")
//   ${v#p} ${v##p}       v without its shortest / longest prefix matching the glob p
//   ${v%s} ${v%%s}       v without its shortest / longest suffix matching the glob s
//   ${v/p/r} ${v//p/r}   v with the first / every (longest) match of p replaced by r
//   '...'                literal; "..." literal but for $ and the escapes \" \$ \\ (escape
//                        token); ESC x is x outside quotes; an escape at the end is dropped
//
// Globs: `*` any run of characters, `?` one character (neither crosses a newline, as Go's
// regexp `.`), `\*` `\?` `\\` literal, `\}` `\/` literal (others: "invalid escape"). `$1` and
// the special parameters (`$@`, `$#`, ...) are looked up by those names (and so are unset).
// A name is ASCII letters, digits and `_` (Go also takes other Unicode letters and digits).
#pragma once
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace hoist::builder {

// A lexer error, as Docker words it: `failed to process "${A": syntax error: missing '}'`.
class LexError : public InvalidArgument {
 public:
  using InvalidArgument::InvalidArgument;
};

struct LexResult {
  std::string word;                    // the whole text after substitution and quote removal
  std::vector<std::string> words;      // the same split into words at unquoted blanks
  std::set<std::string> matched;       // variables the text used that were set
  std::set<std::string> unmatched;     // ... and those that were not
};

// A variable's value, or nullopt when it is not set.
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;

// An EnvLookup over KEY=value entries (kept by reference); the last entry of a name wins (Docker
// builds a map of them), an entry without `=` is a name with an empty value.
EnvLookup env_lookup(const std::vector<std::string>& env);

struct ShellLex {
  char escape = '\\';               // the escape token: `\` or the parser directive's "`"
  bool raw_quotes = false;          // keep the quote characters in the result
  bool raw_escapes = false;         // keep the escape tokens in the result
  bool skip_unset_env = false;      // leave $v / ${v...} of an unset v as written
  bool skip_process_quotes = false; // quotes are ordinary characters

  // Throws LexError.
  LexResult process(std::string_view text, const EnvLookup& env) const;
  std::string word(std::string_view text, const EnvLookup& env) const { return process(text, env).word; }
  std::vector<std::string> words(std::string_view text, const EnvLookup& env) const {
    return process(text, env).words;
  }
};

}  // namespace hoist::builder
