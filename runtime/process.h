// Turning the calling process into the container's process: rlimits, user, capabilities,
// no_new_privs, seccomp, and the final execve. Shared by the init process and `exec`.
#pragma once
#include <string>
#include <vector>

#include "runtime/spec.h"

namespace hoist::runtime {

struct ExecOptions {
  const oci::Process* process = nullptr;
  const oci::Seccomp* seccomp = nullptr;  // nullptr: no filter
  int preserve_fds = 0;                   // fds 3 .. 3+N-1 stay open
  std::string state_json;                 // for a seccomp listener, if any
  std::string seccomp_bpf;                // the filter precompiled (SeccompFilter::cached_bpf), if any
};

// Applies everything in order and execs process->args. Throws Error on failure; never
// returns otherwise.
[[noreturn]] void finalize_and_exec(const ExecOptions& opts);

// Pieces, exposed for tests and for the init process.
void apply_rlimits(const std::vector<oci::Rlimit>& limits);
void apply_oom_score_adj(int value);
void apply_capabilities_and_user(const oci::Process& p);
int rlimit_resource(const std::string& name);  // "RLIMIT_NOFILE" -> RLIMIT_NOFILE, -1 if unknown
int capability_value(const std::string& name);  // "CAP_KILL" -> 5, -1 if unknown
// The PATH lookup of execvp done against the container's env (not the runtime's).
std::vector<std::string> exec_candidates(const std::string& arg0, const std::vector<std::string>& env);

}  // namespace hoist::runtime
