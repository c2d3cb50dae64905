#include "cli/format.h"

#include "common/clock.h"

#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/strings.h"

namespace hoist::cli {

using json = nlohmann::json;

namespace {

// Go's fmt %v of a decoded JSON value.
std::string go_print(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "<no value>";
    case json::value_t::string: return v.get<std::string>();
    case json::value_t::boolean: return v.get<bool>() ? "true" : "false";
    case json::value_t::number_integer: return std::to_string(v.get<long long>());
    case json::value_t::number_unsigned: return std::to_string(v.get<unsigned long long>());
    case json::value_t::number_float: {
      double d = v.get<double>();
      if (std::floor(d) == d && std::fabs(d) < 1e15) return std::to_string((long long)d);
      char buf[64];
      snprintf(buf, sizeof buf, "%g", d);
      return buf;
    }
    case json::value_t::array: {
      std::string s = "[";
      bool first = true;
      for (auto& e : v) {
        if (!first) s += ' ';
        first = false;
        s += go_print(e);
      }
      return s + "]";
    }
    case json::value_t::object: {
      std::string s = "map[";
      bool first = true;
      for (auto& [k, e] : v.items()) {
        if (!first) s += ' ';
        first = false;
        s += k + ":" + go_print(e);
      }
      return s + "]";
    }
    default: return "";
  }
}

struct Tokenizer {
  std::string_view s;
  size_t i = 0;
  void ws() {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n')) ++i;
  }
  bool done() {
    ws();
    return i >= s.size();
  }
  // Next token: a quoted string (returned with its quotes), a field path (".A.B"), "|", or a word.
  std::string next() {
    ws();
    if (i >= s.size()) return {};
    if (s[i] == '"' || s[i] == '`') {
      char q = s[i];
      std::string out(1, '"');
      ++i;
      while (i < s.size() && s[i] != q) {
        if (q == '"' && s[i] == '\\' && i + 1 < s.size()) {
          ++i;
          char c = s[i];
          out += c == 'n' ? '\n' : c == 't' ? '\t' : c;
        } else {
          out += s[i];
        }
        ++i;
      }
      if (i >= s.size()) throw Error("template: unterminated quoted string");
      ++i;
      return out;
    }
    if (s[i] == '|' || s[i] == '(' || s[i] == ')') return std::string(1, s[i++]);
    size_t b = i;
    while (i < s.size() && s[i] != ' ' && s[i] != '\t' && s[i] != '|' && s[i] != '(' && s[i] != ')') ++i;
    return std::string(s.substr(b, i - b));
  }
};

json lookup(const json& dot, std::string_view path) {
  // path starts with '.'; "." alone is dot itself.
  const json* cur = &dot;
  size_t i = 1;
  while (i < path.size()) {
    size_t j = path.find('.', i);
    if (j == std::string_view::npos) j = path.size();
    std::string key(path.substr(i, j - i));
    if (!cur->is_object()) return json();
    auto it = cur->find(key);
    if (it == cur->end()) return json();
    cur = &*it;
    i = j + 1;
  }
  return *cur;
}

json eval_pipeline(Tokenizer& tk, const json& dot);

json eval_operand(const std::string& tok, Tokenizer& tk, const json& dot) {
  if (tok.empty()) throw Error("template: missing value");
  if (tok[0] == '"') return json(tok.substr(1));
  if (tok[0] == '.') return lookup(dot, tok);
  if (tok == "(") {
    json v = eval_pipeline(tk, dot);
    if (tk.next() != ")") throw Error("template: unclosed left paren");
    return v;
  }
  if (tok == "true") return json(true);
  if (tok == "false") return json(false);
  if (!tok.empty() && (isdigit((unsigned char)tok[0]) || tok[0] == '-')) {
    try {
      return json(std::stoll(tok));
    } catch (...) {
    }
  }
  throw Error("template: function \"" + tok + "\" not defined");
}

// Collects operands up to '|' or ')' or the end.
std::vector<json> operands(Tokenizer& tk, const json& dot) {
  std::vector<json> out;
  for (;;) {
    tk.ws();
    if (tk.i >= tk.s.size() || tk.s[tk.i] == '|' || tk.s[tk.i] == ')') break;
    auto t = tk.next();
    out.push_back(eval_operand(t, tk, dot));
  }
  return out;
}

json apply(const std::string& fn, std::vector<json> args, const json* piped, Tokenizer&) {
  if (piped) args.push_back(*piped);
  auto need = [&](size_t n) {
    if (args.size() != n)
      throw Error("template: wrong number of args for " + fn + ": want " + std::to_string(n) + " got " +
                  std::to_string(args.size()));
  };
  if (fn == "json") {
    need(1);
    return json(args[0].dump());
  }
  if (fn == "upper" || fn == "lower" || fn == "title") {
    need(1);
    std::string s = go_print(args[0]);
    bool start = true;
    for (auto& c : s) {
      if (fn == "upper") c = (char)toupper((unsigned char)c);
      else if (fn == "lower") c = (char)tolower((unsigned char)c);
      else {
        if (start) c = (char)toupper((unsigned char)c);
        start = c == ' ';
      }
    }
    return json(s);
  }
  if (fn == "join") {
    need(2);
    std::string sep = go_print(args[1]), s;
    if (!args[0].is_array()) return json(go_print(args[0]));
    bool first = true;
    for (auto& e : args[0]) {
      if (!first) s += sep;
      first = false;
      s += go_print(e);
    }
    return json(s);
  }
  if (fn == "index") {
    if (args.size() < 2) throw Error("template: wrong number of args for index");
    json cur = args[0];
    for (size_t k = 1; k < args.size(); ++k) {
      if (cur.is_object() && args[k].is_string()) {
        auto it = cur.find(args[k].get<std::string>());
        cur = it == cur.end() ? json() : *it;
      } else if (cur.is_array() && args[k].is_number_integer()) {
        auto n = args[k].get<long long>();
        if (n < 0 || (size_t)n >= cur.size()) throw Error("template: index out of range: " + std::to_string(n));
        cur = cur[n];
      } else {
        return json();
      }
    }
    return cur;
  }
  if (fn == "len") {
    need(1);
    if (args[0].is_string()) return json((long long)args[0].get<std::string>().size());
    return json((long long)args[0].size());
  }
  if (fn == "println" || fn == "print") {
    std::string s;
    for (size_t k = 0; k < args.size(); ++k) s += (k ? " " : "") + go_print(args[k]);
    if (fn == "println") s += "\n";
    return json(s);
  }
  if (fn == "truncate") {
    need(2);
    std::string s = go_print(args[0]);
    auto n = args[1].get<long long>();
    return json(s.size() > (size_t)n ? s.substr(0, n) : s);
  }
  throw Error("template: function \"" + fn + "\" not defined");
}

json eval_command(Tokenizer& tk, const json& dot, const json* piped) {
  auto tok = tk.next();
  if (tok.empty()) throw Error("template: missing value for command");
  if (tok[0] == '.' || tok[0] == '"' || tok == "(" || isdigit((unsigned char)tok[0])) {
    json v = eval_operand(tok, tk, dot);
    if (piped) throw Error("template: can't give argument to non-function " + tok);
    return v;
  }
  auto args = operands(tk, dot);
  return apply(tok, std::move(args), piped, tk);
}

json eval_pipeline(Tokenizer& tk, const json& dot) {
  json v = eval_command(tk, dot, nullptr);
  for (;;) {
    tk.ws();
    if (tk.i < tk.s.size() && tk.s[tk.i] == '|') {
      ++tk.i;
      v = eval_command(tk, dot, &v);
    } else {
      return v;
    }
  }
}

// The next action of a template from `i`: the text before it and what is inside "{{ }}"; `i` moves
// past it. False when no action is left (`text` is then the rest); an unclosed one throws.
bool next_action(std::string_view t, size_t& i, std::string_view& text, std::string_view& act) {
  size_t b = t.find("{{", i);
  if (b == std::string_view::npos) {
    text = t.substr(i);
    i = t.size();
    return false;
  }
  size_t e = t.find("}}", b + 2);
  if (e == std::string_view::npos) throw Error("template: unclosed action");
  text = t.substr(i, b - i);
  act = t.substr(b + 2, e - b - 2);
  i = e + 2;
  return true;
}

}  // namespace

std::string render_template(std::string_view tmpl, const json& value) {
  std::string out;
  size_t i = 0;
  std::string_view text, act;
  while (i < tmpl.size()) {
    if (!next_action(tmpl, i, text, act)) {
      out += text;
      break;
    }
    bool trim_left = !act.empty() && act[0] == '-' && act.size() > 1 && act[1] == ' ';
    bool trim_right = act.size() > 1 && act.back() == '-' && act[act.size() - 2] == ' ';
    if (trim_left) {
      act.remove_prefix(1);
      while (!text.empty() && isspace((unsigned char)text.back())) text.remove_suffix(1);
    }
    if (trim_right) act.remove_suffix(1);
    out += text;
    Tokenizer tk{act};
    if (!tk.done()) {
      json v = eval_pipeline(tk, value);
      if (!tk.done()) throw Error("template: unexpected \"" + tk.next() + "\" in command");
      out += go_print(v);
    }
    if (trim_right)
      while (i < tmpl.size() && isspace((unsigned char)tmpl[i])) ++i;
  }
  return out;
}

static void replace_all(std::string& s, std::string_view from, std::string_view to) {
  size_t p = 0;
  while ((p = s.find(from, p)) != std::string::npos) {
    s.replace(p, from.size(), to);
    p += to.size();
  }
}

std::string format_list(std::string format, const std::vector<json>& rows,
                        const std::map<std::string, std::string>& headers) {
  replace_all(format, "\\t", "\t");
  replace_all(format, "\\n", "\n");
  std::string out;
  if (format == "json") {
    for (auto& r : rows) out += r.dump() + "\n";
    return out;
  }
  bool table = false;
  if (format.rfind("table", 0) == 0) {
    table = true;
    format = format.substr(5);
    while (!format.empty() && (format[0] == ' ')) format.erase(0, 1);
  }
  if (!table) {
    for (auto& r : rows) out += render_template(format, r) + "\n";
    return out;
  }
  json hdr = json::object();
  for (auto& [k, v] : headers) hdr[k] = v;
  // Fields without a known title get their name upper-cased, as docker does.
  for (size_t p = format.find("{{"); p != std::string::npos; p = format.find("{{", p + 2)) {
    size_t e = format.find("}}", p);
    if (e == std::string::npos) break;
    std::string act(hoist::trim(format.substr(p + 2, e - p - 2)));
    for (size_t d = act.find('.'); d != std::string::npos; d = act.find('.', d + 1)) {
      size_t end = d + 1;
      while (end < act.size() && (isalnum((unsigned char)act[end]) || act[end] == '_')) ++end;
      std::string name = act.substr(d + 1, end - d - 1);
      if (!name.empty() && !hdr.contains(name)) {
        std::string up;
        for (char c : name) up += (char)toupper((unsigned char)c);
        hdr[name] = up;
      }
    }
  }
  std::vector<std::string> lines;
  // Header: each action replaced by its column's title (functions such as json keep it).
  {
    std::string h;
    size_t i = 0;
    std::string_view text, act;
    while (i < format.size()) {
      bool more = next_action(format, i, text, act);
      h += text;
      if (!more) break;
      size_t d = act.rfind('.');
      std::string name;
      if (d != std::string::npos) {
        size_t end = d + 1;
        while (end < act.size() && (isalnum((unsigned char)act[end]) || act[end] == '_')) ++end;
        name = act.substr(d + 1, end - d - 1);
      }
      if (!name.empty() && hdr.contains(name)) h += hdr[name].get<std::string>();
    }
    lines.push_back(h);
  }
  for (auto& r : rows) lines.push_back(render_template(format, r));
  return tabwrite(lines);
}

std::string tabwrite(const std::vector<std::string>& lines) {
  std::vector<std::vector<std::string>> cells;
  std::vector<size_t> width;
  auto ulen = [](const std::string& s) {
    size_t n = 0;
    for (unsigned char c : s)
      if ((c & 0xC0) != 0x80) ++n;
    return n;
  };
  for (auto& l : lines) {
    std::vector<std::string> row;
    size_t p = 0;
    for (;;) {
      size_t t = l.find('\t', p);
      if (t == std::string::npos) {
        row.push_back(l.substr(p));
        break;
      }
      row.push_back(l.substr(p, t - p));
      p = t + 1;
    }
    for (size_t c = 0; c + 1 < row.size(); ++c) {
      if (width.size() <= c) width.resize(c + 1, 0);
      width[c] = std::max(width[c], ulen(row[c]));
    }
    cells.push_back(std::move(row));
  }
  std::string out;
  for (auto& row : cells) {
    for (size_t c = 0; c < row.size(); ++c) {
      out += row[c];
      if (c + 1 < row.size()) {
        size_t w = std::max<size_t>(width[c] + 3, 10);
        out.append(w - ulen(row[c]), ' ');
      }
    }
    out += '\n';
  }
  return out;
}

static std::string custom_size(double size, double base, const char* const* units, int n, int precision) {
  int i = 0;
  while (size >= base && i < n - 1) {
    size /= base;
    ++i;
  }
  char buf[64];
  snprintf(buf, sizeof buf, "%.*g%s", precision, size, units[i]);
  return buf;
}

std::string human_size(double bytes, int precision) {
  static const char* const u[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"};
  return custom_size(bytes, 1000.0, u, 9, precision);
}

std::string bytes_size(double bytes) {
  static const char* const u[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"};
  return custom_size(bytes, 1024.0, u, 9, 4);
}

std::string human_duration(double seconds) {
  long long s = (long long)seconds;
  if (s < 1) return "Less than a second";
  if (s == 1) return "1 second";
  if (s < 60) return std::to_string(s) + " seconds";
  long long minutes = (long long)(seconds / 60);
  if (minutes == 1) return "About a minute";
  if (minutes < 60) return std::to_string(minutes) + " minutes";
  long long hours = (long long)(seconds / 3600 + 0.5);
  if (hours == 1) return "About an hour";
  if (hours < 48) return std::to_string(hours) + " hours";
  if (hours < 24 * 7 * 2) return std::to_string(hours / 24) + " days";
  if (hours < 24 * 30 * 2) return std::to_string(hours / 24 / 7) + " weeks";
  if (hours < 24 * 365 * 2) return std::to_string(hours / 24 / 30) + " months";
  return std::to_string((long long)(seconds / 3600 / 24 / 365)) + " years";
}

std::string container_status(std::string_view state, int exit_code, double since_start_s, double since_finish_s,
                             std::string_view health) {
  std::string st(state);
  if (st == "running" || st == "paused") {
    std::string s = "Up " + human_duration(since_start_s);
    if (st == "paused") s += " (Paused)";
    else if (health == "starting") s += " (health: starting)";
    else if (!health.empty() && health != "none") s += " (" + std::string(health) + ")";
    return s;
  }
  if (st == "restarting") return "Restarting (" + std::to_string(exit_code) + ") " + human_duration(since_finish_s) + " ago";
  if (st == "removing") return "Removal In Progress";
  if (st == "dead") return "Dead";
  if (st == "created") return "Created";
  if (st == "exited") {
    if (since_finish_s < 0) return "Exited (" + std::to_string(exit_code) + ")";
    return "Exited (" + std::to_string(exit_code) + ") " + human_duration(since_finish_s) + " ago";
  }
  return st;
}

double parse_rfc3339(std::string_view s) {
  auto ns = parse_rfc3339_ns(s);
  return ns > 0 ? static_cast<double>(ns) / 1e9 : 0;  // junk and Go's zero time (year 1) → 0
}

std::string get_timestamp(std::string_view value, double now) {
  std::string v(hoist::trim(value));
  if (v.empty()) return v;
  auto fmt = [](double t) {
    long long secs = (long long)std::floor(t);
    long long ns = (long long)std::llround((t - (double)secs) * 1e9);
    if (ns >= 1000000000LL) {
      ++secs;
      ns -= 1000000000LL;
    }
    char buf[48];
    snprintf(buf, sizeof buf, "%lld.%09lld", secs, ns);
    return std::string(buf);
  };
  bool numeric = true;
  int dots = 0;
  for (char c : v) {
    if (c == '.') ++dots;
    else if (!isdigit((unsigned char)c)) numeric = false;
  }
  if (numeric && dots <= 1) return v;
  try {
    long long d = parse_go_duration(v);
    return fmt(now - (double)d / 1e9);
  } catch (const Error&) {
  }
  std::string t = v;
  if (t.size() == 10) t += "T00:00:00Z";  // a date
  else if (t.size() == 19) t += "Z";       // no zone: docker takes it as UTC here
  double u = parse_rfc3339(t);
  if (u == 0 && t.rfind("1970-01-01T00:00:00", 0) != 0)
    throw Error("failed to parse value as time or duration: \"" + v + "\"");
  return fmt(u);
}

std::string go_time_string(long long unix_s) {
  time_t t = unix_s;
  struct tm tm {};
  localtime_r(&t, &tm);
  char buf[96];
  strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S %z %Z", &tm);
  return buf;
}

std::string progress_bar(long long current, long long total, int width) {
  std::string bar, numbers;
  if (current <= 0 && total <= 0) return "";
  if (total <= 0) {
    char buf[64];
    snprintf(buf, sizeof buf, "%8s", human_size((double)current).c_str());
    return buf;
  }
  int pct = (int)((double)current / (double)total * 100) / 2;
  if (pct > 50) pct = 50;
  if (width > 110) {
    int spaces = 50 - pct > 0 ? 50 - pct : 0;
    bar = "[" + std::string(pct, '=') + ">" + std::string(spaces, ' ') + "] ";
  }
  char buf[96];
  snprintf(buf, sizeof buf, "%8s/%s", human_size((double)current).c_str(), human_size((double)total).c_str());
  numbers = buf;
  if (current > total) numbers.clear();
  return bar + numbers;
}

std::string progress_line(std::string_view id, std::string_view status, std::string_view progress) {
  std::string s;
  if (!id.empty()) s += std::string(id) + ": ";
  s += status;
  if (!progress.empty()) s += " " + std::string(progress);
  return s;
}

void Demuxer::feed(std::string_view data) {
  while (!data.empty()) {
    if (remaining_ == 0) {
      size_t take = std::min(data.size(), 8 - hdr_len_);
      memcpy(hdr_ + hdr_len_, data.data(), take);
      hdr_len_ += take;
      data.remove_prefix(take);
      if (hdr_len_ < 8) return;
      stream_ = hdr_[0];
      remaining_ = (uint32_t)hdr_[4] << 24 | (uint32_t)hdr_[5] << 16 | (uint32_t)hdr_[6] << 8 | hdr_[7];
      hdr_len_ = 0;
      continue;
    }
    size_t take = std::min<size_t>(data.size(), remaining_);
    out_(stream_, data.substr(0, take));
    remaining_ -= (uint32_t)take;
    data.remove_prefix(take);
  }
}

std::string short_id(std::string_view id) {
  if (id.rfind("sha256:", 0) == 0) id.remove_prefix(7);
  return std::string(id.substr(0, 12));
}

std::string ellipsis(std::string_view s, size_t n) {
  // Counted in characters (UTF-8 aware enough for ASCII commands).
  if (s.size() <= n) return std::string(s);
  if (n == 0) return "";
  return std::string(s.substr(0, n - 1)) + "…";
}

long long parse_ram_size(std::string_view s) {
  std::string str(hoist::trim(s));
  if (str.empty()) throw Error("invalid size: ''");
  size_t i = 0;
  while (i < str.size() && (isdigit((unsigned char)str[i]) || str[i] == '.')) ++i;
  if (i == 0) throw Error("invalid size: '" + str + "'");
  double n = std::stod(str.substr(0, i));
  std::string unit = str.substr(i);
  for (auto& c : unit) c = (char)tolower((unsigned char)c);
  if (!unit.empty() && unit.back() == 'b' && unit.size() > 1) unit.pop_back();
  if (unit.size() == 2 && unit[1] == 'i') unit.pop_back();
  double mul = 1;
  if (unit.empty() || unit == "b") mul = 1;
  else if (unit == "k") mul = 1024.0;
  else if (unit == "m") mul = 1024.0 * 1024;
  else if (unit == "g") mul = 1024.0 * 1024 * 1024;
  else if (unit == "t") mul = 1024.0 * 1024 * 1024 * 1024;
  else if (unit == "p") mul = 1024.0 * 1024 * 1024 * 1024 * 1024;
  else throw Error("invalid size: '" + str + "'");
  return (long long)(n * mul);
}

long long parse_go_duration(std::string_view s) {
  std::string str(hoist::trim(s));
  if (str == "0") return 0;
  if (str.empty()) throw Error("time: invalid duration \"\"");
  long double total = 0;
  size_t i = 0;
  while (i < str.size()) {
    size_t b = i;
    while (i < str.size() && (isdigit((unsigned char)str[i]) || str[i] == '.')) ++i;
    if (b == i) throw Error("time: invalid duration \"" + str + "\"");
    long double n = std::stold(str.substr(b, i - b));
    size_t u = i;
    while (i < str.size() && !isdigit((unsigned char)str[i]) && str[i] != '.') ++i;
    std::string unit = str.substr(u, i - u);
    long double mul;
    if (unit == "ns") mul = 1;
    else if (unit == "us" || unit == "µs") mul = 1e3;
    else if (unit == "ms") mul = 1e6;
    else if (unit == "s") mul = 1e9;
    else if (unit == "m") mul = 60e9;
    else if (unit == "h") mul = 3600e9;
    else if (unit.empty()) throw Error("time: missing unit in duration \"" + str + "\"");
    else throw Error("time: unknown unit \"" + unit + "\" in duration \"" + str + "\"");
    total += n * mul;
  }
  return (long long)total;
}

std::vector<std::string> parse_env_file(std::string_view content) {
  std::vector<std::string> out;
  size_t p = 0;
  while (p <= content.size()) {
    size_t e = content.find('\n', p);
    if (e == std::string_view::npos) e = content.size();
    std::string line(content.substr(p, e - p));
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::string_view t = hoist::trim(line);
    if (!t.empty() && t[0] != '#') {
      // Leading whitespace is dropped from the key, as docker does.
      size_t lead = line.find_first_not_of(" \t");
      out.push_back(line.substr(lead));
    }
    if (e == content.size()) break;
    p = e + 1;
  }
  return out;
}

}  // namespace hoist::cli
