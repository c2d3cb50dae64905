// hoist-shim: one small process per container. It outlives hoistd (double fork + setsid), is
// the child subreaper of the container's init, holds the container's stdio (pipes) or pty master,
// writes the json-file log, serves attach clients, reaps, records the exit status and deletes
// the runtime's state.
//
// Files in the state dir (exec_root/<id>/):
//   attach.sock   the control / attach socket (protocol below)
//   shim.pid      "<shim pid> <init pid>\n"
//   exit.json     {"exit_code":N,"exited_at":"RFC3339Nano","oom_killed":false}, written atomically
//                 before the shim deletes the runtime state and exits
//   shim.log      the shim's own errors
//   runtime.log   the runtime's --log
// An exec shim (--exec-process) has the same files in its own state dir and the same protocol.
//
// Attach socket protocol (unix stream socket). The client sends ONE request line:
//   "attach [stdin] [stdout] [stderr] [close-stdin] [raw|mux] [detach=HEX]\n"
//       reply "ok\n", then the connection is the stream: shim → client carries the container's
//       output as Docker's multiplexed frames ([stream(1|2),0,0,0,size BE32] + payload) for a
//       non-TTY container, raw bytes for a TTY one (raw / mux choose either way; a TTY's output is
//       stream 1); client → shim bytes are written to the container's stdin (if requested and
//       the process has one open: --stdin). The client's EOF on stdin (shutdown(SHUT_WR) or
//       close) closes the container's stdin with close-stdin on a process without a TTY (Docker's
//       StdinOnce; the stream goes on); otherwise it ends this attach (the connection is closed,
//       stdin stays open), as Docker's. When the container exits the shim sends what is left and
//       closes the connection.
//       detach=HEX: the detach keys (bytes, hex-encoded). On a TTY with stdin, the client's input
//       is scanned for them; once they all came in a row, they are dropped, the bytes before them
//       go to stdin and the connection is closed at once (stdin stays open, the process runs on).
//   "resize <rows> <cols>\n"   → "ok\n" (TIOCSWINSZ on the pty master) or "error <msg>\n"
//   "close-stdin\n"            → "ok\n"
//   "status\n"                 → one JSON line: {"running":true,"pid":N} or
//                                {"running":false,"exit_code":N,"exited_at":"...","oom_killed":false}
//   "wait\n"                   → the same JSON line, sent when the shim finishes: the container has
//                                exited and its output went out (a "wait" is not answered while
//                                the output is held for an attach)
// Anything else gets "error <msg>\n".
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/fd.h"

namespace hoist::engine {

struct ShimOptions {
  std::string id;
  std::string bundle;
  std::string runtime;       // path of the OCI runtime binary
  std::string runtime_root;  // its --root
  std::string state_dir;
  std::string log_path;      // json-file log
  bool tty = false;
  bool stdin_open = false;
  std::int64_t log_max_size = 0;
  int ready_fd = -1;  // written "ok <init pid>\n" or "error <msg>\n", then closed
  bool foreground = false;  // don't daemonize (debugging)
  // A client is about to attach (docker run without -d attaches before it starts the container):
  // the container's output stays in its pipes, unread, until the first attach stream arrives or
  // this many milliseconds pass, so the client sees it from the first byte. 0: no wait.
  int attach_wait_ms = 0;
  // Exec mode: run this process (an OCI process JSON file) in the running container `id` with
  // `runtime exec --detach` instead of creating the container; no log (output goes to attached
  // clients only) and no `runtime delete` at the end. exit.json etc. go to state_dir as usual.
  std::string exec_process;
};

// hoist-shim's main: parses argv (see ShimOptions; --ready-fd N, --foreground) and runs.
int shim_main(int argc, char** argv);
// Runs the shim (daemonizes first unless foreground). Returns the process exit code.
int run_shim(const ShimOptions& o);

// --- client side (ContainerManager / API)

struct ShimExit {
  int exit_code = 0;
  std::string exited_at;
  bool oom_killed = false;
};

struct ShimStatus {
  bool running = false;
  pid_t pid = 0;
  ShimExit exit;
};

// Connects to <state_dir>/attach.sock; throws SysError when nothing listens.
UniqueFd shim_connect(const std::string& state_dir);
// One request line, one reply line (without the "\n"). timeout_ms < 0: no timeout.
std::string shim_request(const std::string& state_dir, const std::string& line, int timeout_ms = 5000);
ShimStatus shim_status(const std::string& state_dir);
// Parses a status / wait / exit.json JSON text.
ShimStatus parse_shim_status(const std::string& json);
void shim_resize(const std::string& state_dir, unsigned rows, unsigned cols);
void shim_close_stdin(const std::string& state_dir);
struct AttachRequest {
  bool in = false, out = false, err = false;
  bool close_stdin = false;
  std::optional<bool> mux;  // frames (true) or raw bytes; unset: frames unless the process has a TTY
  std::string detach_keys;  // the bytes that detach (see the protocol); "": none
};
// Opens an attach stream (after the "ok"); the returned fd is the stream described above.
UniqueFd shim_attach(const std::string& state_dir, const AttachRequest& r);
UniqueFd shim_attach(const std::string& state_dir, bool in, bool out, bool err, bool close_stdin);

// Docker's detach keys ("ctrl-p,ctrl-q", "ctrl-@", "a", "DEL"; comma-separated) as bytes; throws
// Error "unknown character: 'x'" for anything else (an empty text included).
std::string detach_key_bytes(std::string_view spec);
// Docker's default: ctrl-p ctrl-q.
inline constexpr std::string_view kDefaultDetachKeys = "\x10\x11";

// Finds the detach keys in a stream of input, whatever its chunks: feed() appends to `out` what
// passes through (a key held back until the next byte tells whether the sequence goes on) and
// returns true when the whole sequence came; the input after it is dropped.
class DetachScanner {
 public:
  explicit DetachScanner(std::string keys = {}) : keys_(std::move(keys)) {}
  bool feed(std::string_view in, std::string& out);

 private:
  std::string keys_;
  std::size_t matched_ = 0;  // keys_[0, matched_) seen last and held back
};
// Starts a "wait": the returned fd gets one JSON line when the container exits (read it with
// read_wait_reply). Throws when the shim does not answer.
UniqueFd shim_wait_begin(const std::string& state_dir);
// Blocks until the reply line; nullopt when the connection broke without one.
std::optional<ShimExit> shim_wait_read(int fd);
// exit.json of a finished shim, if there.
std::optional<ShimExit> read_exit_file(const std::string& state_dir);

}  // namespace hoist::engine
