// The clients' side of the shim protocol (engine/shim/protocol.h): what the container manager and
// the API use to ask a running shim for its status, attach, resize, close stdin and wait.
#pragma once
#include <optional>
#include <string>

#include "common/fd.h"
#include "engine/shim/protocol.h"

namespace hoist::engine {

// Connects to <state_dir>/attach.sock; throws SysError when nothing listens.
UniqueFd shim_connect(const std::string& state_dir);
// One request line, one reply line (without the "\n"). timeout_ms < 0: no timeout.
std::string shim_request(const std::string& state_dir, const std::string& line, int timeout_ms = 5000);
ShimStatus shim_status(const std::string& state_dir);
void shim_resize(const std::string& state_dir, unsigned rows, unsigned cols);
void shim_close_stdin(const std::string& state_dir);
// Opens an attach stream (after the "ok"); the returned fd is the stream described above.
UniqueFd shim_attach(const std::string& state_dir, const AttachRequest& r);
UniqueFd shim_attach(const std::string& state_dir, bool in, bool out, bool err, bool close_stdin);

// Starts a "wait": the returned fd gets one JSON line when the container exits (read it with
// shim_wait_read). Throws when the shim does not answer.
UniqueFd shim_wait_begin(const std::string& state_dir);
// Blocks until the reply line; nullopt when the connection broke without one.
std::optional<ShimExit> shim_wait_read(int fd);
// exit.json of a finished shim, if there.
std::optional<ShimExit> read_exit_file(const std::string& state_dir);

}  // namespace hoist::engine
