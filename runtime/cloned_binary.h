// Protection against a container overwriting the runtime binary through /proc/<pid>/exe
// (CVE-2019-5736): commands that enter a container re-execute from a sealed memfd copy.
#pragma once

namespace hoist::runtime {

// Returns if already running from a sealed copy; otherwise re-executes itself from one
// (argv and environment unchanged). Throws Error if the copy cannot be made.
void ensure_cloned_binary(char** argv);

}  // namespace hoist::runtime
