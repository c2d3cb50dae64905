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

}  // namespace hoist::runtime
