// Shared by the command groups: output helpers, usage errors, parse(), for_each.
#include "cli/commands/common.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <exception>
#include <thread>

#include "cli/format.h"

namespace hoist::cli {

void out(std::string_view s) {
  fwrite(s.data(), 1, s.size(), stdout);
}
void errp(std::string_view s) {
  fflush(stdout);
  fwrite(s.data(), 1, s.size(), stderr);
}

std::string q(std::string_view s) { return url_escape(s); }

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

[[noreturn]] void usage_error(const std::string& cmd, const std::string& msg) {
  errp(msg + "\nSee 'hoist " + cmd + " --help'.\n");
  throw ExitError{125, ""};
}

Parsed parse(const std::string& cmd, const Specs& specs, const std::vector<std::string>& argv, bool interspersed,
             size_t min_args, long max_args) {
  Parsed p;
  try {
    p = parse_flags(specs, argv, interspersed);
  } catch (const FlagError& e) {
    usage_error(cmd, e.what());
  }
  if (p.flag("help")) {
    std::string flags;
    for (auto& s : specs) {
      if (s.name == "help") continue;
      flags += std::string("  ") + (s.shorthand ? std::string("-") + s.shorthand + ", " : "    ") + "--" + s.name +
               (s.value ? " string" : "") + "\n";
    }
    out("\nUsage:  hoist " + cmd + " [OPTIONS]" + (max_args == 0 ? "" : " ARGS...") + "\n\nOptions:\n" + flags);
    throw ExitError{0, ""};
  }
  if (p.args.size() < min_args) {
    std::string m = "\"hoist " + cmd + "\" requires ";
    m += (max_args == (long)min_args ? "exactly " : "at least ") + std::to_string(min_args) + " argument" +
         (min_args == 1 ? "" : "s") + ".";
    usage_error(cmd, m);
  }
  if (max_args >= 0 && p.args.size() > (size_t)max_args) {
    std::string m = "\"hoist " + cmd + "\" accepts " +
                    (max_args == 0 ? std::string("no arguments") : "at most " + std::to_string(max_args) + " argument" + (max_args == 1 ? "" : "s")) + ".";
    usage_error(cmd, m);
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

}  // namespace hoist::cli
