#include "common/unix_socket.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

#include "common/error.h"

namespace hoist {

UnixAddress unix_address(const std::string& path) {
  UnixAddress a;
  a.addr.sun_family = AF_UNIX;
  std::string p = path;
  if (p.size() >= sizeof a.addr.sun_path) {
    auto slash = path.rfind('/');
    auto parent = slash == std::string::npos ? std::string(".") : path.substr(0, slash);
    a.dir.reset(::open(parent.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!a.dir) throw_sys("open", parent);
    p = "/proc/self/fd/" + std::to_string(a.dir.get()) + "/" + path.substr(slash + 1);
    if (p.size() >= sizeof a.addr.sun_path) throw Error("socket name too long: " + path);
  }
  std::memcpy(a.addr.sun_path, p.c_str(), p.size() + 1);
  a.len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + p.size() + 1);
  return a;
}

UniqueFd unix_connect(const std::string& path) {
  UniqueFd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!s) throw_sys("socket", path);
  auto a = unix_address(path);
  int r;
  do r = ::connect(s.get(), reinterpret_cast<sockaddr*>(&a.addr), a.len);
  while (r < 0 && errno == EINTR);
  if (r < 0) throw_sys("connect", path);
  return s;
}

bool send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace hoist
