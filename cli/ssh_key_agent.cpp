#include "cli/ssh_key_agent.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/error.h"
#include "common/fd.h"
#include "common/ssh_wire.h"

namespace hoist::cli {

namespace {

using namespace ssh_wire::agent;

bool read_full(int fd, char* p, std::size_t n) {
  while (n > 0) {
    ssize_t r = ::read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

bool write_full(int fd, const std::string& s) {
  std::size_t off = 0;
  while (off < s.size()) {
    ssize_t w = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    off += static_cast<std::size_t>(w);
  }
  return true;
}

}  // namespace

std::string KeyAgent::answer(std::string_view request) const {
  const std::string failure(1, static_cast<char>(kFailure));
  try {
    ssh_wire::Reader r(request, "ssh agent request");
    std::uint8_t type = r.u8();
    if (type == kRequestIdentities) {
      std::string out(1, static_cast<char>(kIdentitiesAnswer));
      ssh_wire::put_u32(out, static_cast<std::uint32_t>(keys_.size()));
      for (const SshKey& k : keys_) {
        ssh_wire::put_str(out, k.public_blob());
        ssh_wire::put_str(out, "");
      }
      return out;
    }
    if (type == kSignRequest) {
      std::string_view blob = r.str(), data = r.str();
      std::uint32_t flags = r.u32();
      for (const SshKey& k : keys_)
        if (k.public_blob() == blob) {
          std::string out(1, static_cast<char>(kSignResponse));
          ssh_wire::put_str(out, k.sign(data, flags));
          return out;
        }
    }
  } catch (const Error&) {
    // A short request, or a failed signature: the agent's failure answer.
  }
  return failure;
}

void KeyAgent::serve(int fd) const {
  char head[4];
  while (read_full(fd, head, 4)) {
    std::uint32_t n = ssh_wire::Reader(std::string_view(head, 4), "").u32();
    if (n == 0 || n > kMaxMessage) return;
    std::string msg(n, '\0');
    if (!read_full(fd, msg.data(), n)) return;
    std::string body = answer(msg), out;
    ssh_wire::put_str(out, body);
    if (!write_full(fd, out)) return;
  }
}

SshKey load_key_file(const std::string& p) {
  {
    UniqueFd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) throw Error("failed to open " + p + ": " + std::strerror(errno));
    std::string text;
    char buf[8192];
    while (text.size() < 100 * 1024) {
      ssize_t n = ::read(fd.get(), buf, std::min(sizeof buf, 100 * 1024 - text.size()));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw Error("failed to read " + p + ": " + std::strerror(errno));
      if (n == 0) break;
      text.append(buf, static_cast<std::size_t>(n));
    }
    WipeOnExit wipe(text);  // the key lives on in OpenSSL's memory only
    try {
      return parse_private_key(text);
    } catch (const Error& e) {
      throw Error("failed to parse " + p + ": " + e.what());
    }
  }
}

}  // namespace hoist::cli
