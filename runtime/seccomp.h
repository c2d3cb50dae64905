// Translates the spec's linux.seccomp section into a libseccomp filter and loads it.
#pragma once
#include <memory>
#include <string>

#include "runtime/spec.h"

namespace hoist::runtime {

class SeccompFilter {
 public:
  // Builds the filter. Unknown syscall names are skipped (as runc does: a profile names
  // syscalls of many kernels); unknown actions, operators, architectures or flags throw Error.
  static SeccompFilter build(const oci::Seccomp& cfg);

  SeccompFilter(SeccompFilter&&) noexcept;
  SeccompFilter& operator=(SeccompFilter&&) noexcept;
  ~SeccompFilter();

  // Installs the filter in the calling thread/process (with the spec's flags).
  // For SCMP_ACT_NOTIFY rules returns the notification fd (else -1); the caller owns it
  // and must close it once passed on, so the container keeps no handle on its own filter.
  int load();
  // Pseudo-filter-code text (seccomp_export_pfc), for tests and debugging.
  std::string pfc() const;
  bool uses_notify() const noexcept { return notify_; }

  // The filter of `cfg` as a raw BPF program (struct sock_filter[]), from `cache_dir` when it was
  // compiled before (the file holds the profile it was made from, and must match it exactly), else
  // compiled with libseccomp and stored there. Empty when a raw program cannot stand in for
  // libseccomp's load: filter flags, notify rules or a listener. Compiling Docker's default
  // profile costs ~15 ms of CPU; reading it back costs nothing.
  static std::string cached_bpf(const oci::Seccomp& cfg, const std::string& cache_dir);
  // Installs a program from cached_bpf() in the calling thread (seccomp(2), no flags).
  static void load_bpf(const std::string& prog);

 private:
  SeccompFilter() = default;
  void* ctx_ = nullptr;  // scmp_filter_ctx
  bool notify_ = false;
};

// Sends the seccomp notification fd to the listener socket given in the spec
// (listenerPath), with the container state JSON as the message (as runc does).
void send_seccomp_listener_fd(const std::string& listener_path, int notify_fd, const std::string& state_json);

}  // namespace hoist::runtime
