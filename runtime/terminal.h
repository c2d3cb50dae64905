// Pseudo-terminals for containers, the console socket, and the foreground loop of `run`/`exec`.
#pragma once
#include <sys/types.h>

#include <optional>
#include <string>

#include "common/fd.h"

namespace hoist::runtime {

struct Pty {
  UniqueFd master, slave;
};

// Opens a new pty from /dev/ptmx of the current mount namespace.
Pty open_pty();
void set_winsize(int fd, unsigned rows, unsigned cols);
// Makes `slave` the calling process's stdio and controlling terminal (new session).
void attach_to_tty(int slave);
// Connects to a unix stream socket (the --console-socket).
UniqueFd connect_unix(const std::string& path);

// Runs while the container's process `pid` (a child of ours) lives: forwards signals to it,
// reaps children, and, with a pty master, copies stdin -> master -> stdout (raw mode on a tty
// stdin, window size followed). Returns the process's exit code (128+signal if killed).
int foreground_wait(pid_t pid, int pty_master);
// Signals we forward (blocked before the loop starts, so none is lost).
void block_forwarded_signals();
// Unblocks every signal: a blocked mask survives execve, so whatever the runtime blocked for
// itself must not reach a container process or a hook.
void unblock_all_signals();

// Shell-style exit code from a wait status.
int exit_code(int status);

}  // namespace hoist::runtime
