#include "builder/shell_lex.h"

#include <algorithm>
#include <cstdint>
#include <utility>

#include "builder/go_text.h"

namespace hoist::builder {

EnvLookup env_lookup(const std::vector<std::string>& env) {
  return [&env](std::string_view name) -> std::optional<std::string> {
    for (auto it = env.rbegin(); it != env.rend(); ++it) {
      auto eq = it->find('=');
      std::string_view key = std::string_view(*it).substr(0, eq);
      if (key == name) return eq == std::string::npos ? std::string() : it->substr(eq + 1);
    }
    return std::nullopt;
  };
}

namespace {

constexpr std::int32_t kEof = -1;

// An error inside the lexer; process() wraps it with the text it was processing.
struct Failure {
  std::string msg;
};

// The text as a stream of runes (Go's text/scanner Peek/Next), keeping the bytes as written.
class Scanner {
 public:
  explicit Scanner(std::string_view s) : s_(s) {}
  std::int32_t peek() const { return pos_ < s_.size() ? static_cast<std::int32_t>(go::decode_rune(s_, pos_).r) : kEof; }
  // The next rune; its bytes are appended to `raw` when given.
  std::int32_t next(std::string* raw = nullptr) {
    if (pos_ >= s_.size()) return kEof;
    auto [r, w] = go::decode_rune(s_, pos_);
    if (raw) raw->append(s_.substr(pos_, w));
    pos_ += w;
    return static_cast<std::int32_t>(r);
  }

 private:
  std::string_view s_;
  std::size_t pos_ = 0;
};

void append_rune(std::string& out, std::int32_t r) {
  auto u = static_cast<std::uint32_t>(r < 0 ? 0xFFFD : r);
  if (u < 0x80) {
    out += static_cast<char>(u);
  } else if (u < 0x800) {
    out += static_cast<char>(0xC0 | (u >> 6));
    out += static_cast<char>(0x80 | (u & 0x3F));
  } else if (u < 0x10000) {
    out += static_cast<char>(0xE0 | (u >> 12));
    out += static_cast<char>(0x80 | ((u >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (u & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (u >> 18));
    out += static_cast<char>(0x80 | ((u >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((u >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (u & 0x3F));
  }
}

bool is_space(std::int32_t r) { return r >= 0 && go::is_space(static_cast<char32_t>(r)); }

// The words of the text: blanks outside quotes (and inside substituted values) separate them.
struct Words {
  std::string buf;
  std::vector<std::string> words;
  bool in_word = false;

  void add_char(std::int32_t ch, std::string_view bytes) {
    if (is_space(ch)) {
      if (in_word && !buf.empty()) {
        words.push_back(std::move(buf));
        buf.clear();
        in_word = false;
      }
      return;
    }
    add_raw(bytes);
  }
  void add_raw(std::string_view bytes) {
    buf.append(bytes);
    in_word = true;
  }
  void add_string(std::string_view s) {
    for (std::size_t i = 0; i < s.size();) {
      auto [r, w] = go::decode_rune(s, i);
      add_char(static_cast<std::int32_t>(r), s.substr(i, w));
      i += w;
    }
  }
  std::vector<std::string> take() {
    if (!buf.empty()) {
      words.push_back(std::move(buf));
      buf.clear();
      in_word = false;
    }
    return std::move(words);
  }
};

// A glob of ${v#p} ${v%p} ${v/p/r}: literal runes, `?` and `*`.
struct Glob {
  enum Kind { Lit, Any, Star };
  std::vector<std::pair<Kind, std::int32_t>> items;
};

std::string rune_text(std::int32_t r) {
  std::string s;
  append_rune(s, r);
  return s;
}

// Docker's convertShellPatternToRegex, as a glob (it has no bracket expressions).
Glob compile_glob(std::string_view pattern) {
  Glob g;
  Scanner s(pattern);
  for (std::int32_t tok = s.next(); tok != kEof; tok = s.next()) {
    if (tok == '*') {
      g.items.emplace_back(Glob::Star, 0);
    } else if (tok == '?') {
      g.items.emplace_back(Glob::Any, 0);
    } else if (tok == '\\') {
      if (s.peek() == '}' || s.peek() == '/') continue;  // the escape is not part of the pattern
      tok = s.next();
      if (tok != '*' && tok != '?' && tok != '\\') throw Failure{"invalid escape '\\" + rune_text(tok) + "'"};
      g.items.emplace_back(Glob::Lit, tok);
    } else {
      g.items.emplace_back(Glob::Lit, tok);
    }
  }
  return g;
}

// The runes of a text with their byte offsets (and the end offset last).
std::vector<std::pair<std::int32_t, std::size_t>> runes_of(std::string_view s) {
  std::vector<std::pair<std::int32_t, std::size_t>> out;
  for (std::size_t i = 0; i < s.size();) {
    auto [r, w] = go::decode_rune(s, i);
    out.emplace_back(static_cast<std::int32_t>(r), i);
    i += w;
  }
  out.emplace_back(kEof, s.size());
  return out;
}

// The byte offsets (ascending) at which a match of `g` that starts at rune index `from` ends.
std::vector<std::size_t> match_ends(const Glob& g, const std::vector<std::pair<std::int32_t, std::size_t>>& rs,
                                    std::size_t from) {
  const std::size_t m = g.items.size();
  std::vector<char> states(m + 1, 0), next(m + 1, 0);
  auto close = [&](std::vector<char>& st) {  // a star may match nothing
    for (std::size_t k = 0; k < m; ++k)
      if (st[k] && g.items[k].first == Glob::Star) st[k + 1] = 1;
  };
  states[0] = 1;
  close(states);
  std::vector<std::size_t> ends;
  for (std::size_t i = from;; ++i) {
    if (states[m]) ends.push_back(rs[i].second);
    if (rs[i].first == kEof) break;
    std::int32_t c = rs[i].first;
    std::fill(next.begin(), next.end(), 0);
    bool any = false;
    for (std::size_t k = 0; k < m; ++k) {
      if (!states[k]) continue;
      auto [kind, lit] = g.items[k];
      if (kind == Glob::Star) {
        if (c != '\n') next[k] = any = 1;
      } else if (kind == Glob::Any ? c != '\n' : c == lit) {
        next[k + 1] = any = 1;
      }
    }
    if (!any) break;
    close(next);
    states.swap(next);
  }
  return ends;
}

std::string reverse_runes(std::string_view s) {
  auto rs = runes_of(s);
  std::string out;
  for (std::size_t i = rs.size() - 1; i-- > 0;) out.append(s.substr(rs[i].second, rs[i + 1].second - rs[i].second));
  return out;
}

// Docker's reversePattern: the runes in reverse order, an escape staying before what it escapes.
std::string reverse_pattern(std::string_view p) {
  auto rs = runes_of(p);
  rs.pop_back();
  std::vector<std::string> items;
  for (std::size_t i = 0; i < rs.size();) {
    std::size_t end_i = i + 1 < rs.size() ? rs[i + 1].second : p.size();
    if (rs[i].first == '\\' && i + 1 < rs.size()) {
      std::size_t end2 = i + 2 < rs.size() ? rs[i + 2].second : p.size();
      items.emplace_back(p.substr(rs[i].second, end2 - rs[i].second));
      i += 2;
    } else {
      items.emplace_back(p.substr(rs[i].second, end_i - rs[i].second));
      i += 1;
    }
  }
  std::string out;
  for (auto it = items.rbegin(); it != items.rend(); ++it) out += *it;
  return out;
}

// The pattern of a ${v#p} ${v%p} ${v/p/r} form, with Docker's message for a bad one.
Glob substitution_glob(std::string_view pattern) {
  try {
    return compile_glob(pattern);
  } catch (const Failure& f) {
    throw Failure{"invalid pattern (" + std::string(pattern) + ") in substitution: " + f.msg};
  }
}

std::string trim_prefix(std::string_view pattern, const std::string& value, bool greedy) {
  Glob g = substitution_glob(pattern);
  auto rs = runes_of(value);
  auto ends = match_ends(g, rs, 0);
  if (ends.empty()) return value;
  return value.substr(greedy ? ends.back() : ends.front());
}

std::string trim_suffix(std::string_view pattern, const std::string& value, bool greedy) {
  return reverse_runes(trim_prefix(reverse_pattern(pattern), reverse_runes(value), greedy));
}

// Go's regexp Expand of a replacement without groups: $$ is $, $name and ${name} are empty.
std::string expand_replacement(std::string_view r) {
  std::string out;
  auto name_char = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  for (std::size_t i = 0; i < r.size(); ++i) {
    if (r[i] != '$' || i + 1 >= r.size()) {
      out += r[i];
      continue;
    }
    if (r[i + 1] == '$') {
      out += '$';
      ++i;
    } else if (r[i + 1] == '{') {
      auto close = r.find('}', i + 2);
      bool ok = close != std::string_view::npos && close > i + 2;
      for (std::size_t k = i + 2; ok && k < close; ++k) ok = name_char(r[k]);
      if (!ok) {
        out += '$';
        continue;
      }
      i = close;
    } else if (name_char(r[i + 1])) {
      while (i + 1 < r.size() && name_char(r[i + 1])) ++i;
    } else {
      out += '$';
    }
  }
  return out;
}

std::string replace(std::string_view pattern, const std::string& value, const std::string& repl, bool all) {
  Glob g = substitution_glob(pattern);
  auto rs = runes_of(value);
  std::string r = expand_replacement(repl);
  // longest[i]: the end of the longest match starting at rune i, or -1. One backward pass over
  // the text with a row per position (O(text × pattern)), so that no text and pattern make the
  // search quadratic in the text.
  const std::size_t m = g.items.size(), n = rs.size() - 1;
  std::vector<long> longest(n + 1, -1), cur(m + 1), nxt(m + 1, -1);
  for (std::size_t i = n + 1; i-- > 0;) {
    cur[m] = static_cast<long>(rs[i].second);
    std::int32_t c = rs[i].first;
    for (std::size_t k = m; k-- > 0;) {
      auto [kind, lit] = g.items[k];
      if (kind == Glob::Star) cur[k] = std::max(cur[k + 1], c != kEof && c != '\n' ? nxt[k] : -1L);
      else if (c == kEof) cur[k] = -1;
      else if (kind == Glob::Any) cur[k] = c != '\n' ? nxt[k + 1] : -1;
      else cur[k] = c == lit ? nxt[k + 1] : -1;
    }
    longest[i] = cur[0];
    nxt.swap(cur);
  }
  // The leftmost match from rune index `from`, longest at its start (Go's leftmost-first with
  // greedy stars).
  auto find = [&](std::size_t from, std::size_t& a0, std::size_t& a1) {
    for (std::size_t i = from; i <= n; ++i)
      if (longest[i] >= 0) {
        a0 = rs[i].second;
        a1 = static_cast<std::size_t>(longest[i]);
        return true;
      }
    return false;
  };
  std::size_t a0, a1;
  if (!all) {
    if (!find(0, a0, a1)) return value;
    return value.substr(0, a0) + r + value.substr(a1);
  }
  // regexp.ReplaceAllString's loop.
  std::string out;
  std::size_t last_end = 0, idx = 0;  // idx: rune index of the search position
  while (idx < rs.size()) {
    if (!find(idx, a0, a1)) break;
    out.append(value, last_end, a0 - last_end);
    if (a1 > last_end || a0 == 0) out += r;
    last_end = a1;
    std::size_t pos = rs[idx].second;
    std::size_t width = idx + 1 < rs.size() ? rs[idx + 1].second - pos : 0;
    if (pos + width > a1) ++idx;
    else if (pos + 1 > a1) ++idx;
    else while (idx < rs.size() && rs[idx].second < a1) ++idx;
    if (width == 0) break;
  }
  out.append(value, last_end);
  return out;
}

bool is_special_param(std::int32_t c) {
  switch (c) {
    case '@': case '*': case '#': case '?': case '-': case '$': case '!': case '0':
      return true;
  }
  return false;
}

bool is_name_rune(std::int32_t c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

class Word {
 public:
  Word(const ShellLex& lex, std::string_view text, const EnvLookup& env, LexResult& res)
      : lex_(lex), sc_(text), env_(env), res_(res), raw_escapes_(lex.raw_escapes) {}

  // Reads to `stop` (consumed) or the end; returns the text and fills `words`.
  std::string process_stop_on(std::int32_t stop, bool raw_escapes, std::vector<std::string>* words_out) {
    bool saved = raw_escapes_;
    raw_escapes_ = raw_escapes;
    struct Restore {
      bool& r;
      bool v;
      ~Restore() { r = v; }
    } restore{raw_escapes_, saved};

    std::string result;
    Words words;
    while (sc_.peek() != kEof) {
      std::int32_t ch = sc_.peek();
      if (stop != kEof && ch == stop) {
        sc_.next();
        if (words_out) *words_out = words.take();
        return result;
      }
      if (ch == '$' || ch == '<' || (!lex_.skip_process_quotes && (ch == '\'' || ch == '"'))) {
        std::string tmp = ch == '$' ? dollar() : ch == '<' ? possible_heredoc() : ch == '\'' ? single_quote() : double_quote();
        result += tmp;
        if (ch == '$') words.add_string(tmp);
        else words.add_raw(tmp);
        continue;
      }
      std::string bytes;
      ch = sc_.next(&bytes);
      if (ch == lex_.escape) {
        if (raw_escapes_) {
          words.add_raw(bytes);
          result += bytes;
        }
        bytes.clear();
        ch = sc_.next(&bytes);
        if (ch == kEof) break;  // an escape at the end is dropped
        words.add_raw(bytes);
      } else {
        words.add_char(ch, bytes);
      }
      result += bytes;
    }
    if (stop != kEof)
      throw Failure{"unexpected end of statement while looking for matching " + rune_text(stop)};
    if (words_out) *words_out = words.take();
    return result;
  }

 private:
  std::string single_quote() {
    std::string result;
    std::string q;
    sc_.next(&q);
    if (lex_.raw_quotes) result += q;
    for (;;) {
      std::string bytes;
      std::int32_t ch = sc_.next(&bytes);
      if (ch == kEof) throw Failure{"unexpected end of statement while looking for matching single-quote"};
      if (ch == '\'') {
        if (lex_.raw_quotes) result += bytes;
        return result;
      }
      result += bytes;
    }
  }

  std::string double_quote() {
    std::string result;
    std::string q;
    sc_.next(&q);
    if (lex_.raw_quotes) result += q;
    for (;;) {
      std::int32_t p = sc_.peek();
      if (p == kEof) throw Failure{"unexpected end of statement while looking for matching double-quote"};
      if (p == '"') {
        std::string bytes;
        sc_.next(&bytes);
        if (lex_.raw_quotes) result += bytes;
        return result;
      }
      if (p == '$') {
        result += dollar();
        continue;
      }
      std::string bytes;
      std::int32_t ch = sc_.next(&bytes);
      if (ch == lex_.escape) {
        if (raw_escapes_) result += bytes;
        std::int32_t n = sc_.peek();
        if (n == kEof) continue;  // an escape at the end of the word is dropped
        if (n == '"' || n == '$' || n == lex_.escape) {
          bytes.clear();
          sc_.next(&bytes);
        }
      }
      result += bytes;
    }
  }

  std::string possible_heredoc() {
    sc_.next();
    if (sc_.peek() != '<') return "<";
    sc_.next();
    std::string result = "<<";
    while (sc_.peek() == '\t' || sc_.peek() == '\r' || sc_.peek() == ' ') sc_.next(&result);
    return result;
  }

  std::string name() {
    std::string n;
    while (sc_.peek() != kEof) {
      std::int32_t ch = sc_.peek();
      if (n.empty() && ch >= '0' && ch <= '9') {
        while (sc_.peek() >= '0' && sc_.peek() <= '9') sc_.next(&n);
        return n;
      }
      if (n.empty() && is_special_param(ch)) {
        sc_.next(&n);
        return n;
      }
      if (!is_name_rune(ch)) break;
      sc_.next(&n);
    }
    return n;
  }

  std::optional<std::string> get(const std::string& name) {
    auto v = env_ ? env_(name) : std::nullopt;
    (v ? res_.matched : res_.unmatched).insert(name);
    return v;
  }

  // The text up to the closing `stop`, for the word of a ${...} form.
  std::string operand(std::int32_t stop, bool raw_escapes, const char* missing) {
    try {
      return process_stop_on(stop, raw_escapes, nullptr);
    } catch (const Failure&) {
      if (sc_.peek() == kEof) throw Failure{missing};
      throw;
    }
  }

  std::string dollar() {
    sc_.next();
    if (sc_.peek() != '{') {
      std::string n = name();
      if (n.empty()) return "$";
      auto v = get(n);
      if (!v && lex_.skip_unset_env) return "$" + n;
      return v.value_or("");
    }
    sc_.next();
    std::int32_t p = sc_.peek();
    if (p == kEof) throw Failure{"syntax error: missing '}'"};
    if (p == '{' || p == '}' || p == ':') throw Failure{"syntax error: bad substitution"};
    std::string n = name();
    std::int32_t ch = sc_.next();
    std::string chs = rune_text(ch);
    bool null_is_unset = false;
    switch (ch) {
      case '}': {
        auto v = get(n);
        if (!v && lex_.skip_unset_env) return "${" + n + "}";
        return v.value_or("");
      }
      case ':':
        null_is_unset = true;
        ch = sc_.next();
        chs += rune_text(ch);
        [[fallthrough]];
      case '+': case '-': case '?': case '#': case '%': {
        bool raw = ch == '#' || ch == '%';
        if (null_is_unset && raw) throw Failure{"unsupported modifier (" + chs + ") in substitution"};
        std::string word = operand('}', raw, "syntax error: missing '}'");
        auto v = get(n);
        if (lex_.skip_unset_env && !v) return "${" + n + chs + word + "}";
        bool empty = !v || (null_is_unset && v->empty());
        switch (ch) {
          case '-':
            return empty ? word : *v;
          case '+':
            return empty ? "" : word;
          case '?':
            if (!v) throw Failure{n + ": " + (word.empty() ? "is not allowed to be unset" : word)};
            if (null_is_unset && v->empty()) throw Failure{n + ": " + (word.empty() ? "is not allowed to be empty" : word)};
            return *v;
          case '%': case '#': {
            bool greedy = !word.empty() && word[0] == static_cast<char>(ch);
            if (greedy) word.erase(0, 1);
            return ch == '%' ? trim_suffix(word, v.value_or(""), greedy) : trim_prefix(word, v.value_or(""), greedy);
          }
          default:
            throw Failure{"unsupported modifier (" + chs + ") in substitution"};
        }
      }
      case '/': {
        bool all = sc_.peek() == '/';
        if (all) sc_.next();
        std::string pattern = operand('/', true, "syntax error: missing '/' in ${}");
        std::string repl = operand('}', true, "syntax error: missing '}'");
        auto v = get(n);
        if (lex_.skip_unset_env && !v) return "${" + n + "/" + pattern + "/" + repl + "}";
        return replace(pattern, v.value_or(""), repl, all);
      }
      default:
        throw Failure{"unsupported modifier (" + chs + ") in substitution"};
    }
  }

  const ShellLex& lex_;
  Scanner sc_;
  const EnvLookup& env_;
  LexResult& res_;
  bool raw_escapes_;
};

}  // namespace

LexResult ShellLex::process(std::string_view text, const EnvLookup& env) const {
  LexResult res;
  Word w(*this, text, env, res);
  try {
    res.word = w.process_stop_on(kEof, raw_escapes, &res.words);
  } catch (const Failure& f) {
    throw LexError("failed to process " + go::quote(text) + ": " + f.msg);
  }
  return res;
}

}  // namespace hoist::builder
