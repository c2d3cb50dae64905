// The hashes dockerd's classic builder gives COPY/ADD sources (the "file:<hex>" and "dir:<hex>" of
// created_by, and a fine content digest for the cache): a file's is the sha256 of its tarsum v1
// header (name, mode: the permission bits alone, as dockerd 20.10.24 hashes it; uid, gid, size,
// type flag, link target, user and group names, device numbers, xattrs in key order; no mtime)
// followed by its content; a
// directory's is the sha256 of the sorted hashes of itself and everything below it, joined with
// ",". Checked against dockerd 20.10 (a context's files are owned by 0:0 without names).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/digest.h"

namespace hoist::builder {

struct SourceEntry {
  std::string name;       // the path relative to the context (a directory's gets a trailing /)
  std::uint32_t mode = 0; // st_mode: type bits and permission bits
  std::uint32_t uid = 0, gid = 0;
  std::int64_t size = 0;  // regular files only
  std::string linkname;   // symlinks
  std::string uname, gname;
  std::int64_t devmajor = 0, devminor = 0;
  std::map<std::string, std::string> xattrs;  // security.capability is the one dockerd reads
  // The mode with its file type bits (dockerd hashes a stage's or an image's files, which it
  // stats itself, so; a context's as their tar headers came, permission bits alone).
  bool type_bits = false;
};

// One entry's hash: feed its content (regular files) and take hex().
class SourceHasher {
 public:
  explicit SourceHasher(const SourceEntry& e);
  void update(std::string_view content) { h_.update(content); }
  std::string hex() const { return h_.digest().hex; }

 private:
  Hasher h_;
};

// "file:<hex>" of one file.
std::string file_source_hash(const std::string& hex);
// "dir:<hex>" of a directory from the hex hashes of itself and all below it (any order).
std::string dir_source_hash(std::vector<std::string> hexes);

}  // namespace hoist::builder
