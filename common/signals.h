// Signal names as users give them to kill/stop: "KILL", "SIGKILL", "kill", "9", "RTMIN+3".
#pragma once
#include <string>

namespace hoist {

// The signal number; throws InvalidArgument "invalid signal \"x\"" on anything else.
int parse_signal(const std::string& s);

}  // namespace hoist
