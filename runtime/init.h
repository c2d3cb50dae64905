// The container's init process. The runtime clones it into the new namespaces; it re-executes
// the runtime binary from a read-only view (CVE-2019-5736) as `hoist-runtime __init FD`, gets its
// parameters over the sync channel, sets up the container and waits for `start`.
#pragma once
#include <map>
#include <string>

#include "runtime/cgroups/cgroups.h"
#include "runtime/sync.h"

namespace hoist::runtime {

// What the init needs, sent as one message (SyncType::Init) after the runtime's Go.
struct InitParams {
  std::string config_text;  // config.json as read by create
  std::string bundle;
  std::string id;
  std::string rootfs;       // absolute
  bool no_pivot = false;
  bool no_new_keyring = false;
  int preserve_fds = 0;
  int start_listener = -1;  // fd numbers, inherited across the re-exec
  int console_fd = -1;
  bool pty_to_parent = false;
  cgroups::Layout layout;
  std::string cgroup_path;
  int new_flags = 0;        // the namespaces created for the container
  std::string seccomp_cache;  // dir of compiled seccomp programs (SeccompFilter::cached_bpf); "" for none

  std::string serialize() const;
  static InitParams parse(const std::string& text);
};

// In the cloned child: makes a read-only view of the runtime binary (runtime/cloned_binary.h),
// waits for the runtime's Go (ids mapped), becomes root of a new user namespace, and
// re-executes the runtime as the init. `keep_fds` stay open across the exec. Never returns;
// reports failure over `sync`.
[[noreturn]] void exec_init(SyncChannel& sync, int new_flags, bool userns, std::initializer_list<int> keep_fds);

// `hoist-runtime __init FD`: the init process proper.
[[noreturn]] void init_entry(int sync_fd);

}  // namespace hoist::runtime
