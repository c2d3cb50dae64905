#include "builder/parser.h"

#include <cctype>
#include <set>

#include <nlohmann/json.hpp>

#include "builder/go_text.h"
#include "builder/shell_lex.h"
#include "common/json.h"

namespace hoist::builder {

std::string DockerfileError::located() const {
  return line_ > 0 ? file_ + ":" + std::to_string(line_) + ": " + problem_ : file_ + ": " + problem_;
}

namespace {

// A failure of the line rules; parse_dockerfile() adds the location.
struct LineError {
  std::string msg;
};

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Go's regexp `[\t\v\f\r ]`: the blanks that separate a keyword from its arguments and the words
// of ADD, COPY, VOLUME, EXPOSE and FROM.
bool ascii_blank(char c) { return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r'; }

// Splits at runs of ascii_blank; at most `max` parts (0: no limit).
std::vector<std::string> split_blanks(std::string_view s, std::size_t max = 0) {
  std::vector<std::string> out;
  std::size_t i = 0;
  for (;;) {
    std::size_t j = i;
    if (max && out.size() + 1 == max) j = s.size();
    else while (j < s.size() && !ascii_blank(s[j])) ++j;
    out.emplace_back(s.substr(i, j - i));
    if (j >= s.size()) break;
    while (j < s.size() && ascii_blank(s[j])) ++j;
    i = j;
  }
  return out;
}

// --flag words at the start of the arguments: quotes and escapes removed, as Docker's
// extractBuilderFlags. A bare `--` ends the flags. Returns the rest of the line.
std::string_view extract_flags(std::string_view line, char escape, std::vector<std::string>& flags) {
  enum { Spaces, Word, Quote } phase = Spaces;
  std::string word;
  char quote = 0;
  bool blank_ok = false;
  auto space = [](char c) { return ascii_blank(c) || c == '\n'; };
  for (std::size_t pos = 0; pos <= line.size(); ++pos) {
    char ch = pos < line.size() ? line[pos] : 0;
    if (phase == Spaces) {
      if (pos == line.size()) break;
      if (space(ch)) continue;
      if (ch != '-' || pos + 1 == line.size() || line[pos + 1] != '-') return line.substr(pos);
      phase = Word;
    }
    if (pos == line.size()) {
      if (word != "--" && (blank_ok || !word.empty())) flags.push_back(word);
      break;
    }
    if (phase == Word) {
      if (space(ch)) {
        phase = Spaces;
        if (word == "--") return line.substr(pos);
        if (blank_ok || !word.empty()) flags.push_back(word);
        word.clear();
        blank_ok = false;
        continue;
      }
      if (ch == '\'' || ch == '"') {
        quote = ch;
        blank_ok = true;
        phase = Quote;
        continue;
      }
      if (ch == escape) {
        if (pos + 1 == line.size()) continue;
        ch = line[++pos];
      }
      word += ch;
      continue;
    }
    // Quote
    if (ch == quote) {
      phase = Word;
      continue;
    }
    if (ch == escape) {
      if (pos + 1 == line.size()) {
        phase = Word;
        continue;
      }
      ch = line[++pos];
    }
    word += ch;
  }
  return {};
}

// Docker's parseWords: words at blanks outside quotes, quotes and escapes kept.
std::vector<std::string> parse_words(std::string_view rest, char escape) {
  enum { Spaces, Word, Quote } phase = Spaces;
  std::vector<std::string> words;
  std::string buf;
  char32_t quote = 0;
  bool blank_ok = false;
  std::size_t pos = 0;
  go::Rune cr{0, 0};
  auto take = [&] {  // the current rune into the word
    buf.append(rest.substr(pos, cr.width));
    pos += cr.width;
  };
  // An escape: kept with the rune after it; at the end of the text dropped. False when dropped.
  auto escaped = [&] {
    if (pos + cr.width == rest.size()) {
      pos += cr.width;
      return false;
    }
    take();
    cr = go::decode_rune(rest, pos);
    return true;
  };
  while (pos <= rest.size()) {
    cr = pos < rest.size() ? go::decode_rune(rest, pos) : go::Rune{0, 0};
    if (phase == Spaces) {
      if (pos == rest.size()) break;
      if (go::is_space(cr.r)) {
        pos += cr.width;
        continue;
      }
      phase = Word;
    }
    if (pos == rest.size()) {
      if (blank_ok || !buf.empty()) words.push_back(buf);
      break;
    }
    if (phase == Word) {
      if (go::is_space(cr.r)) {
        phase = Spaces;
        if (blank_ok || !buf.empty()) words.push_back(buf);
        buf.clear();
        blank_ok = false;
        pos += cr.width;
        continue;
      }
      if (cr.r == '\'' || cr.r == '"') {
        quote = cr.r;
        blank_ok = true;
        phase = Quote;
      }
      if (cr.r == static_cast<char32_t>(escape) && !escaped()) continue;
      take();
      continue;
    }
    // Quote: the escape works but inside '...'
    if (cr.r == quote) phase = Word;
    if (cr.r == static_cast<char32_t>(escape) && quote != '\'' && !escaped()) {
      phase = Word;
      continue;
    }
    take();
  }
  return words;
}

// Replaces bytes that are not UTF-8 by U+FFFD, as Go's JSON decoder reads them in strings.
std::string valid_utf8(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size();) {
    auto [r, w] = go::decode_rune(s, i);
    if (r == 0xFFFD && w == 1) out += "\xEF\xBF\xBD";
    else out.append(s.substr(i, w));
    i += w;
  }
  return out;
}

enum class JsonForm { NotJson, Ok };

// The exec form: a JSON array of strings. NotJson when the text is not a JSON array (the shell
// form then); a JSON array holding anything but strings is an error.
JsonForm parse_json_array(std::string_view rest, std::vector<std::string>& out) {
  rest = go::trim_left_space(rest);
  if (rest.empty() || rest[0] != '[') return JsonForm::NotJson;
  // Go's decoder gives up past 10000 levels; nesting this deep is no command either way.
  if (json_depth(rest, 512) > 512) return JsonForm::NotJson;
  auto j = nlohmann::json::parse(valid_utf8(rest), nullptr, false);
  if (j.is_discarded() || !j.is_array()) return JsonForm::NotJson;
  out.clear();
  for (auto& e : j) {
    if (!e.is_string()) throw LineError{"when using JSON array syntax, arrays must be comprised of strings only"};
    out.push_back(e.get<std::string>());
  }
  return JsonForm::Ok;
}

void maybe_json(std::string_view rest, Node& n) {
  if (rest.empty()) return;
  if (parse_json_array(rest, n.args) == JsonForm::Ok) {
    n.json = true;
    return;
  }
  n.args = {std::string(rest)};
}

void maybe_json_list(std::string_view rest, Node& n) {
  if (parse_json_array(rest, n.args) == JsonForm::Ok) {
    n.json = true;
    return;
  }
  if (!rest.empty()) n.args = split_blanks(rest);
}

void name_values(std::string_view rest, const char* key, char escape, Node& n) {
  auto words = parse_words(rest, escape);
  if (words.empty()) return;
  if (words[0].find('=') == std::string::npos) {  // old form: KEY name value
    auto parts = split_blanks(rest, 2);
    if (parts.size() < 2) throw LineError{std::string(key) + " must have two arguments"};
    n.args = {parts[0], parts[1], ""};
    return;
  }
  for (auto& w : words) {
    auto eq = w.find('=');
    if (eq == std::string::npos)
      throw LineError{"Syntax error - can't find = in " + go::quote(w) + ". Must be of the form: name=value"};
    n.args.push_back(w.substr(0, eq));
    n.args.push_back(w.substr(eq + 1));
    n.args.push_back("=");
  }
}

void health_config(std::string_view rest, Node& n) {
  std::size_t sep = 0;
  while (sep < rest.size() && !std::isspace(static_cast<unsigned char>(rest[sep]))) ++sep;
  std::size_t next = sep;
  while (next < rest.size() && std::isspace(static_cast<unsigned char>(rest[next]))) ++next;
  if (sep == 0) return;
  Node cmd;
  maybe_json(rest.substr(next), cmd);
  n.args.emplace_back(rest.substr(0, sep));
  for (auto& a : cmd.args) n.args.push_back(std::move(a));
  n.json = cmd.json;
}

const std::set<std::string>& keywords() {
  static const std::set<std::string> k = {"add",         "arg",   "cmd",        "copy",    "entrypoint", "env",
                                          "expose",      "from",  "healthcheck", "label",  "maintainer", "onbuild",
                                          "run",         "shell", "stopsignal", "user",    "volume",     "workdir"};
  return k;
}

Node node_from_line(std::string_view line, char escape) {
  Node n;
  n.original = std::string(line);
  std::string_view trimmed = go::trim_space(line);
  auto parts = split_blanks(trimmed, 2);
  n.keyword = parts[0];
  n.lower = lower(n.keyword);
  std::string rest;
  if (parts.size() == 2) rest = std::string(go::trim_space(extract_flags(parts[1], escape, n.flags)));
  const std::string& k = n.lower;
  if (!keywords().count(k)) return n;  // refused later, with its line
  if (k == "add" || k == "copy" || k == "volume") {
    maybe_json_list(rest, n);
  } else if (k == "cmd" || k == "entrypoint" || k == "run" || k == "shell") {
    maybe_json(rest, n);
  } else if (k == "arg") {
    n.args = parse_words(rest, escape);
  } else if (k == "env") {
    name_values(rest, "ENV", escape, n);
  } else if (k == "label") {
    name_values(rest, "LABEL", escape, n);
  } else if (k == "expose" || k == "from") {
    if (!rest.empty()) n.args = split_blanks(rest);
  } else if (k == "maintainer" || k == "stopsignal" || k == "user" || k == "workdir") {
    if (!rest.empty()) n.args = {rest};
  } else if (k == "healthcheck") {
    health_config(rest, n);
  } else if (k == "onbuild") {
    if (!rest.empty()) {
      n.inner = std::make_unique<Node>(node_from_line(rest, escape));
      n.args.push_back(n.inner->keyword);
      for (auto& a : n.inner->args) n.args.push_back(a);
    }
  }
  return n;
}

// Heredocs may follow RUN, COPY and ADD in their shell form, and ONBUILD's such instruction.
bool can_hold_heredoc(const Node& n) {
  const Node* x = &n;
  if (n.lower == "onbuild" && n.inner) x = n.inner.get();
  return (x->lower == "run" || x->lower == "copy" || x->lower == "add") && !x->json;
}

bool is_go_regex_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'; }

// The heredocs an instruction line starts, in order.
std::vector<Heredoc> heredocs_of(std::string_view line) {
  ShellLex lex;
  lex.raw_quotes = lex.raw_escapes = lex.skip_unset_env = true;
  std::vector<std::string> words;
  try {
    words = lex.words(line, {});
  } catch (const LexError&) {
    // Docker ignores the lexer's error here: a line it cannot split starts no heredoc.
  }
  std::vector<Heredoc> out;
  for (auto& w : words) {
    Heredoc h;
    if (parse_heredoc_word(w, h)) out.push_back(std::move(h));
  }
  return out;
}

// One physical line and whether the text ended there.
struct Lines {
  std::string_view text;
  std::size_t pos = 0;
  bool next(std::string_view& line) {  // with its line ending
    if (pos >= text.size()) return false;
    auto nl = text.find('\n', pos);
    std::size_t end = nl == std::string_view::npos ? text.size() : nl + 1;
    line = text.substr(pos, end - pos);
    pos = end;
    return true;
  }
};

std::string_view trim_newline(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

bool is_comment(std::string_view line) {
  line = go::trim_left_space(line);
  return !line.empty() && line[0] == '#';
}

// The line without its continuation token (escape, then only blanks, at the end), and whether
// it had one. An escaped escape at the end is no continuation.
bool trim_continuation(std::string& line, char escape) {
  std::size_t end = line.size();
  while (end > 0 && (line[end - 1] == ' ' || line[end - 1] == '\t')) --end;
  if (end == 0 || line[end - 1] != escape) return false;
  if (end >= 2 && line[end - 2] == escape) return false;
  line.erase(end - 1);
  return true;
}

struct DirectiveParser {
  bool done = false;
  std::set<std::string> seen;

  // The directive on this line, or none (and no more directives after a line that is not one).
  bool parse(std::string_view line, Directive& d) {
    if (done) return false;
    if (line.empty() || line[0] != '#') {
      done = true;
      return false;
    }
    line = go::trim_left_space(line.substr(1));
    // ^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$
    std::size_t i = 0;
    if (i >= line.size() || !std::isalpha(static_cast<unsigned char>(line[i]))) {
      done = true;
      return false;
    }
    while (i < line.size() && std::isalnum(static_cast<unsigned char>(line[i]))) ++i;
    std::string key = lower(line.substr(0, i));
    while (i < line.size() && is_go_regex_space(line[i])) ++i;
    if (i >= line.size() || line[i] != '=') {
      done = true;
      return false;
    }
    ++i;
    std::size_t after_eq = i;
    while (i < line.size() && is_go_regex_space(line[i])) ++i;
    std::size_t end = line.size();
    while (end > i && is_go_regex_space(line[end - 1])) --end;
    // Only blanks after "=": the regexp's lazy (.+?) still takes the last of them.
    if (end == i && line.size() > after_eq) i = line.size() - 1, end = line.size();
    if (end == i || (key != "syntax" && key != "escape" && key != "check")) {
      done = true;
      return false;
    }
    if (!seen.insert(key).second) throw LineError{"only one " + key + " parser directive can be used"};
    d.name = key;
    d.value = std::string(line.substr(i, end - i));
    return true;
  }
};

// Docker's ParseLintOptions, for the check directive's value.
void check_directive(const std::string& value) {
  std::string_view v = go::trim_space(value);
  if (v.empty()) return;
  std::vector<std::string> parts;
  for (int n = 0; n < 2; ++n) {
    auto semi = v.find(';');
    if (semi == std::string_view::npos) break;
    parts.emplace_back(v.substr(0, semi));
    v.remove_prefix(semi + 1);
  }
  parts.emplace_back(v);
  for (auto& p : parts) {
    auto eq = p.find('=');
    if (eq == std::string::npos) throw LineError{"failed to parse check options: invalid check option " + go::quote(p)};
    std::string k(go::trim_space(std::string_view(p).substr(0, eq)));
    std::string val(go::trim_space(std::string_view(p).substr(eq + 1)));
    if (k == "skip" || k == "experimental") continue;
    if (k == "error") {
      static const std::set<std::string> bools = {"1", "t", "T", "TRUE", "true", "True",
                                                  "0", "f", "F", "FALSE", "false", "False"};
      if (!bools.count(val))
        throw LineError{"failed to parse check options: failed to parse check option " + go::quote(p) +
                        ": strconv.ParseBool: parsing " + go::quote(val) + ": invalid syntax"};
      continue;
    }
    throw LineError{"failed to parse check options: invalid check option " + go::quote(k)};
  }
}

[[noreturn]] void parse_failure(const std::string& file, int line, const std::string& msg) {
  throw DockerfileError("failed to parse Dockerfile: " + msg, file, line, msg);
}

}  // namespace

bool parse_heredoc_word(std::string_view word, Heredoc& out) {
  // ^(\d*)<<(-?)\s*([^<]*)$
  std::size_t i = 0;
  while (i < word.size() && word[i] >= '0' && word[i] <= '9') ++i;
  std::string_view digits = word.substr(0, i);
  if (word.substr(i, 2) != "<<") return false;
  i += 2;
  bool chomp = i < word.size() && word[i] == '-';
  if (chomp) ++i;
  while (i < word.size() && is_go_regex_space(word[i])) ++i;
  std::string_view rest = word.substr(i);
  if (rest.empty() || rest.find('<') != std::string_view::npos) return false;
  ShellLex lex;
  lex.skip_unset_env = true;
  auto words = lex.words(rest, {});
  if (words.size() != 1) return false;
  lex.raw_quotes = true;
  auto raw = lex.words(rest, {});
  if (raw.size() != 1) throw LexError("internal lexing of heredoc produced inconsistent results: " + std::string(rest));
  auto quotes = [](const std::string& s) {
    std::size_t n = 0;
    for (char c : s) n += c == '\'' || c == '"';
    return n;
  };
  out.name = words[0];
  out.expand = quotes(words[0]) == quotes(raw[0]);
  out.chomp = chomp;
  out.fd = 0;
  for (char c : digits) {
    out.fd = out.fd * 10 + static_cast<unsigned>(c - '0');
    if (out.fd > 1000000) break;
  }
  return true;
}

std::string chomp_heredoc(std::string_view content) {
  std::string out;
  bool line_start = true;
  for (char c : content) {
    if (line_start && c == '\t') continue;
    line_start = c == '\n';
    out += c;
  }
  return out;
}

ParsedDockerfile parse_dockerfile(std::string_view text, const std::string& file) {
  ParsedDockerfile out;
  out.file = file;
  DirectiveParser directives;
  Lines lines{text};
  int current = 0;
  std::string_view raw;
  constexpr std::size_t kMaxLine = 65535;  // bufio.Scanner's limit, less the newline
  auto check_length = [&](std::string_view l) {
    if (trim_newline(l).size() > kMaxLine)
      parse_failure(file, current + 1, "dockerfile line greater than max allowed size of 65535");
  };
  // processLine: the line without its ending, a directive taken out, a comment emptied.
  auto process = [&](std::string_view l, bool strip_left) -> std::string {
    l = trim_newline(l);
    if (strip_left) l = go::trim_left_space(l);
    Directive d;
    try {
      if (directives.parse(l, d)) {
        d.line = current + 1;
        if (d.name == "escape") {
          if (d.value != "`" && d.value != "\\")
            throw LineError{"invalid escape token '" + d.value + "' does not match ` or \\"};
          out.escape = d.value[0];
        } else if (d.name == "check") {
          check_directive(d.value);
          out.notes.push_back(file + ":" + std::to_string(d.line) + ": the check directive is ignored: Hoist runs no build checks");
        } else {
          out.notes.push_back(file + ":" + std::to_string(d.line) + ": the syntax directive is ignored: Hoist builds with its own Dockerfile frontend (" + d.value + ")");
        }
        out.directives.push_back(d);
      }
    } catch (const LineError& e) {
      parse_failure(file, current + 1, e.msg);
    }
    if (is_comment(l)) return {};
    return std::string(l);
  };
  bool any_empty_continuation = false;
  while (lines.next(raw)) {
    check_length(raw);
    if (current == 0 && raw.substr(0, 3) == "\xEF\xBB\xBF") raw.remove_prefix(3);
    std::string line = process(raw, true);
    ++current;
    int start = current;
    bool continued = trim_continuation(line, out.escape);
    if (!continued && line.empty()) continue;
    bool empty_continuation = false;
    while (continued && lines.next(raw)) {
      check_length(raw);
      std::string more = process(raw, false);
      ++current;
      if (is_comment(raw)) continue;
      if (go::trim_left_space(more).empty()) {
        empty_continuation = true;
        continue;
      }
      continued = trim_continuation(more, out.escape);
      line += more;
    }
    if (empty_continuation) {
      out.warnings.push_back("[WARNING]: Empty continuation line found in:\n    " + line);
      any_empty_continuation = true;
    }
    Node n;
    try {
      n = node_from_line(line, out.escape);
    } catch (const LineError& e) {
      parse_failure(file, start, e.msg);
    }
    if (can_hold_heredoc(n) && line.find("<<") != std::string::npos) {
      std::vector<Heredoc> docs;
      try {
        docs = heredocs_of(line);
      } catch (const LexError& e) {
        parse_failure(file, start, e.what());
      }
      for (auto& h : docs) {
        bool terminated = false;
        std::string content = h.content;
        while (lines.next(raw)) {
          ++current;
          std::string_view candidate = trim_newline(raw);
          if (h.chomp)
            while (!candidate.empty() && candidate[0] == '\t') candidate.remove_prefix(1);
          if (candidate == h.name) {
            terminated = true;
            break;
          }
          content.append(raw);
        }
        if (!terminated) parse_failure(file, start, "unterminated heredoc");
        h.content = std::move(content);
        n.heredocs.push_back(std::move(h));
      }
    }
    n.start_line = start;
    n.end_line = current;
    out.nodes.push_back(std::move(n));
  }
  if (any_empty_continuation)
    out.warnings.push_back("[WARNING]: Empty continuation lines will become errors in a future release.");
  if (out.nodes.empty()) parse_failure(file, current, "file with no instructions");
  return out;
}

}  // namespace hoist::builder
