#include "runtime/mount_options.h"

#include <sys/mount.h>

#include <cstring>

namespace hoist::runtime {
namespace {
struct Opt { const char* name; bool clear; unsigned long flag; };
constexpr Opt kOpts[] = {
    {"defaults", false, 0},        {"ro", false, MS_RDONLY},       {"rw", true, MS_RDONLY},
    {"suid", true, MS_NOSUID},     {"nosuid", false, MS_NOSUID},   {"dev", true, MS_NODEV},
    {"nodev", false, MS_NODEV},    {"exec", true, MS_NOEXEC},      {"noexec", false, MS_NOEXEC},
    {"sync", false, MS_SYNCHRONOUS}, {"async", true, MS_SYNCHRONOUS}, {"dirsync", false, MS_DIRSYNC},
    {"remount", false, MS_REMOUNT}, {"mand", false, MS_MANDLOCK},   {"nomand", true, MS_MANDLOCK},
    {"atime", true, MS_NOATIME},   {"noatime", false, MS_NOATIME}, {"diratime", true, MS_NODIRATIME},
    {"nodiratime", false, MS_NODIRATIME}, {"relatime", false, MS_RELATIME}, {"norelatime", true, MS_RELATIME},
    {"strictatime", false, MS_STRICTATIME}, {"nostrictatime", true, MS_STRICTATIME},
    {"lazytime", false, MS_LAZYTIME}, {"nolazytime", true, MS_LAZYTIME}, {"silent", false, MS_SILENT},
    {"loud", true, MS_SILENT},     {"iversion", false, MS_I_VERSION}, {"noiversion", true, MS_I_VERSION},
    {"nosymfollow", false, 256 /* MS_NOSYMFOLLOW */}};
}  // namespace

unsigned long propagation_flag(const std::string& w) {
  if (w == "private") return MS_PRIVATE;
  if (w == "rprivate") return MS_PRIVATE | MS_REC;
  if (w == "shared") return MS_SHARED;
  if (w == "rshared") return MS_SHARED | MS_REC;
  if (w == "slave") return MS_SLAVE;
  if (w == "rslave") return MS_SLAVE | MS_REC;
  if (w == "unbindable") return MS_UNBINDABLE;
  if (w == "runbindable") return MS_UNBINDABLE | MS_REC;
  return 0;
}

MountOptions parse_mount_options(const std::vector<std::string>& options) {
  MountOptions m;
  for (auto& o : options) {
    if (o == "bind" || o == "rbind") {
      m.bind = true;
      m.recursive = m.recursive || o == "rbind";
      continue;
    }
    if (unsigned long p = propagation_flag(o)) {
      m.propagation = p;
      continue;
    }
    // Runtime-only extensions that are not for the kernel.
    if (o == "tmpcopyup" || o == "idmap" || o == "ridmap" || o.rfind("x-", 0) == 0 || o.rfind("X-", 0) == 0 ||
        o == "rro" || o == "rrw" || o == "rnosuid" || o == "rsuid" || o == "rnodev" || o == "rdev" ||
        o == "rnoexec" || o == "rexec" || o == "rnoatime" || o == "ratime" || o == "rrelatime" ||
        o == "rnorelatime" || o == "rstrictatime" || o == "rnostrictatime" || o == "rnodiratime" ||
        o == "rdiratime" || o == "rnosymfollow" || o == "rsymfollow") {
      continue;
    }
    bool known = false;
    for (auto& k : kOpts) {
      if (o == k.name) {
        known = true;
        if (k.clear) {
          m.flags &= ~k.flag;
          m.clear |= k.flag;
        } else {
          m.flags |= k.flag;
          m.clear &= ~k.flag;
        }
        break;
      }
    }
    if (known) continue;
    if (!m.data.empty()) m.data += ',';
    m.data += o;
  }
  if (m.bind) m.flags |= MS_BIND | (m.recursive ? MS_REC : 0);
  return m;
}

}  // namespace hoist::runtime
