// A tar's entries as text, for comparing what two engines wrote: each entry as
// "name type perm uid:gid [-> symlink] [=> hardlink] [size]", the name without a trailing "/",
// no times (those differ between any two runs); in the tar's order. `xattrs`: filled with
// "name xattr-name" → value.
#pragma once
#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>

#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace hoist::test {

inline std::vector<std::string> tar_listing(const std::string& tar,
                                            std::map<std::string, std::string>* xattrs = nullptr) {
  std::vector<std::string> out;
  archive* a = archive_read_new();
  archive_read_support_format_tar(a);
  archive_read_support_format_empty(a);
  if (archive_read_open_memory(a, tar.data(), tar.size()) != ARCHIVE_OK) {
    archive_read_free(a);
    ADD_FAILURE() << "not a tar";
    return out;
  }
  archive_entry* e;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    std::string name = archive_entry_pathname(e);
    while (name.size() > 1 && name.back() == '/') name.pop_back();
    std::ostringstream line;
    char type = archive_entry_hardlink(e) ? 'h' : "?pc?d?b?-?l?s"[(archive_entry_filetype(e) >> 12) & 0xf];
    line << name << " " << type << " " << std::oct << archive_entry_perm(e) << std::dec << " " << archive_entry_uid(e)
         << ":" << archive_entry_gid(e);
    if (archive_entry_symlink(e)) line << " -> " << archive_entry_symlink(e);
    if (archive_entry_hardlink(e)) line << " => " << archive_entry_hardlink(e);
    if (type == '-') line << " " << archive_entry_size(e);
    out.push_back(line.str());
    if (xattrs) {
      archive_entry_xattr_reset(e);
      const char* n;
      const void* v;
      std::size_t len;
      while (archive_entry_xattr_next(e, &n, &v, &len) == ARCHIVE_OK)
        (*xattrs)[name + " " + n] = std::string(static_cast<const char*>(v), len);
    }
  }
  archive_read_free(a);
  return out;
}

}  // namespace hoist::test
