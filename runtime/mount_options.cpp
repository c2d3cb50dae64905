#include "runtime/mount_options.h"

#include <sys/mount.h>

#include <algorithm>
#include <cstring>

#include "common/error.h"

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
// Recursive mount attributes (mount_setattr with AT_RECURSIVE); values of MOUNT_ATTR_*.
struct RecursiveOpt { const char* name; bool clear; uint64_t attr; };
constexpr RecursiveOpt kRecursive[] = {
    {"rro", false, 0x1},      {"rrw", true, 0x1},      {"rnosuid", false, 0x2},        {"rsuid", true, 0x2},
    {"rnodev", false, 0x4},   {"rdev", true, 0x4},     {"rnoexec", false, 0x8},        {"rexec", true, 0x8},
    {"rnodiratime", false, 0x80}, {"rdiratime", true, 0x80}, {"rnosymfollow", false, 0x200000},
    {"rsymfollow", true, 0x200000}};
// The atime mode is one field (MOUNT_ATTR__ATIME = 0x70): clear it, then set the mode.
struct AtimeOpt { const char* name; uint64_t mode; };
constexpr AtimeOpt kRecursiveAtime[] = {{"rnoatime", 0x10}, {"rstrictatime", 0x20}, {"rrelatime", 0x0},
                                        {"ratime", 0x0},    {"rnorelatime", 0x20},  {"rnostrictatime", 0x0}};
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
    if (o == "tmpcopyup" || o.rfind("x-", 0) == 0 || o.rfind("X-", 0) == 0) continue;
    if (o == "idmap" || o == "ridmap") throw Error("mount option \"" + o + "\": idmapped mounts are not supported");
    if (auto it = std::find_if(std::begin(kRecursive), std::end(kRecursive), [&](auto& r) { return o == r.name; });
        it != std::end(kRecursive)) {
      (it->clear ? m.rattr_clr : m.rattr_set) |= it->attr;
      (it->clear ? m.rattr_set : m.rattr_clr) &= ~it->attr;
      continue;
    }
    if (auto it = std::find_if(std::begin(kRecursiveAtime), std::end(kRecursiveAtime), [&](auto& r) { return o == r.name; });
        it != std::end(kRecursiveAtime)) {
      m.rattr_clr |= 0x70;
      m.rattr_set = (m.rattr_set & ~0x70ULL) | it->mode;
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
