// The protocol between hoist-shim and its clients (the container manager, the API's attach and
// exec): the files a shim keeps in its state directory and the lines spoken on its socket. The
// shim's side is engine/shim/shim.cpp, the clients' side engine/shim/client.cpp.
//
// hoist-shim is one small process per container. It outlives hoistd (double fork + setsid), is
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

#include <optional>
#include <string>
#include <string_view>

namespace hoist::engine {

inline constexpr std::string_view kShimSocket = "attach.sock";
inline constexpr std::string_view kShimPidFile = "shim.pid";
inline constexpr std::string_view kShimExitFile = "exit.json";

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

// Parses a status / wait / exit.json JSON text.
ShimStatus parse_shim_status(const std::string& json);
// The JSON line of a finished process (the reply to "status"/"wait", the text of exit.json).
std::string exit_status_json(const ShimExit& e);

struct AttachRequest {
  bool in = false, out = false, err = false;
  bool close_stdin = false;
  std::optional<bool> mux;  // frames (true) or raw bytes; unset: frames unless the process has a TTY
  std::string detach_keys;  // the bytes that detach (see the protocol); "": none
};

// The detach keys of an "attach" request as its detach=HEX word carries them, and back (pairs
// that are not hex digits are skipped).
std::string encode_detach_keys(std::string_view bytes);
std::string decode_detach_keys(std::string_view hex);

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

}  // namespace hoist::engine
