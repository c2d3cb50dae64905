// Protection against a container overwriting the runtime binary through /proc/<pid>/exe
// (CVE-2019-5736): commands that enter a container re-execute themselves from a read-only view
// of the binary, so a write through /proc/<pid>/exe fails with EROFS.
#pragma once
#include <string>

namespace hoist::runtime {

// Returns at once if the running binary is already read-only (a re-executed copy, or a
// binary on a read-only filesystem). Otherwise re-executes itself (argv, environment
// unchanged) from a detached read-only bind mount of itself made in `scratch_dir`, or, where
// mounting is not allowed, from a sealed memfd copy. Throws Error if neither works.
void ensure_cloned_binary(char** argv, const std::string& scratch_dir);

// A sealed memfd copy of the running binary (close-on-exec); throws Error on failure.
int sealed_exe_copy();

}  // namespace hoist::runtime
