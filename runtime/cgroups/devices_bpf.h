// Device rules on cgroup v2: an eBPF program of type BPF_PROG_TYPE_CGROUP_DEVICE, generated from
// linux.resources.devices and attached to the cgroup directory (there are no devices.* files).
//
// Semantics (those of the v1 devices controller and runc: the rules apply in order, a later rule
// overrides an earlier one): each requested access bit (m, r, w) of a device is decided by the
// last rule that matches the device and lists that bit; an access is allowed when every bit it
// asks for is allowed; a bit no rule decides is denied. Unset type = "a" (block and char), unset
// or negative major / minor = any, empty access = "rwm".
#pragma once
#include <linux/bpf.h>

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/spec.h"

namespace hoist::runtime::cgroups {

// The name our programs are loaded under; apply_device_rules_v2 replaces only programs that
// carry it, and leaves anything else attached to the cgroup (systemd's, say) alone.
inline constexpr char kDeviceProgramName[] = "hoist_devices";

// The program for `rules` (needs no privileges). Throws Error for an invalid rule (type other
// than a/b/c, access other than r/w/m letters, major/minor above 2^32-1).
std::vector<bpf_insn> build_device_program(const std::vector<oci::DeviceRule>& rules);

// Loads the program for `rules` and attaches it to cgroup_dir (BPF_CGROUP_DEVICE,
// BPF_F_ALLOW_MULTI), then detaches the programs an earlier call attached there, so repeated
// calls do not stack programs. No rules: nothing is done (what is attached stays). A directory
// that is not on a cgroup2 filesystem (the fake trees of the unit tests) is left alone.
// Errors name the bpf(2) command and the cgroup; a load failure includes the verifier's log.
void apply_device_rules_v2(const std::string& cgroup_dir, const std::vector<oci::DeviceRule>& rules);

// IDs of the BPF_CGROUP_DEVICE programs attached directly to cgroup_dir (ours or not).
std::vector<uint32_t> attached_device_programs(const std::string& cgroup_dir);

}  // namespace hoist::runtime::cgroups
