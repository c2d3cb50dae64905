// Process-wide logger: text or JSON lines ({"level","msg","time"}), to stderr or a file.
#pragma once
#include <string>
#include <string_view>

namespace hoist::log {

enum class Level { Debug, Info, Warn, Error };

struct Options {
  std::string path;       // empty: stderr
  bool json = false;      // runc's --log-format json
  Level min = Level::Warn;
};

void init(const Options& opts);
bool enabled(Level l);
void write(Level l, std::string_view msg);

inline void debug(std::string_view m) { if (enabled(Level::Debug)) write(Level::Debug, m); }
inline void info(std::string_view m) { write(Level::Info, m); }
inline void warn(std::string_view m) { write(Level::Warn, m); }
inline void error(std::string_view m) { write(Level::Error, m); }

}  // namespace hoist::log
