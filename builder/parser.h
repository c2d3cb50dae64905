// The Dockerfile parser, first half: text → one Node per instruction, as Docker's parser
// (BuildKit's frontend/dockerfile/parser) reads it.
//
// - Parser directives at the top (`# escape=`` ` ``, `# syntax=...`, `# check=...`): recognised
//   until the first line that is not one; each at most once ("only one escape parser directive can
//   be used"). `escape` sets the escape and line-continuation character (`\` or `` ` ``);
//   `syntax` and `check` are accepted and reported in `notes` as ignored (Hoist has one frontend
//   and runs no build checks).
// - A UTF-8 byte-order mark on the first line is dropped; `#` lines are comments, and inside a
//   continuation they are dropped without ending it; an empty continuation line is skipped with
//   Docker's warning.
// - An instruction is its keyword, its `--flag` words and its arguments, which each keyword's
//   own rule splits: JSON array (exec form; an array that is not valid JSON falls back to the
//   shell form, one holding anything but strings is an error), a whole string, words at blanks,
//   or name/value pairs (ENV, LABEL: `k=v ...` or the old `k v w`).
// - Heredocs after RUN, COPY and ADD (also under ONBUILD), not in the JSON form: `<<EOF`,
//   `<<-EOF` (leading tabs of the body and of the terminator line dropped), `<<"EOF"` / `<<'EOF'`
//   (the body is not expanded), `3<<EOF`, several per line in order; the body runs to the line
//   that is exactly the delimiter.
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace hoist::builder {

// A Dockerfile error: Docker's message (what()), and where it is.
//
// what() is the text dockerd 20.10's classic builder answers with (its API error message), e.g.
// "dockerfile parse error line 3: unknown instruction: FOO" for an instruction's error and
// "failed to parse Dockerfile: file with no instructions" for the parser's own; where only
// BuildKit knows the construct (heredocs, newer flags), the message is BuildKit's, under the same
// prefixes. problem() is the message alone, file() and line() the place (line 0: none).
class DockerfileError : public InvalidArgument {
 public:
  DockerfileError(std::string what, std::string file, int line, std::string problem)
      : InvalidArgument(std::move(what)), file_(std::move(file)), line_(line), problem_(std::move(problem)) {}
  const std::string& file() const { return file_; }
  int line() const { return line_; }
  const std::string& problem() const { return problem_; }
  // "Dockerfile:3: unknown instruction: FOO"
  std::string located() const;

 private:
  std::string file_;
  int line_;
  std::string problem_;
};

struct Heredoc {
  std::string name;      // the delimiter, quotes removed
  std::string content;   // the body as written, each line with its line ending
  bool expand = true;    // false when the delimiter was quoted
  bool chomp = false;    // <<-: leading tabs of each body line are removed when used
  unsigned fd = 0;       // the number before <<, 0 when none
};

// Docker's rule for one argument word: a heredoc start (`<<EOF`, `<<-"EOF"`, `3<<EOF`) or not.
// Throws LexError for a word the lexer refuses.
bool parse_heredoc_word(std::string_view word, Heredoc& out);

// `<<-` bodies: leading tabs removed from every line.
std::string chomp_heredoc(std::string_view content);

struct Node {
  std::string keyword;             // as written: "RUN", "run", "Run"
  std::string lower;               // lower case
  std::vector<std::string> flags;  // the leading --name[=value] words, quotes and escapes removed
  // The arguments as the keyword's rule splits them: exec-form elements or one shell-form
  // string (RUN CMD ENTRYPOINT SHELL), words (ADD COPY VOLUME EXPOSE FROM ARG), one string
  // (MAINTAINER USER WORKDIR STOPSIGNAL), key/value/separator triples with separator "=" or ""
  // (ENV LABEL), type then command (HEALTHCHECK), the inner keyword then its arguments (ONBUILD).
  std::vector<std::string> args;
  bool json = false;               // exec form
  std::string original;            // the instruction's text after joining continuation lines
  std::vector<Heredoc> heredocs;
  int start_line = 0, end_line = 0;
  std::unique_ptr<Node> inner;     // ONBUILD's instruction
};

struct Directive {
  std::string name;   // lower case: syntax, escape, check
  std::string value;
  int line = 0;
};

struct ParsedDockerfile {
  std::string file;                   // the name errors and notes use ("Dockerfile")
  std::vector<Node> nodes;
  char escape = '\\';
  std::vector<Directive> directives;
  std::vector<std::string> warnings;  // Docker's words, for the build's output
  std::vector<std::string> notes;     // what Hoist ignores (the syntax and check directives)
};

// Parses a whole Dockerfile. Throws DockerfileError.
ParsedDockerfile parse_dockerfile(std::string_view text, const std::string& file = "Dockerfile");

}  // namespace hoist::builder
