#include "common/log.h"

#include <fcntl.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "common/clock.h"

namespace hoist::log {
namespace {
Options g_opts;
int g_fd = 2;

const char* name(Level l) {
  switch (l) {
    case Level::Debug: return "debug";
    case Level::Info: return "info";
    case Level::Warn: return "warning";
    case Level::Error: return "error";
  }
  return "info";
}

}  // namespace

void init(const Options& opts) {
  g_opts = opts;
  if (!opts.path.empty()) {
    int fd = ::open(opts.path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0) g_fd = fd;
  }
}

bool enabled(Level l) { return l >= g_opts.min; }

void write(Level l, std::string_view msg) {
  // Errors always go to the log; the caller also prints them to stderr when logging elsewhere.
  if (!enabled(l) && l != Level::Error) return;
  std::string line;
  if (g_opts.json) {
    nlohmann::json j = {{"level", name(l)}, {"msg", msg}, {"time", now_rfc3339()}};
    line = j.dump();
  } else {
    line = std::string(name(l)) + ": " + std::string(msg);
  }
  line += '\n';
  ssize_t r = ::write(g_fd, line.data(), line.size());
  (void)r;
}

}  // namespace hoist::log
