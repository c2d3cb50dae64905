// Small file helpers. Every failure throws SysError naming the operation and the path.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "common/fd.h"

namespace hoist {

UniqueFd open_file(const std::string& path, int flags, unsigned mode = 0644);
std::string read_file(const std::string& path);
std::string read_fd(int fd);
// Writes the whole buffer (retrying on EINTR / short writes).
void write_all(int fd, std::string_view data, std::string_view what);
// Copies up to `len` bytes from the current offset of `in` to `out` in the kernel where it can
// (copy_file_range, else sendfile, else read/write): the bytes copied, fewer only at `in`'s end.
// `from` and `to` name the two for errors.
std::int64_t copy_data(int in, int out, std::int64_t len, std::string_view from, std::string_view to);
// Plain write (truncate + write); for pseudo-files such as cgroupfs and procfs.
void write_file(const std::string& path, std::string_view data, int extra_flags = 0);
// Crash-safe replace: write a temp file, rename it over `path`. Readers and a kill -9 at any
// point see the old or the new content. `durable` adds fsync of the file and the directory, so a
// power loss does too (not needed for state under /run, which a reboot clears anyway).
void write_file_atomic(const std::string& path, std::string_view data, unsigned mode = 0644, bool durable = true);
// mkdir -p; returns true if something was created.
bool mkdir_all(const std::string& path, unsigned mode = 0755);
bool path_exists(const std::string& path);
// Lexical cleanup of an absolute path: no "", "." or ".." components (".." stops at the root).
// "/a//b/./../c" -> "/a/c"; nothing is resolved on disk.
std::string clean_path(std::string_view path);
// rm -rf without following symlinks.
void remove_all(const std::string& path);

}  // namespace hoist
