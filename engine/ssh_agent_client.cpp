// See ssh_agent_client.h.
#include "engine/ssh_agent_client.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "common/error.h"
#include "common/ssh_wire.h"
#include "common/unix_socket.h"

namespace hoist::engine {

namespace {

using namespace ssh_wire::agent;

// The reader of a reply of type `want`.
ssh_wire::Reader reply_of(std::string_view reply, std::uint8_t want, const char* what) {
  ssh_wire::Reader r(reply, std::string("ssh agent: malformed ") + what);
  std::uint8_t type = r.u8();
  if (type == kFailure) throw InvalidArgument(std::string("ssh agent: ") + what + " refused");
  if (type != want)
    throw InvalidArgument(std::string("ssh agent: unexpected reply ") + std::to_string(type) + " to " + what);
  return r;
}

void read_full(int fd, char* p, std::size_t n) {
  while (n > 0) {
    ssize_t r = ::read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) throw_sys("read", "ssh agent");
    if (r == 0) throw Error("ssh agent: the connection was closed");
    p += r;
    n -= static_cast<std::size_t>(r);
  }
}

}  // namespace

std::vector<AgentIdentity> parse_identities_answer(std::string_view reply) {
  ssh_wire::Reader r = reply_of(reply, kIdentitiesAnswer, "identities answer");
  std::uint32_t n = r.u32();
  std::vector<AgentIdentity> out;
  for (std::uint32_t i = 0; i < n; ++i) {  // each takes 8 bytes or more: a short reply throws
    std::string_view blob = r.str(), comment = r.str();
    out.push_back({std::string(blob), std::string(comment)});
  }
  if (!r.done()) throw InvalidArgument("ssh agent: malformed identities answer: trailing bytes");
  return out;
}

std::string parse_sign_response(std::string_view reply) {
  ssh_wire::Reader r = reply_of(reply, kSignResponse, "sign response");
  std::string sig(r.str());
  if (!r.done()) throw InvalidArgument("ssh agent: malformed sign response: trailing bytes");
  return sig;
}

std::string signature_bytes(std::string_view blob) {
  ssh_wire::Reader r(blob, "ssh agent: malformed signature");
  r.str();  // the algorithm
  std::string sig(r.str());
  if (!r.done()) throw InvalidArgument("ssh agent: malformed signature: trailing bytes");
  return sig;
}

std::string key_type(std::string_view blob) {
  ssh_wire::Reader r(blob, "ssh agent: malformed public key");
  return std::string(r.str());
}

std::uint32_t userauth_sign_flags(std::string_view data) {
  try {
    ssh_wire::Reader r(data, "userauth");
    r.str();  // the session id
    if (r.u8() != 50) return 0;  // SSH_MSG_USERAUTH_REQUEST
    r.str();                     // the user
    r.str();                     // the service
    if (r.str() != "publickey") return 0;
    r.u8();
    std::string_view alg = r.str();
    if (alg == "rsa-sha2-512") return 4;  // SSH_AGENT_RSA_SHA2_512
    if (alg == "rsa-sha2-256") return 2;  // SSH_AGENT_RSA_SHA2_256
  } catch (const InvalidArgument&) {
  }
  return 0;
}

std::string AgentClient::call(const std::string& request) {
  std::string msg;
  ssh_wire::put_str(msg, request);
  if (!send_all(conn_.get(), msg)) throw Error("ssh agent: the connection was closed");
  char len[4];
  read_full(conn_.get(), len, 4);
  ssh_wire::Reader lr(std::string_view(len, 4), "ssh agent");
  std::uint32_t n = lr.u32();
  if (n > kMaxMessage) throw InvalidArgument("ssh agent: a reply of " + std::to_string(n) + " bytes");
  std::string reply(n, '\0');
  read_full(conn_.get(), reply.data(), n);
  return reply;
}

std::vector<AgentIdentity> AgentClient::identities() {
  return parse_identities_answer(call(std::string(1, static_cast<char>(kRequestIdentities))));
}

std::string AgentClient::sign(std::string_view blob, std::string_view data, std::uint32_t flags) {
  std::string req(1, static_cast<char>(kSignRequest));
  ssh_wire::put_str(req, blob);
  ssh_wire::put_str(req, data);
  ssh_wire::put_u32(req, flags);
  return parse_sign_response(call(req));
}

}  // namespace hoist::engine
