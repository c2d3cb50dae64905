// hoist-shim: one small process per container (or exec). It outlives hoistd (double fork +
// setsid), is the child subreaper of the container's init, holds the container's stdio (pipes) or
// pty master, writes the json-file log, serves attach clients, reaps, records the exit status and
// deletes the runtime's state. What it keeps on disk and speaks on its socket: engine/shim/protocol.h.
#pragma once
#include <cstdint>
#include <string>

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
  int log_max_files = 1;  // json-file max-file
  std::string log_attrs;  // every entry's "attrs" (a JSON object's text), or empty
  bool log_compress = false;  // rotated files gzip-compressed
  std::int64_t log_ring_bytes = -1;  // mode=non-blocking: the ring's size (LogWriter); -1: blocking
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

}  // namespace hoist::engine
