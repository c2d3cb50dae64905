// Parsing of mount options from config.json into mount(2) flags, propagation and data.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace hoist::runtime {

struct MountOptions {
  unsigned long flags = 0;        // MS_RDONLY, MS_NOSUID, ... (MS_BIND / MS_REC for bind mounts)
  unsigned long clear = 0;        // flags explicitly turned off ("rw", "suid", ...)
  unsigned long propagation = 0;  // MS_SHARED / MS_SLAVE / MS_PRIVATE / MS_UNBINDABLE, with MS_REC
  std::string data;               // options the filesystem gets ("mode=755,size=65536k")
  bool bind = false;
  bool recursive = false;         // rbind
  // Recursive attributes ("rro", "rnosuid", ...): MOUNT_ATTR_* to set / clear on the whole tree.
  uint64_t rattr_set = 0, rattr_clr = 0;
};

MountOptions parse_mount_options(const std::vector<std::string>& options);
// "private" -> MS_PRIVATE, "rslave" -> MS_SLAVE|MS_REC, ...; 0 if not a propagation word.
unsigned long propagation_flag(const std::string& word);

}  // namespace hoist::runtime
