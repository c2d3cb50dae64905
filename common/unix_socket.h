// Unix socket addresses for paths of any length: sun_path holds 107 bytes, and state dirs under
// deep data roots with 64-hex ids are longer. A long path is reached through
// /proc/self/fd/<fd of its directory>/<name>; the directory fd must stay open until the bind or
// connect is done.
#pragma once
#include <sys/socket.h>
#include <sys/un.h>

#include <string>
#include <string_view>

#include "common/fd.h"

namespace hoist {

struct UnixAddress {
  sockaddr_un addr{};
  socklen_t len = 0;
  UniqueFd dir;  // held for long paths
};

// Throws SysError when the directory of a long path cannot be opened, Error when even the
// /proc/self/fd form is too long (a name of over ~80 bytes).
UnixAddress unix_address(const std::string& path);

// A connected SOCK_STREAM socket (close-on-exec); throws SysError("connect <path>: ...").
UniqueFd unix_connect(const std::string& path);

// All of `data` to a connected socket, without SIGPIPE; false when the peer is gone.
bool send_all(int fd, std::string_view data);

}  // namespace hoist
