#include "builder/source_hash.h"

#include <algorithm>
#include <sys/stat.h>

#include "common/strings.h"

namespace hoist::builder {

namespace {

char type_flag(std::uint32_t mode) {
  switch (mode & S_IFMT) {
    case S_IFDIR: return '5';
    case S_IFLNK: return '2';
    case S_IFCHR: return '3';
    case S_IFBLK: return '4';
    case S_IFIFO: return '6';
    default: return '0';
  }
}

}  // namespace

SourceHasher::SourceHasher(const SourceEntry& e) {
  std::string name = e.name;
  if ((e.mode & S_IFMT) == S_IFDIR && (name.empty() || name.back() != '/')) name += '/';
  bool regular = (e.mode & S_IFMT) == S_IFREG;
  const std::pair<const char*, std::string> fields[] = {
      {"name", name},
      {"mode", std::to_string(e.type_bits ? e.mode : e.mode & 07777)},
      {"uid", std::to_string(e.uid)},
      {"gid", std::to_string(e.gid)},
      {"size", std::to_string(regular ? e.size : 0)},
      {"typeflag", std::string(1, type_flag(e.mode))},
      {"linkname", e.linkname},
      {"uname", e.uname},
      {"gname", e.gname},
      {"devmajor", std::to_string(e.devmajor)},
      {"devminor", std::to_string(e.devminor)},
  };
  for (auto& [k, v] : fields) {
    h_.update(k);
    h_.update(v);
  }
  for (auto& [k, v] : e.xattrs) {  // std::map: key order
    h_.update(k);
    h_.update(v);
  }
}

std::string file_source_hash(const std::string& hex) { return "file:" + hex; }

std::string dir_source_hash(std::vector<std::string> hexes) {
  std::sort(hexes.begin(), hexes.end());
  return "dir:" + digest_of(join(hexes, ",")).hex;
}

}  // namespace hoist::builder
