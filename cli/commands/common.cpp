// Shared by the command groups: output helpers, docker's help layout (pflag's aligned and wrapped
// flag lines), usage errors, parse(), for_each.
#include "cli/commands/common.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <exception>
#include <iostream>
#include <thread>

#include "cli/format.h"
#include "common/error.h"
#include "common/file.h"
#include "common/strings.h"

namespace hoist::cli {

void out(std::string_view s) {
  fwrite(s.data(), 1, s.size(), stdout);
}
void errp(std::string_view s) {
  fflush(stdout);
  fwrite(s.data(), 1, s.size(), stderr);
}

std::string q(std::string_view s) {
  std::string out = url_escape(s);
  for (auto at = out.find("%2F"); at != std::string::npos; at = out.find("%2F", at + 1)) out.replace(at, 3, "/");
  return out;
}

std::string top_table(const nlohmann::json& top) {
  std::vector<std::string> lines;
  std::vector<std::string> t;
  for (auto& x : top.value("Titles", nlohmann::json::array())) t.push_back(x.get<std::string>());
  lines.push_back(join(t, "\t"));
  for (auto& row : top.value("Processes", nlohmann::json::array())) {
    std::vector<std::string> r;
    for (auto& x : row) r.push_back(x.get<std::string>());
    lines.push_back(join(r, "\t"));
  }
  return tabwrite(lines);
}

bool is_tty(int fd) { return isatty(fd) == 1; }

int term_width() {
  winsize ws{};
  if (ioctl(1, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  return 80;
}

std::string daemon_err(const std::exception& e) {
  if (dynamic_cast<const ApiError*>(&e)) return std::string("Error response from daemon: ") + e.what();
  return e.what();
}

std::string filters_json(const std::vector<std::string>& fl) {
  json f = json::object();
  for (auto& x : fl) {
    auto eq = x.find('=');
    if (eq == std::string::npos) throw FlagError("bad format of filter (expected name=value)");
    f[x.substr(0, eq)][x.substr(eq + 1)] = true;
  }
  return f.dump();
}

double now_s() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

const char* const kFormatTableUsage =
    "Format output using a custom template:\n"
    "'table':            Print output in table format with column headers (default)\n"
    "'table TEMPLATE':   Print output in table format using the given Go template\n"
    "'json':             Print in JSON format\n"
    "'TEMPLATE':         Print output using the given Go template.\n"
    "Refer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates";
const char* const kFormatJsonUsage =
    "Format output using a custom template:\n"
    "'json':             Print in JSON format\n"
    "'TEMPLATE':         Print output using the given Go template.\n"
    "Refer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates";

namespace {

// Every '\n' of `s` replaced by `with`.
std::string replace_newlines(const std::string& s, const std::string& with) {
  std::string r;
  for (char ch : s) {
    if (ch == '\n') r += with;
    else r += ch;
  }
  return r;
}

// pflag's wrapN: `s` split at the last white space within its first `i` characters (or at a newline
// before it); the whole of `s` when it is at most `slop` characters longer than `i`.
std::pair<std::string, std::string> wrap_n(size_t i, size_t slop, const std::string& s) {
  if (i + slop > s.size()) return {s, ""};
  auto w = s.find_last_of(" \t\n", i - 1);
  if (w == std::string::npos || w == 0) return {s, ""};
  auto nl = s.rfind('\n', i - 1);
  if (nl != std::string::npos && nl > 0 && nl < w) return {s.substr(0, nl), s.substr(nl + 1)};
  return {s.substr(0, w), s.substr(w + 1)};
}

// pflag's wrap: `s` wrapped to `cols` columns, its lines after the first indented by `indent`.
std::string wrap(size_t indent, int cols, std::string s) {
  int room = cols - (int)indent;
  std::string r;
  if (room < 24) {  // not enough room: the text starts on the next line, indented 16
    indent = 16;
    room = cols - 16;
    r = "\n" + std::string(indent, ' ');
  }
  if (room < 24) return replace_newlines(s, r);
  const size_t slop = 5;
  const size_t width = (size_t)room - slop;
  const std::string next = "\n" + std::string(indent, ' ');
  auto [first, rest] = wrap_n(width, slop, s);
  r += replace_newlines(first, next);
  while (!rest.empty()) {
    auto [line, more] = wrap_n(width, slop, rest);
    r += next + replace_newlines(line, next);
    rest = std::move(more);
  }
  return r;
}

// Go's %q for the plain strings defaults are.
std::string go_quote(const std::string& s) {
  std::string r = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\') r += '\\';
    r += ch;
  }
  return r + "\"";
}

// `flags` with --help: "Print usage" listed when -h is another flag's (run's --hostname), else hidden
// with -h as its shorthand.
Flags with_help(const Flags& flags) {
  Flags all = flags;
  bool h_taken = std::any_of(flags.begin(), flags.end(), [](const Flag& f) { return f.shorthand == 'h'; });
  all.push_back({"help", h_taken ? '\0' : 'h', "", "Print usage", "", !h_taken});
  return all;
}

std::string trim_right(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

std::string flag_usages(const Flags& flags, int cols) {
  std::vector<const Flag*> shown;
  for (auto& f : flags)
    if (!f.hidden) shown.push_back(&f);
  std::sort(shown.begin(), shown.end(), [](const Flag* a, const Flag* b) { return a->name < b->name; });
  std::vector<std::pair<std::string, std::string>> lines;  // name column, description
  size_t maxlen = 0;
  for (auto* f : shown) {
    std::string left = f->shorthand ? std::string("  -") + f->shorthand + ", --" + f->name : "      --" + f->name;
    if (!f->type.empty()) left += " " + f->type;
    maxlen = std::max(maxlen, left.size() + 1);
    std::string usage = f->usage;
    if (!f->def.empty()) usage += " (default " + (f->type == "string" ? go_quote(f->def) : f->def) + ")";
    lines.emplace_back(left, usage);
  }
  std::string r;
  for (auto& [left, usage] : lines)
    r += left + " " + std::string(maxlen - left.size(), ' ') + " " + wrap(maxlen + 2, cols, usage) + "\n";
  return r;
}

int help_columns() {
  winsize ws{};
  int width = 80;
  if (ioctl(0, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) width = ws.ws_col;
  return width - 1;
}

std::string command_list(const std::vector<std::pair<std::string, std::string>>& names_and_summaries) {
  size_t pad = 11;
  for (auto& [name, summary] : names_and_summaries) pad = std::max(pad, name.size());
  std::string r;
  for (auto& [name, summary] : names_and_summaries)
    r += "  " + name + std::string(pad + 1 - name.size(), ' ') + summary + "\n";
  return r;
}

std::string command_help(const std::string& path, const Command& cmd) {
  std::string r = "Usage:  hoist " + path + (cmd.use.empty() ? "" : " " + cmd.use) + "\n\n" +
                  (cmd.description.empty() ? cmd.summary : cmd.description) + "\n";
  if (!cmd.aliases.empty()) {
    std::vector<std::string> full;
    for (auto& a : cmd.aliases) full.push_back("hoist " + a);
    r += "\nAliases:\n  " + join(full, ", ") + "\n";
  }
  auto options = trim_right(flag_usages(with_help(cmd.flags), help_columns()));
  if (!options.empty()) r += "\nOptions:\n" + options + "\n";
  return r;
}

// A bad flag exits 125; a wrong number of arguments exits 1 (docker's cobra rule).
[[noreturn]] void usage_error(const std::string& path, const std::string& msg, int code) {
  errp(msg + "\nSee 'hoist " + path + " --help'.\n");
  throw ExitError{code, ""};
}

[[noreturn]] void refuse_flag(const Ctx& ctx, const Command& cmd, const std::string& name, const std::string& rest) {
  std::string shown = "--" + name;
  for (auto& f : cmd.flags)
    if (f.name == name && f.shorthand) shown += std::string(" (-") + f.shorthand + ")";
  usage_error(ctx.path, "hoist: " + shown + " " + rest);
}

Parsed parse(const Ctx& ctx, const Command& cmd, const std::vector<std::string>& argv) {
  const std::string& path = ctx.path;
  std::vector<FlagSpec> specs;
  for (auto& f : with_help(cmd.flags)) specs.push_back({f.name, f.shorthand, !f.type.empty()});
  Parsed p;
  try {
    p = parse_flags(specs, argv, cmd.interspersed);
  } catch (const FlagError& e) {
    usage_error(path, e.what());
  }
  if (p.flag("help")) {
    out(command_help(path, cmd));
    throw ExitError{0, ""};
  }
  for (auto& f : cmd.flags)
    if (!f.refused.empty() && (f.type.empty() ? p.flag(f.name) : p.has(f.name))) refuse_flag(ctx, cmd, f.name, f.refused);
  size_t min_args = cmd.min_args;
  long max_args = cmd.max_args;
  if (p.args.size() < min_args) {
    std::string m = "\"hoist " + path + "\" requires ";
    m += (max_args == (long)min_args ? "exactly " : "at least ") + std::to_string(min_args) + " argument" +
         (min_args == 1 ? "" : "s") + ".";
    usage_error(path, m, 1);
  }
  if (max_args >= 0 && p.args.size() > (size_t)max_args) {
    std::string m = "\"hoist " + path + "\" accepts " +
                    (max_args == 0 ? std::string("no arguments") : "at most " + std::to_string(max_args) + " argument" + (max_args == 1 ? "" : "s")) + ".";
    usage_error(path, m, 1);
  }
  return p;
}

int for_each(const std::vector<std::string>& names, const std::function<void(const std::string&)>& fn,
             bool print) {
  int rc = 0;
  for (auto& n : names) {
    try {
      fn(n);
      if (print) out(n + "\n");
    } catch (const ConnectError&) {
      throw;
    } catch (const std::exception& e) {
      errp(daemon_err(e) + "\n");
      rc = 1;
    }
  }
  return rc;
}

int for_each_parallel(Ctx& ctx, const std::vector<std::string>& names,
                      const std::function<void(const std::string&)>& fn) {
  ctx.c();  // the version is negotiated once, before the threads share the client
  std::vector<std::exception_ptr> errors(names.size());
  {
    std::vector<std::thread> calls;
    for (std::size_t i = 0; i < names.size(); ++i)
      calls.emplace_back([&, i] {
        try {
          fn(names[i]);
        } catch (...) {
          errors[i] = std::current_exception();
        }
      });
    for (auto& t : calls) t.join();
  }
  std::size_t next = 0;
  return for_each(names, [&](const std::string&) {
    if (auto e = errors[next++]) std::rethrow_exception(e);
  });
}

int inspect_each(Ctx& ctx, const Parsed& p, const std::function<std::string(const std::string&)>& path_of,
                 const std::function<void(json&)>& for_template) {
  std::vector<json> found;
  nlohmann::ordered_json ordered = nlohmann::ordered_json::array();
  std::string errors;
  for (auto& n : p.args) {
    auto r = ctx.c().request("GET", path_of(n), "", {}, true);
    if (r.status != 200) {
      errors += "Error response from daemon: " + error_message(r.body) + "\n";
      continue;
    }
    found.push_back(json::parse(r.body));
    ordered.push_back(nlohmann::ordered_json::parse(r.body));
  }
  if (p.get("format") == "json") {
    out(ordered.dump() + "\n");
  } else if (p.has("format")) {
    for (auto& j : found) {
      if (for_template) for_template(j);
      out(render_template(p.get("format"), j) + "\n");
    }
  } else {
    out(ordered.dump(4) + "\n");
  }
  errp(errors);
  return errors.empty() ? 0 : 1;
}

int remove_each(Ctx& ctx, const std::vector<std::string>& names,
                const std::function<std::string(const std::string&)>& path_of, bool ignore_not_found) {
  int rc = 0;
  for (auto& n : names) {
    auto r = ctx.c().request("DELETE", path_of(n), "", {}, true);
    if (r.status >= 400) {
      if (ignore_not_found && r.status == 404) continue;
      errp("Error response from daemon: " + error_message(r.body) + "\n");
      rc = 1;
      continue;
    }
    out(n + "\n");
  }
  return rc;
}

bool confirm(const std::string& warning) {
  out(warning + " [y/N] ");
  fflush(stdout);
  std::string ans;
  std::getline(std::cin, ans);
  ans = std::string(trim(ans));
  return ans == "y" || ans == "Y";
}

int download_tar(Ctx& ctx, const std::string& api_path, const std::string& output) {
  UniqueFd f;
  int fd = 1;
  std::string tmp;
  if (!output.empty()) {
    tmp = output + ".hoist-tmp";
    f = open_file(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    fd = f.get();
  } else if (is_tty(1)) {
    errp("cowardly refusing to save to a terminal. Use the -o flag or redirect\n");
    return 1;
  }
  try {
    ctx.c().stream("GET", api_path, "", [&](std::string_view d) {
      write_all(fd, d, "output");
      return true;
    });
  } catch (...) {
    if (!tmp.empty()) ::unlink(tmp.c_str());
    throw;
  }
  if (!tmp.empty()) {
    f.reset();
    if (::rename(tmp.c_str(), output.c_str()) != 0) throw_sys("rename", output);
  }
  return 0;
}

}  // namespace hoist::cli
