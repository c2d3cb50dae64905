// Protection against a container overwriting the runtime binary through /proc/<pid>/exe
// (CVE-2019-5736): no process that enters a container runs from the host's binary file. It runs
// from a read-only bind mount of it in a mount namespace of its own (a write through
// /proc/<pid>/exe then fails with EROFS), or from a sealed memfd copy.
#pragma once

#include "common/fd.h"

namespace hoist::runtime {

// An O_PATH fd of the running binary, read-only. The caller must be in a mount namespace of its
// own: the binary is bind-mounted over itself there (after making every mount a slave, so nothing
// propagates back). Falls back to a sealed memfd copy where that cannot be done.
UniqueFd readonly_self();
// A sealed memfd copy of the running binary (close-on-exec).
UniqueFd sealed_self_copy();

// For a command that will enter a container from this process (`exec`): unless the binary is
// already read-only, move to a private mount namespace and re-execute (argv and environment
// unchanged) from readonly_self(). Throws Error if that fails.
void ensure_cloned_binary(char** argv);

}  // namespace hoist::runtime
