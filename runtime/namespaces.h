// Namespace kinds: spec names, clone flags and /proc/<pid>/ns entries.
#pragma once
#include <string>
#include <vector>

#include "common/fd.h"
#include "runtime/spec.h"

namespace hoist::runtime {

struct NsKind {
  const char* spec_name;  // "network"
  const char* proc_name;  // "net"
  int flag;               // CLONE_NEWNET
};
// In the order namespaces must be joined: user first, mount last.
const std::vector<NsKind>& ns_kinds();
const NsKind* ns_by_spec_name(const std::string& name);

struct NsJoin {
  int flag;
  std::string path;
  UniqueFd fd;
};

// Opens every namespace the spec joins by path (in join order).
std::vector<NsJoin> open_ns_paths(const oci::Spec& spec);
// CLONE_NEW* flags of the namespaces the spec creates.
int new_ns_flags(const oci::Spec& spec);
void join_namespaces(std::vector<NsJoin>& joins);
// Namespaces of process `pid` that differ from ours (for exec), in join order.
std::vector<NsJoin> open_process_namespaces(pid_t pid);

// fork() with CLONE_NEW* flags, born in the cgroup2 directory cgroup_fd when it is a valid fd
// (clone3's CLONE_INTO_CGROUP, Linux 5.7). *into tells whether it was: a kernel without
// CLONE_INTO_CGROUP gets a plain clone, and the caller moves the child itself. Returns as fork()
// does (-1 with errno set). For a process of one thread: no fork handlers run.
pid_t clone_child(int ns_flags, int cgroup_fd, bool* into);

}  // namespace hoist::runtime
