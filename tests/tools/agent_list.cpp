// A tiny ssh-add -l for the build tests' containers (busybox has no ssh-add): asks the agent at
// $SSH_AUTH_SOCK for its identities (SSH2_AGENTC_REQUEST_IDENTITIES, 11) and prints
// "identities: N" and each identity's comment on a line of its own (the answer,
// SSH2_AGENT_IDENTITIES_ANSWER, 12). With -s, each identity's key type before its comment and
// the agent asked to sign a few bytes with it (SSH2_AGENTC_SIGN_REQUEST, 13, RSA keys with
// rsa-sha2-512): "signed: <algorithm>" on the next line, or "sign failed". Exit 2 when
// $SSH_AUTH_SOCK is unset, 1 on any other failure.
// Static (libc only), so that it runs in any image.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

bool read_full(int fd, void* buf, std::size_t n) {
  auto* p = static_cast<char*>(buf);
  while (n > 0) {
    ssize_t r = ::read(fd, p, n);
    if (r <= 0) return false;
    p += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

std::uint32_t u32(const std::string& s, std::size_t& pos) {
  if (pos + 4 > s.size()) throw 1;
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(s[pos++]);
  return v;
}

std::string str(const std::string& s, std::size_t& pos) {
  std::uint32_t n = u32(s, pos);
  if (pos + n > s.size()) throw 1;
  std::string out = s.substr(pos, n);
  pos += n;
  return out;
}

void put_str(std::string& out, const std::string& s) {
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((s.size() >> shift) & 0xff);
  out += s;
}

// One request, its answer's body (without the length); empty on failure.
std::string ask(int fd, const std::string& body) {
  std::string msg;
  put_str(msg, body);
  if (::write(fd, msg.data(), msg.size()) != static_cast<ssize_t>(msg.size())) return "";
  unsigned char len[4];
  if (!read_full(fd, len, 4)) return "";
  std::uint32_t n = (std::uint32_t(len[0]) << 24) | (len[1] << 16) | (len[2] << 8) | len[3];
  if (n == 0 || n > (1u << 20)) return "";
  std::string answer(n, '\0');
  if (!read_full(fd, answer.data(), n)) return "";
  return answer;
}

}  // namespace

int main(int argc, char** argv) {
  bool sign = argc > 1 && std::strcmp(argv[1], "-s") == 0;
  const char* path = std::getenv("SSH_AUTH_SOCK");
  if (!path || !*path) {
    std::fprintf(stderr, "agent_list: SSH_AUTH_SOCK is not set\n");
    return 2;
  }
  std::printf("socket: %s\n", path);
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::strncpy(sa.sun_path, path, sizeof sa.sun_path - 1);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    std::fprintf(stderr, "agent_list: connect %s: %s\n", path, std::strerror(errno));
    return 1;
  }
  std::string body = ask(fd, std::string(1, '\x0b'));
  if (body.empty()) {
    std::fprintf(stderr, "agent_list: no answer\n");
    return 1;
  }
  try {
    if (static_cast<unsigned char>(body[0]) != 12) {
      std::fprintf(stderr, "agent_list: answer of type %d\n", static_cast<unsigned char>(body[0]));
      return 1;
    }
    std::size_t pos = 1;
    std::uint32_t count = u32(body, pos);
    std::printf("identities: %u\n", count);
    for (std::uint32_t i = 0; i < count; ++i) {
      std::string blob = str(body, pos);  // the key blob
      std::string comment = str(body, pos);
      if (!sign) {
        std::printf("%s\n", comment.c_str());
        continue;
      }
      std::size_t bpos = 0;
      std::string type = str(blob, bpos);
      std::printf("%s %s\n", type.c_str(), comment.c_str());
      std::string req(1, '\x0d');
      put_str(req, blob);
      put_str(req, "hoist agent_list");
      req += std::string("\0\0\0", 3) + (type == "ssh-rsa" ? '\x04' : '\0');  // SSH_AGENT_RSA_SHA2_512
      std::string answer = ask(fd, req);
      if (answer.empty() || answer[0] != '\x0e') {
        std::printf("sign failed\n");
        continue;
      }
      std::size_t apos = 1;
      std::string sig = str(answer, apos);
      std::size_t spos = 0;
      std::printf("signed: %s\n", str(sig, spos).c_str());
    }
  } catch (int) {
    std::fprintf(stderr, "agent_list: a short answer\n");
    return 1;
  }
  return 0;
}
